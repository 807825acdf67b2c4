//! `pilotlight gameday`: a regional failure injected in the sandbox, and the control service's
//! own health watch and automatic trigger left to detect it and fail over, timed from the
//! injection to DR serving. The control loop is the one `pilotlight serve` runs
//! (`pilotlight_server::Control`), started in this process; the failure is injected through the
//! emulator's HTTP control API (`/__emulator/faults`, `/__emulator/health-checks/{id}`), so the
//! command refuses any endpoint that is not the sandbox emulator. Everything it injects is
//! removed at the end, also when it fails or is interrupted (Ctrl-C, SIGTERM), and the removal is
//! checked against the emulator's lists. The report is a drill report (mode `gameday`).
//! Exit codes: 0 the game day passed, 1 it failed, 2 it could not run.

use crate::drill::{finish, new_drill_id, records, trend};
use crate::runs::{self, Paths};
use crate::serve::{interrupted, Probes};
use anyhow::{anyhow, bail, Context, Result};
use pilotlight_core::health::TriggerMode;
use pilotlight_core::health::{HealthState, ProbeSample};
use pilotlight_core::journal::{HealthEvent, Journal};
use pilotlight_core::model::{EnvironmentConfig, ProbeKind, RunsIn};
use pilotlight_core::readiness::Verdict as ReadinessVerdict;
use pilotlight_core::run::RunStatus;
use pilotlight_drill::build;
use pilotlight_drill::canary::{self, CanaryPlan};
use pilotlight_drill::conduct::tier_name;
use pilotlight_drill::*;
use pilotlight_server::{Control, ControlDeps, ControlSettings, ProbeRunner};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Services whose requests signed for the primary region the outage answers with 503. Route 53
/// is left out: it is a global service whose API is signed for us-east-1 whatever region fails,
/// and its data plane is built to survive a regional failure (a Route 53 outage is the separate
/// `dns_control_plane_down` scenario).
pub const REGIONAL_SERVICES: &[&str] = &[
    "dynamodb",
    "s3",
    "kms",
    "rds",
    "ecs",
    "autoscaling",
    "monitoring",
    "sns",
    "sqs",
    "ec2",
    "elasticloadbalancing",
    "lambda",
    "secretsmanager",
    "logs",
    "events",
];

/// Options of `pilotlight gameday`.
#[derive(Debug, Clone)]
pub struct GamedayArgs {
    /// Environment config (the sandbox's, with a `[health]` section).
    pub config: PathBuf,
    /// Directory the report files are written to.
    pub report: PathBuf,
    /// Who runs it.
    pub by: String,
    /// How long to wait for the failure to be declared and the failover to finish.
    pub timeout: Duration,
    /// Canaries per store.
    pub canaries: u32,
    /// Time between canaries.
    pub canary_interval: Duration,
}

/// The emulator's HTTP control API (`/__emulator/…` on the sandbox endpoint).
#[derive(Clone)]
struct EmulatorControl {
    base: String,
    http: reqwest::Client,
}

impl EmulatorControl {
    /// Connects to `endpoint`'s control API; an error says why it is not the sandbox emulator.
    async fn connect(endpoint: &str) -> Result<EmulatorControl> {
        let base = endpoint.trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        let url = format!("{base}/__emulator/faults");
        let answer = http
            .get(&url)
            .send()
            .await
            .map_err(|e| anyhow!("GET {url} failed: {e}"))?;
        if !answer.status().is_success() {
            bail!("GET {url} answered {}", answer.status());
        }
        let body: Value = answer
            .json()
            .await
            .map_err(|e| anyhow!("GET {url} did not answer JSON: {e}"))?;
        if !body["rules"].is_array() {
            bail!("GET {url} did not answer the emulator's fault list");
        }
        Ok(EmulatorControl { base, http })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let answer = req
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{method} {url} answered {status}: {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("{method} {url}: not JSON: {text}"))
    }

    /// The fault rules in force.
    async fn rules(&self) -> Result<Vec<Value>> {
        let v = self
            .send(reqwest::Method::GET, "/__emulator/faults", None)
            .await?;
        Ok(v["rules"].as_array().cloned().unwrap_or_default())
    }

    /// The health reported for health check `id` (`None`: moto's own report).
    async fn health_check(&self, id: &str) -> Result<Option<bool>> {
        let v = self
            .send(
                reqwest::Method::GET,
                &format!("/__emulator/health-checks/{id}"),
                None,
            )
            .await?;
        Ok(v["healthy"].as_bool())
    }
}

/// What the game day injected and has not removed yet (shared with the cleanup, which runs
/// whatever ends the game day).
#[derive(Debug, Default)]
struct Injected {
    /// Fault rules added, with when.
    rules: Vec<(Value, u64)>,
    /// Health checks set unhealthy, with when.
    health_checks: Vec<(String, u64)>,
}

/// One outage rule: every request of `service` signed for `region` answers 503.
fn outage_rule(service: &str, region: &str) -> Value {
    json!({"service": service, "region": region, "action": "outage"})
}

/// Inject the failure: the probed health checks report unhealthy, and the primary region's
/// services answer 503. Each change is recorded in `injected` before it is made, so the cleanup
/// removes it even if the call's answer is lost.
async fn inject(
    emu: &EmulatorControl,
    injected: &Mutex<Injected>,
    primary: &str,
    health_checks: &[String],
) -> Result<()> {
    for id in health_checks {
        injected
            .lock()
            .expect("injected")
            .health_checks
            .push((id.clone(), runs::now_ms()));
        emu.send(
            reqwest::Method::PUT,
            &format!("/__emulator/health-checks/{id}"),
            Some(json!({"healthy": false})),
        )
        .await?;
    }
    let rules: Vec<Value> = REGIONAL_SERVICES
        .iter()
        .map(|s| outage_rule(s, primary))
        .collect();
    {
        let at = runs::now_ms();
        let mut inj = injected.lock().expect("injected");
        inj.rules.extend(rules.iter().map(|r| (r.clone(), at)));
    }
    emu.send(
        reqwest::Method::POST,
        "/__emulator/faults",
        Some(Value::Array(rules)),
    )
    .await?;
    tracing::warn!(region = %primary, services = REGIONAL_SERVICES.len(), health_checks = health_checks.len(), "game day: regional outage injected");
    Ok(())
}

/// Remove everything injected and check, against the emulator's lists, that it is gone. Every
/// injected change becomes a [`ResourceChange`]; one still in force has no `removed_at_ms` (the
/// report's verdict then fails with it listed).
async fn clean_up(emu: &EmulatorControl, injected: &Mutex<Injected>) -> Vec<ResourceChange> {
    let (rules, checks) = {
        let inj = injected.lock().expect("injected");
        (inj.rules.clone(), inj.health_checks.clone())
    };
    if !rules.is_empty() {
        let body = Value::Array(rules.iter().map(|(r, _)| r.clone()).collect());
        // Retried: a lost answer must not leave the outage in place.
        for attempt in 0..3 {
            match emu
                .send(
                    reqwest::Method::DELETE,
                    "/__emulator/faults",
                    Some(body.clone()),
                )
                .await
            {
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(attempt, error = %format!("{e:#}"), "game day: removing the fault rules failed");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
    for (id, _) in &checks {
        if let Err(e) = emu
            .send(
                reqwest::Method::DELETE,
                &format!("/__emulator/health-checks/{id}"),
                None,
            )
            .await
        {
            tracing::error!(health_check = %id, error = %format!("{e:#}"), "game day: restoring the health check failed");
        }
    }
    let in_force = emu.rules().await;
    let mut out = Vec::new();
    for (rule, at) in &rules {
        let gone = match &in_force {
            Ok(list) => !list.iter().any(|r| {
                r["service"] == rule["service"]
                    && r["region"] == rule["region"]
                    && r["action"] == rule["action"]
                    && r.get("operation").is_none_or(Value::is_null)
            }),
            Err(_) => false,
        };
        out.push(ResourceChange {
            kind: "emulator_fault".into(),
            name: format!("outage of {}", rule["service"].as_str().unwrap_or("?")),
            region: rule["region"].as_str().unwrap_or("?").into(),
            created_at_ms: *at,
            removed_at_ms: gone.then(runs::now_ms),
            verified: if gone {
                "absent from GET /__emulator/faults".into()
            } else {
                "STILL IN FORCE: remove it with `curl -X DELETE <endpoint>/__emulator/faults`"
                    .into()
            },
        });
    }
    for (id, at) in &checks {
        let restored = matches!(emu.health_check(id).await, Ok(None));
        out.push(ResourceChange {
            kind: "emulator_health_check".into(),
            name: id.clone(),
            region: "global".into(),
            created_at_ms: *at,
            removed_at_ms: restored.then(runs::now_ms),
            verified: if restored {
                "reported by moto again (GET /__emulator/health-checks/{id}: healthy null)".into()
            } else {
                format!("STILL SET: `curl -X DELETE <endpoint>/__emulator/health-checks/{id}`")
            },
        });
    }
    let left = out.iter().filter(|r| r.removed_at_ms.is_none()).count();
    if left == 0 {
        tracing::info!(
            removed = out.len(),
            "game day: every injected fault removed"
        );
    } else {
        tracing::error!(left, "game day: injected faults LEFT IN PLACE");
    }
    out
}

/// Why the config does not fit a game day, if it does not; else the health checks to fail.
fn preflight(env: &EnvironmentConfig) -> Result<Vec<String>, String> {
    let Some(health) = &env.health else {
        return Err("no [health] section: a game day lets the health watch detect the failure; add [health] with route53_health_check probes and `[health.trigger] mode = \"auto\"` (docs/drills.md#game-day)".into());
    };
    if health.trigger.mode != TriggerMode::Auto {
        return Err(format!(
            "[health.trigger] mode is {:?}: a game day measures the automatic decision; set `mode = \"auto\"` in the game-day config (docs/drills.md#game-day)",
            health.trigger.mode
        ));
    }
    let mut checks = Vec::new();
    for p in &health.probes {
        match (p.kind, p.health_check_id.as_deref()) {
            (ProbeKind::Route53HealthCheck, Some(id)) if !id.is_empty() => {
                checks.push(id.to_string())
            }
            _ => {
                return Err(format!(
                "probe {} ({:?}) is not one a game day can fail: it fails route53_health_check probes through the emulator's health-check control; use those in the game-day config (docs/drills.md#game-day)",
                p.id, p.kind
            ))
            }
        }
    }
    checks.sort();
    checks.dedup();
    Ok(checks)
}

/// The probes of the vantage points that report from observers run in this process: in the
/// sandbox every vantage point is this machine, and no observer process runs.
fn spawn_remote_vantage_points(
    control: &Control,
    env: &EnvironmentConfig,
    probes: Arc<Probes>,
    stop: &watch::Receiver<bool>,
    tasks: &mut tokio::task::JoinSet<()>,
) {
    let Some(health) = &env.health else { return };
    let settings = health.settings();
    for v in health
        .vantage_points
        .iter()
        .filter(|v| v.runs_in == RunsIn::Observer)
    {
        for p in health
            .probes
            .iter()
            .filter(|p| v.probes.is_empty() || v.probes.contains(&p.id))
        {
            let Some(ps) = settings.probe_settings(&p.id.as_str().into()) else {
                continue;
            };
            let (control, probe, vantage, probes) =
                (control.clone(), p.clone(), v.id.clone(), probes.clone());
            let mut stop = stop.clone();
            tasks.spawn(async move {
                loop {
                    let r = probes.probe(&probe, ps.timeout).await;
                    let sample = ProbeSample::new(
                        probe.id.as_str(),
                        vantage.as_str(),
                        pilotlight_server::now(),
                        r.outcome,
                    )
                    .with_latency(r.latency);
                    if let Err(e) = control.observe(sample) {
                        tracing::warn!(probe = %probe.id, vantage = %vantage, error = %e, "sample refused");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(ps.interval) => {}
                        _ = stop.changed() => return,
                    }
                }
            });
        }
    }
}

/// What the watched part of the game day measured.
struct Measured {
    failure_at: u64,
    declared: Option<HealthEvent>,
    trigger: Option<HealthEvent>,
    run_id: Option<String>,
    written: Vec<pilotlight_drill::canary::Written>,
    problems: Vec<String>,
}

async fn wait_healthy(control: &Control, deadline: tokio::time::Instant) -> Result<()> {
    loop {
        let view = control.view();
        let healthy = view.assessment.as_ref().is_some_and(|a| {
            a.state == HealthState::Healthy && a.votes.up >= a.votes.quorum && a.votes.down == 0
        });
        let ready = view
            .readiness
            .as_ref()
            .is_some_and(|r| r.verdict == ReadinessVerdict::Ready);
        if healthy && ready {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            let votes = view
                .assessment
                .map(|a| format!("{:?}, votes {:?}", a.state, a.votes))
                .unwrap_or_else(|| "not evaluated".into());
            let readiness = view
                .readiness
                .map(|r| format!("{:?} ({})", r.verdict, r.summary))
                .unwrap_or_else(|| "not evaluated".into());
            bail!("the environment was not healthy and ready before the failure was injected (health: {votes}; DR readiness: {readiness}); nothing was injected. Fix what `pilotlight check` reports and run the game day again");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Baseline, canaries, injection, and the wait for the declaration, the trigger and the run.
#[allow(clippy::too_many_arguments)]
async fn observe_outage(
    env: &EnvironmentConfig,
    control: &Control,
    journal: &dyn Journal,
    emu: &EmulatorControl,
    injected: &Mutex<Injected>,
    health_checks: &[String],
    args: &GamedayArgs,
    id: &str,
) -> Result<Measured> {
    let name = &env.environment.name;
    wait_healthy(
        control,
        tokio::time::Instant::now() + Duration::from_secs(120),
    )
    .await?;
    eprintln!(
        "game day {id}: {name} is healthy and DR is ready; writing canaries in {}",
        env.regions.primary
    );
    let w = runs::wire(env);
    let stores = pilotlight_aws::canary::stores(env, w.factory.clone(), w.caller.clone());
    let plan = CanaryPlan {
        count: args.canaries.max(1),
        interval: args.canary_interval,
    };
    let written = canary::write_series(&stores, id, plan, runs::now_ms).await;
    let failure_at = runs::now_ms();
    eprintln!(
        "game day {id}: injecting an outage of {} ({} services; health checks {} unhealthy)",
        env.regions.primary,
        REGIONAL_SERVICES.len(),
        health_checks.join(", ")
    );
    inject(emu, injected, &env.regions.primary, health_checks).await?;
    let deadline = tokio::time::Instant::now() + args.timeout;
    let mut m = Measured {
        failure_at,
        declared: None,
        trigger: None,
        run_id: None,
        written,
        problems: Vec::new(),
    };
    loop {
        let events = journal.health_events(name, 200).await?;
        let mut since: Vec<HealthEvent> = events
            .into_iter()
            .filter(|e| e.at_ms >= failure_at)
            .collect();
        since.sort_by_key(|e| e.at_ms);
        if m.declared.is_none() {
            if let Some(d) = since.iter().find(|e| e.kind == "declaration") {
                eprintln!("game day {id}: failure declared: {}", d.summary);
                m.declared = Some(d.clone());
            }
        }
        if m.declared.is_some() && m.trigger.is_none() {
            if let Some(t) = since.iter().find(|e| e.kind.starts_with("trigger_")) {
                if t.kind != "trigger_fail_over" {
                    m.problems.push(format!(
                        "the trigger did not fail over ({}): {}",
                        t.kind, t.summary
                    ));
                    m.trigger = Some(t.clone());
                    return Ok(m);
                }
                eprintln!("game day {id}: {}", t.summary);
                m.run_id = t.run_id.clone();
                m.trigger = Some(t.clone());
            }
        }
        if let Some(run_id) = &m.run_id {
            let run = journal.run(run_id).await?;
            if run.status.is_final() {
                eprintln!(
                    "game day {id}: failover run {run_id} {}",
                    run.status.label()
                );
                return Ok(m);
            }
        }
        if tokio::time::Instant::now() > deadline {
            m.problems.push(match (&m.declared, &m.run_id) {
                (None, _) => format!("no failure was declared within {} of the injection: check the probes, thresholds and quorum in [health]", humantime::format_duration(args.timeout)),
                (Some(_), None) => format!("the failure was declared but no failover started within {}", humantime::format_duration(args.timeout)),
                (Some(_), Some(r)) => format!("failover run {r} had not finished {} after the injection; see `pilotlight runs show {r}` (it resumes with `pilotlight resume {r}`)", humantime::format_duration(args.timeout)),
            });
            return Ok(m);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `pilotlight gameday`.
pub async fn gameday(paths: &Paths, args: GamedayArgs) -> Result<u8> {
    let env = match runs::load_config(&args.config) {
        Ok(e) => e,
        Err(code) => return Ok(code),
    };
    let Some(endpoint) = env.aws.endpoint.clone() else {
        eprintln!("refusing a game day of {}: it injects faults through the sandbox emulator's control API (/__emulator/), and this config talks to AWS itself (no [aws] endpoint). Run it against the sandbox (`pilotlight sandbox up`); for AWS use `pilotlight drill`", env.environment.name);
        return Ok(2);
    };
    let emu = match EmulatorControl::connect(&endpoint).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("refusing a game day of {}: {endpoint} is not the sandbox emulator (no control API under /__emulator/: {e:#}); nothing was injected. Point [aws] endpoint at the emulator `pilotlight sandbox up` started", env.environment.name);
            return Ok(2);
        }
    };
    let health_checks = match preflight(&env) {
        Ok(c) => c,
        Err(why) => {
            eprintln!("{}: {why}", args.config.display());
            return Ok(2);
        }
    };
    let failover = match runs::load_plan(paths, &env, "failover") {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let journal = runs::open_journal(&paths.journal)?;
    if let Some(active) = journal.active_run(&env.environment.name).await? {
        eprintln!(
            "run {} ({}) is active for {}: finish, resume or abort it before a game day",
            active.id, active.runbook, env.environment.name
        );
        return Ok(2);
    }
    let _lock = match runs::driver_lock(&paths.journal, &env.environment.name)? {
        Ok(l) => l,
        Err(msg) => {
            eprintln!("{msg}");
            return Ok(2);
        }
    };
    let started = runs::now_ms();
    let id = new_drill_id(started);
    tracing::info!(drill_id = %id, environment = %env.environment.name, "game day started");
    let w = runs::wire(&env);
    let probes = Arc::new(Probes(pilotlight_probes::Prober::new(
        w.factory.clone(),
        w.caller.clone(),
        env.regions.primary.clone(),
    )));
    let deps = ControlDeps {
        env: Arc::new(env.clone()),
        journal: journal.clone(),
        executor: runs::executor(&env, journal.clone()),
        failover,
        facts: w.facts.clone(),
        probes: probes.clone(),
        notifier: runs::notifier(&env, &w),
    };
    let control = Control::new(
        deps,
        ControlSettings {
            instance: format!("gameday-{}", std::process::id()),
            ..ControlSettings::default()
        },
    )
    .map_err(|e| anyhow!("{e}"))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    {
        let (c, stop) = (control.clone(), stop_rx.clone());
        tasks.spawn(async move {
            if let Err(e) = c.run(stop).await {
                tracing::error!(error = %e, "game day: the control loop stopped");
            }
        });
    }
    spawn_remote_vantage_points(&control, &env, probes, &stop_rx, &mut tasks);
    eprintln!(
        "game day {id}: watching {} as `pilotlight serve` does (trigger mode auto)",
        env.environment.name
    );
    let injected = Mutex::new(Injected::default());
    let outcome = tokio::select! {
        m = observe_outage(&env, &control, journal.as_ref(), &emu, &injected, &health_checks, &args, &id) => Some(m),
        _ = interrupted() => None,
    };
    let resources = clean_up(&emu, &injected).await;
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    let left: Vec<&ResourceChange> = resources
        .iter()
        .filter(|r| r.removed_at_ms.is_none())
        .collect();
    for r in &left {
        eprintln!(
            "LEFT IN PLACE: {} {} ({}): {}",
            r.kind, r.name, r.region, r.verified
        );
    }
    let m = match outcome {
        None => {
            eprintln!(
                "game day {id}: interrupted; {} — no report. A failover run it started resumes with `pilotlight resume RUN`; see `pilotlight runs`",
                if left.is_empty() {
                    "everything injected was removed"
                } else {
                    "SOME INJECTED FAULTS ARE LEFT (above): remove them by hand"
                }
            );
            return Ok(1);
        }
        Some(Err(e)) => {
            eprintln!("game day {id}: {e:#}");
            let nothing_injected = resources.is_empty();
            return Ok(if nothing_injected { 2 } else { 1 });
        }
        Some(Ok(m)) => m,
    };
    report(&env, &args, &id, started, m, resources, &journal).await
}

/// Build, write and store the report. Returns the exit code.
#[allow(clippy::too_many_arguments)]
async fn report(
    env: &EnvironmentConfig,
    args: &GamedayArgs,
    id: &str,
    started: u64,
    m: Measured,
    resources: Vec<ResourceChange>,
    journal: &pilotlight_store::SqliteJournal,
) -> Result<u8> {
    let run = match &m.run_id {
        Some(r) => Some(records(journal, r).await?),
        None => None,
    };
    let mut rpo = if run.is_some() {
        canary::read_back(&m.written, m.failure_at).await
    } else {
        Vec::new()
    };
    rpo.extend(pilotlight_drill::conduct::database_stores(
        env,
        run.as_ref().and_then(|r| {
            r.decisions
                .iter()
                .rev()
                .find(|d| d.kind == "rpo_estimate")
                .and_then(|d| d.detail["lag_seconds"].as_f64())
        }),
    ));
    let steps = run
        .as_ref()
        .map(|r| build::steps_of(r, started))
        .unwrap_or_default();
    let off = |t: u64| Some(t.saturating_sub(started));
    let declared_at = m.declared.as_ref().map(|d| d.at_ms);
    let run_created = run.as_ref().map(|r| r.run.created_at_ms);
    let threshold = env.health.as_ref().map(|h| {
        let s = h.settings();
        h.probes
            .iter()
            .filter_map(|p| s.probe_settings(&p.id.as_str().into()))
            .map(|ps| {
                format!(
                    "{} failures {} apart",
                    ps.failure_threshold,
                    humantime::format_duration(ps.interval)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    });
    let mut phases = vec![
        PhaseTiming {
            phase: Phase::Detection,
            start_offset_ms: off(m.failure_at),
            duration_ms: declared_at.map(|d| d.saturating_sub(m.failure_at)),
            counts_toward_rto: true,
            note: match declared_at {
                Some(_) => format!(
                    "outage injected → failure declared by the health evaluator with quorum (thresholds: {}; quorum {})",
                    threshold.unwrap_or_default(),
                    env.health.as_ref().and_then(|h| h.quorum).map(|q| q.to_string()).unwrap_or_else(|| "a strict majority".into())
                ),
                None => "not measured: no failure was declared".into(),
            },
        },
        PhaseTiming {
            phase: Phase::Decision,
            start_offset_ms: declared_at.and_then(off),
            duration_ms: match (declared_at, run_created) {
                (Some(d), Some(c)) => Some(c.saturating_sub(d)),
                _ => None,
            },
            counts_toward_rto: true,
            note: match run_created {
                Some(_) => "failure declared → failover run created by the automatic trigger (every interlock clear)".into(),
                None => "not measured: the trigger started no failover".into(),
            },
        },
    ];
    phases.extend(build::phases_from_steps(&steps));
    let mut limitations = vec![
        "run against the sandbox emulator: every AWS resource changes state at once, so the database, compute and DNS timings are the emulator's, not AWS's; detection and decision are the health watch's and the trigger's own".into(),
        "every vantage point probed from this machine (in the sandbox no observer runs elsewhere): a network partition between vantage points is not part of the game day".into(),
        "Route 53 is not blacked out with the primary region (a global service; see the scenario dns_control_plane_down)".into(),
    ];
    for s in rpo.iter().filter(|s| !s.measured) {
        limitations.push(format!("{} {}: {}", s.kind, s.name, s.note));
    }
    let mut decisions: Vec<DecisionLine> = [&m.declared, &m.trigger]
        .into_iter()
        .flatten()
        .map(|e| DecisionLine {
            run_id: e.run_id.clone().unwrap_or_default(),
            kind: e.kind.clone(),
            who: pilotlight_server::TRIGGER_ACTOR.into(),
            why: e.summary.clone(),
            at_ms: e.at_ms,
        })
        .collect();
    if let Some(r) = &run {
        decisions.extend(build::decisions_of(r));
    }
    let succeeded_end = run
        .as_ref()
        .filter(|r| r.run.status == RunStatus::Succeeded)
        .and_then(|r| r.run.finished_at_ms);
    let mut report = DrillReport {
        version: REPORT_VERSION,
        id: id.to_string(),
        mode: Mode::Gameday,
        environment: env.environment.name.clone(),
        tier: tier_name(env.environment.tier).into(),
        primary_region: env.regions.primary.clone(),
        dr_region: env.regions.dr.clone(),
        requested_by: args.by.clone(),
        started_at_ms: started,
        finished_at_ms: runs::now_ms(),
        failure_at_ms: Some(m.failure_at),
        objectives: Objectives {
            rto_ms: env.objectives.rto.as_millis() as u64,
            rpo_ms: env.objectives.rpo.as_millis() as u64,
        },
        phases,
        rto: build::rto(
            m.failure_at,
            succeeded_end,
            env.objectives.rto.as_millis() as u64,
            "outage injected → automatic failover run finished (detection and decision included)",
        ),
        rpo,
        runs: run.iter().map(build::run_ref).collect(),
        steps,
        decisions,
        resources,
        limitations,
        verdict: Verdict {
            passed: false,
            reasons: Vec::new(),
        },
        trend: trend(journal, &env.environment.name).await?,
    };
    report.verdict = build::verdict(&report);
    report.verdict.reasons.extend(m.problems);
    report.verdict.passed = report.verdict.reasons.is_empty();
    finish(journal, &args.report, &report).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(health: &str) -> EnvironmentConfig {
        let base = include_str!("../../core/tests/fixtures/confer.toml");
        toml::from_str(&format!("{base}\n{health}")).unwrap()
    }

    const VANTAGE: &str = r#"
[[health.vantage_points]]
id = "control"
runs_in = "control"
"#;

    #[test]
    fn preflight_names_the_health_checks_to_fail() {
        let e = env(&format!(
            r#"[health]
[health.trigger]
mode = "auto"
[[health.probes]]
id = "a"
kind = "route53_health_check"
health_check_id = "hc-2"
[[health.probes]]
id = "b"
kind = "route53_health_check"
health_check_id = "hc-1"
[[health.probes]]
id = "c"
kind = "route53_health_check"
health_check_id = "hc-2"
{VANTAGE}"#
        ));
        assert_eq!(preflight(&e).unwrap(), ["hc-1", "hc-2"]);
    }

    #[test]
    fn preflight_refuses_what_a_game_day_cannot_measure() {
        let no_health = preflight(&env("")).unwrap_err();
        assert!(no_health.contains("no [health] section"), "{no_health}");
        let recommend = preflight(&env(&format!(
            r#"[health]
[health.trigger]
mode = "recommend"
[[health.probes]]
id = "a"
kind = "route53_health_check"
health_check_id = "hc-1"
{VANTAGE}"#
        )))
        .unwrap_err();
        assert!(recommend.contains("mode = \"auto\""), "{recommend}");
        let http = preflight(&env(&format!(
            r#"[health]
[health.trigger]
mode = "auto"
[[health.probes]]
id = "api"
kind = "http"
url = "https://api.example/health"
{VANTAGE}"#
        )))
        .unwrap_err();
        assert!(http.contains("probe api"), "{http}");
    }

    /// Route 53 stays up (the DNS shift needs it), and every service a failover or a readiness
    /// check calls in the primary is blacked out.
    #[test]
    fn the_outage_spares_route53_only() {
        assert!(!REGIONAL_SERVICES.contains(&"route53"));
        for s in [
            "dynamodb",
            "s3",
            "kms",
            "rds",
            "ecs",
            "autoscaling",
            "monitoring",
        ] {
            assert!(REGIONAL_SERVICES.contains(&s), "{s}");
        }
    }
}
