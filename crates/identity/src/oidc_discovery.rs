//! OpenID Connect Discovery 1.0: `<issuer>/.well-known/openid-configuration`.
//!
//! The document's `issuer` must equal the configured issuer exactly (Discovery §4.3), or a
//! document served from one place could vouch for tokens of another; `jwks_uri` must be HTTPS.
//! The endpoints for the later login flows (authorization code with PKCE, device grant) are
//! kept for the web UI and the CLI.

use serde::Deserialize;
use url::Url;

use crate::error::IdentityError;
use crate::http;

const MAX_DISCOVERY_BYTES: usize = 256 * 1024;

/// The provider metadata arkbridge uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProviderMetadata {
    /// The issuer, equal to the configured one.
    pub issuer: String,
    /// The key set URL.
    pub jwks_uri: String,
    /// Where a browser login starts.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// Where codes are exchanged for tokens.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// Where the CLI's device authorization grant starts.
    #[serde(default)]
    pub device_authorization_endpoint: Option<String>,
    /// The UserInfo endpoint.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// Where a browser logout goes.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// The algorithms the provider signs ID tokens with.
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// The PKCE methods the provider supports.
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
}

/// The discovery URL of `issuer`.
pub(crate) fn discovery_url(issuer: &str) -> Result<Url, IdentityError> {
    http::https_url(
        &format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ),
        "OIDC issuer",
    )
}

/// Fetches and checks the provider metadata of `issuer`.
pub(crate) async fn discover(
    client: &reqwest::Client,
    issuer: &str,
) -> Result<ProviderMetadata, IdentityError> {
    let url = discovery_url(issuer)?;
    let body = http::get_bounded(client, &url, "OIDC discovery", MAX_DISCOVERY_BYTES).await?;
    check(&body, issuer, &url)
}

fn check(body: &[u8], issuer: &str, url: &Url) -> Result<ProviderMetadata, IdentityError> {
    let unusable = |reason: String| IdentityError::Discovery {
        url: url.to_string(),
        reason,
    };
    let metadata: ProviderMetadata = serde_json::from_slice(body)
        .map_err(|e| unusable(format!("not a provider metadata document: {e}")))?;
    if metadata.issuer != issuer {
        return Err(unusable(format!(
            "it names issuer `{}`, not the configured `{issuer}`",
            metadata.issuer
        )));
    }
    http::https_url(&metadata.jwks_uri, "jwks_uri").map_err(|e| unusable(e.to_string()))?;
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        discovery_url("https://idp.example.com/oauth2/default/").unwrap()
    }

    #[test]
    fn discovery_url_appends_the_well_known_path() {
        assert_eq!(
            url().as_str(),
            "https://idp.example.com/oauth2/default/.well-known/openid-configuration"
        );
        assert!(discovery_url("http://idp.example.com").is_err());
    }

    #[test]
    fn accepts_a_consistent_document() {
        let body =
            br#"{"issuer":"https://idp.example.com","jwks_uri":"https://idp.example.com/keys",
            "token_endpoint":"https://idp.example.com/token","extra":1}"#;
        let m = check(body, "https://idp.example.com", &url()).unwrap();
        assert_eq!(m.jwks_uri, "https://idp.example.com/keys");
        assert_eq!(
            m.token_endpoint.as_deref(),
            Some("https://idp.example.com/token")
        );
        assert!(m.device_authorization_endpoint.is_none());
    }

    #[test]
    fn refuses_another_issuer_or_a_plain_http_key_set() {
        let other =
            br#"{"issuer":"https://evil.example.com","jwks_uri":"https://evil.example.com/keys"}"#;
        let err = check(other, "https://idp.example.com", &url())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("evil.example.com") && err.contains("configured"),
            "{err}"
        );
        let http =
            br#"{"issuer":"https://idp.example.com","jwks_uri":"http://idp.example.com/keys"}"#;
        assert!(check(http, "https://idp.example.com", &url()).is_err());
        assert!(check(b"{}", "https://idp.example.com", &url()).is_err());
    }
}
