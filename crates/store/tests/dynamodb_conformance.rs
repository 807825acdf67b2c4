//! The journal conformance suite (every property the SQLite journal has) against
//! `DynamoJournal` on moto's DynamoDB, unfenced and fenced.

mod common;

use pilotlight_store::conformance;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_journal_conforms() {
    let store = common::store().await;
    conformance::run_all(&store.journal()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fenced_dynamodb_journal_conforms_while_it_leads() {
    use pilotlight_store::Lease;
    let store = common::store().await;
    let lease = store.lease("confer", std::time::Duration::from_secs(30));
    let grant = lease
        .acquire("a")
        .await
        .unwrap()
        .expect("first holder leads");
    let journal = store
        .journal()
        .with_fence(common::LEASE, "confer", grant.epoch);
    conformance::run_all(&journal).await;
}

/// The audit log in the HA store: two instances appending at once make one chain; an entry
/// changed in the table (by anyone with write access) breaks `verify_chain` at that entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_audit_log_is_one_chain_and_tampering_shows() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use pilotlight_core::audit::{verify_chain, AuditLog};
    let store = common::store().await;
    conformance::audit_log_is_one_chain(store.journal(), store.journal()).await;
    store
        .client
        .update_item()
        .table_name(common::JOURNAL)
        .key("run_id", AttributeValue::S("#audit#".into()))
        .key("seq", AttributeValue::N("3".into()))
        .update_expression("SET actor = :m")
        .expression_attribute_values(":m", AttributeValue::S("mallory".into()))
        .send()
        .await
        .unwrap();
    let entries = store.journal().audit_entries(0, 100).await.unwrap();
    let broken = verify_chain(&entries).expect_err("an edited entry breaks the chain");
    assert_eq!(broken.seq, 3, "{broken}");
}
