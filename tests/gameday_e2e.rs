//! Game day end to end in the sandbox with the real binary: `pilotlight gameday` injects an
//! outage of the primary region through the emulator's control API (every regional service of
//! the primary answers 503, the probed Route 53 health check reports unhealthy), its in-process
//! control loop (the one `pilotlight serve` runs) declares the failure with quorum and fails over
//! by itself, and the report measures detection, decision, database, compute and DNS in order.
//! Afterwards no fault is left in the emulator. An endpoint that is not the sandbox emulator is
//! refused with exit 2 and nothing injected.

mod common;

use common::{pilotlight, World};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Probe interval and failure threshold of the game-day config.
const INTERVAL_MS: u64 = 400;
const FAILURE_THRESHOLD: u64 = 3;

/// The id of the Route 53 health check on the primary record set of the sandbox.
async fn primary_health_check(world: &World) -> String {
    let zone = world.config.route53.as_ref().unwrap();
    let rec = &zone.records[0];
    let r53 = world.proxied().route53(world.primary()).await;
    let sets = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zone.zone_id)
        .send()
        .await
        .unwrap();
    sets.resource_record_sets()
        .iter()
        .find(|s| s.set_identifier() == Some(rec.primary_set_identifier.as_str()))
        .and_then(|s| s.health_check_id())
        .expect("the primary record set has a health check")
        .to_string()
}

/// The sandbox config with a game-day `[health]` section: the primary's health check probed
/// from three vantage points, quorum 2, automatic trigger.
fn gameday_config(world: &World, base: &str, health_check: &str) -> PathBuf {
    let text = format!(
        r#"{base}
[health]
preset = "fast"
quorum = 2
readiness_interval = "10m"

[health.trigger]
mode = "auto"
cool_down = "1h"

[[health.probes]]
id = "primary-health-check"
kind = "route53_health_check"
health_check_id = "{health_check}"
interval = "{INTERVAL_MS}ms"
timeout = "300ms"
failure_threshold = {FAILURE_THRESHOLD}
recovery_threshold = 2

[[health.vantage_points]]
id = "control"
runs_in = "control"

[[health.vantage_points]]
id = "observer-a"
token_sha256 = "{a}"

[[health.vantage_points]]
id = "observer-b"
token_sha256 = "{b}"
"#,
        a = pilotlight_server::auth::token_sha256("token-a"),
        b = pilotlight_server::auth::token_sha256("token-b"),
    );
    let path = world
        .dir
        .path()
        .join(format!("gameday-{}.toml", text.len()));
    std::fs::write(&path, text).unwrap();
    path
}

async fn gameday(world: &World, config: &Path, dir: &Path) -> common::Run {
    let journal = world.journal();
    let runbooks = world.quick_runbooks();
    pilotlight(&[
        "--journal",
        &journal,
        "--runbooks",
        &runbooks,
        "gameday",
        "--config",
        config.to_str().unwrap(),
        "--report",
        dir.to_str().unwrap(),
        "--by",
        "gameday-test",
        "--timeout",
        "3m",
    ])
    .await
}

fn phase<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phase"] == name)
        .unwrap_or_else(|| panic!("no {name} phase in {:#}", report["phases"]))
}

async fn emulator_health_checks(world: &World) -> Value {
    reqwest::get(format!("{}/__emulator/health-checks", world.emu.endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn gameday_measures_detection_decision_and_recovery_and_clears_its_faults() {
    let world = World::up().await;
    let hc = primary_health_check(&world).await;
    let base = std::fs::read_to_string(&world.config_path).unwrap();
    let config = gameday_config(&world, &base, &hc);
    let dir = world.dir.path().join("gameday-report");
    let run = gameday(&world, &config, &dir).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["mode"], "gameday");
    let schema: Value = serde_json::from_str(include_str!(
        "../crates/drill/schema/drill-report.schema.json"
    ))
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "the report follows the schema: {errors:#?}"
    );
    for f in ["report.html", "report.md"] {
        assert!(dir.join(f).exists(), "{f} written");
    }
    assert_eq!(report["verdict"]["passed"], true, "{:#}", report["verdict"]);
    // Every phase measured, in the order a recovery goes through them: detection, decision,
    // then database and compute (in parallel in the runbook), then DNS once both are done.
    let span = |n: &str| {
        let p = phase(&report, n);
        let start = p["start_offset_ms"]
            .as_u64()
            .unwrap_or_else(|| panic!("{n} measured: {p:#}"));
        let duration = p["duration_ms"]
            .as_u64()
            .unwrap_or_else(|| panic!("{n} measured: {p:#}"));
        (start, start + duration)
    };
    let (detection_start, detection_end) = span("detection");
    let (decision_start, decision_end) = span("decision");
    let (database_start, database_end) = span("database");
    let (compute_start, compute_end) = span("compute");
    let (dns_start, _) = span("dns");
    assert_eq!(
        decision_start, detection_end,
        "the decision starts at the declaration"
    );
    assert!(detection_start < decision_start);
    assert!(decision_end <= database_start.min(compute_start));
    assert!(
        dns_start >= database_end.max(compute_end),
        "{:#}",
        report["phases"]
    );
    // Detection takes at least the configured threshold: the failure threshold's consecutive
    // failures, the first of which can come at once, `interval` apart.
    let detection = phase(&report, "detection")["duration_ms"].as_u64().unwrap();
    assert!(
        detection >= (FAILURE_THRESHOLD - 1) * INTERVAL_MS,
        "detection {detection} ms"
    );
    let failure_at = report["failure_at_ms"].as_u64().unwrap();
    let started = report["started_at_ms"].as_u64().unwrap();
    assert_eq!(
        phase(&report, "detection")["start_offset_ms"].as_u64(),
        Some(failure_at - started)
    );
    // DNS ends no later than the RTO.
    assert_eq!(detection_end, failure_at - started + detection);
    let rto = report["rto"]["measured_ms"].as_u64().expect("RTO measured");
    let dns = phase(&report, "dns");
    assert!(
        dns["start_offset_ms"].as_u64().unwrap() + dns["duration_ms"].as_u64().unwrap()
            <= failure_at - started + rto
    );
    // The run was started by the trigger, not by the game day.
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let journal = world.journal();
    let shown = pilotlight(&["--journal", &journal, "runs", "--output", "json"])
        .await
        .json();
    assert_eq!(shown[0]["requested_by"], "pilotlight-trigger", "{shown:#}");
    assert_eq!(shown[0]["status"], "succeeded");
    // The declaration and the trigger's decision are in the report.
    let kinds: Vec<&str> = report["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"declaration") && kinds.contains(&"trigger_fail_over"),
        "{kinds:?}"
    );
    // Everything injected is listed and was removed: the emulator has no rule and no
    // health-check setting left.
    let resources = report["resources"].as_array().unwrap();
    assert!(
        resources
            .iter()
            .any(|r| r["kind"] == "emulator_fault" && r["region"] == world.primary()),
        "{resources:#?}"
    );
    assert!(resources
        .iter()
        .any(|r| r["kind"] == "emulator_health_check" && r["name"] == hc.as_str()));
    assert!(
        resources.iter().all(|r| r["removed_at_ms"].is_u64()),
        "{resources:#?}"
    );
    assert!(world.emu.faults().rules().is_empty());
    assert_eq!(emulator_health_checks(&world).await, serde_json::json!({}));
    // The primary region answers again.
    world
        .proxied()
        .dynamodb(world.primary())
        .await
        .list_tables()
        .send()
        .await
        .expect("the primary answers after the game day");
    // Stored like a drill.
    let listed = pilotlight(&["--journal", &journal, "drills", "--output", "json"])
        .await
        .json();
    assert_eq!(listed["drills"][0]["mode"], "gameday", "{listed:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn gameday_refuses_an_endpoint_that_is_not_the_sandbox_emulator() {
    let world = World::up().await;
    let hc = primary_health_check(&world).await;
    let base = std::fs::read_to_string(&world.config_path).unwrap();
    let proxy = world.emu.endpoint();
    assert!(base.contains(&proxy));
    // moto itself: an AWS API without the emulator's control API.
    let direct = base.replace(&proxy, &world.emu.moto_endpoint());
    let config = gameday_config(&world, &direct, &hc);
    let dir = world.dir.path().join("refused");
    let run = gameday(&world, &config, &dir).await;
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("not the sandbox emulator") && run.stderr.contains("/__emulator/"),
        "{}",
        run.stderr
    );
    assert!(!dir.exists(), "no report for a game day that did not run");
    assert_eq!(
        world
            .emu
            .stats()
            .request_count("rds", world.dr(), "PromoteReadReplica"),
        0
    );
    // No endpoint at all: AWS itself.
    let aws = base
        .lines()
        .filter(|l| !l.trim_start().starts_with("endpoint"))
        .collect::<Vec<_>>()
        .join("\n");
    let config = gameday_config(&world, &aws, &hc);
    let run = gameday(&world, &config, &dir).await;
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("/__emulator/"), "{}", run.stderr);
    assert!(world.emu.faults().rules().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_gameday_removes_what_it_injected() {
    let world = World::up().await;
    let hc = primary_health_check(&world).await;
    let base = std::fs::read_to_string(&world.config_path).unwrap();
    // A threshold the game day cannot reach before it is interrupted.
    let config = gameday_config(&world, &base, &hc);
    let slow = config.with_file_name("slow.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("failure_threshold = {FAILURE_THRESHOLD}"),
        "failure_threshold = 1000",
    );
    std::fs::write(&slow, text).unwrap();
    let journal = world.journal();
    let runbooks = world.quick_runbooks();
    let log = world.dir.path().join("gameday.log");
    let mut child = common::bin()
        .args([
            "--journal",
            &journal,
            "--runbooks",
            &runbooks,
            "gameday",
            "--config",
        ])
        .arg(&slow)
        .arg("--report")
        .arg(world.dir.path().join("interrupted"))
        .stderr(std::fs::File::create(&log).unwrap())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut injected = false;
    for _ in 0..600 {
        if !world.emu.faults().rules().is_empty() {
            injected = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        injected,
        "the game day never injected: {}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert_eq!(
        emulator_health_checks(&world).await[&hc]["healthy"],
        false,
        "the probed health check is failed"
    );
    common::send_signal(child.id().unwrap(), 2);
    let status = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait())
        .await
        .expect("the game day stops on Ctrl-C")
        .unwrap();
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(world.emu.faults().rules().is_empty(), "{stderr}");
    assert_eq!(emulator_health_checks(&world).await, serde_json::json!({}));
    assert!(
        common::pilotlight(&["--journal", &journal, "runs", "--output", "json"])
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty(),
        "no failover started"
    );
}
