//! The store conformance suite: one set of checks that every [`Store`] runs.
//!
//! Enable the `test-suite` feature in your store's dev-dependencies and call
//! [`run`] from an async test with a constructor for your store:
//!
//! ```no_run
//! # #[cfg(feature = "test-suite")]
//! # async fn demo() {
//! use session_core::{MemoryStore, conformance};
//!
//! // Inside a `#[tokio::test(flavor = "multi_thread")]`:
//! conformance::run(|| async { MemoryStore::new() }).await;
//! # }
//! ```
//!
//! Each check takes a fresh store from the constructor and uses its own random
//! keys, so a shared server is fine. A failed check panics with a message that
//! names it. The suite sleeps a few seconds in total to observe TTL expiry.
//!
//! Besides the store contract, it runs whole sessions over the store through a
//! [`SessionManager`]: twenty concurrent writers of one session all persist, a
//! logout beats writers that loaded the session before it, a user's sessions
//! are listed and ended through the user's index, and the same store with
//! compare-and-set hidden gets last-write-wins.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::StoreError;
use crate::id::random_bytes;
use crate::keys::KeyRing;
use crate::manager::SessionManager;
use crate::store::{Loaded, SaveOutcome, Store, Version};

/// Runs every check against stores made by `make_store`.
///
/// Stores that claim [`Store::supports_compare_and_set`] are also checked for
/// compare-and-set semantics; the others for last-write-wins.
pub async fn run<S, F, Fut>(make_store: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    absent_keys(&make_store().await).await;
    create_claims_only_free_keys(&make_store().await).await;
    unconditional_save(&make_store().await).await;
    touch_keeps_version(&make_store().await).await;
    delete_removes(&make_store().await).await;
    load_many_answers_in_order(&make_store().await).await;
    binary_and_large_values(&make_store().await).await;
    let store = Arc::new(make_store().await);
    concurrent_independent_keys(Arc::clone(&store)).await;
    delete_beats_concurrent_touches(Arc::clone(&store)).await;
    if store.supports_compare_and_set() {
        compare_and_set(&*store).await;
        concurrent_compare_and_set(Arc::clone(&store)).await;
        twenty_writers_of_one_session(Arc::new(make_store().await)).await;
        logout_beats_slower_writers(Arc::new(make_store().await)).await;
    }
    a_users_sessions(Arc::new(make_store().await)).await;
    let without_cas = Arc::new(WithoutCompareAndSet(Arc::new(make_store().await)));
    last_write_wins_without_compare_and_set(without_cas).await;
    ttl_expiry(&make_store().await).await;
}

const TTL: Duration = Duration::from_secs(60);

fn unique_key(check: &str) -> String {
    let suffix: String = random_bytes::<8>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("conformance:{check}:{suffix}")
}

async fn version_of(store: &impl Store, key: &str) -> Option<Version> {
    store
        .load(key)
        .await
        .expect("load failed")
        .map(|loaded| loaded.version)
}

async fn bytes_of(store: &impl Store, key: &str) -> Option<Vec<u8>> {
    store
        .load(key)
        .await
        .expect("load failed")
        .map(|loaded| loaded.bytes)
}

async fn absent_keys(store: &impl Store) {
    let key = unique_key("absent");
    assert!(
        store.load(&key).await.expect("load").is_none(),
        "load of an absent key found a record"
    );
    assert!(
        store
            .load_and_touch(&key, TTL)
            .await
            .expect("load_and_touch")
            .is_none(),
        "load_and_touch of an absent key found a record"
    );
    assert!(
        !store.touch(&key, TTL).await.expect("touch"),
        "touch of an absent key answered true"
    );
    assert!(
        !store.delete(&key).await.expect("delete"),
        "delete of an absent key answered true"
    );
    assert!(
        store.load(&key).await.expect("load").is_none(),
        "touch or delete created a record"
    );
}

async fn load_many_answers_in_order(store: &impl Store) {
    assert!(
        store.load_many(&[]).await.expect("load_many").is_empty(),
        "load_many of no keys answered something"
    );
    let present: Vec<String> = (0..40).map(|_| unique_key("many")).collect();
    for (index, key) in present.iter().enumerate() {
        let value = format!("value {index}");
        store
            .create(key, value.as_bytes(), TTL)
            .await
            .expect("create")
            .expect("a fresh key is free");
    }
    let absent = unique_key("many-absent");
    // Present and absent keys interleaved, one of them twice.
    let mut keys: Vec<&str> = Vec::new();
    for key in &present {
        keys.push(key);
        keys.push(&absent);
    }
    keys.push(&present[0]);
    let answers = store.load_many(&keys).await.expect("load_many");
    assert_eq!(answers.len(), keys.len(), "load_many must answer every key");
    for (key, answer) in keys.iter().zip(answers) {
        let single = store.load(key).await.expect("load");
        assert_eq!(
            answer
                .as_ref()
                .map(|loaded| (&loaded.bytes, loaded.version)),
            single
                .as_ref()
                .map(|loaded| (&loaded.bytes, loaded.version)),
            "load_many answered {key} differently from load (or out of order)"
        );
    }
}

async fn create_claims_only_free_keys(store: &impl Store) {
    let key = unique_key("create");
    let version = store
        .create(&key, b"first", TTL)
        .await
        .expect("create")
        .expect("create on a free key must claim it");
    let loaded = store
        .load(&key)
        .await
        .expect("load")
        .expect("created record missing");
    assert_eq!(loaded.bytes, b"first");
    assert_eq!(
        loaded.version, version,
        "load must give the version create answered"
    );

    let again = store.create(&key, b"second", TTL).await.expect("create");
    assert!(again.is_none(), "create on a taken key must answer None");
    assert_eq!(
        bytes_of(store, &key).await.as_deref(),
        Some(&b"first"[..]),
        "a collision overwrote the record"
    );
}

async fn unconditional_save(store: &impl Store) {
    let key = unique_key("save");
    let SaveOutcome::Saved(first) = store.save(&key, b"one", TTL, None).await.expect("save") else {
        panic!("save without an expected version must write an absent key");
    };
    let SaveOutcome::Saved(second) = store.save(&key, b"two", TTL, None).await.expect("save")
    else {
        panic!("save without an expected version must overwrite");
    };
    assert_ne!(first, second, "every write must give a new version");
    let loaded = store
        .load(&key)
        .await
        .expect("load")
        .expect("saved record missing");
    assert_eq!(loaded.bytes, b"two");
    assert_eq!(loaded.version, second);
}

async fn touch_keeps_version(store: &impl Store) {
    let key = unique_key("touch");
    let version = store
        .create(&key, b"data", TTL)
        .await
        .expect("create")
        .expect("free key");
    assert!(
        store.touch(&key, TTL).await.expect("touch"),
        "touch of a live record answered false"
    );
    assert_eq!(
        version_of(store, &key).await,
        Some(version),
        "touch changed the version"
    );
    let loaded = store
        .load_and_touch(&key, TTL)
        .await
        .expect("load_and_touch")
        .expect("load_and_touch lost a live record");
    assert_eq!(loaded.bytes, b"data");
    assert_eq!(
        loaded.version, version,
        "load_and_touch changed the version"
    );
}

async fn delete_removes(store: &impl Store) {
    let key = unique_key("delete");
    store
        .create(&key, b"data", TTL)
        .await
        .expect("create")
        .expect("free key");
    assert!(
        store.delete(&key).await.expect("delete"),
        "delete of a live record answered false"
    );
    assert!(
        store.load(&key).await.expect("load").is_none(),
        "deleted record still loads"
    );
    assert!(
        !store.delete(&key).await.expect("delete"),
        "second delete answered true"
    );
    assert!(
        store
            .create(&key, b"new", TTL)
            .await
            .expect("create")
            .is_some(),
        "a deleted key must be free to claim again"
    );
}

async fn binary_and_large_values(store: &impl Store) {
    let key = unique_key("binary");
    let binary: Vec<u8> = (0..=255u8)
        .chain(b"\r\nEND\r\n\0".iter().copied())
        .collect();
    store
        .save(&key, &binary, TTL, None)
        .await
        .expect("save binary");
    assert_eq!(
        bytes_of(store, &key).await,
        Some(binary),
        "binary value changed in the store"
    );

    let key = unique_key("large");
    let large: Vec<u8> = (0..512 * 1024)
        .map(|i: usize| (i * 31 % 251) as u8)
        .collect();
    store
        .save(&key, &large, TTL, None)
        .await
        .expect("save a 512 KiB value");
    assert_eq!(
        bytes_of(store, &key).await,
        Some(large),
        "large value changed in the store"
    );
}

async fn concurrent_independent_keys<S: Store>(store: Arc<S>) {
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let key = unique_key("concurrent");
                for round in 0..10u32 {
                    let value = format!("{task}:{round}").into_bytes();
                    store
                        .save(&key, &value, TTL, None)
                        .await
                        .expect("concurrent save");
                    assert_eq!(
                        bytes_of(&*store, &key).await,
                        Some(value),
                        "concurrent read saw another task's value"
                    );
                }
                assert!(store.delete(&key).await.expect("concurrent delete"));
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("concurrent task panicked");
    }
}

async fn compare_and_set(store: &impl Store) {
    let key = unique_key("cas");
    let v1 = store
        .create(&key, b"v1", TTL)
        .await
        .expect("create")
        .expect("free key");
    let SaveOutcome::Saved(v2) = store.save(&key, b"v2", TTL, Some(v1)).await.expect("save") else {
        panic!("compare-and-set with the current version must write");
    };
    assert_eq!(
        store
            .save(&key, b"stale", TTL, Some(v1))
            .await
            .expect("save"),
        SaveOutcome::Conflict,
        "compare-and-set with a stale version must conflict"
    );
    assert_eq!(
        bytes_of(store, &key).await.as_deref(),
        Some(&b"v2"[..]),
        "a conflicting save wrote"
    );

    store.touch(&key, TTL).await.expect("touch");
    assert!(
        matches!(
            store.save(&key, b"v3", TTL, Some(v2)).await.expect("save"),
            SaveOutcome::Saved(_)
        ),
        "a touch must not invalidate the version"
    );

    let current = version_of(store, &key).await.expect("record missing");
    store.delete(&key).await.expect("delete");
    assert_eq!(
        store
            .save(&key, b"revived", TTL, Some(current))
            .await
            .expect("save"),
        SaveOutcome::Gone,
        "compare-and-set on a deleted record must answer Gone"
    );
    assert!(
        store.load(&key).await.expect("load").is_none(),
        "a Gone save brought the record back"
    );

    store
        .create(&key, b"reborn", TTL)
        .await
        .expect("create")
        .expect("free key");
    assert_eq!(
        store
            .save(&key, b"stale", TTL, Some(current))
            .await
            .expect("save"),
        SaveOutcome::Conflict,
        "a record created again must not match a version from before its deletion"
    );
}

async fn concurrent_compare_and_set<S: Store>(store: Arc<S>) {
    const TASKS: u64 = 8;
    const INCREMENTS: u64 = 10;
    let key = Arc::new(unique_key("cas-counter"));
    store
        .create(&key, &0u64.to_be_bytes(), TTL)
        .await
        .expect("create")
        .expect("free key");
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (store, key) = (Arc::clone(&store), Arc::clone(&key));
            tokio::spawn(async move {
                for _ in 0..INCREMENTS {
                    loop {
                        let loaded = store
                            .load(&key)
                            .await
                            .expect("load")
                            .expect("counter missing");
                        let count = u64::from_be_bytes(loaded.bytes.try_into().expect("8 bytes"));
                        let next = (count + 1).to_be_bytes();
                        match store
                            .save(&key, &next, TTL, Some(loaded.version))
                            .await
                            .expect("save")
                        {
                            SaveOutcome::Saved(_) => break,
                            SaveOutcome::Conflict => tokio::task::yield_now().await,
                            SaveOutcome::Gone => panic!("counter vanished"),
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("counter task panicked");
    }
    let bytes = bytes_of(&*store, &key).await.expect("counter missing");
    let count = u64::from_be_bytes(bytes.try_into().expect("8 bytes"));
    assert_eq!(count, TASKS * INCREMENTS, "compare-and-set lost updates");
}

async fn ttl_expiry(store: &impl Store) {
    let short = Duration::from_secs(1);
    let [expiring, touched, refreshed, saved, lasting] = [
        "ttl-expire",
        "ttl-touch",
        "ttl-refresh",
        "ttl-save",
        "ttl-last",
    ]
    .map(unique_key);
    let expiring_version = store
        .create(&expiring, b"x", short)
        .await
        .expect("create")
        .expect("free key");
    for key in [&touched, &refreshed] {
        store
            .create(key, b"x", short)
            .await
            .expect("create")
            .expect("free key");
    }
    store.save(&saved, b"x", short, None).await.expect("save");
    store
        .create(&lasting, b"x", Duration::from_secs(2))
        .await
        .expect("create")
        .expect("free key");
    assert!(
        store.load(&expiring).await.expect("load").is_some(),
        "a record expired at once"
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    let ten = Duration::from_secs(10);
    assert!(
        store.touch(&touched, ten).await.expect("touch"),
        "touch missed a live record"
    );
    assert!(
        store
            .load_and_touch(&refreshed, ten)
            .await
            .expect("load_and_touch")
            .is_some(),
        "load_and_touch missed"
    );

    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        store.load(&lasting).await.expect("load").is_some(),
        "a 2 s record was gone after 1.2 s"
    );

    // A store counting whole seconds may keep a 1 s record for up to 3 s.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(
        store.load(&expiring).await.expect("load").is_none(),
        "a created record outlived its TTL"
    );
    assert!(
        store.load(&saved).await.expect("load").is_none(),
        "a saved record outlived its TTL"
    );
    assert!(
        store.load(&touched).await.expect("load").is_some(),
        "touch did not extend the TTL"
    );
    assert!(
        store.load(&refreshed).await.expect("load").is_some(),
        "load_and_touch did not extend the TTL"
    );

    // An expired record is absent for every operation.
    assert!(
        !store.touch(&expiring, ten).await.expect("touch"),
        "touch revived an expired record"
    );
    if store.supports_compare_and_set() {
        let revived = store
            .save(&expiring, b"y", ten, Some(expiring_version))
            .await
            .expect("save");
        assert_eq!(
            revived,
            SaveOutcome::Gone,
            "compare-and-set on an expired record must answer Gone"
        );
    }
    assert!(
        store
            .create(&expiring, b"z", ten)
            .await
            .expect("create")
            .is_some(),
        "an expired key must be free"
    );
}

/// A delete racing touches of the same record must stay deleted: a touch
/// that read the record before the delete must not write it back.
async fn delete_beats_concurrent_touches<S: Store>(store: Arc<S>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    for _ in 0..100 {
        let key = Arc::new(unique_key("delete-race"));
        store
            .create(&key, b"x", TTL)
            .await
            .expect("create")
            .expect("free key");
        // Counts touches; the toucher stops when it reads `usize::MAX`.
        let touches = Arc::new(AtomicUsize::new(0));
        let toucher = {
            let (store, key, touches) =
                (Arc::clone(&store), Arc::clone(&key), Arc::clone(&touches));
            tokio::spawn(async move {
                while touches.fetch_add(1, Ordering::SeqCst) != usize::MAX {
                    store
                        .load_and_touch(&key, TTL)
                        .await
                        .expect("load_and_touch");
                }
            })
        };
        while touches.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        assert!(
            store.delete(&key).await.expect("delete"),
            "delete missed a live record"
        );
        touches.store(usize::MAX, Ordering::SeqCst);
        toucher.await.expect("toucher task panicked");
        assert!(
            store.load(&key).await.expect("load").is_none(),
            "a touch brought a deleted record back"
        );
    }
}

fn manager_on(store: Arc<dyn Store>) -> SessionManager {
    SessionManager::builder(store, KeyRing::generate())
        .build()
        .expect("the default configuration is valid")
}

/// A new session holding `user_name`, and its cookie value.
async fn logged_in(manager: &SessionManager) -> String {
    let session = manager.get(None);
    session.insert("user_name", "alice").await.expect("insert");
    let cookie = manager.set(&session).await.expect("save a new session");
    cookie
        .expect("a new session sets a cookie")
        .value()
        .to_owned()
}

async fn twenty_writers_of_one_session(store: Arc<dyn Store>) {
    let manager = manager_on(store);
    let cookie = Arc::new(logged_in(&manager).await);
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let writers: Vec<_> = (0..20)
        .map(|i| {
            let (manager, cookie, barrier) =
                (manager.clone(), Arc::clone(&cookie), Arc::clone(&barrier));
            tokio::spawn(async move {
                let session = manager.get(Some(&cookie));
                session
                    .insert(&format!("pref:{i}"), &i)
                    .await
                    .expect("insert");
                barrier.wait().await;
                manager
                    .set(&session)
                    .await
                    .expect("a concurrent writer failed to save");
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer task panicked");
    }
    let session = manager.get(Some(&cookie));
    for i in 0..20 {
        let value = session.get::<i32>(&format!("pref:{i}")).await.expect("get");
        assert_eq!(value, Some(i), "concurrent writers lost pref:{i}");
    }
}

async fn logout_beats_slower_writers(store: Arc<dyn Store>) {
    const WRITERS: usize = 5;
    let manager = manager_on(store);
    let cookie = Arc::new(logged_in(&manager).await);
    // Writers load the session, then wait for the logout before saving.
    let logged_out = Arc::new(tokio::sync::Semaphore::new(0));
    let mut writers = Vec::new();
    for i in 0..WRITERS {
        let session = manager.get(Some(&cookie));
        session
            .insert(&format!("late:{i}"), &i)
            .await
            .expect("insert");
        let (manager, logged_out) = (manager.clone(), Arc::clone(&logged_out));
        writers.push(tokio::spawn(async move {
            let _permit = logged_out.acquire().await.expect("semaphore open");
            manager.set(&session).await
        }));
    }
    let logout = manager.get(Some(&cookie));
    logout.destroy().await.expect("destroy");
    manager.set(&logout).await.expect("logout");
    logged_out.add_permits(WRITERS);
    for writer in writers {
        let cookie = writer
            .await
            .expect("writer task panicked")
            .expect("a dropped write is no error");
        assert!(cookie.is_none(), "a write after the logout set a cookie");
    }
    let session = manager.get(Some(&cookie));
    assert!(
        session.is_empty().await.expect("load"),
        "a slow writer brought back a logged-out session"
    );
}

async fn last_write_wins_without_compare_and_set(store: Arc<WithoutCompareAndSet>) {
    // Two managers on one store and key ring: two processes of one app.
    let keys = KeyRing::generate();
    let manager = |store: Arc<WithoutCompareAndSet>| {
        SessionManager::builder(store, keys.clone())
            .build()
            .expect("the default configuration is valid")
    };
    let (one, other) = (manager(Arc::clone(&store)), manager(store));
    let cookie = logged_in(&one).await;
    let (first, second) = (one.get(Some(&cookie)), other.get(Some(&cookie)));
    first.insert("a", &1).await.expect("insert");
    second.insert("b", &2).await.expect("insert");
    one.set(&first).await.expect("first save");
    other.set(&second).await.expect("second save");
    let keys = one.get(Some(&cookie)).keys().await.expect("keys");
    assert_eq!(
        keys,
        ["b", "user_name"],
        "without compare-and-set the last write of another process replaces the record"
    );

    // Within one process the manager orders writers, so both persist.
    let (first, second) = (one.get(Some(&cookie)), one.get(Some(&cookie)));
    first.insert("c", &3).await.expect("insert");
    second.insert("d", &4).await.expect("insert");
    one.set(&first).await.expect("first save");
    one.set(&second).await.expect("second save");
    let keys = one.get(Some(&cookie)).keys().await.expect("keys");
    assert_eq!(
        keys,
        ["b", "c", "d", "user_name"],
        "writers in one process never replace each other's changes"
    );
}

/// A user logged in twice lists both sessions, and ending one by its handle
/// ends it: the index of a user's sessions works over the store.
async fn a_users_sessions(store: Arc<dyn Store>) {
    let manager = SessionManager::builder(store, KeyRing::generate())
        .namespace("conformance-users:")
        .build()
        .expect("valid configuration");
    let user = unique_key("user");
    let first = logged_in_as(&manager, &user).await;
    let second = logged_in_as(&manager, &user).await;
    let listed = manager
        .get(Some(&first))
        .user_sessions()
        .await
        .expect("listing");
    assert_eq!(listed.len(), 2, "both sessions of the user are listed");
    let other = listed
        .iter()
        .find(|session| !session.is_current())
        .expect("one session is the other one");
    manager
        .get(Some(&first))
        .end_user_session(other.handle())
        .await
        .expect("ending the other session");
    let ended = manager.get(Some(&second));
    assert!(
        ended
            .current_user::<String>()
            .await
            .expect("load")
            .is_none(),
        "the ended session still has its user"
    );
    let left = manager
        .get(Some(&first))
        .user_sessions()
        .await
        .expect("listing");
    assert_eq!(left.len(), 1, "the ended session is no longer listed");
}

/// The cookie of a new session in which `user` logged in.
async fn logged_in_as(manager: &SessionManager, user: &str) -> String {
    let session = manager.get(None);
    session.login(user).await.expect("login");
    let cookie = manager.set(&session).await.expect("save the login");
    cookie.expect("a login sets a cookie").value().to_owned()
}

/// Wraps a store and hides its compare-and-set, to test what the core does for
/// stores that cannot compare-and-set (last-write-wins). Panics if the core
/// asks it for a compare-and-set anyway.
#[derive(Debug)]
pub struct WithoutCompareAndSet(pub Arc<dyn Store>);

#[async_trait]
impl Store for WithoutCompareAndSet {
    async fn load(&self, key: &str) -> Result<Option<Loaded>, StoreError> {
        self.0.load(key).await
    }

    async fn load_many(&self, keys: &[&str]) -> Result<Vec<Option<Loaded>>, StoreError> {
        self.0.load_many(keys).await
    }

    async fn load_and_touch(&self, key: &str, ttl: Duration) -> Result<Option<Loaded>, StoreError> {
        self.0.load_and_touch(key, ttl).await
    }

    async fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<Option<Version>, StoreError> {
        self.0.create(key, value, ttl).await
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        expected: Option<Version>,
    ) -> Result<SaveOutcome, StoreError> {
        assert!(
            expected.is_none(),
            "the core asked a store without compare-and-set for one"
        );
        self.0.save(key, value, ttl, None).await
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.0.touch(key, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        self.0.delete(key).await
    }

    fn supports_compare_and_set(&self) -> bool {
        false
    }
}
