//! Keeping a remote sign-in going: before each call to the server, the cached access token is
//! refreshed when it has expired or expires within [`REFRESH_MARGIN_SECS`], with the refresh
//! token that `arkbridge login --server` asked for (scope `offline_access`) at the provider's
//! token endpoint, and the new tokens replace the old ones in the server's 0600 cache (the
//! provider rotates the refresh token, so the new one is the only one that works).
//!
//! The refresh runs under the cache's exclusive lock and reads the cache again once it holds
//! it: two commands started together refresh once, instead of the second presenting a refresh
//! token the first just spent, which a provider with reuse detection takes for a theft and
//! answers by ending the whole sign-in. When the provider refuses the refresh token
//! (`invalid_grant`: revoked, expired, or reused elsewhere) the sign-in is over, so its cache
//! entry is deleted and the error says how to sign in again. No token reaches a log or an error.

use arkbridge_identity::{CachedTokens, DeviceFlow, DeviceFlowError, TokenCache, system_unix};

use crate::remote::{AuthInfo, RemoteError, Server};

/// An access token this close to its expiry (seconds) is refreshed before it is used, so that it
/// does not expire on the way or during a long call.
pub(crate) const REFRESH_MARGIN_SECS: i64 = 60;

impl Server {
    /// The signed-in tokens for this server, refreshed first when their access token has
    /// expired or is about to.
    pub(crate) async fn tokens(&self) -> Result<CachedTokens, RemoteError> {
        let info = self.auth_info().await?;
        let cache = self.cache(&info)?;
        self.fresh_tokens(&info, &cache).await
    }

    /// [`Server::tokens`] from `cache`, refreshed at `info`'s provider.
    async fn fresh_tokens(
        &self,
        info: &AuthInfo,
        cache: &TokenCache,
    ) -> Result<CachedTokens, RemoteError> {
        let session = cache.load_session()?.ok_or_else(|| self.not_signed_in())?;
        if !session.expires_within(system_unix(), REFRESH_MARGIN_SECS) {
            return Ok(session.tokens);
        }
        let _lock = lock(self, cache).await?;
        // Another command may have refreshed while this one waited for the lock.
        let session = cache.load_session()?.ok_or_else(|| self.not_signed_in())?;
        let now = system_unix();
        if !session.expires_within(now, REFRESH_MARGIN_SECS) {
            return Ok(session.tokens);
        }
        let Some(refresh_token) = &session.refresh_token else {
            // A sign-in without a refresh token (the provider gave none) is used while it
            // lasts; once expired it can only be replaced by a new sign-in.
            if session.expires_within(now, 0) {
                cache.remove()?;
                return Err(self.session_expired());
            }
            return Ok(session.tokens);
        };
        let refresh_failed = |e: DeviceFlowError| RemoteError::Refresh {
            server: self.name(),
            reason: e.to_string(),
        };
        let flow = DeviceFlow::discover(&info.issuer, &info.client_id, self.ca_cert.as_deref())
            .await
            .map_err(refresh_failed)?;
        match flow.refresh(refresh_token, &session.tokens.id_token).await {
            Ok(set) => {
                cache.save(&set, now)?;
                tracing::debug!(server = %self.name(), "the sign-in was refreshed");
                Ok(CachedTokens {
                    id_token: set.id_token,
                    access_token: set.access_token,
                    saved_at: now,
                })
            }
            Err(DeviceFlowError::RefreshRefused) => {
                tracing::debug!(server = %self.name(), "the provider refused the refresh token");
                cache.remove()?;
                Err(self.session_expired())
            }
            Err(e) => Err(refresh_failed(e)),
        }
    }

    fn not_signed_in(&self) -> RemoteError {
        RemoteError::NotSignedIn {
            server: self.name(),
        }
    }

    fn session_expired(&self) -> RemoteError {
        RemoteError::SessionExpired {
            server: self.name(),
        }
    }
}

/// Takes the cache's lock on a blocking thread, as waiting for it blocks.
async fn lock(
    server: &Server,
    cache: &TokenCache,
) -> Result<arkbridge_identity::CacheLock, RemoteError> {
    let cache = cache.clone();
    match tokio::task::spawn_blocking(move || cache.lock()).await {
        Ok(locked) => Ok(locked?),
        Err(e) => Err(RemoteError::Refresh {
            server: server.name(),
            reason: format!("waiting for the token cache's lock failed: {e}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use arkbridge_identity::TokenSet;
    use secrecy::{ExposeSecret, SecretString};

    use super::*;

    fn info() -> AuthInfo {
        AuthInfo {
            issuer: "https://127.0.0.1:9/oauth2/default".into(),
            client_id: "arkbridge-cli".into(),
        }
    }

    fn signed_in(cache: &TokenCache, expires_in: u64, refresh: bool) {
        let set = TokenSet {
            id_token: SecretString::from("ID-VALUE".to_string()),
            access_token: SecretString::from("ACCESS-VALUE".to_string()),
            refresh_token: refresh.then(|| SecretString::from("REFRESH-VALUE".to_string())),
            expires_in: Some(expires_in),
        };
        cache.save(&set, system_unix()).unwrap();
    }

    #[tokio::test]
    async fn tokens_are_used_as_they_are_until_a_minute_before_expiry_and_an_expired_sign_in_without_refresh_token_is_deleted()
     {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::new("http://127.0.0.1:9", None).unwrap();
        let info = info();
        let cache = TokenCache::in_dir(dir.path(), &info.issuer, &info.client_id);
        let tokens = || server.fresh_tokens(&info, &cache);

        // Valid for an hour: used without asking anyone (the provider's address is invalid).
        signed_in(&cache, 3600, true);
        let fresh = tokens().await.unwrap();
        assert_eq!(fresh.access_token.expose_secret(), "ACCESS-VALUE");

        // Within the minute and without a refresh token: still used while it lasts.
        signed_in(&cache, 30, false);
        assert!(tokens().await.is_ok());

        // Expired without a refresh token: the sign-in is over and its cache goes.
        signed_in(&cache, 0, false);
        let err = tokens().await.unwrap_err();
        assert!(matches!(err, RemoteError::SessionExpired { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "your session with http://127.0.0.1:9 has expired; run `arkbridge login --server \
             http://127.0.0.1:9`"
        );
        assert!(!cache.path().exists());
        assert!(matches!(
            tokens().await,
            Err(RemoteError::NotSignedIn { .. })
        ));

        // Expiring with a refresh token but an unreachable provider: the error says so, and
        // the sign-in is kept for a later try.
        signed_in(&cache, 10, true);
        let err = tokens().await.unwrap_err();
        assert!(matches!(err, RemoteError::Refresh { .. }), "{err}");
        assert!(!err.to_string().contains("VALUE"), "{err}");
        assert!(cache.path().exists());
    }
}
