//! The verified user handed to policy: who (subject, email), in which groups, and proven by what.

use std::fmt;

use serde_json::Value;

use crate::claims::Claims;
use crate::error::IdentityError;

/// What proved an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentitySource {
    /// A Forge Invocation Token from the Confluence Cloud site `cloud_id`.
    Forge { cloud_id: String },
    /// An OIDC ID token from `issuer`.
    OidcIdToken { issuer: String },
    /// An OIDC access token from `issuer`.
    OidcAccessToken { issuer: String },
}

impl fmt::Display for IdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentitySource::Forge { cloud_id } => {
                write!(f, "forge invocation token (site {cloud_id})")
            }
            IdentitySource::OidcIdToken { issuer } => write!(f, "OIDC ID token ({issuer})"),
            IdentitySource::OidcAccessToken { issuer } => {
                write!(f, "OIDC access token ({issuer})")
            }
        }
    }
}

/// A user whose identity was proven by a verified signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedUser {
    /// The issuer's stable id for the user (`sub`, or the Confluence account id).
    pub subject: String,
    /// The user's email, when the issuer asserted one (and did not mark it unverified).
    pub email: Option<String>,
    /// Group names from the token's groups claim (empty when the token carries none).
    pub groups: Vec<String>,
    /// What proved the identity.
    pub source: IdentitySource,
    /// When the proof expires (Unix seconds); a session built on it must not outlive it.
    pub expires_at: i64,
}

/// The value at `path`: first the whole string as one claim name (namespaced claims such as
/// `https://example.com/groups` contain dots), then as a dot-separated path into nested objects
/// (`realm_access.roles`).
pub(crate) fn claim_at<'a>(claims: &'a Claims, path: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut current = claims.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// The group names at `path`: an array of strings, a single string, or nothing.
pub(crate) fn groups_at(claims: &Claims, path: &str) -> Result<Vec<String>, IdentityError> {
    let invalid = || IdentityError::InvalidClaim {
        claim: path.to_string(),
        reason: "groups must be a string or an array of strings".into(),
    };
    let mut groups: Vec<String> = match claim_at(claims, path) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(invalid))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid()),
    };
    groups.retain(|g| !g.is_empty());
    let mut seen = std::collections::HashSet::new();
    groups.retain(|g| seen.insert(g.clone()));
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(v: Value) -> Claims {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn groups_from_flat_nested_and_namespaced_claims() {
        let c = claims(json!({
            "groups": ["ops", "dba", "ops", ""],
            "realm_access": {"roles": ["admin"]},
            "https://example.com/groups": "single",
        }));
        assert_eq!(groups_at(&c, "groups").unwrap(), ["ops", "dba"]);
        assert_eq!(groups_at(&c, "realm_access.roles").unwrap(), ["admin"]);
        assert_eq!(
            groups_at(&c, "https://example.com/groups").unwrap(),
            ["single"]
        );
        assert!(groups_at(&c, "missing").unwrap().is_empty());
        assert!(groups_at(&c, "realm_access.missing").unwrap().is_empty());
    }

    #[test]
    fn groups_of_the_wrong_type_are_refused() {
        for bad in [
            json!({"groups": 5}),
            json!({"groups": ["a", 1]}),
            json!({"groups": {"a": 1}}),
        ] {
            assert!(matches!(
                groups_at(&claims(bad), "groups"),
                Err(IdentityError::InvalidClaim { .. })
            ));
        }
    }

    #[test]
    fn sources_display_their_origin() {
        let s = IdentitySource::OidcIdToken {
            issuer: "https://idp".into(),
        };
        assert_eq!(s.to_string(), "OIDC ID token (https://idp)");
    }
}
