//! Stores for tests: one that counts calls and fails on demand, one that always
//! fails, and one that holds calls at a gate.
//!
//! They exist so that the tests of adapters, of stores and of the core itself
//! can check *how* a request reached the store (a read is one call, an
//! untouched session none), what happens when the store goes down at a given
//! moment, and how concurrent requests interleave, without each test suite
//! writing its own wrapper.
//!
//! - [`CountingStore`] wraps a store (a [`MemoryStore`] by default), counts
//!   calls per [`StoreOp`], remembers what was written, and can be told at run
//!   time to fail every call, only deletes, or every call after the next few.
//! - [`FailingStore`] fails every call, like a memcached that is down.
//! - [`GatedStore`] wraps a store and holds calls of chosen operations until
//!   the test opens the gate, to force an order of loads, saves and deletes
//!   instead of hoping for one.
//! - [`MutantStore`] is a small correct store, or the same with one
//!   deliberate bug ([`Mutant`]): the stores the conformance suite must fail.
//!
//! The wrappers compose: `GatedStore<CountingStore>` holds calls and counts
//! them. Each takes the store it wraps by value or, to wrap an
//! `Arc<dyn Store>` shared elsewhere, through `wrap_shared`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

mod mutants;

pub use mutants::{Mutant, MutantStore};

use crate::error::StoreError;
use crate::memory::MemoryStore;
use crate::store::{Loaded, SaveOutcome, Store, Version};

/// The cause inside every [`StoreError`] the test stores make up. It looks
/// like something a real client would report (an address, a port), so a test
/// can check that it never reaches a response body.
pub const FAILURE_MESSAGE: &str = "test store failure: connection refused by 192.0.2.7:11211";

/// One of the [`Store`] methods, to count or gate calls by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreOp {
    /// [`Store::load`].
    Load,
    /// [`Store::load_many`].
    LoadMany,
    /// [`Store::load_and_touch`].
    LoadAndTouch,
    /// [`Store::create`].
    Create,
    /// [`Store::save`].
    Save,
    /// [`Store::touch`].
    Touch,
    /// [`Store::delete`].
    Delete,
}

impl StoreOp {
    /// Every operation, in declaration order.
    pub const ALL: [StoreOp; 7] = [
        StoreOp::Load,
        StoreOp::LoadMany,
        StoreOp::LoadAndTouch,
        StoreOp::Create,
        StoreOp::Save,
        StoreOp::Touch,
        StoreOp::Delete,
    ];

    /// The method's name, which is also the `op` label the core gives the
    /// call in the `session_store_call_seconds` histogram.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreOp::Load => "load",
            StoreOp::LoadMany => "load_many",
            StoreOp::LoadAndTouch => "load_and_touch",
            StoreOp::Create => "create",
            StoreOp::Save => "save",
            StoreOp::Touch => "touch",
            StoreOp::Delete => "delete",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How many calls of each operation a [`CountingStore`] received: a snapshot
/// from [`CountingStore::counts`]. Subtract an earlier snapshot to count the
/// calls of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallCounts([usize; 7]);

impl CallCounts {
    /// Calls of `op`.
    pub fn of(&self, op: StoreOp) -> usize {
        self.0[op.index()]
    }

    /// Calls of every operation together.
    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }
}

impl std::ops::Sub for CallCounts {
    type Output = CallCounts;

    /// The calls made between two snapshots.
    fn sub(self, earlier: CallCounts) -> CallCounts {
        CallCounts(std::array::from_fn(|i| {
            self.0[i].saturating_sub(earlier.0[i])
        }))
    }
}

/// The failures a [`FailingStore`] answers with: the [`StoreError`] variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailureKind {
    /// [`StoreError::Unavailable`]: a 503 by default.
    #[default]
    Unavailable,
    /// [`StoreError::ValueRefused`]: a 500 by default.
    ValueRefused,
    /// [`StoreError::Other`]: a 500 by default.
    Other,
}

impl FailureKind {
    /// A fresh error of this kind, with [`FAILURE_MESSAGE`] as its cause.
    pub fn error(self) -> StoreError {
        match self {
            FailureKind::Unavailable => StoreError::unavailable(FAILURE_MESSAGE),
            FailureKind::ValueRefused => StoreError::value_refused(FAILURE_MESSAGE),
            FailureKind::Other => StoreError::other(FAILURE_MESSAGE),
        }
    }
}

/// Locks a mutex that only guards plain data, so a panic while it was held
/// (a failed assertion in another test task) leaves nothing inconsistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A store wrapper that counts calls, remembers writes and fails on demand.
///
/// Every call is counted, failed ones too, per [`StoreOp`] and in total. A
/// *write* is a [`Store::create`] that claimed its key or a [`Store::save`]
/// that wrote; [`written`](CountingStore::written) keeps the last bytes
/// written under each key. Failures are switched at run time, between or
/// during requests:
///
/// - [`set_failing`](CountingStore::set_failing): every call fails with
///   [`StoreError::Unavailable`], as if the store went down;
/// - [`fail_after`](CountingStore::fail_after): the next few calls succeed,
///   then every call fails (to fail a request's save after its load);
/// - [`set_failing_deletes`](CountingStore::set_failing_deletes): only deletes
///   fail, as when the old record of an ID rotation cannot be removed.
///
/// [`without_compare_and_set`](CountingStore::without_compare_and_set) hides
/// the wrapped store's compare-and-set (and panics if the core asks for one
/// anyway), and [`set_save_delay`](CountingStore::set_save_delay) slows saves
/// down to widen race windows.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
///
/// use session_core::test_stores::{CountingStore, StoreOp};
/// use session_core::{KeyRing, SessionManager};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = Arc::new(CountingStore::new());
/// let manager = SessionManager::builder(Arc::clone(&store), KeyRing::generate()).build()?;
///
/// let session = manager.get(None);
/// session.insert("visits", &1u32).await?;
/// let cookie = manager.set(&session).await?.expect("a new session sets a cookie");
/// assert_eq!(store.counts().of(StoreOp::Create), 1);
///
/// // Reading costs one call, and writes nothing.
/// let before = store.counts();
/// let session = manager.get(Some(cookie.value()));
/// assert_eq!(session.get::<u32>("visits").await?, Some(1));
/// assert!(manager.set(&session).await?.is_none());
/// let read = store.counts() - before;
/// assert_eq!((read.total(), read.of(StoreOp::LoadAndTouch)), (1, 1));
///
/// // The store goes down: the next load fails as unavailable.
/// store.set_failing(true);
/// let error = manager.get(Some(cookie.value())).get::<u32>("visits").await.unwrap_err();
/// assert!(error.is_unavailable());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct CountingStore<S: ?Sized = MemoryStore> {
    calls: [AtomicUsize; 7],
    /// Every call, for the position of each in [`CountingStore::fail_after`].
    total: AtomicUsize,
    writes: AtomicUsize,
    conflicts: AtomicUsize,
    written: Mutex<HashMap<String, Vec<u8>>>,
    failing: AtomicBool,
    failing_deletes: AtomicBool,
    /// Calls from this one on (counted over all operations) fail;
    /// `usize::MAX` for never.
    fail_from_call: AtomicUsize,
    compare_and_set: bool,
    save_delay: Mutex<Duration>,
    call_delay: Mutex<Duration>,
    losing_answers: AtomicBool,
    last_refresh_ttl: Mutex<Option<Duration>>,
    inner: Arc<S>,
}

impl Default for CountingStore<MemoryStore> {
    fn default() -> Self {
        Self::new()
    }
}

impl CountingStore<MemoryStore> {
    /// Counts the calls to a fresh [`MemoryStore`].
    pub fn new() -> Self {
        Self::wrap(MemoryStore::new())
    }
}

impl<S: Store> CountingStore<S> {
    /// Counts the calls to `inner`.
    pub fn wrap(inner: S) -> Self {
        Self::wrap_shared(Arc::new(inner))
    }
}

impl<S: Store + ?Sized> CountingStore<S> {
    /// Counts the calls to a store shared elsewhere (an `Arc<dyn Store>`, say).
    pub fn wrap_shared(inner: Arc<S>) -> Self {
        Self {
            calls: Default::default(),
            total: AtomicUsize::new(0),
            writes: AtomicUsize::new(0),
            conflicts: AtomicUsize::new(0),
            written: Mutex::default(),
            failing: AtomicBool::new(false),
            failing_deletes: AtomicBool::new(false),
            fail_from_call: AtomicUsize::new(usize::MAX),
            compare_and_set: true,
            save_delay: Mutex::default(),
            call_delay: Mutex::default(),
            losing_answers: AtomicBool::new(false),
            last_refresh_ttl: Mutex::default(),
            inner,
        }
    }

    /// Hides the wrapped store's compare-and-set: the core then falls back to
    /// last-write-wins. A save that asks for a compare-and-set anyway panics,
    /// since the core must never do that.
    #[must_use]
    pub fn without_compare_and_set(mut self) -> Self {
        self.compare_and_set = false;
        self
    }

    /// The wrapped store, to read or write past the counting (to plant a
    /// tampered record, say).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Calls of every operation so far, failed ones included.
    pub fn calls(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }

    /// Calls so far, per operation.
    pub fn counts(&self) -> CallCounts {
        CallCounts(std::array::from_fn(|i| {
            self.calls[i].load(Ordering::SeqCst)
        }))
    }

    /// Records written: creates that claimed their key and saves that wrote.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    /// Compare-and-set saves that found the record changed by another writer.
    pub fn conflicts(&self) -> usize {
        self.conflicts.load(Ordering::SeqCst)
    }

    /// Every key written so far, with the last bytes written under it.
    pub fn written(&self) -> HashMap<String, Vec<u8>> {
        lock(&self.written).clone()
    }

    /// Every key written so far, in no particular order.
    pub fn written_keys(&self) -> Vec<String> {
        lock(&self.written).keys().cloned().collect()
    }

    /// The TTL of the last [`Store::load_and_touch`], which is how long the
    /// core asked the store to keep a session it loaded.
    pub fn last_refresh_ttl(&self) -> Option<Duration> {
        *lock(&self.last_refresh_ttl)
    }

    /// Makes every call fail as unavailable (`true`) or go through again
    /// (`false`, which also ends a [`fail_after`](CountingStore::fail_after)).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
        if !failing {
            self.fail_from_call.store(usize::MAX, Ordering::SeqCst);
        }
    }

    /// Lets the next `calls` calls through, then fails every call as
    /// unavailable until [`set_failing(false)`](CountingStore::set_failing).
    /// `fail_after(1)` before a request that loads and then saves a session
    /// fails its save.
    pub fn fail_after(&self, calls: usize) {
        self.fail_from_call
            .store(self.calls().saturating_add(calls), Ordering::SeqCst);
    }

    /// Makes deletes fail as unavailable (`true`) or go through again.
    pub fn set_failing_deletes(&self, failing: bool) {
        self.failing_deletes.store(failing, Ordering::SeqCst);
    }

    /// Waits this long before every save (zero, the default, for no wait).
    pub fn set_save_delay(&self, delay: Duration) {
        *lock(&self.save_delay) = delay;
    }

    /// Waits this long before every call, as a slow or distant store would
    /// (zero, the default, for no wait).
    pub fn set_call_delay(&self, delay: Duration) {
        *lock(&self.call_delay) = delay;
    }

    /// While on, a save is applied and then its answer is lost: the caller
    /// gets [`StoreError::Unavailable`] for a write that happened, as after a
    /// timeout that struck once the command was sent.
    pub fn set_losing_answers(&self, losing: bool) {
        self.losing_answers.store(losing, Ordering::SeqCst);
    }

    /// Counts a call of `op`, waits the call delay, and decides whether it
    /// fails.
    async fn enter(&self, op: StoreOp) -> Result<(), StoreError> {
        let delay = *lock(&self.call_delay);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let position = self.total.fetch_add(1, Ordering::SeqCst);
        self.calls[op.index()].fetch_add(1, Ordering::SeqCst);
        let failing = self.failing.load(Ordering::SeqCst)
            || position >= self.fail_from_call.load(Ordering::SeqCst)
            || (op == StoreOp::Delete && self.failing_deletes.load(Ordering::SeqCst));
        if failing {
            return Err(FailureKind::Unavailable.error());
        }
        Ok(())
    }

    fn wrote(&self, key: &str, value: &[u8]) {
        self.writes.fetch_add(1, Ordering::SeqCst);
        lock(&self.written).insert(key.to_owned(), value.to_vec());
    }
}

#[async_trait]
impl<S: Store + ?Sized> Store for CountingStore<S> {
    async fn load(&self, key: &str) -> Result<Option<Loaded>, StoreError> {
        self.enter(StoreOp::Load).await?;
        self.inner.load(key).await
    }

    async fn load_many(&self, keys: &[&str]) -> Result<Vec<Option<Loaded>>, StoreError> {
        self.enter(StoreOp::LoadMany).await?;
        self.inner.load_many(keys).await
    }

    async fn load_and_touch(&self, key: &str, ttl: Duration) -> Result<Option<Loaded>, StoreError> {
        self.enter(StoreOp::LoadAndTouch).await?;
        *lock(&self.last_refresh_ttl) = Some(ttl);
        self.inner.load_and_touch(key, ttl).await
    }

    async fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<Option<Version>, StoreError> {
        self.enter(StoreOp::Create).await?;
        let created = self.inner.create(key, value, ttl).await?;
        if created.is_some() {
            self.wrote(key, value);
        }
        Ok(created)
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        expected: Option<Version>,
    ) -> Result<SaveOutcome, StoreError> {
        self.enter(StoreOp::Save).await?;
        assert!(
            expected.is_none() || self.compare_and_set,
            "the core asked a store without compare-and-set for one"
        );
        let delay = *lock(&self.save_delay);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let outcome = self.inner.save(key, value, ttl, expected).await?;
        if self.losing_answers.load(Ordering::SeqCst) {
            return Err(FailureKind::Unavailable.error());
        }
        match outcome {
            SaveOutcome::Saved(_) => self.wrote(key, value),
            SaveOutcome::Conflict => {
                self.conflicts.fetch_add(1, Ordering::SeqCst);
            }
            SaveOutcome::Gone => {}
        }
        Ok(outcome)
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.enter(StoreOp::Touch).await?;
        self.inner.touch(key, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        self.enter(StoreOp::Delete).await?;
        self.inner.delete(key).await
    }

    fn supports_compare_and_set(&self) -> bool {
        self.compare_and_set && self.inner.supports_compare_and_set()
    }
}

/// A store whose every call fails, like a memcached that is down.
///
/// The error is of the chosen [`FailureKind`] ([`Unavailable`] by default),
/// with [`FAILURE_MESSAGE`] as its cause. It counts the calls it refused.
///
/// [`Unavailable`]: FailureKind::Unavailable
///
/// # Examples
///
/// ```
/// use session_core::test_stores::{FailingStore, FailureKind};
/// use session_core::{ErrorKind, KeyRing, SessionManager};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let manager = SessionManager::builder(FailingStore::new(), KeyRing::generate()).build()?;
/// let session = manager.start([]);
/// session.insert("visits", &1u32).await?; // a new session: nothing to load yet
/// let end = manager.finish(&session, 200).await;
/// assert_eq!(end.error_reply().map(|reply| reply.status()), Some(503));
///
/// let internal = FailingStore::with_kind(FailureKind::Other);
/// let manager = SessionManager::builder(internal, KeyRing::generate()).build()?;
/// let session = manager.get(None);
/// session.insert("visits", &1u32).await?;
/// let error = manager.set(&session).await.unwrap_err();
/// assert_eq!(error.kind(), ErrorKind::Internal);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct FailingStore {
    kind: FailureKind,
    calls: AtomicUsize,
}

impl FailingStore {
    /// Fails every call as unavailable.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fails every call with an error of `kind`.
    pub fn with_kind(kind: FailureKind) -> Self {
        Self {
            kind,
            calls: AtomicUsize::new(0),
        }
    }

    /// Calls refused so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn fail<T>(&self) -> Result<T, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(self.kind.error())
    }
}

#[async_trait]
impl Store for FailingStore {
    async fn load(&self, _key: &str) -> Result<Option<Loaded>, StoreError> {
        self.fail()
    }

    async fn load_many(&self, _keys: &[&str]) -> Result<Vec<Option<Loaded>>, StoreError> {
        self.fail()
    }

    async fn load_and_touch(
        &self,
        _key: &str,
        _ttl: Duration,
    ) -> Result<Option<Loaded>, StoreError> {
        self.fail()
    }

    async fn create(
        &self,
        _key: &str,
        _value: &[u8],
        _ttl: Duration,
    ) -> Result<Option<Version>, StoreError> {
        self.fail()
    }

    async fn save(
        &self,
        _key: &str,
        _value: &[u8],
        _ttl: Duration,
        _expected: Option<Version>,
    ) -> Result<SaveOutcome, StoreError> {
        self.fail()
    }

    async fn touch(&self, _key: &str, _ttl: Duration) -> Result<bool, StoreError> {
        self.fail()
    }

    async fn delete(&self, _key: &str) -> Result<bool, StoreError> {
        self.fail()
    }

    fn supports_compare_and_set(&self) -> bool {
        true
    }
}

/// A store wrapper that holds calls of chosen operations at a gate until the
/// test opens it.
///
/// Races are forced rather than hoped for: gate [`StoreOp::Save`], wait until
/// the racing requests' saves are all held
/// ([`until_held`](GatedStore::until_held)), do what must come first (a
/// logout), then [`open`](GatedStore::open) the gate. Calls of other
/// operations pass straight through. The gate starts closed; once open it
/// stays open until [`close`](GatedStore::close). Nothing here times out: wrap
/// the waits of a test in a timeout so a broken scenario fails instead of
/// hanging.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
///
/// use session_core::test_stores::{GatedStore, StoreOp};
/// use session_core::{KeyRing, MemoryStore, SessionManager};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = Arc::new(GatedStore::new(MemoryStore::new(), [StoreOp::Create]));
/// let manager = SessionManager::builder(Arc::clone(&store), KeyRing::generate()).build()?;
/// let session = manager.get(None);
/// session.insert("visits", &1u32).await?;
///
/// // The save of the new session waits at the gate until it opens.
/// let (saved, ()) = tokio::join!(manager.set(&session), async {
///     store.until_held(1).await;
///     assert_eq!(store.held(), 1);
///     store.open();
/// });
/// assert!(saved?.is_some());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct GatedStore<S: ?Sized = MemoryStore> {
    gated: [bool; 7],
    /// Which keys the gate holds; every key unless narrowed.
    keys: fn(&str) -> bool,
    open: watch::Sender<bool>,
    /// How many calls are waiting at the gate now.
    held: watch::Sender<usize>,
    inner: Arc<S>,
}

impl<S: Store> GatedStore<S> {
    /// Gates the calls of `ops` to `inner`; the gate starts closed.
    pub fn new(inner: S, ops: impl IntoIterator<Item = StoreOp>) -> Self {
        Self::wrap_shared(Arc::new(inner), ops)
    }
}

impl<S: Store + ?Sized> GatedStore<S> {
    /// Gates the calls of `ops` to a store shared elsewhere; the gate starts
    /// closed.
    pub fn wrap_shared(inner: Arc<S>, ops: impl IntoIterator<Item = StoreOp>) -> Self {
        let mut gated = [false; 7];
        for op in ops {
            gated[op.index()] = true;
        }
        Self {
            gated,
            keys: |_| true,
            open: watch::Sender::new(false),
            held: watch::Sender::new(0),
            inner,
        }
    }

    /// Holds only the calls on keys for which `keys` answers `true` (for
    /// instance session records but not users' indexes); others pass.
    #[must_use]
    pub fn only_keys(mut self, keys: fn(&str) -> bool) -> Self {
        self.keys = keys;
        self
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Lets every held call and every later one through.
    pub fn open(&self) {
        self.open.send_replace(true);
    }

    /// Holds later calls of the gated operations again.
    pub fn close(&self) {
        self.open.send_replace(false);
    }

    /// How many calls are held at the gate now.
    pub fn held(&self) -> usize {
        *self.held.borrow()
    }

    /// Waits until at least `calls` calls are held at the gate at once.
    pub async fn until_held(&self, calls: usize) {
        let mut held = self.held.subscribe();
        // The sender lives in `self`, so the channel cannot close meanwhile.
        let _ = held.wait_for(|held| *held >= calls).await;
    }

    /// Waits at the gate if `op` on `key` is gated and the gate is closed.
    async fn pass(&self, op: StoreOp, key: &str) {
        if !self.gated[op.index()] || !(self.keys)(key) {
            return;
        }
        let mut open = self.open.subscribe();
        if *open.borrow_and_update() {
            return;
        }
        self.held.send_modify(|held| *held += 1);
        // Counts the call out again even if its request is dropped while held.
        let _release = Release(&self.held);
        let _ = open.wait_for(|open| *open).await;
    }
}

/// Counts a held call out of the gate when it passes or is dropped.
struct Release<'a>(&'a watch::Sender<usize>);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|held| *held -= 1);
    }
}

#[async_trait]
impl<S: Store + ?Sized> Store for GatedStore<S> {
    async fn load(&self, key: &str) -> Result<Option<Loaded>, StoreError> {
        self.pass(StoreOp::Load, key).await;
        self.inner.load(key).await
    }

    async fn load_many(&self, keys: &[&str]) -> Result<Vec<Option<Loaded>>, StoreError> {
        for key in keys {
            self.pass(StoreOp::LoadMany, key).await;
        }
        self.inner.load_many(keys).await
    }

    async fn load_and_touch(&self, key: &str, ttl: Duration) -> Result<Option<Loaded>, StoreError> {
        self.pass(StoreOp::LoadAndTouch, key).await;
        self.inner.load_and_touch(key, ttl).await
    }

    async fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<Option<Version>, StoreError> {
        self.pass(StoreOp::Create, key).await;
        self.inner.create(key, value, ttl).await
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        expected: Option<Version>,
    ) -> Result<SaveOutcome, StoreError> {
        self.pass(StoreOp::Save, key).await;
        self.inner.save(key, value, ttl, expected).await
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.pass(StoreOp::Touch, key).await;
        self.inner.touch(key, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        self.pass(StoreOp::Delete, key).await;
        self.inner.delete(key).await
    }

    fn supports_compare_and_set(&self) -> bool {
        self.inner.supports_compare_and_set()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future as _;

    use super::*;

    #[tokio::test]
    async fn fail_after_lets_the_next_calls_through() {
        let store = CountingStore::new();
        store.fail_after(1);
        assert!(store.load("a").await.is_ok());
        assert!(store.load("a").await.is_err());
        assert!(store.delete("a").await.is_err());
        store.set_failing(false);
        assert!(store.load("a").await.is_ok());
        let counts = store.counts();
        assert_eq!((counts.of(StoreOp::Load), counts.total()), (3, 4));
    }

    #[tokio::test]
    async fn a_dropped_held_call_leaves_the_gate() {
        let store = GatedStore::new(MemoryStore::new(), [StoreOp::Load]);
        {
            let mut load = Box::pin(store.load("a"));
            let mut context = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(load.as_mut().poll(&mut context).is_pending());
            assert_eq!(store.held(), 1);
        }
        assert_eq!(store.held(), 0);
        assert!(
            store.touch("a", Duration::from_secs(1)).await.is_ok(),
            "not gated"
        );
    }
}
