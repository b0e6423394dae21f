//! Confluence Data Center webhook signatures: `X-Hub-Signature: sha256=<hex>`, an HMAC-SHA256
//! of the raw request body keyed with the webhook's secret.
//!
//! The comparison is `ring::hmac::verify`, which is constant-time, so the response time does not
//! tell an attacker how many leading bytes of a forged signature were right. The body must be
//! verified exactly as received, before any parsing.

use reqwest::header::HeaderMap;
use ring::hmac;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{IdentityError, untrusted};
use crate::headers;

/// The header carrying the signature.
pub const DC_SIGNATURE_HEADER: &str = "x-hub-signature";

/// Verifies Data Center webhook deliveries.
pub struct DcWebhookVerifier {
    key: hmac::Key,
}

impl std::fmt::Debug for DcWebhookVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DcWebhookVerifier { secret: [REDACTED] }")
    }
}

impl DcWebhookVerifier {
    /// A verifier for the webhook's shared secret.
    pub fn new(secret: &SecretString) -> Result<Self, IdentityError> {
        let secret = secret.expose_secret();
        if secret.is_empty() {
            return Err(IdentityError::Config(
                "the webhook secret must not be empty".into(),
            ));
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
        })
    }

    /// The `X-Hub-Signature` value for `body` (what Confluence sends; for tests and tools).
    pub fn sign(&self, body: &[u8]) -> String {
        format!(
            "sha256={}",
            hex::encode(hmac::sign(&self.key, body).as_ref())
        )
    }

    /// Verifies `body` against the `X-Hub-Signature` value, if any.
    pub fn verify(&self, signature: Option<&str>, body: &[u8]) -> Result<(), IdentityError> {
        let value = signature.ok_or(IdentityError::MissingHeader(DC_SIGNATURE_HEADER))?;
        let malformed = |reason: String| IdentityError::MalformedHeader {
            header: DC_SIGNATURE_HEADER,
            reason,
        };
        let (algorithm, digest) = value
            .trim()
            .split_once('=')
            .ok_or_else(|| malformed("expected `sha256=<hex>`".into()))?;
        if !algorithm.eq_ignore_ascii_case("sha256") {
            return Err(malformed(format!(
                "only sha256 signatures are accepted, not `{}`",
                untrusted(algorithm)
            )));
        }
        if digest.len() != 64 {
            return Err(malformed(format!(
                "a sha256 signature has 64 hex digits, this has {}",
                digest.len()
            )));
        }
        let tag = hex::decode(digest).map_err(|_| malformed("the signature is not hex".into()))?;
        hmac::verify(&self.key, body, &tag).map_err(|_| IdentityError::WebhookSignatureMismatch)
    }

    /// Verifies `body` against the request's `X-Hub-Signature` header.
    pub fn verify_headers(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), IdentityError> {
        self.verify(headers::single(headers, DC_SIGNATURE_HEADER)?, body)
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    const BODY: &[u8] = br#"{"event":"page_updated","page":{"id":123}}"#;

    fn verifier() -> DcWebhookVerifier {
        DcWebhookVerifier::new(&SecretString::from("webhook-SENTINEL-secret")).unwrap()
    }

    #[test]
    fn matches_an_independently_computed_hmac() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), the published
        // example value (Wikipedia, "HMAC"); upper-case prefix and digits are accepted too.
        let v = DcWebhookVerifier::new(&SecretString::from("key")).unwrap();
        let msg = b"The quick brown fox jumps over the lazy dog";
        let hex = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
        v.verify(Some(&format!("sha256={hex}")), msg).unwrap();
        v.verify(Some(&format!("SHA256={}", hex.to_uppercase())), msg)
            .unwrap();
        assert_eq!(v.sign(msg), format!("sha256={hex}"));
    }

    #[test]
    fn accepts_the_right_signature_from_headers() {
        let v = verifier();
        let mut headers = HeaderMap::new();
        headers.insert(
            "X-Hub-Signature",
            HeaderValue::from_str(&v.sign(BODY)).unwrap(),
        );
        v.verify_headers(&headers, BODY).unwrap();
    }

    #[test]
    fn refuses_a_changed_body_or_another_secret() {
        let v = verifier();
        let sig = v.sign(BODY);
        let mut changed = BODY.to_vec();
        changed[10] ^= 1;
        assert!(matches!(
            v.verify(Some(&sig), &changed),
            Err(IdentityError::WebhookSignatureMismatch)
        ));
        let other = DcWebhookVerifier::new(&SecretString::from("other")).unwrap();
        assert!(matches!(
            other.verify(Some(&sig), BODY),
            Err(IdentityError::WebhookSignatureMismatch)
        ));
    }

    #[test]
    fn missing_and_malformed_headers_have_clear_errors() {
        let v = verifier();
        assert!(matches!(
            v.verify_headers(&HeaderMap::new(), BODY),
            Err(IdentityError::MissingHeader(DC_SIGNATURE_HEADER))
        ));
        let good_hex = &v.sign(BODY)[7..];
        for bad in [
            good_hex.to_string(),
            format!("sha1={}", &good_hex[..40]),
            format!("sha512={good_hex}"),
            format!("sha256={}", &good_hex[..63]),
            format!("sha256={}zz", &good_hex[..62]),
            "sha256=".to_string(),
        ] {
            let err = v.verify(Some(&bad), BODY).unwrap_err();
            assert!(
                matches!(
                    err,
                    IdentityError::MalformedHeader {
                        header: DC_SIGNATURE_HEADER,
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_secret_never_shows_in_debug_or_errors() {
        let v = verifier();
        assert!(!format!("{v:?}").contains("SENTINEL"));
        let err = v.verify(Some("sha256=00"), BODY).unwrap_err().to_string();
        assert!(!err.contains("SENTINEL"), "{err}");
        assert!(DcWebhookVerifier::new(&SecretString::from("")).is_err());
    }
}
