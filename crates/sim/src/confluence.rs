//! The simulated Confluence: one HTTPS server that is at once a Cloud site, the Atlassian API
//! gateway in front of it, and a Data Center instance, all over the same content.
//!
//! | door | prefix | APIs |
//! |---|---|---|
//! | Cloud site | `/wiki` | REST v2 `/wiki/api/v2`, REST v1 `/wiki/rest/api` |
//! | API gateway | `/ex/confluence/{cloudId}/wiki` | the same, with scoped tokens, OAuth and the 410s |
//! | Data Center | `/confluence` (context path) | `/confluence/rest/api` |
//!
//! `/_edge/tenant_info` gives the cloud id. Every request goes through [`front`] before routing:
//! it strips the gateway prefix, applies the Confluence faults, authenticates the caller for its
//! door and, at the gateway, checks the token's scopes and answers removed v1 paths with 410.
//! Handlers then read the [`Caller`] extension.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;

use crate::confluence_auth::{self as auth, Caller, Host};
use crate::confluence_comment_writes as comment_writes;
use crate::confluence_comments as comments;
use crate::confluence_dc as dc;
use crate::confluence_dc_spaces as dc_spaces;
use crate::confluence_faults;
use crate::confluence_http::{Api, DC_CONTEXT, error, v1_error};
use crate::confluence_page_parts as parts;
use crate::confluence_pages as pages;
use crate::confluence_properties as props;
use crate::confluence_scopes as scopes;
use crate::confluence_spaces as spaces;
use crate::confluence_v1 as v1;
use crate::confluence_v1_content as v1c;
use crate::confluence_v1_users as users;
use crate::http;
use crate::world::World;

fn v2_routes() -> Router<Arc<World>> {
    Router::new()
        .route("/wiki/api/v2/pages", get(pages::list).post(pages::create))
        .route(
            "/wiki/api/v2/pages/{id}",
            get(pages::get_one).put(pages::update).delete(pages::delete),
        )
        .route("/wiki/api/v2/pages/{id}/versions", get(parts::versions))
        .route(
            "/wiki/api/v2/pages/{id}/versions/{n}",
            get(parts::version_details),
        )
        .route("/wiki/api/v2/pages/{id}/labels", get(parts::labels))
        .route("/wiki/api/v2/pages/{id}/children", get(parts::children))
        .route("/wiki/api/v2/pages/{id}/ancestors", get(parts::ancestors))
        .route(
            "/wiki/api/v2/pages/{id}/attachments",
            get(parts::attachments),
        )
        .route(
            "/wiki/api/v2/pages/{id}/footer-comments",
            get(comments::list_for_page),
        )
        .route(
            "/wiki/api/v2/pages/{id}/properties",
            get(props::list).post(props::create),
        )
        .route(
            "/wiki/api/v2/pages/{id}/properties/{pid}",
            get(props::get_one).put(props::update).delete(props::delete),
        )
        .route("/wiki/api/v2/spaces", get(spaces::list))
        .route("/wiki/api/v2/spaces/{id}", get(spaces::get_one))
        .route("/wiki/api/v2/spaces/{id}/pages", get(spaces::pages))
        .route(
            "/wiki/api/v2/spaces/{id}/permissions",
            get(spaces::permissions),
        )
        .route(
            "/wiki/api/v2/footer-comments",
            get(comments::list_all).post(comment_writes::create),
        )
        .route(
            "/wiki/api/v2/footer-comments/{id}",
            get(comments::get_one)
                .put(comment_writes::update)
                .delete(comment_writes::delete),
        )
        .route(
            "/wiki/api/v2/footer-comments/{id}/children",
            get(comments::children),
        )
        .route("/wiki/api/v2/users-bulk", post(spaces::users_bulk))
        .route("/wiki/api/v2/labels", get(spaces::labels))
        .route("/wiki/api/v2/labels/{id}/pages", get(spaces::label_pages))
}

fn v1_routes() -> Router<Arc<World>> {
    Router::new()
        .route("/wiki/rest/api/search", get(v1::search))
        .route("/wiki/rest/api/content/search", get(v1::content_search))
        .route("/wiki/rest/api/content", get(dc::list).post(dc::create))
        .route(
            "/wiki/rest/api/content/{id}",
            get(dc::get_one).put(dc::update).delete(dc::delete),
        )
        .route(
            "/wiki/rest/api/content/{id}/child/comment",
            get(dc::child_comments),
        )
        .route("/wiki/rest/api/user", get(users::user))
        .route("/wiki/rest/api/user/current", get(users::current))
        .route("/wiki/rest/api/user/memberof", get(users::member_of))
        .route("/wiki/rest/api/group", get(users::groups))
        .route("/wiki/rest/api/group/by-id", get(users::group_by_id))
        .route(
            "/wiki/rest/api/group/{gid}/membersByGroupId",
            get(users::members_by_group_id),
        )
        .merge(v1c::routes("/wiki/rest/api"))
}

fn dc_routes() -> Router<Arc<World>> {
    let p = |s: &str| format!("{DC_CONTEXT}/rest/api{s}");
    Router::new()
        .route(&p("/content"), get(dc::list).post(dc::create))
        .route(
            &p("/content/{id}"),
            get(dc::get_one).put(dc::update).delete(dc::delete),
        )
        .route(&p("/content/search"), get(v1::content_search))
        .route(&p("/content/scan"), get(dc_spaces::scan))
        .route(&p("/content/{id}/child/page"), get(dc::child_pages))
        .route(&p("/content/{id}/child/comment"), get(dc::child_comments))
        .route(&p("/search"), get(v1::search))
        .route(&p("/space"), get(dc_spaces::spaces))
        .route(&p("/space/{key}"), get(dc_spaces::space))
        .route(
            &p("/space/{key}/permissions"),
            get(dc_spaces::space_permissions),
        )
        .route(&p("/user"), get(users::user))
        .route(&p("/user/current"), get(users::current))
        .route(&p("/user/memberof"), get(users::member_of))
        .route(&p("/group"), get(users::groups))
        .route(&p("/group/{name}/member"), get(users::dc_group_members))
        .merge(v1c::routes(&p("")))
}

pub(crate) fn router(world: Arc<World>) -> Router {
    let inner = Router::new()
        .merge(v2_routes())
        .merge(v1_routes())
        .merge(dc_routes())
        .route("/_edge/tenant_info", get(tenant_info))
        .fallback(not_found_fallback)
        .with_state(world.clone());
    let front = middleware::from_fn_with_state(world, front);
    Router::new().fallback_service(tower::Layer::layer(&front, inner))
}

async fn tenant_info(State(world): State<Arc<World>>) -> Response {
    let id = world.wiki().cloud_id.clone();
    http::json(StatusCode::OK, &json!({ "cloudId": id }))
}

async fn not_found_fallback(uri: Uri) -> Response {
    if uri.path().starts_with("/wiki/api/v2") {
        error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "No API endpoint at this path.",
        )
    } else {
        v1_error(
            StatusCode::NOT_FOUND,
            "null for uri: ".to_string() + uri.path(),
        )
    }
}

fn api_of(path: &str, host: Host) -> Api {
    if host == Host::Dc {
        Api::Dc
    } else if path.starts_with("/wiki/api/v2") {
        Api::V2
    } else {
        Api::V1
    }
}

/// Routes a request to its door, applies faults and authentication (see the module docs).
async fn front(State(world): State<Arc<World>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path == "/_edge/tenant_info" {
        return next.run(req).await;
    }
    let host = if let Some(rest) = path.strip_prefix("/ex/confluence/") {
        let (cloud_id, below) = rest.split_once('/').unwrap_or((rest, ""));
        let below = format!("/{below}");
        if cloud_id != world.wiki().cloud_id || !below.starts_with("/wiki/") {
            return http::json(
                StatusCode::NOT_FOUND,
                &json!({"code": 404, "message": "Not Found"}),
            );
        }
        let pq = match req.uri().query() {
            Some(q) => format!("{below}?{q}"),
            None => below,
        };
        match pq.parse::<Uri>() {
            Ok(uri) => *req.uri_mut() = uri,
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST_PARAMETER",
                    "Bad path",
                );
            }
        }
        Host::Gateway
    } else if path.starts_with("/wiki/") {
        Host::Site
    } else if path.starts_with(&format!("{DC_CONTEXT}/")) {
        Host::Dc
    } else {
        return not_found_fallback(req.uri().clone()).await;
    };
    let below_wiki = req
        .uri()
        .path()
        .strip_prefix("/wiki")
        .unwrap_or("")
        .to_string();
    let api = api_of(req.uri().path(), host);
    let verdict = confluence_faults::gate(&world, api).await;
    if let Some(r) = verdict.refuse {
        return r;
    }
    let who = auth::authenticate(&world.wiki(), host, req.headers());
    let Some((account_id, granted)) = who else {
        return auth::unauthorized(host, api);
    };
    if host == Host::Gateway {
        match scopes::required_scopes(req.method(), &below_wiki) {
            None if api == Api::V1 => return auth::gone(),
            Some(needed) if !scopes::scopes_allow(granted.as_deref(), needed) => {
                return auth::scope_mismatch();
            }
            _ => {}
        }
    }
    req.extensions_mut().insert(Caller { account_id, host });
    let mut resp = next.run(req).await;
    for (k, v) in verdict.headers {
        resp.headers_mut().insert(k, v);
    }
    resp
}
