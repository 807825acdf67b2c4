//! RDS: the primary PostgreSQL instance and its cross-region read replica in DR, created from the
//! primary's ARN.

use super::{item, Ctx, Ledger};
use crate::error::SandboxError;
use crate::reference::Site;
use aws_sdk_rds::types::DbInstance;
use aws_sdk_rds::Client;

/// Master user of the sandbox database. The sandbox only runs against a local emulator.
const MASTER_USER: &str = "confer";
/// Master password of the sandbox database: emulator only, never a real secret.
const MASTER_PASSWORD: &str = "sandbox-emulator-only";

/// Ensure the primary instance and the DR read replica exist.
pub(crate) async fn ensure(ctx: &Ctx<'_>, ledger: &mut Ledger) -> Result<(), SandboxError> {
    let w = ctx.world;
    let primary_region = w.region(Site::Primary);
    let dr_region = w.region(Site::Dr);
    let primary = ctx.factory.rds(primary_region).await;
    let dr = ctx.factory.rds(dr_region).await;

    for (client, region) in [(&primary, primary_region), (&dr, dr_region)] {
        ensure_fence_group(ctx, client, region, ledger).await?;
    }
    let label = item("rds instance", &w.db_primary, primary_region);
    let mut instance = describe(ctx, &primary, &w.db_primary, &label, primary_region).await?;
    let mut existed = instance.is_some();
    if !existed {
        let created = ctx
            .call("rds", "CreateDBInstance", &label, primary_region)
            .create(|| {
                primary
                    .create_db_instance()
                    .db_instance_identifier(&w.db_primary)
                    .engine(w.db_engine)
                    .db_instance_class(w.db_class)
                    .allocated_storage(w.db_storage_gb)
                    .master_username(MASTER_USER)
                    .master_user_password(MASTER_PASSWORD)
                    .backup_retention_period(7)
                    .send()
            })
            .await?;
        existed = created.is_none();
        instance = created.and_then(|out| out.db_instance);
        if instance.is_none() {
            instance = describe(ctx, &primary, &w.db_primary, &label, primary_region).await?;
        }
    }
    ledger.record(label.clone(), existed);
    let arn = instance.and_then(|i| i.db_instance_arn).ok_or_else(|| {
        ctx.call("rds", "DescribeDBInstances", &label, primary_region)
            .missing("DBInstanceArn")
    })?;

    let label = item("rds read replica", &w.db_replica, dr_region);
    let mut existed = describe(ctx, &dr, &w.db_replica, &label, dr_region)
        .await?
        .is_some();
    if !existed {
        existed = ctx
            .call("rds", "CreateDBInstanceReadReplica", &label, dr_region)
            .create(|| {
                dr.create_db_instance_read_replica()
                    .db_instance_identifier(&w.db_replica)
                    .source_db_instance_identifier(&arn)
                    .db_instance_class(w.db_class)
                    .send()
            })
            .await?
            .is_none();
    }
    ledger.record(label, existed);
    Ok(())
}

/// Ensure the read-only parameter group that fences a writer exists in `region`
/// (`default_transaction_read_only = 1`, applied immediately).
async fn ensure_fence_group(
    ctx: &Ctx<'_>,
    rds: &Client,
    region: &str,
    ledger: &mut Ledger,
) -> Result<(), SandboxError> {
    use aws_sdk_rds::types::{ApplyMethod, Parameter};
    let w = ctx.world;
    let name = w.db_fence_parameter_group.as_str();
    let label = item("rds parameter group", name, region);
    let existed = ctx
        .call("rds", "CreateDBParameterGroup", &label, region)
        .create(|| {
            rds.create_db_parameter_group()
                .db_parameter_group_name(name)
                .db_parameter_group_family(w.db_parameter_family)
                .description("Pilotlight fence: makes the instance read-only")
                .send()
        })
        .await?
        .is_none();
    ctx.call("rds", "ModifyDBParameterGroup", &label, region)
        .send(|| {
            rds.modify_db_parameter_group()
                .db_parameter_group_name(name)
                .parameters(
                    Parameter::builder()
                        .parameter_name("default_transaction_read_only")
                        .parameter_value("1")
                        .apply_method(ApplyMethod::Immediate)
                        .build(),
                )
                .send()
        })
        .await?;
    ledger.record(label, existed);
    Ok(())
}

/// The instance `id`, or `None` if it does not exist.
async fn describe(
    ctx: &Ctx<'_>,
    rds: &Client,
    id: &str,
    label: &str,
    region: &str,
) -> Result<Option<DbInstance>, SandboxError> {
    ctx.call("rds", "DescribeDBInstances", label, region)
        .send(|| {
            let req = rds.describe_db_instances().db_instance_identifier(id);
            async move {
                match req.send().await {
                    Ok(out) => Ok(out
                        .db_instances
                        .unwrap_or_default()
                        .into_iter()
                        .find(|i| i.db_instance_identifier() == Some(id))),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_db_instance_not_found_fault()) =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            }
        })
        .await
}
