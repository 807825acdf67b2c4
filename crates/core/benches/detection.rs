//! Benchmark: how long after a real outage starts the health evaluator declares it, over the
//! seeded outage scenarios of `tests/health_scenarios.rs` (the same generator, included below),
//! for the `standard` and `fast` presets (and `fast` with a failure-ratio rule). Time is simulated:
//! the figures are seconds of scenario time from the outage's start to the declaration, and the
//! same in probe intervals.
//!
//! Each scenario: 3 (25%: 5) vantage points with a majority quorum, 1 to 3 probes each with their
//! own phase, up to 300 ms of start jitter, 20 to 400 ms latency (timeouts at the probe's timeout),
//! report delays of up to 1.5 s from remote observers; in some scenarios a vantage point is
//! missing, late or isolated; noise below the thresholds before the outage; the outage starts at a
//! random time.
//!
//! Run: `cargo bench -p pilotlight-core --bench detection` (add `-- --json` for JSON;
//! `PILOTLIGHT_BENCH_SCENARIOS=N` for another number of scenarios per preset, default 10,000).

#[path = "../tests/health_scenarios.rs"]
#[allow(dead_code, unused_imports)]
mod scenarios;

use scenarios::{outage_detection_latency, Variant};
use std::time::{Duration, Instant};

struct Row {
    name: &'static str,
    interval: Duration,
    threshold: u32,
    scenarios: u64,
    missed: u64,
    sorted: Vec<Duration>,
    real: Duration,
}

impl Row {
    /// Nearest-rank percentile.
    fn pct(&self, p: f64) -> Duration {
        let n = self.sorted.len();
        let rank = ((p / 100.0) * n as f64).ceil().max(1.0) as usize;
        self.sorted[rank.min(n) - 1]
    }
    fn within(&self, intervals: u32) -> usize {
        let bound = self.interval * intervals;
        self.sorted.iter().filter(|d| **d <= bound).count()
    }
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let n: u64 = std::env::var("PILOTLIGHT_BENCH_SCENARIOS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let variants = [
        ("standard", Variant::Standard),
        ("fast", Variant::Fast),
        ("fast + ratio", Variant::FastWithRatio),
    ];
    let mut rows = Vec::new();
    for (name, variant) in variants {
        let started = Instant::now();
        let mut sorted = Vec::with_capacity(n as usize);
        let mut missed = 0;
        for seed in 0..n {
            match outage_detection_latency(seed, variant) {
                Some(d) => sorted.push(d),
                None => missed += 1,
            }
        }
        sorted.sort();
        let s = variant.preset().probe_settings();
        rows.push(Row {
            name,
            interval: s.interval,
            threshold: s.failure_threshold,
            scenarios: n,
            missed,
            sorted,
            real: started.elapsed(),
        });
    }
    let pcts = [0.0, 50.0, 90.0, 99.0, 100.0];
    if json {
        let out: Vec<_> = rows
            .iter()
            .map(|r| {
                let secs: Vec<f64> = pcts.iter().map(|p| r.pct(*p).as_secs_f64()).collect();
                serde_json::json!({
                    "settings": r.name,
                    "interval_s": r.interval.as_secs_f64(),
                    "failure_threshold": r.threshold,
                    "scenarios": r.scenarios,
                    "not_declared": r.missed,
                    "min_s": secs[0], "p50_s": secs[1], "p90_s": secs[2], "p99_s": secs[3], "max_s": secs[4],
                    "within_3_intervals": r.within(3),
                    "within_threshold_plus_1_intervals": r.within(r.threshold + 1),
                    "real_time_s": r.real.as_secs_f64(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out).unwrap());
        return;
    }
    println!(
        "| settings | interval | scenarios | not declared | min | p50 | p90 | p99 | max | within 3 intervals | within threshold + 1 | real time |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let cell = |p: f64| {
            let d = r.pct(p);
            format!(
                "{:.1} s ({:.2})",
                d.as_secs_f64(),
                d.as_secs_f64() / r.interval.as_secs_f64()
            )
        };
        let share = |k: usize| format!("{:.2}%", 100.0 * k as f64 / r.sorted.len() as f64);
        println!(
            "| {} | {} s | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} s |",
            r.name,
            r.interval.as_secs(),
            r.scenarios,
            r.missed,
            cell(0.0),
            cell(50.0),
            cell(90.0),
            cell(99.0),
            cell(100.0),
            share(r.within(3)),
            share(r.within(r.threshold + 1)),
            r.real.as_secs_f64()
        );
    }
    println!("(latency in seconds of simulated time from the outage's start, in probe intervals in parentheses)");
}
