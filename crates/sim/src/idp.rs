//! The simulated identity services on their own HTTPS listener (same CA as the other servers):
//! an OIDC provider laid out like Okta's default authorization server (issuer
//! `https://localhost:PORT/oauth2/default`) and the Forge token minter (`/forge/...`), as the real
//! ones live on hosts of their own.
//!
//! This module holds the shared state (keys, the seeded users and clients, the pending
//! authorization codes and device grants, and the services' clock), the router, the simulator's
//! admin endpoints for the clock, and the server's start, which also gathers what `sim.json`
//! tells about the services ([`IdentityInfo`]). The clock is the system clock plus an offset an
//! admin call can move, so that tests see device codes and tokens expire without sleeping.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::SimError;
use crate::idp_info::{IdentityInfo, IdpUserInfo, OidcClientInfo};
use crate::idp_keys::SigningKey;
use crate::idp_seed::{self, ForgeSettings, IdpSettings, IdpUser, OidcClient};
use crate::oidc_authorize::AuthCode;
use crate::oidc_device::DeviceGrant;
use crate::pki::Pki;
use crate::seed::Seed;
use crate::world::World;
use crate::{files, forge, http, oidc, oidc_authorize, oidc_device, oidc_token, tls};

/// The issuer's path, as on Okta's default custom authorization server.
pub(crate) const ISSUER_PATH: &str = "/oauth2/default";

/// The pending and finished login flows, and the clock offset.
#[derive(Default)]
pub(crate) struct Flows {
    pub(crate) offset_ms: i64,
    pub(crate) codes: HashMap<String, AuthCode>,
    pub(crate) devices: HashMap<String, DeviceGrant>,
    /// `jti`s of access tokens revoked because their authorization code was replayed.
    pub(crate) revoked: HashSet<String>,
    /// Refresh tokens by digest (`oidc_refresh.rs`).
    pub(crate) refresh: HashMap<String, crate::oidc_refresh::RefreshGrant>,
}

pub(crate) struct IdpState {
    pub(crate) world: Arc<World>,
    pub(crate) settings: IdpSettings,
    pub(crate) forge: ForgeSettings,
    pub(crate) oidc_key: SigningKey,
    pub(crate) forge_key: SigningKey,
    /// `https://localhost:PORT`.
    pub(crate) base: String,
    pub(crate) issuer: String,
    flows: Mutex<Flows>,
}

impl IdpState {
    pub(crate) fn flows(&self) -> MutexGuard<'_, Flows> {
        self.flows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The services' clock in Unix milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        jiff::Timestamp::now().as_millisecond() + self.flows().offset_ms
    }

    /// The services' clock in Unix seconds.
    pub(crate) fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    pub(crate) fn client(&self, id: &str) -> Option<&OidcClient> {
        self.settings.clients.iter().find(|c| c.id == id)
    }

    pub(crate) fn user(&self, email: &str) -> Option<&IdpUser> {
        self.settings
            .users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email.trim()))
    }

    /// The user with this login name (the e-mail, as on Okta) and password.
    pub(crate) fn check_login(&self, username: &str, password: &str) -> Option<&IdpUser> {
        self.user(username)
            .filter(|u| crate::state::constant_time_eq(u.password.expose_secret(), password))
    }
}

/// `GET /__arkbridge_sim/clock`: the clock offset of the identity services.
async fn get_clock(State(s): State<Arc<IdpState>>, headers: HeaderMap) -> Response {
    if let Err(r) = crate::admin::authorize(&s.world, &headers) {
        return r;
    }
    let offset = s.flows().offset_ms / 1000;
    http::json(
        StatusCode::OK,
        &json!({"offset_secs": offset, "now": s.now()}),
    )
}

/// `POST /__arkbridge_sim/clock` with `{"offset_secs": N}` (set) or `{"advance_secs": N}` (add).
async fn set_clock(State(s): State<Arc<IdpState>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = crate::admin::authorize(&s.world, &headers) {
        return r;
    }
    let bad = |msg: &str| {
        http::json(
            StatusCode::BAD_REQUEST,
            &json!({"ErrorCode": "ARKSIM400E", "ErrorMessage": msg}),
        )
    };
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body) else {
        return bad("The body must be a JSON object.");
    };
    let secs = |key: &str| {
        map.get(key)
            .map(|v| v.as_i64().filter(|n| n.abs() <= 10 * 365 * 86_400))
    };
    let offset = {
        let mut flows = s.flows();
        match (secs("offset_secs"), secs("advance_secs")) {
            (Some(Some(n)), None) => flows.offset_ms = n * 1000,
            (None, Some(Some(n))) => flows.offset_ms += n * 1000,
            _ => {
                return bad(
                    "Give exactly one of `offset_secs` and `advance_secs`, a whole number of \
                     seconds within ten years.",
                );
            }
        }
        flows.offset_ms / 1000
    };
    tracing::info!(offset_secs = offset, "identity services: clock moved");
    http::json(
        StatusCode::OK,
        &json!({"offset_secs": offset, "now": s.now()}),
    )
}

fn router(state: Arc<IdpState>) -> Router {
    let p = |rest: &str| format!("{ISSUER_PATH}{rest}");
    Router::new()
        .route(
            &p("/.well-known/openid-configuration"),
            get(oidc::discovery),
        )
        .route(&p("/v1/keys"), get(oidc::keys))
        .route(
            &p("/v1/authorize"),
            get(oidc_authorize::page).post(oidc_authorize::login),
        )
        .route(&p("/v1/token"), post(oidc_token::token))
        .route(&p("/v1/device/authorize"), post(oidc_device::authorize))
        .route(&p("/v1/userinfo"), get(oidc::userinfo).post(oidc::userinfo))
        .route(
            "/activate",
            get(oidc_device::activate_page).post(oidc_device::activate),
        )
        .route("/forge/.well-known/jwks.json", get(forge::jwks))
        .route("/forge/__arkbridge_sim/fit", post(forge::mint))
        .route("/__arkbridge_sim/device", post(oidc_device::admin_decide))
        .route("/__arkbridge_sim/clock", get(get_clock).post(set_clock))
        .with_state(state)
}

/// The identity server, bound but not yet serving.
pub(crate) struct IdpServer {
    listener: TcpListener,
    state: Arc<IdpState>,
    info: IdentityInfo,
}

impl IdpServer {
    /// Binds a port, resolves the seed's identity settings, makes the signing keys and writes
    /// them into `dir` (mode 0600).
    pub(crate) async fn bind(
        seed: &Seed,
        world: &Arc<World>,
        dir: &Path,
    ) -> Result<IdpServer, SimError> {
        let (listener, addr) = tls::bind().await?;
        let base = format!("https://localhost:{}", addr.port());
        let (site_cloud_id, accounts) = {
            let wiki = world.wiki();
            let accounts: Vec<(String, String)> = wiki
                .users
                .iter()
                .map(|u| (u.email.clone(), u.account_id.clone()))
                .collect();
            (wiki.cloud_id.clone(), accounts)
        };
        let settings = idp_seed::idp_settings(seed, |email| {
            accounts
                .iter()
                .find(|(e, _)| e.eq_ignore_ascii_case(email))
                .map(|(_, id)| id.clone())
        })?;
        let forge = idp_seed::forge_settings(seed, &site_cloud_id)?;
        // Key generation is CPU work of some tens of milliseconds; keep it off the reactor.
        let (oidc_key, forge_key) = tokio::task::spawn_blocking(|| {
            Ok::<_, SimError>((
                SigningKey::generate("")?,
                SigningKey::generate("forge/invocation-token/")?,
            ))
        })
        .await
        .map_err(|e| SimError::Pki(format!("key generation task failed: {e}")))??;
        let oidc_key_file = dir.join("oidc-signing-key.pem");
        let forge_key_file = dir.join("forge-signing-key.pem");
        files::write_atomic(&oidc_key_file, oidc_key.pkcs8_pem().as_bytes(), true)?;
        files::write_atomic(&forge_key_file, forge_key.pkcs8_pem().as_bytes(), true)?;

        let issuer = format!("{base}{ISSUER_PATH}");
        let clients: Vec<OidcClientInfo> = settings
            .clients
            .iter()
            .map(|c| OidcClientInfo {
                client_id: c.id.clone(),
                client_secret: c.secret.as_ref().map(|s| s.expose_secret().to_string()),
                redirect_uris: c.redirect_uris.iter().map(|u| u.to_string()).collect(),
            })
            .collect();
        // The settings always hold at least one client (a default one when the seed has none).
        let first = clients.first().cloned().unwrap_or_default();
        let info = IdentityInfo {
            idp_url: base.clone(),
            oidc_issuer: issuer.clone(),
            oidc_client_id: first.client_id,
            oidc_client_secret: first.client_secret,
            oidc_clients: clients,
            oidc_api_audience: settings.api_audience.clone(),
            oidc_groups_claim: settings.groups_claim.clone(),
            oidc_account_id_claim: settings.account_id_claim.clone(),
            oidc_signing_key: oidc_key_file,
            users: settings
                .users
                .iter()
                .map(|u| IdpUserInfo {
                    email: u.email.clone(),
                    sub: u.sub.clone(),
                    password: u.password.expose_secret().to_string(),
                    groups: u.groups.clone(),
                    account_id: u.account_id.clone(),
                })
                .collect(),
            forge_app_id: forge.app_uuid.clone(),
            forge_cloud_id: forge.cloud_id.clone(),
            forge_jwks_url: format!("{base}/forge/.well-known/jwks.json"),
            forge_fit_url: format!("{base}/forge/__arkbridge_sim/fit"),
            forge_signing_key: forge_key_file,
        };
        let state = Arc::new(IdpState {
            world: world.clone(),
            settings,
            forge,
            oidc_key,
            forge_key,
            base,
            issuer,
            flows: Mutex::new(Flows::default()),
        });
        Ok(IdpServer {
            listener,
            state,
            info,
        })
    }

    pub(crate) fn info(&self) -> IdentityInfo {
        self.info.clone()
    }

    /// The provider's state, for the handle's direct calls.
    pub(crate) fn state(&self) -> Arc<IdpState> {
        self.state.clone()
    }

    /// Starts serving until `stop` turns true.
    pub(crate) fn spawn(
        self,
        pki: &Pki,
        stop: watch::Receiver<bool>,
    ) -> Result<JoinHandle<()>, SimError> {
        Ok(tls::spawn_server(
            "identity",
            self.listener,
            tls::server_config(pki, false)?,
            router(self.state),
            None,
            None,
            stop,
        ))
    }
}
