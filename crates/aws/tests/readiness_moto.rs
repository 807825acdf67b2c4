//! The readiness adapter through the real SDK against moto: for each resource kind, create the
//! resources in both regions, gather the facts, break something, gather again.
//!
//! moto does not emulate DynamoDB global-table replicas (the `Replicas` list stays empty), so the
//! DynamoDB test covers table presence and the CloudWatch metric; the replica mapping is unit
//! tested in `readiness.rs`.

mod common;

use aws_smithy_types::DateTime;
use common::{world, World, DR, PRIMARY};
use pilotlight_aws::{AwsReadiness, Caller, ClientFactory};
use pilotlight_core::capability::ReadinessFacts;
use pilotlight_core::model::{
    AuroraGlobalCluster, AutoScalingGroup, DnsRecord, DynamoTable, EcsService, KmsKey, RdsReplica,
    Route53, Routing, S3BucketPair,
};
use pilotlight_core::readiness::facts::{LaunchSource, ReplicationRule};
use std::sync::Arc;
use std::time::Duration;
use std::time::SystemTime;

async fn put_metric(
    w: &World,
    region: &str,
    namespace: &str,
    metric: &str,
    dims: &[(&str, &str)],
    value: f64,
) -> anyhow::Result<()> {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let cw = w.clients.cloudwatch(region).await;
    let mut datum = MetricDatum::builder()
        .metric_name(metric)
        .value(value)
        .timestamp(DateTime::from(SystemTime::now()));
    for (n, v) in dims {
        datum = datum.dimensions(Dimension::builder().name(*n).value(*v).build());
    }
    cw.put_metric_data()
        .namespace(namespace)
        .metric_data(datum.build())
        .send()
        .await?;
    Ok(())
}

#[tokio::test]
async fn dynamodb_tables_and_replication_latency() -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let w = world();
    let table = DynamoTable {
        name: "orders".into(),
        table: "orders".into(),
    };
    for region in [PRIMARY, DR] {
        w.clients
            .dynamodb(region)
            .await
            .create_table()
            .table_name("orders")
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await?;
    }

    let facts = w.readiness.dynamodb(&table).await?;
    assert_eq!(
        facts.primary.as_ref().map(|t| t.status.as_str()),
        Some("ACTIVE")
    );
    assert_eq!(facts.dr.as_ref().map(|t| t.status.as_str()), Some("ACTIVE"));
    assert_eq!(facts.replication_latency_ms, None, "no datapoint yet");

    put_metric(
        &w,
        PRIMARY,
        "AWS/DynamoDB",
        "ReplicationLatency",
        &[("TableName", "orders"), ("ReceivingRegion", DR)],
        42.0,
    )
    .await?;
    // A datapoint toward another region must not be read.
    put_metric(
        &w,
        PRIMARY,
        "AWS/DynamoDB",
        "ReplicationLatency",
        &[("TableName", "orders"), ("ReceivingRegion", "eu-west-1")],
        9999.0,
    )
    .await?;
    w.clients
        .dynamodb(DR)
        .await
        .delete_table()
        .table_name("orders")
        .send()
        .await?;

    let facts = w.readiness.dynamodb(&table).await?;
    assert!(facts.primary.is_some());
    assert_eq!(facts.dr, None, "DR table deleted");
    assert_eq!(facts.replication_latency_ms, Some(42.0));

    let missing = w
        .readiness
        .dynamodb(&DynamoTable {
            name: "x".into(),
            table: "nope".into(),
        })
        .await?;
    assert_eq!((missing.primary, missing.dr), (None, None));
    Ok(())
}

#[tokio::test]
async fn s3_buckets_versioning_and_replication() -> anyhow::Result<()> {
    use aws_sdk_s3::types::{
        BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
        DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, Metrics,
        MetricsStatus, ReplicationConfiguration, ReplicationRule as Rule, ReplicationRuleFilter,
        ReplicationRuleStatus, ReplicationTime, ReplicationTimeStatus, ReplicationTimeValue,
        VersioningConfiguration,
    };
    let w = world();
    // The adapter reads S3 through a proxy that fixes moto 5.2.1's GetBucketVersioning answer.
    let proxy = common::s3_versioning_fix_proxy(w.moto.endpoint()).await;
    let clients = Arc::new(ClientFactory::new(common::settings(&proxy)));
    let readiness = AwsReadiness::new(
        clients.clone(),
        Caller::from_factory(&clients),
        common::regions(),
        Duration::from_secs(600),
    );
    let (p, d) = (clients.s3(PRIMARY).await, clients.s3(DR).await);
    p.create_bucket().bucket("app-primary").send().await?;
    d.create_bucket()
        .bucket("app-dr")
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::UsWest2)
                .build(),
        )
        .send()
        .await?;
    let pair = S3BucketPair {
        name: "assets".into(),
        primary_bucket: "app-primary".into(),
        dr_bucket: "app-dr".into(),
        rtc: true,
    };
    let facts = readiness.s3(&pair).await?;
    assert!(facts.primary_exists && facts.dr_exists);
    assert_eq!(
        (
            facts.primary_versioning.as_deref(),
            facts.dr_versioning.as_deref()
        ),
        (None, None)
    );
    assert!(facts.rules.is_empty(), "no replication configuration yet");

    let versioning = |status| VersioningConfiguration::builder().status(status).build();
    p.put_bucket_versioning()
        .bucket("app-primary")
        .versioning_configuration(versioning(BucketVersioningStatus::Enabled))
        .send()
        .await?;
    d.put_bucket_versioning()
        .bucket("app-dr")
        .versioning_configuration(versioning(BucketVersioningStatus::Suspended))
        .send()
        .await?;
    let facts = readiness.s3(&pair).await?;
    assert_eq!(facts.primary_versioning.as_deref(), Some("Enabled"));
    assert_eq!(facts.dr_versioning.as_deref(), Some("Suspended"));

    d.put_bucket_versioning()
        .bucket("app-dr")
        .versioning_configuration(versioning(BucketVersioningStatus::Enabled))
        .send()
        .await?;
    let fifteen = || ReplicationTimeValue::builder().minutes(15).build();
    let rule = Rule::builder()
        .id("to-dr")
        .priority(1)
        .status(ReplicationRuleStatus::Enabled)
        .filter(ReplicationRuleFilter::builder().prefix("").build())
        .delete_marker_replication(
            DeleteMarkerReplication::builder()
                .status(DeleteMarkerReplicationStatus::Disabled)
                .build(),
        )
        .destination(
            Destination::builder()
                .bucket("arn:aws:s3:::app-dr")
                .replication_time(
                    ReplicationTime::builder()
                        .status(ReplicationTimeStatus::Enabled)
                        .time(fifteen())
                        .build()?,
                )
                .metrics(
                    Metrics::builder()
                        .status(MetricsStatus::Enabled)
                        .event_threshold(fifteen())
                        .build()?,
                )
                .build()?,
        )
        .build()?;
    p.put_bucket_replication()
        .bucket("app-primary")
        .replication_configuration(
            ReplicationConfiguration::builder()
                .role("arn:aws:iam::123456789012:role/replication")
                .rules(rule)
                .build()?,
        )
        .send()
        .await?;

    let facts = readiness.s3(&pair).await?;
    assert_eq!(facts.primary_versioning.as_deref(), Some("Enabled"));
    assert_eq!(facts.dr_versioning.as_deref(), Some("Enabled"));
    assert_eq!(
        facts.rules,
        vec![ReplicationRule {
            id: Some("to-dr".into()),
            enabled: true,
            destination_bucket_arn: "arn:aws:s3:::app-dr".into(),
            rtc_enabled: true,
        }]
    );

    // Break it: remove the replication rule and the DR bucket.
    p.delete_bucket_replication()
        .bucket("app-primary")
        .send()
        .await?;
    d.delete_bucket().bucket("app-dr").send().await?;
    let facts = readiness.s3(&pair).await?;
    assert!(facts.rules.is_empty(), "{:?}", facts.rules);
    assert!(facts.primary_exists);
    assert!(!facts.dr_exists);
    assert_eq!(facts.dr_versioning, None);
    Ok(())
}

#[tokio::test]
async fn kms_multi_region_key_and_replica() -> anyhow::Result<()> {
    let w = world();
    let (p, d) = (w.clients.kms(PRIMARY).await, w.clients.kms(DR).await);
    let created = p
        .create_key()
        .multi_region(true)
        .description("app")
        .send()
        .await?;
    let key_id = created
        .key_metadata()
        .map(|m| m.key_id().to_string())
        .unwrap_or_default();
    assert!(key_id.starts_with("mrk-"), "{key_id}");
    let key = KmsKey {
        name: "app".into(),
        key_id: key_id.clone(),
    };

    let facts = w.readiness.kms(&key).await?;
    let primary = facts.primary.expect("primary key");
    assert_eq!(primary.key_state, "Enabled");
    assert!(primary.multi_region);
    assert_eq!(primary.multi_region_type.as_deref(), Some("PRIMARY"));
    assert!(primary.replica_regions.is_empty());
    assert_eq!(facts.dr, None, "not replicated yet");

    p.replicate_key()
        .key_id(&key_id)
        .replica_region(DR)
        .send()
        .await?;
    let facts = w.readiness.kms(&key).await?;
    assert_eq!(
        facts.primary.as_ref().map(|k| k.replica_regions.clone()),
        Some(vec![DR.to_string()])
    );
    let dr = facts.dr.expect("replica key");
    assert_eq!(dr.key_state, "Enabled");
    assert_eq!(dr.multi_region_type.as_deref(), Some("REPLICA"));
    assert!(dr.arn.contains(DR), "{}", dr.arn);

    // Break it: disable the replica. The key's ARN (naming the primary region) works as well.
    d.disable_key().key_id(&key_id).send().await?;
    let by_arn = KmsKey {
        name: "app".into(),
        key_id: primary.arn.clone(),
    };
    let facts = w.readiness.kms(&by_arn).await?;
    assert_eq!(facts.dr.map(|k| k.key_state), Some("Disabled".to_string()));
    assert_eq!(
        facts.primary.map(|k| k.key_state),
        Some("Enabled".to_string())
    );

    let missing = w
        .readiness
        .kms(&KmsKey {
            name: "x".into(),
            key_id: "mrk-00000000000000000000000000000000".into(),
        })
        .await?;
    assert_eq!((missing.primary, missing.dr), (None, None));
    Ok(())
}

#[tokio::test]
async fn rds_instance_and_cross_region_replica() -> anyhow::Result<()> {
    let w = world();
    let (p, d) = (w.clients.rds(PRIMARY).await, w.clients.rds(DR).await);
    let created = p
        .create_db_instance()
        .db_instance_identifier("app-db")
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .allocated_storage(20)
        .master_username("admin")
        .master_user_password("secret-password")
        .send()
        .await?;
    let primary_arn = created
        .db_instance()
        .and_then(|db| db.db_instance_arn())
        .unwrap_or_default()
        .to_string();
    d.create_db_instance_read_replica()
        .db_instance_identifier("app-db-dr")
        .source_db_instance_identifier(&primary_arn)
        .db_instance_class("db.t3.micro")
        .send()
        .await?;
    let db = RdsReplica {
        name: "app".into(),
        primary_instance: "app-db".into(),
        replica_instance: "app-db-dr".into(),
        fence_parameter_group: None,
    };

    let facts = w.readiness.rds(&db).await?;
    let primary = facts.primary.expect("primary");
    assert_eq!(primary.arn, primary_arn);
    assert_eq!(primary.status, "available");
    assert_eq!(primary.read_replica_source, None);
    let replica = facts.replica.expect("replica");
    assert!(replica.arn.contains(DR), "{}", replica.arn);
    assert_eq!(
        replica.read_replica_source.as_deref(),
        Some(primary_arn.as_str())
    );
    assert_eq!(facts.lag_seconds, None);

    put_metric(
        &w,
        DR,
        "AWS/RDS",
        "ReplicaLag",
        &[("DBInstanceIdentifier", "app-db-dr")],
        3.0,
    )
    .await?;
    let facts = w.readiness.rds(&db).await?;
    assert_eq!(facts.lag_seconds, Some(3.0));

    // A replica that does not exist. (moto 5.2.1 fails deleting a cross-region replica with a
    // 500, so a missing replica is shown by configuration instead.)
    let no_replica = RdsReplica {
        replica_instance: "app-db-dr-2".into(),
        ..db.clone()
    };
    let facts = w.readiness.rds(&no_replica).await?;
    assert!(facts.primary.is_some());
    assert_eq!(facts.replica, None);
    assert_eq!(
        facts.lag_seconds, None,
        "no lag metric for another instance"
    );

    // Break it: delete the primary.
    p.delete_db_instance()
        .db_instance_identifier("app-db")
        .skip_final_snapshot(true)
        .send()
        .await?;
    let facts = w.readiness.rds(&db).await?;
    assert_eq!(facts.primary, None);
    assert!(facts.replica.is_some());
    Ok(())
}

#[tokio::test]
async fn aurora_global_cluster() -> anyhow::Result<()> {
    let w = world();
    let (p, d) = (w.clients.rds(PRIMARY).await, w.clients.rds(DR).await);
    p.create_global_cluster()
        .global_cluster_identifier("app-global")
        .engine("aurora-postgresql")
        .engine_version("15.4")
        .send()
        .await?;
    let primary_arn = p
        .create_db_cluster()
        .db_cluster_identifier("app-primary")
        .engine("aurora-postgresql")
        .engine_version("15.4")
        .master_username("admin")
        .master_user_password("secret-password")
        .global_cluster_identifier("app-global")
        .send()
        .await?
        .db_cluster()
        .and_then(|c| c.db_cluster_arn())
        .unwrap_or_default()
        .to_string();
    let dr_arn = d
        .create_db_cluster()
        .db_cluster_identifier("app-dr")
        .engine("aurora-postgresql")
        .engine_version("15.4")
        .global_cluster_identifier("app-global")
        .send()
        .await?
        .db_cluster()
        .and_then(|c| c.db_cluster_arn())
        .unwrap_or_default()
        .to_string();
    let db = AuroraGlobalCluster {
        name: "app".into(),
        global_cluster: "app-global".into(),
        primary_cluster: "app-primary".into(),
        dr_cluster: "app-dr".into(),
    };

    let facts = w.readiness.aurora(&db).await?;
    let members = facts.global_members.expect("global cluster");
    let writer: Vec<_> = members
        .iter()
        .filter(|m| m.is_writer)
        .map(|m| m.cluster_arn.clone())
        .collect();
    assert_eq!(writer, vec![primary_arn.clone()]);
    assert!(
        members
            .iter()
            .any(|m| m.cluster_arn == dr_arn && !m.is_writer),
        "{members:?}"
    );
    assert_eq!(facts.primary.map(|c| c.arn), Some(primary_arn));
    assert_eq!(facts.dr.as_ref().map(|c| c.arn.clone()), Some(dr_arn));
    assert_eq!(facts.dr.map(|c| c.status), Some("available".to_string()));
    assert_eq!(facts.lag_ms, None);

    put_metric(
        &w,
        DR,
        "AWS/RDS",
        "AuroraGlobalDBReplicationLag",
        &[("DBClusterIdentifier", "app-dr")],
        250.0,
    )
    .await?;
    let facts = w.readiness.aurora(&db).await?;
    assert_eq!(facts.lag_ms, Some(250.0));

    // Break it: delete the DR cluster.
    d.delete_db_cluster()
        .db_cluster_identifier("app-dr")
        .skip_final_snapshot(true)
        .send()
        .await?;
    let facts = w.readiness.aurora(&db).await?;
    assert!(facts.primary.is_some());
    assert_eq!(facts.dr, None);

    let missing = w
        .readiness
        .aurora(&AuroraGlobalCluster {
            name: "x".into(),
            global_cluster: "nope".into(),
            primary_cluster: "nope-1".into(),
            dr_cluster: "nope-2".into(),
        })
        .await?;
    assert_eq!(
        (missing.global_members, missing.primary, missing.dr),
        (None, None, None)
    );
    Ok(())
}

#[tokio::test]
async fn ecs_cluster_service_and_task_definition() -> anyhow::Result<()> {
    use aws_sdk_ecs::types::ContainerDefinition;
    let w = world();
    let ecs = w.clients.ecs(DR).await;
    ecs.create_cluster().cluster_name("app").send().await?;
    let td = ecs
        .register_task_definition()
        .family("api")
        .container_definitions(
            ContainerDefinition::builder()
                .name("api")
                .image("nginx")
                .cpu(256)
                .memory(512)
                .build(),
        )
        .send()
        .await?;
    let td_arn = td
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap_or_default()
        .to_string();
    ecs.create_service()
        .cluster("app")
        .service_name("api")
        .task_definition(&td_arn)
        .desired_count(1)
        .send()
        .await?;
    let svc = EcsService {
        name: "api".into(),
        cluster: "app".into(),
        service: "api".into(),
        primary_cluster: None,
        primary_service: None,
        pilot_light_count: 1,
        active_count: 4,
    };

    let facts = w.readiness.ecs(&svc).await?;
    assert_eq!(facts.cluster_status.as_deref(), Some("ACTIVE"));
    let state = facts.service.expect("service");
    // moto starts services with no running task; an update makes `runningCount` follow.
    assert_eq!(
        (state.status.as_str(), state.desired, state.running),
        ("ACTIVE", 1, 0)
    );
    assert_eq!(state.task_definition, td_arn);
    assert_eq!(facts.task_definition_status.as_deref(), Some("ACTIVE"));
    ecs.update_service()
        .cluster("app")
        .service("api")
        .desired_count(2)
        .send()
        .await?;
    let state = w.readiness.ecs(&svc).await?.service.expect("service");
    assert_eq!((state.desired, state.running), (2, 2));

    // A service that does not exist comes back in `failures`.
    let missing = EcsService {
        service: "nope".into(),
        ..svc.clone()
    };
    let facts = w.readiness.ecs(&missing).await?;
    assert_eq!(facts.cluster_status.as_deref(), Some("ACTIVE"));
    assert_eq!(facts.service, None);
    assert_eq!(facts.task_definition_status, None);

    // Break it: deregister the task definition.
    ecs.deregister_task_definition()
        .task_definition(&td_arn)
        .send()
        .await?;
    let facts = w.readiness.ecs(&svc).await?;
    assert_eq!(facts.task_definition_status.as_deref(), Some("INACTIVE"));

    // A cluster that does not exist.
    let facts = w
        .readiness
        .ecs(&EcsService {
            cluster: "nope".into(),
            ..svc
        })
        .await?;
    assert_eq!((facts.cluster_status, facts.service), (None, None));
    Ok(())
}

#[tokio::test]
async fn autoscaling_group_and_launch_sources() -> anyhow::Result<()> {
    use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
    use aws_sdk_ec2::types::RequestLaunchTemplateData;
    let w = world();
    let asg = w.clients.autoscaling(DR).await;
    asg.create_launch_configuration()
        .launch_configuration_name("router-lc")
        .image_id("ami-12c6146b")
        .instance_type("t3.micro")
        .send()
        .await?;
    asg.create_auto_scaling_group()
        .auto_scaling_group_name("routers")
        .launch_configuration_name("router-lc")
        .min_size(0)
        .max_size(4)
        .desired_capacity(2)
        .availability_zones("us-west-2a")
        .send()
        .await?;
    let group = AutoScalingGroup {
        name: "routers".into(),
        group: "routers".into(),
        primary_group: None,
        pilot_light_capacity: 2,
        active_capacity: 4,
    };

    let facts = w.readiness.autoscaling(&group).await?;
    let g = facts.group.expect("group");
    assert_eq!((g.min, g.max, g.desired, g.in_service), (0, 4, 2, 2));
    assert_eq!(
        g.launch,
        LaunchSource::Configuration {
            name: "router-lc".into()
        }
    );
    assert!(facts.launch_source_exists);

    // Break it: max below the active capacity, and the launch configuration gone.
    asg.update_auto_scaling_group()
        .auto_scaling_group_name("routers")
        .max_size(1)
        .desired_capacity(1)
        .send()
        .await?;
    asg.delete_launch_configuration()
        .launch_configuration_name("router-lc")
        .send()
        .await?;
    let facts = w.readiness.autoscaling(&group).await?;
    let g = facts.group.expect("group");
    assert_eq!((g.max, g.desired, g.in_service), (1, 1, 1));
    assert!(!facts.launch_source_exists);

    // A group launching from a launch template, by id.
    let ec2 = w.clients.ec2(DR).await;
    let lt = ec2
        .create_launch_template()
        .launch_template_name("router-lt")
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id("ami-12c6146b")
                .instance_type("t3.micro".into())
                .build(),
        )
        .send()
        .await?;
    let lt_id = lt
        .launch_template()
        .and_then(|t| t.launch_template_id())
        .unwrap_or_default()
        .to_string();
    asg.create_auto_scaling_group()
        .auto_scaling_group_name("routers-lt")
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_id(&lt_id)
                .version("$Latest")
                .build(),
        )
        .min_size(0)
        .max_size(2)
        .desired_capacity(0)
        .availability_zones("us-west-2a")
        .send()
        .await?;
    let lt_group = AutoScalingGroup {
        group: "routers-lt".into(),
        ..group.clone()
    };
    let facts = w.readiness.autoscaling(&lt_group).await?;
    assert_eq!(
        facts.group.map(|g| g.launch),
        Some(LaunchSource::Template {
            id_or_name: lt_id.clone(),
            version: Some("$Latest".into())
        })
    );
    assert!(facts.launch_source_exists);
    ec2.delete_launch_template()
        .launch_template_id(&lt_id)
        .send()
        .await?;
    assert!(
        !w.readiness
            .autoscaling(&lt_group)
            .await?
            .launch_source_exists
    );

    // A group that does not exist.
    let facts = w
        .readiness
        .autoscaling(&AutoScalingGroup {
            group: "nope".into(),
            ..group
        })
        .await?;
    assert_eq!(facts.group, None);
    assert!(!facts.launch_source_exists);
    Ok(())
}

#[tokio::test]
async fn route53_records_and_health_checks() -> anyhow::Result<()> {
    use aws_sdk_route53::types::{
        Change, ChangeAction, ChangeBatch, HealthCheckConfig, HealthCheckType, ResourceRecord,
        ResourceRecordSet, ResourceRecordSetFailover, RrType,
    };
    let w = world();
    let r53 = w.clients.route53(PRIMARY).await;
    let zone = r53
        .create_hosted_zone()
        .name("confer.test.")
        .caller_reference("zone-1")
        .send()
        .await?;
    let zone_id = zone
        .hosted_zone()
        .map(|z| z.id().to_string())
        .unwrap_or_default();
    let mut checks = Vec::new();
    for (i, fqdn) in ["primary.confer.test", "dr.confer.test"].iter().enumerate() {
        let hc = r53
            .create_health_check()
            .caller_reference(format!("hc-{i}"))
            .health_check_config(
                HealthCheckConfig::builder()
                    .r#type(HealthCheckType::Https)
                    .fully_qualified_domain_name(*fqdn)
                    .port(443)
                    .resource_path("/health")
                    .build()?,
            )
            .send()
            .await?;
        checks.push(
            hc.health_check()
                .map(|h| h.id().to_string())
                .unwrap_or_default(),
        );
    }
    let record_set = |name: &str,
                      ty: RrType,
                      set_id: &str,
                      failover: ResourceRecordSetFailover,
                      hc: &str,
                      ip: &str| {
        ResourceRecordSet::builder()
            .name(name)
            .r#type(ty)
            .set_identifier(set_id)
            .failover(failover)
            .ttl(60)
            .health_check_id(hc)
            .resource_records(ResourceRecord::builder().value(ip).build().expect("record"))
            .build()
            .expect("record set")
    };
    let api_primary = record_set(
        "api.confer.test.",
        RrType::A,
        "api-primary",
        ResourceRecordSetFailover::Primary,
        &checks[0],
        "192.0.2.1",
    );
    let api_dr = record_set(
        "api.confer.test.",
        RrType::A,
        "api-dr",
        ResourceRecordSetFailover::Secondary,
        &checks[1],
        "198.51.100.1",
    );
    let mut changes = vec![api_primary, api_dr.clone()];
    // Neighbours in the sorted listing that must not be mistaken for the record.
    changes.push(record_set(
        "api.confer.test.",
        RrType::Aaaa,
        "api-primary",
        ResourceRecordSetFailover::Primary,
        &checks[0],
        "2001:db8::1",
    ));
    changes.push(record_set(
        "www.confer.test.",
        RrType::A,
        "api-dr",
        ResourceRecordSetFailover::Secondary,
        &checks[1],
        "198.51.100.2",
    ));
    let batch = |action: ChangeAction, sets: Vec<ResourceRecordSet>| {
        let mut b = ChangeBatch::builder();
        for s in sets {
            b = b.changes(
                Change::builder()
                    .action(action.clone())
                    .resource_record_set(s)
                    .build()
                    .expect("change"),
            );
        }
        b.build().expect("batch")
    };
    r53.change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(batch(ChangeAction::Upsert, changes))
        .send()
        .await?;

    let config = Route53 {
        zone_id: zone_id.clone(),
        records: vec![],
    };
    let record = DnsRecord {
        name: "api".into(),
        record_name: "api.confer.test".into(),
        record_type: "A".into(),
        routing: Routing::Failover,
        primary_set_identifier: "api-primary".into(),
        dr_set_identifier: "api-dr".into(),
        require_health_checks: true,
    };

    let facts = w.readiness.route53(&config, &record).await?;
    assert!(facts.zone_exists);
    let p = facts.primary.expect("primary record set");
    assert_eq!(p.failover.as_deref(), Some("PRIMARY"));
    assert_eq!(p.health_check_id.as_deref(), Some(checks[0].as_str()));
    let d = facts.dr.expect("dr record set");
    assert_eq!(d.failover.as_deref(), Some("SECONDARY"));
    assert_eq!(d.weight, None);
    assert_eq!(d.health_check_id.as_deref(), Some(checks[1].as_str()));
    assert_eq!(facts.health_checks.len(), 2);
    for (hc, id) in facts.health_checks.iter().zip(&checks) {
        assert_eq!(&hc.id, id);
        assert!(hc.exists);
        assert!(hc.observations > 0, "{hc:?}");
        // moto always reports success.
        assert_eq!(hc.healthy_observations, hc.observations, "{hc:?}");
    }

    // Break it: delete the DR record set and the primary's health check.
    r53.change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(batch(ChangeAction::Delete, vec![api_dr]))
        .send()
        .await?;
    r53.delete_health_check()
        .health_check_id(&checks[0])
        .send()
        .await?;
    let facts = w.readiness.route53(&config, &record).await?;
    assert!(facts.primary.is_some());
    assert_eq!(facts.dr, None);
    assert_eq!(facts.health_checks.len(), 1);
    assert_eq!(facts.health_checks[0].id, checks[0]);
    assert!(!facts.health_checks[0].exists);

    // A zone that does not exist.
    let gone = Route53 {
        zone_id: "Z0000000000NOPE".into(),
        records: vec![],
    };
    let facts = w.readiness.route53(&gone, &record).await?;
    assert!(!facts.zone_exists);
    assert_eq!((facts.primary, facts.dr), (None, None));
    Ok(())
}

#[tokio::test]
async fn every_call_goes_through_the_caller() -> anyhow::Result<()> {
    let w = world();
    w.readiness
        .kms(&KmsKey {
            name: "k".into(),
            key_id: "mrk-00000000000000000000000000000000".into(),
        })
        .await?;
    let stats = w.readiness.caller().stats().get("kms", "DescribeKey");
    assert_eq!((stats.calls, stats.attempts, stats.failures), (2, 2, 0));
    Ok(())
}
