//! The AWS implementation of [`Actuator`]: observes and changes the live state behind the plan
//! nodes that act on AWS — ECS services and Auto Scaling groups (scale), RDS read replicas
//! (promote), Aurora global databases (failover / switchover), Route 53 record pairs (shift
//! traffic) — and observes capacity for `wait_until` nodes.
//!
//! `observe` is read-only. `act` sends the one change the action stands for and returns what
//! was sent; the executor calls it only after `observe` reported the target neither done nor in
//! progress, and then polls `observe` until it is done. Every AWS call goes through
//! [`Caller`], so rate limits, retries with backoff and error classification apply; targets that
//! do not exist are [`ErrorClass::Terminal`] errors naming the resource and what to do.
//!
//! Route 53 traffic shifts come in two forms. With failover routing (records steered by health
//! checks) the actuator steers through the primary record set's health check: `Inverted = true`
//! makes Route 53 consider the primary unhealthy and answer with the secondary — a data-plane
//! switch, no record change. With weighted routing it UPSERTs both record sets in one batch with
//! weights 0/100 and waits until the change is `INSYNC`.

use crate::client::ClientFactory;
use crate::retry::Caller;
use async_trait::async_trait;
use pilotlight_core::capability::{Actuator, Observation};
use pilotlight_core::plan::{Action, CapacityTarget};
use pilotlight_core::runbook::Side;
use pilotlight_core::{CapabilityError, ErrorClass};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use tracing::{debug, info};

mod lifecycle;

/// Region Route 53 (a global service) is signed for unless told otherwise
/// ([`AwsActuator::with_route53_region`]).
pub const ROUTE53_REGION: &str = "us-east-1";

/// Backup retention (days) set when promoting an RDS read replica: a promoted instance keeps
/// automated backups from the start.
pub const PROMOTION_BACKUP_RETENTION_DAYS: i32 = 1;

/// Weight of the serving record set in a weighted pair; the other gets 0.
pub const SERVING_WEIGHT: i64 = 100;

/// A Route 53 record set as listed.
type RecordSet = aws_sdk_route53::types::ResourceRecordSet;

/// RDS instance statuses that mean a change (a promotion, a reboot) is under way.
const RDS_BUSY_STATUSES: &[&str] = &[
    "modifying",
    "rebooting",
    "backing-up",
    "renaming",
    "upgrading",
];

/// Global cluster statuses that mean a failover or switchover is under way.
const AURORA_MOVING_STATUSES: &[&str] = &["failing-over", "switching-over"];

/// Which way a scale action moves a target; decides how "reached" is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    /// More capacity: reached when at least the desired count runs.
    Up,
    /// Less capacity: reached when at most the desired count runs.
    Down,
}

/// Whether a scale target has reached `target`: the desired count is set and the running
/// (in-service) count is on the right side of it. Without a known trend, the running count must
/// equal the target (a surplus may be a scale-down draining, a shortfall a scale-up starting).
pub fn scale_reached(desired_now: u32, running: u32, target: u32, trend: Option<Trend>) -> bool {
    desired_now == target
        && match trend {
            Some(Trend::Up) => running >= target,
            Some(Trend::Down) => running <= target,
            None => running == target,
        }
}

/// The trend of scaling from `desired_now` (with `running` running) to `target`.
pub fn trend_of(desired_now: u32, running: u32, target: u32) -> Trend {
    if target < desired_now || (target == desired_now && running > target) {
        Trend::Down
    } else {
        Trend::Up
    }
}

/// How many of `desired` count as `fraction` of it: `ceil(desired * fraction)`, robust to
/// floating-point noise (`10 * 0.3` is 3, not 4).
pub fn needed(desired: u32, fraction: f64) -> u32 {
    let raw = f64::from(desired) * fraction.clamp(0.0, 1.0);
    let n = (raw - 1e-9).ceil();
    if n <= 0.0 {
        0
    } else {
        (n as u32).min(desired)
    }
}

/// Whether an RDS instance with `status` and read-replica `source` is promoted (`done`) or its
/// promotion, or another change, is under way (`in_progress`).
pub fn promotion_state(status: &str, source: Option<&str>) -> (bool, bool) {
    let standalone = source.is_none_or(str::is_empty);
    let done = standalone && status == "available";
    let busy = RDS_BUSY_STATUSES.contains(&status) || status.starts_with("configuring-");
    (done, !done && (busy || standalone))
}

/// The weights (primary, DR) of a weighted pair when `to` serves.
pub fn weights_for(to: Side) -> (i64, i64) {
    shared_weights(to, 100)
}

/// The weights (primary, DR) of a weighted pair when `to` gets `share` percent of the traffic.
pub fn shared_weights(to: Side, share: u8) -> (i64, i64) {
    let to_weight = SERVING_WEIGHT * i64::from(share.min(100)) / 100;
    let other = SERVING_WEIGHT - to_weight;
    match to {
        Side::Primary => (to_weight, other),
        Side::Dr => (other, to_weight),
    }
}

/// The observation of an Aurora global cluster for a failover to the member `target_arn`.
/// `None` when the target is not a member.
pub fn aurora_observation(
    global: &aws_sdk_rds::types::GlobalCluster,
    target_arn: &str,
) -> Option<Observation> {
    use aws_sdk_rds::types::FailoverStatus;
    let target = global
        .global_cluster_members()
        .iter()
        .find(|m| m.db_cluster_arn() == Some(target_arn))?;
    let writer = global
        .global_cluster_members()
        .iter()
        .find(|m| m.is_writer() == Some(true))
        .and_then(|m| m.db_cluster_arn())
        .unwrap_or("none");
    let status = global.status().unwrap_or("unknown");
    let failover = global.failover_state().filter(|f| {
        matches!(
            f.status(),
            Some(FailoverStatus::Pending | FailoverStatus::FailingOver)
        )
    });
    let is_writer = target.is_writer() == Some(true);
    let mut live = format!(
        "status {status}, writer {}, target {} is {}",
        short_arn(writer),
        short_arn(target_arn),
        if is_writer { "writer" } else { "reader" }
    );
    if let Some(f) = failover {
        let _ = write!(
            live,
            "; {} {} → {}{}",
            f.status().map(|s| s.as_str()).unwrap_or("pending"),
            short_arn(f.from_db_cluster_arn().unwrap_or("?")),
            short_arn(f.to_db_cluster_arn().unwrap_or("?")),
            if f.is_data_loss_allowed() == Some(true) {
                " (data loss allowed)"
            } else {
                ""
            }
        );
    }
    let moving = AURORA_MOVING_STATUSES.contains(&status) || failover.is_some();
    let done = is_writer && status == "available" && failover.is_none();
    Some(Observation {
        live,
        done,
        in_progress: !done && moving,
    })
}

/// The resource part of an ARN (`cluster:orders-dr` → `orders-dr`), for short live strings.
fn short_arn(arn: &str) -> &str {
    if arn.starts_with("arn:") {
        arn.rsplit(':').next().unwrap_or(arn)
    } else {
        arn
    }
}

/// A Terminal error about something an operator must fix.
fn terminal(
    service: &str,
    region: &str,
    operation: &str,
    message: impl Into<String>,
    hint: impl Into<String>,
) -> CapabilityError {
    CapabilityError {
        class: ErrorClass::Terminal,
        service: service.to_string(),
        region: region.to_string(),
        operation: operation.to_string(),
        code: None,
        message: message.into(),
        hint: hint.into(),
    }
}

/// A count as the `i32` the APIs take.
#[allow(clippy::result_large_err)] // the crate-wide error type, as in every async fn here
fn as_i32(n: u32, service: &str, region: &str, operation: &str) -> Result<i32, CapabilityError> {
    i32::try_from(n).map_err(|_| {
        terminal(
            service,
            region,
            operation,
            format!("count {n} is too large"),
            "use a count below 2^31 in the environment config",
        )
    })
}

fn count(n: i32) -> u32 {
    n.max(0) as u32
}

/// What the actuator remembers between calls (lost on restart; every decision still works
/// without it, only less precisely).
#[derive(Debug, Default)]
struct Memory {
    /// Scale target → (desired count sent, trend of that change).
    trends: HashMap<String, (u32, Trend)>,
    /// Weighted record pair → id of the last change sent.
    changes: HashMap<String, String>,
}

/// SDK clients to use instead of the factory's (tests with recorded responses, callers with
/// special client settings).
#[derive(Debug, Clone, Default)]
struct Overrides {
    rds: HashMap<String, aws_sdk_rds::Client>,
    ecs: HashMap<String, aws_sdk_ecs::Client>,
    autoscaling: HashMap<String, aws_sdk_autoscaling::Client>,
    route53: Option<aws_sdk_route53::Client>,
}

/// Observes and changes AWS for the plan nodes that act on it, through one [`ClientFactory`]
/// and one [`Caller`]. Cheap to clone; clones share their memory of changes sent.
#[derive(Debug, Clone)]
pub struct AwsActuator {
    clients: Arc<ClientFactory>,
    caller: Caller,
    route53_region: String,
    overrides: Overrides,
    memory: Arc<Mutex<Memory>>,
}

impl AwsActuator {
    /// An actuator over `clients` and `caller`. No network call is made until it is used.
    pub fn new(clients: Arc<ClientFactory>, caller: Caller) -> Self {
        AwsActuator {
            clients,
            caller,
            route53_region: ROUTE53_REGION.to_string(),
            overrides: Overrides::default(),
            memory: Arc::default(),
        }
    }

    /// Signs Route 53 calls for `region` (default [`ROUTE53_REGION`]; another partition's
    /// Route 53 needs its own region, e.g. `us-gov-west-1`).
    pub fn with_route53_region(mut self, region: impl Into<String>) -> Self {
        self.route53_region = region.into();
        self
    }

    /// Uses `client` for RDS calls in `region` instead of the factory's.
    pub fn with_rds_client(
        mut self,
        region: impl Into<String>,
        client: aws_sdk_rds::Client,
    ) -> Self {
        self.overrides.rds.insert(region.into(), client);
        self
    }

    /// Uses `client` for ECS calls in `region` instead of the factory's.
    pub fn with_ecs_client(
        mut self,
        region: impl Into<String>,
        client: aws_sdk_ecs::Client,
    ) -> Self {
        self.overrides.ecs.insert(region.into(), client);
        self
    }

    /// Uses `client` for EC2 Auto Scaling calls in `region` instead of the factory's.
    pub fn with_autoscaling_client(
        mut self,
        region: impl Into<String>,
        client: aws_sdk_autoscaling::Client,
    ) -> Self {
        self.overrides.autoscaling.insert(region.into(), client);
        self
    }

    /// Uses `client` for Route 53 calls instead of the factory's.
    pub fn with_route53_client(mut self, client: aws_sdk_route53::Client) -> Self {
        self.overrides.route53 = Some(client);
        self
    }

    /// The caller every request goes through (for its stats).
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    fn memory(&self) -> MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn rds(&self, region: &str) -> aws_sdk_rds::Client {
        match self.overrides.rds.get(region) {
            Some(c) => c.clone(),
            None => self.clients.rds(region).await,
        }
    }

    async fn ecs(&self, region: &str) -> aws_sdk_ecs::Client {
        match self.overrides.ecs.get(region) {
            Some(c) => c.clone(),
            None => self.clients.ecs(region).await,
        }
    }

    async fn autoscaling(&self, region: &str) -> aws_sdk_autoscaling::Client {
        match self.overrides.autoscaling.get(region) {
            Some(c) => c.clone(),
            None => self.clients.autoscaling(region).await,
        }
    }

    async fn route53(&self) -> aws_sdk_route53::Client {
        match &self.overrides.route53 {
            Some(c) => c.clone(),
            None => self.clients.route53(&self.route53_region).await,
        }
    }

    // ---- ECS ---------------------------------------------------------------------------------

    /// The ECS service, ACTIVE or DRAINING; a Terminal error when it (or its cluster) does not
    /// exist.
    async fn ecs_service(
        &self,
        region: &str,
        cluster: &str,
        service: &str,
    ) -> Result<aws_sdk_ecs::types::Service, CapabilityError> {
        let client = self.ecs(region).await;
        let out = self
            .caller
            .call_opt(
                "ecs",
                region,
                "DescribeServices",
                &["ClusterNotFoundException", "ServiceNotFoundException"],
                || {
                    client
                        .describe_services()
                        .cluster(cluster)
                        .services(service)
                        .send()
                },
            )
            .await?;
        out.and_then(|o| {
            o.services()
                .iter()
                .find(|s| {
                    (s.service_name() == Some(service) || s.service_arn() == Some(service))
                        && s.status() != Some("INACTIVE")
                })
                .cloned()
        })
        .ok_or_else(|| {
            terminal(
                "ecs",
                region,
                "DescribeServices",
                format!("ECS service `{service}` does not exist in cluster `{cluster}`"),
                format!(
                    "create the service in {region}, or fix `cluster` / `service` of the ECS \
                     service in the environment config"
                ),
            )
        })
    }

    #[tracing::instrument(skip_all, fields(kind = "ecs", region = %region, cluster = %cluster, service = %service))]
    async fn observe_ecs(
        &self,
        region: &str,
        cluster: &str,
        service: &str,
        desired: u32,
    ) -> Result<Observation, CapabilityError> {
        let s = self.ecs_service(region, cluster, service).await?;
        let (now, running) = (count(s.desired_count()), count(s.running_count()));
        let trend = self.remembered_trend(&ecs_key(region, cluster, service), desired);
        let done = scale_reached(now, running, desired, trend);
        debug!(
            desired_now = now,
            running,
            target = desired,
            done,
            "observed ECS service"
        );
        Ok(Observation {
            live: format!("desired {now}, running {running}"),
            done,
            in_progress: false,
        })
    }

    #[tracing::instrument(skip_all, fields(kind = "ecs", region = %region, cluster = %cluster, service = %service))]
    async fn act_ecs(
        &self,
        region: &str,
        cluster: &str,
        service: &str,
        desired: u32,
    ) -> Result<String, CapabilityError> {
        let s = self.ecs_service(region, cluster, service).await?;
        let (now, running) = (count(s.desired_count()), count(s.running_count()));
        let target = as_i32(desired, "ecs", region, "UpdateService")?;
        self.remember_trend(
            ecs_key(region, cluster, service),
            desired,
            trend_of(now, running, desired),
        );
        let client = self.ecs(region).await;
        self.caller
            .call_change("ecs", region, "UpdateService", || {
                client
                    .update_service()
                    .cluster(cluster)
                    .service(service)
                    .desired_count(target)
                    .send()
            })
            .await?;
        info!(from = now, to = desired, "ECS desired count set");
        Ok(format!(
            "UpdateService {cluster}/{service} in {region}: desired count {now} → {desired}"
        ))
    }

    // ---- Auto Scaling ------------------------------------------------------------------------

    async fn asg(
        &self,
        region: &str,
        group: &str,
    ) -> Result<aws_sdk_autoscaling::types::AutoScalingGroup, CapabilityError> {
        let client = self.autoscaling(region).await;
        let out = self
            .caller
            .call("autoscaling", region, "DescribeAutoScalingGroups", || {
                client
                    .describe_auto_scaling_groups()
                    .auto_scaling_group_names(group)
                    .send()
            })
            .await?;
        out.auto_scaling_groups()
            .iter()
            .find(|g| g.auto_scaling_group_name() == Some(group))
            .cloned()
            .ok_or_else(|| {
                terminal(
                    "autoscaling",
                    region,
                    "DescribeAutoScalingGroups",
                    format!("Auto Scaling group `{group}` does not exist"),
                    format!(
                        "create the group in {region}, or fix `group` of the Auto Scaling group \
                         in the environment config"
                    ),
                )
            })
    }

    #[tracing::instrument(skip_all, fields(kind = "autoscaling", region = %region, group = %group))]
    async fn observe_asg(
        &self,
        region: &str,
        group: &str,
        desired: u32,
    ) -> Result<Observation, CapabilityError> {
        let g = self.asg(region, group).await?;
        let now = count(g.desired_capacity().unwrap_or(0));
        let in_service = in_service(&g);
        let trend = self.remembered_trend(&asg_key(region, group), desired);
        let done = scale_reached(now, in_service, desired, trend);
        debug!(
            desired_now = now,
            in_service,
            target = desired,
            done,
            "observed Auto Scaling group"
        );
        let protected = g
            .instances()
            .iter()
            .filter(|i| i.protected_from_scale_in() == Some(true))
            .count();
        let mut live = format!("desired {now}, in service {in_service}");
        if protected > 0 && in_service > desired {
            let _ = write!(
                live,
                ", {protected} protected from scale-in (draining live sessions)"
            );
        }
        Ok(Observation {
            live,
            done,
            in_progress: false,
        })
    }

    #[tracing::instrument(skip_all, fields(kind = "autoscaling", region = %region, group = %group))]
    async fn act_asg(
        &self,
        region: &str,
        group: &str,
        desired: u32,
    ) -> Result<String, CapabilityError> {
        let g = self.asg(region, group).await?;
        let now = count(g.desired_capacity().unwrap_or(0));
        let (min, max) = (
            count(g.min_size().unwrap_or(0)),
            count(g.max_size().unwrap_or(0)),
        );
        self.remember_trend(
            asg_key(region, group),
            desired,
            trend_of(now, in_service(&g), desired),
        );
        let client = self.autoscaling(region).await;
        let sent = if max < desired || min > desired {
            let op = "UpdateAutoScalingGroup";
            let target = as_i32(desired, "autoscaling", region, op)?;
            let (new_min, new_max) = (min.min(desired), max.max(desired));
            self.caller
                .call_change("autoscaling", region, op, || {
                    let req = client
                        .update_auto_scaling_group()
                        .auto_scaling_group_name(group)
                        .desired_capacity(target);
                    let req = if max < desired {
                        req.max_size(target)
                    } else {
                        req
                    };
                    let req = if min > desired {
                        req.min_size(target)
                    } else {
                        req
                    };
                    req.send()
                })
                .await?;
            format!(
                "UpdateAutoScalingGroup {group} in {region}: desired {now} → {desired}, \
                 min {min} → {new_min}, max {max} → {new_max}"
            )
        } else {
            let op = "SetDesiredCapacity";
            let target = as_i32(desired, "autoscaling", region, op)?;
            self.caller
                .call_change("autoscaling", region, op, || {
                    client
                        .set_desired_capacity()
                        .auto_scaling_group_name(group)
                        .desired_capacity(target)
                        .honor_cooldown(false)
                        .send()
                })
                .await?;
            format!("SetDesiredCapacity {group} in {region}: desired {now} → {desired}")
        };
        info!(
            from = now,
            to = desired,
            "Auto Scaling desired capacity set"
        );
        Ok(sent)
    }

    fn remembered_trend(&self, key: &str, desired: u32) -> Option<Trend> {
        self.memory()
            .trends
            .get(key)
            .filter(|(d, _)| *d == desired)
            .map(|(_, t)| *t)
    }

    fn remember_trend(&self, key: String, desired: u32, trend: Trend) {
        self.memory().trends.insert(key, (desired, trend));
    }

    // ---- RDS ---------------------------------------------------------------------------------

    async fn db_instance(
        &self,
        region: &str,
        instance: &str,
    ) -> Result<aws_sdk_rds::types::DbInstance, CapabilityError> {
        self.db_instance_opt(region, instance)
            .await?
            .ok_or_else(|| {
                terminal(
                    "rds",
                    region,
                    "DescribeDBInstances",
                    format!("RDS instance `{instance}` does not exist"),
                    format!(
                        "check the instance identifiers of the RDS replica in the environment \
                     config and that the instance exists in {region}"
                    ),
                )
            })
    }

    /// The instance, `None` when it does not exist.
    async fn db_instance_opt(
        &self,
        region: &str,
        instance: &str,
    ) -> Result<Option<aws_sdk_rds::types::DbInstance>, CapabilityError> {
        let client = self.rds(region).await;
        let out = self
            .caller
            .call_opt(
                "rds",
                region,
                "DescribeDBInstances",
                &["DBInstanceNotFound", "DBInstanceNotFoundFault"],
                || {
                    client
                        .describe_db_instances()
                        .db_instance_identifier(instance)
                        .send()
                },
            )
            .await?;
        Ok(out.and_then(|o| {
            o.db_instances()
                .iter()
                .find(|db| {
                    db.db_instance_identifier()
                        .is_some_and(|id| id.eq_ignore_ascii_case(instance))
                        || db.db_instance_arn() == Some(instance)
                })
                .cloned()
        }))
    }

    #[tracing::instrument(skip_all, fields(kind = "rds", region = %region, instance = %instance))]
    async fn observe_promotion(
        &self,
        region: &str,
        instance: &str,
    ) -> Result<Observation, CapabilityError> {
        let db = self.db_instance(region, instance).await?;
        let status = db.db_instance_status().unwrap_or("unknown");
        let source = db.read_replica_source_db_instance_identifier();
        let (done, in_progress) = promotion_state(status, source);
        let live = match source.filter(|s| !s.is_empty()) {
            Some(s) => format!("status {status}, read replica of {s}"),
            None => format!("status {status}, standalone"),
        };
        debug!(
            status,
            source = source.unwrap_or(""),
            done,
            in_progress,
            "observed RDS instance"
        );
        Ok(Observation {
            live,
            done,
            in_progress,
        })
    }

    #[tracing::instrument(skip_all, fields(kind = "rds", region = %region, instance = %instance))]
    async fn promote(&self, region: &str, instance: &str) -> Result<String, CapabilityError> {
        let client = self.rds(region).await;
        let out = self
            .caller
            .call_change_once("rds", region, "PromoteReadReplica", || {
                client
                    .promote_read_replica()
                    .db_instance_identifier(instance)
                    .backup_retention_period(PROMOTION_BACKUP_RETENTION_DAYS)
                    .send()
            })
            .await
            .map_err(|mut e| {
                if e.code.as_deref() == Some("InvalidDBInstanceState") {
                    e.hint = format!(
                        "`{instance}` is not a read replica (already promoted?) or is busy: \
                         check its status and read-replica source in {region} before anything \
                         else; never promote twice"
                    );
                }
                e
            })?;
        let status = out
            .db_instance()
            .and_then(|db| db.db_instance_status())
            .unwrap_or("unknown");
        info!(status, "RDS read replica promotion sent");
        Ok(format!(
            "PromoteReadReplica {instance} in {region} (backup retention \
             {PROMOTION_BACKUP_RETENTION_DAYS} day): status {status}"
        ))
    }

    // ---- Aurora ------------------------------------------------------------------------------

    /// The global cluster and the ARN of the target cluster; Terminal errors when either does
    /// not exist.
    async fn aurora(
        &self,
        region: &str,
        global_cluster: &str,
        target_cluster: &str,
    ) -> Result<(aws_sdk_rds::types::GlobalCluster, String), CapabilityError> {
        let client = self.rds(region).await;
        let (globals, clusters) = futures::try_join!(
            self.caller.call_opt(
                "rds",
                region,
                "DescribeGlobalClusters",
                &["GlobalClusterNotFoundFault"],
                || {
                    client
                        .describe_global_clusters()
                        .global_cluster_identifier(global_cluster)
                        .send()
                },
            ),
            self.caller.call_opt(
                "rds",
                region,
                "DescribeDBClusters",
                &["DBClusterNotFoundFault"],
                || {
                    client
                        .describe_db_clusters()
                        .db_cluster_identifier(target_cluster)
                        .send()
                },
            ),
        )?;
        // Match the identifier: an emulator may ignore the filter and list every global cluster.
        let global = globals
            .and_then(|o| {
                o.global_clusters()
                    .iter()
                    .find(|g| {
                        g.global_cluster_identifier() == Some(global_cluster)
                            || g.global_cluster_arn() == Some(global_cluster)
                    })
                    .cloned()
            })
            .ok_or_else(|| {
                terminal(
                    "rds",
                    region,
                    "DescribeGlobalClusters",
                    format!("Aurora global cluster `{global_cluster}` does not exist"),
                    "fix `global_cluster` of the Aurora global database in the environment config",
                )
            })?;
        let target_arn = clusters
            .and_then(|o| {
                o.db_clusters()
                    .iter()
                    .find(|c| {
                        c.db_cluster_identifier() == Some(target_cluster)
                            || c.db_cluster_arn() == Some(target_cluster)
                    })
                    .and_then(|c| c.db_cluster_arn().map(str::to_string))
            })
            .ok_or_else(|| {
                terminal(
                    "rds",
                    region,
                    "DescribeDBClusters",
                    format!("Aurora cluster `{target_cluster}` does not exist"),
                    format!(
                        "check the cluster identifiers of the Aurora global database in the \
                         environment config and that the cluster exists in {region}"
                    ),
                )
            })?;
        Ok((global, target_arn))
    }

    fn not_a_member(region: &str, global_cluster: &str, target_cluster: &str) -> CapabilityError {
        terminal(
            "rds",
            region,
            "DescribeGlobalClusters",
            format!(
                "Aurora cluster `{target_cluster}` is not a member of global cluster \
                 `{global_cluster}`"
            ),
            "add the cluster to the global database as a secondary, or fix the cluster \
             identifiers in the environment config",
        )
    }

    #[tracing::instrument(skip_all, fields(kind = "aurora", region = %region, global_cluster = %global_cluster, target_cluster = %target_cluster))]
    async fn observe_aurora(
        &self,
        region: &str,
        global_cluster: &str,
        target_cluster: &str,
    ) -> Result<Observation, CapabilityError> {
        let (global, target_arn) = self.aurora(region, global_cluster, target_cluster).await?;
        let obs = aurora_observation(&global, &target_arn)
            .ok_or_else(|| Self::not_a_member(region, global_cluster, target_cluster))?;
        debug!(live = %obs.live, done = obs.done, in_progress = obs.in_progress, "observed Aurora global cluster");
        Ok(obs)
    }

    #[tracing::instrument(skip_all, fields(kind = "aurora", region = %region, global_cluster = %global_cluster, target_cluster = %target_cluster, planned))]
    async fn act_aurora(
        &self,
        region: &str,
        global_cluster: &str,
        target_cluster: &str,
        planned: bool,
    ) -> Result<String, CapabilityError> {
        let (global, target_arn) = self.aurora(region, global_cluster, target_cluster).await?;
        if aurora_observation(&global, &target_arn).is_none() {
            return Err(Self::not_a_member(region, global_cluster, target_cluster));
        }
        let client = self.rds(region).await;
        if planned {
            self.caller
                .call_change_once("rds", region, "SwitchoverGlobalCluster", || {
                    client
                        .switchover_global_cluster()
                        .global_cluster_identifier(global_cluster)
                        .target_db_cluster_identifier(&target_arn)
                        .send()
                })
                .await?;
            info!(target = %target_arn, "Aurora switchover sent");
            Ok(format!(
                "SwitchoverGlobalCluster {global_cluster} → {target_arn} (planned, no data loss)"
            ))
        } else {
            self.caller
                .call_change_once("rds", region, "FailoverGlobalCluster", || {
                    client
                        .failover_global_cluster()
                        .global_cluster_identifier(global_cluster)
                        .target_db_cluster_identifier(&target_arn)
                        .allow_data_loss(true)
                        .send()
                })
                .await?;
            info!(target = %target_arn, "Aurora failover sent");
            Ok(format!(
                "FailoverGlobalCluster {global_cluster} → {target_arn} (unplanned, data loss allowed)"
            ))
        }
    }

    // ---- Route 53 ----------------------------------------------------------------------------

    /// The primary and DR record sets of a record (see [`crate::route53::record_pair`]).
    async fn record_pair(
        &self,
        shift: &Shift<'_>,
    ) -> Result<(Option<RecordSet>, Option<RecordSet>), CapabilityError> {
        let region = self.route53_region.as_str();
        let client = self.route53().await;
        let query = crate::route53::RecordQuery {
            zone_id: shift.zone_id,
            record_name: shift.record_name,
            record_type: shift.record_type,
            primary_set: shift.primary_set,
            dr_set: shift.dr_set,
        };
        crate::route53::record_pair(&self.caller, &client, region, &query)
            .await?
            .ok_or_else(|| {
                terminal(
                    "route53",
                    region,
                    "ListResourceRecordSets",
                    format!("hosted zone `{}` does not exist", shift.zone_id),
                    "fix `route53.zone_id` in the environment config",
                )
            })
    }

    fn missing_set(&self, shift: &Shift<'_>, set: &str) -> CapabilityError {
        terminal(
            "route53",
            &self.route53_region,
            "ListResourceRecordSets",
            format!(
                "record set `{set}` of {} {} does not exist in zone {}",
                shift.record_name, shift.record_type, shift.zone_id
            ),
            "create the record set, or fix the record's set identifiers in the environment \
             config",
        )
    }

    /// Whether health check `id` is inverted; `None` when it does not exist.
    async fn health_check_inverted(&self, id: &str) -> Result<Option<bool>, CapabilityError> {
        let region = self.route53_region.as_str();
        let client = self.route53().await;
        let out = self
            .caller
            .call_opt(
                "route53",
                region,
                "GetHealthCheck",
                &["NoSuchHealthCheck"],
                || client.get_health_check().health_check_id(id).send(),
            )
            .await?;
        Ok(out.map(|o| {
            o.health_check()
                .and_then(|h| h.health_check_config())
                .and_then(|c| c.inverted())
                .unwrap_or(false)
        }))
    }

    /// The health check of the primary record set; Terminal errors when the set or its health
    /// check is missing.
    async fn primary_health_check(
        &self,
        shift: &Shift<'_>,
    ) -> Result<(String, Option<RecordSet>), CapabilityError> {
        let (primary, dr) = self.record_pair(shift).await?;
        let primary = primary.ok_or_else(|| self.missing_set(shift, shift.primary_set))?;
        let id = primary.health_check_id().ok_or_else(|| {
            terminal(
                "route53",
                &self.route53_region,
                "ListResourceRecordSets",
                format!(
                    "primary record set `{}` of {} {} has no health check: cannot steer \
                     failover records without a health check; attach one or use weighted routing",
                    shift.primary_set, shift.record_name, shift.record_type
                ),
                "attach a health check to the primary record set, or give the record \
                 `routing = \"weighted\"` with weighted record sets",
            )
        })?;
        Ok((id.to_string(), dr))
    }

    #[tracing::instrument(skip_all, fields(kind = "route53", zone = %shift.zone_id, record = %shift.record_name, to = ?shift.to))]
    async fn observe_failover_records(
        &self,
        shift: &Shift<'_>,
    ) -> Result<Observation, CapabilityError> {
        let (hc, dr) = self.primary_health_check(shift).await?;
        let inverted = self.health_check_inverted(&hc).await?.ok_or_else(|| {
            terminal(
                "route53",
                &self.route53_region,
                "GetHealthCheck",
                format!(
                    "health check `{hc}` of primary record set `{}` does not exist",
                    shift.primary_set
                ),
                "create a health check and attach it to the primary record set",
            )
        })?;
        let want = shift.to == Side::Dr;
        let mut live = format!("primary health check {hc} inverted={inverted}");
        if want {
            let dr = dr.ok_or_else(|| self.missing_set(shift, shift.dr_set))?;
            match dr.health_check_id() {
                Some(dr_hc) => {
                    if self.health_check_inverted(dr_hc).await?.is_none() {
                        return Err(terminal(
                            "route53",
                            &self.route53_region,
                            "GetHealthCheck",
                            format!(
                                "health check `{dr_hc}` of DR record set `{}` does not exist: \
                                 Route 53's answer for the record is unpredictable",
                                shift.dr_set
                            ),
                            "recreate the DR health check, or remove it from the DR record set",
                        ));
                    }
                    let _ = write!(live, "; DR health check {dr_hc}");
                }
                None => live.push_str("; DR set without health check"),
            }
        }
        let serving = if inverted { "DR" } else { "primary" };
        let _ = write!(live, " (serving {serving} when healthy)");
        debug!(health_check = %hc, inverted, want, "observed failover records");
        Ok(Observation {
            live,
            done: inverted == want,
            in_progress: false,
        })
    }

    #[tracing::instrument(skip_all, fields(kind = "route53", zone = %shift.zone_id, record = %shift.record_name, to = ?shift.to))]
    async fn act_failover_records(&self, shift: &Shift<'_>) -> Result<String, CapabilityError> {
        let (hc, _) = self.primary_health_check(shift).await?;
        let want = shift.to == Side::Dr;
        let region = self.route53_region.as_str();
        let client = self.route53().await;
        self.caller
            .call_change("route53", region, "UpdateHealthCheck", || {
                client
                    .update_health_check()
                    .health_check_id(&hc)
                    .inverted(want)
                    .send()
            })
            .await?;
        info!(health_check = %hc, inverted = want, "primary health check steered");
        let effect = if want {
            format!(
                "Route 53 treats primary set `{}` as unhealthy and answers with `{}`",
                shift.primary_set, shift.dr_set
            )
        } else {
            format!(
                "Route 53 answers with primary set `{}` while it is healthy",
                shift.primary_set
            )
        };
        Ok(format!("UpdateHealthCheck {hc} Inverted={want}: {effect}"))
    }

    /// Both record sets of a weighted pair, with their weights; Terminal errors when a set is
    /// missing or not weighted.
    async fn weighted_pair(
        &self,
        shift: &Shift<'_>,
    ) -> Result<(RecordSet, RecordSet, (i64, i64)), CapabilityError> {
        let (primary, dr) = self.record_pair(shift).await?;
        let primary = primary.ok_or_else(|| self.missing_set(shift, shift.primary_set))?;
        let dr = dr.ok_or_else(|| self.missing_set(shift, shift.dr_set))?;
        match (primary.weight(), dr.weight()) {
            (Some(p), Some(d)) => Ok((primary, dr, (p, d))),
            _ => Err(terminal(
                "route53",
                &self.route53_region,
                "ListResourceRecordSets",
                format!(
                    "record sets `{}` and `{}` of {} {} are not weighted",
                    shift.primary_set, shift.dr_set, shift.record_name, shift.record_type
                ),
                "set `routing` of the record in the environment config to match the zone \
                 (failover or weighted)",
            )),
        }
    }

    #[tracing::instrument(skip_all, fields(kind = "route53", zone = %shift.zone_id, record = %shift.record_name, to = ?shift.to))]
    async fn observe_weighted(&self, shift: &Shift<'_>) -> Result<Observation, CapabilityError> {
        let (_, _, weights) = self.weighted_pair(shift).await?;
        let want = shared_weights(shift.to, shift.share);
        let mut live = format!("weights primary {}, DR {}", weights.0, weights.1);
        if weights != want {
            return Ok(Observation {
                live,
                done: false,
                in_progress: false,
            });
        }
        let key = shift.key();
        let change = self.memory().changes.get(&key).cloned();
        let Some(change) = change else {
            // No change sent by this process (or already confirmed): the weights decide.
            return Ok(Observation {
                live,
                done: true,
                in_progress: false,
            });
        };
        let region = self.route53_region.as_str();
        let client = self.route53().await;
        let out = self
            .caller
            .call_opt("route53", region, "GetChange", &["NoSuchChange"], || {
                client.get_change().id(&change).send()
            })
            .await?;
        let status = out
            .as_ref()
            .and_then(|o| o.change_info())
            .map(|c| c.status().as_str().to_string());
        let in_sync = match status.as_deref() {
            Some("INSYNC") | None => true,
            Some(_) => false,
        };
        let _ = write!(
            live,
            "; change {change} {}",
            status.as_deref().unwrap_or("unknown")
        );
        if in_sync {
            self.memory().changes.remove(&key);
        }
        debug!(change = %change, in_sync, "observed weighted records");
        Ok(Observation {
            live,
            done: in_sync,
            in_progress: !in_sync,
        })
    }

    #[tracing::instrument(skip_all, fields(kind = "route53", zone = %shift.zone_id, record = %shift.record_name, to = ?shift.to))]
    async fn act_weighted(&self, shift: &Shift<'_>) -> Result<String, CapabilityError> {
        use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch};
        let (mut primary, mut dr, _) = self.weighted_pair(shift).await?;
        let (pw, dw) = shared_weights(shift.to, shift.share);
        primary.weight = Some(pw);
        dr.weight = Some(dw);
        let region = self.route53_region.as_str();
        let build_error = |e: aws_smithy_types::error::operation::BuildError| {
            terminal(
                "route53",
                region,
                "ChangeResourceRecordSets",
                format!("cannot build the change batch: {e}"),
                "report this as a bug",
            )
        };
        let comment = format!(
            "pilotlight: shift {} {} to {}",
            shift.record_name,
            shift.record_type,
            match shift.to {
                Side::Primary => "primary",
                Side::Dr => "DR",
            }
        );
        let batch = [primary, dr]
            .into_iter()
            .map(|set| {
                Change::builder()
                    .action(ChangeAction::Upsert)
                    .resource_record_set(set)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .and_then(|changes| {
                ChangeBatch::builder()
                    .comment(comment)
                    .set_changes(Some(changes))
                    .build()
            })
            .map_err(build_error)?;
        let client = self.route53().await;
        let out = self
            .caller
            .call_change("route53", region, "ChangeResourceRecordSets", || {
                client
                    .change_resource_record_sets()
                    .hosted_zone_id(shift.zone_id)
                    .change_batch(batch.clone())
                    .send()
            })
            .await?;
        let (id, status) = out
            .change_info()
            .map(|c| {
                (
                    c.id().trim_start_matches("/change/").to_string(),
                    c.status().as_str().to_string(),
                )
            })
            .unwrap_or_default();
        if !id.is_empty() {
            self.memory().changes.insert(shift.key(), id.clone());
        }
        info!(change = %id, primary_weight = pw, dr_weight = dw, "weighted records UPSERTed");
        Ok(format!(
            "ChangeResourceRecordSets UPSERT {} {}: weight {} {pw}, {} {dw} (change {id} {status})",
            shift.record_name, shift.record_type, shift.primary_set, shift.dr_set
        ))
    }

    // ---- wait_until --------------------------------------------------------------------------

    /// (running or in-service count) of one capacity target.
    async fn capacity_of(&self, t: &CapacityTarget) -> Result<u32, CapabilityError> {
        if t.cluster.is_empty() {
            let g = self.asg(&t.region, &t.name).await?;
            Ok(in_service(&g))
        } else {
            let s = self.ecs_service(&t.region, &t.cluster, &t.name).await?;
            Ok(count(s.running_count()))
        }
    }

    #[tracing::instrument(skip_all, fields(kind = "wait_capacity", targets = targets.len(), fraction))]
    async fn observe_capacity(
        &self,
        targets: &[CapacityTarget],
        fraction: f64,
    ) -> Result<Observation, CapabilityError> {
        let have =
            futures::future::try_join_all(targets.iter().map(|t| self.capacity_of(t))).await?;
        let mut done = true;
        let mut parts = Vec::with_capacity(targets.len());
        for (t, have) in targets.iter().zip(have) {
            done &= have >= needed(t.desired, fraction);
            parts.push(format!("{} {have}/{}", t.name, t.desired));
        }
        debug!(done, "observed capacity");
        Ok(Observation {
            live: parts.join(", "),
            done,
            in_progress: false,
        })
    }
}

/// The record pair of a `ShiftTraffic` action.
struct Shift<'a> {
    zone_id: &'a str,
    record_name: &'a str,
    record_type: &'a str,
    primary_set: &'a str,
    dr_set: &'a str,
    to: Side,
    /// Percent of the traffic `to` gets (100 unless the shift is gradual).
    share: u8,
}

impl<'a> Shift<'a> {
    /// The shift of a `ShiftTraffic` action, and whether its records use failover routing.
    fn of(action: &'a Action) -> Option<(Shift<'a>, bool)> {
        match action {
            Action::ShiftTraffic {
                zone_id,
                record_name,
                record_type,
                primary_set_identifier,
                dr_set_identifier,
                failover_routing,
                to,
                weight,
                ..
            } => Some((
                Shift {
                    zone_id,
                    record_name,
                    record_type,
                    primary_set: primary_set_identifier,
                    dr_set: dr_set_identifier,
                    to: *to,
                    share: weight.unwrap_or(100),
                },
                *failover_routing,
            )),
            _ => None,
        }
    }

    /// Key of the pair in the actuator's memory.
    fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.zone_id,
            self.record_name.trim_end_matches('.').to_ascii_lowercase(),
            self.record_type.to_ascii_uppercase(),
            self.primary_set,
            self.dr_set
        )
    }
}

fn ecs_key(region: &str, cluster: &str, service: &str) -> String {
    format!("ecs|{region}|{cluster}|{service}")
}

fn asg_key(region: &str, group: &str) -> String {
    format!("autoscaling|{region}|{group}")
}

/// Instances of a group in service.
fn in_service(g: &aws_sdk_autoscaling::types::AutoScalingGroup) -> u32 {
    use aws_sdk_autoscaling::types::LifecycleState;
    g.instances()
        .iter()
        .filter(|i| i.lifecycle_state() == Some(&LifecycleState::InService))
        .count() as u32
}

/// The Terminal error for actions the executor handles itself.
fn not_an_aws_action(action: &Action) -> CapabilityError {
    let name = match action {
        Action::ReadinessGate => "readiness_gate",
        Action::LagGate { .. } => "replication_lag_gate",
        Action::ManualApproval { .. } => "manual_approval",
        Action::CommandHook { .. } => "command_hook",
        Action::Notify { .. } => "notify",
        _ => "this action",
    };
    terminal(
        "pilotlight",
        "-",
        name,
        format!("{name} is carried out by the executor, not by the AWS actuator"),
        "report this as a bug: the executor must not hand this step to the actuator",
    )
}

#[async_trait]
impl Actuator for AwsActuator {
    async fn observe(&self, action: &Action) -> Result<Observation, CapabilityError> {
        match action {
            Action::ScaleEcs {
                region,
                cluster,
                service,
                desired,
            } => self.observe_ecs(region, cluster, service, *desired).await,
            Action::ScaleAutoscaling {
                region,
                group,
                desired,
            } => self.observe_asg(region, group, *desired).await,
            Action::PromoteRdsReplica { region, instance } => {
                self.observe_promotion(region, instance).await
            }
            Action::AuroraFailover {
                region,
                global_cluster,
                target_cluster,
                ..
            } => {
                self.observe_aurora(region, global_cluster, target_cluster)
                    .await
            }
            Action::ShiftTraffic { .. } => {
                let (shift, failover_routing) = Shift::of(action).expect("a ShiftTraffic action");
                if failover_routing {
                    self.observe_failover_records(&shift).await
                } else {
                    self.observe_weighted(&shift).await
                }
            }
            Action::WaitCapacity { targets, fraction } => {
                self.observe_capacity(targets, *fraction).await
            }
            Action::FenceRds {
                region,
                instance,
                parameter_group,
            } => {
                self.observe_fence(region, instance, parameter_group.as_deref())
                    .await
            }
            Action::RetireRds { region, instance } => self.observe_retire(region, instance).await,
            Action::ReprotectRds {
                region,
                instance,
                source_region,
                source_instance,
            } => {
                self.observe_reprotect(region, instance, source_region, source_instance)
                    .await
            }
            other => Err(not_an_aws_action(other)),
        }
    }

    async fn act(&self, action: &Action) -> Result<String, CapabilityError> {
        match action {
            Action::ScaleEcs {
                region,
                cluster,
                service,
                desired,
            } => self.act_ecs(region, cluster, service, *desired).await,
            Action::ScaleAutoscaling {
                region,
                group,
                desired,
            } => self.act_asg(region, group, *desired).await,
            Action::PromoteRdsReplica { region, instance } => self.promote(region, instance).await,
            Action::AuroraFailover {
                region,
                global_cluster,
                target_cluster,
                planned,
            } => {
                self.act_aurora(region, global_cluster, target_cluster, *planned)
                    .await
            }
            Action::ShiftTraffic { .. } => {
                let (shift, failover_routing) = Shift::of(action).expect("a ShiftTraffic action");
                if failover_routing {
                    self.act_failover_records(&shift).await
                } else {
                    self.act_weighted(&shift).await
                }
            }
            Action::WaitCapacity { .. } => Err(terminal(
                "pilotlight",
                "-",
                "wait_until",
                "wait_until only waits for capacity; there is nothing to send",
                "report this as a bug: the executor must only observe wait_until steps",
            )),
            Action::FenceRds {
                region,
                instance,
                parameter_group,
            } => {
                self.fence(region, instance, parameter_group.as_deref())
                    .await
            }
            Action::RetireRds { region, instance } => self.retire(region, instance).await,
            Action::ReprotectRds {
                region,
                instance,
                source_region,
                source_instance,
            } => {
                self.reprotect(region, instance, source_region, source_instance)
                    .await
            }
            other => Err(not_an_aws_action(other)),
        }
    }

    async fn health(&self, action: &Action) -> Result<Observation, CapabilityError> {
        match Shift::of(action) {
            Some((shift, _)) => self.serving_health(&shift).await,
            None => Err(terminal(
                "pilotlight",
                "-",
                "health",
                "only traffic shifts have a health gate",
                "report this as a bug: the executor asked for the health of a step that has none",
            )),
        }
    }

    async fn force(&self, action: &Action) -> Result<String, CapabilityError> {
        match action {
            Action::ScaleAutoscaling {
                region,
                group,
                desired,
            } => {
                self.release_scale_in_protection(region, group, *desired)
                    .await
            }
            other => Err(terminal(
                "pilotlight",
                "-",
                "force",
                format!("nothing can be forced for {}", other.target_text()),
                "report this as a bug: only router scale-ins wait on something to force",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_rds::types::{FailoverState, FailoverStatus, GlobalCluster, GlobalClusterMember};

    #[test]
    fn scale_reached_by_trend() {
        assert!(scale_reached(4, 4, 4, None));
        assert!(!scale_reached(4, 5, 4, None), "surplus without a trend");
        assert!(!scale_reached(4, 3, 4, None));
        assert!(scale_reached(4, 5, 4, Some(Trend::Up)));
        assert!(!scale_reached(4, 3, 4, Some(Trend::Up)));
        assert!(scale_reached(1, 0, 1, Some(Trend::Down)));
        assert!(!scale_reached(1, 2, 1, Some(Trend::Down)));
        assert!(!scale_reached(3, 4, 4, Some(Trend::Up)), "desired not set");
    }

    #[test]
    fn trends() {
        assert_eq!(trend_of(1, 1, 4), Trend::Up);
        assert_eq!(trend_of(4, 4, 1), Trend::Down);
        assert_eq!(trend_of(4, 6, 4), Trend::Down);
        assert_eq!(trend_of(4, 2, 4), Trend::Up);
    }

    #[test]
    fn needed_is_a_robust_ceiling() {
        assert_eq!(needed(4, 1.0), 4);
        assert_eq!(needed(4, 0.8), 4);
        assert_eq!(needed(10, 0.3), 3);
        assert_eq!(needed(10, 0.8), 8);
        assert_eq!(needed(5, 0.5), 3);
        assert_eq!(needed(0, 0.5), 0);
        assert_eq!(needed(3, 0.01), 1);
    }

    #[test]
    fn promotion_states() {
        assert_eq!(
            promotion_state("available", Some("arn:src")),
            (false, false)
        );
        assert_eq!(promotion_state("modifying", Some("arn:src")), (false, true));
        assert_eq!(
            promotion_state("configuring-enhanced-monitoring", Some("arn:src")),
            (false, true)
        );
        assert_eq!(promotion_state("rebooting", None), (false, true));
        assert_eq!(promotion_state("backing-up", None), (false, true));
        assert_eq!(promotion_state("available", None), (true, false));
        assert_eq!(promotion_state("available", Some("")), (true, false));
        assert_eq!(
            promotion_state("storage-full", Some("arn:src")),
            (false, false)
        );
    }

    #[test]
    fn weights() {
        assert_eq!(weights_for(Side::Dr), (0, 100));
        assert_eq!(weights_for(Side::Primary), (100, 0));
    }

    fn global(status: &str, writer_is_dr: bool, failover: Option<FailoverStatus>) -> GlobalCluster {
        let member = |arn: &str, writer: bool| {
            GlobalClusterMember::builder()
                .db_cluster_arn(arn)
                .is_writer(writer)
                .build()
        };
        let mut g = GlobalCluster::builder()
            .global_cluster_identifier("g")
            .status(status)
            .global_cluster_members(member("arn:aws:rds:us-east-1:1:cluster:p", !writer_is_dr))
            .global_cluster_members(member("arn:aws:rds:us-west-2:1:cluster:d", writer_is_dr));
        if let Some(s) = failover {
            g = g.failover_state(
                FailoverState::builder()
                    .status(s)
                    .from_db_cluster_arn("arn:aws:rds:us-east-1:1:cluster:p")
                    .to_db_cluster_arn("arn:aws:rds:us-west-2:1:cluster:d")
                    .is_data_loss_allowed(true)
                    .build(),
            );
        }
        g.build()
    }

    #[test]
    fn aurora_states() {
        let dr = "arn:aws:rds:us-west-2:1:cluster:d";
        let o = aurora_observation(&global("available", false, None), dr).unwrap();
        assert_eq!((o.done, o.in_progress), (false, false));
        assert_eq!(o.live, "status available, writer p, target d is reader");
        let o = aurora_observation(&global("failing-over", false, None), dr).unwrap();
        assert_eq!((o.done, o.in_progress), (false, true));
        let o = aurora_observation(&global("switching-over", true, None), dr).unwrap();
        assert_eq!((o.done, o.in_progress), (false, true));
        let o = aurora_observation(
            &global("available", false, Some(FailoverStatus::Pending)),
            dr,
        )
        .unwrap();
        assert_eq!((o.done, o.in_progress), (false, true));
        assert!(
            o.live.contains("pending p → d (data loss allowed)"),
            "{}",
            o.live
        );
        let o = aurora_observation(
            &global("available", true, Some(FailoverStatus::Cancelling)),
            dr,
        )
        .unwrap();
        assert_eq!((o.done, o.in_progress), (true, false));
        let o = aurora_observation(&global("available", true, None), dr).unwrap();
        assert_eq!((o.done, o.in_progress), (true, false));
        let o = aurora_observation(&global("modifying", true, None), dr).unwrap();
        assert_eq!((o.done, o.in_progress), (false, false));
        assert!(aurora_observation(&global("available", true, None), "arn:x").is_none());
    }

    #[test]
    fn short_arns() {
        assert_eq!(short_arn("arn:aws:rds:us-west-2:1:cluster:d"), "d");
        assert_eq!(short_arn("plain"), "plain");
    }
}
