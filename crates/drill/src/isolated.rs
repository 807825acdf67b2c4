//! Isolated (non-disruptive) drills: instead of promoting the DR database and scaling the DR
//! services, the drill makes *copies* in the DR region under names that carry the drill id: the
//! DR database restored from a fresh snapshot of the replica, and each ECS service and Auto
//! Scaling group copied at its active size without load balancers or service registries, so
//! nothing that serves is touched. Each copy is verified, then removed, and the region's resource
//! lists are read again to prove that nothing the drill created is left.
//!
//! This module holds the narrow capability trait ([`DrillCopies`], adapter
//! `pilotlight_aws::copies`) and the pure parts: which copies an environment needs
//! ([`copies_for`]) and their names ([`copy_name`]).

use pilotlight_core::error::CapabilityError;
use pilotlight_core::model::EnvironmentConfig;
use serde::{Deserialize, Serialize};

/// What kind of resource a copy is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyKind {
    /// A manual DB snapshot of the DR read replica.
    RdsSnapshot,
    /// A DB instance restored from that snapshot.
    RdsInstance,
    /// A copy of an ECS service in the same DR cluster, without load balancers.
    EcsService,
    /// A copy of an Auto Scaling group, without load balancers or target groups.
    AutoScalingGroup,
}

impl CopyKind {
    /// The kind as the report names it (`rds_snapshot`, `rds_instance`, `ecs_service`,
    /// `autoscaling_group`).
    pub fn name(self) -> &'static str {
        match self {
            CopyKind::RdsSnapshot => "rds_snapshot",
            CopyKind::RdsInstance => "rds_instance",
            CopyKind::EcsService => "ecs_service",
            CopyKind::AutoScalingGroup => "autoscaling_group",
        }
    }
}

/// One resource an isolated drill creates in the DR region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copy {
    /// Kind.
    pub kind: CopyKind,
    /// What it copies: the replica's DB instance id (snapshot), the snapshot id (instance), the
    /// DR service name (ECS) or the DR group name (Auto Scaling).
    pub source: String,
    /// The copy's name: the source's name and the drill id ([`copy_name`]).
    pub name: String,
    /// Region (the DR region).
    pub region: String,
    /// ECS cluster of the service and its copy; `None` for other kinds.
    pub cluster: Option<String>,
    /// Desired count or capacity of the copy (the source's active size); 0 for RDS.
    pub size: u32,
}

/// The cloud side of an isolated drill. Every call is idempotent, so that a drill can be
/// re-run or cleaned up after a crash.
#[async_trait::async_trait]
pub trait DrillCopies: Send + Sync {
    /// Create `copy` from its source. A copy of that name that exists already counts as
    /// created. Returns once the create call is accepted (not when the copy is ready).
    async fn create(&self, copy: &Copy) -> Result<(), CapabilityError>;
    /// Whether the copy works: `Some(evidence)` when it does (`available`, `running 4/4`,
    /// `InService 2/2`), `None` while it is not ready yet.
    async fn verify(&self, copy: &Copy) -> Result<Option<String>, CapabilityError>;
    /// Remove the copy (scale to zero first where the service needs it). A copy that is gone
    /// already counts as removed. Returns once the delete call is accepted.
    async fn remove(&self, copy: &Copy) -> Result<(), CapabilityError>;
    /// Every resource of the four kinds in `region` whose name contains `marker`, read from the
    /// services' own lists (DB instances, manual DB snapshots, the services of each of
    /// `clusters`, Auto Scaling groups), including those still being deleted. The leftover
    /// check of a drill.
    async fn list_marked(
        &self,
        region: &str,
        marker: &str,
        clusters: &[String],
    ) -> Result<Vec<(CopyKind, String)>, CapabilityError>;
}

/// Longest name the copy may have: RDS identifiers allow 63 characters (ECS and Auto Scaling
/// allow 255; one limit for all keeps the names alike).
pub const MAX_NAME: usize = 63;

/// The copy of `source` for drill `drill_id`: `{source}-{drill_id}`, the source shortened so the
/// whole fits in [`MAX_NAME`] characters, with characters RDS does not accept replaced by `-` and
/// no doubled or trailing hyphens.
pub fn copy_name(source: &str, drill_id: &str) -> String {
    let clean = |s: &str| -> String {
        let mut out = String::new();
        for c in s.chars() {
            let c = if c.is_ascii_alphanumeric() { c } else { '-' };
            if c == '-' && (out.is_empty() || out.ends_with('-')) {
                continue;
            }
            out.push(c);
        }
        out.trim_end_matches('-').to_string()
    };
    let id = clean(drill_id);
    let room = MAX_NAME.saturating_sub(id.len() + 1);
    let mut head: String = clean(source).chars().take(room).collect();
    while head.ends_with('-') {
        head.pop();
    }
    if head.is_empty() || !head.starts_with(|c: char| c.is_ascii_alphabetic()) {
        head.insert(0, 'x');
        head.truncate(room.max(1));
    }
    format!("{head}-{id}")
}

/// The copies an isolated drill of `env` makes in DR, in creation order: for each RDS replica a
/// snapshot and an instance restored from it, then each ECS service and Auto Scaling group at its
/// active size. Aurora global databases are not copied (see [`not_copied`]).
pub fn copies_for(env: &EnvironmentConfig, drill_id: &str) -> Vec<Copy> {
    let region = env.regions.dr.clone();
    let mut out = Vec::new();
    for r in &env.rds_replicas {
        let snapshot = copy_name(&r.replica_instance, drill_id);
        out.push(Copy {
            kind: CopyKind::RdsSnapshot,
            source: r.replica_instance.clone(),
            name: snapshot.clone(),
            region: region.clone(),
            cluster: None,
            size: 0,
        });
        out.push(Copy {
            kind: CopyKind::RdsInstance,
            source: snapshot.clone(),
            name: snapshot,
            region: region.clone(),
            cluster: None,
            size: 0,
        });
    }
    for s in &env.ecs_services {
        out.push(Copy {
            kind: CopyKind::EcsService,
            source: s.service.clone(),
            name: copy_name(&s.service, drill_id),
            region: region.clone(),
            cluster: Some(s.cluster.clone()),
            size: s.active_count,
        });
    }
    for g in &env.autoscaling_groups {
        out.push(Copy {
            kind: CopyKind::AutoScalingGroup,
            source: g.group.clone(),
            name: copy_name(&g.group, drill_id),
            region: region.clone(),
            cluster: None,
            size: g.active_capacity,
        });
    }
    out
}

/// What an isolated drill of `env` does not rehearse, one line each, for the report's
/// limitations.
pub fn not_copied(env: &EnvironmentConfig) -> Vec<String> {
    env.aurora_global_clusters
        .iter()
        .map(|a| format!("aurora {}: not copied: an isolated drill does not clone an Aurora secondary cluster (only RDS replicas are restored from a snapshot); rehearse it with a full drill in staging", a.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_names_carry_the_drill_id_and_fit_rds_rules() {
        assert_eq!(
            copy_name("app-db-replica", "drill-20261121-232909-e9bd"),
            "app-db-replica-drill-20261121-232909-e9bd"
        );
        let long = copy_name(&"a".repeat(80), "drill-20261121-232909-e9bd");
        assert_eq!(long.len(), MAX_NAME);
        assert!(long.ends_with("-drill-20261121-232909-e9bd"));
        let odd = copy_name("9_media.routers--", "drill-1");
        assert_eq!(odd, "x9-media-routers-drill-1");
        assert!(!odd.contains("--"));
    }
}
