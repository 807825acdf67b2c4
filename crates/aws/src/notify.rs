//! Publishing notifications to an SNS topic (the `sns_topic_arn` of `[notifications]`), through
//! [`Caller`]. The message format is the notifier's business (`pilotlight-notify`); this module
//! only sends.

use crate::retry::Caller;
use crate::ClientFactory;
use aws_sdk_sns::types::MessageAttributeValue;
use pilotlight_core::{CapabilityError, ErrorClass};
use std::sync::Arc;

/// The region of an SNS topic ARN (`arn:aws:sns:REGION:ACCOUNT:NAME`); `None` when `arn` is not
/// one.
pub fn topic_region(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (arn_lit, partition, service, region, account, name) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let ok = arn_lit == "arn"
        && !partition.is_empty()
        && service == "sns"
        && !region.is_empty()
        && !account.is_empty()
        && !name.is_empty()
        && !name.contains(':');
    ok.then_some(region)
}

/// One message to publish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnsMessage {
    /// The body. With `json_structure`, a JSON object of per-protocol bodies with a `default`.
    pub body: String,
    /// `MessageStructure=json`: `body` holds one message per subscription protocol.
    pub json_structure: bool,
    /// The subject (email subscriptions); SNS allows at most 100 printable ASCII characters.
    pub subject: Option<String>,
    /// String message attributes (for subscription filter policies), name → value.
    pub attributes: Vec<(String, String)>,
}

/// Publishes to SNS topics. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    clients: Arc<ClientFactory>,
    caller: Caller,
}

impl SnsPublisher {
    /// Publishes through `clients`, every call through `caller`.
    pub fn new(clients: Arc<ClientFactory>, caller: Caller) -> Self {
        SnsPublisher { clients, caller }
    }

    /// Publishes `message` to `topic_arn` (in the topic's region) and returns SNS's message id.
    pub async fn publish(
        &self,
        topic_arn: &str,
        message: &SnsMessage,
    ) -> Result<String, CapabilityError> {
        let region = topic_region(topic_arn).ok_or_else(|| CapabilityError {
            class: ErrorClass::Terminal,
            service: "sns".into(),
            region: "-".into(),
            operation: "Publish".into(),
            code: None,
            message: format!("`{topic_arn}` is not an SNS topic ARN"),
            hint: "set `notifications.sns_topic_arn` to arn:aws:sns:REGION:ACCOUNT:TOPIC".into(),
        })?;
        let mut attributes = std::collections::HashMap::new();
        for (name, value) in &message.attributes {
            if value.is_empty() {
                // SNS refuses empty attribute values.
                continue;
            }
            let v = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| CapabilityError {
                    class: ErrorClass::Terminal,
                    service: "sns".into(),
                    region: region.into(),
                    operation: "Publish".into(),
                    code: None,
                    message: format!("message attribute `{name}`: {e}"),
                    hint: "this is a bug in Pilotlight; please report it".into(),
                })?;
            attributes.insert(name.clone(), v);
        }
        let client = aws_sdk_sns::Client::new(&self.clients.sdk_config(region).await);
        let out = self
            .caller
            .call("sns", region, "Publish", || {
                client
                    .publish()
                    .topic_arn(topic_arn)
                    .message(&message.body)
                    .set_message_structure(message.json_structure.then(|| "json".to_string()))
                    .set_subject(message.subject.clone())
                    .set_message_attributes((!attributes.is_empty()).then(|| attributes.clone()))
                    .send()
            })
            .await?;
        Ok(out.message_id().unwrap_or_default().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_regions() {
        assert_eq!(
            topic_region("arn:aws:sns:us-west-2:123456789012:confer-alerts"),
            Some("us-west-2")
        );
        assert_eq!(
            topic_region("arn:aws-cn:sns:cn-north-1:123456789012:t.fifo"),
            Some("cn-north-1")
        );
        for bad in [
            "",
            "confer-alerts",
            "arn:aws:sqs:us-west-2:123456789012:q",
            "arn:aws:sns::123456789012:t",
            "arn:aws:sns:us-west-2:123456789012:",
            "arn:aws:sns:us-west-2:123456789012:t:sub-id",
        ] {
            assert_eq!(topic_region(bad), None, "{bad}");
        }
    }
}
