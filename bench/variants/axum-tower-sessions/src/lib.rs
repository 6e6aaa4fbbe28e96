//! The benchmark's routes on tower-sessions 0.15 with its `MemoryStore` and
//! its defaults. The two binaries differ only in the cookie: plain
//! (`axum-tower-sessions`) or signed (`axum-tower-sessions-signed`).

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use support::axum::missing;
use support::routes::{self, VISITS_KEY};
use tower_sessions::service::CookieController;
use tower_sessions::{MemoryStore, Session, SessionManagerLayer};

/// The session layer with the defaults, on a fresh `MemoryStore`.
pub fn layer() -> SessionManagerLayer<MemoryStore> {
    SessionManagerLayer::new(MemoryStore::default())
}

/// The routes behind `layer`.
pub fn app<C: CookieController + Sync>(layer: SessionManagerLayer<MemoryStore, C>) -> Router {
    Router::new()
        .route(routes::SEED, get(seed))
        .route(routes::VISITS, get(visits))
        .route(routes::READ, get(read))
        .route(routes::PLAIN, get(|| async { routes::PLAIN_BODY }))
        .layer(layer)
}

async fn seed(session: Session) -> Result<&'static str, Failure> {
    session.insert(VISITS_KEY, 0_u64).await?;
    Ok("0")
}

async fn visits(session: Session) -> Result<Response, Failure> {
    let Some(visits) = session.get::<u64>(VISITS_KEY).await? else {
        return Ok(missing().into_response());
    };
    session.insert(VISITS_KEY, visits + 1).await?;
    Ok((visits + 1).to_string().into_response())
}

async fn read(session: Session) -> Result<Response, Failure> {
    Ok(match session.get::<u64>(VISITS_KEY).await? {
        Some(visits) => visits.to_string().into_response(),
        None => missing().into_response(),
    })
}

/// A session error, answered 500.
struct Failure(tower_sessions::session::Error);

impl From<tower_sessions::session::Error> for Failure {
    fn from(error: tower_sessions::session::Error) -> Self {
        Failure(error)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, self.0.to_string()).into_response()
    }
}
