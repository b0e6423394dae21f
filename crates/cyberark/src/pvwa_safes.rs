//! PVWA safe and safe-member administration (`/API/Safes`, `/API/Safes/{id}/Members`).
//!
//! Safes are addressed by `safeUrlId`, the URL-encoded safe name; members by name with a
//! trailing slash (`.../Members/{name}/`), because names such as `user@cyber.com` hold dots.
//! Lists follow `nextLink` (relative to `/{app_name}/`, same origin only). Names are checked
//! locally before anything is sent (see [`crate::check_safe_name`], [`crate::check_member_name`]). Refusals
//! keep their `SFWS` code (see [`CyberArkError::safe_refusal`]).

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::{ENDPOINT, MAX_PAGES, PvwaClient, enc};
use crate::account::resolve_next_link;
use crate::error::CyberArkError;
use crate::member::{MemberType, NewSafeMember, SafeMember, check_member_name};
use crate::permissions::Permissions;
use crate::safe::{Page, Safe, SafeSettings};

/// A name used as a path segment: not blank, no control character.
fn segment(field: &'static str, value: &str) -> Result<String, CyberArkError> {
    let value = value.trim();
    if value.is_empty() || value.chars().any(char::is_control) {
        return Err(CyberArkError::Invalid {
            field,
            reason: "empty or contains a control character".into(),
        });
    }
    Ok(enc(value))
}

/// Carries `search` and `filter` of the first request into a `nextLink` that dropped them, so a
/// server that forgets them cannot widen a filtered list from the second page on.
fn keep_selection(first: &[(String, String)], next: &mut url::Url) {
    let present: Vec<String> = next
        .query_pairs()
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    let missing: Vec<&(String, String)> = first
        .iter()
        .filter(|(k, _)| {
            matches!(k.to_ascii_lowercase().as_str(), "search" | "filter")
                && !present.contains(&k.to_ascii_lowercase())
        })
        .collect();
    if missing.is_empty() {
        return;
    }
    let mut query = next.query().unwrap_or("").to_string();
    for (k, v) in missing {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(k);
        query.push('=');
        query.push_str(&enc(v));
    }
    next.set_query(Some(&query));
}

impl PvwaClient {
    /// GETs `first` and every page after it through `nextLink`.
    async fn get_all<T: DeserializeOwned>(
        &self,
        first: url::Url,
        what: &str,
    ) -> Result<Vec<T>, CyberArkError> {
        let first_query: Vec<(String, String)> = first.query_pairs().into_owned().collect();
        let mut next = Some(first);
        let mut items = Vec::new();
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(CyberArkError::Protocol {
                    endpoint: ENDPOINT,
                    detail: format!("{what} has more than {MAX_PAGES} pages"),
                });
            }
            let bytes = self.call(Method::GET, url, None).await?;
            let page: Page<T> = Self::parse(&bytes, what)?;
            items.extend(page.value);
            if let Some(link) = page.next_link {
                let mut url = resolve_next_link(&self.app_base, &link).map_err(|detail| {
                    CyberArkError::Protocol {
                        endpoint: ENDPOINT,
                        detail,
                    }
                })?;
                keep_selection(&first_query, &mut url);
                next = Some(url);
            }
        }
        Ok(items)
    }

    /// Lists the safes the caller can see (optionally matching `search` keywords), following
    /// `nextLink`.
    pub async fn list_safes(&self, search: Option<&str>) -> Result<Vec<Safe>, CyberArkError> {
        let mut rel = format!("API/Safes?limit={}", self.page_size);
        if let Some(s) = search.map(str::trim).filter(|s| !s.is_empty()) {
            rel.push_str("&search=");
            rel.push_str(&segment("search", s)?);
        }
        self.get_all(self.url(&rel)?, "safe list").await
    }

    /// Reads one safe (`404 SFWS0007` when missing or not visible).
    pub async fn get_safe(&self, safe: &str) -> Result<Safe, CyberArkError> {
        let url = self.url(&format!("API/Safes/{}", segment("safeName", safe)?))?;
        let bytes = self.call(Method::GET, url, None).await?;
        Self::parse(&bytes, "safe")
    }

    /// Adds a safe (`POST /API/Safes`, 201). The name is checked first: at most 28 characters,
    /// none of `\ / : * < > . | ? " % & +`. An existing safe is `409 SFWS0002`.
    pub async fn add_safe(
        &self,
        safe_name: &str,
        settings: &SafeSettings,
    ) -> Result<Safe, CyberArkError> {
        let body = Self::json_body(&settings.to_body(Some(safe_name))?)?;
        let url = self.url("API/Safes")?;
        let bytes = self.call(Method::POST, url, Some(&body)).await?;
        Self::parse(&bytes, "new safe")
    }

    /// Changes a safe (`PUT /API/Safes/{id}`); `rename_to` renames it (checked like a new name).
    pub async fn update_safe(
        &self,
        safe: &str,
        rename_to: Option<&str>,
        settings: &SafeSettings,
    ) -> Result<Safe, CyberArkError> {
        let url = self.url(&format!("API/Safes/{}", segment("safeName", safe)?))?;
        let mut body = settings.to_body(rename_to)?;
        if rename_to.is_none()
            && let Some(obj) = body.as_object_mut()
        {
            obj.insert("safeName".into(), json!(safe.trim()));
        }
        let body = Self::json_body(&body)?;
        let bytes = self.call(Method::PUT, url, Some(&body)).await?;
        Self::parse(&bytes, "safe")
    }

    /// Deletes a safe (`DELETE /API/Safes/{id}`, 204).
    pub async fn delete_safe(&self, safe: &str) -> Result<(), CyberArkError> {
        let url = self.url(&format!("API/Safes/{}", segment("safeName", safe)?))?;
        self.call(Method::DELETE, url, None).await.map(drop)
    }

    fn members_path(safe: &str) -> Result<String, CyberArkError> {
        Ok(format!("API/Safes/{}/Members", segment("safeName", safe)?))
    }

    fn member_path(safe: &str, member: &str) -> Result<String, CyberArkError> {
        Ok(format!(
            "{}/{}/",
            Self::members_path(safe)?,
            segment("memberName", member)?
        ))
    }

    /// Lists a safe's members, optionally only users or only groups (`filter=memberType eq ..`).
    pub async fn list_safe_members(
        &self,
        safe: &str,
        member_type: Option<MemberType>,
    ) -> Result<Vec<SafeMember>, CyberArkError> {
        let mut rel = format!("{}?limit={}", Self::members_path(safe)?, self.page_size);
        if let Some(t) = member_type {
            rel.push_str("&filter=");
            rel.push_str(&enc(&format!(
                "memberType eq {}",
                t.as_str().to_ascii_lowercase()
            )));
        }
        self.get_all(self.url(&rel)?, "safe member list").await
    }

    /// Reads one member (`GET .../Members/{name}/`, trailing slash included).
    pub async fn get_safe_member(
        &self,
        safe: &str,
        member: &str,
    ) -> Result<SafeMember, CyberArkError> {
        let url = self.url(&Self::member_path(safe, member)?)?;
        let bytes = self.call(Method::GET, url, None).await?;
        Self::parse(&bytes, "safe member")
    }

    /// Adds a member (`POST .../Members`, 201); an existing member is `409 SFWS0012`.
    pub async fn add_safe_member(
        &self,
        safe: &str,
        member: &NewSafeMember,
    ) -> Result<SafeMember, CyberArkError> {
        let body = Self::json_body(&member.to_body()?)?;
        let url = self.url(&Self::members_path(safe)?)?;
        let bytes = self.call(Method::POST, url, Some(&body)).await?;
        Self::parse(&bytes, "new safe member")
    }

    /// Replaces a member's permissions and expiration (`PUT .../Members/{name}/`); one's own
    /// membership is `400 SFWS0013`.
    pub async fn update_safe_member(
        &self,
        safe: &str,
        member: &str,
        permissions: &Permissions,
        membership_expiration_date: Option<i64>,
    ) -> Result<SafeMember, CyberArkError> {
        check_member_name(member)?;
        let url = self.url(&Self::member_path(safe, member)?)?;
        let body = Self::json_body(&json!({
            "membershipExpirationDate": membership_expiration_date,
            "permissions": permissions,
        }))?;
        let bytes = self.call(Method::PUT, url, Some(&body)).await?;
        Self::parse(&bytes, "safe member")
    }

    /// Removes a member (`DELETE .../Members/{name}/`, 204).
    pub async fn remove_safe_member(&self, safe: &str, member: &str) -> Result<(), CyberArkError> {
        let url = self.url(&Self::member_path(safe, member)?)?;
        self.call(Method::DELETE, url, None).await.map(drop)
    }
}
