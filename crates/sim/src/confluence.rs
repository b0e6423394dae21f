//! Confluence Cloud REST v2 (`/wiki/api/v2/...`): authentication, error envelope, JSON shapes,
//! cursor paging and the space endpoints. Pages and footer comments are in
//! [`crate::confluence_pages`].
//!
//! Callers authenticate with HTTP basic `email:api_token`; ids are numeric strings; single items
//! carry `_links.base`; lists page with an opaque cursor, a `Link` header and `_links.next`
//! (relative, with the `/wiki` prefix).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Map, Value, json};

use crate::confluence_comments as comments;
use crate::confluence_pages as pages;
use crate::http::{self, Params};
use crate::wiki::{Space, Version};
use crate::world::World;

pub(crate) const API: &str = "/wiki/api/v2";
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 250;

pub(crate) fn router(world: Arc<World>) -> Router {
    Router::new()
        .route("/wiki/api/v2/pages", get(pages::list))
        .route(
            "/wiki/api/v2/pages/{id}",
            get(pages::get_one).put(pages::update),
        )
        .route(
            "/wiki/api/v2/pages/{id}/footer-comments",
            get(comments::list_comments),
        )
        .route(
            "/wiki/api/v2/footer-comments",
            post(comments::create_comment),
        )
        .route(
            "/wiki/api/v2/footer-comments/{id}",
            get(comments::get_comment),
        )
        .route("/wiki/api/v2/spaces", get(list_spaces))
        .route("/wiki/api/v2/spaces/{id}", get(get_space))
        .route("/wiki/api/v2/users-bulk", post(users_bulk))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "NOT_FOUND", "Not Found") })
        .with_state(world)
}

/// The v2 error envelope.
pub(crate) fn error(status: StatusCode, code: &str, title: impl Into<String>) -> Response {
    http::json(
        status,
        &json!({"errors": [{"status": status.as_u16(), "code": code, "title": title.into(), "detail": null}]}),
    )
}

pub(crate) fn bad_request(title: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETER", title)
}

pub(crate) fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "Cannot find content with the given id, or you do not have permission to view it.",
    )
}

/// The account id of the basic-auth caller.
pub(crate) fn caller(world: &World, headers: &HeaderMap) -> Result<String, Response> {
    let unauthorized = || error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Unauthorized");
    let raw = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unauthorized)?;
    let encoded = match raw.trim().split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("Basic") => rest.trim(),
        _ => return Err(unauthorized()),
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(zeroize::Zeroizing::new)
        .ok_or_else(unauthorized)?;
    let (email, token) = decoded.split_once(':').ok_or_else(unauthorized)?;
    world
        .wiki()
        .authenticate(email, token)
        .ok_or_else(unauthorized)
}

/// Parses a numeric id from a path.
pub(crate) fn parse_id(id: &str) -> Result<u64, Response> {
    id.parse::<u64>()
        .map_err(|_| bad_request(format!("The id [{id}] is not a valid content id.")))
}

pub(crate) fn version_json(v: &Version) -> Value {
    json!({
        "createdAt": v.created_at,
        "message": v.message,
        "number": v.number,
        "minorEdit": v.minor_edit,
        "authorId": v.author_id,
    })
}

pub(crate) fn storage_json(value: &str) -> Value {
    json!({"storage": {"representation": "storage", "value": value}})
}

/// Confluence's tiny link: the id's little-endian bytes, base64url without padding.
pub(crate) fn tiny_ui(id: u64) -> String {
    let bytes = id.to_le_bytes();
    let len = bytes.iter().rposition(|b| *b != 0).map_or(1, |p| p + 1);
    format!(
        "/x/{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..len])
    )
}

pub(crate) fn title_slug(title: &str) -> String {
    url::form_urlencoded::byte_serialize(title.as_bytes()).collect()
}

/// The site base with `/wiki`, as `_links.base` carries it.
pub(crate) fn base(world: &World) -> String {
    format!("{}/wiki", world.confluence_base)
}

/// Which slice of a list a request asks for.
pub(crate) struct Paging {
    pub(crate) offset: usize,
    pub(crate) limit: usize,
}

/// Reads `limit` (1–250, default 25) and the opaque `cursor`.
pub(crate) fn paging(params: &Params) -> Result<Paging, Response> {
    let limit = match params.get("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => match l.trim().parse::<usize>() {
            Ok(n) if n >= 1 => n.min(MAX_LIMIT),
            _ => return Err(bad_request("limit must be a number between 1 and 250")),
        },
    };
    let offset = match params.get("cursor") {
        None => 0,
        Some(c) => decode_cursor(c).ok_or_else(|| bad_request("The cursor is invalid."))?,
    };
    Ok(Paging { offset, limit })
}

fn encode_cursor(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("arkbridge-sim:o={offset}"))
}

fn decode_cursor(c: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c.trim())
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("arkbridge-sim:o=")?
        .parse()
        .ok()
}

/// Builds a list response: `{results, _links:{next?, base}}` and, when there is a next page, a
/// `Link` header. `path` is the API path (with `/wiki`); `query` the request's raw query.
pub(crate) fn list_response(
    world: &World,
    path: &str,
    query: Option<&str>,
    items: Vec<Value>,
    paging: &Paging,
) -> Response {
    let total = items.len();
    let results: Vec<Value> = items
        .into_iter()
        .skip(paging.offset)
        .take(paging.limit)
        .collect();
    let base = base(world);
    let mut links = Map::new();
    let next = (paging.offset + paging.limit < total).then(|| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if !k.eq_ignore_ascii_case("cursor") && !k.eq_ignore_ascii_case("limit") {
                ser.append_pair(&k, &v);
            }
        }
        ser.append_pair("limit", &paging.limit.to_string());
        ser.append_pair("cursor", &encode_cursor(paging.offset + paging.limit));
        format!("{path}?{}", ser.finish())
    });
    if let Some(n) = &next {
        links.insert("next".into(), Value::String(n.clone()));
    }
    links.insert("base".into(), Value::String(base.clone()));
    let mut resp = http::json(
        StatusCode::OK,
        &json!({"results": results, "_links": Value::Object(links)}),
    );
    if let Some(n) = next
        && let Ok(v) =
            HeaderValue::from_str(&format!("<{n}>; rel=\"next\", <{base}>; rel=\"base\""))
    {
        resp.headers_mut().insert(header::LINK, v);
    }
    resp
}

fn space_json(world: &World, s: &Space, params: &Params, single: bool) -> Value {
    let mut v = json!({
        "id": s.id.to_string(),
        "key": s.key,
        "name": s.name,
        "type": "global",
        "status": "current",
        "authorId": s.author_id,
        "createdAt": s.created_at,
        "homepageId": null,
        "icon": null,
        "_links": {"webui": format!("/spaces/{}", s.key)},
    });
    if let Some(fmt) = params.get("description-format")
        && let Some(obj) = v.as_object_mut()
    {
        let rep = if fmt.eq_ignore_ascii_case("view") {
            "view"
        } else {
            "plain"
        };
        obj.insert(
            "description".into(),
            json!({ rep: {"value": s.description, "representation": rep} }),
        );
    }
    if single && let Some(links) = v.get_mut("_links").and_then(Value::as_object_mut) {
        links.insert("base".into(), Value::String(base(world)));
    }
    v
}

async fn list_spaces(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(r) = caller(&world, &headers) {
        return r;
    }
    let params = Params::parse(query.as_deref());
    let paging = match paging(&params) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let keys = params.list("keys");
    let ids = params.list("ids");
    let items: Vec<Value> = {
        let wiki = world.wiki();
        let mut spaces: Vec<&Space> = wiki
            .spaces
            .iter()
            .filter(|s| keys.is_empty() || keys.iter().any(|k| k == &s.key))
            .filter(|s| ids.is_empty() || ids.iter().any(|i| i == &s.id.to_string()))
            .collect();
        spaces.sort_by_key(|s| s.id);
        spaces
            .into_iter()
            .map(|s| space_json(&world, s, &params, false))
            .collect()
    };
    list_response(
        &world,
        &format!("{API}/spaces"),
        query.as_deref(),
        items,
        &paging,
    )
}

async fn get_space(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(r) = caller(&world, &headers) {
        return r;
    }
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let params = Params::parse(query.as_deref());
    let wiki = world.wiki();
    match wiki.space(id) {
        Some(s) => http::json(StatusCode::OK, &space_json(&world, s, &params, true)),
        None => not_found(),
    }
}

/// `POST /users-bulk` with `{"accountIds": [...]}`: the users among them that exist.
async fn users_bulk(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Response {
    if let Err(r) = caller(&world, &headers) {
        return r;
    }
    let ids: Vec<String> = match serde_json::from_slice::<Value>(&raw)
        .ok()
        .and_then(|v| v.get("accountIds").and_then(Value::as_array).cloned())
    {
        Some(a) if !a.is_empty() && a.len() <= 250 => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => return bad_request("accountIds must hold between 1 and 250 account ids"),
    };
    let wiki = world.wiki();
    let results: Vec<Value> = wiki
        .users
        .iter()
        .filter(|u| ids.contains(&u.account_id))
        .map(|u| {
            json!({
                "accountId": u.account_id,
                "accountType": "atlassian",
                "accountStatus": "active",
                "email": u.email,
                "displayName": u.display_name,
                "publicName": u.display_name,
                "timeZone": "Etc/UTC",
                "isExternalCollaborator": false,
                "personalSpaceId": null,
                "profilePicture": {
                    "path": "/wiki/aa-avatar/default.png",
                    "width": 48,
                    "height": 48,
                    "isDefault": true
                },
            })
        })
        .collect();
    http::json(StatusCode::OK, &json!({ "results": results }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(75)), Some(75));
        assert_eq!(decode_cursor("not-a-cursor"), None);
    }

    #[test]
    fn tiny_links_look_like_confluence() {
        assert_eq!(tiny_ui(1), "/x/AQ");
        assert!(tiny_ui(294_913).starts_with("/x/"));
    }
}
