//! Where drill reports are kept: the [`DrillReports`] trait (implemented by the SQLite journal
//! and the DynamoDB journal in `pilotlight-store`), separate from the run `Journal` so that a
//! journal that does not keep drills need not implement it.

use crate::model::{DrillReport, Mode};
use serde::{Deserialize, Serialize};

/// One stored drill, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillSummary {
    /// Drill id.
    pub id: String,
    /// Environment.
    pub environment: String,
    /// Mode.
    pub mode: Mode,
    /// Start.
    pub started_at_ms: u64,
    /// End.
    pub finished_at_ms: u64,
    /// Passed.
    pub passed: bool,
    /// Measured RTO.
    pub rto_ms: Option<u64>,
    /// Worst measured data-loss window.
    pub rpo_ms: Option<u64>,
}

impl DrillSummary {
    /// The summary of a report.
    pub fn of(r: &DrillReport) -> Self {
        DrillSummary {
            id: r.id.clone(),
            environment: r.environment.clone(),
            mode: r.mode,
            started_at_ms: r.started_at_ms,
            finished_at_ms: r.finished_at_ms,
            passed: r.verdict.passed,
            rto_ms: r.rto.measured_ms,
            rpo_ms: r.worst_rpo_ms(),
        }
    }
}

/// A drill that started, recorded before it changes anything, so that a drill whose process died
/// (killed, not stopped) is found later, its copies removed and an interrupted report stored
/// ([`crate::conduct::recover`]). A stored report ends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillStart {
    /// Drill id.
    pub id: String,
    /// Environment.
    pub environment: String,
    /// Mode.
    pub mode: Mode,
    /// Who started it.
    pub requested_by: String,
    /// Why.
    pub reason: String,
    /// Start, ms since the epoch.
    pub started_at_ms: u64,
    /// What conducts it: [`CONDUCTOR_CLI`] or [`CONDUCTOR_SERVICE`].
    pub conductor: String,
}

/// [`DrillStart::conductor`] of a drill run by `pilotlight drill`.
pub const CONDUCTOR_CLI: &str = "cli";
/// [`DrillStart::conductor`] of a drill the control service conducts (`POST /api/v1/runs`).
pub const CONDUCTOR_SERVICE: &str = "service";

/// Why a drill report could not be stored or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrillStoreError {
    /// No such drill.
    #[error("no drill {0} in the journal; list drills with `pilotlight drills`")]
    NotFound(String),
    /// The journal is busy (another process holds it).
    #[error("the journal is busy ({0}); try again in a moment")]
    Busy(String),
    /// Anything else (corrupt, full, permissions).
    #[error("cannot store or read drill reports: {0}; check the journal file and the disk")]
    Other(String),
}

impl DrillStoreError {
    /// Only a busy journal is worth retrying.
    pub fn is_retryable(&self) -> bool {
        matches!(self, DrillStoreError::Busy(_))
    }
}

/// Durable drill reports.
#[async_trait::async_trait]
pub trait DrillReports: Send + Sync {
    /// Store a report (a report with the same id is replaced: a drill is stored once, at its end).
    async fn save_drill(&self, report: &DrillReport) -> Result<(), DrillStoreError>;
    /// Drills, newest first, of one environment or all.
    async fn drills(
        &self,
        environment: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DrillSummary>, DrillStoreError>;
    /// One drill's full report.
    async fn drill(&self, id: &str) -> Result<DrillReport, DrillStoreError>;
    /// Record that a drill started (before it changes anything).
    async fn drill_started(&self, start: &DrillStart) -> Result<(), DrillStoreError>;
    /// The drill recorded by [`DrillReports::drill_started`] did not run (refused before it
    /// changed anything): it is no longer unfinished, and no report is stored for it.
    async fn drill_not_run(&self, id: &str) -> Result<(), DrillStoreError>;
    /// The drills of `environment` that started and have no stored report, oldest first: their
    /// process died during the drill.
    async fn unfinished_drills(
        &self,
        environment: &str,
    ) -> Result<Vec<DrillStart>, DrillStoreError>;
}
