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
    pub(crate) bridge: SeedBridge,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedSafe {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: String,
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedPvwaUser {
    pub(crate) username: String,
    #[serde(default)]
    pub(crate) password: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedConfluenceUser {
    pub(crate) email: String,
    pub(crate) display_name: String,
    #[serde(default)]
    pub(crate) account_id: Option<String>,
    #[serde(default)]
    pub(crate) api_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedGroup {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) members: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedSpace {
    pub(crate) key: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedPage {
    pub(crate) space: String,
    pub(crate) title: String,
    pub(crate) body: String,
    #[serde(default)]
    pub(crate) author: Option<String>,
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
}

fn default_secret_type() -> String {
    "password".into()
}
fn yes() -> bool {
    true
}
fn default_app_id() -> String {
    "arkbridge".into()
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

fn dup<'a>(what: &str, names: impl Iterator<Item = &'a str>) -> Result<(), SimError> {
    let mut seen = BTreeSet::new();
    for n in names {
        if n.trim().is_empty() {
            return Err(SimError::SeedInvalid(format!("a {what} has an empty name")));
        }
        if !seen.insert(n.to_ascii_lowercase()) {
            return Err(SimError::SeedInvalid(format!(
                "{what} `{n}` is defined twice"
            )));
        }
    }
    Ok(())
}

impl Seed {
    fn validate(&self) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::SeedInvalid(m));
        dup("safe", self.safes.iter().map(|s| s.name.as_str()))?;
        dup(
            "application",
            self.applications.iter().map(|a| a.name.as_str()),
        )?;
        dup(
            "PVWA user",
            self.pvwa_users.iter().map(|u| u.username.as_str()),
        )?;
        dup(
            "Confluence user",
            self.confluence_users.iter().map(|u| u.email.as_str()),
        )?;
        dup("group", self.groups.iter().map(|g| g.name.as_str()))?;
        dup("space", self.spaces.iter().map(|s| s.key.as_str()))?;
        let has_pvwa = |n: &str| {
            self.pvwa_users
                .iter()
                .any(|u| u.username.eq_ignore_ascii_case(n))
        };
        let has_conf = |n: &str| {
            self.confluence_users
                .iter()
                .any(|u| u.email.eq_ignore_ascii_case(n))
        };
        let has_app = |n: &str| {
            self.applications
                .iter()
                .any(|a| a.name.eq_ignore_ascii_case(n))
        };
        let has_group = |n: &str| self.groups.iter().any(|g| g.name.eq_ignore_ascii_case(n));
        for safe in &self.safes {
            dup(
                &format!("account in safe {}", safe.name),
                safe.accounts.iter().map(|a| a.name.as_str()),
            )?;
            for m in &safe.members {
                let ok = match m.member_type {
                    MemberType::User => has_pvwa(&m.name),
                    MemberType::App => has_app(&m.name),
                    MemberType::Group => has_group(&m.name),
                };
                if !ok {
                    return bad(format!(
                        "safe {}: member `{}` of type {:?} is not defined",
                        safe.name, m.name, m.member_type
                    ));
                }
                m.permissions
                    .resolve(&format!("safe {} member {}", safe.name, m.name))?;
            }
            for a in &safe.accounts {
                if let Some(link) = &a.secret_of {
                    match (&link.pvwa_user, &link.confluence_user) {
                        (Some(u), None) if has_pvwa(u) => {}
                        (None, Some(u)) if has_conf(u) => {}
                        _ => {
                            return bad(format!(
                                "account {}/{}: secretOf must name exactly one defined pvwaUser or confluenceUser",
                                safe.name, a.name
                            ));
                        }
                    }
                }
            }
        }
        for g in &self.groups {
            for m in &g.members {
                if !has_conf(m) && !has_pvwa(m) {
                    return bad(format!(
                        "group {}: member `{m}` is not a defined user",
                        g.name
                    ));
                }
            }
        }
        for p in &self.pages {
            if !self.spaces.iter().any(|s| s.key == p.space) {
                return bad(format!(
                    "page `{}`: space {} is not defined",
                    p.title, p.space
                ));
            }
            if let Some(a) = &p.author
                && !has_conf(a)
            {
                return bad(format!(
                    "page `{}`: author {a} is not a Confluence user",
                    p.title
                ));
            }
        }
        let b = &self.bridge;
        if !has_app(&b.app_id) {
            return bad(format!(
                "bridge.appId `{}` is not a defined application",
                b.app_id
            ));
        }
        if !has_conf(&b.confluence_user) {
            return bad(format!(
                "bridge.confluenceUser `{}` is not a defined Confluence user",
                b.confluence_user
            ));
        }
        if !has_pvwa(&b.pvwa_user) {
            return bad(format!(
                "bridge.pvwaUser `{}` is not a defined PVWA user",
                b.pvwa_user
            ));
        }
        for safe in b.rotation.keys() {
            if !self.safes.iter().any(|s| &s.name == safe) {
                return bad(format!("bridge.rotation names unknown safe `{safe}`"));
            }
        }
        for (i, g) in b.grants.iter().enumerate() {
            if !has_group(&g.group) {
                return bad(format!(
                    "bridge.grants[{i}]: group `{}` is not defined",
                    g.group
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_seed_parses() {
        let seed = parse(crate::DEMO_SEED, "built-in demo").unwrap();
        assert_eq!(seed.safes.len(), 3);
        assert_eq!(seed.bridge.app_id, "arkbridge");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let text = crate::DEMO_SEED.replacen("bridge:", "colour: blue\nbridge:", 1);
        let err = parse(&text, "x").err().unwrap().to_string();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn bad_permission_set_is_named() {
        let text = crate::DEMO_SEED.replacen("permissions: full", "permissions: almighty", 1);
        let err = parse(&text, "x").err().unwrap().to_string();
        assert!(err.contains("almighty"), "{err}");
    }
}
