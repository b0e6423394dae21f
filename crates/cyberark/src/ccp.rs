//! Central Credential Provider client: `GET {url}/{web_service}/api/Accounts?AppID=..&...`.
//!
//! The caller is identified by its AppID plus mutual TLS (and the CCP's allowed-machines list);
//! there is no session. Values are percent-encoded; `+`, `&` and `%` are refused locally because
//! the CCP does not support them in query values. Redirects are never followed. The request
//! timeout is the CCP's own `ConnectionTimeout` plus ten seconds. Unavailability is retried with
//! backoff behind the CCP's circuit breaker (see [`Resilience`]).

use std::fmt;
use std::time::Duration;

use arkbridge_core::config::CcpConfig;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::body::{CCP_BODY_LIMIT, read_body};
use crate::breaker::BreakerConfig;
use crate::ccp_account::CcpAccount;
use crate::error::{CyberArkError, classify};
use crate::retry::{Failure, Resilience, RetryPolicy, Safety, send_failure};
use crate::tls;

const ENDPOINT: &str = "ccp";

/// Everything but RFC 3986 unreserved characters is encoded (a space becomes `%20`).
pub(crate) const VALUE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How the CCP matches `Query` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryFormat {
    Exact,
    Regexp,
}

impl QueryFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            QueryFormat::Exact => "Exact",
            QueryFormat::Regexp => "Regexp",
        }
    }
}

/// One CCP lookup. `Query`, when set, makes the CCP ignore Safe/Folder/Object/UserName/Address.
#[derive(Debug, Clone, Default)]
pub struct CcpQuery {
    pub safe: Option<String>,
    pub folder: Option<String>,
    pub object: Option<String>,
    pub user_name: Option<String>,
    pub address: Option<String>,
    pub query: Option<String>,
    pub query_format: Option<QueryFormat>,
    /// Free text written to the Credential Provider audit log.
    pub reason: Option<String>,
    pub fail_request_on_password_change: bool,
}

impl CcpQuery {
    /// The account named `object` in `safe`.
    pub fn for_account(safe: &str, object: &str) -> Self {
        CcpQuery {
            safe: Some(safe.to_string()),
            object: Some(object.to_string()),
            ..CcpQuery::default()
        }
    }

    /// Sets the audit reason.
    pub fn reason(mut self, r: impl Into<String>) -> Self {
        self.reason = Some(r.into());
        self
    }

    /// Builds the query string (without `?`), checking every value.
    pub(crate) fn to_query_string(
        &self,
        app_id: &str,
        connection_timeout_secs: u32,
    ) -> Result<String, CyberArkError> {
        let selectors = [
            &self.safe,
            &self.object,
            &self.user_name,
            &self.address,
            &self.query,
        ];
        if selectors
            .iter()
            .all(|v| v.as_deref().is_none_or(|s| s.trim().is_empty()))
        {
            return Err(CyberArkError::Config(
                "a CCP query needs at least one of Safe, Object, UserName, Address or Query".into(),
            ));
        }
        let timeout = connection_timeout_secs.to_string();
        let fail = self.fail_request_on_password_change.then_some("true");
        let pairs: [(&str, Option<&str>); 11] = [
            ("AppID", Some(app_id)),
            ("Safe", self.safe.as_deref()),
            ("Folder", self.folder.as_deref()),
            ("Object", self.object.as_deref()),
            ("UserName", self.user_name.as_deref()),
            ("Address", self.address.as_deref()),
            ("Query", self.query.as_deref()),
            ("QueryFormat", self.query_format.map(QueryFormat::as_str)),
            ("FailRequestOnPasswordChange", fail),
            ("Reason", self.reason.as_deref()),
            ("ConnectionTimeout", Some(&timeout)),
        ];
        let mut out = String::new();
        for (name, value) in pairs {
            let Some(value) = value else { continue };
            check_value(name, value)?;
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(name);
            out.push('=');
            out.extend(utf8_percent_encode(value, VALUE_SET));
        }
        Ok(out)
    }
}

/// Refuses values the CCP cannot take. The message names the parameter, not the value (a
/// reason may hold a person's name, a query a host name; neither is secret, but neither helps).
fn check_value(name: &str, value: &str) -> Result<(), CyberArkError> {
    if value.trim().is_empty() {
        return Err(CyberArkError::Config(format!(
            "CCP parameter {name} is empty"
        )));
    }
    if let Some(c) = value.chars().find(|c| matches!(c, '+' | '&' | '%')) {
        return Err(CyberArkError::Config(format!(
            "CCP parameter {name} contains `{c}`, which the CCP does not support in query values"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(CyberArkError::Config(format!(
            "CCP parameter {name} contains a control character"
        )));
    }
    Ok(())
}

/// A CCP query whose URL was built and checked once (see [`CcpClient::prepare`]). It holds
/// the request URL only: no secret.
#[derive(Debug, Clone)]
pub struct PreparedCcpQuery {
    endpoint: String,
    app_id: String,
    url: reqwest::Url,
}

impl PreparedCcpQuery {
    /// The request URL.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }
}

/// A Central Credential Provider client. Cheap to clone (clones share the circuit breaker);
/// holds no secret.
#[derive(Clone)]
pub struct CcpClient {
    http: reqwest::Client,
    /// `{url}/{web_service}/api/Accounts`
    endpoint: String,
    app_id: String,
    connection_timeout_secs: u32,
    resilience: Resilience,
}

impl fmt::Debug for CcpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CcpClient")
            .field("endpoint", &self.endpoint)
            .field("app_id", &self.app_id)
            .field("connection_timeout_secs", &self.connection_timeout_secs)
            .field("resilience", &self.resilience)
            .finish()
    }
}

impl CcpClient {
    /// Reads the certificates and builds the client with the default retry policy and breaker.
    /// Fails on unreadable or invalid files and on a bad URL; never contacts the CCP.
    pub fn new(cfg: &CcpConfig) -> Result<Self, CyberArkError> {
        Self::with_resilience(
            cfg,
            Resilience::new(ENDPOINT, RetryPolicy::default(), BreakerConfig::default()),
        )
    }

    /// Like [`new`](Self::new), with a given retry policy and circuit breaker. The client
    /// identity is `client_pkcs12` (its password from the environment variable
    /// `client_pkcs12_password_env`, or the deprecated password file) when set, else the PEM
    /// pair.
    pub fn with_resilience(cfg: &CcpConfig, resilience: Resilience) -> Result<Self, CyberArkError> {
        if let Some(p12) = &cfg.client_pkcs12 {
            Self::endpoint(cfg)?;
            let password = match &cfg.client_pkcs12_password_env {
                Some(var) => pkcs12::read_password_env(var)?,
                None => pkcs12::read_password_file(cfg.client_pkcs12_password_file.as_deref())?,
            };
            return Self::with_pkcs12(cfg, p12, &password, resilience);
        }
        Self::endpoint(cfg)?;
        let tls = tls::client_config(
            cfg.ca_cert.as_deref(),
            cfg.client_cert.as_deref(),
            cfg.client_key.as_deref(),
        )?;
        Self::from_tls(cfg, tls, resilience)
    }

    /// `{url}/{web_service}/api/Accounts`, after checking the URL, the service name and the
    /// AppID.
    fn endpoint(cfg: &CcpConfig) -> Result<String, CyberArkError> {
        let base = tls::base_url(&cfg.url, "CCP")?;
        let service = cfg.web_service.trim().trim_matches('/');
        if service.is_empty() || service.contains(['?', '#', '%', '+', '&']) {
            return Err(CyberArkError::Config(format!(
                "CCP web service name `{service}` is invalid"
            )));
        }
        check_value("AppID", &cfg.app_id)?;
        Ok(format!(
            "{}/{}/api/Accounts",
            base.as_str().trim_end_matches('/'),
            service
        ))
    }

    /// Builds the client on a finished TLS configuration.
    fn from_tls(
        cfg: &CcpConfig,
        tls: rustls::ClientConfig,
        resilience: Resilience,
    ) -> Result<Self, CyberArkError> {
        let timeout = Duration::from_secs(u64::from(cfg.connection_timeout_secs) + 10);
        Ok(CcpClient {
            http: tls::http_client(tls, timeout)?,
            endpoint: Self::endpoint(cfg)?,
            app_id: cfg.app_id.clone(),
            connection_timeout_secs: cfg.connection_timeout_secs,
            resilience,
        })
    }

    /// The retry policy and circuit breaker in use.
    pub fn resilience(&self) -> &Resilience {
        &self.resilience
    }

    /// The full request URL for a query (no secret in it).
    pub fn request_url(&self, query: &CcpQuery) -> Result<String, CyberArkError> {
        let qs = query.to_query_string(&self.app_id, self.connection_timeout_secs)?;
        Ok(format!("{}?{qs}", self.endpoint))
    }

    /// Builds and checks a query's URL once, for callers that fetch the same account again and
    /// again (a poller, a cache refresher): [`get_prepared`](Self::get_prepared) then skips the
    /// per-call query building, checking and URL parsing.
    pub fn prepare(&self, query: &CcpQuery) -> Result<PreparedCcpQuery, CyberArkError> {
        let url = self.request_url(query)?;
        let url = reqwest::Url::parse(&url)
            .map_err(|e| CyberArkError::Config(format!("CCP request URL does not parse: {e}")))?;
        Ok(PreparedCcpQuery {
            endpoint: self.endpoint.clone(),
            app_id: self.app_id.clone(),
            url,
        })
    }

    /// Fetches one account, retrying unavailability (never refusals) with backoff.
    pub async fn get(&self, query: &CcpQuery) -> Result<CcpAccount, CyberArkError> {
        self.get_prepared(&self.prepare(query)?).await
    }

    /// Like [`get`](Self::get), for a query prepared by this client (or by one with the same
    /// URL, web service and AppID; any other is refused before a request is made).
    pub async fn get_prepared(
        &self,
        query: &PreparedCcpQuery,
    ) -> Result<CcpAccount, CyberArkError> {
        if query.endpoint != self.endpoint || query.app_id != self.app_id {
            return Err(CyberArkError::Config(
                "a CCP query prepared for another endpoint was used with this client".into(),
            ));
        }
        self.resilience
            .run(Safety::Idempotent, || self.get_once(&query.url))
            .await
    }

    async fn get_once(&self, url: &reqwest::Url) -> Result<CcpAccount, Failure> {
        let resp = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| send_failure(ENDPOINT, e))?;
        let status = resp.status().as_u16();
        let body = read_body(ENDPOINT, resp, CCP_BODY_LIMIT).await?;
        if status != 200 {
            return Err(classify(ENDPOINT, status, &body).into());
        }
        // `body` is a Zeroizing buffer: wiped when it goes out of scope after parsing.
        CcpAccount::from_json(&body).map_err(|detail| {
            CyberArkError::Protocol {
                endpoint: ENDPOINT,
                detail,
            }
            .into()
        })
    }
}

#[path = "ccp_pkcs12.rs"]
mod pkcs12;

#[cfg(test)]
mod tests {
    use super::*;

    fn qs(q: &CcpQuery) -> Result<String, CyberArkError> {
        q.to_query_string("arkbridge", 30)
    }

    #[test]
    fn builds_names_in_documented_case_and_order() {
        let q =
            CcpQuery::for_account("Prod-DB", "payments-db").reason("run 42 by alice@example.com");
        assert_eq!(
            qs(&q).unwrap(),
            "AppID=arkbridge&Safe=Prod-DB&Object=payments-db\
             &Reason=run%2042%20by%20alice%40example.com&ConnectionTimeout=30"
        );
    }

    #[test]
    fn optional_parameters_and_encoding() {
        let q = CcpQuery {
            folder: Some("Root\\Sub".into()),
            user_name: Some("svc user".into()),
            address: Some("db1.example.com".into()),
            query: Some("Safe=S1;Object=a b".into()),
            query_format: Some(QueryFormat::Regexp),
            fail_request_on_password_change: true,
            ..CcpQuery::default()
        };
        assert_eq!(
            qs(&q).unwrap(),
            "AppID=arkbridge&Folder=Root%5CSub&UserName=svc%20user&Address=db1.example.com\
             &Query=Safe%3DS1%3BObject%3Da%20b&QueryFormat=Regexp\
             &FailRequestOnPasswordChange=true&ConnectionTimeout=30"
        );
    }

    #[test]
    fn non_ascii_is_utf8_percent_encoded() {
        let q = CcpQuery::for_account("Prod", "bäckerei");
        assert!(qs(&q).unwrap().contains("Object=b%C3%A4ckerei"));
    }

    #[test]
    fn refuses_plus_ampersand_percent_and_control() {
        for bad in ["a+b", "a&b", "100%", "a\nb"] {
            let err = qs(&CcpQuery::for_account("S", bad)).unwrap_err();
            assert!(matches!(err, CyberArkError::Config(_)), "{bad}");
            assert!(err.to_string().contains("Object"), "{err}");
        }
        let err = qs(&CcpQuery::for_account("S", "o").reason("alice+ops@x")).unwrap_err();
        assert!(err.to_string().contains("Reason"), "{err}");
        assert!(
            CcpQuery::for_account("S", "o")
                .to_query_string("app&id", 30)
                .is_err()
        );
    }

    #[test]
    fn needs_a_selector() {
        assert!(qs(&CcpQuery::default()).is_err());
        assert!(qs(&CcpQuery::default().reason("r")).is_err());
        let q = CcpQuery {
            query: Some("Object=x".into()),
            ..CcpQuery::default()
        };
        assert!(qs(&q).is_ok());
    }

    fn config(url: &str) -> CcpConfig {
        CcpConfig {
            url: url.into(),
            web_service: "/AIMWebService/".into(),
            app_id: "arkbridge".into(),
            ca_cert: None,
            client_cert: None,
            client_key: None,
            client_pkcs12: None,
            client_pkcs12_password_file: None,
            client_pkcs12_password_env: None,
            connection_timeout_secs: 15,
        }
    }

    #[test]
    fn request_url_and_debug() {
        let c = CcpClient::new(&config("https://ccp.example.com/")).unwrap();
        let url = c.request_url(&CcpQuery::for_account("S", "o")).unwrap();
        assert_eq!(
            url,
            "https://ccp.example.com/AIMWebService/api/Accounts?AppID=arkbridge&Safe=S&Object=o&ConnectionTimeout=15"
        );
        let dbg = format!("{c:?}");
        assert!(
            dbg.contains("AIMWebService") && dbg.contains("arkbridge"),
            "{dbg}"
        );
        let prepared = c.prepare(&CcpQuery::for_account("S", "o")).unwrap();
        assert_eq!(prepared.url(), url);
    }

    #[tokio::test]
    async fn prepared_query_from_another_endpoint_is_refused_before_any_request() {
        let a = CcpClient::new(&config("https://ccp-a.example.com")).unwrap();
        let b = CcpClient::new(&config("https://ccp-b.example.com")).unwrap();
        let prepared = a.prepare(&CcpQuery::for_account("S", "o")).unwrap();
        let err = b.get_prepared(&prepared).await.unwrap_err();
        assert!(matches!(err, CyberArkError::Config(_)), "{err}");
    }

    #[test]
    fn bad_configs_are_refused() {
        assert!(CcpClient::new(&config("ccp.example.com")).is_err());
        let mut c = config("https://ccp.example.com");
        c.web_service = " / ".into();
        assert!(CcpClient::new(&c).is_err());
        let mut c = config("https://ccp.example.com");
        c.client_cert = Some("/nonexistent/client.pem".into());
        c.client_key = Some("/nonexistent/client.key".into());
        let err = CcpClient::new(&c).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/client.pem"), "{err}");
    }
}
