//! Executor behaviour with in-memory fakes on virtual time: ordering, parallelism, retries,
//! failure propagation, gates and overrides, pause/resume/abort, resume after interruption
//! without re-sending a promotion, idempotent starts, and journal failure.

mod support;

use pilotlight_core::journal::{Journal, JournalError, RunOptions};
use pilotlight_core::model::EnvironmentConfig;
use pilotlight_core::plan::{build_plan, Plan};
use pilotlight_core::run::{Event, NodeStatus, RunState, RunStatus};
use pilotlight_core::runbook::Runbook;
use pilotlight_executor::{
    Capabilities, ExecError, Executor, ExecutorSettings, StartRequest, SystemClock,
};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use support::*;

fn env() -> EnvironmentConfig {
    toml::from_str(include_str!("../../core/tests/fixtures/confer.toml")).unwrap()
}

fn plan(max_parallel: usize) -> Plan {
    let mut rb: Runbook = toml::from_str(include_str!("../../../runbooks/failover.toml")).unwrap();
    rb.runbook.max_parallel = max_parallel;
    build_plan(&env(), &rb).unwrap()
}

struct Rig {
    journal: Arc<MemJournal>,
    world: Arc<FakeWorld>,
    facts: Arc<FakeFacts>,
    notifier: Arc<RecordingNotifier>,
    exec: Executor,
}

fn rig() -> Rig {
    let journal = Arc::new(MemJournal::default());
    let world = Arc::new(FakeWorld::new(Latencies::default()));
    let facts = Arc::new(FakeFacts::default());
    let notifier = Arc::new(RecordingNotifier::default());
    let caps = Capabilities {
        actuator: world.clone(),
        facts: facts.clone(),
        notifier: notifier.clone(),
    };
    let exec = Executor::new(
        journal.clone(),
        caps,
        Arc::new(env()),
        Arc::new(SystemClock::new()),
        ExecutorSettings::default(),
    );
    Rig {
        journal,
        world,
        facts,
        notifier,
        exec,
    }
}

fn request(plan: Plan, key: &str, options: RunOptions) -> StartRequest {
    StartRequest {
        plan,
        requested_by: "alice".into(),
        reason: "primary down".into(),
        idempotency_key: key.into(),
        options,
    }
}

async fn state(r: &Rig, run_id: &str) -> RunState {
    let run = r.journal.run(run_id).await.unwrap();
    let ev = r.journal.events(run_id).await.unwrap();
    RunState::replay(&run.plan, ev.iter().map(|e| &e.event)).unwrap()
}

/// Sequence number of the first event matching `f`.
async fn seq_of(r: &Rig, run_id: &str, f: impl Fn(&Event) -> bool) -> u64 {
    r.journal
        .events(run_id)
        .await
        .unwrap()
        .into_iter()
        .find(|e| f(&e.event))
        .map(|e| e.seq)
        .expect("event present")
}

fn started(node: &'static str) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::NodeStarted { node: n, .. } if n == node)
}
fn succeeded(node: &'static str) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::NodeSucceeded { node: n, .. } if n == node)
}

#[tokio::test(start_paused = true)]
async fn failover_completes_in_dependency_order_with_one_call_per_action() {
    let r = rig();
    let s = r
        .exec
        .start(request(plan(8), "k1", RunOptions::default()))
        .await
        .unwrap();
    assert!(s.created);
    let t0 = tokio::time::Instant::now();
    let status = r.exec.drive(&s.run.id).await.unwrap();
    assert_eq!(status, RunStatus::Succeeded);
    let st = state(&r, &s.run.id).await;
    assert!(
        st.nodes.values().all(|n| n.status == NodeStatus::Succeeded),
        "{st:#?}"
    );
    // One act per action node, no more.
    assert_eq!(r.world.act_count("scale_ecs"), 2);
    assert_eq!(r.world.act_count("scale_autoscaling"), 1);
    assert_eq!(r.world.act_count("promote"), 1);
    assert_eq!(r.world.act_count("shift"), 2);
    // Dependencies are respected.
    let id = &s.run.id;
    assert!(
        seq_of(&r, id, succeeded("lag/db")).await < seq_of(&r, id, started("promote-db/db")).await
    );
    assert!(
        seq_of(&r, id, succeeded("capacity")).await
            < seq_of(&r, id, started("shift-dns/api-dns")).await
    );
    assert!(
        seq_of(&r, id, succeeded("promote-db/db")).await
            < seq_of(&r, id, started("shift-dns/media-dns")).await
    );
    // Independent steps ran in parallel: the whole run takes about the critical path
    // (promotion 420 s + DNS 60 s), not the sum of the steps.
    let took = t0.elapsed().as_secs();
    assert!(
        (480..=560).contains(&took),
        "run took {took} s of virtual time"
    );
    // The run was announced and its end notified.
    let kinds: Vec<String> = r
        .notifier
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|n| n.kind.clone())
        .collect();
    assert!(
        kinds.contains(&"run_started".to_string()) && kinds.contains(&"run_finished".to_string()),
        "{kinds:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn parallelism_is_bounded() {
    let r = rig();
    let s = r
        .exec
        .start(request(plan(2), "k", RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(r.exec.drive(&s.run.id).await.unwrap(), RunStatus::Succeeded);
    let ev = r.journal.events(&s.run.id).await.unwrap();
    let mut running = 0i32;
    let mut max = 0;
    for e in ev {
        match e.event {
            Event::NodeStarted { attempt: 1, .. } => running += 1,
            Event::NodeSucceeded { .. } | Event::NodeFailed { .. } => running -= 1,
            _ => {}
        }
        max = max.max(running);
    }
    assert_eq!(
        max, 2,
        "at most max_parallel steps in flight, and the limit is used"
    );
}

#[tokio::test(start_paused = true)]
async fn retryable_failures_are_retried_with_a_new_attempt() {
    let r = rig();
    r.world.fail_next_acts.store(2, Ordering::SeqCst);
    let s = r
        .exec
        .start(request(plan(1), "k", RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(r.exec.drive(&s.run.id).await.unwrap(), RunStatus::Succeeded);
    let st = state(&r, &s.run.id).await;
    let retried: Vec<_> = st
        .nodes
        .iter()
        .filter(|(_, n)| n.attempts > 1)
        .map(|(id, n)| (id.clone(), n.attempts))
        .collect();
    assert_eq!(
        retried,
        [("scale-services/api".to_string(), 3)],
        "the first action took 3 attempts"
    );
}

#[tokio::test(start_paused = true)]
async fn partial_capacity_blocks_dns_and_ends_degraded() {
    let r = rig();
    r.world
        .caps
        .lock()
        .unwrap()
        .insert("confer-media-routers".into(), 2);
    let mut p = plan(8);
    for n in &mut p.nodes {
        if n.id == "capacity" || n.id.starts_with("scale-media") {
            n.timeout = std::time::Duration::from_secs(600);
        }
    }
    let s = r
        .exec
        .start(request(p, "k", RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(r.exec.drive(&s.run.id).await.unwrap(), RunStatus::Degraded);
    let st = state(&r, &s.run.id).await;
    assert_eq!(
        st.nodes["scale-media-routers/media-routers"].status,
        NodeStatus::Failed
    );
    assert!(st.nodes["scale-media-routers/media-routers"]
        .message
        .as_ref()
        .unwrap()
        .contains("timed out"));
    assert_eq!(
        st.nodes["promote-db/db"].status,
        NodeStatus::Succeeded,
        "independent steps go on"
    );
    assert_eq!(st.nodes["scale-services/api"].status, NodeStatus::Succeeded);
    for n in ["capacity", "shift-dns/api-dns", "shift-dns/media-dns"] {
        assert_eq!(
            st.nodes[n].status,
            NodeStatus::Skipped,
            "{n}: DNS must not move without capacity"
        );
    }
    assert_eq!(r.world.act_count("shift"), 0);
}

#[tokio::test(start_paused = true)]
async fn readiness_gate_refuses_unless_overridden_with_a_reason() {
    let r = rig();
    *r.facts.dr_replica_missing.lock().unwrap() = true;
    let s = r
        .exec
        .start(request(plan(8), "k1", RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(r.exec.drive(&s.run.id).await.unwrap(), RunStatus::Failed);
    let st = state(&r, &s.run.id).await;
    assert!(st.nodes["readiness"]
        .message
        .as_ref()
        .unwrap()
        .contains("--override-readiness"));
    assert_eq!(r.world.act_count("promote"), 0);
    assert_eq!(r.world.total_acts(), 0, "a refused run changes nothing");

    let opts = RunOptions {
        override_readiness: Some("replica rebuilt by hand".into()),
        allow_data_loss: Some("primary gone".into()),
        ..Default::default()
    };
    let s = r.exec.start(request(plan(8), "k2", opts)).await.unwrap();
    // The promotion itself then fails in the fake (no replica): that is fine, we test the gate.
    let _ = r.exec.drive(&s.run.id).await.unwrap();
    let st = state(&r, &s.run.id).await;
    assert_eq!(st.nodes["readiness"].status, NodeStatus::Succeeded);
    let d = r.journal.decisions(&s.run.id).await.unwrap();
    assert!(
        d.iter().any(|d| d.kind == "override_readiness"
            && d.why == "replica rebuilt by hand"
            && d.who == "alice"),
        "{d:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn lag_over_budget_needs_allow_data_loss_and_records_the_estimate() {
    let r = rig();
    *r.facts.lag_seconds.lock().unwrap() = Some(300.0);
    let s = r
        .exec
        .start(request(plan(8), "k1", RunOptions::default()))
        .await
        .unwrap();
    let status = r.exec.drive(&s.run.id).await.unwrap();
    let dbg = state(&r, &s.run.id).await;
    assert_eq!(status, RunStatus::Failed, "{dbg:#?}");
    // Readiness refuses first (lag above the RPO fails the database check), and says why.
    assert!(dbg.nodes["readiness"]
        .message
        .as_ref()
        .unwrap()
        .contains("above the RPO"));
    assert!(dbg.nodes["lag/db"]
        .message
        .as_ref()
        .unwrap()
        .contains("--allow-data-loss"));
    assert_eq!(r.world.total_acts(), 0);

    let opts = RunOptions {
        allow_data_loss: Some("primary region is gone".into()),
        ..Default::default()
    };
    let s = r
        .exec
        .start(request(plan(8), "k2", opts))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.exec.drive(&s.run.id).await.unwrap(), RunStatus::Succeeded);
    let d = r.journal.decisions(&s.run.id).await.unwrap();
    let est = d
        .iter()
        .find(|d| d.kind == "rpo_estimate")
        .expect("estimate recorded");
    assert_eq!(est.detail["lag_seconds"], 300.0);
    assert!(d
        .iter()
        .any(|d| d.kind == "allow_data_loss" && d.why == "primary region is gone"));
}

#[tokio::test(start_paused = true)]
async fn pause_then_resume_then_abort() {
    let r = rig();
    let s = r
        .exec
        .start(request(plan(8), "k", RunOptions::default()))
        .await
        .unwrap();
    let id = s.run.id.clone();
    r.exec
        .control(
            &id,
            Event::Paused {
                by: "bob".into(),
                at_ms: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(r.exec.drive(&id).await.unwrap(), RunStatus::Paused);
    assert_eq!(r.world.total_acts(), 0, "nothing starts while paused");
    r.exec
        .control(
            &id,
            Event::Resumed {
                by: "bob".into(),
                at_ms: 2,
            },
        )
        .await
        .unwrap();
    // Abort while the promotion is running: the run stops starting steps and ends aborted.
    let exec = r.exec.clone();
    let id2 = id.clone();
    let driver = tokio::spawn(async move { exec.drive(&id2).await });
    tokio::time::sleep(std::time::Duration::from_secs(200)).await;
    r.exec
        .control(
            &id,
            Event::AbortRequested {
                by: "bob".into(),
                at_ms: 3,
            },
        )
        .await
        .unwrap();
    assert_eq!(driver.await.unwrap().unwrap(), RunStatus::Aborted);
    let st = state(&r, &id).await;
    assert_eq!(st.nodes["shift-dns/api-dns"].status, NodeStatus::Skipped);
    assert_eq!(
        r.world.act_count("shift"),
        0,
        "no DNS change after an abort"
    );
    let err = r
        .exec
        .control(
            &id,
            Event::Resumed {
                by: "bob".into(),
                at_ms: 4,
            },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("aborted"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn resume_after_interruption_never_resends_a_promotion() {
    let r = rig();
    let s = r
        .exec
        .start(request(plan(8), "k", RunOptions::default()))
        .await
        .unwrap();
    let id = s.run.id.clone();
    // Simulate a process that died right after sending the promotion and recording it.
    for n in ["readiness", "lag/db"] {
        r.journal
            .append(
                &id,
                &Event::NodeStarted {
                    node: n.into(),
                    attempt: 1,
                    at_ms: 1,
                },
            )
            .await
            .unwrap();
        r.journal
            .append(
                &id,
                &Event::NodeSucceeded {
                    node: n.into(),
                    detail: "ok".into(),
                    at_ms: 2,
                },
            )
            .await
            .unwrap();
    }
    r.journal
        .append(
            &id,
            &Event::NodeStarted {
                node: "promote-db/db".into(),
                attempt: 1,
                at_ms: 3,
            },
        )
        .await
        .unwrap();
    r.journal
        .append(
            &id,
            &Event::ActionSent {
                node: "promote-db/db".into(),
                detail: "sent".into(),
                at_ms: 4,
            },
        )
        .await
        .unwrap();
    r.world.promote_now("us-west-2", "confer-db-replica");
    assert_eq!(r.exec.drive(&id).await.unwrap(), RunStatus::Succeeded);
    assert_eq!(
        r.world.act_count("promote"),
        0,
        "the promotion recorded as sent is not sent again"
    );

    // And when the crash lost the record but the promotion is visibly under way, it is not sent either.
    let r = rig();
    let s = r
        .exec
        .start(request(plan(8), "k", RunOptions::default()))
        .await
        .unwrap();
    let id = s.run.id.clone();
    for n in ["readiness", "lag/db"] {
        r.journal
            .append(
                &id,
                &Event::NodeStarted {
                    node: n.into(),
                    attempt: 1,
                    at_ms: 1,
                },
            )
            .await
            .unwrap();
        r.journal
            .append(
                &id,
                &Event::NodeSucceeded {
                    node: n.into(),
                    detail: "ok".into(),
                    at_ms: 2,
                },
            )
            .await
            .unwrap();
    }
    r.journal
        .append(
            &id,
            &Event::NodeStarted {
                node: "promote-db/db".into(),
                attempt: 1,
                at_ms: 3,
            },
        )
        .await
        .unwrap();
    r.world.promote_now("us-west-2", "confer-db-replica");
    assert_eq!(r.exec.drive(&id).await.unwrap(), RunStatus::Succeeded);
    assert_eq!(r.world.act_count("promote"), 0);
}

#[tokio::test(start_paused = true)]
async fn the_same_request_twice_makes_one_run_and_a_second_run_is_refused_while_active() {
    let r = rig();
    let a = r
        .exec
        .start(request(plan(8), "same-key", RunOptions::default()))
        .await
        .unwrap();
    let b = r
        .exec
        .start(request(plan(8), "same-key", RunOptions::default()))
        .await
        .unwrap();
    assert!(a.created && !b.created);
    assert_eq!(a.run.id, b.run.id);
    let err = r
        .exec
        .start(request(plan(8), "other-key", RunOptions::default()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ExecError::Journal(JournalError::ActiveRunExists { .. })
        ),
        "{err}"
    );
    assert_eq!(r.journal.runs(None, 10).await.unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failing_journal_stops_the_run_safely() {
    let r = rig();
    let s = r
        .exec
        .start(request(plan(8), "k", RunOptions::default()))
        .await
        .unwrap();
    *r.journal.fail_after.lock().unwrap() = Some(8);
    let err = r.exec.drive(&s.run.id).await.unwrap_err();
    assert!(err.to_string().contains("disk is full"), "{err}");
    let st = state(&r, &s.run.id).await;
    // Nothing is reported done without a durable record: the run is not finished.
    assert!(!st.status.is_final());
    let done = st
        .nodes
        .values()
        .filter(|n| n.status == NodeStatus::Succeeded)
        .count();
    assert!(done < st.nodes.len());
}

#[tokio::test(start_paused = true)]
async fn a_failing_notifier_never_blocks_a_run() {
    let r = rig();
    *r.notifier.fail.lock().unwrap() = true;
    let s = r
        .exec
        .start(request(plan(8), "k", RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(r.exec.drive(&s.run.id).await.unwrap(), RunStatus::Succeeded);
}
