//! The adapter test kit: framework-neutral, in-process scenarios that every
//! adapter runs against its own middleware.
//!
//! The core decides everything about a request's session; an adapter only
//! carries the `Cookie` headers in, the status out, and applies the
//! [`RequestEnd`](crate::RequestEnd) the core answers. What can still go wrong
//! is exactly that carrying: a dropped `Cache-Control`, an error reply
//! ignored, `finish` never called, a handler's own error type deciding the
//! status, the login redirect losing its query. The kit checks each of those
//! the same way for every framework, so an adapter's own tests only add what
//! is specific to its framework.
//!
//! An adapter implements [`TestApp`] for its test app (the routes below,
//! behind its middleware) and calls [`run`] with a function that builds that
//! app on a [`SessionManager`]:
//!
//! ```text
//! #[tokio::test]
//! async fn the_adapter_passes_the_kit() {
//!     adapter_kit::run(|manager| async move { MyApp::new(manager) }).await;
//! }
//! ```
//!
//! Every scenario is also a function of its own, to run alone while
//! debugging. A scenario panics with the request it sent and what was wrong
//! with the response.
//!
//! # The routes the test app must serve
//!
//! Each handler uses the adapter's own extractors and error types, as an
//! application would; `session` is the request's session.
//!
//! | route | handler | answers |
//! | --- | --- | --- |
//! | `GET /untouched` | never touches the session | 200 `ok` |
//! | `GET /read` | `session.get::<u64>("visits")` | 200 with the number, or `none` |
//! | `GET /write` | `visits` = `get::<u64>("visits")` (0 if absent) + 1, then `insert("visits", &visits)` | 200 with the new count |
//! | `PUT /keys/{key}` | `session.insert(key, "1")` | 204 |
//! | `GET /keys` | `session.keys()` | 200 with the keys joined by `,` |
//! | `POST /login` | `session.login("alice")` | 204 |
//! | `POST /logout` | `session.logout()` | 204 |
//! | `GET /user` | the adapter's login-required extractor (axum's `CurrentUser`) | 200 with the user name; for an anonymous visitor, the adapter's redirect: 303 with `Location` = [`Session::login_redirect`](crate::Session::login_redirect) of the path and query |
//! | `GET /maybe-user` | the optional form of that extractor (`Option<CurrentUser>`) | 200 with the user name or `anonymous` |
//! | `GET /csrf` | `session.csrf_token()` | 200 with the token |
//! | `GET /app-error` | `session.get::<u64>("visits")`, with `?` into the **app's own error type**: a type the test defines, with `From<session_core::Error>` and the framework's error-response trait answering 418 | 200, or that error |
//! | `GET /swallow` | `session.insert("swallowed", &1)`, ignoring any error | 200 |
//! | `GET /fail-500` | `session.insert("visits", &999)`, then fails | 500 |
//!
//! Session errors in the other handlers go through the adapter's own error
//! type (axum's `SessionError`) with `?`. The bodies of the 204, 303, 418 and
//! 500 responses do not matter.
//!
//! # The managers
//!
//! The kit builds each scenario's [`SessionManager`] itself, on a
//! [`CountingStore`] over a [`MemoryStore`] (to count the
//! store calls a request makes), a [`FailingStore`], or a [`GatedStore`] (to
//! hold 20 requests at their load). Settings differ from the defaults, so an
//! adapter that hard-codes a default is caught:
//!
//! - cookie name [`COOKIE_NAME`] (`kit_session`);
//! - login URL [`LOGIN_URL`] (`/sign-in`): an anonymous `GET /user` goes to
//!   `/sign-in?next=%2Fuser`;
//! - user key [`USER_KEY`] (`kit_user`);
//! - absolute timeout [`ABSOLUTE_TIMEOUT`] (one hour), so a new cookie's
//!   `Max-Age` is 3600 or just under;
//! - `Secure` off, except in the scenarios that check it.
//!
//! # Running it
//!
//! The kit spawns no task of its own, since a test app may be `!Send`
//! (actix-web's are): concurrent requests run in the caller's task with
//! [`join_all`]. It needs a tokio runtime with
//! the time driver (`#[tokio::test]`, `#[actix_web::test]`) for its guard
//! against hangs: a request that never answers, or a scenario that waits for
//! requests that never come, fails after ten seconds instead of blocking
//! forever.
//!
//! # Example: a reference adapter
//!
//! The smallest adapter there is: the core's two calls around a `match` on
//! the route. It passes the kit, and shows what every adapter does.
//!
//! ```
//! use session_core::adapter_kit::{self, TestApp, TestRequest, TestResponse};
//! use session_core::{Error, Session, SessionManager};
//!
//! struct Reference(SessionManager);
//!
//! #[session_core::async_trait(?Send)]
//! impl TestApp for Reference {
//!     async fn send(&self, request: TestRequest) -> TestResponse {
//!         // 1. The request arrives: its `Cookie` headers start the session.
//!         let session = self.0.start(request.cookie.as_deref().map(str::as_bytes));
//!         // 2. The handler uses it (errors become some response of the app's).
//!         let mut response = route(&session, &request).await.unwrap_or_else(|_| reply(500, ""));
//!         // 3. The response leaves: the core's error reply replaces it, and
//!         //    the core's headers are added to whichever goes out.
//!         let end = self.0.finish(&session, response.status).await;
//!         if let Some(error) = end.error_reply() {
//!             response = reply(error.status(), "");
//!             response.headers.push(("content-type".into(), error.content_type().into()));
//!             response.body = error.body().to_vec();
//!         }
//!         let headers = end.headers().map(|(name, value)| (name.to_owned(), value.into_owned()));
//!         response.headers.extend(headers);
//!         response
//!     }
//! }
//!
//! fn reply(status: u16, body: &str) -> TestResponse {
//!     TestResponse { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
//! }
//!
//! /// The app's own error type, for `/app-error`.
//! struct Teapot;
//!
//! impl From<Error> for Teapot {
//!     fn from(_: Error) -> Self {
//!         Teapot
//!     }
//! }
//!
//! async fn visits(session: &Session) -> Result<Option<u64>, Teapot> {
//!     Ok(session.get::<u64>("visits").await?)
//! }
//!
//! async fn route(session: &Session, request: &TestRequest) -> Result<TestResponse, Error> {
//!     let path = request.path.split('?').next().unwrap_or_default();
//!     Ok(match (request.method, path) {
//!         ("GET", "/untouched") => reply(200, "ok"),
//!         ("GET", "/read") => match session.get::<u64>("visits").await? {
//!             Some(visits) => reply(200, &visits.to_string()),
//!             None => reply(200, "none"),
//!         },
//!         ("GET", "/write") => {
//!             let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
//!             session.insert("visits", &visits).await?;
//!             reply(200, &visits.to_string())
//!         }
//!         ("PUT", path) if path.starts_with("/keys/") => {
//!             session.insert(path.trim_start_matches("/keys/"), "1").await?;
//!             reply(204, "")
//!         }
//!         ("GET", "/keys") => reply(200, &session.keys().await?.join(",")),
//!         ("POST", "/login") => {
//!             session.login("alice").await?;
//!             reply(204, "")
//!         }
//!         ("POST", "/logout") => {
//!             session.logout().await?;
//!             reply(204, "")
//!         }
//!         ("GET", "/user") => match session.current_user::<String>().await? {
//!             Some(name) => reply(200, &name),
//!             None => {
//!                 let mut redirect = reply(303, "");
//!                 let location = session.login_redirect(&request.path);
//!                 redirect.headers.push(("location".into(), location));
//!                 redirect
//!             }
//!         },
//!         ("GET", "/maybe-user") => {
//!             let user = session.current_user::<String>().await?;
//!             reply(200, user.as_deref().unwrap_or("anonymous"))
//!         }
//!         ("GET", "/csrf") => reply(200, &session.csrf_token().await?),
//!         ("GET", "/app-error") => match visits(session).await {
//!             Ok(_) => reply(200, "ok"),
//!             Err(Teapot) => reply(418, "teapot"),
//!         },
//!         ("GET", "/swallow") => {
//!             let _ = session.insert("swallowed", &1).await;
//!             reply(200, "ok")
//!         }
//!         ("GET", "/fail-500") => {
//!             session.insert("visits", &999).await?;
//!             reply(500, "failed")
//!         }
//!         _ => reply(404, ""),
//!     })
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! adapter_kit::run(|manager| async move { Reference(manager) }).await;
//! # }
//! ```

use std::future::Future;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::{join, join_all};

use crate::cookie::SameSite;
use crate::error::ErrorKind;
use crate::keys::KeyRing;
use crate::lifecycle::ErrorReply;
use crate::login::login_redirect;
use crate::manager::{SessionManager, SessionManagerBuilder};
use crate::memory::MemoryStore;
use crate::store::{IntoStore, Store};
use crate::test_stores::{
    CountingStore, FAILURE_MESSAGE, FailingStore, FailureKind, GatedStore, StoreOp,
};

/// The session cookie's name in every manager the kit builds.
pub const COOKIE_NAME: &str = "kit_session";
/// The login URL of every manager the kit builds.
pub const LOGIN_URL: &str = "/sign-in";
/// The session key of the logged-in user in every manager the kit builds.
pub const USER_KEY: &str = "kit_user";
/// The user `POST /login` logs in.
pub const USER: &str = "alice";
/// The absolute timeout of every manager the kit builds: a new cookie's
/// `Max-Age`.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(3600);

/// How many requests change one session at once.
const CONCURRENT_REQUESTS: usize = 20;
/// How long the kit waits for something that should take milliseconds.
const HANG_GUARD: Duration = Duration::from_secs(10);

/// One request as the kit sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRequest {
    /// `GET`, `PUT` or `POST`.
    pub method: &'static str,
    /// The path and query, e.g. `/user?from=kit`.
    pub path: String,
    /// The value of the request's one `Cookie` header, if any: usually the
    /// `name=value` pair a response set, sometimes garbage.
    pub cookie: Option<String>,
}

/// One response as the adapter hands it back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TestResponse {
    /// The status code.
    pub status: u16,
    /// Every header, names in lowercase, in any order; a name may repeat
    /// (several `set-cookie`).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl TestResponse {
    /// The first value of the header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every value of the header `name` (any case), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.headers
            .iter()
            .filter(move |(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An adapter's test app: the routes in the [module docs](self) behind the
/// adapter's middleware, on the manager the kit gave it.
///
/// Implement it with `#[session_core::async_trait(?Send)]`: the futures need
/// not be `Send`.
#[async_trait(?Send)]
pub trait TestApp {
    /// Sends `request` through the middleware to the app and answers the
    /// response, body read in full.
    async fn send(&self, request: TestRequest) -> TestResponse;
}

/// Runs every scenario; `make_app` builds the adapter's test app (the routes
/// in the module docs, behind its middleware) on the given manager.
pub async fn run<A: TestApp, F: Future<Output = A>>(make_app: impl Fn(SessionManager) -> F) {
    new_session_cookie(&make_app).await;
    untouched_session_costs_nothing(&make_app).await;
    read_sets_no_cookie(&make_app).await;
    changed_session_is_saved(&make_app).await;
    login_rotates_the_id(&make_app).await;
    logout_removes_the_session(&make_app).await;
    unavailable_store_at_load(&make_app).await;
    unavailable_store_at_save(&make_app).await;
    custom_error_reply(&make_app).await;
    app_error_type_gets_the_error_reply(&make_app).await;
    swallowed_error_gets_the_error_reply(&make_app).await;
    server_error_saves_nothing(&make_app).await;
    login_redirect_for_anonymous_users(&make_app).await;
    optional_user(&make_app).await;
    csrf_token(&make_app).await;
    garbage_cookies_are_no_session(&make_app).await;
    concurrent_requests_all_persist(&make_app).await;
}

// --- The scenarios ----------------------------------------------------------

/// A new session's `Set-Cookie` is exactly the core's (`Path=/`, `Max-Age`
/// the time left until the absolute timeout, `HttpOnly`, `SameSite=Lax`, and
/// `Secure` when configured) with `Cache-Control: no-store`, and costs one
/// store call.
pub async fn new_session_cookie<A: TestApp, F: Future<Output = A>>(
    make_app: impl Fn(SessionManager) -> F,
) {
    for attributes in [PLAIN, SECURE] {
        let (client, store) = on_counting_store(&make_app, &attributes).await;
        client.new_session(&attributes).await;
        assert_eq!(
            (store.counts().of(StoreOp::Create), store.calls()),
            (1, 1),
            "GET /write without a cookie: the new session is written with one create, nothing else"
        );
    }
}

/// A handler that never touches its session costs no store call and sets no
/// cookie, with or without a valid cookie.
pub async fn untouched_session_costs_nothing<A: TestApp, F: Future<Output = A>>(
    make_app: impl Fn(SessionManager) -> F,
) {
    let (client, store) = on_counting_store(&make_app, &PLAIN).await;
    let untouched = client.get("/untouched", None).await;
    untouched.status(200).body("ok").no_cookie().cacheable();
    assert_eq!(store.calls(), 0, "{}: a store call", untouched.request);

    let cookie = client.new_session(&PLAIN).await;
    let before = store.calls();
    let untouched = client.get("/untouched", Some(&cookie)).await;
    untouched.status(200).body("ok").no_cookie().cacheable();
    assert_eq!(store.calls(), before, "{}: a store call", untouched.request);
}

/// A request that only reads its session makes exactly one store call (the
/// load) and sets no cookie; a new session that stays empty costs nothing.
pub async fn read_sets_no_cookie<A: TestApp, F: Future<Output = A>>(
    make_app: impl Fn(SessionManager) -> F,
) {
    let (client, store) = on_counting_store(&make_app, &PLAIN).await;
    let empty = client.get("/read", None).await;
    empty.status(200).body("none").no_cookie().cacheable();
    assert_eq!(
        store.calls(),
        0,
        "{}: an empty new session is never written",
        empty.request
    );

    let cookie = client.new_session(&PLAIN).await;
    let before = store.counts();
    let read = client.get("/read", Some(&cookie)).await;
    read.status(200).body("1").no_cookie().cacheable();
    let calls = store.counts() - before;
    assert_eq!(
        (calls.total(), calls.of(StoreOp::LoadAndTouch)),
        (1, 1),
        "{}: a read is one load-and-touch, nothing else ({calls:?})",
        read.request
    );
}

/// A changed session is saved (a load and a save) and reads back changed.
/// Its cookie is not sent again: its value and its `Max-Age` (counting down
/// to the absolute timeout) are what the browser already has.
pub async fn changed_session_is_saved<A: TestApp, F: Future<Output = A>>(
    make_app: impl Fn(SessionManager) -> F,
) {
    let (client, store) = on_counting_store(&make_app, &PLAIN).await;
    let cookie = client.new_session(&PLAIN).await;
    let before = store.counts();
    let write = client.get("/write", Some(&cookie)).await;
    write.status(200).body("2").no_cookie();
    let calls = store.counts() - before;
    assert_eq!(
        (
            calls.of(StoreOp::LoadAndTouch),
            calls.of(StoreOp::Save),
            calls.total()
        ),
        (1, 1, 2),
        "{}: one load and one save ({calls:?})",
        write.request
    );
    client
        .get("/read", Some(&cookie))
        .await
        .status(200)
        .body("2");
}

/// `POST /login` rotates the session ID: a new cookie, the old one no longer
/// reaches the data, the data carries over, and the user is logged in.
pub async fn login_rotates_the_id<A: TestApp, F: Future<Output = A>>(
    make_app: impl Fn(SessionManager) -> F,
) {
    let (client, _) = on_counting_store(&make_app, &PLAIN).await;
    let old = client.new_session(&PLAIN).await;
    let login = client.send("POST", "/login", Some(&old)).await;
    let new = login.status(204).sets_cookie(&PLAIN);
    assert_ne!(
        new, old,
        "{}: the login must rotate the session ID",
        login.request
    );

    client.get("/read", Some(&new)).await.status(200).body("1");
    client.get("/user", Some(&new)).await.status(200).body(USER);
    client
        .get("/read", Some(&old))
        .await
        .status(200)
        .body("none")
        .no_cookie();
    client
        .get("/user", Some(&old))
        .await
        .status(303)
        .no_cookie();
}

/// `POST /logout` deletes the record on the server and expires the cookie
/// with the same `Path`, `Domain`, `Secure` and `SameSite` (a manager with a
/// domain, `Secure` and `SameSite=Strict`), `Max-Age=0` and
/// `Cache-Control: no-store`.
pub async fn logout_removes_the_session<A: TestApp, F: Future<Output = A>>(
    make_app: impl Fn(SessionManager) -> F,
) {
    let (client, store) = on_counting_store(&make_app, &DISTINCT).await;
    let cookie = client.new_session(&DISTINCT).await;
    let cookie = client
        .send("POST", "/login", Some(&cookie))
        .await
        .status(204)
        .sets_cookie(&DISTINCT);
    let before = store.counts();
    let logout = client.send("POST", "/logout", Some(&cookie)).await;
    logout.status(204).removes_cookie(&DISTINCT);
    // The record; what must hold is that no session is left, checked next
    // (the user's index stays, emptied, so that nothing it no longer lists
    // can come back).
    assert!(
        (store.counts() - before).of(StoreOp::Delete) >= 1,
        "{}: the record must be deleted on the server",
        logout.request
    );
    for key in store.written_keys() {
        let left = store
            .inner()
            .load(&key)
            .await
            .expect("the memory store answers");
        assert!(
            left.is_none() || key.contains("user:"),
            "{}: a session record is left in the store",
            logout.request
        );
    }
    client
        .get("/read", Some(&cookie))
        .await
        .status(200)
        .body("none")
        .no_cookie();
    client.get("/user", Some(&cookie)).await.status(303);
}

/// A store that is down when the session loads: the default 503 reply,
/// `text/plain`, nothing about the store in it, no cookie, nothing saved. A
/// route that does not use the session still works.
pub async fn unavailable_store_at_load<A: TestApp, F: Future<Output = A>>(
    make_app: impl Fn(SessionManager) -> F,
) {
    let keys = KeyRing::generate();
    let cookie = valid_cookie(&make_app, &keys).await;
    let store = Arc::new(FailingStore::new());
    let client = Client(make_app(build(builder(Arc::clone(&store), keys, &PLAIN))).await);
    let unavailable = ErrorReply::default_for(ErrorKind::Unavailable);

    let read = client.get("/read", Some(&cookie)).await;
    read.error_reply(&unavailable);
    assert_eq!(
        store.calls(),
        1,
        "{}: one failed load, then nothing",
        read.request
    );
    client
        .get("/untouched", Some(&cookie))
        .await
        .status(200)
        .body("ok");
}

/// A store that goes down between a request's load and its save, or is down
/// when a new session is first saved: the default 503 reply, no cookie, and
/// the session reads back unchanged.
pub async fn unavailable_store_at_save<A: TestApp, F: Future<Output = A>>(
    make_app: impl Fn(SessionManager) -> F,
) {
    let (client, store) = on_counting_store(&make_app, &PLAIN).await;
    let unavailable = ErrorReply::default_for(ErrorKind::Unavailable);
    let cookie = client.new_session(&PLAIN).await;

    store.fail_after(1);
    let before = store.counts();
    let write = client.get("/write", Some(&cookie)).await;
    write.error_reply(&unavailable);
    let calls = store.counts() - before;
    assert_eq!(
        (calls.of(StoreOp::LoadAndTouch), calls.of(StoreOp::Save)),
        (1, 1),
        "{}: the load went through and the save failed ({calls:?})",
        write.request
    );

    store.set_failing(true);
    client.get("/write", None).await.error_reply(&unavailable);
    store.set_failing(false);
    client
        .get("/read", Some(&cookie))
        .await
        .status(200)
        .body("1");
}

/// The replies set with
/// [`SessionManagerBuilder::error_reply`](crate::SessionManagerBuilder::error_reply),
/// for both kinds of failure, are what comes back.
pub async fn custom_error_reply<A: TestApp, F: Future<Output = A>>(
    make_app: impl Fn(SessionManager) -> F,
) {
    let keys = KeyRing::generate();
    let cookie = valid_cookie(&make_app, &keys).await;
    let replies = [
        (
            ErrorKind::Unavailable,
            FailureKind::Unavailable,
            ErrorReply::new(507, "text/html; charset=utf-8", &b"<h1>Back soon</h1>"[..]),
        ),
        (
            ErrorKind::Internal,
            FailureKind::Other,
            ErrorReply::new(502, "application/json", &b"{\"error\":\"internal\"}"[..]),
        ),
    ];
    for (kind, failure, reply) in replies {
        let store = FailingStore::with_kind(failure);
        let manager = build(builder(store, keys.clone(), &PLAIN).error_reply(kind, reply.clone()));
        let client = Client(make_app(manager).await);
        client.get("/read", Some(&cookie)).await.error_reply(&reply);
        client.get("/write", None).await.error_reply(&reply);
    }
}

/// A handler that turns the session's failure into the app's own error type
/// (a 418) gets the configured reply all the same, and nothing is saved.
pub async fn app_error_type_gets_the_error_reply<A: TestApp, F: Future<Output = A>>(
    make_app: impl Fn(SessionManager) -> F,
) {
    let (client, store) = on_counting_store(&make_app, &PLAIN).await;
    client.get("/app-error", None).await.status(200).no_cookie();
    let cookie = client.new_session(&PLAIN).await;
    client
        .get("/app-error", Some(&cookie))
        .await
        .status(200)
        .no_cookie();

    store.set_failing(true);
    let before = store.calls();
    let failed = client.get("/app-error", Some(&cookie)).await;
    failed.error_reply(&ErrorReply::default_for(ErrorKind::Unavailable));
    assert_eq!(
        store.calls() - before,
        1,
        "{}: one failed load, then nothing",
        failed.request
    );
}

/// A handler that ignores the session's failure and answers 200 gets the
/// configured reply all the same: the failure is the session's to report.
pub async fn swallowed_error_gets_the_error_reply<A: TestApp, F: Future<Output = A>>(
    make_app: impl Fn(SessionManager) -> F,
) {
    let (client, store) = on_counting_store(&make_app, &PLAIN).await;
    let unavailable = ErrorReply::default_for(ErrorKind::Unavailable);
    let cookie = client.new_session(&PLAIN).await;

    store.set_failing(true);
    let before = store.calls();
    let swallowed = client.get("/swallow", Some(&cookie)).await;
    swallowed.error_reply(&unavailable);
    assert_eq!(
        store.calls() - before,
        1,
        "{}: one failed load, then nothing",
        swallowed.request
    );
    client.get("/swallow", None).await.error_reply(&unavailable);
}

/// A 5xx response saves nothing: the session reads back unchanged, and a new
/// session is not created.
pub async fn server_error_saves_nothing<A: TestApp, F: Future<Output = A>>(
    make_app: impl Fn(SessionManager) -> F,
) {
    let (client, store) = on_counting_store(&make_app, &PLAIN).await;
    let failed = client.get("/fail-500", None).await;
    failed.status(500).no_cookie();
    assert_eq!(
        store.calls(),
        0,
        "{}: a new session was saved",
        failed.request
    );

    let cookie = client.new_session(&PLAIN).await;
    let before = store.counts();
    let failed = client.get("/fail-500", Some(&cookie)).await;
    failed.status(500).no_cookie();
    let calls = store.counts() - before;
    assert_eq!(
        calls.of(StoreOp::Save) + calls.of(StoreOp::Create),
        0,
        "{}: the session was saved ({calls:?})",
        failed.request
    );
    client
        .get("/read", Some(&cookie))
        .await
        .status(200)
        .body("1");
}

/// An anonymous visitor of a login-required page is redirected to the login
/// URL with the path and query as `next`, and no session is created; a
/// logged-in user gets the page, marked `Cache-Control: no-store`.
pub async fn login_redirect_for_anonymous_users<A: TestApp, F: Future<Output = A>>(
    make_app: impl Fn(SessionManager) -> F,
) {
    let (client, store) = on_counting_store(&make_app, &PLAIN).await;
    assert_eq!(login_redirect(LOGIN_URL, "/user"), "/sign-in?next=%2Fuser");
    for path in ["/user", "/user?from=kit&q=a%20b"] {
        client
            .get(path, None)
            .await
            .redirects_to_login(path)
            .no_cookie();
    }
    assert_eq!(store.calls(), 0, "GET /user without a cookie: a store call");

    let cookie = client.new_session(&PLAIN).await;
    client
        .get("/user", Some(&cookie))
        .await
        .redirects_to_login("/user")
        .no_cookie();
    let cookie = client
        .send("POST", "/login", Some(&cookie))
        .await
        .status(204)
        .sets_cookie(&PLAIN);
    let user = client.get("/user", Some(&cookie)).await;
    user.status(200).body(USER).no_cookie().no_store();
}

/// The optional form of the login-required extractor: `anonymous` without a
/// login, the user (marked `Cache-Control: no-store`) with one.
pub async fn optional_user<A: TestApp, F: Future<Output = A>>(
    make_app: impl Fn(SessionManager) -> F,
) {
    let (client, _) = on_counting_store(&make_app, &PLAIN).await;
    client
        .get("/maybe-user", None)
        .await
        .status(200)
        .body("anonymous")
        .no_cookie();
    let cookie = client.new_session(&PLAIN).await;
    let anonymous = client.get("/maybe-user", Some(&cookie)).await;
    anonymous.status(200).body("anonymous").no_cookie();

    let login = client.send("POST", "/login", None).await;
    let cookie = login.status(204).sets_cookie(&PLAIN);
    let user = client.get("/maybe-user", Some(&cookie)).await;
    user.status(200).body(USER).no_cookie().no_store();
}

/// The CSRF token gives a new visitor a session cookie (exactly the core's,
/// with a `Max-Age` of the core's choosing) and stays the same on the next
/// request; every response that shows it is marked `Cache-Control:
/// no-store`, also when no cookie is set.
pub async fn csrf_token<A: TestApp, F: Future<Output = A>>(make_app: impl Fn(SessionManager) -> F) {
    let (client, _) = on_counting_store(&make_app, &PLAIN).await;
    let first = client.get("/csrf", None).await;
    let cookie = first
        .status(200)
        .sets_cookie_with(&PLAIN, 1..=ABSOLUTE_TIMEOUT.as_secs());
    let token = first.response.text();
    assert!(
        token.len() == 43
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)),
        "{}: not the core's token: {token:?}",
        first.request
    );
    let again = client.get("/csrf", Some(&cookie)).await;
    again.status(200).body(&token).no_cookie().no_store();
}

/// Cookies that do not verify (malformed, truncated, signed by other keys)
/// count as no session: no error, no store call, and a write gets a new ID.
pub async fn garbage_cookies_are_no_session<A: TestApp, F: Future<Output = A>>(
    make_app: impl Fn(SessionManager) -> F,
) {
    let foreign = valid_cookie(&make_app, &KeyRing::generate()).await;
    let (client, store) = on_counting_store(&make_app, &PLAIN).await;
    let garbage = [
        format!("{COOKIE_NAME}=garbage"),
        format!("{COOKIE_NAME}="),
        format!("{COOKIE_NAME}=a.b.c"),
        format!("{COOKIE_NAME}=%00%ff; other=1"),
        format!("{COOKIE_NAME}={}", "A".repeat(86)),
        format!("other=1; {COOKIE_NAME}={}", "x".repeat(4000)),
        foreign,
    ];
    for cookie in &garbage {
        let read = client.get("/read", Some(cookie)).await;
        read.status(200).body("none").no_cookie();
        let write = client.get("/write", Some(cookie)).await;
        let new = write.status(200).body("1").sets_cookie(&PLAIN);
        assert!(
            !cookie.contains(&new),
            "{}: a cookie that does not verify was adopted",
            write.request
        );
    }
    assert_eq!(
        store.counts().of(StoreOp::LoadAndTouch),
        0,
        "a cookie that does not verify must cost no store call"
    );
}

/// Twenty requests change one session at once: the kit holds their loads at
/// a gate until all twenty are in flight (so an adapter that serializes
/// requests fails here), then lets them go. Every change persists, each
/// request answers 204, and the session keeps its ID.
pub async fn concurrent_requests_all_persist<A: TestApp, F: Future<Output = A>>(
    make_app: impl Fn(SessionManager) -> F,
) {
    let gate = Arc::new(GatedStore::new(
        CountingStore::new(),
        [StoreOp::LoadAndTouch],
    ));
    let manager = build(builder(Arc::clone(&gate), KeyRing::generate(), &PLAIN));
    let client = Client(make_app(manager).await);
    let cookie = client.new_session(&PLAIN).await;

    let keys: Vec<String> = (0..CONCURRENT_REQUESTS)
        .map(|i| format!("k{i:02}"))
        .collect();
    let paths: Vec<String> = keys.iter().map(|key| format!("/keys/{key}")).collect();
    let requests = join_all(
        paths
            .iter()
            .map(|path| client.send("PUT", path, Some(&cookie))),
    );
    let all_in_flight = async {
        within(
            "all the concurrent requests loading the session at once",
            gate.until_held(CONCURRENT_REQUESTS),
        )
        .await;
        gate.open();
    };
    let (replies, ()) = join(requests, all_in_flight).await;
    for reply in &replies {
        reply.status(204).no_cookie();
    }

    let mut expected = keys;
    expected.push("visits".to_owned());
    client
        .get("/keys", Some(&cookie))
        .await
        .status(200)
        .body(&expected.join(","));
}

// --- Managers ---------------------------------------------------------------

/// The cookie attributes a scenario's manager sets, and so expects.
#[derive(Debug, Clone, Copy)]
struct Attributes {
    domain: Option<&'static str>,
    secure: bool,
    same_site: SameSite,
}

/// Plain-HTTP development settings: what most scenarios use.
const PLAIN: Attributes = Attributes {
    domain: None,
    secure: false,
    same_site: SameSite::Lax,
};

const SECURE: Attributes = Attributes {
    secure: true,
    ..PLAIN
};

/// Every attribute a removal cookie must repeat differs from the default.
const DISTINCT: Attributes = Attributes {
    domain: Some("example.test"),
    secure: true,
    same_site: SameSite::Strict,
};

impl Attributes {
    /// The exact `Set-Cookie` value the core renders for `value` with
    /// `Max-Age` `max_age` (0 for a removal).
    fn header(&self, value: &str, max_age: u64) -> String {
        let mut header = format!("{COOKIE_NAME}={value}; Path=/");
        if let Some(domain) = self.domain {
            header.push_str("; Domain=");
            header.push_str(domain);
        }
        header.push_str(&format!("; Max-Age={max_age}"));
        if max_age == 0 {
            header.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        }
        if self.secure {
            header.push_str("; Secure");
        }
        header.push_str(match self.same_site {
            SameSite::Strict => "; HttpOnly; SameSite=Strict",
            SameSite::Lax => "; HttpOnly; SameSite=Lax",
            SameSite::None => "; HttpOnly; SameSite=None",
        });
        header
    }
}

/// The kit's manager settings (see the module docs) on `store` and `keys`.
fn builder(store: impl IntoStore, keys: KeyRing, attributes: &Attributes) -> SessionManagerBuilder {
    SessionManager::builder(store, keys)
        .cookie_name(COOKIE_NAME)
        .login_url(LOGIN_URL)
        .user_key(USER_KEY)
        .absolute_timeout(ABSOLUTE_TIMEOUT)
        .cookie_domain(attributes.domain)
        .secure(attributes.secure)
        .same_site(attributes.same_site)
}

fn build(builder: SessionManagerBuilder) -> SessionManager {
    builder
        .build()
        .expect("the kit's manager configuration is valid")
}

/// The app on a fresh [`CountingStore`], and the store.
async fn on_counting_store<A: TestApp, F: Future<Output = A>>(
    make_app: &impl Fn(SessionManager) -> F,
    attributes: &Attributes,
) -> (Client<A>, Arc<CountingStore>) {
    let store = Arc::new(CountingStore::new());
    let manager = build(builder(Arc::clone(&store), KeyRing::generate(), attributes));
    (Client(make_app(manager).await), store)
}

/// A valid cookie for a session under `keys`, made by an app on a store of
/// its own: a manager on the same keys accepts it, whatever its store.
async fn valid_cookie<A: TestApp, F: Future<Output = A>>(
    make_app: &impl Fn(SessionManager) -> F,
    keys: &KeyRing,
) -> String {
    let manager = build(builder(MemoryStore::new(), keys.clone(), &PLAIN));
    Client(make_app(manager).await).new_session(&PLAIN).await
}

/// Fails the scenario if `future` takes longer than [`HANG_GUARD`].
async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(HANG_GUARD, future).await {
        Ok(output) => output,
        Err(_) => panic!("gave up waiting for {what} after {HANG_GUARD:?}"),
    }
}

// --- The client and its checks ----------------------------------------------

/// Sends the kit's requests to the app under test.
struct Client<A>(A);

impl<A: TestApp> Client<A> {
    async fn send(&self, method: &'static str, path: &str, cookie: Option<&str>) -> Reply {
        let request = match cookie {
            Some(cookie) if cookie.len() <= 60 => format!("{method} {path} with cookie {cookie:?}"),
            Some(cookie) => format!("{method} {path} with cookie {:?}…", &cookie[..60]),
            None => format!("{method} {path} without a cookie"),
        };
        let sent = TestRequest {
            method,
            path: path.to_owned(),
            cookie: cookie.map(str::to_owned),
        };
        Reply {
            response: within(&request, self.0.send(sent)).await,
            request,
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        self.send("GET", path, cookie).await
    }

    /// Starts a session holding `visits` = 1; answers its `Cookie` pair.
    async fn new_session(&self, attributes: &Attributes) -> String {
        self.get("/write", None)
            .await
            .status(200)
            .body("1")
            .sets_cookie(attributes)
    }
}

/// A response, with the request that got it, so every check names it.
struct Reply {
    request: String,
    response: TestResponse,
}

impl Reply {
    fn status(&self, expected: u16) -> &Self {
        assert_eq!(
            self.response.status,
            expected,
            "{}: status (body {:?})",
            self.request,
            self.response.text()
        );
        self
    }

    fn body(&self, expected: &str) -> &Self {
        assert_eq!(self.response.text(), expected, "{}: body", self.request);
        self
    }

    fn set_cookies(&self) -> Vec<&str> {
        self.response.header_values("set-cookie").collect()
    }

    fn no_cookie(&self) -> &Self {
        assert_eq!(
            self.set_cookies(),
            Vec::<&str>::new(),
            "{}: no Set-Cookie expected",
            self.request
        );
        self
    }

    fn no_store(&self) -> &Self {
        assert_eq!(
            self.response
                .header_values("cache-control")
                .collect::<Vec<_>>(),
            ["no-store"],
            "{}: Cache-Control must be no-store",
            self.request
        );
        self
    }

    /// No `Cache-Control` at all: the session added nothing private.
    fn cacheable(&self) -> &Self {
        assert_eq!(
            self.response.header("cache-control"),
            None,
            "{}: nothing private, yet Cache-Control",
            self.request
        );
        self
    }

    /// The single `Set-Cookie`.
    fn only_cookie(&self) -> &str {
        match self.set_cookies().as_slice() {
            [cookie] => cookie,
            other => panic!(
                "{}: exactly one Set-Cookie expected, got {other:?}",
                self.request
            ),
        }
    }

    /// Checks that the response sets the session cookie of a stored session,
    /// exactly as the core renders it with `attributes` (`Max-Age` the time
    /// left until the absolute timeout), with `Cache-Control: no-store`;
    /// answers the `name=value` pair to send back.
    fn sets_cookie(&self, attributes: &Attributes) -> String {
        let full = ABSOLUTE_TIMEOUT.as_secs();
        self.sets_cookie_with(attributes, full - 5..=full)
    }

    /// [`sets_cookie`](Reply::sets_cookie) with `Max-Age` anywhere in
    /// `max_age`: how long the core lets a cookie live is the core's choice
    /// (a session not stored yet may get less than the absolute timeout).
    fn sets_cookie_with(&self, attributes: &Attributes, max_age: RangeInclusive<u64>) -> String {
        let cookie = self.only_cookie();
        let request = &self.request;
        let pair = cookie.split(';').next().unwrap_or_default();
        let value = pair
            .strip_prefix(COOKIE_NAME)
            .and_then(|rest| rest.strip_prefix('='))
            .unwrap_or_else(|| panic!("{request}: not the {COOKIE_NAME} cookie: {cookie}"));
        assert!(
            value.len() > 40,
            "{request}: not a signed session ID: {cookie}"
        );
        let age: u64 = cookie
            .split("; ")
            .find_map(|attribute| attribute.strip_prefix("Max-Age="))
            .and_then(|age| age.parse().ok())
            .unwrap_or_else(|| panic!("{request}: no Max-Age: {cookie}"));
        assert!(
            max_age.contains(&age),
            "{request}: Max-Age must be in {max_age:?} s: {cookie}"
        );
        assert_eq!(
            cookie,
            attributes.header(value, age),
            "{request}: the Set-Cookie must be the core's, unchanged"
        );
        self.no_store();
        pair.to_owned()
    }

    /// Checks that the response expires the session cookie with the same
    /// attributes, with `Cache-Control: no-store`.
    fn removes_cookie(&self, attributes: &Attributes) -> &Self {
        assert_eq!(
            self.only_cookie(),
            attributes.header("", 0),
            "{}: the removal must repeat the cookie's attributes",
            self.request
        );
        self.no_store()
    }

    /// Checks that the response is exactly `reply`, with no cookie and
    /// nothing about the store's failure in it.
    fn error_reply(&self, reply: &ErrorReply) -> &Self {
        let request = &self.request;
        assert_eq!(
            self.response.status,
            reply.status(),
            "{request}: the session failed, so the manager's error reply must replace the handler's response (body {:?})",
            self.response.text()
        );
        assert_eq!(
            self.response
                .header_values("content-type")
                .collect::<Vec<_>>(),
            [reply.content_type()],
            "{request}: Content-Type of the error reply"
        );
        let body = self.response.text();
        assert!(
            !body.contains(FAILURE_MESSAGE) && !body.contains("192.0.2.7"),
            "{request}: the body leaks the store's error: {body:?}"
        );
        assert_eq!(
            self.response.body,
            reply.body(),
            "{request}: the error reply's body"
        );
        self.no_cookie()
    }

    /// Checks the redirect of an anonymous visitor who wanted `wanted`.
    fn redirects_to_login(&self, wanted: &str) -> &Self {
        self.status(303);
        assert_eq!(
            self.response.header_values("location").collect::<Vec<_>>(),
            [login_redirect(LOGIN_URL, wanted)],
            "{}: Location must be the login URL with the path and query as next",
            self.request
        );
        self
    }
}
