//! Confluence Cloud v2 spaces (`/spaces`, `/spaces/{id}`, the pages of a space, its permission
//! assignments), labels (`/labels`, `/labels/{id}/pages`) and `POST /users-bulk`. Only the spaces
//! the caller may view exist for it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::confluence_auth::Caller;
use crate::confluence_http::{
    V2, bad_request, base, flag, list_response, not_found, paging, parse_id,
};
use crate::confluence_json::{label_json, optional_field, space_json, user_json};
use crate::confluence_pages::{id_list, page_list, select};
use crate::http::{self, Params};
use crate::wiki::{Principal, Space, Wiki};
use crate::wiki_access::Subject;
use crate::world::World;

fn respond(r: Result<Response, Response>) -> Response {
    r.unwrap_or_else(|e| e)
}

fn visible_space<'a>(wiki: &'a Wiki, caller: &Caller, id: &str) -> Result<&'a Space, Response> {
    let id = parse_id(id)?;
    wiki.space(id)
        .filter(|s| wiki.can_view_space(Subject::User(&caller.account_id), s))
        .ok_or_else(not_found)
}

pub(crate) async fn list(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    respond((|| {
        let paging = paging(&params)?;
        let ids = id_list(&params, "ids", 250)?;
        let keys = params.list("keys");
        if keys.len() > 250 {
            return Err(bad_request("keys takes at most 250 values"));
        }
        if let Some(t) = params.get("type")
            && !["global", "collaboration", "knowledge_base", "personal"].contains(&t)
        {
            return Err(bad_request(format!("type [{t}] is not a space type")));
        }
        if let Some(s) = params.get("status")
            && !["current", "archived"].contains(&s)
        {
            return Err(bad_request(format!(
                "status [{s}] must be current or archived"
            )));
        }
        if let Some(f) = params.get("description-format")
            && !["plain", "view"].contains(&f)
        {
            return Err(bad_request(format!(
                "description-format [{f}] must be plain or view"
            )));
        }
        flag(&params, "include-icon", false)?;
        let labels = params.list("labels");
        let wiki = world.wiki();
        let mut found: Vec<&Space> = wiki
            .visible_spaces(&caller.account_id)
            .filter(|s| keys.is_empty() || keys.iter().any(|k| k == &s.key))
            .filter(|s| ids.is_empty() || ids.contains(&s.id))
            .filter(|_| params.get("type").is_none_or(|t| t == "global"))
            .filter(|_| params.get("status").is_none_or(|t| t == "current"))
            .filter(|_| params.get("favorited-by").is_none())
            .filter(|s| {
                labels.is_empty()
                    || s.labels
                        .iter()
                        .filter_map(|l| wiki.label(*l))
                        .any(|l| labels.contains(&l.name))
            })
            .collect();
        match params.get("sort").unwrap_or("id") {
            "id" => found.sort_by_key(|s| s.id),
            "-id" => found.sort_by_key(|s| std::cmp::Reverse(s.id)),
            "key" => found.sort_by(|a, b| a.key.cmp(&b.key)),
            "-key" => found.sort_by(|a, b| b.key.cmp(&a.key)),
            "name" => found.sort_by(|a, b| a.name.cmp(&b.name)),
            "-name" => found.sort_by(|a, b| b.name.cmp(&a.name)),
            other => {
                return Err(bad_request(format!(
                    "sort [{other}] is not a space sort order"
                )));
            }
        }
        let items = found
            .into_iter()
            .map(|s| space_json(&world, s, &params, false))
            .collect();
        drop(wiki);
        Ok(list_response(
            &world,
            &format!("{V2}/spaces"),
            query.as_deref(),
            items,
            &paging,
        ))
    })())
}

fn permission_json(p: &crate::wiki::SpacePermission) -> Value {
    let (kind, id) = match &p.principal {
        Principal::User(a) => ("user", a.as_str()),
        Principal::Group(g) => ("group", g.as_str()),
    };
    json!({
        "id": p.id.to_string(),
        "principal": {"type": kind, "id": id},
        "operation": {"key": p.operation, "targetType": p.target},
    })
}

pub(crate) async fn get_one(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    respond((|| {
        if let Some(f) = params.get("description-format")
            && !["plain", "view"].contains(&f)
        {
            return Err(bad_request(format!(
                "description-format [{f}] must be plain or view"
            )));
        }
        let wiki = world.wiki();
        let space = visible_space(&wiki, &caller, &id)?;
        let mut out = space_json(&world, space, &params, true);
        let link = |part: &str| format!("{V2}/spaces/{}/{part}", space.id);
        let Some(o) = out.as_object_mut() else {
            return Ok(http::json(StatusCode::OK, &out));
        };
        for name in ["include-icon", "include-role-assignments"] {
            flag(&params, name, false)?;
        }
        if flag(&params, "include-labels", false)? {
            let items = space
                .labels
                .iter()
                .filter_map(|l| wiki.label(*l))
                .map(label_json)
                .collect();
            o.insert("labels".into(), optional_field(items, link("labels")));
        }
        if flag(&params, "include-properties", false)? {
            o.insert(
                "properties".into(),
                optional_field(Vec::new(), link("properties")),
            );
        }
        if flag(&params, "include-permissions", false)? {
            let items = space.permissions.iter().map(permission_json).collect();
            o.insert(
                "permissions".into(),
                optional_field(items, link("permissions")),
            );
        }
        if flag(&params, "include-operations", false)? {
            let me = Subject::User(&caller.account_id);
            let items = space
                .permissions
                .iter()
                .filter(|p| wiki.space_allows(me, space, &p.operation, &p.target))
                .map(|p| json!({"operation": p.operation, "targetType": p.target}))
                .collect::<Vec<_>>();
            let mut unique: Vec<Value> = Vec::new();
            for i in items {
                if !unique.contains(&i) {
                    unique.push(i);
                }
            }
            o.insert(
                "operations".into(),
                optional_field(unique, link("operations")),
            );
        }
        Ok(http::json(StatusCode::OK, &out))
    })())
}

pub(crate) async fn pages(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    respond((|| {
        paging(&params)?;
        let root_only = match params.get("depth") {
            None | Some("all") => false,
            Some("root") => true,
            Some(d) => return Err(bad_request(format!("depth [{d}] must be all or root"))),
        };
        let wiki = world.wiki();
        let space_id = visible_space(&wiki, &caller, &id)?.id;
        let pages = select(&wiki, &caller.account_id, &params, |p| {
            p.space_id == space_id && (!root_only || p.parent_id.is_none())
        })?;
        page_list(
            &world,
            &wiki,
            pages,
            &params,
            &format!("{V2}/spaces/{space_id}/pages"),
            query.as_deref(),
        )
    })())
}

pub(crate) async fn permissions(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    respond((|| {
        let paging = paging(&params)?;
        let wiki = world.wiki();
        let space = visible_space(&wiki, &caller, &id)?;
        let items = space.permissions.iter().map(permission_json).collect();
        let path = format!("{V2}/spaces/{}/permissions", space.id);
        drop(wiki);
        Ok(list_response(
            &world,
            &path,
            query.as_deref(),
            items,
            &paging,
        ))
    })())
}

/// `POST /users-bulk` with `{"accountIds": [...]}`: the users among them that exist.
pub(crate) async fn users_bulk(State(world): State<Arc<World>>, raw: Bytes) -> Response {
    let ids: Vec<String> = match serde_json::from_slice::<Value>(&raw)
        .ok()
        .and_then(|v| v.get("accountIds").and_then(Value::as_array).cloned())
    {
        Some(a) if !a.is_empty() && a.len() <= 250 && a.iter().all(Value::is_string) => a
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
        .map(user_json)
        .collect();
    http::json(
        StatusCode::OK,
        &json!({ "results": results, "_links": {"base": base(&world)} }),
    )
}

pub(crate) async fn labels(State(world): State<Arc<World>>, RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.as_deref());
    respond((|| {
        let paging = paging(&params)?;
        let ids = id_list(&params, "label-id", 250)?;
        let prefixes = params.list("prefix");
        let wiki = world.wiki();
        let mut found: Vec<_> = wiki
            .labels
            .iter()
            .filter(|l| ids.is_empty() || ids.contains(&l.id))
            .filter(|l| prefixes.is_empty() || prefixes.contains(&l.prefix))
            .collect();
        match params.get("sort") {
            None | Some("id") | Some("created-date") => found.sort_by_key(|l| l.id),
            Some("-id") | Some("-created-date") => found.sort_by_key(|l| std::cmp::Reverse(l.id)),
            Some("name") => found.sort_by(|a, b| a.name.cmp(&b.name)),
            Some("-name") => found.sort_by(|a, b| b.name.cmp(&a.name)),
            Some(s) => return Err(bad_request(format!("sort [{s}] is not a label sort order"))),
        }
        let items = found.into_iter().map(label_json).collect();
        drop(wiki);
        Ok(list_response(
            &world,
            &format!("{V2}/labels"),
            query.as_deref(),
            items,
            &paging,
        ))
    })())
}

pub(crate) async fn label_pages(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    respond((|| {
        paging(&params)?;
        let label = parse_id(&id)?;
        let space_ids = id_list(&params, "space-id", 100)?;
        let wiki = world.wiki();
        if wiki.label(label).is_none() {
            return Err(not_found());
        }
        let pages = select(&wiki, &caller.account_id, &params, |p| {
            p.labels.contains(&label) && (space_ids.is_empty() || space_ids.contains(&p.space_id))
        })?;
        page_list(
            &world,
            &wiki,
            pages,
            &params,
            &format!("{V2}/labels/{label}/pages"),
            query.as_deref(),
        )
    })())
}
