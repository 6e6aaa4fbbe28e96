//! hyper 1.x integration for [`session_core`].
//!
//! - [`SessionService`]: wraps any [`hyper::service::Service`] (a
//!   `service_fn`, your router) and runs the core's request lifecycle: it
//!   makes each request's session reachable from its handler and, after the
//!   inner service answers, applies what the core says.
//! - [`SessionExt`]: `request.session()` in handlers, on `http::Request` and
//!   `http::request::Parts`, and `request.current_user()`: the logged-in user
//!   or the redirect to the login page.
//!
//! The adapter has no cookie, error or login logic of its own: the core
//! decides which `Set-Cookie` and `Cache-Control` a response gets (a session
//! that was created, changed, rotated or destroyed gets a cookie; one only
//! read, or not used at all, gets none), which error reply replaces a
//! response, and where anonymous visitors are sent. hyper has no cookie API,
//! and needs none here.
//!
//! # Quick start
//!
//! ```no_run
//! use std::convert::Infallible;
//!
//! use adapter_hyper::{SessionExt as _, SessionService};
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use hyper::body::Incoming;
//! use hyper::server::conn::http1;
//! use hyper::service::service_fn;
//! use hyper_util::rt::{TokioIo, TokioTimer};
//! use session_core::{KeyRing, MemoryStore, SessionManager};
//!
//! async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     match request.uri().path() {
//!         // Anonymous visitors get 303 /login?next=%2F.
//!         "/" => match request.current_user::<String, _>().await {
//!             Ok(name) => Ok(Response::new(Full::from(format!("Hello, {name}")))),
//!             Err(redirect) => Ok(redirect),
//!         },
//!         "/visits" => Ok(visits(&request).await.unwrap_or_else(|_| {
//!             // The service replaces this with the manager's error reply.
//!             let mut response = Response::new(Full::default());
//!             *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
//!             response
//!         })),
//!         _ => {
//!             let mut response = Response::new(Full::default());
//!             *response.status_mut() = StatusCode::NOT_FOUND;
//!             Ok(response)
//!         }
//!     }
//! }
//!
//! async fn visits(request: &Request<Incoming>) -> Result<Response<Full<Bytes>>, Box<dyn std::error::Error>> {
//!     let session = request.session()?;
//!     let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
//!     session.insert("visits", &visits).await?;
//!     Ok(Response::new(Full::from(visits.to_string())))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // In production: KeyRing::parse(&std::env::var("SESSION_SECRET")?)?
//! let manager = SessionManager::builder(MemoryStore::new(), KeyRing::generate())
//!     .secure(false) // plain-HTTP development only
//!     .login_url("/login")
//!     .build()?;
//! let service = SessionService::new(manager, service_fn(handle));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     let service = service.clone();
//!     tokio::spawn(async move {
//!         let connection = http1::Builder::new()
//!             .timer(TokioTimer::new())
//!             .header_read_timeout(std::time::Duration::from_secs(10))
//!             .serve_connection(TokioIo::new(stream), service);
//!         let _ = connection.await;
//!     });
//! }
//! # }
//! ```
//!
//! Log in with `session.login(&name).await?` (stores the user and rotates the
//! session ID), log out with `session.logout().await?`. Protect forms with
//! [`session_core::Session::csrf_token`] and
//! [`session_core::Session::verify_csrf`].
//!
//! # Response bodies
//!
//! The inner service may answer any body type; the wrapper answers
//! [`SessionBody<B>`](SessionBody), an `http_body_util::Either` of that body
//! and the error reply's `Full<Bytes>`, so no conversion into your body type
//! is needed (`BoxBody` and streaming bodies work as they are). Responses that
//! [`SessionExt::current_user`] builds (the redirect) are empty
//! `B::default()` bodies in your type.
//!
//! # Errors
//!
//! A store that is down answers the manager's error reply, by default 503
//! `text/plain` (`service unavailable`) with nothing about the store in the
//! body; the cause is logged once by the core. The session remembers a failed
//! store operation, so the service answers that reply and saves nothing
//! whatever the handler returned: any response, the application's own error
//! type turned into one, or even an `Err` handed to hyper (which would
//! otherwise drop the connection without an answer). A 5xx response saves
//! nothing either. Change the replies per error kind with
//! [`SessionManagerBuilder::error_reply`](session_core::SessionManagerBuilder::error_reply).
//!
//! A handler served outside the wrapper gets [`MissingSessionService`] from
//! [`SessionExt::session`], whose message says what to add.
//!
//! # How the session reaches the handler
//!
//! Not through the request's extensions: inserting there costs three
//! allocations on every request, used or not. The wrapper runs the inner
//! service in the core's request scope
//! ([`SessionManager::scope`](session_core::SessionManager::scope)) instead:
//! `request.session()` starts the session from the request's `Cookie`
//! headers on first use, and a request that never asks costs no allocation,
//! no cookie parsing and no store call.
//!
//! The scope covers the inner service's `call` and every poll of its future.
//! Code in a task of its own is outside it: a task the handler spawns, an
//! inner `call` that tower's `Buffer` runs on its worker. Hand such a task the
//! [`Session`](session_core::Session) (a cheap clone), or call
//! [`SessionExt::attach_session`] before moving the request there. Within the
//! scope, a request that carries another session cookie than the one that
//! asked first gets no session, so code working for another request never
//! acts on this one's.
//!
//! The service is `Clone` when the inner one is, and its futures are `Send`
//! (the inner service's future must be too), for multi-threaded runtimes.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod ext;
mod service;

pub use ext::{MissingSessionService, SessionExt};
pub use service::{ResponseEnding, SessionBody, SessionFuture, SessionService};
