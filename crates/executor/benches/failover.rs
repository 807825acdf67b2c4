//! Benchmark: the failover of generated deployments with 10, 100 and 1,000 resources against
//! fakes with realistic operation latencies (`../shared/numbers.md`), on virtual time.
//! Reports the orchestrator's overhead above the critical path of the AWS operations it waits
//! on, the API calls per kind against the minimum, and the real (CPU) time the run took.
//!
//! Run: `cargo bench -p pilotlight-executor --bench failover` (add `-- --json` for JSON).

#[path = "../tests/support/mod.rs"]
mod support;

use pilotlight_core::model::*;
use pilotlight_core::plan::{build_plan, critical_path, Action, Plan};
use pilotlight_core::run::RunStatus;
use pilotlight_core::runbook::{
    Direction, Level, Runbook, RunbookHeader, Side, StepKind, StepSpec,
};
use pilotlight_executor::{Capabilities, Executor, ExecutorSettings, StartRequest, SystemClock};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use support::*;

fn env(n: usize) -> EnvironmentConfig {
    let n_ecs = (n * 4 / 10).max(1);
    let n_asg = (n * 3 / 10).max(1);
    let n_rds = (n / 20).max(1);
    let n_dns = n.saturating_sub(n_ecs + n_asg + n_rds).max(1);
    EnvironmentConfig {
        environment: Environment {
            name: format!("bench-{n}"),
            tier: Tier::Development,
        },
        regions: Regions {
            primary: "us-east-1".into(),
            dr: "us-west-2".into(),
            observers: vec![],
        },
        objectives: Objectives {
            rto: Duration::from_secs(900),
            rpo: Duration::from_secs(60),
        },
        aws: AwsSettings::default(),
        check: CheckSettings::default(),
        ecs_services: (0..n_ecs)
            .map(|i| EcsService {
                name: format!("svc{i}"),
                cluster: "c".into(),
                service: format!("svc{i}"),
                primary_cluster: None,
                primary_service: None,
                pilot_light_count: 1,
                active_count: 4,
            })
            .collect(),
        autoscaling_groups: (0..n_asg)
            .map(|i| AutoScalingGroup {
                name: format!("asg{i}"),
                group: format!("asg{i}"),
                primary_group: None,
                pilot_light_capacity: 1,
                active_capacity: 6,
            })
            .collect(),
        rds_replicas: (0..n_rds)
            .map(|i| RdsReplica {
                name: format!("db{i}"),
                primary_instance: format!("db{i}"),
                replica_instance: format!("db{i}-r"),
                fence_parameter_group: None,
            })
            .collect(),
        aurora_global_clusters: vec![],
        dynamodb_tables: vec![],
        s3_buckets: vec![],
        kms_keys: vec![],
        route53: Some(Route53 {
            zone_id: "Z".into(),
            records: (0..n_dns)
                .map(|i| DnsRecord {
                    name: format!("rec{i}"),
                    record_name: format!("r{i}.example."),
                    record_type: "A".into(),
                    routing: Routing::Failover,
                    primary_set_identifier: format!("r{i}-p"),
                    dr_set_identifier: format!("r{i}-d"),
                    require_health_checks: true,
                })
                .collect(),
        }),
        health: None,
        notifications: None,
        access: None,
    }
}

fn step(id: &str, kind: StepKind, targets: Vec<String>, deps: &[&str]) -> StepSpec {
    StepSpec {
        id: id.into(),
        kind,
        targets,
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        timeout: Some(Duration::from_secs(3600)),
        estimate: None,
        retry: None,
        to: None,
        region: None,
        capacity_at_least: None,
        command: vec![],
        message: None,
        optional: false,
        max_lag: None,
        weights: vec![],
        soak: None,
        drain_timeout: None,
    }
}

fn runbook(e: &EnvironmentConfig) -> Runbook {
    let names = |v: Vec<&String>| v.into_iter().cloned().collect::<Vec<_>>();
    let ecs = names(e.ecs_services.iter().map(|s| &s.name).collect());
    let asg = names(e.autoscaling_groups.iter().map(|s| &s.name).collect());
    let rds = names(e.rds_replicas.iter().map(|s| &s.name).collect());
    let dns = names(
        e.route53
            .as_ref()
            .unwrap()
            .records
            .iter()
            .map(|s| &s.name)
            .collect(),
    );
    let mut scale_ecs = step("scale-ecs", StepKind::ScaleEcs, ecs.clone(), &["readiness"]);
    scale_ecs.to = Some(Level::Active);
    let mut scale_asg = step(
        "scale-asg",
        StepKind::ScaleAutoscaling,
        asg.clone(),
        &["readiness"],
    );
    scale_asg.to = Some(Level::Active);
    let mut cap = step(
        "capacity",
        StepKind::WaitUntil,
        [ecs, asg].concat(),
        &["scale-ecs", "scale-asg"],
    );
    cap.capacity_at_least = Some(0.8);
    let mut shift = step(
        "shift",
        StepKind::ShiftTraffic,
        dns,
        &["capacity", "promote"],
    );
    shift.region = Some(Side::Dr);
    Runbook {
        runbook: RunbookHeader {
            name: "failover".into(),
            description: String::new(),
            direction: Direction::Failover,
            max_parallel: 4096,
        },
        steps: vec![
            step("readiness", StepKind::ReadinessGate, vec![], &[]),
            step("lag", StepKind::ReplicationLagGate, rds.clone(), &[]),
            scale_ecs,
            scale_asg,
            step(
                "promote",
                StepKind::PromoteRdsReplica,
                rds,
                &["readiness", "lag"],
            ),
            cap,
            shift,
        ],
    }
}

/// The critical path of the AWS operations: each node costs its simulated operation
/// (observe, act, the operation itself, the verifying observe), gates cost nothing in the fakes.
fn aws_critical_path(plan: &Plan, lat: &Latencies) -> Duration {
    let mut nodes = plan.nodes.clone();
    for n in &mut nodes {
        n.estimate = match &n.action {
            Action::ScaleEcs { .. } => lat.ecs + lat.call * 3,
            Action::ScaleAutoscaling { .. } => lat.asg + lat.call * 3,
            Action::PromoteRdsReplica { .. } => lat.promote + lat.call * 3,
            Action::ShiftTraffic { .. } => lat.dns + lat.call * 3,
            Action::WaitCapacity { .. } => lat.call,
            _ => Duration::ZERO,
        };
    }
    critical_path(&nodes).1
}

struct Row {
    resources: usize,
    nodes: usize,
    elapsed: Duration,
    critical: Duration,
    acts: usize,
    min_acts: usize,
    observes: usize,
    min_observes: usize,
    wall: Duration,
}

fn bench(n: usize) -> Row {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let e = env(n);
        let plan = build_plan(&e, &runbook(&e)).expect("generated plan is valid");
        let lat = Latencies::default();
        let world = Arc::new(FakeWorld::new(lat.clone()));
        let journal = Arc::new(MemJournal::default());
        let caps = Capabilities {
            actuator: world.clone(),
            facts: Arc::new(FakeFacts::default()),
            notifier: Arc::new(RecordingNotifier::default()),
        };
        let exec = Executor::new(
            journal,
            caps,
            Arc::new(e.clone()),
            Arc::new(SystemClock::new()),
            ExecutorSettings::default(),
        );
        let action_nodes = plan
            .nodes
            .iter()
            .filter(|n| {
                n.kind.is_one_shot()
                    || matches!(
                        n.kind,
                        StepKind::ScaleEcs | StepKind::ScaleAutoscaling | StepKind::ShiftTraffic
                    )
            })
            .count();
        let wait_nodes = plan
            .nodes
            .iter()
            .filter(|n| n.kind == StepKind::WaitUntil)
            .count();
        let critical = aws_critical_path(&plan, &lat);
        let nodes = plan.nodes.len();
        let started = exec
            .start(StartRequest {
                plan,
                requested_by: "bench".into(),
                reason: "bench".into(),
                idempotency_key: format!("bench-{n}"),
                options: Default::default(),
            })
            .await
            .unwrap();
        let wall = std::time::Instant::now();
        let t0 = tokio::time::Instant::now();
        let status = exec.drive(&started.run.id).await.unwrap();
        assert_eq!(status, RunStatus::Succeeded);
        Row {
            resources: n,
            nodes,
            elapsed: t0.elapsed(),
            critical,
            acts: world.total_acts(),
            min_acts: action_nodes,
            observes: world.observes.load(Ordering::SeqCst),
            min_observes: action_nodes * 2 + wait_nodes,
            wall: wall.elapsed(),
        }
    })
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let sizes: Vec<usize> = std::env::var("PILOTLIGHT_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 100, 1000]);
    let rows: Vec<Row> = sizes.into_iter().map(bench).collect();
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "resources": r.resources, "nodes": r.nodes,
                    "run_s": r.elapsed.as_secs_f64(), "critical_path_s": r.critical.as_secs_f64(),
                    "overhead_s": r.elapsed.as_secs_f64() - r.critical.as_secs_f64(),
                    "acts": r.acts, "min_acts": r.min_acts, "observes": r.observes, "min_observes": r.min_observes,
                    "cpu_wall_s": r.wall.as_secs_f64(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).unwrap());
        return;
    }
    println!("| resources | nodes | run (virtual) | AWS critical path | overhead | overhead % | target met | act calls (min) | observe calls (min) | real time |");
    println!("|---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|");
    for r in rows {
        let over = r.elapsed.as_secs_f64() - r.critical.as_secs_f64();
        let pct = 100.0 * over / r.critical.as_secs_f64();
        let met = over <= 1.0 || pct <= 1.0;
        println!(
            "| {} | {} | {:.1} s | {:.1} s | {:.2} s | {:.2}% | {} | {} ({}) | {} ({}) | {:.2} s |",
            r.resources,
            r.nodes,
            r.elapsed.as_secs_f64(),
            r.critical.as_secs_f64(),
            over,
            pct,
            if met { "yes" } else { "no" },
            r.acts,
            r.min_acts,
            r.observes,
            r.min_observes,
            r.wall.as_secs_f64()
        );
    }
}
