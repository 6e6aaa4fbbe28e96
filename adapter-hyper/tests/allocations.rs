//! Counts the heap allocations [`SessionService`] adds to a request, with
//! dhat as the global allocator (this test binary only). Counts, unlike
//! times, are exact and repeatable, so they can be asserted.

use std::convert::Infallible;

use adapter_hyper::{SessionExt as _, SessionService};
use bytes::Bytes;
use http::header::{COOKIE, SET_COOKIE};
use http::{Request, Response};
use http_body_util::{Empty, Full};
use hyper::service::{Service, service_fn};
use session_core::{KeyRing, MemoryStore, SessionManager};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

const ROUNDS: u64 = 200;

async fn handle(request: Request<Empty<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.uri().path() == "/plain" {
        return Ok(Response::new(Full::from("ok")));
    }
    let Ok(session) = request.session() else {
        return Ok(Response::new(Full::from("no session")));
    };
    if request.uri().path() == "/asks" {
        return Ok(Response::new(Full::from("asked")));
    }
    let visits = session
        .get::<u64>("visits")
        .await
        .ok()
        .flatten()
        .unwrap_or(0)
        + 1;
    let saved = session.insert("visits", &visits).await.is_ok();
    Ok(Response::new(Full::from(format!("{visits} {saved}"))))
}

fn request(path: &str, cookie: &str) -> Request<Empty<Bytes>> {
    Request::get(path)
        .header(COOKIE, cookie)
        .body(Empty::new())
        .expect("a valid request")
}

/// Allocations of `ROUNDS` requests to `path`, after a warm-up.
async fn allocations<S>(service: &S, path: &str, cookie: &str) -> u64
where
    S: Service<Request<Empty<Bytes>>>,
{
    for _ in 0..10 {
        let _ = service.call(request(path, cookie)).await;
    }
    let before = dhat::HeapStats::get().total_blocks;
    for _ in 0..ROUNDS {
        let _ = service.call(request(path, cookie)).await;
    }
    dhat::HeapStats::get().total_blocks - before
}

// One test in this binary: dhat's counts are process-wide, and a second test
// would run beside this one.
#[tokio::test(flavor = "current_thread")]
async fn a_request_that_never_asks_allocates_nothing_more() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let manager = SessionManager::builder(MemoryStore::new(), KeyRing::generate())
        .secure(false)
        .build()
        .expect("a valid configuration");
    let bare = service_fn(handle);
    let wrapped = SessionService::new(manager, service_fn(handle));
    let first = wrapped
        .call(request("/visits", "other=1"))
        .await
        .expect("infallible");
    let set_cookie = first.headers()[SET_COOKIE].to_str().expect("ASCII");
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();

    let bare_plain = allocations(&bare, "/plain", &cookie).await;
    let wrapped_plain = allocations(&wrapped, "/plain", &cookie).await;
    let wrapped_asks = allocations(&wrapped, "/asks", &cookie).await;
    let wrapped_visits = allocations(&wrapped, "/visits", &cookie).await;
    println!(
        "allocations per {ROUNDS} requests: /plain bare {bare_plain}, wrapped {wrapped_plain}; \
         /asks wrapped {wrapped_asks}; /visits wrapped {wrapped_visits}"
    );
    assert_eq!(
        wrapped_plain, bare_plain,
        "a request that never asks for its session allocates nothing more"
    );
    assert_eq!(
        wrapped_asks,
        bare_plain + ROUNDS,
        "asking allocates the session handle, and nothing ends an unused one"
    );
    assert!(
        wrapped_visits > wrapped_plain + ROUNDS,
        "the count sees the session's own allocations"
    );
}
