//! The control loop: probes of the control service's own vantage points, reports from remote
//! observers, evaluation on every tick, readiness on a schedule, and the trigger's decision
//! carried out — recorded as a health event, notified, and (auto, or recommend with an approval
//! step in front) a failover run started and driven by the executor.
//!
//! Only a *leading* control service acts (records, notifies, starts and drives runs). One
//! instance on the embedded journal always leads. Of several instances on the HA store
//! ([`crate::leader`]), the lease holder leads with a journal fenced by its epoch; the others
//! stand by: they watch and evaluate like the leader (so a successor knows the health picture)
//! and serve reads, but change nothing.

use crate::{ms, now, ProbeRunner, ServeError};
use pilotlight_core::capability::{Notification, Notifier, ReadinessFacts};
use pilotlight_core::health::{
    decide, Assessment, DeclarationKind, DeclaredFailure, HealthEvaluator, HealthState, LagReading,
    LastRun, MaintenanceWindow, ProbeSample, ReadinessInput, TriggerDecision, TriggerInputs,
    VantageId,
};
use pilotlight_core::journal::{Decision, HealthEvent, Journal, RunOptions};
use pilotlight_core::model::{EnvironmentConfig, HealthConfig, RunsIn};
use pilotlight_core::plan::Plan;
use pilotlight_core::readiness::{rds_lag, run_checks, Status};
use pilotlight_executor::{Executor, StartRequest};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;
use tracing::{error, info, warn};

/// Who the trigger's runs are requested by.
pub const TRIGGER_ACTOR: &str = "pilotlight-trigger";

/// The id of the approval step in front of a recommended failover.
pub const APPROVAL_STEP: &str = "approve-failover";

/// Tuning of the control loop.
#[derive(Debug, Clone)]
pub struct ControlSettings {
    /// How often the health state is evaluated.
    pub tick: Duration,
    /// This instance's name (the lease holder on the HA store; shown by the API).
    pub instance: String,
}

impl Default for ControlSettings {
    fn default() -> Self {
        ControlSettings {
            tick: Duration::from_secs(1),
            instance: "pilotlight".into(),
        }
    }
}

/// What the control service is built from.
#[derive(Clone)]
pub struct ControlDeps {
    /// The environment.
    pub env: Arc<EnvironmentConfig>,
    /// The journal (runs, decisions, health events).
    pub journal: Arc<dyn Journal>,
    /// The executor that runs what the trigger starts (and resumes an interrupted run) while this
    /// instance leads with `journal` (a single instance leads from the start; on the HA store
    /// [`Control::lead`] replaces it with one over the fenced journal).
    pub executor: Executor,
    /// The failover plan the trigger starts.
    pub failover: Plan,
    /// Readiness facts for the scheduled readiness evaluation.
    pub facts: Arc<dyn ReadinessFacts>,
    /// Runs the control service's own probes.
    pub probes: Arc<dyn ProbeRunner>,
    /// Notifications (declarations, trigger decisions; runs notify through the executor).
    pub notifier: Arc<dyn Notifier>,
}

/// The state the loop keeps and the API shows.
#[derive(Debug, Default, Clone, Serialize)]
pub struct WatchView {
    /// The latest assessment.
    pub assessment: Option<Assessment>,
    /// The latest readiness evaluation.
    pub readiness: Option<ReadinessInput>,
    /// Replication lag at the latest readiness evaluation.
    pub replication: Vec<LagReading>,
    /// The trigger's latest decision, if a failure is declared.
    pub trigger: Option<TriggerDecision>,
    /// The run the trigger started for the current failure, if any.
    pub trigger_run: Option<String>,
    /// Per-resource results of the latest readiness evaluation, in config order.
    pub checks: Vec<pilotlight_core::readiness::CheckResult>,
}

/// What a leading control service acts with: the journal its writes go to (on the HA store,
/// fenced by the lease epoch) and the executor over that journal.
#[derive(Clone)]
pub struct Acting {
    /// The journal the leader writes (fenced on the HA store).
    pub journal: Arc<dyn Journal>,
    /// The executor that starts and drives runs.
    pub executor: Executor,
    /// The lease epoch of this leadership (`None`: a single instance, no lease).
    pub epoch: Option<u64>,
}

struct Leading {
    acting: Acting,
    /// The runs this leadership drives, stopped when it ends.
    drives: Vec<tokio::task::AbortHandle>,
}

struct State {
    /// `Some` while this instance leads.
    leading: Option<Leading>,
    /// `None` without a `[health]` section: nothing is watched, the API still serves.
    evaluator: Option<HealthEvaluator>,
    view: WatchView,
    /// The failure (its declaration time) the trigger has already acted on.
    acted_on: Option<Duration>,
    /// The last hold or off decision recorded, to record it again only when it changes.
    last_recorded: Option<String>,
    /// The summary of the failure declaration in force (the reason of a run it leads to).
    failure_summary: Option<String>,
    /// Samples refused by the evaluator (bad probe, wrong vantage point), by reason.
    rejected: HashMap<String, u64>,
}

/// The control service's shared state.
#[derive(Clone)]
pub struct Control {
    deps: ControlDeps,
    health: Option<Arc<HealthConfig>>,
    state: Arc<Mutex<State>>,
    settings: ControlSettings,
    /// Runs this process is driving (never two drivers for one run).
    driving: Arc<Mutex<std::collections::HashSet<String>>>,
    /// The leader as this instance last saw it in the lease (several instances only).
    leader_seen: Arc<Mutex<Option<LeaderSeen>>>,
}

/// The leader as a standing-by instance last saw it in the lease item.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LeaderSeen {
    /// The leading instance's name.
    pub instance: String,
    /// Its API base URL, where actions are forwarded (`None`: it advertised none).
    pub address: Option<String>,
    /// Its lease epoch.
    pub epoch: u64,
}

impl Control {
    /// A control service for `deps.env`. Without a `[health]` section nothing is watched (no
    /// probes, no trigger): runs are still driven and the API still serves.
    pub fn new(deps: ControlDeps, settings: ControlSettings) -> Result<Control, ServeError> {
        let health = deps.env.health.clone();
        let evaluator = match &health {
            Some(h) => Some(
                HealthEvaluator::new(h.settings())
                    .map_err(|e| ServeError::Settings(e.to_string()))?,
            ),
            None => None,
        };
        let acting = Acting {
            journal: deps.journal.clone(),
            executor: deps.executor.clone(),
            epoch: None,
        };
        Ok(Control {
            deps,
            health: health.map(Arc::new),
            driving: Arc::default(),
            leader_seen: Arc::default(),
            state: Arc::new(Mutex::new(State {
                leading: Some(Leading {
                    acting,
                    drives: Vec::new(),
                }),
                evaluator,
                view: WatchView::default(),
                acted_on: None,
                last_recorded: None,
                failure_summary: None,
                rejected: HashMap::new(),
            })),
            settings,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The environment.
    pub fn env(&self) -> &EnvironmentConfig {
        &self.deps.env
    }

    /// The journal, for reading (on the HA store, unfenced: writes go through [`Acting`]).
    pub fn journal(&self) -> &Arc<dyn Journal> {
        &self.deps.journal
    }

    /// What this instance acts with, while it leads; `None` while it stands by.
    pub fn acting(&self) -> Option<Acting> {
        self.lock().leading.as_ref().map(|l| l.acting.clone())
    }

    /// Whether this instance leads (acts) now.
    pub fn is_leader(&self) -> bool {
        self.lock().leading.is_some()
    }

    /// Record who leads, as last read from the lease (`None`: nobody holds it).
    pub fn set_leader_seen(&self, seen: Option<LeaderSeen>) {
        *self.leader_seen.lock().unwrap_or_else(|e| e.into_inner()) = seen;
    }

    /// Who leads, as this instance last saw it in the lease; `None` for a single instance,
    /// before the first read, or while nobody holds the lease.
    pub fn leader_seen(&self) -> Option<LeaderSeen> {
        self.leader_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// This instance's name.
    pub fn instance(&self) -> &str {
        &self.settings.instance
    }

    /// Stop acting: stop driving runs (their journal stays as it is: a successor resumes them)
    /// and make no more records, notifications or runs until [`Control::lead`].
    pub fn stand_by(&self) {
        let leading = self.lock().leading.take();
        if let Some(l) = leading {
            for d in &l.drives {
                d.abort();
            }
            self.driving
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
            warn!(epoch = ?l.acting.epoch, "standing by: this instance no longer leads");
        }
    }

    /// Start acting with `acting` (a newly granted leadership): resume the environment's
    /// interrupted run, if there is one, then act on what the evaluation finds.
    pub async fn lead(&self, acting: Acting) -> Result<(), ServeError> {
        self.stand_by();
        info!(epoch = ?acting.epoch, "leading: this instance acts");
        {
            let mut st = self.lock();
            st.leading = Some(Leading {
                acting,
                drives: Vec::new(),
            });
            // What the previous leader did is in the journal, not here: decide afresh.
            st.last_recorded = None;
        }
        self.resume_interrupted().await
    }

    /// Resume the environment's active run, if any (this instance must lead).
    async fn resume_interrupted(&self) -> Result<(), ServeError> {
        let Some(acting) = self.acting() else {
            return Ok(());
        };
        if let Some(active) = acting
            .journal
            .active_run(&self.deps.env.environment.name)
            .await?
        {
            warn!(run_id = %active.id, epoch = ?acting.epoch, "resuming the environment's interrupted run");
            self.drive(active.id.clone());
        }
        Ok(())
    }

    /// What the loop knows now.
    pub fn view(&self) -> WatchView {
        self.lock().view.clone()
    }

    /// The full evidence behind the current state (`None` without a `[health]` section).
    pub fn explain(&self) -> Option<pilotlight_core::health::Explanation> {
        self.lock().evaluator.as_ref().map(|e| e.explain(now()))
    }

    /// The executor that starts and drives runs while this instance leads; `None` while it
    /// stands by (another instance leads: actions go there).
    pub fn executor(&self) -> Option<Executor> {
        self.acting().map(|a| a.executor)
    }

    /// Samples refused so far, by reason.
    pub fn rejected(&self) -> HashMap<String, u64> {
        self.lock().rejected.clone()
    }

    /// Feed one sample. Samples are placed on the control service's clock by the caller.
    pub fn observe(&self, sample: ProbeSample) -> Result<(), String> {
        let mut st = self.lock();
        let Some(evaluator) = st.evaluator.as_mut() else {
            return Err("this control service has no [health] section: it watches nothing".into());
        };
        match evaluator.observe(sample) {
            Ok(()) => Ok(()),
            Err(e) => {
                let reason = e.to_string();
                *st.rejected.entry(reason.clone()).or_default() += 1;
                Err(reason)
            }
        }
    }

    /// The vantage point an observer token (its SHA-256) belongs to.
    pub fn vantage_of_token_digest(&self, digest: &str) -> Option<VantageId> {
        self.health
            .as_ref()?
            .vantage_points
            .iter()
            .filter(|v| v.runs_in == RunsIn::Observer)
            .find(|v| {
                v.token_sha256
                    .as_deref()
                    .is_some_and(|t| crate::auth::same_digest(t, digest))
            })
            .map(|v| VantageId::from(v.id.as_str()))
    }

    /// Run until `shutdown` fires: the control service's probes, readiness on its schedule, and
    /// the evaluation loop; resume an interrupted run first.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) -> Result<(), ServeError> {
        self.resume_interrupted().await?;
        let mut tasks = tokio::task::JoinSet::new();
        let Some(health) = self.health.clone() else {
            warn!(environment = %self.deps.env.environment.name, "no [health] section: nothing is watched; runs and the API only");
            let (me, mut stop) = (self.clone(), shutdown.clone());
            tasks.spawn(async move {
                loop {
                    me.refresh_readiness().await;
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(60)) => {}
                        _ = stop.changed() => return,
                    }
                }
            });
            let _ = shutdown.changed().await;
            tasks.shutdown().await;
            return Ok(());
        };
        for v in health
            .vantage_points
            .iter()
            .filter(|v| v.runs_in == RunsIn::Control)
        {
            for p in health
                .probes
                .iter()
                .filter(|p| v.probes.is_empty() || v.probes.contains(&p.id))
            {
                let (me, probe, vantage) = (self.clone(), p.clone(), v.id.clone());
                let settings = health
                    .settings()
                    .probe_settings(&probe.id.as_str().into())
                    .expect("validated probe");
                let mut stop = shutdown.clone();
                tasks.spawn(async move {
                    loop {
                        let r = me.deps.probes.probe(&probe, settings.timeout).await;
                        let sample = ProbeSample::new(probe.id.as_str(), vantage.as_str(), now(), r.outcome)
                            .with_latency(r.latency);
                        if let Err(e) = me.observe(sample) {
                            warn!(probe = %probe.id, vantage = %vantage, error = %e, "sample refused");
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(settings.interval) => {}
                            _ = stop.changed() => return,
                        }
                    }
                });
            }
        }
        {
            let (me, mut stop) = (self.clone(), shutdown.clone());
            let every = health.readiness_interval;
            tasks.spawn(async move {
                loop {
                    me.refresh_readiness().await;
                    tokio::select! {
                        _ = tokio::time::sleep(every) => {}
                        _ = stop.changed() => return,
                    }
                }
            });
        }
        info!(environment = %self.deps.env.environment.name, mode = ?health.trigger.mode, "watching the primary region");
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.settings.tick) => {}
                _ = shutdown.changed() => break,
            }
            if let Err(e) = self.tick().await {
                error!(error = %e, "control loop step failed; retrying on the next tick");
            }
        }
        tasks.shutdown().await;
        info!("control loop stopped");
        Ok(())
    }

    /// Re-evaluate DR readiness and replication lag.
    pub async fn refresh_readiness(&self) {
        let env = &self.deps.env;
        let report = run_checks(env, self.deps.facts.as_ref(), env.check.concurrency).await;
        let summary = format!(
            "{} pass, {} warn, {} fail, {} error",
            report.count(Status::Pass),
            report.count(Status::Warn),
            report.count(Status::Fail),
            report.count(Status::Error)
        );
        // The trigger only ever starts an unplanned failover, for a primary that may be down:
        // checks that could not be made only because the primary region did not answer do not
        // hold it (the console still shows them as errors).
        let (verdict, silent) = report.verdict_without_silent_primary();
        let summary = if silent.is_empty() {
            summary
        } else {
            warn!(region = %env.regions.primary, checks = %silent.join(", "), "readiness: the primary region did not answer; not counted against an automatic failover");
            format!(
                "{summary}; the primary region {} did not answer for {} (not counted against an automatic failover)",
                env.regions.primary,
                silent.join(", ")
            )
        };
        let mut lags = Vec::new();
        for db in &env.rds_replicas {
            // The trigger's runs are unplanned failovers: a silent primary does not stop the
            // replica's lag (a DR metric) from being read.
            let lag = match rds_lag(self.deps.facts.as_ref(), env, db, true).await {
                Ok(r) => {
                    if let Some(e) = &r.primary_silent {
                        warn!(database = %db.name, error = %e, "the primary region did not answer; read the replica's lag in DR alone");
                    }
                    r.lag
                }
                Err(e) => {
                    warn!(database = %db.name, error = %e, "cannot read replication lag");
                    None
                }
            };
            lags.push(LagReading {
                database: db.name.clone(),
                lag,
                budget: env.objectives.rpo,
            });
        }
        let mut st = self.lock();
        st.view.readiness = Some(ReadinessInput {
            verdict,
            evaluated_at: now(),
            summary,
        });
        st.view.replication = lags;
        st.view.checks = report.results;
    }

    /// One evaluation, and what follows from it.
    pub async fn tick(&self) -> Result<(), ServeError> {
        let at = now();
        let Some(health) = self.health.clone() else {
            return Ok(());
        };
        let (assessment, view) = {
            let mut st = self.lock();
            let Some(evaluator) = st.evaluator.as_mut() else {
                return Ok(());
            };
            let a = evaluator.evaluate(at);
            st.view.assessment = Some(a.clone());
            (a, st.view.clone())
        };
        let env_name = self.deps.env.environment.name.clone();
        let acting = self.acting();
        if let Some(d) = &assessment.declaration {
            let kind = match d.kind {
                DeclarationKind::Failure => "declaration",
                DeclarationKind::Recovery => "recovery",
            };
            warn!(environment = %env_name, kind, leader = acting.is_some(), "{}", d.summary);
            if let Some(acting) = &acting {
                self.record(
                    acting,
                    kind,
                    &d.summary,
                    serde_json::to_value(d).unwrap_or_default(),
                    None,
                )
                .await?;
                self.notify(kind, None, d.summary.clone()).await;
            }
            if d.kind == DeclarationKind::Failure {
                self.lock().failure_summary = Some(d.summary.clone());
            }
            if d.kind == DeclarationKind::Recovery {
                let mut st = self.lock();
                st.failure_summary = None;
                st.acted_on = None;
                st.last_recorded = None;
                st.view.trigger = None;
            }
        }
        let HealthState::Failing { since } = assessment.state else {
            return Ok(());
        };
        // Standing by: the leader decides and acts.
        let Some(acting) = acting else {
            return Ok(());
        };
        if self.lock().acted_on == Some(since) {
            return Ok(());
        }
        let summary = self
            .lock()
            .failure_summary
            .clone()
            .unwrap_or_else(|| "failure declared".into());
        let inputs = self
            .inputs(
                &acting,
                DeclaredFailure {
                    since,
                    summary: summary.clone(),
                },
                &view,
            )
            .await?;
        let decision = decide(&health.trigger, &inputs, at);
        self.lock().view.trigger = Some(decision.clone());
        let detail = serde_json::json!({
            "decision": decision,
            "explanation": self.explain(),
        });
        match &decision {
            TriggerDecision::NoFailure => {}
            TriggerDecision::FailOver { .. } | TriggerDecision::Recommend { .. } => {
                let recommend = matches!(decision, TriggerDecision::Recommend { .. });
                let plan = if recommend {
                    self.deps.failover.gated_by_approval(
                        APPROVAL_STEP,
                        &format!(
                            "The primary region of {env_name} is declared down ({summary}). Approve to fail over to {}.",
                            self.deps.env.regions.dr
                        ),
                    )
                } else {
                    self.deps.failover.clone()
                };
                let started = acting
                    .executor
                    .start(StartRequest {
                        plan,
                        requested_by: TRIGGER_ACTOR.into(),
                        reason: summary.clone(),
                        idempotency_key: format!("trigger-{env_name}-{}", ms(since)),
                        options: RunOptions::default(),
                    })
                    .await;
                let run = match started {
                    Ok(s) => s.run,
                    Err(e) => {
                        // Another run is active (or the journal failed): hold, say why, retry.
                        warn!(error = %e, "the trigger could not start a failover");
                        let why = format!("cannot start a failover: {e}");
                        self.record_once(&acting, "trigger_hold", &why, &why, detail)
                            .await?;
                        return Ok(());
                    }
                };
                let kind = if recommend {
                    "trigger_recommend"
                } else {
                    "trigger_fail_over"
                };
                acting
                    .journal
                    .record_decision(&Decision {
                        run_id: run.id.clone(),
                        kind: "declaration".into(),
                        who: TRIGGER_ACTOR.into(),
                        why: summary.clone(),
                        detail: detail.clone(),
                        at_ms: ms(at),
                    })
                    .await?;
                self.record(
                    &acting,
                    kind,
                    &decision.summary(),
                    detail,
                    Some(run.id.clone()),
                )
                .await?;
                let message = if recommend {
                    format!(
                        "{}: approve with `pilotlight approve {} {APPROVAL_STEP}`, or abort it",
                        decision.summary(),
                        run.id
                    )
                } else {
                    format!("{}: failover run {} started", decision.summary(), run.id)
                };
                self.notify(kind, Some(run.id.clone()), message).await;
                {
                    let mut st = self.lock();
                    st.acted_on = Some(since);
                    st.view.trigger_run = Some(run.id.clone());
                }
                self.drive(run.id);
            }
            TriggerDecision::Hold { reasons, .. } => {
                // Recorded again only when the set of blocking interlocks changes (the
                // summary's remaining cool-down changes every tick).
                let names: Vec<&str> = reasons.iter().map(|r| r.name()).collect();
                let key = format!("hold: {}", names.join(","));
                self.record_once(&acting, "trigger_hold", &key, &decision.summary(), detail)
                    .await?;
            }
            TriggerDecision::Off { .. } => {
                self.record_once(&acting, "trigger_off", "off", &decision.summary(), detail)
                    .await?;
            }
        }
        Ok(())
    }

    async fn inputs(
        &self,
        acting: &Acting,
        failure: DeclaredFailure,
        view: &WatchView,
    ) -> Result<TriggerInputs, ServeError> {
        let env = &self.deps.env.environment.name;
        let journal = &acting.journal;
        let active = journal.active_run(env).await?;
        let runs = journal.runs(Some(env), 50).await?;
        let last = runs.first().map(|r| LastRun {
            id: r.id.clone(),
            started_at: Duration::from_millis(r.created_at_ms),
            ended_at: r.finished_at_ms.map(Duration::from_millis),
            automatic: r.requested_by == TRIGGER_ACTOR,
        });
        let mut unacknowledged = None;
        if let Some(auto) = runs.iter().find(|r| r.requested_by == TRIGGER_ACTOR) {
            let acknowledged = journal
                .decisions(&auto.id)
                .await?
                .iter()
                .any(|d| d.kind == "acknowledged");
            if !acknowledged {
                unacknowledged = Some(auto.id.clone());
            }
        }
        let maintenance = self
            .health
            .iter()
            .flat_map(|h| h.maintenance.iter())
            .filter_map(|w| {
                let t = |s: &str| {
                    humantime::parse_rfc3339(s)
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                };
                Some(MaintenanceWindow {
                    start: t(&w.start)?,
                    end: t(&w.end)?,
                    reason: w.reason.clone(),
                })
            })
            .collect();
        let drill = active
            .as_ref()
            .filter(|r| r.runbook.starts_with("drill"))
            .map(|r| r.id.clone());
        Ok(TriggerInputs {
            failure: Some(failure),
            readiness: view.readiness.clone(),
            replication: view.replication.clone(),
            last_run: last,
            active_run: active.map(|r| r.id),
            drill,
            maintenance,
            unacknowledged_automatic_run: unacknowledged,
        })
    }

    /// Drive a run in the background until it ends or pauses, for as long as this instance
    /// leads, unless this process already drives it. Returns whether a driver was started
    /// (not while standing by).
    pub fn drive(&self, run_id: String) -> bool {
        let Some(acting) = self.acting() else {
            return false;
        };
        {
            let mut d = self.driving.lock().unwrap_or_else(|e| e.into_inner());
            if !d.insert(run_id.clone()) {
                return false;
            }
        }
        let exec = acting.executor.clone();
        let epoch = acting.epoch;
        let driving = self.driving.clone();
        let run_id_kept = run_id.clone();
        let task = tokio::spawn(async move {
            match exec.drive(&run_id).await {
                Ok(status) => {
                    info!(run_id = %run_id, status = status.label(), "run ended or paused")
                }
                Err(e) => {
                    error!(run_id = %run_id, ?epoch, error = %e, "run stopped; it resumes when the service restarts or another instance leads")
                }
            }
            driving
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&run_id);
        });
        let mut st = self.lock();
        match st.leading.as_mut() {
            Some(l) if l.acting.epoch == epoch => {
                l.drives.retain(|d| !d.is_finished());
                l.drives.push(task.abort_handle());
                true
            }
            // The leadership ended meanwhile.
            _ => {
                task.abort();
                drop(st);
                self.driving
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&run_id_kept);
                false
            }
        }
    }

    async fn record(
        &self,
        acting: &Acting,
        kind: &str,
        summary: &str,
        detail: serde_json::Value,
        run_id: Option<String>,
    ) -> Result<(), ServeError> {
        acting
            .journal
            .record_health_event(&HealthEvent {
                environment: self.deps.env.environment.name.clone(),
                kind: kind.into(),
                summary: summary.into(),
                detail,
                run_id,
                at_ms: ms(now()),
            })
            .await?;
        Ok(())
    }

    /// Record (and notify) a hold or off decision when its `key` differs from the last one
    /// recorded.
    async fn record_once(
        &self,
        acting: &Acting,
        kind: &str,
        key: &str,
        summary: &str,
        detail: serde_json::Value,
    ) -> Result<(), ServeError> {
        let key = format!("{kind}: {key}");
        if self.lock().last_recorded.as_deref() == Some(key.as_str()) {
            return Ok(());
        }
        warn!(kind, "{summary}");
        self.record(acting, kind, summary, detail, None).await?;
        self.notify(kind, None, summary.to_string()).await;
        self.lock().last_recorded = Some(key);
        Ok(())
    }

    async fn notify(&self, kind: &str, run_id: Option<String>, message: String) {
        let n = Notification {
            environment: self.deps.env.environment.name.clone(),
            run_id,
            kind: kind.into(),
            message,
        };
        if let Err(e) = self.deps.notifier.notify(&n).await {
            warn!(kind, error = %e, "notification failed");
        }
    }
}
