//! End-to-end tests of the emulator proxy against a real moto server, driven with raw HTTP
//! requests shaped like the AWS SDK's (moto and the proxy read the SigV4 scope, not the
//! signature).

use std::time::{Duration, Instant};

use pilotlight_testkit::emulator::{
    Emulator, EmulatorError, EmulatorOptions, FaultAction, FaultRule, GLOBAL_TABLE_VERSION,
};
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
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
    body: bytes::Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap(),
    }
}

/// A JSON-protocol call (`X-Amz-Target: {prefix}.{op}`).
async fn json_call(
    endpoint: &str,
    service: &str,
    region: &str,
    target: &str,
    content_type: &str,
    body: Value,
) -> Answer {
    let response = client()
        .post(format!("{endpoint}/"))
        .header("authorization", auth(region, service))
        .header("x-amz-target", target)
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    answer(response).await
}

async fn ddb(endpoint: &str, region: &str, op: &str, body: Value) -> Answer {
    json_call(
        endpoint,
        "dynamodb",
        region,
        &format!("DynamoDB_20120810.{op}"),
        "application/x-amz-json-1.0",
        body,
    )
    .await
}

/// A query-protocol call (form body with `Action=`).
async fn query(endpoint: &str, service: &str, region: &str, form: &str) -> Answer {
    let response = client()
        .post(format!("{endpoint}/"))
        .header("authorization", auth(region, service))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(form.to_owned())
        .send()
        .await
        .unwrap();
    answer(response).await
}

/// A REST call (S3, Route 53).
async fn rest(
    endpoint: &str,
    method: reqwest::Method,
    service: &str,
    region: &str,
    path: &str,
    body: Vec<u8>,
) -> Answer {
    let response = client()
        .request(method, format!("{endpoint}{path}"))
        .header("authorization", auth(region, service))
        .body(body)
        .send()
        .await
        .unwrap();
    answer(response).await
}

fn table_spec(name: &str) -> Value {
    json!({
        "TableName": name,
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"}
        ],
        "BillingMode": "PAY_PER_REQUEST"
    })
}

async fn table_names(endpoint: &str, region: &str) -> Vec<String> {
    let listed = ddb(endpoint, region, "ListTables", json!({})).await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    serde_json::from_value(listed.json()["TableNames"].clone()).unwrap()
}

fn error_type(a: &Answer) -> String {
    a.json()["__type"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn forwards_requests_and_streams_bodies_unchanged() {
    let emu = Emulator::start().await.unwrap();
    let created = ddb(
        &emu.endpoint(),
        "us-east-1",
        "CreateTable",
        table_spec("orders"),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text());
    assert_eq!(created.json()["TableDescription"]["TableName"], "orders");
    // moto itself holds it, in the region of the credential scope only.
    assert_eq!(
        table_names(&emu.moto_endpoint(), "us-east-1").await,
        ["orders"]
    );
    assert!(table_names(&emu.moto_endpoint(), "us-west-2")
        .await
        .is_empty());

    // A large opaque S3 body goes through the streaming path and back byte for byte.
    let object: Vec<u8> = (0..(1 << 20)).map(|i| (i * 7 % 251) as u8).collect();
    let bucket = rest(
        &emu.endpoint(),
        reqwest::Method::PUT,
        "s3",
        "us-east-1",
        "/artifacts",
        vec![],
    )
    .await;
    assert_eq!(bucket.status, 200, "{}", bucket.text());
    let put = rest(
        &emu.endpoint(),
        reqwest::Method::PUT,
        "s3",
        "us-east-1",
        "/artifacts/dir/blob.bin",
        object.clone(),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text());
    for endpoint in [emu.moto_endpoint(), emu.endpoint()] {
        let got = rest(
            &endpoint,
            reqwest::Method::GET,
            "s3",
            "us-east-1",
            "/artifacts/dir/blob.bin",
            vec![],
        )
        .await;
        assert_eq!(got.status, 200);
        assert!(
            got.body.as_ref() == object.as_slice(),
            "object differs via {endpoint}"
        );
    }

    let stats = emu.stats();
    assert_eq!(
        stats.request_count("dynamodb", "us-east-1", "CreateTable"),
        1
    );
    assert_eq!(stats.request_count("s3", "us-east-1", "CreateBucket"), 1);
    assert_eq!(stats.request_count("s3", "us-east-1", "PutObject"), 1);
    assert_eq!(stats.request_count("s3", "us-east-1", "GetObject"), 1);
    // Requests sent directly to moto are not seen by the proxy.
    assert_eq!(stats.total_requests(), 4);
    assert_eq!(stats.total_faults(), 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn replica_updates_create_describe_and_break() {
    let emu = Emulator::start().await.unwrap();
    let (proxy, moto) = (emu.endpoint(), emu.moto_endpoint());
    let created = ddb(&proxy, "us-east-1", "CreateTable", table_spec("accounts")).await;
    assert_eq!(created.status, 200, "{}", created.text());

    let update = ddb(
        &proxy,
        "us-east-1",
        "UpdateTable",
        json!({"TableName": "accounts", "ReplicaUpdates": [{"Create": {"RegionName": "us-west-2"}}]}),
    )
    .await;
    assert_eq!(update.status, 200, "{}", update.text());
    assert_eq!(
        update.json()["TableDescription"]["Replicas"],
        json!([{"RegionName": "us-west-2", "ReplicaStatus": "ACTIVE"}])
    );

    // The DR table exists in moto, with the same key schema.
    let dr = ddb(
        &moto,
        "us-west-2",
        "DescribeTable",
        json!({"TableName": "accounts"}),
    )
    .await;
    assert_eq!(dr.status, 200, "{}", dr.text());
    assert_eq!(
        dr.json()["Table"]["KeySchema"],
        table_spec("accounts")["KeySchema"]
    );
    assert_eq!(
        dr.json()["Table"]["BillingModeSummary"]["BillingMode"],
        "PAY_PER_REQUEST"
    );

    // moto itself lists no replicas; the proxy does, from either region.
    let raw = ddb(
        &moto,
        "us-east-1",
        "DescribeTable",
        json!({"TableName": "accounts"}),
    )
    .await;
    assert!(raw.json()["Table"].get("Replicas").is_none());
    let primary = ddb(
        &proxy,
        "us-east-1",
        "DescribeTable",
        json!({"TableName": "accounts"}),
    )
    .await;
    assert_eq!(primary.status, 200);
    assert_eq!(
        primary.json()["Table"]["Replicas"],
        json!([{"RegionName": "us-west-2", "ReplicaStatus": "ACTIVE"}])
    );
    assert_eq!(
        primary.json()["Table"]["GlobalTableVersion"],
        GLOBAL_TABLE_VERSION
    );
    assert!(primary.headers.get("x-amz-crc32").is_none());
    assert_eq!(
        primary.headers["content-length"].to_str().unwrap(),
        primary.body.len().to_string()
    );
    let secondary = ddb(
        &proxy,
        "us-west-2",
        "DescribeTable",
        json!({"TableName": "accounts"}),
    )
    .await;
    assert_eq!(
        secondary.json()["Table"]["Replicas"],
        json!([{"RegionName": "us-east-1", "ReplicaStatus": "ACTIVE"}])
    );
    assert_eq!(
        emu.global_tables()["accounts"],
        ["us-east-1".to_owned(), "us-west-2".to_owned()].into()
    );

    // Break DR behind the proxy's back: the replica disappears.
    let deleted = ddb(
        &moto,
        "us-west-2",
        "DeleteTable",
        json!({"TableName": "accounts"}),
    )
    .await;
    assert_eq!(deleted.status, 200);
    let after = ddb(
        &proxy,
        "us-east-1",
        "DescribeTable",
        json!({"TableName": "accounts"}),
    )
    .await;
    assert_eq!(after.status, 200);
    assert_eq!(after.json()["Table"]["Replicas"], json!([]));
    emu.shutdown().await;
}

#[tokio::test]
async fn replica_delete_removes_the_table_and_bad_requests_are_refused() {
    let emu = Emulator::start().await.unwrap();
    let (proxy, moto) = (emu.endpoint(), emu.moto_endpoint());
    ddb(&proxy, "us-east-1", "CreateTable", table_spec("ledger")).await;
    let create =
        json!({"TableName": "ledger", "ReplicaUpdates": [{"Create": {"RegionName": "eu-west-1"}}]});
    assert_eq!(
        ddb(&proxy, "us-east-1", "UpdateTable", create).await.status,
        200
    );
    assert_eq!(table_names(&moto, "eu-west-1").await, ["ledger"]);

    let delete =
        json!({"TableName": "ledger", "ReplicaUpdates": [{"Delete": {"RegionName": "eu-west-1"}}]});
    let answer = ddb(&proxy, "us-east-1", "UpdateTable", delete).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(table_names(&moto, "eu-west-1").await.is_empty());
    assert_eq!(
        emu.global_tables()["ledger"],
        ["us-east-1".to_owned()].into()
    );
    let described = ddb(
        &proxy,
        "us-east-1",
        "DescribeTable",
        json!({"TableName": "ledger"}),
    )
    .await;
    assert_eq!(described.json()["Table"]["Replicas"], json!([]));

    // A replica of a table that does not exist: moto's ResourceNotFoundException, nothing created.
    let missing =
        json!({"TableName": "ghost", "ReplicaUpdates": [{"Create": {"RegionName": "us-west-2"}}]});
    let answer = ddb(&proxy, "us-east-1", "UpdateTable", missing).await;
    assert_eq!(answer.status, 400);
    assert!(error_type(&answer).ends_with("ResourceNotFoundException"));
    assert!(table_names(&moto, "us-west-2").await.is_empty());
    // A replica in the table's own region is a validation error.
    let same =
        json!({"TableName": "ledger", "ReplicaUpdates": [{"Create": {"RegionName": "us-east-1"}}]});
    let answer = ddb(&proxy, "us-east-1", "UpdateTable", same).await;
    assert_eq!(answer.status, 400);
    assert!(error_type(&answer).ends_with("ValidationException"));
    emu.shutdown().await;
}

#[tokio::test]
async fn throttle_hits_only_the_matched_service_and_region() {
    let emu = Emulator::start().await.unwrap();
    emu.faults()
        .add(
            FaultRule::new(FaultAction::Throttle)
                .for_service("dynamodb")
                .in_region("us-east-1"),
        )
        .unwrap();
    let e = emu.endpoint();
    let hit = ddb(&e, "us-east-1", "ListTables", json!({})).await;
    assert_eq!(hit.status, 400);
    assert_eq!(
        error_type(&hit),
        "com.amazonaws.dynamodb.v20120810#ThrottlingException"
    );
    assert_eq!(hit.json()["message"], "Rate exceeded");
    assert_eq!(hit.headers["x-pilotlight-fault"], "throttle");

    assert_eq!(
        ddb(&e, "us-west-2", "ListTables", json!({})).await.status,
        200
    );
    let kms = json_call(
        &e,
        "kms",
        "us-east-1",
        "TrentService.ListKeys",
        "application/x-amz-json-1.1",
        json!({}),
    )
    .await;
    assert_eq!(kms.status, 200, "{}", kms.text());

    let stats = emu.stats();
    assert_eq!(stats.fault_count("throttle"), 1);
    assert_eq!(
        stats.request_count("dynamodb", "us-east-1", "ListTables"),
        1
    );
    assert_eq!(
        stats.request_count("dynamodb", "us-west-2", "ListTables"),
        1
    );
    assert_eq!(stats.request_count("kms", "us-east-1", "ListKeys"), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn injected_errors_have_each_protocols_shape() {
    let emu = Emulator::start().await.unwrap();
    let e = emu.endpoint();
    emu.faults()
        .add(FaultRule::new(FaultAction::Throttle))
        .unwrap();

    let kms = json_call(
        &e,
        "kms",
        "us-east-1",
        "TrentService.ListKeys",
        "application/x-amz-json-1.1",
        json!({}),
    )
    .await;
    assert_eq!(
        (kms.status, error_type(&kms).as_str()),
        (400, "ThrottlingException")
    );
    assert_eq!(kms.headers["content-type"], "application/x-amz-json-1.1");

    for (service, action) in [
        ("rds", "DescribeDBInstances&Version=2014-10-31"),
        (
            "autoscaling",
            "DescribeAutoScalingGroups&Version=2011-01-01",
        ),
        ("monitoring", "DescribeAlarms&Version=2010-08-01"),
    ] {
        let a = query(&e, service, "us-east-1", &format!("Action={action}")).await;
        assert_eq!(a.status, 400, "{service}");
        let text = a.text();
        assert!(
            text.starts_with("<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>")
                && text.contains("<Message>Rate exceeded</Message>"),
            "{service}: {text}"
        );
    }
    let ec2 = query(
        &e,
        "ec2",
        "us-east-1",
        "Action=DescribeInstances&Version=2016-11-15",
    )
    .await;
    assert_eq!(ec2.status, 503);
    assert!(ec2
        .text()
        .contains("<Response><Errors><Error><Code>RequestLimitExceeded</Code>"));

    let r53 = rest(
        &e,
        reqwest::Method::GET,
        "route53",
        "us-east-1",
        "/2013-04-01/hostedzone",
        vec![],
    )
    .await;
    assert_eq!(r53.status, 400);
    assert!(r53.text().contains("<Code>Throttling</Code>"));
    let s3 = rest(&e, reqwest::Method::GET, "s3", "us-east-1", "/", vec![]).await;
    assert_eq!(s3.status, 503);
    assert!(s3.text().contains(
        "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>"
    ));

    // Server errors: HTTP 500 with the internal-failure code of each protocol.
    emu.faults()
        .set(vec![FaultRule::new(FaultAction::ServerError)])
        .unwrap();
    let d = ddb(&e, "us-east-1", "ListTables", json!({})).await;
    assert_eq!(d.status, 500);
    assert!(error_type(&d).ends_with("#InternalServerError"));
    let rds = query(&e, "rds", "us-east-1", "Action=DescribeDBInstances").await;
    assert_eq!(rds.status, 500);
    assert!(rds.text().contains("<Code>InternalFailure</Code>"));
    let s3 = rest(&e, reqwest::Method::GET, "s3", "us-east-1", "/", vec![]).await;
    assert_eq!(s3.status, 500);
    assert!(s3.text().contains("<Code>InternalError</Code>"));

    let stats = emu.stats();
    assert_eq!(stats.fault_count("throttle"), 7);
    assert_eq!(stats.fault_count("server_error"), 3);
    assert_eq!(
        stats.request_count("monitoring", "us-east-1", "DescribeAlarms"),
        1
    );
    assert_eq!(
        stats.request_count("route53", "us-east-1", "ListHostedZones"),
        1
    );
    assert_eq!(
        stats.request_count("ec2", "us-east-1", "DescribeInstances"),
        1
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn remaining_counts_down_to_zero() {
    let emu = Emulator::start().await.unwrap();
    emu.faults()
        .add(
            FaultRule::new(FaultAction::Throttle)
                .for_service("dynamodb")
                .times(2),
        )
        .unwrap();
    let statuses: Vec<u16> = {
        let mut s = Vec::new();
        for _ in 0..4 {
            s.push(
                ddb(&emu.endpoint(), "us-east-1", "ListTables", json!({}))
                    .await
                    .status,
            );
        }
        s
    };
    assert_eq!(statuses, [400, 400, 200, 200]);
    assert_eq!(emu.faults().rules()[0].remaining, Some(0));
    assert_eq!(emu.stats().fault_count("throttle"), 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn seeded_probability_gives_the_expected_share_repeatably() {
    let emu = Emulator::start_with(EmulatorOptions {
        seed: 42,
        rules: vec![FaultRule::new(FaultAction::Throttle)
            .for_service("dynamodb")
            .with_probability(0.3)],
        ..EmulatorOptions::default()
    })
    .await
    .unwrap();
    let mut pattern = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let a = ddb(&emu.endpoint(), "us-east-1", "ListTables", json!({})).await;
        assert!(a.status == 200 || a.status == 400, "{}", a.status);
        pattern.push(a.status == 400);
    }
    let throttled = pattern.iter().filter(|t| **t).count();
    let share = throttled as f64 / 1000.0;
    assert!((0.25..0.35).contains(&share), "throttled share {share}");
    assert_eq!(emu.stats().fault_count("throttle"), throttled as u64);

    // Same seed, same rules, same requests: the same faults.
    emu.faults().reseed(42);
    for (i, expected) in pattern.iter().take(50).enumerate() {
        let a = ddb(&emu.endpoint(), "us-east-1", "ListTables", json!({})).await;
        assert_eq!(a.status == 400, *expected, "request {i}");
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn region_outage_answers_503_without_forwarding() {
    let emu = Emulator::start().await.unwrap();
    emu.faults()
        .add(FaultRule::region_outage("us-east-1"))
        .unwrap();
    let (proxy, moto) = (emu.endpoint(), emu.moto_endpoint());

    let down = ddb(&proxy, "us-east-1", "CreateTable", table_spec("sessions")).await;
    assert_eq!(down.status, 503);
    assert!(error_type(&down).ends_with("ServiceUnavailable"));
    assert!(
        table_names(&moto, "us-east-1").await.is_empty(),
        "the request must not reach moto"
    );
    let rds = query(&proxy, "rds", "us-east-1", "Action=DescribeDBInstances").await;
    assert_eq!(rds.status, 503);
    assert!(rds.text().contains("<Code>ServiceUnavailable</Code>"));
    let s3 = rest(&proxy, reqwest::Method::GET, "s3", "us-east-1", "/", vec![]).await;
    assert_eq!(s3.status, 503);

    // The other region is fine.
    let up = ddb(&proxy, "us-west-2", "CreateTable", table_spec("sessions")).await;
    assert_eq!(up.status, 200, "{}", up.text());
    assert_eq!(emu.stats().fault_count("outage"), 3);

    // The region comes back.
    emu.faults().clear();
    let back = ddb(&proxy, "us-east-1", "CreateTable", table_spec("sessions")).await;
    assert_eq!(back.status, 200, "{}", back.text());
    emu.shutdown().await;
}

#[tokio::test]
async fn delay_adds_latency_and_combines_with_other_faults() {
    let emu = Emulator::start().await.unwrap();
    emu.faults()
        .set(vec![
            FaultRule::new(FaultAction::Delay { ms: 300 }).for_service("dynamodb"),
            FaultRule::new(FaultAction::Throttle).for_operation("DescribeTable"),
        ])
        .unwrap();
    let started = Instant::now();
    let listed = ddb(&emu.endpoint(), "us-east-1", "ListTables", json!({})).await;
    assert_eq!(listed.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    let started = Instant::now();
    let throttled = ddb(
        &emu.endpoint(),
        "us-east-1",
        "DescribeTable",
        json!({"TableName": "x"}),
    )
    .await;
    assert_eq!(throttled.status, 400);
    assert!(started.elapsed() >= Duration::from_millis(300));

    let started = Instant::now();
    let kms = json_call(
        &emu.endpoint(),
        "kms",
        "us-east-1",
        "TrentService.ListKeys",
        "application/x-amz-json-1.1",
        json!({}),
    )
    .await;
    assert_eq!(kms.status, 200);
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_eq!(emu.stats().fault_count("delay"), 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn an_answer_delay_applies_the_request_before_answering() {
    let emu = Emulator::start().await.unwrap();
    emu.faults()
        .set(vec![FaultRule::new(FaultAction::DelayAnswer { ms: 1500 })
            .for_operation("CreateTable")
            .times(1)])
        .unwrap();
    let create = json!({
        "TableName": "held",
        "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST"
    });
    let endpoint = emu.endpoint();
    let started = Instant::now();
    let held =
        tokio::spawn(async move { ddb(&endpoint, "us-east-1", "CreateTable", create).await });
    // The table exists while its answer is still held.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!held.is_finished(), "the answer is held");
    let listed = ddb(&emu.endpoint(), "us-east-1", "ListTables", json!({})).await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.json()["TableNames"],
        json!(["held"]),
        "applied before the answer"
    );
    let answer = held.await.unwrap();
    assert_eq!(answer.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert_eq!(emu.stats().fault_count("delay_answer"), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn http_control_endpoint_drives_faults() {
    let emu = Emulator::start().await.unwrap();
    let control = format!("{}/__emulator/faults", emu.endpoint());
    let http = client();

    let posted = http
        .post(&control)
        .body(r#"[{"service":"dynamodb","region":"us-east-1","action":"throttle"}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    let posted: Value = posted.json().await.unwrap();
    assert_eq!(posted["rules"][0]["action"], "throttle");
    assert_eq!(posted["rules"][0]["probability"], 1.0);
    assert_eq!(emu.faults().rules().len(), 1);

    let hit = ddb(&emu.endpoint(), "us-east-1", "ListTables", json!({})).await;
    assert_eq!(hit.status, 400);

    let listed: Value = http
        .get(&control)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["rules"].as_array().unwrap().len(), 1);
    assert_eq!(listed["stats"]["faults"][0]["action"], "throttle");
    assert_eq!(listed["stats"]["faults"][0]["count"], 1);
    assert_eq!(listed["stats"]["requests"][0]["operation"], "ListTables");

    // Invalid rules are refused with a reason and change nothing.
    let bad = http
        .post(&control)
        .body(r#"{"action":"throttle","probability":2}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let reason: Value = bad.json().await.unwrap();
    assert!(reason["error"].as_str().unwrap().contains("probability"));
    let typo = http
        .post(&control)
        .body(r#"{"action":"throttle","regoin":"us-east-1"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(typo.status(), 400);
    assert_eq!(emu.faults().rules().len(), 1);

    // PUT replaces; DELETE with rules removes those; DELETE without a body clears.
    let put = http
        .put(&control)
        .body(r#"[{"region":"us-west-2","action":"outage"},{"action":{"delay":{"ms":10}}}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(
        ddb(&emu.endpoint(), "us-east-1", "ListTables", json!({}))
            .await
            .status,
        200
    );
    assert_eq!(
        ddb(&emu.endpoint(), "us-west-2", "ListTables", json!({}))
            .await
            .status,
        503
    );
    let removed: Value = http
        .delete(&control)
        .body(r#"{"region":"us-west-2","action":"outage"}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(removed["removed"], 1);
    assert_eq!(
        emu.faults().rules(),
        vec![FaultRule::new(FaultAction::Delay { ms: 10 })]
    );
    let cleared = http.delete(&control).send().await.unwrap();
    assert_eq!(cleared.status(), 200);
    assert!(emu.faults().rules().is_empty());

    let stats: Value = http
        .get(format!("{}/__emulator/stats", emu.endpoint()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats, serde_json::to_value(emu.stats()).unwrap());
    emu.shutdown().await;
}

#[tokio::test]
async fn start_on_uses_the_given_port_and_reports_a_busy_one() {
    let port = pilotlight_testkit::moto::free_port().unwrap();
    let emu = Emulator::start_on(port).await.unwrap();
    assert_eq!(emu.endpoint(), format!("http://127.0.0.1:{port}"));
    assert_ne!(emu.moto_endpoint(), emu.endpoint());
    assert_eq!(
        ddb(&emu.endpoint(), "us-east-1", "ListTables", json!({}))
            .await
            .status,
        200
    );

    let err = Emulator::start_on(port).await.unwrap_err();
    assert!(
        matches!(err, EmulatorError::Bind { port: p, .. } if p == port),
        "{err}"
    );
    assert!(err.is_retryable());
    emu.shutdown().await;
    // After shutdown nothing listens on the proxy port any more.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

/// Runs `tests/py/sdk_check.py` (boto3, a real AWS SDK) against the proxy and parses its JSON.
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
async fn a_real_sdk_sees_replicas_error_codes_and_retries() {
    let emu = Emulator::start().await.unwrap();
    let endpoint = emu.endpoint();

    let seen = tokio::task::spawn_blocking({
        let e = endpoint.clone();
        move || boto3(&e, "replicas")
    })
    .await
    .unwrap();
    assert_eq!(
        seen["replicas"],
        json!([{"RegionName": "us-west-2", "ReplicaStatus": "ACTIVE"}])
    );
    assert_eq!(seen["version"], GLOBAL_TABLE_VERSION);
    assert_eq!(
        seen["dr_replicas"],
        json!([{"RegionName": "us-east-1", "ReplicaStatus": "ACTIVE"}])
    );

    emu.faults()
        .set(vec![FaultRule::new(FaultAction::Throttle)])
        .unwrap();
    let codes = tokio::task::spawn_blocking({
        let e = endpoint.clone();
        move || boto3(&e, "codes")
    })
    .await
    .unwrap();
    assert_eq!(
        codes,
        json!({
            "dynamodb": "ThrottlingException",
            "kms": "ThrottlingException",
            "rds": "Throttling",
            "autoscaling": "Throttling",
            // botocore speaks awsJson1.0 to CloudWatch (aws-sdk-cloudwatch 1.99 speaks query,
            // covered by `injected_errors_have_each_protocols_shape`).
            "cloudwatch": "ThrottlingException",
            "ec2": "RequestLimitExceeded",
            "route53": "Throttling",
            "s3": "SlowDown",
        })
    );

    // Two throttles per service, then success: the SDK retried them (HTTP 400 + code only).
    emu.faults()
        .set(
            ["dynamodb", "rds", "route53"]
                .map(|s| {
                    FaultRule::new(FaultAction::Throttle)
                        .for_service(s)
                        .times(2)
                })
                .to_vec(),
        )
        .unwrap();
    emu.reset_stats();
    let retried = tokio::task::spawn_blocking(move || boto3(&endpoint, "retries"))
        .await
        .unwrap();
    assert_eq!(
        retried,
        json!({"dynamodb": "ok", "rds": "ok", "route53": "ok"})
    );
    let stats = emu.stats();
    assert_eq!(
        stats.request_count("dynamodb", "us-east-1", "ListTables"),
        3
    );
    assert_eq!(
        stats.request_count("rds", "us-east-1", "DescribeDBInstances"),
        3
    );
    assert_eq!(
        stats.request_count("route53", "us-east-1", "ListHostedZones"),
        3
    );
    assert_eq!(stats.fault_count("throttle"), 6);
    emu.shutdown().await;
}
