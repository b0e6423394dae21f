//! Table-driven policy tests: each test states a situation as a fixture (a change to a world in
//! which alice may run the `restart` block) and the expected decision, `check(fixture, expect)`.
//! The expectation names the rules that must fail (none: allowed) and a phrase the explanation
//! must contain.

use std::collections::BTreeSet;

use super::*;
use crate::runbook::{Runbook, parse_script};

const HASH: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const OTHER_HASH: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// A world in which alice may run `restart` (write, Prod-DB with a Prod-DB-RO fallback).
struct World {
    grants: Vec<Grant>,
    settings: PolicySettings,
    user: UserFacts,
    page: PageFacts,
    runbook: Runbook,
    hash: String,
    members: Option<SafeMembers>,
    approval: Option<ApprovalFacts>,
}

fn user(id: &str, groups: &[&str]) -> UserFacts {
    UserFacts {
        id: id.into(),
        verified_by: Some("oidc".into()),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        space_role: Some(SpaceRole::Edit),
    }
}

fn member(group: &str, perms: &[&str]) -> SafeMember {
    SafeMember {
        name: group.into(),
        is_group: true,
        permissions: perms.iter().map(|p| p.to_string()).collect::<BTreeSet<_>>(),
    }
}

const READ: &[&str] = &["listAccounts", "useAccounts", "retrieveAccounts"];
const WRITE: &[&str] = &[
    "listAccounts",
    "useAccounts",
    "retrieveAccounts",
    "initiateCPMAccountManagementOperations",
];

fn runbook(mode: &str) -> Runbook {
    let script = format!(
        "# arkbridge: mode {mode}\n\
         # arkbridge: secret DB cyberark://Prod-DB/payments-db\n\
         # arkbridge: fallback DB cyberark://Prod-DB-RO/payments-db-ro\n\
         systemctl restart payments\n"
    );
    parse_script("restart", Some("bash"), &script).unwrap()
}

fn world() -> World {
    World {
        grants: vec![
            Grant::to_group(
                "platform-admins",
                &["OPS"],
                &[("Prod-DB", Access::Write), ("Prod-DB-RO", Access::Read)],
            ),
            Grant::to_group("developers", &["OPS"], &[("Prod-DB-RO", Access::Read)]),
        ],
        settings: PolicySettings {
            approver_groups: vec!["approvers".into()],
            ..PolicySettings::default()
        },
        user: user("alice@example.com", &["platform-admins"]),
        page: PageFacts {
            id: "1001".into(),
            version: 7,
            space: "OPS".into(),
            user_can_view: Some(true),
        },
        runbook: runbook("write"),
        hash: HASH.into(),
        members: Some(SafeMembers::Known(vec![
            ("Prod-DB".into(), vec![member("platform-admins", WRITE)]),
            (
                "prod-db-ro".into(),
                vec![member("platform-admins", READ), member("developers", READ)],
            ),
        ])),
        approval: Some(ApprovalFacts {
            approvals: vec![Approval {
                approver: "carol@example.com".into(),
                approver_groups: vec!["approvers".into()],
                script_sha256: HASH.into(),
                page_version: 7,
            }],
            last_editor: Some(user("alice@example.com", &["platform-admins"])),
        }),
    }
}

/// Applies `fixture` to the default world, decides, and checks the failing rules and that the
/// explanation contains `phrase`.
#[track_caller]
fn check(fixture: impl FnOnce(&mut World), failing: &[Rule], phrase: &str) -> Decision {
    let mut w = world();
    fixture(&mut w);
    let facts = Facts {
        user: &w.user,
        page: &w.page,
        runbook: &w.runbook,
        script_sha256: &w.hash,
        safe_members: w.members.as_ref(),
        approval: w.approval.as_ref(),
    };
    let d = decide(&w.grants, &w.settings, &facts);
    let failed: Vec<Rule> = d
        .rules
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.rule)
        .collect();
    assert_eq!(failed, failing, "explanation: {}", d.explain());
    assert_eq!(d.allowed, failing.is_empty());
    assert!(
        d.explain().contains(phrase),
        "`{phrase}` not in: {}",
        d.explain()
    );
    assert_eq!(d.rules.len(), 5, "every rule is always reported");
    d
}

#[test]
fn all_rules_hold_so_alice_may_run_restart() {
    let d = check(|_| {}, &[], "approved by carol@example.com");
    assert!(
        d.reasons().iter().all(|r| r.contains(" ok] ")),
        "{:?}",
        d.reasons()
    );
}

#[test]
fn rule1_unverified_user_is_denied() {
    check(
        |w| w.user.verified_by = None,
        &[Rule::Verified],
        "not a verified user",
    );
}

#[test]
fn rule2_user_who_may_not_view_the_page_is_denied() {
    check(
        |w| w.page.user_can_view = Some(false),
        &[Rule::ViewPage],
        "may not view page 1001",
    );
}

#[test]
fn rule2_unknown_view_permission_fails_closed() {
    check(
        |w| w.page.user_can_view = None,
        &[Rule::ViewPage],
        "could not confirm",
    );
}

#[test]
fn rule3_developer_has_no_write_grant_on_prod_db() {
    check(
        |w| w.user = user("bob@example.com", &["developers"]),
        &[Rule::Grant, Rule::SafeMembership],
        "no grant for this user binds space OPS to safe Prod-DB",
    );
}

#[test]
fn rule3_other_space_is_not_covered() {
    // The last editor's grant fails with the requester's: both are checked for the page's space.
    check(
        |w| w.page.space = "DEV".into(),
        &[Rule::Grant, Rule::Approval],
        "space DEV",
    );
}

#[test]
fn rule3_read_grant_does_not_allow_a_write_block() {
    check(
        |w| {
            w.grants[0].safes.insert("Prod-DB".into(), Access::Read);
        },
        &[Rule::Grant, Rule::Approval],
        "allow only read on safe Prod-DB",
    );
}

#[test]
fn rule3_fallback_binding_needs_read_on_its_own_safe() {
    check(
        |w| {
            w.grants[0].safes.remove("Prod-DB-RO");
        },
        &[Rule::Grant, Rule::Approval],
        "DB (fallback): no grant",
    );
}

#[test]
fn rule3_safe_names_compare_ignoring_case_space_keys_exactly() {
    check(
        |w| {
            w.grants[0].safes = [
                ("PROD-db".into(), Access::Write),
                ("prod-db-ro".into(), Access::Read),
            ]
            .into()
        },
        &[],
        "",
    );
    check(
        |w| {
            w.page.space = "ops".into();
            w.runbook = runbook("read");
        },
        &[Rule::Grant],
        "space ops",
    );
}

#[test]
fn rule3_confluence_role_grant_needs_the_role() {
    let role_grant = |w: &mut World| {
        w.grants = vec![Grant {
            group: None,
            confluence_role: Some(SpaceRole::Edit),
            spaces: vec!["OPS".into()],
            safes: [
                ("Prod-DB".into(), Access::Write),
                ("Prod-DB-RO".into(), Access::Read),
            ]
            .into(),
        }];
        w.runbook = runbook("read");
    };
    check(role_grant, &[], "the grant to the edit role allows");
    check(
        |w| {
            role_grant(w);
            w.user.space_role = Some(SpaceRole::View);
        },
        &[Rule::Grant],
        "no grant for this user",
    );
}

#[test]
fn rule3_group_and_role_together_need_both() {
    let both = |w: &mut World| {
        w.grants[0].confluence_role = Some(SpaceRole::Admin);
        w.runbook = runbook("read");
    };
    check(
        both,
        &[Rule::Grant],
        "no grant for this user binds space OPS to safe Prod-DB",
    );
    check(
        |w| {
            both(w);
            w.user.space_role = Some(SpaceRole::Admin);
        },
        &[],
        "group platform-admins with the admin role",
    );
}

#[test]
fn rule3_grant_with_no_subject_applies_to_nobody() {
    let g = Grant {
        group: None,
        confluence_role: None,
        spaces: vec!["OPS".into()],
        safes: [("Prod-DB".into(), Access::Write)].into(),
    };
    assert!(!g.applies_to(&["anything".into()], Some(SpaceRole::Admin)));
}

#[test]
fn rule4_group_not_a_safe_member_is_denied() {
    check(
        |w| {
            w.members = Some(SafeMembers::Known(vec![
                ("Prod-DB".into(), vec![]),
                ("Prod-DB-RO".into(), vec![member("platform-admins", READ)]),
            ]))
        },
        &[Rule::SafeMembership],
        "none of the user's groups is a member of safe Prod-DB",
    );
}

#[test]
fn rule4_member_without_the_mapped_permissions_is_denied() {
    check(
        |w| {
            w.members = Some(SafeMembers::Known(vec![
                ("Prod-DB".into(), vec![member("platform-admins", READ)]),
                ("Prod-DB-RO".into(), vec![member("platform-admins", READ)]),
            ]))
        },
        &[Rule::SafeMembership],
        "initiateCPMAccountManagementOperations",
    );
}

#[test]
fn rule4_a_user_member_does_not_count_only_groups_do() {
    check(
        |w| {
            let mut m = member("platform-admins", WRITE);
            m.is_group = false;
            w.members = Some(SafeMembers::Known(vec![
                ("Prod-DB".into(), vec![m]),
                ("Prod-DB-RO".into(), vec![member("platform-admins", READ)]),
            ]))
        },
        &[Rule::SafeMembership],
        "safe Prod-DB",
    );
}

#[test]
fn rule4_unreadable_members_fail_closed() {
    check(
        |w| w.members = Some(SafeMembers::Unavailable("PVWA unavailable".into())),
        &[Rule::SafeMembership],
        "could not be read: PVWA unavailable",
    );
    check(
        |w| w.members = None,
        &[Rule::SafeMembership],
        "were not read",
    );
}

#[test]
fn rule4_a_recent_snapshot_decides_while_the_pvwa_is_down_and_says_so() {
    let snapshot = |w: &mut World| {
        let Some(SafeMembers::Known(safes)) = w.members.take() else {
            panic!("the fixture lists the members");
        };
        w.members = Some(SafeMembers::Snapshot {
            safes,
            note: "the PVWA is unavailable; safe members as listed 12 minutes ago".into(),
        });
    };
    check(snapshot, &[], "as listed 12 minutes ago");
    // A snapshot grants nothing the members themselves would not.
    check(
        |w| {
            snapshot(w);
            w.user.groups = vec!["developers".into()];
        },
        &[Rule::Grant, Rule::SafeMembership],
        "as listed 12 minutes ago",
    );
}

#[test]
fn rule4_off_in_settings_is_reported_as_such() {
    check(
        |w| {
            w.settings.require_safe_membership = false;
            w.members = None;
        },
        &[],
        "require_safe_membership = false",
    );
}

#[test]
fn rule5_read_block_needs_no_approval() {
    check(
        |w| {
            w.runbook = runbook("read");
            w.approval = None;
        },
        &[],
        "needs no approval",
    );
}

#[test]
fn rule5_unapproved_write_block_is_denied() {
    check(
        |w| w.approval.as_mut().unwrap().approvals.clear(),
        &[Rule::Approval],
        "no approval is recorded",
    );
}

#[test]
fn rule5_any_edit_voids_the_approval() {
    check(
        |w| w.hash = OTHER_HASH.into(),
        &[Rule::Approval],
        "changed since its last approval",
    );
}

#[test]
fn rule5_the_last_editor_cannot_approve_their_own_edit() {
    check(
        |w| {
            let a = w.approval.as_mut().unwrap();
            a.last_editor = Some(user("carol@example.com", &["platform-admins", "approvers"]));
        },
        &[Rule::Approval],
        "they are the last editor",
    );
}

#[test]
fn rule5_approver_outside_the_approver_groups_does_not_count() {
    check(
        |w| w.approval.as_mut().unwrap().approvals[0].approver_groups = vec!["developers".into()],
        &[Rule::Approval],
        "not in an approver group [approvers]",
    );
}

#[test]
fn rule5_unknown_last_editor_fails_closed() {
    check(
        |w| w.approval.as_mut().unwrap().last_editor = None,
        &[Rule::Approval],
        "last editor could not be determined",
    );
}

#[test]
fn rule5_planted_code_is_denied_until_a_granted_editor_saves_it_and_it_is_reapproved() {
    // bob (developers: read on Prod-DB-RO only) edits alice's write block.
    let planted = |w: &mut World| {
        w.hash = OTHER_HASH.into();
        w.approval.as_mut().unwrap().last_editor = Some(user("bob@example.com", &["developers"]));
    };
    check(
        planted,
        &[Rule::Approval],
        "changed since its last approval",
    );
    // carol approves the planted script: still denied, bob does not hold the grant.
    check(
        |w| {
            planted(w);
            w.approval.as_mut().unwrap().approvals.push(Approval {
                approver: "carol@example.com".into(),
                approver_groups: vec!["approvers".into()],
                script_sha256: OTHER_HASH.into(),
                page_version: 8,
            });
        },
        &[Rule::Approval],
        "the last editor bob@example.com does not hold the grant (write on safe Prod-DB)",
    );
    // alice reviews and saves the block, carol approves that exact script: allowed.
    check(
        |w| {
            w.hash = OTHER_HASH.into();
            w.approval.as_mut().unwrap().approvals.push(Approval {
                approver: "carol@example.com".into(),
                approver_groups: vec!["approvers".into()],
                script_sha256: OTHER_HASH.into(),
                page_version: 9,
            });
        },
        &[],
        "approved by carol@example.com",
    );
}

#[test]
fn every_failing_rule_is_reported_not_only_the_first() {
    check(
        |w| {
            w.user.verified_by = None;
            w.page.user_can_view = Some(false);
            w.approval.as_mut().unwrap().approvals.clear();
        },
        &[Rule::Verified, Rule::ViewPage, Rule::Approval],
        "not a verified user; alice@example.com may not view page 1001; the block",
    );
}

#[test]
fn default_permission_mapping_is_read_only_set_and_cpm_for_write() {
    let s = PolicySettings::default();
    assert_eq!(s.permissions_for(Access::Read), READ);
    assert_eq!(s.permissions_for(Access::Write), WRITE);
    assert!(s.require_safe_membership);
    assert!(s.approver_groups.is_empty());
}

#[test]
fn rule5_an_edit_by_someone_unknown_still_says_the_approval_is_void() {
    check(
        |w| {
            w.hash = OTHER_HASH.into();
            w.approval.as_mut().unwrap().last_editor = None;
        },
        &[Rule::Approval],
        "could not be determined; the block changed since its last approval",
    );
}
