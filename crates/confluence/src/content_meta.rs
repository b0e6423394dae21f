//! What hangs off a page besides its body: content properties, labels and version history, and
//! the bulk user lookup that turns version authors into people.
//!
//! Content properties and version history are Cloud v2 (`/pages/{id}/properties`,
//! `/pages/{id}/versions`). Labels are read in v2 on Cloud but written through v1
//! (`POST /wiki/rest/api/content/{id}/label`), since v2 has no write endpoint; Data Center uses
//! v1 for both. Adding a label that is already there changes nothing, so label writes are safe
//! to retry.

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{ConfluenceClient, enc};
use crate::error::ConfluenceError;
use crate::model::results;
use crate::pages::{check_id, check_limit};
use crate::paging::{Paged, Style};
use crate::records::{ContentProperty, Label, PageVersion, User};
use crate::retry::Repeat;

/// Largest batch `users-bulk` accepts.
const USERS_PER_REQUEST: usize = 250;

fn protocol(detail: String) -> ConfluenceError {
    ConfluenceError::Protocol { detail }
}

fn check_label(name: &str) -> Result<&str, ConfluenceError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 255 || name.chars().any(|c| c.is_whitespace() || c == ':') {
        return Err(ConfluenceError::Invalid(format!(
            "`{name}` is not a label name (no spaces or `:`, at most 255 characters)"
        )));
    }
    Ok(name)
}

fn check_property_key(key: &str) -> Result<&str, ConfluenceError> {
    if key.is_empty() || key.len() > 255 || key.chars().any(char::is_control) {
        return Err(ConfluenceError::Invalid(format!(
            "`{key}` is not a content property key"
        )));
    }
    Ok(key)
}

impl ConfluenceClient {
    fn cloud_only(&self, operation: &'static str) -> Result<(), ConfluenceError> {
        if self.is_cloud() {
            Ok(())
        } else {
            Err(self.unsupported(operation))
        }
    }

    /// The content properties of a page (Cloud).
    pub async fn page_properties(
        &self,
        page_id: &str,
    ) -> Result<Vec<ContentProperty>, ConfluenceError> {
        self.cloud_only("content properties")?;
        check_id(page_id, "page")?;
        let url = self
            .endpoints()
            .v2(&format!("/pages/{page_id}/properties?limit=250"));
        let what = format!("properties of page {page_id}");
        Paged::new(self, url, Style::Cursor, what, ContentProperty::from_value)
            .collect_all()
            .await
    }

    /// One content property of a page by key, if set (Cloud).
    pub async fn page_property(
        &self,
        page_id: &str,
        key: &str,
    ) -> Result<Option<ContentProperty>, ConfluenceError> {
        self.cloud_only("content properties")?;
        check_id(page_id, "page")?;
        let key = check_property_key(key)?;
        let url = self
            .endpoints()
            .v2(&format!("/pages/{page_id}/properties?key={}", enc(key)));
        let what = format!("property {key} of page {page_id}");
        let found = Paged::new(self, url, Style::Cursor, what, ContentProperty::from_value)
            .collect_all()
            .await?;
        Ok(found.into_iter().find(|p| p.key == key))
    }

    /// Sets a new content property on a page (Cloud). Not retried once it may have landed.
    pub async fn create_page_property(
        &self,
        page_id: &str,
        key: &str,
        value: &Value,
    ) -> Result<ContentProperty, ConfluenceError> {
        self.cloud_only("content properties")?;
        check_id(page_id, "page")?;
        let key = check_property_key(key)?;
        let url = self.endpoints().v2(&format!("/pages/{page_id}/properties"));
        let body = json!({ "key": key, "value": value });
        let what = format!("page {page_id}");
        let (answer, _) = self
            .call(
                Method::POST,
                &url,
                Some(&body),
                Repeat::Once,
                &[200, 201],
                &what,
            )
            .await?;
        ContentProperty::from_value(&answer).map_err(protocol)
    }

    /// Replaces a property's value, as version `property.version + 1` (Cloud). A concurrent
    /// change is a `Conflict`.
    pub async fn update_page_property(
        &self,
        page_id: &str,
        property: &ContentProperty,
        value: &Value,
    ) -> Result<ContentProperty, ConfluenceError> {
        self.cloud_only("content properties")?;
        check_id(page_id, "page")?;
        check_id(&property.id, "content property")?;
        let url = self
            .endpoints()
            .v2(&format!("/pages/{page_id}/properties/{}", property.id));
        let body = json!({
            "key": property.key, "value": value,
            "version": { "number": property.version + 1 },
        });
        let what = format!("property {} of page {page_id}", property.key);
        let (answer, _) = self
            .call(Method::PUT, &url, Some(&body), Repeat::Safe, &[200], &what)
            .await?;
        ContentProperty::from_value(&answer).map_err(protocol)
    }

    /// Deletes a content property (Cloud).
    pub async fn delete_page_property(
        &self,
        page_id: &str,
        property_id: &str,
    ) -> Result<(), ConfluenceError> {
        self.cloud_only("content properties")?;
        check_id(page_id, "page")?;
        check_id(property_id, "content property")?;
        let url = self
            .endpoints()
            .v2(&format!("/pages/{page_id}/properties/{property_id}"));
        let what = format!("property {property_id} of page {page_id}");
        self.call_empty(Method::DELETE, &url, None, &[204, 200], &what)
            .await
    }

    /// The labels of a page.
    pub async fn page_labels(&self, page_id: &str) -> Result<Vec<Label>, ConfluenceError> {
        check_id(page_id, "page")?;
        let what = format!("labels of page {page_id}");
        let paged = if self.is_cloud() {
            let url = self
                .endpoints()
                .v2(&format!("/pages/{page_id}/labels?limit=250"));
            Paged::new(self, url, Style::Cursor, what, Label::from_value)
        } else {
            let limit = check_limit(200)?;
            let url = self
                .endpoints()
                .v1(&format!("/content/{page_id}/label?start=0&limit={limit}"));
            Paged::new(self, url, Style::Offset { limit }, what, Label::from_value)
        };
        paged.collect_all().await
    }

    /// Adds `global` labels to a page (v1 on both flavors); returns the page's labels after.
    pub async fn add_labels(
        &self,
        page_id: &str,
        names: &[&str],
    ) -> Result<Vec<Label>, ConfluenceError> {
        check_id(page_id, "page")?;
        if names.is_empty() {
            return Err(ConfluenceError::Invalid("no label to add".into()));
        }
        let labels = names
            .iter()
            .map(|n| Ok(json!({ "prefix": "global", "name": check_label(n)? })))
            .collect::<Result<Vec<Value>, ConfluenceError>>()?;
        let url = self.endpoints().v1(&format!("/content/{page_id}/label"));
        let what = format!("page {page_id}");
        let (answer, _) = self
            .call(
                Method::POST,
                &url,
                Some(&Value::Array(labels)),
                Repeat::Safe,
                &[200],
                &what,
            )
            .await?;
        let (items, _) = results(&answer).map_err(protocol)?;
        items
            .iter()
            .map(|v| Label::from_value(v).map_err(protocol))
            .collect()
    }

    /// Removes a label from a page (v1 on both flavors).
    pub async fn remove_label(&self, page_id: &str, name: &str) -> Result<(), ConfluenceError> {
        check_id(page_id, "page")?;
        let name = check_label(name)?;
        let url = self
            .endpoints()
            .v1(&format!("/content/{page_id}/label?name={}", enc(name)));
        let what = format!("label {name} on page {page_id}");
        self.call_empty(Method::DELETE, &url, None, &[204, 200], &what)
            .await
    }

    /// The version history of a page, newest first (Cloud). Historic bodies come from
    /// [`get_page_version`](ConfluenceClient::get_page_version).
    pub fn page_versions(&self, page_id: &str) -> Result<Paged<PageVersion>, ConfluenceError> {
        self.cloud_only("page version history")?;
        check_id(page_id, "page")?;
        let url = self.endpoints().v2(&format!(
            "/pages/{page_id}/versions?limit=250&sort=-modified-date"
        ));
        let what = format!("versions of page {page_id}");
        Ok(Paged::new(
            self,
            url,
            Style::Cursor,
            what,
            PageVersion::from_value,
        ))
    }

    /// Users by account id (Cloud `users-bulk`, 250 per request). Unknown ids are left out.
    pub async fn users_bulk(&self, account_ids: &[&str]) -> Result<Vec<User>, ConfluenceError> {
        self.cloud_only("users-bulk")?;
        let url = self.endpoints().v2("/users-bulk");
        let mut out = Vec::with_capacity(account_ids.len());
        for chunk in account_ids.chunks(USERS_PER_REQUEST) {
            if let Some(bad) = chunk.iter().find(|id| id.trim().is_empty()) {
                return Err(ConfluenceError::Invalid(format!(
                    "`{bad}` is not an account id"
                )));
            }
            let body = json!({ "accountIds": chunk });
            // A lookup: repeating it is harmless.
            let (answer, _) = self
                .call(
                    Method::POST,
                    &url,
                    Some(&body),
                    Repeat::Safe,
                    &[200],
                    "users",
                )
                .await?;
            let (items, _) = results(&answer).map_err(protocol)?;
            for item in items {
                out.push(User::from_value(item).map_err(protocol)?);
            }
        }
        Ok(out)
    }
}
