//! The audit log: an append-only, hash-chained record of every state-changing request to the
//! API (allowed or refused) and every sign-in attempt. Each entry's hash is the SHA-256 of its
//! canonical form, which includes the previous entry's hash, so an edited, deleted or reordered
//! entry breaks the chain at that point ([`verify_chain`]). Pure: storage implements
//! [`AuditLog`].

use crate::journal::JournalError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Whether the request was carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Allowed (and attempted).
    Allowed,
    /// Refused: unauthenticated, not allowed, bad CSRF token, invalid request.
    Denied,
}

impl Outcome {
    /// Lower-case label.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
        }
    }
}

/// An entry before it is appended (the log assigns `seq`, `prev_hash` and `hash`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// Who (a token's name, an ID token's email or subject, `anonymous`).
    pub actor: String,
    /// Their role (`viewer`, ..., or `none`).
    pub role: String,
    /// What (`session.create`, `run.start`, `run.approve`, ...).
    pub action: String,
    /// On what (a run id, a runbook, the environment).
    pub target: String,
    /// Allowed or denied.
    pub outcome: Outcome,
    /// Why it was denied, or what happened.
    pub reason: String,
    /// Supporting data.
    pub detail: serde_json::Value,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// Who.
    pub actor: String,
    /// Their role.
    pub role: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// Allowed or denied.
    pub outcome: Outcome,
    /// Why.
    pub reason: String,
    /// Supporting data, as the exact JSON text that was hashed.
    pub detail: String,
    /// The previous entry's hash ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// SHA-256 (hex) of the canonical entry, which includes `prev_hash`.
    pub hash: String,
}

impl AuditEntry {
    /// Seal `record` as entry `seq` after `prev_hash`.
    pub fn seal(record: &AuditRecord, seq: u64, prev_hash: &str) -> AuditEntry {
        let mut e = AuditEntry {
            seq,
            at_ms: record.at_ms,
            actor: record.actor.clone(),
            role: record.role.clone(),
            action: record.action.clone(),
            target: record.target.clone(),
            outcome: record.outcome,
            reason: record.reason.clone(),
            detail: record.detail.to_string(),
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }

    /// The canonical form: a JSON array of every field but `hash`, in a fixed order.
    pub fn canonical(&self) -> String {
        serde_json::json!([
            self.seq,
            self.at_ms,
            self.actor,
            self.role,
            self.action,
            self.target,
            self.outcome.label(),
            self.reason,
            self.detail,
            self.prev_hash,
        ])
        .to_string()
    }

    /// SHA-256 (hex) of the canonical form.
    pub fn compute_hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical().as_bytes()))
    }
}

/// Where and how the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit log broken at entry {seq}: {problem}")]
pub struct ChainBreak {
    /// The first entry that does not fit (its stored seq, or the expected one if missing).
    pub seq: u64,
    /// What is wrong.
    pub problem: String,
}

/// Walk `entries` (in stored order) and return the first break: a seq out of order or missing,
/// a `prev_hash` that is not the previous entry's hash, or a hash that does not match the
/// entry's content.
pub fn verify_chain(entries: &[AuditEntry]) -> Result<(), ChainBreak> {
    let mut prev = GENESIS.to_string();
    for (i, e) in entries.iter().enumerate() {
        let expected = i as u64 + 1;
        if e.seq != expected {
            return Err(ChainBreak {
                seq: e.seq,
                problem: format!(
                    "expected entry {expected} here: an entry was deleted, inserted or reordered"
                ),
            });
        }
        if e.prev_hash != prev {
            return Err(ChainBreak {
                seq: e.seq,
                problem: "its prev_hash is not the previous entry's hash: an entry before it was changed, deleted or reordered".into(),
            });
        }
        if e.compute_hash() != e.hash {
            return Err(ChainBreak {
                seq: e.seq,
                problem: "its content does not match its hash: the entry was edited".into(),
            });
        }
        prev = e.hash.clone();
    }
    Ok(())
}

/// Durable storage of the audit log.
#[async_trait::async_trait]
pub trait AuditLog: Send + Sync {
    /// Append `record` at the end of the chain (seq and hashes assigned atomically) and return
    /// the stored entry.
    async fn append_audit(&self, record: &AuditRecord) -> Result<AuditEntry, JournalError>;
    /// Entries with a seq above `after_seq`, oldest first, at most `limit`.
    async fn audit_entries(
        &self,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, JournalError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let r = AuditRecord {
                    at_ms: 1000 + seq,
                    actor: format!("user{seq}"),
                    role: "operator".into(),
                    action: "run.start".into(),
                    target: "failover".into(),
                    outcome: Outcome::Allowed,
                    reason: String::new(),
                    detail: serde_json::json!({ "n": seq }),
                };
                let e = AuditEntry::seal(&r, seq, &prev);
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify_chain(&chain(5)), Ok(()));
        assert_eq!(verify_chain(&[]), Ok(()));
    }

    #[test]
    fn an_edited_entry_is_named() {
        let mut c = chain(5);
        c[2].outcome = Outcome::Denied;
        let b = verify_chain(&c).unwrap_err();
        assert_eq!(b.seq, 3);
        assert!(b.problem.contains("edited"), "{b}");
    }

    #[test]
    fn an_edited_entry_with_a_recomputed_hash_breaks_the_next_link() {
        let mut c = chain(5);
        c[2].actor = "mallory".into();
        c[2].hash = c[2].compute_hash();
        let b = verify_chain(&c).unwrap_err();
        assert_eq!(b.seq, 4);
    }

    #[test]
    fn a_deleted_or_reordered_entry_is_named() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(verify_chain(&c).unwrap_err().seq, 3);
        let mut c = chain(5);
        c.swap(1, 2);
        assert_eq!(verify_chain(&c).unwrap_err().seq, 3);
    }
}
