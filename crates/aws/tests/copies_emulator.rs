//! The isolated drill's copies (`pilotlight_aws::copies::AwsCopies`) through the real SDK against
//! moto: in the DR region, a read replica, an ECS service behind a load balancer and an Auto
//! Scaling group with a launch template are copied (create, verify, create again), listed by the
//! drill's marker, removed (twice) and listed again (nothing left), and the sources are untouched.
//! Copies never get load balancers, service registries or target groups.
//!
//! moto starts no tasks for a new ECS service (its runningCount stays 0 until an UpdateService),
//! so the test sends the copy's desired count once more, standing in for the ECS scheduler.

mod common;

use common::{world, DR, PRIMARY};
use pilotlight_aws::{AwsCopies, Caller};
use pilotlight_core::ErrorClass;
use pilotlight_drill::isolated::{copy_name, Copy, CopyKind, DrillCopies};
use std::time::Duration;

const DRILL: &str = "drill-20261121-232909-e9bd";
const CLUSTER: &str = "app";

/// The primary `orders` in us-east-1, its read replica `orders-dr` in DR, and an unrelated manual
/// snapshot of the replica (not a drill's).
async fn seed_rds(w: &common::World) -> anyhow::Result<()> {
    let (p, d) = (w.clients.rds(PRIMARY).await, w.clients.rds(DR).await);
    let created = p
        .create_db_instance()
        .db_instance_identifier("orders")
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .allocated_storage(20)
        .master_username("admin")
        .master_user_password("secret-password")
        .send()
        .await?;
    let arn = created
        .db_instance()
        .and_then(|db| db.db_instance_arn())
        .unwrap_or_default()
        .to_string();
    d.create_db_instance_read_replica()
        .db_instance_identifier("orders-dr")
        .source_db_instance_identifier(&arn)
        .db_instance_class("db.t3.micro")
        .send()
        .await?;
    d.create_db_snapshot()
        .db_instance_identifier("orders-dr")
        .db_snapshot_identifier("orders-dr-weekly")
        .send()
        .await?;
    Ok(())
}

/// A subnet and a security group of the DR region's default VPC (moto checks the ids it is
/// given).
async fn network(w: &common::World) -> anyhow::Result<(String, String)> {
    let ec2 = w.clients.ec2(DR).await;
    let subnets = ec2.describe_subnets().send().await?;
    let subnet = subnets
        .subnets()
        .first()
        .and_then(|s| s.subnet_id())
        .ok_or_else(|| anyhow::anyhow!("no default subnet"))?
        .to_string();
    let groups = ec2.describe_security_groups().send().await?;
    let group = groups
        .security_groups()
        .first()
        .and_then(|g| g.group_id())
        .ok_or_else(|| anyhow::anyhow!("no default security group"))?
        .to_string();
    Ok((subnet, group))
}

/// The cluster `app` with the Fargate service `web` (desired 1) behind a target group, in
/// `subnet`; returns the task definition's ARN.
async fn seed_ecs(w: &common::World, subnet: &str, group: &str) -> anyhow::Result<String> {
    use aws_sdk_ecs::types::{
        AssignPublicIp, AwsVpcConfiguration, ContainerDefinition, LaunchType, LoadBalancer,
        NetworkConfiguration,
    };
    let ecs = w.clients.ecs(DR).await;
    ecs.create_cluster().cluster_name(CLUSTER).send().await?;
    let td = ecs
        .register_task_definition()
        .family("web")
        .container_definitions(
            ContainerDefinition::builder()
                .name("web")
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
        .cluster(CLUSTER)
        .service_name("web")
        .task_definition(&td_arn)
        .desired_count(1)
        .launch_type(LaunchType::Fargate)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .subnets(subnet)
                        .security_groups(group)
                        .assign_public_ip(AssignPublicIp::Disabled)
                        .build()?,
                )
                .build(),
        )
        .load_balancers(
            LoadBalancer::builder()
                .target_group_arn(
                    "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web/0123456789abcdef",
                )
                .container_name("web")
                .container_port(80)
                .build(),
        )
        .send()
        .await?;
    Ok(td_arn)
}

/// The group `routers` (min 1, max 3, desired 1) in `subnet`, launched from a launch template;
/// returns the template's id.
async fn seed_asg(w: &common::World, subnet: &str) -> anyhow::Result<String> {
    use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
    use aws_sdk_ec2::types::{InstanceType, RequestLaunchTemplateData};
    let ec2 = w.clients.ec2(DR).await;
    let lt = ec2
        .create_launch_template()
        .launch_template_name("routers")
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id("ami-12c6146b")
                .instance_type(InstanceType::T3Micro)
                .build(),
        )
        .send()
        .await?;
    let lt_id = lt
        .launch_template()
        .and_then(|t| t.launch_template_id())
        .unwrap_or_default()
        .to_string();
    w.clients
        .autoscaling(DR)
        .await
        .create_auto_scaling_group()
        .auto_scaling_group_name("routers")
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_id(&lt_id)
                .version("$Latest")
                .build(),
        )
        .min_size(1)
        .max_size(3)
        .desired_capacity(1)
        .vpc_zone_identifier(subnet)
        .send()
        .await?;
    Ok(lt_id)
}

/// The copies `copies_for` makes of such an environment: a snapshot of the replica and an
/// instance restored from it, the service at 3 tasks, the group at 2 instances.
fn copies() -> Vec<Copy> {
    let snapshot = copy_name("orders-dr", DRILL);
    vec![
        Copy {
            kind: CopyKind::RdsSnapshot,
            source: "orders-dr".into(),
            name: snapshot.clone(),
            region: DR.into(),
            cluster: None,
            size: 0,
        },
        Copy {
            kind: CopyKind::RdsInstance,
            source: snapshot.clone(),
            name: snapshot,
            region: DR.into(),
            cluster: None,
            size: 0,
        },
        Copy {
            kind: CopyKind::EcsService,
            source: "web".into(),
            name: copy_name("web", DRILL),
            region: DR.into(),
            cluster: Some(CLUSTER.into()),
            size: 3,
        },
        Copy {
            kind: CopyKind::AutoScalingGroup,
            source: "routers".into(),
            name: copy_name("routers", DRILL),
            region: DR.into(),
            cluster: None,
            size: 2,
        },
    ]
}

async fn verified(copies: &AwsCopies, copy: &Copy) -> anyhow::Result<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(evidence) = copies.verify(copy).await? {
            return Ok(evidence);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{} {} not verified in 20 s",
            copy.kind.name(),
            copy.name
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ecs_service(w: &common::World, name: &str) -> anyhow::Result<aws_sdk_ecs::types::Service> {
    let out = w
        .clients
        .ecs(DR)
        .await
        .describe_services()
        .cluster(CLUSTER)
        .services(name)
        .send()
        .await?;
    out.services()
        .first()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no service {name}"))
}

async fn group(
    w: &common::World,
    name: &str,
) -> anyhow::Result<aws_sdk_autoscaling::types::AutoScalingGroup> {
    let out = w
        .clients
        .autoscaling(DR)
        .await
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await?;
    out.auto_scaling_groups()
        .first()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no group {name}"))
}

#[tokio::test]
async fn copies_are_created_verified_listed_and_removed_without_touching_the_sources(
) -> anyhow::Result<()> {
    let w = world();
    seed_rds(&w).await?;
    let (subnet, security_group) = network(&w).await?;
    let td_arn = seed_ecs(&w, &subnet, &security_group).await?;
    let lt_id = seed_asg(&w, &subnet).await?;
    let adapter = AwsCopies::new(w.clients.clone(), Caller::from_factory(&w.clients));
    let copies = copies();
    let clusters = vec![CLUSTER.to_string()];

    // Create, verify, create again (idempotent).
    let mut evidence = Vec::new();
    for copy in &copies {
        adapter.create(copy).await?;
        if copy.kind == CopyKind::EcsService {
            // moto starts no tasks for a new service (runningCount stays at
            // MOTO_ECS_SERVICE_RUNNING, 0); it sets runningCount to desiredCount on UpdateService
            // only. Until then the copy is not verified; the update stands in for the scheduler.
            assert_eq!(adapter.verify(copy).await?, None, "no task runs yet");
            w.clients
                .ecs(DR)
                .await
                .update_service()
                .cluster(CLUSTER)
                .service(&copy.name)
                .desired_count(3)
                .send()
                .await?;
        }
        evidence.push(verified(&adapter, copy).await?);
        adapter.create(copy).await?;
    }
    assert_eq!(
        evidence,
        vec!["available", "available", "running 3/3", "InService 2/2"]
    );

    // Exactly the copies carry the marker (not the replica's weekly snapshot, not the sources).
    let mut want: Vec<(CopyKind, String)> =
        copies.iter().map(|c| (c.kind, c.name.clone())).collect();
    want.sort();
    assert_eq!(adapter.list_marked(DR, DRILL, &clusters).await?, want);
    assert!(adapter
        .list_marked(DR, "drill-other", &clusters)
        .await?
        .is_empty());

    // The ECS copy: the source's task definition and network, the copy's size, never serving.
    let web_copy = ecs_service(&w, &copies[2].name).await?;
    assert_eq!(web_copy.task_definition(), Some(td_arn.as_str()));
    assert_eq!(web_copy.desired_count(), 3);
    assert!(web_copy.load_balancers().is_empty(), "{web_copy:?}");
    assert!(web_copy.service_registries().is_empty(), "{web_copy:?}");
    assert_eq!(web_copy.launch_type().map(|l| l.as_str()), Some("FARGATE"));
    let subnets = web_copy
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .map(|a| a.subnets().to_vec())
        .unwrap_or_default();
    assert_eq!(subnets, vec![subnet.clone()]);

    // The Auto Scaling copy: the source's launch template, min 0, never behind a balancer.
    let routers_copy = group(&w, &copies[3].name).await?;
    assert_eq!(
        routers_copy
            .launch_template()
            .and_then(|t| t.launch_template_id()),
        Some(lt_id.as_str())
    );
    assert_eq!(
        (
            routers_copy.min_size(),
            routers_copy.max_size(),
            routers_copy.desired_capacity()
        ),
        (Some(0), Some(3), Some(2))
    );
    assert_eq!(routers_copy.vpc_zone_identifier(), Some(subnet.as_str()));
    assert!(routers_copy.target_group_arns().is_empty());
    assert!(routers_copy.load_balancer_names().is_empty());

    // The restored instance: single-AZ, from the replica's class.
    let db = w
        .clients
        .rds(DR)
        .await
        .describe_db_instances()
        .db_instance_identifier(&copies[1].name)
        .send()
        .await?;
    let db = db.db_instances().first().expect("restored instance");
    assert_eq!(db.db_instance_class(), Some("db.t3.micro"));
    assert_eq!(db.multi_az(), Some(false));
    // moto applies only truthy overrides of a restore (`PubliclyAccessible=false` is dropped, the
    // field comes back empty): it cannot show that the flag is sent, only that it is not on.
    assert_ne!(db.publicly_accessible(), Some(true));

    // Remove in reverse order, twice (idempotent); nothing is left.
    for copy in copies.iter().rev() {
        adapter.remove(copy).await?;
        adapter.remove(copy).await?;
    }
    assert_eq!(adapter.list_marked(DR, DRILL, &clusters).await?, vec![]);

    // The sources are untouched.
    let web = ecs_service(&w, "web").await?;
    assert_eq!((web.status(), web.desired_count()), (Some("ACTIVE"), 1));
    assert_eq!(web.load_balancers().len(), 1);
    let routers = group(&w, "routers").await?;
    assert_eq!(
        (
            routers.min_size(),
            routers.max_size(),
            routers.desired_capacity()
        ),
        (Some(1), Some(3), Some(1))
    );
    let replica = w
        .clients
        .rds(DR)
        .await
        .describe_db_instances()
        .db_instance_identifier("orders-dr")
        .send()
        .await?;
    assert_eq!(
        replica
            .db_instances()
            .first()
            .and_then(|d| d.db_instance_status()),
        Some("available")
    );
    let snapshots = w
        .clients
        .rds(DR)
        .await
        .describe_db_snapshots()
        .snapshot_type("manual")
        .send()
        .await?;
    let names: Vec<&str> = snapshots
        .db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier())
        .collect();
    assert_eq!(names, vec!["orders-dr-weekly"]);
    Ok(())
}

#[tokio::test]
async fn missing_sources_are_terminal_errors_naming_them() -> anyhow::Result<()> {
    let w = world();
    let ecs = w.clients.ecs(DR).await;
    ecs.create_cluster().cluster_name(CLUSTER).send().await?;
    let adapter = AwsCopies::new(w.clients.clone(), Caller::from_factory(&w.clients));
    let copies = copies();
    for copy in &copies {
        let e = adapter
            .create(copy)
            .await
            .expect_err("a copy of a missing source");
        assert_eq!(e.class, ErrorClass::Terminal, "{e}");
        assert!(
            e.message.contains(&format!("`{}`", copy.source)) || e.code.is_some(),
            "{e}"
        );
        // Nothing to verify, nothing to remove, nothing left.
        assert_eq!(adapter.verify(copy).await?, None);
        adapter.remove(copy).await?;
    }
    assert!(adapter
        .list_marked(DR, DRILL, &[CLUSTER.to_string(), "gone".to_string()])
        .await?
        .is_empty());
    Ok(())
}
