//! Signed checkpoints: the tree size and root of the audit log at a moment, signed with Ed25519
//! as a C2SP `tlog-checkpoint` note, each naming the hash of the one before (CloudTrail-style).
//!
//! ```text
//! example.com/arkbridge-audit          origin (= the signing key's name)
//! 1024                                 tree size
//! 3q2+7w...=                           root hash, base64
//! time 2026-11-30T12:00:00.000000Z     when it was signed (UTC)
//! prev Zm9v...=                        SHA-256 of the previous checkpoint's whole note
//!                                      (absent in the first checkpoint)
//!
//! — example.com/arkbridge-audit <base64(key id || signature)>
//! ```
//!
//! [`write_checkpoint`] (or a [`Checkpointer`]) writes one on demand; [`spawn_checkpoints`] (in
//! `schedule.rs`) writes one every interval (at most an hour, as CloudTrail's digests) and one
//! more at shutdown, from a task driven by tokio time, handing each to a publisher with
//! [`spawn_checkpoints_with`]. A checkpoint is written even when no record was added, so that a
//! silent gap is visible.

use std::sync::Arc;
#[cfg(test)]
use std::time::Duration;

use arkbridge_core::audit::tree::Frontier;
use arkbridge_core::merkle::Hash;
use arkbridge_store::{NewCheckpoint, Store, StoreError, StoredCheckpoint};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};
#[cfg(test)]
use tokio::sync::{oneshot, watch};
#[cfg(test)]
use tokio::time::Instant;

use crate::AuditError;
use crate::keys::{SigningKey, VerifierKey, check_name};
use crate::note::{Note, sign};
use crate::time::{format_us, now_us, parse_rfc3339};
use crate::verify::check_row;

#[cfg(test)]
use crate::schedule::periodic;
pub use crate::schedule::{
    CheckpointInterval, CheckpointTask, spawn_checkpoints, spawn_checkpoints_with, spawn_schedule,
};

/// Why a checkpoint's text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed checkpoint: {0}")]
pub struct CheckpointError(pub String);

/// The signed facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub tree_size: u64,
    pub root: Hash,
    pub time_us: i64,
    /// SHA-256 of the previous checkpoint's note; `None` for the first.
    pub prev: Option<Hash>,
}

/// SHA-256 of a whole signed note (text and signatures), as the next checkpoint's `prev` names it.
pub fn note_hash(note: &str) -> Hash {
    Sha256::digest(note.as_bytes()).into()
}

fn hash_b64(text: &str) -> Option<Hash> {
    B64.decode(text).ok()?.try_into().ok()
}

impl Checkpoint {
    /// The note text (see the module documentation).
    pub fn body(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\ntime {}\n",
            self.origin,
            self.tree_size,
            B64.encode(self.root),
            format_us(self.time_us)
        );
        if let Some(prev) = self.prev {
            s.push_str(&format!("prev {}\n", B64.encode(prev)));
        }
        s
    }

    /// Reads a note text written by [`Checkpoint::body`]; anything else is refused.
    pub fn parse_body(text: &str) -> Result<Checkpoint, CheckpointError> {
        let bad = |why: &str| CheckpointError(why.to_string());
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("no final newline"))?;
        let lines: Vec<&str> = body.split('\n').collect();
        if !(4..=5).contains(&lines.len()) {
            return Err(bad("expected origin, size, root, time and prev lines"));
        }
        check_name(lines[0]).map_err(|_| bad("bad origin line"))?;
        let size = lines[1];
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(bad("bad tree size line"));
        }
        let tree_size = size.parse().map_err(|_| bad("bad tree size line"))?;
        let root = hash_b64(lines[2]).ok_or_else(|| bad("bad root hash line"))?;
        let time_us = lines[3]
            .strip_prefix("time ")
            .and_then(|t| parse_rfc3339(t).ok())
            .ok_or_else(|| bad("bad time line"))?;
        let prev = match lines.get(4) {
            None => None,
            Some(l) => Some(
                l.strip_prefix("prev ")
                    .and_then(hash_b64)
                    .ok_or_else(|| bad("bad prev line"))?,
            ),
        };
        Ok(Checkpoint {
            origin: lines[0].to_string(),
            tree_size,
            root,
            time_us,
            prev,
        })
    }
}

/// A checkpoint with its signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub note: String,
}

impl SignedCheckpoint {
    pub fn sign(checkpoint: Checkpoint, key: &SigningKey) -> SignedCheckpoint {
        let note = sign(&checkpoint.body(), key);
        SignedCheckpoint { checkpoint, note }
    }

    /// Reads a note without checking its signature (for display, or when no key is given).
    pub fn parse(note: &str) -> Result<SignedCheckpoint, AuditError> {
        let parsed = Note::parse(note)?;
        Ok(SignedCheckpoint {
            checkpoint: Checkpoint::parse_body(&parsed.text)?,
            note: note.to_string(),
        })
    }

    /// Reads a note and checks it is signed by one of `keys` under its own origin's name.
    pub fn verify(note: &str, keys: &[VerifierKey]) -> Result<SignedCheckpoint, AuditError> {
        let parsed = Note::parse(note)?;
        let checkpoint = Checkpoint::parse_body(&parsed.text)?;
        let signers = parsed.verify(keys)?;
        if !signers.iter().any(|k| k.name == checkpoint.origin) {
            return Err(AuditError::Invalid(format!(
                "the checkpoint of {} is not signed by a key of that name",
                checkpoint.origin
            )));
        }
        Ok(SignedCheckpoint {
            checkpoint,
            note: note.to_string(),
        })
    }

    pub fn hash(&self) -> Hash {
        note_hash(&self.note)
    }
}

/// Writes checkpoints over a store's audit log.
pub struct Checkpointer<S> {
    store: S,
    key: Arc<SigningKey>,
    clock: fn() -> i64,
}

impl<S> std::fmt::Debug for Checkpointer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl<S: Store> Checkpointer<S> {
    pub fn new(store: S, key: Arc<SigningKey>) -> Checkpointer<S> {
        Checkpointer {
            store,
            key,
            clock: now_us,
        }
    }

    /// Uses `clock` (UTC microseconds) for the checkpoints' time, e.g. a test's paused clock.
    pub fn with_clock(mut self, clock: fn() -> i64) -> Checkpointer<S> {
        self.clock = clock;
        self
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Signs and stores a checkpoint of the whole log as it is now (see [`write_checkpoint`]).
    pub async fn checkpoint(&self) -> Result<StoredCheckpoint, AuditError> {
        write_checkpoint_at(&self.store, &self.key, (self.clock)()).await
    }
}

/// Signs and stores a checkpoint of the whole log of `store` as it is now. First it checks that
/// the stored tree still folds to the latest checkpoint's root and that every record added
/// since is intact (as `audit verify` checks them), and refuses otherwise: a log never signs a
/// tree inconsistent with one it signed before. Its cost is proportional to the records added.
pub async fn write_checkpoint<S: Store>(
    store: &S,
    key: &SigningKey,
) -> Result<StoredCheckpoint, AuditError> {
    write_checkpoint_at(store, key, now_us()).await
}

/// [`write_checkpoint`] stamped `now` (the time it was asked for).
async fn write_checkpoint_at<S: Store>(
    store: &S,
    key: &SigningKey,
    now: i64,
) -> Result<StoredCheckpoint, AuditError> {
    let mut attempts = 0;
    loop {
        let latest = store.audit_checkpoints().await?.pop();
        let size = store.audit_size().await?;
        let (prev_id, prev_hash, not_before, mut frontier) = match &latest {
            None => (None, None, i64::MIN, Frontier::new()),
            Some(stored) => {
                let prev = SignedCheckpoint::parse(&stored.note)?.checkpoint;
                let frontier = frontier_at(store, stored.id, &prev, size).await?;
                (
                    Some(stored.id),
                    Some(note_hash(&stored.note)),
                    prev.time_us,
                    frontier,
                )
            }
        };
        check_new_records(store, &mut frontier, size).await?;
        let checkpoint = Checkpoint {
            origin: key.name().to_string(),
            tree_size: size,
            root: frontier.root(),
            time_us: now.max(not_before),
            prev: prev_hash,
        };
        let signed = SignedCheckpoint::sign(checkpoint, key);
        let new = NewCheckpoint {
            prev_id,
            tree_size: size,
            time_us: signed.checkpoint.time_us,
            note: signed.note,
        };
        match store.add_checkpoint(&new).await {
            Err(StoreError::Conflict(_)) if attempts < 3 => attempts += 1,
            other => return Ok(other?),
        }
    }
}

/// The tree's right edge at the previous checkpoint, from the stored nodes, which must still
/// fold to the root it signed.
async fn frontier_at<S: Store>(
    store: &S,
    id: i64,
    prev: &Checkpoint,
    size: u64,
) -> Result<Frontier, AuditError> {
    if prev.tree_size > size {
        return Err(AuditError::Tampered(format!(
            "checkpoint {id} covers {} records but the log holds {size}: records were \
             removed; refusing to sign",
            prev.tree_size
        )));
    }
    let positions = Frontier::positions(prev.tree_size);
    let roots = store.audit_nodes(&positions).await?;
    match Frontier::from_roots(prev.tree_size, roots) {
        Some(f) if f.root() == prev.root => Ok(f),
        _ => Err(AuditError::Tampered(format!(
            "the log's first {} records no longer match checkpoint {id}; refusing to sign \
             (run `arkbridge audit verify`)",
            prev.tree_size
        ))),
    }
}

/// Checks every record the new checkpoint adds, as `audit verify` would, growing `frontier`
/// to `size`: a checkpoint never vouches for a record that is already inconsistent.
async fn check_new_records<S: Store>(
    store: &S,
    frontier: &mut Frontier,
    size: u64,
) -> Result<(), AuditError> {
    while frontier.size() < size {
        let want = (size - frontier.size()).min(10_000) as i64;
        let page = store.audit_leaves(frontier.size() as i64, want).await?;
        if page.is_empty() {
            break;
        }
        for row in page.iter().take_while(|r| r.seq as u64 <= size) {
            check_row(frontier, row, None)
                .map_err(|f| AuditError::Tampered(format!("{f}; refusing to sign")))?;
        }
    }
    if frontier.size() != size {
        return Err(AuditError::Tampered(format!(
            "record {} is missing; refusing to sign",
            frontier.size() + 1
        )));
    }
    Ok(())
}

#[cfg(test)]
#[path = "checkpoint_tests.rs"]
mod tests;
