//! PVWA (Gen2) account objects and account-list pages, parsed leniently.
//!
//! The PVWA is not consistent about types across versions and clones: timestamps come as epoch
//! seconds or microseconds, as numbers or strings; booleans sometimes as strings. Everything here
//! accepts those forms and ignores fields it does not know.

use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use serde_json::Value;

use crate::error::CyberArkError;

/// A PVWA account (`GET /API/Accounts/{id}`). Holds no secret.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    #[serde(deserialize_with = "de_id")]
    pub id: String,
    #[serde(default, deserialize_with = "de_string")]
    pub name: String,
    #[serde(default, deserialize_with = "de_string")]
    pub safe_name: String,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub user_name: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub address: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub platform_id: Option<String>,
    #[serde(default, deserialize_with = "de_secret_management")]
    pub secret_management: SecretManagement,
}

/// `secretManagement` of an account: CPM state.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretManagement {
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub automatic_management_enabled: Option<bool>,
    /// `inProcess`, `success` or `failure`.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub status: Option<String>,
    /// Last change of the secret, in epoch **seconds** (µs and ms inputs are scaled down).
    #[serde(default, deserialize_with = "de_opt_epoch")]
    pub last_modified_time: Option<i64>,
}

/// One page of `GET /API/Accounts`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub(crate) struct AccountPage {
    #[serde(default, deserialize_with = "de_accounts")]
    pub(crate) value: Vec<Account>,
    #[serde(default, rename = "nextLink", deserialize_with = "de_opt_string")]
    pub(crate) next_link: Option<String>,
}

fn de_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) if !s.trim().is_empty() => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(D::Error::custom("account id must be a non-empty string")),
    }
}

pub(crate) fn de_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(de_opt_string(d)?.unwrap_or_default())
}

pub(crate) fn de_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

pub(crate) fn de_opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    })
}

pub(crate) fn de_opt_epoch<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(epoch_seconds),
        Value::String(s) => parse_epoch(&s),
        _ => None,
    })
}

fn de_secret_management<'de, D: Deserializer<'de>>(d: D) -> Result<SecretManagement, D::Error> {
    match Value::deserialize(d)? {
        v @ Value::Object(_) => SecretManagement::deserialize(v).map_err(D::Error::custom),
        _ => Ok(SecretManagement::default()),
    }
}

fn de_accounts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Account>, D::Error> {
    match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .map(|v| Account::deserialize(v).map_err(D::Error::custom))
            .collect(),
        Value::Null => Ok(Vec::new()),
        _ => Err(D::Error::custom("`value` must be a list of accounts")),
    }
}

/// Parses an epoch timestamp held in a string (`"1700000000"`, `"1.7e9"`).
pub(crate) fn parse_epoch(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(epoch_seconds(n));
    }
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(|f| epoch_seconds(f as i64))
}

/// Scales epoch microseconds or milliseconds down to seconds.
pub(crate) fn epoch_seconds(n: i64) -> i64 {
    let a = n.unsigned_abs();
    if a >= 100_000_000_000_000 {
        n / 1_000_000
    } else if a >= 100_000_000_000 {
        n / 1_000
    } else {
        n
    }
}

/// Resolves a PVWA `nextLink` (relative to `/{app_name}/`) against the application base URL.
/// Links that leave the PVWA's origin are refused, so the session token never travels elsewhere.
pub(crate) fn resolve_next_link(app_base: &url::Url, link: &str) -> Result<url::Url, String> {
    let link = link.trim();
    if link.is_empty() {
        return Err("empty nextLink".into());
    }
    let url = app_base
        .join(link)
        .map_err(|e| format!("nextLink is not a valid URL reference ({e})"))?;
    if url.origin() != app_base.origin() {
        return Err("nextLink points to another host".into());
    }
    Ok(url)
}

/// Chooses among name matches: one exact-case match, else one case-insensitive match.
pub(crate) fn pick_account(
    candidates: Vec<Account>,
    safe: &str,
    name: &str,
) -> Result<Option<Account>, CyberArkError> {
    let exact: Vec<&Account> = candidates.iter().filter(|a| a.name == name).collect();
    if exact.len() == 1 {
        return Ok(Some(exact[0].clone()));
    }
    let mut ids: Vec<&str> = candidates.iter().map(|a| a.id.as_str()).collect();
    ids.dedup();
    match ids.len() {
        0 => Ok(None),
        1 => Ok(candidates.into_iter().next()),
        _ => Err(CyberArkError::Protocol {
            endpoint: "pvwa",
            detail: format!(
                "several accounts named `{name}` in safe `{safe}`: {}",
                ids.join(", ")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = r#"{"categoryModificationTime":1700000000,"platformId":"PostgreSQL",
      "safeName":"Prod-DB","id":"77_4","name":"payments-db","address":"db1.example.com",
      "userName":"payments_app","secretType":"password","platformAccountProperties":{"Port":"5432"},
      "secretManagement":{"automaticManagementEnabled":true,"status":"success",
      "lastModifiedTime":1700000123},"createdTime":1690000000}"#;

    #[test]
    fn parses_a_gen2_account() {
        let a: Account = serde_json::from_str(ACCOUNT).unwrap();
        assert_eq!(a.id, "77_4");
        assert_eq!(a.name, "payments-db");
        assert_eq!(a.safe_name, "Prod-DB");
        assert_eq!(a.user_name.as_deref(), Some("payments_app"));
        assert_eq!(a.platform_id.as_deref(), Some("PostgreSQL"));
        assert_eq!(a.secret_management.automatic_management_enabled, Some(true));
        assert_eq!(a.secret_management.status.as_deref(), Some("success"));
        assert_eq!(a.secret_management.last_modified_time, Some(1_700_000_123));
    }

    #[test]
    fn last_modified_time_number_string_seconds_micros() {
        for (raw, expect) in [
            ("1700000123", Some(1_700_000_123)),
            ("\"1700000123\"", Some(1_700_000_123)),
            ("1700000123000000", Some(1_700_000_123)),
            ("\"1700000123000000\"", Some(1_700_000_123)),
            ("1700000123000", Some(1_700_000_123)),
            ("1700000123.5", Some(1_700_000_123)),
            ("\"soon\"", None),
            ("null", None),
            ("[1]", None),
        ] {
            let body = format!(r#"{{"id":"1_1","secretManagement":{{"lastModifiedTime":{raw}}}}}"#);
            let a: Account = serde_json::from_str(&body).unwrap();
            assert_eq!(a.secret_management.last_modified_time, expect, "{raw}");
        }
    }

    #[test]
    fn lenient_types_and_missing_fields() {
        let a: Account = serde_json::from_str(
            r#"{"id":12,"name":null,"secretManagement":{"automaticManagementEnabled":"False","status":5}}"#,
        )
        .unwrap();
        assert_eq!(a.id, "12");
        assert_eq!(a.name, "");
        assert_eq!(
            a.secret_management.automatic_management_enabled,
            Some(false)
        );
        assert_eq!(a.secret_management.status.as_deref(), Some("5"));
        let a: Account = serde_json::from_str(r#"{"id":"1_2","secretManagement":"x"}"#).unwrap();
        assert!(a.secret_management.status.is_none());
        assert!(serde_json::from_str::<Account>(r#"{"name":"x"}"#).is_err());
        assert!(serde_json::from_str::<Account>(r#"{"id":""}"#).is_err());
    }

    #[test]
    fn parses_pages() {
        let body = format!(
            r#"{{"value":[{ACCOUNT}],"count":120,"nextLink":"api/Accounts?offset=50&limit=50"}}"#
        );
        let p: AccountPage = serde_json::from_str(&body).unwrap();
        assert_eq!(p.value.len(), 1);
        assert_eq!(
            p.next_link.as_deref(),
            Some("api/Accounts?offset=50&limit=50")
        );
        let p: AccountPage = serde_json::from_str(r#"{"value":[],"count":0}"#).unwrap();
        assert!(p.value.is_empty() && p.next_link.is_none());
        assert!(serde_json::from_str::<AccountPage>(r#"{"value":{}}"#).is_err());
    }

    #[test]
    fn next_link_is_relative_to_the_app() {
        let base = url::Url::parse("https://pvwa.example.com/PasswordVault/").unwrap();
        let next = resolve_next_link(
            &base,
            "api/Accounts?offset=50&limit=50&filter=safeName%20eq%20S",
        )
        .unwrap();
        assert_eq!(
            next.as_str(),
            "https://pvwa.example.com/PasswordVault/api/Accounts?offset=50&limit=50&filter=safeName%20eq%20S"
        );
        let abs = resolve_next_link(&base, "/PasswordVault/api/Accounts?offset=2").unwrap();
        assert_eq!(abs.path(), "/PasswordVault/api/Accounts");
        assert!(resolve_next_link(&base, "https://evil.example.com/PasswordVault/api/x").is_err());
        assert!(resolve_next_link(&base, "//evil.example.com/x").is_err());
        assert!(resolve_next_link(&base, "  ").is_err());
    }
}
