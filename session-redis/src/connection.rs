//! Connections: one multiplexed connection per server, made on first use and replaced when it
//! breaks; or a Redis Cluster connection.
//!
//! # One server
//!
//! All calls share one `redis::aio::MultiplexedConnection`: requests are pipelined on a single
//! TCP connection and answers matched to them in order, so there is no pool to size and no
//! connection to check out. It is cancellation-safe: a call dropped mid-exchange (the core drops
//! the future at a request's deadline) leaves its request in the connection's queue, and the
//! answer, when it comes, is read and thrown away, so the next call reads its own answer.
//!
//! The connection is replaced, by the next call, when
//!
//! - it is found broken (reset, closed by the server, unreadable): the call that saw it fails,
//!   and with RESP3 the connection also reports its own end, so an idle connection that the
//!   server closed (a restart, say) is replaced before any call fails on it;
//! - an answer does not come within the response timeout: the server may be gone without a
//!   word (a crashed host, a network partition), and a TCP connection to it could stay open for
//!   many minutes. Calls still in flight on the old connection finish on it.
//!
//! A connection is made by one background task however many calls wait for it, bounded by the
//! connect timeout; when it fails, each waiting call fails (unavailable) and the next call tries
//! again at once. There is no retry loop and no backoff: every call makes at most one attempt,
//! so a call takes at most the connect timeout plus the response timeout.
//!
//! # Redis Cluster
//!
//! `redis::cluster_async::ClusterConnection` keeps one multiplexed connection per node, routes
//! each command by its key's slot, follows `MOVED` and `ASK` redirections, refreshes its slot map
//! and reconnects to nodes by itself; its connect and response timeouts are the store's. It is
//! made on first use (a failure leaves nothing behind: the next call tries again).

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::io::tcp::TcpSettings;
use redis::{
    AsyncConnectionConfig, Client, Cmd, ConnectionAddr, ConnectionInfo, FromRedisValue,
    IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind, RedisConnectionInfo, RedisError,
    RedisResult,
};
use tokio::sync::{OnceCell, watch};

use crate::config::{Config, ConfigError, Topology};
use session_core::ServerAddress;

/// How long sent data may stay unacknowledged before the kernel gives up on a connection
/// (`TCP_USER_TIMEOUT`, Linux): a host that vanished fails the connection in seconds rather than
/// after the default retransmission schedule (about 15 minutes).
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);

/// The connections of a store: to one server, or to a cluster.
pub(crate) enum Connections {
    Single(Arc<Single>),
    Cluster(Box<Cluster>),
}

impl Connections {
    /// Sets up (without connecting) the connections `config` describes.
    pub(crate) fn new(config: &Config) -> Result<Self, ConfigError> {
        let client_error = |error: RedisError| ConfigError::Client {
            reason: error.to_string(),
        };
        Ok(match &config.topology {
            Topology::Single(server) => {
                let info = connection_info(server, config, ProtocolVersion::RESP3)
                    .map_err(client_error)?;
                Self::Single(Arc::new(Single {
                    client: Client::open(info).map_err(client_error)?,
                    connect_timeout: config.connect_timeout,
                    response_timeout: config.response_timeout,
                    state: Mutex::new(State::Idle),
                }))
            }
            Topology::Cluster(nodes) => {
                let infos = nodes
                    .iter()
                    .map(|node| connection_info(node, config, ProtocolVersion::RESP2))
                    .collect::<RedisResult<Vec<_>>>()
                    .map_err(client_error)?;
                let mut builder = ClusterClientBuilder::new(infos)
                    .connection_timeout(config.connect_timeout)
                    .response_timeout(config.response_timeout)
                    .tcp_settings(tcp_settings());
                if let Some(username) = &config.username {
                    builder = builder.username(username);
                }
                if let Some(password) = &config.password {
                    builder = builder.password(password);
                }
                Self::Cluster(Box::new(Cluster {
                    client: builder.build().map_err(client_error)?,
                    connect_timeout: config.connect_timeout,
                    connection: OnceCell::new(),
                }))
            }
        })
    }

    /// Sends `cmd` and reads its answer as `T`.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
        match self {
            Self::Single(single) => single.query(cmd).await,
            Self::Cluster(cluster) => cluster.query(cmd).await,
        }
    }

    /// Whether a connection is up (or, for a cluster, was made).
    pub(crate) fn connected(&self) -> bool {
        match self {
            Self::Single(single) => matches!(*lock(&single.state), State::Connected(_)),
            Self::Cluster(cluster) => cluster.connection.initialized(),
        }
    }
}

fn connection_info(
    server: &ServerAddress,
    config: &Config,
    protocol: ProtocolVersion,
) -> RedisResult<ConnectionInfo> {
    let mut redis = RedisConnectionInfo::default()
        .set_db(i64::from(config.database))
        .set_protocol(protocol);
    if let Some(username) = &config.username {
        redis = redis.set_username(username);
    }
    if let Some(password) = &config.password {
        redis = redis.set_password(password);
    }
    Ok(ConnectionAddr::Tcp(server.host(), server.port())
        .into_connection_info()?
        .set_tcp_settings(tcp_settings())
        .set_redis_settings(redis))
}

/// No Nagle delay (many small requests share a connection), and a bound on unacknowledged data.
fn tcp_settings() -> TcpSettings {
    let settings = TcpSettings::default().set_nodelay(true);
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    let settings = settings.set_user_timeout(TCP_USER_TIMEOUT);
    settings
}

/// A single server's connection, made on first use and replaced when it breaks.
pub(crate) struct Single {
    client: Client,
    connect_timeout: Duration,
    response_timeout: Duration,
    state: Mutex<State>,
}

enum State {
    /// No connection, and nobody making one: the next call starts.
    Idle,
    /// A task is connecting; its outcome arrives on the channel.
    Connecting {
        attempt: u64,
        outcome: watch::Receiver<Option<RedisResult<Handle>>>,
    },
    /// Connected.
    Connected(Handle),
}

/// A connection and the attempt that made it, so that a failure replaces only that connection.
#[derive(Clone)]
struct Handle {
    attempt: u64,
    connection: MultiplexedConnection,
}

impl Single {
    async fn query<T: FromRedisValue>(self: &Arc<Self>, cmd: &Cmd) -> RedisResult<T> {
        let Handle {
            attempt,
            mut connection,
        } = self.connection().await?;
        let result = cmd.query_async(&mut connection).await;
        if let Err(error) = &result
            && (error.is_unrecoverable_error() || error.is_timeout() || closes(error))
        {
            tracing::debug!(%error, "dropping the redis connection");
            self.forget(attempt);
        }
        result
    }

    /// The current connection, or one made for this call (shared with every call that asks
    /// meanwhile).
    async fn connection(self: &Arc<Self>) -> RedisResult<Handle> {
        let (attempt, mut outcome) = {
            let mut state = lock(&self.state);
            match &*state {
                State::Connected(handle) => return Ok(handle.clone()),
                State::Connecting { attempt, outcome } => (*attempt, outcome.clone()),
                State::Idle => {
                    static ATTEMPTS: std::sync::atomic::AtomicU64 =
                        std::sync::atomic::AtomicU64::new(1);
                    let attempt = ATTEMPTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let (done, outcome) = watch::channel(None);
                    *state = State::Connecting {
                        attempt,
                        outcome: outcome.clone(),
                    };
                    tokio::spawn(Arc::clone(self).connect(attempt, done));
                    (attempt, outcome)
                }
            }
        };
        match outcome.wait_for(Option::is_some).await {
            Ok(outcome) => outcome
                .clone()
                .unwrap_or_else(|| unreachable!("waited for Some")),
            Err(_) => {
                // The connecting task ended without an outcome: its runtime shut down. Let the
                // next call start afresh.
                let mut state = lock(&self.state);
                if matches!(&*state, State::Connecting { attempt: a, .. } if *a == attempt) {
                    *state = State::Idle;
                }
                Err(std::io::Error::from(std::io::ErrorKind::NotConnected).into())
            }
        }
    }

    /// Makes connection `attempt` and reports it: stored on success, `Idle` on failure.
    async fn connect(
        self: Arc<Self>,
        attempt: u64,
        done: watch::Sender<Option<RedisResult<Handle>>>,
    ) {
        // The connection reports its end through its push sender (RESP3). A weak reference: the
        // connection must not keep its store alive.
        let store: Weak<Single> = Arc::downgrade(&self);
        let on_push = move |push: PushInfo| {
            if push.kind == PushKind::Disconnection
                && let Some(single) = store.upgrade()
            {
                tracing::debug!("the redis connection closed");
                single.forget(attempt);
            }
            Ok::<(), Infallible>(())
        };
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.response_timeout))
            .set_push_sender(on_push);
        let outcome = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map(|connection| Handle {
                attempt,
                connection,
            });
        match &outcome {
            Ok(_) => tracing::debug!("connected to redis"),
            Err(error) => tracing::debug!(%error, "cannot connect to redis"),
        }
        {
            let mut state = lock(&self.state);
            if matches!(&*state, State::Connecting { attempt: a, .. } if *a == attempt) {
                *state = match &outcome {
                    Ok(handle) => State::Connected(handle.clone()),
                    Err(_) => State::Idle,
                };
            }
        }
        let _ = done.send(Some(outcome));
    }

    /// Drops connection `attempt`, if it is still the current one, so the next call connects.
    fn forget(&self, attempt: u64) {
        let mut state = lock(&self.state);
        if matches!(&*state, State::Connected(handle) if handle.attempt == attempt) {
            *state = State::Idle;
        }
    }
}

/// Whether the server closes the connection after this error: after a protocol error (an
/// argument over `proto-max-bulk-len`, say) it answers the error, then hangs up.
fn closes(error: &RedisError) -> bool {
    error
        .detail()
        .is_some_and(|detail| detail.starts_with("Protocol error"))
}

/// A Redis Cluster connection, made on first use.
pub(crate) struct Cluster {
    client: redis::cluster::ClusterClient,
    connect_timeout: Duration,
    connection: OnceCell<ClusterConnection>,
}

impl Cluster {
    async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
        let mut connection = self.connection().await?.clone();
        cmd.query_async(&mut connection).await
    }

    /// The cluster connection, made on the first call. Making it reads the slot map from the
    /// seed nodes and connects to every primary; a failure leaves nothing behind and the next
    /// call tries again. Callers waiting on another's attempt wait at most the connect timeout
    /// too.
    async fn connection(&self) -> RedisResult<&ClusterConnection> {
        let made = self.connection.get_or_try_init(|| async {
            match tokio::time::timeout(self.connect_timeout * 2, self.client.get_async_connection())
                .await
            {
                Ok(connected) => connected,
                Err(_) => Err(std::io::Error::from(std::io::ErrorKind::TimedOut).into()),
            }
        });
        match tokio::time::timeout(self.connect_timeout * 2, made).await {
            Ok(made) => made,
            Err(_) => Err(std::io::Error::from(std::io::ErrorKind::TimedOut).into()),
        }
    }
}

/// Locks `mutex`, also after a panic elsewhere: the state is valid at every point.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
