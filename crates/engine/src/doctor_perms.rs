//! What the bridge's own CyberArk identities need on each safe, and nothing more: the one place
//! that says so. `arkbridge doctor` grades the safe memberships it reads against these sets, and
//! the README's `doctor` section describes them.
//!
//! The **AppID** (and the CCP's Provider user) needs *List accounts* and *Retrieve accounts* on
//! every safe the bridge reads from. The bridge's **PVWA user** (`[cyberark.pvwa]`, the rotation
//! user) needs, per safe:
//!
//! * on a safe whose rotation is `after-run` or `checkin`: *List accounts* (to find the account
//!   before anything is fetched) and *Initiate CPM account management operations* (`Change`,
//!   `CheckIn`);
//! * on a safe a grant names, with `[policy] require_safe_membership` (rule 4, the default):
//!   *View Safe members*;
//! * on a safe a grant names, when `policy apply` logs on as this same user (no `[policy]
//!   apply_as`, or one naming the same user): *View Safe members* and *Manage Safe members*.
//!
//! Anything else it holds is more than it needs. Extra permissions that expose no secret and
//! change nothing on their own ([`LOW_RISK`]) are reported but not warned about; every other
//! extra one (retrieving or changing secrets, managing the safe or its members, deleting
//! accounts, bypassing dual control ...) is a warning.

use std::collections::BTreeSet;

use arkbridge_core::config::{Config, Rotation};
use arkbridge_cyberark::Permissions;

/// What the AppID needs on a safe it reads from.
pub(crate) const APP_ID_NEEDS: &[&str] = &["listAccounts", "retrieveAccounts"];
/// What rotating an account after a run needs.
pub(crate) const ROTATION_NEEDS: &[&str] =
    &["listAccounts", "initiateCPMAccountManagementOperations"];
/// What rule 4 (safe membership) needs: reading the safe's members.
pub(crate) const MEMBERSHIP_RULE_NEEDS: &[&str] = &["viewSafeMembers"];
/// What `policy plan` and `policy apply` need from the user they log on as.
pub(crate) const POLICY_APPLY_NEEDS: &[&str] = &["viewSafeMembers", "manageSafeMembers"];
/// Extra permissions that neither expose a secret nor change the safe or its members on their
/// own: listing accounts and members, reading the safe's audit, and asking the CPM to do what
/// the account's platform policy would do anyway.
pub(crate) const LOW_RISK: &[&str] = &[
    "listAccounts",
    "viewSafeMembers",
    "viewAuditLog",
    "initiateCPMAccountManagementOperations",
];

/// What the PVWA user needs on one safe, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Need {
    pub(crate) keys: BTreeSet<&'static str>,
    pub(crate) reasons: Vec<String>,
}

impl Need {
    /// True when the PVWA user needs no membership of the safe at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The needed keys, comma-separated in the documented order.
    pub(crate) fn list(&self) -> String {
        in_documented_order(&self.keys).join(", ")
    }
}

/// True when `policy apply` logs on as the bridge's own PVWA user.
pub(crate) fn apply_uses_pvwa_user(config: &Config) -> bool {
    config.policy.apply_as.as_ref().is_none_or(|a| {
        a.username
            .eq_ignore_ascii_case(&config.cyberark.pvwa.username)
    })
}

/// True when a grant names the safe (ignoring case, as CyberArk does).
pub(crate) fn is_granted(config: &Config, safe: &str) -> bool {
    config.grants.iter().any(|g| g.access_on(safe).is_some())
}

/// What the bridge's PVWA user needs on `safe` under this config.
pub(crate) fn pvwa_user_needs(config: &Config, safe: &str) -> Need {
    let mut keys = BTreeSet::new();
    let mut reasons = Vec::new();
    let rotation = config.rotation_for(safe);
    if rotation != Rotation::None {
        keys.extend(ROTATION_NEEDS);
        reasons.push(format!("rotation `{}`", rotation.as_str()));
    }
    if is_granted(config, safe) {
        if config.policy.require_safe_membership {
            keys.extend(MEMBERSHIP_RULE_NEEDS);
            reasons.push("rule 4 reads its members".to_string());
        }
        if apply_uses_pvwa_user(config) {
            keys.extend(POLICY_APPLY_NEEDS);
            reasons.push("`policy apply` logs on as this user (no [policy] apply_as)".to_string());
        }
    }
    Need { keys, reasons }
}

/// The safes the config names: in grants and in `[safes]`, once each (ignoring case), sorted.
pub(crate) fn configured_safes(config: &Config) -> Vec<String> {
    let mut safes: Vec<String> = Vec::new();
    let named = config
        .grants
        .iter()
        .flat_map(|g| g.safes.keys())
        .chain(config.safes.keys());
    for safe in named {
        if !safes.iter().any(|s| s.eq_ignore_ascii_case(safe)) {
            safes.push(safe.clone());
        }
    }
    safes.sort_by_key(|s| s.to_ascii_lowercase());
    safes
}

/// How a membership compares with what is needed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Grade {
    /// Needed and not held.
    pub(crate) missing: Vec<&'static str>,
    /// Held, not needed, and able to expose or change something.
    pub(crate) risky_extra: Vec<&'static str>,
    /// Held, not needed, but [`LOW_RISK`].
    pub(crate) harmless_extra: Vec<&'static str>,
}

/// Compares what a member holds with what it needs.
pub(crate) fn grade(needed: &BTreeSet<&'static str>, held: &Permissions) -> Grade {
    let mut out = Grade::default();
    for (key, on) in held.iter() {
        match (needed.contains(key), on) {
            (true, false) => out.missing.push(key),
            (false, true) if LOW_RISK.contains(&key) => out.harmless_extra.push(key),
            (false, true) => out.risky_extra.push(key),
            _ => {}
        }
    }
    out
}

/// The keys among `wanted` that `held` lacks.
pub(crate) fn lacking(wanted: &[&'static str], held: &Permissions) -> Vec<&'static str> {
    held.iter()
        .filter(|(k, on)| !on && wanted.contains(k))
        .map(|(k, _)| k)
        .collect()
}

fn in_documented_order(keys: &BTreeSet<&'static str>) -> Vec<&'static str> {
    Permissions::KEYS
        .iter()
        .copied()
        .filter(|k| keys.contains(k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
[safes.Integrations]
rotation = "none"
[[grants]]
group = "platform-admins"
spaces = ["OPS"]
safes = { Prod-DB = "write", Prod-DB-RO = "read", prod-db = "read" }
"#;

    fn config(extra: &str) -> Config {
        Config::parse(&format!("{CONFIG}{extra}")).unwrap()
    }

    fn keys(k: &[&'static str]) -> BTreeSet<&'static str> {
        k.iter().copied().collect()
    }

    const APPLY_AS: &str = "[policy.apply_as]\nusername = \"arkbridge-safe-admin\"\npassword = \"cyberark://Integrations/admin\"\n";

    #[test]
    fn safes_are_listed_once_ignoring_case_and_sorted() {
        assert_eq!(
            configured_safes(&config("")),
            ["Integrations", "Prod-DB", "Prod-DB-RO"]
        );
    }

    #[test]
    fn a_rotating_granted_safe_needs_rotation_and_member_reading() {
        let c = config(APPLY_AS);
        let need = pvwa_user_needs(&c, "prod-db");
        assert_eq!(
            need.keys,
            keys(&[
                "listAccounts",
                "initiateCPMAccountManagementOperations",
                "viewSafeMembers"
            ])
        );
        assert_eq!(
            need.list(),
            "listAccounts, initiateCPMAccountManagementOperations, viewSafeMembers"
        );
        assert_eq!(
            pvwa_user_needs(&c, "Prod-DB-RO").keys,
            keys(&["viewSafeMembers"])
        );
        assert!(pvwa_user_needs(&c, "Integrations").is_empty());
    }

    #[test]
    fn without_apply_as_the_pvwa_user_also_manages_members_of_granted_safes() {
        let c = config("");
        assert!(apply_uses_pvwa_user(&c));
        assert_eq!(
            pvwa_user_needs(&c, "Prod-DB-RO").keys,
            keys(&["viewSafeMembers", "manageSafeMembers"])
        );
        let same = config(&APPLY_AS.replace("arkbridge-safe-admin", "ARKBRIDGE-SVC"));
        assert!(apply_uses_pvwa_user(&same));
        assert!(!apply_uses_pvwa_user(&config(APPLY_AS)));
    }

    #[test]
    fn rule_4_off_drops_member_reading() {
        let c = config(&format!(
            "[policy]\nrequire_safe_membership = false\n{APPLY_AS}"
        ));
        assert!(pvwa_user_needs(&c, "Prod-DB-RO").is_empty());
        assert_eq!(pvwa_user_needs(&c, "Prod-DB").keys, keys(ROTATION_NEEDS));
    }

    #[test]
    fn grading_separates_missing_risky_and_harmless() {
        let needed = keys(&["listAccounts", "initiateCPMAccountManagementOperations"]);
        let mut held = Permissions::none();
        held.list_accounts = true;
        held.view_audit_log = true;
        held.manage_safe = true;
        held.delete_accounts = true;
        let g = grade(&needed, &held);
        assert_eq!(g.missing, ["initiateCPMAccountManagementOperations"]);
        assert_eq!(g.risky_extra, ["deleteAccounts", "manageSafe"]);
        assert_eq!(g.harmless_extra, ["viewAuditLog"]);
        let exact = grade(
            &keys(&["useAccounts", "retrieveAccounts", "listAccounts"]),
            &Permissions::read_only(),
        );
        assert_eq!(exact, Grade::default());
    }

    #[test]
    fn lacking_names_what_the_app_id_misses() {
        assert_eq!(
            lacking(APP_ID_NEEDS, &Permissions::connect_only()),
            ["retrieveAccounts"]
        );
        assert!(lacking(APP_ID_NEEDS, &Permissions::full()).is_empty());
    }
}
