//! PVWA safes (`/API/Safes`, 12.0+): the safe object, the add/update bodies with the checks the
//! PVWA applies (so a bad name fails before anything is sent), list pages, and the typed
//! `SFWS` refusals.
//!
//! Quirks handled: `creationTime` is epoch seconds, sometimes a quoted string;
//! `lastModificationTime` is epoch **microseconds**. Both are normalised to seconds.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_json::{Map, Value, json};

use crate::account::{de_opt_bool, de_opt_epoch, de_opt_string, de_string};
use crate::error::CyberArkError;

/// Characters the PVWA refuses in safe names.
pub const SAFE_NAME_FORBIDDEN: &[char] = &[
    '\\', '/', ':', '*', '<', '>', '.', '|', '?', '"', '%', '&', '+',
];
/// Longest safe name (psPAS' limit).
pub const SAFE_NAME_MAX: usize = 28;
/// Longest safe description.
pub const SAFE_DESCRIPTION_MAX: usize = 100;

/// A safe as `GET /API/Safes/{safeUrlId}` describes it. Holds no secret.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Safe {
    #[serde(default, deserialize_with = "de_string")]
    pub safe_url_id: String,
    #[serde(default, deserialize_with = "de_string")]
    pub safe_name: String,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub safe_number: Option<String>,
    #[serde(default, deserialize_with = "de_string")]
    pub description: String,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub location: Option<String>,
    #[serde(default, deserialize_with = "de_opt_creator")]
    pub creator: Option<String>,
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub olac_enabled: Option<bool>,
    #[serde(default, rename = "managingCPM", deserialize_with = "de_opt_string")]
    pub managing_cpm: Option<String>,
    #[serde(default, deserialize_with = "de_opt_epoch")]
    pub number_of_versions_retention: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_epoch")]
    pub number_of_days_retention: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub auto_purge_enabled: Option<bool>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de_opt_epoch")]
    pub creation_time: Option<i64>,
    /// Epoch seconds (the PVWA sends microseconds).
    #[serde(default, deserialize_with = "de_opt_epoch")]
    pub last_modification_time: Option<i64>,
}

/// `creator` is `{id, name}`; only the name is kept.
fn de_opt_creator<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Object(o) => o.get("name").and_then(Value::as_str).map(str::to_string),
        Value::String(s) => Some(s),
        _ => None,
    })
}

/// One page of a `{value, count, nextLink}` list.
#[derive(Debug)]
pub(crate) struct Page<T> {
    pub(crate) value: Vec<T>,
    pub(crate) next_link: Option<String>,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Page<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Value::Object(mut obj) = Value::deserialize(d)? else {
            return Err(D::Error::custom("a list answer must be a JSON object"));
        };
        let value = match obj.remove("value") {
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| T::deserialize(v).map_err(D::Error::custom))
                .collect::<Result<Vec<T>, _>>()?,
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err(D::Error::custom("`value` must be a list")),
        };
        let next_link = match obj.remove("nextLink") {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
            _ => None,
        };
        Ok(Page { value, next_link })
    }
}

/// How long a safe keeps old secret versions (the two are mutually exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// `numberOfVersionsRetention`, 1–999.
    Versions(u32),
    /// `numberOfDaysRetention`, 0–3650.
    Days(u32),
}

/// Settings of a safe to add (`POST /API/Safes`) or to change (`PUT /API/Safes/{id}`). Fields
/// left `None` are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SafeSettings {
    pub description: Option<String>,
    pub location: Option<String>,
    /// Once true it cannot be turned off again.
    pub olac_enabled: Option<bool>,
    pub managing_cpm: Option<String>,
    pub retention: Option<Retention>,
    pub auto_purge_enabled: Option<bool>,
}

impl SafeSettings {
    /// Checks the values and builds the JSON body, with `safeName` when given.
    pub(crate) fn to_body(&self, safe_name: Option<&str>) -> Result<Value, CyberArkError> {
        let mut body = Map::new();
        if let Some(name) = safe_name {
            check_safe_name(name)?;
            body.insert("safeName".into(), json!(name.trim()));
        }
        if let Some(d) = &self.description {
            if d.chars().count() > SAFE_DESCRIPTION_MAX {
                return Err(invalid(
                    "description",
                    format!("longer than {SAFE_DESCRIPTION_MAX} characters"),
                ));
            }
            body.insert("description".into(), json!(d));
        }
        if let Some(l) = &self.location {
            body.insert("location".into(), json!(l));
        }
        if let Some(o) = self.olac_enabled {
            body.insert("olacEnabled".into(), json!(o));
        }
        if let Some(c) = &self.managing_cpm {
            body.insert("managingCPM".into(), json!(c));
        }
        match self.retention {
            Some(Retention::Versions(v)) if (1..=999).contains(&v) => {
                body.insert("numberOfVersionsRetention".into(), json!(v));
            }
            Some(Retention::Versions(_)) => {
                return Err(invalid("numberOfVersionsRetention", "must be 1-999".into()));
            }
            Some(Retention::Days(d)) if d <= 3650 => {
                body.insert("numberOfDaysRetention".into(), json!(d));
            }
            Some(Retention::Days(_)) => {
                return Err(invalid("numberOfDaysRetention", "must be 0-3650".into()));
            }
            None => {}
        }
        if let Some(p) = self.auto_purge_enabled {
            body.insert("autoPurgeEnabled".into(), json!(p));
        }
        Ok(Value::Object(body))
    }
}

fn invalid(field: &'static str, reason: String) -> CyberArkError {
    CyberArkError::Invalid { field, reason }
}

/// Checks a safe name as the Add Safe API does: not blank, at most 28 characters, none of
/// `\ / : * < > . | ? " % & +`.
pub fn check_safe_name(name: &str) -> Result<(), CyberArkError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(invalid("safeName", "the safe name is empty".into()));
    }
    if name.chars().count() > SAFE_NAME_MAX {
        return Err(invalid(
            "safeName",
            format!("safe name `{name}` is longer than {SAFE_NAME_MAX} characters"),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| SAFE_NAME_FORBIDDEN.contains(c) || c.is_control())
    {
        return Err(invalid(
            "safeName",
            format!("safe name `{name}` contains the forbidden character {c:?}"),
        ));
    }
    Ok(())
}

/// The `SFWS` refusals of the safe and member APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SafeRefusal {
    /// `SFWS0002`: a safe of that name exists.
    AlreadyExists,
    /// `SFWS0007`: the safe is missing (or the caller is not a member).
    NotFound,
    /// `SFWS0012`: the principal is already a member.
    AlreadyMember,
    /// `SFWS0013`: a caller cannot change its own membership.
    OwnMembership,
}

impl SafeRefusal {
    pub fn code(self) -> &'static str {
        match self {
            SafeRefusal::AlreadyExists => "SFWS0002",
            SafeRefusal::NotFound => "SFWS0007",
            SafeRefusal::AlreadyMember => "SFWS0012",
            SafeRefusal::OwnMembership => "SFWS0013",
        }
    }
}

impl CyberArkError {
    /// The `SFWS` refusal this error is, if any.
    pub fn safe_refusal(&self) -> Option<SafeRefusal> {
        let CyberArkError::Refused { code, .. } = self else {
            return None;
        };
        [
            SafeRefusal::AlreadyExists,
            SafeRefusal::NotFound,
            SafeRefusal::AlreadyMember,
            SafeRefusal::OwnMembership,
        ]
        .into_iter()
        .find(|r| code.eq_ignore_ascii_case(r.code()))
    }
}

#[cfg(test)]
#[path = "safe_tests.rs"]
mod tests;
