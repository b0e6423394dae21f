//! Grants and access decisions.
//!
//! A grant (in the administrator's config, never on a page) gives a *subject* the use of some
//! Confluence spaces with some CyberArk safes, each at an access level. A subject is an
//! identity-provider group, a Confluence role in the space ("can edit pages in OPS"), or both
//! together. Whether a run is allowed is decided by [`decide`] from facts gathered elsewhere
//! (the verified user, Confluence's answer to "may this user view the page", CyberArk's safe
//! members, the approvals in the store); the decision lists every rule with its outcome and
//! reason, so it can be explained and audited.
//!
//! This module does no I/O: the engine gathers the facts, the policy decides.

mod decide;
mod facts;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::runbook::Mode;

pub use decide::{Decision, Rule, RuleOutcome, SafeCheck, decide};
pub use facts::{Approval, ApprovalFacts, Facts, PageFacts, SafeMember, SafeMembers, UserFacts};

/// The level of use a grant allows on a safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Read-only runbooks.
    Read,
    /// Runbooks that change things.
    Write,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }

    /// The access a runbook of this mode needs.
    pub fn needed_for(mode: Mode) -> Access {
        match mode {
            Mode::Read => Access::Read,
            Mode::Write => Access::Write,
        }
    }
}

/// A user's role in a Confluence space, from the space permissions: `view` (read the space),
/// `edit` (create and edit pages), `admin` (administer the space). Each includes the ones before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpaceRole {
    View,
    Edit,
    Admin,
}

impl SpaceRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SpaceRole::View => "view",
            SpaceRole::Edit => "edit",
            SpaceRole::Admin => "admin",
        }
    }
}

/// One row of the admin's mapping: subject → spaces × safes.
///
/// The subject is `group`, `confluence_role`, or both (then both must hold). A grant with
/// neither is refused when the config is loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// An identity-provider group (OIDC groups claim or LDAP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The least role the user must hold in the page's space, read from Confluence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confluence_role: Option<SpaceRole>,
    pub spaces: Vec<String>,
    pub safes: BTreeMap<String, Access>,
}

impl Grant {
    /// A grant to the members of an identity-provider group.
    pub fn to_group(group: &str, spaces: &[&str], safes: &[(&str, Access)]) -> Grant {
        Grant {
            group: Some(group.to_string()),
            confluence_role: None,
            spaces: spaces.iter().map(|s| s.to_string()).collect(),
            safes: safes.iter().map(|(s, a)| (s.to_string(), *a)).collect(),
        }
    }

    /// Who the grant is for, in words: `group platform-admins`, `edit role in the space`, or both.
    pub fn subject(&self) -> String {
        match (&self.group, self.confluence_role) {
            (Some(g), Some(r)) => format!("group {g} with the {} role", r.as_str()),
            (Some(g), None) => format!("group {g}"),
            (None, Some(r)) => format!("the {} role", r.as_str()),
            (None, None) => "nobody".to_string(),
        }
    }

    /// Whether the grant's subject covers a user with these groups and this role in the space.
    /// Group names compare exactly, as identity providers hand them out.
    pub fn applies_to(&self, groups: &[String], role: Option<SpaceRole>) -> bool {
        let group_ok = self
            .group
            .as_ref()
            .is_none_or(|g| groups.iter().any(|m| m == g));
        let role_ok = self
            .confluence_role
            .is_none_or(|needed| role.is_some_and(|held| held >= needed));
        (self.group.is_some() || self.confluence_role.is_some()) && group_ok && role_ok
    }

    /// Whether the grant covers `space` (exact, as Confluence space keys are).
    pub fn covers_space(&self, space: &str) -> bool {
        self.spaces.iter().any(|s| s == space)
    }

    /// The access it gives on `safe` (safe names compare ignoring case, as in CyberArk).
    pub fn access_on(&self, safe: &str) -> Option<Access> {
        self.safes
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(safe))
            .map(|(_, a)| *a)
            .max()
    }
}

/// The best access the grants give a user (groups + role in `space`) on `safe` from `space`,
/// with the grant that gives it.
pub fn best_access<'g>(
    grants: &'g [Grant],
    groups: &[String],
    role: Option<SpaceRole>,
    space: &str,
    safe: &str,
) -> Option<(Access, &'g Grant)> {
    grants
        .iter()
        .filter(|g| g.applies_to(groups, role) && g.covers_space(space))
        .filter_map(|g| g.access_on(safe).map(|a| (a, g)))
        .max_by_key(|(a, _)| *a)
}

/// A PVWA user of its own for `policy apply`, which needs *Manage Safe members*: the bridge's
/// rotation user should not hold that.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PvwaCredential {
    pub username: String,
    pub password: crate::config::ConfigSecret,
}

/// How the policy is applied: the `[policy]` section of the config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    /// Rule 4: one of the user's groups must be a member of each bound safe in CyberArk with at
    /// least the permissions its access level maps to.
    #[serde(default = "yes")]
    pub require_safe_membership: bool,
    /// Groups whose members may approve `write` blocks. Empty: nobody can, so `write` blocks
    /// never run (fail closed).
    #[serde(default)]
    pub approver_groups: Vec<String>,
    /// CyberArk safe-member permissions that `read` access maps to. Default: the predefined
    /// "Read only" set (`listAccounts`, `useAccounts`, `retrieveAccounts`).
    #[serde(default = "read_only_set")]
    pub read_permissions: Vec<String>,
    /// Permissions that `write` access maps to. Default: "Read only" plus
    /// `initiateCPMAccountManagementOperations`, because a write run's credential is rotated
    /// through the CPM afterwards; nothing more (least privilege: not "Accounts manager").
    #[serde(default = "write_set")]
    pub write_permissions: Vec<String>,
    /// Where CyberArk finds the identity-provider groups `policy apply` adds as safe members
    /// (the `searchIn` of Add Safe Member: a directory name such as `example.com`, or `Vault`).
    #[serde(default = "vault")]
    pub member_directory: String,
    /// The PVWA user `policy apply` logs on as (same logon method as `[cyberark.pvwa]`). Unset:
    /// the bridge's own PVWA user, which then needs *Manage Safe members*.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_as: Option<PvwaCredential>,
    /// With OIDC groups from the token (no directory to ask), a block's last editor is known
    /// through their own latest sign-in to arkbridge: what their verified token said, if it is
    /// at most this many hours old. Older than that, the last editor is unknown and a `write`
    /// run is denied until they sign in again or someone else saves the block.
    #[serde(default = "day")]
    pub principal_max_age_hours: u64,
    /// Rule 4 while the PVWA is unavailable (the read-only fallback's case): the safe members as
    /// the PVWA last listed them are used if they were read at most this many seconds ago;
    /// older, rule 4 denies. 0 turns the snapshot off.
    #[serde(default = "four_hours")]
    pub members_snapshot_max_age_secs: u64,
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            require_safe_membership: true,
            approver_groups: Vec::new(),
            read_permissions: read_only_set(),
            write_permissions: write_set(),
            member_directory: vault(),
            apply_as: None,
            principal_max_age_hours: day(),
            members_snapshot_max_age_secs: four_hours(),
        }
    }
}

fn day() -> u64 {
    24
}

fn four_hours() -> u64 {
    4 * 3600
}

impl PolicySettings {
    /// The safe-member permissions an access level maps to.
    pub fn permissions_for(&self, access: Access) -> &[String] {
        match access {
            Access::Read => &self.read_permissions,
            Access::Write => &self.write_permissions,
        }
    }
}

fn yes() -> bool {
    true
}

fn vault() -> String {
    "Vault".into()
}

fn read_only_set() -> Vec<String> {
    ["listAccounts", "useAccounts", "retrieveAccounts"]
        .map(String::from)
        .to_vec()
}

fn write_set() -> Vec<String> {
    let mut v = read_only_set();
    v.push("initiateCPMAccountManagementOperations".into());
    v
}

#[cfg(test)]
mod tests;
