//! The `route53_health_check` and `cloudwatch_alarm` probes through the real SDK against the
//! emulator (moto behind the test kit's proxy): the proxy's health-check control makes a health
//! check report failure, `set_alarm_state` moves alarms, and fault rules make the AWS API
//! throttle, fail or stall, which must be unknown, never down.

use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
use aws_sdk_route53::types::{HealthCheckConfig, HealthCheckType};
use pilotlight_aws::{Caller, ClientFactory};
use pilotlight_core::health::ProbeOutcome;
use pilotlight_core::model::{AwsSettings, ProbeConfig};
use pilotlight_probes::{ProbeResult, Prober};
use pilotlight_testkit::emulator::{Emulator, FaultAction, FaultRule};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PRIMARY: &str = "us-east-1";
const T: Duration = Duration::from_secs(5);

struct World {
    emulator: Emulator,
    clients: Arc<ClientFactory>,
    prober: Prober,
}

async fn world() -> World {
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let emulator = Emulator::start().await.expect("emulator starts");
    let settings = AwsSettings {
        endpoint: Some(emulator.endpoint()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(10),
        max_attempts: 2,
        requests_per_second: 50.0,
        ..AwsSettings::default()
    };
    let clients = Arc::new(ClientFactory::new(settings));
    let caller = Caller::from_factory(&clients);
    let prober = Prober::new(clients.clone(), caller, PRIMARY);
    World {
        emulator,
        clients,
        prober,
    }
}

fn probe(json: serde_json::Value) -> ProbeConfig {
    serde_json::from_value(json).expect("a valid probe config")
}

fn down_reason(r: &ProbeResult) -> &str {
    match &r.outcome {
        ProbeOutcome::Down { reason } => reason,
        other => panic!("expected down, got {other:?} ({})", r.detail),
    }
}

async fn health_check(clients: &ClientFactory) -> String {
    let out = clients
        .route53(PRIMARY)
        .await
        .create_health_check()
        .caller_reference("probe-test")
        .health_check_config(
            HealthCheckConfig::builder()
                .r#type(HealthCheckType::Https)
                .fully_qualified_domain_name("api.confer.example")
                .port(443)
                .resource_path("/health")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create health check");
    out.health_check().unwrap().id().to_string()
}

#[tokio::test]
async fn route53_health_check_follows_its_checkers() {
    let w = world().await;
    let id = health_check(&w.clients).await;
    let cfg = probe(
        serde_json::json!({"id": "r53", "kind": "route53_health_check", "health_check_id": id}),
    );

    let r = w.prober.probe(&cfg, T).await;
    assert_eq!(r.outcome, ProbeOutcome::Up, "{}", r.detail);
    assert_eq!(
        r.detail,
        format!("health check {id}: 1 of 1 checkers report success")
    );

    w.emulator.control().set_health_check(&id, false);
    let r = w.prober.probe(&cfg, T).await;
    let reason = down_reason(&r);
    assert!(
        reason.starts_with(&format!(
            "health check {id}: 0 of 1 checkers report success ("
        )),
        "{reason}"
    );
    assert!(reason.contains("Failure: HTTP Status Code 503"), "{reason}");

    w.emulator.control().set_health_check(&id, true);
    assert!(w.prober.probe(&cfg, T).await.is_up());

    // No such health check: the probe cannot tell.
    let missing = probe(
        serde_json::json!({"id": "r53", "kind": "route53_health_check",
        "health_check_id": "00000000-0000-0000-0000-000000000000"}),
    );
    let r = w.prober.probe(&missing, T).await;
    assert_eq!(r.outcome, ProbeOutcome::Unknown, "{}", r.detail);
    assert!(
        r.detail.contains("there is no health check"),
        "{}",
        r.detail
    );
    let r = w
        .prober
        .probe(
            &probe(serde_json::json!({"id": "r53", "kind": "route53_health_check"})),
            T,
        )
        .await;
    assert_eq!(r.outcome, ProbeOutcome::Unknown);
    assert_eq!(r.detail, "the probe has no `health_check_id`");
}

#[tokio::test]
async fn an_unhealthy_aws_api_is_unknown_not_down() {
    let w = world().await;
    let id = health_check(&w.clients).await;
    w.emulator.control().set_health_check(&id, false);
    let cfg = probe(
        serde_json::json!({"id": "r53", "kind": "route53_health_check", "health_check_id": id}),
    );
    let faults = w.emulator.faults();

    // Throttled past the retries.
    faults
        .add(
            FaultRule::new(FaultAction::Throttle)
                .for_service("route53")
                .for_operation("GetHealthCheckStatus"),
        )
        .unwrap();
    let r = w.prober.probe(&cfg, T).await;
    assert_eq!(r.outcome, ProbeOutcome::Unknown, "{}", r.detail);
    assert!(
        r.detail.starts_with(&format!(
            "could not read the status of health check {id}: Retryable error (Throttling)"
        )),
        "{}",
        r.detail
    );
    faults.clear();

    // A regional outage of the API.
    faults.add(FaultRule::region_outage(PRIMARY)).unwrap();
    let r = w.prober.probe(&cfg, T).await;
    assert_eq!(r.outcome, ProbeOutcome::Unknown, "{}", r.detail);
    assert!(r.detail.contains("ServiceUnavailable"), "{}", r.detail);
    faults.clear();

    // Stalled beyond the probe's timeout.
    faults
        .add(FaultRule::new(FaultAction::Delay { ms: 3000 }).for_service("route53"))
        .unwrap();
    let timeout = Duration::from_millis(500);
    let started = Instant::now();
    let r = w.prober.probe(&cfg, timeout).await;
    assert_eq!(r.outcome, ProbeOutcome::Unknown, "{}", r.detail);
    assert_eq!(r.detail, "Route 53 did not answer within 500ms");
    assert!(r.latency >= timeout);
    assert!(started.elapsed() < Duration::from_secs(2));
    faults.clear();

    // And once the API answers again, the health check's failure shows.
    assert!(w.prober.probe(&cfg, T).await.is_down());
}

async fn alarm(clients: &ClientFactory, region: &str, name: &str) {
    clients
        .cloudwatch(region)
        .await
        .put_metric_alarm()
        .alarm_name(name)
        .namespace("Confer")
        .metric_name("JoinFailures")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .send()
        .await
        .expect("put alarm");
}

async fn set_state(clients: &ClientFactory, region: &str, name: &str, state: StateValue) {
    clients
        .cloudwatch(region)
        .await
        .set_alarm_state()
        .alarm_name(name)
        .state_value(state)
        .state_reason("test says so")
        .send()
        .await
        .expect("set alarm state");
}

#[tokio::test]
async fn cloudwatch_alarm_state_decides() {
    let w = world().await;
    alarm(&w.clients, PRIMARY, "confer-joins").await;
    let cfg = probe(
        serde_json::json!({"id": "joins", "kind": "cloudwatch_alarm", "alarm_name": "confer-joins"}),
    );

    set_state(&w.clients, PRIMARY, "confer-joins", StateValue::Alarm).await;
    let r = w.prober.probe(&cfg, T).await;
    assert_eq!(
        down_reason(&r),
        "alarm confer-joins in us-east-1 is in ALARM: test says so"
    );

    set_state(&w.clients, PRIMARY, "confer-joins", StateValue::Ok).await;
    let r = w.prober.probe(&cfg, T).await;
    assert_eq!(r.outcome, ProbeOutcome::Up, "{}", r.detail);
    assert_eq!(r.detail, "alarm confer-joins in us-east-1 is OK");

    set_state(
        &w.clients,
        PRIMARY,
        "confer-joins",
        StateValue::InsufficientData,
    )
    .await;
    let r = w.prober.probe(&cfg, T).await;
    assert_eq!(r.outcome, ProbeOutcome::Unknown);
    assert_eq!(
        r.detail,
        "alarm confer-joins in us-east-1 has INSUFFICIENT_DATA: test says so"
    );

    // The probe's own region; an alarm of that name elsewhere does not count.
    alarm(&w.clients, "us-west-2", "confer-dr").await;
    set_state(&w.clients, "us-west-2", "confer-dr", StateValue::Alarm).await;
    let dr = probe(
        serde_json::json!({"id": "dr", "kind": "cloudwatch_alarm", "alarm_name": "confer-dr", "region": "us-west-2"}),
    );
    assert!(w.prober.probe(&dr, T).await.is_down());
    let wrong_region = probe(
        serde_json::json!({"id": "dr", "kind": "cloudwatch_alarm", "alarm_name": "confer-dr"}),
    );
    let r = w.prober.probe(&wrong_region, T).await;
    assert_eq!(r.outcome, ProbeOutcome::Unknown);
    assert_eq!(r.detail, "there is no alarm confer-dr in us-east-1");

    // CloudWatch failing is unknown.
    w.emulator
        .faults()
        .add(FaultRule::new(FaultAction::ServerError).for_service("cloudwatch"))
        .unwrap();
    let r = w.prober.probe(&dr, T).await;
    assert_eq!(r.outcome, ProbeOutcome::Unknown, "{}", r.detail);
    assert!(r.detail.contains("InternalFailure"), "{}", r.detail);
    // Each probe made its calls through the one caller (and the retries are counted there).
    let stats = w.emulator.stats();
    assert!(stats.request_count("monitoring", "us-west-2", "DescribeAlarms") >= 3);
}
