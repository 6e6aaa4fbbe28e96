//! [`SessionExt`]: a handler's way to its session, and the current user or a
//! redirect to the login page.

use std::future::Future;

use http::header::LOCATION;
use http::request::Parts;
use http::{Extensions, HeaderMap, HeaderValue, Request, Response, StatusCode, Uri};
use serde::de::DeserializeOwned;
use session_core::{ErrorReply, Session};

/// The session of a request served through
/// [`SessionService`](crate::SessionService), for `http::Request` and for its
/// [`Parts`].
///
/// The first call in a request starts the session from this request's
/// `Cookie` headers; later calls answer the same session, on this request or
/// on any with the same session cookie (another gets
/// [`MissingSessionService`]). Getting it does no I/O: the record is loaded
/// by the first [`Session`] method that needs it, so a request that never
/// uses its session costs no store call.
///
/// The session is reachable while the service handles the request: in the
/// inner service's `call` and in its future (the handler), through the core's
/// request scope. A task the handler spawns is outside it, and so is an inner
/// `call` run on another task (behind tower's `Buffer`). Hand such a task the
/// [`Session`] (a cheap clone), or the request after
/// [`attach_session`](SessionExt::attach_session).
///
/// ```
/// use adapter_hyper::SessionExt as _;
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
///
/// async fn visits<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
///     let session = request.session()?;
///     let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
///     session.insert("visits", &visits).await?;
///     Ok(Response::new(Full::from(visits.to_string())))
/// }
/// ```
pub trait SessionExt {
    /// The request's session (a cheap handle; clones share the session).
    ///
    /// # Errors
    ///
    /// [`MissingSessionService`] outside a
    /// [`SessionService`](crate::SessionService)'s handling of a request (the
    /// service is missing, or this code runs in a task of its own), or for a
    /// request with another session cookie than the one that asked first.
    fn session(&self) -> Result<Session, MissingSessionService>;

    /// Keeps the session in the request's extensions, where
    /// [`session`](SessionExt::session) finds it in any task: call it before
    /// moving the request into a task of its own. It costs the allocations of
    /// the extensions map, which requests that stay in their task do without.
    ///
    /// # Errors
    ///
    /// [`MissingSessionService`], as [`session`](SessionExt::session).
    fn attach_session(&mut self) -> Result<(), MissingSessionService>;

    /// The logged-in user as a `T` (a `String` name by default), or the
    /// response to send instead: a 303 to the manager's login URL with this
    /// request's path and query as `next` for an anonymous visitor (no
    /// session is created for them).
    ///
    /// The other responses have empty bodies (`B::default()`): when the store
    /// failed, a 503 or 500 (by the failure's kind) that the service replaces
    /// with the manager's error reply; without a
    /// [`SessionService`](crate::SessionService), a 500 and an error in the
    /// log naming it.
    fn current_user<T, B>(&self) -> impl Future<Output = Result<T, Response<B>>> + Send
    where
        T: DeserializeOwned + Send,
        B: Default;
}

impl<Body> SessionExt for Request<Body> {
    fn session(&self) -> Result<Session, MissingSessionService> {
        session_in(self.extensions(), self.headers())
    }

    fn attach_session(&mut self) -> Result<(), MissingSessionService> {
        let session = self.session()?;
        self.extensions_mut().insert(Attached(session));
        Ok(())
    }

    fn current_user<T, B>(&self) -> impl Future<Output = Result<T, Response<B>>> + Send
    where
        T: DeserializeOwned + Send,
        B: Default,
    {
        user_or_redirect(self.session(), self.uri().clone())
    }
}

impl SessionExt for Parts {
    fn session(&self) -> Result<Session, MissingSessionService> {
        session_in(&self.extensions, &self.headers)
    }

    fn attach_session(&mut self) -> Result<(), MissingSessionService> {
        let session = self.session()?;
        self.extensions.insert(Attached(session));
        Ok(())
    }

    fn current_user<T, B>(&self) -> impl Future<Output = Result<T, Response<B>>> + Send
    where
        T: DeserializeOwned + Send,
        B: Default,
    {
        user_or_redirect(self.session(), self.uri.clone())
    }
}

/// A handler asked for its session outside a
/// [`SessionService`](crate::SessionService)'s handling of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "no session here: serve the handler through adapter_hyper::SessionService::new(manager, service); in a task of its own, use the Session handed to it or request.attach_session() before the move"
)]
pub struct MissingSessionService;

/// What [`SessionExt::attach_session`] puts in a request's extensions: a
/// private type, so nothing else can plant a session there.
#[derive(Clone)]
struct Attached(Session);

fn session_in(
    extensions: &Extensions,
    headers: &HeaderMap,
) -> Result<Session, MissingSessionService> {
    match extensions.get::<Attached>() {
        Some(Attached(session)) => Ok(session.clone()),
        None => session_core::current_session_in(headers).ok_or(MissingSessionService),
    }
}

/// Owns what it needs (not the request), so its future is `Send` whatever
/// the request's body.
async fn user_or_redirect<T, B>(
    session: Result<Session, MissingSessionService>,
    uri: Uri,
) -> Result<T, Response<B>>
where
    T: DeserializeOwned + Send,
    B: Default,
{
    let session = session.map_err(|missing| {
        tracing::error!("{missing}");
        empty(StatusCode::INTERNAL_SERVER_ERROR)
    })?;
    match session.current_user::<T>().await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => {
            let wanted = uri.path_and_query().map_or("/", |wanted| wanted.as_str());
            Err(see_other(session.login_redirect(wanted)))
        }
        Err(error) => {
            let status = ErrorReply::default_for(error.kind()).status();
            Err(empty(
                StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            ))
        }
    }
}

fn empty<B: Default>(status: StatusCode) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = status;
    response
}

fn see_other<B: Default>(location: String) -> Response<B> {
    match HeaderValue::try_from(location) {
        Ok(location) => {
            let mut response = empty(StatusCode::SEE_OTHER);
            response.headers_mut().insert(LOCATION, location);
            response
        }
        // The core promises a valid header value; never send a 303 without
        // a Location.
        Err(_) => empty(StatusCode::INTERNAL_SERVER_ERROR),
    }
}
