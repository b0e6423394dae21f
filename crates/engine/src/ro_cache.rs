//! The short-lived in-memory cache of read-only fallback values (`[cyberark.fallback_cache]`).
//!
//! Only values of references that runbooks declare as `fallback`s, in safes whose rotation is
//! `none` (read-only accounts that no run rotates), are ever put here: a value a run would have
//! rotated afterwards is useless stale, and caching it would keep a credential alive past its
//! rotation. The bridge refreshes entries while CyberArk is healthy; when CyberArk is
//! unavailable and no CCP answers, a value younger than `max_staleness_secs` may be handed to a
//! read-only run, and an older one is refused with the age and the bound.
//!
//! Values are [`SecretString`]s (wiped when dropped or replaced) in process memory only: the
//! cache is never serialised, logged or written to disk, and its `Debug` prints references and
//! ages, never values. Ages use tokio's clock, so paused-time tests drive staleness.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use arkbridge_core::config::FallbackCacheConfig;
use arkbridge_core::secret_ref::SecretRef;
use secrecy::SecretString;
use tokio::time::Instant;

/// A cached value and how old it is.
pub(crate) struct Cached {
    pub(crate) value: SecretString,
    pub(crate) age: Duration,
}

/// Why the cache could not serve a reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CacheMiss {
    #[error(
        "the read-only cache holds no value for {0} (it is filled while CyberArk is healthy, \
         after a run that declares this fallback)"
    )]
    NotCached(String),
    #[error(
        "the read-only cache's value for {reference} is {age_secs} s old, older than \
         max_staleness_secs = {max_secs}; refusing a stale credential"
    )]
    Stale {
        reference: String,
        age_secs: u64,
        max_secs: u64,
    },
}

struct Entry {
    reference: SecretRef,
    value: SecretString,
    fetched: Instant,
}

/// The cache; shared by reference inside one bridge.
pub(crate) struct RoCache {
    max_staleness: Duration,
    refresh_after: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for RoCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let now = Instant::now();
        let entries: Vec<(String, u64)> = self
            .lock()
            .values()
            .map(|e| {
                (
                    e.reference.to_string(),
                    now.duration_since(e.fetched).as_secs(),
                )
            })
            .collect();
        f.debug_struct("RoCache")
            .field("max_staleness", &self.max_staleness)
            .field("entries (reference, age s)", &entries)
            .finish()
    }
}

/// The cache key: CyberArk compares safe and object names ignoring case; property names are
/// matched as the CCP answer spells them, as `CcpAccount::secret_property` does.
fn key(r: &SecretRef) -> String {
    format!(
        "{}\u{0}{}\u{0}{}",
        r.safe.to_ascii_lowercase(),
        r.object.to_ascii_lowercase(),
        r.property()
    )
}

impl RoCache {
    pub(crate) fn new(config: &FallbackCacheConfig) -> Self {
        RoCache {
            max_staleness: Duration::from_secs(config.max_staleness_secs),
            refresh_after: Duration::from_secs(config.refresh_after_secs),
            entries: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores a freshly fetched value; the one it replaces is wiped.
    pub(crate) fn put(&self, reference: &SecretRef, value: SecretString) {
        self.lock().insert(
            key(reference),
            Entry {
                reference: reference.clone(),
                value,
                fetched: Instant::now(),
            },
        );
    }

    /// True when the reference is not cached or its value is older than `refresh_after`.
    pub(crate) fn needs_refresh(&self, reference: &SecretRef) -> bool {
        self.lock()
            .get(&key(reference))
            .is_none_or(|e| e.fetched.elapsed() >= self.refresh_after)
    }

    /// A copy of the value, if it is fresh enough. A stale value is dropped (wiped) here: it
    /// can never be used again, and the next healthy refresh replaces it.
    pub(crate) fn get(&self, reference: &SecretRef) -> Result<Cached, CacheMiss> {
        let mut entries = self.lock();
        let k = key(reference);
        let Some(entry) = entries.get(&k) else {
            return Err(CacheMiss::NotCached(reference.to_string()));
        };
        let age = entry.fetched.elapsed();
        if age > self.max_staleness {
            entries.remove(&k);
            return Err(CacheMiss::Stale {
                reference: reference.to_string(),
                age_secs: age.as_secs(),
                max_secs: self.max_staleness.as_secs(),
            });
        }
        Ok(Cached {
            value: entry.value.clone(),
            age,
        })
    }

    /// Every cached reference, for a periodic refresh.
    pub(crate) fn references(&self) -> Vec<SecretRef> {
        self.lock().values().map(|e| e.reference.clone()).collect()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn cache(max: u64, refresh: u64) -> RoCache {
        RoCache::new(&FallbackCacheConfig {
            max_staleness_secs: max,
            refresh_after_secs: refresh,
        })
    }

    fn r(s: &str) -> SecretRef {
        s.parse().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_fresh_value_is_served_with_its_age() {
        let c = cache(600, 60);
        c.put(&r("cyberark://Prod-DB-RO/payments-db-ro"), "ro-pw-1".into());
        tokio::time::advance(Duration::from_secs(120)).await;
        let got = c.get(&r("cyberark://prod-db-ro/PAYMENTS-DB-RO")).unwrap();
        assert_eq!(got.value.expose_secret(), "ro-pw-1");
        assert_eq!(got.age, Duration::from_secs(120));
    }

    #[tokio::test(start_paused = true)]
    async fn a_value_at_the_bound_is_served_and_one_past_it_is_refused_and_dropped() {
        let c = cache(600, 60);
        let reference = r("cyberark://Prod-DB-RO/payments-db-ro");
        c.put(&reference, "ro-pw-2".into());
        tokio::time::advance(Duration::from_secs(600)).await;
        assert!(
            c.get(&reference).is_ok(),
            "exactly max_staleness old is still fresh"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        let miss = c.get(&reference).err().unwrap();
        assert_eq!(
            miss,
            CacheMiss::Stale {
                reference: reference.to_string(),
                age_secs: 601,
                max_secs: 600
            }
        );
        let msg = miss.to_string();
        assert!(
            msg.contains("601 s old") && msg.contains("max_staleness_secs = 600"),
            "{msg}"
        );
        assert!(!msg.contains("ro-pw-2"), "{msg}");
        assert_eq!(c.len(), 0, "a stale value is wiped, not kept");
        assert!(matches!(c.get(&reference), Err(CacheMiss::NotCached(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn refresh_is_due_only_after_refresh_after() {
        let c = cache(600, 60);
        let reference = r("cyberark://Prod-DB-RO/payments-db-ro");
        assert!(c.needs_refresh(&reference), "missing values need a fetch");
        c.put(&reference, "v1".into());
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(!c.needs_refresh(&reference));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(c.needs_refresh(&reference));
        c.put(&reference, "v2".into());
        assert!(!c.needs_refresh(&reference));
        assert_eq!(c.get(&reference).unwrap().value.expose_secret(), "v2");
    }

    #[tokio::test(start_paused = true)]
    async fn properties_are_cached_apart_and_debug_shows_no_value() {
        let c = cache(600, 60);
        c.put(&r("cyberark://S/o"), "the-password".into());
        c.put(&r("cyberark://S/o#UserName"), "the-user".into());
        assert_eq!(c.len(), 2);
        assert_eq!(
            c.get(&r("cyberark://S/o#UserName"))
                .unwrap()
                .value
                .expose_secret(),
            "the-user"
        );
        let dbg = format!("{c:?}");
        assert!(dbg.contains("cyberark://S/o"), "{dbg}");
        assert!(
            !dbg.contains("the-password") && !dbg.contains("the-user"),
            "{dbg}"
        );
        assert_eq!(c.references().len(), 2);
    }

    #[test]
    fn a_reference_never_cached_is_a_clear_miss() {
        let c = cache(600, 60);
        let msg = c
            .get(&r("cyberark://Prod-DB-RO/x"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            msg.contains("holds no value for cyberark://Prod-DB-RO/x"),
            "{msg}"
        );
    }
}
