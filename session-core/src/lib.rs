//! Server-side sessions for any Rust web framework.
//!
//! `session-core` holds all the session logic once; thin adapters (axum,
//! actix-web, hyper) map each framework's requests and responses onto two
//! calls, and stores (in-memory, memcached, your own) only move bytes.
//!
//! # The lifecycle of a session
//!
//! 1. **A request arrives.** The adapter hands the `Cookie` headers to
//!    [`SessionManager::start`], which verifies the session cookie and returns
//!    a [`Session`] handle. No I/O happens yet.
//! 2. **The handler uses it.** The first method that needs data
//!    ([`Session::get`], [`Session::insert`], …) loads the record with one
//!    store call that also pushes the idle timeout forward. A cookie that does
//!    not verify, or whose record is missing, expired or does not open, gives a
//!    new empty session; the client's ID is never adopted.
//! 3. **The response leaves.** The adapter calls [`SessionManager::finish`]
//!    with the response's status and applies the [`RequestEnd`] it answers:
//!    headers to add (`Set-Cookie` with `Cache-Control: no-store` when the
//!    session was created, changed, rotated or destroyed), or an
//!    [`ErrorReply`] to send instead. A request that only reads sends no
//!    `Set-Cookie`; a new session that stays empty is never written and sets
//!    no cookie.
//!
//! Instead of the two calls, an adapter may run the whole request in
//! [`SessionManager::scope`]: the handler then gets its session with
//! [`current_session`], which starts it on first use, and a request that
//! never asks costs no allocation at all (the hyper adapter does this).
//!
//! A session whose store operation failed during the handler remembers it:
//! `finish` then saves nothing and answers the configured error reply (503 for
//! an unavailable store), whatever error type the handler wrapped the failure
//! in. A 5xx response saves nothing either. Failures are logged once, here,
//! with the same fields for every framework.
//!
//! # Blind writes and transactions
//!
//! [`Session::insert`] and [`Session::remove`] are *blind writes*: they change
//! this request's copy, and the end of the request merges the changed keys into
//! whatever the session holds by then. Two requests setting different keys
//! both persist. Use them for values that do not depend on what is stored:
//! a theme, a language, the last page seen.
//!
//! [`Session::transaction`] is for read-modify-write: counters, caps, carts,
//! anything computed from the stored value. The closure runs on the latest
//! data and its changes are committed (compare-and-set) before the call
//! returns, so the value it answers describes committed state; when another
//! process wrote first, it runs again on the fresh data. Within one process a
//! session's writers are queued and committed in batches, so they never
//! conflict, and a hot session commits at the rate of store round trips.
//! Write one key either blind or in transactions within a request, never both.
//!
//! ```
//! # use session_core::{KeyRing, MemoryStore, SessionManager};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), session_core::Error> {
//! # let manager = SessionManager::builder(MemoryStore::new(), KeyRing::generate()).build().unwrap();
//! # let session = manager.start([]);
//! // Blind: the value does not depend on what is stored.
//! session.insert("theme", "dark").await?;
//! // Read-modify-write: a transaction, so concurrent requests count exactly.
//! let visits = session
//!     .transaction(|data| {
//!         let visits = data.get::<u64>("visits")?.unwrap_or(0) + 1;
//!         data.insert("visits", &visits)?;
//!         Ok::<_, session_core::Error>(visits)
//!     })
//!     .await??;
//! # assert_eq!(visits, 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Logging in and out
//!
//! [`Session::login`] stores the user under the manager's user key and rotates
//! the session ID in one step (the old ID stops working at once);
//! [`Session::logout`] deletes the record on the server, not just in the
//! browser. [`Session::current_user`] reads the user back, and
//! [`Session::login_redirect`] is where a login-required page sends anonymous
//! visitors (`/login?next=...`). Protect forms with [`Session::csrf_token`] and
//! [`Session::verify_csrf`].
//!
//! # A user's sessions
//!
//! [`Session::login`] also lists the session in its user's index, a sealed
//! record in the same store under a keyed hash of the user's identity. From
//! any of a user's sessions, [`Session::user_sessions`] lists the live ones
//! (each with an opaque handle, its creation time, and whether it is the
//! current one), [`Session::end_user_session`] ends one by its handle,
//! [`Session::end_other_user_sessions`] all but the current one, and
//! [`Session::logout_everywhere`] all of them: records are deleted, so every
//! instance sees it on the next request. A session its user's index no longer
//! lists is refused, checked at most once per
//! [`index_check_interval`](SessionManagerBuilder::index_check_interval) per
//! session; an index lost altogether (evicted, say) is rebuilt by its user's
//! sessions until one of them ends. Requests that do none of this make no
//! extra store call. Custom stores answer the listing's multi-key read with
//! [`Store::load_many`], which has a default.
//!
//! # Expiry
//!
//! A session expires after the *idle timeout* without a request that loads it,
//! and after the *absolute timeout* from its creation whatever its activity.
//! The store enforces the first through TTLs, never longer than the time left
//! before the second; the core checks the second on every load, from the
//! creation time signed into the cookie (an expired cookie costs no store
//! call) and from the record, which must agree. The cookie's `Max-Age` is the time left until the absolute
//! timeout, so browsers keep it exactly as long as it could be valid.
//!
//! # The security model
//!
//! - **IDs** are 256 bits from the operating system's CSPRNG.
//! - **Cookies** carry the ID, the session's creation time and an HMAC-SHA256
//!   tag over both, checked in constant time
//!   against every key of the [`KeyRing`]: the first key signs, all verify, so
//!   keys rotate without logging anyone out. Defaults are `HttpOnly`,
//!   `SameSite=Lax`, `Path=/` and `Secure`.
//! - **Store keys** are a namespace plus the SHA-256 of the ID: reading every
//!   key in the store yields no usable cookie.
//! - **Records are sealed** with XChaCha20-Poly1305 under a key derived from the
//!   ring, with the store key as associated data. Whoever can write to the
//!   store (memcached has no authentication) cannot read a session, forge one,
//!   alter one, or copy a logged-in user's record over their own key: any such
//!   record opens as nothing, and the session starts empty. What remains
//!   possible for such an attacker: deleting records (logging users out), and
//!   putting back an older sealed record of the *same* session while it lives.
//! - **Decoding never runs code**: records are MessagePack read into plain
//!   types, unlike the pickle of the Python project this replaces.
//! - **Concurrent requests lose no update**: writers of one session in one
//!   process are ordered by the manager, and on stores with compare-and-set a
//!   write that finds the record changed by another process runs again on top
//!   of it. A logout or ID rotation wins over racing writes, which are
//!   dropped rather than bring the session back.
//!
//! Signing and sealing keys are derived from each secret with HKDF under
//! distinct labels, so no key serves two purposes.
//!
//! # Quick start
//!
//! ```
//! use session_core::{KeyRing, MemoryStore, SessionManager};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = SessionManager::builder(MemoryStore::new(), KeyRing::generate())
//!     .secure(false) // plain-HTTP development only
//!     .build()?;
//!
//! // First request: no cookie.
//! let session = manager.start([]);
//! session.insert("visits", &1u32).await?;
//! let end = manager.finish(&session, 200).await;
//! assert!(end.error_reply().is_none());
//! let cookie = end.set_cookie().expect("a new session sets a cookie");
//! assert_eq!(end.cache_control(), Some("no-store"));
//!
//! // Next request: the browser sends the cookie back.
//! let header = format!("{}={}", cookie.name(), cookie.value());
//! let session = manager.start([header.as_bytes()]);
//! assert_eq!(session.get::<u32>("visits").await?, Some(1));
//! let end = manager.finish(&session, 200).await;
//! assert!(end.set_cookie().is_none(), "reading sets no cookie");
//! # Ok(())
//! # }
//! ```
//!
//! # Metrics
//!
//! Counters and a histogram go through the [`metrics`](https://docs.rs/metrics)
//! facade; the application picks the exporter (without one they cost next to
//! nothing):
//!
//! | name | type | labels | counts |
//! | --- | --- | --- | --- |
//! | `sessions_loaded_total` | counter | `outcome`: `found`, `missing`, `expired`, `refused` | loads of a session named by a valid cookie |
//! | `sessions_created_total` | counter | | new sessions written for the first time |
//! | `sessions_saved_total` | counter | | commits of an existing session (one batch of queued writes counts once) |
//! | `session_save_conflicts_total` | counter | | compare-and-set saves that lost to another writer |
//! | `session_save_retries_total` | counter | | saves tried again after a conflict |
//! | `sessions_rotated_total` | counter | | ID rotations of stored sessions (a login on a session not stored yet counts as created) |
//! | `sessions_destroyed_total` | counter | | logouts of a session named by a valid cookie |
//! | `session_failures_total` | counter | `kind`: `unavailable`, `internal` | failures that failed a request |
//! | `session_store_call_seconds` | histogram | `op`: `load`, `load_many`, `load_and_touch`, `create`, `save`, `delete` | store call latency |
//!
//! # Writing a store
//!
//! A [`Store`] sees whole keys and opaque bytes. Here is a complete one over a
//! mutex-guarded map: TTLs kept to the instant, compare-and-set through a
//! version counter that never restarts, `create` atomic under the lock. It
//! passes the conformance suite, which the example runs:
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::time::{Duration, Instant};
//!
//! use session_core::{async_trait, Loaded, SaveOutcome, Store, StoreError, Version};
//!
//! #[derive(Debug, Default)]
//! struct MapStore {
//!     /// Bytes, version and expiry by key.
//!     records: Mutex<HashMap<String, (Vec<u8>, u64, Instant)>>,
//!     /// Never restarts, so no version comes back for a key, even after a
//!     /// delete and a create.
//!     next_version: AtomicU64,
//! }
//!
//! type Records = HashMap<String, (Vec<u8>, u64, Instant)>;
//!
//! impl MapStore {
//!     fn records(&self) -> Result<std::sync::MutexGuard<'_, Records>, StoreError> {
//!         self.records.lock().map_err(|_| StoreError::other("a thread panicked holding the lock"))
//!     }
//!
//!     /// The live record at `key`; an expired one is dropped.
//!     fn live<'a>(records: &'a mut Records, key: &str) -> Option<&'a mut (Vec<u8>, u64, Instant)> {
//!         if records.get(key).is_some_and(|(_, _, expires)| *expires <= Instant::now()) {
//!             records.remove(key);
//!         }
//!         records.get_mut(key)
//!     }
//!
//!     fn write(&self, records: &mut Records, key: &str, value: &[u8], ttl: Duration) -> Version {
//!         let version = self.next_version.fetch_add(1, Ordering::Relaxed);
//!         records.insert(key.to_owned(), (value.to_vec(), version, Instant::now() + ttl));
//!         Version::from_u64(version)
//!     }
//! }
//!
//! #[async_trait]
//! impl Store for MapStore {
//!     async fn load(&self, key: &str) -> Result<Option<Loaded>, StoreError> {
//!         let mut records = self.records()?;
//!         Ok(Self::live(&mut records, key)
//!             .map(|(bytes, version, _)| Loaded::new(bytes.clone(), Version::from_u64(*version))))
//!     }
//!
//!     async fn load_and_touch(&self, key: &str, ttl: Duration) -> Result<Option<Loaded>, StoreError> {
//!         let mut records = self.records()?;
//!         Ok(Self::live(&mut records, key).map(|(bytes, version, expires)| {
//!             *expires = Instant::now() + ttl;
//!             Loaded::new(bytes.clone(), Version::from_u64(*version))
//!         }))
//!     }
//!
//!     async fn create(&self, key: &str, value: &[u8], ttl: Duration) -> Result<Option<Version>, StoreError> {
//!         let mut records = self.records()?;
//!         if Self::live(&mut records, key).is_some() {
//!             return Ok(None);
//!         }
//!         Ok(Some(self.write(&mut records, key, value, ttl)))
//!     }
//!
//!     async fn save(
//!         &self,
//!         key: &str,
//!         value: &[u8],
//!         ttl: Duration,
//!         expected: Option<Version>,
//!     ) -> Result<SaveOutcome, StoreError> {
//!         let mut records = self.records()?;
//!         if let Some(expected) = expected {
//!             match Self::live(&mut records, key) {
//!                 None => return Ok(SaveOutcome::Gone),
//!                 Some((_, current, _)) if Version::from_u64(*current) != expected => {
//!                     return Ok(SaveOutcome::Conflict);
//!                 }
//!                 Some(_) => {}
//!             }
//!         }
//!         Ok(SaveOutcome::saved(self.write(&mut records, key, value, ttl)))
//!     }
//!
//!     async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
//!         let mut records = self.records()?;
//!         Ok(Self::live(&mut records, key)
//!             .map(|(_, _, expires)| *expires = Instant::now() + ttl)
//!             .is_some())
//!     }
//!
//!     async fn delete(&self, key: &str) -> Result<bool, StoreError> {
//!         let mut records = self.records()?;
//!         Ok(Self::live(&mut records, key).is_some() && records.remove(key).is_some())
//!     }
//!
//!     fn supports_compare_and_set(&self) -> bool {
//!         true
//!     }
//! }
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() {
//! // With the `test-suite` feature (in your dev-dependencies):
//! # #[cfg(feature = "test-suite")]
//! # {
//! let options = session_core::conformance::Options::new().max_ttl_lateness(Duration::from_millis(50));
//! session_core::conformance::run_with(&options, || async { MapStore::default() }).await;
//! # }
//! # }
//! ```
//!
//! See [`Store`] for the contract, and the `conformance` module (feature
//! `test-suite`) for the suite.
//!
//! # Features
//!
//! - `http`: the request lifecycle in `http` 1.x types
//!   (`SessionManager::start_from_header_map`, `RequestEnd::apply_headers`,
//!   `ErrorReply::to_response`), for axum and hyper.
//! - `test-suite`: the public store conformance suite (`conformance`), store
//!   wrappers that count, fail or hold calls for tests (`test_stores`), and the
//!   adapter test kit (`adapter_kit`): in-process scenarios every framework
//!   adapter runs against its own middleware.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod codec;
mod cookie;
mod data;
mod error;
mod id;
mod keys;
mod lifecycle;
pub mod login;
mod manager;
mod memory;
mod scope;
mod seal;
mod server_address;
mod session;
mod signing;
mod store;
mod telemetry;
mod user_index;

#[cfg(feature = "test-suite")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-suite")))]
pub mod conformance;

#[cfg(feature = "test-suite")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-suite")))]
pub mod test_stores;

#[cfg(feature = "test-suite")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-suite")))]
pub mod adapter_kit;

#[cfg(feature = "bench-internals")]
#[doc(hidden)]
pub mod bench_internals;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz_entry;

pub use async_trait::async_trait;
pub use cookie::{CookieLifetime, SameSite, SetCookie};
pub use data::SessionData;
pub use error::{BoxError, ConfigError, Error, ErrorKind, StoreError};
pub use keys::{KeyRing, MIN_SECRET_BYTES};
pub use lifecycle::{ErrorReply, RequestEnd};
pub use manager::{DEFAULT_COOKIE_NAME, HOST_COOKIE_NAME, SessionManager, SessionManagerBuilder};
pub use memory::MemoryStore;
#[cfg(feature = "http")]
pub use scope::current_session_in;
pub use scope::{Ending, Scoped, current_session};
pub use server_address::{InvalidAddress, ServerAddress};
pub use session::{Session, UserSession};
pub use store::{IntoStore, Loaded, SaveOutcome, Store, Version};
