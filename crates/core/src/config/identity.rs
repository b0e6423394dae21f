//! The `[identity]` section of `arkbridge.toml`: where verified identities come from.
//!
//! `local-trusted` believes the `--as` e-mail against a list of users in the file; it is for local
//! tries only. `oidc` takes the identity from the company's OpenID Connect provider: the CLI signs
//! in with the device authorization grant (`arkbridge login`) and every command verifies the
//! cached token's signature. Groups come from the token's groups claim or, with
//! `groups_from = "ldap"`, from the directory (`[identity.ldap]`, whose bind password is a
//! [`ConfigSecret`] resolved through the CCP like the bridge's other credentials).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, ConfigSecret};

/// Where verified identities come from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    pub provider: IdentityProvider,
    /// For `local-trusted`: the directory of users and their groups.
    #[serde(default)]
    pub users: Vec<LocalUser>,
    /// For `oidc`: the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcSection>,
    /// For `oidc` with `groups_from = "ldap"`: the directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ldap: Option<LdapSection>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityProvider {
    /// The caller's claimed identity (`--as EMAIL`) is trusted. Development only.
    LocalTrusted,
    /// An OpenID Connect provider; the CLI signs in with `arkbridge login`.
    Oidc,
}

impl IdentityProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityProvider::LocalTrusted => "local-trusted",
            IdentityProvider::Oidc => "oidc",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LocalUser {
    pub email: String,
    #[serde(default)]
    pub groups: Vec<String>,
    /// The user's Confluence account id (Cloud) or username (Data Center), so that Confluence
    /// can be asked whether they may view a page and what role they hold in its space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confluence_account_id: Option<String>,
}

/// Where a verified user's groups come from.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum GroupsFrom {
    /// The token's groups claim.
    #[default]
    Token,
    /// The LDAP directory, looked up by the verified e-mail.
    Ldap,
}

/// `[identity.oidc]`: one OpenID Connect provider and arkbridge's public client at it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OidcSection {
    /// The issuer, exactly as in the tokens' `iss` (e.g. `https://x.okta.com/oauth2/default`).
    pub issuer: String,
    /// The CLI's public client id (device authorization grant; no secret).
    pub client_id: String,
    /// The `aud` of access tokens, when it is not the client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_audience: Option<String>,
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    #[serde(default = "default_email_claim")]
    pub email_claim: String,
    /// The claim holding the user's Confluence account id (e.g. `atlassian_account_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confluence_account_claim: Option<String>,
    /// A CA bundle for the provider instead of the Mozilla roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    #[serde(default)]
    pub groups_from: GroupsFrom,
}

/// `[identity.ldap]`: the fields of `arkbridge_identity::LdapConfig` (checked there, when the
/// directory is first used) plus the bind password.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LdapSection {
    /// The bind DN's password: a `cyberark://` reference.
    pub bind_password: ConfigSecret,
    /// Every other field, handed to `LdapConfig` as it is.
    #[serde(flatten)]
    pub settings: toml::Table,
}

fn default_groups_claim() -> String {
    "groups".into()
}
fn default_email_claim() -> String {
    "email".into()
}

impl IdentityConfig {
    pub(crate) fn validate(&self, allow_inline_secrets: bool) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        match self.provider {
            IdentityProvider::LocalTrusted => {
                if self.oidc.is_some() || self.ldap.is_some() {
                    return invalid(
                        "identity.oidc and identity.ldap are only used with provider = \"oidc\"",
                    );
                }
                Ok(())
            }
            IdentityProvider::Oidc => {
                let Some(oidc) = &self.oidc else {
                    return invalid(
                        "identity.provider = \"oidc\" needs an [identity.oidc] section with \
                         issuer and client_id",
                    );
                };
                if !self.users.is_empty() {
                    return invalid(
                        "identity.users is only for provider = \"local-trusted\"; with \"oidc\" \
                         users and groups come from the provider",
                    );
                }
                oidc.validate()?;
                match (oidc.groups_from, &self.ldap) {
                    (GroupsFrom::Ldap, None) => invalid(
                        "identity.oidc.groups_from = \"ldap\" needs an [identity.ldap] section",
                    ),
                    (GroupsFrom::Token, Some(_)) => invalid(
                        "[identity.ldap] is set but identity.oidc.groups_from is \"token\"; set \
                         groups_from = \"ldap\" or remove the section",
                    ),
                    (_, Some(ldap)) => ldap.validate(allow_inline_secrets),
                    (GroupsFrom::Token, None) => Ok(()),
                }
            }
        }
    }
}

impl OidcSection {
    fn validate(&self) -> Result<(), ConfigError> {
        // The full URL check happens in the verifier; here the scheme is what matters, because
        // a key set or token fetched without TLS would let anyone on the path mint identities.
        let host = self
            .issuer
            .trim()
            .strip_prefix("https://")
            .unwrap_or_default();
        if host.is_empty() || host.starts_with('/') || host.contains(char::is_whitespace) {
            return Err(ConfigError::Invalid(format!(
                "identity.oidc.issuer `{}` must be an https URL",
                self.issuer
            )));
        }
        for (field, value) in [
            ("client_id", Some(&self.client_id)),
            ("groups_claim", Some(&self.groups_claim)),
            ("email_claim", Some(&self.email_claim)),
            ("api_audience", self.api_audience.as_ref()),
            (
                "confluence_account_claim",
                self.confluence_account_claim.as_ref(),
            ),
        ] {
            if value.is_some_and(|v| v.trim().is_empty()) {
                return Err(ConfigError::Invalid(format!(
                    "identity.oidc.{field} is empty"
                )));
            }
        }
        Ok(())
    }
}

impl LdapSection {
    fn validate(&self, allow_inline_secrets: bool) -> Result<(), ConfigError> {
        if !allow_inline_secrets && matches!(self.bind_password, ConfigSecret::Inline(_)) {
            return Err(ConfigError::InlineSecret {
                field: "identity.ldap.bind_password",
            });
        }
        for field in ["url", "bind_dn", "user_base_dn", "group_base_dn"] {
            match self.settings.get(field) {
                Some(toml::Value::String(s)) if !s.trim().is_empty() => {}
                Some(toml::Value::String(_)) => {
                    return Err(ConfigError::Invalid(format!(
                        "identity.ldap.{field} is empty"
                    )));
                }
                Some(_) => {
                    return Err(ConfigError::Invalid(format!(
                        "identity.ldap.{field} must be a string"
                    )));
                }
                None => {
                    return Err(ConfigError::Invalid(format!(
                        "identity.ldap.{field} is missing"
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};

    const BASE: &str = r#"
data_dir = "data"

[cyberark.ccp]
url = "https://127.0.0.1:1"
app_id = "arkbridge"

[cyberark.pvwa]
url = "https://127.0.0.1:2"
username = "arkbridge-svc"
password = "cyberark://Integrations/pvwa"

[confluence]
url = "https://127.0.0.1:3"
user = "arkbridge@example.com"
token = "cyberark://Integrations/confluence"
"#;

    const OIDC: &str = r#"
[identity]
provider = "oidc"

[identity.oidc]
issuer = "https://idp.example.com/oauth2/default"
client_id = "arkbridge-cli"
confluence_account_claim = "atlassian_account_id"
"#;

    const LDAP: &str = r#"
[identity.ldap]
url = "ldaps://ldap.example.com"
bind_dn = "cn=arkbridge,ou=svc,dc=example,dc=com"
user_base_dn = "ou=people,dc=example,dc=com"
group_base_dn = "ou=groups,dc=example,dc=com"
bind_password = "cyberark://Integrations/ldap-bind"
"#;

    fn parse(identity: &str) -> Result<Config, ConfigError> {
        Config::parse(&format!("{BASE}\n{identity}"))
    }

    fn error(identity: &str) -> String {
        parse(identity).unwrap_err().to_string()
    }

    #[test]
    fn oidc_section_parses_with_claim_defaults() {
        let c = parse(OIDC).unwrap();
        let oidc = c.identity.oidc.as_ref().unwrap();
        assert_eq!(oidc.groups_claim, "groups");
        assert_eq!(oidc.email_claim, "email");
        assert_eq!(oidc.groups_from, super::GroupsFrom::Token);
        assert_eq!(
            oidc.confluence_account_claim.as_deref(),
            Some("atlassian_account_id")
        );
        assert_eq!(Config::parse(&c.to_toml()).unwrap(), c);
    }

    #[test]
    fn oidc_without_its_section_or_with_bad_fields_is_refused() {
        assert!(error("[identity]\nprovider = \"oidc\"").contains("[identity.oidc]"));
        let http = OIDC.replace("https://idp", "http://idp");
        assert!(error(&http).contains("must be an https URL"));
        let empty = OIDC.replace("\"arkbridge-cli\"", "\" \"");
        assert!(error(&empty).contains("identity.oidc.client_id is empty"));
        let users = OIDC.replace(
            "provider = \"oidc\"",
            "provider = \"oidc\"\nusers = [{ email = \"a@example.com\" }]",
        );
        assert!(error(&users).contains("identity.users"));
        let unknown = format!("{OIDC}colour = \"blue\"\n");
        assert!(parse(&unknown).is_err());
    }

    #[test]
    fn ldap_groups_need_a_complete_ldap_section_with_a_reference() {
        let with_ldap = format!("{OIDC}groups_from = \"ldap\"\n");
        assert!(error(&with_ldap).contains("needs an [identity.ldap] section"));
        let c = parse(&format!("{with_ldap}{LDAP}")).unwrap();
        let ldap = c.identity.ldap.as_ref().unwrap();
        assert!(ldap.settings.contains_key("bind_dn"));
        assert!(!ldap.settings.contains_key("bind_password"));
        assert_eq!(Config::parse(&c.to_toml()).unwrap(), c);
        let missing = LDAP.replace("group_base_dn", "# group_base_dn");
        assert!(
            error(&format!("{with_ldap}{missing}"))
                .contains("identity.ldap.group_base_dn is missing")
        );
        let inline = LDAP.replace("cyberark://Integrations/ldap-bind", "hunter2-bind");
        let err = parse(&format!("{with_ldap}{inline}"))
            .unwrap()
            .check_inline_secrets(false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("identity.ldap.bind_password"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(error(&format!("{OIDC}{LDAP}")).contains("groups_from"));
    }

    #[test]
    fn local_trusted_refuses_oidc_settings() {
        let text = OIDC.replace("provider = \"oidc\"", "provider = \"local-trusted\"");
        assert!(error(&text).contains("only used with provider = \"oidc\""));
    }
}
