//! A bounded, sharded map whose entries expire: the engine behind the in-memory stores.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

/// Number of independently locked shards. Keys are spread by a randomly keyed SipHash,
/// so callers who choose keys (assertion ids come from the network) cannot pile them
/// onto one shard.
const SHARDS: usize = 16;

struct Entry<V> {
    value: V,
    expires_at: SystemTime,
}

struct Shard<V> {
    map: HashMap<Box<str>, Entry<V>>,
    /// No entry of this shard expires before this (a lower bound; `None` when empty).
    /// Lets a purge skip shards with nothing to drop, so a cache full of live entries
    /// costs O(shards), not O(entries), per refused insert.
    earliest: Option<SystemTime>,
}

impl<V> Shard<V> {
    fn note_expiry(&mut self, expires_at: SystemTime) {
        self.earliest = Some(self.earliest.map_or(expires_at, |e| e.min(expires_at)));
    }

    /// Drops expired entries; returns how many.
    fn purge(&mut self, now: SystemTime) -> usize {
        if self.earliest.is_none_or(|earliest| earliest > now) {
            return 0;
        }
        let before = self.map.len();
        self.map.retain(|_, entry| entry.expires_at > now);
        self.earliest = self.map.values().map(|entry| entry.expires_at).min();
        before - self.map.len()
    }
}

enum Attempt<V> {
    Done(bool),
    Full(V),
}

/// Entries are live while `now < expires_at`. The total number of entries (live, and
/// expired but not yet purged) never exceeds `capacity`.
pub(crate) struct ExpiringMap<V> {
    shards: [Mutex<Shard<V>>; SHARDS],
    hasher: RandomState,
    len: AtomicUsize,
    capacity: usize,
}

impl<V> ExpiringMap<V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            shards: std::array::from_fn(|_| {
                Mutex::new(Shard {
                    map: HashMap::new(),
                    earliest: None,
                })
            }),
            hasher: RandomState::new(),
            len: AtomicUsize::new(0),
            capacity,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    #[expect(
        clippy::indexing_slicing,
        reason = "the index is reduced modulo SHARDS, the array's length"
    )]
    fn shard(&self, key: &str) -> MutexGuard<'_, Shard<V>> {
        let index = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        lock(&self.shards[index])
    }

    /// Takes one slot of the capacity, if any is free.
    fn reserve(&self) -> bool {
        self.len
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |len| {
                (len < self.capacity).then_some(len + 1)
            })
            .is_ok()
    }

    /// Inserts unless a live entry has the key. `Ok(true)`: inserted; `Ok(false)`: a live
    /// entry exists (left untouched). `Err(value)`: every slot holds a live entry.
    pub(crate) fn insert_if_absent(
        &self,
        key: &str,
        value: V,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<bool, V> {
        let value = match self.try_insert(key, value, expires_at, now) {
            Attempt::Done(fresh) => return Ok(fresh),
            Attempt::Full(value) => value,
        };
        // Full: drop expired entries everywhere (one shard lock at a time, none held
        // here), then try once more. Live entries are never evicted.
        self.purge_expired(now);
        match self.try_insert(key, value, expires_at, now) {
            Attempt::Done(fresh) => Ok(fresh),
            Attempt::Full(value) => Err(value),
        }
    }

    fn try_insert(
        &self,
        key: &str,
        value: V,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Attempt<V> {
        let mut shard = self.shard(key);
        match shard.map.get_mut(key) {
            Some(entry) if entry.expires_at > now => Attempt::Done(false),
            Some(entry) => {
                // Expired: reuse its slot.
                *entry = Entry { value, expires_at };
                shard.note_expiry(expires_at);
                Attempt::Done(true)
            }
            None if self.reserve() => {
                shard.map.insert(key.into(), Entry { value, expires_at });
                shard.note_expiry(expires_at);
                Attempt::Done(true)
            }
            None => Attempt::Full(value),
        }
    }

    /// Removes the entry and returns its value if it was live.
    pub(crate) fn take(&self, key: &str, now: SystemTime) -> Option<V> {
        let mut shard = self.shard(key);
        let entry = shard.map.remove(key)?;
        if shard.map.is_empty() {
            shard.earliest = None;
        }
        drop(shard);
        self.len.fetch_sub(1, Ordering::AcqRel);
        (entry.expires_at > now).then_some(entry.value)
    }

    /// Drops every expired entry; returns how many.
    pub(crate) fn purge_expired(&self, now: SystemTime) -> usize {
        let mut removed = 0;
        for shard in &self.shards {
            let dropped = lock(shard).purge(now);
            if dropped > 0 {
                self.len.fetch_sub(dropped, Ordering::AcqRel);
                removed += dropped;
            }
        }
        removed
    }
}

/// A poisoned shard is still consistent: no code that runs under the lock can panic
/// half-way through an update.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn live_entries_block_expired_ones_are_replaced() {
        let map = ExpiringMap::new(4);
        assert_eq!(map.insert_if_absent("k", 1, t(10), t(0)), Ok(true));
        assert_eq!(map.insert_if_absent("k", 2, t(10), t(9)), Ok(false));
        // At exactly expires_at the entry is dead.
        assert_eq!(map.insert_if_absent("k", 3, t(20), t(10)), Ok(true));
        assert_eq!(map.len(), 1);
        assert_eq!(map.take("k", t(11)), Some(3));
        assert_eq!(map.len(), 0);
    }

    #[test]
    fn full_purges_expired_then_refuses_and_hands_the_value_back() {
        let map = ExpiringMap::new(2);
        assert_eq!(map.insert_if_absent("a", 'a', t(5), t(0)), Ok(true));
        assert_eq!(map.insert_if_absent("b", 'b', t(50), t(0)), Ok(true));
        assert_eq!(map.insert_if_absent("c", 'c', t(50), t(1)), Err('c'));
        assert_eq!(map.len(), 2);
        // "a" has expired by t(5): the purge frees its slot.
        assert_eq!(map.insert_if_absent("c", 'c', t(50), t(5)), Ok(true));
        assert_eq!(map.len(), 2);
        assert_eq!(map.take("a", t(5)), None);
        assert_eq!(map.take("b", t(5)), Some('b'));
    }

    #[test]
    fn take_of_an_expired_entry_frees_it_but_returns_nothing() {
        let map = ExpiringMap::new(1);
        assert_eq!(map.insert_if_absent("k", (), t(5), t(0)), Ok(true));
        assert_eq!(map.take("k", t(6)), None);
        assert_eq!(map.len(), 0);
        assert_eq!(map.take("k", t(6)), None);
    }

    #[test]
    fn purge_skips_shards_with_nothing_expired_and_tracks_the_earliest() {
        let map = ExpiringMap::new(100);
        for i in 0..50u64 {
            assert_eq!(
                map.insert_if_absent(&i.to_string(), i, t(10 + i), t(0)),
                Ok(true)
            );
        }
        assert_eq!(map.purge_expired(t(9)), 0);
        assert_eq!(map.purge_expired(t(20)), 11); // expiries 10..=20
        assert_eq!(map.len(), 39);
        assert_eq!(map.purge_expired(t(20)), 0);
        assert_eq!(map.purge_expired(t(1_000)), 39);
        assert_eq!(map.len(), 0);
    }

    #[test]
    fn zero_capacity_refuses_everything() {
        let map = ExpiringMap::new(0);
        assert_eq!(map.insert_if_absent("k", (), t(5), t(0)), Err(()));
        assert_eq!(map.capacity(), 0);
    }
}
