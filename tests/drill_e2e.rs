//! DR drills end to end in the sandbox with the real binary: `pilotlight drill --mode full`
//! writes canaries, fails over and back, measures RTO by phase and RPO per store (the sandbox
//! replicator copies DynamoDB items at once and S3 objects never, so some canaries arrive and
//! some do not), writes report.html/.md/.json (the JSON valid against the committed schema, the
//! HTML rendered in headless Chromium, screenshot kept in target/test-artifacts/drill/) and
//! stores it; `pilotlight drills` lists it with the next annual due date. A drill with
//! replication lag over the RPO budget fails with its reasons (exit 1) and no failback.
//!
//! `--mode isolated` copies the DR database (snapshot and restore), the ECS services and the
//! Auto Scaling groups under the drill's name, verifies and removes them; the emulator's own
//! resource lists are read afterwards to prove nothing is left, and a snapshot of everything that
//! serves is unchanged. A copy that cannot be removed (the emulator's fault layer refuses its
//! delete) fails the drill loudly, naming it.

mod common;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use common::World;
use pilotlight_sandbox::{ReplicationDelays, Replicator};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A private copy of the binary under test, taken once: the target directory is shared with
/// other builds, which may replace `CARGO_BIN_EXE_pilotlight` during this long test.
fn binary() -> &'static Path {
    static BIN: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    &BIN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("pilotlight");
        std::fs::copy(env!("CARGO_BIN_EXE_pilotlight"), &bin).unwrap();
        let help = std::process::Command::new(&bin)
            .args(["drill", "--help"])
            .output()
            .unwrap();
        assert!(
            help.status.success(),
            "{} has no `drill` command: another build replaced it; run the test again",
            env!("CARGO_BIN_EXE_pilotlight")
        );
        (dir, bin)
    })
    .1
}

/// Run the private copy of `pilotlight ARGS` (as `common::pilotlight` does).
async fn pilotlight(args: &[&str]) -> common::Run {
    let out = tokio::process::Command::new(binary())
        .args(args)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .env_remove("PILOTLIGHT_LOG")
        .output()
        .await
        .expect("run pilotlight");
    use std::os::unix::process::ExitStatusExt;
    common::Run {
        signal: out.status.signal(),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn schema_errors(report: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(include_str!(
        "../crates/drill/schema/drill-report.schema.json"
    ))
    .unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    v.iter_errors(report)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect()
}

async fn drill(world: &World, dir: &Path) -> common::Run {
    let journal = world.journal();
    let runbooks = world.quick_runbooks();
    pilotlight(&[
        "--journal",
        &journal,
        "--runbooks",
        &runbooks,
        "drill",
        "--config",
        world.config_path.to_str().unwrap(),
        "--mode",
        "full",
        "--report",
        dir.to_str().unwrap(),
        "--yes",
        "--by",
        "auditor-test",
    ])
    .await
}

async fn isolated(world: &World, dir: &Path, copy_timeout: &str) -> common::Run {
    let journal = world.journal();
    pilotlight(&[
        "--journal",
        &journal,
        "drill",
        "--config",
        world.config_path.to_str().unwrap(),
        "--mode",
        "isolated",
        "--report",
        dir.to_str().unwrap(),
        "--by",
        "auditor-test",
        "--poll",
        "100ms",
        "--copy-timeout",
        copy_timeout,
    ])
    .await
}

/// Every resource in DR whose name contains `marker`, read from the emulator's lists directly:
/// DB instances, manual DB snapshots, the ECS services of every cluster, Auto Scaling groups.
async fn listed_with(world: &World, marker: &str) -> Vec<String> {
    let f = world.direct();
    let dr = world.dr();
    let mut out = Vec::new();
    let rds = f.rds(dr).await;
    for i in rds
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
    {
        let id = i.db_instance_identifier().unwrap_or_default();
        if id.contains(marker) {
            out.push(format!("rds_instance {id}"));
        }
    }
    for sn in rds
        .describe_db_snapshots()
        .snapshot_type("manual")
        .send()
        .await
        .unwrap()
        .db_snapshots()
    {
        let id = sn.db_snapshot_identifier().unwrap_or_default();
        if id.contains(marker) {
            out.push(format!("rds_snapshot {id}"));
        }
    }
    let ecs = f.ecs(dr).await;
    for s in &world.config.ecs_services {
        let arns: Vec<String> = ecs
            .list_services()
            .cluster(&s.cluster)
            .send()
            .await
            .unwrap()
            .service_arns()
            .iter()
            .filter(|a| a.contains(marker))
            .cloned()
            .collect();
        if arns.is_empty() {
            continue;
        }
        // moto lists deleted services too (AWS does not); a deleted one is INACTIVE.
        for svc in ecs
            .describe_services()
            .cluster(&s.cluster)
            .set_services(Some(arns))
            .send()
            .await
            .unwrap()
            .services()
        {
            if svc.status() != Some("INACTIVE") {
                out.push(format!(
                    "ecs_service {}",
                    svc.service_name().unwrap_or_default()
                ));
            }
        }
    }
    for g in f
        .autoscaling(dr)
        .await
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap()
        .auto_scaling_groups()
    {
        let name = g.auto_scaling_group_name().unwrap_or_default();
        if name.contains(marker) {
            out.push(format!("autoscaling_group {name}"));
        }
    }
    out.sort();
    out.dedup();
    out
}

async fn drills(world: &World) -> common::Run {
    let journal = world.journal();
    pilotlight(&[
        "--journal",
        &journal,
        "drills",
        "--config",
        world.config_path.to_str().unwrap(),
    ])
    .await
}

fn read_report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn store<'a>(report: &'a Value, kind: &str) -> &'a Value {
    report["rpo"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} store in {report}"))
}

/// Render the HTML report in headless Chromium and keep the screenshot. Chromium is required
/// (CI installs it); `PILOTLIGHT_NO_BROWSER=1` skips this step explicitly on a machine without it.
fn screenshot(html: &Path, name: &str) {
    if std::env::var_os("PILOTLIGHT_NO_BROWSER").is_some() {
        eprintln!("PILOTLIGHT_NO_BROWSER set: the HTML report is not rendered");
        return;
    }
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/test-artifacts/drill"
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join(name);
    let _ = std::fs::remove_file(&png);
    let browser = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            std::process::Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("headless Chromium is needed to render the drill report (apt-get install chromium), or set PILOTLIGHT_NO_BROWSER=1");
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(browser)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.path().display()),
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,900",
            &format!("file://{}", html.canonicalize().unwrap().display()),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
    assert!(
        bytes.len() > 10_000,
        "a rendered page, not a blank one ({} bytes)",
        bytes.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn full_drill_in_the_sandbox_measures_rto_by_phase_and_rpo_per_store() {
    binary();
    let world = World::up().await;
    let replicator = Replicator::start(
        &world.config,
        ReplicationDelays {
            dynamodb: Some(Duration::ZERO),
            s3: None,
            poll: Duration::from_millis(100),
        },
    )
    .unwrap();
    let dir = world.dir.path().join("drill-report");
    let run = drill(&world, &dir).await;
    replicator.stop().await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("PASSED"), "{}", run.stdout);
    let report = read_report(&dir);
    assert_eq!(schema_errors(&report), Vec::<String>::new());
    assert_eq!(report["verdict"]["passed"], true, "{report}");
    assert_eq!(report["mode"], "full");
    assert_eq!(report["requested_by"], "auditor-test");
    // Two runs, both succeeded: failover then failback.
    let runs: Vec<(&str, &str)> = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["runbook"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(runs, [("failover", "succeeded"), ("failback", "succeeded")]);
    // RTO measured and within the sandbox's 15 min objective; phases measured from the steps.
    let rto = report["rto"]["measured_ms"].as_u64().expect("RTO measured");
    assert!(rto > 0 && rto <= 900_000, "{rto}");
    assert_eq!(report["rto"]["within_objective"], true);
    let phases: Vec<&str> = report["phases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["duration_ms"].is_u64())
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    for p in [
        "decision", "gates", "database", "compute", "dns", "failback",
    ] {
        assert!(phases.contains(&p), "phase {p} measured: {phases:?}");
    }
    // The failback is outside the RTO; the RTO covers every failover step.
    let steps = report["steps"].as_array().unwrap();
    assert!(steps
        .iter()
        .any(|s| s["runbook"] == "failback" && s["phase"] == "failback"));
    assert!(
        steps
            .iter()
            .all(|s| s["status"] == "succeeded" || s["status"] == "skipped"),
        "{steps:?}"
    );
    // RPO: DynamoDB replicated (every canary arrived), S3 not (none arrived, loss at least the
    // oldest canary's age), the database not measurable in the emulator.
    for t in &world.config.dynamodb_tables {
        let s = report["rpo"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["kind"] == "dynamodb" && s["name"] == t.name.as_str())
            .unwrap();
        assert_eq!(s["canaries"].as_array().unwrap().len(), 3);
        assert!(
            s["canaries"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["arrived"] == true),
            "{s}"
        );
        assert_eq!(s["bound"], "at_most");
    }
    let s3 = store(&report, "s3");
    assert!(
        s3["canaries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["arrived"] == false),
        "{s3}"
    );
    assert_eq!(s3["bound"], "at_least");
    assert!(s3["loss_window_ms"].as_u64().unwrap() >= 1_000, "{s3}");
    let rds = store(&report, "rds");
    assert_eq!(rds["measured"], false);
    assert!(
        rds["note"].as_str().unwrap().contains("no SQL engine"),
        "{rds}"
    );
    assert!(rds["loss_window_ms"].is_null());
    // The decisions of both runs (who started them) are in the report.
    let starts = report["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "start" && d["who"] == "auditor-test")
        .count();
    assert_eq!(starts, 2, "{}", report["decisions"]);
    // The other formats.
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("## Verdict: PASSED"), "{md}");
    let html_path = dir.join("report.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("<svg") && !html.contains("<script"));
    screenshot(&html_path, "full-drill.png");
    // Stored in the journal: listed, with the next annual drill due in a year.
    let list = drills(&world).await;
    assert_eq!(list.code, 0, "{}\n{}", list.stdout, list.stderr);
    let id = report["id"].as_str().unwrap();
    assert!(id.starts_with("drill-"), "{id}");
    assert!(
        list.stdout.contains(id) && list.stdout.contains("pass"),
        "{}",
        list.stdout
    );
    assert!(
        list.stdout.contains("next annual drill due by"),
        "{}",
        list.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn drill_with_lag_over_budget_fails_with_reasons_and_does_not_fail_back() {
    binary();
    let world = World::up().await;
    // No replication at all, and a replica lag of 240 s against the 60 s RPO.
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
    let dir = world.dir.path().join("failed-drill");
    let run = drill(&world, &dir).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("FAILED"), "{}", run.stdout);
    let report = read_report(&dir);
    assert_eq!(schema_errors(&report), Vec::<String>::new());
    assert_eq!(report["verdict"]["passed"], false);
    let reasons: Vec<&str> = report["verdict"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("(failover) ended failed")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("step ") && r.contains("failed")),
        "the failing gate is named: {reasons:?}"
    );
    // A failed failover recovered nothing: no RTO.
    assert!(report["rto"]["measured_ms"].is_null(), "{}", report["rto"]);
    assert!(
        reasons.iter().any(|r| r.starts_with("RTO not measured")),
        "{reasons:?}"
    );
    // Only the failover ran; the report says the environment was left as the run left it.
    assert_eq!(report["runs"].as_array().unwrap().len(), 1);
    assert!(
        report["limitations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("no failback was attempted")),
        "{}",
        report["limitations"]
    );
    // Nothing was promoted.
    assert_eq!(
        world
            .emu
            .stats()
            .request_count("rds", world.dr(), "PromoteReadReplica"),
        0
    );
    let html_path = dir.join("report.html");
    assert!(std::fs::read_to_string(&html_path)
        .unwrap()
        .contains("Why it failed"));
    screenshot(&html_path, "failed-drill.png");
    // No passing drill on record: `pilotlight drills` says one is due, loudly, and exits 1.
    let list = drills(&world).await;
    assert_eq!(list.code, 1, "{}\n{}", list.stdout, list.stderr);
    assert!(
        list.stdout.contains("NO PASSING DRILL ON RECORD"),
        "{}",
        list.stdout
    );
    assert!(list.stdout.contains("FAIL"), "{}", list.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn isolated_drill_copies_verifies_and_removes_without_touching_what_serves() {
    binary();
    let world = World::up().await;
    let replicator = Replicator::start(
        &world.config,
        ReplicationDelays {
            dynamodb: Some(Duration::ZERO),
            s3: None,
            poll: Duration::from_millis(100),
        },
    )
    .unwrap();
    let before = common::snapshot(&world).await;
    let dir = world.dir.path().join("isolated-report");
    let run = isolated(&world, &dir, "30s").await;
    replicator.stop().await;
    let report = read_report(&dir);
    assert_eq!(schema_errors(&report), Vec::<String>::new());
    assert_eq!(report["mode"], "isolated");
    let id = report["id"].as_str().unwrap().to_string();
    // Every copy the environment needs, each verified, then confirmed removed.
    let resources = report["resources"].as_array().unwrap();
    let count = |kind: &str| resources.iter().filter(|r| r["kind"] == kind).count();
    assert_eq!(
        count("rds_snapshot"),
        world.config.rds_replicas.len(),
        "{report}"
    );
    assert_eq!(count("rds_instance"), world.config.rds_replicas.len());
    assert_eq!(count("ecs_service"), world.config.ecs_services.len());
    assert_eq!(
        count("autoscaling_group"),
        world.config.autoscaling_groups.len()
    );
    for r in resources {
        assert!(r["name"].as_str().unwrap().ends_with(&id), "{r}");
        assert_eq!(r["region"], world.dr());
        assert!(r["removed_at_ms"].is_u64(), "not removed: {r}");
        assert!(!r["verified"].as_str().unwrap().is_empty(), "{r}");
    }
    for s in &world.config.ecs_services {
        let copy = resources
            .iter()
            .find(|r| {
                r["kind"] == "ecs_service" && r["name"].as_str().unwrap().starts_with(&s.service)
            })
            .unwrap();
        assert_eq!(
            copy["verified"],
            format!("running {0}/{0}", s.active_count),
            "the copy ran at the service's active size"
        );
    }
    assert_eq!(
        report["verdict"]["passed"], true,
        "{}\n{}\n{}",
        report["verdict"], run.stdout, run.stderr
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(report["rto"]["measured_ms"].is_u64(), "{}", report["rto"]);
    let phases: Vec<&str> = report["phases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["duration_ms"].is_u64())
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert!(
        phases.contains(&"database") && phases.contains(&"compute"),
        "{phases:?}"
    );
    assert!(store(&report, "dynamodb")["measured"] == true);
    // The emulator's own lists: nothing with the drill's id is left.
    assert_eq!(listed_with(&world, &id).await, Vec::<String>::new());
    // Nothing that serves changed: services, groups, databases, DNS.
    let after = common::snapshot(&world).await;
    assert_eq!(common::diff(&before, &after), Vec::<String>::new());
    assert_eq!(
        world
            .emu
            .stats()
            .request_count("rds", world.dr(), "PromoteReadReplica"),
        0
    );
    let html_path = dir.join("report.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains(&format!("{}-{id}", world.config.ecs_services[0].service)));
    screenshot(&html_path, "isolated-drill.png");
    let list = drills(&world).await;
    assert!(
        list.stdout.contains(&id) && list.stdout.contains("isolated"),
        "{}",
        list.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn isolated_drill_that_cannot_remove_a_copy_fails_loudly_and_names_it() {
    use pilotlight_testkit::emulator::{FaultAction, FaultRule};
    binary();
    let world = World::up().await;
    // Every DeleteAutoScalingGroup in DR fails (the retry layer retries a 503, then gives up).
    world
        .emu
        .faults()
        .add(
            FaultRule::new(FaultAction::Outage)
                .for_service("autoscaling")
                .in_region(world.dr())
                .for_operation("DeleteAutoScalingGroup"),
        )
        .unwrap();
    let dir = world.dir.path().join("leftover-report");
    // The cleanup waits this long for the copies to leave the lists before it reports them.
    let run = isolated(&world, &dir, "5s").await;
    let report = read_report(&dir);
    assert_eq!(
        run.code, 1,
        "{}\n{}\n{:#}",
        run.stdout, run.stderr, report["resources"]
    );
    assert!(run.stdout.contains("FAILED"), "{}", run.stdout);
    assert!(
        run.stdout.contains("LEFT BEHIND"),
        "{}\n{:#}\n{:?}",
        run.stdout,
        report["resources"],
        world.emu.stats()
    );
    assert_eq!(schema_errors(&report), Vec::<String>::new());
    let id = report["id"].as_str().unwrap().to_string();
    let left: Vec<&Value> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["removed_at_ms"].is_null())
        .collect();
    assert_eq!(
        left.len(),
        world.config.autoscaling_groups.len(),
        "{}",
        report["resources"]
    );
    assert!(left.iter().all(|r| r["kind"] == "autoscaling_group"));
    let reasons = report["verdict"]["reasons"].to_string();
    assert!(
        reasons.contains("LEFT BEHIND: autoscaling_group"),
        "{reasons}"
    );
    // The report tells the truth: exactly those are still in the emulator's list, the rest is gone.
    let expected: Vec<String> = left
        .iter()
        .map(|r| format!("autoscaling_group {}", r["name"].as_str().unwrap()))
        .collect();
    assert_eq!(listed_with(&world, &id).await, expected);
    world.emu.faults().clear();
}

/// Starts an isolated drill whose every read of an ECS service in DR takes 2 s (so it is still
/// verifying its copies), and returns it once its Auto Scaling group copy exists (read from moto
/// directly). The fault stays until the caller clears it.
async fn slow_isolated_drill_with_a_copy(world: &World, dir: &Path) -> tokio::process::Child {
    use pilotlight_testkit::emulator::{FaultAction, FaultRule};
    world
        .emu
        .faults()
        .add(
            FaultRule::new(FaultAction::Delay { ms: 2_000 })
                .for_service("ecs")
                .in_region(world.dr())
                .for_operation("DescribeServices"),
        )
        .unwrap();
    let journal = world.journal();
    let child = tokio::process::Command::new(binary())
        .args([
            "--journal",
            &journal,
            "drill",
            "--config",
            world.config_path.to_str().unwrap(),
            "--mode",
            "isolated",
            "--report",
            dir.to_str().unwrap(),
            "--poll",
            "100ms",
            "--copy-timeout",
            "60s",
        ])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .env_remove("PILOTLIGHT_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    while !listed_with(world, "-drill-")
        .await
        .iter()
        .any(|r| r.starts_with("autoscaling_group"))
    {
        assert!(t.elapsed() < Duration::from_secs(60), "no copy was made");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_an_isolated_drill_removes_what_it_made() {
    binary();
    let world = World::up().await;
    let dir = world.dir.path().join("interrupted-report");
    let child = slow_isolated_drill_with_a_copy(&world, &dir).await;
    common::send_signal(child.id().unwrap(), 2);
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the drill ends after Ctrl-C")
        .unwrap();
    world.emu.faults().clear();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let report = read_report(&dir);
    assert_eq!(schema_errors(&report), Vec::<String>::new());
    assert!(
        report["limitations"].to_string().contains("interrupted"),
        "{}",
        report["limitations"]
    );
    for r in report["resources"].as_array().unwrap() {
        assert!(r["removed_at_ms"].is_u64(), "left behind: {r}");
    }
    assert_eq!(listed_with(&world, "-drill-").await, Vec::<String>::new());
}

/// Scenario: the drill's process is killed (SIGKILL: no cleanup) while it verifies its copies.
/// The copies stay; the next drill is refused and names the way out; `--recover` removes every
/// copy carrying the drill's id and stores an interrupted report; drills start again.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_drill_blocks_the_next_until_recover_removes_what_it_left() {
    binary();
    let world = World::up().await;
    let journal = world.journal();
    let child = slow_isolated_drill_with_a_copy(&world, &world.dir.path().join("killed")).await;
    common::send_signal(child.id().unwrap(), 9);
    let _ = child.wait_with_output().await;
    world.emu.faults().clear();
    let left = listed_with(&world, "-drill-").await;
    assert!(!left.is_empty(), "a killed drill leaves its copies");

    // Listed as unfinished; the next drill is refused, naming the drill and `--recover`.
    let listed = pilotlight(&[
        "--journal",
        &journal,
        "drills",
        "--config",
        world.config_path.to_str().unwrap(),
        "--output",
        "json",
    ])
    .await;
    let id = listed.json()["unfinished"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", listed.stdout))
        .to_string();
    assert!(left.iter().all(|r| r.contains(&id)), "{left:?}");
    let refused = isolated(&world, &world.dir.path().join("refused"), "60s").await;
    assert_eq!(refused.code, 2, "{}\n{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains(&format!("--recover {id}")),
        "{}",
        refused.stderr
    );
    assert_eq!(
        listed_with(&world, "-drill-").await,
        left,
        "nothing new made"
    );

    // Recovered: every copy removed (read from the emulator's lists), the report stored.
    let dir = world.dir.path().join("recovered");
    let recover = || async {
        pilotlight(&[
            "--journal",
            &journal,
            "drill",
            "--config",
            world.config_path.to_str().unwrap(),
            "--recover",
            &id,
            "--report",
            dir.to_str().unwrap(),
            "--poll",
            "100ms",
        ])
        .await
    };
    let recovered = recover().await;
    assert_eq!(
        recovered.code, 0,
        "{}\n{}",
        recovered.stdout, recovered.stderr
    );
    assert_eq!(listed_with(&world, "-drill-").await, Vec::<String>::new());
    let report = read_report(&dir);
    assert_eq!(schema_errors(&report), Vec::<String>::new());
    assert_eq!(report["id"], id.as_str());
    assert_eq!(report["verdict"]["passed"], false);
    assert!(
        report["verdict"]["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("interrupted"),
        "{}",
        report["verdict"]
    );
    let resources = report["resources"].as_array().unwrap();
    assert_eq!(resources.len(), left.len(), "{resources:?} vs {left:?}");
    assert!(resources.iter().all(|r| r["removed_at_ms"].is_u64()));
    // A second --recover finds nothing to do; drills start again.
    let again = recover().await;
    assert_eq!(again.code, 2);
    assert!(
        again.stderr.contains("has a report already"),
        "{}",
        again.stderr
    );
    let listed = drills(&world).await;
    assert!(
        listed.stdout.contains(&id) && !listed.stdout.contains("UNFINISHED"),
        "{}",
        listed.stdout
    );
    let next = isolated(&world, &world.dir.path().join("next"), "60s").await;
    assert_eq!(next.code, 0, "{}\n{}", next.stdout, next.stderr);
}
