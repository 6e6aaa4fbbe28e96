//! [`MemoryStore`]: the embedded, in-process store.
//!
//! Sessions live as long as the process; use a shared store (memcached) to
//! keep them across restarts or share them between instances. How the store
//! works, and why, is on [`MemoryStore`].

use std::hash::BuildHasher;
use std::num::NonZero;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hashbrown::HashTable;

use crate::error::StoreError;
use crate::store::{Loaded, SaveOutcome, Store, Version};

/// Default bound on the bytes the store holds: 256 MiB.
const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Bytes counted per entry on top of its key and record, so that the bound
/// tracks real memory: the 40-byte slot, its share of the index (5 bytes a
/// bucket, at most 7/8 full, about half full once evictions leave
/// tombstones), and the allocator's header and rounding for the
/// key-and-record block. Measured with `examples/memory_footprint.rs` on
/// typical logged-in sessions (51-byte key, sealed records of 90 to 120
/// bytes): 70 to 80 bytes over key and record for 100,000 sessions, 79 to 86
/// in a full store that keeps evicting. Counting 88 keeps a full store within
/// its bound.
const ENTRY_OVERHEAD: u64 = 88;

/// The most shards a store uses, however many cores the machine has.
const MAX_SHARDS: usize = 256;

/// The least share of the bound a shard gets: a store with a smaller bound
/// uses fewer shards, so that its largest record (one shard's share) stays
/// useful.
const MIN_SHARD_BYTES: u64 = 1024 * 1024;

/// Slots each write checks for expired entries, carrying on where the last
/// write in the shard stopped: a whole turn of the slab takes an eighth as
/// many writes as it has slots, so expired entries are reclaimed faster than
/// sessions are created, at the cost of a few cache lines per write.
const SWEEP_SLOTS: usize = 8;

/// An in-process [`Store`] with TTLs, a memory bound and compare-and-set.
///
/// Cloning is cheap and shares the same records.
///
/// # How it works
///
/// The store is a fixed set of shards, each a mutex over its own map. A key
/// always hashes to the same shard, so every operation on one key is one
/// short critical section: create-if-absent, compare-and-set, and a delete
/// racing touches are atomic by construction (a touch cannot write back a
/// record that a delete removed), and requests for different sessions rarely
/// meet on a lock. No lock is held across an `.await`: each operation runs
/// synchronously inside its async method.
///
/// A shard keeps its entries in a slab, a `Vec` of 40-byte slots reused
/// through a free list, and finds them through a hash table of 4-byte slot
/// numbers. The key and the record share one heap block. There are no
/// per-entry `Arc`s, linked lists or timers. Keeping the slots out of the hash
/// table matters once the store is full: a table that keeps removing and
/// inserting fills with tombstones and settles at about twice the buckets it
/// needs, which costs 5 bytes per bucket here instead of 40. A typical
/// logged-in session (51-byte key, 90-byte sealed record) takes about 220
/// resident bytes, 230 in a full store.
///
/// Expiry is checked on every read: an expired entry reads as absent and is
/// removed on the spot. So that sessions nobody reads again do not pile up,
/// every write also checks a few slots further along its shard, and a shard
/// purges all of its expired entries before its slab grows.
///
/// The byte bound is split evenly between the shards. A shard over its share
/// evicts with CLOCK (second chance), an approximation of LRU: every use of
/// an entry sets its reference bit, and the clock hand walks the slab,
/// clearing set bits and evicting the first entry whose bit is already clear
/// (or that has expired). A full store therefore always admits a new session,
/// at the cost of one nobody used since the hand last passed it. (A TinyLFU
/// cache would instead refuse a new session when full, dropping it right
/// after `create` claimed its ID.)
///
/// This replaced a moka cache: its concurrent machinery (epoch-based memory
/// reclamation, access logs, timer wheels) took about a fifth of the
/// user-space time of a write request, and each session cost about 630
/// resident bytes.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Box<[PaddedShard]>,
    /// Hashes keys to pick their shard and find them in it: foldhash, seeded
    /// at random per store. A fast, non-cryptographic hash is enough here: a
    /// key is a namespace plus the SHA-256 of a random 256-bit session ID, and
    /// a client cannot even make the store look up a key of its choosing (its
    /// cookie must carry a valid HMAC first), so nobody can aim keys at one
    /// bucket (HashDoS). The random seed still covers other callers.
    hasher: foldhash::quality::RandomState,
    /// Time zero for expiry deadlines, which are milliseconds since it.
    epoch: Instant,
    max_bytes: u64,
    /// Each shard's share of `max_bytes`; also the largest entry accepted.
    shard_budget: u64,
}

/// A shard on its own cache lines, so that two cores working on neighbouring
/// shards do not contend for the same line.
#[repr(align(128))]
struct PaddedShard(Mutex<Shard>);

/// One shard: a slab of entries and an index into it.
///
/// Invariants: `index` holds exactly the numbers of the live slots; `free`
/// holds exactly the others; `weight` is the sum of the live slots' weights.
struct Shard {
    /// Slot numbers, found by key. Each is hashed by [`spread`] of its slot's
    /// `hash`, so resizing the table never reads the keys.
    index: HashTable<u32>,
    slots: Vec<Slot>,
    /// Numbers of the slots that hold nothing, reused before the slab grows.
    free: Vec<u32>,
    /// Bytes as the bound counts them: see [`weight_of`].
    weight: u64,
    /// The last version handed out. Per shard rather than per store, so a
    /// write touches no shared cache line: a key always lives in the same
    /// shard, so its versions never repeat while the store runs, also across
    /// a delete and a new create of the key, which is what the `Store`
    /// contract asks.
    last_version: u64,
    /// Where CLOCK eviction resumes.
    clock_hand: usize,
    /// Where the expired-entry sweep on writes resumes.
    sweep_hand: usize,
}

/// One entry, or a free slot (`live` false, `data` empty).
struct Slot {
    /// The key followed by the record: one allocation per entry.
    data: Box<[u8]>,
    version: u64,
    /// Milliseconds since the store's epoch from which the entry is expired,
    /// rounded up so that no entry expires before its TTL.
    expires_at: u64,
    /// The high half of the key's hash (the low half picked the shard).
    hash: u32,
    key_len: u16,
    /// CLOCK's reference bit: set by every use, cleared as the hand passes.
    referenced: bool,
    live: bool,
}

impl Slot {
    fn key(&self) -> &[u8] {
        &self.data[..usize::from(self.key_len)]
    }

    fn record(&self) -> &[u8] {
        &self.data[usize::from(self.key_len)..]
    }

    fn is_expired(&self, now: Now) -> bool {
        now.millis >= self.expires_at
    }

    fn loaded(&self) -> Loaded {
        Loaded::new(self.record().to_vec(), Version::from_u64(self.version))
    }
}

/// What the bound counts for an entry whose key and record take `data_len`
/// bytes.
fn weight_of(data_len: usize) -> u64 {
    data_len as u64 + ENTRY_OVERHEAD
}

/// Spreads a slot's 32-bit hash over the 64 bits `hashbrown` reads: it takes
/// the bucket from the low bits and a 7-bit tag from the top ones. A
/// multiplication by an odd constant keeps the low 32 bits a permutation of
/// the hash and mixes all of it into the top.
fn spread(hash: u32) -> u64 {
    u64::from(hash).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The time of one operation, read once before taking the shard lock: a
/// deadline counted from it is never earlier than one counted from the call.
#[derive(Clone, Copy)]
struct Now {
    since_epoch: Duration,
    /// `since_epoch` in whole milliseconds, rounded down: an entry is live
    /// while this is below its deadline.
    millis: u64,
}

impl Now {
    fn new(since_epoch: Duration) -> Self {
        Self {
            since_epoch,
            millis: u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// The deadline of an entry written now with `ttl`, in milliseconds since
    /// the epoch, rounded up: it expires at the earliest when its TTL is over.
    fn deadline(self, ttl: Duration) -> u64 {
        let at = self.since_epoch.saturating_add(ttl);
        let millis = u64::try_from(at.as_millis()).unwrap_or(u64::MAX);
        if at.subsec_nanos().is_multiple_of(1_000_000) {
            millis
        } else {
            millis.saturating_add(1)
        }
    }
}

/// An entry ready to go into a shard, built before taking the lock so that
/// the allocation and copy happen outside it.
struct NewEntry {
    data: Box<[u8]>,
    hash: u32,
    key_len: u16,
    expires_at: u64,
}

impl NewEntry {
    fn weight(&self) -> u64 {
        weight_of(self.data.len())
    }
}

impl Shard {
    fn new() -> Self {
        Self {
            index: HashTable::new(),
            slots: Vec::new(),
            free: Vec::new(),
            weight: 0,
            last_version: 0,
            clock_hand: 0,
            sweep_hand: 0,
        }
    }

    fn next_version(&mut self) -> u64 {
        self.last_version += 1;
        self.last_version
    }

    /// The slot of the live entry for `key`, marked as used. An expired entry
    /// is removed and reads as absent.
    fn find_live(&mut self, hash: u32, key: &[u8], now: Now) -> Option<u32> {
        let slots = &self.slots;
        let number = *self.index.find(spread(hash), |&number| {
            let slot = &slots[number as usize];
            slot.hash == hash && slot.key() == key
        })?;
        let slot = &mut self.slots[number as usize];
        if slot.is_expired(now) {
            self.remove(number);
            return None;
        }
        slot.referenced = true;
        Some(number)
    }

    fn slot(&mut self, number: u32) -> &mut Slot {
        &mut self.slots[number as usize]
    }

    /// Empties a live slot and puts it on the free list.
    fn remove(&mut self, number: u32) {
        let slot = &mut self.slots[number as usize];
        let data = std::mem::take(&mut slot.data);
        slot.live = false;
        slot.referenced = false;
        let hash = slot.hash;
        self.weight -= weight_of(data.len());
        if let Ok(found) = self.index.find_entry(spread(hash), |&n| n == number) {
            found.remove();
        }
        self.free.push(number);
    }

    /// Adds an entry for a key that has none, evicting others first if the
    /// shard would go over `budget`. Answers the entry's version.
    fn insert(&mut self, entry: NewEntry, budget: u64, now: Now) -> Result<u64, StoreError> {
        self.evict_until(budget - entry.weight(), now, None);
        let number = match self.free.pop() {
            Some(number) => number,
            None => self.grow_slab(now)?,
        };
        let version = self.next_version();
        self.weight += entry.weight();
        *self.slot(number) = Slot {
            data: entry.data,
            version,
            expires_at: entry.expires_at,
            hash: entry.hash,
            key_len: entry.key_len,
            referenced: true,
            live: true,
        };
        let slots = &self.slots;
        self.index.insert_unique(spread(entry.hash), number, |&n| {
            spread(slots[n as usize].hash)
        });
        Ok(version)
    }

    /// Replaces the bytes of the live entry in slot `number`, evicting others
    /// if the shard goes over `budget`. Answers the new version.
    fn replace(&mut self, number: u32, entry: NewEntry, budget: u64, now: Now) -> u64 {
        let version = self.next_version();
        let new_weight = entry.weight();
        let slot = self.slot(number);
        let old = std::mem::replace(&mut slot.data, entry.data);
        slot.version = version;
        slot.expires_at = entry.expires_at;
        slot.referenced = true;
        self.weight = self.weight - weight_of(old.len()) + new_weight;
        drop(old);
        self.evict_until(budget, now, Some(number));
        version
    }

    /// A free slot at the end of the slab. Before the slab reallocates, purges
    /// every expired entry: if that frees slots, the slab stays as it is.
    fn grow_slab(&mut self, now: Now) -> Result<u32, StoreError> {
        if self.slots.len() == self.slots.capacity() && !self.slots.is_empty() {
            self.purge_expired(now);
            if let Some(number) = self.free.pop() {
                // Purging again before the next len/8 new slots would cost
                // O(n) per insert when only a few entries expire at a time.
                if self.free.len() < self.slots.len() / 8 {
                    self.slots.reserve(self.slots.len() / 8 + 1);
                }
                return Ok(number);
            }
        }
        let number = u32::try_from(self.slots.len())
            .map_err(|_| StoreError::value_refused("memory store shard is full"))?;
        self.slots.push(Slot {
            data: Box::default(),
            version: 0,
            expires_at: 0,
            hash: 0,
            key_len: 0,
            referenced: false,
            live: false,
        });
        Ok(number)
    }

    /// CLOCK: evicts entries until the shard weighs at most `target`, never
    /// the one in slot `keep`. Expired entries go whatever their bit.
    ///
    /// Two turns of the hand always suffice: the first clears every bit.
    /// Callers make sure the target is reachable by evicting everything else.
    fn evict_until(&mut self, target: u64, now: Now, keep: Option<u32>) {
        let slots = self.slots.len();
        for _ in 0..=2 * slots {
            if self.weight <= target {
                return;
            }
            let number = if self.clock_hand < slots {
                self.clock_hand
            } else {
                0
            };
            self.clock_hand = number + 1;
            let slot = &mut self.slots[number];
            if !slot.live || keep == Some(number as u32) {
                continue;
            }
            if slot.referenced && !slot.is_expired(now) {
                slot.referenced = false;
                continue;
            }
            self.remove(number as u32);
        }
        debug_assert!(self.weight <= target, "eviction could not make room");
    }

    /// Removes expired entries among the next [`SWEEP_SLOTS`] slots.
    fn sweep(&mut self, now: Now) {
        let slots = self.slots.len();
        if slots == 0 {
            return;
        }
        for _ in 0..SWEEP_SLOTS.min(slots) {
            let number = if self.sweep_hand < slots {
                self.sweep_hand
            } else {
                0
            };
            self.sweep_hand = number + 1;
            let slot = &self.slots[number];
            if slot.live && slot.is_expired(now) {
                self.remove(number as u32);
            }
        }
    }

    /// Removes every expired entry.
    fn purge_expired(&mut self, now: Now) {
        for number in 0..self.slots.len() {
            let slot = &self.slots[number];
            if slot.live && slot.is_expired(now) {
                self.remove(number as u32);
            }
        }
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.entry_count())
            .field("weighted_size", &self.weighted_size())
            .field("max_bytes", &self.inner.max_bytes)
            .field("shards", &self.inner.shards.len())
            .finish()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_max_bytes(DEFAULT_MAX_BYTES)
    }
}

impl MemoryStore {
    /// A store bounded to 256 MiB: about a million typical sessions.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that holds at most about `max_bytes` of keys, records and
    /// per-entry bookkeeping (see [`weighted_size`](Self::weighted_size)).
    /// When full, it evicts the least recently used entries (approximately)
    /// to admit new ones; it never refuses a new session for lack of room.
    ///
    /// The bound is split evenly between the store's shards (four per core,
    /// fewer when the bound is below a few MiB), each of which evicts on its
    /// own: the store starts evicting when its fullest shard is full,
    /// typically at 95% of the bound or more. One shard's share is also the
    /// largest record the store accepts (32 MiB on two cores with the default
    /// bound; the whole bound below 2 MiB); a save of a larger one fails with
    /// [`StoreError::value_refused`].
    pub fn with_max_bytes(max_bytes: u64) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, NonZero::get);
        let mut shards = cores.saturating_mul(4).next_power_of_two().min(MAX_SHARDS);
        while shards > 1 && max_bytes / (shards as u64) < MIN_SHARD_BYTES {
            shards /= 2;
        }
        Self::with_shards(max_bytes, shards)
    }

    /// A store of `shards` shards (a power of two).
    fn with_shards(max_bytes: u64, shards: usize) -> Self {
        debug_assert!(shards.is_power_of_two());
        let inner = Inner {
            shards: (0..shards)
                .map(|_| PaddedShard(Mutex::new(Shard::new())))
                .collect(),
            hasher: foldhash::quality::RandomState::default(),
            epoch: Instant::now(),
            max_bytes,
            shard_budget: max_bytes / shards as u64,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Bytes currently held, as the memory bound counts them: keys, records
    /// and a fixed overhead per entry that tracks the store's real memory.
    /// Expired entries count until they are reclaimed, which happens when
    /// they are read, when writes to their shard pass them, or when their
    /// shard needs room.
    pub fn weighted_size(&self) -> u64 {
        self.shards().map(|shard| shard.weight).sum()
    }

    /// Entries currently held, including expired ones not yet reclaimed.
    pub fn entry_count(&self) -> u64 {
        self.shards().map(|shard| shard.index.len() as u64).sum()
    }

    /// Each shard in turn, locked.
    fn shards(&self) -> impl Iterator<Item = MutexGuard<'_, Shard>> {
        self.inner.shards.iter().map(|shard| lock(&shard.0))
    }

    /// The key's hash within its shard, and the shard.
    fn locate(&self, key: &str) -> (u32, &Mutex<Shard>) {
        let hash = self.inner.hasher.hash_one(key.as_bytes());
        // The low bits pick the shard, the high half finds the key in it, so
        // the keys of one shard still spread over its whole table.
        let shard = &self.inner.shards[hash as usize & (self.inner.shards.len() - 1)];
        ((hash >> 32) as u32, &shard.0)
    }

    fn now(&self) -> Now {
        Now::new(self.inner.epoch.elapsed())
    }

    /// Builds an entry outside any lock, or refuses a record too large for a
    /// shard.
    fn new_entry(
        &self,
        key: &str,
        hash: u32,
        value: &[u8],
        now: Now,
        ttl: Duration,
    ) -> Result<NewEntry, StoreError> {
        let key_len = u16::try_from(key.len())
            .map_err(|_| StoreError::value_refused("memory store keys are at most 65,535 bytes"))?;
        let weight = weight_of(key.len() + value.len());
        if weight > self.inner.shard_budget {
            let limit = self
                .inner
                .shard_budget
                .saturating_sub(ENTRY_OVERHEAD + key.len() as u64);
            return Err(StoreError::value_refused(format!(
                "a {}-byte record exceeds the memory store's limit of {limit} bytes \
                 (its bound shared between {} shards)",
                value.len(),
                self.inner.shards.len(),
            )));
        }
        let mut data = Vec::with_capacity(key.len() + value.len());
        data.extend_from_slice(key.as_bytes());
        data.extend_from_slice(value);
        Ok(NewEntry {
            data: data.into_boxed_slice(),
            hash,
            key_len,
            expires_at: now.deadline(ttl),
        })
    }

    /// Gives a live entry a new TTL, keeping its bytes and version, and
    /// answers `then` of it, or `None` when there is no live entry.
    fn refresh<R>(&self, key: &str, ttl: Duration, then: impl FnOnce(&Slot) -> R) -> Option<R> {
        let now = self.now();
        let (hash, shard) = self.locate(key);
        let mut shard = lock(shard);
        let number = shard.find_live(hash, key.as_bytes(), now)?;
        let slot = shard.slot(number);
        slot.expires_at = now.deadline(ttl);
        Some(then(slot))
    }
}

/// Locks a shard. Nothing inside a shard's critical section should panic
/// (running out of memory aborts); should a bug make something panic there
/// anyway, later callers take the lock as is rather than failing every
/// request on that shard from then on.
fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

#[async_trait]
impl Store for MemoryStore {
    async fn load(&self, key: &str) -> Result<Option<Loaded>, StoreError> {
        let now = self.now();
        let (hash, shard) = self.locate(key);
        let mut shard = lock(shard);
        Ok(shard
            .find_live(hash, key.as_bytes(), now)
            .map(|number| shard.slot(number).loaded()))
    }

    async fn load_and_touch(&self, key: &str, ttl: Duration) -> Result<Option<Loaded>, StoreError> {
        Ok(self.refresh(key, ttl, Slot::loaded))
    }

    async fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<Option<Version>, StoreError> {
        let now = self.now();
        let (hash, shard) = self.locate(key);
        let entry = self.new_entry(key, hash, value, now, ttl)?;
        let mut shard = lock(shard);
        shard.sweep(now);
        if shard.find_live(hash, key.as_bytes(), now).is_some() {
            return Ok(None);
        }
        let version = shard.insert(entry, self.inner.shard_budget, now)?;
        Ok(Some(Version::from_u64(version)))
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        expected: Option<Version>,
    ) -> Result<SaveOutcome, StoreError> {
        let now = self.now();
        let (hash, shard) = self.locate(key);
        let entry = self.new_entry(key, hash, value, now, ttl)?;
        let mut shard = lock(shard);
        shard.sweep(now);
        let budget = self.inner.shard_budget;
        let version = match (shard.find_live(hash, key.as_bytes(), now), expected) {
            (None, Some(_)) => return Ok(SaveOutcome::Gone),
            (None, None) => shard.insert(entry, budget, now)?,
            (Some(number), Some(expected))
                if Version::from_u64(shard.slot(number).version) != expected =>
            {
                return Ok(SaveOutcome::Conflict);
            }
            (Some(number), _) => shard.replace(number, entry, budget, now),
        };
        Ok(SaveOutcome::saved(Version::from_u64(version)))
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        Ok(self.refresh(key, ttl, |_| ()).is_some())
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let now = self.now();
        let (hash, shard) = self.locate(key);
        let mut shard = lock(shard);
        let Some(number) = shard.find_live(hash, key.as_bytes(), now) else {
            return Ok(false);
        };
        shard.remove(number);
        Ok(true)
    }

    fn supports_compare_and_set(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(60);
    const RECORD: [u8; 100] = [7; 100];

    /// Keys of 6 bytes, so that entries of a [`RECORD`] all weigh the same.
    fn key(i: usize) -> String {
        format!("key:{i:02}")
    }

    /// A one-shard store with room for exactly `entries` entries of a
    /// [`key`] and a [`RECORD`].
    fn store_for(entries: u64) -> MemoryStore {
        MemoryStore::with_shards(entries * weight_of(6 + RECORD.len()), 1)
    }

    /// Whether the store holds `key`, expired or not, without using it (a
    /// load would set its reference bit).
    fn holds(store: &MemoryStore, key: &str) -> bool {
        let (hash, shard) = store.locate(key);
        let shard = lock(shard);
        shard
            .index
            .find(spread(hash), |&n| {
                shard.slots[n as usize].key() == key.as_bytes()
            })
            .is_some()
    }

    /// Checks every shard's bookkeeping: the index holds exactly the live
    /// slots, each under its key's hash; the free list holds exactly the
    /// other slots; the weight adds up.
    fn assert_consistent(store: &MemoryStore) {
        for shard in store.shards() {
            let slots = shard.slots.len() as u32;
            let (live, free): (Vec<u32>, Vec<u32>) =
                (0..slots).partition(|&n| shard.slots[n as usize].live);
            let mut indexed: Vec<u32> = shard.index.iter().copied().collect();
            indexed.sort_unstable();
            assert_eq!(indexed, live, "the index and the live slots differ");
            let mut listed = shard.free.clone();
            listed.sort_unstable();
            assert_eq!(listed, free, "the free list and the free slots differ");
            let mut weight = 0;
            for &number in &live {
                let slot = &shard.slots[number as usize];
                let hash = store.inner.hasher.hash_one(slot.key()) >> 32;
                assert_eq!(u64::from(slot.hash), hash, "a slot's hash is not its key's");
                let found = shard.index.find(spread(slot.hash), |&n| n == number);
                assert!(found.is_some(), "slot {number} is not under its hash");
                weight += weight_of(slot.data.len());
            }
            assert_eq!(shard.weight, weight, "the shard's weight does not add up");
        }
    }

    async fn create(store: &MemoryStore, key: &str, ttl: Duration) -> Version {
        store
            .create(key, &RECORD, ttl)
            .await
            .expect("create")
            .expect("the key is free")
    }

    #[tokio::test]
    async fn evicts_the_least_recently_used_entry_when_full() {
        let store = store_for(10);
        for i in 0..10 {
            create(&store, &key(i), TTL).await;
        }
        assert_eq!(store.entry_count(), 10);

        // The eleventh entry pushes one of the first ten out. On the way the
        // clock hand passes every entry and clears its reference bit.
        create(&store, &key(10), TTL).await;
        assert_eq!(store.entry_count(), 10);
        let survivors: Vec<usize> = (0..10).filter(|&i| holds(&store, &key(i))).collect();
        assert_eq!(survivors.len(), 9);

        // Use every survivor but one: that one goes next.
        let idle = survivors[4];
        for &i in survivors.iter().filter(|&&i| i != idle) {
            assert!(store.load(&key(i)).await.expect("load").is_some());
        }
        create(&store, &key(11), TTL).await;
        assert!(!holds(&store, &key(idle)), "the idle entry was kept");
        for i in survivors.into_iter().filter(|&i| i != idle).chain([10, 11]) {
            assert!(holds(&store, &key(i)), "{} was evicted", key(i));
        }
        assert_consistent(&store);
    }

    #[tokio::test]
    async fn a_full_store_admits_new_sessions_by_evicting_unused_ones() {
        let store = store_for(10);
        let bound = store.inner.max_bytes;
        for i in 0..10 {
            create(&store, &key(i), TTL).await;
        }
        assert_eq!(store.weighted_size(), bound, "the store is exactly full");
        for i in 10..50 {
            let version = create(&store, &key(i), TTL).await;
            let loaded = store.load(&key(i)).await.expect("load");
            assert_eq!(
                loaded.map(|loaded| loaded.version),
                Some(version),
                "a new session was dropped right after it was admitted"
            );
            assert_eq!(store.entry_count(), 10);
            assert!(store.weighted_size() <= bound);
        }
        for i in 0..10 {
            assert!(
                !holds(&store, &key(i)),
                "{} outlived forty new sessions unused",
                key(i)
            );
        }
        assert_consistent(&store);
    }

    #[tokio::test]
    async fn stays_within_its_byte_bound() {
        const BOUND: u64 = 4 * 1024 * 1024;
        // Four shards of 1 MiB whatever the core count.
        let store = MemoryStore::with_max_bytes(BOUND);
        assert_eq!(store.inner.shards.len().min(4), store.inner.shards.len());
        for i in 0..5_000usize {
            let value = vec![1; 100 + i * 37 % 3_000];
            let outcome = store
                .save(&format!("bound:{i}"), &value, TTL, None)
                .await
                .expect("save");
            assert!(matches!(outcome, SaveOutcome::Saved(_)));
            assert!(
                store.weighted_size() <= BOUND,
                "over the bound after {i} saves"
            );
        }
        assert!(
            store.weighted_size() > BOUND / 10 * 9,
            "the store evicted far more than needed: {} bytes held",
            store.weighted_size()
        );

        // A record that grows in place pushes others out, never itself.
        let big = vec![2; 600 * 1024];
        store
            .save("bound:0", &big, TTL, None)
            .await
            .expect("save a large record");
        let loaded = store.load("bound:0").await.expect("load");
        assert_eq!(loaded.map(|loaded| loaded.bytes), Some(big));
        assert!(store.weighted_size() <= BOUND);

        // A record larger than a shard's share is refused, not half-stored.
        let too_big = vec![3; 2 * 1024 * 1024];
        let refused = store.save("bound:too-big", &too_big, TTL, None).await;
        assert!(matches!(refused, Err(StoreError::ValueRefused(_))));
        assert!(store.load("bound:too-big").await.expect("load").is_none());
        assert_consistent(&store);
    }

    #[tokio::test]
    async fn expired_entries_read_as_absent() {
        let store = MemoryStore::new();
        let short = Duration::from_millis(250);
        let version = create(&store, "expiring", short).await;
        create(&store, "lasting", TTL).await;
        assert!(store.load("expiring").await.expect("load").is_some());
        // Deadlines round up to the next millisecond (never early), so an
        // entry may outlive its TTL by up to a millisecond.
        tokio::time::sleep(short + Duration::from_millis(2)).await;

        assert!(store.load("expiring").await.expect("load").is_none());
        assert!(!store.touch("expiring", TTL).await.expect("touch"));
        assert!(
            store
                .load_and_touch("expiring", TTL)
                .await
                .expect("load_and_touch")
                .is_none()
        );
        assert_eq!(
            store
                .save("expiring", b"revived", TTL, Some(version))
                .await
                .expect("save"),
            SaveOutcome::Gone
        );
        assert!(!store.delete("expiring").await.expect("delete"));
        assert!(store.load("lasting").await.expect("load").is_some());
        let again = store.create("expiring", b"new", TTL).await.expect("create");
        assert!(again.is_some_and(|again| again != version));
        assert_eq!(store.entry_count(), 2);
        assert_consistent(&store);
    }

    #[tokio::test]
    async fn expired_entries_are_reclaimed_without_being_read() {
        let short = Duration::from_millis(20);

        // Writes sweep expired entries out of a store far from its bound. (One
        // shard, so that every write sweeps where the expired entries are.)
        let store = MemoryStore::with_shards(DEFAULT_MAX_BYTES, 1);
        for i in 0..100 {
            create(&store, &format!("old:{i:03}"), short).await;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
        for i in 0..50 {
            create(&store, &format!("new:{i:03}"), TTL).await;
        }
        assert_eq!(store.entry_count(), 50, "expired entries linger");
        assert_eq!(store.weighted_size(), 50 * weight_of(7 + RECORD.len()));

        // A full store makes room from its expired entries, not its live ones.
        let store = store_for(10);
        for i in 0..10 {
            create(&store, &key(i), short).await;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
        for i in 10..20 {
            create(&store, &key(i), TTL).await;
        }
        assert_eq!(store.entry_count(), 10);
        for i in 10..20 {
            assert!(holds(&store, &key(i)), "{} was evicted", key(i));
        }
        assert_consistent(&store);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn stays_consistent_under_concurrent_churn() {
        // Two small shards, so that writes keep evicting, and TTLs short
        // enough that entries expire during the run.
        let store = MemoryStore::with_shards(2 * 32 * weight_of(7 + 200), 2);
        let bound = store.inner.max_bytes;
        let tasks: Vec<_> = (0..4u64)
            .map(|task| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in 0..3_000u64 {
                        let key = format!("k:{:03}", (i * 7 + task * 13) % 150);
                        let ttl = if i % 3 == 0 {
                            Duration::from_millis(2)
                        } else {
                            TTL
                        };
                        let value = vec![task as u8; 50 + (i % 4 * 50) as usize];
                        match i % 6 {
                            0 => drop(store.create(&key, &value, ttl).await.expect("create")),
                            1 => drop(store.save(&key, &value, ttl, None).await.expect("save")),
                            2 => {
                                let loaded = store.load(&key).await.expect("load");
                                if let Some(loaded) = loaded {
                                    let expected = Some(loaded.version);
                                    store.save(&key, &value, ttl, expected).await.expect("save");
                                }
                            }
                            3 => drop(store.load_and_touch(&key, TTL).await.expect("touch")),
                            4 => drop(store.touch(&key, ttl).await.expect("touch")),
                            _ => drop(store.delete(&key).await.expect("delete")),
                        }
                        assert!(store.weighted_size() <= bound);
                        if i % 64 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task panicked");
        }
        assert_consistent(&store);
    }

    #[test]
    fn deadlines_round_up_to_the_millisecond() {
        let second = Duration::from_secs(1);
        let now = Now::new(Duration::from_micros(1_500));
        assert_eq!(now.millis, 1);
        assert_eq!(now.deadline(second), 1_002);
        assert_eq!(Now::new(Duration::from_millis(3)).deadline(second), 1_003);
        assert_eq!(
            Now::new(Duration::ZERO).deadline(Duration::from_secs_f64(1.0005)),
            1_001
        );
        assert_eq!(Now::new(Duration::ZERO).deadline(Duration::MAX), u64::MAX);

        // Written at 1.5 ms with 1 s, so due at 1001.5 ms: live at 1001.9 ms.
        let slot = Slot {
            data: Box::default(),
            version: 1,
            expires_at: now.deadline(second),
            hash: 0,
            key_len: 0,
            referenced: false,
            live: true,
        };
        assert!(!slot.is_expired(Now::new(Duration::from_micros(1_001_900))));
        assert!(slot.is_expired(Now::new(Duration::from_millis(1_002))));
    }
}
