//! The DynamoDB lease on moto: one leader at a time among contenders (with ±30 s wall-clock
//! offsets), takeover only after the monotonic lease duration, epochs incrementing on every
//! takeover, release, and a stale leader's journal writes fenced after a takeover
//! (`../shared/scenarios.md` scenarios 3 and 4).

mod common;

use pilotlight_core::journal::{Decision, HealthEvent, Journal, JournalError};
use pilotlight_core::run::{Event, RunStatus};
use pilotlight_store::conformance::sample_run;
use pilotlight_store::{Grant, Lease, LeaseError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const D: Duration = Duration::from_millis(1000);

/// Leaderships as (epoch, from, until, holder), on the test's monotonic clock.
type Log = Arc<Mutex<Vec<(u64, Instant, Instant, String)>>>;

async fn acquire_within(lease: &dyn Lease, holder: &str, limit: Duration) -> (Grant, Instant) {
    let start = Instant::now();
    loop {
        if let Some(g) = lease.acquire(holder).await.expect("acquire") {
            return (g, start);
        }
        assert!(
            start.elapsed() < limit,
            "{holder} did not lead within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn takeover_only_after_the_monotonic_lease_duration_and_epochs_increase() {
    let store = common::store().await;
    let a = store.lease("env-takeover", D);
    let b = store.lease("env-takeover", D);
    let ga = a
        .acquire("a")
        .await
        .unwrap()
        .expect("the first holder creates the lease");
    assert_eq!(ga.epoch, 1);
    // While a renews, b never takes over, however long it waits.
    let first_look = Instant::now();
    let mut ga = ga;
    while first_look.elapsed() < D * 2 {
        assert_eq!(
            b.acquire("b").await.unwrap(),
            None,
            "b must not lead while a renews"
        );
        ga = a.renew(&ga).await.expect("a renews");
        assert_eq!(ga.epoch, 1, "renewing keeps the epoch");
        tokio::time::sleep(D / 5).await;
    }
    // a stops renewing (dies): b takes over, but not before a whole duration of its own clock.
    let stopped = Instant::now();
    let (gb, _) = acquire_within(&b, "b", D * 4).await;
    let waited = stopped.elapsed();
    assert!(
        waited >= D,
        "b took over after {waited:?}, before the lease duration {D:?}"
    );
    assert_eq!(gb.epoch, 2, "a takeover increments the epoch");
    assert!(gb.expires > ga.expires, "b's lease starts after a's ended");
    // a's renewal now fails: it lost the lease.
    assert!(matches!(
        a.renew(&ga).await,
        Err(LeaseError::Lost { epoch: 1, .. })
    ));
    // A release hands over at once, with the next epoch.
    b.release(&gb).await.expect("release");
    let c = store.lease("env-takeover", D);
    let t = Instant::now();
    let gc = c
        .acquire("c")
        .await
        .unwrap()
        .expect("a released lease is taken at once");
    assert!(t.elapsed() < D);
    assert_eq!(gc.epoch, 3);
    // Releasing a lease one no longer holds changes nothing.
    b.release(&gb).await.expect("stale release is a no-op");
    assert_eq!(c.renew(&gc).await.expect("c still leads").epoch, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wall_clock_skew_does_not_shorten_the_wait() {
    let store = common::store().await;
    // a's wall clock is 30 s behind, b's 30 s ahead: by wall-clock times in the item, a's lease
    // ended a minute ago from b's point of view.
    let a = store.lease("env-skew", D).with_wall_clock_offset(-30_000);
    let b = store.lease("env-skew", D).with_wall_clock_offset(30_000);
    let ga = a.acquire("a").await.unwrap().expect("a leads");
    let item = store
        .client
        .get_item()
        .table_name(common::LEASE)
        .key(
            "environment",
            aws_sdk_dynamodb::types::AttributeValue::S("env-skew".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let expires_at: i64 = item["expires_at_ms"].as_n().unwrap().parse().unwrap();
    let b_wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 30_000;
    assert!(
        expires_at < b_wall - 50_000,
        "by b's wall clock the lease looks long expired"
    );
    let t = Instant::now();
    while t.elapsed() < D * 8 / 10 {
        assert_eq!(
            b.acquire("b").await.unwrap(),
            None,
            "b must wait a whole duration"
        );
        tokio::time::sleep(D / 10).await;
    }
    assert!(ga.is_valid_at(Instant::now()) || ga.expires <= Instant::now());
}

/// One contender's life: lead for a while (renewing), then release or die, then contend again.
/// Records each leadership as (epoch, from, until) on the shared monotonic clock.
async fn contender(
    lease: pilotlight_store::DynamoLease,
    name: String,
    end: Instant,
    log: Log,
    seed: u64,
) {
    let mut round = seed;
    while Instant::now() < end {
        let Some(mut g) = lease.acquire(&name).await.expect("acquire") else {
            tokio::time::sleep(D / 8).await;
            continue;
        };
        let from = Instant::now();
        round += 1;
        let renewals = round % 4;
        let mut until = g.expires;
        let mut lost = false;
        for _ in 0..renewals {
            tokio::time::sleep(D / 4).await;
            match lease.renew(&g).await {
                Ok(next) => {
                    g = next;
                    until = g.expires;
                }
                Err(LeaseError::Lost { .. }) => {
                    lost = true;
                    break;
                }
                Err(e) => panic!("{name}: {e}"),
            }
        }
        if !lost && round.is_multiple_of(2) {
            lease.release(&g).await.expect("release");
            until = until.min(Instant::now());
        } else {
            // Dies: stops renewing and stays away past its lease.
            tokio::time::sleep(D + D / 2).await;
        }
        log.lock()
            .unwrap()
            .push((g.epoch, from, until, name.clone()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_leader_at_a_time_among_skewed_contenders() {
    let store = common::store().await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let end = Instant::now() + Duration::from_secs(9);
    let offsets = [-30_000i64, 0, 30_000, 17_000];
    let tasks: Vec<_> = offsets
        .iter()
        .enumerate()
        .map(|(i, off)| {
            let lease = store.lease("env-many", D).with_wall_clock_offset(*off);
            tokio::spawn(contender(
                lease,
                format!("c{i}"),
                end,
                log.clone(),
                i as u64,
            ))
        })
        .collect();
    for t in tasks {
        t.await.expect("contender");
    }
    let mut log = log.lock().unwrap().clone();
    log.sort_by_key(|(_, from, _, _)| *from);
    assert!(
        log.len() >= 4,
        "leadership should change hands several times: {log:?}"
    );
    for w in log.windows(2) {
        let (e1, _, until1, n1) = &w[0];
        let (e2, from2, _, n2) = &w[1];
        assert!(
            until1 <= from2,
            "two leaders at once: {n1} (epoch {e1}) until {until1:?}, {n2} (epoch {e2}) from {from2:?}"
        );
        assert!(e2 > e1, "epochs increase on every takeover: {e1} then {e2}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_leaders_journal_writes_are_fenced_after_a_takeover() {
    let store = common::store().await;
    let env = "env-fence";
    let a = store.lease(env, D);
    let b = store.lease(env, D);
    let ga = a.acquire("a").await.unwrap().expect("a leads");
    let ja = store.journal().with_fence(common::LEASE, env, ga.epoch);
    let run = sample_run("run-fence-1", env, "key-fence-1", 1_000);
    ja.create_run(&run)
        .await
        .expect("the leader creates the run");
    let started = Event::NodeStarted {
        node: "readiness".into(),
        attempt: 1,
        at_ms: 1_001,
    };
    assert_eq!(ja.append(&run.id, &started).await.unwrap(), 1);

    // a freezes past its lease (SIGSTOP in scenario 3); b takes over.
    let (gb, _) = acquire_within(&b, "b", D * 4).await;
    assert_eq!(gb.epoch, ga.epoch + 1);
    let jb = store.journal().with_fence(common::LEASE, env, gb.epoch);

    // a wakes: every write is refused, and changes nothing.
    let fenced = |what: &str, r: Result<(), JournalError>| match r {
        Err(JournalError::Fenced(detail)) => assert!(detail.contains(env), "{detail}"),
        other => panic!("{what} of a stale leader must be fenced, got {other:?}"),
    };
    let sent = Event::ActionSent {
        node: "scale/api".into(),
        detail: "UpdateService desired=4".into(),
        at_ms: 1_002,
    };
    fenced("append", ja.append(&run.id, &sent).await.map(|_| ()));
    fenced(
        "finish",
        ja.append(
            &run.id,
            &Event::RunFinished {
                status: RunStatus::Failed,
                at_ms: 1_003,
            },
        )
        .await
        .map(|_| ()),
    );
    fenced(
        "record_decision",
        ja.record_decision(&Decision {
            run_id: run.id.clone(),
            kind: "approval".into(),
            who: "a".into(),
            why: "stale".into(),
            detail: serde_json::Value::Null,
            at_ms: 1_004,
        })
        .await,
    );
    fenced(
        "record_health_event",
        ja.record_health_event(&HealthEvent {
            environment: env.into(),
            kind: "declaration".into(),
            summary: "stale".into(),
            detail: serde_json::Value::Null,
            run_id: None,
            at_ms: 1_005,
        })
        .await,
    );
    let other = sample_run("run-fence-2", "env-fence-other", "key-fence-2", 1_006);
    fenced("create_run", ja.create_run(&other).await.map(|_| ()));
    assert!(matches!(
        jb.run("run-fence-2").await,
        Err(JournalError::NotFound(_))
    ));
    assert_eq!(
        jb.events(&run.id).await.unwrap().len(),
        1,
        "nothing of a's was written"
    );
    assert_eq!(jb.run(&run.id).await.unwrap().status, RunStatus::Running);
    assert!(jb.health_events(env, 10).await.unwrap().is_empty());

    // The new leader resumes the run from the journal and writes on.
    assert_eq!(jb.append(&run.id, &sent).await.unwrap(), 2);
    jb.append(
        &run.id,
        &Event::RunFinished {
            status: RunStatus::Succeeded,
            at_ms: 1_010,
        },
    )
    .await
    .unwrap();
    assert_eq!(jb.active_run(env).await.unwrap(), None);
}

/// The holder's advertised address is in the lease item while it holds it: the other contender
/// reads it (where followers forward actions), a takeover replaces it, and a release removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leaders_address_is_advertised_replaced_on_takeover_and_removed_on_release() {
    let store = common::store().await;
    let env = "env-address";
    let a = store
        .lease(env, D)
        .with_address(Some("http://10.0.0.1:8080".into()));
    let b = store
        .lease(env, D)
        .with_address(Some("http://10.0.0.2:8080".into()));
    assert_eq!(b.last_seen(), None, "nothing seen before the first read");
    let ga = a.acquire("a").await.unwrap().expect("a leads");
    assert!(b.acquire("b").await.unwrap().is_none(), "a holds the lease");
    let seen = b.last_seen().expect("b read the item");
    assert_eq!(seen.holder.as_deref(), Some("a"));
    assert_eq!(seen.address.as_deref(), Some("http://10.0.0.1:8080"));
    assert_eq!(seen.epoch, ga.epoch);

    // a stops renewing; b takes over and advertises its own address.
    let (gb, _) = acquire_within(&b, "b", D * 4).await;
    assert!(a.acquire("a").await.unwrap().is_none());
    let seen = a.last_seen().expect("a read the item");
    assert_eq!(seen.holder.as_deref(), Some("b"));
    assert_eq!(seen.address.as_deref(), Some("http://10.0.0.2:8080"));

    // b releases: no holder and no address.
    b.release(&gb).await.unwrap();
    let c = store.lease(env, D);
    let gc = c
        .acquire("c")
        .await
        .unwrap()
        .expect("a released lease is taken at once");
    let seen = c.last_seen().expect("c read the item");
    assert_eq!(seen.holder, None, "released before c took it");
    assert_eq!(seen.address, None, "a release removes the address");
    // c advertises none: the takeover removes any address.
    assert!(a.acquire("a").await.unwrap().is_none());
    let seen = a.last_seen().unwrap();
    assert_eq!(seen.holder.as_deref(), Some("c"));
    assert_eq!(seen.address, None);
    assert_eq!(seen.epoch, gc.epoch);
}
