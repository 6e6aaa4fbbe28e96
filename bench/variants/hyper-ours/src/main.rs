//! Plain hyper, routed by hand, with this repository's crates: `session-core`,
//! `adapter-hyper` and, with `--store memcached://HOST:PORT`,
//! `session-memcached`.
//!
//! Everything that depends on our crates' API is in this file, so that it is
//! quick to adapt while that API moves.

use std::convert::Infallible;
use std::process::ExitCode;
use std::sync::Arc;

use adapter_hyper::{SessionExt as _, SessionService};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use session_core::{Error, ErrorReply, KeyRing, MemoryStore, Session, SessionManager, Store};
use session_memcached::MemcachedStore;
use support::BoxError;
use support::hyper::{Body, missing, not_found, ok, text};
use support::routes::{self, VISITS_KEY};

fn main() -> ExitCode {
    support::run("hyper-ours", |options| async move {
        let manager = manager(options.store.as_deref().unwrap_or("memory"))?;
        let service = SessionService::new(manager, service_fn(handle));
        support::hyper::serve(options.listen, service).await
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

/// The routes. A session error answers the default error reply, which the
/// [`SessionService`] replaces with the manager's own anyway.
async fn handle(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let route = request.uri().path();
    if route == routes::PLAIN {
        return Ok(ok(routes::PLAIN_BODY));
    }
    let Ok(session) = request.session() else {
        // Only without the `SessionService` around `handle`: a wiring mistake.
        let message = "no SessionService";
        return Ok(text(StatusCode::INTERNAL_SERVER_ERROR, message));
    };
    let answer = match route {
        routes::SEED => seed(&session).await,
        routes::VISITS => visits(&session).await,
        routes::READ => read(&session).await,
        _ => Ok(not_found()),
    };
    Ok(answer.unwrap_or_else(|error| ErrorReply::default_for(error.kind()).to_response()))
}

async fn seed(session: &Session) -> Result<Response<Body>, Error> {
    session.insert(VISITS_KEY, &0_u64).await?;
    Ok(ok("0"))
}

async fn visits(session: &Session) -> Result<Response<Body>, Error> {
    let Some(visits) = session.get::<u64>(VISITS_KEY).await? else {
        return Ok(missing());
    };
    session.insert(VISITS_KEY, &(visits + 1)).await?;
    Ok(ok((visits + 1).to_string()))
}

async fn read(session: &Session) -> Result<Response<Body>, Error> {
    Ok(match session.get::<u64>(VISITS_KEY).await? {
        Some(visits) => ok(visits.to_string()),
        None => missing(),
    })
}
