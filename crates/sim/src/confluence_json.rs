//! The REST v2 JSON shapes of the simulated content, field for field as Atlassian's v2 spec
//! defines them (`PageBulk`/`PageSingle`, `Version`, `SpaceBulk`, `Label`, `ContentProperty`,
//! `User`, `AttachmentBulk`, ...). Ids are strings. Optional keys the spec does not mark nullable
//! (`parentId`, `homepageId`, `icon`) are left out rather than sent as `null`.

use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::confluence_http::{V2, bad_request, base, tiny_ui, title_slug};
use crate::http::Params;
use crate::wiki::{Attachment, Label, Page, Property, Space, Version, Wiki, WikiUser};
use crate::world::World;

/// What `body-format` asked for: `Ok(true)` for storage, `Ok(false)` for none. `single` allows
/// the formats of single-item reads (which the simulator does not render either).
pub(crate) fn body_format(params: &Params, single: bool) -> Result<bool, Response> {
    const BULK: &[&str] = &["storage", "atlas_doc_format"];
    const SINGLE: &[&str] = &[
        "storage",
        "atlas_doc_format",
        "view",
        "export_view",
        "anonymous_export_view",
        "styled_view",
        "editor",
    ];
    match params.get("body-format") {
        // `none` is not in the spec's enum, but clients send it to ask for no body
        // (atlassian-python-api does so by default), and Confluence answers without one.
        None | Some("none") => Ok(false),
        Some("storage") => Ok(true),
        Some(f) if (if single { SINGLE } else { BULK }).contains(&f) => Err(bad_request(format!(
            "body-format [{f}] is not rendered by arkbridge sim; ask for body-format=storage"
        ))),
        Some(f) => Err(bad_request(format!(
            "Provided value {{{f}}} for 'body-format' is not the correct type. Expected one of {}",
            if single { SINGLE } else { BULK }.join(", ")
        ))),
    }
}

pub(crate) fn version_json(v: &Version) -> Value {
    json!({
        "createdAt": v.created_at,
        "message": v.message,
        "number": v.number,
        "minorEdit": v.minor_edit,
        "authorId": v.author_id,
    })
}

pub(crate) fn storage_json(value: &str) -> Value {
    json!({"storage": {"representation": "storage", "value": value}})
}

pub(crate) fn label_json(l: &Label) -> Value {
    json!({"id": l.id.to_string(), "name": l.name, "prefix": l.prefix})
}

pub(crate) fn property_json(p: &Property) -> Value {
    json!({
        "id": p.id.to_string(),
        "key": p.key,
        "value": p.value,
        "version": version_json(&p.version),
    })
}

/// A page's web UI path (`/spaces/KEY/pages/ID/Title`).
pub(crate) fn webui(wiki: &Wiki, page: &Page, title: &str) -> String {
    let key = wiki.space(page.space_id).map_or("", |s| s.key.as_str());
    format!("/spaces/{key}/pages/{}/{}", page.id, title_slug(title))
}

/// An `include-*` wrapper: at most 50 results, `meta`, and a link to the full list.
pub(crate) fn optional_field(items: Vec<Value>, link: String) -> Value {
    let has_more = items.len() > 50;
    let mut meta = Map::new();
    meta.insert("hasMore".into(), Value::Bool(has_more));
    if has_more {
        meta.insert(
            "cursor".into(),
            Value::String(crate::confluence_http::encode_cursor(50)),
        );
    }
    json!({
        "results": items.into_iter().take(50).collect::<Vec<_>>(),
        "meta": Value::Object(meta),
        "_links": {"self": link},
    })
}

/// `PageBulk` (or `PageSingle` with `single`, which adds `_links.base`) for version `v`.
pub(crate) fn page_json(
    world: &World,
    wiki: &Wiki,
    page: &Page,
    v: &Version,
    body: bool,
    single: bool,
) -> Value {
    let current = v.number == page.current().number;
    let status = if !current {
        "historical"
    } else {
        page.status.as_str()
    };
    let mut links = json!({
        "webui": webui(wiki, page, &v.title),
        "editui": format!("/pages/resumedraft.action?draftId={}", page.id),
        "tinyui": tiny_ui(page.id),
    });
    if single && let Some(l) = links.as_object_mut() {
        l.insert("base".into(), Value::String(base(world)));
    }
    let mut out = json!({
        "id": page.id.to_string(),
        "status": status,
        "title": v.title,
        "spaceId": page.space_id.to_string(),
        "position": page.position,
        "authorId": page.author_id,
        "ownerId": page.owner_id,
        "lastOwnerId": null,
        "createdAt": page.created_at,
        "version": version_json(v),
        "body": if body { storage_json(&v.body) } else { json!({}) },
        "_links": links,
    });
    if let (Some(parent), Some(o)) = (page.parent_id, out.as_object_mut()) {
        o.insert("parentId".into(), Value::String(parent.to_string()));
        o.insert("parentType".into(), Value::String("page".into()));
    }
    out
}

/// Adds the `include-*` fields a single-page read asked for.
pub(crate) fn page_includes(
    wiki: &Wiki,
    page: &Page,
    caller: &str,
    params: &Params,
    out: &mut Value,
) -> Result<(), Response> {
    let Some(o) = out.as_object_mut() else {
        return Ok(());
    };
    let on = |name: &str| crate::confluence_http::flag(params, name, false);
    let link = |part: &str| format!("{V2}/pages/{}/{part}", page.id);
    if on("include-labels")? {
        let items = page
            .labels
            .iter()
            .filter_map(|id| wiki.label(*id))
            .map(label_json)
            .collect();
        o.insert("labels".into(), optional_field(items, link("labels")));
    }
    if on("include-properties")? {
        let items = page.properties.iter().map(property_json).collect();
        o.insert(
            "properties".into(),
            optional_field(items, link("properties")),
        );
    }
    if on("include-operations")? {
        let items = wiki
            .page_operations(caller, page)
            .into_iter()
            .map(|(op, target)| json!({"operation": op, "targetType": target}))
            .collect();
        o.insert(
            "operations".into(),
            optional_field(items, link("operations")),
        );
    }
    if on("include-likes")? {
        o.insert(
            "likes".into(),
            optional_field(Vec::new(), link("likes/users")),
        );
    }
    if on("include-versions")? {
        let items = page.versions.iter().rev().map(version_json).collect();
        o.insert("versions".into(), optional_field(items, link("versions")));
    }
    if on("include-favorited-by-current-user-status")? {
        o.insert("isFavoritedByCurrentUser".into(), Value::Bool(false));
    }
    if !crate::confluence_http::flag(params, "include-version", true)? {
        o.remove("version");
    }
    Ok(())
}

/// `SpaceBulk` (or `SpaceSingle` with `single`).
pub(crate) fn space_json(world: &World, s: &Space, params: &Params, single: bool) -> Value {
    let mut v = json!({
        "id": s.id.to_string(),
        "key": s.key,
        "name": s.name,
        "type": "global",
        "status": "current",
        "authorId": s.author_id,
        "createdAt": s.created_at,
        "_links": {"webui": format!("/spaces/{}", s.key)},
    });
    let Some(obj) = v.as_object_mut() else {
        return v;
    };
    if let Some(home) = s.homepage_id {
        obj.insert("homepageId".into(), Value::String(home.to_string()));
    }
    if let Some(fmt) = params.get("description-format") {
        let rep = if fmt == "view" { "view" } else { "plain" };
        let value = if rep == "view" {
            format!(
                "<p>{}</p>",
                s.description.replace('&', "&amp;").replace('<', "&lt;")
            )
        } else {
            s.description.clone()
        };
        obj.insert(
            "description".into(),
            json!({ rep: {"value": value, "representation": rep} }),
        );
    }
    if params.get("include-icon").is_some_and(|v| v == "true") {
        obj.insert(
            "icon".into(),
            json!({
                "path": "/wiki/images/logo/default-space-logo.svg",
                "apiDownloadLink": format!("/wiki/download/attachments/{}/space-logo.svg", s.id),
            }),
        );
    }
    if single && let Some(links) = obj.get_mut("_links").and_then(Value::as_object_mut) {
        links.insert("base".into(), Value::String(base(world)));
    }
    v
}

/// The v2 `User` of an account.
pub(crate) fn user_json(u: &WikiUser) -> Value {
    json!({
        "accountId": u.account_id,
        "accountType": "atlassian",
        "accountStatus": "active",
        "email": u.email,
        "displayName": u.display_name,
        "publicName": u.display_name,
        "timeZone": "Etc/UTC",
        "isExternalCollaborator": false,
        "profilePicture": {
            "path": "/wiki/aa-avatar/default.png",
            "isDefault": true,
        },
    })
}

/// The v2 `AttachmentBulk` of an attachment of `page`.
pub(crate) fn attachment_json(page: &Page, a: &Attachment) -> Value {
    let slug = title_slug(&a.title);
    json!({
        "id": format!("att{}", a.id),
        "status": "current",
        "title": a.title,
        "createdAt": a.created_at,
        "pageId": page.id.to_string(),
        "mediaType": a.media_type,
        "mediaTypeDescription": a.media_type,
        "comment": a.comment,
        "fileId": crate::wiki::stable_uuid(&format!("file:{}", a.id)).to_string(),
        "fileSize": a.data.len(),
        "webuiLink": format!("/pages/viewpageattachments.action?pageId={}&preview=%2F{}%2F{}", page.id, page.id, slug),
        "downloadLink": format!("/download/attachments/{}/{}?version={}", page.id, slug, a.version.number),
        "version": version_json(&a.version),
        "_links": {
            "webui": format!("/pages/viewpageattachments.action?pageId={}", page.id),
            "download": format!("/download/attachments/{}/{}?version={}", page.id, slug, a.version.number),
        },
    })
}
