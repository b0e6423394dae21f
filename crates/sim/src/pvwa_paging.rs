//! Paging of PVWA lists: `offset`/`limit` (limits capped at [`MAX_LIMIT`]) and the
//! `{value, count, nextLink}` answer, whose relative `nextLink` keeps the list's parameters so
//! that following it pages through the same list. `count` is the total, and the last page has
//! no `nextLink`.

use axum::http::StatusCode;
use axum::response::Response;
use percent_encoding::utf8_percent_encode;
use serde_json::{Map, Value, json};

use crate::http::{self, Params};
use crate::pvwa_accounts::numeric;
use crate::pvwa_safes::URL_ID;

/// The largest page any PVWA list returns.
pub(crate) const MAX_LIMIT: usize = 1000;

/// Paging parameters (`offset`, `limit`) with the given default limit.
pub(crate) fn paging(params: &Params, default: usize) -> Result<(usize, usize), Response> {
    let offset = numeric(params, "offset")?.unwrap_or(0);
    let limit = numeric(params, "limit")?
        .filter(|l| *l > 0)
        .unwrap_or(default)
        .min(MAX_LIMIT);
    Ok((offset, limit))
}

/// The relative `nextLink` of a list: `path?offset=..&limit=..` followed by the request's
/// parameters named in `keep` (spelled as in `keep`, values URL-encoded), so that following it
/// pages through the same list.
pub(crate) fn next_link(
    path: &str,
    offset: usize,
    limit: usize,
    params: &Params,
    keep: &[&str],
) -> String {
    let mut link = format!("{path}?offset={offset}&limit={limit}");
    for name in keep {
        if let Some(v) = params.get(name).filter(|v| !v.is_empty()) {
            link.push_str(&format!("&{name}={}", utf8_percent_encode(v, URL_ID)));
        }
    }
    link
}

/// `{value, count, nextLink}` for one page of `items`; the nextLink goes to `path` and keeps
/// the parameters named in `keep`.
pub(crate) fn page(
    items: Vec<Value>,
    (offset, limit): (usize, usize),
    path: &str,
    params: &Params,
    keep: &[&str],
) -> Response {
    let total = items.len();
    let mut body = Map::new();
    let value: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    body.insert("value".into(), Value::Array(value));
    body.insert("count".into(), json!(total));
    if offset.saturating_add(limit) < total {
        let link = next_link(path, offset + limit, limit, params, keep);
        body.insert("nextLink".into(), Value::String(link));
    }
    http::json(StatusCode::OK, &Value::Object(body))
}
