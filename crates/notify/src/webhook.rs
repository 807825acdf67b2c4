//! Webhooks: one JSON POST per notification ([`crate::payload`]), Slack-compatible. Any 2xx is
//! delivered; redirects are not followed. The URL is treated as a secret: errors and logs name
//! its scheme and host only.

use crate::payload::payload;
use crate::NotifyError;
use pilotlight_core::capability::{Notification, Notifier};
use pilotlight_core::{CapabilityError, ErrorClass};
use std::time::Duration;

/// `https://hooks.slack.com/…`: the scheme and host of `url`, never its path or query (which
/// may hold a token).
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{host}{port}/…", u.scheme())
        }
        Err(_) => "(not a URL)".to_string(),
    }
}

/// Posts notifications to one webhook URL.
#[derive(Debug, Clone)]
pub struct WebhookNotifier {
    url: reqwest::Url,
    redacted: String,
    host: String,
    client: reqwest::Client,
}

impl WebhookNotifier {
    /// A notifier for `url` (http or https); each POST may take at most `timeout`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, NotifyError> {
        let redacted = redact_url(url);
        let parsed = reqwest::Url::parse(url).map_err(|e| NotifyError::InvalidWebhookUrl {
            url: redacted.clone(),
            reason: format!("not a URL: {e}"),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(NotifyError::InvalidWebhookUrl {
                url: redacted,
                reason: format!("scheme `{}` is not http or https", parsed.scheme()),
            });
        }
        let host = parsed.host_str().unwrap_or_default().to_string();
        if host.is_empty() {
            return Err(NotifyError::InvalidWebhookUrl {
                url: redacted,
                reason: "no host".into(),
            });
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pilotlight/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| NotifyError::HttpClient(e.without_url().to_string()))?;
        Ok(WebhookNotifier {
            url: parsed,
            redacted,
            host,
            client,
        })
    }

    /// The URL with its path and query hidden (for logs).
    pub fn redacted_url(&self) -> &str {
        &self.redacted
    }

    fn error(&self, class: ErrorClass, code: Option<String>, message: String) -> CapabilityError {
        let hint = match class {
            ErrorClass::Retryable => format!(
                "the webhook at {} is failing or slow; it is tried again with the next \
                 notification",
                self.redacted
            ),
            ErrorClass::Unreachable => format!(
                "check network access from Pilotlight to {} (DNS, proxy, firewall)",
                self.host
            ),
            ErrorClass::Credentials => format!(
                "the webhook refused the request: check the URL's token in \
                 `notifications.webhooks` ({})",
                self.redacted
            ),
            ErrorClass::Terminal => format!(
                "the webhook rejected the request: check the URL in `notifications.webhooks` \
                 ({})",
                self.redacted
            ),
        };
        CapabilityError {
            class,
            service: "webhook".into(),
            region: self.host.clone(),
            operation: "POST".into(),
            code,
            message,
            hint,
        }
    }
}

#[async_trait::async_trait]
impl Notifier for WebhookNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), CapabilityError> {
        let resp = self
            .client
            .post(self.url.clone())
            .json(&payload(n))
            .send()
            .await
            .map_err(|e| {
                let class = if e.is_connect() {
                    ErrorClass::Unreachable
                } else {
                    ErrorClass::Retryable
                };
                let code = e.is_timeout().then(|| "Timeout".to_string());
                self.error(class, code, chain(&e.without_url()))
            })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let class = match status.as_u16() {
            429 | 500..=599 | 408 => ErrorClass::Retryable,
            401 | 403 => ErrorClass::Credentials,
            _ => ErrorClass::Terminal,
        };
        let body = resp.text().await.unwrap_or_default();
        let body: String = body.trim().chars().take(200).collect();
        let message = if body.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {body}")
        };
        Err(self.error(class, Some(format!("HTTP {}", status.as_u16())), message))
    }
}

/// `err` and its sources, joined with `: `, repeated texts left out.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8080/hook?token=x"),
            "http://127.0.0.1:8080/…"
        );
        assert_eq!(redact_url("not a url"), "(not a URL)");
    }

    #[test]
    fn bad_urls_are_refused_without_their_secret() {
        let t = Duration::from_secs(1);
        for (url, why) in [
            ("ftp://example.com/secret", "scheme `ftp`"),
            ("hooks.slack.com/secret", "not a URL"),
        ] {
            let e = WebhookNotifier::new(url, t).unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
            assert!(!e.to_string().contains("secret"), "{e}");
        }
        assert!(WebhookNotifier::new("https://hooks.slack.com/x", t).is_ok());
    }
}
