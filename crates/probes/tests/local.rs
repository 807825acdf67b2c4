//! The `http`, `tcp` and `command` probes against targets this test serves on loopback: an axum
//! server (200, 201, 302, 503, a slow answer, bodies with and without the expected text), a TCP
//! listener, a closed port, and commands that succeed, fail, hang and do not exist.

use axum::routing::get;
use axum::Router;
use pilotlight_aws::{Caller, ClientFactory};
use pilotlight_core::health::ProbeOutcome;
use pilotlight_core::model::{AwsSettings, ProbeConfig};
use pilotlight_probes::{sample, ProbeResult, Prober};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn prober() -> Prober {
    let clients = Arc::new(ClientFactory::new(AwsSettings::default()));
    let caller = Caller::from_factory(&clients);
    Prober::new(clients, caller, "us-east-1")
}

/// A probe config from its JSON form (as `[[health.probes]]` would give it).
fn probe(json: serde_json::Value) -> ProbeConfig {
    serde_json::from_value(json).expect("a valid probe config")
}

/// Serves the test endpoints; returns `http://127.0.0.1:PORT`.
async fn serve() -> String {
    let app = Router::new()
        .route("/ok", get(|| async { "status: ok" }))
        .route(
            "/created",
            get(|| async { (axum::http::StatusCode::CREATED, "made") }),
        )
        .route(
            "/down",
            get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "maintenance") }),
        )
        .route(
            "/moved",
            get(|| async {
                (
                    axum::http::StatusCode::FOUND,
                    [(axum::http::header::LOCATION, "/ok")],
                )
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "status: ok"
            }),
        )
        .route(
            "/big",
            get(|| async { format!("{}status: ok", "x".repeat(2 << 20)) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// A loopback port nothing listens on.
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    port
}

fn down_reason(r: &ProbeResult) -> &str {
    match &r.outcome {
        ProbeOutcome::Down { reason } => reason,
        other => panic!("expected down, got {other:?} ({})", r.detail),
    }
}

const T: Duration = Duration::from_secs(2);

#[tokio::test]
async fn http_status_decides() {
    let base = serve().await;
    let p = prober();

    let r = p
        .probe(
            &probe(serde_json::json!({"id": "api", "kind": "http", "url": format!("{base}/ok")})),
            T,
        )
        .await;
    assert_eq!(r.outcome, ProbeOutcome::Up, "{}", r.detail);
    assert_eq!(r.detail, "HTTP 200 OK");
    assert!(r.latency > Duration::ZERO && r.latency < T);

    let r = p
        .probe(
            &probe(serde_json::json!({"id": "api", "kind": "http", "url": format!("{base}/down")})),
            T,
        )
        .await;
    assert_eq!(
        down_reason(&r),
        "HTTP 503 Service Unavailable (expected 2xx)"
    );
    assert_eq!(r.detail, down_reason(&r));
    assert!(r.latency < T);

    // Any 2xx by default; exactly `expect_status` when given.
    let created = format!("{base}/created");
    let r = p
        .probe(
            &probe(serde_json::json!({"id": "api", "kind": "http", "url": created})),
            T,
        )
        .await;
    assert!(r.is_up(), "{}", r.detail);
    let r = p
        .probe(
            &probe(serde_json::json!({"id": "api", "kind": "http", "url": created, "expect_status": 201})),
            T,
        )
        .await;
    assert!(r.is_up(), "{}", r.detail);
    let r = p
        .probe(
            &probe(serde_json::json!({"id": "api", "kind": "http", "url": format!("{base}/ok"), "expect_status": 201})),
            T,
        )
        .await;
    assert_eq!(down_reason(&r), "HTTP 200 OK (expected 201)");

    // Redirects are not followed: a 302 is not a 2xx.
    let r = p
        .probe(
            &probe(
                serde_json::json!({"id": "api", "kind": "http", "url": format!("{base}/moved")}),
            ),
            T,
        )
        .await;
    assert_eq!(down_reason(&r), "HTTP 302 Found (expected 2xx)");
    let r = p
        .probe(
            &probe(serde_json::json!({"id": "api", "kind": "http", "url": format!("{base}/moved"), "expect_status": 302})),
            T,
        )
        .await;
    assert!(r.is_up(), "{}", r.detail);
}

#[tokio::test]
async fn http_body_must_contain_the_text() {
    let base = serve().await;
    let p = prober();
    let cfg = |path: &str, needle: &str| {
        probe(
            serde_json::json!({"id": "api", "kind": "http", "url": format!("{base}{path}"), "body_contains": needle}),
        )
    };
    let r = p.probe(&cfg("/ok", "status: ok"), T).await;
    assert_eq!(r.outcome, ProbeOutcome::Up, "{}", r.detail);
    assert_eq!(r.detail, "HTTP 200 OK, body contains \"status: ok\"");

    let r = p.probe(&cfg("/ok", "status: degraded"), T).await;
    assert_eq!(
        down_reason(&r),
        "HTTP 200 OK but the body does not contain \"status: degraded\""
    );

    // Only the first MiB is read: text after it is not found.
    let r = p.probe(&cfg("/big", "status: ok"), T).await;
    assert_eq!(
        down_reason(&r),
        "HTTP 200 OK but the first 1024 KiB of the body do not contain \"status: ok\""
    );
    let r = p.probe(&cfg("/big", "xxxx"), T).await;
    assert!(r.is_up(), "{}", r.detail);

    // A body match on a wrong status is still down for the status.
    let r = p.probe(&cfg("/down", "maintenance"), T).await;
    assert_eq!(
        down_reason(&r),
        "HTTP 503 Service Unavailable (expected 2xx)"
    );
}

#[tokio::test]
async fn http_timeout_is_down_at_the_timeout() {
    let base = serve().await;
    let p = prober();
    let timeout = Duration::from_millis(500);
    let started = Instant::now();
    let r = p
        .probe(
            &probe(serde_json::json!({"id": "api", "kind": "http", "url": format!("{base}/slow")})),
            timeout,
        )
        .await;
    let took = started.elapsed();
    assert_eq!(down_reason(&r), "timed out after 500ms");
    assert!(r.latency >= timeout, "{:?}", r.latency);
    assert!(took < timeout + Duration::from_millis(500), "took {took:?}");
    // The evaluator sees a latency at the timeout, so `timeout_counts_as` applies.
    let s = sample("local", "api", &r, Duration::from_secs(60));
    assert!(s.latency.unwrap() >= timeout);
    assert_eq!(s.outcome, r.outcome);
}

#[tokio::test]
async fn http_unreachable_is_down_and_bad_config_unknown() {
    let p = prober();
    let port = closed_port().await;
    let r = p
        .probe(&probe(serde_json::json!({"id": "api", "kind": "http", "url": format!("http://127.0.0.1:{port}/")})), T)
        .await;
    let reason = down_reason(&r);
    assert!(reason.starts_with("connection failed: "), "{reason}");
    assert!(reason.to_lowercase().contains("refused"), "{reason}");
    assert!(
        !reason.contains("error sending request for url"),
        "{reason}"
    );

    for (cfg, why) in [
        (
            serde_json::json!({"id": "api", "kind": "http"}),
            "the probe has no `url`",
        ),
        (
            serde_json::json!({"id": "api", "kind": "http", "url": "ftp://example.com/"}),
            "`ftp://example.com/`: scheme `ftp` is not http or https",
        ),
        (
            serde_json::json!({"id": "api", "kind": "http", "url": "not a url"}),
            "`not a url` is not a URL",
        ),
    ] {
        let r = p.probe(&probe(cfg), T).await;
        assert_eq!(r.outcome, ProbeOutcome::Unknown);
        assert!(r.detail.starts_with(why), "{}", r.detail);
    }
}

#[tokio::test]
async fn tcp_connects_or_is_refused() {
    let p = prober();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = tokio::spawn(async move { listener.accept().await.is_ok() });
    let r = p
        .probe(
            &probe(serde_json::json!({"id": "media", "kind": "tcp", "address": addr.to_string()})),
            T,
        )
        .await;
    assert_eq!(r.outcome, ProbeOutcome::Up, "{}", r.detail);
    assert_eq!(r.detail, format!("connected to {addr}"));
    assert!(accepted.await.unwrap(), "the listener saw the connection");

    let port = closed_port().await;
    let r = p
        .probe(&probe(serde_json::json!({"id": "media", "kind": "tcp", "address": format!("127.0.0.1:{port}")})), T)
        .await;
    let reason = down_reason(&r);
    assert!(
        reason.starts_with(&format!("connect to 127.0.0.1:{port}: ")),
        "{reason}"
    );
    assert!(reason.to_lowercase().contains("refused"), "{reason}");

    // By name too.
    let r = p
        .probe(&probe(serde_json::json!({"id": "media", "kind": "tcp", "address": format!("localhost:{port}")})), T)
        .await;
    assert!(r.is_down(), "{}", r.detail);

    for (cfg, why) in [
        (
            serde_json::json!({"id": "media", "kind": "tcp"}),
            "the probe has no `address`",
        ),
        (
            serde_json::json!({"id": "media", "kind": "tcp", "address": "media.example"}),
            "`media.example` is not host:port",
        ),
    ] {
        let r = p.probe(&probe(cfg), T).await;
        assert_eq!(r.outcome, ProbeOutcome::Unknown);
        assert_eq!(r.detail, why);
    }
}

/// Whether process `pid` runs: it exists and is not a zombie (a killed orphan waits for init
/// to reap it, which in a container may take a while).
fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            !state.is_some_and(|s| s.starts_with('Z') || s.starts_with('X'))
        }
        Err(_) => false,
    }
}

fn command(args: &[&str]) -> ProbeConfig {
    probe(serde_json::json!({"id": "join", "kind": "command", "command": args}))
}

#[tokio::test]
async fn command_exit_status_decides() {
    let p = prober();
    let r = p.probe(&command(&["true"]), T).await;
    assert_eq!(r.outcome, ProbeOutcome::Up, "{}", r.detail);
    assert_eq!(r.detail, "`true` exited 0");

    let r = p.probe(&command(&["false"]), T).await;
    assert_eq!(down_reason(&r), "`false` exited 1");

    let r = p
        .probe(
            &command(&[
                "sh",
                "-c",
                "echo joined; echo 'line 1' >&2; echo 'no media router answered' >&2; exit 3",
            ]),
            T,
        )
        .await;
    assert_eq!(
        down_reason(&r),
        "`sh` exited 3: line 1 | no media router answered"
    );

    // Without stderr, the end of stdout.
    let r = p
        .probe(&command(&["sh", "-c", "echo 'joined in 120 ms'"]), T)
        .await;
    assert_eq!(r.detail, "`sh` exited 0: joined in 120 ms");
    assert!(r.is_up());

    let r = p.probe(&command(&["sh", "-c", "kill -TERM $$"]), T).await;
    assert_eq!(down_reason(&r), "`sh` was killed by signal 15");
}

#[tokio::test]
async fn command_timeout_kills_it_and_its_children() {
    let p = prober();
    let dir = std::env::temp_dir().join(format!("pilotlight-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pidfile = dir.join("child.pid");
    let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
    let timeout = Duration::from_secs(1);
    let started = Instant::now();
    let r = p.probe(&command(&["sh", "-c", &script]), timeout).await;
    let took = started.elapsed();
    assert_eq!(down_reason(&r), "`sh` timed out after 1s; killed");
    assert!(r.latency >= timeout);
    assert!(took < Duration::from_secs(3), "took {took:?}");

    // The background `sleep` went with it.
    let child: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut gone = false;
    for _ in 0..50 {
        if !running(child) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the command's child {child} still runs");
    std::fs::remove_dir_all(&dir).ok();

    let started = Instant::now();
    let r = p.probe(&command(&["sleep", "5"]), timeout).await;
    assert_eq!(down_reason(&r), "`sleep` timed out after 1s; killed");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn command_that_cannot_run_is_unknown() {
    let p = prober();
    let r = p
        .probe(&command(&["pilotlight-no-such-program-4711"]), T)
        .await;
    assert_eq!(r.outcome, ProbeOutcome::Unknown);
    assert_eq!(
        r.detail,
        "cannot run `pilotlight-no-such-program-4711`: program not found"
    );

    let dir = std::env::temp_dir().join(format!("pilotlight-noexec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("check.sh");
    std::fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    let r = p.probe(&command(&[file.to_str().unwrap()]), T).await;
    assert_eq!(r.outcome, ProbeOutcome::Unknown);
    assert!(r.detail.ends_with("permission denied"), "{}", r.detail);
    std::fs::remove_dir_all(&dir).ok();

    let r = p
        .probe(
            &probe(serde_json::json!({"id": "join", "kind": "command"})),
            T,
        )
        .await;
    assert_eq!(r.outcome, ProbeOutcome::Unknown);
    assert_eq!(r.detail, "the probe has no `command`");
}
