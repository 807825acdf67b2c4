//! Pilotlight's control service (`pilotlight serve`): health watching from several vantage
//! points (probes run here and in remote observers), the automatic trigger with its interlocks,
//! DR readiness re-evaluated on a schedule, and the executor that runs what the trigger starts —
//! one process, one shared state, behind an HTTP API. Also the observer's client side
//! (`pilotlight observer`).
//!
//! The decisions are the core's pure functions (`pilotlight_core::health`); this crate feeds them
//! samples and time, and carries out what they decide: record, notify, start a run.

pub mod access;
pub mod api;
pub mod auth;
pub mod console;
pub mod control;
pub mod drills;
pub mod forward;
pub mod leader;
pub mod observer;
pub mod report;
pub mod status;
pub mod v1;
pub mod views;

pub use control::{Acting, Control, ControlDeps, ControlSettings, TRIGGER_ACTOR};

use pilotlight_core::health::ProbeOutcome;
use pilotlight_core::model::ProbeConfig;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What one probe attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    /// Up, down (with the reason) or unknown.
    pub outcome: ProbeOutcome,
    /// How long the attempt took.
    pub latency: Duration,
    /// What was seen, for people.
    pub detail: String,
}

/// Runs one probe attempt. Implementations never fail: what they cannot tell is `Unknown`.
#[async_trait::async_trait]
pub trait ProbeRunner: Send + Sync {
    /// One attempt of `probe`, bounded by `timeout`.
    async fn probe(&self, probe: &ProbeConfig, timeout: Duration) -> ProbeResult;
}

/// Errors of the control service and the observer.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The health settings are invalid.
    #[error("invalid [health] settings: {0}; fix the environment config")]
    Settings(String),
    /// The runbook does not fit the environment.
    #[error("{0}")]
    Plan(String),
    /// The journal failed.
    #[error("journal: {0}")]
    Journal(#[from] pilotlight_core::journal::JournalError),
    /// Listening or serving failed.
    #[error("cannot serve on {addr}: {detail}; pick a free address with --listen")]
    Listen {
        /// The address.
        addr: String,
        /// What went wrong.
        detail: String,
    },
    /// The control service could not be reached or refused a report.
    #[error("control service at {url}: {detail}")]
    Control {
        /// Its URL.
        url: String,
        /// What went wrong.
        detail: String,
        /// Whether trying again may help (network, 5xx) rather than not (401, 400).
        retryable: bool,
    },
}

impl ServeError {
    /// Whether trying again later may help.
    pub fn is_retryable(&self) -> bool {
        match self {
            ServeError::Journal(e) => e.is_retryable(),
            ServeError::Control { retryable, .. } => *retryable,
            ServeError::Listen { .. } => true,
            ServeError::Settings(_) | ServeError::Plan(_) => false,
        }
    }
}

/// Now, as a duration since the Unix epoch (the time axis of samples and decisions).
pub fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Milliseconds since the epoch of a time on that axis.
pub fn ms(t: Duration) -> u64 {
    u64::try_from(t.as_millis()).unwrap_or(u64::MAX)
}
