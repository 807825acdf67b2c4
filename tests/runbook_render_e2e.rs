//! End to end: the runbook `pilotlight runbook render` prints is a procedure a person can follow
//! with the AWS CLI alone, and it gets the same result as Pilotlight.
//!
//! In the emulator, the sandbox is built (`World::up`), the rendered runbook's command blocks
//! (the convention of `pilotlight_render::blocks`) are run one by one with the AWS CLI (PyPI
//! `awscli`, as `python3 -m awscli`, pointed at the emulator, static test credentials, the region
//! of each command), in document order: every Run and Wait block, and every Check, Gate and
//! Verify block whose output the runbook states (`# expect ...`), which must then show it.
//! Decision and Roll back blocks are not run (nothing calls for them here); every block is
//! syntax-checked with `bash -n`.
//!
//! - Failover: the end state of the manual failover equals, resource by resource, the end state
//!   of `pilotlight failover` on a second sandbox, and the same kinds of changes were sent.
//! - Failback (after a `pilotlight failover`): the manual failback leaves the world as it was
//!   before the failover, which is what `pilotlight failback` produces (tests/failback_e2e.rs),
//!   with the final snapshots kept and protection restored (`check` passes).

mod common;

use common::{diff, pilotlight, snapshot, World, RUNBOOKS};
use pilotlight_render::{command_blocks, CommandBlock, Role};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// Run `pilotlight runbook render` for the world's config.
async fn render(world: &World, runbook: &str, format: &str) -> String {
    let run = pilotlight(&[
        "--runbooks",
        RUNBOOKS,
        "runbook",
        "render",
        "--config",
        world.config_path.to_str().unwrap(),
        "--runbook",
        runbook,
        "--format",
        format,
    ])
    .await;
    assert_eq!(run.code, 0, "render {runbook}:\n{}", run.stderr);
    run.stdout
}

/// What every block runs after: the AWS CLI of PyPI against the emulator, the test credentials,
/// no default region (every command names its own), then the runbook's own setup blocks.
fn prelude(world: &World, blocks: &[CommandBlock]) -> String {
    let mut p = format!(
        "set -euo pipefail\n\
         unset AWS_REGION AWS_DEFAULT_REGION AWS_PROFILE\n\
         export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true\n\
         export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null\n\
         # AWS CLI v1 ignores AWS_ENDPOINT_URL for some services in us-east-1 (RDS): pass it.\n\
         aws() {{ python3 -m awscli --endpoint-url '{}' \"$@\"; }}\n",
        world.emu.endpoint()
    );
    for b in blocks.iter().filter(|b| b.role == Role::Setup) {
        p.push_str(&b.script);
        p.push('\n');
    }
    p
}

/// Run one block with bash; (exit code, stdout, stderr).
async fn bash(prelude: &str, script: &str, check_only: bool) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new("bash");
    if check_only {
        cmd.arg("-n");
    }
    let out = cmd
        .arg("-c")
        .arg(format!("{prelude}\n{script}\n"))
        .output()
        .await
        .expect("run bash");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Follow the runbook: run its blocks in order as a person would. Returns (node, role) of every
/// block run.
async fn follow(world: &World, markdown: &str) -> Vec<(String, Role)> {
    let blocks = command_blocks(markdown);
    assert!(
        blocks.iter().any(|b| b.role == Role::Act),
        "a runbook with commands"
    );
    let prelude = prelude(world, &blocks);
    let mut ran = Vec::new();
    for b in &blocks {
        let (code, _, err) = bash(&prelude, &b.script, true).await;
        assert_eq!(
            code,
            0,
            "bash -n of {} {}:\n{}\n{err}",
            b.node,
            b.role.name(),
            b.script
        );
        let run = match b.role {
            Role::Act | Role::Wait => true,
            Role::Check | Role::Gate | Role::Verify => b.expect.is_some(),
            Role::Setup | Role::Decision | Role::Rollback => false,
        };
        if !run {
            continue;
        }
        // "Repeat until it does": a reading may be retried a few times; a change never is.
        let attempts = if b.role == Role::Act { 1 } else { 10 };
        let mut last = String::new();
        for attempt in 1..=attempts {
            let (code, out, err) = bash(&prelude, &b.script, false).await;
            assert_eq!(
                code,
                0,
                "{} {} failed:\n{}\nstdout:\n{out}\nstderr:\n{err}",
                b.node,
                b.role.name(),
                b.script
            );
            match &b.expect {
                Some(e) if !e.matches(&out) => {
                    last = out;
                    if attempt < attempts {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                }
                _ => {
                    last.clear();
                    break;
                }
            }
        }
        assert!(
            last.is_empty(),
            "{} {}: expected {:?}, got {last:?}\n{}",
            b.node,
            b.role.name(),
            b.expect,
            b.script
        );
        ran.push((b.node.clone(), b.role));
    }
    ran
}

/// The (service, region, operation) of every change the emulator saw (not a read).
fn changes(world: &World) -> BTreeSet<(String, String, String)> {
    world
        .emu
        .stats()
        .requests
        .into_iter()
        .filter(|r| {
            !["Describe", "List", "Get", "Head"]
                .iter()
                .any(|p| r.operation.starts_with(p))
        })
        .map(|r| (r.service, r.region, r.operation))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rendered_failover_runbook_gets_what_pilotlight_failover_gets() {
    let (manual, auto) = tokio::join!(World::up(), World::up());
    assert_eq!(
        snapshot(&manual).await,
        snapshot(&auto).await,
        "two identical sandboxes to start from"
    );
    manual.emu.reset_stats();
    auto.emu.reset_stats();

    // By hand: the rendered runbook, block by block, with the AWS CLI.
    let md = render(&manual, "failover", "md").await;
    let ran = follow(&manual, &md).await;
    let acted: BTreeSet<&str> = ran
        .iter()
        .filter(|(_, r)| *r == Role::Act)
        .map(|(n, _)| n.as_str())
        .collect();
    for node in [
        "scale-services/api",
        "scale-services/signaling",
        "scale-media-routers/media-routers",
        "promote-db/db",
        "shift-dns/api-dns",
        "shift-dns/media-dns",
        "shift-dns/web-dns",
    ] {
        assert!(acted.contains(node), "{node} was carried out: {acted:?}");
    }
    for gate in ["readiness", "lag/db", "capacity"] {
        assert!(ran.iter().any(|(n, _)| n == gate), "{gate} was checked");
    }

    // With Pilotlight, on the twin sandbox.
    let run = auto.failover(&["--output", "json"], &[]).await;
    assert_eq!(run.code, 0, "pilotlight failover:\n{}", run.stderr);

    let (by_hand, by_pilotlight) = (snapshot(&manual).await, snapshot(&auto).await);
    let differs = diff(&by_hand, &by_pilotlight);
    assert!(
        differs.is_empty(),
        "the manual failover differs from pilotlight failover:\n{}",
        differs.join("\n")
    );
    // And that state is a failover: DR at active size, promoted, DNS moved.
    let cfg = &manual.config;
    let (primary, dr) = (manual.primary(), manual.dr());
    for s in &cfg.ecs_services {
        let n = s.active_count as i64;
        assert_eq!(
            by_hand[&format!("ecs {dr} {}", s.service)],
            json!({"desired": n, "running": n})
        );
    }
    let g = &cfg.autoscaling_groups[0];
    assert_eq!(
        by_hand[&format!("asg {dr} {}", g.group)]["in_service"],
        json!(g.active_capacity)
    );
    let db = &cfg.rds_replicas[0];
    assert_eq!(
        by_hand[&format!("rds {dr} {}", db.replica_instance)]["replica_of"],
        Value::Null,
        "promoted"
    );
    assert_eq!(
        by_hand[&format!("rds {dr} {}", db.replica_instance)]["status"],
        "available"
    );
    for rec in &cfg.route53.as_ref().unwrap().records {
        let p = &by_hand[&format!("route53 {} {}", rec.record_name, rec.primary_set_identifier)];
        assert_eq!(
            p["inverted"], true,
            "{}: primary health check inverted",
            rec.name
        );
    }
    let web = cfg
        .route53
        .as_ref()
        .unwrap()
        .records
        .iter()
        .find(|r| r.name == "web-dns")
        .unwrap();
    assert_eq!(
        by_hand[&format!("route53 {} {}", web.record_name, web.dr_set_identifier)]["weight"],
        100
    );
    // The same kinds of changes were sent, and the promotion exactly once.
    assert_eq!(changes(&manual), changes(&auto), "the same changes");
    for w in [&manual, &auto] {
        assert_eq!(
            w.emu.stats().request_count("rds", dr, "PromoteReadReplica"),
            1
        );
        assert_eq!(
            w.emu
                .stats()
                .request_count("rds", primary, "PromoteReadReplica"),
            0
        );
    }
    // Pilotlight reads the manual result as a failover too.
    let journal = manual.journal();
    let status = pilotlight(&[
        "--journal",
        &journal,
        "status",
        "--config",
        manual.config_path.to_str().unwrap(),
        "--output",
        "json",
    ])
    .await
    .json();
    assert_eq!(status["serving"], "dr", "{status:#}");

    // The HTML page holds the same commands.
    let html = render(&manual, "failover", "html").await;
    assert!(html.starts_with("<!DOCTYPE html>"));
    for b in command_blocks(&md).iter().filter(|b| b.role == Role::Act) {
        let first = b.script.lines().next().unwrap();
        let escaped = first
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;");
        assert!(html.contains(&escaped), "{first}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rendered_failback_runbook_restores_the_world_as_pilotlight_failback_does() {
    let world = World::up().await;
    let before = snapshot(&world).await;
    let over = world.failover(&[], &[]).await;
    assert_eq!(over.code, 0, "pilotlight failover:\n{}", over.stderr);
    world.emu.reset_stats();

    // By hand: the rendered failback runbook, block by block, with the AWS CLI.
    let md = render(&world, "failback", "md").await;
    let ran = follow(&world, &md).await;
    for node in [
        "fence-old-primary/db",
        "retire-old-primary/db",
        "reprotect/db",
        "fence-dr-writer/db",
        "switchover-db/db",
        "return-dns/api-dns",
        "return-web/web-dns@10",
        "return-web/web-dns@50",
        "return-web/web-dns@100",
        "retire-dr-writer/db",
        "reprotect-dr/db",
        "scale-down-services/api",
        "scale-down-media-routers/media-routers",
    ] {
        assert!(
            ran.iter().any(|(n, r)| n == node && *r == Role::Act),
            "{node} was carried out"
        );
    }
    for gate in ["protected/db", "caught-up/db", "dr-protected/db"] {
        assert!(
            ran.iter().any(|(n, r)| n == gate && *r == Role::Gate),
            "{gate} was checked"
        );
    }

    // As before the failover, resource by resource: what `pilotlight failback` leaves
    // (tests/failback_e2e.rs asserts the same of it).
    let after = snapshot(&world).await;
    let differs = diff(&before, &after);
    assert!(differs.is_empty(), "not restored:\n{}", differs.join("\n"));
    // The promotion back was sent once, in the primary region only.
    let stats = world.emu.stats();
    assert_eq!(
        stats.request_count("rds", world.primary(), "PromoteReadReplica"),
        1
    );
    assert_eq!(
        stats.request_count("rds", world.dr(), "PromoteReadReplica"),
        0
    );
    // The final snapshots of the two retired writers are kept.
    let db = &world.config.rds_replicas[0];
    for (region, id) in [
        (world.primary(), &db.primary_instance),
        (world.dr(), &db.replica_instance),
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
            snaps
                .db_snapshots()
                .iter()
                .any(|s| s
                    .db_snapshot_identifier()
                    .is_some_and(|n| n
                        .starts_with(&format!("{id}{}", pilotlight_render::FINAL_SNAPSHOT_INFIX)))),
            "final snapshot of {id} in {region}"
        );
    }
    // Protection restored: the readiness check passes, the primary serves.
    let check = world.check().await;
    assert_eq!(
        check.code, 0,
        "check after the manual failback:\n{}",
        check.stdout
    );
    let journal = world.journal();
    let status = pilotlight(&[
        "--journal",
        &journal,
        "status",
        "--config",
        world.config_path.to_str().unwrap(),
        "--output",
        "json",
    ])
    .await
    .json();
    assert_eq!(status["serving"], "primary", "{status:#}");
    assert_eq!(status["protected"], true, "{status:#}");
}

/// The values the renderer writes into commands are the actuator's.
#[test]
fn the_rendered_constants_are_the_actuators() {
    use pilotlight_aws::actions;
    assert_eq!(pilotlight_render::ROUTE53_REGION, actions::ROUTE53_REGION);
    assert_eq!(
        pilotlight_render::PROMOTION_BACKUP_RETENTION_DAYS,
        actions::PROMOTION_BACKUP_RETENTION_DAYS
    );
    assert_eq!(pilotlight_render::SERVING_WEIGHT, actions::SERVING_WEIGHT);
}
