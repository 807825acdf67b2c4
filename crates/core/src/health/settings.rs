//! Health-watching settings: the probes with their thresholds, the vantage points that run them,
//! the quorum, staleness, two presets (`standard` and `fast`), and their validation.

use super::sample::{ProbeId, VantageId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;

/// A named set of defaults for every probe setting not given explicitly.
///
/// | setting | `standard` (default) | `fast` |
/// | --- | --- | --- |
/// | `interval` | 30 s | 10 s |
/// | `timeout` | 5 s | 4 s |
/// | `failure_threshold` | 3 consecutive failures | 3 consecutive failures |
/// | `failure_ratio` | off | off |
/// | `recovery_threshold` | 3 consecutive successes | 3 consecutive successes |
/// | `timeout_counts_as` | `down` | `down` |
///
/// They mirror Route 53's standard (30 s) and fast (10 s) health checks with the usual threshold
/// of 3: a probe can call the primary down about 3 intervals after an outage starts (90 s and 30 s).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// 30 s interval, 5 s timeout, 3 failures down, 3 successes up.
    #[default]
    Standard,
    /// 10 s interval, 4 s timeout, 3 failures down, 3 successes up.
    Fast,
}

impl Preset {
    /// The fully resolved probe settings of this preset (no staleness override).
    pub fn probe_settings(self) -> ProbeSettings {
        let (interval, timeout) = match self {
            Preset::Standard => (Duration::from_secs(30), Duration::from_secs(5)),
            Preset::Fast => (Duration::from_secs(10), Duration::from_secs(4)),
        };
        ProbeSettings {
            interval,
            timeout,
            failure_threshold: 3,
            failure_ratio: None,
            recovery_threshold: 3,
            timeout_counts_as: TimeoutCountsAs::Down,
            stale_after: default_stale_after(interval, timeout),
        }
    }

    /// Lower-case label.
    pub fn label(self) -> &'static str {
        match self {
            Preset::Standard => "standard",
            Preset::Fast => "fast",
        }
    }
}

/// The default staleness of a probe: two intervals plus the timeout, so one lost or late report is
/// tolerated and a second one makes the probe unknown.
pub fn default_stale_after(interval: Duration, timeout: Duration) -> Duration {
    interval * 2 + timeout
}

/// What a probe attempt that reached its timeout counts as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutCountsAs {
    /// A failure (default): a primary that black-holes traffic shows up only as timeouts.
    #[default]
    Down,
    /// Unknown: a slow probe never counts toward a declaration, but neither does an outage that
    /// shows up only as timeouts.
    Unknown,
}

/// The failure-ratio rule: a probe is down when at least `ratio` of its known samples within the
/// last `window` failed, once the window holds at least `min_samples` known samples. It catches
/// brownouts that the consecutive rule misses because a success slips in now and then.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureRatio {
    /// Fraction of failed samples, in `(0, 1]`, at or above which the probe is down.
    pub ratio: f64,
    /// How far back samples count.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Fewest known samples in the window before the rule may fire (default 5).
    #[serde(default = "default_min_samples")]
    pub min_samples: u32,
}

fn default_min_samples() -> u32 {
    5
}

/// One probe as configured. Every setting left out comes from the environment's [`Preset`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    /// Unique probe id; samples name it.
    pub id: ProbeId,
    /// Time between two attempts.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub interval: Option<Duration>,
    /// An attempt that takes this long (or longer) has timed out.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    /// Consecutive failures that make the probe down; `0` turns the rule off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
    /// The failure-ratio rule, off unless given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_ratio: Option<FailureRatio>,
    /// Consecutive successes that make the probe up again (hysteresis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_threshold: Option<u32>,
    /// What an attempt that reached `timeout` counts as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_counts_as: Option<TimeoutCountsAs>,
}

impl ProbeSpec {
    /// A probe that takes every setting from the preset.
    pub fn new(id: impl Into<ProbeId>) -> Self {
        ProbeSpec {
            id: id.into(),
            interval: None,
            timeout: None,
            failure_threshold: None,
            failure_ratio: None,
            recovery_threshold: None,
            timeout_counts_as: None,
        }
    }

    /// The probe's settings: its own values over the preset's, staleness from the environment.
    pub fn resolve(&self, preset: Preset, stale_after: Option<Duration>) -> ProbeSettings {
        let base = preset.probe_settings();
        let interval = self.interval.unwrap_or(base.interval);
        let timeout = self.timeout.unwrap_or(base.timeout);
        ProbeSettings {
            interval,
            timeout,
            failure_threshold: self.failure_threshold.unwrap_or(base.failure_threshold),
            failure_ratio: self.failure_ratio.or(base.failure_ratio),
            recovery_threshold: self.recovery_threshold.unwrap_or(base.recovery_threshold),
            timeout_counts_as: self.timeout_counts_as.unwrap_or(base.timeout_counts_as),
            stale_after: stale_after.unwrap_or_else(|| default_stale_after(interval, timeout)),
        }
    }
}

/// A probe's resolved settings, as the evaluator applies them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSettings {
    /// Time between two attempts.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// An attempt that takes this long (or longer) has timed out.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Consecutive failures that make the probe down; `0`: rule off.
    pub failure_threshold: u32,
    /// The failure-ratio rule, if on.
    pub failure_ratio: Option<FailureRatio>,
    /// Consecutive successes that make the probe up again.
    pub recovery_threshold: u32,
    /// What an attempt that reached `timeout` counts as.
    pub timeout_counts_as: TimeoutCountsAs,
    /// A probe whose latest sample is older than this is unknown.
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
}

/// A place probes run from: the control service itself, or a remote observer in another region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VantagePoint {
    /// Unique vantage point id (e.g. `local`, `observer-eu-west-1`); samples name it.
    pub id: VantageId,
    /// The probes this vantage point runs; empty: every configured probe.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeId>,
}

impl VantagePoint {
    /// A vantage point that runs every probe.
    pub fn new(id: impl Into<VantageId>) -> Self {
        VantagePoint {
            id: id.into(),
            probes: Vec::new(),
        }
    }
}

/// When a vantage point says "primary down", given the verdicts of its own probes.
/// Unknown probes are never counted as down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VantageRule {
    /// Every probe of the vantage point is down (default): one failing probe alone, or one that
    /// cannot report, never makes a vantage point say down.
    #[default]
    All,
    /// Any one of its probes is down.
    Any,
    /// At least this many of its probes are down.
    AtLeast(u32),
}

impl VantageRule {
    /// How many down probes a vantage point with `probes` probes needs.
    pub fn needed(self, probes: usize) -> usize {
        match self {
            VantageRule::All => probes,
            VantageRule::Any => 1,
            VantageRule::AtLeast(n) => n as usize,
        }
    }
}

/// Health watching for one environment: probes, vantage points, quorum and staleness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSettings {
    /// Defaults for every probe setting not given (default `standard`).
    #[serde(default)]
    pub preset: Preset,
    /// The probes.
    pub probes: Vec<ProbeSpec>,
    /// The vantage points (M).
    pub vantage_points: Vec<VantagePoint>,
    /// Vantage points (N of M) that must say "down" to declare a failure, and "up" to declare
    /// the recovery. Default: a strict majority of M.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<u32>,
    /// When a vantage point says down (default: all of its probes are down).
    #[serde(default)]
    pub vantage_rule: VantageRule,
    /// A probe whose latest sample is older than this is unknown. Default: per probe, two
    /// intervals plus the timeout.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub stale_after: Option<Duration>,
}

impl HealthSettings {
    /// Settings with the given preset, probes and vantage points, every other setting defaulted.
    pub fn new(preset: Preset, probes: Vec<ProbeSpec>, vantage_points: Vec<VantagePoint>) -> Self {
        HealthSettings {
            preset,
            probes,
            vantage_points,
            quorum: None,
            vantage_rule: VantageRule::default(),
            stale_after: None,
        }
    }

    /// The quorum in force: the configured one, or a strict majority of the vantage points.
    pub fn effective_quorum(&self) -> u32 {
        self.quorum
            .unwrap_or(self.vantage_points.len() as u32 / 2 + 1)
    }

    /// The resolved settings of the probe `id`, if it is configured.
    pub fn probe_settings(&self, id: &ProbeId) -> Option<ProbeSettings> {
        self.probes
            .iter()
            .find(|p| &p.id == id)
            .map(|p| p.resolve(self.preset, self.stale_after))
    }

    /// The probes a vantage point runs, in configuration order.
    pub fn probes_of<'a>(&'a self, vantage: &'a VantagePoint) -> Vec<&'a ProbeSpec> {
        self.probes
            .iter()
            .filter(|p| vantage.probes.is_empty() || vantage.probes.contains(&p.id))
            .collect()
    }

    /// Every problem with these settings (empty: valid).
    pub fn problems(&self) -> Vec<SettingsProblem> {
        let mut out = Vec::new();
        let mut problem =
            |field: String, message: String| out.push(SettingsProblem { field, message });
        if self.probes.is_empty() {
            problem(
                "probes".into(),
                "no probe is configured; add at least one".into(),
            );
        }
        if self.vantage_points.is_empty() {
            problem(
                "vantage_points".into(),
                "no vantage point is configured; add at least one (e.g. `local`)".into(),
            );
        }
        let mut ids = BTreeSet::new();
        for (i, spec) in self.probes.iter().enumerate() {
            let at = format!("probes[{i}]");
            if spec.id.0.is_empty() {
                problem(format!("{at}.id"), "a probe id must not be empty".into());
            }
            if !ids.insert(&spec.id) {
                problem(
                    format!("{at}.id"),
                    format!("probe id `{}` is used twice; ids must be unique", spec.id),
                );
            }
            let s = spec.resolve(self.preset, self.stale_after);
            probe_problems(&at, &s, &mut problem);
        }
        let mut vids = BTreeSet::new();
        for (i, v) in self.vantage_points.iter().enumerate() {
            let at = format!("vantage_points[{i}]");
            if v.id.0.is_empty() {
                problem(
                    format!("{at}.id"),
                    "a vantage point id must not be empty".into(),
                );
            }
            if !vids.insert(&v.id) {
                problem(
                    format!("{at}.id"),
                    format!(
                        "vantage point id `{}` is used twice; ids must be unique",
                        v.id
                    ),
                );
            }
            for (j, p) in v.probes.iter().enumerate() {
                if !ids.contains(p) {
                    problem(
                        format!("{at}.probes[{j}]"),
                        format!("no probe `{p}` is configured; use one of the ids under `probes`"),
                    );
                }
            }
            let runs = self.probes_of(v).len();
            if let VantageRule::AtLeast(n) = self.vantage_rule {
                if n == 0 {
                    problem(
                        "vantage_rule".into(),
                        "at_least 0 would call every vantage point down; use at least 1".into(),
                    );
                } else if n as usize > runs && runs > 0 {
                    problem(
                        "vantage_rule".into(),
                        format!(
                            "at_least {n} cannot be met by vantage point `{}`, which runs {runs} probe(s)",
                            v.id
                        ),
                    );
                }
            }
        }
        let m = self.vantage_points.len() as u32;
        if let Some(q) = self.quorum {
            if q == 0 || q > m {
                problem(
                    "quorum".into(),
                    format!("quorum {q} is outside 1..={m} (the number of vantage points)"),
                );
            }
        }
        out
    }

    /// `Ok` when [`problems`](Self::problems) finds none.
    pub fn validate(&self) -> Result<(), InvalidSettings> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(InvalidSettings(problems))
        }
    }
}

fn probe_problems(at: &str, s: &ProbeSettings, problem: &mut impl FnMut(String, String)) {
    let d = |d: Duration| humantime::format_duration(d).to_string();
    if s.interval.is_zero() {
        problem(
            format!("{at}.interval"),
            "the interval must be above zero".into(),
        );
    }
    if s.timeout.is_zero() {
        problem(
            format!("{at}.timeout"),
            "the timeout must be above zero".into(),
        );
    } else if s.timeout > s.interval {
        problem(
            format!("{at}.timeout"),
            format!(
                "the timeout ({}) is longer than the interval ({}); attempts would overlap",
                d(s.timeout),
                d(s.interval)
            ),
        );
    }
    if s.failure_threshold == 0 && s.failure_ratio.is_none() {
        problem(
            format!("{at}.failure_threshold"),
            "both failure rules are off; set failure_threshold above 0 or a failure_ratio".into(),
        );
    }
    if s.recovery_threshold == 0 {
        problem(
            format!("{at}.recovery_threshold"),
            "the recovery threshold must be at least 1".into(),
        );
    }
    if s.stale_after <= s.interval {
        problem(
            "stale_after".into(),
            format!(
                "stale_after ({}) must be longer than the probe's interval ({}), or every probe turns unknown between two attempts",
                d(s.stale_after),
                d(s.interval)
            ),
        );
    }
    if let Some(r) = s.failure_ratio {
        if !(r.ratio > 0.0 && r.ratio <= 1.0) {
            problem(
                format!("{at}.failure_ratio.ratio"),
                format!("ratio {} is outside (0, 1]", r.ratio),
            );
        }
        if r.min_samples == 0 {
            problem(
                format!("{at}.failure_ratio.min_samples"),
                "min_samples must be at least 1".into(),
            );
        }
        if !s.interval.is_zero() {
            let fits = (r.window.as_nanos() / s.interval.as_nanos()) as u64 + 1;
            if u64::from(r.min_samples) > fits {
                problem(
                    format!("{at}.failure_ratio.min_samples"),
                    format!(
                        "min_samples {} can never be reached: a {} window holds at most {fits} samples at a {} interval; lower min_samples or widen the window",
                        r.min_samples,
                        d(r.window),
                        d(s.interval)
                    ),
                );
            }
        }
    }
}

/// One problem with the health settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsProblem {
    /// Dotted path of the field (e.g. `probes[1].timeout`).
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Health settings that cannot be used, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid health settings: {}", .0.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("; "))]
pub struct InvalidSettings(pub Vec<SettingsProblem>);

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> HealthSettings {
        HealthSettings::new(
            Preset::Standard,
            vec![ProbeSpec::new("api"), ProbeSpec::new("media")],
            vec![
                VantagePoint::new("local"),
                VantagePoint::new("eu"),
                VantagePoint::new("us"),
            ],
        )
    }

    #[test]
    fn presets_and_defaults() {
        let std = Preset::Standard.probe_settings();
        assert_eq!(
            (
                std.interval,
                std.timeout,
                std.failure_threshold,
                std.recovery_threshold
            ),
            (Duration::from_secs(30), Duration::from_secs(5), 3, 3)
        );
        assert_eq!(std.stale_after, Duration::from_secs(65));
        assert_eq!(std.timeout_counts_as, TimeoutCountsAs::Down);
        assert!(std.failure_ratio.is_none());
        let fast = Preset::Fast.probe_settings();
        assert_eq!(
            (fast.interval, fast.timeout),
            (Duration::from_secs(10), Duration::from_secs(4))
        );
        assert_eq!(fast.stale_after, Duration::from_secs(24));
        let b = base();
        assert_eq!(b.effective_quorum(), 2);
        assert_eq!(b.vantage_rule, VantageRule::All);
        assert!(b.problems().is_empty(), "{:?}", b.problems());
        // A probe's own values win over the preset; the environment's staleness over the default.
        let mut spec = ProbeSpec::new("x");
        spec.interval = Some(Duration::from_secs(20));
        let r = spec.resolve(Preset::Fast, None);
        assert_eq!(
            (r.interval, r.timeout),
            (Duration::from_secs(20), Duration::from_secs(4))
        );
        assert_eq!(r.stale_after, Duration::from_secs(44));
        let r = spec.resolve(Preset::Fast, Some(Duration::from_secs(90)));
        assert_eq!(r.stale_after, Duration::from_secs(90));
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        type Edit = fn(&mut HealthSettings);
        let table: &[(Edit, &str)] = &[
            (|s| s.probes.clear(), "probes"),
            (|s| s.vantage_points.clear(), "vantage_points"),
            (|s| s.probes[1].id = "api".into(), "probes[1].id"),
            (
                |s| s.vantage_points[2].id = "eu".into(),
                "vantage_points[2].id",
            ),
            (
                |s| s.vantage_points[0].probes = vec!["nope".into()],
                "vantage_points[0].probes[0]",
            ),
            (|s| s.quorum = Some(0), "quorum"),
            (|s| s.quorum = Some(4), "quorum"),
            (|s| s.vantage_rule = VantageRule::AtLeast(3), "vantage_rule"),
            (|s| s.vantage_rule = VantageRule::AtLeast(0), "vantage_rule"),
            (
                |s| s.probes[0].interval = Some(Duration::ZERO),
                "probes[0].interval",
            ),
            (
                |s| s.probes[0].timeout = Some(Duration::from_secs(31)),
                "probes[0].timeout",
            ),
            (
                |s| s.probes[0].failure_threshold = Some(0),
                "probes[0].failure_threshold",
            ),
            (
                |s| s.probes[1].recovery_threshold = Some(0),
                "probes[1].recovery_threshold",
            ),
            (
                |s| s.stale_after = Some(Duration::from_secs(30)),
                "stale_after",
            ),
            (
                |s| {
                    s.probes[0].failure_ratio = Some(FailureRatio {
                        ratio: 1.5,
                        window: Duration::from_secs(300),
                        min_samples: 5,
                    })
                },
                "probes[0].failure_ratio.ratio",
            ),
            (
                |s| {
                    s.probes[0].failure_ratio = Some(FailureRatio {
                        ratio: 0.7,
                        window: Duration::from_secs(60),
                        min_samples: 5,
                    })
                },
                "probes[0].failure_ratio.min_samples",
            ),
        ];
        for (edit, field) in table {
            let mut s = base();
            edit(&mut s);
            let problems = s.problems();
            assert!(
                problems.iter().any(|p| p.field == *field),
                "expected a problem at {field}: {problems:?}"
            );
            let err = s.validate().unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
        // The ratio rule alone is enough; a window that holds min_samples is fine.
        let mut s = base();
        s.probes[0].failure_threshold = Some(0);
        s.probes[0].failure_ratio = Some(FailureRatio {
            ratio: 0.7,
            window: Duration::from_secs(120),
            min_samples: 5,
        });
        assert!(s.problems().is_empty(), "{:?}", s.problems());
    }

    #[test]
    fn toml_with_a_preset_and_overrides() {
        let s: HealthSettings = toml::from_str(
            r#"
            preset = "fast"
            quorum = 2
            vantage_rule = { at_least = 1 }
            [[probes]]
            id = "api"
            failure_ratio = { ratio = 0.7, window = "1m", min_samples = 5 }
            [[probes]]
            id = "media"
            interval = "15s"
            timeout_counts_as = "unknown"
            [[vantage_points]]
            id = "local"
            [[vantage_points]]
            id = "eu"
            probes = ["api"]
            "#,
        )
        .unwrap();
        assert!(s.problems().is_empty(), "{:?}", s.problems());
        assert_eq!(s.vantage_rule, VantageRule::AtLeast(1));
        let api = s.probe_settings(&"api".into()).unwrap();
        assert_eq!(api.interval, Duration::from_secs(10));
        assert_eq!(api.failure_ratio.unwrap().window, Duration::from_secs(60));
        let media = s.probe_settings(&"media".into()).unwrap();
        assert_eq!(media.interval, Duration::from_secs(15));
        assert_eq!(media.timeout_counts_as, TimeoutCountsAs::Unknown);
        assert_eq!(s.probes_of(&s.vantage_points[1]).len(), 1);
        // Unknown fields are rejected at every level.
        for bad in [
            "probes = []\nvantage_points = []\nquorom = 2",
            "vantage_points = []\n[[probes]]\nid = \"a\"\nintervall = \"5s\"",
            "probes = []\n[[vantage_points]]\nid = \"a\"\nregion = \"x\"",
        ] {
            assert!(toml::from_str::<HealthSettings>(bad).is_err(), "{bad}");
        }
        // And the settings serialize back to the same thing.
        let again: HealthSettings = toml::from_str(&toml::to_string(&s).unwrap()).unwrap();
        assert_eq!(again, s);
    }
}
