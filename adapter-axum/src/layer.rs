//! [`SessionLayer`] and the [`SessionService`] it wraps around a router: the
//! core's request lifecycle in tower's types.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::Request;
use axum::response::Response;
use session_core::SessionManager;
use tower_layer::Layer;
use tower_service::Service;

use crate::extract::Session;

/// A tower [`Layer`] that gives every request a session.
///
/// Add it to a `Router` with `.layer(SessionLayer::new(manager))`; handlers
/// then take a [`Session`] or a [`CurrentUser`](crate::CurrentUser). The login
/// URL, the user key and the error replies are the manager's settings.
#[derive(Debug, Clone)]
pub struct SessionLayer {
    manager: SessionManager,
}

impl SessionLayer {
    /// A layer over `manager`.
    pub fn new(manager: SessionManager) -> Self {
        Self { manager }
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            manager: self.manager.clone(),
        }
    }
}

/// The service made by [`SessionLayer`].
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    inner: S,
    manager: SessionManager,
}

/// The service's future: boxed, because it awaits the core's `finish`, whose
/// future type cannot be named.
pub type SessionFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

impl<S, B> Service<Request<B>> for SessionService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = SessionFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The service that was polled ready is the one that must be called;
        // the clone stays behind for the next request.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let manager = self.manager.clone();
        let session = manager.start_from_header_map(request.headers());
        request.extensions_mut().insert(Session(session.clone()));
        Box::pin(async move {
            let mut response = ready.call(request).await?;
            let end = manager.finish(&session, response.status().as_u16()).await;
            if let Some(reply) = end.error_reply() {
                response = reply.to_response();
            }
            end.apply_headers(response.headers_mut());
            Ok(response)
        })
    }
}
