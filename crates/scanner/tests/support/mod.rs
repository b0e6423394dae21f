//! Helpers shared by the scanner's integration tests.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use arkbridge_scanner::{Finding, FingerprintKey, PageMeta, Scanner};

pub(crate) fn key() -> FingerprintKey {
    FingerprintKey::new(&secrecy::SecretSlice::from(
        b"test-fingerprint-key".to_vec(),
    ))
}

pub(crate) fn scanner() -> Scanner {
    Scanner::new(key())
}

/// The findings of one page.
pub(crate) fn scan(storage: &str) -> Vec<Finding> {
    scanner().scan(PageMeta::default(), storage).findings
}

/// The storage text each finding points at.
pub(crate) fn spans<'a>(storage: &'a str, findings: &[Finding]) -> Vec<&'a str> {
    findings
        .iter()
        .map(|f| &storage[f.location.byte_offset..f.location.byte_offset + f.location.byte_length])
        .collect()
}

/// Wraps text in a code macro.
pub(crate) fn code(body: &str) -> String {
    format!(
        r#"<ac:structured-macro ac:name="code" ac:schema-version="1"><ac:parameter ac:name="language">bash</ac:parameter><ac:plain-text-body><![CDATA[{body}]]></ac:plain-text-body></ac:structured-macro>"#
    )
}
