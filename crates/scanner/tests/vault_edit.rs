//! The "vault it" edit: exactly the finding's span is replaced, escaped for where it lands, and
//! nothing is replaced once the page no longer holds the value that was found.

mod support;

use arkbridge_scanner::{EditError, Finding, replace_secret};
use support::{code, key, scan};

const REF: &str = "cyberark://Prod-DB/payments-db";

fn only(page: &str) -> Finding {
    let f = scan(page);
    assert_eq!(f.len(), 1, "{f:?}");
    f.into_iter().next().unwrap()
}

fn vault(page: &str, f: &Finding, replacement: &str) -> Result<String, EditError> {
    replace_secret(page, &f.location, &f.fingerprint, &key(), replacement)
}

/// The page with `old` (at the finding's span) swapped for `new`, as a byte-exact expectation.
fn expected(page: &str, f: &Finding, new: &str) -> String {
    let (s, l) = (f.location.byte_offset, f.location.byte_length);
    format!("{}{new}{}", &page[..s], &page[s + l..])
}

#[test]
fn replaces_only_the_span_in_text_cdata_and_attributes() {
    let pages = [
        "<p>Intro</p><table><tbody><tr><th>Password</th></tr><tr><td><p>Hx7!mQ2z9</p></td></tr></tbody></table><p>Outro &amp; more</p>".to_string(),
        code("DB_HOST=db01\nDB_PASSWORD=Summer2024!x\nDB_PORT=5432"),
        r#"<p><a href="postgres://app:S3cr!tPw9@db01:5432/app">db</a></p>"#.to_string(),
    ];
    for page in pages {
        let f = only(&page);
        let out = vault(&page, &f, REF).unwrap();
        assert_eq!(out, expected(&page, &f, REF));
        assert!(scan(&out).is_empty(), "{out}");
    }
}

#[test]
fn replacement_is_escaped_for_storage_format() {
    let page = "<p>pw: Tr0ub4dor&amp;3</p>";
    let f = only(page);
    let out = vault(page, &f, "<see vault & ask>").unwrap();
    assert_eq!(out, "<p>pw: &lt;see vault &amp; ask&gt;</p>");
}

#[test]
fn refuses_when_the_page_changed_under_the_finding() {
    let page = "<p>pw: Tr0ub4dor&amp;3</p>";
    let f = only(page);
    let changed = "<p>pw: Tr0ub4dor&amp;4</p>";
    assert_eq!(vault(changed, &f, REF), Err(EditError::FingerprintMismatch));
    let shifted = "<p>x</p><p>pw: Tr0ub4dor&amp;3</p>";
    assert!(vault(shifted, &f, REF).is_err());
    let shorter = "<p>pw</p>";
    assert!(matches!(
        vault(shorter, &f, REF),
        Err(EditError::OutOfPage { .. } | EditError::FingerprintMismatch)
    ));
    let malformed = "<p>pw: Tr0ub4dor&amp;3";
    assert!(matches!(vault(malformed, &f, REF), Err(EditError::Scan(_))));
}

#[test]
fn refuses_a_fingerprint_made_with_another_key() {
    let page = "<p>pw: Tr0ub4dor&amp;3</p>";
    let f = only(page);
    let other =
        arkbridge_scanner::FingerprintKey::new(&secrecy::SecretSlice::from(b"other".to_vec()));
    assert_eq!(
        replace_secret(page, &f.location, &f.fingerprint, &other, REF),
        Err(EditError::FingerprintMismatch)
    );
}
