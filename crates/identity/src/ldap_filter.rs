//! LDAP search filters built from administrator templates and untrusted values.
//!
//! A template such as `(&(objectClass=inetOrgPerson)(mail={email}))` comes from the
//! configuration; the value put in place of `{email}` comes from a user or a token and is escaped
//! per RFC 4515 §3, so that `*`, `(`, `)`, `\` and NUL lose their filter meaning. Bytes outside
//! ASCII are escaped too (`\c3\bc` for `ü`): RFC 4515 allows them raw, but escaping every
//! non-ASCII UTF-8 byte keeps the filter plain ASCII, which no server or parser can misread.

use crate::ldap_error::LdapError;

/// Escapes a value for use inside an LDAP filter assertion (RFC 4515 §3).
///
/// The result matches the value literally: `*` is no longer a wildcard and parentheses cannot
/// close or open a filter component.
pub fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for &byte in value.as_bytes() {
        match byte {
            b'*' | b'(' | b')' | b'\\' | 0 | 0x80..=0xff => {
                out.push('\\');
                out.push(hex_digit(byte >> 4));
                out.push(hex_digit(byte & 0x0f));
            }
            _ => out.push(char::from(byte)),
        }
    }
    out
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble & 0x0f)])
}

/// A filter template with named placeholders (`{email}`, `{username}`, `{dn}`, `{uid}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FilterTemplate {
    /// Literal text and placeholders, in order.
    parts: Vec<Part>,
    source: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Placeholder(String),
}

impl FilterTemplate {
    /// Parses `source`, allowing only the placeholders in `allowed` and requiring at least one
    /// of them. `what` names the setting in error messages.
    pub(crate) fn parse(source: &str, allowed: &[&str], what: &str) -> Result<Self, LdapError> {
        let bad = |reason: String| LdapError::Config(format!("{what} `{source}` {reason}"));
        let trimmed = source.trim();
        if !trimmed.starts_with('(') || !trimmed.ends_with(')') {
            return Err(bad("must be a parenthesised LDAP filter".into()));
        }
        let mut parts = Vec::new();
        let mut rest = trimmed;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                return Err(bad("has a `{` without a closing `}`".into()));
            };
            let name = &rest[open + 1..open + close];
            if !allowed.contains(&name) {
                return Err(bad(format!(
                    "uses the unknown placeholder `{{{name}}}` (allowed: {})",
                    allowed
                        .iter()
                        .map(|a| format!("{{{a}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            parts.push(Part::Placeholder(name.to_string()));
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        let template = Self {
            parts,
            source: trimmed.to_string(),
        };
        if allowed.iter().all(|name| !template.uses(name)) {
            return Err(bad(format!(
                "must use {}",
                allowed
                    .iter()
                    .map(|a| format!("{{{a}}}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )));
        }
        // A trial rendering with a harmless value proves the template is a well-formed filter,
        // so a typo fails at start-up rather than on the first user.
        let trial = template.render(|_| Some("x".to_string()));
        if let Some(filter) = trial
            && ldap3::parse_filter(&filter).is_err()
        {
            return Err(bad("is not a valid LDAP filter (RFC 4515)".into()));
        }
        Ok(template)
    }

    /// True when the template contains the placeholder `name`.
    pub(crate) fn uses(&self, name: &str) -> bool {
        self.parts
            .iter()
            .any(|part| matches!(part, Part::Placeholder(p) if p == name))
    }

    /// Renders the filter, escaping every substituted value. Returns `None` when `value` has no
    /// value for a placeholder the template uses.
    pub(crate) fn render(&self, value: impl Fn(&str) -> Option<String>) -> Option<String> {
        let mut out = String::with_capacity(self.source.len() + 32);
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Placeholder(name) => out.push_str(&escape_filter_value(&value(name)?)),
            }
        }
        Some(out)
    }

    /// The template as configured, for messages.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4515_examples_are_escaped() {
        // The examples of RFC 4515 §4.
        assert_eq!(
            escape_filter_value("Parens R Us (for all your parenthetical needs)"),
            "Parens R Us \\28for all your parenthetical needs\\29"
        );
        assert_eq!(escape_filter_value("*"), "\\2a");
        assert_eq!(escape_filter_value("C:\\MyFile"), "C:\\5cMyFile");
        assert_eq!(escape_filter_value("\0\0\0\u{4}"), "\\00\\00\\00\u{4}");
        assert_eq!(escape_filter_value("Lučić"), "Lu\\c4\\8di\\c4\\87");
    }

    #[test]
    fn escaped_values_never_leave_ascii_or_keep_a_filter_metacharacter() {
        for value in [
            "*)(uid=*))(|(uid=*",
            "a\\2a",
            "é(ü)*\0",
            "plain@example.test",
        ] {
            let escaped = escape_filter_value(value);
            assert!(escaped.is_ascii(), "{escaped}");
            let unescaped_meta = escaped
                .char_indices()
                .filter(|&(_, c)| matches!(c, '*' | '(' | ')' | '\0'))
                .count();
            assert_eq!(unescaped_meta, 0, "{value} -> {escaped}");
            // The escaped value is one assertion value: the filter parses and stays one item.
            let filter = format!("(uid={escaped})");
            assert!(ldap3::parse_filter(&filter).is_ok(), "{filter}");
        }
    }

    #[test]
    fn injection_attempt_renders_as_a_single_equality_match() {
        let template = FilterTemplate::parse(
            "(&(objectClass=inetOrgPerson)(uid={username}))",
            &["username"],
            "username_filter",
        )
        .unwrap();
        let filter = template
            .render(|_| Some("*)(uid=*))(|(uid=*".to_string()))
            .unwrap();
        assert_eq!(
            filter,
            "(&(objectClass=inetOrgPerson)(uid=\\2a\\29\\28uid=\\2a\\29\\29\\28|\\28uid=\\2a))"
        );
    }

    #[test]
    fn templates_are_checked_when_parsed() {
        let parse = |s: &str| FilterTemplate::parse(s, &["dn", "uid"], "groups.filter");
        assert!(parse("(member={dn})").unwrap().uses("dn"));
        assert!(
            parse("(|(member={dn})(memberUid={uid}))")
                .unwrap()
                .uses("uid")
        );
        for (bad, why) in [
            ("member={dn}", "parenthesised"),
            ("(member={email})", "unknown placeholder `{email}`"),
            ("(member={dn)", "without a closing"),
            ("(objectClass=groupOfNames)", "must use {dn} or {uid}"),
            ("(&(member={dn})", "not a valid LDAP filter"),
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(
                err.contains(why) && err.contains("groups.filter"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn rendering_without_a_value_for_a_used_placeholder_gives_none() {
        let template = FilterTemplate::parse("(memberUid={uid})", &["dn", "uid"], "f").unwrap();
        assert_eq!(template.render(|_| None), None);
        assert_eq!(
            template.render(|n| (n == "uid").then(|| "j*rgen".to_string())),
            Some("(memberUid=j\\2argen)".to_string())
        );
    }
}
