//! The Merkle functions against the RFC 6962 reference vectors (the eight-leaf test tree used by
//! Certificate Transparency implementations), and exhaustively for small trees: every inclusion
//! and consistency proof verifies, and any change to a proof, a size or a root makes it fail.

use super::*;

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// The leaf inputs of the CT reference tree.
fn reference_leaves() -> Vec<Hash> {
    let inputs: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];
    inputs.iter().map(|d| leaf_hash(d)).collect()
}

const REFERENCE_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn empty_tree_hash_is_sha256_of_nothing() {
    assert_eq!(
        hex(&empty_root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(root(&[]), empty_root());
    assert_eq!(RootBuilder::default().root(), empty_root());
}

#[test]
fn roots_match_the_rfc6962_reference_tree() {
    let leaves = reference_leaves();
    for (n, want) in REFERENCE_ROOTS.iter().enumerate() {
        assert_eq!(hex(&root(&leaves[..=n])), *want, "tree of {} leaves", n + 1);
    }
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("record {i}").as_bytes()))
        .collect()
}

#[test]
fn streaming_builder_agrees_with_the_recursive_definition() {
    let all = leaves(70);
    let mut b = RootBuilder::default();
    for (i, l) in all.iter().enumerate() {
        b.push(*l);
        assert_eq!(b.size(), i as u64 + 1);
        assert_eq!(b.root(), root(&all[..=i]), "size {}", i + 1);
    }
}

#[test]
fn every_inclusion_proof_verifies_and_tampering_fails() {
    let all = leaves(33);
    for n in 1..=all.len() {
        let d = &all[..n];
        let r = root(d);
        for i in 0..n {
            let proof = inclusion_proof(d, i).unwrap();
            assert!(
                verify_inclusion(&d[i], i as u64, n as u64, &proof, &r),
                "{i}/{n}"
            );
            // Another leaf, another index, another root, a bent or short proof: all fail. (The
            // size is bound to the root by the signed checkpoint, not by the path.)
            let other = leaf_hash(b"forged");
            assert!(!verify_inclusion(&other, i as u64, n as u64, &proof, &r));
            if n > 1 {
                let j = (i + 1) % n;
                assert!(!verify_inclusion(&d[i], j as u64, n as u64, &proof, &r));
                assert!(!verify_inclusion(&d[i], i as u64, n as u64, &proof, &d[0]));
            }
            if let Some(first) = proof.first() {
                let mut bent = proof.clone();
                bent[0] = node_hash(first, first);
                assert!(!verify_inclusion(&d[i], i as u64, n as u64, &bent, &r));
                let mut short = proof.clone();
                short.pop();
                assert!(!verify_inclusion(&d[i], i as u64, n as u64, &short, &r));
            }
        }
        assert!(inclusion_proof(d, n).is_none());
    }
}

#[test]
fn every_consistency_proof_verifies_and_tampering_fails() {
    let all = leaves(33);
    for n in 1..=all.len() {
        let d = &all[..n];
        let rn = root(d);
        for m in 1..=n {
            let rm = root(&d[..m]);
            let proof = consistency_proof(d, m).unwrap();
            assert!(
                verify_consistency(m as u64, n as u64, &rm, &rn, &proof),
                "{m}->{n}"
            );
            if m < n {
                // A rewritten history (another old root) or a wrong new root fails.
                assert!(!verify_consistency(m as u64, n as u64, &rn, &rn, &proof));
                assert!(!verify_consistency(m as u64, n as u64, &rm, &rm, &proof));
                assert!(!verify_consistency(
                    m as u64 + 1,
                    n as u64,
                    &rm,
                    &rn,
                    &proof
                ));
                let mut bent = proof.clone();
                let last = bent.len() - 1;
                bent[last] = leaf_hash(b"forged");
                assert!(!verify_consistency(m as u64, n as u64, &rm, &rn, &bent));
            }
        }
        assert!(consistency_proof(d, 0).is_none());
        assert!(consistency_proof(d, n + 1).is_none());
    }
}

#[test]
fn consistency_with_an_edited_record_fails() {
    let mut all = leaves(20);
    let old_root = root(&all[..12]);
    all[5] = leaf_hash(b"edited record 5");
    let proof = consistency_proof(&all, 12).unwrap();
    assert!(!verify_consistency(12, 20, &old_root, &root(&all), &proof));
}

#[test]
fn reference_tree_proofs_have_the_expected_lengths() {
    let d = reference_leaves();
    // PATH(0, D[8]) has log2(8) = 3 siblings; PROOF(4, D[8]) is a single hash (the right half),
    // PROOF(3, D[8]) needs four.
    assert_eq!(inclusion_proof(&d, 0).unwrap().len(), 3);
    assert_eq!(consistency_proof(&d, 4).unwrap().len(), 1);
    assert_eq!(consistency_proof(&d, 3).unwrap().len(), 4);
}
