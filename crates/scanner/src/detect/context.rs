//! The keyword-anchored detectors: `key = value` assignments with a secret-word key (generic,
//! scored by entropy; or in a code block, any password-like value), and prose such as "the
//! password is X", "pw: X" or "pwd - X".
//!
//! They run only around the prefilter's hits of secret words, on a small window of the view,
//! so their cost grows with the number of such words on a page, not with its size.

use std::ops::Range;
use std::sync::LazyLock;

use regex::bytes::{Regex, RegexBuilder};

use crate::finding::{Category, Severity};
use crate::view::TextView;

use super::Candidate;
use super::filter::{is_decoy, looks_like_password, looks_random};
use super::rules::DetectorInfo;

/// Keywords that anchor these detectors (lower case; the prefilter ignores case).
pub(crate) const KEYWORDS: &[&str] = &[
    "pass",
    "pwd",
    "pw",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "access_key",
    "accesskey",
    "auth_key",
    "private_key",
    "credential",
    "creds",
];

pub(crate) const GENERIC: DetectorInfo = DetectorInfo {
    id: "generic-secret-assignment",
    description: "Random-looking value assigned to a key named like a secret",
    category: Category::GenericAssignment,
    severity: Severity::Medium,
};

pub(crate) const CODE_ASSIGNMENT: DetectorInfo = DetectorInfo {
    id: "code-secret-assignment",
    description: "Password-like value assigned to a secret-named key in a code block",
    category: Category::ConfluencePassword,
    severity: Severity::High,
};

pub(crate) const PROSE: DetectorInfo = DetectorInfo {
    id: "prose-password",
    description: "Password written in prose (\"the password is ...\", \"pw: ...\")",
    category: Category::ConfluencePassword,
    severity: Severity::High,
};

/// Words that, alone, name a password in prose.
const PROSE_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "passcode",
    "pass",
    "pw",
    "pwd",
    "pword",
    "secret",
    "token",
];

/// Parts of a key (split at `_`, `.`, `-`) that mean it names something about a secret, not
/// the secret itself: `password_policy`, `token_ttl`, `secret_name`.
const NOT_A_SECRET_PART: &[&str] = &[
    "policy",
    "length",
    "len",
    "file",
    "path",
    "url",
    "uri",
    "name",
    "type",
    "hint",
    "reset",
    "field",
    "prompt",
    "label",
    "format",
    "count",
    "ttl",
    "timeout",
    "regex",
    "pattern",
    "min",
    "max",
    "id",
    "manager",
    "header",
    "endpoint",
    "scope",
    "hash",
    "enabled",
    "required",
    "ref",
    "version",
    "algorithm",
    "alg",
    "provider",
    "location",
    "prefix",
    "suffix",
    "ssm",
    "arn",
    "kms",
    "expiry",
    "expires",
    "lifetime",
    "age",
    "complexity",
    "strength",
    "mode",
    "method",
    "class",
    "rotation",
    "changed",
    "updated",
    "created",
    "date",
];

/// Words that contain a secret word but mean something else.
const NOT_A_SECRET_WORD: &[&str] = &[
    "passport",
    "compass",
    "bypass",
    "passthrough",
    "passenger",
    "passive",
    "tokenize",
    "secretar",
    "passwordless",
    "expir",
    "rotat",
    "surpass",
    "trespass",
    "passage",
];

fn names_a_secret(key: &str) -> bool {
    !(key
        .split(['_', '.', '-'])
        .any(|p| NOT_A_SECRET_PART.contains(&p))
        || NOT_A_SECRET_WORD.iter().any(|w| key.contains(w)))
}

/// After a prose keyword: an optional "for the admin account", then "is", "=", ":", "-"
/// and the value.
static PROSE_TAIL: LazyLock<Regex> = LazyLock::new(|| {
    RegexBuilder::new(
        r#"(?i)^s?(?:\s+(?:for|of|to|on|at)\s+[^\n.:=]{1,60}?)?\s*(?:\b(?:is|was|are)\b(?:\s+(?:now|set\s+to|still|currently))?|:|=|-|–|—|→)\s*(?:[:"'`]|“|‘)?([^\s"'`<>][^\s"'`]{3,127})"#,
    )
    .unicode(false)
    .build()
    .expect("the prose pattern is valid")
});

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// The extent of the run of bytes matching `pred` around `start..end`, at most `cap` long.
fn expand(text: &[u8], start: usize, end: usize, cap: usize, pred: fn(u8) -> bool) -> Range<usize> {
    let mut s = start;
    while s > 0 && pred(text[s - 1]) && end - s < cap {
        s -= 1;
    }
    let mut e = end;
    while e < text.len() && pred(text[e]) && e - s < cap {
        e += 1;
    }
    s..e
}

/// Scans around one keyword hit; `seen` is the last key range handled, to skip hits inside it.
pub(crate) fn at_hit(
    view: &TextView<'_>,
    hit: Range<usize>,
    seen: &mut Range<usize>,
    out: &mut Vec<Candidate>,
) {
    let text = view.text().as_bytes();
    let key = expand(text, hit.start, hit.end, 64, is_ident);
    if key == *seen {
        return;
    }
    *seen = key.clone();
    let word = expand(text, hit.start, hit.end, 32, |b| b.is_ascii_alphabetic());
    let key_str = view
        .text()
        .get(key.clone())
        .unwrap_or("")
        .to_ascii_lowercase();
    let word_str = view
        .text()
        .get(word.clone())
        .unwrap_or("")
        .to_ascii_lowercase();
    let is_prose_word = PROSE_WORDS.contains(&word_str.trim_end_matches('s'));
    if !names_a_secret(&key_str) {
        return;
    }
    let in_code = view.is_code(hit.start);
    let param = key.start > 0 && matches!(text[key.start - 1], b';' | b'?' | b'&');
    if let Some(mut value) = assignment(text, key.end, param) {
        if !in_code {
            trim_sentence_end(text, &mut value);
        }
        let Some(v) = view.text().get(value.clone()) else {
            return;
        };
        if is_decoy(v) {
            return;
        }
        let info = if in_code && looks_like_password(v) {
            Some(CODE_ASSIGNMENT)
        } else if !in_code && key == word && is_prose_word && looks_like_password(v) {
            Some(PROSE)
        } else if looks_random(v) || looks_like_password(v) && has_digit_and_symbol(v) {
            Some(GENERIC)
        } else {
            None
        };
        if let Some(info) = info {
            out.push(Candidate::new(info, value, 1));
        }
        return;
    }
    // In prose the word stands alone: `your-password-here` or `password_file` is a name.
    if !is_prose_word || in_code || key != word {
        return;
    }
    let window = word.end..(word.end + 200).min(text.len());
    let Some(caps) = PROSE_TAIL.captures(&text[window.clone()]) else {
        return;
    };
    let Some(m) = caps.get(1) else { return };
    let mut value = window.start + m.start()..window.start + m.end();
    while value.end > value.start && value.end < text.len() && text[value.end] & 0xC0 == 0x80 {
        value.end -= 1;
    }
    // Sentence punctuation after the value is not part of it.
    trim_sentence_end(text, &mut value);
    let Some(v) = view.text().get(value.clone()) else {
        return;
    };
    if !is_decoy(v) && looks_like_password(v) {
        out.push(Candidate::new(PROSE, value, 1));
    }
}

/// Drops the punctuation that ends a sentence (and closing quotes) from the end of a value
/// written in prose.
fn trim_sentence_end(text: &[u8], value: &mut Range<usize>) {
    loop {
        let rest = &text[value.clone()];
        if rest.ends_with("”".as_bytes()) || rest.ends_with("’".as_bytes()) {
            value.end -= 3;
        } else if matches!(rest.last(), Some(b'.' | b',' | b';' | b':' | b')')) {
            value.end -= 1;
        } else {
            break;
        }
    }
}

fn has_digit_and_symbol(v: &str) -> bool {
    v.bytes().any(|b| b.is_ascii_digit()) && v.bytes().any(|b| b.is_ascii_punctuation())
}

/// The value of `key = value`, `key: value`, `"key": "value"`, `key := value` or
/// `key => value` whose key ends at `at`.
fn assignment(text: &[u8], at: usize, param: bool) -> Option<Range<usize>> {
    let mut i = at;
    let get = |i: usize| text.get(i).copied();
    if matches!(get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    while matches!(get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    match (get(i), get(i + 1)) {
        (Some(b':'), Some(b'=')) | (Some(b'='), Some(b'>')) => i += 2,
        (Some(b'='), Some(b'=')) => return None,
        (Some(b'=' | b':'), _) => i += 1,
        _ => return None,
    }
    while matches!(get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    let value = match get(i)? {
        q @ (b'"' | b'\'') => {
            let start = i + 1;
            let len = text
                .get(start..)?
                .iter()
                .take(200)
                .position(|&b| b == q || b == b'\n')?;
            (text[start + len] == q).then_some(start..start + len)?
        }
        b'<' => return None,
        _ => {
            // A parameter of a connection string ends at the next separator.
            let stop = |b: u8| {
                b.is_ascii_whitespace()
                    || matches!(b, b'"' | b'\'')
                    || (param && matches!(b, b';' | b'&'))
            };
            let len = text[i..]
                .iter()
                .take(200)
                .position(|&b| stop(b))
                .unwrap_or((text.len() - i).min(200));
            let mut r = i..i + len;
            // The 200-byte cap may cut a character: end before it.
            while r.end > r.start && r.end < text.len() && text[r.end] & 0xC0 == 0x80 {
                r.end -= 1;
            }
            while r.end > r.start && matches!(text[r.end - 1], b',' | b';') {
                r.end -= 1;
            }
            r
        }
    };
    (!value.is_empty()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_forms() {
        let f = |s: &str, at: usize| assignment(s.as_bytes(), at, false).map(|r| s[r].to_string());
        assert_eq!(f("password = \"a b\"", 8).as_deref(), Some("a b"));
        assert_eq!(f("PASSWORD=x!y,", 8).as_deref(), Some("x!y"));
        assert_eq!(f("\"token\": 'v1'", 6).as_deref(), Some("v1"));
        assert_eq!(f("token := abc", 5).as_deref(), Some("abc"));
        assert_eq!(f("token => abc", 5).as_deref(), Some("abc"));
        assert_eq!(f("token == abc", 5), None);
        assert_eq!(f("token is abc", 5), None);
        assert_eq!(f("token = \"unterminated", 5), None);
        assert_eq!(f("token = <token>", 5), None);
        let s = "pwd=a;b&c d";
        assert_eq!(
            assignment(s.as_bytes(), 3, false).map(|r| &s[r]),
            Some("a;b&c")
        );
        assert_eq!(assignment(s.as_bytes(), 3, true).map(|r| &s[r]), Some("a"));
    }
}
