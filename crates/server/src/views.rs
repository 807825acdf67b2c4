//! What `pilotlight status`, `pilotlight plan` and the API show, computed once for both: which
//! region serves and the environment's phase, whether DR protection is in place, a plan with the
//! live value against the target of each step, and whether a failback may start. Reads only,
//! through the core's capability traits (`ReadinessFacts`, `Actuator::observe`).

use pilotlight_core::capability::{Actuator, ReadinessFacts};
use pilotlight_core::journal::RunRecord;
use pilotlight_core::model::{EnvironmentConfig, Routing};
use pilotlight_core::plan::{Action, Plan};
use pilotlight_core::readiness::{run_checks, Verdict};
use pilotlight_core::run::RunStatus;
use pilotlight_core::runbook::{Direction, Side};
use serde::Serialize;

/// The environment's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The primary serves, DR is at pilot light.
    Normal,
    /// A failover run is active.
    FailingOver,
    /// DR serves after a failover.
    FailedOver,
    /// A failback run is active.
    FailingBack,
    /// The last run did not finish cleanly, or live state and history disagree.
    Degraded,
}

impl Phase {
    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Normal => "normal",
            Phase::FailingOver => "failing over",
            Phase::FailedOver => "failed over",
            Phase::FailingBack => "failing back",
            Phase::Degraded => "degraded",
        }
    }
}

/// Which region serves, as live state shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Serving {
    /// Every database writer and DNS record is on the primary side.
    Primary,
    /// Every database writer and DNS record is on the DR side.
    Dr,
    /// Some on each side, or in between (a gradual shift).
    Mixed,
    /// Could not be read.
    Unknown,
}

/// Pure: the phase from the active run, the last finished run and what serves.
pub fn phase(active: Option<&RunRecord>, last: Option<&RunRecord>, serving: Serving) -> Phase {
    if let Some(a) = active {
        return match a.plan.direction {
            Direction::Failover => Phase::FailingOver,
            Direction::Failback => Phase::FailingBack,
        };
    }
    let expected = match last {
        Some(r) if r.status != RunStatus::Succeeded => return Phase::Degraded,
        Some(r) if r.plan.direction == Direction::Failover => Serving::Dr,
        _ => Serving::Primary,
    };
    match (serving, expected) {
        (s, e) if s == e => {
            if s == Serving::Dr {
                Phase::FailedOver
            } else {
                Phase::Normal
            }
        }
        _ => Phase::Degraded,
    }
}

/// The region that serves, if one side does.
pub fn serving_region(env: &EnvironmentConfig, serving: Serving) -> Option<String> {
    match serving {
        Serving::Primary => Some(env.regions.primary.clone()),
        Serving::Dr => Some(env.regions.dr.clone()),
        _ => None,
    }
}

fn side_name(s: Serving) -> &'static str {
    match s {
        Serving::Primary => "primary",
        Serving::Dr => "DR",
        Serving::Mixed => "mixed",
        Serving::Unknown => "unknown",
    }
}

/// Which side serves (database writers and DNS records, read live), with a line per resource.
pub async fn serving(
    env: &EnvironmentConfig,
    facts: &dyn ReadinessFacts,
    actuator: &dyn Actuator,
) -> (Serving, Vec<String>) {
    let mut sides = Vec::new();
    let mut details = Vec::new();
    for db in &env.rds_replicas {
        match facts.rds(db).await {
            Ok(f) => {
                let replica = |s: &Option<pilotlight_core::readiness::facts::DbInstanceState>| {
                    s.as_ref().is_some_and(|i| {
                        i.read_replica_source
                            .as_deref()
                            .is_some_and(|x| !x.is_empty())
                    })
                };
                let side = match (
                    f.primary.is_some() && !replica(&f.primary),
                    f.replica.is_some() && !replica(&f.replica),
                ) {
                    (true, false) => Serving::Primary,
                    (false, true) => Serving::Dr,
                    (true, true) => {
                        // After a failover the old primary is still writable until a failback
                        // fences it (scenario 9): DNS tells which side serves.
                        details.push(format!("database {}: both {} and {} are writable; the old primary must be fenced (the failback's first step) before anything else", db.name, db.primary_instance, db.replica_instance));
                        continue;
                    }
                    (false, false) => Serving::Unknown,
                };
                details.push(format!(
                    "database {}: writer on the {} side",
                    db.name,
                    side_name(side)
                ));
                sides.push(side);
            }
            Err(e) => {
                details.push(format!("database {}: cannot read ({})", db.name, e.message));
                sides.push(Serving::Unknown);
            }
        }
    }
    if let Some(zone) = &env.route53 {
        for r in &zone.records {
            let shift = |to: Side| Action::ShiftTraffic {
                zone_id: zone.zone_id.clone(),
                record_name: r.record_name.clone(),
                record_type: r.record_type.clone(),
                primary_set_identifier: r.primary_set_identifier.clone(),
                dr_set_identifier: r.dr_set_identifier.clone(),
                failover_routing: r.routing == Routing::Failover,
                to,
                weight: None,
                previous: None,
                soak: None,
            };
            let (action, to_dr) = (shift(Side::Primary), shift(Side::Dr));
            let side = match (
                actuator.observe(&action).await,
                actuator.observe(&to_dr).await,
            ) {
                (Ok(p), _) if p.done => Serving::Primary,
                (_, Ok(d)) if d.done => Serving::Dr,
                (Ok(p), _) => {
                    details.push(format!("record {}: {}", r.name, p.live));
                    Serving::Mixed
                }
                (Err(e), _) => {
                    details.push(format!("record {}: cannot read ({})", r.name, e.message));
                    Serving::Unknown
                }
            };
            details.push(format!("record {}: {} side", r.name, side_name(side)));
            sides.push(side);
        }
    }
    let all = |s: Serving| !sides.is_empty() && sides.iter().all(|x| *x == s);
    let overall = if all(Serving::Primary) {
        Serving::Primary
    } else if all(Serving::Dr) {
        Serving::Dr
    } else if sides.contains(&Serving::Unknown) {
        Serving::Unknown
    } else {
        Serving::Mixed
    };
    (overall, details)
}

/// Whether DR protection is in place: with the primary serving, the readiness check passes;
/// with DR serving, nothing protects the service until a failback reprotects it.
pub async fn protection(
    env: &EnvironmentConfig,
    facts: &dyn ReadinessFacts,
    serving: Serving,
) -> (bool, String) {
    match serving {
        Serving::Primary => {
            let report = run_checks(env, facts, env.check.concurrency).await;
            match report.verdict {
                Verdict::Ready => (true, "DR readiness passes".into()),
                other => (
                    false,
                    format!("DR readiness: {other:?}; see `pilotlight check`").to_lowercase(),
                ),
            }
        }
        Serving::Dr => (
            false,
            "DR serves with no standby; `pilotlight failback` restores protection".into(),
        ),
        _ => (
            false,
            "the serving side is mixed or unknown; see the details and `pilotlight runs`".into(),
        ),
    }
}

/// Why a failback must not start: the DR region does not serve (no database was promoted
/// there), so fencing the primary would take the service down.
pub async fn failback_refusal(
    env: &EnvironmentConfig,
    facts: &dyn ReadinessFacts,
) -> Option<String> {
    for db in &env.rds_replicas {
        match facts.rds(db).await {
            Ok(f) => {
                let dr_is_replica = f.replica.as_ref().is_some_and(|r| {
                    r.read_replica_source
                        .as_deref()
                        .is_some_and(|s| !s.is_empty())
                });
                if dr_is_replica {
                    return Some(format!(
                        "DR does not serve: {} in {} is still a read replica, so there is nothing to fail back (a failback fences the primary's database first). See `pilotlight status`",
                        db.replica_instance, env.regions.dr
                    ));
                }
            }
            Err(e) => {
                return Some(format!(
                    "cannot tell whether DR serves ({}): {}; fix access and try again",
                    e.message, e.hint
                ))
            }
        }
    }
    None
}

/// A plan with what each step would change: the `pilotlight plan --output json` document.
pub async fn plan_view(
    env: &EnvironmentConfig,
    plan: &Plan,
    facts: &dyn ReadinessFacts,
    actuator: &dyn Actuator,
) -> serde_json::Value {
    let mut rows = Vec::new();
    let mut blocking = Vec::new();
    for n in &plan.nodes {
        let live = match &n.action {
            Action::ReadinessGate => {
                let r = run_checks(env, facts, env.check.concurrency).await;
                if r.verdict != Verdict::Ready {
                    blocking.push(format!(
                        "{}: DR readiness is {:?} (see `pilotlight check`)",
                        n.id, r.verdict
                    ));
                }
                format!("{:?}", r.verdict).to_lowercase()
            }
            Action::LagGate {
                database,
                budget,
                replica,
                wait,
            } => {
                let lag = match env.rds_replicas.iter().find(|d| &d.name == database) {
                    Some(db) if *replica == Side::Primary => facts
                        .rds_replica_lag(&env.regions.primary, &db.primary_instance)
                        .await
                        .ok()
                        .flatten(),
                    Some(db) => facts.rds(db).await.ok().and_then(|f| f.lag_seconds),
                    None => None,
                };
                match lag {
                    Some(l) if l <= budget.as_secs_f64() => format!("lag {l:.1}s"),
                    _ if *wait => format!(
                        "{}; the step waits until it is within {}",
                        lag.map(|l| format!("lag {l:.1}s"))
                            .unwrap_or_else(|| "lag unknown".into()),
                        humantime::format_duration(*budget)
                    ),
                    Some(l) => {
                        blocking.push(format!("{}: lag {l:.1}s above the RPO budget; an unplanned failover needs --allow-data-loss", n.id));
                        format!("lag {l:.1}s")
                    }
                    None => {
                        blocking.push(format!(
                            "{}: lag unknown; an unplanned failover needs --allow-data-loss",
                            n.id
                        ));
                        "lag unknown".into()
                    }
                }
            }
            Action::Notify { .. } | Action::CommandHook { .. } | Action::ManualApproval { .. } => {
                "-".into()
            }
            other => match actuator.observe(other).await {
                Ok(o) if o.done => format!("{} (already in place)", o.live),
                Ok(o) => o.live,
                Err(e) => format!("cannot read: {}", e.message),
            },
        };
        rows.push(serde_json::json!({
            "id": n.id, "kind": n.kind.name(), "depends_on": n.depends_on,
            "live": live, "target": n.action.target_text(),
            "estimate_s": n.estimate.as_secs(), "critical": plan.critical_path.contains(&n.id),
        }));
    }
    serde_json::json!({
        "runbook": plan.runbook, "environment": plan.environment, "steps": rows,
        "critical_path": plan.critical_path, "critical_path_estimate_s": plan.critical_path_estimate.as_secs(),
        "max_parallel": plan.max_parallel,
        "blocking": blocking,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases() {
        use Serving::*;
        assert_eq!(phase(None, None, Primary), Phase::Normal);
        assert_eq!(
            phase(None, None, Dr),
            Phase::Degraded,
            "DR serves with no run recorded"
        );
        assert_eq!(phase(None, None, Mixed), Phase::Degraded);
    }
}
