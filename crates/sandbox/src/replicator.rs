//! The sandbox's replicator: moto does not replicate between regions (no DynamoDB global-table
//! items, no S3 replication), so a DR drill in the sandbox would find no canary in DR. The
//! replicator stands in for AWS's replication, on our side and only in the sandbox: it polls the
//! primary's DynamoDB tables and S3 buckets of an environment config and copies each new item or
//! object to DR once it has been seen for the store kind's **delay** (`None`: that kind is not
//! replicated at all). So a drill can show some canaries arriving and others not, with a known
//! lag.
//!
//! Limits (documented in docs/sandbox.md): it copies each item or object once, as it is at the
//! time of the copy (later updates and deletes are not replicated); it reads the primary through
//! the given endpoint, so a regional outage injected by the emulator's fault layer stops it,
//! like a real regional failure stops replication; errors are logged and retried on the next
//! poll. It refuses non-loopback endpoints.

use crate::endpoint::ensure_loopback;
use crate::error::SandboxError;
use aws_sdk_dynamodb::types::AttributeValue;
use pilotlight_aws::{Caller, ClientFactory};
use pilotlight_core::model::EnvironmentConfig;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long after it appears in the primary an item or object is copied to DR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicationDelays {
    /// DynamoDB items; `None`: not replicated.
    pub dynamodb: Option<Duration>,
    /// S3 objects; `None`: not replicated.
    pub s3: Option<Duration>,
    /// How often the primary is polled.
    pub poll: Duration,
}

impl Default for ReplicationDelays {
    fn default() -> Self {
        ReplicationDelays {
            dynamodb: Some(Duration::ZERO),
            s3: Some(Duration::ZERO),
            poll: Duration::from_millis(200),
        }
    }
}

/// A running replicator; stop it with [`Replicator::stop`] (dropping it stops it too).
pub struct Replicator {
    stop: watch::Sender<bool>,
    handle: Option<tokio::task::JoinHandle<()>>,
    copied: Arc<AtomicU64>,
}

impl Replicator {
    /// Start replicating the tables and buckets of `config` through its `aws.endpoint`.
    pub fn start(
        config: &EnvironmentConfig,
        delays: ReplicationDelays,
    ) -> Result<Replicator, SandboxError> {
        let endpoint = config.aws.endpoint.clone().unwrap_or_default();
        ensure_loopback(&endpoint)?;
        let factory = Arc::new(ClientFactory::new(config.aws.clone()));
        let caller = Caller::from_factory(&factory);
        let (stop, mut stopped) = watch::channel(false);
        let copied = Arc::new(AtomicU64::new(0));
        let mut state = State {
            factory,
            caller,
            config: config.clone(),
            delays,
            first_seen: HashMap::new(),
            done: HashSet::new(),
            keys: BTreeMap::new(),
            copied: copied.clone(),
        };
        let handle = tokio::spawn(async move {
            loop {
                state.poll().await;
                tokio::select! {
                    _ = tokio::time::sleep(delays.poll) => {}
                    _ = stopped.changed() => break,
                }
            }
        });
        Ok(Replicator {
            stop,
            handle: Some(handle),
            copied,
        })
    }

    /// Items and objects copied to DR so far.
    pub fn copied(&self) -> u64 {
        self.copied.load(Ordering::SeqCst)
    }

    /// Stop and wait for the current poll to finish.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }
}

impl Drop for Replicator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

struct State {
    factory: Arc<ClientFactory>,
    caller: Caller,
    config: EnvironmentConfig,
    delays: ReplicationDelays,
    /// (store, key) → when first seen in the primary.
    first_seen: HashMap<(String, String), Instant>,
    /// (store, key) copied.
    done: HashSet<(String, String)>,
    /// Table → its key attributes.
    keys: BTreeMap<String, Vec<String>>,
    copied: Arc<AtomicU64>,
}

impl State {
    async fn poll(&mut self) {
        if let Some(delay) = self.delays.dynamodb {
            for t in self.config.dynamodb_tables.clone() {
                if let Err(e) = self.table(&t.table, delay).await {
                    tracing::warn!(table = %t.table, error = %e, "replicator: DynamoDB copy failed; retrying on the next poll");
                }
            }
        }
        if let Some(delay) = self.delays.s3 {
            for b in self.config.s3_buckets.clone() {
                if let Err(e) = self.bucket(&b.primary_bucket, &b.dr_bucket, delay).await {
                    tracing::warn!(bucket = %b.primary_bucket, error = %e, "replicator: S3 copy failed; retrying on the next poll");
                }
            }
        }
    }

    /// Whether `(store, key)`, seen now, is due for copying.
    fn due(&mut self, store: &str, key: &str, delay: Duration) -> bool {
        let id = (store.to_string(), key.to_string());
        if self.done.contains(&id) {
            return false;
        }
        let seen = *self.first_seen.entry(id).or_insert_with(Instant::now);
        seen.elapsed() >= delay
    }

    fn mark(&mut self, store: &str, key: &str) {
        self.done.insert((store.to_string(), key.to_string()));
        self.copied.fetch_add(1, Ordering::SeqCst);
    }

    async fn table(
        &mut self,
        table: &str,
        delay: Duration,
    ) -> Result<(), pilotlight_core::CapabilityError> {
        let (p, d) = (
            self.config.regions.primary.clone(),
            self.config.regions.dr.clone(),
        );
        let primary = self.factory.dynamodb(&p).await;
        let dr = self.factory.dynamodb(&d).await;
        if !self.keys.contains_key(table) {
            let out = self
                .caller
                .call("dynamodb", &p, "DescribeTable", || {
                    primary.describe_table().table_name(table).send()
                })
                .await?;
            let keys = out
                .table()
                .map(|t| {
                    t.key_schema()
                        .iter()
                        .map(|k| k.attribute_name().to_string())
                        .collect()
                })
                .unwrap_or_default();
            self.keys.insert(table.to_string(), keys);
        }
        let keys = self.keys[table].clone();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .caller
                .call("dynamodb", &p, "Scan", || {
                    primary
                        .scan()
                        .table_name(table)
                        .set_exclusive_start_key(start.clone())
                        .send()
                })
                .await?;
            for item in out.items() {
                let key = keys
                    .iter()
                    .map(|k| format!("{:?}", item.get(k)))
                    .collect::<Vec<_>>()
                    .join("|");
                let store = format!("dynamodb:{table}");
                if self.due(&store, &key, delay) {
                    self.caller
                        .call("dynamodb", &d, "PutItem", || {
                            dr.put_item()
                                .table_name(table)
                                .set_item(Some(item.clone()))
                                .send()
                        })
                        .await?;
                    self.mark(&store, &key);
                }
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(())
    }

    async fn bucket(
        &mut self,
        from: &str,
        to: &str,
        delay: Duration,
    ) -> Result<(), pilotlight_core::CapabilityError> {
        let (p, d) = (
            self.config.regions.primary.clone(),
            self.config.regions.dr.clone(),
        );
        let primary = self.factory.s3(&p).await;
        let dr = self.factory.s3(&d).await;
        let mut token: Option<String> = None;
        loop {
            let out = self
                .caller
                .call("s3", &p, "ListObjectsV2", || {
                    primary
                        .list_objects_v2()
                        .bucket(from)
                        .set_continuation_token(token.clone())
                        .send()
                })
                .await?;
            for obj in out.contents() {
                let Some(key) = obj.key() else { continue };
                let store = format!("s3:{from}");
                if self.due(&store, key, delay) {
                    self.caller
                        .call("s3", &d, "CopyObject", || {
                            dr.copy_object()
                                .bucket(to)
                                .key(key)
                                .copy_source(format!("{from}/{key}"))
                                .send()
                        })
                        .await?;
                    self.mark(&store, key);
                }
            }
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(())
    }
}
