//! The trigger decision: once a failure is declared, fail over by itself, recommend a failover to
//! a person, or hold. Pure: the caller gathers the inputs (readiness, lag, runs, drills,
//! maintenance windows) and passes the time.
//!
//! Interlocks guard the automatic mode only; each one alone holds an automatic run, and a hold
//! names every interlock that blocks, not just the first.

use super::evaluate::{Declaration, DeclarationKind};
use crate::readiness::Verdict;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::time::Duration;

/// What the trigger does once a failure is declared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerMode {
    /// Nothing: a declaration is recorded and notified, no failover is proposed.
    Off,
    /// Notify and wait for an operator's approval (default). Never fails over by itself.
    #[default]
    Recommend,
    /// Fail over by itself when every interlock is clear; otherwise hold and notify.
    Auto,
}

/// The trigger's policy.
///
/// Defaults: mode `recommend`, cool-down 1 h (as GitHub's orchestrator blocks recoveries for
/// 3,600 s after one), readiness no older than 15 min (three of the 5-minute re-evaluations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerPolicy {
    /// Off, recommend or auto.
    #[serde(default)]
    pub mode: TriggerMode,
    /// After any run (automatic, manual or drill) ends, no automatic run starts for this long.
    #[serde(default = "default_cool_down", with = "humantime_serde")]
    pub cool_down: Duration,
    /// A readiness evaluation older than this does not count as passing.
    #[serde(default = "default_readiness_max_age", with = "humantime_serde")]
    pub readiness_max_age: Duration,
}

fn default_cool_down() -> Duration {
    Duration::from_secs(3600)
}
fn default_readiness_max_age() -> Duration {
    Duration::from_secs(15 * 60)
}

impl Default for TriggerPolicy {
    fn default() -> Self {
        TriggerPolicy {
            mode: TriggerMode::default(),
            cool_down: default_cool_down(),
            readiness_max_age: default_readiness_max_age(),
        }
    }
}

impl TriggerPolicy {
    /// The default policy with another mode.
    pub fn with_mode(mode: TriggerMode) -> Self {
        TriggerPolicy {
            mode,
            ..Self::default()
        }
    }
}

/// The failure in force, as declared by the health evaluator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredFailure {
    /// When it was declared.
    #[serde(with = "humantime_serde")]
    pub since: Duration,
    /// The declaration's one-line summary.
    pub summary: String,
}

impl DeclaredFailure {
    /// The failure a declaration declares; `None` for a recovery.
    pub fn from_declaration(d: &Declaration) -> Option<Self> {
        (d.kind == DeclarationKind::Failure).then(|| DeclaredFailure {
            since: d.at,
            summary: d.summary.clone(),
        })
    }
}

/// The latest DR readiness evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadinessInput {
    /// Its verdict; only `ready` passes.
    pub verdict: Verdict,
    /// When it was evaluated.
    #[serde(with = "humantime_serde")]
    pub evaluated_at: Duration,
    /// One line about it (e.g. the failing checks).
    #[serde(default)]
    pub summary: String,
}

/// The replication lag of one database against its budget (the RPO).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LagReading {
    /// Logical database name.
    pub database: String,
    /// The measured lag; `None`: could not be measured.
    #[serde(default, with = "humantime_serde")]
    pub lag: Option<Duration>,
    /// Largest acceptable lag.
    #[serde(with = "humantime_serde")]
    pub budget: Duration,
}

/// The latest run of the environment (any kind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastRun {
    /// Run id.
    pub id: String,
    /// When it started.
    #[serde(with = "humantime_serde")]
    pub started_at: Duration,
    /// When it ended; `None` while it runs.
    #[serde(default, with = "humantime_serde")]
    pub ended_at: Option<Duration>,
    /// Started by the trigger rather than a person.
    #[serde(default)]
    pub automatic: bool,
}

/// A declared maintenance window, `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// Start, inclusive.
    #[serde(with = "humantime_serde")]
    pub start: Duration,
    /// End, exclusive.
    #[serde(with = "humantime_serde")]
    pub end: Duration,
    /// Why (e.g. `primary database upgrade`).
    pub reason: String,
}

/// Everything the trigger decision looks at, gathered by the caller. Serializable, so a decision
/// can be recorded with its inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerInputs {
    /// The failure declared by the health evaluator and not yet recovered; `None`: healthy.
    #[serde(default)]
    pub failure: Option<DeclaredFailure>,
    /// The latest readiness evaluation; `None`: never evaluated.
    #[serde(default)]
    pub readiness: Option<ReadinessInput>,
    /// Replication lag per database (empty: no replicated database).
    #[serde(default)]
    pub replication: Vec<LagReading>,
    /// The latest run, if any.
    #[serde(default)]
    pub last_run: Option<LastRun>,
    /// A run in progress (or interrupted and not finished), by id.
    #[serde(default)]
    pub active_run: Option<String>,
    /// A drill under way, by name.
    #[serde(default)]
    pub drill: Option<String>,
    /// Declared maintenance windows (past, current or future).
    #[serde(default)]
    pub maintenance: Vec<MaintenanceWindow>,
    /// An automatic run nobody has acknowledged yet, by id.
    #[serde(default)]
    pub unacknowledged_automatic_run: Option<String>,
}

/// One reason an automatic run may not start now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "interlock", rename_all = "snake_case", deny_unknown_fields)]
pub enum Interlock {
    /// DR readiness has never been evaluated.
    ReadinessUnknown,
    /// DR readiness is not `ready`.
    ReadinessNotPassing {
        /// Its verdict.
        verdict: Verdict,
        /// Its one-line summary.
        summary: String,
    },
    /// The latest readiness evaluation is too old to trust.
    ReadinessStale {
        /// Its age.
        #[serde(with = "humantime_serde")]
        age: Duration,
        /// The policy's limit.
        #[serde(with = "humantime_serde")]
        max_age: Duration,
    },
    /// A database's replication lag is over its budget.
    LagOverBudget {
        /// The database.
        database: String,
        /// Its lag.
        #[serde(with = "humantime_serde")]
        lag: Duration,
        /// Its budget.
        #[serde(with = "humantime_serde")]
        budget: Duration,
    },
    /// A database's replication lag could not be measured.
    LagUnknown {
        /// The database.
        database: String,
        /// Its budget.
        #[serde(with = "humantime_serde")]
        budget: Duration,
    },
    /// A run is in progress.
    RunInProgress {
        /// Its id.
        run: String,
    },
    /// Within the cool-down after the last run.
    CoolDown {
        /// The last run.
        run: String,
        /// When the cool-down ends.
        #[serde(with = "humantime_serde")]
        until: Duration,
        /// How long is left.
        #[serde(with = "humantime_serde")]
        remaining: Duration,
    },
    /// A drill is under way.
    DrillInProgress {
        /// The drill.
        drill: String,
    },
    /// Within a declared maintenance window.
    MaintenanceWindow {
        /// Why the window was declared.
        reason: String,
        /// When it ends.
        #[serde(with = "humantime_serde")]
        until: Duration,
    },
    /// An automatic run has not been acknowledged by a person.
    UnacknowledgedAutomaticRun {
        /// Its id.
        run: String,
    },
}

fn fmt_d(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

impl Interlock {
    /// The interlock's name, as serialized (`cool_down`, `lag_over_budget`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Interlock::ReadinessUnknown => "readiness_unknown",
            Interlock::ReadinessNotPassing { .. } => "readiness_not_passing",
            Interlock::ReadinessStale { .. } => "readiness_stale",
            Interlock::LagOverBudget { .. } => "lag_over_budget",
            Interlock::LagUnknown { .. } => "lag_unknown",
            Interlock::RunInProgress { .. } => "run_in_progress",
            Interlock::CoolDown { .. } => "cool_down",
            Interlock::DrillInProgress { .. } => "drill_in_progress",
            Interlock::MaintenanceWindow { .. } => "maintenance_window",
            Interlock::UnacknowledgedAutomaticRun { .. } => "unacknowledged_automatic_run",
        }
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        match self {
            Interlock::ReadinessUnknown => "DR readiness has never been evaluated".into(),
            Interlock::ReadinessNotPassing { verdict, summary } => {
                let v = match verdict {
                    Verdict::Ready => "ready",
                    Verdict::NotReady => "not ready",
                    Verdict::Unknown => "unknown (could not check)",
                };
                if summary.is_empty() {
                    format!("DR readiness is {v}")
                } else {
                    format!("DR readiness is {v}: {summary}")
                }
            }
            Interlock::ReadinessStale { age, max_age } => format!(
                "DR readiness was last evaluated {} ago (older than {})",
                fmt_d(*age),
                fmt_d(*max_age)
            ),
            Interlock::LagOverBudget {
                database,
                lag,
                budget,
            } => format!(
                "replication lag of {database} is {}, over its budget of {}",
                humantime::format_duration(*lag),
                humantime::format_duration(*budget)
            ),
            Interlock::LagUnknown { database, budget } => format!(
                "replication lag of {database} could not be measured (budget {})",
                humantime::format_duration(*budget)
            ),
            Interlock::RunInProgress { run } => format!("run {run} is in progress"),
            Interlock::CoolDown { run, remaining, .. } => format!(
                "cool-down after run {run}: {} left before another automatic run",
                fmt_d(*remaining)
            ),
            Interlock::DrillInProgress { drill } => format!("drill {drill} is under way"),
            Interlock::MaintenanceWindow { reason, .. } => {
                format!("a maintenance window is open ({reason})")
            }
            Interlock::UnacknowledgedAutomaticRun { run } => format!(
                "automatic run {run} is not acknowledged; at most one automatic run until a person acknowledges it"
            ),
        }
    }
}

/// What to do about the declared failure, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case", deny_unknown_fields)]
pub enum TriggerDecision {
    /// No failure is declared: nothing to do.
    NoFailure,
    /// Trigger mode off: the declared failure is recorded and notified, nothing more.
    Off {
        /// The declared failure.
        failure: DeclaredFailure,
    },
    /// Recommend mode: notify and wait for an operator's approval. `interlocks` lists what would
    /// hold an automatic run, for the operator to weigh.
    Recommend {
        /// The declared failure.
        failure: DeclaredFailure,
        /// Interlocks that would block an automatic run now (advisory).
        interlocks: Vec<Interlock>,
    },
    /// Auto mode and every interlock clear: start the failover now.
    FailOver {
        /// The declared failure.
        failure: DeclaredFailure,
    },
    /// Auto mode, held: no automatic run. Notify; a person may still start one.
    Hold {
        /// The declared failure.
        failure: DeclaredFailure,
        /// Every interlock that blocks.
        reasons: Vec<Interlock>,
    },
}

impl TriggerDecision {
    /// True only for [`TriggerDecision::FailOver`].
    pub fn is_fail_over(&self) -> bool {
        matches!(self, TriggerDecision::FailOver { .. })
    }

    /// One line for people, notifications and the journal.
    pub fn summary(&self) -> String {
        let joined = |v: &[Interlock]| {
            v.iter()
                .map(Interlock::summary)
                .collect::<Vec<_>>()
                .join("; ")
        };
        match self {
            TriggerDecision::NoFailure => "no failure declared".into(),
            TriggerDecision::Off { failure } => {
                format!("trigger off; not acting on: {}", failure.summary)
            }
            TriggerDecision::Recommend {
                failure,
                interlocks,
            } => {
                let mut s = format!(
                    "failover recommended, waiting for an operator's approval: {}",
                    failure.summary
                );
                if !interlocks.is_empty() {
                    let _ = write!(s, " (note: {})", joined(interlocks));
                }
                s
            }
            TriggerDecision::FailOver { failure } => format!(
                "automatic failover: every interlock clear; {}",
                failure.summary
            ),
            TriggerDecision::Hold { failure, reasons } => format!(
                "automatic failover held: {}; declared: {}",
                joined(reasons),
                failure.summary
            ),
        }
    }
}

/// Every interlock that blocks an automatic run at `now`, in a fixed order: readiness, lag (in
/// input order), run in progress, cool-down, drill, maintenance windows, acknowledgement.
pub fn interlocks(policy: &TriggerPolicy, inputs: &TriggerInputs, now: Duration) -> Vec<Interlock> {
    let mut out = Vec::new();
    match &inputs.readiness {
        None => out.push(Interlock::ReadinessUnknown),
        Some(r) => {
            if r.verdict != Verdict::Ready {
                out.push(Interlock::ReadinessNotPassing {
                    verdict: r.verdict,
                    summary: r.summary.clone(),
                });
            }
            let age = now.saturating_sub(r.evaluated_at);
            if age > policy.readiness_max_age {
                out.push(Interlock::ReadinessStale {
                    age,
                    max_age: policy.readiness_max_age,
                });
            }
        }
    }
    for l in &inputs.replication {
        match l.lag {
            None => out.push(Interlock::LagUnknown {
                database: l.database.clone(),
                budget: l.budget,
            }),
            Some(lag) if lag > l.budget => out.push(Interlock::LagOverBudget {
                database: l.database.clone(),
                lag,
                budget: l.budget,
            }),
            Some(_) => {}
        }
    }
    if let Some(run) = &inputs.active_run {
        out.push(Interlock::RunInProgress { run: run.clone() });
    }
    if let Some(last) = &inputs.last_run {
        let from = last
            .ended_at
            .unwrap_or(last.started_at)
            .max(last.started_at);
        let until = from + policy.cool_down;
        if now < until {
            out.push(Interlock::CoolDown {
                run: last.id.clone(),
                until,
                remaining: until - now,
            });
        }
    }
    if let Some(drill) = &inputs.drill {
        out.push(Interlock::DrillInProgress {
            drill: drill.clone(),
        });
    }
    for w in &inputs.maintenance {
        if w.start <= now && now < w.end {
            out.push(Interlock::MaintenanceWindow {
                reason: w.reason.clone(),
                until: w.end,
            });
        }
    }
    if let Some(run) = &inputs.unacknowledged_automatic_run {
        out.push(Interlock::UnacknowledgedAutomaticRun { run: run.clone() });
    }
    out
}

/// The trigger decision at `now`. Pure.
///
/// No declared failure → `NoFailure`. Otherwise by mode: `off` → `Off`; `recommend` →
/// `Recommend` (never a failover by itself; blocking interlocks are listed as notes); `auto` →
/// `FailOver` when no interlock blocks, else `Hold` naming every blocking interlock.
pub fn decide(policy: &TriggerPolicy, inputs: &TriggerInputs, now: Duration) -> TriggerDecision {
    let Some(failure) = inputs.failure.clone() else {
        return TriggerDecision::NoFailure;
    };
    match policy.mode {
        TriggerMode::Off => TriggerDecision::Off { failure },
        TriggerMode::Recommend => TriggerDecision::Recommend {
            failure,
            interlocks: interlocks(policy, inputs, now),
        },
        TriggerMode::Auto => {
            let reasons = interlocks(policy, inputs, now);
            if reasons.is_empty() {
                TriggerDecision::FailOver { failure }
            } else {
                TriggerDecision::Hold { failure, reasons }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Duration = Duration::from_secs(100_000);

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    /// Inputs with a declared failure and every interlock clear.
    fn clear() -> TriggerInputs {
        TriggerInputs {
            failure: Some(DeclaredFailure {
                since: NOW - s(5),
                summary: "primary declared DOWN: 2 of 3 vantage points agree".into(),
            }),
            readiness: Some(ReadinessInput {
                verdict: Verdict::Ready,
                evaluated_at: NOW - s(60),
                summary: String::new(),
            }),
            replication: vec![LagReading {
                database: "orders".into(),
                lag: Some(Duration::from_millis(800)),
                budget: s(5),
            }],
            last_run: Some(LastRun {
                id: "run-old".into(),
                started_at: NOW - s(3 * 3600),
                ended_at: Some(NOW - s(2 * 3600)),
                automatic: true,
            }),
            active_run: None,
            drill: None,
            maintenance: vec![MaintenanceWindow {
                start: NOW - s(7200),
                end: NOW - s(3600),
                reason: "last week's upgrade".into(),
            }],
            unacknowledged_automatic_run: None,
        }
    }

    type Edit = fn(&mut TriggerInputs);

    /// Each interlock alone, with its expected name.
    fn each_interlock() -> Vec<(&'static str, Edit)> {
        vec![
            ("readiness_unknown", |i| i.readiness = None),
            ("readiness_not_passing", |i| {
                if let Some(r) = i.readiness.as_mut() {
                    r.verdict = Verdict::NotReady;
                }
            }),
            ("readiness_not_passing", |i| {
                if let Some(r) = i.readiness.as_mut() {
                    r.verdict = Verdict::Unknown;
                }
            }),
            ("readiness_stale", |i| {
                if let Some(r) = i.readiness.as_mut() {
                    r.evaluated_at = NOW - s(15 * 60 + 1);
                }
            }),
            ("lag_over_budget", |i| i.replication[0].lag = Some(s(6))),
            ("lag_unknown", |i| i.replication[0].lag = None),
            ("run_in_progress", |i| i.active_run = Some("run-now".into())),
            ("cool_down", |i| {
                i.last_run.as_mut().unwrap().ended_at = Some(NOW - s(3599))
            }),
            ("cool_down", |i| {
                // A manual run counts too.
                let r = i.last_run.as_mut().unwrap();
                r.automatic = false;
                r.ended_at = Some(NOW - s(60));
            }),
            ("drill_in_progress", |i| i.drill = Some("quarterly".into())),
            ("maintenance_window", |i| {
                i.maintenance.push(MaintenanceWindow {
                    start: NOW - s(60),
                    end: NOW + s(60),
                    reason: "database upgrade".into(),
                })
            }),
            ("unacknowledged_automatic_run", |i| {
                i.unacknowledged_automatic_run = Some("run-auto".into())
            }),
        ]
    }

    #[test]
    fn auto_fails_over_only_when_every_interlock_is_clear() {
        let auto = TriggerPolicy::with_mode(TriggerMode::Auto);
        let d = decide(&auto, &clear(), NOW);
        assert!(d.is_fail_over(), "{d:?}");
        assert!(d
            .summary()
            .starts_with("automatic failover: every interlock clear"));
    }

    #[test]
    fn each_interlock_alone_holds_auto_and_is_named() {
        let auto = TriggerPolicy::with_mode(TriggerMode::Auto);
        for (name, edit) in each_interlock() {
            let mut inputs = clear();
            edit(&mut inputs);
            match decide(&auto, &inputs, NOW) {
                TriggerDecision::Hold { reasons, failure } => {
                    let names: Vec<_> = reasons.iter().map(Interlock::name).collect();
                    assert_eq!(names, vec![name], "{reasons:?}");
                    assert_eq!(Some(failure), inputs.failure);
                    let json = serde_json::to_value(&reasons[0]).unwrap();
                    assert_eq!(json["interlock"], name);
                    assert!(!reasons[0].summary().is_empty());
                }
                other => panic!("{name}: expected a hold, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_hold_names_every_blocking_interlock() {
        let auto = TriggerPolicy::with_mode(TriggerMode::Auto);
        let mut inputs = clear();
        let all = each_interlock();
        for (_, edit) in &all {
            edit(&mut inputs);
        }
        let TriggerDecision::Hold { reasons, .. } = decide(&auto, &inputs, NOW) else {
            panic!("expected a hold");
        };
        let names: Vec<_> = reasons.iter().map(Interlock::name).collect();
        // Readiness unknown replaces the other readiness findings; the lag unknown replaces the
        // lag over budget (same database, edited last).
        assert_eq!(
            names,
            vec![
                "readiness_unknown",
                "lag_unknown",
                "run_in_progress",
                "cool_down",
                "drill_in_progress",
                "maintenance_window",
                "unacknowledged_automatic_run"
            ]
        );
        let line = decide(&auto, &inputs, NOW).summary();
        assert!(line.contains("drill quarterly is under way"), "{line}");
        assert!(
            line.contains("a maintenance window is open (database upgrade)"),
            "{line}"
        );
    }

    #[test]
    fn recommend_never_fails_over_and_notes_the_interlocks() {
        let rec = TriggerPolicy::with_mode(TriggerMode::Recommend);
        let d = decide(&rec, &clear(), NOW);
        assert_eq!(
            d,
            TriggerDecision::Recommend {
                failure: clear().failure.unwrap(),
                interlocks: vec![]
            }
        );
        for (name, edit) in each_interlock() {
            let mut inputs = clear();
            edit(&mut inputs);
            match decide(&rec, &inputs, NOW) {
                TriggerDecision::Recommend { interlocks, .. } => {
                    assert_eq!(interlocks[0].name(), name);
                }
                other => panic!("{name}: recommend mode gave {other:?}"),
            }
        }
        assert_eq!(TriggerPolicy::default().mode, TriggerMode::Recommend);
    }

    #[test]
    fn off_and_no_failure_do_nothing() {
        for mode in [TriggerMode::Off, TriggerMode::Recommend, TriggerMode::Auto] {
            let mut inputs = clear();
            inputs.failure = None;
            let d = decide(&TriggerPolicy::with_mode(mode), &inputs, NOW);
            assert_eq!(d, TriggerDecision::NoFailure, "{mode:?}");
        }
        let d = decide(&TriggerPolicy::with_mode(TriggerMode::Off), &clear(), NOW);
        assert!(matches!(d, TriggerDecision::Off { .. }), "{d:?}");
    }

    #[test]
    fn boundaries() {
        let auto = TriggerPolicy::with_mode(TriggerMode::Auto);
        // (what, edit, blocked?)
        let table: &[(&str, Edit, bool)] = &[
            (
                "lag at the budget",
                |i| i.replication[0].lag = Some(s(5)),
                false,
            ),
            (
                "lag 1 ms over",
                |i| i.replication[0].lag = Some(s(5) + Duration::from_millis(1)),
                true,
            ),
            (
                "readiness at max age",
                |i| {
                    if let Some(r) = i.readiness.as_mut() {
                        r.evaluated_at = NOW - s(15 * 60);
                    }
                },
                false,
            ),
            (
                "cool-down just over",
                |i| i.last_run.as_mut().unwrap().ended_at = Some(NOW - s(3600)),
                false,
            ),
            (
                "cool-down 1 s left",
                |i| i.last_run.as_mut().unwrap().ended_at = Some(NOW - s(3599)),
                true,
            ),
            (
                "unfinished run counts from its start",
                |i| {
                    let r = i.last_run.as_mut().unwrap();
                    r.started_at = NOW - s(600);
                    r.ended_at = None;
                },
                true,
            ),
            (
                "maintenance starts now",
                |i| {
                    i.maintenance.push(MaintenanceWindow {
                        start: NOW,
                        end: NOW + s(1),
                        reason: "x".into(),
                    })
                },
                true,
            ),
            (
                "maintenance ended now",
                |i| {
                    i.maintenance.push(MaintenanceWindow {
                        start: NOW - s(9),
                        end: NOW,
                        reason: "x".into(),
                    })
                },
                false,
            ),
            (
                "future maintenance",
                |i| {
                    i.maintenance.push(MaintenanceWindow {
                        start: NOW + s(1),
                        end: NOW + s(9),
                        reason: "x".into(),
                    })
                },
                false,
            ),
            ("no replicated database", |i| i.replication.clear(), false),
            ("never ran", |i| i.last_run = None, false),
        ];
        for (what, edit, blocked) in table {
            let mut inputs = clear();
            edit(&mut inputs);
            let d = decide(&auto, &inputs, NOW);
            assert_eq!(!d.is_fail_over(), *blocked, "{what}: {d:?}");
        }
    }

    #[test]
    fn policy_from_toml_with_defaults() {
        let p: TriggerPolicy = toml::from_str("mode = \"auto\"").unwrap();
        assert_eq!(p.mode, TriggerMode::Auto);
        assert_eq!(p.cool_down, s(3600));
        assert_eq!(p.readiness_max_age, s(900));
        let p: TriggerPolicy = toml::from_str("cool_down = \"2h\"").unwrap();
        assert_eq!((p.mode, p.cool_down), (TriggerMode::Recommend, s(7200)));
        assert!(toml::from_str::<TriggerPolicy>("cooldown = \"2h\"").is_err());
        // Inputs and decisions are data: they round-trip through JSON.
        let mut inputs = clear();
        inputs.drill = Some("q3".into());
        let json = serde_json::to_string(&inputs).unwrap();
        assert_eq!(
            serde_json::from_str::<TriggerInputs>(&json).unwrap(),
            inputs
        );
        let d = decide(&TriggerPolicy::with_mode(TriggerMode::Auto), &inputs, NOW);
        let back: TriggerDecision =
            serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
    }
}
