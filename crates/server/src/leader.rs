//! Leadership among several control-service instances on the HA store: each instance contends
//! for the environment's lease ([`pilotlight_store::Lease`]); the holder leads ([`Control::lead`])
//! with a journal fenced by its epoch, renews every third of the lease duration, and stands by
//! ([`Control::stand_by`]) as soon as its grant lapses unrenewed or is lost. The others stand by
//! and try again every third of the duration; a takeover happens only after a whole lease
//! duration of the contender's own monotonic clock (see `pilotlight_store::lease`).
//!
//! Two layers keep a deposed leader from acting:
//! - the journal's fence: every write of a leader carries its epoch, and a write after a
//!   takeover is rejected — the executor persists intent before every action, so an action whose
//!   intent was rejected is never sent;
//! - the [`LeaderGuard`] in front of the actuator: an action is sent only while the grant is
//!   valid on this process's monotonic clock, so a leader frozen between recording its intent and
//!   sending the call (SIGSTOP, a long pause) does not send it when it wakes after its grant
//!   ended; it waits, and its drive is stopped when the lease turns out lost. The same guard is
//!   the AWS retry layer's send gate ([`SendGate`]): it is checked again before every attempt of
//!   a change, so a retry after a backoff or a timeout that the freeze outlasted is held too.

use crate::control::{Acting, Control, LeaderSeen};
use pilotlight_core::capability::{Actuator, Observation, SendGate};
use pilotlight_core::error::CapabilityError;
use pilotlight_core::plan::Action;
use pilotlight_store::lease::{Grant, Lease, LeaseError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::{info, warn};

/// Until when (monotonic) this instance may act; shared by the election loop, which sets it on
/// every grant, and the [`GuardedActuator`], which checks it before every action.
#[derive(Debug, Clone, Default)]
pub struct LeaderGuard(Arc<Mutex<Option<Instant>>>);

impl LeaderGuard {
    /// A guard that allows nothing until [`LeaderGuard::grant`].
    pub fn new() -> LeaderGuard {
        LeaderGuard::default()
    }

    /// Allow acting until `expires`.
    pub fn grant(&self, expires: Instant) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(expires);
    }

    /// Allow nothing any more.
    pub fn revoke(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Whether acting is allowed at `now`.
    pub fn allows(&self, now: Instant) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|until| now < until)
    }

    /// Wait until acting is allowed (a renewal), checking every `poll`. A drive whose leadership
    /// ended is stopped by [`Control::stand_by`] while it waits here.
    pub async fn wait(&self, poll: Duration) {
        let mut warned = false;
        while !self.allows(Instant::now()) {
            if !warned {
                warn!("the lease is not renewed: holding the action until it is (or another instance takes over)");
                warned = true;
            }
            tokio::time::sleep(poll).await;
        }
    }
}

#[async_trait::async_trait]
impl SendGate for LeaderGuard {
    /// Waits for a valid grant, as [`LeaderGuard::wait`]: the AWS retry layer calls it before
    /// every attempt of a change, retries included.
    async fn wait_open(&self) {
        self.wait(GUARD_POLL).await;
    }
}

/// An actuator that sends an action (`act`, `force`) only while the [`LeaderGuard`] allows it.
/// Reads (`observe`, `health`) pass through.
pub struct GuardedActuator {
    inner: Arc<dyn Actuator>,
    guard: LeaderGuard,
}

impl GuardedActuator {
    /// `inner`, guarded by `guard`.
    pub fn new(inner: Arc<dyn Actuator>, guard: LeaderGuard) -> GuardedActuator {
        GuardedActuator { inner, guard }
    }
}

const GUARD_POLL: Duration = Duration::from_millis(100);

#[async_trait::async_trait]
impl Actuator for GuardedActuator {
    async fn observe(&self, action: &Action) -> Result<Observation, CapabilityError> {
        self.inner.observe(action).await
    }

    async fn act(&self, action: &Action) -> Result<String, CapabilityError> {
        self.guard.wait(GUARD_POLL).await;
        self.inner.act(action).await
    }

    async fn health(&self, action: &Action) -> Result<Observation, CapabilityError> {
        self.inner.health(action).await
    }

    async fn force(&self, action: &Action) -> Result<String, CapabilityError> {
        self.guard.wait(GUARD_POLL).await;
        self.inner.force(action).await
    }
}

/// Builds what a new leader acts with from its epoch: the journal fenced by that epoch and an
/// executor over it whose actuator is guarded by the election's [`LeaderGuard`].
pub type MakeActing = Arc<dyn Fn(u64) -> Acting + Send + Sync>;

/// One instance's part in the election.
pub struct Election {
    /// The environment's lease.
    pub lease: Arc<dyn Lease>,
    /// This instance's unique name (the lease holder).
    pub holder: String,
    /// The lease duration (renewals every third of it).
    pub lease_duration: Duration,
    /// Set on every grant, revoked when leadership ends; guard the actuator with it.
    pub guard: LeaderGuard,
    /// What a leader acts with.
    pub make_acting: MakeActing,
}

/// What an instance is, for the API and logs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Role {
    /// This instance's name.
    pub instance: String,
    /// Whether it leads now.
    pub leader: bool,
    /// The epoch of its leadership, while it leads.
    pub epoch: Option<u64>,
}

/// Contend for the lease until `shutdown`, leading `control` while this instance holds it.
/// `role` reports changes. On shutdown a leader stands by and releases the lease, so another
/// instance takes over at once instead of after a lease duration.
pub async fn run(
    control: Control,
    election: Election,
    role: watch::Sender<Role>,
    mut shutdown: watch::Receiver<bool>,
) {
    control.stand_by();
    election.guard.revoke();
    let every = election.lease_duration / 3;
    let mut grant: Option<Grant> = None;
    let set_role = |epoch: Option<u64>| {
        role.send_replace(Role {
            instance: election.holder.clone(),
            leader: epoch.is_some(),
            epoch,
        });
    };
    set_role(None);
    loop {
        grant = match grant.take() {
            None => match election.lease.acquire(&election.holder).await {
                Ok(Some(g)) => {
                    election.guard.grant(g.expires);
                    info!(instance = %election.holder, epoch = g.epoch, "lease acquired: leading");
                    let acting = (election.make_acting)(g.epoch);
                    match control.lead(acting).await {
                        Ok(()) => {
                            set_role(Some(g.epoch));
                            Some(g)
                        }
                        Err(e) => {
                            // Could not even read the active run: give the lease back.
                            warn!(error = %e, "cannot lead; releasing the lease");
                            step_down(&control, &election, &g).await;
                            set_role(None);
                            None
                        }
                    }
                }
                Ok(None) => None,
                Err(e) => {
                    warn!(instance = %election.holder, error = %e, "cannot read the lease; standing by");
                    None
                }
            },
            Some(g) => match election.lease.renew(&g).await {
                Ok(renewed) => {
                    election.guard.grant(renewed.expires);
                    Some(renewed)
                }
                Err(LeaseError::Lost { .. }) => {
                    warn!(instance = %election.holder, epoch = g.epoch, "lease lost: another instance leads; standing by");
                    election.guard.revoke();
                    control.stand_by();
                    set_role(None);
                    None
                }
                Err(e) if g.is_valid_at(Instant::now()) => {
                    warn!(error = %e, "cannot renew the lease; trying again while the grant lasts");
                    Some(g)
                }
                Err(e) => {
                    warn!(error = %e, epoch = g.epoch, "the grant ended unrenewed; standing by");
                    election.guard.revoke();
                    control.stand_by();
                    set_role(None);
                    None
                }
            },
        };
        control.set_leader_seen(election.lease.last_seen().and_then(|l| {
            l.holder.map(|instance| LeaderSeen {
                instance,
                address: l.address,
                epoch: l.epoch,
            })
        }));
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => break,
        }
    }
    if let Some(g) = grant {
        step_down(&control, &election, &g).await;
    }
    set_role(None);
}

async fn step_down(control: &Control, election: &Election, grant: &Grant) {
    election.guard.revoke();
    control.stand_by();
    match election.lease.release(grant).await {
        Ok(()) => info!(instance = %election.holder, epoch = grant.epoch, "lease released"),
        Err(e) => {
            warn!(error = %e, "cannot release the lease; another instance takes over when it expires")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_allows_only_within_a_grant() {
        let g = LeaderGuard::new();
        let now = Instant::now();
        assert!(!g.allows(now), "nothing before a grant");
        g.grant(now + Duration::from_secs(1));
        assert!(g.allows(now));
        assert!(!g.allows(now + Duration::from_secs(1)), "ends at expiry");
        g.revoke();
        assert!(!g.allows(now));
    }
}
