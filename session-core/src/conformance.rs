//! The store conformance suite: the checks every [`Store`] must pass, one by
//! one or all together.
//!
//! Enable the `test-suite` feature in your store's dev-dependencies and call
//! [`run`] (or [`run_with`], to state your store's TTL precision) from a
//! multi-threaded async test with a constructor for your store:
//!
//! ```no_run
//! # #[cfg(feature = "test-suite")]
//! # async fn demo() {
//! use std::time::Duration;
//! use session_core::{MemoryStore, conformance};
//!
//! // Inside a `#[tokio::test(flavor = "multi_thread")]`:
//! conformance::run(|| async { MemoryStore::new() }).await;
//!
//! // A store that counts TTLs in whole seconds keeps records up to two
//! // seconds longer; say so:
//! let options = conformance::Options::new().max_ttl_lateness(Duration::from_secs(2));
//! conformance::run_with(&options, || async { MemoryStore::new() }).await;
//!
//! // One check alone, to debug it:
//! let store = std::sync::Arc::new(MemoryStore::new());
//! conformance::Check::RacingCreates.run(store, &options).await;
//! # }
//! ```
//!
//! A failed check panics with a message naming the promise of the [`Store`]
//! docs that the store broke.
//!
//! **What it checks.** Every promise the [`Store`] trait documents: absent
//! keys, `create` claiming only free keys and atomically (racing creates of
//! one key: exactly one wins), saves, empty and binary and large values,
//! `load_many` answering in order, versions (new on every write, kept by a
//! touch, never equal to an earlier version of the key even across delete and
//! create), compare-and-set alone and under contention, deletes winning over
//! racing touches, TTLs (fractional, never early, late by at most the bound
//! you state, set by `touch` and `load_and_touch` as well as by writes), and
//! that a call cancelled mid-exchange (the core drops calls at the request's
//! budget) leaves the store answering correctly. Then whole sessions over the
//! store through a [`SessionManager`](crate::SessionManager): concurrent
//! writers of one session all persist, a logout beats slower writers, a
//! user's sessions are listed and ended, and the same store with
//! compare-and-set hidden gets last-write-wins.
//!
//! **Several processes.** [`transactions_are_exact`] and
//! [`concurrent_writes_all_persist`] run one session's transactions through
//! several managers at once, each on its own client of your store: give them
//! clients of a real server to prove compare-and-set across connections.
//!
//! **Its shape.** Each check takes a fresh store from your constructor, uses
//! keys under its own namespace ([`Options::namespace`], default
//! `conformance:`), and deletes every key it wrote when it passes, so a
//! shared server is fine and nothing is left behind. TTL checks schedule each
//! assertion from the times of their own calls and scale to the store's
//! measured round trip, so a correct store far away (100 ms per call) passes
//! too; the suite then takes longer. This crate's own tests prove the suite
//! on a set of deliberately broken stores
//! ([`test_stores::MutantStore`](crate::test_stores::MutantStore)): it must
//! fail every one of them.

mod processes;
mod races;
mod recorder;
mod records;
mod sessions;
mod ttl;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::id::random_bytes;
use crate::store::Store;

pub use processes::{concurrent_writes_all_persist, transactions_are_exact};
pub use sessions::WithoutCompareAndSet;

use recorder::Recorder;

/// What the suite needs to know about the store under test.
#[derive(Debug, Clone)]
pub struct Options {
    namespace: String,
    max_ttl_lateness: Duration,
}

impl Options {
    /// The defaults: keys under `conformance:`, records expiring at most 2 s
    /// late (whole-second stores such as memcached).
    pub fn new() -> Self {
        Self {
            namespace: "conformance:".to_owned(),
            max_ttl_lateness: Duration::from_secs(2),
        }
    }

    /// The prefix of every key the suite writes.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// How much later than its TTL a record may still be readable: the bound
    /// your store's docs state (a store counting whole seconds rounds up, a
    /// store expiring lazily is exact). Never early is checked regardless.
    pub fn max_ttl_lateness(mut self, lateness: Duration) -> Self {
        self.max_ttl_lateness = lateness;
        self
    }

    /// A fresh key for `check`, unique across runs and processes.
    fn key(&self, check: &str) -> String {
        let suffix: String = random_bytes::<8>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{}{check}:{suffix}", self.namespace)
    }
}

impl Default for Options {
    fn default() -> Self {
        Self::new()
    }
}

/// One check of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Check {
    /// Every operation on an absent key answers "absent" and creates nothing.
    AbsentKeys,
    /// `create` claims a free key only, and never overwrites.
    CreateClaimsOnlyFreeKeys,
    /// `save` without a version writes absent keys and overwrites live ones.
    UnconditionalSave,
    /// An empty value is a value, not an absent key.
    EmptyValues,
    /// Binary and 512 KiB values come back byte for byte.
    BinaryAndLargeValues,
    /// `touch` and `load_and_touch` keep the version.
    TouchKeepsVersion,
    /// A deleted key is absent and free to claim again.
    DeleteRemoves,
    /// `load_many` answers every key, in order, as `load` does.
    LoadManyAnswersInOrder,
    /// Every write gives a version never seen before for that key, even
    /// across delete and create.
    VersionsNeverRepeat,
    /// Concurrent writers of different keys do not see each other's values.
    ConcurrentIndependentKeys,
    /// Racing creates of one key: exactly one wins, and its value stays.
    RacingCreates,
    /// A delete racing touches of the same record stays deleted.
    DeleteBeatsConcurrentTouches,
    /// Compare-and-set writes on the current version only; `Gone` for a
    /// deleted record. Stores with compare-and-set only.
    CompareAndSet,
    /// Compare-and-set under contention loses no update. Stores with
    /// compare-and-set only.
    ConcurrentCompareAndSet,
    /// Calls dropped mid-exchange leave the store answering correctly.
    CancelledCallsLeaveTheStoreUsable,
    /// TTLs: fractional, never early, late by at most the stated bound, set
    /// by every write, `touch` and `load_and_touch`; an expired record is
    /// absent for every operation.
    TtlRules,
    /// Twenty concurrent writers of one session all persist. Stores with
    /// compare-and-set only.
    ConcurrentWritersOfOneSession,
    /// A logout beats writers that loaded the session before it. Stores with
    /// compare-and-set only.
    LogoutBeatsSlowerWriters,
    /// With compare-and-set hidden, another process's write wins.
    LastWriteWinsWithoutCompareAndSet,
    /// A user's sessions are listed and ended through the user's index.
    AUsersSessions,
}

impl Check {
    /// Every check, in the order [`run`] runs them.
    pub const ALL: [Check; 20] = [
        Check::AbsentKeys,
        Check::CreateClaimsOnlyFreeKeys,
        Check::UnconditionalSave,
        Check::EmptyValues,
        Check::BinaryAndLargeValues,
        Check::TouchKeepsVersion,
        Check::DeleteRemoves,
        Check::LoadManyAnswersInOrder,
        Check::VersionsNeverRepeat,
        Check::ConcurrentIndependentKeys,
        Check::RacingCreates,
        Check::DeleteBeatsConcurrentTouches,
        Check::CompareAndSet,
        Check::ConcurrentCompareAndSet,
        Check::CancelledCallsLeaveTheStoreUsable,
        Check::TtlRules,
        Check::ConcurrentWritersOfOneSession,
        Check::LogoutBeatsSlowerWriters,
        Check::LastWriteWinsWithoutCompareAndSet,
        Check::AUsersSessions,
    ];

    /// Whether the check applies to `store`: some only make sense with
    /// compare-and-set.
    pub fn applies_to(self, store: &dyn Store) -> bool {
        let needs_compare_and_set = matches!(
            self,
            Check::CompareAndSet
                | Check::ConcurrentCompareAndSet
                | Check::ConcurrentWritersOfOneSession
                | Check::LogoutBeatsSlowerWriters
        );
        !needs_compare_and_set || store.supports_compare_and_set()
    }

    /// Runs this check on `store` (when it [applies](Check::applies_to)),
    /// then deletes what it wrote.
    ///
    /// # Panics
    ///
    /// When the store breaks the promise the check is about, with a message
    /// that says which.
    pub async fn run<S: Store>(self, store: Arc<S>, options: &Options) {
        if !self.applies_to(&*store) {
            return;
        }
        let store = Arc::new(Recorder::new(store));
        let target = Arc::clone(&store) as Arc<dyn Store>;
        match self {
            Check::AbsentKeys => records::absent_keys(&*target, options).await,
            Check::CreateClaimsOnlyFreeKeys => {
                records::create_claims_only_free_keys(&*target, options).await;
            }
            Check::UnconditionalSave => records::unconditional_save(&*target, options).await,
            Check::EmptyValues => records::empty_values(&*target, options).await,
            Check::BinaryAndLargeValues => {
                records::binary_and_large_values(&*target, options).await;
            }
            Check::TouchKeepsVersion => records::touch_keeps_version(&*target, options).await,
            Check::DeleteRemoves => records::delete_removes(&*target, options).await,
            Check::LoadManyAnswersInOrder => {
                records::load_many_answers_in_order(&*target, options).await;
            }
            Check::VersionsNeverRepeat => records::versions_never_repeat(&*target, options).await,
            Check::ConcurrentIndependentKeys => {
                races::concurrent_independent_keys(target, options).await;
            }
            Check::RacingCreates => races::racing_creates(target, options).await,
            Check::DeleteBeatsConcurrentTouches => {
                races::delete_beats_concurrent_touches(target, options).await;
            }
            Check::CompareAndSet => races::compare_and_set(&*target, options).await,
            Check::ConcurrentCompareAndSet => {
                races::concurrent_compare_and_set(target, options).await;
            }
            Check::CancelledCallsLeaveTheStoreUsable => {
                races::cancelled_calls_leave_the_store_usable(&*target, options).await;
            }
            Check::TtlRules => ttl::ttl_rules(&*target, options).await,
            Check::ConcurrentWritersOfOneSession => {
                sessions::concurrent_writers_of_one_session(target, options).await;
            }
            Check::LogoutBeatsSlowerWriters => {
                sessions::logout_beats_slower_writers(target, options).await;
            }
            Check::LastWriteWinsWithoutCompareAndSet => {
                sessions::last_write_wins_without_compare_and_set(target, options).await;
            }
            Check::AUsersSessions => sessions::a_users_sessions(target, options).await,
        }
        store.clean_up().await;
    }
}

/// Runs every check against stores made by `make_store`, with the default
/// [`Options`].
///
/// # Panics
///
/// At the first check the store fails.
pub async fn run<S, F, Fut>(make_store: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    run_with(&Options::new(), make_store).await;
}

/// Runs every check against stores made by `make_store` (a fresh store per
/// check), with `options`.
///
/// # Panics
///
/// At the first check the store fails.
pub async fn run_with<S, F, Fut>(options: &Options, make_store: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    for check in Check::ALL {
        check.run(Arc::new(make_store().await), options).await;
    }
}

/// A long TTL, for records that must not expire during a check.
const TTL: Duration = Duration::from_secs(60);

async fn version_of(store: &dyn Store, key: &str) -> Option<crate::store::Version> {
    store
        .load(key)
        .await
        .expect("load failed")
        .map(|loaded| loaded.version)
}

async fn bytes_of(store: &dyn Store, key: &str) -> Option<Vec<u8>> {
    store
        .load(key)
        .await
        .expect("load failed")
        .map(|loaded| loaded.bytes)
}
