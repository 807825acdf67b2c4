//! Wall-clock time for journal timestamps. Durations and timeouts use tokio's monotonic clock,
//! so tests and benchmarks can run on virtual time (`tokio::time::pause`).

/// Supplies timestamps (ms since the Unix epoch) for journal records.
pub trait Clock: Send + Sync {
    /// Now, in ms since the epoch.
    fn now_ms(&self) -> u64;
}

/// Wall-clock time anchored once, then advanced by tokio's monotonic clock: timestamps never
/// go backwards, and advance with virtual time in tests.
#[derive(Debug, Clone)]
pub struct SystemClock {
    anchor_ms: u64,
    start: tokio::time::Instant,
}

impl SystemClock {
    /// Anchor to the system time now.
    pub fn new() -> Self {
        let anchor_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        SystemClock {
            anchor_ms,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        self.anchor_ms + self.start.elapsed().as_millis() as u64
    }
}
