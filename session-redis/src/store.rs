//! [`RedisStore`]: the `session_core::Store` operations, one command each.
//!
//! | operation        | command                                           |
//! |------------------|---------------------------------------------------|
//! | `load`           | `GET key`                                         |
//! | `load_many`      | `MGET key...` (a cluster: one `MGET` per slot, all nodes at once) |
//! | `load_and_touch` | `GETEX key PX ms` (Redis 6.2+)                    |
//! | `create`         | `SET key record PX ms NX`                         |
//! | `save(None)`     | `SET key record PX ms`                            |
//! | `save(Some(v))`  | `EVALSHA <compare-and-set> 1 key v record ms`     |
//! | `touch`          | `PEXPIRE key ms`                                  |
//! | `delete`         | `DEL key`                                         |
//!
//! A record is the sealed bytes followed by a random 16-byte version tag, drawn afresh on every
//! write (see [`record`]); `PEXPIRE` and `GETEX` keep it, so a touch keeps the
//! version. The compare-and-set is a server-side script (see [`script`]) that
//! answers [`SaveOutcome::Saved`], [`SaveOutcome::Conflict`] or [`SaveOutcome::Gone`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::{Cmd, FromRedisValue, RedisResult, ServerErrorKind, Value};
use session_core::{Loaded, SaveOutcome, Store, StoreError, Version};

use crate::config::{self, Config, ConfigError, RedisStoreBuilder};
use crate::connection::Connections;
use crate::errors;
use crate::record::{self, Record, Tag};
use crate::script::{self, Answer};
use crate::ttl;

/// A session store on one Redis server or a Redis Cluster.
///
/// Cloning is cheap; clones share the connection. See the [crate docs](crate) for configuration,
/// TTLs and failure behaviour.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    /// What errors name: the server, or the cluster's seed nodes.
    target: String,
    connections: Connections,
}

/// A record larger than the store's `max_value_size`.
#[derive(Debug, thiserror::Error)]
#[error("a {size}-byte session record exceeds the Redis store's limit of {limit} bytes")]
struct TooLarge {
    size: usize,
    limit: usize,
}

impl RedisStore {
    /// A store from a spec, with default timeouts:
    ///
    /// - `redis://[[USERNAME]:PASSWORD@]HOST:PORT[/DB]` for one server;
    /// - `redis+cluster://[[USERNAME]:PASSWORD@]HOST:PORT[,HOST:PORT...]` for a Redis Cluster,
    ///   named by one or more of its nodes.
    ///
    /// Credentials are URL-encoded (`%40` for `@`). Connects to nothing: the connection is made
    /// on first use.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for another scheme (`rediss://` included: TLS is not supported), no
    /// server, several servers with `redis://`, a malformed or repeated address, malformed
    /// credentials, or a database that is not a number (or not 0 in a cluster).
    pub fn from_spec(spec: &str) -> Result<RedisStore, ConfigError> {
        config::parse_spec(spec)?.build()
    }

    /// A builder, to set the server or cluster nodes, credentials, timeouts and the value limit
    /// one by one.
    pub fn builder() -> RedisStoreBuilder {
        RedisStoreBuilder::default()
    }

    pub(crate) fn new(config: Config) -> Result<Self, ConfigError> {
        let connections = Connections::new(&config)?;
        Ok(Self {
            inner: Arc::new(Inner {
                target: config.target(),
                config,
                connections,
            }),
        })
    }

    /// Runs `cmd` and reads its answer, sorting its error. The connection bounds it: the connect
    /// timeout for a connection made on the way, the response timeout for the exchange.
    async fn call<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, StoreError> {
        let result = self.inner.connections.query(cmd).await;
        result.map_err(|error| self.error(error))
    }

    /// Sorts a client error, naming the server or cluster.
    fn error(&self, error: redis::RedisError) -> StoreError {
        errors::sort(error, &self.inner.target)
    }

    /// A record for `value` with a fresh tag, or an error for a value over the limit.
    fn record<'a>(&self, value: &'a [u8]) -> Result<Record<'a>, StoreError> {
        let limit = self.inner.config.max_value_size;
        if value.len() > limit {
            return Err(StoreError::value_refused(TooLarge {
                size: value.len(),
                limit,
            }));
        }
        Ok(Record {
            bytes: value,
            tag: Tag::random(),
        })
    }

    /// The compare-and-set: `EVALSHA`, and `EVAL` once if the server does not know the script.
    async fn compare_and_set(
        &self,
        key: &str,
        expected: Tag,
        record: Record<'_>,
        px: u64,
    ) -> RedisResult<i64> {
        let connections = &self.inner.connections;
        let cmd = script::compare_and_set(key, expected, record, px, false);
        match connections.query(&cmd).await {
            Err(error) if error.kind() == redis::ErrorKind::Server(ServerErrorKind::NoScript) => {
                tracing::debug!("loading the compare-and-set script into redis");
                let cmd = script::compare_and_set(key, expected, record, px, true);
                connections.query(&cmd).await
            }
            result => result,
        }
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.inner.config;
        f.debug_struct("RedisStore")
            .field("target", &self.inner.target)
            .field("connected", &self.inner.connections.connected())
            .field("connect_timeout", &config.connect_timeout)
            .field("response_timeout", &config.response_timeout)
            .field("max_value_size", &config.max_value_size)
            .finish()
    }
}

/// A stored string as a record, `None` for a miss.
fn loaded(stored: Option<Vec<u8>>) -> Result<Option<Loaded>, StoreError> {
    stored.map(record::loaded).transpose()
}

/// An answer that is not what the command answers.
fn unexpected(command: &str, answer: &Value) -> StoreError {
    StoreError::other(format!("unexpected redis answer to {command}: {answer:?}"))
}

fn set(key: &str, record: Record<'_>, px: u64) -> Cmd {
    let mut cmd = Cmd::with_capacity(6, key.len() + record.bytes.len() + record::TAG_LEN + 32);
    cmd.arg("SET").arg(key).arg(record).arg("PX").arg(px);
    cmd
}

#[async_trait]
impl Store for RedisStore {
    async fn load(&self, key: &str) -> Result<Option<Loaded>, StoreError> {
        let mut cmd = Cmd::with_capacity(2, key.len() + 3);
        cmd.arg("GET").arg(key);
        loaded(self.call(&cmd).await?)
    }

    /// One `MGET`: a round trip in all on one server. On a cluster, the client splits it into one
    /// `MGET` per slot, sends them to their nodes at once (pipelined on each node's connection)
    /// and puts the answers back in key order.
    async fn load_many(&self, keys: &[&str]) -> Result<Vec<Option<Loaded>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = Cmd::with_capacity(keys.len() + 1, keys.iter().map(|k| k.len()).sum());
        cmd.arg("MGET");
        for key in keys {
            cmd.arg(*key);
        }
        let stored: Vec<Option<Vec<u8>>> = self.call(&cmd).await?;
        if stored.len() != keys.len() {
            return Err(StoreError::other(format!(
                "redis answered {} values to an MGET of {} keys",
                stored.len(),
                keys.len()
            )));
        }
        stored.into_iter().map(loaded).collect()
    }

    async fn load_and_touch(&self, key: &str, ttl: Duration) -> Result<Option<Loaded>, StoreError> {
        let mut cmd = Cmd::with_capacity(4, key.len() + 32);
        cmd.arg("GETEX").arg(key).arg("PX").arg(ttl::millis(ttl));
        loaded(self.call(&cmd).await?)
    }

    async fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<Option<Version>, StoreError> {
        let record = self.record(value)?;
        let mut cmd = set(key, record, ttl::millis(ttl));
        cmd.arg("NX");
        match self.call(&cmd).await? {
            Value::Okay => Ok(Some(record.tag.version())),
            Value::Nil => Ok(None),
            other => Err(unexpected("SET NX", &other)),
        }
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        expected: Option<Version>,
    ) -> Result<SaveOutcome, StoreError> {
        let record = self.record(value)?;
        let px = ttl::millis(ttl);
        let Some(expected) = expected else {
            return match self.call(&set(key, record, px)).await? {
                Value::Okay => Ok(SaveOutcome::Saved(record.tag.version())),
                other => Err(unexpected("SET", &other)),
            };
        };
        let expected = Tag::of(expected)?;
        let answer = self
            .compare_and_set(key, expected, record, px)
            .await
            .map_err(|error| self.error(error))?;
        match Answer::of(answer) {
            Some(Answer::Saved) => Ok(SaveOutcome::Saved(record.tag.version())),
            Some(Answer::Conflict) => Ok(SaveOutcome::Conflict),
            Some(Answer::Gone) => Ok(SaveOutcome::Gone),
            None => Err(unexpected(
                "the compare-and-set script",
                &Value::Int(answer),
            )),
        }
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut cmd = Cmd::with_capacity(3, key.len() + 28);
        cmd.arg("PEXPIRE").arg(key).arg(ttl::millis(ttl));
        let touched: i64 = self.call(&cmd).await?;
        Ok(touched == 1)
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let mut cmd = Cmd::with_capacity(2, key.len() + 3);
        cmd.arg("DEL").arg(key);
        let deleted: i64 = self.call(&cmd).await?;
        Ok(deleted == 1)
    }

    fn supports_compare_and_set(&self) -> bool {
        true
    }
}
