//! The daily audit's checks of what happened: lease rotation (checked against CyberArk's own
//! account activities, not only arkbridge's records), the audit log's integrity with its latest
//! signed checkpoint, and stale approvals. Pure functions of facts gathered in `daily.rs`.

use std::collections::{BTreeMap, HashMap};

use arkbridge_audit::AuditStatus;
use arkbridge_cyberark::Activity;
use arkbridge_store::{ApprovalRecord, LeaseState, TimedLease};

use super::report::{CheckId, CheckResult, Evidence, Status, rfc3339};

/// The CPM user of a self-hosted Vault: changes it makes carry this name.
const CPM_USER: &str = "PasswordManager";

/// Whether an account activity records a completed CPM change of the password: a change or
/// reconcile done by the CPM (its client, its user, or a `CPM ...` action), not a request for
/// one, and not a failure (failures carry `Failed` in the action, or the alert flag).
pub fn is_cpm_change(a: &Activity) -> bool {
    let action = a.action.to_ascii_lowercase();
    let by_cpm = action.starts_with("cpm")
        || a.client_id.eq_ignore_ascii_case("CPM")
        || a.user.eq_ignore_ascii_case(CPM_USER);
    let change = action.contains("change password") || action.contains("reconcile password");
    by_cpm && change && !action.contains("fail") && !a.alert
}

/// The first completed CPM change at or after `since_secs`.
fn cpm_change_after(activities: &[Activity], since_secs: i64) -> Option<&Activity> {
    activities
        .iter()
        .filter(|a| is_cpm_change(a) && a.date.is_some_and(|d| d >= since_secs))
        .min_by_key(|a| a.date)
}

/// Every lease taken in the period was rotated, and CyberArk's activity log of its account shows
/// a completed CPM change after the lease was taken. `activities` holds each account's log (by
/// PVWA account id) or why it could not be read.
pub fn rotation_check(
    leases: &[TimedLease],
    activities: &HashMap<String, Result<Vec<Activity>, String>>,
    lookback_hours: u32,
) -> CheckResult {
    let mut evidence = Vec::new();
    let (mut confirmed, mut failed, mut exempt) = (0, 0, 0);
    for t in leases {
        let l = &t.lease;
        let subject = format!(
            "lease {} ({}/{}, run {}, {})",
            l.id,
            l.safe,
            l.object,
            l.run_id,
            rfc3339(t.created_micros)
        );
        let (status, detail) = match (l.rotation.as_str(), l.state) {
            ("none", _) => {
                exempt += 1;
                (
                    Status::Info,
                    "rotation `none`: CyberArk rotates this safe on its own schedule".to_string(),
                )
            }
            (_, LeaseState::Released) => {
                exempt += 1;
                (
                    Status::Info,
                    "released: the credential was never handed out, nothing to rotate".to_string(),
                )
            }
            (_, LeaseState::RotationFailed) => (
                Status::Fail,
                format!(
                    "rotation failed: {}",
                    l.error.as_deref().unwrap_or("no reason recorded")
                ),
            ),
            (_, LeaseState::Rotated) => match l.account_id.as_deref() {
                None => (
                    Status::Fail,
                    "recorded as rotated, but without the account id to confirm it".to_string(),
                ),
                Some(id) => confirm(id, t.created_micros, activities.get(id)),
            },
            (_, state) => (
                Status::Fail,
                format!("not rotated: the lease is still `{state}`"),
            ),
        };
        match status {
            Status::Pass => confirmed += 1,
            Status::Info => {}
            _ => failed += 1,
        }
        evidence.push(Evidence::new(subject, status, detail));
    }
    let summary = if leases.is_empty() {
        format!("no lease was taken in the last {lookback_hours} h")
    } else if failed == 0 {
        format!(
            "{confirmed} of {} lease(s) of the last {lookback_hours} h rotated, each confirmed by \
             CyberArk's activity log ({exempt} need no rotation)",
            leases.len()
        )
    } else {
        format!(
            "{failed} of {} lease(s) of the last {lookback_hours} h not shown rotated",
            leases.len()
        )
    };
    CheckResult::from_evidence(
        CheckId::Rotation,
        summary,
        [
            ("leases", leases.len() as u64),
            ("confirmed", confirmed),
            ("unconfirmed", failed),
            ("exempt", exempt),
        ]
        .into_iter()
        .collect(),
        evidence,
    )
}

/// Looks for the CPM change of one rotated lease in its account's activities.
fn confirm(
    account_id: &str,
    created_micros: i64,
    activities: Option<&Result<Vec<Activity>, String>>,
) -> (Status, String) {
    // Activity dates have one-second resolution: compare with the lease's second.
    let since = created_micros.div_euclid(1_000_000);
    match activities {
        None => (
            Status::Error,
            format!("the activities of account {account_id} were not read"),
        ),
        Some(Err(why)) => (
            Status::Error,
            format!("CyberArk's activities of account {account_id} could not be read: {why}"),
        ),
        Some(Ok(list)) => match cpm_change_after(list, since) {
            Some(a) => (
                Status::Pass,
                format!(
                    "CyberArk: \"{}\" by {} at {} on account {account_id}",
                    a.action,
                    a.user,
                    a.date.map_or_else(String::new, |d| rfc3339(d * 1_000_000)),
                ),
            ),
            None => (
                Status::Fail,
                format!(
                    "recorded as rotated, but CyberArk's activity log of account {account_id} \
                     shows no completed CPM change since the lease was taken"
                ),
            ),
        },
    }
}

/// The audit log verifies and has a signed checkpoint; the checkpoint's tree size and root are
/// the report's anchor.
pub fn audit_chain_check(status: Result<&AuditStatus, String>) -> CheckResult {
    let status = match status {
        Ok(s) => s,
        Err(why) => return CheckResult::error(CheckId::AuditChain, why),
    };
    let v = &status.verify;
    let mut evidence = Vec::new();
    if v.ok {
        evidence.push(Evidence::new(
            "audit log",
            Status::Pass,
            format!(
                "{} records verify; root {}",
                v.records,
                v.root.as_deref().unwrap_or("-")
            ),
        ));
    } else {
        evidence.push(Evidence::new(
            "audit log",
            Status::Fail,
            format!(
                "BROKEN: {}",
                v.failure.as_deref().unwrap_or("verification failed")
            ),
        ));
    }
    match &status.latest {
        Some(c) => {
            evidence.push(Evidence::new(
                format!("checkpoint {}", c.id),
                Status::Pass,
                format!(
                    "tree size {}, root {}, signed {} by {}+{}",
                    c.tree_size, c.root, c.time, c.origin, c.key_id
                ),
            ));
            if !v.signatures_checked {
                evidence.push(Evidence::new(
                    "checkpoint signatures",
                    Status::Warn,
                    "not checked: no trusted public key was available to the audit",
                ));
            }
            if v.ok && v.unsigned_records > 0 {
                evidence.push(Evidence::new(
                    "unsigned tail",
                    Status::Info,
                    format!(
                        "{} record(s) after checkpoint {} are not signed yet",
                        v.unsigned_records, c.id
                    ),
                ));
            }
        }
        None => evidence.push(Evidence::new(
            "checkpoint",
            Status::Fail,
            "no signed checkpoint: configure [audit] signing_key, or run `arkbridge audit \
             checkpoint`",
        )),
    }
    let summary = match (v.ok, &status.latest) {
        (true, Some(c)) => format!(
            "{} records verify; latest checkpoint {} covers {} (root {})",
            v.records, c.id, c.tree_size, c.root
        ),
        (true, None) => format!("{} records verify, but none is signed", v.records),
        (false, _) => "the audit log does not verify".to_string(),
    };
    CheckResult::from_evidence(
        CheckId::AuditChain,
        summary,
        [
            ("records", v.records),
            ("checkpoints", v.checkpoints as u64),
            ("unsigned", v.unsigned_records),
        ]
        .into_iter()
        .collect(),
        evidence,
    )
}

/// A block on an audited page, with its current script's hash and every approval recorded for
/// the block.
#[derive(Debug, Clone)]
pub struct BlockApprovals {
    pub page_id: String,
    pub title: String,
    pub block: String,
    pub current_sha256: String,
    pub approvals: Vec<ApprovalRecord>,
}

const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// No approval still in force is older than `max_age_days`; approvals voided by a later edit of
/// their block are listed as information.
pub fn approvals_check(
    blocks: &[BlockApprovals],
    now_micros: i64,
    max_age_days: u32,
) -> CheckResult {
    let mut evidence = Vec::new();
    let (mut current, mut stale, mut voided) = (0, 0, 0);
    for b in blocks {
        for a in &b.approvals {
            let subject = format!(
                "approval {} of block `{}` on page {} \"{}\"",
                a.id, b.block, b.page_id, b.title
            );
            let age_days = (now_micros - a.created_micros).div_euclid(DAY_MICROS);
            let when = rfc3339(a.created_micros);
            if a.script_sha256 != b.current_sha256 {
                voided += 1;
                evidence.push(Evidence::new(
                    subject,
                    Status::Info,
                    format!(
                        "voided: the block changed after {} approved it on {when}",
                        a.approver
                    ),
                ));
            } else if age_days > i64::from(max_age_days) {
                stale += 1;
                evidence.push(Evidence::new(
                    subject,
                    Status::Fail,
                    format!(
                        "stale: approved by {} on {when}, {age_days} days ago (at most \
                         {max_age_days}); approve the block again or retire it",
                        a.approver
                    ),
                ));
            } else {
                current += 1;
                evidence.push(Evidence::new(
                    subject,
                    Status::Pass,
                    format!("approved by {} on {when} ({age_days} days ago)", a.approver),
                ));
            }
        }
    }
    let summary = if stale == 0 {
        format!(
            "{current} approval(s) in force, none older than {max_age_days} days; {voided} voided \
             by later edits"
        )
    } else {
        format!("{stale} approval(s) older than {max_age_days} days are still in force")
    };
    CheckResult::from_evidence(
        CheckId::Approvals,
        summary,
        BTreeMap::from([("current", current), ("stale", stale), ("voided", voided)]),
        evidence,
    )
}
