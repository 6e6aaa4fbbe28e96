//! Configuration: a spec string or a builder, checked once when the store is built.

use std::time::Duration;

use crate::store::MemcachedStore;
use session_core::ServerAddress;

/// The spec's scheme: `memcached://HOST:PORT[,HOST:PORT...]`.
const SCHEME: &str = "memcached://";

/// Default limit on dialing a server.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
/// Default limit on one exchange (request written, answer read).
pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_millis(500);
/// Default cap on connections in use per server.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
/// Default number of idle connections kept per server.
pub const DEFAULT_MAX_IDLE_CONNECTIONS: usize = 32;

/// What is wrong with a memcached store's configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The spec does not start with `memcached://`.
    #[error("memcached spec {spec:?} must start with {SCHEME}")]
    Scheme {
        /// The spec as given.
        spec: String,
    },
    /// No server was given.
    #[error("no memcached server given")]
    NoServers,
    /// A server address is malformed.
    #[error("invalid memcached server address {address:?}: {reason}")]
    Address {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The same server appears twice, which would skew the spread of sessions.
    #[error("memcached server {address} is listed twice")]
    DuplicateServer {
        /// The server's canonical address.
        address: String,
    },
    /// A timeout is zero, which would fail every call.
    #[error("the memcached {name} timeout must be more than zero")]
    ZeroTimeout {
        /// Which timeout.
        name: &'static str,
    },
    /// The connection cap is zero, which would fail every call.
    #[error("the memcached connection cap must be at least 1")]
    ZeroConnections,
}

/// The checked settings a store runs with.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) servers: Vec<ServerAddress>,
    pub(crate) connect_timeout: Duration,
    pub(crate) io_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_idle_connections: usize,
}

/// Builds a [`MemcachedStore`]; from [`MemcachedStore::builder`].
///
/// Nothing is checked until [`build`](Self::build), which reports the first mistake.
#[derive(Debug, Clone)]
pub struct MemcachedStoreBuilder {
    servers: Vec<String>,
    connect_timeout: Duration,
    io_timeout: Duration,
    max_connections: usize,
    max_idle_connections: usize,
}

impl Default for MemcachedStoreBuilder {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            io_timeout: DEFAULT_IO_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_idle_connections: DEFAULT_MAX_IDLE_CONNECTIONS,
        }
    }
}

impl MemcachedStoreBuilder {
    /// Adds a server: `HOST:PORT` text, or anything that displays that way (a `SocketAddr`).
    /// IPv6 addresses go in brackets: `[::1]:11211`.
    pub fn server(mut self, address: impl std::fmt::Display) -> Self {
        self.servers.push(address.to_string());
        self
    }

    /// How long dialing a server may take (default 300 ms).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one exchange with a server may take, request and answer (default 500 ms). A
    /// server that stops answering fails the call after this long.
    pub fn io_timeout(mut self, timeout: Duration) -> Self {
        self.io_timeout = timeout;
        self
    }

    /// The most connections in use at once per server (default 64). At the cap a call waits up
    /// to the connect timeout for a free connection, then fails as unavailable.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// How many idle connections each server keeps for reuse (default 32); connections beyond
    /// this are closed when their call ends.
    pub fn max_idle_connections(mut self, max: usize) -> Self {
        self.max_idle_connections = max;
        self
    }

    /// Checks the settings and makes the store. Connects to nothing: connections are made on
    /// first use, so an application starts even while memcached is down.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for a zero timeout or connection cap.
    pub fn build(self) -> Result<MemcachedStore, ConfigError> {
        Ok(MemcachedStore::new(self.check()?))
    }

    pub(crate) fn check(self) -> Result<Config, ConfigError> {
        if self.servers.is_empty() {
            return Err(ConfigError::NoServers);
        }
        let mut servers: Vec<ServerAddress> = Vec::with_capacity(self.servers.len());
        for text in &self.servers {
            let address = ServerAddress::parse(text).map_err(|error| ConfigError::Address {
                address: text.clone(),
                reason: error.reason(),
            })?;
            if servers.contains(&address) {
                return Err(ConfigError::DuplicateServer {
                    address: address.to_string(),
                });
            }
            servers.push(address);
        }
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout { name: "connect" });
        }
        if self.io_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout { name: "I/O" });
        }
        if self.max_connections == 0 {
            return Err(ConfigError::ZeroConnections);
        }
        Ok(Config {
            servers,
            connect_timeout: self.connect_timeout,
            io_timeout: self.io_timeout,
            max_connections: self.max_connections,
            max_idle_connections: self.max_idle_connections,
        })
    }
}

/// Reads `memcached://HOST:PORT[,HOST:PORT...]` into a builder with those servers.
pub(crate) fn parse_spec(spec: &str) -> Result<MemcachedStoreBuilder, ConfigError> {
    let scheme_ok = spec
        .get(..SCHEME.len())
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case(SCHEME));
    if !scheme_ok {
        return Err(ConfigError::Scheme {
            spec: spec.to_owned(),
        });
    }
    let list = &spec[SCHEME.len()..];
    if list.trim().is_empty() {
        return Err(ConfigError::NoServers);
    }
    Ok(list
        .split(',')
        .fold(MemcachedStoreBuilder::default(), |builder, server| {
            builder.server(server)
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_spec(spec: &str) -> Result<Config, ConfigError> {
        parse_spec(spec)?.check()
    }

    #[test]
    fn spec_with_several_servers() {
        let config =
            check_spec("memcached://10.0.0.1:11211, Cache:11212,[::1]:11213").expect("valid spec");
        let servers: Vec<String> = config.servers.iter().map(ToString::to_string).collect();
        assert_eq!(servers, ["10.0.0.1:11211", "cache:11212", "[::1]:11213"]);
        assert_eq!(config.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(config.io_timeout, DEFAULT_IO_TIMEOUT);
    }

    #[test]
    fn invalid_specs_say_what_is_wrong() {
        let cases = [
            ("127.0.0.1:11211", "must start with memcached://"),
            ("redis://127.0.0.1:6379", "must start with memcached://"),
            ("memcached://", "no memcached server given"),
            ("memcached://127.0.0.1", "expected HOST:PORT"),
            ("memcached://127.0.0.1:11211,", "expected HOST:PORT"),
            ("memcached://127.0.0.1:99999", "port must be between"),
            ("memcached://127.0.0.1:1/x", "port must be between"),
            (
                "memcached://127.0.0.1:11211,127.0.0.1:11211",
                "listed twice",
            ),
        ];
        for (spec, message) in cases {
            let error = check_spec(spec).expect_err(spec).to_string();
            assert!(error.contains(message), "{spec:?}: {error:?}");
        }
    }

    #[test]
    fn builder_rejects_settings_that_fail_every_call() {
        let builder = MemcachedStoreBuilder::default().server("127.0.0.1:11211");
        assert_eq!(
            builder.clone().io_timeout(Duration::ZERO).check().err(),
            Some(ConfigError::ZeroTimeout { name: "I/O" })
        );
        assert_eq!(
            builder
                .clone()
                .connect_timeout(Duration::ZERO)
                .check()
                .err(),
            Some(ConfigError::ZeroTimeout { name: "connect" })
        );
        assert_eq!(
            builder.max_connections(0).check().err(),
            Some(ConfigError::ZeroConnections)
        );
        assert_eq!(
            MemcachedStoreBuilder::default().check().err(),
            Some(ConfigError::NoServers)
        );
    }
}
