//! Entry points for the `scan_storage` fuzz target (`fuzz/`, nightly and libFuzzer), kept here
//! so that stable tests can run the same checks. Each panics when an invariant breaks:
//! - scanning any input terminates without panicking;
//! - every finding's byte span lies inside the input, on character boundaries, and its
//!   character offsets select the same text;
//! - where the span is the value itself (no reference, no markup), the fingerprint is that
//!   value's;
//! - on a well-formed page, the "vault it" edit of any finding either is refused or changes
//!   exactly that span, and the result is still well-formed storage.

use std::sync::LazyLock;

use crate::{FingerprintKey, PageMeta, Scanner, replace_secret, text_view};

/// One scanner for every input: compiling the detectors per input would dominate the run.
static SCANNER: LazyLock<Scanner> = LazyLock::new(|| {
    Scanner::new(FingerprintKey::new(&secrecy::SecretSlice::from(
        b"fuzz".to_vec(),
    )))
});

/// Scans arbitrary bytes (taken as UTF-8, invalid sequences replaced) and checks the
/// invariants above.
pub fn scan_storage(data: &[u8]) {
    let input = String::from_utf8_lossy(data);
    check(&input);
}

/// The checks on one input.
pub fn check(storage: &str) {
    let scanner = &*SCANNER;
    let scan = scanner.scan(PageMeta::default(), storage);
    assert_eq!(scan.chars, storage.chars().count());
    let well_formed = text_view(storage).is_ok();
    assert_eq!(scan.well_formed, well_formed);
    for f in &scan.findings {
        let l = &f.location;
        let raw = l.byte_offset..l.byte_offset + l.byte_length;
        let text = storage
            .get(raw.clone())
            .expect("finding span inside the input");
        assert!(!text.is_empty());
        let by_chars: String = storage
            .chars()
            .skip(l.char_offset)
            .take(l.char_length)
            .collect();
        assert_eq!(by_chars, text, "character and byte offsets disagree");
        if !text.contains(['&', '<']) && !text.contains("]]>") {
            assert!(
                scanner.key().matches(text, &f.fingerprint),
                "fingerprint is not of the span"
            );
        }
        if well_formed {
            let replacement = "cyberark://Safe/Object";
            if let Ok(out) = replace_secret(storage, l, &f.fingerprint, scanner.key(), replacement)
            {
                assert!(text_view(&out).is_ok(), "the edit broke the page");
                assert_eq!(&out[..raw.start], &storage[..raw.start]);
                let tail = storage.len() - raw.end;
                assert_eq!(&out[out.len() - tail..], &storage[raw.end..]);
            }
        }
    }
}
