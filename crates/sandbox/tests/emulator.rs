//! `pilotlight sandbox up` through the testkit emulator proxy, which emulates DynamoDB global
//! tables: both tables get a replica in DR, no warning is reported, and a re-run finds the
//! replicas as existing.

use pilotlight_aws::ClientFactory;
use pilotlight_sandbox::{up, SandboxOptions};
use pilotlight_testkit::Emulator;

#[tokio::test]
async fn up_through_the_emulator_makes_dynamodb_replicas_in_dr() {
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let emulator = Emulator::start()
        .await
        .expect("emulator starts (pip install 'moto[server]')");
    let opts = SandboxOptions::for_endpoint(emulator.endpoint());

    let first = up(&opts).await.expect("sandbox up");
    assert!(first.warnings.is_empty(), "warnings: {:#?}", first.warnings);
    for table in ["confer-meetings", "confer-sessions"] {
        let item = format!("dynamodb replica {table} in us-west-2");
        assert!(
            first.created.contains(&item),
            "{item} not in {:#?}",
            first.created
        );
    }

    let factory = ClientFactory::new(first.config.aws.clone());
    let primary = factory.dynamodb("us-east-1").await;
    let dr = factory.dynamodb("us-west-2").await;
    for table in ["confer-meetings", "confer-sessions"] {
        let t = primary
            .describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap();
        let regions: Vec<&str> = t
            .table()
            .unwrap()
            .replicas()
            .iter()
            .filter_map(|r| r.region_name())
            .collect();
        assert!(
            regions.contains(&"us-west-2"),
            "{table} replicas {regions:?}"
        );
        dr.describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{table} in DR: {e:?}"));
    }

    let second = up(&opts).await.expect("sandbox up again");
    assert!(
        second.created.is_empty(),
        "re-run created: {:#?}",
        second.created
    );
    assert!(second.warnings.is_empty(), "{:#?}", second.warnings);
    assert!(second
        .existing
        .contains(&"dynamodb replica confer-meetings in us-west-2".to_string()));
    emulator.shutdown().await;
}

#[tokio::test]
async fn transient_faults_are_retried_and_an_interrupted_run_resumes() {
    use pilotlight_testkit::{FaultAction, FaultRule};
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let emulator = Emulator::start().await.expect("emulator starts");
    let opts = SandboxOptions::for_endpoint(emulator.endpoint());

    // A whole DR outage: the run stops at the first DR call, classified as retryable.
    emulator
        .faults()
        .add(FaultRule::region_outage("us-west-2"))
        .unwrap();
    let err = up(&opts).await.expect_err("DR is down");
    assert!(err.is_retryable(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("in us-west-2") && text.contains("re-run `pilotlight sandbox up`"),
        "{text}"
    );

    // Transient faults on creates are absorbed by the shared retry layer; the re-run creates
    // what the interrupted run did not, and reports the rest as existing.
    emulator.faults().clear();
    emulator
        .faults()
        .extend(vec![
            FaultRule::new(FaultAction::Throttle)
                .for_operation("CreateService")
                .times(2),
            FaultRule::new(FaultAction::ServerError)
                .for_operation("CreateTable")
                .times(1),
            FaultRule::new(FaultAction::Throttle)
                .for_operation("ChangeResourceRecordSets")
                .times(1),
        ])
        .unwrap();
    let resumed = up(&opts).await.expect("sandbox up after the outage");
    assert!(resumed.warnings.is_empty(), "{:#?}", resumed.warnings);
    assert!(
        resumed
            .existing
            .contains(&"ecs cluster confer in us-east-1".to_string()),
        "{:#?}",
        resumed.existing
    );
    assert!(
        resumed
            .created
            .contains(&"ecs cluster confer in us-west-2".to_string()),
        "{:#?}",
        resumed.created
    );
    assert!(resumed
        .created
        .contains(&"dynamodb table confer-meetings in us-east-1".to_string()));
    assert!(
        emulator
            .faults()
            .rules()
            .iter()
            .all(|r| r.remaining == Some(0)),
        "{:?}",
        emulator.faults().rules()
    );

    let again = up(&opts).await.expect("third run");
    assert!(again.created.is_empty(), "{:#?}", again.created);
    emulator.shutdown().await;
}
