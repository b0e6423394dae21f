//! A stored record: an event with its sequence number, in canonical form.
//!
//! The canonical form is the RFC 8785 (JCS) text of this JSON object (absent optional members are
//! left out, never written as `null`):
//!
//! ```text
//! {"action":"credential.issued",
//!  "actor":{"auth_method":"oidc","issuer":"https://id.example.com","name":"Alice",
//!           "session_id":"...","subject":"alice@example.com"},
//!  "details":{...},"outcome":"success","reason":"...","run_id":"...","seq":42,
//!  "source":"10.0.0.7",
//!  "target":{"account_id":"12_3","block":"restart","object":"payments-db",
//!            "page_id":"1001","page_version":7,"safe":"Prod-DB"},
//!  "time_us":1764504000123456,"v":2}
//! ```
//!
//! (shown wrapped; the real text has no whitespace). `v` is the schema version, `seq` the
//! record's 1-based position (its Merkle leaf index is `seq - 1`), `time_us` UTC microseconds.
//! The Merkle leaf is `SHA-256(0x00 || canonical bytes)`. Records migrated from the version-1
//! hash chain also carry a `legacy` member holding the original fields and chain hashes (see
//! [`super::legacy`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::canonical::to_canonical;
use super::event::{Action, Actor, AuditEvent, Outcome, Target};
use super::legacy::LegacyV1;
use crate::merkle::{Hash, leaf_hash};

/// The schema version written by this code.
pub const SCHEMA_VERSION: u32 = 2;

/// A record as stored: the event, its place in the log, and the exact bytes that are hashed.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// 1-based; the Merkle leaf index is `seq - 1`.
    pub seq: i64,
    pub event: AuditEvent,
    /// The original version-1 record, for records migrated from the old hash chain.
    pub legacy: Option<LegacyV1>,
    /// The canonical text (the Merkle leaf's content).
    pub canonical: String,
}

impl AuditRecord {
    /// `SHA-256(0x00 || canonical)`.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(self.canonical.as_bytes())
    }

    /// The Merkle leaf index, `seq - 1`.
    pub fn leaf_index(&self) -> u64 {
        (self.seq - 1) as u64
    }
}

/// A stored record that does not follow the schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("not a valid audit record: {0}")]
    Schema(String),
    #[error("unsupported audit record version {0}")]
    Version(u32),
    #[error("`details` must be a JSON object")]
    Details,
}

/// The JSON members, in the schema's names.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    v: u32,
    seq: i64,
    time_us: i64,
    actor: Actor,
    #[serde(default)]
    source: Option<String>,
    action: Action,
    #[serde(default)]
    target: Target,
    outcome: Outcome,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default = "empty_object")]
    details: Value,
    #[serde(default)]
    legacy: Option<LegacyV1>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

fn is_empty_object(v: &&Value) -> bool {
    matches!(v, Value::Object(m) if m.is_empty())
}

/// The record `seq` for `event`, in canonical form.
pub fn encode(seq: i64, event: AuditEvent) -> AuditRecord {
    encode_with_legacy(seq, event, None)
}

pub(crate) fn encode_with_legacy(
    seq: i64,
    mut event: AuditEvent,
    legacy: Option<LegacyV1>,
) -> AuditRecord {
    if !event.details.is_object() {
        let details = std::mem::take(&mut event.details);
        event = event.details(details);
    }
    let wire = WireRef {
        v: SCHEMA_VERSION,
        seq,
        time_us: event.time_us,
        actor: &event.actor,
        source: event.source.as_deref(),
        action: event.action,
        target: &event.target,
        outcome: event.outcome,
        reason: event.reason.as_deref(),
        run_id: event.run_id.as_deref(),
        details: &event.details,
        legacy: legacy.as_ref(),
    };
    // Serialising plain data (strings, integers, JSON values) into a `Value` cannot fail.
    let value = serde_json::to_value(&wire).unwrap_or(Value::Null);
    let canonical = to_canonical(&value);
    AuditRecord {
        seq,
        event,
        legacy,
        canonical,
    }
}

/// [`Wire`] by reference, for writing without copying the event.
#[derive(Serialize)]
struct WireRef<'a> {
    v: u32,
    seq: i64,
    time_us: i64,
    actor: &'a Actor,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    action: Action,
    #[serde(skip_serializing_if = "Target::is_empty")]
    target: &'a Target,
    outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<&'a str>,
    #[serde(skip_serializing_if = "is_empty_object")]
    details: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    legacy: Option<&'a LegacyV1>,
}

/// Reads a stored record. The text is kept as it is: it is what the leaf hash covers.
pub fn decode(text: &str) -> Result<AuditRecord, RecordError> {
    let wire: Wire = serde_json::from_str(text).map_err(|e| RecordError::Schema(e.to_string()))?;
    if wire.v != SCHEMA_VERSION {
        return Err(RecordError::Version(wire.v));
    }
    if !wire.details.is_object() {
        return Err(RecordError::Details);
    }
    Ok(AuditRecord {
        seq: wire.seq,
        event: AuditEvent {
            time_us: wire.time_us,
            actor: wire.actor,
            source: wire.source,
            action: wire.action,
            target: wire.target,
            outcome: wire.outcome,
            reason: wire.reason,
            run_id: wire.run_id,
            details: wire.details,
        },
        legacy: wire.legacy,
        canonical: text.to_string(),
    })
}

/// Whether `text` is exactly the canonical form of what it says (no extra whitespace, sorted
/// members, normalised numbers). Records written by arkbridge always are.
pub fn is_canonical(text: &str) -> bool {
    serde_json::from_str::<Value>(text).is_ok_and(|v| to_canonical(&v) == text)
}
