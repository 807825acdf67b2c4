//! The AWS implementation of [`ReadinessFacts`]: gathers, read-only and from both regions, exactly
//! the facts of `pilotlight_core::readiness::facts`. Every call goes through [`Caller`]; "not
//! found" answers become empty facts, never errors.

use crate::client::ClientFactory;
use crate::retry::Caller;
use async_trait::async_trait;
use aws_smithy_types::DateTime;
use pilotlight_core::capability::ReadinessFacts;
use pilotlight_core::model::{
    AuroraGlobalCluster, AutoScalingGroup, DnsRecord, DynamoTable, EcsService, KmsKey, RdsReplica,
    Regions, Route53, S3BucketPair,
};
use pilotlight_core::readiness::facts::{
    AsgFacts, AuroraFacts, ClusterState, DbInstanceState, DynamoFacts, EcsFacts, GlobalMember,
    GroupState, HealthCheckState, KeyState, KmsFacts, LaunchSource, RdsFacts, RecordSetState,
    ReplicaState, ReplicationRule, Route53Facts, S3Facts, ServiceState, TableState,
};
use pilotlight_core::CapabilityError;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Statuses a Route 53 checker reports when it considers the endpoint healthy start with this.
const HEALTHY_PREFIX: &str = "Success";

/// Period of the CloudWatch statistics read (the finest standard resolution).
const METRIC_PERIOD_SECS: i32 = 60;

/// Gathers readiness facts from AWS (or an emulator) through one [`ClientFactory`] and one
/// [`Caller`].
#[derive(Debug, Clone)]
pub struct AwsReadiness {
    clients: Arc<ClientFactory>,
    caller: Caller,
    regions: Regions,
    metric_window: Duration,
}

impl AwsReadiness {
    /// An adapter over `clients` and `caller` for `regions`; CloudWatch data older than
    /// `metric_window` is ignored.
    pub fn new(
        clients: Arc<ClientFactory>,
        caller: Caller,
        regions: Regions,
        metric_window: Duration,
    ) -> Self {
        AwsReadiness {
            clients,
            caller,
            regions,
            metric_window,
        }
    }

    /// The caller every request goes through (for its stats).
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    fn primary(&self) -> &str {
        &self.regions.primary
    }

    fn dr(&self) -> &str {
        &self.regions.dr
    }

    /// The average of the latest datapoint of a CloudWatch metric within the metric window.
    async fn latest_metric(
        &self,
        region: &str,
        namespace: &str,
        metric: &str,
        dimensions: &[(&str, &str)],
    ) -> Result<Option<f64>, CapabilityError> {
        use aws_sdk_cloudwatch::types::{Dimension, Statistic};
        let client = self.clients.cloudwatch(region).await;
        let now = SystemTime::now();
        let start = now
            .checked_sub(self.metric_window)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        // A little past now: the end is exclusive, so a datapoint stamped this second counts,
        // and a clock slightly behind CloudWatch's does not hide the latest period.
        let end = now + Duration::from_secs(METRIC_PERIOD_SECS as u64);
        let dims: Vec<Dimension> = dimensions
            .iter()
            .map(|(n, v)| Dimension::builder().name(*n).value(*v).build())
            .collect();
        let out = self
            .caller
            .call("cloudwatch", region, "GetMetricStatistics", || {
                client
                    .get_metric_statistics()
                    .namespace(namespace)
                    .metric_name(metric)
                    .set_dimensions(Some(dims.clone()))
                    .start_time(DateTime::from(start))
                    .end_time(DateTime::from(end))
                    .period(METRIC_PERIOD_SECS)
                    // Lag is judged on the worst value of the latest period: an average can
                    // hide a spike that a failover at that moment would lose.
                    .statistics(Statistic::Maximum)
                    .send()
            })
            .await?;
        Ok(latest_maximum(out.datapoints()))
    }

    async fn describe_table(
        &self,
        region: &str,
        table: &str,
    ) -> Result<Option<TableState>, CapabilityError> {
        let client = self.clients.dynamodb(region).await;
        let out = self
            .caller
            .call_opt(
                "dynamodb",
                region,
                "DescribeTable",
                &["ResourceNotFoundException"],
                || client.describe_table().table_name(table).send(),
            )
            .await?;
        Ok(out.and_then(|o| o.table.map(|t| table_state(&t))))
    }

    async fn bucket_exists(&self, region: &str, bucket: &str) -> Result<bool, CapabilityError> {
        let client = self.clients.s3(region).await;
        let out = self
            .caller
            .call_opt(
                "s3",
                region,
                "HeadBucket",
                &["NotFound", "NoSuchBucket"],
                || client.head_bucket().bucket(bucket).send(),
            )
            .await?;
        Ok(out.is_some())
    }

    async fn bucket_versioning(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<String>, CapabilityError> {
        let client = self.clients.s3(region).await;
        let out = self
            .caller
            .call_opt(
                "s3",
                region,
                "GetBucketVersioning",
                &["NoSuchBucket", "NotFound"],
                || client.get_bucket_versioning().bucket(bucket).send(),
            )
            .await?;
        Ok(out.and_then(|o| o.status().map(|s| s.as_str().to_string())))
    }

    /// Whether a bucket exists and, when it does, its versioning status.
    async fn bucket(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<(bool, Option<String>), CapabilityError> {
        if !self.bucket_exists(region, bucket).await? {
            return Ok((false, None));
        }
        Ok((true, self.bucket_versioning(region, bucket).await?))
    }

    async fn replication_rules(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Vec<ReplicationRule>, CapabilityError> {
        let client = self.clients.s3(region).await;
        let out = self
            .caller
            .call_opt(
                "s3",
                region,
                "GetBucketReplication",
                &[
                    "ReplicationConfigurationNotFoundError",
                    "NoSuchReplicationConfiguration",
                    "NoSuchBucket",
                ],
                || client.get_bucket_replication().bucket(bucket).send(),
            )
            .await?;
        Ok(out
            .and_then(|o| o.replication_configuration)
            .map(|c| c.rules().iter().map(replication_rule).collect())
            .unwrap_or_default())
    }

    async fn describe_key(
        &self,
        region: &str,
        key_id: &str,
    ) -> Result<Option<KeyState>, CapabilityError> {
        let client = self.clients.kms(region).await;
        let key_id = key_id_in_region(key_id, region);
        let out = self
            .caller
            .call_opt("kms", region, "DescribeKey", &["NotFoundException"], || {
                client.describe_key().key_id(&key_id).send()
            })
            .await?;
        Ok(out.and_then(|o| o.key_metadata.map(|m| key_state(&m))))
    }

    async fn describe_instance(
        &self,
        region: &str,
        id: &str,
    ) -> Result<Option<DbInstanceState>, CapabilityError> {
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
                    db.db_instance_identifier() == Some(id) || db.db_instance_arn() == Some(id)
                })
                .map(|db| DbInstanceState {
                    arn: db.db_instance_arn().unwrap_or_default().to_string(),
                    status: db.db_instance_status().unwrap_or_default().to_string(),
                    read_replica_source: db
                        .read_replica_source_db_instance_identifier()
                        .map(str::to_string),
                })
        }))
    }

    async fn describe_cluster(
        &self,
        region: &str,
        id: &str,
    ) -> Result<Option<ClusterState>, CapabilityError> {
        let client = self.clients.rds(region).await;
        let out = self
            .caller
            .call_opt(
                "rds",
                region,
                "DescribeDBClusters",
                &["DBClusterNotFoundFault"],
                || {
                    client
                        .describe_db_clusters()
                        .db_cluster_identifier(id)
                        .send()
                },
            )
            .await?;
        Ok(out.and_then(|o| {
            o.db_clusters()
                .iter()
                .find(|c| c.db_cluster_identifier() == Some(id) || c.db_cluster_arn() == Some(id))
                .map(|c| ClusterState {
                    arn: c.db_cluster_arn().unwrap_or_default().to_string(),
                    status: c.status().unwrap_or_default().to_string(),
                })
        }))
    }

    async fn global_members(
        &self,
        region: &str,
        id: &str,
    ) -> Result<Option<Vec<GlobalMember>>, CapabilityError> {
        let client = self.clients.rds(region).await;
        let out = self
            .caller
            .call_opt(
                "rds",
                region,
                "DescribeGlobalClusters",
                &["GlobalClusterNotFoundFault"],
                || {
                    client
                        .describe_global_clusters()
                        .global_cluster_identifier(id)
                        .send()
                },
            )
            .await?;
        // Match the identifier: an emulator may ignore the filter and list every global cluster.
        Ok(out.and_then(|o| {
            o.global_clusters()
                .iter()
                .find(|g| {
                    g.global_cluster_identifier() == Some(id) || g.global_cluster_arn() == Some(id)
                })
                .map(|g| {
                    g.global_cluster_members()
                        .iter()
                        .map(|m| GlobalMember {
                            cluster_arn: m.db_cluster_arn().unwrap_or_default().to_string(),
                            is_writer: m.is_writer().unwrap_or(false),
                        })
                        .collect()
                })
        }))
    }

    async fn launch_configuration_exists(
        &self,
        region: &str,
        name: &str,
    ) -> Result<bool, CapabilityError> {
        let client = self.clients.autoscaling(region).await;
        let out = self
            .caller
            .call(
                "autoscaling",
                region,
                "DescribeLaunchConfigurations",
                || {
                    client
                        .describe_launch_configurations()
                        .launch_configuration_names(name)
                        .send()
                },
            )
            .await?;
        Ok(out
            .launch_configurations()
            .iter()
            .any(|lc| lc.launch_configuration_name() == Some(name)))
    }

    async fn launch_template_exists(
        &self,
        region: &str,
        id_or_name: &str,
    ) -> Result<bool, CapabilityError> {
        let client = self.clients.ec2(region).await;
        let by_id = id_or_name.starts_with("lt-");
        let out = self
            .caller
            .call_opt(
                "ec2",
                region,
                "DescribeLaunchTemplates",
                &[
                    "InvalidLaunchTemplateId.NotFound",
                    "InvalidLaunchTemplateName.NotFoundException",
                    "InvalidLaunchTemplateId.Malformed",
                ],
                || {
                    let req = client.describe_launch_templates();
                    if by_id {
                        req.launch_template_ids(id_or_name).send()
                    } else {
                        req.launch_template_names(id_or_name).send()
                    }
                },
            )
            .await?;
        Ok(out.is_some_and(|o| !o.launch_templates().is_empty()))
    }

    async fn health_check(
        &self,
        region: &str,
        id: &str,
    ) -> Result<HealthCheckState, CapabilityError> {
        let client = self.clients.route53(region).await;
        let found = self
            .caller
            .call_opt(
                "route53",
                region,
                "GetHealthCheck",
                &["NoSuchHealthCheck"],
                || client.get_health_check().health_check_id(id).send(),
            )
            .await?;
        if found.is_none() {
            return Ok(HealthCheckState {
                id: id.to_string(),
                exists: false,
                observations: 0,
                healthy_observations: 0,
            });
        }
        let status = self
            .caller
            .call_opt(
                "route53",
                region,
                "GetHealthCheckStatus",
                &["NoSuchHealthCheck"],
                || client.get_health_check_status().health_check_id(id).send(),
            )
            .await?;
        let Some(status) = status else {
            return Ok(HealthCheckState {
                id: id.to_string(),
                exists: false,
                observations: 0,
                healthy_observations: 0,
            });
        };
        let reports: Vec<Option<&str>> = status
            .health_check_observations()
            .iter()
            .map(|o| o.status_report().and_then(|r| r.status()))
            .collect();
        Ok(HealthCheckState {
            id: id.to_string(),
            exists: true,
            observations: reports.len() as u32,
            healthy_observations: reports
                .iter()
                .filter(|s| s.is_some_and(is_healthy_report))
                .count() as u32,
        })
    }

    /// The two record sets of `record` (primary, DR) (see [`crate::route53::record_pair`]).
    async fn record_sets(
        &self,
        region: &str,
        zone_id: &str,
        record: &DnsRecord,
    ) -> Result<(Option<RecordSetState>, Option<RecordSetState>), CapabilityError> {
        let client = self.clients.route53(region).await;
        let query = crate::route53::RecordQuery {
            zone_id,
            record_name: &record.record_name,
            record_type: &record.record_type,
            primary_set: &record.primary_set_identifier,
            dr_set: &record.dr_set_identifier,
        };
        let state = |rrset: aws_sdk_route53::types::ResourceRecordSet| RecordSetState {
            failover: rrset.failover().map(|f| f.as_str().to_string()),
            weight: rrset.weight(),
            health_check_id: rrset.health_check_id().map(str::to_string),
        };
        let (primary, dr) = crate::route53::record_pair(&self.caller, &client, region, &query)
            .await?
            .unwrap_or((None, None));
        Ok((primary.map(state), dr.map(state)))
    }
}

#[async_trait]
impl ReadinessFacts for AwsReadiness {
    #[tracing::instrument(skip_all, fields(kind = "dynamodb", name = %table.name))]
    async fn dynamodb(&self, table: &DynamoTable) -> Result<DynamoFacts, CapabilityError> {
        let dims = [
            ("TableName", table.table.as_str()),
            ("ReceivingRegion", self.dr()),
        ];
        let (primary, dr, replication_latency_ms) = futures::try_join!(
            self.describe_table(self.primary(), &table.table),
            self.describe_table(self.dr(), &table.table),
            self.latest_metric(self.primary(), "AWS/DynamoDB", "ReplicationLatency", &dims),
        )?;
        Ok(DynamoFacts {
            primary,
            dr,
            replication_latency_ms,
        })
    }

    #[tracing::instrument(skip_all, fields(kind = "s3", name = %pair.name))]
    async fn s3(&self, pair: &S3BucketPair) -> Result<S3Facts, CapabilityError> {
        let ((primary_exists, primary_versioning), (dr_exists, dr_versioning)) = futures::try_join!(
            self.bucket(self.primary(), &pair.primary_bucket),
            self.bucket(self.dr(), &pair.dr_bucket),
        )?;
        let rules = if primary_exists {
            self.replication_rules(self.primary(), &pair.primary_bucket)
                .await?
        } else {
            Vec::new()
        };
        Ok(S3Facts {
            primary_exists,
            dr_exists,
            primary_versioning,
            dr_versioning,
            rules,
        })
    }

    #[tracing::instrument(skip_all, fields(kind = "kms", name = %key.name))]
    async fn kms(&self, key: &KmsKey) -> Result<KmsFacts, CapabilityError> {
        let (primary, dr) = futures::try_join!(
            self.describe_key(self.primary(), &key.key_id),
            self.describe_key(self.dr(), &key.key_id),
        )?;
        Ok(KmsFacts { primary, dr })
    }

    #[tracing::instrument(skip_all, fields(kind = "rds", name = %db.name))]
    async fn rds(&self, db: &RdsReplica) -> Result<RdsFacts, CapabilityError> {
        let dims = [("DBInstanceIdentifier", db.replica_instance.as_str())];
        let (primary, replica, lag_seconds) = futures::try_join!(
            self.describe_instance(self.primary(), &db.primary_instance),
            self.describe_instance(self.dr(), &db.replica_instance),
            self.latest_metric(self.dr(), "AWS/RDS", "ReplicaLag", &dims),
        )?;
        Ok(RdsFacts {
            primary,
            replica,
            lag_seconds,
        })
    }

    #[tracing::instrument(skip_all, fields(kind = "rds", region = %region, instance = %instance))]
    async fn rds_replica_lag(
        &self,
        region: &str,
        instance: &str,
    ) -> Result<Option<f64>, CapabilityError> {
        let dims = [("DBInstanceIdentifier", instance)];
        self.latest_metric(region, "AWS/RDS", "ReplicaLag", &dims)
            .await
    }

    #[tracing::instrument(skip_all, fields(kind = "aurora", name = %db.name))]
    async fn aurora(&self, db: &AuroraGlobalCluster) -> Result<AuroraFacts, CapabilityError> {
        let dims = [("DBClusterIdentifier", db.dr_cluster.as_str())];
        let (global_members, primary, dr, lag_ms) = futures::try_join!(
            self.global_members(self.primary(), &db.global_cluster),
            self.describe_cluster(self.primary(), &db.primary_cluster),
            self.describe_cluster(self.dr(), &db.dr_cluster),
            self.latest_metric(self.dr(), "AWS/RDS", "AuroraGlobalDBReplicationLag", &dims),
        )?;
        Ok(AuroraFacts {
            global_members,
            primary,
            dr,
            lag_ms,
        })
    }

    #[tracing::instrument(skip_all, fields(kind = "ecs", name = %service.name))]
    async fn ecs(&self, service: &EcsService) -> Result<EcsFacts, CapabilityError> {
        let region = self.dr();
        let client = self.clients.ecs(region).await;
        let clusters = self
            .caller
            .call("ecs", region, "DescribeClusters", || {
                client.describe_clusters().clusters(&service.cluster).send()
            })
            .await?;
        let cluster_status = clusters
            .clusters()
            .iter()
            .find(|c| {
                c.cluster_name() == Some(service.cluster.as_str())
                    || c.cluster_arn() == Some(service.cluster.as_str())
            })
            .map(|c| c.status().unwrap_or_default().to_string());
        if cluster_status.is_none() {
            return Ok(EcsFacts {
                cluster_status,
                service: None,
                task_definition_status: None,
            });
        }
        let services = self
            .caller
            .call_opt(
                "ecs",
                region,
                "DescribeServices",
                &["ClusterNotFoundException", "ServiceNotFoundException"],
                || {
                    client
                        .describe_services()
                        .cluster(&service.cluster)
                        .services(&service.service)
                        .send()
                },
            )
            .await?;
        let svc = services.as_ref().and_then(|o| {
            o.services().iter().find(|s| {
                s.service_name() == Some(service.service.as_str())
                    || s.service_arn() == Some(service.service.as_str())
            })
        });
        let svc = svc.map(|s| ServiceState {
            status: s.status().unwrap_or_default().to_string(),
            desired: s.desired_count().max(0) as u32,
            running: s.running_count().max(0) as u32,
            task_definition: s.task_definition().unwrap_or_default().to_string(),
        });
        let task_definition_status = match &svc {
            Some(s) if !s.task_definition.is_empty() => {
                let td = self
                    .caller
                    .call_opt_if(
                        "ecs",
                        region,
                        "DescribeTaskDefinition",
                        is_missing_task_definition,
                        || {
                            client
                                .describe_task_definition()
                                .task_definition(&s.task_definition)
                                .send()
                        },
                    )
                    .await?;
                td.and_then(|o| {
                    o.task_definition
                        .and_then(|t| t.status().map(|s| s.as_str().to_string()))
                })
            }
            _ => None,
        };
        Ok(EcsFacts {
            cluster_status,
            service: svc,
            task_definition_status,
        })
    }

    #[tracing::instrument(skip_all, fields(kind = "autoscaling", name = %group.name))]
    async fn autoscaling(&self, group: &AutoScalingGroup) -> Result<AsgFacts, CapabilityError> {
        let region = self.dr();
        let client = self.clients.autoscaling(region).await;
        let out = self
            .caller
            .call("autoscaling", region, "DescribeAutoScalingGroups", || {
                client
                    .describe_auto_scaling_groups()
                    .auto_scaling_group_names(&group.group)
                    .send()
            })
            .await?;
        let Some(g) = out
            .auto_scaling_groups()
            .iter()
            .find(|g| g.auto_scaling_group_name() == Some(group.group.as_str()))
        else {
            return Ok(AsgFacts {
                group: None,
                launch_source_exists: false,
            });
        };
        let state = group_state(g);
        let launch_source_exists = match &state.launch {
            LaunchSource::Configuration { name } => {
                self.launch_configuration_exists(region, name).await?
            }
            LaunchSource::Template { id_or_name, .. }
            | LaunchSource::MixedInstances { id_or_name } => {
                self.launch_template_exists(region, id_or_name).await?
            }
            LaunchSource::None => false,
        };
        Ok(AsgFacts {
            group: Some(state),
            launch_source_exists,
        })
    }

    #[tracing::instrument(skip_all, fields(kind = "route53", name = %record.name))]
    async fn route53(
        &self,
        zone: &Route53,
        record: &DnsRecord,
    ) -> Result<Route53Facts, CapabilityError> {
        // Route 53 is global; its control plane is signed for the primary's partition.
        let region = self.primary();
        let client = self.clients.route53(region).await;
        let found = self
            .caller
            .call_opt(
                "route53",
                region,
                "GetHostedZone",
                &["NoSuchHostedZone"],
                || client.get_hosted_zone().id(&zone.zone_id).send(),
            )
            .await?;
        if found.is_none() {
            return Ok(Route53Facts {
                zone_exists: false,
                primary: None,
                dr: None,
                health_checks: Vec::new(),
            });
        }
        let (primary, dr) = self.record_sets(region, &zone.zone_id, record).await?;
        let mut ids: Vec<&str> = Vec::new();
        for id in [&primary, &dr]
            .into_iter()
            .flatten()
            .filter_map(|r| r.health_check_id.as_deref())
        {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let health_checks =
            futures::future::try_join_all(ids.iter().map(|id| self.health_check(region, id)))
                .await?;
        Ok(Route53Facts {
            zone_exists: true,
            primary,
            dr,
            health_checks,
        })
    }
}

/// The table's status and replicas as facts.
pub(crate) fn table_state(t: &aws_sdk_dynamodb::types::TableDescription) -> TableState {
    TableState {
        status: t
            .table_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        replicas: t
            .replicas()
            .iter()
            .map(|r| ReplicaState {
                region: r.region_name().unwrap_or_default().to_string(),
                status: r
                    .replica_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

/// One S3 replication rule as a fact.
pub(crate) fn replication_rule(r: &aws_sdk_s3::types::ReplicationRule) -> ReplicationRule {
    use aws_sdk_s3::types::{ReplicationRuleStatus, ReplicationTimeStatus};
    let dest = r.destination();
    ReplicationRule {
        id: r.id().map(str::to_string),
        enabled: *r.status() == ReplicationRuleStatus::Enabled,
        destination_bucket_arn: dest.map(|d| d.bucket().to_string()).unwrap_or_default(),
        rtc_enabled: dest
            .and_then(|d| d.replication_time())
            .is_some_and(|t| *t.status() == ReplicationTimeStatus::Enabled),
    }
}

/// A KMS key's metadata as a fact.
pub(crate) fn key_state(m: &aws_sdk_kms::types::KeyMetadata) -> KeyState {
    let mrc = m.multi_region_configuration();
    KeyState {
        arn: m.arn().unwrap_or_default().to_string(),
        key_state: m
            .key_state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        multi_region: m.multi_region().unwrap_or(false),
        multi_region_type: mrc
            .and_then(|c| c.multi_region_key_type())
            .map(|t| t.as_str().to_string()),
        replica_regions: mrc
            .map(|c| {
                c.replica_keys()
                    .iter()
                    .filter_map(|k| k.region().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// An Auto Scaling group as a fact.
pub(crate) fn group_state(g: &aws_sdk_autoscaling::types::AutoScalingGroup) -> GroupState {
    use aws_sdk_autoscaling::types::LifecycleState;
    let spec_id = |s: &aws_sdk_autoscaling::types::LaunchTemplateSpecification| {
        s.launch_template_id()
            .or(s.launch_template_name())
            .unwrap_or_default()
            .to_string()
    };
    let launch = if let Some(name) = g.launch_configuration_name() {
        LaunchSource::Configuration {
            name: name.to_string(),
        }
    } else if let Some(t) = g.launch_template() {
        LaunchSource::Template {
            id_or_name: spec_id(t),
            version: t.version().map(str::to_string),
        }
    } else if let Some(spec) = g
        .mixed_instances_policy()
        .and_then(|p| p.launch_template())
        .and_then(|t| t.launch_template_specification())
    {
        LaunchSource::MixedInstances {
            id_or_name: spec_id(spec),
        }
    } else {
        LaunchSource::None
    };
    let count = |v: Option<i32>| v.unwrap_or(0).max(0) as u32;
    GroupState {
        min: count(g.min_size()),
        max: count(g.max_size()),
        desired: count(g.desired_capacity()),
        in_service: g
            .instances()
            .iter()
            .filter(|i| i.lifecycle_state() == Some(&LifecycleState::InService))
            .count() as u32,
        launch,
    }
}

/// The average of the datapoint with the latest timestamp.
pub(crate) fn latest_maximum(points: &[aws_sdk_cloudwatch::types::Datapoint]) -> Option<f64> {
    points
        .iter()
        .filter(|p| p.maximum().is_some())
        .max_by_key(|p| p.timestamp().map(|t| (t.secs(), t.subsec_nanos())))
        .and_then(|p| p.maximum())
}

/// Whether a Route 53 checker's status report says healthy (`Success: HTTP Status Code 200, OK`).
pub(crate) fn is_healthy_report(status: &str) -> bool {
    status.trim_start().starts_with(HEALTHY_PREFIX)
}

/// ECS answers `ClientException` ("Unable to describe task definition.") for a missing one.
fn is_missing_task_definition(code: Option<&str>, message: Option<&str>) -> bool {
    match code {
        Some("ClientException") => {
            let m = message.unwrap_or_default().to_ascii_lowercase();
            m.contains("unable to describe task definition")
                || m.contains("not found")
                || m.contains("does not exist")
        }
        _ => false,
    }
}

/// Compares DNS names as Route 53 lists them: case-insensitive, trailing dot optional, `\052`
/// for `*`.
pub(crate) fn same_dns_name(listed: &str, configured: &str) -> bool {
    let norm = |s: &str| {
        s.trim_end_matches('.')
            .replace("\\052", "*")
            .to_ascii_lowercase()
    };
    norm(listed) == norm(configured)
}

/// The key id to use in `region`: a multi-region key's ARN names its region, so rewrite it; a
/// bare `mrk-…` id or alias is the same in every region.
pub(crate) fn key_id_in_region(key_id: &str, region: &str) -> String {
    let parts: Vec<&str> = key_id.splitn(6, ':').collect();
    if parts.len() == 6 && parts[0] == "arn" && parts[2] == "kms" {
        format!(
            "{}:{}:{}:{}:{}:{}",
            parts[0], parts[1], parts[2], region, parts[4], parts[5]
        )
    } else {
        key_id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::{
        ReplicaDescription, ReplicaStatus, TableDescription, TableStatus,
    };

    #[test]
    fn dynamodb_replicas_mapping() {
        let t = TableDescription::builder()
            .table_name("orders")
            .table_status(TableStatus::Active)
            .replicas(
                ReplicaDescription::builder()
                    .region_name("us-east-1")
                    .replica_status(ReplicaStatus::Active)
                    .build(),
            )
            .replicas(
                ReplicaDescription::builder()
                    .region_name("us-west-2")
                    .replica_status(ReplicaStatus::Creating)
                    .build(),
            )
            .build();
        let s = table_state(&t);
        assert_eq!(s.status, "ACTIVE");
        assert_eq!(
            s.replicas,
            vec![
                ReplicaState {
                    region: "us-east-1".into(),
                    status: "ACTIVE".into()
                },
                ReplicaState {
                    region: "us-west-2".into(),
                    status: "CREATING".into()
                },
            ]
        );
        let bare = table_state(&TableDescription::builder().build());
        assert_eq!(
            bare,
            TableState {
                status: String::new(),
                replicas: vec![]
            }
        );
    }

    #[test]
    fn latest_datapoint_wins() {
        use aws_sdk_cloudwatch::types::Datapoint;
        let p = |secs: i64, max: f64| {
            Datapoint::builder()
                .timestamp(DateTime::from_secs(secs))
                .maximum(max)
                .average(max / 2.0)
                .build()
        };
        assert_eq!(
            latest_maximum(&[p(100, 1.0), p(300, 3.0), p(200, 2.0)]),
            Some(3.0)
        );
        assert_eq!(latest_maximum(&[]), None);
    }

    #[test]
    fn health_reports() {
        assert!(is_healthy_report("Success: HTTP Status Code 200, OK"));
        assert!(!is_healthy_report("Failure: Connection timed out."));
        assert!(!is_healthy_report(""));
    }

    #[test]
    fn dns_names_and_key_ids() {
        assert!(same_dns_name("api.example.com.", "API.example.com"));
        assert!(same_dns_name("\\052.example.com.", "*.example.com."));
        assert!(!same_dns_name("api2.example.com.", "api.example.com."));
        assert_eq!(
            key_id_in_region("arn:aws:kms:us-east-1:123456789012:key/mrk-1", "us-west-2"),
            "arn:aws:kms:us-west-2:123456789012:key/mrk-1"
        );
        assert_eq!(key_id_in_region("mrk-1", "us-west-2"), "mrk-1");
        assert_eq!(key_id_in_region("alias/app", "us-west-2"), "alias/app");
    }

    #[test]
    fn task_definition_not_found() {
        assert!(is_missing_task_definition(
            Some("ClientException"),
            Some("Unable to describe task definition.")
        ));
        assert!(!is_missing_task_definition(
            Some("ClientException"),
            Some("Invalid parameter")
        ));
        assert!(!is_missing_task_definition(Some("ServerException"), None));
    }

    #[test]
    fn launch_sources() {
        use aws_sdk_autoscaling::types::{
            AutoScalingGroup as G, Instance, LaunchTemplate, LaunchTemplateSpecification,
            LifecycleState, MixedInstancesPolicy,
        };
        let inst = |s: LifecycleState| {
            Instance::builder()
                .instance_id("i-1")
                .lifecycle_state(s)
                .build()
        };
        let g = G::builder()
            .auto_scaling_group_name("g")
            .min_size(1)
            .max_size(4)
            .desired_capacity(2)
            .launch_configuration_name("lc")
            .instances(inst(LifecycleState::InService))
            .instances(inst(LifecycleState::Pending))
            .build();
        let s = group_state(&g);
        assert_eq!((s.min, s.max, s.desired, s.in_service), (1, 4, 2, 1));
        assert_eq!(s.launch, LaunchSource::Configuration { name: "lc".into() });

        let spec = LaunchTemplateSpecification::builder()
            .launch_template_id("lt-1")
            .version("$Latest")
            .build();
        let g = G::builder().launch_template(spec.clone()).build();
        assert_eq!(
            group_state(&g).launch,
            LaunchSource::Template {
                id_or_name: "lt-1".into(),
                version: Some("$Latest".into())
            }
        );
        let mip = MixedInstancesPolicy::builder()
            .launch_template(
                LaunchTemplate::builder()
                    .launch_template_specification(spec)
                    .build(),
            )
            .build();
        let g = G::builder().mixed_instances_policy(mip).build();
        assert_eq!(
            group_state(&g).launch,
            LaunchSource::MixedInstances {
                id_or_name: "lt-1".into()
            }
        );
        assert_eq!(
            group_state(&G::builder().build()).launch,
            LaunchSource::None
        );
    }
}
