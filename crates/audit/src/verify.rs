//! `audit verify`: recompute the whole tree from the stored records and check every checkpoint.
//!
//! One pass over the log in sequence order, in O(log n) memory. For each row it checks, in this
//! order, so the *first* record that fails is the one named:
//!
//! 1. its seq follows the previous one (a gap is a deleted record);
//! 2. its text is a valid record of the schema, and says it is that seq (else records were
//!    reordered or moved);
//! 3. `SHA-256(0x00 || text)` equals the stored leaf hash (else the record was changed);
//! 4. the nodes stored with it equal the ones the recomputed tree completes there (else an
//!    earlier record's hash was rewritten to match an edit);
//! 5. a migrated version-1 record still matches its old chain hash and its original fields.
//!
//! Every checkpoint's note must parse, be signed by a trusted key (when keys are given), name the
//! hash of the checkpoint before it, not go back in size or time, and match its stored columns.
//! When the pass reaches a checkpoint's tree size, the recomputed root must equal the signed one;
//! a checkpoint larger than the log means the tail was truncated. Trusted checkpoints given from
//! outside the store (`--from-checkpoint`) are checked the same way.

use arkbridge_core::audit::LegacyChain;
use arkbridge_core::audit::decode;
use arkbridge_core::audit::tree::Frontier;
use arkbridge_core::audit::validate::check;
use arkbridge_core::merkle::{Hash, leaf_hash};
use arkbridge_store::{Store, StoreError, StoredCheckpoint, StoredLeaf};

use crate::checkpoint::{SignedCheckpoint, note_hash};
use crate::keys::VerifierKey;

/// Rows read per page.
const PAGE: i64 = 10_000;

/// What was checked, when everything held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub records: u64,
    pub root: Hash,
    pub checkpoints: usize,
    /// Whether checkpoint signatures were checked (keys given).
    pub signatures_checked: bool,
    pub trusted_checked: usize,
    pub legacy_records: u64,
    /// The tree size of the latest checkpoint (0 if none).
    pub latest_checkpoint_size: u64,
}

impl VerifyReport {
    /// The recomputed root, base64 (as checkpoints write it).
    pub fn root_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.root)
    }
}

/// The first thing that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyFailure {
    #[error("audit record {seq} is bad: {reason}")]
    Record { seq: i64, reason: String },
    #[error("checkpoint {id} is bad: {reason}")]
    Checkpoint { id: String, reason: String },
}

impl VerifyFailure {
    fn record(seq: i64, reason: impl Into<String>) -> VerifyFailure {
        VerifyFailure::Record {
            seq,
            reason: reason.into(),
        }
    }

    fn checkpoint(id: impl std::fmt::Display, reason: impl Into<String>) -> VerifyFailure {
        VerifyFailure::Checkpoint {
            id: id.to_string(),
            reason: reason.into(),
        }
    }
}

/// What to check against.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Trusted public keys; without them, signatures are not checked (and the report says so).
    pub keys: Option<Vec<VerifierKey>>,
    /// Checkpoints kept outside the store (signed notes), which the log must still match.
    pub trusted: Vec<String>,
}

/// A root the pass must meet at `size`.
struct Expect {
    size: u64,
    root: Hash,
    name: String,
}

/// Checks the stored checkpoints; returns the roots they promise.
fn check_checkpoints(
    stored: &[StoredCheckpoint],
    keys: Option<&[VerifierKey]>,
) -> Result<Vec<Expect>, VerifyFailure> {
    let mut out = Vec::new();
    let mut prev: Option<(&StoredCheckpoint, SignedCheckpoint)> = None;
    for (i, s) in stored.iter().enumerate() {
        if s.id != i as i64 + 1 {
            return Err(VerifyFailure::checkpoint(
                i + 1,
                format!("missing (the next stored one is {})", s.id),
            ));
        }
        let parsed = match keys {
            Some(keys) => SignedCheckpoint::verify(&s.note, keys),
            None => SignedCheckpoint::parse(&s.note),
        }
        .map_err(|e| VerifyFailure::checkpoint(s.id, e.to_string()))?;
        let cp = &parsed.checkpoint;
        if cp.tree_size != s.tree_size || cp.time_us != s.time_us {
            return Err(VerifyFailure::checkpoint(
                s.id,
                "its stored size or time differs from its signed note",
            ));
        }
        match &prev {
            None if cp.prev.is_some() => {
                return Err(VerifyFailure::checkpoint(
                    s.id,
                    "it names a previous checkpoint, but it is the first one stored (earlier \
                     checkpoints were removed)",
                ));
            }
            Some((p, pp)) => {
                if cp.prev != Some(note_hash(&p.note)) {
                    return Err(VerifyFailure::checkpoint(
                        s.id,
                        format!("it does not name checkpoint {} as its previous one", p.id),
                    ));
                }
                if cp.tree_size < pp.checkpoint.tree_size || cp.time_us < pp.checkpoint.time_us {
                    return Err(VerifyFailure::checkpoint(
                        s.id,
                        format!("it goes back in size or time from checkpoint {}", p.id),
                    ));
                }
                if cp.origin != pp.checkpoint.origin {
                    return Err(VerifyFailure::checkpoint(
                        s.id,
                        format!(
                            "its origin {} differs from the log's {}",
                            cp.origin, pp.checkpoint.origin
                        ),
                    ));
                }
            }
            None => {}
        }
        out.push(Expect {
            size: cp.tree_size,
            root: cp.root,
            name: format!("checkpoint {}", s.id),
        });
        prev = Some((s, parsed));
    }
    Ok(out)
}

/// Checks the next row against the tree grown so far (steps 1–5 of the module documentation)
/// and adds its leaf. `legacy` carries the version-1 chain when the pass started at the first
/// record. Returns whether the row is a migrated version-1 record.
pub(crate) fn check_row(
    frontier: &mut Frontier,
    row: &StoredLeaf,
    legacy: Option<&mut LegacyChain>,
) -> Result<bool, VerifyFailure> {
    let expected = frontier.size() as i64 + 1;
    if row.seq != expected {
        return Err(VerifyFailure::record(
            expected,
            format!("it is missing: the next stored record is {}", row.seq),
        ));
    }
    // The borrowing schema check: a full decode allocates every field, which dominates a
    // million-record pass; only migrated records need their fields (step 5).
    let checked = check(&row.record).map_err(|e| VerifyFailure::record(row.seq, e.to_string()))?;
    if checked.seq != row.seq {
        return Err(VerifyFailure::record(
            row.seq,
            format!(
                "its row holds record {} (records were reordered or moved)",
                checked.seq
            ),
        ));
    }
    let leaf = leaf_hash(row.record.as_bytes());
    if row.leaf_hash != leaf {
        return Err(VerifyFailure::record(
            row.seq,
            "its content does not match its stored leaf hash (the record was changed)",
        ));
    }
    let nodes = frontier.push(leaf);
    if row.nodes != nodes.concat() {
        return Err(nodes_mismatch(row.seq, &row.nodes, &nodes));
    }
    if !checked.legacy {
        return Ok(false);
    }
    let record = decode(&row.record).map_err(|e| VerifyFailure::record(row.seq, e.to_string()))?;
    let Some(v1) = &record.legacy else {
        return Ok(false);
    };
    if let Some(chain) = legacy {
        chain
            .push(row.seq, v1)
            .map_err(|e| VerifyFailure::record(row.seq, e.reason))?;
    }
    if v1.to_event() != record.event {
        return Err(VerifyFailure::record(
            row.seq,
            "its fields do not match its version-1 original",
        ));
    }
    Ok(true)
}

/// Names the records under the lowest stored node that differs from the recomputed one: one of
/// them was changed with its leaf hash rewritten to match (or the node itself was).
fn nodes_mismatch(seq: i64, stored: &[u8], computed: &[Hash]) -> VerifyFailure {
    let level = computed
        .iter()
        .enumerate()
        .find(|(i, h)| stored.get(i * 32..i * 32 + 32) != Some(&h[..]))
        .map_or(computed.len() + 1, |(i, _)| i + 1);
    if level > computed.len() {
        return VerifyFailure::record(
            seq,
            "the Merkle nodes stored with it are not the ones its leaf completes",
        );
    }
    let first = seq - (1i64 << level) + 1;
    VerifyFailure::record(
        first,
        format!(
            "the Merkle node over records {first}..={seq} (stored with record {seq}) does not \
             match them: one of them was changed and its leaf hash rewritten to match"
        ),
    )
}

/// Checks every expected root at the tree's current size (checkpoints of the empty tree are met
/// before the first record).
fn meet(
    expects: &[Expect],
    next: &mut usize,
    last_ok_size: &mut u64,
    frontier: &Frontier,
) -> Result<(), VerifyFailure> {
    while let Some(e) = expects.get(*next).filter(|e| e.size == frontier.size()) {
        if frontier.root() != e.root {
            let first = (*last_ok_size + 1).min(e.size.max(1));
            return Err(VerifyFailure::record(
                first as i64,
                format!(
                    "{} (tree size {}) does not match the log: a record in {first}..={} was \
                     changed, removed or reordered, and its stored hashes rewritten to match",
                    e.name, e.size, e.size
                ),
            ));
        }
        *last_ok_size = e.size;
        *next += 1;
    }
    Ok(())
}

/// Verifies the whole log. `Ok(Err(_))` names what failed; `Err(_)` is a store that could not be
/// read at all.
pub async fn verify_log<S: Store>(
    store: &S,
    options: &VerifyOptions,
) -> Result<Result<VerifyReport, VerifyFailure>, StoreError> {
    let stored = store.audit_checkpoints().await?;
    let keys = options.keys.as_deref();
    let mut expects = match check_checkpoints(&stored, keys) {
        Ok(e) => e,
        Err(f) => return Ok(Err(f)),
    };
    for (i, note) in options.trusted.iter().enumerate() {
        let name = format!("trusted checkpoint {}", i + 1);
        let Some(keys) = keys else {
            return Ok(Err(VerifyFailure::checkpoint(
                name,
                "a trusted checkpoint needs --pubkey to check its signature",
            )));
        };
        match SignedCheckpoint::verify(note, keys) {
            Ok(t) => expects.push(Expect {
                size: t.checkpoint.tree_size,
                root: t.checkpoint.root,
                name,
            }),
            Err(e) => return Ok(Err(VerifyFailure::checkpoint(name, e.to_string()))),
        }
    }
    expects.sort_by_key(|e| e.size);
    let latest_size = stored
        .last()
        .and_then(|s| SignedCheckpoint::parse(&s.note).ok())
        .map_or(0, |c| c.checkpoint.tree_size);

    let mut frontier = Frontier::new();
    let mut legacy = LegacyChain::default();
    let mut legacy_records = 0u64;
    let mut next = 0usize;
    let mut last_ok_size = 0u64;
    let mut after = 0i64;
    if let Err(f) = meet(&expects, &mut next, &mut last_ok_size, &frontier) {
        return Ok(Err(f));
    }
    loop {
        let page = store.audit_leaves(after, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for row in &page {
            match check_row(&mut frontier, row, Some(&mut legacy)) {
                Ok(true) => legacy_records += 1,
                Ok(false) => {}
                Err(f) => return Ok(Err(f)),
            }
            if let Err(f) = meet(&expects, &mut next, &mut last_ok_size, &frontier) {
                return Ok(Err(f));
            }
        }
        after = page.last().map_or(after, |r| r.seq);
    }
    if let Some(e) = expects.get(next) {
        let n = frontier.size();
        return Ok(Err(VerifyFailure::record(
            n as i64 + 1,
            format!(
                "it is missing: {} covers {} records but the log ends at {n} (the log was \
                 truncated)",
                e.name, e.size
            ),
        )));
    }
    Ok(Ok(VerifyReport {
        records: frontier.size(),
        root: frontier.root(),
        checkpoints: stored.len(),
        signatures_checked: keys.is_some(),
        trusted_checked: options.trusted.len(),
        legacy_records,
        latest_checkpoint_size: latest_size,
    }))
}
