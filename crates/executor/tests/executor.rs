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
    assert_eq!(r.world.act_count("shift"), 3);
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
async fn a_primary_region_that_does_not_answer_does_not_block_an_unplanned_failover() {
    let r = rig();
    *r.facts.primary_fails.lock().unwrap() = Some(pilotlight_core::ErrorClass::Retryable);
    let s = r
        .exec
        .start(request(plan(8), "k1", RunOptions::default()))
        .await
        .unwrap();
    let status = r.exec.drive(&s.run.id).await.unwrap();
    let st = state(&r, &s.run.id).await;
    assert_eq!(status, RunStatus::Succeeded, "{st:#?}");
    let gate = st.nodes["readiness"].message.clone().unwrap();
    assert!(
        gate.contains("us-east-1 did not answer") && gate.contains("rds/db"),
        "{gate}"
    );
    // The lag is read in DR alone (the fake's replica lag, 0 s), and recorded as the estimate.
    assert!(st.nodes["lag/db"]
        .message
        .as_ref()
        .unwrap()
        .contains("within budget"));
    assert!(r.facts.lag_reads.load(Ordering::SeqCst) >= 1);
    assert_eq!(r.world.act_count("promote"), 1);

    // A planned switchover needs the primary: it still refuses.
    let r = rig();
    *r.facts.primary_fails.lock().unwrap() = Some(pilotlight_core::ErrorClass::Retryable);
    let opts = RunOptions {
        planned: true,
        ..Default::default()
    };
    let s = r.exec.start(request(plan(8), "k2", opts)).await.unwrap();
    assert_eq!(r.exec.drive(&s.run.id).await.unwrap(), RunStatus::Failed);
    assert_eq!(r.world.total_acts(), 0);

    // Denied credentials in the primary are not an outage: a person must fix them.
    let r = rig();
    *r.facts.primary_fails.lock().unwrap() = Some(pilotlight_core::ErrorClass::Credentials);
    let s = r
        .exec
        .start(request(plan(8), "k3", RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(r.exec.drive(&s.run.id).await.unwrap(), RunStatus::Failed);
    let st = state(&r, &s.run.id).await;
    assert!(st.nodes["readiness"]
        .message
        .as_ref()
        .unwrap()
        .contains("--override-readiness"));
    assert_eq!(r.world.total_acts(), 0);
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

// ---- failback ------------------------------------------------------------------------------

fn failback_plan() -> Plan {
    let rb: Runbook = toml::from_str(include_str!("../../../runbooks/failback.toml")).unwrap();
    build_plan(&env(), &rb).unwrap()
}

/// Wait (in virtual time) until the journal has an event matching `f`; its sequence number.
async fn wait_for(r: &Rig, run_id: &str, f: impl Fn(&Event) -> bool) -> u64 {
    for _ in 0..100_000 {
        if let Some(e) = r
            .journal
            .events(run_id)
            .await
            .unwrap()
            .into_iter()
            .find(|e| f(&e.event))
        {
            return e.seq;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("event never recorded");
}

fn approval_requested(node: &'static str) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::ApprovalRequested { node: n, .. } if n == node)
}

async fn approve(r: &Rig, run_id: &str, node: &str) {
    r.exec
        .control(
            run_id,
            Event::Approved {
                node: node.into(),
                by: "carol".into(),
                at_ms: 9,
            },
        )
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn failback_fences_first_returns_traffic_gradually_and_completes() {
    let r = rig();
    let s = r
        .exec
        .start(request(failback_plan(), "fb", RunOptions::default()))
        .await
        .unwrap();
    let id = s.run.id.clone();
    let t0 = tokio::time::Instant::now();
    assert_eq!(r.exec.drive(&id).await.unwrap(), RunStatus::Succeeded);
    // The old primary is fenced before anything touches the database or traffic.
    let fenced = seq_of(&r, &id, succeeded("fence-old-primary/db")).await;
    for later in ["retire-old-primary/db", "reprotect/db", "switchover-db/db"] {
        assert!(fenced < seq_of(&r, &id, started(later)).await, "{later}");
    }
    // The switchover waits for the DR writer's fence and the zero-lag gate.
    assert!(
        seq_of(&r, &id, succeeded("caught-up/db")).await
            < seq_of(&r, &id, started("switchover-db/db")).await
    );
    // Weights 10 → 50 → 100, each held for its soak (2 min) before the next.
    assert_eq!(*r.world.weights_sent.lock().unwrap(), [10, 50, 100]);
    assert!(t0.elapsed().as_secs() >= 3 * 120, "{:?}", t0.elapsed());
    // Nothing asked an operator: no drain blocked, health stayed up.
    assert_eq!(r.world.forces.load(Ordering::SeqCst), 0);
    let st = state(&r, &id).await;
    assert!(st.nodes.values().all(|n| n.status == NodeStatus::Succeeded));
}

#[tokio::test(start_paused = true)]
async fn a_health_drop_during_the_gradual_return_rolls_back_the_last_weight_step() {
    let r = rig();
    let s = r
        .exec
        .start(request(failback_plan(), "fb-health", RunOptions::default()))
        .await
        .unwrap();
    let id = s.run.id.clone();
    let exec = r.exec.clone();
    let id2 = id.clone();
    let driver = tokio::spawn(async move { exec.drive(&id2).await });
    // Health drops once traffic is at 50%.
    wait_for(
        &r,
        &id,
        |e| matches!(e, Event::ActionSent { node, .. } if node == "return-web/web-dns@50"),
    )
    .await;
    *r.world.health_down.lock().unwrap() = true;
    let node = "return-web/web-dns@50";
    wait_for(&r, &id, approval_requested(node)).await;
    // Rolled back to 10%, run paused, the operator asked and told why.
    assert_eq!(*r.world.weights_sent.lock().unwrap(), [10, 50, 10]);
    let run = r.journal.run(&id).await.unwrap();
    assert_eq!(run.status, RunStatus::Paused);
    assert_eq!(
        state(&r, &id).await.nodes[node].status,
        NodeStatus::AwaitingApproval
    );
    let notes = r.notifier.sent.lock().unwrap().clone();
    assert!(
        notes
            .iter()
            .any(|n| n.kind == "decision_needed" && n.message.contains("rolled back to 10%")),
        "{notes:?}"
    );
    // Nothing further moves while the decision is open.
    tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    assert_eq!(r.world.weights_sent.lock().unwrap().len(), 3);
    assert_eq!(
        state(&r, &id).await.nodes["scale-down-services/api"].status,
        NodeStatus::Pending
    );
    // Fixed and approved: 50% again, then 100%.
    *r.world.health_down.lock().unwrap() = false;
    approve(&r, &id, node).await;
    assert_eq!(driver.await.unwrap().unwrap(), RunStatus::Succeeded);
    assert_eq!(*r.world.weights_sent.lock().unwrap(), [10, 50, 10, 50, 100]);
    let decisions = r.journal.decisions(&id).await.unwrap();
    assert!(decisions.iter().any(|d| d.kind == "decision_requested"));
}

#[tokio::test(start_paused = true)]
async fn a_drain_that_never_completes_pauses_the_run_for_a_decision() {
    let r = rig();
    // After the failover, DR's routers run at the active size; some host live conferences.
    use pilotlight_core::capability::Actuator;
    r.world
        .act(&pilotlight_core::plan::Action::ScaleAutoscaling {
            region: "us-west-2".into(),
            group: "confer-media-routers".into(),
            desired: 6,
        })
        .await
        .unwrap();
    *r.world.drain_blocked.lock().unwrap() = true;
    let s = r
        .exec
        .start(request(failback_plan(), "fb-drain", RunOptions::default()))
        .await
        .unwrap();
    let id = s.run.id.clone();
    let exec = r.exec.clone();
    let id2 = id.clone();
    let driver = tokio::spawn(async move { exec.drive(&id2).await });
    let node = "scale-down-media-routers/media-routers";
    let asked = wait_for(&r, &id, approval_requested(node)).await;
    let started_at = seq_of(&r, &id, started(node)).await;
    assert!(started_at < asked);
    assert_eq!(r.journal.run(&id).await.unwrap().status, RunStatus::Paused);
    // Waiting does not terminate anything by itself: no force without a person.
    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    assert_eq!(r.world.forces.load(Ordering::SeqCst), 0);
    approve(&r, &id, node).await;
    assert_eq!(driver.await.unwrap().unwrap(), RunStatus::Succeeded);
    assert_eq!(r.world.forces.load(Ordering::SeqCst), 1);
    let events = r.journal.events(&id).await.unwrap();
    assert!(events.iter().any(|e| matches!(&e.event,
        Event::ActionSent { node: n, detail, .. } if n == node && detail.contains("approved by carol"))));
    assert!(events
        .iter()
        .any(|e| matches!(&e.event, Event::Resumed { by, .. } if by == "carol")));
}

#[tokio::test(start_paused = true)]
async fn failback_waits_for_zero_lag_and_never_promotes_a_lagging_replica() {
    let r = rig();
    // Reads by instance, in order: the `protected` gate, the `caught-up` gate (twice lagging,
    // then caught up), the check before the promotion (lagging again: refused), its retry.
    *r.facts.lag_script.lock().unwrap() = [
        Some(0.0),
        Some(4.0),
        Some(2.0),
        Some(0.0),
        Some(3.0),
        Some(0.0),
    ]
    .into();
    let s = r
        .exec
        .start(request(failback_plan(), "fb-lag", RunOptions::default()))
        .await
        .unwrap();
    let id = s.run.id.clone();
    assert_eq!(r.exec.drive(&id).await.unwrap(), RunStatus::Succeeded);
    assert_eq!(r.facts.lag_reads.load(Ordering::SeqCst), 6);
    let st = state(&r, &id).await;
    assert_eq!(
        st.nodes["switchover-db/db"].attempts, 2,
        "first attempt refused"
    );
    assert_eq!(
        r.world.act_count("promote"),
        1,
        "promoted once, after catching up"
    );
}
