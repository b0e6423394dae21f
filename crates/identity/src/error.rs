//! The crate's one error type, with a variant for every way a token, a key set or a signature
//! can be refused.
//!
//! Messages never quote a token, a signature or a secret. Values that do appear (an issuer, an
//! audience, a `kid`, an `alg`) are either configuration or were read from a token whose
//! signature had already been verified, except `alg` and `kid`, which are read before the
//! signature check and are therefore cut to a short, escaped form by `untrusted`.

use thiserror::Error;

/// Why an identity could not be verified.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The token is not a well-formed compact JWS or its JSON is not what a JWT holds.
    #[error("malformed token: {0}")]
    Malformed(String),

    /// The token is larger than any token this verifier accepts.
    #[error("token too large: {len} bytes (at most {max})")]
    TooLarge { len: usize, max: usize },

    /// The header says `alg: none`: an unsigned token is never accepted.
    #[error("unsigned token refused (alg `none`)")]
    AlgNone,

    /// The header names an algorithm this verifier does not accept (e.g. HS256 presented to an
    /// RS256 verifier, the key-confusion attack).
    #[error("algorithm `{alg}` is not allowed here (allowed: {allowed})")]
    AlgNotAllowed { alg: String, allowed: String },

    /// The header has no `kid`, so the key cannot be chosen without guessing.
    #[error("token header has no `kid`")]
    MissingKid,

    /// The header lists critical extensions (`crit`), none of which this verifier implements.
    #[error("token header lists critical extensions (`crit`), which are not supported")]
    CriticalHeader,

    /// No usable key with this `kid` (and a key type fitting the token's `alg`) is published.
    #[error("no usable signing key with kid `{kid}` in the key set")]
    UnknownKid { kid: String },

    /// The signature does not verify with the published key.
    #[error("token signature is invalid")]
    BadSignature,

    /// `exp` has passed (allowing for the configured clock skew).
    #[error("token expired at {exp} (now {now}, skew {skew_secs}s)")]
    Expired { exp: i64, now: i64, skew_secs: u64 },

    /// `nbf` (or `iat`) lies in the future (allowing for the configured clock skew).
    #[error("token not valid yet: `{claim}` is {at} (now {now}, skew {skew_secs}s)")]
    NotYetValid {
        claim: &'static str,
        at: i64,
        now: i64,
        skew_secs: u64,
    },

    /// `iss` is not the configured issuer.
    #[error("wrong issuer `{found}` (expected `{expected}`)")]
    WrongIssuer { expected: String, found: String },

    /// `aud` does not contain the configured audience.
    #[error("wrong audience {found:?} (expected `{expected}`)")]
    WrongAudience {
        expected: String,
        found: Vec<String>,
    },

    /// A claim the verifier needs is absent.
    #[error("token has no `{0}` claim")]
    MissingClaim(&'static str),

    /// A claim is present but has the wrong type or an impossible value.
    #[error("claim `{claim}` is invalid: {reason}")]
    InvalidClaim { claim: String, reason: String },

    /// The token's `jti` was already accepted once within the token's lifetime.
    #[error("token replay: this token (jti) was already used")]
    Replay,

    /// The replay cache is full of unexpired entries; the token is refused rather than risk
    /// forgetting an earlier one.
    #[error("replay cache full ({capacity} unexpired tokens); refusing until entries expire")]
    ReplayCacheFull { capacity: usize },

    /// The Forge invocation comes from a Confluence site that is not configured.
    #[error("invocation from site (cloudId) `{cloud_id}`, which is not an allowed site")]
    SiteNotAllowed { cloud_id: String },

    /// A key set or discovery document could not be fetched or understood.
    #[error("cannot fetch {what} from {url}: {reason}")]
    Fetch {
        what: &'static str,
        url: String,
        reason: String,
    },

    /// The OIDC discovery document contradicts the configuration.
    #[error("OIDC discovery at {url} is unusable: {reason}")]
    Discovery { url: String, reason: String },

    /// A request header needed for verification is absent.
    #[error("missing `{0}` header")]
    MissingHeader(&'static str),

    /// A request header is present but not in the expected form.
    #[error("malformed `{header}` header: {reason}")]
    MalformedHeader {
        header: &'static str,
        reason: String,
    },

    /// The webhook body does not match its `X-Hub-Signature`.
    #[error("webhook signature does not match the body")]
    WebhookSignatureMismatch,

    /// The verifier's configuration is unusable.
    #[error("identity configuration: {0}")]
    Config(String),
}

/// An attacker-supplied string (an `alg` or `kid` read before the signature check) cut to a
/// short, escaped form fit for an error message or a log line.
pub(crate) fn untrusted(value: &str) -> String {
    const MAX: usize = 80;
    let mut out: String = value
        .chars()
        .take(MAX)
        .flat_map(char::escape_debug)
        .collect();
    if value.chars().count() > MAX {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_values_are_escaped_and_cut() {
        assert_eq!(untrusted("RS256"), "RS256");
        assert_eq!(untrusted("a\nb\u{1b}"), "a\\nb\\u{1b}");
        let long = "x".repeat(500);
        let cut = untrusted(&long);
        assert!(cut.len() < 100 && cut.ends_with('…'), "{cut}");
    }
}
