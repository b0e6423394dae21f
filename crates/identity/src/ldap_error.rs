//! The typed errors of the LDAP directory client.
//!
//! Every failure is its own variant so that a caller can tell a directory that is down from a
//! directory that refused the service account, and both from a user that does not exist. Every
//! variant that involves the network names the server (as `scheme://host:port`, never with user
//! information), and no variant can carry the bind password: the password is only ever handed to
//! the bind request and never formatted.

use std::time::Duration;

/// What went wrong while asking the directory for a user's groups.
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    /// The configuration cannot work; nothing was sent to any server.
    #[error("LDAP configuration is invalid: {0}")]
    Config(String),

    /// The e-mail address or user name to look up is unusable (empty or too long).
    #[error("LDAP lookup input is invalid: {0}")]
    InvalidInput(String),

    /// The server could not be reached at all (refused, no route, no such socket).
    #[error("LDAP server {server} is unreachable: {detail}")]
    Unreachable { server: String, detail: String },

    /// The server did not answer within the configured time.
    #[error("LDAP server {server} did not answer the {operation} within {timeout:?}")]
    Timeout {
        server: String,
        operation: &'static str,
        timeout: Duration,
    },

    /// TLS could not be established: StartTLS refused, an untrusted or mismatched certificate.
    #[error("TLS with LDAP server {server} failed: {detail}")]
    Tls { server: String, detail: String },

    /// The service account's bind was refused (wrong password, locked account, TLS required).
    #[error(
        "LDAP server {server} refused the bind as `{bind_dn}`: {code_name} (result code {code}){}",
        diagnostic_suffix(.diagnostic)
    )]
    BindRefused {
        server: String,
        bind_dn: String,
        code: u32,
        code_name: &'static str,
        diagnostic: String,
    },

    /// No user entry matches the lookup.
    #[error("no LDAP user matches {lookup} under `{base}` on {server}")]
    UserNotFound {
        server: String,
        base: String,
        lookup: String,
    },

    /// More than one user entry matches, so the lookup cannot say who the person is.
    #[error(
        "{} LDAP users match {lookup} under `{base}` on {server} ({}); expected exactly one",
        count_text(.dns.len(), *.truncated),
        .dns.join("; ")
    )]
    AmbiguousUser {
        server: String,
        base: String,
        lookup: String,
        /// The DNs of the matching entries the server returned.
        dns: Vec<String>,
        /// The server stopped at the size limit, so there may be more matches.
        truncated: bool,
    },

    /// An entry the lookup depends on lacks an attribute it must have.
    #[error("LDAP entry `{dn}` on {server} has no `{attribute}` attribute")]
    MissingAttribute {
        server: String,
        dn: String,
        attribute: String,
    },

    /// Group nesting goes deeper than the configured limit.
    #[error(
        "LDAP groups of `{user_dn}` on {server} nest deeper than {limit} levels (reached `{group_dn}`)"
    )]
    NestingTooDeep {
        server: String,
        user_dn: String,
        group_dn: String,
        limit: u32,
    },

    /// An operation other than the bind failed with an LDAP result code.
    #[error(
        "LDAP {operation} on {server} failed: {code_name} (result code {code}){}",
        diagnostic_suffix(.diagnostic)
    )]
    Operation {
        server: String,
        operation: &'static str,
        code: u32,
        code_name: &'static str,
        diagnostic: String,
    },

    /// The server sent something this client cannot read, or the connection broke mid-way.
    #[error("LDAP server {server} broke the {operation}: {detail}")]
    Protocol {
        server: String,
        operation: &'static str,
        detail: String,
    },
}

impl LdapError {
    /// True when the directory could not be asked at all (down, slow, TLS broken), as opposed to
    /// having answered. Either way no groups are returned; this only helps a caller word its
    /// message or decide to retry later.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. } | Self::Timeout { .. } | Self::Protocol { .. }
        )
    }
}

fn diagnostic_suffix(diagnostic: &str) -> String {
    if diagnostic.is_empty() {
        String::new()
    } else {
        format!(": {diagnostic}")
    }
}

fn count_text(count: usize, truncated: bool) -> String {
    if truncated {
        format!("at least {count}")
    } else {
        count.to_string()
    }
}

/// The RFC 4511 name of an LDAP result code, for error messages.
pub(crate) fn result_code_name(code: u32) -> &'static str {
    match code {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        54 => "loopDetect",
        80 => "other",
        _ => "unknown result code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_refusal_names_server_account_and_code() {
        let err = LdapError::BindRefused {
            server: "ldaps://ldap.example.test:636".into(),
            bind_dn: "cn=arkbridge,ou=services,dc=example,dc=test".into(),
            code: 49,
            code_name: result_code_name(49),
            diagnostic: String::new(),
        };
        assert_eq!(
            err.to_string(),
            "LDAP server ldaps://ldap.example.test:636 refused the bind as \
             `cn=arkbridge,ou=services,dc=example,dc=test`: invalidCredentials (result code 49)"
        );
        assert!(!err.is_unavailable());
    }

    #[test]
    fn ambiguous_user_lists_the_matches_and_says_when_there_may_be_more() {
        let err = LdapError::AmbiguousUser {
            server: "ldap://x:389".into(),
            base: "ou=people,dc=x".into(),
            lookup: "e-mail `a@x`".into(),
            dns: vec!["uid=a,ou=people,dc=x".into(), "uid=b,ou=people,dc=x".into()],
            truncated: true,
        };
        let text = err.to_string();
        assert!(
            text.starts_with("at least 2 LDAP users match e-mail `a@x`"),
            "{text}"
        );
        assert!(
            text.contains("uid=a,ou=people,dc=x; uid=b,ou=people,dc=x"),
            "{text}"
        );
    }

    #[test]
    fn unreachable_and_timeout_count_as_unavailable() {
        let unreachable = LdapError::Unreachable {
            server: "ldap://x:389".into(),
            detail: "connection refused".into(),
        };
        let timeout = LdapError::Timeout {
            server: "ldap://x:389".into(),
            operation: "connect",
            timeout: Duration::from_secs(5),
        };
        assert!(unreachable.is_unavailable() && timeout.is_unavailable());
        assert_eq!(
            timeout.to_string(),
            "LDAP server ldap://x:389 did not answer the connect within 5s"
        );
    }
}
