//! Runbook blocks and their directives.
//!
//! A runbook is a script whose first comment lines carry directives, so that the script stays
//! runnable as it is:
//!
//! ```text
//! #!/usr/bin/env bash
//! # arkbridge: mode write
//! # arkbridge: timeout 10m
//! # arkbridge: secret DB_PASSWORD cyberark://Prod-DB/postgres-admin
//! # arkbridge: secret-file SSH_KEY cyberark://Prod-Linux/deploy-key
//! # arkbridge: fallback DB_PASSWORD cyberark://Prod-DB-RO/postgres-readonly
//! ```
//!
//! Directives are read from the comment lines at the top of the script (after an optional
//! shebang); the first line that is neither blank nor a comment ends them. Every malformed
//! directive is an error naming its line.

use std::time::Duration;

use serde::Serialize;

use crate::secret_ref::{SecretRef, SecretRefError};

/// What a runbook may do with its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Read,
    Write,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Read => "read",
            Mode::Write => "write",
        }
    }
}

/// How a secret reaches the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BindingKind {
    /// An environment variable holding the value.
    Env,
    /// An environment variable holding the path of a 0600 file with the value.
    File,
}

/// One `secret` / `secret-file` directive, with its optional `fallback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Binding {
    pub variable: String,
    pub reference: SecretRef,
    pub kind: BindingKind,
    /// A read-only credential used when CyberArk cannot hand over `reference`.
    pub fallback: Option<SecretRef>,
}

/// A parsed runbook block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Runbook {
    pub name: String,
    /// The code macro's language (`bash`, `python`, ...), if set.
    pub language: Option<String>,
    pub mode: Mode,
    pub timeout: Option<Duration>,
    pub bindings: Vec<Binding>,
    /// The whole script, directives included, exactly as on the page.
    pub script: String,
}

/// A malformed directive, with the 1-based line of the script it is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("runbook `{block}`, line {line}: {message}")]
pub struct DirectiveError {
    pub block: String,
    pub line: usize,
    pub message: String,
}

const PREFIX: &str = "arkbridge:";

/// Parses the directives of a script.
pub fn parse_script(
    name: &str,
    language: Option<&str>,
    script: &str,
) -> Result<Runbook, DirectiveError> {
    let mut rb = Runbook {
        name: name.to_string(),
        language: language.map(str::to_string),
        mode: Mode::Read,
        timeout: None,
        bindings: Vec::new(),
        script: script.to_string(),
    };
    let mut seen_mode = false;
    for (idx, raw) in script.lines().enumerate() {
        let line_no = idx + 1;
        let err = |message: String| DirectiveError {
            block: name.to_string(),
            line: line_no,
            message,
        };
        let line = raw.trim();
        if line.is_empty() || (idx == 0 && line.starts_with("#!")) {
            continue;
        }
        let Some(comment) = line.strip_prefix('#') else {
            break;
        };
        let Some(directive) = comment.trim_start().strip_prefix(PREFIX) else {
            continue;
        };
        let directive = directive.trim();
        let (word, rest) = match directive.split_once(char::is_whitespace) {
            Some((w, r)) => (w, r.trim()),
            None => (directive, ""),
        };
        // `VAR REFERENCE`, where the reference is the rest of the line (safe and object names
        // may hold spaces).
        let binding = || {
            rest.split_once(char::is_whitespace)
                .map(|(v, r)| (v, r.trim()))
                .filter(|(_, r)| !r.is_empty())
        };
        let wrong_args = || {
            err(format!(
                "`{word}` has the wrong number of arguments: `{directive}`"
            ))
        };
        match word {
            "" => return Err(err("empty directive".into())),
            "mode" | "timeout" if rest.is_empty() || rest.contains(char::is_whitespace) => {
                return Err(wrong_args());
            }
            "mode" => {
                if seen_mode {
                    return Err(err("`mode` is given twice".into()));
                }
                seen_mode = true;
                rb.mode = match rest {
                    "read" => Mode::Read,
                    "write" => Mode::Write,
                    other => {
                        return Err(err(format!(
                            "unknown mode `{other}`; use `read` or `write`"
                        )));
                    }
                };
            }
            "timeout" => {
                if rb.timeout.is_some() {
                    return Err(err("`timeout` is given twice".into()));
                }
                rb.timeout = Some(parse_duration(rest).map_err(err)?);
            }
            "secret" | "secret-file" => {
                let (var, reference) = binding().ok_or_else(wrong_args)?;
                check_variable(var).map_err(err)?;
                if rb.bindings.iter().any(|b| b.variable == var) {
                    return Err(err(format!("`{var}` is bound twice")));
                }
                let reference = parse_ref(reference).map_err(|e| err(e.to_string()))?;
                rb.bindings.push(Binding {
                    variable: var.to_string(),
                    reference,
                    kind: if word == "secret" {
                        BindingKind::Env
                    } else {
                        BindingKind::File
                    },
                    fallback: None,
                });
            }
            "fallback" => {
                let (var, reference) = binding().ok_or_else(wrong_args)?;
                let reference = parse_ref(reference).map_err(|e| err(e.to_string()))?;
                let Some(b) = rb.bindings.iter_mut().find(|b| b.variable == var) else {
                    return Err(err(format!(
                        "`fallback {var}` comes before any `secret {var}` or `secret-file {var}`"
                    )));
                };
                if b.fallback.is_some() {
                    return Err(err(format!("`{var}` has two fallbacks")));
                }
                b.fallback = Some(reference);
            }
            other => {
                return Err(err(format!(
                    "unknown directive `{other}`; known: mode, timeout, secret, secret-file, fallback"
                )));
            }
        }
    }
    Ok(rb)
}

fn parse_ref(s: &str) -> Result<SecretRef, SecretRefError> {
    s.parse()
}

fn check_variable(var: &str) -> Result<(), String> {
    let valid = var
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && var
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(format!(
            "`{var}` is not a valid variable name (use A-Z, 0-9 and _)"
        ));
    }
    if var.starts_with("ARKBRIDGE_")
        || [
            "PATH",
            "HOME",
            "LANG",
            "IFS",
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "BASH_ENV",
            "ENV",
        ]
        .contains(&var)
    {
        return Err(format!(
            "`{var}` is reserved and cannot be bound to a secret"
        ));
    }
    Ok(())
}

/// Parses `90`, `90s`, `10m`, `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (digits, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, ""), |i| (&s[..i], &s[i..]));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 90s, 10m or 1h"))?;
    let secs = match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        _ => None,
    }
    .ok_or_else(|| format!("`{s}` is not a duration like 90s, 10m or 1h"))?;
    if secs == 0 {
        return Err("a timeout must be positive".into());
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_err(script: &str, line: usize, needle: &str) {
        let e = parse_script("b", None, script).unwrap_err();
        assert_eq!(e.line, line, "{e}");
        assert!(e.to_string().contains(needle), "{e}");
    }

    #[test]
    fn parses_the_product_example() {
        let rb = parse_script(
            "restart",
            Some("bash"),
            "#!/usr/bin/env bash\n# arkbridge: mode write\n# arkbridge: timeout 10m\n\
             # arkbridge: secret DB_PASSWORD cyberark://Prod-DB/postgres-admin\n\
             # arkbridge: secret DB_USER cyberark://Prod-DB/postgres-admin#UserName\n\
             # arkbridge: secret-file SSH_KEY cyberark://Prod-Linux/deploy-key\n\
             # arkbridge: fallback DB_PASSWORD cyberark://Prod-DB-RO/postgres-readonly\n\
             psql -c 'select 1'\n# arkbridge: mode read\n",
        )
        .unwrap();
        assert_eq!(
            rb.mode,
            Mode::Write,
            "directives after the first command are ignored"
        );
        assert_eq!(rb.timeout, Some(Duration::from_secs(600)));
        assert_eq!(rb.bindings.len(), 3);
        assert_eq!(
            rb.bindings[0].fallback.as_ref().unwrap().to_string(),
            "cyberark://Prod-DB-RO/postgres-readonly"
        );
        assert_eq!(rb.bindings[1].reference.field.as_deref(), Some("UserName"));
        assert_eq!(rb.bindings[2].kind, BindingKind::File);
    }

    #[test]
    fn references_may_name_safes_with_spaces() {
        let rb = parse_script(
            "b",
            None,
            "# arkbridge: secret ROOT_PW cyberark://Linux Root/host 1#UserName\n",
        )
        .unwrap();
        let r = &rb.bindings[0].reference;
        assert_eq!(
            (r.safe.as_str(), r.object.as_str(), r.field.as_deref()),
            ("Linux Root", "host 1", Some("UserName"))
        );
    }

    #[test]
    fn defaults_to_read_without_timeout() {
        let rb = parse_script("b", None, "echo hi\n").unwrap();
        assert_eq!(
            (rb.mode, rb.timeout, rb.bindings.len()),
            (Mode::Read, None, 0)
        );
    }

    #[test]
    fn malformed_directives_name_their_line() {
        check_err("# arkbridge: mode admin\n", 1, "unknown mode `admin`");
        check_err(
            "#!/bin/sh\n\n# arkbridge: timeout soon\n",
            3,
            "not a duration",
        );
        check_err("# arkbridge: timeout 0s\n", 1, "positive");
        check_err(
            "# arkbridge: secret db cyberark://S/o\n",
            1,
            "not a valid variable",
        );
        check_err("# arkbridge: secret PATH cyberark://S/o\n", 1, "reserved");
        check_err("# arkbridge: secret X vault://S/o\n", 1, "cyberark://");
        check_err(
            "# arkbridge: secret X cyberark://S/o\n# arkbridge: secret X cyberark://S/p\n",
            2,
            "bound twice",
        );
        check_err(
            "# arkbridge: fallback X cyberark://S/o\n",
            1,
            "comes before",
        );
        check_err("# arkbridge: secret X\n", 1, "wrong number of arguments");
        check_err(
            "# arkbridge: mode read write\n",
            1,
            "wrong number of arguments",
        );
        check_err("# arkbridge: timeout\n", 1, "wrong number of arguments");
        check_err(
            "# arkbridge: sekret X cyberark://S/o\n",
            1,
            "unknown directive `sekret`",
        );
        check_err(
            "# arkbridge: mode read\n# arkbridge: mode write\n",
            2,
            "twice",
        );
        check_err("#arkbridge:\n", 1, "empty directive");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("1d").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
        assert!(parse_duration("").is_err());
    }
}
