//! Seeded scenarios for health evaluation and the trigger: `flapping_primary` (scenario 5) and
//! `observer_partition` (scenario 6) of `../shared/scenarios.md`, with one vantage point isolated,
//! slow probes, a missing or late observer, and real outages starting at a random time.
//!
//! Each scenario is generated from its seed by a small deterministic PRNG (splitmix64), so a
//! failure names the seed that reproduces it. Probes run from 3 (sometimes 5) vantage points,
//! each with its own phase, jitter, latencies and report delays; the evaluator is fed every
//! report on arrival and evaluated at each arrival and once every interval in between.
//!
//! Noise is what one probe, one observer or one network path can do without a real outage:
//! a minority of vantage points failing completely (isolated, path cut, slow, missing, late), and
//! on every other probe failures that stay below that probe's own thresholds (bursts shorter than
//! `failure_threshold`, a ratio under `failure_ratio`) or that alternate every interval
//! (flapping). None of it may ever be declared.
//!
//! The benchmark `benches/detection.rs` includes this file to run the same outage scenarios.

use pilotlight_core::health::*;
use pilotlight_core::readiness::Verdict;
use std::time::Duration;

/// splitmix64: tiny, deterministic, good enough to spread scenarios.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x005e_ed0f_9117_1167)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Uniform duration in `[lo, hi)`.
    pub fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let span = (hi - lo).as_nanos() as u64;
        lo + Duration::from_nanos(self.below(span))
    }
}

/// The kinds of scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Scenario 5: the primary flaps every probe interval; often one of the vantage points is
    /// isolated as well.
    FlappingPrimary,
    /// One vantage point is isolated: all its probes fail.
    VantageIsolated,
    /// Probes are slow; timeouts count as the settings say.
    SlowProbes,
    /// An observer never reports, stops reporting, or reports late.
    ObserverMissing,
    /// Scenario 6: the control service's own path to the primary is cut.
    ObserverPartition,
    /// A real outage at a random time, then (usually) a recovery.
    RealOutage,
}

/// Every family, in seed order.
pub const FAMILIES: [Family; 6] = [
    Family::FlappingPrimary,
    Family::VantageIsolated,
    Family::SlowProbes,
    Family::ObserverMissing,
    Family::ObserverPartition,
    Family::RealOutage,
];

/// Settings under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The `standard` preset.
    Standard,
    /// The `fast` preset.
    Fast,
    /// The `fast` preset plus a failure-ratio rule (70% over 1 min, at least 5 samples).
    FastWithRatio,
}

impl Variant {
    /// The preset behind the variant.
    pub fn preset(self) -> Preset {
        match self {
            Variant::Standard => Preset::Standard,
            Variant::Fast | Variant::FastWithRatio => Preset::Fast,
        }
    }
}

/// How a vantage point behaves in a scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    /// Sees what the primary does (plus bounded noise).
    Normal,
    /// Its own network is broken: every probe fails.
    Isolated,
    /// Every probe times out (an overloaded or far-away observer).
    AllTimeouts,
    /// Never reports.
    Missing,
    /// Stops reporting at this time.
    StopsAt(Duration),
    /// Reports arrive this much later than usual (beyond `stale_after`).
    Late(Duration),
}

impl Role {
    /// Whether this vantage point can see a real outage and a recovery.
    fn sees_primary(self) -> bool {
        matches!(self, Role::Normal)
    }
}

/// What the primary does over time.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Primary {
    /// Up throughout.
    Up,
    /// Flaps every probe interval throughout.
    Flapping,
    /// Up, down from `start`, flapping from `flap_from`, up from `up_from`.
    Outage {
        start: Duration,
        flap_from: Duration,
        up_from: Duration,
    },
}

/// One report and when it reaches the evaluator.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// When the evaluator gets it.
    pub arrival: Duration,
    /// The report.
    pub sample: ProbeSample,
    /// Index of its vantage point in the settings.
    pub vantage: usize,
    /// Index of its probe in the settings.
    pub probe: usize,
}

/// A generated scenario.
pub struct Scenario {
    /// Its seed.
    pub seed: u64,
    /// Its family.
    pub family: Family,
    /// Its settings variant.
    pub variant: Variant,
    /// The settings.
    pub settings: HealthSettings,
    /// When the real outage starts, if any.
    pub outage_start: Option<Duration>,
    /// When the primary is steadily up again after the outage (flapping ended).
    pub up_from: Option<Duration>,
    /// When the primary stopped being down (start of the post-outage flapping, or `up_from`).
    pub down_until: Option<Duration>,
    /// Vantage points that see the primary as it is (can agree on an outage and its recovery).
    pub seeing: u32,
    /// Every report, in arrival order.
    pub arrivals: Vec<Arrival>,
    /// When the simulation ends.
    pub end: Duration,
}

/// A declaration made while a scenario ran.
#[derive(Debug, Clone)]
pub struct Declared {
    /// When.
    pub at: Duration,
    /// The declaration.
    pub declaration: Declaration,
    /// Trailing successes per vantage point and probe at that time, from the reports that had
    /// arrived (the ground truth for the hysteresis check).
    pub trailing_successes: Vec<Vec<u32>>,
}

const VANTAGE_NAMES: [&str; 5] = ["local", "eu-west-1", "us-west-2", "ap-south-1", "sa-east-1"];
const PROBE_NAMES: [&str; 3] = ["api-https", "media-tcp", "join-conference"];

/// The class the evaluator gives a report (mirrors its documented rule: at or over the timeout is
/// a timeout, counted as the settings say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Up,
    Down,
    Unknown,
}

fn class_of(sample: &ProbeSample, s: &ProbeSettings) -> Class {
    let timed_out = sample.latency.is_some_and(|l| l >= s.timeout);
    match (&sample.outcome, timed_out) {
        (ProbeOutcome::Unknown, _) => Class::Unknown,
        (_, true) => match s.timeout_counts_as {
            TimeoutCountsAs::Down => Class::Down,
            TimeoutCountsAs::Unknown => Class::Unknown,
        },
        (ProbeOutcome::Up, false) => Class::Up,
        (ProbeOutcome::Down { .. }, false) => Class::Down,
    }
}

/// Keeps one probe's noise below that probe's own thresholds: a failure is allowed only if it
/// makes neither `failure_threshold` consecutive failures nor, in any stretch of reports that
/// fits in the ratio window, a failure ratio at or over the configured one.
struct NoiseBound {
    history: Vec<(Duration, Class)>,
}

impl NoiseBound {
    fn allows_failure(&self, at: Duration, s: &ProbeSettings) -> bool {
        if s.failure_threshold > 0 {
            let run = self
                .history
                .iter()
                .rev()
                .take_while(|(_, c)| *c == Class::Down)
                .count() as u32;
            if run + 1 >= s.failure_threshold {
                return false;
            }
        }
        if let Some(r) = s.failure_ratio {
            let (mut known, mut failures) = (1u32, 1u32);
            if known >= r.min_samples && f64::from(failures) / f64::from(known) >= r.ratio {
                return false;
            }
            for (t, c) in self.history.iter().rev() {
                if at.saturating_sub(*t) > r.window {
                    break;
                }
                match c {
                    Class::Up => known += 1,
                    Class::Down => {
                        known += 1;
                        failures += 1;
                    }
                    Class::Unknown => continue,
                }
                if known >= r.min_samples && f64::from(failures) / f64::from(known) >= r.ratio {
                    return false;
                }
            }
        }
        true
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Scenario {
    /// The scenario of `seed` in `family` with `variant` settings.
    pub fn generate(seed: u64, family: Family, variant: Variant) -> Scenario {
        let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(family as u64));
        let m = if rng.chance(0.25) { 5 } else { 3 };
        let n_probes = 1 + rng.below(3) as usize;
        let probes: Vec<ProbeSpec> = PROBE_NAMES[..n_probes]
            .iter()
            .map(|p| {
                let mut spec = ProbeSpec::new(*p);
                if variant == Variant::FastWithRatio {
                    spec.failure_ratio = Some(FailureRatio {
                        ratio: 0.7,
                        window: Duration::from_secs(60),
                        min_samples: 5,
                    });
                }
                spec
            })
            .collect();
        let vantages: Vec<VantagePoint> = VANTAGE_NAMES[..m]
            .iter()
            .map(|v| VantagePoint::new(*v))
            .collect();
        let mut settings = HealthSettings::new(variant.preset(), probes, vantages);
        if rng.chance(0.25) {
            settings.vantage_rule = VantageRule::Any;
        }
        let timeouts_unknown = rng.chance(if family == Family::SlowProbes {
            0.4
        } else {
            0.15
        });
        if timeouts_unknown {
            for p in &mut settings.probes {
                p.timeout_counts_as = Some(TimeoutCountsAs::Unknown);
            }
        }
        settings.validate().expect("generated settings are valid");
        let base = settings.probe_settings(&settings.probes[0].id).unwrap();
        let i = base.interval;

        // Roles and the primary.
        let mut roles = vec![Role::Normal; m];
        let mut primary = Primary::Up;
        let mut end = i * 30;
        let mut noise = rng.unit() * 0.35;
        let mut slow = false;
        let pick = |rng: &mut Rng| rng.below(m as u64) as usize;
        let absent = |rng: &mut Rng, end: Duration| match rng.below(3) {
            0 => Role::Missing,
            1 => Role::StopsAt(rng.between(Duration::ZERO, end)),
            _ => Role::Late(base.stale_after + rng.between(ms(1), i)),
        };
        match family {
            Family::FlappingPrimary => {
                primary = Primary::Flapping;
                if rng.chance(0.6) {
                    roles[pick(&mut rng)] = Role::Isolated;
                }
            }
            Family::VantageIsolated => roles[pick(&mut rng)] = Role::Isolated,
            Family::SlowProbes => {
                slow = true;
                noise = if timeouts_unknown {
                    rng.unit()
                } else {
                    0.2 + rng.unit() * 0.5
                };
                if rng.chance(0.3) {
                    roles[pick(&mut rng)] = Role::AllTimeouts;
                }
            }
            Family::ObserverMissing => {
                let a = pick(&mut rng);
                roles[a] = absent(&mut rng, end);
                if m == 5 {
                    let b = (a + 1 + rng.below(4) as usize) % m;
                    roles[b] = absent(&mut rng, end);
                }
                if rng.chance(0.4) {
                    if let Some(j) = (0..m).find(|j| roles[*j] == Role::Normal) {
                        roles[j] = Role::Isolated;
                    }
                }
            }
            Family::ObserverPartition => roles[0] = Role::Isolated,
            Family::RealOutage => {
                noise = rng.unit() * 0.2;
                let start = rng.between(i * 3, i * 20);
                let down_for = i * (base.failure_threshold + 2 + rng.below(6) as u32);
                let flap_from = start + down_for;
                let flaps = if rng.chance(0.5) {
                    0
                } else {
                    2 + rng.below(5) as u32
                };
                let up_from = flap_from + i * flaps;
                end = up_from + i * (base.recovery_threshold + 6);
                primary = Primary::Outage {
                    start,
                    flap_from,
                    up_from,
                };
                match rng.below(5) {
                    0 => roles[pick(&mut rng)] = absent(&mut rng, end),
                    1 => roles[pick(&mut rng)] = Role::Isolated,
                    2 => {
                        // One isolated and one missing: still enough to declare with 3 of 3
                        // left, never enough to recover.
                        let a = pick(&mut rng);
                        roles[a] = Role::Isolated;
                        roles[(a + 1) % m] = Role::Missing;
                    }
                    _ => {}
                }
            }
        }

        // Reports.
        let mut arrivals = Vec::new();
        for (vi, v) in settings.vantage_points.iter().enumerate() {
            let role = roles[vi];
            let remote = vi != 0;
            for (pi, spec) in settings.probes.iter().enumerate() {
                let ps = spec.resolve(settings.preset, settings.stale_after);
                let phase = rng.between(Duration::ZERO, ps.interval);
                let flap_parity = if rng.chance(0.5) { 0 } else { rng.below(2) };
                let mut bound = NoiseBound {
                    history: Vec::new(),
                };
                let mut last_arrival = Duration::ZERO;
                let mut k: u64 = 0;
                loop {
                    let start = phase + ps.interval * k as u32 + rng.between(ms(0), ms(300));
                    k += 1;
                    if start >= end {
                        break;
                    }
                    let quick = rng.between(ms(20), ms(400));
                    let slowish = ps.timeout.mul_f64(0.3 + 0.65 * rng.unit());
                    let timed_out = ps.timeout + rng.between(ms(0), ms(50));
                    let timeout_outcome = |rng: &mut Rng| {
                        if rng.chance(0.5) {
                            ProbeOutcome::down("timed out")
                        } else {
                            ProbeOutcome::Up
                        }
                    };
                    let fail = |rng: &mut Rng, allow_timeout: bool| -> (ProbeOutcome, Duration) {
                        match rng.below(if allow_timeout { 3 } else { 2 }) {
                            0 => (ProbeOutcome::down("connection refused"), quick),
                            1 => (ProbeOutcome::down("HTTP 503"), quick),
                            _ => (timeout_outcome(rng), timed_out),
                        }
                    };
                    let flap_down = (k + flap_parity).is_multiple_of(2);
                    let healthy = || (ProbeOutcome::Up, if slow { slowish } else { quick });
                    let (outcome, latency) = match role {
                        Role::Isolated => fail(&mut rng, !timeouts_unknown),
                        Role::AllTimeouts => (timeout_outcome(&mut rng), timed_out),
                        _ => match primary {
                            Primary::Up => healthy(),
                            Primary::Flapping if flap_down => fail(&mut rng, true),
                            Primary::Flapping => healthy(),
                            Primary::Outage {
                                start: s,
                                flap_from,
                                up_from,
                            } => {
                                if start < s || start >= up_from {
                                    healthy()
                                } else if start < flap_from || flap_down {
                                    // Down, then flapping every interval.
                                    fail(&mut rng, !timeouts_unknown)
                                } else {
                                    healthy()
                                }
                            }
                        },
                    };
                    let at = start + latency;
                    let mut sample = ProbeSample::new(spec.id.clone(), v.id.clone(), at, outcome)
                        .with_latency(latency);
                    // Bounded noise: only on a healthy primary, only on normal vantage points.
                    let primary_up = match primary {
                        Primary::Up => true,
                        Primary::Outage { start: s, .. } => start < s,
                        Primary::Flapping => false,
                    };
                    if primary_up
                        && matches!(role, Role::Normal | Role::StopsAt(_) | Role::Late(_))
                        && rng.chance(noise)
                    {
                        let (o, l) = if slow {
                            (timeout_outcome(&mut rng), timed_out)
                        } else {
                            fail(&mut rng, true)
                        };
                        let candidate =
                            ProbeSample::new(spec.id.clone(), v.id.clone(), start + l, o)
                                .with_latency(l);
                        if class_of(&candidate, &ps) != Class::Down
                            || bound.allows_failure(candidate.at, &ps)
                        {
                            sample = candidate;
                        }
                    }
                    bound.history.push((sample.at, class_of(&sample, &ps)));
                    let delay = match role {
                        Role::Late(extra) => extra + rng.between(ms(50), ms(1500)),
                        _ if remote => rng.between(ms(50), ms(1500)),
                        _ => rng.between(ms(0), ms(50)),
                    };
                    let arrival = (sample.at + delay).max(last_arrival);
                    last_arrival = arrival;
                    let reported = match role {
                        Role::Missing => false,
                        Role::StopsAt(t) => sample.at < t,
                        _ => true,
                    };
                    if reported {
                        arrivals.push(Arrival {
                            arrival,
                            sample,
                            vantage: vi,
                            probe: pi,
                        });
                    }
                }
            }
        }
        // Stable by arrival time (integer keys: this is the hot spot of generation).
        let mut order: Vec<(u64, u32)> = arrivals
            .iter()
            .enumerate()
            .map(|(n, a)| (a.arrival.as_nanos() as u64, n as u32))
            .collect();
        order.sort_unstable();
        let mut slots: Vec<Option<Arrival>> = arrivals.into_iter().map(Some).collect();
        let arrivals: Vec<Arrival> = order
            .into_iter()
            .map(|(_, n)| slots[n as usize].take().unwrap())
            .collect();
        let (outage_start, down_until, up_from) = match primary {
            Primary::Outage {
                start,
                flap_from,
                up_from,
            } => (Some(start), Some(flap_from), Some(up_from)),
            _ => (None, None, None),
        };
        Scenario {
            seed,
            family,
            variant,
            settings,
            outage_start,
            down_until,
            up_from,
            seeing: roles.iter().filter(|r| r.sees_primary()).count() as u32,
            arrivals,
            end,
        }
    }

    /// Feed every report on arrival (taking them out of the scenario), evaluate at each arrival
    /// and once every interval in between; return every declaration.
    pub fn run(&mut self) -> Vec<Declared> {
        self.run_counting().0
    }

    /// [`run`](Self::run), also returning the most vantage points that said down at once.
    pub fn run_counting(&mut self) -> (Vec<Declared>, u32) {
        let mut ev = HealthEvaluator::new(self.settings.clone()).expect("valid settings");
        let step = self.interval();
        let m = self.settings.vantage_points.len();
        let probe_settings: Vec<ProbeSettings> = self
            .settings
            .probes
            .iter()
            .map(|q| q.resolve(self.settings.preset, self.settings.stale_after))
            .collect();
        // Trailing successes and the latest report's time per vantage point and probe, as reports
        // arrive (in order per probe).
        let mut trailing = vec![vec![(0u32, Duration::ZERO); probe_settings.len()]; m];
        let mut out = Vec::new();
        let mut max_down = 0;
        let mut record = |a: Assessment, trailing: &Vec<Vec<(u32, Duration)>>| {
            max_down = max_down.max(a.votes.down);
            if let Some(d) = a.declaration {
                let now = a.at;
                let fresh = trailing
                    .iter()
                    .map(|probes| {
                        probes
                            .iter()
                            .zip(&probe_settings)
                            .map(|((n, last), ps)| {
                                if now.saturating_sub(*last) <= ps.stale_after {
                                    *n
                                } else {
                                    0
                                }
                            })
                            .collect()
                    })
                    .collect();
                out.push(Declared {
                    at: now,
                    declaration: d,
                    trailing_successes: fresh,
                });
            }
        };
        let mut tick = step;
        for arr in std::mem::take(&mut self.arrivals) {
            while tick < arr.arrival {
                record(ev.evaluate(tick), &trailing);
                tick += step;
            }
            let (vi, pi) = (arr.vantage, arr.probe);
            let ps = &probe_settings[pi];
            let fresh = arr.arrival.saturating_sub(arr.sample.at) <= ps.stale_after;
            let n = match class_of(&arr.sample, ps) {
                Class::Up if fresh => trailing[vi][pi].0 + 1,
                _ => 0,
            };
            trailing[vi][pi] = (n, arr.sample.at);
            ev.observe(arr.sample).expect("configured source");
            record(ev.evaluate(arr.arrival), &trailing);
        }
        while tick < self.end {
            record(ev.evaluate(tick), &trailing);
            tick += step;
        }
        (out, max_down)
    }

    /// The probe interval (every probe of a scenario has the same one).
    pub fn interval(&self) -> Duration {
        self.settings
            .probe_settings(&self.settings.probes[0].id)
            .unwrap()
            .interval
    }

    /// The consecutive-failure threshold.
    pub fn failure_threshold(&self) -> u32 {
        self.settings
            .probe_settings(&self.settings.probes[0].id)
            .unwrap()
            .failure_threshold
    }
}

/// Detection latency of one seeded real outage (declaration time minus outage start), or `None`
/// if it was not declared.
pub fn outage_detection_latency(seed: u64, variant: Variant) -> Option<Duration> {
    let mut sc = Scenario::generate(seed, Family::RealOutage, variant);
    let start = sc.outage_start.unwrap();
    sc.run()
        .iter()
        .find(|d| d.declaration.kind == DeclarationKind::Failure && d.at >= start)
        .map(|d| d.at - start)
}

fn variant_of(rng: &mut Rng) -> Variant {
    match rng.below(3) {
        0 => Variant::Standard,
        1 => Variant::Fast,
        _ => Variant::FastWithRatio,
    }
}

/// The checks every failure declaration must pass: a quorum of vantage points, each down by the
/// vantage rule, each down probe over one of its thresholds, and a summary that says so.
fn check_failure_explanation(sc: &Scenario, d: &Declaration) {
    let e = &d.explanation;
    let ctx = format!("seed {} {:?}", sc.seed, sc.family);
    assert!(e.votes.down >= e.votes.quorum, "{ctx}: {e:?}");
    let down: Vec<_> = e
        .vantage_points
        .iter()
        .filter(|v| v.verdict == VantageVerdict::Down)
        .collect();
    assert_eq!(down.len() as u32, e.votes.down, "{ctx}");
    for v in down {
        assert!(v.down_probes >= v.needed && v.needed >= 1, "{ctx}: {v:?}");
        for p in v.probes.iter().filter(|p| p.verdict == ProbeVerdict::Down) {
            let by_consecutive =
                p.failure_threshold > 0 && p.consecutive_failures >= p.failure_threshold;
            let by_ratio = p
                .window
                .is_some_and(|w| w.samples >= w.min_samples && w.ratio >= w.threshold);
            assert!(by_consecutive || by_ratio, "{ctx}: {p:?}");
            assert!(d.summary.contains(&format!("{}: ", p.probe)), "{ctx}");
        }
        assert!(d.summary.contains(v.vantage.as_str()), "{ctx}");
    }
    assert!(
        d.summary.starts_with("primary declared DOWN: "),
        "{ctx}: {}",
        d.summary
    );
    assert!(
        d.summary.contains(&format!("(quorum {})", e.votes.quorum)),
        "{ctx}"
    );
}

/// Counts over the scenarios checked.
#[derive(Debug, Default)]
struct Tally {
    per_family: [u32; 6],
    outages: u32,
    recoveries: u32,
    stuck_as_expected: u32,
    noise_reports: usize,
    one_short: u32,
}

/// Generate, run and check the scenario of `seed`.
fn check_seed(seed: u64, t: &mut Tally) {
    let family = FAMILIES[(seed % 6) as usize];
    let variant = variant_of(&mut Rng::new(seed));
    let mut sc = Scenario::generate(seed, family, variant);
    t.per_family[seed as usize % 6] += 1;
    let reports = sc.arrivals.len();
    let (declared, max_down) = sc.run_counting();
    let ctx = format!("seed {seed} {family:?} {variant:?}");
    let i = sc.interval();
    let quorum = sc.settings.effective_quorum();
    match sc.outage_start {
        None => {
            // Noise: zero declarations of any kind.
            t.noise_reports += reports;
            if max_down + 1 == sc.settings.effective_quorum() {
                t.one_short += 1;
            }
            assert!(
                declared.is_empty(),
                "{ctx}: false declaration: {}",
                declared[0].declaration.summary
            );
        }
        Some(start) => {
            t.outages += 1;
            let down_until = sc.down_until.unwrap();
            let up_from = sc.up_from.unwrap();
            let first = declared
                .first()
                .unwrap_or_else(|| panic!("{ctx}: never declared"));
            assert_eq!(first.declaration.kind, DeclarationKind::Failure, "{ctx}");
            assert!(first.at >= start, "{ctx}: declared before the outage");
            let bound = i * (sc.failure_threshold() + 1);
            assert!(
                first.at - start <= bound,
                "{ctx}: declared {:?} after the start, bound {bound:?}",
                first.at - start
            );
            check_failure_explanation(&sc, &first.declaration);
            let rec = sc
                .settings
                .probe_settings(&sc.settings.probes[0].id)
                .unwrap()
                .recovery_threshold;
            match declared.get(1) {
                Some(r) => {
                    assert_eq!(r.declaration.kind, DeclarationKind::Recovery, "{ctx}");
                    // Hysteresis: at a quorum of vantage points, every probe's last
                    // `recovery_threshold` reports succeeded; and not before the primary
                    // had time to answer that many times.
                    let recovered = r
                        .trailing_successes
                        .iter()
                        .filter(|probes| probes.iter().all(|n| *n >= rec))
                        .count() as u32;
                    assert!(
                        recovered >= quorum,
                        "{ctx}: recovery at {:?} {:?}",
                        r.at,
                        r.trailing_successes
                    );
                    // (start jitter is at most 300 ms per report)
                    assert!(
                        r.at + ms(300) >= down_until + i * (rec - 1),
                        "{ctx}: recovered at {:?}",
                        r.at
                    );
                    assert!(
                        sc.seeing >= quorum,
                        "{ctx}: recovered without a quorum able to see it"
                    );
                    assert!(
                        r.at <= up_from + i * (rec + 1),
                        "{ctx}: recovery late: {:?} after the primary came back",
                        r.at - up_from
                    );
                    // Every vantage point the evaluator counted as up had recovered.
                    let e = &r.declaration.explanation;
                    assert!(e.votes.up >= quorum, "{ctx}");
                    for (v, truth) in e.vantage_points.iter().zip(&r.trailing_successes) {
                        if v.verdict == VantageVerdict::Up {
                            assert!(truth.iter().all(|n| *n >= rec), "{ctx}: {v:?} {truth:?}");
                        }
                    }
                    t.recoveries += 1;
                }
                None => {
                    // Stays declared only when no quorum can see the primary come back.
                    assert!(sc.seeing < quorum, "{ctx}: never recovered");
                    t.stuck_as_expected += 1;
                }
            }
            assert!(declared.len() <= 2, "{ctx}: declared again after recovery");
        }
    }
}

#[test]
fn ten_thousand_seeded_scenarios() {
    let started = std::time::Instant::now();
    // Seeds are independent: check them on a few threads (the result does not depend on it).
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4)) as u64;
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                scope.spawn(move || {
                    let mut t = Tally::default();
                    for seed in (k..10_000u64).step_by(threads as usize) {
                        check_seed(seed, &mut t);
                    }
                    t
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut per_family = [0u32; 6];
    for t in &tallies {
        for (sum, n) in per_family.iter_mut().zip(t.per_family) {
            *sum += n;
        }
    }
    let outages: u32 = tallies.iter().map(|t| t.outages).sum();
    let recoveries: u32 = tallies.iter().map(|t| t.recoveries).sum();
    let stuck_as_expected: u32 = tallies.iter().map(|t| t.stuck_as_expected).sum();
    let noise_reports: usize = tallies.iter().map(|t| t.noise_reports).sum();
    let one_short: u32 = tallies.iter().map(|t| t.one_short).sum();
    // The noise is not vacuous: in nearly half the noise scenarios one vantage point short of the quorum
    // said down at some point (about 3,950 of 8,334; never with 5 vantage points, where a
    // single failing one is two votes short of 3).
    assert!(
        one_short > 3500,
        "{one_short} noise scenarios came one vote short"
    );
    assert_eq!(per_family.iter().sum::<u32>(), 10_000);
    assert!(per_family.iter().all(|n| *n >= 1666), "{per_family:?}");
    assert!(
        recoveries > 1000 && stuck_as_expected > 50,
        "{recoveries} {stuck_as_expected}"
    );
    assert_eq!(outages, per_family[5]);
    assert!(noise_reports > 1_000_000, "{noise_reports} noise reports");
    eprintln!(
        "10,000 scenarios ({outages} outages, {recoveries} recoveries, {stuck_as_expected} that cannot recover, {noise_reports} noise reports, {one_short} noise scenarios one vote short of a declaration) in {:?}",
        started.elapsed()
    );
}

/// The noise bound is not vacuous: the same streams with one more failure than it allows do get
/// declared (so "zero false declarations" is a statement about the thresholds, not about noise
/// too weak to matter).
#[test]
fn noise_one_step_over_the_threshold_is_declared() {
    for variant in [Variant::Standard, Variant::Fast, Variant::FastWithRatio] {
        let base = Scenario::generate(1, Family::VantageIsolated, variant);
        let mut settings = base.settings.clone();
        settings.vantage_rule = VantageRule::All;
        for p in &mut settings.probes {
            p.timeout_counts_as = None;
        }
        let ps = settings.probe_settings(&settings.probes[0].id).unwrap();
        let i = ps.interval;
        let mut ev = HealthEvaluator::new(settings.clone()).unwrap();
        // failure_threshold - 1 failures in a row at every vantage point: nothing.
        let mut t = i;
        let feed = |ev: &mut HealthEvaluator, t: Duration, ok: bool| {
            for v in &settings.vantage_points {
                for p in &settings.probes {
                    let o = if ok {
                        ProbeOutcome::Up
                    } else {
                        ProbeOutcome::down("HTTP 503")
                    };
                    ev.observe(ProbeSample::new(p.id.clone(), v.id.clone(), t, o))
                        .unwrap();
                }
            }
            ev.evaluate(t)
        };
        for _ in 0..5 {
            feed(&mut ev, t, true);
            t += i;
        }
        for _ in 0..ps.failure_threshold - 1 {
            assert!(feed(&mut ev, t, false).declaration.is_none(), "{variant:?}");
            t += i;
        }
        let a = feed(&mut ev, t, false);
        assert_eq!(
            a.declaration.map(|d| d.kind),
            Some(DeclarationKind::Failure),
            "{variant:?}: one more failure crosses the threshold"
        );
    }
}

/// Scenario 5, second half: after any automatic action, further automatic actions are blocked
/// for the cool-down window (and until a person acknowledges the first).
#[test]
fn flapping_primary_cool_down_blocks_further_automatic_runs() {
    let policy = TriggerPolicy::with_mode(TriggerMode::Auto);
    for seed in 0..300u64 {
        let mut rng = Rng::new(seed);
        let variant = if rng.chance(0.5) {
            Variant::Standard
        } else {
            Variant::Fast
        };
        let sc = Scenario::generate(seed, Family::RealOutage, variant);
        let settings = sc.settings.clone();
        let i = sc.interval();
        let mut ev = HealthEvaluator::new(settings.clone()).unwrap();
        let mut t = Duration::from_secs(1000);
        // Every vantage point reports `n` rounds of `ok`; returns the last failure declared.
        let rounds = |ev: &mut HealthEvaluator, t: &mut Duration, n: u32, ok: bool| {
            let mut declared = None;
            for _ in 0..n {
                for v in &settings.vantage_points {
                    for p in &settings.probes {
                        let o = if ok {
                            ProbeOutcome::Up
                        } else {
                            ProbeOutcome::down("HTTP 503")
                        };
                        ev.observe(ProbeSample::new(p.id.clone(), v.id.clone(), *t, o))
                            .unwrap();
                    }
                }
                if let Some(d) = ev.evaluate(*t).declaration {
                    declared = Some(d);
                }
                *t += i;
            }
            declared
        };
        let mut inputs = TriggerInputs {
            readiness: Some(ReadinessInput {
                verdict: Verdict::Ready,
                evaluated_at: t,
                summary: String::new(),
            }),
            ..TriggerInputs::default()
        };
        // First outage: declared, and the trigger fails over.
        rounds(&mut ev, &mut t, 5, true);
        let d = rounds(&mut ev, &mut t, 4, false).expect("first outage declared");
        inputs.failure = DeclaredFailure::from_declaration(&d);
        if let Some(r) = inputs.readiness.as_mut() {
            r.evaluated_at = t;
        }
        assert!(decide(&policy, &inputs, t).is_fail_over(), "seed {seed}");
        let run_started = t;
        inputs.active_run = Some("run-1".into());
        inputs.last_run = Some(LastRun {
            id: "run-1".into(),
            started_at: run_started,
            ended_at: None,
            automatic: true,
        });
        inputs.unacknowledged_automatic_run = Some("run-1".into());
        // While it runs, the primary flaps (every interval) and the failure stays declared: held.
        for k in 0..6 {
            assert!(
                rounds(&mut ev, &mut t, 1, k % 2 == 1).is_none(),
                "seed {seed}"
            );
        }
        let d = decide(&policy, &inputs, t);
        assert!(!d.is_fail_over(), "seed {seed}: {d:?}");
        let run_ended = t + Duration::from_secs(60 * (5 + rng.below(20)));
        inputs.active_run = None;
        if let Some(r) = inputs.last_run.as_mut() {
            r.ended_at = Some(run_ended);
        }
        // The primary recovers, then fails again at a random time.
        let recovered = rounds(&mut ev, &mut t, 4, true).expect("recovery declared");
        assert_eq!(recovered.kind, DeclarationKind::Recovery);
        inputs.failure = None;
        let gap = Duration::from_secs(rng.below(2 * 3600));
        t = t.max(run_ended) + gap;
        let acknowledged = rng.chance(0.5);
        if acknowledged {
            inputs.unacknowledged_automatic_run = None;
        }
        let d = rounds(&mut ev, &mut t, 4, false).expect("second outage declared");
        inputs.failure = DeclaredFailure::from_declaration(&d);
        if let Some(r) = inputs.readiness.as_mut() {
            r.evaluated_at = t;
        }
        let decision = decide(&policy, &inputs, t);
        let in_cool_down = t < run_ended + policy.cool_down;
        match &decision {
            TriggerDecision::FailOver { .. } => {
                assert!(!in_cool_down && acknowledged, "seed {seed}: {decision:?}")
            }
            TriggerDecision::Hold { reasons, .. } => {
                let names: Vec<_> = reasons.iter().map(Interlock::name).collect();
                assert_eq!(
                    names.contains(&"cool_down"),
                    in_cool_down,
                    "seed {seed}: {names:?}"
                );
                assert_eq!(
                    names.contains(&"unacknowledged_automatic_run"),
                    !acknowledged,
                    "seed {seed}: {names:?}"
                );
            }
            other => panic!("seed {seed}: {other:?}"),
        }
    }
}

/// Scenario 6 spelled out: the control service's own path is cut, the observers still reach the
/// primary; the trigger in auto mode never sees a declared failure.
#[test]
fn observer_partition_never_fails_over() {
    let policy = TriggerPolicy::with_mode(TriggerMode::Auto);
    for seed in 0..500u64 {
        let variant = variant_of(&mut Rng::new(seed));
        let sc = Scenario::generate(seed, Family::ObserverPartition, variant);
        let mut ev = HealthEvaluator::new(sc.settings.clone()).unwrap();
        let mut local_down_seen = false;
        for a in &sc.arrivals {
            ev.observe(a.sample.clone()).unwrap();
            let assessment = ev.evaluate(a.arrival);
            assert!(assessment.declaration.is_none(), "seed {seed}");
            if assessment.votes.down > 0 && !local_down_seen {
                let e = ev.explain(a.arrival);
                assert_eq!(
                    e.vantage_points[0].verdict,
                    VantageVerdict::Down,
                    "seed {seed}"
                );
                local_down_seen = true;
            }
            let inputs = TriggerInputs {
                failure: assessment
                    .declaration
                    .as_ref()
                    .and_then(DeclaredFailure::from_declaration),
                ..TriggerInputs::default()
            };
            assert_eq!(
                decide(&policy, &inputs, a.arrival),
                TriggerDecision::NoFailure
            );
        }
        assert!(
            local_down_seen,
            "seed {seed}: the local vantage point never said down"
        );
    }
}
