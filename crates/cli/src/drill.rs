//! `pilotlight drill` and `pilotlight drills`: a DR drill run with the existing failover and
//! failback (the same plans, executor and journal as `pilotlight failover` / `failback`), timed
//! throughout, with RPO measured by canaries (`pilotlight_aws::canary`), reported through
//! `pilotlight-drill` (JSON, Markdown, HTML) and stored in the journal (`DrillReports`).
//! Exit codes: 0 the drill passed, 1 it failed, 2 it could not run.

use crate::runs::{self, FailoverArgs, Paths};
use crate::OutputFormat;
use anyhow::{Context, Result};
use pilotlight_core::journal::Journal;
use pilotlight_core::model::{EnvironmentConfig, Tier};
use pilotlight_drill::build::{self, RunRecords};
use pilotlight_drill::canary::{self, CanaryPlan};
use pilotlight_drill::render;
use pilotlight_drill::schedule::{next_due, Due};
use pilotlight_drill::store::{DrillReports, DrillSummary};
use pilotlight_drill::*;
use pilotlight_store::SqliteJournal;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Drill modes of the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DrillMode {
    /// The real failover and failback (a non-production environment).
    Full,
    /// Non-disruptive (production): copies under drill names, verified and removed.
    Isolated,
}

/// Options of `pilotlight drill`.
#[derive(Debug, Clone)]
pub struct DrillArgs {
    /// Environment config.
    pub config: PathBuf,
    /// Mode.
    pub mode: DrillMode,
    /// Directory the report files are written to.
    pub report: PathBuf,
    /// Skip the typed confirmation.
    pub yes: bool,
    /// Who runs it.
    pub by: String,
    /// Canaries per store.
    pub canaries: u32,
    /// Time between canaries.
    pub canary_interval: Duration,
}

/// A drill id: `drill-` and a run id's time and random suffix (`drill-20261121-232909-e9bd`).
pub(crate) fn new_drill_id(now_ms: u64) -> String {
    let run_id = pilotlight_executor::new_run_id(now_ms);
    format!("drill-{}", run_id.strip_prefix("run-").unwrap_or(&run_id))
}

fn confirm(env: &EnvironmentConfig) -> bool {
    if !std::io::stdin().is_terminal() {
        eprintln!("refusing to run a full drill without confirmation: stdin is not a terminal; pass --yes to confirm in a script");
        return false;
    }
    eprint!(
        "A full drill FAILS OVER environment {} ({} → {}) and FAILS BACK.\nType the environment name to confirm: ",
        env.environment.name, env.regions.primary, env.regions.dr
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    line.trim() == env.environment.name
}

pub(crate) async fn records(journal: &SqliteJournal, run_id: &str) -> Result<RunRecords> {
    Ok(RunRecords {
        run: journal.run(run_id).await?,
        events: journal.events(run_id).await?,
        decisions: journal.decisions(run_id).await?,
    })
}

/// The run of `environment` created with idempotency key `key`, if any.
async fn run_by_key(
    journal: &SqliteJournal,
    environment: &str,
    key: &str,
) -> Result<Option<String>> {
    Ok(journal
        .runs(Some(environment), 50)
        .await?
        .into_iter()
        .find(|r| r.idempotency_key == key)
        .map(|r| r.id))
}

pub(crate) fn tier_name(t: Tier) -> &'static str {
    match t {
        Tier::Production => "production",
        Tier::Staging => "staging",
        Tier::Development => "development",
    }
}

/// Earlier drills of the environment, oldest first.
pub(crate) async fn trend(journal: &SqliteJournal, environment: &str) -> Result<Vec<TrendPoint>> {
    let mut earlier = journal.drills(Some(environment), 20).await?;
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

/// The databases Pilotlight cannot put a canary in, with the lag at the lag gate as an estimate.
pub(crate) fn database_stores(env: &EnvironmentConfig, lag: Option<f64>) -> Vec<StoreRpo> {
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

/// Write the report files and store the report; print a summary. Returns the exit code.
pub(crate) async fn finish(
    journal: &SqliteJournal,
    dir: &Path,
    report: &DrillReport,
) -> Result<u8> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, text) in [
        ("report.json", render::render_json(report)),
        ("report.md", render::render_markdown(report)),
        ("report.html", render::render_html(report)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    journal.save_drill(report).await?;
    println!(
        "\nDrill {} ({}) of {}: {}",
        report.id,
        report.mode.name(),
        report.environment,
        if report.verdict.passed {
            "PASSED"
        } else {
            "FAILED"
        }
    );
    println!(
        "RTO {} (objective {}); worst data-loss window {} (objective {})",
        render::secs(report.rto.measured_ms),
        render::secs(Some(report.objectives.rto_ms)),
        render::secs(report.worst_rpo_ms()),
        render::secs(Some(report.objectives.rpo_ms))
    );
    for s in &report.rpo {
        println!("  {} {}: {}", s.kind, s.name, s.note);
    }
    for r in &report.verdict.reasons {
        println!("  FAIL: {r}");
    }
    println!("report: {}", dir.join("report.html").display());
    Ok(if report.verdict.passed { 0 } else { 1 })
}

/// `pilotlight drill`.
pub async fn drill(paths: &Paths, args: DrillArgs) -> Result<u8> {
    let env = match runs::load_config(&args.config) {
        Ok(e) => e,
        Err(code) => return Ok(code),
    };
    if args.mode == DrillMode::Isolated {
        eprintln!("isolated drills are not implemented yet: nothing was done. Run a full drill in a non-production environment (`--mode full`), see docs/drills.md");
        return Ok(2);
    }
    if env.environment.tier == Tier::Production {
        eprintln!(
            "refusing a full drill of {}: it is a production environment and a full drill fails it over for real; use --mode isolated",
            env.environment.name
        );
        return Ok(2);
    }
    // Both plans must fit before anything is touched.
    for runbook in ["failover", "failback"] {
        if let Err(code) = runs::load_plan(paths, &env, runbook) {
            return Ok(code);
        }
    }
    let journal = runs::open_journal(&paths.journal)?;
    if let Some(active) = journal.active_run(&env.environment.name).await? {
        eprintln!(
            "run {} ({}) is active for {}: finish, resume or abort it before a drill",
            active.id, active.runbook, env.environment.name
        );
        return Ok(2);
    }
    if !args.yes && !confirm(&env) {
        return Ok(2);
    }
    let started = runs::now_ms();
    let id = new_drill_id(started);
    tracing::info!(drill_id = %id, environment = %env.environment.name, "drill started");
    eprintln!("drill {id}: writing canaries in {}", env.regions.primary);
    let w = runs::wire(&env);
    let stores = pilotlight_aws::canary::stores(&env, w.factory.clone(), w.caller.clone());
    let plan = CanaryPlan {
        count: args.canaries.max(1),
        interval: args.canary_interval,
    };
    let written = canary::write_series(&stores, &id, plan, runs::now_ms).await;
    let failure_at = runs::now_ms();
    eprintln!("drill {id}: failure point; failing over");
    let run_args = |runbook: &str| FailoverArgs {
        config: args.config.clone(),
        reason: format!("DR drill {id} ({runbook})"),
        planned: false,
        allow_data_loss: None,
        override_readiness: None,
        yes: true,
        idempotency_key: Some(format!("{id}-{runbook}")),
        by: args.by.clone(),
        output: OutputFormat::Table,
    };
    let failover_code = runs::failover(paths, run_args("failover")).await?;
    let failover_id =
        run_by_key(&journal, &env.environment.name, &format!("{id}-failover")).await?;
    let Some(failover_id) = failover_id else {
        eprintln!(
            "drill {id}: the failover did not start (exit {failover_code}); nothing else was done"
        );
        return Ok(2);
    };
    let failover = records(&journal, &failover_id).await?;
    eprintln!("drill {id}: reading canaries in {}", env.regions.dr);
    let mut rpo = canary::read_back(&written, failure_at).await;
    let mut runs_done = vec![failover];
    let mut limitations = Vec::new();
    if failover_code == 0 {
        eprintln!("drill {id}: failing back");
        runs::failback(paths, run_args("failback")).await?;
        match run_by_key(&journal, &env.environment.name, &format!("{id}-failback")).await? {
            Some(fb) => runs_done.push(records(&journal, &fb).await?),
            None => limitations.push("the failback did not start (refused); the environment is left failed over: see `pilotlight status`".to_string()),
        }
    } else {
        limitations.push(format!(
            "the failover did not succeed, so no failback was attempted: the environment is left as the run left it; see `pilotlight runs show {failover_id}` and `pilotlight status`"
        ));
    }
    let finished = runs::now_ms();
    let mut steps = Vec::new();
    let mut decisions = Vec::new();
    for r in &runs_done {
        steps.extend(build::steps_of(r, started));
        decisions.extend(build::decisions_of(r));
    }
    let lag = runs_done[0]
        .decisions
        .iter()
        .rev()
        .find(|d| d.kind == "rpo_estimate")
        .and_then(|d| d.detail["lag_seconds"].as_f64());
    rpo.extend(database_stores(&env, lag));
    for s in rpo.iter().filter(|s| !s.measured) {
        limitations.push(format!("{} {}: {}", s.kind, s.name, s.note));
    }
    if env.aws.endpoint.is_some() {
        limitations.push("run against an emulator endpoint: replication between regions is the sandbox replicator's (not AWS's) and resources change state at once, so the timings are not those of AWS".to_string());
    }
    let mut phases = vec![
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
            duration_ms: Some(runs_done[0].run.created_at_ms.saturating_sub(failure_at)),
            counts_toward_rto: true,
            note: "failure point → failover run created (no person in the loop in a drill)".into(),
        },
    ];
    phases.extend(build::phases_from_steps(&steps));
    let mut report = DrillReport {
        version: REPORT_VERSION,
        id: id.clone(),
        mode: Mode::Full,
        environment: env.environment.name.clone(),
        tier: tier_name(env.environment.tier).into(),
        primary_region: env.regions.primary.clone(),
        dr_region: env.regions.dr.clone(),
        requested_by: args.by.clone(),
        started_at_ms: started,
        finished_at_ms: finished,
        failure_at_ms: Some(failure_at),
        objectives: Objectives {
            rto_ms: env.objectives.rto.as_millis() as u64,
            rpo_ms: env.objectives.rpo.as_millis() as u64,
        },
        phases,
        // Recovered only if the failover succeeded: a failed run's end is not a recovery.
        rto: build::rto(
            failure_at,
            runs_done[0]
                .run
                .finished_at_ms
                .filter(|_| runs_done[0].run.status == pilotlight_core::run::RunStatus::Succeeded),
            env.objectives.rto.as_millis() as u64,
            "failure point → failover run finished (the failback is not part of the RTO)",
        ),
        rpo,
        runs: runs_done.iter().map(build::run_ref).collect(),
        steps,
        decisions,
        resources: Vec::new(),
        limitations,
        verdict: Verdict {
            passed: false,
            reasons: Vec::new(),
        },
        trend: trend(&journal, &env.environment.name).await?,
    };
    report.verdict = build::verdict(&report);
    finish(&journal, &args.report, &report).await
}

fn print_due(environment: &str, drills: &[DrillSummary], now: u64) {
    match next_due(drills, now) {
        Due::NeverPassed => println!(
            "{environment}: NO PASSING DRILL ON RECORD — a drill is due now (at least one a year)"
        ),
        Due::At(at) => println!(
            "{environment}: next annual drill due by {} (12 months after the last passing one)",
            render::utc(at)
        ),
        Due::Overdue(at) => println!(
            "{environment}: ANNUAL DRILL OVERDUE since {} — run `pilotlight drill` now",
            render::utc(at)
        ),
    }
}

/// `pilotlight drills`: stored drills, newest first, and when the next annual drill is due.
pub async fn list(paths: &Paths, config: Option<&Path>, output: OutputFormat) -> Result<u8> {
    let environment = match config {
        Some(c) => match runs::load_config(c) {
            Ok(e) => Some(e.environment.name),
            Err(code) => return Ok(code),
        },
        None => None,
    };
    let journal = runs::open_journal(&paths.journal)?;
    let drills = journal.drills(environment.as_deref(), 1000).await?;
    let now = runs::now_ms();
    let mut envs: Vec<String> = drills.iter().map(|d| d.environment.clone()).collect();
    if let Some(e) = &environment {
        envs.push(e.clone());
    }
    envs.sort();
    envs.dedup();
    match output {
        OutputFormat::Json => {
            let due: serde_json::Map<String, serde_json::Value> = envs
                .iter()
                .map(|e| {
                    let mine: Vec<DrillSummary> = drills
                        .iter()
                        .filter(|d| &d.environment == e)
                        .cloned()
                        .collect();
                    let v = match next_due(&mine, now) {
                        Due::NeverPassed => serde_json::json!({"due_at_ms": null, "overdue": true}),
                        Due::At(at) => serde_json::json!({"due_at_ms": at, "overdue": false}),
                        Due::Overdue(at) => serde_json::json!({"due_at_ms": at, "overdue": true}),
                    };
                    (e.clone(), v)
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({"drills": drills, "next_due": due})
                )?
            );
        }
        OutputFormat::Table => {
            if drills.is_empty() {
                println!("no drills in {}", paths.journal.display());
            }
            for d in &drills {
                println!(
                    "{}  {}  {:<8} {:<6} RTO {:>8}  RPO {:>8}  {}",
                    render::utc(d.started_at_ms),
                    d.id,
                    d.mode.name(),
                    if d.passed { "pass" } else { "FAIL" },
                    render::secs(d.rto_ms),
                    render::secs(d.rpo_ms),
                    d.environment
                );
            }
            println!();
            for e in &envs {
                let mine: Vec<DrillSummary> = drills
                    .iter()
                    .filter(|d| &d.environment == e)
                    .cloned()
                    .collect();
                print_due(e, &mine, now);
            }
        }
    }
    let overdue = envs.iter().any(|e| {
        let mine: Vec<DrillSummary> = drills
            .iter()
            .filter(|d| &d.environment == e)
            .cloned()
            .collect();
        !matches!(next_due(&mine, now), Due::At(_))
    });
    Ok(if overdue { 1 } else { 0 })
}
