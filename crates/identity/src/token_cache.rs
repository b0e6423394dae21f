//! The CLI's per-user token cache: what `arkbridge login` stores and every later command reads.
//!
//! One JSON file per issuer and client under `$XDG_STATE_HOME/arkbridge/` (or
//! `~/.local/state/arkbridge/`), created with mode 0600 in a 0700 folder, written to a temporary
//! file and renamed so that a crash never leaves half a token. The tokens are credentials: this
//! file is the only place they are written, and a file that others may read is refused. The cache
//! is not trusted: every command verifies the ID token's signature, issuer, audience and expiry
//! ([`verify_cached`]), so a hand-edited file gets nowhere.
//!
//! A sign-in with `offline_access` also keeps its refresh token and when the access token
//! expires ([`CachedSession`]), so that a command can refresh it first. A refresh rotates the
//! refresh token, and a provider that detects reuse revokes the whole sign-in when a spent one
//! comes back, so two commands must never refresh at once: [`TokenCache::lock`] holds an
//! exclusive lock on a file next to the cache while one of them reads, refreshes and writes.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroize;

use crate::device_flow::TokenSet;
use crate::error::IdentityError;
use crate::oidc::OidcVerifier;
use crate::user::{VerifiedUser, claim_at};

/// Why the cache could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenCacheError {
    #[error("neither XDG_STATE_HOME nor HOME is set: cannot place the token cache")]
    NoStateDir,
    #[error("token cache {path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error(
        "token cache {path} may be read by other users (mode {mode:o}); it was not used. \
         Delete it and run `arkbridge login` again"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("token cache {path} is not a token cache file: run `arkbridge login` again")]
    Corrupt { path: PathBuf },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDisk {
    issuer: String,
    client_id: String,
    id_token: String,
    access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    /// When the access token expires (Unix seconds), when the provider said its lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    saved_at: i64,
}

impl Drop for OnDisk {
    fn drop(&mut self) {
        self.id_token.zeroize();
        self.access_token.zeroize();
        if let Some(token) = self.refresh_token.as_mut() {
            token.zeroize();
        }
    }
}

/// Tokens read back from the cache (not verified yet).
pub struct CachedTokens {
    pub id_token: SecretString,
    pub access_token: SecretString,
    /// When `arkbridge login` stored them (Unix seconds).
    pub saved_at: i64,
}

impl std::fmt::Debug for CachedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedTokens")
            .field("saved_at", &self.saved_at)
            .finish_non_exhaustive()
    }
}

/// Tokens read back from the cache with what refreshing them needs.
pub struct CachedSession {
    pub tokens: CachedTokens,
    /// The refresh token, when the sign-in asked for `offline_access` and got one.
    pub refresh_token: Option<SecretString>,
    /// When the access token expires (Unix seconds), when the provider said.
    pub expires_at: Option<i64>,
}

impl CachedSession {
    /// Whether the access token has expired at `now`, or will within `margin` seconds; a token
    /// of unknown lifetime is taken as valid (the server says when it is not).
    pub fn expires_within(&self, now: i64, margin: i64) -> bool {
        self.expires_at
            .is_some_and(|at| now >= at.saturating_sub(margin))
    }
}

impl std::fmt::Debug for CachedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedSession")
            .field("tokens", &self.tokens)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// An exclusive lock on a token cache, released when dropped (or when the process ends).
#[derive(Debug)]
pub struct CacheLock {
    _file: std::fs::File,
}

/// The cache file of one issuer and client.
#[derive(Debug, Clone)]
pub struct TokenCache {
    path: PathBuf,
    issuer: String,
    client_id: String,
}

/// `$XDG_STATE_HOME/arkbridge` (when absolute, as the XDG spec asks) or
/// `$HOME/.local/state/arkbridge`.
pub fn state_dir() -> Result<PathBuf, TokenCacheError> {
    if let Some(xdg) = std::env::var_os("XDG_STATE_HOME").map(PathBuf::from)
        && xdg.is_absolute()
    {
        return Ok(xdg.join("arkbridge"));
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|h| h.is_absolute())
        .ok_or(TokenCacheError::NoStateDir)?;
    Ok(home.join(".local/state/arkbridge"))
}

impl TokenCache {
    /// The cache of `issuer` and `client_id` in the user's state folder.
    pub fn for_client(issuer: &str, client_id: &str) -> Result<Self, TokenCacheError> {
        Ok(Self::in_dir(&state_dir()?, issuer, client_id))
    }

    /// The cache of `issuer` and `client_id` in `dir`; the file name is a digest of both, so
    /// that two providers or clients never share one.
    pub fn in_dir(dir: &Path, issuer: &str, client_id: &str) -> Self {
        let key = format!("{}\n{client_id}", issuer.trim_end_matches('/'));
        let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
        let name = format!("tokens-{}.json", hex::encode(&digest.as_ref()[..12]));
        Self {
            path: dir.join(name),
            issuer: issuer.to_string(),
            client_id: client_id.to_string(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, what: &str, e: std::io::Error) -> TokenCacheError {
        TokenCacheError::Io {
            path: self.path.clone(),
            reason: format!("{what}: {e}"),
        }
    }

    /// Stores `tokens`, replacing what was there.
    pub fn save(&self, tokens: &TokenSet, now: i64) -> Result<(), TokenCacheError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| self.io("cannot create its folder", e))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| self.io("cannot restrict its folder", e))?;
        let record = OnDisk {
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            id_token: tokens.id_token.expose_secret().to_string(),
            access_token: tokens.access_token.expose_secret().to_string(),
            refresh_token: tokens
                .refresh_token
                .as_ref()
                .map(|t| t.expose_secret().to_string()),
            expires_at: tokens
                .expires_in
                .map(|secs| now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX))),
            saved_at: now,
        };
        let mut bytes = serde_json::to_vec(&record).map_err(|e| TokenCacheError::Io {
            path: self.path.clone(),
            reason: format!("cannot encode: {e}"),
        })?;
        let tmp = self.path.with_extension("json.tmp");
        let _ = std::fs::remove_file(&tmp);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(&bytes)?;
                f.sync_all()
            });
        bytes.zeroize();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(self.io("cannot write", e));
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io("cannot replace", e))
    }

    /// The stored tokens, or `None` when there is no cache file.
    pub fn load(&self) -> Result<Option<CachedTokens>, TokenCacheError> {
        Ok(self.load_session()?.map(|s| s.tokens))
    }

    /// The stored tokens with their refresh token and expiry, or `None` when there is no file.
    pub fn load_session(&self) -> Result<Option<CachedSession>, TokenCacheError> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io("cannot read", e)),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(TokenCacheError::TooOpen {
                path: self.path.clone(),
                mode,
            });
        }
        let mut bytes = std::fs::read(&self.path).map_err(|e| self.io("cannot read", e))?;
        let parsed: Result<OnDisk, _> = serde_json::from_slice(&bytes);
        bytes.zeroize();
        let corrupt = || TokenCacheError::Corrupt {
            path: self.path.clone(),
        };
        let record = parsed.map_err(|_| corrupt())?;
        if record.issuer != self.issuer || record.client_id != self.client_id {
            return Err(corrupt());
        }
        Ok(Some(CachedSession {
            tokens: CachedTokens {
                id_token: SecretString::from(record.id_token.clone()),
                access_token: SecretString::from(record.access_token.clone()),
                saved_at: record.saved_at,
            },
            refresh_token: record.refresh_token.clone().map(SecretString::from),
            expires_at: record.expires_at,
        }))
    }

    /// Waits for, then takes, the exclusive lock of this cache (a `.lock` file next to it, mode
    /// 0600, which is never deleted so that every process locks the same file). This blocks the
    /// thread: call it off an async runtime's workers.
    pub fn lock(&self) -> Result<CacheLock, TokenCacheError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| self.io("cannot create its folder", e))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| self.io("cannot restrict its folder", e))?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(self.path.with_extension("lock"))
            .map_err(|e| self.io("cannot open its lock file", e))?;
        file.lock().map_err(|e| self.io("cannot lock", e))?;
        Ok(CacheLock { _file: file })
    }

    /// Deletes the cache file; `false` when there was none.
    pub fn remove(&self) -> Result<bool, TokenCacheError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io("cannot delete", e)),
        }
    }
}

/// Verifies the cached ID token and reads the string claim `extra_claim` (e.g. the Confluence
/// account id) from the same, now verified, payload.
///
/// The ID token is the one verified because it is the token issued *to this client* (`aud` is the
/// client id) to say who signed in; an access token is meant for an API and, at Okta, carries the
/// login name rather than the user id as `sub`.
pub async fn verify_cached(
    verifier: &OidcVerifier,
    tokens: &CachedTokens,
    extra_claim: Option<&str>,
) -> Result<(VerifiedUser, Option<String>), IdentityError> {
    let token = tokens.id_token.expose_secret();
    let user = verifier.verify_id_token(token, None).await?;
    let extra = match extra_claim {
        None => None,
        Some(name) => {
            // The signature was checked above, so the payload is the provider's own words.
            let payload = token
                .split('.')
                .nth(1)
                .ok_or_else(|| IdentityError::Malformed("no payload".into()))?;
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .map_err(|_| IdentityError::Malformed("payload is not base64url".into()))?;
            let claims: crate::claims::Claims = serde_json::from_slice(&bytes)
                .map_err(|_| IdentityError::Malformed("payload is not a JSON object".into()))?;
            match claim_at(&claims, name) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(_) => {
                    return Err(IdentityError::InvalidClaim {
                        claim: name.to_string(),
                        reason: "not a non-empty string".into(),
                    });
                }
            }
        }
    };
    Ok((user, extra))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> TokenSet {
        TokenSet {
            id_token: SecretString::from("ID-TOKEN-VALUE".to_string()),
            access_token: SecretString::from("ACCESS-TOKEN-VALUE".to_string()),
            refresh_token: None,
            expires_in: Some(3600),
        }
    }

    #[test]
    fn saved_tokens_load_back_from_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::in_dir(&dir.path().join("state"), "https://idp/o", "cli");
        assert!(cache.load().unwrap().is_none());
        cache.save(&set(), 1_700_000_000).unwrap();
        let mode = std::fs::metadata(cache.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(dir.path().join("state"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let loaded = cache.load().unwrap().unwrap();
        assert_eq!(loaded.id_token.expose_secret(), "ID-TOKEN-VALUE");
        assert_eq!(loaded.saved_at, 1_700_000_000);
        assert!(!format!("{loaded:?}").contains("TOKEN-VALUE"));
        assert!(cache.remove().unwrap());
        assert!(!cache.remove().unwrap());
    }

    #[test]
    fn each_issuer_and_client_has_its_own_file() {
        let dir = Path::new("/state");
        let a = TokenCache::in_dir(dir, "https://idp/o", "cli");
        assert_ne!(
            a.path(),
            TokenCache::in_dir(dir, "https://idp/p", "cli").path()
        );
        assert_ne!(
            a.path(),
            TokenCache::in_dir(dir, "https://idp/o", "web").path()
        );
        assert_eq!(
            a.path(),
            TokenCache::in_dir(dir, "https://idp/o/", "cli").path()
        );
    }

    #[test]
    fn a_readable_a_garbled_or_a_foreign_cache_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::in_dir(dir.path(), "https://idp/o", "cli");
        cache.save(&set(), 1).unwrap();
        std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(cache.load(), Err(TokenCacheError::TooOpen { .. })));
        std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        let other = TokenCache {
            issuer: "https://evil/o".into(),
            ..cache.clone()
        };
        assert!(matches!(other.load(), Err(TokenCacheError::Corrupt { .. })));
        std::fs::write(cache.path(), b"not json").unwrap();
        let err = cache.load().unwrap_err().to_string();
        assert!(err.contains("arkbridge login"), "{err}");
    }

    #[test]
    fn a_refreshable_sign_in_keeps_its_refresh_token_and_expiry_privately() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::in_dir(dir.path(), "https://idp/o", "cli");
        let with_refresh = TokenSet {
            refresh_token: Some(SecretString::from("REFRESH-TOKEN-VALUE".to_string())),
            expires_in: Some(300),
            ..set()
        };
        cache.save(&with_refresh, 1_000).unwrap();
        let session = cache.load_session().unwrap().unwrap();
        assert_eq!(
            session.refresh_token.as_ref().unwrap().expose_secret(),
            "REFRESH-TOKEN-VALUE"
        );
        assert_eq!(session.expires_at, Some(1_300));
        assert!(!session.expires_within(1_239, 60));
        assert!(session.expires_within(1_240, 60));
        assert!(session.expires_within(2_000, 60));
        assert!(!format!("{session:?}").contains("TOKEN-VALUE"));
        let mode = std::fs::metadata(cache.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        // A file written before refresh tokens were kept still loads, with an unknown expiry.
        cache.save(&set(), 1).unwrap();
        let mut raw: Value = serde_json::from_slice(&std::fs::read(cache.path()).unwrap()).unwrap();
        raw.as_object_mut().unwrap().remove("expires_at");
        std::fs::write(cache.path(), serde_json::to_vec(&raw).unwrap()).unwrap();
        let old = cache.load_session().unwrap().unwrap();
        assert!(old.refresh_token.is_none() && old.expires_at.is_none());
        assert!(!old.expires_within(i64::MAX, 60));
    }

    #[test]
    fn the_cache_lock_is_exclusive_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::in_dir(&dir.path().join("state"), "https://idp/o", "cli");
        let held = cache.lock().unwrap();
        let lock_file = cache.path().with_extension("lock");
        let mode = std::fs::metadata(&lock_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Another open file description of the same file cannot take it while it is held.
        let other = std::fs::OpenOptions::new()
            .write(true)
            .open(&lock_file)
            .unwrap();
        assert!(other.try_lock().is_err());
        drop(held);
        assert!(other.try_lock().is_ok());
    }
}
