//! Leader election for several control instances: the [`Lease`] trait and [`DynamoLease`], one
//! item per environment in the lease table, changed only by conditional updates
//! (`version = :v`).
//!
//! # The lease item
//!
//! Key `environment` (S). Attributes: `holder` (S, absent once released), `epoch` (N, the
//! fencing token: incremented on every takeover, checked by every journal write, see
//! [`crate::DynamoJournal::with_fence`]), `version` (N, incremented on every write: acquire,
//! renew, release), `duration_ms` (N), `address` (S, the holder's API base URL, absent when the
//! holder advertised none or released the lease; followers forward actions there), and for
//! people only `heartbeat_ms` / `expires_at_ms` (the writer's wall clock).
//!
//! # Expiry on monotonic time
//!
//! No decision reads a wall-clock time from the item: hosts' clocks may disagree by any amount.
//! A candidate remembers the (holder, version) it saw and the moment it saw it on *its own*
//! monotonic clock ([`Sighting`]); it takes over only if the very same version is still there
//! once its own `lease_duration` has passed since then, with a conditional update on that
//! version. The leader, for its part, counts its grant valid until `lease_duration` after it
//! *sent* the write that granted or renewed it ([`Grant::expires`], also monotonic). The write a
//! candidate saw was sent no later than it was seen, so the leader's grant ends no later than the
//! candidate may take over — whatever the wall clocks say (only the clocks' rates must agree,
//! which monotonic clocks do to a few parts per million). The pure rule is [`decide`].
//!
//! A leader must stop acting once [`Grant::expires`] has passed without a successful renewal
//! (renew every third of the duration or so); if it is frozen and wakes late, the journal's
//! fence rejects its writes anyway.

use crate::dynamodb::{n, s, DynamoError, Item, Table, SERVICE};
use aws_sdk_dynamodb::types::ReturnValue;
use aws_sdk_dynamodb::Client;
use pilotlight_aws::retry::Caller;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Leadership granted to one holder: valid until `expires` (monotonic), fenced by `epoch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The environment led.
    pub environment: String,
    /// Who holds it.
    pub holder: String,
    /// The fencing token: give it to [`crate::DynamoJournal::with_fence`].
    pub epoch: u64,
    /// The lease item's version this grant wrote (renew and release are conditional on it).
    pub version: u64,
    /// Until when (this process's monotonic clock) the holder may act without renewing.
    pub expires: Instant,
}

impl Grant {
    /// Whether the holder may still act at `now`.
    pub fn is_valid_at(&self, now: Instant) -> bool {
        now < self.expires
    }
}

/// Lease failures.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LeaseError {
    /// The lease is no longer this holder's: it was taken over (or released).
    #[error("the lease of {environment} is no longer held by {holder} at epoch {epoch}; stop acting, another instance leads")]
    Lost {
        /// Environment.
        environment: String,
        /// The holder that lost it.
        holder: String,
        /// The epoch it held.
        epoch: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] DynamoError),
}

impl LeaseError {
    /// Only a store failure that is itself retryable is worth retrying; a lost lease is final.
    pub fn is_retryable(&self) -> bool {
        match self {
            LeaseError::Lost { .. } => false,
            LeaseError::Store(e) => e.is_retryable(),
        }
    }
}

/// Leader election for one environment.
#[async_trait::async_trait]
pub trait Lease: Send + Sync {
    /// Try to become leader as `holder`: `Some(grant)` when this call created the lease, or took
    /// over a released one, or one whose holder did not renew for a whole lease duration of this
    /// process's monotonic clock since this process last saw it; `None` otherwise (call again
    /// later, every fraction of the duration). A leader renews with [`Lease::renew`], not this.
    async fn acquire(&self, holder: &str) -> Result<Option<Grant>, LeaseError>;
    /// Extend `grant` by a lease duration from now; `Lost` if another holder took over.
    async fn renew(&self, grant: &Grant) -> Result<Grant, LeaseError>;
    /// Give the lease up, so another holder may take over at once (a no-op if it is no longer
    /// this grant's).
    async fn release(&self, grant: &Grant) -> Result<(), LeaseError>;
    /// The lease item as this contender last read it (no I/O): who holds it and where it
    /// listens. `None` before the first read.
    fn last_seen(&self) -> Option<LeaseState> {
        None
    }
}

/// What a contender read of the lease item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseState {
    /// The holder; `None` once released.
    pub holder: Option<String>,
    /// The fencing epoch.
    pub epoch: u64,
    /// The item's version.
    pub version: u64,
    /// The holder's API base URL, if it advertised one.
    pub address: Option<String>,
}

/// A (holder, version) a contender saw, and when, on its own monotonic clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    /// The holder seen.
    pub holder: String,
    /// The version seen.
    pub version: u64,
    /// When it was first seen (after the read returned).
    pub at: Instant,
}

/// What a contender does, by [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// There is no lease item: create it (`attribute_not_exists`).
    Create,
    /// Take over `version` (`version = :v`).
    TakeOver {
        /// The version to replace.
        version: u64,
    },
    /// Keep waiting; remember `sighting`; the earliest takeover is at `until`.
    Wait {
        /// What to remember.
        sighting: Sighting,
        /// When the holder's lease has surely ended, if the version does not change.
        until: Instant,
    },
}

/// The takeover rule, pure: `current` is the item just read (at `now`, monotonic), `last` what
/// this contender saw before. A held lease is taken over only when the same (holder, version)
/// was already seen at least `lease_duration` ago; any change restarts the wait. Wall-clock
/// times play no part.
pub fn decide(
    current: Option<&LeaseState>,
    last: Option<&Sighting>,
    now: Instant,
    lease_duration: Duration,
) -> Verdict {
    let Some(current) = current else {
        return Verdict::Create;
    };
    let Some(holder) = &current.holder else {
        return Verdict::TakeOver {
            version: current.version,
        };
    };
    let sighting = match last {
        Some(l) if &l.holder == holder && l.version == current.version => l.clone(),
        _ => Sighting {
            holder: holder.clone(),
            version: current.version,
            at: now,
        },
    };
    let until = sighting.at + lease_duration;
    if now >= until {
        Verdict::TakeOver {
            version: current.version,
        }
    } else {
        Verdict::Wait { sighting, until }
    }
}

/// The lease on DynamoDB: one item per environment in the lease table. Each instance (process)
/// needs its own `DynamoLease` (it remembers what it saw) and a unique holder name.
pub struct DynamoLease {
    table: Table,
    environment: String,
    duration: Duration,
    wall_offset_ms: i64,
    address: Option<String>,
    last: Mutex<Option<Sighting>>,
    seen: Mutex<Option<LeaseState>>,
}

impl std::fmt::Debug for DynamoLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoLease")
            .field("table", &self.table.label())
            .field("environment", &self.environment)
            .field("duration", &self.duration)
            .finish_non_exhaustive()
    }
}

impl DynamoLease {
    /// The lease of `environment` in `table` (region `region`), with `lease_duration`.
    pub fn new(
        client: Client,
        caller: Caller,
        region: impl Into<String>,
        table: impl Into<String>,
        environment: impl Into<String>,
        lease_duration: Duration,
    ) -> DynamoLease {
        DynamoLease {
            table: Table {
                client,
                caller,
                region: region.into(),
                name: table.into(),
            },
            environment: environment.into(),
            duration: lease_duration,
            wall_offset_ms: 0,
            address: None,
            last: Mutex::new(None),
            seen: Mutex::new(None),
        }
    }

    /// Write the informational wall-clock times (`heartbeat_ms`, `expires_at_ms`) as if this
    /// host's clock were `offset_ms` off: for tests of clock skew. Decisions never read them.
    pub fn with_wall_clock_offset(mut self, offset_ms: i64) -> DynamoLease {
        self.wall_offset_ms = offset_ms;
        self
    }

    /// Advertise `address` (this instance's API base URL, such as `http://10.0.1.5:8080`) in
    /// the lease item while this instance holds it, so the others can forward actions to it.
    pub fn with_address(mut self, address: Option<String>) -> DynamoLease {
        self.address = address;
        self
    }

    /// The lease duration.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    fn wall_ms(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        u64::try_from(now.saturating_add(self.wall_offset_ms)).unwrap_or(0)
    }

    fn key(&self) -> Item {
        HashMap::from([("environment".to_string(), s(&self.environment))])
    }

    fn stamps(&self) -> [(&'static str, aws_sdk_dynamodb::types::AttributeValue); 3] {
        let wall = self.wall_ms();
        let d = self.duration.as_millis() as u64;
        [
            (":hb", n(wall)),
            (":exp", n(wall.saturating_add(d))),
            (":d", n(d)),
        ]
    }

    async fn read(&self) -> Result<Option<LeaseState>, DynamoError> {
        let t = &self.table;
        let Some(item) = t.get(self.key()).await? else {
            *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = None;
            return Ok(None);
        };
        let state = LeaseState {
            holder: t.opt_string(&item, "holder")?.filter(|h| !h.is_empty()),
            epoch: t.num(&item, "epoch")?,
            version: t.num(&item, "version")?,
            address: t.opt_string(&item, "address")?.filter(|a| !a.is_empty()),
        };
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(state.clone());
        Ok(Some(state))
    }

    fn remember(&self, s: Option<Sighting>) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = s;
    }

    /// One conditional `UpdateItem` returning the new item, or `None` when the condition failed.
    async fn update(
        &self,
        expression: &str,
        condition: &str,
        values: Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)>,
    ) -> Result<Option<Item>, DynamoError> {
        let t = &self.table;
        let out = t
            .caller
            .call_opt(
                SERVICE,
                &t.region,
                "UpdateItem",
                &["ConditionalCheckFailedException"],
                || {
                    let mut u = t
                        .client
                        .update_item()
                        .table_name(&t.name)
                        .set_key(Some(self.key()))
                        .update_expression(expression)
                        .condition_expression(condition)
                        .return_values(ReturnValue::AllNew);
                    for (k, v) in &values {
                        u = u.expression_attribute_values(*k, v.clone());
                    }
                    u.send()
                },
            )
            .await
            .map_err(|e| t.aws(e))?;
        Ok(out.map(|o| o.attributes.unwrap_or_default()))
    }

    fn grant(&self, holder: &str, item: &Item, sent: Instant) -> Result<Grant, DynamoError> {
        Ok(Grant {
            environment: self.environment.clone(),
            holder: holder.to_string(),
            epoch: self.table.num(item, "epoch")?,
            version: self.table.num(item, "version")?,
            expires: sent + self.duration,
        })
    }
}

#[async_trait::async_trait]
impl Lease for DynamoLease {
    async fn acquire(&self, holder: &str) -> Result<Option<Grant>, LeaseError> {
        let t = &self.table;
        let current = self.read().await?;
        let now = Instant::now();
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let sent = Instant::now();
        match decide(current.as_ref(), last.as_ref(), now, self.duration) {
            Verdict::Wait { sighting, .. } => {
                self.remember(Some(sighting));
                Ok(None)
            }
            Verdict::Create => {
                self.remember(None);
                let mut item = self.key();
                item.insert("holder".into(), s(holder));
                item.insert("epoch".into(), n(1));
                item.insert("version".into(), n(1));
                if let Some(a) = &self.address {
                    item.insert("address".into(), s(a));
                }
                for (k, v) in self.stamps() {
                    let name = match k {
                        ":hb" => "heartbeat_ms",
                        ":exp" => "expires_at_ms",
                        _ => "duration_ms",
                    };
                    item.insert(name.into(), v);
                }
                let created = t
                    .caller
                    .call_opt(
                        SERVICE,
                        &t.region,
                        "PutItem",
                        &["ConditionalCheckFailedException"],
                        || {
                            t.client
                                .put_item()
                                .table_name(&t.name)
                                .set_item(Some(item.clone()))
                                .condition_expression("attribute_not_exists(environment)")
                                .send()
                        },
                    )
                    .await
                    .map_err(|e| t.aws(e))?;
                if created.is_none() {
                    return Ok(None);
                }
                let g = self.grant(holder, &item, sent)?;
                tracing::info!(environment = %self.environment, holder, epoch = g.epoch, "lease created");
                Ok(Some(g))
            }
            Verdict::TakeOver { version } => {
                self.remember(None);
                let mut values = vec![(":h", s(holder)), (":one", n(1)), (":v", n(version))];
                values.extend(self.stamps());
                let set = "SET holder = :h, epoch = epoch + :one, version = version + :one, \
                           heartbeat_ms = :hb, expires_at_ms = :exp, duration_ms = :d";
                let expression = match &self.address {
                    Some(a) => {
                        values.push((":a", s(a)));
                        format!("{set}, address = :a")
                    }
                    None => format!("{set} REMOVE address"),
                };
                let item = self.update(&expression, "version = :v", values).await?;
                let Some(item) = item else { return Ok(None) };
                let g = self.grant(holder, &item, sent)?;
                tracing::info!(
                    environment = %self.environment, holder, epoch = g.epoch,
                    previous = current.and_then(|c| c.holder).unwrap_or_default(),
                    "lease taken over"
                );
                Ok(Some(g))
            }
        }
    }

    async fn renew(&self, grant: &Grant) -> Result<Grant, LeaseError> {
        let sent = Instant::now();
        let mut values = vec![
            (":h", s(&grant.holder)),
            (":e", n(grant.epoch)),
            (":v", n(grant.version)),
            (":one", n(1)),
        ];
        values.extend(self.stamps());
        let item = self
            .update(
                "SET version = version + :one, heartbeat_ms = :hb, expires_at_ms = :exp, duration_ms = :d",
                "version = :v AND holder = :h AND epoch = :e",
                values,
            )
            .await?;
        if let Some(item) = item {
            return Ok(self.grant(&grant.holder, &item, sent)?);
        }
        // A retried renewal whose first attempt was applied finds its own write.
        if let Some(now) = self.read().await? {
            if now.holder.as_deref() == Some(grant.holder.as_str())
                && now.epoch == grant.epoch
                && now.version == grant.version + 1
            {
                return Ok(Grant {
                    version: now.version,
                    expires: sent + self.duration,
                    ..grant.clone()
                });
            }
        }
        tracing::warn!(environment = %self.environment, holder = %grant.holder, epoch = grant.epoch, "lease lost");
        Err(LeaseError::Lost {
            environment: self.environment.clone(),
            holder: grant.holder.clone(),
            epoch: grant.epoch,
        })
    }

    async fn release(&self, grant: &Grant) -> Result<(), LeaseError> {
        let t = &self.table;
        let released = t
            .caller
            .call_opt(
                SERVICE,
                &t.region,
                "UpdateItem",
                &["ConditionalCheckFailedException"],
                || {
                    t.client
                        .update_item()
                        .table_name(&t.name)
                        .set_key(Some(self.key()))
                        .update_expression("REMOVE holder, address SET version = version + :one")
                        .condition_expression("version = :v AND holder = :h AND epoch = :e")
                        .expression_attribute_values(":one", n(1))
                        .expression_attribute_values(":v", n(grant.version))
                        .expression_attribute_values(":h", s(&grant.holder))
                        .expression_attribute_values(":e", n(grant.epoch))
                        .send()
                },
            )
            .await
            .map_err(|e| t.aws(e))?;
        tracing::info!(environment = %self.environment, holder = %grant.holder, epoch = grant.epoch, released = released.is_some(), "lease released");
        Ok(())
    }

    fn last_seen(&self) -> Option<LeaseState> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Duration = Duration::from_secs(10);

    fn held(holder: &str, version: u64) -> LeaseState {
        LeaseState {
            holder: Some(holder.into()),
            epoch: 3,
            version,
            address: None,
        }
    }

    #[test]
    fn no_item_is_created_and_a_released_lease_is_taken_at_once() {
        let t0 = Instant::now();
        assert_eq!(decide(None, None, t0, D), Verdict::Create);
        let released = LeaseState {
            holder: None,
            epoch: 3,
            version: 9,
            address: None,
        };
        assert_eq!(
            decide(Some(&released), None, t0, D),
            Verdict::TakeOver { version: 9 }
        );
    }

    #[test]
    fn a_held_lease_is_taken_only_after_a_whole_duration_of_the_same_version() {
        let t0 = Instant::now();
        let first = decide(Some(&held("a", 5)), None, t0, D);
        let Verdict::Wait { sighting, until } = first else {
            panic!("first sight must wait: {first:?}")
        };
        assert_eq!((sighting.version, sighting.at, until), (5, t0, t0 + D));
        // Just before the duration: still wait, keeping the first sighting.
        let almost = decide(
            Some(&held("a", 5)),
            Some(&sighting),
            t0 + D - Duration::from_millis(1),
            D,
        );
        assert!(matches!(almost, Verdict::Wait { ref sighting, .. } if sighting.at == t0));
        assert_eq!(
            decide(Some(&held("a", 5)), Some(&sighting), t0 + D, D),
            Verdict::TakeOver { version: 5 }
        );
    }

    #[test]
    fn any_renewal_or_new_holder_restarts_the_wait() {
        let t0 = Instant::now();
        let seen = Sighting {
            holder: "a".into(),
            version: 5,
            at: t0,
        };
        let later = t0 + 3 * D;
        for current in [held("a", 6), held("b", 5)] {
            match decide(Some(&current), Some(&seen), later, D) {
                Verdict::Wait { sighting, until } => {
                    assert_eq!(sighting.at, later);
                    assert_eq!(until, later + D);
                }
                other => panic!("a changed lease must restart the wait: {other:?}"),
            }
        }
    }

    #[test]
    fn grants_are_valid_until_they_expire() {
        let t0 = Instant::now();
        let g = Grant {
            environment: "e".into(),
            holder: "a".into(),
            epoch: 1,
            version: 1,
            expires: t0 + D,
        };
        assert!(g.is_valid_at(t0));
        assert!(!g.is_valid_at(t0 + D));
    }

    #[test]
    fn lost_leases_are_final() {
        let e = LeaseError::Lost {
            environment: "e".into(),
            holder: "a".into(),
            epoch: 2,
        };
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("epoch 2"));
    }
}
