//! KMS: a multi-region key with an alias in the primary region, replicated to DR. A re-run finds
//! the key through its alias.

use super::{item, Ctx, Ledger};
use crate::error::SandboxError;
use crate::reference::Site;
use aws_sdk_kms::types::KeyMetadata;
use aws_sdk_kms::Client;

/// Ensure the key, its alias and its DR replica exist; returns the multi-region key id (`mrk-…`).
pub(crate) async fn ensure(ctx: &Ctx<'_>, ledger: &mut Ledger) -> Result<String, SandboxError> {
    let w = ctx.world;
    let primary_region = w.region(Site::Primary);
    let dr_region = w.region(Site::Dr);
    let primary = ctx.factory.kms(primary_region).await;
    let dr = ctx.factory.kms(dr_region).await;

    let label = item("kms key", &w.key_alias, primary_region);
    let found = describe(ctx, &primary, &w.key_alias, &label, primary_region).await?;
    let existed = found.is_some();
    let key_id = match found {
        Some(meta) if meta.multi_region() == Some(true) => meta.key_id,
        Some(meta) => {
            return Err(SandboxError::Conflict {
                resource: label,
                region: primary_region.to_string(),
                detail: format!(
                    "its alias points at key {}, which is not a multi-region key",
                    meta.key_id
                ),
            })
        }
        None => {
            let create = ctx.call("kms", "CreateKey", &label, primary_region);
            let out = create
                .send(|| {
                    primary
                        .create_key()
                        .multi_region(true)
                        .description(&w.key_description)
                        .send()
                })
                .await?;
            let key_id = out
                .key_metadata
                .map(|m| m.key_id)
                .ok_or_else(|| create.missing("KeyMetadata.KeyId"))?;
            // A racing run may have taken the alias: then the key found through it wins next time.
            ctx.call("kms", "CreateAlias", &label, primary_region)
                .create(|| {
                    primary
                        .create_alias()
                        .alias_name(&w.key_alias)
                        .target_key_id(&key_id)
                        .send()
                })
                .await?;
            key_id
        }
    };
    ledger.record(format!("{label} ({key_id})"), existed);

    let label = item("kms replica key", &key_id, dr_region);
    let mut existed = describe(ctx, &dr, &key_id, &label, dr_region)
        .await?
        .is_some();
    if !existed {
        existed = ctx
            .call("kms", "ReplicateKey", &label, primary_region)
            .create(|| {
                primary
                    .replicate_key()
                    .key_id(&key_id)
                    .replica_region(dr_region)
                    .send()
            })
            .await?
            .is_none();
    }
    ledger.record(label, existed);
    Ok(key_id)
}

/// The key's metadata, or `None` if no key (or alias) of that id exists.
async fn describe(
    ctx: &Ctx<'_>,
    kms: &Client,
    key: &str,
    label: &str,
    region: &str,
) -> Result<Option<KeyMetadata>, SandboxError> {
    ctx.call("kms", "DescribeKey", label, region)
        .send(|| {
            let req = kms.describe_key().key_id(key);
            async move {
                match req.send().await {
                    Ok(out) => Ok(out.key_metadata),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_not_found_exception()) =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            }
        })
        .await
}
