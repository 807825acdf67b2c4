//! Runbooks as data: named steps with a kind, target resources, dependencies, timeouts, retry
//! policies and gates. Deserialized from `runbooks/*.toml`; turned into an executable
//! [`Plan`](crate::plan::Plan) by [`build_plan`](crate::plan::build_plan).

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A runbook file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    /// Header: name, direction, parallelism.
    pub runbook: RunbookHeader,
    /// The steps, in any order; `depends_on` orders them.
    #[serde(default)]
    pub steps: Vec<StepSpec>,
}

/// A runbook's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunbookHeader {
    /// Name (e.g. `failover`).
    pub name: String,
    /// What the runbook is for, shown in plans and reports.
    #[serde(default)]
    pub description: String,
    /// Which way traffic moves.
    pub direction: Direction,
    /// How many steps may act at once.
    #[serde(default = "default_parallelism")]
    pub max_parallel: usize,
}

fn default_parallelism() -> usize {
    8
}

/// Which way a runbook moves service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Primary → DR.
    Failover,
    /// DR → primary.
    Failback,
}

/// Which side of the deployment a step targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The active count/capacity.
    Active,
    /// The pilot-light count/capacity.
    PilotLight,
}

/// A region role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The primary region.
    Primary,
    /// The DR region.
    Dr,
}

/// The step kinds Pilotlight knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// DR readiness must pass (override with a reason).
    ReadinessGate,
    /// Database replication lag must be within the RPO budget (or an allow-data-loss override).
    ReplicationLagGate,
    /// Set ECS services' desired count.
    ScaleEcs,
    /// Set Auto Scaling groups' desired capacity.
    ScaleAutoscaling,
    /// Promote an RDS cross-region read replica. In a failback only after the writer is fenced
    /// and the replica has caught up (planned, zero loss).
    PromoteRdsReplica,
    /// Make a database instance not writable (read-only parameter group, or stopped), checked
    /// and recorded: no two writable primaries.
    FenceDatabase,
    /// Delete a fenced, superseded database instance, keeping a final snapshot of it.
    RetireDatabase,
    /// Create a cross-region read replica of the serving database in the other region.
    ReprotectDatabase,
    /// Aurora global database unplanned failover (allow data loss).
    AuroraFailover,
    /// Aurora global database planned switchover (no data loss).
    AuroraSwitchover,
    /// Move DNS traffic in Route 53.
    ShiftTraffic,
    /// Wait until targets reach a share of their target capacity.
    WaitUntil,
    /// Wait for a person's approval.
    ManualApproval,
    /// Run a command; its exit code decides.
    CommandHook,
    /// Send a notification.
    Notify,
}

impl StepKind {
    /// Snake-case name as written in runbooks.
    pub fn name(self) -> &'static str {
        match self {
            StepKind::ReadinessGate => "readiness_gate",
            StepKind::ReplicationLagGate => "replication_lag_gate",
            StepKind::ScaleEcs => "scale_ecs",
            StepKind::ScaleAutoscaling => "scale_autoscaling",
            StepKind::PromoteRdsReplica => "promote_rds_replica",
            StepKind::FenceDatabase => "fence_database",
            StepKind::RetireDatabase => "retire_database",
            StepKind::ReprotectDatabase => "reprotect_database",
            StepKind::AuroraFailover => "aurora_failover",
            StepKind::AuroraSwitchover => "aurora_switchover",
            StepKind::ShiftTraffic => "shift_traffic",
            StepKind::WaitUntil => "wait_until",
            StepKind::ManualApproval => "manual_approval",
            StepKind::CommandHook => "command_hook",
            StepKind::Notify => "notify",
        }
    }

    /// Whether the step is a gate (checks, changes nothing).
    pub fn is_gate(self) -> bool {
        matches!(self, StepKind::ReadinessGate | StepKind::ReplicationLagGate)
    }

    /// Whether the step's side effect must never be sent twice (promotions, failovers).
    pub fn is_one_shot(self) -> bool {
        matches!(
            self,
            StepKind::PromoteRdsReplica | StepKind::AuroraFailover | StepKind::AuroraSwitchover
        )
    }
}

/// Retry policy of a step (stored with the run).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Attempts of the step's action, including the first.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// First backoff delay.
    #[serde(default = "default_base_delay", with = "humantime_serde")]
    pub base_delay: Duration,
    /// Largest backoff delay.
    #[serde(default = "default_max_delay", with = "humantime_serde")]
    pub max_delay: Duration,
}

fn default_attempts() -> u32 {
    3
}
fn default_base_delay() -> Duration {
    Duration::from_secs(1)
}
fn default_max_delay() -> Duration {
    Duration::from_secs(30)
}

impl Default for RetrySpec {
    fn default() -> Self {
        RetrySpec {
            max_attempts: default_attempts(),
            base_delay: default_base_delay(),
            max_delay: default_max_delay(),
        }
    }
}

/// One step of a runbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Unique id within the runbook (`[a-z0-9-]+`).
    pub id: String,
    /// What the step does.
    pub kind: StepKind,
    /// Logical names of the resources it acts on (from the environment config).
    #[serde(default)]
    pub targets: Vec<String>,
    /// Ids of steps that must finish first.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// How long the step may take, verification included.
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Expected duration, for the critical path (defaults per kind).
    #[serde(default, with = "humantime_serde")]
    pub estimate: Option<Duration>,
    /// Retry policy of the step's action.
    #[serde(default)]
    pub retry: Option<RetrySpec>,
    /// For scale steps: which level to scale to.
    #[serde(default)]
    pub to: Option<Level>,
    /// For `shift_traffic`: which region should serve.
    #[serde(default)]
    pub region: Option<Side>,
    /// For `wait_until`: the share of the target capacity to reach (0 < x ≤ 1).
    #[serde(default)]
    pub capacity_at_least: Option<f64>,
    /// For `command_hook`: the program and its arguments.
    #[serde(default)]
    pub command: Vec<String>,
    /// For `notify` and `manual_approval`: the message.
    #[serde(default)]
    pub message: Option<String>,
    /// For `replication_lag_gate`: the largest acceptable lag (default: the RPO; `"0s"`: caught up).
    #[serde(default, with = "humantime_serde")]
    pub max_lag: Option<Duration>,
    /// For `shift_traffic` on weighted records: the shares (percent, increasing, ending at 100)
    /// moved to `region` one after the other, each held for `soak` with a health gate.
    #[serde(default)]
    pub weights: Vec<u8>,
    /// For a gradual `shift_traffic`: how long each weight is held, healthy, before the next.
    #[serde(default, with = "humantime_serde")]
    pub soak: Option<Duration>,
    /// For `scale_autoscaling` to `pilot_light`: how long to wait for routers protected from
    /// scale-in (live sessions) to drain before the run pauses and asks an operator.
    #[serde(default, with = "humantime_serde")]
    pub drain_timeout: Option<Duration>,
    /// Whether a failure of this step fails its dependants (default) or is only reported.
    #[serde(default)]
    pub optional: bool,
}

/// Default estimate of how long a step of `kind` takes on real AWS (`../shared/numbers.md`).
pub fn default_estimate(kind: StepKind) -> Duration {
    Duration::from_secs(match kind {
        StepKind::ReadinessGate => 10,
        StepKind::ReplicationLagGate => 5,
        StepKind::ScaleEcs => 150,
        StepKind::ScaleAutoscaling => 180,
        StepKind::PromoteRdsReplica => 420,
        StepKind::FenceDatabase => 60,
        StepKind::RetireDatabase => 300,
        StepKind::ReprotectDatabase => 1800,
        StepKind::AuroraFailover | StepKind::AuroraSwitchover => 60,
        StepKind::ShiftTraffic => 60,
        StepKind::WaitUntil => 30,
        StepKind::ManualApproval => 0,
        StepKind::CommandHook => 30,
        StepKind::Notify => 1,
    })
}

/// Default soak of each weight of a gradual traffic shift.
pub const DEFAULT_SOAK: Duration = Duration::from_secs(120);

/// Default time routers may take to drain before the run asks an operator.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(1800);

/// Default timeout of a step of `kind`.
pub fn default_timeout(kind: StepKind) -> Duration {
    Duration::from_secs(match kind {
        StepKind::ReadinessGate | StepKind::ReplicationLagGate => 120,
        StepKind::ScaleEcs | StepKind::ScaleAutoscaling => 900,
        StepKind::PromoteRdsReplica => 1800,
        StepKind::FenceDatabase => 600,
        StepKind::RetireDatabase => 1800,
        StepKind::ReprotectDatabase => 7200,
        StepKind::AuroraFailover | StepKind::AuroraSwitchover => 900,
        StepKind::ShiftTraffic => 300,
        StepKind::WaitUntil => 900,
        StepKind::ManualApproval => 3600,
        StepKind::CommandHook => 300,
        StepKind::Notify => 30,
    })
}
