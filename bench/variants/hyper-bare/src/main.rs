//! Plain hyper with the benchmark's routes, routed by hand, and no sessions:
//! the floor the session variants are measured against. `/seed`, `/visits`
//! and `/read` answer a per-process counter, so each does about as little
//! work as possible.

use std::convert::Infallible;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use support::hyper::{Body, not_found, ok};
use support::routes;

static VISITS: AtomicU64 = AtomicU64::new(0);

fn main() -> ExitCode {
    support::run("hyper-bare", |options| {
        support::hyper::serve(options.listen, service_fn(handle))
    })
}

async fn handle(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    Ok(match request.uri().path() {
        routes::SEED => ok("0"),
        routes::VISITS => ok((VISITS.fetch_add(1, Ordering::Relaxed) + 1).to_string()),
        routes::READ => ok(VISITS.load(Ordering::Relaxed).to_string()),
        routes::PLAIN => ok(routes::PLAIN_BODY),
        _ => not_found(),
    })
}
