//! Serving an axum router the way the harness expects.

use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;

use crate::BoxError;

/// Binds `listen`, announces the address, and serves `app` until SIGTERM or
/// SIGINT.
pub async fn serve(listen: SocketAddr, app: Router) -> Result<(), BoxError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| format!("cannot listen on {listen}: {error}"))?;
    let shutdown = crate::shutdown_signal()?;
    crate::announce(listener.local_addr()?)?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// The answer to `/visits` and `/read` without a valid session.
pub fn missing() -> (StatusCode, &'static str) {
    (StatusCode::UNAUTHORIZED, "no session")
}
