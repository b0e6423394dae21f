//! The web UI tests' setup: the simulators with a router state that serves the web UI as the
//! simulator's confidential `arkbridge-web` client, one request through `router()` with a
//! session cookie (and the common GET and approval through a session), and a browser's sign-in
//! through the simulated provider's form.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use crate::support::{self, Env};
use arkbridge_core::config::{Config, ConfigSecret, WebSection};
use arkbridge_identity::Clock;
use arkbridge_server::{AppState, Authenticator, ServerState, WebUi, router};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use secrecy::SecretString;
use tower::ServiceExt as _;

pub const PUBLIC_URL: &str = "http://127.0.0.1:8443";

/// The web client's settings as the simulator registered them.
pub fn web_config(env: &Env) -> (Config, SecretString) {
    let client = env
        .info
        .identity
        .oidc_clients
        .iter()
        .find(|c| c.client_id == "arkbridge-web")
        .expect("the demo seed registers arkbridge-web");
    let secret = client.client_secret.clone().expect("a confidential client");
    let mut config = env.config.clone();
    config.server.web = Some(WebSection {
        client_id: client.client_id.clone(),
        client_secret: ConfigSecret::Reference("cyberark://Integrations/web-ui".parse().unwrap()),
        public_url: PUBLIC_URL.into(),
        session_ttl_secs: 3600,
        cookie_secure: None,
    });
    (config, SecretString::from(secret))
}

/// The simulators and a router state with the web UI.
pub async fn start() -> (Env, AppState) {
    start_with_clock(Clock::system()).await
}

/// The same, with the sessions on `clock`.
pub async fn start_with_clock(clock: Clock) -> (Env, AppState) {
    let env = support::start(true).await;
    let (config, secret) = web_config(&env);
    let web = WebUi::new(&config, secret, clock).unwrap();
    let auth = Authenticator::from_config(&env.config).unwrap();
    let state = ServerState::with_web(env.state.bridge.clone(), auth, Some(Arc::new(web)));
    (env, state)
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }
}

/// One request through `router()` with an optional session cookie, extra headers and body.
pub async fn send(
    state: &AppState,
    method: &str,
    uri: &str,
    cookie: Option<&str>,
    extra: &[(&str, &str)],
    body: Option<(&str, String)>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, format!("arkbridge_session={c}"));
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let req = match body {
        Some((content_type, b)) => req
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(b)),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = router(state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// A GET of `uri` through `router()` as the signed-in `browser`.
pub async fn get(state: &AppState, uri: &str, browser: &Browser) -> Reply {
    send(state, "GET", uri, Some(&browser.cookie), &[], None).await
}

/// `browser` approves `block` of `page_id` through the session (`POST /api/v1/approvals` with
/// the CSRF token); the approval must be created.
pub async fn approve(state: &AppState, browser: &Browser, page_id: &str, block: &str) -> Reply {
    let body = serde_json::json!({"page_id": page_id, "block": block}).to_string();
    let approved = send(
        state,
        "POST",
        "/api/v1/approvals",
        Some(&browser.cookie),
        &[("x-csrf-token", &browser.csrf)],
        Some(("application/json", body)),
    )
    .await;
    assert_eq!(approved.status, StatusCode::CREATED, "{}", approved.text);
    approved
}

/// A signed-in browser: the session cookie and the CSRF token of its pages.
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
    pub set_cookie: String,
}

/// Signs `email` in through the provider's sign-in form; returns the session and where the
/// callback sent the browser.
pub async fn sign_in(
    env: &Env,
    state: &AppState,
    email: &str,
    return_to: &str,
) -> (Browser, String) {
    let start = send(
        state,
        "GET",
        &format!("/auth/login?return_to={return_to}"),
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.text);
    let authorize = url::Url::parse(start.header(header::LOCATION)).unwrap();
    let params: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    let param = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(param("code_challenge_method"), "S256");
    assert_eq!(param("client_id"), "arkbridge-web");
    assert_eq!(param("redirect_uri"), format!("{PUBLIC_URL}/auth/callback"));
    assert_eq!(param("code_challenge").len(), 43);
    assert!(param("nonce").len() >= 43 && param("state").len() >= 43);
    // The user fills in the provider's form.
    let password = &env
        .info
        .identity
        .users
        .iter()
        .find(|u| u.email == email)
        .unwrap()
        .password;
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.extend_pairs(&params);
    form.append_pair("username", email);
    form.append_pair("password", password);
    let mut endpoint = authorize.clone();
    endpoint.set_query(None);
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&env.info.ca_cert).unwrap()).unwrap();
    let no_redirects = reqwest::Client::builder()
        .tls_certs_only([ca])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed = no_redirects
        .post(endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.finish())
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status().as_u16(), 302);
    let back = url::Url::parse(signed.headers()["location"].to_str().unwrap()).unwrap();
    assert!(
        back.as_str()
            .starts_with(&format!("{PUBLIC_URL}/auth/callback?"))
    );
    let callback = send(
        state,
        "GET",
        &format!("/auth/callback?{}", back.query().unwrap()),
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(callback.status, StatusCode::SEE_OTHER, "{}", callback.text);
    let set_cookie = callback.header(header::SET_COOKIE).to_string();
    let cookie = set_cookie
        .strip_prefix("arkbridge_session=")
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let home = send(state, "GET", "/ui", Some(&cookie), &[], None).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.text);
    let csrf = home
        .text
        .split("<meta name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let browser = Browser {
        cookie,
        csrf,
        set_cookie,
    };
    (browser, callback.header(header::LOCATION).to_string())
}
