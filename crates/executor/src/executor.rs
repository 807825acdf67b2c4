//! The executor's driver loop: start or resume a run, start ready nodes up to the plan's
//! parallelism (intent persisted first), re-enter interrupted nodes after a crash, follow
//! control events (pause, resume, abort, approvals) written by other processes, and record how
//! the run ended.

use crate::clock::Clock;
use crate::crashpoint;
use crate::node::run_node;
use pilotlight_core::capability::{Actuator, Notification, Notifier, ReadinessFacts};
use pilotlight_core::journal::{
    CreateOutcome, Decision, Journal, JournalError, RunOptions, RunRecord,
};
use pilotlight_core::model::EnvironmentConfig;
use pilotlight_core::plan::Plan;
use pilotlight_core::run::{Event, RunState, RunStatus, TransitionError};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tracing::{error, info, warn};

/// The external capabilities a run needs.
#[derive(Clone)]
pub struct Capabilities {
    /// Acts on AWS (scale, promote, shift traffic) and observes live state.
    pub actuator: Arc<dyn Actuator>,
    /// Gathers readiness facts (readiness and lag gates).
    pub facts: Arc<dyn ReadinessFacts>,
    /// Sends notifications; failures never block a run.
    pub notifier: Arc<dyn Notifier>,
}

/// Executor tuning.
#[derive(Debug, Clone)]
pub struct ExecutorSettings {
    /// Shortest delay between verification polls.
    pub poll_interval: Duration,
    /// Largest delay between verification polls.
    pub max_poll_interval: Duration,
    /// Verification polls are spaced by this share of the time already waited (bounded by the
    /// two intervals above), so noticing completion adds at most about this share to a step
    /// while long waits do not flood the API.
    pub poll_fraction: f64,
    /// How often the driver reads the journal for control events from other processes.
    pub control_interval: Duration,
}

impl Default for ExecutorSettings {
    fn default() -> Self {
        ExecutorSettings {
            poll_interval: Duration::from_secs(1),
            max_poll_interval: Duration::from_secs(15),
            poll_fraction: 0.01,
            control_interval: Duration::from_millis(500),
        }
    }
}

impl ExecutorSettings {
    /// Delay before the next verification poll, after waiting `elapsed`.
    pub fn next_poll(&self, elapsed: Duration) -> Duration {
        elapsed.mul_f64(self.poll_fraction.max(0.0)).clamp(
            self.poll_interval,
            self.max_poll_interval.max(self.poll_interval),
        )
    }
}

/// Why the executor stopped without finishing a run.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The journal failed: the run stopped safely; nothing is reported done without a record.
    #[error("the run stopped safely because the journal failed: {0}")]
    Journal(#[from] JournalError),
    /// The journal's events do not fit the run's plan.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// A request was refused (e.g. another run is active).
    #[error("{0}")]
    Refused(String),
}

impl ExecError {
    /// Whether trying again later may help (a busy journal).
    pub fn is_retryable(&self) -> bool {
        matches!(self, ExecError::Journal(e) if e.is_retryable())
    }
}

/// A request to start a run.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// The plan to execute (frozen into the run).
    pub plan: Plan,
    /// Who asks.
    pub requested_by: String,
    /// Why.
    pub reason: String,
    /// The same key twice makes one run.
    pub idempotency_key: String,
    /// Options (planned, overrides).
    pub options: RunOptions,
}

/// The run a start request resolved to.
#[derive(Debug, Clone)]
pub struct Started {
    /// The run.
    pub run: RunRecord,
    /// False when the idempotency key matched an existing run.
    pub created: bool,
}

/// State shared by the driver and its node tasks.
pub(crate) struct Shared {
    pub(crate) journal: Arc<dyn Journal>,
    pub(crate) caps: Capabilities,
    pub(crate) env: Arc<EnvironmentConfig>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: ExecutorSettings,
    pub(crate) run: RunRecord,
    abort: AtomicBool,
    /// Per node: when its step timeout restarted (after a decision), and since when it waits
    /// for a decision now.
    decision_waits: std::sync::Mutex<HashMap<String, DecisionClock>>,
}

/// When a node's step timeout restarted (after a decision), and since when it waits for one.
type DecisionClock = (Option<tokio::time::Instant>, Option<tokio::time::Instant>);

/// Marks a node as waiting for a decision until dropped.
pub(crate) struct DecisionWait<'a> {
    shared: &'a Shared,
    node: String,
}

impl Drop for DecisionWait<'_> {
    fn drop(&mut self) {
        let mut waits = self
            .shared
            .decision_waits
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((restart, since)) = waits.get_mut(&self.node) {
            // A decision starts a fresh attempt: the step timeout counts from now.
            *since = None;
            *restart = Some(tokio::time::Instant::now());
        }
    }
}

impl Shared {
    pub(crate) async fn append(&self, event: Event) -> Result<u64, JournalError> {
        self.journal.append(&self.run.id, &event).await
    }
    pub(crate) fn aborting(&self) -> bool {
        self.abort.load(Ordering::SeqCst)
    }

    /// When the step timeout of `node` (started at `started`) expires: waiting for a person's
    /// decision does not count, and a decision restarts the clock.
    pub(crate) fn step_deadline(
        &self,
        node: &str,
        started: tokio::time::Instant,
        timeout: Duration,
    ) -> tokio::time::Instant {
        let waits = self
            .decision_waits
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match waits.get(node) {
            Some((_, Some(_))) => tokio::time::Instant::now() + timeout,
            Some((Some(restart), None)) => *restart + timeout,
            _ => started + timeout,
        }
    }

    /// Start counting a decision wait of `node`; it ends when the guard is dropped.
    pub(crate) fn waiting_for_decision(&self, node: &str) -> DecisionWait<'_> {
        let mut waits = self
            .decision_waits
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        waits.entry(node.to_string()).or_default().1 = Some(tokio::time::Instant::now());
        DecisionWait {
            shared: self,
            node: node.to_string(),
        }
    }
}

/// Runs plans durably against a journal and a set of capabilities.
#[derive(Clone)]
pub struct Executor {
    journal: Arc<dyn Journal>,
    caps: Capabilities,
    env: Arc<EnvironmentConfig>,
    clock: Arc<dyn Clock>,
    settings: ExecutorSettings,
}

/// A sortable, readable run id: `YYYYMMDD-HHMMSS-xxxx` (UTC).
pub fn new_run_id(now_ms: u64) -> String {
    let secs = now_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{:04x}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        rand::random::<u16>()
    )
}

impl Executor {
    /// An executor for one environment.
    pub fn new(
        journal: Arc<dyn Journal>,
        caps: Capabilities,
        env: Arc<EnvironmentConfig>,
        clock: Arc<dyn Clock>,
        settings: ExecutorSettings,
    ) -> Self {
        Executor {
            journal,
            caps,
            env,
            clock,
            settings,
        }
    }

    /// The journal.
    pub fn journal(&self) -> &Arc<dyn Journal> {
        &self.journal
    }

    /// Create a run (or find the one with the same idempotency key) and record who started it
    /// and which overrides they gave. Refused while another run of the environment is active.
    pub async fn start(&self, req: StartRequest) -> Result<Started, ExecError> {
        let now = self.clock.now_ms();
        let record = RunRecord {
            id: new_run_id(now),
            environment: self.env.environment.name.clone(),
            runbook: req.plan.runbook.clone(),
            idempotency_key: req.idempotency_key,
            requested_by: req.requested_by.clone(),
            reason: req.reason.clone(),
            options: req.options.clone(),
            plan: req.plan,
            status: RunStatus::Running,
            created_at_ms: now,
            finished_at_ms: None,
        };
        match self.journal.create_run(&record).await? {
            CreateOutcome::Existing(run) => Ok(Started {
                run,
                created: false,
            }),
            CreateOutcome::Created(run) => {
                let decide = |kind: &str, why: &str| Decision {
                    run_id: run.id.clone(),
                    kind: kind.to_string(),
                    who: req.requested_by.clone(),
                    why: why.to_string(),
                    detail: serde_json::json!({ "runbook": run.runbook, "planned": req.options.planned }),
                    at_ms: now,
                };
                self.journal
                    .record_decision(&decide("start", &req.reason))
                    .await?;
                info!(run_id = %run.id, environment = %run.environment, runbook = %run.runbook, by = %req.requested_by, "run created");
                Ok(Started { run, created: true })
            }
        }
    }

    /// Record a control event (pause, resume, abort, approval) for a run; a driver picks it up.
    pub async fn control(&self, run_id: &str, event: Event) -> Result<(), ExecError> {
        control(self.journal.as_ref(), run_id, event).await
    }

    /// Drive a run until it ends, or is paused with nothing in flight. Safe to call on a run that
    /// was interrupted at any point: the state is replayed from the journal, interrupted nodes
    /// are re-entered (live state is read before acting), and ready nodes are started.
    pub async fn drive(&self, run_id: &str) -> Result<RunStatus, ExecError> {
        let run = self.journal.run(run_id).await?;
        let plan = run.plan.clone();
        let shared = Arc::new(Shared {
            journal: self.journal.clone(),
            caps: self.caps.clone(),
            env: self.env.clone(),
            clock: self.clock.clone(),
            settings: self.settings.clone(),
            run,
            abort: AtomicBool::new(false),
            decision_waits: Default::default(),
        });
        let mut state = RunState::new(&plan);
        let mut last_seq = 0;
        catch_up(&shared, &plan, &mut state, &mut last_seq).await?;
        if state.status.is_final() {
            return Ok(state.status);
        }
        let resumed = last_seq > 0 && !state.interrupted().is_empty();
        if last_seq == 0 {
            shared
                .notify(
                    "run_started",
                    format!(
                        "{} of {} started by {}: {}",
                        plan.runbook, plan.environment, shared.run.requested_by, shared.run.reason
                    ),
                )
                .await;
        }
        let mut tasks: JoinSet<(String, Result<(), JournalError>)> = JoinSet::new();
        let mut in_flight: HashSet<String> = HashSet::new();
        for id in state.interrupted() {
            warn!(run_id = %run_id, node = %id, "resuming an interrupted step: reading live state before acting");
            spawn_node(&mut tasks, &shared, &plan, &state, &id);
            in_flight.insert(id);
        }
        if resumed {
            info!(run_id = %run_id, "run resumed from the journal");
        }
        let mut journal_failure: Option<JournalError> = None;
        loop {
            if journal_failure.is_none() && !shared.aborting() {
                for id in state.ready(&plan) {
                    if in_flight.contains(&id) {
                        continue;
                    }
                    crashpoint::hit(&id, "before_intent");
                    let attempt = state.nodes[&id].attempts + 1;
                    // Intent first: the node is recorded as started before anything acts.
                    if let Err(e) = shared
                        .append(Event::NodeStarted {
                            node: id.clone(),
                            attempt,
                            at_ms: shared.clock.now_ms(),
                        })
                        .await
                    {
                        journal_failure = Some(e);
                        break;
                    }
                    catch_up(&shared, &plan, &mut state, &mut last_seq).await?;
                    spawn_node(&mut tasks, &shared, &plan, &state, &id);
                    in_flight.insert(id);
                }
            }
            if in_flight.is_empty() {
                if let Some(e) = journal_failure {
                    error!(run_id = %run_id, error = %e, "journal failure: run stopped safely");
                    return Err(e.into());
                }
                if let Some(outcome) = state.outcome(&plan) {
                    shared
                        .append(Event::RunFinished {
                            status: outcome,
                            at_ms: shared.clock.now_ms(),
                        })
                        .await?;
                    info!(run_id = %run_id, status = outcome.label(), "run finished");
                    shared
                        .notify(
                            "run_finished",
                            format!(
                                "{} of {} {}",
                                plan.runbook,
                                plan.environment,
                                outcome.label()
                            ),
                        )
                        .await;
                    return Ok(outcome);
                }
                if state.status == RunStatus::Paused {
                    info!(run_id = %run_id, "run paused with no step in flight");
                    return Ok(RunStatus::Paused);
                }
            }
            tokio::select! {
                joined = tasks.join_next(), if !tasks.is_empty() => {
                    if let Some(joined) = joined {
                        let (id, res) = match joined {
                            Ok(v) => v,
                            Err(e) => {
                                // A panicking step is a bug; record it as a failure of that step.
                                let id = in_flight.iter().find(|i| !state.nodes[*i].status.is_final()).cloned().unwrap_or_default();
                                (id, Err(JournalError::Other { path: "executor".into(), detail: format!("step task panicked: {e}") }))
                            }
                        };
                        in_flight.remove(&id);
                        if let Err(e) = res {
                            journal_failure.get_or_insert(e);
                        }
                    }
                }
                _ = tokio::time::sleep(self.settings.control_interval) => {}
            }
            if let Err(e) = catch_up(&shared, &plan, &mut state, &mut last_seq).await {
                journal_failure.get_or_insert(e);
            }
            if state.abort_requested {
                shared.abort.store(true, Ordering::SeqCst);
            }
        }
    }
}

/// Record a control event for a run after checking it is a valid transition: pause, resume,
/// abort, or an approval. The run's driver (in this or another process) picks it up.
pub async fn control(journal: &dyn Journal, run_id: &str, event: Event) -> Result<(), ExecError> {
    let run = journal.run(run_id).await?;
    if run.status.is_final() {
        return Err(ExecError::Refused(format!(
            "run {run_id} has already {}",
            run.status.label()
        )));
    }
    let events = journal.events(run_id).await?;
    let mut state = RunState::replay(&run.plan, events.iter().map(|e| &e.event))?;
    if let Event::Approved { node, .. } = &event {
        match state.nodes.get(node) {
            None => {
                return Err(ExecError::Refused(format!(
                    "run {run_id} has no step {node}"
                )))
            }
            Some(n) if n.status.is_final() => {
                return Err(ExecError::Refused(format!(
                    "step {node} of run {run_id} is already {:?}",
                    n.status
                )))
            }
            Some(_) => {}
        }
    }
    state.apply(&run.plan, &event)?;
    journal.append(run_id, &event).await?;
    Ok(())
}

fn spawn_node(
    tasks: &mut JoinSet<(String, Result<(), JournalError>)>,
    shared: &Arc<Shared>,
    plan: &Plan,
    state: &RunState,
    id: &str,
) {
    let node = plan.node(id).expect("node of the plan").clone();
    let prior = state.nodes[id].clone();
    let sh = shared.clone();
    let id = id.to_string();
    tasks.spawn(async move {
        let res = run_node(sh, node, prior).await;
        (id, res)
    });
}

/// Apply every journal event after `last_seq` to `state`.
async fn catch_up(
    sh: &Shared,
    plan: &Plan,
    state: &mut RunState,
    last_seq: &mut u64,
) -> Result<(), JournalError> {
    for e in sh.journal.events_since(&sh.run.id, *last_seq).await? {
        if let Err(t) = state.apply(plan, &e.event) {
            return Err(JournalError::Corrupt {
                path: format!("run {}", sh.run.id),
                detail: t.0,
            });
        }
        *last_seq = e.seq;
    }
    Ok(())
}

/// A notifier that only logs (the default when nothing is configured).
#[derive(Debug, Default, Clone)]
pub struct LogNotifier;

#[async_trait::async_trait]
impl Notifier for LogNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), pilotlight_core::CapabilityError> {
        info!(environment = %n.environment, run_id = ?n.run_id, kind = %n.kind, "{}", n.message);
        Ok(())
    }
}
