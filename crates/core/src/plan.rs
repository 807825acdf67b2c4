//! Plans: a runbook applied to an environment. Each step is expanded into one node per target,
//! validated (unknown resources, wrong kinds, unknown dependencies, cycles), ordered, and given
//! its critical path. Pure: no I/O.

use crate::model::{EnvironmentConfig, ResourceKind, ResourceRef};
use crate::runbook::{
    default_estimate, default_timeout, Direction, Level, RetrySpec, Runbook, Side, StepKind,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// What one plan node does, with every name and region resolved from the environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// DR readiness must pass.
    ReadinessGate,
    /// Replication lag of a database within the RPO budget.
    LagGate {
        /// Logical database name.
        database: String,
        /// Largest acceptable lag.
        #[serde(with = "humantime_serde")]
        budget: Duration,
    },
    /// Set an ECS service's desired count.
    ScaleEcs {
        /// Region of the service.
        region: String,
        /// Cluster name.
        cluster: String,
        /// Service name.
        service: String,
        /// Desired count to set.
        desired: u32,
    },
    /// Set an Auto Scaling group's desired capacity.
    ScaleAutoscaling {
        /// Region of the group.
        region: String,
        /// Group name.
        group: String,
        /// Desired capacity to set.
        desired: u32,
    },
    /// Promote an RDS read replica to a standalone writable instance.
    PromoteRdsReplica {
        /// Region of the replica.
        region: String,
        /// Replica instance identifier.
        instance: String,
    },
    /// Aurora global failover (unplanned) or switchover (planned) to `target_cluster`.
    AuroraFailover {
        /// Region of the target cluster.
        region: String,
        /// Global cluster identifier.
        global_cluster: String,
        /// Cluster that becomes the writer.
        target_cluster: String,
        /// Planned switchover (no data loss) rather than unplanned failover.
        planned: bool,
    },
    /// Move a DNS record pair so that `to` serves.
    ShiftTraffic {
        /// Hosted zone id.
        zone_id: String,
        /// Record name.
        record_name: String,
        /// Record type.
        record_type: String,
        /// Set identifier of the primary record set.
        primary_set_identifier: String,
        /// Set identifier of the DR record set.
        dr_set_identifier: String,
        /// Failover routing (health checks steer) or weighted.
        failover_routing: bool,
        /// Which side should serve afterwards.
        to: Side,
    },
    /// Wait until every target reaches `fraction` of its desired capacity.
    WaitCapacity {
        /// Targets and their desired capacity.
        targets: Vec<CapacityTarget>,
        /// Share to reach (0 < fraction ≤ 1).
        fraction: f64,
    },
    /// Wait for a person.
    ManualApproval {
        /// What the approver is asked.
        message: String,
    },
    /// Run a command.
    CommandHook {
        /// Program and arguments.
        command: Vec<String>,
    },
    /// Send a notification.
    Notify {
        /// The message.
        message: String,
    },
}

/// A capacity a `wait_until` node waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityTarget {
    /// The resource.
    pub resource: ResourceRef,
    /// Region.
    pub region: String,
    /// ECS cluster (services) — empty for groups.
    pub cluster: String,
    /// Service or group name.
    pub name: String,
    /// The count that counts as 100%.
    pub desired: u32,
}

/// One executable node of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanNode {
    /// Unique node id: the step id, or `step/target` when a step has targets.
    pub id: String,
    /// The runbook step it comes from.
    pub step: String,
    /// Step kind.
    pub kind: StepKind,
    /// The target resource, if any.
    pub target: Option<ResourceRef>,
    /// What to do, fully resolved.
    pub action: Action,
    /// Node ids that must succeed first.
    pub depends_on: Vec<String>,
    /// Time allowed, verification included.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Expected duration (for the critical path).
    #[serde(with = "humantime_serde")]
    pub estimate: Duration,
    /// Retry policy of the action.
    pub retry: RetrySpec,
    /// A failure is reported but does not block dependants.
    pub optional: bool,
}

/// A validated, ordered plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Runbook name.
    pub runbook: String,
    /// Direction.
    pub direction: Direction,
    /// Environment name.
    pub environment: String,
    /// Nodes in a topological order (dependencies first).
    pub nodes: Vec<PlanNode>,
    /// Node ids on the critical path, in order.
    pub critical_path: Vec<String>,
    /// Estimated duration of the critical path.
    #[serde(with = "humantime_serde")]
    pub critical_path_estimate: Duration,
    /// How many nodes may act at once.
    pub max_parallel: usize,
}

impl Plan {
    /// The node with id `id`.
    pub fn node(&self, id: &str) -> Option<&PlanNode> {
        self.nodes.iter().find(|n| n.id == id)
    }
}

/// Why a runbook cannot be planned against an environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum PlanError {
    /// Two steps share an id.
    #[error("step `{0}` is defined twice: give each step a unique id")]
    DuplicateStep(String),
    /// A target names no resource of the environment.
    #[error("step `{step}`: target `{target}` is not a resource of the environment config; expected the name of one of: {expected}")]
    UnknownTarget {
        /// Step id.
        step: String,
        /// Target name.
        target: String,
        /// What would fit.
        expected: String,
    },
    /// A target is a resource of the wrong kind for the step.
    #[error(
        "step `{step}` ({kind}) cannot act on `{target}`, a {actual} resource; it takes {expected}"
    )]
    WrongTargetKind {
        /// Step id.
        step: String,
        /// Step kind.
        kind: String,
        /// Target name.
        target: String,
        /// The target's kind.
        actual: String,
        /// Kinds the step takes.
        expected: String,
    },
    /// A step needs targets and has none, or takes none and has some.
    #[error("step `{step}` ({kind}): {problem}")]
    BadStep {
        /// Step id.
        step: String,
        /// Step kind.
        kind: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// `depends_on` names no step.
    #[error("step `{step}` depends on `{dependency}`, which is not a step of this runbook")]
    UnknownDependency {
        /// Step id.
        step: String,
        /// The unknown id.
        dependency: String,
    },
    /// The dependencies form a cycle.
    #[error("steps depend on each other in a cycle: {}; remove one of these dependencies", .0.join(" → "))]
    Cycle(Vec<String>),
}

impl PlanError {
    /// Plan errors are mistakes in a runbook: never retryable.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

fn kinds_for(kind: StepKind) -> &'static [ResourceKind] {
    use ResourceKind::*;
    match kind {
        StepKind::ReplicationLagGate => &[RdsReplica, AuroraGlobal],
        StepKind::ScaleEcs => &[EcsService],
        StepKind::ScaleAutoscaling => &[AutoscalingGroup],
        StepKind::PromoteRdsReplica => &[RdsReplica],
        StepKind::AuroraFailover | StepKind::AuroraSwitchover => &[AuroraGlobal],
        StepKind::ShiftTraffic => &[Route53Record],
        StepKind::WaitUntil => &[EcsService, AutoscalingGroup],
        StepKind::ReadinessGate
        | StepKind::ManualApproval
        | StepKind::CommandHook
        | StepKind::Notify => &[],
    }
}

fn kinds_label(kinds: &[ResourceKind]) -> String {
    kinds
        .iter()
        .map(|k| k.label())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Build and validate the plan of `runbook` for `env`. Every problem is reported.
pub fn build_plan(env: &EnvironmentConfig, runbook: &Runbook) -> Result<Plan, Vec<PlanError>> {
    let mut errors = Vec::new();
    // Logical names are unique per kind; a target resolves among the kinds its step accepts.
    let mut resources: HashMap<String, Vec<ResourceRef>> = HashMap::new();
    for r in env.resources() {
        resources.entry(r.name.clone()).or_default().push(r);
    }
    let mut seen = BTreeSet::new();
    for s in &runbook.steps {
        if !seen.insert(s.id.clone()) {
            errors.push(PlanError::DuplicateStep(s.id.clone()));
        }
    }
    let direction = runbook.runbook.direction;
    // Side a step acts on by default: the region that will serve.
    let serving = match direction {
        Direction::Failover => Side::Dr,
        Direction::Failback => Side::Primary,
    };
    let mut step_nodes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut nodes = Vec::new();
    for s in &runbook.steps {
        let accepted = kinds_for(s.kind);
        let kind = s.kind.name().to_string();
        let bad = |problem: &str| PlanError::BadStep {
            step: s.id.clone(),
            kind: kind.clone(),
            problem: problem.to_string(),
        };
        if accepted.is_empty() && !s.targets.is_empty() {
            errors.push(bad("takes no targets; remove `targets`"));
            continue;
        }
        if !accepted.is_empty() && s.targets.is_empty() {
            errors.push(bad(&format!(
                "needs `targets`: names of {} resources",
                kinds_label(accepted)
            )));
            continue;
        }
        let mut targets = Vec::new();
        for t in &s.targets {
            let named = resources.get(t).map(Vec::as_slice).unwrap_or_default();
            let fitting: Vec<&ResourceRef> = named
                .iter()
                .filter(|r| accepted.contains(&r.kind))
                .collect();
            match (fitting.as_slice(), named.first()) {
                ([one], _) => targets.push((*one).clone()),
                ([], None) => errors.push(PlanError::UnknownTarget {
                    step: s.id.clone(),
                    target: t.clone(),
                    expected: kinds_label(accepted),
                }),
                ([], Some(other)) => errors.push(PlanError::WrongTargetKind {
                    step: s.id.clone(),
                    kind: kind.clone(),
                    target: t.clone(),
                    actual: other.kind.label().to_string(),
                    expected: kinds_label(accepted),
                }),
                (many, _) => errors.push(PlanError::BadStep {
                    step: s.id.clone(),
                    kind: kind.clone(),
                    problem: format!(
                        "target `{t}` is ambiguous: it names a {} resource; rename one of them in the environment config",
                        many.iter().map(|r| r.kind.label()).collect::<Vec<_>>().join(" and a ")
                    ),
                }),
            }
        }
        if targets.len() != s.targets.len() {
            continue;
        }
        let side = s.region.unwrap_or(serving);
        let level = s.to;
        let region = |side: Side| match side {
            Side::Primary => env.regions.primary.clone(),
            Side::Dr => env.regions.dr.clone(),
        };
        let mk = |target: Option<ResourceRef>, action: Action, id: String| PlanNode {
            id,
            step: s.id.clone(),
            kind: s.kind,
            target,
            action,
            depends_on: Vec::new(),
            timeout: s.timeout.unwrap_or_else(|| default_timeout(s.kind)),
            estimate: s.estimate.unwrap_or_else(|| default_estimate(s.kind)),
            retry: s.retry.unwrap_or_default(),
            optional: s.optional,
        };
        let mut ids = Vec::new();
        match s.kind {
            StepKind::ReadinessGate => {
                nodes.push(mk(None, Action::ReadinessGate, s.id.clone()));
                ids.push(s.id.clone());
            }
            StepKind::ManualApproval | StepKind::Notify => {
                let message = s
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("{} of {}", s.id, env.environment.name));
                let action = if s.kind == StepKind::Notify {
                    Action::Notify { message }
                } else {
                    Action::ManualApproval { message }
                };
                nodes.push(mk(None, action, s.id.clone()));
                ids.push(s.id.clone());
            }
            StepKind::CommandHook => {
                if s.command.is_empty() {
                    errors.push(bad("needs `command`, e.g. [\"./scripts/smoke-test.sh\", \"--region\", \"us-west-2\"]"));
                    continue;
                }
                nodes.push(mk(
                    None,
                    Action::CommandHook {
                        command: s.command.clone(),
                    },
                    s.id.clone(),
                ));
                ids.push(s.id.clone());
            }
            StepKind::WaitUntil => {
                let fraction = s.capacity_at_least.unwrap_or(1.0);
                if !(fraction > 0.0 && fraction <= 1.0) {
                    errors.push(bad(
                        "`capacity_at_least` must be greater than 0 and at most 1 (e.g. 0.8)",
                    ));
                    continue;
                }
                let lvl = level.unwrap_or(Level::Active);
                let cap = targets
                    .iter()
                    .map(|t| capacity_target(env, t, region(side), side, lvl))
                    .collect();
                nodes.push(mk(
                    None,
                    Action::WaitCapacity {
                        targets: cap,
                        fraction,
                    },
                    s.id.clone(),
                ));
                ids.push(s.id.clone());
            }
            _ => {
                if matches!(s.kind, StepKind::ScaleEcs | StepKind::ScaleAutoscaling)
                    && level.is_none()
                {
                    errors.push(bad("needs `to = \"active\"` or `to = \"pilot_light\"`"));
                    continue;
                }
                for t in targets {
                    let action =
                        resource_action(env, s.kind, &t, region(side), side, level, direction);
                    let id = format!("{}/{}", s.id, t.name);
                    nodes.push(mk(Some(t), action, id.clone()));
                    ids.push(id);
                }
            }
        }
        step_nodes.insert(s.id.clone(), ids);
    }
    // Dependencies: a step depends on every node of each step it names.
    let mut deps_by_step: HashMap<&str, Vec<String>> = HashMap::new();
    for s in &runbook.steps {
        let mut deps = Vec::new();
        for d in &s.depends_on {
            if !runbook.steps.iter().any(|x| &x.id == d) {
                errors.push(PlanError::UnknownDependency {
                    step: s.id.clone(),
                    dependency: d.clone(),
                });
            } else if let Some(ids) = step_nodes.get(d) {
                deps.extend(ids.iter().cloned());
            }
        }
        deps_by_step.insert(s.id.as_str(), deps);
    }
    if let Some(cycle) = find_cycle(runbook) {
        errors.push(PlanError::Cycle(cycle));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    for n in &mut nodes {
        n.depends_on = deps_by_step
            .get(n.step.as_str())
            .cloned()
            .unwrap_or_default();
    }
    let nodes = topological(nodes);
    let (critical_path, critical_path_estimate) = critical_path(&nodes);
    Ok(Plan {
        runbook: runbook.runbook.name.clone(),
        direction,
        environment: env.environment.name.clone(),
        nodes,
        critical_path,
        critical_path_estimate,
        max_parallel: runbook.runbook.max_parallel.max(1),
    })
}

fn capacity_target(
    env: &EnvironmentConfig,
    t: &ResourceRef,
    region: String,
    side: Side,
    lvl: Level,
) -> CapacityTarget {
    match t.kind {
        ResourceKind::EcsService => {
            let s = env
                .ecs_services
                .iter()
                .find(|x| x.name == t.name)
                .expect("validated target");
            let (cluster, name) = match side {
                Side::Dr => (s.cluster.clone(), s.service.clone()),
                Side::Primary => (
                    s.primary_cluster().to_string(),
                    s.primary_service().to_string(),
                ),
            };
            let desired = if lvl == Level::Active {
                s.active_count
            } else {
                s.pilot_light_count
            };
            CapacityTarget {
                resource: t.clone(),
                region,
                cluster,
                name,
                desired,
            }
        }
        _ => {
            let g = env
                .autoscaling_groups
                .iter()
                .find(|x| x.name == t.name)
                .expect("validated target");
            let name = match side {
                Side::Dr => g.group.clone(),
                Side::Primary => g.primary_group().to_string(),
            };
            let desired = if lvl == Level::Active {
                g.active_capacity
            } else {
                g.pilot_light_capacity
            };
            CapacityTarget {
                resource: t.clone(),
                region,
                cluster: String::new(),
                name,
                desired,
            }
        }
    }
}

fn resource_action(
    env: &EnvironmentConfig,
    kind: StepKind,
    t: &ResourceRef,
    region: String,
    side: Side,
    level: Option<Level>,
    direction: Direction,
) -> Action {
    match kind {
        StepKind::ScaleEcs | StepKind::ScaleAutoscaling => {
            let c = capacity_target(env, t, region.clone(), side, level.unwrap_or(Level::Active));
            if kind == StepKind::ScaleEcs {
                Action::ScaleEcs {
                    region,
                    cluster: c.cluster,
                    service: c.name,
                    desired: c.desired,
                }
            } else {
                Action::ScaleAutoscaling {
                    region,
                    group: c.name,
                    desired: c.desired,
                }
            }
        }
        StepKind::ReplicationLagGate => Action::LagGate {
            database: t.name.clone(),
            budget: env.objectives.rpo,
        },
        StepKind::PromoteRdsReplica => {
            let db = env
                .rds_replicas
                .iter()
                .find(|x| x.name == t.name)
                .expect("validated target");
            let instance = match direction {
                Direction::Failover => db.replica_instance.clone(),
                Direction::Failback => db.primary_instance.clone(),
            };
            Action::PromoteRdsReplica { region, instance }
        }
        StepKind::AuroraFailover | StepKind::AuroraSwitchover => {
            let db = env
                .aurora_global_clusters
                .iter()
                .find(|x| x.name == t.name)
                .expect("validated target");
            let target_cluster = match side {
                Side::Dr => db.dr_cluster.clone(),
                Side::Primary => db.primary_cluster.clone(),
            };
            Action::AuroraFailover {
                region,
                global_cluster: db.global_cluster.clone(),
                target_cluster,
                planned: kind == StepKind::AuroraSwitchover,
            }
        }
        StepKind::ShiftTraffic => {
            let zone = env.route53.as_ref().expect("validated target");
            let r = zone
                .records
                .iter()
                .find(|x| x.name == t.name)
                .expect("validated target");
            Action::ShiftTraffic {
                zone_id: zone.zone_id.clone(),
                record_name: r.record_name.clone(),
                record_type: r.record_type.clone(),
                primary_set_identifier: r.primary_set_identifier.clone(),
                dr_set_identifier: r.dr_set_identifier.clone(),
                failover_routing: r.routing == crate::model::Routing::Failover,
                to: side,
            }
        }
        _ => unreachable!("kinds without targets are handled by build_plan"),
    }
}

/// A cycle among step dependencies, as a path of step ids, if there is one.
fn find_cycle(runbook: &Runbook) -> Option<Vec<String>> {
    let deps: HashMap<&str, Vec<&str>> = runbook
        .steps
        .iter()
        .map(|s| {
            (
                s.id.as_str(),
                s.depends_on.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state: HashMap<&str, u8> = HashMap::new();
    fn visit<'a>(
        n: &'a str,
        deps: &HashMap<&'a str, Vec<&'a str>>,
        state: &mut HashMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let start = stack.iter().position(|x| *x == n).unwrap_or(0);
                let mut cycle: Vec<String> = stack[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(n, 1);
        stack.push(n);
        for d in deps.get(n).into_iter().flatten() {
            if deps.contains_key(d) {
                if let Some(c) = visit(d, deps, state, stack) {
                    return Some(c);
                }
            }
        }
        stack.pop();
        state.insert(n, 2);
        None
    }
    for s in &runbook.steps {
        let mut stack = Vec::new();
        if let Some(c) = visit(s.id.as_str(), &deps, &mut state, &mut stack) {
            return Some(c);
        }
    }
    None
}

/// Nodes in a stable topological order (Kahn, ties broken by original order).
fn topological(nodes: Vec<PlanNode>) -> Vec<PlanNode> {
    let mut remaining = nodes;
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::with_capacity(remaining.len());
    while !remaining.is_empty() {
        let (ready, rest): (Vec<_>, Vec<_>) = remaining
            .into_iter()
            .partition(|n| n.depends_on.iter().all(|d| done.contains(d)));
        assert!(!ready.is_empty(), "cycles are rejected before ordering");
        for n in &ready {
            done.insert(n.id.clone());
        }
        out.extend(ready);
        remaining = rest;
    }
    out
}

/// The longest path by estimate through topologically ordered nodes, and its length.
pub fn critical_path(nodes: &[PlanNode]) -> (Vec<String>, Duration) {
    let mut finish: HashMap<&str, (Duration, Option<&str>)> = HashMap::new();
    for n in nodes {
        // Ties go to the first in order, so the path is deterministic.
        let mut start = (Duration::ZERO, None);
        for d in &n.depends_on {
            if let Some((f, _)) = finish.get(d.as_str()) {
                if start.1.is_none() || *f > start.0 {
                    start = (*f, Some(d.as_str()));
                }
            }
        }
        let (start, prev) = start;
        finish.insert(n.id.as_str(), (start + n.estimate, prev));
    }
    let mut best: Option<(&str, Duration)> = None;
    for n in nodes {
        let f = finish[n.id.as_str()].0;
        if best.is_none_or(|(_, b)| f > b) {
            best = Some((n.id.as_str(), f));
        }
    }
    let Some((end, total)) = best else {
        return (Vec::new(), Duration::ZERO);
    };
    let mut path = vec![end.to_string()];
    let mut cur = end;
    while let Some((_, Some(prev))) = finish.get(cur) {
        path.push(prev.to_string());
        cur = prev;
    }
    path.reverse();
    (path, total)
}

impl Action {
    /// What the node will make true, for people (the "target" column of a plan).
    pub fn target_text(&self) -> String {
        match self {
            Action::ReadinessGate => "DR readiness passes".into(),
            Action::LagGate { database, budget } => {
                format!(
                    "{database} replication lag ≤ {}",
                    humantime::format_duration(*budget)
                )
            }
            Action::ScaleEcs {
                region,
                cluster,
                service,
                desired,
            } => {
                format!("{cluster}/{service} in {region}: desired {desired}, running {desired}")
            }
            Action::ScaleAutoscaling {
                region,
                group,
                desired,
            } => {
                format!("{group} in {region}: desired {desired}, in service {desired}")
            }
            Action::PromoteRdsReplica { region, instance } => {
                format!("{instance} in {region}: promoted, writable, available")
            }
            Action::AuroraFailover {
                region,
                global_cluster,
                target_cluster,
                planned,
            } => format!(
                "{target_cluster} in {region} writer of {global_cluster} ({})",
                if *planned {
                    "switchover, no data loss"
                } else {
                    "failover, data loss allowed"
                }
            ),
            Action::ShiftTraffic {
                record_name,
                to,
                failover_routing,
                ..
            } => format!(
                "{record_name} served from {} ({})",
                match to {
                    Side::Dr => "DR",
                    Side::Primary => "primary",
                },
                if *failover_routing {
                    "health-check steered failover records"
                } else {
                    "weights"
                }
            ),
            Action::WaitCapacity { targets, fraction } => format!(
                "{} at ≥ {:.0}% of target: {}",
                targets.len(),
                fraction * 100.0,
                targets
                    .iter()
                    .map(|t| format!("{} {}", t.name, t.desired))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Action::ManualApproval { message } => format!("approved: {message}"),
            Action::CommandHook { command } => format!("`{}` exits 0", command.join(" ")),
            Action::Notify { message } => format!("sent: {message}"),
        }
    }
}
