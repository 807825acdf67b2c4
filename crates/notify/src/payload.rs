//! What a notification looks like on the wire: one line of text for people (Slack's `text`,
//! SNS's email and SMS body) and a JSON object with the structured fields.

use pilotlight_core::capability::Notification;
use serde_json::{json, Value};

/// One line for people: `[confer-prod] run_started (run 20261121-0901-failover): failover
/// started by alice`.
pub fn text(n: &Notification) -> String {
    let run = n
        .run_id
        .as_deref()
        .map(|r| format!(" (run {r})"))
        .unwrap_or_default();
    format!("[{}] {}{run}: {}", n.environment, n.kind, n.message)
}

/// The JSON body: Slack-compatible (`text`) with the structured fields
/// (`{"text", "environment", "run_id", "kind", "message"}`; `run_id` is `null` when the
/// notification concerns no run).
pub fn payload(n: &Notification) -> Value {
    json!({
        "text": text(n),
        "environment": n.environment,
        "run_id": n.run_id,
        "kind": n.kind,
        "message": n.message,
    })
}

/// SNS's subject (email subscriptions): `pilotlight confer-prod: run_started`, printable ASCII
/// only (anything else becomes `?`), at most 100 characters, as SNS requires.
pub fn subject(n: &Notification) -> String {
    let s = format!("pilotlight {}: {}", n.environment, n.kind);
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(100)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(run: Option<&str>) -> Notification {
        Notification {
            environment: "confer-prod".into(),
            run_id: run.map(str::to_string),
            kind: "run_started".into(),
            message: "failover started by alice".into(),
        }
    }

    #[test]
    fn text_and_payload() {
        assert_eq!(
            text(&n(Some("r1"))),
            "[confer-prod] run_started (run r1): failover started by alice"
        );
        assert_eq!(
            text(&n(None)),
            "[confer-prod] run_started: failover started by alice"
        );
        assert_eq!(
            payload(&n(None)),
            json!({"text": "[confer-prod] run_started: failover started by alice",
                   "environment": "confer-prod", "run_id": null, "kind": "run_started",
                   "message": "failover started by alice"})
        );
    }

    #[test]
    fn subjects_are_what_sns_accepts() {
        assert_eq!(subject(&n(None)), "pilotlight confer-prod: run_started");
        let mut odd = n(None);
        odd.environment = "prod\népée".repeat(20);
        let s = subject(&odd);
        assert!(s.chars().count() <= 100);
        assert!(s.chars().all(|c| c.is_ascii_graphic() || c == ' '), "{s}");
    }
}
