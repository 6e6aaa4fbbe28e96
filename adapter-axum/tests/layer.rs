//! The layer in process: every request goes through `tower::ServiceExt::oneshot`
//! on a router with a `MemoryStore` (or a store that is down).

use std::sync::Arc;
use std::time::Duration;

use adapter_axum::{CurrentUser, Session, SessionError, SessionLayer};
use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use session_core::{
    KeyRing, Loaded, MemoryStore, SameSite, SaveOutcome, SessionManager, Store, StoreError, Version,
};
use tower::ServiceExt as _;

const ABSOLUTE: Duration = Duration::from_secs(3600);

/// A store whose every call fails as if memcached were down.
#[derive(Debug)]
struct DownStore;

fn down() -> StoreError {
    StoreError::unavailable("connection refused by 10.0.0.7:11211")
}

#[async_trait]
impl Store for DownStore {
    async fn load(&self, _key: &str) -> Result<Option<Loaded>, StoreError> {
        Err(down())
    }
    async fn create(
        &self,
        _key: &str,
        _value: &[u8],
        _ttl: Duration,
    ) -> Result<Option<Version>, StoreError> {
        Err(down())
    }
    async fn save(
        &self,
        _key: &str,
        _value: &[u8],
        _ttl: Duration,
        _expected: Option<Version>,
    ) -> Result<SaveOutcome, StoreError> {
        Err(down())
    }
    async fn touch(&self, _key: &str, _ttl: Duration) -> Result<bool, StoreError> {
        Err(down())
    }
    async fn delete(&self, _key: &str) -> Result<bool, StoreError> {
        Err(down())
    }
    fn supports_compare_and_set(&self) -> bool {
        true
    }
}

fn manager_on(store: Arc<dyn Store>, keys: KeyRing) -> SessionManager {
    SessionManager::builder(store, keys)
        .secure(false)
        .absolute_timeout(ABSOLUTE)
        .build()
        .expect("valid configuration")
}

fn manager() -> SessionManager {
    manager_on(Arc::new(MemoryStore::new()), KeyRing::generate())
}

async fn visits(session: Session) -> Result<String, SessionError> {
    let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
    session.insert("visits", &visits).await?;
    Ok(visits.to_string())
}

async fn read_visits(session: Session) -> Result<String, SessionError> {
    Ok(session.get::<u64>("visits").await?.unwrap_or(0).to_string())
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

async fn hello(CurrentUser(name): CurrentUser) -> String {
    format!("Hello, {name}")
}

async fn put_key(session: Session, Path(key): Path<String>) -> Result<StatusCode, SessionError> {
    session.insert(&key, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn keys(session: Session) -> Result<String, SessionError> {
    Ok(session.keys().await?.join(","))
}

fn routes() -> Router {
    Router::new()
        .route("/visits", get(visits))
        .route("/read", get(read_visits))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/hello", get(hello))
        .route("/keys/{key}", put(put_key))
        .route("/keys", get(keys))
        .route("/static", get(|| async { "no session here" }))
}

fn app(manager: SessionManager) -> Router {
    routes().layer(SessionLayer::new(manager))
}

async fn send(app: &Router, method: &str, uri: &str, cookie: Option<&str>) -> Response<Body> {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    app.clone()
        .oneshot(request.body(Body::empty()).expect("valid request"))
        .await
        .expect("infallible")
}

async fn body_text(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("readable body");
    String::from_utf8(bytes.to_vec()).expect("UTF-8 body")
}

/// The single `Set-Cookie` header of a response, if any.
fn set_cookie(response: &Response<Body>) -> Option<String> {
    let mut values = response.headers().get_all(SET_COOKIE).iter();
    let first = values.next()?.to_str().expect("ASCII header").to_owned();
    assert!(values.next().is_none(), "at most one Set-Cookie");
    Some(first)
}

/// `name=value` from a `Set-Cookie` value, ready for a `Cookie` header.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .expect("split yields one item")
        .to_owned()
}

fn assert_no_store(response: &Response<Body>) {
    assert_eq!(
        response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
}

#[tokio::test]
async fn a_new_session_sets_a_cookie_with_exact_attributes() {
    let app = app(manager());
    let response = send(&app, "GET", "/visits", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_no_store(&response);
    let cookie = set_cookie(&response).expect("a new session sets the cookie");
    let attributes: Vec<&str> = cookie.split("; ").collect();
    let (name, value) = attributes[0].split_once('=').expect("name=value");
    assert_eq!(name, session_core::DEFAULT_COOKIE_NAME);
    assert!(value.len() > 40, "signed ID, got {value:?}");
    let max_age: u64 = attributes[2]
        .strip_prefix("Max-Age=")
        .and_then(|age| age.parse().ok())
        .expect("Max-Age third");
    assert!(
        (ABSOLUTE.as_secs() - 2..=ABSOLUTE.as_secs()).contains(&max_age),
        "Max-Age is the time left until the absolute timeout, got {max_age}"
    );
    assert_eq!(
        [attributes[1], attributes[3], attributes[4]],
        ["Path=/", "HttpOnly", "SameSite=Lax"]
    );
    assert_eq!(
        attributes.len(),
        5,
        "no Secure without secure(true): {cookie}"
    );
    assert_eq!(body_text(response).await, "1");
}

#[tokio::test]
async fn secure_cookies_carry_secure() {
    let manager = SessionManager::builder(Arc::new(MemoryStore::new()), KeyRing::generate())
        .build()
        .expect("valid configuration");
    let response = send(&app(manager), "GET", "/visits", None).await;
    let cookie = set_cookie(&response).expect("cookie");
    assert!(
        cookie.ends_with("; Secure; HttpOnly; SameSite=Lax"),
        "{cookie}"
    );
}

#[tokio::test]
async fn only_reading_or_ignoring_a_session_sets_no_cookie() {
    let app = app(manager());
    let first = send(&app, "GET", "/visits", None).await;
    let cookie = cookie_pair(&set_cookie(&first).expect("cookie"));

    let read = send(&app, "GET", "/read", Some(&cookie)).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(set_cookie(&read), None);
    assert!(read.headers().get(CACHE_CONTROL).is_none());
    assert_eq!(body_text(read).await, "1");

    let untouched = send(&app, "GET", "/static", Some(&cookie)).await;
    assert_eq!(untouched.status(), StatusCode::OK);
    assert_eq!(set_cookie(&untouched), None);

    let counted = send(&app, "GET", "/visits", Some(&cookie)).await;
    let resent = set_cookie(&counted).expect("a changed session re-sends its cookie");
    assert_eq!(
        cookie_pair(&resent),
        cookie,
        "a change keeps the session's ID"
    );
    assert_eq!(
        counted.headers().get(CACHE_CONTROL).map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
    assert_eq!(body_text(counted).await, "2");
}

#[tokio::test]
async fn a_new_session_left_empty_sets_no_cookie() {
    let app = app(manager());
    let response = send(&app, "GET", "/read", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(set_cookie(&response), None);
}

#[tokio::test]
async fn garbage_cookies_count_as_no_session() {
    let app = app(manager());
    for garbage in [
        "session=garbage",
        "session=",
        "session=a.b.c",
        "session=%00%ff; other=1",
        "session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let response = send(&app, "GET", "/read", Some(garbage)).await;
        assert_eq!(response.status(), StatusCode::OK, "{garbage}");
        assert_eq!(set_cookie(&response), None, "{garbage}");
        assert_eq!(body_text(response).await, "0", "{garbage}");
    }
}

#[tokio::test]
async fn login_rotates_the_id_and_keeps_the_data() {
    let app = app(manager());
    let first = send(&app, "GET", "/visits", None).await;
    let old = cookie_pair(&set_cookie(&first).expect("cookie"));

    let login = send(&app, "POST", "/login", Some(&old)).await;
    assert_eq!(login.status(), StatusCode::NO_CONTENT);
    assert_no_store(&login);
    let new = cookie_pair(&set_cookie(&login).expect("rotation sends the new cookie"));
    assert_ne!(new, old);

    let with_new = send(&app, "GET", "/read", Some(&new)).await;
    assert_eq!(body_text(with_new).await, "1", "data carried over");
    let hello = send(&app, "GET", "/hello", Some(&new)).await;
    assert_eq!(body_text(hello).await, "Hello, alice");

    let with_old = send(&app, "GET", "/read", Some(&old)).await;
    assert_eq!(
        body_text(with_old).await,
        "0",
        "the old ID no longer reaches the data"
    );
}

#[tokio::test]
async fn destroy_expires_the_cookie_with_the_same_attributes() {
    let manager = SessionManager::builder(Arc::new(MemoryStore::new()), KeyRing::generate())
        .cookie_path("/")
        .cookie_domain("example.com")
        .same_site(SameSite::Strict)
        .build()
        .expect("valid configuration");
    let app = app(manager);
    let first = send(&app, "GET", "/visits", None).await;
    let set = set_cookie(&first).expect("cookie");
    assert!(
        set.contains("; Path=/; Domain=example.com; Max-Age=")
            && set.ends_with("; Secure; HttpOnly; SameSite=Strict"),
        "{set}"
    );
    let cookie = cookie_pair(&set);

    let logout = send(&app, "POST", "/logout", Some(&cookie)).await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_no_store(&logout);
    assert_eq!(
        set_cookie(&logout).as_deref(),
        Some(
            "session=; Path=/; Domain=example.com; Max-Age=0; \
             Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Strict"
        )
    );

    let after = send(&app, "GET", "/read", Some(&cookie)).await;
    assert_eq!(
        body_text(after).await,
        "0",
        "the record is gone from the store"
    );
}

#[tokio::test]
async fn an_unavailable_store_answers_503_without_internals() {
    let keys = KeyRing::generate();
    // A valid cookie, minted on a working store with the same keys.
    let working = app(manager_on(Arc::new(MemoryStore::new()), keys.clone()));
    let first = send(&working, "GET", "/visits", None).await;
    let cookie = cookie_pair(&set_cookie(&first).expect("cookie"));

    let broken = app(manager_on(Arc::new(DownStore), keys));
    // Loading fails inside the handler; saving a new session fails after it.
    for (uri, cookie) in [("/read", Some(cookie.as_str())), ("/visits", None)] {
        let response = send(&broken, "GET", uri, cookie).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        assert_eq!(set_cookie(&response), None, "{uri}");
        let content_type = response.headers().get(CONTENT_TYPE).cloned();
        assert!(
            content_type.is_some_and(|t| t.as_bytes().starts_with(b"text/plain")),
            "{uri}"
        );
        let body = body_text(response).await;
        assert_eq!(body, "service unavailable\n", "{uri}");
    }

    let untouched = send(&broken, "GET", "/static", Some(&cookie)).await;
    assert_eq!(
        untouched.status(),
        StatusCode::OK,
        "a route without a session needs no store"
    );
}

#[tokio::test]
async fn the_error_response_can_be_customised() {
    let keys = KeyRing::generate();
    let working = app(manager_on(Arc::new(MemoryStore::new()), keys.clone()));
    let first = send(&working, "GET", "/visits", None).await;
    let cookie = cookie_pair(&set_cookie(&first).expect("cookie"));

    let broken = routes().layer(
        SessionLayer::new(manager_on(Arc::new(DownStore), keys)).error_response(|error| {
            let status = if error.is_unavailable() {
                StatusCode::IM_A_TEAPOT
            } else {
                StatusCode::BAD_GATEWAY
            };
            (status, "custom").into_response()
        }),
    );
    for (uri, cookie) in [("/read", Some(cookie.as_str())), ("/visits", None)] {
        let response = send(&broken, "GET", uri, cookie).await;
        assert_eq!(response.status(), StatusCode::IM_A_TEAPOT, "{uri}");
        assert_eq!(body_text(response).await, "custom", "{uri}");
    }
}

#[tokio::test]
async fn the_extractor_without_the_layer_names_it() {
    let response = send(&routes(), "GET", "/visits", None).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body_text(response).await.contains("SessionLayer"));
}

#[tokio::test]
async fn anonymous_users_are_sent_to_the_login_url_with_next() {
    let inner = Router::new().route("/hello", get(hello));
    let app = Router::new()
        .nest("/app", inner)
        .route("/hello", get(hello))
        .layer(SessionLayer::new(manager()).login_url("/sign-in"));

    let response = send(&app, "GET", "/hello", None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok()),
        Some("/sign-in?next=%2Fhello")
    );
    assert_eq!(set_cookie(&response), None, "no session is created");

    let nested = send(&app, "GET", "/app/hello?x=1&y=%20", None).await;
    assert_eq!(
        nested.headers().get(LOCATION).and_then(|v| v.to_str().ok()),
        Some("/sign-in?next=%2Fapp%2Fhello%3Fx%3D1%26y%3D%2520"),
        "next is the full original path, also inside a nested router"
    );
}

#[tokio::test]
async fn the_user_key_is_configurable() {
    // `CurrentUser<u64>` reads the configured key as a number.
    let app = routes()
        .route(
            "/count",
            get(|CurrentUser(n): CurrentUser<u64>| async move { n.to_string() }),
        )
        .layer(SessionLayer::new(manager()).user_key("visits"));
    let first = send(&app, "GET", "/visits", None).await;
    let cookie = cookie_pair(&set_cookie(&first).expect("cookie"));
    let response = send(&app, "GET", "/count", Some(&cookie)).await;
    assert_eq!(body_text(response).await, "1");
}

#[tokio::test]
async fn a_user_stored_as_another_type_is_anonymous() {
    // `visits` holds a number; read as the user's name it does not decode.
    let app = routes().layer(SessionLayer::new(manager()).user_key("visits"));
    let first = send(&app, "GET", "/visits", None).await;
    let cookie = cookie_pair(&set_cookie(&first).expect("cookie"));
    let response = send(&app, "GET", "/hello", Some(&cookie)).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "log in again, not a 500 on every visit"
    );
    assert_eq!(
        response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok()),
        Some("/login?next=%2Fhello")
    );
}

#[tokio::test]
async fn works_with_router_state() {
    #[derive(Clone)]
    struct Greeting(&'static str);

    async fn greet(
        State(greeting): State<Greeting>,
        session: Session,
    ) -> Result<String, SessionError> {
        session.insert("greeted", &true).await?;
        Ok(greeting.0.to_owned())
    }

    let app = Router::new()
        .route("/greet", get(greet))
        .with_state(Greeting("hi"))
        .layer(SessionLayer::new(manager()));
    let response = send(&app, "GET", "/greet", None).await;
    assert!(set_cookie(&response).is_some());
    assert_eq!(body_text(response).await, "hi");
}

#[tokio::test]
async fn concurrent_requests_on_one_session_all_persist() {
    let app = app(manager());
    let first = send(&app, "GET", "/visits", None).await;
    let cookie = cookie_pair(&set_cookie(&first).expect("cookie"));

    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let app = app.clone();
            let cookie = cookie.clone();
            tokio::spawn(async move {
                send(&app, "PUT", &format!("/keys/k{i:02}"), Some(&cookie))
                    .await
                    .status()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("task"), StatusCode::NO_CONTENT);
    }

    let response = send(&app, "GET", "/keys", Some(&cookie)).await;
    let mut expected: Vec<String> = (0..20).map(|i| format!("k{i:02}")).collect();
    expected.push("visits".to_owned());
    assert_eq!(body_text(response).await, expected.join(","));
}
