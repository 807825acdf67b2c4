//! SQLite-specific journal properties (scenarios 1, 11 and 12): records survive a restart;
//! a corrupt file, a locked journal and a full disk fail with the right error naming the file
//! and lose nothing already committed; concurrent duplicate submissions from several threads
//! and processes make exactly one run; the schema is versioned and append-only.

use pilotlight_core::journal::{CreateOutcome, Decision, Journal, JournalError, RunRecord};
use pilotlight_core::model::EnvironmentConfig;
use pilotlight_core::plan::{build_plan, Plan};
use pilotlight_core::run::{Event, RunStatus};
use pilotlight_core::runbook::Runbook;
use pilotlight_store::conformance::sample_run;
use pilotlight_store::{OpenOptions, SqliteJournal, SCHEMA_VERSION};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Duration;

const ENV: &str = r#"
[environment]
name = "confer"
tier = "development"

[regions]
primary = "us-east-1"
dr = "us-west-2"

[objectives]
rto = "15m"
rpo = "1m"

[[ecs_services]]
name = "api"
cluster = "confer"
service = "confer-api"
pilot_light_count = 1
active_count = 4

[[rds_replicas]]
name = "db"
primary_instance = "confer-db"
replica_instance = "confer-db-replica"
"#;

const RUNBOOK: &str = r#"
[runbook]
name = "failover"
direction = "failover"

[[steps]]
id = "readiness"
kind = "readiness_gate"

[[steps]]
id = "lag"
kind = "replication_lag_gate"
targets = ["db"]

[[steps]]
id = "scale"
kind = "scale_ecs"
targets = ["api"]
to = "active"
depends_on = ["readiness"]

[[steps]]
id = "promote"
kind = "promote_rds_replica"
targets = ["db"]
depends_on = ["readiness", "lag"]

[[steps]]
id = "capacity"
kind = "wait_until"
targets = ["api"]
capacity_at_least = 0.8
depends_on = ["scale"]
"#;

fn plan() -> Plan {
    let env: EnvironmentConfig = toml::from_str(ENV).unwrap();
    let rb: Runbook = toml::from_str(RUNBOOK).unwrap();
    build_plan(&env, &rb).unwrap()
}

fn run(id: &str, key: &str, at: u64) -> RunRecord {
    let mut r = sample_run(id, "confer", key, at);
    r.plan = plan();
    r
}

fn started(node: &str, at_ms: u64) -> Event {
    Event::NodeStarted {
        node: node.into(),
        attempt: 1,
        at_ms,
    }
}

fn big_event(i: u64) -> Event {
    Event::NodeObserved {
        node: "scale/api".into(),
        live: format!("{i}:{}", "x".repeat(1500)),
        at_ms: i,
    }
}

fn journal_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("journal.db")
}

fn quick(busy_ms: u64) -> OpenOptions {
    OpenOptions {
        busy_timeout: Duration::from_millis(busy_ms),
        ..OpenOptions::default()
    }
}

fn assert_names_path(e: &JournalError, path: &Path) {
    let shown = path.display().to_string();
    assert!(e.to_string().contains(&shown), "`{e}` should name {shown}");
}

#[tokio::test]
async fn records_survive_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(&dir);
    let r = run("run-1", "key-1", 1_000);
    let decision = Decision {
        run_id: "run-1".into(),
        kind: "start".into(),
        who: "alice".into(),
        why: "primary down".into(),
        detail: serde_json::json!({"vantage_points": 3}),
        at_ms: 1_000,
    };
    let before = {
        let j = SqliteJournal::open(&path).unwrap();
        assert_eq!(j.path(), path.display().to_string());
        assert!(matches!(
            j.create_run(&r).await,
            Ok(CreateOutcome::Created(_))
        ));
        j.record_decision(&decision).await.unwrap();
        for (i, node) in ["readiness", "lag/db", "scale/api"].into_iter().enumerate() {
            assert_eq!(
                j.append("run-1", &started(node, 1_001 + i as u64))
                    .await
                    .unwrap(),
                i as u64 + 1
            );
        }
        j.events("run-1").await.unwrap()
    };
    assert!(
        !Path::new(&format!("{}-wal", path.display())).exists(),
        "a clean close checkpoints the WAL"
    );

    let j = SqliteJournal::open(&path).unwrap();
    assert_eq!(
        j.run("run-1").await.unwrap(),
        r,
        "the run and its plan read back exactly"
    );
    assert_eq!(j.events("run-1").await.unwrap(), before);
    assert_eq!(j.decisions("run-1").await.unwrap(), vec![decision]);
    assert_eq!(
        j.active_run("confer").await.unwrap().map(|r| r.id),
        Some("run-1".into())
    );
    assert_eq!(
        j.append("run-1", &started("promote/db", 2_000))
            .await
            .unwrap(),
        4,
        "seq continues"
    );
    // The idempotency key still holds after a restart.
    assert!(
        matches!(j.create_run(&run("run-2", "key-1", 3_000)).await, Ok(CreateOutcome::Existing(e)) if e.id == "run-1")
    );
}

#[tokio::test]
async fn committed_events_survive_without_a_clean_close() {
    // Scenario 1: a process killed right after `append` returned. Leak the journal (no close,
    // no checkpoint) and read the file from a second connection, as a restarted process would.
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(&dir);
    let j = SqliteJournal::open(&path).unwrap();
    j.create_run(&run("run-1", "key-1", 1)).await.unwrap();
    for i in 0..5 {
        j.append("run-1", &started("readiness", i)).await.unwrap();
    }
    let restarted = SqliteJournal::open(&path).unwrap();
    let events = restarted.events("run-1").await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    std::mem::forget(j);
}

#[tokio::test]
async fn schema_is_versioned_and_stamped() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(&dir);
    drop(SqliteJournal::open(&path).unwrap());
    let raw = rusqlite::Connection::open(&path).unwrap();
    let version: u32 = raw
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let app: i32 = raw
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .unwrap();
    assert_eq!(app, 0x506c_4c74);
    let mode: String = raw
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // Reopening an up-to-date journal changes nothing.
    drop(raw);
    drop(SqliteJournal::open(&path).unwrap());

    // A journal from a newer pilotlight is refused, not downgraded.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(raw);
    let e = SqliteJournal::open(&path).unwrap_err();
    assert!(
        matches!(e, JournalError::Other { .. }) && e.to_string().contains("upgrade pilotlight"),
        "{e}"
    );
    assert_names_path(&e, &path);
}

#[test]
fn another_applications_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
        .unwrap();
    drop(raw);
    let e = SqliteJournal::open(&path).unwrap_err();
    assert!(e.to_string().contains("not a Pilotlight journal"), "{e}");
    assert_names_path(&e, &path);
}

#[test]
fn an_unopenable_path_is_other_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let e = SqliteJournal::open(dir.path()).unwrap_err();
    assert!(matches!(e, JournalError::Other { .. }), "{e:?}");
    assert_names_path(&e, dir.path());
}

#[test]
fn open_creates_missing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join("state")
        .join("pilotlight")
        .join("journal.db");
    SqliteJournal::open(&path).unwrap();
    assert!(path.exists());
}

#[tokio::test]
async fn events_and_decisions_are_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(&dir);
    let j = SqliteJournal::open(&path).unwrap();
    j.create_run(&run("run-1", "key-1", 1)).await.unwrap();
    j.append("run-1", &started("readiness", 2)).await.unwrap();
    j.record_decision(&Decision {
        run_id: "run-1".into(),
        kind: "approval".into(),
        who: "bob".into(),
        why: "ok".into(),
        detail: serde_json::Value::Null,
        at_ms: 3,
    })
    .await
    .unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    for sql in [
        "UPDATE events SET kind = 'x'",
        "DELETE FROM events",
        "UPDATE decisions SET who = 'mallory'",
        "DELETE FROM decisions",
    ] {
        let e = raw.execute(sql, []).unwrap_err();
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
    // The database itself refuses a second active run of an environment.
    let e = raw
        .execute(
            "INSERT INTO runs SELECT 'run-x', environment, runbook, 'key-x', requested_by, reason, options, plan, 'running', 5, NULL FROM runs",
            [],
        )
        .unwrap_err();
    assert!(e.to_string().contains("UNIQUE"), "{e}");
    assert_eq!(j.events("run-1").await.unwrap().len(), 1);
}

#[tokio::test]
async fn undecodable_rows_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(&dir);
    let j = SqliteJournal::open(&path).unwrap();
    j.create_run(&run("run-1", "key-1", 1)).await.unwrap();
    j.create_run(&run("run-2", "key-2", 2)).await.unwrap_err(); // one active run
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute(
        "INSERT INTO events (run_id, seq, kind, node, at_ms, event) VALUES ('run-1', 1, 'node_started', NULL, 1, '{\"event\":\"no_such_event\"}')",
        [],
    )
    .unwrap();
    let e = j.events("run-1").await.unwrap_err();
    assert!(matches!(e, JournalError::Corrupt { .. }), "{e:?}");
    assert_names_path(&e, &path);
    assert!(e.to_string().contains("event 1 of run run-1"), "{e}");

    raw.execute(
        "UPDATE runs SET plan = '{\"nodes\": 3' WHERE id = 'run-1'",
        [],
    )
    .unwrap();
    let e = j.run("run-1").await.unwrap_err();
    assert!(matches!(e, JournalError::Corrupt { .. }), "{e:?}");
    assert!(e.to_string().contains("plan of run run-1"), "{e}");
    let e = j.runs(None, 10).await.unwrap_err();
    assert!(matches!(e, JournalError::Corrupt { .. }), "{e:?}");

    raw.execute("UPDATE runs SET status = 'exploded' WHERE id = 'run-1'", [])
        .unwrap();
    let e = j
        .append("run-1", &started("readiness", 9))
        .await
        .unwrap_err();
    assert!(
        matches!(e, JournalError::Corrupt { .. }) && e.to_string().contains("exploded"),
        "{e:?}"
    );
}

#[test]
fn a_file_that_is_not_sqlite_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(&dir);
    std::fs::write(&path, "this is a config file, not a journal\n".repeat(200)).unwrap();
    let e = SqliteJournal::open(&path).unwrap_err();
    assert!(matches!(e, JournalError::Corrupt { .. }), "{e:?}");
    assert_names_path(&e, &path);
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn garbage_over_the_header_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(&dir);
    {
        let j = SqliteJournal::open(&path).unwrap();
        j.create_run(&run("run-1", "key-1", 1)).await.unwrap();
        j.append("run-1", &started("readiness", 2)).await.unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[..100].copy_from_slice(&[0xA5; 100]);
    std::fs::write(&path, &bytes).unwrap();
    let e = SqliteJournal::open(&path).unwrap_err();
    assert!(matches!(e, JournalError::Corrupt { .. }), "{e:?}");
    assert_names_path(&e, &path);
    assert!(e.to_string().contains("restore it from backup"), "{e}");
}

#[tokio::test]
async fn damaged_pages_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(&dir);
    {
        let j = SqliteJournal::open(&path).unwrap();
        j.create_run(&run("run-1", "key-1", 1)).await.unwrap();
        for i in 0..40 {
            j.append("run-1", &big_event(i)).await.unwrap();
        }
    }
    // Keep the header (page 1) and scribble over every other page.
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 8 * 4096);
    for (i, b) in bytes.iter_mut().enumerate().skip(4096) {
        *b = (i * 7 % 251) as u8;
    }
    std::fs::write(&path, &bytes).unwrap();
    let e = match SqliteJournal::open(&path) {
        Err(e) => e,
        Ok(j) => j.events("run-1").await.unwrap_err(),
    };
    assert!(matches!(e, JournalError::Corrupt { .. }), "{e:?}");
    assert_names_path(&e, &path);
}

#[tokio::test]
async fn a_locked_journal_is_locked_and_retryable() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(&dir);
    let j = SqliteJournal::open_with(&path, quick(50)).unwrap();
    j.create_run(&run("run-1", "key-1", 1)).await.unwrap();
    j.append("run-1", &started("readiness", 2)).await.unwrap();

    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let e = j.append("run-1", &started("lag/db", 3)).await.unwrap_err();
    assert!(matches!(e, JournalError::Locked { .. }), "{e:?}");
    assert!(e.is_retryable());
    assert_names_path(&e, &path);
    let e = j.create_run(&run("run-2", "key-2", 4)).await.unwrap_err();
    assert!(matches!(e, JournalError::Locked { .. }), "{e:?}");
    let e = j
        .record_decision(&Decision {
            run_id: "run-1".into(),
            kind: "approval".into(),
            who: "bob".into(),
            why: "ok".into(),
            detail: serde_json::Value::Null,
            at_ms: 5,
        })
        .await
        .unwrap_err();
    assert!(matches!(e, JournalError::Locked { .. }), "{e:?}");
    // WAL: readers are not blocked by a writer.
    assert_eq!(j.events("run-1").await.unwrap().len(), 1);

    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(
        j.append("run-1", &started("lag/db", 6)).await.unwrap(),
        2,
        "nothing half-written"
    );
}

#[tokio::test]
async fn a_writer_waits_for_a_short_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(&dir);
    let j = SqliteJournal::open(&path).unwrap(); // default busy timeout: 5 s
    j.create_run(&run("run-1", "key-1", 1)).await.unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        other.execute_batch("COMMIT").unwrap();
    });
    assert_eq!(
        j.append("run-1", &started("readiness", 2)).await.unwrap(),
        1
    );
    releaser.join().unwrap();
}

#[tokio::test]
async fn a_full_disk_is_full_and_loses_nothing_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(&dir);
    {
        let j = SqliteJournal::open(&path).unwrap();
        j.create_run(&run("run-1", "key-1", 1)).await.unwrap();
    }
    let pages = {
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.pragma_query_value(None, "page_count", |r| r.get::<_, u64>(0))
            .unwrap()
    };
    let full = OpenOptions {
        max_page_count: Some(pages + 4),
        ..OpenOptions::default()
    };
    let j = SqliteJournal::open_with(&path, full).unwrap();
    let mut committed = Vec::new();
    let error = loop {
        let i = committed.len() as u64;
        assert!(i < 1_000, "the journal never filled up");
        match j.append("run-1", &big_event(i)).await {
            Ok(seq) => {
                assert_eq!(seq, i + 1);
                committed.push(big_event(i));
            }
            Err(e) => break e,
        }
    };
    assert!(matches!(error, JournalError::Full { .. }), "{error:?}");
    assert_names_path(&error, &path);
    assert!(error.to_string().contains("disk is full"), "{error}");
    assert!(!error.is_retryable());
    assert!(
        !committed.is_empty(),
        "some events fit before the disk filled"
    );
    // A small event may still fit in the free space of a page, or fail the same way.
    let e = j
        .append(
            "run-1",
            &Event::RunFinished {
                status: RunStatus::Failed,
                at_ms: 9,
            },
        )
        .await;
    assert!(matches!(e, Err(JournalError::Full { .. }) | Ok(_)));
    drop(j);

    // After a restart with space again: every committed event, nothing else, and it goes on.
    let j = SqliteJournal::open(&path).unwrap();
    let events = j.events("run-1").await.unwrap();
    let finished = events.len() == committed.len() + 1;
    let stored: Vec<Event> = events.iter().map(|e| e.event.clone()).collect();
    assert_eq!(
        &stored[..committed.len()],
        &committed[..],
        "nothing lost, nothing half-written"
    );
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=events.len() as u64).collect::<Vec<_>>()
    );
    let status = j.run("run-1").await.unwrap().status;
    assert_eq!(
        status,
        if finished {
            RunStatus::Failed
        } else {
            RunStatus::Running
        },
        "status matches the events"
    );
    if !finished {
        let seq = j.append("run-1", &started("readiness", 10)).await.unwrap();
        assert_eq!(seq, committed.len() as u64 + 1);
    }
}

#[test]
fn concurrent_duplicate_submissions_across_threads_and_connections_make_one_run() {
    // Scenario 12: a double-clicked button, a retried request, two processes. Eight threads on
    // two journals (two connections) over one file submit the same idempotency key at once.
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(&dir);
    let journals = [
        SqliteJournal::open(&path).unwrap(),
        SqliteJournal::open(&path).unwrap(),
    ];
    for round in 0..5 {
        let key = format!("key-{round}");
        let barrier = Arc::new(Barrier::new(8));
        let outcomes: Vec<CreateOutcome> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|t| {
                    let j = journals[t % 2].clone();
                    let barrier = Arc::clone(&barrier);
                    let r = run(&format!("run-{round}-{t}"), &key, round * 100 + t as u64);
                    s.spawn(move || {
                        let rt = tokio::runtime::Builder::new_current_thread().build();
                        barrier.wait(); // reached even if that failed: no thread waits forever
                        let rt = rt.unwrap();
                        rt.block_on(j.create_run(&r)).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let created: Vec<&RunRecord> = outcomes
            .iter()
            .filter_map(|o| match o {
                CreateOutcome::Created(r) => Some(r),
                CreateOutcome::Existing(_) => None,
            })
            .collect();
        assert_eq!(
            created.len(),
            1,
            "round {round}: exactly one run is created"
        );
        let id = &created[0].id;
        for o in &outcomes {
            let (CreateOutcome::Created(r) | CreateOutcome::Existing(r)) = o;
            assert_eq!(&r.id, id, "round {round}: everyone sees the same run");
        }
        // Finish it so the next round may create a run of the environment.
        futures::executor::block_on(journals[round as usize % 2].append(
            id,
            &Event::RunFinished {
                status: RunStatus::Succeeded,
                at_ms: 1,
            },
        ))
        .unwrap();
    }
    let all = futures::executor::block_on(journals[0].runs(Some("confer"), 100)).unwrap();
    assert_eq!(all.len(), 5);
}

#[test]
fn concurrent_distinct_submissions_across_connections_make_one_active_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(&dir);
    let barrier = Arc::new(Barrier::new(6));
    // Six connections (as six processes would), each submitting its own run.
    let results: Vec<Result<CreateOutcome, JournalError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|t| {
                let path = path.clone();
                let barrier = Arc::clone(&barrier);
                s.spawn(move || {
                    let j = SqliteJournal::open(&path);
                    barrier.wait(); // reached even if opening failed: no thread waits forever
                    let j = j.unwrap();
                    futures::executor::block_on(j.create_run(&run(
                        &format!("run-{t}"),
                        &format!("key-{t}"),
                        t,
                    )))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created = results
        .iter()
        .filter(|r| matches!(r, Ok(CreateOutcome::Created(_))))
        .count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(JournalError::ActiveRunExists { .. })))
        .count();
    assert_eq!((created, refused), (1, 5), "{results:?}");
}

#[test]
fn processes_opening_a_new_journal_at_once_all_succeed() {
    // Two pilotlight processes starting together on a journal that does not exist yet: one
    // creates the schema, the others wait for it (switching a new file to WAL is not covered
    // by SQLite's busy handler, so opening retries on its own).
    for round in 0..30 {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(&dir);
        let barrier = Arc::new(Barrier::new(6));
        let failures: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|_| {
                    let (path, barrier) = (path.clone(), Arc::clone(&barrier));
                    s.spawn(move || {
                        barrier.wait();
                        SqliteJournal::open(&path).err().map(|e| e.to_string())
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().unwrap())
                .collect()
        });
        assert!(failures.is_empty(), "round {round}: {failures:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_tasks_share_one_journal() {
    let j = Arc::new(SqliteJournal::open_in_memory().unwrap());
    j.create_run(&run("run-1", "key-1", 1)).await.unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let j = Arc::clone(&j);
            tokio::spawn(async move { j.append("run-1", &started("readiness", i)).await.unwrap() })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=50).collect::<Vec<u64>>(),
        "every append gets its own seq"
    );
}

/// The audit log: concurrent appends from two connections (two processes) make one unbroken
/// chain; entries survive a reopen; the table refuses updates and deletes.
#[tokio::test]
async fn audit_log_is_one_chain_across_writers_and_append_only() {
    use pilotlight_core::audit::{verify_chain, AuditLog};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let a = SqliteJournal::open(&path).unwrap();
    let b = SqliteJournal::open(&path).unwrap();
    pilotlight_store::conformance::audit_log_is_one_chain(a, b).await;
    // Entries survive a reopen.
    let j = SqliteJournal::open(&path).unwrap();
    let entries = j.audit_entries(0, 1000).await.unwrap();
    assert_eq!(entries.len(), 20);
    assert_eq!(verify_chain(&entries), Ok(()));
    let conn = rusqlite::Connection::open(&path).unwrap();
    let err = conn
        .execute("UPDATE audit SET actor = 'mallory' WHERE seq = 3", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = conn
        .execute("DELETE FROM audit WHERE seq = 3", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}
