//! Plans for typical drifts: a missing group, wrong permissions, a member arkbridge added that
//! no grant wants any more, a member someone else added, predefined members, and `--prune`.

use super::*;

fn perms(p: &[&str]) -> BTreeSet<String> {
    p.iter().map(|s| s.to_string()).collect()
}

const READ: &[&str] = &["listAccounts", "retrieveAccounts", "useAccounts"];

fn want(safe: &str, member: &str, p: &[&str]) -> DesiredMember {
    DesiredMember {
        safe: safe.into(),
        member: member.into(),
        permissions: perms(p),
    }
}

fn has(member: &str, p: &[&str]) -> CurrentMember {
    CurrentMember {
        member: member.into(),
        is_group: true,
        is_predefined: false,
        permissions: perms(p),
    }
}

fn predefined(member: &str) -> CurrentMember {
    CurrentMember {
        is_predefined: true,
        is_group: false,
        ..has(member, &["manageSafe"])
    }
}

fn managed(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(s, m)| (s.to_string(), m.to_string()))
        .collect()
}

#[test]
fn matching_members_need_no_change() {
    let p = plan(
        &[want("Prod-DB", "ops-admins", READ)],
        &[(
            "Prod-DB".into(),
            vec![has("OPS-ADMINS", READ), predefined("Master")],
        )],
        &managed(&[]),
        &[],
        false,
    );
    assert!(p.is_empty(), "{p:?}");
    assert!(
        p.left_alone.is_empty(),
        "predefined members are not even reported"
    );
}

#[test]
fn missing_group_is_added_and_wrong_permissions_updated() {
    let p = plan(
        &[
            want("Prod-DB", "ops-admins", READ),
            want("Prod-DB-RO", "developers", READ),
        ],
        &[
            ("Prod-DB".into(), vec![has("ops-admins", &["listAccounts"])]),
            ("Prod-DB-RO".into(), vec![]),
        ],
        &managed(&[]),
        &[],
        false,
    );
    assert_eq!(p.changes.len(), 2, "{p:?}");
    assert!(matches!(&p.changes[0], Change::Update { member, .. } if member == "ops-admins"));
    assert!(matches!(&p.changes[1], Change::Add { member, .. } if member == "developers"));
    assert_eq!(
        p.changes[0].describe(),
        "~ Prod-DB: ops-admins: grant [retrieveAccounts, useAccounts], revoke []"
    );
}

#[test]
fn member_added_by_arkbridge_and_no_longer_granted_is_removed() {
    let p = plan(
        &[],
        &[("Prod-DB".into(), vec![has("old-team", READ)])],
        &managed(&[("prod-db", "OLD-TEAM")]),
        &[],
        false,
    );
    assert_eq!(
        p.changes,
        vec![Change::Remove {
            safe: "Prod-DB".into(),
            member: "old-team".into(),
            permissions: perms(READ),
            managed: true,
        }]
    );
}

#[test]
fn unmanaged_member_is_left_alone_unless_pruning() {
    let current = [("Prod-DB".into(), vec![has("dba-team", READ)])];
    let p = plan(&[], &current, &managed(&[]), &[], false);
    assert!(p.is_empty());
    assert_eq!(p.left_alone.len(), 1);
    assert!(p.left_alone[0].why.contains("--prune"));
    let p = plan(&[], &current, &managed(&[]), &[], true);
    assert!(matches!(
        &p.changes[0],
        Change::Remove { managed: false, .. }
    ));
    assert!(p.changes[0].describe().contains("because of --prune"));
}

#[test]
fn predefined_members_are_never_changed_or_removed_even_when_pruning() {
    let p = plan(
        &[want("Prod-DB", "Vault Admins", READ)],
        &[(
            "Prod-DB".into(),
            vec![predefined("Vault Admins"), predefined("Master")],
        )],
        &managed(&[("Prod-DB", "Master")]),
        &[],
        true,
    );
    assert!(p.is_empty(), "{p:?}");
    assert_eq!(p.left_alone.len(), 1);
    assert!(p.left_alone[0].why.contains("predefined"));
}

#[test]
fn a_safe_not_yet_read_gets_adds_only() {
    let p = plan(
        &[want("New-Safe", "ops", READ)],
        &[],
        &managed(&[]),
        &[],
        true,
    );
    assert!(matches!(&p.changes[..], [Change::Add { safe, .. }] if safe == "New-Safe"));
}

#[test]
fn plan_order_is_stable_by_safe_then_member() {
    let p = plan(
        &[
            want("b-safe", "zeta", READ),
            want("A-safe", "beta", READ),
            want("a-safe", "Alpha", READ),
        ],
        &[],
        &managed(&[]),
        &[],
        false,
    );
    let order: Vec<_> = p.changes.iter().map(|c| (c.safe(), c.member())).collect();
    assert_eq!(
        order,
        vec![("a-safe", "Alpha"), ("A-safe", "beta"), ("b-safe", "zeta")]
    );
}

#[test]
fn the_bridges_own_members_are_never_pruned() {
    let current = [(
        "Prod-DB".into(),
        vec![
            has("arkbridge", READ),
            has("ARKBRIDGE-SVC", READ),
            has("dba-team", READ),
        ],
    )];
    let p = plan(
        &[],
        &current,
        &managed(&[]),
        &["arkbridge".into(), "arkbridge-svc".into()],
        true,
    );
    let removed: Vec<_> = p.changes.iter().map(Change::member).collect();
    assert_eq!(removed, ["dba-team"]);
}

#[test]
fn desired_members_union_grants_and_report_role_only_ones() {
    use crate::policy::{Access, Grant, PolicySettings, SpaceRole};
    let grants = vec![
        Grant::to_group("ops", &["OPS"], &[("Prod-DB", Access::Read)]),
        Grant::to_group("ops", &["DEV"], &[("prod-db", Access::Write)]),
        Grant {
            group: None,
            confluence_role: Some(SpaceRole::Edit),
            spaces: vec!["OPS".into()],
            safes: [("Prod-DB".into(), Access::Read)].into(),
        },
    ];
    let (desired, role_only) = desired_members(&grants, &PolicySettings::default());
    assert_eq!(desired.len(), 1, "{desired:?}");
    assert!(
        desired[0]
            .permissions
            .contains("initiateCPMAccountManagementOperations")
    );
    assert!(desired[0].permissions.contains("retrieveAccounts"));
    assert_eq!(role_only, ["the edit role"]);
}
