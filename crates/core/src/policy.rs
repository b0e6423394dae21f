//! Grants and access decisions.
//!
//! A grant gives the members of one identity-provider group the use of some Confluence spaces with
//! some CyberArk safes, each at an access level. A runbook in a space may use a safe only when one
//! of the caller's groups holds a grant naming both, at the level the runbook's mode needs. Every
//! decision carries the reasons that led to it, so that it can be explained and audited.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::runbook::{Mode, Runbook};
use crate::secret_ref::SecretRef;

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

/// One row of the admin's mapping: group → spaces × safes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub group: String,
    pub spaces: Vec<String>,
    pub safes: BTreeMap<String, Access>,
}

/// The best access any of `groups` holds on `safe` from `space`. Safe names compare ignoring
/// case, as in CyberArk; space keys exactly, as in Confluence.
pub fn best_access(grants: &[Grant], groups: &[String], space: &str, safe: &str) -> Option<Access> {
    grants
        .iter()
        .filter(|g| groups.iter().any(|m| m == &g.group))
        .filter(|g| g.spaces.iter().any(|s| s == space))
        .flat_map(|g| g.safes.iter())
        .filter(|(name, _)| name.eq_ignore_ascii_case(safe))
        .map(|(_, access)| *access)
        .max()
}

/// What a decision says about one secret reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindingDecision {
    pub variable: String,
    pub reference: SecretRef,
    pub needed: Access,
    pub held: Option<Access>,
    pub allowed: bool,
}

/// The outcome of a policy check, with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    pub user: String,
    pub groups: Vec<String>,
    pub space: String,
    pub bindings: Vec<BindingDecision>,
    /// One sentence per fact that mattered, in order.
    pub reasons: Vec<String>,
}

impl Decision {
    /// The reasons as one line, for error messages and comments.
    pub fn explain(&self) -> String {
        self.reasons.join("; ")
    }
}

/// Decides whether `user` (member of `groups`) may run `runbook` found on a page of `space`.
///
/// Each primary binding needs the access of the runbook's mode on its safe. A fallback binding is
/// only ever used read-only, so it needs `read` on its safe. The decision is allowed only when
/// every binding is.
pub fn decide(
    grants: &[Grant],
    user: &str,
    groups: &[String],
    space: &str,
    runbook: &Runbook,
) -> Decision {
    let needed = Access::needed_for(runbook.mode);
    let mut reasons = Vec::new();
    if groups.is_empty() {
        reasons.push(format!("{user} is in no identity-provider group"));
    } else {
        reasons.push(format!("{user} is in groups [{}]", groups.join(", ")));
    }
    let mut bindings = Vec::new();
    for b in &runbook.bindings {
        let mut check = |reference: &SecretRef, needed: Access| {
            let held = best_access(grants, groups, space, &reference.safe);
            let allowed = held.is_some_and(|h| h >= needed);
            reasons.push(match held {
                Some(h) if allowed => format!(
                    "{}: a grant allows {} on safe {} from space {space} (needs {})",
                    b.variable,
                    h.as_str(),
                    reference.safe,
                    needed.as_str()
                ),
                Some(h) => format!(
                    "{}: grants allow only {} on safe {} from space {space}, the runbook needs {}",
                    b.variable,
                    h.as_str(),
                    reference.safe,
                    needed.as_str()
                ),
                None => format!(
                    "{}: no grant of these groups binds space {space} to safe {}",
                    b.variable, reference.safe
                ),
            });
            bindings.push(BindingDecision {
                variable: b.variable.clone(),
                reference: reference.clone(),
                needed,
                held,
                allowed,
            });
        };
        check(&b.reference, needed);
        if let Some(fb) = &b.fallback {
            check(fb, Access::Read);
        }
    }
    let allowed = !bindings.is_empty() && bindings.iter().all(|b| b.allowed)
        || runbook.bindings.is_empty()
            && !groups.is_empty()
            && grants
                .iter()
                .any(|g| groups.contains(&g.group) && g.spaces.iter().any(|s| s == space));
    if runbook.bindings.is_empty() {
        reasons.push(if allowed {
            format!("the runbook binds no secret and a grant covers space {space}")
        } else {
            format!("no grant of these groups covers space {space}")
        });
    }
    Decision {
        allowed,
        user: user.to_string(),
        groups: groups.to_vec(),
        space: space.to_string(),
        bindings,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runbook::parse_script;

    fn grants() -> Vec<Grant> {
        vec![
            Grant {
                group: "platform-admins".into(),
                spaces: vec!["OPS".into()],
                safes: [
                    ("Prod-DB".into(), Access::Write),
                    ("Prod-DB-RO".into(), Access::Read),
                ]
                .into(),
            },
            Grant {
                group: "developers".into(),
                spaces: vec!["OPS".into()],
                safes: [("Prod-DB-RO".into(), Access::Read)].into(),
            },
        ]
    }

    fn runbook(mode: &str, fallback: bool) -> Runbook {
        let mut script = format!(
            "# arkbridge: mode {mode}\n# arkbridge: secret DB cyberark://Prod-DB/payments-db\n"
        );
        if fallback {
            script.push_str("# arkbridge: fallback DB cyberark://Prod-DB-RO/payments-db-ro\n");
        }
        script.push_str("echo hi\n");
        parse_script("restart", Some("bash"), &script).unwrap()
    }

    fn groups(g: &[&str]) -> Vec<String> {
        g.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn admin_may_run_write_runbook() {
        let d = decide(
            &grants(),
            "alice",
            &groups(&["platform-admins"]),
            "OPS",
            &runbook("write", false),
        );
        assert!(d.allowed, "{}", d.explain());
    }

    #[test]
    fn developer_is_denied_write_with_a_reason() {
        let d = decide(
            &grants(),
            "bob",
            &groups(&["developers"]),
            "OPS",
            &runbook("write", false),
        );
        assert!(!d.allowed);
        assert!(
            d.explain()
                .contains("no grant of these groups binds space OPS to safe Prod-DB"),
            "{}",
            d.explain()
        );
    }

    #[test]
    fn developer_may_not_read_primary_safe_even_with_fallback() {
        let d = decide(
            &grants(),
            "bob",
            &groups(&["developers"]),
            "OPS",
            &runbook("read", true),
        );
        assert!(!d.allowed);
    }

    #[test]
    fn other_space_is_denied() {
        let d = decide(
            &grants(),
            "alice",
            &groups(&["platform-admins"]),
            "DEV",
            &runbook("read", false),
        );
        assert!(!d.allowed);
    }

    #[test]
    fn read_grant_does_not_allow_write() {
        let g = vec![Grant {
            group: "g".into(),
            spaces: vec!["OPS".into()],
            safes: [("Prod-DB".into(), Access::Read)].into(),
        }];
        let d = decide(&g, "x", &groups(&["g"]), "OPS", &runbook("write", false));
        assert!(!d.allowed);
        assert!(d.explain().contains("allow only read"), "{}", d.explain());
    }
}
