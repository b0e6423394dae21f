//! Confluence Cloud v2 pages: list, get (a historic version with `?version=`), create, update
//! (version + 1, else 409 CONFLICT with Confluence's message; the edit-race fault makes someone
//! else's edit land first), and delete (trash, then purge). Reads the caller may not see are 404;
//! writes the caller may not make are 403. Storage bodies Confluence could not parse are 400
//! "Error parsing xhtml", requests over 5 MB are 413.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use crate::confluence_auth::Caller;
use crate::confluence_faults;
use crate::confluence_http::{
    V2, bad_request, error, flag, list_page, not_found, paging, parse_id, slice,
};
use crate::confluence_json::{body_format, page_includes, page_json};
use crate::confluence_write::{self as write, PageEdit};
use crate::http::{self, Params};
use crate::wiki::{Page, PageStatus, Wiki};
use crate::wiki_access::Op;
use crate::world::World;

/// The largest request body Confluence accepts (413 above).
pub(crate) const MAX_BODY: usize = 5 * 1024 * 1024;

/// Sorts pages by a v2 `PageSortOrder` (`id` when absent).
pub(crate) fn sort_pages(pages: &mut [&Page], sort: Option<&str>) -> Result<(), Response> {
    let modified = |p: &Page| p.current().created_at.clone();
    match sort.unwrap_or("id") {
        "id" => pages.sort_by_key(|p| p.id),
        "-id" => pages.sort_by_key(|p| std::cmp::Reverse(p.id)),
        "created-date" => pages.sort_by(|a, b| (&a.created_at, a.id).cmp(&(&b.created_at, b.id))),
        "-created-date" => pages.sort_by(|a, b| (&b.created_at, b.id).cmp(&(&a.created_at, a.id))),
        "modified-date" => pages.sort_by_key(|p| (modified(p), p.id)),
        "-modified-date" => pages.sort_by_key(|p| std::cmp::Reverse((modified(p), p.id))),
        "title" => pages.sort_by(|a, b| a.current().title.cmp(&b.current().title)),
        "-title" => pages.sort_by(|a, b| b.current().title.cmp(&a.current().title)),
        other => {
            return Err(bad_request(format!(
                "Provided value {{{other}}} for 'sort' is not the correct type. Expected one of \
                 id, -id, created-date, -created-date, modified-date, -modified-date, title, -title"
            )));
        }
    }
    Ok(())
}

/// The statuses a list asks for (`current` and `archived` by default).
pub(crate) fn statuses(
    params: &Params,
    allowed: &[&str],
    default: &[&str],
) -> Result<Vec<String>, Response> {
    let list = params.list("status");
    if list.is_empty() {
        return Ok(default.iter().map(|s| s.to_string()).collect());
    }
    for s in &list {
        if !allowed.contains(&s.as_str()) {
            return Err(bad_request(format!(
                "Provided value {{{s}}} for 'status' is not one of {}",
                allowed.join(", ")
            )));
        }
    }
    Ok(list)
}

/// The pages `caller` may see that pass `keep`, with the v2 list filters (`status`, `title`,
/// `sort`) applied.
pub(crate) fn select<'a>(
    wiki: &'a Wiki,
    caller: &str,
    params: &Params,
    keep: impl Fn(&Page) -> bool,
) -> Result<Vec<&'a Page>, Response> {
    let wanted = statuses(
        params,
        &["current", "archived", "deleted", "trashed"],
        &["current", "archived"],
    )?;
    let title = params.get("title");
    let mut found: Vec<&Page> = wiki
        .pages
        .iter()
        .filter(|p| wanted.iter().any(|s| s == p.status.as_str()))
        .filter(|p| title.is_none_or(|t| p.current().title == t))
        .filter(|p| keep(p))
        .filter(|p| wiki.can_read(caller, p))
        .collect();
    sort_pages(&mut found, params.get("sort"))?;
    Ok(found)
}

/// One page of a page list as a v2 list response (JSON is built for that page only).
pub(crate) fn page_list(
    world: &World,
    wiki: &Wiki,
    pages: Vec<&Page>,
    params: &Params,
    path: &str,
    query: Option<&str>,
) -> Result<Response, Response> {
    let paging = paging(params)?;
    let body = body_format(params, false)?;
    let (cut, total) = slice(pages, &paging);
    let items = cut
        .into_iter()
        .map(|p| page_json(world, wiki, p, p.current(), body, false))
        .collect();
    Ok(list_page(world, path, query, items, total, &paging))
}

/// Parses an int64 list parameter (`id`, `space-id`).
pub(crate) fn id_list(params: &Params, name: &str, max: usize) -> Result<Vec<u64>, Response> {
    let raw = params.list(name);
    if raw.len() > max {
        return Err(bad_request(format!("{name} takes at most {max} values")));
    }
    raw.iter()
        .map(|v| {
            v.parse::<i64>()
                .map(|n| u64::try_from(n).unwrap_or(u64::MAX))
                .map_err(|_| bad_request(format!("{name} [{v}] is not a number")))
        })
        .collect()
}

pub(crate) async fn list(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let result = (|| {
        paging(&params)?;
        body_format(&params, false)?;
        let space_ids = id_list(&params, "space-id", 100)?;
        let ids = id_list(&params, "id", 250)?;
        let wiki = world.wiki();
        let pages = select(&wiki, &caller.account_id, &params, |p| {
            (space_ids.is_empty() || space_ids.contains(&p.space_id))
                && (ids.is_empty() || ids.contains(&p.id))
        })?;
        page_list(
            &world,
            &wiki,
            pages,
            &params,
            &format!("{V2}/pages"),
            query.as_deref(),
        )
    })();
    result.unwrap_or_else(|r| r)
}

pub(crate) async fn get_one(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    match get_inner(&world, &caller, &id, &params) {
        Ok(v) => http::json(StatusCode::OK, &v),
        Err(r) => r,
    }
}

fn get_inner(world: &World, caller: &Caller, id: &str, params: &Params) -> Result<Value, Response> {
    let id = parse_id(id)?;
    let body = body_format(params, true)?;
    let wanted = match params.get("version") {
        None => None,
        Some(v) => Some(
            v.trim()
                .parse::<u32>()
                .map_err(|_| bad_request("version must be a positive number"))?,
        ),
    };
    let statuses = statuses(
        params,
        &[
            "current",
            "archived",
            "trashed",
            "deleted",
            "historical",
            "draft",
        ],
        &["current", "archived", "trashed", "historical"],
    )?;
    let get_draft = flag(params, "get-draft", false)?;
    let wiki = world.wiki();
    let page = wiki
        .page(id)
        .filter(|p| wiki.can_read(&caller.account_id, p))
        .ok_or_else(not_found)?;
    if get_draft
        || !statuses
            .iter()
            .any(|s| s == page.status.as_str() || (s == "historical" && wanted.is_some()))
    {
        return Err(not_found());
    }
    let version = match wanted {
        None => page.current(),
        Some(n) => page.version(n).ok_or_else(not_found)?,
    };
    let mut out = page_json(world, &wiki, page, version, body, true);
    page_includes(&wiki, page, &caller.account_id, params, &mut out)?;
    Ok(out)
}

fn forbidden(what: &str) -> Response {
    error(
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
        format!("You do not have permission to {what}."),
    )
}

pub(crate) fn too_large() -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "REQUEST_ENTITY_TOO_LARGE",
        "The request is larger than the 5 MB limit.",
    )
}

fn json_body(raw: &Bytes) -> Result<Value, Response> {
    if raw.len() > MAX_BODY {
        return Err(too_large());
    }
    match serde_json::from_slice::<Value>(raw) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(bad_request("The request body is not a JSON object.")),
    }
}

pub(crate) async fn create(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
    raw: Bytes,
) -> Response {
    let params = Params::parse(query.as_deref());
    let result = (|| {
        let body = json_body(&raw)?;
        let root_level = flag(&params, "root-level", false)?;
        flag(&params, "embedded", false)?;
        if flag(&params, "private", false)? {
            return Err(bad_request(
                "private pages are not supported by arkbridge sim",
            ));
        }
        let edit = PageEdit::from_json(&body, true)?;
        let mut wiki = world.wiki();
        let id = write::create_page(&mut wiki, &caller.account_id, edit, root_level)?;
        let page = wiki.page(id).ok_or_else(not_found)?;
        Ok(page_json(&world, &wiki, page, page.current(), true, true))
    })();
    match result {
        Ok(v) => http::json(StatusCode::OK, &v),
        Err(r) => r,
    }
}

pub(crate) async fn update(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Response {
    let result = (|| {
        let id = parse_id(&id)?;
        let body = json_body(&raw)?;
        let given = match body.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(bad_request("id is required")),
        };
        if given != id.to_string() {
            return Err(bad_request(
                "id in the body must match the page id in the path",
            ));
        }
        let edit = PageEdit::from_json(&body, false)?;
        let race = confluence_faults::edit_race(&world);
        let mut wiki = world.wiki();
        let page = wiki
            .page(id)
            .filter(|p| wiki.can_read(&caller.account_id, p))
            .ok_or_else(not_found)?;
        if !wiki.can(&caller.account_id, page, Op::Update) {
            return Err(forbidden("edit this page"));
        }
        if race {
            write::concurrent_edit(&mut wiki, id, &caller.account_id);
        }
        write::update_page(&mut wiki, id, &caller.account_id, edit).map_err(|e| e.v2())?;
        let page = wiki.page(id).ok_or_else(not_found)?;
        Ok(page_json(&world, &wiki, page, page.current(), true, true))
    })();
    match result {
        Ok(v) => http::json(StatusCode::OK, &v),
        Err(r) => r,
    }
}

pub(crate) async fn delete(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let result = (|| {
        let id = parse_id(&id)?;
        let purge = flag(&params, "purge", false)?;
        let draft = flag(&params, "draft", false)?;
        let mut wiki = world.wiki();
        let page = wiki
            .page(id)
            .filter(|p| wiki.can_read(&caller.account_id, p))
            .ok_or_else(not_found)?;
        if draft {
            // The simulator keeps no drafts, so there is none to delete.
            return Err(not_found());
        }
        if !wiki.can(&caller.account_id, page, Op::Delete) {
            return Err(forbidden("delete this page"));
        }
        match (page.status, purge) {
            (PageStatus::Current, false) => write::trash_page(&mut wiki, id),
            (PageStatus::Trashed, true) => write::purge_page(&mut wiki, id),
            (PageStatus::Current, true) => {
                return Err(bad_request(
                    "A page must be in the trash before it can be purged.",
                ));
            }
            (PageStatus::Trashed, false) => return Err(not_found()),
        }
        Ok(())
    })();
    match result {
        Ok(()) => http::empty(StatusCode::NO_CONTENT),
        Err(r) => r,
    }
}

/// `{"status":409,...}` for a stale version, shared with the comment and property writes.
pub(crate) fn conflict(current: u32, given: u64, what: &str) -> Response {
    error(
        StatusCode::CONFLICT,
        "CONFLICT",
        format!(
            "Version must be incremented when updating a {what}. Current Version: [{current}]. \
             Provided version: [{given}]"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_sort_is_refused() {
        let mut pages: Vec<&Page> = Vec::new();
        assert!(sort_pages(&mut pages, Some("colour")).is_err());
        assert!(sort_pages(&mut pages, Some("-title")).is_ok());
    }

    #[test]
    fn stale_versions_are_conflicts() {
        assert_eq!(conflict(3, 3, "page").status(), StatusCode::CONFLICT);
    }
}
