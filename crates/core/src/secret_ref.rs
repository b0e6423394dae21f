//! Secret references: `cyberark://SAFE/OBJECT[#FIELD]`.
//!
//! A reference names a CyberArk account by safe and object name, and optionally one of its
//! properties (`#UserName`, `#Address`, ...). Without a field it means the secret itself (the CCP's
//! `Content`). References never hold a secret value, so they may be logged and audited.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A parsed `cyberark://` reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretRef {
    pub safe: String,
    pub object: String,
    /// The account property to read; `None` means the secret (`Content`).
    pub field: Option<String>,
}

/// Why a reference did not parse. The messages quote the reference, which is never secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretRefError {
    #[error("`{0}` is not a secret reference: it must start with cyberark://")]
    Scheme(String),
    #[error("`{0}` must name a safe and an object: cyberark://SAFE/OBJECT[#FIELD]")]
    Shape(String),
    #[error("`{reference}`: the {part} is empty")]
    Empty {
        reference: String,
        part: &'static str,
    },
    #[error("`{reference}`: the {part} contains `{ch}`, which CyberArk does not allow there")]
    Character {
        reference: String,
        part: &'static str,
        ch: char,
    },
}

const SCHEME: &str = "cyberark://";
/// Characters CyberArk forbids in safe names (Add Safe doc), plus `/` and `#` which delimit.
const SAFE_FORBIDDEN: &[char] = &[
    '\\', '/', ':', '*', '<', '>', '.', '|', '?', '"', '%', '&', '+', '#',
];
/// Characters that cannot travel in a CCP query value (`+ & %`) or a `Query` (`;`).
const OBJECT_FORBIDDEN: &[char] = &['/', '#', '+', '&', '%', ';'];

impl SecretRef {
    pub fn new(safe: &str, object: &str) -> SecretRef {
        SecretRef {
            safe: safe.to_string(),
            object: object.to_string(),
            field: None,
        }
    }

    /// The same account, without a field.
    pub fn account(&self) -> SecretRef {
        SecretRef {
            field: None,
            ..self.clone()
        }
    }

    /// The CCP response property this reference reads (`Content` when no field is named).
    pub fn property(&self) -> &str {
        self.field.as_deref().unwrap_or("Content")
    }
}

impl FromStr for SecretRef {
    type Err = SecretRefError;

    fn from_str(s: &str) -> Result<SecretRef, SecretRefError> {
        let rest = s
            .strip_prefix(SCHEME)
            .ok_or_else(|| SecretRefError::Scheme(s.to_string()))?;
        let (path, field) = match rest.split_once('#') {
            Some((p, f)) => (p, Some(f)),
            None => (rest, None),
        };
        let (safe, object) = path
            .split_once('/')
            .ok_or_else(|| SecretRefError::Shape(s.to_string()))?;
        check_part(s, "safe", safe, SAFE_FORBIDDEN)?;
        check_part(s, "object", object, OBJECT_FORBIDDEN)?;
        if let Some(f) = field {
            check_part(s, "field", f, OBJECT_FORBIDDEN)?;
            if !f
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                let ch = f
                    .chars()
                    .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
                    .unwrap_or('?');
                return Err(SecretRefError::Character {
                    reference: s.to_string(),
                    part: "field",
                    ch,
                });
            }
        }
        Ok(SecretRef {
            safe: safe.to_string(),
            object: object.to_string(),
            field: field.map(str::to_string),
        })
    }
}

fn check_part(
    reference: &str,
    part: &'static str,
    value: &str,
    forbidden: &[char],
) -> Result<(), SecretRefError> {
    if value.trim().is_empty() {
        return Err(SecretRefError::Empty {
            reference: reference.to_string(),
            part,
        });
    }
    if let Some(ch) = value
        .chars()
        .find(|c| forbidden.contains(c) || c.is_control())
    {
        return Err(SecretRefError::Character {
            reference: reference.to_string(),
            part,
            ch,
        });
    }
    Ok(())
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.safe, self.object)?;
        if let Some(field) = &self.field {
            write!(f, "#{field}")?;
        }
        Ok(())
    }
}

impl Serialize for SecretRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SecretRef, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_ok(input: &str, safe: &str, object: &str, field: Option<&str>) {
        let r: SecretRef = input.parse().unwrap();
        assert_eq!(
            (r.safe.as_str(), r.object.as_str(), r.field.as_deref()),
            (safe, object, field)
        );
        assert_eq!(r.to_string(), input);
    }

    #[test]
    fn parses_plain_and_field_references() {
        check_ok(
            "cyberark://Prod-DB/payments-db",
            "Prod-DB",
            "payments-db",
            None,
        );
        check_ok(
            "cyberark://Prod-DB/postgres-admin#UserName",
            "Prod-DB",
            "postgres-admin",
            Some("UserName"),
        );
        check_ok("cyberark://Linux Root/host 1", "Linux Root", "host 1", None);
    }

    #[test]
    fn rejects_malformed_references() {
        for bad in [
            "Prod-DB/x",
            "cyberark://",
            "cyberark://Prod-DB",
            "cyberark:///obj",
            "cyberark://Prod-DB/",
            "cyberark://Prod.DB/x",
            "cyberark://Prod-DB/a;b",
            "cyberark://Prod-DB/a+b",
            "cyberark://Prod-DB/a/b",
            "cyberark://Prod-DB/a#",
            "cyberark://Prod-DB/a#Us er",
            "cyberark://Prod-DB/a\nb",
        ] {
            assert!(bad.parse::<SecretRef>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn property_defaults_to_content() {
        let r: SecretRef = "cyberark://S/o".parse().unwrap();
        assert_eq!(r.property(), "Content");
    }
}
