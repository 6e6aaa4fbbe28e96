//! actix-web 4 integration for [`session_core`].
//!
//! - [`SessionMiddleware`]: the middleware that runs the core's request
//!   lifecycle: it starts each request's session from its `Cookie` headers
//!   and, after the handler, applies what the core answers.
//! - [`Session`]: the extractor handlers take; it dereferences to
//!   [`session_core::Session`]. [`SessionExt`] reaches it from an
//!   `HttpRequest`, a `ServiceRequest` or a guard.
//! - [`CurrentUser`]: the logged-in user, or a redirect to the login page;
//!   `Option<CurrentUser>` for pages that serve both.
//! - [`SessionError`]: session failures as responses, so handlers can use `?`.
//!
//! The adapter has no cookie, error or login logic of its own: the core
//! decides which `Set-Cookie` and `Cache-Control` a response gets (a session
//! that was created, changed, rotated or destroyed gets a cookie; one only
//! read, or not used at all, gets none), which error reply replaces a
//! handler's response, and where anonymous visitors are sent. The adapter
//! only translates: `Cookie` header bytes in, the status out, the core's
//! headers (appending `Set-Cookie`, replacing `Cache-Control`) or its error
//! reply back into actix-web's (http 0.2) types.
//!
//! # Quick start
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use adapter_actix::{CurrentUser, Session, SessionError, SessionMiddleware};
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
//! // The factory runs once per worker; every clone shares one store.
//! HttpServer::new(move || {
//!     App::new()
//!         .wrap(SessionMiddleware::new(manager.clone()))
//!         .route("/", web::get().to(hello)) // anonymous visitors get 303 /login?next=%2F
//!         .route("/visits", web::get().to(visits))
//! })
//! .bind("127.0.0.1:8080")?
//! .run()
//! .await?;
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
//! store operation, so the middleware answers that reply and saves nothing
//! whatever the handler returned: [`SessionError`], an application's own
//! `ResponseError` type, or a page rendered after ignoring the error. A 5xx
//! response saves nothing either. Change the replies with
//! [`SessionManagerBuilder::error_reply`](session_core::SessionManagerBuilder::error_reply).
//!
//! A route without the middleware answers 500 naming it
//! ([`MissingSessionMiddleware`]), and logs the same.
//!
//! # Workers, scopes, `!Send` handlers
//!
//! Build the middleware inside the `App` factory, one per worker, from a
//! cloned [`SessionManager`](session_core::SessionManager); wrap an `App` or
//! any `web::scope` (`next` is still the full path, since actix-web keeps the
//! request's URI whole). Nothing here needs `Send`, and nothing blocks: the
//! store calls are the core's async ones. Wrap the middleware *outside* any
//! middleware that wants the session through [`SessionExt`] (in actix-web the
//! last `.wrap` is the outermost).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod extract;
mod login;
mod middleware;

pub use extract::{MissingSessionMiddleware, Session, SessionError, SessionExt};
pub use login::CurrentUser;
pub use middleware::{SessionMiddleware, SessionService};
