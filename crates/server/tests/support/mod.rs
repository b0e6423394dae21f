//! Shared setup of the API tests: the simulators in-process (demo seed with a known
//! Administrator password and a planted secret), a bridge on the simulator's config with
//! `[server.forge]` pointing at the simulated Forge minter, the router over it, Forge
//! Invocation Tokens minted by the simulator, and OIDC tokens signed with the simulated
//! provider's key.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use arkbridge_core::config::{Config, ForgeSection};
use arkbridge_engine::Bridge;
use arkbridge_server::{AppState, Authenticator, ServerState, router};
use arkbridge_sim::{SimHandle, SimInfo};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tower::ServiceExt as _;

pub const ADMIN_PASSWORD: &str = "admin-pass-1";
/// The value of `Prod-DB/payments-db`, which must never appear in output or answers.
pub const PLANTED: &str = "Planted-Api-Secret-7!";

pub struct Env {
    pub dir: tempfile::TempDir,
    pub sim: SimHandle,
    pub info: SimInfo,
    pub config: Config,
    pub state: AppState,
    pub http: reqwest::Client,
}

fn seed() -> String {
    arkbridge_sim::DEMO_SEED
        .replacen(
            "  - username: Administrator\n",
            &format!("  - username: Administrator\n    password: {ADMIN_PASSWORD}\n"),
            1,
        )
        .replacen(
            "      - name: payments-db\n",
            &format!("      - name: payments-db\n        secret: \"{PLANTED}\"\n"),
            1,
        )
}

/// The simulators and a router over a bridge on their config: `arkbridge.toml`
/// (`local-trusted`) or, with `oidc`, `arkbridge-oidc.toml`.
pub async fn start(oidc: bool) -> Env {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let seed_path = dir.path().join("seed.yaml");
    std::fs::write(&seed_path, seed()).unwrap();
    let sim = arkbridge_sim::start(arkbridge_sim::SimOptions {
        dir: dir.path().join("sim"),
        seed: Some(seed_path),
        cpm_delay: Duration::from_millis(20),
    })
    .await
    .unwrap();
    let info = sim.info().clone();
    let file = if oidc {
        "arkbridge-oidc.toml"
    } else {
        "arkbridge.toml"
    };
    let mut config = Config::load(&dir.path().join("sim").join(file)).unwrap();
    config.server.forge = Some(forge_section(&info, &info.identity.forge_app_id));
    let auth = Authenticator::from_config(&config).unwrap();
    let (bridge, _) = Bridge::connect(config.clone()).await.unwrap();
    let state = ServerState::new(Arc::new(bridge), auth);
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&info.ca_cert).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    Env {
        dir,
        sim,
        info,
        config,
        state,
        http,
    }
}

pub fn forge_section(info: &SimInfo, app_id: &str) -> ForgeSection {
    ForgeSection {
        app_id: app_id.to_string(),
        jwks_url: Some(info.identity.forge_jwks_url.clone()),
        allowed_cloud_ids: vec![info.identity.forge_cloud_id.clone()],
        ca_cert: Some(info.ca_cert.clone()),
    }
}

/// A response's status and JSON body (`Null` when the body is not JSON), plus the raw text.
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

impl Env {
    /// One request through `router()`.
    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        call_state(&self.state, method, uri, token, body).await
    }

    /// A Forge Invocation Token for `email`, minted by the simulator.
    pub async fn fit(&self, email: &str) -> String {
        self.fit_with(json!({"email": email})).await
    }

    /// A Forge Invocation Token from the macro on page `content_id`.
    pub async fn fit_on(&self, email: &str, content_id: &str) -> String {
        self.fit_with(json!({"email": email, "contentId": content_id}))
            .await
    }

    async fn fit_with(&self, body: Value) -> String {
        let (status, body) = self.admin(&self.info.identity.forge_fit_url, body).await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    /// Moves the identity services' clock by `secs`.
    pub async fn shift_idp_clock(&self, secs: i64) {
        let url = format!("{}/__arkbridge_sim/clock", self.info.identity.idp_url);
        let (status, body) = self.admin(&url, json!({"advance_secs": secs})).await;
        assert_eq!(status, 200, "{body}");
    }

    async fn admin(&self, url: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .post(url)
            .basic_auth("Administrator", Some(ADMIN_PASSWORD))
            .json(&body)
            .send()
            .await
            .unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    /// The id of the seeded page titled `title`.
    pub async fn page(&self, title: &str) -> String {
        self.state
            .bridge
            .confluence()
            .find_pages(title, None)
            .await
            .unwrap()
            .remove(0)
            .id
    }

    /// An OIDC access token for `email` signed with the simulated provider's key, with
    /// `adjust` applied to its claims.
    pub async fn oidc_token(&self, email: &str, adjust: impl FnOnce(&mut Value)) -> String {
        let id = &self.info.identity;
        let user = id.users.iter().find(|u| u.email == email).unwrap();
        let jwks: Value = self
            .http
            .get(format!("{}/v1/keys", id.oidc_issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_string();
        let now = jiff::Timestamp::now().as_second();
        let mut claims = json!({
            "iss": id.oidc_issuer, "aud": id.oidc_api_audience, "sub": user.email,
            "uid": user.sub, "email": user.email, "email_verified": true,
            "iat": now, "nbf": now, "exp": now + 600, "jti": format!("AT.test-{now}-{email}"),
            id.oidc_groups_claim.clone(): user.groups,
        });
        if let Some(claim) = &id.oidc_account_id_claim {
            claims[claim] = json!(user.account_id);
        }
        adjust(&mut claims);
        sign_rs256(&id.oidc_signing_key, &kid, &claims)
    }

    /// Polls a run's output until it is done; returns every chunk's text and the last page.
    pub async fn poll_to_done(&self, token_for: &str, run_id: &str) -> (String, Value) {
        let mut after = 0u64;
        let mut text = String::new();
        for _ in 0..2000 {
            let token = self.fit(token_for).await;
            let a = self
                .call(
                    "GET",
                    &format!("/api/v1/runs/{run_id}/output?after={after}"),
                    Some(&token),
                    None,
                )
                .await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.text);
            for chunk in a.body["chunks"].as_array().unwrap() {
                text.push_str(chunk["text"].as_str().unwrap());
            }
            after = a.body["next"].as_u64().unwrap();
            if a.body["done"] == json!(true) {
                return (text, a.body);
            }
            // Wait for the run to change rather than spinning.
            let entry = self.state.runs.get(run_id).unwrap();
            let mut changes = entry.subscribe();
            let _ = tokio::time::timeout(Duration::from_secs(5), changes.changed()).await;
        }
        panic!("run {run_id} did not finish");
    }
}

pub async fn call_state(
    state: &AppState,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = router(state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 16 * 1024 * 1024)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, body, text }
}

/// A compact JWS signed RS256 with the PKCS#8 PEM key in `key_file`.
pub fn sign_rs256(key_file: &std::path::Path, kid: &str, claims: &Value) -> String {
    use ring::signature::RsaKeyPair;
    use rustls_pki_types::PrivatePkcs8KeyDer;
    use rustls_pki_types::pem::PemObject;

    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let input = format!(
        "{}.{}",
        b64(json!({"alg": "RS256", "kid": kid, "typ": "JWT"})
            .to_string()
            .as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let der = PrivatePkcs8KeyDer::from_pem_file(key_file).unwrap();
    let pair = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
    let mut out = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut out,
    )
    .unwrap();
    format!("{input}.{}", b64(&out))
}

/// The token with one character of its signature changed.
pub fn tamper_signature(token: &str) -> String {
    let dot = token.rfind('.').unwrap();
    let mut bytes = token.as_bytes().to_vec();
    let i = dot + 10;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}
