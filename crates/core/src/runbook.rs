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

/// Every malformed directive of one block, in line order (never empty), so that an author sees
/// all of them at once rather than one per attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectiveErrors(pub Vec<DirectiveError>);

impl std::fmt::Display for DirectiveErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_slice() {
            [one] => one.fmt(f),
            all => {
                let block = all.first().map_or("", |e| e.block.as_str());
                write!(
                    f,
                    "runbook `{block}` has {} malformed directives: ",
                    all.len()
                )?;
                for (i, e) in all.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "; " };
                    write!(f, "{sep}line {}: {}", e.line, e.message)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for DirectiveErrors {}

impl DirectiveErrors {
    /// The first error (the one with the lowest line).
    pub fn first(&self) -> Option<&DirectiveError> {
        self.0.first()
    }
}

const PREFIX: &str = "arkbridge:";
const DIRECTIVES: &[&str] = &["mode", "timeout", "secret", "secret-file", "fallback"];

/// Parses the directives of a script. Every malformed directive is reported, each with its line.
pub fn parse_script(
    name: &str,
    language: Option<&str>,
    script: &str,
) -> Result<Runbook, DirectiveErrors> {
    let mut rb = Runbook {
        name: name.to_string(),
        language: language.map(str::to_string),
        mode: Mode::Read,
        timeout: None,
        bindings: Vec::new(),
        script: script.to_string(),
    };
    let mut seen_mode = false;
    let mut errors = Vec::new();
    for (idx, raw) in script.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || (idx == 0 && line.starts_with("#!")) {
            continue;
        }
        let Some(comment) = line.strip_prefix('#') else {
            break;
        };
        let result = match comment.trim_start().strip_prefix(PREFIX) {
            Some(directive) => apply(&mut rb, &mut seen_mode, directive.trim()),
            None => near_miss(comment.trim_start()),
        };
        if let Err(message) = result {
            errors.push(DirectiveError {
                block: name.to_string(),
                line: idx + 1,
                message,
            });
        }
    }
    if errors.is_empty() {
        Ok(rb)
    } else {
        Err(DirectiveErrors(errors))
    }
}

/// A comment that was meant as a directive but does not read as one (`# Arkbridge: mode write`,
/// `# arkbridge secret X ...`). Ignoring it silently would run the script without the binding
/// or mode its author asked for.
fn near_miss(comment: &str) -> Result<(), String> {
    let mut words = comment.split_whitespace();
    let first = words.next().unwrap_or("");
    // The exact prefix was handled by the caller, so a match here differs in case only.
    if let Some(head) = first
        .get(..PREFIX.len())
        .filter(|h| h.eq_ignore_ascii_case(PREFIX))
    {
        return Err(format!(
            "`{head}` looks like a directive; the prefix is `arkbridge:` in lower case"
        ));
    }
    let second = words.next().unwrap_or("");
    if first.eq_ignore_ascii_case("arkbridge") && DIRECTIVES.contains(&second) {
        return Err(format!(
            "`{first} {second}` looks like a directive but lacks the colon: write `arkbridge: {second}`"
        ));
    }
    Ok(())
}

/// Applies one directive (the text after `arkbridge:`) to the runbook.
fn apply(rb: &mut Runbook, seen_mode: &mut bool, directive: &str) -> Result<(), String> {
    let (word, rest) = match directive.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r.trim()),
        None => (directive, ""),
    };
    // `VAR REFERENCE`, where the reference is the rest of the line (safe and object names may
    // hold spaces).
    let binding = || {
        rest.split_once(char::is_whitespace)
            .map(|(v, r)| (v, r.trim()))
            .filter(|(_, r)| !r.is_empty())
    };
    // The directive is not quoted back: an author who typed a password where the reference
    // belongs must not see it again in an error message or a log.
    let wrong_args = || {
        let usage = match word {
            "mode" => "mode read|write".to_string(),
            "timeout" => "timeout 10m".to_string(),
            _ => format!("{word} VAR cyberark://SAFE/OBJECT[#FIELD]"),
        };
        format!("`{word}` has the wrong number of arguments; write `{usage}`")
    };
    match word {
        "" => return Err("empty directive".into()),
        "mode" | "timeout" if rest.is_empty() || rest.contains(char::is_whitespace) => {
            return Err(wrong_args());
        }
        "mode" => {
            if *seen_mode {
                return Err("`mode` is given twice".into());
            }
            *seen_mode = true;
            rb.mode = match rest {
                "read" => Mode::Read,
                "write" => Mode::Write,
                other => return Err(format!("unknown mode `{other}`; use `read` or `write`")),
            };
        }
        "timeout" => {
            if rb.timeout.is_some() {
                return Err("`timeout` is given twice".into());
            }
            rb.timeout = Some(parse_duration(rest)?);
        }
        "secret" | "secret-file" => {
            let (var, reference) = binding().ok_or_else(wrong_args)?;
            check_variable(var)?;
            if rb.bindings.iter().any(|b| b.variable == var) {
                return Err(format!("`{var}` is bound twice"));
            }
            let reference = parse_ref(reference)?;
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
            let reference = parse_ref(reference)?;
            let Some(b) = rb.bindings.iter_mut().find(|b| b.variable == var) else {
                return Err(format!(
                    "`fallback {var}` comes before any `secret {var}` or `secret-file {var}`"
                ));
            };
            if b.fallback.is_some() {
                return Err(format!("`{var}` has two fallbacks"));
            }
            b.fallback = Some(reference);
        }
        other => {
            return Err(format!(
                "unknown directive `{other}`; known: mode, timeout, secret, secret-file, fallback"
            ));
        }
    }
    Ok(())
}

/// Parses a directive's reference. Text that is not a reference at all is not quoted back, for
/// the same reason as in `wrong_args`.
fn parse_ref(s: &str) -> Result<SecretRef, String> {
    s.parse().map_err(|e| match e {
        SecretRefError::Scheme(_) => {
            "the reference must start with cyberark:// (what was written is not shown, as it may be a secret)"
                .to_string()
        }
        other => other.to_string(),
    })
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
