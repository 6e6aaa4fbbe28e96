//! Session failures as HTTP responses.
//!
//! One rule everywhere: a temporary failure (the store is down, slow or
//! contended) is a 503, anything else a 500, both as short `text/plain`
//! bodies that reveal nothing about the store. The cause goes to the log as a
//! `tracing` event. Applications that want other responses give the layer an
//! [`ErrorResponder`](crate::SessionLayer::error_response).

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Builds the response for a session failure; see
/// [`SessionLayer::error_response`](crate::SessionLayer::error_response).
pub type ErrorResponder = Arc<dyn Fn(&session_core::Error) -> Response + Send + Sync>;

/// The response used when no responder is configured: 503 `service
/// unavailable` for a temporary failure, else 500 `internal server error`.
pub fn default_error_response(error: &session_core::Error) -> Response {
    if error.is_unavailable() {
        (StatusCode::SERVICE_UNAVAILABLE, "service unavailable\n").into_response()
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n").into_response()
    }
}

/// Writes the tracing event for a failure that becomes a response.
pub(crate) fn log_failure(error: &session_core::Error, during: &'static str) {
    tracing::error!(
        error = error as &(dyn std::error::Error + 'static),
        unavailable = error.is_unavailable(),
        "session {during} failed"
    );
}

/// A session failure inside a handler, so handlers can use `?` on
/// [`Session`](crate::Session) methods and return `Result<_, SessionError>`.
///
/// As a response it is [`default_error_response`]; behind a
/// [`SessionLayer`](crate::SessionLayer) with a custom responder, the layer
/// swaps in that responder's answer. Either way the session is not saved:
/// the request failed, so its partial changes are dropped.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct SessionError(#[from] session_core::Error);

impl SessionError {
    /// The core error.
    pub fn inner(&self) -> &session_core::Error {
        &self.0
    }

    /// The core error, owned.
    pub fn into_inner(self) -> session_core::Error {
        self.0
    }
}

/// Marks a response built from a [`SessionError`], so the layer can find the
/// error again (to customise the response and to skip the save).
#[derive(Debug, Clone)]
pub(crate) struct Failure(pub(crate) Arc<session_core::Error>);

impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        log_failure(&self.0, "operation");
        let mut response = default_error_response(&self.0);
        response.extensions_mut().insert(Failure(Arc::new(self.0)));
        response
    }
}
