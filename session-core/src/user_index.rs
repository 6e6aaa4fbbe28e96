//! A user's index of sessions: the record that lists the sessions a user
//! logged in to, so they can be listed and ended together.
//!
//! - **Where.** One record per user, in the sessions' own store, under a keyed
//!   hash of the user's identity (HMAC-SHA-256 under a key derived for this
//!   purpose alone): the store's keys do not name the users, and a dictionary
//!   of user names does not find them without the server's secret. Every key
//!   of the ring names a place; the current key's comes first, and an index
//!   found under an older key moves to the current one at its next write, so a
//!   key rotation orphans no index.
//! - **What.** Per session: its store key, a random handle to show the user
//!   instead, its creation time, when the entry was added and when the session
//!   reaches its absolute timeout. Sealed to its store key like a session
//!   record; no user name in it.
//! - **Writes.** Compare-and-set, retried on conflict; every write first
//!   prunes the entries whose sessions ended. An entry is added before its
//!   session's ID is claimed, so a failure in between leaves an entry without
//!   a session (pruned once [`claim_grace`] has passed), never a session
//!   missing from its index.
//! - **TTL.** The longest remaining absolute timeout of its sessions; an index
//!   left with no sessions stays, empty, for a whole absolute timeout, so
//!   that a session claimed after its entry was taken away is refused.
//! - **Lost.** An index that is missing altogether was lost (evicted, or on a
//!   memcached server taken out of the list), not emptied: the next session
//!   of the user to be checked or to log in writes it anew, marked as
//!   rebuilding, and every live session of the user lists itself again at its
//!   own check, until the user ends a session, which closes the rebuild even
//!   when it ends nothing listed (see [`check`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use serde::{Deserialize, Serialize};

use crate::error::{Error, StoreError};
use crate::manager::Config;
use crate::seal;
use crate::session::open_record;
use crate::store::{SaveOutcome, Version};
use crate::telemetry::{StoreOp, timed};

const INDEX_V1: u8 = 1;
/// The part of the store key after the namespace.
const KEY_PREFIX: &str = "user:";
/// Writes of one index that may conflict with other writers before one gives
/// up; each attempt is a few round trips, within the request's budget anyway.
const WRITE_ATTEMPTS: usize = 8;

/// One session of the user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// The session's store key.
    pub(crate) key: String,
    /// What the user sees and names the session by: random, unrelated to the
    /// session's ID, cookie or store key.
    pub(crate) handle: String,
    pub(crate) created_at_ms: u64,
    /// When the entry was written: until [`claim_grace`] has passed, a missing
    /// record may be a session about to be created.
    pub(crate) added_at_ms: u64,
    /// The session's absolute timeout.
    pub(crate) expires_at_ms: u64,
}

impl Entry {
    /// The entry of a session about to be stored under `key`.
    pub(crate) fn new(config: &Config, key: &str, created_at_ms: u64, now_ms: u64) -> Self {
        let absolute = u64::try_from(config.absolute_timeout.as_millis()).unwrap_or(u64::MAX);
        Self {
            key: key.to_owned(),
            handle: URL_SAFE_NO_PAD.encode(crate::id::random_bytes::<16>()),
            created_at_ms,
            added_at_ms: now_ms,
            expires_at_ms: created_at_ms.saturating_add(absolute),
        }
    }
}

/// A user's sessions, as stored.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Index {
    pub(crate) entries: Vec<Entry>,
    /// Written anew after a loss: a live session of the user that it does
    /// not list adds itself instead of being refused.
    #[serde(default)]
    pub(crate) rebuilding: bool,
}

/// How long an entry without a record is kept: longer than any request may
/// spend between writing the entry and claiming the session's ID.
fn claim_grace(config: &Config) -> u64 {
    let budget = config.store_budget.max(Duration::from_secs(5));
    u64::try_from(budget.as_millis()).map_or(u64::MAX, |ms| ms.saturating_mul(2))
}

/// The index's store key under every key of the ring, the current key's
/// first.
fn store_keys(config: &Config, user: &str) -> Vec<String> {
    config
        .keys
        .all()
        .map(|(_, keys)| {
            let mut mac = keys.user_index.clone();
            mac.update(user.as_bytes());
            let mut key = format!("{}{KEY_PREFIX}", config.namespace);
            URL_SAFE_NO_PAD.encode_string(mac.finalize().into_bytes(), &mut key);
            key
        })
        .collect()
}

/// An index as read: which of the ring's places held it, and its version.
struct Found {
    place: usize,
    version: Version,
    index: Index,
}

/// Reads the user's index: under the current key's place, else under an
/// older key's. An index that does not open or decode (anyone who reaches the
/// store could have written it) is logged and read as empty, at its version,
/// so that the next write replaces it; it lists no session meanwhile.
async fn load(config: &Config, keys: &[String]) -> Result<Option<Found>, StoreError> {
    for (place, key) in keys.iter().enumerate() {
        let Some(loaded) = timed(StoreOp::Load, config.store.load(key)).await? else {
            continue;
        };
        let opened = seal::open(&config.keys, key, loaded.bytes).ok();
        let index = opened.and_then(|opened| decode(&opened.plaintext));
        if index.is_none() {
            tracing::warn!("a user's session index does not open; treating it as empty");
        }
        return Ok(Some(Found {
            place,
            version: loaded.version,
            index: index.unwrap_or_default(),
        }));
    }
    Ok(None)
}

/// An index's plaintext: its version byte, then MessagePack; `None` for
/// anything else (anyone who reaches the store could have written it).
pub(crate) fn decode(bytes: &[u8]) -> Option<Index> {
    let (&version, body) = bytes.split_first()?;
    (version == INDEX_V1)
        .then(|| rmp_serde::from_slice(body).ok())
        .flatten()
}

/// Appends the index's plaintext to `buffer`.
fn encode_into(index: &Index, buffer: &mut Vec<u8>) {
    buffer.push(INDEX_V1);
    rmp_serde::encode::write(buffer, index)
        .expect("an index of strings and integers always serializes");
}

/// The index's plaintext as a new buffer.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn encode(index: &Index) -> Vec<u8> {
    let mut buffer = Vec::new();
    encode_into(index, &mut buffer);
    buffer
}

fn seal_index(config: &Config, key: &str, index: &Index) -> Vec<u8> {
    seal::seal_with(&config.keys, key, 64 * index.entries.len() + 16, |buffer| {
        encode_into(index, buffer)
    })
}

/// Whether the session stored at `key`, created at `created_at_ms`, is live
/// and logged in as `user`: its record is there, opens, and matches.
fn is_live(config: &Config, key: &str, bytes: Vec<u8>, created_at_ms: u64, user: &str) -> bool {
    open_record(config, key, bytes).is_some_and(|(record, _)| {
        record.created_at_ms == created_at_ms && record.user.as_deref() == Some(user)
    })
}

/// The entries of `index` whose sessions are live, in one multi-key read.
async fn live_entries(
    config: &Config,
    user: &str,
    index: Index,
    now_ms: u64,
) -> Result<Vec<Entry>, StoreError> {
    let entries: Vec<Entry> = index
        .entries
        .into_iter()
        .filter(|entry| entry.expires_at_ms > now_ms)
        .collect();
    if entries.is_empty() {
        return Ok(entries);
    }
    let keys: Vec<&str> = entries.iter().map(|entry| entry.key.as_str()).collect();
    let records = timed(StoreOp::LoadMany, config.store.load_many(&keys)).await?;
    Ok(entries
        .into_iter()
        .zip(records)
        .filter_map(|(entry, record)| {
            let loaded = record?;
            is_live(config, &entry.key, loaded.bytes, entry.created_at_ms, user).then_some(entry)
        })
        .collect())
}

/// The live sessions of `user`; empty when the index is missing.
///
/// # Errors
///
/// A store error; nothing is written.
pub(crate) async fn live(config: &Config, user: &str, now_ms: u64) -> Result<Vec<Entry>, Error> {
    let keys = store_keys(config, user);
    let Some(found) = load(config, &keys).await? else {
        return Ok(Vec::new());
    };
    Ok(live_entries(config, user, found.index, now_ms).await?)
}

/// Whether the live session of `user` stored at `key` (created at
/// `created_at_ms`) may go on: its user's index lists it. An index that is
/// there but does not list it (the session was ended, or claimed after "log
/// out everywhere" took its entry) refuses it. A missing index was lost, not
/// emptied (an emptied one stays): the session writes it anew, marked as
/// rebuilding, and goes on; so does a session that a rebuilding index does not
/// list yet, which adds itself.
///
/// # Errors
///
/// A store error, or [`Error::Contended`] when other writers kept winning.
pub(crate) async fn check(
    config: &Config,
    user: &str,
    key: &str,
    created_at_ms: u64,
    now_ms: u64,
) -> Result<bool, Error> {
    let keys = store_keys(config, user);
    match load(config, &keys).await? {
        Some(found) if found.index.entries.iter().any(|entry| entry.key == key) => {
            return Ok(true);
        }
        Some(found) if !found.index.rebuilding => return Ok(false),
        Some(_) => {}
        None => tracing::info!("a user's index of sessions was lost; rebuilding it"),
    }
    // Lost or rebuilding: list this session, unless an ending closed the
    // rebuild meanwhile.
    let entry = Entry::new(config, key, created_at_ms, now_ms);
    let index = update(config, user, now_ms, |index| {
        if index.rebuilding && !index.entries.iter().any(|listed| listed.key == entry.key) {
            index.entries.push(entry.clone());
        }
    })
    .await?;
    Ok(index.entries.iter().any(|listed| listed.key == key))
}

/// Writes `index` at `key`: over the version `expected` (with compare-and-set
/// where the store has it), or only where nothing is when `expected` is
/// `None`. Answers whether it was written.
async fn write(
    config: &Config,
    key: &str,
    index: &Index,
    expected: Option<Version>,
    now_ms: u64,
) -> Result<bool, StoreError> {
    let sealed = seal_index(config, key, index);
    let ttl = time_to_keep(config, index, now_ms);
    Ok(match expected {
        Some(version) => {
            let expected = config.store.supports_compare_and_set().then_some(version);
            let saved = timed(
                StoreOp::Save,
                config.store.save(key, &sealed, ttl, expected),
            )
            .await?;
            matches!(saved, SaveOutcome::Saved(_))
        }
        None => timed(StoreOp::Create, config.store.create(key, &sealed, ttl))
            .await?
            .is_some(),
    })
}

/// Changes the user's index: reads it, prunes the entries of ended sessions
/// (those without a record once [`claim_grace`] has passed, and those past
/// their absolute timeout), applies `change`, and writes it back with
/// compare-and-set, all over again when another writer came first. Answers
/// the index as written.
///
/// # Errors
///
/// A store error, or [`Error::Contended`] when other writers kept winning.
pub(crate) async fn update(
    config: &Config,
    user: &str,
    now_ms: u64,
    mut change: impl FnMut(&mut Index),
) -> Result<Index, Error> {
    let keys = store_keys(config, user);
    let current = &keys[0];
    let started = Instant::now();
    for _ in 0..WRITE_ATTEMPTS {
        let found = load(config, &keys).await?;
        let stored = found.is_some();
        let (expected, index, moved_from) = match found {
            Some(Found {
                place: 0,
                version,
                index,
            }) => (Some(version), index, None),
            Some(Found { place, index, .. }) => (None, index, Some(&keys[place])),
            // Missing means lost, never emptied (an emptied index stays):
            // what is written now starts a rebuild, unless `change` closes it.
            None => (
                None,
                Index {
                    entries: Vec::new(),
                    rebuilding: true,
                },
                None,
            ),
        };
        let mut index = prune(config, user, index, now_ms).await?;
        change(&mut index);
        if index.entries.is_empty() && index.rebuilding && !stored {
            // Still as good as lost: nothing to write.
            return Ok(index);
        }
        // An emptied index is written too, not deleted: it stays to tell
        // "emptied" (refuse what it does not list) from "lost".
        if write(config, current, &index, expected, now_ms).await? {
            if let Some(old) = moved_from
                && let Err(error) = timed(StoreOp::Delete, config.store.delete(old)).await
            {
                tracing::warn!(%error, "could not delete a user's index under a retired key");
            }
            return Ok(index);
        }
    }
    Err(Error::Contended {
        attempts: u32::try_from(WRITE_ATTEMPTS).unwrap_or(u32::MAX),
        elapsed: started.elapsed(),
    })
}

/// `index` without the entries of sessions that ended.
async fn prune(config: &Config, user: &str, index: Index, now_ms: u64) -> Result<Index, Error> {
    let grace = claim_grace(config);
    let rebuilding = index.rebuilding;
    let (young, settled): (Vec<Entry>, Vec<Entry>) = index
        .entries
        .into_iter()
        .filter(|entry| entry.expires_at_ms > now_ms)
        .partition(|entry| now_ms.saturating_sub(entry.added_at_ms) < grace);
    let settled = Index {
        entries: settled,
        rebuilding,
    };
    let mut entries = live_entries(config, user, settled, now_ms).await?;
    entries.extend(young);
    Ok(Index {
        entries,
        rebuilding,
    })
}

/// Until the last session of `index` reaches its absolute timeout, at least a
/// second; an empty index, for a whole absolute timeout (no session claimed
/// after it was emptied outlives that).
fn time_to_keep(config: &Config, index: &Index, now_ms: u64) -> Duration {
    let Some(last) = index.entries.iter().map(|entry| entry.expires_at_ms).max() else {
        return config.absolute_timeout;
    };
    Duration::from_millis(last.saturating_sub(now_ms)).max(Duration::from_secs(1))
}

/// When this process last found each logged-in session in its user's index.
#[derive(Debug, Default)]
pub(crate) struct Checks {
    passed: Mutex<HashMap<String, Instant, foldhash::fast::RandomState>>,
}

/// Sessions remembered at most; past it the oldest answers are dropped, which
/// only means asking again.
const MAX_REMEMBERED: usize = 100_000;

impl Checks {
    /// Whether the session at `key` is to be looked up in its index now.
    pub(crate) fn due(&self, key: &str, interval: Duration, now: Instant) -> bool {
        lock(&self.passed)
            .get(key)
            .is_none_or(|at| now.saturating_duration_since(*at) >= interval)
    }

    /// The index listed the session at `key` at `now`.
    pub(crate) fn passed(&self, key: &str, interval: Duration, now: Instant) {
        let mut passed = lock(&self.passed);
        if passed.len() >= MAX_REMEMBERED {
            passed.retain(|_, at| now.saturating_duration_since(*at) < interval);
            if passed.len() >= MAX_REMEMBERED {
                passed.clear();
            }
        }
        passed.insert(key.to_owned(), now);
    }

    /// The session at `key` ended: its next load, if any, asks again.
    pub(crate) fn forget(&self, key: &str) {
        lock(&self.passed).remove(key);
    }
}

/// A poisoned lock only means a panic elsewhere; the map is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyRing, MemoryStore, SessionManager};

    fn entry(expires_at_ms: u64) -> Entry {
        Entry {
            key: "session:abc".into(),
            handle: "h".into(),
            created_at_ms: 1,
            added_at_ms: 2,
            expires_at_ms,
        }
    }

    #[test]
    fn an_index_round_trips_and_junk_does_not_decode() {
        let index = Index {
            entries: vec![entry(3)],
            rebuilding: true,
        };
        let mut bytes = vec![INDEX_V1];
        rmp_serde::encode::write(&mut bytes, &index).expect("serializes");
        let decoded = decode(&bytes).expect("decodes");
        assert_eq!(decoded.entries.len(), 1);
        assert_eq!(decoded.entries[0].key, "session:abc");
        assert!(decoded.rebuilding);
        assert!(decode(&[]).is_none());
        assert!(decode(&[2, 0x90]).is_none());
        assert!(decode(&[INDEX_V1, 0xc1]).is_none());
    }

    /// An index written before the rebuild mark existed (its entries alone)
    /// reads as complete, not rebuilding.
    #[test]
    fn an_index_without_the_rebuild_mark_is_not_rebuilding() {
        let mut bytes = vec![INDEX_V1];
        rmp_serde::encode::write(&mut bytes, &(vec![entry(3)],)).expect("serializes");
        let decoded = decode(&bytes).expect("decodes");
        assert_eq!(decoded.entries.len(), 1);
        assert!(!decoded.rebuilding);
    }

    #[test]
    fn the_ttl_covers_the_last_session_and_an_empty_index_a_whole_absolute_timeout() {
        let manager = SessionManager::builder(MemoryStore::new(), KeyRing::generate())
            .absolute_timeout(Duration::from_secs(3600))
            .build()
            .expect("a valid configuration");
        let config = manager.config();
        let index = Index {
            entries: vec![entry(5_000), entry(90_000)],
            rebuilding: false,
        };
        assert_eq!(time_to_keep(config, &index, 1_000), Duration::from_secs(89));
        let ending = Index {
            entries: vec![entry(1_500)],
            rebuilding: false,
        };
        assert_eq!(time_to_keep(config, &ending, 1_000), Duration::from_secs(1));
        assert_eq!(
            time_to_keep(config, &Index::default(), 1_000),
            Duration::from_secs(3600)
        );
    }
}
