//! End to end against the emulator: `sandbox up` → `failover` → `failback` leaves the world as it
//! was, resource by resource, with protection restored (`check` passes, `status` says normal) and
//! every step in the journal; a failback killed mid-run resumes and completes; a failback when
//! DR does not serve is refused before anything changes (scenario 9, `old_primary_returns`: the
//! old primary is fenced before any failback step acts).

mod common;

use common::{diff, pilotlight, pilotlight_env, show_run, snapshot, Run, World};
use serde_json::Value;

async fn failback(world: &World, runbooks: &str, vars: &[(&str, &str)]) -> Run {
    let journal = world.journal();
    pilotlight_env(
        &[
            "--journal",
            &journal,
            "--runbooks",
            runbooks,
            "failback",
            "--config",
            world.config_path.to_str().unwrap(),
            "--reason",
            "primary region recovered",
            "--yes",
            "--output",
            "json",
        ],
        vars,
    )
    .await
}

async fn status(world: &World) -> Value {
    let journal = world.journal();
    let run = pilotlight(&[
        "--journal",
        &journal,
        "status",
        "--config",
        world.config_path.to_str().unwrap(),
        "--output",
        "json",
    ])
    .await;
    run.json()
}

fn step_ids(report: &Value) -> Vec<(String, String)> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_then_failback_restores_the_world() {
    let world = World::up().await;
    let runbooks = world.quick_runbooks();
    let before = snapshot(&world).await;
    let st = status(&world).await;
    assert_eq!(st["phase"], "normal", "{st:#}");
    assert_eq!(st["serving"], "primary");

    // A failback when DR does not serve is refused, and changes nothing.
    world.emu.reset_stats();
    let refused = failback(&world, &runbooks, &[]).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("DR does not serve"),
        "{}",
        refused.stderr
    );
    let stats = world.emu.stats();
    for op in ["ModifyDBInstance", "StopDBInstance", "DeleteDBInstance"] {
        assert_eq!(stats.request_count("rds", world.primary(), op), 0, "{op}");
    }

    let over = world.failover(&[], &[]).await;
    assert_eq!(over.code, 0, "failover:\n{}", over.stderr);
    let st = status(&world).await;
    assert_eq!(st["phase"], "failed_over", "{st:#}");
    assert_eq!(st["serving"], "dr");
    assert_eq!(st["protected"], false);

    // `plan failback` shows the steps, the live values and what would block (nothing: the
    // lag gates of a failback wait rather than refuse).
    let plan = pilotlight(&[
        "--runbooks",
        &runbooks,
        "plan",
        "failback",
        "--config",
        world.config_path.to_str().unwrap(),
        "--output",
        "json",
    ])
    .await;
    assert_eq!(plan.code, 0, "plan failback:\n{}", plan.stderr);
    let plan = plan.json();
    assert_eq!(plan["blocking"].as_array().unwrap().len(), 0, "{plan:#}");
    let ids: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids[..2], ["announce", "fence-old-primary/db"], "{ids:?}");

    let back = failback(&world, &runbooks, &[]).await;
    assert_eq!(back.code, 0, "failback:\n{}\n{}", back.stdout, back.stderr);
    let report = back.json();
    assert_eq!(report["run"]["status"], "succeeded");
    // Every step is in the journal, succeeded.
    let steps = step_ids(&report);
    for expected in [
        "fence-old-primary/db",
        "retire-old-primary/db",
        "reprotect/db",
        "protected/db",
        "fence-dr-writer/db",
        "caught-up/db",
        "switchover-db/db",
        "return-dns/api-dns",
        "return-web/web-dns@10",
        "return-web/web-dns@50",
        "return-web/web-dns@100",
        "retire-dr-writer/db",
        "reprotect-dr/db",
        "scale-down-media-routers/media-routers",
    ] {
        assert!(
            steps
                .iter()
                .any(|(id, s)| id == expected && s == "succeeded"),
            "{expected} in {steps:?}"
        );
    }
    // The old primary was fenced before it was retired, and both before the switchover.
    let journal = world.journal();
    let run_id = report["run"]["id"].as_str().unwrap().to_string();
    let shown = pilotlight(&[
        "--journal",
        &journal,
        "runs",
        "show",
        &run_id,
        "--output",
        "json",
    ])
    .await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let shown = shown.json();
    let step = |id: &str| {
        shown["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} in the report"))
    };
    let finished = |id: &str| {
        let s = step(id);
        s["start_s"].as_f64().unwrap() + s["duration_s"].as_f64().unwrap()
    };
    let started = |id: &str| step(id)["start_s"].as_f64().unwrap();
    assert!(finished("fence-old-primary/db") <= started("retire-old-primary/db"));
    assert!(finished("caught-up/db") <= started("switchover-db/db"));

    // The world is as it was, resource by resource.
    let after = snapshot(&world).await;
    let changed = diff(&before, &after);
    assert!(changed.is_empty(), "not restored:\n{}", changed.join("\n"));
    // The final snapshots of the two retired writers are kept.
    for (region, id) in [
        (
            world.primary(),
            &world.config.rds_replicas[0].primary_instance,
        ),
        (world.dr(), &world.config.rds_replicas[0].replica_instance),
    ] {
        let snaps = world
            .proxied()
            .rds(region)
            .await
            .describe_db_snapshots()
            .send()
            .await
            .unwrap();
        assert!(
            snaps.db_snapshots().iter().any(|s| s
                .db_snapshot_identifier()
                .is_some_and(|n| n.starts_with(&format!("{id}-pilotlight-final-")))),
            "final snapshot of {id} in {region}"
        );
    }
    // Protection restored.
    let check = world.check().await;
    assert_eq!(check.code, 0, "check after failback:\n{}", check.stdout);
    let st = status(&world).await;
    assert_eq!(st["phase"], "normal", "{st:#}");
    assert_eq!(st["serving"], "primary");
    assert_eq!(st["protected"], true, "{st:#}");
    assert_eq!(st["last_run"]["runbook"], "failback");
}

/// Kill the process during failback (right after the reprotect call was sent, before its result
/// was written): running failback again resumes the run and completes it.
#[tokio::test(flavor = "multi_thread")]
async fn killed_during_failback_resumes_and_completes() {
    let world = World::up().await;
    let runbooks = world.quick_runbooks();
    let before = snapshot(&world).await;
    let over = world.failover(&[], &[]).await;
    assert_eq!(over.code, 0, "failover:\n{}", over.stderr);

    let killed = failback(
        &world,
        &runbooks,
        &[("PILOTLIGHT_CRASHPOINT", "reprotect/db@after_call")],
    )
    .await;
    assert_eq!(
        killed.signal,
        Some(9),
        "killed at the crash point:\n{}",
        killed.stderr
    );
    let st = status(&world).await;
    assert_eq!(st["phase"], "failing_back", "{st:#}");

    world.emu.reset_stats();
    let resumed = failback(&world, &runbooks, &[]).await;
    assert_eq!(resumed.code, 0, "resume:\n{}", resumed.stderr);
    assert!(
        resumed.stderr.contains("resuming run"),
        "{}",
        resumed.stderr
    );
    // The replica requested before the crash was not requested again in the primary region.
    assert_eq!(
        world
            .emu
            .stats()
            .request_count("rds", world.primary(), "CreateDBInstanceReadReplica"),
        0,
        "live state was read first: the replica already existed"
    );
    let after = snapshot(&world).await;
    let changed = diff(&before, &after);
    assert!(changed.is_empty(), "not restored:\n{}", changed.join("\n"));
}

/// The runbooks with the soak and the routers' drain timeout shortened.
fn runbooks_with(world: &World, soak: &str, drain: &str) -> String {
    let dir = world.quick_runbooks();
    let path = format!("{dir}/failback.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replace("soak = \"1s\"", &format!("soak = \"{soak}\""))
        .replace(
            "drain_timeout = \"30m\"",
            &format!("drain_timeout = \"{drain}\""),
        );
    std::fs::write(&path, text).unwrap();
    dir
}

/// `runs show` of the only failback run, once it exists.
async fn failback_run(world: &World) -> Option<Value> {
    let journal = world.journal();
    let runs = pilotlight(&["--journal", &journal, "runs", "--output", "json"]).await;
    let list = runs.json();
    let id = list
        .as_array()
        .or_else(|| list["runs"].as_array())?
        .iter()
        .find(|r| r["runbook"] == "failback")?["id"]
        .as_str()?
        .to_string();
    Some(show_run(&journal, &id).await)
}

fn step_status(run: &Value, id: &str) -> String {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .map(|s| s["status"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

/// Poll the failback run until `pred` holds (at most 3 minutes).
async fn wait_until(world: &World, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..600 {
        if let Some(run) = failback_run(world).await {
            if pred(&run) {
                return run;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn approve(world: &World, run_id: &str, step: &str) {
    let journal = world.journal();
    let run = pilotlight(&[
        "--journal",
        &journal,
        "approve",
        run_id,
        step,
        "--by",
        "carol",
    ])
    .await;
    assert_eq!(run.code, 0, "approve: {}", run.stderr);
}

async fn dr_routers(world: &World) -> (usize, usize) {
    let g = &world.config.autoscaling_groups[0];
    let out = world
        .direct()
        .autoscaling(world.dr())
        .await
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&g.group)
        .send()
        .await
        .unwrap();
    let grp = &out.auto_scaling_groups()[0];
    let in_service = grp
        .instances()
        .iter()
        .filter(|i| i.lifecycle_state().map(|s| s.as_str()) == Some("InService"))
        .count();
    let protected = grp
        .instances()
        .iter()
        .filter(|i| i.protected_from_scale_in() == Some(true))
        .count();
    (in_service, protected)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drain_that_never_completes_pauses_the_failback_for_a_decision() {
    let world = World::up().await;
    let runbooks = runbooks_with(&world, "1s", "3s");
    let over = world.failover(&[], &[]).await;
    assert_eq!(over.code, 0, "failover:\n{}", over.stderr);
    // Three DR routers host live conferences: they protect themselves from scale-in.
    let group = world.config.autoscaling_groups[0].group.clone();
    let asg = world.direct().autoscaling(world.dr()).await;
    let out = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&group)
        .send()
        .await
        .unwrap();
    let ids: Vec<String> = out.auto_scaling_groups()[0]
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_string))
        .take(3)
        .collect();
    assert_eq!(ids.len(), 3);
    asg.set_instance_protection()
        .auto_scaling_group_name(&group)
        .set_instance_ids(Some(ids))
        .protected_from_scale_in(true)
        .send()
        .await
        .unwrap();

    let w = &world;
    let driver = {
        let runbooks = runbooks.clone();
        let journal = world.journal();
        let config = world.config_path.to_str().unwrap().to_string();
        tokio::spawn(async move {
            pilotlight_env(
                &[
                    "--journal",
                    &journal,
                    "--runbooks",
                    &runbooks,
                    "failback",
                    "--config",
                    &config,
                    "--reason",
                    "primary back",
                    "--yes",
                    "--output",
                    "json",
                ],
                &[],
            )
            .await
        })
    };
    let node = "scale-down-media-routers/media-routers";
    let run = wait_until(w, "the drain decision", |r| {
        step_status(r, node) == "awaiting_approval"
    })
    .await;
    assert_eq!(run["run"]["status"], "paused", "{run:#}");
    // Nothing was terminated under the live sessions, and nothing moves while the decision is open.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(dr_routers(w).await, (3, 3), "protected routers kept");
    let run = failback_run(w).await.unwrap();
    assert_eq!(step_status(&run, node), "awaiting_approval");
    assert_eq!(step_status(&run, "done"), "pending");
    let id = run["run"]["id"].as_str().unwrap().to_string();
    approve(w, &id, node).await;
    let done = driver.await.unwrap();
    assert_eq!(
        done.code, 0,
        "failback after the decision:\n{}",
        done.stderr
    );
    assert_eq!(dr_routers(w).await, (1, 0), "scaled in after the approval");
    let report = done.json();
    let decisions = report["decisions"].as_array().unwrap();
    assert!(
        decisions.iter().any(|d| d["kind"] == "decision_requested"
            && d["why"].as_str().unwrap().contains("has not drained")),
        "{decisions:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_health_drop_during_the_gradual_return_rolls_back_the_last_weight_step() {
    let world = World::up().await;
    let runbooks = runbooks_with(&world, "4s", "30m");
    let over = world.failover(&[], &[]).await;
    assert_eq!(over.code, 0, "failover:\n{}", over.stderr);
    let zone = world.config.route53.as_ref().unwrap();
    let web = zone.records.iter().find(|r| r.name == "web-dns").unwrap();
    let r53 = world.proxied().route53(world.primary()).await;
    let weights = || async {
        let sets = r53
            .list_resource_record_sets()
            .hosted_zone_id(&zone.zone_id)
            .send()
            .await
            .unwrap();
        let w = |id: &str| {
            sets.resource_record_sets()
                .iter()
                .find(|s| s.set_identifier() == Some(id))
                .and_then(|s| s.weight())
                .unwrap()
        };
        (w(&web.primary_set_identifier), w(&web.dr_set_identifier))
    };
    let sets = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zone.zone_id)
        .send()
        .await
        .unwrap();
    let primary_hc = sets
        .resource_record_sets()
        .iter()
        .find(|s| s.set_identifier() == Some(web.primary_set_identifier.as_str()))
        .and_then(|s| s.health_check_id())
        .unwrap()
        .to_string();

    let w = &world;
    let driver = {
        let journal = world.journal();
        let config = world.config_path.to_str().unwrap().to_string();
        tokio::spawn(async move {
            pilotlight_env(
                &[
                    "--journal",
                    &journal,
                    "--runbooks",
                    &runbooks,
                    "failback",
                    "--config",
                    &config,
                    "--reason",
                    "primary back",
                    "--yes",
                    "--output",
                    "json",
                ],
                &[],
            )
            .await
        })
    };
    // The primary's health drops once 10% of the traffic is back.
    wait_until(w, "the 10% step", |r| {
        step_status(r, "return-web/web-dns@10") == "succeeded"
    })
    .await;
    world
        .emu
        .control()
        .set_health_check(primary_hc.clone(), false);
    let node = "return-web/web-dns@50";
    let run = wait_until(w, "the health decision", |r| {
        step_status(r, node) == "awaiting_approval"
    })
    .await;
    assert_eq!(run["run"]["status"], "paused", "{run:#}");
    assert_eq!(
        weights().await,
        (10, 90),
        "rolled back to the last healthy weight"
    );
    assert_eq!(step_status(&run, "return-web/web-dns@100"), "pending");
    // Fixed, then approved: 50% again, then all of it.
    world.emu.control().set_health_check(primary_hc, true);
    let id = run["run"]["id"].as_str().unwrap().to_string();
    approve(w, &id, node).await;
    let done = driver.await.unwrap();
    assert_eq!(
        done.code, 0,
        "failback after the decision:\n{}",
        done.stderr
    );
    assert_eq!(weights().await, (100, 0));
    let shown = failback_run(w).await.unwrap();
    let step50 = shown["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == node)
        .unwrap()
        .clone();
    assert_eq!(step50["attempts"], 2, "{step50:#}");
}
