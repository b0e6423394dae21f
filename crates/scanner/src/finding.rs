//! What a scan reports: the finding model, with a masked preview and a keyed fingerprint in
//! place of the value.
//!
//! A [`Finding`] never holds the secret. The value lives only while the scanner looks at it (as
//! a slice of the page being scanned); what leaves is its first few characters, its length and
//! an HMAC-SHA256 under a key only the caller holds, so that a weak password cannot be guessed
//! back from a report, and the same value found again (tomorrow, on another page) has the same
//! fingerprint, which is what a triage baseline keys on.

use std::fmt;

use ring::hmac;
use serde::{Deserialize, Serialize};

/// How bad a finding is, for `--fail-on` and SARIF levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses `low`, `medium`, `high` or `critical` (any case).
    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The family a detector belongs to; the corpus scores recall per category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// AWS, GCP and Azure keys.
    CloudKey,
    /// GitHub, GitLab, Bitbucket and Atlassian tokens.
    SourceControl,
    /// Slack tokens and webhooks.
    Messaging,
    /// Stripe, Twilio, SendGrid, Mailgun, npm, PyPI, OpenAI keys.
    SaasKey,
    /// JSON Web Tokens.
    Jwt,
    /// PEM private keys, service account key files.
    PrivateKey,
    /// URLs and connection strings carrying a password.
    ConnectionString,
    /// `key = value` with a secret-word key and a random-looking value.
    GenericAssignment,
    /// What people write in Confluence: password columns and rows in tables, "the password
    /// is X" in prose, `KEY=value` lines in code blocks.
    ConfluencePassword,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::CloudKey => "cloud-key",
            Category::SourceControl => "source-control",
            Category::Messaging => "messaging",
            Category::SaasKey => "saas-key",
            Category::Jwt => "jwt",
            Category::PrivateKey => "private-key",
            Category::ConnectionString => "connection-string",
            Category::GenericAssignment => "generic-assignment",
            Category::ConfluencePassword => "confluence-password",
        }
    }

    /// Whether the category is a prefix- or format-based token (the "structured" recall goal).
    pub fn is_structured(self) -> bool {
        matches!(
            self,
            Category::CloudKey
                | Category::SourceControl
                | Category::Messaging
                | Category::SaasKey
                | Category::Jwt
                | Category::PrivateKey
        )
    }
}

/// Where a finding is. Offsets in the original storage string count Unicode scalar values
/// (characters), as SARIF's `charOffset` does with `columnKind: unicodeCodePoints`; byte offsets
/// are given too, for the edit helper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// The enclosing elements, e.g. `table/tbody/tr[2]/td[3]` or
    /// `ac:structured-macro[code]/ac:plain-text-body`; `@name` ends it for an attribute value.
    pub element_path: String,
    /// Character offset of the secret's first character in the storage string.
    pub char_offset: usize,
    /// Characters the secret takes in the storage string (entity references count whole).
    pub char_length: usize,
    /// Byte offset in the storage string.
    pub byte_offset: usize,
    /// Bytes in the storage string.
    pub byte_length: usize,
    /// Character offset in the text view.
    pub view_char_offset: usize,
    /// Characters of the value in the text view.
    pub view_char_length: usize,
}

/// One secret found on a page. Holds no cleartext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The detector's id, e.g. `github-token`; SARIF's `ruleId`.
    pub detector: String,
    pub category: Category,
    pub severity: Severity,
    pub location: Location,
    /// The first two to four characters, `…` and the length, e.g. `ghp_… (40 chars)`.
    pub preview: String,
    /// `hmac-sha256:` and the hex HMAC of the full value under the caller's key.
    pub fingerprint: String,
}

/// The first characters of a value and its length, never enough to rebuild it: four
/// characters of a long token (its public prefix, mostly), two of anything shorter, none of a
/// value of five characters or fewer.
pub fn mask(value: &str) -> String {
    let len = value.chars().count();
    let shown = match len {
        0..=5 => 0,
        6..=15 => 2,
        _ => 4,
    };
    let head: String = value.chars().take(shown).collect();
    format!("{head}… ({len} chars)")
}

/// The key the fingerprints are made with. The caller supplies it (from CyberArk or the
/// store's configuration); its `Debug` form shows nothing of it.
pub struct FingerprintKey(hmac::Key);

impl FingerprintKey {
    /// A key from secret bytes; the caller keeps (and wipes) its own copy.
    pub fn new(bytes: &secrecy::SecretSlice<u8>) -> FingerprintKey {
        use secrecy::ExposeSecret;
        FingerprintKey(hmac::Key::new(hmac::HMAC_SHA256, bytes.expose_secret()))
    }

    /// The fingerprint of a value: `hmac-sha256:` and 64 hex digits.
    pub fn fingerprint(&self, value: &str) -> String {
        let tag = hmac::sign(&self.0, value.as_bytes());
        format!("hmac-sha256:{}", hex::encode(tag.as_ref()))
    }

    /// Whether `fingerprint` is this key's fingerprint of `value`, compared in constant time.
    pub fn matches(&self, value: &str, fingerprint: &str) -> bool {
        let Some(hex_tag) = fingerprint.strip_prefix("hmac-sha256:") else {
            return false;
        };
        let Ok(tag) = hex::decode(hex_tag) else {
            return false;
        };
        hmac::verify(&self.0, value.as_bytes(), &tag).is_ok()
    }
}

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FingerprintKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: &[u8]) -> FingerprintKey {
        FingerprintKey::new(&secrecy::SecretSlice::from(b.to_vec()))
    }

    #[test]
    fn mask_shows_a_short_head_and_the_length_only() {
        assert_eq!(
            mask("ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
            "ghp_… (40 chars)"
        );
        assert_eq!(mask("Hunter2!x"), "Hu… (9 chars)");
        assert_eq!(mask("abc12"), "… (5 chars)");
        assert_eq!(mask("ü€ßÄöü"), "ü€… (6 chars)");
    }

    #[test]
    fn fingerprint_is_keyed_and_verifiable() {
        let (a, b) = (key(b"one"), key(b"two"));
        let fa = a.fingerprint("s3cret!");
        assert!(fa.starts_with("hmac-sha256:") && fa.len() == 12 + 64);
        assert_ne!(fa, b.fingerprint("s3cret!"));
        assert!(a.matches("s3cret!", &fa));
        assert!(!a.matches("s3cret?", &fa));
        assert!(!b.matches("s3cret!", &fa));
        assert!(!a.matches("s3cret!", "sha1:00"));
        assert!(!a.matches("s3cret!", "hmac-sha256:zz"));
    }

    #[test]
    fn key_debug_is_redacted() {
        assert_eq!(
            format!("{:?}", key(b"topsecret")),
            "FingerprintKey(<redacted>)"
        );
    }
}
