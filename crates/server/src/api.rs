//! The control service's HTTP API (the part issue 5 needs; the console's API grows here):
//! observers report samples, anyone with access reads the health state and its evidence.
//!
//! - `GET /healthz`: the service is up.
//! - `POST /api/v1/observations` (`Authorization: Bearer TOKEN` of an observer): samples from a
//!   remote vantage point, placed on the control service's clock when they arrive.
//! - `GET /api/v1/health`: the latest assessment, readiness, lag, trigger decision, evidence.
//! - `GET /api/v1/health/events`: recorded declarations and trigger decisions, newest first.
//! - `GET /api/v1/leader`: this instance, whether it leads (acts) and its lease epoch, and the
//!   leader as last seen in the lease (`leader_seen`: instance, address, epoch); of several
//!   instances on the HA store only the leader acts, the others serve reads and forward actions
//!   to it ([`crate::forward`]).

use crate::control::Control;
use crate::{auth, now};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pilotlight_core::health::{ProbeOutcome, ProbeSample};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tracing::warn;

/// One sample as an observer reports it (its time is the control service's arrival time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedSample {
    /// Probe id.
    pub probe: String,
    /// Up, down (with the reason) or unknown.
    pub outcome: ProbeOutcome,
    /// How long the attempt took.
    #[serde(default, with = "humantime_serde_opt")]
    pub latency: Option<Duration>,
}

/// A batch of samples from one observer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// The observer's vantage point id (must match its token).
    pub vantage: String,
    /// The samples.
    pub samples: Vec<ReportedSample>,
}

/// Serde for `Option<Duration>` as milliseconds (a plain number on the wire).
mod humantime_serde_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_millis() as u64)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

/// The API's router over the control service's state.
pub fn router(control: Control) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/api/v1/observations", post(observations))
        .route("/api/v1/health", get(health))
        .route("/api/v1/health/events", get(events))
        .route("/api/v1/leader", get(leader))
        .with_state(control)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

async fn observations(
    State(control): State<Control>,
    headers: HeaderMap,
    body: Result<Json<Report>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(token) = auth::bearer(header) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "missing bearer token: run the observer with --token-file",
        );
    };
    let Some(vantage) = control.vantage_of_token_digest(&auth::token_sha256(token)) else {
        warn!("observation report with an unknown token refused");
        return error(
            StatusCode::UNAUTHORIZED,
            "unknown token: its SHA-256 must be the `token_sha256` of an observer vantage point",
        );
    };
    let Json(report) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("bad report: {e}")),
    };
    if report.vantage != vantage.as_str() {
        return error(
            StatusCode::FORBIDDEN,
            format!(
                "this token belongs to vantage point `{vantage}`, not `{}`",
                report.vantage
            ),
        );
    }
    let at = now();
    let mut refused = Vec::new();
    for s in report.samples {
        let mut sample = ProbeSample::new(s.probe.as_str(), vantage.as_str(), at, s.outcome);
        sample.latency = s.latency;
        if let Err(e) = control.observe(sample) {
            refused.push(format!("{}: {e}", s.probe));
        }
    }
    if refused.is_empty() {
        (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "accepted": true })),
        )
            .into_response()
    } else {
        error(StatusCode::UNPROCESSABLE_ENTITY, refused.join("; "))
    }
}

async fn health(State(control): State<Control>) -> Response {
    let view = control.view();
    Json(serde_json::json!({
        "environment": control.env().environment.name,
        "state": view.assessment.as_ref().map(|a| a.state),
        "votes": view.assessment.as_ref().map(|a| a.votes),
        "readiness": view.readiness,
        "replication": view.replication,
        "trigger": view.trigger,
        "trigger_run": view.trigger_run,
        "explanation": control.explain(),
        "rejected_samples": control.rejected(),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<usize>,
}

async fn events(State(control): State<Control>, Query(q): Query<Limit>) -> Response {
    let env = control.env().environment.name.clone();
    match control
        .journal()
        .health_events(&env, q.limit.unwrap_or(50).min(1000))
        .await
    {
        Ok(events) => Json(events).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn leader(State(control): State<Control>) -> Response {
    Json(serde_json::json!({
        "instance": control.instance(),
        "leader": control.is_leader(),
        "epoch": control.acting().and_then(|a| a.epoch),
        "leader_seen": control.leader_seen(),
    }))
    .into_response()
}
