//! Confluence Cloud v2 content properties of pages: list, create (200), get, update (their own
//! version counter: `version.number` must be the current one + 1, else 409) and delete (204).
//! Reading needs the page to be visible; writing needs the right to edit it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use crate::confluence_auth::Caller;
use crate::confluence_http::{V2, bad_request, error, list_response, not_found, paging, parse_id};
use crate::confluence_json::property_json;
use crate::confluence_page_parts::readable;
use crate::confluence_pages::{MAX_BODY, conflict, too_large};
use crate::http::{self, Params};
use crate::wiki::{self, Property, Version};
use crate::wiki_access::Op;
use crate::world::World;

fn respond(r: Result<Response, Response>) -> Response {
    r.unwrap_or_else(|e| e)
}

fn body(raw: &Bytes) -> Result<Value, Response> {
    if raw.len() > MAX_BODY {
        return Err(too_large());
    }
    match serde_json::from_slice::<Value>(raw) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(bad_request("The request body is not a JSON object.")),
    }
}

fn forbidden() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
        "You do not have permission to edit this page's properties.",
    )
}

pub(crate) async fn list(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    respond((|| {
        let paging = paging(&params)?;
        let desc = match params.get("sort") {
            None | Some("key") => false,
            Some("-key") => true,
            Some(s) => return Err(bad_request(format!("sort [{s}] must be key or -key"))),
        };
        let key = params.get("key");
        let wiki = world.wiki();
        let page = readable(&wiki, &caller, &id)?;
        let mut found: Vec<&Property> = page
            .properties
            .iter()
            .filter(|p| key.is_none_or(|k| p.key == k))
            .collect();
        found.sort_by(|a, b| a.key.cmp(&b.key));
        if desc {
            found.reverse();
        }
        let items = found.into_iter().map(property_json).collect();
        let path = format!("{V2}/pages/{}/properties", page.id);
        drop(wiki);
        Ok(list_response(
            &world,
            &path,
            query.as_deref(),
            items,
            &paging,
        ))
    })())
}

pub(crate) async fn create(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Response {
    respond((|| {
        let b = body(&raw)?;
        let key = b
            .get("key")
            .and_then(Value::as_str)
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| bad_request("key is required"))?
            .to_string();
        if key.len() > 255 {
            return Err(bad_request("key is longer than 255 characters"));
        }
        let value = b.get("value").cloned().unwrap_or(Value::Null);
        let mut wiki = world.wiki();
        let page = readable(&wiki, &caller, &id)?;
        if !wiki.can(&caller.account_id, page, Op::Update) {
            return Err(forbidden());
        }
        if page.properties.iter().any(|p| p.key == key) {
            return Err(bad_request(format!(
                "A content property with key [{key}] already exists on this page."
            )));
        }
        let page_id = page.id;
        let pid = wiki.next_property_id();
        let prop = Property {
            id: pid,
            key,
            value,
            version: Version {
                number: 1,
                created_at: wiki::timestamp(),
                message: String::new(),
                minor_edit: false,
                author_id: caller.account_id.clone(),
                title: String::new(),
                body: String::new(),
            },
        };
        let out = property_json(&prop);
        if let Some(p) = wiki.page_mut(page_id) {
            p.properties.push(prop);
        }
        Ok(http::json(StatusCode::OK, &out))
    })())
}

fn property_id(pid: &str) -> Result<u64, Response> {
    parse_id(pid)
}

pub(crate) async fn get_one(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((id, pid)): Path<(String, String)>,
) -> Response {
    respond((|| {
        let pid = property_id(&pid)?;
        let wiki = world.wiki();
        let page = readable(&wiki, &caller, &id)?;
        let prop = page
            .properties
            .iter()
            .find(|p| p.id == pid)
            .ok_or_else(not_found)?;
        Ok(http::json(StatusCode::OK, &property_json(prop)))
    })())
}

pub(crate) async fn update(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((id, pid)): Path<(String, String)>,
    raw: Bytes,
) -> Response {
    respond((|| {
        let pid = property_id(&pid)?;
        let b = body(&raw)?;
        let number = b
            .get("version")
            .and_then(|v| v.get("number"))
            .and_then(Value::as_u64)
            .ok_or_else(|| bad_request("version.number is required"))?;
        let message = b
            .get("version")
            .and_then(|v| v.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut wiki = world.wiki();
        let page = readable(&wiki, &caller, &id)?;
        if !wiki.can(&caller.account_id, page, Op::Update) {
            return Err(forbidden());
        }
        let page_id = page.id;
        let Some(prop) = wiki
            .page_mut(page_id)
            .and_then(|p| p.properties.iter_mut().find(|p| p.id == pid))
        else {
            return Err(not_found());
        };
        if let Some(k) = b.get("key").and_then(Value::as_str)
            && k != prop.key
        {
            return Err(bad_request(
                "The key of a content property cannot be changed.",
            ));
        }
        let current = prop.version.number;
        if number != u64::from(current) + 1 {
            return Err(conflict(current, number, "content property"));
        }
        if let Some(v) = b.get("value") {
            prop.value = v.clone();
        }
        prop.version = Version {
            number: current + 1,
            created_at: wiki::timestamp(),
            message,
            minor_edit: false,
            author_id: caller.account_id.clone(),
            title: String::new(),
            body: String::new(),
        };
        Ok(http::json(StatusCode::OK, &property_json(prop)))
    })())
}

pub(crate) async fn delete(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((id, pid)): Path<(String, String)>,
) -> Response {
    respond((|| {
        let pid = property_id(&pid)?;
        let mut wiki = world.wiki();
        let page = readable(&wiki, &caller, &id)?;
        if !wiki.can(&caller.account_id, page, Op::Update) {
            return Err(forbidden());
        }
        let page_id = page.id;
        let Some(page) = wiki.page_mut(page_id) else {
            return Err(not_found());
        };
        let before = page.properties.len();
        page.properties.retain(|p| p.id != pid);
        if page.properties.len() == before {
            return Err(not_found());
        }
        Ok(http::empty(StatusCode::NO_CONTENT))
    })())
}
