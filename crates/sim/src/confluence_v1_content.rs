//! Content routes that live on in REST v1 (and exist in Data Center too): labels
//! (`content/{id}/label`, add with POST, remove with DELETE), restrictions
//! (`content/{id}/restriction`, `.../byOperation[/{op}[/user | /byGroupId/{id} | /group/{name}]]`),
//! the permission check (`content/{id}/permission/check`) and attachments
//! (`content/{id}/child/attachment`, upload in [`crate::confluence_attachments`]).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::confluence_attachments as attachments;
use crate::confluence_auth::Caller;
use crate::confluence_http::{Api, v1_error};
use crate::confluence_restrictions as restrictions;
use crate::confluence_v1::api_of;
use crate::http::{self, Params};
use crate::wiki::{Page, Wiki};
use crate::wiki_access::{Op, Subject};
use crate::world::World;

/// The routes below `prefix` (`/wiki/rest/api` or `/confluence/rest/api`).
pub(crate) fn routes(prefix: &str) -> Router<Arc<World>> {
    let p = |s: &str| format!("{prefix}/content/{{id}}{s}");
    Router::new()
        .route(
            &p("/label"),
            get(labels).post(add_labels).delete(remove_label_by_query),
        )
        .route(&p("/label/{label}"), axum::routing::delete(remove_label))
        .route(
            &p("/restriction"),
            get(restrictions::all)
                .put(restrictions::replace)
                .post(restrictions::add)
                .delete(restrictions::remove_all),
        )
        .route(
            &p("/restriction/byOperation"),
            get(restrictions::by_operation),
        )
        .route(
            &p("/restriction/byOperation/{op}"),
            get(restrictions::one_operation),
        )
        .route(
            &p("/restriction/byOperation/{op}/user"),
            get(restrictions::user_entry)
                .put(restrictions::user_entry)
                .delete(restrictions::user_entry),
        )
        .route(
            &p("/restriction/byOperation/{op}/byGroupId/{group}"),
            get(restrictions::group_entry)
                .put(restrictions::group_entry)
                .delete(restrictions::group_entry),
        )
        .route(
            &p("/restriction/byOperation/{op}/group/{group}"),
            get(restrictions::group_entry)
                .put(restrictions::group_entry)
                .delete(restrictions::group_entry),
        )
        .route(&p("/permission/check"), post(permission_check))
        .route(
            &p("/child/attachment"),
            get(attachments::list)
                .post(attachments::upload)
                .put(attachments::upload),
        )
}

pub(crate) fn not_found() -> Response {
    v1_error(
        StatusCode::NOT_FOUND,
        "No content found with id: the content does not exist or you do not have permission to view it.",
    )
}

/// The page `id` (a numeric id) if the caller may see it, in the v1 envelope otherwise.
pub(crate) fn page<'a>(wiki: &'a Wiki, caller: &Caller, id: &str) -> Result<&'a Page, Response> {
    id.trim()
        .parse::<u64>()
        .ok()
        .and_then(|id| wiki.page(id))
        .filter(|p| wiki.can_read(&caller.account_id, p))
        .ok_or_else(not_found)
}

pub(crate) fn forbidden(what: &str) -> Response {
    v1_error(
        StatusCode::FORBIDDEN,
        format!("You do not have permission to {what}."),
    )
}

fn respond(r: Result<Value, Response>) -> Response {
    match r {
        Ok(v) => http::json(StatusCode::OK, &v),
        Err(e) => e,
    }
}

fn label_array(world: &World, api: Api, wiki: &Wiki, p: &Page) -> Value {
    let results: Vec<Value> = p
        .labels
        .iter()
        .filter_map(|l| wiki.label(*l))
        .map(|l| json!({"prefix": l.prefix, "name": l.name, "id": l.id.to_string(), "label": l.name}))
        .collect();
    let size = results.len();
    let base = match api {
        Api::Dc => crate::confluence_http::dc_base(world),
        _ => crate::confluence_http::base(world),
    };
    json!({
        "results": results,
        "start": 0,
        "limit": 200,
        "size": size,
        "_links": {"self": format!("{base}/rest/api/content/{}/label", p.id)},
    })
}

async fn labels(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let wiki = world.wiki();
    respond((|| {
        let p = page(&wiki, &caller, &id)?;
        let mut out = label_array(&world, api_of(&caller), &wiki, p);
        if let Some(prefix) = params.get("prefix")
            && let Some(list) = out.get_mut("results").and_then(Value::as_array_mut)
        {
            list.retain(|l| l["prefix"] == prefix);
        }
        Ok(out)
    })())
}

fn valid_label(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 255
        && !name
            .chars()
            .any(|c| c.is_whitespace() || "!#&()*,.:;<>?@[]^".contains(c))
}

async fn add_labels(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Response {
    let api = api_of(&caller);
    let mut wiki = world.wiki();
    respond((|| {
        let p = page(&wiki, &caller, &id)?;
        if !wiki.can(&caller.account_id, p, Op::Update) {
            return Err(forbidden("add labels to this content"));
        }
        let page_id = p.id;
        let body: Value = serde_json::from_slice(&raw).map_err(|_| {
            v1_error(
                StatusCode::BAD_REQUEST,
                "The body must be a label or a list of labels.",
            )
        })?;
        let items = match body {
            Value::Array(a) => a,
            obj @ Value::Object(_) => vec![obj],
            _ => {
                return Err(v1_error(
                    StatusCode::BAD_REQUEST,
                    "The body must be a label or a list of labels.",
                ));
            }
        };
        let mut wanted = Vec::new();
        for item in &items {
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_lowercase();
            let prefix = item
                .get("prefix")
                .and_then(Value::as_str)
                .unwrap_or("global");
            if !valid_label(&name) {
                return Err(v1_error(
                    StatusCode::BAD_REQUEST,
                    format!("Label name '{name}' is not valid."),
                ));
            }
            if !["global", "my", "team"].contains(&prefix) {
                return Err(v1_error(
                    StatusCode::BAD_REQUEST,
                    format!("Label prefix '{prefix}' is not valid."),
                ));
            }
            wanted.push((prefix.to_string(), name));
        }
        for (prefix, name) in wanted {
            let lid = wiki.label_id(&prefix, &name);
            if let Some(p) = wiki.page_mut(page_id)
                && !p.labels.contains(&lid)
            {
                p.labels.push(lid);
            }
        }
        let p = wiki.page(page_id).ok_or_else(not_found)?;
        Ok(label_array(&world, api, &wiki, p))
    })())
}

fn remove(world: &World, caller: &Caller, id: &str, name: &str) -> Response {
    let mut wiki = world.wiki();
    let result = (|| {
        let p = page(&wiki, caller, id)?;
        if !wiki.can(&caller.account_id, p, Op::Update) {
            return Err(forbidden("remove labels from this content"));
        }
        let page_id = p.id;
        let ids: Vec<u64> = wiki
            .labels
            .iter()
            .filter(|l| l.name == name)
            .map(|l| l.id)
            .collect();
        let Some(p) = wiki.page_mut(page_id) else {
            return Err(not_found());
        };
        let before = p.labels.len();
        p.labels.retain(|l| !ids.contains(l));
        if p.labels.len() == before {
            return Err(v1_error(
                StatusCode::NOT_FOUND,
                format!("The label '{name}' is not on this content."),
            ));
        }
        Ok(())
    })();
    match result {
        Ok(()) => http::empty(StatusCode::NO_CONTENT),
        Err(r) => r,
    }
}

async fn remove_label(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((id, label)): Path<(String, String)>,
) -> Response {
    remove(&world, &caller, &id, &label)
}

async fn remove_label_by_query(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    match params.get("name") {
        Some(name) => remove(&world, &caller, &id, name),
        None => v1_error(StatusCode::BAD_REQUEST, "name is required"),
    }
}

/// `POST content/{id}/permission/check` with `{"subject": {"type", "identifier"}, "operation"}`.
async fn permission_check(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Response {
    let api = api_of(&caller);
    let wiki = world.wiki();
    respond((|| {
        let p = page(&wiki, &caller, &id)?;
        let bad = |m: &str| v1_error(StatusCode::BAD_REQUEST, m.to_string());
        let body: Value =
            serde_json::from_slice(&raw).map_err(|_| bad("The body must be a JSON object."))?;
        let op = body
            .get("operation")
            .and_then(Value::as_str)
            .and_then(Op::parse)
            .ok_or_else(|| bad("operation must be read, update or delete"))?;
        let subject = body
            .get("subject")
            .ok_or_else(|| bad("subject is required"))?;
        let kind = subject.get("type").and_then(Value::as_str).unwrap_or("");
        let ident = subject
            .get("identifier")
            .and_then(Value::as_str)
            .unwrap_or("");
        let account;
        let who = match kind {
            "user" => {
                let u = if api == Api::Dc {
                    wiki.users
                        .iter()
                        .find(|u| u.username == ident || u.user_key == ident)
                } else {
                    wiki.user_by_account(ident)
                };
                account = u
                    .ok_or_else(|| bad("The user in subject.identifier does not exist."))?
                    .account_id
                    .clone();
                Subject::User(&account)
            }
            "group" => {
                let g = if api == Api::Dc {
                    wiki.group_by_name(ident)
                } else {
                    wiki.group(ident)
                };
                Subject::Group(
                    &g.ok_or_else(|| bad("The group in subject.identifier does not exist."))?
                        .id,
                )
            }
            _ => return Err(bad("subject.type must be user or group")),
        };
        let answer = wiki.check(who, p, op);
        let errors: Vec<Value> = answer
            .as_ref()
            .err()
            .map(|m| vec![json!({"translation": m, "args": []})])
            .unwrap_or_default();
        Ok(json!({"hasPermission": answer.is_ok(), "errors": errors, "_links": {}}))
    })())
}

/// The HTTP method's meaning on a per-principal restriction path.
pub(crate) enum EntryAction {
    Check,
    Add,
    Remove,
}

pub(crate) fn entry_action(method: &Method) -> EntryAction {
    match *method {
        Method::PUT => EntryAction::Add,
        Method::DELETE => EntryAction::Remove,
        _ => EntryAction::Check,
    }
}
