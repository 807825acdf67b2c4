//! End to end: two `pilotlight serve` processes share one HA store (the DynamoDB journal and
//! lease, in the emulator) and watch the sandbox's primary; only the lease holder acts.
//! Scenarios of `../shared/scenarios.md`:
//! - `leader_killed_mid_failover`: the leader is killed (SIGKILL) while the database is being
//!   promoted; the other instance takes over, resumes the run and completes it, with every side
//!   effect sent once;
//! - `frozen_leader` (3): the leader is frozen (SIGSTOP) past its lease mid-failover; the other
//!   takes over and completes; when the frozen one wakes it stands by, and nothing it does then
//!   reaches AWS twice;
//! - `clock_skew` (4): the instances' clocks disagree by ±30 s (as they write them into the
//!   lease); there are never two leaders, and a takeover still waits a whole lease duration.

mod common;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use common::{assert_no_duplicate_side_effects, bin, endpoint, send_signal, World, RUNBOOKS};
use pilotlight_core::journal::Journal;
use pilotlight_core::run::RunStatus;
use pilotlight_testkit::{FaultAction, FaultRule};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

const JOURNAL: &str = "pilotlight-confer-journal";
const LEASE: &str = "pilotlight-confer-lease";
const LEASE_DURATION: &str = "3s";

/// One scenario at a time: each runs two control services and the sandbox, and a loaded
/// machine would blur the timings the scenarios measure.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str, keys: &[(&str, bool)]) {
    let mut req = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for (i, (attr, numeric)) in keys.iter().enumerate() {
        req = req
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(*attr)
                    .attribute_type(if *numeric {
                        ScalarAttributeType::N
                    } else {
                        ScalarAttributeType::S
                    })
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(*attr)
                    .key_type(if i == 0 {
                        KeyType::Hash
                    } else {
                        KeyType::Range
                    })
                    .build()
                    .unwrap(),
            );
    }
    req.send().await.expect("create table");
}

/// The sandbox, the HA store's tables (key schema of `infra/pilotlight.yaml`), a primary endpoint
/// and a config watching it from two vantage points of the control service, in `auto` mode.
struct Ha {
    world: World,
    up: Arc<AtomicBool>,
    config: PathBuf,
}

impl Ha {
    async fn new() -> Ha {
        let world = World::up().await;
        let client = world.proxied().dynamodb(world.dr()).await;
        create_table(&client, JOURNAL, &[("run_id", false), ("seq", true)]).await;
        create_table(&client, LEASE, &[("environment", false)]).await;
        let up = Arc::new(AtomicBool::new(true));
        let url = endpoint(up.clone()).await;
        let base = std::fs::read_to_string(&world.config_path).unwrap();
        let text = format!(
            r#"{base}
[health]
preset = "fast"
quorum = 2
readiness_interval = "2s"

[health.trigger]
mode = "auto"
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
id = "control-a"
runs_in = "control"

[[health.vantage_points]]
id = "control-b"
runs_in = "control"
"#
        );
        let config = world.dir.path().join("ha.toml");
        std::fs::write(&config, text).unwrap();
        // Count only what the instances send.
        world.emu.reset_stats();
        Ha { world, up, config }
    }

    /// The unfenced journal, to read what the instances recorded.
    async fn journal(&self) -> pilotlight_store::DynamoJournal {
        let f = self.world.proxied();
        pilotlight_store::DynamoJournal::new(
            f.dynamodb(self.world.dr()).await,
            pilotlight_aws::Caller::from_factory(&f),
            self.world.dr(),
            JOURNAL,
        )
    }

    async fn runs(&self) -> Vec<pilotlight_core::journal::RunRecord> {
        self.journal()
            .await
            .runs(Some(&self.world.config.environment.name), 50)
            .await
            .expect("read runs")
    }

    /// Start instance `name`; returns it, its API URL and its log lines so far (kept growing).
    async fn instance(&self, name: &str, extra: &[&str]) -> Instance {
        let mut child = bin()
            .args([
                "--journal",
                &self.world.journal(),
                "--runbooks",
                RUNBOOKS,
                "serve",
                "--config",
            ])
            .arg(&self.config)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--ha-journal-table",
                JOURNAL,
                "--ha-lease-table",
                LEASE,
                "--instance",
                name,
                "--lease-duration",
                LEASE_DURATION,
            ])
            .args(extra)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let url = loop {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .expect("serve starts")
                .unwrap()
                .unwrap_or_else(|| {
                    panic!(
                        "{name} stopped before printing its address:\n{}",
                        log.lock().unwrap().join("\n")
                    )
                });
            log.lock().unwrap().push(line.clone());
            if let Some(i) = line.find("API on ") {
                break line[i + 7..].trim().to_string();
            }
        };
        let keep = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(l)) = lines.next_line().await {
                keep.lock().unwrap().push(l);
            }
        });
        Instance {
            name: name.into(),
            child,
            url,
            log,
        }
    }
}

struct Instance {
    name: String,
    child: Child,
    url: String,
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Instance {
    async fn leader(&self) -> Option<Value> {
        let r = reqwest::Client::new()
            .get(format!("{}/api/v1/leader", self.url))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        r.json().await.ok()
    }

    async fn wait_leader(&self, within: Duration) -> u64 {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if let Some(v) = self.leader().await {
                if v["leader"] == true {
                    return v["epoch"].as_u64().expect("a leader has an epoch");
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{} never led; its log:\n{}",
            self.name,
            self.log.lock().unwrap().join("\n")
        );
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    fn logged(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }
}

/// Wait until `f` holds, or fail with `what`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + within;
    while Instant::now() < until {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// The primary goes down; the leader fails over by itself. Returns once the promotion was sent
/// (the emulator keeps the replica `modifying` for a while, so the run is mid-flight).
async fn outage_until_promotion(ha: &Ha, leader: &Instance) {
    ha.world
        .emu
        .control()
        .set_promotion_delay(Duration::from_secs(8))
        .unwrap();
    ha.up.store(false, Ordering::SeqCst);
    let dr = ha.world.dr().to_string();
    let until = Instant::now() + Duration::from_secs(60);
    // (`stats()` is a snapshot: read it again each time.)
    while ha
        .world
        .emu
        .stats()
        .request_count("rds", &dr, "PromoteReadReplica")
        == 0
    {
        assert!(
            Instant::now() < until,
            "the leader never sent the promotion; its log:\n{}",
            leader.log.lock().unwrap().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn assert_one_successful_run(ha: &Ha) {
    eventually(
        Duration::from_secs(120),
        "the failover run succeeds",
        || async {
            ha.runs()
                .await
                .first()
                .is_some_and(|r| r.status == RunStatus::Succeeded)
        },
    )
    .await;
    let runs = ha.runs().await;
    assert_eq!(runs.len(), 1, "one run: {runs:#?}");
    assert_eq!(runs[0].runbook, "failover");
    assert_eq!(runs[0].requested_by, "pilotlight-trigger");
    assert_no_duplicate_side_effects(&ha.world);
}

#[tokio::test(flavor = "multi_thread")]
async fn leader_killed_mid_failover() {
    let _one = SERIAL.lock().await;
    let ha = Ha::new().await;
    let mut a = ha.instance("a", &[]).await;
    let first = a.wait_leader(Duration::from_secs(30)).await;
    let b = ha.instance("b", &[]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        b.leader().await.unwrap()["leader"],
        false,
        "one leader at a time"
    );

    outage_until_promotion(&ha, &a).await;
    let killed_at = Instant::now();
    send_signal(a.pid(), 9);
    let _ = a.child.wait().await;

    let second = b.wait_leader(Duration::from_secs(30)).await;
    assert!(second > first, "a takeover raises the epoch");
    // The successor waits a whole lease duration (3 s) from when it last saw the leader's
    // renewal; the leader renewed every second, so at least 2 s pass after the kill.
    assert!(
        killed_at.elapsed() >= Duration::from_millis(1900),
        "the takeover waited a lease duration since the last renewal: {:?}",
        killed_at.elapsed()
    );
    assert_one_successful_run(&ha).await;
    assert!(b.logged("resuming the environment's interrupted run"));
    let run = &ha.runs().await[0];
    let events = ha.journal().await.events(&run.id).await.unwrap();
    assert!(
        events
            .iter()
            .all(|e| !format!("{:?}", e.event).contains("StepFailed")),
        "no step failed: {events:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn frozen_leader() {
    let _one = SERIAL.lock().await;
    let ha = Ha::new().await;
    // A read timeout shorter than the freeze: the held promotion's timeout has fired when the
    // frozen leader wakes.
    let text = std::fs::read_to_string(&ha.config).unwrap();
    let short = text.replace("read_timeout = \"20s\"", "read_timeout = \"4s\"");
    assert_ne!(short, text, "the sandbox config states the read timeout");
    std::fs::write(&ha.config, short).unwrap();
    let a = ha.instance("a", &[]).await;
    let first = a.wait_leader(Duration::from_secs(30)).await;
    let b = ha.instance("b", &[]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The promotion is applied at once but its answer is held past the freeze, so the frozen
    // leader wakes still waiting for it and its read timeout fires: the attempt must not be
    // sent again (not retried as a change that may have been applied, and not past the lapsed
    // grant). CI once saw this race decided the wrong way: two promotions.
    ha.world
        .emu
        .faults()
        .add(
            FaultRule::new(FaultAction::DelayAnswer { ms: 120_000 })
                .for_service("rds")
                .for_operation("PromoteReadReplica")
                .times(1),
        )
        .expect("valid fault rule");
    outage_until_promotion(&ha, &a).await;
    send_signal(a.pid(), 19); // SIGSTOP
    let second = b.wait_leader(Duration::from_secs(30)).await;
    assert!(second > first);
    assert_one_successful_run(&ha).await;

    // The frozen leader wakes: its grant has lapsed, its renewal is refused, it stands by.
    send_signal(a.pid(), 18); // SIGCONT
    eventually(
        Duration::from_secs(15),
        "the woken leader stands by",
        || {
            let a = &a;
            async move { a.leader().await.is_some_and(|v| v["leader"] == false) }
        },
    )
    .await;
    assert!(
        a.logged("a stands by"),
        "{}",
        a.log.lock().unwrap().join("\n")
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(b.leader().await.unwrap()["leader"], true);
    // Nothing it held reached AWS twice, and the run is still the one successful run.
    assert_no_duplicate_side_effects(&ha.world);
    let runs = ha.runs().await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread")]
async fn clock_skew() {
    let _one = SERIAL.lock().await;
    let ha = Ha::new().await;
    // A's clock runs 30 s ahead, B's 30 s behind, as far as the lease item shows.
    let mut a = ha
        .instance("a", &["--test-wall-clock-offset-ms", "30000"])
        .await;
    a.wait_leader(Duration::from_secs(30)).await;
    let b = ha
        .instance("b", &["--test-wall-clock-offset-ms", "-30000"])
        .await;
    // Never two leaders while both run (B sees an `expires_at_ms` 60 s in its past).
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        let (la, lb) = (a.leader().await.unwrap(), b.leader().await.unwrap());
        assert!(
            !(la["leader"] == true && lb["leader"] == true),
            "two leaders: {la} {lb}"
        );
        assert_eq!(la["leader"], true, "A keeps leading while it renews");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A stops without releasing (killed): B takes over, but only after a whole lease duration
    // of its own monotonic clock, whatever the times in the item say.
    let killed_at = Instant::now();
    send_signal(a.pid(), 9);
    let _ = a.child.wait().await;
    b.wait_leader(Duration::from_secs(30)).await;
    assert!(
        killed_at.elapsed() >= Duration::from_millis(1900),
        "a lease duration since the last renewal: {:?}",
        killed_at.elapsed()
    );
}

fn token(ha: &Ha, role: &str) -> String {
    std::fs::read_to_string(ha.world.dir.path().join(format!("token-{role}")))
        .expect("sandbox up writes a token per role")
        .trim()
        .to_string()
}

/// POST `path` on `base` with `req` built by `with`; the status, the body and the
/// `x-pilotlight-forwarded-to` header.
async fn post(
    base: &str,
    path: &str,
    with: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> (u16, Value, Option<String>) {
    let r = with(reqwest::Client::new().post(format!("{base}{path}")))
        .timeout(Duration::from_secs(40))
        .send()
        .await
        .expect("the instance answers");
    let status = r.status().as_u16();
    let to = r
        .headers()
        .get("x-pilotlight-forwarded-to")
        .map(|v| v.to_str().unwrap().to_string());
    (status, r.json().await.unwrap_or(Value::Null), to)
}

/// A follower forwards actions to the leader it sees in the lease: a bearer-token start and a
/// console session's pause (signed with the shared key) are carried out by the leader for the
/// person who made them. The leader refuses an assertion signed with another key and a
/// replayed one.
#[tokio::test(flavor = "multi_thread")]
async fn follower_forwards_actions_to_the_leader() {
    use pilotlight_server::forward::{Assertion, ForwardKey, ASSERTION, SIGNATURE};
    let _one = SERIAL.lock().await;
    let ha = Ha::new().await;
    let secret = ha.world.dir.path().join("forward.key");
    std::fs::write(&secret, "0123456789abcdef0123456789abcdef-shared\n").unwrap();
    let key_arg = ["--ha-forward-secret-file", secret.to_str().unwrap()];
    let a = ha.instance("a", &key_arg).await;
    a.wait_leader(Duration::from_secs(30)).await;
    let b = ha.instance("b", &key_arg).await;
    eventually(
        Duration::from_secs(10),
        "b sees a lead at its address",
        || async {
            b.leader().await.is_some_and(|v| {
                v["leader"] == false
                    && v["leader_seen"]["instance"] == "a"
                    && v["leader_seen"]["address"] == a.url.as_str()
            })
        },
    )
    .await;
    ha.world
        .emu
        .control()
        .set_promotion_delay(Duration::from_secs(6))
        .unwrap();

    // A bearer-token failover sent to the follower is started by the leader.
    let env = ha.world.config.environment.name.clone();
    let operator = token(&ha, "operator");
    let (status, v, to) = post(&b.url, "/api/v1/runs", |r| {
        r.bearer_auth(&operator).json(&serde_json::json!({
            "runbook": "failover", "reason": "forwarded by a follower", "confirm": env,
            "planned": false, "idempotency_key": "forwarded-1",
        }))
    })
    .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(to.as_deref(), Some("a"), "answered by the leader");
    let run_id = v["run_id"].as_str().expect("a run id").to_string();

    // A console session signed in on the follower pauses it, through the leader.
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/session", b.url))
        .json(&serde_json::json!({ "token": token(&ha, "approver") }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let session: Value = r.json().await.unwrap();
    let csrf = session["csrf_token"].as_str().unwrap().to_string();
    let user = session["user"].as_str().unwrap().to_string();
    let pause = format!("/api/v1/runs/{run_id}/pause");
    // Without the CSRF token the follower refuses it itself.
    let (status, v, to) = post(&b.url, &pause, |r| r.header("cookie", &cookie)).await;
    assert_eq!((status, to), (403, None), "{v}");
    let (status, v, to) = post(&b.url, &pause, |r| {
        r.header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&serde_json::json!({ "reason": "look first" }))
    })
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(to.as_deref(), Some("a"));

    eventually(Duration::from_secs(60), "the run pauses", || async {
        ha.runs()
            .await
            .first()
            .is_some_and(|r| r.status == RunStatus::Paused)
    })
    .await;

    // The leader checks assertions itself: another key, then a replay, are refused.
    let resume = format!("/api/v1/runs/{run_id}/resume");
    let body = br#"{"reason":"carry on"}"#;
    let forge = |key: &ForwardKey| {
        let assertion = Assertion {
            principal: pilotlight_core::access::Principal {
                name: user.clone(),
                role: pilotlight_core::access::Role::Approver,
            },
            via: "b".into(),
            at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64,
            nonce: format!("{:?}", Instant::now()),
        }
        .encode();
        let sig = key.sign("POST", &resume, body, &assertion);
        (assertion, sig)
    };
    let wrong = ForwardKey::from_bytes(&[9u8; 32]).unwrap();
    let (assertion, sig) = forge(&wrong);
    let send = |assertion: String, sig: String| {
        let resume = resume.clone();
        let url = a.url.clone();
        async move {
            post(&url, &resume, |r| {
                r.header(ASSERTION, assertion)
                    .header(SIGNATURE, sig)
                    .header("content-type", "application/json")
                    .body(body.to_vec())
            })
            .await
        }
    };
    let (status, v, _) = send(assertion, sig).await;
    assert_eq!(status, 401, "another key is refused: {v}");
    let right = ForwardKey::from_file(&secret).unwrap();
    let (assertion, sig) = forge(&right);
    let (status, v, _) = send(assertion.clone(), sig.clone()).await;
    assert_eq!(status, 200, "the shared key is accepted: {v}");
    let (status, v, _) = send(assertion, sig).await;
    assert_eq!(status, 401, "a replay is refused: {v}");
    assert!(v["error"].as_str().unwrap().contains("replay"), "{v}");

    eventually(
        Duration::from_secs(120),
        "the forwarded run succeeds",
        || async {
            ha.runs()
                .await
                .first()
                .is_some_and(|r| r.status == RunStatus::Succeeded)
        },
    )
    .await;
    let runs = ha.runs().await;
    assert_eq!(runs.len(), 1, "one run: {runs:#?}");
    assert_eq!(runs[0].id, run_id);
    assert_eq!(runs[0].reason, "forwarded by a follower");
    let events = ha.journal().await.events(&run_id).await.unwrap();
    let paused_by: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.event {
            pilotlight_core::run::Event::Paused { by, .. } => Some(by.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        paused_by,
        vec![user.clone()],
        "the session's person paused it"
    );
    assert!(
        a.logged("acting on an action forwarded by a follower"),
        "the leader logs forwarded console actions"
    );
    assert!(b.logged("action forwarded to the leader"));
    // One audit log for both instances, in the HA store: the sign-in on b and the actions the
    // leader carried out, in one unbroken chain.
    {
        use pilotlight_core::audit::{verify_chain, AuditLog};
        let entries = ha.journal().await.audit_entries(0, 1000).await.unwrap();
        assert_eq!(verify_chain(&entries), Ok(()));
        let allowed = |action: &str, actor: &str| {
            entries
                .iter()
                .any(|e| e.action == action && e.actor == actor && e.outcome.label() == "allowed")
        };
        assert!(allowed("session.create", &user), "{entries:#?}");
        assert!(allowed("run.pause", &user), "{entries:#?}");
        assert!(
            entries
                .iter()
                .any(|e| e.action == "run.start" && e.target == "failover"),
            "{entries:#?}"
        );
        // `pilotlight audit verify` reads the same chain, and names an entry changed in place.
        let verify = || async {
            common::pilotlight(&[
                "audit",
                "verify",
                "--ha-journal-table",
                JOURNAL,
                "--config",
                ha.config.to_str().unwrap(),
            ])
            .await
        };
        let run = verify().await;
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stdout
                .contains(&format!("audit log intact: {} entries", entries.len())),
            "{}",
            run.stdout
        );
        use aws_sdk_dynamodb::types::AttributeValue;
        ha.world
            .proxied()
            .dynamodb(ha.world.dr())
            .await
            .update_item()
            .table_name(JOURNAL)
            .key("run_id", AttributeValue::S("#audit#".into()))
            .key("seq", AttributeValue::N("2".into()))
            .update_expression("SET actor = :m")
            .expression_attribute_values(":m", AttributeValue::S("mallory".into()))
            .send()
            .await
            .unwrap();
        let run = verify().await;
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains("audit log BROKEN at entry 2"),
            "{}",
            run.stdout
        );
    }
    assert_no_duplicate_side_effects(&ha.world);

    // A drill sent to the follower is conducted by the leader, and its report, kept in the HA
    // store, is listed by the follower.
    let (status, v, to) = post(&b.url, "/api/v1/runs", |r| {
        r.bearer_auth(&operator).json(&serde_json::json!({
            "runbook": "drill", "mode": "isolated", "reason": "drill through a follower",
            "confirm": env,
        }))
    })
    .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(to.as_deref(), Some("a"), "conducted by the leader");
    let drill_id = v["drill_id"].as_str().expect("a drill id").to_string();
    let listed = |url: String| {
        let operator = operator.clone();
        async move {
            reqwest::Client::new()
                .get(format!("{url}/api/v1/drills"))
                .bearer_auth(&operator)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    eventually(
        Duration::from_secs(120),
        "the follower lists the drill the leader conducted",
        || async {
            listed(b.url.clone()).await["drills"]
                .as_array()
                .is_some_and(|d| d.iter().any(|d| d["id"] == drill_id.as_str()))
        },
    )
    .await;
    let on_a = listed(a.url.clone()).await;
    assert_eq!(on_a["current"]["id"], drill_id.as_str(), "{on_a}");
    assert_eq!(on_a["current"]["status"], "finished", "{on_a}");
    assert_eq!(on_a["current"]["error"], Value::Null, "{on_a}");
}
