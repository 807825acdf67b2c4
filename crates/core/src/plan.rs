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
        /// Region of the replica whose lag counts (DR in a failover, primary in a failback).
        #[serde(default = "dr_side")]
        replica: Side,
        /// Wait until the lag is within budget (failback) instead of refusing at once.
        #[serde(default)]
        wait: bool,
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
    /// Make an RDS instance not writable: apply the read-only parameter group, or stop it.
    FenceRds {
        /// Region of the instance.
        region: String,
        /// Instance identifier.
        instance: String,
        /// Read-only parameter group; `None`: stop the instance.
        parameter_group: Option<String>,
    },
    /// Delete a fenced RDS instance, keeping a final snapshot.
    RetireRds {
        /// Region of the instance.
        region: String,
        /// Instance identifier.
        instance: String,
    },
    /// Create `instance` in `region` as a cross-region read replica of the serving database.
    ReprotectRds {
        /// Region of the new replica.
        region: String,
        /// Identifier of the new replica.
        instance: String,
        /// Region of the serving database.
        source_region: String,
        /// Identifier of the serving database.
        source_instance: String,
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
        /// Gradual shift (weighted records): the share in percent `to` gets; `None`: all.
        #[serde(default)]
        weight: Option<u8>,
        /// The share `to` had before this step (for a rollback); `None`: the step is not gradual.
        #[serde(default)]
        previous: Option<u8>,
        /// How long the new weight is held, healthy, before the step succeeds.
        #[serde(default, with = "humantime_serde")]
        soak: Option<Duration>,
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

/// How long a router scale-in may still take after its drain timeout (and a decision).
pub const DRAIN_GRACE: Duration = Duration::from_secs(300);

fn dr_side() -> Side {
    Side::Dr
}

fn side_label(side: Side) -> &'static str {
    match side {
        Side::Dr => "DR",
        Side::Primary => "primary",
    }
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
    /// Scale-in of routers: how long protected routers (live sessions) may take to drain before
    /// the run pauses for an operator's decision.
    #[serde(default, with = "humantime_serde")]
    pub drain_timeout: Option<Duration>,
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

    /// The same plan behind a manual approval: a node `id` asking `message` that every node
    /// without dependencies now waits for (how the trigger's `recommend` mode waits for a person).
    pub fn gated_by_approval(&self, id: &str, message: &str) -> Plan {
        let mut plan = self.clone();
        for n in &mut plan.nodes {
            if n.depends_on.is_empty() {
                n.depends_on.push(id.to_string());
            }
        }
        plan.nodes.insert(
            0,
            PlanNode {
                id: id.to_string(),
                step: id.to_string(),
                kind: StepKind::ManualApproval,
                target: None,
                action: Action::ManualApproval {
                    message: message.to_string(),
                },
                depends_on: Vec::new(),
                timeout: Duration::from_secs(24 * 3600),
                estimate: Duration::ZERO,
                retry: RetrySpec::default(),
                optional: false,
                drain_timeout: None,
            },
        );
        let (path, estimate) = critical_path(&plan.nodes);
        plan.critical_path = path;
        plan.critical_path_estimate = estimate;
        plan
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
        StepKind::PromoteRdsReplica
        | StepKind::FenceDatabase
        | StepKind::RetireDatabase
        | StepKind::ReprotectDatabase => &[RdsReplica],
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
            drain_timeout: None,
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
                if matches!(
                    s.kind,
                    StepKind::FenceDatabase
                        | StepKind::RetireDatabase
                        | StepKind::ReprotectDatabase
                ) && s.region.is_none()
                {
                    errors.push(bad("needs `region = \"primary\"` or `region = \"dr\"`: the region whose database instance it acts on"));
                    continue;
                }
                if direction == Direction::Failback && s.kind == StepKind::AuroraFailover {
                    errors.push(bad("a failback moves the database back only by a planned, zero-loss switchover: use `aurora_switchover`"));
                    continue;
                }
                if !s.weights.is_empty() {
                    if let Some(problem) = weights_problem(s.kind, &s.weights) {
                        errors.push(bad(&problem));
                        continue;
                    }
                }
                for t in targets {
                    let action = resource_action(env, s, &t, region(side), side, level, direction);
                    if let Action::ShiftTraffic {
                        failover_routing: true,
                        ..
                    } = action
                    {
                        if !s.weights.is_empty() {
                            errors.push(bad(&format!(
                                "`weights` need weighted records; `{}` uses failover routing (shift it in one step, without `weights`)",
                                t.name
                            )));
                            continue;
                        }
                    }
                    if s.weights.is_empty() {
                        let id = format!("{}/{}", s.id, t.name);
                        let mut node = mk(Some(t), action, id.clone());
                        if s.kind == StepKind::ScaleAutoscaling && level == Some(Level::PilotLight)
                        {
                            let drain = s
                                .drain_timeout
                                .unwrap_or(crate::runbook::DEFAULT_DRAIN_TIMEOUT);
                            node.drain_timeout = Some(drain);
                            // The drain decides first; the step's own timeout comes after it.
                            node.timeout = node.timeout.max(drain + DRAIN_GRACE);
                        }
                        nodes.push(node);
                        ids.push(id);
                        continue;
                    }
                    // A gradual shift: one node per weight, each after the previous one.
                    let mut previous: Option<String> = None;
                    let mut prev_weight = 0u8;
                    for w in &s.weights {
                        let mut a = action.clone();
                        if let Action::ShiftTraffic {
                            weight,
                            previous: prev,
                            soak,
                            ..
                        } = &mut a
                        {
                            *weight = Some(*w);
                            *prev = Some(prev_weight);
                            *soak = Some(s.soak.unwrap_or(crate::runbook::DEFAULT_SOAK));
                        }
                        let held = s.soak.unwrap_or(crate::runbook::DEFAULT_SOAK);
                        let id = format!("{}/{}@{w}", s.id, t.name);
                        let mut node = mk(Some(t.clone()), a, id.clone());
                        // The timeout covers the shift; the soak comes on top of it.
                        node.timeout += held;
                        node.estimate += held;
                        if let Some(p) = &previous {
                            node.depends_on.push(p.clone());
                        }
                        nodes.push(node);
                        ids.push(id.clone());
                        previous = Some(id);
                        prev_weight = *w;
                    }
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
        let mut deps = deps_by_step
            .get(n.step.as_str())
            .cloned()
            .unwrap_or_default();
        // Chains within a step (the weights of a gradual shift) stay.
        deps.append(&mut n.depends_on);
        n.depends_on = deps;
    }
    if direction == Direction::Failback {
        errors.extend(failback_promotion_problems(runbook, &nodes));
        if !errors.is_empty() {
            return Err(errors);
        }
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
    s: &crate::runbook::StepSpec,
    t: &ResourceRef,
    region: String,
    side: Side,
    level: Option<Level>,
    direction: Direction,
) -> Action {
    let kind = s.kind;
    let rds = || {
        env.rds_replicas
            .iter()
            .find(|x| x.name == t.name)
            .expect("validated target")
    };
    let instance_on = |side: Side| match side {
        Side::Primary => rds().primary_instance.clone(),
        Side::Dr => rds().replica_instance.clone(),
    };
    let other = match side {
        Side::Primary => Side::Dr,
        Side::Dr => Side::Primary,
    };
    let region_of = |side: Side| match side {
        Side::Primary => env.regions.primary.clone(),
        Side::Dr => env.regions.dr.clone(),
    };
    match kind {
        StepKind::FenceDatabase => Action::FenceRds {
            region,
            instance: instance_on(side),
            parameter_group: rds().fence_parameter_group.clone(),
        },
        StepKind::RetireDatabase => Action::RetireRds {
            region,
            instance: instance_on(side),
        },
        StepKind::ReprotectDatabase => Action::ReprotectRds {
            region,
            instance: instance_on(side),
            source_region: region_of(other),
            source_instance: instance_on(other),
        },
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
            budget: s.max_lag.unwrap_or(env.objectives.rpo),
            replica: side,
            wait: direction == Direction::Failback,
        },
        StepKind::PromoteRdsReplica => {
            let db = env
                .rds_replicas
                .iter()
                .find(|x| x.name == t.name)
                .expect("validated target");
            let _ = direction;
            let instance = match side {
                Side::Dr => db.replica_instance.clone(),
                Side::Primary => db.primary_instance.clone(),
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
                weight: None,
                previous: None,
                soak: None,
            }
        }
        _ => unreachable!("kinds without targets are handled by build_plan"),
    }
}

/// What is wrong with the `weights` of a step, if anything.
fn weights_problem(kind: StepKind, weights: &[u8]) -> Option<String> {
    if kind != StepKind::ShiftTraffic {
        return Some("`weights` apply to `shift_traffic` only; remove them".into());
    }
    let increasing = weights.windows(2).all(|w| w[0] < w[1]);
    if weights.first() == Some(&0) || !increasing || weights.last() != Some(&100) {
        return Some(format!(
            "`weights` must increase from above 0 and end at 100 (e.g. [10, 50, 100]); got {weights:?}"
        ));
    }
    None
}

/// In a failback, a promotion is planned (zero loss): every `promote_rds_replica` node must come
/// after a `fence_database` of the current writer (the other region) and, after that fence, a
/// `replication_lag_gate` with `max_lag = "0s"` on the same database.
fn failback_promotion_problems(runbook: &Runbook, nodes: &[PlanNode]) -> Vec<PlanError> {
    let by_id: HashMap<&str, &PlanNode> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let ancestors = |id: &str| {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut stack = vec![id.to_string()];
        while let Some(cur) = stack.pop() {
            if let Some(n) = by_id.get(cur.as_str()) {
                for d in &n.depends_on {
                    if seen.insert(d.clone()) {
                        stack.push(d.clone());
                    }
                }
            }
        }
        seen
    };
    let mut problems = Vec::new();
    for n in nodes
        .iter()
        .filter(|n| n.kind == StepKind::PromoteRdsReplica)
    {
        let Action::PromoteRdsReplica { region, .. } = &n.action else {
            continue;
        };
        let target = n
            .target
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default();
        let caught_up = ancestors(&n.id).into_iter().find(|a| {
            by_id.get(a.as_str()).is_some_and(|g| {
                g.target.as_ref().map(|t| &t.name) == Some(&target)
                    && matches!(g.action, Action::LagGate { budget, .. } if budget.is_zero())
            })
        });
        let fenced_first = caught_up.as_ref().is_some_and(|gate| {
            ancestors(gate).into_iter().any(|a| {
                by_id.get(a.as_str()).is_some_and(|f| {
                    f.target.as_ref().map(|t| &t.name) == Some(&target)
                        && matches!(&f.action, Action::FenceRds { region: r, .. } if r != region)
                })
            })
        });
        if !fenced_first {
            problems.push(PlanError::BadStep {
                step: n.step.clone(),
                kind: n.kind.name().to_string(),
                problem: format!(
                    "a failback promotes `{target}` only by a planned, zero-loss switchover: make it depend on a `replication_lag_gate` with `max_lag = \"0s\"` that itself depends on a `fence_database` of the current writer (the other region)"
                ),
            });
        }
    }
    let _ = runbook;
    problems
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
    /// The region the action acts in, for actions bound to one (Route 53 is global).
    pub fn region(&self) -> Option<&str> {
        match self {
            Action::ScaleEcs { region, .. }
            | Action::ScaleAutoscaling { region, .. }
            | Action::PromoteRdsReplica { region, .. }
            | Action::FenceRds { region, .. }
            | Action::RetireRds { region, .. }
            | Action::ReprotectRds { region, .. }
            | Action::AuroraFailover { region, .. } => Some(region),
            _ => None,
        }
    }

    /// What the node will make true, for people (the "target" column of a plan).
    pub fn target_text(&self) -> String {
        match self {
            Action::ReadinessGate => "DR readiness passes".into(),
            Action::LagGate {
                database,
                budget,
                replica,
                wait,
            } => {
                format!(
                    "{database} replica in {} lag ≤ {}{}",
                    side_label(*replica),
                    humantime::format_duration(*budget),
                    if *wait { " (waits for it)" } else { "" }
                )
            }
            Action::FenceRds {
                region,
                instance,
                parameter_group,
            } => match parameter_group {
                Some(g) => format!("{instance} in {region}: read-only (parameter group {g}) or stopped"),
                None => format!("{instance} in {region}: stopped (not writable)"),
            },
            Action::RetireRds { region, instance } => {
                format!("{instance} in {region}: deleted, final snapshot kept")
            }
            Action::ReprotectRds {
                region,
                instance,
                source_region,
                source_instance,
            } => format!(
                "{instance} in {region}: available read replica of {source_instance} in {source_region}"
            ),
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
                weight,
                soak,
                ..
            } => match weight {
                Some(w) => format!(
                    "{record_name}: {w}% to {}, healthy for {}",
                    side_label(*to),
                    humantime::format_duration(soak.unwrap_or_default())
                ),
                None => format!(
                    "{record_name} served from {} ({})",
                    side_label(*to),
                    if *failover_routing {
                        "health-check steered failover records"
                    } else {
                        "weights"
                    }
                ),
            },
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
