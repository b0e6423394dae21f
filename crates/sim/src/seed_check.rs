//! Seed validation: names are unique, members, links, pages, grants and the bridge settings
//! refer to things the seed defines. Runs before any state is built, so a bad seed is a clear
//! [`SimError::SeedInvalid`] and never a half-started simulator.

use std::collections::BTreeSet;

use crate::error::SimError;
use crate::seed::{AuthType, MemberType, Seed, parse_expiration};

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
    pub(crate) fn validate(&self) -> Result<(), SimError> {
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
        dup("platform", self.platforms.iter().map(|p| p.id.as_str()))?;
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
        let is_provider = |n: &str| {
            self.provider_user
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case(n))
        };
        if let Some(p) = &self.provider_user
            && (p.trim().is_empty() || has_pvwa(p) || has_app(p) || has_group(p))
        {
            return bad(format!(
                "providerUser `{p}` must be a name of its own (not a PVWA user, application or group)"
            ));
        }
        for u in &self.pvwa_users {
            if u.radius_otp.is_some() && u.auth_type != AuthType::Radius {
                return bad(format!(
                    "PVWA user {}: radiusOtp needs authType RADIUS",
                    u.username
                ));
            }
        }
        for a in &self.applications {
            if let Some(d) = &a.expiration_date
                && parse_expiration(d).is_none()
            {
                return bad(format!(
                    "application {}: expirationDate `{d}` is not YYYY-MM-DD or an RFC 3339 time",
                    a.name
                ));
            }
        }
        if self.ispss_subdomain.trim().is_empty() {
            return bad("ispssSubdomain is empty".into());
        }
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
                    MemberType::Provider => is_provider(&m.name),
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
        // The generated arkbridge.toml logs the bridge on with `auth_method = "CyberArk"`.
        if self.pvwa_users.iter().any(|u| {
            u.username.eq_ignore_ascii_case(&b.pvwa_user) && u.auth_type != AuthType::CyberArk
        }) {
            return bad(format!(
                "bridge.pvwaUser `{}` must use authType CyberArk (the generated config logs on so)",
                b.pvwa_user
            ));
        }
        for safe in b.rotation.keys() {
            if !self.safes.iter().any(|s| &s.name == safe) {
                return bad(format!("bridge.rotation names unknown safe `{safe}`"));
            }
        }
        for (i, g) in b.grants.iter().enumerate() {
            // A grant may instead name a Confluence space role, which needs no group.
            if let Some(group) = &g.group
                && !has_group(group)
            {
                return bad(format!(
                    "bridge.grants[{i}]: group `{group}` is not defined"
                ));
            }
        }
        Ok(())
    }
}
