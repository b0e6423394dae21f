//! `arkbridge doctor`: the checks of each safe the config names.
//!
//! * `safe:NAME`: the safe exists and the AppID may list and retrieve its accounts. The CCP
//!   answers `APPAP004E` both for a missing safe and for one the AppID may not read (the
//!   reference documents no way to tell them apart), so this is asked of the PVWA instead: the
//!   safe (`GET /API/Safes/{id}`) and the AppID's membership. A safe the CCP has just handed a
//!   bridge credential from is proven without the PVWA.
//! * `pvwa-permissions:NAME`: the PVWA user's own membership against what it needs
//!   (`doctor_perms.rs`).

use arkbridge_core::config::Config;
use arkbridge_cyberark::PvwaClient;

use super::cyberark::Fetched;
use super::perms::{self, Need};
use super::{Check, DoctorReport};

/// Whether the PVWA user can see a safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visibility {
    Visible,
    NotVisible,
    Unknown,
}

/// The `safe:NAME` and `pvwa-permissions:NAME` checks of every safe the config names.
pub(super) async fn check_all(
    config: &Config,
    fetched: &Fetched,
    session: Option<&(PvwaClient, usize)>,
    report: &mut DoctorReport,
) {
    let pvwa = session.map(|(p, _)| p);
    for safe in perms::configured_safes(config) {
        let need = perms::pvwa_user_needs(config, &safe);
        let (check, visibility) = safe_check(config, fetched, pvwa, &safe, &need).await;
        report.push(check);
        if let Some(pvwa) = pvwa
            && let Some(check) = permissions_check(config, pvwa, &safe, &need, visibility).await
        {
            report.push(check);
        }
    }
}

async fn safe_check(
    config: &Config,
    fetched: &Fetched,
    pvwa: Option<&PvwaClient>,
    safe: &str,
    need: &Need,
) -> (Check, Visibility) {
    let name = format!("safe:{safe}");
    let app = &config.cyberark.ccp.app_id;
    let user = &config.cyberark.pvwa.username;
    let by_ccp = fetched.read_by_ccp(safe);
    let proven = |more: &str| {
        Check::pass(
            &name,
            format!(
                "the CCP handed AppID {app} a bridge credential from it, so it exists and the \
                 AppID may read it{more}"
            ),
        )
    };
    let app_fix = format!(
        "make the AppID {app} (and the CCP's Provider user) a member of {safe} with List \
         accounts and Retrieve accounts"
    );
    let Some(pvwa) = pvwa else {
        if by_ccp {
            return (proven(""), Visibility::Unknown);
        }
        return (
            Check::warn(
                &name,
                "not checked: no PVWA session (see the pvwa-logon check)",
                "fix the pvwa-logon check first",
            ),
            Visibility::Unknown,
        );
    };
    match pvwa.get_safe(safe).await {
        Ok(_) => {}
        Err(e) if e.status() == Some(404) => {
            let check = if by_ccp && !need.is_empty() {
                Check::fail(
                    &name,
                    format!(
                        "{safe} exists (the CCP read from it), but the PVWA user {user} is not a \
                         member of it"
                    ),
                    format!("make {user} a member of {safe} with {}", need.list()),
                )
            } else if by_ccp {
                proven(&format!(" ({user} need not see it, and does not)"))
            } else if need.is_empty() {
                Check::warn(
                    &name,
                    format!(
                        "the PVWA user {user} cannot see {safe} (it need not), so whether it \
                         exists and AppID {app} may read it is unknown"
                    ),
                    format!(
                        "check in the PVWA that {safe} exists and that {app} holds List accounts \
                         and Retrieve accounts there"
                    ),
                )
            } else {
                Check::fail(
                    &name,
                    format!(
                        "{safe} does not exist, or the PVWA user {user} is not a member of it ({e})"
                    ),
                    format!(
                        "create the safe {safe} (or correct its name in the config), make {user} \
                         a member with {}, and {}",
                        need.list(),
                        lowercase_first(&app_fix)
                    ),
                )
            };
            return (check, Visibility::NotVisible);
        }
        Err(e) if e.is_unavailable() => {
            return (
                Check::fail(
                    &name,
                    format!("the PVWA could not be asked about {safe}: {e}"),
                    "run the doctor again when the PVWA answers (see pvwa-logon)",
                ),
                Visibility::Unknown,
            );
        }
        Err(e) => {
            let check = if by_ccp {
                proven("")
            } else {
                Check::warn(
                    &name,
                    format!("the PVWA would not describe {safe} to {user}: {e}"),
                    format!(
                        "check in the PVWA that {safe} exists and that {app} holds List \
                         accounts and Retrieve accounts there"
                    ),
                )
            };
            return (check, Visibility::Unknown);
        }
    }
    let check = match pvwa.get_safe_member(safe, app).await {
        Ok(member) => {
            let lack = perms::lacking(perms::APP_ID_NEEDS, &member.permissions);
            if lack.is_empty() {
                Check::pass(
                    &name,
                    format!(
                        "{safe} exists and AppID {app} holds listAccounts and retrieveAccounts"
                    ),
                )
            } else {
                Check::fail(
                    &name,
                    format!("{safe} exists, but AppID {app} lacks {}", lack.join(", ")),
                    app_fix,
                )
            }
        }
        Err(_) if by_ccp => proven(""),
        Err(e) if e.status() == Some(404) => Check::fail(
            &name,
            format!("{safe} exists, but AppID {app} is not a member of it"),
            app_fix,
        ),
        Err(e) if e.status() == Some(403) => Check::warn(
            &name,
            format!(
                "{safe} exists; whether AppID {app} may read it is unknown, as {user} may not \
                 view its members ({e})"
            ),
            format!(
                "give {user} View Safe members on {safe}, or check by hand that {app} holds List \
                 accounts and Retrieve accounts there"
            ),
        ),
        Err(e) => Check::warn(
            &name,
            format!("{safe} exists; its members could not be read: {e}"),
            "run the doctor again when the PVWA answers",
        ),
    };
    (check, Visibility::Visible)
}

async fn permissions_check(
    config: &Config,
    pvwa: &PvwaClient,
    safe: &str,
    need: &Need,
    visibility: Visibility,
) -> Option<Check> {
    let name = format!("pvwa-permissions:{safe}");
    let user = &config.cyberark.pvwa.username;
    let needs_nothing = || {
        Check::pass(
            &name,
            format!("{user} is not a member of {safe}, and needs nothing there"),
        )
    };
    match visibility {
        // The safe check has already failed and named what the user needs.
        Visibility::NotVisible if !need.is_empty() => return None,
        Visibility::NotVisible => return Some(needs_nothing()),
        Visibility::Unknown => return None,
        Visibility::Visible => {}
    }
    let why = if need.is_empty() {
        "it needs no membership there".to_string()
    } else {
        format!(
            "it needs only {} ({})",
            need.list(),
            need.reasons.join("; ")
        )
    };
    let held = match pvwa.get_safe_member(safe, user).await {
        Ok(member) => member.permissions,
        Err(e) if e.status() == Some(404) && need.is_empty() => return Some(needs_nothing()),
        Err(e) if e.status() == Some(404) => {
            return Some(Check::warn(
                &name,
                format!(
                    "{user} sees {safe} without being a direct member (through a group?), so its \
                     permissions there could not be checked"
                ),
                format!("make {user} a direct member of {safe}: {why}"),
            ));
        }
        Err(e) => {
            return Some(Check::warn(
                &name,
                format!("{user}'s membership of {safe} could not be read: {e}"),
                format!("check by hand that {user} holds what it needs on {safe}: {why}"),
            ));
        }
    };
    let grade = perms::grade(&need.keys, &held);
    let check = if !grade.missing.is_empty() {
        let (also, remove) = if grade.risky_extra.is_empty() {
            (String::new(), String::new())
        } else {
            let extra = grade.risky_extra.join(", ");
            (
                format!("; it also holds {extra}, more than it needs"),
                format!(", and remove {extra}"),
            )
        };
        Check::fail(
            &name,
            format!(
                "{user} lacks {} on {safe} ({}){also}",
                grade.missing.join(", "),
                need.reasons.join("; ")
            ),
            format!("give {user} {} on {safe}{remove}", grade.missing.join(", ")),
        )
    } else if !grade.risky_extra.is_empty() {
        Check::warn(
            &name,
            format!(
                "{user} holds {} on {safe}, more than it needs",
                grade.risky_extra.join(", ")
            ),
            format!(
                "remove {} from {user}'s membership of {safe}: {why}",
                grade.risky_extra.join(", ")
            ),
        )
    } else {
        let held_needed = if need.is_empty() {
            format!("{user} needs nothing on {safe}")
        } else {
            format!("{user} holds what it needs on {safe}: {}", need.list())
        };
        let extra = if grade.harmless_extra.is_empty() {
            String::new()
        } else {
            format!(
                " (it also holds {}: low-risk extras)",
                grade.harmless_extra.join(", ")
            )
        };
        Check::pass(&name, format!("{held_needed}{extra}"))
    };
    Some(check)
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
