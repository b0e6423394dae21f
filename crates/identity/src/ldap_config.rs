//! The LDAP directory settings and their validation.
//!
//! [`LdapConfig`] is what an administrator writes (it deserialises from the `arkbridge.toml`
//! section); the bind password is not part of it, because in the file it is a `cyberark://`
//! reference that the engine resolves and hands over as a `SecretString`.
//! [`LdapConfig::validate`] turns the settings into the checked form the client runs on, so that
//! every mistake (a plain `ldap://` URL, a filter without its placeholder, an unparsable base DN)
//! is reported when the bridge starts, before any user is looked up.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::ldap_dn::NormalizedDn;
use crate::ldap_error::LdapError;
use crate::ldap_filter::FilterTemplate;

/// How the groups of a user are found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum GroupStrategy {
    /// Read a `memberOf`-style attribute of the user, and of each group for nesting (OpenLDAP's
    /// memberof overlay, Active Directory, 389 Directory Server).
    MemberOf {
        #[serde(default = "default_member_of")]
        attribute: String,
    },
    /// Search the group base with a filter template: `{dn}` is the member's DN and `{uid}` the
    /// member's `uid_attribute` value, e.g. `(&(objectClass=groupOfNames)(member={dn}))` or
    /// `(&(objectClass=posixGroup)(memberUid={uid}))`. Nested groups are found by searching
    /// again with a group's DN as `{dn}`; a template that uses `{uid}` lists user names only and
    /// so cannot nest.
    Search { filter: String },
}

impl Default for GroupStrategy {
    fn default() -> Self {
        Self::MemberOf {
            attribute: default_member_of(),
        }
    }
}

/// The administrator's LDAP settings (all but the bind password).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldaps://host[:port]`, `ldap://host[:port]` (StartTLS is then required) or
    /// `ldapi://<percent-encoded socket path>`.
    pub url: String,
    /// The service account the bridge binds as.
    pub bind_dn: String,
    /// Where users are searched (whole subtree).
    pub user_base_dn: String,
    /// Where groups live: the search base for [`GroupStrategy::Search`], and the subtree outside
    /// of which `memberOf` values are ignored for [`GroupStrategy::MemberOf`].
    pub group_base_dn: String,
    /// Finds the user for an e-mail address; must use `{email}`.
    #[serde(default = "default_email_filter")]
    pub email_filter: String,
    /// Finds the user for a user name; must use `{username}`.
    #[serde(default = "default_username_filter")]
    pub username_filter: String,
    /// The user attribute that fills `{uid}` in a group search filter.
    #[serde(default = "default_uid_attribute")]
    pub uid_attribute: String,
    #[serde(default)]
    pub groups: GroupStrategy,
    /// The group attribute that names a group (what grants refer to).
    #[serde(default = "default_group_name_attribute")]
    pub group_name_attribute: String,
    /// Follow groups that are members of groups.
    #[serde(default = "default_true")]
    pub nested_groups: bool,
    /// Levels of groups followed, the user's direct groups being level 1. A group deeper than
    /// this is an error rather than a silently shorter list.
    #[serde(default = "default_max_depth")]
    pub max_nesting_depth: u32,
    /// PEM bundle of the CA(s) that sign the directory's certificate; Mozilla roots if unset.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Development only: allow an `ldap://` URL without StartTLS, i.e. the bind password in the
    /// clear on the network.
    #[serde(default)]
    pub allow_plaintext_for_development: bool,
    #[serde(
        rename = "connect_timeout_secs",
        default = "default_connect_timeout",
        deserialize_with = "seconds",
        serialize_with = "as_seconds"
    )]
    pub connect_timeout: Duration,
    #[serde(
        rename = "operation_timeout_secs",
        default = "default_operation_timeout",
        deserialize_with = "seconds",
        serialize_with = "as_seconds"
    )]
    pub operation_timeout: Duration,
}

impl LdapConfig {
    /// Settings with the defaults for everything but the four required values.
    pub fn new(url: &str, bind_dn: &str, user_base_dn: &str, group_base_dn: &str) -> Self {
        Self {
            url: url.to_string(),
            bind_dn: bind_dn.to_string(),
            user_base_dn: user_base_dn.to_string(),
            group_base_dn: group_base_dn.to_string(),
            email_filter: default_email_filter(),
            username_filter: default_username_filter(),
            uid_attribute: default_uid_attribute(),
            groups: GroupStrategy::default(),
            group_name_attribute: default_group_name_attribute(),
            nested_groups: true,
            max_nesting_depth: default_max_depth(),
            ca_file: None,
            allow_plaintext_for_development: false,
            connect_timeout: default_connect_timeout(),
            operation_timeout: default_operation_timeout(),
        }
    }
}

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Ldaps,
    StartTls,
    /// A Unix socket on this host: nothing crosses the network.
    Ldapi,
    /// Development only, allowed by `allow_plaintext_for_development`.
    Plain,
}

/// How groups are found, checked.
#[derive(Debug, Clone)]
pub(crate) enum Strategy {
    MemberOf { attribute: String },
    Search { filter: FilterTemplate },
}

/// The checked settings the client runs on.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) url: String,
    /// `scheme://host:port` or `ldapi://path`, for messages.
    pub(crate) server: String,
    pub(crate) transport: Transport,
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    pub(crate) bind_dn: String,
    pub(crate) user_base_dn: String,
    pub(crate) group_base_dn: String,
    pub(crate) group_base: NormalizedDn,
    pub(crate) email_filter: FilterTemplate,
    pub(crate) username_filter: FilterTemplate,
    pub(crate) uid_attribute: String,
    pub(crate) strategy: Strategy,
    pub(crate) group_name_attribute: String,
    pub(crate) nested_groups: bool,
    pub(crate) max_nesting_depth: u32,
    pub(crate) connect_timeout: Duration,
    pub(crate) operation_timeout: Duration,
}

impl LdapConfig {
    /// Checks every setting; reads the CA file.
    pub(crate) fn validate(&self) -> Result<Settings, LdapError> {
        let (server, transport) = check_url(&self.url, self.allow_plaintext_for_development)?;
        let tls = match transport {
            Transport::Ldaps | Transport::StartTls => {
                Some(crate::ldap_tls::client_config(self.ca_file.as_deref())?)
            }
            Transport::Ldapi | Transport::Plain => None,
        };
        let bind_dn = check_dn(&self.bind_dn, "bind_dn")?;
        let user_base_dn = check_dn(&self.user_base_dn, "user_base_dn")?;
        let group_base_dn = check_dn(&self.group_base_dn, "group_base_dn")?;
        let group_base = NormalizedDn::parse(&group_base_dn).map_err(LdapError::Config)?;
        let strategy = match &self.groups {
            GroupStrategy::MemberOf { attribute } => Strategy::MemberOf {
                attribute: check_attribute(attribute, "groups.attribute")?,
            },
            GroupStrategy::Search { filter } => Strategy::Search {
                filter: FilterTemplate::parse(filter, &["dn", "uid"], "groups.filter")?,
            },
        };
        if self.max_nesting_depth == 0 {
            return Err(LdapError::Config(
                "max_nesting_depth must be at least 1 (the user's direct groups)".into(),
            ));
        }
        for (timeout, name) in [
            (self.connect_timeout, "connect_timeout_secs"),
            (self.operation_timeout, "operation_timeout_secs"),
        ] {
            if timeout.is_zero() {
                return Err(LdapError::Config(format!("{name} must be positive")));
            }
        }
        Ok(Settings {
            url: self.url.trim().to_string(),
            server,
            transport,
            tls,
            bind_dn,
            user_base_dn,
            group_base_dn,
            group_base,
            email_filter: FilterTemplate::parse(&self.email_filter, &["email"], "email_filter")?,
            username_filter: FilterTemplate::parse(
                &self.username_filter,
                &["username"],
                "username_filter",
            )?,
            uid_attribute: check_attribute(&self.uid_attribute, "uid_attribute")?,
            strategy,
            group_name_attribute: check_attribute(
                &self.group_name_attribute,
                "group_name_attribute",
            )?,
            nested_groups: self.nested_groups,
            max_nesting_depth: self.max_nesting_depth,
            connect_timeout: self.connect_timeout,
            operation_timeout: self.operation_timeout,
        })
    }
}

/// Returns the server's name for messages and the transport the URL asks for.
fn check_url(raw: &str, allow_plaintext: bool) -> Result<(String, Transport), LdapError> {
    let raw = raw.trim();
    let shown = without_userinfo(raw);
    let bad = |reason: &str| LdapError::Config(format!("LDAP url `{shown}` {reason}"));
    let url = url::Url::parse(raw).map_err(|e| bad(&format!("is invalid: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry a user name or password"));
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "must not carry a DN, query or fragment; use the *_base_dn settings",
        ));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("has no host (or, for ldapi://, no socket path)"))?;
    let transport = match url.scheme() {
        "ldaps" => Transport::Ldaps,
        "ldap" if allow_plaintext => Transport::Plain,
        "ldap" => Transport::StartTls,
        "ldapi" => Transport::Ldapi,
        other => return Err(bad(&format!("has the unsupported scheme `{other}`"))),
    };
    let server = match transport {
        Transport::Ldapi => {
            if url.port().is_some() {
                return Err(bad("must not have a port: ldapi:// names a Unix socket"));
            }
            let path = percent_encoding::percent_decode_str(host).decode_utf8_lossy();
            format!("ldapi://{path}")
        }
        _ => {
            let port = url.port().unwrap_or(if transport == Transport::Ldaps {
                636
            } else {
                389
            });
            format!("{}://{host}:{port}", url.scheme())
        }
    };
    Ok((server, transport))
}

/// The URL with any `user:password@` part cut out, so that a message never repeats a password
/// someone put in the URL.
fn without_userinfo(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => raw.to_string(),
    }
}

fn check_dn(dn: &str, what: &str) -> Result<String, LdapError> {
    let dn = dn.trim();
    if dn.is_empty() {
        return Err(LdapError::Config(format!("{what} must not be empty")));
    }
    NormalizedDn::parse(dn).map_err(|e| LdapError::Config(format!("{what}: {e}")))?;
    Ok(dn.to_string())
}

fn check_attribute(name: &str, what: &str) -> Result<String, LdapError> {
    let name = name.trim();
    let descr = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let oid = !name.is_empty()
        && name
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()));
    if descr || oid {
        Ok(name.to_string())
    } else {
        Err(LdapError::Config(format!(
            "{what} `{name}` is not an LDAP attribute name"
        )))
    }
}

fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let secs = f64::deserialize(deserializer)?;
    Duration::try_from_secs_f64(secs).map_err(|_| {
        serde::de::Error::custom(format!("`{secs}` is not a usable number of seconds"))
    })
}

fn as_seconds<S: serde::Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(value.as_secs_f64())
}

fn default_member_of() -> String {
    "memberOf".into()
}
fn default_email_filter() -> String {
    "(&(objectClass=inetOrgPerson)(mail={email}))".into()
}
fn default_username_filter() -> String {
    "(&(objectClass=inetOrgPerson)(uid={username}))".into()
}
fn default_uid_attribute() -> String {
    "uid".into()
}
fn default_group_name_attribute() -> String {
    "cn".into()
}
fn default_true() -> bool {
    true
}
fn default_max_depth() -> u32 {
    10
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_operation_timeout() -> Duration {
    Duration::from_secs(10)
}
