//! A memcached [`Store`](session_core::Store) for `session-core`.
//!
//! # Configuration
//!
//! From a spec, as an application reads it from its environment:
//!
//! ```
//! use session_memcached::MemcachedStore;
//!
//! let store = MemcachedStore::from_spec("memcached://10.0.0.1:11211,10.0.0.2:11211")?;
//! # Ok::<(), session_memcached::ConfigError>(())
//! ```
//!
//! or from a builder, which also sets timeouts and pool limits:
//!
//! ```
//! use std::time::Duration;
//! use session_memcached::MemcachedStore;
//!
//! let store = MemcachedStore::builder()
//!     .server("10.0.0.1:11211")
//!     .server("[::1]:11211")
//!     .connect_timeout(Duration::from_millis(300)) // the default
//!     .io_timeout(Duration::from_millis(500)) // the default
//!     .max_connections(64) // per server, the default
//!     .build()?;
//! # Ok::<(), session_memcached::ConfigError>(())
//! ```
//!
//! A malformed spec or setting is a [`ConfigError`] from `from_spec` or `build`. Building
//! connects to nothing: connections are made on first use and pooled per server, so an
//! application starts even while memcached is down.
//!
//! # One round trip per operation
//!
//! Every store operation is one memcached meta command: loading is a get-and-touch, creating is
//! an add, saving a set (a CAS set when the core passes the version it loaded), touching and
//! deleting one command each. The record's version is memcached's CAS value, so concurrent
//! requests never silently overwrite each other. The [`store`] module lists the commands.
//!
//! # TTLs
//!
//! memcached counts expiry in whole seconds, reads 0 as "never" and anything above 30 days as a
//! Unix time. The store sends the TTL rounded up plus one second, and long TTLs as absolute
//! times. A record never expires early, and outlives its TTL by at most three seconds: the rounding
//! up (under a second), the added second, and memcached's clock, which ticks once a second (the
//! bound the conformance suite is given).
//!
//! # Several servers
//!
//! Sessions spread over all servers by rendezvous hashing over a fixed hash function, so a
//! session stays on its server across restarts and Rust upgrades, one server written two ways
//! routes the same, and removing a server moves only its own sessions (which are lost: memcached
//! does not replicate). Host names are compared as written, not resolved.
//!
//! # Failures
//!
//! A server that is down or does not answer within the timeouts gives
//! [`StoreError::Unavailable`](session_core::StoreError::Unavailable) (adapters answer 503),
//! never a panic, a hang or a silent miss; a call stops at its first failure. When the server is
//! back, the next call reconnects; nothing needs rebuilding. (A server given by host name is
//! resolved once, on first use: if the name moves to another address, build a new store.) A
//! server at its connection limit (`-c`) is unavailable too. A value larger than the server's
//! item limit (`-I`, 1 MiB by default) is
//! [`StoreError::ValueRefused`](session_core::StoreError::ValueRefused), and memcached drops the
//! record the value was meant to replace; the core's default record limit (1,000,000 bytes)
//! stays below the default item limit. memcached must run with CAS (without `-C`): a server
//! without it is a clear error on the first write.
//!
//! The client is `memcache::exp::AsyncMemcache` (its protocol layer), pinned to an exact version
//! since that module is marked experimental; nothing of it appears in this crate's API.

#![forbid(unsafe_code)]

mod config;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz_entry;
mod routing;
mod server;
pub mod store;
mod ttl;

pub use config::{
    ConfigError, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IO_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_IDLE_CONNECTIONS, MemcachedStoreBuilder,
};
pub use store::MemcachedStore;
