//! What a failback needs beyond failover: fencing a database instance (read-only parameter
//! group, or stopped), retiring a fenced instance (deleted, final snapshot kept), reprotecting
//! (a cross-region read replica of the serving database), the health of the record set a
//! gradual shift moves traffic to, and releasing the scale-in protection of routers that an
//! operator decided not to wait for.

use super::{in_service, terminal, AwsActuator, Shift};
use pilotlight_core::capability::Observation;
use pilotlight_core::runbook::Side;
use pilotlight_core::CapabilityError;
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::{debug, info};

/// Statuses of an instance that is being deleted.
const DELETING: &[&str] = &["deleting"];

/// Whether an instance is fenced (not writable), given its status, read-replica source and
/// parameter groups with their apply status, for the fence parameter group `group`.
/// Returns (fenced, under way).
pub fn fence_state(
    status: &str,
    replica_of: Option<&str>,
    groups: &[(String, String)],
    group: Option<&str>,
) -> (bool, bool) {
    if replica_of.is_some_and(|s| !s.is_empty()) {
        return (true, false);
    }
    match status {
        "stopped" => return (true, false),
        "stopping" | "deleting" => return (false, true),
        _ => {}
    }
    if let Some(g) = group {
        if let Some((_, apply)) = groups.iter().find(|(n, _)| n.eq_ignore_ascii_case(g)) {
            return match apply.as_str() {
                "in-sync" => (true, false),
                _ => (false, true),
            };
        }
    }
    (false, status == "modifying")
}

impl AwsActuator {
    #[tracing::instrument(skip_all, fields(kind = "rds", region = %region, instance = %instance))]
    pub(super) async fn observe_fence(
        &self,
        region: &str,
        instance: &str,
        group: Option<&str>,
    ) -> Result<Observation, CapabilityError> {
        let Some(db) = self.db_instance_opt(region, instance).await? else {
            return Ok(Observation {
                live: "absent (nothing to write to)".into(),
                done: true,
                in_progress: false,
            });
        };
        let status = db.db_instance_status().unwrap_or("unknown");
        let source = db.read_replica_source_db_instance_identifier();
        let groups: Vec<(String, String)> = db
            .db_parameter_groups()
            .iter()
            .map(|g| {
                (
                    g.db_parameter_group_name().unwrap_or_default().to_string(),
                    g.parameter_apply_status().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let (done, in_progress) = fence_state(status, source, &groups, group);
        let groups_text = groups
            .iter()
            .map(|(n, a)| format!("{n} ({a})"))
            .collect::<Vec<_>>()
            .join(", ");
        let live = match source.filter(|s| !s.is_empty()) {
            Some(s) => format!("status {status}, read replica of {s} (read-only)"),
            None => format!("status {status}, parameter groups {groups_text}"),
        };
        debug!(status, done, in_progress, "observed fence");
        Ok(Observation {
            live,
            done,
            in_progress,
        })
    }

    #[tracing::instrument(skip_all, fields(kind = "rds", region = %region, instance = %instance))]
    pub(super) async fn fence(
        &self,
        region: &str,
        instance: &str,
        group: Option<&str>,
    ) -> Result<String, CapabilityError> {
        let client = self.rds(region).await;
        match group {
            Some(g) => {
                self.caller
                    .call_change("rds", region, "ModifyDBInstance", || {
                        client
                            .modify_db_instance()
                            .db_instance_identifier(instance)
                            .db_parameter_group_name(g)
                            .apply_immediately(true)
                            .send()
                    })
                    .await
                    .map_err(|mut e| {
                        if e.code.as_deref() == Some("DBParameterGroupNotFound") {
                            e.hint = format!(
                                "create the read-only parameter group `{g}` in {region} \
                                 (e.g. read_only = 1 for MySQL), or fix \
                                 `fence_parameter_group` in the environment config"
                            );
                        }
                        e
                    })?;
                info!(
                    parameter_group = g,
                    "fence: read-only parameter group applied"
                );
                Ok(format!(
                    "ModifyDBInstance {instance} in {region}: parameter group {g}, apply \
                     immediately (read-only)"
                ))
            }
            None => {
                self.caller
                    .call_change("rds", region, "StopDBInstance", || {
                        client
                            .stop_db_instance()
                            .db_instance_identifier(instance)
                            .send()
                    })
                    .await
                    .map_err(|mut e| {
                        if e.code.as_deref() == Some("InvalidDBInstanceState") {
                            e.hint = format!(
                                "`{instance}` cannot be stopped (it may be a replication \
                                 source): set `fence_parameter_group` to a read-only \
                                 parameter group in the environment config"
                            );
                        }
                        e
                    })?;
                info!("fence: instance stop requested");
                Ok(format!("StopDBInstance {instance} in {region}"))
            }
        }
    }

    #[tracing::instrument(skip_all, fields(kind = "rds", region = %region, instance = %instance))]
    pub(super) async fn observe_retire(
        &self,
        region: &str,
        instance: &str,
    ) -> Result<Observation, CapabilityError> {
        let Some(db) = self.db_instance_opt(region, instance).await? else {
            return Ok(Observation {
                live: "absent".into(),
                done: true,
                in_progress: false,
            });
        };
        let status = db.db_instance_status().unwrap_or("unknown");
        Ok(Observation {
            live: format!("status {status}"),
            done: false,
            in_progress: DELETING.contains(&status),
        })
    }

    #[tracing::instrument(skip_all, fields(kind = "rds", region = %region, instance = %instance))]
    pub(super) async fn retire(
        &self,
        region: &str,
        instance: &str,
    ) -> Result<String, CapabilityError> {
        let db = self.db_instance(region, instance).await?;
        let replicas = db.read_replica_db_instance_identifiers();
        if !replicas.is_empty() {
            return Err(terminal(
                "rds",
                region,
                "DeleteDBInstance",
                format!(
                    "`{instance}` is still the source of read replicas {}: deleting it would \
                     cut them loose",
                    replicas.join(", ")
                ),
                "promote (switch over to) the replica first; the runbook must retire only a \
                 superseded, fenced instance",
            ));
        }
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let snapshot = format!("{instance}-pilotlight-final-{secs}");
        let client = self.rds(region).await;
        self.caller
            .call_change("rds", region, "DeleteDBInstance", || {
                client
                    .delete_db_instance()
                    .db_instance_identifier(instance)
                    .skip_final_snapshot(false)
                    .final_db_snapshot_identifier(&snapshot)
                    .delete_automated_backups(false)
                    .send()
            })
            .await?;
        info!(snapshot = %snapshot, "retire: instance deletion requested, final snapshot kept");
        Ok(format!(
            "DeleteDBInstance {instance} in {region}: final snapshot {snapshot} (its data, \
             including writes never replicated, stays recoverable)"
        ))
    }

    #[tracing::instrument(skip_all, fields(kind = "rds", region = %region, instance = %instance))]
    pub(super) async fn observe_reprotect(
        &self,
        region: &str,
        instance: &str,
        source_region: &str,
        source_instance: &str,
    ) -> Result<Observation, CapabilityError> {
        let Some(db) = self.db_instance_opt(region, instance).await? else {
            return Ok(Observation {
                live: "absent".into(),
                done: false,
                in_progress: false,
            });
        };
        let status = db.db_instance_status().unwrap_or("unknown");
        let source = db
            .read_replica_source_db_instance_identifier()
            .unwrap_or_default();
        let of_source = same_instance(source, source_region, source_instance);
        if !of_source {
            return Err(terminal(
                "rds",
                region,
                "DescribeDBInstances",
                format!(
                    "`{instance}` in {region} exists and is not a read replica of \
                     `{source_instance}` in {source_region} (status {status}{})",
                    if source.is_empty() {
                        ", standalone".to_string()
                    } else {
                        format!(", replica of {source}")
                    }
                ),
                "fence and retire it first (steps fence_database and retire_database), then \
                 resume the run",
            ));
        }
        let done = status == "available";
        Ok(Observation {
            live: format!("status {status}, read replica of {source}"),
            done,
            // Any other status is the replica on its way (creating, backing-up, ...), unless
            // RDS gave up on it.
            in_progress: !done && status != "failed" && !status.starts_with("incompatible"),
        })
    }

    #[tracing::instrument(skip_all, fields(kind = "rds", region = %region, instance = %instance))]
    pub(super) async fn reprotect(
        &self,
        region: &str,
        instance: &str,
        source_region: &str,
        source_instance: &str,
    ) -> Result<String, CapabilityError> {
        let source = self.db_instance(source_region, source_instance).await?;
        let arn = source
            .db_instance_arn()
            .unwrap_or(source_instance)
            .to_string();
        let class = source.db_instance_class().map(str::to_string);
        // An encrypted cross-region replica needs a key in its own region: the replica of the
        // source's multi-region key there.
        let kms_key = match source.kms_key_id().filter(|_| source.storage_encrypted() == Some(true)) {
            None => None,
            Some(key) => Some(key_in_region(key, region).ok_or_else(|| {
                terminal(
                    "rds",
                    region,
                    "CreateDBInstanceReadReplica",
                    format!(
                        "`{source_instance}` is encrypted with `{key}`, which is not a multi-region \
                         key: a replica in {region} needs a key there"
                    ),
                    format!(
                        "encrypt the database with a multi-region KMS key replicated to {region}, \
                         or create the replica by hand with a key of {region}"
                    ),
                )
            })?),
        };
        let client = self.rds(region).await;
        self.caller
            .call_change("rds", region, "CreateDBInstanceReadReplica", || {
                client
                    .create_db_instance_read_replica()
                    .db_instance_identifier(instance)
                    .source_db_instance_identifier(&arn)
                    .set_db_instance_class(class.clone())
                    .set_kms_key_id(kms_key.clone())
                    .send()
            })
            .await?;
        info!(source = %arn, "reprotect: cross-region read replica requested");
        Ok(format!(
            "CreateDBInstanceReadReplica {instance} in {region} from {arn}"
        ))
    }

    /// Health of the record set a shift sends traffic to: its health check's status as Route 53's
    /// checkers report it; healthy when at least half of them report success.
    #[tracing::instrument(skip_all, fields(kind = "route53", record = %shift.record_name, to = ?shift.to))]
    pub(super) async fn serving_health(
        &self,
        shift: &Shift<'_>,
    ) -> Result<Observation, CapabilityError> {
        let (primary, dr) = self.record_pair(shift).await?;
        let (set, name) = match shift.to {
            Side::Primary => (primary, shift.primary_set),
            Side::Dr => (dr, shift.dr_set),
        };
        let set = set.ok_or_else(|| self.missing_set(shift, name))?;
        let id = set.health_check_id().ok_or_else(|| {
            terminal(
                "route53",
                &self.route53_region,
                "ListResourceRecordSets",
                format!(
                    "record set `{name}` of {} has no health check: a gradual shift needs one \
                     to judge each step",
                    shift.record_name
                ),
                "attach a health check to the record set, or shift without `weights`",
            )
        })?;
        let region = self.route53_region.as_str();
        let client = self.route53().await;
        let out = self
            .caller
            .call("route53", region, "GetHealthCheckStatus", || {
                client.get_health_check_status().health_check_id(id).send()
            })
            .await?;
        let status = crate::health::HealthCheckStatus::from_output(id, &out);
        Ok(Observation {
            live: format!(
                "health check {id}: {} of {} checkers report success",
                status.healthy_count(),
                status.checkers.len()
            ),
            done: status.is_healthy() == Some(true),
            in_progress: false,
        })
    }

    /// Release the scale-in protection of the group's protected instances and set the desired
    /// capacity again, so the group scales in to `desired`.
    #[tracing::instrument(skip_all, fields(kind = "autoscaling", region = %region, group = %group))]
    pub(super) async fn release_scale_in_protection(
        &self,
        region: &str,
        group: &str,
        desired: u32,
    ) -> Result<String, CapabilityError> {
        let g = self.asg(region, group).await?;
        let protected: Vec<String> = g
            .instances()
            .iter()
            .filter(|i| i.protected_from_scale_in() == Some(true))
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect();
        let client = self.autoscaling(region).await;
        // SetInstanceProtection takes at most 50 instances per call.
        for chunk in protected.chunks(50) {
            self.caller
                .call_change("autoscaling", region, "SetInstanceProtection", || {
                    client
                        .set_instance_protection()
                        .auto_scaling_group_name(group)
                        .set_instance_ids(Some(chunk.to_vec()))
                        .protected_from_scale_in(false)
                        .send()
                })
                .await?;
        }
        let target = super::as_i32(desired, "autoscaling", region, "SetDesiredCapacity")?;
        self.caller
            .call_change("autoscaling", region, "SetDesiredCapacity", || {
                client
                    .set_desired_capacity()
                    .auto_scaling_group_name(group)
                    .desired_capacity(target)
                    .honor_cooldown(false)
                    .send()
            })
            .await?;
        info!(
            released = protected.len(),
            in_service = in_service(&g),
            "scale-in protection released"
        );
        Ok(format!(
            "SetInstanceProtection {group} in {region}: released {} ({}); SetDesiredCapacity {desired}",
            protected.len(),
            protected.join(", ")
        ))
    }
}

/// The ARN of multi-region key `key` (an ARN of an `mrk-` key) in `region`; `None` for a key
/// that is not multi-region.
pub fn key_in_region(key: &str, region: &str) -> Option<String> {
    let parts: Vec<&str> = key.split(':').collect();
    if parts.len() == 6 && parts[0] == "arn" && parts[5].starts_with("key/mrk-") {
        let mut p = parts.clone();
        p[3] = region;
        Some(p.join(":"))
    } else {
        None
    }
}

/// Whether `source` (an identifier or an ARN) names `instance` in `region`.
fn same_instance(source: &str, region: &str, instance: &str) -> bool {
    if source.starts_with("arn:") {
        let parts: Vec<&str> = source.split(':').collect();
        parts.get(3) == Some(&region)
            && parts
                .last()
                .is_some_and(|id| id.eq_ignore_ascii_case(instance))
    } else {
        source.eq_ignore_ascii_case(instance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(g: &[(&str, &str)]) -> Vec<(String, String)> {
        g.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn fence_states() {
        let ro = Some("ro");
        assert_eq!(fence_state("stopped", None, &[], None), (true, false));
        assert_eq!(fence_state("stopping", None, &[], None), (false, true));
        assert_eq!(fence_state("available", None, &[], None), (false, false));
        assert_eq!(
            fence_state("available", Some("arn:x"), &[], None),
            (true, false)
        );
        let applied = groups(&[("ro", "in-sync")]);
        assert_eq!(fence_state("available", None, &applied, ro), (true, false));
        let applying = groups(&[("ro", "applying")]);
        assert_eq!(fence_state("available", None, &applying, ro), (false, true));
        let other = groups(&[("default.mysql8.0", "in-sync")]);
        assert_eq!(fence_state("available", None, &other, ro), (false, false));
        assert_eq!(fence_state("modifying", None, &other, ro), (false, true));
    }

    #[test]
    fn multi_region_keys_map_to_their_replica_region() {
        let key = "arn:aws:kms:us-west-2:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab";
        assert_eq!(
            key_in_region(key, "us-east-1").as_deref(),
            Some("arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab")
        );
        let single = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(key_in_region(single, "us-east-1"), None);
        assert_eq!(key_in_region("alias/x", "us-east-1"), None);
    }

    #[test]
    fn sources_match_by_arn_or_id() {
        let arn = "arn:aws:rds:us-west-2:123456789012:db:confer-db-dr";
        assert!(same_instance(arn, "us-west-2", "confer-db-dr"));
        assert!(!same_instance(arn, "us-east-1", "confer-db-dr"));
        assert!(!same_instance(arn, "us-west-2", "confer-db"));
        assert!(same_instance("Confer-DB", "any", "confer-db"));
        assert!(!same_instance("", "us-west-2", "confer-db"));
    }
}
