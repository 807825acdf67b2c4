//! [`SqliteJournal`]: the journal in one SQLite file (WAL, `synchronous=FULL`), one connection
//! behind a mutex, every write in one `BEGIN IMMEDIATE` transaction.

use crate::error::Fail;
use crate::schema;
use crate::status_after;
use pilotlight_core::audit::{AuditEntry, AuditLog, AuditRecord, Outcome};
use pilotlight_core::journal::{
    CreateOutcome, Decision, HealthEvent, Journal, JournalError, RunOptions, RunRecord, StoredEvent,
};
use pilotlight_core::plan::Plan;
use pilotlight_core::run::{Event, RunStatus};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long a write waits for another process's write lock before failing with
/// [`JournalError::Locked`].
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The path shown in errors of an in-memory journal.
const IN_MEMORY: &str = ":memory:";

/// Knobs of [`SqliteJournal::open_with`]. The defaults are what production uses; the others
/// exist so tests can provoke a locked journal or a full disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOptions {
    /// How long to wait for a lock held by another connection (default
    /// [`DEFAULT_BUSY_TIMEOUT`]).
    pub busy_timeout: Duration,
    /// `PRAGMA max_page_count`: the largest the database may grow, in pages (default: no
    /// limit). Growing past it fails with [`JournalError::Full`], as a full disk does. It
    /// cannot shrink the database: a value below its current size means "no growth".
    pub max_page_count: Option<u64>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            max_page_count: None,
        }
    }
}

struct Inner {
    conn: Mutex<Connection>,
    path: String,
}

/// The SQLite journal.
///
/// Durability: WAL with `synchronous=FULL`, so every write is fsynced before its call returns
/// (a step is never reported done without a durable record). Events and decisions are
/// append-only (enforced by triggers); one active run per environment is enforced by a
/// partial unique index as well as by [`Journal::create_run`].
///
/// Concurrency: one connection behind a [`std::sync::Mutex`]; calls are short, but an fsync or
/// a wait for another process's lock can block, so inside a Tokio runtime each call runs on
/// the blocking pool (`spawn_blocking`), and inline otherwise. Several processes may open the
/// same file: writes serialize on SQLite's write lock (waiting up to the busy timeout).
/// Dropping a call's future does not cancel it: a write may still commit, which the executor
/// tolerates because it re-reads the journal on resume.
///
/// Cloning is cheap and shares the connection.
#[derive(Clone)]
pub struct SqliteJournal {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteJournal")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteJournal {
    /// Open the journal at `path` with the default [`OpenOptions`], creating the file (and its
    /// parent directories) and the schema if needed.
    ///
    /// Fails with [`JournalError::Corrupt`] if the file is not an SQLite database or
    /// `PRAGMA quick_check` finds damage, [`JournalError::Locked`] if another process holds it
    /// longer than the busy timeout while it needs migrating, and [`JournalError::Other`] if
    /// it is another application's database or a newer schema.
    pub fn open(path: &Path) -> Result<SqliteJournal, JournalError> {
        SqliteJournal::open_with(path, OpenOptions::default())
    }

    /// [`SqliteJournal::open`] with explicit options.
    pub fn open_with(path: &Path, options: OpenOptions) -> Result<SqliteJournal, JournalError> {
        let label = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| io_error(&label, "create its directory", &e))?;
        }
        let conn = Connection::open(path).map_err(|e| Fail::from(e).into_journal(None, &label))?;
        SqliteJournal::setup(conn, label, &options)
    }

    /// A journal in memory, for tests: same schema and behaviour, nothing durable.
    pub fn open_in_memory() -> Result<SqliteJournal, JournalError> {
        let conn = Connection::open_in_memory()
            .map_err(|e| Fail::from(e).into_journal(None, IN_MEMORY))?;
        SqliteJournal::setup(conn, IN_MEMORY.to_string(), &OpenOptions::default())
    }

    /// The journal's location as shown in errors (`:memory:` for an in-memory journal).
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    fn setup(
        mut conn: Connection,
        path: String,
        options: &OpenOptions,
    ) -> Result<SqliteJournal, JournalError> {
        // Some steps of opening are not covered by SQLite's busy handler: switching a new file
        // to WAL while another process opens it too fails at once rather than wait (SQLite's
        // deadlock avoidance). Retry the whole (idempotent) sequence until the busy timeout.
        let deadline = std::time::Instant::now() + options.busy_timeout;
        let mut pause = Duration::from_millis(2);
        let result = loop {
            match prepare(&mut conn, &path, options) {
                Err(e) if e.is_busy() && std::time::Instant::now() < deadline => {
                    tracing::debug!(path = %path, error = ?e, "journal busy while opening; retrying");
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                other => break other,
            }
        };
        if let Err(e) = result {
            let e = e.into_journal(Some(&conn), &path);
            tracing::error!(path = %path, error = %e, "cannot open the journal");
            return Err(e);
        }
        tracing::debug!(path = %path, "journal open");
        Ok(SqliteJournal {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                path,
            }),
        })
    }

    /// Run `f` with the connection: on Tokio's blocking pool inside a runtime, inline
    /// otherwise. Maps failures to journal errors naming the path, and logs them.
    pub(crate) async fn call<T, F>(&self, op: &'static str, f: F) -> Result<T, JournalError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Fail> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let job = move || {
            let mut conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut conn).map_err(|e| e.into_journal(Some(&conn), &inner.path))
        };
        let result = match tokio::runtime::Handle::try_current() {
            Ok(handle) => match handle.spawn_blocking(job).await {
                Ok(r) => r,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => Err(JournalError::Other {
                    path: self.inner.path.clone(),
                    detail: format!("the journal call was cancelled: {e}"),
                }),
            },
            Err(_) => job(),
        };
        if let Err(e) = &result {
            match e {
                JournalError::NotFound(_) | JournalError::ActiveRunExists { .. } => {
                    tracing::debug!(op, error = %e, "journal refused")
                }
                JournalError::Locked { .. } => {
                    tracing::warn!(op, path = %self.inner.path, error = %e, "journal busy")
                }
                _ => tracing::error!(op, path = %self.inner.path, error = %e, "journal failure"),
            }
        }
        result
    }
}

/// Configure a new connection, check the file's integrity and migrate its schema.
fn prepare(conn: &mut Connection, path: &str, options: &OpenOptions) -> Result<(), Fail> {
    conn.busy_timeout(options.busy_timeout)?;
    // The first statement reads the header: a file that is not SQLite fails here.
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if mode != "wal" && mode != "memory" {
        tracing::warn!(path, mode = %mode, "the journal could not switch to WAL mode");
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    quick_check(conn)?;
    schema::migrate(conn)?;
    if let Some(pages) = options.max_page_count {
        conn.pragma_update(None, "max_page_count", pages)?;
    }
    Ok(())
}

fn io_error(path: &str, what: &str, e: &std::io::Error) -> JournalError {
    let detail = format!("cannot {what}: {e}");
    let path = path.to_string();
    if e.kind() == std::io::ErrorKind::StorageFull {
        JournalError::Full { path, detail }
    } else {
        JournalError::Other { path, detail }
    }
}

fn quick_check(conn: &Connection) -> Result<(), Fail> {
    let mut stmt = conn.prepare("PRAGMA quick_check")?;
    let problems: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    if problems.len() == 1 && problems[0] == "ok" {
        return Ok(());
    }
    Err(Fail::Corrupt(format!(
        "integrity check failed: {}",
        problems.join("; ")
    )))
}

/// A time or count as SQLite's signed 64-bit integer.
pub(crate) fn to_sql_int(v: u64, what: &str) -> Result<i64, Fail> {
    i64::try_from(v).map_err(|_| Fail::Other(format!("{what} {v} is too large to store")))
}

pub(crate) fn from_sql_int(v: i64, what: &str) -> Result<u64, Fail> {
    u64::try_from(v).map_err(|_| Fail::Corrupt(format!("stored {what} is negative ({v})")))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T, what: &str) -> Result<String, Fail> {
    serde_json::to_string(v).map_err(|e| Fail::Other(format!("cannot encode the {what}: {e}")))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, Fail> {
    serde_json::from_str(s).map_err(|e| Fail::Corrupt(format!("stored {what} is not valid: {e}")))
}

fn parse_status(s: &str) -> Result<RunStatus, Fail> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| Fail::Corrupt(format!("stored run status `{s}` is unknown")))
}

const RUN_COLUMNS: &str = "id, environment, runbook, idempotency_key, requested_by, reason, \
                           options, plan, status, created_at_ms, finished_at_ms";

fn decode_run(row: &Row<'_>) -> Result<RunRecord, Fail> {
    let id: String = row.get(0)?;
    let options: String = row.get(6)?;
    let plan: String = row.get(7)?;
    let status: String = row.get(8)?;
    let finished: Option<i64> = row.get(10)?;
    let ctx = |what: &str| format!("{what} of run {id}");
    Ok(RunRecord {
        environment: row.get(1)?,
        runbook: row.get(2)?,
        idempotency_key: row.get(3)?,
        requested_by: row.get(4)?,
        reason: row.get(5)?,
        options: from_json::<RunOptions>(&options, &ctx("options"))?,
        plan: from_json::<Plan>(&plan, &ctx("plan"))?,
        status: parse_status(&status)?,
        created_at_ms: from_sql_int(row.get(9)?, &ctx("creation time"))?,
        finished_at_ms: finished
            .map(|v| from_sql_int(v, &ctx("end time")))
            .transpose()?,
        id,
    })
}

fn query_runs(
    conn: &Connection,
    where_order: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<RunRecord>, Fail> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs {where_order}"))?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode_run(row)?);
    }
    Ok(out)
}

fn run_by_id(conn: &Connection, id: &str) -> Result<Option<RunRecord>, Fail> {
    Ok(query_runs(conn, "WHERE id = ?1", [id])?.pop())
}

const ACTIVE: &str = "status IN ('running', 'paused', 'aborting')";

fn active_of(conn: &Connection, environment: &str) -> Result<Option<RunRecord>, Fail> {
    Ok(query_runs(
        conn,
        &format!(
            "WHERE environment = ?1 AND {ACTIVE} ORDER BY created_at_ms DESC, rowid DESC LIMIT 1"
        ),
        [environment],
    )?
    .pop())
}

fn require_run(conn: &Connection, id: &str) -> Result<RunStatus, Fail> {
    let status: Option<String> = conn
        .prepare_cached("SELECT status FROM runs WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    match status {
        Some(s) => parse_status(&s),
        None => Err(Fail::Journal(JournalError::NotFound(id.to_string()))),
    }
}

fn immediate(conn: &mut Connection) -> Result<Transaction<'_>, Fail> {
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}

fn create_run(conn: &mut Connection, run: &RunRecord) -> Result<CreateOutcome, Fail> {
    let tx = immediate(conn)?;
    if let Some(existing) =
        query_runs(&tx, "WHERE idempotency_key = ?1", [&run.idempotency_key])?.pop()
    {
        return Ok(CreateOutcome::Existing(existing));
    }
    if let Some(active) = active_of(&tx, &run.environment)? {
        return Err(Fail::Journal(JournalError::ActiveRunExists {
            environment: run.environment.clone(),
            active: active.id,
        }));
    }
    if run_by_id(&tx, &run.id)?.is_some() {
        return Err(Fail::Other(format!(
            "a run with id {} already exists under another idempotency key; give the new run a new id",
            run.id
        )));
    }
    tx.prepare_cached(&format!(
        "INSERT INTO runs ({RUN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?
    .execute(params![
        run.id,
        run.environment,
        run.runbook,
        run.idempotency_key,
        run.requested_by,
        run.reason,
        to_json(&run.options, "run options")?,
        to_json(&run.plan, "plan")?,
        run.status.label(),
        to_sql_int(run.created_at_ms, "creation time")?,
        run.finished_at_ms
            .map(|v| to_sql_int(v, "end time"))
            .transpose()?,
    ])?;
    tx.commit()?;
    Ok(CreateOutcome::Created(run.clone()))
}

fn append(conn: &mut Connection, run_id: &str, event: &Event) -> Result<(u64, String), Fail> {
    let value = serde_json::to_value(event)
        .map_err(|e| Fail::Other(format!("cannot encode the event: {e}")))?;
    let kind = value
        .get("event")
        .and_then(|k| k.as_str())
        .unwrap_or("unknown")
        .to_string();
    let node = value
        .get("node")
        .and_then(|n| n.as_str())
        .map(str::to_string);
    let at_ms = value.get("at_ms").and_then(|t| t.as_u64()).unwrap_or(0);
    let tx = immediate(conn)?;
    let current = require_run(&tx, run_id)?;
    let last: i64 = tx
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id = ?1")?
        .query_row([run_id], |r| r.get(0))?;
    let seq = last + 1;
    tx.prepare_cached(
        "INSERT INTO events (run_id, seq, kind, node, at_ms, event) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        run_id,
        seq,
        kind,
        node,
        to_sql_int(at_ms, "event time")?,
        value.to_string()
    ])?;
    if let Some(status) = status_after(current, event) {
        let finished = match event {
            Event::RunFinished { at_ms, .. } if status.is_final() => {
                Some(to_sql_int(*at_ms, "end time")?)
            }
            _ => None,
        };
        tx.prepare_cached("UPDATE runs SET status = ?2, finished_at_ms = ?3 WHERE id = ?1")?
            .execute(params![run_id, status.label(), finished])?;
        tracing::info!(run_id, seq, status = status.label(), "run status changed");
    }
    tx.commit()?;
    Ok((from_sql_int(seq, "sequence number")?, kind))
}

fn events(conn: &mut Connection, run_id: &str) -> Result<Vec<StoredEvent>, Fail> {
    let tx = conn.transaction()?;
    require_run(&tx, run_id)?;
    let mut out = Vec::new();
    {
        let mut stmt =
            tx.prepare_cached("SELECT seq, event FROM events WHERE run_id = ?1 ORDER BY seq")?;
        let mut rows = stmt.query([run_id])?;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let json: String = row.get(1)?;
            out.push(StoredEvent {
                seq: from_sql_int(seq, "sequence number")?,
                event: from_json(&json, &format!("event {seq} of run {run_id}"))?,
            });
        }
    }
    tx.finish()?;
    Ok(out)
}

fn record_decision(conn: &mut Connection, d: &Decision) -> Result<(), Fail> {
    let tx = immediate(conn)?;
    require_run(&tx, &d.run_id)?;
    tx.prepare_cached(
        "INSERT INTO decisions (run_id, kind, who, why, detail, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        d.run_id,
        d.kind,
        d.who,
        d.why,
        to_json(&d.detail, "decision detail")?,
        to_sql_int(d.at_ms, "decision time")?,
    ])?;
    tx.commit()?;
    Ok(())
}

fn decisions(conn: &mut Connection, run_id: &str) -> Result<Vec<Decision>, Fail> {
    let tx = conn.transaction()?;
    require_run(&tx, run_id)?;
    let mut out = Vec::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT id, kind, who, why, detail, at_ms FROM decisions WHERE run_id = ?1 ORDER BY id",
        )?;
        let mut rows = stmt.query([run_id])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let detail: String = row.get(4)?;
            out.push(Decision {
                run_id: run_id.to_string(),
                kind: row.get(1)?,
                who: row.get(2)?,
                why: row.get(3)?,
                detail: from_json(&detail, &format!("detail of decision {id}"))?,
                at_ms: from_sql_int(row.get(5)?, "decision time")?,
            });
        }
    }
    tx.finish()?;
    Ok(out)
}

#[async_trait::async_trait]
impl Journal for SqliteJournal {
    async fn create_run(&self, run: &RunRecord) -> Result<CreateOutcome, JournalError> {
        let run = run.clone();
        let outcome = self
            .call("create_run", move |c| create_run(c, &run))
            .await?;
        match &outcome {
            CreateOutcome::Created(r) => tracing::info!(
                run_id = %r.id,
                environment = %r.environment,
                runbook = %r.runbook,
                requested_by = %r.requested_by,
                "run created"
            ),
            CreateOutcome::Existing(r) => tracing::info!(
                run_id = %r.id,
                idempotency_key = %r.idempotency_key,
                "run already exists for this idempotency key"
            ),
        }
        Ok(outcome)
    }

    async fn append(&self, run_id: &str, event: &Event) -> Result<u64, JournalError> {
        let (id, event) = (run_id.to_string(), event.clone());
        let (seq, kind) = self.call("append", move |c| append(c, &id, &event)).await?;
        tracing::debug!(run_id, seq, kind = %kind, "event appended");
        Ok(seq)
    }

    async fn events(&self, run_id: &str) -> Result<Vec<StoredEvent>, JournalError> {
        let id = run_id.to_string();
        self.call("events", move |c| events(c, &id)).await
    }

    async fn run(&self, run_id: &str) -> Result<RunRecord, JournalError> {
        let id = run_id.to_string();
        self.call("run", move |c| {
            run_by_id(c, &id)?.ok_or(Fail::Journal(JournalError::NotFound(id)))
        })
        .await
    }

    async fn runs(
        &self,
        environment: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, JournalError> {
        let environment = environment.map(str::to_string);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call("runs", move |c| match environment {
            Some(env) => query_runs(
                c,
                "WHERE environment = ?1 ORDER BY created_at_ms DESC, rowid DESC LIMIT ?2",
                params![env, limit],
            ),
            None => query_runs(
                c,
                "ORDER BY created_at_ms DESC, rowid DESC LIMIT ?1",
                [limit],
            ),
        })
        .await
    }

    async fn active_run(&self, environment: &str) -> Result<Option<RunRecord>, JournalError> {
        let env = environment.to_string();
        self.call("active_run", move |c| active_of(c, &env)).await
    }

    async fn record_decision(&self, decision: &Decision) -> Result<(), JournalError> {
        let d = decision.clone();
        self.call("record_decision", move |c| record_decision(c, &d))
            .await?;
        tracing::info!(
            run_id = %decision.run_id,
            kind = %decision.kind,
            who = %decision.who,
            "decision recorded"
        );
        Ok(())
    }

    async fn decisions(&self, run_id: &str) -> Result<Vec<Decision>, JournalError> {
        let id = run_id.to_string();
        self.call("decisions", move |c| decisions(c, &id)).await
    }

    async fn record_health_event(&self, event: &HealthEvent) -> Result<(), JournalError> {
        let e = event.clone();
        self.call("record_health_event", move |c| record_health_event(c, &e))
            .await?;
        tracing::info!(environment = %event.environment, kind = %event.kind, "health event recorded");
        Ok(())
    }

    async fn health_events(
        &self,
        environment: &str,
        limit: usize,
    ) -> Result<Vec<HealthEvent>, JournalError> {
        let env = environment.to_string();
        self.call("health_events", move |c| health_events(c, &env, limit))
            .await
    }
}

fn record_health_event(conn: &mut Connection, e: &HealthEvent) -> Result<(), Fail> {
    let tx = immediate(conn)?;
    tx.prepare_cached(
        "INSERT INTO health_events (environment, kind, summary, detail, run_id, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        e.environment,
        e.kind,
        e.summary,
        to_json(&e.detail, "health event detail")?,
        e.run_id,
        to_sql_int(e.at_ms, "health event time")?,
    ])?;
    tx.commit()?;
    Ok(())
}

fn health_events(
    conn: &mut Connection,
    environment: &str,
    limit: usize,
) -> Result<Vec<HealthEvent>, Fail> {
    let tx = conn.transaction()?;
    let mut out = Vec::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT kind, summary, detail, run_id, at_ms FROM health_events WHERE environment = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![environment, limit], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        for row in rows {
            let (kind, summary, detail, run_id, at_ms) = row?;
            out.push(HealthEvent {
                environment: environment.to_string(),
                kind,
                summary,
                detail: from_json(&detail, "health event detail")?,
                run_id,
                at_ms: u64::try_from(at_ms).unwrap_or(0),
            });
        }
    }
    tx.commit()?;
    Ok(out)
}

#[async_trait::async_trait]
impl AuditLog for SqliteJournal {
    async fn append_audit(&self, record: &AuditRecord) -> Result<AuditEntry, JournalError> {
        let r = record.clone();
        let entry = self
            .call("append_audit", move |c| append_audit(c, &r))
            .await?;
        tracing::info!(seq = entry.seq, actor = %entry.actor, action = %entry.action, outcome = entry.outcome.label(), "audit entry recorded");
        Ok(entry)
    }

    async fn audit_entries(
        &self,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, JournalError> {
        self.call("audit_entries", move |c| audit_entries(c, after_seq, limit))
            .await
    }
}

/// Read the chain's end and append after it in one `BEGIN IMMEDIATE` transaction, so two
/// writers (even in two processes) never fork the chain.
fn append_audit(conn: &mut Connection, r: &AuditRecord) -> Result<AuditEntry, Fail> {
    let tx = immediate(conn)?;
    let last: Option<(i64, String)> = tx
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let (seq, prev) = match last {
        Some((s, h)) => (from_sql_int(s, "audit seq")? + 1, h),
        None => (1, pilotlight_core::audit::GENESIS.to_string()),
    };
    let e = AuditEntry::seal(r, seq, &prev);
    tx.prepare_cached(
        "INSERT INTO audit (seq, at_ms, actor, role, action, target, outcome, reason, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        to_sql_int(e.seq, "audit seq")?,
        to_sql_int(e.at_ms, "audit time")?,
        e.actor,
        e.role,
        e.action,
        e.target,
        e.outcome.label(),
        e.reason,
        e.detail,
        e.prev_hash,
        e.hash,
    ])?;
    tx.commit()?;
    Ok(e)
}

fn audit_entries(conn: &mut Connection, after: u64, limit: usize) -> Result<Vec<AuditEntry>, Fail> {
    let tx = conn.transaction()?;
    let mut out = Vec::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT seq, at_ms, actor, role, action, target, outcome, reason, detail, prev_hash, hash FROM audit WHERE seq > ?1 ORDER BY rowid LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = stmt.query(params![to_sql_int(after, "audit seq")?, limit])?;
        while let Some(row) = rows.next()? {
            let outcome: String = row.get(6)?;
            out.push(AuditEntry {
                seq: from_sql_int(row.get(0)?, "audit seq")?,
                at_ms: from_sql_int(row.get(1)?, "audit time")?,
                actor: row.get(2)?,
                role: row.get(3)?,
                action: row.get(4)?,
                target: row.get(5)?,
                // An unknown outcome reads as denied; its hash no longer matches, which
                // `verify_chain` reports.
                outcome: if outcome == "allowed" {
                    Outcome::Allowed
                } else {
                    Outcome::Denied
                },
                reason: row.get(7)?,
                detail: row.get(8)?,
                prev_hash: row.get(9)?,
                hash: row.get(10)?,
            });
        }
    }
    tx.commit()?;
    Ok(out)
}
