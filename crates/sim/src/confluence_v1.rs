//! CQL search, served by Cloud REST v1 and Data Center alike: `GET /rest/api/search`
//! (`SearchPageResponseSearchResult`: `content` with a title, excerpt, url and container per
//! result) and `GET /rest/api/content/search` (`ContentArray`, with `expand`). A query that does
//! not parse, or that leaves the supported subset, is a 400 in the v1 envelope
//! (`"Could not parse cql : ..."`), never a guessed answer.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Extension, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::confluence_auth::{Caller, Host};
use crate::confluence_cql::{self, CqlError};
use crate::confluence_cql_eval::{self as eval, Entity};
use crate::confluence_http::{Api, offset_list, offset_paging, v1_error};
use crate::confluence_v1_json::{Expand, content_json, space_json};
use crate::http::{self, Params};
use crate::world::World;

/// The v1 API of a caller's door.
pub(crate) fn api_of(caller: &Caller) -> Api {
    if caller.host == Host::Dc {
        Api::Dc
    } else {
        Api::V1
    }
}

/// The largest `limit` of a v1 list (Cloud) or a Data Center list.
pub(crate) fn max_limit(api: Api) -> usize {
    if api == Api::Dc { 200 } else { 250 }
}

fn cql_error(cql: &str, e: CqlError) -> Response {
    match e {
        CqlError::Parse => v1_error(
            StatusCode::BAD_REQUEST,
            format!("Could not parse cql : {cql}"),
        ),
        CqlError::Unsupported(msg) => v1_error(
            StatusCode::BAD_REQUEST,
            format!("Could not parse cql : {cql} ({msg})"),
        ),
    }
}

/// Runs the `cql` parameter for the caller.
fn run<'a>(
    wiki: &'a crate::wiki::Wiki,
    caller: &'a Caller,
    params: &Params,
) -> Result<(String, Vec<Entity<'a>>), Response> {
    let cql = params
        .get("cql")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| v1_error(StatusCode::BAD_REQUEST, "cql is a required parameter"))?
        .to_string();
    let query = confluence_cql::parse(&cql).map_err(|e| cql_error(&cql, e))?;
    let hits = eval::search(wiki, &caller.account_id, &query).map_err(|e| cql_error(&cql, e))?;
    Ok((cql, hits))
}

fn excerpt(e: &Entity<'_>, mode: Option<&str>) -> String {
    if mode == Some("none") {
        return String::new();
    }
    let body = match e {
        Entity::Page(p) => p.current().body.clone(),
        Entity::Comment(c, _) => c.current().body.clone(),
        Entity::Attachment(..) => String::new(),
    };
    let text: String = eval::plain_text(&body)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    text.chars().take(200).collect()
}

pub(crate) async fn search(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let api = api_of(&caller);
    let started = Instant::now();
    let result = (|| {
        let paging = offset_paging(&params, 25, max_limit(api))?;
        let expand = Expand::parse(params.get("expand"));
        let wiki = world.wiki();
        let (cql, hits) = run(&wiki, &caller, &params)?;
        let total = hits.len();
        let items: Vec<Value> = hits
            .iter()
            .skip(paging.offset)
            .take(paging.limit)
            .map(|e| {
                let space = wiki.space(e.page().space_id);
                let content = content_json(&world, api, &wiki, *e, None, &expand, &caller.account_id);
                let url = content["_links"]["webui"].as_str().unwrap_or("").to_string();
                json!({
                    "content": content,
                    "title": e.title(),
                    "excerpt": excerpt(e, params.get("excerpt")),
                    "url": url,
                    "resultGlobalContainer": {
                        "title": space.map_or("", |s| s.name.as_str()),
                        "displayUrl": space.map_or_else(String::new, |s| format!("/spaces/{}", s.key)),
                    },
                    "breadcrumbs": [],
                    "entityType": "content",
                    "iconCssClass": format!("aui-icon content-type-{}", e.kind()),
                    "lastModified": e.modified(),
                    "friendlyLastModified": e.modified(),
                    "score": 0.0,
                })
            })
            .collect();
        let mut body = offset_list(
            &world,
            api,
            "/rest/api/search",
            query.as_deref(),
            (items, total),
            &paging,
            false,
        );
        body.insert("totalSize".into(), json!(total));
        body.insert("cqlQuery".into(), json!(cql));
        body.insert(
            "searchDuration".into(),
            json!(u64::try_from(started.elapsed().as_millis()).unwrap_or(0)),
        );
        if let Some(s) = params
            .get("cqlcontext")
            .and_then(|c| serde_json::from_str::<Value>(c).ok())
            && let Some(key) = s.get("spaceKey").and_then(Value::as_str)
            && let Some(space) = wiki.space_by_key(key)
        {
            body.insert("_context".into(), space_json(&world, api, space));
        }
        Ok::<_, Response>(Value::Object(body))
    })();
    match result {
        Ok(v) => http::json(StatusCode::OK, &v),
        Err(r) => r,
    }
}

pub(crate) async fn content_search(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let api = api_of(&caller);
    let result = (|| {
        let paging = offset_paging(&params, 25, max_limit(api))?;
        let expand = Expand::parse(params.get("expand"));
        let wiki = world.wiki();
        let (_, hits) = run(&wiki, &caller, &params)?;
        let total = hits.len();
        let items: Vec<Value> = hits
            .iter()
            .skip(paging.offset)
            .take(paging.limit)
            .map(|e| content_json(&world, api, &wiki, *e, None, &expand, &caller.account_id))
            .collect();
        let body = offset_list(
            &world,
            api,
            "/rest/api/content/search",
            query.as_deref(),
            (items, total),
            &paging,
            false,
        );
        Ok::<_, Response>(Value::Object(body))
    })();
    match result {
        Ok(v) => http::json(StatusCode::OK, &v),
        Err(r) => r,
    }
}
