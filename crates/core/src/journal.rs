//! The journal: the durable record of runs, their events, and the decisions people made.
//! The executor writes an event before it acts on it; a run's state is the replay of its events
//! (see [`crate::run`]). Implementations: SQLite (`pilotlight-store`), later DynamoDB.

use crate::plan::Plan;
use crate::run::{Event, RunStatus};
use serde::{Deserialize, Serialize};

/// Options a run was started with; stored with it so a resumed run behaves the same.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    /// Planned (zero-loss) rather than unplanned.
    pub planned: bool,
    /// Reason given to allow an unplanned promotion with lag above the RPO budget.
    pub allow_data_loss: Option<String>,
    /// Reason given to proceed although DR readiness fails.
    pub override_readiness: Option<String>,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Run id (e.g. `run-20261121T174501Z-3f9a`).
    pub id: String,
    /// Environment name.
    pub environment: String,
    /// Runbook name.
    pub runbook: String,
    /// The same key twice makes one run (a double-clicked button, a retried request).
    pub idempotency_key: String,
    /// Who asked.
    pub requested_by: String,
    /// Why.
    pub reason: String,
    /// Options.
    pub options: RunOptions,
    /// The plan, frozen at creation: a resumed run executes exactly this plan.
    pub plan: Plan,
    /// Current status (mirrors the last status event).
    pub status: RunStatus,
    /// Creation time, ms since the epoch.
    pub created_at_ms: u64,
    /// End time, when finished.
    pub finished_at_ms: Option<u64>,
}

/// An event with its journal sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Monotonic per run, from 1.
    pub seq: u64,
    /// The event.
    pub event: Event,
}

/// A decision made by a person or by the trigger: an override, an approval, a declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The run it concerns.
    pub run_id: String,
    /// What kind (`override_readiness`, `allow_data_loss`, `approval`, `start`, ...).
    pub kind: String,
    /// Who.
    pub who: String,
    /// Why, in their words.
    pub why: String,
    /// Supporting data (e.g. the lag at the time, the failing checks).
    pub detail: serde_json::Value,
    /// When, ms since the epoch.
    pub at_ms: u64,
}

/// What `create_run` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CreateOutcome {
    /// A new run was created.
    Created(RunRecord),
    /// A run with the same idempotency key exists: this is it.
    Existing(RunRecord),
}

/// Journal failures. The executor stops a run safely on any of them: a step is never reported
/// done without a durable record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    /// Another run is active for the environment (one active run per environment).
    #[error("run {active} is already active for environment {environment}; resume it (`pilotlight resume {active}`) or abort it first")]
    ActiveRunExists {
        /// Environment.
        environment: String,
        /// The active run's id.
        active: String,
    },
    /// No such run.
    #[error("no run {0} in the journal; list runs with `pilotlight runs`")]
    NotFound(String),
    /// Another process holds the journal.
    #[error("the journal {path} is locked by another process ({detail}); wait for it, or stop the other pilotlight process")]
    Locked {
        /// Journal location.
        path: String,
        /// Underlying error.
        detail: String,
    },
    /// The journal is damaged.
    #[error("the journal {path} is corrupt ({detail}); stop, keep a copy of the file for investigation, and restore it from backup")]
    Corrupt {
        /// Journal location.
        path: String,
        /// Underlying error.
        detail: String,
    },
    /// The disk is full.
    #[error("the journal {path} cannot be written: the disk is full ({detail}); free space, then resume the run")]
    Full {
        /// Journal location.
        path: String,
        /// Underlying error.
        detail: String,
    },
    /// A write was rejected because a newer leader holds the journal (fencing).
    #[error("this instance's writes are fenced off ({0}); another instance leads now")]
    Fenced(String),
    /// Anything else.
    #[error("journal error at {path}: {detail}; check the file's permissions and the disk")]
    Other {
        /// Journal location.
        path: String,
        /// Underlying error.
        detail: String,
    },
}

impl JournalError {
    /// Only a busy journal is worth retrying; everything else stops the run safely.
    pub fn is_retryable(&self) -> bool {
        matches!(self, JournalError::Locked { .. })
    }
}

/// The durable journal of runs.
#[async_trait::async_trait]
pub trait Journal: Send + Sync {
    /// Create a run, unless one with the same idempotency key exists (then return it), or
    /// another run of the environment is active (then refuse with `ActiveRunExists`).
    async fn create_run(&self, run: &RunRecord) -> Result<CreateOutcome, JournalError>;
    /// Durably append an event (committed before returning) and return its sequence number.
    /// A `RunFinished`, `Paused`, `Resumed` or `AbortRequested` event also updates the run's status.
    async fn append(&self, run_id: &str, event: &Event) -> Result<u64, JournalError>;
    /// A run's events in order.
    async fn events(&self, run_id: &str) -> Result<Vec<StoredEvent>, JournalError>;
    /// A run's events with a sequence number above `after_seq`, in order. Implementations
    /// should override this to avoid reading the whole run.
    async fn events_since(
        &self,
        run_id: &str,
        after_seq: u64,
    ) -> Result<Vec<StoredEvent>, JournalError> {
        Ok(self
            .events(run_id)
            .await?
            .into_iter()
            .filter(|e| e.seq > after_seq)
            .collect())
    }
    /// One run.
    async fn run(&self, run_id: &str) -> Result<RunRecord, JournalError>;
    /// Runs, newest first, optionally for one environment.
    async fn runs(
        &self,
        environment: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, JournalError>;
    /// The environment's active (not finished) run, if any.
    async fn active_run(&self, environment: &str) -> Result<Option<RunRecord>, JournalError>;
    /// Durably record a decision.
    async fn record_decision(&self, decision: &Decision) -> Result<(), JournalError>;
    /// A run's decisions in order.
    async fn decisions(&self, run_id: &str) -> Result<Vec<Decision>, JournalError>;
    /// Durably record a health event (a declaration, a recovery, a trigger decision), which
    /// may concern no run.
    async fn record_health_event(&self, event: &HealthEvent) -> Result<(), JournalError>;
    /// The environment's health events, newest first.
    async fn health_events(
        &self,
        environment: &str,
        limit: usize,
    ) -> Result<Vec<HealthEvent>, JournalError>;
}

/// Something the health watch decided, recorded whether or not a run followed: a failure or
/// recovery declaration with its evidence, or what the trigger did about it (and why).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthEvent {
    /// Environment name.
    pub environment: String,
    /// `declaration`, `recovery`, `trigger_fail_over`, `trigger_recommend`, `trigger_hold`, `trigger_off`.
    pub kind: String,
    /// One line for people.
    pub summary: String,
    /// The evidence (probes, vantage points, values, thresholds) or the interlocks.
    pub detail: serde_json::Value,
    /// The run it led to, if any.
    pub run_id: Option<String>,
    /// When, ms since the epoch.
    pub at_ms: u64,
}
