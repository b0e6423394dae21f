//! Confluence Cloud v2 footer comments on pages, the reads: get one (any of its versions), the
//! page's root comments, all comments, and a comment's replies. A comment is visible exactly
//! when its page is. Writes are in [`crate::confluence_comment_writes`].

use std::sync::Arc;

use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::confluence_auth::Caller;
use crate::confluence_http::{
    V2, bad_request, base, flag, list_response, not_found, paging, parse_id,
};
use crate::confluence_json::{body_format, optional_field, storage_json, version_json, webui};
use crate::http::{self, Params};
use crate::wiki::{Comment, Version, Wiki};
use crate::world::World;

/// Which comment model a response uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Model {
    /// `FooterCommentModel` (single reads and `/footer-comments`).
    Footer,
    /// `PageCommentModel` (`/pages/{id}/footer-comments`).
    Page,
    /// `ChildrenCommentModel` (`/footer-comments/{id}/children`).
    Child,
}

pub(crate) fn respond(r: Result<Response, Response>) -> Response {
    r.unwrap_or_else(|e| e)
}

pub(crate) fn comment_json(
    world: &World,
    wiki: &Wiki,
    c: &Comment,
    v: &Version,
    body: bool,
    model: Model,
    single: bool,
) -> Value {
    let page = wiki.page(c.page_id);
    let page_title = page.map_or("", |p| p.current().title.as_str());
    let page_link = page.map_or_else(String::new, |p| webui(wiki, p, page_title));
    let mut links = json!({
        "webui": format!("{page_link}?focusedCommentId={}#comment-{}", c.id, c.id),
    });
    if single && let Some(l) = links.as_object_mut() {
        l.insert("base".into(), Value::String(base(world)));
    }
    let mut out = json!({
        "id": c.id.to_string(),
        "status": if v.number == c.current().number { "current" } else { "historical" },
        "title": format!("Re: {page_title}"),
        "version": version_json(v),
        "body": if body { storage_json(&v.body) } else { json!({}) },
        "_links": links,
    });
    if let Some(o) = out.as_object_mut() {
        if model != Model::Child {
            o.insert("pageId".into(), Value::String(c.page_id.to_string()));
        }
        if model != Model::Page
            && let Some(parent) = c.parent_comment_id
        {
            o.insert("parentCommentId".into(), Value::String(parent.to_string()));
        }
    }
    out
}

/// The comment `id` if the caller may see its page.
pub(crate) fn visible<'a>(
    wiki: &'a Wiki,
    caller: &Caller,
    id: &str,
) -> Result<&'a Comment, Response> {
    let id = parse_id(id)?;
    wiki.comment(id)
        .filter(|c| {
            wiki.page(c.page_id)
                .is_some_and(|p| wiki.can_read(&caller.account_id, p))
        })
        .ok_or_else(not_found)
}

fn sort_comments(found: &mut [&Comment], sort: Option<&str>) -> Result<(), Response> {
    match sort {
        None | Some("created-date") => found.sort_by_key(|c| c.id),
        Some("-created-date") => found.sort_by_key(|c| std::cmp::Reverse(c.id)),
        Some("modified-date") => found
            .sort_by(|a, b| (&a.current().created_at, a.id).cmp(&(&b.current().created_at, b.id))),
        Some("-modified-date") => found
            .sort_by(|a, b| (&b.current().created_at, b.id).cmp(&(&a.current().created_at, a.id))),
        Some(s) => {
            return Err(bad_request(format!(
                "sort [{s}] is not a comment sort order"
            )));
        }
    }
    Ok(())
}

fn list_of(
    world: &World,
    caller: &Caller,
    params: &Params,
    keep: impl Fn(&Comment) -> bool,
    model: Model,
) -> Result<Vec<Value>, Response> {
    let body = body_format(params, false)?;
    let wiki = world.wiki();
    let mut found: Vec<&Comment> = wiki
        .comments
        .iter()
        .filter(|c| keep(c))
        .filter(|c| {
            wiki.page(c.page_id)
                .is_some_and(|p| wiki.can_read(&caller.account_id, p))
        })
        .collect();
    sort_comments(&mut found, params.get("sort"))?;
    Ok(found
        .into_iter()
        .map(|c| comment_json(world, &wiki, c, c.current(), body, model, false))
        .collect())
}

pub(crate) async fn list_for_page(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    respond((|| {
        let paging = paging(&params)?;
        let page_id = parse_id(&id)?;
        crate::confluence_pages::statuses(
            &params,
            &[
                "current",
                "archived",
                "trashed",
                "deleted",
                "historical",
                "draft",
            ],
            &["current"],
        )?;
        {
            let wiki = world.wiki();
            if !wiki
                .page(page_id)
                .is_some_and(|p| wiki.can_read(&caller.account_id, p))
            {
                return Err(not_found());
            }
        }
        let items = list_of(
            &world,
            &caller,
            &params,
            |c| c.page_id == page_id && c.parent_comment_id.is_none(),
            Model::Page,
        )?;
        Ok(list_response(
            &world,
            &format!("{V2}/pages/{page_id}/footer-comments"),
            query.as_deref(),
            items,
            &paging,
        ))
    })())
}

pub(crate) async fn list_all(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    respond((|| {
        let paging = paging(&params)?;
        let items = list_of(&world, &caller, &params, |_| true, Model::Footer)?;
        Ok(list_response(
            &world,
            &format!("{V2}/footer-comments"),
            query.as_deref(),
            items,
            &paging,
        ))
    })())
}

pub(crate) async fn children(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    respond((|| {
        let paging = paging(&params)?;
        let parent = {
            let wiki = world.wiki();
            visible(&wiki, &caller, &id)?.id
        };
        let items = list_of(
            &world,
            &caller,
            &params,
            |c| c.parent_comment_id == Some(parent),
            Model::Child,
        )?;
        Ok(list_response(
            &world,
            &format!("{V2}/footer-comments/{parent}/children"),
            query.as_deref(),
            items,
            &paging,
        ))
    })())
}

pub(crate) async fn get_one(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    respond((|| {
        let body = body_format(&params, true)?;
        let wanted = match params.get("version") {
            None => None,
            Some(v) => Some(
                v.trim()
                    .parse::<u32>()
                    .map_err(|_| bad_request("version must be a positive number"))?,
            ),
        };
        let wiki = world.wiki();
        let c = visible(&wiki, &caller, &id)?;
        let v = match wanted {
            None => c.current(),
            Some(n) => c
                .versions
                .iter()
                .find(|v| v.number == n)
                .ok_or_else(not_found)?,
        };
        let mut out = comment_json(&world, &wiki, c, v, body, Model::Footer, true);
        let link = |part: &str| format!("{V2}/footer-comments/{}/{part}", c.id);
        if let Some(o) = out.as_object_mut() {
            if flag(&params, "include-properties", false)? {
                o.insert(
                    "properties".into(),
                    optional_field(Vec::new(), link("properties")),
                );
            }
            if flag(&params, "include-operations", false)? {
                o.insert(
                    "operations".into(),
                    optional_field(
                        vec![json!({"operation": "read", "targetType": "comment"})],
                        link("operations"),
                    ),
                );
            }
            if flag(&params, "include-likes", false)? {
                o.insert(
                    "likes".into(),
                    optional_field(Vec::new(), link("likes/users")),
                );
            }
            if flag(&params, "include-versions", false)? {
                let items = c.versions.iter().rev().map(version_json).collect();
                o.insert("versions".into(), optional_field(items, link("versions")));
            }
            if !flag(&params, "include-version", true)? {
                o.remove("version");
            }
        }
        Ok(http::json(StatusCode::OK, &out))
    })())
}
