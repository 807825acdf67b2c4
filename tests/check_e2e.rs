//! End to end: `pilotlight sandbox up` then `pilotlight check` is all green; then each resource is
//! broken in the emulator in turn and `check` reports exactly that failure, with exit code 1.
//! Every scenario has its own emulator, so they run in parallel.

mod common;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use common::{results, World};

/// Assert the check exits 1 and that the only non-passing result is `target` with `fragment`.
async fn assert_only_failure(world: &World, target: &str, fragment: &str) {
    let run = world.check().await;
    assert_eq!(
        run.code, 1,
        "check should say NOT READY:\n{}\n{}",
        run.stdout, run.stderr
    );
    let report = run.json();
    assert_eq!(report["verdict"], "not_ready");
    let bad: Vec<_> = results(&report)
        .into_iter()
        .filter(|(_, s, _)| s != "pass")
        .collect();
    assert_eq!(
        bad.len(),
        1,
        "exactly one resource should fail, got {bad:#?}"
    );
    let (res, status, reason) = &bad[0];
    assert_eq!(res, target, "wrong resource failed: {bad:?}");
    assert_eq!(status, "fail", "{bad:?}");
    assert!(
        reason.contains(fragment),
        "reason {reason:?} should contain {fragment:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sandbox_up_then_check_is_all_green() {
    let world = World::up().await;
    let run = world.check().await;
    assert_eq!(
        run.code, 0,
        "check on a fresh sandbox should be READY:\n{}\n{}",
        run.stdout, run.stderr
    );
    let report = run.json();
    assert_eq!(report["verdict"], "ready");
    let all = results(&report);
    let kinds: std::collections::BTreeSet<_> = all
        .iter()
        .map(|(r, _, _)| r.split('/').next().unwrap().to_string())
        .collect();
    for kind in [
        "dynamodb_table",
        "s3_buckets",
        "kms_key",
        "rds_replica",
        "ecs_service",
        "autoscaling_group",
        "route53_record",
    ] {
        assert!(
            kinds.contains(kind),
            "the sandbox should have a {kind}: {kinds:?}"
        );
    }
    for (res, status, reason) in &all {
        assert_eq!(status, "pass", "{res}: {reason}");
    }

    // The table output says the same, and `check` changed nothing: it only read.
    let table =
        common::pilotlight(&["check", "--config", world.config_path.to_str().unwrap()]).await;
    assert_eq!(table.code, 0);
    assert!(
        table.stdout.contains("READY") && table.stdout.contains("PASS"),
        "{}",
        table.stdout
    );
    // `check` changes nothing: it only reads.
    world.emu.reset_stats();
    let _ = world.check().await;
    let stats = world.emu.stats();
    assert!(stats.total_requests() > 10, "the check called AWS");
    let writes: Vec<_> = stats
        .requests
        .iter()
        .filter(|r| !is_read_only(&r.operation))
        .map(|r| r.operation.clone())
        .collect();
    assert!(
        writes.is_empty(),
        "check must not call mutating APIs: {writes:?}"
    );
}

fn is_read_only(op: &str) -> bool {
    ["Describe", "Get", "List", "Head"]
        .iter()
        .any(|p| op.starts_with(p))
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamodb_dr_replica_deleted() {
    let world = World::up().await;
    let t = &world.config.dynamodb_tables[0];
    world
        .direct()
        .dynamodb(world.dr())
        .await
        .delete_table()
        .table_name(&t.table)
        .send()
        .await
        .unwrap();
    assert_only_failure(&world, &format!("dynamodb_table/{}", t.name), "no replica").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kms_replica_disabled() {
    let world = World::up().await;
    let k = &world.config.kms_keys[0];
    world
        .direct()
        .kms(world.dr())
        .await
        .disable_key()
        .key_id(&k.key_id)
        .send()
        .await
        .unwrap();
    assert_only_failure(&world, &format!("kms_key/{}", k.name), "is Disabled").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_replication_rule_removed() {
    let world = World::up().await;
    let b = &world.config.s3_buckets[0];
    world
        .direct()
        .s3(world.primary())
        .await
        .delete_bucket_replication()
        .bucket(&b.primary_bucket)
        .send()
        .await
        .unwrap();
    assert_only_failure(
        &world,
        &format!("s3_buckets/{}", b.name),
        "no replication rule",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_dr_versioning_suspended() {
    let world = World::up().await;
    let b = &world.config.s3_buckets[0];
    let cfg = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
        .build();
    world
        .direct()
        .s3(world.dr())
        .await
        .put_bucket_versioning()
        .bucket(&b.dr_bucket)
        .versioning_configuration(cfg)
        .send()
        .await
        .unwrap();
    assert_only_failure(&world, &format!("s3_buckets/{}", b.name), "Suspended").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn autoscaling_max_below_active_capacity() {
    let world = World::up().await;
    let g = &world.config.autoscaling_groups[0];
    world
        .direct()
        .autoscaling(world.dr())
        .await
        .update_auto_scaling_group()
        .auto_scaling_group_name(&g.group)
        .max_size(g.active_capacity as i32 - 1)
        .send()
        .await
        .unwrap();
    assert_only_failure(
        &world,
        &format!("autoscaling_group/{}", g.name),
        "below the active capacity",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn route53_dr_record_deleted() {
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch};
    let world = World::up().await;
    let zone = world.config.route53.as_ref().unwrap();
    let rec = &zone.records[0];
    let client = world.direct().route53(world.primary()).await;
    let sets = client
        .list_resource_record_sets()
        .hosted_zone_id(&zone.zone_id)
        .send()
        .await
        .unwrap();
    let set = sets
        .resource_record_sets()
        .iter()
        .find(|s| {
            s.name() == rec.record_name
                && s.set_identifier() == Some(rec.dr_set_identifier.as_str())
        })
        .expect("the DR record set exists")
        .clone();
    let change = Change::builder()
        .action(ChangeAction::Delete)
        .resource_record_set(set)
        .build()
        .unwrap();
    client
        .change_resource_record_sets()
        .hosted_zone_id(&zone.zone_id)
        .change_batch(ChangeBatch::builder().changes(change).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_only_failure(
        &world,
        &format!("route53_record/{}", rec.name),
        &rec.dr_set_identifier,
    )
    .await;
}

/// The DR replica promoted behind Pilotlight's back: DR no longer replicates.
#[tokio::test(flavor = "multi_thread")]
async fn rds_replica_promoted_out_of_band() {
    let world = World::up().await;
    let db = &world.config.rds_replicas[0];
    world
        .proxied()
        .rds(world.dr())
        .await
        .promote_read_replica()
        .db_instance_identifier(&db.replica_instance)
        .send()
        .await
        .unwrap();
    assert_only_failure(
        &world,
        &format!("rds_replica/{}", db.name),
        "not a read replica",
    )
    .await;
}

/// Scenario 13's readiness half (`lag_over_budget`): lag above the RPO fails the database check.
#[tokio::test(flavor = "multi_thread")]
async fn rds_replica_lag_over_rpo() {
    let world = World::up().await;
    let db = &world.config.rds_replicas[0];
    let lag = world.config.objectives.rpo.as_secs_f64() * 3.0;
    let datum = MetricDatum::builder()
        .metric_name("ReplicaLag")
        .dimensions(
            Dimension::builder()
                .name("DBInstanceIdentifier")
                .value(&db.replica_instance)
                .build(),
        )
        .value(lag)
        .unit(StandardUnit::Seconds)
        .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from(
            std::time::SystemTime::now(),
        ))
        .build();
    world
        .direct()
        .cloudwatch(world.dr())
        .await
        .put_metric_data()
        .namespace("AWS/RDS")
        .metric_data(datum)
        .send()
        .await
        .unwrap();
    assert_only_failure(&world, &format!("rds_replica/{}", db.name), "above the RPO").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ecs_dr_service_scaled_to_zero() {
    let world = World::up().await;
    let s = &world.config.ecs_services[0];
    world
        .direct()
        .ecs(world.dr())
        .await
        .update_service()
        .cluster(&s.cluster)
        .service(&s.service)
        .desired_count(0)
        .send()
        .await
        .unwrap();
    assert_only_failure(
        &world,
        &format!("ecs_service/{}", s.name),
        "below the pilot-light",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ecs_task_definition_deregistered() {
    let world = World::up().await;
    let s = &world.config.ecs_services[0];
    let ecs = world.direct().ecs(world.dr()).await;
    let svc = ecs
        .describe_services()
        .cluster(&s.cluster)
        .services(&s.service)
        .send()
        .await
        .unwrap();
    let td = svc.services()[0].task_definition().unwrap().to_string();
    ecs.deregister_task_definition()
        .task_definition(&td)
        .send()
        .await
        .unwrap();
    assert_only_failure(
        &world,
        &format!("ecs_service/{}", s.name),
        "cannot start new tasks",
    )
    .await;
}
