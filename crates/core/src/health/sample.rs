//! What probes report: one [`ProbeSample`] per attempt, from one vantage point.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Identifies a configured probe (e.g. `api-https`, `media-tcp`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProbeId(pub String);

/// Identifies a vantage point: `local` (the control service) or a remote observer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VantageId(pub String);

macro_rules! id_impls {
    ($t:ident) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<&str> for $t {
            fn from(s: &str) -> Self {
                $t(s.to_string())
            }
        }
        impl From<String> for $t {
            fn from(s: String) -> Self {
                $t(s)
            }
        }
        impl $t {
            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}
id_impls!(ProbeId);
id_impls!(VantageId);

/// What one probe attempt saw. As data: `{"status": "up"}`, `{"status": "down", "reason": "..."}`,
/// `{"status": "unknown"}`; a reason is required for down and refused otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawOutcome", into = "RawOutcome")]
pub enum ProbeOutcome {
    /// The primary answered as expected.
    Up,
    /// The primary did not answer as expected.
    Down {
        /// Why, in one line (`HTTP 503`, `connection refused`, `alarm in ALARM`).
        reason: String,
    },
    /// The probe could not tell (the prober itself failed, an API was unreachable, an alarm has
    /// insufficient data). Never counts as down.
    Unknown,
}

/// The serialized form of [`ProbeOutcome`], checked strictly (serde's internally tagged enums
/// let unknown fields through on unit variants).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutcome {
    status: RawStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawStatus {
    Up,
    Down,
    Unknown,
}

impl TryFrom<RawOutcome> for ProbeOutcome {
    type Error = String;
    fn try_from(r: RawOutcome) -> Result<Self, String> {
        match (r.status, r.reason) {
            (RawStatus::Up, None) => Ok(ProbeOutcome::Up),
            (RawStatus::Unknown, None) => Ok(ProbeOutcome::Unknown),
            (RawStatus::Down, Some(reason)) => Ok(ProbeOutcome::Down { reason }),
            (RawStatus::Down, None) => Err("a down outcome needs a `reason`".into()),
            (_, Some(_)) => Err("only a down outcome has a `reason`".into()),
        }
    }
}

impl From<ProbeOutcome> for RawOutcome {
    fn from(o: ProbeOutcome) -> Self {
        let (status, reason) = match o {
            ProbeOutcome::Up => (RawStatus::Up, None),
            ProbeOutcome::Down { reason } => (RawStatus::Down, Some(reason)),
            ProbeOutcome::Unknown => (RawStatus::Unknown, None),
        };
        RawOutcome { status, reason }
    }
}

/// One probe attempt's result, as a vantage point reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSample {
    /// Which probe.
    pub probe: ProbeId,
    /// Which vantage point ran it.
    pub vantage: VantageId,
    /// When the outcome was known (the attempt finished or gave up), as time since an epoch of
    /// the caller's choosing, on the same clock as the `now` given to the evaluator. The caller
    /// maps a remote observer's report onto that clock (e.g. arrival time minus reported age);
    /// a sample dated after `now` counts as taken at `now`.
    #[serde(with = "humantime_serde")]
    pub at: Duration,
    /// What the attempt saw.
    pub outcome: ProbeOutcome,
    /// How long the attempt took; at or above the probe's timeout it counts as a timeout.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub latency: Option<Duration>,
}

impl ProbeSample {
    /// A sample with no latency recorded.
    pub fn new(
        probe: impl Into<ProbeId>,
        vantage: impl Into<VantageId>,
        at: Duration,
        outcome: ProbeOutcome,
    ) -> Self {
        ProbeSample {
            probe: probe.into(),
            vantage: vantage.into(),
            at,
            outcome,
            latency: None,
        }
    }

    /// The same sample with a latency.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = Some(latency);
        self
    }
}

impl ProbeOutcome {
    /// A down outcome with a reason.
    pub fn down(reason: impl Into<String>) -> Self {
        ProbeOutcome::Down {
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_as_json() {
        let s = ProbeSample::new(
            "api",
            "eu",
            Duration::from_secs(90),
            ProbeOutcome::down("HTTP 503"),
        )
        .with_latency(Duration::from_millis(120));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "probe": "api", "vantage": "eu", "at": "1m 30s",
                "outcome": {"status": "down", "reason": "HTTP 503"}, "latency": "120ms"
            })
        );
        let back: ProbeSample = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
        let up: ProbeSample = serde_json::from_str(
            r#"{"probe":"api","vantage":"eu","at":"5s","outcome":{"status":"up"}}"#,
        )
        .unwrap();
        assert_eq!((up.outcome, up.latency), (ProbeOutcome::Up, None));
        for bad in [
            r#"{"probe":"api","vantage":"eu","at":"5s","outcome":{"status":"up"},"extra":1}"#,
            r#"{"probe":"api","vantage":"eu","at":"5s","outcome":{"status":"up","reason":"x"}}"#,
            r#"{"probe":"api","vantage":"eu","at":"5s","outcome":{"status":"sideways"}}"#,
            r#"{"probe":"api","vantage":"eu","at":"5s","outcome":{"status":"down"}}"#,
            r#"{"probe":"api","vantage":"eu","at":"5s","outcome":{"status":"down","reason":"x","code":1}}"#,
        ] {
            assert!(serde_json::from_str::<ProbeSample>(bad).is_err(), "{bad}");
        }
    }
}
