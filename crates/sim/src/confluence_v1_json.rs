//! The REST v1 / Data Center JSON shapes: `Content` with `expand` (`body.storage`, `version`,
//! `space`, `history`, `ancestors`, `container`, `metadata.labels`, `operations`), `Space`,
//! `User` (Cloud: `accountId`; Data Center: `username` and `userKey`) and `Version`. What is not
//! expanded is listed in `_expandable`, as Confluence does; unknown expansions are ignored.

use serde_json::{Map, Value, json};

use crate::confluence_cql_eval::Entity;
use crate::confluence_http::{Api, DC_CONTEXT, tiny_ui, title_slug};
use crate::wiki::{Space, Version, Wiki, WikiUser};
use crate::world::World;

/// The `expand` parameter, split.
pub(crate) struct Expand(Vec<String>);

impl Expand {
    pub(crate) fn parse(raw: Option<&str>) -> Expand {
        Expand(
            raw.unwrap_or("")
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        )
    }

    /// Whether `name` or something below it (`name.x`) is expanded.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|e| e == name || e.strip_prefix(name).is_some_and(|r| r.starts_with('.')))
    }
}

fn base_of(world: &World, api: Api) -> String {
    match api {
        Api::Dc => format!("{}{DC_CONTEXT}", world.confluence_base),
        _ => format!("{}/wiki", world.confluence_base),
    }
}

/// A v1 `User`.
pub(crate) fn user_json(world: &World, api: Api, u: &WikiUser) -> Value {
    let picture = json!({"path": "/wiki/aa-avatar/default.png", "width": 48, "height": 48, "isDefault": true});
    let base = base_of(world, api);
    if api == Api::Dc {
        return json!({
            "type": "known",
            "username": u.username,
            "userKey": u.user_key,
            "profilePicture": {"path": format!("{DC_CONTEXT}/images/icons/profilepics/default.svg"), "width": 48, "height": 48, "isDefault": true},
            "displayName": u.display_name,
            "_links": {"self": format!("{base}/rest/api/user?key={}", u.user_key)},
            "_expandable": {"status": ""},
        });
    }
    json!({
        "type": "known",
        "accountId": u.account_id,
        "accountType": "atlassian",
        "email": u.email,
        "publicName": u.display_name,
        "profilePicture": picture,
        "displayName": u.display_name,
        "isExternalCollaborator": false,
        "isGuest": false,
        "_expandable": {"operations": "", "personalSpace": ""},
        "_links": {"self": format!("{base}/rest/api/user?accountId={}", u.account_id)},
    })
}

fn user_or_unknown(world: &World, api: Api, wiki: &Wiki, account_id: &str) -> Value {
    match wiki.user_by_account(account_id) {
        Some(u) => user_json(world, api, u),
        None => {
            json!({"type": "unknown", "accountId": account_id, "displayName": "Unknown user", "_links": {}})
        }
    }
}

/// A v1 `Version`.
pub(crate) fn version_json(world: &World, api: Api, wiki: &Wiki, v: &Version) -> Value {
    json!({
        "by": user_or_unknown(world, api, wiki, &v.author_id),
        "when": v.created_at,
        "friendlyWhen": v.created_at,
        "message": v.message,
        "number": v.number,
        "minorEdit": v.minor_edit,
        "contentTypeModified": false,
        "_expandable": {"collaborators": "", "content": ""},
        "_links": {},
    })
}

/// A v1 `Space`.
pub(crate) fn space_json(world: &World, api: Api, s: &Space) -> Value {
    let base = base_of(world, api);
    let webui = if api == Api::Dc {
        format!("/display/{}", s.key)
    } else {
        format!("/spaces/{}", s.key)
    };
    json!({
        "id": s.id,
        "key": s.key,
        "name": s.name,
        "type": "global",
        "status": "current",
        "_expandable": {
            "settings": format!("/rest/api/space/{}/settings", s.key),
            "metadata": "",
            "operations": "",
            "lookAndFeel": format!("/rest/api/settings/lookandfeel?spaceKey={}", s.key),
            "permissions": "",
            "icon": "",
            "description": "",
            "theme": format!("/rest/api/space/{}/theme", s.key),
            "history": "",
            "homepage": s.homepage_id.map(|h| format!("/rest/api/content/{h}")).unwrap_or_default(),
        },
        "_links": {"webui": webui, "self": format!("{base}/rest/api/space/{}", s.key)},
    })
}

/// A v1 `Content` for a page, comment or attachment, with the asked expansions.
pub(crate) fn content_json(
    world: &World,
    api: Api,
    wiki: &Wiki,
    e: Entity<'_>,
    version: Option<&Version>,
    expand: &Expand,
    caller: &str,
) -> Value {
    let page = e.page();
    let space = wiki.space(page.space_id);
    let key = space.map_or("", |s| s.key.as_str());
    let base = base_of(world, api);
    let (id, current) = match e {
        Entity::Page(p) => (p.id.to_string(), version.unwrap_or(p.current())),
        Entity::Comment(c, _) => (c.id.to_string(), c.current()),
        Entity::Attachment(a, _) => (format!("att{}", a.id), &a.version),
    };
    let title = match (e, version) {
        (Entity::Page(_), Some(v)) => v.title.clone(),
        _ => e.title(),
    };
    let status = match (e, version) {
        (Entity::Page(p), Some(v)) if v.number != p.current().number => "historical",
        (Entity::Page(p), _) => p.status.as_str(),
        _ => "current",
    };
    let webui = match (e, api) {
        (Entity::Page(p), Api::Dc) => format!("/pages/viewpage.action?pageId={}", p.id),
        (Entity::Page(p), _) => format!("/spaces/{key}/pages/{}/{}", p.id, title_slug(&title)),
        (Entity::Comment(c, p), _) => format!(
            "/spaces/{key}/pages/{}/{}?focusedCommentId={}#comment-{}",
            p.id,
            title_slug(&p.current().title),
            c.id,
            c.id
        ),
        (Entity::Attachment(a, p), _) => format!(
            "/pages/viewpageattachments.action?pageId={}&preview=%2F{}%2F{}",
            p.id,
            p.id,
            title_slug(&a.title)
        ),
    };
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    out.insert("type".into(), json!(e.kind()));
    out.insert("status".into(), json!(status));
    out.insert("title".into(), json!(title));
    let mut expandable = Map::new();
    let mut put = |name: &str, value: Option<Value>, lazy: String| match value {
        Some(v) => {
            out.insert(name.into(), v);
        }
        None => {
            expandable.insert(name.into(), Value::String(lazy));
        }
    };
    put(
        "space",
        expand
            .has("space")
            .then(|| space.map(|s| space_json(world, api, s)))
            .flatten(),
        format!("/rest/api/space/{key}"),
    );
    put(
        "version",
        expand
            .has("version")
            .then(|| version_json(world, api, wiki, current)),
        String::new(),
    );
    put(
        "history",
        expand.has("history").then(|| {
            let first = match e {
                Entity::Page(p) => &p.versions[0],
                Entity::Comment(c, _) => &c.versions[0],
                Entity::Attachment(a, _) => &a.version,
            };
            json!({
                "latest": status == "current",
                "createdBy": user_or_unknown(world, api, wiki, &first.author_id),
                "createdDate": e.created(),
                "lastUpdated": version_json(world, api, wiki, current),
                "_links": {"self": format!("{base}/rest/api/content/{id}/history")},
            })
        }),
        format!("/rest/api/content/{id}/history"),
    );
    put(
        "ancestors",
        expand.has("ancestors").then(|| {
            let ids: Vec<u64> = match e {
                Entity::Page(p) => wiki.ancestors(p),
                _ => {
                    let mut a = wiki.ancestors(page);
                    a.push(page.id);
                    a
                }
            };
            Value::Array(
                ids.into_iter()
                    .filter_map(|a| wiki.page(a))
                    .map(|a| {
                        content_json(
                            world,
                            api,
                            wiki,
                            Entity::Page(a),
                            None,
                            &Expand(Vec::new()),
                            caller,
                        )
                    })
                    .collect(),
            )
        }),
        String::new(),
    );
    put(
        "container",
        expand.has("container").then(|| match e {
            Entity::Page(_) => space
                .map(|s| space_json(world, api, s))
                .unwrap_or(Value::Null),
            _ => content_json(
                world,
                api,
                wiki,
                Entity::Page(page),
                None,
                &Expand(Vec::new()),
                caller,
            ),
        }),
        format!("/rest/api/space/{key}"),
    );
    put(
        "body",
        expand.has("body.storage").then(|| {
            let value = match e {
                Entity::Attachment(..) => String::new(),
                _ => current.body.clone(),
            };
            json!({
                "storage": {
                    "value": value,
                    "representation": "storage",
                    "embeddedContent": [],
                    "_expandable": {"content": format!("/rest/api/content/{id}")},
                },
                "_expandable": {"editor": "", "view": "", "export_view": "", "styled_view": "", "dynamic": "", "atlas_doc_format": "", "anonymous_export_view": ""},
            })
        }),
        String::new(),
    );
    put(
        "metadata",
        expand.has("metadata.labels").then(|| {
            let labels: Vec<Value> = match e {
                Entity::Page(p) => p
                    .labels
                    .iter()
                    .filter_map(|l| wiki.label(*l))
                    .map(|l| json!({"prefix": l.prefix, "name": l.name, "id": l.id.to_string(), "label": l.name}))
                    .collect(),
                _ => Vec::new(),
            };
            let size = labels.len();
            json!({"labels": {"results": labels, "start": 0, "limit": 200, "size": size, "_links": {}}, "_expandable": {}})
        }),
        String::new(),
    );
    put(
        "operations",
        expand.has("operations").then(|| {
            Value::Array(
                wiki.page_operations(caller, page)
                    .into_iter()
                    .map(|(op, target)| json!({"operation": op, "targetType": target}))
                    .collect(),
            )
        }),
        String::new(),
    );
    expandable.insert(
        "children".into(),
        json!(format!("/rest/api/content/{id}/child")),
    );
    expandable.insert(
        "restrictions".into(),
        json!(format!("/rest/api/content/{id}/restriction/byOperation")),
    );
    expandable.insert(
        "descendants".into(),
        json!(format!("/rest/api/content/{id}/descendant")),
    );
    if let Entity::Attachment(a, _) = e {
        out.insert(
            "extensions".into(),
            json!({"mediaType": a.media_type, "fileSize": a.data.len(), "comment": a.comment}),
        );
    }
    out.insert("_expandable".into(), Value::Object(expandable));
    let mut links = json!({
        "webui": webui,
        "edit": format!("/pages/resumedraft.action?draftId={}", page.id),
        "tinyui": tiny_ui(page.id),
        "self": format!("{base}/rest/api/content/{id}"),
    });
    if let (Entity::Attachment(a, p), Some(l)) = (e, links.as_object_mut()) {
        l.insert(
            "download".into(),
            json!(format!(
                "/download/attachments/{}/{}?version={}",
                p.id,
                title_slug(&a.title),
                a.version.number
            )),
        );
    }
    out.insert("_links".into(), links);
    Value::Object(out)
}
