//! The journal conformance suite: the properties every [`Journal`] implementation (SQLite
//! today, DynamoDB later) must have. Each property is a public async function that panics with
//! an explanation when the journal breaks it; [`run_all`] runs them all.
//!
//! Give the suite a fresh, empty journal. Each property uses its own environments and
//! idempotency keys, so they may run one after another on the same journal, but not twice.
//! Properties that need the journal's storage (data surviving a restart, a full disk, a
//! corrupt file) are backend-specific and live with each backend's tests.
//!
//! ```no_run
//! # async fn demo() {
//! // In a backend's tests (`#[tokio::test]`), with a fresh journal:
//! let journal = pilotlight_store::SqliteJournal::open_in_memory().unwrap();
//! pilotlight_store::conformance::run_all(&journal).await;
//! # }
//! ```

use crate::status_after;
use pilotlight_core::journal::{
    CreateOutcome, Decision, Journal, JournalError, RunOptions, RunRecord, StoredEvent,
};
use pilotlight_core::model::{ResourceKind, ResourceRef};
use pilotlight_core::plan::{Action, CapacityTarget, Plan, PlanNode};
use pilotlight_core::run::{Event, RunState, RunStatus};
use pilotlight_core::runbook::{Direction, RetrySpec, StepKind};
use std::time::Duration;

/// A small, valid plan for `environment`: a readiness gate, an ECS scale-up, a capacity wait
/// (with a fractional threshold, to check floats round-trip) and a notification.
pub fn sample_plan(environment: &str) -> Plan {
    let node = |id: &str, kind: StepKind, action: Action, deps: &[&str], secs: u64| PlanNode {
        id: id.to_string(),
        step: id.split('/').next().unwrap_or(id).to_string(),
        kind,
        target: None,
        action,
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        timeout: Duration::from_secs(secs * 10),
        estimate: Duration::from_secs(secs),
        retry: RetrySpec::default(),
        optional: false,
        drain_timeout: None,
    };
    let api = ResourceRef {
        kind: ResourceKind::EcsService,
        name: "api".into(),
    };
    let mut scale = node(
        "scale/api",
        StepKind::ScaleEcs,
        Action::ScaleEcs {
            region: "us-west-2".into(),
            cluster: "confer".into(),
            service: "confer-api".into(),
            desired: 4,
        },
        &["readiness"],
        60,
    );
    scale.target = Some(api.clone());
    let mut notify = node(
        "announce",
        StepKind::Notify,
        Action::Notify {
            message: format!("failover of {environment} started — ünïcode ok"),
        },
        &[],
        1,
    );
    notify.optional = true;
    Plan {
        runbook: "failover".into(),
        direction: Direction::Failover,
        environment: environment.to_string(),
        nodes: vec![
            node(
                "readiness",
                StepKind::ReadinessGate,
                Action::ReadinessGate,
                &[],
                10,
            ),
            notify,
            scale,
            node(
                "capacity",
                StepKind::WaitUntil,
                Action::WaitCapacity {
                    targets: vec![CapacityTarget {
                        resource: api,
                        region: "us-west-2".into(),
                        cluster: "confer".into(),
                        name: "confer-api".into(),
                        desired: 4,
                    }],
                    fraction: 0.8,
                },
                &["scale/api"],
                120,
            ),
        ],
        critical_path: vec!["readiness".into(), "scale/api".into(), "capacity".into()],
        critical_path_estimate: Duration::from_secs(190),
        max_parallel: 4,
    }
}

/// A new, running run of [`sample_plan`] with the given id, environment, idempotency key and
/// creation time.
pub fn sample_run(
    id: &str,
    environment: &str,
    idempotency_key: &str,
    created_at_ms: u64,
) -> RunRecord {
    RunRecord {
        id: id.to_string(),
        environment: environment.to_string(),
        runbook: "failover".into(),
        idempotency_key: idempotency_key.to_string(),
        requested_by: "alice@example.com".into(),
        reason: "primary region unreachable from 3/3 vantage points".into(),
        options: RunOptions {
            planned: false,
            allow_data_loss: Some("lag 40s accepted by the incident commander".into()),
            override_readiness: None,
        },
        plan: sample_plan(environment),
        status: RunStatus::Running,
        created_at_ms,
        finished_at_ms: None,
    }
}

fn finished(status: RunStatus, at_ms: u64) -> Event {
    Event::RunFinished { status, at_ms }
}

async fn create(j: &dyn Journal, run: &RunRecord) -> RunRecord {
    match j.create_run(run).await {
        Ok(CreateOutcome::Created(r)) => {
            assert_eq!(&r, run, "create_run must return the run as given");
            r
        }
        other => panic!("creating run {} should create it, got {other:?}", run.id),
    }
}

async fn finish(j: &dyn Journal, run_id: &str, status: RunStatus, at_ms: u64) {
    j.append(run_id, &finished(status, at_ms))
        .await
        .unwrap_or_else(|e| panic!("finishing run {run_id}: {e}"));
}

/// Run every property of the suite, one after another, on `j` (a fresh, empty journal).
pub async fn run_all(j: &dyn Journal) {
    create_get_and_list(j).await;
    idempotent_create(j).await;
    concurrent_create_makes_one_run(j).await;
    one_active_run_per_environment(j).await;
    append_order_and_seq(j).await;
    status_follows_events(j).await;
    decisions_round_trip(j).await;
    unknown_ids_are_not_found(j).await;
    health_events_round_trip(j).await;
}

/// Health events read back exactly, newest first, per environment, limited; they need no run.
pub async fn health_events_round_trip(j: &dyn Journal) {
    use pilotlight_core::journal::HealthEvent;
    let ev = |env: &str, kind: &str, at_ms: u64, run_id: Option<&str>| HealthEvent {
        environment: env.to_string(),
        kind: kind.to_string(),
        summary: format!("{kind} at {at_ms}"),
        detail: serde_json::json!({ "votes": { "down": 2, "of": 3 }, "ratio": 0.25 }),
        run_id: run_id.map(str::to_string),
        at_ms,
    };
    let written = [
        ev("conf-health-a", "declaration", 1, None),
        ev("conf-health-b", "declaration", 2, None),
        ev("conf-health-a", "trigger_hold", 3, None),
        ev("conf-health-a", "trigger_fail_over", 4, Some("some-run")),
    ];
    for e in &written {
        j.record_health_event(e).await.expect("record health event");
    }
    let a = j.health_events("conf-health-a", 10).await.expect("read");
    assert_eq!(
        a,
        vec![written[3].clone(), written[2].clone(), written[0].clone()]
    );
    let limited = j.health_events("conf-health-a", 2).await.expect("read");
    assert_eq!(limited, vec![written[3].clone(), written[2].clone()]);
    assert!(j
        .health_events("conf-health-none", 5)
        .await
        .expect("read")
        .is_empty());
}

/// Runs read back exactly as created, one by one and in lists (newest first, filtered by
/// environment, limited).
pub async fn create_get_and_list(j: &dyn Journal) {
    let (a, b) = ("conf-list-a", "conf-list-b");
    let mut created = Vec::new();
    // Three successive runs of `a` (each finished before the next), one of `b` in between.
    for i in 0..3u64 {
        let run = create(
            j,
            &sample_run(
                &format!("conf-list-a{i}"),
                a,
                &format!("conf-list-a{i}"),
                10_000 + 2 * i,
            ),
        )
        .await;
        assert_eq!(
            j.run(&run.id).await.expect("get run"),
            run,
            "run() must return the stored run"
        );
        finish(j, &run.id, RunStatus::Succeeded, 20_000 + i).await;
        created.push(run.id);
    }
    let other = create(j, &sample_run("conf-list-b0", b, "conf-list-b0", 10_003)).await;

    let listed = j.runs(Some(a), 100).await.expect("list runs of a");
    let ids: Vec<&str> = listed.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        ["conf-list-a2", "conf-list-a1", "conf-list-a0"],
        "runs of an environment, newest first"
    );
    for r in &listed {
        assert_eq!(r.status, RunStatus::Succeeded);
        assert_eq!(r.plan, sample_plan(a), "the plan must read back exactly");
        assert!(r.finished_at_ms.is_some());
    }
    let limited = j.runs(Some(a), 2).await.expect("list with limit");
    assert_eq!(
        limited.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["conf-list-a2", "conf-list-a1"],
        "limit keeps the newest"
    );
    assert!(
        j.runs(Some(a), 0).await.expect("limit 0").is_empty(),
        "limit 0 lists nothing"
    );
    assert_eq!(
        j.runs(Some(b), 100).await.expect("list b"),
        vec![other.clone()]
    );
    assert!(j
        .runs(Some("conf-list-none"), 100)
        .await
        .expect("unknown env")
        .is_empty());

    let all = j.runs(None, 1000).await.expect("list all runs");
    assert!(
        all.windows(2)
            .all(|w| w[0].created_at_ms >= w[1].created_at_ms),
        "all runs must be listed newest first"
    );
    let ours: Vec<&str> = all
        .iter()
        .filter(|r| r.environment == a || r.environment == b)
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(
        ours,
        [
            "conf-list-a2",
            "conf-list-b0",
            "conf-list-a1",
            "conf-list-a0"
        ]
    );
    assert_eq!(j.runs(None, 2).await.expect("limit").len(), 2);
    assert_eq!(j.active_run(b).await.expect("active b"), Some(other));
    assert_eq!(
        j.active_run(a).await.expect("active a"),
        None,
        "every run of a finished"
    );
}

/// The same idempotency key twice makes one run: the second call returns the stored run
/// (with its current status), whatever else the second request says.
pub async fn idempotent_create(j: &dyn Journal) {
    let env = "conf-idem";
    let first = create(j, &sample_run("conf-idem-1", env, "conf-idem-key", 30_000)).await;
    match j.create_run(&first).await.expect("same request again") {
        CreateOutcome::Existing(r) => assert_eq!(r, first),
        other => panic!("the same request twice must return the existing run, got {other:?}"),
    }
    // A retried request may carry a fresh id and time: still the same run.
    let retry = sample_run("conf-idem-2", env, "conf-idem-key", 30_500);
    match j.create_run(&retry).await.expect("retried request") {
        CreateOutcome::Existing(r) => assert_eq!(r.id, first.id),
        other => panic!("a retried request must return the existing run, got {other:?}"),
    }
    assert!(
        matches!(j.run("conf-idem-2").await, Err(JournalError::NotFound(_))),
        "no second run"
    );
    // Existing reflects the run as it is now, and the key still matches once it finished.
    j.append(
        &first.id,
        &Event::Paused {
            by: "bob".into(),
            at_ms: 30_100,
        },
    )
    .await
    .expect("pause");
    match j.create_run(&retry).await.expect("retried again") {
        CreateOutcome::Existing(r) => assert_eq!(r.status, RunStatus::Paused),
        other => panic!("expected the existing run, got {other:?}"),
    }
    finish(j, &first.id, RunStatus::Aborted, 30_200).await;
    match j.create_run(&retry).await.expect("retried after the end") {
        CreateOutcome::Existing(r) => {
            assert_eq!(r.id, first.id);
            assert_eq!(r.status, RunStatus::Aborted);
        }
        other => panic!("a finished run's key must still return it, got {other:?}"),
    }
    assert_eq!(
        j.runs(Some(env), 100).await.expect("list").len(),
        1,
        "exactly one run"
    );
}

/// Many concurrent requests with one idempotency key (a double-clicked button) create exactly
/// one run; concurrent requests with different keys for one environment create exactly one
/// active run and refuse the others with `ActiveRunExists`.
pub async fn concurrent_create_makes_one_run(j: &dyn Journal) {
    let env = "conf-concurrent";
    let same: Vec<RunRecord> = (0..8)
        .map(|i| {
            sample_run(
                &format!("conf-concurrent-{i}"),
                env,
                "conf-concurrent-key",
                40_000 + i,
            )
        })
        .collect();
    let outcomes = futures::future::join_all(same.iter().map(|r| j.create_run(r))).await;
    let mut created = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for o in outcomes {
        match o.expect("concurrent create with one key") {
            CreateOutcome::Created(r) => {
                ids.insert(r.id.clone());
                created.push(r);
            }
            CreateOutcome::Existing(r) => {
                ids.insert(r.id);
            }
        }
    }
    assert_eq!(created.len(), 1, "exactly one request creates the run");
    assert_eq!(ids.len(), 1, "every request sees the same run: {ids:?}");

    let env2 = "conf-concurrent-keys";
    let distinct: Vec<RunRecord> = (0..8)
        .map(|i| {
            sample_run(
                &format!("conf-concurrent-k{i}"),
                env2,
                &format!("conf-concurrent-k{i}"),
                41_000 + i,
            )
        })
        .collect();
    let outcomes = futures::future::join_all(distinct.iter().map(|r| j.create_run(r))).await;
    let mut winners = Vec::new();
    for o in outcomes {
        match o {
            Ok(CreateOutcome::Created(r)) => winners.push(r.id),
            Err(JournalError::ActiveRunExists { environment, .. }) => assert_eq!(environment, env2),
            other => panic!("expected Created or ActiveRunExists, got {other:?}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one active run per environment: {winners:?}"
    );
    assert_eq!(j.runs(Some(env2), 100).await.expect("list").len(), 1);
    finish(j, &created[0].id, RunStatus::Succeeded, 42_000).await;
    finish(j, &winners[0], RunStatus::Succeeded, 42_000).await;
}

/// One active (not finished) run per environment: paused and aborting runs count as active;
/// other environments are independent; once the run finishes a new one may start.
pub async fn one_active_run_per_environment(j: &dyn Journal) {
    let (env, other_env) = ("conf-active", "conf-active-other");
    assert_eq!(j.active_run(env).await.expect("no active run yet"), None);
    let first = create(
        j,
        &sample_run("conf-active-1", env, "conf-active-1", 50_000),
    )
    .await;
    assert_eq!(
        j.active_run(env).await.expect("active"),
        Some(first.clone())
    );

    let second = sample_run("conf-active-2", env, "conf-active-2", 50_100);
    let refused = |step: &str, r: Result<CreateOutcome, JournalError>| match r {
        Err(JournalError::ActiveRunExists {
            environment,
            active,
        }) => {
            assert_eq!(
                (environment.as_str(), active.as_str()),
                (env, "conf-active-1"),
                "{step}"
            );
        }
        other => panic!("{step}: a second run must be refused while one is active, got {other:?}"),
    };
    refused("running", j.create_run(&second).await);
    let elsewhere = create(
        j,
        &sample_run("conf-active-x", other_env, "conf-active-x", 50_150),
    )
    .await;

    j.append(
        &first.id,
        &Event::Paused {
            by: "bob".into(),
            at_ms: 50_200,
        },
    )
    .await
    .expect("pause");
    refused("paused", j.create_run(&second).await);
    j.append(
        &first.id,
        &Event::AbortRequested {
            by: "bob".into(),
            at_ms: 50_300,
        },
    )
    .await
    .expect("abort");
    refused("aborting", j.create_run(&second).await);
    assert_eq!(
        j.active_run(env).await.expect("active").map(|r| r.status),
        Some(RunStatus::Aborting)
    );

    finish(j, &first.id, RunStatus::Aborted, 50_400).await;
    assert_eq!(j.active_run(env).await.expect("none active"), None);
    let second = create(j, &second).await;
    assert_eq!(
        j.active_run(env).await.expect("active"),
        Some(second.clone())
    );
    // A late status event on the finished run does not make it active again.
    j.append(
        &first.id,
        &Event::Resumed {
            by: "late".into(),
            at_ms: 50_500,
        },
    )
    .await
    .expect("late event");
    assert_eq!(
        j.run(&first.id).await.expect("run").status,
        RunStatus::Aborted
    );
    assert_eq!(
        j.active_run(env).await.expect("active"),
        Some(second.clone())
    );
    assert_eq!(
        j.active_run(other_env).await.expect("other"),
        Some(elsewhere.clone())
    );
    finish(j, &second.id, RunStatus::Succeeded, 50_600).await;
    finish(j, &elsewhere.id, RunStatus::Succeeded, 50_600).await;
}

fn node_events(node: &str, at: u64) -> Vec<Event> {
    vec![
        Event::NodeStarted {
            node: node.into(),
            attempt: 1,
            at_ms: at,
        },
        Event::NodeObserved {
            node: node.into(),
            live: "desired=1".into(),
            at_ms: at + 1,
        },
        Event::ActionSent {
            node: node.into(),
            detail: "UpdateService desired=4 \"quoted\"\n".into(),
            at_ms: at + 2,
        },
        Event::NodeSucceeded {
            node: node.into(),
            detail: "running=4".into(),
            at_ms: at + 3,
        },
    ]
}

/// Appends return 1, 2, 3… per run; `events` returns them in that order, exactly as appended,
/// and runs' sequences are independent.
pub async fn append_order_and_seq(j: &dyn Journal) {
    let a = create(
        j,
        &sample_run("conf-seq-a", "conf-seq-a", "conf-seq-a", 60_000),
    )
    .await;
    let b = create(
        j,
        &sample_run("conf-seq-b", "conf-seq-b", "conf-seq-b", 60_001),
    )
    .await;
    assert!(j.events(&a.id).await.expect("no events yet").is_empty());
    let mut want_a = Vec::new();
    let mut want_b = Vec::new();
    let mut events = node_events("readiness", 60_100);
    events.push(Event::ApprovalRequested {
        node: "announce".into(),
        at_ms: 60_200,
    });
    events.push(Event::Approved {
        node: "announce".into(),
        by: "carol".into(),
        at_ms: 60_201,
    });
    events.push(Event::NodeFailed {
        node: "announce".into(),
        error: "SNS: AccessDenied; grant sns:Publish".into(),
        at_ms: 60_202,
    });
    events.extend(node_events("scale/api", 60_300));
    // Interleave the two runs.
    for (i, e) in events.iter().enumerate() {
        let seq = j.append(&a.id, e).await.expect("append to a");
        assert_eq!(
            seq,
            i as u64 + 1,
            "sequence numbers count from 1 without gaps"
        );
        want_a.push(StoredEvent {
            seq,
            event: e.clone(),
        });
        if i % 2 == 0 {
            let seq = j.append(&b.id, e).await.expect("append to b");
            want_b.push(StoredEvent {
                seq,
                event: e.clone(),
            });
        }
    }
    assert_eq!(
        j.events(&a.id).await.expect("events a"),
        want_a,
        "events in order, exactly as appended"
    );
    let got_b = j.events(&b.id).await.expect("events b");
    assert_eq!(got_b, want_b);
    assert_eq!(
        got_b.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=want_b.len() as u64).collect::<Vec<_>>()
    );
    // Node events do not change a run's status.
    assert_eq!(j.run(&a.id).await.expect("run").status, RunStatus::Running);
    finish(j, &a.id, RunStatus::Succeeded, 61_000).await;
    finish(j, &b.id, RunStatus::Succeeded, 61_000).await;
}

/// The stored status follows `Paused`, `Resumed`, `AbortRequested` and `RunFinished` events
/// (see [`status_after`]) and always equals the status of the replayed events; `RunFinished`
/// records the end time.
pub async fn status_follows_events(j: &dyn Journal) {
    let env = "conf-status";
    let run = create(
        j,
        &sample_run("conf-status-1", env, "conf-status-1", 70_000),
    )
    .await;
    let steps: Vec<(Event, RunStatus)> = vec![
        (
            Event::NodeStarted {
                node: "readiness".into(),
                attempt: 1,
                at_ms: 70_001,
            },
            RunStatus::Running,
        ),
        (
            Event::Resumed {
                by: "crash-recovery".into(),
                at_ms: 70_002,
            },
            RunStatus::Running,
        ),
        (
            Event::Paused {
                by: "bob".into(),
                at_ms: 70_003,
            },
            RunStatus::Paused,
        ),
        (
            Event::Paused {
                by: "bob".into(),
                at_ms: 70_004,
            },
            RunStatus::Paused,
        ),
        (
            Event::Resumed {
                by: "bob".into(),
                at_ms: 70_005,
            },
            RunStatus::Running,
        ),
        (
            Event::AbortRequested {
                by: "carol".into(),
                at_ms: 70_006,
            },
            RunStatus::Aborting,
        ),
        (
            Event::Resumed {
                by: "crash-recovery".into(),
                at_ms: 70_007,
            },
            RunStatus::Aborting,
        ),
        (
            Event::Paused {
                by: "bob".into(),
                at_ms: 70_008,
            },
            RunStatus::Aborting,
        ),
        (finished(RunStatus::Aborted, 70_009), RunStatus::Aborted),
    ];
    let mut status = run.status;
    for (i, (event, want)) in steps.iter().enumerate() {
        assert_eq!(
            status_after(status, event).unwrap_or(status),
            *want,
            "status_after at step {i}"
        );
        j.append(&run.id, event).await.expect("append");
        let stored = j.run(&run.id).await.expect("run");
        assert_eq!(
            stored.status, *want,
            "stored status after step {i} ({event:?})"
        );
        let events: Vec<Event> = j
            .events(&run.id)
            .await
            .expect("events")
            .into_iter()
            .map(|e| e.event)
            .collect();
        let replayed = RunState::replay(&stored.plan, &events).expect("valid events");
        assert_eq!(
            stored.status, replayed.status,
            "stored status equals the replayed status at step {i}"
        );
        assert_eq!(
            stored.finished_at_ms,
            want.is_final().then_some(70_009),
            "end time at step {i}"
        );
        status = stored.status;
    }
    // Each final status is stored as such.
    for (i, s) in [RunStatus::Succeeded, RunStatus::Degraded, RunStatus::Failed]
        .into_iter()
        .enumerate()
    {
        let id = format!("conf-status-final-{i}");
        create(j, &sample_run(&id, env, &id, 71_000 + i as u64)).await;
        finish(j, &id, s, 72_000 + i as u64).await;
        let stored = j.run(&id).await.expect("run");
        assert_eq!(
            (stored.status, stored.finished_at_ms),
            (s, Some(72_000 + i as u64))
        );
    }
}

/// Decisions read back exactly as recorded, in order, per run.
pub async fn decisions_round_trip(j: &dyn Journal) {
    let a = create(
        j,
        &sample_run("conf-dec-a", "conf-dec-a", "conf-dec-a", 80_000),
    )
    .await;
    let b = create(
        j,
        &sample_run("conf-dec-b", "conf-dec-b", "conf-dec-b", 80_001),
    )
    .await;
    assert!(j.decisions(&a.id).await.expect("none yet").is_empty());
    let decision = |run: &str, kind: &str, at_ms: u64, detail: serde_json::Value| Decision {
        run_id: run.to_string(),
        kind: kind.to_string(),
        who: "alice@example.com".into(),
        why: "primary down; lag 40 s is acceptable — incident #42".into(),
        detail,
        at_ms,
    };
    let da = vec![
        decision(
            &a.id,
            "start",
            80_010,
            serde_json::json!({"vantage_points": ["us-east-2", "eu-west-1"], "failed": 3}),
        ),
        decision(
            &a.id,
            "allow_data_loss",
            80_020,
            serde_json::json!({"lag_seconds": 40.5, "budget": "1m", "nested": {"ok": true, "none": null}}),
        ),
        decision(&a.id, "approval", 80_030, serde_json::Value::Null),
    ];
    let db = vec![decision(
        &b.id,
        "override_readiness",
        80_015,
        serde_json::json!(["kms key missing in dr"]),
    )];
    j.record_decision(&da[0]).await.expect("record");
    j.record_decision(&db[0]).await.expect("record");
    j.record_decision(&da[1]).await.expect("record");
    j.record_decision(&da[2]).await.expect("record");
    assert_eq!(j.decisions(&a.id).await.expect("decisions a"), da);
    assert_eq!(j.decisions(&b.id).await.expect("decisions b"), db);
    finish(j, &a.id, RunStatus::Succeeded, 81_000).await;
    finish(j, &b.id, RunStatus::Succeeded, 81_000).await;
}

/// Every operation on a run id the journal does not know fails with `NotFound(id)`.
pub async fn unknown_ids_are_not_found(j: &dyn Journal) {
    let id = "conf-no-such-run";
    let not_found = |what: &str, e: JournalError| {
        assert_eq!(
            e,
            JournalError::NotFound(id.to_string()),
            "{what} of an unknown run"
        );
    };
    not_found("run", j.run(id).await.expect_err("run"));
    not_found("events", j.events(id).await.expect_err("events"));
    not_found("decisions", j.decisions(id).await.expect_err("decisions"));
    not_found(
        "append",
        j.append(id, &finished(RunStatus::Succeeded, 1))
            .await
            .expect_err("append"),
    );
    let d = Decision {
        run_id: id.into(),
        kind: "approval".into(),
        who: "mallory".into(),
        why: "x".into(),
        detail: serde_json::Value::Null,
        at_ms: 1,
    };
    not_found(
        "record_decision",
        j.record_decision(&d).await.expect_err("record_decision"),
    );
    assert!(j
        .runs(Some("conf-no-such-env"), 10)
        .await
        .expect("runs")
        .is_empty());
    assert_eq!(
        j.active_run("conf-no-such-env").await.expect("active_run"),
        None
    );
}

/// The audit log: 20 concurrent appends through two handles on one store (two instances or
/// processes) make one unbroken hash chain, with every record read back exactly, in order,
/// and paging with `after_seq` and `limit`. Give it a fresh, empty audit log.
pub async fn audit_log_is_one_chain<A>(a: A, b: A)
where
    A: pilotlight_core::audit::AuditLog + Clone + 'static,
{
    use pilotlight_core::audit::{verify_chain, AuditRecord, Outcome};
    let record = |actor: &str, n: u64| AuditRecord {
        at_ms: n,
        actor: actor.into(),
        role: "operator".into(),
        action: "run.start".into(),
        target: "failover".into(),
        outcome: if n & 1 == 0 {
            Outcome::Allowed
        } else {
            Outcome::Denied
        },
        reason: format!("reason {n}"),
        detail: serde_json::json!({ "n": n, "nested": { "z": 1, "a": [1.5, "x"] } }),
    };
    let mut tasks = Vec::new();
    for n in 0..20u64 {
        let (a, b) = (a.clone(), b.clone());
        tasks.push(tokio::spawn(async move {
            let r = if n & 1 == 0 {
                record("a", n)
            } else {
                record("b", n)
            };
            let e = if n & 1 == 0 {
                a.append_audit(&r).await
            } else {
                b.append_audit(&r).await
            };
            (r, e.unwrap_or_else(|e| panic!("audit append {n}: {e}")))
        }));
    }
    let mut appended = Vec::new();
    for t in tasks {
        appended.push(t.await.expect("append task"));
    }
    let entries = a.audit_entries(0, 1000).await.expect("read the audit log");
    assert_eq!(entries.len(), 20, "every append is kept once");
    assert_eq!(verify_chain(&entries), Ok(()), "one unbroken chain");
    for (r, stored) in &appended {
        let read = &entries[usize::try_from(stored.seq).unwrap() - 1];
        assert_eq!(read, stored, "read back as appended");
        assert_eq!((&read.actor, read.at_ms), (&r.actor, r.at_ms));
        let detail: serde_json::Value = serde_json::from_str(&read.detail).unwrap();
        assert_eq!(detail, r.detail, "the detail round-trips");
    }
    let tail = b.audit_entries(18, 10).await.unwrap();
    assert_eq!(
        tail.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![19, 20],
        "after_seq pages"
    );
    let head = b.audit_entries(0, 3).await.unwrap();
    assert_eq!(
        head.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3],
        "limit pages, oldest first"
    );
    assert!(b.audit_entries(20, 10).await.unwrap().is_empty());
}
