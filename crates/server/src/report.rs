//! The run report: a step timeline with durations, the critical path as it happened, the
//! overrides and decisions, and the replication lag at promotion (the RPO estimate). Built from
//! the journal only, so `runs show` tells the same story after any crash.

use pilotlight_core::journal::{Decision, RunRecord, StoredEvent};
use pilotlight_core::run::{Event, NodeStatus, RunState};
use serde::Serialize;

/// One step's line in the report.
#[derive(Debug, Clone, Serialize)]
pub struct StepLine {
    /// Node id.
    pub id: String,
    /// Step kind.
    pub kind: String,
    /// Final (or current) status.
    pub status: NodeStatus,
    /// Attempts.
    pub attempts: u32,
    /// Seconds from the run's start to the step's start.
    pub start_s: Option<f64>,
    /// How long it took.
    pub duration_s: Option<f64>,
    /// What it did, or why it failed.
    pub message: Option<String>,
    /// Whether it is on the plan's critical path.
    pub critical: bool,
}

/// A run's report.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The run as stored.
    pub run: RunSummary,
    /// Steps in plan order.
    pub steps: Vec<StepLine>,
    /// Seconds from creation to the end (or to now for a running run's last event).
    pub total_s: Option<f64>,
    /// The critical path's node ids and its actual duration.
    pub critical_path: Vec<String>,
    /// Actual seconds spent along the critical path.
    pub critical_path_s: f64,
    /// Replication lag seen by the lag gate, in seconds: the estimate of data at risk.
    pub rpo_estimate_s: Option<f64>,
    /// Decisions: start, overrides, approvals.
    pub decisions: Vec<Decision>,
}

/// The run's identity and outcome.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Run id.
    pub id: String,
    /// Environment.
    pub environment: String,
    /// Runbook.
    pub runbook: String,
    /// Status.
    pub status: String,
    /// Who started it.
    pub requested_by: String,
    /// Why.
    pub reason: String,
    /// Start, ms since the epoch.
    pub created_at_ms: u64,
    /// End, ms since the epoch.
    pub finished_at_ms: Option<u64>,
}

impl RunSummary {
    /// From a stored run.
    pub fn of(run: &RunRecord) -> Self {
        RunSummary {
            id: run.id.clone(),
            environment: run.environment.clone(),
            runbook: run.runbook.clone(),
            status: run.status.label().to_string(),
            requested_by: run.requested_by.clone(),
            reason: run.reason.clone(),
            created_at_ms: run.created_at_ms,
            finished_at_ms: run.finished_at_ms,
        }
    }
}

/// Build the report of a run from its journal records.
pub fn build(run: &RunRecord, events: &[StoredEvent], decisions: Vec<Decision>) -> RunReport {
    let plan = &run.plan;
    // A journal that does not replay is reported as far as it goes.
    let mut state = RunState::new(plan);
    for e in events {
        if state.apply(plan, &e.event).is_err() {
            break;
        }
    }
    let t0 = run.created_at_ms;
    let secs = |ms: u64| ms.saturating_sub(t0) as f64 / 1000.0;
    let steps: Vec<StepLine> = plan
        .nodes
        .iter()
        .map(|n| {
            let s = &state.nodes[&n.id];
            StepLine {
                id: n.id.clone(),
                kind: n.kind.name().to_string(),
                status: s.status,
                attempts: s.attempts,
                start_s: s.started_at_ms.map(secs),
                duration_s: match (s.started_at_ms, s.finished_at_ms) {
                    (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1000.0),
                    _ => None,
                },
                message: s.message.clone(),
                critical: plan.critical_path.contains(&n.id),
            }
        })
        .collect();
    let last_ms = events.iter().rev().find_map(|e| match &e.event {
        Event::RunFinished { at_ms, .. } => Some(*at_ms),
        _ => None,
    });
    let critical_path_s = steps
        .iter()
        .filter(|s| s.critical)
        .filter_map(|s| s.duration_s)
        .sum();
    let rpo_estimate_s = decisions
        .iter()
        .rev()
        .find(|d| d.kind == "rpo_estimate")
        .and_then(|d| d.detail["lag_seconds"].as_f64());
    RunReport {
        run: RunSummary::of(run),
        steps,
        total_s: last_ms.map(secs),
        critical_path: plan.critical_path.clone(),
        critical_path_s,
        rpo_estimate_s,
        decisions,
    }
}

/// Render a report for the terminal.
pub fn render(r: &RunReport) -> String {
    let mut out = format!(
        "Run {} — {} of {}: {}\nrequested by {}: {}\n\n",
        r.run.id,
        r.run.runbook,
        r.run.environment,
        r.run.status.to_uppercase(),
        r.run.requested_by,
        r.run.reason
    );
    let w = r.steps.iter().map(|s| s.id.len()).max().unwrap_or(4).max(4);
    out.push_str(&format!(
        "  {:<w$}  {:<10}  {:>8}  {:>8}  DETAIL\n",
        "STEP", "STATUS", "START", "TOOK"
    ));
    for s in &r.steps {
        let f = |v: Option<f64>| v.map(|x| format!("{x:.1}s")).unwrap_or_else(|| "-".into());
        let mark = if s.critical { "*" } else { " " };
        let status = format!("{:?}", s.status).to_lowercase();
        let retries = if s.attempts > 1 {
            format!(" (attempt {})", s.attempts)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{mark} {:<w$}  {:<10}  {:>8}  {:>8}  {}{retries}\n",
            s.id,
            status,
            f(s.start_s),
            f(s.duration_s),
            s.message.as_deref().unwrap_or("")
        ));
    }
    out.push_str(&format!(
        "\ntotal {}; critical path (*) {}: {:.1}s",
        r.total_s
            .map(|t| format!("{t:.1}s"))
            .unwrap_or_else(|| "still running".into()),
        r.critical_path.join(" → "),
        r.critical_path_s
    ));
    if let Some(lag) = r.rpo_estimate_s {
        out.push_str(&format!(
            "\nreplication lag at promotion (RPO estimate): {lag:.1}s"
        ));
    }
    for d in r
        .decisions
        .iter()
        .filter(|d| d.kind != "start" && d.kind != "rpo_estimate")
    {
        out.push_str(&format!("\n{} by {}: {}", d.kind, d.who, d.why));
    }
    out.push('\n');
    out
}
