//! A JWKS cache keyed by `kid`.
//!
//! Keys are fetched on first use, used for `ttl`, and fetched again when a token names a `kid`
//! the set lacks (key rotation) or the set is older than `ttl`. Fetches are rate-limited to one
//! per `min_refetch_interval`, so a stream of tokens with made-up `kid`s cannot turn the bridge
//! into a load generator against the identity provider. When a refresh fails, the old set stays
//! usable for `stale_grace` past its TTL and then verification fails closed.
//!
//! Time is tokio time, so tests drive TTLs and rate limits on a paused clock.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::time::Instant;
use url::Url;

use crate::error::{IdentityError, untrusted};
use crate::http;
use crate::jwk::{Jwk, KeySet, parse_jwks};
use crate::jws::Alg;

/// The largest key set accepted.
const MAX_JWKS_BYTES: usize = 512 * 1024;

/// A boxed future returned by [`JwksFetcher::fetch`].
pub type FetchFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<u8>, IdentityError>> + Send + 'a>>;

/// Where a key set comes from: HTTPS in production, anything else in tests or the simulator.
pub trait JwksFetcher: Send + Sync + 'static {
    /// Fetches the raw JWKS document.
    fn fetch(&self) -> FetchFuture<'_>;
    /// Where the document comes from, for messages.
    fn location(&self) -> String;
}

/// Fetches a JWKS document over HTTPS.
#[derive(Debug, Clone)]
pub struct HttpJwksFetcher {
    client: reqwest::Client,
    url: Url,
}

impl HttpJwksFetcher {
    /// A fetcher for `url` using `client` (see [`crate::https_client`]).
    pub fn new(client: reqwest::Client, url: Url) -> Self {
        Self { client, url }
    }
}

impl JwksFetcher for HttpJwksFetcher {
    fn fetch(&self) -> FetchFuture<'_> {
        Box::pin(http::get_bounded(
            &self.client,
            &self.url,
            "JWKS",
            MAX_JWKS_BYTES,
        ))
    }

    fn location(&self) -> String {
        self.url.to_string()
    }
}

/// Cache timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksSettings {
    /// How long a fetched key set is used before it is fetched again.
    pub ttl: Duration,
    /// The least time between two fetches (after an unknown `kid`, an expired set or a failure).
    pub min_refetch_interval: Duration,
    /// How long past its TTL a key set is still used while fetching a new one fails.
    pub stale_grace: Duration,
}

impl Default for JwksSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(600),
            min_refetch_interval: Duration::from_secs(30),
            stale_grace: Duration::from_secs(600),
        }
    }
}

#[derive(Default)]
struct State {
    keys: Arc<KeySet>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    last_error: Option<String>,
    fetches: u64,
}

impl State {
    fn fresh(&self, now: Instant, s: &JwksSettings) -> bool {
        self.fetched_at.is_some_and(|at| now < at + s.ttl)
    }

    fn usable(&self, now: Instant, s: &JwksSettings) -> bool {
        self.fetched_at
            .is_some_and(|at| now < at + s.ttl + s.stale_grace)
    }
}

/// The key cache.
pub struct JwksCache {
    fetcher: Box<dyn JwksFetcher>,
    settings: JwksSettings,
    state: RwLock<State>,
    /// Serialises fetches so that many tokens with the same new `kid` cause one request.
    fetch_lock: tokio::sync::Mutex<()>,
}

impl fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksCache")
            .field("location", &self.fetcher.location())
            .field("settings", &self.settings)
            .field("fetches", &self.fetch_count())
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    /// A cache over `fetcher`.
    pub fn new(fetcher: impl JwksFetcher, settings: JwksSettings) -> Self {
        Self {
            fetcher: Box::new(fetcher),
            settings,
            state: RwLock::new(State::default()),
            fetch_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// A cache over an HTTPS URL.
    pub fn https(client: reqwest::Client, url: Url, settings: JwksSettings) -> Self {
        Self::new(HttpJwksFetcher::new(client, url), settings)
    }

    /// How many fetches were attempted so far (successful or not).
    pub fn fetch_count(&self) -> u64 {
        self.read().fetches
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // The lock is never held across a panic-prone section, but recover from poisoning
        // anyway: the state is always consistent between statements.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The key for `kid` that fits `alg`, fetching the set if needed and allowed.
    pub(crate) async fn key(&self, kid: &str, alg: Alg) -> Result<Arc<Jwk>, IdentityError> {
        {
            let state = self.read();
            if state.fresh(Instant::now(), &self.settings)
                && let Some(key) = state.keys.find(kid, alg)
            {
                return Ok(key);
            }
        }
        let _fetching = match self.fetch_lock.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                // Another task is fetching. A key of the stale-but-usable set serves now rather
                // than after the fetch; an unknown key waits for the fetch's result.
                {
                    let state = self.read();
                    if state.usable(Instant::now(), &self.settings)
                        && let Some(key) = state.keys.find(kid, alg)
                    {
                        return Ok(key);
                    }
                }
                self.fetch_lock.lock().await
            }
        };
        let now = Instant::now();
        let may_fetch = {
            let state = self.read();
            if state.fresh(now, &self.settings)
                && let Some(key) = state.keys.find(kid, alg)
            {
                // Another task fetched the set while this one waited.
                return Ok(key);
            }
            state
                .last_attempt
                .is_none_or(|at| now >= at + self.settings.min_refetch_interval)
        };
        if may_fetch {
            self.refresh(now).await;
        }
        let state = self.read();
        if !state.usable(Instant::now(), &self.settings) {
            return Err(IdentityError::Fetch {
                what: "JWKS",
                url: self.fetcher.location(),
                reason: state
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "no key set could be fetched".into()),
            });
        }
        state
            .keys
            .find(kid, alg)
            .ok_or_else(|| IdentityError::UnknownKid {
                kid: untrusted(kid),
            })
    }

    async fn refresh(&self, now: Instant) {
        {
            let mut state = self.write();
            state.last_attempt = Some(now);
            state.fetches += 1;
        }
        let result = match self.fetcher.fetch().await {
            Ok(body) => parse_jwks(&body),
            Err(e) => Err(e),
        };
        let mut state = self.write();
        match result {
            Ok(set) if set.len() > 0 => {
                tracing::info!(
                    location = %self.fetcher.location(),
                    keys = set.len(),
                    skipped = set.skipped,
                    "fetched signing keys"
                );
                state.keys = Arc::new(set);
                state.fetched_at = Some(now);
                state.last_error = None;
            }
            Ok(set) => {
                let reason = format!(
                    "key set has no usable signing key ({} skipped)",
                    set.skipped
                );
                tracing::warn!(location = %self.fetcher.location(), "{reason}");
                state.last_error = Some(reason);
            }
            Err(e) => {
                tracing::warn!(location = %self.fetcher.location(), "key set refresh failed: {e}");
                state.last_error = Some(e.to_string());
            }
        }
    }
}
