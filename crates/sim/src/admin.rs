//! The simulator's own admin endpoints on the PVWA server: `/__arkbridge_sim/faults` and
//! `/__arkbridge_sim/activities`.
//!
//! `GET faults` returns the current faults, `POST` changes the fields it names (and may kill
//! every PVWA session with `"kill_sessions": true`, or move the load balancer to another PVWA
//! node with `"switch_node": true`), `DELETE` clears all faults. `GET activities` returns the
//! Vault-wide audit, newest first: logons, logoffs, retrievals, CCP fetches and credential
//! operations. Every call needs HTTP basic
//! authentication as the PVWA user `Administrator` (the password from the seed, or the random one
//! only the seed author can know); others get 401 with a `WWW-Authenticate` challenge. The path
//! cannot clash with the real API, which lives under `/PasswordVault/`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::faults::Faults;
use crate::http;
use crate::world::World;

/// The only PVWA user who may change faults.
const ADMIN_USER: &str = "Administrator";

fn error(status: StatusCode, code: &str, msg: impl Into<String>) -> Response {
    http::json(
        status,
        &json!({"ErrorCode": code, "ErrorMessage": msg.into()}),
    )
}

/// Checks basic authentication as `Administrator`.
pub(crate) fn authorize(world: &World, headers: &HeaderMap) -> Result<(), Response> {
    let challenge = || {
        let mut r = error(
            StatusCode::UNAUTHORIZED,
            "ARKSIM401E",
            "The simulator admin API needs basic authentication as the PVWA Administrator.",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"arkbridge sim\""),
        );
        r
    };
    let encoded = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Basic"))
        .map(|(_, rest)| rest.trim())
        .ok_or_else(challenge)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map(Zeroizing::new)
        .map_err(|_| challenge())?;
    let text = std::str::from_utf8(&decoded).map_err(|_| challenge())?;
    let (user, password) = text.split_once(':').ok_or_else(challenge)?;
    if !user.eq_ignore_ascii_case(ADMIN_USER)
        || world.vault().check_password(user, password).is_none()
    {
        tracing::debug!("admin API: authentication failed");
        return Err(challenge());
    }
    Ok(())
}

fn faults_json(f: &Faults) -> Value {
    json!({
        "latency_ms": u64::try_from(f.latency.as_millis()).unwrap_or(u64::MAX),
        "error_rate": f.error_rate,
        "vault_down": f.vault_down,
        "drop_connection": f.drop_connection,
        "malformed_body": f.malformed_body,
        "cpm_failure_rate": f.cpm_failure_rate,
        "confluence": crate::confluence_faults::to_json(&f.confluence),
    })
}

/// One-shot actions a POST may ask for besides changing faults.
#[derive(Default, Debug, PartialEq, Eq)]
struct Actions {
    kill_sessions: bool,
    switch_node: bool,
}

/// Applies the fields of a POST body to `f`; returns the one-shot actions asked for.
fn apply(f: &mut Faults, body: &Map<String, Value>) -> Result<Actions, String> {
    let mut actions = Actions::default();
    for (key, value) in body {
        let flag = || {
            value
                .as_bool()
                .ok_or_else(|| format!("`{key}` must be true or false"))
        };
        let rate = || {
            value
                .as_f64()
                .ok_or_else(|| format!("`{key}` must be a number between 0 and 1"))
        };
        match key.as_str() {
            "latency_ms" => {
                let ms = value
                    .as_u64()
                    .ok_or("`latency_ms` must be a non-negative integer")?;
                f.latency = Duration::from_millis(ms);
            }
            "error_rate" => f.error_rate = rate()?,
            "cpm_failure_rate" => f.cpm_failure_rate = rate()?,
            "vault_down" => f.vault_down = flag()?,
            "drop_connection" => f.drop_connection = flag()?,
            "malformed_body" => f.malformed_body = flag()?,
            "kill_sessions" => actions.kill_sessions = flag()?,
            "switch_node" => actions.switch_node = flag()?,
            "confluence" => crate::confluence_faults::apply_json(&mut f.confluence, value)?,
            other => return Err(format!("unknown field `{other}`")),
        }
    }
    f.validate().map_err(|e| e.to_string())?;
    Ok(actions)
}

pub(crate) async fn get_faults(State(world): State<Arc<World>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&world, &headers) {
        return r;
    }
    http::json(StatusCode::OK, &faults_json(&world.current_faults()))
}

pub(crate) async fn set_faults(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&world, &headers) {
        return r;
    }
    let map = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "ARKSIM400E",
                "The body must be a JSON object.",
            );
        }
    };
    let mut faults = world.current_faults();
    let actions = match apply(&mut faults, &map) {
        Ok(a) => a,
        Err(msg) => return error(StatusCode::BAD_REQUEST, "ARKSIM400E", msg),
    };
    tracing::info!(?faults, ?actions, "admin API: faults changed");
    world.set_faults(faults);
    if actions.kill_sessions {
        world.vault().sessions.clear();
    }
    if actions.switch_node {
        world.switch_node();
    }
    http::json(StatusCode::OK, &faults_json(&world.current_faults()))
}

pub(crate) async fn clear_faults(State(world): State<Arc<World>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&world, &headers) {
        return r;
    }
    world.set_faults(Faults::default());
    tracing::info!("admin API: faults cleared");
    http::json(StatusCode::OK, &faults_json(&world.current_faults()))
}

/// `GET /__arkbridge_sim/activities`: the Vault-wide audit, newest first.
pub(crate) async fn activities(State(world): State<Arc<World>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&world, &headers) {
        return r;
    }
    http::json(StatusCode::OK, &world.vault().audit.json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_validates_fields() {
        let mut f = Faults::default();
        let body = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(
            apply(
                &mut f,
                &body(json!({"latency_ms": 5, "kill_sessions": true, "switch_node": true}))
            )
            .unwrap(),
            Actions {
                kill_sessions: true,
                switch_node: true
            }
        );
        assert_eq!(f.latency, Duration::from_millis(5));
        assert!(apply(&mut f, &body(json!({"error_rate": 3}))).is_err());
        assert!(apply(&mut f, &body(json!({"latency_ms": -1}))).is_err());
        assert!(apply(&mut f, &body(json!({"vault_down": "yes"}))).is_err());
        assert!(apply(&mut f, &body(json!({"explode": true}))).is_err());
    }
}
