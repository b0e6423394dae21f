//! Masking secret values in a run's output.
//!
//! A [`Masker`] is built from the secret values of one run. It replaces every occurrence of each
//! value, and of its base64 (standard and URL-safe, padded or not), URL-encoded, hex and
//! JSON-escaped forms, by a replacement string. [`MaskStream`] does the same over a stream of
//! chunks: it holds back only the tail of the output that could still be the start of a secret
//! (a prefix of one of its forms), so that a secret split across two reads is still masked while
//! every other byte, a short prompt or log line included, goes out at once.
//!
//! The automaton necessarily keeps the needles in memory for the life of the masker; the
//! intermediate encodings are zeroized after it is built.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use zeroize::Zeroizing;

/// The default replacement text.
pub const MASK: &str = "*****";

/// Characters left alone by RFC 3986 percent-encoding (the unreserved set).
const URL_RESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Replaces secret values, and their common encodings, in output.
pub struct Masker {
    automaton: Option<AhoCorasick>,
    needles: Vec<Zeroizing<Vec<u8>>>,
    replacements: Vec<String>,
    longest: usize,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Masker")
            .field("needles", &self.replacements.len())
            .finish_non_exhaustive()
    }
}

impl Masker {
    /// Builds a masker. Each secret comes with the replacement used for it and all its forms.
    /// Empty values are skipped.
    pub fn new<'a>(secrets: impl IntoIterator<Item = (&'a str, String)>) -> Masker {
        let mut needles: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        let mut replacements = Vec::new();
        for (value, replacement) in secrets {
            if value.is_empty() {
                continue;
            }
            for form in forms(value) {
                if !needles.iter().any(|n| **n == *form) {
                    needles.push(form);
                    replacements.push(replacement.clone());
                }
            }
        }
        let longest = needles.iter().map(|n| n.len()).max().unwrap_or(0);
        let automaton = (!needles.is_empty()).then(|| {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .build(needles.iter().map(|n| n.as_slice()))
                .expect("a few literal needles always build an automaton")
        });
        Masker {
            automaton,
            needles,
            replacements,
            longest,
        }
    }

    /// A masker that masks each value with [`MASK`].
    pub fn with_default_mask<'a>(values: impl IntoIterator<Item = &'a str>) -> Masker {
        Masker::new(values.into_iter().map(|v| (v, MASK.to_string())))
    }

    /// Masks a complete text.
    pub fn mask(&self, text: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len());
        self.mask_into(text, text.len(), &mut out);
        out
    }

    /// Masks a complete string.
    pub fn mask_str(&self, text: &str) -> String {
        String::from_utf8_lossy(&self.mask(text.as_bytes())).into_owned()
    }

    /// A streaming masker over this masker's needles.
    pub fn stream(&self) -> MaskStream<'_> {
        MaskStream {
            masker: self,
            pending: Zeroizing::new(Vec::new()),
        }
    }

    /// The earliest position from which the rest of `buf` could still grow into a secret: the
    /// rest is a prefix of some needle. `buf.len()` when there is none.
    fn hold_from(&self, buf: &[u8]) -> usize {
        let start = buf.len().saturating_sub(self.longest.saturating_sub(1));
        (start..buf.len())
            .find(|&p| self.needles.iter().any(|n| n.starts_with(&buf[p..])))
            .unwrap_or(buf.len())
    }

    /// Masks `buf`, emitting into `out` everything that is final: every byte before `cut` that no
    /// match can still extend past, and whole matches that start before `cut`. Returns the number
    /// of bytes of `buf` consumed.
    fn mask_into(&self, buf: &[u8], cut: usize, out: &mut Vec<u8>) -> usize {
        let Some(ac) = &self.automaton else {
            out.extend_from_slice(&buf[..cut]);
            return cut;
        };
        let mut pos = 0;
        for m in ac.find_iter(buf) {
            if m.start() >= cut {
                break;
            }
            out.extend_from_slice(&buf[pos..m.start()]);
            out.extend_from_slice(self.replacements[m.pattern().as_usize()].as_bytes());
            pos = m.end();
        }
        if pos < cut {
            out.extend_from_slice(&buf[pos..cut]);
            pos = cut;
        }
        pos
    }
}

/// Streaming state: see [`Masker::stream`].
pub struct MaskStream<'m> {
    masker: &'m Masker,
    pending: Zeroizing<Vec<u8>>,
}

impl MaskStream<'_> {
    /// Feeds a chunk and returns the masked bytes that are now final.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(chunk);
        // No match can start before `cut` and end past the buffer: bytes there are final.
        let cut = self.masker.hold_from(&self.pending);
        let mut out = Vec::new();
        let used = self.masker.mask_into(&self.pending, cut, &mut out);
        let rest = Zeroizing::new(self.pending[used..].to_vec());
        self.pending = rest;
        out
    }

    /// Flushes what is held back at the end of the stream.
    pub fn finish(mut self) -> Vec<u8> {
        let buf = std::mem::take(&mut *self.pending);
        let buf = Zeroizing::new(buf);
        self.masker.mask(&buf)
    }
}

/// The shortest fragment (a line of a multi-line secret, or an inner base64 run) masked on its
/// own; shorter ones would mask ordinary text.
const MIN_FRAGMENT: usize = 8;

/// The forms of a secret that are masked.
fn forms(value: &str) -> Vec<Zeroizing<Vec<u8>>> {
    let bytes = value.as_bytes();
    let mut out = vec![Zeroizing::new(bytes.to_vec())];
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        out.push(Zeroizing::new(engine.encode(bytes).into_bytes()));
    }
    // Inside a longer base64 text (`Basic base64(user:password)`) the secret starts at byte
    // offset 0, 1 or 2 of a 3-byte group. Only the characters that depend on the secret's bytes
    // alone are the same whatever surrounds it: drop the first 0, 2 or 3 characters and, unless
    // the secret ends a group, the last one.
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
    out.push(Zeroizing::new(
        utf8_percent_encode(value, NON_ALPHANUMERIC)
            .to_string()
            .into_bytes(),
    ));
    out.push(Zeroizing::new(
        utf8_percent_encode(value, URL_RESERVED)
            .to_string()
            .into_bytes(),
    ));
    out.push(Zeroizing::new(hex::encode(bytes).into_bytes()));
    out.push(Zeroizing::new(hex::encode_upper(bytes).into_bytes()));
    let json = serde_json::to_string(value).expect("a str always serialises");
    out.push(Zeroizing::new(json.as_bytes()[1..json.len() - 1].to_vec()));
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
