//! `pilotlight serve` (the control service: health watching, the trigger, readiness on a
//! schedule, the executor, the HTTP API) and `pilotlight observer` (a remote vantage point), and
//! `pilotlight ack` (a person acknowledges an automatic run, which lets the trigger act again).

use crate::runs::{executor, load_config, load_plan, notifier, open_journal, wire, Paths};
use anyhow::{Context, Result};
use pilotlight_core::journal::{Decision, Journal};
use pilotlight_server::{Control, ControlDeps, ControlSettings, ProbeResult, ProbeRunner};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

/// The real probes behind the server's narrow trait.
struct Probes(pilotlight_probes::Prober);

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

/// A watch channel that turns true on Ctrl-C or SIGTERM.
fn shutdown_signal() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
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
        info!("shutting down: probes stop, the API stops accepting; an unfinished run resumes on the next start");
        let _ = tx.send(true);
    });
    rx
}

/// `pilotlight serve --config FILE [--listen ADDR]`.
pub async fn serve(paths: &Paths, config: &Path, listen: SocketAddr) -> Result<u8> {
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
    let journal = open_journal(&paths.journal)?;
    let _lock = match crate::runs::driver_lock(&paths.journal, &env.environment.name)? {
        Ok(l) => l,
        Err(msg) => {
            eprintln!("{msg}");
            return Ok(2);
        }
    };
    let w = wire(&env);
    let notify = notifier(&env, &w);
    let prober = pilotlight_probes::Prober::new(
        w.factory.clone(),
        w.caller.clone(),
        env.regions.primary.clone(),
    );
    let deps = ControlDeps {
        env: Arc::new(env.clone()),
        journal: journal.clone(),
        executor: executor(&env, journal.clone()),
        failover,
        facts: w.facts.clone(),
        probes: Arc::new(Probes(prober)),
        notifier: notify,
    };
    let control =
        Control::new(deps, ControlSettings::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}; pick a free address with --listen"))?;
    let addr = listener.local_addr()?;
    eprintln!(
        "pilotlight serve: watching {} (trigger mode {:?}); console and API on http://{addr}",
        env.environment.name,
        env.health
            .as_ref()
            .map(|h| h.trigger.mode)
            .unwrap_or_default()
    );
    let stop = shutdown_signal();
    let api = pilotlight_server::v1::Api::new(
        control.clone(),
        pilotlight_server::v1::ApiDeps {
            plans,
            actuator: w.actuator.clone(),
            facts: w.facts.clone(),
            audit: journal.clone(),
            auth: pilotlight_server::access::Authenticator::new(env.access.clone(), oidc),
        },
    );
    let app = pilotlight_server::v1::app(api);
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
    server.await??;
    eprintln!("pilotlight serve: stopped");
    Ok(0)
}

/// `pilotlight observer --config FILE --vantage ID --control URL --token-file F`.
pub async fn observer(
    config: &Path,
    vantage: &str,
    control: &str,
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
    eprintln!("pilotlight observer: vantage point {vantage} reporting to {control}");
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
