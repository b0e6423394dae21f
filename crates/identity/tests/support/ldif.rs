//! Just enough LDIF (RFC 2849) for the test directory: content records with `attr: value` and
//! `attr:: base64` lines, comments and folded lines, read and written back.
//!
//! The harness needs to split the fixture (groups go over LDAP, the rest through slapadd), so it
//! reads the records and writes the slapadd part out again.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// One entry: its DN and its attribute values in file order.
#[derive(Debug, Clone)]
pub(crate) struct LdifEntry {
    pub(crate) dn: String,
    pub(crate) attrs: Vec<(String, Vec<u8>)>,
}

impl LdifEntry {
    /// True when the entry has `objectClass: <class>` (case-insensitive).
    pub(crate) fn has_class(&self, class: &str) -> bool {
        self.values("objectClass")
            .any(|v| String::from_utf8_lossy(v).eq_ignore_ascii_case(class))
    }

    /// The values of `name` (case-insensitive).
    pub(crate) fn values<'e>(&'e self, name: &'e str) -> impl Iterator<Item = &'e [u8]> + 'e {
        self.attrs
            .iter()
            .filter(move |(attr, _)| attr.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_slice())
    }
}

/// Parses LDIF content records; panics with the line on anything it does not support, since
/// the input is a fixture of this repository.
pub(crate) fn parse(text: &str) -> Vec<LdifEntry> {
    let mut entries = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    for raw in text.lines() {
        if let Some(folded) = raw.strip_prefix(' ')
            && let Some(last) = lines.last_mut()
        {
            last.push_str(folded);
            continue;
        }
        if raw.trim().is_empty() {
            if !lines.is_empty() {
                entries.push(record(&std::mem::take(&mut lines)));
            }
            continue;
        }
        if raw.starts_with('#') {
            continue;
        }
        lines.push(raw.to_string());
    }
    if !lines.is_empty() {
        entries.push(record(&lines));
    }
    entries
}

fn record(lines: &[String]) -> LdifEntry {
    let mut pairs = lines.iter().map(|line| attr_value(line));
    let (name, dn) = pairs.next().expect("a record has lines");
    assert!(
        name.eq_ignore_ascii_case("dn"),
        "record must start with dn: {lines:?}"
    );
    LdifEntry {
        dn: String::from_utf8(dn).expect("DN is UTF-8"),
        attrs: pairs.collect(),
    }
}

fn attr_value(line: &str) -> (String, Vec<u8>) {
    let (name, rest) = line
        .split_once(':')
        .unwrap_or_else(|| panic!("LDIF line without `:`: {line}"));
    let value = if let Some(encoded) = rest.strip_prefix(':') {
        STANDARD
            .decode(encoded.trim())
            .unwrap_or_else(|e| panic!("bad base64 in `{line}`: {e}"))
    } else {
        assert!(
            !rest.starts_with('<'),
            "URL values are not supported: {line}"
        );
        rest.trim_start().as_bytes().to_vec()
    };
    (name.trim().to_string(), value)
}

/// Writes entries as LDIF, base64-encoding any value that is not a plain ASCII string.
pub(crate) fn render(entries: &[LdifEntry]) -> String {
    let mut out = String::new();
    for entry in entries {
        line(&mut out, "dn", entry.dn.as_bytes());
        for (name, value) in &entry.attrs {
            line(&mut out, name, value);
        }
        out.push('\n');
    }
    out
}

fn line(out: &mut String, name: &str, value: &[u8]) {
    let safe = value.iter().all(|&b| (0x20..0x7f).contains(&b))
        && !matches!(value.first(), Some(b' ' | b':' | b'<'))
        && value.last() != Some(&b' ');
    if safe {
        out.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(value)));
    } else {
        out.push_str(&format!("{name}:: {}\n", STANDARD.encode(value)));
    }
}
