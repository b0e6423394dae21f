//! Data Center (and Cloud site) v1 reads beside content: `content/scan` (every current page of
//! a space, cursor paging, as Data Center 7.18+ offers for bulk crawls), `space`, `space/{key}`
//! and `space/{key}/permissions` (`[{id, subject: {type, identifier}, operation: {key,
//! target}}]`: users by username on Data Center, by account id on Cloud; groups by name).

use std::sync::Arc;

use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::confluence_auth::Caller;
use crate::confluence_cql_eval::Entity;
use crate::confluence_http::{Api, encode_cursor, offset_list, offset_paging, slice, v1_error};
use crate::confluence_v1::{api_of, max_limit};
use crate::confluence_v1_json::{Expand, content_json, space_json};
use crate::http::{self, Params};
use crate::wiki::{Page, PageStatus, Principal};
use crate::wiki_access::Subject;
use crate::world::World;

fn respond(r: Result<Value, Response>) -> Response {
    match r {
        Ok(v) => http::json(StatusCode::OK, &v),
        Err(e) => e,
    }
}

/// `GET content/scan?spaceKey=&limit=&cursor=`: every current page, in id order, with a cursor.
pub(crate) async fn scan(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let api = api_of(&caller);
    let wiki = world.wiki();
    respond((|| {
        let paging = offset_paging(&params, 25, 1000)?;
        let expand = Expand::parse(params.get("expand"));
        let key = params.get("spaceKey");
        let pages: Vec<&Page> = wiki
            .pages
            .iter()
            .filter(|p| p.status == PageStatus::Current)
            .filter(|p| key.is_none_or(|k| wiki.space(p.space_id).is_some_and(|s| s.key == k)))
            .filter(|p| wiki.can_read(&caller.account_id, p))
            .collect();
        let (cut, total) = slice(pages, &paging);
        let size = cut.len();
        let results: Vec<Value> = cut
            .into_iter()
            .map(|p| {
                content_json(
                    &world,
                    api,
                    &wiki,
                    Entity::Page(p),
                    None,
                    &expand,
                    &caller.account_id,
                )
            })
            .collect();
        let base = crate::confluence_http::dc_base(&world);
        let mut links = json!({"base": base, "context": crate::confluence_http::DC_CONTEXT});
        let mut out = json!({"results": results, "limit": paging.limit, "size": size, "cursor": encode_cursor(paging.offset)});
        if paging.offset + paging.limit < total {
            let next = encode_cursor(paging.offset + paging.limit);
            let q = crate::confluence_http::next_query(
                query.as_deref(),
                &["cursor", "limit"],
                &[
                    ("limit", paging.limit.to_string()),
                    ("cursor", next.clone()),
                ],
            );
            links["next"] = json!(format!("/rest/api/content/scan?{q}"));
            out["nextCursor"] = json!(next);
        }
        out["_links"] = links;
        Ok(out)
    })())
}

pub(crate) async fn spaces(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let api = api_of(&caller);
    let wiki = world.wiki();
    respond((|| {
        let paging = offset_paging(&params, 25, max_limit(api))?;
        let keys = params.list("spaceKey");
        let found: Vec<Value> = wiki
            .visible_spaces(&caller.account_id)
            .filter(|s| keys.is_empty() || keys.contains(&s.key))
            .map(|s| space_json(&world, api, s))
            .collect();
        let (cut, total) = slice(found, &paging);
        Ok(Value::Object(offset_list(
            &world,
            api,
            "/rest/api/space",
            query.as_deref(),
            (cut, total),
            &paging,
            false,
        )))
    })())
}

pub(crate) async fn space(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> Response {
    let api = api_of(&caller);
    let wiki = world.wiki();
    respond(
        wiki.space_by_key(&key)
            .filter(|s| wiki.can_view_space(Subject::User(&caller.account_id), s))
            .map(|s| space_json(&world, api, s))
            .ok_or_else(|| v1_error(StatusCode::NOT_FOUND, format!("No space with key : {key}"))),
    )
}

/// `GET space/{key}/permissions`: `[{id, subject: {type, identifier}, operation: {key, target}}]`
/// (users by username on Data Center, by account id on Cloud; groups by name).
pub(crate) async fn space_permissions(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> Response {
    let api = api_of(&caller);
    let wiki = world.wiki();
    respond((|| {
        let s = wiki
            .space_by_key(&key)
            .filter(|s| wiki.can_view_space(Subject::User(&caller.account_id), s))
            .ok_or_else(|| v1_error(StatusCode::NOT_FOUND, format!("No space with key : {key}")))?;
        let list: Vec<Value> = s
            .permissions
            .iter()
            .map(|p| {
                let (kind, ident) = match &p.principal {
                    Principal::User(a) => (
                        "user",
                        wiki.user_by_account(a)
                            .map(|u| if api == Api::Dc { u.username.clone() } else { u.account_id.clone() })
                            .unwrap_or_else(|| a.clone()),
                    ),
                    Principal::Group(g) => ("group", wiki.group(g).map_or_else(|| g.clone(), |g| g.name.clone())),
                };
                json!({"id": p.id, "subject": {"type": kind, "identifier": ident}, "operation": {"key": p.operation, "target": p.target}})
            })
            .collect();
        Ok(Value::Array(list))
    })())
}
