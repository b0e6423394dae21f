//! The decision: five rules, each with its outcome and reason, all of which must pass.
//!
//! 1. The user is verified.
//! 2. The user may view the page.
//! 3. A grant covers the page's space and every bound safe at the block's mode (a fallback
//!    binding is only ever used read-only, so it needs `read`).
//! 4. With `require_safe_membership`, one of the user's groups is a member of each bound safe in
//!    CyberArk with at least the permissions the access level maps to.
//! 5. A `write` block's exact script is approved by a member of an approver group who is not its
//!    last editor, and that last editor holds the grant too (so a low-privilege editor cannot
//!    plant code for a high-privilege user to run).
//!
//! Every rule is evaluated even after one fails, so an explanation names all that is missing.

use serde::Serialize;

use super::facts::{ApprovalFacts, Facts, SafeMembers, UserFacts};
use super::{Access, Grant, PolicySettings, best_access};
use crate::runbook::Mode;
use crate::secret_ref::SecretRef;

/// The rules, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    Verified,
    ViewPage,
    Grant,
    SafeMembership,
    Approval,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Verified => "verified",
            Rule::ViewPage => "view-page",
            Rule::Grant => "grant",
            Rule::SafeMembership => "safe-membership",
            Rule::Approval => "approval",
        }
    }
}

/// One rule's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleOutcome {
    pub rule: Rule,
    pub passed: bool,
    /// One sentence per fact that mattered.
    pub reasons: Vec<String>,
}

/// What the decision says about one secret reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SafeCheck {
    pub variable: String,
    pub reference: SecretRef,
    pub needed: Access,
    /// The best access the user's grants give on the safe, and the grant's subject.
    pub held: Option<Access>,
    pub granted_to: Option<String>,
    pub allowed: bool,
}

/// The outcome of a policy check, with every rule and its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    pub user: String,
    pub groups: Vec<String>,
    pub space: String,
    pub page_id: String,
    pub block: String,
    pub mode: Mode,
    pub rules: Vec<RuleOutcome>,
    pub bindings: Vec<SafeCheck>,
    /// Who last changed the block's text, for `write` blocks when it could be determined.
    pub last_editor: Option<String>,
}

impl Decision {
    /// Every reason, rule by rule, in order.
    pub fn reasons(&self) -> Vec<String> {
        self.rules
            .iter()
            .flat_map(|r| {
                let mark = if r.passed { "ok" } else { "DENIED" };
                r.reasons
                    .iter()
                    .map(move |s| format!("[{} {mark}] {s}", r.rule.as_str()))
            })
            .collect()
    }

    /// The reasons of the rules that failed, as one line, for error messages and comments;
    /// every reason when nothing failed.
    pub fn explain(&self) -> String {
        let failed: Vec<&str> = self
            .rules
            .iter()
            .filter(|r| !r.passed)
            .flat_map(|r| r.reasons.iter().map(String::as_str))
            .collect();
        if failed.is_empty() {
            self.reasons().join("; ")
        } else {
            failed.join("; ")
        }
    }
}

/// The bindings a block needs, as (variable, reference, access needed).
fn needs(facts: &Facts<'_>) -> Vec<(String, SecretRef, Access)> {
    let needed = Access::needed_for(facts.runbook.mode);
    let mut out = Vec::new();
    for b in &facts.runbook.bindings {
        out.push((b.variable.clone(), b.reference.clone(), needed));
        if let Some(fb) = &b.fallback {
            out.push((
                format!("{} (fallback)", b.variable),
                fb.clone(),
                Access::Read,
            ));
        }
    }
    out
}

/// Decides whether the user may run the block, with the reasons.
pub fn decide(grants: &[Grant], settings: &PolicySettings, facts: &Facts<'_>) -> Decision {
    let needs = needs(facts);
    let (grant_rule, bindings) = rule_grant(grants, facts, &needs);
    let rules = vec![
        rule_verified(facts.user),
        rule_view(facts),
        grant_rule,
        rule_membership(settings, facts, &needs),
        rule_approval(grants, settings, facts, &needs),
    ];
    Decision {
        allowed: rules.iter().all(|r| r.passed),
        user: facts.user.id.clone(),
        groups: facts.user.groups.clone(),
        space: facts.page.space.clone(),
        page_id: facts.page.id.clone(),
        block: facts.runbook.name.clone(),
        mode: facts.runbook.mode,
        rules,
        bindings,
        last_editor: facts
            .approval
            .and_then(|a| a.last_editor.as_ref())
            .map(|e| e.id.clone()),
    }
}

fn outcome(rule: Rule, passed: bool, reasons: Vec<String>) -> RuleOutcome {
    RuleOutcome {
        rule,
        passed,
        reasons,
    }
}

fn rule_verified(user: &UserFacts) -> RuleOutcome {
    match &user.verified_by {
        Some(by) => outcome(
            Rule::Verified,
            true,
            vec![format!("{} was verified by {by}", user.id)],
        ),
        None => outcome(
            Rule::Verified,
            false,
            vec![format!("{} is not a verified user", user.id)],
        ),
    }
}

fn rule_view(facts: &Facts<'_>) -> RuleOutcome {
    let (user, page) = (&facts.user.id, facts.page);
    match page.user_can_view {
        Some(true) => outcome(
            Rule::ViewPage,
            true,
            vec![format!("{user} may view page {}", page.id)],
        ),
        Some(false) => outcome(
            Rule::ViewPage,
            false,
            vec![format!("{user} may not view page {}", page.id)],
        ),
        None => outcome(
            Rule::ViewPage,
            false,
            vec![format!(
                "Confluence could not confirm that {user} may view page {}",
                page.id
            )],
        ),
    }
}

/// Rule 3 for any user (the requester, or the block's last editor in rule 5).
fn grant_checks(
    grants: &[Grant],
    user: &UserFacts,
    space: &str,
    needs: &[(String, SecretRef, Access)],
) -> Vec<SafeCheck> {
    needs
        .iter()
        .map(|(variable, reference, needed)| {
            let best = best_access(
                grants,
                &user.groups,
                user.space_role,
                space,
                &reference.safe,
            );
            SafeCheck {
                variable: variable.clone(),
                reference: reference.clone(),
                needed: *needed,
                held: best.map(|(a, _)| a),
                granted_to: best.map(|(_, g)| g.subject()),
                allowed: best.is_some_and(|(a, _)| a >= *needed),
            }
        })
        .collect()
}

fn covers_space(grants: &[Grant], user: &UserFacts, space: &str) -> bool {
    grants
        .iter()
        .any(|g| g.applies_to(&user.groups, user.space_role) && g.covers_space(space))
}

fn rule_grant(
    grants: &[Grant],
    facts: &Facts<'_>,
    needs: &[(String, SecretRef, Access)],
) -> (RuleOutcome, Vec<SafeCheck>) {
    let space = &facts.page.space;
    let checks = grant_checks(grants, facts.user, space, needs);
    let mut reasons = vec![describe_user(facts.user)];
    for c in &checks {
        let safe = &c.reference.safe;
        reasons.push(match (c.held, &c.granted_to) {
            (Some(h), Some(to)) if c.allowed => format!(
                "{}: the grant to {to} allows {} on safe {safe} from space {space} (needs {})",
                c.variable,
                h.as_str(),
                c.needed.as_str()
            ),
            (Some(h), _) => format!(
                "{}: grants allow only {} on safe {safe} from space {space}, the block needs {}",
                c.variable,
                h.as_str(),
                c.needed.as_str()
            ),
            (None, _) => format!(
                "{}: no grant for this user binds space {space} to safe {safe}",
                c.variable
            ),
        });
    }
    let passed = if checks.is_empty() {
        let covered = covers_space(grants, facts.user, space);
        reasons.push(if covered {
            format!("the block binds no secret and a grant covers space {space}")
        } else {
            format!("no grant for this user covers space {space}")
        });
        covered
    } else {
        checks.iter().all(|c| c.allowed)
    };
    (outcome(Rule::Grant, passed, reasons), checks)
}

fn describe_user(user: &UserFacts) -> String {
    let groups = if user.groups.is_empty() {
        "no identity-provider group".to_string()
    } else {
        format!("groups [{}]", user.groups.join(", "))
    };
    match user.space_role {
        Some(r) => format!(
            "{} is in {groups}, with the {} role in the space",
            user.id,
            r.as_str()
        ),
        None => format!("{} is in {groups}, with no role in the space", user.id),
    }
}

fn rule_membership(
    settings: &PolicySettings,
    facts: &Facts<'_>,
    needs: &[(String, SecretRef, Access)],
) -> RuleOutcome {
    if !settings.require_safe_membership {
        return outcome(
            Rule::SafeMembership,
            true,
            vec!["safe membership is not required (require_safe_membership = false)".into()],
        );
    }
    if needs.is_empty() {
        return outcome(
            Rule::SafeMembership,
            true,
            vec!["the block binds no safe".into()],
        );
    }
    let members = match facts.safe_members {
        Some(SafeMembers::Unavailable(why)) => {
            return outcome(
                Rule::SafeMembership,
                false,
                vec![format!("CyberArk safe members could not be read: {why}")],
            );
        }
        None => {
            return outcome(
                Rule::SafeMembership,
                false,
                vec!["CyberArk safe members were not read".into()],
            );
        }
        Some(m) => m,
    };
    let mut passed = true;
    let mut reasons = Vec::new();
    if let SafeMembers::Snapshot { note, .. } = members {
        reasons.push(note.clone());
    }
    for (variable, reference, needed) in needs {
        let safe = &reference.safe;
        let wanted = settings.permissions_for(*needed);
        let Some(list) = members.of(safe) else {
            passed = false;
            reasons.push(format!(
                "{variable}: the members of safe {safe} are unknown"
            ));
            continue;
        };
        let holder = list.iter().find(|m| {
            m.is_group
                && facts
                    .user
                    .groups
                    .iter()
                    .any(|g| g.eq_ignore_ascii_case(&m.name))
                && wanted.iter().all(|p| m.permissions.contains(p))
        });
        match holder {
            Some(m) => reasons.push(format!(
                "{variable}: group {} is a member of safe {safe} with [{}] ({})",
                m.name,
                wanted.join(", "),
                needed.as_str()
            )),
            None => {
                passed = false;
                reasons.push(format!(
                    "{variable}: none of the user's groups is a member of safe {safe} with [{}] \
                     (what {} access maps to)",
                    wanted.join(", "),
                    needed.as_str()
                ));
            }
        }
    }
    outcome(Rule::SafeMembership, passed, reasons)
}

fn rule_approval(
    grants: &[Grant],
    settings: &PolicySettings,
    facts: &Facts<'_>,
    needs: &[(String, SecretRef, Access)],
) -> RuleOutcome {
    if facts.runbook.mode != Mode::Write {
        return outcome(
            Rule::Approval,
            true,
            vec!["a read block needs no approval".into()],
        );
    }
    let Some(ApprovalFacts {
        approvals,
        last_editor,
    }) = facts.approval
    else {
        return outcome(
            Rule::Approval,
            false,
            vec!["the block's approvals were not read".into()],
        );
    };
    let hash = facts.script_sha256;
    let short = &hash[..hash.len().min(12)];
    let for_this: Vec<_> = approvals
        .iter()
        .filter(|a| a.script_sha256.eq_ignore_ascii_case(hash))
        .collect();
    let void = "the block changed since its last approval, which is therefore void";
    let Some(editor) = last_editor else {
        let mut reasons = vec!["the block's last editor could not be determined".to_string()];
        if for_this.is_empty() && !approvals.is_empty() {
            reasons.push(void.to_string());
        }
        return outcome(Rule::Approval, false, reasons);
    };
    let mut reasons = vec![format!(
        "the block (sha256 {short}…) was last edited by {}",
        editor.id
    )];
    if for_this.is_empty() {
        reasons.push(if approvals.is_empty() {
            "no approval is recorded for this block".to_string()
        } else {
            void.to_string()
        });
        return outcome(Rule::Approval, false, reasons);
    }
    let valid = for_this.iter().find(|a| {
        !a.approver.eq_ignore_ascii_case(&editor.id)
            && a.approver_groups
                .iter()
                .any(|g| settings.approver_groups.contains(g))
    });
    let mut passed = match valid {
        Some(a) => {
            reasons.push(format!(
                "approved by {} (an approver, not the last editor) on page version {}",
                a.approver, a.page_version
            ));
            true
        }
        None => {
            for a in &for_this {
                reasons.push(if a.approver.eq_ignore_ascii_case(&editor.id) {
                    format!(
                        "{}'s approval does not count: they are the last editor",
                        a.approver
                    )
                } else {
                    format!(
                        "{}'s approval does not count: not in an approver group [{}]",
                        a.approver,
                        settings.approver_groups.join(", ")
                    )
                });
            }
            false
        }
    };
    let editor_checks = grant_checks(grants, editor, &facts.page.space, needs);
    let editor_ok = if needs.is_empty() {
        covers_space(grants, editor, &facts.page.space)
    } else {
        editor_checks.iter().all(|c| c.allowed)
    };
    if editor_ok {
        reasons.push(format!("the last editor {} holds the grant too", editor.id));
    } else {
        passed = false;
        let missing: Vec<String> = editor_checks
            .iter()
            .filter(|c| !c.allowed)
            .map(|c| format!("{} on safe {}", c.needed.as_str(), c.reference.safe))
            .collect();
        reasons.push(format!(
            "the last editor {} does not hold the grant ({}): the block must be saved by someone \
             who does, then approved again",
            editor.id,
            if missing.is_empty() {
                format!("space {}", facts.page.space)
            } else {
                missing.join(", ")
            }
        ));
    }
    outcome(Rule::Approval, passed, reasons)
}
