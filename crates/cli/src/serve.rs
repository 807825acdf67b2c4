//! `pilotlight serve` (the control service: health watching, the trigger, readiness on a
//! schedule, the executor, the HTTP API) and `pilotlight observer` (a remote vantage point), and
//! `pilotlight ack` (a person acknowledges an automatic run, which lets the trigger act again).

use crate::runs::{
    executor, executor_with, load_config, load_plan, notifier, open_journal, wire, Paths,
};
use anyhow::{Context, Result};
use pilotlight_core::journal::{Decision, Journal};
use pilotlight_server::leader::{self, Election, LeaderGuard};
use pilotlight_server::{Acting, Control, ControlDeps, ControlSettings, ProbeResult, ProbeRunner};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

/// The real probes behind the server's narrow trait (also the game day's).
pub(crate) struct Probes(pub(crate) pilotlight_probes::Prober);

#[async_trait::async_trait]
impl ProbeRunner for Probes {
    async fn probe(
        &self,
        probe: &pilotlight_core::model::ProbeConfig,
        timeout: Duration,
    ) -> ProbeResult {
        let r = self.0.probe(probe, timeout).await;
        ProbeResult {
            outcome: r.outcome,
            latency: r.latency,
            detail: r.detail,
        }
    }
}

/// Returns on Ctrl-C or SIGTERM.
pub(crate) async fn interrupted() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// A watch channel that turns true on Ctrl-C or SIGTERM.
fn shutdown_signal() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        interrupted().await;
        info!("shutting down: probes stop, the API stops accepting; an unfinished run resumes on the next start");
        let _ = tx.send(true);
    });
    rx
}

/// Several instances on the HA store (`pilotlight serve --ha-journal-table … --ha-lease-table …`).
#[derive(Debug, Clone)]
pub struct Ha {
    /// The journal table (DynamoDB).
    pub journal_table: String,
    /// The lease table (DynamoDB).
    pub lease_table: String,
    /// The tables' region (default: the DR region).
    pub region: Option<String>,
    /// The lease duration.
    pub lease_duration: Duration,
    /// Tests only: the offset of the informational wall-clock times of the lease item.
    pub wall_clock_offset_ms: i64,
    /// The URL the other instances reach this one at (default: from the listen address).
    pub advertise_url: Option<String>,
    /// The shared secret for forwarding console actions to the leader.
    pub forward_secret_file: Option<PathBuf>,
}

/// The URL to advertise in the lease: the given one (checked), else `http://ADDR` unless the
/// listen address is a wildcard (which says nothing about how to reach this host).
fn advertised(given: Option<&str>, addr: SocketAddr) -> Result<Option<String>, String> {
    match given {
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
            Ok(Some(u.trim_end_matches('/').to_string()))
        }
        Some(u) => Err(format!(
            "--advertise-url {u}: give the URL the other instances reach this one at, such as http://10.0.1.5:8080"
        )),
        None if addr.ip().is_unspecified() => Ok(None),
        None => Ok(Some(format!("http://{addr}"))),
    }
}

/// The default instance name: host name and process id.
fn default_instance() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "pilotlight".into());
    format!("{host}-{}", std::process::id())
}

/// `pilotlight serve --config FILE [--listen ADDR] [--ha-journal-table T --ha-lease-table L]`.
pub async fn serve(
    paths: &Paths,
    config: &Path,
    listen: SocketAddr,
    instance: Option<String>,
    ha: Option<Ha>,
) -> Result<u8> {
    let env = match load_config(config) {
        Ok(e) => e,
        Err(code) => return Ok(code),
    };
    if env.health.is_none() {
        eprintln!(
            "warning: {}: no [health] section: nothing is watched and nothing fails over by itself; runs and the API only (docs/trigger.md)",
            config.display()
        );
    }
    if env.access.is_none() {
        eprintln!(
            "warning: {}: no [access] section: nobody can sign in to the console or act through the API; add [access] (docs/console.md#access)",
            config.display()
        );
    }
    if ha
        .as_ref()
        .is_some_and(|h| h.lease_duration < Duration::from_secs(3))
    {
        eprintln!("--lease-duration must be at least 3s (the leader renews every third of it)");
        return Ok(2);
    }
    let failover = match load_plan(paths, &env, "failover") {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let mut plans = std::collections::BTreeMap::new();
    plans.insert("failover".to_string(), failover.clone());
    if paths.runbooks.join("failback.toml").exists() {
        match load_plan(paths, &env, "failback") {
            Ok(p) => {
                plans.insert("failback".to_string(), p);
            }
            Err(code) => return Ok(code),
        }
    }
    let oidc = match env.access.as_ref().and_then(|a| a.oidc.as_ref()) {
        Some(o) => {
            let base = config.parent().unwrap_or(std::path::Path::new("."));
            match pilotlight_server::access::Oidc::load(o, base).await {
                Ok(v) => Some(v),
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(2);
                }
            }
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}; pick a free address with --listen"))?;
    let addr = listener.local_addr()?;
    let forward_key = match ha.as_ref().and_then(|h| h.forward_secret_file.as_ref()) {
        Some(f) => match pilotlight_server::forward::ForwardKey::from_file(f) {
            Ok(k) => Some(k),
            Err(e) => {
                eprintln!("{e}");
                return Ok(2);
            }
        },
        None => None,
    };
    let advertise = match ha
        .as_ref()
        .map(|h| advertised(h.advertise_url.as_deref(), addr))
    {
        Some(Ok(a)) => a,
        Some(Err(msg)) => {
            eprintln!("{msg}");
            return Ok(2);
        }
        None => None,
    };
    if ha.is_some() && advertise.is_none() {
        eprintln!("warning: listening on {addr} and no --advertise-url: when this instance leads, the others cannot forward actions to it (they answer 503); set --advertise-url");
    }
    let instance = instance.unwrap_or_else(default_instance);
    let w = wire(&env);
    let env_name = env.environment.name.clone();
    // One instance: the SQLite journal, a per-host lock, and this instance always leads.
    // Several: the DynamoDB journal (read unfenced, written fenced by the lease epoch) and an
    // election; the executor's actions are guarded by the lease.
    let mut _lock = None;
    let mut election = None;
    // The audit log: the journal's (SQLite, or the HA store's one chain for every instance).
    let audit: Arc<dyn pilotlight_core::audit::AuditLog>;
    // Drill reports: in the local SQLite journal, where `pilotlight drill` on this host stores
    // them; in HA mode in the HA store, with the runs.
    let drills: Arc<dyn pilotlight_drill::store::DrillReports>;
    let (journal, executor): (Arc<dyn Journal>, _) = match &ha {
        None => {
            let local = open_journal(&paths.journal)?;
            audit = local.clone();
            drills = local.clone();
            let journal = local;
            _lock = match crate::runs::driver_lock(&paths.journal, &env_name)? {
                Ok(l) => Some(l),
                Err(msg) => {
                    eprintln!("{msg}");
                    return Ok(2);
                }
            };
            (journal.clone(), executor(&env, journal))
        }
        Some(ha) => {
            let region = ha.region.clone().unwrap_or_else(|| env.regions.dr.clone());
            let journal = pilotlight_store::DynamoJournal::connect(
                &w.factory,
                w.caller.clone(),
                &region,
                ha.journal_table.clone(),
            )
            .await;
            let lease = pilotlight_store::DynamoLease::new(
                w.factory.dynamodb(&region).await,
                w.caller.clone(),
                region.clone(),
                ha.lease_table.clone(),
                env_name.clone(),
                ha.lease_duration,
            )
            .with_wall_clock_offset(ha.wall_clock_offset_ms)
            .with_address(advertise.clone());
            let guard = LeaderGuard::new();
            let make_acting: leader::MakeActing = {
                let (env, journal, guard) = (env.clone(), journal.clone(), guard.clone());
                let (lease_table, env_name) = (ha.lease_table.clone(), env_name.clone());
                Arc::new(move |epoch| {
                    let fenced: Arc<dyn Journal> =
                        Arc::new(journal.with_fence(&lease_table, &env_name, epoch));
                    Acting {
                        journal: fenced.clone(),
                        executor: executor_with(&env, fenced, Some(guard.clone())),
                        epoch: Some(epoch),
                    }
                })
            };
            election = Some(Election {
                lease: Arc::new(lease),
                holder: instance.clone(),
                lease_duration: ha.lease_duration,
                guard: guard.clone(),
                make_acting,
            });
            audit = Arc::new(journal.clone());
            // Drill reports in the HA store too: a drill the leader conducts is listed by every
            // instance.
            drills = Arc::new(journal.clone());
            let journal: Arc<dyn Journal> = Arc::new(journal);
            // Never acts: the instance stands by until elected, and then acts with the fenced
            // journal's executor.
            let standby = executor_with(&env, journal.clone(), Some(guard));
            (journal, standby)
        }
    };
    let notify = notifier(&env, &w);
    let prober = pilotlight_probes::Prober::new(
        w.factory.clone(),
        w.caller.clone(),
        env.regions.primary.clone(),
    );
    let deps = ControlDeps {
        env: Arc::new(env.clone()),
        journal,
        executor,
        failover,
        facts: w.facts.clone(),
        probes: Arc::new(Probes(prober)),
        notifier: notify,
    };
    let settings = ControlSettings {
        instance: instance.clone(),
        ..ControlSettings::default()
    };
    let control = Control::new(deps, settings).map_err(|e| anyhow::anyhow!("{e}"))?;
    if election.is_some() {
        control.stand_by();
    }
    eprintln!(
        "pilotlight serve: watching {} (trigger mode {:?}{}); console and API on http://{addr}",
        env.environment.name,
        env.health
            .as_ref()
            .map(|h| h.trigger.mode)
            .unwrap_or_default(),
        match &ha {
            Some(h) => format!(
                "; instance {instance}, HA store {}/{} — acts only while it holds the lease",
                h.journal_table, h.lease_table
            ),
            None => String::new(),
        }
    );
    let stop = shutdown_signal();
    let elected = election.map(|e| {
        let (role_tx, mut role_rx) = tokio::sync::watch::channel(leader::Role {
            instance: instance.clone(),
            leader: false,
            epoch: None,
        });
        // One line per change of role, for people and tests following the log.
        tokio::spawn(async move {
            while role_rx.changed().await.is_ok() {
                let r = role_rx.borrow_and_update().clone();
                match r.epoch {
                    Some(epoch) => {
                        eprintln!("pilotlight serve: {} leads (epoch {epoch})", r.instance)
                    }
                    None => eprintln!("pilotlight serve: {} stands by", r.instance),
                }
            }
        });
        tokio::spawn(leader::run(control.clone(), e, role_tx, stop.clone()))
    });
    let api = pilotlight_server::v1::Api::new(
        control.clone(),
        pilotlight_server::v1::ApiDeps {
            plans,
            actuator: w.actuator.clone(),
            facts: w.facts.clone(),
            audit,
            auth: pilotlight_server::access::Authenticator::new(env.access.clone(), oidc),
        },
    )
    .with_drills(drills)
    .with_drill_runner(pilotlight_server::drills::DrillRunner {
        canaries: pilotlight_aws::canary::stores(&env, w.factory.clone(), w.caller.clone()),
        copies: Arc::new(pilotlight_aws::copies::AwsCopies::new(
            w.factory.clone(),
            w.caller.clone(),
        )),
        canary_plan: Default::default(),
        isolated: Default::default(),
    });
    let forwarding = pilotlight_server::forward::Forwarding::new(
        control.clone(),
        api.auth().clone(),
        forward_key,
    );
    let drill_api = api.clone();
    // Drills this service was conducting when it was killed: ended once it may act.
    let recovering = api.clone();
    tokio::spawn(async move {
        let ended = recovering.recover_drills().await;
        if !ended.is_empty() {
            eprintln!(
                "pilotlight serve: ended {} drill(s) interrupted when the service last stopped: {}",
                ended.len(),
                ended.join(", ")
            );
        }
    });
    let app = pilotlight_server::forward::wrap(pilotlight_server::v1::app(api), forwarding);
    let mut http_stop = stop.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = http_stop.changed().await;
            })
            .await
    });
    control
        .run(stop)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // An isolated drill the service conducts removes its copies before the service exits.
    if !drill_api.stop_drills(Duration::from_secs(600)).await {
        eprintln!("pilotlight serve: a drill was still cleaning up after 10 min; its copies carry its id in their names: check them (docs/failure-modes.md#drills)");
    }
    if let Some(e) = elected {
        e.await?;
    }
    server.await??;
    eprintln!("pilotlight serve: stopped");
    Ok(0)
}

/// `pilotlight observer --config FILE --vantage ID --control URL --token-file F`.
pub async fn observer(
    config: &Path,
    vantage: &str,
    control: &[String],
    token_file: &Path,
) -> Result<u8> {
    let env = match load_config(config) {
        Ok(e) => e,
        Err(code) => return Ok(code),
    };
    let Some(health) = env.health.clone() else {
        eprintln!(
            "{}: no [health] section: nothing to observe",
            config.display()
        );
        return Ok(2);
    };
    let token = std::fs::read_to_string(token_file)
        .with_context(|| format!("cannot read the token file {}", token_file.display()))?;
    let token = token.trim().to_string();
    if token.is_empty() {
        eprintln!("{}: the token file is empty", token_file.display());
        return Ok(2);
    }
    let w = wire(&env);
    let prober = pilotlight_probes::Prober::new(
        w.factory.clone(),
        w.caller.clone(),
        env.regions.primary.clone(),
    );
    eprintln!(
        "pilotlight observer: vantage point {vantage} reporting to {}",
        control.join(", ")
    );
    match pilotlight_server::observer::run(
        &health,
        vantage,
        control,
        &token,
        Arc::new(Probes(prober)),
        shutdown_signal(),
    )
    .await
    {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("pilotlight observer: {e}");
            Ok(2)
        }
    }
}

/// `pilotlight ack RUN --by NAME`: a person has looked at an automatic run; the trigger may act
/// again (after its cool-down).
pub async fn ack(paths: &Paths, run_id: &str, by: &str, note: &str) -> Result<u8> {
    let journal = open_journal(&paths.journal)?;
    let run = match journal.run(run_id).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return Ok(2);
        }
    };
    if run.requested_by != pilotlight_server::TRIGGER_ACTOR {
        eprintln!(
            "run {run_id} was started by {}, not by the automatic trigger: nothing to acknowledge",
            run.requested_by
        );
        return Ok(2);
    }
    journal
        .record_decision(&Decision {
            run_id: run_id.to_string(),
            kind: "acknowledged".into(),
            who: by.to_string(),
            why: note.to_string(),
            detail: serde_json::json!({ "status": run.status.label() }),
            at_ms: crate::runs::now_ms(),
        })
        .await?;
    eprintln!("run {run_id} acknowledged by {by}: the trigger may act again after its cool-down");
    Ok(0)
}
