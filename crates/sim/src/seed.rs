//! The seed file: the YAML that describes the simulated Vault, the Confluence site and the
//! bridge's grants. `SEED.md` documents every field; [`crate::DEMO_SEED`] is the built-in example.
//!
//! Secret values may appear in a seed (it is test data) but are never logged: the seed types do
//! not implement `Debug`, and they are turned into `SecretString`s as soon as the state is built.

use std::collections::{BTreeMap, BTreeSet};

use arkbridge_core::config::Rotation;
use arkbridge_core::policy::Grant;
use serde::Deserialize;

use crate::error::SimError;
use crate::perms::{self, Permission};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Seed {
    #[serde(default)]
    pub(crate) safes: Vec<SeedSafe>,
    #[serde(default)]
    pub(crate) applications: Vec<SeedApp>,
    #[serde(default)]
    pub(crate) pvwa_users: Vec<SeedPvwaUser>,
    #[serde(default)]
    pub(crate) confluence_users: Vec<SeedConfluenceUser>,
    #[serde(default)]
    pub(crate) groups: Vec<SeedGroup>,
    #[serde(default)]
    pub(crate) spaces: Vec<SeedSpace>,
    #[serde(default)]
    pub(crate) pages: Vec<SeedPage>,
    #[serde(default)]
    pub(crate) platforms: Vec<SeedPlatform>,
    /// The Credential Provider's own Vault user (`Prov_<host>`). When set, the CCP also needs it
    /// to be a safe member (`type: provider`) with `listAccounts` and `retrieveAccounts`.
    #[serde(default)]
    pub(crate) provider_user: Option<String>,
    /// The Privilege Cloud subdomain the platform-discovery endpoint knows.
    #[serde(default = "default_subdomain")]
    pub(crate) ispss_subdomain: String,
    /// The simulated OIDC provider (`crate::idp_seed`).
    #[serde(default)]
    pub(crate) identity_provider: Option<crate::idp_seed::SeedIdentityProvider>,
    /// The Forge app whose invocation tokens the simulator mints (`crate::idp_seed`).
    #[serde(default)]
    pub(crate) forge: Option<crate::idp_seed::SeedForge>,
    pub(crate) bridge: SeedBridge,
}

/// Platform behaviour shared by the accounts with that `platformId`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedPlatform {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) exclusive: bool,
    #[serde(default)]
    pub(crate) require_reason: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedSafe {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: String,
    #[serde(default = "default_cpm", rename = "managingCPM")]
    pub(crate) managing_cpm: String,
    #[serde(default)]
    pub(crate) olac_enabled: bool,
    #[serde(default)]
    pub(crate) accounts: Vec<SeedAccount>,
    #[serde(default)]
    pub(crate) members: Vec<SeedMember>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedAccount {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) address: String,
    #[serde(default)]
    pub(crate) user_name: String,
    pub(crate) platform_id: String,
    #[serde(default = "default_secret_type")]
    pub(crate) secret_type: String,
    #[serde(default)]
    pub(crate) secret: Option<String>,
    #[serde(default)]
    pub(crate) properties: BTreeMap<String, String>,
    #[serde(default = "yes")]
    pub(crate) automatic_management_enabled: bool,
    #[serde(default)]
    pub(crate) device_type: Option<String>,
    #[serde(default)]
    pub(crate) secret_of: Option<SecretOf>,
    /// Overrides the platform's `exclusive`.
    #[serde(default)]
    pub(crate) exclusive: Option<bool>,
    /// Overrides the platform's `requireReason`.
    #[serde(default)]
    pub(crate) require_reason: Option<bool>,
}

/// Makes an account's secret the same value as another simulated credential.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SecretOf {
    #[serde(default)]
    pub(crate) pvwa_user: Option<String>,
    #[serde(default)]
    pub(crate) confluence_user: Option<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MemberType {
    User,
    App,
    Group,
    /// The Credential Provider's Vault user (`providerUser`).
    Provider,
}

/// How a PVWA user authenticates (`/API/auth/<type>/Logon`).
#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) enum AuthType {
    #[default]
    #[serde(
        rename = "CyberArk",
        alias = "Cyberark",
        alias = "cyberark",
        alias = "CYBERARK"
    )]
    CyberArk,
    #[serde(rename = "LDAP", alias = "ldap", alias = "Ldap")]
    Ldap,
    #[serde(rename = "RADIUS", alias = "radius", alias = "Radius")]
    Radius,
}

impl AuthType {
    /// The logon path segment, matched ignoring case (`Cyberark`, `LDAP`, `RADIUS`).
    pub(crate) fn from_segment(segment: &str) -> Option<AuthType> {
        [AuthType::CyberArk, AuthType::Ldap, AuthType::Radius]
            .into_iter()
            .find(|t| t.segment().eq_ignore_ascii_case(segment))
    }

    pub(crate) fn segment(self) -> &'static str {
        match self {
            AuthType::CyberArk => "CyberArk",
            AuthType::Ldap => "LDAP",
            AuthType::Radius => "RADIUS",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedMember {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) member_type: MemberType,
    pub(crate) permissions: PermissionSpec,
}

/// A predefined set name or an explicit list of permission keys.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum PermissionSpec {
    Set(String),
    Keys(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedApp {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) allowed_machines: Vec<String>,
    #[serde(default, rename = "certSubjectCN")]
    pub(crate) cert_subject_cn: Option<String>,
    #[serde(default)]
    pub(crate) cert_serial: Option<String>,
    #[serde(default)]
    pub(crate) disabled: bool,
    /// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 timestamp; from then on APPAP008E.
    #[serde(default)]
    pub(crate) expiration_date: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedPvwaUser {
    pub(crate) username: String,
    #[serde(default)]
    pub(crate) password: Option<String>,
    #[serde(default)]
    pub(crate) add_safes: bool,
    #[serde(default)]
    pub(crate) auth_type: AuthType,
    /// RADIUS users only: the passcode a RADIUS challenge (500 ITATS542I) asks for.
    #[serde(default)]
    pub(crate) radius_otp: Option<String>,
}

// The Confluence users, spaces and pages are described in `crate::wiki_seed`.
pub(crate) use crate::wiki_seed::{SeedConfluenceUser, SeedPage, SeedSpace};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedGroup {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) members: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedBridge {
    #[serde(default = "default_app_id")]
    pub(crate) app_id: String,
    pub(crate) confluence_user: String,
    pub(crate) pvwa_user: String,
    #[serde(default)]
    pub(crate) grants: Vec<Grant>,
    #[serde(default)]
    pub(crate) rotation: BTreeMap<String, Rotation>,
    /// The `[policy]` section of the config written for the bridge.
    #[serde(default)]
    pub(crate) policy: arkbridge_core::policy::PolicySettings,
}

fn default_secret_type() -> String {
    "password".into()
}
fn yes() -> bool {
    true
}
fn default_cpm() -> String {
    "PasswordManager".into()
}
fn default_app_id() -> String {
    "arkbridge".into()
}
fn default_subdomain() -> String {
    "arkbridge".into()
}

/// Parses an application `expirationDate`: `YYYY-MM-DD` (midnight UTC) or an RFC 3339
/// timestamp, as epoch seconds.
pub(crate) fn parse_expiration(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(ts.as_second());
    }
    let date = text.parse::<jiff::civil::Date>().ok()?;
    format!("{date}T00:00:00Z")
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|ts| ts.as_second())
}

impl PermissionSpec {
    pub(crate) fn resolve(&self, context: &str) -> Result<BTreeSet<Permission>, SimError> {
        match self {
            PermissionSpec::Set(name) => perms::predefined_set(name).ok_or_else(|| {
                SimError::SeedInvalid(format!(
                    "{context}: unknown permission set `{name}` (use one of {} or a list of keys)",
                    perms::SET_NAMES.join(", ")
                ))
            }),
            PermissionSpec::Keys(keys) => keys
                .iter()
                .map(|k| {
                    Permission::parse(k).ok_or_else(|| {
                        SimError::SeedInvalid(format!("{context}: unknown permission key `{k}`"))
                    })
                })
                .collect(),
        }
    }
}

/// Parses seed YAML. `origin` names the source in error messages (a path or "built-in demo").
pub(crate) fn parse(text: &str, origin: &str) -> Result<Seed, SimError> {
    let seed: Seed = serde_norway::from_str(text).map_err(|e| SimError::SeedParse {
        origin: origin.to_string(),
        // serde_norway messages name the field and position, never the value.
        message: e.to_string(),
    })?;
    seed.validate()?;
    Ok(seed)
}

impl Seed {
    /// The platform entry of `platform_id`, if the seed lists one.
    pub(crate) fn platform(&self, platform_id: &str) -> Option<&SeedPlatform> {
        self.platforms
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(platform_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_seed_parses() {
        let seed = parse(crate::DEMO_SEED, "built-in demo").unwrap();
        assert_eq!(seed.safes.len(), 4);
        assert_eq!(seed.bridge.app_id, "arkbridge");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let text = crate::DEMO_SEED.replacen("bridge:", "colour: blue\nbridge:", 1);
        let err = parse(&text, "x").err().unwrap().to_string();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn expiration_dates_parse_as_utc() {
        assert_eq!(parse_expiration("1970-01-02"), Some(86_400));
        assert_eq!(parse_expiration("1970-01-01T00:01:00Z"), Some(60));
        assert_eq!(parse_expiration("next week"), None);
    }

    #[test]
    fn bad_permission_set_is_named() {
        let text = crate::DEMO_SEED.replacen("permissions: full", "permissions: almighty", 1);
        let err = parse(&text, "x").err().unwrap().to_string();
        assert!(err.contains("almighty"), "{err}");
    }
}
