//! What `sim.json` tells about the simulated identity services (the `identity` object of
//! [`crate::SimInfo`]): the OIDC issuer, its clients and users, and the Forge minter's app, JWKS
//! and endpoint. `Debug` redacts the client secrets and passwords.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What a started simulator's identity services offer; part of `sim.json` (as `identity`).
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Default)]
#[serde(default)]
pub struct IdentityInfo {
    /// Base URL of the identity server (`https://localhost:PORT`).
    pub idp_url: String,
    /// The OIDC issuer; discovery is at `{oidc_issuer}/.well-known/openid-configuration`.
    pub oidc_issuer: String,
    /// The first client's id and secret (none for a public client).
    pub oidc_client_id: String,
    pub oidc_client_secret: Option<String>,
    /// Every client.
    pub oidc_clients: Vec<OidcClientInfo>,
    /// The `aud` of access tokens.
    pub oidc_api_audience: String,
    pub oidc_groups_claim: String,
    pub oidc_account_id_claim: Option<String>,
    /// The provider's private key (PKCS#8 PEM, mode 0600), for tests that mint their own tokens.
    pub oidc_signing_key: PathBuf,
    /// The provider's users with their passwords.
    pub users: Vec<IdpUserInfo>,
    /// The Forge app id (a UUID; the tokens' `aud` is `ari:cloud:ecosystem::app/<id>`).
    pub forge_app_id: String,
    /// The site the Forge tokens name.
    pub forge_cloud_id: String,
    /// The Forge JWKS (Atlassian's is `https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json`).
    pub forge_jwks_url: String,
    /// The admin endpoint that mints a Forge Invocation Token.
    pub forge_fit_url: String,
    /// The Forge key (PKCS#8 PEM, mode 0600).
    pub forge_signing_key: PathBuf,
}

/// An OAuth client of the simulated provider.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Default)]
#[serde(default)]
pub struct OidcClientInfo {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub redirect_uris: Vec<String>,
}

/// A user of the simulated provider.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Default)]
#[serde(default)]
pub struct IdpUserInfo {
    pub email: String,
    /// The provider's user id (`sub` of ID tokens, `uid` of access tokens).
    pub sub: String,
    pub password: String,
    pub groups: Vec<String>,
    /// The user's Confluence account id.
    pub account_id: Option<String>,
}

impl std::fmt::Debug for IdentityInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityInfo")
            .field("oidc_issuer", &self.oidc_issuer)
            .field("oidc_clients", &self.oidc_clients)
            .field("oidc_api_audience", &self.oidc_api_audience)
            .field("users", &self.users)
            .field("forge_app_id", &self.forge_app_id)
            .field("forge_jwks_url", &self.forge_jwks_url)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for OidcClientInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcClientInfo")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("redirect_uris", &self.redirect_uris)
            .finish()
    }
}

impl std::fmt::Debug for IdpUserInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpUserInfo")
            .field("email", &self.email)
            .field("sub", &self.sub)
            .field("password", &"[redacted]")
            .field("groups", &self.groups)
            .field("account_id", &self.account_id)
            .finish()
    }
}
