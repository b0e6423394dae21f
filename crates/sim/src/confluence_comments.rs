//! Confluence Cloud v2 footer comments: create, get and list (per page), with the same JSON
//! shapes, storage bodies and cursor paging as the pages in [`crate::confluence_pages`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::confluence::{
    API, bad_request, base, caller, list_response, not_found, paging, parse_id, storage_json,
    title_slug, version_json,
};
use crate::confluence_pages::{body_format, id_field, storage_body};
use crate::http::{self, LooseBody, Params};
use crate::wiki::{self, Comment, Version, Wiki};
use crate::world::World;

fn comment_json(world: &World, wiki: &Wiki, c: &Comment, body: bool, single: bool) -> Value {
    let v = c.current();
    let page = wiki.page(c.page_id);
    let key = page
        .and_then(|p| wiki.space(p.space_id))
        .map(|s| s.key.as_str())
        .unwrap_or("");
    let page_title = page.map(|p| p.current().title.as_str()).unwrap_or("");
    let mut links = json!({
        "webui": format!(
            "/spaces/{key}/pages/{}/{}?focusedCommentId={}#comment-{}",
            c.page_id, title_slug(page_title), c.id, c.id
        ),
    });
    if single && let Some(l) = links.as_object_mut() {
        l.insert("base".into(), Value::String(base(world)));
    }
    json!({
        "id": c.id.to_string(),
        "status": "current",
        "title": format!("Re: {page_title}"),
        "pageId": c.page_id.to_string(),
        "version": version_json(v),
        "body": if body { storage_json(&v.body) } else { json!({}) },
        "_links": links,
    })
}

pub(crate) async fn create_comment(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let author = match caller(&world, &headers) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(body) = LooseBody::parse(&raw) else {
        return bad_request("The request body is not a JSON object.");
    };
    for other in [
        "blogPostId",
        "parentCommentId",
        "attachmentId",
        "customContentId",
    ] {
        if body.get(other).is_some_and(|v| !v.is_null()) {
            return bad_request(format!(
                "{other} is not supported by arkbridge sim; comment on a page with pageId"
            ));
        }
    }
    let Some(page_id) = id_field(&body, "pageId") else {
        return bad_request("pageId is required");
    };
    let page_id = match parse_id(&page_id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let value = match storage_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut wiki = world.wiki();
    if wiki.page(page_id).is_none() {
        return not_found();
    }
    let id = wiki.next_content_id();
    wiki.comments.push(Comment {
        id,
        page_id,
        versions: vec![Version {
            number: 1,
            created_at: wiki::timestamp(),
            message: String::new(),
            minor_edit: false,
            author_id: author,
            title: String::new(),
            body: value,
        }],
    });
    tracing::debug!(
        page = page_id,
        comment = id,
        "Confluence: footer comment created"
    );
    let comment = &wiki.comments[wiki.comments.len() - 1];
    let out = comment_json(&world, &wiki, comment, true, true);
    let mut resp = http::json(StatusCode::CREATED, &out);
    if let Ok(loc) = HeaderValue::from_str(&format!(
        "{}{API}/footer-comments/{id}",
        world.confluence_base
    )) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    resp
}

pub(crate) async fn get_comment(
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
    let wiki = world.wiki();
    match wiki.comments.iter().find(|c| c.id == id) {
        Some(c) => http::json(StatusCode::OK, &comment_json(&world, &wiki, c, body, true)),
        None => not_found(),
    }
}

pub(crate) async fn list_comments(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(r) = caller(&world, &headers) {
        return r;
    }
    let params = Params::parse(query.as_deref());
    let (page_id, body, paging) = match (parse_id(&id), body_format(&params), paging(&params)) {
        (Ok(i), Ok(b), Ok(p)) => (i, b, p),
        (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
    };
    let items: Vec<Value> = {
        let wiki = world.wiki();
        if wiki.page(page_id).is_none() {
            return not_found();
        }
        let mut found: Vec<&Comment> = wiki
            .comments
            .iter()
            .filter(|c| c.page_id == page_id)
            .collect();
        if params.get("sort").is_some_and(|s| s.starts_with('-')) {
            found.reverse();
        }
        found
            .into_iter()
            .map(|c| comment_json(&world, &wiki, c, body, false))
            .collect()
    };
    list_response(
        &world,
        &format!("{API}/pages/{page_id}/footer-comments"),
        query.as_deref(),
        items,
        &paging,
    )
}
