//! Execution of one plan node: persist intent, read live state, act only if needed, verify,
//! persist the result. Retries of a failed attempt use the step's retry policy and the shared
//! backoff formula; AWS-level retries happen below, in the capability's own retry layer.

use crate::crashpoint;
use crate::executor::Shared;
use pilotlight_core::backoff::full_jitter;
use pilotlight_core::capability::Notification;
use pilotlight_core::journal::{Decision, JournalError};
use pilotlight_core::plan::{Action, PlanNode};
use pilotlight_core::readiness::{run_checks, Status, Verdict};
use pilotlight_core::run::{Event, NodeState};
use pilotlight_core::runbook::{Direction, Side};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// Why an attempt did not succeed.
struct Failure {
    message: String,
    retryable: bool,
}

impl Failure {
    fn terminal(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            retryable: false,
        }
    }
}

impl From<pilotlight_core::CapabilityError> for Failure {
    fn from(e: pilotlight_core::CapabilityError) -> Self {
        Failure {
            retryable: e.is_retryable(),
            message: e.to_string(),
        }
    }
}

enum AttemptError {
    Step(Failure),
    Journal(JournalError),
}

impl From<JournalError> for AttemptError {
    fn from(e: JournalError) -> Self {
        AttemptError::Journal(e)
    }
}

impl From<Failure> for AttemptError {
    fn from(f: Failure) -> Self {
        AttemptError::Step(f)
    }
}

/// Run a node to a final journal record. `prior` is its state from the journal replay; the
/// intent of the current attempt (`NodeStarted`) has already been written.
pub(crate) async fn run_node(
    sh: Arc<Shared>,
    node: PlanNode,
    prior: NodeState,
) -> Result<(), JournalError> {
    let run_id = sh.run.id.clone();
    let started = tokio::time::Instant::now();
    let mut attempt = prior.attempts.max(1);
    let mut action_sent = prior.action_sent;
    let work = async {
        loop {
            match attempt_once(&sh, &node, &mut action_sent).await {
                Ok(detail) => return Ok(Ok(detail)),
                Err(AttemptError::Journal(e)) => return Err(e),
                Err(AttemptError::Step(f)) => {
                    if !f.retryable || attempt >= node.retry.max_attempts {
                        return Ok(Err(f.message));
                    }
                    let delay = full_jitter(
                        node.retry.base_delay,
                        node.retry.max_delay,
                        attempt,
                        rand::random::<f64>(),
                    );
                    warn!(run_id = %run_id, node = %node.id, attempt, delay_ms = delay.as_millis() as u64, error = %f.message, "step attempt failed; retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                    sh.append(Event::NodeStarted {
                        node: node.id.clone(),
                        attempt,
                        at_ms: sh.clock.now_ms(),
                    })
                    .await?;
                }
            }
        }
    };
    tokio::pin!(work);
    // The step timeout does not count time spent waiting for a person's decision.
    let outcome = loop {
        let deadline = sh.step_deadline(&node.id, started, node.timeout);
        tokio::select! {
            r = &mut work => break Ok(r),
            _ = tokio::time::sleep_until(deadline) => {
                if tokio::time::Instant::now() >= sh.step_deadline(&node.id, started, node.timeout) {
                    break Err(());
                }
            }
        }
    };
    let result = match outcome {
        Ok(Ok(r)) => r,
        Ok(Err(journal)) => return Err(journal),
        Err(_) => Err(format!(
            "timed out after {} (step timeout); the target did not reach its state: check it in the AWS console, then resume or abort the run",
            humantime::format_duration(Duration::from_secs(node.timeout.as_secs()))
        )),
    };
    crashpoint::hit(&node.id, "before_result");
    let at_ms = sh.clock.now_ms();
    match result {
        Ok(detail) => {
            info!(run_id = %run_id, node = %node.id, elapsed_ms = started.elapsed().as_millis() as u64, detail = %detail, "step succeeded");
            sh.append(Event::NodeSucceeded {
                node: node.id.clone(),
                detail,
                at_ms,
            })
            .await?;
        }
        Err(error) => {
            warn!(run_id = %run_id, node = %node.id, error = %error, "step failed");
            sh.append(Event::NodeFailed {
                node: node.id.clone(),
                error: error.clone(),
                at_ms,
            })
            .await?;
            sh.notify("step_failed", format!("step {} failed: {error}", node.id))
                .await;
        }
    }
    crashpoint::hit(&node.id, "after_result");
    Ok(())
}

async fn attempt_once(
    sh: &Shared,
    node: &PlanNode,
    action_sent: &mut bool,
) -> Result<String, AttemptError> {
    crashpoint::hit(&node.id, "after_intent");
    // A decision asked for before a crash (a drain that outlasted its timeout, a rolled-back
    // weight) is waited for before anything else.
    let decides = !matches!(node.action, Action::ManualApproval { .. });
    if let Some(asked) = sh.pending_decision(&node.id).await?.filter(|_| decides) {
        let by = await_decision(sh, node, asked).await?;
        after_decision(sh, node, &by).await?;
    }
    match &node.action {
        Action::ReadinessGate => readiness_gate(sh).await,
        Action::LagGate {
            database,
            budget,
            replica,
            wait,
        } => lag_gate(sh, database, *budget, *replica, *wait).await,
        Action::Notify { message } => {
            sh.notify("notify", message.clone()).await;
            Ok(format!("notified: {message}"))
        }
        Action::CommandHook { command } => command_hook(sh, node, command).await,
        Action::ManualApproval { message } => approval(sh, node, message).await,
        _ => act_and_verify(sh, node, action_sent).await,
    }
}

async fn act_and_verify(
    sh: &Shared,
    node: &PlanNode,
    action_sent: &mut bool,
) -> Result<String, AttemptError> {
    let act = &sh.caps.actuator;
    let obs = act.observe(&node.action).await.map_err(Failure::from)?;
    sh.append(Event::NodeObserved {
        node: node.id.clone(),
        live: obs.live.clone(),
        at_ms: sh.clock.now_ms(),
    })
    .await?;
    if obs.done {
        return Ok(format!("already in place: {}", obs.live));
    }
    let waits_only = matches!(node.action, Action::WaitCapacity { .. });
    let one_shot = node.kind.is_one_shot();
    // Never send a one-shot action twice: not when the journal says it was sent, and not when the
    // live state shows its effect under way (it was sent before a crash that lost the record).
    let send = !(waits_only || obs.in_progress || (one_shot && *action_sent));
    if send {
        if let Action::PromoteRdsReplica { region, instance } = &node.action {
            if sh.run.plan.direction == Direction::Failback {
                caught_up(sh, region, instance).await?;
            }
        }
        let detail = act.act(&node.action).await.map_err(Failure::from)?;
        crashpoint::hit(&node.id, "after_call");
        sh.append(Event::ActionSent {
            node: node.id.clone(),
            detail,
            at_ms: sh.clock.now_ms(),
        })
        .await?;
        *action_sent = true;
    } else if one_shot {
        info!(run_id = %sh.run.id, node = %node.id, live = %obs.live, "one-shot action already sent or under way: verifying only");
    }
    let live = verify(sh, node).await?;
    match &node.action {
        Action::ShiftTraffic {
            soak: Some(soak),
            previous: Some(previous),
            weight: Some(weight),
            ..
        } => soak_or_roll_back(sh, node, *soak, *previous, *weight, live).await,
        _ => Ok(live),
    }
}

async fn verify(sh: &Shared, node: &PlanNode) -> Result<String, AttemptError> {
    let since = tokio::time::Instant::now();
    let mut last_live = String::new();
    loop {
        if sh.aborting() {
            return Err(Failure::terminal(format!(
                "aborted while waiting; last live state: {last_live}"
            ))
            .into());
        }
        let obs = sh
            .caps
            .actuator
            .observe(&node.action)
            .await
            .map_err(Failure::from)?;
        if obs.done {
            return Ok(obs.live);
        }
        if let Some(limit) = node.drain_timeout {
            if since.elapsed() >= limit {
                // Routers still host live sessions: never terminate them without a person.
                let asked = sh
                    .request_decision(
                        node,
                        format!(
                            "{} has not drained after {}: {}. Approve to release the scale-in protection (live sessions on those routers end), or abort the run",
                            node.id,
                            humantime::format_duration(limit),
                            obs.live
                        ),
                    )
                    .await?;
                let by = await_decision(sh, node, asked).await?;
                after_decision(sh, node, &by).await?;
                return Box::pin(verify(sh, node)).await;
            }
        }
        last_live = obs.live;
        tokio::time::sleep(sh.settings.next_poll(since.elapsed())).await;
    }
}

/// Hold a new weight for `soak`, checking the health of what it sends traffic to. When health
/// drops, shift back to `previous`, pause the run and ask an operator; once approved, try the
/// weight again.
async fn soak_or_roll_back(
    sh: &Shared,
    node: &PlanNode,
    soak: Duration,
    previous: u8,
    weight: u8,
    live: String,
) -> Result<String, AttemptError> {
    let act = &sh.caps.actuator;
    let since = tokio::time::Instant::now();
    loop {
        if sh.aborting() {
            return Err(Failure::terminal("aborted during the soak of a traffic shift").into());
        }
        let health = act.health(&node.action).await.map_err(Failure::from)?;
        if !health.done {
            warn!(run_id = %sh.run.id, node = %node.id, weight, previous, health = %health.live, "health dropped during the soak: rolling back the weight step");
            let mut back = node.action.clone();
            if let Action::ShiftTraffic { weight: w, .. } = &mut back {
                *w = Some(previous);
            }
            let sent = act.act(&back).await.map_err(Failure::from)?;
            sh.append(Event::ActionSent {
                node: node.id.clone(),
                detail: format!("rollback to {previous}%: {sent}"),
                at_ms: sh.clock.now_ms(),
            })
            .await?;
            let mut rolled = node.clone();
            rolled.action = back;
            verify(sh, &rolled).await?;
            let asked = sh
                .request_decision(
                    node,
                    format!(
                        "health dropped at {weight}% ({}); traffic rolled back to {previous}%. Fix the cause, then approve to try {weight}% again, or abort the run",
                        health.live
                    ),
                )
                .await?;
            let by = await_decision(sh, node, asked).await?;
            after_decision(sh, node, &by).await?;
            let sent = act.act(&node.action).await.map_err(Failure::from)?;
            sh.append(Event::ActionSent {
                node: node.id.clone(),
                detail: sent,
                at_ms: sh.clock.now_ms(),
            })
            .await?;
            verify(sh, node).await?;
            return Box::pin(soak_or_roll_back(sh, node, soak, previous, weight, live)).await;
        }
        if since.elapsed() >= soak {
            return Ok(format!(
                "{live}; healthy for {} ({})",
                humantime::format_duration(soak),
                health.live
            ));
        }
        tokio::time::sleep(sh.settings.poll_interval.min(soak)).await;
    }
}

/// Wait until a person approves the decision asked for at journal sequence `asked`; an abort
/// ends the wait with a terminal failure.
async fn await_decision(sh: &Shared, node: &PlanNode, asked: u64) -> Result<String, AttemptError> {
    let _waiting = sh.waiting_for_decision(&node.id);
    loop {
        if sh.aborting() {
            return Err(Failure::terminal(format!(
                "aborted while {} waited for a decision",
                node.id
            ))
            .into());
        }
        if let Some(by) = sh.approved_since(&node.id, asked).await? {
            return Ok(by);
        }
        tokio::time::sleep(sh.settings.poll_interval).await;
    }
}

/// Record that the decision was taken: the run resumes, the node runs a new attempt; for a
/// router scale-in, release the protection as approved.
async fn after_decision(sh: &Shared, node: &PlanNode, by: &str) -> Result<(), AttemptError> {
    let at_ms = sh.clock.now_ms();
    sh.append(Event::Resumed {
        by: by.to_string(),
        at_ms,
    })
    .await?;
    let attempt = sh.attempts(&node.id).await? + 1;
    sh.append(Event::NodeStarted {
        node: node.id.clone(),
        attempt,
        at_ms,
    })
    .await?;
    info!(run_id = %sh.run.id, node = %node.id, by, "decision taken: going on");
    if node.drain_timeout.is_some() {
        let sent = sh
            .caps
            .actuator
            .force(&node.action)
            .await
            .map_err(Failure::from)?;
        sh.append(Event::ActionSent {
            node: node.id.clone(),
            detail: format!("approved by {by}: {sent}"),
            at_ms: sh.clock.now_ms(),
        })
        .await?;
    }
    Ok(())
}

/// In a failback the promotion is planned: refuse to send it unless the replica's lag is zero.
async fn caught_up(sh: &Shared, region: &str, instance: &str) -> Result<(), AttemptError> {
    let lag = sh
        .caps
        .facts
        .rds_replica_lag(region, instance)
        .await
        .map_err(Failure::from)?;
    match lag {
        Some(l) if l <= 0.0 => Ok(()),
        other => Err(Failure {
            message: format!(
                "refusing to promote {instance} in {region}: a failback promotes only a replica that has caught up (lag {}); wait for replication, with writes fenced on the current writer",
                other.map(|l| format!("{l:.1}s")).unwrap_or_else(|| "unknown".into())
            ),
            retryable: true,
        }
        .into()),
    }
}

/// Whether this run is an unplanned failover: the one run that exists for a primary region
/// that may not answer at all.
fn unplanned_failover(sh: &Shared) -> bool {
    sh.run.plan.direction == Direction::Failover && !sh.run.options.planned
}

async fn readiness_gate(sh: &Shared) -> Result<String, AttemptError> {
    let report = run_checks(&sh.env, sh.caps.facts.as_ref(), sh.env.check.concurrency).await;
    // An unplanned failover is for a primary that may be down: a check that could not be
    // completed only because the primary region did not answer does not block it (the DR side
    // of such a check is then left to the steps that act on it, which fail if it is not there).
    let primary_silent = |r: &pilotlight_core::readiness::CheckResult| {
        unplanned_failover(sh) && r.primary_silent(&sh.env.regions.primary)
    };
    let unanswered: Vec<String> = report
        .results
        .iter()
        .filter(|r| primary_silent(r))
        .map(|r| format!("{}/{}", r.resource.kind, r.resource.name))
        .collect();
    let summary = format!(
        "{} pass, {} warn, {} fail, {} error",
        report.count(Status::Pass),
        report.count(Status::Warn),
        report.count(Status::Fail),
        report.count(Status::Error)
    );
    // Lag above the RPO is decided by the lag gate (and `--allow-data-loss`), not here, when the
    // operator has already accepted data loss or the switchover is planned (zero loss).
    let lag_decided_elsewhere = sh.run.options.allow_data_loss.is_some() || sh.run.options.planned;
    let blocking: Vec<String> = report
        .results
        .iter()
        .filter(|r| matches!(r.status, Status::Fail | Status::Error))
        .filter(|r| !(r.lag_over_rpo && lag_decided_elsewhere))
        .filter(|r| !primary_silent(r))
        .map(|r| format!("{}/{}: {}", r.resource.kind, r.resource.name, r.reason))
        .collect();
    if report.verdict == Verdict::Ready || blocking.is_empty() {
        let mut note = String::new();
        if !unanswered.is_empty() {
            warn!(run_id = %sh.run.id, region = %sh.env.regions.primary, checks = %unanswered.join(", "), "readiness gate: the primary region did not answer; not blocking an unplanned failover");
            note.push_str(&format!(
                "; the primary region {} did not answer for {} — not blocking an unplanned failover, the steps verify the DR side",
                sh.env.regions.primary,
                unanswered.join(", ")
            ));
        }
        let others_not_ready = report
            .results
            .iter()
            .any(|r| matches!(r.status, Status::Fail | Status::Error) && !primary_silent(r));
        if report.verdict != Verdict::Ready && others_not_ready {
            note.push_str("; lag above the RPO is left to the lag gate");
        }
        return Ok(format!("DR ready ({summary}{note})"));
    }
    if let Some(why) = &sh.run.options.override_readiness {
        sh.decide(
            "override_readiness",
            why,
            serde_json::json!({ "failing": blocking }),
        )
        .await?;
        return Ok(format!(
            "DR not ready ({summary}) — overridden by {}: {why}",
            sh.run.requested_by
        ));
    }
    let retryable = report.verdict == Verdict::Unknown;
    Err(Failure {
        message: format!(
            "DR is not ready ({summary}): {}. Fix these (see `pilotlight check`), or override with a reason (--override-readiness)",
            blocking.join("; ")
        ),
        retryable,
    }
    .into())
}

async fn lag_gate(
    sh: &Shared,
    database: &str,
    budget: Duration,
    replica: Side,
    wait: bool,
) -> Result<String, AttemptError> {
    if !wait {
        let lag = read_lag(sh, database, replica).await?;
        return lag_gate_once(sh, database, budget, lag).await;
    }
    // Failback: nothing is burning; wait for replication to catch up (the step timeout bounds it).
    let since = tokio::time::Instant::now();
    loop {
        if sh.aborting() {
            return Err(Failure::terminal("aborted while waiting for replication").into());
        }
        let lag = read_lag(sh, database, replica).await?;
        if lag.is_some_and(|l| l <= budget) {
            return lag_gate_once(sh, database, budget, lag).await;
        }
        tokio::time::sleep(sh.settings.next_poll(since.elapsed())).await;
    }
}

/// The lag of `database`'s replica on `replica`'s side.
async fn read_lag(
    sh: &Shared,
    database: &str,
    replica: Side,
) -> Result<Option<Duration>, AttemptError> {
    let env = &sh.env;
    if replica == Side::Primary {
        if let Some(db) = env.rds_replicas.iter().find(|d| d.name == database) {
            return Ok(sh
                .caps
                .facts
                .rds_replica_lag(&env.regions.primary, &db.primary_instance)
                .await
                .map_err(Failure::from)?
                .map(|s| Duration::from_secs_f64(s.max(0.0))));
        }
    }
    let lag = if let Some(db) = env.rds_replicas.iter().find(|d| d.name == database) {
        // In an unplanned failover (an outage is what it is for) a silent primary does not stop
        // the lag from being read: the replica's lag is a DR metric.
        let r = pilotlight_core::readiness::rds_lag(
            sh.caps.facts.as_ref(),
            env,
            db,
            unplanned_failover(sh),
        )
        .await
        .map_err(Failure::from)?;
        if let Some(e) = &r.primary_silent {
            warn!(run_id = %sh.run.id, database, error = %e, "lag gate: the primary region did not answer; read the replica's lag in DR alone");
        }
        r.lag
    } else if let Some(db) = env
        .aurora_global_clusters
        .iter()
        .find(|d| d.name == database)
    {
        sh.caps
            .facts
            .aurora(db)
            .await
            .map_err(Failure::from)?
            .lag_ms
            .map(|ms| Duration::from_secs_f64(ms / 1000.0))
    } else {
        return Err(Failure::terminal(format!(
            "database `{database}` is not in the environment config"
        ))
        .into());
    };
    Ok(lag)
}

async fn lag_gate_once(
    sh: &Shared,
    database: &str,
    budget: Duration,
    lag: Option<Duration>,
) -> Result<String, AttemptError> {
    let fmt = |d: Duration| format!("{:.1}s", d.as_secs_f64());
    let detail = serde_json::json!({
        "database": database,
        "lag_seconds": lag.map(|d| d.as_secs_f64()),
        "budget_seconds": budget.as_secs_f64(),
    });
    // The estimate of data at risk (the RPO estimate) is recorded whatever the outcome.
    sh.decide(
        "rpo_estimate",
        "replication lag at the lag gate",
        detail.clone(),
    )
    .await?;
    match lag {
        Some(l) if l <= budget => Ok(format!("lag {} within budget {}", fmt(l), fmt(budget))),
        _ if sh.run.options.planned && sh.run.plan.direction == Direction::Failover => Ok(format!(
            "lag {} — planned switchover waits for replication, no data loss",
            lag.map(fmt).unwrap_or_else(|| "unknown".into())
        )),
        _ => {
            let what = match lag {
                Some(l) => format!("lag {} is above the RPO budget {}", fmt(l), fmt(budget)),
                None => "lag is unknown (no recent metric)".to_string(),
            };
            if let Some(why) = &sh.run.options.allow_data_loss {
                sh.decide("allow_data_loss", why, detail).await?;
                Ok(format!(
                    "{what}; data loss of up to {} allowed by {}: {why}",
                    lag.map(fmt).unwrap_or_else(|| "an unknown amount".into()),
                    sh.run.requested_by
                ))
            } else {
                Err(Failure::terminal(format!(
                    "{what}: an unplanned promotion now would lose more than the RPO. Wait for replication to catch up, or start the failover with --allow-data-loss REASON"
                ))
                .into())
            }
        }
    }
}

async fn command_hook(
    sh: &Shared,
    node: &PlanNode,
    command: &[String],
) -> Result<String, AttemptError> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Failure::terminal("empty command"))?;
    let out = tokio::process::Command::new(program)
        .args(args)
        .env("PILOTLIGHT_RUN_ID", &sh.run.id)
        .env("PILOTLIGHT_ENVIRONMENT", &sh.env.environment.name)
        .env("PILOTLIGHT_STEP", &node.id)
        .env("PILOTLIGHT_PRIMARY_REGION", &sh.env.regions.primary)
        .env("PILOTLIGHT_DR_REGION", &sh.env.regions.dr)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| {
            Failure::terminal(format!(
                "cannot run {program}: {e}; check the `command` of step {}",
                node.step
            ))
        })?;
    let tail = |b: &[u8]| {
        let s = String::from_utf8_lossy(b);
        let s = s.trim();
        s.chars()
            .rev()
            .take(400)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<String>()
    };
    if out.status.success() {
        Ok(format!("{program} exited 0: {}", tail(&out.stdout)))
    } else {
        Err(Failure::terminal(format!(
            "{program} exited with {}: {}",
            out.status,
            tail(&out.stderr)
        ))
        .into())
    }
}

async fn approval(sh: &Shared, node: &PlanNode, message: &str) -> Result<String, AttemptError> {
    if let Some(by) = sh.approved_by(&node.id).await? {
        return Ok(format!("approved by {by}"));
    }
    sh.append(Event::ApprovalRequested {
        node: node.id.clone(),
        at_ms: sh.clock.now_ms(),
    })
    .await?;
    sh.notify(
        "approval_requested",
        format!(
            "approval needed for {}: {message} (pilotlight approve {} {})",
            node.id, sh.run.id, node.id
        ),
    )
    .await;
    loop {
        if sh.aborting() {
            return Err(Failure::terminal("aborted while waiting for approval").into());
        }
        tokio::time::sleep(sh.settings.poll_interval).await;
        if let Some(by) = sh.approved_by(&node.id).await? {
            return Ok(format!("approved by {by}"));
        }
    }
}

impl Shared {
    async fn decide(
        &self,
        kind: &str,
        why: &str,
        detail: serde_json::Value,
    ) -> Result<(), JournalError> {
        self.journal
            .record_decision(&Decision {
                run_id: self.run.id.clone(),
                kind: kind.to_string(),
                who: self.run.requested_by.clone(),
                why: why.to_string(),
                detail,
                at_ms: self.clock.now_ms(),
            })
            .await
    }

    pub(crate) async fn notify(&self, kind: &str, message: String) {
        let n = Notification {
            environment: self.env.environment.name.clone(),
            run_id: Some(self.run.id.clone()),
            kind: kind.to_string(),
            message,
        };
        if let Err(e) = self.caps.notifier.notify(&n).await {
            // A failing notifier never blocks a run.
            warn!(run_id = %self.run.id, kind, error = %e, "notification failed");
        }
    }

    /// Pause the run and ask an operator to decide about `node`; returns the journal sequence
    /// of the request.
    async fn request_decision(
        &self,
        node: &PlanNode,
        message: String,
    ) -> Result<u64, JournalError> {
        let at_ms = self.clock.now_ms();
        self.append(Event::Paused {
            by: "pilotlight".into(),
            at_ms,
        })
        .await?;
        let seq = self
            .append(Event::ApprovalRequested {
                node: node.id.clone(),
                at_ms,
            })
            .await?;
        warn!(run_id = %self.run.id, node = %node.id, "{message}");
        self.decide(
            "decision_requested",
            &message,
            serde_json::json!({ "node": node.id }),
        )
        .await?;
        self.notify(
            "decision_needed",
            format!(
                "run paused: {message} (pilotlight approve {} {}, or pilotlight abort {})",
                self.run.id, node.id, self.run.id
            ),
        )
        .await;
        Ok(seq)
    }

    /// The sequence of an approval request for `node` not yet answered, if any. Manual-approval
    /// steps have their own flow.
    async fn pending_decision(&self, node: &str) -> Result<Option<u64>, JournalError> {
        let events = self.journal.events(&self.run.id).await?;
        let mut pending = None;
        for e in events {
            match e.event {
                Event::ApprovalRequested { node: n, .. } if n == node => pending = Some(e.seq),
                Event::Approved { node: n, .. } if n == node => pending = None,
                _ => {}
            }
        }
        Ok(pending)
    }

    /// Who approved `node` after journal sequence `since`, if anyone has.
    async fn approved_since(&self, node: &str, since: u64) -> Result<Option<String>, JournalError> {
        let events = self.journal.events_since(&self.run.id, since).await?;
        Ok(events.into_iter().find_map(|e| match e.event {
            Event::Approved { node: n, by, .. } if n == node => Some(by),
            _ => None,
        }))
    }

    /// How many attempts `node` has recorded.
    async fn attempts(&self, node: &str) -> Result<u32, JournalError> {
        let events = self.journal.events(&self.run.id).await?;
        Ok(events
            .iter()
            .filter_map(|e| match &e.event {
                Event::NodeStarted {
                    node: n, attempt, ..
                } if n == node => Some(*attempt),
                _ => None,
            })
            .max()
            .unwrap_or(0))
    }

    async fn approved_by(&self, node: &str) -> Result<Option<String>, JournalError> {
        let events = self.journal.events(&self.run.id).await?;
        Ok(events.into_iter().find_map(|e| match e.event {
            Event::Approved { node: n, by, .. } if n == node => Some(by),
            _ => None,
        }))
    }
}
