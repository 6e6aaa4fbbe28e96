//! axum 0.8 integration for [`session_core`].
//!
//! - [`SessionLayer`]: a tower layer that runs the core's request lifecycle:
//!   it starts each request's session from its `Cookie` headers and, after the
//!   handler, applies what the core answers.
//! - [`Session`]: the extractor handlers take; it dereferences to
//!   [`session_core::Session`].
//! - [`CurrentUser`]: the logged-in user, or a redirect to the login page;
//!   `Option<CurrentUser>` for pages that serve both.
//! - [`SessionError`]: session failures as responses, so handlers can use `?`.
//!
//! The adapter has no cookie, error or login logic of its own: the core
//! decides which `Set-Cookie` and `Cache-Control` a response gets (a session
//! that was created, changed, rotated or destroyed gets a cookie; one only
//! read, or not used at all, gets none), which error reply replaces a
//! handler's response, and where anonymous visitors are sent.
//!
//! # Quick start
//!
//! ```no_run
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
//! let manager = SessionManager::builder(MemoryStore::new(), KeyRing::generate())
//!     .secure(false) // plain-HTTP development only
//!     .login_url("/login")
//!     .build()?;
//! let app = Router::new()
//!     .route("/", get(hello)) // anonymous visitors get 303 /login?next=%2F
//!     .route("/visits", get(visits))
//!     .layer(SessionLayer::new(manager));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Log in with `session.login(&name).await?` (stores the user and rotates the
//! session ID), log out with `session.logout().await?`. Protect forms with
//! [`session_core::Session::csrf_token`] and
//! [`session_core::Session::verify_csrf`].
//!
//! # Errors
//!
//! A store that is down answers the manager's error reply, by default 503
//! `text/plain` (`service unavailable`) with nothing about the store in the
//! body; the cause is logged once by the core. The session remembers a failed
//! store operation, so the layer answers that reply and saves nothing whatever
//! the handler returned: [`SessionError`] or an application's own error type.
//! A 5xx response saves nothing either. Change the replies with
//! [`SessionManagerBuilder::error_reply`](session_core::SessionManagerBuilder::error_reply).
//!
//! Works with `Router::with_state`, nested routers (`next` is the full
//! original path), and multi-threaded runtimes (the service and its futures
//! are `Send`).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod extract;
mod layer;
mod login;

pub use extract::{MissingSessionLayer, Session, SessionError};
pub use layer::{SessionFuture, SessionLayer, SessionService};
pub use login::CurrentUser;
