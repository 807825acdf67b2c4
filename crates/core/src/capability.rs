//! Narrow traits for the external capabilities Pilotlight needs. AWS adapters implement them in
//! `pilotlight-aws`; in-memory fakes implement them in unit tests.

use crate::error::CapabilityError;
use crate::model::{
    AuroraGlobalCluster, AutoScalingGroup, DnsRecord, DynamoTable, EcsService, KmsKey, RdsReplica,
    Route53, S3BucketPair,
};
use crate::readiness::facts::{
    AsgFacts, AuroraFacts, DynamoFacts, EcsFacts, KmsFacts, RdsFacts, Route53Facts, S3Facts,
};

/// Gathers the live facts readiness is judged on, from both regions. Read-only: an implementation
/// must never change anything. "Not found" is a fact (an empty `Option`), not an error; errors
/// mean the facts could not be gathered.
#[async_trait::async_trait]
pub trait ReadinessFacts: Send + Sync {
    /// Facts about a DynamoDB global table.
    async fn dynamodb(&self, table: &DynamoTable) -> Result<DynamoFacts, CapabilityError>;
    /// Facts about an S3 bucket pair and its replication.
    async fn s3(&self, pair: &S3BucketPair) -> Result<S3Facts, CapabilityError>;
    /// Facts about a KMS multi-region key and its DR replica.
    async fn kms(&self, key: &KmsKey) -> Result<KmsFacts, CapabilityError>;
    /// Facts about an RDS primary and its DR read replica.
    async fn rds(&self, db: &RdsReplica) -> Result<RdsFacts, CapabilityError>;
    /// Replication lag, in seconds, of the RDS read replica `instance` in `region` (the latest
    /// recent datapoint); `None` when there is no recent datapoint.
    async fn rds_replica_lag(
        &self,
        region: &str,
        instance: &str,
    ) -> Result<Option<f64>, CapabilityError>;
    /// Facts about an Aurora global database.
    async fn aurora(&self, db: &AuroraGlobalCluster) -> Result<AuroraFacts, CapabilityError>;
    /// Facts about an ECS service in DR.
    async fn ecs(&self, service: &EcsService) -> Result<EcsFacts, CapabilityError>;
    /// Facts about an Auto Scaling group in DR.
    async fn autoscaling(&self, group: &AutoScalingGroup) -> Result<AsgFacts, CapabilityError>;
    /// Facts about a Route 53 record pair and its health checks.
    async fn route53(
        &self,
        zone: &Route53,
        record: &DnsRecord,
    ) -> Result<Route53Facts, CapabilityError>;
}

/// The live state of a plan node's target, read before and after acting.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Observation {
    /// The live value, for people (e.g. `desired 1, running 1`).
    pub live: String,
    /// Whether the target state is reached and verified.
    pub done: bool,
    /// Whether the action's effect is already under way (e.g. a promotion in progress), so the
    /// action must not be sent; wait instead.
    pub in_progress: bool,
}

/// Acts on the plan nodes that change AWS: scale, promote, fail over, shift traffic; and
/// observes their live state. Implementations must make `act` idempotent where AWS allows
/// (setting a desired count, UPSERTing records) and must never be called for a one-shot
/// action whose effect `observe` reports as done or in progress.
#[async_trait::async_trait]
pub trait Actuator: Send + Sync {
    /// Read the live state relevant to `action`.
    async fn observe(&self, action: &crate::plan::Action) -> Result<Observation, CapabilityError>;
    /// Perform `action` once and return what was sent.
    async fn act(&self, action: &crate::plan::Action) -> Result<String, CapabilityError>;
    /// Health of what a traffic shift sends traffic to (the soak gate of a gradual shift):
    /// `done` means healthy.
    async fn health(&self, action: &crate::plan::Action) -> Result<Observation, CapabilityError>;
    /// Overcome what keeps `action` from completing, after an operator decided so (release the
    /// scale-in protection of routers still hosting sessions). Returns what was sent.
    async fn force(&self, action: &crate::plan::Action) -> Result<String, CapabilityError>;
}

/// Whether this process may still send a change to AWS. The HA control service's leader holds
/// one per grant of its lease: the retry layer waits on it before *every attempt* of a change,
/// so a leader frozen between two attempts (a retry after backoff, a SIGSTOP) never sends the
/// next one once its grant has ended. Reads are not gated.
#[async_trait::async_trait]
pub trait SendGate: Send + Sync {
    /// Return once a change may be sent. A process that lost the right to send waits here until
    /// its work is stopped (the control service stops the drive of a deposed leader).
    async fn wait_open(&self);
}

/// A notification about a run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Notification {
    /// Environment.
    pub environment: String,
    /// Run id, when it concerns a run.
    pub run_id: Option<String>,
    /// What happened (`run_started`, `step_failed`, `run_finished`, `declaration`, `notify`).
    pub kind: String,
    /// The text.
    pub message: String,
}

/// Sends notifications. A failing notifier never blocks a run: callers log and go on.
#[async_trait::async_trait]
pub trait Notifier: Send + Sync {
    /// Send one notification.
    async fn notify(&self, n: &Notification) -> Result<(), CapabilityError>;
}
