//! The [`Session`] extractor.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::layer::Shared;

/// The request's session, taken by handlers as an extractor.
///
/// It dereferences to [`session_core::Session`], whose methods load the record
/// on first use: a handler that never calls one (or never takes a `Session`)
/// costs no store call. Their errors convert into
/// [`SessionError`](crate::SessionError) with `?`.
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
#[derive(Clone)]
pub struct Session {
    session: session_core::Session,
    shared: Arc<Shared>,
}

impl Session {
    pub(crate) fn new(session: session_core::Session, shared: Arc<Shared>) -> Self {
        Self { session, shared }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.session.fmt(f)
    }
}

impl Deref for Session {
    type Target = session_core::Session;

    fn deref(&self) -> &Self::Target {
        &self.session
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
