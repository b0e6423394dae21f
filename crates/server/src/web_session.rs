//! The web UI's server-side state: signed-in sessions and sign-ins under way, both in memory
//! with an expiry.
//!
//! A session is known by a random 256-bit id that only the browser's `HttpOnly` cookie holds;
//! the map is keyed by the id's SHA-256, so that the ids themselves are not kept. Each session
//! carries its own CSRF token, which the pages embed and the API's state-changing calls must
//! echo. A sign-in under way is known by its OAuth `state` and keeps the PKCE verifier and the
//! nonce until the provider sends the browser back (at most ten minutes).
//!
//! Times come from an [`arkbridge_identity::Clock`], so tests move them with tokio's paused
//! clock instead of sleeping.

use std::collections::HashMap;
use std::sync::Mutex;

use arkbridge_identity::Clock;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::Principal;

/// How long a sign-in may take between the redirect to the provider and the callback.
pub(crate) const LOGIN_LIFETIME_SECS: i64 = 600;

/// The most sign-ins under way at once; older ones are dropped beyond it, so that a flood of
/// `/auth/login` requests cannot grow memory without bound.
const MAX_PENDING_LOGINS: usize = 10_000;

/// 32 random bytes, base64url: session ids, CSRF tokens, `state`, nonces, PKCE verifiers.
pub(crate) fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The SHA-256 of `text`, base64url (PKCE's S256 challenge, and session keys).
pub(crate) fn sha256_b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

/// A signed-in user.
#[derive(Clone)]
pub(crate) struct Session {
    pub(crate) principal: Principal,
    pub(crate) csrf: String,
    pub(crate) expires_unix: i64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The CSRF token is a credential of its own: never printed.
        f.debug_struct("Session")
            .field("user", &self.principal.user.email)
            .field("expires_unix", &self.expires_unix)
            .finish_non_exhaustive()
    }
}

/// A sign-in under way.
#[derive(Debug)]
pub(crate) struct PendingLogin {
    pub(crate) verifier: SecretString,
    pub(crate) nonce: String,
    /// The UI path to go back to afterwards (always a local `/ui/...` path).
    pub(crate) return_to: String,
    pub(crate) expires_unix: i64,
}

/// Every session and sign-in under way.
pub(crate) struct Sessions {
    clock: Clock,
    ttl_secs: i64,
    sessions: Mutex<HashMap<String, Session>>,
    pending: Mutex<HashMap<String, PendingLogin>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sessions = self.sessions.lock().map_or(0, |m| m.len());
        let pending = self.pending.lock().map_or(0, |m| m.len());
        f.debug_struct("Sessions")
            .field("ttl_secs", &self.ttl_secs)
            .field("sessions", &sessions)
            .field("pending_logins", &pending)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    pub(crate) fn new(ttl_secs: u64, clock: Clock) -> Sessions {
        Sessions {
            clock,
            ttl_secs: i64::try_from(ttl_secs).unwrap_or(i64::MAX),
            sessions: Mutex::default(),
            pending: Mutex::default(),
        }
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now_unix()
    }

    /// Opens a session for `principal`; returns its id (the cookie's value) and the session.
    pub(crate) fn open(&self, mut principal: Principal) -> (String, Session) {
        let id = random_token();
        // The audit records of the session's calls name it by a digest, never by the id.
        principal.actor.session_id = Some(sha256_b64(&id)[..16].to_string());
        let now = self.now();
        let session = Session {
            principal,
            csrf: random_token(),
            expires_unix: now.saturating_add(self.ttl_secs),
        };
        let mut all = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|_, s| s.expires_unix > now);
        all.insert(sha256_b64(&id), session.clone());
        (id, session)
    }

    /// The live session with id `id`; an expired one is removed and reported as absent.
    pub(crate) fn get(&self, id: &str) -> Option<Session> {
        let key = sha256_b64(id);
        let mut all = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        match all.get(&key) {
            Some(s) if s.expires_unix > self.now() => Some(s.clone()),
            Some(_) => {
                all.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session `id` (logout); whether there was one.
    pub(crate) fn close(&self, id: &str) -> bool {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&sha256_b64(id))
            .is_some()
    }

    /// Remembers a sign-in under way; returns its `state`.
    pub(crate) fn begin_login(
        &self,
        verifier: SecretString,
        nonce: String,
        return_to: String,
    ) -> String {
        let state = random_token();
        let now = self.now();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.retain(|_, p| p.expires_unix > now);
        if pending.len() >= MAX_PENDING_LOGINS
            && let Some(oldest) = pending
                .iter()
                .min_by_key(|(_, p)| p.expires_unix)
                .map(|(k, _)| k.clone())
        {
            pending.remove(&oldest);
        }
        pending.insert(
            state.clone(),
            PendingLogin {
                verifier,
                nonce,
                return_to,
                expires_unix: now + LOGIN_LIFETIME_SECS,
            },
        );
        state
    }

    /// Takes the sign-in with `state` out (each is used once); `None` when unknown or expired.
    pub(crate) fn finish_login(&self, state: &str) -> Option<PendingLogin> {
        let login = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(state)?;
        (login.expires_unix > self.now()).then_some(login)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use arkbridge_core::audit::{Actor, AuthMethod};
    use arkbridge_engine::VerifiedUser;

    use super::*;
    use crate::ApiAuth;

    fn principal() -> Principal {
        Principal {
            user: VerifiedUser {
                email: "alice@example.com".into(),
                groups: vec![],
                verified_by: "oidc",
                confluence_account: None,
                issuer: "https://idp".into(),
                subject: "00u1".into(),
            },
            auth: ApiAuth::Session,
            actor: Actor::user("https://idp", "00u1", AuthMethod::Oidc),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_expire_after_their_lifetime_and_close_on_logout() {
        let sessions = Sessions::new(60, Clock::tokio_anchored(1_000_000));
        let (id, session) = sessions.open(principal());
        assert_eq!(session.expires_unix, 1_000_060);
        assert_ne!(session.csrf, id);
        assert!(sessions.get(&id).is_some());
        assert!(sessions.get("other").is_none());
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(sessions.get(&id).is_none(), "expired");
        let (id, _) = sessions.open(principal());
        assert!(sessions.close(&id));
        assert!(sessions.get(&id).is_none(), "closed");
        assert!(!sessions.close(&id));
        let (_, session) = sessions.open(principal());
        let printed = format!("{session:?} {sessions:?}");
        assert!(!printed.contains(&session.csrf), "{printed}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_login_state_is_used_once_and_expires() {
        let sessions = Sessions::new(60, Clock::tokio_anchored(1_000_000));
        let state = sessions.begin_login(SecretString::from("v"), "n".into(), "/ui/".into());
        let login = sessions.finish_login(&state).unwrap();
        assert_eq!(login.nonce, "n");
        assert!(sessions.finish_login(&state).is_none(), "used once");
        let state = sessions.begin_login(SecretString::from("v"), "n".into(), "/ui/".into());
        tokio::time::advance(Duration::from_secs(LOGIN_LIFETIME_SECS as u64 + 1)).await;
        assert!(sessions.finish_login(&state).is_none(), "expired");
    }

    #[test]
    fn the_pkce_challenge_is_the_s256_of_the_verifier() {
        // SHA-256("abc") is the FIPS 180-2 test vector ba7816bf…15ad, here in base64url.
        assert_eq!(
            sha256_b64("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
        assert_eq!(random_token().len(), 43);
    }
}
