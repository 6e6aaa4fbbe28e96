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
//! - **TTL.** The longest remaining absolute timeout of its sessions.

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

fn decode(bytes: &[u8]) -> Option<Index> {
    let (&version, body) = bytes.split_first()?;
    (version == INDEX_V1)
        .then(|| rmp_serde::from_slice(body).ok())
        .flatten()
}

fn seal_index(config: &Config, key: &str, index: &Index) -> Vec<u8> {
    seal::seal_with(&config.keys, key, 64 * index.entries.len() + 16, |buffer| {
        buffer.push(INDEX_V1);
        rmp_serde::encode::write(buffer, index)
            .expect("an index of strings and integers always serializes");
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

/// Whether the user's index lists the session stored at `key`. A missing
/// index lists nothing: revocation fails closed when the index is lost.
pub(crate) async fn lists(config: &Config, user: &str, key: &str) -> Result<bool, StoreError> {
    let keys = store_keys(config, user);
    Ok(load(config, &keys)
        .await?
        .is_some_and(|found| found.index.entries.iter().any(|entry| entry.key == key)))
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
            None => (None, Index::default(), None),
        };
        let mut index = prune(config, user, index, now_ms).await?;
        change(&mut index);
        if index.entries.is_empty() {
            if !stored {
                return Ok(index);
            }
            // Nothing left to list: no record stays behind. (Delete has no
            // compare-and-set: a login of the same user in this very moment
            // may lose its entry, and its session is then refused at its
            // first index check, which fails closed.)
            for key in std::iter::once(current).chain(moved_from) {
                timed(StoreOp::Delete, config.store.delete(key)).await?;
            }
            return Ok(index);
        }
        let sealed = seal_index(config, current, &index);
        let ttl = time_to_keep(&index, now_ms);
        let written = match expected {
            Some(version) => {
                let expected = config.store.supports_compare_and_set().then_some(version);
                let saved = config.store.save(current, &sealed, ttl, expected);
                let saved = timed(StoreOp::Save, saved).await?;
                matches!(saved, SaveOutcome::Saved(_))
            }
            None => timed(StoreOp::Create, config.store.create(current, &sealed, ttl))
                .await?
                .is_some(),
        };
        if written {
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
    let (young, settled): (Vec<Entry>, Vec<Entry>) = index
        .entries
        .into_iter()
        .filter(|entry| entry.expires_at_ms > now_ms)
        .partition(|entry| now_ms.saturating_sub(entry.added_at_ms) < grace);
    let settled = live_entries(config, user, Index { entries: settled }, now_ms).await?;
    let mut entries = settled;
    entries.extend(young);
    Ok(Index { entries })
}

/// Until the last session of `index` reaches its absolute timeout; at least a
/// second.
fn time_to_keep(index: &Index, now_ms: u64) -> Duration {
    let last = index
        .entries
        .iter()
        .map(|entry| entry.expires_at_ms)
        .max()
        .unwrap_or(now_ms);
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

    #[test]
    fn an_index_round_trips_and_junk_does_not_decode() {
        let index = Index {
            entries: vec![Entry {
                key: "session:abc".into(),
                handle: "h".into(),
                created_at_ms: 1,
                added_at_ms: 2,
                expires_at_ms: 3,
            }],
        };
        let mut bytes = vec![INDEX_V1];
        rmp_serde::encode::write(&mut bytes, &index).expect("serializes");
        let decoded = decode(&bytes).expect("decodes");
        assert_eq!(decoded.entries.len(), 1);
        assert_eq!(decoded.entries[0].key, "session:abc");
        assert!(decode(&[]).is_none());
        assert!(decode(&[2, 0x90]).is_none());
        assert!(decode(&[INDEX_V1, 0xc1]).is_none());
    }

    #[test]
    fn the_ttl_covers_the_last_session() {
        let entry = |expires_at_ms| Entry {
            key: String::new(),
            handle: String::new(),
            created_at_ms: 0,
            added_at_ms: 0,
            expires_at_ms,
        };
        let index = Index {
            entries: vec![entry(5_000), entry(90_000)],
        };
        assert_eq!(time_to_keep(&index, 1_000), Duration::from_secs(89));
        assert_eq!(
            time_to_keep(&Index::default(), 1_000),
            Duration::from_secs(1)
        );
    }
}
