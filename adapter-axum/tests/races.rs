//! Concurrent requests on one session, over real HTTP.
//!
//! Each scenario serves a router with `axum::serve` on a `127.0.0.1` socket
//! and drives it with `reqwest` (no redirects, no cookie store: the session
//! cookie is passed by hand). Each is written once, over any store, and run on
//! the `MemoryStore` and on a real memcached. The races are forced rather than
//! hoped for: barriers and gates inside handlers and store wrappers fix the
//! order of loads, saves and deletes, so no scenario depends on timing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use adapter_axum::{Session, SessionError, SessionLayer};
use async_trait::async_trait;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{MethodRouter, get, post, put};
use reqwest::Method;
use reqwest::header::{COOKIE, SET_COOKIE};
use session_core::conformance::WithoutCompareAndSet;
use session_core::{
    KeyRing, Loaded, MemoryStore, SaveOutcome, SessionManager, Store, StoreError, Version,
};
use session_memcached::MemcachedStore;
use test_memcached::MemcachedServer;
use tokio::sync::{Barrier, Notify, Semaphore, watch};
use tokio::task::JoinHandle;

/// Only guards against a hang when a scenario breaks (a barrier never fills,
/// a gate never opens): the test then fails instead of blocking forever.
const HANG_GUARD: Duration = Duration::from_secs(10);

/// How many requests write one session at once in the first scenario.
const CONCURRENT_WRITERS: usize = 20;

/// How many slow writers race the logout in the second scenario.
const SLOW_WRITERS: u32 = 5;

fn memory() -> Arc<dyn Store> {
    Arc::new(MemoryStore::new())
}

fn memcached(server: &MemcachedServer) -> Arc<dyn Store> {
    Arc::new(MemcachedStore::from_spec(&server.spec()).expect("valid memcached spec"))
}

// --- Scenario 1: concurrent writers lose no update --------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_twenty_concurrent_writers_lose_nothing() {
    concurrent_writers_lose_nothing(memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memcached_twenty_concurrent_writers_lose_nothing() {
    let Some(server) = MemcachedServer::start() else {
        return;
    };
    concurrent_writers_lose_nothing(memcached(&server)).await;
}

/// Every writer inserts its own key, then waits until all writers have
/// loaded: they all start from the same version, so every save but the first
/// conflicts and has to merge.
async fn put_pref_after_all_loaded(
    State(all_loaded): State<Arc<Barrier>>,
    session: Session,
    Path(name): Path<String>,
) -> Result<StatusCode, SessionError> {
    session.insert(&format!("pref:{name}"), &name).await?;
    all_loaded.wait().await;
    Ok(StatusCode::NO_CONTENT)
}

async fn concurrent_writers_lose_nothing(store: Arc<dyn Store>) {
    let all_loaded = Arc::new(Barrier::new(CONCURRENT_WRITERS));
    let server = TestServer::start(
        manager_on(store),
        put(put_pref_after_all_loaded).with_state(all_loaded),
    )
    .await;
    let cookie = server.log_in().await;

    let writers: Vec<_> = (0..CONCURRENT_WRITERS)
        .map(|i| server.spawn_send(Method::PUT, &format!("/prefs/{i:02}"), &cookie))
        .collect();
    for (i, writer) in writers.into_iter().enumerate() {
        let reply = writer.await.expect("writer task panicked");
        assert_eq!(
            reply.status,
            StatusCode::NO_CONTENT,
            "writer {i} failed: {}",
            reply.body
        );
    }

    let mut expected: BTreeSet<String> = (0..CONCURRENT_WRITERS)
        .map(|i| format!("pref:{i:02}"))
        .collect();
    expected.insert("user_name".to_owned());
    assert_eq!(
        server.keys(&cookie).await,
        expected,
        "{CONCURRENT_WRITERS} concurrent writers on one session lost an update"
    );
}

// --- Scenario 2: a logout beats slower writers ------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_logout_beats_slow_writers() {
    logout_beats_slow_writers(memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memcached_logout_beats_slow_writers() {
    let Some(server) = MemcachedServer::start() else {
        return;
    };
    logout_beats_slow_writers(memcached(&server)).await;
}

async fn put_pref(session: Session, Path(name): Path<String>) -> Result<StatusCode, SessionError> {
    session.insert(&format!("pref:{name}"), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn logout_beats_slow_writers(store: Arc<dyn Store>) {
    let held = Arc::new(SavesHeldUntilDelete::new(Arc::clone(&store)));
    let server = TestServer::start(manager_on(held.clone()), put(put_pref)).await;
    let cookie = server.log_in().await;

    // The writers load the session and insert; their end-of-request save
    // then waits in the store until the logout has deleted the record.
    let writers: Vec<_> = (0..SLOW_WRITERS)
        .map(|i| server.spawn_send(Method::PUT, &format!("/prefs/late{i}"), &cookie))
        .collect();
    tokio::time::timeout(HANG_GUARD, held.saves_started.acquire_many(SLOW_WRITERS))
        .await
        .expect("the writers never reached their save")
        .expect("the semaphore is never closed")
        .forget();

    let logout = server.send(Method::POST, "/logout", Some(&cookie)).await;
    assert_eq!(
        logout.status,
        StatusCode::NO_CONTENT,
        "logout failed: {}",
        logout.body
    );
    assert!(
        matches!(logout.set_cookie.as_slice(), [removal] if removal.contains("Max-Age=0")),
        "the logout expires the cookie, got {:?}",
        logout.set_cookie
    );
    let deleted = held
        .deleted
        .borrow()
        .clone()
        .expect("the logout deleted the session record");

    for (i, writer) in writers.into_iter().enumerate() {
        let reply = writer.await.expect("writer task panicked");
        assert_eq!(
            reply.status,
            StatusCode::NO_CONTENT,
            "a write dropped after a logout is no error (writer {i}): {}",
            reply.body
        );
        assert!(
            reply.set_cookie.is_empty(),
            "writer {i}, saving after the logout, sent a cookie reviving the session: {:?}",
            reply.set_cookie
        );
    }

    let after = server.send(Method::GET, "/keys", Some(&cookie)).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(
        after.body, "",
        "the old cookie still reaches data after the logout"
    );
    assert!(
        store.load(&deleted).await.expect("store load").is_none(),
        "a slow writer wrote the logged-out session back into the store"
    );
}

/// Holds every `save` until a `delete` has happened, and counts the saves
/// that have begun: the test waits for the writers' saves, then logs out,
/// and only then do the saves reach the store.
#[derive(Debug)]
struct SavesHeldUntilDelete {
    inner: Arc<dyn Store>,
    /// One permit per save that has begun.
    saves_started: Semaphore,
    /// The key of the last delete, `None` before the first.
    deleted: watch::Sender<Option<String>>,
}

impl SavesHeldUntilDelete {
    fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            saves_started: Semaphore::new(0),
            deleted: watch::Sender::new(None),
        }
    }
}

#[async_trait]
impl Store for SavesHeldUntilDelete {
    async fn load(&self, key: &str) -> Result<Option<Loaded>, StoreError> {
        self.inner.load(key).await
    }

    async fn load_and_touch(&self, key: &str, ttl: Duration) -> Result<Option<Loaded>, StoreError> {
        self.inner.load_and_touch(key, ttl).await
    }

    async fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<Option<Version>, StoreError> {
        self.inner.create(key, value, ttl).await
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        expected: Option<Version>,
    ) -> Result<SaveOutcome, StoreError> {
        self.saves_started.add_permits(1);
        let mut deleted = self.deleted.subscribe();
        // On a timeout the save goes ahead, and the test's checks fail.
        let _ = tokio::time::timeout(HANG_GUARD, deleted.wait_for(Option::is_some)).await;
        self.inner.save(key, value, ttl, expected).await
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.inner.touch(key, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let existed = self.inner.delete(key).await?;
        self.deleted.send_replace(Some(key.to_owned()));
        Ok(existed)
    }

    fn supports_compare_and_set(&self) -> bool {
        self.inner.supports_compare_and_set()
    }
}

// --- Scenario 3: without compare-and-set, the last write wins ---------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_without_compare_and_set_the_last_write_wins() {
    last_write_wins_without_compare_and_set(memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memcached_without_compare_and_set_the_last_write_wins() {
    let Some(server) = MemcachedServer::start() else {
        return;
    };
    last_write_wins_without_compare_and_set(memcached(&server)).await;
}

const FIRST: &str = "first";
const SECOND: &str = "second";

/// Orders two overlapping writers: both load before either saves, and the
/// second returns (and so saves) only once the first's response has arrived.
#[derive(Debug)]
struct TwoWriters {
    both_loaded: Barrier,
    first_answered: Notify,
}

async fn put_pref_in_order(
    State(order): State<Arc<TwoWriters>>,
    session: Session,
    Path(name): Path<String>,
) -> Result<StatusCode, SessionError> {
    session.insert(&format!("pref:{name}"), &name).await?;
    order.both_loaded.wait().await;
    if name == SECOND {
        order.first_answered.notified().await;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn last_write_wins_without_compare_and_set(store: Arc<dyn Store>) {
    let order = Arc::new(TwoWriters {
        both_loaded: Barrier::new(2),
        first_answered: Notify::new(),
    });
    let without_cas = Arc::new(WithoutCompareAndSet(store));
    let server = TestServer::start(
        manager_on(without_cas),
        put(put_pref_in_order).with_state(Arc::clone(&order)),
    )
    .await;
    let cookie = server.log_in().await;

    let first = server.spawn_send(Method::PUT, &format!("/prefs/{FIRST}"), &cookie);
    let second = server.spawn_send(Method::PUT, &format!("/prefs/{SECOND}"), &cookie);
    // The layer answers only after saving, so the first save is done here.
    let first = first.await.expect("writer task panicked");
    order.first_answered.notify_one();
    let second = second.await.expect("writer task panicked");
    for (name, reply) in [(FIRST, first), (SECOND, second)] {
        assert_eq!(
            reply.status,
            StatusCode::NO_CONTENT,
            "writer {name} failed: {}",
            reply.body
        );
    }

    let expected: BTreeSet<String> = [format!("pref:{SECOND}"), "user_name".to_owned()].into();
    assert_eq!(
        server.keys(&cookie).await,
        expected,
        "without compare-and-set the later save replaces the record: only pref:{SECOND} survives"
    );
}

// --- The app and its client -------------------------------------------------

fn manager_on(store: Arc<dyn Store>) -> SessionManager {
    SessionManager::builder(store, KeyRing::generate())
        .secure(false)
        .build()
        .expect("valid configuration")
}

async fn login(session: Session) -> Result<StatusCode, SessionError> {
    session.insert("user_name", "alice").await?;
    session.cycle_id().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn logout(session: Session) -> Result<StatusCode, SessionError> {
    session.destroy().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The session's keys, comma-separated.
async fn keys(session: Session) -> Result<String, SessionError> {
    Ok(session.keys().await?.join(","))
}

/// What a test needs from a response.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    set_cookie: Vec<String>,
    body: String,
}

/// The app on a real socket, and a client for it.
struct TestServer {
    base: String,
    client: reqwest::Client,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Serves login, logout, `GET /keys` and the scenario's `PUT
    /// /prefs/{name}` behind a session layer on `manager`.
    async fn start(manager: SessionManager, put_pref: MethodRouter) -> Self {
        let app = Router::new()
            .route("/login", post(login))
            .route("/logout", post(logout))
            .route("/keys", get(keys))
            .route("/prefs/{name}", put_pref)
            .layer(SessionLayer::new(manager));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("bound address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("server failed");
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(HANG_GUARD)
            .build()
            .expect("HTTP client");
        Self {
            base: format!("http://{addr}"),
            client,
            task,
        }
    }

    async fn send(&self, method: Method, path: &str, cookie: Option<&str>) -> Reply {
        send(&self.client, method, format!("{}{path}", self.base), cookie).await
    }

    /// Sends a request from its own task, so many can be in flight at once.
    fn spawn_send(&self, method: Method, path: &str, cookie: &str) -> JoinHandle<Reply> {
        let (client, url, cookie) = (
            self.client.clone(),
            format!("{}{path}", self.base),
            cookie.to_owned(),
        );
        tokio::spawn(async move { send(&client, method, url, Some(&cookie)).await })
    }

    /// Logs in as alice; answers the `Cookie` header value for the session.
    async fn log_in(&self) -> String {
        let reply = self.send(Method::POST, "/login", None).await;
        assert_eq!(
            reply.status,
            StatusCode::NO_CONTENT,
            "login failed: {}",
            reply.body
        );
        let [set_cookie] = reply.set_cookie.as_slice() else {
            panic!("login sets exactly one cookie, got {:?}", reply.set_cookie);
        };
        set_cookie
            .split(';')
            .next()
            .expect("split yields one item")
            .to_owned()
    }

    /// The session's keys, read back through `GET /keys`.
    async fn keys(&self, cookie: &str) -> BTreeSet<String> {
        let reply = self.send(Method::GET, "/keys", Some(cookie)).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "reading the keys failed: {}",
            reply.body
        );
        reply
            .body
            .split(',')
            .filter(|key| !key.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn send(
    client: &reqwest::Client,
    method: Method,
    url: String,
    cookie: Option<&str>,
) -> Reply {
    let mut request = client.request(method, url);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = request.send().await.expect("request failed");
    let status = response.status();
    let set_cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| value.to_str().expect("ASCII Set-Cookie").to_owned())
        .collect();
    let body = response.text().await.expect("readable body");
    Reply {
        status,
        set_cookie,
        body,
    }
}
