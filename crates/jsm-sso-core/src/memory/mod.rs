//! In-memory implementations of the seams, for one broker process and for tests.
//!
//! [`MemoryReplayCache`] and [`MemoryStateStore`] are production-grade for a single
//! process: bounded, concurrent, sharded. Several broker instances behind a load balancer
//! need a shared store instead (`jsm-sso-redis`). [`MemoryDirectory`] is a test double.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;

use crate::Clock;
use crate::store::{ReplayCache, StateStore, StoreError};

mod directory;
mod expiring;

pub use directory::{MemoryCustomer, MemoryDirectory};
use expiring::ExpiringMap;

/// The longest key the in-memory stores take, in bytes.
pub const MAX_KEY_LEN: usize = 512;

/// The default largest value a [`MemoryStateStore`] takes, in bytes.
pub const DEFAULT_MAX_VALUE_LEN: usize = 16 * 1024;

fn check_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(StoreError::KeyInvalid {
            len: key.len(),
            max: MAX_KEY_LEN,
        });
    }
    Ok(())
}

/// A bounded in-memory [`ReplayCache`].
///
/// - Holds at most `capacity` keys. When full, it first drops expired keys; if every key
///   is still live it **refuses** the new key with [`StoreError::Full`] (code
///   `core.store.full`) rather than evicting a live one: evicting would let that
///   message be replayed. The caller then rejects the sign-in, so a flood of sign-ins
///   degrades into refusals, never into accepted replays. Size the capacity for the peak
///   sign-in rate times the longest entry lifetime.
/// - Exactly one of any number of concurrent `insert_if_absent` calls with the same key
///   wins. Locks are sharded by a keyed hash and never held across an `.await`.
/// - Reads the time from the [`Clock`] it is given, so tests can move time.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use jsm_sso_core::{Clock, ReplayCache};
/// use jsm_sso_core::clock::SystemClock;
/// use jsm_sso_core::memory::MemoryReplayCache;
///
/// let clock = Arc::new(SystemClock);
/// let cache = MemoryReplayCache::new(clock.clone(), 10_000);
/// let expires = clock.now() + Duration::from_secs(300);
/// assert!(cache.insert_if_absent("saml:entra:_abc", expires).await?);
/// assert!(!cache.insert_if_absent("saml:entra:_abc", expires).await?); // a replay
/// # Ok::<(), jsm_sso_core::store::StoreError>(()) }).unwrap();
/// ```
pub struct MemoryReplayCache {
    clock: Arc<dyn Clock>,
    map: ExpiringMap<()>,
}

impl MemoryReplayCache {
    /// A cache for at most `capacity` keys, reading time from `clock`.
    #[must_use]
    pub fn new(clock: Arc<dyn Clock>, capacity: usize) -> Self {
        Self {
            clock,
            map: ExpiringMap::new(capacity),
        }
    }

    /// The most keys it holds.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.map.capacity()
    }

    /// Keys held, counting expired ones not yet dropped.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no keys are held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops expired keys now (the cache also does this by itself when full); returns
    /// how many were dropped.
    pub fn purge_expired(&self) -> usize {
        self.map.purge_expired(self.clock.now())
    }
}

impl fmt::Debug for MemoryReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayCache")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl ReplayCache for MemoryReplayCache {
    async fn insert_if_absent(
        &self,
        key: &str,
        expires_at: SystemTime,
    ) -> Result<bool, StoreError> {
        check_key(key)?;
        let now = self.clock.now();
        if expires_at <= now {
            return Err(StoreError::AlreadyExpired);
        }
        self.map
            .insert_if_absent(key, (), expires_at, now)
            .map_err(|()| StoreError::Full {
                capacity: self.capacity(),
            })
    }
}

/// A bounded in-memory [`StateStore`].
///
/// - Holds at most `capacity` entries of at most
///   [`max_value_len`](Self::with_max_value_len) bytes each (default
///   [`DEFAULT_MAX_VALUE_LEN`]), so its memory is bounded. When full it drops expired
///   entries; if all are live it refuses the new one ([`StoreError::Full`]) instead of
///   dropping a pending login.
/// - `take` is single use: among concurrent takes of one key exactly one gets the value.
/// - Its `Debug` output never shows values (they hold nonces and PKCE verifiers).
pub struct MemoryStateStore {
    clock: Arc<dyn Clock>,
    map: ExpiringMap<Vec<u8>>,
    max_value_len: usize,
}

impl MemoryStateStore {
    /// A store for at most `capacity` entries, reading time from `clock`.
    #[must_use]
    pub fn new(clock: Arc<dyn Clock>, capacity: usize) -> Self {
        Self {
            clock,
            map: ExpiringMap::new(capacity),
            max_value_len: DEFAULT_MAX_VALUE_LEN,
        }
    }

    /// Sets the largest value accepted, in bytes.
    #[must_use]
    pub fn with_max_value_len(mut self, max_value_len: usize) -> Self {
        self.max_value_len = max_value_len;
        self
    }

    /// The most entries it holds.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.map.capacity()
    }

    /// Entries held, counting expired ones not yet dropped.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no entries are held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops expired entries now; returns how many were dropped.
    pub fn purge_expired(&self) -> usize {
        self.map.purge_expired(self.clock.now())
    }
}

impl fmt::Debug for MemoryStateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStateStore")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .field("max_value_len", &self.max_value_len)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: SystemTime,
    ) -> Result<(), StoreError> {
        check_key(key)?;
        if value.len() > self.max_value_len {
            return Err(StoreError::ValueTooLarge {
                len: value.len(),
                max: self.max_value_len,
            });
        }
        let now = self.clock.now();
        if expires_at <= now {
            return Err(StoreError::AlreadyExpired);
        }
        match self.map.insert_if_absent(key, value, expires_at, now) {
            Ok(true) => Ok(()),
            Ok(false) => Err(StoreError::KeyExists),
            Err(_) => Err(StoreError::Full {
                capacity: self.capacity(),
            }),
        }
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_key(key)?;
        Ok(self.map.take(key, self.clock.now()))
    }
}
