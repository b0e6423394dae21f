//! Unit tests of the masker: each form, stream splits, hold-back, labels, the two search paths.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::*;

/// RFC 3986 unreserved characters, left alone by the encoder under test.
const URL_RESERVED: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

const SECRET: &str = "p@ss w\"ord/+1";

fn masker() -> Masker {
    Masker::with_default_mask([SECRET, "other-secret"])
}

#[test]
fn masks_every_form() {
    let m = masker();
    let forms = [
        SECRET.to_string(),
        STANDARD.encode(SECRET),
        URL_SAFE_NO_PAD.encode(SECRET),
        utf8_percent_encode(SECRET, NON_ALPHANUMERIC).to_string(),
        utf8_percent_encode(SECRET, URL_RESERVED).to_string(),
        hex::encode(SECRET),
        hex::encode_upper(SECRET),
        r#"p@ss w\"ord/+1"#.to_string(),
    ];
    for f in forms {
        let line = format!("x={f};");
        assert_eq!(m.mask_str(&line), "x=*****;", "form {f:?}");
    }
}

#[test]
fn stream_masks_across_every_split_point() {
    let m = masker();
    let text = format!("start {SECRET} middle other-secret{SECRET} end");
    let expected = m.mask_str(&text);
    assert!(!expected.contains("ss w"));
    let bytes = text.as_bytes();
    for a in 0..bytes.len() {
        for b in a..bytes.len() {
            let mut s = m.stream();
            let mut out = s.push(&bytes[..a]);
            out.extend(s.push(&bytes[a..b]));
            out.extend(s.push(&bytes[b..]));
            out.extend(s.finish());
            assert_eq!(
                String::from_utf8(out).unwrap(),
                expected,
                "split at {a},{b}"
            );
        }
    }
}

#[test]
fn byte_at_a_time() {
    let m = masker();
    let text = format!("{SECRET}{SECRET}x{SECRET}");
    let mut s = m.stream();
    let mut out = Vec::new();
    for b in text.as_bytes() {
        out.extend(s.push(std::slice::from_ref(b)));
    }
    out.extend(s.finish());
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "*************x*****".replace("*************", "**********")
    );
}

#[test]
fn holds_back_only_a_possible_secret_prefix() {
    let m = Masker::with_default_mask(["abcdef"]);
    let mut s = m.stream();
    assert_eq!(
        s.push(b"started 42\n"),
        b"started 42\n",
        "nothing that could be a secret is held"
    );
    assert_eq!(
        s.push(b"x abc"),
        b"x ",
        "a possible start of the secret is held"
    );
    assert_eq!(
        s.push(b"dX"),
        b"abcdX",
        "released once it cannot be the secret"
    );
    assert_eq!(s.push(b"ab"), b"");
    assert_eq!(s.push(b"cdef!"), b"*****!");
    assert!(s.finish().is_empty());
}

#[test]
fn secret_inside_a_longer_base64_text_is_masked_at_every_offset() {
    let m = masker();
    for user in ["", "a", "ab", "abc", "abcd", "payments_app"] {
        for tail in ["", ":x", ":xy", ":xyz"] {
            let basic = STANDARD.encode(format!("{user}:{SECRET}{tail}"));
            let masked = m.mask_str(&format!("Authorization: Basic {basic}"));
            assert!(
                masked.contains("*****"),
                "user {user:?} tail {tail:?}: {masked}"
            );
            let url = URL_SAFE_NO_PAD.encode(format!("{user}:{SECRET}{tail}"));
            assert!(
                m.mask_str(&url).contains("*****"),
                "url-safe, user {user:?}"
            );
        }
    }
}

#[test]
fn lines_of_a_multi_line_secret_are_masked_one_by_one() {
    let key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\nAQEFAASCBKcwggSjAgEAAoIB\n-----END KEY-----";
    let m = Masker::with_default_mask([key]);
    let out = m.mask_str("line 2: MIIEvQIBADANBgkqhkiG9w0B\n");
    assert_eq!(out, "line 2: *****\n");
    assert_eq!(m.mask_str("ok\n"), "ok\n");
}

#[test]
fn empty_masker_passes_through() {
    let m = Masker::with_default_mask([""]);
    let mut s = m.stream();
    assert_eq!(s.push(b"hello"), b"hello");
    assert!(s.finish().is_empty());
}

#[test]
fn labels_are_used() {
    let m = Masker::new([("hunter2", "[DB_PASSWORD]".to_string())]);
    assert_eq!(m.mask_str("pw hunter2"), "pw [DB_PASSWORD]");
}

#[test]
fn debug_does_not_show_needles() {
    assert!(!format!("{:?}", masker()).contains("p@ss"));
}

#[test]
fn form_encoding_with_plus_for_spaces_is_masked() {
    let m = Masker::with_default_mask(["two words*x"]);
    assert_eq!(m.mask_str("q=two+words*x&"), "q=*****&");
    assert_eq!(m.mask_str("q=two+words%2Ax&"), "q=*****&");
}

#[test]
fn short_and_long_secrets_together_take_the_leftmost_longest_match() {
    // "ab" goes through the short search, the others through the skip table.
    let m = Masker::new([
        ("ab", "[S]".to_string()),
        ("abcdefghij", "[L]".to_string()),
        ("cdefghijklmn", "[M]".to_string()),
    ]);
    assert_eq!(m.mask_str("xx abcdefghij yy"), "xx [L] yy");
    assert_eq!(m.mask_str("ab cdefghijklmn ab"), "[S] [M] [S]");
    assert_eq!(m.mask_str("abcdefghijklmn"), "[L]klmn");
    let stream: Vec<u8> = {
        let mut s = m.stream();
        let mut out = Vec::new();
        for b in b"xabcdefghijklmnab" {
            s.push_into(std::slice::from_ref(b), &mut out);
        }
        s.finish_into(&mut out);
        out
    };
    assert_eq!(String::from_utf8(stream).unwrap(), "x[L]klmn[S]");
}

#[test]
fn with_labels_names_each_secret() {
    let m = Masker::with_labels([("hunter2-long", "DB_PASSWORD"), ("tok-9", "API_TOKEN")]);
    assert_eq!(
        m.mask_str("a=hunter2-long b=tok-9"),
        "a=[DB_PASSWORD] b=[API_TOKEN]"
    );
    assert_eq!(label("X"), "[X]");
}

#[test]
fn a_shared_form_keeps_the_first_secrets_replacement() {
    let m = Masker::new([
        ("same-value", "[A]".to_string()),
        ("same-value", "[B]".to_string()),
    ]);
    assert_eq!(m.mask_str("same-value"), "[A]");
}

#[test]
fn large_chunks_split_after_held_bytes_are_masked_like_one_text() {
    let m = Masker::with_default_mask(["0123456789abcdef", "zz-secret-zz"]);
    let mut text = Vec::new();
    for i in 0..2000 {
        text.extend_from_slice(format!("line {i} ").as_bytes());
        if i % 7 == 0 {
            text.extend_from_slice(b"0123456789abcdef");
        }
        if i % 11 == 0 {
            text.extend_from_slice(STANDARD.encode("zz-secret-zz").as_bytes());
        }
    }
    let expected = m.mask(&text);
    for chunk in [1, 3, 17, 64, 100, 4096] {
        let mut s = m.stream();
        let mut out = Vec::new();
        for c in text.chunks(chunk) {
            s.push_into(c, &mut out);
        }
        s.finish_into(&mut out);
        assert!(out == expected, "chunk {chunk}");
    }
    assert!(!String::from_utf8_lossy(&expected).contains("0123456789abcdef"));
}
