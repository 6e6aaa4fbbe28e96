//! The wrapper's overhead per request, as hyper calls it, and the design it
//! was chosen over: the same lifecycle as a tower `Layer` served through
//! hyper-util's `TowerToHyperService` (which clones the tower service and
//! drives `poll_ready` for every request).
//!
//! `cargo bench -p adapter-hyper --bench wrapper` measures time with
//! criterion. On a busy machine, count instructions instead, which load does
//! not disturb: with `WRAPPER_CALLS=VARIANT/REQUEST/N` the bench binary makes
//! N calls and exits, so under `valgrind --tool=callgrind` the difference
//! between N = 20000 and N = 0, divided by 20000, is the instructions per
//! call.
//!
//! - `bare`: the handler alone, no sessions: the floor;
//! - `hyper_service`: [`SessionService`], the adapter's design;
//! - `tower_layer`: the tower alternative, written out below as it would
//!   have been shipped.
//!
//! Each runs two requests: `untouched` (no cookie, the handler never asks
//! for its session: pure wrapper cost) and `read` (a valid cookie, the
//! handler reads the session from a `MemoryStore`).

use std::convert::Infallible;
use std::task::{Context, Poll};

use adapter_hyper::{ResponseEnding, SessionBody, SessionExt as _, SessionFuture, SessionService};
use bytes::Bytes;
use criterion::{Criterion, criterion_group};
use http::header::{COOKIE, SET_COOKIE};
use http::{Request, Response};
use http_body_util::{Empty, Full};
use hyper::service::{Service as _, service_fn};
use hyper_util::service::TowerToHyperService;
use session_core::{KeyRing, MemoryStore, SessionManager};
use tower_layer::Layer;

type Body = Full<Bytes>;

/// The handler every variant serves: reads `visits` when asked to.
async fn handler(request: Request<Empty<Bytes>>) -> Result<Response<Body>, Infallible> {
    if request.uri().path() == "/read"
        && let Ok(session) = request.session()
    {
        let visits = session.get::<u64>("visits").await.ok().flatten();
        return Ok(Response::new(Full::from(format!("{visits:?}"))));
    }
    Ok(Response::new(Full::from("ok")))
}

/// The tower alternative: a `Layer` whose service clones the inner one per
/// call, as tower's contract requires of a service that is driven ready. It
/// runs the same request scope and future as [`SessionService`]: the two
/// differ only in that clone and in `poll_ready`.
#[derive(Clone)]
struct TowerSessionLayer(SessionManager);

impl<S> Layer<S> for TowerSessionLayer {
    type Service = TowerSessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TowerSessionService {
            inner,
            manager: self.0.clone(),
        }
    }
}

#[derive(Clone)]
struct TowerSessionService<S> {
    inner: S,
    manager: SessionManager,
}

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for TowerSessionService<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<SessionBody<ResBody>>;
    type Error = S::Error;
    type Future = SessionFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        self.manager
            .scope::<_, ResponseEnding>(|| ready.call(request))
    }
}

fn request(path: &str, cookie: Option<&str>) -> Request<Empty<Bytes>> {
    let mut builder = Request::get(path);
    if let Some(cookie) = cookie {
        builder = builder.header(COOKIE, cookie);
    }
    builder.body(Empty::new()).expect("a valid request")
}

/// A cookie for a session holding `visits`, made through the hyper wrapper.
fn session_cookie(runtime: &tokio::runtime::Runtime, manager: &SessionManager) -> String {
    runtime.block_on(async {
        let session = manager.start([]);
        session.insert("visits", &1u64).await.expect("memory store");
        let end = manager.finish(&session, 200).await;
        let cookie = end.set_cookie().expect("a new session sets a cookie");
        format!("{}={}", cookie.name(), cookie.value())
    })
}

/// A runtime, a manager, and a cookie for a session in it.
fn setup() -> (tokio::runtime::Runtime, SessionManager, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let manager = SessionManager::builder(MemoryStore::new(), KeyRing::generate())
        .build()
        .expect("a valid configuration");
    let cookie = session_cookie(&runtime, &manager);
    (runtime, manager, cookie)
}

/// Makes `calls` calls of `service`, for counting instructions.
fn drive<S, B>(
    runtime: &tokio::runtime::Runtime,
    service: &S,
    path: &str,
    cookie: Option<&str>,
    calls: usize,
) where
    S: hyper::service::Service<Request<Empty<Bytes>>, Response = Response<B>>,
{
    runtime.block_on(async {
        for _ in 0..calls {
            let response = service.call(request(path, cookie)).await;
            assert!(response.is_ok_and(|r| r.status().is_success()));
        }
    });
}

/// `WRAPPER_CALLS=VARIANT/REQUEST/N`: see the module docs.
fn count_calls(spec: &str) {
    let mut parts = spec.split('/');
    let (variant, scenario, calls) = (parts.next(), parts.next(), parts.next());
    let calls: usize = calls
        .and_then(|calls| calls.parse().ok())
        .expect("VARIANT/REQUEST/N");
    let (runtime, manager, cookie) = setup();
    let (path, cookie) = match scenario {
        Some("untouched") => ("/", None),
        Some("read") => ("/read", Some(cookie.as_str())),
        other => panic!("unknown request {other:?}"),
    };
    match variant {
        Some("bare") => drive(&runtime, &service_fn(handler), path, cookie, calls),
        Some("hyper_service") => {
            let service = SessionService::new(manager, service_fn(handler));
            drive(&runtime, &service, path, cookie, calls);
        }
        Some("tower_layer") => {
            let layered = TowerSessionLayer(manager).layer(tower::service_fn(handler));
            drive(
                &runtime,
                &TowerToHyperService::new(layered),
                path,
                cookie,
                calls,
            );
        }
        other => panic!("unknown variant {other:?}"),
    }
}

fn wrapper_overhead(c: &mut Criterion) {
    let (runtime, manager, cookie) = setup();
    let bare = service_fn(handler);
    let hyper_service = SessionService::new(manager.clone(), service_fn(handler));
    let tower_layer = TowerToHyperService::new(
        TowerSessionLayer(manager.clone()).layer(tower::service_fn(handler)),
    );

    let mut group = c.benchmark_group("wrapper");
    for (name, path, cookie) in [
        ("untouched", "/", None),
        ("read", "/read", Some(cookie.as_str())),
    ] {
        group.bench_function(format!("bare/{name}"), |b| {
            b.to_async(&runtime)
                .iter(|| async { bare.call(request(path, cookie)).await })
        });
        group.bench_function(format!("hyper_service/{name}"), |b| {
            b.to_async(&runtime).iter(|| async {
                let response = hyper_service.call(request(path, cookie)).await;
                assert!(response.is_ok_and(|r| !r.headers().contains_key(SET_COOKIE)));
            })
        });
        group.bench_function(format!("tower_layer/{name}"), |b| {
            b.to_async(&runtime).iter(|| async {
                let response = tower_layer.call(request(path, cookie)).await;
                assert!(response.is_ok_and(|r| !r.headers().contains_key(SET_COOKIE)));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, wrapper_overhead);

fn main() {
    match std::env::var("WRAPPER_CALLS") {
        Ok(spec) => count_calls(&spec),
        Err(_) => {
            benches();
            Criterion::default().configure_from_args().final_summary();
        }
    }
}
