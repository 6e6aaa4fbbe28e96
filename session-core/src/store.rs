//! The storage interface: whole keys in, opaque bytes out.
//!
//! A [`Store`] never sees a cookie, a session ID or session data. The core hands
//! it a finished key (a namespace plus the SHA-256 of the ID) and a sealed,
//! encrypted record, so a store can be written, reviewed and replaced without
//! touching anything security-sensitive.
//!
//! Every record carries a [`Version`]. Stores that can compare-and-set (memcached
//! with its CAS values, the in-memory store with a counter) use it so that two
//! requests writing one session at once never silently overwrite each other; the
//! core re-applies the loser's changes and tries again.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::StoreError;

/// The version of a stored record, for compare-and-set.
///
/// A store gives a new value for every write and keeps it across a TTL refresh.
/// Values are opaque: only equality means anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version(pub u64);

/// A record read back from a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The bytes exactly as they were saved.
    pub bytes: Vec<u8>,
    /// The record's current version.
    pub version: Version,
}

/// The outcome of [`Store::save`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    /// The record was written; this is its new version.
    Saved(Version),
    /// The record exists but its version is not the expected one: someone else
    /// wrote it since it was loaded. Nothing was written.
    Conflict,
    /// A version was expected but the record no longer exists (deleted by a
    /// logout, moved by an ID rotation, or expired). Nothing was written.
    Gone,
}

/// An async key-value store for sealed session records.
///
/// Implementations must be safe to share between tasks (`Arc<dyn Store>`).
/// Every `ttl` is at least one second; a store that counts in whole seconds
/// rounds up, so a record may outlive its TTL slightly but never expires early.
///
/// The `test-suite` feature exposes the `conformance` module, which
/// checks an implementation against this contract; run it from your store's
/// tests.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Reads a record, or `None` when the key is absent or expired.
    async fn load(&self, key: &str) -> Result<Option<Loaded>, StoreError>;

    /// Reads a record and resets its TTL to `ttl`, keeping its version.
    ///
    /// The default calls [`load`](Store::load) then [`touch`](Store::touch);
    /// stores that can do both in one round trip (memcached's get-and-touch)
    /// should override it, since it runs on every request that uses a session.
    async fn load_and_touch(&self, key: &str, ttl: Duration) -> Result<Option<Loaded>, StoreError> {
        let Some(loaded) = self.load(key).await? else {
            return Ok(None);
        };
        if self.touch(key, ttl).await? {
            Ok(Some(loaded))
        } else {
            Ok(None)
        }
    }

    /// Writes a record only if the key is free. Answers its version, or `None`
    /// when the key is already taken (and leaves the existing record alone).
    ///
    /// This is how a new or rotated session ID is claimed without ever
    /// overwriting another session.
    async fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<Option<Version>, StoreError>;

    /// Writes a record.
    ///
    /// With `expected: Some(v)` this is a compare-and-set: it writes only if the
    /// record exists at version `v`, and answers [`SaveOutcome::Conflict`] or
    /// [`SaveOutcome::Gone`] otherwise. With `None` it overwrites or creates
    /// unconditionally. A store whose [`supports_compare_and_set`] is false is
    /// only ever called with `None`.
    ///
    /// [`supports_compare_and_set`]: Store::supports_compare_and_set
    async fn save(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        expected: Option<Version>,
    ) -> Result<SaveOutcome, StoreError>;

    /// Resets a record's TTL without changing it or its version. Answers
    /// whether the record existed.
    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Removes a record. Answers whether it existed. Removing an absent key is
    /// not an error.
    async fn delete(&self, key: &str) -> Result<bool, StoreError>;

    /// Whether [`save`](Store::save) honours `expected`. When false, the core
    /// falls back to last-write-wins: concurrent requests on one session may
    /// lose each other's changes, and a slow save can bring back a session that
    /// a logout deleted moments before.
    fn supports_compare_and_set(&self) -> bool;
}
