//! actix-web with this repository's crates: `session-core`, `adapter-actix`
//! and, with `--store memcached://HOST:PORT`, `session-memcached`.
//!
//! Everything that depends on our crates' API is in this file, so that it is
//! quick to adapt while that API moves.

use std::process::ExitCode;
use std::sync::Arc;

use actix_web::{App, HttpResponse, web};
use adapter_actix::{Session, SessionError, SessionMiddleware};
use session_core::{KeyRing, MemoryStore, SessionManager, Store};
use session_memcached::MemcachedStore;
use support::BoxError;
use support::actix::{missing, ok};
use support::routes::{self, VISITS_KEY};

fn main() -> ExitCode {
    support::actix::run("actix-ours", |options| async move {
        let manager = manager(options.store.as_deref().unwrap_or("memory"))?;
        support::actix::serve(options.listen, move || {
            App::new()
                .route(routes::SEED, web::get().to(seed))
                .route(routes::VISITS, web::get().to(visits))
                .route(routes::READ, web::get().to(read))
                .route(routes::PLAIN, web::get().to(support::actix::plain))
                .wrap(SessionMiddleware::new(manager.clone()))
        })
        .await
    })
}

/// The manager on the store `spec` names: `memory` or `memcached://HOST:PORT`.
fn manager(spec: &str) -> Result<SessionManager, BoxError> {
    let store: Arc<dyn Store> = match spec {
        "memory" => Arc::new(MemoryStore::new()),
        spec => Arc::new(MemcachedStore::from_spec(spec)?),
    };
    let keys = KeyRing::from_secrets([support::SECRET])?;
    Ok(SessionManager::builder(store, keys).secure(false).build()?)
}

async fn seed(session: Session) -> Result<&'static str, SessionError> {
    session.insert(VISITS_KEY, &0_u64).await?;
    Ok("0")
}

async fn visits(session: Session) -> Result<HttpResponse, SessionError> {
    let Some(visits) = session.get::<u64>(VISITS_KEY).await? else {
        return Ok(missing());
    };
    session.insert(VISITS_KEY, &(visits + 1)).await?;
    Ok(ok((visits + 1).to_string()))
}

async fn read(session: Session) -> Result<HttpResponse, SessionError> {
    Ok(match session.get::<u64>(VISITS_KEY).await? {
        Some(visits) => ok(visits.to_string()),
        None => missing(),
    })
}
