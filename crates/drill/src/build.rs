//! Filling a report from journal records, pure: steps from a run's events (replayed with the
//! core's state machine), phases from steps, and the verdict from everything measured.

use crate::model::*;
use pilotlight_core::journal::{Decision, RunRecord, StoredEvent};
use pilotlight_core::run::{NodeStatus, RunState};

/// One run's record, events and decisions, as read from the journal.
#[derive(Debug, Clone)]
pub struct RunRecords {
    /// The run.
    pub run: RunRecord,
    /// Its events.
    pub events: Vec<StoredEvent>,
    /// Its decisions.
    pub decisions: Vec<Decision>,
}

fn status_name(s: NodeStatus) -> &'static str {
    match s {
        NodeStatus::Pending => "pending",
        NodeStatus::Running => "running",
        NodeStatus::AwaitingApproval => "awaiting_approval",
        NodeStatus::Succeeded => "succeeded",
        NodeStatus::Failed => "failed",
        NodeStatus::Skipped => "skipped",
    }
}

/// The steps of a run with offsets from `drill_start_ms`. Steps of a failback run are in the
/// [`Phase::Failback`] phase; the others by their kind. A journal that does not replay is
/// reported as far as it goes.
pub fn steps_of(records: &RunRecords, drill_start_ms: u64) -> Vec<StepTiming> {
    let plan = &records.run.plan;
    let mut state = RunState::new(plan);
    for e in &records.events {
        if state.apply(plan, &e.event).is_err() {
            break;
        }
    }
    let failback = records.run.runbook == "failback";
    plan.nodes
        .iter()
        .map(|n| {
            let s = &state.nodes[&n.id];
            let kind = n.kind.name().to_string();
            StepTiming {
                run_id: records.run.id.clone(),
                runbook: records.run.runbook.clone(),
                id: n.id.clone(),
                phase: if failback {
                    Phase::Failback
                } else {
                    Phase::of_step_kind(&kind)
                },
                kind,
                status: status_name(s.status).to_string(),
                attempts: s.attempts,
                start_offset_ms: s.started_at_ms.map(|t| t.saturating_sub(drill_start_ms)),
                duration_ms: match (s.started_at_ms, s.finished_at_ms) {
                    (Some(a), Some(b)) => Some(b.saturating_sub(a)),
                    _ => None,
                },
                error: (s.status == NodeStatus::Failed)
                    .then(|| s.message.clone().unwrap_or_else(|| "failed".into())),
                message: s.message.clone(),
            }
        })
        .collect()
}

/// The run as referenced from a report.
pub fn run_ref(records: &RunRecords) -> RunRef {
    RunRef {
        id: records.run.id.clone(),
        runbook: records.run.runbook.clone(),
        status: records.run.status.label().to_string(),
        started_at_ms: records.run.created_at_ms,
        finished_at_ms: records.run.finished_at_ms,
    }
}

/// The run's decisions as report lines.
pub fn decisions_of(records: &RunRecords) -> Vec<DecisionLine> {
    records
        .decisions
        .iter()
        .map(|d| DecisionLine {
            run_id: d.run_id.clone(),
            kind: d.kind.clone(),
            who: d.who.clone(),
            why: d.why.clone(),
            at_ms: d.at_ms,
        })
        .collect()
}

/// The timing of one phase: from the earliest start to the latest end of its steps (steps of a
/// phase may run in parallel). `None` when no step of the phase ran.
pub fn phase_from_steps(phase: Phase, steps: &[StepTiming]) -> Option<PhaseTiming> {
    let mine: Vec<&StepTiming> = steps
        .iter()
        .filter(|s| s.phase == phase && s.start_offset_ms.is_some())
        .collect();
    let start = mine.iter().filter_map(|s| s.start_offset_ms).min()?;
    let end = mine
        .iter()
        .filter_map(|s| Some(s.start_offset_ms? + s.duration_ms?))
        .max()
        .unwrap_or(start);
    Some(PhaseTiming {
        phase,
        start_offset_ms: Some(start),
        duration_ms: Some(end.saturating_sub(start)),
        counts_toward_rto: phase != Phase::Failback,
        note: format!(
            "{} step(s), first start to last end (steps of a phase run in parallel)",
            mine.len()
        ),
    })
}

/// Phases from steps for the phases a run measures (gates, database, compute, DNS, other,
/// failback); phases without steps are left out.
pub fn phases_from_steps(steps: &[StepTiming]) -> Vec<PhaseTiming> {
    [
        Phase::Gates,
        Phase::Database,
        Phase::Compute,
        Phase::Dns,
        Phase::Other,
        Phase::Failback,
    ]
    .into_iter()
    .filter_map(|p| phase_from_steps(p, steps))
    .collect()
}

/// The RTO: `from_ms` (the failure, or the failover's start when nothing was injected) to the
/// end of the failover run; pass `None` when the failover did not succeed (nothing recovered).
pub fn rto(from_ms: u64, failover_end_ms: Option<u64>, objective_ms: u64, note: &str) -> Rto {
    let measured_ms = failover_end_ms.map(|end| end.saturating_sub(from_ms));
    Rto {
        measured_ms,
        objective_ms,
        within_objective: measured_ms.is_some_and(|m| m <= objective_ms),
        note: note.to_string(),
    }
}

/// Decide pass or fail from everything in the report, and list every reason: the RTO missing or
/// over the objective; a phase over the whole objective; a store with data loss over the RPO
/// objective; a measured store whose canaries could not be written; a run that did not succeed;
/// a failed step; a resource left behind.
pub fn verdict(report: &DrillReport) -> Verdict {
    let mut reasons = Vec::new();
    let fmt = |ms: u64| format!("{:.1}s", ms as f64 / 1000.0);
    match report.rto.measured_ms {
        None => reasons.push(
            "RTO not measured: the failover did not succeed, so DR never took over".to_string(),
        ),
        Some(m) if m > report.objectives.rto_ms => reasons.push(format!(
            "RTO {} is over the objective of {}",
            fmt(m),
            fmt(report.objectives.rto_ms)
        )),
        Some(_) => {}
    }
    for s in &report.rpo {
        match (s.measured, s.loss_window_ms) {
            (true, Some(w)) if w > report.objectives.rpo_ms => reasons.push(format!(
                "{} {}: data-loss window {} is over the RPO objective of {} ({} of {} canaries arrived in DR)",
                s.kind,
                s.name,
                fmt(w),
                fmt(report.objectives.rpo_ms),
                s.canaries.iter().filter(|c| c.arrived).count(),
                s.canaries.len()
            )),
            (true, None) => reasons.push(format!(
                "{} {}: RPO not measured: {}",
                s.kind, s.name, s.note
            )),
            _ => {}
        }
    }
    for r in &report.runs {
        if r.status != "succeeded" {
            reasons.push(format!(
                "run {} ({}) ended {}; see `pilotlight runs show {}`",
                r.id, r.runbook, r.status, r.id
            ));
        }
    }
    for s in report.steps.iter().filter(|s| s.error.is_some()) {
        reasons.push(format!(
            "step {} of {} failed: {}",
            s.id,
            s.runbook,
            s.error.as_deref().unwrap_or("")
        ));
    }
    for r in report.leftovers() {
        reasons.push(format!(
            "LEFT BEHIND: {} {} in {} was created by the drill and not removed; delete it by hand",
            r.kind, r.name, r.region
        ));
    }
    Verdict {
        passed: reasons.is_empty(),
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(phase: Phase, start: u64, dur: u64) -> StepTiming {
        StepTiming {
            run_id: "r".into(),
            runbook: "failover".into(),
            id: format!("{}-{start}", phase.name()),
            kind: "x".into(),
            phase,
            status: "succeeded".into(),
            attempts: 1,
            start_offset_ms: Some(start),
            duration_ms: Some(dur),
            message: None,
            error: None,
        }
    }

    #[test]
    fn phase_spans_parallel_steps() {
        let steps = [
            step(Phase::Compute, 100, 50),
            step(Phase::Compute, 120, 200),
            step(Phase::Dns, 400, 10),
        ];
        let p = phase_from_steps(Phase::Compute, &steps).unwrap();
        assert_eq!((p.start_offset_ms, p.duration_ms), (Some(100), Some(220)));
        assert!(phase_from_steps(Phase::Database, &steps).is_none());
        let all = phases_from_steps(&steps);
        assert_eq!(
            all.iter().map(|p| p.phase).collect::<Vec<_>>(),
            [Phase::Compute, Phase::Dns]
        );
    }

    #[test]
    fn step_kinds_map_to_phases() {
        assert_eq!(Phase::of_step_kind("promote_rds_replica"), Phase::Database);
        assert_eq!(Phase::of_step_kind("scale_autoscaling"), Phase::Compute);
        assert_eq!(Phase::of_step_kind("shift_traffic"), Phase::Dns);
        assert_eq!(Phase::of_step_kind("replication_lag_gate"), Phase::Gates);
        assert_eq!(Phase::of_step_kind("notify"), Phase::Other);
    }

    #[test]
    fn rto_within_and_over() {
        assert!(rto(1000, Some(5000), 4000, "").within_objective);
        let over = rto(1000, Some(5001), 4000, "");
        assert_eq!(over.measured_ms, Some(4001));
        assert!(!over.within_objective);
        assert!(!rto(1000, None, 4000, "").within_objective);
    }
}
