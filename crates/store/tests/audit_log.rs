//! The audit log in the SQLite store: migration of a version-1 hash chain, log-before-act
//! credential issue, filters, cursors, and appends grouped into shared transactions.

use std::path::Path;

use arkbridge_core::audit::legacy::{GENESIS, LegacyV1};
use arkbridge_core::audit::tree::Frontier;
use arkbridge_core::audit::{Action, Actor, AuditEvent, AuthMethod, LegacyChain, Outcome, Target};
use arkbridge_store::{
    AuditFilter, LeaseState, NewCheckpoint, NewLease, RunRecord, RunStatus, SqliteStore, Store,
    StoreError,
};
use sqlx::migrate::Migrator;

fn event(i: i64, user: &str, action: Action, target: Target) -> AuditEvent {
    AuditEvent::new(action)
        .at(1_000_000 * i)
        .by(Actor::user(
            "https://id.example.com",
            user,
            AuthMethod::Oidc,
        ))
        .target(target)
        .run(format!("run-{}", i % 2))
        .details(serde_json::json!({ "i": i }))
}

/// A store file at schema version 3 (before the Merkle log), as an older arkbridge left it.
async fn version_3_store(path: &Path) -> sqlx::SqlitePool {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "0001_initial.sql",
        "0002_approvals.sql",
        "0003_managed_members.sql",
    ] {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations/sqlite")
            .join(name);
        std::fs::copy(src, dir.path().join(name)).unwrap();
    }
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    Migrator::new(dir.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    pool
}

/// Writes version-1 rows chained as version 1 did; returns them.
async fn write_v1(pool: &sqlx::SqlitePool, n: i64) -> Vec<LegacyV1> {
    let mut prev = GENESIS.to_string();
    let mut out = Vec::new();
    let actions = [
        "run.requested",
        "run.allowed",
        "secret.retrieved",
        "run.finished",
    ];
    for seq in 1..=n {
        let mut r = LegacyV1 {
            ts_micros: 1_700_000_000_000_000 + seq,
            actor: if seq == 3 {
                "arkbridge".into()
            } else {
                "alice@example.com".into()
            },
            action: actions[(seq as usize - 1) % 4].into(),
            run_id: Some("run-1".into()),
            target: Some(if seq % 4 == 3 {
                "Prod-DB/payments-db".into()
            } else {
                "page:1001".into()
            }),
            details: serde_json::json!({ "status": "succeeded", "n": seq }),
            prev_hash: prev.clone(),
            hash: String::new(),
        };
        r.hash = r.compute_hash(seq);
        sqlx::query(
            "INSERT INTO audit (seq, ts_micros, actor, action, run_id, target, details, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(seq)
        .bind(r.ts_micros)
        .bind(&r.actor)
        .bind(&r.action)
        .bind(&r.run_id)
        .bind(&r.target)
        .bind(r.details.to_string())
        .bind(&r.prev_hash)
        .bind(&r.hash)
        .execute(pool)
        .await
        .unwrap();
        prev = r.hash.clone();
        out.push(r);
    }
    out
}

#[tokio::test]
async fn a_version_1_chain_is_migrated_into_the_merkle_log_with_its_approvals() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let pool = version_3_store(&path).await;
    let old = write_v1(&pool, 6).await;
    sqlx::query(
        "INSERT INTO approvals (page_id, block, script_sha256, page_version, approver, created_micros, audit_seq) \
         VALUES ('1001', 'restart', 'aa11', 7, 'carol@example.com', 1, 4)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = SqliteStore::open(&path).await.unwrap();
    let records = store.audit_records(0, 100).await.unwrap();
    assert_eq!(records.len(), 6);
    let mut chain = LegacyChain::default();
    let mut frontier = Frontier::new();
    for (r, v1) in records.iter().zip(&old) {
        // Every original field and both chain hashes are kept, and the old chain still holds.
        assert_eq!(r.legacy.as_ref(), Some(v1));
        chain.push(r.seq, v1).unwrap();
        assert_eq!(r.event, v1.to_event());
        frontier.push(r.leaf_hash());
    }
    assert_eq!(records[1].event.action, Action::PolicyDecided);
    assert_eq!(records[2].event.actor, {
        let mut s = Actor::system();
        s.session_id = Some("run-1".into());
        s
    });
    assert_eq!(
        records[2].event.target,
        Target::account("Prod-DB", "payments-db")
    );
    assert_eq!(records[3].event.outcome, Outcome::Success);
    // Leaf hashes and nodes were written: the stored right edge folds to the same root.
    let edge = store.audit_nodes(&Frontier::positions(6)).await.unwrap();
    assert_eq!(
        Frontier::from_roots(6, edge).unwrap().root(),
        frontier.root()
    );
    // The approval still points at its record, and the log goes on after the old chain.
    assert_eq!(
        store.approvals("1001", "restart").await.unwrap()[0].audit_seq,
        4
    );
    let next = store
        .append_audit(event(
            7,
            "alice@example.com",
            Action::ConfigLoaded,
            Target::default(),
        ))
        .await
        .unwrap();
    assert_eq!(next.seq, 7);
    // Opening again migrates nothing twice.
    drop(store);
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.audit_records(0, 100).await.unwrap()[..6], records[..]);
    // Generated search columns work on migrated rows too.
    let filter = AuditFilter {
        safe: Some("prod-db".into()),
        ..AuditFilter::default()
    };
    assert_eq!(store.audit_query(&filter, 0, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_version_1_log_with_a_deleted_record_is_not_migrated_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let pool = version_3_store(&path).await;
    write_v1(&pool, 5).await;
    sqlx::query("DELETE FROM audit WHERE seq = 3")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(err.to_string().contains("record 3 is missing"), "{err}");
}

fn run(id: &str) -> RunRecord {
    RunRecord {
        id: id.into(),
        page_id: "1001".into(),
        page_version: 7,
        block: "restart".into(),
        user_email: "alice@example.com".into(),
        mode: "write".into(),
        status: RunStatus::Running,
        exit_code: None,
        started_micros: 1,
        finished_micros: None,
        comment_id: None,
    }
}

async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("a.db")).await.unwrap();
    (dir, s)
}

#[tokio::test]
async fn issuing_a_credential_moves_its_lease_and_logs_in_one_transaction() {
    let (_dir, s) = store().await;
    s.insert_run(&run("r1")).await.unwrap();
    let lease = s
        .insert_lease(&NewLease {
            run_id: "r1".into(),
            safe: "Prod-DB".into(),
            object: "payments-db".into(),
            account_id: Some("12_3".into()),
            rotation: "after-run".into(),
            created_micros: 1,
        })
        .await
        .unwrap();
    let issued = event(
        1,
        "alice@example.com",
        Action::CredentialIssued,
        Target::account("Prod-DB", "payments-db"),
    );
    let record = s.issue_credential(lease, issued.clone()).await.unwrap();
    assert_eq!(record.seq, 1);
    assert_eq!(
        s.leases_for_run("r1").await.unwrap()[0].state,
        LeaseState::Issued
    );
    // A lease that is not waiting for its credential is refused, and nothing is logged.
    let again = s.issue_credential(lease, issued.clone()).await.unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again}");
    assert!(matches!(
        s.issue_credential(999, issued).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.audit_size().await.unwrap(), 1);
}

#[tokio::test]
async fn filters_select_by_user_page_safe_action_run_and_time() {
    let (_dir, s) = store().await;
    let mut named = Actor::user(
        "https://id.example.com",
        "bob@example.com",
        AuthMethod::Oidc,
    );
    named.name = Some("Bob Builder".into());
    let events = vec![
        event(
            1,
            "alice@example.com",
            Action::RunRequested,
            Target::page("1001"),
        ),
        event(
            2,
            "Alice@Example.com",
            Action::CredentialIssued,
            Target::account("Prod-DB", "db"),
        ),
        event(
            3,
            "bob@example.com",
            Action::PolicyDecided,
            Target::block("2002", 3, "flush"),
        )
        .by(named),
        event(
            4,
            "carol@example.com",
            Action::CredentialIssued,
            Target::account("Other", "x"),
        ),
    ];
    s.append_audit_batch(events).await.unwrap();
    let seqs = |f: AuditFilter| {
        let s = s.clone();
        async move {
            s.audit_query(&f, 0, 100)
                .await
                .unwrap()
                .iter()
                .map(|r| r.seq)
                .collect::<Vec<_>>()
        }
    };
    let f = |g: fn(&mut AuditFilter)| {
        let mut f = AuditFilter::default();
        g(&mut f);
        f
    };
    assert_eq!(
        seqs(f(|f| f.user = Some("ALICE@example.com".into()))).await,
        [1, 2]
    );
    assert_eq!(seqs(f(|f| f.user = Some("bob builder".into()))).await, [3]);
    assert_eq!(seqs(f(|f| f.page_id = Some("2002".into()))).await, [3]);
    assert_eq!(seqs(f(|f| f.safe = Some("prod-db".into()))).await, [2]);
    assert_eq!(
        seqs(f(|f| f.action = Some("credential.issued".into()))).await,
        [2, 4]
    );
    assert_eq!(seqs(f(|f| f.run_id = Some("run-1".into()))).await, [1, 3]);
    assert_eq!(
        seqs(f(|f| {
            f.since_us = Some(2_000_000);
            f.until_us = Some(4_000_000);
        }))
        .await,
        [2, 3]
    );
    assert_eq!(
        s.audit_query(&AuditFilter::default(), 1, 2)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn cursors_and_checkpoints_are_kept() {
    let (dir, s) = store().await;
    assert_eq!(s.audit_cursor("syslog.records").await.unwrap(), 0);
    s.set_audit_cursor("syslog.records", 5).await.unwrap();
    s.set_audit_cursor("syslog.records", 7).await.unwrap();
    s.append_audit(event(1, "a@example.com", Action::Login, Target::default()))
        .await
        .unwrap();
    let cp = |prev, size| NewCheckpoint {
        prev_id: prev,
        tree_size: size,
        time_us: 5,
        note: format!("note {size}"),
    };
    assert_eq!(s.add_checkpoint(&cp(None, 1)).await.unwrap().id, 1);
    // A writer that did not see checkpoint 1, or one over more records than exist, loses.
    assert!(matches!(
        s.add_checkpoint(&cp(None, 1)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.add_checkpoint(&cp(Some(1), 2)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.add_checkpoint(&cp(Some(1), 1)).await.unwrap().id, 2);
    drop(s);
    let s = SqliteStore::open(&dir.path().join("a.db")).await.unwrap();
    assert_eq!(s.audit_cursor("syslog.records").await.unwrap(), 7);
    assert_eq!(s.audit_checkpoints().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_appenders_never_stop_the_others() {
    let (_dir, s) = store().await;
    let mut kept = Vec::new();
    let mut cancelled = Vec::new();
    for i in 0..200 {
        let s = s.clone();
        let task = tokio::spawn(async move {
            s.append_audit(event(
                i,
                "a@example.com",
                Action::ApiCall,
                Target::default(),
            ))
            .await
        });
        if i % 5 == 0 {
            cancelled.push(task);
        } else {
            kept.push(task);
        }
    }
    for t in &cancelled {
        t.abort();
    }
    for t in kept {
        t.await.unwrap().unwrap();
    }
    for t in cancelled {
        let _ = t.await;
    }
    // Every kept append is stored; a cancelled one may or may not be; the log has no gap.
    let records = s.audit_records(0, 1000).await.unwrap();
    assert!(records.len() >= 160, "{}", records.len());
    let seqs: Vec<i64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=records.len() as i64).collect::<Vec<_>>());
    let edge = s
        .audit_nodes(&Frontier::positions(records.len() as u64))
        .await
        .unwrap();
    let mut f = Frontier::new();
    for r in &records {
        f.push(r.leaf_hash());
    }
    assert_eq!(
        Frontier::from_roots(records.len() as u64, edge)
            .unwrap()
            .root(),
        f.root()
    );
}

#[tokio::test]
async fn two_stores_on_one_file_interleave_appends_into_one_tree() {
    // Two processes' stores: each caches the tree's edge, and must notice the other's appends.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let a = SqliteStore::open(&path).await.unwrap();
    let b = SqliteStore::open(&path).await.unwrap();
    for i in 0..23 {
        let s = if i % 3 == 0 { &b } else { &a };
        let e = event(i, "a@example.com", Action::ApiCall, Target::default());
        if i % 5 == 0 {
            s.append_audit_batch(vec![e.clone(), e]).await.unwrap();
        } else {
            s.append_audit(e).await.unwrap();
        }
    }
    let records = a.audit_records(0, 100).await.unwrap();
    let mut f = Frontier::new();
    for r in &records {
        f.push(r.leaf_hash());
    }
    let n = records.len() as u64;
    assert_eq!(n, 28);
    for s in [&a, &b] {
        let edge = s.audit_nodes(&Frontier::positions(n)).await.unwrap();
        assert_eq!(Frontier::from_roots(n, edge).unwrap().root(), f.root());
    }
    // Every stored node is the one the whole tree has there.
    for (level, index) in (1..5).flat_map(|l| (0..(n >> l)).map(move |i| (l, i))) {
        let lo = (index << level) as usize;
        let want = arkbridge_core::merkle::root(
            &records[lo..lo + (1 << level)]
                .iter()
                .map(|r| r.leaf_hash())
                .collect::<Vec<_>>(),
        );
        assert_eq!(a.audit_nodes(&[(level, index)]).await.unwrap()[0], want);
    }
}
