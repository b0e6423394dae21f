//! JSON Web Keys (RFC 7517/7518) as `ring` verification keys.
//!
//! Only public signing keys this crate can use are kept: RSA (2048 to 8192 bits) for RS256 and
//! PS256, EC P-256 for ES256. A key without a `kid`, with `use` other than `sig`, with `key_ops`
//! lacking `verify`, with an `alg` this crate does not verify (HS256, RSA-OAEP, …) or of another
//! type (`oct`, `OKP`) is skipped, so a symmetric key published by mistake can never become an
//! HMAC secret.

use std::collections::HashMap;
use std::sync::Arc;

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Map, Value};

use crate::error::IdentityError;
use crate::jws::{Alg, b64url_decode, json_object};

/// RSA modulus bounds in bytes, matching ring's 2048..=8192-bit verification algorithms.
const RSA_MIN_BYTES: usize = 256;
const RSA_MAX_BYTES: usize = 1024;
/// ring accepts public exponents of at most 33 bits.
const RSA_MAX_E_BYTES: usize = 5;

#[derive(Debug)]
enum Material {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    P256 { point: Vec<u8> },
}

/// One usable public key.
#[derive(Debug)]
pub(crate) struct Jwk {
    alg: Option<Alg>,
    material: Material,
}

impl Jwk {
    /// Whether this key may verify a token signed with `alg`.
    pub(crate) fn fits(&self, alg: Alg) -> bool {
        if self.alg.is_some_and(|own| own != alg) {
            return false;
        }
        match self.material {
            Material::Rsa { .. } => matches!(alg, Alg::Rs256 | Alg::Ps256),
            Material::P256 { .. } => alg == Alg::Es256,
        }
    }

    /// Verifies `signature` over `message`.
    pub(crate) fn verify(
        &self,
        alg: Alg,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), IdentityError> {
        if !self.fits(alg) {
            return Err(IdentityError::BadSignature);
        }
        let result = match (&self.material, alg) {
            (Material::Rsa { n, e }, Alg::Rs256) => RsaPublicKeyComponents { n, e }.verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                message,
                signature,
            ),
            (Material::Rsa { n, e }, Alg::Ps256) => RsaPublicKeyComponents { n, e }.verify(
                &signature::RSA_PSS_2048_8192_SHA256,
                message,
                signature,
            ),
            (Material::P256 { point }, Alg::Es256) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
            }
            _ => return Err(IdentityError::BadSignature),
        };
        result.map_err(|_| IdentityError::BadSignature)
    }
}

/// The usable keys of a JWKS document, by `kid`.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    by_kid: HashMap<String, Vec<Arc<Jwk>>>,
    /// How many entries were skipped as unusable (for the log line after a fetch).
    pub(crate) skipped: usize,
}

impl KeySet {
    /// The first key with this `kid` that fits `alg`.
    pub(crate) fn find(&self, kid: &str, alg: Alg) -> Option<Arc<Jwk>> {
        self.by_kid
            .get(kid)?
            .iter()
            .find(|key| key.fits(alg))
            .cloned()
    }

    /// Whether the set has any key with this `kid`.
    #[cfg(test)]
    pub(crate) fn has_kid(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// Number of usable keys.
    pub(crate) fn len(&self) -> usize {
        self.by_kid.values().map(Vec::len).sum()
    }
}

/// Parses a JWKS document (`{"keys":[…]}`), keeping the usable keys.
pub(crate) fn parse_jwks(bytes: &[u8]) -> Result<KeySet, IdentityError> {
    let doc = json_object(bytes, "key set")?;
    let Some(Value::Array(keys)) = doc.get("keys") else {
        return Err(IdentityError::Malformed(
            "key set has no `keys` array".into(),
        ));
    };
    let mut set = KeySet::default();
    for entry in keys {
        match entry.as_object().and_then(parse_jwk) {
            Some((kid, jwk)) => set.by_kid.entry(kid).or_default().push(Arc::new(jwk)),
            None => set.skipped += 1,
        }
    }
    Ok(set)
}

fn field<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    map.get(name).and_then(Value::as_str)
}

/// Key material is base64url; a stray `=` padding from a lenient publisher is tolerated here
/// (the document came over authenticated HTTPS), unlike in tokens.
fn material(map: &Map<String, Value>, name: &str) -> Option<Vec<u8>> {
    b64url_decode(field(map, name)?.trim_end_matches('='), name).ok()
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// One JWK, or `None` when it is not a usable public signing key.
fn parse_jwk(map: &Map<String, Value>) -> Option<(String, Jwk)> {
    let kid = field(map, "kid").filter(|k| !k.is_empty())?.to_string();
    if map.get("use").is_some_and(|u| u.as_str() != Some("sig")) {
        return None;
    }
    if let Some(ops) = map.get("key_ops") {
        let verify = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
        if !verify {
            return None;
        }
    }
    let alg = match map.get("alg") {
        None => None,
        Some(v) => Some(Alg::from_name(v.as_str()?)?),
    };
    let material = match field(map, "kty")? {
        "RSA" => {
            // ring wants both numbers without leading zero bytes.
            let n = strip_leading_zeros(material(map, "n")?);
            let e = strip_leading_zeros(material(map, "e")?);
            if !(RSA_MIN_BYTES..=RSA_MAX_BYTES).contains(&n.len())
                || e.is_empty()
                || e.len() > RSA_MAX_E_BYTES
            {
                return None;
            }
            Material::Rsa { n, e }
        }
        "EC" => {
            if field(map, "crv")? != "P-256" {
                return None;
            }
            let x = material(map, "x")?;
            let y = material(map, "y")?;
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Material::P256 { point }
        }
        _ => return None,
    };
    let jwk = Jwk { alg, material };
    // A key whose declared `alg` contradicts its type (an EC key marked RS256) is unusable.
    if let Some(alg) = alg
        && !jwk.fits(alg)
    {
        return None;
    }
    Some((kid, jwk))
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    use super::*;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn rsa_jwk(kid: &str) -> Value {
        let mut n = vec![0xc3u8; 256];
        n[255] = 0x01;
        json!({"kty":"RSA","kid":kid,"n":b64(&n),"e":"AQAB"})
    }

    #[test]
    fn keeps_usable_keys_and_skips_the_rest() {
        let mut rsa_alg = rsa_jwk("rsa-alg");
        rsa_alg["alg"] = json!("RS256");
        rsa_alg["use"] = json!("sig");
        let mut enc = rsa_jwk("enc");
        enc["use"] = json!("enc");
        let mut hs = rsa_jwk("hs");
        hs["alg"] = json!("HS256");
        let mut ops = rsa_jwk("ops");
        ops["key_ops"] = json!(["encrypt"]);
        let mut ec_marked_rs =
            json!({"kty":"EC","crv":"P-256","kid":"ec-rs","x":b64(&[1;32]),"y":b64(&[2;32])});
        ec_marked_rs["alg"] = json!("RS256");
        let mut small = rsa_jwk("small");
        small["n"] = json!(b64(&[0xc3; 128]));
        let doc = json!({"keys":[
            rsa_jwk("plain"),
            rsa_alg,
            {"kty":"EC","crv":"P-256","kid":"ec","x":b64(&[1;32]),"y":b64(&[2;32])},
            {"kty":"EC","crv":"P-384","kid":"p384","x":b64(&[1;48]),"y":b64(&[2;48])},
            {"kty":"oct","kid":"oct","k":b64(b"shared secret")},
            {"kty":"OKP","crv":"Ed25519","kid":"ed","x":b64(&[1;32])},
            {"kty":"RSA","n":b64(&[0xc3;256]),"e":"AQAB"},
            enc, hs, ops, ec_marked_rs, small, "not an object"
        ]});
        let set = parse_jwks(doc.to_string().as_bytes()).unwrap();
        assert_eq!(set.len(), 3, "{set:?}");
        assert_eq!(set.skipped, 10);
        assert!(set.find("plain", Alg::Rs256).is_some());
        assert!(set.find("plain", Alg::Ps256).is_some());
        assert!(set.find("plain", Alg::Es256).is_none());
        assert!(set.find("rsa-alg", Alg::Rs256).is_some());
        assert!(set.find("rsa-alg", Alg::Ps256).is_none());
        assert!(set.find("ec", Alg::Es256).is_some());
        assert!(set.find("ec", Alg::Rs256).is_none());
        for gone in ["oct", "hs", "enc", "ops", "p384", "ed", "small"] {
            assert!(!set.has_kid(gone), "{gone}");
        }
    }

    #[test]
    fn strips_leading_zero_bytes_of_the_modulus() {
        let mut n = vec![0u8];
        n.extend_from_slice(&[0xc3; 256]);
        let doc = json!({"keys":[{"kty":"RSA","kid":"z","n":b64(&n),"e":"AAEAAQ"}]});
        let set = parse_jwks(doc.to_string().as_bytes()).unwrap();
        let key = set.find("z", Alg::Rs256).unwrap();
        match &key.material {
            Material::Rsa { n, e } => {
                assert_eq!(n.len(), 256);
                assert_eq!(e, &[1, 0, 1]);
            }
            Material::P256 { .. } => panic!("not RSA"),
        }
    }

    #[test]
    fn refuses_documents_without_keys() {
        for bad in [&b"[]"[..], b"{}", b"{\"keys\":{}}", b"nope"] {
            assert!(matches!(parse_jwks(bad), Err(IdentityError::Malformed(_))));
        }
    }

    #[test]
    fn a_wrong_signature_is_a_bad_signature() {
        let doc = json!({"keys":[rsa_jwk("k")]});
        let set = parse_jwks(doc.to_string().as_bytes()).unwrap();
        let key = set.find("k", Alg::Rs256).unwrap();
        assert!(matches!(
            key.verify(Alg::Rs256, b"msg", &[7; 256]),
            Err(IdentityError::BadSignature)
        ));
        assert!(matches!(
            key.verify(Alg::Es256, b"msg", &[7; 64]),
            Err(IdentityError::BadSignature)
        ));
    }
}
