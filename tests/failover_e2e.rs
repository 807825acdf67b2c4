//! End to end against the emulator: `sandbox up` → `failover` → the end state asserted through
//! the SDK, resource by resource; the journal tells the same story (`runs`, `runs show`); and
//! the failure scenarios that need real processes: duplicate submission (12), lag over budget
//! (13), throttling (7), and a crash right after the promotion was sent (2).

mod common;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use common::{pilotlight, show_run, World};
use pilotlight_testkit::{FaultAction, FaultRule};

/// Requests of an operation that reached moto (injected faults answered by the proxy excluded).
fn forwarded(world: &World, service: &str, region: &str, op: &str) -> u64 {
    let s = world.emu.stats();
    let faulted: u64 = s
        .faults
        .iter()
        .filter(|f| {
            f.service == service
                && f.region == region
                && f.operation == op
                && f.action != "delay"
                && f.action != "delay_answer"
        })
        .map(|f| f.count)
        .sum();
    s.request_count(service, region, op) - faulted
}

/// The DR region serves: services and routers at active size, database promoted, DNS moved.
async fn assert_failed_over(world: &World) {
    let cfg = &world.config;
    let dr = world.dr();
    let f = world.proxied();
    let ecs = f.ecs(dr).await;
    for s in &cfg.ecs_services {
        let out = ecs
            .describe_services()
            .cluster(&s.cluster)
            .services(&s.service)
            .send()
            .await
            .unwrap();
        let svc = &out.services()[0];
        assert_eq!(
            svc.desired_count(),
            s.active_count as i32,
            "{} desired",
            s.name
        );
        assert_eq!(
            svc.running_count(),
            s.active_count as i32,
            "{} running",
            s.name
        );
    }
    let asg = f.autoscaling(dr).await;
    for g in &cfg.autoscaling_groups {
        let out = asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&g.group)
            .send()
            .await
            .unwrap();
        let grp = &out.auto_scaling_groups()[0];
        assert_eq!(
            grp.desired_capacity(),
            Some(g.active_capacity as i32),
            "{} desired",
            g.name
        );
        let in_service = grp
            .instances()
            .iter()
            .filter(|i| i.lifecycle_state().map(|s| s.as_str()) == Some("InService"))
            .count();
        assert_eq!(
            in_service, g.active_capacity as usize,
            "{} in service",
            g.name
        );
    }
    let rds = f.rds(dr).await;
    for db in &cfg.rds_replicas {
        let out = rds
            .describe_db_instances()
            .db_instance_identifier(&db.replica_instance)
            .send()
            .await
            .unwrap();
        let inst = &out.db_instances()[0];
        assert_eq!(
            inst.read_replica_source_db_instance_identifier(),
            None,
            "{} is promoted",
            db.name
        );
        assert_eq!(inst.db_instance_status(), Some("available"));
    }
    let r53 = f.route53(world.primary()).await;
    let zone = cfg.route53.as_ref().unwrap();
    let sets = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zone.zone_id)
        .send()
        .await
        .unwrap();
    for rec in &zone.records {
        let primary = sets
            .resource_record_sets()
            .iter()
            .find(|s| s.set_identifier() == Some(rec.primary_set_identifier.as_str()))
            .expect("primary set");
        let hc = primary.health_check_id().expect("primary health check");
        let got = r53
            .get_health_check()
            .health_check_id(hc)
            .send()
            .await
            .unwrap();
        let inverted = got
            .health_check()
            .and_then(|h| h.health_check_config())
            .and_then(|c| c.inverted());
        assert_eq!(
            inverted,
            Some(true),
            "{}: the primary's health check steers traffic to DR",
            rec.name
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sandbox_failover_end_to_end() {
    let world = World::up().await;
    world.emu.reset_stats();
    let run = world.failover(&["--output", "json"], &[]).await;
    assert_eq!(
        run.code, 0,
        "failover should succeed:\n{}\n{}",
        run.stdout, run.stderr
    );
    let report = run.json();
    assert_eq!(report["run"]["status"], "succeeded");
    assert!(
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "succeeded"),
        "{report:#}"
    );
    assert!(
        report["rpo_estimate_s"].as_f64().is_some(),
        "the lag at promotion is reported"
    );
    assert!(report["critical_path"].as_array().unwrap().len() >= 3);
    // The run ends with a passing post-check of every changed target.
    assert!(run.stderr.contains("post-check passed"), "{}", run.stderr);
    // Progress lines were printed as steps finished.
    assert!(run.stderr.contains("✔ promote-db/db"), "{}", run.stderr);
    assert_failed_over(&world).await;
    // Each side effect exactly once.
    let stats = world.emu.stats();
    assert_eq!(
        stats.request_count("rds", world.dr(), "PromoteReadReplica"),
        1
    );
    assert_eq!(stats.request_count("ecs", world.dr(), "UpdateService"), 2);

    // The journal: `runs` lists it, `runs show` has the timeline.
    let journal = world.journal();
    let list = pilotlight(&["--journal", &journal, "runs", "--output", "json"]).await;
    assert_eq!(list.code, 0);
    let runs = list.json();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    let id = runs[0]["id"].as_str().unwrap().to_string();
    let show = pilotlight(&["--journal", &journal, "runs", "show", &id]).await;
    assert_eq!(show.code, 0);
    assert!(
        show.stdout.contains("SUCCEEDED")
            && show.stdout.contains("promote-db/db")
            && show.stdout.contains("critical path"),
        "{}",
        show.stdout
    );

    // Running failover again does not start a second run: the finished one stays the only one,
    // and a new failover is refused by the readiness gate (DR already serves).
    let again = world.failover(&[], &[]).await;
    assert_ne!(again.code, 0);
    assert_eq!(
        world
            .emu
            .stats()
            .request_count("rds", world.dr(), "PromoteReadReplica"),
        1,
        "never promoted twice"
    );
}

/// Scenario 12 (`duplicate_submission`): the same failover requested twice at once.
#[tokio::test(flavor = "multi_thread")]
async fn duplicate_submission() {
    let world = World::up().await;
    world.emu.reset_stats();
    let key = ["--idempotency-key", "console-click-1"];
    let (a, b) = tokio::join!(world.failover(&key, &[]), world.failover(&key, &[]));
    let codes = [a.code, b.code];
    assert!(
        codes.contains(&0),
        "one of them drives the run to the end: {codes:?}\n{}\n{}",
        a.stderr,
        b.stderr
    );
    let journal = world.journal();
    let runs = pilotlight(&["--journal", &journal, "runs", "--output", "json"])
        .await
        .json();
    assert_eq!(
        runs.as_array().unwrap().len(),
        1,
        "exactly one run: {runs:#}"
    );
    assert_eq!(
        world
            .emu
            .stats()
            .request_count("rds", world.dr(), "PromoteReadReplica"),
        1
    );
    // The same key again later finds the same run rather than making a new one.
    let third = world.failover(&key, &[]).await;
    let runs = pilotlight(&["--journal", &journal, "runs", "--output", "json"])
        .await
        .json();
    assert_eq!(runs.as_array().unwrap().len(), 1, "{}", third.stderr);
}

/// Scenario 13 (`lag_over_budget`): an unplanned promotion with lag above the RPO needs an
/// explicit allow-data-loss with a reason; the estimated loss is recorded.
#[tokio::test(flavor = "multi_thread")]
async fn lag_over_budget() {
    let world = World::up().await;
    let db = &world.config.rds_replicas[0];
    let datum = MetricDatum::builder()
        .metric_name("ReplicaLag")
        .dimensions(
            Dimension::builder()
                .name("DBInstanceIdentifier")
                .value(&db.replica_instance)
                .build(),
        )
        .value(240.0)
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
    world.emu.reset_stats();
    let refused = world.failover(&["--output", "json"], &[]).await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let rep = refused.json();
    assert_eq!(rep["run"]["status"], "failed");
    let lag_step = rep["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "lag/db")
        .unwrap();
    assert!(
        lag_step["message"]
            .as_str()
            .unwrap()
            .contains("--allow-data-loss"),
        "{lag_step}"
    );
    assert_eq!(
        world
            .emu
            .stats()
            .request_count("rds", world.dr(), "PromoteReadReplica"),
        0,
        "nothing promoted"
    );
    assert_eq!(
        world
            .emu
            .stats()
            .request_count("ecs", world.dr(), "UpdateService"),
        0,
        "nothing scaled"
    );

    let allowed = world
        .failover(
            &[
                "--allow-data-loss",
                "primary region lost; business accepts 4 min of loss",
                "--output",
                "json",
            ],
            &[],
        )
        .await;
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    let rep = allowed.json();
    assert_eq!(rep["rpo_estimate_s"], 240.0);
    let decisions = rep["decisions"].as_array().unwrap();
    assert!(decisions.iter().any(|d| d["kind"] == "allow_data_loss" && d["why"].as_str().unwrap().contains("4 min")), "{decisions:#?}");
    assert_failed_over(&world).await;
}

/// The promotion is applied but its answer comes after the client's read timeout (a lost
/// answer): it is never sent again. The step reads the live state, finds the promotion done and
/// the run goes on.
#[tokio::test(flavor = "multi_thread")]
async fn a_promotion_whose_answer_is_lost_is_not_sent_again() {
    let world = World::up().await;
    let text = std::fs::read_to_string(&world.config_path).unwrap();
    let quick = text.replace("read_timeout = \"20s\"", "read_timeout = \"2s\"");
    assert_ne!(quick, text, "the sandbox config states the read timeout");
    std::fs::write(&world.config_path, quick).unwrap();
    world
        .emu
        .faults()
        .add(
            FaultRule::new(FaultAction::DelayAnswer { ms: 5000 })
                .for_service("rds")
                .for_operation("PromoteReadReplica")
                .times(1),
        )
        .expect("valid fault rule");
    let run = world.failover(&["--output", "json"], &[]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        world.emu.stats().fault_count("delay_answer"),
        1,
        "the answer was held"
    );
    assert_eq!(
        forwarded(&world, "rds", world.dr(), "PromoteReadReplica"),
        1,
        "a promotion whose answer was lost is not sent again"
    );
    assert_failed_over(&world).await;
    // The lost answer was logged with its hint, and the second attempt of the step read the
    // live state instead of sending the promotion again.
    assert!(
        run.stderr.contains("step attempt failed; retrying")
            && run.stderr.contains("may have been applied"),
        "{}",
        run.stderr
    );
    let journal = world.journal();
    let list = pilotlight(&["--journal", &journal, "runs", "--output", "json"]).await;
    let id = list.json()[0]["id"].as_str().unwrap().to_string();
    let steps = show_run(&journal, &id).await["steps"].clone();
    let promote = steps
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "promote-db/db")
        .expect("the promotion step")
        .clone();
    assert_eq!(promote["attempts"], 2, "{promote:#}");
    assert!(
        promote["message"]
            .as_str()
            .unwrap()
            .starts_with("already in place"),
        "{promote:#}"
    );
}

/// Scenario 7 (`throttled_api`): 40% of ECS, Auto Scaling and RDS calls throttled, with added
/// latency; the run still completes, with backoff, and no terminal failure.
#[tokio::test(flavor = "multi_thread")]
async fn throttled_api() {
    let world = World::up().await;
    let faults = world.emu.faults();
    for svc in ["ecs", "autoscaling", "rds", "route53"] {
        faults
            .add(
                FaultRule::new(FaultAction::Throttle)
                    .for_service(svc)
                    .with_probability(0.4),
            )
            .expect("valid fault rule");
        faults
            .add(FaultRule::new(FaultAction::Delay { ms: 50 }).for_service(svc))
            .expect("valid fault rule");
    }
    let run = world.failover(&["--output", "json"], &[]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        world.emu.stats().fault_count("throttle") > 5,
        "throttling was injected"
    );
    faults.clear();
    assert_failed_over(&world).await;
    assert_eq!(
        forwarded(&world, "rds", world.dr(), "PromoteReadReplica"),
        1,
        "a throttled promotion is retried, not duplicated"
    );
}
