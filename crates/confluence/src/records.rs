//! The smaller Confluence objects: labels, content properties, page versions, users, groups,
//! space permissions, CQL search results, content restrictions and permission checks.
//!
//! Each is read leniently from its v2, v1 or Data Center JSON: absent optional fields become
//! `None` or empty, ids are accepted as strings or numbers, and only a field without which the
//! object is meaningless (a label's name, a property's key) makes the answer an error.

use serde_json::Value;

use crate::model::{id_of, number_of, object, str_of, version_of};

/// A label (`global:runbook` has prefix `global` and name `runbook`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Label {
    pub id: Option<String>,
    pub name: String,
    pub prefix: String,
}

impl Label {
    pub(crate) fn from_value(v: &Value) -> Result<Label, String> {
        let obj = object(v, "label")?;
        Ok(Label {
            id: id_of(obj.get("id")),
            name: str_of(obj.get("name")).ok_or("label has no name")?,
            prefix: str_of(obj.get("prefix")).unwrap_or_else(|| "global".into()),
        })
    }
}

/// A content property: a JSON value stored on a page under a key, with its own version.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ContentProperty {
    pub id: String,
    pub key: String,
    pub value: Value,
    pub version: u64,
}

impl ContentProperty {
    pub(crate) fn from_value(v: &Value) -> Result<ContentProperty, String> {
        let obj = object(v, "content property")?;
        Ok(ContentProperty {
            id: id_of(obj.get("id")).ok_or("content property has no id")?,
            key: str_of(obj.get("key")).ok_or("content property has no key")?,
            value: obj.get("value").cloned().unwrap_or(Value::Null),
            version: version_of(obj).0.unwrap_or(1),
        })
    }
}

/// One version in a page's history.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PageVersion {
    pub number: u64,
    pub message: String,
    pub minor_edit: bool,
    pub author_id: Option<String>,
    pub created_at: Option<String>,
}

impl PageVersion {
    pub(crate) fn from_value(v: &Value) -> Result<PageVersion, String> {
        let obj = object(v, "version")?;
        Ok(PageVersion {
            number: number_of(obj.get("number")).ok_or("version has no number")?,
            message: str_of(obj.get("message")).unwrap_or_default(),
            minor_edit: obj
                .get("minorEdit")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            author_id: str_of(obj.get("authorId")),
            created_at: str_of(obj.get("createdAt")).or_else(|| str_of(obj.get("when"))),
        })
    }
}

/// A Confluence user: Cloud names users by account id, Data Center by username and user key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct User {
    pub account_id: Option<String>,
    pub username: Option<String>,
    pub user_key: Option<String>,
    pub display_name: Option<String>,
    pub public_name: Option<String>,
    /// May be empty or absent, depending on the user's privacy settings.
    pub email: Option<String>,
    /// `atlassian`, `app`, `customer` (Cloud).
    pub account_type: Option<String>,
    /// `active`, `inactive`, `closed` (Cloud v2).
    pub account_status: Option<String>,
    /// v1 `type`: `known`, `unknown`, `anonymous`, `user`.
    pub kind: Option<String>,
}

impl User {
    pub(crate) fn from_value(v: &Value) -> Result<User, String> {
        let obj = object(v, "user")?;
        let s = |k: &str| str_of(obj.get(k)).filter(|v| !v.is_empty());
        let user = User {
            account_id: s("accountId"),
            username: s("username"),
            user_key: s("userKey"),
            display_name: s("displayName"),
            public_name: s("publicName"),
            email: s("email"),
            account_type: s("accountType"),
            account_status: s("accountStatus"),
            kind: s("type"),
        };
        if user.account_id.is_none() && user.username.is_none() && user.user_key.is_none() {
            return Err("user has no account id, username or user key".into());
        }
        Ok(user)
    }
}

/// A group. Cloud groups have ids (use them; names can change); Data Center groups only names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Group {
    pub id: Option<String>,
    pub name: String,
}

impl Group {
    pub(crate) fn from_value(v: &Value) -> Result<Group, String> {
        let obj = object(v, "group")?;
        Ok(Group {
            id: id_of(obj.get("id")),
            name: str_of(obj.get("name")).ok_or("group has no name")?,
        })
    }
}

/// One v2 space permission assignment: a principal may perform an operation on a target type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpacePermission {
    pub id: String,
    /// `user`, `group` or `role`.
    pub principal_type: String,
    pub principal_id: String,
    /// `read`, `create`, `delete`, `administer`...
    pub operation: String,
    /// `space`, `page`, `comment`...
    pub target_type: String,
}

impl SpacePermission {
    pub(crate) fn from_value(v: &Value) -> Result<SpacePermission, String> {
        let obj = object(v, "space permission")?;
        let principal = obj
            .get("principal")
            .ok_or("space permission has no principal")?;
        let operation = obj
            .get("operation")
            .ok_or("space permission has no operation")?;
        Ok(SpacePermission {
            id: id_of(obj.get("id")).unwrap_or_default(),
            principal_type: str_of(principal.get("type")).unwrap_or_default(),
            principal_id: id_of(principal.get("id")).ok_or("principal has no id")?,
            operation: str_of(operation.get("key")).ok_or("operation has no key")?,
            target_type: str_of(operation.get("targetType")).unwrap_or_default(),
        })
    }
}

/// One CQL search result (`/rest/api/search`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SearchResult {
    pub title: String,
    pub excerpt: String,
    /// The result's web path, relative to the site's `/wiki` (Cloud) or base (Data Center).
    pub url: String,
    /// `content`, `space`, `user`...
    pub entity_type: String,
    pub content_id: Option<String>,
    /// `page`, `blogpost`, `comment`, `attachment`...
    pub content_type: Option<String>,
    pub last_modified: Option<String>,
}

impl SearchResult {
    pub(crate) fn from_value(v: &Value) -> Result<SearchResult, String> {
        let obj = object(v, "search result")?;
        let content = obj.get("content").and_then(Value::as_object);
        Ok(SearchResult {
            title: str_of(obj.get("title")).unwrap_or_default(),
            excerpt: str_of(obj.get("excerpt")).unwrap_or_default(),
            url: str_of(obj.get("url")).unwrap_or_default(),
            entity_type: str_of(obj.get("entityType")).unwrap_or_default(),
            content_id: content.and_then(|c| id_of(c.get("id"))),
            content_type: content.and_then(|c| str_of(c.get("type"))),
            last_modified: str_of(obj.get("lastModified")),
        })
    }
}

/// The users and groups an operation (`read`, `update`) on a piece of content is restricted to.
/// Both lists empty: the operation is not restricted on this content.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Restriction {
    pub operation: String,
    pub users: Vec<User>,
    pub groups: Vec<Group>,
}

fn list_of<T>(v: Option<&Value>, parse: fn(&Value) -> Result<T, String>) -> Result<Vec<T>, String> {
    // v1 wraps the lists as `{results:[...], size, ...}`; accept a bare array too.
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(other) => match other.get("results") {
            Some(Value::Array(a)) => a,
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(_) => return Err("restriction list is not a list".into()),
        },
    };
    items.iter().map(parse).collect()
}

impl Restriction {
    /// Parses a `restriction/byOperation` answer: an object keyed by operation.
    pub(crate) fn by_operation(v: &Value) -> Result<Vec<Restriction>, String> {
        let obj = object(v, "restrictions")?;
        let mut out = Vec::new();
        for (key, entry) in obj {
            if key.starts_with('_') {
                continue;
            }
            let restrictions = entry.get("restrictions");
            out.push(Restriction {
                operation: str_of(entry.get("operation")).unwrap_or_else(|| key.clone()),
                users: list_of(restrictions.and_then(|r| r.get("user")), User::from_value)?,
                groups: list_of(restrictions.and_then(|r| r.get("group")), Group::from_value)?,
            });
        }
        out.sort_by(|a, b| a.operation.cmp(&b.operation));
        Ok(out)
    }
}

/// The answer of a content permission check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PermissionCheck {
    pub has_permission: bool,
    /// Why not, in Confluence's words ("User does not have permission to the space").
    pub reasons: Vec<String>,
}

impl PermissionCheck {
    pub(crate) fn from_value(v: &Value) -> Result<PermissionCheck, String> {
        let obj = object(v, "permission check")?;
        let has_permission = obj
            .get("hasPermission")
            .and_then(Value::as_bool)
            .ok_or("permission check has no hasPermission")?;
        let reasons = obj
            .get("errors")
            .and_then(Value::as_array)
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| {
                        str_of(e.get("translation"))
                            .or_else(|| str_of(e.get("key")))
                            .or_else(|| str_of(Some(e)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(PermissionCheck {
            has_permission,
            reasons,
        })
    }
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
