//! The observer (`pilotlight observer`): runs one vantage point's probes from wherever it is
//! deployed (another region) and reports every attempt to the control service — to every
//! instance of it, when several run on the HA store (each evaluates, so a successor already knows
//! the health picture). A report that cannot be delivered is dropped and logged — a missing report is "unknown" to the control
//! service, never "down".

use crate::api::{Report, ReportedSample};
use crate::{ProbeRunner, ServeError};
use pilotlight_core::model::{HealthConfig, RunsIn};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{info, warn};

/// Send one report to the control service at `url`.
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    report: &Report,
) -> Result<(), ServeError> {
    let endpoint = format!("{}/api/v1/observations", url.trim_end_matches('/'));
    let resp = client
        .post(&endpoint)
        .bearer_auth(token)
        .json(report)
        .send()
        .await
        .map_err(|e| ServeError::Control {
            url: url.into(),
            detail: format!("cannot reach it: {e}"),
            retryable: true,
        })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = resp.text().await.unwrap_or_default();
    Err(ServeError::Control {
        url: url.into(),
        detail: format!("refused the report ({status}): {body}"),
        retryable: status.is_server_error(),
    })
}

/// Run the probes of vantage point `vantage` until `shutdown` fires, reporting each attempt to
/// every control-service instance in `urls`. Fails at once on settings that cannot work (unknown vantage point, one that runs in the
/// control service, or a refused token on the first report).
pub async fn run(
    health: &HealthConfig,
    vantage: &str,
    urls: &[String],
    token: &str,
    probes: Arc<dyn ProbeRunner>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ServeError> {
    if urls.is_empty() {
        return Err(ServeError::Settings(
            "no control service to report to: give --control URL".into(),
        ));
    }
    let vp = health
        .vantage_points
        .iter()
        .find(|v| v.id == vantage)
        .ok_or_else(|| {
            ServeError::Settings(format!(
                "no vantage point `{vantage}` in [health]; choose one of: {}",
                health
                    .vantage_points
                    .iter()
                    .map(|v| v.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    if vp.runs_in != RunsIn::Observer {
        return Err(ServeError::Settings(format!(
            "vantage point `{vantage}` runs in the control service (`runs_in = \"control\"`), not in an observer"
        )));
    }
    let settings = health.settings();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| ServeError::Settings(format!("HTTP client: {e}")))?;
    let mut tasks = tokio::task::JoinSet::new();
    let (refused_tx, mut refused_rx) = tokio::sync::mpsc::channel::<ServeError>(1);
    for p in health
        .probes
        .iter()
        .filter(|p| vp.probes.is_empty() || vp.probes.contains(&p.id))
    {
        let ps = settings
            .probe_settings(&p.id.as_str().into())
            .ok_or_else(|| ServeError::Settings(format!("probe `{}` has no settings", p.id)))?;
        let (probe, probes, client) = (p.clone(), probes.clone(), client.clone());
        let (urls, token, vantage) = (urls.to_vec(), token.to_string(), vantage.to_string());
        let (mut stop, refused_tx) = (shutdown.clone(), refused_tx.clone());
        tasks.spawn(async move {
            loop {
                let r = probes.probe(&probe, ps.timeout).await;
                let report = Report {
                    vantage: vantage.clone(),
                    samples: vec![ReportedSample {
                        probe: probe.id.clone(),
                        outcome: r.outcome,
                        latency: Some(r.latency),
                    }],
                };
                let sent = futures::future::join_all(
                    urls.iter().map(|url| send(&client, url, &token, &report)),
                )
                .await;
                for r in sent {
                    match r {
                        Ok(()) => {}
                        Err(e) if e.is_retryable() => {
                            warn!(probe = %probe.id, error = %e, "report not delivered; the control service counts it as unknown")
                        }
                        Err(e) => {
                            let _ = refused_tx.send(e).await;
                            return;
                        }
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(ps.interval) => {}
                    _ = stop.changed() => return,
                }
            }
        });
    }
    drop(refused_tx);
    info!(vantage, control = %urls.join(","), probes = tasks.len(), "observer running");
    let outcome = tokio::select! {
        Some(e) = refused_rx.recv() => Err(e),
        _ = shutdown.changed() => Ok(()),
    };
    tasks.shutdown().await;
    outcome
}
