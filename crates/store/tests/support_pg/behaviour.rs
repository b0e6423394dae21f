//! The store's behaviour, written once over any `S: Store` and run against SQLite and
//! PostgreSQL (`pg_suite.rs`): what a backend must do for the engine not to notice which one it
//! is on.

use arkbridge_audit::{VerifyOptions, verify_log};
use arkbridge_core::audit::tree::Frontier;
use arkbridge_core::audit::{Action, Actor, AuditEvent, AuthMethod, Outcome, Target};
use arkbridge_store::{
    AuditFilter, FindingState, LeaseState, NewApproval, NewCheckpoint, NewFinding, NewLease,
    Principal, RunGuard, RunRecord, RunStatus, Store, StoreError,
};

pub(crate) fn event(i: i64) -> AuditEvent {
    AuditEvent::new(Action::RunRequested)
        .at(1_000 + i)
        .target(Target::page("1"))
        .details(serde_json::json!({ "i": i }))
}

pub(crate) fn run(id: &str) -> RunRecord {
    RunRecord {
        id: id.into(),
        page_id: "1".into(),
        page_version: 3,
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

pub(crate) fn lease(run_id: &str, object: &str) -> NewLease {
    NewLease {
        run_id: run_id.into(),
        safe: "Prod-DB".into(),
        object: object.into(),
        account_id: None,
        rotation: "after-run".into(),
        created_micros: 5,
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// Verifies the whole log (no keys) and returns its size and root.
pub(crate) async fn verified<S: Store>(s: &S) -> (u64, arkbridge_core::merkle::Hash) {
    let report = verify_log(s, &VerifyOptions::default())
        .await
        .unwrap()
        .expect("the audit log verifies");
    (report.records, report.root)
}

pub(crate) async fn runs_round_trip_and_a_missing_run_is_not_found<S: Store>(s: &S) {
    s.insert_run(&run("r1")).await.unwrap();
    s.finish_run("r1", RunStatus::Succeeded, Some(0), 5)
        .await
        .unwrap();
    s.set_run_comment("r1", "c9").await.unwrap();
    let r = s.get_run("r1").await.unwrap().unwrap();
    assert_eq!(
        (
            r.status,
            r.exit_code,
            r.comment_id.as_deref(),
            r.finished_micros
        ),
        (RunStatus::Succeeded, Some(0), Some("c9"), Some(5))
    );
    assert!(s.get_run("nope").await.unwrap().is_none());
    assert!(matches!(
        s.finish_run("nope", RunStatus::Failed, None, 1).await,
        Err(StoreError::NotFound { .. })
    ));
    // A duplicate run id is refused, not silently merged.
    assert!(s.insert_run(&run("r1")).await.is_err());
}

pub(crate) async fn leases_move_through_their_states_and_open_ones_are_listed<S: Store>(s: &S) {
    s.insert_run(&run("r1")).await.unwrap();
    let a = s.insert_lease(&lease("r1", "payments-db")).await.unwrap();
    let b = s.insert_lease(&lease("r1", "orders-db")).await.unwrap();
    assert!(b > a);
    s.update_lease(a, LeaseState::Issued, Some("12_3"), None)
        .await
        .unwrap();
    s.update_lease(a, LeaseState::Rotated, None, None)
        .await
        .unwrap();
    s.update_lease(b, LeaseState::RotationFailed, None, Some("CPM failed"))
        .await
        .unwrap();
    let all = s.leases_for_run("r1").await.unwrap();
    assert_eq!(
        (all[0].state, all[0].account_id.as_deref()),
        (LeaseState::Rotated, Some("12_3"))
    );
    assert_eq!(all[1].error.as_deref(), Some("CPM failed"));
    let open: Vec<i64> = s
        .open_leases()
        .await
        .unwrap()
        .iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(open, [b]);
    assert!(matches!(
        s.update_lease(9999, LeaseState::Rotated, None, None).await,
        Err(StoreError::NotFound { .. })
    ));
    // A lease of a run that does not exist is refused (foreign key).
    assert!(s.insert_lease(&lease("ghost", "x")).await.is_err());
}

pub(crate) async fn run_guards_keep_the_process_group_and_leases_take_the_deadline<S: Store>(
    s: &S,
) {
    s.insert_run(&run("r1")).await.unwrap();
    assert_eq!(s.run_guard("r1").await.unwrap(), None);
    let mut g = RunGuard {
        run_id: "r1".into(),
        deadline_micros: 777,
        pgid: None,
        process_start: None,
    };
    s.set_run_guard(&g).await.unwrap();
    let id = s.insert_lease(&lease("r1", "payments-db")).await.unwrap();
    g.pgid = Some(4242);
    g.process_start = Some(u64::from(u32::MAX) + 7);
    s.set_run_guard(&g).await.unwrap();
    g.deadline_micros = 900;
    g.pgid = None;
    g.process_start = None;
    s.set_run_guard(&g).await.unwrap();
    let got = s.run_guard("r1").await.unwrap().unwrap();
    assert_eq!(
        (got.deadline_micros, got.pgid, got.process_start),
        (900, Some(4242), Some(u64::from(u32::MAX) + 7))
    );
    let since = s.leases_created_since(5).await.unwrap();
    assert_eq!(since.len(), 1);
    assert_eq!(since[0].lease.id, id);
    assert!(s.leases_created_since(6).await.unwrap().is_empty());
}

pub(crate) async fn rotation_failures_since_lists_only_failed_leases_changed_after_the_time<
    S: Store,
>(
    s: &S,
) {
    s.insert_run(&run("r1")).await.unwrap();
    let failed = s.insert_lease(&lease("r1", "payments-db")).await.unwrap();
    let rotated = s.insert_lease(&lease("r1", "orders-db")).await.unwrap();
    let before = now();
    s.update_lease(failed, LeaseState::RotationFailed, None, Some("CPM failed"))
        .await
        .unwrap();
    s.update_lease(rotated, LeaseState::Rotated, None, None)
        .await
        .unwrap();
    let got = s.rotation_failures_since(before).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].lease.id, failed);
    assert!(got[0].updated_micros >= before);
    let later = got[0].updated_micros + 1;
    assert!(s.rotation_failures_since(later).await.unwrap().is_empty());
}

pub(crate) async fn approvals_are_stored_with_their_audit_record<S: Store>(s: &S) {
    s.append_audit(event(1)).await.unwrap();
    let approval = NewApproval {
        page_id: "1".into(),
        block: "restart".into(),
        script_sha256: "ab".repeat(32),
        page_version: 4,
        approver: "carol@example.com".into(),
        approver_groups: vec!["approvers".into()],
        created_micros: 10,
    };
    let ev = AuditEvent::new(Action::ApprovalGranted)
        .at(10)
        .target(Target::page("1"));
    let (stored, record) = s.record_approval(&approval, ev).await.unwrap();
    assert_eq!((record.seq, stored.audit_seq), (2, 2));
    let listed = s.approvals("1", "restart").await.unwrap();
    assert_eq!(listed, [stored]);
    assert_eq!(
        listed[0].approver_groups.as_deref(),
        Some(&["approvers".to_string()][..])
    );
    assert!(s.approvals("1", "other").await.unwrap().is_empty());
    assert_eq!(verified(s).await.0, 2);
}

pub(crate) async fn managed_members_compare_names_ignoring_case<S: Store>(s: &S) {
    s.mark_managed("Prod-DB", "ops-oncall", 1).await.unwrap();
    s.mark_managed("prod-db", "OPS-ONCALL", 2).await.unwrap();
    s.mark_managed("App", "dev", 3).await.unwrap();
    assert_eq!(
        s.managed_members().await.unwrap(),
        [
            ("App".to_string(), "dev".to_string()),
            ("Prod-DB".to_string(), "ops-oncall".to_string())
        ]
    );
    s.unmark_managed("PROD-db", "Ops-Oncall").await.unwrap();
    assert_eq!(s.managed_members().await.unwrap().len(), 1);
}

pub(crate) async fn the_latest_sign_in_of_a_principal_wins<S: Store>(s: &S) {
    let p = |at: i64, groups: &[&str], account: Option<&str>| Principal {
        email: "Alice@Example.com".into(),
        issuer: "https://idp.example.com".into(),
        subject: "00u1".into(),
        confluence_account: account.map(str::to_string),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        verified_micros: at,
    };
    s.remember_principal(&p(10, &["ops"], Some("acc-1")))
        .await
        .unwrap();
    s.remember_principal(&p(5, &["stale"], Some("acc-1")))
        .await
        .unwrap();
    let got = s.principal_by_account("acc-1").await.unwrap().unwrap();
    assert_eq!(
        (got.groups.as_slice(), got.email.as_str()),
        (&["ops".to_string()][..], "alice@example.com")
    );
    s.remember_principal(&p(20, &["ops", "approvers"], None))
        .await
        .unwrap();
    let got = s.principal_by_account("acc-1").await.unwrap().unwrap();
    assert_eq!((got.groups.len(), got.verified_micros), (2, 20));
    assert!(s.principal_by_account("acc-2").await.unwrap().is_none());
}

fn finding(fp: &str, page: &str) -> NewFinding {
    NewFinding {
        fingerprint: fp.into(),
        location_key: format!("page:{page}"),
        page_id: Some(page.into()),
        page_version: Some(1),
        title: Some("Runbook".into()),
        author: Some("alice".into()),
        space: Some("OPS".into()),
        file_path: None,
        element_path: "p[1]".into(),
        char_offset: 4,
        char_length: 20,
        detector: "aws-access-key".into(),
        category: "cloud".into(),
        severity: "high".into(),
        preview: "AKIA****MPLE".into(),
    }
}

pub(crate) async fn findings_keep_their_triage_state_when_seen_again<S: Store>(s: &S) {
    let (first, new) = s.record_finding(&finding("f1", "10"), 100).await.unwrap();
    assert!(new);
    assert!(
        s.triage_finding(first.id, FindingState::Accepted, "bob", Some("kept"), None)
            .await
            .unwrap()
    );
    let (again, new) = s.record_finding(&finding("f1", "10"), 200).await.unwrap();
    assert!(!new);
    assert_eq!(
        (
            again.id,
            again.state,
            again.first_seen_micros,
            again.last_seen_micros
        ),
        (first.id, FindingState::Accepted, 100, 200)
    );
    s.record_finding(&finding("f1", "11"), 300).await.unwrap();
    assert_eq!(s.findings(Some(FindingState::New)).await.unwrap().len(), 1);
    assert_eq!(s.findings(None).await.unwrap().len(), 2);
    assert!(
        !s.triage_finding(999, FindingState::Vaulted, "bob", None, None)
            .await
            .unwrap()
    );
    assert_eq!(
        s.finding(first.id)
            .await
            .unwrap()
            .unwrap()
            .triaged_by
            .as_deref(),
        Some("bob")
    );
    assert_eq!(s.scan_cursor("OPS").await.unwrap(), None);
    s.set_scan_cursor("OPS", 5).await.unwrap();
    s.set_scan_cursor("OPS", 7).await.unwrap();
    assert_eq!(s.scan_cursor("OPS").await.unwrap(), Some(7));
    let a = s.save_daily_report(1, true, "{\"a\":1}").await.unwrap();
    let b = s.save_daily_report(2, false, "{\"b\":2}").await.unwrap();
    let reports = s.daily_reports(10).await.unwrap();
    assert_eq!(
        reports.iter().map(|r| (r.id, r.passed)).collect::<Vec<_>>(),
        [(b, false), (a, true)]
    );
    assert_eq!(s.daily_reports(1).await.unwrap().len(), 1);
}

pub(crate) async fn concurrent_appends_form_one_gapless_tree<S: Store + Clone>(s: &S) {
    let mut tasks = Vec::new();
    for i in 0..60 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            if i % 10 == 0 {
                s.append_audit_batch(vec![event(i), event(i + 1000)])
                    .await
                    .unwrap();
            } else {
                s.append_audit(event(i)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let records = s.audit_records(0, 1000).await.unwrap();
    let seqs: Vec<i64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=66).collect::<Vec<_>>());
    assert_eq!(s.audit_size().await.unwrap(), 66);
    let mut f = Frontier::new();
    for r in &records {
        f.push(r.leaf_hash());
    }
    let edge = s.audit_nodes(&Frontier::positions(66)).await.unwrap();
    assert_eq!(Frontier::from_roots(66, edge).unwrap().root(), f.root());
    assert_eq!(verified(s).await, (66, f.root()));
    let leaves = s.audit_leaves(64, 10).await.unwrap();
    assert_eq!(leaves.len(), 2);
    assert_eq!(leaves[0].record, records[64].canonical);
    assert_eq!(leaves[0].leaf_hash, records[64].leaf_hash().to_vec());
}

pub(crate) async fn issuing_a_credential_logs_first_and_only_from_requested<S: Store>(s: &S) {
    s.insert_run(&run("r1")).await.unwrap();
    let id = s.insert_lease(&lease("r1", "payments-db")).await.unwrap();
    let ev = || {
        AuditEvent::new(Action::CredentialIssued)
            .at(50)
            .target(Target::account("Prod-DB", "payments-db"))
            .run("r1")
    };
    let record = s.issue_credential(id, ev()).await.unwrap();
    assert_eq!(record.seq, 1);
    assert_eq!(
        s.leases_for_run("r1").await.unwrap()[0].state,
        LeaseState::Issued
    );
    // Issued already: refused, and nothing is appended.
    let again = s.issue_credential(id, ev()).await.unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again}");
    assert_eq!(s.audit_size().await.unwrap(), 1);
    assert_eq!(verified(s).await.0, 1);
}

pub(crate) async fn audit_queries_filter_by_user_page_safe_action_run_and_time<S: Store>(s: &S) {
    let by = |user: &str| Actor::user("https://id.example.com", user, AuthMethod::Oidc);
    let mut named = by("00u9");
    named.name = Some("Alice@Example.com".into());
    let events = vec![
        event(1).by(by("Bob")).run("run-1"),
        AuditEvent::new(Action::CredentialIssued)
            .at(2_000)
            .by(named)
            .target(Target::account("Prod-DB", "payments-db"))
            .outcome(Outcome::Success)
            .run("run-2"),
        event(3).by(by("carol")),
    ];
    s.append_audit_batch(events).await.unwrap();
    let seqs = |filter: AuditFilter| async move {
        s.audit_query(&filter, 0, 100)
            .await
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect::<Vec<_>>()
    };
    let f = AuditFilter::default;
    assert_eq!(
        seqs(AuditFilter {
            user: Some("bob".into()),
            ..f()
        })
        .await,
        [1]
    );
    assert_eq!(
        seqs(AuditFilter {
            user: Some("alice@example.com".into()),
            ..f()
        })
        .await,
        [2]
    );
    assert_eq!(
        seqs(AuditFilter {
            safe: Some("prod-db".into()),
            ..f()
        })
        .await,
        [2]
    );
    assert_eq!(
        seqs(AuditFilter {
            page_id: Some("1".into()),
            ..f()
        })
        .await,
        [1, 3]
    );
    assert_eq!(
        seqs(AuditFilter {
            action: Some("credential.issued".into()),
            ..f()
        })
        .await,
        [2]
    );
    assert_eq!(
        seqs(AuditFilter {
            run_id: Some("run-1".into()),
            ..f()
        })
        .await,
        [1]
    );
    assert_eq!(
        seqs(AuditFilter {
            since_us: Some(1_500),
            until_us: Some(2_001),
            ..f()
        })
        .await,
        [2]
    );
    assert_eq!(s.audit_query(&f(), 1, 1).await.unwrap()[0].seq, 2);
}

pub(crate) async fn checkpoints_are_compare_and_set_and_cursors_move<S: Store>(s: &S) {
    for i in 0..3 {
        s.append_audit(event(i)).await.unwrap();
    }
    let cp = |prev: Option<i64>, size: u64| NewCheckpoint {
        prev_id: prev,
        tree_size: size,
        time_us: 7,
        note: format!("note over {size}"),
    };
    let first = s.add_checkpoint(&cp(None, 2)).await.unwrap();
    assert_eq!(first.id, 1);
    let stale = s.add_checkpoint(&cp(None, 3)).await.unwrap_err();
    assert!(matches!(stale, StoreError::Conflict(_)), "{stale}");
    let too_big = s.add_checkpoint(&cp(Some(1), 4)).await.unwrap_err();
    assert!(matches!(too_big, StoreError::Conflict(_)), "{too_big}");
    s.add_checkpoint(&cp(Some(1), 3)).await.unwrap();
    let all = s.audit_checkpoints().await.unwrap();
    assert_eq!(
        all.iter().map(|c| (c.id, c.tree_size)).collect::<Vec<_>>(),
        [(1, 2), (2, 3)]
    );
    assert_eq!(s.audit_cursor("syslog").await.unwrap(), 0);
    s.set_audit_cursor("syslog", 2).await.unwrap();
    s.set_audit_cursor("syslog", 3).await.unwrap();
    assert_eq!(s.audit_cursor("syslog").await.unwrap(), 3);
}

pub(crate) async fn safe_member_snapshots_keep_the_latest_listing_ignoring_case<S: Store>(s: &S) {
    assert_eq!(s.safe_members_snapshot("Prod-DB").await.unwrap(), None);
    s.save_safe_members("Prod-DB", "[1]", 10).await.unwrap();
    // An older listing arriving late does not replace a newer one.
    s.save_safe_members("prod-db", "[0]", 5).await.unwrap();
    assert_eq!(
        s.safe_members_snapshot("PROD-DB").await.unwrap(),
        Some(("[1]".to_string(), 10))
    );
    s.save_safe_members("PROD-db", "[2]", 20).await.unwrap();
    assert_eq!(
        s.safe_members_snapshot("prod-db").await.unwrap(),
        Some(("[2]".to_string(), 20))
    );
}
