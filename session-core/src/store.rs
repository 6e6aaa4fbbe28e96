//! The storage interface: whole keys in, opaque bytes out.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::StoreError;

/// The version of a stored record, for compare-and-set.
///
/// A store gives a record a new version on every write and keeps it across a
/// TTL refresh. Only equality means anything: two requests that loaded the
/// same version loaded the same bytes, and a compare-and-set against a version
/// succeeds only while the record still holds it.
///
/// A version is either an integer ([`Version::from_u64`]: memcached's CAS
/// value, a counter) or up to 16 opaque bytes ([`Version::from_bytes`]: a
/// 128-bit random tag, a short ETag). It is `Copy` and never allocates.
///
/// # Examples
///
/// ```
/// use session_core::Version;
///
/// let cas = Version::from_u64(42);
/// assert_eq!(cas, Version::from_u64(42));
/// assert_eq!(cas.as_u64(), Some(42));
///
/// let tag = Version::from_bytes(b"W/\"a1b2\"").expect("fits in 16 bytes");
/// assert_eq!(tag.as_bytes(), Some(&b"W/\"a1b2\""[..]));
/// assert!(Version::from_bytes(&[0; 17]).is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version(Repr);

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Repr {
    Integer(u64),
    Bytes {
        len: u8,
        bytes: [u8; Version::MAX_BYTES],
    },
}

impl Version {
    /// The most bytes [`Version::from_bytes`] holds.
    pub const MAX_BYTES: usize = 16;

    /// A version that is an integer.
    pub const fn from_u64(value: u64) -> Self {
        Self(Repr::Integer(value))
    }

    /// A version made of up to [`Version::MAX_BYTES`] bytes, or `None` when
    /// `bytes` is longer. A store whose native versions are longer (a long
    /// ETag, say) keeps a digest of them instead.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let len = u8::try_from(bytes.len())
            .ok()
            .filter(|len| usize::from(*len) <= Self::MAX_BYTES)?;
        let mut inline = [0; Self::MAX_BYTES];
        inline[..bytes.len()].copy_from_slice(bytes);
        Some(Self(Repr::Bytes { len, bytes: inline }))
    }

    /// The integer, for a version made by [`Version::from_u64`].
    pub const fn as_u64(&self) -> Option<u64> {
        match self.0 {
            Repr::Integer(value) => Some(value),
            Repr::Bytes { .. } => None,
        }
    }

    /// The bytes, for a version made by [`Version::from_bytes`].
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.0 {
            Repr::Integer(_) => None,
            Repr::Bytes { len, bytes } => Some(&bytes[..usize::from(*len)]),
        }
    }
}

impl std::fmt::Debug for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Repr::Integer(value) => write!(f, "Version({value})"),
            Repr::Bytes { len, bytes } => {
                f.write_str("Version(0x")?;
                for byte in &bytes[..usize::from(*len)] {
                    write!(f, "{byte:02x}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// A record read back from a store: its bytes exactly as they were saved, and
/// its current [`Version`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Loaded {
    /// The bytes exactly as they were saved.
    pub bytes: Vec<u8>,
    /// The record's current version.
    pub version: Version,
}

impl Loaded {
    /// A record read back with these bytes at this version.
    pub fn new(bytes: Vec<u8>, version: Version) -> Self {
        Self { bytes, version }
    }
}

/// The outcome of [`Store::save`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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

impl SaveOutcome {
    /// The record was written and now holds `version`.
    pub const fn saved(version: Version) -> Self {
        Self::Saved(version)
    }
}

/// An async key-value store for sealed session records.
///
/// A store never sees a cookie, a session ID or session data. The core hands
/// it a finished key and a sealed, encrypted record, so a store can be
/// written, reviewed and replaced without touching anything
/// security-sensitive. Implement it with [`async_trait`](crate::async_trait)
/// (re-exported here, so your store needs no dependency of its own for it),
/// share it as a value or an `Arc<dyn Store>`, and run the
/// `conformance` suite (feature `test-suite`) from your tests: it checks
/// every rule below.
///
/// # Keys
///
/// A key is the manager's namespace (default `session:`, printable ASCII
/// without spaces, at most 200 bytes) followed either by the 43-character
/// unpadded base64url SHA-256 of a session ID, or by `user:` and a
/// 43-character keyed hash (a user's index of sessions): at most 248 bytes of
/// printable ASCII (`A-Z a-z 0-9 - _ :` and the namespace's characters),
/// which fits memcached's 250-byte keys. Treat it as opaque.
///
/// # Values
///
/// Opaque bytes, returned exactly as written: any byte values, from empty
/// (an empty value is a record, not an absent key) to the manager's
/// `max_record_bytes` (default 1 MB). A value over the store's own item
/// limit is refused with [`StoreError::value_refused`], never truncated.
///
/// # Versions and compare-and-set
///
/// Every record carries a [`Version`]. A store gives a new version on every
/// write (`create` and `save`), keeps it across a TTL refresh (`touch`,
/// `load_and_touch`), and never hands out a version equal to an earlier one
/// of the same key while it runs, also across a delete and a new create of
/// that key (a save holding the old record's version must not succeed on the
/// new one): random versions, or a counter that never restarts, satisfy
/// this. A store restart may start its versions again (memcached's CAS
/// counter does) only when the restart also lost the records (a restarted
/// memcached is empty), so that no old version can meet a new record. Stores
/// that can compare-and-set use it so that two requests writing one session
/// at once never silently overwrite each other; the core re-applies the
/// loser's changes and tries again, and a logout or rotation wins over racing
/// writes.
///
/// # Atomicity
///
/// `create` checks that the key is free and writes in one step: of several
/// creates racing on one key exactly one succeeds. A compare-and-set `save`
/// compares and writes in one step. A `delete` racing a `touch` or
/// `load_and_touch` of the same record stays deleted: a refresh never writes
/// a record back.
///
/// # TTLs
///
/// Every `ttl` is at least one second and may be fractional (the core passes
/// fractions near a session's absolute timeout). A record must never expire
/// before its TTL, counted from when the call was sent. It may outlive it by
/// at most a bound the store states in its docs (a store counting in whole
/// seconds rounds up: memcached's bound is 3 s) and passes to the conformance
/// suite as [`max_ttl_lateness`](crate::conformance::Options::max_ttl_lateness).
/// The TTL of `save`, `touch` and `load_and_touch` replaces the record's
/// previous one. An expired record is absent for every operation.
///
/// # Deadlines and cancellation
///
/// The core applies the request's store budget (default 2 s) to every call
/// and drops a call still running at the deadline, at any point of its
/// exchange. A call dropped midway must leave nothing broken behind: no
/// pooled connection with a half-written request or an unread answer that a
/// later call would read as its own (discard such a connection, or finish
/// the exchange in a task of its own). A store also bounds its own calls
/// with connect and I/O timeouts, so that a call never waits forever when
/// used outside the core.
///
/// # Errors
///
/// Sort the backend's failures into [`StoreError`] kinds:
///
/// - [`StoreError::unavailable`]: the backend is unreachable, timed out,
///   reset the connection, or refuses for now (out of memory, too many
///   connections, loading, read-only replica, cluster reconfiguring). The
///   request answers 503, and the next request tries again.
/// - [`StoreError::value_refused`]: this value is over the backend's item
///   limit (the request answers 500: the application stores too much).
/// - [`StoreError::other`]: anything else, such as an answer the store does
///   not understand (500).
///
/// A miss is not an error: absent and expired records are `None` or `false`.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Reads a record, or `None` when the key is absent or expired.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] when the backend fails.
    async fn load(&self, key: &str) -> Result<Option<Loaded>, StoreError>;

    /// Reads several records at once: one answer per key, in the order of
    /// `keys`, `None` for an absent one. Used to list a user's sessions and to
    /// prune their index, so its cost grows with a user's sessions, not with
    /// traffic.
    ///
    /// The default loads the keys one after another; stores that can pipeline
    /// (memcached's multi-get, Redis's `MGET`) should override it to answer in
    /// one round trip per server.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] when the backend fails for any of the keys.
    async fn load_many(&self, keys: &[&str]) -> Result<Vec<Option<Loaded>>, StoreError> {
        let mut loaded = Vec::with_capacity(keys.len());
        for key in keys {
            loaded.push(self.load(key).await?);
        }
        Ok(loaded)
    }

    /// Reads a record and resets its TTL to `ttl`, keeping its version.
    ///
    /// The default calls [`load`](Store::load) then [`touch`](Store::touch);
    /// stores that can do both in one round trip (memcached's get-and-touch)
    /// should override it, since it runs on every request that uses a session.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] when the backend fails.
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

    /// Writes a record only if the key is free, atomically. Answers its
    /// version, or `None` when the key is already taken (and leaves the
    /// existing record alone).
    ///
    /// This is how a new or rotated session ID is claimed without ever
    /// overwriting another session.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] when the backend fails.
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
    /// # Errors
    ///
    /// A [`StoreError`] when the backend fails.
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
    ///
    /// # Errors
    ///
    /// A [`StoreError`] when the backend fails.
    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Removes a record. Answers whether it existed. Removing an absent key is
    /// not an error.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] when the backend fails.
    async fn delete(&self, key: &str) -> Result<bool, StoreError>;

    /// Whether [`save`](Store::save) honours `expected`. When false, the core
    /// falls back to last-write-wins: concurrent requests on one session may
    /// lose each other's changes, and a slow save can bring back a session that
    /// a logout deleted moments before.
    fn supports_compare_and_set(&self) -> bool;
}

/// A store value the [`SessionManager`](crate::SessionManager) builder accepts:
/// any [`Store`], or an `Arc` of one (`Arc<dyn Store>` too) already shared
/// elsewhere.
pub trait IntoStore {
    /// The store, shared.
    fn into_store(self) -> std::sync::Arc<dyn Store>;
}

impl<S: Store> IntoStore for S {
    fn into_store(self) -> std::sync::Arc<dyn Store> {
        std::sync::Arc::new(self)
    }
}

impl<S: Store> IntoStore for std::sync::Arc<S> {
    fn into_store(self) -> std::sync::Arc<dyn Store> {
        self
    }
}

impl IntoStore for std::sync::Arc<dyn Store> {
    fn into_store(self) -> std::sync::Arc<dyn Store> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::Version;

    #[test]
    fn byte_versions_compare_by_content_and_length() {
        let short = Version::from_bytes(b"ab").expect("fits");
        assert_eq!(short, Version::from_bytes(b"ab").expect("fits"));
        assert_ne!(short, Version::from_bytes(b"ab\0").expect("fits"));
        assert_ne!(
            Version::from_bytes(&[]).expect("fits"),
            Version::from_u64(0)
        );
        assert_eq!(
            Version::from_bytes(&[7; 16]).and_then(|v| v.as_bytes().map(<[u8]>::len)),
            Some(16)
        );
        assert_eq!(format!("{short:?}"), "Version(0x6162)");
    }
}
