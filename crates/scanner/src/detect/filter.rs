//! Value tests shared by the detectors: the decoys a finding must never be raised on
//! (placeholders, documented example keys, our own `cyberark://` references), Shannon entropy,
//! and whether a string looks like a password someone typed rather than a word or a name.

/// Values published in vendors' documentation as examples; they are not anybody's secret.
const DOCUMENTED_EXAMPLES: &[&str] = &[
    // AWS IAM user guide.
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AKIAI44QH8DHBEXAMPLE",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    // Stripe API reference.
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "pk_test_TYooMQauvdEDq54NiTphI7jx",
    "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
    "rk_test_4eC39HqLyjWDarjtT1zdp7dc",
    // jwt.io's default token.
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
];

/// Words that, as the whole value (case-insensitive), mean "no real secret here".
const PLACEHOLDER_WORDS: &[&str] = &[
    "changeme",
    "change_me",
    "change-me",
    "changeit",
    "redacted",
    "removed",
    "hidden",
    "masked",
    "secret",
    "password",
    "passw0rd",
    "token",
    "placeholder",
    "example",
    "sample",
    "dummy",
    "none",
    "null",
    "nil",
    "n/a",
    "na",
    "tbd",
    "todo",
    "unknown",
    "empty",
    "blank",
    "undefined",
    "notset",
    "not-set",
    "xxx",
    "test",
    "default",
];

/// Parts that mark a value as a template or a stand-in wherever they occur in it.
const PLACEHOLDER_PARTS: &[&str] = &[
    "${",
    "{{",
    "}}",
    "$(",
    "<%",
    "cyberark://",
    "!vault",
    "xxxx",
    "****",
    "••••",
    "····",
    "####",
    "....",
    "redacted",
    "your-",
    "your_",
    "yourpassword",
    "yourtoken",
    "yoursecret",
    "-here",
    "_here",
    "insert",
    "replace",
    "placeholder",
    "changeme",
    "change_me",
    "example",
];

/// Whether a value is a placeholder, a template variable, a documented example, or one of our
/// own vault references, which no detector reports.
pub(crate) fn is_decoy(value: &str) -> bool {
    let v = value.trim();
    if v.is_empty() || DOCUMENTED_EXAMPLES.contains(&v) {
        return true;
    }
    // AWS documents its example keys with this suffix; real keys are random and do not.
    if v.ends_with("EXAMPLE") || v.ends_with("EXAMPLEKEY") {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    if PLACEHOLDER_WORDS.contains(&lower.as_str()) {
        return true;
    }
    if PLACEHOLDER_PARTS.iter().any(|p| lower.contains(p)) {
        return true;
    }
    let b = v.as_bytes();
    // `<password>`, `[token]`, `(secret)`: a name in brackets stands for a value.
    let bracketed = |open: u8, close: u8| b.len() >= 3 && b[0] == open && b[b.len() - 1] == close;
    if bracketed(b'<', b'>') || bracketed(b'[', b']') || bracketed(b'(', b')') {
        return true;
    }
    // `%VAR%` (Windows), `$VAR`, `@VAR@` (Ant/Autotools substitution). A variable name is in
    // one case (`DB_PASS`, `db_pass`) or has no digit (`$dbPassword`); `$vOhd2pZv` mixes
    // cases and digits, as a password does.
    let ident = |s: &[u8]| {
        let mixed = s.iter().any(u8::is_ascii_uppercase)
            && s.iter().any(u8::is_ascii_lowercase)
            && s.iter().any(u8::is_ascii_digit);
        !s.is_empty() && !mixed && s.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
    };
    if (bracketed(b'%', b'%') || bracketed(b'@', b'@')) && ident(&b[1..b.len() - 1]) {
        return true;
    }
    if b[0] == b'$' && ident(&b[1..]) {
        return true;
    }
    // One character repeated (`aaaaaaaa`, `********`) is a mask, not a value.
    let first = v.chars().next();
    v.chars().all(|c| Some(c) == first)
}

/// Shannon entropy of the value's bytes, in bits per byte.
pub(crate) fn entropy(value: &str) -> f64 {
    let mut counts = [0u32; 256];
    for &b in value.as_bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = value.len() as f64;
    if n == 0.0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Counts of character classes: lower, upper, digit, other (punctuation and the rest).
fn classes(value: &str) -> [bool; 4] {
    let mut k = [false; 4];
    for c in value.chars() {
        let i = if c.is_ascii_lowercase() {
            0
        } else if c.is_ascii_uppercase() {
            1
        } else if c.is_ascii_digit() {
            2
        } else {
            3
        };
        k[i] = true;
    }
    k
}

/// Whether a generic `key = value` value is random enough to be a key or token. Hex tops out
/// at 4 bits per character, so its bar is lower than that of wider alphabets.
pub(crate) fn looks_random(value: &str) -> bool {
    let len = value.len();
    if len < 8 || looks_like_code(value) {
        return false;
    }
    let e = entropy(value);
    let is_hex = value.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hex {
        return len >= 16 && e >= 3.0;
    }
    let k = classes(value);
    let kinds = k.iter().filter(|&&x| x).count();
    if kinds < 2 {
        return false;
    }
    if len >= 16 {
        e >= 3.5
    } else {
        e >= 2.9 && kinds >= 3
    }
}

/// Whether a value looks like a password a person chose: long enough, no spaces, not code or
/// a name, with a digit or a symbol among its letters (letters alone pass only when they look
/// random: `CyberArk` or `Welcome` in a password column is a word, not the password).
pub(crate) fn looks_like_password(value: &str) -> bool {
    let len = value.chars().count();
    if !(6..=128).contains(&len) || value.chars().any(char::is_whitespace) {
        return false;
    }
    if looks_like_code(value) || is_decoy(value) || is_tool_name(value) {
        return false;
    }
    let k = classes(value);
    let has_letter = k[0] || k[1];
    if !has_letter {
        return false;
    }
    if k[2] || k[3] {
        return true;
    }
    looks_random(value)
}

/// Password managers and directories people name instead of writing the password.
fn is_tool_name(value: &str) -> bool {
    const TOOLS: &[&str] = &[
        "cyberark",
        "1password",
        "keepass",
        "keepassxc",
        "lastpass",
        "bitwarden",
        "hashicorp",
        "vault",
        "keychain",
        "thycotic",
        "delinea",
        "secretserver",
        "okta",
        "active-directory",
    ];
    TOOLS.contains(&value.to_ascii_lowercase().as_str())
}

/// Whether a value reads as code or a reference to something else rather than a literal:
/// a call, a variable, an attribute path, a file path, a URL, a number, a version, a date, an
/// e-mail address, a boolean.
pub(crate) fn looks_like_code(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off"
    ) {
        return true;
    }
    let b = value.as_bytes();
    // Numbers, dates, times, IP addresses.
    if b.iter()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b':' | b'/'))
    {
        return true;
    }
    // Versions: `v1.2.3`, `2.14.0-rc1`.
    let version = lower.strip_prefix('v').unwrap_or(&lower);
    if version.split(['.', '-']).count() >= 3
        && version
            .split('.')
            .next()
            .is_some_and(|m| !m.is_empty() && m.bytes().all(|c| c.is_ascii_digit()))
    {
        return true;
    }
    if value.starts_with('/') || value.starts_with("./") || value.starts_with("~/") {
        return true;
    }
    // `C:\secrets\db.txt`, `\server\share`.
    if value.starts_with("\\")
        || b.len() > 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\'
    {
        return true;
    }
    if lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("file:") {
        return true;
    }
    // A call: `getpass()`, `os.getenv(`, `response.json()[`.
    if b.windows(2)
        .any(|w| (w[0].is_ascii_alphanumeric() || w[0] == b'_') && w[1] == b'(')
    {
        return true;
    }
    if is_email(value) {
        return true;
    }
    // `os.environ`, `config.db.password`, `settings.SECRET`: dotted identifiers.
    let dotted = value.contains('.')
        && value.split('.').all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !p.bytes().all(|b| b.is_ascii_digit())
        })
        && value
            .split('.')
            .any(|p| p.bytes().all(|b| !b.is_ascii_digit()));
    // `get_secret_value`, `db-password-file`: lower-case words joined by `_` or `-`.
    let snake = b
        .iter()
        .all(|&c| c.is_ascii_lowercase() || c == b'_' || c == b'-');
    dotted || snake
}

/// `name@domain.tld` with a plain local part and a dotted domain of letters, digits and `-`.
fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    let plain = |s: &str, extra: &[u8]| {
        !s.is_empty()
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
    };
    plain(local, b"._+-")
        && domain.contains('.')
        && domain.split('.').all(|p| plain(p, b"-"))
        && domain
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_examples_are_decoys() {
        for d in [
            "<password>",
            "${DB_PASS}",
            "{{ vault_token }}",
            "%API_KEY%",
            "$SECRET",
            "$dbPassword",
            "changeme",
            "CHANGEME",
            "********",
            "xxx",
            "xxxxxxxxxxxxxxxx",
            "REDACTED",
            "your-token-here",
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
            "cyberark://Prod-DB/payments-db",
            "aaaaaaaa",
        ] {
            assert!(is_decoy(d), "{d}");
        }
        for s in [
            "Tr0ub4dor&3",
            "ghp_R4nd0mStr1ngW1thD1g1ts",
            "hunter2!",
            "$vOhd2pZv",
        ] {
            assert!(!is_decoy(s), "{s}");
        }
    }

    #[test]
    fn entropy_of_uniform_and_constant_strings() {
        assert_eq!(entropy("aaaa"), 0.0);
        assert!((entropy("abcd") - 2.0).abs() < 1e-9);
        assert_eq!(entropy(""), 0.0);
    }

    #[test]
    fn random_values_pass_and_words_do_not() {
        assert!(looks_random("9f86d081884c7d659a2feaa0c55ad015"));
        assert!(looks_random("q8Zr2VbT0xLm4NwPe7Ks1YdH"));
        assert!(!looks_random("get_secret_value"));
        assert!(!looks_random("config.db.password"));
        assert!(!looks_random("1234567890123456"));
        assert!(!looks_random("aaaaaaaaaaaaaaaa"));
    }

    #[test]
    fn typed_passwords_pass_and_plain_words_do_not() {
        for p in [
            "Tr0ub4dor&3",
            "Summer2024!",
            "p@ssW0rd-x",
            "hunter22",
            "aB3$kL9!",
        ] {
            assert!(looks_like_password(p), "{p}");
        }
        for w in [
            "required",
            "Welcome",
            "CyberArk",
            "1Password",
            "v1.2.3",
            "2.14.0-rc1",
            "2024-01-31",
            "10.0.0.12",
            "os.getenv(",
            "response.json()[",
            "admin@corp.example",
            "C:\\secrets\\db.txt",
            "stored in",
            "os.environ",
            "true",
            "12345678",
            "xyz",
            "${PW}",
        ] {
            assert!(!looks_like_password(w), "{w}");
        }
    }
}
