//! Verified identities: who is asking, proven by a signature or a directory, never by a claim
//! the caller could make up.
//!
//! * Forge Invocation Tokens (Confluence Cloud calling arkbridge as a Forge Remote) and OIDC
//!   access/ID tokens (Okta or any standard provider) are JWS tokens verified with `ring`
//!   against a JWKS cached by `kid`.
//! * Confluence Data Center webhooks carry an `X-Hub-Signature` HMAC.
//! * Group membership comes from the OIDC groups claim or from LDAP.
//!
//! This crate is the only one that talks to identity providers and directories.

mod claims;
mod clock;
mod device_flow;
mod error;
mod forge;
mod headers;
mod http;
mod jwk;
mod jwks;
mod jws;
mod ldap_config;
#[cfg(test)]
mod ldap_config_tests;
mod ldap_directory;
mod ldap_dn;
mod ldap_error;
mod ldap_filter;
mod ldap_groups;
mod ldap_session;
mod ldap_tls;
mod oidc;
mod oidc_discovery;
mod replay;
mod token_cache;
mod user;
mod verifier;
mod webhook;

pub use claims::Claims;
pub use clock::{Clock, system_unix};
pub use device_flow::{
    DEFAULT_SCOPES, DEVICE_CODE_GRANT, DeviceAuthorization, DeviceFlow, DeviceFlowError,
    OFFLINE_SCOPES, REFRESH_GRANT, TokenSet,
};
pub use error::IdentityError;
pub use forge::{
    FORGE_ISSUER, FORGE_JWKS_URL, FORGE_SYSTEM_TOKEN_HEADER, ForgeConfig, ForgeInvocation,
    ForgeVerifier,
};
pub use http::https_client;
pub use jwks::{FetchFuture, HttpJwksFetcher, JwksCache, JwksFetcher, JwksSettings};
pub use jws::{Alg, MAX_TOKEN_LEN};
pub use ldap_config::{GroupStrategy, LdapConfig};
pub use ldap_directory::LdapDirectory;
pub use ldap_dn::escape_dn_value;
pub use ldap_error::LdapError;
pub use ldap_filter::escape_filter_value;
pub use ldap_groups::{Group, UserGroups};
pub use oidc::{OidcConfig, OidcVerifier};
pub use oidc_discovery::ProviderMetadata;
pub use token_cache::{
    CacheLock, CachedSession, CachedTokens, TokenCache, TokenCacheError, state_dir, verify_cached,
};
pub use user::{IdentitySource, VerifiedUser};
pub use verifier::{DEFAULT_REPLAY_CAPACITY, JwtRules, JwtVerifier, VerifiedToken};
pub use webhook::{DC_SIGNATURE_HEADER, DcWebhookVerifier};
