//! The AWS side of an isolated drill ([`DrillCopies`]): copies of the DR resources in the DR
//! region, under names that carry the drill id (`{source}-drill-…`,
//! [`pilotlight_drill::isolated::copy_name`]), created, verified, removed, and looked for again
//! in the region's own resource lists.
//!
//! - RDS: a manual snapshot of the DR read replica (`CreateDBSnapshot`), and a DB instance
//!   restored from it (`RestoreDBInstanceFromDBSnapshot`) in the replica's subnet group and
//!   security groups, with the replica's instance class, single-AZ and not publicly accessible.
//!   Removed without a final snapshot and with its automated backups.
//! - ECS: a service in the same cluster with the source service's task definition, launch type or
//!   capacity provider strategy, network configuration and placement, at the copy's size.
//!   Removed by scaling it to zero and deleting it.
//! - Auto Scaling: a group with the source group's launch template (or mixed instances policy,
//!   or launch configuration) and subnets, min 0, at the copy's size. Removed with
//!   `ForceDelete`.
//!
//! Invariant: a copy never serves traffic. An ECS copy gets no load balancers, service
//! registries, Service Connect configuration or service role; an Auto Scaling copy gets no
//! classic load balancers and no target groups. The requests below never set those fields, and
//! nothing copies them from the source.
//!
//! Every call is idempotent (a copy that exists counts as created, one that is gone counts as
//! removed) and goes through [`Caller`], so rate limits, retries with backoff and error
//! classification apply; [`Terminal`](ErrorClass::Terminal) errors carry a hint about the copy.

use crate::client::ClientFactory;
use crate::retry::Caller;
use pilotlight_core::{CapabilityError, ErrorClass};
use pilotlight_drill::isolated::{Copy, CopyKind, DrillCopies};
use std::sync::Arc;
use tracing::{debug, info, warn};

/// The part of every copy's name that marks it as a drill's (drill ids are `drill-…`); the IAM
/// grants of the `isolated_drill` capability are scoped to names containing it.
pub const DRILL_NAME_MARKER: &str = "-drill-";

/// RDS statuses of an instance or snapshot that will not become `available` by waiting.
const RDS_FAILED_STATUSES: &[&str] = &[
    "failed",
    "incompatible-restore",
    "incompatible-parameters",
    "incompatible-network",
    "incompatible-option-group",
    "storage-full",
    "inaccessible-encryption-credentials",
    "restore-error",
];

/// Most services one `DescribeServices` call accepts.
const ECS_DESCRIBE_BATCH: usize = 10;

/// Creates, verifies and removes the copies of an isolated drill in AWS, through one
/// [`ClientFactory`] and one [`Caller`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AwsCopies {
    clients: Arc<ClientFactory>,
    caller: Caller,
}

/// A Terminal error about a copy, with what to do next.
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

/// Replaces the generic hint of a Terminal error with one about the copy; other classes keep
/// theirs (retry later, fix credentials, check the endpoint).
fn hinted(mut e: CapabilityError, hint: impl Into<String>) -> CapabilityError {
    if e.class == ErrorClass::Terminal {
        e.hint = hint.into();
    }
    e
}

/// The `clientToken` of an ECS copy's `CreateService`: the same for every attempt of one copy,
/// so a retry after a lost answer returns the service the first attempt created instead of
/// failing as "not idempotent". ECS takes up to 36 ASCII characters: the copy's name when it
/// fits, otherwise its end (which holds the drill id) after a 64-bit FNV-1a hash of the whole
/// name.
pub fn ecs_client_token(copy_name: &str) -> String {
    const MAX: usize = 36;
    if copy_name.len() <= MAX && copy_name.is_ascii() {
        return copy_name.to_string();
    }
    let hash = copy_name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let alnum: Vec<char> = copy_name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let tail: String = alnum[alnum.len().saturating_sub(MAX - 17)..]
        .iter()
        .collect();
    format!("{hash:016x}-{tail}")
}

/// A count as the `i32` the APIs take.
#[allow(clippy::result_large_err)] // the crate-wide error type
fn as_i32(n: u32, service: &str, region: &str, operation: &str) -> Result<i32, CapabilityError> {
    i32::try_from(n).map_err(|_| {
        terminal(
            service,
            region,
            operation,
            format!("size {n} is too large"),
            "use an active size below 2^31 in the environment config",
        )
    })
}

/// The ECS cluster of an ECS copy.
#[allow(clippy::result_large_err)] // the crate-wide error type
fn cluster_of<'a>(copy: &'a Copy, operation: &str) -> Result<&'a str, CapabilityError> {
    copy.cluster.as_deref().ok_or_else(|| {
        terminal(
            "ecs",
            &copy.region,
            operation,
            format!("ECS copy `{}` names no cluster", copy.name),
            "an ECS copy needs the cluster of its source service (a bug in the copy list)",
        )
    })
}

/// The name of an ECS service ARN (`arn:…:service/cluster/name` → `name`).
fn service_name_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Whether an RDS status means the copy failed for good.
fn rds_failed(status: &str) -> bool {
    RDS_FAILED_STATUSES.contains(&status)
}

/// A launch template reference as a create request takes it: the id, or the name when there is no
/// id, and the version. `DescribeAutoScalingGroups` answers with both id and name, and
/// `CreateAutoScalingGroup` refuses a reference that has both.
pub fn launch_spec(
    mut spec: aws_sdk_autoscaling::types::LaunchTemplateSpecification,
) -> aws_sdk_autoscaling::types::LaunchTemplateSpecification {
    if spec.launch_template_id.is_some() {
        spec.launch_template_name = None;
    }
    spec
}

/// A mixed instances policy as a create request takes it: every launch template reference in it
/// by [`launch_spec`].
pub fn mixed_policy(
    mut policy: aws_sdk_autoscaling::types::MixedInstancesPolicy,
) -> aws_sdk_autoscaling::types::MixedInstancesPolicy {
    if let Some(lt) = policy.launch_template.as_mut() {
        lt.launch_template_specification = lt.launch_template_specification.take().map(launch_spec);
        for o in lt.overrides.iter_mut().flatten() {
            o.launch_template_specification =
                o.launch_template_specification.take().map(launch_spec);
        }
    }
    policy
}

/// The evidence that an ECS copy works: desired count equal to the copy's size and at least that
/// many tasks running.
pub fn ecs_evidence(desired: i32, running: i32, size: u32) -> Option<String> {
    let (d, r) = (desired.max(0) as u32, running.max(0) as u32);
    (d == size && r >= d).then(|| format!("running {r}/{d}"))
}

/// The evidence that an Auto Scaling copy works: at least `size` instances in service.
pub fn asg_evidence(in_service: u32, size: u32) -> Option<String> {
    (in_service >= size).then(|| format!("InService {in_service}/{size}"))
}

impl AwsCopies {
    /// Copies made through `clients` and `caller`. No network call is made until one is used.
    pub fn new(clients: Arc<ClientFactory>, caller: Caller) -> Self {
        AwsCopies { clients, caller }
    }

    /// The caller every request goes through (for its stats).
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    // ---- RDS ---------------------------------------------------------------------------------

    /// The DB snapshot `id`, `None` when it does not exist.
    async fn db_snapshot(
        &self,
        region: &str,
        id: &str,
    ) -> Result<Option<aws_sdk_rds::types::DbSnapshot>, CapabilityError> {
        let client = self.clients.rds(region).await;
        let out = self
            .caller
            .call_opt(
                "rds",
                region,
                "DescribeDBSnapshots",
                &["DBSnapshotNotFound", "DBSnapshotNotFoundFault"],
                || {
                    client
                        .describe_db_snapshots()
                        .db_snapshot_identifier(id)
                        .send()
                },
            )
            .await?;
        Ok(out.and_then(|o| {
            o.db_snapshots()
                .iter()
                .find(|s| {
                    s.db_snapshot_identifier()
                        .is_some_and(|s| s.eq_ignore_ascii_case(id))
                })
                .cloned()
        }))
    }

    /// The DB instance `id`, `None` when it does not exist.
    async fn db_instance(
        &self,
        region: &str,
        id: &str,
    ) -> Result<Option<aws_sdk_rds::types::DbInstance>, CapabilityError> {
        let client = self.clients.rds(region).await;
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
                        .db_instance_identifier(id)
                        .send()
                },
            )
            .await?;
        Ok(out.and_then(|o| {
            o.db_instances()
                .iter()
                .find(|db| {
                    db.db_instance_identifier()
                        .is_some_and(|i| i.eq_ignore_ascii_case(id))
                })
                .cloned()
        }))
    }

    async fn create_snapshot(&self, copy: &Copy) -> Result<(), CapabilityError> {
        let region = copy.region.as_str();
        let client = self.clients.rds(region).await;
        let out = self
            .caller
            .call_opt(
                "rds",
                region,
                "CreateDBSnapshot",
                &["DBSnapshotAlreadyExists", "DBSnapshotAlreadyExistsFault"],
                || {
                    client
                        .create_db_snapshot()
                        .db_instance_identifier(&copy.source)
                        .db_snapshot_identifier(&copy.name)
                        .send()
                },
            )
            .await
            .map_err(|e| {
                hinted(
                    e,
                    format!(
                        "check that the DR read replica `{}` exists in {region} and is \
                         available (a replica that is busy cannot be snapshotted; re-run the \
                         drill later)",
                        copy.source
                    ),
                )
            })?;
        match out {
            Some(o) => info!(
                status = o
                    .db_snapshot()
                    .and_then(|s| s.status())
                    .unwrap_or("unknown"),
                "DB snapshot copy requested"
            ),
            None => info!("DB snapshot copy exists already"),
        }
        Ok(())
    }

    async fn verify_snapshot(&self, copy: &Copy) -> Result<Option<String>, CapabilityError> {
        let Some(s) = self.db_snapshot(&copy.region, &copy.name).await? else {
            debug!("DB snapshot copy not listed yet");
            return Ok(None);
        };
        let status = s.status().unwrap_or("unknown");
        debug!(status, "observed DB snapshot copy");
        if rds_failed(status) {
            return Err(terminal(
                "rds",
                &copy.region,
                "DescribeDBSnapshots",
                format!("DB snapshot `{}` is {status}", copy.name),
                format!(
                    "look at the RDS events of `{}` in {}; the drill's snapshot of the replica \
                     failed, which a failover's restore would too",
                    copy.source, copy.region
                ),
            ));
        }
        Ok((status == "available").then(|| "available".to_string()))
    }

    async fn remove_snapshot(&self, copy: &Copy) -> Result<(), CapabilityError> {
        let region = copy.region.as_str();
        let client = self.clients.rds(region).await;
        let out = self
            .caller
            .call_opt_if(
                "rds",
                region,
                "DeleteDBSnapshot",
                |code, message| {
                    matches!(code, Some("DBSnapshotNotFound" | "DBSnapshotNotFoundFault"))
                        || (code == Some("InvalidDBSnapshotState")
                            && message.is_some_and(|m| m.contains("being deleted")))
                },
                || {
                    client
                        .delete_db_snapshot()
                        .db_snapshot_identifier(&copy.name)
                        .send()
                },
            )
            .await
            .map_err(|e| {
                hinted(
                    e,
                    format!(
                        "delete the DB snapshot `{}` in {region} by hand once it is available",
                        copy.name
                    ),
                )
            })?;
        match out {
            Some(_) => info!("DB snapshot copy deleted"),
            None => info!("DB snapshot copy was gone already"),
        }
        Ok(())
    }

    async fn create_instance(&self, copy: &Copy) -> Result<(), CapabilityError> {
        let region = copy.region.as_str();
        if self.db_instance(region, &copy.name).await?.is_some() {
            info!("DB instance copy exists already");
            return Ok(());
        }
        let snapshot = self
            .db_snapshot(region, &copy.source)
            .await?
            .ok_or_else(|| {
                terminal(
                    "rds",
                    region,
                    "DescribeDBSnapshots",
                    format!("DB snapshot `{}` does not exist", copy.source),
                    "create the snapshot copy (rds_snapshot) before the instance copy, and wait \
                     until it is available",
                )
            })?;
        // The replica the snapshot was taken of: the copy gets its class, subnet group and
        // security groups, so it starts where a promoted replica would serve.
        let replica = match snapshot.db_instance_identifier() {
            Some(id) => self.db_instance(region, id).await?,
            None => None,
        };
        let class = replica
            .as_ref()
            .and_then(|r| r.db_instance_class())
            .map(str::to_string);
        let subnet_group = replica
            .as_ref()
            .and_then(|r| r.db_subnet_group())
            .and_then(|g| g.db_subnet_group_name())
            .map(str::to_string);
        let security_groups: Vec<String> = replica
            .as_ref()
            .map(|r| {
                r.vpc_security_groups()
                    .iter()
                    .filter_map(|g| g.vpc_security_group_id())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let client = self.clients.rds(region).await;
        let out = self
            .caller
            .call_opt(
                "rds",
                region,
                "RestoreDBInstanceFromDBSnapshot",
                &["DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault"],
                || {
                    client
                        .restore_db_instance_from_db_snapshot()
                        .db_instance_identifier(&copy.name)
                        .db_snapshot_identifier(&copy.source)
                        .set_db_instance_class(class.clone())
                        .set_db_subnet_group_name(subnet_group.clone())
                        .set_vpc_security_group_ids(
                            (!security_groups.is_empty()).then(|| security_groups.clone()),
                        )
                        .publicly_accessible(false)
                        .multi_az(false)
                        .deletion_protection(false)
                        .send()
                },
            )
            .await
            .map_err(|e| {
                hinted(
                    e,
                    format!(
                        "check that the snapshot `{}` is available in {region} and that the \
                         replica's instance class, subnet group and security groups still exist",
                        copy.source
                    ),
                )
            })?;
        match out {
            Some(o) => info!(
                status = o
                    .db_instance()
                    .and_then(|d| d.db_instance_status())
                    .unwrap_or("unknown"),
                class = class.as_deref().unwrap_or("(the snapshot's)"),
                "DB instance copy restore requested"
            ),
            None => info!("DB instance copy exists already"),
        }
        Ok(())
    }

    async fn verify_instance(&self, copy: &Copy) -> Result<Option<String>, CapabilityError> {
        let Some(db) = self.db_instance(&copy.region, &copy.name).await? else {
            debug!("DB instance copy not listed yet");
            return Ok(None);
        };
        let status = db.db_instance_status().unwrap_or("unknown");
        debug!(status, "observed DB instance copy");
        if rds_failed(status) {
            return Err(terminal(
                "rds",
                &copy.region,
                "DescribeDBInstances",
                format!(
                    "DB instance `{}` restored from `{}` is {status}",
                    copy.name, copy.source
                ),
                format!(
                    "look at the RDS events of `{}` in {}: the restore a failover relies on \
                     failed; remove the copy after reading them",
                    copy.name, copy.region
                ),
            ));
        }
        Ok((status == "available").then(|| "available".to_string()))
    }

    async fn remove_instance(&self, copy: &Copy) -> Result<(), CapabilityError> {
        let region = copy.region.as_str();
        let client = self.clients.rds(region).await;
        let out = self
            .caller
            .call_opt_if(
                "rds",
                region,
                "DeleteDBInstance",
                |code, message| {
                    matches!(code, Some("DBInstanceNotFound" | "DBInstanceNotFoundFault"))
                        || (code == Some("InvalidDBInstanceState")
                            && message.is_some_and(|m| m.contains("already being deleted")))
                },
                || {
                    client
                        .delete_db_instance()
                        .db_instance_identifier(&copy.name)
                        .skip_final_snapshot(true)
                        .delete_automated_backups(true)
                        .send()
                },
            )
            .await
            .map_err(|e| {
                hinted(
                    e,
                    format!(
                        "the copy `{}` in {region} may still be creating: re-run the cleanup \
                         once it is available, or delete it by hand (no final snapshot)",
                        copy.name
                    ),
                )
            })?;
        match out {
            Some(_) => info!("DB instance copy deletion requested"),
            None => info!("DB instance copy was gone already"),
        }
        Ok(())
    }

    // ---- ECS ---------------------------------------------------------------------------------

    /// The services `names` of `cluster`, whatever their status; `None` when the cluster does not
    /// exist.
    async fn ecs_services(
        &self,
        region: &str,
        cluster: &str,
        names: &[String],
    ) -> Result<Option<Vec<aws_sdk_ecs::types::Service>>, CapabilityError> {
        let client = self.clients.ecs(region).await;
        let mut found = Vec::new();
        for chunk in names.chunks(ECS_DESCRIBE_BATCH) {
            let out = self
                .caller
                .call_opt(
                    "ecs",
                    region,
                    "DescribeServices",
                    &["ClusterNotFoundException"],
                    || {
                        client
                            .describe_services()
                            .cluster(cluster)
                            .set_services(Some(chunk.to_vec()))
                            .send()
                    },
                )
                .await?;
            let Some(out) = out else {
                return Ok(None);
            };
            found.extend(out.services().iter().cloned());
        }
        Ok(Some(found))
    }

    async fn create_service(&self, copy: &Copy) -> Result<(), CapabilityError> {
        let region = copy.region.as_str();
        let cluster = cluster_of(copy, "CreateService")?;
        let wanted = [copy.source.clone(), copy.name.clone()];
        let services = self
            .ecs_services(region, cluster, &wanted)
            .await?
            .ok_or_else(|| {
                terminal(
                    "ecs",
                    region,
                    "DescribeServices",
                    format!("ECS cluster `{cluster}` does not exist"),
                    format!(
                        "fix `cluster` of the ECS service `{}` in the environment config",
                        copy.source
                    ),
                )
            })?;
        let named = |name: &str| {
            services
                .iter()
                .find(|s| s.service_name() == Some(name) && s.status() != Some("INACTIVE"))
        };
        if let Some(existing) = named(&copy.name) {
            if existing.status() == Some("ACTIVE") {
                info!("ECS service copy exists already");
                return Ok(());
            }
            return Err(terminal(
                "ecs",
                region,
                "CreateService",
                format!(
                    "ECS service `{}` in `{cluster}` is {} (a previous copy is still being deleted)",
                    copy.name,
                    existing.status().unwrap_or("unknown")
                ),
                "wait until the previous copy is gone (INACTIVE), then re-run the drill",
            ));
        }
        let source = named(&copy.source).ok_or_else(|| {
            terminal(
                "ecs",
                region,
                "DescribeServices",
                format!(
                    "ECS service `{}` does not exist in cluster `{cluster}`",
                    copy.source
                ),
                format!(
                    "create the service in {region}, or fix `service` of the ECS service in the \
                     environment config"
                ),
            )
        })?;
        let task_definition = source.task_definition().ok_or_else(|| {
            terminal(
                "ecs",
                region,
                "DescribeServices",
                format!("ECS service `{}` has no task definition", copy.source),
                "an ECS copy needs a service deployed from a task definition (not an external \
                 deployment controller)",
            )
        })?;
        let desired = as_i32(copy.size, "ecs", region, "CreateService")?;
        let strategy = source.capacity_provider_strategy();
        let (launch_type, strategy) = if strategy.is_empty() {
            (source.launch_type().cloned(), None)
        } else {
            (None, Some(strategy.to_vec()))
        };
        let client = self.clients.ecs(region).await;
        let token = ecs_client_token(&copy.name);
        // No load balancers, service registries, Service Connect or role: a copy never serves.
        self.caller
            .call("ecs", region, "CreateService", || {
                client
                    .create_service()
                    .cluster(cluster)
                    .service_name(&copy.name)
                    .client_token(&token)
                    .task_definition(task_definition)
                    .desired_count(desired)
                    .set_launch_type(launch_type.clone())
                    .set_capacity_provider_strategy(strategy.clone())
                    .set_platform_version(source.platform_version().map(str::to_string))
                    // An empty network configuration (no awsvpc part: bridge or host
                    // networking) is no configuration; moto fails on an empty one.
                    .set_network_configuration(
                        source
                            .network_configuration()
                            .filter(|n| n.awsvpc_configuration().is_some())
                            .cloned(),
                    )
                    .set_placement_constraints(
                        Some(source.placement_constraints().to_vec()).filter(|v| !v.is_empty()),
                    )
                    .set_placement_strategy(
                        Some(source.placement_strategy().to_vec()).filter(|v| !v.is_empty()),
                    )
                    .send()
            })
            .await
            .map_err(|e| {
                hinted(
                    e,
                    format!(
                        "check that the task definition `{task_definition}` of `{}` is active \
                         and that the cluster `{cluster}` has capacity for {} more tasks",
                        copy.source, copy.size
                    ),
                )
            })?;
        info!(
            cluster,
            task_definition,
            desired = copy.size,
            "ECS service copy created"
        );
        Ok(())
    }

    async fn verify_service(&self, copy: &Copy) -> Result<Option<String>, CapabilityError> {
        let cluster = cluster_of(copy, "DescribeServices")?;
        let services = self
            .ecs_services(&copy.region, cluster, std::slice::from_ref(&copy.name))
            .await?
            .unwrap_or_default();
        let Some(s) = services
            .iter()
            .find(|s| s.service_name() == Some(copy.name.as_str()) && s.status() == Some("ACTIVE"))
        else {
            debug!("ECS service copy not active yet");
            return Ok(None);
        };
        let (desired, running) = (s.desired_count(), s.running_count());
        debug!(desired, running, "observed ECS service copy");
        Ok(ecs_evidence(desired, running, copy.size))
    }

    async fn remove_service(&self, copy: &Copy) -> Result<(), CapabilityError> {
        let region = copy.region.as_str();
        let cluster = cluster_of(copy, "DeleteService")?;
        let gone = |code: Option<&str>, _: Option<&str>| {
            matches!(
                code,
                Some(
                    "ServiceNotFoundException"
                        | "ServiceNotActiveException"
                        | "ClusterNotFoundException"
                )
            )
        };
        let client = self.clients.ecs(region).await;
        let hint = format!(
            "delete the ECS service `{}` in cluster `{cluster}` ({region}) by hand",
            copy.name
        );
        let scaled = self
            .caller
            .call_opt_if("ecs", region, "UpdateService", gone, || {
                client
                    .update_service()
                    .cluster(cluster)
                    .service(&copy.name)
                    .desired_count(0)
                    .send()
            })
            .await
            .map_err(|e| hinted(e, hint.clone()))?;
        if scaled.is_none() {
            info!("ECS service copy was gone already");
            return Ok(());
        }
        let deleted = self
            .caller
            .call_opt_if("ecs", region, "DeleteService", gone, || {
                client
                    .delete_service()
                    .cluster(cluster)
                    .service(&copy.name)
                    .force(true)
                    .send()
            })
            .await
            .map_err(|e| hinted(e, hint.clone()))?;
        match deleted {
            Some(_) => info!("ECS service copy scaled to zero and deleted"),
            None => info!("ECS service copy was gone already"),
        }
        Ok(())
    }

    // ---- Auto Scaling --------------------------------------------------------------------------

    /// The groups among `names`.
    async fn asgs(
        &self,
        region: &str,
        names: &[String],
    ) -> Result<Vec<aws_sdk_autoscaling::types::AutoScalingGroup>, CapabilityError> {
        let client = self.clients.autoscaling(region).await;
        let out = self
            .caller
            .call("autoscaling", region, "DescribeAutoScalingGroups", || {
                client
                    .describe_auto_scaling_groups()
                    .set_auto_scaling_group_names(Some(names.to_vec()))
                    .send()
            })
            .await?;
        Ok(out.auto_scaling_groups().to_vec())
    }

    async fn create_asg(&self, copy: &Copy) -> Result<(), CapabilityError> {
        let region = copy.region.as_str();
        let groups = self
            .asgs(region, &[copy.source.clone(), copy.name.clone()])
            .await?;
        let named = |name: &str| {
            groups
                .iter()
                .find(|g| g.auto_scaling_group_name() == Some(name))
        };
        if let Some(existing) = named(&copy.name) {
            if existing.status().is_none() {
                info!("Auto Scaling group copy exists already");
                return Ok(());
            }
            return Err(terminal(
                "autoscaling",
                region,
                "CreateAutoScalingGroup",
                format!(
                    "Auto Scaling group `{}` is {} (a previous copy is still being deleted)",
                    copy.name,
                    existing.status().unwrap_or("unknown")
                ),
                "wait until the previous copy is gone, then re-run the drill",
            ));
        }
        let source = named(&copy.source).ok_or_else(|| {
            terminal(
                "autoscaling",
                region,
                "DescribeAutoScalingGroups",
                format!("Auto Scaling group `{}` does not exist", copy.source),
                format!(
                    "create the group in {region}, or fix `group` of the Auto Scaling group in \
                     the environment config"
                ),
            )
        })?;
        let size = as_i32(copy.size, "autoscaling", region, "CreateAutoScalingGroup")?;
        let max = size.max(source.max_size().unwrap_or(0));
        // One way to launch instances, as the source has it.
        let (template, mixed, configuration) = match (
            source.mixed_instances_policy(),
            source.launch_template(),
            source.launch_configuration_name(),
        ) {
            (Some(m), _, _) => (None, Some(mixed_policy(m.clone())), None),
            (None, Some(t), _) => (Some(launch_spec(t.clone())), None, None),
            (None, None, Some(c)) => (None, None, Some(c.to_string())),
            (None, None, None) => {
                return Err(terminal(
                    "autoscaling",
                    region,
                    "DescribeAutoScalingGroups",
                    format!(
                        "Auto Scaling group `{}` has no launch template, mixed instances policy \
                         or launch configuration",
                        copy.source
                    ),
                    "give the group a launch template; a copy launches instances the same way",
                ))
            }
        };
        let subnets = source
            .vpc_zone_identifier()
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let zones = (subnets.is_none() && !source.availability_zones().is_empty())
            .then(|| source.availability_zones().to_vec());
        let client = self.clients.autoscaling(region).await;
        // No load balancers and no target groups: a copy never serves.
        let out = self
            .caller
            .call_opt(
                "autoscaling",
                region,
                "CreateAutoScalingGroup",
                &["AlreadyExists", "AlreadyExistsFault"],
                || {
                    client
                        .create_auto_scaling_group()
                        .auto_scaling_group_name(&copy.name)
                        .set_launch_template(template.clone())
                        .set_mixed_instances_policy(mixed.clone())
                        .set_launch_configuration_name(configuration.clone())
                        .set_vpc_zone_identifier(subnets.clone())
                        .set_availability_zones(zones.clone())
                        .min_size(0)
                        .max_size(max)
                        .desired_capacity(size)
                        .health_check_type("EC2")
                        .send()
                },
            )
            .await
            .map_err(|e| {
                hinted(
                    e,
                    format!(
                        "check that the launch template (or configuration) of `{}` and its \
                         subnets still exist in {region}, and that the account has room for {} \
                         more instances",
                        copy.source, copy.size
                    ),
                )
            })?;
        match out {
            Some(_) => info!(desired = copy.size, max, "Auto Scaling group copy created"),
            None => info!("Auto Scaling group copy exists already"),
        }
        Ok(())
    }

    async fn verify_asg(&self, copy: &Copy) -> Result<Option<String>, CapabilityError> {
        use aws_sdk_autoscaling::types::LifecycleState;
        let groups = self
            .asgs(&copy.region, std::slice::from_ref(&copy.name))
            .await?;
        let Some(g) = groups
            .iter()
            .find(|g| g.auto_scaling_group_name() == Some(copy.name.as_str()))
        else {
            debug!("Auto Scaling group copy not listed yet");
            return Ok(None);
        };
        let in_service = g
            .instances()
            .iter()
            .filter(|i| i.lifecycle_state() == Some(&LifecycleState::InService))
            .count() as u32;
        debug!(
            in_service,
            size = copy.size,
            "observed Auto Scaling group copy"
        );
        Ok(asg_evidence(in_service, copy.size))
    }

    async fn remove_asg(&self, copy: &Copy) -> Result<(), CapabilityError> {
        let region = copy.region.as_str();
        let client = self.clients.autoscaling(region).await;
        let out = self
            .caller
            .call_opt_if(
                "autoscaling",
                region,
                "DeleteAutoScalingGroup",
                |code, message| {
                    code == Some("ValidationError")
                        && message.is_some_and(|m| {
                            m.contains("not found")
                                || m.contains("pending delete")
                                || m.contains("delete in progress")
                        })
                },
                || {
                    client
                        .delete_auto_scaling_group()
                        .auto_scaling_group_name(&copy.name)
                        .force_delete(true)
                        .send()
                },
            )
            .await
            .map_err(|e| {
                hinted(
                    e,
                    format!(
                        "delete the Auto Scaling group `{}` in {region} by hand (force delete)",
                        copy.name
                    ),
                )
            })?;
        match out {
            Some(_) => info!("Auto Scaling group copy deletion requested"),
            None => info!("Auto Scaling group copy was gone already"),
        }
        Ok(())
    }

    // ---- leftovers -----------------------------------------------------------------------------

    async fn marked_db_instances(
        &self,
        region: &str,
        marker: &str,
    ) -> Result<Vec<String>, CapabilityError> {
        let client = self.clients.rds(region).await;
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let o = self
                .caller
                .call("rds", region, "DescribeDBInstances", || {
                    client
                        .describe_db_instances()
                        .set_marker(page.clone())
                        .send()
                })
                .await?;
            out.extend(
                o.db_instances()
                    .iter()
                    .filter_map(|d| d.db_instance_identifier())
                    .filter(|id| id.contains(marker))
                    .map(str::to_string),
            );
            match o.marker().filter(|m| !m.is_empty()) {
                Some(m) => page = Some(m.to_string()),
                None => return Ok(out),
            }
        }
    }

    async fn marked_db_snapshots(
        &self,
        region: &str,
        marker: &str,
    ) -> Result<Vec<String>, CapabilityError> {
        let client = self.clients.rds(region).await;
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let o = self
                .caller
                .call("rds", region, "DescribeDBSnapshots", || {
                    client
                        .describe_db_snapshots()
                        .snapshot_type("manual")
                        .set_marker(page.clone())
                        .send()
                })
                .await?;
            out.extend(
                o.db_snapshots()
                    .iter()
                    .filter_map(|s| s.db_snapshot_identifier())
                    .filter(|id| id.contains(marker))
                    .map(str::to_string),
            );
            match o.marker().filter(|m| !m.is_empty()) {
                Some(m) => page = Some(m.to_string()),
                None => return Ok(out),
            }
        }
    }

    async fn marked_services(
        &self,
        region: &str,
        marker: &str,
        cluster: &str,
    ) -> Result<Vec<String>, CapabilityError> {
        let client = self.clients.ecs(region).await;
        let mut names = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let o = self
                .caller
                .call_opt(
                    "ecs",
                    region,
                    "ListServices",
                    &["ClusterNotFoundException"],
                    || {
                        client
                            .list_services()
                            .cluster(cluster)
                            .set_next_token(page.clone())
                            .send()
                    },
                )
                .await?;
            let Some(o) = o else {
                warn!(cluster, "ECS cluster does not exist: no copies in it");
                return Ok(Vec::new());
            };
            names.extend(
                o.service_arns()
                    .iter()
                    .map(|arn| service_name_of(arn))
                    .filter(|n| n.contains(marker))
                    .map(str::to_string),
            );
            match o.next_token().filter(|t| !t.is_empty()) {
                Some(t) => page = Some(t.to_string()),
                None => break,
            }
        }
        if names.is_empty() {
            return Ok(names);
        }
        // Listed services may be INACTIVE (deleted) already; those are not left over.
        let described = self
            .ecs_services(region, cluster, &names)
            .await?
            .unwrap_or_default();
        Ok(described
            .iter()
            .filter(|s| matches!(s.status(), Some("ACTIVE" | "DRAINING")))
            .filter_map(|s| s.service_name())
            .filter(|n| n.contains(marker))
            .map(str::to_string)
            .collect())
    }

    async fn marked_asgs(
        &self,
        region: &str,
        marker: &str,
    ) -> Result<Vec<String>, CapabilityError> {
        let client = self.clients.autoscaling(region).await;
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let o = self
                .caller
                .call("autoscaling", region, "DescribeAutoScalingGroups", || {
                    client
                        .describe_auto_scaling_groups()
                        .set_next_token(page.clone())
                        .send()
                })
                .await?;
            // Groups being deleted (`Status: Delete in progress`) are listed too: still there.
            out.extend(
                o.auto_scaling_groups()
                    .iter()
                    .filter_map(|g| g.auto_scaling_group_name())
                    .filter(|n| n.contains(marker))
                    .map(str::to_string),
            );
            match o.next_token().filter(|t| !t.is_empty()) {
                Some(t) => page = Some(t.to_string()),
                None => return Ok(out),
            }
        }
    }
}

#[async_trait::async_trait]
impl DrillCopies for AwsCopies {
    #[tracing::instrument(skip_all, fields(kind = copy.kind.name(), name = %copy.name, region = %copy.region))]
    async fn create(&self, copy: &Copy) -> Result<(), CapabilityError> {
        match copy.kind {
            CopyKind::RdsSnapshot => self.create_snapshot(copy).await,
            CopyKind::RdsInstance => self.create_instance(copy).await,
            CopyKind::EcsService => self.create_service(copy).await,
            CopyKind::AutoScalingGroup => self.create_asg(copy).await,
        }
    }

    #[tracing::instrument(skip_all, fields(kind = copy.kind.name(), name = %copy.name, region = %copy.region))]
    async fn verify(&self, copy: &Copy) -> Result<Option<String>, CapabilityError> {
        let evidence = match copy.kind {
            CopyKind::RdsSnapshot => self.verify_snapshot(copy).await,
            CopyKind::RdsInstance => self.verify_instance(copy).await,
            CopyKind::EcsService => self.verify_service(copy).await,
            CopyKind::AutoScalingGroup => self.verify_asg(copy).await,
        }?;
        if let Some(e) = &evidence {
            info!(evidence = e.as_str(), "copy verified");
        }
        Ok(evidence)
    }

    #[tracing::instrument(skip_all, fields(kind = copy.kind.name(), name = %copy.name, region = %copy.region))]
    async fn remove(&self, copy: &Copy) -> Result<(), CapabilityError> {
        match copy.kind {
            CopyKind::RdsSnapshot => self.remove_snapshot(copy).await,
            CopyKind::RdsInstance => self.remove_instance(copy).await,
            CopyKind::EcsService => self.remove_service(copy).await,
            CopyKind::AutoScalingGroup => self.remove_asg(copy).await,
        }
    }

    #[tracing::instrument(skip_all, fields(region = %region, marker = %marker))]
    async fn list_marked(
        &self,
        region: &str,
        marker: &str,
        clusters: &[String],
    ) -> Result<Vec<(CopyKind, String)>, CapabilityError> {
        let mut out = Vec::new();
        for id in self.marked_db_snapshots(region, marker).await? {
            out.push((CopyKind::RdsSnapshot, id));
        }
        for id in self.marked_db_instances(region, marker).await? {
            out.push((CopyKind::RdsInstance, id));
        }
        let mut seen = std::collections::BTreeSet::new();
        for cluster in clusters.iter().filter(|c| seen.insert(c.as_str())) {
            for name in self.marked_services(region, marker, cluster).await? {
                out.push((CopyKind::EcsService, name));
            }
        }
        for name in self.marked_asgs(region, marker).await? {
            out.push((CopyKind::AutoScalingGroup, name));
        }
        out.sort();
        out.dedup();
        for (kind, name) in &out {
            info!(
                kind = kind.name(),
                name = name.as_str(),
                "marked resource listed"
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecs_client_tokens_fit_and_tell_copies_apart() {
        assert_eq!(
            ecs_client_token("api-drill-20261122-0850"),
            "api-drill-20261122-0850"
        );
        let a = ecs_client_token("confer-signaling-service-eu-drill-20261122-085000-ab12");
        let b = ecs_client_token("confer-signalling-service-eu-drill-20261122-085000-ab12");
        for t in [&a, &b] {
            assert!(t.len() <= 36 && t.is_ascii(), "{t}");
            assert!(t.ends_with("085000ab12"), "the end holds the drill id: {t}");
        }
        assert_ne!(a, b, "names that share their end get different tokens");
        assert_eq!(
            a,
            ecs_client_token("confer-signaling-service-eu-drill-20261122-085000-ab12"),
            "the same for every attempt"
        );
    }

    #[test]
    fn evidence_needs_the_full_size() {
        assert_eq!(ecs_evidence(3, 3, 3).as_deref(), Some("running 3/3"));
        assert_eq!(ecs_evidence(3, 4, 3).as_deref(), Some("running 4/3"));
        assert_eq!(ecs_evidence(3, 2, 3), None);
        assert_eq!(
            ecs_evidence(2, 2, 3),
            None,
            "desired must be the copy's size"
        );
        assert_eq!(asg_evidence(2, 2).as_deref(), Some("InService 2/2"));
        assert_eq!(asg_evidence(1, 2), None);
        assert_eq!(asg_evidence(0, 0).as_deref(), Some("InService 0/0"));
    }

    #[test]
    fn launch_templates_are_named_once() {
        use aws_sdk_autoscaling::types::{
            LaunchTemplate, LaunchTemplateOverrides, LaunchTemplateSpecification,
            MixedInstancesPolicy,
        };
        let both = LaunchTemplateSpecification::builder()
            .launch_template_id("lt-1")
            .launch_template_name("routers")
            .version("$Latest")
            .build();
        let one = launch_spec(both.clone());
        assert_eq!(one.launch_template_id(), Some("lt-1"));
        assert_eq!(one.launch_template_name(), None);
        assert_eq!(one.version(), Some("$Latest"));
        let by_name = LaunchTemplateSpecification::builder()
            .launch_template_name("routers")
            .build();
        assert_eq!(launch_spec(by_name.clone()), by_name);
        let policy = MixedInstancesPolicy::builder()
            .launch_template(
                LaunchTemplate::builder()
                    .launch_template_specification(both.clone())
                    .overrides(
                        LaunchTemplateOverrides::builder()
                            .launch_template_specification(both)
                            .build(),
                    )
                    .build(),
            )
            .build();
        let policy = mixed_policy(policy);
        let lt = policy.launch_template().unwrap();
        assert_eq!(
            lt.launch_template_specification()
                .and_then(|s| s.launch_template_name()),
            None
        );
        assert_eq!(
            lt.overrides()[0]
                .launch_template_specification()
                .and_then(|s| s.launch_template_name()),
            None
        );
    }

    #[test]
    fn drill_copies_carry_the_marker_the_grants_expect() {
        let name = pilotlight_drill::isolated::copy_name("orders-dr", "drill-20261121-232909-e9bd");
        assert!(name.contains(DRILL_NAME_MARKER), "{name}");
        assert_eq!(
            service_name_of("arn:aws:ecs:us-west-2:1:service/c/web-drill-1"),
            "web-drill-1"
        );
        assert!(rds_failed("incompatible-restore"));
        assert!(!rds_failed("creating"));
    }
}
