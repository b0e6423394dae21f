//! The checkpoint signing key (Ed25519, through `ring`) and the public keys that verify it.
//!
//! The private key is a PKCS#8 document, stored in CyberArk as base64 and handed over as a secret
//! ([`SigningKey::from_pkcs8`]); it is never printed, logged or written by arkbridge. The public
//! side is a C2SP signed-note verifier key, `<name>+<key id, 8 hex>+<base64(0x01 || public key)>`
//! (the format of Go's `golang.org/x/mod/sumdb/note`), where the key id is
//! `SHA-256(name || 0x0A || 0x01 || public key)[:4]`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The C2SP signed-note signature type of Ed25519.
const ED25519_TYPE: u8 = 0x01;

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "invalid key name `{0}`: it must be non-empty, without spaces or `+` (e.g. example.com/arkbridge-audit)"
    )]
    Name(String),
    #[error("the signing key is not a valid Ed25519 PKCS#8 document ({0})")]
    Pkcs8(String),
    #[error("the signing key is not valid base64")]
    Base64,
    #[error("invalid public key `{line}`: {reason}")]
    Verifier { line: String, reason: String },
    #[error("no public key in {0}")]
    Empty(String),
}

/// Checks a key name (also a checkpoint origin).
pub fn check_name(name: &str) -> Result<(), KeyError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(KeyError::Name(name.to_string()));
    }
    Ok(())
}

/// `SHA-256(name || 0x0A || 0x01 || public key)[:4]`, big-endian.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ED25519_TYPE]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The checkpoint signing key. Its `Debug` shows only the name and key id.
pub struct SigningKey {
    name: String,
    pair: Ed25519KeyPair,
    verifier: VerifierKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.verifier.key_id))
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A key from its PKCS#8 document (v2 as `ring` writes it, or v1 as OpenSSL does) and the
    /// name that signs (the log's origin).
    pub fn from_pkcs8(name: &str, pkcs8: &SecretSlice<u8>) -> Result<SigningKey, KeyError> {
        check_name(name)?;
        let bytes = pkcs8.expose_secret();
        let pair = Ed25519KeyPair::from_pkcs8(bytes)
            .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(bytes))
            .map_err(|e| KeyError::Pkcs8(e.to_string()))?;
        let public: [u8; 32] = pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| KeyError::Pkcs8("unexpected public key length".into()))?;
        Ok(SigningKey {
            name: name.to_string(),
            verifier: VerifierKey::new(name, public)?,
            pair,
        })
    }

    /// A key from the base64 text of its PKCS#8 document (what `arkbridge audit keygen` prints
    /// and what is stored in CyberArk). Surrounding whitespace is ignored.
    pub fn from_base64(name: &str, text: &SecretString) -> Result<SigningKey, KeyError> {
        let cleaned: Zeroizing<String> = Zeroizing::new(
            text.expose_secret()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect(),
        );
        let der = B64
            .decode(cleaned.as_bytes())
            .map_err(|_| KeyError::Base64)?;
        SigningKey::from_pkcs8(name, &SecretSlice::from(der))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// The Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }
}

/// A new key pair, as `arkbridge audit keygen` prints it: the private PKCS#8 document in base64
/// (to store in CyberArk) and the verifier key.
pub fn generate(name: &str) -> Result<(SecretString, VerifierKey), KeyError> {
    check_name(name)?;
    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| KeyError::Pkcs8("the system random source failed".into()))?;
    let text = SecretString::from(B64.encode(doc.as_ref()));
    let key = SigningKey::from_base64(name, &text)?;
    Ok((text, key.verifier))
}

/// A public key that verifies checkpoints: name, key id and Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    pub name: String,
    pub key_id: u32,
    pub public_key: [u8; 32],
}

impl VerifierKey {
    pub fn new(name: &str, public_key: [u8; 32]) -> Result<VerifierKey, KeyError> {
        check_name(name)?;
        Ok(VerifierKey {
            name: name.to_string(),
            key_id: key_id(name, &public_key),
            public_key,
        })
    }

    /// Parses `<name>+<8 hex>+<base64(0x01 || key)>`, checking the key id.
    pub fn parse(line: &str) -> Result<VerifierKey, KeyError> {
        let line = line.trim();
        let bad = |reason: &str| KeyError::Verifier {
            line: line.to_string(),
            reason: reason.to_string(),
        };
        let mut parts = line.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected <name>+<key id>+<key>"));
        };
        check_name(name).map_err(|_| bad("bad name"))?;
        let id = u32::from_str_radix(id, 16)
            .ok()
            .filter(|_| id.len() == 8)
            .ok_or_else(|| bad("the key id is not 8 hex digits"))?;
        let bytes = B64.decode(key).map_err(|_| bad("the key is not base64"))?;
        let (&alg, public) = bytes.split_first().ok_or_else(|| bad("empty key"))?;
        if alg != ED25519_TYPE {
            return Err(bad("not an Ed25519 key (type byte 0x01)"));
        }
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| bad("an Ed25519 public key is 32 bytes"))?;
        let key = VerifierKey::new(name, public)?;
        if key.key_id != id {
            return Err(bad("the key id does not match the name and key"));
        }
        Ok(key)
    }

    /// Every key of a file: one per non-empty line; `#` starts a comment line.
    pub fn parse_all(text: &str, source: &str) -> Result<Vec<VerifierKey>, KeyError> {
        let keys = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(VerifierKey::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(KeyError::Empty(source.to_string()));
        }
        Ok(keys)
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.public_key)
            .verify(message, signature)
            .is_ok()
    }
}

impl std::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = Vec::with_capacity(33);
        raw.push(ED25519_TYPE);
        raw.extend_from_slice(&self.public_key);
        write!(f, "{}+{:08x}+{}", self.name, self.key_id, B64.encode(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_their_verifier_key_round_trips() {
        let (private, public) = generate("example.com/audit").unwrap();
        let key = SigningKey::from_base64("example.com/audit", &private).unwrap();
        let sig = key.sign(b"hello\n");
        assert!(public.verify(b"hello\n", &sig));
        assert!(!public.verify(b"hello!\n", &sig));
        let text = public.to_string();
        assert!(text.starts_with("example.com/audit+"));
        assert_eq!(VerifierKey::parse(&text).unwrap(), public);
        // Debug shows the name and key id only.
        let debug = format!("{key:?}");
        assert!(debug.contains("example.com/audit") && !debug.contains(private.expose_secret()));
    }

    #[test]
    fn key_id_follows_the_signed_note_spec() {
        // The Go `note` package's test vector: PeterNeumann's key.
        let key = VerifierKey::parse(
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        )
        .unwrap();
        assert_eq!(key.key_id, 0xc74f20a3);
        assert_eq!(key.name, "PeterNeumann");
    }

    #[test]
    fn bad_keys_and_names_are_refused() {
        assert!(check_name("a b").is_err());
        assert!(check_name("a+b").is_err());
        assert!(check_name("").is_err());
        for bad in [
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3+ApRc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3",
            "PeterNeumann+zz+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ] {
            assert!(VerifierKey::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            SigningKey::from_base64("n", &SecretString::from("not base64!")),
            Err(KeyError::Base64)
        ));
        assert!(matches!(
            SigningKey::from_pkcs8("n", &SecretSlice::from(vec![1u8, 2, 3])),
            Err(KeyError::Pkcs8(_))
        ));
        assert!(matches!(
            VerifierKey::parse_all("# only a comment\n", "keys.txt"),
            Err(KeyError::Empty(_))
        ));
    }
}
