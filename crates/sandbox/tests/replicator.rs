//! The sandbox replicator against the emulator: with a delay of 0 DynamoDB items reach DR; with
//! S3 replication off objects do not; a regional outage of the primary stops replication.

use pilotlight_aws::ClientFactory;
use pilotlight_sandbox::{up, ReplicationDelays, Replicator, SandboxOptions};
use pilotlight_testkit::emulator::{Emulator, FaultRule};
use std::time::Duration;

async fn has_item(f: &ClientFactory, region: &str, table: &str, pk: &str) -> bool {
    f.dynamodb(region)
        .await
        .get_item()
        .table_name(table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
        .send()
        .await
        .unwrap()
        .item()
        .is_some()
}

#[tokio::test]
async fn copies_items_after_the_delay_and_stops_with_the_primary() {
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let emu = Emulator::start().await.unwrap();
    let cfg = up(&SandboxOptions::for_endpoint(emu.endpoint()))
        .await
        .unwrap()
        .config;
    let f = ClientFactory::new(cfg.aws.clone());
    let (p, d) = (cfg.regions.primary.clone(), cfg.regions.dr.clone());
    let table = cfg.dynamodb_tables[0].table.clone();
    let pair = cfg.s3_buckets[0].clone();
    let rep = Replicator::start(
        &cfg,
        ReplicationDelays {
            dynamodb: Some(Duration::from_millis(300)),
            s3: None,
            poll: Duration::from_millis(100),
        },
    )
    .unwrap();
    let put = |pk: &'static str| {
        let f = &f;
        let (p, table) = (p.clone(), table.clone());
        async move {
            f.dynamodb(&p)
                .await
                .put_item()
                .table_name(&table)
                .item("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
                .send()
                .await
                .unwrap();
        }
    };
    put("a").await;
    f.s3(&p)
        .await
        .put_object()
        .bucket(&pair.primary_bucket)
        .key("obj")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    // Not before the delay.
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(
        !has_item(&f, &d, &table, "a").await,
        "copied before its delay"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        has_item(&f, &d, &table, "a").await,
        "copied after its delay"
    );
    let dr_objects = f
        .s3(&d)
        .await
        .list_objects_v2()
        .bucket(&pair.dr_bucket)
        .send()
        .await
        .unwrap();
    assert!(dr_objects.contents().is_empty(), "S3 replication is off");
    // A regional outage of the primary stops replication.
    emu.faults().add(FaultRule::region_outage(&p)).unwrap();
    let direct = ClientFactory::new(pilotlight_core::model::AwsSettings {
        endpoint: Some(emu.moto_endpoint()),
        ..cfg.aws.clone()
    });
    direct
        .dynamodb(&p)
        .await
        .put_item()
        .table_name(&table)
        .item("pk", aws_sdk_dynamodb::types::AttributeValue::S("b".into()))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(
        !has_item(&direct, &d, &table, "b").await,
        "replicated through an outage"
    );
    assert_eq!(rep.copied(), 1);
    rep.stop().await;
}
