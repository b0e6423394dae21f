//! Distinguished names (RFC 4514): escaping a value to build a DN, and a comparable form of a DN.
//!
//! The directory returns DNs as strings whose spelling may vary (`cn=Ops,ou=Groups` and
//! `CN=ops, ou=groups` name the same entry). The group walk needs to know when it has already
//! seen a group (cycle detection) and whether a group lies under the configured group base, so it
//! compares DNs in a normalised form: attribute types and values lower-cased (the naming
//! attributes used for people and groups, `cn`, `ou`, `dc`, `uid`, all match case-insensitively),
//! escapes resolved, and the attribute-value pairs of a multi-valued RDN sorted.

use std::fmt;

/// Escapes a value for use as an attribute value in a DN string (RFC 4514 §2.4).
///
/// `"`, `+`, `,`, `;`, `<`, `>`, `\` and `=` are backslash-escaped, a leading space or `#` and a
/// trailing space are escaped, and NUL becomes `\00`, so the value cannot end its RDN or start
/// another one.
pub fn escape_dn_value(value: &str) -> String {
    let last = value.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(value.len() + 4);
    for (index, c) in value.chars().enumerate() {
        match c {
            '\0' => out.push_str("\\00"),
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            ' ' if index == 0 || index == last => out.push_str("\\ "),
            '#' if index == 0 => out.push_str("\\#"),
            _ => out.push(c),
        }
    }
    out
}

/// A DN in comparable form: RDNs from the leftmost (the entry's own name) to the root.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct NormalizedDn(Vec<Vec<(String, String)>>);

impl NormalizedDn {
    /// Parses an RFC 4514 DN string. Spaces around separators are tolerated, as many servers
    /// and configuration files put them there.
    pub(crate) fn parse(dn: &str) -> Result<Self, String> {
        let bytes = dn.as_bytes();
        let mut rdns: Vec<Vec<(String, String)>> = Vec::new();
        let mut current: Vec<(String, String)> = Vec::new();
        let mut i = 0;
        if dn.trim().is_empty() {
            return Ok(Self(rdns));
        }
        loop {
            let eq = bytes[i..]
                .iter()
                .position(|&b| b == b'=')
                .ok_or_else(|| format!("`{dn}` has an RDN without `=`"))?;
            let attr = dn[i..i + eq].trim();
            let valid_attr = !attr.is_empty()
                && attr
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !valid_attr {
                return Err(format!("`{dn}` has an invalid attribute type `{attr}`"));
            }
            i += eq + 1;
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            let (value, next) = parse_value(dn, i)?;
            current.push((attr.to_ascii_lowercase(), value));
            i = next;
            match bytes.get(i) {
                None => break,
                Some(b'+') => {}
                Some(_) => {
                    current.sort();
                    rdns.push(std::mem::take(&mut current));
                }
            }
            i += 1;
        }
        current.sort();
        rdns.push(current);
        Ok(Self(rdns))
    }

    /// True when `self` is `base` or an entry below it.
    pub(crate) fn is_within(&self, base: &NormalizedDn) -> bool {
        self.0.len() >= base.0.len() && self.0[self.0.len() - base.0.len()..] == base.0[..]
    }
}

impl fmt::Display for NormalizedDn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rdns: Vec<String> = self
            .0
            .iter()
            .map(|rdn| {
                rdn.iter()
                    .map(|(attr, value)| format!("{attr}={}", escape_dn_value(value)))
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect();
        f.write_str(&rdns.join(","))
    }
}

/// Reads one attribute value starting at `start`; returns the normalised value and the index of
/// the separator (`,`, `;`, `+`) or the end of the string.
fn parse_value(dn: &str, start: usize) -> Result<(String, usize), String> {
    let bytes = dn.as_bytes();
    let mut value = Vec::new();
    // Length of `value` up to its last escaped or non-space byte: unescaped trailing spaces
    // before a separator are not part of the value.
    let mut significant = 0;
    let mut i = start;
    if bytes.get(i) == Some(&b'#') {
        // A BER-encoded value in hex: compared as its lower-cased spelling.
        let end = bytes[i..]
            .iter()
            .position(|&b| matches!(b, b',' | b';' | b'+'))
            .map_or(bytes.len(), |p| i + p);
        return Ok((dn[i..end].trim_end().to_ascii_lowercase(), end));
    }
    while i < bytes.len() {
        match bytes[i] {
            b',' | b';' | b'+' => break,
            b'\\' => {
                let next = *bytes
                    .get(i + 1)
                    .ok_or_else(|| format!("`{dn}` ends with a lone `\\`"))?;
                let hex = bytes.get(i + 2).and_then(|&low| {
                    let high = char::from(next).to_digit(16)?;
                    let low = char::from(low).to_digit(16)?;
                    u8::try_from(high * 16 + low).ok()
                });
                if let Some(byte) = hex {
                    value.push(byte);
                    i += 3;
                } else {
                    value.push(next);
                    i += 2;
                }
                significant = value.len();
            }
            b' ' => {
                value.push(b' ');
                i += 1;
            }
            other => {
                value.push(other);
                significant = value.len();
                i += 1;
            }
        }
    }
    value.truncate(significant);
    let text = String::from_utf8(value)
        .map_err(|_| format!("`{dn}` has a value that is not UTF-8 after unescaping"))?;
    Ok((text.to_lowercase(), i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(s: &str) -> NormalizedDn {
        NormalizedDn::parse(s).unwrap()
    }

    #[test]
    fn dn_values_are_escaped_per_rfc4514() {
        assert_eq!(escape_dn_value("Ops, Night Shift"), "Ops\\, Night Shift");
        assert_eq!(
            escape_dn_value("a+b=c;d<e>f\"g\\h"),
            "a\\+b\\=c\\;d\\<e\\>f\\\"g\\\\h"
        );
        assert_eq!(escape_dn_value(" #lead"), "\\ #lead");
        assert_eq!(escape_dn_value("#tag"), "\\#tag");
        assert_eq!(escape_dn_value("trail "), "trail\\ ");
        assert_eq!(escape_dn_value(" "), "\\ ");
        assert_eq!(escape_dn_value("nul\0"), "nul\\00");
        assert_eq!(escape_dn_value("Jürgen"), "Jürgen");
    }

    #[test]
    fn an_escaped_value_round_trips_through_the_parser() {
        for value in [
            "Ops, Night Shift",
            " #x+y=z; ",
            "plain",
            "jürgen",
            "a\\b\"c",
        ] {
            let built = format!("cn={},ou=groups,dc=example,dc=test", escape_dn_value(value));
            let parsed = dn(&built);
            assert_eq!(parsed.0.len(), 4, "{built}");
            assert_eq!(
                parsed.0[0],
                vec![("cn".into(), value.to_lowercase())],
                "{built}"
            );
        }
    }

    #[test]
    fn spelling_differences_compare_equal() {
        assert_eq!(
            dn("CN=Ops,OU=Groups,DC=Example,DC=Test"),
            dn("cn=ops, ou=groups ,dc=example,dc=test")
        );
        assert_eq!(dn("cn=a\\2cb,dc=x"), dn("cn=A\\,B,dc=x"));
        assert_eq!(dn("uid=j\\c3\\bcrgen,dc=x"), dn("uid=Jürgen,dc=x"));
        assert_eq!(dn("cn=a+uid=b,dc=x"), dn("uid=b+cn=a,dc=x"));
        assert_ne!(dn("cn=a+uid=b,dc=x"), dn("cn=a,uid=b,dc=x"));
        assert_eq!(dn("cn=trailing\\ ,dc=x").0[0][0].1, "trailing ");
    }

    #[test]
    fn within_checks_whole_rdns() {
        let base = dn("ou=groups,dc=example,dc=test");
        assert!(dn("cn=ops,ou=groups,dc=example,dc=test").is_within(&base));
        assert!(dn("ou=Groups,dc=example,dc=test").is_within(&base));
        assert!(!dn("cn=ops,ou=other,dc=example,dc=test").is_within(&base));
        assert!(!dn("cn=x,ou=subgroups,dc=example,dc=test").is_within(&base));
        assert!(!dn("dc=example,dc=test").is_within(&base));
    }

    #[test]
    fn malformed_dns_are_errors() {
        for bad in ["cn", "cn=a,ou", "=a", "c n=a", "cn=a\\", "cn=\\ff\\fe"] {
            assert!(NormalizedDn::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(dn("").0.len(), 0);
    }

    #[test]
    fn display_gives_a_canonical_spelling() {
        assert_eq!(
            dn("CN=Ops\\, Night,OU=Groups, DC=x").to_string(),
            "cn=ops\\, night,ou=groups,dc=x"
        );
    }
}
