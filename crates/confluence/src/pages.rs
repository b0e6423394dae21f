//! Pages: read (current or historic), list and search by title, create, update, delete.
//!
//! Cloud uses v2 (`/wiki/api/v2/pages`, `body-format=storage`, `version=N` for history, cursor
//! lists). Data Center uses `/rest/api/content` with `expand=body.storage,version,space` (the
//! version number is needed for updates, the space key for the update body), `status=historical`
//! with `version=N` for history, and offset lists; a whole space is listed with
//! `content/scan` (cursor) there. An update sends version `current + 1`; a concurrent edit is a
//! [`ConfluenceError::Conflict`] (see [`edit_page`](ConfluenceClient::edit_page) for the loop
//! that re-applies an edit).

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{ConfluenceClient, enc};
use crate::error::ConfluenceError;
use crate::model::{Page, Space};
use crate::page_ref::is_page_id;
use crate::paging::{Paged, Style};
use crate::retry::Repeat;

/// What Data Center must expand for a page to carry what [`Page`] holds.
const DC_EXPAND: &str = "version,space";
const DC_EXPAND_BODY: &str = "body.storage,version,space";

/// Filters for [`ConfluenceClient::pages`].
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    space: Option<(String, String)>,
    title: Option<String>,
    statuses: Vec<String>,
    bodies: bool,
    limit: Option<u32>,
}

impl PageQuery {
    pub fn new() -> PageQuery {
        PageQuery::default()
    }

    /// Only pages of this space (Cloud filters by its id, Data Center by its key).
    pub fn in_space(mut self, space: &Space) -> PageQuery {
        self.space = Some((space.id.clone(), space.key.clone()));
        self
    }

    /// Only pages with exactly this title.
    pub fn titled(mut self, title: &str) -> PageQuery {
        self.title = Some(title.to_string());
        self
    }

    /// Only pages in this status (`current`, `archived`, `trashed`, `draft`); may be repeated.
    pub fn status(mut self, status: &str) -> PageQuery {
        self.statuses.push(status.to_string());
        self
    }

    /// Include the storage bodies.
    pub fn with_bodies(mut self) -> PageQuery {
        self.bodies = true;
        self
    }

    /// Results per answer (1 to 250; 25 unless set).
    pub fn limit(mut self, limit: u32) -> PageQuery {
        self.limit = Some(limit);
        self
    }
}

/// What to create with [`ConfluenceClient::create_page`].
#[derive(Debug, Clone)]
pub struct NewPage<'a> {
    pub space: &'a Space,
    pub title: &'a str,
    /// The parent page; the space's home page when `None`.
    pub parent_id: Option<&'a str>,
    /// The body in storage format.
    pub storage: &'a str,
}

pub(crate) fn check_id(id: &str, what: &str) -> Result<(), ConfluenceError> {
    if is_page_id(id) {
        Ok(())
    } else {
        Err(ConfluenceError::Invalid(format!(
            "`{id}` is not a {what} id (digits only)"
        )))
    }
}

pub(crate) fn check_limit(limit: u32) -> Result<u64, ConfluenceError> {
    if (1..=250).contains(&limit) {
        Ok(u64::from(limit))
    } else {
        Err(ConfluenceError::Invalid(format!(
            "a list limit must be between 1 and 250, not {limit}"
        )))
    }
}

pub(crate) fn page_from(value: &Value) -> Result<Page, ConfluenceError> {
    Page::from_value(value).map_err(|detail| ConfluenceError::Protocol { detail })
}

fn storage_body(storage: &str) -> Value {
    json!({ "storage": { "value": storage, "representation": "storage" } })
}

impl ConfluenceClient {
    /// The browser URL of a page, when the answer carried its `webui` link.
    pub fn page_url(&self, page: &Page) -> Option<String> {
        page.webui.as_ref().map(|w| self.endpoints().web(w))
    }

    /// Reads a page with its storage body.
    pub async fn get_page(&self, id: &str) -> Result<Page, ConfluenceError> {
        check_id(id, "page")?;
        let url = if self.is_cloud() {
            self.endpoints()
                .v2(&format!("/pages/{id}?body-format=storage"))
        } else {
            self.endpoints()
                .v1(&format!("/content/{id}?expand={DC_EXPAND_BODY}"))
        };
        let (value, _) = self.get_json(&url, &format!("page {id}")).await?;
        page_from(&value)
    }

    /// Reads a historic version of a page.
    pub async fn get_page_version(&self, id: &str, version: u64) -> Result<Page, ConfluenceError> {
        check_id(id, "page")?;
        let url = if self.is_cloud() {
            self.endpoints().v2(&format!(
                "/pages/{id}?version={version}&body-format=storage"
            ))
        } else {
            self.endpoints().v1(&format!(
                "/content/{id}?status=historical&version={version}&expand={DC_EXPAND_BODY}"
            ))
        };
        let what = format!("version {version} of page {id}");
        let (value, _) = self.get_json(&url, &what).await?;
        page_from(&value)
    }

    /// Pages with this exact title, with their storage bodies. `space` narrows the search: a
    /// space id on Cloud, a space key on Data Center.
    pub async fn find_pages(
        &self,
        title: &str,
        space: Option<&str>,
    ) -> Result<Vec<Page>, ConfluenceError> {
        let mut query = PageQuery::new().titled(title).with_bodies().limit(50);
        if let Some(space) = space {
            if self.is_cloud() {
                check_id(space, "space")?;
            }
            query.space = Some((space.to_string(), space.to_string()));
        }
        self.pages(&query)?.collect_all().await
    }

    /// Lists pages, one answer at a time.
    pub fn pages(&self, query: &PageQuery) -> Result<Paged<Page>, ConfluenceError> {
        let limit = check_limit(query.limit.unwrap_or(25))?;
        let mut params = Vec::new();
        if self.is_cloud() {
            if let Some((id, _)) = &query.space {
                check_id(id, "space")?;
                params.push(format!("space-id={id}"));
            }
            if let Some(t) = &query.title {
                params.push(format!("title={}", enc(t)));
            }
            if !query.statuses.is_empty() {
                let statuses: Vec<String> = query.statuses.iter().map(|s| enc(s)).collect();
                params.push(format!("status={}", statuses.join(",")));
            }
            if query.bodies {
                params.push("body-format=storage".into());
            }
            params.push(format!("limit={limit}"));
            let url = self.endpoints().v2(&format!("/pages?{}", params.join("&")));
            return Ok(Paged::new(
                self,
                url,
                Style::Cursor,
                "pages",
                Page::from_value,
            ));
        }
        params.push("type=page".into());
        if let Some((_, key)) = &query.space {
            params.push(format!("spaceKey={}", enc(key)));
        }
        if let Some(t) = &query.title {
            params.push(format!("title={}", enc(t)));
        }
        if let Some(status) = query.statuses.first() {
            params.push(format!("status={}", enc(status)));
        }
        let expand = if query.bodies {
            DC_EXPAND_BODY
        } else {
            DC_EXPAND
        };
        params.push(format!("expand={expand}&start=0&limit={limit}"));
        let url = self
            .endpoints()
            .v1(&format!("/content?{}", params.join("&")));
        Ok(Paged::new(
            self,
            url,
            Style::Offset { limit },
            "pages",
            Page::from_value,
        ))
    }

    /// Every page of a space, for crawling: Cloud `GET /pages?space-id=` (current and archived
    /// pages, the API's default), Data Center `GET /content/scan` (both cursor-paged). `limit`
    /// is the page size of each answer.
    pub fn space_pages(
        &self,
        space: &Space,
        bodies: bool,
        limit: u32,
    ) -> Result<Paged<Page>, ConfluenceError> {
        let limit = check_limit(limit)?;
        let url = if self.is_cloud() {
            check_id(&space.id, "space")?;
            let body = if bodies { "&body-format=storage" } else { "" };
            self.endpoints()
                .v2(&format!("/pages?space-id={}&limit={limit}{body}", space.id))
        } else {
            let expand = if bodies { DC_EXPAND_BODY } else { DC_EXPAND };
            self.endpoints().v1(&format!(
                "/content/scan?spaceKey={}&limit={limit}&expand={expand}",
                enc(&space.key)
            ))
        };
        let what = format!("pages of space {}", space.key);
        Ok(Paged::new(self, url, Style::Cursor, what, Page::from_value))
    }

    /// Creates a page (one attempt only if the server may have acted: a retried create could
    /// make a second page).
    pub async fn create_page(&self, new: &NewPage<'_>) -> Result<Page, ConfluenceError> {
        if new.title.trim().is_empty() {
            return Err(ConfluenceError::Invalid("a page needs a title".into()));
        }
        if let Some(parent) = new.parent_id {
            check_id(parent, "page")?;
        }
        let (url, body) = if self.is_cloud() {
            check_id(&new.space.id, "space")?;
            let mut body = json!({
                "spaceId": new.space.id, "status": "current", "title": new.title,
                "body": { "representation": "storage", "value": new.storage },
            });
            if let Some(parent) = new.parent_id {
                body["parentId"] = json!(parent);
            }
            (self.endpoints().v2("/pages"), body)
        } else {
            let mut body = json!({
                "type": "page", "title": new.title, "space": { "key": new.space.key },
                "body": storage_body(new.storage),
            });
            if let Some(parent) = new.parent_id {
                body["ancestors"] = json!([{ "id": parent }]);
            }
            (self.endpoints().v1("/content"), body)
        };
        let what = format!("space {}", new.space.key);
        let (value, _) = self
            .call(
                Method::POST,
                &url,
                Some(&body),
                Repeat::Once,
                &[200, 201],
                &what,
            )
            .await?;
        page_from(&value)
    }

    /// Replaces a page's body, as version `page.version + 1`. A concurrent edit gives `Conflict`.
    pub async fn update_page(
        &self,
        page: &Page,
        new_storage: &str,
        message: &str,
    ) -> Result<Page, ConfluenceError> {
        check_id(&page.id, "page")?;
        let version = json!({ "number": page.version + 1, "message": message });
        let (url, body) = if self.is_cloud() {
            let mut body = json!({
                "id": page.id, "status": "current", "title": page.title,
                "body": { "representation": "storage", "value": new_storage },
                "version": version,
            });
            if !page.space_id.is_empty() {
                body["spaceId"] = json!(page.space_id);
            }
            (self.endpoints().v2(&format!("/pages/{}", page.id)), body)
        } else {
            let key = page.space_key.as_deref().ok_or_else(|| {
                ConfluenceError::Invalid(format!(
                    "page {} was read without its space; read it with get_page first",
                    page.id
                ))
            })?;
            let body = json!({
                "id": page.id, "type": "page", "title": page.title,
                "space": { "key": key }, "body": storage_body(new_storage), "version": version,
            });
            (self.endpoints().v1(&format!("/content/{}", page.id)), body)
        };
        let what = format!("page {}", page.id);
        let (value, _) = self
            .call(Method::PUT, &url, Some(&body), Repeat::Safe, &[200], &what)
            .await?;
        let mut updated = page_from(&value)?;
        if !Page::has_storage(&value) {
            updated.body_storage = new_storage.to_string();
        }
        if updated.space_key.is_none() {
            updated.space_key.clone_from(&page.space_key);
        }
        Ok(updated)
    }

    /// Moves a page to the trash.
    pub async fn delete_page(&self, id: &str) -> Result<(), ConfluenceError> {
        check_id(id, "page")?;
        let url = if self.is_cloud() {
            self.endpoints().v2(&format!("/pages/{id}"))
        } else {
            self.endpoints().v1(&format!("/content/{id}"))
        };
        self.call_empty(
            Method::DELETE,
            &url,
            None,
            &[204, 200],
            &format!("page {id}"),
        )
        .await
    }
}
