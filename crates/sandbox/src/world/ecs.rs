//! ECS: cluster, task definitions and services in both regions; the primary at active count,
//! DR at pilot-light count.

use super::{item, Ctx, Ledger};
use crate::error::SandboxError;
use crate::reference::{ServiceSpec, Site};
use aws_sdk_ecs::types::{
    ContainerDefinition, PortMapping, TaskDefinitionStatus, TransportProtocol,
};
use aws_sdk_ecs::Client;

/// Ensure the cluster, task definitions and services exist at `site`.
pub(crate) async fn ensure(
    ctx: &Ctx<'_>,
    site: Site,
    ledger: &mut Ledger,
) -> Result<(), SandboxError> {
    let region = ctx.world.region(site);
    let ecs = ctx.factory.ecs(region).await;
    ensure_cluster(ctx, &ecs, region, ledger).await?;
    for spec in &ctx.world.services {
        ensure_task_definition(ctx, &ecs, spec, region, ledger).await?;
        ensure_service(ctx, &ecs, spec, spec.desired(site), region, ledger).await?;
    }
    Ok(())
}

async fn ensure_cluster(
    ctx: &Ctx<'_>,
    ecs: &Client,
    region: &str,
    ledger: &mut Ledger,
) -> Result<(), SandboxError> {
    let cluster = ctx.world.cluster.as_str();
    let label = item("ecs cluster", cluster, region);
    let out = ctx
        .call("ecs", "DescribeClusters", &label, region)
        .send(|| ecs.describe_clusters().clusters(cluster).send())
        .await?;
    let active = out
        .clusters()
        .iter()
        .any(|c| c.cluster_name() == Some(cluster) && c.status() == Some("ACTIVE"));
    if !active {
        ctx.call("ecs", "CreateCluster", &label, region)
            .send(|| ecs.create_cluster().cluster_name(cluster).send())
            .await?;
    }
    ledger.record(label, active);
    Ok(())
}

async fn ensure_task_definition(
    ctx: &Ctx<'_>,
    ecs: &Client,
    spec: &ServiceSpec,
    region: &str,
    ledger: &mut Ledger,
) -> Result<(), SandboxError> {
    let family = spec.service.as_str();
    let label = item("ecs task definition", family, region);
    let out = ctx
        .call("ecs", "ListTaskDefinitions", &label, region)
        .send(|| {
            ecs.list_task_definitions()
                .family_prefix(family)
                .status(TaskDefinitionStatus::Active)
                .send()
        })
        .await?;
    // familyPrefix matches by prefix on AWS: `confer-api` would also match `confer-api-v2`.
    let exists = out.task_definition_arns().iter().any(|arn| {
        arn.rsplit_once(":task-definition/")
            .and_then(|(_, rev)| rev.rsplit_once(':'))
            .is_some_and(|(fam, _)| fam == family)
    });
    if !exists {
        let container = ContainerDefinition::builder()
            .name(spec.logical)
            .image(&spec.image)
            .cpu(spec.cpu)
            .memory(spec.memory)
            .essential(true)
            .port_mappings(
                PortMapping::builder()
                    .container_port(spec.port)
                    .protocol(TransportProtocol::Tcp)
                    .build(),
            )
            .build();
        ctx.call("ecs", "RegisterTaskDefinition", &label, region)
            .send(|| {
                ecs.register_task_definition()
                    .family(family)
                    .container_definitions(container.clone())
                    .cpu(spec.cpu.to_string())
                    .memory(spec.memory.to_string())
                    .send()
            })
            .await?;
    }
    ledger.record(label, exists);
    Ok(())
}

async fn ensure_service(
    ctx: &Ctx<'_>,
    ecs: &Client,
    spec: &ServiceSpec,
    desired: u32,
    region: &str,
    ledger: &mut Ledger,
) -> Result<(), SandboxError> {
    let cluster = ctx.world.cluster.as_str();
    let service = spec.service.as_str();
    let label = item("ecs service", &format!("{cluster}/{service}"), region);
    let out = ctx
        .call("ecs", "DescribeServices", &label, region)
        .send(|| {
            ecs.describe_services()
                .cluster(cluster)
                .services(service)
                .send()
        })
        .await?;
    let mut existed = out
        .services()
        .iter()
        .any(|s| s.service_name() == Some(service) && s.status() == Some("ACTIVE"));
    if !existed {
        let desired = i32::try_from(desired).unwrap_or(i32::MAX);
        existed = ctx
            .call("ecs", "CreateService", &label, region)
            .create(|| {
                ecs.create_service()
                    .cluster(cluster)
                    .service_name(service)
                    .task_definition(service)
                    .desired_count(desired)
                    .send()
            })
            .await?
            .is_none();
        if !existed {
            // moto starts a new service's tasks only on an update: repeat the desired count once
            // (a no-op on AWS, and on Pilotlight's emulator, whose ECS scheduler layer does the
            // same) so that a sandbox built on bare moto matches AWS too.
            ctx.call("ecs", "UpdateService", &label, region)
                .send(|| {
                    ecs.update_service()
                        .cluster(cluster)
                        .service(service)
                        .desired_count(desired)
                        .send()
                })
                .await?;
        }
    }
    ledger.record(label, existed);
    Ok(())
}
