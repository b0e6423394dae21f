//! The simulated Vault: safes, members, accounts, platforms, applications (AppIDs), PVWA users
//! and their sessions, plus the audit (see [`crate::activity`]). All of it lives in memory;
//! secrets are held as `SecretString` and never written anywhere.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;

use crate::activity::{Activity, AuditLog, AuditRecord};
// Credentials live with the sessions; these names are used all over the simulator.
use crate::perms::Permission;
use crate::seed::{AuthType, MemberType};
pub(crate) use crate::sessions::{constant_time_eq, random_api_token, random_password};

/// First safe number given to seeded safes (low numbers belong to built-in safes in a real Vault).
pub(crate) const FIRST_SAFE_NUMBER: u32 = 21;

pub(crate) struct Vault {
    pub(crate) safes: Vec<Safe>,
    pub(crate) accounts: Vec<Account>,
    pub(crate) apps: Vec<App>,
    pub(crate) users: Vec<PvwaUser>,
    /// Group name → member names (PVWA user names or Confluence e-mails).
    pub(crate) groups: Vec<(String, Vec<String>)>,
    pub(crate) sessions: HashMap<String, crate::sessions::Session>,
    pub(crate) vault_down: bool,
    pub(crate) session_timeout: Duration,
    /// ISPSS style: only `Authorization: Bearer <token>` is accepted.
    pub(crate) bearer_only: bool,
    /// The next safe number and safe-member id to hand out.
    pub(crate) next_safe_number: u32,
    pub(crate) next_member_id: u64,
    /// Platform behaviour (exclusive, reason required) by platform id.
    pub(crate) platforms: Vec<Platform>,
    /// Every activity, account or not (logons), newest last.
    pub(crate) audit: AuditLog,
    /// The PVWA node the load balancer sends requests to; a token is only known to the node
    /// that issued it.
    pub(crate) lb_node: u32,
    /// Open RADIUS challenges by the `ASP.NET_SessionId` cookie the challenge answer set.
    pub(crate) radius_challenges: HashMap<String, crate::sessions::RadiusChallenge>,
    /// The Privilege Cloud subdomain of the platform-discovery endpoint.
    pub(crate) ispss_subdomain: String,
    /// The Credential Provider's Vault user; `None`: not checked.
    pub(crate) provider_user: Option<String>,
}

/// Platform behaviour shared by the accounts of one platform id.
pub(crate) struct Platform {
    pub(crate) id: String,
    pub(crate) exclusive: bool,
    pub(crate) require_reason: bool,
}

/// Who holds an exclusive account: a PVWA user (Password/Retrieve) or an application (CCP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Holder {
    User(String),
    App(String),
}

impl Holder {
    pub(crate) fn is_user(&self, name: &str) -> bool {
        matches!(self, Holder::User(u) if u.eq_ignore_ascii_case(name))
    }

    pub(crate) fn is_app(&self, name: &str) -> bool {
        matches!(self, Holder::App(a) if a.eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holder::User(u) => write!(f, "user {u}"),
            Holder::App(a) => write!(f, "application {a}"),
        }
    }
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
    /// The object number the next account of this safe gets (`<safeNumber>_<n>`); never
    /// reused, as Vault object ids are not.
    pub(crate) next_account: u32,
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
    /// `secretManagement.manualManagementReason` (shown while not managed automatically).
    pub(crate) manual_reason: String,
    /// `remoteMachinesAccess.remoteMachines` (a `;`- or `,`-separated list, kept as given).
    pub(crate) remote_machines: String,
    pub(crate) restrict_remote: bool,
    pub(crate) created: i64,
    pub(crate) last_modified: i64,
    /// When the account's properties last changed (`categoryModificationTime`).
    pub(crate) category_modified: i64,
    pub(crate) cpm: CpmState,
    pub(crate) link: Option<Link>,
    pub(crate) activities: Vec<Activity>,
    /// Exclusive (check-out) account: a PVWA retrieval locks it to the retriever.
    pub(crate) exclusive: bool,
    /// PVWA retrieval needs a `reason`.
    pub(crate) require_reason: bool,
    /// Who holds an exclusive account.
    pub(crate) locked_by: Option<Holder>,
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
    /// The task waiting for or running in the CPM (`ChangeTask`, `VerifyTask`,
    /// `ReconcileTask`).
    pub(crate) pending: Option<&'static str>,
    pub(crate) last_task: Option<&'static str>,
    pub(crate) last_success_change: Option<i64>,
    pub(crate) last_verified: Option<i64>,
    pub(crate) last_reconciled: Option<i64>,
}

pub(crate) struct App {
    pub(crate) name: String,
    pub(crate) allowed_machines: Vec<String>,
    pub(crate) cert_subject_cn: Option<String>,
    pub(crate) cert_serial: Option<String>,
    pub(crate) disabled: bool,
    /// Epoch seconds from which the application is expired.
    pub(crate) expires: Option<i64>,
}

pub(crate) struct PvwaUser {
    pub(crate) username: String,
    pub(crate) password: SecretString,
    /// The Vault authorization "Add Safes" (always held by `Administrator`).
    pub(crate) add_safes: bool,
    pub(crate) auth_type: AuthType,
    /// The passcode a RADIUS challenge asks for.
    pub(crate) radius_otp: Option<SecretString>,
}

/// The kind of principal asking for safe permissions.
#[derive(Clone, Copy)]
pub(crate) enum Principal<'a> {
    User(&'a str),
    App(&'a str),
    Provider(&'a str),
}

pub(crate) fn now_epoch() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Now in epoch microseconds (safe `lastModificationTime`).
pub(crate) fn now_micros() -> i64 {
    jiff::Timestamp::now().as_microsecond()
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
        } else if self
            .provider_user
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case(name))
        {
            Some(MemberType::Provider)
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
                (MemberType::Provider, Principal::Provider(p)) => m.name.eq_ignore_ascii_case(p),
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
}

impl Vault {
    /// Records an activity on account `i` and in the Vault-wide log.
    pub(crate) fn log(&mut self, i: usize, activity: Activity) {
        let a = &mut self.accounts[i];
        self.audit.push(AuditRecord {
            activity: activity.clone(),
            account_id: Some(a.id.clone()),
            safe: Some(a.safe.clone()),
            object: Some(a.name.clone()),
        });
        a.activities.push(activity);
    }

    /// Records an activity that concerns no account (a logon) in the Vault-wide log.
    pub(crate) fn log_event(&mut self, activity: Activity) {
        self.audit.push(AuditRecord {
            activity,
            account_id: None,
            safe: None,
            object: None,
        });
    }

    /// The `exclusive` and `requireReason` flags of a platform (both false when unknown).
    pub(crate) fn platform_flags(&self, platform_id: &str) -> (bool, bool) {
        self.platforms
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(platform_id))
            .map_or((false, false), |p| (p.exclusive, p.require_reason))
    }
}

impl Account {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_allows_loopback_only() {
        let app = App {
            name: "a".into(),
            allowed_machines: vec!["localhost".into()],
            cert_subject_cn: None,
            cert_serial: None,
            disabled: false,
            expires: None,
        };
        assert!(app.machine_allowed("127.0.0.1".parse().unwrap()));
        assert!(!app.machine_allowed("10.0.0.1".parse().unwrap()));
    }
}
