//! Where the audit log's Merkle nodes live, and how they grow.
//!
//! Every complete subtree's root is stored once, in the row of the leaf that completed it: leaf
//! `i` completes the nodes at levels `1..=t`, `t` = the number of trailing one bits of `i`, and
//! the row stores them, lowest level first, 32 bytes each (the leaf hash itself is level 0). So
//! node `(level, index)`, covering leaves `[index·2^level, (index+1)·2^level)`, is in the row of
//! leaf `(index+1)·2^level − 1`. This costs one extra hash per record on average, needs no table
//! of its own, and a verifier reading rows in order meets each node right after its last leaf.
//!
//! Any subtree of the RFC 6962 recursion, `[lo, hi)`, is the right fold of the complete subtrees
//! [`range_nodes`] lists, so a root or a proof needs O(log n) stored nodes. The hashing itself is
//! [`crate::merkle`]'s.

use crate::merkle::{Hash, empty_root, node_hash};

/// A node: `(level, index)`; level 0 is a leaf.
pub type NodeId = (u32, u64);

/// The leaf index whose row stores node `(level, index)`.
pub fn completing_leaf((level, index): NodeId) -> u64 {
    ((index + 1) << level) - 1
}

/// How many nodes leaf `leaf` completes (levels `1..=n`).
pub fn completed_levels(leaf: u64) -> u32 {
    leaf.trailing_ones()
}

/// The complete subtrees that make up `[lo, hi)`, largest first. For the ranges of the RFC 6962
/// recursion (`lo` a multiple of the range's size rounded up to a power of two) these are the
/// nodes whose right fold ([`fold`]) is the range's root.
pub fn range_nodes(lo: u64, hi: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut at = lo;
    while at < hi {
        // The largest power of two that fits in what is left and keeps `at` aligned.
        let fits = 63 - (hi - at).leading_zeros();
        let aligned = if at == 0 { 63 } else { at.trailing_zeros() };
        let level = fits.min(aligned);
        out.push((level, at >> level));
        at += 1 << level;
    }
    out
}

/// The root of a range from its [`range_nodes`] hashes: `H(n0, H(n1, ... H(nk-1, nk)))`.
pub fn fold(nodes: &[Hash]) -> Hash {
    let mut it = nodes.iter().rev();
    let Some(&last) = it.next() else {
        return empty_root();
    };
    it.fold(last, |acc, h| node_hash(h, &acc))
}

/// The right edge of a growing tree: the roots of its complete subtrees, largest first (one per
/// set bit of the size). Appending a leaf yields the nodes it completes, which is what the store
/// writes with the leaf; the root of the whole tree is their fold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    roots: Vec<Hash>,
}

impl Frontier {
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// The stored nodes a tree of `size` leaves needs to go on growing: `range_nodes(0, size)`.
    pub fn positions(size: u64) -> Vec<NodeId> {
        range_nodes(0, size)
    }

    /// A frontier from the hashes of [`Frontier::positions`]; `None` if their number is wrong.
    pub fn from_roots(size: u64, roots: Vec<Hash>) -> Option<Frontier> {
        (roots.len() == size.count_ones() as usize).then_some(Frontier { size, roots })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; returns the interior nodes it completes, lowest level first.
    pub fn push(&mut self, leaf: Hash) -> Vec<Hash> {
        let mut completed = Vec::new();
        let mut carry = leaf;
        let mut level = 0;
        while self.size >> level & 1 == 1 {
            // The last root is the complete subtree of 2^level leaves just left of the carry.
            let left = self.roots.pop().expect("one root per set bit of the size");
            carry = node_hash(&left, &carry);
            completed.push(carry);
            level += 1;
        }
        self.roots.push(carry);
        self.size += 1;
        completed
    }

    /// The RFC 6962 root of the leaves so far.
    pub fn root(&self) -> Hash {
        fold(&self.roots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{leaf_hash, root};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn frontier_root_matches_the_reference_root_at_every_size() {
        let all = leaves(300);
        let mut f = Frontier::new();
        assert_eq!(f.root(), root(&[]));
        for (i, l) in all.iter().enumerate() {
            f.push(*l);
            assert_eq!(f.root(), root(&all[..=i]), "size {}", i + 1);
        }
    }

    #[test]
    fn completed_nodes_are_the_aligned_subtree_roots_stored_where_they_say() {
        let all = leaves(130);
        let mut f = Frontier::new();
        for (i, l) in all.iter().enumerate() {
            let i = i as u64;
            let done = f.push(*l);
            assert_eq!(done.len() as u32, completed_levels(i));
            for (k, h) in done.iter().enumerate() {
                let level = k as u32 + 1;
                let index = i >> level;
                assert_eq!(completing_leaf((level, index)), i);
                let lo = (index << level) as usize;
                assert_eq!(*h, root(&all[lo..lo + (1 << level)]));
            }
        }
    }

    #[test]
    fn range_nodes_fold_to_every_rfc_subtree_root() {
        let all = leaves(100);
        // Every range the RFC recursion visits, for every tree size.
        fn visit(lo: u64, hi: u64, out: &mut Vec<(u64, u64)>) {
            out.push((lo, hi));
            if hi - lo > 1 {
                let k = 1u64 << (63 - (hi - lo - 1).leading_zeros());
                visit(lo, lo + k, out);
                visit(lo + k, hi, out);
            }
        }
        for n in 1..=100u64 {
            let mut ranges = Vec::new();
            visit(0, n, &mut ranges);
            for (lo, hi) in ranges {
                let hashes: Vec<Hash> = range_nodes(lo, hi)
                    .into_iter()
                    .map(|(level, index)| {
                        let a = (index << level) as usize;
                        root(&all[a..a + (1 << level)])
                    })
                    .collect();
                assert_eq!(fold(&hashes), root(&all[lo as usize..hi as usize]));
            }
        }
    }

    #[test]
    fn frontier_rebuilt_from_stored_roots_goes_on_identically() {
        let all = leaves(77);
        let mut a = Frontier::new();
        for l in &all[..45] {
            a.push(*l);
        }
        let roots: Vec<Hash> = Frontier::positions(45)
            .into_iter()
            .map(|(level, index)| {
                let lo = (index << level) as usize;
                root(&all[lo..lo + (1 << level)])
            })
            .collect();
        let mut b = Frontier::from_roots(45, roots).unwrap();
        assert_eq!(a, b);
        for l in &all[45..] {
            assert_eq!(a.push(*l), b.push(*l));
        }
        assert_eq!(b.root(), root(&all));
        assert!(Frontier::from_roots(45, vec![]).is_none());
    }
}
