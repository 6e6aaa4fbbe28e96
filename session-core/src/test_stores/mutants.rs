//! [`MutantStore`]: a small, correct in-memory store, and one deliberate bug
//! planted in it at a time ([`Mutant`]). The conformance suite must fail every
//! mutant; this crate's tests check that it does, which is how the suite
//! itself is tested.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::lock;
use crate::error::StoreError;
use crate::store::{Loaded, SaveOutcome, Store, Version};

/// One bug to plant in a [`MutantStore`], each breaking one promise of the
/// [`Store`] docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mutant {
    /// Versions count per key and start again when a key is deleted and
    /// created again, so a save holding the *first* version of the old record
    /// succeeds on the new one.
    VersionsRestartAfterDelete,
    /// `touch` and `load_and_touch` set a TTL 1,000 times too long: the idle
    /// timeout, a security control, silently gone.
    RefreshTtlThousandTimesTooLong,
    /// `save` ignores its TTL in favour of a short one (one second).
    SaveIgnoresItsTtl,
    /// Records expire 10% before their TTL.
    ExpiresTenPercentEarly,
    /// TTLs are rounded down to whole seconds (the core passes fractions).
    RoundsTtlDownToWholeSeconds,
    /// `create` checks that the key is free, then writes, in two steps.
    CreateChecksThenWrites,
    /// An empty value reads back as an absent key.
    EmptyValueReadsAsAbsent,
    /// `touch` gives the record a new version.
    TouchChangesVersion,
    /// `load_many` answers in the wrong order.
    LoadManyOutOfOrder,
    /// A compare-and-set save writes whatever the version.
    CompareAndSetIgnoresVersion,
    /// A compare-and-set save of a deleted record answers `Conflict`, not
    /// `Gone`.
    GoneAnswersConflict,
    /// `delete` answers `true` for an absent key.
    DeleteAlwaysAnswersTrue,
    /// `create` on a taken key overwrites it (and answers `None`).
    CreateOverwrites,
    /// `load_and_touch` reads but leaves the TTL as it was.
    LoadAndTouchDoesNotTouch,
    /// Values over 64 KiB come back cut at 64 KiB.
    TruncatesLargeValues,
    /// `touch` reads the record and writes it back, so a delete in between
    /// is undone.
    TouchWritesBack,
    /// Expired records are still answered by `load_many`.
    LoadManyIgnoresExpiry,
}

impl Mutant {
    /// Every mutant.
    pub const ALL: [Mutant; 17] = [
        Mutant::VersionsRestartAfterDelete,
        Mutant::RefreshTtlThousandTimesTooLong,
        Mutant::SaveIgnoresItsTtl,
        Mutant::ExpiresTenPercentEarly,
        Mutant::RoundsTtlDownToWholeSeconds,
        Mutant::CreateChecksThenWrites,
        Mutant::EmptyValueReadsAsAbsent,
        Mutant::TouchChangesVersion,
        Mutant::LoadManyOutOfOrder,
        Mutant::CompareAndSetIgnoresVersion,
        Mutant::GoneAnswersConflict,
        Mutant::DeleteAlwaysAnswersTrue,
        Mutant::CreateOverwrites,
        Mutant::LoadAndTouchDoesNotTouch,
        Mutant::TruncatesLargeValues,
        Mutant::TouchWritesBack,
        Mutant::LoadManyIgnoresExpiry,
    ];
}

#[derive(Debug, Clone)]
struct Entry {
    bytes: Vec<u8>,
    version: u64,
    expires: Instant,
}

/// A map behind a mutex with TTLs and compare-and-set: a correct store
/// ([`MutantStore::correct`]), or the same with one [`Mutant`] planted.
#[derive(Debug)]
pub struct MutantStore {
    mutant: Option<Mutant>,
    entries: Mutex<HashMap<String, Entry>>,
    next_version: AtomicU64,
    /// Per-key version counters, for [`Mutant::VersionsRestartAfterDelete`].
    key_versions: Mutex<HashMap<String, u64>>,
}

impl MutantStore {
    /// The store without a bug: it passes the conformance suite.
    pub fn correct() -> Self {
        Self::planted(None)
    }

    /// The store with `mutant` planted.
    pub fn new(mutant: Mutant) -> Self {
        Self::planted(Some(mutant))
    }

    fn planted(mutant: Option<Mutant>) -> Self {
        Self {
            mutant,
            entries: Mutex::default(),
            next_version: AtomicU64::new(1),
            key_versions: Mutex::default(),
        }
    }

    fn has(&self, mutant: Mutant) -> bool {
        self.mutant == Some(mutant)
    }

    /// A new version for a write of `key`.
    fn version(&self, key: &str) -> u64 {
        if self.has(Mutant::VersionsRestartAfterDelete) {
            let mut versions = lock(&self.key_versions);
            let version = versions.entry(key.to_owned()).or_insert(0);
            *version += 1;
            return *version;
        }
        self.next_version.fetch_add(1, Ordering::Relaxed)
    }

    /// When a record written now with `ttl` expires.
    fn expiry(&self, ttl: Duration) -> Instant {
        let ttl = if self.has(Mutant::ExpiresTenPercentEarly) {
            ttl.mul_f64(0.9)
        } else if self.has(Mutant::RoundsTtlDownToWholeSeconds) {
            Duration::from_secs(ttl.as_secs())
        } else {
            ttl
        };
        Instant::now() + ttl
    }

    fn refresh_ttl(&self, ttl: Duration) -> Duration {
        if self.has(Mutant::RefreshTtlThousandTimesTooLong) {
            ttl * 1000
        } else {
            ttl
        }
    }

    fn stored_bytes(&self, value: &[u8]) -> Vec<u8> {
        let limit = 64 * 1024;
        if self.has(Mutant::TruncatesLargeValues) && value.len() > limit {
            value[..limit].to_vec()
        } else {
            value.to_vec()
        }
    }

    /// The live entry at `key`, as a load answers it.
    fn live(&self, entries: &HashMap<String, Entry>, key: &str) -> Option<Loaded> {
        let entry = entries.get(key)?;
        if entry.expires <= Instant::now() {
            return None;
        }
        if entry.bytes.is_empty() && self.has(Mutant::EmptyValueReadsAsAbsent) {
            return None;
        }
        Some(Loaded::new(
            entry.bytes.clone(),
            Version::from_u64(entry.version),
        ))
    }

    /// A new record of `value` at `key`, with a new version.
    fn entry(&self, key: &str, value: &[u8], ttl: Duration) -> Entry {
        Entry {
            bytes: self.stored_bytes(value),
            version: self.version(key),
            expires: self.expiry(ttl),
        }
    }

    fn write(&self, key: &str, value: &[u8], ttl: Duration) -> u64 {
        let entry = self.entry(key, value, ttl);
        let version = entry.version;
        lock(&self.entries).insert(key.to_owned(), entry);
        version
    }
}

/// Whether `key` holds no live record (absent or expired).
fn is_free(entries: &HashMap<String, Entry>, key: &str) -> bool {
    entries
        .get(key)
        .is_none_or(|entry| entry.expires <= Instant::now())
}

#[async_trait]
impl Store for MutantStore {
    async fn load(&self, key: &str) -> Result<Option<Loaded>, StoreError> {
        Ok(self.live(&lock(&self.entries), key))
    }

    async fn load_many(&self, keys: &[&str]) -> Result<Vec<Option<Loaded>>, StoreError> {
        let entries = lock(&self.entries);
        let mut loaded: Vec<Option<Loaded>> = keys
            .iter()
            .map(|key| {
                if self.has(Mutant::LoadManyIgnoresExpiry) {
                    let entry = entries.get(*key)?;
                    Some(Loaded::new(
                        entry.bytes.clone(),
                        Version::from_u64(entry.version),
                    ))
                } else {
                    self.live(&entries, key)
                }
            })
            .collect();
        if self.has(Mutant::LoadManyOutOfOrder) {
            loaded.reverse();
        }
        Ok(loaded)
    }

    async fn load_and_touch(&self, key: &str, ttl: Duration) -> Result<Option<Loaded>, StoreError> {
        let mut entries = lock(&self.entries);
        let loaded = self.live(&entries, key);
        if loaded.is_some()
            && !self.has(Mutant::LoadAndTouchDoesNotTouch)
            && let Some(entry) = entries.get_mut(key)
        {
            entry.expires = self.expiry(self.refresh_ttl(ttl));
        }
        Ok(loaded)
    }

    async fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<Option<Version>, StoreError> {
        if self.has(Mutant::CreateChecksThenWrites) {
            let free = is_free(&lock(&self.entries), key);
            tokio::task::yield_now().await;
            if !free {
                return Ok(None);
            }
            let version = self.write(key, value, ttl);
            return Ok(Some(Version::from_u64(version)));
        }
        let mut entries = lock(&self.entries);
        if !is_free(&entries, key) {
            if self.has(Mutant::CreateOverwrites) {
                entries.insert(key.to_owned(), self.entry(key, value, ttl));
            }
            return Ok(None);
        }
        let entry = self.entry(key, value, ttl);
        let version = entry.version;
        entries.insert(key.to_owned(), entry);
        Ok(Some(Version::from_u64(version)))
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        expected: Option<Version>,
    ) -> Result<SaveOutcome, StoreError> {
        let ttl = if self.has(Mutant::SaveIgnoresItsTtl) {
            Duration::from_secs(1)
        } else {
            ttl
        };
        // Checked and written under one lock, so no write comes in between.
        let mut entries = lock(&self.entries);
        if let Some(expected) = expected {
            let current = self.live(&entries, key);
            match current {
                None if self.has(Mutant::GoneAnswersConflict) => return Ok(SaveOutcome::Conflict),
                None => return Ok(SaveOutcome::Gone),
                Some(current)
                    if current.version != expected
                        && !self.has(Mutant::CompareAndSetIgnoresVersion) =>
                {
                    return Ok(SaveOutcome::Conflict);
                }
                Some(_) => {}
            }
        }
        let entry = self.entry(key, value, ttl);
        let version = entry.version;
        entries.insert(key.to_owned(), entry);
        Ok(SaveOutcome::saved(Version::from_u64(version)))
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let ttl = self.refresh_ttl(ttl);
        if self.has(Mutant::TouchWritesBack) {
            let Some(entry) = lock(&self.entries).get(key).cloned() else {
                return Ok(false);
            };
            tokio::task::yield_now().await;
            let expires = self.expiry(ttl);
            lock(&self.entries).insert(key.to_owned(), Entry { expires, ..entry });
            return Ok(true);
        }
        let mut entries = lock(&self.entries);
        let live = self.live(&entries, key).is_some();
        if let Some(entry) = entries.get_mut(key).filter(|_| live) {
            entry.expires = self.expiry(ttl);
            if self.has(Mutant::TouchChangesVersion) {
                entry.version = self.next_version.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(live)
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let mut entries = lock(&self.entries);
        let live = !is_free(&entries, key);
        entries.remove(key);
        if self.has(Mutant::VersionsRestartAfterDelete) {
            lock(&self.key_versions).remove(key);
        }
        Ok(live || self.has(Mutant::DeleteAlwaysAnswersTrue))
    }

    fn supports_compare_and_set(&self) -> bool {
        true
    }
}
