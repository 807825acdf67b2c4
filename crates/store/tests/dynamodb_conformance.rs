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
