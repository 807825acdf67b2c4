//! The model of a pilot-light environment: regions, objectives, and the resources that must be
//! ready in the DR region. Deserialized from the environment config (see `docs/configuration.md`);
//! semantic validation lives in `pilotlight-config`.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A whole environment configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// Name and tier of the environment.
    pub environment: Environment,
    /// The regions involved.
    pub regions: Regions,
    /// Recovery objectives.
    pub objectives: Objectives,
    /// How Pilotlight reaches AWS (endpoint override, profile, timeouts).
    #[serde(default)]
    pub aws: AwsSettings,
    /// Readiness-check settings.
    #[serde(default)]
    pub check: CheckSettings,
    /// ECS services of the deployment.
    #[serde(default)]
    pub ecs_services: Vec<EcsService>,
    /// Auto Scaling groups (media routers).
    #[serde(default)]
    pub autoscaling_groups: Vec<AutoScalingGroup>,
    /// RDS instances with a cross-region read replica in DR.
    #[serde(default)]
    pub rds_replicas: Vec<RdsReplica>,
    /// Aurora global databases.
    #[serde(default)]
    pub aurora_global_clusters: Vec<AuroraGlobalCluster>,
    /// DynamoDB global tables.
    #[serde(default)]
    pub dynamodb_tables: Vec<DynamoTable>,
    /// S3 bucket pairs with replication toward DR.
    #[serde(default)]
    pub s3_buckets: Vec<S3BucketPair>,
    /// KMS multi-region keys.
    #[serde(default)]
    pub kms_keys: Vec<KmsKey>,
    /// Route 53 zone with the records and health checks that steer traffic.
    #[serde(default)]
    pub route53: Option<Route53>,
    /// Health watching and the automatic trigger (`pilotlight serve`, `pilotlight observer`).
    #[serde(default)]
    pub health: Option<HealthConfig>,
    /// Where notifications go (runs, steps, declarations, decisions).
    #[serde(default)]
    pub notifications: Option<NotificationsConfig>,
    /// Who may use the HTTP API and the console (`pilotlight serve`); without it nobody can act.
    #[serde(default)]
    pub access: Option<crate::access::AccessConfig>,
}

/// Name and tier of the environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Short name, used in run ids, confirmations and reports (e.g. `confer-prod`).
    pub name: String,
    /// Tier: production, staging or development.
    pub tier: Tier,
}

/// How critical an environment is; production gets the safest defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Serves real users.
    Production,
    /// Pre-production; drills in `full` mode are meant for it.
    Staging,
    /// A developer's or the sandbox's environment.
    Development,
}

/// The regions of a pilot-light deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regions {
    /// The region that serves in normal operation.
    pub primary: String,
    /// The region kept at pilot-light size, ready to take over.
    pub dr: String,
    /// Regions from which remote observers watch the primary.
    #[serde(default)]
    pub observers: Vec<String>,
}

/// Recovery objectives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Objectives {
    /// Recovery time objective: how long a failover may take end to end.
    #[serde(with = "humantime_serde")]
    pub rto: Duration,
    /// Recovery point objective: the most data, in time, a failover may lose.
    #[serde(with = "humantime_serde")]
    pub rpo: Duration,
}

/// How Pilotlight reaches AWS. The same binary runs against AWS or an emulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSettings {
    /// Endpoint override for every service (an emulator such as moto). Unset: real AWS.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Named credentials profile; unset: the default credential chain.
    #[serde(default)]
    pub profile: Option<String>,
    /// Static credentials for an emulator: access key id. Never use for real AWS.
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// Static credentials for an emulator: secret access key.
    #[serde(default)]
    pub secret_access_key: Option<String>,
    /// TCP/TLS connect timeout.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Timeout of one attempt of an API call (covers the read).
    #[serde(default = "default_read_timeout", with = "humantime_serde")]
    pub read_timeout: Duration,
    /// Attempts per API call, including the first, for retryable errors.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Sustained API calls per second per service and region; stays under AWS's published limits.
    #[serde(default = "default_requests_per_second")]
    pub requests_per_second: f64,
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(3)
}
fn default_read_timeout() -> Duration {
    Duration::from_secs(20)
}
fn default_max_attempts() -> u32 {
    5
}
fn default_requests_per_second() -> f64 {
    8.0
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            endpoint: None,
            profile: None,
            access_key_id: None,
            secret_access_key: None,
            connect_timeout: default_connect_timeout(),
            read_timeout: default_read_timeout(),
            max_attempts: default_max_attempts(),
            requests_per_second: default_requests_per_second(),
        }
    }
}

/// Readiness-check settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSettings {
    /// How many resources are checked at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Metric data older than this is not trusted (replica lag, replication latency).
    #[serde(default = "default_metric_window", with = "humantime_serde")]
    pub metric_window: Duration,
}

fn default_concurrency() -> usize {
    8
}
fn default_metric_window() -> Duration {
    Duration::from_secs(300)
}

impl Default for CheckSettings {
    fn default() -> Self {
        CheckSettings {
            concurrency: default_concurrency(),
            metric_window: default_metric_window(),
        }
    }
}

/// An ECS service that runs at pilot-light count in DR and is scaled to its active count on failover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcsService {
    /// Logical name, unique in the file; runbooks refer to it.
    pub name: String,
    /// Cluster name in the DR region.
    pub cluster: String,
    /// Service name in the DR region.
    pub service: String,
    /// Cluster name in the primary region; defaults to `cluster`.
    #[serde(default)]
    pub primary_cluster: Option<String>,
    /// Service name in the primary region; defaults to `service`.
    #[serde(default)]
    pub primary_service: Option<String>,
    /// Desired count while DR is idle.
    pub pilot_light_count: u32,
    /// Desired count when DR serves.
    pub active_count: u32,
}

/// An Auto Scaling group of media routers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoScalingGroup {
    /// Logical name, unique in the file.
    pub name: String,
    /// Group name in the DR region.
    pub group: String,
    /// Group name in the primary region; defaults to `group`.
    #[serde(default)]
    pub primary_group: Option<String>,
    /// Desired capacity while DR is idle.
    pub pilot_light_capacity: u32,
    /// Desired capacity when DR serves.
    pub active_capacity: u32,
}

/// An RDS instance in the primary region with a cross-region read replica in DR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RdsReplica {
    /// Logical name, unique in the file.
    pub name: String,
    /// DB instance identifier in the primary region.
    pub primary_instance: String,
    /// DB instance identifier of the read replica in the DR region.
    pub replica_instance: String,
    /// DB parameter group (in both regions) that makes an instance read-only, used to fence a
    /// writer that cannot be stopped (a replication source). Unset: fencing stops the instance.
    #[serde(default)]
    pub fence_parameter_group: Option<String>,
}

/// An Aurora global database with a secondary cluster in DR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuroraGlobalCluster {
    /// Logical name, unique in the file.
    pub name: String,
    /// Global cluster identifier.
    pub global_cluster: String,
    /// DB cluster identifier in the primary region.
    pub primary_cluster: String,
    /// DB cluster identifier in the DR region.
    pub dr_cluster: String,
}

/// A DynamoDB global table (same name in both regions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamoTable {
    /// Logical name, unique in the file.
    pub name: String,
    /// Table name.
    pub table: String,
}

/// A pair of S3 buckets with replication from primary to DR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3BucketPair {
    /// Logical name, unique in the file.
    pub name: String,
    /// Bucket in the primary region.
    pub primary_bucket: String,
    /// Bucket in the DR region.
    pub dr_bucket: String,
    /// Whether S3 Replication Time Control must be enabled on the rule.
    #[serde(default)]
    pub rtc: bool,
}

/// A KMS multi-region key: primary in the primary region, replica in DR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KmsKey {
    /// Logical name, unique in the file.
    pub name: String,
    /// Multi-region key id (`mrk-…`); the same id names the primary and its replicas.
    pub key_id: String,
}

/// The Route 53 hosted zone and the records that steer traffic between regions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route53 {
    /// Hosted zone id (e.g. `Z0123456789ABC`).
    pub zone_id: String,
    /// The records, each a primary/DR pair.
    #[serde(default)]
    pub records: Vec<DnsRecord>,
}

/// A DNS name served from either region, as two record sets with set identifiers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsRecord {
    /// Logical name, unique in the file.
    pub name: String,
    /// Fully qualified record name (e.g. `api.confer.example.`).
    pub record_name: String,
    /// Record type (A, AAAA, CNAME).
    #[serde(default = "default_record_type")]
    pub record_type: String,
    /// How Route 53 chooses between the two record sets.
    pub routing: Routing,
    /// Set identifier of the record set that points at the primary region.
    pub primary_set_identifier: String,
    /// Set identifier of the record set that points at the DR region.
    pub dr_set_identifier: String,
    /// Whether both record sets must carry a health check (the data-plane failover path).
    #[serde(default = "default_true")]
    pub require_health_checks: bool,
}

fn default_record_type() -> String {
    "A".to_string()
}
fn default_true() -> bool {
    true
}

/// Route 53 routing policy of a record pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Routing {
    /// Failover routing: PRIMARY and SECONDARY record sets steered by health checks.
    Failover,
    /// Weighted routing: traffic shifts by changing weights.
    Weighted,
}

/// A reference to one resource of the environment, by kind and logical name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceRef {
    /// Resource kind.
    pub kind: ResourceKind,
    /// Logical name from the config.
    pub name: String,
}

/// The kinds of resources Pilotlight knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// DynamoDB global table.
    DynamodbTable,
    /// S3 bucket pair.
    S3Buckets,
    /// KMS multi-region key.
    KmsKey,
    /// RDS cross-region read replica.
    RdsReplica,
    /// Aurora global database.
    AuroraGlobal,
    /// ECS service.
    EcsService,
    /// Auto Scaling group.
    AutoscalingGroup,
    /// Route 53 record pair.
    Route53Record,
}

impl ResourceKind {
    /// The short label used in tables and reports.
    pub fn label(self) -> &'static str {
        match self {
            ResourceKind::DynamodbTable => "dynamodb",
            ResourceKind::S3Buckets => "s3",
            ResourceKind::KmsKey => "kms",
            ResourceKind::RdsReplica => "rds",
            ResourceKind::AuroraGlobal => "aurora",
            ResourceKind::EcsService => "ecs",
            ResourceKind::AutoscalingGroup => "autoscaling",
            ResourceKind::Route53Record => "route53",
        }
    }
}

impl std::fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl EcsService {
    /// Cluster name in the primary region.
    pub fn primary_cluster(&self) -> &str {
        self.primary_cluster.as_deref().unwrap_or(&self.cluster)
    }
    /// Service name in the primary region.
    pub fn primary_service(&self) -> &str {
        self.primary_service.as_deref().unwrap_or(&self.service)
    }
}

impl AutoScalingGroup {
    /// Group name in the primary region.
    pub fn primary_group(&self) -> &str {
        self.primary_group.as_deref().unwrap_or(&self.group)
    }
}

impl EnvironmentConfig {
    /// Every resource of the environment, in a stable order (kind, then file order).
    pub fn resources(&self) -> Vec<ResourceRef> {
        let mut out = Vec::new();
        let mut push = |kind, name: &str| {
            out.push(ResourceRef {
                kind,
                name: name.to_string(),
            })
        };
        self.dynamodb_tables
            .iter()
            .for_each(|r| push(ResourceKind::DynamodbTable, &r.name));
        self.s3_buckets
            .iter()
            .for_each(|r| push(ResourceKind::S3Buckets, &r.name));
        self.kms_keys
            .iter()
            .for_each(|r| push(ResourceKind::KmsKey, &r.name));
        self.rds_replicas
            .iter()
            .for_each(|r| push(ResourceKind::RdsReplica, &r.name));
        self.aurora_global_clusters
            .iter()
            .for_each(|r| push(ResourceKind::AuroraGlobal, &r.name));
        self.ecs_services
            .iter()
            .for_each(|r| push(ResourceKind::EcsService, &r.name));
        self.autoscaling_groups
            .iter()
            .for_each(|r| push(ResourceKind::AutoscalingGroup, &r.name));
        if let Some(r53) = &self.route53 {
            r53.records
                .iter()
                .for_each(|r| push(ResourceKind::Route53Record, &r.name));
        }
        out
    }
}

/// Health watching and the automatic trigger (`[health]`): probes, where they run (vantage
/// points), the thresholds (preset and per-probe settings), the quorum, and the trigger's policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// Defaults for probe settings not given: `standard` (30 s interval) or `fast` (10 s).
    #[serde(default)]
    pub preset: crate::health::Preset,
    /// Vantage points (N of M) that must agree the primary is down; default a strict majority.
    #[serde(default)]
    pub quorum: Option<u32>,
    /// When a vantage point says "down": `all` of its probes (default), `any`, or at least N.
    #[serde(default)]
    pub vantage_rule: crate::health::VantageRule,
    /// Reports older than this are unknown; default per probe: two intervals plus the timeout.
    #[serde(default, with = "humantime_serde")]
    pub stale_after: Option<Duration>,
    /// How often the control service re-evaluates DR readiness.
    #[serde(default = "default_readiness_interval", with = "humantime_serde")]
    pub readiness_interval: Duration,
    /// The automatic trigger: mode (`off`, `recommend`, `auto`), cool-down, readiness age.
    #[serde(default)]
    pub trigger: crate::health::TriggerPolicy,
    /// Declared maintenance windows: no automatic run while one is open.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintenance: Vec<MaintenanceWindowConfig>,
    /// The probes.
    #[serde(default)]
    pub probes: Vec<ProbeConfig>,
    /// Where the probes run.
    #[serde(default)]
    pub vantage_points: Vec<VantagePointConfig>,
}

fn default_readiness_interval() -> Duration {
    Duration::from_secs(300)
}

/// A maintenance window, in RFC 3339 UTC times (e.g. `2026-11-22T01:00:00Z`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindowConfig {
    /// Start, inclusive.
    pub start: String,
    /// End, exclusive.
    pub end: String,
    /// Why (shown when the trigger holds).
    #[serde(default)]
    pub reason: String,
}

/// What a probe checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// An HTTP(S) GET: status, latency, optional body match.
    Http,
    /// A TCP connect.
    Tcp,
    /// A Route 53 health check's status as its checkers report it.
    Route53HealthCheck,
    /// A CloudWatch alarm's state (`ALARM` is down).
    CloudwatchAlarm,
    /// A command (a synthetic check); exit code 0 is up.
    Command,
}

/// One probe (`[[health.probes]]`). Which target fields apply depends on `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// Unique probe id.
    pub id: String,
    /// What it checks.
    pub kind: ProbeKind,
    /// `http`: the URL.
    #[serde(default)]
    pub url: Option<String>,
    /// `http`: the expected status (default: any 2xx).
    #[serde(default)]
    pub expect_status: Option<u16>,
    /// `http`: a string the body must contain.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// `tcp`: `host:port`.
    #[serde(default)]
    pub address: Option<String>,
    /// `route53_health_check`: the health check id.
    #[serde(default)]
    pub health_check_id: Option<String>,
    /// `cloudwatch_alarm`: the alarm name.
    #[serde(default)]
    pub alarm_name: Option<String>,
    /// `cloudwatch_alarm`: its region (default: the primary region).
    #[serde(default)]
    pub region: Option<String>,
    /// `command`: program and arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Time between attempts (default from the preset).
    #[serde(default, with = "humantime_serde")]
    pub interval: Option<Duration>,
    /// Attempt timeout (default from the preset).
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Consecutive failures that make the probe down.
    #[serde(default)]
    pub failure_threshold: Option<u32>,
    /// Consecutive successes that make it up again.
    #[serde(default)]
    pub recovery_threshold: Option<u32>,
}

impl ProbeConfig {
    /// The evaluation settings of this probe.
    pub fn spec(&self) -> crate::health::ProbeSpec {
        let mut spec = crate::health::ProbeSpec::new(self.id.as_str());
        spec.interval = self.interval;
        spec.timeout = self.timeout;
        spec.failure_threshold = self.failure_threshold;
        spec.recovery_threshold = self.recovery_threshold;
        spec
    }
}

/// Where a vantage point's probes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunsIn {
    /// In the control service itself.
    Control,
    /// In a remote `pilotlight observer` that reports with a token.
    #[default]
    Observer,
}

/// A vantage point (`[[health.vantage_points]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VantagePointConfig {
    /// Unique id (e.g. `control`, `observer-eu-west-1`).
    pub id: String,
    /// Where its probes run.
    #[serde(default)]
    pub runs_in: RunsIn,
    /// Ids of the probes it runs (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<String>,
    /// Observers: SHA-256 (hex) of the bearer token the observer authenticates with.
    #[serde(default)]
    pub token_sha256: Option<String>,
}

impl HealthConfig {
    /// The evaluation settings (pure core types).
    pub fn settings(&self) -> crate::health::HealthSettings {
        let mut s = crate::health::HealthSettings::new(
            self.preset,
            self.probes.iter().map(ProbeConfig::spec).collect(),
            self.vantage_points
                .iter()
                .map(|v| {
                    let mut vp = crate::health::VantagePoint::new(v.id.as_str());
                    vp.probes = v.probes.iter().map(|p| p.as_str().into()).collect();
                    vp
                })
                .collect(),
        );
        s.quorum = self.quorum;
        s.vantage_rule = self.vantage_rule;
        s.stale_after = self.stale_after;
        s
    }
}

/// Where notifications go (`[notifications]`). A failing notifier never blocks a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsConfig {
    /// Webhook URLs: a JSON POST, Slack-compatible (`text`) with structured fields.
    #[serde(default)]
    pub webhooks: Vec<String>,
    /// An SNS topic ARN to publish to.
    #[serde(default)]
    pub sns_topic_arn: Option<String>,
    /// Time allowed per delivery.
    #[serde(default = "default_notify_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_notify_timeout() -> Duration {
    Duration::from_secs(5)
}
