//! The HTTP control API under `/__emulator/`, so another process (the CLI, a game-day script,
//! curl) can drive faults and the emulation's settings, and read counters:
//!
//! | method and path | body | effect |
//! | --- | --- | --- |
//! | `GET /__emulator/faults` | | `{"rules": [...], "stats": {...}}` |
//! | `POST /__emulator/faults` | a rule, a rule list, or `{"rules": [...]}` | appends the rules |
//! | `PUT /__emulator/faults` | same | replaces all rules |
//! | `DELETE /__emulator/faults` | none, or rules | clears all rules, or removes those with the same filters and action |
//! | `GET /__emulator/stats` | | the counters |
//! | `DELETE /__emulator/stats` | | zeroes the counters |
//! | `GET /__emulator/global-tables` | | `{"table": ["region", ...]}` |
//! | `GET /__emulator/settings` | | `{"promotion_delay_ms": 0}` |
//! | `PUT /__emulator/settings` | `{"promotion_delay_ms": 3000}` (fields optional) | changes the given settings, answers all |
//! | `GET /__emulator/promotions` | | `[{"region", "instance", "complete", "remaining_ms"}, ...]` |
//! | `GET /__emulator/health-checks` | | `{"id": {"healthy": false}, ...}` |
//! | `DELETE /__emulator/health-checks` | | removes every health-check setting |
//! | `GET /__emulator/health-checks/{id}` | | `{"id": ..., "healthy": bool or null}` |
//! | `PUT /__emulator/health-checks/{id}` | `{"healthy": false}` | sets the endpoint health reported for `id` |
//! | `DELETE /__emulator/health-checks/{id}` | | back to moto's report for `id` |
//!
//! Bad input answers 400 with `{"error": "..."}`; nothing is changed then. Unknown fields are
//! refused.

use std::sync::Arc;

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use super::faults::FaultRule;
use super::Shared;

/// Body of `PUT /__emulator/settings`: the settings to change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsUpdate {
    /// New RDS promotion delay in milliseconds.
    #[serde(default)]
    promotion_delay_ms: Option<u64>,
}

/// Body of `PUT /__emulator/health-checks/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HealthUpdate {
    /// Whether the endpoint behind the health check is healthy.
    healthy: bool,
}

/// Parses a JSON body into `T` (an empty body is `{}`).
fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| format!("invalid body: {e}"))
}

/// The control routes, to be merged in front of the proxy's fallback.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/__emulator/faults",
            get(list_faults)
                .post(add_faults)
                .put(replace_faults)
                .delete(remove_faults),
        )
        .route("/__emulator/stats", get(stats).delete(reset_stats))
        .route("/__emulator/global-tables", get(global_tables))
        .route("/__emulator/settings", get(settings).put(update_settings))
        .route("/__emulator/promotions", get(promotions))
        .route(
            "/__emulator/health-checks",
            get(health_checks).delete(clear_health_checks),
        )
        .route(
            "/__emulator/health-checks/{id}",
            get(health_check)
                .put(set_health_check)
                .delete(clear_health_check),
        )
}

/// Parses a rule, a list of rules, or `{"rules": [...]}` (what `GET` returns). An empty body
/// is an empty list.
fn parse_rules(body: &Bytes) -> Result<Vec<FaultRule>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let value = match value {
        Value::Object(mut map) if map.contains_key("rules") => {
            map.remove("rules").unwrap_or(Value::Null)
        }
        other => other,
    };
    let rules = if value.is_array() {
        serde_json::from_value(value)
    } else {
        serde_json::from_value(value).map(|rule| vec![rule])
    };
    rules.map_err(|e| format!("invalid fault rule: {e}"))
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
}

fn rules_answer(shared: &Shared) -> Response {
    Json(json!({"rules": shared.faults.rules()})).into_response()
}

async fn list_faults(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({"rules": shared.faults.rules(), "stats": shared.stats.snapshot()})).into_response()
}

async fn add_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let outcome =
        parse_rules(&body).and_then(|r| shared.faults.extend(r).map_err(|e| e.to_string()));
    match outcome {
        Ok(()) => rules_answer(&shared),
        Err(message) => bad_request(message),
    }
}

async fn replace_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let outcome = parse_rules(&body).and_then(|r| shared.faults.set(r).map_err(|e| e.to_string()));
    match outcome {
        Ok(()) => rules_answer(&shared),
        Err(message) => bad_request(message),
    }
}

async fn remove_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse_rules(&body) {
        Ok(rules) if rules.is_empty() => {
            let removed = shared.faults.rules().len();
            shared.faults.clear();
            Json(json!({"removed": removed, "rules": []})).into_response()
        }
        Ok(rules) => {
            let removed = shared.faults.remove(&rules);
            Json(json!({"removed": removed, "rules": shared.faults.rules()})).into_response()
        }
        Err(message) => bad_request(message),
    }
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.stats.snapshot()).into_response()
}

async fn reset_stats(State(shared): State<Arc<Shared>>) -> Response {
    shared.stats.reset();
    Json(shared.stats.snapshot()).into_response()
}

async fn global_tables(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.global_tables.snapshot()).into_response()
}

async fn settings(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.control.settings()).into_response()
}

async fn update_settings(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let update: SettingsUpdate = match parse_body(&body) {
        Ok(update) => update,
        Err(message) => return bad_request(message),
    };
    if let Some(ms) = update.promotion_delay_ms {
        if let Err(e) = shared
            .control
            .set_promotion_delay(Duration::from_millis(ms))
        {
            return bad_request(e.to_string());
        }
    }
    Json(shared.control.settings()).into_response()
}

async fn promotions(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.control.promotions()).into_response()
}

fn health_checks_answer(shared: &Shared) -> Response {
    let map: serde_json::Map<String, Value> = shared
        .control
        .health_checks()
        .into_iter()
        .map(|(id, healthy)| (id, json!({"healthy": healthy})))
        .collect();
    Json(Value::Object(map)).into_response()
}

async fn health_checks(State(shared): State<Arc<Shared>>) -> Response {
    health_checks_answer(&shared)
}

async fn clear_health_checks(State(shared): State<Arc<Shared>>) -> Response {
    shared.control.clear_health_checks();
    health_checks_answer(&shared)
}

async fn health_check(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let healthy = shared.control.health_checks().get(&id).copied();
    Json(json!({"id": id, "healthy": healthy})).into_response()
}

async fn set_health_check(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if body.iter().all(u8::is_ascii_whitespace) {
        return bad_request("body required: {\"healthy\": true|false}".to_owned());
    }
    match parse_body::<HealthUpdate>(&body) {
        Ok(update) => {
            shared.control.set_health_check(id.clone(), update.healthy);
            Json(json!({"id": id, "healthy": update.healthy})).into_response()
        }
        Err(message) => bad_request(message),
    }
}

async fn clear_health_check(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let removed = shared.control.clear_health_check(&id);
    Json(json!({"id": id, "removed": removed})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::FaultAction;

    #[test]
    fn accepts_single_list_and_wrapped_forms() {
        let one = parse_rules(&Bytes::from_static(br#"{"action":"throttle"}"#)).unwrap();
        assert_eq!(one, vec![FaultRule::new(FaultAction::Throttle)]);
        let list = parse_rules(&Bytes::from_static(
            br#"[{"action":"outage","region":"us-east-1"},{"action":"server_error"}]"#,
        ))
        .unwrap();
        assert_eq!(list.len(), 2);
        let wrapped =
            parse_rules(&Bytes::from_static(br#"{"rules":[{"action":"throttle"}]}"#)).unwrap();
        assert_eq!(wrapped, one);
        assert!(parse_rules(&Bytes::from_static(b"  ")).unwrap().is_empty());
        assert!(parse_rules(&Bytes::from_static(br#"{"action":"explode"}"#)).is_err());
    }

    #[test]
    fn settings_and_health_bodies_refuse_unknown_fields() {
        let update: SettingsUpdate =
            parse_body(&Bytes::from_static(br#"{"promotion_delay_ms": 3000}"#)).unwrap();
        assert_eq!(update.promotion_delay_ms, Some(3000));
        let empty: SettingsUpdate = parse_body(&Bytes::new()).unwrap();
        assert_eq!(empty.promotion_delay_ms, None);
        assert!(
            parse_body::<SettingsUpdate>(&Bytes::from_static(br#"{"promotion_delay":1}"#)).is_err()
        );
        let health: HealthUpdate =
            parse_body(&Bytes::from_static(br#"{"healthy": false}"#)).unwrap();
        assert!(!health.healthy);
        assert!(parse_body::<HealthUpdate>(&Bytes::from_static(br#"{"healthy":"no"}"#)).is_err());
        assert!(parse_body::<HealthUpdate>(&Bytes::from_static(b"{}")).is_err());
    }
}
