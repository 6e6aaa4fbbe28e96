//! The [`Session`] extractor, [`SessionExt`] to reach it from elsewhere, and
//! [`SessionError`], so handlers can use `?`.

use std::future::{Ready, ready};
use std::ops::Deref;

use actix_web::dev::{Extensions, Payload, ServiceRequest};
use actix_web::guard::GuardContext;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, HttpResponse, ResponseError};
use session_core::ErrorReply;

use crate::middleware::to_response;

/// The request's session, taken by handlers as an extractor.
///
/// It dereferences to [`session_core::Session`], whose methods load the record
/// on first use: a handler that never calls one (or never takes a `Session`)
/// costs no store call. Their errors convert into [`SessionError`] with `?`.
///
/// ```
/// use adapter_actix::{Session, SessionError};
///
/// async fn visits(session: Session) -> Result<String, SessionError> {
///     let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
///     session.insert("visits", &visits).await?;
///     Ok(visits.to_string())
/// }
/// ```
///
/// Cloning is cheap and clones share the session. Without a
/// [`SessionMiddleware`](crate::SessionMiddleware) around the route the
/// extractor fails with [`MissingSessionMiddleware`].
#[derive(Debug, Clone)]
pub struct Session(pub(crate) session_core::Session);

impl Deref for Session {
    type Target = session_core::Session;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl FromRequest for Session {
    type Error = MissingSessionMiddleware;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(request.get_session())
    }
}

/// The session from anything that carries the request's extensions, as
/// actix-session's trait of the same name: an [`HttpRequest`], a
/// [`ServiceRequest`] (in a middleware wrapped *inside* the
/// [`SessionMiddleware`](crate::SessionMiddleware), which runs after it) and a
/// guard's [`GuardContext`].
///
/// A guard is synchronous and cannot load the record, but it can take the
/// handle (and a request that a guard rejects costs no store call).
pub trait SessionExt {
    /// The request's session, or [`MissingSessionMiddleware`] (logged as an
    /// error) if no middleware started one.
    fn get_session(&self) -> Result<Session, MissingSessionMiddleware>;
}

impl SessionExt for HttpRequest {
    fn get_session(&self) -> Result<Session, MissingSessionMiddleware> {
        session_in(&self.extensions())
    }
}

impl SessionExt for ServiceRequest {
    fn get_session(&self) -> Result<Session, MissingSessionMiddleware> {
        session_in(&self.extensions())
    }
}

impl SessionExt for GuardContext<'_> {
    fn get_session(&self) -> Result<Session, MissingSessionMiddleware> {
        session_in(&self.req_data())
    }
}

/// The session the middleware put in the request's extensions. Its absence
/// is a wiring mistake, logged here since `Option<_>` extractors swallow it.
fn session_in(extensions: &Extensions) -> Result<Session, MissingSessionMiddleware> {
    let session = extensions.get::<Session>().cloned();
    session
        .ok_or(MissingSessionMiddleware)
        .inspect_err(|missing| tracing::error!("{missing}"))
}

/// A [`Session`] was asked for on a route without a
/// [`SessionMiddleware`](crate::SessionMiddleware): a wiring mistake,
/// answered with a 500 that says so.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error(
    "the Session extractor needs a SessionMiddleware: add .wrap(SessionMiddleware::new(manager)) to the App or scope"
)]
pub struct MissingSessionMiddleware;

/// The default: a 500 with the message above as `text/plain`.
impl ResponseError for MissingSessionMiddleware {}

/// A session failure inside a handler, so handlers can use `?` on
/// [`Session`] methods and return `Result<_, SessionError>`.
///
/// The session remembers a store failure, so the middleware answers the
/// manager's configured [`ErrorReply`] and saves nothing, whatever the handler
/// returns; an application's own `ResponseError` type wrapping a
/// `session_core::Error` behaves the same. On its own, this response is the
/// default reply for the error's kind.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct SessionError(#[from] pub session_core::Error);

impl ResponseError for SessionError {
    fn status_code(&self) -> StatusCode {
        self.error_response().status()
    }

    fn error_response(&self) -> HttpResponse {
        to_response(&ErrorReply::default_for(self.0.kind()))
    }
}
