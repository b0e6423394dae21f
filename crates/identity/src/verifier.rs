//! The generic JWT verifier the Forge and OIDC verifiers are built on: parse and check the
//! header, pick the key by `kid`, verify the signature, and only then read and check the claims
//! (`exp`/`nbf`/`iat`, `iss`, `aud`, and `jti` replay for single-use tokens).

use std::sync::Arc;
use std::time::Duration;

use crate::claims::{self, Claims};
use crate::clock::Clock;
use crate::error::IdentityError;
use crate::jwks::JwksCache;
use crate::jws::{self, Alg, json_object};
use crate::replay::ReplayCache;

/// What a token must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtRules {
    /// The exact `iss`.
    pub issuer: String,
    /// A value `aud` must contain.
    pub audience: String,
    /// The accepted signature algorithms (never empty; `none` and HMAC cannot be listed).
    pub algs: Vec<Alg>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub skew: Duration,
    /// Require a `jti` and refuse a second presentation of it within the token's lifetime.
    pub single_use: bool,
    /// The most unexpired `jti`s remembered at once.
    pub replay_capacity: usize,
}

/// Default bound of the replay cache.
pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;

/// A token whose signature and registered claims were verified.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// The algorithm it was signed with.
    pub alg: Alg,
    /// The key it was signed with.
    pub kid: String,
    /// The header's `typ`, if any.
    pub typ: Option<String>,
    /// The whole payload.
    pub claims: Claims,
    /// `exp`, in Unix seconds.
    pub expires_at: i64,
}

/// Verifies JWS tokens against a key cache and a set of rules.
#[derive(Debug)]
pub struct JwtVerifier {
    jwks: Arc<JwksCache>,
    rules: JwtRules,
    replay: ReplayCache,
    clock: Clock,
}

impl JwtVerifier {
    /// A verifier; refuses rules that could never accept a token safely.
    pub fn new(jwks: Arc<JwksCache>, rules: JwtRules) -> Result<Self, IdentityError> {
        if rules.algs.is_empty() {
            return Err(IdentityError::Config(
                "at least one signature algorithm must be allowed".into(),
            ));
        }
        if rules.issuer.trim().is_empty() || rules.audience.trim().is_empty() {
            return Err(IdentityError::Config(
                "the expected issuer and audience must not be empty".into(),
            ));
        }
        Ok(Self {
            jwks,
            replay: ReplayCache::new(rules.replay_capacity),
            rules,
            clock: Clock::system(),
        })
    }

    /// Uses `clock` for `exp`/`nbf`/`iat` and the replay cache instead of the system clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The rules in force.
    pub fn rules(&self) -> &JwtRules {
        &self.rules
    }

    /// The key cache.
    pub fn jwks(&self) -> &Arc<JwksCache> {
        &self.jwks
    }

    /// Verifies `token`.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, IdentityError> {
        Ok(self.verify_with(token, |_| Ok(())).await?.0)
    }

    /// Verifies `token`, then runs `check` on it (the caller's own claim checks) before its
    /// `jti` is recorded, so that a token refused by `check` is not consumed.
    pub async fn verify_with<T>(
        &self,
        token: &str,
        check: impl FnOnce(&VerifiedToken) -> Result<T, IdentityError>,
    ) -> Result<(VerifiedToken, T), IdentityError> {
        let unverified = jws::parse(token, &self.rules.algs)?;
        let header = &unverified.header;
        let key = self.jwks.key(&header.kid, header.alg).await?;
        key.verify(header.alg, unverified.signing_input, &unverified.signature)?;
        // Nothing of the payload was read before this point.
        let claims = json_object(&unverified.payload, "payload")?;
        let now = self.clock.now_unix();
        let expires_at = claims::check_times(&claims, now, self.rules.skew)?;
        claims::check_issuer(&claims, &self.rules.issuer)?;
        claims::check_audience(&claims, &self.rules.audience)?;
        let jti = if self.rules.single_use {
            Some(claims::required_string(&claims, "jti")?.to_string())
        } else {
            None
        };
        let verified = VerifiedToken {
            alg: header.alg,
            kid: header.kid.clone(),
            typ: header.typ.clone(),
            claims,
            expires_at,
        };
        let extra = check(&verified)?;
        if let Some(jti) = jti {
            let skew = i64::try_from(self.rules.skew.as_secs()).unwrap_or(i64::MAX);
            self.replay.check_and_remember(
                &self.rules.issuer,
                &jti,
                expires_at.saturating_add(skew),
                now,
            )?;
        }
        Ok((verified, extra))
    }
}
