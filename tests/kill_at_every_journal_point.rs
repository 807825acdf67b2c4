//! Scenarios 1 (`kill_at_every_journal_point`) and 2 (`crash_after_promotion_sent`): the real
//! `pilotlight failover` process is killed with SIGKILL at every journal point of every step
//! (before the intent is written, after the intent, after the AWS call, before and after the
//! result), and run again each time. The run must resume and complete, no side effect may be
//! repeated, and no journal record may be lost.

mod common;

use common::{assert_no_duplicate_side_effects, pilotlight, World};

const POINTS: [&str; 5] = [
    "before_intent",
    "after_intent",
    "after_call",
    "before_result",
    "after_result",
];

/// The plan's node ids and which of them call AWS to change something.
async fn nodes(world: &World) -> Vec<(String, bool)> {
    let cfg = world.config_path.to_str().unwrap();
    let plan = pilotlight(&[
        "--runbooks",
        common::RUNBOOKS,
        "plan",
        "failover",
        "--config",
        cfg,
        "--output",
        "json",
    ])
    .await;
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    plan.json()["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let kind = s["kind"].as_str().unwrap();
            let acts = matches!(
                kind,
                "scale_ecs" | "scale_autoscaling" | "promote_rds_replica" | "shift_traffic"
            );
            (s["id"].as_str().unwrap().to_string(), acts)
        })
        .collect()
}

async fn finish_world(world: &World, crashes: usize) {
    let journal = world.journal();
    let runs = pilotlight(&["--journal", &journal, "runs", "--output", "json"])
        .await
        .json();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "all crashes resumed the same run: {runs:#?}");
    assert_eq!(runs[0]["status"], "succeeded");
    let id = runs[0]["id"].as_str().unwrap();
    let show = pilotlight(&[
        "--journal",
        &journal,
        "runs",
        "show",
        id,
        "--output",
        "json",
    ])
    .await
    .json();
    for step in show["steps"].as_array().unwrap() {
        assert_eq!(
            step["status"], "succeeded",
            "no journal record lost: {step}"
        );
        assert!(step["duration_s"].is_number(), "{step}");
    }
    assert_no_duplicate_side_effects(world);
    eprintln!("world finished after {crashes} crashes");
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_at_every_journal_point() {
    let mut world = World::up().await;
    world.emu.reset_stats();
    let all = nodes(&world).await;
    let mut pending: Vec<(String, &str)> = all
        .iter()
        .flat_map(|(n, acts)| {
            POINTS
                .iter()
                .filter(move |p| **p != "after_call" || *acts)
                .map(move |p| (n.clone(), *p))
        })
        .collect();
    let total = pending.len();
    let mut crashes_in_world = 0;
    let mut hit = 0;
    while let Some((node, point)) = pending.first().cloned() {
        let crash = format!("{node}@{point}");
        let run = world
            .failover(&[], &[("PILOTLIGHT_CRASHPOINT", crash.as_str())])
            .await;
        let promotions = world
            .emu
            .stats()
            .request_count("rds", world.dr(), "PromoteReadReplica");
        assert!(
            promotions <= 1,
            "promotion sent twice after crash point {crash}:\n{}",
            run.stderr
        );
        match run.signal {
            Some(9) => {
                hit += 1;
                crashes_in_world += 1;
                pending.remove(0);
            }
            _ => {
                assert_eq!(
                    run.code, 0,
                    "after crashes the run must complete ({crash} was not reached):\n{}",
                    run.stderr
                );
                // The run completed before reaching this point: check the world, then start a
                // fresh one for the points that are left. The first point of a fresh world must
                // be reachable, or the scenario cannot cover it.
                assert!(
                    crashes_in_world > 0,
                    "{crash} is never reached in a fresh run"
                );
                finish_world(&world, crashes_in_world).await;
                world = World::up().await;
                world.emu.reset_stats();
                crashes_in_world = 0;
            }
        }
    }
    // Complete the last world's run without a crash point.
    let run = world.failover(&[], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    finish_world(&world, crashes_in_world).await;
    assert_eq!(
        hit, total,
        "every journal point of every step was killed once"
    );
}

/// Scenario 2: a crash right after the promotion call is sent; the promotion is not sent again,
/// the run observes the promoted state and continues.
#[tokio::test(flavor = "multi_thread")]
async fn crash_after_promotion_sent() {
    let world = World::up().await;
    world.emu.reset_stats();
    let run = world
        .failover(
            &[],
            &[("PILOTLIGHT_CRASHPOINT", "promote-db/db@after_call")],
        )
        .await;
    assert_eq!(
        run.signal,
        Some(9),
        "killed right after the promotion call: {}",
        run.stderr
    );
    assert_eq!(
        world
            .emu
            .stats()
            .request_count("rds", world.dr(), "PromoteReadReplica"),
        1
    );
    let resumed = world.failover(&[], &[]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert!(
        resumed.stderr.contains("resuming run"),
        "{}",
        resumed.stderr
    );
    assert_eq!(
        world
            .emu
            .stats()
            .request_count("rds", world.dr(), "PromoteReadReplica"),
        1,
        "not sent again"
    );
}
