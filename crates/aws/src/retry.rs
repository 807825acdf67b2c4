//! The one retry layer for every AWS call: a token-bucket rate limiter per (service, region) that
//! keeps call rates under AWS's published limits, exponential backoff with full jitter for
//! retryable errors, classification through [`crate::error::classify`], structured `tracing`
//! events and per-operation counters.
//!
//! SDK-level retries are disabled in [`crate::client`]; [`Caller`] is the only place that retries.

use crate::error::{classify, is_throttling, HttpStatus};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use pilotlight_core::capability::SendGate;
use pilotlight_core::model::AwsSettings;
use pilotlight_core::{CapabilityError, ErrorClass};
use rand::Rng;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Attempts (including the first) given to a call whose endpoint is unreachable: one retry covers
/// a blip, more would only delay the report that the endpoint is down.
pub const UNREACHABLE_MAX_ATTEMPTS: u32 = 2;

/// Largest burst a rate limiter allows, in calls.
pub const MAX_BURST: f64 = 5.0;

/// Per-service caps on the sustained call rate (calls per second, per region or, for global
/// services, per account), kept under AWS's published limits (`numbers.md`). The configured
/// `aws.requests_per_second` applies where it is lower.
///
/// - Route 53: about 5–10 requests/s per account (older documentation says 5): capped at 5.
/// - RDS and Aurora: 12 requests/s sustained; capped at 80 % of that, 9.6.
/// - EC2 Auto Scaling and ECS: per-action token buckets, the mutating ones as low as 1/s; the
///   describe calls used for readiness allow more, capped at 8.
pub const SERVICE_RATE_CAPS: &[(&str, f64)] = &[
    ("route53", 5.0),
    ("rds", 9.6),
    ("autoscaling", 8.0),
    ("ecs", 8.0),
];

/// Services whose control plane is global: one rate limiter for the account, whatever the region.
pub const GLOBAL_SERVICES: &[&str] = &["route53", "iam"];

/// The sustained rate (calls per second) for `service`: the configured rate, capped by
/// [`SERVICE_RATE_CAPS`]. Never zero or negative.
pub fn effective_rate(service: &str, configured: f64) -> f64 {
    let configured = if configured.is_finite() && configured > 0.0 {
        configured
    } else {
        1.0
    };
    SERVICE_RATE_CAPS
        .iter()
        .find(|(s, _)| *s == service)
        .map_or(configured, |(_, cap)| configured.min(*cap))
}

/// How many times to try a call and how long to wait between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, including the first (at least 1).
    pub max_attempts: u32,
    /// Backoff before the first retry (the ceiling of its jitter).
    pub base_delay: Duration,
    /// Largest backoff between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::from_settings(&AwsSettings::default())
    }
}

impl RetryPolicy {
    /// The policy for `settings`: `aws.max_attempts`, base delay 200 ms, max delay 20 s.
    pub fn from_settings(settings: &AwsSettings) -> Self {
        RetryPolicy {
            max_attempts: settings.max_attempts.max(1),
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
        }
    }

    /// The largest backoff before retry number `retry` (1 = the first retry):
    /// `min(max_delay, base_delay * 2^(retry - 1))`.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(31);
        self.base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay)
    }

    /// The backoff before retry number `retry` with full jitter: uniform in `[0, ceiling]`.
    pub fn backoff<G: Rng + ?Sized>(&self, retry: u32, rng: &mut G) -> Duration {
        let ceiling = self.backoff_ceiling(retry).as_millis() as u64;
        Duration::from_millis(rng.random_range(0..=ceiling))
    }

    /// How many attempts an error of `class` gets under this policy.
    pub fn attempts_for(&self, class: ErrorClass) -> u32 {
        match class {
            ErrorClass::Retryable => self.max_attempts.max(1),
            ErrorClass::Unreachable => self.max_attempts.clamp(1, UNREACHABLE_MAX_ATTEMPTS),
            ErrorClass::Credentials | ErrorClass::Terminal => 1,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    /// Tokens available; negative when callers have reserved future tokens and are waiting.
    tokens: f64,
    last: Instant,
}

/// A token bucket: `rate` tokens per second, at most `burst` saved up. Each call takes one token;
/// when none is left the caller reserves the next one and sleeps until it is due, so waiting
/// callers are served in order and the sustained rate never exceeds `rate`.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    bucket: Mutex<Bucket>,
}

impl RateLimiter {
    /// A limiter of `rate` calls per second with a burst of `burst` calls; starts full.
    pub fn new(rate: f64, burst: f64) -> Self {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            1.0
        };
        let burst = if burst.is_finite() {
            burst.max(1.0)
        } else {
            1.0
        };
        RateLimiter {
            rate,
            burst,
            bucket: Mutex::new(Bucket {
                tokens: burst,
                last: Instant::now(),
            }),
        }
    }

    /// A limiter for `rate` with the default small burst (`min(rate, MAX_BURST)`, at least 1).
    pub fn with_rate(rate: f64) -> Self {
        Self::new(rate, rate.min(MAX_BURST))
    }

    /// Sustained calls per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Burst size in calls.
    pub fn burst(&self) -> f64 {
        self.burst
    }

    /// Reserves one token and returns how long the caller must wait before using it.
    pub fn reserve(&self) -> Duration {
        let mut b = self.bucket.lock().expect("rate limiter poisoned");
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.last = now;
        b.tokens -= 1.0;
        if b.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.tokens / self.rate)
        }
    }

    /// Waits for a token; returns how long it waited.
    pub async fn acquire(&self) -> Duration {
        let wait = self.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        wait
    }
}

/// Counters of one (service, operation).
#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    attempts: AtomicU64,
    retries: AtomicU64,
    throttles: AtomicU64,
    failures: AtomicU64,
}

/// A snapshot of the counters of one (service, operation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpStats {
    /// Calls made through [`Caller::call`] and friends.
    pub calls: u64,
    /// Attempts sent (calls plus retries).
    pub attempts: u64,
    /// Retries after a retryable or unreachable error.
    pub retries: u64,
    /// Attempts answered with a throttling error.
    pub throttles: u64,
    /// Calls that ended in an error (not counting "not found" answers mapped to `None`).
    pub failures: u64,
}

/// A snapshot of every counter, keyed by (service, operation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Counters per (service, operation), sorted.
    pub ops: BTreeMap<(String, String), OpStats>,
}

impl CallStats {
    /// The counters of one (service, operation); zero when it was never called.
    pub fn get(&self, service: &str, operation: &str) -> OpStats {
        self.ops
            .get(&(service.to_string(), operation.to_string()))
            .copied()
            .unwrap_or_default()
    }

    /// The sum over every operation.
    pub fn total(&self) -> OpStats {
        self.ops.values().fold(OpStats::default(), |a, s| OpStats {
            calls: a.calls + s.calls,
            attempts: a.attempts + s.attempts,
            retries: a.retries + s.retries,
            throttles: a.throttles + s.throttles,
            failures: a.failures + s.failures,
        })
    }
}

#[derive(Debug)]
struct Inner {
    requests_per_second: f64,
    limiters: Mutex<HashMap<(String, String), Arc<RateLimiter>>>,
    counters: Mutex<HashMap<(String, String), Arc<Counters>>>,
}

/// The gate a [`Caller`] waits on before every attempt of a change (see
/// [`Caller::with_send_gate`]).
#[derive(Clone)]
struct Gate(Arc<dyn SendGate>);

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SendGate")
    }
}

/// What a call does to the world, which decides whether it is gated and what is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    /// Reads, and changes no lease guards: never gated, every retryable error retried.
    Read,
    /// Changes to a stated end (set a count, UPSERT a record): gated before every attempt,
    /// every retryable error retried (sending it twice ends in the same state).
    Change,
    /// A change that must never be sent twice (a promotion, a global failover): gated before
    /// every attempt, and retried only when the answer proves it was not applied (throttling).
    /// Any other failure may hide an applied request (a timeout, a lost answer, a 5xx), so it is
    /// returned: the executor reads the live state before it decides to send it again.
    ChangeOnce,
}

/// Makes AWS calls: rate-limited, classified, retried with backoff, traced and counted.
/// Cheap to clone; clones share limiters and counters.
#[derive(Debug, Clone)]
pub struct Caller {
    inner: Arc<Inner>,
    policy: RetryPolicy,
    gate: Option<Gate>,
}

impl Caller {
    /// A caller for `settings` (`aws.requests_per_second`, `aws.max_attempts`).
    pub fn new(settings: &AwsSettings) -> Self {
        Caller {
            inner: Arc::new(Inner {
                requests_per_second: settings.requests_per_second,
                limiters: Mutex::new(HashMap::new()),
                counters: Mutex::new(HashMap::new()),
            }),
            policy: RetryPolicy::from_settings(settings),
            gate: None,
        }
    }

    /// A caller sharing this one's limiters and counters whose changes
    /// ([`Caller::call_change`], [`Caller::call_change_once`]) wait on `gate` before every
    /// attempt, retries included: the HA leader's actuator, so that a leader whose grant ended
    /// while it was frozen or backing off never sends another attempt.
    pub fn with_send_gate(&self, gate: Arc<dyn SendGate>) -> Self {
        Caller {
            gate: Some(Gate(gate)),
            ..self.clone()
        }
    }

    /// A caller for the settings of `factory`.
    pub fn from_factory(factory: &crate::ClientFactory) -> Self {
        Self::new(factory.settings())
    }

    /// A caller sharing this one's limiters and counters but retrying under `policy` (for
    /// example a step's own policy stored with a run).
    pub fn with_policy(&self, policy: RetryPolicy) -> Self {
        Caller {
            inner: self.inner.clone(),
            policy,
            gate: self.gate.clone(),
        }
    }

    /// The retry policy in force.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// A snapshot of the call counters.
    pub fn stats(&self) -> CallStats {
        let counters = self.inner.counters.lock().expect("counters poisoned");
        let ops = counters
            .iter()
            .map(|(k, c)| {
                let s = OpStats {
                    calls: c.calls.load(Ordering::Relaxed),
                    attempts: c.attempts.load(Ordering::Relaxed),
                    retries: c.retries.load(Ordering::Relaxed),
                    throttles: c.throttles.load(Ordering::Relaxed),
                    failures: c.failures.load(Ordering::Relaxed),
                };
                (k.clone(), s)
            })
            .collect();
        CallStats { ops }
    }

    /// The rate limiter of (`service`, `region`); global services share one per account.
    pub fn limiter(&self, service: &str, region: &str) -> Arc<RateLimiter> {
        let region = if GLOBAL_SERVICES.contains(&service) {
            "global"
        } else {
            region
        };
        let mut limiters = self.inner.limiters.lock().expect("limiters poisoned");
        limiters
            .entry((service.to_string(), region.to_string()))
            .or_insert_with(|| {
                Arc::new(RateLimiter::with_rate(effective_rate(
                    service,
                    self.inner.requests_per_second,
                )))
            })
            .clone()
    }

    fn counters(&self, service: &str, operation: &str) -> Arc<Counters> {
        let mut counters = self.inner.counters.lock().expect("counters poisoned");
        counters
            .entry((service.to_string(), operation.to_string()))
            .or_default()
            .clone()
    }

    /// Calls `f` (one SDK operation, e.g. `|| client.describe_table().table_name(t).send()`)
    /// under the rate limit of (`service`, `region`), retrying retryable errors with backoff
    /// and unreachable endpoints up to [`UNREACHABLE_MAX_ATTEMPTS`] times. Never waits on the
    /// send gate: for reads, and for changes made outside a run's actions (drill copies,
    /// canaries, notifications), which no lease guards.
    pub async fn call<T, E, R, F, Fut>(
        &self,
        service: &str,
        region: &str,
        operation: &str,
        f: F,
    ) -> Result<T, CapabilityError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: HttpStatus + std::fmt::Debug,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, R>>>,
    {
        self.run(service, region, operation, Effect::Read, |_, _| false, f)
            .await
            .map(|v| v.expect("no error is mapped to None"))
    }

    /// Like [`Caller::call`], for a call that changes AWS to a stated end (set a desired count,
    /// UPSERT a record), so that sending it twice is harmless: waits on the send gate, when
    /// there is one, before every attempt.
    pub async fn call_change<T, E, R, F, Fut>(
        &self,
        service: &str,
        region: &str,
        operation: &str,
        f: F,
    ) -> Result<T, CapabilityError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: HttpStatus + std::fmt::Debug,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, R>>>,
    {
        self.run(service, region, operation, Effect::Change, |_, _| false, f)
            .await
            .map(|v| v.expect("no error is mapped to None"))
    }

    /// Like [`Caller::call_change`], for a change that must never be sent twice (a promotion, a
    /// global-cluster failover). Retried only after throttling, which proves it was not applied;
    /// any other error is returned at once, since the request may have been applied (a timeout,
    /// a lost answer), with a hint to read the live state before sending it again.
    pub async fn call_change_once<T, E, R, F, Fut>(
        &self,
        service: &str,
        region: &str,
        operation: &str,
        f: F,
    ) -> Result<T, CapabilityError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: HttpStatus + std::fmt::Debug,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, R>>>,
    {
        self.run(
            service,
            region,
            operation,
            Effect::ChangeOnce,
            |_, _| false,
            f,
        )
        .await
        .map(|v| v.expect("no error is mapped to None"))
    }

    /// Like [`Caller::call`], but an error whose code is in `not_found` (e.g.
    /// `&["ResourceNotFoundException"]`, see [`crate::error::NOT_FOUND_CODES`]) is the answer
    /// `Ok(None)`: "does not exist" is a fact, not a failure.
    pub async fn call_opt<T, E, R, F, Fut>(
        &self,
        service: &str,
        region: &str,
        operation: &str,
        not_found: &[&str],
        f: F,
    ) -> Result<Option<T>, CapabilityError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: HttpStatus + std::fmt::Debug,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, R>>>,
    {
        let is_not_found =
            |code: Option<&str>, _: Option<&str>| code.is_some_and(|c| not_found.contains(&c));
        self.run(service, region, operation, Effect::Read, is_not_found, f)
            .await
    }

    /// Like [`Caller::call_opt`] with a predicate over the service error's (code, message), for
    /// services that signal "not found" with a generic code (ECS answers `ClientException`).
    pub async fn call_opt_if<T, E, R, P, F, Fut>(
        &self,
        service: &str,
        region: &str,
        operation: &str,
        is_not_found: P,
        f: F,
    ) -> Result<Option<T>, CapabilityError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: HttpStatus + std::fmt::Debug,
        P: Fn(Option<&str>, Option<&str>) -> bool,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, R>>>,
    {
        self.run(service, region, operation, Effect::Read, is_not_found, f)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn run<T, E, R, P, F, Fut>(
        &self,
        service: &str,
        region: &str,
        operation: &str,
        effect: Effect,
        is_not_found: P,
        mut f: F,
    ) -> Result<Option<T>, CapabilityError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: HttpStatus + std::fmt::Debug,
        P: Fn(Option<&str>, Option<&str>) -> bool,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, R>>>,
    {
        let counters = self.counters(service, operation);
        let limiter = self.limiter(service, region);
        counters.calls.fetch_add(1, Ordering::Relaxed);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let waited = limiter.acquire().await;
            if !waited.is_zero() {
                tracing::trace!(
                    service,
                    region,
                    operation,
                    attempt,
                    wait_ms = waited.as_millis() as u64,
                    "rate limited"
                );
            }
            if effect != Effect::Read {
                if let Some(Gate(gate)) = &self.gate {
                    gate.wait_open().await;
                }
            }
            counters.attempts.fetch_add(1, Ordering::Relaxed);
            let sdk_err = match f().await {
                Ok(v) => {
                    tracing::debug!(service, region, operation, attempt, "AWS call succeeded");
                    return Ok(Some(v));
                }
                Err(e) => e,
            };
            if let SdkError::ServiceError(ctx) = &sdk_err {
                if is_not_found(ctx.err().code(), ctx.err().message()) {
                    tracing::debug!(
                        service,
                        region,
                        operation,
                        attempt,
                        code = ctx.err().code().unwrap_or(""),
                        "not found"
                    );
                    return Ok(None);
                }
            }
            let mut err = classify(service, region, operation, &sdk_err);
            let code = err.code.clone().unwrap_or_default();
            let throttled = is_throttling(&code, Some(&err.message));
            if throttled {
                counters.throttles.fetch_add(1, Ordering::Relaxed);
            }
            let allowed = if effect == Effect::ChangeOnce && !throttled {
                if err.class == ErrorClass::Retryable || err.class == ErrorClass::Unreachable {
                    err.hint = format!(
                        "the request may have been applied: read the live state before sending \
                         it again (the executor does); {}",
                        err.hint
                    );
                }
                1
            } else {
                self.policy.attempts_for(err.class)
            };
            if attempt >= allowed {
                counters.failures.fetch_add(1, Ordering::Relaxed);
                if attempt > 1 {
                    err.hint = format!("gave up after {attempt} attempts; {}", err.hint);
                }
                // Returned to the caller, which reports it; logged here for the trail only.
                tracing::info!(
                    service, region, operation, attempt, code = code.as_str(), class = ?err.class,
                    message = err.message.as_str(), "AWS call failed"
                );
                return Err(err);
            }
            let delay = self.policy.backoff(attempt, &mut rand::rng());
            counters.retries.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                service, region, operation, attempt, delay_ms = delay.as_millis() as u64,
                code = code.as_str(), class = ?err.class, "retrying AWS call"
            );
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // scripted SDK errors are as large as the SDK makes them
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn backoff_ceiling_doubles_up_to_max() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
        };
        let ms: Vec<u128> = (1..=9).map(|r| p.backoff_ceiling(r).as_millis()).collect();
        assert_eq!(
            ms,
            vec![200, 400, 800, 1600, 3200, 6400, 12800, 20000, 20000]
        );
        assert_eq!(p.backoff_ceiling(0), Duration::from_millis(200));
        assert_eq!(p.backoff_ceiling(u32::MAX), Duration::from_secs(20));
    }

    #[test]
    fn backoff_is_full_jitter_within_ceiling() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(7);
        for retry in 1..8 {
            let ceiling = p.backoff_ceiling(retry);
            let samples: Vec<Duration> = (0..200).map(|_| p.backoff(retry, &mut rng)).collect();
            assert!(samples.iter().all(|d| *d <= ceiling));
            // Full jitter spreads over the whole range, not just near the ceiling.
            assert!(samples.iter().any(|d| *d < ceiling / 4), "retry {retry}");
            assert!(
                samples.iter().any(|d| *d > ceiling * 3 / 4),
                "retry {retry}"
            );
        }
    }

    #[test]
    fn policy_from_settings_and_attempts_per_class() {
        let s = AwsSettings {
            max_attempts: 4,
            ..AwsSettings::default()
        };
        let p = RetryPolicy::from_settings(&s);
        assert_eq!(p.max_attempts, 4);
        assert_eq!(p.base_delay, Duration::from_millis(200));
        assert_eq!(p.max_delay, Duration::from_secs(20));
        assert_eq!(p.attempts_for(ErrorClass::Retryable), 4);
        assert_eq!(p.attempts_for(ErrorClass::Unreachable), 2);
        assert_eq!(p.attempts_for(ErrorClass::Credentials), 1);
        assert_eq!(p.attempts_for(ErrorClass::Terminal), 1);
        let one = RetryPolicy {
            max_attempts: 1,
            ..p
        };
        assert_eq!(one.attempts_for(ErrorClass::Unreachable), 1);
        let zero = AwsSettings {
            max_attempts: 0,
            ..AwsSettings::default()
        };
        assert_eq!(RetryPolicy::from_settings(&zero).max_attempts, 1);
    }

    #[test]
    fn service_caps() {
        assert_eq!(effective_rate("route53", 8.0), 5.0);
        assert_eq!(effective_rate("route53", 2.0), 2.0);
        assert_eq!(effective_rate("rds", 50.0), 9.6);
        assert_eq!(effective_rate("dynamodb", 8.0), 8.0);
        assert_eq!(effective_rate("kms", 0.0), 1.0);
        assert_eq!(effective_rate("kms", f64::NAN), 1.0);
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_holds_the_sustained_rate() {
        let limiter = RateLimiter::with_rate(5.0);
        assert_eq!(limiter.burst(), 5.0);
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        // The burst is free.
        assert!(start.elapsed() < Duration::from_millis(1));
        for _ in 0..50 {
            limiter.acquire().await;
        }
        // 50 more calls at 5/s take 10 s.
        let elapsed = start.elapsed().as_secs_f64();
        assert!((9.99..=10.01).contains(&elapsed), "elapsed {elapsed}");
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_is_fair_and_bounded_under_concurrency() {
        let limiter = Arc::new(RateLimiter::new(10.0, 2.0));
        let start = Instant::now();
        let tasks: Vec<_> = (0..42)
            .map(|_| {
                let l = limiter.clone();
                tokio::spawn(async move {
                    l.acquire().await;
                    Instant::now()
                })
            })
            .collect();
        let mut done = Vec::new();
        for t in tasks {
            done.push(t.await.unwrap().duration_since(start).as_secs_f64());
        }
        done.sort_by(f64::total_cmp);
        // 2 from the burst, then 40 at 10/s: the last one at 4 s.
        assert!((3.99..=4.01).contains(done.last().unwrap()), "{done:?}");
        // In no one-second window are there more than rate + burst calls.
        for (i, t) in done.iter().enumerate() {
            let in_window = done[i..].iter().take_while(|u| **u < t + 1.0).count();
            assert!(in_window <= 12, "window at {t}: {in_window}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_refills_after_idle_but_not_beyond_burst() {
        let limiter = RateLimiter::new(2.0, 3.0);
        for _ in 0..3 {
            assert_eq!(limiter.reserve(), Duration::ZERO);
        }
        tokio::time::advance(Duration::from_secs(60)).await;
        for _ in 0..3 {
            assert_eq!(limiter.reserve(), Duration::ZERO);
        }
        assert_eq!(limiter.reserve(), Duration::from_millis(500));
    }

    type DtError = aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
    type Sdk = SdkError<DtError, aws_smithy_runtime_api::client::orchestrator::HttpResponse>;

    fn service_error(code: &str, status: u16) -> Sdk {
        use aws_smithy_runtime_api::http::StatusCode;
        let meta = aws_smithy_types::error::ErrorMetadata::builder()
            .code(code)
            .message("m")
            .build();
        let raw = aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            aws_smithy_types::body::SdkBody::empty(),
        );
        SdkError::service_error(DtError::generic(meta), raw)
    }

    fn refused() -> Sdk {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        SdkError::dispatch_failure(aws_smithy_runtime_api::client::result::ConnectorError::io(
            Box::new(io),
        ))
    }

    /// Runs `caller.call` over a script of answers and returns the result and the attempt count.
    async fn scripted(
        caller: &Caller,
        script: Vec<Result<u32, Sdk>>,
    ) -> (Result<u32, CapabilityError>, usize) {
        let script = std::sync::Mutex::new(script.into_iter());
        let n = std::sync::atomic::AtomicUsize::new(0);
        let r = caller
            .call("dynamodb", "us-east-1", "DescribeTable", || {
                n.fetch_add(1, Ordering::SeqCst);
                let next = script.lock().unwrap().next().expect("script exhausted");
                async move { next }
            })
            .await;
        (r, n.load(Ordering::SeqCst))
    }

    /// Which entry point of [`Caller`] a scripted call goes through.
    #[derive(Clone, Copy)]
    enum Via {
        Read,
        Change,
        ChangeOnce,
    }

    /// Like [`scripted`], through `via`.
    async fn scripted_via(
        caller: &Caller,
        via: Via,
        script: Vec<Result<u32, Sdk>>,
    ) -> (Result<u32, CapabilityError>, usize) {
        let script = std::sync::Mutex::new(script.into_iter());
        let n = std::sync::atomic::AtomicUsize::new(0);
        let f = || {
            n.fetch_add(1, Ordering::SeqCst);
            let next = script.lock().unwrap().next().expect("script exhausted");
            async move { next }
        };
        let (s, r, op) = ("rds", "us-west-2", "PromoteReadReplica");
        let out = match via {
            Via::Read => caller.call(s, r, op, f).await,
            Via::Change => caller.call_change(s, r, op, f).await,
            Via::ChangeOnce => caller.call_change_once(s, r, op, f).await,
        };
        (out, n.load(Ordering::SeqCst))
    }

    /// A gate closed until `open` is set, counting how often it was waited on.
    #[derive(Default)]
    struct TestGate {
        open: std::sync::atomic::AtomicBool,
        waits: std::sync::atomic::AtomicUsize,
    }

    #[async_trait::async_trait]
    impl SendGate for TestGate {
        async fn wait_open(&self) {
            self.waits.fetch_add(1, Ordering::SeqCst);
            while !self.open.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_once_is_not_repeated_after_an_ambiguous_failure() {
        let caller = Caller::new(&AwsSettings::default());
        // A timeout or a 5xx may hide an applied promotion: returned after one attempt, with a
        // hint to read the live state first.
        for failure in [
            SdkError::timeout_error("attempt timed out"),
            service_error("InternalFailure", 500),
            refused(),
        ] {
            let (r, attempts) = scripted_via(&caller, Via::ChangeOnce, vec![Err(failure)]).await;
            let err = r.unwrap_err();
            assert_eq!(attempts, 1, "{err}");
            assert!(err.hint.contains("may have been applied"), "{err}");
        }
        // Throttling proves it was not applied: retried.
        let script = vec![Err(service_error("Throttling", 400)), Ok(1)];
        let (r, attempts) = scripted_via(&caller, Via::ChangeOnce, script).await;
        assert_eq!((r.unwrap(), attempts), (1, 2));
        // A change to a stated end is retried after a timeout, as a read is.
        for via in [Via::Change, Via::Read] {
            let script = vec![Err(SdkError::timeout_error("attempt timed out")), Ok(2)];
            let (r, attempts) = scripted_via(&caller, via, script).await;
            assert_eq!((r.unwrap(), attempts), (2, 2));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_attempt_of_a_change_waits_on_the_send_gate() {
        let gate = Arc::new(TestGate::default());
        let caller = Caller::new(&AwsSettings::default()).with_send_gate(gate.clone());
        // Reads pass a closed gate.
        let (r, _) = scripted_via(&caller, Via::Read, vec![Ok(1)]).await;
        assert_eq!(r.unwrap(), 1);
        assert_eq!(gate.waits.load(Ordering::SeqCst), 0);
        // A change waits while the gate is closed: no attempt is sent.
        let run = {
            let caller = caller.clone();
            tokio::spawn(async move {
                let script = vec![Err(service_error("Throttling", 400)), Ok(3)];
                scripted_via(&caller, Via::Change, script).await
            })
        };
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(
            !run.is_finished(),
            "a change was sent through a closed gate"
        );
        assert_eq!(
            caller.stats().get("rds", "PromoteReadReplica").attempts,
            1,
            "no attempt but the read's while the gate is closed"
        );
        gate.open.store(true, Ordering::SeqCst);
        let (r, attempts) = run.await.unwrap();
        assert_eq!((r.unwrap(), attempts), (3, 2));
        // The retry waited on the gate again.
        assert_eq!(gate.waits.load(Ordering::SeqCst), 2);
        // Clones with another policy keep the gate.
        let other = caller.with_policy(RetryPolicy::default());
        let (_, _) = scripted_via(&other, Via::ChangeOnce, vec![Ok(4)]).await;
        assert_eq!(gate.waits.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn caller_retries_throttling_then_succeeds() {
        let caller = Caller::new(&AwsSettings::default());
        let script = vec![
            Err(service_error("ThrottlingException", 400)),
            Err(service_error("InternalFailure", 500)),
            Ok(7),
        ];
        let (r, attempts) = scripted(&caller, script).await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(attempts, 3);
        let s = caller.stats().get("dynamodb", "DescribeTable");
        assert_eq!(
            s,
            OpStats {
                calls: 1,
                attempts: 3,
                retries: 2,
                throttles: 1,
                failures: 0
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn caller_gives_up_after_max_attempts() {
        let caller = Caller::new(&AwsSettings {
            max_attempts: 3,
            ..AwsSettings::default()
        });
        let script = (0..3)
            .map(|_| Err(service_error("Throttling", 400)))
            .collect();
        let (r, attempts) = scripted(&caller, script).await;
        let err = r.unwrap_err();
        assert_eq!(err.class, ErrorClass::Retryable);
        assert!(
            err.hint.starts_with("gave up after 3 attempts"),
            "{}",
            err.hint
        );
        assert!(
            err.hint.contains("`aws.requests_per_second`"),
            "{}",
            err.hint
        );
        assert_eq!(attempts, 3);
        let s = caller.stats().get("dynamodb", "DescribeTable");
        assert_eq!((s.retries, s.throttles, s.failures), (2, 3, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn caller_does_not_retry_terminal_or_credentials() {
        let caller = Caller::new(&AwsSettings::default());
        for code in ["ValidationException", "AccessDeniedException"] {
            let (r, attempts) = scripted(&caller, vec![Err(service_error(code, 400))]).await;
            assert!(r.is_err());
            assert_eq!(attempts, 1, "{code}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn caller_tries_unreachable_twice() {
        let caller = Caller::new(&AwsSettings::default());
        let (r, attempts) = scripted(&caller, vec![Err(refused()), Err(refused())]).await;
        assert_eq!(r.unwrap_err().class, ErrorClass::Unreachable);
        assert_eq!(attempts, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn call_opt_maps_not_found_to_none() {
        let caller = Caller::new(&AwsSettings::default());
        let r: Result<Option<u32>, _> = caller
            .call_opt(
                "dynamodb",
                "us-east-1",
                "DescribeTable",
                &["ResourceNotFoundException"],
                || async { Err::<u32, _>(service_error("ResourceNotFoundException", 400)) },
            )
            .await;
        assert_eq!(r.unwrap(), None);
        let r: Result<Option<u32>, _> = caller
            .call_opt(
                "dynamodb",
                "us-east-1",
                "DescribeTable",
                &["ResourceNotFoundException"],
                || async { Err::<u32, _>(service_error("ValidationException", 400)) },
            )
            .await;
        assert_eq!(r.unwrap_err().code.as_deref(), Some("ValidationException"));
        let s = caller.stats().get("dynamodb", "DescribeTable");
        assert_eq!((s.calls, s.failures), (2, 1));
    }

    #[test]
    fn caller_is_cheaply_shareable() {
        fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
        assert_shareable::<Caller>();
        assert_shareable::<CallStats>();
    }

    #[tokio::test]
    async fn caller_global_services_share_one_limiter() {
        let caller = Caller::new(&AwsSettings::default());
        let a = caller.limiter("route53", "us-east-1");
        let b = caller.limiter("route53", "us-west-2");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.rate(), 5.0);
        let c = caller.limiter("rds", "us-east-1");
        let d = caller.limiter("rds", "us-west-2");
        assert!(!Arc::ptr_eq(&c, &d));
        assert_eq!(c.rate(), 8.0);
    }
}
