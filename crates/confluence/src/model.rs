//! Confluence v2 objects (pages, spaces, footer comments) and list pages, parsed leniently.
//!
//! Ids travel as strings in v2 JSON but are accepted as numbers too; optional parts (version
//! author, `_links.webui`, the storage body) may be absent. Pagination links come from the `Link`
//! header (`<...>; rel="next"`) or the body's `_links.next`, both relative to the site.

use serde_json::{Map, Value};

/// A page with its storage-format body.
#[derive(Debug, Clone)]
pub struct Page {
    pub id: String,
    pub title: String,
    pub space_id: String,
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
#[derive(Debug, Clone)]
pub struct Space {
    pub id: String,
    pub key: String,
    pub name: String,
}

/// A footer comment.
#[derive(Debug, Clone)]
pub struct Comment {
    pub id: String,
    pub page_id: Option<String>,
    pub body_storage: String,
    pub version: u64,
}

fn id_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn str_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{what} is not a JSON object"))
}

/// `version.number` (also accepted as a string) and `version.authorId`.
fn version_of(obj: &Map<String, Value>) -> (Option<u64>, Option<String>) {
    let Some(Value::Object(v)) = obj.get("version") else {
        return (None, None);
    };
    let number = match v.get("number") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    (number, str_of(v.get("authorId")))
}

/// `body.storage.value`, or the flat `body.value` form.
fn storage_of(obj: &Map<String, Value>) -> Option<String> {
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
        Ok(Page {
            title: str_of(obj.get("title")).unwrap_or_default(),
            space_id: id_of(obj.get("spaceId")).unwrap_or_default(),
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
            page_id: id_of(obj.get("pageId")),
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

/// Resolves a pagination link against the site URL (`https://host[/gateway-prefix]`). Links
/// start with `/wiki/...`; a full URL must stay on the site's origin, so the credentials never
/// travel to another host.
pub(crate) fn resolve_next(site: &str, link: &str) -> Result<String, String> {
    let link = link.trim();
    let site_url = url::Url::parse(site).map_err(|e| format!("bad site URL ({e})"))?;
    let resolved = if link.starts_with("/wiki/") {
        format!("{site}{link}")
    } else if link.starts_with("//") {
        return Err("pagination link points to another host".into());
    } else if link.starts_with('/') {
        site_url
            .join(link)
            .map_err(|e| format!("bad pagination link ({e})"))?
            .to_string()
    } else if link.starts_with("http://") || link.starts_with("https://") {
        link.to_string()
    } else {
        // Relative to the v2 API root.
        format!("{site}/wiki/api/v2/{link}")
    };
    let url = url::Url::parse(&resolved).map_err(|e| format!("bad pagination link ({e})"))?;
    if url.origin() != site_url.origin() {
        return Err("pagination link points to another host".into());
    }
    Ok(url.to_string())
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
