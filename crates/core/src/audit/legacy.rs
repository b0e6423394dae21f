//! Records of the version-1 hash chain, and their migration into the current schema.
//!
//! Version 1 stored each event as columns (`ts_micros`, a free-form `actor`, a dotted `action`
//! name, `run_id`, a `target` string, `details`) chained by
//! `hash = SHA-256(len-prefixed fields ‖ prev_hash)`. A migrated record keeps every original field
//! and both chain hashes in its `legacy` member, so the old chain stays checkable
//! ([`LegacyChain`]) after the Merkle tree covers it; its current-schema fields are derived from
//! the original by [`LegacyV1::to_event`], which a verifier repeats to check them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::event::{Action, Actor, AuditEvent, AuthMethod, Outcome, SYSTEM_ACTOR, Target};
use super::record::{AuditRecord, encode_with_legacy};

/// The `prev_hash` of the first version-1 record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The issuer of version-1 users: the only identity provider then was `local-trusted`.
const V1_ISSUER: &str = "local-trusted";

/// A version-1 record's fields, exactly as the old chain hashed them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyV1 {
    pub ts_micros: i64,
    pub actor: String,
    pub action: String,
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

impl LegacyV1 {
    /// The version-1 hash of this record at `seq` (length-prefixed fields, then `prev_hash`).
    pub fn compute_hash(&self, seq: i64) -> String {
        let mut h = Sha256::new();
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        };
        field(b"arkbridge-audit-v1");
        field(&seq.to_be_bytes());
        field(&self.ts_micros.to_be_bytes());
        field(self.actor.as_bytes());
        field(self.action.as_bytes());
        field(self.run_id.as_deref().unwrap_or("\u{0}").as_bytes());
        field(self.target.as_deref().unwrap_or("\u{0}").as_bytes());
        // Version 1 hashed serde_json's text of the details (object keys in sorted order).
        field(self.details.to_string().as_bytes());
        field(self.prev_hash.as_bytes());
        hex::encode(h.finalize())
    }

    /// The event in the current schema. Old action names map onto the schema's actions; the
    /// original name stays in `legacy.action`.
    pub fn to_event(&self) -> AuditEvent {
        let (action, mut outcome) = match self.action.as_str() {
            "run.requested" => (Action::RunRequested, Outcome::Pending),
            "run.started" => (Action::RunRequested, Outcome::Success),
            "run.allowed" => (Action::PolicyDecided, Outcome::Success),
            "run.denied" => (Action::PolicyDecided, Outcome::Denied),
            "run.rejected" | "run.failed_to_start" | "run.recovered" => {
                (Action::RunFinished, Outcome::Failure)
            }
            "run.finished" => (Action::RunFinished, Outcome::Success),
            "run.fallback" => (Action::CredentialFallback, Outcome::Success),
            "secret.retrieved" | "bridge.credential_fetched" => {
                (Action::CredentialIssued, Outcome::Success)
            }
            "secret.retrieval_failed" => (Action::CredentialRequested, Outcome::Failure),
            "secret.rotated" => (Action::RotationDone, Outcome::Success),
            "secret.rotation_failed" => (Action::RotationFailed, Outcome::Failure),
            "comment.posted" => (Action::CommentPosted, Outcome::Success),
            "comment.failed" => (Action::CommentPosted, Outcome::Failure),
            "block.approved" => (Action::ApprovalGranted, Outcome::Success),
            other => (other.parse().unwrap_or(Action::ApiCall), Outcome::Success),
        };
        if self.action == "run.finished"
            && self.details.get("status").and_then(|s| s.as_str()) != Some("succeeded")
        {
            outcome = Outcome::Failure;
        }
        let mut actor = if self.actor == SYSTEM_ACTOR {
            Actor::system()
        } else {
            Actor::user(V1_ISSUER, &self.actor, AuthMethod::CliLocal)
        };
        actor.session_id = self.run_id.clone();
        let mut event = AuditEvent::new(action)
            .at(self.ts_micros)
            .by(actor)
            .outcome(outcome)
            .target(parse_target(self.target.as_deref()))
            .details(self.details.clone());
        event.run_id = self.run_id.clone();
        let reason = self
            .details
            .get("error")
            .or_else(|| self.details.get("reasons"))
            .map(|r| match r {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        event.reason = reason;
        event
    }

    /// The current-schema record for this version-1 record at `seq`.
    pub fn migrate(self, seq: i64) -> AuditRecord {
        let event = self.to_event();
        encode_with_legacy(seq, event, Some(self))
    }
}

/// Version-1 targets: `page:<id>`, `Safe/Object`, or `cyberark://Safe/Object[#property]`.
fn parse_target(target: Option<&str>) -> Target {
    let Some(t) = target else {
        return Target::default();
    };
    if let Some(id) = t.strip_prefix("page:") {
        return Target::page(id);
    }
    let account = t.strip_prefix("cyberark://").unwrap_or(t);
    let account = account.split('#').next().unwrap_or(account);
    match account.split_once('/') {
        Some((safe, object)) if !safe.is_empty() && !object.is_empty() => {
            Target::account(safe, object)
        }
        _ => Target::default(),
    }
}

/// Where and why the version-1 chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit record {seq} is bad: {reason}")]
pub struct ChainError {
    pub seq: i64,
    pub reason: String,
}

/// Checks the version-1 chain record by record, in sequence order.
#[derive(Debug, Clone)]
pub struct LegacyChain {
    prev: String,
}

impl Default for LegacyChain {
    fn default() -> Self {
        LegacyChain {
            prev: GENESIS.to_string(),
        }
    }
}

impl LegacyChain {
    /// Checks the next version-1 record (at `seq`).
    pub fn push(&mut self, seq: i64, r: &LegacyV1) -> Result<(), ChainError> {
        if r.prev_hash != self.prev {
            return Err(ChainError {
                seq,
                reason: "its version-1 prev_hash does not match the record before it".into(),
            });
        }
        if r.compute_hash(seq) != r.hash {
            return Err(ChainError {
                seq,
                reason: "its version-1 fields do not match its version-1 hash (the record was \
                         changed)"
                    .into(),
            });
        }
        self.prev = r.hash.clone();
        Ok(())
    }
}
