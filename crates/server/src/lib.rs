//! `arkbridge serve`: the HTTP face of the bridge.
//!
//! [`router`] is the one seam: it builds every route over a [`ServerState`], and tests call it
//! directly (`tower::ServiceExt::oneshot`). [`serve`] runs it on a listener with graceful
//! shutdown (new runs refused, running runs waited for up to the grace period, then stopped and
//! their credentials settled by the engine's recovery).
//!
//! * `/api/v1/...` (`api.rs`, `api_runs.rs`): pages' runbooks, runs started in the background
//!   with their masked output by cursor polling (for Forge, which cannot hold a request open)
//!   or Server-Sent Events, approvals, explanations, the audit log. Every call is authenticated
//!   (`auth.rs`), authorised through the engine's policy, and audited as `api.call`.
//! * `/api/v1/openapi.json`: the OpenAPI 3.0 document of all of it (`openapi.json`).
//! * `/api/v1/auth/info` (`api_auth_info.rs`): the OIDC provider and public client a CLI signs
//!   in with, before it has a credential; `/api/v1/auth/whoami`: the verified caller.
//! * `/healthz`, `/readyz` (`health.rs`) and `/metrics` (`metrics.rs`).
//! * `POST /webhooks/confluence` (`webhook.rs`): Confluence Data Center webhooks, HMAC-verified
//!   with `[server.webhook] secret`; `page_updated` voids approvals of changed blocks and scans
//!   the page.
//! * The scheduler (`scheduler.rs`), started by [`serve`]: the daily audit at `[daily] run_at`
//!   and failed-rotation retries.
//! * With `[server.web]`: the web UI (`web*.rs`): OIDC sign-in at `/auth/login`, pages under
//!   `/ui`, and the session cookie as an API credential.
//!
//! Errors are `{"error", "code"}` JSON bodies (`error.rs`) that never hold a secret.

mod api;
mod api_auth_info;
mod api_runs;
mod api_scans;
pub mod auth;
pub mod cluster_node;
mod cluster_runs;
mod error;
mod health;
pub mod json_log;
mod limit;
mod line_diff;
mod metrics;
mod middleware;
mod runs;
pub mod scheduler;
mod serve;
mod web;
mod web_approvals;
mod web_approvals_api;
mod web_approvals_diff;
mod web_approvals_model;
mod web_audit;
mod web_findings;
mod web_html;
mod web_login;
mod web_pages;
mod web_session;
mod webhook;

use std::sync::{Arc, Mutex};

use arkbridge_core::config::Config;
use arkbridge_engine::Bridge;
use axum::Router;
use axum::http::Method;
use axum::routing::{MethodRouter, get, post};
use tokio::sync::watch;

pub use auth::{ApiAuth, Authenticator, Principal, SESSION_COOKIE, SessionVerifier};
pub use error::ApiError;
pub use metrics::Metrics;
pub use runs::{Chunk, OutputPage, RunRegistry, RunView};
pub use serve::{ServeError, ShutdownReport, serve};
pub use web::{CLIENT_SECRET_FIELD, CSRF_HEADER, WebError, WebUi};
pub use webhook::{WEBHOOK_SECRET_FIELD, Webhook};

/// The OpenAPI 3.0 document served at `/api/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Everything the handlers share.
#[derive(Debug)]
pub struct ServerState {
    pub bridge: Arc<Bridge>,
    pub auth: Authenticator,
    pub runs: RunRegistry,
    pub metrics: Arc<Metrics>,
    /// Each caller's request budget.
    limiter: limit::RateLimiter,
    /// Identity-provider groups that may read every audit record (`[policy] approver_groups`
    /// and `[server] audit_reader_groups`).
    audit_readers: Vec<String>,
    /// Set when shutdown begins: new runs are refused.
    shutdown: watch::Sender<bool>,
    /// Set when the grace period is over: event streams end, so the server can stop.
    streams_end: watch::Sender<bool>,
    /// The last readiness answer and when it was taken, so probes do not hammer the services.
    readiness: Mutex<Option<(std::time::Instant, arkbridge_engine::Readiness)>>,
    /// The web UI, when `[server.web]` is configured.
    web: Option<Arc<WebUi>>,
    /// The Data Center webhook, when `[server.webhook]` is configured and its secret resolved.
    webhook: Option<Webhook>,
    /// Bumped when a run is queued here, so this replica's claimer looks at once.
    claimer: watch::Sender<u64>,
    /// Set when this replica fences itself (`cluster_node.rs`): serving stops.
    fenced: watch::Sender<bool>,
}

/// The shared state handed to [`router`].
pub type AppState = Arc<ServerState>;

impl ServerState {
    /// The state for `bridge`, with the output limits and readers of its `[server]` section.
    pub fn new(bridge: Arc<Bridge>, auth: Authenticator) -> AppState {
        ServerState::with_web(bridge, auth, None)
    }

    /// The state with the web UI `web`, whose sessions `auth` accepts as a credential.
    pub fn with_web(bridge: Arc<Bridge>, auth: Authenticator, web: Option<Arc<WebUi>>) -> AppState {
        let auth = match &web {
            Some(w) => auth.with_sessions(w.clone()),
            None => auth,
        };
        let config: &Config = bridge.config();
        let mut audit_readers = config.policy.approver_groups.clone();
        audit_readers.extend(config.server.audit_reader_groups.iter().cloned());
        let runs = RunRegistry::new(
            config.server.output_limit_bytes,
            config.server.keep_finished_runs,
        );
        let webhook = Webhook::for_bridge(&bridge);
        Arc::new(ServerState {
            bridge,
            auth,
            runs,
            metrics: Arc::new(Metrics::default()),
            limiter: limit::RateLimiter::default(),
            audit_readers,
            shutdown: watch::channel(false).0,
            streams_end: watch::channel(false).0,
            readiness: Mutex::new(None),
            web,
            webhook,
            claimer: watch::channel(0).0,
            fenced: watch::channel(false).0,
        })
    }

    /// Wakes this replica's claimer of queued runs.
    pub(crate) fn wake_claimer(&self) {
        self.claimer.send_modify(|n| *n += 1);
    }

    pub(crate) fn claimer_wakeups(&self) -> watch::Receiver<u64> {
        self.claimer.subscribe()
    }

    /// How often a replica looks at the store for queued runs and new output.
    pub(crate) fn cluster_poll(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.bridge.config().cluster.poll_millis)
    }

    /// Stops this replica for good: no new runs, every run stopped, serving ends. Another
    /// replica recovers the stopped runs' credentials.
    pub async fn fence(&self) {
        self.begin_shutdown();
        self.fenced.send_replace(true);
        self.runs.stop_all().await;
    }

    /// A receiver that turns `true` when this replica fenced itself.
    pub fn fenced(&self) -> watch::Receiver<bool> {
        self.fenced.subscribe()
    }

    /// Refuses new runs from now on; everything else keeps answering.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Ends every event stream (those of finished runs end by themselves), so that the HTTP
    /// server's graceful stop does not wait for them.
    pub fn end_streams(&self) {
        self.streams_end.send_replace(true);
    }

    /// The Data Center webhook, when configured.
    pub fn webhook(&self) -> Option<&Webhook> {
        self.webhook.as_ref()
    }

    fn streams_end_signal(&self) -> watch::Receiver<bool> {
        self.streams_end.subscribe()
    }

    /// Whether `principal` may read every audit record.
    fn reads_all_audit(&self, principal: &Principal) -> bool {
        principal
            .user
            .groups
            .iter()
            .any(|g| self.audit_readers.contains(g))
    }
}

/// The authenticated `/api/v1` routes: path template, method and handler. The router is built
/// from this list, and a test checks that the OpenAPI document describes each one.
pub fn api_routes() -> Vec<(&'static str, Method, MethodRouter<AppState>)> {
    vec![
        (
            "/api/v1/pages/{page_id}/runbooks",
            Method::GET,
            get(api::page_runbooks),
        ),
        ("/api/v1/runs", Method::POST, post(api_runs::start_run)),
        ("/api/v1/runs/{id}", Method::GET, get(api_runs::get_run)),
        (
            "/api/v1/runs/{id}/output",
            Method::GET,
            get(api_runs::run_output),
        ),
        (
            "/api/v1/runs/{id}/events",
            Method::GET,
            get(api_runs::run_events),
        ),
        (
            "/api/v1/auth/whoami",
            Method::GET,
            get(api_auth_info::whoami),
        ),
        ("/api/v1/approvals", Method::POST, post(api::approve)),
        ("/api/v1/scans", Method::POST, post(api_scans::start_scan)),
        (
            "/api/v1/approvals",
            Method::GET,
            get(web_approvals_api::list_approvals),
        ),
        ("/api/v1/explain", Method::GET, get(api::explain)),
        ("/api/v1/audit", Method::GET, get(api::audit_records)),
        ("/api/v1/audit/verify", Method::GET, get(api::audit_verify)),
        (
            "/api/v1/audit/checkpoint",
            Method::GET,
            get(api::audit_checkpoint),
        ),
    ]
}

/// The routes without authentication: health, readiness, metrics and the API's description.
pub fn public_routes() -> Vec<(&'static str, Method, MethodRouter<AppState>)> {
    vec![
        ("/healthz", Method::GET, get(health::healthz)),
        ("/readyz", Method::GET, get(health::readyz)),
        ("/metrics", Method::GET, get(health::metrics)),
        ("/api/v1/openapi.json", Method::GET, get(health::openapi)),
        (
            "/api/v1/auth/info",
            Method::GET,
            get(api_auth_info::auth_info),
        ),
    ]
}

/// The whole HTTP service.
pub fn router(state: AppState) -> Router {
    let mut api = Router::new();
    for (path, _, handler) in api_routes() {
        api = api.route(path, handler);
    }
    let api = api
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::authenticate_and_audit,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::csrf_guard,
        ));
    let mut public = Router::new();
    for (path, _, handler) in public_routes() {
        public = public.route(path, handler);
    }
    if state.web.is_some() {
        public = public.merge(web::routes());
    }
    // Not under `/api/v1` and not in the OpenAPI document: Confluence calls it, signed with
    // the webhook's secret instead of a user's credential.
    public = public.route("/webhooks/confluence", post(webhook::confluence_webhook));
    public
        .merge(api)
        .fallback(middleware::no_route)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// Every route of the router is described in the OpenAPI document with its method, and the
    /// document describes no route the router lacks.
    #[test]
    fn every_route_is_in_the_openapi_document() {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap();
        assert_eq!(doc["openapi"], "3.0.3");
        let paths = doc["paths"].as_object().unwrap();
        let routes: Vec<(&str, Method)> = api_routes()
            .into_iter()
            .chain(public_routes())
            .map(|(p, m, _)| (p, m))
            .collect();
        for (path, method) in &routes {
            let op = &paths
                .get(*path)
                .unwrap_or_else(|| panic!("{path} is not in the document"))
                [method.as_str().to_ascii_lowercase()];
            assert!(op.is_object(), "{method} {path} is not in the document");
            let responses = op["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{method} {path} has no responses");
        }
        for (path, item) in paths {
            for method in item.as_object().unwrap().keys() {
                assert!(
                    routes
                        .iter()
                        .any(|(p, m)| p == path && m.as_str().eq_ignore_ascii_case(method)),
                    "the document describes {method} {path}, which the router does not serve"
                );
            }
        }
    }

    /// Each authenticated route documents the error body for 401, and the schemes exist.
    #[test]
    fn authenticated_routes_document_their_errors_and_schemes() {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap();
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
        assert_eq!(schemes["sessionCookie"]["name"], SESSION_COOKIE);
        for (path, method, _) in api_routes() {
            let op = &doc["paths"][path][method.as_str().to_ascii_lowercase()];
            for status in ["400", "401", "403", "500"] {
                assert_eq!(
                    op["responses"][status]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Error",
                    "{method} {path} {status}"
                );
            }
        }
        let error = &doc["components"]["schemas"]["Error"];
        assert_eq!(error["required"], serde_json::json!(["error", "code"]));
    }
}
