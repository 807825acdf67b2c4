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
    let a = ha.instance("a", &[]).await;
    let first = a.wait_leader(Duration::from_secs(30)).await;
    let b = ha.instance("b", &[]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

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
