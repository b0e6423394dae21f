//! Compact JWS parsing (RFC 7515 §7.1) with every check that can be made before the signature:
//! size limits, strict base64url, exactly three parts, the header's `alg` against the verifier's
//! allow-list (never `none`, never an algorithm outside the list, so an HS256 token "signed"
//! with an RSA public key is refused before any key is touched), a required `kid` and no `crit`.
//!
//! The payload is returned as bytes; it is parsed only after the signature has been verified.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::error::{IdentityError, untrusted};

/// The largest token accepted. OIDC tokens with many groups reach a few KiB; anything near this
/// size is an attack on the parser, not a login.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;
/// The largest encoded header accepted.
const MAX_HEADER_LEN: usize = 4 * 1024;
/// The longest `kid` accepted.
const MAX_KID_LEN: usize = 256;

/// A signature algorithm this crate can verify. HMAC algorithms are deliberately absent: no
/// verifier here shares a secret with the token's issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the algorithm of Forge tokens and most IdPs).
    Rs256,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

impl Alg {
    /// The JOSE name (`RS256`, `PS256`, `ES256`).
    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Ps256 => "PS256",
            Alg::Es256 => "ES256",
        }
    }

    /// The algorithm with this exact JOSE name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Alg::Rs256),
            "PS256" => Some(Alg::Ps256),
            "ES256" => Some(Alg::Es256),
            _ => None,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The protected header fields this crate uses.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub(crate) alg: Alg,
    pub(crate) kid: String,
    pub(crate) typ: Option<String>,
}

/// A parsed compact JWS whose signature has not been checked yet.
#[derive(Debug)]
pub(crate) struct Unverified<'a> {
    pub(crate) header: Header,
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`, the bytes the signature covers.
    pub(crate) signing_input: &'a [u8],
    pub(crate) payload: Vec<u8>,
    pub(crate) signature: Vec<u8>,
}

/// Strict base64url: the URL-safe alphabet, no padding, no whitespace, no non-zero trailing bits.
pub(crate) fn b64url_decode(part: &str, what: &str) -> Result<Vec<u8>, IdentityError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| IdentityError::Malformed(format!("{what} is not strict base64url: {e}")))
}

/// Parses a JSON object, refusing anything else.
pub(crate) fn json_object(bytes: &[u8], what: &str) -> Result<Map<String, Value>, IdentityError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(IdentityError::Malformed(format!(
            "{what} is not a JSON object"
        ))),
        Err(e) => Err(IdentityError::Malformed(format!(
            "{what} is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))),
    }
}

fn allowed_list(allowed: &[Alg]) -> String {
    allowed
        .iter()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `token` and checks its header against `allowed`.
pub(crate) fn parse<'a>(token: &'a str, allowed: &[Alg]) -> Result<Unverified<'a>, IdentityError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(IdentityError::TooLarge {
            len: token.len(),
            max: MAX_TOKEN_LEN,
        });
    }
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        3 => {}
        5 => {
            return Err(IdentityError::Malformed(
                "encrypted tokens (JWE) are not supported".into(),
            ));
        }
        n => {
            return Err(IdentityError::Malformed(format!(
                "a compact JWS has 3 dot-separated parts, this has {n}"
            )));
        }
    }
    let (header_b64, payload_b64, signature_b64) = (parts[0], parts[1], parts[2]);
    if header_b64.is_empty() || payload_b64.is_empty() {
        return Err(IdentityError::Malformed(
            "empty header or payload part".into(),
        ));
    }
    if header_b64.len() > MAX_HEADER_LEN {
        return Err(IdentityError::Malformed(format!(
            "header longer than {MAX_HEADER_LEN} bytes"
        )));
    }
    let header = parse_header(&b64url_decode(header_b64, "header")?, allowed)?;
    let payload = b64url_decode(payload_b64, "payload")?;
    let signature = b64url_decode(signature_b64, "signature")?;
    if signature.is_empty() {
        // Only `alg: none` tokens carry an empty signature, and those were refused above; an
        // empty signature under any other algorithm cannot verify.
        return Err(IdentityError::BadSignature);
    }
    let signing_input = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    Ok(Unverified {
        header,
        signing_input,
        payload,
        signature,
    })
}

fn parse_header(bytes: &[u8], allowed: &[Alg]) -> Result<Header, IdentityError> {
    let map = json_object(bytes, "header")?;
    // `alg` first: an unsigned or HMAC token must be reported as such, whatever else its header
    // lacks.
    let alg_name = match map.get("alg") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(IdentityError::Malformed("`alg` is not a string".into())),
        None => return Err(IdentityError::Malformed("header has no `alg`".into())),
    };
    if alg_name.eq_ignore_ascii_case("none") {
        return Err(IdentityError::AlgNone);
    }
    let alg = Alg::from_name(alg_name)
        .filter(|alg| allowed.contains(alg))
        .ok_or_else(|| IdentityError::AlgNotAllowed {
            alg: untrusted(alg_name),
            allowed: allowed_list(allowed),
        })?;
    if map.contains_key("crit") {
        return Err(IdentityError::CriticalHeader);
    }
    let kid = match map.get("kid") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | None => return Err(IdentityError::MissingKid),
        Some(_) => return Err(IdentityError::Malformed("`kid` is not a string".into())),
    };
    if kid.len() > MAX_KID_LEN {
        return Err(IdentityError::Malformed(format!(
            "`kid` longer than {MAX_KID_LEN} bytes"
        )));
    }
    let typ = match map.get("typ") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(IdentityError::Malformed("`typ` is not a string".into())),
        None => None,
    };
    Ok(Header { alg, kid, typ })
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, payload: &str, sig: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), sig)
    }

    const RS: &[Alg] = &[Alg::Rs256];

    #[test]
    fn parses_a_well_formed_token() {
        let t = token(
            r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#,
            r#"{"a":1}"#,
            "c2ln",
        );
        let u = parse(&t, RS).unwrap();
        assert_eq!(u.header.alg, Alg::Rs256);
        assert_eq!(u.header.kid, "k1");
        assert_eq!(u.header.typ.as_deref(), Some("JWT"));
        assert_eq!(u.payload, br#"{"a":1}"#);
        assert_eq!(u.signature, b"sig");
        assert_eq!(u.signing_input, t.rsplit_once('.').unwrap().0.as_bytes());
    }

    #[test]
    fn refuses_alg_none_in_any_case_even_without_kid() {
        for alg in ["none", "None", "NONE"] {
            let t = token(&format!(r#"{{"alg":"{alg}"}}"#), "{}", "");
            assert!(
                matches!(parse(&t, RS), Err(IdentityError::AlgNone)),
                "{alg}"
            );
        }
    }

    #[test]
    fn refuses_algorithms_outside_the_allow_list() {
        for alg in ["HS256", "HS512", "RS384", "ES256", "rs256"] {
            let t = token(&format!(r#"{{"alg":"{alg}","kid":"k"}}"#), "{}", "c2ln");
            let err = parse(&t, RS).unwrap_err();
            assert!(
                matches!(&err, IdentityError::AlgNotAllowed { alg: a, .. } if a == alg),
                "{alg}: {err}"
            );
        }
        let t = token(r#"{"alg":"ES256","kid":"k"}"#, "{}", "c2ln");
        assert!(parse(&t, &[Alg::Rs256, Alg::Es256]).is_ok());
    }

    #[test]
    fn requires_kid_and_refuses_crit() {
        let t = token(r#"{"alg":"RS256"}"#, "{}", "c2ln");
        assert!(matches!(parse(&t, RS), Err(IdentityError::MissingKid)));
        let t = token(r#"{"alg":"RS256","kid":""}"#, "{}", "c2ln");
        assert!(matches!(parse(&t, RS), Err(IdentityError::MissingKid)));
        let t = token(
            r#"{"alg":"RS256","kid":"k","crit":["exp"],"exp":1}"#,
            "{}",
            "c2ln",
        );
        assert!(matches!(parse(&t, RS), Err(IdentityError::CriticalHeader)));
    }

    #[test]
    fn refuses_malformed_shapes() {
        let good_h = b64(r#"{"alg":"RS256","kid":"k"}"#);
        let p = b64("{}");
        for bad in [
            String::new(),
            "abc".to_string(),
            format!("{good_h}.{p}"),
            format!("{good_h}.{p}.c2ln.x"),
            format!("{good_h}.{p}.c2ln.x.y"),
            format!(".{p}.c2ln"),
            format!("{good_h}..c2ln"),
            format!("{good_h}=.{p}.c2ln"),
            format!("{good_h}.{p}.c2ln="),
            format!("{good_h}.{p}.c2l+"),
            format!("{good_h}.{p}.c2l/"),
            format!("{good_h}.{p} .c2ln"),
            format!("{}.{p}.c2ln", b64("[1]")),
            format!("{}.{p}.c2ln", b64("not json")),
            format!("{}.{p}.c2ln", b64(r#"{"alg":5,"kid":"k"}"#)),
            format!("{}.{p}.c2ln", b64(r#"{"kid":"k"}"#)),
        ] {
            let err = parse(&bad, RS).unwrap_err();
            assert!(matches!(err, IdentityError::Malformed(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn refuses_non_canonical_trailing_bits() {
        // "c2n" is a 2-byte group whose last character carries non-zero stray bits.
        let t = token(r#"{"alg":"RS256","kid":"k"}"#, "{}", "c2n");
        assert!(matches!(parse(&t, RS), Err(IdentityError::Malformed(_))));
    }

    #[test]
    fn empty_signature_is_a_bad_signature() {
        let t = token(r#"{"alg":"RS256","kid":"k"}"#, "{}", "");
        assert!(matches!(parse(&t, RS), Err(IdentityError::BadSignature)));
    }

    #[test]
    fn refuses_oversized_tokens_before_parsing() {
        let big = "a".repeat(MAX_TOKEN_LEN + 1);
        assert!(matches!(
            parse(&big, RS),
            Err(IdentityError::TooLarge { .. })
        ));
        let huge_header = token(
            &format!(r#"{{"alg":"RS256","kid":"{}"}}"#, "k".repeat(5000)),
            "{}",
            "c2ln",
        );
        assert!(matches!(
            parse(&huge_header, RS),
            Err(IdentityError::Malformed(_))
        ));
    }
}
