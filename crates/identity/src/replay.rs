//! A `jti` replay cache: each accepted token id is remembered until the token can no longer be
//! accepted anyway (its `exp` plus the clock skew), so a captured token cannot be presented a
//! second time.
//!
//! Memory is bounded twice: entries are a fixed-size SHA-256 of issuer and `jti` (whatever the
//! `jti`'s length), and there are at most `capacity` of them. When the cache is full of
//! unexpired entries the new token is refused: forgetting an old entry to make room would
//! reopen the replay window the cache exists to close.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Mutex;

use ring::digest;

use crate::error::IdentityError;

type Key = [u8; 32];

#[derive(Default)]
struct Inner {
    until: HashMap<Key, i64>,
    by_expiry: BinaryHeap<Reverse<(i64, Key)>>,
}

/// Remembers accepted token ids until they expire.
pub(crate) struct ReplayCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for ReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

fn key(issuer: &str, jti: &str) -> Key {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(issuer.as_bytes());
    // A separator that cannot occur in UTF-8 keeps ("ab","c") and ("a","bc") apart.
    ctx.update(&[0xff]);
    ctx.update(jti.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

impl ReplayCache {
    /// A cache holding at most `capacity` unexpired ids (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of remembered ids (expired ones included until the next insertion purges them).
    pub(crate) fn len(&self) -> usize {
        self.lock().until.len()
    }

    /// Records `jti` of `issuer` until `remember_until`, or refuses it if already seen.
    pub(crate) fn check_and_remember(
        &self,
        issuer: &str,
        jti: &str,
        remember_until: i64,
        now: i64,
    ) -> Result<(), IdentityError> {
        let key = key(issuer, jti);
        let mut inner = self.lock();
        while let Some(Reverse((until, k))) = inner.by_expiry.peek().copied() {
            if until > now {
                break;
            }
            inner.by_expiry.pop();
            // The map holds the latest deadline for the key; an older heap entry must not
            // remove it.
            if inner.until.get(&k) == Some(&until) {
                inner.until.remove(&k);
            }
        }
        if inner.until.get(&key).is_some_and(|until| *until > now) {
            return Err(IdentityError::Replay);
        }
        if inner.until.len() >= self.capacity {
            return Err(IdentityError::ReplayCacheFull {
                capacity: self.capacity,
            });
        }
        inner.until.insert(key, remember_until);
        inner.by_expiry.push(Reverse((remember_until, key)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_use_within_the_lifetime_is_a_replay() {
        let cache = ReplayCache::new(10);
        cache.check_and_remember("iss", "j1", 200, 100).unwrap();
        assert!(matches!(
            cache.check_and_remember("iss", "j1", 200, 150),
            Err(IdentityError::Replay)
        ));
        // The same jti from another issuer is another token.
        cache.check_and_remember("other", "j1", 200, 150).unwrap();
    }

    #[test]
    fn entries_are_forgotten_after_their_deadline() {
        let cache = ReplayCache::new(10);
        cache.check_and_remember("iss", "j1", 200, 100).unwrap();
        cache.check_and_remember("iss", "j2", 300, 100).unwrap();
        assert_eq!(cache.len(), 2);
        cache.check_and_remember("iss", "j3", 400, 250).unwrap();
        assert_eq!(cache.len(), 2, "j1 is purged once its deadline passed");
        cache.check_and_remember("iss", "j1", 500, 250).unwrap();
    }

    #[test]
    fn a_full_cache_refuses_instead_of_forgetting() {
        let cache = ReplayCache::new(2);
        cache.check_and_remember("iss", "a", 200, 100).unwrap();
        cache.check_and_remember("iss", "b", 200, 100).unwrap();
        assert!(matches!(
            cache.check_and_remember("iss", "c", 200, 100),
            Err(IdentityError::ReplayCacheFull { capacity: 2 })
        ));
        assert!(matches!(
            cache.check_and_remember("iss", "a", 200, 150),
            Err(IdentityError::Replay)
        ));
        // Once the entries expire there is room again.
        cache.check_and_remember("iss", "c", 300, 200).unwrap();
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn long_ids_take_constant_memory() {
        let cache = ReplayCache::new(4);
        let long = "j".repeat(100_000);
        cache.check_and_remember("iss", &long, 200, 100).unwrap();
        assert!(matches!(
            cache.check_and_remember("iss", &long, 200, 100),
            Err(IdentityError::Replay)
        ));
    }
}
