//! The one table of AWS permissions: every AWS API call Pilotlight makes (the adapters of this
//! crate and the HA store), which capability makes it, the IAM action it needs and the resources
//! the grant is scoped to.
//!
//! Everything else about permissions is checked against this table: the test
//! `crates/aws/tests/permissions.rs` scans this crate's sources, and those of the HA store
//! (`crates/store/src`), for every call through [`crate::retry::Caller`] and requires the set of
//! (service, operation) pairs to equal the table's; it loads the IAM template
//! (`infra/pilotlight-iam.yaml`) and requires every capability's policy, and every role, to grant
//! exactly the table's actions on exactly the table's resources; and it requires the permission
//! tables of `docs/deploying.md` to be [`markdown`]'s output. A new AWS call therefore fails a
//! test until it is entered here, granted in the template and documented. Where AWS authorizes
//! more than a call's own action (a final snapshot when deleting an instance), [`DEPENDENT`] says
//! so, and the same checks include it; where it authorizes a call only by its parts (a
//! `TransactWriteItems`), [`AUTHORIZED_BY_PARTS`] says so.
//!
//! A *capability* is what needs the permission: `pilotlight check` (which the `readiness_gate`
//! step uses too), one runbook step kind, or a part of the control service (`probe`: health
//! probes; `notify`: SNS notifications; `ha_store`: the DynamoDB journal and lease; `drill` and
//! `isolated_drill`: DR drills). The IAM action of an operation comes from
//! [`crate::error::iam_action`], the same function that names it in "access denied" hints.

use crate::error::iam_action;
use std::collections::{BTreeMap, BTreeSet};
use Resource as R;

/// What the IAM statement granting an action may name as its `Resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// The action does not support resource-level permissions: `"*"`.
    Any,
    /// ECS clusters (both regions).
    EcsCluster,
    /// ECS services (both regions).
    EcsService,
    /// EC2 Auto Scaling groups (both regions).
    AutoScalingGroup,
    /// RDS instances: the primaries and their cross-region replicas.
    RdsInstance,
    /// RDS read replicas that runbooks promote (the DR side; both sides when failback runs).
    RdsReplica,
    /// The read-only DB parameter groups `fence_database` applies (`fence_parameter_group`).
    RdsFenceParameterGroup,
    /// The final snapshots `retire_database` keeps (`<instance>-pilotlight-final-<time>`).
    RdsFinalSnapshot,
    /// Aurora DB clusters (primary and secondary).
    AuroraCluster,
    /// Aurora global clusters.
    AuroraGlobalCluster,
    /// DynamoDB global tables (their ARNs in both regions).
    DynamoDbTable,
    /// S3 buckets (primary and DR).
    S3Bucket,
    /// KMS multi-region keys (their ARNs in both regions).
    KmsKey,
    /// The Route 53 hosted zone.
    HostedZone,
    /// Route 53 health checks of the record pairs.
    HealthCheck,
    /// Route 53 health checks that `shift_traffic` steers (those of the primary record sets).
    SteeredHealthCheck,
    /// Route 53 change batches (their ids are not known in advance).
    Route53Change,
    /// The SNS topic notifications are published to (`notifications.sns_topic_arn`).
    NotificationTopic,
    /// The HA store's DynamoDB tables: the journal and the lease (`pilotlight.yaml` creates them).
    HaStoreTable,
    /// The canary objects DR drills write (`pilotlight-drill/*` keys in any bucket).
    DrillCanaryObject,
    /// The DB snapshots an isolated drill takes of the DR replicas (`*-drill-*`).
    DrillDbSnapshot,
    /// The DB instances an isolated drill restores from them (`*-drill-*`).
    DrillDbInstance,
    /// The ECS services an isolated drill creates beside the DR services (`*-drill-*`).
    DrillEcsService,
    /// The Auto Scaling groups an isolated drill creates beside the DR groups (`*-drill-*`).
    DrillAutoScalingGroup,
    /// The DB subnet groups a restored drill instance is placed in (the replica's; used, not
    /// changed).
    RdsSubnetGroup,
    /// What EC2 authorizes when an Auto Scaling group is created with a launch template: the
    /// instances, volumes, network interfaces, subnets, security groups, image and template of a
    /// launch.
    Ec2LaunchResources,
    /// The roles of the instance profiles named in launch templates and configurations, passed to
    /// EC2 (the template restricts the grant to `iam:PassedToService` = `ec2.amazonaws.com`).
    InstanceProfileRole,
}

impl Resource {
    /// Every resource kind, in table order.
    pub const ALL: &'static [Resource] = &[
        Resource::Any,
        Resource::EcsCluster,
        Resource::EcsService,
        Resource::AutoScalingGroup,
        Resource::RdsInstance,
        Resource::RdsReplica,
        Resource::RdsFenceParameterGroup,
        Resource::RdsFinalSnapshot,
        Resource::AuroraCluster,
        Resource::AuroraGlobalCluster,
        Resource::DynamoDbTable,
        Resource::S3Bucket,
        Resource::KmsKey,
        Resource::HostedZone,
        Resource::HealthCheck,
        Resource::SteeredHealthCheck,
        Resource::Route53Change,
        Resource::NotificationTopic,
        Resource::HaStoreTable,
        Resource::DrillCanaryObject,
        Resource::DrillDbSnapshot,
        Resource::DrillDbInstance,
        Resource::DrillEcsService,
        Resource::DrillAutoScalingGroup,
        Resource::RdsSubnetGroup,
        Resource::Ec2LaunchResources,
        Resource::InstanceProfileRole,
    ];

    /// How the IAM template names the resource: the template parameter that holds the ARNs
    /// (or the id an ARN is built from), or the literal resource for `*` and change batches.
    pub fn template_reference(self) -> &'static str {
        match self {
            Resource::Any => "*",
            Resource::EcsCluster => "EcsClusterArns",
            Resource::EcsService => "EcsServiceArns",
            Resource::AutoScalingGroup => "AutoScalingGroupArns",
            Resource::RdsInstance => "RdsInstanceArns",
            Resource::RdsReplica => "RdsReplicaArns",
            Resource::RdsFenceParameterGroup => "RdsFenceParameterGroupArns",
            Resource::RdsFinalSnapshot => {
                "arn:${AWS::Partition}:rds:*:${AWS::AccountId}:snapshot:*-pilotlight-final-*"
            }
            Resource::AuroraCluster => "AuroraClusterArns",
            Resource::AuroraGlobalCluster => "AuroraGlobalClusterArns",
            Resource::DynamoDbTable => "DynamoDbTableArns",
            Resource::S3Bucket => "S3BucketArns",
            Resource::KmsKey => "KmsKeyArns",
            Resource::HostedZone => "HostedZoneId",
            Resource::HealthCheck => "HealthCheckArns",
            Resource::SteeredHealthCheck => "SteeredHealthCheckArns",
            Resource::Route53Change => "arn:${AWS::Partition}:route53:::change/*",
            Resource::NotificationTopic => "NotificationTopicArns",
            Resource::HaStoreTable => "HaStoreTableArns",
            Resource::DrillCanaryObject => "arn:${AWS::Partition}:s3:::*/pilotlight-drill/*",
            Resource::DrillDbSnapshot => {
                "arn:${AWS::Partition}:rds:*:${AWS::AccountId}:snapshot:*-drill-*"
            }
            Resource::DrillDbInstance => "arn:${AWS::Partition}:rds:*:${AWS::AccountId}:db:*-drill-*",
            Resource::DrillEcsService => {
                "arn:${AWS::Partition}:ecs:*:${AWS::AccountId}:service/*/*-drill-*"
            }
            Resource::DrillAutoScalingGroup => {
                "arn:${AWS::Partition}:autoscaling:*:${AWS::AccountId}:autoScalingGroup:*:autoScalingGroupName/*-drill-*"
            }
            Resource::RdsSubnetGroup => "arn:${AWS::Partition}:rds:*:${AWS::AccountId}:subgrp:*",
            Resource::Ec2LaunchResources => "arn:${AWS::Partition}:ec2:*:*:*",
            Resource::InstanceProfileRole => "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*",
        }
    }

    /// The ARN form the template expects (for the docs).
    pub fn arn_pattern(self) -> &'static str {
        match self {
            Resource::Any => "`*` (the action has no resource-level permissions)",
            Resource::EcsCluster => "`arn:aws:ecs:REGION:ACCOUNT:cluster/CLUSTER`",
            Resource::EcsService => "`arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/SERVICE`",
            Resource::AutoScalingGroup => {
                "`arn:aws:autoscaling:REGION:ACCOUNT:autoScalingGroup:*:autoScalingGroupName/GROUP`"
            }
            Resource::RdsInstance | Resource::RdsReplica => "`arn:aws:rds:REGION:ACCOUNT:db:ID`",
            Resource::RdsFenceParameterGroup => "`arn:aws:rds:REGION:ACCOUNT:pg:NAME` (both regions)",
            Resource::RdsFinalSnapshot => {
                "`arn:aws:rds:*:ACCOUNT:snapshot:*-pilotlight-final-*` (fixed: the names Pilotlight gives)"
            }
            Resource::AuroraCluster => "`arn:aws:rds:REGION:ACCOUNT:cluster:ID`",
            Resource::AuroraGlobalCluster => "`arn:aws:rds::ACCOUNT:global-cluster:ID`",
            Resource::DynamoDbTable => "`arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE`",
            Resource::S3Bucket => "`arn:aws:s3:::BUCKET`",
            Resource::KmsKey => "`arn:aws:kms:REGION:ACCOUNT:key/mrk-…`",
            Resource::HostedZone => "the zone id; the template builds `arn:aws:route53:::hostedzone/ID`",
            Resource::HealthCheck | Resource::SteeredHealthCheck => {
                "`arn:aws:route53:::healthcheck/ID`"
            }
            Resource::Route53Change => "`arn:aws:route53:::change/*`",
            Resource::NotificationTopic => {
                "`arn:aws:sns:REGION:ACCOUNT:TOPIC` (`notifications.sns_topic_arn`)"
            }
            Resource::HaStoreTable => {
                "`arn:aws:dynamodb:REGION:ACCOUNT:table/pilotlight-ENV-journal` and `…-lease` (outputs of `pilotlight.yaml`)"
            }
            Resource::DrillCanaryObject => {
                "`arn:aws:s3:::*/pilotlight-drill/*` (fixed: the keys drill canaries use)"
            }
            Resource::DrillDbSnapshot => {
                "`arn:aws:rds:*:ACCOUNT:snapshot:*-drill-*` (fixed: the names isolated drills give)"
            }
            Resource::DrillDbInstance => {
                "`arn:aws:rds:*:ACCOUNT:db:*-drill-*` (fixed: the names isolated drills give)"
            }
            Resource::DrillEcsService => {
                "`arn:aws:ecs:*:ACCOUNT:service/*/*-drill-*` (fixed: the names isolated drills give)"
            }
            Resource::DrillAutoScalingGroup => {
                "`arn:aws:autoscaling:*:ACCOUNT:autoScalingGroup:*:autoScalingGroupName/*-drill-*` (fixed: the names isolated drills give)"
            }
            Resource::RdsSubnetGroup => {
                "`arn:aws:rds:*:ACCOUNT:subgrp:*` (fixed: the replica's subnet group, used by a restore)"
            }
            Resource::Ec2LaunchResources => {
                "`arn:aws:ec2:*:*:*` (fixed: what a launch from a launch template uses; `ec2:CreateTags` only for `ec2:CreateAction` = `RunInstances`)"
            }
            Resource::InstanceProfileRole => {
                "`arn:aws:iam::ACCOUNT:role/*` (fixed; only for `iam:PassedToService` = `ec2.amazonaws.com`)"
            }
        }
    }
}

/// Something that needs AWS permissions: `pilotlight check`, one runbook step kind, or a part of
/// the control service (health probes, notifications, the HA store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    /// Name, as the IAM template's `Metadata.Pilotlight.Capability` spells it.
    pub name: &'static str,
    /// What it does, for the docs.
    pub summary: &'static str,
    /// The runbook step kinds (`StepKind::name`) that need it (none for `probe` and `notify`).
    pub step_kinds: &'static [&'static str],
}

/// Every capability, in the order the docs list them.
pub const CAPABILITIES: &[Capability] = &[
    Capability {
        name: "check",
        summary: "`pilotlight check` and the `readiness_gate` step: read-only facts of every resource in both regions",
        step_kinds: &["readiness_gate"],
    },
    Capability {
        name: "replication_lag_gate",
        summary: "replication lag of RDS replicas and Aurora global databases",
        step_kinds: &["replication_lag_gate"],
    },
    Capability {
        name: "scale_ecs",
        summary: "set ECS services' desired count",
        step_kinds: &["scale_ecs"],
    },
    Capability {
        name: "scale_autoscaling",
        summary: "set Auto Scaling groups' desired capacity (and min/max when needed)",
        step_kinds: &["scale_autoscaling"],
    },
    Capability {
        name: "promote_rds_replica",
        summary: "promote an RDS cross-region read replica",
        step_kinds: &["promote_rds_replica"],
    },
    Capability {
        name: "fence_database",
        summary: "make a database instance not writable: apply the read-only parameter group, or stop it",
        step_kinds: &["fence_database"],
    },
    Capability {
        name: "retire_database",
        summary: "delete a fenced, superseded database instance, keeping a final snapshot",
        step_kinds: &["retire_database"],
    },
    Capability {
        name: "reprotect_database",
        summary: "create a cross-region read replica of the serving database in the other region",
        step_kinds: &["reprotect_database"],
    },
    Capability {
        name: "aurora_failover",
        summary: "Aurora global database unplanned failover",
        step_kinds: &["aurora_failover"],
    },
    Capability {
        name: "aurora_switchover",
        summary: "Aurora global database planned switchover",
        step_kinds: &["aurora_switchover"],
    },
    Capability {
        name: "shift_traffic",
        summary: "move DNS traffic: steer the primary health check (failover records) or change weights (weighted records)",
        step_kinds: &["shift_traffic"],
    },
    Capability {
        name: "wait_until",
        summary: "wait until ECS services and Auto Scaling groups reach a share of their capacity",
        step_kinds: &["wait_until"],
    },
    Capability {
        name: "probe",
        summary: "the health probes of `pilotlight serve` and `pilotlight observer`: Route 53 health-check status, CloudWatch alarm state",
        step_kinds: &[],
    },
    Capability {
        name: "notify",
        summary: "notifications (declarations, run start, step failures, run end) published to the SNS topic of `[notifications]`",
        step_kinds: &[],
    },
    Capability {
        name: "ha_store",
        summary: "the HA store of several `pilotlight serve` instances: the journal and the lease in DynamoDB (`pilotlight_store::DynamoJournal`, `DynamoLease`)",
        step_kinds: &[],
    },
    Capability {
        name: "drill",
        summary: "`pilotlight drill`: RPO canaries (a DynamoDB item written in the primary and read in DR; an S3 object under `pilotlight-drill/` written to the primary bucket and read from the DR bucket)",
        step_kinds: &[],
    },
    Capability {
        name: "isolated_drill",
        summary: "`pilotlight drill --mode isolated` (`pilotlight_aws::copies`): copies in DR named `*-drill-*` (a snapshot of each RDS replica and an instance restored from it; each ECS service and Auto Scaling group, without load balancers or target groups), verified, removed, and looked for in the region's lists",
        step_kinds: &[],
    },
];

/// Step kinds the executor carries out itself, without calling AWS.
pub const EXECUTOR_STEP_KINDS: &[&str] = &["manual_approval", "command_hook", "notify"];

/// One AWS API call a capability makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    /// The capability that makes the call ([`Capability::name`]).
    pub capability: &'static str,
    /// Service name as passed to [`crate::retry::Caller`] (`ecs`, `route53`, ...): the IAM
    /// prefix, which is also the SigV4 signing name except for CloudWatch (signed as
    /// `monitoring`).
    pub service: &'static str,
    /// API operation, as passed to [`crate::retry::Caller`] (`DescribeServices`, ...).
    pub operation: &'static str,
    /// What the grant is scoped to.
    pub resources: &'static [Resource],
}

impl Permission {
    /// The IAM action the call needs (`s3:ListBucket` for `HeadBucket`, ...); `None` for a call
    /// AWS authorizes by its parts ([`AUTHORIZED_BY_PARTS`]).
    pub fn iam_action(&self) -> Option<String> {
        (!AUTHORIZED_BY_PARTS.contains(&(self.service, self.operation)))
            .then(|| iam_action(self.service, self.operation))
    }

    /// Whether the operation only reads.
    pub fn is_read_only(&self) -> bool {
        ["Describe", "Get", "List", "Head"]
            .iter()
            .any(|p| self.operation.starts_with(p))
    }
}

const fn p(
    capability: &'static str,
    service: &'static str,
    operation: &'static str,
    resources: &'static [Resource],
) -> Permission {
    Permission {
        capability,
        service,
        operation,
        resources,
    }
}

/// Every AWS API call the adapters make, by capability.
#[rustfmt::skip] // one call per line: a table
pub const PERMISSIONS: &[Permission] = &[
    // ---- check (readiness.rs, route53.rs) -----------------------------------------------------
    p("check", "cloudwatch", "GetMetricStatistics", &[R::Any]),
    p("check", "dynamodb", "DescribeTable", &[R::DynamoDbTable]),
    p("check", "s3", "HeadBucket", &[R::S3Bucket]),
    p("check", "s3", "GetBucketVersioning", &[R::S3Bucket]),
    p("check", "s3", "GetBucketReplication", &[R::S3Bucket]),
    p("check", "kms", "DescribeKey", &[R::KmsKey]),
    p("check", "rds", "DescribeDBInstances", &[R::RdsInstance]),
    p("check", "rds", "DescribeDBClusters", &[R::AuroraCluster]),
    p("check", "rds", "DescribeGlobalClusters", &[R::AuroraGlobalCluster]),
    p("check", "ecs", "DescribeClusters", &[R::EcsCluster]),
    p("check", "ecs", "DescribeServices", &[R::EcsService]),
    p("check", "ecs", "DescribeTaskDefinition", &[R::Any]),
    p("check", "autoscaling", "DescribeAutoScalingGroups", &[R::Any]),
    p("check", "autoscaling", "DescribeLaunchConfigurations", &[R::Any]),
    p("check", "ec2", "DescribeLaunchTemplates", &[R::Any]),
    p("check", "route53", "GetHostedZone", &[R::HostedZone]),
    p("check", "route53", "ListResourceRecordSets", &[R::HostedZone]),
    p("check", "route53", "GetHealthCheck", &[R::HealthCheck]),
    p("check", "route53", "GetHealthCheckStatus", &[R::HealthCheck]),
    // ---- replication_lag_gate (the executor reads the RDS / Aurora facts) ---------------------
    p("replication_lag_gate", "rds", "DescribeDBInstances", &[R::RdsInstance]),
    p("replication_lag_gate", "rds", "DescribeDBClusters", &[R::AuroraCluster]),
    p("replication_lag_gate", "rds", "DescribeGlobalClusters", &[R::AuroraGlobalCluster]),
    p("replication_lag_gate", "cloudwatch", "GetMetricStatistics", &[R::Any]),
    // ---- scale_ecs ----------------------------------------------------------------------------
    p("scale_ecs", "ecs", "DescribeServices", &[R::EcsService]),
    p("scale_ecs", "ecs", "UpdateService", &[R::EcsService]),
    // ---- scale_autoscaling ----------------------------------------------------------------------
    p("scale_autoscaling", "autoscaling", "DescribeAutoScalingGroups", &[R::Any]),
    p("scale_autoscaling", "autoscaling", "UpdateAutoScalingGroup", &[R::AutoScalingGroup]),
    p("scale_autoscaling", "autoscaling", "SetDesiredCapacity", &[R::AutoScalingGroup]),
    // Releasing the scale-in protection of routers an operator decided not to wait for.
    p("scale_autoscaling", "autoscaling", "SetInstanceProtection", &[R::AutoScalingGroup]),
    // ---- promote_rds_replica ----------------------------------------------------------------------
    p("promote_rds_replica", "rds", "DescribeDBInstances", &[R::RdsReplica]),
    p("promote_rds_replica", "rds", "PromoteReadReplica", &[R::RdsReplica]),
    // ---- failback: fence_database, retire_database, reprotect_database (actions/lifecycle.rs)
    p("fence_database", "rds", "DescribeDBInstances", &[R::RdsInstance]),
    p("fence_database", "rds", "ModifyDBInstance", &[R::RdsInstance, R::RdsFenceParameterGroup]),
    p("fence_database", "rds", "StopDBInstance", &[R::RdsInstance]),
    p("retire_database", "rds", "DescribeDBInstances", &[R::RdsInstance]),
    p("retire_database", "rds", "DeleteDBInstance", &[R::RdsInstance]),
    p("reprotect_database", "rds", "DescribeDBInstances", &[R::RdsInstance]),
    p("reprotect_database", "rds", "CreateDBInstanceReadReplica", &[R::RdsInstance]),
    // ---- aurora_failover / aurora_switchover -------------------------------------------------
    p("aurora_failover", "rds", "DescribeGlobalClusters", &[R::AuroraGlobalCluster]),
    p("aurora_failover", "rds", "DescribeDBClusters", &[R::AuroraCluster]),
    p("aurora_failover", "rds", "FailoverGlobalCluster", &[R::AuroraGlobalCluster, R::AuroraCluster]),
    p("aurora_switchover", "rds", "DescribeGlobalClusters", &[R::AuroraGlobalCluster]),
    p("aurora_switchover", "rds", "DescribeDBClusters", &[R::AuroraCluster]),
    p("aurora_switchover", "rds", "SwitchoverGlobalCluster", &[R::AuroraGlobalCluster, R::AuroraCluster]),
    // ---- shift_traffic ------------------------------------------------------------------------
    p("shift_traffic", "route53", "ListResourceRecordSets", &[R::HostedZone]),
    p("shift_traffic", "route53", "GetHealthCheck", &[R::SteeredHealthCheck]),
    p("shift_traffic", "route53", "UpdateHealthCheck", &[R::SteeredHealthCheck]),
    p("shift_traffic", "route53", "ChangeResourceRecordSets", &[R::HostedZone]),
    p("shift_traffic", "route53", "GetChange", &[R::Route53Change]),
    // The health gate of a gradual shift: the health of the record set traffic moves to.
    p("shift_traffic", "route53", "GetHealthCheckStatus", &[R::HealthCheck]),
    // ---- wait_until ---------------------------------------------------------------------------
    p("wait_until", "ecs", "DescribeServices", &[R::EcsService]),
    p("wait_until", "autoscaling", "DescribeAutoScalingGroups", &[R::Any]),
    // ---- probe (health.rs) ----------------------------------------------------------------------
    p("probe", "route53", "GetHealthCheckStatus", &[R::HealthCheck]),
    // Composite alarms are described only to a grant on `*` (CloudWatch API reference).
    p("probe", "cloudwatch", "DescribeAlarms", &[R::Any]),
    // ---- notify (notify.rs) ---------------------------------------------------------------------
    p("notify", "sns", "Publish", &[R::NotificationTopic]),
    // ---- ha_store (crates/store/src/dynamodb.rs, lease.rs) ---------------------------------------
    p("ha_store", "dynamodb", "GetItem", &[R::HaStoreTable]),
    p("ha_store", "dynamodb", "Query", &[R::HaStoreTable]),
    p("ha_store", "dynamodb", "BatchGetItem", &[R::HaStoreTable]),
    p("ha_store", "dynamodb", "PutItem", &[R::HaStoreTable]),
    p("ha_store", "dynamodb", "UpdateItem", &[R::HaStoreTable]),
    // Authorized as the actions inside the transaction (AUTHORIZED_BY_PARTS, DEPENDENT).
    p("ha_store", "dynamodb", "TransactWriteItems", &[R::HaStoreTable]),
    // ---- drill (canary.rs) ----------------------------------------------------------------------
    p("drill", "dynamodb", "DescribeTable", &[R::DynamoDbTable]),
    p("drill", "dynamodb", "PutItem", &[R::DynamoDbTable]),
    p("drill", "dynamodb", "GetItem", &[R::DynamoDbTable]),
    p("drill", "s3", "PutObject", &[R::DrillCanaryObject]),
    p("drill", "s3", "GetObject", &[R::DrillCanaryObject]),
    // s3:ListBucket: a missing canary answers 404 (not 403), and the DR bucket must exist.
    p("drill", "s3", "HeadBucket", &[R::S3Bucket]),
    // ---- isolated_drill (copies.rs) ---------------------------------------------------------------
    // The leftover check lists every instance, manual snapshot, service and group of the region.
    p("isolated_drill", "rds", "DescribeDBInstances", &[R::Any]),
    p("isolated_drill", "rds", "DescribeDBSnapshots", &[R::Any]),
    p("isolated_drill", "rds", "CreateDBSnapshot", &[R::RdsReplica, R::DrillDbSnapshot]),
    p("isolated_drill", "rds", "DeleteDBSnapshot", &[R::DrillDbSnapshot]),
    p("isolated_drill", "rds", "RestoreDBInstanceFromDBSnapshot", &[R::DrillDbInstance, R::DrillDbSnapshot, R::RdsSubnetGroup]),
    p("isolated_drill", "rds", "DeleteDBInstance", &[R::DrillDbInstance]),
    p("isolated_drill", "ecs", "ListServices", &[R::Any]),
    p("isolated_drill", "ecs", "DescribeServices", &[R::EcsService, R::DrillEcsService]),
    p("isolated_drill", "ecs", "CreateService", &[R::DrillEcsService]),
    p("isolated_drill", "ecs", "UpdateService", &[R::DrillEcsService]),
    p("isolated_drill", "ecs", "DeleteService", &[R::DrillEcsService]),
    p("isolated_drill", "autoscaling", "DescribeAutoScalingGroups", &[R::Any]),
    p("isolated_drill", "autoscaling", "CreateAutoScalingGroup", &[R::DrillAutoScalingGroup]),
    p("isolated_drill", "autoscaling", "DeleteAutoScalingGroup", &[R::DrillAutoScalingGroup]),
];

/// Calls that have no IAM action of their own: AWS authorizes each part of the request instead
/// (a `TransactWriteItems` as the `PutItem`, `UpdateItem` and `ConditionCheckItem` it contains).
/// Their parts are in [`DEPENDENT`].
pub const AUTHORIZED_BY_PARTS: &[(&str, &str)] = &[("dynamodb", "TransactWriteItems")];

/// An IAM action AWS authorizes in addition to a call's own, given the arguments Pilotlight sends
/// (the "dependent actions" of the Service Authorization Reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dependent {
    /// Service signing name of the call.
    pub service: &'static str,
    /// The call's operation.
    pub operation: &'static str,
    /// The additional IAM action (`service:Action`).
    pub action: &'static str,
    /// What the grant is scoped to.
    pub resources: &'static [Resource],
    /// Why AWS asks for it.
    pub why: &'static str,
    /// The capabilities whose calls send the arguments that need it; empty: every capability
    /// that makes the call (an isolated drill deletes its copies without the final snapshot a
    /// retired database keeps).
    pub capabilities: &'static [&'static str],
}

/// Every dependent action of the calls in [`PERMISSIONS`]; granted to the capabilities that make
/// the call with the arguments that need it ([`Dependent::capabilities`]).
pub const DEPENDENT: &[Dependent] = &[
    Dependent {
        service: "rds",
        operation: "DeleteDBInstance",
        action: "rds:CreateDBSnapshot",
        resources: &[R::RdsInstance, R::RdsFinalSnapshot],
        why: "the final snapshot (`FinalDBSnapshotIdentifier`)",
        capabilities: &["retire_database"],
    },
    Dependent {
        service: "rds",
        operation: "DeleteDBInstance",
        action: "rds:AddTagsToResource",
        resources: &[R::RdsFinalSnapshot],
        why: "copying the instance's tags to the final snapshot (when `CopyTagsToSnapshot` is on)",
        capabilities: &["retire_database"],
    },
    Dependent {
        service: "dynamodb",
        operation: "TransactWriteItems",
        action: "dynamodb:PutItem",
        resources: &[R::HaStoreTable],
        why: "the `Put`s of a journal transaction (events, run headers, indexes)",
        capabilities: &[],
    },
    Dependent {
        service: "dynamodb",
        operation: "TransactWriteItems",
        action: "dynamodb:UpdateItem",
        resources: &[R::HaStoreTable],
        why: "the `Update`s of a journal transaction (run header, counter, active-run pointer)",
        capabilities: &[],
    },
    Dependent {
        service: "dynamodb",
        operation: "TransactWriteItems",
        action: "dynamodb:ConditionCheckItem",
        resources: &[R::HaStoreTable],
        why: "the fencing check of a journal transaction (the writer's lease epoch)",
        capabilities: &[],
    },
    Dependent {
        service: "rds",
        operation: "CreateDBSnapshot",
        action: "rds:AddTagsToResource",
        resources: &[R::DrillDbSnapshot],
        why: "copying the replica's tags to the drill's snapshot (when `CopyTagsToSnapshot` is on)",
        capabilities: &["isolated_drill"],
    },
    Dependent {
        service: "rds",
        operation: "RestoreDBInstanceFromDBSnapshot",
        action: "rds:AddTagsToResource",
        resources: &[R::DrillDbInstance],
        why: "the snapshot's tags on the restored drill instance",
        capabilities: &["isolated_drill"],
    },
    Dependent {
        service: "autoscaling",
        operation: "CreateAutoScalingGroup",
        action: "ec2:RunInstances",
        resources: &[R::Ec2LaunchResources],
        why: "Auto Scaling checks that the caller may launch from the group's launch template",
        capabilities: &["isolated_drill"],
    },
    Dependent {
        service: "autoscaling",
        operation: "CreateAutoScalingGroup",
        action: "ec2:CreateTags",
        resources: &[R::Ec2LaunchResources],
        why: "the tag specifications of the launch template (checked with `ec2:RunInstances`)",
        capabilities: &["isolated_drill"],
    },
    Dependent {
        service: "autoscaling",
        operation: "CreateAutoScalingGroup",
        action: "iam:PassRole",
        resources: &[R::InstanceProfileRole],
        why: "the instance profile of the launch template or configuration",
        capabilities: &["isolated_drill"],
    },
];

/// The capability named `name`.
pub fn capability(name: &str) -> Option<&'static Capability> {
    CAPABILITIES.iter().find(|c| c.name == name)
}

/// The capability that runbook steps of `kind` (`StepKind::name`) need; `None` for step kinds
/// the executor carries out itself (and for unknown names).
pub fn capability_of_step(kind: &str) -> Option<&'static Capability> {
    CAPABILITIES.iter().find(|c| c.step_kinds.contains(&kind))
}

/// The calls `capability` makes.
pub fn of(capability: &str) -> impl Iterator<Item = &'static Permission> + '_ {
    PERMISSIONS
        .iter()
        .filter(move |p| p.capability == capability)
}

/// The dependent actions of the calls `capability` makes (with the arguments it sends them).
pub fn dependents_of(capability: &str) -> impl Iterator<Item = &'static Dependent> + '_ {
    DEPENDENT.iter().filter(move |d| {
        (d.capabilities.is_empty() || d.capabilities.contains(&capability))
            && of(capability).any(|p| p.service == d.service && p.operation == d.operation)
    })
}

/// Everything `capability` must be granted: IAM action → the resources it is scoped to (its
/// calls' actions and their dependent actions).
pub fn grants(capability: &str) -> BTreeMap<String, BTreeSet<Resource>> {
    let mut out: BTreeMap<String, BTreeSet<Resource>> = BTreeMap::new();
    for p in of(capability) {
        if let Some(action) = p.iam_action() {
            out.entry(action)
                .or_default()
                .extend(p.resources.iter().copied());
        }
    }
    for d in dependents_of(capability) {
        out.entry(d.action.to_string())
            .or_default()
            .extend(d.resources.iter().copied());
    }
    out
}

/// The IAM actions `capability` needs.
pub fn actions(capability: &str) -> BTreeSet<String> {
    grants(capability).into_keys().collect()
}

/// The (service, operation) pairs of every call in the table.
pub fn operations() -> BTreeSet<(&'static str, &'static str)> {
    PERMISSIONS
        .iter()
        .map(|p| (p.service, p.operation))
        .collect()
}

/// The permission tables of `docs/deploying.md`: one row per capability and IAM action with its
/// resources and the API calls that need it, then the ARN form of every resource parameter.
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str("| capability | IAM action | resources (template parameter) | needed by |\n");
    out.push_str("| --- | --- | --- | --- |\n");
    for cap in CAPABILITIES {
        for (action, resources) in grants(cap.name) {
            let mut by: Vec<String> = of(cap.name)
                .filter(|p| p.iam_action().as_deref() == Some(action.as_str()))
                .map(|p| format!("`{}`", p.operation))
                .collect();
            by.extend(
                dependents_of(cap.name)
                    .filter(|d| d.action == action)
                    .map(|d| format!("`{}`: {}", d.operation, d.why)),
            );
            let resources: Vec<String> = resources
                .iter()
                .map(|r| format!("`{}`", r.template_reference()))
                .collect();
            out.push_str(&format!(
                "| `{}` | `{action}` | {} | {} |\n",
                cap.name,
                resources.join(", "),
                by.join("; ")
            ));
        }
    }
    out.push('\n');
    out.push_str("| template parameter | what to list |\n");
    out.push_str("| --- | --- |\n");
    for r in Resource::ALL {
        out.push_str(&format!(
            "| `{}` | {} |\n",
            r.template_reference(),
            r.arn_pattern()
        ));
    }
    out
}
