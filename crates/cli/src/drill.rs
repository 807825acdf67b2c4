//! `pilotlight drill` and `pilotlight drills`. The drill itself is conducted by
//! `pilotlight_drill::conduct`: a full drill runs the existing failover and failback through this
//! process's executor (the same plans, journal and progress as `pilotlight failover` /
//! `failback`); an isolated drill makes copies in DR through `pilotlight_aws::copies`, verifies
//! and removes them (Ctrl-C or SIGTERM goes straight to the removal). RPO is measured by canaries
//! (`pilotlight_aws::canary`); the report is written as JSON, Markdown and HTML and stored in the
//! journal (`DrillReports`).
//! Exit codes: 0 the drill passed, 1 it failed, 2 it could not run.

use crate::runs::{self, FailoverArgs, Paths};
use crate::OutputFormat;
use anyhow::{Context, Result};
use pilotlight_core::journal::Journal;
use pilotlight_core::model::{EnvironmentConfig, Tier};
use pilotlight_drill::build::RunRecords;
use pilotlight_drill::canary::CanaryPlan;
use pilotlight_drill::conduct;
use pilotlight_drill::render;
use pilotlight_drill::schedule::{next_due, Due};
use pilotlight_drill::store::{DrillReports, DrillStart, DrillSummary, CONDUCTOR_CLI};
use pilotlight_drill::*;
use pilotlight_store::SqliteJournal;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
    /// Isolated mode: longest wait for one copy to verify, and for the copies to be gone.
    pub copy_timeout: Duration,
    /// Isolated mode: time between two checks of a copy.
    pub poll: Duration,
}

/// A drill id: `drill-` and a run id's time and random suffix (`drill-20261121-232909-e9bd`).
pub(crate) fn new_drill_id(now_ms: u64) -> String {
    conduct::drill_id(&pilotlight_executor::new_run_id(now_ms))
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

/// Earlier drills of the environment, oldest first.
pub(crate) async fn trend(journal: &SqliteJournal, environment: &str) -> Result<Vec<TrendPoint>> {
    Ok(conduct::trend(journal, environment).await?)
}

/// A drill's runs, run by this process's executor exactly as `pilotlight failover` / `failback`
/// run them (same plans, journal and progress output).
struct LocalRuns<'a> {
    paths: &'a Paths,
    config: PathBuf,
    by: String,
    journal: &'a SqliteJournal,
    environment: String,
}

#[async_trait::async_trait]
impl conduct::DrillRuns for LocalRuns<'_> {
    async fn run(&self, runbook: &str, key: &str, reason: &str) -> Result<RunRecords, String> {
        let args = FailoverArgs {
            config: self.config.clone(),
            reason: reason.to_string(),
            planned: false,
            allow_data_loss: None,
            override_readiness: None,
            yes: true,
            idempotency_key: Some(key.to_string()),
            by: self.by.clone(),
            output: OutputFormat::Table,
        };
        let code = match runbook {
            "failover" => runs::failover(self.paths, args).await,
            _ => runs::failback(self.paths, args).await,
        }
        .map_err(|e| e.to_string())?;
        let id = run_by_key(self.journal, &self.environment, key)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the {runbook} was refused (exit {code})"))?;
        records(self.journal, &id).await.map_err(|e| e.to_string())
    }
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
    for r in &report.resources {
        println!(
            "  {} {} in {}: {}",
            r.kind,
            r.name,
            r.region,
            if r.removed_at_ms.is_some() {
                "created and removed"
            } else {
                "LEFT BEHIND: delete it by hand"
            }
        );
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
    if args.mode == DrillMode::Full {
        if env.environment.tier == Tier::Production {
            eprintln!(
                "{}",
                conduct::DrillError::Production(env.environment.name.clone())
            );
            return Ok(2);
        }
        // Both plans must fit before anything is touched.
        for runbook in ["failover", "failback"] {
            if let Err(code) = runs::load_plan(paths, &env, runbook) {
                return Ok(code);
            }
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
    let unfinished = journal.unfinished_drills(&env.environment.name).await?;
    if !unfinished.is_empty() {
        for d in &unfinished {
            eprintln!("{}", unfinished_message(d, &args.config));
        }
        return Ok(2);
    }
    if args.mode == DrillMode::Full && !args.yes && !confirm(&env) {
        return Ok(2);
    }
    let w = runs::wire(&env);
    let started = runs::now_ms();
    let id = new_drill_id(started);
    // Recorded before anything changes, so a drill whose process dies is found and recovered.
    journal
        .drill_started(&DrillStart {
            id: id.clone(),
            environment: env.environment.name.clone(),
            mode: match args.mode {
                DrillMode::Full => Mode::Full,
                DrillMode::Isolated => Mode::Isolated,
            },
            requested_by: args.by.clone(),
            reason: "pilotlight drill".into(),
            started_at_ms: started,
            conductor: CONDUCTOR_CLI.into(),
        })
        .await?;
    let setup = conduct::DrillSetup {
        id,
        by: args.by.clone(),
        canaries: pilotlight_aws::canary::stores(&env, w.factory.clone(), w.caller.clone()),
        canary_plan: CanaryPlan {
            count: args.canaries.max(1),
            interval: args.canary_interval,
        },
        trend: trend(&journal, &env.environment.name).await?,
        clock: Arc::new(runs::now_ms),
        progress: Arc::new(|line: &str| eprintln!("{line}")),
        env: env.clone(),
    };
    let report = match args.mode {
        DrillMode::Full => {
            let local = LocalRuns {
                paths,
                config: args.config.clone(),
                by: args.by.clone(),
                journal: &journal,
                environment: env.environment.name.clone(),
            };
            match conduct::full(&setup, &local).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("drill {}: {e}", setup.id);
                    journal.drill_not_run(&setup.id).await?;
                    return Ok(2);
                }
            }
        }
        DrillMode::Isolated => {
            let copies =
                pilotlight_aws::copies::AwsCopies::new(w.factory.clone(), w.caller.clone());
            let timings = conduct::IsolatedTimings {
                ready_timeout: args.copy_timeout,
                cleanup_timeout: args.copy_timeout,
                poll: args.poll,
            };
            eprintln!("drill {}: isolated: nothing serving is touched; Ctrl-C stops it and removes what it made", setup.id);
            let (tx, rx) = tokio::sync::watch::channel(false);
            let stop = tokio::spawn(async move {
                crate::serve::interrupted().await;
                eprintln!("interrupted: removing the drill's copies (wait for the report)");
                let _ = tx.send(true);
            });
            let report = conduct::isolated(&setup, &copies, timings, rx).await;
            stop.abort();
            report
        }
    };
    finish(&journal, &args.report, &report).await
}

/// What to do about an unfinished drill that blocks a new one.
pub(crate) fn unfinished_message(d: &DrillStart, config: &Path) -> String {
    format!(
        "drill {} ({}, started {} by {}, conducted by the {}) has no report: it is still running \
         in another process, or that process stopped before the drill ended. Once you are sure \
         it is not running, end it with `pilotlight drill --config {} --recover {} --report DIR` \
         (removes what carries its id in DR and stores its report)",
        d.id,
        d.mode.name(),
        render::utc(d.started_at_ms),
        d.requested_by,
        if d.conductor == CONDUCTOR_CLI {
            "CLI"
        } else {
            "control service"
        },
        config.display(),
        d.id
    )
}

/// `pilotlight drill --recover DRILL_ID`: end an unfinished drill (its process stopped before
/// it ended): remove what carries its id in DR, write and store its interrupted report. Exit 0
/// when nothing was left behind, 1 when something was, 2 when there is no such unfinished drill.
pub async fn recover(paths: &Paths, args: DrillArgs, id: &str) -> Result<u8> {
    let env = match runs::load_config(&args.config) {
        Ok(e) => e,
        Err(code) => return Ok(code),
    };
    let journal = runs::open_journal(&paths.journal)?;
    let unfinished = journal.unfinished_drills(&env.environment.name).await?;
    let Some(start) = unfinished.into_iter().find(|d| d.id == id) else {
        match journal.drill(id).await {
            Ok(_) => eprintln!(
                "drill {id} has a report already: nothing to recover (see `pilotlight drills`)"
            ),
            Err(_) => eprintln!(
                "no unfinished drill {id} of {} in {}: list drills with `pilotlight drills`",
                env.environment.name,
                paths.journal.display()
            ),
        }
        return Ok(2);
    };
    let w = runs::wire(&env);
    let setup = conduct::DrillSetup {
        id: start.id.clone(),
        by: args.by.clone(),
        canaries: Vec::new(),
        canary_plan: CanaryPlan {
            count: 1,
            interval: args.canary_interval,
        },
        trend: trend(&journal, &env.environment.name).await?,
        clock: Arc::new(runs::now_ms),
        progress: Arc::new(|line: &str| eprintln!("{line}")),
        env: env.clone(),
    };
    let copies = pilotlight_aws::copies::AwsCopies::new(w.factory.clone(), w.caller.clone());
    let timings = conduct::IsolatedTimings {
        ready_timeout: args.copy_timeout,
        cleanup_timeout: args.copy_timeout,
        poll: args.poll,
    };
    let report = conduct::recover(&setup, &start, &copies, timings).await;
    finish(&journal, &args.report, &report).await?;
    Ok(if report.leftovers().is_empty() { 0 } else { 1 })
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
    let mut unfinished: Vec<DrillStart> = Vec::new();
    for e in &envs {
        unfinished.extend(journal.unfinished_drills(e).await?);
    }
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
                    &serde_json::json!({"drills": drills, "unfinished": unfinished, "next_due": due})
                )?
            );
        }
        OutputFormat::Table => {
            if drills.is_empty() && unfinished.is_empty() {
                println!("no drills in {}", paths.journal.display());
            }
            for d in &unfinished {
                println!(
                    "{}  {}  {:<8} UNFINISHED: no report (still running, or its process stopped: `pilotlight drill --recover {}`)  {}",
                    render::utc(d.started_at_ms),
                    d.id,
                    d.mode.name(),
                    d.id,
                    d.environment
                );
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
