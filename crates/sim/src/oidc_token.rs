//! The token endpoint (`{issuer}/v1/token`): client authentication (RFC 6749 §2.3:
//! `client_secret_basic`, `client_secret_post`, or none for a public client) and the
//! authorization code grant with PKCE (RFC 6749 §4.1.3, RFC 7636 §4.6). The device code grant's
//! polling is in [`crate::oidc_device`], the refresh token grant in [`crate::oidc_refresh`].
//!
//! A code is exchanged once: the first attempt spends it whatever its outcome, so a wrong
//! `code_verifier` cannot be retried, and a second exchange of a spent code is refused and
//! revokes the tokens the first one issued (RFC 6749 §4.1.2), which UserInfo then refuses.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::idp::IdpState;
use crate::idp_http::{OAuthParams, oauth_error};
use crate::idp_keys::b64;
use crate::idp_seed::OidcClient;
use crate::oidc::{self, DEVICE_GRANT, Grant};
use crate::state::constant_time_eq;

fn bad_request(error: &str, description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

/// 401 `invalid_client` with the `Basic` challenge (RFC 6749 §5.2).
fn invalid_client() -> Response {
    let mut r = oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "Client authentication failed. Either the client or the client credentials are invalid.",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"arkbridge sim\""),
    );
    r
}

/// The client id and secret of an `Authorization: Basic` header, each form-decoded (RFC 6749
/// §2.3.1). `Ok(None)` when there is no such header.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, Zeroizing<String>)>, Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let encoded = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Basic"))
        .map(|(_, rest)| rest.trim())
        .ok_or_else(invalid_client)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map(Zeroizing::new)
        .map_err(|_| invalid_client())?;
    let text = std::str::from_utf8(&decoded).map_err(|_| invalid_client())?;
    let (id, secret) = text.split_once(':').ok_or_else(invalid_client)?;
    let unescape = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| invalid_client())
    };
    Ok(Some((unescape(id)?, Zeroizing::new(unescape(secret)?))))
}

/// Authenticates the client of a token or device authorization request.
pub(crate) fn authenticate<'a>(
    s: &'a IdpState,
    headers: &HeaderMap,
    p: &OAuthParams,
) -> Result<&'a OidcClient, Response> {
    let basic = basic_credentials(headers)?;
    let (id, secret) = match (basic, p.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(bad_request(
                "invalid_request",
                "The client used more than one authentication method.",
            ));
        }
        (Some((id, secret)), None) => {
            if p.get("client_id").is_some_and(|form_id| form_id != id) {
                return Err(invalid_client());
            }
            (id, Some(secret))
        }
        (None, posted) => {
            let Some(id) = p.get("client_id") else {
                return Err(bad_request(
                    "invalid_request",
                    "The 'client_id' parameter is required.",
                ));
            };
            (
                id.to_string(),
                posted.map(|s| Zeroizing::new(s.to_string())),
            )
        }
    };
    let client = s.client(&id).ok_or_else(invalid_client)?;
    let ok = match (&client.secret, &secret) {
        (Some(expected), Some(given)) => constant_time_eq(expected.expose_secret(), given),
        // A public client authenticates with nothing; offering it a secret is a mistake.
        (None, None) => true,
        _ => false,
    };
    if !ok {
        tracing::debug!(client = client.id, "identity: client authentication failed");
        return Err(invalid_client());
    }
    Ok(client)
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters.
fn verifier_well_formed(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn code_grant(s: &IdpState, client: &OidcClient, p: &OAuthParams) -> Response {
    const INVALID: &str = "The authorization code is invalid or has expired.";
    let (Some(code), Some(redirect_uri)) = (p.get("code"), p.get("redirect_uri")) else {
        return bad_request(
            "invalid_request",
            "The 'code' and 'redirect_uri' parameters are required.",
        );
    };
    let Some(verifier) = p.get("code_verifier") else {
        return bad_request(
            "invalid_request",
            "The 'code_verifier' parameter is required (PKCE).",
        );
    };
    if !verifier_well_formed(verifier) {
        return bad_request(
            "invalid_request",
            "The code_verifier must be 43 to 128 unreserved characters.",
        );
    }
    let now_ms = s.now_ms();
    let (email, scopes, nonce, auth_time) = {
        let mut flows = s.flows();
        let Some(entry) = flows.codes.get_mut(code) else {
            return bad_request("invalid_grant", INVALID);
        };
        if entry.used {
            let revoked = std::mem::take(&mut entry.issued);
            tracing::warn!(
                tokens = revoked.len(),
                "identity: an authorization code was replayed; its tokens are revoked"
            );
            flows.revoked.extend(revoked);
            return bad_request("invalid_grant", INVALID);
        }
        entry.used = true;
        if entry.expires_ms <= now_ms {
            return bad_request("invalid_grant", INVALID);
        }
        if entry.client_id != client.id {
            return bad_request(
                "invalid_grant",
                "The authorization code was issued to another client.",
            );
        }
        if entry.redirect_uri != redirect_uri {
            return bad_request(
                "invalid_grant",
                "The 'redirect_uri' does not match the redirection URI used in the authorization request.",
            );
        }
        if !constant_time_eq(&b64(&Sha256::digest(verifier.as_bytes())), &entry.challenge) {
            return bad_request("invalid_grant", "PKCE verification failed.");
        }
        (
            entry.user_email.clone(),
            entry.scopes.clone(),
            entry.nonce.clone(),
            entry.auth_time,
        )
    };
    let Some(user) = s.user(&email) else {
        return bad_request("invalid_grant", INVALID);
    };
    let grant = Grant {
        user,
        client_id: &client.id,
        scopes: &scopes,
        nonce: nonce.as_deref(),
        auth_time,
    };
    match oidc::issue(s, &grant) {
        Ok(issued) => {
            if let Some(entry) = s.flows().codes.get_mut(code) {
                entry.issued.push(issued.access_jti);
            }
            tracing::info!(
                user = user.email,
                client = client.id,
                "identity: tokens issued"
            );
            issued.response
        }
        Err(r) => r,
    }
}

/// `POST {issuer}/v1/token`.
pub(crate) async fn token(
    State(s): State<Arc<IdpState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = match OAuthParams::form(&body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let client = match authenticate(&s, &headers, &p) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match p.get("grant_type") {
        Some("authorization_code") => code_grant(&s, client, &p),
        Some(DEVICE_GRANT) => crate::oidc_device::poll(&s, client, &p),
        Some("refresh_token") => crate::oidc_refresh::grant(&s, client, &p),
        Some(_) => bad_request(
            "unsupported_grant_type",
            "The authorization server does not support the requested grant type.",
        ),
        None => bad_request("invalid_request", "The 'grant_type' parameter is required."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_follow_rfc_7636() {
        assert!(verifier_well_formed(&"a".repeat(43)));
        assert!(verifier_well_formed(&"a-._~".repeat(20)));
        assert!(!verifier_well_formed(&"a".repeat(42)));
        assert!(!verifier_well_formed(&"a".repeat(129)));
        assert!(!verifier_well_formed(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut h = HeaderMap::new();
        let raw = base64::engine::general_purpose::STANDARD.encode("my%20app:s%3Acret+x");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {raw}")).unwrap(),
        );
        let (id, secret) = basic_credentials(&h).unwrap().unwrap();
        assert_eq!(id, "my app");
        assert_eq!(secret.as_str(), "s:cret x");
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!"));
        assert!(basic_credentials(&h).is_err());
        assert!(basic_credentials(&HeaderMap::new()).unwrap().is_none());
    }
}
