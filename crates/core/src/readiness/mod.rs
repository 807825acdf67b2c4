//! Readiness: is the DR region able to take over right now? Each resource kind has a pure
//! evaluation over [`facts`] gathered by an adapter; [`run_checks`] gathers them concurrently
//! through the [`ReadinessFacts`](crate::capability::ReadinessFacts) capability.

pub mod evaluate;
pub mod facts;

use crate::capability::ReadinessFacts;
use crate::error::{CapabilityError, ErrorClass};
use crate::model::{EnvironmentConfig, ResourceKind, ResourceRef};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

/// Outcome of one readiness check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Ready.
    Pass,
    /// Ready, but something deserves attention.
    Warn,
    /// Not ready: a failover now would not work as planned.
    Fail,
    /// The facts could not be gathered (credentials, endpoint, AWS errors).
    Error,
}

impl Status {
    /// Lower-case label.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }
}

/// The result of checking one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Which resource.
    pub resource: ResourceRef,
    /// Pass, warn, fail or error.
    pub status: Status,
    /// One line: why.
    pub reason: String,
    /// What to do about it (empty on pass).
    pub fix: String,
    /// The error, when the facts could not be gathered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<CapabilityError>,
    /// The result fails only because replication lag is above the RPO: a failover gate defers
    /// this to the data-loss decision (`--allow-data-loss`) instead of refusing outright.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lag_over_rpo: bool,
}

impl CheckResult {
    /// A passing result.
    pub fn pass(resource: ResourceRef, reason: impl Into<String>) -> Self {
        Self::new(resource, Status::Pass, reason, "")
    }
    /// A warning.
    pub fn warn(resource: ResourceRef, reason: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(resource, Status::Warn, reason, fix)
    }
    /// A failure.
    pub fn fail(resource: ResourceRef, reason: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(resource, Status::Fail, reason, fix)
    }
    /// A failure caused only by replication lag above the RPO.
    pub fn lag_fail(
        resource: ResourceRef,
        reason: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        CheckResult {
            lag_over_rpo: true,
            ..Self::new(resource, Status::Fail, reason, fix)
        }
    }
    /// Facts could not be gathered.
    pub fn error(resource: ResourceRef, err: CapabilityError) -> Self {
        CheckResult {
            resource,
            status: Status::Error,
            reason: format!("could not check: {}", err.message),
            fix: err.hint.clone(),
            error: Some(err),
            lag_over_rpo: false,
        }
    }
    fn new(
        resource: ResourceRef,
        status: Status,
        reason: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        CheckResult {
            resource,
            status,
            reason: reason.into(),
            fix: fix.into(),
            error: None,
            lag_over_rpo: false,
        }
    }
}

/// Whether `e` says only that the `primary` region's API did not answer as it should — what a
/// regional outage looks like — rather than a credentials problem, which needs a person whatever
/// the primary's state.
pub fn primary_did_not_answer(e: &CapabilityError, primary: &str) -> bool {
    e.region == primary && e.class != ErrorClass::Credentials
}

/// The replication lag of an RDS read replica, and how it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct RdsLag {
    /// The lag; `None` when there is no recent datapoint.
    pub lag: Option<std::time::Duration>,
    /// Set when the primary region did not answer and the lag was read from the replica in DR
    /// alone: the primary's error, for the caller's log.
    pub primary_silent: Option<CapabilityError>,
}

/// The lag of `db`'s replica from its facts; when `tolerate_silent_primary` (an unplanned
/// failover, whose primary may be down) and the primary region did not answer, the lag is a
/// DR metric read from the replica alone.
pub async fn rds_lag(
    source: &dyn ReadinessFacts,
    cfg: &EnvironmentConfig,
    db: &crate::model::RdsReplica,
    tolerate_silent_primary: bool,
) -> Result<RdsLag, CapabilityError> {
    let secs = |s: f64| std::time::Duration::from_secs_f64(s.max(0.0));
    match source.rds(db).await {
        Ok(f) => Ok(RdsLag {
            lag: f.lag_seconds.map(secs),
            primary_silent: None,
        }),
        Err(e) if tolerate_silent_primary && primary_did_not_answer(&e, &cfg.regions.primary) => {
            let lag = source
                .rds_replica_lag(&cfg.regions.dr, &db.replica_instance)
                .await?;
            Ok(RdsLag {
                lag: lag.map(secs),
                primary_silent: Some(e),
            })
        }
        Err(e) => Err(e),
    }
}

impl CheckResult {
    /// Whether this check could not be made only because the `primary` region did not answer.
    pub fn primary_silent(&self, primary: &str) -> bool {
        self.status == Status::Error
            && self
                .error
                .as_ref()
                .is_some_and(|e| primary_did_not_answer(e, primary))
    }
}

/// Verdict of a whole readiness report, which also decides `pilotlight check`'s exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check passed or warned (exit 0).
    Ready,
    /// At least one check failed (exit 1).
    NotReady,
    /// No check failed, but at least one could not be made (exit 2).
    Unknown,
}

impl Verdict {
    /// The process exit code for this verdict.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Ready => 0,
            Verdict::NotReady => 1,
            Verdict::Unknown => 2,
        }
    }
}

/// The verdict of `results`: a definite failure outranks an unknown.
fn verdict_of(results: &[&CheckResult]) -> Verdict {
    if results.iter().any(|r| r.status == Status::Fail) {
        Verdict::NotReady
    } else if results.iter().any(|r| r.status == Status::Error) {
        Verdict::Unknown
    } else {
        Verdict::Ready
    }
}

/// All readiness results for an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadinessReport {
    /// Environment name.
    pub environment: String,
    /// Primary region.
    pub primary: String,
    /// DR region.
    pub dr: String,
    /// Overall verdict.
    pub verdict: Verdict,
    /// Per-resource results, in config order.
    pub results: Vec<CheckResult>,
}

impl ReadinessReport {
    /// Build a report and its verdict from results. A definite failure outranks an unknown.
    pub fn new(cfg: &EnvironmentConfig, results: Vec<CheckResult>) -> Self {
        let verdict = verdict_of(&results.iter().collect::<Vec<_>>());
        ReadinessReport {
            environment: cfg.environment.name.clone(),
            primary: cfg.regions.primary.clone(),
            dr: cfg.regions.dr.clone(),
            verdict,
            results,
        }
    }

    /// Count of results with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.results.iter().filter(|r| r.status == status).count()
    }

    /// What an unplanned failover goes by, its primary possibly down: the verdict of the
    /// checks other than those that could not be made only because the primary region did not
    /// answer, and the `kind/name` of those set aside (their DR side is left to the steps that
    /// act on it). A definite failure still outranks everything.
    pub fn verdict_without_silent_primary(&self) -> (Verdict, Vec<String>) {
        let (silent, rest): (Vec<&CheckResult>, Vec<&CheckResult>) = self
            .results
            .iter()
            .partition(|r| r.primary_silent(&self.primary));
        let verdict = verdict_of(&rest);
        let names = silent
            .iter()
            .map(|r| format!("{}/{}", r.resource.kind, r.resource.name))
            .collect();
        (verdict, names)
    }
}

/// Gather facts for every resource (at most `concurrency` at once) and evaluate them.
/// Results come back in the config's resource order regardless of completion order.
pub async fn run_checks(
    cfg: &EnvironmentConfig,
    source: &dyn ReadinessFacts,
    concurrency: usize,
) -> ReadinessReport {
    let resources = cfg.resources();
    let mut results: Vec<(usize, CheckResult)> = stream::iter(resources.into_iter().enumerate())
        .map(|(i, r)| async move { (i, check_one(cfg, source, r).await) })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    ReadinessReport::new(cfg, results.into_iter().map(|(_, r)| r).collect())
}

/// Gather and evaluate one resource.
pub async fn check_one(
    cfg: &EnvironmentConfig,
    source: &dyn ReadinessFacts,
    r: ResourceRef,
) -> CheckResult {
    use evaluate as ev;
    let rpo = cfg.objectives.rpo;
    let dr = cfg.regions.dr.as_str();
    let primary = cfg.regions.primary.as_str();
    let name = r.name.as_str();
    let outcome = match r.kind {
        ResourceKind::DynamodbTable => {
            let spec = cfg.dynamodb_tables.iter().find(|x| x.name == name);
            match spec {
                Some(s) => source
                    .dynamodb(s)
                    .await
                    .map(|f| ev::dynamodb(&r, s, &f, primary, dr, rpo)),
                None => return missing_spec(r),
            }
        }
        ResourceKind::S3Buckets => match cfg.s3_buckets.iter().find(|x| x.name == name) {
            Some(s) => source.s3(s).await.map(|f| ev::s3(&r, s, &f)),
            None => return missing_spec(r),
        },
        ResourceKind::KmsKey => match cfg.kms_keys.iter().find(|x| x.name == name) {
            Some(s) => source.kms(s).await.map(|f| ev::kms(&r, s, &f, primary, dr)),
            None => return missing_spec(r),
        },
        ResourceKind::RdsReplica => match cfg.rds_replicas.iter().find(|x| x.name == name) {
            Some(s) => source
                .rds(s)
                .await
                .map(|f| ev::rds(&r, s, &f, primary, dr, rpo)),
            None => return missing_spec(r),
        },
        ResourceKind::AuroraGlobal => {
            match cfg.aurora_global_clusters.iter().find(|x| x.name == name) {
                Some(s) => source
                    .aurora(s)
                    .await
                    .map(|f| ev::aurora(&r, s, &f, primary, dr, rpo)),
                None => return missing_spec(r),
            }
        }
        ResourceKind::EcsService => match cfg.ecs_services.iter().find(|x| x.name == name) {
            Some(s) => source.ecs(s).await.map(|f| ev::ecs(&r, s, &f, dr)),
            None => return missing_spec(r),
        },
        ResourceKind::AutoscalingGroup => {
            match cfg.autoscaling_groups.iter().find(|x| x.name == name) {
                Some(s) => source
                    .autoscaling(s)
                    .await
                    .map(|f| ev::autoscaling(&r, s, &f, dr)),
                None => return missing_spec(r),
            }
        }
        ResourceKind::Route53Record => {
            let zone = cfg.route53.as_ref();
            match zone.and_then(|z| z.records.iter().find(|x| x.name == name).map(|x| (z, x))) {
                Some((z, s)) => source
                    .route53(z, s)
                    .await
                    .map(|f| ev::route53(&r, z, s, &f)),
                None => return missing_spec(r),
            }
        }
    };
    outcome.unwrap_or_else(|e| CheckResult::error(r, e))
}

fn missing_spec(r: ResourceRef) -> CheckResult {
    CheckResult::fail(
        r,
        "resource is not in the environment config",
        "this is a bug in Pilotlight: please report it",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(name: &str) -> ResourceRef {
        ResourceRef {
            kind: ResourceKind::RdsReplica,
            name: name.into(),
        }
    }

    fn err(region: &str, class: ErrorClass) -> CapabilityError {
        CapabilityError {
            class,
            service: "rds".into(),
            region: region.into(),
            operation: "DescribeDBInstances".into(),
            code: None,
            message: "service unavailable".into(),
            hint: String::new(),
        }
    }

    fn report(results: Vec<CheckResult>) -> ReadinessReport {
        let verdict = verdict_of(&results.iter().collect::<Vec<_>>());
        ReadinessReport {
            environment: "e".into(),
            primary: "us-east-1".into(),
            dr: "us-west-2".into(),
            verdict,
            results,
        }
    }

    #[test]
    fn only_the_primarys_silence_is_set_aside() {
        let silent = CheckResult::error(res("db"), err("us-east-1", ErrorClass::Unreachable));
        let r = report(vec![CheckResult::pass(res("a"), "ok"), silent.clone()]);
        assert_eq!(r.verdict, Verdict::Unknown);
        assert_eq!(
            r.verdict_without_silent_primary(),
            (Verdict::Ready, vec!["rds/db".to_string()])
        );
        // Denied credentials in the primary need a person: not set aside.
        let denied = CheckResult::error(res("db"), err("us-east-1", ErrorClass::Credentials));
        assert_eq!(
            report(vec![denied]).verdict_without_silent_primary(),
            (Verdict::Unknown, vec![])
        );
        // The DR region not answering is not the primary's silence.
        let dr = CheckResult::error(res("db"), err("us-west-2", ErrorClass::Retryable));
        assert_eq!(
            report(vec![dr, silent.clone()]).verdict_without_silent_primary(),
            (Verdict::Unknown, vec!["rds/db".to_string()])
        );
        // A definite failure still blocks.
        let failed = CheckResult::fail(res("b"), "replica gone", "recreate it");
        assert_eq!(
            report(vec![failed, silent])
                .verdict_without_silent_primary()
                .0,
            Verdict::NotReady
        );
    }
}
