//! Snapshots of the rendered failover and failback runbooks of the sandbox, and what every
//! rendered runbook must hold: each plan node rendered in an order that respects its
//! dependencies, the exact AWS CLI commands, the same command blocks in Markdown and HTML, a
//! self-contained HTML page, and every action kind rendered.
//!
//! The snapshots live in `tests/snapshots/`. After an intended change, bless them with
//! `PILOTLIGHT_BLESS=1 cargo test -p pilotlight-render --test snapshots` and review the diff.

use pilotlight_core::model::EnvironmentConfig;
use pilotlight_core::plan::{build_plan, Plan};
use pilotlight_core::runbook::Runbook;
use pilotlight_render::{command_blocks, render, CommandBlock, Expect, Format, Options, Role};
use std::collections::HashMap;
use std::path::PathBuf;

const ENV: &str = include_str!("fixtures/sandbox.toml");
const FAILOVER: &str = include_str!("../../../runbooks/failover.toml");
const FAILBACK: &str = include_str!("../../../runbooks/failback.toml");

fn env() -> EnvironmentConfig {
    toml::from_str(ENV).expect("fixture parses")
}

fn plan(env: &EnvironmentConfig, runbook: &str) -> (Plan, Options) {
    let rb: Runbook = toml::from_str(runbook).expect("runbook parses");
    let plan = build_plan(env, &rb).expect("plan builds");
    let options = Options {
        description: Some(rb.runbook.description.clone()),
        config_file: Some(".sandbox/environment.toml".into()),
    };
    (plan, options)
}

/// Compare `actual` with the snapshot file `name`, or write it when PILOTLIGHT_BLESS is set.
fn snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("PILOTLIGHT_BLESS").is_some() {
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}: run with PILOTLIGHT_BLESS=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from its snapshot from line {}:\n  snapshot: {:?}\n  rendered: {:?}\nIf the change is intended, bless it: PILOTLIGHT_BLESS=1 cargo test -p pilotlight-render --test snapshots",
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

#[test]
fn failover_runbook_snapshots() {
    let env = env();
    let (plan, opts) = plan(&env, FAILOVER);
    snapshot("failover.md", &render(&plan, &env, &opts, Format::Markdown));
    snapshot("failover.html", &render(&plan, &env, &opts, Format::Html));
}

#[test]
fn failback_runbook_snapshots() {
    let env = env();
    let (plan, opts) = plan(&env, FAILBACK);
    snapshot("failback.md", &render(&plan, &env, &opts, Format::Markdown));
    snapshot("failback.html", &render(&plan, &env, &opts, Format::Html));
}

/// The position of each node's first command block, and the blocks by node.
fn blocks_by_node(blocks: &[CommandBlock]) -> HashMap<&str, Vec<(usize, &CommandBlock)>> {
    let mut by: HashMap<&str, Vec<(usize, &CommandBlock)>> = HashMap::new();
    for (i, b) in blocks.iter().enumerate() {
        by.entry(b.node.as_str()).or_default().push((i, b));
    }
    by
}

/// What every rendered runbook must hold, checked for a plan.
fn holds_for(plan: &Plan, env: &EnvironmentConfig, opts: &Options) {
    let md = render(plan, env, opts, Format::Markdown);
    assert_eq!(
        md,
        render(plan, env, opts, Format::Markdown),
        "deterministic"
    );
    let blocks = command_blocks(&md);
    let by = blocks_by_node(&blocks);
    for n in &plan.nodes {
        // Every node has its section, in an order that respects the plan's dependencies.
        let heading = md
            .lines()
            .position(|l| l.starts_with('#') && l.contains(&format!("`{}`", n.id)))
            .unwrap_or_else(|| panic!("{} has a heading", n.id));
        for d in &n.depends_on {
            let dep = md
                .lines()
                .position(|l| l.starts_with('#') && l.contains(&format!("`{d}`")))
                .unwrap();
            assert!(dep < heading, "{d} comes before {}", n.id);
            if let (Some(mine), Some(theirs)) = (by.get(n.id.as_str()), by.get(d.as_str())) {
                let first_mine = mine.iter().map(|(i, _)| *i).min().unwrap();
                let last_theirs = theirs.iter().map(|(i, _)| *i).max().unwrap();
                assert!(
                    last_theirs < first_mine,
                    "every block of {d} comes before the blocks of {}",
                    n.id
                );
            }
        }
        // Steps that act on AWS have a Run block and a Verify block with an expectation.
        let acts = matches!(
            n.kind.name(),
            "scale_ecs"
                | "scale_autoscaling"
                | "promote_rds_replica"
                | "fence_database"
                | "retire_database"
                | "reprotect_database"
                | "aurora_failover"
                | "aurora_switchover"
                | "shift_traffic"
        );
        if acts {
            let mine = by.get(n.id.as_str()).expect("blocks");
            assert!(
                mine.iter().any(|(_, b)| b.role == Role::Act),
                "{} runs",
                n.id
            );
            assert!(
                mine.iter()
                    .any(|(_, b)| b.role == Role::Verify && b.expect.is_some()),
                "{} is verified against an expectation",
                n.id
            );
            assert!(
                mine.iter().any(|(_, b)| b.role == Role::Rollback)
                    || md.contains("cannot be undone"),
                "{} says how to roll back",
                n.id
            );
        }
    }
    for b in &blocks {
        // Every AWS command names its region explicitly (nothing relies on a default region).
        let joined = joined(&b.script);
        for line in joined.lines().filter(|l| !l.trim_start().starts_with('#')) {
            let starts: Vec<usize> = line
                .match_indices("aws ")
                .map(|(i, _)| i)
                .filter(|i| *i == 0 || !line.as_bytes()[i - 1].is_ascii_alphanumeric())
                .collect();
            for (k, start) in starts.iter().enumerate() {
                let end = starts.get(k + 1).copied().unwrap_or(line.len());
                assert!(
                    line[*start..end].contains("--region "),
                    "region in: {}",
                    &line[*start..end]
                );
            }
        }
        if !b.role.forward() {
            continue;
        }
        assert!(
            !b.script.contains("REPLACE-WITH"),
            "placeholders only in rollbacks: {}",
            b.script
        );
    }
    // The HTML page holds the same command blocks, and nothing external.
    let html = render(plan, env, opts, Format::Html);
    let from_html = html_blocks(&html);
    assert_eq!(from_html.len(), blocks.len());
    for ((role, node, script), b) in from_html.iter().zip(&blocks) {
        assert_eq!(
            (role.as_str(), node.as_str()),
            (b.role.name(), b.node.as_str())
        );
        assert_eq!(script, &b.script);
    }
    for external in ["<script", "<link", "<img", "src=", "url(", "@import"] {
        assert!(!html.contains(external), "self-contained: found {external}");
    }
}

/// (role, node, script) of every command block of a rendered HTML page.
fn html_blocks(html: &str) -> Vec<(String, String, String)> {
    let unescape = |s: &str| {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    };
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<pre class=\"cmd ") {
        rest = &rest[start..];
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            let from = rest.find(&key).unwrap() + key.len();
            let to = from + rest[from..].find('"').unwrap();
            unescape(&rest[from..to])
        };
        let (role, node) = (attr("data-role"), attr("data-node"));
        let from = rest.find("<code>").unwrap() + "<code>".len();
        let to = rest.find("</code></pre>").unwrap();
        out.push((role, node, unescape(&rest[from..to])));
        rest = &rest[to..];
    }
    out
}

#[test]
fn the_sandbox_runbooks_hold_the_rules() {
    let env = env();
    for text in [FAILOVER, FAILBACK] {
        let (plan, opts) = plan(&env, text);
        holds_for(&plan, &env, &opts);
    }
}

/// The scripts of a node's blocks of one role, continued lines joined.
fn script_of(blocks: &[CommandBlock], node: &str, role: Role) -> Vec<String> {
    blocks
        .iter()
        .filter(|b| b.node == node && b.role == role)
        .map(|b| joined(&b.script))
        .collect()
}

/// A script with its continued lines (` \` at the end) joined.
fn joined(script: &str) -> String {
    script
        .split(" \\\n")
        .enumerate()
        .map(|(i, part)| if i == 0 { part } else { part.trim_start() })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_failover_runbook_has_the_exact_commands() {
    let env = env();
    let (plan, opts) = plan(&env, FAILOVER);
    let md = render(&plan, &env, &opts, Format::Markdown);
    let blocks = command_blocks(&md);
    assert_eq!(
        script_of(&blocks, "scale-services/api", Role::Act),
        ["aws ecs update-service --region us-west-2 --cluster confer --service confer-api --desired-count 4"]
    );
    let verify = blocks
        .iter()
        .find(|b| b.node == "scale-services/signaling" && b.role == Role::Verify)
        .unwrap();
    assert_eq!(verify.expect, Some(Expect::Equals("2 2".into())));
    assert!(verify
        .script
        .contains("--region us-west-2 --cluster confer --services confer-signaling"));
    let promote = script_of(&blocks, "promote-db/db", Role::Act).join("\n");
    assert!(
        promote.contains("aws rds promote-read-replica --region us-west-2 --db-instance-identifier confer-db-replica --backup-retention-period 1"),
        "{promote}"
    );
    assert!(
        promote.contains("if [ \"$SOURCE\" != \"None\" ]"),
        "one-shot guard: {promote}"
    );
    let routers = script_of(&blocks, "scale-media-routers/media-routers", Role::Act).join("\n");
    assert!(routers.contains(
        "aws autoscaling set-desired-capacity --region us-west-2 --auto-scaling-group-name confer-media-routers --desired-capacity 6 --no-honor-cooldown"
    ));
    let lag = blocks
        .iter()
        .find(|b| b.node == "lag/db" && b.role == Role::Gate)
        .unwrap();
    assert_eq!(
        lag.expect,
        Some(Expect::AtMost(60.0)),
        "the RPO budget in seconds"
    );
    assert!(lag
        .script
        .contains("--region us-west-2 --namespace AWS/RDS --metric-name ReplicaLag"));
    assert!(lag
        .script
        .contains("Name=DBInstanceIdentifier,Value=confer-db-replica"));
    // Failover records: the primary set's health check, looked up, then inverted.
    let api = script_of(&blocks, "shift-dns/api-dns", Role::Act).join("\n");
    assert!(api.starts_with("HC=$(aws route53 list-resource-record-sets --region us-east-1 --hosted-zone-id Z0SANDBOX0CONFER"), "{api}");
    assert!(
        api.contains("SetIdentifier==`\"api-confer-primary\"`] | [0].HealthCheckId"),
        "{api}"
    );
    assert!(api.ends_with("aws route53 update-health-check --region us-east-1 --health-check-id \"$HC\" --inverted"), "{api}");
    let rollback = script_of(&blocks, "shift-dns/api-dns", Role::Rollback).join("\n");
    assert!(rollback.ends_with("--no-inverted"), "{rollback}");
    // Weighted records: one batch from the live record sets, DR 100.
    let web = script_of(&blocks, "shift-dns/web-dns", Role::Act).join("\n");
    assert!(
        web.starts_with("BATCH=$(aws route53 list-resource-record-sets"),
        "{web}"
    );
    assert!(
        web.contains("SetIdentifier==`\"web-confer-primary\"`] | [0], {Weight: `0`})"),
        "{web}"
    );
    assert!(
        web.contains("SetIdentifier==`\"web-confer-dr\"`] | [0], {Weight: `100`})"),
        "{web}"
    );
    assert!(web.contains("aws route53 change-resource-record-sets --region us-east-1 --hosted-zone-id Z0SANDBOX0CONFER"), "{web}");
    assert!(web.contains("--change-batch \"$BATCH\""), "{web}");
    assert!(
        web.contains("aws route53 wait resource-record-sets-changed"),
        "{web}"
    );
    // Capacity: 80% of each active count.
    let cap: Vec<Option<Expect>> = blocks
        .iter()
        .filter(|b| b.node == "capacity")
        .map(|b| b.expect.clone())
        .collect();
    assert_eq!(
        cap,
        [
            Some(Expect::AtLeast(4.0)),
            Some(Expect::AtLeast(2.0)),
            Some(Expect::AtLeast(5.0))
        ]
    );
    // The setup points the CLI at the config's endpoint, and never prints its secret.
    let setup = script_of(&blocks, "before-you-start", Role::Setup).join("\n");
    assert!(
        setup.contains("export AWS_ENDPOINT_URL=http://127.0.0.1:4566"),
        "{setup}"
    );
    assert!(
        !md.contains("secret_access_key") && !md.contains("=test"),
        "no credentials printed"
    );
}

#[test]
fn the_failback_runbook_has_the_exact_commands() {
    let env = env();
    let (plan, opts) = plan(&env, FAILBACK);
    let md = render(&plan, &env, &opts, Format::Markdown);
    let blocks = command_blocks(&md);
    assert_eq!(
        script_of(&blocks, "fence-old-primary/db", Role::Act),
        ["aws rds modify-db-instance --region us-east-1 --db-instance-identifier confer-db --db-parameter-group-name confer-db-read-only --apply-immediately"]
    );
    let retire = script_of(&blocks, "retire-old-primary/db", Role::Act).join("\n");
    assert!(
        retire.contains(
            "aws rds delete-db-instance --region us-east-1 --db-instance-identifier confer-db"
        ),
        "{retire}"
    );
    assert!(
        retire.contains(
            "--final-db-snapshot-identifier \"confer-db-pilotlight-final-$(date -u +%s)\""
        ),
        "{retire}"
    );
    let reprotect = script_of(&blocks, "reprotect/db", Role::Act).join("\n");
    assert!(
        reprotect.contains("--region us-west-2 --db-instance-identifier confer-db-replica"),
        "source looked up in DR: {reprotect}"
    );
    assert!(reprotect.contains("aws rds create-db-instance-read-replica --region us-east-1 --db-instance-identifier confer-db"), "{reprotect}");
    assert!(
        reprotect.contains("--source-db-instance-identifier \"$SOURCE_ARN\""),
        "{reprotect}"
    );
    // Zero loss: the caught-up gate and the lag read again right before the promotion.
    let caught_up = blocks
        .iter()
        .find(|b| b.node == "caught-up/db" && b.role == Role::Gate)
        .unwrap();
    assert_eq!(caught_up.expect, Some(Expect::AtMost(0.0)));
    assert!(
        caught_up.script.contains("--region us-east-1")
            && caught_up.script.contains("Value=confer-db ")
    );
    let again = blocks
        .iter()
        .find(|b| b.node == "switchover-db/db" && b.role == Role::Gate)
        .expect("lag read again before the promotion");
    assert_eq!(again.expect, Some(Expect::AtMost(0.0)));
    // The gradual return: 10, 50, 100 with a soak, a rollback to the previous weight.
    for (node, weights, back) in [
        ("return-web/web-dns@10", "10 90", "{Weight: `0`})"),
        ("return-web/web-dns@50", "50 50", "{Weight: `10`})"),
        ("return-web/web-dns@100", "100 0", "{Weight: `50`})"),
    ] {
        let v = blocks
            .iter()
            .find(|b| b.node == node && b.role == Role::Verify)
            .unwrap();
        assert_eq!(v.expect, Some(Expect::Equals(weights.into())), "{node}");
        let soak = blocks
            .iter()
            .find(|b| b.node == node && b.role == Role::Gate)
            .expect("a soak");
        assert_eq!(soak.expect, Some(Expect::Equals("True".into())));
        let decision = script_of(&blocks, node, Role::Decision).join("\n");
        assert!(
            decision.contains(back),
            "{node}: back to the previous weight: {decision}"
        );
    }
    assert!(
        md.contains("held") || md.contains("holds it for 2m"),
        "the soak is stated"
    );
    // The drain: a decision that releases the protection.
    let drain = script_of(
        &blocks,
        "scale-down-media-routers/media-routers",
        Role::Decision,
    )
    .join("\n");
    assert!(drain.contains("aws autoscaling set-instance-protection --region us-west-2 --auto-scaling-group-name confer-media-routers"), "{drain}");
    assert!(drain.contains("--no-protected-from-scale-in"), "{drain}");
    assert!(md.contains("30m"), "the drain timeout is stated");
    // A failback starts only when DR serves.
    let serves = blocks
        .iter()
        .find(|b| b.node == "before-you-start" && b.expect == Some(Expect::Equals("None".into())))
        .expect("DR serves check");
    assert!(serves
        .script
        .contains("--region us-west-2 --db-instance-identifier confer-db-replica"));
}

const EVERY_KIND_ENV: &str = r#"
[environment]
name = "shop-prod"
tier = "production"
[regions]
primary = "eu-west-1"
dr = "eu-central-1"
[objectives]
rto = "30m"
rpo = "5m"
[aws]
profile = "shop-operator"
[[ecs_services]]
name = "web"
cluster = "shop-dr"
service = "web"
primary_cluster = "shop"
pilot_light_count = 2
active_count = 10
[[autoscaling_groups]]
name = "workers"
group = "shop-workers"
pilot_light_capacity = 1
active_capacity = 8
[[rds_replicas]]
name = "orders"
primary_instance = "orders"
replica_instance = "orders-dr"
[[aurora_global_clusters]]
name = "catalog"
global_cluster = "catalog-global"
primary_cluster = "catalog-eu-west-1"
dr_cluster = "catalog-eu-central-1"
[route53]
zone_id = "ZSHOP"
[[route53.records]]
name = "shop-dns"
record_name = "Shop.Example.com"
routing = "weighted"
primary_set_identifier = "shop-primary"
dr_set_identifier = "shop-dr"
"#;

const EVERY_KIND_RUNBOOK: &str = r#"
[runbook]
name = "drill"
direction = "failover"
[[steps]]
id = "ask"
kind = "manual_approval"
message = "Go for the drill?"
[[steps]]
id = "ready"
kind = "readiness_gate"
depends_on = ["ask"]
[[steps]]
id = "lag"
kind = "replication_lag_gate"
targets = ["orders", "catalog"]
depends_on = ["ready"]
[[steps]]
id = "fence"
kind = "fence_database"
targets = ["orders"]
region = "primary"
depends_on = ["lag"]
[[steps]]
id = "promote"
kind = "promote_rds_replica"
targets = ["orders"]
depends_on = ["fence"]
[[steps]]
id = "catalog"
kind = "aurora_failover"
targets = ["catalog"]
depends_on = ["lag"]
[[steps]]
id = "catalog-planned"
kind = "aurora_switchover"
targets = ["catalog"]
depends_on = ["catalog"]
[[steps]]
id = "retire"
kind = "retire_database"
targets = ["orders"]
region = "primary"
depends_on = ["promote"]
[[steps]]
id = "reprotect"
kind = "reprotect_database"
targets = ["orders"]
region = "primary"
depends_on = ["retire"]
[[steps]]
id = "up"
kind = "scale_ecs"
targets = ["web"]
to = "active"
depends_on = ["ready"]
[[steps]]
id = "workers-in"
kind = "scale_autoscaling"
targets = ["workers"]
to = "pilot_light"
region = "primary"
drain_timeout = "10m"
depends_on = ["ready"]
[[steps]]
id = "enough"
kind = "wait_until"
targets = ["web", "workers"]
capacity_at_least = 0.5
depends_on = ["up"]
[[steps]]
id = "smoke"
kind = "command_hook"
command = ["./smoke test.sh", "--fast"]
depends_on = ["enough"]
[[steps]]
id = "dns"
kind = "shift_traffic"
targets = ["shop-dns"]
weights = [25, 100]
soak = "90s"
depends_on = ["smoke", "promote", "catalog-planned"]
[[steps]]
id = "tell"
kind = "notify"
message = "Drill done"
depends_on = ["dns"]
"#;

#[test]
fn every_action_kind_is_rendered() {
    let env: EnvironmentConfig = toml::from_str(EVERY_KIND_ENV).unwrap();
    let rb: Runbook = toml::from_str(EVERY_KIND_RUNBOOK).unwrap();
    let plan = build_plan(&env, &rb).expect("plan builds");
    let opts = Options::default();
    holds_for(&plan, &env, &opts);
    let md = render(&plan, &env, &opts, Format::Markdown);
    let blocks = command_blocks(&md);
    let all = |node: &str| {
        blocks
            .iter()
            .filter(|b| b.node == node)
            .map(|b| joined(&b.script))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(md.contains("“Go for the drill?”"), "approval message");
    assert!(all("ready").contains("aws rds describe-global-clusters --region eu-west-1 --global-cluster-identifier catalog-global"));
    assert!(all("lag/catalog").contains("--metric-name AuroraGlobalDBReplicationLag"));
    let aurora_lag = blocks.iter().find(|b| b.node == "lag/catalog").unwrap();
    assert_eq!(
        aurora_lag.expect,
        Some(Expect::AtMost(300_000.0)),
        "milliseconds"
    );
    assert!(all("fence/orders")
        .contains("aws rds stop-db-instance --region eu-west-1 --db-instance-identifier orders"));
    assert!(
        all("fence/orders").contains("aws rds start-db-instance"),
        "its rollback"
    );
    assert!(
        all("catalog/catalog").contains("aws rds failover-global-cluster --region eu-central-1")
    );
    assert!(all("catalog/catalog").contains("--allow-data-loss"));
    assert!(all("catalog-planned/catalog")
        .contains("aws rds switchover-global-cluster --region eu-central-1"));
    assert!(!all("catalog-planned/catalog").contains("--allow-data-loss"));
    assert!(all("up/web").contains("--cluster shop-dr --service web --desired-count 10"));
    assert!(
        all("up/web").contains("--desired-count 2"),
        "rollback to pilot light"
    );
    assert!(all("workers-in/workers")
        .contains("--auto-scaling-group-name shop-workers --desired-capacity 1"));
    assert!(md.contains("drain timeout of 10m"), "the drain timeout");
    let enough: Vec<Option<Expect>> = blocks
        .iter()
        .filter(|b| b.node == "enough")
        .map(|b| b.expect.clone())
        .collect();
    assert_eq!(
        enough,
        [Some(Expect::AtLeast(5.0)), Some(Expect::AtLeast(4.0))]
    );
    let smoke = all("smoke");
    assert!(
        smoke.contains("PILOTLIGHT_ENVIRONMENT=shop-prod "),
        "{smoke}"
    );
    assert!(smoke.contains("PILOTLIGHT_STEP=smoke "), "{smoke}");
    assert!(smoke.ends_with("'./smoke test.sh' --fast"), "{smoke}");
    assert!(
        all("dns/shop-dns@25").contains("Name==`\"shop.example.com.\"`"),
        "listed name"
    );
    assert!(
        all("dns/shop-dns@25").contains("{Weight: `75`}")
            && all("dns/shop-dns@25").contains("{Weight: `25`}")
    );
    assert!(md.contains("holds it for 1m 30s"));
    assert!(md.contains("“Drill done”"));
    let setup = blocks.iter().find(|b| b.role == Role::Setup).unwrap();
    assert!(setup.script.contains("export AWS_PROFILE=shop-operator"));
    assert!(
        !setup.script.contains("AWS_ENDPOINT_URL"),
        "real AWS: no endpoint"
    );
    // Every action kind of the core appears in this plan.
    let mut kinds: Vec<&str> = plan.nodes.iter().map(|n| n.kind.name()).collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds.len(), 15, "{kinds:?}");
}
