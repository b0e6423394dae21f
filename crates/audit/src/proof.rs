//! Roots and proofs from the stored nodes, and self-contained proof bundles that verify offline.
//!
//! The proofs are RFC 6962's `PATH(m, D[n])` and `PROOF(m, D[n])`. Each element is the root of a
//! subrange of the recursion, computed as the fold of the complete subtrees the store keeps
//! (`arkbridge_core::audit::tree`), so a proof reads O(log n) rows, never the whole log.
//! Verification is [`arkbridge_core::merkle`]'s RFC 9162 algorithms, against a signed checkpoint.

use arkbridge_core::audit::tree::{NodeId, fold, range_nodes};
use arkbridge_core::audit::{AuditRecord, decode};
use arkbridge_core::merkle::{Hash, empty_root, verify_consistency, verify_inclusion};
use arkbridge_store::{Store, StoreError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::AuditError;
use crate::checkpoint::SignedCheckpoint;
use crate::keys::VerifierKey;

/// The largest power of two strictly below `n` (n ≥ 2), RFC 6962's split point.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The subranges whose roots form `PATH(m, D[lo..hi])`, in proof order.
pub fn inclusion_ranges(m: u64, lo: u64, hi: u64, out: &mut Vec<(u64, u64)>) {
    if hi - lo <= 1 {
        return;
    }
    let k = split(hi - lo);
    if m < k {
        inclusion_ranges(m, lo, lo + k, out);
        out.push((lo + k, hi));
    } else {
        inclusion_ranges(m - k, lo + k, hi, out);
        out.push((lo, lo + k));
    }
}

/// The subranges whose roots form `SUBPROOF(m, D[lo..hi], complete)`, in proof order.
pub fn consistency_ranges(m: u64, lo: u64, hi: u64, complete: bool, out: &mut Vec<(u64, u64)>) {
    let n = hi - lo;
    if m == n {
        if !complete {
            out.push((lo, hi));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        consistency_ranges(m, lo, lo + k, complete, out);
        out.push((lo + k, hi));
    } else {
        consistency_ranges(m - k, lo + k, hi, false, out);
        out.push((lo, lo + k));
    }
}

/// The roots of `ranges`, from the store's nodes (one batched read).
pub async fn range_roots<S: Store>(
    store: &S,
    ranges: &[(u64, u64)],
) -> Result<Vec<Hash>, StoreError> {
    let plans: Vec<Vec<NodeId>> = ranges.iter().map(|&(lo, hi)| range_nodes(lo, hi)).collect();
    let ids: Vec<NodeId> = plans.iter().flatten().copied().collect();
    let hashes = store.audit_nodes(&ids).await?;
    let mut at = 0;
    Ok(plans
        .iter()
        .map(|p| {
            let root = fold(&hashes[at..at + p.len()]);
            at += p.len();
            root
        })
        .collect())
}

/// The root of the log's first `size` records.
pub async fn root_at<S: Store>(store: &S, size: u64) -> Result<Hash, StoreError> {
    if size == 0 {
        return Ok(empty_root());
    }
    Ok(range_roots(store, &[(0, size)]).await?.remove(0))
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves.
pub async fn inclusion_proof<S: Store>(
    store: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, AuditError> {
    if index >= size {
        return Err(AuditError::Invalid(format!(
            "record {} is not in a tree of {size} records",
            index + 1
        )));
    }
    let mut ranges = Vec::new();
    inclusion_ranges(index, 0, size, &mut ranges);
    Ok(range_roots(store, &ranges).await?)
}

/// The consistency proof from the tree of `old` leaves to the tree of `new` leaves.
pub async fn consistency_proof<S: Store>(
    store: &S,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, AuditError> {
    if old > new {
        return Err(AuditError::Invalid(format!(
            "a tree of {old} records cannot be a prefix of one of {new}"
        )));
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    let mut ranges = Vec::new();
    consistency_ranges(old, 0, new, true, &mut ranges);
    Ok(range_roots(store, &ranges).await?)
}

fn encode_hashes(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| B64.encode(h)).collect()
}

fn decode_hashes(texts: &[String]) -> Result<Vec<Hash>, AuditError> {
    texts
        .iter()
        .map(|t| {
            B64.decode(t)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| AuditError::Invalid(format!("`{t}` is not a base64 SHA-256 hash")))
        })
        .collect()
}

/// An inclusion proof with everything needed to check it offline: the record's exact text, the
/// audit path, and the signed checkpoint it leads to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionBundle {
    pub seq: i64,
    pub leaf_index: u64,
    pub tree_size: u64,
    /// The canonical record text (the leaf's content).
    pub record: String,
    /// Base64 hashes, leaf to root.
    pub proof: Vec<String>,
    /// The signed checkpoint (C2SP note) whose root the proof reaches.
    pub checkpoint: String,
}

/// A consistency proof between two signed checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyBundle {
    pub old_checkpoint: String,
    pub new_checkpoint: String,
    pub proof: Vec<String>,
}

/// A proof file: either kind, tagged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ProofBundle {
    Inclusion(InclusionBundle),
    Consistency(ConsistencyBundle),
}

/// Builds the inclusion bundle of record `seq` against `checkpoint`.
pub async fn prove_inclusion<S: Store>(
    store: &S,
    seq: i64,
    checkpoint: &SignedCheckpoint,
) -> Result<InclusionBundle, AuditError> {
    let size = checkpoint.checkpoint.tree_size;
    if seq < 1 || seq as u64 > size {
        return Err(AuditError::Invalid(format!(
            "record {seq} is not covered by the checkpoint (tree size {size}); write a new \
             checkpoint first (`arkbridge audit checkpoint`)"
        )));
    }
    let record = store
        .audit_records(seq - 1, 1)
        .await?
        .into_iter()
        .next()
        .filter(|r| r.seq == seq)
        .ok_or_else(|| AuditError::Invalid(format!("record {seq} is not in the log")))?;
    let proof = inclusion_proof(store, (seq - 1) as u64, size).await?;
    Ok(InclusionBundle {
        seq,
        leaf_index: (seq - 1) as u64,
        tree_size: size,
        record: record.canonical,
        proof: encode_hashes(&proof),
        checkpoint: checkpoint.note.clone(),
    })
}

/// Builds the consistency bundle from `old` to `new`.
pub async fn prove_consistency<S: Store>(
    store: &S,
    old: &SignedCheckpoint,
    new: &SignedCheckpoint,
) -> Result<ConsistencyBundle, AuditError> {
    let proof =
        consistency_proof(store, old.checkpoint.tree_size, new.checkpoint.tree_size).await?;
    Ok(ConsistencyBundle {
        old_checkpoint: old.note.clone(),
        new_checkpoint: new.note.clone(),
        proof: encode_hashes(&proof),
    })
}

impl InclusionBundle {
    /// Checks the bundle with no store: the checkpoint's signature by one of `keys`, the
    /// record's schema and place, and the audit path to the signed root. Returns the record.
    pub fn check(&self, keys: &[VerifierKey]) -> Result<AuditRecord, AuditError> {
        let cp = SignedCheckpoint::verify(&self.checkpoint, keys)?.checkpoint;
        let record = decode(&self.record)
            .map_err(|e| AuditError::Invalid(format!("the bundle's record: {e}")))?;
        if record.seq != self.seq
            || self.leaf_index != (self.seq - 1) as u64
            || self.tree_size != cp.tree_size
        {
            return Err(AuditError::Invalid(
                "the bundle's seq, leaf index and tree size disagree with its record and \
                 checkpoint"
                    .into(),
            ));
        }
        let proof = decode_hashes(&self.proof)?;
        if !verify_inclusion(
            &record.leaf_hash(),
            self.leaf_index,
            cp.tree_size,
            &proof,
            &cp.root,
        ) {
            return Err(AuditError::Invalid(format!(
                "record {} is NOT included in the signed tree of {} records",
                self.seq, cp.tree_size
            )));
        }
        Ok(record)
    }
}

impl ConsistencyBundle {
    /// Checks the bundle with no store: both signatures, and that the old tree is a prefix of
    /// the new one. Returns both sizes.
    pub fn check(&self, keys: &[VerifierKey]) -> Result<(u64, u64), AuditError> {
        let old = SignedCheckpoint::verify(&self.old_checkpoint, keys)?.checkpoint;
        let new = SignedCheckpoint::verify(&self.new_checkpoint, keys)?.checkpoint;
        let proof = decode_hashes(&self.proof)?;
        if !verify_consistency(old.tree_size, new.tree_size, &old.root, &new.root, &proof) {
            return Err(AuditError::Invalid(format!(
                "the tree of {} records is NOT a prefix of the tree of {} records",
                old.tree_size, new.tree_size
            )));
        }
        Ok((old.tree_size, new.tree_size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arkbridge_core::merkle::{
        consistency_proof as ref_consistency, inclusion_proof as ref_inclusion, leaf_hash, root,
    };

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect()
    }

    /// Range roots computed the way the store does: from complete subtrees.
    fn roots_from_nodes(all: &[Hash], ranges: &[(u64, u64)]) -> Vec<Hash> {
        ranges
            .iter()
            .map(|&(lo, hi)| {
                let nodes: Vec<Hash> = range_nodes(lo, hi)
                    .into_iter()
                    .map(|(level, index)| {
                        let a = (index << level) as usize;
                        root(&all[a..a + (1 << level)])
                    })
                    .collect();
                fold(&nodes)
            })
            .collect()
    }

    #[test]
    fn inclusion_proofs_equal_the_reference_for_every_leaf_of_every_size() {
        let all = leaves(70);
        for n in 1..=70u64 {
            for m in 0..n {
                let mut ranges = Vec::new();
                inclusion_ranges(m, 0, n, &mut ranges);
                let ours = roots_from_nodes(&all, &ranges);
                let reference = ref_inclusion(&all[..n as usize], m as usize).unwrap();
                assert_eq!(ours, reference, "leaf {m} of {n}");
            }
        }
    }

    #[test]
    fn consistency_proofs_equal_the_reference_for_every_pair_of_sizes() {
        let all = leaves(70);
        for n in 1..=70u64 {
            for m in 1..n {
                let mut ranges = Vec::new();
                consistency_ranges(m, 0, n, true, &mut ranges);
                let ours = roots_from_nodes(&all, &ranges);
                let reference = ref_consistency(&all[..n as usize], m as usize).unwrap();
                assert_eq!(ours, reference, "{m} -> {n}");
            }
        }
    }
}
