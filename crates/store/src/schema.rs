//! The journal's schema and its migrations. `PRAGMA user_version` holds the number of
//! migrations applied; `PRAGMA application_id` marks the file as a Pilotlight journal.

use crate::error::Fail;
use rusqlite::{Connection, TransactionBehavior};

/// `PRAGMA application_id` of a Pilotlight journal ("PlLt").
pub(crate) const APPLICATION_ID: i32 = 0x506c_4c74;

/// Migrations, in order; never edit one that has shipped, append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: runs, append-only events and decisions.
    r#"
    CREATE TABLE runs (
        id              TEXT PRIMARY KEY NOT NULL,
        environment     TEXT NOT NULL,
        runbook         TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        requested_by    TEXT NOT NULL,
        reason          TEXT NOT NULL,
        options         TEXT NOT NULL,  -- JSON RunOptions
        plan            TEXT NOT NULL,  -- JSON Plan, frozen at creation
        status          TEXT NOT NULL,  -- RunStatus label
        created_at_ms   INTEGER NOT NULL,
        finished_at_ms  INTEGER
    ) STRICT;
    CREATE INDEX runs_by_created ON runs (created_at_ms);
    CREATE INDEX runs_by_environment ON runs (environment, created_at_ms);
    -- One active run per environment, enforced by the database as well as by create_run.
    CREATE UNIQUE INDEX runs_one_active_per_environment ON runs (environment)
        WHERE status IN ('running', 'paused', 'aborting');

    CREATE TABLE events (
        run_id TEXT NOT NULL REFERENCES runs (id),
        seq    INTEGER NOT NULL CHECK (seq >= 1),
        kind   TEXT NOT NULL,   -- the event's tag, e.g. node_started
        node   TEXT,            -- the node it concerns, if any
        at_ms  INTEGER NOT NULL,
        event  TEXT NOT NULL,   -- JSON Event
        PRIMARY KEY (run_id, seq)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE decisions (
        id     INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs (id),
        kind   TEXT NOT NULL,
        who    TEXT NOT NULL,
        why    TEXT NOT NULL,
        detail TEXT NOT NULL,   -- JSON
        at_ms  INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX decisions_by_run ON decisions (run_id, id);

    -- Events and decisions are append-only.
    CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'journal events are append-only'); END;
    CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'journal events are append-only'); END;
    CREATE TRIGGER decisions_append_only_update BEFORE UPDATE ON decisions
        BEGIN SELECT RAISE(ABORT, 'journal decisions are append-only'); END;
    CREATE TRIGGER decisions_append_only_delete BEFORE DELETE ON decisions
        BEGIN SELECT RAISE(ABORT, 'journal decisions are append-only'); END;
    "#,
    // 2: health events (declarations and trigger decisions), append-only.
    r#"
    CREATE TABLE health_events (
        id          INTEGER PRIMARY KEY,
        environment TEXT NOT NULL,
        kind        TEXT NOT NULL,
        summary     TEXT NOT NULL,
        detail      TEXT NOT NULL,   -- JSON
        run_id      TEXT,
        at_ms       INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX health_events_by_environment ON health_events (environment, id);
    CREATE TRIGGER health_events_append_only_update BEFORE UPDATE ON health_events
        BEGIN SELECT RAISE(ABORT, 'journal health events are append-only'); END;
    CREATE TRIGGER health_events_append_only_delete BEFORE DELETE ON health_events
        BEGIN SELECT RAISE(ABORT, 'journal health events are append-only'); END;
    "#,
    // 3: the audit log of the API: append-only and hash-chained (see pilotlight_core::audit).
    r#"
    CREATE TABLE audit (
        seq       INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
        at_ms     INTEGER NOT NULL,
        actor     TEXT NOT NULL,
        role      TEXT NOT NULL,
        action    TEXT NOT NULL,
        target    TEXT NOT NULL,
        outcome   TEXT NOT NULL,
        reason    TEXT NOT NULL,
        detail    TEXT NOT NULL,   -- JSON, exactly as hashed
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL
    ) STRICT;
    CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    "#,
    // 4: DR drill reports (pilotlight-drill's DrillReports), one row per drill, the whole
    // report as JSON plus the columns `pilotlight drills` lists.
    r#"
    CREATE TABLE drill_reports (
        id             TEXT PRIMARY KEY NOT NULL,
        environment    TEXT NOT NULL,
        mode           TEXT NOT NULL,
        started_at_ms  INTEGER NOT NULL,
        finished_at_ms INTEGER NOT NULL,
        passed         INTEGER NOT NULL CHECK (passed IN (0, 1)),
        rto_ms         INTEGER,
        rpo_ms         INTEGER,
        report         TEXT NOT NULL   -- JSON DrillReport
    ) STRICT;
    CREATE INDEX drill_reports_by_environment ON drill_reports (environment, started_at_ms);
    "#,
    // 5: drills that started (DrillReports::drill_started); one without a report in
    // drill_reports is unfinished: its process died during the drill.
    r#"
    CREATE TABLE drill_starts (
        id            TEXT PRIMARY KEY NOT NULL,
        environment   TEXT NOT NULL,
        started_at_ms INTEGER NOT NULL,
        start         TEXT NOT NULL   -- JSON DrillStart
    ) STRICT;
    CREATE INDEX drill_starts_by_environment ON drill_starts (environment, started_at_ms);
    "#,
];

/// The schema version this build writes (the number of migrations).
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

fn user_version(conn: &Connection) -> Result<i64, Fail> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Refuse a database that is not a Pilotlight journal, or one newer than this build.
fn check_identity(conn: &Connection, version: i64) -> Result<(), Fail> {
    let app: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    if app != 0 && app != APPLICATION_ID {
        return Err(Fail::Other(format!(
            "this is an SQLite database of another application (application_id {app:#x}), not a Pilotlight journal; point pilotlight at a new file"
        )));
    }
    if version == 0 {
        let tables: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )?;
        if tables > 0 {
            return Err(Fail::Other(
                "this SQLite database has tables but is not a Pilotlight journal; point pilotlight at a new file".into(),
            ));
        }
    }
    if version > i64::from(SCHEMA_VERSION) {
        return Err(Fail::Other(format!(
            "the journal's schema version is {version}, newer than this pilotlight understands ({SCHEMA_VERSION}); upgrade pilotlight"
        )));
    }
    Ok(())
}

/// Bring the schema up to [`SCHEMA_VERSION`], in one transaction. Safe against another process
/// opening (and migrating) the same file at the same time: everything but the first version
/// check is decided on what is read once the write lock is held.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), Fail> {
    let version = user_version(conn)?;
    if version == i64::from(SCHEMA_VERSION) {
        return check_identity(conn, version);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version = user_version(&tx)?;
    check_identity(&tx, version)?;
    if version == i64::from(SCHEMA_VERSION) {
        return Ok(());
    }
    let from = usize::try_from(version).unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from) {
        tracing::info!(version = i + 1, "migrating the journal schema");
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.commit()?;
    Ok(())
}
