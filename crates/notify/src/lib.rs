//! Notifiers for the core's [`Notifier`] capability: [`WebhookNotifier`] (a JSON POST,
//! Slack-compatible), [`SnsNotifier`] (an SNS publish through `pilotlight_aws`), [`LogNotifier`]
//! (the log only) and [`Fanout`] (all of them at once), built from the `[notifications]` section
//! by [`from_config`].
//!
//! Invariants:
//! - a failing notifier never blocks or fails another: [`Fanout`] sends to every notifier
//!   concurrently, each bounded by the configured timeout, logs each failure and fails only when
//!   every notifier failed;
//! - a webhook URL is a secret (Slack's carry a token): only its scheme and host are ever logged
//!   or put in an error;
//! - every AWS call goes through `pilotlight_aws` (the one retry layer, the permissions table).

#![warn(missing_docs)]

mod fanout;
mod payload;
mod sns;
mod webhook;

pub use fanout::{Delivery, Fanout};
pub use payload::{payload, subject, text};
pub use sns::SnsNotifier;
pub use webhook::{redact_url, WebhookNotifier};

use pilotlight_aws::{Caller, ClientFactory};
use pilotlight_core::capability::{Notification, Notifier};
use pilotlight_core::model::NotificationsConfig;
use pilotlight_core::{CapabilityError, ErrorClass};
use std::sync::Arc;

/// Why a notifier could not be built from its configuration. Never retryable: the configuration
/// must change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// A webhook URL that cannot be used (shown redacted).
    #[error("webhook {url}: {reason} (fix `notifications.webhooks`)")]
    InvalidWebhookUrl {
        /// The URL, scheme and host only.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not an SNS topic ARN.
    #[error("`{arn}` is not an SNS topic ARN (set `notifications.sns_topic_arn` to arn:aws:sns:REGION:ACCOUNT:TOPIC)")]
    InvalidTopicArn {
        /// The configured value.
        arn: String,
    },
    /// The HTTP client could not be built (the TLS setup failed).
    #[error("the HTTP client for webhooks could not be built: {0}")]
    HttpClient(String),
}

impl NotifyError {
    /// How to handle it: always [`ErrorClass::Terminal`] (the configuration must change).
    pub fn class(&self) -> ErrorClass {
        ErrorClass::Terminal
    }

    /// Whether trying again may help: never.
    pub fn is_retryable(&self) -> bool {
        self.class().is_retryable()
    }
}

/// Logs every notification (`tracing`, level info) and never fails: what `serve` and the runs
/// use when no notifier is configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogNotifier;

#[async_trait::async_trait]
impl Notifier for LogNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), CapabilityError> {
        tracing::info!(
            environment = n.environment.as_str(),
            run_id = n.run_id.as_deref().unwrap_or(""),
            kind = n.kind.as_str(),
            message = n.message.as_str(),
            "notification"
        );
        Ok(())
    }
}

/// Every notifier `cfg` configures, in a [`Fanout`] bounded by `cfg.timeout`; the first
/// configuration problem is an error.
pub fn try_from_config(
    cfg: Option<&NotificationsConfig>,
    clients: Arc<ClientFactory>,
    caller: Caller,
) -> Result<Arc<dyn Notifier>, NotifyError> {
    let Some(cfg) = cfg.filter(|c| !c.webhooks.is_empty() || c.sns_topic_arn.is_some()) else {
        return Ok(Arc::new(LogNotifier));
    };
    let mut fanout = Fanout::new(cfg.timeout);
    for (i, url) in cfg.webhooks.iter().enumerate() {
        let w = WebhookNotifier::new(url, cfg.timeout)?;
        fanout.push(format!("webhook[{i}] {}", w.redacted_url()), Arc::new(w));
    }
    if let Some(arn) = &cfg.sns_topic_arn {
        let s = SnsNotifier::new(arn, clients, caller)?;
        fanout.push(format!("sns {arn}"), Arc::new(s));
    }
    Ok(Arc::new(fanout))
}

/// Like [`try_from_config`], but a notifier that cannot be built is left out (logged as an
/// error) instead of failing the rest; with nothing configured, or nothing usable, the
/// [`LogNotifier`].
pub fn from_config(
    cfg: Option<&NotificationsConfig>,
    clients: Arc<ClientFactory>,
    caller: Caller,
) -> Arc<dyn Notifier> {
    let Some(cfg) = cfg.filter(|c| !c.webhooks.is_empty() || c.sns_topic_arn.is_some()) else {
        return Arc::new(LogNotifier);
    };
    let mut fanout = Fanout::new(cfg.timeout);
    for (i, url) in cfg.webhooks.iter().enumerate() {
        match WebhookNotifier::new(url, cfg.timeout) {
            Ok(w) => fanout.push(format!("webhook[{i}] {}", w.redacted_url()), Arc::new(w)),
            Err(e) => tracing::error!(webhook = i, error = %e, "webhook left out"),
        }
    }
    if let Some(arn) = &cfg.sns_topic_arn {
        match SnsNotifier::new(arn, clients, caller) {
            Ok(s) => fanout.push(format!("sns {arn}"), Arc::new(s)),
            Err(e) => tracing::error!(topic = arn.as_str(), error = %e, "SNS notifier left out"),
        }
    }
    if fanout.is_empty() {
        tracing::error!(
            "no usable notifier in `[notifications]`: notifications go to the log only"
        );
        return Arc::new(LogNotifier);
    }
    Arc::new(fanout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_are_terminal() {
        let e = NotifyError::InvalidTopicArn { arn: "x".into() };
        assert_eq!(e.class(), ErrorClass::Terminal);
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("notifications.sns_topic_arn"));
    }
}
