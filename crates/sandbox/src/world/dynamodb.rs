//! DynamoDB: the meetings and sessions tables in the primary region, made global tables with a
//! replica in DR (UpdateTable `ReplicaUpdates` Create).
//!
//! Bare moto ignores `ReplicaUpdates`: no table appears in DR. The pilotlight testkit emulator
//! proxy emulates it. When the replica cannot be seen afterwards the run records a warning
//! instead of failing, so the rest of the world is still built.

use super::{item, Ctx, Ledger};
use crate::error::SandboxError;
use crate::reference::Site;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateReplicationGroupMemberAction, KeySchemaElement,
    KeyType, ReplicationGroupUpdate, ScalarAttributeType, StreamSpecification, StreamViewType,
    TableDescription,
};
use aws_sdk_dynamodb::Client;

/// Ensure every table exists in the primary region and has a replica in DR.
pub(crate) async fn ensure(ctx: &Ctx<'_>, ledger: &mut Ledger) -> Result<(), SandboxError> {
    let primary_region = ctx.world.region(Site::Primary);
    let dr_region = ctx.world.region(Site::Dr);
    let primary = ctx.factory.dynamodb(primary_region).await;
    let dr = ctx.factory.dynamodb(dr_region).await;
    for (_, table) in &ctx.world.tables {
        ensure_table(ctx, &primary, table, primary_region, ledger).await?;
        ensure_replica(ctx, &primary, &dr, table, primary_region, dr_region, ledger).await?;
    }
    Ok(())
}

async fn ensure_table(
    ctx: &Ctx<'_>,
    ddb: &Client,
    table: &str,
    region: &str,
    ledger: &mut Ledger,
) -> Result<(), SandboxError> {
    let label = item("dynamodb table", table, region);
    let mut existed = describe(ctx, ddb, table, &label, region).await?.is_some();
    if !existed {
        let create = ctx.call("dynamodb", "CreateTable", &label, region);
        let attr = AttributeDefinition::builder()
            .attribute_name("pk")
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| create.build_failed(e))?;
        let key = KeySchemaElement::builder()
            .attribute_name("pk")
            .key_type(KeyType::Hash)
            .build()
            .map_err(|e| create.build_failed(e))?;
        let stream = StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::NewAndOldImages)
            .build()
            .map_err(|e| create.build_failed(e))?;
        existed = create
            .create(|| {
                ddb.create_table()
                    .table_name(table)
                    .attribute_definitions(attr.clone())
                    .key_schema(key.clone())
                    .billing_mode(BillingMode::PayPerRequest)
                    .stream_specification(stream.clone())
                    .send()
            })
            .await?
            .is_none();
    }
    ledger.record(label, existed);
    Ok(())
}

async fn ensure_replica(
    ctx: &Ctx<'_>,
    primary: &Client,
    dr: &Client,
    table: &str,
    primary_region: &str,
    dr_region: &str,
    ledger: &mut Ledger,
) -> Result<(), SandboxError> {
    let label = item("dynamodb replica", table, dr_region);
    let primary_label = item("dynamodb table", table, primary_region);
    let listed = |d: &Option<TableDescription>| {
        d.as_ref().is_some_and(|d| {
            d.replicas()
                .iter()
                .any(|r| r.region_name() == Some(dr_region))
        })
    };
    let before = describe(ctx, primary, table, &primary_label, primary_region).await?;
    if listed(&before) {
        ledger.record(label, true);
        return Ok(());
    }
    let update = ctx.call("dynamodb", "UpdateTable", &label, primary_region);
    let action = CreateReplicationGroupMemberAction::builder()
        .region_name(dr_region)
        .build()
        .map_err(|e| update.build_failed(e))?;
    let replica_update = ReplicationGroupUpdate::builder().create(action).build();
    // "Already exists" here: the replica is being created or exists (a concurrent run).
    let existed = update
        .create(|| {
            primary
                .update_table()
                .table_name(table)
                .replica_updates(replica_update.clone())
                .send()
        })
        .await?
        .is_none();
    let after = describe(ctx, primary, table, &primary_label, primary_region).await?;
    let in_dr = describe(ctx, dr, table, &label, dr_region).await?.is_some();
    if listed(&after) {
        ledger.record(label, existed);
    } else {
        ledger.warn(format!(
            "{label}: UpdateTable ReplicaUpdates Create was accepted but DescribeTable in {primary_region} lists no \
             replica in {dr_region} (table present in {dr_region}: {}). The emulator does not emulate DynamoDB \
             global tables (bare moto ignores ReplicaUpdates); run the sandbox against the pilotlight testkit \
             emulator proxy to get replicas. Readiness checks of this table will report the replica missing.",
            if in_dr { "yes" } else { "no" }
        ));
    }
    Ok(())
}

/// The table's description, or `None` if it does not exist.
async fn describe(
    ctx: &Ctx<'_>,
    ddb: &Client,
    table: &str,
    label: &str,
    region: &str,
) -> Result<Option<TableDescription>, SandboxError> {
    ctx.call("dynamodb", "DescribeTable", label, region)
        .send(|| {
            let req = ddb.describe_table().table_name(table);
            async move {
                match req.send().await {
                    Ok(out) => Ok(out.table),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_resource_not_found_exception()) =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            }
        })
        .await
}
