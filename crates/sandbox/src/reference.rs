//! The reference world as data: every name, size and address the sandbox creates, derived from
//! the [`SandboxOptions`](crate::SandboxOptions). The builders in [`crate::world`] and the config
//! in [`crate::config`] both read from here, so the world and its config cannot disagree.

use crate::error::SandboxError;
use crate::SandboxOptions;

/// Which side of the pilot-light pair a resource lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Site {
    /// The region that serves.
    Primary,
    /// The region kept at pilot-light size.
    Dr,
}

/// An ECS service and its task definition.
#[derive(Debug, Clone)]
pub(crate) struct ServiceSpec {
    /// Logical name in the environment config.
    pub logical: &'static str,
    /// Service name (and task definition family), e.g. `confer-api`.
    pub service: String,
    /// Container image (never pulled by the emulator).
    pub image: String,
    /// Container port.
    pub port: i32,
    /// CPU units of the container.
    pub cpu: i32,
    /// Memory of the container, MiB.
    pub memory: i32,
    /// Desired count when serving (the primary's size).
    pub active: u32,
    /// Desired count in DR while idle.
    pub pilot_light: u32,
}

impl ServiceSpec {
    /// Desired count of this service at `site`.
    pub fn desired(&self, site: Site) -> u32 {
        match site {
            Site::Primary => self.active,
            Site::Dr => self.pilot_light,
        }
    }
}

/// Size of the media-router Auto Scaling group at one site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GroupSize {
    /// Minimum size.
    pub min: u32,
    /// Maximum size.
    pub max: u32,
    /// Desired capacity.
    pub desired: u32,
}

/// A Route 53 health check of one region's public endpoint.
#[derive(Debug, Clone)]
pub(crate) struct HealthCheckSpec {
    /// Which region it watches.
    pub site: Site,
    /// Deterministic caller reference, so a re-run finds it.
    pub caller_reference: String,
    /// The endpoint's address.
    pub ip: &'static str,
    /// Port probed.
    pub port: i32,
    /// HTTP path probed.
    pub path: &'static str,
}

/// A failover record pair.
#[derive(Debug, Clone)]
pub(crate) struct RecordSpec {
    /// Logical name in the environment config. Logical names are unique across the whole file
    /// (runbooks refer to resources by name alone), so the records are `api-dns`/`media-dns`
    /// next to the ECS service `api`.
    pub logical: &'static str,
    /// Fully qualified name, e.g. `api.confer.example.`.
    pub fqdn: String,
    /// Address served from the primary region.
    pub primary_ip: &'static str,
    /// Address served from the DR region.
    pub dr_ip: &'static str,
    /// Weighted routing (primary 100, DR 0; a failback returns it gradually) instead of
    /// failover routing.
    pub weighted: bool,
}

/// The whole reference world.
#[derive(Debug, Clone)]
pub(crate) struct Reference {
    /// Name prefix (`confer`).
    pub name: String,
    /// Primary region.
    pub primary: String,
    /// DR region.
    pub dr: String,
    /// ECS cluster name (same in both regions).
    pub cluster: String,
    /// ECS services.
    pub services: Vec<ServiceSpec>,
    /// EC2 launch template of the media routers.
    pub launch_template: String,
    /// AMI of the media routers (moto accepts any well-formed id).
    pub ami: &'static str,
    /// Instance type of the media routers.
    pub instance_type: &'static str,
    /// Logical name of the media-router group.
    pub group_logical: &'static str,
    /// Auto Scaling group name (same in both regions).
    pub group: String,
    /// Group size in the primary region.
    pub group_primary: GroupSize,
    /// Group size in the DR region (pilot light).
    pub group_dr: GroupSize,
    /// Logical name of the database.
    pub db_logical: &'static str,
    /// Primary RDS instance.
    pub db_primary: String,
    /// Cross-region read replica in DR.
    pub db_replica: String,
    /// Read-only DB parameter group (both regions) that fences a writer.
    pub db_fence_parameter_group: String,
    /// Its parameter group family.
    pub db_parameter_family: &'static str,
    /// RDS engine.
    pub db_engine: &'static str,
    /// RDS instance class.
    pub db_class: &'static str,
    /// Allocated storage, GB.
    pub db_storage_gb: i32,
    /// DynamoDB tables: (logical name, table name).
    pub tables: Vec<(&'static str, String)>,
    /// Logical name of the recordings bucket pair.
    pub bucket_logical: &'static str,
    /// Recordings bucket in the primary region.
    pub bucket_primary: String,
    /// Recordings bucket in the DR region.
    pub bucket_dr: String,
    /// IAM role S3 replication assumes.
    pub replication_role: String,
    /// Replication Time Control threshold, minutes.
    pub rtc_minutes: i32,
    /// Logical name of the KMS key.
    pub key_logical: &'static str,
    /// Alias of the multi-region key, in the primary region.
    pub key_alias: String,
    /// Description of the multi-region key.
    pub key_description: String,
    /// Hosted zone name (`confer.example.`).
    pub zone: String,
    /// Deterministic caller reference of the hosted zone.
    pub zone_caller_reference: String,
    /// Health checks, primary first.
    pub health_checks: Vec<HealthCheckSpec>,
    /// Failover record pairs.
    pub records: Vec<RecordSpec>,
    /// TTL of the records, seconds.
    pub record_ttl: i64,
    /// Suffix of the set identifiers of the record sets pointing at the primary region.
    pub primary_set_id: String,
    /// Suffix of the set identifiers of the record sets pointing at the DR region.
    pub dr_set_id: String,
}

impl Reference {
    /// The (primary, DR) set identifiers of `record`: unique per record, e.g. `api-confer-primary`.
    pub fn set_ids(&self, record: &RecordSpec) -> (String, String) {
        let base = record.logical.trim_end_matches("-dns");
        (
            format!("{base}-{}", self.primary_set_id),
            format!("{base}-{}", self.dr_set_id),
        )
    }

    /// The reference world for `opts`, after checking the options make valid AWS names.
    pub fn new(opts: &SandboxOptions) -> Result<Self, SandboxError> {
        validate(opts)?;
        let n = opts.name.as_str();
        let service = |logical: &'static str, port, cpu, memory, active, pilot_light| ServiceSpec {
            logical,
            service: format!("{n}-{logical}"),
            image: format!("public.ecr.aws/{n}/{logical}:sandbox"),
            port,
            cpu,
            memory,
            active,
            pilot_light,
        };
        Ok(Reference {
            name: n.to_string(),
            primary: opts.primary.clone(),
            dr: opts.dr.clone(),
            cluster: n.to_string(),
            services: vec![
                service("api", 8080, 512, 1024, 4, 1),
                service("signaling", 8443, 256, 512, 2, 1),
            ],
            launch_template: format!("{n}-media-router"),
            ami: "ami-12c6146b",
            instance_type: "t3.medium",
            group_logical: "media-routers",
            group: format!("{n}-media-routers"),
            group_primary: GroupSize {
                min: 6,
                max: 12,
                desired: 6,
            },
            group_dr: GroupSize {
                min: 1,
                max: 12,
                desired: 1,
            },
            db_logical: "db",
            db_primary: format!("{n}-db"),
            db_replica: format!("{n}-db-replica"),
            db_fence_parameter_group: format!("{n}-db-read-only"),
            db_parameter_family: "postgres16",
            db_engine: "postgres",
            db_class: "db.t3.medium",
            db_storage_gb: 20,
            tables: vec![
                ("meetings", format!("{n}-meetings")),
                ("sessions", format!("{n}-sessions")),
            ],
            bucket_logical: "recordings",
            bucket_primary: format!("{n}-recordings-{}", opts.primary),
            bucket_dr: format!("{n}-recordings-{}", opts.dr),
            replication_role: format!("arn:aws:iam::123456789012:role/{n}-s3-replication"),
            rtc_minutes: 15,
            key_logical: "data",
            key_alias: format!("alias/{n}-data"),
            key_description: format!("{n} data key"),
            zone: format!("{n}.example."),
            zone_caller_reference: format!("{n}-sandbox-zone"),
            health_checks: vec![
                HealthCheckSpec {
                    site: Site::Primary,
                    caller_reference: format!("{n}-sandbox-health-primary"),
                    ip: "192.0.2.10",
                    port: 443,
                    path: "/health",
                },
                HealthCheckSpec {
                    site: Site::Dr,
                    caller_reference: format!("{n}-sandbox-health-dr"),
                    ip: "198.51.100.10",
                    port: 443,
                    path: "/health",
                },
            ],
            records: vec![
                RecordSpec {
                    logical: "api-dns",
                    fqdn: format!("api.{n}.example."),
                    primary_ip: "192.0.2.10",
                    dr_ip: "198.51.100.10",
                    weighted: false,
                },
                RecordSpec {
                    logical: "media-dns",
                    fqdn: format!("media.{n}.example."),
                    primary_ip: "192.0.2.20",
                    dr_ip: "198.51.100.20",
                    weighted: false,
                },
                RecordSpec {
                    logical: "web-dns",
                    fqdn: format!("www.{n}.example."),
                    primary_ip: "192.0.2.30",
                    dr_ip: "198.51.100.30",
                    weighted: true,
                },
            ],
            record_ttl: 60,
            primary_set_id: format!("{n}-primary"),
            dr_set_id: format!("{n}-dr"),
        })
    }

    /// The region of `site`.
    pub fn region(&self, site: Site) -> &str {
        match site {
            Site::Primary => &self.primary,
            Site::Dr => &self.dr,
        }
    }

    /// Size of the media-router group at `site`.
    pub fn group_size(&self, site: Site) -> GroupSize {
        match site {
            Site::Primary => self.group_primary,
            Site::Dr => self.group_dr,
        }
    }
}

/// The name must make valid S3 bucket, RDS and ECS names; regions must look like regions and
/// differ.
fn validate(opts: &SandboxOptions) -> Result<(), SandboxError> {
    let bad = |option, value: &str, reason: &str| SandboxError::InvalidOptions {
        option,
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let name = opts.name.as_str();
    let name_ok = (1..=24).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !name_ok {
        return Err(bad(
            "name",
            name,
            "use 1-24 lowercase letters, digits and single hyphens, starting with a letter (e.g. `confer`); \
             it prefixes S3 bucket and RDS instance names",
        ));
    }
    for (option, region) in [("primary", &opts.primary), ("dr", &opts.dr)] {
        let region_ok = region.split('-').count() >= 3
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && region.ends_with(|c: char| c.is_ascii_digit());
        if !region_ok {
            return Err(bad(
                option,
                region,
                "not an AWS region code; use e.g. `us-east-1` or `us-west-2`",
            ));
        }
    }
    if opts.primary == opts.dr {
        return Err(bad(
            "dr",
            &opts.dr,
            "the DR region must differ from the primary region",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(name: &str, primary: &str, dr: &str) -> SandboxOptions {
        SandboxOptions {
            endpoint: "http://127.0.0.1:5000".into(),
            name: name.into(),
            primary: primary.into(),
            dr: dr.into(),
        }
    }

    #[test]
    fn names_follow_the_prefix_and_regions() {
        let r = Reference::new(&opts("confer", "us-east-1", "us-west-2")).unwrap();
        assert_eq!(r.cluster, "confer");
        assert_eq!(r.services[0].service, "confer-api");
        assert_eq!(r.services[1].service, "confer-signaling");
        assert_eq!(r.bucket_primary, "confer-recordings-us-east-1");
        assert_eq!(r.bucket_dr, "confer-recordings-us-west-2");
        assert_eq!(r.key_alias, "alias/confer-data");
        assert_eq!(r.zone, "confer.example.");
        assert_eq!(r.records[0].fqdn, "api.confer.example.");
        assert_eq!(r.primary_set_id, "confer-primary");
        assert_eq!(r.dr_set_id, "confer-dr");
        assert_eq!(r.region(Site::Dr), "us-west-2");
        assert_eq!(r.services[0].desired(Site::Primary), 4);
        assert_eq!(r.services[0].desired(Site::Dr), 1);
    }

    #[test]
    fn bad_options_are_rejected_with_the_option_named() {
        for (o, option) in [
            (opts("Confer", "us-east-1", "us-west-2"), "name"),
            (opts("confer_x", "us-east-1", "us-west-2"), "name"),
            (opts("", "us-east-1", "us-west-2"), "name"),
            (opts("confer", "useast", "us-west-2"), "primary"),
            (opts("confer", "us-east-1", "us-east-1"), "dr"),
        ] {
            match Reference::new(&o) {
                Err(SandboxError::InvalidOptions { option: got, .. }) => assert_eq!(got, option),
                other => panic!("expected InvalidOptions({option}), got {other:?}"),
            }
        }
    }
}
