//! Health probes: one attempt of one configured probe ([`ProbeConfig`]), run by the control
//! service (`pilotlight serve`) or a remote observer, turned into a [`ProbeResult`] and, with
//! [`sample`], into the core's [`ProbeSample`] for the evaluator.
//!
//! Kinds (see `docs/probes.md`): `http` (status, optional body match), `tcp` (connect),
//! `route53_health_check` (the checkers' reports), `cloudwatch_alarm` (the alarm's state) and
//! `command` (a synthetic check; exit code 0 is up).
//!
//! Invariants:
//! - [`Prober::probe`] never panics and never errors: every failure is an outcome;
//! - **down** means the target answered wrongly or not at all (an HTTP 503, a refused
//!   connection, a timeout, an alarm in `ALARM`, a failing command);
//! - **unknown** means the probe could not tell (the AWS API throttled or unreachable, no such
//!   health check or alarm, an alarm with insufficient data, a command that cannot be started,
//!   a probe missing its target); the evaluator never counts unknown as down;
//! - a probe that reaches its timeout reports a latency of at least the timeout, so the
//!   evaluator's `timeout_counts_as` applies to it;
//! - the AWS probes call AWS only through `pilotlight_aws` (the one retry layer, the permissions
//!   table) and only read.

#![warn(missing_docs)]

mod aws;
mod command;
mod http;
mod tcp;

use pilotlight_aws::health::HealthReads;
use pilotlight_aws::{Caller, ClientFactory};
use pilotlight_core::health::{ProbeId, ProbeOutcome, ProbeSample, VantageId};
use pilotlight_core::model::{ProbeConfig, ProbeKind};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What one probe attempt saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    /// Up, down (with a reason) or unknown.
    pub outcome: ProbeOutcome,
    /// How long the attempt took; at least the timeout when it timed out.
    pub latency: Duration,
    /// One line for people: what was seen (`HTTP 200 OK`), why it is down (the same text as the
    /// down reason), or why the probe could not tell.
    pub detail: String,
}

impl ProbeResult {
    /// Whether the outcome is up.
    pub fn is_up(&self) -> bool {
        self.outcome == ProbeOutcome::Up
    }

    /// Whether the outcome is down.
    pub fn is_down(&self) -> bool {
        matches!(self.outcome, ProbeOutcome::Down { .. })
    }

    /// Whether the outcome is unknown.
    pub fn is_unknown(&self) -> bool {
        self.outcome == ProbeOutcome::Unknown
    }
}

/// What a probe kind found, before the latency is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Up, with what was seen.
    Up(String),
    /// Down, with why.
    Down(String),
    /// Could not tell, with why.
    Unknown(String),
    /// The attempt reached its timeout; the outcome is down or unknown.
    TimedOut(ProbeOutcome, String),
}

/// `timed out after 1.5s`.
pub(crate) fn timed_out(timeout: Duration) -> String {
    format!("timed out after {}", human(timeout))
}

/// A duration for people, rounded to the millisecond (`1.5s`, `250ms`).
pub(crate) fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms >= 1000 && ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms >= 1000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{ms}ms")
    }
}

/// `err` and its sources, joined with `: `, repeated texts left out.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Runs single probe attempts. Cheap to clone; clones share the HTTP client and the AWS caller.
#[derive(Debug, Clone)]
pub struct Prober {
    http: Result<reqwest::Client, String>,
    health: HealthReads,
    primary_region: String,
}

impl Prober {
    /// A prober whose AWS probes read through `clients` and `caller` (share the control service's
    /// caller, so the probes count against the same rate limits), and whose CloudWatch alarms
    /// default to `primary_region`. Makes no network call.
    pub fn new(
        clients: Arc<ClientFactory>,
        caller: Caller,
        primary_region: impl Into<String>,
    ) -> Self {
        Prober {
            http: http::client(),
            health: HealthReads::new(clients, caller),
            primary_region: primary_region.into(),
        }
    }

    /// Signs Route 53 calls for `region` (default `us-east-1`; another partition's global
    /// endpoint).
    pub fn with_route53_region(mut self, region: impl Into<String>) -> Self {
        self.health = self.health.with_route53_region(region);
        self
    }

    /// The region CloudWatch alarms are read in when a probe names none.
    pub fn primary_region(&self) -> &str {
        &self.primary_region
    }

    /// Runs one attempt of `cfg`, bounded by `timeout`. Never panics, never errors.
    pub async fn probe(&self, cfg: &ProbeConfig, timeout: Duration) -> ProbeResult {
        let start = Instant::now();
        let seen = match cfg.kind {
            ProbeKind::Http => http::probe(&self.http, cfg, timeout).await,
            ProbeKind::Tcp => tcp::probe(cfg, timeout).await,
            ProbeKind::Command => command::probe(cfg, timeout).await,
            ProbeKind::Route53HealthCheck => aws::health_check(&self.health, cfg, timeout).await,
            ProbeKind::CloudwatchAlarm => {
                aws::alarm(&self.health, cfg, &self.primary_region, timeout).await
            }
        };
        let elapsed = start.elapsed();
        let (outcome, detail, latency) = match seen {
            Seen::Up(detail) => (ProbeOutcome::Up, detail, elapsed),
            Seen::Down(reason) => (ProbeOutcome::down(reason.clone()), reason, elapsed),
            Seen::Unknown(why) => (ProbeOutcome::Unknown, why, elapsed),
            Seen::TimedOut(outcome, detail) => (outcome, detail, elapsed.max(timeout)),
        };
        tracing::debug!(
            probe = cfg.id.as_str(),
            kind = ?cfg.kind,
            outcome = ?outcome,
            latency_ms = latency.as_millis() as u64,
            detail = detail.as_str(),
            "probe attempt"
        );
        ProbeResult {
            outcome,
            latency,
            detail,
        }
    }
}

/// The evaluator's sample of `result`: probe `probe` run at vantage point `vantage`, known at
/// `at` (on the evaluator's clock), with the attempt's latency.
pub fn sample(
    vantage: impl Into<VantageId>,
    probe: impl Into<ProbeId>,
    result: &ProbeResult,
    at: Duration,
) -> ProbeSample {
    ProbeSample::new(probe, vantage, at, result.outcome.clone()).with_latency(result.latency)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_for_people() {
        assert_eq!(human(Duration::from_secs(2)), "2s");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(timed_out(Duration::from_secs(1)), "timed out after 1s");
    }

    #[test]
    fn samples_carry_outcome_and_latency() {
        let r = ProbeResult {
            outcome: ProbeOutcome::down("HTTP 503"),
            latency: Duration::from_millis(40),
            detail: "HTTP 503".into(),
        };
        let s = sample("eu", "api", &r, Duration::from_secs(90));
        assert_eq!(s.vantage.as_str(), "eu");
        assert_eq!(s.probe.as_str(), "api");
        assert_eq!(s.at, Duration::from_secs(90));
        assert_eq!(s.outcome, ProbeOutcome::down("HTTP 503"));
        assert_eq!(s.latency, Some(Duration::from_millis(40)));
        assert!(r.is_down() && !r.is_up() && !r.is_unknown());
    }

    #[test]
    fn error_chains_skip_repeats() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let outer = std::io::Error::other(inner);
        assert_eq!(error_chain(&outer), "refused");
    }
}
