//! The actuator against recorded responses (`aws-smithy-mocks`), for what the emulator cannot
//! show:
//!
//! - Aurora global failover and switchover: moto does not implement `FailoverGlobalCluster` or
//!   `SwitchoverGlobalCluster` (HTTP 500). A small simulated global database answers the
//!   describe calls from shared state, records the failover/switchover requests, and moves
//!   through `failing-over`/`switching-over` to the new writer.
//! - A weighted Route 53 change that is `PENDING` before it is `INSYNC` (moto's `GetChange` is
//!   always `INSYNC`).

mod common;

use aws_sdk_rds::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_rds::operation::describe_global_clusters::{
    DescribeGlobalClustersError, DescribeGlobalClustersOutput,
};
use aws_sdk_rds::operation::failover_global_cluster::{
    FailoverGlobalClusterError, FailoverGlobalClusterOutput,
};
use aws_sdk_rds::operation::switchover_global_cluster::SwitchoverGlobalClusterOutput;
use aws_sdk_rds::types::{
    DbCluster, FailoverState, FailoverStatus, GlobalCluster, GlobalClusterMember,
};
use aws_sdk_rds::Client;
use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use common::{init_env, settings, DR};
use pilotlight_aws::{AwsActuator, Caller, ClientFactory};
use pilotlight_core::capability::Actuator;
use pilotlight_core::plan::Action;
use pilotlight_core::ErrorClass;
use std::sync::{Arc, Mutex};

const PRIMARY_ARN: &str = "arn:aws:rds:us-east-1:123456789012:cluster:orders-east";
const DR_ARN: &str = "arn:aws:rds:us-west-2:123456789012:cluster:orders-west";

/// A request to move the writer, as recorded.
#[derive(Debug, Clone, PartialEq)]
struct Sent {
    operation: &'static str,
    global: Option<String>,
    target: Option<String>,
    allow_data_loss: Option<bool>,
    switchover: Option<bool>,
}

/// The simulated global database.
#[derive(Debug)]
struct Sim {
    writer: &'static str,
    status: String,
    failover: Option<FailoverState>,
    /// Describes left before a move under way completes.
    moving_for: u32,
    sent: Vec<Sent>,
    describes: u32,
}

impl Sim {
    fn new() -> Arc<Mutex<Sim>> {
        Arc::new(Mutex::new(Sim {
            writer: PRIMARY_ARN,
            status: "available".into(),
            failover: None,
            moving_for: 0,
            sent: Vec::new(),
            describes: 0,
        }))
    }

    fn global(&mut self) -> GlobalCluster {
        self.describes += 1;
        if self.moving_for > 0 {
            self.moving_for -= 1;
            if self.moving_for == 0 {
                self.writer = DR_ARN;
                self.status = "available".into();
                self.failover = None;
            }
        }
        let member = |arn: &str| {
            GlobalClusterMember::builder()
                .db_cluster_arn(arn)
                .is_writer(arn == self.writer)
                .build()
        };
        let mut g = GlobalCluster::builder()
            .global_cluster_identifier("orders-global")
            .global_cluster_arn("arn:aws:rds::123456789012:global-cluster:orders-global")
            .status(self.status.clone())
            .global_cluster_members(member(PRIMARY_ARN))
            .global_cluster_members(member(DR_ARN));
        if let Some(f) = &self.failover {
            g = g.failover_state(f.clone());
        }
        g.build()
    }

    /// Starts a move to DR that shows `status` for two describes.
    fn start_move(&mut self, status: &str, data_loss: bool) {
        self.status = status.into();
        self.moving_for = 3;
        self.failover = Some(
            FailoverState::builder()
                .status(FailoverStatus::FailingOver)
                .from_db_cluster_arn(PRIMARY_ARN)
                .to_db_cluster_arn(DR_ARN)
                .is_data_loss_allowed(data_loss)
                .build(),
        );
    }
}

/// Rules answering like RDS in us-west-2 over `sim`.
fn rules(sim: &Arc<Mutex<Sim>>) -> Vec<Rule> {
    let s = sim.clone();
    let globals = mock!(Client::describe_global_clusters).then_compute_output(move |req| {
        let mut sim = s.lock().unwrap();
        let g = sim.global();
        let out = DescribeGlobalClustersOutput::builder();
        if req.global_cluster_identifier() == Some("orders-global") {
            out.global_clusters(g).build()
        } else {
            out.build()
        }
    });
    let clusters = mock!(Client::describe_db_clusters).then_compute_output(|req| {
        let out = aws_sdk_rds::operation::describe_db_clusters::DescribeDbClustersOutput::builder();
        match req.db_cluster_identifier() {
            Some("orders-west") => out
                .db_clusters(
                    DbCluster::builder()
                        .db_cluster_identifier("orders-west")
                        .db_cluster_arn(DR_ARN)
                        .status("available")
                        .build(),
                )
                .build(),
            Some("orders-east") => out
                .db_clusters(
                    DbCluster::builder()
                        .db_cluster_identifier("orders-east")
                        .db_cluster_arn(PRIMARY_ARN)
                        .status("available")
                        .build(),
                )
                .build(),
            Some("lonely") => out
                .db_clusters(
                    DbCluster::builder()
                        .db_cluster_identifier("lonely")
                        .db_cluster_arn("arn:aws:rds:us-west-2:123456789012:cluster:lonely")
                        .build(),
                )
                .build(),
            _ => out.build(),
        }
    });
    let s = sim.clone();
    let failover = mock!(Client::failover_global_cluster).then_compute_output(move |req| {
        let mut sim = s.lock().unwrap();
        sim.sent.push(Sent {
            operation: "FailoverGlobalCluster",
            global: req.global_cluster_identifier().map(str::to_string),
            target: req.target_db_cluster_identifier().map(str::to_string),
            allow_data_loss: req.allow_data_loss(),
            switchover: req.switchover(),
        });
        sim.start_move("failing-over", true);
        FailoverGlobalClusterOutput::builder().build()
    });
    let s = sim.clone();
    let switchover = mock!(Client::switchover_global_cluster).then_compute_output(move |req| {
        let mut sim = s.lock().unwrap();
        sim.sent.push(Sent {
            operation: "SwitchoverGlobalCluster",
            global: req.global_cluster_identifier().map(str::to_string),
            target: req.target_db_cluster_identifier().map(str::to_string),
            allow_data_loss: None,
            switchover: None,
        });
        sim.start_move("switching-over", false);
        SwitchoverGlobalClusterOutput::builder().build()
    });
    vec![globals, clusters, failover, switchover]
}

/// An RDS client answering from `rules` (first match wins; rules stay).
fn mocked_rds(rules: &[Rule]) -> Client {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in rules {
        interceptor = interceptor.with_rule(r);
    }
    let conf = aws_sdk_rds::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(DR))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        // As in `ClientFactory`: the caller is the only layer that retries.
        .retry_config(aws_sdk_rds::config::retry::RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

/// An actuator whose RDS calls in DR go to `rules`; any other client points nowhere.
fn actuator(rules: &[Rule]) -> AwsActuator {
    init_env();
    let clients = Arc::new(ClientFactory::new(settings("http://127.0.0.1:9")));
    AwsActuator::new(clients.clone(), Caller::from_factory(&clients))
        .with_rds_client(DR, mocked_rds(rules))
}

fn failover(planned: bool) -> Action {
    Action::AuroraFailover {
        region: DR.into(),
        global_cluster: "orders-global".into(),
        target_cluster: "orders-west".into(),
        planned,
    }
}

#[tokio::test]
async fn unplanned_failover_allows_data_loss_and_converges() -> anyhow::Result<()> {
    let sim = Sim::new();
    let a = actuator(&rules(&sim));
    let action = failover(false);

    let before = a.observe(&action).await?;
    assert!(!before.done && !before.in_progress, "{before:?}");
    assert_eq!(
        before.live,
        "status available, writer orders-east, target orders-west is reader"
    );

    let detail = a.act(&action).await?;
    assert_eq!(
        detail,
        format!("FailoverGlobalCluster orders-global → {DR_ARN} (unplanned, data loss allowed)")
    );
    let sent = sim.lock().unwrap().sent.clone();
    assert_eq!(
        sent,
        vec![Sent {
            operation: "FailoverGlobalCluster",
            global: Some("orders-global".into()),
            target: Some(DR_ARN.into()),
            allow_data_loss: Some(true),
            switchover: None,
        }]
    );

    let during = a.observe(&action).await?;
    assert!(during.in_progress && !during.done, "{during:?}");
    assert!(
        during.live.starts_with("status failing-over")
            && during
                .live
                .contains("failing-over orders-east → orders-west (data loss allowed)"),
        "{}",
        during.live
    );
    let mut obs = a.observe(&action).await?;
    while !obs.done {
        assert!(obs.in_progress, "{obs:?}");
        obs = a.observe(&action).await?;
    }
    assert_eq!(
        obs.live,
        "status available, writer orders-west, target orders-west is writer"
    );
    // Idempotent observe; nothing else was sent.
    assert!(a.observe(&action).await?.done);
    assert_eq!(sim.lock().unwrap().sent.len(), 1);
    Ok(())
}

#[tokio::test]
async fn planned_switchover_never_allows_data_loss() -> anyhow::Result<()> {
    let sim = Sim::new();
    let a = actuator(&rules(&sim));
    let action = failover(true);
    assert!(!a.observe(&action).await?.done);
    let detail = a.act(&action).await?;
    assert!(
        detail.starts_with("SwitchoverGlobalCluster orders-global"),
        "{detail}"
    );
    let sent = sim.lock().unwrap().sent.clone();
    assert_eq!(
        sent,
        vec![Sent {
            operation: "SwitchoverGlobalCluster",
            global: Some("orders-global".into()),
            target: Some(DR_ARN.into()),
            allow_data_loss: None,
            switchover: None,
        }]
    );
    let during = a.observe(&action).await?;
    assert!(during.in_progress, "{during:?}");
    assert!(
        during.live.starts_with("status switching-over"),
        "{}",
        during.live
    );
    let mut obs = during;
    while !obs.done {
        obs = a.observe(&action).await?;
    }
    assert!(
        obs.live.contains("target orders-west is writer"),
        "{}",
        obs.live
    );
    Ok(())
}

#[tokio::test]
async fn observe_maps_writer_status_and_pending_failovers() -> anyhow::Result<()> {
    let sim = Sim::new();
    let a = actuator(&rules(&sim));
    // A failover scheduled by someone else (or by us before a crash): in progress, not sent.
    {
        let mut s = sim.lock().unwrap();
        s.failover = Some(
            FailoverState::builder()
                .status(FailoverStatus::Pending)
                .from_db_cluster_arn(PRIMARY_ARN)
                .to_db_cluster_arn(DR_ARN)
                .is_data_loss_allowed(false)
                .build(),
        );
    }
    let obs = a.observe(&failover(true)).await?;
    assert!(obs.in_progress && !obs.done, "{obs:?}");
    assert!(
        obs.live.contains("pending orders-east → orders-west"),
        "{}",
        obs.live
    );

    // Already the writer, but the global cluster is still settling: neither done nor moving.
    {
        let mut s = sim.lock().unwrap();
        s.failover = None;
        s.writer = DR_ARN;
        s.status = "modifying".into();
    }
    let obs = a.observe(&failover(false)).await?;
    assert!(!obs.done && !obs.in_progress, "{obs:?}");
    sim.lock().unwrap().status = "available".into();
    assert!(a.observe(&failover(false)).await?.done);

    // Failing back: the primary cluster is the target and a reader now.
    let back = Action::AuroraFailover {
        region: DR.into(),
        global_cluster: "orders-global".into(),
        target_cluster: "orders-east".into(),
        planned: true,
    };
    let obs = a.observe(&back).await?;
    assert!(!obs.done && !obs.in_progress, "{obs:?}");
    assert_eq!(
        obs.live,
        "status available, writer orders-west, target orders-east is reader"
    );
    Ok(())
}

#[tokio::test]
async fn missing_global_cluster_target_or_membership_is_terminal() -> anyhow::Result<()> {
    let sim = Sim::new();
    let a = actuator(&rules(&sim));
    let cases = [
        ("nope-global", "orders-west", "`nope-global` does not exist"),
        (
            "orders-global",
            "nope-cluster",
            "`nope-cluster` does not exist",
        ),
        (
            "orders-global",
            "lonely",
            "is not a member of global cluster `orders-global`",
        ),
    ];
    for (global, target, want) in cases {
        let action = Action::AuroraFailover {
            region: DR.into(),
            global_cluster: global.into(),
            target_cluster: target.into(),
            planned: false,
        };
        let e = a.observe(&action).await.expect_err("terminal");
        assert_eq!(e.class, ErrorClass::Terminal, "{e}");
        assert!(e.message.contains(want), "{e}");
        let e = a.act(&action).await.expect_err("terminal");
        assert_eq!(e.class, ErrorClass::Terminal, "{e}");
    }
    assert!(sim.lock().unwrap().sent.is_empty(), "nothing was sent");

    // The not-found fault itself (as RDS answers for an unknown identifier) is a fact too.
    let not_found = mock!(Client::describe_global_clusters).then_error(|| {
        DescribeGlobalClustersError::generic(
            ErrorMetadata::builder()
                .code("GlobalClusterNotFoundFault")
                .message("GlobalCluster orders-global not found.")
                .build(),
        )
    });
    let mut with_fault = vec![not_found];
    with_fault.extend(rules(&sim));
    let a = actuator(&with_fault);
    let e = a.observe(&failover(false)).await.expect_err("terminal");
    assert_eq!(e.class, ErrorClass::Terminal, "{e}");
    assert!(e.message.contains("`orders-global` does not exist"), "{e}");
    Ok(())
}

#[tokio::test]
async fn failover_errors_are_classified_and_throttling_retried() -> anyhow::Result<()> {
    let sim = Sim::new();
    // First a throttle (retried by the caller), then a state the call cannot succeed in.
    let flaky = mock!(Client::failover_global_cluster)
        .sequence()
        .error(|| {
            FailoverGlobalClusterError::generic(
                ErrorMetadata::builder()
                    .code("Throttling")
                    .message("Rate exceeded")
                    .build(),
            )
        })
        .output(|| FailoverGlobalClusterOutput::builder().build())
        .error(|| {
            FailoverGlobalClusterError::generic(
                ErrorMetadata::builder()
                    .code("InvalidGlobalClusterStateFault")
                    .message("Global cluster is in an invalid state")
                    .build(),
            )
        })
        .build();
    let mut all = vec![flaky];
    all.extend(rules(&sim));
    let a = actuator(&all);
    a.act(&failover(false)).await?;
    let stats = a.caller().stats().get("rds", "FailoverGlobalCluster");
    assert_eq!(
        (stats.calls, stats.attempts, stats.throttles),
        (1, 2, 1),
        "{stats:?}"
    );
    let e = a.act(&failover(false)).await.expect_err("terminal");
    assert_eq!(e.class, ErrorClass::Terminal, "{e}");
    assert_eq!(e.code.as_deref(), Some("InvalidGlobalClusterStateFault"));
    Ok(())
}

// ---- Route 53: a weighted change that takes a while to reach every name server -----------------

/// The simulated hosted zone: the weights of the pair, the batches sent, `GetChange` calls.
#[derive(Debug)]
struct Zone {
    weights: (i64, i64),
    batches: Vec<Vec<aws_sdk_route53::types::ResourceRecordSet>>,
    get_change_ids: Vec<String>,
}

fn weighted_set(
    id: &str,
    weight: i64,
    hc: Option<&str>,
) -> aws_sdk_route53::types::ResourceRecordSet {
    use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};
    ResourceRecordSet::builder()
        .name("api.shop.test.")
        .r#type(RrType::A)
        .set_identifier(id)
        .weight(weight)
        .ttl(60)
        .set_health_check_id(hc.map(str::to_string))
        .resource_records(
            ResourceRecord::builder()
                .value("192.0.2.1")
                .build()
                .expect("record"),
        )
        .build()
        .expect("record set")
}

fn route53_rules(zone: &Arc<Mutex<Zone>>) -> Vec<Rule> {
    use aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsOutput;
    use aws_sdk_route53::operation::get_change::GetChangeOutput;
    use aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsOutput;
    use aws_sdk_route53::types::{ChangeInfo, ChangeStatus};
    use aws_sdk_route53::Client as R53;
    let change_info = |status: ChangeStatus| {
        ChangeInfo::builder()
            .id("/change/C1")
            .status(status)
            .submitted_at(aws_smithy_types::DateTime::from_secs(0))
            .build()
            .expect("change info")
    };
    let z = zone.clone();
    let list = mock!(R53::list_resource_record_sets).then_compute_output(move |_| {
        let z = z.lock().unwrap();
        ListResourceRecordSetsOutput::builder()
            .resource_record_sets(weighted_set("api-primary", z.weights.0, Some("hc-1")))
            .resource_record_sets(weighted_set("api-dr", z.weights.1, None))
            .is_truncated(false)
            .max_items(300)
            .build()
            .expect("listing")
    });
    let z = zone.clone();
    let change = mock!(R53::change_resource_record_sets).then_compute_output(move |req| {
        let mut z = z.lock().unwrap();
        let sets: Vec<_> = req
            .change_batch()
            .map(|b| {
                b.changes()
                    .iter()
                    .map(|c| c.resource_record_set().expect("set").clone())
                    .collect()
            })
            .unwrap_or_default();
        for s in &sets {
            match s.set_identifier() {
                Some("api-primary") => z.weights.0 = s.weight().unwrap_or(-1),
                Some("api-dr") => z.weights.1 = s.weight().unwrap_or(-1),
                _ => {}
            }
        }
        z.batches.push(sets);
        ChangeResourceRecordSetsOutput::builder()
            .change_info(change_info(ChangeStatus::Pending))
            .build()
    });
    let z = zone.clone();
    let get = mock!(R53::get_change).then_compute_output(move |req| {
        let mut z = z.lock().unwrap();
        z.get_change_ids
            .push(req.id().unwrap_or_default().to_string());
        // PENDING on the first look, INSYNC afterwards.
        let status = if z.get_change_ids.len() == 1 {
            ChangeStatus::Pending
        } else {
            ChangeStatus::Insync
        };
        GetChangeOutput::builder()
            .change_info(change_info(status))
            .build()
    });
    vec![list, change, get]
}

fn mocked_route53(rules: &[Rule]) -> aws_sdk_route53::Client {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in rules {
        interceptor = interceptor.with_rule(r);
    }
    let conf = aws_sdk_route53::Config::builder()
        .behavior_version(aws_sdk_route53::config::BehaviorVersion::latest())
        .region(aws_sdk_route53::config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .retry_config(aws_sdk_route53::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_route53::Client::from_conf(conf)
}

#[tokio::test]
async fn weighted_shift_is_done_only_when_insync() -> anyhow::Result<()> {
    use pilotlight_core::runbook::Side;
    let zone = Arc::new(Mutex::new(Zone {
        weights: (100, 0),
        batches: Vec::new(),
        get_change_ids: Vec::new(),
    }));
    init_env();
    let clients = Arc::new(ClientFactory::new(settings("http://127.0.0.1:9")));
    let a = AwsActuator::new(clients.clone(), Caller::from_factory(&clients))
        .with_route53_client(mocked_route53(&route53_rules(&zone)));
    let action = Action::ShiftTraffic {
        zone_id: "Z1".into(),
        record_name: "api.shop.test".into(),
        record_type: "A".into(),
        primary_set_identifier: "api-primary".into(),
        dr_set_identifier: "api-dr".into(),
        failover_routing: false,
        to: Side::Dr,
        weight: None,
        previous: None,
        soak: None,
    };
    let before = a.observe(&action).await?;
    assert!(!before.done && !before.in_progress, "{before:?}");
    assert_eq!(before.live, "weights primary 100, DR 0");

    let detail = a.act(&action).await?;
    assert!(detail.ends_with("(change C1 PENDING)"), "{detail}");
    {
        let z = zone.lock().unwrap();
        // One batch, both sets, every other field kept.
        assert_eq!(
            z.batches,
            vec![vec![
                weighted_set("api-primary", 0, Some("hc-1")),
                weighted_set("api-dr", 100, None)
            ]]
        );
    }

    let pending = a.observe(&action).await?;
    assert!(pending.in_progress && !pending.done, "{pending:?}");
    assert_eq!(pending.live, "weights primary 0, DR 100; change C1 PENDING");
    let synced = a.observe(&action).await?;
    assert!(synced.done && !synced.in_progress, "{synced:?}");
    assert_eq!(synced.live, "weights primary 0, DR 100; change C1 INSYNC");
    // Once confirmed, the weights alone decide: no more GetChange.
    assert!(a.observe(&action).await?.done);
    assert_eq!(zone.lock().unwrap().get_change_ids, vec!["C1", "C1"]);
    Ok(())
}
