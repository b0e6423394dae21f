//! Property tests of the masker: random secrets (non-ASCII, quotes, backslashes, short and
//! long), random encodings of them in random text, random chunk splits.
//!
//! The encodings are computed here independently of `forms.rs`, with the encoders' own crates,
//! so a form the masker forgot would show up. The checks use the replacement "\0", a byte no
//! secret here and no encoding contains, so that a form found in the output cannot have been
//! put together from a replacement and the text beside it.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;

use super::*;

const REPLACEMENT: &str = "\0";

const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
const URI_COMPONENT: &AsciiSet = &RFC3986
    .remove(b'!')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

/// The encodings a script may print a secret in, by the encoders' crates.
fn encodings(v: &str) -> Vec<Vec<u8>> {
    let b = v.as_bytes();
    let json = serde_json::to_string(v).unwrap();
    let pct = |set: &'static AsciiSet| utf8_percent_encode(v, set).to_string();
    let plus = |set: &'static AsciiSet| {
        v.split(' ')
            .map(|p| utf8_percent_encode(p, set).to_string())
            .collect::<Vec<_>>()
            .join("+")
    };
    let mut out = vec![
        b.to_vec(),
        STANDARD.encode(b).into_bytes(),
        STANDARD_NO_PAD.encode(b).into_bytes(),
        URL_SAFE.encode(b).into_bytes(),
        URL_SAFE_NO_PAD.encode(b).into_bytes(),
        pct(NON_ALPHANUMERIC).into_bytes(),
        pct(RFC3986).into_bytes(),
        pct(URI_COMPONENT).into_bytes(),
        plus(FORM).into_bytes(),
        plus(RFC3986).into_bytes(),
        hex::encode(b).into_bytes(),
        hex::encode_upper(b).into_bytes(),
        json.as_bytes()[1..json.len() - 1].to_vec(),
    ];
    // Python's json.dumps (ASCII-only, lower case \u escapes).
    let ascii: String = v
        .encode_utf16()
        .zip(v.chars().flat_map(|c| {
            let n = c.len_utf16();
            std::iter::repeat_n(c, n)
        }))
        .map(|(u, c)| {
            if c.is_ascii() {
                let s = serde_json::to_string(&c.to_string()).unwrap();
                s[1..s.len() - 1].to_string()
            } else {
                format!("\\u{u:04x}")
            }
        })
        .collect();
    out.push(ascii.into_bytes());
    out
}

/// Characters secrets are drawn from: ASCII punctuation, quotes, backslashes, spaces, controls
/// and letters from several scripts (never NUL, which an environment variable cannot hold).
fn secret() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9]{1,3}",
        "[ -~]{1,24}",
        "[a-zA-Z0-9\"\\\\ %+/=*'()!~é€😀\u{1}\t\n]{4,40}",
        "[\u{1}-\u{10FFFF}]{1,12}",
        "[a-zA-Z0-9_\\-]{60,200}",
    ]
}

/// Random text: filler and encoded secrets, as (filler, which secret, which encoding) pieces.
fn pieces() -> impl Strategy<Value = Vec<(String, usize, usize)>> {
    prop::collection::vec(("[ -~\n]{0,30}", any::<usize>(), any::<usize>()), 0..8)
}

fn stream_mask(m: &Masker, text: &[u8], splits: &[usize]) -> Vec<u8> {
    let mut s = m.stream();
    let mut out = Vec::new();
    let mut at = 0;
    for &n in splits {
        let end = (at + n).min(text.len());
        s.push_into(&text[at..end], &mut out);
        at = end;
    }
    s.push_into(&text[at..], &mut out);
    s.finish_into(&mut out);
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Masks text made of `pieces` in chunks split at `splits` and checks the result.
fn check_masked(
    secrets: &[String],
    pieces: &[(String, usize, usize)],
    splits: &[usize],
) -> Result<(), TestCaseError> {
    let m = Masker::new(
        secrets
            .iter()
            .map(|s| (s.as_str(), REPLACEMENT.to_string())),
    );
    let forms: Vec<Vec<Vec<u8>>> = secrets.iter().map(|s| encodings(s)).collect();
    let mut text = Vec::new();
    for (filler, s, e) in pieces {
        text.extend_from_slice(filler.as_bytes());
        let f = &forms[s % forms.len()];
        text.extend_from_slice(&f[e % f.len()]);
    }
    let streamed = stream_mask(&m, &text, splits);
    prop_assert!(
        streamed == m.mask(&text),
        "streaming differs from one-shot masking"
    );
    for (secret, fs) in secrets.iter().zip(&forms) {
        for f in fs {
            prop_assert!(
                !contains(&streamed, f),
                "a form of {:?} survived: {:?}",
                secret,
                String::from_utf8_lossy(f)
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn masked_output_never_contains_any_form_of_any_secret(
        secrets in prop::collection::vec(secret(), 1..5),
        pieces in pieces(),
        splits in prop::collection::vec(0usize..120, 0..12),
    ) {
        check_masked(&secrets, &pieces, &splits)?;
    }

    /// Enough secrets that most of their forms go through the skip table, not Aho-Corasick.
    #[test]
    fn with_many_secrets_no_form_survives_either(
        secrets in prop::collection::vec(secret(), 8..16),
        pieces in pieces(),
        splits in prop::collection::vec(0usize..120, 0..12),
    ) {
        prop_assume!(Masker::with_default_mask(secrets.iter().map(String::as_str)).needle_count() > 64);
        check_masked(&secrets, &pieces, &splits)?;
    }

    #[test]
    fn text_without_secrets_passes_through_unchanged(
        secrets in prop::collection::vec(secret(), 1..5),
        text in "[ -~\n\té€]{0,300}",
        splits in prop::collection::vec(0usize..64, 0..12),
    ) {
        let m = Masker::new(secrets.iter().map(|s| (s.as_str(), MASK.to_string())));
        let needles: Vec<_> = secrets.iter().flat_map(|s| forms::forms(s)).collect();
        prop_assume!(needles.iter().all(|n| !contains(text.as_bytes(), n)));
        prop_assert_eq!(stream_mask(&m, text.as_bytes(), &splits), text.as_bytes());
    }

    #[test]
    fn labels_replace_every_form(
        secret in "[a-z0-9\"\\\\ %+/é]{8,30}",
        encoding in any::<usize>(),
        splits in prop::collection::vec(0usize..40, 0..6),
    ) {
        let m = Masker::with_labels([(secret.as_str(), "DB_PASSWORD")]);
        let forms = encodings(&secret);
        let text = [b"pw=".as_slice(), &forms[encoding % forms.len()], b";"].concat();
        prop_assert_eq!(stream_mask(&m, &text, &splits), b"pw=[DB_PASSWORD];".to_vec());
    }
}
