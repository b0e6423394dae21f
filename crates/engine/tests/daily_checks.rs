//! The daily audit's checks of configuration and access on hand-made facts (bindings, safe
//! member drift, least privilege, inline secrets, findings): what passes, what fails and what is
//! only information; the report's summary, and that its renderings escape what they show.

use std::collections::{BTreeSet, HashMap};

use arkbridge_audit::{AuditStatus, CheckpointFacts, VerifySummary};
use arkbridge_core::config::Config;
use arkbridge_core::policy::{Access, Grant};
use arkbridge_core::reconcile::{Change, LeftAlone, Plan};
use arkbridge_cyberark::Permissions;
use arkbridge_engine::PolicyPlan;
use arkbridge_engine::daily::*;
use arkbridge_store::{FindingRecord, FindingState, NewFinding};

const NOW: i64 = 1_800_000_000_000_000;
const HOUR: i64 = 3_600 * 1_000_000;
const DAY: i64 = 24 * HOUR;

const CONFIG: &str = r#"
data_dir = "data"
[identity]
provider = "local-trusted"
[cyberark.ccp]
url = "https://127.0.0.1:1"
app_id = "arkbridge"
[cyberark.pvwa]
url = "https://127.0.0.1:2"
username = "arkbridge-svc"
password = "cyberark://Integrations/pvwa"
[confluence]
url = "https://127.0.0.1:3"
user = "arkbridge@example.com"
token = "cyberark://Integrations/confluence"
[safes.Prod-DB]
rotation = "after-run"
[[grants]]
group = "platform-admins"
spaces = ["OPS"]
safes = { Prod-DB = "write" }
[policy.apply_as]
username = "arkbridge-safe-admin"
password = "cyberark://Integrations/admin"
"#;

fn evidence_statuses(c: &CheckResult) -> Vec<Status> {
    c.evidence.iter().map(|e| e.status).collect()
}

fn page(storage: &str) -> AuditedPage {
    AuditedPage {
        id: "42".into(),
        title: "Restart".into(),
        version: 3,
        space: "OPS".into(),
        runbooks: arkbridge_core::storage::runbooks(storage).map_err(|e| e.to_string()),
    }
}

fn block(name: &str, lines: &str) -> String {
    format!(
        "<ac:structured-macro ac:name=\"code\" ac:schema-version=\"1\"><ac:parameter \
         ac:name=\"title\">arkbridge: {name}</ac:parameter><ac:plain-text-body><![CDATA[{lines}\
         echo done]]></ac:plain-text-body></ac:structured-macro>"
    )
}

#[test]
fn bindings_resolve_only_to_existing_accounts_in_safes_granted_to_the_space() {
    let storage = block(
        "restart",
        "# arkbridge: secret A cyberark://Prod-DB/db\n# arkbridge: secret B cyberark://Prod-DB/gone\n\
         # arkbridge: secret C cyberark://Other/x\n",
    );
    let grants = vec![Grant::to_group(
        "admins",
        &["OPS"],
        &[("prod-db", Access::Write)],
    )];
    let lookups = HashMap::from([
        (
            lookup_key("Prod-DB", "db"),
            AccountLookup::Found("12_3".into()),
        ),
        (lookup_key("Prod-DB", "gone"), AccountLookup::Missing),
        (
            lookup_key("Other", "x"),
            AccountLookup::Found("13_1".into()),
        ),
    ]);
    let check = bindings_check(&[], &[page(&storage)], &grants, &lookups);
    assert_eq!(check.status, Status::Fail);
    assert_eq!(
        evidence_statuses(&check),
        [Status::Pass, Status::Fail, Status::Fail]
    );
    assert!(
        check.evidence[0].detail.contains("account 12_3"),
        "{check:?}"
    );
    assert!(check.evidence[1].detail.contains("has no account gone"));
    assert!(
        check.evidence[2]
            .detail
            .contains("no grant binds safe Other to space OPS")
    );
    assert_eq!(check.counts["unresolved"], 2);
    assert_eq!(check.criteria, ["CC6.1", "CC6.3"]);

    let good = block("ok", "# arkbridge: secret A cyberark://Prod-DB/db\n");
    assert_eq!(
        bindings_check(&[], &[page(&good)], &grants, &lookups).status,
        Status::Pass
    );
    // A PVWA that cannot answer, an unreadable space or page: the control is not evidenced.
    let unknown = HashMap::from([(
        lookup_key("Prod-DB", "db"),
        AccountLookup::Unknown("PVWA down".into()),
    )]);
    assert_eq!(
        bindings_check(&[], &[page(&good)], &grants, &unknown).status,
        Status::Error
    );
    let spaces = [("SEC".to_string(), "no such space".to_string())];
    assert_eq!(
        bindings_check(&spaces, &[], &grants, &lookups).status,
        Status::Error
    );
    let bad = block("dup", "# arkbridge: secret A not-a-reference\n");
    assert_eq!(
        bindings_check(&[], &[page(&bad)], &grants, &lookups).status,
        Status::Fail
    );
}

#[test]
fn safe_member_drift_fails_and_members_left_alone_are_information() {
    let mut plan = PolicyPlan {
        plan: Plan {
            changes: Vec::new(),
            left_alone: vec![LeftAlone {
                safe: "Prod-DB".into(),
                member: "Administrator".into(),
                why: "not managed by arkbridge".into(),
            }],
        },
        not_expressible: vec!["the edit role".into()],
    };
    let clean = safe_members_check(Ok(&plan));
    assert_eq!(clean.status, Status::Pass);
    assert_eq!(evidence_statuses(&clean), [Status::Info, Status::Info]);
    plan.plan.changes.push(Change::Update {
        safe: "Prod-DB".into(),
        member: "platform-admins".into(),
        from: BTreeSet::from(["listAccounts".to_string()]),
        to: BTreeSet::from(["listAccounts".to_string(), "retrieveAccounts".to_string()]),
    });
    let drift = safe_members_check(Ok(&plan));
    assert_eq!(drift.status, Status::Fail);
    assert_eq!(drift.counts["changes"], 1);
    assert_eq!(
        safe_members_check(Err("PVWA down".into())).status,
        Status::Error
    );
}

#[test]
fn least_privilege_fails_on_a_risky_extra_warns_on_a_hidden_membership_and_errs_without_the_pvwa() {
    let config = Config::parse(CONFIG).unwrap();
    let needs = pvwa_user_needs(&config, "Prod-DB");
    assert!(needs.contains("initiateCPMAccountManagementOperations"));
    let mut exact = Permissions::none();
    for k in &needs {
        exact.set(k, true);
    }
    let mut risky = exact;
    risky.retrieve_accounts = true;
    let mut harmless = exact;
    harmless.view_audit_log = true;
    let fact = |identity, needed: BTreeSet<&'static str>, held| MembershipFact {
        safe: "Prod-DB".into(),
        member: "m".into(),
        identity,
        needed,
        held,
    };
    let check = least_privilege_check(&[
        fact(BridgeIdentity::PvwaUser, needs.clone(), Held::Member(exact)),
        fact(
            BridgeIdentity::PvwaUser,
            needs.clone(),
            Held::Member(harmless),
        ),
        fact(
            BridgeIdentity::AppId,
            app_id_needs(),
            Held::Member(Permissions::read_only()),
        ),
        fact(BridgeIdentity::PvwaUser, BTreeSet::new(), Held::NotMember),
        fact(
            BridgeIdentity::AppId,
            app_id_needs(),
            Held::Hidden("not visible".into()),
        ),
    ]);
    // "Read only" is listAccounts, useAccounts, retrieveAccounts: useAccounts is not needed.
    assert_eq!(
        evidence_statuses(&check),
        [
            Status::Pass,
            Status::Pass,
            Status::Fail,
            Status::Pass,
            Status::Warn
        ]
    );
    assert!(
        check.evidence[2].detail.contains("useAccounts"),
        "{check:?}"
    );
    assert_eq!(check.status, Status::Fail);
    let ok = least_privilege_check(&[fact(
        BridgeIdentity::PvwaUser,
        needs.clone(),
        Held::Member(exact),
    )]);
    assert_eq!(ok.status, Status::Pass);
    let hidden = least_privilege_check(&[fact(
        BridgeIdentity::AppId,
        app_id_needs(),
        Held::Hidden("not visible".into()),
    )]);
    assert_eq!(hidden.status, Status::Warn, "passes with a warning");
    let down = least_privilege_check(&[fact(
        BridgeIdentity::AppId,
        app_id_needs(),
        Held::Failed("PVWA unavailable".into()),
    )]);
    assert_eq!(down.status, Status::Error, "no evidence is no pass");
    let bad = least_privilege_check(&[fact(BridgeIdentity::PvwaUser, needs, Held::Member(risky))]);
    assert!(
        bad.evidence[0].detail.contains("retrieveAccounts beyond"),
        "{bad:?}"
    );
    assert_eq!(configured_safes(&config), ["Prod-DB"]);
}

#[test]
fn inline_secrets_fail_naming_the_field_never_the_value() {
    let config = Config::parse(CONFIG).unwrap();
    let check = inline_secrets_check(&config);
    assert_eq!(check.status, Status::Pass);
    let inline = CONFIG.replace(
        "\"cyberark://Integrations/confluence\"",
        "\"hunter2-inline-token\"",
    );
    let config = Config::parse(&format!("allow_inline_secrets = true\n{inline}")).unwrap();
    let check = inline_secrets_check(&config);
    assert_eq!(check.status, Status::Fail);
    assert!(check.summary.contains("confluence.token"));
    let all = format!("{check:?}");
    assert!(!all.contains("hunter2"), "{all}");
}

fn audit_status(ok: bool, latest: bool, signatures_checked: bool) -> AuditStatus {
    AuditStatus {
        latest: latest.then(|| CheckpointFacts {
            id: 4,
            tree_size: 120,
            root: "cm9vdA==".into(),
            time: "2026-11-29T02:00:00Z".into(),
            time_us: NOW,
            origin: "audit.example.com/arkbridge".into(),
            key_id: "0a1b2c3d".into(),
        }),
        verify: VerifySummary {
            ok,
            records: 125,
            root: ok.then(|| "cm9vdDI=".into()),
            checkpoints: 4,
            signatures_checked,
            unsigned_records: 5,
            failure: (!ok).then(|| "audit record 7 is bad: changed".into()),
        },
    }
}

fn finding(preview: &str) -> FindingRecord {
    FindingRecord {
        id: 9,
        finding: NewFinding {
            fingerprint: "f".repeat(64),
            location_key: "page:77".into(),
            page_id: Some("77".into()),
            page_version: Some(2),
            title: Some("Legacy <DB> notes\u{1b}[2J".into()),
            author: None,
            space: Some("OPS".into()),
            file_path: None,
            element_path: "table/tr[2]/td[3]".into(),
            char_offset: 5,
            char_length: 19,
            detector: "table-password".into(),
            category: "confluence-password".into(),
            severity: "high".into(),
            preview: preview.into(),
        },
        state: FindingState::New,
        first_seen_micros: NOW,
        last_seen_micros: NOW,
        triaged_by: None,
        triage_note: None,
        vaulted_ref: None,
    }
}

#[test]
fn new_findings_fail_a_scan_that_did_not_run_warns_and_one_that_failed_errs() {
    let ran = ScanEvidence {
        ran: true,
        spaces: vec!["OPS".into()],
        detail: "scanned".into(),
        error: None,
    };
    assert_eq!(findings_check(&[], &ran).status, Status::Pass);
    let not_ran = ScanEvidence {
        ran: false,
        ..ran.clone()
    };
    assert_eq!(findings_check(&[], &not_ran).status, Status::Warn);
    let failed = ScanEvidence {
        error: Some("CQL refused".into()),
        ..not_ran
    };
    assert_eq!(findings_check(&[], &failed).status, Status::Error);
    let check = findings_check(&[finding("Wi****s")], &ran);
    assert_eq!(check.status, Status::Fail);
    assert!(check.evidence[0].detail.contains("Wi****s"));
}

fn report() -> DailyReport {
    let mut r = DailyReport {
        version: 1,
        generated_at: rfc3339(NOW),
        generated_micros: NOW,
        period_start: rfc3339(NOW - DAY),
        lookback_hours: 24,
        spaces: vec!["OPS".into()],
        passed: false,
        summary: Summary::default(),
        checks: vec![
            safe_members_check(Err("<script>alert(1)</script> & more".into())),
            findings_check(
                &[finding("<b>Wi**</b>")],
                &ScanEvidence {
                    ran: true,
                    spaces: vec![],
                    detail: String::new(),
                    error: None,
                },
            ),
            approvals_check(&[], NOW, 90),
        ],
        checkpoint: audit_status(true, true, true).latest,
        findings: vec![finding_evidence(&finding("<b>Wi**</b>"))],
        scan: ScanEvidence {
            ran: true,
            spaces: vec![],
            detail: String::new(),
            error: None,
        },
        report_id: Some(3),
    };
    r.tally();
    r
}

#[test]
fn the_summary_counts_checks_and_names_the_failed_ones() {
    let r = report();
    assert!(!r.passed);
    assert_eq!((r.summary.pass, r.summary.fail, r.summary.error), (1, 1, 1));
    assert_eq!(r.failed_checks(), ["safe-members", "secret-findings"]);
    assert_eq!(
        r.headline(),
        "FAIL: 2 of 3 checks failed: safe-members, secret-findings"
    );
}

#[test]
fn html_and_storage_renderings_escape_everything_they_show() {
    let r = report();
    for out in [render_html(&r), render_storage(&r)] {
        assert!(!out.contains("<script>"), "{out}");
        assert!(!out.contains("<b>Wi"), "{out}");
        assert!(out.contains("&lt;script&gt;"), "{out}");
        assert!(out.contains("Legacy &lt;DB&gt; notes"));
        assert!(out.contains("cm9vdA=="), "the checkpoint root");
    }
    let html = render_html(&r);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.contains("src=") && !html.contains("href="),
        "self-contained"
    );
    let storage = render_storage(&r);
    assert!(storage.contains(
        "<ac:parameter ac:name=\"colour\">Red</ac:parameter><ac:parameter ac:name=\"title\">FAIL</ac:parameter>"
    ));
    assert!(storage.contains(
        "<ac:parameter ac:name=\"colour\">Green</ac:parameter><ac:parameter ac:name=\"title\">PASS</ac:parameter>"
    ));
    arkbridge_core::storage::Page::parse(&storage).expect("well-formed storage format");
    let text = render_text(&r);
    assert!(
        text.contains("[FAIL ] secret-findings (CC6.1, CC6.6)"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "no escape sequence reaches a terminal"
    );
    assert!(text.contains("Legacy <DB> notes\u{fffd}[2J"), "{text}");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["checks"][0]["status"], "error");
    assert_eq!(json["checkpoint"]["tree_size"], 120);
}
