//! [`SessionLayer`] and the [`SessionService`] it wraps around a router.
//!
//! Per request the service makes the session handle from the `Cookie`
//! headers (no I/O), puts it in the request's extensions for the
//! [`Session`] extractor, runs the handler, then asks the core to save the
//! session and copies its `Set-Cookie`, if any, onto the response.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use session_core::{SessionManager, SetCookie};
use tower_layer::Layer;
use tower_service::Service;

use crate::error::{ErrorResponder, Failure, default_error_response, log_failure};
use crate::extract::Session;
use crate::login::LoginConfig;

/// What every request of one layer shares: set up once, behind one `Arc`.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) manager: SessionManager,
    pub(crate) responder: ErrorResponder,
    pub(crate) login: LoginConfig,
}

/// A tower [`Layer`] that gives every request a session.
///
/// Add it to a `Router` with `.layer(SessionLayer::new(manager))`; handlers
/// then take a [`Session`] or a [`CurrentUser`](crate::CurrentUser).
#[derive(Clone)]
pub struct SessionLayer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLayer")
            .field("manager", &self.shared.manager)
            .field("login", &self.shared.login)
            .finish_non_exhaustive()
    }
}

impl SessionLayer {
    /// A layer over `manager`, with the default error responses and the
    /// default login settings (`/login`, session key `user_name`).
    pub fn new(manager: SessionManager) -> Self {
        Self {
            shared: Arc::new(Shared {
                manager,
                responder: Arc::new(default_error_response),
                login: LoginConfig::default(),
            }),
        }
    }

    /// Replaces the response for session failures, both those a handler
    /// returns as a [`SessionError`](crate::SessionError) and a failed save
    /// after the handler. Check [`session_core::Error::is_unavailable`] to
    /// tell a temporary failure (default: 503) from a bug (default: 500).
    #[must_use]
    pub fn error_response(
        mut self,
        responder: impl Fn(&session_core::Error) -> Response + Send + Sync + 'static,
    ) -> Self {
        Arc::make_mut(&mut self.shared).responder = Arc::new(responder);
        self
    }

    /// Where [`CurrentUser`](crate::CurrentUser) sends anonymous visitors
    /// (default `/login`). The page they asked for is appended as `next`.
    #[must_use]
    pub fn login_url(mut self, url: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.shared).login.url = url.into();
        self
    }

    /// The session key holding the signed-in user (default `user_name`),
    /// read by [`CurrentUser`](crate::CurrentUser).
    #[must_use]
    pub fn user_key(mut self, key: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.shared).login.user_key = key.into();
        self
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service made by [`SessionLayer`].
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// The service's future: boxed, because it awaits the core's `set`, whose
/// future type cannot be named. It is the one allocation the layer adds of
/// its own (see the crate docs for the full count).
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
        let session = self.shared.manager.get_from_headers(
            request
                .headers()
                .get_all(COOKIE)
                .iter()
                .map(HeaderValue::as_bytes),
        );
        let session = Session::new(session, Arc::clone(&self.shared));
        request.extensions_mut().insert(session.clone());
        Box::pin(async move {
            let response = ready.call(request).await?;
            Ok(finish(&session, response).await)
        })
    }
}

/// After the handler: save the session and add its `Set-Cookie`, or turn the
/// response into the error response.
async fn finish(session: &Session, mut response: Response) -> Response {
    let shared = session.shared();
    if let Some(Failure(error)) = response.extensions_mut().remove::<Failure>() {
        // The handler failed on its session (and logged it): answer with the
        // configured response and save nothing.
        return (shared.responder)(&error);
    }
    match shared.manager.set(session).await {
        Ok(None) => response,
        Ok(Some(cookie)) => match HeaderValue::try_from(cookie.header_value()) {
            Ok(value) => {
                let headers = response.headers_mut();
                headers.append(SET_COOKIE, value);
                headers.insert(
                    CACHE_CONTROL,
                    HeaderValue::from_static(SetCookie::CACHE_CONTROL),
                );
                response
            }
            Err(error) => {
                tracing::error!(%error, "the session cookie is not a valid header value");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        },
        Err(error) => {
            log_failure(&error, "save");
            (shared.responder)(&error)
        }
    }
}
