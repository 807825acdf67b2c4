//! The control service with fakes (probes, readiness) and a real SQLite journal and executor:
//! the trigger in auto and recommend mode, scenario 6 (`observer_partition`), the interlock of an
//! unacknowledged automatic run, and the observation API's authentication.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use pilotlight_core::capability::{Actuator, Notification, Notifier, Observation, ReadinessFacts};
use pilotlight_core::health::ProbeOutcome;
use pilotlight_core::journal::{Decision, Journal};
use pilotlight_core::model::{EnvironmentConfig, ProbeConfig};
use pilotlight_core::plan::{build_plan, Action};
use pilotlight_core::readiness::facts::*;
use pilotlight_core::run::{Event, RunStatus};
use pilotlight_core::runbook::Runbook;
use pilotlight_core::CapabilityError;
use pilotlight_executor::{Capabilities, Executor, ExecutorSettings, SystemClock};
use pilotlight_server::api::{router, Report, ReportedSample};
use pilotlight_server::auth::token_sha256;
use pilotlight_server::{Control, ControlDeps, ControlSettings, ProbeResult, ProbeRunner};
use pilotlight_store::SqliteJournal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

const TOKENS: [&str; 2] = ["token-observer-a", "token-observer-b"];

fn env(mode: &str) -> EnvironmentConfig {
    env_with(mode, "")
}

/// The test environment with `extra` TOML (resources) appended.
fn env_with(mode: &str, extra: &str) -> EnvironmentConfig {
    let text = format!(
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
[health]
preset = "fast"
quorum = 2
readiness_interval = "1s"
[health.trigger]
mode = "{mode}"
cool_down = "1h"
[[health.probes]]
id = "api"
kind = "http"
url = "http://127.0.0.1:9/health"
interval = "100ms"
timeout = "50ms"
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
        a = token_sha256(TOKENS[0]),
        b = token_sha256(TOKENS[1]),
    );
    toml::from_str(&format!("{text}\n{extra}")).unwrap()
}

/// The control service's own probe: up or down as the test says.
struct Switch(AtomicBool);

#[async_trait::async_trait]
impl ProbeRunner for Switch {
    async fn probe(&self, _: &ProbeConfig, _: Duration) -> ProbeResult {
        let up = self.0.load(Ordering::SeqCst);
        ProbeResult {
            outcome: if up {
                ProbeOutcome::Up
            } else {
                ProbeOutcome::down("connection refused")
            },
            latency: Duration::from_millis(3),
            detail: String::new(),
        }
    }
}

struct NoActuator;

#[async_trait::async_trait]
impl Actuator for NoActuator {
    async fn observe(&self, _: &Action) -> Result<Observation, CapabilityError> {
        unreachable!()
    }
    async fn act(&self, _: &Action) -> Result<String, CapabilityError> {
        unreachable!()
    }
    async fn health(&self, _: &Action) -> Result<Observation, CapabilityError> {
        unreachable!()
    }
    async fn force(&self, _: &Action) -> Result<String, CapabilityError> {
        unreachable!()
    }
}

#[derive(Default)]
struct Notes(Mutex<Vec<Notification>>);

#[async_trait::async_trait]
impl Notifier for Notes {
    async fn notify(&self, n: &Notification) -> Result<(), CapabilityError> {
        self.0.lock().unwrap().push(n.clone());
        Ok(())
    }
}

struct Rig {
    control: Control,
    journal: Arc<SqliteJournal>,
    exec: Executor,
    local: Arc<Switch>,
    notes: Arc<Notes>,
    stop: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

fn rig(mode: &str) -> Rig {
    rig_with(Arc::new(env(mode)), Arc::new(NoFacts))
}

fn rig_with(env: Arc<EnvironmentConfig>, facts: Arc<dyn ReadinessFacts>) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(SqliteJournal::open(&dir.path().join("j.db")).unwrap());
    let notes = Arc::new(Notes::default());
    let caps = Capabilities {
        actuator: Arc::new(NoActuator),
        facts: facts.clone(),
        notifier: notes.clone(),
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
    let rb: Runbook = toml::from_str(
        "[runbook]\nname = \"failover\"\ndirection = \"failover\"\n[[steps]]\nid = \"go\"\nkind = \"notify\"\nmessage = \"failing over\"",
    )
    .unwrap();
    let failover = build_plan(&env, &rb).unwrap();
    let local = Arc::new(Switch(AtomicBool::new(true)));
    let control = Control::new(
        ControlDeps {
            env,
            journal: journal.clone(),
            executor: exec.clone(),
            failover,
            facts,
            probes: local.clone(),
            notifier: notes.clone(),
        },
        ControlSettings {
            tick: Duration::from_millis(50),
            ..ControlSettings::default()
        },
    )
    .unwrap();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let c = control.clone();
    tokio::spawn(async move { c.run(rx).await });
    Rig {
        control,
        journal,
        exec,
        local,
        notes,
        stop,
        _dir: dir,
    }
}

async fn post(control: &Control, token: &str, body: &str) -> StatusCode {
    let req = Request::post("/api/v1/observations")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    router(control.clone()).oneshot(req).await.unwrap().status()
}

async fn report(control: &Control, i: usize, up: bool) {
    let r = Report {
        vantage: ["observer-a", "observer-b"][i].into(),
        samples: vec![ReportedSample {
            probe: "api".into(),
            outcome: if up {
                ProbeOutcome::Up
            } else {
                ProbeOutcome::down("503")
            },
            latency: Some(Duration::from_millis(20)),
        }],
    };
    let status = post(control, TOKENS[i], &serde_json::to_string(&r).unwrap()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

/// Report from both observers every 100 ms for `secs`.
async fn observers(control: &Control, up: [bool; 2], secs: f64) {
    let rounds = (secs * 10.0) as usize;
    for _ in 0..rounds {
        report(control, 0, up[0]).await;
        report(control, 1, up[1]).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn health_kinds(r: &Rig) -> Vec<String> {
    r.journal
        .health_events("svc", 100)
        .await
        .unwrap()
        .iter()
        .rev()
        .map(|e| e.kind.clone())
        .collect()
}

async fn wait_run_status(r: &Rig, id: &str, want: RunStatus) {
    for _ in 0..100 {
        if r.journal.run(id).await.unwrap().status == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("run {id} never {want:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_mode_fails_over_when_a_quorum_agrees_and_records_why() {
    let r = rig("auto");
    // Healthy everywhere: nothing happens.
    observers(&r.control, [true, true], 1.5).await;
    assert!(r.journal.runs(None, 10).await.unwrap().is_empty());
    // The primary goes down for everyone.
    r.local.0.store(false, Ordering::SeqCst);
    observers(&r.control, [false, false], 2.0).await;
    let runs = r.journal.runs(None, 10).await.unwrap();
    assert_eq!(runs.len(), 1, "exactly one automatic run");
    let run = &runs[0];
    assert_eq!(run.requested_by, "pilotlight-trigger");
    wait_run_status(&r, &run.id, RunStatus::Succeeded).await;
    let kinds = health_kinds(&r).await;
    assert_eq!(kinds, ["declaration", "trigger_fail_over"], "{kinds:?}");
    let events = r.journal.health_events("svc", 10).await.unwrap();
    assert_eq!(events[0].run_id.as_deref(), Some(run.id.as_str()));
    // The declaration's evidence names the vantage points and the probe.
    let decl = &events[1];
    let text = decl.detail.to_string();
    for needle in ["observer-a", "observer-b", "control", "api"] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    let decisions: Vec<Decision> = r.journal.decisions(&run.id).await.unwrap();
    assert!(decisions
        .iter()
        .any(|d| d.kind == "declaration" && d.who == "pilotlight-trigger"));
    let notes = r.notes.0.lock().unwrap().clone();
    assert!(notes.iter().any(|n| n.kind == "declaration"));
    assert!(notes.iter().any(|n| n.kind == "trigger_fail_over"));
    let _ = r.stop.send(true);
}

#[tokio::test(flavor = "multi_thread")]
async fn recommend_mode_waits_for_an_approval() {
    let r = rig("recommend");
    r.local.0.store(false, Ordering::SeqCst);
    observers(&r.control, [false, false], 2.0).await;
    let runs = r.journal.runs(None, 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    let id = runs[0].id.clone();
    assert_eq!(runs[0].plan.nodes[0].id, "approve-failover");
    // Nothing acts without the approval.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = r.journal.events(&id).await.unwrap();
    assert!(events.iter().any(
        |e| matches!(&e.event, Event::ApprovalRequested { node, .. } if node == "approve-failover")
    ));
    assert!(!events
        .iter()
        .any(|e| matches!(&e.event, Event::NodeStarted { node, .. } if node == "go")));
    r.exec
        .control(
            &id,
            Event::Approved {
                node: "approve-failover".into(),
                by: "alice".into(),
                at_ms: 1,
            },
        )
        .await
        .unwrap();
    wait_run_status(&r, &id, RunStatus::Succeeded).await;
    assert_eq!(health_kinds(&r).await, ["declaration", "trigger_recommend"]);
    let _ = r.stop.send(true);
}

/// Scenario 6: the control service's own path to the primary is cut; users (and the observers)
/// still reach it. No declaration, no run.
#[tokio::test(flavor = "multi_thread")]
async fn observer_partition() {
    let r = rig("auto");
    r.local.0.store(false, Ordering::SeqCst);
    observers(&r.control, [true, true], 3.0).await;
    assert!(r.journal.runs(None, 10).await.unwrap().is_empty());
    assert!(health_kinds(&r).await.is_empty());
    // One observer missing altogether and the control service cut: still no quorum for down.
    for _ in 0..30 {
        report(&r.control, 0, true).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(r.journal.runs(None, 10).await.unwrap().is_empty());
    let _ = r.stop.send(true);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_failure_is_held_until_the_automatic_run_is_acknowledged() {
    let r = rig("auto");
    r.local.0.store(false, Ordering::SeqCst);
    observers(&r.control, [false, false], 2.0).await;
    let first = r.journal.runs(None, 10).await.unwrap()[0].id.clone();
    wait_run_status(&r, &first, RunStatus::Succeeded).await;
    // Recovery, then a new failure.
    r.local.0.store(true, Ordering::SeqCst);
    observers(&r.control, [true, true], 2.0).await;
    r.local.0.store(false, Ordering::SeqCst);
    observers(&r.control, [false, false], 2.0).await;
    assert_eq!(
        r.journal.runs(None, 10).await.unwrap().len(),
        1,
        "no second automatic run"
    );
    let kinds = health_kinds(&r).await;
    assert_eq!(
        kinds,
        [
            "declaration",
            "trigger_fail_over",
            "recovery",
            "declaration",
            "trigger_hold"
        ],
        "{kinds:?}"
    );
    let hold = &r.journal.health_events("svc", 1).await.unwrap()[0];
    assert!(
        hold.detail
            .to_string()
            .contains("unacknowledged_automatic_run"),
        "{}",
        hold.detail
    );
    assert!(
        hold.detail.to_string().contains("cool_down"),
        "{}",
        hold.detail
    );
    let _ = r.stop.send(true);
}

#[tokio::test(flavor = "multi_thread")]
async fn observation_reports_are_authenticated() {
    let r = rig("auto");
    let body = serde_json::to_string(&Report {
        vantage: "observer-a".into(),
        samples: vec![ReportedSample {
            probe: "api".into(),
            outcome: ProbeOutcome::Up,
            latency: None,
        }],
    })
    .unwrap();
    assert_eq!(
        post(&r.control, TOKENS[0], &body).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        post(&r.control, "forged", &body).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(&r.control, TOKENS[1], &body).await,
        StatusCode::FORBIDDEN,
        "observer-b's token reporting as observer-a"
    );
    assert_eq!(
        post(&r.control, TOKENS[0], "{not json").await,
        StatusCode::BAD_REQUEST
    );
    let unknown_probe = body.replace("\"api\"", "\"nope\"");
    assert_eq!(
        post(&r.control, TOKENS[0], &unknown_probe).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let req = Request::post("/api/v1/observations")
        .body(Body::from(body))
        .unwrap();
    assert_eq!(
        router(r.control.clone())
            .oneshot(req)
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let _ = r.stop.send(true);
}

/// Readiness facts whose primary region does not answer at all (a regional outage): its RDS
/// API fails, the replica's lag is read in DR alone. Environments without resources never ask:
/// their readiness passes.
struct NoFacts;

#[async_trait::async_trait]
impl ReadinessFacts for NoFacts {
    async fn dynamodb(
        &self,
        _: &pilotlight_core::model::DynamoTable,
    ) -> Result<DynamoFacts, CapabilityError> {
        unreachable!()
    }
    async fn s3(
        &self,
        _: &pilotlight_core::model::S3BucketPair,
    ) -> Result<S3Facts, CapabilityError> {
        unreachable!()
    }
    async fn kms(&self, _: &pilotlight_core::model::KmsKey) -> Result<KmsFacts, CapabilityError> {
        unreachable!()
    }
    async fn rds(
        &self,
        _: &pilotlight_core::model::RdsReplica,
    ) -> Result<RdsFacts, CapabilityError> {
        Err(CapabilityError {
            class: pilotlight_core::ErrorClass::Unreachable,
            service: "rds".into(),
            region: "us-east-1".into(),
            operation: "DescribeDBInstances".into(),
            code: Some("ServiceUnavailable".into()),
            message: "the region does not answer".into(),
            hint: String::new(),
        })
    }
    async fn rds_replica_lag(
        &self,
        region: &str,
        instance: &str,
    ) -> Result<Option<f64>, CapabilityError> {
        assert_eq!((region, instance), ("us-west-2", "db-replica"));
        Ok(Some(2.0))
    }
    async fn aurora(
        &self,
        _: &pilotlight_core::model::AuroraGlobalCluster,
    ) -> Result<AuroraFacts, CapabilityError> {
        unreachable!()
    }
    async fn ecs(
        &self,
        _: &pilotlight_core::model::EcsService,
    ) -> Result<EcsFacts, CapabilityError> {
        unreachable!()
    }
    async fn autoscaling(
        &self,
        _: &pilotlight_core::model::AutoScalingGroup,
    ) -> Result<AsgFacts, CapabilityError> {
        unreachable!()
    }
    async fn route53(
        &self,
        _: &pilotlight_core::model::Route53,
        _: &pilotlight_core::model::DnsRecord,
    ) -> Result<Route53Facts, CapabilityError> {
        unreachable!()
    }
}

/// A regional outage takes the primary's APIs down with it: the scheduled readiness check of
/// the database cannot be made. That must not hold the automatic failover the outage calls for
/// (found by the game day); the lag is read from the replica in DR.
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_primary_region_does_not_hold_the_automatic_failover() {
    let env = env_with(
        "auto",
        "[[rds_replicas]]\nname = \"db\"\nprimary_instance = \"db-primary\"\nreplica_instance = \"db-replica\"\n",
    );
    let r = rig_with(Arc::new(env), Arc::new(NoFacts));
    r.local.0.store(false, Ordering::SeqCst);
    observers(&r.control, [false, false], 2.5).await;
    let runs = r.journal.runs(None, 10).await.unwrap();
    assert_eq!(
        runs.len(),
        1,
        "the outage fails over: {:?}",
        health_kinds(&r).await
    );
    assert_eq!(runs[0].requested_by, "pilotlight-trigger");
    let view = r.control.view();
    let readiness = view.readiness.expect("readiness evaluated");
    assert!(
        readiness.summary.contains("did not answer for rds/db"),
        "{}",
        readiness.summary
    );
    assert_eq!(
        view.replication[0].lag,
        Some(Duration::from_secs(2)),
        "the lag is read in DR"
    );
    assert_eq!(
        view.checks[0].status,
        pilotlight_core::readiness::Status::Error,
        "the check itself still says it could not be made"
    );
    let _ = r.stop.send(true);
}
