//! The status snapshot behind `GET /api/v1/status`: the overview is built by one background task
//! (and by an action's handler right after it changed something) and kept, serialized, in a
//! `tokio::sync::watch`; a request only copies the latest bytes. So however many people watch a
//! failover, a status request never reads the journal, waits for the executor's journal writes
//! or calls AWS.
//!
//! Invariants: the snapshot is rebuilt at least every [`ACTIVE_EVERY`] while a run is active
//! (its steps change), every [`IDLE_EVERY`] otherwise (health, readiness, runs started
//! elsewhere), and at once after an action through the API; it carries the time it was built
//! (`observed_at_ms`); a snapshot older than [`STALE_AFTER`] (builds fail, or the builder is
//! stuck) is not served as current: the request gets 503 with the reason.

use axum::body::Bytes;
use pilotlight_core::plan::Plan;
use pilotlight_core::run::{Event, NodeStatus, RunState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Mutex, Notify};

/// How often the snapshot is rebuilt while a run is active.
pub const ACTIVE_EVERY: Duration = Duration::from_millis(250);
/// How often the snapshot is rebuilt while no run is active.
pub const IDLE_EVERY: Duration = Duration::from_secs(1);
/// A snapshot older than this is not served (builds have failed or not finished since).
pub const STALE_AFTER: Duration = Duration::from_secs(10);

/// One built status document.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The JSON body, serialized once.
    pub body: Bytes,
    /// When it was built (ms since the epoch).
    pub at_ms: u64,
    /// Whether a run was active when it was built (the rebuild cadence follows).
    pub active: bool,
}

/// What the latest build attempt gave.
#[derive(Debug, Clone)]
pub enum Latest {
    /// Nothing built yet.
    Empty,
    /// The latest successful build, and the error of a failed build since, if any.
    Built(Arc<Snapshot>, Option<String>),
    /// No build succeeded yet; the first failure.
    Failed(String),
}

/// Progress of the active run, kept between builds so that each build reads only the events
/// appended since the last one.
#[derive(Default)]
pub struct Progress {
    run_id: Option<String>,
    state: Option<RunState>,
    last_seq: u64,
}

impl Progress {
    /// Follow `run_id` (start over when it is another run than the one followed).
    pub fn follow(&mut self, run_id: &str, plan: &Plan) {
        if self.run_id.as_deref() != Some(run_id) {
            self.run_id = Some(run_id.to_string());
            self.state = Some(RunState::new(plan));
            self.last_seq = 0;
        }
    }

    /// Forget the followed run (none is active).
    pub fn clear(&mut self) {
        *self = Progress::default();
    }

    /// The sequence number of the last event applied.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Apply events read since [`Progress::last_seq`]. An event the state refuses (it cannot
    /// happen in a journal written by the executor) is skipped; its sequence still counts.
    pub fn apply(&mut self, plan: &Plan, seq: u64, event: &Event) {
        if let Some(s) = self.state.as_mut() {
            if let Err(e) = s.apply(plan, event) {
                tracing::warn!(seq, error = %e, "status: an event does not replay; the progress shown may be incomplete");
            }
        }
        self.last_seq = self.last_seq.max(seq);
    }

    /// The progress as JSON: steps done (succeeded, failed or skipped: they will not change),
    /// total, running, awaiting approval and failed, and the journal sequence it reflects.
    pub fn json(&self) -> serde_json::Value {
        let Some(s) = &self.state else {
            return serde_json::Value::Null;
        };
        let ids = |want: &dyn Fn(NodeStatus) -> bool| {
            s.nodes
                .iter()
                .filter(|(_, n)| want(n.status))
                .map(|(k, _)| k.clone())
                .collect::<Vec<_>>()
        };
        serde_json::json!({
            "steps_total": s.nodes.len(),
            "steps_done": s.nodes.values().filter(|n| n.status.is_final()).count(),
            "running": ids(&|st| st == NodeStatus::Running),
            "awaiting_approval": ids(&|st| st == NodeStatus::AwaitingApproval),
            "failed": ids(&|st| st == NodeStatus::Failed),
            "journal_seq": self.last_seq,
        })
    }
}

/// The snapshot, its builder's wake-up and the builder's progress.
#[derive(Clone)]
pub struct StatusFeed {
    tx: Arc<watch::Sender<Latest>>,
    wake: Arc<Notify>,
    started: Arc<AtomicBool>,
    /// Held while building (one build at a time; the progress lives between builds).
    pub building: Arc<Mutex<Progress>>,
}

impl Default for StatusFeed {
    fn default() -> Self {
        StatusFeed {
            tx: Arc::new(watch::channel(Latest::Empty).0),
            wake: Arc::default(),
            started: Arc::default(),
            building: Arc::default(),
        }
    }
}

impl StatusFeed {
    /// The latest build.
    pub fn latest(&self) -> Latest {
        self.tx.borrow().clone()
    }

    /// Subscribe to new builds.
    pub fn subscribe(&self) -> watch::Receiver<Latest> {
        self.tx.subscribe()
    }

    /// Publish a successful build.
    pub fn publish(&self, snap: Snapshot) {
        self.tx.send_replace(Latest::Built(Arc::new(snap), None));
    }

    /// Record a failed build: the previous snapshot stays, with the error beside it.
    pub fn failed(&self, error: String) {
        self.tx.send_modify(|l| {
            *l = match std::mem::replace(l, Latest::Empty) {
                Latest::Built(s, _) => Latest::Built(s, Some(error)),
                Latest::Empty | Latest::Failed(_) => Latest::Failed(error),
            }
        });
    }

    /// Ask the builder for a rebuild now (something changed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Whether this call is the first (the caller starts the builder).
    pub fn claim_start(&self) -> bool {
        !self.started.swap(true, Ordering::SeqCst)
    }

    /// Wait until the next rebuild is due: `every` has passed or [`StatusFeed::wake`] was called.
    pub async fn next(&self, every: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = self.wake.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_build_keeps_the_last_snapshot_beside_the_error() {
        let feed = StatusFeed::default();
        assert!(matches!(feed.latest(), Latest::Empty));
        feed.failed("locked".into());
        assert!(matches!(feed.latest(), Latest::Failed(e) if e == "locked"));
        feed.publish(Snapshot {
            body: "{}".into(),
            at_ms: 7,
            active: true,
        });
        assert!(matches!(feed.latest(), Latest::Built(s, None) if s.at_ms == 7));
        feed.failed("locked again".into());
        assert!(
            matches!(feed.latest(), Latest::Built(s, Some(e)) if s.at_ms == 7 && e == "locked again")
        );
        assert!(feed.claim_start());
        assert!(!feed.claim_start(), "one builder");
    }
}
