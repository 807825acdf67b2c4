//! Drill reports in the journals: [`pilotlight_drill::store::DrillReports`] on
//! [`SqliteJournal`] (table `drill_reports`, migration 3) and on [`DynamoJournal`] (the HA store:
//! the whole report in item `#drill#<id>`, and a summary appended to partition `#drills#` that the
//! list reads). A report is stored once, at the end of its drill, whole (JSON), with what
//! `pilotlight drills` lists beside it. A drill's start is recorded before it changes anything
//! (SQLite: table `drill_starts`, migration 5; HA store: partition `#drill-starts#`); a start
//! without a report is an unfinished drill, unless the drill was refused before it changed
//! anything (`drill_not_run`: the row is deleted; in the HA store a `drill_not_run` item is
//! appended).

use crate::dynamodb::DynamoJournal;
use crate::error::Fail;
use crate::sqlite::{from_json, from_sql_int, to_json, to_sql_int, SqliteJournal};
use pilotlight_core::journal::JournalError;
use pilotlight_drill::store::{DrillReports, DrillStart, DrillStoreError, DrillSummary};
use pilotlight_drill::{DrillReport, Mode};
use rusqlite::{params, OptionalExtension};

pub(crate) fn store_error(e: JournalError) -> DrillStoreError {
    match e {
        JournalError::NotFound(id) => DrillStoreError::NotFound(id),
        e @ JournalError::Locked { .. } => DrillStoreError::Busy(e.to_string()),
        e => DrillStoreError::Other(e.to_string()),
    }
}

fn parse_mode(s: &str) -> Result<Mode, Fail> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| Fail::Corrupt(format!("stored drill mode `{s}` is unknown")))
}

fn opt_int(v: Option<u64>, what: &str) -> Result<Option<i64>, Fail> {
    v.map(|v| to_sql_int(v, what)).transpose()
}

#[async_trait::async_trait]
impl DrillReports for SqliteJournal {
    async fn save_drill(&self, report: &DrillReport) -> Result<(), DrillStoreError> {
        let r = report.clone();
        self.call("save_drill", move |c| {
            c.prepare_cached(
                "INSERT OR REPLACE INTO drill_reports (id, environment, mode, started_at_ms, finished_at_ms, passed, rto_ms, rpo_ms, report) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                r.id,
                r.environment,
                r.mode.name(),
                to_sql_int(r.started_at_ms, "drill start")?,
                to_sql_int(r.finished_at_ms, "drill end")?,
                r.verdict.passed,
                opt_int(r.rto.measured_ms, "drill RTO")?,
                opt_int(r.worst_rpo_ms(), "drill RPO")?,
                to_json(&r, "drill report")?,
            ])?;
            Ok(())
        })
        .await
        .map_err(store_error)?;
        tracing::info!(drill_id = %report.id, environment = %report.environment, passed = report.verdict.passed, "drill report stored");
        Ok(())
    }

    async fn drills(
        &self,
        environment: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DrillSummary>, DrillStoreError> {
        let environment = environment.map(str::to_string);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call("drills", move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, environment, mode, started_at_ms, finished_at_ms, passed, rto_ms, rpo_ms FROM drill_reports WHERE (?1 IS NULL OR environment = ?1) ORDER BY started_at_ms DESC, id DESC LIMIT ?2",
            )?;
            let mut rows = stmt.query(params![environment, limit])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let opt = |i: usize, what: &str| -> Result<Option<u64>, Fail> {
                    row.get::<_, Option<i64>>(i)?
                        .map(|v| from_sql_int(v, what))
                        .transpose()
                };
                out.push(DrillSummary {
                    id: row.get(0)?,
                    environment: row.get(1)?,
                    mode: parse_mode(&row.get::<_, String>(2)?)?,
                    started_at_ms: from_sql_int(row.get(3)?, "drill start")?,
                    finished_at_ms: from_sql_int(row.get(4)?, "drill end")?,
                    passed: row.get(5)?,
                    rto_ms: opt(6, "drill RTO")?,
                    rpo_ms: opt(7, "drill RPO")?,
                });
            }
            Ok(out)
        })
        .await
        .map_err(store_error)
    }

    async fn drill(&self, id: &str) -> Result<DrillReport, DrillStoreError> {
        let key = id.to_string();
        let json: Option<String> = self
            .call("drill", move |c| {
                Ok(
                    c.prepare_cached("SELECT report FROM drill_reports WHERE id = ?1")?
                        .query_row([key], |r| r.get(0))
                        .optional()?,
                )
            })
            .await
            .map_err(store_error)?;
        let json = json.ok_or_else(|| DrillStoreError::NotFound(id.to_string()))?;
        from_json(&json, "drill report").map_err(|e| match e {
            Fail::Corrupt(m) | Fail::Other(m) => DrillStoreError::Other(m),
            other => DrillStoreError::Other(format!("{other:?}")),
        })
    }
    async fn drill_started(&self, start: &DrillStart) -> Result<(), DrillStoreError> {
        let st = start.clone();
        self.call("drill_started", move |c| {
            c.prepare_cached(
                "INSERT OR REPLACE INTO drill_starts (id, environment, started_at_ms, start) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                st.id,
                st.environment,
                to_sql_int(st.started_at_ms, "drill start")?,
                to_json(&st, "drill start")?,
            ])?;
            Ok(())
        })
        .await
        .map_err(store_error)
    }

    async fn drill_not_run(&self, id: &str) -> Result<(), DrillStoreError> {
        let key = id.to_string();
        self.call("drill_not_run", move |c| {
            c.prepare_cached("DELETE FROM drill_starts WHERE id = ?1")?
                .execute([key])?;
            Ok(())
        })
        .await
        .map_err(store_error)
    }

    async fn unfinished_drills(
        &self,
        environment: &str,
    ) -> Result<Vec<DrillStart>, DrillStoreError> {
        let environment = environment.to_string();
        self.call("unfinished_drills", move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT s.start FROM drill_starts s WHERE s.environment = ?1 AND NOT EXISTS (SELECT 1 FROM drill_reports r WHERE r.id = s.id) ORDER BY s.started_at_ms, s.id",
            )?;
            let mut rows = stmt.query([environment])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(from_json(&row.get::<_, String>(0)?, "drill start")?);
            }
            Ok(out)
        })
        .await
        .map_err(store_error)
    }
}

/// Partition of the drill summaries in the HA store, appended in the order drills end.
const DRILLS_PK: &str = "#drills#";

/// Partition of the drill starts in the HA store, appended as drills start.
const DRILL_STARTS_PK: &str = "#drill-starts#";

fn drill_pk(id: &str) -> String {
    format!("#drill#{id}")
}

/// A DynamoDB item holds at most 400 KB; a report is refused well before that.
const MAX_REPORT_BYTES: usize = 350 * 1024;

fn summary_attrs(d: &DrillSummary) -> crate::dynamodb::Item {
    use crate::dynamodb::{n, s};
    let mut item = std::collections::HashMap::from([
        ("kind".to_string(), s("drill")),
        ("drill_id".to_string(), s(&d.id)),
        ("environment".to_string(), s(&d.environment)),
        ("mode".to_string(), s(d.mode.name())),
        ("started_at_ms".to_string(), n(d.started_at_ms)),
        ("finished_at_ms".to_string(), n(d.finished_at_ms)),
        (
            "passed".to_string(),
            aws_sdk_dynamodb::types::AttributeValue::Bool(d.passed),
        ),
    ]);
    if let Some(v) = d.rto_ms {
        item.insert("rto_ms".into(), n(v));
    }
    if let Some(v) = d.rpo_ms {
        item.insert("rpo_ms".into(), n(v));
    }
    item
}

#[async_trait::async_trait]
impl DrillReports for DynamoJournal {
    async fn save_drill(&self, report: &DrillReport) -> Result<(), DrillStoreError> {
        let json = serde_json::to_string(report)
            .map_err(|e| DrillStoreError::Other(format!("cannot encode the drill report: {e}")))?;
        if json.len() > MAX_REPORT_BYTES {
            return Err(DrillStoreError::Other(format!(
                "the drill report of {} is {} KB, more than the {} KB a DynamoDB item of the HA store holds; it was written to the report directory only",
                report.id,
                json.len() / 1024,
                MAX_REPORT_BYTES / 1024
            )));
        }
        let summary = DrillSummary::of(report);
        let mut whole = summary_attrs(&summary);
        whole.insert("report".into(), crate::dynamodb::s(&json));
        self.put_drill(&drill_pk(&report.id), whole, summary_attrs(&summary))
            .await
            .map_err(|e| store_error(e.into()))?;
        tracing::info!(drill_id = %report.id, environment = %report.environment, passed = report.verdict.passed, "drill report stored in the HA store");
        Ok(())
    }

    async fn drills(
        &self,
        environment: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DrillSummary>, DrillStoreError> {
        let items = self
            .partition(DRILLS_PK, false)
            .await
            .map_err(|e| store_error(e.into()))?;
        let mut out: Vec<DrillSummary> = Vec::new();
        for item in &items {
            let d = self
                .decode_drill_summary(item)
                .map_err(|e| store_error(e.into()))?;
            if environment.is_some_and(|e| e != d.environment) || out.iter().any(|o| o.id == d.id) {
                continue;
            }
            out.push(d);
        }
        out.sort_by(|a, b| {
            b.started_at_ms
                .cmp(&a.started_at_ms)
                .then_with(|| b.id.cmp(&a.id))
        });
        out.truncate(limit);
        Ok(out)
    }

    async fn drill(&self, id: &str) -> Result<DrillReport, DrillStoreError> {
        let item = self
            .drill_item(&drill_pk(id))
            .await
            .map_err(|e| store_error(e.into()))?
            .ok_or_else(|| DrillStoreError::NotFound(id.to_string()))?;
        let json = match item.get("report") {
            Some(aws_sdk_dynamodb::types::AttributeValue::S(j)) => j,
            _ => {
                return Err(DrillStoreError::Other(format!(
                    "the stored drill {id} has no report attribute"
                )))
            }
        };
        serde_json::from_str(json).map_err(|e| {
            DrillStoreError::Other(format!("the stored drill {id} cannot be read: {e}"))
        })
    }

    async fn drill_started(&self, start: &DrillStart) -> Result<(), DrillStoreError> {
        use crate::dynamodb::{n, s};
        let json = serde_json::to_string(start)
            .map_err(|e| DrillStoreError::Other(format!("cannot encode the drill start: {e}")))?;
        let item = std::collections::HashMap::from([
            ("kind".to_string(), s("drill_start")),
            ("drill_id".to_string(), s(&start.id)),
            ("environment".to_string(), s(&start.environment)),
            ("started_at_ms".to_string(), n(start.started_at_ms)),
            ("start".to_string(), s(&json)),
        ]);
        self.append_to(DRILL_STARTS_PK, item, "recording a drill start")
            .await
            .map(|_| ())
            .map_err(|e| store_error(e.into()))
    }

    async fn drill_not_run(&self, id: &str) -> Result<(), DrillStoreError> {
        use crate::dynamodb::s;
        let item = std::collections::HashMap::from([
            ("kind".to_string(), s("drill_not_run")),
            ("drill_id".to_string(), s(id)),
        ]);
        self.append_to(DRILL_STARTS_PK, item, "recording that a drill did not run")
            .await
            .map(|_| ())
            .map_err(|e| store_error(e.into()))
    }

    async fn unfinished_drills(
        &self,
        environment: &str,
    ) -> Result<Vec<DrillStart>, DrillStoreError> {
        let items = self
            .partition(DRILL_STARTS_PK, false)
            .await
            .map_err(|e| store_error(e.into()))?;
        let is = |item: &crate::dynamodb::Item, kind: &str| matches!(item.get("kind"), Some(aws_sdk_dynamodb::types::AttributeValue::S(k)) if k == kind);
        let not_run: Vec<&str> = items
            .iter()
            .filter(|i| is(i, "drill_not_run"))
            .filter_map(|i| match i.get("drill_id") {
                Some(aws_sdk_dynamodb::types::AttributeValue::S(id)) => Some(id.as_str()),
                _ => None,
            })
            .collect();
        // One read of the listed reports, not one per start: the starts are never removed.
        let reported: std::collections::HashSet<String> = self
            .partition(DRILLS_PK, false)
            .await
            .map_err(|e| store_error(e.into()))?
            .iter()
            .map(|item| self.decode_drill_summary(item).map(|d| d.id))
            .collect::<Result<_, _>>()
            .map_err(|e| store_error(e.into()))?;
        let mut out: Vec<DrillStart> = Vec::new();
        for item in items.iter().filter(|i| is(i, "drill_start")) {
            let start: DrillStart = match item.get("start") {
                Some(aws_sdk_dynamodb::types::AttributeValue::S(j)) => serde_json::from_str(j)
                    .map_err(|e| {
                        DrillStoreError::Other(format!("a stored drill start cannot be read: {e}"))
                    })?,
                _ => {
                    return Err(DrillStoreError::Other(
                        "a stored drill start has no start attribute".into(),
                    ))
                }
            };
            if start.environment != environment
                || out.iter().any(|o| o.id == start.id)
                || not_run.contains(&start.id.as_str())
            {
                continue;
            }
            if !reported.contains(&start.id) {
                out.push(start);
            }
        }
        out.sort_by(|a, b| {
            a.started_at_ms
                .cmp(&b.started_at_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(out)
    }
}
