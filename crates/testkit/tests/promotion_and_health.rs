//! End-to-end tests of the RDS promotion and Route 53 health-check layers against a real moto
//! server, driven with raw HTTP requests shaped like the AWS SDK's (and boto3 for the SDK's
//! parsing), as in `emulator.rs`.

use std::time::{Duration, Instant};

use pilotlight_testkit::emulator::{Emulator, EmulatorError, EmulatorOptions};
use serde_json::{json, Value};

fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .unwrap()
}

fn auth(region: &str, service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/{region}/{service}/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=0000"
    )
}

/// A raw response: status, headers, body.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    /// The text of the first `<tag>` element.
    fn field(&self, tag: &str) -> Option<String> {
        field(&self.body, tag)
    }

    fn has(&self, tag: &str) -> bool {
        self.body.contains(&format!("<{tag}>")) || self.body.contains(&format!("<{tag}/>"))
    }
}

fn field(doc: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = doc.find(&open)? + open.len();
    let end = doc[start..].find(&format!("</{tag}>"))?;
    Some(doc[start..start + end].to_owned())
}

/// Every `<tag>` text of `doc`.
fn fields(doc: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    doc.match_indices(&open)
        .filter_map(|(i, _)| {
            let start = i + open.len();
            doc[start..]
                .find(&close)
                .map(|end| doc[start..start + end].to_owned())
        })
        .collect()
}

async fn answer(response: reqwest::Response) -> Answer {
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

/// An RDS query-protocol call: `Action=...&Version=2014-10-31&k=v...` in a form body.
async fn rds_with_timeout(
    endpoint: &str,
    region: &str,
    action: &str,
    params: &[(&str, &str)],
    timeout: Duration,
) -> Result<Answer, reqwest::Error> {
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", action)
        .append_pair("Version", "2014-10-31")
        .extend_pairs(params)
        .finish();
    let response = client(timeout)
        .post(format!("{endpoint}/"))
        .header("authorization", auth(region, "rds"))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(form)
        .send()
        .await?;
    Ok(answer(response).await)
}

async fn rds(endpoint: &str, region: &str, action: &str, params: &[(&str, &str)]) -> Answer {
    rds_with_timeout(endpoint, region, action, params, Duration::from_secs(30))
        .await
        .unwrap()
}

async fn create_instance(endpoint: &str, region: &str, id: &str) -> Answer {
    let created = rds(
        endpoint,
        region,
        "CreateDBInstance",
        &[
            ("DBInstanceIdentifier", id),
            ("DBInstanceClass", "db.t3.micro"),
            ("Engine", "postgres"),
            ("MasterUsername", "pilot"),
            ("MasterUserPassword", "not-a-secret-1"),
            ("AllocatedStorage", "20"),
        ],
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    created
}

async fn create_replica(endpoint: &str, region: &str, id: &str, source: &str) -> Answer {
    let created = rds(
        endpoint,
        region,
        "CreateDBInstanceReadReplica",
        &[
            ("DBInstanceIdentifier", id),
            ("SourceDBInstanceIdentifier", source),
            ("DBInstanceClass", "db.t3.micro"),
        ],
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    created
}

async fn describe(endpoint: &str, region: &str, id: &str) -> Answer {
    let described = rds(
        endpoint,
        region,
        "DescribeDBInstances",
        &[("DBInstanceIdentifier", id)],
    )
    .await;
    assert_eq!(described.status, 200, "{}", described.body);
    described
}

async fn promote(endpoint: &str, region: &str, id: &str) -> Answer {
    rds(
        endpoint,
        region,
        "PromoteReadReplica",
        &[("DBInstanceIdentifier", id)],
    )
    .await
}

fn replicas_listed(a: &Answer) -> Vec<String> {
    fields(&a.body, "ReadReplicaDBInstanceIdentifier")
}

const SOURCE_ARN: &str = "arn:aws:rds:us-east-1:123456789012:db:orders";
const DR_ARN: &str = "arn:aws:rds:us-west-2:123456789012:db:orders-dr";

/// `orders` in us-east-1, its cross-region replica `orders-dr` in us-west-2 and its same-region
/// replica `orders-local`, all created through the proxy.
async fn primary_with_replicas(endpoint: &str) {
    let source = create_instance(endpoint, "us-east-1", "orders").await;
    assert_eq!(source.field("DBInstanceArn").as_deref(), Some(SOURCE_ARN));
    create_replica(endpoint, "us-west-2", "orders-dr", SOURCE_ARN).await;
    create_replica(endpoint, "us-east-1", "orders-local", "orders").await;
    let listed = describe(endpoint, "us-east-1", "orders").await;
    assert_eq!(replicas_listed(&listed), [DR_ARN, "orders-local"]);
}

/// Sends `kill -SIG pid` (to stall and resume moto).
fn signal(signal: &str, pid: u32) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {signal} {pid}");
}

/// Resumes a stopped moto even when the test fails half-way.
struct Resume(u32);

impl Drop for Resume {
    fn drop(&mut self) {
        signal("-CONT", self.0);
    }
}

#[tokio::test]
async fn promotion_shows_modifying_then_a_standalone_instance() {
    let delay = Duration::from_millis(3000);
    let emu = Emulator::start_with(EmulatorOptions {
        promotion_delay: delay,
        ..EmulatorOptions::default()
    })
    .await
    .unwrap();
    let (proxy, moto) = (emu.endpoint(), emu.moto_endpoint());
    primary_with_replicas(&proxy).await;
    let before = describe(&proxy, "us-west-2", "orders-dr").await;
    assert_eq!(
        before.field("DBInstanceStatus").as_deref(),
        Some("available")
    );

    let promoted_at = Instant::now();
    let promoted = promote(&proxy, "us-west-2", "orders-dr").await;
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    assert_eq!(
        promoted.field("DBInstanceStatus").as_deref(),
        Some("modifying")
    );

    // During the delay: modifying, still a replica of its source, still listed by it.
    let during = describe(&proxy, "us-west-2", "orders-dr").await;
    assert_eq!(
        during.field("DBInstanceStatus").as_deref(),
        Some("modifying")
    );
    assert_eq!(
        during
            .field("ReadReplicaSourceDBInstanceIdentifier")
            .as_deref(),
        Some(SOURCE_ARN)
    );
    assert_eq!(
        during.headers["content-length"].to_str().unwrap(),
        during.body.len().to_string()
    );
    let source = describe(&proxy, "us-east-1", "orders").await;
    assert_eq!(replicas_listed(&source), [DR_ARN, "orders-local"]);
    let progress = emu.control().promotions();
    assert_eq!(progress.len(), 1);
    assert_eq!(
        (progress[0].region.as_str(), progress[0].instance.as_str()),
        ("us-west-2", "orders-dr")
    );
    assert!(!progress[0].complete);
    assert!(!emu.control().is_promoted("us-west-2", "orders-dr"));
    assert!(
        promoted_at.elapsed() < delay,
        "the checks above must run within the delay"
    );

    // After it: available, no source; the source (another region) no longer lists it, but
    // still lists its other replica.
    tokio::time::sleep(delay.saturating_sub(promoted_at.elapsed()) + Duration::from_millis(100))
        .await;
    let after = describe(&proxy, "us-west-2", "orders-dr").await;
    assert_eq!(
        after.field("DBInstanceStatus").as_deref(),
        Some("available")
    );
    assert!(
        !after.has("ReadReplicaSourceDBInstanceIdentifier"),
        "{}",
        after.body
    );
    let source = describe(&proxy, "us-east-1", "orders").await;
    assert_eq!(replicas_listed(&source), ["orders-local"]);
    // Listing every instance of the region is rewritten the same way.
    let all = rds(&proxy, "us-east-1", "DescribeDBInstances", &[]).await;
    assert_eq!(all.status, 200);
    assert_eq!(
        fields(&all.body, "ReadReplicaDBInstanceIdentifier"),
        ["orders-local"]
    );
    assert_eq!(
        fields(&all.body, "ReadReplicaSourceDBInstanceIdentifier"),
        ["orders"]
    );
    assert!(emu.control().is_promoted("us-west-2", "orders-dr"));
    assert!(emu.control().promotions()[0].complete);

    // moto itself still shows the replica: the proxy did all of the above.
    let raw = describe(&moto, "us-west-2", "orders-dr").await;
    assert_eq!(
        raw.field("ReadReplicaSourceDBInstanceIdentifier")
            .as_deref(),
        Some(SOURCE_ARN)
    );
    assert_eq!(
        replicas_listed(&describe(&moto, "us-east-1", "orders").await).len(),
        2
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn repeated_or_wrong_promotion_is_refused_without_reaching_moto() {
    let emu = Emulator::start().await.unwrap();
    let (proxy, moto) = (emu.endpoint(), emu.moto_endpoint());
    create_instance(&proxy, "us-east-1", "billing").await;
    create_replica(&proxy, "us-east-1", "billing-r", "billing").await;

    // Delay 0: the promotion completes at once.
    let first = promote(&proxy, "us-east-1", "billing-r").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        first.field("DBInstanceStatus").as_deref(),
        Some("available")
    );
    assert!(!first.has("ReadReplicaSourceDBInstanceIdentifier"));
    assert!(replicas_listed(&describe(&proxy, "us-east-1", "billing").await).is_empty());

    // Again: InvalidDBInstanceState, as AWS answers.
    let again = promote(&proxy, "us-east-1", "billing-r").await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert_eq!(
        again.field("Code").as_deref(),
        Some("InvalidDBInstanceState")
    );
    assert_eq!(
        again.field("Message").as_deref(),
        Some("DB Instance is not a read replica.")
    );
    assert_eq!(again.field("Type").as_deref(), Some("Sender"));
    assert_eq!(again.headers["x-pilotlight-emulated"], "rds-promotion");

    // ...answered by the proxy alone: with moto stopped, the refusal still arrives at once.
    let pid = emu.moto().pid();
    signal("-STOP", pid);
    let resume = Resume(pid);
    let stalled = rds_with_timeout(
        &proxy,
        "us-east-1",
        "PromoteReadReplica",
        &[("DBInstanceIdentifier", "billing-r")],
        Duration::from_secs(3),
    )
    .await
    .expect("answered without moto");
    assert_eq!(stalled.status, 400);
    drop(resume);

    // moto on its own accepts a promotion of the source (never a replica); the proxy refuses it.
    let direct = promote(&moto, "us-east-1", "billing").await;
    assert_eq!(direct.status, 200, "{}", direct.body);
    let wrong = promote(&proxy, "us-east-1", "billing").await;
    assert_eq!(wrong.status, 400);
    assert_eq!(
        wrong.field("Code").as_deref(),
        Some("InvalidDBInstanceState")
    );
    // An unknown instance: DBInstanceNotFound, as AWS answers (moto alone fails with a 500).
    let unknown = promote(&proxy, "us-east-1", "ghost").await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(unknown.field("Code").as_deref(), Some("DBInstanceNotFound"));
    assert_eq!(promote(&moto, "us-east-1", "ghost").await.status, 500);

    // Every attempt is counted, refused ones included.
    assert_eq!(
        emu.stats()
            .request_count("rds", "us-east-1", "PromoteReadReplica"),
        5
    );
    assert_eq!(emu.control().promotions().len(), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn deleting_a_promoted_instance_forgets_it() {
    let emu = Emulator::start().await.unwrap();
    let proxy = emu.endpoint();
    create_instance(&proxy, "us-east-1", "ledger").await;
    create_replica(&proxy, "us-east-1", "ledger-r", "ledger").await;
    assert_eq!(promote(&proxy, "us-east-1", "ledger-r").await.status, 200);
    assert!(emu.control().is_promoted("us-east-1", "ledger-r"));

    let deleted = rds(
        &proxy,
        "us-east-1",
        "DeleteDBInstance",
        &[
            ("DBInstanceIdentifier", "ledger-r"),
            ("SkipFinalSnapshot", "true"),
        ],
    )
    .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(
        deleted.field("DBInstanceStatus").as_deref(),
        Some("deleting")
    );
    assert!(emu.control().promotions().is_empty());
    assert!(!emu.control().is_promoted("us-east-1", "ledger-r"));
    // moto keeps listing a promoted-then-deleted replica on its source; the proxy does not.
    assert!(replicas_listed(&describe(&proxy, "us-east-1", "ledger").await).is_empty());
    assert_eq!(
        replicas_listed(&describe(&emu.moto_endpoint(), "us-east-1", "ledger").await),
        ["ledger-r"]
    );

    // A new replica under the same name is a replica again (listed, promotable once).
    create_replica(&proxy, "us-east-1", "ledger-r", "ledger").await;
    let replica = describe(&proxy, "us-east-1", "ledger-r").await;
    assert_eq!(
        replica
            .field("ReadReplicaSourceDBInstanceIdentifier")
            .as_deref(),
        Some("ledger")
    );
    assert!(
        replicas_listed(&describe(&proxy, "us-east-1", "ledger").await)
            .contains(&"ledger-r".to_owned())
    );
    assert_eq!(promote(&proxy, "us-east-1", "ledger-r").await.status, 200);
    assert_eq!(promote(&proxy, "us-east-1", "ledger-r").await.status, 400);
    emu.shutdown().await;
}

#[tokio::test]
async fn promotion_delay_is_settable_at_runtime() {
    let emu = Emulator::start().await.unwrap();
    let proxy = emu.endpoint();
    let settings = format!("{proxy}/__emulator/settings");
    let http = client(Duration::from_secs(10));
    let current: Value = http
        .get(&settings)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current, json!({"promotion_delay_ms": 0}));

    let put = http
        .put(&settings)
        .body(r#"{"promotion_delay_ms": 60000}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(
        put.json::<Value>().await.unwrap(),
        json!({"promotion_delay_ms": 60000})
    );
    assert_eq!(emu.control().promotion_delay(), Duration::from_secs(60));

    create_instance(&proxy, "us-east-1", "a").await;
    create_replica(&proxy, "us-east-1", "a-slow", "a").await;
    create_replica(&proxy, "us-east-1", "a-fast", "a").await;
    assert_eq!(promote(&proxy, "us-east-1", "a-slow").await.status, 200);
    let slow = describe(&proxy, "us-east-1", "a-slow").await;
    assert_eq!(slow.field("DBInstanceStatus").as_deref(), Some("modifying"));
    assert!(slow.has("ReadReplicaSourceDBInstanceIdentifier"));
    // A promotion under way is still refused a second time.
    assert_eq!(promote(&proxy, "us-east-1", "a-slow").await.status, 400);

    // Back to 0 from Rust: the next promotion completes at once, the earlier one keeps its delay.
    emu.control().set_promotion_delay(Duration::ZERO).unwrap();
    assert_eq!(promote(&proxy, "us-east-1", "a-fast").await.status, 200);
    let fast = describe(&proxy, "us-east-1", "a-fast").await;
    assert_eq!(fast.field("DBInstanceStatus").as_deref(), Some("available"));
    assert!(!fast.has("ReadReplicaSourceDBInstanceIdentifier"));
    let slow = describe(&proxy, "us-east-1", "a-slow").await;
    assert_eq!(slow.field("DBInstanceStatus").as_deref(), Some("modifying"));
    assert_eq!(
        replicas_listed(&describe(&proxy, "us-east-1", "a").await),
        ["a-slow"]
    );
    let listed: Value = http
        .get(format!("{proxy}/__emulator/promotions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["instance"], "a-fast");
    assert_eq!(listed[0]["complete"], true);
    assert_eq!(listed[1]["instance"], "a-slow");
    assert_eq!(listed[1]["complete"], false);
    assert!(listed[1]["remaining_ms"].as_u64().unwrap() > 50_000);

    // Bad settings are refused and change nothing.
    for body in [
        r#"{"promotion_delay_ms": 3600001}"#,
        r#"{"promotion_delay": 5}"#,
        r#"{"promotion_delay_ms": "5"}"#,
    ] {
        let bad = http.put(&settings).body(body).send().await.unwrap();
        assert_eq!(bad.status(), 400, "{body}");
        let reason: Value = bad.json().await.unwrap();
        assert!(reason["error"].is_string(), "{body}");
    }
    assert_eq!(emu.control().promotion_delay(), Duration::ZERO);
    assert!(matches!(
        emu.control().set_promotion_delay(Duration::from_secs(7200)),
        Err(EmulatorError::InvalidSetting(_))
    ));

    // moto reset through the proxy forgets the promotions.
    let reset = http
        .post(format!("{proxy}/moto-api/reset"))
        .send()
        .await
        .unwrap();
    assert!(reset.status().is_success());
    assert!(emu.control().promotions().is_empty());
    emu.shutdown().await;
}

#[tokio::test]
async fn an_invalid_promotion_delay_is_refused_at_start() {
    let err = Emulator::start_with(EmulatorOptions {
        promotion_delay: Duration::from_secs(3601),
        ..EmulatorOptions::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(err, EmulatorError::InvalidSetting(_)), "{err}");
    assert!(!err.is_retryable());
}

const ROUTE53_NS: &str = "https://route53.amazonaws.com/doc/2013-04-01/";

/// A Route 53 REST call with an XML body.
async fn route53(endpoint: &str, method: reqwest::Method, path: &str, body: String) -> Answer {
    let response = client(Duration::from_secs(30))
        .request(method, format!("{endpoint}/2013-04-01{path}"))
        .header("authorization", auth("us-east-1", "route53"))
        .header("content-type", "application/xml")
        .body(body)
        .send()
        .await
        .unwrap();
    answer(response).await
}

async fn create_health_check(endpoint: &str, reference: &str, inverted: bool) -> String {
    let body = format!(
        "<CreateHealthCheckRequest xmlns=\"{ROUTE53_NS}\"><CallerReference>{reference}</CallerReference>\
         <HealthCheckConfig><IPAddress>192.0.2.10</IPAddress><Port>443</Port><Type>HTTPS</Type>\
         <ResourcePath>/health</ResourcePath><FullyQualifiedDomainName>app.example.com</FullyQualifiedDomainName>\
         <Inverted>{inverted}</Inverted></HealthCheckConfig></CreateHealthCheckRequest>"
    );
    let created = route53(endpoint, reqwest::Method::POST, "/healthcheck", body).await;
    assert!(
        created.status == 200 || created.status == 201,
        "{}",
        created.body
    );
    created.field("Id").expect("health check id")
}

/// Every checker's status text.
async fn statuses(endpoint: &str, id: &str) -> Vec<String> {
    let status = route53(
        endpoint,
        reqwest::Method::GET,
        &format!("/healthcheck/{id}/status"),
        String::new(),
    )
    .await;
    assert_eq!(status.status, 200, "{}", status.body);
    let found = fields(&status.body, "Status");
    assert!(!found.is_empty(), "{}", status.body);
    found
}

fn all_fail(statuses: &[String]) -> bool {
    statuses
        .iter()
        .all(|s| s.starts_with("Failure: HTTP Status Code 503"))
}

fn all_succeed(statuses: &[String]) -> bool {
    statuses.iter().all(|s| s.starts_with("Success"))
}

#[tokio::test]
async fn a_health_check_set_unhealthy_reports_failures() {
    let emu = Emulator::start().await.unwrap();
    let (proxy, moto) = (emu.endpoint(), emu.moto_endpoint());
    let id = create_health_check(&proxy, "hc-primary", false).await;
    let other = create_health_check(&proxy, "hc-other", false).await;
    assert!(all_succeed(&statuses(&proxy, &id).await));

    let http = client(Duration::from_secs(10));
    let control = format!("{proxy}/__emulator/health-checks");
    let put = http
        .put(format!("{control}/{id}"))
        .body(r#"{"healthy": false}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(
        put.json::<Value>().await.unwrap(),
        json!({"id": id, "healthy": false})
    );
    let down = statuses(&proxy, &id).await;
    assert!(all_fail(&down), "{down:?}");
    // Only that health check, and only through the proxy.
    assert!(all_succeed(&statuses(&proxy, &other).await));
    assert!(all_succeed(&statuses(&moto, &id).await));
    assert_eq!(emu.control().health_checks().get(&id), Some(&false));
    let listed: Value = http
        .get(&control)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!({ id.clone(): {"healthy": false} }));

    // From Rust: healthy again; then cleared (moto's report).
    emu.control().set_health_check(id.clone(), true);
    assert!(all_succeed(&statuses(&proxy, &id).await));
    emu.control().set_health_check(id.clone(), false);
    assert!(all_fail(&statuses(&proxy, &id).await));
    let cleared: Value = http
        .delete(format!("{control}/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["removed"], true);
    assert!(all_succeed(&statuses(&proxy, &id).await));

    // Bad bodies are refused.
    for body in ["", r#"{"healthy": "no"}"#, r#"{"healthy": false, "x": 1}"#] {
        let bad = http
            .put(format!("{control}/{id}"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400, "{body:?}");
    }
    assert!(emu.control().health_checks().is_empty());

    // Deleting the health check through the proxy forgets its setting.
    emu.control().set_health_check(other.clone(), false);
    let deleted = route53(
        &proxy,
        reqwest::Method::DELETE,
        &format!("/healthcheck/{other}"),
        String::new(),
    )
    .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert!(emu.control().health_checks().is_empty());
    assert_eq!(
        emu.stats()
            .request_count("route53", "us-east-1", "GetHealthCheckStatus"),
        6
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn an_inverted_health_check_reports_the_opposite() {
    let emu = Emulator::start().await.unwrap();
    let proxy = emu.endpoint();
    let id = create_health_check(&proxy, "hc-inv", false).await;
    assert!(all_succeed(&statuses(&proxy, &id).await));

    // UpdateHealthCheck with Inverted: moto stores it and returns it in GetHealthCheck.
    let update = format!(
        "<UpdateHealthCheckRequest xmlns=\"{ROUTE53_NS}\"><Inverted>true</Inverted></UpdateHealthCheckRequest>"
    );
    let updated = route53(
        &proxy,
        reqwest::Method::POST,
        &format!("/healthcheck/{id}"),
        update,
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    let got = route53(
        &proxy,
        reqwest::Method::GET,
        &format!("/healthcheck/{id}"),
        String::new(),
    )
    .await;
    assert_eq!(
        got.field("Inverted").as_deref(),
        Some("true"),
        "{}",
        got.body
    );

    // Healthy endpoint, inverted: failure; unhealthy endpoint, inverted: success.
    assert!(all_fail(&statuses(&proxy, &id).await));
    emu.control().set_health_check(id.clone(), false);
    assert!(all_succeed(&statuses(&proxy, &id).await));
    emu.control().set_health_check(id.clone(), true);
    assert!(all_fail(&statuses(&proxy, &id).await));

    // Created inverted: the same.
    let born_inverted = create_health_check(&proxy, "hc-inv-2", true).await;
    assert!(all_fail(&statuses(&proxy, &born_inverted).await));
    emu.shutdown().await;
}

/// Runs `tests/py/sdk_check.py` (boto3) against the proxy and parses its JSON.
fn boto3(endpoint: &str, phase: &str) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/sdk_check.py");
    let output = std::process::Command::new("python3")
        .args([script, endpoint, phase])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("python3 runs (moto needs it too)");
    assert!(
        output.status.success(),
        "sdk_check.py {phase} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn a_real_sdk_sees_promotion_and_health() {
    let emu = Emulator::start_with(EmulatorOptions {
        promotion_delay: Duration::from_secs(60),
        ..EmulatorOptions::default()
    })
    .await
    .unwrap();
    let endpoint = emu.endpoint();
    let seen = tokio::task::spawn_blocking(move || boto3(&endpoint, "promotion_and_health"))
        .await
        .unwrap();
    assert_eq!(
        seen,
        json!({
            "promote_status": "modifying",
            "during": {"status": "modifying", "source": SOURCE_ARN},
            "again": {"code": "InvalidDBInstanceState", "message": "DB Instance is not a read replica.", "http": 400},
            "after": {"status": "available", "source": null},
            // orders-dr is still promoting (60 s), orders-dr2 is done.
            "source_lists": [DR_ARN],
            "health_default": "Success",
            "health_unhealthy": "Failure",
            "health_inverted": "Success",
        })
    );
    emu.shutdown().await;
}
