//! RDS read-replica promotion as AWS shows it.
//!
//! moto accepts `PromoteReadReplica` but changes nothing a client can see: the instance stays
//! `available` with its `ReadReplicaSourceDBInstanceIdentifier`, the source keeps listing it in
//! `ReadReplicaDBInstanceIdentifiers`, and a second promotion (or the promotion of an instance
//! that never was a replica) succeeds again. This layer, for RDS query-protocol calls:
//!
//! - before forwarding `PromoteReadReplica`: answers HTTP 400 `InvalidDBInstanceState` ("DB
//!   Instance is not a read replica.") without forwarding when the instance was already
//!   promoted through the proxy, or when moto describes it without a read-replica source; and
//!   HTTP 404 `DBInstanceNotFound` (moto's own answer to a `DescribeDBInstances` of it) when
//!   moto does not know it (moto itself fails such a promotion with an HTML HTTP 500);
//! - after moto accepted it: records (region, instance) as promoted at that instant, to complete
//!   after the promotion delay in force then ([`Settings`]);
//! - in every answer carrying `<DBInstance>` elements (`DescribeDBInstances`, the promotion's
//!   own answer, `ModifyDBInstance`, `DeleteDBInstance`, ...): while a promotion is under way,
//!   `DescribeDBInstances` and `PromoteReadReplica` show `<DBInstanceStatus>modifying` and the
//!   source is kept; once complete, `<ReadReplicaSourceDBInstanceIdentifier>` is removed (moto's
//!   status is kept) and the instance disappears from every other instance's
//!   `<ReadReplicaDBInstanceIdentifiers>` (in any region: cross-region replicas are listed by
//!   ARN, same-region ones by identifier);
//! - after a successful `DeleteDBInstance`: forgets the promotion, and keeps the deleted
//!   instance out of source lists (moto keeps listing a replica that was promoted and then
//!   deleted); a later successful `CreateDBInstanceReadReplica` with the same identifier is
//!   listed again.
//!
//! Identifiers compare case-insensitively (RDS stores them in lower case). Promotions done
//! directly in moto, bypassing the proxy, are not seen.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::body::Body;
use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use super::super::call::Call;
use super::super::responses::{query_error, EMULATED_HEADER};
use super::super::upstream::{Buffered, Upstream};
use super::super::xml;
use super::Layer;

/// XML namespace of RDS answers (API version 2014-10-31).
pub(crate) const RDS_NAMESPACE: &str = "http://rds.amazonaws.com/doc/2014-10-31/";

/// AWS's message when `PromoteReadReplica` names an instance that is not a read replica.
pub(crate) const NOT_A_READ_REPLICA: &str = "DB Instance is not a read replica.";

/// The status a promoting instance shows until its promotion completes.
pub(crate) const PROMOTING_STATUS: &str = "modifying";

/// Longest accepted promotion delay (one hour).
pub(crate) const MAX_PROMOTION_DELAY: Duration = Duration::from_secs(3600);

/// The RDS operations whose answers this layer reads or rewrites.
const OPERATIONS: &[&str] = &[
    "PromoteReadReplica",
    "DescribeDBInstances",
    "DeleteDBInstance",
    "CreateDBInstanceReadReplica",
    "ModifyDBInstance",
    "RebootDBInstance",
    "StartDBInstance",
    "StopDBInstance",
];

/// Runtime settings of the emulation that are not fault rules (see `EmulatorControl`).
#[derive(Debug, Default)]
pub(crate) struct Settings {
    promotion_delay_ms: AtomicU64,
}

impl Settings {
    /// Settings with this promotion delay (already validated).
    pub fn new(promotion_delay: Duration) -> Settings {
        let settings = Settings::default();
        settings.set_promotion_delay(promotion_delay);
        settings
    }

    /// How long a promotion shows `modifying` before it completes.
    pub fn promotion_delay(&self) -> Duration {
        Duration::from_millis(self.promotion_delay_ms.load(Ordering::Relaxed))
    }

    /// Sets the delay of promotions started from now on.
    pub fn set_promotion_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.promotion_delay_ms.store(ms, Ordering::Relaxed);
    }
}

/// (region, identifier in lower case).
type Key = (String, String);

fn key(region: &str, instance: &str) -> Key {
    (region.to_owned(), instance.to_ascii_lowercase())
}

/// One recorded promotion.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// The region of the promoted instance.
    pub region: String,
    /// The identifier as the client wrote it.
    pub instance: String,
    /// When moto accepted the promotion.
    pub promoted_at: Instant,
    /// When the promotion completes (`promoted_at` + the delay then in force).
    pub completes_at: Instant,
}

/// Where a recorded promotion stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Under way: the instance shows `modifying` and still its source.
    Promoting,
    /// Complete: a standalone instance.
    Promoted,
}

#[derive(Debug, Default)]
struct State {
    promoted: BTreeMap<Key, Record>,
    /// Instances that are no replica of anything although moto's source may still list them
    /// (deleted through the proxy).
    detached: BTreeSet<Key>,
}

/// The promotions seen by the proxy, shared by the layer and `EmulatorControl`.
#[derive(Debug, Default)]
pub(crate) struct Promotions {
    state: Mutex<State>,
}

impl Promotions {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where the promotion of `instance` in `region` stands at `now`, if there is one.
    pub fn phase(&self, region: &str, instance: &str, now: Instant) -> Option<Phase> {
        self.lock()
            .promoted
            .get(&key(region, instance))
            .map(|r| phase_of(r, now))
    }

    /// Records a promotion accepted at `now`, completing after `delay`. A promotion already
    /// recorded is kept (two promotions racing through `before` both reach moto).
    pub fn record(&self, region: &str, instance: &str, now: Instant, delay: Duration) {
        let mut state = self.lock();
        let k = key(region, instance);
        state.detached.remove(&k);
        state.promoted.entry(k).or_insert_with(|| Record {
            region: region.to_owned(),
            instance: instance.to_owned(),
            promoted_at: now,
            completes_at: now + delay,
        });
    }

    /// The instance was deleted: forget its promotion and hide it from source lists.
    /// Returns whether it had been promoted.
    pub fn deleted(&self, region: &str, instance: &str) -> bool {
        let mut state = self.lock();
        let k = key(region, instance);
        let was_promoted = state.promoted.remove(&k).is_some();
        state.detached.insert(k);
        was_promoted
    }

    /// A read replica with this identifier was (re)created: list it again.
    pub fn replica_created(&self, region: &str, instance: &str) {
        let mut state = self.lock();
        let k = key(region, instance);
        state.detached.remove(&k);
        state.promoted.remove(&k);
    }

    /// Whether a source must no longer list the replica `instance` of `region` at `now`.
    pub fn hides(&self, region: &str, instance: &str, now: Instant) -> bool {
        let state = self.lock();
        let k = key(region, instance);
        state.detached.contains(&k)
            || state
                .promoted
                .get(&k)
                .is_some_and(|r| phase_of(r, now) == Phase::Promoted)
    }

    /// Every recorded promotion, by region and identifier.
    pub fn records(&self) -> Vec<Record> {
        self.lock().promoted.values().cloned().collect()
    }

    /// Forgets everything (moto was reset).
    pub fn clear(&self) {
        let mut state = self.lock();
        state.promoted.clear();
        state.detached.clear();
    }
}

fn phase_of(record: &Record, now: Instant) -> Phase {
    if now < record.completes_at {
        Phase::Promoting
    } else {
        Phase::Promoted
    }
}

/// (region, identifier) of an instance reference: an ARN
/// (`arn:aws:rds:us-west-2:123456789012:db:orders-dr`) names its region, a bare identifier is in
/// `default_region`.
pub(crate) fn locate(reference: &str, default_region: &str) -> (String, String) {
    let parts: Vec<&str> = reference.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "rds", region, _, "db", id] => ((*region).to_owned(), (*id).to_owned()),
        _ => (default_region.to_owned(), reference.to_owned()),
    }
}

/// What moto says about the instance a promotion names.
#[derive(Debug)]
enum InMoto {
    /// A read replica: the promotion goes to moto.
    Replica,
    /// An instance without a read-replica source.
    NotAReplica,
    /// Not found: moto's `DescribeDBInstances` error answer.
    NotFound(Buffered),
    /// moto could not be asked, or answered something else: let moto answer the promotion.
    Unknown,
}

/// The layer emulating promotion state.
#[derive(Debug, Clone)]
pub(crate) struct RdsPromotion {
    promotions: Arc<Promotions>,
    settings: Arc<Settings>,
}

impl RdsPromotion {
    /// A layer recording into `promotions`, with the delay of `settings`.
    pub fn new(promotions: Arc<Promotions>, settings: Arc<Settings>) -> RdsPromotion {
        RdsPromotion {
            promotions,
            settings,
        }
    }

    /// What moto's `DescribeDBInstances` says about `instance`.
    async fn in_moto(&self, region: &str, instance: &str, moto: &Upstream) -> InMoto {
        let params = [
            ("Action", "DescribeDBInstances"),
            ("Version", "2014-10-31"),
            ("DBInstanceIdentifier", instance),
        ];
        let answer = match moto.query("rds", region, &params).await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!(region, instance, error = %e, "emulator: replica check failed");
                return InMoto::Unknown;
            }
        };
        if answer.status == StatusCode::NOT_FOUND {
            let code = xml::text(&String::from_utf8_lossy(&answer.body), "Code");
            if code.as_deref() == Some("DBInstanceNotFound") {
                return InMoto::NotFound(answer);
            }
        }
        if answer.status != StatusCode::OK {
            return InMoto::Unknown;
        }
        let doc = String::from_utf8_lossy(&answer.body);
        let Some(block) = xml::elements(&doc, "DBInstance")
            .into_iter()
            .map(|e| doc[e.outer].to_owned())
            .find(|b| {
                xml::text(b, "DBInstanceIdentifier")
                    .is_some_and(|id| id.eq_ignore_ascii_case(instance))
            })
        else {
            return InMoto::Unknown;
        };
        let source = xml::text(&block, "ReadReplicaSourceDBInstanceIdentifier");
        if source.is_some_and(|s| !s.trim().is_empty()) {
            InMoto::Replica
        } else {
            InMoto::NotAReplica
        }
    }

    /// Rewrites the `<DBInstance>` elements of an answer asked in `region`; `None` if nothing
    /// changed. `show_status` applies the `modifying` status of promotions under way.
    fn rewrite(&self, doc: &str, region: &str, show_status: bool, now: Instant) -> Option<String> {
        let mut edits = Vec::new();
        for element in xml::elements(doc, "DBInstance") {
            let original = &doc[element.outer.clone()];
            let mut block = original.to_owned();
            if let Some(id) = xml::text(&block, "DBInstanceIdentifier") {
                match self.promotions.phase(region, &id, now) {
                    Some(Phase::Promoting) if show_status => {
                        if let Some(b) = xml::set_text(&block, "DBInstanceStatus", PROMOTING_STATUS)
                        {
                            block = b;
                        }
                    }
                    Some(Phase::Promoted) => {
                        if let Some(b) =
                            xml::remove(&block, "ReadReplicaSourceDBInstanceIdentifier")
                        {
                            block = b;
                        }
                    }
                    _ => {}
                }
            }
            if let Some(b) = xml::retain(&block, "ReadReplicaDBInstanceIdentifier", |replica| {
                let (r, id) = locate(replica, region);
                !self.promotions.hides(&r, &id, now)
            }) {
                block = b;
            }
            if block != original {
                edits.push((element.outer, block));
            }
        }
        (!edits.is_empty()).then(|| xml::splice(doc, edits))
    }
}

/// moto's answer to one of the layer's own calls, handed to the client as the answer.
fn xml_answer(answer: Buffered) -> Response<Body> {
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = answer.status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    headers.insert(EMULATED_HEADER, HeaderValue::from_static("rds-promotion"));
    response
}

#[async_trait]
impl Layer for RdsPromotion {
    fn wants(&self, call: &Call) -> bool {
        call.service.as_deref() == Some("rds")
            && call
                .operation
                .as_deref()
                .is_some_and(|op| OPERATIONS.contains(&op))
    }

    async fn before(
        &self,
        call: &Call,
        request: &mut Bytes,
        moto: &Upstream,
    ) -> Option<Response<Body>> {
        if call.operation.as_deref() != Some("PromoteReadReplica") {
            return None;
        }
        let given = call.param(request, "DBInstanceIdentifier")?;
        let (region, instance) = locate(&given, call.region.as_deref()?);
        let recorded = self.promotions.phase(&region, &instance, Instant::now());
        if recorded.is_none() {
            match self.in_moto(&region, &instance, moto).await {
                InMoto::Replica | InMoto::Unknown => return None,
                InMoto::NotAReplica => {}
                InMoto::NotFound(answer) => {
                    tracing::info!(
                        region,
                        instance,
                        "emulator: PromoteReadReplica of an unknown instance"
                    );
                    return Some(xml_answer(answer));
                }
            }
        }
        tracing::info!(
            region,
            instance,
            already_promoted = recorded.is_some(),
            "emulator: PromoteReadReplica refused (not a read replica)"
        );
        Some(query_error(
            StatusCode::BAD_REQUEST,
            RDS_NAMESPACE,
            "InvalidDBInstanceState",
            NOT_A_READ_REPLICA,
            "rds-promotion",
        ))
    }

    async fn after(
        &self,
        call: &Call,
        request: &Bytes,
        status: StatusCode,
        response: &mut Bytes,
        _moto: &Upstream,
    ) -> bool {
        if status != StatusCode::OK {
            return false;
        }
        let Some(region) = call.region.as_deref() else {
            return false;
        };
        let operation = call.operation.as_deref().unwrap_or_default();
        let now = Instant::now();
        let target = call
            .param(request, "DBInstanceIdentifier")
            .map(|given| locate(&given, region));
        match (operation, &target) {
            ("PromoteReadReplica", Some((r, id))) => {
                let delay = self.settings.promotion_delay();
                self.promotions.record(r, id, now, delay);
                tracing::info!(
                    region = r,
                    instance = id,
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "emulator: RDS promotion recorded"
                );
            }
            ("CreateDBInstanceReadReplica", Some((r, id))) => {
                self.promotions.replica_created(r, id)
            }
            _ => {}
        }
        let show_status = matches!(operation, "PromoteReadReplica" | "DescribeDBInstances");
        let rewritten = std::str::from_utf8(response)
            .ok()
            .and_then(|doc| self.rewrite(doc, region, show_status, now));
        if let ("DeleteDBInstance", Some((r, id))) = (operation, &target) {
            let was_promoted = self.promotions.deleted(r, id);
            tracing::debug!(
                region = r,
                instance = id,
                was_promoted,
                "emulator: RDS instance deleted"
            );
        }
        match rewritten {
            Some(doc) => {
                *response = Bytes::from(doc);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(id: &str, status: &str, source: Option<&str>, replicas: &[&str]) -> String {
        let source = source
            .map(|s| format!("<ReadReplicaSourceDBInstanceIdentifier>{s}</ReadReplicaSourceDBInstanceIdentifier>"))
            .unwrap_or_default();
        let replicas = if replicas.is_empty() {
            "<ReadReplicaDBInstanceIdentifiers/>".to_owned()
        } else {
            let items: String = replicas
                .iter()
                .map(|r| {
                    format!(
                        "<ReadReplicaDBInstanceIdentifier>{r}</ReadReplicaDBInstanceIdentifier>"
                    )
                })
                .collect();
            format!("<ReadReplicaDBInstanceIdentifiers>{items}</ReadReplicaDBInstanceIdentifiers>")
        };
        format!(
            "<DBInstance><DBInstanceIdentifier>{id}</DBInstanceIdentifier>\
             <DBInstanceStatus>{status}</DBInstanceStatus>{source}{replicas}</DBInstance>"
        )
    }

    fn layer() -> RdsPromotion {
        RdsPromotion::new(Arc::default(), Arc::default())
    }

    #[test]
    fn locates_arns_and_bare_identifiers() {
        assert_eq!(
            locate(
                "arn:aws:rds:us-west-2:123456789012:db:orders-dr",
                "us-east-1"
            ),
            ("us-west-2".to_owned(), "orders-dr".to_owned())
        );
        assert_eq!(
            locate("orders-local", "us-east-1"),
            ("us-east-1".to_owned(), "orders-local".to_owned())
        );
    }

    #[test]
    fn promoting_then_promoted() {
        let layer = layer();
        let t0 = Instant::now();
        layer
            .promotions
            .record("us-west-2", "Orders-DR", t0, Duration::from_secs(10));
        let replica = instance(
            "orders-dr",
            "available",
            Some("arn:aws:rds:us-east-1:1:db:orders"),
            &[],
        );
        let doc = format!("<R><DBInstances>{replica}</DBInstances></R>");

        let during = layer.rewrite(&doc, "us-west-2", true, t0).unwrap();
        assert!(during.contains("<DBInstanceStatus>modifying</DBInstanceStatus>"));
        assert!(during.contains("<ReadReplicaSourceDBInstanceIdentifier>"));
        // Other operations' answers keep moto's status; other regions are other instances.
        assert_eq!(layer.rewrite(&doc, "us-west-2", false, t0), None);
        assert_eq!(layer.rewrite(&doc, "us-east-1", true, t0), None);

        let later = t0 + Duration::from_secs(10);
        let after = layer.rewrite(&doc, "us-west-2", true, later).unwrap();
        assert!(after.contains("<DBInstanceStatus>available</DBInstanceStatus>"));
        assert!(!after.contains("ReadReplicaSourceDBInstanceIdentifier"));

        // The source (another region) lists the replica by ARN until the promotion completes.
        let source = instance(
            "orders",
            "available",
            None,
            &[
                "arn:aws:rds:us-west-2:123456789012:db:orders-dr",
                "orders-local",
            ],
        );
        assert_eq!(layer.rewrite(&source, "us-east-1", true, t0), None);
        let listed = layer.rewrite(&source, "us-east-1", true, later).unwrap();
        assert!(!listed.contains("orders-dr"));
        assert!(listed.contains("<ReadReplicaDBInstanceIdentifier>orders-local<"));
    }

    #[test]
    fn deletion_forgets_and_hides_and_a_new_replica_shows_again() {
        let p = Promotions::default();
        let now = Instant::now();
        p.record("us-east-1", "a", now, Duration::ZERO);
        assert_eq!(p.phase("us-east-1", "A", now), Some(Phase::Promoted));
        assert!(p.deleted("us-east-1", "a"));
        assert_eq!(p.phase("us-east-1", "a", now), None);
        assert!(p.hides("us-east-1", "a", now));
        assert!(!p.deleted("us-east-1", "b"));
        p.replica_created("us-east-1", "a");
        assert!(!p.hides("us-east-1", "a", now));
        assert!(p.hides("us-east-1", "b", now));
        p.clear();
        assert!(!p.hides("us-east-1", "b", now));
    }
}
