//! The audit log's records and their hash chain.
//!
//! Each record commits to the one before it: `hash = SHA-256(canonical(record) ‖ prev_hash)`, with
//! the first record chained to [`GENESIS`]. Changing, dropping or reordering any record breaks
//! every hash after it, which [`verify_chain`] finds. The canonical form is a length-prefixed
//! encoding of each field, so no two different records share one.
//!
//! Records describe what happened (who, what, which page, which account); they never hold a
//! secret value.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What is appended: everything but the chain fields, which the store assigns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Unix time in microseconds.
    pub ts_micros: i64,
    /// The verified user (or `arkbridge` for the bridge's own actions).
    pub actor: String,
    /// A dotted name: `run.requested`, `run.denied`, `secret.retrieved`, `run.finished`, ...
    pub action: String,
    pub run_id: Option<String>,
    /// What the action was on: a page, an account, a lease.
    pub target: Option<String>,
    /// Further facts, as a JSON object. Never a secret value.
    pub details: serde_json::Value,
}

/// A record as stored: the event plus its place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub event: AuditEvent,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of a record with sequence number `seq` that follows `prev_hash`.
pub fn record_hash(seq: i64, event: &AuditEvent, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(b"arkbridge-audit-v1");
    field(&seq.to_be_bytes());
    field(&event.ts_micros.to_be_bytes());
    field(event.actor.as_bytes());
    field(event.action.as_bytes());
    field(event.run_id.as_deref().unwrap_or("\u{0}").as_bytes());
    field(event.target.as_deref().unwrap_or("\u{0}").as_bytes());
    // serde_json orders object keys, so this is canonical for a given value.
    field(event.details.to_string().as_bytes());
    field(prev_hash.as_bytes());
    hex::encode(h.finalize())
}

/// Builds the record that follows `prev` (or starts the chain).
pub fn next_record(prev: Option<(&i64, &str)>, event: AuditEvent) -> AuditRecord {
    let (seq, prev_hash) = match prev {
        Some((seq, hash)) => (seq + 1, hash.to_string()),
        None => (1, GENESIS.to_string()),
    };
    let hash = record_hash(seq, &event, &prev_hash);
    AuditRecord {
        seq,
        event,
        prev_hash,
        hash,
    }
}

/// Where and why a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit record {seq} is bad: {reason}")]
pub struct ChainError {
    pub seq: i64,
    pub reason: String,
}

/// Checks a chain record by record, in sequence order, so a long log can be read in pages.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev: String,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            expected_seq: 1,
            prev: GENESIS.to_string(),
        }
    }
}

impl ChainVerifier {
    /// Checks the next record.
    pub fn push(&mut self, r: &AuditRecord) -> Result<(), ChainError> {
        if r.seq != self.expected_seq {
            return Err(ChainError {
                seq: r.seq,
                reason: format!(
                    "expected sequence number {}: a record is missing or out of order",
                    self.expected_seq
                ),
            });
        }
        if r.prev_hash != self.prev {
            return Err(ChainError {
                seq: r.seq,
                reason: "its prev_hash does not match the record before it".into(),
            });
        }
        if record_hash(r.seq, &r.event, &r.prev_hash) != r.hash {
            return Err(ChainError {
                seq: r.seq,
                reason: "its content does not match its hash (the record was changed)".into(),
            });
        }
        self.prev = r.hash.clone();
        self.expected_seq += 1;
        Ok(())
    }

    /// Records checked so far.
    pub fn count(&self) -> u64 {
        (self.expected_seq - 1) as u64
    }

    /// The hash of the last record checked (the genesis value before any).
    pub fn head(&self) -> &str {
        &self.prev
    }
}

/// Checks a whole chain read in sequence order. Returns the number of records and the head hash.
pub fn verify_chain(
    records: impl IntoIterator<Item = AuditRecord>,
) -> Result<(u64, String), ChainError> {
    let mut v = ChainVerifier::default();
    for r in records {
        v.push(&r)?;
    }
    Ok((v.count(), v.head().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: i64) -> AuditEvent {
        AuditEvent {
            ts_micros: 1_700_000_000_000_000 + i,
            actor: "alice@example.com".into(),
            action: "run.requested".into(),
            run_id: Some(format!("run-{i}")),
            target: Some("page:1".into()),
            details: serde_json::json!({"b": 1, "a": [i]}),
        }
    }

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for i in 0..n {
            let prev = out.last().map(|r| (&r.seq, r.hash.as_str()));
            let r = next_record(prev, event(i));
            out.push(r);
        }
        out
    }

    #[test]
    fn intact_chain_verifies() {
        let (n, head) = verify_chain(chain(5)).unwrap();
        assert_eq!(n, 5);
        assert_eq!(head, chain(5)[4].hash);
    }

    #[test]
    fn any_change_is_found_at_its_record() {
        let mut c = chain(5);
        c[2].event.actor.push('x');
        assert_eq!(verify_chain(c).unwrap_err().seq, 3);

        let mut c = chain(5);
        c[3].event.details = serde_json::json!({"b": 2, "a": [3]});
        assert_eq!(verify_chain(c).unwrap_err().seq, 4);

        let mut c = chain(5);
        c.remove(1);
        assert_eq!(verify_chain(c).unwrap_err().seq, 3);

        let mut c = chain(5);
        c.truncate(4);
        c[3].hash = "00".into();
        assert_eq!(verify_chain(c).unwrap_err().seq, 4);
    }

    #[test]
    fn recomputed_record_still_breaks_the_next_link() {
        let mut c = chain(4);
        c[1].event.action = "run.approved".into();
        c[1].hash = record_hash(c[1].seq, &c[1].event, &c[1].prev_hash);
        let err = verify_chain(c).unwrap_err();
        assert_eq!(err.seq, 3);
    }

    #[test]
    fn none_and_empty_fields_hash_differently() {
        let mut a = event(1);
        let mut b = event(1);
        a.target = None;
        b.target = Some(String::new());
        assert_ne!(record_hash(1, &a, GENESIS), record_hash(1, &b, GENESIS));
    }
}
