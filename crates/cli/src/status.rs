//! `pilotlight status`: which region serves, the environment's phase, the last run, and whether
//! DR protection is in place. Reads only: live state from AWS, history from the journal.

use crate::runs::{load_config, open_journal, wire, Paths, Wiring};
use crate::OutputFormat;
use anyhow::Result;
use pilotlight_core::capability::{Actuator, ReadinessFacts};
use pilotlight_core::journal::{Journal, RunRecord};
use pilotlight_core::model::{EnvironmentConfig, Routing};
use pilotlight_core::plan::Action;
use pilotlight_core::readiness::{run_checks, Verdict};
use pilotlight_core::run::RunStatus;
use pilotlight_core::runbook::{Direction, Side};
use serde::Serialize;
use std::path::Path;

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
    fn label(self) -> &'static str {
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

#[derive(Debug, Serialize)]
struct Status {
    environment: String,
    serving: Serving,
    serving_region: Option<String>,
    phase: Phase,
    phase_label: &'static str,
    details: Vec<String>,
    last_run: Option<serde_json::Value>,
    active_run: Option<serde_json::Value>,
    protected: bool,
    protection: String,
}

fn run_summary(r: &RunRecord) -> serde_json::Value {
    serde_json::json!({
        "id": r.id, "runbook": r.runbook, "status": r.status.label(),
        "requested_by": r.requested_by, "reason": r.reason,
        "created_at_ms": r.created_at_ms, "finished_at_ms": r.finished_at_ms,
    })
}

/// `pilotlight status --config FILE`.
pub async fn run(paths: &Paths, config: &Path, output: OutputFormat) -> Result<u8> {
    let env = match load_config(config) {
        Ok(e) => e,
        Err(code) => return Ok(code),
    };
    let journal = open_journal(&paths.journal)?;
    let name = env.environment.name.clone();
    let active = journal.active_run(&name).await?;
    let last = journal
        .runs(Some(&name), 20)
        .await?
        .into_iter()
        .find(|r| r.status.is_final());
    let w = wire(&env);
    let (serving, details) = serving(&env, &w).await;
    let phase = phase(active.as_ref(), last.as_ref(), serving);
    let (protected, protection) = protection(&env, &w, serving).await;
    let status = Status {
        environment: name,
        serving,
        serving_region: match serving {
            Serving::Primary => Some(env.regions.primary.clone()),
            Serving::Dr => Some(env.regions.dr.clone()),
            _ => None,
        },
        phase,
        phase_label: phase.label(),
        details,
        last_run: last.as_ref().map(run_summary),
        active_run: active.as_ref().map(run_summary),
        protected,
        protection,
    };
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&status)?),
        OutputFormat::Table => {
            println!("Environment  {}", status.environment);
            println!(
                "Serving      {}",
                status
                    .serving_region
                    .clone()
                    .unwrap_or_else(|| format!("{:?}", status.serving).to_lowercase())
            );
            println!("Phase        {}", status.phase_label);
            let run_line = |r: &Option<serde_json::Value>| {
                r.as_ref()
                    .map(|r| {
                        format!("{} {} {}", r["id"], r["runbook"], r["status"]).replace('"', "")
                    })
                    .unwrap_or_else(|| "none".into())
            };
            println!("Active run   {}", run_line(&status.active_run));
            println!("Last run     {}", run_line(&status.last_run));
            println!(
                "Protection   {} ({})",
                if status.protected {
                    "in place"
                } else {
                    "NOT in place"
                },
                status.protection
            );
            for d in &status.details {
                println!("  {d}");
            }
        }
    }
    Ok(if status.protected && status.phase != Phase::Degraded {
        0
    } else {
        1
    })
}

/// Which side serves: database writers and DNS records, read live.
async fn serving(env: &EnvironmentConfig, w: &Wiring) -> (Serving, Vec<String>) {
    let mut sides = Vec::new();
    let mut details = Vec::new();
    for db in &env.rds_replicas {
        match w.facts.rds(db).await {
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
                w.actuator.observe(&action).await,
                w.actuator.observe(&to_dr).await,
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

fn side_name(s: Serving) -> &'static str {
    match s {
        Serving::Primary => "primary",
        Serving::Dr => "DR",
        Serving::Mixed => "mixed",
        Serving::Unknown => "unknown",
    }
}

/// Whether DR protection is in place: with the primary serving, the readiness check passes;
/// with DR serving, nothing protects the service until a failback reprotects it.
async fn protection(env: &EnvironmentConfig, w: &Wiring, serving: Serving) -> (bool, String) {
    match serving {
        Serving::Primary => {
            let report = run_checks(env, w.facts.as_ref(), env.check.concurrency).await;
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
