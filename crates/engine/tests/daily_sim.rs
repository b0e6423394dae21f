//! The daily audit against the simulators, in process: the demo data after an approved run
//! passes every check (the scan, which is not wired yet, only warns); then each kind of lapse
//! (drift in a safe's members, an unresolvable binding, a lease recorded as rotated that
//! CyberArk never changed, a stale approval, a new secret finding, a missing checkpoint) fails
//! exactly its check, and the report posted to a page reads back with its status macros; with
//! the Vault down, the checks that need CyberArk are errors, never passes.

use std::time::Duration;

use arkbridge_confluence::NewPage;
use arkbridge_core::config::Config;
use arkbridge_cyberark::{Permissions, PvwaClient};
use arkbridge_engine::daily::{DailyReport, Status};
use arkbridge_engine::{Bridge, RunRequest, VerifiedUser, script_sha256};
use arkbridge_store::{
    FindingState, LeaseState, NewApproval, NewFinding, NewLease, RunRecord, RunStatus, SqliteStore,
    Store,
};
use secrecy::SecretString;

const ADMIN_PASSWORD: &str = "Adm1n-daily-pw";

fn status(report: &DailyReport, id: &str) -> Status {
    report
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id}"))
        .status
}

fn statuses(report: &DailyReport) -> Vec<(&'static str, Status)> {
    report.checks.iter().map(|c| (c.id, c.status)).collect()
}

fn micros_ago(days: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    now - days * 86_400 * 1_000_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_passes_and_each_lapse_fails_its_own_check() {
    let dir = tempfile::tempdir().unwrap();
    let seed = arkbridge_sim::DEMO_SEED.replacen(
        "  - username: Administrator\n",
        &format!("  - username: Administrator\n    password: {ADMIN_PASSWORD}\n"),
        1,
    );
    let seed_path = dir.path().join("seed.yaml");
    std::fs::write(&seed_path, seed).unwrap();
    let sim = arkbridge_sim::start(arkbridge_sim::SimOptions {
        dir: dir.path().join("sim"),
        seed: Some(seed_path),
        cpm_delay: Duration::from_millis(50),
    })
    .await
    .unwrap();
    let config = Config::load(&dir.path().join("sim/arkbridge.toml")).unwrap();
    std::fs::create_dir_all(&config.data_dir).unwrap();
    let store = SqliteStore::open(&config.data_dir.join("arkbridge.db"))
        .await
        .unwrap();
    let (bridge, _) = Bridge::with_store(config.clone(), store.clone())
        .await
        .unwrap();
    let confluence = bridge.confluence().clone();
    let restart = confluence
        .find_pages("Restart payments API", None)
        .await
        .unwrap()
        .remove(0);

    // carol approves the write block, alice runs it: one lease, rotated after the run.
    let carol = VerifiedUser::resolve(&config, "carol@example.com").unwrap();
    bridge
        .approve(&carol, &restart.id, Some("restart"))
        .await
        .unwrap();
    let request = RunRequest {
        page: restart.id.clone(),
        block: Some("restart".into()),
        user: VerifiedUser::resolve(&config, "alice@example.com").unwrap(),
    };
    let mut sink = |_: arkbridge_runner::Stream, _: &[u8]| {};
    let run = bridge.run(&request, &mut sink).await.unwrap();
    assert_eq!(run.status, "succeeded", "{run:?}");

    // Without a signed checkpoint the audit chain fails, and the daily scan finds what is
    // pasted on the Legacy DB notes page.
    let report = bridge.daily_audit().await.unwrap();
    assert!(!report.passed);
    assert_eq!(
        report.failed_checks(),
        ["audit-chain", "secret-findings"],
        "{:?}",
        statuses(&report)
    );
    let found = store.findings(Some(FindingState::New)).await.unwrap();
    assert!(
        found
            .iter()
            .any(|f| f.finding.title.as_deref() == Some("Legacy DB notes")),
        "{found:?}"
    );
    // Someone triages them (accepted: a known test database).
    for f in found {
        bridge
            .triage_finding(
                "carol@example.com",
                f.id,
                FindingState::Accepted,
                Some("test database"),
            )
            .await
            .unwrap();
    }

    // Sign a checkpoint; now everything passes, and the scan finds nothing new.
    let (private, _public) = arkbridge_audit::keys::generate("daily.test/audit").unwrap();
    let key = arkbridge_audit::SigningKey::from_base64("daily.test/audit", &private).unwrap();
    arkbridge_audit::checkpoint::write_checkpoint(&store, &key)
        .await
        .unwrap();
    let report = bridge.daily_audit().await.unwrap();
    assert!(report.passed, "{:?}", statuses(&report));
    assert_eq!(status(&report, "secret-findings"), Status::Pass);
    assert_eq!(status(&report, "lease-rotation"), Status::Pass);
    let rotation = report
        .checks
        .iter()
        .find(|c| c.id == "lease-rotation")
        .unwrap();
    assert_eq!(rotation.counts["confirmed"], 1, "{rotation:?}");
    assert!(
        rotation.evidence[0].detail.contains("CPM Change Password"),
        "{rotation:?}"
    );
    let bindings = report
        .checks
        .iter()
        .find(|c| c.id == "runbook-bindings")
        .unwrap();
    assert_eq!(bindings.counts["bindings"], 3, "{bindings:?}");
    assert_eq!(report.checkpoint.as_ref().unwrap().id, 1);
    let stored = store.daily_reports(10).await.unwrap();
    assert_eq!(stored[0].id, report.report_id.unwrap());
    assert!(stored[0].passed);
    let audited = store
        .audit_query(
            &arkbridge_store::AuditFilter {
                action: Some("report.daily".into()),
                ..Default::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(audited.len(), 2);
    assert_eq!(
        audited[1].event.outcome,
        arkbridge_core::audit::Outcome::Success
    );

    // Lapses, one per check.
    // 1. A CyberArk administrator narrows platform-admins on Prod-DB: drift.
    let mut admin_cfg = config.cyberark.pvwa.clone();
    admin_cfg.username = "Administrator".into();
    let admin = PvwaClient::logon(&admin_cfg, &SecretString::from(ADMIN_PASSWORD))
        .await
        .unwrap();
    admin
        .update_safe_member(
            "Prod-DB",
            "platform-admins",
            &Permissions::read_only(),
            None,
        )
        .await
        .unwrap();
    // The bridge's PVWA user gets a risky extra permission on Prod-DB-RO.
    let mut extra = Permissions::none();
    for key in [
        "listAccounts",
        "viewSafeMembers",
        "initiateCPMAccountManagementOperations",
        "retrieveAccounts",
    ] {
        assert!(extra.set(key, true));
    }
    admin
        .update_safe_member("Prod-DB-RO", "arkbridge-svc", &extra, None)
        .await
        .unwrap();
    admin.logoff().await.unwrap();
    // 2. A runbook naming an account that does not exist, and a safe no grant binds to OPS.
    let ops = confluence.space_by_key("OPS").await.unwrap().unwrap();
    let body = "<ac:structured-macro ac:name=\"code\" ac:schema-version=\"1\"><ac:parameter \
                ac:name=\"title\">arkbridge: broken</ac:parameter><ac:plain-text-body><![CDATA[\
                # arkbridge: secret A cyberark://Prod-DB/no-such-account\n\
                # arkbridge: secret B cyberark://Integrations/pvwa-arkbridge-svc\n\
                echo hi]]></ac:plain-text-body></ac:structured-macro>";
    confluence
        .create_page(&NewPage {
            space: &ops,
            title: "Broken bindings",
            parent_id: None,
            storage: body,
        })
        .await
        .unwrap();
    // 3. A lease recorded as rotated whose account CyberArk never changed.
    let account = admin_account_id(&bridge, &config).await;
    store
        .insert_run(&RunRecord {
            id: "forged-run".into(),
            page_id: restart.id.clone(),
            page_version: 1,
            block: "restart".into(),
            user_email: "alice@example.com".into(),
            mode: "read".into(),
            status: RunStatus::Succeeded,
            exit_code: Some(0),
            started_micros: micros_ago(0),
            finished_micros: None,
            comment_id: None,
        })
        .await
        .unwrap();
    let lease = store
        .insert_lease(&NewLease {
            run_id: "forged-run".into(),
            safe: "Prod-DB-RO".into(),
            object: "payments-db-ro".into(),
            account_id: Some(account.clone()),
            rotation: "after-run".into(),
            created_micros: micros_ago(0),
        })
        .await
        .unwrap();
    store
        .update_lease(lease, LeaseState::Rotated, Some(&account), None)
        .await
        .unwrap();
    // 4. An approval of the current script, 100 days old; and one of an older script (voided).
    for (sha, days) in [
        (
            script_sha256(&current_script(&bridge, &restart.id).await),
            100,
        ),
        ("0".repeat(64), 1),
    ] {
        let approval = NewApproval {
            page_id: restart.id.clone(),
            block: "restart".into(),
            script_sha256: sha,
            page_version: 1,
            approver: "carol@example.com".into(),
            approver_groups: vec!["change-approvers".into()],
            created_micros: micros_ago(days),
        };
        let event =
            arkbridge_core::audit::AuditEvent::new(arkbridge_core::audit::Action::ApprovalGranted)
                .at(micros_ago(0));
        store.record_approval(&approval, event).await.unwrap();
    }
    // 5. A new secret finding (what a scan of the Legacy DB notes page records).
    store
        .record_finding(
            &NewFinding {
                fingerprint: "ab".repeat(32),
                location_key: "page:legacy".into(),
                page_id: Some("legacy".into()),
                page_version: Some(1),
                title: Some("Legacy DB notes".into()),
                author: None,
                space: Some("OPS".into()),
                file_path: None,
                element_path: "table/tr[2]/td[3]".into(),
                char_offset: 10,
                char_length: 19,
                detector: "table-password".into(),
                category: "confluence-password".into(),
                severity: "high".into(),
                preview: "Wi****************s".into(),
            },
            micros_ago(0),
        )
        .await
        .unwrap();

    let report = bridge.daily_audit().await.unwrap();
    assert!(!report.passed);
    let mut failed = report.failed_checks();
    failed.sort_unstable();
    assert_eq!(
        failed,
        [
            "lease-rotation",
            "least-privilege",
            "runbook-bindings",
            "safe-members",
            "secret-findings",
            "stale-approvals",
        ],
        "{:?}",
        statuses(&report)
    );
    assert_eq!(
        status(&report, "audit-chain"),
        Status::Warn,
        "unsigned tail only"
    );
    assert_eq!(status(&report, "inline-secrets"), Status::Pass);
    let text = arkbridge_engine::daily::render_text(&report);
    for expected in [
        "safe Prod-DB has no account no-such-account",
        "no grant binds safe Integrations to space OPS",
        "shows no completed CPM change",
        "stale: approved by carol@example.com",
        "voided: the block changed",
        "retrieveAccounts beyond what it needs",
        "Wi****************s",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    assert_eq!(
        store.findings(Some(FindingState::New)).await.unwrap().len(),
        1
    );

    // Posted to a page, the report reads back as storage with Red FAIL status macros.
    let target = confluence
        .create_page(&NewPage {
            space: &ops,
            title: "Daily compliance",
            parent_id: None,
            storage: "<p>placeholder</p>",
        })
        .await
        .unwrap();
    let posted = bridge.post_daily_report(&report, &target.id).await.unwrap();
    assert!(posted.changed);
    let page = confluence.get_page(&target.id).await.unwrap();
    assert_eq!(page.version, posted.version);
    assert!(!page.body_storage.contains("placeholder"));
    assert!(page.body_storage.contains("<ac:parameter ac:name=\"colour\">Red</ac:parameter><ac:parameter ac:name=\"title\">FAIL</ac:parameter>"));
    assert!(page.body_storage.contains("stale-approvals"));
    arkbridge_core::storage::Page::parse(&page.body_storage).expect("well-formed storage");

    // With the Vault down, every check that needs CyberArk's answer has no evidence: an error,
    // never a pass; the report is still made and stored.
    sim.set_vault_down(true);
    let started = std::time::Instant::now();
    let report = bridge.daily_audit().await.unwrap();
    for id in [
        "runbook-bindings",
        "safe-members",
        "least-privilege",
        "lease-rotation",
    ] {
        assert_eq!(
            status(&report, id),
            Status::Error,
            "{id}: {:?}",
            statuses(&report)
        );
    }
    assert!(report.report_id.is_some());
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    sim.set_vault_down(false);

    bridge.shutdown().await;
    sim.shutdown().await;
}

/// The PVWA id of `Prod-DB-RO/payments-db-ro`, which no run rotates (its safe's policy is none).
async fn admin_account_id(_bridge: &Bridge<SqliteStore>, config: &Config) -> String {
    let password = SecretString::from(ADMIN_PASSWORD);
    let mut cfg = config.cyberark.pvwa.clone();
    cfg.username = "Administrator".into();
    let pvwa = PvwaClient::logon(&cfg, &password).await.unwrap();
    let id = pvwa
        .find_account("Prod-DB-RO", "payments-db-ro")
        .await
        .unwrap()
        .unwrap()
        .id;
    pvwa.logoff().await.unwrap();
    id
}

/// The `restart` block's script as it is on the page now.
async fn current_script(bridge: &Bridge<SqliteStore>, page_id: &str) -> String {
    let page = bridge.confluence().get_page(page_id).await.unwrap();
    arkbridge_core::storage::runbooks(&page.body_storage)
        .unwrap()
        .into_iter()
        .find(|r| r.name == "restart")
        .unwrap()
        .script
}
