//! Spaces, space permissions and footer comments.
//!
//! Cloud v2 names spaces by numeric id (`/spaces/{id}`) and resolves keys with `?keys=`; Data
//! Center names them by key (`/rest/api/space/{key}`). Footer comments are v2 `footer-comments`
//! on Cloud and `comment` content whose container is the page on Data Center. Space permissions
//! are read from v2 (`/spaces/{id}/permissions`), the feed for mapping Confluence groups to
//! safes; Data Center has no equivalent list in its REST API.

use reqwest::Method;
use serde_json::json;

use crate::client::{ConfluenceClient, enc};
use crate::error::ConfluenceError;
use crate::model::{Comment, Page, Space};
use crate::pages::{check_id, check_limit};
use crate::paging::{Paged, Style};
use crate::records::SpacePermission;
use crate::retry::Repeat;

fn check_key(key: &str) -> Result<&str, ConfluenceError> {
    let key = key.trim();
    let ok = !key.is_empty()
        && key.len() <= 255
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '~' | '_' | '-' | '.' | ':'));
    if ok {
        Ok(key)
    } else {
        Err(ConfluenceError::Invalid(format!(
            "`{key}` is not a space key"
        )))
    }
}

fn space_from(value: &serde_json::Value) -> Result<Space, ConfluenceError> {
    Space::from_value(value).map_err(|detail| ConfluenceError::Protocol { detail })
}

impl ConfluenceClient {
    /// Reads a space: by numeric id on Cloud, by key on Data Center.
    pub async fn get_space(&self, id_or_key: &str) -> Result<Space, ConfluenceError> {
        let url = if self.is_cloud() {
            check_id(id_or_key, "space")?;
            self.endpoints().v2(&format!("/spaces/{id_or_key}"))
        } else {
            let key = check_key(id_or_key)?;
            self.endpoints().v1(&format!("/space/{}", enc(key)))
        };
        let (value, _) = self.get_json(&url, &format!("space {id_or_key}")).await?;
        space_from(&value)
    }

    /// The space a page belongs to (by its key on Data Center, its id on Cloud).
    pub async fn page_space(&self, page: &Page) -> Result<Space, ConfluenceError> {
        if self.is_cloud() {
            return self.get_space(&page.space_id).await;
        }
        match &page.space_key {
            Some(key) => self.get_space(key).await,
            None => Err(ConfluenceError::Invalid(format!(
                "page {} was read without its space",
                page.id
            ))),
        }
    }

    /// Resolves a space key (`OPS`) to the space, if it exists and is visible.
    pub async fn space_by_key(&self, key: &str) -> Result<Option<Space>, ConfluenceError> {
        let key = check_key(key)?;
        if !self.is_cloud() {
            return match self.get_space(key).await {
                Ok(space) => Ok(Some(space)),
                Err(ConfluenceError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            };
        }
        let url = self.endpoints().v2(&format!("/spaces?keys={}", enc(key)));
        let spaces = Paged::new(self, url, Style::Cursor, "spaces", Space::from_value)
            .collect_all()
            .await?;
        Ok(spaces.into_iter().find(|s| s.key.eq_ignore_ascii_case(key)))
    }

    /// Every visible space, one answer at a time.
    pub fn spaces(&self) -> Paged<Space> {
        if self.is_cloud() {
            let url = self.endpoints().v2("/spaces?limit=250");
            Paged::new(self, url, Style::Cursor, "spaces", Space::from_value)
        } else {
            let url = self.endpoints().v1("/space?start=0&limit=100");
            Paged::new(
                self,
                url,
                Style::Offset { limit: 100 },
                "spaces",
                Space::from_value,
            )
        }
    }

    /// The permission assignments of a space (Cloud v2).
    pub fn space_permissions(
        &self,
        space: &Space,
    ) -> Result<Paged<SpacePermission>, ConfluenceError> {
        if !self.is_cloud() {
            return Err(self.unsupported("listing space permissions"));
        }
        check_id(&space.id, "space")?;
        let url = self
            .endpoints()
            .v2(&format!("/spaces/{}/permissions?limit=250", space.id));
        Ok(Paged::new(
            self,
            url,
            Style::Cursor,
            format!("permissions of space {}", space.key),
            SpacePermission::from_value,
        ))
    }

    /// Adds a footer comment (storage format) to a page. Not retried once it may have reached
    /// the server, so a comment is never posted twice.
    pub async fn create_footer_comment(
        &self,
        page_id: &str,
        storage: &str,
    ) -> Result<Comment, ConfluenceError> {
        check_id(page_id, "page")?;
        let (url, body) = if self.is_cloud() {
            let body = json!({
                "pageId": page_id,
                "body": { "representation": "storage", "value": storage },
            });
            (self.endpoints().v2("/footer-comments"), body)
        } else {
            let body = json!({
                "type": "comment",
                "container": { "id": page_id, "type": "page" },
                "body": { "storage": { "value": storage, "representation": "storage" } },
            });
            (self.endpoints().v1("/content"), body)
        };
        let what = format!("page {page_id}");
        let (value, _) = self
            .call(
                Method::POST,
                &url,
                Some(&body),
                Repeat::Once,
                &[201, 200],
                &what,
            )
            .await?;
        let mut comment =
            Comment::from_value(&value).map_err(|detail| ConfluenceError::Protocol { detail })?;
        if comment.body_storage.is_empty() {
            comment.body_storage = storage.to_string();
        }
        comment.page_id.get_or_insert_with(|| page_id.to_string());
        Ok(comment)
    }

    /// The footer comments of a page, one answer at a time, with storage bodies.
    pub fn page_comments(&self, page_id: &str) -> Result<Paged<Comment>, ConfluenceError> {
        check_id(page_id, "page")?;
        let what = format!("comments of page {page_id}");
        if self.is_cloud() {
            let url = self.endpoints().v2(&format!(
                "/pages/{page_id}/footer-comments?body-format=storage&limit=100"
            ));
            return Ok(Paged::new(
                self,
                url,
                Style::Cursor,
                what,
                Comment::from_value,
            ));
        }
        let limit = check_limit(100)?;
        let url = self.endpoints().v1(&format!(
            "/content/{page_id}/child/comment?expand=body.storage,version,container\
             &depth=all&start=0&limit={limit}"
        ));
        Ok(Paged::new(
            self,
            url,
            Style::Offset { limit },
            what,
            Comment::from_value,
        ))
    }

    /// All footer comments of a page, with storage bodies.
    pub async fn footer_comments(&self, page_id: &str) -> Result<Vec<Comment>, ConfluenceError> {
        self.page_comments(page_id)?.collect_all().await
    }
}
