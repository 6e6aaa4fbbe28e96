//! [`MemoryStore`]: the embedded, in-process store.
//!
//! Built on [moka](https://docs.rs/moka): a concurrent cache with per-entry
//! expiry and a size bound, locking one key at a time, never the whole map.
//! Sessions live as long as the process; use a shared store (memcached) to
//! keep them across restarts or share them between instances.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::ops::compute::{CompResult, Op};
use moka::policy::EvictionPolicy;
use moka::sync::Cache;

use crate::error::StoreError;
use crate::store::{Loaded, SaveOutcome, Store, Version};

/// Default bound on the bytes the store holds: 256 MiB of records and keys.
const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Bytes of bookkeeping per entry counted on top of the key and value, so
/// that the bound tracks real memory. Measured: a typical logged-in session
/// (51-byte key, 120-byte sealed record) costs about 635 resident bytes (see
/// `examples/memory_footprint.rs`), so about 460 bytes go to the cache's own
/// structures and allocator slack.
const ENTRY_OVERHEAD: u64 = 460;

#[derive(Clone)]
struct Entry {
    bytes: Arc<[u8]>,
    version: Version,
    ttl: Duration,
}

/// Expires each entry after its own TTL, counted from its last write or touch.
struct PerEntryTtl;

impl moka::Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, value: &Entry, _at: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        _at: Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// An in-process [`Store`] with TTLs, a memory bound and compare-and-set.
///
/// Cloning is cheap and shares the same records.
#[derive(Clone)]
pub struct MemoryStore {
    cache: Cache<String, Entry>,
    next_version: Arc<AtomicU64>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.cache.entry_count())
            .field("weighted_size", &self.cache.weighted_size())
            .finish()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_max_bytes(DEFAULT_MAX_BYTES)
    }
}

impl MemoryStore {
    /// A store bounded to 256 MiB.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that holds at most about `max_bytes` of keys and records. When
    /// full, it evicts the least recently used entries.
    pub fn with_max_bytes(max_bytes: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &String, entry: &Entry| {
                let weight = key.len() as u64 + entry.bytes.len() as u64 + ENTRY_OVERHEAD;
                u32::try_from(weight).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            // Plain LRU: the default TinyLFU policy may refuse to admit a new
            // entry into a full cache, which would drop a session right after
            // `create` claimed it.
            .eviction_policy(EvictionPolicy::lru())
            .build();
        Self {
            cache,
            next_version: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Bytes currently held, as the memory bound counts them: keys, records
    /// and a fixed overhead per entry.
    pub fn weighted_size(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.weighted_size()
    }

    /// Entries currently held (expired ones may linger until the next
    /// maintenance run).
    pub fn entry_count(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }

    /// Versions are unique over the store's life, so a record deleted and
    /// created again never matches a stale expected version.
    fn new_version(&self) -> Version {
        Version::from_u64(self.next_version.fetch_add(1, Ordering::Relaxed))
    }

    /// Gives a live entry a new TTL, keeping its bytes and version.
    fn refresh(&self, key: &str, ttl: Duration) -> Option<Entry> {
        let result = self
            .cache
            .entry_by_ref(key)
            .and_compute_with(|current| match current {
                Some(current) => Op::Put(Entry {
                    ttl,
                    ..current.into_value()
                }),
                None => Op::Nop,
            });
        match result {
            CompResult::ReplacedWith(entry) => Some(entry.into_value()),
            _ => None,
        }
    }

    fn entry(&self, value: &[u8], ttl: Duration) -> Entry {
        Entry {
            bytes: Arc::from(value),
            version: self.new_version(),
            ttl,
        }
    }
}

fn loaded(entry: &Entry) -> Loaded {
    Loaded::new(entry.bytes.to_vec(), entry.version)
}

#[async_trait]
impl Store for MemoryStore {
    async fn load(&self, key: &str) -> Result<Option<Loaded>, StoreError> {
        Ok(self.cache.get(key).as_ref().map(loaded))
    }

    async fn load_and_touch(&self, key: &str, ttl: Duration) -> Result<Option<Loaded>, StoreError> {
        Ok(self.refresh(key, ttl).as_ref().map(loaded))
    }

    async fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<Option<Version>, StoreError> {
        let result = self
            .cache
            .entry_by_ref(key)
            .and_compute_with(|current| match current {
                Some(_) => Op::Nop,
                None => Op::Put(self.entry(value, ttl)),
            });
        Ok(match result {
            CompResult::Inserted(entry) => Some(entry.value().version),
            _ => None,
        })
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        expected: Option<Version>,
    ) -> Result<SaveOutcome, StoreError> {
        let mut outcome = SaveOutcome::Gone;
        self.cache.entry_by_ref(key).and_compute_with(|current| {
            match (expected, current) {
                (Some(_), None) => return Op::Nop,
                (Some(expected), Some(current)) if current.value().version != expected => {
                    outcome = SaveOutcome::Conflict;
                    return Op::Nop;
                }
                _ => {}
            }
            let entry = self.entry(value, ttl);
            outcome = SaveOutcome::Saved(entry.version);
            Op::Put(entry)
        });
        Ok(outcome)
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        Ok(self.refresh(key, ttl).is_some())
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        // Through the per-key lock, like every other write: a plain `remove`
        // could slip between a concurrent touch's read and its write, and the
        // touch would put the deleted record back.
        let result = self
            .cache
            .entry_by_ref(key)
            .and_compute_with(|current| match current {
                Some(_) => Op::Remove,
                None => Op::Nop,
            });
        Ok(matches!(result, CompResult::Removed(_)))
    }

    fn supports_compare_and_set(&self) -> bool {
        true
    }
}
