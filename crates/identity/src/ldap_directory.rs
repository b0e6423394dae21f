//! The LDAP directory client: from an e-mail address or a user name to the user's groups.
//!
//! Each lookup opens its own session (connect, bind, searches, unbind), so a lookup never
//! depends on the state a previous one left behind and a directory that went away is noticed on
//! the next call. The lookup fails closed: exactly one user must match, and every problem on the
//! way (no server, a refused bind, a timeout, a malformed answer) is an error, never an empty
//! group list.

use std::fmt;

use ldap3::Scope;
use secrecy::{ExposeSecret, SecretString};

use crate::ldap_config::{LdapConfig, Settings};
use crate::ldap_error::LdapError;
use crate::ldap_filter::FilterTemplate;
use crate::ldap_groups::{self, UserGroups};
use crate::ldap_session::{Query, SIZE_LIMIT_EXCEEDED, Session};

/// Longest e-mail address or user name accepted, in bytes; real ones are far shorter.
const MAX_INPUT_LEN: usize = 512;

/// A configured directory. Cheap to share behind an `Arc`; lookups may run concurrently.
pub struct LdapDirectory {
    settings: Settings,
    bind_password: SecretString,
}

impl fmt::Debug for LdapDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapDirectory")
            .field("server", &self.settings.server)
            .field("bind_dn", &self.settings.bind_dn)
            .field("bind_password", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// What a lookup starts from.
#[derive(Clone, Copy)]
enum Lookup<'a> {
    Email(&'a str),
    Username(&'a str),
}

impl Lookup<'_> {
    fn describe(self) -> String {
        match self {
            Self::Email(email) => format!("e-mail `{email}`"),
            Self::Username(name) => format!("user name `{name}`"),
        }
    }
}

impl LdapDirectory {
    /// Checks the settings (and reads the CA file) without contacting the server.
    ///
    /// An empty password is refused: an LDAP simple bind with a DN and an empty password is an
    /// "unauthenticated bind" (RFC 4513 §5.1.2) that many servers answer with success.
    pub fn new(config: &LdapConfig, bind_password: SecretString) -> Result<Self, LdapError> {
        let settings = config.validate()?;
        if bind_password.expose_secret().is_empty() {
            return Err(LdapError::Config(format!(
                "the bind password for `{}` is empty",
                settings.bind_dn
            )));
        }
        Ok(Self {
            settings,
            bind_password,
        })
    }

    /// The server, as it appears in error messages (`ldaps://host:636`).
    pub fn server(&self) -> &str {
        &self.settings.server
    }

    /// The groups of the one user whose entry matches `email` through `email_filter`.
    pub async fn groups_for_email(&self, email: &str) -> Result<UserGroups, LdapError> {
        self.groups_for(Lookup::Email(email)).await
    }

    /// The groups of the one user whose entry matches `username` through `username_filter`.
    pub async fn groups_for_username(&self, username: &str) -> Result<UserGroups, LdapError> {
        self.groups_for(Lookup::Username(username)).await
    }

    async fn groups_for(&self, lookup: Lookup<'_>) -> Result<UserGroups, LdapError> {
        let (value, template, placeholder): (&str, &FilterTemplate, &str) = match lookup {
            Lookup::Email(email) => (email, &self.settings.email_filter, "email"),
            Lookup::Username(name) => (name, &self.settings.username_filter, "username"),
        };
        let value = check_input(value, placeholder)?;
        let filter = template
            .render(|_| Some(value.to_string()))
            .ok_or_else(|| LdapError::Config(format!("{} cannot be filled", template.source())))?;
        let mut session = Session::open(&self.settings, &self.bind_password).await?;
        let result = self.lookup(&mut session, lookup, &filter).await;
        // A server that stopped answering would only make the unbind wait out another timeout;
        // dropping the session closes the socket anyway.
        if !matches!(&result, Err(e) if e.is_unavailable()) {
            session.close().await;
        }
        let found = result?;
        tracing::debug!(
            server = %self.settings.server,
            user = %found.user_dn,
            groups = found.groups.len(),
            "LDAP groups resolved"
        );
        Ok(found)
    }

    async fn lookup(
        &self,
        session: &mut Session<'_>,
        lookup: Lookup<'_>,
        filter: &str,
    ) -> Result<UserGroups, LdapError> {
        let settings = &self.settings;
        let attrs = ldap_groups::user_attributes(settings);
        // Two entries are enough to know the match is not unique.
        let outcome = session
            .search(Query {
                operation: "user search",
                base: &settings.user_base_dn,
                scope: Scope::Subtree,
                filter,
                attrs: &attrs,
                size_limit: 2,
                accept: &[SIZE_LIMIT_EXCEEDED],
            })
            .await?;
        let truncated = outcome.code == SIZE_LIMIT_EXCEEDED;
        let mut entries = outcome.entries;
        if entries.len() > 1 || truncated {
            return Err(LdapError::AmbiguousUser {
                server: settings.server.clone(),
                base: settings.user_base_dn.clone(),
                lookup: lookup.describe(),
                dns: entries.into_iter().map(|e| e.dn).collect(),
                truncated,
            });
        }
        let Some(user) = entries.pop() else {
            return Err(LdapError::UserNotFound {
                server: settings.server.clone(),
                base: settings.user_base_dn.clone(),
                lookup: lookup.describe(),
            });
        };
        let groups = ldap_groups::resolve(session, settings, &user).await?;
        Ok(UserGroups {
            user_dn: user.dn,
            groups,
        })
    }
}

/// Trims the input and refuses empty or oversized values before anything is sent.
fn check_input<'v>(value: &'v str, what: &str) -> Result<&'v str, LdapError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(LdapError::InvalidInput(format!("the {what} is empty")));
    }
    if trimmed.len() > MAX_INPUT_LEN {
        return Err(LdapError::InvalidInput(format!(
            "the {what} is longer than {MAX_INPUT_LEN} bytes"
        )));
    }
    Ok(trimmed)
}
