//! The HTTP conventions of the simulated Confluence APIs: error envelopes (v2, v1/Data Center and
//! the API gateway's own), paging (v2 opaque cursors with a `Link` header and `_links.next`; v1
//! and Data Center `start`/`limit`/`size` with relative `next` links) and small helpers shared by
//! the route modules.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use serde_json::{Map, Value, json};

use crate::http::{self, Params};
use crate::world::World;

pub(crate) const V2: &str = "/wiki/api/v2";
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 250;
/// Context path of the Data Center flavour.
pub(crate) const DC_CONTEXT: &str = "/confluence";

/// Which API family a request belongs to (the error envelope differs).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Api {
    /// Cloud REST v2 (`/wiki/api/v2`).
    V2,
    /// Cloud REST v1 (`/wiki/rest/api`).
    V1,
    /// Data Center (`/confluence/rest/api`).
    Dc,
}

/// The error envelope of `api`: v2 `{"errors":[...]}`, v1/DC `{"statusCode", "data", "message"}`.
pub(crate) fn api_error(api: Api, status: StatusCode, code: &str, message: &str) -> Response {
    match api {
        Api::V2 => error(status, code, message),
        Api::V1 | Api::Dc => v1_error(status, message),
    }
}

/// The v2 error envelope.
pub(crate) fn error(status: StatusCode, code: &str, title: impl Into<String>) -> Response {
    http::json(
        status,
        &json!({"errors": [{"status": status.as_u16(), "code": code, "title": title.into(), "detail": null}]}),
    )
}

/// The v1 / Data Center error envelope.
pub(crate) fn v1_error(status: StatusCode, message: impl Into<String>) -> Response {
    let authorized = !matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
    http::json(
        status,
        &json!({
            "statusCode": status.as_u16(),
            "data": {
                "authorized": authorized,
                "valid": true,
                "allowedInReadOnlyMode": true,
                "errors": [],
                "successful": false,
            },
            "message": message.into(),
            "reason": status.canonical_reason().unwrap_or(""),
        }),
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

/// Parses a numeric id from a path or a parameter (v2 declares them int64).
pub(crate) fn parse_id(id: &str) -> Result<u64, Response> {
    id.trim()
        .parse::<u64>()
        .map_err(|_| bad_request(format!("The id [{id}] is not a valid id.")))
}

/// A boolean query parameter (`true`/`false`); `default` when absent.
pub(crate) fn flag(params: &Params, name: &str, default: bool) -> Result<bool, Response> {
    match params.get(name).map(str::trim) {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(bad_request(format!(
            "{name} must be true or false, not [{v}]"
        ))),
    }
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

/// The Data Center base with its context path.
pub(crate) fn dc_base(world: &World) -> String {
    format!("{}{DC_CONTEXT}", world.confluence_base)
}

/// Which slice of a list a request asks for.
pub(crate) struct Paging {
    pub(crate) offset: usize,
    pub(crate) limit: usize,
}

fn parse_limit(params: &Params, default: usize, max: usize) -> Result<usize, Response> {
    match params.get("limit") {
        None => Ok(default),
        Some(l) => match l.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n.min(max)),
            _ => Err(bad_request(format!(
                "limit must be a number between 1 and {max}, not [{l}]"
            ))),
        },
    }
}

/// v2: `limit` (1–250, default 25; larger values are capped) and the opaque `cursor`.
pub(crate) fn paging(params: &Params) -> Result<Paging, Response> {
    paging_with_default(params, DEFAULT_LIMIT)
}

pub(crate) fn paging_with_default(params: &Params, default: usize) -> Result<Paging, Response> {
    let limit = parse_limit(params, default, MAX_LIMIT)?;
    let offset = match params.get("cursor") {
        None => 0,
        Some(c) => decode_cursor(c).ok_or_else(|| bad_request("The cursor is invalid."))?,
    };
    Ok(Paging { offset, limit })
}

/// v1 and Data Center: `start` and `limit` (and, on Cloud v1, the `cursor` of a next link).
pub(crate) fn offset_paging(
    params: &Params,
    default: usize,
    max: usize,
) -> Result<Paging, Response> {
    let limit = parse_limit(params, default, max).map_err(|_| {
        v1_error(
            StatusCode::BAD_REQUEST,
            format!("limit must be a positive number of at most {max}"),
        )
    })?;
    let bad = || {
        v1_error(
            StatusCode::BAD_REQUEST,
            "start must be a non-negative number",
        )
    };
    let offset = match (params.get("cursor"), params.get("start")) {
        (Some(c), _) => decode_cursor(c)
            .ok_or_else(|| v1_error(StatusCode::BAD_REQUEST, "The cursor is invalid."))?,
        (None, Some(s)) => s.trim().parse::<usize>().map_err(|_| bad())?,
        (None, None) => 0,
    };
    Ok(Paging { offset, limit })
}

pub(crate) fn encode_cursor(offset: usize) -> String {
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

/// The query of a next link: the request's parameters without the paging ones, then `extra`.
pub(crate) fn next_query(query: Option<&str>, drop: &[&str], extra: &[(&str, String)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if !drop.iter().any(|d| k.eq_ignore_ascii_case(d)) {
            ser.append_pair(&k, &v);
        }
    }
    for (k, v) in extra {
        ser.append_pair(k, v);
    }
    ser.finish()
}

/// Cuts one page out of a list; returns it and the list's length.
pub(crate) fn slice<T>(items: Vec<T>, paging: &Paging) -> (Vec<T>, usize) {
    let total = items.len();
    (
        items
            .into_iter()
            .skip(paging.offset)
            .take(paging.limit)
            .collect(),
        total,
    )
}

/// A v2 list response: `{results, _links:{next?, base}}` and, when there is a next page, a
/// `Link` header. `path` is the API path (with `/wiki`); `query` the request's raw query.
pub(crate) fn list_response(
    world: &World,
    path: &str,
    query: Option<&str>,
    items: Vec<Value>,
    paging: &Paging,
) -> Response {
    let (results, total) = slice(items, paging);
    list_page(world, path, query, results, total, paging)
}

/// [`list_response`] for a page already cut out of a list of `total` items.
pub(crate) fn list_page(
    world: &World,
    path: &str,
    query: Option<&str>,
    results: Vec<Value>,
    total: usize,
    paging: &Paging,
) -> Response {
    let base = base(world);
    let mut links = Map::new();
    let next = (paging.offset + paging.limit < total).then(|| {
        let q = next_query(
            query,
            &["cursor", "limit"],
            &[
                ("limit", paging.limit.to_string()),
                ("cursor", encode_cursor(paging.offset + paging.limit)),
            ],
        );
        format!("{path}?{q}")
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

/// A v1 or Data Center list body for one page (`results`) of a list of `total` items: `{results,
/// start, limit, size, _links:{base, context, self, next?, prev?}}`. `path` is relative to the base (`/rest/api/...`). Cloud next links carry a
/// `cursor`, Data Center ones a `start`. With `over_page` (the Data Center quirk CONFSERVER-95396)
/// a next link is given on the last page too, as long as that page is not empty.
pub(crate) fn offset_list(
    world: &World,
    api: Api,
    path: &str,
    query: Option<&str>,
    (results, total): (Vec<Value>, usize),
    paging: &Paging,
    over_page: bool,
) -> Map<String, Value> {
    let size = results.len();
    let (base, context) = match api {
        Api::Dc => (dc_base(world), DC_CONTEXT),
        _ => (base(world), "/wiki"),
    };
    let page_link = |offset: usize| {
        let extra = match api {
            Api::Dc => vec![
                ("limit", paging.limit.to_string()),
                ("start", offset.to_string()),
            ],
            _ => vec![
                ("limit", paging.limit.to_string()),
                ("cursor", encode_cursor(offset)),
            ],
        };
        format!(
            "{path}?{}",
            next_query(query, &["cursor", "limit", "start", "next", "prev"], &extra)
        )
    };
    let mut links = Map::new();
    links.insert("base".into(), Value::String(base));
    links.insert("context".into(), Value::String(context.into()));
    let self_link = match query {
        Some(q) if !q.is_empty() => format!("{}{path}?{q}", links["base"].as_str().unwrap_or("")),
        _ => format!("{}{path}", links["base"].as_str().unwrap_or("")),
    };
    links.insert("self".into(), Value::String(self_link));
    if paging.offset + paging.limit < total || (over_page && size > 0) {
        links.insert(
            "next".into(),
            Value::String(page_link(paging.offset + paging.limit)),
        );
    }
    if paging.offset > 0 {
        links.insert(
            "prev".into(),
            Value::String(page_link(paging.offset.saturating_sub(paging.limit))),
        );
    }
    let mut out = Map::new();
    out.insert("results".into(), Value::Array(results));
    out.insert("start".into(), json!(paging.offset));
    out.insert("limit".into(), json!(paging.limit));
    out.insert("size".into(), json!(size));
    out.insert("_links".into(), Value::Object(links));
    out
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

    #[test]
    fn next_query_keeps_filters_and_replaces_paging() {
        let q = next_query(
            Some("space-id=1&cursor=x&limit=5"),
            &["cursor", "limit"],
            &[("limit", "5".into())],
        );
        assert_eq!(q, "space-id=1&limit=5");
    }
}
