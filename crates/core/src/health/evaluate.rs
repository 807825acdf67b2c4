//! The pure health evaluator: samples in, verdicts and declarations out. No I/O and no clock:
//! the caller passes `now` on the same clock as the samples' `at`.
//!
//! Three levels, each with its own rule:
//! - **probe** (one probe at one vantage point): *down* after `failure_threshold` consecutive
//!   failures, or when the failure ratio over the window reaches the configured ratio; *up* after
//!   `recovery_threshold` consecutive successes; *unknown* when its latest sample is missing,
//!   stale, or itself unknown. Unknown is never down.
//! - **vantage point**: says *down* when its probes are down by the [`VantageRule`]; *up* when
//!   every one of its probes is up.
//! - **overall**: a failure is declared only when a quorum of vantage points says down; once
//!   declared, the recovery is declared only when a quorum says up, which takes every probe of
//!   those vantage points `recovery_threshold` consecutive successes (hysteresis).

use super::sample::{ProbeId, ProbeOutcome, ProbeSample, VantageId};
use super::settings::{
    FailureRatio, HealthSettings, InvalidSettings, ProbeSettings, TimeoutCountsAs, VantageRule,
};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Duration;

/// Most samples kept per probe and vantage point, whatever the window (a misbehaving reporter
/// cannot grow the evaluator without bound).
pub const MAX_SAMPLES_PER_PROBE: usize = 1024;

/// The overall state, which only a declaration changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum HealthState {
    /// No failure declared.
    #[default]
    Healthy,
    /// A failure is declared and its recovery is not.
    Failing {
        /// When the failure was declared.
        #[serde(with = "humantime_serde")]
        since: Duration,
    },
}

/// What one probe at one vantage point says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeVerdict {
    /// `recovery_threshold` consecutive successes, and not down.
    Up,
    /// Fresh, but neither down nor up: failures below the thresholds, or successes below the
    /// recovery threshold.
    Suspect,
    /// Down by the consecutive-failure rule or the failure-ratio rule.
    Down,
    /// No fresh, known sample. Never counts as down.
    Unknown,
}

/// What one vantage point says about the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VantageVerdict {
    /// Every probe of the vantage point is up.
    Up,
    /// Neither up nor down.
    Suspect,
    /// Its probes are down by the vantage rule.
    Down,
    /// None of its probes has a fresh, known sample.
    Unknown,
}

/// The rule that made a probe down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureRule {
    /// `failure_threshold` consecutive failures.
    Consecutive,
    /// The failure ratio over the window.
    Ratio,
}

/// Why a probe is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownCause {
    /// No sample has arrived (an observer that never reported).
    NoReport,
    /// The latest sample is older than `stale_after` (an observer that stopped, or reports late).
    Stale,
    /// The latest sample reported `unknown`.
    ReportedUnknown,
    /// The latest sample timed out and timeouts count as unknown.
    TimedOut,
}

/// Vantage-point votes at one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Votes {
    /// Vantage points saying down.
    pub down: u32,
    /// Vantage points saying up.
    pub up: u32,
    /// Vantage points neither up nor down.
    pub suspect: u32,
    /// Vantage points with nothing fresh to say.
    pub unknown: u32,
    /// Vantage points configured (M).
    pub vantage_points: u32,
    /// Votes needed (N).
    pub quorum: u32,
}

/// The failure-ratio window of one probe at one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowEvidence {
    /// The window's length.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Known samples (up or down) in the window.
    pub samples: u32,
    /// Failed samples in the window.
    pub failures: u32,
    /// `failures / samples` (0 when empty).
    pub ratio: f64,
    /// The configured ratio.
    pub threshold: f64,
    /// The configured fewest samples.
    pub min_samples: u32,
}

/// Everything known about one probe at one vantage point at one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeEvidence {
    /// Which probe.
    pub probe: ProbeId,
    /// Its verdict.
    pub verdict: ProbeVerdict,
    /// The rules that made it down (empty unless down).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub down_by: Vec<FailureRule>,
    /// Why it is unknown (only when unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_cause: Option<UnknownCause>,
    /// Trailing consecutive failures.
    pub consecutive_failures: u32,
    /// The consecutive-failure threshold (`0`: rule off).
    pub failure_threshold: u32,
    /// Trailing consecutive successes.
    pub consecutive_successes: u32,
    /// The recovery threshold.
    pub recovery_threshold: u32,
    /// The failure-ratio window, when that rule is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowEvidence>,
    /// When the latest sample was taken.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_at: Option<Duration>,
    /// How old the latest sample is.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub age: Option<Duration>,
    /// The staleness limit.
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
    /// The latest sample's latency.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_latency: Option<Duration>,
    /// The latest sample's failure or unknown reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reason: Option<String>,
}

/// Everything known about one vantage point at one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VantageEvidence {
    /// Which vantage point.
    pub vantage: VantageId,
    /// Its verdict.
    pub verdict: VantageVerdict,
    /// How many of its probes are down.
    pub down_probes: u32,
    /// How many down probes make it say down (the vantage rule).
    pub needed: u32,
    /// Its probes, in configuration order.
    pub probes: Vec<ProbeEvidence>,
}

/// The evidence behind an assessment: every vantage point and probe, with values and thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Explanation {
    /// When.
    #[serde(with = "humantime_serde")]
    pub at: Duration,
    /// The votes.
    pub votes: Votes,
    /// The vantage rule in force.
    pub vantage_rule: VantageRule,
    /// Every vantage point, in configuration order.
    pub vantage_points: Vec<VantageEvidence>,
}

/// What was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclarationKind {
    /// The primary is down: a quorum of vantage points agrees.
    Failure,
    /// The primary is up again: a quorum of vantage points sees it up.
    Recovery,
}

/// A declaration: the one thing to record and notify. Carries its evidence as data and as one
/// human line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    /// Failure or recovery.
    pub kind: DeclarationKind,
    /// When it was declared.
    #[serde(with = "humantime_serde")]
    pub at: Duration,
    /// One line: which vantage points and probes, with values and thresholds.
    pub summary: String,
    /// The full evidence.
    pub explanation: Explanation,
}

/// The result of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    /// When.
    #[serde(with = "humantime_serde")]
    pub at: Duration,
    /// The state after this evaluation.
    pub state: HealthState,
    /// The votes.
    pub votes: Votes,
    /// A declaration made by this evaluation (at most one; `None` almost always).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declaration: Option<Declaration>,
}

/// A sample the evaluator could not place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObserveError {
    /// The vantage point is not configured.
    #[error("sample from unknown vantage point `{0}`; configure it under `vantage_points` or stop that observer")]
    UnknownVantage(VantageId),
    /// The vantage point does not run that probe.
    #[error("vantage point `{vantage}` does not run probe `{probe}`; check the observer's probe list against the config")]
    UnknownProbe {
        /// The vantage point.
        vantage: VantageId,
        /// The probe.
        probe: ProbeId,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Up,
    Down,
    Unknown,
}

#[derive(Debug, Clone)]
struct Stored {
    at: Duration,
    class: Class,
    timed_out: bool,
    latency: Option<Duration>,
    reason: Option<String>,
}

#[derive(Debug, Clone)]
struct Stream {
    probe: ProbeId,
    settings: ProbeSettings,
    samples: VecDeque<Stored>,
    fail_run: u32,
    success_run: u32,
}

#[derive(Debug, Clone)]
struct Vantage {
    id: VantageId,
    streams: Vec<Stream>,
}

/// The computed view of one stream at one time (no allocation).
#[derive(Debug, Clone, Copy)]
struct View {
    verdict: ProbeVerdict,
    unknown: Option<UnknownCause>,
    by_consecutive: bool,
    by_ratio: bool,
}

/// The health evaluator of one environment: a state struct fed with samples and asked for an
/// assessment at a given time. Pure and deterministic: the same samples and times give the same
/// assessments.
#[derive(Debug, Clone)]
pub struct HealthEvaluator {
    settings: HealthSettings,
    quorum: u32,
    vantages: Vec<Vantage>,
    state: HealthState,
}

impl HealthEvaluator {
    /// An evaluator in the healthy state. Refuses invalid settings with every problem.
    pub fn new(settings: HealthSettings) -> Result<Self, InvalidSettings> {
        Self::resume(settings, HealthState::Healthy)
    }

    /// An evaluator that starts in `state` (e.g. restored after a restart, so a failure declared
    /// before it is not declared again).
    pub fn resume(settings: HealthSettings, state: HealthState) -> Result<Self, InvalidSettings> {
        settings.validate()?;
        let vantages = settings
            .vantage_points
            .iter()
            .map(|v| Vantage {
                id: v.id.clone(),
                streams: settings
                    .probes_of(v)
                    .into_iter()
                    .map(|p| Stream {
                        probe: p.id.clone(),
                        settings: p.resolve(settings.preset, settings.stale_after),
                        samples: VecDeque::new(),
                        fail_run: 0,
                        success_run: 0,
                    })
                    .collect(),
            })
            .collect();
        Ok(HealthEvaluator {
            quorum: settings.effective_quorum(),
            settings,
            vantages,
            state,
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &HealthSettings {
        &self.settings
    }

    /// The quorum in force (N).
    pub fn quorum(&self) -> u32 {
        self.quorum
    }

    /// The current state.
    pub fn state(&self) -> HealthState {
        self.state
    }

    /// Take one sample into account. Samples may arrive late or out of order; a second sample
    /// with the same probe, vantage point and `at` replaces the first (a retried report).
    pub fn observe(&mut self, sample: ProbeSample) -> Result<(), ObserveError> {
        let vantage = self
            .vantages
            .iter_mut()
            .find(|v| v.id == sample.vantage)
            .ok_or_else(|| ObserveError::UnknownVantage(sample.vantage.clone()))?;
        let stream = vantage
            .streams
            .iter_mut()
            .find(|s| s.probe == sample.probe)
            .ok_or_else(|| ObserveError::UnknownProbe {
                vantage: sample.vantage.clone(),
                probe: sample.probe.clone(),
            })?;
        stream.insert(classify(&stream.settings, sample));
        Ok(())
    }

    /// Evaluate at `now`: compute every verdict, count the votes, and declare a failure or a
    /// recovery if the quorum is reached. Cheap unless it declares.
    pub fn evaluate(&mut self, now: Duration) -> Assessment {
        let votes = self.votes(now);
        let declaration = match self.state {
            HealthState::Healthy if votes.down >= self.quorum => {
                self.state = HealthState::Failing { since: now };
                Some(self.declare(DeclarationKind::Failure, now))
            }
            HealthState::Failing { .. } if votes.up >= self.quorum => {
                self.state = HealthState::Healthy;
                Some(self.declare(DeclarationKind::Recovery, now))
            }
            _ => None,
        };
        Assessment {
            at: now,
            state: self.state,
            votes,
            declaration,
        }
    }

    /// The full evidence at `now`, without changing the state (for a console or a report).
    pub fn explain(&self, now: Duration) -> Explanation {
        let rule = self.settings.vantage_rule;
        let vantage_points = self
            .vantages
            .iter()
            .map(|v| {
                let views: Vec<View> = v.streams.iter().map(|s| s.view(now)).collect();
                let (verdict, down, needed) =
                    vantage_verdict(rule, views.len(), views.iter().copied());
                VantageEvidence {
                    vantage: v.id.clone(),
                    verdict,
                    down_probes: down as u32,
                    needed: needed as u32,
                    probes: v
                        .streams
                        .iter()
                        .zip(&views)
                        .map(|(s, view)| s.evidence(now, view))
                        .collect(),
                }
            })
            .collect();
        Explanation {
            at: now,
            votes: self.votes(now),
            vantage_rule: rule,
            vantage_points,
        }
    }

    fn votes(&self, now: Duration) -> Votes {
        let mut votes = Votes {
            down: 0,
            up: 0,
            suspect: 0,
            unknown: 0,
            vantage_points: self.vantages.len() as u32,
            quorum: self.quorum,
        };
        for v in &self.vantages {
            let views = v.streams.iter().map(|s| s.view(now));
            match vantage_verdict(self.settings.vantage_rule, v.streams.len(), views).0 {
                VantageVerdict::Down => votes.down += 1,
                VantageVerdict::Up => votes.up += 1,
                VantageVerdict::Suspect => votes.suspect += 1,
                VantageVerdict::Unknown => votes.unknown += 1,
            }
        }
        votes
    }

    fn declare(&self, kind: DeclarationKind, now: Duration) -> Declaration {
        let explanation = self.explain(now);
        Declaration {
            kind,
            at: now,
            summary: summarize(kind, &explanation),
            explanation,
        }
    }
}

/// Classify a sample by the probe's settings: an attempt at or over the timeout is a timeout.
fn classify(settings: &ProbeSettings, sample: ProbeSample) -> Stored {
    let timed_out = sample.latency.is_some_and(|l| l >= settings.timeout);
    let (class, reason) = match sample.outcome {
        ProbeOutcome::Unknown => (Class::Unknown, Some("reported unknown".to_string())),
        _ if timed_out => {
            let class = match settings.timeout_counts_as {
                TimeoutCountsAs::Down => Class::Down,
                TimeoutCountsAs::Unknown => Class::Unknown,
            };
            let reason = format!(
                "timed out (took {} ≥ timeout {})",
                humantime::format_duration(sample.latency.unwrap_or_default()),
                humantime::format_duration(settings.timeout)
            );
            (class, Some(reason))
        }
        ProbeOutcome::Up => (Class::Up, None),
        ProbeOutcome::Down { reason } => (Class::Down, Some(reason)),
    };
    Stored {
        at: sample.at,
        class,
        timed_out,
        latency: sample.latency,
        reason,
    }
}

impl Stream {
    fn insert(&mut self, s: Stored) {
        match self.samples.back() {
            None => self.push_in_order(s),
            Some(last) if s.at > last.at => self.push_in_order(s),
            _ => {
                // Late or repeated: place it by time (replacing a sample at the same time) and
                // recount the trailing runs from what is kept.
                match self.samples.binary_search_by(|x| x.at.cmp(&s.at)) {
                    Ok(i) => self.samples[i] = s,
                    Err(i) => self.samples.insert(i, s),
                }
                self.recount();
            }
        }
        self.prune();
    }

    fn push_in_order(&mut self, s: Stored) {
        match s.class {
            Class::Up => {
                self.success_run += 1;
                self.fail_run = 0;
            }
            Class::Down => {
                self.fail_run += 1;
                self.success_run = 0;
            }
            Class::Unknown => {
                self.fail_run = 0;
                self.success_run = 0;
            }
        }
        self.samples.push_back(s);
    }

    fn recount(&mut self) {
        let run = |class: Class| {
            self.samples
                .iter()
                .rev()
                .take_while(|s| s.class == class)
                .count() as u32
        };
        self.fail_run = run(Class::Down);
        self.success_run = run(Class::Up);
    }

    fn prune(&mut self) {
        let keep = self
            .settings
            .failure_threshold
            .max(self.settings.recovery_threshold)
            .max(1) as usize;
        let latest = self.samples.back().map(|s| s.at).unwrap_or_default();
        let horizon = self
            .settings
            .failure_ratio
            .map(|r| latest.saturating_sub(r.window));
        while self.samples.len() > keep {
            let front = self.samples.front().map(|s| s.at).unwrap_or_default();
            let needed_for_window = horizon.is_some_and(|h| front >= h);
            if needed_for_window && self.samples.len() <= MAX_SAMPLES_PER_PROBE {
                break;
            }
            self.samples.pop_front();
        }
    }

    /// The probe's verdict at `now`. This runs for every probe at every evaluation, so the
    /// window is counted only when the verdict depends on it.
    fn view(&self, now: Duration) -> View {
        let mut view = View {
            verdict: ProbeVerdict::Unknown,
            unknown: None,
            by_consecutive: false,
            by_ratio: false,
        };
        let Some(last) = self.samples.back() else {
            view.unknown = Some(UnknownCause::NoReport);
            return view;
        };
        if now.saturating_sub(last.at) > self.settings.stale_after {
            view.unknown = Some(UnknownCause::Stale);
            return view;
        }
        if last.class == Class::Unknown {
            view.unknown = Some(if last.timed_out {
                UnknownCause::TimedOut
            } else {
                UnknownCause::ReportedUnknown
            });
            return view;
        }
        let thr = self.settings.failure_threshold;
        view.by_consecutive = thr > 0 && self.fail_run >= thr;
        view.by_ratio = match self.settings.failure_ratio {
            Some(r) if self.samples.len() >= r.min_samples as usize => {
                let (samples, failures) = window_counts(&self.samples, r, now);
                ratio_trips(r, samples, failures)
            }
            _ => false,
        };
        view.verdict = if view.by_consecutive || view.by_ratio {
            ProbeVerdict::Down
        } else if self.success_run >= self.settings.recovery_threshold {
            ProbeVerdict::Up
        } else {
            ProbeVerdict::Suspect
        };
        view
    }

    fn evidence(&self, now: Duration, view: &View) -> ProbeEvidence {
        let last = self.samples.back();
        let mut down_by = Vec::new();
        if view.verdict == ProbeVerdict::Down {
            if view.by_consecutive {
                down_by.push(FailureRule::Consecutive);
            }
            if view.by_ratio {
                down_by.push(FailureRule::Ratio);
            }
        }
        ProbeEvidence {
            probe: self.probe.clone(),
            verdict: view.verdict,
            down_by,
            unknown_cause: view.unknown,
            consecutive_failures: self.fail_run,
            failure_threshold: self.settings.failure_threshold,
            consecutive_successes: self.success_run,
            recovery_threshold: self.settings.recovery_threshold,
            window: match self.settings.failure_ratio {
                Some(r) => {
                    let (samples, failures) = window_counts(&self.samples, r, now);
                    Some(WindowEvidence {
                        window: r.window,
                        samples,
                        failures,
                        ratio: if samples == 0 {
                            0.0
                        } else {
                            f64::from(failures) / f64::from(samples)
                        },
                        threshold: r.ratio,
                        min_samples: r.min_samples,
                    })
                }
                None => None,
            },
            last_at: last.map(|s| s.at),
            age: last.map(|s| now.saturating_sub(s.at)),
            stale_after: self.settings.stale_after,
            last_latency: last.and_then(|s| s.latency),
            last_reason: last.and_then(|s| s.reason.clone()),
        }
    }
}

/// Known samples and failures among the samples within `[now - window, now]`.
fn window_counts(samples: &VecDeque<Stored>, r: FailureRatio, now: Duration) -> (u32, u32) {
    let from = now.saturating_sub(r.window);
    let (mut known, mut failures) = (0u32, 0u32);
    for s in samples.iter().rev() {
        if s.at < from {
            break;
        }
        if s.at > now {
            continue;
        }
        match s.class {
            Class::Up => known += 1,
            Class::Down => {
                known += 1;
                failures += 1;
            }
            Class::Unknown => {}
        }
    }
    (known, failures)
}

/// Whether the failure-ratio rule fires for `failures` of `samples` known samples.
fn ratio_trips(r: FailureRatio, samples: u32, failures: u32) -> bool {
    samples > 0 && samples >= r.min_samples && f64::from(failures) / f64::from(samples) >= r.ratio
}

/// A vantage point's verdict from its `n` probes' views: (verdict, down probes, down probes
/// needed). No allocation: this runs at every evaluation.
fn vantage_verdict(
    rule: VantageRule,
    n: usize,
    views: impl Iterator<Item = View>,
) -> (VantageVerdict, usize, usize) {
    let needed = rule.needed(n).max(1);
    let (mut down, mut up, mut unknown) = (0, 0, 0);
    for v in views {
        match v.verdict {
            ProbeVerdict::Down => down += 1,
            ProbeVerdict::Up => up += 1,
            ProbeVerdict::Unknown => unknown += 1,
            ProbeVerdict::Suspect => {}
        }
    }
    let verdict = if n == 0 || unknown == n {
        VantageVerdict::Unknown
    } else if down >= needed {
        VantageVerdict::Down
    } else if up == n {
        VantageVerdict::Up
    } else {
        VantageVerdict::Suspect
    };
    (verdict, down, needed)
}

fn fmt_d(d: Duration) -> String {
    // Whole milliseconds keep the line short ("12s 500ms", not nanoseconds).
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64)).to_string()
}

fn verdict_label(v: VantageVerdict) -> &'static str {
    match v {
        VantageVerdict::Up => "up",
        VantageVerdict::Suspect => "suspect",
        VantageVerdict::Down => "down",
        VantageVerdict::Unknown => "unknown",
    }
}

/// One probe's evidence in a few words.
fn probe_phrase(p: &ProbeEvidence) -> String {
    let mut s = format!("{}: ", p.probe);
    match p.verdict {
        ProbeVerdict::Down => {
            let mut parts = Vec::new();
            if p.down_by.contains(&FailureRule::Consecutive) {
                parts.push(format!(
                    "{} consecutive failures (threshold {})",
                    p.consecutive_failures, p.failure_threshold
                ));
            }
            if let (true, Some(w)) = (p.down_by.contains(&FailureRule::Ratio), p.window) {
                parts.push(format!(
                    "{}/{} failed in {} ({:.0}% ≥ {:.0}%)",
                    w.failures,
                    w.samples,
                    fmt_d(w.window),
                    w.ratio * 100.0,
                    w.threshold * 100.0
                ));
            }
            s.push_str(&parts.join(", "));
            if let Some(r) = &p.last_reason {
                let _ = write!(s, ", last: {r}");
            }
        }
        ProbeVerdict::Up => {
            let _ = write!(
                s,
                "{} consecutive successes (threshold {})",
                p.consecutive_successes, p.recovery_threshold
            );
        }
        ProbeVerdict::Suspect => {
            let _ = write!(
                s,
                "suspect ({} failures, {} successes in a row)",
                p.consecutive_failures, p.consecutive_successes
            );
        }
        ProbeVerdict::Unknown => {
            let why = match (p.unknown_cause, p.age) {
                (Some(UnknownCause::Stale), Some(age)) => format!(
                    "last report {} ago > stale_after {}",
                    fmt_d(age),
                    fmt_d(p.stale_after)
                ),
                (Some(UnknownCause::TimedOut), _) => "timed out, counted as unknown".to_string(),
                (Some(UnknownCause::ReportedUnknown), _) => "reported unknown".to_string(),
                _ => "no report".to_string(),
            };
            let _ = write!(s, "unknown ({why})");
        }
    }
    s
}

/// The one-line human summary of a declaration.
fn summarize(kind: DeclarationKind, e: &Explanation) -> String {
    let (head, agreeing, verdict, probe_verdict) = match kind {
        DeclarationKind::Failure => (
            "primary declared DOWN",
            e.votes.down,
            VantageVerdict::Down,
            ProbeVerdict::Down,
        ),
        DeclarationKind::Recovery => (
            "primary declared RECOVERED",
            e.votes.up,
            VantageVerdict::Up,
            ProbeVerdict::Up,
        ),
    };
    let mut s = format!(
        "{head}: {agreeing} of {} vantage points agree (quorum {}): ",
        e.votes.vantage_points, e.votes.quorum
    );
    let agree: Vec<String> = e
        .vantage_points
        .iter()
        .filter(|v| v.verdict == verdict)
        .map(|v| {
            let probes: Vec<String> = v
                .probes
                .iter()
                .filter(|p| p.verdict == probe_verdict)
                .map(probe_phrase)
                .collect();
            format!("{} [{}]", v.vantage, probes.join("; "))
        })
        .collect();
    s.push_str(&agree.join(", "));
    let others: Vec<String> = e
        .vantage_points
        .iter()
        .filter(|v| v.verdict != verdict)
        .map(|v| {
            let first_unknown = v
                .probes
                .iter()
                .find(|p| p.verdict == ProbeVerdict::Unknown)
                .filter(|_| v.verdict == VantageVerdict::Unknown)
                .map(|p| format!(" ({})", probe_phrase(p)))
                .unwrap_or_default();
            format!("{} {}{first_unknown}", v.vantage, verdict_label(v.verdict))
        })
        .collect();
    if !others.is_empty() {
        let _ = write!(s, "; others: {}", others.join(", "));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::settings::{Preset, ProbeSpec, VantagePoint};

    const I: Duration = Duration::from_secs(10);

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    /// Fast preset, `m` vantage points `v0..`, the given probes on every one of them.
    fn settings(m: usize, probes: &[&str]) -> HealthSettings {
        HealthSettings::new(
            Preset::Fast,
            probes.iter().map(|p| ProbeSpec::new(*p)).collect(),
            (0..m).map(|i| VantagePoint::new(format!("v{i}"))).collect(),
        )
    }

    /// Feed one sample per character, `I` apart, starting at `start`:
    /// `U` up, `D` down, `?` unknown, `T` up but at the timeout, `.` no sample.
    /// Returns the time of the last slot.
    fn feed(
        ev: &mut HealthEvaluator,
        v: &str,
        p: &str,
        start: Duration,
        pattern: &str,
    ) -> Duration {
        let timeout = ev.settings().probe_settings(&p.into()).unwrap().timeout;
        let mut at = start;
        for (i, c) in pattern.chars().enumerate() {
            at = start + I * i as u32;
            let (outcome, latency) = match c {
                'U' => (ProbeOutcome::Up, Duration::from_millis(40)),
                'D' => (ProbeOutcome::down("HTTP 503"), Duration::from_millis(40)),
                '?' => (ProbeOutcome::Unknown, Duration::ZERO),
                'T' => (ProbeOutcome::Up, timeout),
                '.' => continue,
                other => panic!("bad pattern char {other}"),
            };
            ev.observe(ProbeSample::new(p, v, at, outcome).with_latency(latency))
                .unwrap();
        }
        at
    }

    fn probe_evidence(ev: &HealthEvaluator, v: usize, p: usize, now: Duration) -> ProbeEvidence {
        ev.explain(now).vantage_points[v].probes[p].clone()
    }

    #[test]
    fn consecutive_failure_rule_table() {
        use ProbeVerdict::*;
        // (pattern, failure_threshold, recovery_threshold, expected verdict after the last sample)
        let table: &[(&str, u32, u32, ProbeVerdict)] = &[
            ("DDD", 3, 3, Down),
            ("DD", 3, 3, Suspect),
            ("UUDD", 3, 3, Suspect),
            ("DDUD", 3, 3, Suspect),
            ("DD?D", 3, 3, Suspect), // unknown breaks the run: never counted as down
            ("DDDDDD", 3, 3, Down),
            ("D", 1, 3, Down),
            ("DDDD", 5, 3, Suspect),
            ("DDDDD", 5, 3, Down),
            ("UUU", 3, 3, Up),
            ("UU", 3, 3, Suspect),
            ("DDDUU", 3, 3, Suspect),
            ("DDDUUU", 3, 3, Up),
            ("UUUUU", 3, 5, Up),
            ("UUUU", 3, 5, Suspect),
            ("UUU?", 3, 3, Unknown),
            ("DDD?", 3, 3, Unknown),
            ("DDT", 3, 3, Down), // a timeout counts as down by default
            ("", 3, 3, Unknown),
        ];
        for (pattern, thr, rec, want) in table {
            let mut st = settings(1, &["api"]);
            st.probes[0].failure_threshold = Some(*thr);
            st.probes[0].recovery_threshold = Some(*rec);
            let mut ev = HealthEvaluator::new(st).unwrap();
            let last = feed(&mut ev, "v0", "api", s(100), pattern);
            let got = probe_evidence(&ev, 0, 0, last);
            assert_eq!(
                got.verdict, *want,
                "pattern {pattern:?} thr {thr} rec {rec}: {got:?}"
            );
            if *want == Down {
                assert_eq!(got.down_by, vec![FailureRule::Consecutive], "{pattern}");
                assert!(got.consecutive_failures >= *thr, "{pattern}");
            }
        }
    }

    #[test]
    fn unknown_causes_are_reported_and_never_down() {
        let cases: &[(&str, TimeoutCountsAs, UnknownCause)] = &[
            ("", TimeoutCountsAs::Down, UnknownCause::NoReport),
            ("DDD?", TimeoutCountsAs::Down, UnknownCause::ReportedUnknown),
            ("DDDT", TimeoutCountsAs::Unknown, UnknownCause::TimedOut),
        ];
        for (pattern, policy, cause) in cases {
            let mut st = settings(1, &["api"]);
            st.probes[0].timeout_counts_as = Some(*policy);
            let mut ev = HealthEvaluator::new(st).unwrap();
            let last = feed(&mut ev, "v0", "api", s(100), pattern);
            let e = probe_evidence(&ev, 0, 0, last);
            assert_eq!(e.verdict, ProbeVerdict::Unknown, "{pattern}");
            assert_eq!(e.unknown_cause, Some(*cause), "{pattern}");
            let a = ev.evaluate(last);
            assert_eq!(a.votes.down, 0, "{pattern}");
            assert_eq!(a.state, HealthState::Healthy, "{pattern}");
        }
        // Timeouts counted as unknown: a probe that only times out is never down.
        let mut st = settings(1, &["api"]);
        st.probes[0].timeout_counts_as = Some(TimeoutCountsAs::Unknown);
        let mut ev = HealthEvaluator::new(st).unwrap();
        let last = feed(&mut ev, "v0", "api", s(100), "TTTTTTTTTT");
        assert_eq!(ev.evaluate(last).state, HealthState::Healthy);
    }

    #[test]
    fn stale_reports_are_unknown_at_the_limit_plus_one_tick() {
        let mut ev = HealthEvaluator::new(settings(1, &["api"])).unwrap();
        let last = feed(&mut ev, "v0", "api", s(100), "DD");
        let stale_after = ev
            .settings()
            .probe_settings(&"api".into())
            .unwrap()
            .stale_after;
        assert_eq!(stale_after, s(24), "fast preset: 2 × 10 s + 4 s");
        let at_limit = probe_evidence(&ev, 0, 0, last + stale_after);
        assert_eq!(at_limit.verdict, ProbeVerdict::Suspect);
        let past = probe_evidence(&ev, 0, 0, last + stale_after + Duration::from_millis(1));
        assert_eq!(past.verdict, ProbeVerdict::Unknown);
        assert_eq!(past.unknown_cause, Some(UnknownCause::Stale));
        // A late down sample that is already stale when it arrives never makes the probe down.
        let mut ev = HealthEvaluator::new(settings(1, &["api"])).unwrap();
        feed(&mut ev, "v0", "api", s(100), "DDD");
        let a = ev.evaluate(s(120) + s(25));
        assert_eq!(a.votes.unknown, 1);
        assert_eq!(a.state, HealthState::Healthy);
    }

    #[test]
    fn failure_ratio_window_table() {
        use ProbeVerdict::*;
        // Ratio 0.6 over 60 s (7 samples at most at 10 s), at least 5 known samples, consecutive
        // rule off so the ratio rule is tested alone.
        let table: &[(&str, ProbeVerdict, u32, u32)] = &[
            ("DUDUD", Down, 5, 3),          // 3/5 = 0.6 ≥ 0.6
            ("DUDUU", Suspect, 5, 2),       // 2/5
            ("DDUD", Suspect, 4, 3),        // 4 known < min_samples 5
            ("DDDDDUUDUDU", Suspect, 7, 3), // the first failures fell out of the window
            ("UUUDDDDD", Down, 7, 5),       // the oldest success fell out: 5/7
            ("UUUUDDDD", Suspect, 7, 4),    // 4/7 < 0.6
            ("DDDDDDDUUUU", Up, 7, 3),      // 3/7 and 4 successes in a row
            ("D?D?DUU", Down, 5, 3),        // unknown counts neither way: 3/5 known failed
            ("DUD?D", Suspect, 4, 3),       // 4 known < 5
            ("DDUDU?U", Suspect, 6, 3),     // 3/6
            ("DDDDDDD?", Unknown, 6, 6),    // 6/6 failed, but the latest is unknown: never down
        ];
        for (pattern, want, samples, failures) in table {
            let mut st = settings(1, &["api"]);
            st.probes[0].failure_threshold = Some(0);
            st.probes[0].failure_ratio = Some(FailureRatio {
                ratio: 0.6,
                window: s(60),
                min_samples: 5,
            });
            let mut ev = HealthEvaluator::new(st).unwrap();
            let last = feed(&mut ev, "v0", "api", s(100), pattern);
            let e = probe_evidence(&ev, 0, 0, last);
            let w = e.window.expect("window evidence");
            assert_eq!((w.samples, w.failures), (*samples, *failures), "{pattern}");
            assert_eq!(e.verdict, *want, "{pattern}: {e:?}");
            if e.verdict == Down {
                assert_eq!(e.down_by, vec![FailureRule::Ratio]);
            }
        }
    }

    /// Evaluate after feeding each vantage point's pattern for probe `api`.
    fn declared(m: usize, quorum: Option<u32>, patterns: &[&str]) -> (bool, Votes) {
        let mut st = settings(m, &["api"]);
        st.quorum = quorum;
        let mut ev = HealthEvaluator::new(st).unwrap();
        let mut last = s(100);
        for (i, p) in patterns.iter().enumerate() {
            last = last.max(feed(&mut ev, &format!("v{i}"), "api", s(100), p));
        }
        let a = ev.evaluate(last);
        (a.declaration.is_some(), a.votes)
    }

    #[test]
    fn quorum_edge_cases() {
        // (vantage points, quorum, per-vantage pattern, declared?)
        let table: &[(usize, Option<u32>, &[&str], bool)] = &[
            (3, None, &["DDD", "UUU", "UUU"], false), // one isolated vantage point
            (3, None, &["DDD", "DDD", "UUU"], true),
            (3, None, &["DDD", "DD", "DD"], false), // the others below the threshold
            (3, None, &["DDD", "", ""], false),     // two observers missing: unknown never down
            (3, None, &["DDD", "DDD", ""], true),   // one missing: the other two still agree
            (3, None, &["DDD", "DD?", "DD?"], false),
            (3, Some(3), &["DDD", "DDD", ""], false), // 3 of 3 needed, one missing
            (3, Some(3), &["DDD", "DDD", "DDD"], true),
            (1, None, &["DDD"], true),
            (1, None, &["DD"], false),
            (2, None, &["DDD", "UUU"], false), // majority of 2 is 2
            (2, Some(1), &["DDD", "UUU"], true),
            (4, None, &["DDD", "DDD", "UUU", "UUU"], false), // majority of 4 is 3
            (4, None, &["DDD", "DDD", "DDD", "UUU"], true),
            (5, None, &["DDD", "DDD", "DDD", "", ""], true),
            (5, None, &["DDD", "DDD", "", "", ""], false),
        ];
        for (m, q, patterns, want) in table {
            let (got, votes) = declared(*m, *q, patterns);
            assert_eq!(got, *want, "m {m} quorum {q:?} {patterns:?}: {votes:?}");
            assert_eq!(votes.vantage_points, *m as u32);
        }
        assert_eq!(settings(4, &["a"]).effective_quorum(), 3);
        assert_eq!(settings(3, &["a"]).effective_quorum(), 2);
        assert_eq!(settings(1, &["a"]).effective_quorum(), 1);
    }

    #[test]
    fn vantage_rule_table() {
        // Probes a, b, c at one vantage point: (rule, patterns for a, b, c, vantage verdict).
        let table: &[(VantageRule, [&str; 3], VantageVerdict)] = &[
            (
                VantageRule::All,
                ["DDD", "DDD", "DDD"],
                VantageVerdict::Down,
            ),
            (
                VantageRule::All,
                ["DDD", "DDD", "UUU"],
                VantageVerdict::Suspect,
            ),
            (
                VantageRule::All,
                ["DDD", "DDD", ""],
                VantageVerdict::Suspect,
            ), // unknown blocks
            (
                VantageRule::Any,
                ["DDD", "UUU", "UUU"],
                VantageVerdict::Down,
            ),
            (
                VantageRule::Any,
                ["DD", "UUU", "UUU"],
                VantageVerdict::Suspect,
            ),
            (
                VantageRule::AtLeast(2),
                ["DDD", "DDD", "UUU"],
                VantageVerdict::Down,
            ),
            (
                VantageRule::AtLeast(2),
                ["DDD", "", "UUU"],
                VantageVerdict::Suspect,
            ),
            (VantageRule::All, ["UUU", "UUU", "UUU"], VantageVerdict::Up),
            (VantageRule::All, ["", "", ""], VantageVerdict::Unknown),
            (
                VantageRule::Any,
                ["UUU", "UUU", "??"],
                VantageVerdict::Suspect,
            ),
        ];
        for (rule, patterns, want) in table {
            let mut st = settings(1, &["a", "b", "c"]);
            st.vantage_rule = *rule;
            let mut ev = HealthEvaluator::new(st).unwrap();
            for (p, pat) in ["a", "b", "c"].iter().zip(patterns) {
                feed(&mut ev, "v0", p, s(100), pat);
            }
            let e = ev.explain(s(120));
            assert_eq!(e.vantage_points[0].verdict, *want, "{rule:?} {patterns:?}");
        }
    }

    #[test]
    fn recovery_needs_the_recovery_threshold_at_a_quorum() {
        let mut ev = HealthEvaluator::new(settings(3, &["api"])).unwrap();
        for v in ["v0", "v1", "v2"] {
            feed(&mut ev, v, "api", s(100), "DDD");
        }
        let a = ev.evaluate(s(120));
        let d = a.declaration.expect("failure declared");
        assert_eq!(d.kind, DeclarationKind::Failure);
        assert_eq!(a.state, HealthState::Failing { since: s(120) });
        // Declared once: the next evaluation does not declare again.
        assert!(ev.evaluate(s(121)).declaration.is_none());

        // v0 and v1 recover with a failure in the middle; v2 stays down.
        let step = |ev: &mut HealthEvaluator, t: u64, v0: &str, v1: &str| {
            feed(ev, "v0", "api", s(t), v0);
            feed(ev, "v1", "api", s(t), v1);
            feed(ev, "v2", "api", s(t), "D");
            ev.evaluate(s(t))
        };
        let table: &[(u64, &str, &str, bool)] = &[
            (130, "U", "U", false),
            (140, "U", "U", false),
            (150, "D", "U", false), // v0 falls back: its run restarts
            (160, "U", "U", false), // v1 has 4, v0 has 1
            (170, "U", "U", false), // v0 has 2
            (180, "U", "U", true),  // v0 has 3: quorum of 2 up
        ];
        for (t, a0, a1, recovered) in table {
            let a = step(&mut ev, *t, a0, a1);
            assert_eq!(a.declaration.is_some(), *recovered, "t={t}: {a:?}");
            if *recovered {
                let d = a.declaration.unwrap();
                assert_eq!(d.kind, DeclarationKind::Recovery);
                assert_eq!(a.state, HealthState::Healthy);
                assert!(d.summary.contains("RECOVERED"), "{}", d.summary);
                assert!(d.summary.contains("3 consecutive successes (threshold 3)"));
            } else {
                assert!(matches!(a.state, HealthState::Failing { .. }), "t={t}");
            }
        }
    }

    #[test]
    fn declaration_explains_probes_vantage_points_values_and_thresholds() {
        let mut ev = HealthEvaluator::new(settings(3, &["api", "media"])).unwrap();
        for v in ["v0", "v1"] {
            feed(&mut ev, v, "api", s(100), "DDD");
            feed(&mut ev, v, "media", s(100), "DDDD");
        }
        let a = ev.evaluate(s(130));
        let d = a.declaration.expect("declared");
        let e = &d.explanation;
        assert_eq!((e.votes.down, e.votes.quorum, e.votes.unknown), (2, 2, 1));
        let v0 = &e.vantage_points[0];
        assert_eq!(
            (v0.verdict, v0.down_probes, v0.needed),
            (VantageVerdict::Down, 2, 2)
        );
        assert_eq!(v0.probes[1].consecutive_failures, 4);
        assert_eq!(v0.probes[1].failure_threshold, 3);
        assert_eq!(v0.probes[1].last_reason.as_deref(), Some("HTTP 503"));
        assert_eq!(
            e.vantage_points[2].probes[0].unknown_cause,
            Some(UnknownCause::NoReport)
        );
        let want = "primary declared DOWN: 2 of 3 vantage points agree (quorum 2): \
            v0 [api: 3 consecutive failures (threshold 3), last: HTTP 503; \
            media: 4 consecutive failures (threshold 3), last: HTTP 503], \
            v1 [api: 3 consecutive failures (threshold 3), last: HTTP 503; \
            media: 4 consecutive failures (threshold 3), last: HTTP 503]; \
            others: v2 unknown (api: unknown (no report))";
        assert_eq!(d.summary, want);
        // The declaration is data: it survives a JSON round trip.
        let json = serde_json::to_string(&d).unwrap();
        let back: Declaration = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn late_out_of_order_and_repeated_samples() {
        let mut ev = HealthEvaluator::new(settings(1, &["api"])).unwrap();
        let sample = |t: u64, o: ProbeOutcome| ProbeSample::new("api", "v0", s(t), o);
        ev.observe(sample(100, ProbeOutcome::down("x"))).unwrap();
        ev.observe(sample(120, ProbeOutcome::down("x"))).unwrap();
        assert_eq!(probe_evidence(&ev, 0, 0, s(120)).consecutive_failures, 2);
        // The sample of 110 arrives late: three in a row.
        ev.observe(sample(110, ProbeOutcome::down("x"))).unwrap();
        assert_eq!(
            probe_evidence(&ev, 0, 0, s(120)).verdict,
            ProbeVerdict::Down
        );
        // A retried report of 110 that says up replaces it.
        ev.observe(sample(110, ProbeOutcome::Up)).unwrap();
        let e = probe_evidence(&ev, 0, 0, s(120));
        assert_eq!(
            (e.verdict, e.consecutive_failures),
            (ProbeVerdict::Suspect, 1)
        );
        // Repeating the latest sample does not count twice.
        ev.observe(sample(120, ProbeOutcome::down("x"))).unwrap();
        assert_eq!(probe_evidence(&ev, 0, 0, s(120)).consecutive_failures, 1);
    }

    #[test]
    fn samples_from_unconfigured_sources_are_refused() {
        let mut st = settings(2, &["api", "media"]);
        st.vantage_points[1].probes = vec!["api".into()];
        let mut ev = HealthEvaluator::new(st).unwrap();
        let e = ev
            .observe(ProbeSample::new("api", "nowhere", s(1), ProbeOutcome::Up))
            .unwrap_err();
        assert_eq!(e, ObserveError::UnknownVantage("nowhere".into()));
        let e = ev
            .observe(ProbeSample::new("media", "v1", s(1), ProbeOutcome::Up))
            .unwrap_err();
        assert!(matches!(e, ObserveError::UnknownProbe { .. }), "{e}");
        assert!(ev
            .observe(ProbeSample::new("media", "v0", s(1), ProbeOutcome::Up))
            .is_ok());
    }

    #[test]
    fn memory_stays_bounded() {
        let mut st = settings(1, &["api"]);
        st.probes[0].failure_ratio = Some(FailureRatio {
            ratio: 0.5,
            window: Duration::from_secs(3600),
            min_samples: 5,
        });
        let mut ev = HealthEvaluator::new(st).unwrap();
        for i in 0..5000u64 {
            let at = Duration::from_millis(i);
            ev.observe(ProbeSample::new("api", "v0", at, ProbeOutcome::Up))
                .unwrap();
        }
        assert_eq!(
            ev.vantages[0].streams[0].samples.len(),
            MAX_SAMPLES_PER_PROBE
        );
        let mut ev = HealthEvaluator::new(settings(1, &["api"])).unwrap();
        feed(&mut ev, "v0", "api", s(0), &"DU".repeat(100));
        assert_eq!(ev.vantages[0].streams[0].samples.len(), 3);
    }

    #[test]
    fn resumed_failing_state_is_not_declared_again() {
        let st = settings(1, &["api"]);
        let mut ev = HealthEvaluator::resume(st, HealthState::Failing { since: s(5) }).unwrap();
        let last = feed(&mut ev, "v0", "api", s(100), "DDDD");
        let a = ev.evaluate(last);
        assert!(a.declaration.is_none());
        assert_eq!(a.state, HealthState::Failing { since: s(5) });
    }
}
