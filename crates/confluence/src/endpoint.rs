//! Where requests go and how they are authenticated.
//!
//! [`Endpoints`] knows the API root for each flavor: the Cloud site (`https://x.atlassian.net`),
//! the Cloud gateway (`https://api.atlassian.com/ex/confluence/{cloudId}`), or the Data Center base
//! with its context path. It builds v2 and v1 URLs under that root and resolves the pagination
//! links servers send back. Cloud next links are relative and start with `/wiki` (v2) or `/rest`
//! (v1 search, relative to `{site}/wiki`); behind the gateway they must be re-prefixed with
//! `/ex/confluence/{cloudId}`. A link to any other origin is refused, so the credentials never
//! travel elsewhere.
//!
//! [`Credentials`] builds the `Authorization` header: basic `user:token`, or `Bearer token` for
//! OAuth access tokens and Data Center personal access tokens. The header is marked sensitive,
//! can be replaced (an OAuth token refreshed elsewhere) and is never printed.

use std::sync::RwLock;

use arkbridge_core::config::{ConfluenceAuth, ConfluenceConfig, ConfluenceFlavor};
use base64::Engine as _;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::error::ConfluenceError;
use crate::tls;

/// The base URLs of one Confluence.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    pub(crate) flavor: ConfluenceFlavor,
    /// Where API calls go, without a trailing slash.
    api_root: String,
    /// `scheme://host[:port]` of `api_root`.
    api_origin: String,
    /// The path part of `api_root` (`""`, `/ex/confluence/{id}`, `/confluence`).
    api_prefix: String,
    /// The browser site: Cloud without `/wiki`, Data Center with its context path.
    site: String,
    site_origin: String,
    site_prefix: String,
}

fn origin_and_path(root: &str) -> Result<(String, String), ConfluenceError> {
    let url = url::Url::parse(root)
        .map_err(|e| ConfluenceError::Config(format!("`{root}` is not a URL: {e}")))?;
    let origin = url.origin().ascii_serialization();
    Ok((origin, url.path().trim_end_matches('/').to_string()))
}

impl Endpoints {
    pub(crate) fn new(cfg: &ConfluenceConfig) -> Result<Endpoints, ConfluenceError> {
        let cloud = cfg.flavor == ConfluenceFlavor::Cloud;
        let site = tls::site_url(&cfg.url, cloud)?;
        let api_root = match cfg.gateway() {
            Some(gateway) if cloud => {
                let gateway = tls::site_url(gateway, false)?;
                let id = cfg.cloud_id.as_deref().unwrap_or_default();
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    return Err(ConfluenceError::Config(
                        "confluence.cloud_id is not a cloud id".into(),
                    ));
                }
                format!("{gateway}/ex/confluence/{id}")
            }
            Some(_) => {
                return Err(ConfluenceError::Config(
                    "confluence.cloud_id is for Cloud only".into(),
                ));
            }
            None => site.clone(),
        };
        let (api_origin, api_prefix) = origin_and_path(&api_root)?;
        let (site_origin, site_prefix) = origin_and_path(&site)?;
        Ok(Endpoints {
            flavor: cfg.flavor,
            api_root,
            api_origin,
            api_prefix,
            site,
            site_origin,
            site_prefix,
        })
    }

    pub(crate) fn is_cloud(&self) -> bool {
        self.flavor == ConfluenceFlavor::Cloud
    }

    pub(crate) fn flavor_name(&self) -> &'static str {
        if self.is_cloud() {
            "Cloud"
        } else {
            "Data Center"
        }
    }

    pub(crate) fn api_root(&self) -> &str {
        &self.api_root
    }

    pub(crate) fn site(&self) -> &str {
        &self.site
    }

    /// A Cloud v2 URL: `{root}/wiki/api/v2{path}`.
    pub(crate) fn v2(&self, path: &str) -> String {
        format!("{}/wiki/api/v2{path}", self.api_root)
    }

    /// A v1 URL: `{root}/wiki/rest/api{path}` on Cloud, `{root}/rest/api{path}` on Data Center.
    pub(crate) fn v1(&self, path: &str) -> String {
        if self.is_cloud() {
            format!("{}/wiki/rest/api{path}", self.api_root)
        } else {
            format!("{}/rest/api{path}", self.api_root)
        }
    }

    /// A browser URL from a `_links.webui` path.
    pub(crate) fn web(&self, webui: &str) -> String {
        if self.is_cloud() {
            format!("{}/wiki{webui}", self.site)
        } else {
            format!("{}{webui}", self.site)
        }
    }

    /// Resolves a pagination link received in answer to `current`.
    pub(crate) fn resolve(&self, current: &str, link: &str) -> Result<String, String> {
        let link = link.trim();
        let elsewhere = || "pagination link points to another host".to_string();
        if link.is_empty() {
            return Err("empty pagination link".into());
        }
        if link.starts_with("//") {
            return Err(elsewhere());
        }
        let rooted = if link.starts_with("http://") || link.starts_with("https://") {
            let url = url::Url::parse(link).map_err(|e| format!("bad pagination link ({e})"))?;
            let origin = url.origin().ascii_serialization();
            let mut path = url.path().to_string();
            if let Some(q) = url.query() {
                path = format!("{path}?{q}");
            }
            if origin == self.api_origin {
                path
            } else if origin == self.site_origin && self.site_origin != self.api_origin {
                // Behind the gateway, a full link to the site itself: keep its path only.
                path.strip_prefix(&self.site_prefix)
                    .filter(|rest| rest.starts_with('/'))
                    .map(str::to_string)
                    .ok_or_else(elsewhere)?
            } else {
                return Err(elsewhere());
            }
        } else if link.starts_with('/') {
            link.to_string()
        } else {
            let base = url::Url::parse(current).map_err(|e| format!("bad request URL ({e})"))?;
            let joined = base
                .join(link)
                .map_err(|e| format!("bad pagination link ({e})"))?;
            return self.check_origin(joined.as_str());
        };
        let prefixed = format!("{}/", self.api_prefix);
        let resolved = if !self.api_prefix.is_empty() && rooted.starts_with(&prefixed) {
            format!("{}{rooted}", self.api_origin)
        } else if self.is_cloud()
            && (rooted.starts_with("/rest/") || rooted.starts_with("/api/v2/"))
        {
            // v1 links are relative to `{site}/wiki`, which is `{root}/wiki` here.
            format!("{}/wiki{rooted}", self.api_root)
        } else {
            format!("{}{rooted}", self.api_root)
        };
        self.check_origin(&resolved)
    }

    fn check_origin(&self, candidate: &str) -> Result<String, String> {
        let url = url::Url::parse(candidate).map_err(|e| format!("bad pagination link ({e})"))?;
        if url.origin().ascii_serialization() != self.api_origin {
            return Err("pagination link points to another host".into());
        }
        Ok(url.to_string())
    }
}

/// The `Authorization` header of a client.
pub(crate) struct Credentials {
    kind: ConfluenceAuth,
    user: String,
    header: RwLock<HeaderValue>,
}

fn header_for(
    kind: ConfluenceAuth,
    user: &str,
    token: &SecretString,
) -> Result<HeaderValue, ConfluenceError> {
    let secret = token.expose_secret();
    if secret.is_empty() {
        return Err(ConfluenceError::Config(
            "the Confluence token is empty".into(),
        ));
    }
    let value = match kind {
        ConfluenceAuth::Basic => {
            let plain = Zeroizing::new(format!("{user}:{secret}"));
            let encoded =
                Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(plain.as_bytes()));
            Zeroizing::new(format!("Basic {}", encoded.as_str()))
        }
        ConfluenceAuth::Oauth | ConfluenceAuth::Pat => {
            if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(ConfluenceError::Config(
                    "the Confluence bearer token contains spaces or control characters".into(),
                ));
            }
            Zeroizing::new(format!("Bearer {secret}"))
        }
    };
    let mut header = HeaderValue::from_str(value.as_str())
        .map_err(|_| ConfluenceError::Config("cannot build the authorization header".into()))?;
    header.set_sensitive(true);
    Ok(header)
}

impl Credentials {
    pub(crate) fn new(
        kind: ConfluenceAuth,
        user: &str,
        token: &SecretString,
    ) -> Result<Credentials, ConfluenceError> {
        let user = user.trim();
        match kind {
            ConfluenceAuth::Basic
                if user.is_empty() || user.contains(':') || user.chars().any(char::is_control) =>
            {
                return Err(ConfluenceError::Config(
                    "confluence.user is empty or contains `:`".into(),
                ));
            }
            ConfluenceAuth::Oauth | ConfluenceAuth::Pat if !user.is_empty() => {
                return Err(ConfluenceError::Config(
                    "confluence.user is only used with basic authentication".into(),
                ));
            }
            _ => {}
        }
        Ok(Credentials {
            kind,
            user: user.to_string(),
            header: RwLock::new(header_for(kind, user, token)?),
        })
    }

    pub(crate) fn user(&self) -> &str {
        &self.user
    }

    pub(crate) fn kind(&self) -> ConfluenceAuth {
        self.kind
    }

    pub(crate) fn header(&self) -> HeaderValue {
        self.header
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn replace(&self, token: &SecretString) -> Result<(), ConfluenceError> {
        let header = header_for(self.kind, &self.user, token)?;
        *self
            .header
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = header;
        Ok(())
    }
}

#[cfg(test)]
#[path = "endpoint_tests.rs"]
mod tests;
