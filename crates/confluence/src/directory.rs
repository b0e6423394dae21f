//! REST v1 calls that v2 has no equivalent for: CQL search, content permission checks,
//! restrictions, the calling user, users and groups.
//!
//! Cloud serves them under `/wiki/rest/api` (site or gateway) and names people by account id and
//! groups by id; Data Center serves them under `/rest/api` and names people by username and
//! groups by name. Cloud v1 search pages by cursor (`_links.next`, relative to `{site}/wiki`);
//! Data Center search, `memberof` and group members page by `start`/`limit`.

use reqwest::Method;
use serde_json::json;

use crate::client::{ConfluenceClient, enc};
use crate::error::ConfluenceError;
use crate::model::Page;
use crate::pages::{check_id, check_limit};
use crate::paging::{Paged, Style};
use crate::records::{Group, PermissionCheck, Restriction, SearchResult, User};
use crate::retry::Repeat;

/// Whose permission a [`ConfluenceClient::check_permission`] call asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermissionSubject {
    /// A user by account id.
    User(String),
    /// A group by id.
    Group(String),
}

fn protocol(detail: String) -> ConfluenceError {
    ConfluenceError::Protocol { detail }
}

fn check_name<'a>(value: &'a str, what: &str) -> Result<&'a str, ConfluenceError> {
    let value = value.trim();
    if value.is_empty() || value.len() > 512 || value.chars().any(char::is_control) {
        return Err(ConfluenceError::Invalid(format!(
            "`{value}` is not a {what}"
        )));
    }
    Ok(value)
}

impl ConfluenceClient {
    fn list_style(&self, limit: u64) -> Style {
        if self.is_cloud() {
            Style::Cursor
        } else {
            Style::Offset { limit }
        }
    }

    /// A search URL: cursor paging on Cloud, `start=0` added on Data Center.
    fn search_url(&self, path: &str, cql: &str, extra: &str, limit: u64) -> String {
        let start = if self.is_cloud() { "" } else { "&start=0" };
        self.endpoints().v1(&format!(
            "{path}?cql={}{extra}&limit={limit}{start}",
            enc(cql)
        ))
    }

    /// A CQL search (`/rest/api/search`): pages, blog posts, comments, spaces, users...
    pub fn search(&self, cql: &str, limit: u32) -> Result<Paged<SearchResult>, ConfluenceError> {
        let cql = check_name(cql, "CQL query")?;
        let limit = check_limit(limit)?;
        let url = self.search_url("/search", cql, "", limit);
        Ok(Paged::new(
            self,
            url,
            self.list_style(limit),
            "search results",
            SearchResult::from_value,
        ))
    }

    /// A CQL search for content (`/rest/api/content/search`), returned as pages with their
    /// version and space and, if `bodies`, their storage bodies.
    pub fn search_content(
        &self,
        cql: &str,
        bodies: bool,
        limit: u32,
    ) -> Result<Paged<Page>, ConfluenceError> {
        let cql = check_name(cql, "CQL query")?;
        let limit = check_limit(limit)?;
        let expand = if bodies {
            "&expand=body.storage,version,space"
        } else {
            "&expand=version,space"
        };
        let url = self.search_url("/content/search", cql, expand, limit);
        Ok(Paged::new(
            self,
            url,
            self.list_style(limit),
            "content search results",
            Page::from_value,
        ))
    }

    /// Whether a user or group may `read`, `update` or `delete` a piece of content (Cloud).
    pub async fn check_permission(
        &self,
        content_id: &str,
        subject: &PermissionSubject,
        operation: &str,
    ) -> Result<PermissionCheck, ConfluenceError> {
        if !self.is_cloud() {
            return Err(self.unsupported("the content permission check"));
        }
        check_id(content_id, "content")?;
        if !matches!(operation, "read" | "update" | "delete") {
            return Err(ConfluenceError::Invalid(format!(
                "`{operation}` is not a content operation (read, update, delete)"
            )));
        }
        let (kind, identifier) = match subject {
            PermissionSubject::User(id) => ("user", check_name(id, "account id")?),
            PermissionSubject::Group(id) => ("group", check_name(id, "group id")?),
        };
        let url = self
            .endpoints()
            .v1(&format!("/content/{content_id}/permission/check"));
        let body = json!({
            "subject": { "type": kind, "identifier": identifier },
            "operation": operation,
        });
        let what = format!("content {content_id}");
        // A check changes nothing: safe to repeat.
        let (answer, _) = self
            .call(Method::POST, &url, Some(&body), Repeat::Safe, &[200], &what)
            .await?;
        PermissionCheck::from_value(&answer).map_err(protocol)
    }

    /// The read and update restrictions of a piece of content.
    pub async fn restrictions(
        &self,
        content_id: &str,
    ) -> Result<Vec<Restriction>, ConfluenceError> {
        check_id(content_id, "content")?;
        let url = self.endpoints().v1(&format!(
            "/content/{content_id}/restriction/byOperation?expand=restrictions.user,restrictions.group"
        ));
        let (answer, _) = self
            .get_json(&url, &format!("restrictions of content {content_id}"))
            .await?;
        Restriction::by_operation(&answer).map_err(protocol)
    }

    /// The site's cloud id (`GET {site}/_edge/tenant_info`), for configuring the gateway.
    pub async fn discover_cloud_id(&self) -> Result<String, ConfluenceError> {
        if !self.is_cloud() {
            return Err(self.unsupported("the cloud id"));
        }
        let url = format!("{}/_edge/tenant_info", self.site_url());
        let (answer, _) = self.get_json(&url, "tenant info").await?;
        answer
            .get("cloudId")
            .and_then(serde_json::Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .ok_or_else(|| protocol("the tenant info has no cloudId".into()))
    }

    /// The user the client authenticates as.
    pub async fn current_user(&self) -> Result<User, ConfluenceError> {
        let url = self.endpoints().v1("/user/current");
        let (answer, _) = self.get_json(&url, "current user").await?;
        User::from_value(&answer).map_err(protocol)
    }

    /// A user by account id (Cloud) or username (Data Center).
    pub async fn user(&self, id: &str) -> Result<User, ConfluenceError> {
        let id = check_name(id, "user")?;
        let param = if self.is_cloud() {
            "accountId"
        } else {
            "username"
        };
        let url = self.endpoints().v1(&format!("/user?{param}={}", enc(id)));
        let (answer, _) = self.get_json(&url, &format!("user {id}")).await?;
        User::from_value(&answer).map_err(protocol)
    }

    /// The groups of a user by account id (Cloud) or username (Data Center).
    pub async fn user_groups(&self, id: &str) -> Result<Vec<Group>, ConfluenceError> {
        let id = check_name(id, "user")?;
        let param = if self.is_cloud() {
            "accountId"
        } else {
            "username"
        };
        let limit = check_limit(200)?;
        let url = self.endpoints().v1(&format!(
            "/user/memberof?{param}={}&start=0&limit={limit}",
            enc(id)
        ));
        Paged::new(
            self,
            url,
            Style::Offset { limit },
            format!("groups of user {id}"),
            Group::from_value,
        )
        .collect_all()
        .await
    }

    /// A group by id (Cloud) or name (Data Center).
    pub async fn group(&self, id_or_name: &str) -> Result<Group, ConfluenceError> {
        let id = check_name(id_or_name, "group")?;
        let url = if self.is_cloud() {
            self.endpoints().v1(&format!("/group/by-id?id={}", enc(id)))
        } else {
            self.endpoints().v1(&format!("/group/{}", enc(id)))
        };
        let (answer, _) = self.get_json(&url, &format!("group {id}")).await?;
        Group::from_value(&answer).map_err(protocol)
    }

    /// The members of a group: by its id on Cloud (name-based member lists were removed
    /// there), by its name on Data Center.
    pub fn group_members(&self, group: &Group) -> Result<Paged<User>, ConfluenceError> {
        let limit = check_limit(200)?;
        let path = if self.is_cloud() {
            let id = group.id.as_deref().ok_or_else(|| {
                ConfluenceError::Invalid(format!(
                    "group {} has no id; Cloud lists members by group id",
                    group.name
                ))
            })?;
            format!(
                "/group/{}/membersByGroupId",
                enc(check_name(id, "group id")?)
            )
        } else {
            format!("/group/{}/member", enc(check_name(&group.name, "group")?))
        };
        let url = self
            .endpoints()
            .v1(&format!("{path}?start=0&limit={limit}"));
        Ok(Paged::new(
            self,
            url,
            Style::Offset { limit },
            format!("members of group {}", group.name),
            User::from_value,
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn subjects_and_names_are_checked_locally() {
        assert!(check_name("", "user").is_err());
        assert!(check_name("a\nb", "user").is_err());
        assert_eq!(check_name(" 557058:a ", "user").unwrap(), "557058:a");
        // A restriction answer that is not an object is a protocol error, not a panic.
        assert!(Restriction::by_operation(&Value::Null).is_err());
    }
}
