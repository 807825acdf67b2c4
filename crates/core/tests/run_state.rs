//! The run state machine, driven by event sequences: readiness, parallelism, failure
//! propagation, optional steps, pause/resume/abort, replay, and refused transitions.

use pilotlight_core::model::EnvironmentConfig;
use pilotlight_core::plan::{build_plan, Plan};
use pilotlight_core::run::{Event, NodeStatus, RunState, RunStatus};
use pilotlight_core::runbook::Runbook;

fn plan(max_parallel: usize) -> Plan {
    let env: EnvironmentConfig = toml::from_str(include_str!("fixtures/confer.toml")).unwrap();
    let mut rb: Runbook = toml::from_str(include_str!("../../../runbooks/failover.toml")).unwrap();
    rb.runbook.max_parallel = max_parallel;
    build_plan(&env, &rb).unwrap()
}

fn start(n: &str) -> Event {
    Event::NodeStarted {
        node: n.into(),
        attempt: 1,
        at_ms: 1,
    }
}
fn sent(n: &str) -> Event {
    Event::ActionSent {
        node: n.into(),
        detail: "sent".into(),
        at_ms: 2,
    }
}
fn ok(n: &str) -> Event {
    Event::NodeSucceeded {
        node: n.into(),
        detail: "done".into(),
        at_ms: 3,
    }
}
fn fail(n: &str) -> Event {
    Event::NodeFailed {
        node: n.into(),
        error: "boom".into(),
        at_ms: 3,
    }
}
fn by(e: fn(String, u64) -> Event) -> Event {
    e("alice".into(), 5)
}

fn run(plan: &Plan, events: &[Event]) -> RunState {
    RunState::replay(plan, events).expect("valid events")
}

const FIRST_WAVE: [&str; 3] = ["readiness", "lag/db", "announce"];
const ACTIONS: [&str; 4] = [
    "scale-services/api",
    "scale-services/signaling",
    "scale-media-routers/media-routers",
    "promote-db/db",
];

fn through_gates() -> Vec<Event> {
    let mut ev = Vec::new();
    for n in FIRST_WAVE {
        ev.push(start(n));
        ev.push(ok(n));
    }
    ev
}

#[test]
fn ready_follows_dependencies_and_parallelism() {
    let p = plan(8);
    assert_eq!(RunState::new(&p).ready(&p), FIRST_WAVE);
    let s = run(&p, &through_gates());
    assert_eq!(s.ready(&p), ACTIONS);
    // With 2 in parallel and 2 in flight, nothing more may start.
    let p2 = plan(2);
    let s = run(&p2, &[start("readiness"), start("lag/db")]);
    assert!(s.ready(&p2).is_empty());
    let s = run(&p2, &[start("readiness"), start("lag/db"), ok("readiness")]);
    assert_eq!(s.ready(&p2), ["announce"]);
}

#[test]
fn full_success() {
    let p = plan(8);
    let mut ev = through_gates();
    for n in ACTIONS {
        ev.extend([start(n), sent(n), ok(n)]);
    }
    for n in [
        "capacity",
        "shift-dns/api-dns",
        "shift-dns/media-dns",
        "shift-dns/web-dns",
        "done",
    ] {
        ev.extend([start(n), sent(n), ok(n)]);
    }
    let s = run(&p, &ev);
    assert!(s.ready(&p).is_empty());
    assert_eq!(s.outcome(&p), Some(RunStatus::Succeeded));
}

#[test]
fn partial_capacity_blocks_dns_but_not_independent_steps_and_ends_degraded() {
    let p = plan(8);
    let mut ev = through_gates();
    for n in ACTIONS {
        ev.extend([start(n), sent(n), ok(n)]);
    }
    ev.extend([start("capacity"), fail("capacity")]);
    let s = run(&p, &ev);
    for n in [
        "shift-dns/api-dns",
        "shift-dns/media-dns",
        "shift-dns/web-dns",
        "done",
    ] {
        assert_eq!(s.nodes[n].status, NodeStatus::Skipped, "{n}");
        assert!(s.nodes[n]
            .message
            .as_deref()
            .unwrap()
            .contains("`capacity` failed"));
    }
    assert_eq!(s.nodes["promote-db/db"].status, NodeStatus::Succeeded);
    assert_eq!(s.outcome(&p), Some(RunStatus::Degraded));
}

#[test]
fn a_refusing_gate_fails_the_run_without_acting() {
    let p = plan(8);
    let s = run(
        &p,
        &[
            start("readiness"),
            fail("readiness"),
            start("lag/db"),
            ok("lag/db"),
            start("announce"),
            ok("announce"),
        ],
    );
    // Everything that depends on readiness is skipped; promote-db depends on it too.
    for n in ACTIONS {
        assert_eq!(s.nodes[n].status, NodeStatus::Skipped, "{n}");
    }
    assert_eq!(s.outcome(&p), Some(RunStatus::Failed));
}

#[test]
fn pause_resume_abort() {
    let p = plan(8);
    let mut ev = vec![
        start("readiness"),
        by(|by, at_ms| Event::Paused { by, at_ms }),
    ];
    let s = run(&p, &ev);
    assert_eq!(s.status, RunStatus::Paused);
    assert!(s.ready(&p).is_empty(), "nothing starts while paused");
    assert_eq!(s.interrupted(), ["readiness"], "running steps continue");
    ev.push(by(|by, at_ms| Event::Resumed { by, at_ms }));
    let s = run(&p, &ev);
    assert_eq!(s.ready(&p), ["lag/db", "announce"]);
    ev.push(by(|by, at_ms| Event::AbortRequested { by, at_ms }));
    let s = run(&p, &ev);
    assert_eq!(s.status, RunStatus::Aborting);
    assert!(s.ready(&p).is_empty());
    assert_eq!(s.outcome(&p), None, "the running step must finish first");
    ev.push(ok("readiness"));
    let s = run(&p, &ev);
    assert_eq!(s.outcome(&p), Some(RunStatus::Aborted));
    assert_eq!(s.nodes["promote-db/db"].status, NodeStatus::Skipped);
}

#[test]
fn interrupted_nodes_remember_a_sent_action() {
    let p = plan(8);
    let mut ev = through_gates();
    ev.extend([
        start("promote-db/db"),
        sent("promote-db/db"),
        start("scale-services/api"),
    ]);
    let s = run(&p, &ev);
    assert_eq!(s.interrupted(), ["promote-db/db", "scale-services/api"]);
    assert!(
        s.nodes["promote-db/db"].action_sent,
        "a resumed promotion must not be sent again"
    );
    assert!(!s.nodes["scale-services/api"].action_sent);
}

#[test]
fn refused_transitions() {
    let p = plan(8);
    let cases: Vec<(&str, Vec<Event>)> = vec![
        ("unknown node", vec![start("nope")]),
        (
            "start after success",
            vec![start("readiness"), ok("readiness"), start("readiness")],
        ),
        (
            "succeed twice",
            vec![start("readiness"), ok("readiness"), ok("readiness")],
        ),
        ("sent before start", vec![sent("readiness")]),
        (
            "event after finish",
            vec![
                Event::RunFinished {
                    status: RunStatus::Aborted,
                    at_ms: 1,
                },
                start("readiness"),
            ],
        ),
    ];
    for (name, events) in cases {
        assert!(
            RunState::replay(&p, &events).is_err(),
            "{name} must be refused"
        );
    }
}
