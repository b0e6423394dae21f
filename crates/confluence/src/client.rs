//! The Confluence Cloud v2 REST client: pages, spaces and footer comments.
//!
//! Authentication is HTTP basic with the service user's e-mail and API token; the header is
//! built once, marked sensitive, and never appears in Debug output or errors. Every call goes
//! through [`retry`](crate::retry): `429`/`503` honour `Retry-After`, idempotent calls also retry
//! `408`/`500`/`502`/`504` with jittered backoff. Answers are capped at 10 MB. List calls follow
//! the `Link` header or `_links.next`, but never off the configured site.

use std::fmt;

use arkbridge_core::config::ConfluenceConfig;
use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, LINK};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::error::{ConfluenceError, classify, transport};
use crate::model::{Comment, Page, Space, link_header_next, resolve_next, results};
use crate::page_ref::is_page_id;
use crate::retry::{self, RetryPolicy, Step};
use crate::tls;

/// Largest answer accepted.
const BODY_LIMIT: usize = 10 * 1024 * 1024;
/// Guard against servers that never stop paging.
const MAX_PAGES: usize = 500;
/// Everything but RFC 3986 unreserved characters is encoded (a space becomes `%20`).
const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, QUERY_SET).to_string()
}

/// A Confluence Cloud client. Cheap to clone.
#[derive(Clone)]
pub struct ConfluenceClient {
    http: reqwest::Client,
    /// `https://host[/prefix]`, without `/wiki`.
    site: String,
    /// `{site}/wiki`
    wiki: String,
    user: String,
    auth: HeaderValue,
    pub(crate) retry: RetryPolicy,
}

impl fmt::Debug for ConfluenceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfluenceClient")
            .field("site", &self.site)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// One HTTP answer.
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>, ConfluenceError> {
    let too_big = || ConfluenceError::Protocol {
        detail: format!("the answer is larger than {BODY_LIMIT} bytes"),
    };
    if resp.content_length().is_some_and(|n| n > BODY_LIMIT as u64) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl ConfluenceClient {
    /// Builds the client (reads the CA bundle, if any). Never contacts Confluence.
    pub fn new(cfg: &ConfluenceConfig, token: SecretString) -> Result<Self, ConfluenceError> {
        let site = tls::site_url(&cfg.url)?;
        let user = cfg.user.trim();
        if user.is_empty() || user.contains(':') || user.chars().any(char::is_control) {
            return Err(ConfluenceError::Config(
                "confluence.user is empty or contains `:`".into(),
            ));
        }
        if token.expose_secret().is_empty() {
            return Err(ConfluenceError::Config(
                "the Confluence API token is empty".into(),
            ));
        }
        let plain = Zeroizing::new(format!("{user}:{}", token.expose_secret()));
        let encoded =
            Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(plain.as_bytes()));
        let mut auth = HeaderValue::from_str(&format!("Basic {}", encoded.as_str()))
            .map_err(|_| ConfluenceError::Config("cannot build the authorization header".into()))?;
        auth.set_sensitive(true);
        let http = tls::http_client(tls::client_config(cfg.ca_cert.as_deref())?)?;
        Ok(ConfluenceClient {
            http,
            wiki: format!("{site}/wiki"),
            site,
            user: user.to_string(),
            auth,
            retry: RetryPolicy::default(),
        })
    }

    /// The site URL without `/wiki`, e.g. `https://example.atlassian.net`.
    pub fn site_url(&self) -> &str {
        &self.site
    }

    /// The browser URL of a page, when the answer carried its `webui` link.
    pub fn page_url(&self, page: &Page) -> Option<String> {
        page.webui.as_ref().map(|w| format!("{}{w}", self.wiki))
    }

    /// Sends one request with retries.
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Reply, ConfluenceError> {
        let idempotent = method != Method::POST;
        retry::run(&self.retry, |attempt| {
            let method = method.clone();
            async move {
                let mut req = self
                    .http
                    .request(method, url)
                    .header(AUTHORIZATION, self.auth.clone())
                    .header(ACCEPT, "application/json");
                if let Some(b) = body {
                    req = req.json(b);
                }
                let resp = match req.send().await {
                    Ok(r) => r,
                    Err(e) => {
                        let delay = retry::transport_retry(
                            &self.retry,
                            &e,
                            attempt,
                            idempotent,
                            retry::jitter(),
                        );
                        let err = Err(transport(e));
                        return match delay {
                            Some(d) => Step::Again(err, d),
                            None => Step::Finish(err),
                        };
                    }
                };
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let body = match read_capped(resp).await {
                    Ok(b) => b,
                    Err(e) => return Step::Finish(Err(e)),
                };
                let delay = retry::decide(
                    &self.retry,
                    status,
                    &headers,
                    attempt,
                    idempotent,
                    retry::jitter(),
                );
                let reply = Ok(Reply {
                    status,
                    headers,
                    body,
                });
                match delay {
                    Some(d) => Step::Again(reply, d),
                    None => Step::Finish(reply),
                }
            }
        })
        .await
    }

    /// Sends a request and parses a JSON answer with one of the expected statuses.
    async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        ok: &[u16],
        what: &str,
    ) -> Result<(Value, HeaderMap), ConfluenceError> {
        let reply = self.send(method, url, body).await?;
        if !ok.contains(&reply.status) {
            return Err(classify(reply.status, &reply.body, what));
        }
        let value = serde_json::from_slice(&reply.body).map_err(|e| ConfluenceError::Protocol {
            detail: format!("the answer for {what} is not JSON ({e})"),
        })?;
        Ok((value, reply.headers))
    }

    /// GETs every page of a list, following `Link: <...>; rel="next"` or `_links.next`.
    async fn collect<T>(
        &self,
        first: String,
        what: &str,
        parse: fn(&Value) -> Result<T, String>,
    ) -> Result<Vec<T>, ConfluenceError> {
        let protocol = |detail: String| ConfluenceError::Protocol { detail };
        let mut out = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        let mut next = Some(first);
        while let Some(url) = next.take() {
            if seen.len() >= MAX_PAGES || seen.contains(&url) {
                return Err(protocol(format!("the list of {what} does not end")));
            }
            let (value, headers) = self.call(Method::GET, &url, None, &[200], what).await?;
            seen.push(url);
            let (items, body_next) = results(&value).map_err(protocol)?;
            for item in items {
                out.push(parse(item).map_err(protocol)?);
            }
            let header_next = headers
                .get_all(LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(link_header_next);
            if let Some(link) = header_next.or(body_next) {
                next = Some(resolve_next(&self.site, &link).map_err(protocol)?);
            }
        }
        Ok(out)
    }

    fn check_id(id: &str, what: &str) -> Result<(), ConfluenceError> {
        if is_page_id(id) {
            Ok(())
        } else {
            Err(ConfluenceError::Invalid(format!(
                "`{id}` is not a {what} id (digits only)"
            )))
        }
    }

    fn page_from(value: &Value) -> Result<Page, ConfluenceError> {
        Page::from_value(value).map_err(|detail| ConfluenceError::Protocol { detail })
    }

    /// Reads a page with its storage body.
    pub async fn get_page(&self, id: &str) -> Result<Page, ConfluenceError> {
        Self::check_id(id, "page")?;
        let url = format!("{}/api/v2/pages/{id}?body-format=storage", self.wiki);
        let (value, _) = self
            .call(Method::GET, &url, None, &[200], &format!("page {id}"))
            .await?;
        Self::page_from(&value)
    }

    /// Reads a historic version of a page.
    pub async fn get_page_version(&self, id: &str, version: u64) -> Result<Page, ConfluenceError> {
        Self::check_id(id, "page")?;
        let url = format!(
            "{}/api/v2/pages/{id}?version={version}&body-format=storage",
            self.wiki
        );
        let what = format!("version {version} of page {id}");
        let (value, _) = self.call(Method::GET, &url, None, &[200], &what).await?;
        Self::page_from(&value)
    }

    /// Pages with this exact title, optionally in one space, with their storage bodies.
    pub async fn find_pages(
        &self,
        title: &str,
        space_id: Option<&str>,
    ) -> Result<Vec<Page>, ConfluenceError> {
        let mut url = format!("{}/api/v2/pages?title={}", self.wiki, enc(title));
        if let Some(space) = space_id {
            Self::check_id(space, "space")?;
            url.push_str(&format!("&space-id={space}"));
        }
        url.push_str("&body-format=storage&limit=50");
        self.collect(url, "pages", Page::from_value).await
    }

    /// Reads a space by numeric id.
    pub async fn get_space(&self, id: &str) -> Result<Space, ConfluenceError> {
        Self::check_id(id, "space")?;
        let url = format!("{}/api/v2/spaces/{id}", self.wiki);
        let (value, _) = self
            .call(Method::GET, &url, None, &[200], &format!("space {id}"))
            .await?;
        Space::from_value(&value).map_err(|detail| ConfluenceError::Protocol { detail })
    }

    /// Resolves a space key (`OPS`) to the space, if it exists and is visible.
    pub async fn space_by_key(&self, key: &str) -> Result<Option<Space>, ConfluenceError> {
        let key = key.trim();
        if key.is_empty() || key.contains(',') {
            return Err(ConfluenceError::Invalid(format!(
                "`{key}` is not a space key"
            )));
        }
        let url = format!("{}/api/v2/spaces?keys={}", self.wiki, enc(key));
        let spaces = self.collect(url, "spaces", Space::from_value).await?;
        Ok(spaces.into_iter().find(|s| s.key.eq_ignore_ascii_case(key)))
    }

    /// Replaces a page's body, as version `page.version + 1`. A concurrent edit gives `Conflict`.
    pub async fn update_page(
        &self,
        page: &Page,
        new_storage: &str,
        message: &str,
    ) -> Result<Page, ConfluenceError> {
        Self::check_id(&page.id, "page")?;
        let url = format!("{}/api/v2/pages/{}", self.wiki, page.id);
        let mut body = json!({
            "id": page.id,
            "status": "current",
            "title": page.title,
            "body": { "representation": "storage", "value": new_storage },
            "version": { "number": page.version + 1, "message": message },
        });
        if !page.space_id.is_empty() {
            body["spaceId"] = json!(page.space_id);
        }
        let what = format!("page {}", page.id);
        let (value, _) = self
            .call(Method::PUT, &url, Some(&body), &[200], &what)
            .await?;
        let mut updated = Self::page_from(&value)?;
        if !Page::has_storage(&value) {
            updated.body_storage = new_storage.to_string();
        }
        Ok(updated)
    }

    /// Adds a footer comment (storage format) to a page.
    pub async fn create_footer_comment(
        &self,
        page_id: &str,
        storage: &str,
    ) -> Result<Comment, ConfluenceError> {
        Self::check_id(page_id, "page")?;
        let url = format!("{}/api/v2/footer-comments", self.wiki);
        let body =
            json!({ "pageId": page_id, "body": { "representation": "storage", "value": storage } });
        let what = format!("page {page_id}");
        let (value, _) = self
            .call(Method::POST, &url, Some(&body), &[201, 200], &what)
            .await?;
        let mut comment =
            Comment::from_value(&value).map_err(|detail| ConfluenceError::Protocol { detail })?;
        if comment.body_storage.is_empty() {
            comment.body_storage = storage.to_string();
        }
        comment.page_id.get_or_insert_with(|| page_id.to_string());
        Ok(comment)
    }

    /// All (top-level) footer comments of a page, with storage bodies.
    pub async fn footer_comments(&self, page_id: &str) -> Result<Vec<Comment>, ConfluenceError> {
        Self::check_id(page_id, "page")?;
        let url = format!(
            "{}/api/v2/pages/{page_id}/footer-comments?body-format=storage&limit=100",
            self.wiki
        );
        self.collect(url, "footer comments", Comment::from_value)
            .await
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
