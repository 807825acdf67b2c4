//! Shared helpers of the DynamoDB store tests: one emulator (moto behind the test kit's proxy)
//! per call, the journal and lease tables created with the key schema of
//! `infra/pilotlight.yaml`, clients and a caller pointed at it.
//!
//! The emulator's proxy hands moto one DynamoDB request at a time: moto's server is threaded
//! and its DynamoDB backend is not atomic under concurrency (a cancelled `TransactWriteItems`
//! restores a deep copy of the table, undoing other threads' writes), while DynamoDB applies
//! each request atomically. The store's own concurrency (conditional writes deciding between
//! concurrent writers) is still exercised: requests interleave freely between calls.

#![allow(dead_code)]

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use pilotlight_aws::{Caller, ClientFactory};
use pilotlight_core::model::AwsSettings;
use pilotlight_store::{DynamoJournal, DynamoLease};
use pilotlight_testkit::Emulator;
use std::time::Duration;

/// The region of the store.
pub const REGION: &str = "us-west-2";
/// The journal table.
pub const JOURNAL: &str = "pilotlight-test-journal";
/// The lease table.
pub const LEASE: &str = "pilotlight-test-lease";

/// A moto with the two tables, and what talks to it.
pub struct Store {
    /// The emulator; stopped when dropped.
    pub emu: Emulator,
    /// The DynamoDB client.
    pub client: aws_sdk_dynamodb::Client,
    /// The caller every store call goes through.
    pub caller: Caller,
}

impl Store {
    /// An unfenced journal.
    pub fn journal(&self) -> DynamoJournal {
        DynamoJournal::new(self.client.clone(), self.caller.clone(), REGION, JOURNAL)
    }

    /// A lease of `environment` (one per contender: each remembers what it saw).
    pub fn lease(&self, environment: &str, duration: Duration) -> DynamoLease {
        DynamoLease::new(
            self.client.clone(),
            self.caller.clone(),
            REGION,
            LEASE,
            environment,
            duration,
        )
    }
}

/// Starts the emulator and creates both tables.
pub async fn store() -> Store {
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let emu = Emulator::start().await.expect("start the emulator");
    let endpoint = emu.endpoint();
    let settings = AwsSettings {
        endpoint: Some(endpoint),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(10),
        max_attempts: 3,
        requests_per_second: 1000.0,
        ..AwsSettings::default()
    };
    let factory = ClientFactory::new(settings);
    let client = factory.dynamodb(REGION).await;
    let caller = Caller::from_factory(&factory);
    create_table(
        &client,
        JOURNAL,
        &[
            ("run_id", ScalarAttributeType::S),
            ("seq", ScalarAttributeType::N),
        ],
    )
    .await;
    create_table(&client, LEASE, &[("environment", ScalarAttributeType::S)]).await;
    Store {
        emu,
        client,
        caller,
    }
}

async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    keys: &[(&str, ScalarAttributeType)],
) {
    let mut req = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for (i, (attr, ty)) in keys.iter().enumerate() {
        req = req
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(*attr)
                    .attribute_type(ty.clone())
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(*attr)
                    .key_type(if i == 0 {
                        KeyType::Hash
                    } else {
                        KeyType::Range
                    })
                    .build()
                    .unwrap(),
            );
    }
    req.send().await.expect("create table");
}
