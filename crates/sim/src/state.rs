//! The simulated Vault: safes, members, accounts, applications (AppIDs), PVWA users and their
//! sessions, plus the per-account activity log. All of it lives in memory; secrets are held as
//! `SecretString` and never written anywhere.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use rand::Rng;
use secrecy::{ExposeSecret, SecretString};

use crate::perms::Permission;
use crate::seed::MemberType;

/// First safe number given to seeded safes (low numbers belong to built-in safes in a real Vault).
pub(crate) const FIRST_SAFE_NUMBER: u32 = 21;

pub(crate) struct Vault {
    pub(crate) safes: Vec<Safe>,
    pub(crate) accounts: Vec<Account>,
    pub(crate) apps: Vec<App>,
    pub(crate) users: Vec<PvwaUser>,
    /// Group name → member names (PVWA user names or Confluence e-mails).
    pub(crate) groups: Vec<(String, Vec<String>)>,
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) vault_down: bool,
    pub(crate) session_timeout: Duration,
    /// ISPSS style: only `Authorization: Bearer <token>` is accepted.
    pub(crate) bearer_only: bool,
    /// The next safe number and safe-member id to hand out.
    pub(crate) next_safe_number: u32,
    pub(crate) next_member_id: u64,
}

#[derive(Clone)]
pub(crate) struct Safe {
    pub(crate) name: String,
    pub(crate) number: u32,
    pub(crate) description: String,
    pub(crate) location: String,
    pub(crate) olac_enabled: bool,
    pub(crate) managing_cpm: String,
    pub(crate) versions_retention: Option<u32>,
    pub(crate) days_retention: Option<u32>,
    pub(crate) auto_purge: bool,
    pub(crate) creator: String,
    /// Epoch seconds.
    pub(crate) created: i64,
    /// Epoch microseconds, as the PVWA reports it.
    pub(crate) last_modified_us: i64,
    pub(crate) members: Vec<Member>,
}

#[derive(Clone)]
pub(crate) struct Member {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) kind: MemberType,
    pub(crate) permissions: BTreeSet<Permission>,
}

/// One stored value of an account's secret (`GET .../Secret/Versions`).
pub(crate) struct SecretVersion {
    pub(crate) id: u32,
    pub(crate) secret: SecretString,
    pub(crate) modified: i64,
    pub(crate) modified_by: String,
    /// A value the CPM is still setting on the target.
    pub(crate) temporary: bool,
}

/// What a linked account's secret also is.
#[derive(Clone)]
pub(crate) enum Link {
    PvwaUser(String),
    ConfluenceUser(String),
}

pub(crate) struct Account {
    pub(crate) id: String,
    pub(crate) safe: String,
    pub(crate) name: String,
    pub(crate) address: String,
    pub(crate) user_name: String,
    pub(crate) platform_id: String,
    pub(crate) secret_type: String,
    pub(crate) secret: SecretString,
    pub(crate) properties: BTreeMap<String, String>,
    pub(crate) device_type: String,
    pub(crate) automatic_management: bool,
    pub(crate) created: i64,
    pub(crate) last_modified: i64,
    pub(crate) cpm: CpmState,
    pub(crate) link: Option<Link>,
    pub(crate) activities: Vec<Activity>,
    /// Exclusive (check-out) account: a PVWA retrieval locks it to the retriever.
    pub(crate) exclusive: bool,
    /// PVWA retrieval needs a `reason`.
    pub(crate) require_reason: bool,
    /// The user holding an exclusive account.
    pub(crate) locked_by: Option<String>,
    /// The value `SetNextPassword` asked the CPM to set at its next change.
    pub(crate) next_secret: Option<SecretString>,
    /// Every value the secret had, oldest first; the last non-temporary one is `secret`.
    pub(crate) versions: Vec<SecretVersion>,
}

/// The CPM's view of an account.
#[derive(Default)]
pub(crate) struct CpmState {
    /// `inProcess`, `success` or `failure`; `None` before the CPM ever touched the account.
    pub(crate) status: Option<&'static str>,
    pub(crate) in_process: bool,
    pub(crate) last_task: Option<&'static str>,
    pub(crate) last_success_change: Option<i64>,
    pub(crate) last_verified: Option<i64>,
    pub(crate) last_reconciled: Option<i64>,
}

pub(crate) struct Activity {
    pub(crate) date: i64,
    pub(crate) user: String,
    pub(crate) action: &'static str,
    pub(crate) action_id: u32,
    pub(crate) client_id: &'static str,
    pub(crate) alert: bool,
    pub(crate) more_info: String,
    pub(crate) reason: String,
}

pub(crate) struct App {
    pub(crate) name: String,
    pub(crate) allowed_machines: Vec<String>,
    pub(crate) cert_subject_cn: Option<String>,
    pub(crate) cert_serial: Option<String>,
    pub(crate) disabled: bool,
}

pub(crate) struct PvwaUser {
    pub(crate) username: String,
    pub(crate) password: SecretString,
    /// The Vault authorization "Add Safes" (always held by `Administrator`).
    pub(crate) add_safes: bool,
}

pub(crate) struct Session {
    pub(crate) user: String,
    /// When the session was opened (epoch seconds; `LastSuccessfulLoginDate` of `LoginsInfo`).
    pub(crate) logged_on: i64,
    pub(crate) last_used: Instant,
    /// Absolute end of an ISPSS platform token's life.
    pub(crate) expires: Option<Instant>,
}

/// The kind of principal asking for safe permissions.
#[derive(Clone, Copy)]
pub(crate) enum Principal<'a> {
    User(&'a str),
    App(&'a str),
}

pub(crate) fn now_epoch() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Now in epoch microseconds (safe `lastModificationTime`).
pub(crate) fn now_micros() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

/// A random password: 20 characters, letters, digits and a few symbols, never a digit first or
/// last (as the CPM's default password policy).
pub(crate) fn random_password() -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#*-_.@^~";
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..20)
        .map(|i| {
            let set = if i == 0 || i == 19 { LETTERS } else { CHARS };
            set[rng.random_range(0..set.len())] as char
        })
        .collect()
}

/// A random Atlassian-style API token.
pub(crate) fn random_api_token() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    let body: String = (0..180)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect();
    format!("ATATT3xFfGF0{body}")
}

impl Vault {
    pub(crate) fn safe(&self, name: &str) -> Option<&Safe> {
        self.safes
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// Whether `name` is a PVWA user, an application or a group, and which.
    pub(crate) fn principal_kind(&self, name: &str) -> Option<MemberType> {
        if self
            .users
            .iter()
            .any(|u| u.username.eq_ignore_ascii_case(name))
        {
            Some(MemberType::User)
        } else if self.app(name).is_some() {
            Some(MemberType::App)
        } else if self
            .groups
            .iter()
            .any(|(g, _)| g.eq_ignore_ascii_case(name))
        {
            Some(MemberType::Group)
        } else {
            None
        }
    }

    fn in_group(&self, group: &str, who: &str) -> bool {
        self.groups.iter().any(|(g, members)| {
            g.eq_ignore_ascii_case(group) && members.iter().any(|m| m.eq_ignore_ascii_case(who))
        })
    }

    /// The union of the permissions `who` holds on `safe`, directly or through groups.
    pub(crate) fn permissions(&self, safe: &str, who: Principal<'_>) -> BTreeSet<Permission> {
        let Some(safe) = self.safe(safe) else {
            return BTreeSet::new();
        };
        let mut out = BTreeSet::new();
        for m in &safe.members {
            let applies = match (m.kind, who) {
                (MemberType::User, Principal::User(u)) => m.name.eq_ignore_ascii_case(u),
                (MemberType::App, Principal::App(a)) => m.name.eq_ignore_ascii_case(a),
                (MemberType::Group, Principal::User(u)) => self.in_group(&m.name, u),
                _ => false,
            };
            if applies {
                out.extend(m.permissions.iter().copied());
            }
        }
        out
    }

    pub(crate) fn has(&self, safe: &str, who: Principal<'_>, p: Permission) -> bool {
        self.permissions(safe, who).contains(&p)
    }

    pub(crate) fn account_index(&self, id: &str) -> Option<usize> {
        self.accounts.iter().position(|a| a.id == id)
    }

    pub(crate) fn app(&self, name: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    pub(crate) fn user_mut(&mut self, name: &str) -> Option<&mut PvwaUser> {
        self.users
            .iter_mut()
            .find(|u| u.username.eq_ignore_ascii_case(name))
    }

    /// Checks a PVWA password.
    pub(crate) fn check_password(&self, name: &str, password: &str) -> Option<String> {
        self.users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(name))
            .filter(|u| constant_time_eq(u.password.expose_secret(), password))
            .map(|u| u.username.clone())
    }

    /// Resolves a session token, refreshing its inactivity clock. Expired tokens are dropped.
    pub(crate) fn session_user(&mut self, token: &str) -> Option<String> {
        let timeout = self.session_timeout;
        let session = self.sessions.get_mut(token)?;
        let now = Instant::now();
        if session.last_used.elapsed() >= timeout || session.expires.is_some_and(|e| e <= now) {
            self.sessions.remove(token);
            return None;
        }
        session.last_used = now;
        Some(session.user.clone())
    }
}

impl Account {
    pub(crate) fn log(&mut self, activity: Activity) {
        self.activities.push(activity);
    }

    /// The id the next secret version gets.
    pub(crate) fn next_version_id(&self) -> u32 {
        self.versions.last().map_or(1, |v| v.id + 1)
    }

    /// Makes `value` the current secret and records it as a new version.
    pub(crate) fn set_secret(&mut self, value: &str, by: &str, now: i64) {
        self.versions.retain(|v| !v.temporary);
        let id = self.next_version_id();
        self.versions.push(SecretVersion {
            id,
            secret: SecretString::from(value),
            modified: now,
            modified_by: by.to_string(),
            temporary: false,
        });
        self.secret = SecretString::from(value);
        self.last_modified = now;
    }
}

impl App {
    /// Whether `ip` is one of the allowed machines (an IP literal, or `localhost` for loopback).
    /// An application without allowed machines accepts any address.
    pub(crate) fn machine_allowed(&self, ip: IpAddr) -> bool {
        if self.allowed_machines.is_empty() {
            return true;
        }
        let ip = match ip {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        self.allowed_machines.iter().any(|m| {
            if m.eq_ignore_ascii_case("localhost") {
                ip.is_loopback()
            } else {
                m.parse::<IpAddr>().is_ok_and(|allowed| allowed == ip)
            }
        })
    }
}

pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_start_or_end_with_a_digit() {
        for _ in 0..200 {
            let p = random_password();
            assert_eq!(p.len(), 20);
            assert!(!p.starts_with(|c: char| c.is_ascii_digit()));
            assert!(!p.ends_with(|c: char| c.is_ascii_digit()));
        }
    }

    #[test]
    fn localhost_allows_loopback_only() {
        let app = App {
            name: "a".into(),
            allowed_machines: vec!["localhost".into()],
            cert_subject_cn: None,
            cert_serial: None,
            disabled: false,
        };
        assert!(app.machine_allowed("127.0.0.1".parse().unwrap()));
        assert!(!app.machine_allowed("10.0.0.1".parse().unwrap()));
    }
}
