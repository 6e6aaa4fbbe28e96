//! axum 0.8 integration for [`session_core`].
//!
//! - [`SessionLayer`]: a tower layer that gives every request a session and
//!   sends the session cookie back when, and only when, it must.
//! - [`Session`]: the extractor handlers take; it dereferences to
//!   [`session_core::Session`].
//! - [`CurrentUser`]: the signed-in user, or a redirect to the login page.
//! - [`SessionError`]: session failures as responses (503 when the store is
//!   unavailable, 500 otherwise), so handlers can use `?`.
//!
//! The adapter has no cookie logic of its own: it hands the request's
//! `Cookie` headers to [`SessionManager::get_from_headers`] and, after the
//! handler, copies what [`SessionManager::set`] answers into `Set-Cookie`
//! (with `Cache-Control: no-store`). The core decides: a session that was
//! created, changed, rotated or destroyed, or whose cookie was signed by an
//! older key, gets a `Set-Cookie`; a session only read, or not used at all,
//! gets none. The layer calls `set` after the handler on every request, so
//! concurrent requests' changes are merged by the core. If that save fails,
//! the handler's response is replaced by the error response.
//!
//! A handler that fails with [`SessionError`] has its session changes
//! dropped: the layer answers the error and saves nothing. Any other response,
//! whatever its status, is saved as the handler left the session. Rotation and
//! logout take effect in the store when they are called (`cycle_id` claims the
//! new ID and deletes the old record at once; `destroy` deletes the record), so
//! an error after them still leaves the old ID dead.
//!
//! Works with `Router::with_state`, nested routers, and multi-threaded
//! runtimes (the service and its futures are `Send`).
//!
//! # Quick start
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use adapter_axum::{CurrentUser, Session, SessionError, SessionLayer};
//! use axum::{Router, routing::get};
//! use session_core::{KeyRing, MemoryStore, SessionManager};
//!
//! async fn hello(CurrentUser(name): CurrentUser) -> String {
//!     format!("Hello, {name}")
//! }
//!
//! async fn visits(session: Session) -> Result<String, SessionError> {
//!     let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
//!     session.insert("visits", &visits).await?;
//!     Ok(visits.to_string())
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // In production: KeyRing::parse(&std::env::var("SESSION_SECRET")?)?
//! let manager = SessionManager::builder(Arc::new(MemoryStore::new()), KeyRing::generate())
//!     .secure(false) // plain-HTTP development only
//!     .build()?;
//! let app = Router::new()
//!     .route("/", get(hello))
//!     .route("/visits", get(visits))
//!     .layer(SessionLayer::new(manager).login_url("/login"));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! On login, store the user and rotate the ID:
//! `session.insert("user_name", &name).await?; session.cycle_id().await?;`.
//! On logout: `session.destroy().await?`. Protect forms with
//! [`session_core::Session::csrf_token`] and
//! [`session_core::Session::verify_csrf`].
//!
//! # Errors
//!
//! A store that is down answers 503 `text/plain` (`service unavailable`) with
//! nothing about the store in the body; the cause is logged as a `tracing`
//! error event. [`SessionLayer::error_response`] replaces the response for
//! every failure, whether a handler returned it or the save after the handler
//! hit it.
//!
//! # Cost per request
//!
//! The layer adds four heap allocations to a request, counted exactly with a
//! counting allocator in `tests/allocations.rs` against the same router behind
//! a layer that does nothing:
//!
//! 1. the session handle (one `Arc` inside the core, made by
//!    `get_from_headers`, which does no I/O);
//! 2. its box in the request's extensions (`http::Extensions` boxes every
//!    value);
//! 3. the extensions map itself, when nothing created it before;
//! 4. the boxed response future, which has to hold the core's `set` future.
//!
//! Only when the response sets or expires the cookie, two more for the
//! header: the rendered `Set-Cookie` string and the `HeaderValue`'s buffer.
//! Reading the session, saving it, and the store's I/O allocate in the core
//! and the store, not here.
//!
//! [`SessionManager::get_from_headers`]: session_core::SessionManager::get_from_headers
//! [`SessionManager::set`]: session_core::SessionManager::set

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod extract;
mod layer;
mod login;

pub use error::{ErrorResponder, SessionError, default_error_response};
pub use extract::{MissingSessionLayer, Session};
pub use layer::{SessionFuture, SessionLayer, SessionService};
pub use login::{CurrentUser, LoginRejection};
