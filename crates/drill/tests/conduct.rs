//! The drill conductor over in-memory fakes: an isolated drill makes, verifies and removes its
//! copies and proves nothing is left; a removal that fails, a copy that never verifies, an
//! interrupted drill and a stray resource all fail it loudly; a full drill refuses production
//! and does not fail back after a failed failover.

use pilotlight_core::error::{CapabilityError, ErrorClass};
use pilotlight_core::model::EnvironmentConfig;
use pilotlight_drill::build::RunRecords;
use pilotlight_drill::canary::{CanaryPlan, CanaryStore};
use pilotlight_drill::conduct::{self, DrillError, DrillRuns, DrillSetup, IsolatedTimings};
use pilotlight_drill::isolated::{self, Copy, CopyKind, DrillCopies};
use pilotlight_drill::store::DrillStart;
use pilotlight_drill::Mode;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn env(tier: &str) -> EnvironmentConfig {
    toml::from_str(&format!(
        r#"
[environment]
name = "svc"
tier = "{tier}"
[regions]
primary = "us-east-1"
dr = "us-west-2"
[objectives]
rto = "15m"
rpo = "1m"
[[rds_replicas]]
name = "db"
primary_instance = "app-db"
replica_instance = "app-db-replica"
[[ecs_services]]
name = "api"
cluster = "apps"
service = "api"
pilot_light_count = 1
active_count = 4
[[autoscaling_groups]]
name = "routers"
group = "media-routers"
pilot_light_capacity = 0
active_capacity = 2
[[dynamodb_tables]]
name = "sessions"
table = "sessions"
"#
    ))
    .unwrap()
}

fn err(op: &str, class: ErrorClass) -> CapabilityError {
    CapabilityError {
        class,
        service: "fake".into(),
        region: "us-west-2".into(),
        operation: op.into(),
        code: None,
        message: format!("{op} refused by the test"),
        hint: "none".into(),
    }
}

/// A region's resources, in memory.
#[derive(Default)]
struct FakeCopies {
    existing: Mutex<BTreeMap<(CopyKind, String), String>>,
    log: Mutex<Vec<String>>,
    /// Kinds whose removal fails.
    remove_fails: BTreeSet<CopyKind>,
    /// Kinds that never verify.
    never_ready: BTreeSet<CopyKind>,
    /// A resource with the drill's id in its name that no step made.
    stray: Mutex<Option<(CopyKind, String)>>,
}

#[async_trait::async_trait]
impl DrillCopies for FakeCopies {
    async fn create(&self, copy: &Copy) -> Result<(), CapabilityError> {
        if copy.kind == CopyKind::RdsInstance {
            let snap = (CopyKind::RdsSnapshot, copy.source.clone());
            assert!(
                self.existing.lock().unwrap().contains_key(&snap),
                "the instance is restored from its snapshot, made first"
            );
        }
        self.log
            .lock()
            .unwrap()
            .push(format!("create {}", copy.name));
        self.existing
            .lock()
            .unwrap()
            .insert((copy.kind, copy.name.clone()), copy.source.clone());
        Ok(())
    }
    async fn verify(&self, copy: &Copy) -> Result<Option<String>, CapabilityError> {
        if self.never_ready.contains(&copy.kind) {
            return Ok(None);
        }
        Ok(Some(format!("ready {}", copy.size)))
    }
    async fn remove(&self, copy: &Copy) -> Result<(), CapabilityError> {
        if self.remove_fails.contains(&copy.kind) {
            return Err(err("Delete", ErrorClass::Credentials));
        }
        self.log
            .lock()
            .unwrap()
            .push(format!("remove {}", copy.name));
        self.existing
            .lock()
            .unwrap()
            .remove(&(copy.kind, copy.name.clone()));
        Ok(())
    }
    async fn list_marked(
        &self,
        region: &str,
        marker: &str,
        clusters: &[String],
    ) -> Result<Vec<(CopyKind, String)>, CapabilityError> {
        assert_eq!(region, "us-west-2");
        assert_eq!(clusters, ["apps".to_string()]);
        let mut out: Vec<(CopyKind, String)> = self
            .existing
            .lock()
            .unwrap()
            .keys()
            .filter(|(_, n)| n.contains(marker))
            .cloned()
            .collect();
        out.extend(self.stray.lock().unwrap().clone());
        Ok(out)
    }
}

/// A DynamoDB-like store whose canaries all replicate.
struct Replicating(Mutex<BTreeSet<String>>);

#[async_trait::async_trait]
impl CanaryStore for Replicating {
    fn kind(&self) -> &str {
        "dynamodb"
    }
    fn name(&self) -> &str {
        "sessions"
    }
    async fn write(&self, key: &str, _: u64) -> Result<(), CapabilityError> {
        self.0.lock().unwrap().insert(key.to_string());
        Ok(())
    }
    async fn arrived(&self, key: &str) -> Result<bool, CapabilityError> {
        Ok(self.0.lock().unwrap().contains(key))
    }
}

fn setup(tier: &str) -> DrillSetup {
    let t = Arc::new(AtomicU64::new(1_000_000));
    DrillSetup {
        env: env(tier),
        id: "drill-20261122-050000-abcd".into(),
        by: "tester".into(),
        canaries: vec![Arc::new(Replicating(Mutex::default()))],
        canary_plan: CanaryPlan {
            count: 2,
            interval: Duration::from_millis(1),
        },
        trend: Vec::new(),
        clock: Arc::new(move || t.fetch_add(10, Ordering::SeqCst)),
        progress: Arc::new(|_| {}),
    }
}

fn quick() -> IsolatedTimings {
    IsolatedTimings {
        ready_timeout: Duration::from_millis(200),
        cleanup_timeout: Duration::from_millis(100),
        poll: Duration::from_millis(10),
    }
}

fn never_cancelled() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    std::mem::forget(tx);
    rx
}

#[tokio::test]
async fn an_isolated_drill_makes_verifies_and_removes_every_copy() {
    let s = setup("production");
    let copies = FakeCopies::default();
    let r = conduct::isolated(&s, &copies, quick(), never_cancelled()).await;
    assert_eq!(r.mode, Mode::Isolated);
    assert!(r.verdict.passed, "{:?}", r.verdict.reasons);
    let kinds: Vec<&str> = r.resources.iter().map(|x| x.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "rds_snapshot",
            "rds_instance",
            "ecs_service",
            "autoscaling_group"
        ]
    );
    for x in &r.resources {
        assert!(
            x.name.ends_with("-drill-20261122-050000-abcd"),
            "{}",
            x.name
        );
        assert!(
            x.removed_at_ms.is_some(),
            "{} not confirmed removed",
            x.name
        );
        assert!(x.verified.starts_with("ready"), "{}", x.verified);
        assert_eq!(x.region, "us-west-2");
    }
    assert!(copies.existing.lock().unwrap().is_empty());
    let log = copies.log.lock().unwrap().clone();
    let pos = |s: &str| log.iter().position(|l| l == s).unwrap();
    assert!(
        pos("remove app-db-replica-drill-20261122-050000-abcd")
            > pos("create app-db-replica-drill-20261122-050000-abcd")
    );
    assert_eq!(r.steps.len(), 4);
    let ids: Vec<&str> = r.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "snapshot_rds_replica-app-db-replica",
            "restore_rds_copy-app-db-replica",
            "copy_ecs_service-api",
            "copy_autoscaling_group-media-routers"
        ]
    );
    assert!(r.steps.iter().all(|s| s.status == "succeeded"));
    assert!(r.rto.measured_ms.is_some());
    assert!(r.rpo.iter().any(|s| s.kind == "dynamodb" && s.measured));
    assert!(r.rpo.iter().any(|s| s.kind == "rds" && !s.measured));
    assert!(r
        .limitations
        .iter()
        .any(|l| l.contains("DNS is not shifted")));
    let phases: Vec<&str> = r.phases.iter().map(|p| p.phase.name()).collect();
    assert!(phases.contains(&"database") && phases.contains(&"compute"));
}

#[tokio::test]
async fn a_copy_that_cannot_be_removed_fails_the_drill_loudly() {
    let s = setup("production");
    let copies = FakeCopies {
        remove_fails: [CopyKind::EcsService].into(),
        ..Default::default()
    };
    let r = conduct::isolated(&s, &copies, quick(), never_cancelled()).await;
    assert!(!r.verdict.passed);
    let left = r.leftovers();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].kind, "ecs_service");
    assert!(left[0].verified.contains("removal failed"));
    assert!(r
        .verdict
        .reasons
        .iter()
        .any(|x| x.starts_with("LEFT BEHIND: ecs_service api-drill-")));
    // Everything else was still removed.
    assert_eq!(copies.existing.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_copy_that_never_verifies_fails_the_drill_and_is_still_removed() {
    let s = setup("production");
    let copies = FakeCopies {
        never_ready: [CopyKind::RdsSnapshot].into(),
        ..Default::default()
    };
    let r = conduct::isolated(&s, &copies, quick(), never_cancelled()).await;
    assert!(!r.verdict.passed);
    assert!(r.rto.measured_ms.is_none(), "nothing recovered, no RTO");
    assert!(r
        .verdict
        .reasons
        .iter()
        .any(|x| x.contains("did not verify within")));
    // The instance was never restored from a snapshot that did not verify.
    let instance = r
        .steps
        .iter()
        .find(|s| s.kind == "restore_rds_copy")
        .unwrap();
    assert_eq!(instance.status, "skipped");
    assert!(!r.resources.iter().any(|x| x.kind == "rds_instance"));
    assert!(copies.existing.lock().unwrap().is_empty());
    assert!(r.leftovers().is_empty());
}

#[tokio::test]
async fn an_interrupted_isolated_drill_removes_its_copies() {
    let s = setup("production");
    let copies = FakeCopies {
        never_ready: [CopyKind::EcsService].into(),
        ..Default::default()
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    let timings = IsolatedTimings {
        ready_timeout: Duration::from_secs(600),
        ..quick()
    };
    let stop = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        tx.send(true).unwrap();
    };
    let (r, ()) = tokio::join!(conduct::isolated(&s, &copies, timings, rx), stop);
    assert!(!r.verdict.passed);
    assert!(r.limitations.iter().any(|l| l.contains("interrupted")));
    assert!(copies.existing.lock().unwrap().is_empty());
    assert!(r.leftovers().is_empty());
}

#[tokio::test]
async fn a_stray_resource_with_the_drill_id_is_reported_as_left_behind() {
    let s = setup("production");
    let copies = FakeCopies::default();
    *copies.stray.lock().unwrap() = Some((
        CopyKind::RdsSnapshot,
        format!("other-{}", "drill-20261122-050000-abcd"),
    ));
    let r = conduct::isolated(&s, &copies, quick(), never_cancelled()).await;
    assert!(!r.verdict.passed);
    assert_eq!(r.leftovers().len(), 1);
    assert_eq!(r.leftovers()[0].name, "other-drill-20261122-050000-abcd");
}

fn start_of(s: &DrillSetup, mode: Mode) -> DrillStart {
    DrillStart {
        id: s.id.clone(),
        environment: s.env.environment.name.clone(),
        mode,
        requested_by: "alice".into(),
        reason: "quarterly".into(),
        started_at_ms: 900_000,
        conductor: "cli".into(),
    }
}

#[tokio::test]
async fn an_unfinished_isolated_drill_is_recovered_its_copies_removed() {
    let s = setup("production");
    let copies = FakeCopies {
        remove_fails: [CopyKind::AutoScalingGroup].into(),
        ..Default::default()
    };
    // The process died after making the snapshot, the ECS copy and the group copy.
    let planned = isolated::copies_for(&s.env, &s.id);
    for c in planned.iter().filter(|c| c.kind != CopyKind::RdsInstance) {
        copies.create(c).await.unwrap();
    }
    copies.log.lock().unwrap().clear();
    let r = conduct::recover(&s, &start_of(&s, Mode::Isolated), &copies, quick()).await;
    assert_eq!(r.id, s.id);
    assert_eq!(r.requested_by, "alice");
    assert_eq!(r.started_at_ms, 900_000);
    assert!(!r.verdict.passed);
    assert!(
        r.verdict.reasons[0].starts_with("interrupted"),
        "{:?}",
        r.verdict
    );
    assert!(
        r.limitations[0].contains("(cli) stopped"),
        "{:?}",
        r.limitations
    );
    // Only what existed is in the report: never the instance that was not restored.
    let mut kinds: Vec<&str> = r.resources.iter().map(|x| x.kind.as_str()).collect();
    kinds.sort();
    assert_eq!(kinds, ["autoscaling_group", "ecs_service", "rds_snapshot"]);
    assert!(!r.resources.iter().any(|x| x.kind == "rds_instance"));
    // Removed, except the group whose removal fails: left behind, and still there.
    assert_eq!(r.leftovers().len(), 1);
    assert_eq!(r.leftovers()[0].kind, "autoscaling_group");
    assert!(r
        .verdict
        .reasons
        .iter()
        .any(|x| x.starts_with("LEFT BEHIND: autoscaling_group")));
    let left: Vec<CopyKind> = copies
        .existing
        .lock()
        .unwrap()
        .keys()
        .map(|k| k.0)
        .collect();
    assert_eq!(left, [CopyKind::AutoScalingGroup]);
    assert!(copies
        .log
        .lock()
        .unwrap()
        .iter()
        .all(|l| l.starts_with("remove ")));
}

#[tokio::test]
async fn an_unfinished_full_drill_is_reported_without_touching_anything() {
    let s = setup("staging");
    let copies = FakeCopies::default();
    let r = conduct::recover(&s, &start_of(&s, Mode::Full), &copies, quick()).await;
    assert_eq!(r.mode, Mode::Full);
    assert!(!r.verdict.passed);
    assert!(r.resources.is_empty());
    assert!(r.limitations.iter().any(|l| l.contains("pilotlight runs")));
    assert!(copies.log.lock().unwrap().is_empty());
}

/// Runs that end as told./// Runs that end as told.
struct Runs {
    failover_status: &'static str,
    started: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl DrillRuns for Runs {
    async fn run(&self, runbook: &str, key: &str, _: &str) -> Result<RunRecords, String> {
        self.started
            .lock()
            .unwrap()
            .push(format!("{runbook} {key}"));
        let status = if runbook == "failover" {
            self.failover_status
        } else {
            "succeeded"
        };
        let run = pilotlight_core::journal::RunRecord {
            id: format!("run-{runbook}"),
            environment: "svc".into(),
            runbook: runbook.into(),
            idempotency_key: key.into(),
            requested_by: "tester".into(),
            reason: "drill".into(),
            options: Default::default(),
            plan: pilotlight_core::plan::Plan {
                runbook: runbook.into(),
                direction: if runbook == "failover" {
                    pilotlight_core::runbook::Direction::Failover
                } else {
                    pilotlight_core::runbook::Direction::Failback
                },
                environment: "svc".into(),
                nodes: Vec::new(),
                critical_path: Vec::new(),
                critical_path_estimate: Duration::ZERO,
                max_parallel: 1,
            },
            status: if status == "succeeded" {
                pilotlight_core::run::RunStatus::Succeeded
            } else {
                pilotlight_core::run::RunStatus::Failed
            },
            created_at_ms: 1_000_100,
            finished_at_ms: Some(1_000_500),
        };
        Ok(RunRecords {
            run,
            events: Vec::new(),
            decisions: Vec::new(),
        })
    }
}

#[tokio::test]
async fn a_full_drill_refuses_production_and_fails_back_only_after_a_failover_that_succeeded() {
    let runs = Runs {
        failover_status: "succeeded",
        started: Mutex::default(),
    };
    match conduct::full(&setup("production"), &runs).await {
        Err(DrillError::Production(name)) => assert_eq!(name, "svc"),
        other => panic!("expected a refusal, got {:?}", other.map(|r| r.id)),
    }
    assert!(runs.started.lock().unwrap().is_empty());

    let s = setup("staging");
    let r = conduct::full(&s, &runs).await.unwrap();
    assert_eq!(
        *runs.started.lock().unwrap(),
        [
            "failover drill-20261122-050000-abcd-failover",
            "failback drill-20261122-050000-abcd-failback"
        ]
    );
    assert_eq!(r.runs.len(), 2);
    assert!(r.rto.measured_ms.is_some());

    let failing = Runs {
        failover_status: "failed",
        started: Mutex::default(),
    };
    let r = conduct::full(&s, &failing).await.unwrap();
    assert_eq!(failing.started.lock().unwrap().len(), 1, "no failback");
    assert!(!r.verdict.passed);
    assert!(r.rto.measured_ms.is_none());
}
