//! PVWA logon, logoff and session handling: `POST /API/auth/{CyberArk|LDAP|RADIUS}/Logon`,
//! `POST /API/Auth/Logoff`, `GET /API/LoginsInfo`.
//!
//! Tokens are opaque ~200-character base64 strings returned as a JSON string literal and
//! accepted as `Authorization: <token>` or `Authorization: Bearer <token>` (only the latter in
//! ISPSS mode). A logon without `concurrentSession: true` ends the user's earlier sessions; with
//! it a user may hold at most [`MAX_SESSIONS_PER_USER`] sessions, and the next logon is refused
//! with 403 ITATS004E. A user logs on only through its own method (`authType` in the seed). A
//! RADIUS user with a passcode is challenged: the password answers 500 ITATS542I and sets an
//! `ASP.NET_SessionId` cookie; the passcode, sent as `password` with that cookie, completes the
//! logon. Every logon, failed logon and logoff is recorded in the Vault-wide audit.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use rand::Rng;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::activity::{ACTION_LOGOFF, ACTION_LOGON, ACTION_LOGON_FAILED, Activity};
use crate::http::{self, LooseBody};
use crate::pvwa::{bad_body, error, unauthorized};
use crate::seed::AuthType;
use crate::sessions::{RadiusChallenge, Session, constant_time_eq};
use crate::state::Vault;
use crate::tls::ConnInfo;
use crate::world::World;

/// Concurrent sessions one user may hold (Logon_v10 doc: "up to 300 concurrent sessions").
pub(crate) const MAX_SESSIONS_PER_USER: usize = 300;

/// How long a RADIUS challenge waits for its passcode.
const RADIUS_CHALLENGE_LIFETIME: Duration = Duration::from_secs(300);

/// The cookie that ties a RADIUS passcode to its challenge (the PVWA's ASP.NET session).
const SESSION_COOKIE: &str = "ASP.NET_SessionId";

/// The token of `Authorization: <token>` or `Authorization: Bearer <token>`, with whether the
/// `Bearer` scheme was used.
fn auth_token(headers: &HeaderMap) -> (&str, bool) {
    let raw = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    match raw.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("Bearer") => (rest.trim(), true),
        _ => (raw, false),
    }
}

/// The session user of a request. In Bearer-only (ISPSS) mode a raw token is refused.
pub(crate) fn session_user(world: &World, headers: &HeaderMap) -> Result<String, Response> {
    let (token, bearer) = auth_token(headers);
    if token.is_empty() {
        return Err(unauthorized());
    }
    let mut vault = world.vault();
    if vault.bearer_only && !bearer {
        return Err(unauthorized());
    }
    vault.session_user(token).ok_or_else(unauthorized)
}

/// Opens a session for `user` on the current PVWA node and returns its token.
pub(crate) fn open_session(vault: &mut Vault, user: &str, expires: Option<Instant>) -> String {
    let token = new_token();
    let node = vault.lb_node;
    vault.sessions.insert(
        token.clone(),
        Session {
            user: user.to_string(),
            logged_on: crate::state::now_epoch(),
            last_used: Instant::now(),
            expires,
            node,
        },
    );
    token
}

fn new_token() -> String {
    let mut rng = rand::rng();
    let hex = |n: usize, rng: &mut rand::rngs::ThreadRng| -> String {
        (0..n)
            .map(|_| format!("{:X}", rng.random_range(0..16u8)))
            .collect()
    };
    let raw = format!(
        "{};{};{};",
        uuid::Uuid::new_v4(),
        hex(16, &mut rng),
        hex(96, &mut rng)
    );
    base64::engine::general_purpose::STANDARD.encode(raw)
}

fn auth_failure(username: &str, detail: &str) -> Response {
    error(
        StatusCode::FORBIDDEN,
        "ITATS004E",
        format!("Authentication failure for User [{username}].{detail}"),
    )
}

/// The value of the session cookie, if the request carries one.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.trim())
}

/// Records a logon, failed logon or logoff in the Vault-wide audit.
fn audit(vault: &mut Vault, user: &str, action: (&'static str, u32), failed: bool, info: String) {
    let mut a = Activity::now(user, action, "PVWA");
    a.alert = failed;
    a.more_info = info;
    vault.log_event(a);
}

/// What a logon attempt comes to.
enum Outcome {
    /// The user is authenticated.
    Authenticated {
        user: String,
        concurrent: bool,
    },
    /// A RADIUS challenge was opened under this cookie value.
    Challenge(String),
    Refused,
}

/// Authenticates a logon request; answers an open RADIUS challenge first.
fn authenticate(
    vault: &mut Vault,
    method: AuthType,
    headers: &HeaderMap,
    username: &str,
    password: &str,
    concurrent: bool,
) -> Outcome {
    if method == AuthType::Radius
        && let Some(cookie) = session_cookie(headers)
        && let Some(challenge) = vault.radius_challenges.remove(cookie)
    {
        let fresh = challenge.created.elapsed() < RADIUS_CHALLENGE_LIFETIME;
        let same_user = username.is_empty() || challenge.user.eq_ignore_ascii_case(username);
        let otp_ok = vault
            .users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(&challenge.user))
            .and_then(|u| u.radius_otp.as_ref())
            .is_some_and(|otp| constant_time_eq(otp.expose_secret(), password));
        return if fresh && same_user && otp_ok {
            Outcome::Authenticated {
                user: challenge.user,
                concurrent: challenge.concurrent,
            }
        } else {
            Outcome::Refused
        };
    }
    let Some(user) = vault.check_password(username, password) else {
        return Outcome::Refused;
    };
    let Some(account) = vault
        .users
        .iter()
        .find(|u| u.username.eq_ignore_ascii_case(&user))
    else {
        return Outcome::Refused;
    };
    if account.auth_type != method {
        return Outcome::Refused;
    }
    if method == AuthType::Radius && account.radius_otp.is_some() {
        vault
            .radius_challenges
            .retain(|_, c| c.created.elapsed() < RADIUS_CHALLENGE_LIFETIME);
        let id = uuid::Uuid::new_v4().simple().to_string();
        vault.radius_challenges.insert(
            id.clone(),
            RadiusChallenge {
                user,
                concurrent,
                created: Instant::now(),
            },
        );
        return Outcome::Challenge(id);
    }
    Outcome::Authenticated { user, concurrent }
}

pub(crate) async fn logon(
    State(world): State<Arc<World>>,
    Path(method): Path<String>,
    Extension(conn): Extension<ConnInfo>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Windows, SAML and PKI logons need an IIS front end the simulator does not have.
    let Some(method) = AuthType::from_segment(&method) else {
        return http::empty(StatusCode::NOT_FOUND);
    };
    let Some(body) = LooseBody::parse(&body) else {
        return bad_body();
    };
    let username = body.str("username").unwrap_or("").to_string();
    let password = Zeroizing::new(body.str("password").unwrap_or("").to_string());
    let concurrent = body.bool("concurrentSession").unwrap_or(false);
    let ip = conn.peer.ip();
    let mut vault = world.vault();
    let (user, concurrent) = match authenticate(
        &mut vault, method, &headers, &username, &password, concurrent,
    ) {
        Outcome::Authenticated { user, concurrent } => (user, concurrent),
        Outcome::Challenge(cookie) => {
            tracing::debug!(username, "PVWA: RADIUS challenge");
            return radius_challenge(&cookie);
        }
        Outcome::Refused => {
            tracing::debug!(username, "PVWA: logon failed");
            let info = format!("{} logon from {ip}", method.segment());
            audit(&mut vault, &username, ACTION_LOGON_FAILED, true, info);
            return auth_failure(&username, "");
        }
    };
    if !concurrent {
        vault
            .sessions
            .retain(|_, s| !s.user.eq_ignore_ascii_case(&user));
    } else if vault.live_sessions_of(&user) >= MAX_SESSIONS_PER_USER {
        tracing::debug!(user, "PVWA: session limit reached");
        let info = format!("{MAX_SESSIONS_PER_USER} concurrent sessions already open");
        audit(&mut vault, &user, ACTION_LOGON_FAILED, true, info);
        return auth_failure(
            &user,
            &format!(" The user already holds {MAX_SESSIONS_PER_USER} concurrent sessions."),
        );
    }
    let token = open_session(&mut vault, &user, None);
    let info = logon_info(method, ip, concurrent);
    audit(&mut vault, &user, ACTION_LOGON, false, info);
    tracing::debug!(user, concurrent, "PVWA: logon");
    http::json(StatusCode::OK, &Value::String(token))
}

fn logon_info(method: AuthType, ip: IpAddr, concurrent: bool) -> String {
    let kind = if concurrent {
        " (concurrent session)"
    } else {
        ""
    };
    format!("{} logon from {ip}{kind}", method.segment())
}

/// The 500 ITATS542I answer of a RADIUS challenge, with the cookie the passcode must carry.
fn radius_challenge(cookie: &str) -> Response {
    let mut resp = error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "ITATS542I",
        "Enter the one-time passcode from your authenticator (RADIUS challenge).",
    );
    let value = format!("{SESSION_COOKIE}={cookie}; path=/PasswordVault/; secure; HttpOnly");
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

pub(crate) async fn logoff(State(world): State<Arc<World>>, headers: HeaderMap) -> Response {
    let user = match session_user(&world, &headers) {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    let (token, _) = auth_token(&headers);
    let mut vault = world.vault();
    vault.sessions.remove(token);
    audit(&mut vault, &user, ACTION_LOGOFF, false, String::new());
    http::empty(StatusCode::OK)
}

/// `GET /API/LoginsInfo` (10.4+): the logged-on user and when it logged on. Clients use it to
/// check that a token is still valid (aiobastion's `check_token`, psPAS `Get-PASUserLoginInfo`).
pub(crate) async fn logins_info(State(world): State<Arc<World>>, headers: HeaderMap) -> Response {
    let user = match session_user(&world, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let (token, _) = auth_token(&headers);
    let logged_on = world.vault().sessions.get(token).map(|s| s.logged_on);
    http::json(
        StatusCode::OK,
        &json!({"UserName": user, "LastSuccessfulLoginDate": logged_on}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_opaque_base64() {
        let t = new_token();
        assert!((180..=260).contains(&t.len()), "{}", t.len());
        assert!(!t.contains('"'));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("mobileState=Desktop; ASP.NET_SessionId=abc ; x=y"),
        );
        assert_eq!(session_cookie(&h), Some("abc"));
        assert_eq!(session_cookie(&HeaderMap::new()), None);
    }
}
