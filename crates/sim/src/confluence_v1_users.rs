//! Users and groups over REST v1 (Cloud: by `accountId` and group id) and Data Center (by
//! `username` / `key` and group name): `user`, `user/current`, `user/memberof`, `group`,
//! `group/by-id`, `group/{groupId}/membersByGroupId` and Data Center's `group/{name}/member`.

use std::sync::Arc;

use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::confluence_auth::Caller;
use crate::confluence_http::{Api, offset_list, offset_paging, slice, v1_error};
use crate::confluence_v1::api_of;
use crate::confluence_v1_json::user_json;
use crate::http::{self, Params};
use crate::wiki::{Group, Wiki, WikiUser};
use crate::world::World;

fn respond(r: Result<Value, Response>) -> Response {
    match r {
        Ok(v) => http::json(StatusCode::OK, &v),
        Err(e) => e,
    }
}

fn not_found(what: &str) -> Response {
    v1_error(
        StatusCode::NOT_FOUND,
        format!("No {what} found with the given identifier."),
    )
}

/// The user a v1 `user` lookup names: `accountId` on Cloud, `username` or `key` on Data Center.
fn lookup<'a>(wiki: &'a Wiki, api: Api, params: &Params) -> Result<&'a WikiUser, Response> {
    if api == Api::Dc {
        if let Some(name) = params.get("username") {
            return wiki
                .users
                .iter()
                .find(|u| u.username.eq_ignore_ascii_case(name))
                .ok_or_else(|| not_found("user"));
        }
        if let Some(key) = params.get("key") {
            return wiki
                .users
                .iter()
                .find(|u| u.user_key == key)
                .ok_or_else(|| not_found("user"));
        }
        return Err(v1_error(
            StatusCode::BAD_REQUEST,
            "username or key is required",
        ));
    }
    if params.get("username").is_some() || params.get("key").is_some() {
        return Err(v1_error(
            StatusCode::BAD_REQUEST,
            "The username and key parameters are not supported in Confluence Cloud; use accountId.",
        ));
    }
    let id = params
        .get("accountId")
        .ok_or_else(|| v1_error(StatusCode::BAD_REQUEST, "accountId is required"))?;
    wiki.user_by_account(id).ok_or_else(|| not_found("user"))
}

pub(crate) async fn user(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let api = api_of(&caller);
    let wiki = world.wiki();
    respond(lookup(&wiki, api, &params).map(|u| user_json(&world, api, u)))
}

pub(crate) async fn current(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let api = api_of(&caller);
    let wiki = world.wiki();
    respond(
        wiki.user_by_account(&caller.account_id)
            .map(|u| user_json(&world, api, u))
            .ok_or_else(|| not_found("user")),
    )
}

fn group_json(world: &World, api: Api, g: &Group) -> Value {
    let base = crate::confluence_http::base(world);
    if api == Api::Dc {
        return json!({
            "type": "group",
            "name": g.name,
            "_links": {"self": format!("{}/rest/api/group/{}", crate::confluence_http::dc_base(world), g.name)},
        });
    }
    json!({
        "type": "group",
        "name": g.name,
        "id": g.id,
        "_links": {"self": format!("{base}/rest/api/group/by-id?id={}", g.id)},
    })
}

fn group_list(
    world: &World,
    api: Api,
    path: &str,
    query: Option<&str>,
    groups: Vec<&Group>,
    params: &Params,
) -> Result<Value, Response> {
    let paging = offset_paging(params, 200, if api == Api::Dc { 200 } else { 1000 })?;
    let items: Vec<Value> = groups
        .into_iter()
        .map(|g| group_json(world, api, g))
        .collect();
    let (cut, total) = slice(items, &paging);
    Ok(Value::Object(offset_list(
        world,
        api,
        path,
        query,
        (cut, total),
        &paging,
        false,
    )))
}

pub(crate) async fn member_of(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let api = api_of(&caller);
    let wiki = world.wiki();
    respond((|| {
        let u = lookup(&wiki, api, &params)?;
        let groups = wiki
            .groups
            .iter()
            .filter(|g| g.members.contains(&u.account_id))
            .collect();
        group_list(
            &world,
            api,
            "/rest/api/user/memberof",
            query.as_deref(),
            groups,
            &params,
        )
    })())
}

pub(crate) async fn groups(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let api = api_of(&caller);
    let wiki = world.wiki();
    respond(group_list(
        &world,
        api,
        "/rest/api/group",
        query.as_deref(),
        wiki.groups.iter().collect(),
        &params,
    ))
}

pub(crate) async fn group_by_id(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let api = api_of(&caller);
    let wiki = world.wiki();
    respond((|| {
        let id = params
            .get("id")
            .ok_or_else(|| v1_error(StatusCode::BAD_REQUEST, "id is required"))?;
        let g = wiki.group(id).ok_or_else(|| not_found("group"))?;
        Ok(group_json(&world, api, g))
    })())
}

fn members(
    world: &World,
    api: Api,
    wiki: &Wiki,
    g: &Group,
    path: &str,
    query: Option<&str>,
    params: &Params,
) -> Result<Value, Response> {
    let requested = params
        .get("limit")
        .and_then(|l| l.trim().parse::<usize>().ok());
    if requested.is_some_and(|l| l > 200) {
        return Err(v1_error(
            StatusCode::BAD_REQUEST,
            "The limit must not be above 200.",
        ));
    }
    let paging = offset_paging(params, 200, 200)?;
    let items: Vec<Value> = g
        .members
        .iter()
        .filter_map(|a| wiki.user_by_account(a))
        .map(|u| user_json(world, api, u))
        .collect();
    let (cut, total) = slice(items, &paging);
    let mut body = offset_list(world, api, path, query, (cut, total), &paging, false);
    if params
        .get("shouldReturnTotalSize")
        .is_some_and(|v| v == "true")
    {
        body.insert("totalSize".into(), json!(total));
    }
    Ok(Value::Object(body))
}

pub(crate) async fn members_by_group_id(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(gid): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let api = api_of(&caller);
    let wiki = world.wiki();
    respond((|| {
        let g = wiki.group(&gid).ok_or_else(|| not_found("group"))?;
        members(
            &world,
            api,
            &wiki,
            g,
            &format!("/rest/api/group/{gid}/membersByGroupId"),
            query.as_deref(),
            &params,
        )
    })())
}

pub(crate) async fn dc_group_members(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let api = api_of(&caller);
    let wiki = world.wiki();
    respond((|| {
        let g = wiki
            .group_by_name(&name)
            .ok_or_else(|| not_found("group"))?;
        members(
            &world,
            api,
            &wiki,
            g,
            &format!("/rest/api/group/{name}/member"),
            query.as_deref(),
            &params,
        )
    })())
}
