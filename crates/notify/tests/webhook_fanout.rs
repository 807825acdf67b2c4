//! Webhooks and the fan-out against loopback receivers this test serves: the JSON that arrives,
//! how refusals are classified, a receiver that hangs (bounded by the timeout, never blocking
//! the others), and a fan-out with failing notifiers.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use pilotlight_core::capability::{Notification, Notifier};
use pilotlight_core::{CapabilityError, ErrorClass};
use pilotlight_notify::{payload, Fanout, WebhookNotifier};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, Value)>>>);

impl Received {
    fn bodies(&self) -> Vec<Value> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| b.clone())
            .collect()
    }
}

/// Serves `/hook` (records and answers 200 `ok`), `/hang` (never answers in time), `/fail`
/// (500), `/gone` (404), `/forbidden` (403). Returns `http://127.0.0.1:PORT` and the record.
async fn receiver() -> (String, Received) {
    let received = Received::default();
    let app = Router::new()
        .route(
            "/hook",
            post(
                |State(r): State<Received>, headers: HeaderMap, Json(body): Json<Value>| async move {
                    r.0.lock().unwrap().push((headers, body));
                    "ok"
                },
            ),
        )
        .route(
            "/hang",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "late"
            }),
        )
        .route(
            "/fail",
            post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route("/gone", post(|| async { (StatusCode::NOT_FOUND, "no_service") }))
        .route(
            "/forbidden",
            post(|| async { (StatusCode::FORBIDDEN, "invalid_token") }),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), received)
}

fn notification() -> Notification {
    Notification {
        environment: "confer-prod".into(),
        run_id: Some("20261121-0901-failover".into()),
        kind: "run_started".into(),
        message: "failover started by alice: primary down in us-east-1".into(),
    }
}

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_webhook_receives_slack_compatible_json() {
    let (base, received) = receiver().await;
    let hook = WebhookNotifier::new(&format!("{base}/hook?token=SECRET"), T).unwrap();
    assert_eq!(hook.redacted_url(), format!("{base}/…"));
    hook.notify(&notification()).await.unwrap();
    let got = received.0.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (headers, body) = &got[0];
    assert_eq!(
        body,
        &json!({
            "text": "[confer-prod] run_started (run 20261121-0901-failover): failover started by alice: primary down in us-east-1",
            "environment": "confer-prod",
            "run_id": "20261121-0901-failover",
            "kind": "run_started",
            "message": "failover started by alice: primary down in us-east-1",
        })
    );
    assert_eq!(body, &payload(&notification()));
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers["user-agent"]
        .to_str()
        .unwrap()
        .starts_with("pilotlight/"));

    // A notification about no run: `run_id` is null.
    let mut n = notification();
    n.run_id = None;
    n.kind = "declaration".into();
    hook.notify(&n).await.unwrap();
    let last = received.bodies().pop().unwrap();
    assert_eq!(last["run_id"], Value::Null);
    assert_eq!(last["kind"], "declaration");
}

#[tokio::test]
async fn webhook_refusals_are_classified_without_the_secret() {
    let (base, _) = receiver().await;
    let closed = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    for (url, class, code) in [
        (
            format!("{base}/fail?token=SECRET"),
            ErrorClass::Retryable,
            Some("HTTP 500"),
        ),
        (
            format!("{base}/gone?token=SECRET"),
            ErrorClass::Terminal,
            Some("HTTP 404"),
        ),
        (
            format!("{base}/forbidden?token=SECRET"),
            ErrorClass::Credentials,
            Some("HTTP 403"),
        ),
        (
            format!("http://127.0.0.1:{closed}/SECRET"),
            ErrorClass::Unreachable,
            None,
        ),
    ] {
        let e = WebhookNotifier::new(&url, T)
            .unwrap()
            .notify(&notification())
            .await
            .unwrap_err();
        assert_eq!(e.class, class, "{url}: {e}");
        assert_eq!(e.code.as_deref(), code, "{url}: {e}");
        assert_eq!(e.service, "webhook");
        assert_eq!(e.region, "127.0.0.1");
        assert!(!e.to_string().contains("SECRET"), "{e}");
    }
    let e = WebhookNotifier::new(&format!("{base}/fail"), T)
        .unwrap()
        .notify(&notification())
        .await
        .unwrap_err();
    assert_eq!(e.message, "HTTP 500 Internal Server Error: boom");
}

#[tokio::test]
async fn a_hanging_webhook_times_out() {
    let (base, _) = receiver().await;
    let timeout = Duration::from_millis(300);
    let hook = WebhookNotifier::new(&format!("{base}/hang"), timeout).unwrap();
    let started = Instant::now();
    let e = hook.notify(&notification()).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(e.class, ErrorClass::Retryable, "{e}");
    assert_eq!(e.code.as_deref(), Some("Timeout"), "{e}");
}

/// A notifier that waits, then answers as told, and counts its calls.
struct Scripted {
    wait: Duration,
    fail: Option<ErrorClass>,
    calls: Mutex<u32>,
}

impl Scripted {
    fn new(wait: Duration, fail: Option<ErrorClass>) -> Arc<Self> {
        Arc::new(Scripted {
            wait,
            fail,
            calls: Mutex::new(0),
        })
    }
    fn calls(&self) -> u32 {
        *self.calls.lock().unwrap()
    }
}

#[async_trait::async_trait]
impl Notifier for Scripted {
    async fn notify(&self, _: &Notification) -> Result<(), CapabilityError> {
        *self.calls.lock().unwrap() += 1;
        tokio::time::sleep(self.wait).await;
        match self.fail {
            None => Ok(()),
            Some(class) => Err(CapabilityError {
                class,
                service: "fake".into(),
                region: "-".into(),
                operation: "Send".into(),
                code: Some("Nope".into()),
                message: "refused".into(),
                hint: "none".into(),
            }),
        }
    }
}

#[tokio::test]
async fn the_fanout_delivers_around_a_hanging_and_a_failing_notifier() {
    let (base, received) = receiver().await;
    let timeout = Duration::from_millis(400);
    let failing = Scripted::new(Duration::ZERO, Some(ErrorClass::Terminal));
    let fanout = Fanout::new(timeout)
        // Its own timeout is long: the fan-out's bounds it.
        .with(
            "hanging",
            Arc::new(
                WebhookNotifier::new(&format!("{base}/hang"), Duration::from_secs(60)).unwrap(),
            ),
        )
        .with("failing", failing.clone())
        .with(
            "good",
            Arc::new(WebhookNotifier::new(&format!("{base}/hook"), timeout).unwrap()),
        );
    assert_eq!(fanout.names(), vec!["hanging", "failing", "good"]);

    let started = Instant::now();
    fanout.notify(&notification()).await.expect("one delivered");
    let took = started.elapsed();
    assert!(took < timeout + Duration::from_millis(600), "took {took:?}");
    assert_eq!(received.bodies(), vec![payload(&notification())]);
    assert_eq!(failing.calls(), 1);

    let deliveries = fanout.send(&notification()).await;
    let names: Vec<&str> = deliveries.iter().map(|d| d.notifier.as_str()).collect();
    assert_eq!(names, vec!["hanging", "failing", "good"]);
    let hang = deliveries[0].result.as_ref().unwrap_err();
    assert_eq!(hang.code.as_deref(), Some("Timeout"));
    assert_eq!(hang.class, ErrorClass::Retryable);
    assert!(deliveries[0].elapsed >= timeout);
    assert_eq!(
        deliveries[1].result.as_ref().unwrap_err().code.as_deref(),
        Some("Nope")
    );
    assert!(deliveries[2].result.is_ok());
    assert_eq!(received.bodies().len(), 2);
}

#[tokio::test]
async fn the_fanout_sends_concurrently() {
    let wait = Duration::from_millis(400);
    let (a, b, c) = (
        Scripted::new(wait, None),
        Scripted::new(wait, None),
        Scripted::new(wait, Some(ErrorClass::Retryable)),
    );
    let fanout = Fanout::new(Duration::from_secs(5))
        .with("a", a.clone())
        .with("b", b.clone())
        .with("c", c.clone());
    let started = Instant::now();
    fanout.notify(&notification()).await.unwrap();
    let took = started.elapsed();
    assert!(took >= wait && took < wait * 2, "took {took:?}");
    assert_eq!((a.calls(), b.calls(), c.calls()), (1, 1, 1));
}

#[tokio::test]
async fn the_fanout_fails_only_when_every_notifier_failed() {
    let fanout = Fanout::new(Duration::from_millis(200))
        .with(
            "terminal",
            Scripted::new(Duration::ZERO, Some(ErrorClass::Terminal)),
        )
        .with("slow", Scripted::new(Duration::from_secs(5), None));
    let e = fanout.notify(&notification()).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Retryable, "a timeout may pass: {e}");
    assert!(
        e.message.starts_with("every notifier failed: terminal: "),
        "{}",
        e.message
    );
    assert!(e.message.contains("slow: "), "{}", e.message);

    let only_terminal = Fanout::new(Duration::from_millis(200)).with(
        "t",
        Scripted::new(Duration::ZERO, Some(ErrorClass::Terminal)),
    );
    assert_eq!(
        only_terminal
            .notify(&notification())
            .await
            .unwrap_err()
            .class,
        ErrorClass::Terminal
    );

    // Nothing configured: nothing to fail.
    assert!(Fanout::new(Duration::from_secs(1))
        .notify(&notification())
        .await
        .is_ok());
}

/// Collects what a `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn failures_are_logged_with_fields() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let fanout = Fanout::new(Duration::from_secs(1))
        .with("ok", Scripted::new(Duration::ZERO, None))
        .with(
            "bad",
            Scripted::new(Duration::ZERO, Some(ErrorClass::Terminal)),
        );
    fanout.notify(&notification()).await.unwrap();
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 1, "{text}");
    let e = &events[0];
    assert_eq!(e["level"], "WARN");
    let f = &e["fields"];
    assert_eq!(f["message"], "notification not delivered");
    assert_eq!(f["notifier"], "bad");
    assert_eq!(f["kind"], "run_started");
    assert_eq!(f["environment"], "confer-prod");
    assert_eq!(f["run_id"], "20261121-0901-failover");
    assert_eq!(f["class"], "Terminal");
    assert_eq!(f["code"], "Nope");
    assert!(f["error"].as_str().unwrap().contains("refused"), "{f}");
}
