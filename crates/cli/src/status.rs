//! `pilotlight status`: which region serves, the environment's phase, the last run, and whether
//! DR protection is in place. Reads only: live state from AWS, history from the journal.

use crate::runs::{load_config, open_journal, wire, Paths};
use crate::OutputFormat;
use anyhow::Result;
use pilotlight_core::journal::{Journal, RunRecord};
use serde::Serialize;
use std::path::Path;

pub use pilotlight_server::views::{phase, Phase, Serving};

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
    let (serving, details) =
        pilotlight_server::views::serving(&env, w.facts.as_ref(), w.actuator.as_ref()).await;
    let phase = phase(active.as_ref(), last.as_ref(), serving);
    let (protected, protection) =
        pilotlight_server::views::protection(&env, w.facts.as_ref(), serving).await;
    let status = Status {
        environment: name,
        serving,
        serving_region: pilotlight_server::views::serving_region(&env, serving),
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
