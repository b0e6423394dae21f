//! Content the REST v1 way, as Data Center serves it (`/confluence/rest/api/...`) and as the
//! Cloud site still does for basic-auth callers (`/wiki/rest/api/content...`; the gateway
//! answers 410 there): `content` list, create, get (with `expand` and `?version=`), update
//! (version + 1, else 409 "Version must be incremented on update"), delete; `content/scan`
//! (cursor paging, pages only); `content/{id}/child/page`; `space`, `space/{key}` and
//! `space/{key}/permissions`. Lists page with `start`/`limit`/`size` and relative `next` links
//! (past the end too with the `confluence-dc-over-paging` fault).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use crate::confluence_auth::{Caller, Host};
use crate::confluence_cql_eval::Entity;
use crate::confluence_dc_comments as comments;
use crate::confluence_http::{offset_list, offset_paging, slice, v1_error};
use crate::confluence_pages::MAX_BODY;
use crate::confluence_v1::{api_of, max_limit};
use crate::confluence_v1_content::{not_found, page};
use crate::confluence_v1_json::{Expand, content_json};
use crate::confluence_write::{self as write, PageEdit, WriteError, storage_body};
use crate::http::{self, Params};
use crate::wiki::{Page, PageStatus, Wiki};
use crate::wiki_access::Op;
use crate::world::World;

fn respond(r: Result<Value, Response>) -> Response {
    match r {
        Ok(v) => http::json(StatusCode::OK, &v),
        Err(e) => e,
    }
}

fn bad(msg: impl Into<String>) -> Response {
    v1_error(StatusCode::BAD_REQUEST, msg.into())
}

fn over_paging(world: &World, caller: &Caller) -> bool {
    caller.host == Host::Dc && world.faults().faults.confluence.dc_over_paging
}

fn page_list(
    world: &World,
    caller: &Caller,
    wiki: &Wiki,
    pages: Vec<&Page>,
    params: &Params,
    path: &str,
    query: Option<&str>,
) -> Result<Value, Response> {
    let api = api_of(caller);
    let paging = offset_paging(params, 25, max_limit(api))?;
    let expand = Expand::parse(params.get("expand"));
    let (cut, total) = slice(pages, &paging);
    let json = cut
        .into_iter()
        .map(|p| {
            content_json(
                world,
                api,
                wiki,
                Entity::Page(p),
                None,
                &expand,
                &caller.account_id,
            )
        })
        .collect();
    Ok(Value::Object(offset_list(
        world,
        api,
        path,
        query,
        (json, total),
        &paging,
        over_paging(world, caller),
    )))
}

pub(crate) async fn list(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let wiki = world.wiki();
    respond((|| {
        let kind = params.get("type").unwrap_or("page");
        if !["page", "blogpost"].contains(&kind) {
            return Err(bad(format!("type must be page or blogpost, not {kind}")));
        }
        let status = params.get("status").unwrap_or("current");
        let key = params.get("spaceKey");
        let title = params.get("title");
        let pages: Vec<&Page> = wiki
            .pages
            .iter()
            .filter(|_| kind == "page")
            .filter(|p| p.status.as_str() == status || status == "any")
            .filter(|p| key.is_none_or(|k| wiki.space(p.space_id).is_some_and(|s| s.key == k)))
            .filter(|p| title.is_none_or(|t| p.current().title == t))
            .filter(|p| wiki.can_read(&caller.account_id, p))
            .collect();
        page_list(
            &world,
            &caller,
            &wiki,
            pages,
            &params,
            "/rest/api/content",
            query.as_deref(),
        )
    })())
}

pub(crate) async fn get_one(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let wiki = world.wiki();
    respond((|| {
        if wiki.page(id.trim().parse().unwrap_or(0)).is_none()
            && let Some(c) = comments::read(
                &world,
                &wiki,
                &caller,
                &id,
                &Expand::parse(params.get("expand")),
            )
        {
            return Ok(c);
        }
        let p = page(&wiki, &caller, &id)?;
        let version = match params.get("version") {
            None => None,
            Some(v) => Some(
                v.trim()
                    .parse::<u32>()
                    .ok()
                    .and_then(|n| p.version(n))
                    .ok_or_else(not_found)?,
            ),
        };
        let status = params.get("status").unwrap_or("current");
        let wanted: Vec<&str> = status.split(',').map(str::trim).collect();
        let is = if version.is_some_and(|v| v.number != p.current().number) {
            "historical"
        } else {
            p.status.as_str()
        };
        let listed = wanted.contains(&is) || wanted.contains(&"any");
        if !(listed || is == "historical" && version.is_some()) {
            return Err(not_found());
        }
        let expand = Expand::parse(params.get("expand"));
        Ok(content_json(
            &world,
            api_of(&caller),
            &wiki,
            Entity::Page(p),
            version,
            &expand,
            &caller.account_id,
        ))
    })())
}

/// Reads a v1 `ContentCreate` / `ContentUpdate` body.
fn edit_from(wiki: &Wiki, b: &Value, create: bool) -> Result<PageEdit, Response> {
    let kind = b.get("type").and_then(Value::as_str).unwrap_or("page");
    if kind != "page" {
        return Err(bad(format!("arkbridge sim stores pages only, not {kind}")));
    }
    let space_id = match b
        .get("space")
        .and_then(|s| s.get("key"))
        .and_then(Value::as_str)
    {
        Some(k) => Some(
            wiki.space_by_key(k)
                .map(|s| s.id)
                .ok_or_else(|| bad(format!("No space with key : {k}")))?,
        ),
        None if create => return Err(bad("space.key is required")),
        None => None,
    };
    let body = match b.get("body") {
        Some(v) => Some(storage_body(v).map_err(bad)?),
        None if create => None,
        None => return Err(bad("body is required")),
    };
    let version = match b.get("version") {
        Some(v) => Some((
            v.get("number")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad("version.number is required"))?,
            v.get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            v.get("minorEdit").and_then(Value::as_bool).unwrap_or(false),
        )),
        None if create => None,
        None => return Err(bad("version is required")),
    };
    let parent_id = b
        .get("ancestors")
        .and_then(Value::as_array)
        .and_then(|a| a.last())
        .and_then(|a| a.get("id"))
        .map(|id| match id {
            Value::String(s) => s
                .parse::<u64>()
                .map_err(|_| bad("ancestors[].id must be a content id")),
            Value::Number(n) => n
                .as_u64()
                .ok_or_else(|| bad("ancestors[].id must be a content id")),
            _ => Err(bad("ancestors[].id must be a content id")),
        })
        .transpose()?;
    Ok(PageEdit {
        space_id,
        title: b
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string(),
        body,
        parent_id,
        owner_id: None,
        version,
    })
}

fn json_body(raw: &Bytes) -> Result<Value, Response> {
    if raw.len() > MAX_BODY {
        return Err(v1_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The request is larger than the 5 MB limit.",
        ));
    }
    match serde_json::from_slice::<Value>(raw) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(bad("The request body is not a JSON object.")),
    }
}

fn full() -> Expand {
    Expand::parse(Some("body.storage,version,space,history,ancestors"))
}

pub(crate) async fn create(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    raw: Bytes,
) -> Response {
    let api = api_of(&caller);
    respond((|| {
        let b = json_body(&raw)?;
        if b.get("type").and_then(Value::as_str) == Some("comment") {
            return comments::create(&world, &caller, &b);
        }
        let mut wiki = world.wiki();
        let edit = edit_from(&wiki, &b, true)?;
        let id = write::create(&mut wiki, &caller.account_id, edit, false)
            .map_err(|e| e.into_response(api))?;
        let p = wiki.page(id).ok_or_else(not_found)?;
        Ok(content_json(
            &world,
            api,
            &wiki,
            Entity::Page(p),
            None,
            &full(),
            &caller.account_id,
        ))
    })())
}

pub(crate) async fn update(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Response {
    let api = api_of(&caller);
    respond((|| {
        let b = json_body(&raw)?;
        let race = crate::confluence_faults::edit_race(&world);
        let mut wiki = world.wiki();
        let p = page(&wiki, &caller, &id)?;
        let page_id = p.id;
        if p.status == PageStatus::Trashed
            && b.get("status").and_then(Value::as_str) != Some("current")
        {
            return Err(not_found());
        }
        let edit = edit_from(&wiki, &b, false)?;
        if race && p.status == PageStatus::Current {
            write::concurrent_edit(&mut wiki, page_id, &caller.account_id);
        }
        write::update_page(&mut wiki, page_id, &caller.account_id, edit)
            .map_err(|e: WriteError| e.into_response(api))?;
        let p = wiki.page(page_id).ok_or_else(not_found)?;
        Ok(content_json(
            &world,
            api,
            &wiki,
            Entity::Page(p),
            None,
            &full(),
            &caller.account_id,
        ))
    })())
}

pub(crate) async fn delete(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let mut wiki = world.wiki();
    let result = (|| {
        let p = page(&wiki, &caller, &id)?;
        if !wiki.can(&caller.account_id, p, Op::Delete) {
            return Err(crate::confluence_v1_content::forbidden(
                "delete this content",
            ));
        }
        let page_id = p.id;
        match (p.status, params.get("status")) {
            (PageStatus::Current, None | Some("current")) => write::trash_page(&mut wiki, page_id),
            (PageStatus::Trashed, Some("trashed")) => write::purge_page(&mut wiki, page_id),
            _ => return Err(not_found()),
        }
        Ok(())
    })();
    match result {
        Ok(()) => http::empty(StatusCode::NO_CONTENT),
        Err(r) => r,
    }
}

pub(crate) async fn child_pages(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let wiki = world.wiki();
    respond((|| {
        let parent = page(&wiki, &caller, &id)?.id;
        let mut pages: Vec<&Page> = wiki
            .pages
            .iter()
            .filter(|p| p.parent_id == Some(parent) && p.status == PageStatus::Current)
            .filter(|p| wiki.can_read(&caller.account_id, p))
            .collect();
        pages.sort_by_key(|p| (p.position, p.id));
        page_list(
            &world,
            &caller,
            &wiki,
            pages,
            &params,
            &format!("/rest/api/content/{parent}/child/page"),
            query.as_deref(),
        )
    })())
}

pub(crate) async fn child_comments(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    respond(comments::list(
        &world,
        &caller,
        &id,
        &params,
        query.as_deref(),
    ))
}
