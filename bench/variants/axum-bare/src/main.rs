//! axum with the benchmark's routes and no sessions: the floor the session
//! variants are measured against. `/seed`, `/visits` and `/read` answer a
//! per-process counter, so each does about as little work as possible.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::routing::get;
use support::routes;

static VISITS: AtomicU64 = AtomicU64::new(0);

fn main() -> ExitCode {
    support::run("axum-bare", |options| {
        let app = Router::new()
            .route(routes::SEED, get(|| async { "0" }))
            .route(routes::VISITS, get(visits))
            .route(routes::READ, get(read))
            .route(routes::PLAIN, get(|| async { routes::PLAIN_BODY }));
        support::axum::serve(options.listen, app)
    })
}

async fn visits() -> String {
    (VISITS.fetch_add(1, Ordering::Relaxed) + 1).to_string()
}

async fn read() -> String {
    VISITS.load(Ordering::Relaxed).to_string()
}
