//! RPO measured, not estimated: before the failure point a drill writes a series of timestamped
//! canary records into each data store in the primary; after the failover it looks for each in
//! DR. The newest canary that arrived and the oldest that did not bound the data-loss window.

use crate::model::{Bound, CanaryResult, StoreRpo};
use pilotlight_core::error::CapabilityError;
use std::sync::Arc;
use std::time::Duration;

/// A data store that can hold a canary: written in the primary, looked up in DR. Adapters:
/// `pilotlight_aws::canary` (DynamoDB global table item, S3 object in the replicated bucket pair).
#[async_trait::async_trait]
pub trait CanaryStore: Send + Sync {
    /// Store kind (`dynamodb`, `s3`).
    fn kind(&self) -> &str;
    /// Logical name from the environment config.
    fn name(&self) -> &str;
    /// Write canary `key` stamped `written_at_ms` in the primary region.
    async fn write(&self, key: &str, written_at_ms: u64) -> Result<(), CapabilityError>;
    /// Whether canary `key` is present in the DR region.
    async fn arrived(&self, key: &str) -> Result<bool, CapabilityError>;
}

/// How many canaries per store, and how far apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanaryPlan {
    /// Canaries per store (at least 1).
    pub count: u32,
    /// Time between two canaries of a store.
    pub interval: Duration,
}

impl Default for CanaryPlan {
    fn default() -> Self {
        CanaryPlan {
            count: 3,
            interval: Duration::from_millis(500),
        }
    }
}

/// The canaries written into one store (or why they could not be).
#[derive(Debug, Clone)]
pub struct Written {
    /// The store.
    pub store: Arc<dyn CanaryStore>,
    /// `(key, written_at_ms)` of every canary written, oldest first.
    pub canaries: Vec<(String, u64)>,
    /// The first write error, if any (the series stops there for that store).
    pub error: Option<String>,
}

impl std::fmt::Debug for dyn CanaryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind(), self.name())
    }
}

/// The key of canary `n` of drill `drill_id`.
pub fn canary_key(drill_id: &str, n: u32) -> String {
    format!("pilotlight-drill/{drill_id}/canary-{n:03}")
}

/// Write `plan.count` canaries into every store, `plan.interval` apart; `now_ms` stamps each.
pub async fn write_series(
    stores: &[Arc<dyn CanaryStore>],
    drill_id: &str,
    plan: CanaryPlan,
    now_ms: impl Fn() -> u64,
) -> Vec<Written> {
    let mut out: Vec<Written> = stores
        .iter()
        .map(|s| Written {
            store: s.clone(),
            canaries: Vec::new(),
            error: None,
        })
        .collect();
    for n in 0..plan.count.max(1) {
        if n > 0 {
            tokio::time::sleep(plan.interval).await;
        }
        for w in out.iter_mut().filter(|w| w.error.is_none()) {
            let key = canary_key(drill_id, n);
            let at = now_ms();
            match w.store.write(&key, at).await {
                Ok(()) => w.canaries.push((key, at)),
                Err(e) => {
                    tracing::warn!(store = w.store.name(), kind = w.store.kind(), error = %e.message, "canary write failed");
                    w.error = Some(format!("{}: {}", e.message, e.hint));
                }
            }
        }
    }
    out
}

/// Look for every written canary in DR and compute each store's data-loss window at
/// `failure_at_ms`.
pub async fn read_back(written: &[Written], failure_at_ms: u64) -> Vec<StoreRpo> {
    let mut out = Vec::new();
    for w in written {
        let mut results = Vec::new();
        let mut error = w.error.clone();
        for (key, at) in &w.canaries {
            match w.store.arrived(key).await {
                Ok(arrived) => results.push(CanaryResult {
                    key: key.clone(),
                    written_at_ms: *at,
                    arrived,
                }),
                Err(e) => {
                    error.get_or_insert_with(|| {
                        format!("cannot read canaries in DR: {}: {}", e.message, e.hint)
                    });
                    break;
                }
            }
        }
        out.push(match error {
            Some(why) => StoreRpo {
                kind: w.store.kind().to_string(),
                name: w.store.name().to_string(),
                measured: true,
                canaries: results,
                loss_window_ms: None,
                bound: None,
                note: why,
            },
            None => store_rpo(w.store.kind(), w.store.name(), results, failure_at_ms),
        });
    }
    out
}

/// The data-loss window of one store from its canaries (pure). Replication reached some point
/// between the newest canary that arrived and the oldest that did not:
/// - all arrived: the loss is **at most** the newest canary's age at the failure point;
/// - some arrived: **between** the oldest missing and the newest arrived canary's ages; the
///   report gives the larger (conservative) value;
/// - none arrived: **at least** the oldest canary's age.
pub fn store_rpo(
    kind: &str,
    name: &str,
    mut canaries: Vec<CanaryResult>,
    failure_at_ms: u64,
) -> StoreRpo {
    canaries.sort_by_key(|c| c.written_at_ms);
    let age = |c: &CanaryResult| failure_at_ms.saturating_sub(c.written_at_ms);
    let newest_arrived = canaries.iter().rev().find(|c| c.arrived);
    let oldest_missing = canaries.iter().find(|c| !c.arrived);
    let secs = |ms: u64| format!("{:.1}s", ms as f64 / 1000.0);
    let (window, bound, note) = match (newest_arrived, oldest_missing) {
        (_, _) if canaries.is_empty() => (None, None, "no canary was written".to_string()),
        (Some(a), None) => (
            Some(age(a)),
            Some(Bound::AtMost),
            format!(
                "all {} canaries arrived in DR; loss at most {} (the newest canary's age at the failure point)",
                canaries.len(),
                secs(age(a))
            ),
        ),
        (Some(a), Some(m)) => (
            Some(age(a)),
            Some(Bound::Between),
            format!(
                "{} of {} canaries arrived in DR; the loss is between {} and {} (the oldest missing and the newest arrived canary's ages at the failure point)",
                canaries.iter().filter(|c| c.arrived).count(),
                canaries.len(),
                secs(age(m)),
                secs(age(a))
            ),
        ),
        (None, Some(m)) => (
            Some(age(m)),
            Some(Bound::AtLeast),
            format!(
                "none of {} canaries arrived in DR; loss at least {} (the oldest canary's age at the failure point)",
                canaries.len(),
                secs(age(m))
            ),
        ),
        (None, None) => (None, None, "no canary was written".to_string()),
    };
    StoreRpo {
        kind: kind.to_string(),
        name: name.to_string(),
        measured: true,
        canaries,
        loss_window_ms: window,
        bound,
        note,
    }
}

/// A store whose canaries cannot be written or read by Pilotlight, with the reason (e.g. an RDS
/// database: a canary needs a SQL connection, and the emulator has no SQL engine).
pub fn not_measurable(kind: &str, name: &str, why: &str) -> StoreRpo {
    StoreRpo {
        kind: kind.to_string(),
        name: name.to_string(),
        measured: false,
        canaries: Vec::new(),
        loss_window_ms: None,
        bound: None,
        note: why.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pilotlight_core::error::ErrorClass;
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    fn c(at: u64, arrived: bool) -> CanaryResult {
        CanaryResult {
            key: format!("k{at}"),
            written_at_ms: at,
            arrived,
        }
    }

    #[test]
    fn all_arrived_is_at_most_the_newest_age() {
        let r = store_rpo("s3", "b", vec![c(1000, true), c(1500, true)], 2000);
        assert_eq!(
            (r.loss_window_ms, r.bound),
            (Some(500), Some(Bound::AtMost))
        );
    }

    #[test]
    fn some_arrived_is_between_and_conservative() {
        let r = store_rpo(
            "dynamodb",
            "t",
            vec![c(1000, true), c(1500, false), c(1200, true)],
            2000,
        );
        assert_eq!(
            (r.loss_window_ms, r.bound),
            (Some(800), Some(Bound::Between))
        );
        assert!(r.note.contains("2 of 3"), "{}", r.note);
        assert_eq!(r.canaries[0].written_at_ms, 1000, "sorted oldest first");
    }

    #[test]
    fn none_arrived_is_at_least_the_oldest_age() {
        let r = store_rpo("s3", "b", vec![c(1000, false), c(1500, false)], 4000);
        assert_eq!(
            (r.loss_window_ms, r.bound),
            (Some(3000), Some(Bound::AtLeast))
        );
        let empty = store_rpo("s3", "b", vec![], 4000);
        assert_eq!(empty.loss_window_ms, None);
    }

    /// An in-memory store: writes land in the primary; `replicate` moves the ones given to DR.
    struct Mem {
        primary: Mutex<Vec<String>>,
        dr: Mutex<BTreeSet<String>>,
        fail_write_after: Option<usize>,
    }

    #[async_trait::async_trait]
    impl CanaryStore for Mem {
        fn kind(&self) -> &str {
            "dynamodb"
        }
        fn name(&self) -> &str {
            "mem"
        }
        async fn write(&self, key: &str, _at: u64) -> Result<(), CapabilityError> {
            let mut p = self.primary.lock().unwrap();
            if self.fail_write_after.is_some_and(|n| p.len() >= n) {
                return Err(CapabilityError {
                    class: ErrorClass::Unreachable,
                    service: "dynamodb".into(),
                    region: "us-east-1".into(),
                    operation: "PutItem".into(),
                    code: None,
                    message: "region down".into(),
                    hint: "wait".into(),
                });
            }
            p.push(key.to_string());
            Ok(())
        }
        async fn arrived(&self, key: &str) -> Result<bool, CapabilityError> {
            Ok(self.dr.lock().unwrap().contains(key))
        }
    }

    #[tokio::test]
    async fn series_then_read_back_reports_which_arrived() {
        let mem = Arc::new(Mem {
            primary: Mutex::new(vec![]),
            dr: Mutex::new(BTreeSet::new()),
            fail_write_after: None,
        });
        let clock = std::sync::atomic::AtomicU64::new(10_000);
        let now = || clock.fetch_add(100, std::sync::atomic::Ordering::SeqCst);
        let stores: Vec<Arc<dyn CanaryStore>> = vec![mem.clone()];
        let plan = CanaryPlan {
            count: 3,
            interval: Duration::from_millis(1),
        };
        let written = write_series(&stores, "d1", plan, now).await;
        assert_eq!(written[0].canaries.len(), 3);
        // Replication delivered the first two only.
        let first_two: Vec<String> = mem.primary.lock().unwrap()[..2].to_vec();
        mem.dr.lock().unwrap().extend(first_two);
        let rpo = read_back(&written, 10_500).await;
        assert_eq!(
            rpo[0]
                .canaries
                .iter()
                .map(|c| c.arrived)
                .collect::<Vec<_>>(),
            [true, true, false]
        );
        // Newest arrived at 10_100: 400 ms before the failure point.
        assert_eq!(rpo[0].loss_window_ms, Some(400));
        assert_eq!(rpo[0].bound, Some(Bound::Between));
    }

    #[tokio::test]
    async fn a_failed_write_leaves_the_store_unmeasured_with_the_reason() {
        let mem = Arc::new(Mem {
            primary: Mutex::new(vec![]),
            dr: Mutex::new(BTreeSet::new()),
            fail_write_after: Some(1),
        });
        let stores: Vec<Arc<dyn CanaryStore>> = vec![mem];
        let plan = CanaryPlan {
            count: 3,
            interval: Duration::from_millis(1),
        };
        let written = write_series(&stores, "d1", plan, || 5).await;
        assert_eq!(written[0].canaries.len(), 1);
        let rpo = read_back(&written, 10).await;
        assert_eq!(rpo[0].loss_window_ms, None);
        assert!(rpo[0].note.contains("region down"), "{}", rpo[0].note);
    }
}
