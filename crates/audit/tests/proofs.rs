//! Inclusion and consistency proofs built from a real store's nodes, checked offline from their
//! bundles alone; and exports that can be tied back to them.

mod common;

use arkbridge_audit::export::{Format, export, jsonl};
use arkbridge_audit::proof::{ProofBundle, prove_consistency, prove_inclusion};
use arkbridge_audit::{SignedCheckpoint, VerifierKey};
use arkbridge_store::{AuditFilter, Store};
use common::{TestLog, key};

async fn log_with_checkpoints() -> (TestLog, SignedCheckpoint, SignedCheckpoint) {
    let log = TestLog::new().await;
    log.append(0, 20).await;
    let a = log.checkpoint().await;
    log.append(20, 17).await;
    let b = log.checkpoint().await;
    (
        log,
        SignedCheckpoint::parse(&a.note).unwrap(),
        SignedCheckpoint::parse(&b.note).unwrap(),
    )
}

#[tokio::test]
async fn every_record_has_an_inclusion_proof_that_checks_offline() {
    let (log, _, latest) = log_with_checkpoints().await;
    let keys = [log.public.clone()];
    for seq in 1..=37 {
        let bundle = prove_inclusion(&log.store, seq, &latest).await.unwrap();
        // Through its JSON file form, as `audit proof` writes it and `--check` reads it.
        let text = serde_json::to_string(&ProofBundle::Inclusion(bundle)).unwrap();
        let ProofBundle::Inclusion(back) = serde_json::from_str(&text).unwrap() else {
            panic!("wrong kind");
        };
        let record = back.check(&keys).unwrap();
        assert_eq!(record.seq, seq);
    }
    assert!(prove_inclusion(&log.store, 38, &latest).await.is_err());
    assert!(prove_inclusion(&log.store, 0, &latest).await.is_err());
}

#[tokio::test]
async fn a_changed_record_or_path_or_key_fails_the_inclusion_check() {
    let (log, _, latest) = log_with_checkpoints().await;
    let keys = [log.public.clone()];
    let bundle = prove_inclusion(&log.store, 9, &latest).await.unwrap();
    let mut changed = bundle.clone();
    changed.record = changed.record.replace("\"i\":8", "\"i\":80");
    assert!(changed.check(&keys).is_err());
    let mut changed = bundle.clone();
    changed.proof.swap(0, 1);
    assert!(changed.check(&keys).is_err());
    let mut changed = bundle.clone();
    changed.seq = 10;
    assert!(changed.check(&keys).is_err());
    let (_, other): (_, VerifierKey) = key(common::ORIGIN);
    assert!(bundle.check(&[other]).is_err());
}

#[tokio::test]
async fn the_later_checkpoint_provably_extends_the_earlier_one() {
    let (log, a, b) = log_with_checkpoints().await;
    let keys = [log.public.clone()];
    let bundle = prove_consistency(&log.store, &a, &b).await.unwrap();
    assert_eq!(bundle.check(&keys).unwrap(), (20, 37));
    // The wrong way round, or with a hash changed, it does not hold.
    assert!(prove_consistency(&log.store, &b, &a).await.is_err());
    let mut changed = bundle.clone();
    changed.proof[0] = changed.proof[1].clone();
    assert!(changed.check(&keys).is_err());
    let mut swapped = bundle;
    std::mem::swap(&mut swapped.old_checkpoint, &mut swapped.new_checkpoint);
    assert!(swapped.check(&keys).is_err());
}

#[tokio::test]
async fn an_exported_line_matches_its_inclusion_proof() {
    let (log, _, latest) = log_with_checkpoints().await;
    let mut out = Vec::new();
    let n = export(&log.store, &AuditFilter::default(), Format::Jsonl, &mut out)
        .await
        .unwrap();
    assert_eq!(n, 37);
    let line = String::from_utf8(out)
        .unwrap()
        .lines()
        .nth(11)
        .unwrap()
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["leaf_index"], 11);
    // Re-canonicalising the record gives the exact bytes its leaf hash covers.
    let record = arkbridge_core::audit::canonical::to_canonical(&v["record"]);
    let leaf = arkbridge_core::merkle::leaf_hash(record.as_bytes());
    assert_eq!(v["leaf_hash"], hex::encode(leaf));
    let bundle = prove_inclusion(&log.store, 12, &latest).await.unwrap();
    assert_eq!(bundle.record, record);
    let stored = log.store.audit_records(11, 1).await.unwrap().remove(0);
    assert_eq!(jsonl(&stored), line);
}

#[tokio::test]
async fn exports_select_by_filter_and_format() {
    let (log, _, _) = log_with_checkpoints().await;
    let filter = AuditFilter {
        user: Some("ALICE@example.com".into()),
        action: Some("credential.issued".into()),
        ..AuditFilter::default()
    };
    let mut out = Vec::new();
    let n = export(&log.store, &filter, Format::Cef, &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    // alice is user i % 3 == 0, credential.issued is i % 4 == 2: i = 6, 18, 30.
    assert_eq!(n, 3, "{text}");
    for (line, seq) in text.lines().zip([7, 19, 31]) {
        assert!(line.starts_with("CEF:0|arkbridge|arkbridge|"), "{line}");
        assert!(line.contains(&format!(" externalId={seq} ")), "{line}");
        assert!(line.contains("cs2Label=Safe Name cs2=Prod-DB"), "{line}");
    }
    let mut out = Vec::new();
    let since = AuditFilter {
        since_us: Some(1_764_504_000_000_000 + 30 * 1_000_000),
        ..AuditFilter::default()
    };
    assert_eq!(
        export(&log.store, &since, Format::Ocsf, &mut out)
            .await
            .unwrap(),
        7
    );
    for line in String::from_utf8(out).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["type_uid"].as_u64().is_some());
    }
}
