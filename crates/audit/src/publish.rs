//! Checkpoints published outside arkbridge's store, and reading them back.
//!
//! Every checkpoint is published where arkbridge cannot quietly rewrite it: to the SIEM as a
//! syslog CEF message (see [`crate::syslog::checkpoint_message`]; the note is the `msg`
//! extension) and, optionally, as the content property [`PROPERTY_KEY`] of a Confluence page,
//! whose value [`property_value`] builds. `audit verify --from-checkpoint FILE` then takes any of
//! these forms as they are copied out of the SIEM or Confluence ([`published_note`]): the bare
//! signed note, the property's JSON (its value, the property object, or a v2 list answer), or
//! the CEF line or whole syslog message.

use arkbridge_store::StoredCheckpoint;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::AuditError;
use crate::checkpoint::SignedCheckpoint;
use crate::note::Note;
use crate::time::format_us;

/// The Confluence content property that holds the latest checkpoint.
pub const PROPERTY_KEY: &str = "arkbridge.audit.checkpoint";

/// The facts of a checkpoint as a report or a page shows them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckpointFacts {
    /// The checkpoint's number in the store (1, 2, ...).
    pub id: i64,
    pub tree_size: u64,
    /// The root hash, base64 (as the note writes it).
    pub root: String,
    /// When it was signed, RFC 3339 UTC with microseconds.
    pub time: String,
    pub time_us: i64,
    /// The key's name (the log's origin).
    pub origin: String,
    /// The signing key's C2SP key id, 8 hex digits.
    pub key_id: String,
}

impl CheckpointFacts {
    /// Reads the facts of a stored checkpoint (without checking its signature).
    pub fn of(stored: &StoredCheckpoint) -> Result<CheckpointFacts, AuditError> {
        let signed = SignedCheckpoint::parse(&stored.note)?;
        let note = Note::parse(&stored.note)?;
        let c = &signed.checkpoint;
        // The key id of the signature by the origin's key (the first one otherwise).
        let sig = note
            .signatures
            .iter()
            .find(|s| s.name == c.origin)
            .unwrap_or(&note.signatures[0]);
        Ok(CheckpointFacts {
            id: stored.id,
            tree_size: c.tree_size,
            root: B64.encode(c.root),
            time: format_us(c.time_us),
            time_us: c.time_us,
            origin: c.origin.clone(),
            key_id: format!("{:08x}", sig.key_id),
        })
    }
}

/// The value of the [`PROPERTY_KEY`] content property: the facts, for people, and the signed
/// note, for `audit verify --from-checkpoint`.
pub fn property_value(stored: &StoredCheckpoint) -> Result<Value, AuditError> {
    let facts = CheckpointFacts::of(stored)?;
    Ok(json!({
        "checkpoint": facts.id,
        "tree_size": facts.tree_size,
        "root": facts.root,
        "time": facts.time,
        "origin": facts.origin,
        "key_id": facts.key_id,
        "note": stored.note,
    }))
}

/// The signed note inside `text`, in any of the published forms (see the module
/// documentation). Line endings are normalised (a copy from a Windows tool has `\r\n`) and
/// trailing blank lines dropped, which the note's signature does not cover anyway.
pub fn published_note(text: &str) -> Result<String, AuditError> {
    let trimmed = text.trim();
    let note = if trimmed.starts_with('{') {
        note_from_json(trimmed)?
    } else if let Some(msg) = cef_msg(trimmed) {
        msg
    } else {
        trimmed.replace("\r\n", "\n")
    };
    let mut note = note.trim_end().to_string();
    note.push('\n');
    Ok(note)
}

fn note_from_json(text: &str) -> Result<String, AuditError> {
    let bad = |why: &str| AuditError::Invalid(format!("a published checkpoint in JSON {why}"));
    let v: Value = serde_json::from_str(text).map_err(|_| bad("does not parse"))?;
    // The property value itself, the property object, or the first result of a list answer.
    let candidates = [
        v.get("note"),
        v.get("value").and_then(|p| p.get("note")),
        v.pointer("/results/0/value/note"),
    ];
    candidates
        .into_iter()
        .flatten()
        .find_map(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| bad("has no `note` field"))
}

/// The unescaped `msg` extension of a CEF line (or of a syslog message carrying one).
fn cef_msg(text: &str) -> Option<String> {
    let cef = &text[text.find("CEF:")?..];
    // An unescaped `=` never occurs inside a value, so the first ` msg=` starts the key.
    let start = cef.find(" msg=")? + " msg=".len();
    let mut out = String::new();
    let mut chars = cef[start..].chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                other => out.push(other),
            },
            // A later extension (` key=`) ends the value; the message puts none after msg.
            ' ' if next_is_key(chars.clone()) => break,
            c => out.push(c),
        }
    }
    Some(out)
}

fn next_is_key(mut rest: impl Iterator<Item = char>) -> bool {
    let mut len = 0;
    for c in rest.by_ref() {
        match c {
            '=' => return len > 0,
            c if c.is_ascii_alphanumeric() || c == '_' => len += 1,
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::keys::{SigningKey, generate};
    use crate::syslog::checkpoint_message;

    fn stored() -> (StoredCheckpoint, crate::keys::VerifierKey) {
        let (private, public) = generate("example.com/audit").unwrap();
        let key = Arc::new(SigningKey::from_base64("example.com/audit", &private).unwrap());
        let signed = SignedCheckpoint::sign(
            Checkpoint {
                origin: "example.com/audit".into(),
                tree_size: 42,
                root: [9; 32],
                time_us: 1_764_504_000_000_000,
                prev: Some([1; 32]),
            },
            &key,
        );
        let stored = StoredCheckpoint {
            id: 3,
            tree_size: 42,
            time_us: signed.checkpoint.time_us,
            note: signed.note,
        };
        (stored, public)
    }

    #[test]
    fn the_property_value_carries_the_facts_and_the_note() {
        let (stored, public) = stored();
        let v = property_value(&stored).unwrap();
        assert_eq!(v["checkpoint"], 3);
        assert_eq!(v["tree_size"], 42);
        assert_eq!(v["time"], "2025-11-30T12:00:00.000000Z");
        assert_eq!(v["key_id"], format!("{:08x}", public.key_id));
        assert_eq!(v["note"], stored.note.as_str());
    }

    #[test]
    fn every_published_form_gives_back_the_exact_note() {
        let (stored, public) = stored();
        let value = property_value(&stored).unwrap();
        let cp = SignedCheckpoint::parse(&stored.note).unwrap();
        let syslog = checkpoint_message(3, &cp, "bridge-1");
        let forms = [
            stored.note.clone(),
            format!("{}\r\n\r\n", stored.note.replace('\n', "\r\n")),
            value.to_string(),
            json!({ "id": "7", "key": PROPERTY_KEY, "value": value }).to_string(),
            json!({ "results": [{ "key": PROPERTY_KEY, "value": value }] }).to_string(),
            syslog.clone(),
            syslog[syslog.find("CEF:").unwrap()..].to_string(),
        ];
        for form in forms {
            let note = published_note(&form).unwrap();
            assert_eq!(note, stored.note, "{form}");
            SignedCheckpoint::verify(&note, std::slice::from_ref(&public)).unwrap();
        }
    }

    #[test]
    fn json_without_a_note_is_refused() {
        for bad in ["{", r#"{"value": {"tree_size": 3}}"#] {
            assert!(published_note(bad).is_err(), "{bad}");
        }
    }
}
