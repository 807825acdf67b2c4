//! Fault injection: rules that throttle, fail, delay or black out requests, matched in order
//! against the request's service, region and operation, fired with a seeded random draw so a
//! test run is repeatable.
//!
//! Evaluation of one request: rules are walked in order; a rule applies when its filters match,
//! its `remaining` budget is not exhausted and its probability draw succeeds. A `Delay` that
//! applies adds its latency and the walk goes on (so "latency x10 and 40 % throttled" is two
//! rules); the first `Throttle`, `ServerError` or `Outage` that applies ends the walk and is
//! answered without contacting moto. Each application of a rule decrements its `remaining`.

use std::sync::{Arc, Mutex, MutexGuard};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::call::Call;
use super::EmulatorError;

/// What a fault rule does to a request it applies to.
///
/// In JSON (the HTTP control endpoint): `"throttle"`, `"server_error"`, `"outage"`,
/// `{"delay": {"ms": 250}}` or `{"delay_answer": {"ms": 5000}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer the protocol's throttling error (`ThrottlingException`, `Throttling`,
    /// `RequestLimitExceeded`, `SlowDown`) without forwarding.
    Throttle,
    /// Answer HTTP 500 with the protocol's internal-failure error without forwarding.
    ServerError,
    /// Sleep this long, then go on (other rules may still apply; the request is forwarded).
    Delay {
        /// Added latency in milliseconds.
        ms: u64,
    },
    /// Answer HTTP 503 `ServiceUnavailable` without forwarding: combined with a `region`
    /// filter alone, a whole regional outage.
    Outage,
    /// Forward at once (moto applies the request), then hold the answer this long: an answer
    /// that arrives late or never (past the client's timeout), for a change that did happen.
    /// Other rules may still apply.
    DelayAnswer {
        /// Added latency of the answer in milliseconds.
        ms: u64,
    },
}

impl FaultAction {
    /// Short name used in statistics and logs: `throttle`, `server_error`, `delay`, `outage`,
    /// `delay_answer`.
    pub fn kind(&self) -> &'static str {
        match self {
            FaultAction::Throttle => "throttle",
            FaultAction::ServerError => "server_error",
            FaultAction::Delay { .. } => "delay",
            FaultAction::Outage => "outage",
            FaultAction::DelayAnswer { .. } => "delay_answer",
        }
    }
}

fn one() -> f64 {
    1.0
}

/// One fault rule. Absent filters match everything; filters compare case-insensitively, and
/// `service` is the SigV4 signing name (`dynamodb`, `rds`, `s3`, `route53`, `monitoring` for
/// CloudWatch, which may also be written `cloudwatch`).
///
/// JSON form: `{"service": "dynamodb", "region": "us-east-1", "operation": "PutItem",
/// "action": "throttle", "probability": 0.4, "remaining": 10}`; only `action` is required
/// (`probability` defaults to 1, `remaining` to unlimited).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Only requests signed for this service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Only requests signed for this region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Only this operation (`PutItem`, `DescribeDBInstances`, `ChangeResourceRecordSets`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// What to do.
    pub action: FaultAction,
    /// Chance in `0..=1` that a matching request is affected.
    #[serde(default = "one")]
    pub probability: f64,
    /// How many more times the rule may apply; `None` is unlimited. Counts down as it applies;
    /// an exhausted rule stays listed with `remaining: 0` and no longer applies.
    #[serde(default)]
    pub remaining: Option<u32>,
}

impl FaultRule {
    /// A rule applying `action` to every request, always, without limit.
    pub fn new(action: FaultAction) -> FaultRule {
        FaultRule {
            service: None,
            region: None,
            operation: None,
            action,
            probability: 1.0,
            remaining: None,
        }
    }

    /// A whole-region outage: every request signed for `region` answers 503.
    pub fn region_outage(region: impl Into<String>) -> FaultRule {
        FaultRule::new(FaultAction::Outage).in_region(region)
    }

    /// Restricts the rule to one service (SigV4 signing name).
    pub fn for_service(mut self, service: impl Into<String>) -> FaultRule {
        self.service = Some(service.into());
        self
    }

    /// Restricts the rule to one region.
    pub fn in_region(mut self, region: impl Into<String>) -> FaultRule {
        self.region = Some(region.into());
        self
    }

    /// Restricts the rule to one operation.
    pub fn for_operation(mut self, operation: impl Into<String>) -> FaultRule {
        self.operation = Some(operation.into());
        self
    }

    /// Sets the chance (`0..=1`) that a matching request is affected.
    pub fn with_probability(mut self, probability: f64) -> FaultRule {
        self.probability = probability;
        self
    }

    /// Lets the rule apply at most `n` times.
    pub fn times(mut self, n: u32) -> FaultRule {
        self.remaining = Some(n);
        self
    }

    /// Checks the rule: probability within `0..=1`, delays at most ten minutes.
    pub fn validate(&self) -> Result<(), EmulatorError> {
        if !(0.0..=1.0).contains(&self.probability) {
            return Err(EmulatorError::InvalidRule(format!(
                "probability {} is outside 0..=1",
                self.probability
            )));
        }
        if let FaultAction::Delay { ms } | FaultAction::DelayAnswer { ms } = self.action {
            if ms > 600_000 {
                return Err(EmulatorError::InvalidRule(format!(
                    "delay of {ms} ms is over the 600000 ms limit"
                )));
            }
        }
        Ok(())
    }

    /// Same filters and action (ignores `probability` and `remaining`): what `DELETE` with a
    /// rule list compares.
    pub fn same_target(&self, other: &FaultRule) -> bool {
        self.service == other.service
            && self.region == other.region
            && self.operation == other.operation
            && self.action == other.action
    }

    fn matches(&self, call: &Call) -> bool {
        filter_matches(self.service.as_deref(), call.service.as_deref(), true)
            && filter_matches(self.region.as_deref(), call.region.as_deref(), false)
            && filter_matches(self.operation.as_deref(), call.operation.as_deref(), false)
    }
}

fn normalize_service(s: &str) -> &str {
    if s.eq_ignore_ascii_case("cloudwatch") {
        "monitoring"
    } else {
        s
    }
}

fn filter_matches(want: Option<&str>, got: Option<&str>, service: bool) -> bool {
    match (want, got) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(w), Some(g)) if service => normalize_service(w).eq_ignore_ascii_case(g),
        (Some(w), Some(g)) => w.eq_ignore_ascii_case(g),
    }
}

/// The outcome of evaluating the rules for one request.
#[derive(Debug, Default)]
pub(crate) struct Decision {
    /// Total latency to add before forwarding (or answering a terminal fault).
    pub delay_ms: u64,
    /// Total latency to add after forwarding, before the answer is sent.
    pub answer_delay_ms: u64,
    /// The actions that applied, in order (delays and at most one terminal action), for stats.
    pub applied: Vec<FaultAction>,
    /// The terminal action (`Throttle`, `ServerError`, `Outage`), if one applied.
    pub terminal: Option<FaultAction>,
}

#[derive(Debug)]
struct FaultState {
    rules: Vec<FaultRule>,
    rng: StdRng,
}

/// Sets and clears fault rules at runtime. Cheap to clone; every clone controls the same proxy.
#[derive(Debug, Clone)]
pub struct FaultController {
    state: Arc<Mutex<FaultState>>,
}

impl FaultController {
    /// A controller with no rules whose random draws are seeded with `seed`.
    pub(crate) fn new(seed: u64) -> FaultController {
        FaultController {
            state: Arc::new(Mutex::new(FaultState {
                rules: Vec::new(),
                rng: StdRng::seed_from_u64(seed),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, FaultState> {
        // A panic while holding the lock cannot leave the rule list half-written.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one rule (evaluated after the existing ones).
    pub fn add(&self, rule: FaultRule) -> Result<(), EmulatorError> {
        self.extend(vec![rule])
    }

    /// Appends rules in order. Nothing is added if any rule is invalid.
    pub fn extend(&self, rules: Vec<FaultRule>) -> Result<(), EmulatorError> {
        rules.iter().try_for_each(FaultRule::validate)?;
        tracing::info!(count = rules.len(), ?rules, "emulator: fault rules added");
        self.lock().rules.extend(rules);
        Ok(())
    }

    /// Replaces all rules. Nothing changes if any rule is invalid.
    pub fn set(&self, rules: Vec<FaultRule>) -> Result<(), EmulatorError> {
        rules.iter().try_for_each(FaultRule::validate)?;
        tracing::info!(
            count = rules.len(),
            ?rules,
            "emulator: fault rules replaced"
        );
        self.lock().rules = rules;
        Ok(())
    }

    /// Removes every rule that has the same filters and action as one of `rules`; returns how
    /// many were removed.
    pub fn remove(&self, rules: &[FaultRule]) -> usize {
        let mut state = self.lock();
        let before = state.rules.len();
        state
            .rules
            .retain(|r| !rules.iter().any(|gone| gone.same_target(r)));
        let removed = before - state.rules.len();
        tracing::info!(removed, "emulator: fault rules removed");
        removed
    }

    /// Removes every rule.
    pub fn clear(&self) {
        tracing::info!("emulator: fault rules cleared");
        self.lock().rules.clear();
    }

    /// The current rules, with their live `remaining` counts.
    pub fn rules(&self) -> Vec<FaultRule> {
        self.lock().rules.clone()
    }

    /// Restarts the random sequence from `seed`.
    pub fn reseed(&self, seed: u64) {
        self.lock().rng = StdRng::seed_from_u64(seed);
    }

    /// Evaluates the rules for one request (see the module docs for the order).
    pub(crate) fn decide(&self, call: &Call) -> Decision {
        let mut decision = Decision::default();
        let mut guard = self.lock();
        let FaultState { rules, rng } = &mut *guard;
        for rule in rules.iter_mut() {
            if rule.remaining == Some(0) || !rule.matches(call) {
                continue;
            }
            let fires = if rule.probability >= 1.0 {
                true
            } else if rule.probability <= 0.0 {
                false
            } else {
                rng.random::<f64>() < rule.probability
            };
            if !fires {
                continue;
            }
            if let Some(n) = rule.remaining.as_mut() {
                *n -= 1;
            }
            decision.applied.push(rule.action);
            match rule.action {
                FaultAction::Delay { ms } => decision.delay_ms += ms,
                FaultAction::DelayAnswer { ms } => decision.answer_delay_ms += ms,
                terminal => {
                    decision.terminal = Some(terminal);
                    break;
                }
            }
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::super::call::Protocol;
    use super::*;

    fn call(service: &str, region: &str, operation: &str) -> Call {
        Call {
            service: Some(service.into()),
            region: Some(region.into()),
            operation: Some(operation.into()),
            protocol: Protocol::AwsJson,
            content_type: None,
            path: "/".into(),
            query: String::new(),
        }
    }

    #[test]
    fn filters_match_case_insensitively_and_cloudwatch_alias() {
        let rule = FaultRule::new(FaultAction::Throttle)
            .for_service("CloudWatch")
            .in_region("US-EAST-1");
        assert!(rule.matches(&call("monitoring", "us-east-1", "PutMetricData")));
        assert!(!rule.matches(&call("monitoring", "us-west-2", "PutMetricData")));
        assert!(!rule.matches(&call("dynamodb", "us-east-1", "PutItem")));
    }

    #[test]
    fn delays_accumulate_and_first_terminal_wins() {
        let faults = FaultController::new(1);
        faults
            .set(vec![
                FaultRule::new(FaultAction::Delay { ms: 10 }),
                FaultRule::new(FaultAction::Outage).in_region("us-west-2"),
                FaultRule::new(FaultAction::Delay { ms: 5 }),
                FaultRule::new(FaultAction::ServerError),
                FaultRule::new(FaultAction::Throttle),
            ])
            .unwrap();
        let d = faults.decide(&call("dynamodb", "us-east-1", "GetItem"));
        assert_eq!(d.delay_ms, 15);
        assert_eq!(d.terminal, Some(FaultAction::ServerError));
        assert_eq!(d.applied.len(), 3);
        let d = faults.decide(&call("dynamodb", "us-west-2", "GetItem"));
        assert_eq!(d.delay_ms, 10);
        assert_eq!(d.terminal, Some(FaultAction::Outage));
    }

    #[test]
    fn an_answer_delay_is_kept_apart_and_forwards() {
        let faults = FaultController::new(1);
        faults
            .set(vec![
                FaultRule::new(FaultAction::DelayAnswer { ms: 4000 })
                    .for_operation("PromoteReadReplica")
                    .times(1),
                FaultRule::new(FaultAction::Delay { ms: 5 }),
            ])
            .unwrap();
        let d = faults.decide(&call("rds", "us-west-2", "PromoteReadReplica"));
        assert_eq!((d.delay_ms, d.answer_delay_ms, d.terminal), (5, 4000, None));
        assert_eq!(d.applied.len(), 2);
        // Used up: the next promotion is answered at once.
        let d = faults.decide(&call("rds", "us-west-2", "PromoteReadReplica"));
        assert_eq!((d.delay_ms, d.answer_delay_ms), (5, 0));
        let parsed: FaultRule =
            serde_json::from_str(r#"{"action":{"delay_answer":{"ms":4000}}}"#).unwrap();
        assert_eq!(parsed.action, FaultAction::DelayAnswer { ms: 4000 });
        assert_eq!(parsed.action.kind(), "delay_answer");
        assert!(FaultRule::new(FaultAction::DelayAnswer { ms: 600_001 })
            .validate()
            .is_err());
    }

    #[test]
    fn same_seed_same_sequence() {
        let run = |seed| {
            let f = FaultController::new(seed);
            f.add(FaultRule::new(FaultAction::Throttle).with_probability(0.5))
                .unwrap();
            (0..64)
                .map(|_| {
                    f.decide(&call("kms", "us-east-1", "Decrypt"))
                        .terminal
                        .is_some()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn invalid_rules_are_rejected_atomically() {
        let f = FaultController::new(0);
        let err = f
            .set(vec![
                FaultRule::new(FaultAction::Throttle),
                FaultRule::new(FaultAction::Throttle).with_probability(1.5),
            ])
            .unwrap_err();
        assert!(matches!(err, EmulatorError::InvalidRule(_)));
        assert!(!err.is_retryable());
        assert!(f.rules().is_empty());
        assert!(FaultRule::new(FaultAction::Throttle)
            .with_probability(f64::NAN)
            .validate()
            .is_err());
    }

    #[test]
    fn json_form() {
        let rules: Vec<FaultRule> = serde_json::from_str(
            r#"[{"region":"us-east-1","action":"outage"},
                {"service":"dynamodb","action":{"delay":{"ms":250}},"probability":0.5,"remaining":3}]"#,
        )
        .unwrap();
        assert_eq!(rules[0], FaultRule::region_outage("us-east-1"));
        assert_eq!(
            rules[1],
            FaultRule::new(FaultAction::Delay { ms: 250 })
                .for_service("dynamodb")
                .with_probability(0.5)
                .times(3)
        );
        assert!(
            serde_json::from_str::<FaultRule>(r#"{"action":"throttle","regoin":"x"}"#).is_err()
        );
    }

    #[test]
    fn remove_matches_filters_and_action() {
        let f = FaultController::new(0);
        f.set(vec![
            FaultRule::region_outage("us-east-1").times(2),
            FaultRule::new(FaultAction::Throttle),
        ])
        .unwrap();
        assert_eq!(f.remove(&[FaultRule::region_outage("us-east-1")]), 1);
        assert_eq!(f.rules(), vec![FaultRule::new(FaultAction::Throttle)]);
    }
}
