//! Reconciling CyberArk safe members with the grants: what `arkbridge policy plan` prints and
//! `policy apply` does.
//!
//! The grants say which identity-provider group should hold which permissions on which safe
//! ([`DesiredMember`]); the PVWA says who holds what now ([`CurrentMember`]). [`plan`] lists the
//! changes that make CyberArk match, under three rules an administrator relies on:
//!
//! * predefined members (Vault Admins, the CPM user, Master, ...) are never touched;
//! * a member arkbridge did not add (not in the `managed` set the store keeps) is never removed
//!   unless `prune` is asked for — it is listed as left alone, with why;
//! * names compare ignoring case, as CyberArk does; the order of the plan is stable.
//!
//! Pure: the engine reads the members and applies the plan.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::policy::{Grant, PolicySettings};

/// A member the grants call for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesiredMember {
    pub safe: String,
    /// The identity-provider group (added with `memberType` Group).
    pub member: String,
    /// Safe-member permission keys that should be true (all others false).
    pub permissions: BTreeSet<String>,
}

/// A member as the PVWA lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrentMember {
    pub member: String,
    pub is_group: bool,
    pub is_predefined: bool,
    /// The permission keys that are true.
    pub permissions: BTreeSet<String>,
}

/// One change to a safe's members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum Change {
    Add {
        safe: String,
        member: String,
        permissions: BTreeSet<String>,
    },
    Update {
        safe: String,
        member: String,
        from: BTreeSet<String>,
        to: BTreeSet<String>,
    },
    Remove {
        safe: String,
        member: String,
        permissions: BTreeSet<String>,
        /// True when arkbridge added it; false when removed only because of `prune`.
        managed: bool,
    },
}

impl Change {
    pub fn safe(&self) -> &str {
        match self {
            Change::Add { safe, .. }
            | Change::Update { safe, .. }
            | Change::Remove { safe, .. } => safe,
        }
    }

    pub fn member(&self) -> &str {
        match self {
            Change::Add { member, .. }
            | Change::Update { member, .. }
            | Change::Remove { member, .. } => member,
        }
    }

    /// One line for people: `+ Prod-DB ops-admins [listAccounts, ...]`.
    pub fn describe(&self) -> String {
        let list = |p: &BTreeSet<String>| p.iter().cloned().collect::<Vec<_>>().join(", ");
        match self {
            Change::Add {
                safe,
                member,
                permissions,
            } => format!("+ {safe}: add group {member} with [{}]", list(permissions)),
            Change::Update {
                safe,
                member,
                from,
                to,
            } => {
                let added: BTreeSet<_> = to.difference(from).cloned().collect();
                let removed: BTreeSet<_> = from.difference(to).cloned().collect();
                format!(
                    "~ {safe}: {member}: grant [{}], revoke [{}]",
                    list(&added),
                    list(&removed)
                )
            }
            Change::Remove {
                safe,
                member,
                managed,
                ..
            } => {
                let why = if *managed {
                    "no grant calls for it"
                } else {
                    "not managed by arkbridge, removed because of --prune"
                };
                format!("- {safe}: remove {member} ({why})")
            }
        }
    }
}

/// A member that differs from the grants but is deliberately not changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftAlone {
    pub safe: String,
    pub member: String,
    pub why: String,
}

/// The changes that make CyberArk match the grants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub left_alone: Vec<LeftAlone>,
}

impl Plan {
    /// No change is needed (members left alone do not count as drift).
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The members the grants call for: every grant with a `group` makes that group a member of each
/// of its safes with the permissions its access level maps to (the union when several grants
/// name the same group and safe). Grants that name only a Confluence role cannot be expressed as
/// CyberArk safe members; their subjects are returned second, to be reported.
pub fn desired_members(
    grants: &[Grant],
    settings: &PolicySettings,
) -> (Vec<DesiredMember>, Vec<String>) {
    let mut out: Vec<DesiredMember> = Vec::new();
    let mut role_only = Vec::new();
    for g in grants {
        let Some(group) = &g.group else {
            role_only.push(g.subject());
            continue;
        };
        for (safe, access) in &g.safes {
            let perms = settings.permissions_for(*access).iter().cloned();
            match out
                .iter_mut()
                .find(|d| same(&d.safe, safe) && d.member == *group)
            {
                Some(d) => d.permissions.extend(perms),
                None => out.push(DesiredMember {
                    safe: safe.clone(),
                    member: group.clone(),
                    permissions: perms.collect(),
                }),
            }
        }
    }
    (out, role_only)
}

/// Plans the changes for the safes in `current` (safe name → its members). `managed` holds the
/// `(safe, member)` pairs arkbridge added earlier (compared ignoring case). Members named in
/// `protected` (the bridge's own AppID and PVWA user) are never touched. A desired member of a
/// safe missing from `current` is planned as an add.
pub fn plan(
    desired: &[DesiredMember],
    current: &[(String, Vec<CurrentMember>)],
    managed: &BTreeSet<(String, String)>,
    protected: &[String],
    prune: bool,
) -> Plan {
    let is_managed = |safe: &str, member: &str| {
        managed
            .iter()
            .any(|(s, m)| same(s, safe) && same(m, member))
    };
    let members_of = |safe: &str| {
        current
            .iter()
            .find(|(s, _)| same(s, safe))
            .map(|(_, m)| m.as_slice())
            .unwrap_or(&[])
    };
    let mut out = Plan::default();
    for d in desired {
        match members_of(&d.safe)
            .iter()
            .find(|m| same(&m.member, &d.member))
        {
            None => out.changes.push(Change::Add {
                safe: d.safe.clone(),
                member: d.member.clone(),
                permissions: d.permissions.clone(),
            }),
            Some(m) if m.is_predefined => out.left_alone.push(LeftAlone {
                safe: d.safe.clone(),
                member: m.member.clone(),
                why: "a predefined member is never changed".into(),
            }),
            Some(m) if m.permissions != d.permissions => out.changes.push(Change::Update {
                safe: d.safe.clone(),
                member: m.member.clone(),
                from: m.permissions.clone(),
                to: d.permissions.clone(),
            }),
            Some(_) => {}
        }
    }
    for (safe, members) in current {
        for m in members {
            let wanted = desired
                .iter()
                .any(|d| same(&d.safe, safe) && same(&d.member, &m.member));
            if wanted || m.is_predefined || protected.iter().any(|p| same(p, &m.member)) {
                continue;
            }
            let managed = is_managed(safe, &m.member);
            if managed || prune {
                out.changes.push(Change::Remove {
                    safe: safe.clone(),
                    member: m.member.clone(),
                    permissions: m.permissions.clone(),
                    managed,
                });
            } else {
                out.left_alone.push(LeftAlone {
                    safe: safe.clone(),
                    member: m.member.clone(),
                    why: "not managed by arkbridge and no grant calls for it (--prune removes it)"
                        .into(),
                });
            }
        }
    }
    let key = |safe: &str, member: &str| (safe.to_ascii_lowercase(), member.to_ascii_lowercase());
    out.changes.sort_by_key(|c| key(c.safe(), c.member()));
    out.left_alone.sort_by_key(|l| key(&l.safe, &l.member));
    out
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
