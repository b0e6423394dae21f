//! Comments the REST v1 way (Data Center, and the Cloud site for basic-auth callers): a comment
//! is content of type `comment` whose `container` is its page. `POST content` with
//! `{"type": "comment", "container": {"id", "type": "page"}, "body": {"storage": ...}}` (and
//! `ancestors: [{id}]` for a reply) creates one; `GET content/{id}/child/comment` lists a page's
//! comments (`depth=all` for the replies too); `GET content/{id}` reads one.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use crate::confluence_auth::Caller;
use crate::confluence_cql_eval::Entity;
use crate::confluence_http::{offset_list, offset_paging, slice, v1_error};
use crate::confluence_v1::{api_of, max_limit};
use crate::confluence_v1_content::{forbidden, not_found, page};
use crate::confluence_v1_json::{Expand, content_json};
use crate::confluence_write::storage_body;
use crate::http::Params;
use crate::wiki::{self, Comment, Version, Wiki};
use crate::wiki_access::Op;
use crate::world::World;

fn bad(msg: impl Into<String>) -> Response {
    v1_error(StatusCode::BAD_REQUEST, msg.into())
}

fn id_of(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// Creates the comment a v1 `ContentCreate` body of type `comment` describes.
pub(crate) fn create(world: &World, caller: &Caller, b: &Value) -> Result<Value, Response> {
    let api = api_of(caller);
    let container = id_of(b.get("container").and_then(|c| c.get("id")))
        .ok_or_else(|| bad("container.id must name the page the comment is on"))?;
    let value = storage_body(b.get("body").ok_or_else(|| bad("body is required"))?).map_err(bad)?;
    let parent = match b
        .get("ancestors")
        .and_then(Value::as_array)
        .and_then(|a| a.last())
    {
        Some(a) => {
            Some(id_of(a.get("id")).ok_or_else(|| bad("ancestors[].id must be a comment id"))?)
        }
        None => None,
    };
    let mut wiki = world.wiki();
    let p = page(&wiki, caller, &container.to_string())?;
    if !wiki.can(&caller.account_id, p, Op::Comment) {
        return Err(forbidden("comment on this page"));
    }
    let page_id = p.id;
    if let Some(pid) = parent
        && wiki.comment(pid).is_none_or(|c| c.page_id != page_id)
    {
        return Err(bad(format!(
            "The parent comment [{pid}] is not on this page."
        )));
    }
    let id = wiki.next_content_id();
    wiki.comments.push(Comment {
        id,
        page_id,
        parent_comment_id: parent,
        versions: vec![Version {
            number: 1,
            created_at: wiki::timestamp(),
            message: String::new(),
            minor_edit: false,
            author_id: caller.account_id.clone(),
            title: String::new(),
            body: value,
        }],
    });
    tracing::debug!(
        page = page_id,
        comment = id,
        "Confluence: comment created (v1)"
    );
    let c = &wiki.comments[wiki.comments.len() - 1];
    let p = wiki.page(page_id).ok_or_else(not_found)?;
    let expand = Expand::parse(Some("body.storage,version,container"));
    Ok(content_json(
        world,
        api,
        &wiki,
        Entity::Comment(c, p),
        None,
        &expand,
        &caller.account_id,
    ))
}

/// The comment `id` as v1 content, if its page is visible to the caller.
pub(crate) fn read(
    world: &World,
    wiki: &Wiki,
    caller: &Caller,
    id: &str,
    expand: &Expand,
) -> Option<Value> {
    let c = wiki.comment(id.trim().parse().ok()?)?;
    let p = wiki
        .page(c.page_id)
        .filter(|p| wiki.can_read(&caller.account_id, p))?;
    Some(content_json(
        world,
        api_of(caller),
        wiki,
        Entity::Comment(c, p),
        None,
        expand,
        &caller.account_id,
    ))
}

/// `GET content/{id}/child/comment`: the page's comments, oldest first.
pub(crate) fn list(
    world: &World,
    caller: &Caller,
    id: &str,
    params: &Params,
    query: Option<&str>,
) -> Result<Value, Response> {
    let api = api_of(caller);
    let paging = offset_paging(params, 25, max_limit(api))?;
    let expand = Expand::parse(params.get("expand"));
    let all = params
        .get("depth")
        .is_some_and(|d| d.eq_ignore_ascii_case("all"));
    let wiki = world.wiki();
    let p = page(&wiki, caller, id)?;
    let found: Vec<&Comment> = wiki
        .comments
        .iter()
        .filter(|c| c.page_id == p.id && (all || c.parent_comment_id.is_none()))
        .collect();
    let (cut, total) = slice(found, &paging);
    let json = cut
        .into_iter()
        .map(|c| {
            content_json(
                world,
                api,
                &wiki,
                Entity::Comment(c, p),
                None,
                &expand,
                &caller.account_id,
            )
        })
        .collect();
    let path = format!("/rest/api/content/{}/child/comment", p.id);
    Ok(Value::Object(offset_list(
        world,
        api,
        &path,
        query,
        (json, total),
        &paging,
        false,
    )))
}
