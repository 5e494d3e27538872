//! Short-lived copies of the records that every request reads: the user
//! behind a token and the current version of a workflow.
//!
//! Every authenticated request looks up its user, and each lookup was a
//! hop to a blocking thread and back. Under load the thread switches cost
//! more than the queries. This process changes these records only through
//! the store, which drops the copy of each record it changes. A change by
//! another process (a second server on the same file) shows after at most
//! [`CACHE_TTL`].

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a copy is served before the database is asked again.
pub const CACHE_TTL: Duration = Duration::from_secs(2);

/// Most copies kept per kind of record; a full cache starts over.
const CACHE_CAPACITY: usize = 4096;

/// Copies of records of one kind, by id.
pub(super) struct RecordCache<K, V> {
    state: Mutex<CacheState<K, V>>,
}

struct CacheState<K, V> {
    entries: HashMap<K, (V, Instant)>,
    /// Counts invalidations, so a read that raced with a change does not
    /// store the value it read before the change.
    generation: u64,
}

impl<K: Eq + Hash + Clone, V: Clone> RecordCache<K, V> {
    pub(super) fn new() -> Self {
        RecordCache {
            state: Mutex::new(CacheState {
                entries: HashMap::new(),
                generation: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState<K, V>> {
        // The map stays valid even if a holder panicked.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns a fresh copy of `key`'s record, or the generation to pass to
    /// [`RecordCache::insert`] after reading the database.
    pub(super) fn get(&self, key: &K) -> Result<V, u64> {
        let state = self.lock();
        match state.entries.get(key) {
            Some((value, stored)) if stored.elapsed() < CACHE_TTL => Ok(value.clone()),
            _ => Err(state.generation),
        }
    }

    /// Keeps a copy of `value`, read from the database while the cache was
    /// at `generation`; skipped when a change happened since.
    pub(super) fn insert(&self, key: K, value: V, generation: u64) {
        let mut state = self.lock();
        if state.generation != generation {
            return;
        }
        if state.entries.len() >= CACHE_CAPACITY {
            state.entries.clear();
        }
        state.entries.insert(key, (value, Instant::now()));
    }

    /// Drops the copy of `key`'s record; call it after changing the record.
    pub(super) fn invalidate(&self, key: &K) {
        let mut state = self.lock();
        state.generation += 1;
        state.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_serves_inserted_copy() {
        let cache = RecordCache::new();
        let generation = cache.get(&1).unwrap_err();
        cache.insert(1, "one", generation);
        assert_eq!(cache.get(&1), Ok("one"));
    }

    #[test]
    fn cache_drops_invalidated_copy() {
        let cache = RecordCache::new();
        let generation = cache.get(&1).unwrap_err();
        cache.insert(1, "one", generation);
        cache.invalidate(&1);
        assert!(cache.get(&1).is_err());
    }

    #[test]
    fn cache_skips_read_older_than_change() {
        let cache = RecordCache::new();
        let generation = cache.get(&1).unwrap_err();
        // A change lands between the database read and the insert.
        cache.invalidate(&1);
        cache.insert(1, "stale", generation);
        assert!(cache.get(&1).is_err());
    }
}
