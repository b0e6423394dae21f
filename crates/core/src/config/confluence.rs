//! The `[confluence]` section of `arkbridge.toml`: which Confluence (Cloud or Data Center), how
//! the bridge authenticates, and an optional client-side request-rate cap.
//!
//! Cloud takes HTTP basic with the service user's e-mail and API token (the default, so configs
//! written before the other kinds existed stay valid), or an OAuth 2.0 access token. Both reach the
//! site URL, or the API gateway `https://api.atlassian.com/ex/confluence/{cloud_id}` when
//! `cloud_id` is set (scoped API tokens and OAuth tokens only work there). Data Center takes a
//! personal access token or basic auth with a username and password. The credential itself is a
//! [`ConfigSecret`], normally a `cyberark://` reference.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, ConfigSecret};

/// Which product the bridge talks to.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ConfluenceFlavor {
    /// Confluence Cloud (`/wiki/api/v2`, with REST v1 where v2 has no equivalent).
    #[default]
    Cloud,
    /// Confluence Data Center or Server (`/rest/api`).
    DataCenter,
}

/// How the bridge authenticates to Confluence.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ConfluenceAuth {
    /// HTTP basic: `user` with an API token (Cloud; a scoped token when `cloud_id` is set) or a
    /// password (Data Center).
    #[default]
    Basic,
    /// An OAuth 2.0 access token sent as `Authorization: Bearer`. On Cloud it only works through
    /// the API gateway, so `cloud_id` is required.
    Oauth,
    /// A Data Center personal access token sent as `Authorization: Bearer`.
    Pat,
}

/// Largest accepted `max_requests_per_second`; anything above is a typo, not a plan.
const MAX_RATE: f64 = 10_000.0;

/// The Confluence site and the bridge's credential for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfluenceConfig {
    /// Site base URL: Cloud without `/wiki` (e.g. `https://example.atlassian.net`); Data Center
    /// with its context path, if any (e.g. `https://wiki.example.com/confluence`).
    pub url: String,
    #[serde(default)]
    pub flavor: ConfluenceFlavor,
    #[serde(default)]
    pub auth: ConfluenceAuth,
    /// For `auth = "basic"`: the Atlassian account e-mail (Cloud) or the username (Data Center)
    /// of the bridge's service user. Unused by the bearer kinds.
    #[serde(default)]
    pub user: String,
    /// The API token, OAuth access token, personal access token or password.
    pub token: ConfigSecret,
    /// Cloud only: the site's cloud id. When set, API calls go through the gateway
    /// `{gateway_url}/ex/confluence/{cloud_id}` instead of the site URL.
    #[serde(default)]
    pub cloud_id: Option<String>,
    /// The gateway origin, `https://api.atlassian.com` unless set (a simulator or a proxy).
    #[serde(default)]
    pub gateway_url: Option<String>,
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// Client-side cap on requests per second (a token bucket shared by every clone of the
    /// client), so a space crawl stays under the server's rate limit. Unset: no cap.
    #[serde(default)]
    pub max_requests_per_second: Option<f64>,
}

fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(message.into())
}

fn check_http_url(field: &str, url: &str) -> Result<(), ConfigError> {
    let url = url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| invalid(format!("{field} must be an https:// URL, not `{url}`")))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid(format!("{field} `{url}` has no host")));
    }
    Ok(())
}

impl ConfluenceConfig {
    /// The gateway origin used with `cloud_id`.
    pub const DEFAULT_GATEWAY: &'static str = "https://api.atlassian.com";

    /// Checks the section: an inline credential is refused unless `allow_inline_secrets`, and
    /// the flavor, auth kind, user, cloud id and rate cap must fit together.
    pub fn validate(&self, allow_inline_secrets: bool) -> Result<(), ConfigError> {
        if !allow_inline_secrets && matches!(self.token, ConfigSecret::Inline(_)) {
            return Err(ConfigError::InlineSecret {
                field: "confluence.token",
            });
        }
        check_http_url("confluence.url", &self.url)?;
        let user = self.user.trim();
        match self.auth {
            ConfluenceAuth::Basic => {
                if user.is_empty() {
                    return Err(invalid(
                        "confluence.user is required with auth = \"basic\" (the service user's \
                         e-mail on Cloud, its username on Data Center)",
                    ));
                }
                if user.contains(':') || user.chars().any(char::is_control) {
                    return Err(invalid(
                        "confluence.user must not contain `:` or control characters",
                    ));
                }
            }
            ConfluenceAuth::Oauth | ConfluenceAuth::Pat if !user.is_empty() => {
                return Err(invalid(
                    "confluence.user is only used with auth = \"basic\"; a bearer token names \
                     its user itself",
                ));
            }
            ConfluenceAuth::Oauth | ConfluenceAuth::Pat => {}
        }
        match (self.flavor, self.auth) {
            (ConfluenceFlavor::Cloud, ConfluenceAuth::Pat) => {
                return Err(invalid(
                    "confluence.auth = \"pat\" is for Data Center; Cloud takes \"basic\" (API \
                     token) or \"oauth\"",
                ));
            }
            (ConfluenceFlavor::Cloud, ConfluenceAuth::Oauth) if self.cloud_id.is_none() => {
                return Err(invalid(
                    "confluence.auth = \"oauth\" needs cloud_id: OAuth tokens only work through \
                     the gateway api.atlassian.com/ex/confluence/{cloud_id}",
                ));
            }
            _ => {}
        }
        if let Some(id) = &self.cloud_id {
            if self.flavor == ConfluenceFlavor::DataCenter {
                return Err(invalid("confluence.cloud_id is for Cloud only"));
            }
            let ok = !id.is_empty()
                && id.len() <= 64
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !ok {
                return Err(invalid(
                    "confluence.cloud_id must be the site's cloud id (letters, digits and `-`, \
                     as in https://SITE.atlassian.net/_edge/tenant_info)",
                ));
            }
        }
        match (&self.gateway_url, &self.cloud_id) {
            (Some(_), None) => {
                return Err(invalid(
                    "confluence.gateway_url is only used together with cloud_id",
                ));
            }
            (Some(url), Some(_)) => check_http_url("confluence.gateway_url", url)?,
            (None, _) => {}
        }
        if let Some(rate) = self.max_requests_per_second
            && !(rate.is_finite() && rate > 0.0 && rate <= MAX_RATE)
        {
            return Err(invalid(format!(
                "confluence.max_requests_per_second must be above 0 and at most {MAX_RATE}"
            )));
        }
        Ok(())
    }

    /// The gateway origin, if API calls go through the gateway.
    pub fn gateway(&self) -> Option<&str> {
        self.cloud_id.as_ref()?;
        Some(self.gateway_url.as_deref().unwrap_or(Self::DEFAULT_GATEWAY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretRef;

    fn base() -> ConfluenceConfig {
        ConfluenceConfig {
            url: "https://example.atlassian.net".into(),
            flavor: ConfluenceFlavor::Cloud,
            auth: ConfluenceAuth::Basic,
            user: "bot@example.com".into(),
            token: ConfigSecret::Reference(SecretRef::new("Integrations", "confluence-token")),
            cloud_id: None,
            gateway_url: None,
            ca_cert: None,
            max_requests_per_second: None,
        }
    }

    fn parse(text: &str) -> Result<ConfluenceConfig, String> {
        let c: ConfluenceConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        c.validate(false).map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn old_configs_default_to_cloud_basic() {
        let c = parse(
            "url = \"https://x.atlassian.net\"\nuser = \"a@b.c\"\n\
             token = \"cyberark://Integrations/confluence-api-token\"\n",
        )
        .unwrap();
        assert_eq!(
            (c.flavor, c.auth),
            (ConfluenceFlavor::Cloud, ConfluenceAuth::Basic)
        );
        assert_eq!(c.gateway(), None);
        assert_eq!(c.max_requests_per_second, None);
    }

    #[test]
    fn every_auth_kind_parses_with_its_requirements() {
        let c = parse(
            "url = \"https://x.atlassian.net\"\nauth = \"oauth\"\ncloud_id = \"1a2b-3c\"\n\
             token = \"cyberark://Integrations/confluence-oauth\"\nmax_requests_per_second = 95\n",
        )
        .unwrap();
        assert_eq!(c.gateway(), Some("https://api.atlassian.com"));
        assert_eq!(c.max_requests_per_second, Some(95.0));
        let c = parse(
            "url = \"https://wiki.example.com/confluence\"\nflavor = \"data-center\"\n\
             auth = \"pat\"\ntoken = \"cyberark://Integrations/confluence-pat\"\n",
        )
        .unwrap();
        assert_eq!(
            (c.flavor, c.auth),
            (ConfluenceFlavor::DataCenter, ConfluenceAuth::Pat)
        );
        let c = parse(
            "url = \"https://x.atlassian.net\"\nuser = \"a@b.c\"\ncloud_id = \"abc\"\n\
             gateway_url = \"https://127.0.0.1:9\"\ntoken = \"cyberark://I/scoped\"\n",
        )
        .unwrap();
        assert_eq!(c.gateway(), Some("https://127.0.0.1:9"));
    }

    #[test]
    fn mismatched_settings_are_refused_with_a_reason() {
        let cases: Vec<(ConfluenceConfig, &str)> = vec![
            (
                ConfluenceConfig {
                    user: String::new(),
                    ..base()
                },
                "confluence.user is required",
            ),
            (
                ConfluenceConfig {
                    user: "a:b".into(),
                    ..base()
                },
                "must not contain",
            ),
            (
                ConfluenceConfig {
                    auth: ConfluenceAuth::Pat,
                    user: String::new(),
                    ..base()
                },
                "is for Data Center",
            ),
            (
                ConfluenceConfig {
                    auth: ConfluenceAuth::Oauth,
                    user: String::new(),
                    ..base()
                },
                "needs cloud_id",
            ),
            (
                ConfluenceConfig {
                    auth: ConfluenceAuth::Oauth,
                    cloud_id: Some("abc".into()),
                    ..base()
                },
                "only used with auth = \"basic\"",
            ),
            (
                ConfluenceConfig {
                    flavor: ConfluenceFlavor::DataCenter,
                    cloud_id: Some("abc".into()),
                    ..base()
                },
                "for Cloud only",
            ),
            (
                ConfluenceConfig {
                    cloud_id: Some("a/b".into()),
                    ..base()
                },
                "cloud id",
            ),
            (
                ConfluenceConfig {
                    gateway_url: Some("https://gw".into()),
                    ..base()
                },
                "together with cloud_id",
            ),
            (
                ConfluenceConfig {
                    cloud_id: Some("abc".into()),
                    gateway_url: Some("gw.example".into()),
                    ..base()
                },
                "gateway_url must be an https:// URL",
            ),
            (
                ConfluenceConfig {
                    url: "example.atlassian.net".into(),
                    ..base()
                },
                "confluence.url must be",
            ),
            (
                ConfluenceConfig {
                    url: "https:///wiki".into(),
                    ..base()
                },
                "has no host",
            ),
        ];
        for (config, want) in cases {
            let err = config.validate(true).unwrap_err().to_string();
            assert!(err.contains(want), "{err} should contain {want}");
        }
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e6] {
            let c = ConfluenceConfig {
                max_requests_per_second: Some(rate),
                ..base()
            };
            assert!(c.validate(true).is_err(), "{rate}");
        }
    }

    #[test]
    fn inline_token_is_refused_unless_allowed_and_never_echoed() {
        let c = ConfluenceConfig {
            auth: ConfluenceAuth::Pat,
            flavor: ConfluenceFlavor::DataCenter,
            user: String::new(),
            token: ConfigSecret::Inline("pat-hunter2".into()),
            ..base()
        };
        let err = c.validate(false).unwrap_err().to_string();
        assert!(
            err.contains("confluence.token") && !err.contains("hunter2"),
            "{err}"
        );
        c.validate(true).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn round_trips_through_toml() {
        let c = ConfluenceConfig {
            cloud_id: Some("abc-123".into()),
            gateway_url: Some("https://gw.example".into()),
            max_requests_per_second: Some(12.5),
            ..base()
        };
        let text = toml::to_string(&c).unwrap();
        let back: ConfluenceConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, c);
    }
}
