//! Pages, spaces and footer comments as Cloud v2 and v1 / Data Center answers carry them, parsed
//! leniently into one shape.
//!
//! Ids travel as strings in v2 JSON and as numbers in some v1 objects (a Data Center space id);
//! both are accepted. A v1 `Content` names its space as an embedded object (`space.key`) where
//! v2 has `spaceId`, its version author as `version.by` where v2 has `version.authorId`, and a
//! comment's page as `container.id` where v2 has `pageId`. Optional parts (version author,
//! `_links.webui`, the storage body) may be absent. List answers carry `results` and possibly
//! `_links.next`; the `Link` header's `rel="next"` target is read here too.

use serde_json::{Map, Value};

/// A page with its storage-format body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page {
    pub id: String,
    pub title: String,
    /// `current`, `draft`, `archived`, `historical`, `trashed`...
    pub status: String,
    /// The space id (numeric string); on Data Center the id of the embedded space.
    pub space_id: String,
    /// The space key, when the answer carried the space (v1 and Data Center do).
    pub space_key: Option<String>,
    /// The parent page (v2 `parentId`, or the last of the v1 `ancestors`).
    pub parent_id: Option<String>,
    /// The version number (`version.number`).
    pub version: u64,
    /// Account id of the author of this version.
    pub version_author_id: Option<String>,
    /// The body in storage format (XHTML); empty when the answer carried none.
    pub body_storage: String,
    /// The page's web UI path relative to `{site}/wiki`, e.g. `/spaces/OPS/pages/123/Title`.
    pub webui: Option<String>,
}

/// A space.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Space {
    pub id: String,
    pub key: String,
    pub name: String,
}

/// A footer comment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Comment {
    pub id: String,
    pub page_id: Option<String>,
    pub body_storage: String,
    pub version: u64,
}

pub(crate) fn id_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn str_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

pub(crate) fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{what} is not a JSON object"))
}

/// A non-negative number, also accepted as a string.
pub(crate) fn number_of(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `version.number` and the version's author: v2 `version.authorId`, v1 `version.by.accountId`
/// (Cloud) or `version.by.username` (Data Center).
pub(crate) fn version_of(obj: &Map<String, Value>) -> (Option<u64>, Option<String>) {
    let Some(Value::Object(v)) = obj.get("version") else {
        return (None, None);
    };
    let author = str_of(v.get("authorId")).or_else(|| {
        let by = v.get("by")?;
        str_of(by.get("accountId")).or_else(|| str_of(by.get("username")))
    });
    (number_of(v.get("number")), author)
}

/// `body.storage.value`, or the flat `body.value` form.
pub(crate) fn storage_of(obj: &Map<String, Value>) -> Option<String> {
    let body = obj.get("body")?.as_object()?;
    if let Some(Value::Object(storage)) = body.get("storage") {
        return str_of(storage.get("value"));
    }
    match body.get("representation") {
        Some(Value::String(r)) if r == "storage" => str_of(body.get("value")),
        _ => None,
    }
}

impl Page {
    pub(crate) fn from_value(v: &Value) -> Result<Page, String> {
        let obj = object(v, "page")?;
        let id = id_of(obj.get("id")).ok_or("page has no id")?;
        let (version, author) = version_of(obj);
        let space = obj.get("space").and_then(Value::as_object);
        let parent_id = id_of(obj.get("parentId")).or_else(|| {
            let ancestors = obj.get("ancestors")?.as_array()?;
            id_of(ancestors.last()?.get("id"))
        });
        Ok(Page {
            title: str_of(obj.get("title")).unwrap_or_default(),
            status: str_of(obj.get("status")).unwrap_or_else(|| "current".into()),
            space_id: id_of(obj.get("spaceId"))
                .or_else(|| space.and_then(|s| id_of(s.get("id"))))
                .unwrap_or_default(),
            space_key: space.and_then(|s| str_of(s.get("key"))),
            parent_id,
            version: version.ok_or_else(|| format!("page {id} has no version number"))?,
            version_author_id: author,
            body_storage: storage_of(obj).unwrap_or_default(),
            webui: obj
                .get("_links")
                .and_then(Value::as_object)
                .and_then(|l| str_of(l.get("webui"))),
            id,
        })
    }

    /// True when the answer carried a storage body.
    pub(crate) fn has_storage(v: &Value) -> bool {
        v.as_object().and_then(storage_of).is_some()
    }
}

impl Space {
    pub(crate) fn from_value(v: &Value) -> Result<Space, String> {
        let obj = object(v, "space")?;
        Ok(Space {
            id: id_of(obj.get("id")).ok_or("space has no id")?,
            key: str_of(obj.get("key")).ok_or("space has no key")?,
            name: str_of(obj.get("name")).unwrap_or_default(),
        })
    }
}

impl Comment {
    pub(crate) fn from_value(v: &Value) -> Result<Comment, String> {
        let obj = object(v, "comment")?;
        let (version, _) = version_of(obj);
        Ok(Comment {
            id: id_of(obj.get("id")).ok_or("comment has no id")?,
            page_id: id_of(obj.get("pageId")).or_else(|| {
                let container = obj.get("container")?;
                id_of(container.get("id"))
            }),
            body_storage: storage_of(obj).unwrap_or_default(),
            version: version.unwrap_or(1),
        })
    }
}

/// The `results` of a list answer and its `_links.next`, if any.
pub(crate) fn results(v: &Value) -> Result<(&[Value], Option<String>), String> {
    let obj = object(v, "list answer")?;
    let items = match obj.get("results") {
        Some(Value::Array(a)) => a.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => return Err("`results` is not a list".into()),
    };
    let next = obj
        .get("_links")
        .and_then(Value::as_object)
        .and_then(|l| str_of(l.get("next")))
        .filter(|n| !n.trim().is_empty());
    Ok((items, next))
}

/// The `rel="next"` target of an RFC 8288 `Link` header.
pub(crate) fn link_header_next(header: &str) -> Option<String> {
    for part in header.split(',') {
        let part = part.trim();
        let Some(rest) = part.strip_prefix('<') else {
            continue;
        };
        let Some((target, params)) = rest.split_once('>') else {
            continue;
        };
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=")
                .map(|r| {
                    r.trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
                })
                .unwrap_or(false)
        });
        if is_next && !target.trim().is_empty() {
            return Some(target.trim().to_string());
        }
    }
    None
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
