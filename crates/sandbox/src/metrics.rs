//! The emulated stand-in for replication metrics. moto has no RDS replica lag and no DynamoDB
//! replication latency, so the sandbox publishes them itself with PutMetricData, under the same
//! namespaces, names, dimensions, units and regions that AWS uses. Readiness checks then read them
//! exactly as they would in AWS.

use crate::endpoint::ensure_loopback;
use crate::error::{Call, SandboxError};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use pilotlight_aws::Caller;
use pilotlight_aws::ClientFactory;
use pilotlight_core::model::EnvironmentConfig;
use std::time::{Duration, SystemTime};

/// Publish one data point per replicated resource of `cfg`, timestamped now:
///
/// - `AWS/RDS` `ReplicaLag` (Seconds), dimension `DBInstanceIdentifier` = the replica, in the
///   DR region, for every RDS replica;
/// - `AWS/DynamoDB` `ReplicationLatency` (Milliseconds), dimensions `TableName` and
///   `ReceivingRegion` = the DR region, in the primary region, for every DynamoDB table.
///
/// Emulators only: refused (before any call) unless the factory's endpoint is a loopback
/// address, like [`up`](crate::up). Real AWS publishes these metrics itself.
#[tracing::instrument(skip_all, fields(
    environment = %cfg.environment.name,
    replica_lag_s = replica_lag.as_secs_f64(),
    table_latency_ms = table_latency.as_secs_f64() * 1000.0,
))]
pub async fn publish_replication_metrics(
    factory: &ClientFactory,
    cfg: &EnvironmentConfig,
    replica_lag: Duration,
    table_latency: Duration,
) -> Result<(), SandboxError> {
    match factory.settings().endpoint.as_deref() {
        Some(endpoint) => ensure_loopback(endpoint)?,
        None => {
            return Err(SandboxError::NonLoopbackEndpoint {
                endpoint: "(none: the default AWS endpoints)".to_string(),
            })
        }
    }
    let caller = Caller::from_factory(factory);
    let now = DateTime::from(SystemTime::now());
    let primary = cfg.regions.primary.as_str();
    let dr = cfg.regions.dr.as_str();

    if !cfg.rds_replicas.is_empty() {
        let replicas: Vec<&str> = cfg
            .rds_replicas
            .iter()
            .map(|r| r.replica_instance.as_str())
            .collect();
        let label = format!("cloudwatch AWS/RDS ReplicaLag of {}", replicas.join(", "));
        let data = replica_lag_data(&replicas, replica_lag.as_secs_f64(), now);
        put(factory, &caller, "AWS/RDS", data, &label, dr).await?;
        // After a failback's reprotect, the replica is the primary-region instance. Nothing
        // writes to the emulated database, so a replica created there is caught up: lag 0, which
        // the failback's zero-loss gate (`max_lag = "0s"`) needs.
        let primaries: Vec<&str> = cfg
            .rds_replicas
            .iter()
            .map(|r| r.primary_instance.as_str())
            .collect();
        let label = format!(
            "cloudwatch AWS/RDS ReplicaLag 0 of {} (replicas after a failback's reprotect)",
            primaries.join(", ")
        );
        let data = replica_lag_data(&primaries, 0.0, now);
        put(factory, &caller, "AWS/RDS", data, &label, primary).await?;
    }

    if !cfg.dynamodb_tables.is_empty() {
        let data: Vec<MetricDatum> = cfg
            .dynamodb_tables
            .iter()
            .map(|t| {
                MetricDatum::builder()
                    .metric_name("ReplicationLatency")
                    .dimensions(
                        Dimension::builder()
                            .name("TableName")
                            .value(&t.table)
                            .build(),
                    )
                    .dimensions(
                        Dimension::builder()
                            .name("ReceivingRegion")
                            .value(dr)
                            .build(),
                    )
                    .unit(StandardUnit::Milliseconds)
                    .value(table_latency.as_secs_f64() * 1000.0)
                    .timestamp(now)
                    .build()
            })
            .collect();
        let label = format!(
            "cloudwatch AWS/DynamoDB ReplicationLatency of {}",
            cfg.dynamodb_tables
                .iter()
                .map(|t| t.table.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        put(factory, &caller, "AWS/DynamoDB", data, &label, primary).await?;
    }
    Ok(())
}

/// `ReplicaLag` datapoints, one per DB instance, all with `seconds` at `now`.
fn replica_lag_data(instances: &[&str], seconds: f64, now: DateTime) -> Vec<MetricDatum> {
    instances
        .iter()
        .map(|id| {
            MetricDatum::builder()
                .metric_name("ReplicaLag")
                .dimensions(
                    Dimension::builder()
                        .name("DBInstanceIdentifier")
                        .value(*id)
                        .build(),
                )
                .unit(StandardUnit::Seconds)
                .value(seconds)
                .timestamp(now)
                .build()
        })
        .collect()
}

async fn put(
    factory: &ClientFactory,
    caller: &Caller,
    namespace: &str,
    data: Vec<MetricDatum>,
    label: &str,
    region: &str,
) -> Result<(), SandboxError> {
    let cw = factory.cloudwatch(region).await;
    let call = Call::new(caller, "cloudwatch", "PutMetricData", label, region);
    // PutMetricData takes at most 1000 data points per call.
    for chunk in data.chunks(1000) {
        call.send(|| {
            cw.put_metric_data()
                .namespace(namespace)
                .set_metric_data(Some(chunk.to_vec()))
                .send()
        })
        .await?;
    }
    tracing::info!(
        namespace,
        region,
        points = data.len(),
        "published emulated replication metrics"
    );
    Ok(())
}
