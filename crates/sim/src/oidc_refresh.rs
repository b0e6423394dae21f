//! Refresh tokens and the `refresh_token` grant (RFC 6749 §6), as Okta issues them: only to a
//! grant that holds scope `offline_access`, rotated on every use, and with reuse detection (the
//! OAuth 2.0 Security BCP, RFC 9700 §4.14.2): presenting a refresh token that was already spent
//! revokes its whole family (every refresh token descended from the same sign-in, and the access
//! tokens they yielded), since either the client or an attacker holds a stolen copy.
//!
//! Only a SHA-256 digest of each refresh token is kept, so the provider's memory holds nothing a
//! client could present.

use axum::http::StatusCode;
use axum::response::Response;
use sha2::{Digest, Sha256};

use crate::idp::IdpState;
use crate::idp_http::{OAuthParams, oauth_error};
use crate::idp_keys::{b64, random_b64};
use crate::idp_seed::OidcClient;
use crate::oidc::{self, Grant, parse_scopes};

/// The scope that asks for a refresh token.
pub(crate) const OFFLINE_ACCESS: &str = "offline_access";

/// The description of every refused refresh token, whatever the reason, so that a caller learns
/// nothing about which tokens exist.
const INVALID: &str = "The refresh token is invalid or expired.";

/// What a refresh token stands for, keyed by the digest of the token.
pub(crate) struct RefreshGrant {
    client_id: String,
    email: String,
    scopes: Vec<String>,
    auth_time: i64,
    /// The id shared by every token rotated from the same sign-in.
    family: String,
    /// Spent by a refresh; presenting it again revokes the family.
    used: bool,
    /// The `jti` of the access token issued with it.
    access_jti: String,
}

fn digest(token: &str) -> String {
    b64(&Sha256::digest(token.as_bytes()))
}

/// Mints a refresh token for `g` in a new family and remembers it.
pub(crate) fn mint(s: &IdpState, g: &Grant<'_>, access_jti: &str) -> String {
    let token = random_b64(32);
    s.flows().refresh.insert(
        digest(&token),
        RefreshGrant {
            client_id: g.client_id.to_string(),
            email: g.user.email.clone(),
            scopes: g.scopes.to_vec(),
            auth_time: g.auth_time,
            family: random_b64(12),
            used: false,
            access_jti: access_jti.to_string(),
        },
    );
    token
}

/// Revokes every refresh token of `family` and the access tokens they yielded.
fn revoke_family(s: &IdpState, family: &str) -> usize {
    let mut flows = s.flows();
    let mut jtis = Vec::new();
    flows.refresh.retain(|_, r| {
        if r.family == family {
            jtis.push(std::mem::take(&mut r.access_jti));
            false
        } else {
            true
        }
    });
    let count = jtis.len();
    flows.revoked.extend(jtis);
    count
}

/// The token endpoint's `grant_type=refresh_token`.
pub(crate) fn grant(s: &IdpState, client: &OidcClient, p: &OAuthParams) -> Response {
    let bad =
        |error: &str, description: &str| oauth_error(StatusCode::BAD_REQUEST, error, description);
    let Some(token) = p.get("refresh_token") else {
        return bad(
            "invalid_request",
            "The 'refresh_token' parameter is required.",
        );
    };
    // A refresh may narrow the scopes, never widen them (RFC 6749 §6).
    let asked = match p.get("scope").map(|a| parse_scopes(Some(a))).transpose() {
        Ok(asked) => asked,
        Err(msg) => return bad("invalid_scope", &msg),
    };
    let key = digest(token);
    let (email, scopes, auth_time, family) = {
        let mut flows = s.flows();
        let Some(r) = flows.refresh.get_mut(&key) else {
            return bad("invalid_grant", INVALID);
        };
        if r.client_id != client.id {
            return bad("invalid_grant", INVALID);
        }
        if r.used {
            let family = r.family.clone();
            drop(flows);
            let revoked = revoke_family(s, &family);
            tracing::warn!(
                tokens = revoked,
                "identity: a spent refresh token was presented again; its family is revoked"
            );
            return bad("invalid_grant", INVALID);
        }
        let scopes = match asked {
            None => r.scopes.clone(),
            Some(asked) if asked.iter().all(|a| r.scopes.contains(a)) => asked,
            Some(_) => {
                return bad(
                    "invalid_scope",
                    "The requested scope exceeds the scope granted by the resource owner.",
                );
            }
        };
        r.used = true;
        (r.email.clone(), scopes, r.auth_time, r.family.clone())
    };
    let Some(user) = s.user(&email) else {
        return bad("invalid_grant", INVALID);
    };
    let grant = Grant {
        user,
        client_id: &client.id,
        scopes: &scopes,
        nonce: None,
        auth_time,
    };
    match oidc::issue(s, &grant) {
        Ok(issued) => {
            // The new refresh token joins the family of the one it replaces, so that a later
            // reuse of any of them revokes all.
            if let Some(new) = &issued.refresh_token
                && let Some(r) = s.flows().refresh.get_mut(&digest(new))
            {
                r.family = family;
            }
            tracing::info!(
                user = user.email,
                client = client.id,
                "identity: tokens refreshed"
            );
            issued.response
        }
        Err(r) => r,
    }
}
