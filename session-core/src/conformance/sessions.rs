//! Whole sessions over the store, through a [`SessionManager`]: concurrent
//! writers, a logout racing writers, a user's sessions, and last-write-wins
//! for a store without compare-and-set.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::Options;
use crate::error::StoreError;
use crate::keys::KeyRing;
use crate::manager::SessionManager;
use crate::store::{Loaded, SaveOutcome, Store, Version};

/// A manager on `store` writing under `namespace`, with timeouts short
/// enough that anything a failed check leaves behind soon expires.
fn manager_on(store: Arc<dyn Store>, keys: KeyRing, namespace: &str) -> SessionManager {
    SessionManager::builder(store, keys)
        .namespace(namespace)
        .idle_timeout(Duration::from_secs(120))
        .absolute_timeout(Duration::from_secs(300))
        .build()
        .expect("a valid configuration")
}

/// A namespace of the suite's own for one check's sessions.
fn namespace(options: &Options) -> String {
    format!("{}:", options.key("sessions"))
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

pub(super) async fn concurrent_writers_of_one_session(store: Arc<dyn Store>, options: &Options) {
    let manager = manager_on(store, KeyRing::generate(), &namespace(options));
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

pub(super) async fn logout_beats_slower_writers(store: Arc<dyn Store>, options: &Options) {
    const WRITERS: usize = 5;
    let manager = manager_on(store, KeyRing::generate(), &namespace(options));
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

pub(super) async fn last_write_wins_without_compare_and_set(
    store: Arc<dyn Store>,
    options: &Options,
) {
    // Two managers on one store, key ring and namespace: two processes of
    // one app.
    let store: Arc<dyn Store> = Arc::new(WithoutCompareAndSet(store));
    let (keys, namespace) = (KeyRing::generate(), namespace(options));
    let one = manager_on(Arc::clone(&store), keys.clone(), &namespace);
    let other = manager_on(store, keys, &namespace);
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
pub(super) async fn a_users_sessions(store: Arc<dyn Store>, options: &Options) {
    let manager = manager_on(store, KeyRing::generate(), &namespace(options));
    let user = options.key("user");
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
