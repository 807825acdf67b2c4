//! The console's API route by route, in process (`tower::ServiceExt::oneshot` on the whole
//! router) with a real SQLite journal and executor and fakes for AWS: what each role may do,
//! what a refusal says, and the status snapshot following a run step by step.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use pilotlight_core::capability::{Actuator, Notification, Notifier, Observation, ReadinessFacts};
use pilotlight_core::journal::Journal;
use pilotlight_core::model::{EnvironmentConfig, ProbeConfig};
use pilotlight_core::plan::{build_plan, Action, Plan};
use pilotlight_core::readiness::facts::*;
use pilotlight_core::run::Event;
use pilotlight_core::runbook::Runbook;
use pilotlight_core::{CapabilityError, ErrorClass};
use pilotlight_drill::conduct::IsolatedTimings;
use pilotlight_drill::isolated::{Copy, CopyKind, DrillCopies};
use pilotlight_executor::{Capabilities, Executor, ExecutorSettings, SystemClock};
use pilotlight_server::access::Authenticator;
use pilotlight_server::auth::token_sha256;
use pilotlight_server::drills::DrillRunner;
use pilotlight_server::v1::{app, Api, ApiDeps};
use pilotlight_server::{Control, ControlDeps, ControlSettings, ProbeResult, ProbeRunner};
use pilotlight_store::SqliteJournal;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const ROLES: [&str; 4] = ["viewer", "operator", "approver", "admin"];

fn token(role: &str) -> String {
    format!("test-token-{role}")
}

fn env() -> EnvironmentConfig {
    env_with("")
}

/// The test environment with `extra` TOML appended.
fn env_with(extra: &str) -> EnvironmentConfig {
    let mut text = String::from(
        r#"
[environment]
name = "svc"
tier = "staging"
[regions]
primary = "us-east-1"
dr = "us-west-2"
[objectives]
rto = "15m"
rpo = "1m"
[access]
"#,
    );
    for role in ROLES {
        text.push_str(&format!(
            "[[access.tokens]]\nname = \"{role}-person\"\nrole = \"{role}\"\ntoken_sha256 = \"{}\"\n",
            token_sha256(&token(role))
        ));
    }
    text.push_str(extra);
    toml::from_str(&text).unwrap()
}

fn no(op: &str) -> CapabilityError {
    CapabilityError {
        class: ErrorClass::Terminal,
        service: "test".into(),
        region: "us-west-2".into(),
        operation: op.into(),
        code: None,
        message: "this test environment has no resources".into(),
        hint: "none".into(),
    }
}

/// No resources: nothing is ever asked of AWS; if it were, the answer is an error.
struct NoFacts;

#[async_trait::async_trait]
impl ReadinessFacts for NoFacts {
    async fn dynamodb(
        &self,
        _: &pilotlight_core::model::DynamoTable,
    ) -> Result<DynamoFacts, CapabilityError> {
        Err(no("dynamodb"))
    }
    async fn s3(
        &self,
        _: &pilotlight_core::model::S3BucketPair,
    ) -> Result<S3Facts, CapabilityError> {
        Err(no("s3"))
    }
    async fn kms(&self, _: &pilotlight_core::model::KmsKey) -> Result<KmsFacts, CapabilityError> {
        Err(no("kms"))
    }
    async fn rds(
        &self,
        _: &pilotlight_core::model::RdsReplica,
    ) -> Result<RdsFacts, CapabilityError> {
        Err(no("rds"))
    }
    async fn rds_replica_lag(&self, _: &str, _: &str) -> Result<Option<f64>, CapabilityError> {
        Err(no("rds lag"))
    }
    async fn aurora(
        &self,
        _: &pilotlight_core::model::AuroraGlobalCluster,
    ) -> Result<AuroraFacts, CapabilityError> {
        Err(no("aurora"))
    }
    async fn ecs(
        &self,
        _: &pilotlight_core::model::EcsService,
    ) -> Result<EcsFacts, CapabilityError> {
        Err(no("ecs"))
    }
    async fn autoscaling(
        &self,
        _: &pilotlight_core::model::AutoScalingGroup,
    ) -> Result<AsgFacts, CapabilityError> {
        Err(no("autoscaling"))
    }
    async fn route53(
        &self,
        _: &pilotlight_core::model::Route53,
        _: &pilotlight_core::model::DnsRecord,
    ) -> Result<Route53Facts, CapabilityError> {
        Err(no("route53"))
    }
}

struct NoActuator;

#[async_trait::async_trait]
impl Actuator for NoActuator {
    async fn observe(&self, _: &Action) -> Result<Observation, CapabilityError> {
        Err(no("observe"))
    }
    async fn act(&self, _: &Action) -> Result<String, CapabilityError> {
        Err(no("act"))
    }
    async fn health(&self, _: &Action) -> Result<Observation, CapabilityError> {
        Err(no("health"))
    }
    async fn force(&self, _: &Action) -> Result<String, CapabilityError> {
        Err(no("force"))
    }
}

struct Quiet;

#[async_trait::async_trait]
impl Notifier for Quiet {
    async fn notify(&self, _: &Notification) -> Result<(), CapabilityError> {
        Ok(())
    }
}

struct Up;

#[async_trait::async_trait]
impl ProbeRunner for Up {
    async fn probe(&self, _: &ProbeConfig, _: Duration) -> ProbeResult {
        ProbeResult {
            outcome: pilotlight_core::health::ProbeOutcome::Up,
            latency: Duration::from_millis(1),
            detail: String::new(),
        }
    }
}

/// The failover waits for a person (`hold`), then notifies (`go`).
const FAILOVER: &str = r#"
[runbook]
name = "failover"
direction = "failover"
[[steps]]
id = "hold"
kind = "manual_approval"
message = "go ahead?"
[[steps]]
id = "go"
kind = "notify"
message = "failing over"
depends_on = ["hold"]
"#;

struct Rig {
    app: Router,
    api: Api,
    journal: Arc<SqliteJournal>,
    exec: Executor,
    _dir: tempfile::TempDir,
}

fn rig() -> Rig {
    rig_with(true)
}

/// The rig, with or without the drill store.
fn rig_with(drills: bool) -> Rig {
    rig_env(env(), drills)
}

/// The rig over `env`.
fn rig_env(env: EnvironmentConfig, drills: bool) -> Rig {
    let env = Arc::new(env);
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(SqliteJournal::open(&dir.path().join("j.db")).unwrap());
    let caps = Capabilities {
        actuator: Arc::new(NoActuator),
        facts: Arc::new(NoFacts),
        notifier: Arc::new(Quiet),
    };
    let exec = Executor::new(
        journal.clone(),
        caps,
        env.clone(),
        Arc::new(SystemClock::new()),
        ExecutorSettings {
            poll_interval: Duration::from_millis(50),
            control_interval: Duration::from_millis(50),
            ..ExecutorSettings::default()
        },
    );
    let rb: Runbook = toml::from_str(FAILOVER).unwrap();
    let failover: Plan = build_plan(&env, &rb).unwrap();
    let control = Control::new(
        ControlDeps {
            env: env.clone(),
            journal: journal.clone(),
            executor: exec.clone(),
            failover: failover.clone(),
            facts: Arc::new(NoFacts),
            probes: Arc::new(Up),
            notifier: Arc::new(Quiet),
        },
        ControlSettings::default(),
    )
    .unwrap();
    let mut api = Api::new(
        control,
        ApiDeps {
            plans: BTreeMap::from([("failover".to_string(), failover)]),
            actuator: Arc::new(NoActuator),
            facts: Arc::new(NoFacts),
            audit: journal.clone(),
            auth: Authenticator::new(env.access.clone(), None),
        },
    );
    if drills {
        api = api.with_drills(journal.clone());
    }
    Rig {
        app: app(api.clone()),
        api,
        journal,
        exec,
        _dir: dir,
    }
}

/// A response's status and JSON body (`null` when the body is not JSON).
async fn call(app: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn get(path: &str, role: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(r) = role {
        b = b.header("authorization", format!("Bearer {}", token(r)));
    }
    b.body(Body::empty()).unwrap()
}

fn post(path: &str, role: Option<&str>, body: Value) -> Request<Body> {
    let mut b = Request::post(path).header("content-type", "application/json");
    if let Some(r) = role {
        b = b.header("authorization", format!("Bearer {}", token(r)));
    }
    b.body(Body::from(body.to_string())).unwrap()
}

async fn start_failover(r: &Rig) -> String {
    let (s, v) = call(
        &r.app,
        post(
            "/api/v1/runs",
            Some("operator"),
            json!({"runbook": "failover", "reason": "test", "confirm": "svc", "planned": true}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    v["run_id"].as_str().unwrap().to_string()
}

async fn status(r: &Rig) -> Value {
    let (s, v) = call(&r.app, get("/api/v1/status", Some("viewer"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// Poll the status until `want` holds; how long it took.
async fn status_until(r: &Rig, what: &str, want: impl Fn(&Value) -> bool) -> Duration {
    let t = Instant::now();
    loop {
        let v = status(r).await;
        if want(&v) {
            return t.elapsed();
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the status never showed {what}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn status_follows_a_run_step_by_step_from_its_snapshot() {
    let r = rig();
    let v = status(&r).await;
    assert_eq!(v["environment"], "svc");
    assert!(v["active_run"].is_null(), "{v}");
    let built_at = v["observed_at_ms"].as_u64().unwrap();

    // The actor's own next read sees the run it started (rebuilt before the answer).
    let id = start_failover(&r).await;
    let v = status(&r).await;
    assert_eq!(v["active_run"]["id"], id.as_str(), "{v}");
    assert_eq!(v["phase"], "failing_over");
    assert!(v["observed_at_ms"].as_u64().unwrap() >= built_at);
    assert_eq!(v["active_run"]["progress"]["steps_total"], 2);
    status_until(&r, "the approval step waiting", |v| {
        v["active_run"]["progress"]["awaiting_approval"] == json!(["hold"])
    })
    .await;

    // A step changes behind the API's back (as the executor or another process writes the
    // journal): the snapshot shows it within its rebuild period.
    r.exec
        .control(
            &id,
            Event::Approved {
                node: "hold".into(),
                by: "someone-on-the-host".into(),
                at_ms: pilotlight_server::ms(pilotlight_server::now()),
            },
        )
        .await
        .unwrap();
    r.api.control().drive(id.clone());
    let took = status_until(&r, "the run finished", |v| {
        v["active_run"].is_null() && v["last_run"]["id"] == id.as_str()
    })
    .await;
    assert!(
        took < pilotlight_server::status::ACTIVE_EVERY * 4,
        "the finished run took {took:?} to show"
    );
    let v = status(&r).await;
    assert_eq!(v["last_run"]["status"], "succeeded", "{v}");
    let stored = r.journal.run(&id).await.unwrap();
    assert!(stored.status.is_final());
}

/// The audit log's entries for `action`, as `(actor, outcome)`.
async fn audited(r: &Rig, action: &str) -> Vec<(String, String)> {
    use pilotlight_core::audit::AuditLog;
    r.journal
        .audit_entries(0, usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| {
            (
                e.actor,
                serde_json::to_value(e.outcome)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_read_needs_a_credential_and_a_viewer_reads() {
    let r = rig();
    for path in [
        "/api/v1/status",
        "/api/v1/readiness",
        "/api/v1/runbooks",
        "/api/v1/plans/failover",
        "/api/v1/runs",
        "/api/v1/drills",
        "/api/v1/drills/drill-x",
    ] {
        let (s, v) = call(&r.app, get(path, None)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}: {v}");
        assert!(v["error"].as_str().unwrap().contains("sign in"), "{v}");
        let wrong = Request::get(path)
            .header("authorization", "Bearer not-a-token")
            .body(Body::empty())
            .unwrap();
        let (s, _) = call(&r.app, wrong).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path} with a wrong token");
    }

    let (s, v) = call(&r.app, get("/api/v1/readiness", Some("viewer"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["resources"].is_array(), "{v}");
    assert!(v.get("verdict").is_some() && v.get("evaluated_at_ms").is_some());

    let (s, v) = call(&r.app, get("/api/v1/runbooks", Some("viewer"))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!({"runbooks": ["failover"]}));

    let (s, v) = call(&r.app, get("/api/v1/plans/failover", Some("viewer"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let text = v.to_string();
    assert!(
        text.contains("\"hold\"") && text.contains("\"go\""),
        "the plan names both steps: {v}"
    );

    let (s, v) = call(&r.app, get("/api/v1/plans/failback", Some("viewer"))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        v["error"].as_str().unwrap().contains("known: failover"),
        "{v}"
    );

    // The audit log is for admins only.
    let (s, v) = call(&r.app, get("/api/v1/audit", Some("approver"))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert!(v["error"].as_str().unwrap().contains("admin"), "{v}");
    let (s, _) = call(&r.app, get("/api/v1/audit", Some("admin"))).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_operators_pause_and_resume_and_every_refusal_is_audited() {
    let r = rig();
    let id = start_failover(&r).await;
    let pause = format!("/api/v1/runs/{id}/pause");
    let resume = format!("/api/v1/runs/{id}/resume");

    // A viewer cannot start, pause, resume or abort.
    for path in [
        pause.clone(),
        resume.clone(),
        format!("/api/v1/runs/{id}/abort"),
    ] {
        let (s, v) = call(&r.app, post(&path, Some("viewer"), json!({"reason": "x"}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
        assert!(v["error"].as_str().unwrap().contains("viewer role"), "{v}");
    }
    let (s, _) = call(
        &r.app,
        post(
            "/api/v1/runs",
            Some("viewer"),
            json!({"runbook": "failover", "reason": "x", "confirm": "svc"}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Nor can anybody without a credential.
    let (s, _) = call(&r.app, post(&pause, None, json!({}))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        audited(&r, "run.pause").await,
        vec![
            ("viewer-person".to_string(), "denied".to_string()),
            ("anonymous".to_string(), "denied".to_string()),
        ]
    );
    assert_eq!(r.journal.run(&id).await.unwrap().status.label(), "running");

    // An operator pauses and resumes; the status shows each at once.
    let (s, v) = call(
        &r.app,
        post(&pause, Some("operator"), json!({"reason": "look"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "paused");
    assert_eq!(status(&r).await["active_run"]["status"], "paused");
    let (s, v) = call(&r.app, post(&resume, Some("operator"), json!({}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "running");
    assert_eq!(status(&r).await["active_run"]["status"], "running");
    assert_eq!(
        audited(&r, "run.resume").await.last().unwrap(),
        &("operator-person".to_string(), "allowed".to_string())
    );

    // A run of nobody's: 404, audited too.
    let (s, v) = call(
        &r.app,
        post("/api/v1/runs/nope/pause", Some("operator"), json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");

    // A viewer cannot approve either; an approver can.
    let approve = format!("/api/v1/runs/{id}/approve");
    let (s, _) = call(
        &r.app,
        post(&approve, Some("operator"), json!({"step": "hold"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = call(
        &r.app,
        post(&approve, Some("approver"), json!({"step": "hold"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

async fn sign_in(r: &Rig, role: &str) -> (String, String) {
    let resp = r
        .app
        .clone()
        .oneshot(post("/api/v1/session", None, json!({"token": token(role)})))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&body).unwrap();
    (cookie, v["csrf_token"].as_str().unwrap().to_string())
}

fn with_cookie(method: &str, path: &str, cookie: &str, csrf: Option<&str>) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("cookie", cookie)
        .header("host", "127.0.0.1:8080");
    if let Some(c) = csrf {
        b = b.header("x-csrf-token", c);
    }
    b.body(Body::empty()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_out_ends_the_session_on_the_server() {
    let r = rig();
    let (cookie, csrf) = sign_in(&r, "viewer").await;
    let (s, v) = call(&r.app, with_cookie("GET", "/api/v1/session", &cookie, None)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["role"], "viewer");

    // Without its CSRF token, signing out is refused (a state change by cookie).
    let (s, v) = call(
        &r.app,
        with_cookie("DELETE", "/api/v1/session", &cookie, None),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert!(v["error"].as_str().unwrap().contains("X-CSRF-Token"));
    let (s, _) = call(&r.app, with_cookie("GET", "/api/v1/status", &cookie, None)).await;
    assert_eq!(s, StatusCode::OK, "the session still works");

    let resp = r
        .app
        .clone()
        .oneshot(with_cookie(
            "DELETE",
            "/api/v1/session",
            &cookie,
            Some(&csrf),
        ))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    for path in ["/api/v1/session", "/api/v1/status"] {
        let (s, _) = call(&r.app, with_cookie("GET", path, &cookie, None)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path} after sign-out");
    }
    let (s, _) = call(
        &r.app,
        with_cookie("DELETE", "/api/v1/session", "x=y", None),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "signing out without a session");
    assert_eq!(
        audited(&r, "session.delete").await,
        vec![
            ("viewer-person".to_string(), "denied".to_string()),
            ("viewer-person".to_string(), "allowed".to_string()),
            ("anonymous".to_string(), "denied".to_string()),
        ]
    );
}

fn drill_report(id: &str, environment: &str, started_at_ms: u64) -> pilotlight_drill::DrillReport {
    let mut r: pilotlight_drill::DrillReport =
        serde_json::from_str(include_str!("../../drill/tests/snapshots/report.json")).unwrap();
    r.id = id.into();
    r.environment = environment.into();
    r.started_at_ms = started_at_ms;
    r
}

async fn raw(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn drill_reports_are_listed_and_downloaded_as_json_markdown_and_html() {
    use pilotlight_drill::store::DrillReports;
    let r = rig();
    let (s, v) = call(&r.app, get("/api/v1/drills", Some("viewer"))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["drills"], json!([]));
    assert!(v["current"].is_null(), "{v}");
    assert_eq!(v["can_start"], false, "no drill runner: {v}");

    let old = drill_report("drill-old", "svc", 1_000);
    let new = drill_report("drill-new", "svc", 2_000);
    let other = drill_report("drill-other", "elsewhere", 3_000);
    for d in [&old, &new, &other] {
        r.journal.save_drill(d).await.unwrap();
    }

    let (s, v) = call(&r.app, get("/api/v1/drills", Some("viewer"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let ids: Vec<&str> = v["drills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["drill-new", "drill-old"],
        "this environment's, newest first"
    );
    let first = &v["drills"][0];
    assert_eq!(first["passed"], new.verdict.passed);
    assert_eq!(first["mode"], "isolated");
    assert_eq!(
        first["links"]["html"],
        "/api/v1/drills/drill-new?format=html"
    );

    // JSON (the default) is the stored report.
    for path in [
        "/api/v1/drills/drill-new",
        "/api/v1/drills/drill-new?format=json",
    ] {
        let (s, h, body) = raw(&r.app, get(path, Some("viewer"))).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert_eq!(h["content-type"], "application/json");
        let back: pilotlight_drill::DrillReport = serde_json::from_str(&body).unwrap();
        assert_eq!(back, new);
    }
    let (s, h, body) = raw(
        &r.app,
        get("/api/v1/drills/drill-new?format=markdown", Some("viewer")),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/markdown"));
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"drill-new.md\""
    );
    assert_eq!(body, pilotlight_drill::render::render_markdown(&new));
    let (s, h, body) = raw(
        &r.app,
        get("/api/v1/drills/drill-new?format=html", Some("viewer")),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    assert_eq!(body, pilotlight_drill::render::render_html(&new));

    // Wrong format, another environment's drill, no such drill.
    let (s, v) = call(
        &r.app,
        get("/api/v1/drills/drill-new?format=pdf", Some("viewer")),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("format=html"), "{v}");
    for id in ["drill-other", "drill-none"] {
        let (s, v) = call(&r.app, get(&format!("/api/v1/drills/{id}"), Some("viewer"))).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{id}: {v}");
        assert!(v["error"].as_str().unwrap().contains("GET /api/v1/drills"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_its_drill_store_the_service_says_where_drills_are_listed() {
    let r = rig_with(false);
    for path in ["/api/v1/drills", "/api/v1/drills/drill-x?format=html"] {
        let (s, v) = call(&r.app, get(path, Some("viewer"))).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{path}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains("pilotlight drills"),
            "{v}"
        );
        let (s, _) = call(&r.app, get(path, None)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}: credential first");
    }
}

/// Copies in memory; `verify` answers "not yet" until `ready` is set.
#[derive(Default)]
struct MemCopies {
    existing: std::sync::Mutex<std::collections::BTreeSet<String>>,
    ready: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl DrillCopies for MemCopies {
    async fn create(&self, c: &Copy) -> Result<(), CapabilityError> {
        self.existing.lock().unwrap().insert(c.name.clone());
        Ok(())
    }
    async fn verify(&self, c: &Copy) -> Result<Option<String>, CapabilityError> {
        Ok(self
            .ready
            .load(std::sync::atomic::Ordering::SeqCst)
            .then(|| format!("running {}/{}", c.size, c.size)))
    }
    async fn remove(&self, c: &Copy) -> Result<(), CapabilityError> {
        self.existing.lock().unwrap().remove(&c.name);
        Ok(())
    }
    async fn list_marked(
        &self,
        _: &str,
        marker: &str,
        _: &[String],
    ) -> Result<Vec<(CopyKind, String)>, CapabilityError> {
        Ok(self
            .existing
            .lock()
            .unwrap()
            .iter()
            .filter(|n| n.contains(marker))
            .map(|n| (CopyKind::EcsService, n.clone()))
            .collect())
    }
}

const ONE_SERVICE: &str = r#"
[[ecs_services]]
name = "api"
cluster = "apps"
service = "api"
pilot_light_count = 1
active_count = 3
"#;

/// A rig with one ECS service whose API conducts drills over [`MemCopies`], a copy verifying
/// within `ready_timeout`; the copies and the API.
fn drill_rig(ready_timeout: Duration) -> (Rig, Arc<MemCopies>, Api) {
    let mut r = rig_env(env_with(ONE_SERVICE), true);
    let copies = Arc::new(MemCopies::default());
    let api = r.api.clone().with_drill_runner(DrillRunner {
        canaries: Vec::new(),
        copies: copies.clone(),
        canary_plan: pilotlight_drill::canary::CanaryPlan::default(),
        isolated: IsolatedTimings {
            ready_timeout,
            cleanup_timeout: Duration::from_secs(5),
            poll: Duration::from_millis(20),
        },
    });
    r.app = app(api.clone());
    (r, copies, api)
}

async fn drills(r: &Rig) -> Value {
    let (s, v) = call(&r.app, get("/api/v1/drills", Some("viewer"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_starts_an_isolated_drill_from_the_api_and_its_report_is_stored() {
    let (r, copies, _) = drill_rig(Duration::from_secs(30));
    assert_eq!(drills(&r).await["can_start"], true);
    let body = |mode: &str| json!({"runbook": "drill", "mode": mode, "reason": "quarterly drill", "confirm": "svc"});

    // Refusals: a viewer; no mode; a full drill without the failback runbook; a wrong name.
    let (s, _) = call(
        &r.app,
        post("/api/v1/runs", Some("viewer"), body("isolated")),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = call(
        &r.app,
        post(
            "/api/v1/runs",
            Some("operator"),
            json!({"runbook": "drill", "reason": "x", "confirm": "svc"}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"].as_str().unwrap().contains("\"isolated\""), "{v}");
    let (s, v) = call(&r.app, post("/api/v1/runs", Some("operator"), body("full"))).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("failback runbook"),
        "{v}"
    );
    let (s, _) = call(
        &r.app,
        post(
            "/api/v1/runs",
            Some("operator"),
            json!({"runbook": "drill", "mode": "isolated", "reason": "x", "confirm": "prod"}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        copies.existing.lock().unwrap().is_empty(),
        "a refusal changes nothing"
    );

    // Started: the copy is made and waits to verify; a second drill is refused meanwhile.
    let (s, v) = call(
        &r.app,
        post("/api/v1/runs", Some("operator"), body("isolated")),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["drill_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("drill-"), "{v}");
    let t = Instant::now();
    loop {
        let v = drills(&r).await;
        assert_eq!(v["current"]["id"], id.as_str(), "{v}");
        assert_eq!(v["current"]["status"], "running", "{v}");
        if v["current"]["progress"]
            .as_str()
            .unwrap()
            .contains("creating ecs_service")
        {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "no progress: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(copies.existing.lock().unwrap().len(), 1);
    let (s, v) = call(
        &r.app,
        post("/api/v1/runs", Some("operator"), body("isolated")),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v["error"].as_str().unwrap().contains(&id), "{v}");

    // The copy verifies; the drill removes it, ends and stores its report.
    copies
        .ready
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let t = Instant::now();
    let v = loop {
        let v = drills(&r).await;
        if v["current"]["status"] != "running" {
            break v;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "never finished: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(v["current"]["status"], "finished", "{v}");
    assert_eq!(v["current"]["passed"], true, "{v}");
    assert_eq!(v["drills"][0]["id"], id.as_str(), "{v}");
    assert_eq!(v["drills"][0]["mode"], "isolated");
    assert!(copies.existing.lock().unwrap().is_empty());
    let (s, report) = call(
        &r.app,
        get(&format!("/api/v1/drills/{id}?format=json"), Some("viewer")),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(report["requested_by"], "operator-person");
    let res = &report["resources"][0];
    assert_eq!(res["kind"], "ecs_service");
    assert_eq!(res["name"], format!("api-{id}"));
    assert!(res["removed_at_ms"].is_u64(), "{report}");
    assert_eq!(res["verified"], "running 3/3");

    // Audited: the refusals and the start, with the drill's id.
    let entries = audited(&r, "run.start").await;
    assert!(entries.iter().any(|(_, o)| o == "denied"), "{entries:?}");
    use pilotlight_core::audit::AuditLog;
    let all = r.journal.audit_entries(0, usize::MAX).await.unwrap();
    assert!(all
        .iter()
        .any(|e| e.action == "run.start" && e.target == "drill" && e.detail.contains(&id)));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unfinished_drill_blocks_the_next_and_the_service_ends_its_own() {
    use pilotlight_drill::store::{DrillReports, DrillStart, CONDUCTOR_CLI, CONDUCTOR_SERVICE};
    let (r, copies, _) = drill_rig(Duration::from_secs(30));
    let start = |id: &str, conductor: &str| DrillStart {
        id: id.into(),
        environment: "svc".into(),
        mode: pilotlight_drill::Mode::Isolated,
        requested_by: "alice".into(),
        reason: "quarterly".into(),
        started_at_ms: 1_000,
        conductor: conductor.into(),
    };
    let body = json!({"runbook": "drill", "mode": "isolated", "reason": "q", "confirm": "svc"});

    // The service was killed during its drill: the copy carrying the drill's id is still there.
    let dead = "drill-20261122-010000-dead";
    r.journal
        .drill_started(&start(dead, CONDUCTOR_SERVICE))
        .await
        .unwrap();
    copies
        .existing
        .lock()
        .unwrap()
        .insert(format!("api-{dead}"));
    assert_eq!(drills(&r).await["unfinished"][0]["id"], dead);
    // A new drill is refused while that one is ended: its copy removed, its report stored.
    let (s, v) = call(&r.app, post("/api/v1/runs", Some("operator"), body.clone())).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains(dead) && msg.contains("being ended now"), "{v}");
    let t = Instant::now();
    let v = loop {
        let v = drills(&r).await;
        if v["drills"][0]["id"] == dead {
            break v;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "never ended: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(v["drills"][0]["passed"], false, "{v}");
    assert_eq!(v["unfinished"], json!([]), "{v}");
    assert!(
        copies.existing.lock().unwrap().is_empty(),
        "the copy was removed"
    );
    let (_, report) = call(
        &r.app,
        get(
            &format!("/api/v1/drills/{dead}?format=json"),
            Some("viewer"),
        ),
    )
    .await;
    assert!(
        report["verdict"]["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("interrupted"),
        "{report}"
    );
    assert_eq!(report["resources"][0]["name"], format!("api-{dead}"));
    assert!(report["resources"][0]["removed_at_ms"].is_u64(), "{report}");

    // A CLI drill without a report blocks, with the way to end it; the service leaves it alone.
    let cli = "drill-20261122-020000-cli0";
    r.journal
        .drill_started(&start(cli, CONDUCTOR_CLI))
        .await
        .unwrap();
    let (s, v) = call(&r.app, post("/api/v1/runs", Some("operator"), body.clone())).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains(&format!("pilotlight drill --recover {cli}")),
        "{v}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(drills(&r).await["unfinished"][0]["id"], cli);
    // Once it is ended, a drill starts again.
    r.journal.drill_not_run(cli).await.unwrap();
    copies
        .ready
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (s, v) = call(&r.app, post("/api/v1/runs", Some("operator"), body)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["drill_id"].as_str().unwrap().to_string();
    let t = Instant::now();
    loop {
        let v = drills(&r).await;
        // The running drill is never listed as unfinished.
        assert_eq!(v["unfinished"], json!([]), "{v}");
        if v["current"]["status"] == "finished" {
            assert_eq!(v["drills"][0]["id"], id.as_str(), "{v}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "never finished: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(r.journal.unfinished_drills("svc").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_drill_of_a_production_environment_is_refused() {
    let mut text = ONE_SERVICE.to_string();
    text.push('\n');
    let mut e = env_with(&text);
    e.environment.tier = pilotlight_core::model::Tier::Production;
    let mut r = rig_env(e, true);
    r.app = app(r.api.clone().with_drill_runner(DrillRunner {
        canaries: Vec::new(),
        copies: Arc::new(MemCopies::default()),
        canary_plan: Default::default(),
        isolated: IsolatedTimings::default(),
    }));
    let (s, v) = call(
        &r.app,
        post(
            "/api/v1/runs",
            Some("operator"),
            json!({"runbook": "drill", "mode": "full", "reason": "x", "confirm": "svc"}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v["error"].as_str().unwrap().contains("production"), "{v}");
    assert!(drills(&r).await["current"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopping_service_turns_its_isolated_drill_to_the_cleanup() {
    let (r, copies, api) = drill_rig(Duration::from_secs(600));
    assert!(
        api.stop_drills(Duration::from_millis(10)).await,
        "no drill: nothing to wait for"
    );
    let (s, v) = call(
        &r.app,
        post(
            "/api/v1/runs",
            Some("operator"),
            json!({"runbook": "drill", "mode": "isolated", "reason": "x", "confirm": "svc"}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let t = Instant::now();
    while copies.existing.lock().unwrap().is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the copy was never made"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The copy never verifies; the service stops: the drill removes it and stores its report.
    assert!(api.stop_drills(Duration::from_secs(10)).await);
    assert!(copies.existing.lock().unwrap().is_empty());
    let v = drills(&r).await;
    assert_eq!(v["current"]["status"], "finished", "{v}");
    assert_eq!(v["current"]["passed"], false, "{v}");
    let id = v["current"]["id"].as_str().unwrap();
    let (_, report) = call(&r.app, get(&format!("/api/v1/drills/{id}"), Some("viewer"))).await;
    assert!(
        report["limitations"].to_string().contains("interrupted"),
        "{report}"
    );
    assert!(report["resources"][0]["removed_at_ms"].is_u64(), "{report}");
}

/// A POST with a session cookie and its CSRF token, as the console sends it.
fn console_post(path: &str, cookie: &str, csrf: &str, body: Value) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .header("cookie", cookie)
        .header("host", "127.0.0.1:8080")
        .header("x-csrf-token", csrf)
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standing_by_instance_says_why_it_cannot_forward_an_action() {
    use pilotlight_server::control::LeaderSeen;
    use pilotlight_server::forward::{wrap, Forwarding};
    let r = rig();
    let control = r.api.control().clone();
    control.stand_by();
    assert!(!control.is_leader());
    let app = wrap(
        app(r.api.clone()),
        Forwarding::new(control.clone(), r.api.auth().clone(), None),
    );
    let start = json!({"runbook": "failover", "reason": "test", "confirm": "svc"});
    let message = |v: &Value| v["error"].as_str().unwrap_or_default().to_string();

    // No leader known yet.
    let (s, v) = call(&app, post("/api/v1/runs", Some("operator"), start.clone())).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(message(&v).contains("no instance holds the lease"), "{v}");

    // A leader that advertises no address.
    control.set_leader_seen(Some(LeaderSeen {
        instance: "ctl-a".into(),
        address: None,
        epoch: 3,
    }));
    let (s, v) = call(&app, post("/api/v1/runs", Some("operator"), start.clone())).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(message(&v).contains("--advertise-url"), "{v}");

    // A leader that does not answer: 502, and the operator is told to check before retrying.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    control.set_leader_seen(Some(LeaderSeen {
        instance: "ctl-a".into(),
        address: Some(address.clone()),
        epoch: 3,
    }));
    let (s, v) = call(&app, post("/api/v1/runs", Some("operator"), start.clone())).await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{v}");
    assert!(
        message(&v).contains("did not answer") && message(&v).contains("check the run list"),
        "{v}"
    );

    // A console session's action, with no forwarding key shared: 503 naming the leader's console.
    let (cookie, csrf) = sign_in(&r, "operator").await;
    let (s, v) = call(
        &app,
        console_post("/api/v1/runs", &cookie, &csrf, start.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(
        message(&v).contains("share no forwarding key") && message(&v).contains(&address),
        "{v}"
    );

    // Reads are served here; nothing was started anywhere.
    let (s, _) = call(&app, get("/api/v1/runs", Some("viewer"))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(r.journal.runs(None, 10).await.unwrap().is_empty());
}
