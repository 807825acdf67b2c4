//! Health watching, the pure part: probe samples from several vantage points are evaluated
//! against thresholds ([`evaluate`]), a failure is declared only when a quorum of vantage points
//! agrees, and the trigger decides what to do about it ([`trigger`]). No I/O, no clock: probes,
//! observers, notifications and `serve` live outside the core and call into this module.
//!
//! Invariants:
//! - unknown (no report, a late or stale report, a probe that could not tell) never counts as down;
//! - a failure is declared only when a quorum (N of M) of vantage points says down;
//! - a declared failure is cleared only after `recovery_threshold` consecutive successes of every
//!   probe at a quorum of vantage points (hysteresis);
//! - every declaration carries its evidence as data and as one human line;
//! - the trigger never fails over by itself unless its mode is `auto` and no interlock blocks.

#![warn(missing_docs)]

pub mod evaluate;
pub mod sample;
pub mod settings;
pub mod trigger;

pub use evaluate::{
    Assessment, Declaration, DeclarationKind, Explanation, FailureRule, HealthEvaluator,
    HealthState, ObserveError, ProbeEvidence, ProbeVerdict, UnknownCause, VantageEvidence,
    VantageVerdict, Votes, WindowEvidence,
};
pub use sample::{ProbeId, ProbeOutcome, ProbeSample, VantageId};
pub use settings::{
    FailureRatio, HealthSettings, InvalidSettings, Preset, ProbeSettings, ProbeSpec,
    SettingsProblem, TimeoutCountsAs, VantagePoint, VantageRule,
};
pub use trigger::{
    decide, interlocks, DeclaredFailure, Interlock, LagReading, LastRun, MaintenanceWindow,
    ReadinessInput, TriggerDecision, TriggerInputs, TriggerMode, TriggerPolicy,
};
