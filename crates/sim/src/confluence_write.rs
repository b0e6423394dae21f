//! Page writes shared by REST v2, REST v1 and Data Center: create, update with the version
//! check, trash, purge, and the simulated concurrent edit. Errors are a [`WriteError`] that each
//! API turns into its own envelope.

use axum::http::StatusCode;
use axum::response::Response;

use crate::confluence_http::{Api, api_error, bad_request, v1_error};
use crate::wiki::{self, Page, PageStatus, Restrictions, Version, Wiki};
use crate::wiki_access::{Op, Subject};
use crate::wiki_storage;

pub(crate) use crate::confluence_page_edit::{PageEdit, storage_body};

/// Confluence's longest page title.
const MAX_TITLE: usize = 255;

pub(crate) enum WriteError {
    NotFound,
    Forbidden(&'static str),
    Conflict { current: u32, given: u64 },
    Bad(String),
}

impl WriteError {
    pub(crate) fn v2(self) -> Response {
        self.into_response(Api::V2)
    }

    pub(crate) fn into_response(self, api: Api) -> Response {
        match self {
            WriteError::NotFound => api_error(
                api,
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "Cannot find content with the given id, or you do not have permission to view it.",
            ),
            WriteError::Forbidden(what) => api_error(
                api,
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                &format!("You do not have permission to {what}."),
            ),
            WriteError::Conflict { current, given } => match api {
                Api::V2 => crate::confluence_pages::conflict(current, given, "page"),
                _ => v1_error(
                    StatusCode::CONFLICT,
                    format!("Version must be incremented on update. Current version is: {current}"),
                ),
            },
            WriteError::Bad(msg) => match api {
                Api::V2 => bad_request(msg),
                _ => v1_error(StatusCode::BAD_REQUEST, msg),
            },
        }
    }
}

fn check_title(
    wiki: &Wiki,
    space_id: u64,
    title: &str,
    except: Option<u64>,
) -> Result<(), WriteError> {
    if title.is_empty() {
        return Err(WriteError::Bad("title is required".into()));
    }
    if title.chars().count() > MAX_TITLE {
        return Err(WriteError::Bad(format!(
            "The title is longer than {MAX_TITLE} characters."
        )));
    }
    if wiki.pages.iter().any(|p| {
        Some(p.id) != except
            && p.space_id == space_id
            && p.status == PageStatus::Current
            && p.current().title == title
    }) {
        return Err(WriteError::Bad(
            "A page with this title already exists: A page already exists with the same TITLE in this space".into(),
        ));
    }
    Ok(())
}

fn check_parent(
    wiki: &Wiki,
    space_id: u64,
    parent: u64,
    caller: &str,
    moving: Option<u64>,
) -> Result<(), WriteError> {
    let p = wiki
        .page(parent)
        .filter(|p| p.status == PageStatus::Current && wiki.can_read(caller, p))
        .ok_or_else(|| WriteError::Bad(format!("The parent page [{parent}] cannot be found.")))?;
    if p.space_id != space_id {
        return Err(WriteError::Bad(
            "The parent page must be in the same space.".into(),
        ));
    }
    if let Some(id) = moving
        && (parent == id || wiki.ancestors(p).contains(&id))
    {
        return Err(WriteError::Bad(
            "A page cannot be moved below itself.".into(),
        ));
    }
    Ok(())
}

/// Creates a page; returns its id.
pub(crate) fn create_page(
    wiki: &mut Wiki,
    author: &str,
    edit: PageEdit,
    root_level: bool,
) -> Result<u64, Response> {
    create(wiki, author, edit, root_level).map_err(WriteError::v2)
}

pub(crate) fn create(
    wiki: &mut Wiki,
    author: &str,
    edit: PageEdit,
    root_level: bool,
) -> Result<u64, WriteError> {
    let space_id = edit
        .space_id
        .ok_or_else(|| WriteError::Bad("spaceId is required".into()))?;
    let space = wiki
        .space(space_id)
        .filter(|s| wiki.can_view_space(Subject::User(author), s))
        .ok_or(WriteError::NotFound)?;
    if !wiki.space_allows(Subject::User(author), space, "create", "page") {
        return Err(WriteError::Forbidden("add pages to this space"));
    }
    let parent = match (edit.parent_id, root_level) {
        (Some(_), true) => {
            return Err(WriteError::Bad(
                "parentId must not be given with root-level=true".into(),
            ));
        }
        (Some(p), false) => {
            check_parent(wiki, space_id, p, author, None)?;
            Some(p)
        }
        (None, true) => None,
        (None, false) => space.homepage_id,
    };
    check_title(wiki, space_id, &edit.title, None)?;
    let now = wiki::timestamp();
    let id = wiki.next_content_id();
    let position = wiki.next_position(space_id, parent);
    wiki.pages.push(Page {
        id,
        space_id,
        parent_id: parent,
        position,
        author_id: author.to_string(),
        owner_id: author.to_string(),
        created_at: now.clone(),
        status: PageStatus::Current,
        versions: vec![Version {
            number: 1,
            created_at: now,
            message: edit.version.map(|v| v.1).unwrap_or_default(),
            minor_edit: false,
            author_id: author.to_string(),
            title: edit.title,
            body: edit.body.unwrap_or_default(),
        }],
        labels: Vec::new(),
        properties: Vec::new(),
        restrictions: Restrictions::default(),
        attachments: Vec::new(),
    });
    tracing::debug!(page = id, "Confluence: page created");
    Ok(id)
}

/// Updates a page (the caller's rights were checked): version + 1, title, body, parent, owner. A
/// trashed page given `status: current` is restored without content changes.
pub(crate) fn update_page(
    wiki: &mut Wiki,
    id: u64,
    author: &str,
    edit: PageEdit,
) -> Result<(), WriteError> {
    let page = wiki.page(id).ok_or(WriteError::NotFound)?;
    if page.status == PageStatus::Trashed {
        if let Some(p) = wiki.page_mut(id) {
            p.status = PageStatus::Current;
        }
        return Ok(());
    }
    if !wiki.can(author, page, Op::Update) {
        return Err(WriteError::Forbidden("edit this page"));
    }
    let current = page.current().number;
    let (number, message, minor) = edit
        .version
        .clone()
        .ok_or_else(|| WriteError::Bad("version is required".into()))?;
    if number != u64::from(current) + 1 {
        return Err(WriteError::Conflict {
            current,
            given: number,
        });
    }
    let space_id = page.space_id;
    if edit.space_id.is_some_and(|s| s != space_id) {
        return Err(WriteError::Bad(
            "A page cannot be moved to another space.".into(),
        ));
    }
    if let Some(parent) = edit.parent_id {
        check_parent(wiki, space_id, parent, author, Some(id))?;
    }
    if let Some(owner) = &edit.owner_id
        && wiki.user_by_account(owner).is_none()
    {
        return Err(WriteError::Bad(format!(
            "The owner [{owner}] is not a user of this site."
        )));
    }
    check_title(wiki, space_id, &edit.title, Some(id))?;
    let body = edit.body.unwrap_or_else(|| page.current().body.clone());
    let Some(page) = wiki.page_mut(id) else {
        return Err(WriteError::NotFound);
    };
    if let Some(parent) = edit.parent_id {
        page.parent_id = Some(parent);
    }
    if let Some(owner) = edit.owner_id {
        page.owner_id = owner;
    }
    page.versions.push(Version {
        number: current + 1,
        created_at: wiki::timestamp(),
        message,
        minor_edit: minor,
        author_id: author.to_string(),
        title: edit.title,
        body,
    });
    tracing::debug!(page = id, version = current + 1, "Confluence: page updated");
    Ok(())
}

/// Someone else edits the page right now (the edit-race fault): a new version that appends a
/// paragraph, by another user when there is one.
pub(crate) fn concurrent_edit(wiki: &mut Wiki, id: u64, caller: &str) {
    let other = wiki
        .users
        .iter()
        .map(|u| u.account_id.clone())
        .find(|a| a != caller)
        .unwrap_or_else(|| caller.to_string());
    let Some(page) = wiki.page_mut(id) else {
        return;
    };
    let cur = page.current();
    let number = cur.number + 1;
    let body = format!(
        "{}<p local-id=\"{}\">Edited concurrently (arkbridge sim edit race, version {number}).</p>",
        cur.body,
        wiki_storage::local_id(&format!("race/{id}/{number}"))
    );
    let title = cur.title.clone();
    page.versions.push(Version {
        number,
        created_at: wiki::timestamp(),
        message: "concurrent edit".into(),
        minor_edit: false,
        author_id: other,
        title,
        body,
    });
    tracing::debug!(
        page = id,
        version = number,
        "Confluence: concurrent edit injected"
    );
}

/// Moves a page to the trash; its children move up to its parent, as in Confluence.
pub(crate) fn trash_page(wiki: &mut Wiki, id: u64) {
    let parent = wiki.page(id).and_then(|p| p.parent_id);
    for p in wiki.pages.iter_mut().filter(|p| p.parent_id == Some(id)) {
        p.parent_id = parent;
    }
    if let Some(p) = wiki.page_mut(id) {
        p.status = PageStatus::Trashed;
    }
}

/// Removes a trashed page and its comments for good.
pub(crate) fn purge_page(wiki: &mut Wiki, id: u64) {
    wiki.pages.retain(|p| p.id != id);
    wiki.comments.retain(|c| c.page_id != id);
}

/// [`concurrent_edit`] from outside a request (`SimHandle::concurrent_edit`); the new version
/// number, or `None` for an unknown or trashed page.
pub(crate) fn bump(world: &crate::world::World, page_id: &str) -> Option<u32> {
    let id: u64 = page_id.trim().parse().ok()?;
    let mut wiki = world.wiki();
    let page = wiki.page(id).filter(|p| p.status == PageStatus::Current)?;
    let author = page.author_id.clone();
    concurrent_edit(&mut wiki, id, &author);
    wiki.page(id).map(|p| p.current().number)
}
