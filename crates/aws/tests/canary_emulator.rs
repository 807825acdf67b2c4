//! The drill's canary stores through the real SDK against moto: a canary written in the primary
//! is not in DR until it is copied there (moto does not replicate; the copy stands in for
//! replication), and errors are reported, not taken for "did not arrive".

mod common;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use common::{world, DR, PRIMARY};
use pilotlight_aws::canary::{DynamoCanary, S3Canary, WRITTEN_AT_ATTRIBUTE};
use pilotlight_aws::Caller;
use pilotlight_core::model::{DynamoTable, S3BucketPair};
use pilotlight_drill::canary::CanaryStore;

async fn table(w: &common::World, region: &str, name: &str, key_type: ScalarAttributeType) {
    w.clients
        .dynamodb(region)
        .await
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(key_type)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn dynamodb_canary_arrives_only_when_replicated() {
    let w = world();
    table(&w, PRIMARY, "sessions", ScalarAttributeType::S).await;
    table(&w, DR, "sessions", ScalarAttributeType::S).await;
    let store = DynamoCanary::new(
        w.clients.clone(),
        Caller::from_factory(&w.clients),
        DynamoTable {
            name: "sessions".into(),
            table: "sessions".into(),
        },
        PRIMARY,
        DR,
    );
    store
        .write("pilotlight-drill/d1/canary-000", 1234)
        .await
        .unwrap();
    let p = w.clients.dynamodb(PRIMARY).await;
    let got = p
        .get_item()
        .table_name("sessions")
        .key(
            "pk",
            AttributeValue::S("pilotlight-drill/d1/canary-000".into()),
        )
        .send()
        .await
        .unwrap();
    let item = got.item().expect("written in the primary");
    assert_eq!(
        item.get(WRITTEN_AT_ATTRIBUTE),
        Some(&AttributeValue::N("1234".into()))
    );
    assert!(!store
        .arrived("pilotlight-drill/d1/canary-000")
        .await
        .unwrap());
    // Replicate it by hand.
    w.clients
        .dynamodb(DR)
        .await
        .put_item()
        .table_name("sessions")
        .set_item(Some(item.clone()))
        .send()
        .await
        .unwrap();
    assert!(store
        .arrived("pilotlight-drill/d1/canary-000")
        .await
        .unwrap());
}

#[tokio::test]
async fn dynamodb_canary_refuses_a_numeric_key_and_reports_a_missing_dr_table() {
    let w = world();
    table(&w, PRIMARY, "counters", ScalarAttributeType::N).await;
    let caller = Caller::from_factory(&w.clients);
    let numeric = DynamoCanary::new(
        w.clients.clone(),
        caller.clone(),
        DynamoTable {
            name: "counters".into(),
            table: "counters".into(),
        },
        PRIMARY,
        DR,
    );
    let e = numeric.write("k", 1).await.unwrap_err();
    assert!(e.message.contains("not a string"), "{e}");
    table(&w, PRIMARY, "orders", ScalarAttributeType::S).await;
    let no_dr = DynamoCanary::new(
        w.clients.clone(),
        caller,
        DynamoTable {
            name: "orders".into(),
            table: "orders".into(),
        },
        PRIMARY,
        DR,
    );
    no_dr.write("k", 1).await.unwrap();
    let e = no_dr.arrived("k").await.unwrap_err();
    assert_eq!(e.region, DR, "{e}");
}

#[tokio::test]
async fn s3_canary_arrives_only_when_replicated() {
    let w = world();
    let (p, d) = (w.clients.s3(PRIMARY).await, w.clients.s3(DR).await);
    p.create_bucket()
        .bucket("rec-primary")
        .send()
        .await
        .unwrap();
    d.create_bucket()
        .bucket("rec-dr")
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::UsWest2)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let store = S3Canary::new(
        w.clients.clone(),
        Caller::from_factory(&w.clients),
        S3BucketPair {
            name: "recordings".into(),
            primary_bucket: "rec-primary".into(),
            dr_bucket: "rec-dr".into(),
            rtc: true,
        },
        PRIMARY,
        DR,
    );
    let key = "pilotlight-drill/d1/canary-000";
    store.write(key, 42).await.unwrap();
    let body = p
        .get_object()
        .bucket("rec-primary")
        .key(key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&body[..], b"{\"written_at_ms\":42}");
    assert!(!store.arrived(key).await.unwrap());
    d.copy_object()
        .bucket("rec-dr")
        .key(key)
        .copy_source(format!("rec-primary/{key}"))
        .send()
        .await
        .unwrap();
    assert!(store.arrived(key).await.unwrap());
}
