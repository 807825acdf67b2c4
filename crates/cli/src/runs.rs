//! `pilotlight plan`, `failover`, `resume`, `runs`, `pause`, `abort`, `approve`: the durable
//! runs, wired to the AWS adapters, the SQLite journal and the executor.

use crate::report;
use crate::OutputFormat;
use anyhow::{anyhow, Context, Result};
use pilotlight_aws::actions::AwsActuator;
use pilotlight_aws::readiness::AwsReadiness;
use pilotlight_aws::retry::Caller;
use pilotlight_aws::ClientFactory;
use pilotlight_core::capability::Actuator;
use pilotlight_core::journal::{Journal, JournalError, RunOptions};
use pilotlight_core::model::EnvironmentConfig;
use pilotlight_core::plan::{build_plan, Action, Plan};
use pilotlight_core::run::{Event, RunStatus};
use pilotlight_core::runbook::{Direction, Runbook};
use pilotlight_executor::{
    Capabilities, ExecError, Executor, ExecutorSettings, StartRequest, SystemClock,
};
use pilotlight_server::leader::{GuardedActuator, LeaderGuard};
use pilotlight_store::SqliteJournal;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where runbooks and the journal are.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The journal (SQLite file).
    pub journal: PathBuf,
    /// Directory of runbooks (`<name>.toml`).
    pub runbooks: PathBuf,
}

/// Options of `pilotlight failover`.
#[derive(Debug, Clone)]
pub struct FailoverArgs {
    /// Environment config.
    pub config: PathBuf,
    /// Why.
    pub reason: String,
    /// Planned (zero-loss) rather than unplanned.
    pub planned: bool,
    /// Allow data loss, with a reason.
    pub allow_data_loss: Option<String>,
    /// Proceed although readiness fails, with a reason.
    pub override_readiness: Option<String>,
    /// Skip the typed confirmation.
    pub yes: bool,
    /// Same key, same run.
    pub idempotency_key: Option<String>,
    /// Who is acting.
    pub by: String,
    /// Output of the final report.
    pub output: OutputFormat,
}

pub(crate) fn load_config(path: &Path) -> Result<EnvironmentConfig, u8> {
    pilotlight_config::load(path).map_err(|e| {
        eprintln!("{e}");
        2
    })
}

/// Load and validate runbook `name` against `env`.
pub fn load_plan(paths: &Paths, env: &EnvironmentConfig, name: &str) -> Result<Plan, u8> {
    let file = paths.runbooks.join(format!("{name}.toml"));
    let runbook: Runbook = match pilotlight_config::load_runbook(&file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return Err(2);
        }
    };
    build_plan(env, &runbook).map_err(|errors| {
        eprintln!(
            "{}: the runbook does not fit the environment:",
            file.display()
        );
        for e in errors {
            eprintln!("  - {e}");
        }
        2
    })
}

pub(crate) fn open_journal(path: &Path) -> Result<Arc<SqliteJournal>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(Arc::new(SqliteJournal::open(path)?))
}

/// The AWS adapters of one environment.
pub(crate) struct Wiring {
    /// Readiness facts.
    pub(crate) facts: Arc<AwsReadiness>,
    /// The actuator (observe only, outside runs).
    pub(crate) actuator: Arc<AwsActuator>,
    /// The client factory the adapters share.
    pub(crate) factory: Arc<ClientFactory>,
    /// The retry layer the adapters share.
    pub(crate) caller: Caller,
}

pub(crate) fn wire(env: &EnvironmentConfig) -> Wiring {
    let factory = Arc::new(ClientFactory::new(env.aws.clone()));
    let caller = Caller::new(&env.aws);
    Wiring {
        facts: Arc::new(AwsReadiness::new(
            factory.clone(),
            caller.clone(),
            env.regions.clone(),
            env.check.metric_window,
        )),
        actuator: Arc::new(AwsActuator::new(factory.clone(), caller.clone())),
        factory,
        caller,
    }
}

/// The configured notifiers (`[notifications]`), or a logging one.
pub(crate) fn notifier(
    env: &EnvironmentConfig,
    w: &Wiring,
) -> Arc<dyn pilotlight_core::capability::Notifier> {
    pilotlight_notify::from_config(
        env.notifications.as_ref(),
        w.factory.clone(),
        w.caller.clone(),
    )
}

pub(crate) fn executor(env: &EnvironmentConfig, journal: Arc<dyn Journal>) -> Executor {
    executor_with(env, journal, None)
}

/// An executor whose actuator is guarded by the HA control service's lease when `guard` is
/// given: every action waits for a valid grant ([`GuardedActuator`]), and so does every attempt
/// of every AWS change it makes (the retry layer's send gate).
pub(crate) fn executor_with(
    env: &EnvironmentConfig,
    journal: Arc<dyn Journal>,
    guard: Option<LeaderGuard>,
) -> Executor {
    let w = wire(env);
    let actuator: Arc<dyn Actuator> = match guard {
        Some(g) => {
            let gated = w.caller.with_send_gate(Arc::new(g.clone()));
            Arc::new(GuardedActuator::new(
                Arc::new(AwsActuator::new(w.factory.clone(), gated)),
                g,
            ))
        }
        None => w.actuator.clone(),
    };
    let caps = Capabilities {
        notifier: notifier(env, &w),
        actuator,
        facts: w.facts,
    };
    Executor::new(
        journal,
        caps,
        Arc::new(env.clone()),
        Arc::new(SystemClock::new()),
        ExecutorSettings::default(),
    )
}

/// `pilotlight plan RUNBOOK`: the DAG with live value and target per step, the critical path,
/// and the gates that would block. Reads only.
pub async fn plan(paths: &Paths, config: &Path, runbook: &str, output: OutputFormat) -> Result<u8> {
    let env = match load_config(config) {
        Ok(e) => e,
        Err(code) => return Ok(code),
    };
    let plan = match load_plan(paths, &env, runbook) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let w = wire(&env);
    let view =
        pilotlight_server::views::plan_view(&env, &plan, w.facts.as_ref(), w.actuator.as_ref())
            .await;
    let rows = view["steps"].as_array().cloned().unwrap_or_default();
    let blocking: Vec<String> = view["blocking"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&view)?),
        OutputFormat::Table => {
            println!(
                "Plan: {} of {} ({} steps, at most {} at once)\n",
                plan.runbook,
                plan.environment,
                plan.nodes.len(),
                plan.max_parallel
            );
            for r in &rows {
                let mark = if r["critical"].as_bool().unwrap_or(false) {
                    "*"
                } else {
                    " "
                };
                println!(
                    "{mark} {}  [{}]",
                    r["id"].as_str().unwrap_or(""),
                    r["kind"].as_str().unwrap_or("")
                );
                let deps: Vec<&str> = r["depends_on"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                    .unwrap_or_default();
                if !deps.is_empty() {
                    println!("      after:  {}", deps.join(", "));
                }
                println!("      live:   {}", r["live"].as_str().unwrap_or(""));
                println!("      target: {}", r["target"].as_str().unwrap_or(""));
            }
            println!(
                "\ncritical path (*): {} — about {}",
                plan.critical_path.join(" → "),
                humantime::format_duration(plan.critical_path_estimate)
            );
            if blocking.is_empty() {
                println!("no gate would block");
            } else {
                println!("gates that would block:");
                for b in &blocking {
                    println!("  - {b}");
                }
            }
        }
    }
    Ok(0)
}

fn confirm(env: &EnvironmentConfig, what: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        eprintln!("refusing to {what} without confirmation: stdin is not a terminal; pass --yes to confirm in a script");
        return false;
    }
    let (from, to) = if what.contains("BACK") {
        (&env.regions.dr, &env.regions.primary)
    } else {
        (&env.regions.primary, &env.regions.dr)
    };
    eprint!(
        "This will {what} environment {} ({from} → {to}).\nType the environment name to confirm: ",
        env.environment.name
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    if line.trim() != env.environment.name {
        eprintln!(
            "confirmation did not match `{}`: nothing was done",
            env.environment.name
        );
        return false;
    }
    true
}

/// `pilotlight failover`: start (or resume) the failover run and drive it to its end.
pub async fn failover(paths: &Paths, args: FailoverArgs) -> Result<u8> {
    start_and_drive(paths, args, "failover", "FAIL OVER").await
}

/// `pilotlight failback`: start (or resume) the failback run and drive it to its end. Always
/// planned (zero data loss); refused unless DR serves.
pub async fn failback(paths: &Paths, args: FailoverArgs) -> Result<u8> {
    start_and_drive(paths, args, "failback", "FAIL BACK").await
}

/// Why a failback must not start (DR does not serve).
async fn failback_refusal(env: &EnvironmentConfig) -> Option<String> {
    let w = wire(env);
    pilotlight_server::views::failback_refusal(env, w.facts.as_ref()).await
}

async fn start_and_drive(
    paths: &Paths,
    args: FailoverArgs,
    runbook: &str,
    verb: &str,
) -> Result<u8> {
    let env = match load_config(&args.config) {
        Ok(e) => e,
        Err(code) => return Ok(code),
    };
    let plan = match load_plan(paths, &env, runbook) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let journal = open_journal(&paths.journal)?;
    let _lock = match driver_lock(&paths.journal, &env.environment.name)? {
        Ok(l) => l,
        Err(msg) => {
            eprintln!("{msg}");
            return Ok(2);
        }
    };
    let exec = executor(&env, journal.clone());
    // Running failover again after an interruption resumes the interrupted run.
    if let Some(active) = journal.active_run(&env.environment.name).await? {
        if active.runbook != plan.runbook {
            eprintln!(
                "run {} ({}) is active for {}: finish, resume (`pilotlight resume {}`) or abort it first",
                active.id, active.runbook, env.environment.name, active.id
            );
            return Ok(2);
        }
        eprintln!(
            "resuming run {} (started by {}: {})",
            active.id, active.requested_by, active.reason
        );
        return drive(&exec, journal.as_ref(), &active.id, args.output).await;
    }
    if plan.direction == Direction::Failback {
        if let Some(why) = failback_refusal(&env).await {
            eprintln!("refusing to fail back: {why}");
            return Ok(2);
        }
    }
    if !args.yes && !confirm(&env, verb) {
        return Ok(2);
    }
    let key = args
        .idempotency_key
        .clone()
        .unwrap_or_else(|| format!("cli-{}", pilotlight_executor::new_run_id(now_ms())));
    let options = RunOptions {
        planned: args.planned,
        allow_data_loss: args.allow_data_loss,
        override_readiness: args.override_readiness,
    };
    let started = match exec
        .start(StartRequest {
            plan,
            requested_by: args.by,
            reason: args.reason,
            idempotency_key: key,
            options,
        })
        .await
    {
        Ok(s) => s,
        Err(ExecError::Journal(e @ JournalError::ActiveRunExists { .. })) => {
            eprintln!("{e}");
            return Ok(2);
        }
        Err(e) => return Err(e.into()),
    };
    if !started.created {
        eprintln!(
            "the same request was already made: following run {}",
            started.run.id
        );
    } else {
        eprintln!("run {} started", started.run.id);
    }
    let code = drive(&exec, journal.as_ref(), &started.run.id, args.output).await?;
    Ok(post_check_if_done(&env, &started.run.plan, code).await)
}

/// After a successful run, read every changed target once more and say whether the end state
/// holds (exit code 1 if not). Reads only.
async fn post_check_if_done(env: &EnvironmentConfig, plan: &Plan, code: u8) -> u8 {
    if code != 0 {
        return code;
    }
    let w = wire(env);
    let (mut wrong, mut unreadable, mut checked) = (0, 0, 0);
    eprintln!("post-check: reading every target again");
    // Only the last node acting on each target (in a region) states its end state: a failback
    // fences, retires and re-creates the same database, and shifts the same record by steps.
    let key = |n: &pilotlight_core::plan::PlanNode| {
        n.target
            .as_ref()
            .map(|t| (t.clone(), n.action.region().map(str::to_string)))
    };
    let superseded = |i: usize| {
        let k = key(&plan.nodes[i]);
        k.is_some() && plan.nodes[i + 1..].iter().any(|later| key(later) == k)
    };
    for (i, n) in plan.nodes.iter().enumerate() {
        if matches!(
            n.action,
            Action::ReadinessGate
                | Action::LagGate { .. }
                | Action::Notify { .. }
                | Action::CommandHook { .. }
                | Action::ManualApproval { .. }
        ) || superseded(i)
        {
            continue;
        }
        checked += 1;
        // A read that AWS throttles is tried again (the AWS layer already retried each call).
        let mut attempt = 1;
        let observed = loop {
            match w.actuator.observe(&n.action).await {
                Err(e) if e.is_retryable() && attempt < 4 => {
                    let delay = pilotlight_core::backoff::full_jitter(
                        std::time::Duration::from_millis(500),
                        std::time::Duration::from_secs(5),
                        attempt,
                        rand::random::<f64>(),
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => break other,
            }
        };
        match observed {
            Ok(o) if o.done => eprintln!("  ✔ {}: {}", n.id, o.live),
            Ok(o) => {
                wrong += 1;
                eprintln!(
                    "  ✘ {}: {} (expected: {})",
                    n.id,
                    o.live,
                    n.action.target_text()
                );
            }
            Err(e) => {
                unreadable += 1;
                eprintln!("  ? {}: cannot read: {} ({})", n.id, e.message, e.hint);
            }
        }
    }
    if wrong == 0 && unreadable == 0 {
        eprintln!("post-check passed: {checked} targets in their final state");
        return 0;
    }
    if wrong > 0 {
        eprintln!("post-check FAILED: {wrong} of {checked} targets are not in their final state; inspect them before relying on DR");
    }
    if unreadable > 0 {
        eprintln!("post-check incomplete: {unreadable} of {checked} targets could not be read; check them with `pilotlight plan` or the AWS console");
    }
    1
}

/// `pilotlight resume RUN_ID`.
pub async fn resume(
    paths: &Paths,
    config: &Path,
    run_id: &str,
    by: &str,
    output: OutputFormat,
) -> Result<u8> {
    let env = match load_config(config) {
        Ok(e) => e,
        Err(code) => return Ok(code),
    };
    let journal = open_journal(&paths.journal)?;
    let run = match journal.run(run_id).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return Ok(2);
        }
    };
    if run.environment != env.environment.name {
        eprintln!(
            "run {run_id} belongs to environment {}, not {}: pass its config",
            run.environment, env.environment.name
        );
        return Ok(2);
    }
    let _lock = match driver_lock(&paths.journal, &env.environment.name)? {
        Ok(l) => l,
        Err(msg) => {
            eprintln!("{msg}");
            return Ok(2);
        }
    };
    let exec = executor(&env, journal.clone());
    if run.status == RunStatus::Paused {
        exec.control(
            run_id,
            Event::Resumed {
                by: by.to_string(),
                at_ms: now_ms(),
            },
        )
        .await?;
    }
    drive(&exec, journal.as_ref(), run_id, output).await
}

/// An exclusive lock held while this process drives a run of the environment, so that two
/// processes on this host never drive the same run (a second `failover` is refused instead).
pub struct DriverLock {
    _file: std::fs::File,
}

/// Take the driver lock of `environment` next to the journal, or say who holds it.
pub fn driver_lock(journal: &Path, environment: &str) -> Result<Result<DriverLock, String>> {
    let path = PathBuf::from(format!("{}.{environment}.lock", journal.display()));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the driver lock {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            let _ = file.set_len(0);
            let _ = (&file).write_all(std::process::id().to_string().as_bytes());
            Ok(Ok(DriverLock { _file: file }))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            Ok(Err(format!(
                "another pilotlight process (pid {}) is driving a run of {environment}; follow it with `pilotlight runs`, or stop that process first",
                pid.trim()
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(anyhow!("cannot lock {}: {e}", path.display())),
    }
}

async fn drive(
    exec: &Executor,
    journal: &SqliteJournal,
    run_id: &str,
    output: OutputFormat,
) -> Result<u8> {
    let progress = tokio::spawn(crate::progress::follow(
        exec.journal().clone(),
        run_id.to_string(),
    ));
    let result = tokio::select! {
        r = exec.drive(run_id) => r,
        _ = tokio::signal::ctrl_c() => {
            progress.abort();
            eprintln!("\ninterrupted: run {run_id} is kept in the journal; continue it with `pilotlight resume {run_id}`");
            return Ok(130);
        }
    };
    // Let the progress view print the last events.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    progress.abort();
    let status = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("run {run_id} stopped; once the cause is fixed, continue it with `pilotlight resume {run_id}`");
            return Ok(1);
        }
    };
    let run = journal.run(run_id).await?;
    let events = journal.events(run_id).await?;
    let decisions = journal.decisions(run_id).await?;
    let rep = report::build(&run, &events, decisions);
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&rep)?),
        OutputFormat::Table => print!("\n{}", report::render(&rep)),
    }
    Ok(match status {
        RunStatus::Succeeded => 0,
        RunStatus::Paused => {
            eprintln!("run {run_id} is paused; continue it with `pilotlight resume {run_id}`");
            1
        }
        _ => 1,
    })
}

/// `pilotlight runs`.
pub async fn list(paths: &Paths, output: OutputFormat) -> Result<u8> {
    let journal = open_journal(&paths.journal)?;
    let runs = journal.runs(None, 100).await?;
    match output {
        OutputFormat::Json => {
            let v: Vec<_> = runs.iter().map(report::RunSummary::of).collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        OutputFormat::Table => {
            if runs.is_empty() {
                println!("no runs in {}", paths.journal.display());
            }
            for r in &runs {
                let took = r
                    .finished_at_ms
                    .map(|f| format!("{:.1}s", f.saturating_sub(r.created_at_ms) as f64 / 1000.0))
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{}  {:<9} {:<10} {:>8}  {}  by {}: {}",
                    r.id,
                    r.runbook,
                    r.status.label(),
                    took,
                    r.environment,
                    r.requested_by,
                    r.reason
                );
            }
        }
    }
    Ok(0)
}

/// `pilotlight runs show ID`.
pub async fn show(paths: &Paths, run_id: &str, output: OutputFormat) -> Result<u8> {
    let journal = open_journal(&paths.journal)?;
    let run = match journal.run(run_id).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return Ok(2);
        }
    };
    let events = journal.events(run_id).await?;
    let decisions = journal.decisions(run_id).await?;
    let rep = report::build(&run, &events, decisions);
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&rep)?),
        OutputFormat::Table => print!("{}", report::render(&rep)),
    }
    Ok(0)
}

/// `pilotlight pause|abort|approve`: record a control event for a run's driver.
pub async fn control(paths: &Paths, run_id: &str, event: Event) -> Result<u8> {
    let journal = open_journal(&paths.journal)?;
    match pilotlight_executor::control(journal.as_ref(), run_id, event).await {
        Ok(()) => {
            eprintln!("recorded for run {run_id}");
            Ok(0)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(2)
        }
    }
}

/// Now, in ms since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Who is acting: `--by`, else $USER.
pub fn operator(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
}
