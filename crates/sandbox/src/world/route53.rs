//! Route 53: the hosted zone, one HTTPS health check per region (found again by its deterministic
//! caller reference), and record pairs: failover (PRIMARY with the primary health check,
//! SECONDARY with the DR health check) or weighted (primary 100, DR 0, same health checks).

use super::{Ctx, Ledger};
use crate::error::SandboxError;
use crate::reference::{HealthCheckSpec, RecordSpec, Site};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, HealthCheckConfig, HealthCheckType, ResourceRecord,
    ResourceRecordSet, ResourceRecordSetFailover, RrType,
};
use aws_sdk_route53::Client;

/// Ensure the zone, health checks and records exist; returns the bare hosted zone id.
pub(crate) async fn ensure(ctx: &Ctx<'_>, ledger: &mut Ledger) -> Result<String, SandboxError> {
    // Route 53 is global; its calls are signed for the primary region.
    let region = ctx.world.region(Site::Primary);
    let r53 = ctx.factory.route53(region).await;
    let zone_id = ensure_zone(ctx, &r53, region, ledger).await?;
    let mut primary_check = String::new();
    let mut dr_check = String::new();
    for spec in &ctx.world.health_checks {
        let id = ensure_health_check(ctx, &r53, spec, region, ledger).await?;
        match spec.site {
            Site::Primary => primary_check = id,
            Site::Dr => dr_check = id,
        }
    }
    for record in &ctx.world.records {
        let checks = (primary_check.as_str(), dr_check.as_str());
        ensure_record(ctx, &r53, region, &zone_id, record, checks, ledger).await?;
    }
    Ok(zone_id)
}

/// `Z123` from `/hostedzone/Z123`.
fn bare_zone_id(id: &str) -> String {
    id.rsplit('/').next().unwrap_or(id).to_string()
}

/// DNS names compare case-insensitively and with or without the final dot.
fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

async fn find_zone(
    ctx: &Ctx<'_>,
    r53: &Client,
    zone: &str,
    label: &str,
    region: &str,
) -> Result<Option<String>, SandboxError> {
    let out = ctx
        .call("route53", "ListHostedZonesByName", label, region)
        .send(|| r53.list_hosted_zones_by_name().dns_name(zone).send())
        .await?;
    Ok(out
        .hosted_zones()
        .iter()
        .find(|z| same_name(z.name(), zone))
        .map(|z| bare_zone_id(z.id())))
}

async fn ensure_zone(
    ctx: &Ctx<'_>,
    r53: &Client,
    region: &str,
    ledger: &mut Ledger,
) -> Result<String, SandboxError> {
    let zone = ctx.world.zone.as_str();
    let label = format!("route53 hosted zone {zone}");
    if let Some(id) = find_zone(ctx, r53, zone, &label, region).await? {
        ledger.record(format!("{label} ({id})"), true);
        return Ok(id);
    }
    let create = ctx.call("route53", "CreateHostedZone", &label, region);
    let reference = ctx.world.zone_caller_reference.as_str();
    let created = create
        .create(|| {
            r53.create_hosted_zone()
                .name(zone)
                .caller_reference(reference)
                .send()
        })
        .await?;
    let existed = created.is_none();
    let id = match created {
        Some(out) => out.hosted_zone().map(|z| bare_zone_id(z.id())),
        None => find_zone(ctx, r53, zone, &label, region).await?,
    }
    .ok_or_else(|| create.missing("HostedZone.Id"))?;
    ledger.record(format!("{label} ({id})"), existed);
    Ok(id)
}

/// The id of the health check with `caller_reference`, if any.
async fn find_health_check(
    ctx: &Ctx<'_>,
    r53: &Client,
    caller_reference: &str,
    label: &str,
    region: &str,
) -> Result<Option<String>, SandboxError> {
    let list = ctx.call("route53", "ListHealthChecks", label, region);
    let mut marker: Option<String> = None;
    loop {
        let out = list
            .send(|| r53.list_health_checks().set_marker(marker.clone()).send())
            .await?;
        if let Some(hc) = out
            .health_checks()
            .iter()
            .find(|h| h.caller_reference() == caller_reference)
        {
            return Ok(Some(hc.id().to_string()));
        }
        match out.next_marker() {
            Some(next) if out.is_truncated() && !next.is_empty() => marker = Some(next.to_string()),
            _ => return Ok(None),
        }
    }
}

async fn ensure_health_check(
    ctx: &Ctx<'_>,
    r53: &Client,
    spec: &HealthCheckSpec,
    region: &str,
    ledger: &mut Ledger,
) -> Result<String, SandboxError> {
    let reference = spec.caller_reference.as_str();
    let label = format!(
        "route53 health check {reference} (https://{}:{}{})",
        spec.ip, spec.port, spec.path
    );
    if let Some(id) = find_health_check(ctx, r53, reference, &label, region).await? {
        ledger.record(label, true);
        return Ok(id);
    }
    let create = ctx.call("route53", "CreateHealthCheck", &label, region);
    let config = HealthCheckConfig::builder()
        .r#type(HealthCheckType::Https)
        .ip_address(spec.ip)
        .port(spec.port)
        .resource_path(spec.path)
        .request_interval(30)
        .failure_threshold(3)
        .build()
        .map_err(|e| create.build_failed(e))?;
    let created = create
        .create(|| {
            r53.create_health_check()
                .caller_reference(reference)
                .health_check_config(config.clone())
                .send()
        })
        .await?;
    let existed = created.is_none();
    let id = match created {
        Some(out) => out.health_check().map(|h| h.id().to_string()),
        None => find_health_check(ctx, r53, reference, &label, region).await?,
    }
    .ok_or_else(|| create.missing("HealthCheck.Id"))?;
    ledger.record(label, existed);
    Ok(id)
}

async fn ensure_record(
    ctx: &Ctx<'_>,
    r53: &Client,
    region: &str,
    zone_id: &str,
    record: &RecordSpec,
    (primary_check, dr_check): (&str, &str),
    ledger: &mut Ledger,
) -> Result<(), SandboxError> {
    let w = ctx.world;
    let list_label = format!("route53 record {} A", record.fqdn);
    let out = ctx
        .call("route53", "ListResourceRecordSets", &list_label, region)
        .send(|| {
            r53.list_resource_record_sets()
                .hosted_zone_id(zone_id)
                .start_record_name(&record.fqdn)
                .start_record_type(RrType::A)
                .send()
        })
        .await?;
    let present = |set_id: &str| {
        out.resource_record_sets().iter().any(|s| {
            same_name(s.name(), &record.fqdn)
                && s.r#type() == &RrType::A
                && s.set_identifier() == Some(set_id)
        })
    };
    let (primary_set_id, dr_set_id) = w.set_ids(record);
    let sides = [
        (
            primary_set_id.as_str(),
            ResourceRecordSetFailover::Primary,
            primary_check,
            record.primary_ip,
        ),
        (
            dr_set_id.as_str(),
            ResourceRecordSetFailover::Secondary,
            dr_check,
            record.dr_ip,
        ),
    ];
    let mut changes = Vec::new();
    let mut labels = Vec::new();
    for (set_id, failover, check, ip) in sides {
        let label = if record.weighted {
            format!("route53 record {} A {set_id} (weighted)", record.fqdn)
        } else {
            format!(
                "route53 record {} A {set_id} ({})",
                record.fqdn,
                failover.as_str()
            )
        };
        if present(set_id) {
            ledger.record(label, true);
            continue;
        }
        let change = ctx.call("route53", "ChangeResourceRecordSets", &label, region);
        let value = ResourceRecord::builder()
            .value(ip)
            .build()
            .map_err(|e| change.build_failed(e))?;
        let set = ResourceRecordSet::builder()
            .name(&record.fqdn)
            .r#type(RrType::A)
            .ttl(w.record_ttl)
            .set_identifier(set_id);
        let set = if record.weighted {
            let primary = failover == ResourceRecordSetFailover::Primary;
            set.weight(if primary { 100 } else { 0 })
        } else {
            set.failover(failover.clone())
        };
        let set = set
            .health_check_id(check)
            .resource_records(value)
            .build()
            .map_err(|e| change.build_failed(e))?;
        changes.push(
            Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(set)
                .build()
                .map_err(|e| change.build_failed(e))?,
        );
        labels.push(label);
    }
    if changes.is_empty() {
        return Ok(());
    }
    let label = labels.join(", ");
    let change = ctx.call("route53", "ChangeResourceRecordSets", &label, region);
    let batch = ChangeBatch::builder()
        .comment(format!("pilotlight sandbox up: {}", w.name))
        .set_changes(Some(changes))
        .build()
        .map_err(|e| change.build_failed(e))?;
    change
        .send(|| {
            r53.change_resource_record_sets()
                .hosted_zone_id(zone_id)
                .change_batch(batch.clone())
                .send()
        })
        .await?;
    for label in labels {
        ledger.record(label, false);
    }
    Ok(())
}
