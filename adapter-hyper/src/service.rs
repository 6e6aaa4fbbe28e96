//! [`SessionService`]: the core's request lifecycle around any hyper service.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Either, Full};
use hyper::service::Service;
use session_core::SessionManager;

use crate::ext::SessionHandle;

/// The body of a [`SessionService`] response: the inner service's own body
/// (`Either::Left`), or the manager's error reply that replaced it
/// (`Either::Right`).
///
/// `Either` rather than a bound like `B: From<Bytes>` on the inner body, so
/// that every body type works unchanged: `Full<Bytes>`, `BoxBody`, streams.
/// hyper serves it like any body whose data is `Bytes`, and
/// [`BodyExt::collect`](http_body_util::BodyExt::collect) reads it in tests.
pub type SessionBody<B> = Either<B, Full<Bytes>>;

/// The future of [`SessionService::call`]: boxed, because it awaits the core's
/// `finish`, whose future type cannot be named.
pub type SessionFuture<B, E> =
    Pin<Box<dyn Future<Output = Result<Response<SessionBody<B>>, E>> + Send>>;

/// A hyper [`Service`] that gives every request a session: wrap your service
/// in it and hand it to `hyper::server::conn::http1::Builder::serve_connection`
/// (or hyper-util's builders).
///
/// For each request it starts the session from the `Cookie` headers (no I/O),
/// puts it in the request's extensions for
/// [`SessionExt`](crate::SessionExt), calls the inner service, and then
/// applies what the core's `finish` answers: the `Set-Cookie` and
/// `Cache-Control` headers, or the manager's error reply in place of the
/// response when the session failed.
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
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<SessionBody<ResBody>>;
    type Error = S::Error;
    type Future = SessionFuture<ResBody, S::Error>;

    fn call(&self, mut request: Request<ReqBody>) -> Self::Future {
        let session = self.manager.start_from_header_map(request.headers());
        request
            .extensions_mut()
            .insert(SessionHandle(session.clone()));
        let answer = self.inner.call(request);
        let manager = self.manager.clone();
        Box::pin(async move {
            let answer = answer.await;
            // An error from the inner service counts as a 500: nothing is
            // saved. If the session failed, the client still gets the
            // manager's reply rather than a dropped connection, so a handler
            // may even hand its session errors to hyper with `?`.
            let status = answer
                .as_ref()
                .map_or(500, |response| response.status().as_u16());
            let end = manager.finish(&session, status).await;
            let mut response = match (end.error_reply(), answer) {
                (Some(reply), _) => reply.to_response().map(Either::Right),
                (None, Ok(response)) => response.map(Either::Left),
                (None, Err(error)) => return Err(error),
            };
            end.apply_headers(response.headers_mut());
            Ok(response)
        })
    }
}
