//! S3: the recordings bucket in each region, versioning on both, and replication from the
//! primary bucket to the DR bucket with Replication Time Control (15 minutes) and metrics.

use super::{item, Ctx, Ledger};
use crate::error::SandboxError;
use crate::reference::Site;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, Metrics, MetricsStatus,
    ReplicationConfiguration, ReplicationRule, ReplicationRuleFilter, ReplicationRuleStatus,
    ReplicationTime, ReplicationTimeStatus, ReplicationTimeValue, VersioningConfiguration,
};
use aws_sdk_s3::Client;

/// ID of the replication rule the sandbox writes.
const RULE_ID: &str = "pilotlight-sandbox-dr";

/// Ensure both buckets, their versioning and the replication configuration exist.
pub(crate) async fn ensure(ctx: &Ctx<'_>, ledger: &mut Ledger) -> Result<(), SandboxError> {
    let w = ctx.world;
    let primary_region = w.region(Site::Primary);
    let dr_region = w.region(Site::Dr);
    let primary = ctx.factory.s3(primary_region).await;
    let dr = ctx.factory.s3(dr_region).await;
    ensure_bucket(ctx, &primary, &w.bucket_primary, primary_region, ledger).await?;
    ensure_bucket(ctx, &dr, &w.bucket_dr, dr_region, ledger).await?;
    ensure_versioning(ctx, &primary, &w.bucket_primary, primary_region, ledger).await?;
    ensure_versioning(ctx, &dr, &w.bucket_dr, dr_region, ledger).await?;
    ensure_replication(ctx, &primary, primary_region, ledger).await
}

async fn ensure_bucket(
    ctx: &Ctx<'_>,
    s3: &Client,
    bucket: &str,
    region: &str,
    ledger: &mut Ledger,
) -> Result<(), SandboxError> {
    let label = item("s3 bucket", bucket, region);
    let mut existed = ctx
        .call("s3", "HeadBucket", &label, region)
        .send(|| {
            let req = s3.head_bucket().bucket(bucket);
            async move {
                match req.send().await {
                    Ok(_) => Ok(true),
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
                    Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
                        Ok(false)
                    }
                    Err(e) => Err(e),
                }
            }
        })
        .await?;
    if !existed {
        // us-east-1 is the default location; AWS rejects it as an explicit constraint.
        let location = (region != "us-east-1").then(|| {
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build()
        });
        existed = ctx
            .call("s3", "CreateBucket", &label, region)
            .create(|| {
                s3.create_bucket()
                    .bucket(bucket)
                    .set_create_bucket_configuration(location.clone())
                    .send()
            })
            .await?
            .is_none();
    }
    ledger.record(label, existed);
    Ok(())
}

async fn ensure_versioning(
    ctx: &Ctx<'_>,
    s3: &Client,
    bucket: &str,
    region: &str,
    ledger: &mut Ledger,
) -> Result<(), SandboxError> {
    let label = item("s3 versioning", bucket, region);
    let enabled = ctx
        .call("s3", "GetBucketVersioning", &label, region)
        .send(|| {
            let req = s3.get_bucket_versioning().bucket(bucket);
            async move {
                match req.send().await {
                    Ok(out) => Ok(out.status() == Some(&BucketVersioningStatus::Enabled)),
                    // moto (5.2.1) names the root element `GetBucketVersioningResponse` instead of
                    // `VersioningConfiguration` (HTTP 200, no error code), which the SDK refuses
                    // to parse. Read the status from the raw body then; an empty answer means
                    // "never configured".
                    Err(e) if e.raw_response().is_some_and(|r| r.status().is_success()) && e.code().is_none() => {
                        let body = e
                            .raw_response()
                            .and_then(|r| r.body().bytes())
                            .map(String::from_utf8_lossy)
                            .unwrap_or_default();
                        tracing::debug!(bucket, body = %body, "reading an unparseable 200 answer to GetBucketVersioning");
                        Ok(body.contains("<Status>Enabled</Status>"))
                    }
                    Err(e) => Err(e),
                }
            }
        })
        .await?;
    if !enabled {
        let config = VersioningConfiguration::builder()
            .status(BucketVersioningStatus::Enabled)
            .build();
        ctx.call("s3", "PutBucketVersioning", &label, region)
            .send(|| {
                s3.put_bucket_versioning()
                    .bucket(bucket)
                    .versioning_configuration(config.clone())
                    .send()
            })
            .await?;
    }
    ledger.record(label, enabled);
    Ok(())
}

async fn ensure_replication(
    ctx: &Ctx<'_>,
    s3: &Client,
    region: &str,
    ledger: &mut Ledger,
) -> Result<(), SandboxError> {
    let w = ctx.world;
    let label = item(
        "s3 replication",
        &format!("{} -> {}", w.bucket_primary, w.bucket_dr),
        region,
    );
    let dest_arn = format!("arn:aws:s3:::{}", w.bucket_dr);
    let existed = ctx
        .call("s3", "GetBucketReplication", &label, region)
        .send(|| {
            let req = s3.get_bucket_replication().bucket(&w.bucket_primary);
            let dest_arn = dest_arn.as_str();
            async move {
                match req.send().await {
                    Ok(out) => Ok(out.replication_configuration().is_some_and(|c| {
                        c.rules()
                            .iter()
                            .any(|r| r.destination().is_some_and(|d| d.bucket() == dest_arn))
                    })),
                    Err(e) if e.code() == Some("ReplicationConfigurationNotFoundError") => {
                        Ok(false)
                    }
                    Err(e) => Err(e),
                }
            }
        })
        .await?;
    if !existed {
        let put = ctx.call("s3", "PutBucketReplication", &label, region);
        let minutes = ReplicationTimeValue::builder()
            .minutes(w.rtc_minutes)
            .build();
        let destination = Destination::builder()
            .bucket(&dest_arn)
            .replication_time(
                ReplicationTime::builder()
                    .status(ReplicationTimeStatus::Enabled)
                    .time(minutes.clone())
                    .build()
                    .map_err(|e| put.build_failed(e))?,
            )
            .metrics(
                Metrics::builder()
                    .status(MetricsStatus::Enabled)
                    .event_threshold(minutes)
                    .build()
                    .map_err(|e| put.build_failed(e))?,
            )
            .build()
            .map_err(|e| put.build_failed(e))?;
        let rule = ReplicationRule::builder()
            .id(RULE_ID)
            .priority(1)
            .status(ReplicationRuleStatus::Enabled)
            .filter(ReplicationRuleFilter::builder().prefix("").build())
            .delete_marker_replication(
                DeleteMarkerReplication::builder()
                    .status(DeleteMarkerReplicationStatus::Disabled)
                    .build(),
            )
            .destination(destination)
            .build()
            .map_err(|e| put.build_failed(e))?;
        let config = ReplicationConfiguration::builder()
            .role(&w.replication_role)
            .rules(rule)
            .build()
            .map_err(|e| put.build_failed(e))?;
        put.send(|| {
            s3.put_bucket_replication()
                .bucket(&w.bucket_primary)
                .replication_configuration(config.clone())
                .send()
        })
        .await?;
    }
    ledger.record(label, existed);
    Ok(())
}
