//! [`SessionService`]: the core's request lifecycle around any hyper service.

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Either, Full};
use hyper::service::Service;
use session_core::{Ending, RequestEnd, Scoped, SessionManager};

/// The body of a [`SessionService`] response: the inner service's own body
/// (`Either::Left`), or the manager's error reply that replaced it
/// (`Either::Right`).
///
/// `Either` rather than a bound like `B: From<Bytes>` on the inner body, so
/// that every body type works unchanged: `Full<Bytes>`, `BoxBody`, streams.
/// hyper serves it like any body whose data is `Bytes`, and
/// [`BodyExt::collect`](http_body_util::BodyExt::collect) reads it in tests.
pub type SessionBody<B> = Either<B, Full<Bytes>>;

/// A hyper [`Service`] that gives every request a session: wrap your service
/// in it and hand it to `hyper::server::conn::http1::Builder::serve_connection`
/// (or hyper-util's builders).
///
/// For each request it calls the inner service in the core's request scope
/// ([`SessionManager::scope`]), where [`SessionExt`](crate::SessionExt)
/// starts the session from the `Cookie` headers the first time a handler
/// asks. When the inner service has answered, it applies what the core's
/// `finish` answers: the `Set-Cookie` and `Cache-Control` headers, or the
/// manager's error reply in place of the response when the session failed. A
/// request whose handler never asks costs no allocation and no store call.
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    inner: S,
    manager: SessionManager,
}

impl<S> SessionService<S> {
    /// `inner`, with sessions from `manager` (whose settings decide the
    /// cookie, the login URL and the error replies).
    pub fn new(manager: SessionManager, inner: S) -> Self {
        Self { inner, manager }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<SessionBody<ResBody>>;
    type Error = S::Error;
    type Future = SessionFuture<S::Future>;

    fn call(&self, request: Request<ReqBody>) -> Self::Future {
        self.manager.scope(|| self.inner.call(request))
    }
}

/// The future of [`SessionService::call`]: the inner service's future in the
/// core's request scope, then the end of the request applied by
/// [`ResponseEnding`].
pub type SessionFuture<F> = Scoped<F, ResponseEnding>;

/// How [`SessionService`] ends a request: the core's headers on the inner
/// service's response, or the manager's error reply in its place.
#[derive(Debug)]
pub enum ResponseEnding {}

impl<B, E> Ending<Result<Response<B>, E>> for ResponseEnding {
    type Output = Result<Response<SessionBody<B>>, E>;

    /// An error from the inner service counts as a 500: nothing is saved.
    #[inline]
    fn status(answer: &Result<Response<B>, E>) -> u16 {
        answer
            .as_ref()
            .map_or(500, |response| response.status().as_u16())
    }

    /// If the session failed, the client gets the manager's reply rather
    /// than a dropped connection, so a handler may even hand its session
    /// errors to hyper with `?`.
    #[inline]
    fn apply(answer: Result<Response<B>, E>, end: RequestEnd) -> Self::Output {
        let mut response = match (end.error_reply(), answer) {
            (Some(reply), _) => reply.to_response().map(Either::Right),
            (None, Ok(response)) => response.map(Either::Left),
            (None, Err(error)) => return Err(error),
        };
        end.apply_headers(response.headers_mut());
        Ok(response)
    }
}
