//! The shared simulator state ([`World`]) and how it is built from a seed.
//!
//! Linked credentials are made consistent here: an account with `secretOf` holds the same value
//! as the PVWA user's password or the Confluence user's API token it names (the seed may fix one
//! side; otherwise both get one random value).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use crate::activity::AuditLog;
use crate::error::SimError;
use crate::faults::{FaultState, Faults};
use crate::seed::Seed;
use crate::state::{
    self, Account, App, CpmState, FIRST_SAFE_NUMBER, Link, Member, Platform, PvwaUser, Safe,
    SecretVersion, Vault,
};
use crate::wiki::Wiki;

/// What the simulated CPM is asked to do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum CpmTask {
    Change,
    Verify,
    Reconcile,
}

impl CpmTask {
    /// The CPM's task name (`LastTask`, saved filters).
    pub(crate) fn name(self) -> &'static str {
        match self {
            CpmTask::Change => "ChangeTask",
            CpmTask::Verify => "VerifyTask",
            CpmTask::Reconcile => "ReconcileTask",
        }
    }
}

/// A request for the simulated CPM.
pub(crate) struct CpmJob {
    pub(crate) account_id: String,
    pub(crate) task: CpmTask,
}

pub(crate) struct World {
    vault: Mutex<Vault>,
    wiki: Mutex<Wiki>,
    faults: Mutex<FaultState>,
    pub(crate) cpm: mpsc::UnboundedSender<CpmJob>,
    /// `https://localhost:PORT` of the Confluence server.
    pub(crate) confluence_base: String,
}

impl World {
    pub(crate) fn new(
        vault: Vault,
        wiki: Wiki,
        cpm: mpsc::UnboundedSender<CpmJob>,
        confluence_base: String,
    ) -> World {
        World {
            vault: Mutex::new(vault),
            wiki: Mutex::new(wiki),
            faults: Mutex::new(FaultState::default()),
            cpm,
            confluence_base,
        }
    }

    pub(crate) fn vault(&self) -> MutexGuard<'_, Vault> {
        self.vault.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn wiki(&self) -> MutexGuard<'_, Wiki> {
        self.wiki.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultState> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current faults (`vault_down` comes from the Vault).
    pub(crate) fn current_faults(&self) -> Faults {
        let mut f = self.faults().faults.clone();
        f.vault_down = self.vault().vault_down;
        f
    }

    /// Replaces the faults and restarts the rate counters.
    pub(crate) fn set_faults(&self, faults: Faults) {
        self.vault().vault_down = faults.vault_down;
        *self.faults() = FaultState {
            faults,
            ..FaultState::default()
        };
    }

    /// Moves the load balancer to the next PVWA node, which knows none of the tokens the earlier
    /// nodes issued; returns the new node number.
    pub(crate) fn switch_node(&self) -> u32 {
        let mut vault = self.vault();
        vault.lb_node += 1;
        vault.lb_node
    }

    /// Sets account `i`'s secret (a new version) and the credential it is linked to. Takes the
    /// Vault lock so that it can release it before taking the Confluence lock.
    pub(crate) fn set_account_secret(
        &self,
        mut vault: MutexGuard<'_, Vault>,
        i: usize,
        value: &str,
        by: &str,
    ) {
        let now = state::now_epoch();
        vault.accounts[i].set_secret(value, by, now);
        match vault.accounts[i].link.clone() {
            Some(Link::PvwaUser(name)) => {
                if let Some(u) = vault.user_mut(&name) {
                    u.password = SecretString::from(value);
                }
            }
            Some(Link::ConfluenceUser(email)) => {
                drop(vault);
                if let Some(u) = self.wiki().user_mut(&email) {
                    u.token = Some(SecretString::from(value));
                }
            }
            None => {}
        }
    }
}

/// The CCP `DeviceType` a platform id suggests (database, operating system or application).
pub(crate) fn device_type_for(platform: &str) -> &'static str {
    let p = platform.to_ascii_lowercase();
    if [
        "postgres", "mysql", "oracle", "mssql", "sql", "db2", "mongo",
    ]
    .iter()
    .any(|k| p.contains(k))
    {
        "Database"
    } else if ["unix", "win", "linux", "ssh"]
        .iter()
        .any(|k| p.contains(k))
    {
        "Operating System"
    } else {
        "Application"
    }
}

fn next_member_id(counter: &mut u64) -> u64 {
    *counter += 1;
    *counter
}

/// Builds the Vault and the Confluence site from a validated seed.
pub(crate) fn build(seed: &Seed) -> Result<(Vault, Wiki), SimError> {
    // Credentials of users first; links may fill them in.
    let mut pvwa_pw: HashMap<String, Option<Zeroizing<String>>> = seed
        .pvwa_users
        .iter()
        .map(|u| {
            (
                u.username.to_ascii_lowercase(),
                u.password.clone().map(Zeroizing::new),
            )
        })
        .collect();
    let mut conf_tok: HashMap<String, Option<Zeroizing<String>>> = seed
        .confluence_users
        .iter()
        .map(|u| {
            (
                u.email.to_ascii_lowercase(),
                u.api_token.clone().map(Zeroizing::new),
            )
        })
        .collect();

    let now = state::now_epoch();
    let now_us = state::now_micros();
    let mut member_ids = 0u64;
    let mut safes = Vec::new();
    let mut accounts = Vec::new();
    for (i, s) in seed.safes.iter().enumerate() {
        let number = FIRST_SAFE_NUMBER + i as u32;
        let mut members = Vec::new();
        for m in &s.members {
            members.push(Member {
                id: 200 + next_member_id(&mut member_ids),
                name: m.name.clone(),
                kind: m.member_type,
                permissions: m
                    .permissions
                    .resolve(&format!("safe {} member {}", s.name, m.name))?,
            });
        }
        safes.push(Safe {
            name: s.name.clone(),
            number,
            description: s.description.clone(),
            location: "\\".into(),
            olac_enabled: s.olac_enabled,
            managing_cpm: s.managing_cpm.clone(),
            versions_retention: None,
            days_retention: Some(7),
            auto_purge: false,
            creator: "Administrator".into(),
            created: now,
            last_modified_us: now_us,
            members,
            next_account: s.accounts.len() as u32 + 1,
        });
        for (n, a) in s.accounts.iter().enumerate() {
            let (link, slot, fresh): (_, _, fn() -> String) = match &a.secret_of {
                Some(l) => match (&l.pvwa_user, &l.confluence_user) {
                    (Some(u), _) => (
                        Some(Link::PvwaUser(u.clone())),
                        pvwa_pw.get_mut(&u.to_ascii_lowercase()),
                        state::random_password,
                    ),
                    (None, Some(u)) => (
                        Some(Link::ConfluenceUser(u.clone())),
                        conf_tok.get_mut(&u.to_ascii_lowercase()),
                        state::random_api_token,
                    ),
                    (None, None) => (None, None, state::random_password),
                },
                None => (None, None, state::random_password),
            };
            let secret = match (a.secret.clone().map(Zeroizing::new), slot) {
                (Some(own), Some(slot)) => {
                    if let Some(other) = slot.as_ref()
                        && **other != *own
                    {
                        return Err(SimError::SeedInvalid(format!(
                            "account {}/{}: its secret differs from the linked credential (set only one of them)",
                            s.name, a.name
                        )));
                    }
                    *slot = Some(own.clone());
                    own
                }
                (Some(own), None) => own,
                (None, Some(slot)) => match slot.as_ref() {
                    Some(v) => v.clone(),
                    None => {
                        let v = Zeroizing::new(fresh());
                        *slot = Some(v.clone());
                        v
                    }
                },
                (None, None) => Zeroizing::new(state::random_password()),
            };
            let platform = seed.platform(&a.platform_id);
            accounts.push(Account {
                id: format!("{number}_{}", n + 1),
                safe: s.name.clone(),
                name: a.name.clone(),
                address: a.address.clone(),
                user_name: a.user_name.clone(),
                platform_id: a.platform_id.clone(),
                secret_type: a.secret_type.clone(),
                secret: SecretString::from(secret.as_str()),
                versions: vec![SecretVersion {
                    id: 1,
                    secret: SecretString::from(secret.as_str()),
                    modified: now,
                    modified_by: "Administrator".into(),
                    temporary: false,
                }],
                exclusive: a
                    .exclusive
                    .unwrap_or_else(|| platform.is_some_and(|p| p.exclusive)),
                require_reason: a
                    .require_reason
                    .unwrap_or_else(|| platform.is_some_and(|p| p.require_reason)),
                locked_by: None,
                next_secret: None,
                properties: a.properties.clone(),
                device_type: a
                    .device_type
                    .clone()
                    .unwrap_or_else(|| device_type_for(&a.platform_id).to_string()),
                automatic_management: a.automatic_management_enabled,
                manual_reason: if a.automatic_management_enabled {
                    String::new()
                } else {
                    "No Reason".into()
                },
                remote_machines: String::new(),
                restrict_remote: false,
                created: now,
                last_modified: now,
                category_modified: now,
                cpm: CpmState::default(),
                link,
                activities: Vec::new(),
            });
        }
    }

    let users = seed
        .pvwa_users
        .iter()
        .map(|u| {
            let pw = pvwa_pw
                .get(&u.username.to_ascii_lowercase())
                .and_then(|p| p.as_ref().map(|p| p.to_string()))
                .unwrap_or_else(state::random_password);
            PvwaUser {
                username: u.username.clone(),
                password: SecretString::from(pw),
                add_safes: u.add_safes || u.username.eq_ignore_ascii_case("Administrator"),
                auth_type: u.auth_type,
                radius_otp: u.radius_otp.as_deref().map(SecretString::from),
            }
        })
        .collect();
    let apps = seed
        .applications
        .iter()
        .map(|a| App {
            name: a.name.clone(),
            allowed_machines: a.allowed_machines.clone(),
            cert_subject_cn: a.cert_subject_cn.clone(),
            cert_serial: a.cert_serial.clone(),
            disabled: a.disabled,
            expires: a
                .expiration_date
                .as_deref()
                .and_then(crate::seed::parse_expiration),
        })
        .collect();
    let groups: Vec<(String, Vec<String>)> = seed
        .groups
        .iter()
        .map(|g| (g.name.clone(), g.members.clone()))
        .collect();
    let vault = Vault {
        safes,
        accounts,
        apps,
        users,
        groups,
        sessions: HashMap::new(),
        vault_down: false,
        session_timeout: Duration::from_secs(20 * 60),
        bearer_only: false,
        next_safe_number: FIRST_SAFE_NUMBER + seed.safes.len() as u32,
        next_member_id: 200 + member_ids + 1,
        platforms: seed
            .platforms
            .iter()
            .map(|p| Platform {
                id: p.id.clone(),
                exclusive: p.exclusive,
                require_reason: p.require_reason,
            })
            .collect(),
        audit: AuditLog::default(),
        lb_node: 1,
        radius_challenges: HashMap::new(),
        ispss_subdomain: seed.ispss_subdomain.clone(),
        provider_user: seed.provider_user.clone(),
    };

    let wiki = crate::wiki_build::build(seed, &conf_tok)?;
    Ok((vault, wiki))
}
