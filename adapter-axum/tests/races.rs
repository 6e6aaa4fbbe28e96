//! Concurrent requests on one session, over real HTTP.
//!
//! Each scenario serves a router with `axum::serve` on a `127.0.0.1` socket
//! and drives it with `reqwest` (no redirects, no cookie store: the session
//! cookie is passed by hand). Each is written once, over any store, and run on
//! the `MemoryStore` and on a real memcached. The races are forced rather than
//! hoped for: barriers in handlers and a gate in front of the store fix the
//! order of loads, saves and deletes, so no scenario depends on timing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use adapter_axum::{Session, SessionError, SessionLayer};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{MethodRouter, get, post, put};
use reqwest::Method;
use reqwest::header::{COOKIE, SET_COOKIE};
use session_core::test_stores::{CountingStore, GatedStore, StoreOp};
use session_core::{IntoStore, KeyRing, MemoryStore, SessionManager, Store};
use session_memcached::MemcachedStore;
use test_memcached::MemcachedServer;
use tokio::sync::{Barrier, Notify};
use tokio::task::JoinHandle;

/// Only guards against a hang when a scenario breaks (a barrier never fills,
/// a gate never opens): the test then fails instead of blocking forever.
const HANG_GUARD: Duration = Duration::from_secs(10);

/// How many requests write one session at once in the first scenario.
const CONCURRENT_WRITERS: usize = 20;

/// How many slow writers race the logout in the second scenario.
const SLOW_WRITERS: usize = 5;

/// A test per store for `scenario`: the `MemoryStore`, and a real memcached
/// (skipped with a warning when none is installed).
macro_rules! on_both_stores {
    ($scenario:ident: $memory:ident, $memcached:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $memory() {
            $scenario(Arc::new(MemoryStore::new())).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $memcached() {
            let Some(server) = MemcachedServer::start() else {
                return;
            };
            let store = MemcachedStore::from_spec(&server.spec()).expect("valid memcached spec");
            $scenario(Arc::new(store)).await;
        }
    };
}

// --- Scenario 1: concurrent writers lose no update --------------------------

on_both_stores!(concurrent_writers_lose_nothing:
    memory_twenty_concurrent_writers_lose_nothing,
    memcached_twenty_concurrent_writers_lose_nothing);

/// Every writer inserts its own key, then waits at the barrier until all
/// writers (and, in the logout scenario, the test) have loaded: they all
/// start from the same version before any of them saves.
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
    let put_pref = put(put_pref_after_all_loaded).with_state(all_loaded);
    let server = TestServer::start(manager_on(store, KeyRing::generate()), put_pref).await;
    let cookie = server.log_in().await;

    let writers = (0..CONCURRENT_WRITERS)
        .map(|i| server.spawn_send(Method::PUT, &format!("/prefs/{i:02}"), &cookie))
        .collect();
    all_answer_no_content(writers).await;

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

on_both_stores!(logout_beats_slow_writers:
    memory_logout_beats_slow_writers,
    memcached_logout_beats_slow_writers);

async fn logout_beats_slow_writers(store: Arc<dyn Store>) {
    // The writers load the session and insert, then wait for each other and
    // for the test; their saves then wait at the gate until the logout has
    // deleted the record.
    let all_loaded = Arc::new(Barrier::new(SLOW_WRITERS + 1));
    let counted = Arc::new(CountingStore::wrap_shared(Arc::clone(&store)));
    // Only the session's record: the logout also writes its user's index.
    let gate = Arc::new(
        GatedStore::wrap_shared(Arc::clone(&counted), [StoreOp::Save])
            .only_keys(|key| !key.contains("user:")),
    );
    let put_pref = put(put_pref_after_all_loaded).with_state(Arc::clone(&all_loaded));
    let server =
        TestServer::start(manager_on(Arc::clone(&gate), KeyRing::generate()), put_pref).await;
    let cookie = server.log_in().await;

    let writers = (0..SLOW_WRITERS)
        .map(|i| server.spawn_send(Method::PUT, &format!("/prefs/late{i}"), &cookie))
        .collect();
    tokio::time::timeout(HANG_GUARD, all_loaded.wait())
        .await
        .expect("the writers never loaded the session");

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
    gate.open();

    // A write dropped after a logout is no error, and must not revive the
    // session with a cookie.
    for (i, reply) in all_answer_no_content(writers).await.iter().enumerate() {
        assert!(
            reply.set_cookie.is_empty(),
            "writer {i}, saving after the logout, sent a cookie: {:?}",
            reply.set_cookie
        );
    }
    let after = server.send(Method::GET, "/keys", Some(&cookie)).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(
        after.body, "",
        "the old cookie still reaches data after the logout"
    );
    // The user's index stays, emptied; no session record may.
    for key in counted.written_keys() {
        assert!(
            key.contains("user:") || store.load(&key).await.expect("store load").is_none(),
            "a slow writer wrote the logged-out session back into the store"
        );
    }
}

// --- Scenario 3: without compare-and-set, the last write wins ---------------
//
// Writers in one process are merged by the core's group commit; the last
// write wins between processes, here two servers on one store.

on_both_stores!(last_write_wins_without_compare_and_set:
    memory_without_compare_and_set_the_last_write_wins,
    memcached_without_compare_and_set_the_last_write_wins);

const FIRST: &str = "first";
const SECOND: &str = "second";

/// Orders two overlapping writers, one per server: both load before either
/// saves, and the second returns (and so saves) only once the first's
/// response has arrived.
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
    let without_cas = Arc::new(CountingStore::wrap_shared(store).without_compare_and_set());
    let keys = KeyRing::generate();
    let start = || {
        let manager = manager_on(Arc::clone(&without_cas), keys.clone());
        TestServer::start(
            manager,
            put(put_pref_in_order).with_state(Arc::clone(&order)),
        )
    };
    let (server, other) = (start().await, start().await);
    let cookie = server.log_in().await;

    let first = server.spawn_send(Method::PUT, &format!("/prefs/{FIRST}"), &cookie);
    let second = other.spawn_send(Method::PUT, &format!("/prefs/{SECOND}"), &cookie);
    // The layer answers only after saving, so the first save is done here.
    all_answer_no_content(vec![first]).await;
    order.first_answered.notify_one();
    all_answer_no_content(vec![second]).await;

    let expected: BTreeSet<String> = [format!("pref:{SECOND}"), "user_name".to_owned()].into();
    assert_eq!(
        server.keys(&cookie).await,
        expected,
        "without compare-and-set the later save replaces the record: only pref:{SECOND} survives"
    );
}

// --- The app and its client -------------------------------------------------

fn manager_on(store: impl IntoStore, keys: KeyRing) -> SessionManager {
    SessionManager::builder(store, keys)
        .secure(false)
        .build()
        .expect("valid configuration")
}

async fn login(session: Session) -> Result<StatusCode, SessionError> {
    session.login("alice").await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn logout(session: Session) -> Result<StatusCode, SessionError> {
    session.logout().await?;
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

/// Waits for every writer; each must have answered 204.
async fn all_answer_no_content(writers: Vec<JoinHandle<Reply>>) -> Vec<Reply> {
    let mut replies = Vec::with_capacity(writers.len());
    for (i, writer) in writers.into_iter().enumerate() {
        let reply = writer.await.expect("writer task panicked");
        assert_eq!(
            reply.status,
            StatusCode::NO_CONTENT,
            "writer {i} failed: {}",
            reply.body
        );
        replies.push(reply);
    }
    replies
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
        set_cookie.split(';').next().unwrap_or_default().to_owned()
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
