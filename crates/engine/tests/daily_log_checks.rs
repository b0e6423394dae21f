//! The daily audit's checks of what happened, on hand-made facts: a lease counts as rotated only
//! when CyberArk's activity log shows the CPM's change after it, an approval past its maximum
//! age is stale (a voided one is information), and the audit chain needs a verifying log and a
//! signed checkpoint.

use std::collections::HashMap;

use arkbridge_audit::{AuditStatus, CheckpointFacts, VerifySummary};
use arkbridge_cyberark::Activity;
use arkbridge_engine::daily::*;
use arkbridge_store::{ApprovalRecord, Lease, LeaseState, TimedLease};

const NOW: i64 = 1_800_000_000_000_000;
const HOUR: i64 = 3_600 * 1_000_000;
const DAY: i64 = 24 * HOUR;

fn evidence_statuses(c: &CheckResult) -> Vec<Status> {
    c.evidence.iter().map(|e| e.status).collect()
}

fn lease(id: i64, rotation: &str, state: LeaseState, account: Option<&str>) -> TimedLease {
    TimedLease {
        lease: Lease {
            id,
            run_id: format!("run-{id}"),
            safe: "Prod-DB".into(),
            object: "db".into(),
            account_id: account.map(str::to_string),
            rotation: rotation.into(),
            state,
            error: (state == LeaseState::RotationFailed).then(|| "CPM failed".into()),
        },
        created_micros: NOW - HOUR,
        updated_micros: NOW - HOUR + 1_000_000,
    }
}

fn activity(action: &str, user: &str, client: &str, date_micros: i64) -> Activity {
    Activity {
        date: Some(date_micros / 1_000_000),
        user: user.into(),
        action: action.into(),
        client_id: client.into(),
        ..Activity::default()
    }
}

#[test]
fn a_rotation_counts_only_when_cyberark_shows_a_cpm_change_after_the_lease() {
    assert!(is_cpm_change(&activity(
        "CPM Change Password",
        "PasswordManager",
        "CPM",
        0
    )));
    assert!(is_cpm_change(&activity(
        "CPM Reconcile Password",
        "PasswordManager",
        "CPM",
        0
    )));
    assert!(!is_cpm_change(&activity(
        "CPM Change Password Failed",
        "PasswordManager",
        "CPM",
        0
    )));
    assert!(!is_cpm_change(&activity(
        "Change password",
        "arkbridge-svc",
        "PVWA",
        0
    )));
    assert!(!is_cpm_change(&activity(
        "Retrieve password",
        "arkbridge",
        "AIMWebService",
        0
    )));

    let leases = [
        lease(1, "after-run", LeaseState::Rotated, Some("1_1")),
        lease(2, "after-run", LeaseState::Rotated, Some("1_2")),
        lease(3, "after-run", LeaseState::Rotated, Some("1_3")),
        lease(4, "checkin", LeaseState::RotationFailed, Some("1_4")),
        lease(5, "none", LeaseState::Released, Some("1_5")),
        lease(6, "after-run", LeaseState::Issued, Some("1_6")),
        lease(7, "after-run", LeaseState::Released, None),
        lease(8, "after-run", LeaseState::Rotated, Some("1_8")),
    ];
    let activities = HashMap::from([
        (
            "1_1".to_string(),
            Ok(vec![
                activity(
                    "Change password",
                    "arkbridge-svc",
                    "PVWA",
                    NOW - HOUR + 1_000_000,
                ),
                activity(
                    "CPM Change Password",
                    "PasswordManager",
                    "CPM",
                    NOW - HOUR + 2_000_000,
                ),
            ]),
        ),
        // A change, but from before the lease: it does not prove this rotation.
        (
            "1_2".to_string(),
            Ok(vec![activity(
                "CPM Change Password",
                "PasswordManager",
                "CPM",
                NOW - 2 * HOUR,
            )]),
        ),
        ("1_3".to_string(), Ok(Vec::new())),
        ("1_8".to_string(), Err("PVWA down".to_string())),
    ]);
    let check = rotation_check(&leases, &activities, 24);
    assert_eq!(
        evidence_statuses(&check),
        [
            Status::Pass,
            Status::Fail,
            Status::Fail,
            Status::Fail,
            Status::Info,
            Status::Fail,
            Status::Info,
            Status::Error,
        ]
    );
    assert!(
        check.evidence[0]
            .detail
            .contains("\"CPM Change Password\" by PasswordManager")
    );
    assert!(
        check.evidence[2]
            .detail
            .contains("shows no completed CPM change")
    );
    assert!(check.evidence[3].detail.contains("CPM failed"));
    assert!(check.evidence[5].detail.contains("still `issued`"));
    assert_eq!(check.status, Status::Error);
    assert_eq!((check.counts["confirmed"], check.counts["exempt"]), (1, 2));
    let empty = rotation_check(&[], &HashMap::new(), 24);
    assert_eq!(empty.status, Status::Pass);
    assert!(empty.summary.contains("no lease"), "{}", empty.summary);
}

fn approval(id: i64, sha: &str, age_days: i64) -> ApprovalRecord {
    ApprovalRecord {
        id,
        page_id: "42".into(),
        block: "restart".into(),
        script_sha256: sha.into(),
        page_version: 1,
        approver: "carol@example.com".into(),
        approver_groups: None,
        created_micros: NOW - age_days * DAY,
        audit_seq: id,
    }
}

#[test]
fn an_approval_still_in_force_past_the_maximum_age_is_stale_and_voided_ones_are_information() {
    let blocks = [BlockApprovals {
        page_id: "42".into(),
        title: "Restart".into(),
        block: "restart".into(),
        current_sha256: "aa".into(),
        approvals: vec![
            approval(1, "aa", 10),
            approval(2, "bb", 200),
            approval(3, "aa", 91),
        ],
    }];
    let check = approvals_check(&blocks, NOW, 90);
    assert_eq!(
        evidence_statuses(&check),
        [Status::Pass, Status::Info, Status::Fail]
    );
    assert!(
        check.evidence[2].detail.contains("91 days ago"),
        "{check:?}"
    );
    assert_eq!(check.status, Status::Fail);
    assert_eq!(approvals_check(&blocks, NOW, 100).status, Status::Pass);
    assert_eq!(check.criteria, ["CC8.1"]);
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

#[test]
fn the_audit_chain_passes_only_when_it_verifies_with_a_signed_checkpoint() {
    let good = audit_chain_check(Ok(&audit_status(true, true, true)));
    assert_eq!(good.status, Status::Pass);
    assert!(
        good.summary.contains("latest checkpoint 4 covers 120"),
        "{}",
        good.summary
    );
    assert_eq!(
        audit_chain_check(Ok(&audit_status(true, true, false))).status,
        Status::Warn
    );
    let unsigned = audit_chain_check(Ok(&audit_status(true, false, false)));
    assert_eq!(unsigned.status, Status::Fail);
    let broken = audit_chain_check(Ok(&audit_status(false, true, true)));
    assert_eq!(broken.status, Status::Fail);
    assert!(broken.evidence[0].detail.contains("record 7"));
    assert_eq!(audit_chain_check(Err("store".into())).status, Status::Error);
}
