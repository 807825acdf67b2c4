//! End to end: `pilotlight serve` watches a primary endpoint served by the test, with two
//! `pilotlight observer` processes as remote vantage points, against the sandbox in the emulator.
//! The endpoint goes down → a quorum declares the failure → in `auto` mode the failover runs by
//! itself; in `recommend` mode it waits for a person's approval. While the endpoint is up,
//! nothing happens.

mod common;

use common::{bin, endpoint, pilotlight, send_signal, show_run, World, RUNBOOKS};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

fn sha256_hex(token: &str) -> String {
    pilotlight_server::auth::token_sha256(token)
}

/// The sandbox's config with a [health] section watching `url` from three vantage points.
fn with_health(world: &World, url: &str, mode: &str) -> std::path::PathBuf {
    let base = std::fs::read_to_string(&world.config_path).unwrap();
    let text = format!(
        r#"{base}
[health]
preset = "fast"
quorum = 2
readiness_interval = "2s"

[health.trigger]
mode = "{mode}"
cool_down = "1h"

[[health.probes]]
id = "api-http"
kind = "http"
url = "{url}"
expect_status = 200
interval = "300ms"
timeout = "250ms"
failure_threshold = 2
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
        a = sha256_hex("token-a"),
        b = sha256_hex("token-b"),
    );
    let path = world.dir.path().join("watched.toml");
    std::fs::write(&path, text).unwrap();
    for (name, token) in [("a", "token-a"), ("b", "token-b")] {
        std::fs::write(
            world.dir.path().join(format!("token-{name}")),
            format!("{token}\n"),
        )
        .unwrap();
    }
    path
}

/// Start `serve` and return it with its API's base URL (read from its first line).
async fn serve(world: &World, config: &std::path::Path) -> (Child, String) {
    let journal = world.journal();
    let mut child = bin()
        .args([
            "--journal",
            &journal,
            "--runbooks",
            RUNBOOKS,
            "serve",
            "--config",
        ])
        .arg(config)
        .args(["--listen", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("serve starts")
            .unwrap()
            .expect("serve prints its address");
        if let Some(i) = line.find("API on ") {
            break line[i + 7..].trim().to_string();
        }
    };
    // Keep draining its output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

fn observer(world: &World, config: &std::path::Path, name: &str, url: &str) -> Child {
    bin()
        .args(["observer", "--config"])
        .arg(config)
        .args([
            "--vantage",
            &format!("observer-{name}"),
            "--control",
            url,
            "--token-file",
        ])
        .arg(world.dir.path().join(format!("token-{name}")))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

async fn get(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

async fn runs(world: &World) -> Vec<Value> {
    let journal = world.journal();
    let r = pilotlight(&["--journal", &journal, "runs", "--output", "json"]).await;
    r.json().as_array().cloned().unwrap_or_default()
}

/// Wait until the health API says every vantage point reports up.
async fn all_up(url: &str) {
    for _ in 0..200 {
        let h = get(&format!("{url}/api/v1/health")).await;
        if h["votes"]["up"].as_u64() == Some(3) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the vantage points never all reported up");
}

async fn wait_for_run(world: &World, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..600 {
        if let Some(r) = runs(world).await.into_iter().find(|r| pred(r)) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no such run: {:#?}", runs(world).await);
}

fn terminate(child: &Child) {
    if let Some(pid) = child.id() {
        send_signal(pid, 15);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_mode_fails_over_on_a_real_outage_and_not_before() {
    let world = World::up().await;
    let up = Arc::new(AtomicBool::new(true));
    let url = endpoint(up.clone()).await;
    let config = with_health(&world, &url, "auto");
    let (mut control, api) = serve(&world, &config).await;
    let _a = observer(&world, &config, "a", &api);
    let _b = observer(&world, &config, "b", &api);
    all_up(&api).await;
    // Healthy for a while: no declaration, no run.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(runs(&world).await.is_empty());
    let events: Value = get(&format!("{api}/api/v1/health/events")).await;
    assert_eq!(events.as_array().unwrap().len(), 0, "{events:#}");

    // The primary goes down for everyone.
    up.store(false, Ordering::SeqCst);
    let run = wait_for_run(&world, |r| {
        r["runbook"] == "failover" && r["status"] == "succeeded"
    })
    .await;
    assert_eq!(run["requested_by"], "pilotlight-trigger");
    let events: Value = get(&format!("{api}/api/v1/health/events")).await;
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"declaration") && kinds.contains(&"trigger_fail_over"),
        "{kinds:?}"
    );
    let decl = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "declaration")
        .unwrap();
    let evidence = decl["detail"].to_string();
    for v in ["control", "observer-a", "observer-b", "api-http"] {
        assert!(evidence.contains(v), "{v} in the declaration's evidence");
    }
    // DR serves now.
    let journal = world.journal();
    let st = pilotlight(&[
        "--journal",
        &journal,
        "status",
        "--config",
        world.config_path.to_str().unwrap(),
        "--output",
        "json",
    ])
    .await;
    assert_eq!(st.json()["serving"], "dr", "{}", st.stdout);
    // Exactly one run, and a graceful stop.
    assert_eq!(runs(&world).await.len(), 1);
    terminate(&control);
    let status = tokio::time::timeout(Duration::from_secs(30), control.wait())
        .await
        .expect("serve stops on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn recommend_mode_waits_for_approval() {
    let world = World::up().await;
    let up = Arc::new(AtomicBool::new(true));
    let url = endpoint(up.clone()).await;
    let config = with_health(&world, &url, "recommend");
    let (_control, api) = serve(&world, &config).await;
    let _a = observer(&world, &config, "a", &api);
    let _b = observer(&world, &config, "b", &api);
    all_up(&api).await;
    up.store(false, Ordering::SeqCst);
    let run = wait_for_run(&world, |r| r["runbook"] == "failover").await;
    let id = run["id"].as_str().unwrap().to_string();
    // It waits: nothing beyond the approval step starts.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let journal = world.journal();
    let shown = show_run(&journal, &id).await;
    let status_of = |v: &Value, id: &str| {
        v["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status_of(&shown, "approve-failover"), "awaiting_approval");
    assert_eq!(status_of(&shown, "promote-db/db"), "pending");
    assert_eq!(
        world
            .emu
            .stats()
            .request_count("rds", world.dr(), "PromoteReadReplica"),
        0
    );
    let ok = pilotlight(&[
        "--journal",
        &journal,
        "approve",
        &id,
        "approve-failover",
        "--by",
        "oncall",
    ])
    .await;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    wait_for_run(&world, |r| {
        r["id"] == id.as_str() && r["status"] == "succeeded"
    })
    .await;
}
