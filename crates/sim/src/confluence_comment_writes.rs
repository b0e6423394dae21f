//! Confluence Cloud v2 footer comment writes: create (201 with `Location`; a top-level comment on
//! a page or a reply to a comment), update (their own version counter, 409 when stale; the
//! author or an editor of the page) and delete (204, with the replies; the author or someone who
//! may delete on the page).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use crate::confluence_auth::Caller;
use crate::confluence_comments::{Model, comment_json, respond, visible};
use crate::confluence_http::{V2, bad_request, error, not_found, parse_id};
use crate::confluence_pages::{MAX_BODY, conflict, too_large};
use crate::confluence_write::storage_body;
use crate::http;
use crate::wiki::{self, Comment, Version};
use crate::wiki_access::Op;
use crate::world::World;

fn json_body(raw: &Bytes) -> Result<Value, Response> {
    if raw.len() > MAX_BODY {
        return Err(too_large());
    }
    match serde_json::from_slice::<Value>(raw) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(bad_request("The request body is not a JSON object.")),
    }
}

fn id_field(b: &Value, key: &str) -> Option<String> {
    match b.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) async fn create(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    raw: Bytes,
) -> Response {
    respond((|| {
        let b = json_body(&raw)?;
        for other in ["blogPostId", "attachmentId", "customContentId"] {
            if let Some(id) = id_field(&b, other) {
                // The simulated site has no blog posts, attachments comments or custom content
                // to comment on, so the target cannot be found.
                parse_id(&id)?;
                return Err(not_found());
            }
        }
        let (page_id, parent) = match (id_field(&b, "pageId"), id_field(&b, "parentCommentId")) {
            (Some(p), None) => (parse_id(&p)?, None),
            (None, Some(c)) => {
                let wiki = world.wiki();
                let parent = visible(&wiki, &caller, &c)?;
                (parent.page_id, Some(parent.id))
            }
            _ => {
                return Err(bad_request(
                    "Give exactly one of pageId or parentCommentId.",
                ));
            }
        };
        let value = storage_body(
            b.get("body")
                .ok_or_else(|| bad_request("body is required"))?,
        )
        .map_err(bad_request)?;
        let mut wiki = world.wiki();
        let page = wiki
            .page(page_id)
            .filter(|p| wiki.can_read(&caller.account_id, p))
            .ok_or_else(not_found)?;
        if !wiki.can(&caller.account_id, page, Op::Comment) {
            return Err(error(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "You do not have permission to comment on this page.",
            ));
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
            "Confluence: footer comment created"
        );
        let c = &wiki.comments[wiki.comments.len() - 1];
        let out = comment_json(&world, &wiki, c, c.current(), true, Model::Footer, true);
        let mut resp = http::json(StatusCode::CREATED, &out);
        if let Ok(loc) = HeaderValue::from_str(&format!(
            "{}{V2}/footer-comments/{id}",
            world.confluence_base
        )) {
            resp.headers_mut().insert(header::LOCATION, loc);
        }
        Ok(resp)
    })())
}

pub(crate) async fn update(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Response {
    respond((|| {
        let b = json_body(&raw)?;
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
        let value = storage_body(
            b.get("body")
                .ok_or_else(|| bad_request("body is required"))?,
        )
        .map_err(bad_request)?;
        let mut wiki = world.wiki();
        let c = visible(&wiki, &caller, &id)?;
        let allowed = c.current().author_id == caller.account_id
            || wiki
                .page(c.page_id)
                .is_some_and(|p| wiki.can(&caller.account_id, p, Op::Update));
        if !allowed {
            return Err(error(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "You do not have permission to edit this comment.",
            ));
        }
        let current = c.current().number;
        if number != u64::from(current) + 1 {
            return Err(conflict(current, number, "comment"));
        }
        let cid = c.id;
        let idx = wiki
            .comments
            .iter()
            .position(|c| c.id == cid)
            .ok_or_else(not_found)?;
        wiki.comments[idx].versions.push(Version {
            number: current + 1,
            created_at: wiki::timestamp(),
            message,
            minor_edit: false,
            author_id: caller.account_id.clone(),
            title: String::new(),
            body: value,
        });
        let c = &wiki.comments[idx];
        Ok(http::json(
            StatusCode::OK,
            &comment_json(&world, &wiki, c, c.current(), true, Model::Footer, false),
        ))
    })())
}

pub(crate) async fn delete(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    respond((|| {
        let mut wiki = world.wiki();
        let c = visible(&wiki, &caller, &id)?;
        let allowed = c.current().author_id == caller.account_id
            || wiki
                .page(c.page_id)
                .is_some_and(|p| wiki.can(&caller.account_id, p, Op::Delete));
        if !allowed {
            return Err(error(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "You do not have permission to delete this comment.",
            ));
        }
        let cid = c.id;
        wiki.comments
            .retain(|c| c.id != cid && c.parent_comment_id != Some(cid));
        Ok(http::empty(StatusCode::NO_CONTENT))
    })())
}
