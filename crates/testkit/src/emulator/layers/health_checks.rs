//! Route 53 health-check status.
//!
//! moto's `GetHealthCheckStatus` always reports one checker with `Success: HTTP Status Code:
//! 200`. This layer lets a test decide: a health check set unhealthy
//! (`EmulatorControl::set_health_check`, or `PUT /__emulator/health-checks/{id}`) has every
//! checker's `<Status>` rewritten to `Failure: HTTP Status Code 503, Service Unavailable.
//! Resolved IP: …`; one set healthy reports success.
//!
//! `Inverted`: moto (measured with 5.2.1) stores it from `CreateHealthCheck` and `UpdateHealthCheck` and returns
//! it in `GetHealthCheck` and `ListHealthChecks`, so the layer reads it from moto (a
//! `GetHealthCheck` of its own for each `GetHealthCheckStatus`) rather than recording it; an
//! inverted health check reports the opposite of its endpoint's (set or default) health, as
//! Route 53 does. `Disabled` is not emulated (moto's status, or the set one, is reported).
//!
//! A successful `DeleteHealthCheck` through the proxy forgets the health check's setting.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;
use http::{Method, StatusCode};

use super::super::call::Call;
use super::super::upstream::Upstream;
use super::super::xml;
use super::Layer;

/// Route 53's API version, the first segment of its paths.
const API_VERSION: &str = "2013-04-01";

/// Region Route 53 (a global service) is signed for.
const ROUTE53_REGION: &str = "us-east-1";

/// The health set for health checks: id -> healthy. Shared by the layer and `EmulatorControl`.
#[derive(Debug, Default)]
pub(crate) struct HealthChecks {
    set: Mutex<BTreeMap<String, bool>>,
}

impl HealthChecks {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, bool>> {
        self.set.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the endpoint health reported for `id`.
    pub fn set(&self, id: &str, healthy: bool) {
        self.lock().insert(id.to_owned(), healthy);
    }

    /// The health set for `id`, if any.
    pub fn get(&self, id: &str) -> Option<bool> {
        self.lock().get(id).copied()
    }

    /// Back to moto's report for `id`; returns whether it had a setting.
    pub fn clear(&self, id: &str) -> bool {
        self.lock().remove(id).is_some()
    }

    /// Back to moto's report for every health check.
    pub fn clear_all(&self) {
        self.lock().clear();
    }

    /// A copy of every setting.
    pub fn snapshot(&self) -> BTreeMap<String, bool> {
        self.lock().clone()
    }
}

/// The status text of a checker that found the endpoint unhealthy.
pub(crate) fn failure_status(ip: &str) -> String {
    format!("Failure: HTTP Status Code 503, Service Unavailable. Resolved IP: {ip}")
}

/// The status text of a checker that found the endpoint healthy.
pub(crate) fn success_status(ip: &str) -> String {
    format!("Success: HTTP Status Code 200, OK. Resolved IP: {ip}")
}

/// The health-check id of `/2013-04-01/healthcheck/{id}[/status]` (still percent-encoded).
fn health_check_id(path: &str) -> Option<&str> {
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    match (segments.next(), segments.next(), segments.next()) {
        (Some(API_VERSION), Some("healthcheck"), Some(id)) => Some(id),
        _ => None,
    }
}

/// `GetHealthCheckStatus` answer with every observation's status rewritten: a checker reports
/// success when `set_healthy` (or, unset, its own report) differs from `inverted`. `None` when
/// nothing changes.
pub(crate) fn rewrite_status(
    doc: &str,
    set_healthy: Option<bool>,
    inverted: bool,
) -> Option<String> {
    let mut edits = Vec::new();
    for element in xml::elements(doc, "HealthCheckObservation") {
        let block = &doc[element.outer.clone()];
        let Some(current) = xml::text(block, "Status") else {
            continue;
        };
        let reported_success = current.starts_with("Success");
        let healthy = set_healthy.unwrap_or(reported_success) != inverted;
        if healthy == reported_success {
            continue;
        }
        let ip = xml::text(block, "IPAddress").unwrap_or_default();
        let status = if healthy {
            success_status(&ip)
        } else {
            failure_status(&ip)
        };
        if let Some(rewritten) = xml::set_text(block, "Status", &status) {
            edits.push((element.outer, rewritten));
        }
    }
    (!edits.is_empty()).then(|| xml::splice(doc, edits))
}

/// The layer emulating health-check status.
#[derive(Debug, Clone)]
pub(crate) struct Route53HealthChecks {
    checks: Arc<HealthChecks>,
}

impl Route53HealthChecks {
    /// A layer reading the settings of `checks`.
    pub fn new(checks: Arc<HealthChecks>) -> Route53HealthChecks {
        Route53HealthChecks { checks }
    }

    /// Whether moto has the health check configured `Inverted` (false when it cannot say).
    async fn inverted(&self, id: &str, region: &str, moto: &Upstream) -> bool {
        let path = format!("/{API_VERSION}/healthcheck/{id}");
        match moto
            .signed(Method::GET, &path, "route53", region, &[], Bytes::new())
            .await
        {
            Ok(answer) if answer.status == StatusCode::OK => {
                let doc = String::from_utf8_lossy(&answer.body);
                xml::text(&doc, "Inverted").is_some_and(|v| v.trim() == "true")
            }
            Ok(answer) => {
                tracing::debug!(id, status = %answer.status, "emulator: GetHealthCheck refused");
                false
            }
            Err(e) => {
                tracing::warn!(id, error = %e, "emulator: GetHealthCheck failed");
                false
            }
        }
    }
}

#[async_trait]
impl Layer for Route53HealthChecks {
    fn wants(&self, call: &Call) -> bool {
        call.service.as_deref() == Some("route53")
            && matches!(
                call.operation.as_deref(),
                Some("GetHealthCheckStatus" | "DeleteHealthCheck")
            )
    }

    async fn after(
        &self,
        call: &Call,
        _request: &Bytes,
        status: StatusCode,
        response: &mut Bytes,
        moto: &Upstream,
    ) -> bool {
        if !status.is_success() {
            return false;
        }
        let Some(id) = health_check_id(&call.path) else {
            return false;
        };
        if call.operation.as_deref() == Some("DeleteHealthCheck") {
            if self.checks.clear(id) {
                tracing::info!(id, "emulator: deleted health check's setting forgotten");
            }
            return false;
        }
        let set_healthy = self.checks.get(id);
        let region = call.region.as_deref().unwrap_or(ROUTE53_REGION);
        let inverted = self.inverted(id, region, moto).await;
        if set_healthy.is_none() && !inverted {
            return false;
        }
        let Some(doc) = std::str::from_utf8(response)
            .ok()
            .and_then(|doc| rewrite_status(doc, set_healthy, inverted))
        else {
            return false;
        };
        tracing::debug!(
            id,
            ?set_healthy,
            inverted,
            "emulator: health-check status rewritten"
        );
        *response = Bytes::from(doc);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOTO: &str = "<GetHealthCheckStatusResponse><HealthCheckObservations><HealthCheckObservation>\
        <Region>us-east-1</Region><IPAddress>127.0.13.37</IPAddress><StatusReport><Status>Success: HTTP \
        Status Code: 200. Resolved IP: 127.0.13.37. OK</Status><CheckedTime>t</CheckedTime></StatusReport>\
        </HealthCheckObservation></HealthCheckObservations></GetHealthCheckStatusResponse>";

    #[test]
    fn ids_come_from_the_path() {
        assert_eq!(
            health_check_id("/2013-04-01/healthcheck/abc-1/status"),
            Some("abc-1")
        );
        assert_eq!(
            health_check_id("/2013-04-01/healthcheck/abc-1"),
            Some("abc-1")
        );
        assert_eq!(health_check_id("/2013-04-01/healthcheck"), None);
        assert_eq!(health_check_id("/2013-04-01/hostedzone/Z1"), None);
    }

    #[test]
    fn status_follows_setting_and_inversion() {
        assert_eq!(rewrite_status(MOTO, None, false), None);
        assert_eq!(rewrite_status(MOTO, Some(true), false), None);
        let down = rewrite_status(MOTO, Some(false), false).unwrap();
        assert!(down.contains(
            "<Status>Failure: HTTP Status Code 503, Service Unavailable. Resolved IP: 127.0.13.37</Status>"
        ));
        assert!(down.contains("<CheckedTime>t</CheckedTime>"));
        let inverted_healthy = rewrite_status(MOTO, None, true).unwrap();
        assert!(inverted_healthy.contains("<Status>Failure: HTTP Status Code 503"));
        let inverted_down = rewrite_status(&down, Some(false), true).unwrap();
        assert!(inverted_down.contains("<Status>Success: HTTP Status Code 200, OK."));
    }

    #[test]
    fn settings_are_kept_per_id() {
        let checks = HealthChecks::default();
        checks.set("a", false);
        checks.set("b", true);
        assert_eq!(checks.get("a"), Some(false));
        assert!(checks.clear("a"));
        assert!(!checks.clear("a"));
        assert_eq!(checks.snapshot(), BTreeMap::from([("b".to_owned(), true)]));
        checks.clear_all();
        assert!(checks.snapshot().is_empty());
    }
}
