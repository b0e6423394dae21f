//! The forms of a secret that are masked: the value itself and the encodings a script is likely
//! to print it in.
//!
//! * base64 and base64url, each with and without padding, and the inner part of either when the
//!   secret sits inside a longer base64 text (`Basic base64(user:password)`);
//! * percent-encoding as the common encoders write it: every non-alphanumeric byte encoded, RFC
//!   3986 (`-._~` kept), JavaScript's `encodeURIComponent` (`-_.!~*'()` kept), Python's `quote`
//!   (`/` kept too), and form encoding (`+` for a space) as browsers and Java write it (`*-._`
//!   kept) and as Python's `quote_plus` and Go's `QueryEscape` write it (`-._~` kept);
//! * hex, lower and upper case;
//! * JSON string escaping, both the minimal one (serde, JavaScript) and the ASCII-only one that
//!   writes other characters as `\uXXXX` (Python's default), in lower and upper case hex;
//! * each line of a multi-line secret (a private key printed a line at a time).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use zeroize::Zeroizing;

/// RFC 3986 percent-encoding: the unreserved characters are left alone.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// JavaScript's `encodeURIComponent`.
const URI_COMPONENT: &AsciiSet = &RFC3986
    .remove(b'!')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Python's `urllib.parse.quote` with its default `safe='/'`.
const PYTHON_QUOTE: &AsciiSet = &RFC3986.remove(b'/');

/// `application/x-www-form-urlencoded` as the WHATWG URL standard and Java's `URLEncoder` write
/// it (a space becomes `+` separately).
const FORM_WHATWG: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

/// The shortest fragment (a line of a multi-line secret, or an inner base64 run) masked on its
/// own; shorter ones would mask ordinary text.
pub(super) const MIN_FRAGMENT: usize = 8;

/// Every form of `value` that is masked, possibly with repeats (the caller removes them).
pub(super) fn forms(value: &str) -> Vec<Zeroizing<Vec<u8>>> {
    let bytes = value.as_bytes();
    let mut out = vec![Zeroizing::new(bytes.to_vec())];
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        out.push(Zeroizing::new(engine.encode(bytes).into_bytes()));
    }
    inner_base64(bytes, &mut out);
    for set in [NON_ALPHANUMERIC, RFC3986, URI_COMPONENT, PYTHON_QUOTE] {
        out.push(percent(value, set, false));
    }
    // Form encoding: `+` for a space, and WHATWG's own set (`*` kept, `~` encoded).
    out.push(percent(value, FORM_WHATWG, true));
    out.push(percent(value, RFC3986, true));
    out.push(Zeroizing::new(hex::encode(bytes).into_bytes()));
    out.push(Zeroizing::new(hex::encode_upper(bytes).into_bytes()));
    out.push(json_escaped(value, None));
    if !value.is_ascii() {
        out.push(json_escaped(value, Some(false)));
        out.push(json_escaped(value, Some(true)));
    }
    // A multi-line secret (a private key) can be printed a line at a time.
    if value.contains('\n') {
        for line in value.lines().map(|l| l.trim_end_matches('\r')) {
            if line.len() >= MIN_FRAGMENT {
                out.push(Zeroizing::new(line.as_bytes().to_vec()));
            }
        }
    }
    out
}

/// Inside a longer base64 text the secret starts at byte offset 0, 1 or 2 of a 3-byte group.
/// Only the characters that depend on the secret's bytes alone are the same whatever surrounds
/// it: drop the first 0, 2 or 3 characters and, unless the secret ends a group, the last one.
fn inner_base64(bytes: &[u8], out: &mut Vec<Zeroizing<Vec<u8>>>) {
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for (offset, skip) in [(0usize, 0usize), (1, 2), (2, 3)] {
            let mut shifted = Zeroizing::new(vec![0u8; offset]);
            shifted.extend_from_slice(bytes);
            let encoded = Zeroizing::new(engine.encode(&*shifted).into_bytes());
            let trim = usize::from(shifted.len() % 3 != 0);
            if encoded.len() >= skip + trim + MIN_FRAGMENT {
                out.push(Zeroizing::new(encoded[skip..encoded.len() - trim].to_vec()));
            }
        }
    }
}

/// Percent-encodes `value` with `set`; with `plus`, a space becomes `+` (form encoding).
fn percent(value: &str, set: &'static AsciiSet, plus: bool) -> Zeroizing<Vec<u8>> {
    let mut s = Zeroizing::new(String::with_capacity(value.len() * 3));
    for (i, part) in value.split(' ').enumerate() {
        if i > 0 {
            s.push_str(if plus { "+" } else { "%20" });
        }
        for piece in utf8_percent_encode(part, set) {
            s.push_str(piece);
        }
    }
    Zeroizing::new(std::mem::take(&mut *s).into_bytes())
}

/// The inside of a JSON string holding `value`. `ascii`: `None` keeps non-ASCII characters as
/// they are (serde, JavaScript); `Some(upper)` writes them as `\uXXXX` escapes (UTF-16, so
/// surrogate pairs above U+FFFF), with upper or lower case hex digits.
fn json_escaped(value: &str, ascii: Option<bool>) -> Zeroizing<Vec<u8>> {
    let mut s = Zeroizing::new(String::with_capacity(value.len() + 8));
    let unit = |s: &mut String, u: u16| {
        let text = match ascii {
            Some(true) => format!("\\u{u:04X}"),
            _ => format!("\\u{u:04x}"),
        };
        s.push_str(&text);
    };
    for c in value.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            '\u{8}' => s.push_str("\\b"),
            '\u{c}' => s.push_str("\\f"),
            c if (c as u32) < 0x20 => unit(&mut s, c as u16),
            c if c.is_ascii() || ascii.is_none() => s.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    unit(&mut s, *u);
                }
            }
        }
    }
    Zeroizing::new(std::mem::take(&mut *s).into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(value: &str, form: &str) -> bool {
        forms(value).iter().any(|f| f.as_slice() == form.as_bytes())
    }

    #[test]
    fn percent_forms_follow_the_common_encoders() {
        let v = "a b*c'(d)~/é";
        assert!(has(v, "a%20b%2Ac%27%28d%29%7E%2F%C3%A9"), "every byte");
        assert!(has(v, "a%20b%2Ac%27%28d%29~%2F%C3%A9"), "RFC 3986");
        assert!(has(v, "a%20b*c'(d)~%2F%C3%A9"), "encodeURIComponent");
        assert!(has(v, "a%20b%2Ac%27%28d%29~/%C3%A9"), "Python quote");
        assert!(has(v, "a+b*c%27%28d%29%7E%2F%C3%A9"), "WHATWG form");
        assert!(has(v, "a+b%2Ac%27%28d%29~%2F%C3%A9"), "quote_plus");
    }

    #[test]
    fn json_forms_cover_minimal_and_ascii_escaping() {
        let v = "q\"b\\s\u{1}é😀";
        assert!(has(v, "q\\\"b\\\\s\\u0001é😀"));
        assert!(has(v, "q\\\"b\\\\s\\u0001\\u00e9\\ud83d\\ude00"));
        assert!(has(v, "q\\\"b\\\\s\\u0001\\u00E9\\uD83D\\uDE00"));
        let expected = serde_json::to_string(v).unwrap();
        assert!(has(v, &expected[1..expected.len() - 1]), "serde agrees");
    }

    #[test]
    fn base64_and_hex_forms() {
        let v = "pa:ss?>";
        for f in [
            STANDARD.encode(v),
            STANDARD_NO_PAD.encode(v),
            URL_SAFE.encode(v),
            URL_SAFE_NO_PAD.encode(v),
            hex::encode(v),
            hex::encode_upper(v),
        ] {
            assert!(has(v, &f), "{f}");
        }
    }
}
