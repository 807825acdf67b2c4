//! The drill report: what a DR auditor reads. Every time is milliseconds since the Unix epoch
//! (`*_at_ms`) or a duration in milliseconds (`*_ms`); offsets in the timeline are from the
//! drill's start.

use serde::{Deserialize, Serialize};

/// Version of the report format (`schema/drill-report.schema.json`).
pub const REPORT_VERSION: u32 = 1;

/// How a drill was run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The real failover and failback (a non-production environment).
    Full,
    /// Non-disruptive: copies of DR resources under drill names, verified and removed.
    Isolated,
    /// A regional failure injected in the sandbox; the control loop fails over by itself.
    Gameday,
}

impl Mode {
    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Isolated => "isolated",
            Mode::Gameday => "gameday",
        }
    }
}

/// A phase of the recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// From the failure to its declaration (game day only).
    Detection,
    /// From the declaration to the start of the failover (game day only).
    Decision,
    /// Gates before anything changes (readiness, replication lag).
    Gates,
    /// Database promotion, fencing, reprotection.
    Database,
    /// ECS services and Auto Scaling groups scaled up.
    Compute,
    /// Route 53 traffic shifted.
    Dns,
    /// Approvals, hooks, notifications, waits.
    Other,
    /// The whole failback (not part of the RTO).
    Failback,
}

impl Phase {
    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Detection => "detection",
            Phase::Decision => "decision",
            Phase::Gates => "gates",
            Phase::Database => "database",
            Phase::Compute => "compute",
            Phase::Dns => "dns",
            Phase::Other => "other",
            Phase::Failback => "failback",
        }
    }

    /// The phase of a failover step of this kind (a `StepKind` name).
    pub fn of_step_kind(kind: &str) -> Phase {
        match kind {
            "readiness_gate" | "replication_lag_gate" => Phase::Gates,
            "promote_rds_replica"
            | "fence_database"
            | "retire_database"
            | "reprotect_database"
            | "aurora_failover"
            | "aurora_switchover" => Phase::Database,
            "scale_ecs" | "scale_autoscaling" => Phase::Compute,
            "shift_traffic" => Phase::Dns,
            _ => Phase::Other,
        }
    }
}

/// The environment's recovery objectives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objectives {
    /// Recovery time objective.
    pub rto_ms: u64,
    /// Recovery point objective.
    pub rpo_ms: u64,
}

/// One phase's timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseTiming {
    /// Which phase.
    pub phase: Phase,
    /// Offset of its start from the drill's start; `None` when it was not measured.
    pub start_offset_ms: Option<u64>,
    /// How long it took (first step's start to last step's end); `None` when not measured.
    pub duration_ms: Option<u64>,
    /// Whether it counts toward the RTO.
    pub counts_toward_rto: bool,
    /// How it was measured, or why it was not.
    pub note: String,
}

/// The recovery time measured against the objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rto {
    /// Measured recovery time: failure (or failover start) to the end of the failover run.
    pub measured_ms: Option<u64>,
    /// The objective.
    pub objective_ms: u64,
    /// Measured and within the objective.
    pub within_objective: bool,
    /// What the measurement spans.
    pub note: String,
}

/// One canary record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryResult {
    /// Canary key (item key, object key).
    pub key: String,
    /// When it was written in the primary.
    pub written_at_ms: u64,
    /// Whether it was found in DR after the failover.
    pub arrived: bool,
}

/// How exact a data-loss window is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// Every canary arrived: the loss is at most the age of the newest canary at the failure point.
    AtMost,
    /// Some arrived: the loss is between the newest arrived and the oldest missing canary.
    Between,
    /// None arrived: the loss is at least the age of the oldest canary at the failure point.
    AtLeast,
}

/// RPO of one data store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreRpo {
    /// Store kind: `dynamodb`, `s3`, `rds`.
    pub kind: String,
    /// Logical name from the environment config.
    pub name: String,
    /// Whether canaries could be written and read (false: see `note`).
    pub measured: bool,
    /// The canaries, oldest first.
    pub canaries: Vec<CanaryResult>,
    /// Data-loss window at the failure point (see `bound`); `None` when not measured.
    pub loss_window_ms: Option<u64>,
    /// How exact `loss_window_ms` is.
    pub bound: Option<Bound>,
    /// How it was measured, or why it was not.
    pub note: String,
}

/// One step of a run in the drill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepTiming {
    /// Run id.
    pub run_id: String,
    /// Runbook of the run (`failover`, `failback`).
    pub runbook: String,
    /// Node id.
    pub id: String,
    /// Step kind (`scale_ecs`, ...).
    pub kind: String,
    /// Phase the step belongs to.
    pub phase: Phase,
    /// Final status (`succeeded`, `failed`, `skipped`, `pending`, ...).
    pub status: String,
    /// Attempts.
    pub attempts: u32,
    /// Offset of its start from the drill's start.
    pub start_offset_ms: Option<u64>,
    /// How long it took.
    pub duration_ms: Option<u64>,
    /// What it did.
    pub message: Option<String>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// A run the drill started or watched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRef {
    /// Run id (see `pilotlight runs show`).
    pub id: String,
    /// Runbook.
    pub runbook: String,
    /// Final status.
    pub status: String,
    /// Start.
    pub started_at_ms: u64,
    /// End.
    pub finished_at_ms: Option<u64>,
}

/// A decision from the journal: start, approval, override, health declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionLine {
    /// Run it concerns (empty for environment-wide health events).
    pub run_id: String,
    /// Kind (`start`, `approval`, `override_readiness`, `allow_data_loss`, `rpo_estimate`, ...).
    pub kind: String,
    /// Who.
    pub who: String,
    /// Why.
    pub why: String,
    /// When.
    pub at_ms: u64,
}

/// A resource an isolated drill created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceChange {
    /// Kind (`rds_instance`, `ecs_service`, `autoscaling_group`, `rds_snapshot`).
    pub kind: String,
    /// Name.
    pub name: String,
    /// Region.
    pub region: String,
    /// When it was created.
    pub created_at_ms: u64,
    /// When its removal was confirmed; `None`: left behind.
    pub removed_at_ms: Option<u64>,
    /// What was verified on it (`running 4/4`, `available`), or what failed.
    pub verified: String,
}

/// Pass or fail, with every reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Whether the drill passed.
    pub passed: bool,
    /// Why it failed (empty when it passed).
    pub reasons: Vec<String>,
}

/// An earlier drill, for the trend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrendPoint {
    /// Drill id.
    pub id: String,
    /// Mode.
    pub mode: Mode,
    /// Start.
    pub started_at_ms: u64,
    /// Passed.
    pub passed: bool,
    /// Measured RTO.
    pub rto_ms: Option<u64>,
    /// Worst measured data-loss window.
    pub rpo_ms: Option<u64>,
}

/// The report of one drill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillReport {
    /// Report format version ([`REPORT_VERSION`]).
    pub version: u32,
    /// Drill id (`drill-20261121-223000-ab12`).
    pub id: String,
    /// Mode.
    pub mode: Mode,
    /// Environment name.
    pub environment: String,
    /// Environment tier (`production`, `staging`, `development`).
    pub tier: String,
    /// Primary region.
    pub primary_region: String,
    /// DR region.
    pub dr_region: String,
    /// Who ran it.
    pub requested_by: String,
    /// Start.
    pub started_at_ms: u64,
    /// End.
    pub finished_at_ms: u64,
    /// The moment the failure was simulated (canaries before it count).
    pub failure_at_ms: Option<u64>,
    /// The objectives from the environment config.
    pub objectives: Objectives,
    /// Phases in order.
    pub phases: Vec<PhaseTiming>,
    /// The RTO.
    pub rto: Rto,
    /// RPO per data store.
    pub rpo: Vec<StoreRpo>,
    /// Runs the drill started or watched.
    pub runs: Vec<RunRef>,
    /// Every step of those runs.
    pub steps: Vec<StepTiming>,
    /// Approvals, overrides and other decisions.
    pub decisions: Vec<DecisionLine>,
    /// Resources created and removed (isolated mode).
    pub resources: Vec<ResourceChange>,
    /// Things the drill could not measure in this environment (e.g. the emulator's gaps).
    pub limitations: Vec<String>,
    /// Pass or fail.
    pub verdict: Verdict,
    /// Earlier drills of the environment, oldest first.
    pub trend: Vec<TrendPoint>,
}

impl DrillReport {
    /// The worst measured data-loss window over all stores.
    pub fn worst_rpo_ms(&self) -> Option<u64> {
        self.rpo.iter().filter_map(|s| s.loss_window_ms).max()
    }

    /// This report as a trend point.
    pub fn trend_point(&self) -> TrendPoint {
        TrendPoint {
            id: self.id.clone(),
            mode: self.mode,
            started_at_ms: self.started_at_ms,
            passed: self.verdict.passed,
            rto_ms: self.rto.measured_ms,
            rpo_ms: self.worst_rpo_ms(),
        }
    }

    /// Resources the drill created that were not removed.
    pub fn leftovers(&self) -> Vec<&ResourceChange> {
        self.resources
            .iter()
            .filter(|r| r.removed_at_ms.is_none())
            .collect()
    }
}
