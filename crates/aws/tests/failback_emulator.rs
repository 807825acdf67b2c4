//! The failback actions of the actuator through the real SDK against the emulator (moto behind
//! Pilotlight's emulation and fault proxy), one emulator per test: fencing, retiring and
//! reprotecting RDS instances, the health gate of a gradual shift (`Actuator::health` over
//! `GetHealthCheckStatus`), weighted shifts with a share, and `Actuator::force` on a scale-in
//! held up by scale-in protection.
//!
//! The proxy's request counters (`Emulator::stats`) prove what was (not) sent: observing,
//! judging health and refusing never send a mutating call.

mod common;

use common::{init_env, settings, zone_with_checks, Zone, DR, PRIMARY};
use pilotlight_aws::{AwsActuator, Caller, ClientFactory};
use pilotlight_core::capability::{Actuator, Observation};
use pilotlight_core::plan::Action;
use pilotlight_core::runbook::Side;
use pilotlight_core::{CapabilityError, ErrorClass};
use pilotlight_testkit::emulator::ProxyStats;
use pilotlight_testkit::Emulator;
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
    init_env();
    let emulator = Emulator::start().await.expect("emulator starts");
    let clients = Arc::new(ClientFactory::new(settings(&emulator.endpoint())));
    let actuator = AwsActuator::new(clients.clone(), Caller::from_factory(&clients));
    World {
        emulator,
        clients,
        actuator,
    }
}

/// Observe until done (at most 30 s); returns the final observation.
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

/// Operations that change something, by service (what observing must never send).
const MUTATING: &[&str] = &[
    "ModifyDBInstance",
    "StopDBInstance",
    "DeleteDBInstance",
    "CreateDBInstanceReadReplica",
    "PromoteReadReplica",
    "CreateDBSnapshot",
    "ChangeResourceRecordSets",
    "UpdateHealthCheck",
    "SetDesiredCapacity",
    "UpdateAutoScalingGroup",
    "SetInstanceProtection",
    "TerminateInstanceInAutoScalingGroup",
];

/// The mutating requests the proxy counted, with their counts.
fn mutations(stats: &ProxyStats) -> Vec<(String, String, u64)> {
    stats
        .requests
        .iter()
        .filter(|r| MUTATING.contains(&r.operation.as_str()))
        .map(|r| (r.region.clone(), r.operation.clone(), r.count))
        .collect()
}

/// Operations counted since the last reset, `region/operation`, sorted.
fn operations(stats: &ProxyStats) -> Vec<String> {
    stats
        .requests
        .iter()
        .map(|r| format!("{}/{}", r.region, r.operation))
        .collect()
}

// ---- RDS -------------------------------------------------------------------------------------

/// A standalone postgres instance `id` in `region`; returns its ARN.
async fn db(w: &World, region: &str, id: &str) -> anyhow::Result<String> {
    let out = w
        .clients
        .rds(region)
        .await
        .create_db_instance()
        .db_instance_identifier(id)
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .allocated_storage(20)
        .master_username("admin")
        .master_user_password("secret-password")
        .send()
        .await?;
    Ok(out
        .db_instance()
        .and_then(|d| d.db_instance_arn())
        .unwrap_or_default()
        .to_string())
}

/// A read replica `id` in `region` of `source` (an identifier, or an ARN across regions).
async fn replica(w: &World, region: &str, id: &str, source: &str) -> anyhow::Result<()> {
    w.clients
        .rds(region)
        .await
        .create_db_instance_read_replica()
        .db_instance_identifier(id)
        .source_db_instance_identifier(source)
        .db_instance_class("db.t3.micro")
        .send()
        .await?;
    Ok(())
}

/// The instance as moto describes it; `None` when it does not exist.
async fn described(
    w: &World,
    region: &str,
    id: &str,
) -> anyhow::Result<Option<aws_sdk_rds::types::DbInstance>> {
    let out = w
        .clients
        .rds(region)
        .await
        .describe_db_instances()
        .send()
        .await?;
    Ok(out
        .db_instances()
        .iter()
        .find(|d| d.db_instance_identifier() == Some(id))
        .cloned())
}

/// Names of the parameter groups of an instance.
fn parameter_groups(db: &aws_sdk_rds::types::DbInstance) -> Vec<String> {
    db.db_parameter_groups()
        .iter()
        .filter_map(|g| g.db_parameter_group_name().map(str::to_string))
        .collect()
}

fn fence(instance: &str, parameter_group: Option<&str>) -> Action {
    Action::FenceRds {
        region: PRIMARY.into(),
        instance: instance.into(),
        parameter_group: parameter_group.map(str::to_string),
    }
}

fn retire(instance: &str) -> Action {
    Action::RetireRds {
        region: PRIMARY.into(),
        instance: instance.into(),
    }
}

/// Reprotect: `orders` in us-east-1 as a replica of the serving `orders-dr` in us-west-2.
fn reprotect() -> Action {
    Action::ReprotectRds {
        region: PRIMARY.into(),
        instance: "orders".into(),
        source_region: DR.into(),
        source_instance: "orders-dr".into(),
    }
}

#[tokio::test]
async fn fence_applies_the_read_only_parameter_group() -> anyhow::Result<()> {
    let w = world().await;
    db(&w, PRIMARY, "orders").await?;
    w.clients
        .rds(PRIMARY)
        .await
        .create_db_parameter_group()
        .db_parameter_group_name("pl-readonly")
        .db_parameter_group_family("postgres16")
        .description("read-only fence")
        .send()
        .await?;
    let action = fence("orders", Some("pl-readonly"));

    w.emulator.reset_stats();
    let before = w.actuator.observe(&action).await?;
    assert!(!before.done && !before.in_progress, "{before:?}");
    assert!(
        before
            .live
            .starts_with("status available, parameter groups ")
            && !before.live.contains("pl-readonly"),
        "{}",
        before.live
    );
    // Observing is one read-only call.
    let stats = w.emulator.stats();
    assert_eq!(
        operations(&stats),
        vec![format!("{PRIMARY}/DescribeDBInstances")]
    );

    let detail = w.actuator.act(&action).await?;
    assert_eq!(
        detail,
        "ModifyDBInstance orders in us-east-1: parameter group pl-readonly, apply immediately \
         (read-only)"
    );
    assert_eq!(
        w.emulator
            .stats()
            .request_count("rds", PRIMARY, "ModifyDBInstance"),
        1
    );

    let after = wait_done(&w.actuator, &action).await?;
    assert!(!after.in_progress, "{after:?}");
    assert_eq!(
        after.live,
        "status available, parameter groups pl-readonly (in-sync)"
    );
    let live = described(&w, PRIMARY, "orders").await?.expect("instance");
    assert_eq!(parameter_groups(&live), vec!["pl-readonly".to_string()]);
    assert_eq!(
        live.db_parameter_groups()[0].parameter_apply_status(),
        Some("in-sync")
    );
    assert_eq!(live.db_instance_status(), Some("available"), "not stopped");
    // A restarted actuator agrees, from live state alone.
    assert!(w.restarted().observe(&action).await?.done);
    Ok(())
}

#[tokio::test]
async fn fence_without_parameter_group_stops_the_instance() -> anyhow::Result<()> {
    let w = world().await;
    db(&w, PRIMARY, "orders").await?;
    let action = fence("orders", None);

    let before = w.actuator.observe(&action).await?;
    assert!(!before.done && !before.in_progress, "{before:?}");

    w.emulator.reset_stats();
    let detail = w.actuator.act(&action).await?;
    assert_eq!(detail, "StopDBInstance orders in us-east-1");
    let stats = w.emulator.stats();
    assert_eq!(
        mutations(&stats),
        vec![(PRIMARY.to_string(), "StopDBInstance".to_string(), 1)]
    );

    let after = wait_done(&w.actuator, &action).await?;
    assert!(
        after.live.starts_with("status stopped, parameter groups "),
        "{}",
        after.live
    );
    let live = described(&w, PRIMARY, "orders").await?.expect("instance");
    assert_eq!(live.db_instance_status(), Some("stopped"));
    assert!(w.restarted().observe(&action).await?.done);
    Ok(())
}

#[tokio::test]
async fn fence_of_absent_instance_is_done_and_missing_group_is_terminal() -> anyhow::Result<()> {
    let w = world().await;
    db(&w, PRIMARY, "orders").await?;

    // Nothing to write to: done, with or without a parameter group.
    for group in [Some("pl-readonly"), None] {
        let obs = w.actuator.observe(&fence("gone", group)).await?;
        assert!(obs.done && !obs.in_progress, "{obs:?}");
        assert_eq!(obs.live, "absent (nothing to write to)");
    }

    // A fence parameter group that does not exist in the region.
    let action = fence("orders", Some("pl-readonly"));
    let before = w.actuator.observe(&action).await?;
    assert!(!before.done, "{before:?}");
    let e = terminal(w.actuator.act(&action).await);
    assert_eq!(e.code.as_deref(), Some("DBParameterGroupNotFound"), "{e}");
    assert_eq!(e.operation, "ModifyDBInstance");
    assert!(
        e.hint.contains("`pl-readonly`") && e.hint.contains("fence_parameter_group"),
        "{e}"
    );
    // Not retried (a terminal error is sent once) and nothing changed.
    assert_eq!(
        w.emulator
            .stats()
            .request_count("rds", PRIMARY, "ModifyDBInstance"),
        1
    );
    let live = described(&w, PRIMARY, "orders").await?.expect("instance");
    assert!(
        !parameter_groups(&live).contains(&"pl-readonly".to_string()),
        "{:?}",
        parameter_groups(&live)
    );
    assert_eq!(live.db_instance_status(), Some("available"));
    assert!(!w.actuator.observe(&action).await?.done);
    Ok(())
}

#[tokio::test]
async fn retire_deletes_with_a_final_snapshot() -> anyhow::Result<()> {
    let w = world().await;
    db(&w, PRIMARY, "orders").await?;
    let action = retire("orders");

    w.emulator.reset_stats();
    let before = w.actuator.observe(&action).await?;
    assert!(!before.done && !before.in_progress, "{before:?}");
    assert_eq!(before.live, "status available");
    assert!(mutations(&w.emulator.stats()).is_empty());

    let detail = w.actuator.act(&action).await?;
    assert!(
        detail.starts_with(
            "DeleteDBInstance orders in us-east-1: final snapshot orders-pilotlight-final-"
        ),
        "{detail}"
    );
    assert_eq!(
        w.emulator
            .stats()
            .request_count("rds", PRIMARY, "DeleteDBInstance"),
        1
    );

    let after = w.actuator.observe(&action).await?;
    assert!(after.done && !after.in_progress, "{after:?}");
    assert_eq!(after.live, "absent");
    assert!(described(&w, PRIMARY, "orders").await?.is_none());

    // The final snapshot exists, is manual (kept after the instance is gone) and is of it.
    let snapshots = w
        .clients
        .rds(PRIMARY)
        .await
        .describe_db_snapshots()
        .send()
        .await?;
    let finals: Vec<_> = snapshots
        .db_snapshots()
        .iter()
        .filter(|s| {
            s.db_snapshot_identifier()
                .is_some_and(|id| id.starts_with("orders-pilotlight-final-"))
        })
        .collect();
    assert_eq!(finals.len(), 1, "{:?}", snapshots.db_snapshots());
    let snap = finals[0];
    assert_eq!(snap.db_instance_identifier(), Some("orders"));
    assert_eq!(snap.snapshot_type(), Some("manual"));
    // The detail names the snapshot that was made.
    let id = snap.db_snapshot_identifier().unwrap_or_default();
    assert!(detail.contains(id), "{detail} vs {id}");
    let suffix = id.trim_start_matches("orders-pilotlight-final-");
    assert!(
        !suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_digit()),
        "{id}"
    );
    // Still done for a restarted actuator.
    assert!(w.restarted().observe(&action).await?.done);
    Ok(())
}

#[tokio::test]
async fn retire_refuses_a_source_of_read_replicas() -> anyhow::Result<()> {
    let w = world().await;
    // Same-region replica (listed by identifier) and cross-region replica (listed by ARN).
    db(&w, PRIMARY, "orders").await?;
    replica(&w, PRIMARY, "orders-ro", "orders").await?;
    let arn = db(&w, PRIMARY, "billing").await?;
    replica(&w, DR, "billing-dr", &arn).await?;

    w.emulator.reset_stats();
    for (source, replica) in [("orders", "orders-ro"), ("billing", "billing-dr")] {
        let action = retire(source);
        // Observing alone does not know better: the instance is there, not done.
        let obs = w.actuator.observe(&action).await?;
        assert!(!obs.done && !obs.in_progress, "{obs:?}");
        let e = terminal(w.actuator.act(&action).await);
        assert!(
            e.message
                .contains(&format!("`{source}` is still the source of read replicas"))
                && e.message.contains(replica),
            "{e}"
        );
        assert!(e.hint.contains("promote"), "{e}");
        assert!(described(&w, PRIMARY, source).await?.is_some(), "{source}");
    }
    assert!(described(&w, PRIMARY, "orders-ro").await?.is_some());
    assert!(described(&w, DR, "billing-dr").await?.is_some());
    // A read replica is read-only: fencing it is already done.
    let obs = w.actuator.observe(&fence("orders-ro", None)).await?;
    assert!(obs.done && !obs.in_progress, "{obs:?}");
    assert_eq!(
        obs.live,
        "status available, read replica of orders (read-only)"
    );
    // Nothing was deleted, and nothing was even attempted.
    let stats = w.emulator.stats();
    assert!(mutations(&stats).is_empty(), "{:?}", mutations(&stats));
    assert_eq!(stats.request_count("rds", PRIMARY, "DeleteDBInstance"), 0);
    let snapshots = w
        .clients
        .rds(PRIMARY)
        .await
        .describe_db_snapshots()
        .send()
        .await?;
    assert!(
        !snapshots.db_snapshots().iter().any(|s| s
            .db_snapshot_identifier()
            .is_some_and(|id| id.contains("-pilotlight-final-"))),
        "{:?}",
        snapshots.db_snapshots()
    );
    Ok(())
}

#[tokio::test]
async fn reprotect_creates_a_cross_region_replica() -> anyhow::Result<()> {
    let w = world().await;
    let source_arn = db(&w, DR, "orders-dr").await?;
    assert!(
        source_arn.starts_with("arn:aws:rds:us-west-2:"),
        "{source_arn}"
    );
    let action = reprotect();

    w.emulator.reset_stats();
    let before = w.actuator.observe(&action).await?;
    assert!(!before.done && !before.in_progress, "{before:?}");
    assert_eq!(before.live, "absent");
    assert!(mutations(&w.emulator.stats()).is_empty());

    let detail = w.actuator.act(&action).await?;
    assert_eq!(
        detail,
        format!("CreateDBInstanceReadReplica orders in us-east-1 from {source_arn}")
    );
    let stats = w.emulator.stats();
    assert_eq!(
        mutations(&stats),
        vec![(
            PRIMARY.to_string(),
            "CreateDBInstanceReadReplica".to_string(),
            1
        )]
    );

    let after = wait_done(&w.actuator, &action).await?;
    assert_eq!(
        after.live,
        format!("status available, read replica of {source_arn}")
    );
    // In moto: the new instance in us-east-1 replicates from the serving instance in us-west-2,
    // with its instance class, and the source lists it.
    let live = described(&w, PRIMARY, "orders").await?.expect("replica");
    assert_eq!(
        live.read_replica_source_db_instance_identifier(),
        Some(source_arn.as_str())
    );
    assert_eq!(live.db_instance_class(), Some("db.t3.micro"));
    let source = described(&w, DR, "orders-dr").await?.expect("source");
    assert_eq!(source.read_replica_db_instance_identifiers().len(), 1);
    assert!(
        source.read_replica_db_instance_identifiers()[0].ends_with("orders"),
        "{:?}",
        source.read_replica_db_instance_identifiers()
    );
    assert!(w.restarted().observe(&action).await?.done);
    Ok(())
}

#[tokio::test]
async fn reprotect_over_a_standalone_instance_is_terminal() -> anyhow::Result<()> {
    let w = world().await;
    db(&w, DR, "orders-dr").await?;
    // The old primary is still there, standalone: it must be fenced and retired first.
    db(&w, PRIMARY, "orders").await?;
    w.emulator.reset_stats();
    let e = terminal(w.actuator.observe(&reprotect()).await);
    assert!(
        e.message.contains(
            "`orders` in us-east-1 exists and is not a read replica of `orders-dr` in us-west-2"
        ) && e.message.contains("standalone"),
        "{e}"
    );
    assert!(e.hint.contains("fence and retire it first"), "{e}");
    assert!(mutations(&w.emulator.stats()).is_empty());

    // A replica of another instance is no better.
    let other = db(&w, DR, "billing").await?;
    replica(&w, PRIMARY, "orders-old", &other).await?;
    let of_other = Action::ReprotectRds {
        region: PRIMARY.into(),
        instance: "orders-old".into(),
        source_region: DR.into(),
        source_instance: "orders-dr".into(),
    };
    let e = terminal(w.actuator.observe(&of_other).await);
    assert!(e.message.contains(&format!("replica of {other}")), "{e}");
    assert!(e.hint.contains("fence and retire it first"), "{e}");
    Ok(())
}

// ---- Route 53 --------------------------------------------------------------------------------

fn weighted_set(
    set_id: &str,
    weight: i64,
    hc: Option<&str>,
    ip: &str,
) -> aws_sdk_route53::types::ResourceRecordSet {
    use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};
    ResourceRecordSet::builder()
        .name("api.shop.test.")
        .r#type(RrType::A)
        .set_identifier(set_id)
        .ttl(60)
        .weight(weight)
        .set_health_check_id(hc.map(str::to_string))
        .resource_records(ResourceRecord::builder().value(ip).build().expect("record"))
        .build()
        .expect("record set")
}

async fn change(
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

/// The weighted pair at `primary` / `dr` weights, each set with its own health check.
async fn weighted_pair(w: &World, zone: &Zone, primary: i64, dr: i64) -> anyhow::Result<()> {
    use aws_sdk_route53::types::ChangeAction;
    change(
        w,
        &zone.id,
        ChangeAction::Create,
        vec![
            weighted_set("api-primary", primary, Some(&zone.checks[0]), "192.0.2.1"),
            weighted_set("api-dr", dr, Some(&zone.checks[1]), "198.51.100.1"),
        ],
    )
    .await
}

fn shift(zone: &str, to: Side, weight: Option<u8>) -> Action {
    Action::ShiftTraffic {
        zone_id: zone.into(),
        record_name: "api.shop.test".into(),
        record_type: "A".into(),
        primary_set_identifier: "api-primary".into(),
        dr_set_identifier: "api-dr".into(),
        failover_routing: false,
        to,
        weight,
        previous: None,
        soak: None,
    }
}

/// (primary, DR) weights as moto lists them.
async fn weights(w: &World, zone: &str) -> anyhow::Result<(Option<i64>, Option<i64>)> {
    let out = w
        .clients
        .route53(PRIMARY)
        .await
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await?;
    let weight = |id: &str| {
        out.resource_record_sets()
            .iter()
            .find(|r| r.set_identifier() == Some(id))
            .and_then(|r| r.weight())
    };
    Ok((weight("api-primary"), weight("api-dr")))
}

#[tokio::test]
async fn health_of_the_serving_set_follows_its_health_check() -> anyhow::Result<()> {
    use aws_sdk_route53::types::ChangeAction;
    let w = world().await;
    let zone = zone_with_checks(&w.clients).await?;
    weighted_pair(&w, &zone, 100, 0).await?;
    let to_dr = shift(&zone.id, Side::Dr, Some(10));
    let to_primary = shift(&zone.id, Side::Primary, Some(90));

    // Healthy by default (moto reports success).
    w.emulator.reset_stats();
    let h = w.actuator.health(&to_dr).await?;
    assert!(h.done && !h.in_progress, "{h:?}");
    assert_eq!(
        h.live,
        format!(
            "health check {}: 1 of 1 checkers report success",
            zone.checks[1]
        )
    );

    // The DR endpoint goes down: the health of a shift to DR says so; one to the primary,
    // judged by the primary's health check, does not.
    w.emulator
        .control()
        .set_health_check(&zone.checks[1], false);
    let h = w.actuator.health(&to_dr).await?;
    assert!(!h.done && !h.in_progress, "{h:?}");
    assert_eq!(
        h.live,
        format!(
            "health check {}: 0 of 1 checkers report success",
            zone.checks[1]
        )
    );
    assert!(w.actuator.health(&to_primary).await?.done);
    w.emulator
        .control()
        .set_health_check(&zone.checks[0], false);
    assert!(!w.actuator.health(&to_primary).await?.done);

    // Back up.
    w.emulator.control().set_health_check(&zone.checks[1], true);
    assert!(w.actuator.health(&to_dr).await?.done);

    // Judging health reads the records and the health check status, and changes nothing.
    let stats = w.emulator.stats();
    assert!(mutations(&stats).is_empty(), "{:?}", mutations(&stats));
    assert_eq!(
        stats.request_count("route53", PRIMARY, "GetHealthCheckStatus"),
        5
    );
    assert_eq!(weights(&w, &zone.id).await?, (Some(100), Some(0)));

    // A set without a health check cannot be judged: Terminal, no status asked.
    change(
        &w,
        &zone.id,
        ChangeAction::Upsert,
        vec![weighted_set("api-dr", 0, None, "198.51.100.1")],
    )
    .await?;
    w.emulator.reset_stats();
    let e = terminal(w.actuator.health(&to_dr).await);
    assert!(
        e.message
            .contains("record set `api-dr` of api.shop.test has no health check"),
        "{e}"
    );
    assert!(e.hint.contains("attach a health check"), "{e}");
    assert_eq!(
        w.emulator
            .stats()
            .request_count("route53", PRIMARY, "GetHealthCheckStatus"),
        0
    );
    // The other side still has one.
    assert!(w.actuator.health(&to_primary).await.is_ok());

    // Only traffic shifts have a health gate; nothing is called for others.
    w.emulator.reset_stats();
    let e = terminal(w.actuator.health(&retire("orders")).await);
    assert!(e.message.contains("only traffic shifts"), "{e}");
    assert_eq!(w.emulator.stats().total_requests(), 0);
    Ok(())
}

#[tokio::test]
async fn weighted_shift_with_a_share_and_then_all() -> anyhow::Result<()> {
    let w = world().await;
    let zone = zone_with_checks(&w.clients).await?;
    weighted_pair(&w, &zone, 0, 100).await?;

    // 10 % back to the primary.
    let tenth = shift(&zone.id, Side::Primary, Some(10));
    w.emulator.reset_stats();
    let before = w.actuator.observe(&tenth).await?;
    assert!(!before.done && !before.in_progress, "{before:?}");
    assert_eq!(before.live, "weights primary 0, DR 100");
    assert!(mutations(&w.emulator.stats()).is_empty());

    let detail = w.actuator.act(&tenth).await?;
    assert!(
        detail.contains("weight api-primary 10, api-dr 90"),
        "{detail}"
    );
    assert_eq!(
        w.emulator
            .stats()
            .request_count("route53", PRIMARY, "ChangeResourceRecordSets"),
        1,
        "both sets in one batch"
    );
    assert_eq!(weights(&w, &zone.id).await?, (Some(10), Some(90)));
    let obs = wait_done(&w.actuator, &tenth).await?;
    assert!(
        obs.live.starts_with("weights primary 10, DR 90; change "),
        "{}",
        obs.live
    );
    assert!(w.restarted().observe(&tenth).await?.done);
    // The rest of the pair is kept: health checks stay attached.
    let h = w.actuator.health(&tenth).await?;
    assert!(h.done && h.live.contains(&zone.checks[0]), "{h:?}");

    // The executor's rollback when health drops during the soak: the same shift at the
    // previous share (0 %) restores the weights it came from.
    w.emulator
        .control()
        .set_health_check(&zone.checks[0], false);
    assert!(!w.actuator.health(&tenth).await?.done);
    let rollback = shift(&zone.id, Side::Primary, Some(0));
    let detail = w.actuator.act(&rollback).await?;
    assert!(
        detail.contains("weight api-primary 0, api-dr 100"),
        "{detail}"
    );
    assert_eq!(weights(&w, &zone.id).await?, (Some(0), Some(100)));
    assert!(wait_done(&w.actuator, &rollback).await?.done);
    assert!(!w.actuator.observe(&tenth).await?.done);
    // Healthy again, the step is tried again.
    w.emulator.control().set_health_check(&zone.checks[0], true);
    assert!(w.actuator.health(&tenth).await?.done);
    w.actuator.act(&tenth).await?;
    assert_eq!(weights(&w, &zone.id).await?, (Some(10), Some(90)));
    wait_done(&w.actuator, &tenth).await?;

    // Then all of it.
    let all = shift(&zone.id, Side::Primary, Some(100));
    let before = w.actuator.observe(&all).await?;
    assert!(!before.done, "{before:?}");
    let detail = w.actuator.act(&all).await?;
    assert!(
        detail.contains("weight api-primary 100, api-dr 0"),
        "{detail}"
    );
    assert_eq!(weights(&w, &zone.id).await?, (Some(100), Some(0)));
    let obs = wait_done(&w.actuator, &all).await?;
    assert!(
        obs.live.starts_with("weights primary 100, DR 0"),
        "{}",
        obs.live
    );
    // A full shift without a share is the same state; the 10 % step no longer is.
    assert!(
        w.restarted()
            .observe(&shift(&zone.id, Side::Primary, None))
            .await?
            .done
    );
    assert!(!w.restarted().observe(&tenth).await?.done);
    assert_eq!(
        w.emulator
            .stats()
            .request_count("route53", PRIMARY, "ChangeResourceRecordSets"),
        4,
        "10 %, rollback to 0 %, 10 % again, 100 %"
    );
    Ok(())
}

// ---- Auto Scaling ----------------------------------------------------------------------------

/// Group `routers` in us-west-2 (launch configuration, min 0, max 4, desired 4) with `protected`
/// of its instances protected from scale-in; returns the protected instance ids.
async fn routers_with_protection(w: &World, protected: usize) -> anyhow::Result<Vec<String>> {
    let c = w.clients.autoscaling(DR).await;
    c.create_launch_configuration()
        .launch_configuration_name("routers-lc")
        .image_id("ami-12c6146b")
        .instance_type("t3.micro")
        .send()
        .await?;
    c.create_auto_scaling_group()
        .auto_scaling_group_name("routers")
        .launch_configuration_name("routers-lc")
        .min_size(0)
        .max_size(4)
        .desired_capacity(4)
        .availability_zones("us-west-2a")
        .send()
        .await?;
    let g = group(w).await?;
    let ids: Vec<String> = g
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_string))
        .take(protected)
        .collect();
    anyhow::ensure!(ids.len() == protected, "{g:?}");
    c.set_instance_protection()
        .auto_scaling_group_name("routers")
        .set_instance_ids(Some(ids.clone()))
        .protected_from_scale_in(true)
        .send()
        .await?;
    Ok(ids)
}

async fn group(w: &World) -> anyhow::Result<aws_sdk_autoscaling::types::AutoScalingGroup> {
    let out = w
        .clients
        .autoscaling(DR)
        .await
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("routers")
        .send()
        .await?;
    out.auto_scaling_groups()
        .first()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no group"))
}

/// (desired, in-service instance ids, protected instance ids) of the group.
async fn group_state(w: &World) -> anyhow::Result<(i32, Vec<String>, Vec<String>)> {
    use aws_sdk_autoscaling::types::LifecycleState;
    let g = group(w).await?;
    let ids = |protected: bool| {
        let mut v: Vec<String> = g
            .instances()
            .iter()
            .filter(|i| i.lifecycle_state() == Some(&LifecycleState::InService))
            .filter(|i| !protected || i.protected_from_scale_in() == Some(true))
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect();
        v.sort();
        v
    };
    Ok((g.desired_capacity().unwrap_or(-1), ids(false), ids(true)))
}

#[tokio::test]
async fn force_releases_scale_in_protection() -> anyhow::Result<()> {
    let w = world().await;
    let mut protected = routers_with_protection(&w, 3).await?;
    protected.sort();
    let down = Action::ScaleAutoscaling {
        region: DR.into(),
        group: "routers".into(),
        desired: 1,
    };

    let detail = w.actuator.act(&down).await?;
    assert_eq!(
        detail,
        "SetDesiredCapacity routers in us-west-2: desired 4 → 1"
    );
    // The group keeps the protected instances (moto, like Auto Scaling, skips them).
    let (desired, in_service, still) = group_state(&w).await?;
    assert_eq!(desired, 1);
    assert_eq!(in_service, protected);
    assert_eq!(still, protected);

    // Observing says why it is not done, and changes nothing.
    w.emulator.reset_stats();
    let obs = w.actuator.observe(&down).await?;
    assert!(!obs.done && !obs.in_progress, "{obs:?}");
    assert_eq!(
        obs.live,
        "desired 1, in service 3, 3 protected from scale-in (draining live sessions)"
    );
    let stats = w.emulator.stats();
    assert!(mutations(&stats).is_empty(), "{:?}", mutations(&stats));
    assert_eq!(
        operations(&stats),
        vec![format!("{DR}/DescribeAutoScalingGroups")]
    );

    // The operator decides not to wait.
    let detail = w.actuator.force(&down).await?;
    assert!(
        detail.starts_with("SetInstanceProtection routers in us-west-2: released 3 (")
            && detail.ends_with("); SetDesiredCapacity 1"),
        "{detail}"
    );
    assert_eq!(released(&detail), protected, "{detail}");
    let stats = w.emulator.stats();
    assert_eq!(
        stats.request_count("autoscaling", DR, "SetInstanceProtection"),
        1
    );
    assert_eq!(
        stats.request_count("autoscaling", DR, "SetDesiredCapacity"),
        1
    );

    let (desired, in_service, still) = group_state(&w).await?;
    assert_eq!(desired, 1);
    assert_eq!(in_service.len(), 1, "{in_service:?}");
    assert!(still.is_empty(), "{still:?}");
    let obs = w.actuator.observe(&down).await?;
    assert!(obs.done && !obs.in_progress, "{obs:?}");
    assert_eq!(obs.live, "desired 1, in service 1");
    assert!(w.restarted().observe(&down).await?.done);

    // Forcing again is harmless: nothing left to release.
    let detail = w.actuator.force(&down).await?;
    assert_eq!(
        detail,
        "SetInstanceProtection routers in us-west-2: released 0 (); SetDesiredCapacity 1"
    );
    assert_eq!(
        w.emulator
            .stats()
            .request_count("autoscaling", DR, "SetInstanceProtection"),
        1
    );
    assert_eq!(group_state(&w).await?.1, in_service);

    // Nothing else can be forced; no call is made.
    w.emulator.reset_stats();
    let e = terminal(w.actuator.force(&retire("orders")).await);
    assert!(e.message.contains("nothing can be forced"), "{e}");
    assert_eq!(w.emulator.stats().total_requests(), 0);
    Ok(())
}

/// The instance ids a force detail says were released, sorted.
fn released(detail: &str) -> Vec<String> {
    let ids = detail
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(ids, _)| ids)
        .unwrap_or("");
    let mut v: Vec<String> = ids
        .split(", ")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    v.sort();
    v
}
