//! Pure readiness evaluations, one per resource kind: facts in, pass/warn/fail with a one-line
//! reason and the fix out. No I/O; table-driven tests cover every branch.

use super::facts::*;
use super::CheckResult;
use crate::model::{
    AuroraGlobalCluster, AutoScalingGroup, DnsRecord, DynamoTable, EcsService, KmsKey, RdsReplica,
    ResourceRef, Route53, Routing, S3BucketPair,
};
use std::time::Duration;

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 && s.fract() == 0.0 && (s as u64).is_multiple_of(60) {
        format!("{}m", s as u64 / 60)
    } else {
        format!("{}s", trim(s))
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// DynamoDB: the table has an ACTIVE replica in DR; replication latency within the RPO when known.
pub fn dynamodb(
    r: &ResourceRef,
    spec: &DynamoTable,
    f: &DynamoFacts,
    primary: &str,
    dr: &str,
    rpo: Duration,
) -> CheckResult {
    let t = &spec.table;
    let r = r.clone();
    let Some(p) = &f.primary else {
        return CheckResult::fail(
            r,
            format!("table {t} does not exist in the primary region {primary}"),
            format!("check `table` in the config, or create the table in {primary}"),
        );
    };
    let add_replica = format!(
        "aws dynamodb update-table --region {primary} --table-name {t} --replica-updates 'Create={{RegionName={dr}}}'"
    );
    let Some(d) = &f.dr else {
        return CheckResult::fail(
            r,
            format!("no replica of {t} in the DR region {dr}"),
            format!("add a replica: {add_replica}"),
        );
    };
    let Some(rep) = p.replicas.iter().find(|x| x.region == dr) else {
        return CheckResult::fail(
            r,
            format!(
                "a table {t} exists in {dr} but is not a replica of the primary's global table"
            ),
            format!("make it a replica (delete the standalone table in {dr}, then {add_replica})"),
        );
    };
    if rep.status != "ACTIVE" || d.status != "ACTIVE" {
        return CheckResult::fail(
            r,
            format!(
                "replica of {t} in {dr} is not ACTIVE (replica status {}, table status {})",
                rep.status, d.status
            ),
            format!("wait for the replica to become ACTIVE; check `aws dynamodb describe-table --region {dr} --table-name {t}`"),
        );
    }
    match f.replication_latency_ms {
        Some(ms) if Duration::from_secs_f64(ms / 1000.0) > rpo => CheckResult::lag_fail(
            r,
            format!(
                "replication latency to {dr} is {} ms, above the RPO of {}",
                trim(ms),
                secs(rpo)
            ),
            "find why replication lags (write throughput, throttled replica) before relying on DR",
        ),
        Some(ms) => CheckResult::pass(
            r,
            format!(
                "ACTIVE replica in {dr}; replication latency {} ms",
                trim(ms)
            ),
        ),
        None => CheckResult::pass(
            r,
            format!("ACTIVE replica in {dr}; replication latency not reported"),
        ),
    }
}

/// S3: versioning on both buckets; an enabled replication rule toward the DR bucket; RTC when required.
pub fn s3(r: &ResourceRef, spec: &S3BucketPair, f: &S3Facts) -> CheckResult {
    let (pb, db) = (&spec.primary_bucket, &spec.dr_bucket);
    let r = r.clone();
    if !f.primary_exists || !f.dr_exists {
        let missing = if f.primary_exists { db } else { pb };
        return CheckResult::fail(
            r,
            format!("bucket {missing} does not exist"),
            format!("create bucket {missing} or fix its name in the config"),
        );
    }
    for (b, v) in [(pb, &f.primary_versioning), (db, &f.dr_versioning)] {
        if v.as_deref() != Some("Enabled") {
            return CheckResult::fail(
                r,
                format!(
                    "versioning is {} on {b}; replication needs it on both buckets",
                    v.as_deref().unwrap_or("off")
                ),
                format!("aws s3api put-bucket-versioning --bucket {b} --versioning-configuration Status=Enabled"),
            );
        }
    }
    let dest = format!("arn:aws:s3:::{db}");
    let to_dr: Vec<&ReplicationRule> = f
        .rules
        .iter()
        .filter(|x| x.destination_bucket_arn == dest)
        .collect();
    let Some(rule) = to_dr.iter().find(|x| x.enabled) else {
        let why = if to_dr.is_empty() {
            format!("no replication rule from {pb} to {db}")
        } else {
            format!("the replication rule from {pb} to {db} is disabled")
        };
        return CheckResult::fail(
            r,
            why,
            format!("add or enable a rule: aws s3api put-bucket-replication --bucket {pb} --replication-configuration file://replication.json (destination {dest})"),
        );
    };
    if spec.rtc && !rule.rtc_enabled {
        return CheckResult::fail(
            r,
            format!("Replication Time Control is required but off on the rule to {db}"),
            "enable ReplicationTime (15 minutes) and Metrics on the rule, or set `rtc = false`",
        );
    }
    let rtc = if rule.rtc_enabled { " with RTC" } else { "" };
    CheckResult::pass(r, format!("versioned; replicating to {db}{rtc}"))
}

/// KMS: a multi-region primary key with an enabled replica in DR.
pub fn kms(r: &ResourceRef, spec: &KmsKey, f: &KmsFacts, primary: &str, dr: &str) -> CheckResult {
    let k = &spec.key_id;
    let r = r.clone();
    let Some(p) = &f.primary else {
        return CheckResult::fail(
            r,
            format!("key {k} does not exist in the primary region {primary}"),
            "check `key_id` in the config",
        );
    };
    if !p.multi_region {
        return CheckResult::fail(
            r,
            format!("key {k} is a single-region key; it cannot have a replica in {dr}"),
            "create a multi-region key (aws kms create-key --multi-region) and re-encrypt",
        );
    }
    if p.multi_region_type.as_deref() != Some("PRIMARY") {
        return CheckResult::fail(
            r,
            format!("key {k} in {primary} is a replica, not the primary key"),
            format!("find the primary key of {k}, or run `aws kms update-primary-region` to make {primary} the primary"),
        );
    }
    if p.key_state != "Enabled" {
        return CheckResult::fail(
            r,
            format!("primary key {k} is {}", p.key_state),
            format!("aws kms enable-key --region {primary} --key-id {k}"),
        );
    }
    let replicate =
        format!("aws kms replicate-key --region {primary} --key-id {k} --replica-region {dr}");
    let Some(d) =
        f.dr.as_ref()
            .filter(|_| p.replica_regions.iter().any(|x| x == dr))
    else {
        return CheckResult::fail(r, format!("key {k} has no replica in {dr}"), replicate);
    };
    if d.key_state != "Enabled" {
        return CheckResult::fail(
            r,
            format!("the replica of {k} in {dr} is {}", d.key_state),
            format!("aws kms enable-key --region {dr} --key-id {k}"),
        );
    }
    CheckResult::pass(
        r,
        format!("multi-region primary with an enabled replica in {dr}"),
    )
}

const TRANSIENT_DB_STATES: &[&str] = &[
    "backing-up",
    "modifying",
    "maintenance",
    "upgrading",
    "storage-optimization",
    "configuring-enhanced-monitoring",
];

/// RDS: a read replica in DR whose source is the primary instance, available, lag within the RPO.
pub fn rds(
    r: &ResourceRef,
    spec: &RdsReplica,
    f: &RdsFacts,
    primary: &str,
    dr: &str,
    rpo: Duration,
) -> CheckResult {
    let (pi, ri) = (&spec.primary_instance, &spec.replica_instance);
    let r = r.clone();
    let Some(p) = &f.primary else {
        return CheckResult::fail(
            r,
            format!("primary instance {pi} does not exist in {primary}"),
            "check `primary_instance` in the config",
        );
    };
    let Some(rep) = &f.replica else {
        return CheckResult::fail(
            r,
            format!("no instance {ri} in the DR region {dr}"),
            format!("aws rds create-db-instance-read-replica --region {dr} --db-instance-identifier {ri} --source-db-instance-identifier {}", p.arn),
        );
    };
    match rep.read_replica_source.as_deref() {
        None => {
            return CheckResult::fail(
                r,
                format!("{ri} in {dr} is not a read replica (was it promoted?)"),
                format!("if the primary is {pi}, recreate the replica from {}; if DR already serves, run failback", p.arn),
            )
        }
        Some(src) if src != p.arn && src != pi.as_str() => {
            return CheckResult::fail(
                r,
                format!("{ri} replicates from {src}, not from {pi}"),
                "fix `primary_instance` / `replica_instance` in the config, or recreate the replica",
            )
        }
        Some(_) => {}
    }
    if rep.status != "available" {
        let fix = format!("wait for {ri} to be available: aws rds describe-db-instances --region {dr} --db-instance-identifier {ri}");
        return if TRANSIENT_DB_STATES.contains(&rep.status.as_str()) {
            CheckResult::warn(r, format!("replica {ri} is {}", rep.status), fix)
        } else {
            CheckResult::fail(r, format!("replica {ri} is {}", rep.status), fix)
        };
    }
    match f.lag_seconds {
        Some(lag) if Duration::from_secs_f64(lag.max(0.0)) > rpo => CheckResult::lag_fail(
            r,
            format!("replica lag {} is above the RPO of {}", secs(Duration::from_secs_f64(lag)), secs(rpo)),
            "find why the replica lags (write load, instance size, long transactions); an unplanned failover now would lose more than the RPO",
        ),
        Some(lag) => CheckResult::pass(
            r,
            format!("available replica of {pi} in {dr}; lag {} within RPO {}", secs(Duration::from_secs_f64(lag)), secs(rpo)),
        ),
        None => CheckResult::warn(
            r,
            format!("available replica of {pi} in {dr}, but no recent ReplicaLag datapoint"),
            format!("check CloudWatch AWS/RDS ReplicaLag for {ri} in {dr}; the RPO cannot be verified without it"),
        ),
    }
}

/// Aurora: the DR cluster is a secondary member of the global cluster and available.
pub fn aurora(
    r: &ResourceRef,
    spec: &AuroraGlobalCluster,
    f: &AuroraFacts,
    primary: &str,
    dr: &str,
    rpo: Duration,
) -> CheckResult {
    let g = &spec.global_cluster;
    let r = r.clone();
    let Some(members) = &f.global_members else {
        return CheckResult::fail(
            r,
            format!("global cluster {g} does not exist"),
            "check `global_cluster` in the config",
        );
    };
    let Some(p) = &f.primary else {
        return CheckResult::fail(
            r,
            format!(
                "cluster {} does not exist in {primary}",
                spec.primary_cluster
            ),
            "check `primary_cluster` in the config",
        );
    };
    let Some(d) = &f.dr else {
        return CheckResult::fail(
            r,
            format!("cluster {} does not exist in {dr}", spec.dr_cluster),
            format!("add a secondary cluster in {dr} to {g} (aws rds create-db-cluster --region {dr} --global-cluster-identifier {g} ...)"),
        );
    };
    let Some(m) = members.iter().find(|m| m.cluster_arn == d.arn) else {
        return CheckResult::fail(
            r,
            format!(
                "cluster {} is not a member of global cluster {g}",
                spec.dr_cluster
            ),
            format!("add it as a secondary of {g}, or fix `dr_cluster` in the config"),
        );
    };
    if m.is_writer {
        return CheckResult::fail(
            r,
            format!(
                "cluster {} in {dr} is the writer of {g}: DR already serves",
                spec.dr_cluster
            ),
            "run failback (or fix the config) before relying on DR",
        );
    }
    if !members
        .iter()
        .any(|m| m.cluster_arn == p.arn && m.is_writer)
    {
        return CheckResult::fail(
            r,
            format!(
                "cluster {} in {primary} is not the writer of {g}",
                spec.primary_cluster
            ),
            "check which cluster writes: aws rds describe-global-clusters",
        );
    }
    if d.status != "available" {
        return CheckResult::fail(
            r,
            format!("secondary cluster {} is {}", spec.dr_cluster, d.status),
            format!("wait for it to be available: aws rds describe-db-clusters --region {dr} --db-cluster-identifier {}", spec.dr_cluster),
        );
    }
    match f.lag_ms {
        Some(ms) if Duration::from_secs_f64(ms / 1000.0) > rpo => CheckResult::lag_fail(
            r,
            format!(
                "global replication lag {} ms is above the RPO of {}",
                trim(ms),
                secs(rpo)
            ),
            "find why the secondary lags before relying on DR",
        ),
        Some(ms) => CheckResult::pass(
            r,
            format!("available secondary in {dr}; lag {} ms", trim(ms)),
        ),
        None => CheckResult::pass(r, format!("available secondary in {dr}; lag not reported")),
    }
}

/// ECS: the service exists in DR with its task definition, at its pilot-light count, able to
/// reach its active count.
pub fn ecs(r: &ResourceRef, spec: &EcsService, f: &EcsFacts, dr: &str) -> CheckResult {
    let (c, s) = (&spec.cluster, &spec.service);
    let r = r.clone();
    match f.cluster_status.as_deref() {
        None => {
            return CheckResult::fail(
                r,
                format!("cluster {c} does not exist in {dr}"),
                format!("create cluster {c} in {dr} or fix `cluster` in the config"),
            )
        }
        Some("ACTIVE") => {}
        Some(other) => {
            return CheckResult::fail(
                r,
                format!("cluster {c} in {dr} is {other}"),
                format!("recreate cluster {c} in {dr}"),
            )
        }
    }
    let Some(svc) = &f.service else {
        return CheckResult::fail(
            r,
            format!("service {s} does not exist in cluster {c} in {dr}"),
            format!(
                "create service {s} in {dr} at pilot-light count {}",
                spec.pilot_light_count
            ),
        );
    };
    if svc.status != "ACTIVE" {
        return CheckResult::fail(
            r,
            format!("service {s} in {dr} is {}", svc.status),
            format!("recreate service {s} in {dr}"),
        );
    }
    if f.task_definition_status.as_deref() != Some("ACTIVE") {
        return CheckResult::fail(
            r,
            format!(
                "task definition {} is {}: the service cannot start new tasks",
                svc.task_definition,
                f.task_definition_status.as_deref().unwrap_or("missing")
            ),
            format!("register the task definition in {dr} and update the service to use it"),
        );
    }
    let scale = format!(
        "aws ecs update-service --region {dr} --cluster {c} --service {s} --desired-count {}",
        spec.pilot_light_count
    );
    if svc.desired < spec.pilot_light_count {
        return CheckResult::fail(
            r,
            format!(
                "desired count {} is below the pilot-light count {}",
                svc.desired, spec.pilot_light_count
            ),
            scale,
        );
    }
    if svc.desired > spec.pilot_light_count {
        return CheckResult::warn(
            r,
            format!("desired count {} is above the pilot-light count {} (DR serving, or paying for idle capacity)", svc.desired, spec.pilot_light_count),
            scale,
        );
    }
    if svc.running < svc.desired {
        return CheckResult::warn(
            r,
            format!("{} of {} tasks running", svc.running, svc.desired),
            format!("look at the service events: aws ecs describe-services --region {dr} --cluster {c} --services {s}"),
        );
    }
    CheckResult::pass(
        r,
        format!(
            "{}/{} tasks at pilot light; scales to {}",
            svc.running, svc.desired, spec.active_count
        ),
    )
}

/// Auto Scaling: the group exists in DR, its launch source is valid, max ≥ active capacity.
pub fn autoscaling(
    r: &ResourceRef,
    spec: &AutoScalingGroup,
    f: &AsgFacts,
    dr: &str,
) -> CheckResult {
    let n = &spec.group;
    let r = r.clone();
    let Some(g) = &f.group else {
        return CheckResult::fail(
            r,
            format!("group {n} does not exist in {dr}"),
            format!("create group {n} in {dr} or fix `group` in the config"),
        );
    };
    if matches!(g.launch, LaunchSource::None) || !f.launch_source_exists {
        let what = match &g.launch {
            LaunchSource::Configuration { name } => format!("launch configuration {name}"),
            LaunchSource::Template { id_or_name, .. }
            | LaunchSource::MixedInstances { id_or_name } => {
                format!("launch template {id_or_name}")
            }
            LaunchSource::None => "no launch configuration or template".to_string(),
        };
        return CheckResult::fail(
            r,
            format!("group {n} cannot launch instances: {what} does not exist"),
            format!("create the launch template in {dr} and point the group at it"),
        );
    }
    if g.max < spec.active_capacity {
        return CheckResult::fail(
            r,
            format!("max size {} is below the active capacity {}", g.max, spec.active_capacity),
            format!("aws autoscaling update-auto-scaling-group --region {dr} --auto-scaling-group-name {n} --max-size {}", spec.active_capacity),
        );
    }
    let scale = format!(
        "aws autoscaling set-desired-capacity --region {dr} --auto-scaling-group-name {n} --desired-capacity {}",
        spec.pilot_light_capacity
    );
    if g.desired < spec.pilot_light_capacity {
        return CheckResult::fail(
            r,
            format!(
                "desired capacity {} is below the pilot-light capacity {}",
                g.desired, spec.pilot_light_capacity
            ),
            scale,
        );
    }
    if g.desired > spec.pilot_light_capacity {
        return CheckResult::warn(
            r,
            format!(
                "desired capacity {} is above the pilot-light capacity {}",
                g.desired, spec.pilot_light_capacity
            ),
            scale,
        );
    }
    if g.in_service < g.desired {
        return CheckResult::warn(
            r,
            format!("{} of {} instances in service", g.in_service, g.desired),
            format!("look at the scaling activities: aws autoscaling describe-scaling-activities --region {dr} --auto-scaling-group-name {n}"),
        );
    }
    CheckResult::pass(
        r,
        format!(
            "{}/{} in service at pilot light; max {} ≥ active {}",
            g.in_service, g.desired, g.max, spec.active_capacity
        ),
    )
}

/// Route 53: records for both regions exist; the health checks that steer them exist and report.
pub fn route53(r: &ResourceRef, zone: &Route53, spec: &DnsRecord, f: &Route53Facts) -> CheckResult {
    let name = &spec.record_name;
    let z = &zone.zone_id;
    let r = r.clone();
    if !f.zone_exists {
        return CheckResult::fail(
            r,
            format!("hosted zone {z} does not exist"),
            "check `route53.zone_id`",
        );
    }
    let sets = [
        ("primary", &spec.primary_set_identifier, &f.primary),
        ("DR", &spec.dr_set_identifier, &f.dr),
    ];
    for (which, id, set) in sets {
        if set.is_none() {
            return CheckResult::fail(
                r,
                format!(
                    "no {} record {name} with set identifier {id} ({which}) in zone {z}",
                    spec.record_type
                ),
                format!(
                    "create the {which} record set, or fix `{}_set_identifier`",
                    if which == "DR" { "dr" } else { "primary" }
                ),
            );
        }
    }
    let (p, d) = (
        f.primary.as_ref().expect("checked"),
        f.dr.as_ref().expect("checked"),
    );
    match spec.routing {
        Routing::Failover => {
            if p.failover.as_deref() != Some("PRIMARY")
                || d.failover.as_deref() != Some("SECONDARY")
            {
                return CheckResult::fail(
                    r,
                    format!(
                        "{name}: expected failover PRIMARY/SECONDARY, found {}/{}",
                        p.failover.as_deref().unwrap_or("none"),
                        d.failover.as_deref().unwrap_or("none")
                    ),
                    "set Failover=PRIMARY on the primary record set and SECONDARY on the DR one",
                );
            }
        }
        Routing::Weighted => {
            if p.weight.is_none() || d.weight.is_none() {
                return CheckResult::fail(
                    r,
                    format!("{name}: both record sets need a weight for weighted routing"),
                    "set Weight on both record sets (e.g. 100 primary, 0 DR)",
                );
            }
        }
    }
    if spec.require_health_checks {
        for (which, set) in [("primary", p), ("DR", d)] {
            let Some(hc) = &set.health_check_id else {
                return CheckResult::fail(
                    r,
                    format!("the {which} record set of {name} has no health check"),
                    "attach a health check so Route 53 can fail over without its control plane",
                );
            };
            let state = f.health_checks.iter().find(|h| &h.id == hc);
            match state {
                Some(h) if h.exists => {
                    if h.observations == 0 {
                        return CheckResult::warn(
                            r,
                            format!("health check {hc} ({which}) has no observations yet"),
                            format!("aws route53 get-health-check-status --health-check-id {hc}"),
                        );
                    }
                    if which == "DR" && h.healthy_observations * 100 <= h.observations * 18 {
                        return CheckResult::fail(
                            r,
                            format!("the DR endpoint's health check {hc} reports unhealthy ({}/{} checkers)", h.healthy_observations, h.observations),
                            "fix the DR endpoint: traffic would fail over to an unhealthy target",
                        );
                    }
                }
                _ => {
                    return CheckResult::fail(
                        r,
                        format!("health check {hc} of the {which} record set does not exist"),
                        "create the health check and attach it to the record set",
                    )
                }
            }
        }
    }
    let routing = match spec.routing {
        Routing::Failover => "failover",
        Routing::Weighted => "weighted",
    };
    CheckResult::pass(
        r,
        format!("{name}: {routing} records for both regions with reporting health checks"),
    )
}
