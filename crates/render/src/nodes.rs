//! What the runbook says about one plan node: what it does and why, its gate, the exact AWS CLI
//! commands (look-ups first, then the change), how to verify it and how to roll it back. The
//! match on [`Action`] is exhaustive: a new action kind does not compile until it is rendered
//! here.

use crate::blocks::{number, Expect, Role};
use crate::doc::Block;
use crate::shell::{dur, lit, num, route53_name, single_quoted, word, Aws};
use crate::{
    FINAL_SNAPSHOT_INFIX, METRIC_PERIOD_SECS, PROMOTION_BACKUP_RETENTION_DAYS, ROUTE53_REGION,
    SERVING_WEIGHT,
};
use pilotlight_core::model::{EnvironmentConfig, ResourceKind};
use pilotlight_core::plan::{Action, CapacityTarget, Plan, PlanNode};
use pilotlight_core::runbook::{Direction, Side};
use std::time::Duration;

/// What a node's section is built from.
pub(crate) struct Ctx<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// The environment.
    pub env: &'a EnvironmentConfig,
    /// How the config file is named in `pilotlight` commands.
    pub config_file: &'a str,
}

/// The blocks of one node's section, after its heading.
struct Out<'a> {
    node: &'a str,
    blocks: Vec<Block>,
}

impl Out<'_> {
    fn para(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Para(text.into()));
    }

    fn note(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Note(text.into()));
    }

    /// A captioned command block; the expectation is stated in the caption and as the block's
    /// last line.
    fn cmd(&mut self, role: Role, caption: &str, script: String, expect: Option<Expect>) {
        let label = match role {
            Role::Setup => "**Set up:**",
            Role::Check => "**Check** (reads only):",
            Role::Gate => "**Gate** (reads only):",
            Role::Act => "**Run** (changes AWS):",
            Role::Wait => "**Wait:**",
            Role::Verify => "**Verify:**",
            Role::Decision => "**Decision** (only when called for):",
            Role::Rollback => "**Roll back** (only to undo):",
        };
        let mut caption = format!("{label} {caption}");
        let mut script = script;
        if let Some(e) = &expect {
            caption.push_str(&format!(" Expect {}.", e.describe()));
            script.push('\n');
            script.push_str(&e.comment());
        }
        self.para(caption);
        self.blocks
            .push(Block::Code(role, self.node.to_string(), script));
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Primary => "primary",
        Side::Dr => "DR",
    }
}

fn other(side: Side) -> Side {
    match side {
        Side::Primary => Side::Dr,
        Side::Dr => Side::Primary,
    }
}

impl Ctx<'_> {
    fn region(&self, side: Side) -> &str {
        match side {
            Side::Primary => &self.env.regions.primary,
            Side::Dr => &self.env.regions.dr,
        }
    }

    fn side_of(&self, region: &str) -> Side {
        if region == self.env.regions.primary {
            Side::Primary
        } else {
            Side::Dr
        }
    }

    /// `region` with its role: `us-west-2 (DR)`.
    fn at(&self, region: &str) -> String {
        format!("`{region}` ({})", side_name(self.side_of(region)))
    }

    fn failback(&self) -> bool {
        self.plan.direction == Direction::Failback
    }
}

/// The section of `node` (without its heading).
pub(crate) fn section(ctx: &Ctx<'_>, node: &PlanNode) -> Vec<Block> {
    let mut out = Out {
        node: &node.id,
        blocks: Vec::new(),
    };
    out.para(meta(ctx, node));
    match &node.action {
        Action::ReadinessGate => readiness(ctx, &mut out),
        Action::LagGate {
            database,
            budget,
            replica,
            wait,
        } => lag_gate(ctx, node, &mut out, database, *budget, *replica, *wait),
        Action::ScaleEcs {
            region,
            cluster,
            service,
            desired,
        } => scale_ecs(ctx, node, &mut out, region, cluster, service, *desired),
        Action::ScaleAutoscaling {
            region,
            group,
            desired,
        } => scale_asg(ctx, node, &mut out, region, group, *desired),
        Action::PromoteRdsReplica { region, instance } => promote(ctx, &mut out, region, instance),
        Action::FenceRds {
            region,
            instance,
            parameter_group,
        } => fence(ctx, &mut out, region, instance, parameter_group.as_deref()),
        Action::RetireRds { region, instance } => retire(ctx, &mut out, region, instance),
        Action::ReprotectRds {
            region,
            instance,
            source_region,
            source_instance,
        } => reprotect(
            ctx,
            &mut out,
            region,
            instance,
            source_region,
            source_instance,
        ),
        Action::AuroraFailover {
            region,
            global_cluster,
            target_cluster,
            planned,
        } => aurora(
            ctx,
            &mut out,
            region,
            global_cluster,
            target_cluster,
            *planned,
        ),
        Action::ShiftTraffic {
            zone_id,
            record_name,
            record_type,
            primary_set_identifier,
            dr_set_identifier,
            failover_routing,
            to,
            weight,
            previous,
            soak,
        } => {
            let pair = Pair {
                zone: zone_id,
                name: route53_name(record_name),
                rtype: record_type.to_ascii_uppercase(),
                primary: primary_set_identifier,
                dr: dr_set_identifier,
            };
            if *failover_routing {
                shift_failover(&mut out, &pair, *to)
            } else {
                shift_weighted(&mut out, &pair, *to, *weight, *previous, *soak)
            }
        }
        Action::WaitCapacity { targets, fraction } => {
            wait_capacity(ctx, &mut out, targets, *fraction)
        }
        Action::ManualApproval { message } => approval(&mut out, message),
        Action::CommandHook { command } => hook(ctx, node, &mut out, command),
        Action::Notify { message } => notify(&mut out, message),
    }
    out.blocks
}

/// The line under a node's heading: dependencies, timeout, estimate, retries, flags.
fn meta(ctx: &Ctx<'_>, node: &PlanNode) -> String {
    let mut parts = Vec::new();
    if node.depends_on.is_empty() {
        parts.push("Starts at once (depends on nothing)".to_string());
    } else {
        let deps: Vec<String> = node.depends_on.iter().map(|d| format!("`{d}`")).collect();
        parts.push(format!("After {}", deps.join(", ")));
    }
    parts.push(format!(
        "timeout {} (estimate {})",
        dur(node.timeout),
        dur(node.estimate)
    ));
    if node.retry.max_attempts > 1 && !matches!(node.action, Action::Notify { .. }) {
        parts.push(format!(
            "Pilotlight tries up to {} times on throttling and 5xx",
            node.retry.max_attempts
        ));
    }
    if node.kind.is_one_shot() {
        parts.push("**one-shot: never send it twice**".into());
    }
    if ctx.plan.critical_path.iter().any(|c| c == &node.id) {
        parts.push("on the critical path".into());
    }
    if node.optional {
        parts.push("optional: if it fails, the steps after it go on".into());
    }
    format!("{}.", parts.join(" · "))
}

// ---- gates -------------------------------------------------------------------------------------

fn readiness(ctx: &Ctx<'_>, out: &mut Out<'_>) {
    let env = ctx.env;
    let (primary, dr) = (&env.regions.primary, &env.regions.dr);
    out.para(format!(
        "**Does:** checks, resource by resource, that the DR region `{dr}` can take over: every \
         resource exists, replicates and is at its pilot-light size. Changes nothing. With \
         Pilotlight this is `pilotlight check --config {}` (exit code 0: ready).",
        ctx.config_file
    ));
    out.para(
        "**Why:** failing over to a region that cannot serve makes the outage worse, and a \
         failover cannot be taken back quickly.",
    );
    out.note(
        "**Gate:** go on only when every check below shows what it expects. When one does not, \
         fix it, or decide to go on anyway and write down who decided and why (Pilotlight: \
         `--override-readiness REASON`, recorded in the journal). Replication lag is judged at \
         the lag gate. `pilotlight check` also checks what these commands leave out (ECS \
         clusters and task definitions, launch templates, replication latency).",
    );
    for s in &env.ecs_services {
        let q = "services[0].[status,desiredCount,runningCount]";
        let cmd = Aws::new("ecs", "describe-services")
            .opt("region", dr)
            .opt("cluster", &s.cluster)
            .opt("services", &s.service)
            .text(q);
        out.cmd(
            Role::Gate,
            &format!(
                "ECS service `{}` in `{dr}`: active, at its pilot-light count {} with every task \
                 running (status, desired, running). A larger count is only a warning: DR \
                 already serves, or pays for idle capacity.",
                s.service, s.pilot_light_count
            ),
            cmd.line(),
            Some(Expect::Equals(format!(
                "ACTIVE {n} {n}",
                n = s.pilot_light_count
            ))),
        );
    }
    for g in &env.autoscaling_groups {
        let q = format!(
            "AutoScalingGroups[0].[DesiredCapacity, length(Instances[?LifecycleState=={}]), MaxSize >= {}]",
            lit("InService"),
            num(g.active_capacity)
        );
        let cmd = Aws::new("autoscaling", "describe-auto-scaling-groups")
            .opt("region", dr)
            .opt("auto-scaling-group-names", &g.group)
            .text(&q);
        out.cmd(
            Role::Gate,
            &format!(
                "Auto Scaling group `{}` in `{dr}`: at its pilot-light capacity {} with every \
                 instance in service, and a max size that allows the active capacity {} \
                 (desired, in service, max ≥ active).",
                g.group, g.pilot_light_capacity, g.active_capacity
            ),
            cmd.line(),
            Some(Expect::Equals(format!(
                "{n} {n} True",
                n = g.pilot_light_capacity
            ))),
        );
    }
    for db in &env.rds_replicas {
        let cmd = Aws::new("rds", "describe-db-instances")
            .opt("region", dr)
            .opt("db-instance-identifier", &db.replica_instance)
            .text("DBInstances[0].[DBInstanceStatus, ReadReplicaSourceDBInstanceIdentifier]");
        out.cmd(
            Role::Gate,
            &format!(
                "RDS `{}` in `{dr}`: an available read replica of `{}` in `{primary}` (status, \
                 source).",
                db.replica_instance, db.primary_instance
            ),
            cmd.line(),
            Some(Expect::Equals(format!(
                "available arn:*:rds:{primary}:*:db:{}",
                db.primary_instance
            ))),
        );
    }
    for a in &env.aurora_global_clusters {
        let cmd = Aws::new("rds", "describe-global-clusters")
            .opt("region", primary)
            .opt("global-cluster-identifier", &a.global_cluster)
            .text("GlobalClusters[0].GlobalClusterMembers[?IsWriter].DBClusterArn | [0]");
        out.cmd(
            Role::Gate,
            &format!(
                "Aurora global database `{}`: the writer is `{}` in `{primary}`.",
                a.global_cluster, a.primary_cluster
            ),
            cmd.line(),
            Some(Expect::Equals(format!(
                "arn:*:rds:{primary}:*:cluster:{}",
                a.primary_cluster
            ))),
        );
        let cmd = Aws::new("rds", "describe-db-clusters")
            .opt("region", dr)
            .opt("db-cluster-identifier", &a.dr_cluster)
            .text("DBClusters[0].Status");
        out.cmd(
            Role::Gate,
            &format!(
                "Aurora secondary cluster `{}` in `{dr}` is available.",
                a.dr_cluster
            ),
            cmd.line(),
            Some(Expect::Equals("available".into())),
        );
    }
    for t in &env.dynamodb_tables {
        let q = format!(
            "[Table.TableStatus, Table.Replicas[?RegionName=={}] | [0].ReplicaStatus]",
            lit(dr)
        );
        let cmd = Aws::new("dynamodb", "describe-table")
            .opt("region", primary)
            .opt("table-name", &t.table)
            .text(&q);
        out.cmd(
            Role::Gate,
            &format!(
                "DynamoDB global table `{}`: active in `{primary}` with an active replica in \
                 `{dr}`.",
                t.table
            ),
            cmd.line(),
            Some(Expect::Equals("ACTIVE ACTIVE".into())),
        );
    }
    for b in &env.s3_buckets {
        for (region, bucket) in [(primary, &b.primary_bucket), (dr, &b.dr_bucket)] {
            let cmd = Aws::new("s3api", "get-bucket-versioning")
                .opt("region", region)
                .opt("bucket", bucket)
                .text("Status");
            out.cmd(
                Role::Gate,
                &format!("S3 bucket `{bucket}` is versioned (replication needs it)."),
                cmd.line(),
                Some(Expect::Equals("Enabled".into())),
            );
        }
        let rule = format!(
            "ReplicationConfiguration.Rules[?Destination.Bucket=={} && Status=={}] | [0]",
            lit(&format!("arn:aws:s3:::{}", b.dr_bucket)),
            lit("Enabled")
        );
        let (q, expect, what) = if b.rtc {
            (
                format!("{rule}.[Status, Destination.ReplicationTime.Status]"),
                "Enabled Enabled",
                " with Replication Time Control",
            )
        } else {
            (format!("{rule}.Status"), "Enabled", "")
        };
        let cmd = Aws::new("s3api", "get-bucket-replication")
            .opt("region", primary)
            .opt("bucket", &b.primary_bucket)
            .text(&q);
        out.cmd(
            Role::Gate,
            &format!(
                "an enabled replication rule from `{}` to `{}`{what}.",
                b.primary_bucket, b.dr_bucket
            ),
            cmd.line(),
            Some(Expect::Equals(expect.into())),
        );
    }
    for k in &env.kms_keys {
        let q = format!(
            "KeyMetadata.[KeyState, MultiRegionConfiguration.MultiRegionKeyType, length(MultiRegionConfiguration.ReplicaKeys[?Region=={}])]",
            lit(dr)
        );
        let cmd = Aws::new("kms", "describe-key")
            .opt("region", primary)
            .opt("key-id", &k.key_id)
            .text(&q);
        out.cmd(
            Role::Gate,
            &format!(
                "KMS key `{}` in `{primary}`: an enabled multi-region primary with a replica in \
                 `{dr}`.",
                k.key_id
            ),
            cmd.line(),
            Some(Expect::Equals("Enabled PRIMARY 1".into())),
        );
        let cmd = Aws::new("kms", "describe-key")
            .opt("region", dr)
            .opt("key-id", &k.key_id)
            .text("KeyMetadata.[KeyState, MultiRegionConfiguration.MultiRegionKeyType]");
        out.cmd(
            Role::Gate,
            &format!("its replica in `{dr}` is enabled."),
            cmd.line(),
            Some(Expect::Equals("Enabled REPLICA".into())),
        );
    }
    if let Some(zone) = &env.route53 {
        for r in &zone.records {
            let pair = Pair {
                zone: &zone.zone_id,
                name: route53_name(&r.record_name),
                rtype: r.record_type.to_ascii_uppercase(),
                primary: &r.primary_set_identifier,
                dr: &r.dr_set_identifier,
            };
            let (p, d) = (pair.set(Side::Primary), pair.set(Side::Dr));
            let failover = r.routing == pilotlight_core::model::Routing::Failover;
            let mut fields = if failover {
                vec![format!("{p}.Failover"), format!("{d}.Failover")]
            } else {
                vec![format!("{p}.Weight != null"), format!("{d}.Weight != null")]
            };
            let mut expect = if failover {
                vec!["PRIMARY", "SECONDARY"]
            } else {
                vec!["True", "True"]
            };
            if r.require_health_checks {
                fields.push(format!("{p}.HealthCheckId != null"));
                fields.push(format!("{d}.HealthCheckId != null"));
                expect.extend(["True", "True"]);
            }
            let cmd = pair.list().text(&format!("[{}]", fields.join(", ")));
            let what = if failover {
                "failover record sets PRIMARY and SECONDARY"
            } else {
                "a weight on both record sets"
            };
            let hc = if r.require_health_checks {
                ", each with a health check"
            } else {
                ""
            };
            out.cmd(
                Role::Gate,
                &format!("`{}` {}: {what}{hc}.", pair.name, pair.rtype),
                cmd.line(),
                Some(Expect::Equals(expect.join(" "))),
            );
            if r.require_health_checks {
                let script = format!(
                    "{}\n{}",
                    pair.health_check_lookup(Side::Dr, "HC"),
                    Aws::new("route53", "get-health-check-status")
                        .opt("region", ROUTE53_REGION)
                        .raw("health-check-id", "\"$HC\"")
                        .text(&format!(
                            "[length(HealthCheckObservations[?starts_with(StatusReport.Status, {})]), length(HealthCheckObservations)]",
                            lit("Success")
                        ))
                        .line()
                );
                out.cmd(
                    Role::Gate,
                    &format!(
                        "the DR endpoint of `{}` is healthy: of Route 53's checkers (second \
                         number), more than 18% report `Success` (first number); otherwise \
                         traffic would fail over to an unhealthy target.",
                        pair.name
                    ),
                    script,
                    None,
                );
            }
        }
    }
}

/// The CloudWatch metric that holds the replication lag of `database` on `replica`'s side:
/// (region, namespace, metric, dimension, value, unit, to_unit).
struct LagMetric {
    region: String,
    namespace: &'static str,
    metric: &'static str,
    dimension: &'static str,
    value: String,
    unit: &'static str,
    per_second: f64,
}

fn lag_metric(ctx: &Ctx<'_>, database: &str, replica: Side) -> Option<LagMetric> {
    let env = ctx.env;
    if let Some(db) = env.rds_replicas.iter().find(|d| d.name == database) {
        let value = match replica {
            Side::Primary => &db.primary_instance,
            Side::Dr => &db.replica_instance,
        };
        return Some(LagMetric {
            region: ctx.region(replica).to_string(),
            namespace: "AWS/RDS",
            metric: "ReplicaLag",
            dimension: "DBInstanceIdentifier",
            value: value.clone(),
            unit: "seconds",
            per_second: 1.0,
        });
    }
    env.aurora_global_clusters
        .iter()
        .find(|d| d.name == database)
        .map(|a| LagMetric {
            region: ctx.region(replica).to_string(),
            namespace: "AWS/RDS",
            metric: "AuroraGlobalDBReplicationLag",
            dimension: "DBClusterIdentifier",
            value: match replica {
                Side::Primary => a.primary_cluster.clone(),
                Side::Dr => a.dr_cluster.clone(),
            },
            unit: "milliseconds",
            per_second: 1000.0,
        })
}

/// The command that reads the latest maximum of a lag metric within the metric window.
fn lag_command(ctx: &Ctx<'_>, m: &LagMetric) -> String {
    let window = ctx.env.check.metric_window.as_secs();
    Aws::new("cloudwatch", "get-metric-statistics")
        .opt("region", &m.region)
        .opt("namespace", m.namespace)
        .opt("metric-name", m.metric)
        .opt(
            "dimensions",
            &format!("Name={},Value={}", m.dimension, m.value),
        )
        .raw(
            "start-time",
            &format!("\"$(date -u -d '{window} seconds ago' +%Y-%m-%dT%H:%M:%SZ)\""),
        )
        .raw(
            "end-time",
            &format!("\"$(date -u -d '{METRIC_PERIOD_SECS} seconds' +%Y-%m-%dT%H:%M:%SZ)\""),
        )
        .opt("period", &METRIC_PERIOD_SECS.to_string())
        .opt("statistics", "Maximum")
        .text("max_by(Datapoints, &Timestamp).Maximum")
        .line()
}

#[allow(clippy::too_many_arguments)]
fn lag_gate(
    ctx: &Ctx<'_>,
    node: &PlanNode,
    out: &mut Out<'_>,
    database: &str,
    budget: Duration,
    replica: Side,
    wait: bool,
) {
    let Some(m) = lag_metric(ctx, database, replica) else {
        out.note(format!(
            "**Gate:** database `{database}` is not in the environment config: the plan cannot \
             have been built from it. Stop and re-render the runbook."
        ));
        return;
    };
    let limit = budget.as_secs_f64() * m.per_second;
    out.para(format!(
        "**Does:** reads the replication lag of `{}` in {} — CloudWatch `{}` `{}`, the maximum of \
         the latest {METRIC_PERIOD_SECS}-second period within the last {} — and compares it with \
         the budget of {} ({} {}).{}",
        m.value,
        ctx.at(&m.region),
        m.namespace,
        m.metric,
        dur(ctx.env.check.metric_window),
        dur(budget),
        number(limit),
        m.unit,
        if wait {
            " Waits until it is within the budget."
        } else {
            ""
        }
    ));
    if wait {
        out.para(if budget.is_zero() {
            "**Why:** a failback moves the database back without losing a write: the replica \
             is promoted only once it has every write of the fenced writer (lag 0)."
                .to_string()
        } else {
            "**Why:** protection is in place again only when the new replica keeps up: its lag \
             within the RPO."
                .to_string()
        });
        out.note(format!(
            "**Gate:** repeat the reading (every 15 s or so, for up to the step's timeout of {}) \
             until it shows a number ≤ {}. Never go on with a larger lag, or with no datapoint \
             (`None`: unknown is not caught up).",
            dur(node.timeout),
            number(limit)
        ));
    } else {
        out.para(
            "**Why:** the lag is the data an unplanned failover loses: write it down, it is the \
             RPO estimate of this failover.",
        );
        out.note(format!(
            "**Gate:** within the budget (≤ {}): go on. Above it, or no datapoint (`None`): \
             **stop**. An unplanned failover goes on only if the incident commander accepts \
             losing that much data; write down who, why and the lag (Pilotlight: \
             `--allow-data-loss REASON`). A planned failover (`--planned`: the primary is \
             healthy and no data may be lost) goes on: the promotion then waits for \
             replication.",
            number(limit)
        ));
    }
    out.cmd(
        Role::Gate,
        &format!("the lag, in {}.", m.unit),
        lag_command(ctx, &m),
        Some(Expect::AtMost(limit)),
    );
    out.para("**Roll back:** nothing to undo (reads only).");
}

// ---- scaling -----------------------------------------------------------------------------------

/// The count of the other level (pilot light ↔ active) of a scale target, from the config.
fn other_level(ctx: &Ctx<'_>, node: &PlanNode, desired: u32) -> Option<(u32, &'static str)> {
    let t = node.target.as_ref()?;
    let (pilot, active) = match t.kind {
        ResourceKind::EcsService => {
            let s = ctx.env.ecs_services.iter().find(|s| s.name == t.name)?;
            (s.pilot_light_count, s.active_count)
        }
        ResourceKind::AutoscalingGroup => {
            let g = ctx
                .env
                .autoscaling_groups
                .iter()
                .find(|g| g.name == t.name)?;
            (g.pilot_light_capacity, g.active_capacity)
        }
        _ => return None,
    };
    if desired == active && desired != pilot {
        Some((pilot, "pilot light"))
    } else if desired == pilot && desired != active {
        Some((active, "active"))
    } else {
        None
    }
}

/// `4 (active)` or `1 (pilot light)` when the count is one of the target's levels.
fn level_label(ctx: &Ctx<'_>, node: &PlanNode, desired: u32) -> String {
    match other_level(ctx, node, desired) {
        Some((_, "pilot light")) => format!("{desired} (active)"),
        Some((_, _)) => format!("{desired} (pilot light)"),
        None => desired.to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn scale_ecs(
    ctx: &Ctx<'_>,
    node: &PlanNode,
    out: &mut Out<'_>,
    region: &str,
    cluster: &str,
    service: &str,
    desired: u32,
) {
    out.para(format!(
        "**Does:** sets the desired count of ECS service `{service}` (cluster `{cluster}`) in {} \
         to {} and waits until that many tasks run.",
        ctx.at(region),
        level_label(ctx, node, desired)
    ));
    let up = other_level(ctx, node, desired).is_none_or(|(_, l)| l == "pilot light");
    out.para(if up {
        "**Why:** the region must carry the full load before traffic is sent to it."
    } else {
        "**Why:** no traffic goes to this region any more; it goes back to its idle size."
    });
    let describe = || {
        Aws::new("ecs", "describe-services")
            .opt("region", region)
            .opt("cluster", cluster)
            .opt("services", service)
    };
    out.cmd(
        Role::Check,
        "the desired and running counts now; write them down (the rollback sets the count back). \
         If it already shows the target, the step is done.",
        describe()
            .text("services[0].[desiredCount,runningCount]")
            .line(),
        None,
    );
    out.cmd(
        Role::Act,
        "set the desired count.",
        Aws::new("ecs", "update-service")
            .opt("region", region)
            .opt("cluster", cluster)
            .opt("service", service)
            .opt("desired-count", &desired.to_string())
            .line(),
        None,
    );
    out.cmd(
        Role::Wait,
        "until the service is stable (every task started or stopped). The waiter gives up after \
         10 minutes: run it again while the step's timeout allows.",
        Aws::new("ecs", "wait services-stable")
            .opt("region", region)
            .opt("cluster", cluster)
            .opt("services", service)
            .line(),
        None,
    );
    out.cmd(
        Role::Verify,
        &format!(
            "desired and running counts. {}",
            if up {
                "More running than desired also counts while older tasks stop."
            } else {
                "Fewer running than desired also counts while the last tasks stop."
            }
        ),
        describe()
            .text("services[0].[desiredCount,runningCount]")
            .line(),
        Some(Expect::Equals(format!("{desired} {desired}"))),
    );
    match other_level(ctx, node, desired).filter(|_| ctx.side_of(region) == Side::Dr) {
        Some((back, level)) => out.cmd(
            Role::Rollback,
            &format!("the {level} count {back} (or the count the check showed)."),
            Aws::new("ecs", "update-service")
                .opt("region", region)
                .opt("cluster", cluster)
                .opt("service", service)
                .opt("desired-count", &back.to_string())
                .line(),
            None,
        ),
        None => out.cmd(
            Role::Rollback,
            "the desired count the check showed (set `BEFORE` to it first).",
            format!(
                "BEFORE=REPLACE-WITH-THE-DESIRED-COUNT-THE-CHECK-SHOWED\n{}",
                Aws::new("ecs", "update-service")
                    .opt("region", region)
                    .opt("cluster", cluster)
                    .opt("service", service)
                    .raw("desired-count", "\"$BEFORE\"")
                    .line()
            ),
            None,
        ),
    }
}

fn asg_describe(region: &str, group: &str) -> Aws {
    Aws::new("autoscaling", "describe-auto-scaling-groups")
        .opt("region", region)
        .opt("auto-scaling-group-names", group)
}

fn in_service_query() -> String {
    format!("length(Instances[?LifecycleState=={}])", lit("InService"))
}

/// The shell text that sets a group's desired capacity as the actuator does: one
/// `set-desired-capacity`, or an `update-auto-scaling-group` that also moves the min or max size
/// when the capacity is outside them.
fn set_capacity(region: &str, group: &str, desired: u32) -> String {
    let read = asg_describe(region, group)
        .text("AutoScalingGroups[0].[MinSize,MaxSize]")
        .line();
    let update = Aws::new("autoscaling", "update-auto-scaling-group")
        .opt("region", region)
        .opt("auto-scaling-group-name", group)
        .opt("desired-capacity", &desired.to_string())
        .raw(
            "min-size",
            &format!("$(( MIN < {desired} ? MIN : {desired} ))"),
        )
        .raw(
            "max-size",
            &format!("$(( MAX > {desired} ? MAX : {desired} ))"),
        )
        .line();
    let set = Aws::new("autoscaling", "set-desired-capacity")
        .opt("region", region)
        .opt("auto-scaling-group-name", group)
        .opt("desired-capacity", &desired.to_string())
        .flag("no-honor-cooldown")
        .line();
    format!(
        "# When {desired} is outside the group's min and max, they move in the same call.\n\
         read -r MIN MAX <<<\"$({read})\"\n\
         if [ \"$MAX\" -lt {desired} ] || [ \"$MIN\" -gt {desired} ]; then\n  {}\nelse\n  {}\nfi",
        update.replace('\n', "\n  "),
        set.replace('\n', "\n  ")
    )
}

fn scale_asg(
    ctx: &Ctx<'_>,
    node: &PlanNode,
    out: &mut Out<'_>,
    region: &str,
    group: &str,
    desired: u32,
) {
    out.para(format!(
        "**Does:** sets the desired capacity of Auto Scaling group `{group}` in {} to {}, moving \
         its min or max size when the capacity is outside them, and waits until that many \
         instances are in service.",
        ctx.at(region),
        level_label(ctx, node, desired)
    ));
    let draining = node.drain_timeout;
    out.para(if draining.is_some() {
        "**Why:** no traffic goes to this region any more; it goes back to its idle size. The \
         media routers may still host live conferences."
    } else {
        "**Why:** the region must carry the full load before traffic is sent to it."
    });
    if let Some(limit) = draining {
        out.note(format!(
            "**Drain:** routers that host live sessions protect themselves from scale-in and are \
             never terminated by this step: wait for them to drain (the in-service count falls \
             as sessions end). After the drain timeout of {} (`drain_timeout`), stop and \
             decide with the people responsible for the service: release the protection (their \
             live sessions end; the Decision block below), or keep waiting, or abort the rest of \
             the runbook. Write down who decided. Waiting for the decision does not count toward \
             the step's timeout.",
            dur(limit)
        ));
    }
    out.cmd(
        Role::Check,
        "min, max, desired, in service and protected from scale-in now; write them down (the \
         rollback needs them).",
        asg_describe(region, group)
            .text(&format!(
                "AutoScalingGroups[0].[MinSize, MaxSize, DesiredCapacity, {}, length(Instances[?ProtectedFromScaleIn])]",
                in_service_query()
            ))
            .line(),
        None,
    );
    out.cmd(
        Role::Act,
        "set the desired capacity.",
        set_capacity(region, group, desired),
        None,
    );
    out.cmd(
        Role::Verify,
        "desired capacity and instances in service; repeat every 15 s or so until it does (there \
         is no waiter for this).",
        asg_describe(region, group)
            .text(&format!(
                "AutoScalingGroups[0].[DesiredCapacity, {}]",
                in_service_query()
            ))
            .line(),
        Some(Expect::Equals(format!("{desired} {desired}"))),
    );
    if draining.is_some() {
        let ids = asg_describe(region, group)
            .text("AutoScalingGroups[0].Instances[?ProtectedFromScaleIn].InstanceId")
            .assign("IDS");
        let release = Aws::new("autoscaling", "set-instance-protection")
            .opt("region", region)
            .opt("auto-scaling-group-name", group)
            .raw("instance-ids", "$IDS")
            .flag("no-protected-from-scale-in")
            .line();
        let set = Aws::new("autoscaling", "set-desired-capacity")
            .opt("region", region)
            .opt("auto-scaling-group-name", group)
            .opt("desired-capacity", &desired.to_string())
            .flag("no-honor-cooldown")
            .line();
        out.cmd(
            Role::Decision,
            "the drain outlasted its timeout and it was decided to go on: release the scale-in \
             protection of the remaining routers (their live sessions end) and set the capacity \
             again, then verify as above. At most 50 instances per call.",
            format!("{ids}\n{release}\n{set}"),
            None,
        );
    }
    match other_level(ctx, node, desired).filter(|_| ctx.side_of(region) == Side::Dr) {
        Some((back, level)) => out.cmd(
            Role::Rollback,
            &format!(
                "the {level} capacity {back} (and the min and max the check showed, if the \
                 change moved them)."
            ),
            set_capacity(region, group, back),
            None,
        ),
        None => out.cmd(
            Role::Rollback,
            "the min, max and desired capacity the check showed (set the variables to them \
             first).",
            format!(
                "MIN=REPLACE-WITH-THE-MIN-SIZE-THE-CHECK-SHOWED\n\
                 MAX=REPLACE-WITH-THE-MAX-SIZE-THE-CHECK-SHOWED\n\
                 BEFORE=REPLACE-WITH-THE-DESIRED-CAPACITY-THE-CHECK-SHOWED\n{}",
                Aws::new("autoscaling", "update-auto-scaling-group")
                    .opt("region", region)
                    .opt("auto-scaling-group-name", group)
                    .raw("min-size", "\"$MIN\"")
                    .raw("max-size", "\"$MAX\"")
                    .raw("desired-capacity", "\"$BEFORE\"")
                    .line()
            ),
            None,
        ),
    }
}

fn wait_capacity(ctx: &Ctx<'_>, out: &mut Out<'_>, targets: &[CapacityTarget], fraction: f64) {
    let share = number((fraction * 100.0 * 1000.0).round() / 1000.0);
    let list: Vec<String> = targets
        .iter()
        .map(|t| {
            format!(
                "`{}` {} of {}",
                t.name,
                needed(t.desired, fraction),
                t.desired
            )
        })
        .collect();
    out.para(format!(
        "**Does:** waits until every target runs at least {share}% of its target count: {}. \
         Changes nothing.",
        list.join(", ")
    ));
    out.para(
        "**Why:** DNS must never point at a region without the capacity to serve what it sends.",
    );
    for t in targets {
        let n = needed(t.desired, fraction);
        let (cmd, what) = if t.cluster.is_empty() {
            (
                asg_describe(&t.region, &t.name)
                    .text(&format!(
                        "length(AutoScalingGroups[0].Instances[?LifecycleState=={}])",
                        lit("InService")
                    ))
                    .line(),
                "instances in service",
            )
        } else {
            (
                Aws::new("ecs", "describe-services")
                    .opt("region", &t.region)
                    .opt("cluster", &t.cluster)
                    .opt("services", &t.name)
                    .text("services[0].runningCount")
                    .line(),
                "tasks running",
            )
        };
        out.cmd(
            Role::Verify,
            &format!(
                "`{}` in {}: {what}; repeat every 15 s or so until it does.",
                t.name,
                ctx.at(&t.region)
            ),
            cmd,
            Some(Expect::AtLeast(f64::from(n))),
        );
    }
    out.para("**Roll back:** nothing to undo (reads only).");
}

/// How many of `desired` count as `fraction` of it (as `pilotlight_aws::actions::needed`).
pub(crate) fn needed(desired: u32, fraction: f64) -> u32 {
    let raw = f64::from(desired) * fraction.clamp(0.0, 1.0);
    let n = (raw - 1e-9).ceil();
    if n <= 0.0 {
        0
    } else {
        (n as u32).min(desired)
    }
}

// ---- databases ---------------------------------------------------------------------------------

fn rds_describe(region: &str, instance: &str) -> Aws {
    Aws::new("rds", "describe-db-instances")
        .opt("region", region)
        .opt("db-instance-identifier", instance)
}

fn rds_wait_available(region: &str, instance: &str) -> String {
    Aws::new("rds", "wait db-instance-available")
        .opt("region", region)
        .opt("db-instance-identifier", instance)
        .line()
}

fn promote(ctx: &Ctx<'_>, out: &mut Out<'_>, region: &str, instance: &str) {
    out.para(format!(
        "**Does:** promotes the read replica `{instance}` in {} to a standalone, writable \
         instance (backup retention {PROMOTION_BACKUP_RETENTION_DAYS} day, so it is backed up \
         from the start) and waits until it is available.",
        ctx.at(region)
    ));
    if ctx.failback() {
        out.para(
            "**Why:** the planned switchover back: the replica in this region becomes the writer. \
             The writer in the other region is fenced and the replica has every write (the \
             gates before), so nothing is lost.",
        );
    } else {
        out.para("**Why:** the region can serve writes only with a writable database.");
    }
    out.note(
        "**One-shot:** a promotion is never sent twice. If the check shows no source (`None`) it \
         was already promoted; if the status is `modifying`, it is under way: go to Wait. The Run \
         block sends it only while the instance is an available read replica.",
    );
    out.cmd(
        Role::Check,
        "status and read-replica source now.",
        rds_describe(region, instance)
            .text("DBInstances[0].[DBInstanceStatus, ReadReplicaSourceDBInstanceIdentifier]")
            .line(),
        None,
    );
    if ctx.failback() {
        let m = LagMetric {
            region: region.to_string(),
            namespace: "AWS/RDS",
            metric: "ReplicaLag",
            dimension: "DBInstanceIdentifier",
            value: instance.to_string(),
            unit: "seconds",
            per_second: 1.0,
        };
        out.cmd(
            Role::Gate,
            "right before sending, the lag once more, in seconds: a lagging replica is never \
             promoted in a failback (wait, with writes fenced on the current writer).",
            lag_command(ctx, &m),
            Some(Expect::AtMost(0.0)),
        );
    }
    let read = rds_describe(region, instance)
        .text("DBInstances[0].[DBInstanceStatus, ReadReplicaSourceDBInstanceIdentifier]")
        .line();
    let send = Aws::new("rds", "promote-read-replica")
        .opt("region", region)
        .opt("db-instance-identifier", instance)
        .opt(
            "backup-retention-period",
            &PROMOTION_BACKUP_RETENTION_DAYS.to_string(),
        )
        .line();
    out.cmd(
        Role::Act,
        "promote, only while it is an available read replica.",
        format!(
            "read -r STATUS SOURCE <<<\"$({read})\"\n\
             if [ \"$SOURCE\" != \"None\" ] && [ \"$STATUS\" = \"available\" ]; then\n  {}\n\
             else\n  echo \"not sending: {instance} is $STATUS, source $SOURCE (already promoted, or busy)\"\nfi",
            send.replace('\n', "\n  ")
        ),
        None,
    );
    out.cmd(
        Role::Wait,
        "until it is available.",
        rds_wait_available(region, instance),
        None,
    );
    out.cmd(
        Role::Verify,
        "available and standalone (no source).",
        rds_describe(region, instance)
            .text("DBInstances[0].[DBInstanceStatus, ReadReplicaSourceDBInstanceIdentifier]")
            .line(),
        Some(Expect::Equals("available None".into())),
    );
    out.para(if ctx.failback() {
        "**Roll back:** a promotion cannot be undone. If something goes wrong after it, the \
         primary region writes: fix forward (the DR side is fenced; a fresh replica there comes \
         later in this runbook)."
    } else {
        "**Roll back:** a promotion cannot be undone: a promoted instance never becomes a \
         replica again. To return to the primary region, run the failback runbook (it fences, \
         reprotects and switches back without data loss)."
    });
}

fn fence(ctx: &Ctx<'_>, out: &mut Out<'_>, region: &str, instance: &str, group: Option<&str>) {
    match group {
        Some(g) => out.para(format!(
            "**Does:** makes `{instance}` in {} not writable: applies the read-only parameter \
             group `{g}` immediately, and waits until it is in sync.",
            ctx.at(region)
        )),
        None => out.para(format!(
            "**Does:** makes `{instance}` in {} not writable by stopping it, and waits until it \
             is stopped.",
            ctx.at(region)
        )),
    }
    out.para(
        "**Why:** no two writable primaries. A writer that came back (or still takes writes) \
         would split the data; once fenced, whatever it holds that never replicated stays \
         there, recoverable, but nothing new is written to it.",
    );
    out.cmd(
        Role::Check,
        "status, read-replica source and parameter group now; write the group down (the \
         rollback needs it). If the instance does not exist (`DBInstanceNotFound`), or is a read \
         replica (a source is shown), or is stopped, it is already not writable: the step is \
         done.",
        rds_describe(region, instance)
            .text("DBInstances[0].[DBInstanceStatus, ReadReplicaSourceDBInstanceIdentifier, DBParameterGroups[0].DBParameterGroupName]")
            .line(),
        None,
    );
    match group {
        Some(g) => {
            out.cmd(
                Role::Act,
                "apply the read-only parameter group.",
                Aws::new("rds", "modify-db-instance")
                    .opt("region", region)
                    .opt("db-instance-identifier", instance)
                    .opt("db-parameter-group-name", g)
                    .flag("apply-immediately")
                    .line(),
                None,
            );
            out.cmd(
                Role::Wait,
                "until the modification is done.",
                rds_wait_available(region, instance),
                None,
            );
            out.cmd(
                Role::Verify,
                &format!("the apply status of `{g}`; repeat until it does."),
                rds_describe(region, instance)
                    .text(&format!(
                        "DBInstances[0].DBParameterGroups[?DBParameterGroupName=={}] | [0].ParameterApplyStatus",
                        lit(g)
                    ))
                    .line(),
                Some(Expect::Equals("in-sync".into())),
            );
        }
        None => {
            out.cmd(
                Role::Act,
                "stop the instance.",
                Aws::new("rds", "stop-db-instance")
                    .opt("region", region)
                    .opt("db-instance-identifier", instance)
                    .line(),
                None,
            );
            out.cmd(
                Role::Verify,
                "the status; repeat every 15 s or so until it does. If the stop is refused \
                 (`InvalidDBInstanceState`: a replication source cannot be stopped), set \
                 `fence_parameter_group` in the environment config and re-render.",
                rds_describe(region, instance)
                    .text("DBInstances[0].DBInstanceStatus")
                    .line(),
                Some(Expect::Equals("stopped".into())),
            );
        }
    }
    out.note(
        "**Before undoing a fence:** make sure the database on the other side is fenced or gone. \
         Two writable primaries split the data.",
    );
    match group {
        Some(_) => out.cmd(
            Role::Rollback,
            "apply the parameter group the check showed (set `PREVIOUS_GROUP` to it first).",
            format!(
                "PREVIOUS_GROUP=REPLACE-WITH-THE-GROUP-THE-CHECK-SHOWED\n{}",
                Aws::new("rds", "modify-db-instance")
                    .opt("region", region)
                    .opt("db-instance-identifier", instance)
                    .raw("db-parameter-group-name", "\"$PREVIOUS_GROUP\"")
                    .flag("apply-immediately")
                    .line()
            ),
            None,
        ),
        None => out.cmd(
            Role::Rollback,
            "start the instance again.",
            Aws::new("rds", "start-db-instance")
                .opt("region", region)
                .opt("db-instance-identifier", instance)
                .line(),
            None,
        ),
    }
}

fn snapshot_filter(instance: &str) -> String {
    format!(
        "DBSnapshots[?starts_with(DBSnapshotIdentifier, {})]",
        lit(&format!("{instance}{FINAL_SNAPSHOT_INFIX}"))
    )
}

fn snapshots(region: &str, instance: &str) -> Aws {
    Aws::new("rds", "describe-db-snapshots")
        .opt("region", region)
        .opt("db-instance-identifier", instance)
        .opt("snapshot-type", "manual")
}

fn retire(ctx: &Ctx<'_>, out: &mut Out<'_>, region: &str, instance: &str) {
    out.para(format!(
        "**Does:** deletes the superseded, fenced instance `{instance}` in {} with a final \
         snapshot `{instance}{FINAL_SNAPSHOT_INFIX}<unix time>`, and waits until it is gone.",
        ctx.at(region)
    ));
    out.para(
        "**Why:** it no longer serves and must not come back as a writer; its final snapshot \
         keeps any write that never replicated recoverable.",
    );
    out.cmd(
        Role::Check,
        "no read replica depends on it (deleting a replication source cuts its replicas loose: \
         promote the replica first). It must have been fenced (the step before). If it does not \
         exist (`DBInstanceNotFound`), the step is done.",
        rds_describe(region, instance)
            .text("length(DBInstances[0].ReadReplicaDBInstanceIdentifiers)")
            .line(),
        Some(Expect::Equals("0".into())),
    );
    out.cmd(
        Role::Act,
        "delete it, keeping a final snapshot and the automated backups.",
        Aws::new("rds", "delete-db-instance")
            .opt("region", region)
            .opt("db-instance-identifier", instance)
            .raw(
                "final-db-snapshot-identifier",
                &format!("\"{instance}{FINAL_SNAPSHOT_INFIX}$(date -u +%s)\""),
            )
            .flag("no-skip-final-snapshot")
            .flag("no-delete-automated-backups")
            .line(),
        None,
    );
    out.cmd(
        Role::Wait,
        "until it is deleted.",
        Aws::new("rds", "wait db-instance-deleted")
            .opt("region", region)
            .opt("db-instance-identifier", instance)
            .line(),
        None,
    );
    out.cmd(
        Role::Verify,
        "the final snapshot exists (the number of final snapshots of this instance).",
        snapshots(region, instance)
            .text(&format!("length({})", snapshot_filter(instance)))
            .line(),
        Some(Expect::AtLeast(1.0)),
    );
    let latest = snapshots(region, instance)
        .text(&format!(
            "max_by({}, &SnapshotCreateTime).DBSnapshotIdentifier",
            snapshot_filter(instance)
        ))
        .assign("SNAPSHOT");
    out.cmd(
        Role::Rollback,
        "restore the instance from its latest final snapshot (a standalone, writable instance: \
         fence it before anything can write to it).",
        format!(
            "{latest}\n{}",
            Aws::new("rds", "restore-db-instance-from-db-snapshot")
                .opt("region", region)
                .opt("db-instance-identifier", instance)
                .raw("db-snapshot-identifier", "\"$SNAPSHOT\"")
                .line()
        ),
        None,
    );
}

fn reprotect(
    ctx: &Ctx<'_>,
    out: &mut Out<'_>,
    region: &str,
    instance: &str,
    source_region: &str,
    source_instance: &str,
) {
    out.para(format!(
        "**Does:** creates `{instance}` in {} as a cross-region read replica of \
         `{source_instance}` in {} (same instance class; an encrypted source gets the replica \
         of its multi-region KMS key in `{region}`), and waits until it is available.",
        ctx.at(region),
        ctx.at(source_region)
    ));
    out.para(
        "**Why:** protection again: a copy of the serving database in the other region, ready \
         for the next switch.",
    );
    out.cmd(
        Role::Check,
        &format!(
            "no instance `{instance}` exists in `{region}` (`0`). If it does (`1`) and the \
             Verify block below already shows it as a replica of `{source_instance}`, the step \
             is done; any other instance of that name must be fenced and retired first."
        ),
        Aws::new("rds", "describe-db-instances")
            .opt("region", region)
            .text(&format!(
                "length(DBInstances[?DBInstanceIdentifier=={}])",
                lit(&instance.to_ascii_lowercase())
            ))
            .line(),
        Some(Expect::Equals("0".into())),
    );
    let read = rds_describe(source_region, source_instance)
        .text("DBInstances[0].[DBInstanceArn, DBInstanceClass, StorageEncrypted, KmsKeyId]")
        .line();
    let create = Aws::new("rds", "create-db-instance-read-replica")
        .opt("region", region)
        .opt("db-instance-identifier", instance)
        .raw("source-db-instance-identifier", "\"$SOURCE_ARN\"")
        .raw("db-instance-class", "\"$CLASS\"")
        .line();
    out.cmd(
        Role::Act,
        "look up the source's ARN, class and key, then create the replica.",
        format!(
            "read -r SOURCE_ARN CLASS ENCRYPTED KEY <<<\"$({read})\"\n\
             KMS=()\n\
             # An encrypted source: its multi-region key's replica in {region} (same ARN, region replaced).\n\
             if [ \"$ENCRYPTED\" = \"True\" ]; then\n  \
             KMS=(--kms-key-id \"$(printf '%s' \"$KEY\" | sed -E 's/^(arn:[^:]+:kms:)[^:]+/\\1{region}/')\")\n\
             fi\n\
             {create} \"${{KMS[@]}}\""
        ),
        None,
    );
    out.cmd(
        Role::Wait,
        "until it is available (a new replica takes a while: up to the step's timeout).",
        rds_wait_available(region, instance),
        None,
    );
    out.cmd(
        Role::Verify,
        "available, replicating from the serving database.",
        rds_describe(region, instance)
            .text("DBInstances[0].[DBInstanceStatus, ReadReplicaSourceDBInstanceIdentifier]")
            .line(),
        Some(Expect::Equals(format!(
            "available arn:*:rds:{source_region}:*:db:{source_instance}"
        ))),
    );
    out.cmd(
        Role::Rollback,
        "delete the replica (it holds no data of its own).",
        Aws::new("rds", "delete-db-instance")
            .opt("region", region)
            .opt("db-instance-identifier", instance)
            .flag("skip-final-snapshot")
            .line(),
        None,
    );
}

fn aurora(
    ctx: &Ctx<'_>,
    out: &mut Out<'_>,
    region: &str,
    global: &str,
    target: &str,
    planned: bool,
) {
    let (op, how) = if planned {
        (
            "switchover-global-cluster",
            "a planned switchover (no data loss)",
        )
    } else {
        (
            "failover-global-cluster",
            "an unplanned failover that allows data loss",
        )
    };
    out.para(format!(
        "**Does:** makes `{target}` in {} the writer of the Aurora global database `{global}` by \
         {how}, and waits until the global database is available with it as writer.",
        ctx.at(region)
    ));
    out.para(if planned {
        "**Why:** the region serves writes only with the writer cluster; a switchover waits for \
         replication, so nothing is lost."
    } else {
        "**Why:** the region serves writes only with the writer cluster; the primary may be \
         unreachable, so the failover does not wait for it (the lag gate measured what is lost)."
    });
    out.note(
        "**One-shot:** never sent twice. If the check shows the target already writing, or a \
         status `failing-over` / `switching-over`, it is done or under way: go to Verify.",
    );
    let describe = || {
        Aws::new("rds", "describe-global-clusters")
            .opt("region", region)
            .opt("global-cluster-identifier", global)
    };
    out.cmd(
        Role::Check,
        "status, current writer and any failover under way.",
        describe()
            .text("GlobalClusters[0].[Status, GlobalClusterMembers[?IsWriter].DBClusterArn | [0], FailoverState.Status]")
            .line(),
        None,
    );
    let target_arn = Aws::new("rds", "describe-db-clusters")
        .opt("region", region)
        .opt("db-cluster-identifier", target)
        .text("DBClusters[0].DBClusterArn")
        .assign("TARGET_ARN");
    let mut send = Aws::new("rds", op)
        .opt("region", region)
        .opt("global-cluster-identifier", global)
        .raw("target-db-cluster-identifier", "\"$TARGET_ARN\"");
    if !planned {
        send = send.flag("allow-data-loss");
    }
    let state = describe()
        .text("GlobalClusters[0].[Status, GlobalClusterMembers[?IsWriter].DBClusterArn | [0]]")
        .line();
    out.cmd(
        Role::Act,
        "look up the target's ARN, then send it, only while the global database is available \
         and the target is not the writer yet.",
        format!(
            "{target_arn}\nread -r STATUS WRITER <<<\"$({state})\"\n\
             if [ \"$STATUS\" = \"available\" ] && [ \"$WRITER\" != \"$TARGET_ARN\" ]; then\n  {}\n\
             else\n  echo \"not sending: status $STATUS, writer $WRITER\"\nfi",
            send.line().replace('\n', "\n  ")
        ),
        None,
    );
    out.cmd(
        Role::Wait,
        "until the target cluster is available.",
        Aws::new("rds", "wait db-cluster-available")
            .opt("region", region)
            .opt("db-cluster-identifier", target)
            .line(),
        None,
    );
    out.cmd(
        Role::Verify,
        "available, the target writing; repeat every 15 s or so until it does.",
        describe()
            .text("GlobalClusters[0].[Status, GlobalClusterMembers[?IsWriter].DBClusterArn | [0]]")
            .line(),
        Some(Expect::Equals(format!(
            "available arn:*:rds:{region}:*:cluster:{target}"
        ))),
    );
    let back_side = other(ctx.side_of(region));
    let back_region = ctx.region(back_side).to_string();
    let back_cluster = ctx
        .env
        .aurora_global_clusters
        .iter()
        .find(|a| a.global_cluster == global)
        .map(|a| match back_side {
            Side::Primary => a.primary_cluster.clone(),
            Side::Dr => a.dr_cluster.clone(),
        })
        .unwrap_or_else(|| "THE-OTHER-CLUSTER".into());
    out.cmd(
        Role::Rollback,
        &format!(
            "once `{back_cluster}` in `{back_region}` is healthy and caught up, switch back \
             (planned, no data loss)."
        ),
        format!(
            "{}\n{}",
            Aws::new("rds", "describe-db-clusters")
                .opt("region", &back_region)
                .opt("db-cluster-identifier", &back_cluster)
                .text("DBClusters[0].DBClusterArn")
                .assign("BACK_ARN"),
            Aws::new("rds", "switchover-global-cluster")
                .opt("region", &back_region)
                .opt("global-cluster-identifier", global)
                .raw("target-db-cluster-identifier", "\"$BACK_ARN\"")
                .line()
        ),
        None,
    );
}

// ---- DNS ---------------------------------------------------------------------------------------

/// A record pair in a hosted zone.
struct Pair<'a> {
    zone: &'a str,
    /// As Route 53 lists it.
    name: String,
    rtype: String,
    primary: &'a str,
    dr: &'a str,
}

impl Pair<'_> {
    fn set_id(&self, side: Side) -> &str {
        match side {
            Side::Primary => self.primary,
            Side::Dr => self.dr,
        }
    }

    /// The JMESPath expression of one record set of the pair in a listing.
    fn set(&self, side: Side) -> String {
        format!(
            "ResourceRecordSets[?Name=={} && Type=={} && SetIdentifier=={}] | [0]",
            lit(&self.name),
            lit(&self.rtype),
            lit(self.set_id(side))
        )
    }

    /// The listing of the zone from the record on.
    fn list(&self) -> Aws {
        Aws::new("route53", "list-resource-record-sets")
            .opt("region", ROUTE53_REGION)
            .opt("hosted-zone-id", self.zone)
            .opt("start-record-name", &self.name)
            .opt("start-record-type", &self.rtype)
    }

    /// `VAR=$(…)`: the health check id of one record set.
    fn health_check_lookup(&self, side: Side, var: &str) -> String {
        self.list()
            .text(&format!("{}.HealthCheckId", self.set(side)))
            .assign(var)
    }

    /// The weights of both sets, primary first.
    fn weights(&self) -> String {
        self.list()
            .text(&format!(
                "[{}.Weight, {}.Weight]",
                self.set(Side::Primary),
                self.set(Side::Dr)
            ))
            .line()
    }

    /// The shell text that UPSERTs both record sets with weights `(primary, dr)` in one batch
    /// and waits until the change is in sync.
    fn upsert_weights(&self, (pw, dw): (i64, i64), to: Side) -> String {
        let comment = format!(
            "pilotlight: shift {} {} to {}",
            self.name,
            self.rtype,
            side_name(to)
        );
        let change = |side: Side, w: i64| {
            format!(
                "    {{Action: {}, ResourceRecordSet: merge({}, {{Weight: {}}})}}",
                lit("UPSERT"),
                self.set(side),
                num(w)
            )
        };
        let query = format!(
            "{{Comment: {}, Changes: [\n{},\n{}]}}",
            lit(&comment),
            change(Side::Primary, pw),
            change(Side::Dr, dw)
        );
        let batch = self
            .list()
            .raw("query", &single_quoted(&query))
            .opt("output", "json")
            .assign("BATCH");
        let send = Aws::new("route53", "change-resource-record-sets")
            .opt("region", ROUTE53_REGION)
            .opt("hosted-zone-id", self.zone)
            .raw("change-batch", "\"$BATCH\"")
            .text("ChangeInfo.Id")
            .assign("CHANGE");
        let wait = Aws::new("route53", "wait resource-record-sets-changed")
            .opt("region", ROUTE53_REGION)
            .raw("id", "\"$CHANGE\"")
            .line();
        format!("{batch}\n{send}\n{wait}")
    }
}

/// The weights (primary, DR) when `to` gets `share` percent (as
/// `pilotlight_aws::actions::shared_weights`).
pub(crate) fn shared_weights(to: Side, share: u8) -> (i64, i64) {
    let to_weight = SERVING_WEIGHT * i64::from(share.min(100)) / 100;
    let rest = SERVING_WEIGHT - to_weight;
    match to {
        Side::Primary => (to_weight, rest),
        Side::Dr => (rest, to_weight),
    }
}

fn shift_failover(out: &mut Out<'_>, pair: &Pair<'_>, to: Side) {
    let invert = to == Side::Dr;
    out.para(format!(
        "**Does:** {} the health check of the primary record set `{}` of `{}` {}, so Route 53 \
         answers with the {} record set `{}` ({}). No record changes.",
        if invert {
            "inverts"
        } else {
            "restores (un-inverts)"
        },
        pair.primary,
        pair.name,
        pair.rtype,
        if invert { "SECONDARY" } else { "PRIMARY" },
        pair.set_id(to),
        if invert {
            "Route 53 then treats the primary as unhealthy"
        } else {
            "while the primary is healthy"
        }
    ));
    out.para(format!(
        "**Why:** traffic goes where the service now runs ({}); resolvers follow within the \
         record's TTL.",
        side_name(to)
    ));
    out.para(
        "When several records share the primary health check (as the sandbox's do), the first \
         of them moves them all; for the others the Run block changes nothing and Verify passes.",
    );
    let flag = if invert { "inverted" } else { "no-inverted" };
    let update = |flag: &str| {
        format!(
            "{}\n{}",
            pair.health_check_lookup(Side::Primary, "HC"),
            Aws::new("route53", "update-health-check")
                .opt("region", ROUTE53_REGION)
                .raw("health-check-id", "\"$HC\"")
                .flag(flag)
                .line()
        )
    };
    out.cmd(
        Role::Act,
        "look up the primary set's health check, then steer it.",
        update(flag),
        None,
    );
    out.cmd(
        Role::Verify,
        "whether the primary set's health check is inverted.",
        format!(
            "{}\n{}",
            pair.health_check_lookup(Side::Primary, "HC"),
            Aws::new("route53", "get-health-check")
                .opt("region", ROUTE53_REGION)
                .raw("health-check-id", "\"$HC\"")
                .text("HealthCheck.HealthCheckConfig.Inverted")
                .line()
        ),
        Some(Expect::Equals(if invert { "True" } else { "False" }.into())),
    );
    out.cmd(
        Role::Rollback,
        "steer it back.",
        update(if invert { "no-inverted" } else { "inverted" }),
        None,
    );
}

fn shift_weighted(
    out: &mut Out<'_>,
    pair: &Pair<'_>,
    to: Side,
    weight: Option<u8>,
    previous: Option<u8>,
    soak: Option<Duration>,
) {
    let share = weight.unwrap_or(100);
    let (pw, dw) = shared_weights(to, share);
    out.para(format!(
        "**Does:** gives the {} record set {share}% of the traffic of `{}` {}: one UPSERT of both \
         record sets, unchanged except their weights (primary `{}` {pw}, DR `{}` {dw}), then \
         waits until Route 53 reports the change `INSYNC`.{}",
        side_name(to),
        pair.name,
        pair.rtype,
        pair.primary,
        pair.dr,
        soak.map(|s| format!(
            " Then holds it for {} while the {} endpoint stays healthy.",
            dur(s),
            side_name(to)
        ))
        .unwrap_or_default()
    ));
    out.para(if soak.is_some() {
        "**Why:** traffic returns gradually, so a problem shows on a share of the users and is \
         rolled back before it reaches all of them."
    } else {
        "**Why:** traffic goes where the service now runs; resolvers follow within the record's \
         TTL."
    });
    out.cmd(
        Role::Act,
        "build the change batch from the record sets as they are (a look-up: their full body is \
         only known at run time), send it, and wait until it is in sync.",
        pair.upsert_weights((pw, dw), to),
        None,
    );
    out.cmd(
        Role::Verify,
        "the weights, primary then DR.",
        pair.weights(),
        Some(Expect::Equals(format!("{pw} {dw}"))),
    );
    if let Some(s) = soak {
        let script = format!(
            "{}\n{}",
            pair.health_check_lookup(to, "HC"),
            Aws::new("route53", "get-health-check-status")
                .opt("region", ROUTE53_REGION)
                .raw("health-check-id", "\"$HC\"")
                .text(&format!(
                    "length(HealthCheckObservations) > {} && length(HealthCheckObservations[?starts_with(StatusReport.Status, {s})]) >= length(HealthCheckObservations[?!starts_with(StatusReport.Status, {s})])",
                    num(0),
                    s = lit("Success")
                ))
                .line()
        );
        out.cmd(
            Role::Gate,
            &format!(
                "the soak: for {} after the change, every 15 s or so, the health of the record \
                 set now receiving traffic (at least half of Route 53's checkers report \
                 `Success`). Go on when it stayed healthy for the whole soak.",
                dur(s)
            ),
            script,
            Some(Expect::Equals("True".into())),
        );
        let back = previous.unwrap_or(0);
        out.cmd(
            Role::Decision,
            &format!(
                "health dropped during the soak: at once, put the weights back to {back}% (the \
                 previous step), then stop and decide: fix the cause and run this step again, \
                 or stop the runbook here. Write down who decided."
            ),
            pair.upsert_weights(shared_weights(to, back), to),
            None,
        );
    }
    let (back, what) = match previous {
        Some(p) => (shared_weights(to, p), format!("the previous share, {p}%")),
        None => (
            shared_weights(other(to), 100),
            format!("all traffic to the {} record set", side_name(other(to))),
        ),
    };
    out.cmd(
        Role::Rollback,
        &format!("{what} (primary {}, DR {}).", back.0, back.1),
        pair.upsert_weights(back, if previous.is_some() { to } else { other(to) }),
        None,
    );
}

// ---- people and hooks --------------------------------------------------------------------------

fn approval(out: &mut Out<'_>, message: &str) {
    out.para(format!(
        "**Does:** waits for a person's approval: “{message}”."
    ));
    out.para("**Why:** some decisions belong to a person, not to a script.");
    out.note(
        "**Gate:** go on only when the person your incident process names approves; write down \
         who and when (Pilotlight: `pilotlight approve RUN STEP`).",
    );
}

fn hook(ctx: &Ctx<'_>, node: &PlanNode, out: &mut Out<'_>, command: &[String]) {
    out.para(format!(
        "**Does:** runs `{}`; exit code 0 passes, anything else fails the step.",
        command.join(" ")
    ));
    out.para(
        "**Why:** a check or an action of your own, at this point of the procedure (a smoke \
         test, a cache flush).",
    );
    let env = ctx.env;
    let vars = [
        ("PILOTLIGHT_RUN_ID", "manual".to_string()),
        ("PILOTLIGHT_ENVIRONMENT", env.environment.name.clone()),
        ("PILOTLIGHT_STEP", node.id.clone()),
        ("PILOTLIGHT_PRIMARY_REGION", env.regions.primary.clone()),
        ("PILOTLIGHT_DR_REGION", env.regions.dr.clone()),
    ];
    let mut script: Vec<String> = vars
        .iter()
        .map(|(k, v)| format!("{k}={} \\", word(v)))
        .collect();
    script.push(format!(
        "  {}",
        command
            .iter()
            .map(|c| word(c))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    out.cmd(
        Role::Act,
        "run it from the directory Pilotlight would run it in, with the variables Pilotlight \
         passes.",
        script.join("\n"),
        None,
    );
    out.para("**Roll back:** what the command changed, if anything, is for its owner to undo.");
}

fn notify(out: &mut Out<'_>, message: &str) {
    out.para(format!(
        "**Does:** tells the people who need to know (your incident channel, status page): \
         “{message}”."
    ));
    out.para(
        "**Why:** everyone works from the same picture. A notification that cannot be sent \
         never stops the runbook.",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needed_is_a_robust_ceiling() {
        assert_eq!(needed(4, 0.8), 4);
        assert_eq!(needed(2, 0.8), 2);
        assert_eq!(needed(6, 0.8), 5);
        assert_eq!(needed(10, 0.3), 3);
        assert_eq!(needed(0, 0.5), 0);
    }

    #[test]
    fn weights_split_a_hundred() {
        assert_eq!(shared_weights(Side::Primary, 10), (10, 90));
        assert_eq!(shared_weights(Side::Dr, 100), (0, 100));
        assert_eq!(shared_weights(Side::Primary, 0), (0, 100));
    }
}
