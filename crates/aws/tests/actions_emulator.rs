//! The actuator through the real SDK against the emulator (moto behind Pilotlight's emulation
//! and fault proxy), one emulator per test: for each action, set the world up, observe (not
//! done), act, observe until done, and check the live state through the SDK; then idempotency
//! and the errors for missing resources.
//!
//! The RDS promotion tests need the emulator's promotion layer (moto alone never shows a
//! promotion): `rds_promotion_is_observed_and_never_repeated` and
//! `crash_after_promotion_sent_is_observed_in_progress`.

mod common;

use common::{init_env, settings, zone_with_checks, Zone, DR, PRIMARY};
use pilotlight_aws::{AwsActuator, Caller, ClientFactory};
use pilotlight_core::capability::{Actuator, Observation};
use pilotlight_core::model::{ResourceKind, ResourceRef};
use pilotlight_core::plan::{Action, CapacityTarget};
use pilotlight_core::runbook::Side;
use pilotlight_core::{CapabilityError, ErrorClass};
use pilotlight_testkit::{Emulator, EmulatorOptions, FaultAction, FaultRule};
use std::sync::Arc;
use std::time::Duration;

/// An emulator with a factory, a caller and the actuator pointed at it.
struct World {
    emulator: Emulator,
    clients: Arc<ClientFactory>,
    actuator: AwsActuator,
}

impl World {
    /// A second actuator on the same emulator, with no memory: a restarted control service.
    fn restarted(&self) -> AwsActuator {
        AwsActuator::new(self.clients.clone(), Caller::from_factory(&self.clients))
    }
}

async fn world() -> World {
    world_with(EmulatorOptions::default(), 3).await
}

async fn world_with(options: EmulatorOptions, max_attempts: u32) -> World {
    init_env();
    let emulator = Emulator::start_with(options)
        .await
        .expect("emulator starts");
    let mut s = settings(&emulator.endpoint());
    s.max_attempts = max_attempts;
    let clients = Arc::new(ClientFactory::new(s));
    let actuator = AwsActuator::new(clients.clone(), Caller::from_factory(&clients));
    World {
        emulator,
        clients,
        actuator,
    }
}

/// Observe (expecting not done), act once, then poll until done; returns the act detail and the
/// final observation.
async fn converge(a: &AwsActuator, action: &Action) -> anyhow::Result<(String, Observation)> {
    let before = a.observe(action).await?;
    anyhow::ensure!(!before.done, "already done before acting: {}", before.live);
    anyhow::ensure!(
        !before.in_progress,
        "in progress before acting: {}",
        before.live
    );
    let detail = a.act(action).await?;
    let obs = wait_done(a, action).await?;
    Ok((detail, obs))
}

async fn wait_done(a: &AwsActuator, action: &Action) -> anyhow::Result<Observation> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let obs = a.observe(action).await?;
        if obs.done {
            return Ok(obs);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "not done in 30 s: {}",
            obs.live
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn terminal(r: Result<impl std::fmt::Debug, CapabilityError>) -> CapabilityError {
    let e = r.expect_err("expected an error");
    assert_eq!(e.class, ErrorClass::Terminal, "{e}");
    e
}

// ---- ECS -------------------------------------------------------------------------------------

async fn ecs_service(w: &World, cluster: &str, service: &str, desired: i32) -> anyhow::Result<()> {
    use aws_sdk_ecs::types::ContainerDefinition;
    let ecs = w.clients.ecs(DR).await;
    ecs.create_cluster().cluster_name(cluster).send().await?;
    let td = ecs
        .register_task_definition()
        .family(service)
        .container_definitions(
            ContainerDefinition::builder()
                .name(service)
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
        .cluster(cluster)
        .service_name(service)
        .task_definition(&td_arn)
        .desired_count(desired)
        .send()
        .await?;
    Ok(())
}

async fn ecs_counts(w: &World, cluster: &str, service: &str) -> anyhow::Result<(i32, i32)> {
    let out = w
        .clients
        .ecs(DR)
        .await
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await?;
    let s = out.services().first().expect("service");
    Ok((s.desired_count(), s.running_count()))
}

fn scale_ecs(desired: u32) -> Action {
    Action::ScaleEcs {
        region: DR.into(),
        cluster: "app".into(),
        service: "api".into(),
        desired,
    }
}

#[tokio::test]
async fn ecs_scale_up_and_down() -> anyhow::Result<()> {
    let w = world().await;
    ecs_service(&w, "app", "api", 1).await?;

    let up = scale_ecs(3);
    let (detail, obs) = converge(&w.actuator, &up).await?;
    assert!(detail.contains("UpdateService app/api"), "{detail}");
    assert_eq!(obs.live, "desired 3, running 3");
    assert_eq!(ecs_counts(&w, "app", "api").await?, (3, 3));

    // Idempotent: still done, acting again is harmless, a restarted actuator agrees.
    assert!(w.actuator.observe(&up).await?.done);
    w.actuator.act(&up).await?;
    assert_eq!(ecs_counts(&w, "app", "api").await?, (3, 3));
    assert!(w.restarted().observe(&up).await?.done);

    let down = scale_ecs(1);
    let (_, obs) = converge(&w.actuator, &down).await?;
    assert_eq!(obs.live, "desired 1, running 1");
    assert_eq!(ecs_counts(&w, "app", "api").await?, (1, 1));
    assert!(w.restarted().observe(&down).await?.done);
    Ok(())
}

#[tokio::test]
async fn ecs_missing_service_or_cluster_is_terminal() -> anyhow::Result<()> {
    let w = world().await;
    ecs_service(&w, "app", "api", 1).await?;
    let missing = Action::ScaleEcs {
        region: DR.into(),
        cluster: "app".into(),
        service: "nope".into(),
        desired: 2,
    };
    let e = terminal(w.actuator.observe(&missing).await);
    assert!(
        e.message.contains("`nope`") && e.message.contains("`app`"),
        "{e}"
    );
    assert!(e.hint.contains("create the service"), "{e}");
    terminal(w.actuator.act(&missing).await);

    let no_cluster = Action::ScaleEcs {
        region: DR.into(),
        cluster: "gone".into(),
        service: "api".into(),
        desired: 2,
    };
    let e = terminal(w.actuator.observe(&no_cluster).await);
    assert!(e.message.contains("`gone`"), "{e}");
    terminal(w.actuator.act(&no_cluster).await);
    // The service in the right region is untouched.
    assert_eq!(ecs_counts(&w, "app", "api").await?.0, 1);
    Ok(())
}

/// Scenario 7 (throttled_api): half of the ECS calls are throttled; the caller's backoff
/// absorbs it and the scale completes.
#[tokio::test]
async fn throttled_api_ecs_scale_completes() -> anyhow::Result<()> {
    let w = world_with(
        EmulatorOptions {
            seed: 7,
            ..EmulatorOptions::default()
        },
        10,
    )
    .await;
    ecs_service(&w, "app", "api", 1).await?;
    w.emulator.faults().add(
        FaultRule::new(FaultAction::Throttle)
            .for_service("ecs")
            .with_probability(0.5),
    )?;
    let (_, obs) = converge(&w.actuator, &scale_ecs(4)).await?;
    assert_eq!(obs.live, "desired 4, running 4");
    let faults = w.emulator.stats().total_faults();
    assert!(faults > 0, "no fault was injected");
    let stats = w.actuator.caller().stats().total();
    assert!(stats.throttles > 0 && stats.retries > 0, "{stats:?}");
    assert_eq!(stats.failures, 0, "{stats:?}");
    w.emulator.faults().clear();
    assert_eq!(ecs_counts(&w, "app", "api").await?, (4, 4));
    Ok(())
}

// ---- Auto Scaling ----------------------------------------------------------------------------

async fn asg(w: &World, name: &str, min: i32, max: i32, desired: i32) -> anyhow::Result<()> {
    let c = w.clients.autoscaling(DR).await;
    c.create_launch_configuration()
        .launch_configuration_name(format!("{name}-lc"))
        .image_id("ami-12c6146b")
        .instance_type("t3.micro")
        .send()
        .await?;
    c.create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_configuration_name(format!("{name}-lc"))
        .min_size(min)
        .max_size(max)
        .desired_capacity(desired)
        .availability_zones("us-west-2a")
        .send()
        .await?;
    Ok(())
}

/// (min, max, desired, in service) of a group.
async fn asg_state(w: &World, name: &str) -> anyhow::Result<(i32, i32, i32, usize)> {
    use aws_sdk_autoscaling::types::LifecycleState;
    let out = w
        .clients
        .autoscaling(DR)
        .await
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await?;
    let g = out.auto_scaling_groups().first().expect("group");
    Ok((
        g.min_size().unwrap_or(-1),
        g.max_size().unwrap_or(-1),
        g.desired_capacity().unwrap_or(-1),
        g.instances()
            .iter()
            .filter(|i| i.lifecycle_state() == Some(&LifecycleState::InService))
            .count(),
    ))
}

fn scale_asg(desired: u32) -> Action {
    Action::ScaleAutoscaling {
        region: DR.into(),
        group: "routers".into(),
        desired,
    }
}

#[tokio::test]
async fn autoscaling_scale_past_max_below_min_and_back() -> anyhow::Result<()> {
    let w = world().await;
    asg(&w, "routers", 1, 2, 1).await?;

    // Above MaxSize: the group's max is raised with the desired capacity.
    let (detail, obs) = converge(&w.actuator, &scale_asg(4)).await?;
    assert!(
        detail.starts_with("UpdateAutoScalingGroup routers"),
        "{detail}"
    );
    assert_eq!(obs.live, "desired 4, in service 4");
    assert_eq!(asg_state(&w, "routers").await?, (1, 4, 4, 4));
    assert!(w.restarted().observe(&scale_asg(4)).await?.done);
    w.actuator.act(&scale_asg(4)).await?;
    assert_eq!(asg_state(&w, "routers").await?, (1, 4, 4, 4));

    // Within bounds: SetDesiredCapacity.
    let (detail, _) = converge(&w.actuator, &scale_asg(2)).await?;
    assert!(detail.starts_with("SetDesiredCapacity routers"), "{detail}");
    assert_eq!(asg_state(&w, "routers").await?, (1, 4, 2, 2));

    // Below MinSize (pilot light at zero): the min is lowered with it.
    let (detail, obs) = converge(&w.actuator, &scale_asg(0)).await?;
    assert!(detail.contains("min 1 → 0"), "{detail}");
    assert_eq!(obs.live, "desired 0, in service 0");
    assert_eq!(asg_state(&w, "routers").await?, (0, 4, 0, 0));
    assert!(w.actuator.observe(&scale_asg(0)).await?.done);
    Ok(())
}

#[tokio::test]
async fn autoscaling_missing_group_is_terminal() -> anyhow::Result<()> {
    let w = world().await;
    let e = terminal(w.actuator.observe(&scale_asg(2)).await);
    assert!(e.message.contains("`routers`"), "{e}");
    assert!(e.hint.contains(DR), "{e}");
    terminal(w.actuator.act(&scale_asg(2)).await);
    Ok(())
}

// ---- RDS -------------------------------------------------------------------------------------

/// A primary in us-east-1 and its cross-region read replica `orders-dr` in us-west-2; returns
/// the primary's ARN.
async fn rds_pair(w: &World) -> anyhow::Result<String> {
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
    Ok(arn)
}

fn promote() -> Action {
    Action::PromoteRdsReplica {
        region: DR.into(),
        instance: "orders-dr".into(),
    }
}

#[tokio::test]
async fn rds_promotion_is_observed_and_never_repeated() -> anyhow::Result<()> {
    let w = world_with(
        EmulatorOptions {
            promotion_delay: Duration::from_millis(1500),
            ..EmulatorOptions::default()
        },
        3,
    )
    .await;
    let source = rds_pair(&w).await?;

    let before = w.actuator.observe(&promote()).await?;
    assert!(!before.done && !before.in_progress, "{before:?}");
    assert_eq!(
        before.live,
        format!("status available, read replica of {source}")
    );

    let detail = w.actuator.act(&promote()).await?;
    assert!(
        detail.starts_with("PromoteReadReplica orders-dr in us-west-2"),
        "{detail}"
    );
    let during = w.actuator.observe(&promote()).await?;
    assert!(during.in_progress && !during.done, "{during:?}");
    assert!(
        during.live.starts_with("status modifying"),
        "{}",
        during.live
    );

    // A second promotion while the first is under way is refused by RDS: Terminal.
    let e = terminal(w.actuator.act(&promote()).await);
    assert_eq!(e.code.as_deref(), Some("InvalidDBInstanceState"), "{e}");
    assert!(e.hint.contains("never promote twice"), "{e}");

    let obs = wait_done(&w.actuator, &promote()).await?;
    assert_eq!(obs.live, "status available, standalone");
    let live = w
        .clients
        .rds(DR)
        .await
        .describe_db_instances()
        .db_instance_identifier("orders-dr")
        .send()
        .await?;
    let db = live.db_instances().first().expect("instance");
    assert_eq!(db.read_replica_source_db_instance_identifier(), None);
    assert_eq!(db.db_instance_status(), Some("available"));
    assert!(w.emulator.control().is_promoted(DR, "orders-dr"));
    assert_eq!(w.emulator.control().promotions().len(), 1);

    // After it: still done, and a repeat promotion is refused (Terminal), not re-sent silently.
    assert!(w.actuator.observe(&promote()).await?.done);
    let e = terminal(w.actuator.act(&promote()).await);
    assert_eq!(e.code.as_deref(), Some("InvalidDBInstanceState"), "{e}");
    Ok(())
}

/// Scenario 2 (crash_after_promotion_sent): a restarted actuator, with no memory of the call,
/// sees the promotion under way (so the executor does not send it again) and then done.
#[tokio::test]
async fn crash_after_promotion_sent_is_observed_in_progress() -> anyhow::Result<()> {
    let w = world_with(
        EmulatorOptions {
            promotion_delay: Duration::from_millis(1500),
            ..EmulatorOptions::default()
        },
        3,
    )
    .await;
    rds_pair(&w).await?;
    w.actuator.act(&promote()).await?;
    let restarted = w.restarted();
    let obs = restarted.observe(&promote()).await?;
    assert!(obs.in_progress && !obs.done, "{obs:?}");
    wait_done(&restarted, &promote()).await?;
    assert_eq!(w.emulator.control().promotions().len(), 1);
    Ok(())
}

#[tokio::test]
async fn rds_missing_instance_is_terminal() -> anyhow::Result<()> {
    let w = world().await;
    let e = terminal(w.actuator.observe(&promote()).await);
    assert!(e.message.contains("`orders-dr`"), "{e}");
    assert!(e.hint.contains(DR), "{e}");
    Ok(())
}

// ---- Route 53 --------------------------------------------------------------------------------

/// How a test record set is routed.
enum Routing {
    Failover(aws_sdk_route53::types::ResourceRecordSetFailover),
    Weighted(i64),
}

fn record_set(
    set_id: &str,
    routing: Routing,
    hc: Option<&str>,
    ip: &str,
) -> aws_sdk_route53::types::ResourceRecordSet {
    use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};
    let b = ResourceRecordSet::builder()
        .name("api.shop.test.")
        .r#type(RrType::A)
        .set_identifier(set_id)
        .ttl(60)
        .set_health_check_id(hc.map(str::to_string))
        .resource_records(ResourceRecord::builder().value(ip).build().expect("record"));
    let b = match routing {
        Routing::Failover(f) => b.failover(f),
        Routing::Weighted(w) => b.weight(w),
    };
    b.build().expect("record set")
}

async fn upsert(
    w: &World,
    zone: &str,
    action: aws_sdk_route53::types::ChangeAction,
    sets: Vec<aws_sdk_route53::types::ResourceRecordSet>,
) -> anyhow::Result<()> {
    use aws_sdk_route53::types::{Change, ChangeBatch};
    let mut b = ChangeBatch::builder();
    for s in sets {
        b = b.changes(
            Change::builder()
                .action(action.clone())
                .resource_record_set(s)
                .build()?,
        );
    }
    w.clients
        .route53(PRIMARY)
        .await
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(b.build()?)
        .send()
        .await?;
    Ok(())
}

fn shift(zone: &str, failover_routing: bool, to: Side) -> Action {
    Action::ShiftTraffic {
        zone_id: zone.into(),
        record_name: "api.shop.test".into(),
        record_type: "A".into(),
        primary_set_identifier: "api-primary".into(),
        dr_set_identifier: "api-dr".into(),
        failover_routing,
        to,
        weight: None,
        previous: None,
        soak: None,
    }
}

async fn inverted(w: &World, hc: &str) -> anyhow::Result<Option<bool>> {
    let out = w
        .clients
        .route53(PRIMARY)
        .await
        .get_health_check()
        .health_check_id(hc)
        .send()
        .await?;
    Ok(out
        .health_check()
        .and_then(|h| h.health_check_config())
        .and_then(|c| c.inverted()))
}

/// Whether every checker of `GetHealthCheckStatus` reports the endpoint healthy.
async fn reported_healthy(w: &World, hc: &str) -> anyhow::Result<bool> {
    let out = w
        .clients
        .route53(PRIMARY)
        .await
        .get_health_check_status()
        .health_check_id(hc)
        .send()
        .await?;
    let reports: Vec<&str> = out
        .health_check_observations()
        .iter()
        .filter_map(|o| o.status_report().and_then(|r| r.status()))
        .collect();
    anyhow::ensure!(!reports.is_empty(), "no checker reports");
    Ok(reports.iter().all(|s| s.starts_with("Success")))
}

async fn failover_records(w: &World, zone: &Zone) -> anyhow::Result<()> {
    use aws_sdk_route53::types::{ChangeAction, ResourceRecordSetFailover as F};
    upsert(
        w,
        &zone.id,
        ChangeAction::Create,
        vec![
            record_set(
                "api-primary",
                Routing::Failover(F::Primary),
                Some(&zone.checks[0]),
                "192.0.2.1",
            ),
            record_set(
                "api-dr",
                Routing::Failover(F::Secondary),
                Some(&zone.checks[1]),
                "198.51.100.1",
            ),
        ],
    )
    .await
}

/// Scenario 10 (dns_control_plane_down): record changes fail, yet traffic shifts through the
/// pre-created failover records, steered by inverting the primary's health check.
#[tokio::test]
async fn dns_control_plane_down_failover_records_still_shift() -> anyhow::Result<()> {
    let w = world().await;
    let zone = zone_with_checks(&w.clients).await?;
    failover_records(&w, &zone).await?;
    w.emulator.reset_stats();
    w.emulator.faults().add(
        FaultRule::new(FaultAction::ServerError)
            .for_service("route53")
            .for_operation("ChangeResourceRecordSets"),
    )?;
    assert_eq!(inverted(&w, &zone.checks[0]).await?, Some(false));
    assert!(reported_healthy(&w, &zone.checks[0]).await?);

    let to_dr = shift(&zone.id, true, Side::Dr);
    let (detail, obs) = converge(&w.actuator, &to_dr).await?;
    assert!(
        detail.starts_with(&format!(
            "UpdateHealthCheck {} Inverted=true",
            zone.checks[0]
        )),
        "{detail}"
    );
    assert!(obs.live.contains("inverted=true"), "{}", obs.live);
    // moto stores `Inverted`; the emulator reports an inverted healthy endpoint as failing, so
    // Route 53 answers with the SECONDARY (DR) set.
    assert_eq!(inverted(&w, &zone.checks[0]).await?, Some(true));
    assert!(!reported_healthy(&w, &zone.checks[0]).await?);
    assert_eq!(inverted(&w, &zone.checks[1]).await?, Some(false));
    // moto itself, behind the proxy, stores it.
    let direct = ClientFactory::new(settings(&w.emulator.moto_endpoint()));
    let hc = direct
        .route53(PRIMARY)
        .await
        .get_health_check()
        .health_check_id(&zone.checks[0])
        .send()
        .await?;
    assert_eq!(
        hc.health_check()
            .and_then(|h| h.health_check_config())
            .and_then(|c| c.inverted()),
        Some(true)
    );
    assert!(w.restarted().observe(&to_dr).await?.done);
    w.actuator.act(&to_dr).await?;
    assert_eq!(inverted(&w, &zone.checks[0]).await?, Some(true));

    let back = shift(&zone.id, true, Side::Primary);
    let (detail, _) = converge(&w.actuator, &back).await?;
    assert!(detail.contains("Inverted=false"), "{detail}");
    assert_eq!(inverted(&w, &zone.checks[0]).await?, Some(false));
    assert!(reported_healthy(&w, &zone.checks[0]).await?);
    assert_eq!(
        w.emulator
            .stats()
            .request_count("route53", PRIMARY, "ChangeResourceRecordSets"),
        0,
        "no record change was attempted"
    );
    Ok(())
}

#[tokio::test]
async fn failover_records_need_health_checks() -> anyhow::Result<()> {
    use aws_sdk_route53::types::{ChangeAction, ResourceRecordSetFailover as F};
    let w = world().await;
    let zone = zone_with_checks(&w.clients).await?;
    upsert(
        &w,
        &zone.id,
        ChangeAction::Create,
        vec![
            record_set(
                "api-primary",
                Routing::Failover(F::Primary),
                None,
                "192.0.2.1",
            ),
            record_set(
                "api-dr",
                Routing::Failover(F::Secondary),
                Some(&zone.checks[1]),
                "198.51.100.1",
            ),
        ],
    )
    .await?;
    let to_dr = shift(&zone.id, true, Side::Dr);
    let e = terminal(w.actuator.observe(&to_dr).await);
    assert!(
        e.message
            .contains("cannot steer failover records without a health check; attach one or use weighted routing"),
        "{e}"
    );
    terminal(w.actuator.act(&to_dr).await);

    // With the primary's health check attached but the DR set's health check deleted.
    upsert(
        &w,
        &zone.id,
        ChangeAction::Upsert,
        vec![record_set(
            "api-primary",
            Routing::Failover(F::Primary),
            Some(&zone.checks[0]),
            "192.0.2.1",
        )],
    )
    .await?;
    w.clients
        .route53(PRIMARY)
        .await
        .delete_health_check()
        .health_check_id(&zone.checks[1])
        .send()
        .await?;
    let e = terminal(w.actuator.observe(&to_dr).await);
    assert!(e.message.contains(&zone.checks[1]), "{e}");

    // A record that does not exist, and a zone that does not exist.
    let other = Action::ShiftTraffic {
        zone_id: zone.id.clone(),
        record_name: "www.shop.test".into(),
        record_type: "A".into(),
        primary_set_identifier: "api-primary".into(),
        dr_set_identifier: "api-dr".into(),
        failover_routing: true,
        to: Side::Dr,
        weight: None,
        previous: None,
        soak: None,
    };
    let e = terminal(w.actuator.observe(&other).await);
    assert!(e.message.contains("`api-primary`"), "{e}");
    let e = terminal(
        w.actuator
            .observe(&shift("Z0000NOPE", true, Side::Dr))
            .await,
    );
    assert!(e.message.contains("Z0000NOPE"), "{e}");
    Ok(())
}

/// Record sets of the test record, by set identifier.
async fn listed(
    w: &World,
    zone: &str,
) -> anyhow::Result<Vec<aws_sdk_route53::types::ResourceRecordSet>> {
    let out = w
        .clients
        .route53(PRIMARY)
        .await
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await?;
    Ok(out
        .resource_record_sets()
        .iter()
        .filter(|r| r.set_identifier().is_some())
        .cloned()
        .collect())
}

#[tokio::test]
async fn weighted_records_shift_and_back() -> anyhow::Result<()> {
    use aws_sdk_route53::types::ChangeAction;
    let w = world().await;
    let zone = zone_with_checks(&w.clients).await?;
    upsert(
        &w,
        &zone.id,
        ChangeAction::Create,
        vec![
            record_set(
                "api-primary",
                Routing::Weighted(100),
                Some(&zone.checks[0]),
                "192.0.2.1",
            ),
            record_set("api-dr", Routing::Weighted(0), None, "198.51.100.1"),
        ],
    )
    .await?;
    let before = listed(&w, &zone.id).await?;

    let to_dr = shift(&zone.id, false, Side::Dr);
    let (detail, obs) = converge(&w.actuator, &to_dr).await?;
    assert!(
        detail.contains("weight api-primary 0, api-dr 100"),
        "{detail}"
    );
    assert!(
        obs.live.starts_with("weights primary 0, DR 100; change "),
        "{}",
        obs.live
    );
    assert!(obs.live.ends_with("INSYNC"), "{}", obs.live);
    let after = listed(&w, &zone.id).await?;
    assert_eq!(after.len(), 2);
    for set in &after {
        let old = before
            .iter()
            .find(|b| b.set_identifier() == set.set_identifier())
            .expect("same sets");
        // Only the weight changed: TTL, records and health check are kept.
        let mut expected = old.clone();
        expected.weight = Some(if set.set_identifier() == Some("api-dr") {
            100
        } else {
            0
        });
        assert_eq!(set, &expected);
    }
    // Idempotent: done (from the weights alone after a restart), and acting again is harmless.
    assert!(w.actuator.observe(&to_dr).await?.done);
    assert!(w.restarted().observe(&to_dr).await?.done);
    w.actuator.act(&to_dr).await?;
    assert_eq!(listed(&w, &zone.id).await?, after);

    let back = shift(&zone.id, false, Side::Primary);
    let (_, obs) = converge(&w.actuator, &back).await?;
    assert!(
        obs.live.starts_with("weights primary 100, DR 0"),
        "{}",
        obs.live
    );
    assert_eq!(listed(&w, &zone.id).await?, before);
    Ok(())
}

#[tokio::test]
async fn weighted_shift_of_unweighted_or_missing_sets_is_terminal() -> anyhow::Result<()> {
    use aws_sdk_route53::types::ChangeAction;
    let w = world().await;
    let zone = zone_with_checks(&w.clients).await?;
    failover_records(&w, &zone).await?;
    let e = terminal(w.actuator.observe(&shift(&zone.id, false, Side::Dr)).await);
    assert!(e.message.contains("not weighted"), "{e}");

    let w2 = world().await;
    let zone2 = zone_with_checks(&w2.clients).await?;
    upsert(
        &w2,
        &zone2.id,
        ChangeAction::Create,
        vec![record_set(
            "api-primary",
            Routing::Weighted(100),
            None,
            "192.0.2.1",
        )],
    )
    .await?;
    let e = terminal(
        w2.actuator
            .observe(&shift(&zone2.id, false, Side::Dr))
            .await,
    );
    assert!(e.message.contains("`api-dr`"), "{e}");
    terminal(w2.actuator.act(&shift(&zone2.id, false, Side::Dr)).await);
    Ok(())
}

// ---- wait_until and executor-only actions ----------------------------------------------------

#[tokio::test]
async fn wait_capacity_counts_running_tasks_and_instances() -> anyhow::Result<()> {
    let w = world().await;
    ecs_service(&w, "app", "api", 1).await?;
    asg(&w, "routers", 0, 4, 2).await?;
    // moto starts services with no running task; an update makes it follow.
    w.clients
        .ecs(DR)
        .await
        .update_service()
        .cluster("app")
        .service("api")
        .desired_count(2)
        .send()
        .await?;
    let target = |kind, cluster: &str, name: &str, desired| CapacityTarget {
        resource: ResourceRef {
            kind,
            name: name.into(),
        },
        region: DR.into(),
        cluster: cluster.into(),
        name: name.into(),
        desired,
    };
    let wait = |fraction| Action::WaitCapacity {
        targets: vec![
            target(ResourceKind::EcsService, "app", "api", 4),
            target(ResourceKind::AutoscalingGroup, "", "routers", 2),
        ],
        fraction,
    };
    let half = w.actuator.observe(&wait(0.5)).await?;
    assert_eq!(half.live, "api 2/4, routers 2/2");
    assert!(half.done && !half.in_progress);
    let full = w.actuator.observe(&wait(1.0)).await?;
    assert!(!full.done, "{full:?}");
    terminal(w.actuator.act(&wait(1.0)).await);

    w.actuator.act(&scale_ecs(4)).await?;
    assert!(w.actuator.observe(&wait(1.0)).await?.done);

    let missing = Action::WaitCapacity {
        targets: vec![target(ResourceKind::AutoscalingGroup, "", "nope", 2)],
        fraction: 1.0,
    };
    let e = terminal(w.actuator.observe(&missing).await);
    assert!(e.message.contains("`nope`"), "{e}");
    Ok(())
}

#[tokio::test]
async fn executor_actions_are_refused() {
    init_env();
    // Never contacted: these actions make no AWS call.
    let clients = Arc::new(ClientFactory::new(settings("http://127.0.0.1:9")));
    let a = AwsActuator::new(clients.clone(), Caller::from_factory(&clients));
    for action in [
        Action::ReadinessGate,
        Action::LagGate {
            database: "orders".into(),
            budget: Duration::from_secs(5),
            replica: Side::Dr,
            wait: false,
        },
        Action::ManualApproval {
            message: "go?".into(),
        },
        Action::CommandHook {
            command: vec!["true".into()],
        },
        Action::Notify {
            message: "hi".into(),
        },
    ] {
        let e = terminal(a.observe(&action).await);
        assert!(e.message.contains("carried out by the executor"), "{e}");
        terminal(a.act(&action).await);
    }
    assert_eq!(a.caller().stats().total().calls, 0);
}
