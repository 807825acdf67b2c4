//! [`Fanout`]: one notification to every configured notifier at once, each bounded by the
//! timeout, none able to block or fail another.

use futures::future::join_all;
use pilotlight_core::capability::{Notification, Notifier};
use pilotlight_core::{CapabilityError, ErrorClass};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What happened to one notifier's delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The notifier's name (`webhook[0] https://hooks.slack.com/…`, `sns arn:...`).
    pub notifier: String,
    /// Delivered, or why not (a notifier that did not finish in time is a retryable error with
    /// code `Timeout`).
    pub result: Result<(), CapabilityError>,
    /// How long it took (at most about the timeout).
    pub elapsed: Duration,
}

/// Sends each notification to every notifier concurrently, each bounded by `timeout`. A failing
/// or hanging notifier never blocks or fails the others; failures are logged (`tracing`, level
/// warn, with key/value fields). As a [`Notifier`] it succeeds unless every notifier failed.
#[derive(Clone)]
pub struct Fanout {
    targets: Vec<(String, Arc<dyn Notifier>)>,
    timeout: Duration,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("notifiers", &self.names())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Fanout {
    /// No notifiers yet; each delivery may take at most `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Fanout {
            targets: Vec::new(),
            timeout,
        }
    }

    /// Adds `notifier` under `name` (used in logs and errors; never put a secret in it).
    pub fn push(&mut self, name: impl Into<String>, notifier: Arc<dyn Notifier>) {
        self.targets.push((name.into(), notifier));
    }

    /// This fan-out with `notifier` added under `name`.
    pub fn with(mut self, name: impl Into<String>, notifier: Arc<dyn Notifier>) -> Self {
        self.push(name, notifier);
        self
    }

    /// The notifiers' names, in the order they were added.
    pub fn names(&self) -> Vec<&str> {
        self.targets.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// How many notifiers there are.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The time allowed per delivery.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends `n` to every notifier at once and reports each delivery, in the order the
    /// notifiers were added. Returns after about `timeout` at most. Failures are logged.
    pub async fn send(&self, n: &Notification) -> Vec<Delivery> {
        let timeout = self.timeout;
        let deliveries = join_all(self.targets.iter().map(|(name, notifier)| async move {
            let start = Instant::now();
            let result = match tokio::time::timeout(timeout, notifier.notify(n)).await {
                Ok(r) => r,
                Err(_) => Err(timed_out(name, timeout)),
            };
            Delivery {
                notifier: name.clone(),
                result,
                elapsed: start.elapsed(),
            }
        }))
        .await;
        for d in &deliveries {
            match &d.result {
                Ok(()) => tracing::debug!(
                    notifier = d.notifier.as_str(),
                    kind = n.kind.as_str(),
                    environment = n.environment.as_str(),
                    run_id = n.run_id.as_deref().unwrap_or(""),
                    elapsed_ms = d.elapsed.as_millis() as u64,
                    "notification delivered"
                ),
                Err(e) => tracing::warn!(
                    notifier = d.notifier.as_str(),
                    kind = n.kind.as_str(),
                    environment = n.environment.as_str(),
                    run_id = n.run_id.as_deref().unwrap_or(""),
                    elapsed_ms = d.elapsed.as_millis() as u64,
                    class = ?e.class,
                    code = e.code.as_deref().unwrap_or(""),
                    error = %e,
                    "notification not delivered"
                ),
            }
        }
        deliveries
    }
}

fn timed_out(name: &str, timeout: Duration) -> CapabilityError {
    CapabilityError {
        class: ErrorClass::Retryable,
        service: "notify".into(),
        region: "-".into(),
        operation: name.to_string(),
        code: Some("Timeout".into()),
        message: format!("no answer within {} ms", timeout.as_millis()),
        hint: "the receiver is slow or hanging; `notifications.timeout` bounds each delivery"
            .into(),
    }
}

#[async_trait::async_trait]
impl Notifier for Fanout {
    async fn notify(&self, n: &Notification) -> Result<(), CapabilityError> {
        let deliveries = self.send(n).await;
        if deliveries.is_empty() || deliveries.iter().any(|d| d.result.is_ok()) {
            return Ok(());
        }
        let errors: Vec<&CapabilityError> = deliveries
            .iter()
            .filter_map(|d| d.result.as_ref().err())
            .collect();
        let class = if errors.iter().any(|e| e.class.is_retryable()) {
            ErrorClass::Retryable
        } else {
            errors[0].class
        };
        let message = deliveries
            .iter()
            .filter_map(|d| {
                d.result
                    .as_ref()
                    .err()
                    .map(|e| format!("{}: {e}", d.notifier))
            })
            .collect::<Vec<_>>()
            .join("; ");
        Err(CapabilityError {
            class,
            service: "notify".into(),
            region: "-".into(),
            operation: "Notify".into(),
            code: None,
            message: format!("every notifier failed: {message}"),
            hint: "check `[notifications]` in the environment config and the receivers".into(),
        })
    }
}
