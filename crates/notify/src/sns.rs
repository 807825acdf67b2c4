//! SNS: one publish per notification to the configured topic, with `MessageStructure=json` so
//! each kind of subscriber gets what suits it: email and SMS the one-line text, HTTP(S), SQS,
//! Lambda, Firehose and `email-json` the JSON payload of [`crate::payload`]. String message
//! attributes `environment`, `kind` and `run_id` allow subscription filter policies.

use crate::payload::{payload, subject, text};
use crate::NotifyError;
use pilotlight_aws::notify::{topic_region, SnsMessage, SnsPublisher};
use pilotlight_aws::{Caller, ClientFactory};
use pilotlight_core::capability::{Notification, Notifier};
use pilotlight_core::CapabilityError;
use serde_json::json;
use std::sync::Arc;

/// Subscription protocols that receive the JSON payload rather than the text.
const JSON_PROTOCOLS: &[&str] = &["http", "https", "sqs", "lambda", "firehose", "email-json"];

/// Publishes notifications to one SNS topic.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    topic_arn: String,
    publisher: SnsPublisher,
}

impl SnsNotifier {
    /// A notifier for `topic_arn`, publishing through `clients` and `caller` (in the topic's
    /// region).
    pub fn new(
        topic_arn: &str,
        clients: Arc<ClientFactory>,
        caller: Caller,
    ) -> Result<Self, NotifyError> {
        if topic_region(topic_arn).is_none() {
            return Err(NotifyError::InvalidTopicArn {
                arn: topic_arn.to_string(),
            });
        }
        Ok(SnsNotifier {
            topic_arn: topic_arn.to_string(),
            publisher: SnsPublisher::new(clients, caller),
        })
    }

    /// The topic.
    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// What is published for `n`.
    pub fn message(n: &Notification) -> SnsMessage {
        let line = text(n);
        let structured = payload(n).to_string();
        let mut body = serde_json::Map::new();
        body.insert("default".into(), json!(line));
        for p in JSON_PROTOCOLS {
            body.insert((*p).into(), json!(structured));
        }
        let mut attributes = vec![
            ("environment".to_string(), n.environment.clone()),
            ("kind".to_string(), n.kind.clone()),
        ];
        if let Some(run) = &n.run_id {
            attributes.push(("run_id".to_string(), run.clone()));
        }
        SnsMessage {
            body: serde_json::Value::Object(body).to_string(),
            json_structure: true,
            subject: Some(subject(n)),
            attributes,
        }
    }
}

#[async_trait::async_trait]
impl Notifier for SnsNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), CapabilityError> {
        let id = self
            .publisher
            .publish(&self.topic_arn, &Self::message(n))
            .await?;
        tracing::debug!(
            topic = self.topic_arn.as_str(),
            message_id = id.as_str(),
            "published"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_per_kind_of_subscriber() {
        let n = Notification {
            environment: "confer-prod".into(),
            run_id: None,
            kind: "declaration".into(),
            message: "primary down".into(),
        };
        let m = SnsNotifier::message(&n);
        assert!(m.json_structure);
        let body: serde_json::Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(body["default"], "[confer-prod] declaration: primary down");
        let https: serde_json::Value =
            serde_json::from_str(body["https"].as_str().unwrap()).unwrap();
        assert_eq!(https, payload(&n));
        assert_eq!(body["sqs"], body["https"]);
        assert_eq!(
            m.subject.as_deref(),
            Some("pilotlight confer-prod: declaration")
        );
        assert_eq!(
            m.attributes,
            vec![
                ("environment".to_string(), "confer-prod".to_string()),
                ("kind".to_string(), "declaration".to_string())
            ]
        );
    }
}
