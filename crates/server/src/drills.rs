//! Drills started through the API (`POST /api/v1/runs` with `"runbook": "drill"`), conducted
//! by `pilotlight_drill::conduct` inside the control service: a full drill's failover and
//! failback are runs of this service's executor (journaled, shown on the run page, gated by the
//! two-person rule like any other run); an isolated drill's copies are made through the
//! [`DrillRunner`]'s adapters. The report is stored in the drill store when the drill ends.
//!
//! Invariants: at most one drill at a time per service; the drill's state (running, its last
//! progress line, how it ended) is readable at `GET /api/v1/drills` while and after it runs; a
//! drill that could not run says why there, and changed nothing.

use pilotlight_core::journal::Journal;
use pilotlight_drill::build::RunRecords;
use pilotlight_drill::canary::{CanaryPlan, CanaryStore};
use pilotlight_drill::conduct::{DrillRuns, IsolatedTimings};
use pilotlight_drill::isolated::DrillCopies;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the service needs to conduct drills itself.
#[derive(Clone)]
pub struct DrillRunner {
    /// The stores canaries are written to (`pilotlight_aws::canary::stores`).
    pub canaries: Vec<Arc<dyn CanaryStore>>,
    /// The isolated drill's copies (`pilotlight_aws::copies::AwsCopies`).
    pub copies: Arc<dyn DrillCopies>,
    /// Canaries per store and their spacing.
    pub canary_plan: CanaryPlan,
    /// The isolated drill's waits.
    pub isolated: IsolatedTimings,
}

/// The drill this service runs or ran last.
#[derive(Debug, Clone, Serialize)]
pub struct DrillState {
    /// Drill id.
    pub id: String,
    /// `full` or `isolated`.
    pub mode: String,
    /// Who started it.
    pub requested_by: String,
    /// Why.
    pub reason: String,
    /// Start, ms since the epoch.
    pub started_at_ms: u64,
    /// `running`, `finished` (its report is stored) or `not_run` (see `error`).
    pub status: String,
    /// The last progress line.
    pub progress: String,
    /// Why it could not run or its report could not be stored.
    pub error: Option<String>,
    /// Whether it passed (when finished).
    pub passed: Option<bool>,
}

/// The drill state shared by the API's handlers and the drill's task.
#[derive(Clone, Default)]
pub(crate) struct Drills {
    pub(crate) runner: Option<Arc<DrillRunner>>,
    pub(crate) current: Arc<Mutex<Option<DrillState>>>,
    /// Turns the running isolated drill to its cleanup (the service is stopping).
    pub(crate) cancel: Arc<Mutex<Option<tokio::sync::watch::Sender<bool>>>>,
}

impl Drills {
    /// The running drill, if one runs.
    pub(crate) fn running(&self) -> Option<DrillState> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|d| d.status == "running")
    }

    /// The current or last drill.
    pub(crate) fn current(&self) -> Option<DrillState> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stop the running drill's waiting and let it clean up (an isolated drill removes its
    /// copies); wait up to `within` for it to end. Whether no drill runs any more.
    pub(crate) async fn stop(&self, within: Duration) -> bool {
        if let Some(tx) = self
            .cancel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            let _ = tx.send(true);
        }
        let deadline = tokio::time::Instant::now() + within;
        while self.running().is_some() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        true
    }

    /// Change the current drill's state.
    pub(crate) fn update(&self, f: impl FnOnce(&mut DrillState)) {
        if let Some(d) = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            f(d);
        }
    }
}

/// Starts a run the way `POST /api/v1/runs` does, for one runbook of a drill.
pub(crate) type StartRun = Arc<
    dyn Fn(String, String, String) -> futures::future::BoxFuture<'static, Result<String, String>>
        + Send
        + Sync,
>;

/// A full drill's runs, started through the service's executor and awaited in its journal.
pub(crate) struct ServiceRuns {
    /// Starts `(runbook, key, reason)` and returns the run id.
    pub(crate) start: StartRun,
    /// The journal the runs are in.
    pub(crate) journal: Arc<dyn Journal>,
    /// How often the journal is read while a run goes on.
    pub(crate) poll: Duration,
}

#[async_trait::async_trait]
impl DrillRuns for ServiceRuns {
    async fn run(&self, runbook: &str, key: &str, reason: &str) -> Result<RunRecords, String> {
        let id = (self.start)(runbook.to_string(), key.to_string(), reason.to_string()).await?;
        let run = loop {
            match self.journal.run(&id).await {
                Ok(r) if r.status.is_final() => break r,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(run_id = %id, error = %e, "reading a drill's run; will read again")
                }
            }
            tokio::time::sleep(self.poll).await;
        };
        let events = self.journal.events(&id).await.map_err(|e| e.to_string())?;
        let decisions = self
            .journal
            .decisions(&id)
            .await
            .map_err(|e| e.to_string())?;
        Ok(RunRecords {
            run,
            events,
            decisions,
        })
    }
}
