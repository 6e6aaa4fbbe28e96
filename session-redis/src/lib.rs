//! A Redis [`Store`](session_core::Store) for `session-core`, on one server or a Redis Cluster.
//!
//! # Configuration
//!
//! From a spec, as an application reads it from its environment:
//!
//! ```
//! use session_redis::RedisStore;
//!
//! // One server (a primary, or a proxy in front of one), database 0:
//! let store = RedisStore::from_spec("redis://10.0.0.1:6379")?;
//! // With a password (URL-encoded), an ACL user and database 2:
//! let store = RedisStore::from_spec("redis://app:s3cr%40t@10.0.0.1:6379/2")?;
//! // A Redis Cluster, named by some of its nodes:
//! let store = RedisStore::from_spec("redis+cluster://10.0.0.1:7000,10.0.0.2:7000")?;
//! # Ok::<(), session_redis::ConfigError>(())
//! ```
//!
//! or from a builder, which also sets the timeouts:
//!
//! ```
//! use std::time::Duration;
//! use session_redis::RedisStore;
//!
//! let store = RedisStore::builder()
//!     .server("[::1]:6379") // or .cluster_node(...) once per seed node
//!     .password("s3cr@t")
//!     .connect_timeout(Duration::from_millis(300)) // the default
//!     .response_timeout(Duration::from_millis(500)) // the default
//!     .build()?;
//! # Ok::<(), session_redis::ConfigError>(())
//! ```
//!
//! A malformed spec or setting is a [`ConfigError`] from `from_spec` or `build`; it never repeats
//! a password (nor does the store's `Debug` output). Building connects to nothing: the
//! connection is made on first use, so an application starts even while Redis is down.
//!
//! # One round trip per operation
//!
//! Every store operation is one Redis command: loading is a `GETEX` (get and refresh the TTL),
//! creating a `SET ... NX`, saving a `SET`, or, when the core passes the version it loaded, a
//! compare-and-set script run with `EVALSHA`, which writes only if the record still holds that
//! version. The [`store`] module lists the commands.
//!
//! A record is stored as one string: the sealed bytes followed by a random 128-bit version tag
//! drawn on every write. Versions never come from a counter, never repeat after a delete and a
//! new create, and survive a touch.
//!
//! # TTLs
//!
//! Redis counts expiry in milliseconds: the store sends the TTL rounded up to the next
//! millisecond (`PX`), so a session never expires early and outlives its timeout by under a
//! millisecond.
//!
//! # Redis Cluster
//!
//! Sessions spread over all slots: their keys share no hash tag (keep braces out of the session
//! namespace, or every key lands in one slot). Every command and the compare-and-set script
//! touch one key, so each runs on the node that owns it. Listing a user's sessions reads many
//! keys at once: the client splits that `MGET` per slot and sends the parts to their nodes
//! together, one round trip per node. The client follows `MOVED` and `ASK` redirections and
//! refreshes its slot map by itself.
//!
//! # Failures
//!
//! A server that is down, slow, or temporarily refusing (loading its data, busy with a script,
//! out of memory with a `noeviction` policy, read-only in a failover, at its client limit, a
//! cluster that is down) gives
//! [`StoreError::Unavailable`](session_core::StoreError::Unavailable) (adapters answer 503),
//! never a panic, a hang or a silent miss. A call takes at most the connect timeout (when it
//! has to connect) plus the response timeout; a compare-and-set that must first send its script
//! to a restarted server, one more response timeout; the first call on a cluster, twice the
//! connect timeout to read the slot map and reach the nodes. When the server is back the next
//! call reconnects; nothing needs rebuilding. A record over
//! [`max_value_size`](RedisStoreBuilder::max_value_size) (1 MiB by default, which every server
//! accepts) is [`StoreError::ValueRefused`](session_core::StoreError::ValueRefused) without a
//! round trip. A wrong password, a key holding another type, or an unexpected answer is
//! [`StoreError::Other`](session_core::StoreError::Other).
//!
//! All calls to a server share one multiplexed connection, and a call cancelled mid-exchange (a
//! request past its deadline) leaves it usable: the late answer is read and discarded. A
//! connection that breaks, that the server closes (a restart, noticed even while idle), or whose
//! server stops answering within the response timeout is replaced on the next call; calls still
//! waiting on it finish there. On one server each call makes one attempt: nothing is retried
//! behind the caller's back, so a write is never applied twice. The cluster client does resend a
//! command after a redirection or a broken connection (within the response timeout), so a write
//! may run twice there: the compare-and-set script is safe to run twice (see [`script`]), a
//! create run again after it succeeded answers "taken" (the core then claims another session ID
//! and the first record expires unused), and a delete run again answers "absent".
//!
//! # Requirements and limits
//!
//! Redis 6.2 or newer (`GETEX`, RESP3). TLS (`rediss://`) and Sentinel are not supported; a
//! Redis behind a TLS-terminating proxy, or a managed endpoint that follows failovers, works as a
//! single server. With a `maxmemory` policy that evicts keys (`allkeys-*`, `volatile-*`), Redis
//! may drop sessions under memory pressure, logging users out; `noeviction` turns a full server
//! into 503s instead. A session's data is only as durable as the server's persistence settings.
//!
//! The client is the [`redis`] crate; nothing of it appears in this crate's API.

#![forbid(unsafe_code)]

mod config;
mod connection;
mod errors;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz_entry;
pub mod record;
pub mod script;
pub mod store;
mod ttl;

pub use config::{
    ConfigError, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_VALUE_SIZE, DEFAULT_RESPONSE_TIMEOUT,
    RedisStoreBuilder,
};
pub use store::RedisStore;
