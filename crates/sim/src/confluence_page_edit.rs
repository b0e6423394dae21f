//! A page write as the v2 API describes it ([`PageEdit`], read from a `createPage` or
//! `updatePage` body), and storage bodies given flat or nested, checked as Confluence's XHTML
//! parser would.

use axum::response::Response;
use serde_json::Value;

use crate::confluence_http::bad_request;
use crate::wiki_storage;

/// A page write as the APIs describe it.
pub(crate) struct PageEdit {
    pub(crate) space_id: Option<u64>,
    pub(crate) title: String,
    pub(crate) body: Option<String>,
    pub(crate) parent_id: Option<u64>,
    pub(crate) owner_id: Option<String>,
    /// `number`, `message`, `minorEdit`.
    pub(crate) version: Option<(u64, String, bool)>,
}

fn id_value(v: Option<&Value>, name: &str) -> Result<Option<u64>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{name} [{s}] is not a valid id")),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("{name} is not a valid id")),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

/// Reads a storage body given flat (`{representation, value}`) or nested (`{storage: {...}}`),
/// and checks that Confluence could parse it.
pub(crate) fn storage_body(b: &Value) -> Result<String, String> {
    let (rep, value) = if let Some(nested) = b.get("storage") {
        (
            nested
                .get("representation")
                .and_then(Value::as_str)
                .unwrap_or("storage"),
            nested.get("value"),
        )
    } else if let Some(other) = ["atlas_doc_format", "wiki", "editor", "view"]
        .iter()
        .find(|k| b.get(**k).is_some())
    {
        return Err(format!(
            "representation [{other}] is not accepted by arkbridge sim; use storage"
        ));
    } else {
        (
            b.get("representation")
                .and_then(Value::as_str)
                .unwrap_or(""),
            b.get("value"),
        )
    };
    if rep != "storage" {
        return Err(format!(
            "representation [{rep}] is not accepted by arkbridge sim; use storage"
        ));
    }
    let value = value
        .and_then(Value::as_str)
        .ok_or("body.value is required")?
        .to_string();
    if let Some(msg) = wiki_storage::check(&value) {
        return Err(msg);
    }
    Ok(value)
}

impl PageEdit {
    /// Reads a v2 `createPage` (`create`) or `updatePage` body.
    pub(crate) fn from_json(b: &Value, create: bool) -> Result<PageEdit, Response> {
        let bad = |m: String| bad_request(m);
        match (b.get("status").and_then(Value::as_str), create) {
            (None, true) | (Some("current"), _) => {}
            (None, false) => return Err(bad_request("status is required")),
            (Some("draft"), _) => {
                return Err(bad_request(
                    "draft pages are not supported by arkbridge sim",
                ));
            }
            (Some(other), _) => {
                return Err(bad(format!("status [{other}] must be current or draft")));
            }
        }
        let space_id = id_value(b.get("spaceId"), "spaceId").map_err(bad)?;
        if create && space_id.is_none() {
            return Err(bad_request("spaceId is required"));
        }
        let title = b
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string();
        let body = match b.get("body") {
            None | Some(Value::Null) if create => None,
            None | Some(Value::Null) => return Err(bad_request("body is required")),
            Some(v) => Some(storage_body(v).map_err(bad)?),
        };
        let version = match b.get("version") {
            Some(v) => Some((
                v.get("number")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| bad_request("version.number is required"))?,
                v.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                v.get("minorEdit").and_then(Value::as_bool).unwrap_or(false),
            )),
            None if create => None,
            None => return Err(bad_request("version is required")),
        };
        Ok(PageEdit {
            space_id,
            title,
            body,
            parent_id: id_value(b.get("parentId"), "parentId").map_err(bad)?,
            owner_id: b.get("ownerId").and_then(Value::as_str).map(str::to_string),
            version,
        })
    }
}
