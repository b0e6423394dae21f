//! PVWA safe members (`/API/Safes/{safeUrlId}/Members`, 12.0+): the member object, the add
//! body and the member-name check.
//!
//! `memberId` is a number in the Self-Hosted documentation and a GUID string in Privilege Cloud
//! captures, so [`MemberId`] takes both. Members are addressed by name in URLs with a trailing
//! slash (`.../Members/user@cyber.com/`), since names may contain dots.

use std::fmt;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::account::{de_opt_bool, de_opt_epoch, de_string};
use crate::error::CyberArkError;
use crate::permissions::Permissions;

/// Characters the PVWA refuses in member names (a dot is allowed).
pub const MEMBER_NAME_FORBIDDEN: &[char] =
    &['\\', '/', ':', '*', '<', '>', '"', '|', '?', '%', '&', '+'];

/// A member id: a number (Self-Hosted) or a string (Privilege Cloud).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum MemberId {
    Number(i64),
    Text(String),
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemberId::Number(n) => write!(f, "{n}"),
            MemberId::Text(s) => f.write_str(s),
        }
    }
}

/// The kind of a safe member (`memberType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberType {
    User,
    Group,
    /// Privilege Cloud roles (12.6+).
    Role,
}

impl MemberType {
    /// As the PVWA writes it in bodies and answers (`User`, `Group`, `Role`).
    pub fn as_str(self) -> &'static str {
        match self {
            MemberType::User => "User",
            MemberType::Group => "Group",
            MemberType::Role => "Role",
        }
    }

    /// Parses the PVWA spelling, ignoring case.
    pub fn parse(s: &str) -> Option<Self> {
        [MemberType::User, MemberType::Group, MemberType::Role]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// A safe member as the PVWA describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafeMember {
    #[serde(default, deserialize_with = "de_string")]
    pub safe_url_id: String,
    #[serde(default, deserialize_with = "de_string")]
    pub safe_name: String,
    #[serde(default, deserialize_with = "de_opt_member_id")]
    pub member_id: Option<MemberId>,
    #[serde(deserialize_with = "de_string")]
    pub member_name: String,
    #[serde(default, deserialize_with = "de_member_type")]
    pub member_type: Option<MemberType>,
    /// Epoch seconds, or `None` for a membership that never expires.
    #[serde(default, deserialize_with = "de_opt_epoch")]
    pub membership_expiration_date: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub is_expired_membership_enable: Option<bool>,
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub is_predefined_user: Option<bool>,
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub is_read_only: Option<bool>,
    #[serde(default, deserialize_with = "de_permissions")]
    pub permissions: Permissions,
}

fn de_opt_member_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<MemberId>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64().map(MemberId::Number),
        Value::String(s) if !s.trim().is_empty() => Some(MemberId::Text(s)),
        _ => None,
    })
}

fn de_member_type<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<MemberType>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => MemberType::parse(&s),
        _ => None,
    })
}

fn de_permissions<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Permissions, D::Error> {
    match Value::deserialize(d)? {
        v @ Value::Object(_) => Permissions::deserialize(v).map_err(serde::de::Error::custom),
        _ => Ok(Permissions::none()),
    }
}

/// A member to add (`POST /API/Safes/{id}/Members`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSafeMember {
    pub member_name: String,
    /// `Vault`, or the directory (domain) to find the user or group in.
    pub search_in: String,
    /// Epoch seconds; `None` never expires.
    pub membership_expiration_date: Option<i64>,
    pub permissions: Permissions,
    /// Sent as `MemberType` (12.6+) when set.
    pub member_type: Option<MemberType>,
}

impl NewSafeMember {
    /// A Vault user or group with the given permissions.
    pub fn new(member_name: &str, permissions: Permissions) -> Self {
        NewSafeMember {
            member_name: member_name.to_string(),
            search_in: "Vault".into(),
            membership_expiration_date: None,
            permissions,
            member_type: None,
        }
    }

    /// A directory group (for example an LDAP group mapped to a Confluence role).
    pub fn directory_group(group: &str, directory: &str, permissions: Permissions) -> Self {
        NewSafeMember {
            search_in: directory.to_string(),
            member_type: Some(MemberType::Group),
            ..NewSafeMember::new(group, permissions)
        }
    }

    pub(crate) fn to_body(&self) -> Result<Value, CyberArkError> {
        check_member_name(&self.member_name)?;
        if self.search_in.trim().is_empty() {
            return Err(CyberArkError::Invalid {
                field: "searchIn",
                reason: "searchIn is empty".into(),
            });
        }
        let mut body = Map::new();
        body.insert("memberName".into(), json!(self.member_name.trim()));
        body.insert("searchIn".into(), json!(self.search_in.trim()));
        body.insert(
            "membershipExpirationDate".into(),
            json!(self.membership_expiration_date),
        );
        body.insert("permissions".into(), json!(self.permissions));
        if let Some(t) = self.member_type {
            body.insert("MemberType".into(), json!(t.as_str()));
        }
        Ok(Value::Object(body))
    }
}

/// Checks a member name: not blank, none of `\ / : * < > " | ? % & +` or control characters.
pub fn check_member_name(name: &str) -> Result<(), CyberArkError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(CyberArkError::Invalid {
            field: "memberName",
            reason: "the member name is empty".into(),
        });
    }
    if let Some(c) = name
        .chars()
        .find(|c| MEMBER_NAME_FORBIDDEN.contains(c) || c.is_control())
    {
        return Err(CyberArkError::Invalid {
            field: "memberName",
            reason: format!("member name `{name}` contains the forbidden character {c:?}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_id_may_be_a_number_or_a_string() {
        let m: SafeMember = serde_json::from_str(
            r#"{"memberId":217,"memberName":"alice","memberType":"User","permissions":{"listAccounts":true,"useAccounts":true}}"#,
        )
        .unwrap();
        assert_eq!(m.member_id, Some(MemberId::Number(217)));
        assert_eq!(m.member_id.unwrap().to_string(), "217");
        assert_eq!(m.member_type, Some(MemberType::User));
        assert_eq!(m.permissions.set_name(), Some("connect_only"));
        let m: SafeMember = serde_json::from_str(
            r#"{"memberId":"c2a0f6d2-1b1e-4c55-9a1f-0e7f8c7d9b10","memberName":"ops@cyber.com",
                "memberType":"group","membershipExpirationDate":null,"isPredefinedUser":"false"}"#,
        )
        .unwrap();
        assert_eq!(
            m.member_id,
            Some(MemberId::Text(
                "c2a0f6d2-1b1e-4c55-9a1f-0e7f8c7d9b10".into()
            ))
        );
        assert_eq!(m.member_type, Some(MemberType::Group));
        assert_eq!(m.is_predefined_user, Some(false));
        assert_eq!(m.permissions, Permissions::none());
        assert!(serde_json::from_str::<SafeMember>(r#"{"memberId":1}"#).is_err());
    }

    #[test]
    fn new_member_body_has_all_22_permission_keys() {
        let body = NewSafeMember::new("alice", Permissions::read_only())
            .to_body()
            .unwrap();
        assert_eq!(body["memberName"], "alice");
        assert_eq!(body["searchIn"], "Vault");
        assert_eq!(body["membershipExpirationDate"], Value::Null);
        assert_eq!(body["permissions"].as_object().unwrap().len(), 22);
        assert_eq!(body["permissions"]["retrieveAccounts"], true);
        assert!(body.get("MemberType").is_none());
        let body =
            NewSafeMember::directory_group("DB-Admins", "corp.example.com", Permissions::full())
                .to_body()
                .unwrap();
        assert_eq!(body["MemberType"], "Group");
        assert_eq!(body["searchIn"], "corp.example.com");
    }

    #[test]
    fn member_names_with_forbidden_characters_are_refused_but_dots_pass() {
        assert!(check_member_name("user@cyber.com").is_ok());
        for bad in [
            "a/b", "a\\b", "a:b", "a*b", "a<b", "a\"b", "a|b", "a?b", "a%b", "a&b", "a+b", " ",
        ] {
            assert!(
                matches!(
                    check_member_name(bad),
                    Err(CyberArkError::Invalid {
                        field: "memberName",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }
}
