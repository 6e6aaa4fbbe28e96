//! actix-web with the benchmark's routes and no sessions: the floor the
//! session variants are measured against. `/seed`, `/visits` and `/read`
//! answer a per-process counter, so each does about as little work as
//! possible.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{App, web};
use support::routes;

static VISITS: AtomicU64 = AtomicU64::new(0);

fn main() -> ExitCode {
    support::actix::run("actix-bare", |options| {
        support::actix::serve(options.listen, || {
            App::new()
                .route(routes::SEED, web::get().to(|| async { "0" }))
                .route(routes::VISITS, web::get().to(visits))
                .route(routes::READ, web::get().to(read))
                .route(routes::PLAIN, web::get().to(support::actix::plain))
        })
    })
}

async fn visits() -> String {
    (VISITS.fetch_add(1, Ordering::Relaxed) + 1).to_string()
}

async fn read() -> String {
    VISITS.load(Ordering::Relaxed).to_string()
}
