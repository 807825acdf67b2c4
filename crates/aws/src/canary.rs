//! The canary stores of a DR drill (`pilotlight_drill::canary::CanaryStore`): a DynamoDB item in
//! the global table, written in the primary and read in DR; an S3 object under
//! `pilotlight-drill/` in the primary bucket, read from the DR bucket of the replicated pair.
//! Both through [`Caller`]. Canaries are left in place (they are tiny and keyed by drill id;
//! the S3 grant covers `pilotlight-drill/*` keys only).
//!
//! A database canary needs a SQL connection to the primary and the replica, which Pilotlight
//! does not have (and the emulator has no SQL engine): the drill reports the database as not
//! measured, with the replica lag at the lag gate as an estimate, and says so.

use crate::retry::Caller;
use crate::ClientFactory;
use aws_sdk_dynamodb::types::{AttributeValue, KeyType, ScalarAttributeType};
use pilotlight_core::model::{DynamoTable, S3BucketPair};
use pilotlight_core::{CapabilityError, ErrorClass};
use pilotlight_drill::canary::CanaryStore;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// Attribute holding the canary's write time (ms since the epoch) in a DynamoDB canary item.
pub const WRITTEN_AT_ATTRIBUTE: &str = "pilotlight_canary_written_at_ms";

/// A canary item in a DynamoDB global table.
pub struct DynamoCanary {
    clients: Arc<ClientFactory>,
    caller: Caller,
    table: DynamoTable,
    primary: String,
    dr: String,
    /// The table's key attributes (hash, then range), read once from the primary.
    key: OnceCell<Vec<String>>,
}

impl DynamoCanary {
    /// Canaries in `table`, written in `primary`, looked for in `dr`.
    pub fn new(
        clients: Arc<ClientFactory>,
        caller: Caller,
        table: DynamoTable,
        primary: &str,
        dr: &str,
    ) -> Self {
        DynamoCanary {
            clients,
            caller,
            table,
            primary: primary.to_string(),
            dr: dr.to_string(),
            key: OnceCell::new(),
        }
    }

    /// The key attributes; a canary needs string keys.
    async fn key_attributes(&self) -> Result<&Vec<String>, CapabilityError> {
        self.key
            .get_or_try_init(|| async {
                let client = self.clients.dynamodb(&self.primary).await;
                let out = self
                    .caller
                    .call("dynamodb", &self.primary, "DescribeTable", || {
                        client.describe_table().table_name(&self.table.table).send()
                    })
                    .await?;
                let t = out.table();
                let string_attr = |name: &str| {
                    t.and_then(|t| {
                        t.attribute_definitions()
                            .iter()
                            .find(|d| d.attribute_name() == name)
                    })
                    .is_some_and(|d| d.attribute_type() == &ScalarAttributeType::S)
                };
                let mut keys = Vec::new();
                for kind in [KeyType::Hash, KeyType::Range] {
                    if let Some(k) = t
                        .map(|t| t.key_schema())
                        .unwrap_or_default()
                        .iter()
                        .find(|k| k.key_type() == &kind)
                    {
                        if !string_attr(k.attribute_name()) {
                            return Err(self.terminal(
                                "DescribeTable",
                                &self.primary,
                                format!(
                                    "key attribute `{}` of table {} is not a string; a drill canary needs string keys",
                                    k.attribute_name(),
                                    self.table.table
                                ),
                            ));
                        }
                        keys.push(k.attribute_name().to_string());
                    }
                }
                if keys.is_empty() {
                    return Err(self.terminal(
                        "DescribeTable",
                        &self.primary,
                        format!("table {} has no key schema", self.table.table),
                    ));
                }
                Ok(keys)
            })
            .await
    }

    fn terminal(&self, operation: &str, region: &str, message: String) -> CapabilityError {
        CapabilityError {
            class: ErrorClass::Terminal,
            service: "dynamodb".into(),
            region: region.into(),
            operation: operation.into(),
            code: None,
            message,
            hint: "measure this table's RPO another way, or leave it out of the drill".into(),
        }
    }

    fn item_key(keys: &[String], key: &str) -> HashMap<String, AttributeValue> {
        keys.iter()
            .map(|k| (k.clone(), AttributeValue::S(key.to_string())))
            .collect()
    }
}

#[async_trait::async_trait]
impl CanaryStore for DynamoCanary {
    fn kind(&self) -> &str {
        "dynamodb"
    }

    fn name(&self) -> &str {
        &self.table.name
    }

    async fn write(&self, key: &str, written_at_ms: u64) -> Result<(), CapabilityError> {
        let keys = self.key_attributes().await?;
        let mut item = Self::item_key(keys, key);
        item.insert(
            WRITTEN_AT_ATTRIBUTE.to_string(),
            AttributeValue::N(written_at_ms.to_string()),
        );
        let client = self.clients.dynamodb(&self.primary).await;
        self.caller
            .call("dynamodb", &self.primary, "PutItem", || {
                client
                    .put_item()
                    .table_name(&self.table.table)
                    .set_item(Some(item.clone()))
                    .send()
            })
            .await?;
        Ok(())
    }

    async fn arrived(&self, key: &str) -> Result<bool, CapabilityError> {
        let keys = self.key_attributes().await?;
        let client = self.clients.dynamodb(&self.dr).await;
        let item_key = Self::item_key(keys, key);
        let out = self
            .caller
            .call("dynamodb", &self.dr, "GetItem", || {
                client
                    .get_item()
                    .table_name(&self.table.table)
                    .set_key(Some(item_key.clone()))
                    .consistent_read(true)
                    .send()
            })
            .await?;
        Ok(out.item().is_some())
    }
}

/// A canary object in a replicated S3 bucket pair.
pub struct S3Canary {
    clients: Arc<ClientFactory>,
    caller: Caller,
    pair: S3BucketPair,
    primary: String,
    dr: String,
}

impl S3Canary {
    /// Canaries written to `pair.primary_bucket` in `primary`, looked for in `pair.dr_bucket`.
    pub fn new(
        clients: Arc<ClientFactory>,
        caller: Caller,
        pair: S3BucketPair,
        primary: &str,
        dr: &str,
    ) -> Self {
        S3Canary {
            clients,
            caller,
            pair,
            primary: primary.to_string(),
            dr: dr.to_string(),
        }
    }
}

#[async_trait::async_trait]
impl CanaryStore for S3Canary {
    fn kind(&self) -> &str {
        "s3"
    }

    fn name(&self) -> &str {
        &self.pair.name
    }

    async fn write(&self, key: &str, written_at_ms: u64) -> Result<(), CapabilityError> {
        let client = self.clients.s3(&self.primary).await;
        let body = format!("{{\"written_at_ms\":{written_at_ms}}}");
        self.caller
            .call("s3", &self.primary, "PutObject", || {
                client
                    .put_object()
                    .bucket(&self.pair.primary_bucket)
                    .key(key)
                    .content_type("application/json")
                    .body(body.clone().into_bytes().into())
                    .send()
            })
            .await?;
        Ok(())
    }

    async fn arrived(&self, key: &str) -> Result<bool, CapabilityError> {
        let client = self.clients.s3(&self.dr).await;
        // The bucket must be there (and s3:ListBucket, which this needs, makes a missing key
        // answer 404 NoSuchKey rather than 403).
        self.caller
            .call("s3", &self.dr, "HeadBucket", || {
                client.head_bucket().bucket(&self.pair.dr_bucket).send()
            })
            .await?;
        let out = self
            .caller
            .call_opt("s3", &self.dr, "GetObject", &["NoSuchKey"], || {
                client
                    .get_object()
                    .bucket(&self.pair.dr_bucket)
                    .key(key)
                    .send()
            })
            .await?;
        Ok(out.is_some())
    }
}

/// The canary stores of an environment: every DynamoDB table and S3 bucket pair.
pub fn stores(
    env: &pilotlight_core::model::EnvironmentConfig,
    clients: Arc<ClientFactory>,
    caller: Caller,
) -> Vec<Arc<dyn CanaryStore>> {
    let (p, d) = (&env.regions.primary, &env.regions.dr);
    let mut out: Vec<Arc<dyn CanaryStore>> = Vec::new();
    for t in &env.dynamodb_tables {
        out.push(Arc::new(DynamoCanary::new(
            clients.clone(),
            caller.clone(),
            t.clone(),
            p,
            d,
        )));
    }
    for b in &env.s3_buckets {
        out.push(Arc::new(S3Canary::new(
            clients.clone(),
            caller.clone(),
            b.clone(),
            p,
            d,
        )));
    }
    out
}
