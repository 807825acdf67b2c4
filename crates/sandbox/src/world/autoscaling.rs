//! Auto Scaling: the media-router launch template (EC2) and group in both regions; the primary
//! at 6/12/6, DR at pilot light 1/12/1.

use super::{item, Ctx, Ledger};
use crate::error::SandboxError;
use crate::reference::Site;
use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
use aws_sdk_ec2::types::{InstanceType, RequestLaunchTemplateData};

/// Ensure the launch template and the Auto Scaling group exist at `site`.
pub(crate) async fn ensure(
    ctx: &Ctx<'_>,
    site: Site,
    ledger: &mut Ledger,
) -> Result<(), SandboxError> {
    let region = ctx.world.region(site);
    ensure_launch_template(ctx, region, ledger).await?;
    ensure_group(ctx, site, region, ledger).await
}

async fn ensure_launch_template(
    ctx: &Ctx<'_>,
    region: &str,
    ledger: &mut Ledger,
) -> Result<(), SandboxError> {
    let ec2 = ctx.factory.ec2(region).await;
    let name = ctx.world.launch_template.as_str();
    let label = item("ec2 launch template", name, region);
    // Filter by name rather than naming it: an unknown name is an error, a filter is not.
    let filter = aws_sdk_ec2::types::Filter::builder()
        .name("launch-template-name")
        .values(name)
        .build();
    let out = ctx
        .call("ec2", "DescribeLaunchTemplates", &label, region)
        .send(|| {
            ec2.describe_launch_templates()
                .filters(filter.clone())
                .send()
        })
        .await?;
    let mut existed = out
        .launch_templates()
        .iter()
        .any(|t| t.launch_template_name() == Some(name));
    if !existed {
        let data = RequestLaunchTemplateData::builder()
            .image_id(ctx.world.ami)
            .instance_type(InstanceType::from(ctx.world.instance_type))
            .build();
        existed = ctx
            .call("ec2", "CreateLaunchTemplate", &label, region)
            .create(|| {
                ec2.create_launch_template()
                    .launch_template_name(name)
                    .launch_template_data(data.clone())
                    .send()
            })
            .await?
            .is_none();
    }
    ledger.record(label, existed);
    Ok(())
}

/// The region's availability zones, at most three, sorted; `<region>a`/`b` if the emulator
/// lists none.
async fn zones(ctx: &Ctx<'_>, region: &str, label: &str) -> Result<Vec<String>, SandboxError> {
    let ec2 = ctx.factory.ec2(region).await;
    let out = ctx
        .call("ec2", "DescribeAvailabilityZones", label, region)
        .send(|| ec2.describe_availability_zones().send())
        .await?;
    let mut zones: Vec<String> = out
        .availability_zones()
        .iter()
        .filter(|z| z.region_name().is_none_or(|r| r == region))
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    zones.sort();
    zones.truncate(3);
    if zones.is_empty() {
        zones = vec![format!("{region}a"), format!("{region}b")];
    }
    Ok(zones)
}

async fn ensure_group(
    ctx: &Ctx<'_>,
    site: Site,
    region: &str,
    ledger: &mut Ledger,
) -> Result<(), SandboxError> {
    let asg = ctx.factory.autoscaling(region).await;
    let group = ctx.world.group.as_str();
    let label = item("autoscaling group", group, region);
    let out = ctx
        .call("autoscaling", "DescribeAutoScalingGroups", &label, region)
        .send(|| {
            asg.describe_auto_scaling_groups()
                .auto_scaling_group_names(group)
                .send()
        })
        .await?;
    let mut existed = out
        .auto_scaling_groups()
        .iter()
        .any(|g| g.auto_scaling_group_name() == Some(group));
    if !existed {
        let size = ctx.world.group_size(site);
        let zones = zones(ctx, region, &label).await?;
        let template = LaunchTemplateSpecification::builder()
            .launch_template_name(&ctx.world.launch_template)
            .version("$Latest")
            .build();
        let to_i32 = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        existed = ctx
            .call("autoscaling", "CreateAutoScalingGroup", &label, region)
            .create(|| {
                asg.create_auto_scaling_group()
                    .auto_scaling_group_name(group)
                    .launch_template(template.clone())
                    .min_size(to_i32(size.min))
                    .max_size(to_i32(size.max))
                    .desired_capacity(to_i32(size.desired))
                    .set_availability_zones(Some(zones.clone()))
                    .send()
            })
            .await?
            .is_none();
    }
    ledger.record(label, existed);
    Ok(())
}
