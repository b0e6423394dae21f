//! Confluence Cloud v2 reads around a page: its version history (`/versions`,
//! `/versions/{n}`), labels, child pages, ancestors and attachments. A page the caller may not
//! see is 404 (child lists, which the spec gives no 404, are empty instead).

use std::sync::Arc;

use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::confluence_auth::Caller;
use crate::confluence_http::{
    V2, bad_request, base, list_response, not_found, paging, paging_with_default, parse_id,
};
use crate::confluence_json::{
    attachment_json, body_format, label_json, storage_json, version_json,
};
use crate::http::{self, Params};
use crate::wiki::{Page, PageStatus, Wiki};
use crate::world::World;

/// The page `id` if the caller may see it.
pub(crate) fn readable<'a>(
    wiki: &'a Wiki,
    caller: &Caller,
    id: &str,
) -> Result<&'a Page, Response> {
    let id = parse_id(id)?;
    wiki.page(id)
        .filter(|p| wiki.can_read(&caller.account_id, p))
        .ok_or_else(not_found)
}

fn respond(r: Result<Response, Response>) -> Response {
    r.unwrap_or_else(|e| e)
}

fn descending(
    sort: Option<&str>,
    allowed: &[&str],
    default_desc: bool,
) -> Result<(bool, String), Response> {
    match sort {
        None => Ok((
            default_desc,
            allowed
                .first()
                .map_or("", |f| *f)
                .trim_start_matches('-')
                .to_string(),
        )),
        Some(s) if allowed.contains(&s) => {
            Ok((s.starts_with('-'), s.trim_start_matches('-').to_string()))
        }
        Some(s) => Err(bad_request(format!(
            "Provided value {{{s}}} for 'sort' is not one of {}",
            allowed.join(", ")
        ))),
    }
}

pub(crate) async fn versions(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    respond((|| {
        let paging = paging(&params)?;
        let body = body_format(&params, false)?;
        let (desc, _) = descending(
            params.get("sort"),
            &["-modified-date", "modified-date"],
            true,
        )?;
        let wiki = world.wiki();
        let page = readable(&wiki, &caller, &id)?;
        let mut items: Vec<Value> = page
            .versions
            .iter()
            .map(|v| {
                let mut entry = version_json(v);
                let mut inner = json!({"id": page.id.to_string(), "title": v.title});
                if body && let Some(o) = inner.as_object_mut() {
                    o.insert("body".into(), storage_json(&v.body));
                }
                if let Some(o) = entry.as_object_mut() {
                    o.insert("page".into(), inner);
                }
                entry
            })
            .collect();
        if desc {
            items.reverse();
        }
        let path = format!("{V2}/pages/{}/versions", page.id);
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

pub(crate) async fn version_details(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((id, n)): Path<(String, String)>,
) -> Response {
    respond((|| {
        let n: u32 = n
            .trim()
            .parse()
            .map_err(|_| bad_request(format!("The version number [{n}] is not valid.")))?;
        let wiki = world.wiki();
        let page = readable(&wiki, &caller, &id)?;
        let v = page.version(n).ok_or_else(not_found)?;
        let mut out = json!({
            "number": v.number,
            "authorId": v.author_id,
            "message": v.message,
            "createdAt": v.created_at,
            "minorEdit": v.minor_edit,
            "contentTypeModified": false,
            "collaborators": [v.author_id],
        });
        if let Some(o) = out.as_object_mut() {
            if page.version(n.wrapping_sub(1)).is_some() {
                o.insert("prevVersion".into(), json!(n - 1));
            }
            if page.version(n + 1).is_some() {
                o.insert("nextVersion".into(), json!(n + 1));
            }
        }
        Ok(http::json(StatusCode::OK, &out))
    })())
}

pub(crate) async fn labels(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    respond((|| {
        let paging = paging(&params)?;
        let prefix = params.get("prefix");
        if let Some(p) = prefix
            && !["my", "team", "global", "system"].contains(&p)
        {
            return Err(bad_request(format!(
                "prefix [{p}] must be my, team, global or system"
            )));
        }
        let (desc, field) = descending(
            params.get("sort"),
            &[
                "created-date",
                "-created-date",
                "id",
                "-id",
                "name",
                "-name",
            ],
            false,
        )?;
        let wiki = world.wiki();
        let page = readable(&wiki, &caller, &id)?;
        let mut found: Vec<_> = page
            .labels
            .iter()
            .filter_map(|l| wiki.label(*l))
            .filter(|l| prefix.is_none_or(|p| l.prefix == p))
            .collect();
        if field == "name" {
            found.sort_by(|a, b| a.name.cmp(&b.name));
        } else if field == "id" {
            found.sort_by_key(|l| l.id);
        }
        if desc {
            found.reverse();
        }
        let items = found.into_iter().map(label_json).collect();
        let path = format!("{V2}/pages/{}/labels", page.id);
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

pub(crate) async fn children(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    respond((|| {
        let paging = paging(&params)?;
        let id = parse_id(&id)?;
        let (desc, field) = descending(
            params.get("sort"),
            &[
                "child-position",
                "-child-position",
                "created-date",
                "-created-date",
                "id",
                "-id",
                "modified-date",
                "-modified-date",
            ],
            false,
        )?;
        let wiki = world.wiki();
        let visible = wiki
            .page(id)
            .is_some_and(|p| wiki.can_read(&caller.account_id, p));
        let mut found: Vec<&Page> = if visible {
            wiki.pages
                .iter()
                .filter(|p| p.parent_id == Some(id) && p.status == PageStatus::Current)
                .filter(|p| wiki.can_read(&caller.account_id, p))
                .collect()
        } else {
            Vec::new()
        };
        match field.as_str() {
            "id" => found.sort_by_key(|p| p.id),
            "created-date" => {
                found.sort_by(|a, b| (&a.created_at, a.id).cmp(&(&b.created_at, b.id)))
            }
            "modified-date" => found.sort_by(|a, b| {
                (&a.current().created_at, a.id).cmp(&(&b.current().created_at, b.id))
            }),
            _ => found.sort_by_key(|p| (p.position, p.id)),
        }
        if desc {
            found.reverse();
        }
        let items = found
            .into_iter()
            .map(|p| {
                json!({
                    "id": p.id.to_string(),
                    "status": "current",
                    "title": p.current().title,
                    "spaceId": p.space_id.to_string(),
                    "childPosition": p.position,
                })
            })
            .collect();
        drop(wiki);
        Ok(list_response(
            &world,
            &format!("{V2}/pages/{id}/children"),
            query.as_deref(),
            items,
            &paging,
        ))
    })())
}

pub(crate) async fn ancestors(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    respond((|| {
        let paging = paging(&params)?;
        let wiki = world.wiki();
        let page = readable(&wiki, &caller, &id)?;
        let results: Vec<Value> = wiki
            .ancestors(page)
            .into_iter()
            .take(paging.limit)
            .map(|a| json!({"id": a.to_string(), "type": "page"}))
            .collect();
        Ok(http::json(
            StatusCode::OK,
            &json!({"results": results, "_links": {"base": base(&world)}}),
        ))
    })())
}

pub(crate) async fn attachments(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    respond((|| {
        let paging = paging_with_default(&params, 50)?;
        let (desc, _) = descending(
            params.get("sort"),
            &[
                "created-date",
                "-created-date",
                "modified-date",
                "-modified-date",
            ],
            false,
        )?;
        let statuses = params.list("status");
        if let Some(s) = statuses
            .iter()
            .find(|s| !["current", "archived", "trashed"].contains(&s.as_str()))
        {
            return Err(bad_request(format!(
                "status [{s}] must be current, archived or trashed"
            )));
        }
        let media = params.get("mediaType");
        let filename = params.get("filename");
        let wiki = world.wiki();
        let page = readable(&wiki, &caller, &id)?;
        let mut items: Vec<Value> = page
            .attachments
            .iter()
            .filter(|_| statuses.is_empty() || statuses.iter().any(|s| s == "current"))
            .filter(|a| media.is_none_or(|m| a.media_type == m))
            .filter(|a| filename.is_none_or(|f| a.title == f))
            .map(|a| attachment_json(page, a))
            .collect();
        if desc {
            items.reverse();
        }
        let path = format!("{V2}/pages/{}/attachments", page.id);
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
