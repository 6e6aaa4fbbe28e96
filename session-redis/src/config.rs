//! Configuration: a spec string or a builder, checked once when the store is built.

use std::fmt;
use std::time::Duration;

use crate::store::RedisStore;
use session_core::ServerAddress;

/// The spec scheme of a single Redis server: `redis://[[USERNAME]:PASSWORD@]HOST:PORT[/DB]`.
const SCHEME: &str = "redis://";
/// The spec scheme of a Redis Cluster: `redis+cluster://[[USERNAME]:PASSWORD@]HOST:PORT[,...]`.
const CLUSTER_SCHEME: &str = "redis+cluster://";

/// Default limit on dialing a server (and on its connection handshake).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
/// Default limit on one exchange (request written, answer read).
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
/// Default largest record the store sends: 1 MiB less the 16-byte version tag stored with it.
///
/// 1 MiB is the smallest `proto-max-bulk-len` a Redis server can be set to, so every server
/// accepts a record up to this size, and it is above `session-core`'s default record limit
/// (1,000,000 bytes).
pub const DEFAULT_MAX_VALUE_SIZE: usize = 1024 * 1024 - crate::record::TAG_LEN;

/// What is wrong with a Redis store's configuration.
///
/// No variant repeats a password: a spec with credentials is named by its scheme only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The spec starts with neither `redis://` nor `redis+cluster://`.
    #[error("a Redis spec must start with {SCHEME} or {CLUSTER_SCHEME}, not {scheme:?}")]
    Scheme {
        /// What the spec starts with, up to `://` (the rest may hold a password).
        scheme: String,
    },
    /// No server was given.
    #[error("no Redis server given")]
    NoServers,
    /// Several servers for a single-server store: a Redis Cluster is named as one.
    #[error(
        "several Redis servers for a single-server store; for a Redis Cluster use \
         {CLUSTER_SCHEME} (or RedisStoreBuilder::cluster_node)"
    )]
    SeveralServers,
    /// Both a single server and cluster nodes were given.
    #[error("a Redis store is either one server or a cluster, not both")]
    ServerAndCluster,
    /// A server address is malformed.
    #[error("invalid Redis server address {address:?}: {reason}")]
    Address {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The same server appears twice.
    #[error("Redis server {address} is listed twice")]
    DuplicateServer {
        /// The server's canonical address.
        address: String,
    },
    /// The credentials part of a spec (`USERNAME:PASSWORD@`) is malformed.
    #[error("invalid Redis credentials in the spec: {reason}")]
    Credentials {
        /// What is wrong with them (never the credentials themselves).
        reason: &'static str,
    },
    /// The database part of a spec (`/DB`) is not a number.
    #[error("invalid Redis database {database:?}: expected a number")]
    Database {
        /// The database as given.
        database: String,
    },
    /// A database other than 0 for a cluster, which has only database 0.
    #[error("a Redis Cluster has only database 0")]
    DatabaseInCluster,
    /// A timeout is zero, which would fail every call.
    #[error("the Redis {name} timeout must be more than zero")]
    ZeroTimeout {
        /// Which timeout.
        name: &'static str,
    },
    /// The value size limit is zero, which would refuse every write.
    #[error("the Redis value size limit must be at least 1 byte")]
    ZeroValueSize,
    /// The `redis` client refused the settings.
    #[error("the Redis client refused the settings: {reason}")]
    Client {
        /// The client's message.
        reason: String,
    },
}

/// Where the records live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Topology {
    /// One server (a primary, or a proxy in front of several).
    Single(ServerAddress),
    /// A Redis Cluster, found from these seed nodes.
    Cluster(Vec<ServerAddress>),
}

/// The checked settings a store runs with.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) topology: Topology,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) database: u32,
    pub(crate) connect_timeout: Duration,
    pub(crate) response_timeout: Duration,
    pub(crate) max_value_size: usize,
}

impl Config {
    /// What errors and logs name: the server, or the cluster's seed nodes.
    pub(crate) fn target(&self) -> String {
        match &self.topology {
            Topology::Single(server) => server.to_string(),
            Topology::Cluster(nodes) => {
                let nodes: Vec<String> = nodes.iter().map(ToString::to_string).collect();
                format!("cluster {}", nodes.join(","))
            }
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("topology", &self.topology)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("database", &self.database)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("max_value_size", &self.max_value_size)
            .finish()
    }
}

/// Builds a [`RedisStore`]; from [`RedisStore::builder`].
///
/// Nothing is checked until [`build`](Self::build), which reports the first mistake. `Debug`
/// never shows the password.
#[derive(Clone)]
pub struct RedisStoreBuilder {
    servers: Vec<String>,
    cluster_nodes: Vec<String>,
    username: Option<String>,
    password: Option<String>,
    database: u32,
    connect_timeout: Duration,
    response_timeout: Duration,
    max_value_size: usize,
}

impl Default for RedisStoreBuilder {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            cluster_nodes: Vec::new(),
            username: None,
            password: None,
            database: 0,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            max_value_size: DEFAULT_MAX_VALUE_SIZE,
        }
    }
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("servers", &self.servers)
            .field("cluster_nodes", &self.cluster_nodes)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("database", &self.database)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("max_value_size", &self.max_value_size)
            .finish()
    }
}

impl RedisStoreBuilder {
    /// Sets the one server of a single-server store: `HOST:PORT` text, or anything that displays
    /// that way (a `SocketAddr`). IPv6 addresses go in brackets: `[::1]:6379`.
    ///
    /// The store does not spread sessions over several servers itself; for that, run a Redis
    /// Cluster and name its nodes with [`cluster_node`](Self::cluster_node).
    pub fn server(mut self, address: impl fmt::Display) -> Self {
        self.servers.push(address.to_string());
        self
    }

    /// Adds a seed node of a Redis Cluster, as `HOST:PORT`. One reachable node is enough to
    /// find the others; naming several lets the store start while one of them is down.
    pub fn cluster_node(mut self, address: impl fmt::Display) -> Self {
        self.cluster_nodes.push(address.to_string());
        self
    }

    /// The ACL user to log in as (Redis 6+); without it, `AUTH` uses the default user.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// The password (`requirepass`, or the ACL user's). `Debug` output and errors never show it.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// The database number on a single server (default 0). A cluster has only database 0.
    pub fn database(mut self, database: u32) -> Self {
        self.database = database;
        self
    }

    /// How long dialing a server and its connection handshake may take (default 300 ms).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one exchange may take, request and answer (default 500 ms). A server that stops
    /// answering fails the call after this long.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// The largest sealed record the store sends (default [`DEFAULT_MAX_VALUE_SIZE`]: 1 MiB less
    /// the 16-byte version tag). A larger record is
    /// [`StoreError::ValueRefused`](session_core::StoreError::ValueRefused) without a round trip.
    ///
    /// Raise it, up to the server's `proto-max-bulk-len` (512 MB by default) less 16, together
    /// with the session manager's record limit, to store larger sessions. Keep it within that
    /// bound: the server refuses a larger argument and then closes the connection, so the call
    /// fails as refused or, when the reset arrives first, as unavailable, and the calls that
    /// share the connection fail with it.
    pub fn max_value_size(mut self, bytes: usize) -> Self {
        self.max_value_size = bytes;
        self
    }

    /// Checks the settings and makes the store. Connects to nothing: the connection is made on
    /// first use, so an application starts even while Redis is down.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for no server, several servers without cluster mode, a malformed or
    /// repeated address, a database in a cluster, a zero timeout or a zero value size limit.
    pub fn build(self) -> Result<RedisStore, ConfigError> {
        RedisStore::new(self.check()?)
    }

    pub(crate) fn check(self) -> Result<Config, ConfigError> {
        let topology = match (self.servers.len(), self.cluster_nodes.is_empty()) {
            (0, true) => return Err(ConfigError::NoServers),
            (0, false) => Topology::Cluster(addresses(&self.cluster_nodes)?),
            (1, true) => Topology::Single(addresses(&self.servers)?.remove(0)),
            (_, true) => return Err(ConfigError::SeveralServers),
            (_, false) => return Err(ConfigError::ServerAndCluster),
        };
        if matches!(topology, Topology::Cluster(_)) && self.database != 0 {
            return Err(ConfigError::DatabaseInCluster);
        }
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout { name: "connect" });
        }
        if self.response_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout { name: "response" });
        }
        if self.max_value_size == 0 {
            return Err(ConfigError::ZeroValueSize);
        }
        Ok(Config {
            topology,
            username: self.username,
            password: self.password,
            database: self.database,
            connect_timeout: self.connect_timeout,
            response_timeout: self.response_timeout,
            max_value_size: self.max_value_size,
        })
    }
}

/// Parses and checks a list of addresses: each well-formed, none twice.
fn addresses(texts: &[String]) -> Result<Vec<ServerAddress>, ConfigError> {
    let mut servers: Vec<ServerAddress> = Vec::with_capacity(texts.len());
    for text in texts {
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
    Ok(servers)
}

/// Reads `redis://[[USERNAME]:PASSWORD@]HOST:PORT[/DB]` or
/// `redis+cluster://[[USERNAME]:PASSWORD@]HOST:PORT[,HOST:PORT...]` into a builder.
pub(crate) fn parse_spec(spec: &str) -> Result<RedisStoreBuilder, ConfigError> {
    let starts = |scheme: &str| {
        spec.get(..scheme.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
    };
    let (cluster, rest) = if starts(SCHEME) {
        (false, &spec[SCHEME.len()..])
    } else if starts(CLUSTER_SCHEME) {
        (true, &spec[CLUSTER_SCHEME.len()..])
    } else {
        let scheme = spec.split_once("://").map_or("", |(scheme, _)| scheme);
        return Err(ConfigError::Scheme {
            scheme: scheme.to_owned(),
        });
    };
    let mut builder = RedisStoreBuilder::default();
    // The host list holds no `@`, so the credentials end at the last one.
    let rest = match rest.rsplit_once('@') {
        None => rest,
        Some((credentials, rest)) => {
            let Some((username, password)) = credentials.split_once(':') else {
                return Err(ConfigError::Credentials {
                    reason: "expected [USERNAME]:PASSWORD@ before the host",
                });
            };
            if !username.is_empty() {
                builder = builder.username(percent_decode(username)?);
            }
            builder = builder.password(percent_decode(password)?);
            rest
        }
    };
    let (list, database) = match rest.split_once('/') {
        None => (rest, None),
        Some((list, database)) => (list, Some(database)),
    };
    if list.trim().is_empty() {
        return Err(ConfigError::NoServers);
    }
    if let Some(database) = database.filter(|database| !database.is_empty()) {
        let number = database.parse().map_err(|_| ConfigError::Database {
            database: database.to_owned(),
        })?;
        builder = builder.database(number);
    }
    Ok(list.split(',').fold(builder, |builder, server| {
        if cluster {
            builder.cluster_node(server)
        } else {
            builder.server(server)
        }
    }))
}

/// Decodes `%XX` escapes (URL userinfo encoding), so that a password may hold `@`, `:` or `/`.
fn percent_decode(text: &str) -> Result<String, ConfigError> {
    const BAD: ConfigError = ConfigError::Credentials {
        reason: "a % must be followed by two hex digits",
    };
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = tail.get(..2).ok_or(BAD)?;
            let hex = std::str::from_utf8(hex).map_err(|_| BAD)?;
            bytes.push(u8::from_str_radix(hex, 16).map_err(|_| BAD)?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).map_err(|_| ConfigError::Credentials {
        reason: "the decoded credentials are not UTF-8",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_spec(spec: &str) -> Result<Config, ConfigError> {
        parse_spec(spec)?.check()
    }

    #[test]
    fn single_server_spec() {
        let config = check_spec("redis://Cache:6379").expect("valid spec");
        assert_eq!(config.target(), "cache:6379");
        assert!(matches!(config.topology, Topology::Single(_)));
        assert_eq!(config.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(config.response_timeout, DEFAULT_RESPONSE_TIMEOUT);
        assert_eq!(config.max_value_size, DEFAULT_MAX_VALUE_SIZE);
        assert_eq!((config.username, config.password), (None, None));
        assert_eq!(config.database, 0);
    }

    #[test]
    fn cluster_spec_with_several_nodes() {
        let config =
            check_spec("REDIS+CLUSTER://10.0.0.1:7000, node-2:7001,[::1]:7002").expect("valid");
        assert_eq!(
            config.target(),
            "cluster 10.0.0.1:7000,node-2:7001,[::1]:7002"
        );
    }

    #[test]
    fn credentials_and_database() {
        let config = check_spec("redis://app:p%40ss%3Aw%2Frd@10.0.0.1:6379/3").expect("valid");
        assert_eq!(config.username.as_deref(), Some("app"));
        assert_eq!(config.password.as_deref(), Some("p@ss:w/rd"));
        assert_eq!(config.database, 3);
        let config = check_spec("redis://:secret@10.0.0.1:6379/").expect("valid");
        assert_eq!(config.username, None);
        assert_eq!(config.password.as_deref(), Some("secret"));
        assert_eq!(config.database, 0);
        let debug = format!("{config:?}");
        assert!(!debug.contains("secret"), "{debug}");
    }

    #[test]
    fn invalid_specs_say_what_is_wrong() {
        let cases = [
            ("127.0.0.1:6379", "must start with redis://"),
            ("memcached://127.0.0.1:11211", "not \"memcached\""),
            ("rediss://user:pw@127.0.0.1:6379", "not \"rediss\""),
            ("redis://", "no Redis server given"),
            ("redis+cluster://", "no Redis server given"),
            ("redis://127.0.0.1", "expected HOST:PORT"),
            ("redis://127.0.0.1:99999", "port must be between"),
            (
                "redis://10.0.0.1:6379,10.0.0.2:6379",
                "use redis+cluster://",
            ),
            ("redis+cluster://10.0.0.1:6379,", "expected HOST:PORT"),
            ("redis+cluster://a:1,A:1", "listed twice"),
            ("redis+cluster://a:1,b:1/2", "only database 0"),
            ("redis://a:1/x", "invalid Redis database"),
            ("redis://password@a:1", "expected [USERNAME]:PASSWORD@"),
            ("redis://:bad%4@a:1", "two hex digits"),
            ("redis://:bad%zz@a:1", "two hex digits"),
        ];
        for (spec, message) in cases {
            let error = check_spec(spec).expect_err(spec).to_string();
            assert!(error.contains(message), "{spec:?}: {error:?}");
        }
    }

    #[test]
    fn errors_never_repeat_a_password() {
        for spec in [
            "rediss://user:hunter2@cache:6379",
            "redis://user:hunter2@cache",
            "redis://user:hunter2@cache:1/db",
        ] {
            let error = check_spec(spec).expect_err(spec);
            assert!(!format!("{error} {error:?}").contains("hunter2"), "{spec}");
        }
        let builder = RedisStoreBuilder::default().password("hunter2");
        assert!(!format!("{builder:?}").contains("hunter2"));
    }

    #[test]
    fn builder_rejects_settings_that_fail_every_call() {
        let builder = RedisStoreBuilder::default().server("127.0.0.1:6379");
        assert_eq!(
            builder
                .clone()
                .response_timeout(Duration::ZERO)
                .check()
                .err(),
            Some(ConfigError::ZeroTimeout { name: "response" })
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
            builder.clone().max_value_size(0).check().err(),
            Some(ConfigError::ZeroValueSize)
        );
        assert_eq!(
            builder.cluster_node("127.0.0.1:7000").check().err(),
            Some(ConfigError::ServerAndCluster)
        );
        assert_eq!(
            RedisStoreBuilder::default().check().err(),
            Some(ConfigError::NoServers)
        );
    }
}
