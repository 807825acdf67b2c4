//! `run_checks` with an in-memory fake: results in config order whatever the completion order,
//! errors become `error` results, and the verdict follows the documented exit codes.

use async_trait::async_trait;
use pilotlight_core::capability::ReadinessFacts;
use pilotlight_core::model::*;
use pilotlight_core::readiness::facts::*;
use pilotlight_core::readiness::{run_checks, Status, Verdict};
use pilotlight_core::{CapabilityError, ErrorClass};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn config() -> EnvironmentConfig {
    EnvironmentConfig {
        environment: Environment {
            name: "t".into(),
            tier: Tier::Development,
        },
        regions: Regions {
            primary: "us-east-1".into(),
            dr: "us-west-2".into(),
            observers: vec![],
        },
        objectives: Objectives {
            rto: Duration::from_secs(900),
            rpo: Duration::from_secs(60),
        },
        aws: AwsSettings::default(),
        check: CheckSettings::default(),
        ecs_services: vec![],
        autoscaling_groups: vec![],
        rds_replicas: vec![],
        aurora_global_clusters: vec![],
        dynamodb_tables: (0..6)
            .map(|i| DynamoTable {
                name: format!("t{i}"),
                table: format!("table{i}"),
            })
            .collect(),
        s3_buckets: vec![],
        kms_keys: vec![],
        route53: None,
        health: None,
        notifications: None,
        access: None,
    }
}

/// Table `tableN` is healthy unless N is in `missing_dr`; N in `errors` cannot be read.
struct Fake {
    missing_dr: Vec<usize>,
    errors: Vec<usize>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

fn idx(t: &DynamoTable) -> usize {
    t.table.trim_start_matches("table").parse().unwrap()
}

#[async_trait]
impl ReadinessFacts for Fake {
    async fn dynamodb(&self, t: &DynamoTable) -> Result<DynamoFacts, CapabilityError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        // Yield a few times so several checks are in flight together, finishing out of order.
        for _ in 0..(6 - idx(t)) {
            futures::pending_once().await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.errors.contains(&idx(t)) {
            return Err(CapabilityError {
                class: ErrorClass::Credentials,
                service: "dynamodb".into(),
                region: "us-east-1".into(),
                operation: "DescribeTable".into(),
                code: Some("AccessDeniedException".into()),
                message: "denied".into(),
                hint: "grant dynamodb:DescribeTable".into(),
            });
        }
        let active = TableState {
            status: "ACTIVE".into(),
            replicas: vec![ReplicaState {
                region: "us-west-2".into(),
                status: "ACTIVE".into(),
            }],
        };
        Ok(DynamoFacts {
            primary: Some(active.clone()),
            dr: if self.missing_dr.contains(&idx(t)) {
                None
            } else {
                Some(active)
            },
            replication_latency_ms: None,
        })
    }
    async fn s3(&self, _: &S3BucketPair) -> Result<S3Facts, CapabilityError> {
        unreachable!()
    }
    async fn kms(&self, _: &KmsKey) -> Result<KmsFacts, CapabilityError> {
        unreachable!()
    }
    async fn rds(&self, _: &RdsReplica) -> Result<RdsFacts, CapabilityError> {
        unreachable!()
    }
    async fn aurora(&self, _: &AuroraGlobalCluster) -> Result<AuroraFacts, CapabilityError> {
        unreachable!()
    }
    async fn rds_replica_lag(&self, _: &str, _: &str) -> Result<Option<f64>, CapabilityError> {
        unreachable!()
    }
    async fn ecs(&self, _: &EcsService) -> Result<EcsFacts, CapabilityError> {
        unreachable!()
    }
    async fn autoscaling(&self, _: &AutoScalingGroup) -> Result<AsgFacts, CapabilityError> {
        unreachable!()
    }
    async fn route53(&self, _: &Route53, _: &DnsRecord) -> Result<Route53Facts, CapabilityError> {
        unreachable!()
    }
}

mod futures {
    pub use ::futures::*;
    /// A future that is pending once, then ready.
    pub async fn pending_once() {
        let mut done = false;
        ::futures::future::poll_fn(|cx| {
            if done {
                std::task::Poll::Ready(())
            } else {
                done = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
        .await
    }
}

fn fake(missing_dr: Vec<usize>, errors: Vec<usize>) -> Fake {
    Fake {
        missing_dr,
        errors,
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
    }
}

#[test]
fn all_ready_in_config_order_with_bounded_concurrency() {
    let cfg = config();
    let f = fake(vec![], vec![]);
    let report = futures::executor::block_on(run_checks(&cfg, &f, 3));
    assert_eq!(report.verdict, Verdict::Ready);
    let names: Vec<_> = report
        .results
        .iter()
        .map(|r| r.resource.name.clone())
        .collect();
    assert_eq!(names, ["t0", "t1", "t2", "t3", "t4", "t5"]);
    assert!(report.results.iter().all(|r| r.status == Status::Pass));
    let max = f.max_in_flight.load(Ordering::SeqCst);
    assert!(max > 1 && max <= 3, "max in flight {max}");
}

#[test]
fn a_failure_makes_the_environment_not_ready() {
    let cfg = config();
    let report = futures::executor::block_on(run_checks(&cfg, &fake(vec![4], vec![]), 8));
    assert_eq!(report.verdict, Verdict::NotReady);
    assert_eq!(report.verdict.exit_code(), 1);
    assert_eq!(report.results[4].status, Status::Fail);
    assert_eq!(report.count(Status::Pass), 5);
}

#[test]
fn an_error_without_failures_is_unknown_and_a_failure_outranks_it() {
    let cfg = config();
    let report = futures::executor::block_on(run_checks(&cfg, &fake(vec![], vec![2]), 8));
    assert_eq!(report.verdict, Verdict::Unknown);
    assert_eq!(report.verdict.exit_code(), 2);
    let r = &report.results[2];
    assert_eq!(r.status, Status::Error);
    assert!(
        r.reason.contains("denied") && r.fix.contains("grant"),
        "{r:?}"
    );
    let both = futures::executor::block_on(run_checks(&cfg, &fake(vec![1], vec![2]), 8));
    assert_eq!(both.verdict, Verdict::NotReady);
}
