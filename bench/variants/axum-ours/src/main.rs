//! axum with this repository's crates: `session-core`, `adapter-axum` and,
//! with `--store memcached://HOST:PORT`, `session-memcached`.
//!
//! Everything that depends on our crates' API is in this file, so that it is
//! quick to adapt while that API moves.

use std::process::ExitCode;
use std::sync::Arc;

use adapter_axum::{Session, SessionError, SessionLayer};
use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use session_core::{KeyRing, MemoryStore, SessionManager, Store};
use session_memcached::MemcachedStore;
use support::BoxError;
use support::axum::missing;
use support::routes::{self, VISITS_KEY};

fn main() -> ExitCode {
    support::run("axum-ours", |options| async move {
        let manager = manager(options.store.as_deref().unwrap_or("memory"))?;
        let app = Router::new()
            .route(routes::SEED, get(seed))
            .route(routes::VISITS, get(visits))
            .route(routes::READ, get(read))
            .route(routes::PLAIN, get(|| async { routes::PLAIN_BODY }))
            .layer(SessionLayer::new(manager));
        support::axum::serve(options.listen, app).await
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

async fn visits(session: Session) -> Result<Response, SessionError> {
    let Some(visits) = session.get::<u64>(VISITS_KEY).await? else {
        return Ok(missing().into_response());
    };
    session.insert(VISITS_KEY, &(visits + 1)).await?;
    Ok((visits + 1).to_string().into_response())
}

async fn read(session: Session) -> Result<Response, SessionError> {
    Ok(match session.get::<u64>(VISITS_KEY).await? {
        Some(visits) => visits.to_string().into_response(),
        None => missing().into_response(),
    })
}
