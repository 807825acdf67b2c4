//! SNS through the real SDK against the emulator (moto behind the test kit's proxy). moto 5.2 in
//! server mode delivers a publish to an `http` subscription at once (no confirmation step), in
//! the SNS envelope, choosing the per-protocol body of `MessageStructure=json`; the test
//! subscribes a loopback receiver and reads what arrives.

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use pilotlight_aws::{Caller, ClientFactory};
use pilotlight_core::capability::{Notification, Notifier};
use pilotlight_core::model::{AwsSettings, NotificationsConfig};
use pilotlight_core::ErrorClass;
use pilotlight_notify::{from_config, payload, try_from_config, NotifyError, SnsNotifier};
use pilotlight_testkit::emulator::{Emulator, FaultRule};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where the topic lives: not the SDK's default region, so the ARN's region must be used.
const TOPIC_REGION: &str = "us-west-2";

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<String>>>);

impl Received {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A receiver of raw POST bodies at `/sns` and `/hook`; returns `http://127.0.0.1:PORT`.
async fn receiver() -> (String, Received) {
    let received = Received::default();
    let record = |State(r): State<Received>, body: String| async move {
        r.0.lock().unwrap().push(body);
        "ok"
    };
    let app = Router::new()
        .route("/sns", post(record))
        .route("/hook", post(record))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), received)
}

struct World {
    emulator: Emulator,
    clients: Arc<ClientFactory>,
    caller: Caller,
}

async fn world() -> World {
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let emulator = Emulator::start().await.expect("emulator starts");
    let clients = Arc::new(ClientFactory::new(AwsSettings {
        endpoint: Some(emulator.endpoint()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(10),
        max_attempts: 2,
        requests_per_second: 50.0,
        ..AwsSettings::default()
    }));
    let caller = Caller::from_factory(&clients);
    World {
        emulator,
        clients,
        caller,
    }
}

/// A topic in [`TOPIC_REGION`] with an http subscription to `endpoint`; its ARN.
async fn topic(clients: &ClientFactory, endpoint: &str) -> String {
    let sns = aws_sdk_sns::Client::new(&clients.sdk_config(TOPIC_REGION).await);
    let arn = sns
        .create_topic()
        .name("confer-alerts")
        .send()
        .await
        .expect("create topic")
        .topic_arn()
        .unwrap()
        .to_string();
    sns.subscribe()
        .topic_arn(&arn)
        .protocol("http")
        .endpoint(endpoint)
        .send()
        .await
        .expect("subscribe");
    arn
}

fn notification() -> Notification {
    Notification {
        environment: "confer-prod".into(),
        run_id: None,
        kind: "declaration".into(),
        message: "primary down: 3 of 3 vantage points agree".into(),
    }
}

#[tokio::test]
async fn a_publish_reaches_an_http_subscriber_as_json() {
    let w = world().await;
    let (base, received) = receiver().await;
    let arn = topic(&w.clients, &format!("{base}/sns")).await;
    assert!(arn.starts_with("arn:aws:sns:us-west-2:"), "{arn}");
    let sns = SnsNotifier::new(&arn, w.clients.clone(), w.caller.clone()).unwrap();
    sns.notify(&notification()).await.expect("published");

    let got = received.take();
    assert_eq!(got.len(), 1, "one delivery: {got:?}");
    let envelope: Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(envelope["Type"], "Notification");
    assert_eq!(envelope["TopicArn"], arn.as_str());
    assert_eq!(envelope["Subject"], "pilotlight confer-prod: declaration");
    // The http body of the JSON structure: the structured payload.
    let message: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    assert_eq!(message, payload(&notification()));

    // Signed for the topic's region, through the one caller.
    assert_eq!(
        w.emulator
            .stats()
            .request_count("sns", TOPIC_REGION, "Publish"),
        1
    );
    assert_eq!(w.caller.stats().get("sns", "Publish").calls, 1);
}

#[tokio::test]
async fn sns_failures_are_classified() {
    let w = world().await;
    let missing = format!("arn:aws:sns:{TOPIC_REGION}:123456789012:no-such-topic");
    let e = SnsNotifier::new(&missing, w.clients.clone(), w.caller.clone())
        .unwrap()
        .notify(&notification())
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::Terminal, "{e}");
    assert_eq!(e.service, "sns");
    assert_eq!(e.operation, "Publish");

    let (base, _) = receiver().await;
    let arn = topic(&w.clients, &format!("{base}/sns")).await;
    w.emulator
        .faults()
        .add(FaultRule::region_outage(TOPIC_REGION))
        .unwrap();
    let e = SnsNotifier::new(&arn, w.clients.clone(), w.caller.clone())
        .unwrap()
        .notify(&notification())
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::Retryable, "{e}");
    assert_eq!(e.region, TOPIC_REGION);

    assert_eq!(
        SnsNotifier::new("confer-alerts", w.clients.clone(), w.caller.clone()).unwrap_err(),
        NotifyError::InvalidTopicArn {
            arn: "confer-alerts".into()
        }
    );
}

#[tokio::test]
async fn from_config_sends_to_every_configured_notifier() {
    let w = world().await;
    let (base, received) = receiver().await;
    let arn = topic(&w.clients, &format!("{base}/sns")).await;
    let cfg = NotificationsConfig {
        webhooks: vec![format!("{base}/hook"), "ftp://example.com/secret".into()],
        sns_topic_arn: Some(arn),
        timeout: Duration::from_secs(3),
    };

    // Strict: the unusable webhook is an error.
    let err = try_from_config(Some(&cfg), w.clients.clone(), w.caller.clone())
        .err()
        .expect("refused");
    assert!(
        matches!(err, NotifyError::InvalidWebhookUrl { .. }),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert!(!err.to_string().contains("secret"), "{err}");

    // Lenient: the unusable webhook is left out, the others deliver.
    let notifier = from_config(Some(&cfg), w.clients.clone(), w.caller.clone());
    notifier.notify(&notification()).await.expect("delivered");
    let mut got: Vec<Value> = received
        .take()
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    got.sort_by_key(|v| v.get("Type").is_some());
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], payload(&notification()), "the webhook's body");
    assert_eq!(got[1]["Type"], "Notification", "the SNS envelope");

    // Nothing configured: the log only, which never fails.
    for cfg in [
        None,
        Some(NotificationsConfig {
            webhooks: vec![],
            sns_topic_arn: None,
            timeout: Duration::from_secs(1),
        }),
    ] {
        let n = from_config(cfg.as_ref(), w.clients.clone(), w.caller.clone());
        n.notify(&notification()).await.unwrap();
    }
    assert!(received.take().is_empty());
}
