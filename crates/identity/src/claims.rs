//! Registered-claim checks (RFC 7519 §4.1) on a payload whose signature is already verified:
//! `exp` (required), `nbf` and `iat` with a clock skew, `iss` and `aud` (a string or an array),
//! and typed readers for the other claims.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::IdentityError;

/// A JWT payload.
pub type Claims = Map<String, Value>;

/// Reads a NumericDate claim (seconds since the epoch, possibly fractional).
pub(crate) fn numeric_date(claims: &Claims, name: &str) -> Result<Option<i64>, IdentityError> {
    let invalid = |reason: &str| IdentityError::InvalidClaim {
        claim: name.to_string(),
        reason: reason.to_string(),
    };
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if let Some(f) = n.as_f64().filter(|f| f.is_finite()) {
                // The float-to-int cast saturates, and a date beyond i64 is absurd either way.
                Ok(Some(f.floor() as i64))
            } else {
                Err(invalid("not a representable number of seconds"))
            }
        }
        Some(_) => Err(invalid("not a number")),
    }
}

/// Checks `exp`, `nbf` and `iat` against `now`; returns `exp`.
pub(crate) fn check_times(claims: &Claims, now: i64, skew: Duration) -> Result<i64, IdentityError> {
    let skew_secs = skew.as_secs();
    let skew_i = i64::try_from(skew_secs).unwrap_or(i64::MAX);
    let exp = numeric_date(claims, "exp")?.ok_or(IdentityError::MissingClaim("exp"))?;
    if now >= exp.saturating_add(skew_i) {
        return Err(IdentityError::Expired {
            exp,
            now,
            skew_secs,
        });
    }
    for claim in ["nbf", "iat"] {
        if let Some(at) = numeric_date(claims, claim)?
            && at.saturating_sub(skew_i) > now
        {
            return Err(IdentityError::NotYetValid {
                claim,
                at,
                now,
                skew_secs,
            });
        }
    }
    Ok(exp)
}

/// Reads an optional string claim, refusing other types.
pub(crate) fn string_claim<'a>(
    claims: &'a Claims,
    name: &str,
) -> Result<Option<&'a str>, IdentityError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(IdentityError::InvalidClaim {
            claim: name.to_string(),
            reason: "not a string".into(),
        }),
    }
}

/// Reads a required, non-empty string claim.
pub(crate) fn required_string<'a>(
    claims: &'a Claims,
    name: &'static str,
) -> Result<&'a str, IdentityError> {
    match string_claim(claims, name)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(IdentityError::MissingClaim(name)),
    }
}

/// Checks `iss`.
pub(crate) fn check_issuer(claims: &Claims, expected: &str) -> Result<(), IdentityError> {
    let found = required_string(claims, "iss")?;
    if found == expected {
        Ok(())
    } else {
        Err(IdentityError::WrongIssuer {
            expected: expected.to_string(),
            found: found.to_string(),
        })
    }
}

/// The `aud` values: a string or an array of strings.
pub(crate) fn audiences(claims: &Claims) -> Result<Vec<String>, IdentityError> {
    let invalid = || IdentityError::InvalidClaim {
        claim: "aud".into(),
        reason: "not a string or an array of strings".into(),
    };
    match claims.get("aud") {
        None => Err(IdentityError::MissingClaim("aud")),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(invalid))
            .collect(),
        Some(_) => Err(invalid()),
    }
}

/// Checks that `aud` contains `expected`.
pub(crate) fn check_audience(claims: &Claims, expected: &str) -> Result<(), IdentityError> {
    let found = audiences(claims)?;
    if found.iter().any(|a| a == expected) {
        Ok(())
    } else {
        Err(IdentityError::WrongAudience {
            expected: expected.to_string(),
            found,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(v: Value) -> Claims {
        v.as_object().unwrap().clone()
    }

    const SKEW: Duration = Duration::from_secs(10);

    #[test]
    fn exp_is_required_and_enforced_with_skew() {
        assert!(matches!(
            check_times(&claims(json!({})), 100, SKEW),
            Err(IdentityError::MissingClaim("exp"))
        ));
        assert_eq!(
            check_times(&claims(json!({"exp": 100})), 109, SKEW).unwrap(),
            100
        );
        assert!(matches!(
            check_times(&claims(json!({"exp": 100})), 110, SKEW),
            Err(IdentityError::Expired {
                exp: 100,
                now: 110,
                skew_secs: 10
            })
        ));
        assert_eq!(
            check_times(&claims(json!({"exp": 100.9})), 50, SKEW).unwrap(),
            100
        );
    }

    #[test]
    fn nbf_and_iat_in_the_future_are_refused_beyond_skew() {
        let c = claims(json!({"exp": 1000, "nbf": 120, "iat": 100}));
        assert!(check_times(&c, 110, SKEW).is_ok());
        assert!(matches!(
            check_times(&c, 109, SKEW),
            Err(IdentityError::NotYetValid {
                claim: "nbf",
                at: 120,
                ..
            })
        ));
        let c = claims(json!({"exp": 1000, "iat": 200}));
        assert!(matches!(
            check_times(&c, 100, SKEW),
            Err(IdentityError::NotYetValid { claim: "iat", .. })
        ));
    }

    #[test]
    fn dates_must_be_numbers() {
        for bad in [json!({"exp": "100"}), json!({"exp": 1000, "nbf": true})] {
            assert!(matches!(
                check_times(&claims(bad), 1, SKEW),
                Err(IdentityError::InvalidClaim { .. })
            ));
        }
    }

    #[test]
    fn audience_may_be_a_string_or_an_array() {
        assert!(check_audience(&claims(json!({"aud": "a"})), "a").is_ok());
        assert!(check_audience(&claims(json!({"aud": ["x", "a"]})), "a").is_ok());
        let err = check_audience(&claims(json!({"aud": ["x", "y"]})), "a").unwrap_err();
        assert!(
            matches!(&err, IdentityError::WrongAudience { found, .. } if found == &["x", "y"]),
            "{err}"
        );
        assert!(matches!(
            check_audience(&claims(json!({})), "a"),
            Err(IdentityError::MissingClaim("aud"))
        ));
        assert!(matches!(
            check_audience(&claims(json!({"aud": ["a", 1]})), "a"),
            Err(IdentityError::InvalidClaim { .. })
        ));
    }

    #[test]
    fn issuer_must_match_exactly() {
        assert!(check_issuer(&claims(json!({"iss": "https://idp"})), "https://idp").is_ok());
        assert!(matches!(
            check_issuer(&claims(json!({"iss": "https://idp/"})), "https://idp"),
            Err(IdentityError::WrongIssuer { .. })
        ));
        assert!(matches!(
            check_issuer(&claims(json!({})), "https://idp"),
            Err(IdentityError::MissingClaim("iss"))
        ));
        assert!(matches!(
            check_issuer(&claims(json!({"iss": 7})), "https://idp"),
            Err(IdentityError::InvalidClaim { .. })
        ));
    }
}
