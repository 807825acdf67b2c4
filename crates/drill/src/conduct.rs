//! Conducting a drill, the same for the CLI (`pilotlight drill`) and the control service
//! (`POST /api/v1/runs` with `"runbook": "drill"`): the order of a full and of an isolated
//! drill, over narrow traits only: [`DrillRuns`] runs a runbook to its end, [`CanaryStore`]
//! holds canaries, [`DrillCopies`] makes and removes the isolated drill's copies.
//!
//! Invariants: a full drill fails back only after a failover that succeeded; an isolated drill
//! removes every copy it created on every ending (a failed or interrupted verification too) and
//! then reads the region's resource lists until none of its copies is listed, so a copy left
//! behind is in the report and fails the drill; the time comes from the clock passed in.

use crate::build::{self, RunRecords};
use crate::canary::{self, CanaryPlan, CanaryStore};
use crate::isolated::{copies_for, not_copied, Copy, CopyKind, DrillCopies};
use crate::model::*;
use crate::store::{DrillReports, DrillStart, DrillStoreError};
use pilotlight_core::model::{EnvironmentConfig, Tier};
use pilotlight_core::run::RunStatus;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The clock of a drill: milliseconds since the Unix epoch.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Where a drill reports its progress (a line for a person: the terminal, the service's log).
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// What every drill needs.
#[derive(Clone)]
pub struct DrillSetup {
    /// The environment.
    pub env: EnvironmentConfig,
    /// The drill's id ([`drill_id`]).
    pub id: String,
    /// Who runs it.
    pub by: String,
    /// The stores canaries go in.
    pub canaries: Vec<Arc<dyn CanaryStore>>,
    /// How many canaries, how far apart.
    pub canary_plan: CanaryPlan,
    /// Earlier drills of the environment, oldest first ([`trend`]).
    pub trend: Vec<TrendPoint>,
    /// The clock.
    pub clock: Clock,
    /// Progress lines.
    pub progress: Progress,
}

/// A drill id from a run id (`run-20261121-232909-e9bd` → `drill-20261121-232909-e9bd`).
pub fn drill_id(run_id: &str) -> String {
    format!("drill-{}", run_id.strip_prefix("run-").unwrap_or(run_id))
}

/// Runs a runbook of the environment to its end, the way the caller runs runs (the CLI's local
/// executor, or the control service's).
#[async_trait::async_trait]
pub trait DrillRuns: Send + Sync {
    /// Start `runbook` (`failover` or `failback`) with idempotency key `key` and `reason`, wait
    /// until the run ends, and return its records. `Err(why)` when it did not start (refused).
    async fn run(&self, runbook: &str, key: &str, reason: &str) -> Result<RunRecords, String>;
}

/// Why a drill could not run at all (nothing was changed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrillError {
    /// A full drill of a production environment.
    #[error("refusing a full drill of {0}: it is a production environment and a full drill fails it over for real; use the isolated mode")]
    Production(String),
    /// The failover did not start.
    #[error("the failover did not start ({0}); nothing else was done")]
    NotStarted(String),
}

/// The tier's name.
pub fn tier_name(t: Tier) -> &'static str {
    match t {
        Tier::Production => "production",
        Tier::Staging => "staging",
        Tier::Development => "development",
    }
}

/// Earlier drills of `environment` from `store`, oldest first.
pub async fn trend(
    store: &dyn DrillReports,
    environment: &str,
) -> Result<Vec<TrendPoint>, DrillStoreError> {
    let mut earlier = store.drills(Some(environment), 20).await?;
    earlier.reverse();
    Ok(earlier
        .into_iter()
        .map(|d| TrendPoint {
            id: d.id,
            mode: d.mode,
            started_at_ms: d.started_at_ms,
            passed: d.passed,
            rto_ms: d.rto_ms,
            rpo_ms: d.rpo_ms,
        })
        .collect())
}

/// The databases Pilotlight cannot put a canary in, with the lag at the lag gate (if any) as an
/// estimate.
pub fn database_stores(env: &EnvironmentConfig, lag: Option<f64>) -> Vec<StoreRpo> {
    let estimate = lag
        .map(|l| format!(" The replica lag read at the lag gate was {l:.1}s (CloudWatch ReplicaLag): an estimate, not a measurement."))
        .unwrap_or_default();
    env.rds_replicas
        .iter()
        .map(|d| ("rds", d.name.as_str()))
        .chain(env.aurora_global_clusters.iter().map(|a| ("aurora", a.name.as_str())))
        .map(|(kind, name)| {
            canary::not_measurable(
                kind,
                name,
                &format!("not measured: a database canary needs a SQL connection to the primary and the replica, which Pilotlight does not make (and the emulator has no SQL engine).{estimate}"),
            )
        })
        .collect()
}

fn base_report(setup: &DrillSetup, mode: Mode, started: u64) -> DrillReport {
    let env = &setup.env;
    DrillReport {
        version: REPORT_VERSION,
        id: setup.id.clone(),
        mode,
        environment: env.environment.name.clone(),
        tier: tier_name(env.environment.tier).into(),
        primary_region: env.regions.primary.clone(),
        dr_region: env.regions.dr.clone(),
        requested_by: setup.by.clone(),
        started_at_ms: started,
        finished_at_ms: started,
        failure_at_ms: None,
        objectives: Objectives {
            rto_ms: env.objectives.rto.as_millis() as u64,
            rpo_ms: env.objectives.rpo.as_millis() as u64,
        },
        phases: Vec::new(),
        rto: build::rto(started, None, env.objectives.rto.as_millis() as u64, ""),
        rpo: Vec::new(),
        runs: Vec::new(),
        steps: Vec::new(),
        decisions: Vec::new(),
        resources: Vec::new(),
        limitations: Vec::new(),
        verdict: Verdict {
            passed: false,
            reasons: Vec::new(),
        },
        trend: setup.trend.clone(),
    }
}

fn emulator_limitation(env: &EnvironmentConfig, out: &mut Vec<String>) {
    if env.aws.endpoint.is_some() {
        out.push("run against an emulator endpoint: replication between regions is the sandbox replicator's (not AWS's) and resources change state at once, so the timings are not those of AWS".to_string());
    }
}

/// A full drill: canaries in the primary, the failure point, the real failover, canaries read
/// in DR, and the failback if the failover succeeded. Refuses a production environment.
pub async fn full(setup: &DrillSetup, runs: &dyn DrillRuns) -> Result<DrillReport, DrillError> {
    let env = &setup.env;
    if env.environment.tier == Tier::Production {
        return Err(DrillError::Production(env.environment.name.clone()));
    }
    let (id, now, say) = (&setup.id, &setup.clock, &setup.progress);
    let started = now();
    tracing::info!(drill_id = %id, environment = %env.environment.name, mode = "full", "drill started");
    say(&format!(
        "drill {id}: writing canaries in {}",
        env.regions.primary
    ));
    let written = canary::write_series(&setup.canaries, id, setup.canary_plan, || now()).await;
    let failure_at = now();
    say(&format!("drill {id}: failure point; failing over"));
    let reason = |runbook: &str| format!("DR drill {id} ({runbook})");
    let failover = runs
        .run("failover", &format!("{id}-failover"), &reason("failover"))
        .await
        .map_err(DrillError::NotStarted)?;
    say(&format!(
        "drill {id}: reading canaries in {}",
        env.regions.dr
    ));
    let mut rpo = canary::read_back(&written, failure_at).await;
    let failover_ok = failover.run.status == RunStatus::Succeeded;
    let mut limitations = Vec::new();
    let mut done = vec![failover];
    if failover_ok {
        say(&format!("drill {id}: failing back"));
        match runs
            .run("failback", &format!("{id}-failback"), &reason("failback"))
            .await
        {
            Ok(fb) => done.push(fb),
            Err(why) => limitations.push(format!("the failback did not start ({why}); the environment is left failed over: see `pilotlight status`")),
        }
    } else {
        limitations.push(format!(
            "the failover did not succeed, so no failback was attempted: the environment is left as the run left it; see `pilotlight runs show {}` and `pilotlight status`",
            done[0].run.id
        ));
    }
    let mut report = base_report(setup, Mode::Full, started);
    report.finished_at_ms = now();
    report.failure_at_ms = Some(failure_at);
    for r in &done {
        report.steps.extend(build::steps_of(r, started));
        report.decisions.extend(build::decisions_of(r));
    }
    let lag = done[0]
        .decisions
        .iter()
        .rev()
        .find(|d| d.kind == "rpo_estimate")
        .and_then(|d| d.detail["lag_seconds"].as_f64());
    rpo.extend(database_stores(env, lag));
    for s in rpo.iter().filter(|s| !s.measured) {
        limitations.push(format!("{} {}: {}", s.kind, s.name, s.note));
    }
    emulator_limitation(env, &mut limitations);
    report.phases = vec![
        PhaseTiming {
            phase: Phase::Detection,
            start_offset_ms: None,
            duration_ms: None,
            counts_toward_rto: true,
            note: "not measured in a full drill: the failure is declared by the drill itself (measured by `pilotlight gameday`)".into(),
        },
        PhaseTiming {
            phase: Phase::Decision,
            start_offset_ms: Some(failure_at.saturating_sub(started)),
            duration_ms: Some(done[0].run.created_at_ms.saturating_sub(failure_at)),
            counts_toward_rto: true,
            note: "failure point → failover run created (no person in the loop in a drill)".into(),
        },
    ];
    report
        .phases
        .extend(build::phases_from_steps(&report.steps));
    // Recovered only if the failover succeeded: a failed run's end is not a recovery.
    report.rto = build::rto(
        failure_at,
        done[0].run.finished_at_ms.filter(|_| failover_ok),
        report.objectives.rto_ms,
        "failure point → failover run finished (the failback is not part of the RTO)",
    );
    report.rpo = rpo;
    report.runs = done.iter().map(build::run_ref).collect();
    report.limitations = limitations;
    report.verdict = build::verdict(&report);
    Ok(report)
}

/// How long an isolated drill waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsolatedTimings {
    /// Longest wait for one copy to verify (an RDS restore takes many minutes in AWS).
    pub ready_timeout: Duration,
    /// Longest wait, after the removals, for the copies to leave the resource lists.
    pub cleanup_timeout: Duration,
    /// Time between two checks.
    pub poll: Duration,
}

impl Default for IsolatedTimings {
    fn default() -> Self {
        IsolatedTimings {
            ready_timeout: Duration::from_secs(60 * 60),
            cleanup_timeout: Duration::from_secs(60 * 60),
            poll: Duration::from_secs(10),
        }
    }
}

/// One copy's life in the drill.
struct Made {
    copy: Copy,
    step: StepTiming,
    created_at_ms: Option<u64>,
    removed_at_ms: Option<u64>,
    evidence: String,
}

/// A copy's step id: its kind and what it copies (`restore_rds_copy-app-db-replica`).
fn step_id(copy: &Copy, drill_id: &str) -> String {
    let what = copy
        .name
        .strip_suffix(&format!("-{drill_id}"))
        .unwrap_or(&copy.source);
    format!("{}-{what}", step_kind(copy.kind))
}

fn step_kind(k: CopyKind) -> &'static str {
    match k {
        CopyKind::RdsSnapshot => "snapshot_rds_replica",
        CopyKind::RdsInstance => "restore_rds_copy",
        CopyKind::EcsService => "copy_ecs_service",
        CopyKind::AutoScalingGroup => "copy_autoscaling_group",
    }
}

/// Wait for `cancel` to turn true (never, if the sender is gone while false).
async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    loop {
        if *cancel.borrow() {
            return;
        }
        if cancel.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A copy that was not attempted, and why.
fn skipped(copy: Copy, setup: &DrillSetup, why: &str) -> Made {
    let phase = match copy.kind {
        CopyKind::RdsSnapshot | CopyKind::RdsInstance => Phase::Database,
        _ => Phase::Compute,
    };
    Made {
        step: StepTiming {
            run_id: setup.id.clone(),
            runbook: "isolated".into(),
            id: step_id(&copy, &setup.id),
            kind: step_kind(copy.kind).into(),
            phase,
            status: "skipped".into(),
            attempts: 0,
            start_offset_ms: None,
            duration_ms: None,
            message: None,
            error: Some(why.to_string()),
        },
        copy,
        created_at_ms: None,
        removed_at_ms: None,
        evidence: String::new(),
    }
}

/// Create one copy and wait until it verifies, the timeout passes, or the drill is cancelled.
async fn make(
    copy: Copy,
    copies: &dyn DrillCopies,
    setup: &DrillSetup,
    started: u64,
    t: IsolatedTimings,
    mut cancel: watch::Receiver<bool>,
) -> Made {
    let now = &setup.clock;
    let phase = match copy.kind {
        CopyKind::RdsSnapshot | CopyKind::RdsInstance => Phase::Database,
        _ => Phase::Compute,
    };
    let begin = now();
    let mut made = Made {
        step: StepTiming {
            run_id: setup.id.clone(),
            runbook: "isolated".into(),
            id: step_id(&copy, &setup.id),
            kind: step_kind(copy.kind).into(),
            phase,
            status: "failed".into(),
            attempts: 1,
            start_offset_ms: Some(begin.saturating_sub(started)),
            duration_ms: None,
            message: None,
            error: None,
        },
        copy,
        created_at_ms: None,
        removed_at_ms: None,
        evidence: String::new(),
    };
    if *cancel.borrow() {
        return skipped(
            made.copy,
            setup,
            "the drill was interrupted before this copy was made",
        );
    }
    let c = &made.copy.clone();
    (setup.progress)(&format!(
        "drill {}: creating {} {} (copy of {})",
        setup.id,
        c.kind.name(),
        c.name,
        c.source
    ));
    tracing::info!(drill_id = %setup.id, kind = c.kind.name(), name = %c.name, region = %c.region, "creating drill copy");
    if let Err(e) = copies.create(c).await {
        made.step.error = Some(format!("creating {} {}: {e}", c.kind.name(), c.name));
        made.evidence = format!("create failed: {e}");
        // The create may have happened anyway: the leftover check lists it if it did.
        made.created_at_ms = Some(now());
        return made;
    }
    made.created_at_ms = Some(now());
    let deadline = tokio::time::Instant::now() + t.ready_timeout;
    let interrupted = |made: &mut Made| {
        made.step.status = "failed".into();
        made.step.error = Some(format!(
            "the drill was interrupted while {} {} was not yet verified",
            made.copy.kind.name(),
            made.copy.name
        ));
        made.evidence = "interrupted before it verified".into();
        made.step.duration_ms = Some(now().saturating_sub(begin));
    };
    loop {
        // A check in flight is abandoned when the drill is interrupted.
        let checked = tokio::select! {
            r = copies.verify(c) => r,
            _ = cancelled(&mut cancel) => {
                interrupted(&mut made);
                return made;
            }
        };
        match checked {
            Ok(Some(evidence)) => {
                made.step.status = "succeeded".into();
                made.step.duration_ms = Some(now().saturating_sub(begin));
                made.step.message = Some(format!("{} {}: {evidence}", c.kind.name(), c.name));
                made.evidence = evidence;
                return made;
            }
            Ok(None) => {}
            Err(e) if e.is_retryable() => {
                tracing::warn!(drill_id = %setup.id, name = %c.name, error = %e, "verifying a drill copy; will check again");
            }
            Err(e) => {
                made.step.error = Some(format!("verifying {} {}: {e}", c.kind.name(), c.name));
                made.evidence = format!("verification failed: {e}");
                made.step.duration_ms = Some(now().saturating_sub(begin));
                return made;
            }
        }
        if tokio::time::Instant::now() + t.poll > deadline {
            made.step.error = Some(format!(
                "{} {} did not verify within {}s",
                c.kind.name(),
                c.name,
                t.ready_timeout.as_secs()
            ));
            made.evidence = "not ready before the timeout".into();
            made.step.duration_ms = Some(now().saturating_sub(begin));
            return made;
        }
        tokio::select! {
            _ = tokio::time::sleep(t.poll) => {}
            _ = cancelled(&mut cancel) => {
                interrupted(&mut made);
                return made;
            }
        }
    }
}

/// Remove every created copy in `made`, newest first, then read the DR region's resource lists
/// until neither those copies nor anything else carrying the drill id is listed, or the cleanup
/// timeout passes. Marks each copy's removal time; returns what else carries the id (strays) and
/// the error of the last listing, if it failed.
async fn clean_up(
    setup: &DrillSetup,
    copies: &dyn DrillCopies,
    made: &mut [Made],
    timings: IsolatedTimings,
) -> (Vec<(CopyKind, String)>, Option<String>) {
    let (env, id, now) = (&setup.env, &setup.id, &setup.clock);
    for m in made.iter_mut().rev() {
        if m.created_at_ms.is_none() {
            continue;
        }
        if let Err(e) = copies.remove(&m.copy).await {
            tracing::error!(drill_id = %id, kind = m.copy.kind.name(), name = %m.copy.name, error = %e, "removing a drill copy failed");
            m.evidence = format!("{}; removal failed: {e}", m.evidence);
        }
    }
    let clusters = clusters_of(env);
    let mut strays: Vec<(CopyKind, String)> = Vec::new();
    let deadline = tokio::time::Instant::now() + timings.cleanup_timeout;
    let mut list_error: Option<String>;
    loop {
        match copies.list_marked(&env.regions.dr, id, &clusters).await {
            Ok(listed) => {
                list_error = None;
                let at = now();
                for m in made.iter_mut() {
                    if m.created_at_ms.is_some()
                        && m.removed_at_ms.is_none()
                        && !listed
                            .iter()
                            .any(|(k, n)| *k == m.copy.kind && *n == m.copy.name)
                    {
                        m.removed_at_ms = Some(at);
                    }
                }
                strays = listed
                    .into_iter()
                    .filter(|(k, n)| !made.iter().any(|m| m.copy.kind == *k && &m.copy.name == n))
                    .collect();
                strays.sort();
                strays.dedup();
                let pending = made
                    .iter()
                    .any(|m| m.created_at_ms.is_some() && m.removed_at_ms.is_none());
                if !pending && strays.is_empty() {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(drill_id = %id, error = %e, "listing the region's resources for the leftover check");
                list_error = Some(e.to_string());
            }
        }
        if tokio::time::Instant::now() + timings.poll > deadline {
            break;
        }
        tokio::time::sleep(timings.poll).await;
    }
    (strays, list_error)
}

/// The ECS clusters of the environment's services, each once.
fn clusters_of(env: &EnvironmentConfig) -> Vec<String> {
    let mut c: Vec<String> = env.ecs_services.iter().map(|s| s.cluster.clone()).collect();
    c.sort();
    c.dedup();
    c
}

/// Report each stray (a resource carrying the drill id that no step made) as left behind.
fn push_strays(
    report: &mut DrillReport,
    env: &EnvironmentConfig,
    strays: &[(CopyKind, String)],
    at: u64,
) {
    for (kind, name) in strays {
        report.resources.push(ResourceChange {
            kind: kind.name().into(),
            name: name.clone(),
            region: env.regions.dr.clone(),
            created_at_ms: at,
            removed_at_ms: None,
            verified: "carries this drill's id but was not made by a step that succeeded in creating it; found in the resource list after the cleanup".into(),
        });
    }
}

/// An isolated drill: canaries in the primary, the failure point, then the DR copies (the
/// database restored from a fresh snapshot of the replica; the ECS services and Auto Scaling
/// groups copied at their active size), each verified; canaries read in DR; every copy removed
/// and the resource lists read until none is left. Nothing that serves is touched, so it may run
/// in production. `cancel` turning true (Ctrl-C) stops the waiting and goes to the cleanup.
pub async fn isolated(
    setup: &DrillSetup,
    copies: &dyn DrillCopies,
    timings: IsolatedTimings,
    cancel: watch::Receiver<bool>,
) -> DrillReport {
    let env = &setup.env;
    let (id, now, say) = (&setup.id, &setup.clock, &setup.progress);
    let started = now();
    tracing::info!(drill_id = %id, environment = %env.environment.name, mode = "isolated", "drill started");
    say(&format!(
        "drill {id}: writing canaries in {}",
        env.regions.primary
    ));
    let written = canary::write_series(&setup.canaries, id, setup.canary_plan, || now()).await;
    let failure_at = now();
    say(&format!(
        "drill {id}: failure point; making copies in {} (nothing serving is touched)",
        env.regions.dr
    ));
    let planned = copies_for(env, id);
    // Database lane: snapshot, then the instance restored from it, per replica. Compute lane:
    // every ECS service and Auto Scaling group copy. The two lanes run side by side.
    let (db, compute): (Vec<Copy>, Vec<Copy>) = planned
        .iter()
        .cloned()
        .partition(|c| matches!(c.kind, CopyKind::RdsSnapshot | CopyKind::RdsInstance));
    let db_lane = async {
        let mut out = Vec::new();
        let mut snapshot_ok = true;
        for c in db {
            if c.kind == CopyKind::RdsInstance && !snapshot_ok {
                out.push(skipped(
                    c,
                    setup,
                    "not restored: its snapshot did not verify",
                ));
                continue;
            }
            let m = make(c, copies, setup, started, timings, cancel.clone()).await;
            if m.copy.kind == CopyKind::RdsSnapshot {
                snapshot_ok = m.step.status == "succeeded";
            }
            out.push(m);
        }
        out
    };
    let compute_lane = futures::future::join_all(
        compute
            .into_iter()
            .map(|c| make(c, copies, setup, started, timings, cancel.clone())),
    );
    let (mut made, more) = tokio::join!(db_lane, compute_lane);
    made.extend(more);
    let verified_at = now();
    let all_verified = !made.is_empty() && made.iter().all(|m| m.step.status == "succeeded");
    say(&format!(
        "drill {id}: reading canaries in {}",
        env.regions.dr
    ));
    let mut rpo = canary::read_back(&written, failure_at).await;

    // Cleanup, on every ending: newest first.
    say(&format!("drill {id}: removing the copies"));
    let (strays, list_error) = clean_up(setup, copies, &mut made, timings).await;

    let mut report = base_report(setup, Mode::Isolated, started);
    report.failure_at_ms = Some(failure_at);
    let mut limitations = not_copied(env);
    limitations.push("isolated: DNS is not shifted and the copies serve no traffic (no load balancers, target groups or service registries), so the DNS phase and the path of real requests through DR are not rehearsed; a full drill in staging rehearses them".into());
    if let Some(e) = &list_error {
        limitations.push(format!("the last read of the resource lists failed ({e}): a copy not confirmed removed is reported as left behind"));
    }
    if *cancel.borrow() {
        limitations.push("the drill was interrupted: the copies not yet verified were removed without verifying them".into());
    }
    for m in &made {
        if m.created_at_ms.is_none() && m.step.status == "skipped" {
            continue;
        }
        report.resources.push(ResourceChange {
            kind: m.copy.kind.name().into(),
            name: m.copy.name.clone(),
            region: m.copy.region.clone(),
            created_at_ms: m.created_at_ms.unwrap_or(failure_at),
            removed_at_ms: m.removed_at_ms,
            verified: m.evidence.clone(),
        });
    }
    push_strays(&mut report, env, &strays, failure_at);
    report.steps = made.into_iter().map(|m| m.step).collect();
    rpo.extend(database_stores(env, None));
    for s in rpo.iter().filter(|s| !s.measured) {
        limitations.push(format!("{} {}: {}", s.kind, s.name, s.note));
    }
    emulator_limitation(env, &mut limitations);
    report.phases = build::phases_from_steps(&report.steps);
    report.phases.push(PhaseTiming {
        phase: Phase::Dns,
        start_offset_ms: None,
        duration_ms: None,
        counts_toward_rto: true,
        note: "not rehearsed: an isolated drill does not shift DNS".into(),
    });
    report.rto = build::rto(
        failure_at,
        all_verified.then_some(verified_at),
        report.objectives.rto_ms,
        "failure point → every DR copy verified (the database restored and available, the compute copies at their active size); DNS is not part of an isolated drill",
    );
    report.rpo = rpo;
    report.limitations = limitations;
    report.finished_at_ms = now();
    report.verdict = build::verdict(&report);
    report
}

/// Ends a drill whose process stopped before the drill did (killed, its host lost): found by
/// [`crate::store::DrillReports::unfinished_drills`]. For an isolated drill, lists what in the
/// DR region carries the drill id, removes each of the drill's copies that is listed, and reads
/// the lists until nothing with the id is left, as the drill's own cleanup does. Returns the
/// interrupted report (it never passes; a copy still listed is left behind). A full drill's
/// failover and failback are runs of the journal, resumed or ended there (`pilotlight runs`),
/// so only the report is written. `setup.id` is the drill's id.
pub async fn recover(
    setup: &DrillSetup,
    start: &DrillStart,
    copies: &dyn DrillCopies,
    timings: IsolatedTimings,
) -> DrillReport {
    let env = &setup.env;
    let (id, now, say) = (&setup.id, &setup.clock, &setup.progress);
    let found_at = now();
    tracing::warn!(drill_id = %id, environment = %env.environment.name, mode = start.mode.name(), "recovering an unfinished drill");
    let mut report = base_report(setup, start.mode, start.started_at_ms);
    report.requested_by = start.requested_by.clone();
    let mut limitations = vec![format!(
        "interrupted: the process conducting the drill ({}) stopped before the drill ended, so \
         nothing was measured; found unfinished and ended by {} at {}",
        start.conductor,
        setup.by,
        humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_millis(found_at))
    )];
    if start.mode == Mode::Isolated {
        say(&format!(
            "drill {id}: did not finish; removing what carries its id in {}",
            env.regions.dr
        ));
        let planned = copies_for(env, id);
        let existing: Vec<Copy> = match copies
            .list_marked(&env.regions.dr, id, &clusters_of(env))
            .await
        {
            Ok(listed) => planned
                .into_iter()
                .filter(|c| listed.iter().any(|(k, n)| *k == c.kind && *n == c.name))
                .collect(),
            // Removing a copy that is gone counts as removed: try them all.
            Err(e) => {
                limitations.push(format!("the first read of the resource lists failed ({e}): every copy the drill could have made was removed"));
                planned
            }
        };
        let mut made: Vec<Made> = existing
            .into_iter()
            .map(|copy| {
                let mut m = skipped(
                    copy,
                    setup,
                    "the drill's process stopped before this copy was verified",
                );
                m.step.status = "failed".into();
                m.created_at_ms = Some(start.started_at_ms);
                m.evidence =
                    "found after the drill's process stopped; removed by the recovery".into();
                m
            })
            .collect();
        let (strays, list_error) = clean_up(setup, copies, &mut made, timings).await;
        if let Some(e) = &list_error {
            limitations.push(format!("the last read of the resource lists failed ({e}): a copy not confirmed removed is reported as left behind"));
        }
        for m in &made {
            report.resources.push(ResourceChange {
                kind: m.copy.kind.name().into(),
                name: m.copy.name.clone(),
                region: m.copy.region.clone(),
                created_at_ms: start.started_at_ms,
                removed_at_ms: m.removed_at_ms,
                verified: m.evidence.clone(),
            });
        }
        push_strays(&mut report, env, &strays, start.started_at_ms);
        report.steps = made.into_iter().map(|m| m.step).collect();
    } else {
        limitations.push("a full drill's failover and failback are runs of the journal: an interrupted run is resumed or ended there (`pilotlight runs`), not by this report".into());
    }
    report.limitations = limitations;
    report.finished_at_ms = now();
    report.verdict = build::verdict(&report);
    report.verdict.passed = false;
    report.verdict.reasons.insert(
        0,
        "interrupted: the drill's process stopped before it ended".into(),
    );
    let left = report
        .resources
        .iter()
        .filter(|r| r.removed_at_ms.is_none())
        .count();
    say(&format!(
        "drill {id}: recovered; {} resource(s) found, {left} left behind",
        report.resources.len()
    ));
    report
}
