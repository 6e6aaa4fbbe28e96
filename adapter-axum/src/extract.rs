//! The [`Session`] extractor and [`SessionError`], so handlers can use `?`.

use std::ops::Deref;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use session_core::ErrorReply;

/// The request's session, taken by handlers as an extractor.
///
/// It dereferences to [`session_core::Session`], whose methods load the record
/// on first use: a handler that never calls one (or never takes a `Session`)
/// costs no store call. Their errors convert into [`SessionError`] with `?`.
///
/// ```
/// use adapter_axum::{Session, SessionError};
///
/// async fn visits(session: Session) -> Result<String, SessionError> {
///     let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
///     session.insert("visits", &visits).await?;
///     Ok(visits.to_string())
/// }
/// ```
///
/// Cloning is cheap and clones share the session. Without a
/// [`SessionLayer`](crate::SessionLayer) the extractor fails with
/// [`MissingSessionLayer`].
#[derive(Debug, Clone)]
pub struct Session(pub(crate) session_core::Session);

impl Deref for Session {
    type Target = session_core::Session;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = MissingSessionLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(MissingSessionLayer)
    }
}

/// The [`Session`] extractor ran on a route without a
/// [`SessionLayer`](crate::SessionLayer): a wiring mistake, answered with a
/// 500 that says so.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error(
    "the Session extractor needs a SessionLayer: add .layer(SessionLayer::new(manager)) to the router"
)]
pub struct MissingSessionLayer;

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, format!("{self}\n")).into_response()
    }
}

/// A session failure inside a handler, so handlers can use `?` on
/// [`Session`] methods and return `Result<_, SessionError>`.
///
/// The session remembers a store failure, so the layer answers the manager's
/// configured [`ErrorReply`] and saves nothing, whatever the handler returns;
/// an application's own error type wrapping a `session_core::Error` behaves
/// the same. On its own, this response is the default reply for the error's
/// kind.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct SessionError(#[from] pub session_core::Error);

impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        ErrorReply::default_for(self.0.kind()).to_response()
    }
}
