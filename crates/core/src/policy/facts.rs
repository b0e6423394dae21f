//! The facts a decision is made from, gathered by the engine from the identity provider,
//! Confluence, CyberArk and the store. Anything the engine could not learn is `None` (or
//! [`SafeMembers::Unavailable`]), and the rule that needs it fails closed.

use std::collections::BTreeSet;

use serde::Serialize;

use super::SpaceRole;
use crate::runbook::Runbook;

/// A user as verified by an identity source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserFacts {
    /// How the user is named in reasons and the audit log (an email, or an account id).
    pub id: String,
    /// What verified the identity (`forge`, `oidc`, `local-trusted`, ...); `None`: nothing did.
    pub verified_by: Option<String>,
    /// Identity-provider groups.
    pub groups: Vec<String>,
    /// The user's role in the page's space, from Confluence; `None`: none, or unknown.
    pub space_role: Option<SpaceRole>,
}

/// The page the block is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageFacts {
    pub id: String,
    pub version: u64,
    /// The space key.
    pub space: String,
    /// Confluence's answer to "may this user view the page" (`permission/check`); `None`: the
    /// question could not be asked, which denies.
    pub user_can_view: Option<bool>,
}

/// One member of a CyberArk safe with its permissions (camelCase keys as the PVWA returns
/// them, only the true ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SafeMember {
    pub name: String,
    pub is_group: bool,
    pub permissions: BTreeSet<String>,
}

/// The members of the bound safes, as read through the PVWA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum SafeMembers {
    /// Safe name → members. Safe names compare ignoring case.
    Known(Vec<(String, Vec<SafeMember>)>),
    /// They could not be read (PVWA down, refused): rule 4 fails closed with this reason.
    Unavailable(String),
    /// The PVWA was unavailable, and these are the members as it last listed them, recently
    /// enough for `policy.members_snapshot_max_age_secs`; `note` says when, for the reasons.
    Snapshot {
        safes: Vec<(String, Vec<SafeMember>)>,
        note: String,
    },
}

impl SafeMembers {
    /// The members of `safe`, if that safe was read.
    pub fn of(&self, safe: &str) -> Option<&[SafeMember]> {
        match self {
            SafeMembers::Known(safes) | SafeMembers::Snapshot { safes, .. } => safes
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(safe))
                .map(|(_, m)| m.as_slice()),
            SafeMembers::Unavailable(_) => None,
        }
    }
}

/// An approval of one exact script, as recorded by `arkbridge approve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approval {
    pub approver: String,
    /// The approver's groups as the identity source resolves them *now* (a member who left the
    /// approver group no longer counts).
    pub approver_groups: Vec<String>,
    /// SHA-256 (hex) of the block's text that was approved.
    pub script_sha256: String,
    /// The page version it was approved on (for the record; the hash is what binds).
    pub page_version: u64,
}

/// What rule 5 needs for a `write` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalFacts {
    /// Every approval recorded for this page and block, whatever script it was for.
    pub approvals: Vec<Approval>,
    /// The user who last changed the block's text; `None`: it could not be determined, which
    /// denies.
    pub last_editor: Option<UserFacts>,
}

/// Everything one decision looks at.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub user: &'a UserFacts,
    pub page: &'a PageFacts,
    pub runbook: &'a Runbook,
    /// SHA-256 (hex) of the block's text as it is now.
    pub script_sha256: &'a str,
    /// Required when the settings require safe membership.
    pub safe_members: Option<&'a SafeMembers>,
    /// Required for `write` blocks.
    pub approval: Option<&'a ApprovalFacts>,
}
