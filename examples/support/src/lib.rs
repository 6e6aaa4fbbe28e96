//! What the example apps share besides framework glue.
//!
//! The apps (`example-axum`, `example-actix` and `example-hyper`) implement
//! one HTTP contract, so everything that is not about a framework lives here
//! once: the command line ([`options`]), startup ([`setup`]: secret, store,
//! session manager), the contract's input rules and session operations
//! ([`rules`]), strict form parsing ([`form`]), the HTML pages ([`html`]),
//! process plumbing ([`runtime`]: logging, the `listening on` line, shutdown
//! on SIGINT/SIGTERM within a deadline), and the HTTP/1.1 server of the axum
//! and hyper apps with its limits on slow and idle clients ([`http1`]).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod actions;
pub mod form;
pub mod html;
pub mod http1;
pub mod options;
pub mod rules;
pub mod runtime;
pub mod setup;

pub use setup::{Setup, start};
