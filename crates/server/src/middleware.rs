//! The layers around the handlers: authentication, the caller's request budget (`limit.rs`;
//! calls over it are refused with 429 and not audited, so a flood cannot flood the log) and the
//! `api.call` audit record of every other `/api/v1` call, request metrics by route template,
//! and the JSON answers for unknown routes and methods.

use std::time::Instant;

use arkbridge_core::audit::{Action, AuditEvent, Outcome, Target};
use arkbridge_store::Store;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::{AppState, Principal};

/// What a handler says its call was about, for the `api.call` record.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuditTarget(pub(crate) Target);

/// Authenticates the caller (401 with a typed body on failure), hands the [`Principal`] to the
/// handler, and audits the call as `api.call` with its route, status and outcome.
pub(crate) async fn authenticate_and_audit(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let principal = match state
        .auth
        .authenticate(request.headers(), &state.bridge)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(
                code = e.code,
                status = e.status,
                "API call refused: {}",
                e.error
            );
            return e.into_response();
        }
    };
    let caller = format!("{}|{}", principal.actor.issuer, principal.actor.subject);
    if let Err((e, retry_after)) = state.limiter.check(&caller) {
        tracing::warn!(user = %principal.user.email, "API call over the caller's budget");
        let mut response = e.into_response();
        if let Ok(v) = axum::http::HeaderValue::from_str(&retry_after.to_string()) {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        return response;
    }
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let source = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    request.extensions_mut().insert(principal.clone());
    let response = next.run(request).await;
    let status = response.status();
    let target = response
        .extensions()
        .get::<AuditTarget>()
        .map(|t| t.0.clone())
        .unwrap_or_default();
    audit_call(&state, &principal, &method, &route, status, target, source).await;
    response
}

async fn audit_call(
    state: &AppState,
    principal: &Principal,
    method: &str,
    route: &str,
    status: StatusCode,
    target: Target,
    source: Option<String>,
) {
    let outcome = match status.as_u16() {
        200..=399 => Outcome::Success,
        401 | 403 => Outcome::Denied,
        _ => Outcome::Failure,
    };
    let mut event = AuditEvent::new(Action::ApiCall)
        .at(jiff::Timestamp::now().as_microsecond())
        .by(principal.actor.clone())
        .outcome(outcome)
        .target(target)
        .details(serde_json::json!({
            "method": method, "route": route, "status": status.as_u16(),
            "auth": principal.auth.as_str(),
        }));
    if let Some(source) = source {
        event = event.from_address(source);
    }
    if let Err(e) = state.bridge.store().append_audit(event).await {
        tracing::error!(error = %e, route, "cannot audit an API call");
    }
}

/// Records every matched request's latency by method, route template and status.
pub(crate) async fn observe(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let response = next.run(request).await;
    state.metrics.observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The answer for a path no route serves.
pub(crate) async fn no_route() -> ApiError {
    ApiError::not_found("no_route", "no such endpoint; see /api/v1/openapi.json")
}

/// The answer for a known path with a method it does not serve.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not serve that method; see /api/v1/openapi.json",
    )
}
