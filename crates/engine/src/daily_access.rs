//! The daily audit's least-privilege check: the bridge's own CyberArk identities (the AppID and
//! the PVWA user) hold no more than they need on each safe the config names. What they need,
//! and how an extra permission is graded, is `arkbridge doctor`'s (`doctor_perms.rs`).

use std::collections::BTreeSet;

use arkbridge_core::config::Config;
use arkbridge_cyberark::Permissions;

use super::checks::counts;
use super::report::{CheckId, CheckResult, Evidence, Status};
use crate::doctor::perms;

/// Which of the bridge's own identities a membership is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeIdentity {
    AppId,
    PvwaUser,
}

/// What the PVWA said about a membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// A member with these permissions.
    Member(Permissions),
    /// Not a member.
    NotMember,
    /// The PVWA user may not read it (the safe or its members are hidden from it).
    Hidden(String),
    /// The PVWA did not answer: nothing is known.
    Failed(String),
}

/// One of the bridge's identities on one safe: what it needs and what it holds.
#[derive(Debug, Clone)]
pub struct MembershipFact {
    pub safe: String,
    pub member: String,
    pub identity: BridgeIdentity,
    pub needed: BTreeSet<&'static str>,
    pub held: Held,
}

/// What the AppID needs on a safe it reads from (see `doctor_perms.rs`).
pub fn app_id_needs() -> BTreeSet<&'static str> {
    perms::APP_ID_NEEDS.iter().copied().collect()
}

/// What the PVWA user needs on `safe` under `config` (see `doctor_perms.rs`).
pub fn pvwa_user_needs(config: &Config, safe: &str) -> BTreeSet<&'static str> {
    perms::pvwa_user_needs(config, safe).keys
}

/// The safes the config names, once each (see `doctor_perms.rs`).
pub fn configured_safes(config: &Config) -> Vec<String> {
    perms::configured_safes(config)
}

/// The AppID and the PVWA user hold no more than they need, graded as `arkbridge doctor` grades
/// them: an extra permission that exposes or changes something fails; a low-risk extra, a
/// missing one (the doctor's business) or a membership hidden from the PVWA user is a warning;
/// a PVWA that does not answer leaves the check without evidence (error).
pub fn least_privilege_check(facts: &[MembershipFact]) -> CheckResult {
    let mut evidence = Vec::new();
    let (mut risky, mut unknown) = (0, 0);
    for f in facts {
        let who = match f.identity {
            BridgeIdentity::AppId => format!("AppID {}", f.member),
            BridgeIdentity::PvwaUser => format!("PVWA user {}", f.member),
        };
        let subject = format!("{who} on {}", f.safe);
        let (status, detail) = match &f.held {
            Held::Hidden(why) => {
                unknown += 1;
                (
                    Status::Warn,
                    format!("its membership could not be read ({why}); check it in the PVWA"),
                )
            }
            Held::Failed(why) => {
                unknown += 1;
                (Status::Error, format!("the PVWA could not be asked: {why}"))
            }
            Held::NotMember if f.needed.is_empty() => {
                (Status::Pass, "not a member, needs nothing".into())
            }
            Held::NotMember => (
                Status::Warn,
                format!(
                    "not a direct member, yet it needs {} (see `arkbridge doctor`)",
                    join(&f.needed)
                ),
            ),
            Held::Member(held) => {
                let g = perms::grade(&f.needed, held);
                if !g.risky_extra.is_empty() {
                    risky += 1;
                    (
                        Status::Fail,
                        format!(
                            "holds {} beyond what it needs ({})",
                            g.risky_extra.join(", "),
                            needed_text(&f.needed)
                        ),
                    )
                } else if !g.missing.is_empty() {
                    (
                        Status::Warn,
                        format!(
                            "lacks {} (see `arkbridge doctor`); nothing beyond its needs",
                            g.missing.join(", ")
                        ),
                    )
                } else if !g.harmless_extra.is_empty() {
                    (
                        Status::Pass,
                        format!(
                            "holds what it needs ({}), and also {}, which is low-risk",
                            needed_text(&f.needed),
                            g.harmless_extra.join(", ")
                        ),
                    )
                } else {
                    (
                        Status::Pass,
                        format!("holds exactly what it needs ({})", needed_text(&f.needed)),
                    )
                }
            }
        };
        evidence.push(Evidence::new(subject, status, detail));
    }
    let summary = if risky == 0 {
        format!(
            "{} membership(s) of the bridge's identities hold nothing risky beyond their needs{}",
            facts.len(),
            if unknown > 0 {
                format!(" ({unknown} could not be read)")
            } else {
                String::new()
            }
        )
    } else {
        format!("{risky} membership(s) hold more than needed")
    };
    CheckResult::from_evidence(
        CheckId::LeastPrivilege,
        summary,
        counts([
            ("memberships", facts.len()),
            ("excessive", risky),
            ("unreadable", unknown),
        ]),
        evidence,
    )
}

fn join(keys: &BTreeSet<&'static str>) -> String {
    Permissions::KEYS
        .iter()
        .filter(|k| keys.contains(*k))
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

fn needed_text(keys: &BTreeSet<&'static str>) -> String {
    if keys.is_empty() {
        "it needs nothing".into()
    } else {
        join(keys)
    }
}
