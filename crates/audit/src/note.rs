//! C2SP signed notes (`c2sp.org/signed-note`): a text ending in a newline, a blank line, then
//! signature lines `— <key name> <base64(4-byte key id || signature)>`.
//!
//! Verification follows the spec: signatures by unknown keys (name and id not both matching a
//! trusted key) are ignored; a signature by a known key that fails rejects the whole note; a
//! note with no verified signature is rejected.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::keys::{SigningKey, VerifierKey};

/// The most signature lines a note may carry (the spec asks verifiers to accept at least 16).
const MAX_SIGNATURES: usize = 64;
/// The largest note accepted, so a hostile file cannot make the parser allocate without bound.
const MAX_NOTE_BYTES: usize = 1 << 20;

/// Why a note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed signed note: {0}")]
    Malformed(&'static str),
    #[error("the signature by {name} (key id {key_id:08x}) does not verify")]
    BadSignature { name: String, key_id: u32 },
    #[error("no signature by a trusted key (signed by: {0})")]
    Untrusted(String),
}

/// One signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: u32,
    pub signature: Vec<u8>,
}

/// A parsed, not yet verified note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, final newline included.
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

/// `text` (which must end in a newline) signed by `key`.
pub fn sign(text: &str, key: &SigningKey) -> String {
    let sig = key.sign(text.as_bytes());
    let mut blob = Vec::with_capacity(68);
    blob.extend_from_slice(&key.verifier().key_id.to_be_bytes());
    blob.extend_from_slice(&sig);
    format!("{text}\n\u{2014} {} {}\n", key.name(), B64.encode(blob))
}

impl Note {
    /// Splits a note into its text and signature lines.
    pub fn parse(note: &str) -> Result<Note, NoteError> {
        if note.len() > MAX_NOTE_BYTES {
            return Err(NoteError::Malformed("larger than 1 MiB"));
        }
        if note.chars().any(|c| c < ' ' && c != '\n') {
            return Err(NoteError::Malformed("it holds a control character"));
        }
        if !note.ends_with('\n') {
            return Err(NoteError::Malformed("it does not end with a newline"));
        }
        // The text is separated from the signatures by the last blank line.
        let split = note
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let text = &note[..split + 1];
        let sigs = &note[split + 2..];
        let mut signatures = Vec::new();
        for line in sigs.lines() {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::Malformed("too many signatures"));
            }
            let rest = line.strip_prefix("\u{2014} ").ok_or(NoteError::Malformed(
                "a signature line does not start with `— `",
            ))?;
            let (name, blob) = rest
                .split_once(' ')
                .ok_or(NoteError::Malformed("a signature line has no signature"))?;
            if name.is_empty() || name.contains('+') || blob.contains(' ') {
                return Err(NoteError::Malformed(
                    "a signature line is not `— name signature`",
                ));
            }
            let bytes = B64
                .decode(blob)
                .map_err(|_| NoteError::Malformed("a signature is not base64"))?;
            if bytes.len() < 5 {
                return Err(NoteError::Malformed("a signature is too short"));
            }
            signatures.push(NoteSignature {
                name: name.to_string(),
                key_id: u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
                signature: bytes[4..].to_vec(),
            });
        }
        if signatures.is_empty() {
            return Err(NoteError::Malformed("no signature line"));
        }
        Ok(Note {
            text: text.to_string(),
            signatures,
        })
    }

    /// Verifies the note against `keys`; returns the keys whose signatures verified.
    pub fn verify<'k>(&self, keys: &'k [VerifierKey]) -> Result<Vec<&'k VerifierKey>, NoteError> {
        let mut ok = Vec::new();
        for sig in &self.signatures {
            let Some(key) = keys
                .iter()
                .find(|k| k.name == sig.name && k.key_id == sig.key_id)
            else {
                continue;
            };
            if !key.verify(self.text.as_bytes(), &sig.signature) {
                return Err(NoteError::BadSignature {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            ok.push(key);
        }
        if ok.is_empty() {
            let by: Vec<String> = self
                .signatures
                .iter()
                .map(|s| format!("{} {:08x}", s.name, s.key_id))
                .collect();
            return Err(NoteError::Untrusted(by.join(", ")));
        }
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretSlice;

    const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                           then you don't know what your problem is.\n";
    const GO_NOTE_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    /// The private seed of the Go test key (`PRIVATE+KEY+PeterNeumann+c74f20a3+AYEK...`, after
    /// its type byte).
    const GO_SEED_B64: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";

    /// The PKCS#8 v1 document of an Ed25519 seed (RFC 8410 §7).
    fn pkcs8_v1(seed: &[u8]) -> SecretSlice<u8> {
        let mut der = hex::decode("302e020100300506032b657004220420").unwrap();
        der.extend_from_slice(seed);
        SecretSlice::from(der)
    }

    fn go_note() -> String {
        format!("{GO_TEXT}\n{GO_NOTE_SIG}")
    }

    #[test]
    fn the_go_reference_note_verifies() {
        let key = VerifierKey::parse(GO_VKEY).unwrap();
        let note = Note::parse(&go_note()).unwrap();
        assert_eq!(note.text, GO_TEXT);
        assert_eq!(note.verify(std::slice::from_ref(&key)).unwrap(), vec![&key]);
    }

    #[test]
    fn signing_reproduces_the_go_reference_note() {
        let seed = &B64.decode(GO_SEED_B64).unwrap()[1..];
        let key = SigningKey::from_pkcs8("PeterNeumann", &pkcs8_v1(seed)).unwrap();
        assert_eq!(key.verifier().to_string(), GO_VKEY);
        assert_eq!(sign(GO_TEXT, &key), go_note());
    }

    #[test]
    fn a_changed_text_or_a_wrong_key_is_refused() {
        let key = VerifierKey::parse(GO_VKEY).unwrap();
        let changed = go_note().replace("answer", "Answer");
        assert!(matches!(
            Note::parse(&changed)
                .unwrap()
                .verify(std::slice::from_ref(&key)),
            Err(NoteError::BadSignature { .. })
        ));
        let (_, other) = crate::keys::generate("PeterNeumann").unwrap();
        assert!(matches!(
            Note::parse(&go_note()).unwrap().verify(&[other]),
            Err(NoteError::Untrusted(_))
        ));
    }

    #[test]
    fn malformed_notes_are_refused() {
        for bad in [
            "no newline",
            "text\n",
            "text\n\n",
            "text\n\n- PeterNeumann AAAA\n",
            "text\n\n\u{2014} PeterNeumann !!!!\n",
            "text\n\n\u{2014} PeterNeumann AAA=\n",
            "te\u{7}xt\n\n\u{2014} PeterNeumann AAAAAAAA\n",
        ] {
            assert!(Note::parse(bad).is_err(), "{bad:?}");
        }
    }
}
