//! Confluence Cloud v2 pages: list/get/update pages (with version history and the 409 on a stale
//! version). Footer comments are in [`crate::confluence_comments`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::confluence::{
    API, bad_request, base, caller, error, list_response, not_found, paging, parse_id,
    storage_json, tiny_ui, title_slug, version_json,
};
use crate::http::{self, LooseBody, Params};
use crate::wiki::{self, Page, Version, Wiki, storage_error};
use crate::world::World;

/// What `body-format` asked for: `Ok(true)` for storage, `Ok(false)` for none.
pub(crate) fn body_format(params: &Params) -> Result<bool, Response> {
    match params.get("body-format") {
        None => Ok(false),
        Some(f) if f.eq_ignore_ascii_case("storage") => Ok(true),
        Some(f) => Err(bad_request(format!(
            "body-format [{f}] is not served by arkbridge sim; use body-format=storage"
        ))),
    }
}

fn page_json(
    world: &World,
    wiki: &Wiki,
    page: &Page,
    v: &Version,
    body: bool,
    single: bool,
) -> Value {
    let key = wiki
        .space(page.space_id)
        .map(|s| s.key.as_str())
        .unwrap_or("");
    let current = v.number == page.current().number;
    let mut links = json!({
        "webui": format!("/spaces/{key}/pages/{}/{}", page.id, title_slug(&v.title)),
        "editui": format!("/pages/resumedraft.action?draftId={}", page.id),
        "tinyui": tiny_ui(page.id),
    });
    if single && let Some(l) = links.as_object_mut() {
        l.insert("base".into(), Value::String(base(world)));
    }
    json!({
        "id": page.id.to_string(),
        "status": if current { "current" } else { "historical" },
        "title": v.title,
        "spaceId": page.space_id.to_string(),
        "parentId": null,
        "parentType": null,
        "position": null,
        "authorId": page.author_id,
        "ownerId": page.author_id,
        "lastOwnerId": null,
        "createdAt": page.created_at,
        "version": version_json(v),
        "body": if body { storage_json(&v.body) } else { json!({}) },
        "_links": links,
    })
}

pub(crate) async fn list(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(r) = caller(&world, &headers) {
        return r;
    }
    let params = Params::parse(query.as_deref());
    let (paging, body) = match (paging(&params), body_format(&params)) {
        (Ok(p), Ok(b)) => (p, b),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let space_ids = params.list("space-id");
    let ids = params.list("id");
    let title = params.get("title");
    let sort = params.get("sort").unwrap_or("id").to_string();
    let items: Vec<Value> = {
        let wiki = world.wiki();
        let mut found: Vec<&Page> = wiki
            .pages
            .iter()
            .filter(|p| space_ids.is_empty() || space_ids.contains(&p.space_id.to_string()))
            .filter(|p| ids.is_empty() || ids.contains(&p.id.to_string()))
            .filter(|p| title.is_none_or(|t| p.current().title == t))
            .collect();
        match sort.as_str() {
            "-id" => found.sort_by_key(|p| std::cmp::Reverse(p.id)),
            "title" => found.sort_by(|a, b| a.current().title.cmp(&b.current().title)),
            "-title" => found.sort_by(|a, b| b.current().title.cmp(&a.current().title)),
            "modified-date" => {
                found.sort_by(|a, b| a.current().created_at.cmp(&b.current().created_at))
            }
            "-modified-date" => {
                found.sort_by(|a, b| b.current().created_at.cmp(&a.current().created_at))
            }
            _ => found.sort_by_key(|p| p.id),
        }
        found
            .into_iter()
            .map(|p| page_json(&world, &wiki, p, p.current(), body, false))
            .collect()
    };
    list_response(
        &world,
        &format!("{API}/pages"),
        query.as_deref(),
        items,
        &paging,
    )
}

pub(crate) async fn get_one(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(r) = caller(&world, &headers) {
        return r;
    }
    let params = Params::parse(query.as_deref());
    let (id, body) = match (parse_id(&id), body_format(&params)) {
        (Ok(i), Ok(b)) => (i, b),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let wanted = match params.get("version") {
        None => None,
        Some(v) => match v.trim().parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => return bad_request("version must be a number"),
        },
    };
    let include_version = params
        .get("include-version")
        .is_none_or(|v| !v.eq_ignore_ascii_case("false"));
    let wiki = world.wiki();
    let Some(page) = wiki.page(id) else {
        return not_found();
    };
    let version = match wanted {
        None => page.current(),
        Some(n) => match page.versions.iter().find(|v| v.number == n) {
            Some(v) => v,
            None => return not_found(),
        },
    };
    let mut out = page_json(&world, &wiki, page, version, body, true);
    if !include_version && let Some(o) = out.as_object_mut() {
        o.remove("version");
    }
    http::json(StatusCode::OK, &out)
}

/// Reads a storage body given flat (`{representation, value}`) or nested (`{storage: {...}}`).
pub(crate) fn storage_body(body: &LooseBody) -> Result<String, Response> {
    let b = body
        .object("body")
        .ok_or_else(|| bad_request("body is required"))?;
    let (rep, value) = match b.object("storage") {
        Some(nested) => (
            nested
                .str("representation")
                .unwrap_or("storage")
                .to_string(),
            nested.str("value").map(str::to_string),
        ),
        None => {
            if let Some(other) = ["atlas_doc_format", "wiki"]
                .iter()
                .find(|k| b.get(k).is_some())
            {
                return Err(bad_request(format!(
                    "representation [{other}] is not accepted by arkbridge sim; use storage"
                )));
            }
            (
                b.str("representation").unwrap_or("").to_string(),
                b.str("value").map(str::to_string),
            )
        }
    };
    if rep != "storage" {
        return Err(bad_request(format!(
            "representation [{rep}] is not accepted by arkbridge sim; use storage"
        )));
    }
    let value = value.ok_or_else(|| bad_request("body.value is required"))?;
    if let Some(msg) = storage_error(&value) {
        return Err(bad_request(msg));
    }
    Ok(value)
}

pub(crate) fn id_field(body: &LooseBody, key: &str) -> Option<String> {
    match body.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) async fn update(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: Bytes,
) -> Response {
    let author = match caller(&world, &headers) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let Some(body) = LooseBody::parse(&raw) else {
        return bad_request("The request body is not a JSON object.");
    };
    if id_field(&body, "id").as_deref() != Some(id.to_string().as_str()) {
        return bad_request("id in the body must match the page id in the path");
    }
    match body.str("status") {
        Some("current") => {}
        Some(other) => {
            return bad_request(format!(
                "status [{other}] is not supported by arkbridge sim"
            ));
        }
        None => return bad_request("status is required"),
    }
    let title = match body.str("title").map(str::trim) {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => return bad_request("title is required"),
    };
    let value = match storage_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(version) = body.object("version") else {
        return bad_request("version is required");
    };
    let Some(number) = version.get("number").and_then(Value::as_u64) else {
        return bad_request("version.number is required");
    };
    let message = version.str("message").unwrap_or("").to_string();
    let minor = version.bool("minorEdit").unwrap_or(false);
    let mut wiki = world.wiki();
    let Some(idx) = wiki.pages.iter().position(|p| p.id == id) else {
        return not_found();
    };
    let current = wiki.pages[idx].current().number;
    if number != u64::from(current) + 1 {
        return error(
            StatusCode::CONFLICT,
            "CONFLICT",
            format!(
                "Version must be incremented when updating a page. Current Version: [{current}]. \
                 Provided version: [{number}]"
            ),
        );
    }
    let space_id = wiki.pages[idx].space_id;
    if wiki
        .pages
        .iter()
        .any(|p| p.id != id && p.space_id == space_id && p.current().title == title)
    {
        return bad_request(
            "A page with this title already exists: A page already exists with the same TITLE in this space",
        );
    }
    wiki.pages[idx].versions.push(Version {
        number: current + 1,
        created_at: wiki::timestamp(),
        message,
        minor_edit: minor,
        author_id: author,
        title,
        body: value,
    });
    tracing::debug!(page = id, version = current + 1, "Confluence: page updated");
    let page = &wiki.pages[idx];
    let out = page_json(&world, &wiki, page, page.current(), true, true);
    http::json(StatusCode::OK, &out)
}
