//! The sandbox: builds, in a local AWS emulator, the reference pilot-light deployment of the
//! video-conferencing service `confer` in two regions, and the environment config that matches it
//! (`pilotlight sandbox up`). See `docs/sandbox.md` for the resource table.
//!
//! Architecture invariants:
//! - **Emulators only.** [`up`] refuses any endpoint whose host is not a loopback address
//!   (127.0.0.0/8, `localhost`, `::1`) before it makes a single call, so it can never create
//!   billable AWS resources.
//! - **Idempotent and non-destructive.** Every resource is looked up before it is created;
//!   "already exists" answers count as existing. Nothing is ever deleted, resized or reset: a
//!   re-run after a drill leaves the drill's state alone.
//! - **One retry layer.** Every AWS call goes through `pilotlight_aws::Caller` (rate limits,
//!   backoff, error classification), like every other AWS call in Pilotlight.
//! - **One source of names.** Every name and size comes from one reference description of the
//!   world, from which both the builders and the config are derived.
//! - What the emulator cannot do (cross-region replication, replication metrics) is stated, not
//!   hidden: missing DynamoDB replicas are reported as warnings, and replication metrics are
//!   published by [`publish_replication_metrics`].

mod config;
mod endpoint;
mod error;
mod metrics;
mod reference;
pub mod replicator;
mod world;

pub use config::render_config;
pub use endpoint::ensure_loopback;
pub use error::{AwsCallError, SandboxError};
pub use metrics::publish_replication_metrics;
pub use replicator::{ReplicationDelays, Replicator};

use pilotlight_aws::{Caller, ClientFactory};
use pilotlight_core::model::EnvironmentConfig;
use reference::{Reference, Site};
use std::time::Duration;
use world::{Ctx, Ledger};

/// Replica lag `up` publishes, so a readiness check right after is green.
pub const SANDBOX_REPLICA_LAG: Duration = Duration::from_secs(2);
/// DynamoDB replication latency `up` publishes, so a readiness check right after is green.
pub const SANDBOX_TABLE_LATENCY: Duration = Duration::from_millis(800);

/// What to build and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxOptions {
    /// Emulator endpoint, e.g. `http://127.0.0.1:5000`. Must be a loopback address.
    pub endpoint: String,
    /// Name prefix of every resource (`confer`): lowercase letters, digits and hyphens.
    pub name: String,
    /// Primary region (`us-east-1`).
    pub primary: String,
    /// DR region (`us-west-2`).
    pub dr: String,
}

/// The emulator endpoint `pilotlight demo` and `pilotlight sandbox emulator` listen on by default.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4566";

impl SandboxOptions {
    /// The reference options (`confer`, us-east-1 → us-west-2) for the emulator at `endpoint`.
    pub fn for_endpoint(endpoint: impl Into<String>) -> Self {
        SandboxOptions {
            endpoint: endpoint.into(),
            name: "confer".to_string(),
            primary: "us-east-1".to_string(),
            dr: "us-west-2".to_string(),
        }
    }
}

impl Default for SandboxOptions {
    /// The reference options for the emulator at [`DEFAULT_ENDPOINT`].
    fn default() -> Self {
        SandboxOptions::for_endpoint(DEFAULT_ENDPOINT)
    }
}

/// The outcome of [`up`].
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxReport {
    /// The environment config that matches the world (render it with [`render_config`]).
    pub config: EnvironmentConfig,
    /// Resources this run created, as `"<kind> <name> in <region>"` (Route 53 items are global).
    pub created: Vec<String>,
    /// Resources that already existed and were left as they were.
    pub existing: Vec<String>,
    /// Things requested but not visible afterwards because the emulator does not emulate them
    /// (against bare moto: the DynamoDB replicas in DR), each with what to do about it.
    pub warnings: Vec<String>,
}

/// Build the reference world in the emulator at `opts.endpoint` (creating only what is missing),
/// publish small replication metrics (lag 2 s, latency 800 ms), and return the matching config.
///
/// Refuses non-loopback endpoints before any call. Safe to re-run at any time.
#[tracing::instrument(skip_all, fields(endpoint = %opts.endpoint, name = %opts.name, primary = %opts.primary, dr = %opts.dr))]
pub async fn up(opts: &SandboxOptions) -> Result<SandboxReport, SandboxError> {
    ensure_loopback(&opts.endpoint)?;
    let world = Reference::new(opts)?;
    let factory = ClientFactory::new(config::aws_settings(&opts.endpoint));
    let caller = Caller::from_factory(&factory);
    let ctx = Ctx {
        factory: &factory,
        caller: &caller,
        world: &world,
    };
    let mut ledger = Ledger::default();

    for site in [Site::Primary, Site::Dr] {
        world::ecs::ensure(&ctx, site, &mut ledger).await?;
        world::autoscaling::ensure(&ctx, site, &mut ledger).await?;
    }
    world::rds::ensure(&ctx, &mut ledger).await?;
    world::dynamodb::ensure(&ctx, &mut ledger).await?;
    world::s3::ensure(&ctx, &mut ledger).await?;
    let key_id = world::kms::ensure(&ctx, &mut ledger).await?;
    let zone_id = world::route53::ensure(&ctx, &mut ledger).await?;

    let config = config::environment_config(&world, &opts.endpoint, &zone_id, &key_id);
    publish_replication_metrics(
        &factory,
        &config,
        SANDBOX_REPLICA_LAG,
        SANDBOX_TABLE_LATENCY,
    )
    .await?;
    tracing::info!(
        created = ledger.created.len(),
        existing = ledger.existing.len(),
        warnings = ledger.warnings.len(),
        "sandbox is up"
    );
    Ok(SandboxReport {
        config,
        created: ledger.created,
        existing: ledger.existing,
        warnings: ledger.warnings,
    })
}
