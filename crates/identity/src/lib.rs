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
