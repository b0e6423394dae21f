//! Content restrictions over REST v1 / Data Center: read them (all, by operation, one
//! operation), replace them (PUT), add to them (POST), clear them (DELETE), and check, add or
//! remove one user or group. Read restrictions hide the page and its descendants from everyone
//! they do not name; update restrictions stop everyone else from editing (see
//! [`crate::wiki_access`]). Changing them needs the right to edit the page.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::confluence_auth::Caller;
use crate::confluence_http::{Api, base, dc_base, v1_error};
use crate::confluence_v1::api_of;
use crate::confluence_v1_content::{EntryAction, entry_action, forbidden, page};
use crate::confluence_v1_json::user_json;
use crate::http::{self, Params};
use crate::wiki::{Page, Principals, Wiki};
use crate::wiki_access::Op;
use crate::world::World;

const OPERATIONS: [&str; 2] = ["read", "update"];

fn respond(r: Result<Value, Response>) -> Response {
    match r {
        Ok(v) => http::json(StatusCode::OK, &v),
        Err(e) => e,
    }
}

fn bad(msg: impl Into<String>) -> Response {
    v1_error(StatusCode::BAD_REQUEST, msg.into())
}

fn principals<'a>(p: &'a Page, op: &str) -> Option<&'a Principals> {
    match op {
        "read" => Some(&p.restrictions.read),
        "update" => Some(&p.restrictions.update),
        _ => None,
    }
}

fn principals_mut<'a>(p: &'a mut Page, op: &str) -> Option<&'a mut Principals> {
    match op {
        "read" => Some(&mut p.restrictions.read),
        "update" => Some(&mut p.restrictions.update),
        _ => None,
    }
}

fn restriction_json(world: &World, api: Api, wiki: &Wiki, p: &Page, op: &str) -> Value {
    let who = principals(p, op).cloned().unwrap_or_default();
    let users: Vec<Value> = who
        .users
        .iter()
        .filter_map(|a| wiki.user_by_account(a))
        .map(|u| user_json(world, api, u))
        .collect();
    let groups: Vec<Value> = who
        .groups
        .iter()
        .filter_map(|g| wiki.group(g))
        .map(|g| {
            if api == Api::Dc {
                json!({"type": "group", "name": g.name})
            } else {
                json!({"type": "group", "name": g.name, "id": g.id})
            }
        })
        .collect();
    let base = if api == Api::Dc {
        dc_base(world)
    } else {
        base(world)
    };
    let (nu, ng) = (users.len(), groups.len());
    json!({
        "operation": op,
        "restrictions": {
            "user": {"results": users, "start": 0, "limit": 200, "size": nu},
            "group": {"results": groups, "start": 0, "limit": 200, "size": ng},
        },
        "_expandable": {"content": format!("/rest/api/content/{}", p.id)},
        "_links": {"self": format!("{base}/rest/api/content/{}/restriction/byOperation/{op}", p.id)},
    })
}

fn array_json(world: &World, api: Api, wiki: &Wiki, p: &Page) -> Value {
    let results: Vec<Value> = OPERATIONS
        .iter()
        .map(|op| restriction_json(world, api, wiki, p, op))
        .collect();
    let hash = crate::wiki::stable_uuid(&format!(
        "{}:{:?}:{:?}:{:?}:{:?}",
        p.id,
        p.restrictions.read.users,
        p.restrictions.read.groups,
        p.restrictions.update.users,
        p.restrictions.update.groups
    ))
    .simple()
    .to_string();
    json!({"results": results, "start": 0, "limit": 100, "size": 2, "restrictionsHash": hash, "_links": {}})
}

pub(crate) async fn all(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let wiki = world.wiki();
    respond(page(&wiki, &caller, &id).map(|p| array_json(&world, api_of(&caller), &wiki, p)))
}

pub(crate) async fn by_operation(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let wiki = world.wiki();
    let api = api_of(&caller);
    respond(page(&wiki, &caller, &id).map(|p| {
        let mut out = Map::new();
        for op in OPERATIONS {
            out.insert(op.into(), restriction_json(&world, api, &wiki, p, op));
        }
        out.insert("_links".into(), json!({}));
        Value::Object(out)
    }))
}

pub(crate) async fn one_operation(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((id, op)): Path<(String, String)>,
) -> Response {
    let wiki = world.wiki();
    respond((|| {
        let p = page(&wiki, &caller, &id)?;
        principals(p, &op)
            .ok_or_else(|| bad(format!("Unknown operation '{op}' (read or update)")))?;
        Ok(restriction_json(&world, api_of(&caller), &wiki, p, &op))
    })())
}

/// Reads a restriction update body: an array (or `{results: [...]}`) of
/// `{operation, restrictions: {user: [...], group: [...]}}` into per-operation principals.
fn parse_updates(wiki: &Wiki, api: Api, raw: &[u8]) -> Result<Vec<(String, Principals)>, Response> {
    let body: Value =
        serde_json::from_slice(raw).map_err(|_| bad("The body must be a list of restrictions."))?;
    let items = match &body {
        Value::Array(a) => a.clone(),
        Value::Object(o) => match o.get("results") {
            Some(Value::Array(a)) => a.clone(),
            _ => vec![body.clone()],
        },
        _ => return Err(bad("The body must be a list of restrictions.")),
    };
    let list = |v: Option<&Value>| -> Vec<Value> {
        match v {
            Some(Value::Array(a)) => a.clone(),
            Some(Value::Object(o)) => o
                .get("results")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    };
    let mut out = Vec::new();
    for item in items {
        let op = item
            .get("operation")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if !OPERATIONS.contains(&op.as_str()) {
            return Err(bad(format!("Unknown operation '{op}' (read or update)")));
        }
        let r = item.get("restrictions");
        let mut who = Principals::default();
        for u in list(r.and_then(|r| r.get("user"))) {
            let found = match api {
                Api::Dc => u
                    .get("username")
                    .and_then(Value::as_str)
                    .and_then(|n| wiki.users.iter().find(|x| x.username == n))
                    .or_else(|| {
                        u.get("userKey")
                            .and_then(Value::as_str)
                            .and_then(|k| wiki.users.iter().find(|x| x.user_key == k))
                    }),
                _ => u
                    .get("accountId")
                    .and_then(Value::as_str)
                    .and_then(|a| wiki.user_by_account(a)),
            };
            let user = found.ok_or_else(|| bad("A user in the restrictions does not exist."))?;
            who.users.push(user.account_id.clone());
        }
        for g in list(r.and_then(|r| r.get("group"))) {
            let found = g
                .get("id")
                .and_then(Value::as_str)
                .and_then(|id| wiki.group(id))
                .or_else(|| {
                    g.get("name")
                        .and_then(Value::as_str)
                        .and_then(|n| wiki.group_by_name(n))
                });
            let group = found.ok_or_else(|| bad("A group in the restrictions does not exist."))?;
            who.groups.push(group.id.clone());
        }
        out.push((op, who));
    }
    Ok(out)
}

/// Applies restriction changes: `replace` clears every operation first (PUT), otherwise the
/// principals are added (POST). `None` clears all (DELETE).
fn change(world: &World, caller: &Caller, id: &str, raw: Option<&[u8]>, replace: bool) -> Response {
    let api = api_of(caller);
    let mut wiki = world.wiki();
    respond((|| {
        let p = page(&wiki, caller, id)?;
        if !wiki.can(&caller.account_id, p, Op::Update) {
            return Err(forbidden("change the restrictions of this content"));
        }
        let page_id = p.id;
        let updates = match raw {
            Some(r) => parse_updates(&wiki, api, r)?,
            None => Vec::new(),
        };
        let Some(p) = wiki.page_mut(page_id) else {
            return Err(crate::confluence_v1_content::not_found());
        };
        if replace || raw.is_none() {
            p.restrictions = Default::default();
        }
        for (op, who) in updates {
            if let Some(target) = principals_mut(p, &op) {
                for u in who.users {
                    if !target.users.contains(&u) {
                        target.users.push(u);
                    }
                }
                for g in who.groups {
                    if !target.groups.contains(&g) {
                        target.groups.push(g);
                    }
                }
            }
        }
        let p = wiki
            .page(page_id)
            .ok_or_else(crate::confluence_v1_content::not_found)?;
        Ok(array_json(world, api, &wiki, p))
    })())
}

pub(crate) async fn replace(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Response {
    change(&world, &caller, &id, Some(&raw), true)
}

pub(crate) async fn add(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Response {
    change(&world, &caller, &id, Some(&raw), false)
}

pub(crate) async fn remove_all(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    change(&world, &caller, &id, None, true)
}

/// Checks (GET), adds (PUT) or removes (DELETE) one principal of one operation.
fn entry(
    world: &World,
    caller: &Caller,
    method: &Method,
    id: &str,
    op: &str,
    principal: Result<(bool, String), Response>,
) -> Response {
    let mut wiki = world.wiki();
    let result = (|| {
        let p = page(&wiki, caller, id)?;
        let current = principals(p, op)
            .ok_or_else(|| bad(format!("Unknown operation '{op}' (read or update)")))?;
        let (is_user, pid) = principal?;
        let listed = if is_user {
            current.users.contains(&pid)
        } else {
            current.groups.contains(&pid)
        };
        let action = entry_action(method);
        if !matches!(action, EntryAction::Check) && !wiki.can(&caller.account_id, p, Op::Update) {
            return Err(forbidden("change the restrictions of this content"));
        }
        let page_id = p.id;
        let target = wiki
            .page_mut(page_id)
            .and_then(|p| principals_mut(p, op))
            .ok_or_else(crate::confluence_v1_content::not_found)?;
        let list = if is_user {
            &mut target.users
        } else {
            &mut target.groups
        };
        match action {
            EntryAction::Check if !listed => Err(v1_error(
                StatusCode::NOT_FOUND,
                "The principal is not in this restriction.",
            )),
            EntryAction::Check => Ok(()),
            EntryAction::Add => {
                if !listed {
                    list.push(pid);
                }
                Ok(())
            }
            EntryAction::Remove if !listed => Err(v1_error(
                StatusCode::NOT_FOUND,
                "The principal is not in this restriction.",
            )),
            EntryAction::Remove => {
                list.retain(|x| *x != pid);
                Ok(())
            }
        }
    })();
    match result {
        Ok(()) => http::empty(StatusCode::OK),
        Err(r) => r,
    }
}

pub(crate) async fn user_entry(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    method: Method,
    Path((id, op)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let who = {
        let wiki = world.wiki();
        let found = params
            .get("accountId")
            .and_then(|a| wiki.user_by_account(a))
            .or_else(|| {
                params
                    .get("username")
                    .and_then(|n| wiki.users.iter().find(|u| u.username == n))
            })
            .or_else(|| {
                params
                    .get("key")
                    .and_then(|k| wiki.users.iter().find(|u| u.user_key == k))
            });
        found.map(|u| (true, u.account_id.clone())).ok_or_else(|| {
            bad("accountId (or, on Data Center, username or key) must name an existing user")
        })
    };
    entry(&world, &caller, &method, &id, &op, who)
}

pub(crate) async fn group_entry(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    method: Method,
    Path((id, op, group)): Path<(String, String, String)>,
) -> Response {
    let who = {
        let wiki = world.wiki();
        wiki.group(&group)
            .or_else(|| wiki.group_by_name(&group))
            .map(|g| (false, g.id.clone()))
            .ok_or_else(|| {
                v1_error(
                    StatusCode::NOT_FOUND,
                    format!("No group found with the identifier '{group}'."),
                )
            })
    };
    entry(&world, &caller, &method, &id, &op, who)
}
