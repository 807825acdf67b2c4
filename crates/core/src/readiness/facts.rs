//! Live facts about each resource kind, gathered read-only from both regions by an adapter.
//! `None` means "does not exist"; a gathering failure is an error, never a fact.

use serde::{Deserialize, Serialize};

/// A DynamoDB table as seen in one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableState {
    /// `TableStatus` (ACTIVE, CREATING, UPDATING, ...).
    pub status: String,
    /// The global table's replicas as the table reports them (region, `ReplicaStatus`).
    pub replicas: Vec<ReplicaState>,
}

/// One replica of a global table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaState {
    /// Region of the replica.
    pub region: String,
    /// `ReplicaStatus` (ACTIVE, CREATING, ...).
    pub status: String,
}

/// Facts about a DynamoDB global table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DynamoFacts {
    /// The table in the primary region.
    pub primary: Option<TableState>,
    /// The table in the DR region.
    pub dr: Option<TableState>,
    /// Latest `ReplicationLatency` toward DR in milliseconds, when CloudWatch has recent data.
    pub replication_latency_ms: Option<f64>,
}

/// One S3 replication rule of the primary bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicationRule {
    /// Rule id.
    pub id: Option<String>,
    /// Whether the rule's status is `Enabled`.
    pub enabled: bool,
    /// Destination bucket ARN.
    pub destination_bucket_arn: String,
    /// Whether Replication Time Control is enabled on the rule.
    pub rtc_enabled: bool,
}

/// Facts about an S3 bucket pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct S3Facts {
    /// Whether the primary bucket exists.
    pub primary_exists: bool,
    /// Whether the DR bucket exists.
    pub dr_exists: bool,
    /// Versioning status of the primary bucket (`Enabled`, `Suspended`, or none).
    pub primary_versioning: Option<String>,
    /// Versioning status of the DR bucket.
    pub dr_versioning: Option<String>,
    /// The primary bucket's replication rules (empty when it has no replication configuration).
    pub rules: Vec<ReplicationRule>,
}

/// A KMS key as described in one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyState {
    /// The key's ARN.
    pub arn: String,
    /// `KeyState` (Enabled, Disabled, PendingDeletion, ...).
    pub key_state: String,
    /// Whether this is a multi-region key.
    pub multi_region: bool,
    /// `PRIMARY` or `REPLICA` for multi-region keys.
    pub multi_region_type: Option<String>,
    /// Regions of the replicas, as the primary reports them.
    pub replica_regions: Vec<String>,
}

/// Facts about a KMS multi-region key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KmsFacts {
    /// The key in the primary region.
    pub primary: Option<KeyState>,
    /// The key in the DR region.
    pub dr: Option<KeyState>,
}

/// An RDS DB instance as described in its region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbInstanceState {
    /// The instance's ARN.
    pub arn: String,
    /// `DBInstanceStatus` (available, backing-up, ...).
    pub status: String,
    /// `ReadReplicaSourceDBInstanceIdentifier` (an identifier or ARN) for a read replica.
    pub read_replica_source: Option<String>,
}

/// Facts about an RDS instance and its cross-region read replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RdsFacts {
    /// The primary instance.
    pub primary: Option<DbInstanceState>,
    /// The read replica in DR.
    pub replica: Option<DbInstanceState>,
    /// Latest `ReplicaLag` in seconds, when CloudWatch has recent data.
    pub lag_seconds: Option<f64>,
}

/// An Aurora DB cluster as described in its region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterState {
    /// The cluster's ARN.
    pub arn: String,
    /// `Status` (available, ...).
    pub status: String,
}

/// One member of an Aurora global cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlobalMember {
    /// The member cluster's ARN.
    pub cluster_arn: String,
    /// Whether it is the writer (primary) of the global cluster.
    pub is_writer: bool,
}

/// Facts about an Aurora global database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuroraFacts {
    /// The global cluster's members, when it exists.
    pub global_members: Option<Vec<GlobalMember>>,
    /// The cluster in the primary region.
    pub primary: Option<ClusterState>,
    /// The cluster in the DR region.
    pub dr: Option<ClusterState>,
    /// Latest `AuroraGlobalDBReplicationLag` in milliseconds, when CloudWatch has recent data.
    pub lag_ms: Option<f64>,
}

/// An ECS service as described in DR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceState {
    /// `status` (ACTIVE, DRAINING, INACTIVE).
    pub status: String,
    /// `desiredCount`.
    pub desired: u32,
    /// `runningCount`.
    pub running: u32,
    /// The task definition ARN the service runs.
    pub task_definition: String,
}

/// Facts about an ECS service in DR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EcsFacts {
    /// Cluster status in DR (`ACTIVE`, ...), none when the cluster does not exist.
    pub cluster_status: Option<String>,
    /// The service, when it exists.
    pub service: Option<ServiceState>,
    /// Status of the service's task definition (`ACTIVE`, `INACTIVE`), none when it does not exist.
    pub task_definition_status: Option<String>,
}

/// What an Auto Scaling group launches instances from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LaunchSource {
    /// A launch configuration, by name.
    Configuration {
        /// Launch configuration name.
        name: String,
    },
    /// A launch template, by id or name.
    Template {
        /// Launch template id or name.
        id_or_name: String,
        /// Version requested (`$Latest`, `$Default` or a number).
        version: Option<String>,
    },
    /// A mixed-instances policy (its template is checked).
    MixedInstances {
        /// Launch template id or name of the policy.
        id_or_name: String,
    },
    /// The group names no launch source.
    None,
}

/// An Auto Scaling group as described in DR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    /// `MinSize`.
    pub min: u32,
    /// `MaxSize`.
    pub max: u32,
    /// `DesiredCapacity`.
    pub desired: u32,
    /// Instances `InService`.
    pub in_service: u32,
    /// What it launches from.
    pub launch: LaunchSource,
}

/// Facts about an Auto Scaling group in DR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsgFacts {
    /// The group, when it exists.
    pub group: Option<GroupState>,
    /// Whether the group's launch configuration or template exists.
    pub launch_source_exists: bool,
}

/// A record set as listed in the zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordSetState {
    /// `Failover` (PRIMARY / SECONDARY) for failover routing.
    pub failover: Option<String>,
    /// `Weight` for weighted routing.
    pub weight: Option<i64>,
    /// The health check attached to the record set.
    pub health_check_id: Option<String>,
}

/// A Route 53 health check and its latest status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthCheckState {
    /// Health check id.
    pub id: String,
    /// Whether it exists.
    pub exists: bool,
    /// How many checkers reported.
    pub observations: u32,
    /// How many of those reported success.
    pub healthy_observations: u32,
}

/// Facts about a Route 53 record pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route53Facts {
    /// Whether the hosted zone exists.
    pub zone_exists: bool,
    /// The record set pointing at the primary.
    pub primary: Option<RecordSetState>,
    /// The record set pointing at DR.
    pub dr: Option<RecordSetState>,
    /// The health checks the two record sets name.
    pub health_checks: Vec<HealthCheckState>,
}
