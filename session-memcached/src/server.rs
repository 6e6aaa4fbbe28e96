//! One memcached server: its client, made on first use, and how its failures are sorted.
//!
//! Each server has its own single-server `memcache::exp::AsyncMemcache` (connection pool, one
//! deadline per exchange); [`Router`](crate::routing::Router) picks the server, so the client's
//! own router, whose hash is not fixed across Rust releases, is never used.

use std::fmt;

use memcache::exp::{AsyncMemcache, AsyncMetaClient, Error as ClientError};
use session_core::StoreError;
use tokio::sync::OnceCell;

use crate::config::Config;
use session_core::ServerAddress;

/// A server and its lazily made client.
pub(crate) struct Server {
    address: ServerAddress,
    client: OnceCell<AsyncMemcache>,
}

impl Server {
    pub(crate) fn new(address: ServerAddress) -> Self {
        Self {
            address,
            client: OnceCell::new(),
        }
    }

    /// The protocol-level client, made on the first call. Making it resolves the address, once
    /// for the store's life (connections are dialed later, per exchange, from the pool): a host
    /// name that later moves to another address needs a new store. A failure leaves nothing
    /// behind and the next call tries again. Callers waiting on another's attempt wait at most
    /// the connect timeout too, so a slow resolver cannot queue them past it.
    pub(crate) async fn client(&self, config: &Config) -> Result<&AsyncMetaClient, StoreError> {
        let made = self.client.get_or_try_init(|| async {
            let connecting = AsyncMemcache::builder()
                // An outage must be an error (503), never a miss (a new, empty session).
                .degrade(false)
                .connect_timeout(config.connect_timeout)
                .timeout(config.io_timeout)
                .max_connections(config.max_connections)
                .max_idle(config.max_idle_connections)
                .connect_async([self.address.as_str()]);
            match tokio::time::timeout(config.connect_timeout, connecting).await {
                Ok(connected) => connected,
                Err(_) => Err(timed_out()),
            }
        });
        let client = match tokio::time::timeout(config.connect_timeout, made).await {
            Ok(made) => made.map_err(|error| self.error(error))?,
            Err(_) => return Err(self.error(timed_out())),
        };
        Ok(client.meta())
    }

    /// Sorts a client error into the core's kinds, keeping it (and this server) as the cause.
    pub(crate) fn error(&self, error: ClientError) -> StoreError {
        let kind = Kind::of(&error);
        let error = ServerError {
            server: self.address.clone(),
            source: error,
        };
        tracing::debug!(%error, ?kind, "memcached call failed");
        match kind {
            Kind::Unavailable => StoreError::unavailable(error),
            Kind::ValueRefused => StoreError::value_refused(error),
            Kind::Other => StoreError::other(error),
        }
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("address", &self.address.as_str())
            .field("client_made", &self.client.initialized())
            .finish()
    }
}

fn timed_out() -> ClientError {
    std::io::Error::from(std::io::ErrorKind::TimedOut).into()
}

/// The core's error kinds, as decided from a client error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unavailable,
    ValueRefused,
    Other,
}

impl Kind {
    fn of(error: &ClientError) -> Self {
        match error {
            // Connection refused or reset, timeouts: the server is down or slow.
            ClientError::Io(_) | ClientError::Timeout { .. } => Self::Unavailable,
            // A request written whose answer failed; the failure itself decides. The client also
            // reports an error line answering a write (`SERVER_ERROR ...`) this way.
            ClientError::Ambiguous { source, .. } => Self::of(source),
            // `SERVER_ERROR object too large for cache`: over the server's item limit (`-I`).
            ClientError::Server(message) if message.contains("too large") => Self::ValueRefused,
            // Any other `SERVER_ERROR` is the server refusing for now: `out of memory storing
            // object` from a full server started with `-M`, a busy or temporarily failing one.
            // The client should retry later: a 503, like an unreachable server.
            ClientError::Server(_) => Self::Unavailable,
            // A bare `ERROR` is what memcached sends before closing a connection over its
            // limit (`-c`, "Too many open connections"): a full server, temporarily.
            ClientError::Rejected(message) if message == "ERROR" => Self::Unavailable,
            _ => Self::Other,
        }
    }
}

/// A client error with the server it came from.
#[derive(Debug, thiserror::Error)]
#[error("memcached {server}: {source}")]
struct ServerError {
    server: ServerAddress,
    #[source]
    source: ClientError,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_sorted_by_what_the_caller_should_do() {
        let io = || ClientError::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(Kind::of(&io()), Kind::Unavailable);
        assert_eq!(
            Kind::of(&ClientError::Timeout { key: Vec::new() }),
            Kind::Unavailable
        );
        let ambiguous = ClientError::Ambiguous {
            key: Vec::new(),
            source: Box::new(io()),
        };
        assert_eq!(Kind::of(&ambiguous), Kind::Unavailable);
        let too_large = ClientError::Server("object too large for cache".to_owned());
        assert_eq!(Kind::of(&too_large), Kind::ValueRefused);
        let written_too_large = ClientError::Ambiguous {
            key: Vec::new(),
            source: Box::new(too_large),
        };
        assert_eq!(Kind::of(&written_too_large), Kind::ValueRefused);
        let full = ClientError::Rejected("ERROR".to_owned());
        assert_eq!(
            Kind::of(&full),
            Kind::Unavailable,
            "over memcached's connection limit"
        );
        let out_of_memory = ClientError::Server("out of memory storing object".to_owned());
        assert_eq!(
            Kind::of(&out_of_memory),
            Kind::Unavailable,
            "a full server started with -M refuses for now"
        );
        assert_eq!(
            Kind::of(&ClientError::Protocol("bad".to_owned())),
            Kind::Other
        );
    }
}
