//! PVWA sessions and credentials: password checks, token resolution (inactivity timeout,
//! platform-token lifetime, the load balancer's node) and the per-user session count that the
//! 300-session limit uses. Open RADIUS challenges wait here for their passcode.

use std::time::Instant;

use rand::Rng;
use secrecy::ExposeSecret;

use crate::state::Vault;

pub(crate) struct Session {
    pub(crate) user: String,
    /// When the session was opened (epoch seconds; `LastSuccessfulLoginDate` of `LoginsInfo`).
    pub(crate) logged_on: i64,
    pub(crate) last_used: Instant,
    /// Absolute end of an ISPSS platform token's life.
    pub(crate) expires: Option<Instant>,
    /// The PVWA node that issued the token.
    pub(crate) node: u32,
}

/// A RADIUS logon waiting for its one-time passcode.
pub(crate) struct RadiusChallenge {
    pub(crate) user: String,
    pub(crate) concurrent: bool,
    pub(crate) created: Instant,
}

impl Vault {
    /// Checks a PVWA password.
    pub(crate) fn check_password(&self, name: &str, password: &str) -> Option<String> {
        self.users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(name))
            .filter(|u| constant_time_eq(u.password.expose_secret(), password))
            .map(|u| u.username.clone())
    }

    /// Resolves a session token, refreshing its inactivity clock. Expired tokens, and tokens of
    /// another PVWA node than the one the load balancer now uses, are dropped.
    pub(crate) fn session_user(&mut self, token: &str) -> Option<String> {
        let timeout = self.session_timeout;
        let node = self.lb_node;
        let session = self.sessions.get_mut(token)?;
        let now = Instant::now();
        if session.last_used.elapsed() >= timeout
            || session.expires.is_some_and(|e| e <= now)
            || session.node != node
        {
            self.sessions.remove(token);
            return None;
        }
        session.last_used = now;
        Some(session.user.clone())
    }

    /// Ends the sessions of `user` that have timed out and returns how many are left.
    pub(crate) fn live_sessions_of(&mut self, user: &str) -> usize {
        let timeout = self.session_timeout;
        let node = self.lb_node;
        let now = Instant::now();
        self.sessions.retain(|_, s| {
            s.last_used.elapsed() < timeout && s.expires.is_none_or(|e| e > now) && s.node == node
        });
        self.sessions
            .values()
            .filter(|s| s.user.eq_ignore_ascii_case(user))
            .count()
    }
}

pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A random password: 20 characters, letters, digits and a few symbols, never a digit first or
/// last (as the CPM's default password policy).
pub(crate) fn random_password() -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#*-_.@^~";
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..20)
        .map(|i| {
            let set = if i == 0 || i == 19 { LETTERS } else { CHARS };
            set[rng.random_range(0..set.len())] as char
        })
        .collect()
}

/// A random Atlassian-style API token.
pub(crate) fn random_api_token() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    let body: String = (0..180)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect();
    format!("ATATT3xFfGF0{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_start_or_end_with_a_digit() {
        for _ in 0..200 {
            let p = random_password();
            assert_eq!(p.len(), 20);
            assert!(!p.starts_with(|c: char| c.is_ascii_digit()));
            assert!(!p.ends_with(|c: char| c.is_ascii_digit()));
        }
    }
}
