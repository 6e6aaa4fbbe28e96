//! Counts the heap allocations the session layer adds to a request, with
//! dhat as the global allocator (this test binary only). Counts, unlike
//! times, are exact and repeatable, so they can be asserted.

use std::sync::Arc;

use adapter_axum::{Session, SessionError, SessionLayer};
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::routing::get;
use session_core::{KeyRing, MemoryStore, SessionManager};
use tower::ServiceExt as _;

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

const ROUNDS: u64 = 200;

async fn read(session: Session) -> Result<String, SessionError> {
    Ok(session.get::<u64>("visits").await?.unwrap_or(0).to_string())
}

async fn write(session: Session) -> Result<String, SessionError> {
    let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
    session.insert("visits", &visits).await?;
    Ok(visits.to_string())
}

fn routes() -> Router {
    Router::new()
        .route("/static", get(|| async { "static" }))
        .route("/read", get(read))
        .route("/write", get(write))
}

fn request(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(COOKIE, cookie)
        .body(Body::empty())
        .expect("valid request")
}

/// Average allocations of one request to `path` (after a warm-up).
async fn allocations_per_request(app: &Router, path: &str, cookie: &str) -> f64 {
    for _ in 0..10 {
        app.clone()
            .oneshot(request(path, cookie))
            .await
            .expect("infallible");
    }
    let before = dhat::HeapStats::get().total_blocks;
    for _ in 0..ROUNDS {
        app.clone()
            .oneshot(request(path, cookie))
            .await
            .expect("infallible");
    }
    (dhat::HeapStats::get().total_blocks - before) as f64 / ROUNDS as f64
}

#[tokio::test]
async fn the_layer_adds_few_allocations() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let manager = SessionManager::builder(Arc::new(MemoryStore::new()), KeyRing::generate())
        .build()
        .expect("valid configuration");
    // The same router behind a layer that does nothing, so what axum itself
    // spends on any layer (boxing the wrapped routes) is not counted.
    let plain = routes().layer(tower::util::MapRequestLayer::new(
        |request: Request<Body>| request,
    ));
    let layered = routes().layer(SessionLayer::new(manager));
    let first = layered
        .clone()
        .oneshot(request("/write", "other=1"))
        .await
        .expect("infallible");
    let set_cookie = first.headers()[SET_COOKIE].to_str().expect("ASCII");
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();

    let untouched = allocations_per_request(&layered, "/static", &cookie).await
        - allocations_per_request(&plain, "/static", &cookie).await;
    let read = allocations_per_request(&layered, "/read", &cookie).await
        - allocations_per_request(&plain, "/static", &cookie).await;
    let write = allocations_per_request(&layered, "/write", &cookie).await
        - allocations_per_request(&plain, "/static", &cookie).await;
    println!(
        "allocations the session layer adds per request: untouched {untouched}, read {read}, write {write}"
    );
    // The core's session handle, its slot in the request extensions, the
    // extensions map itself (absent until something inserts), and the boxed
    // response future; the fraction is background noise of the runtime.
    assert!(
        untouched < 4.5,
        "an untouched session costs {untouched} allocations"
    );
    assert!(read < write, "a write must cost more than a read");
}
