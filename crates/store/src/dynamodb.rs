//! [`DynamoJournal`]: the journal in one DynamoDB table (the HA store), with optional fencing
//! against the lease table ([`crate::lease`]). Same contract as the SQLite journal (the
//! conformance suite runs against both); every call goes through
//! [`pilotlight_aws::retry::Caller`].
//!
//! # Item layout
//!
//! The journal table's key is `run_id` (S, partition) + `seq` (N, sort). Besides runs and their
//! events it holds a few index and pointer items under reserved partition keys starting with
//! `#` (run ids never start with `#`; [`Journal::create_run`] refuses one that does):
//!
//! | `run_id` | `seq` | attributes | what |
//! | --- | --- | --- | --- |
//! | `<run id>` | `0` | `kind=run`, `environment`, `runbook`, `idempotency_key`, `requested_by`, `reason`, `options` (JSON), `plan` (JSON), `status`, `created_at_ms`, `finished_at_ms`? | the run header |
//! | `<run id>` | `1, 2, …` | `kind=event`, `event_kind`, `at_ms`, `event` (JSON) | the run's events, in order |
//! | `#decisions#<run id>` | `1, 2, …` | `kind=decision`, `decision_kind`, `who`, `why`, `detail` (JSON), `at_ms` | the run's decisions, in order |
//! | `#health#<environment>` | `1, 2, …` | `kind=health`, `health_kind`, `summary`, `detail` (JSON), `ref_run_id`?, `at_ms` | health events, in order |
//! | `#key#<idempotency key>` | `0` | `ref_run_id` | idempotency: the run created under that key |
//! | `#active#<environment>` | `0` | `ref_run_id`? | the environment's active run, present while it is running, paused or aborting |
//! | `#runs#` | `0` | `created` (N) | a counter of created runs: the tie-break of runs created in the same millisecond |
//! | `#runs#` | `created_at_ms·10⁶ + n` | `ref_run_id` | every run, by creation (newest first with a descending `Query`) |
//! | `#runs#<environment>` | `created_at_ms·10⁶ + n` | `ref_run_id` | the environment's runs, by creation |
//! | `#audit#` | `1, 2, …` | `kind=audit`, `at_ms`, `actor`, `role`, `action`, `target`, `outcome`, `reason`, `detail` (JSON text), `prev_hash`, `hash` | the audit log: one hash chain shared by every instance ([`AuditLog`]) |
//!
//! # Conditional writes
//!
//! Every write is one `TransactWriteItems`, so it is atomic:
//!
//! - `create_run` puts the key item (`attribute_not_exists`), the header (`attribute_not_exists`),
//!   both index items, bumps the counter (`created = :read` — so two creations never take one
//!   index position) and sets the active pointer (`attribute_not_exists(ref_run_id)`: one active
//!   run per environment). A cancelled transaction is re-read and decided again: the key now
//!   exists (→ `Existing`), another run is active (→ `ActiveRunExists`), or it was contention.
//! - `append` reads the last `seq` and puts `seq + 1` with `attribute_not_exists(seq)`, so two
//!   concurrent appends never take one number: the loser re-reads and takes the next. An event
//!   that changes the run's status ([`crate::status_after`]) updates the header in the same
//!   transaction, conditional on the status it read (`status = :read`), and a final status
//!   removes the active pointer (`ref_run_id = :run`).
//! - Decisions and health events are appended the same way in their own partitions.
//!
//! # Fencing
//!
//! [`DynamoJournal::with_fence`] adds to every transaction a `ConditionCheck` on the lease item
//! (`epoch = :mine`). Once another instance took the lease over (which increments the epoch),
//! every write of the stale leader fails with [`JournalError::Fenced`] and changes nothing.
//! Reads are not fenced.
//!
//! # Retries and errors
//!
//! Throttling, 5xx and timeouts are retried by the `Caller` (each transaction carries a client
//! request token, so a retried transaction that had succeeded is not applied twice). Losing a
//! conditional race is not an error: the operation re-reads and tries again, a bounded number of
//! times with jitter. Failures map onto [`JournalError`] through [`DynamoError`].

use crate::status_after;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, KeysAndAttributes, Put, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use pilotlight_aws::retry::Caller;
use pilotlight_core::audit::{AuditEntry, AuditLog, AuditRecord, Outcome as AuditOutcome};
use pilotlight_core::journal::{
    CreateOutcome, Decision, HealthEvent, Journal, JournalError, RunOptions, RunRecord, StoredEvent,
};
use pilotlight_core::plan::Plan;
use pilotlight_core::run::{Event, RunStatus};
use pilotlight_core::{CapabilityError, ErrorClass};
use rand::Rng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// The IAM service prefix (and rate-limiter key) of every call.
pub(crate) const SERVICE: &str = "dynamodb";

/// How many times an operation that lost a conditional race re-reads and tries again.
pub const MAX_CONTENDED_ATTEMPTS: u32 = 25;

const HEADER_SEQ: u64 = 0;
/// Index positions: `created_at_ms * ORDER_SCALE + (counter % ORDER_SCALE)`.
const ORDER_SCALE: u128 = 1_000_000;
const CONDITIONAL_CHECK_FAILED: &str = "ConditionalCheckFailed";
const TRANSACTION_CONFLICT: &str = "TransactionConflict";

/// A failure of the DynamoDB store (journal or lease), classified: [`DynamoError::is_retryable`]
/// says whether trying again later may help. Converts into [`JournalError`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DynamoError {
    /// DynamoDB refused or could not be reached (after the `Caller`'s retries).
    #[error("{table}: {source}")]
    Aws {
        /// The table, as `dynamodb://<region>/<table>`.
        table: String,
        /// The classified AWS error.
        source: Box<CapabilityError>,
    },
    /// A stored item cannot be decoded.
    #[error("{table}: a stored item is not valid ({detail}); stop, and inspect the item with `aws dynamodb get-item`")]
    Corrupt {
        /// The table.
        table: String,
        /// What is wrong.
        detail: String,
    },
    /// A request cannot be built or a value cannot be encoded (a bug or an oversized value).
    #[error("{table}: {detail}")]
    Invalid {
        /// The table.
        table: String,
        /// What is wrong.
        detail: String,
    },
    /// Other writers kept winning the conditional race.
    #[error("{table}: {what} lost the race to other writers {attempts} times; try again")]
    Contended {
        /// The table.
        table: String,
        /// The operation.
        what: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The lease's epoch is no longer this writer's: another instance leads.
    #[error("{0}")]
    Fenced(String),
    /// A journal answer (`NotFound`, `ActiveRunExists`).
    #[error(transparent)]
    Journal(JournalError),
}

impl DynamoError {
    /// Retryable: throttling, 5xx, timeouts, an unreachable endpoint, lost races. Terminal:
    /// credentials, a rejected request, a corrupt item, fencing, journal answers.
    pub fn is_retryable(&self) -> bool {
        match self {
            DynamoError::Aws { source, .. } => {
                matches!(
                    source.class,
                    ErrorClass::Retryable | ErrorClass::Unreachable
                )
            }
            DynamoError::Contended { .. } => true,
            DynamoError::Journal(e) => e.is_retryable(),
            DynamoError::Corrupt { .. } | DynamoError::Invalid { .. } | DynamoError::Fenced(_) => {
                false
            }
        }
    }
}

impl From<DynamoError> for JournalError {
    /// Retryable failures become [`JournalError::Locked`] (the journal's one retryable error);
    /// fencing [`JournalError::Fenced`]; corrupt items [`JournalError::Corrupt`]; the rest
    /// [`JournalError::Other`] with the operator's next step.
    fn from(e: DynamoError) -> JournalError {
        let retryable = e.is_retryable();
        match e {
            DynamoError::Journal(j) => j,
            DynamoError::Fenced(detail) => JournalError::Fenced(detail),
            DynamoError::Corrupt { table, detail } => JournalError::Corrupt {
                path: table,
                detail,
            },
            DynamoError::Aws { table, source } if retryable => JournalError::Locked {
                path: table,
                detail: source.to_string(),
            },
            DynamoError::Aws { table, source } => JournalError::Other {
                path: table,
                detail: source.to_string(),
            },
            DynamoError::Contended { table, .. } => JournalError::Locked {
                path: table,
                detail: e_detail_contended(),
            },
            DynamoError::Invalid { table, detail } => JournalError::Other {
                path: table,
                detail,
            },
        }
    }
}

fn e_detail_contended() -> String {
    "other writers kept winning the conditional write; try again".to_string()
}

/// What a transaction did: applied, or cancelled with one reason code per item (`None` for an
/// item that was fine).
pub(crate) enum Outcome {
    Applied,
    Cancelled(Vec<Option<String>>),
}

impl Outcome {
    fn failed(&self, i: usize) -> bool {
        matches!(self, Outcome::Cancelled(r) if r.get(i).and_then(|c| c.as_deref()) == Some(CONDITIONAL_CHECK_FAILED))
    }
    fn conflicted(&self) -> bool {
        matches!(self, Outcome::Cancelled(r) if r.iter().any(|c| c.as_deref() == Some(TRANSACTION_CONFLICT)))
    }
}

/// The low-level DynamoDB access shared by the journal and the lease: one client, one caller,
/// one region.
#[derive(Clone)]
pub(crate) struct Table {
    pub(crate) client: Client,
    pub(crate) caller: Caller,
    pub(crate) region: String,
    pub(crate) name: String,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

impl Table {
    pub(crate) fn label(&self) -> String {
        format!("dynamodb://{}/{}", self.region, self.name)
    }

    pub(crate) fn aws(&self, source: CapabilityError) -> DynamoError {
        DynamoError::Aws {
            table: self.label(),
            source: Box::new(source),
        }
    }

    pub(crate) fn corrupt(&self, detail: impl Into<String>) -> DynamoError {
        DynamoError::Corrupt {
            table: self.label(),
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid(&self, detail: impl Into<String>) -> DynamoError {
        DynamoError::Invalid {
            table: self.label(),
            detail: detail.into(),
        }
    }

    /// A strongly consistent `GetItem`.
    pub(crate) async fn get(&self, key: Item) -> Result<Option<Item>, DynamoError> {
        let out = self
            .caller
            .call(SERVICE, &self.region, "GetItem", || {
                self.client
                    .get_item()
                    .table_name(&self.name)
                    .set_key(Some(key.clone()))
                    .consistent_read(true)
                    .send()
            })
            .await
            .map_err(|e| self.aws(e))?;
        Ok(out.item)
    }

    /// One `TransactWriteItems` with a fresh client request token. A cancellation is an
    /// answer (its reasons, per item), not a failure.
    pub(crate) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Outcome, DynamoError> {
        let token = format!("{:032x}", rand::rng().random::<u128>());
        let reasons: Arc<Mutex<Option<Vec<Option<String>>>>> = Arc::default();
        let answered = self
            .caller
            .call_opt_if(
                SERVICE,
                &self.region,
                "TransactWriteItems",
                |code, _| code == Some("TransactionCanceledException"),
                || {
                    let reasons = reasons.clone();
                    let send = self
                        .client
                        .transact_write_items()
                        .set_transact_items(Some(items.clone()))
                        .client_request_token(&token)
                        .send();
                    async move {
                        let r = send.await;
                        if let Err(SdkError::ServiceError(ctx)) = &r {
                            if let TransactWriteItemsError::TransactionCanceledException(e) =
                                ctx.err()
                            {
                                let codes = e
                                    .cancellation_reasons()
                                    .iter()
                                    .map(|r| r.code().filter(|c| *c != "None").map(str::to_string))
                                    .collect();
                                *reasons.lock().unwrap_or_else(|p| p.into_inner()) = Some(codes);
                            }
                        }
                        r
                    }
                },
            )
            .await
            .map_err(|e| self.aws(e))?;
        if answered.is_some() {
            return Ok(Outcome::Applied);
        }
        let reasons = reasons
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_default();
        Ok(Outcome::Cancelled(reasons))
    }

    pub(crate) fn put(
        &self,
        item: Item,
        condition: Option<&str>,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<TransactWriteItem, DynamoError> {
        let mut b = Put::builder().table_name(&self.name).set_item(Some(item));
        if let Some(c) = condition {
            b = b.condition_expression(c);
        }
        for (k, v) in names {
            b = b.expression_attribute_names(*k, *v);
        }
        for (k, v) in values {
            b = b.expression_attribute_values(k, v);
        }
        let put = b.build().map_err(|e| self.invalid(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    pub(crate) fn update(
        &self,
        key: Item,
        expression: &str,
        condition: Option<&str>,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<TransactWriteItem, DynamoError> {
        let mut b = Update::builder()
            .table_name(&self.name)
            .set_key(Some(key))
            .update_expression(expression);
        if let Some(c) = condition {
            b = b.condition_expression(c);
        }
        for (k, v) in names {
            b = b.expression_attribute_names(*k, *v);
        }
        for (k, v) in values {
            b = b.expression_attribute_values(k, v);
        }
        let u = b.build().map_err(|e| self.invalid(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(u).build())
    }

    pub(crate) fn check(
        &self,
        table: &str,
        key: Item,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<TransactWriteItem, DynamoError> {
        let mut b = ConditionCheck::builder()
            .table_name(table)
            .set_key(Some(key))
            .condition_expression(condition);
        for (k, v) in names {
            b = b.expression_attribute_names(*k, *v);
        }
        for (k, v) in values {
            b = b.expression_attribute_values(k, v);
        }
        let c = b.build().map_err(|e| self.invalid(e.to_string()))?;
        Ok(TransactWriteItem::builder().condition_check(c).build())
    }

    /// Items of partition `pk` with `seq` in `range` (inclusive bounds; `None` = open), in
    /// ascending or descending order, at most `limit`. Strongly consistent; paginates.
    async fn query(
        &self,
        pk: &str,
        after: Option<u64>,
        forward: bool,
        limit: Option<usize>,
    ) -> Result<Vec<Item>, DynamoError> {
        let mut out: Vec<Item> = Vec::new();
        let mut start: Option<Item> = None;
        let condition = match after {
            Some(_) => "run_id = :pk AND seq > :after",
            None => "run_id = :pk",
        };
        loop {
            let want = limit.map(|l| l.saturating_sub(out.len()));
            if want == Some(0) {
                break;
            }
            let page = self
                .caller
                .call(SERVICE, &self.region, "Query", || {
                    let mut q = self
                        .client
                        .query()
                        .table_name(&self.name)
                        .key_condition_expression(condition)
                        .expression_attribute_values(":pk", s(pk))
                        .consistent_read(true)
                        .scan_index_forward(forward)
                        .set_exclusive_start_key(start.clone());
                    if let Some(a) = after {
                        q = q.expression_attribute_values(":after", n(a));
                    }
                    if let Some(w) = want {
                        q = q.limit(i32::try_from(w).unwrap_or(i32::MAX));
                    }
                    q.send()
                })
                .await
                .map_err(|e| self.aws(e))?;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        if let Some(l) = limit {
            out.truncate(l);
        }
        Ok(out)
    }

    /// The highest `seq` in partition `pk` (0 when empty).
    async fn last_seq(&self, pk: &str) -> Result<u64, DynamoError> {
        let items = self.query(pk, None, false, Some(1)).await?;
        match items.first() {
            Some(item) => self.num(item, "seq"),
            None => Ok(0),
        }
    }

    /// `BatchGetItem` of `keys` (strongly consistent), in any order; unprocessed keys are
    /// asked again.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, DynamoError> {
        let mut out = Vec::new();
        for chunk in keys.chunks(100) {
            let mut pending: Vec<Item> = chunk.to_vec();
            let mut rounds = 0u32;
            while !pending.is_empty() {
                rounds += 1;
                if rounds > MAX_CONTENDED_ATTEMPTS {
                    return Err(DynamoError::Contended {
                        table: self.label(),
                        what: "BatchGetItem".into(),
                        attempts: rounds - 1,
                    });
                }
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(pending.clone()))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| self.invalid(e.to_string()))?;
                let page = self
                    .caller
                    .call(SERVICE, &self.region, "BatchGetItem", || {
                        self.client
                            .batch_get_item()
                            .request_items(&self.name, ka.clone())
                            .send()
                    })
                    .await
                    .map_err(|e| self.aws(e))?;
                if let Some(mut r) = page.responses {
                    out.extend(r.remove(&self.name).unwrap_or_default());
                }
                pending = page
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.name))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                if !pending.is_empty() {
                    contention_pause(rounds).await;
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn string(&self, item: &Item, name: &str) -> Result<String, DynamoError> {
        match item.get(name) {
            Some(AttributeValue::S(v)) => Ok(v.clone()),
            other => Err(self.corrupt(format!(
                "attribute `{name}` should be a string, is {other:?}"
            ))),
        }
    }

    pub(crate) fn opt_string(
        &self,
        item: &Item,
        name: &str,
    ) -> Result<Option<String>, DynamoError> {
        match item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(_) => self.string(item, name).map(Some),
        }
    }

    pub(crate) fn num(&self, item: &Item, name: &str) -> Result<u64, DynamoError> {
        match item.get(name) {
            Some(AttributeValue::N(v)) => v.parse().map_err(|_| {
                self.corrupt(format!(
                    "attribute `{name}` should be a whole number, is {v}"
                ))
            }),
            other => Err(self.corrupt(format!(
                "attribute `{name}` should be a number, is {other:?}"
            ))),
        }
    }

    pub(crate) fn opt_num(&self, item: &Item, name: &str) -> Result<Option<u64>, DynamoError> {
        match item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(_) => self.num(item, name).map(Some),
        }
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        item: &Item,
        name: &str,
        what: &str,
    ) -> Result<T, DynamoError> {
        let text = self.string(item, name)?;
        serde_json::from_str(&text).map_err(|e| self.corrupt(format!("{what}: {e}")))
    }

    fn to_json<T: serde::Serialize>(
        &self,
        v: &T,
        what: &str,
    ) -> Result<AttributeValue, DynamoError> {
        serde_json::to_string(v)
            .map(AttributeValue::S)
            .map_err(|e| self.invalid(format!("cannot encode the {what}: {e}")))
    }
}

/// A string attribute.
pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute.
pub(crate) fn n(v: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn key(pk: &str, seq: u64) -> Item {
    HashMap::from([("run_id".to_string(), s(pk)), ("seq".to_string(), n(seq))])
}

/// A short random pause after a lost race, growing with the attempt (at most about 200 ms).
pub(crate) async fn contention_pause(attempt: u32) {
    let ceiling = Duration::from_millis(5).saturating_mul(1 << attempt.min(5));
    let ms = rand::rng().random_range(0..=ceiling.as_millis() as u64);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

fn decisions_pk(run_id: &str) -> String {
    format!("#decisions#{run_id}")
}
fn health_pk(environment: &str) -> String {
    format!("#health#{environment}")
}
fn key_pk(idempotency_key: &str) -> String {
    format!("#key#{idempotency_key}")
}
fn active_pk(environment: &str) -> String {
    format!("#active#{environment}")
}
const ALL_RUNS_PK: &str = "#runs#";
fn runs_pk(environment: &str) -> String {
    format!("#runs#{environment}")
}

fn parse_status(t: &Table, label: &str) -> Result<RunStatus, DynamoError> {
    serde_json::from_value(serde_json::Value::String(label.to_string()))
        .map_err(|_| t.corrupt(format!("run status `{label}` is unknown")))
}

/// The lease a fenced journal's writes are conditional on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The lease table.
    pub lease_table: String,
    /// The environment (the lease item's key).
    pub environment: String,
    /// The epoch this writer was granted.
    pub epoch: u64,
}

/// The journal on DynamoDB. See the [module documentation](self) for the item layout, the
/// conditional writes and fencing. Cloning is cheap (the SDK client is shared).
#[derive(Clone)]
pub struct DynamoJournal {
    table: Table,
    fence: Option<Fence>,
}

impl std::fmt::Debug for DynamoJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoJournal")
            .field("table", &self.table.label())
            .field("fence", &self.fence)
            .finish()
    }
}

impl DynamoJournal {
    /// A journal on `table` in `region`, calling DynamoDB with `client` through `caller`.
    /// Unfenced: use [`DynamoJournal::with_fence`] for a leader's writes.
    pub fn new(
        client: Client,
        caller: Caller,
        region: impl Into<String>,
        table: impl Into<String>,
    ) -> DynamoJournal {
        DynamoJournal {
            table: Table {
                client,
                caller,
                region: region.into(),
                name: table.into(),
            },
            fence: None,
        }
    }

    /// A journal on `table` in `region` with a client from `factory`.
    pub async fn connect(
        factory: &pilotlight_aws::ClientFactory,
        caller: Caller,
        region: &str,
        table: impl Into<String>,
    ) -> DynamoJournal {
        DynamoJournal::new(factory.dynamodb(region).await, caller, region, table)
    }

    /// This journal with every write conditional on the lease item of `environment` in
    /// `lease_table` still carrying `epoch`; a write after a takeover fails with
    /// [`JournalError::Fenced`] and changes nothing.
    pub fn with_fence(
        &self,
        lease_table: impl Into<String>,
        environment: impl Into<String>,
        epoch: u64,
    ) -> DynamoJournal {
        DynamoJournal {
            table: self.table.clone(),
            fence: Some(Fence {
                lease_table: lease_table.into(),
                environment: environment.into(),
                epoch,
            }),
        }
    }

    /// The fence in force, if any.
    pub fn fence(&self) -> Option<&Fence> {
        self.fence.as_ref()
    }

    /// The journal's location as shown in errors (`dynamodb://<region>/<table>`).
    pub fn path(&self) -> String {
        self.table.label()
    }

    /// Run `items` as one transaction, with the fence's `ConditionCheck` last; a failed fence
    /// is [`DynamoError::Fenced`] whatever else happened.
    async fn write(&self, mut items: Vec<TransactWriteItem>) -> Result<Outcome, DynamoError> {
        let t = &self.table;
        if let Some(f) = &self.fence {
            items.push(t.check(
                &f.lease_table,
                HashMap::from([("environment".to_string(), s(&f.environment))]),
                "#epoch = :epoch",
                &[("#epoch", "epoch")],
                vec![(":epoch", n(f.epoch))],
            )?);
        }
        let fence_at = items.len() - 1;
        let outcome = t.transact(items).await?;
        if let Some(f) = &self.fence {
            if outcome.failed(fence_at) {
                tracing::warn!(environment = %f.environment, epoch = f.epoch, "journal write fenced off");
                return Err(DynamoError::Fenced(format!(
                    "the lease of {} in {} no longer carries epoch {}",
                    f.environment, f.lease_table, f.epoch
                )));
            }
        }
        Ok(outcome)
    }

    async fn header(&self, run_id: &str) -> Result<Option<RunRecord>, DynamoError> {
        if run_id.starts_with('#') {
            return Ok(None);
        }
        match self.table.get(key(run_id, HEADER_SEQ)).await? {
            Some(item) => self.decode_run(&item).map(Some),
            None => Ok(None),
        }
    }

    async fn require(&self, run_id: &str) -> Result<RunRecord, DynamoError> {
        self.header(run_id)
            .await?
            .ok_or_else(|| DynamoError::Journal(JournalError::NotFound(run_id.to_string())))
    }

    fn decode_run(&self, item: &Item) -> Result<RunRecord, DynamoError> {
        let t = &self.table;
        let id = t.string(item, "run_id")?;
        Ok(RunRecord {
            environment: t.string(item, "environment")?,
            runbook: t.string(item, "runbook")?,
            idempotency_key: t.string(item, "idempotency_key")?,
            requested_by: t.string(item, "requested_by")?,
            reason: t.string(item, "reason")?,
            options: t.json::<RunOptions>(item, "options", &format!("options of run {id}"))?,
            plan: t.json::<Plan>(item, "plan", &format!("plan of run {id}"))?,
            status: parse_status(t, &t.string(item, "status")?)?,
            created_at_ms: t.num(item, "created_at_ms")?,
            finished_at_ms: t.opt_num(item, "finished_at_ms")?,
            id,
        })
    }

    fn encode_run(&self, run: &RunRecord) -> Result<Item, DynamoError> {
        let t = &self.table;
        let mut item = key(&run.id, HEADER_SEQ);
        item.insert("kind".into(), s("run"));
        item.insert("environment".into(), s(&run.environment));
        item.insert("runbook".into(), s(&run.runbook));
        item.insert("idempotency_key".into(), s(&run.idempotency_key));
        item.insert("requested_by".into(), s(&run.requested_by));
        item.insert("reason".into(), s(&run.reason));
        item.insert("options".into(), t.to_json(&run.options, "run options")?);
        item.insert("plan".into(), t.to_json(&run.plan, "plan")?);
        item.insert("status".into(), s(run.status.label()));
        item.insert("created_at_ms".into(), n(run.created_at_ms));
        if let Some(f) = run.finished_at_ms {
            item.insert("finished_at_ms".into(), n(f));
        }
        Ok(item)
    }

    async fn create(&self, run: &RunRecord) -> Result<CreateOutcome, DynamoError> {
        let t = &self.table;
        if run.id.is_empty() || run.id.starts_with('#') {
            return Err(t.invalid(format!(
                "run id `{}` is not allowed (empty, or starting with `#`, which is reserved)",
                run.id
            )));
        }
        for attempt in 1..=MAX_CONTENDED_ATTEMPTS {
            // 1. The idempotency key decides first.
            if let Some(k) = t.get(key(&key_pk(&run.idempotency_key), 0)).await? {
                let id = t.string(&k, "ref_run_id")?;
                let existing = self.header(&id).await?.ok_or_else(|| {
                    t.corrupt(format!(
                        "idempotency key {} names run {id}, which does not exist",
                        run.idempotency_key
                    ))
                })?;
                return Ok(CreateOutcome::Existing(existing));
            }
            // 2. One active run per environment.
            let active = match t.get(key(&active_pk(&run.environment), 0)).await? {
                Some(a) => t.opt_string(&a, "ref_run_id")?,
                None => None,
            };
            if let Some(active) = active {
                return Err(DynamoError::Journal(JournalError::ActiveRunExists {
                    environment: run.environment.clone(),
                    active,
                }));
            }
            // 3. Run ids are unique.
            if self.header(&run.id).await?.is_some() {
                return Err(t.invalid(format!(
                    "a run with id {} already exists under another idempotency key; give the new run a new id",
                    run.id
                )));
            }
            let created = match t.get(key(ALL_RUNS_PK, 0)).await? {
                Some(c) => t.opt_num(&c, "created")?.unwrap_or(0),
                None => 0,
            };
            let next = created + 1;
            let order =
                u128::from(run.created_at_ms) * ORDER_SCALE + u128::from(next) % ORDER_SCALE;
            let mut key_item = key(&key_pk(&run.idempotency_key), 0);
            key_item.insert("ref_run_id".into(), s(&run.id));
            let index = |pk: &str| {
                let mut i = key(pk, 0);
                i.insert("seq".into(), n(order));
                i.insert("ref_run_id".into(), s(&run.id));
                i
            };
            let counter_condition = if created == 0 {
                "attribute_not_exists(#c)"
            } else {
                "#c = :c"
            };
            let mut counter_values = vec![(":n", n(next))];
            if created != 0 {
                counter_values.push((":c", n(created)));
            }
            let active_item = if run.status.is_final() {
                t.check(
                    &t.name,
                    key(&active_pk(&run.environment), 0),
                    "attribute_not_exists(ref_run_id)",
                    &[],
                    vec![],
                )?
            } else {
                t.update(
                    key(&active_pk(&run.environment), 0),
                    "SET ref_run_id = :id",
                    Some("attribute_not_exists(ref_run_id)"),
                    &[],
                    vec![(":id", s(&run.id))],
                )?
            };
            let items = vec![
                t.put(key_item, Some("attribute_not_exists(run_id)"), &[], vec![])?,
                t.update(
                    key(ALL_RUNS_PK, 0),
                    "SET #c = :n",
                    Some(counter_condition),
                    &[("#c", "created")],
                    counter_values,
                )?,
                active_item,
                t.put(
                    self.encode_run(run)?,
                    Some("attribute_not_exists(run_id)"),
                    &[],
                    vec![],
                )?,
                t.put(
                    index(ALL_RUNS_PK),
                    Some("attribute_not_exists(run_id)"),
                    &[],
                    vec![],
                )?,
                t.put(
                    index(&runs_pk(&run.environment)),
                    Some("attribute_not_exists(run_id)"),
                    &[],
                    vec![],
                )?,
            ];
            match self.write(items).await? {
                Outcome::Applied => return Ok(CreateOutcome::Created(run.clone())),
                o => {
                    // Someone else won part of the race: decide again on fresh reads.
                    tracing::debug!(run_id = %run.id, attempt, conflict = o.conflicted(), "create_run lost a race; re-reading");
                    if !(o.failed(0) || o.failed(2) || o.failed(3)) {
                        contention_pause(attempt).await;
                    }
                }
            }
        }
        Err(DynamoError::Contended {
            table: t.label(),
            what: format!("creating run {}", run.id),
            attempts: MAX_CONTENDED_ATTEMPTS,
        })
    }

    async fn append_event(&self, run_id: &str, event: &Event) -> Result<u64, DynamoError> {
        let t = &self.table;
        let value = serde_json::to_value(event)
            .map_err(|e| t.invalid(format!("cannot encode the event: {e}")))?;
        let kind = value
            .get("event")
            .and_then(|k| k.as_str())
            .unwrap_or("unknown")
            .to_string();
        let at_ms = value.get("at_ms").and_then(|v| v.as_u64()).unwrap_or(0);
        for attempt in 1..=MAX_CONTENDED_ATTEMPTS {
            let run = self.require(run_id).await?;
            let seq = t.last_seq(run_id).await? + 1;
            let mut item = key(run_id, seq);
            item.insert("kind".into(), s("event"));
            item.insert("event_kind".into(), s(&kind));
            item.insert("at_ms".into(), n(at_ms));
            item.insert("event".into(), s(value.to_string()));
            let mut items = vec![t.put(item, Some("attribute_not_exists(seq)"), &[], vec![])?];
            let change = status_after(run.status, event);
            if let Some(status) = change {
                let finished = match event {
                    Event::RunFinished { at_ms, .. } if status.is_final() => Some(*at_ms),
                    _ => None,
                };
                let mut values = vec![(":s", s(status.label())), (":cur", s(run.status.label()))];
                let expression = match finished {
                    Some(f) => {
                        values.push((":f", n(f)));
                        "SET #st = :s, finished_at_ms = :f"
                    }
                    None => "SET #st = :s REMOVE finished_at_ms",
                };
                items.push(t.update(
                    key(run_id, HEADER_SEQ),
                    expression,
                    Some("#st = :cur"),
                    &[("#st", "status")],
                    values,
                )?);
                if !run.status.is_final() && status.is_final() {
                    items.push(t.update(
                        key(&active_pk(&run.environment), 0),
                        "REMOVE ref_run_id",
                        Some("ref_run_id = :id"),
                        &[],
                        vec![(":id", s(run_id))],
                    )?);
                }
            }
            match self.write(items).await? {
                Outcome::Applied => {
                    if let Some(status) = change {
                        tracing::info!(run_id, seq, status = status.label(), "run status changed");
                    }
                    tracing::debug!(run_id, seq, kind = %kind, "event appended");
                    return Ok(seq);
                }
                o => {
                    if o.failed(2) {
                        return Err(t.corrupt(format!(
                            "the active-run pointer of {} does not name run {run_id}, which is active",
                            run.environment
                        )));
                    }
                    tracing::debug!(run_id, seq, attempt, "append lost a race; re-reading");
                    contention_pause(attempt).await;
                }
            }
        }
        Err(DynamoError::Contended {
            table: t.label(),
            what: format!("appending to run {run_id}"),
            attempts: MAX_CONTENDED_ATTEMPTS,
        })
    }

    /// Append `attrs` to partition `pk` at the next `seq` (`attribute_not_exists(seq)`).
    pub(crate) async fn append_to(
        &self,
        pk: &str,
        attrs: Item,
        what: &str,
    ) -> Result<u64, DynamoError> {
        let t = &self.table;
        for attempt in 1..=MAX_CONTENDED_ATTEMPTS {
            let seq = t.last_seq(pk).await? + 1;
            let mut item = key(pk, seq);
            item.extend(attrs.clone());
            let put = t.put(item, Some("attribute_not_exists(seq)"), &[], vec![])?;
            match self.write(vec![put]).await? {
                Outcome::Applied => return Ok(seq),
                _ => contention_pause(attempt).await,
            }
        }
        Err(DynamoError::Contended {
            table: t.label(),
            what: what.to_string(),
            attempts: MAX_CONTENDED_ATTEMPTS,
        })
    }

    async fn list_runs(
        &self,
        environment: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, DynamoError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let t = &self.table;
        let pk = environment.map_or_else(|| ALL_RUNS_PK.to_string(), runs_pk);
        // `seq > 0` skips the counter item of `#runs#`.
        let index = t.query(&pk, Some(0), false, Some(limit)).await?;
        let ids = index
            .iter()
            .map(|i| t.string(i, "ref_run_id"))
            .collect::<Result<Vec<_>, _>>()?;
        let headers = t
            .batch_get(ids.iter().map(|id| key(id, HEADER_SEQ)).collect())
            .await?;
        let mut by_id = HashMap::new();
        for h in &headers {
            let r = self.decode_run(h)?;
            by_id.insert(r.id.clone(), r);
        }
        ids.iter()
            .map(|id| {
                by_id.remove(id).ok_or_else(|| {
                    t.corrupt(format!(
                        "the run index names run {id}, which does not exist"
                    ))
                })
            })
            .collect()
    }

    async fn read_events(&self, run_id: &str, after: u64) -> Result<Vec<StoredEvent>, DynamoError> {
        let t = &self.table;
        self.require(run_id).await?;
        t.query(run_id, Some(after), true, None)
            .await?
            .iter()
            .map(|i| {
                let seq = t.num(i, "seq")?;
                Ok(StoredEvent {
                    seq,
                    event: t.json(i, "event", &format!("event {seq} of run {run_id}"))?,
                })
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl Journal for DynamoJournal {
    async fn create_run(&self, run: &RunRecord) -> Result<CreateOutcome, JournalError> {
        let outcome = self.create(run).await?;
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
        Ok(self.append_event(run_id, event).await?)
    }

    async fn events(&self, run_id: &str) -> Result<Vec<StoredEvent>, JournalError> {
        Ok(self.read_events(run_id, 0).await?)
    }

    async fn events_since(
        &self,
        run_id: &str,
        after_seq: u64,
    ) -> Result<Vec<StoredEvent>, JournalError> {
        Ok(self.read_events(run_id, after_seq).await?)
    }

    async fn run(&self, run_id: &str) -> Result<RunRecord, JournalError> {
        Ok(self.require(run_id).await?)
    }

    async fn runs(
        &self,
        environment: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, JournalError> {
        Ok(self.list_runs(environment, limit).await?)
    }

    async fn active_run(&self, environment: &str) -> Result<Option<RunRecord>, JournalError> {
        let t = &self.table;
        let id = match t.get(key(&active_pk(environment), 0)).await? {
            Some(a) => t.opt_string(&a, "ref_run_id")?,
            None => None,
        };
        let Some(id) = id else { return Ok(None) };
        let run = self.header(&id).await?.ok_or_else(|| {
            t.corrupt(format!(
                "the active-run pointer of {environment} names run {id}, which does not exist"
            ))
        })?;
        Ok((!run.status.is_final()).then_some(run))
    }

    async fn record_decision(&self, d: &Decision) -> Result<(), JournalError> {
        let t = &self.table;
        self.require(&d.run_id).await?;
        let attrs = HashMap::from([
            ("kind".to_string(), s("decision")),
            ("decision_kind".to_string(), s(&d.kind)),
            ("who".to_string(), s(&d.who)),
            ("why".to_string(), s(&d.why)),
            (
                "detail".to_string(),
                t.to_json(&d.detail, "decision detail")?,
            ),
            ("at_ms".to_string(), n(d.at_ms)),
        ]);
        self.append_to(&decisions_pk(&d.run_id), attrs, "recording a decision")
            .await?;
        tracing::info!(run_id = %d.run_id, kind = %d.kind, who = %d.who, "decision recorded");
        Ok(())
    }

    async fn decisions(&self, run_id: &str) -> Result<Vec<Decision>, JournalError> {
        let t = &self.table;
        self.require(run_id).await?;
        let items = t.query(&decisions_pk(run_id), None, true, None).await?;
        let decode = |i: &Item| -> Result<Decision, DynamoError> {
            Ok(Decision {
                run_id: run_id.to_string(),
                kind: t.string(i, "decision_kind")?,
                who: t.string(i, "who")?,
                why: t.string(i, "why")?,
                detail: t.json(i, "detail", "decision detail")?,
                at_ms: t.num(i, "at_ms")?,
            })
        };
        Ok(items.iter().map(decode).collect::<Result<_, _>>()?)
    }

    async fn record_health_event(&self, e: &HealthEvent) -> Result<(), JournalError> {
        let t = &self.table;
        let mut attrs = HashMap::from([
            ("kind".to_string(), s("health")),
            ("health_kind".to_string(), s(&e.kind)),
            ("summary".to_string(), s(&e.summary)),
            (
                "detail".to_string(),
                t.to_json(&e.detail, "health event detail")?,
            ),
            ("at_ms".to_string(), n(e.at_ms)),
        ]);
        if let Some(r) = &e.run_id {
            attrs.insert("ref_run_id".to_string(), s(r));
        }
        self.append_to(
            &health_pk(&e.environment),
            attrs,
            "recording a health event",
        )
        .await?;
        tracing::info!(environment = %e.environment, kind = %e.kind, "health event recorded");
        Ok(())
    }

    async fn health_events(
        &self,
        environment: &str,
        limit: usize,
    ) -> Result<Vec<HealthEvent>, JournalError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let t = &self.table;
        let items = t
            .query(&health_pk(environment), None, false, Some(limit))
            .await?;
        let decode = |i: &Item| -> Result<HealthEvent, DynamoError> {
            Ok(HealthEvent {
                environment: environment.to_string(),
                kind: t.string(i, "health_kind")?,
                summary: t.string(i, "summary")?,
                detail: t.json(i, "detail", "health event detail")?,
                run_id: t.opt_string(i, "ref_run_id")?,
                at_ms: t.num(i, "at_ms")?,
            })
        };
        Ok(items.iter().map(decode).collect::<Result<_, _>>()?)
    }
}

/// The audit log's partition: one hash chain for every instance sharing the table.
const AUDIT_PK: &str = "#audit#";

impl DynamoJournal {
    fn decode_audit(&self, item: &Item) -> Result<AuditEntry, DynamoError> {
        let t = &self.table;
        let outcome = match t.string(item, "outcome")?.as_str() {
            "allowed" => AuditOutcome::Allowed,
            "denied" => AuditOutcome::Denied,
            other => return Err(t.corrupt(format!("audit outcome `{other}` is unknown"))),
        };
        Ok(AuditEntry {
            seq: t.num(item, "seq")?,
            at_ms: t.num(item, "at_ms")?,
            actor: t.string(item, "actor")?,
            role: t.string(item, "role")?,
            action: t.string(item, "action")?,
            target: t.string(item, "target")?,
            outcome,
            reason: t.string(item, "reason")?,
            detail: t.string(item, "detail")?,
            prev_hash: t.string(item, "prev_hash")?,
            hash: t.string(item, "hash")?,
        })
    }
}

impl DynamoJournal {
    /// Put a drill's whole item at `pk` (seq 0, replacing an earlier one) and append its summary
    /// to `#drills#`; fenced like every write of the leader.
    pub(crate) async fn put_drill(
        &self,
        pk: &str,
        whole: Item,
        summary: Item,
    ) -> Result<(), DynamoError> {
        let mut item = key(pk, 0);
        item.extend(whole);
        let put = self.table.put(item, None, &[], vec![])?;
        match self.write(vec![put]).await? {
            Outcome::Applied => {}
            _ => {
                return Err(DynamoError::Contended {
                    table: self.table.label(),
                    what: "storing a drill report".into(),
                    attempts: 1,
                })
            }
        }
        self.append_to("#drills#", summary, "listing a drill report")
            .await?;
        Ok(())
    }

    /// Every item of partition `pk`, ascending or descending by `seq`.
    pub(crate) async fn partition(
        &self,
        pk: &str,
        forward: bool,
    ) -> Result<Vec<Item>, DynamoError> {
        self.table.query(pk, None, forward, None).await
    }

    /// The item at `pk`, seq 0.
    pub(crate) async fn drill_item(&self, pk: &str) -> Result<Option<Item>, DynamoError> {
        self.table.get(key(pk, 0)).await
    }

    /// A drill summary item of `#drills#`.
    pub(crate) fn decode_drill_summary(
        &self,
        item: &Item,
    ) -> Result<pilotlight_drill::store::DrillSummary, DynamoError> {
        let t = &self.table;
        let mode = t.string(item, "mode")?;
        let opt = |name: &str| -> Result<Option<u64>, DynamoError> {
            match item.get(name) {
                None => Ok(None),
                Some(_) => t.num(item, name).map(Some),
            }
        };
        Ok(pilotlight_drill::store::DrillSummary {
            id: t.string(item, "drill_id")?,
            environment: t.string(item, "environment")?,
            mode: serde_json::from_value(serde_json::Value::String(mode.clone()))
                .map_err(|_| t.corrupt(format!("stored drill mode `{mode}` is unknown")))?,
            started_at_ms: t.num(item, "started_at_ms")?,
            finished_at_ms: t.num(item, "finished_at_ms")?,
            passed: matches!(item.get("passed"), Some(AttributeValue::Bool(true))),
            rto_ms: opt("rto_ms")?,
            rpo_ms: opt("rpo_ms")?,
        })
    }
}

/// The audit log in the HA store: partition `#audit#`, `seq` 1, 2, …; each append reads the
/// last entry and puts the next with `attribute_not_exists(seq)`, so instances appending at
/// once still make one unbroken chain (the loser re-reads and chains onto the winner). Written
/// without the fence: an instance that stands by still records refusals and sign-ins.
#[async_trait::async_trait]
impl AuditLog for DynamoJournal {
    async fn append_audit(&self, record: &AuditRecord) -> Result<AuditEntry, JournalError> {
        let t = &self.table;
        for attempt in 1..=MAX_CONTENDED_ATTEMPTS {
            let last = t.query(AUDIT_PK, None, false, Some(1)).await?;
            let (seq, prev) = match last.first() {
                Some(item) => {
                    let e = self.decode_audit(item)?;
                    (e.seq + 1, e.hash)
                }
                None => (1, pilotlight_core::audit::GENESIS.to_string()),
            };
            let e = AuditEntry::seal(record, seq, &prev);
            let mut item = key(AUDIT_PK, seq);
            item.extend([
                ("kind".to_string(), s("audit")),
                ("at_ms".to_string(), n(e.at_ms)),
                ("actor".to_string(), s(&e.actor)),
                ("role".to_string(), s(&e.role)),
                ("action".to_string(), s(&e.action)),
                ("target".to_string(), s(&e.target)),
                ("outcome".to_string(), s(e.outcome.label())),
                ("reason".to_string(), s(&e.reason)),
                ("detail".to_string(), s(&e.detail)),
                ("prev_hash".to_string(), s(&e.prev_hash)),
                ("hash".to_string(), s(&e.hash)),
            ]);
            let put = t.put(item, Some("attribute_not_exists(seq)"), &[], vec![])?;
            let unfenced = DynamoJournal {
                table: self.table.clone(),
                fence: None,
            };
            match unfenced.write(vec![put]).await? {
                Outcome::Applied => {
                    tracing::info!(seq = e.seq, actor = %e.actor, action = %e.action, outcome = e.outcome.label(), "audit entry recorded");
                    return Ok(e);
                }
                _ => contention_pause(attempt).await,
            }
        }
        Err(DynamoError::Contended {
            table: t.label(),
            what: "appending to the audit log".into(),
            attempts: MAX_CONTENDED_ATTEMPTS,
        }
        .into())
    }

    async fn audit_entries(
        &self,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, JournalError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let items = self
            .table
            .query(AUDIT_PK, Some(after_seq), true, Some(limit))
            .await?;
        Ok(items
            .iter()
            .map(|i| self.decode_audit(i))
            .collect::<Result<Vec<_>, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(class: ErrorClass) -> DynamoError {
        DynamoError::Aws {
            table: "dynamodb://us-west-2/j".into(),
            source: Box::new(CapabilityError {
                class,
                service: "dynamodb".into(),
                region: "us-west-2".into(),
                operation: "TransactWriteItems".into(),
                code: None,
                message: "x".into(),
                hint: "y".into(),
            }),
        }
    }

    #[test]
    fn errors_are_classified_and_map_onto_journal_errors() {
        assert!(aws(ErrorClass::Retryable).is_retryable());
        assert!(aws(ErrorClass::Unreachable).is_retryable());
        assert!(!aws(ErrorClass::Credentials).is_retryable());
        assert!(!aws(ErrorClass::Terminal).is_retryable());
        let j: JournalError = aws(ErrorClass::Retryable).into();
        assert!(
            j.is_retryable() && j.to_string().contains("dynamodb://us-west-2/j"),
            "{j}"
        );
        let j: JournalError = aws(ErrorClass::Terminal).into();
        assert!(matches!(j, JournalError::Other { .. }));
        let j: JournalError = DynamoError::Fenced("epoch 3".into()).into();
        assert_eq!(j, JournalError::Fenced("epoch 3".into()));
        assert!(!j.is_retryable());
        let c = DynamoError::Contended {
            table: "t".into(),
            what: "append".into(),
            attempts: 3,
        };
        assert!(c.is_retryable());
        assert!(JournalError::from(c).is_retryable());
        let j: JournalError = DynamoError::Corrupt {
            table: "t".into(),
            detail: "bad".into(),
        }
        .into();
        assert!(matches!(j, JournalError::Corrupt { .. }));
    }

    #[test]
    fn index_positions_order_by_creation_then_counter() {
        let pos = |ms: u64, c: u64| u128::from(ms) * ORDER_SCALE + u128::from(c) % ORDER_SCALE;
        assert!(pos(10, 2) > pos(10, 1));
        assert!(pos(11, 1) > pos(10, 999_999));
        // Far-future times still fit DynamoDB's 38 digits.
        assert!(pos(u64::MAX, 5).to_string().len() <= 38);
    }
}
