//! [`MemcachedStore`]: the `session_core::Store` operations, one meta command each.
//!
//! | operation          | command                                  | counted by memcached as       |
//! |--------------------|------------------------------------------|-------------------------------|
//! | `load`             | `mg <key> v f c`                         | `cmd_get`                     |
//! | `load_many`        | `mg <key> v f c` per key, pipelined      | `cmd_get` per key             |
//! | `load_and_touch`   | `mg <key> v f c T<exp>` (get-and-touch)  | `cmd_touch` (a miss: `cmd_get`) |
//! | `create`           | `ms <key> <len> ME c T<exp>` (add)       | `cmd_set`                     |
//! | `save(None)`       | `ms <key> <len> c T<exp>`                | `cmd_set`                     |
//! | `save(Some(v))`    | `ms <key> <len> c T<exp> C<v>` (CAS set) | `cmd_set`, `cas_*`            |
//! | `touch`            | `mg <key> f T<exp>` (no value)           | `cmd_touch` (a miss: `cmd_get`) |
//! | `delete`           | `md <key>`                               | `delete_hits`/`delete_misses` |
//!
//! A record's [`Version`] is memcached's CAS value, which changes on every write and survives a
//! touch. A CAS set answers `EX` when someone wrote in between ([`SaveOutcome::Conflict`]) and
//! `NF` when the record is gone ([`SaveOutcome::Gone`]).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures_util::future::join_all;
use memcache::exp::{
    AsyncMetaClient, Get, GetResult, GetStatus, Meta, MutationResult, MutationStatus,
};
use session_core::{Loaded, SaveOutcome, Store, StoreError, Version};

use crate::config::{self, Config, ConfigError, MemcachedStoreBuilder};
use crate::routing::Router;
use crate::server::Server;
use crate::ttl;

/// A session store on one or more memcached servers.
///
/// Cloning is cheap; clones share the connection pools. See the [crate docs](crate) for
/// configuration, TTLs and failure behaviour.
#[derive(Clone)]
pub struct MemcachedStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    router: Router,
    servers: Vec<Server>,
}

impl MemcachedStore {
    /// A store from a spec `memcached://HOST:PORT[,HOST:PORT...]`, with default timeouts and
    /// pool limits. Connects to nothing: connections are made on first use.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for a spec without the `memcached://` scheme, without
    /// servers, or with a malformed or repeated address.
    pub fn from_spec(spec: &str) -> Result<MemcachedStore, ConfigError> {
        config::parse_spec(spec)?.build()
    }

    /// A builder, to set servers, timeouts and pool limits one by one.
    pub fn builder() -> MemcachedStoreBuilder {
        MemcachedStoreBuilder::default()
    }

    pub(crate) fn new(config: Config) -> Self {
        let router = Router::new(&config.servers);
        let servers = config.servers.iter().cloned().map(Server::new).collect();
        Self {
            inner: Arc::new(Inner {
                config,
                router,
                servers,
            }),
        }
    }

    /// The server that holds `key`.
    fn server(&self, key: &str) -> &Server {
        let index = self.inner.router.route(key.as_bytes());
        &self.inner.servers[index]
    }

    /// Runs one exchange with the server that holds `key`, sorting its error.
    async fn call<'a, T, F, Fut>(&'a self, key: &str, exchange: F) -> Result<T, StoreError>
    where
        F: FnOnce(&'a AsyncMetaClient) -> Fut,
        Fut: Future<Output = memcache::exp::Result<T>>,
    {
        let server = self.server(key);
        let client = server.client(&self.inner.config).await?;
        exchange(client).await.map_err(|error| server.error(error))
    }
}

impl MemcachedStore {
    /// The records at `positions` of `keys`, all on `server`, in one
    /// pipelined exchange; each with its position.
    async fn load_from(
        &self,
        server: usize,
        keys: &[&str],
        positions: &[usize],
    ) -> Result<Vec<(usize, Option<Loaded>)>, StoreError> {
        let server = &self.inner.servers[server];
        let client = server.client(&self.inner.config).await?;
        let gets = positions
            .iter()
            .map(|&position| Get::new(keys[position]).meta(Meta::NONE.cas()));
        let results = client
            .run_many(gets)
            .await
            .map_err(|error| server.error(error))?;
        positions
            .iter()
            .zip(results)
            .map(|(&position, result)| {
                let result = result.map_err(|error| server.error(error))?;
                Ok((position, loaded(result)?))
            })
            .collect()
    }
}

impl fmt::Debug for MemcachedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.inner.config;
        f.debug_struct("MemcachedStore")
            .field("servers", &self.inner.servers)
            .field("connect_timeout", &config.connect_timeout)
            .field("io_timeout", &config.io_timeout)
            .field("max_connections", &config.max_connections)
            .field("max_idle_connections", &config.max_idle_connections)
            .finish()
    }
}

/// The expiry to send for `ttl` now; see [`ttl`].
fn expiry(ttl: Duration) -> u32 {
    ttl::expiry(ttl, SystemTime::now())
}

/// A read's record, or `None` on a miss.
fn loaded(result: GetResult) -> Result<Option<Loaded>, StoreError> {
    if result.status != GetStatus::Hit {
        return Ok(None);
    }
    match (result.value, result.item.cas) {
        (Some(bytes), Some(cas)) => Ok(Some(Loaded::new(bytes, version(cas)?))),
        _ => Err(StoreError::other("memcached hit without a value or CAS")),
    }
}

/// The version a successful write answered.
fn written(result: &MutationResult) -> Result<Version, StoreError> {
    let cas = result
        .cas
        .ok_or_else(|| StoreError::other("memcached write answered without its CAS"))?;
    version(cas)
}

/// A CAS value as a version. memcached started with `-C` answers 0 for
/// every item and refuses every CAS set, which would look like endless
/// conflicts: say what is wrong instead.
fn version(cas: u64) -> Result<Version, StoreError> {
    if cas == 0 {
        return Err(StoreError::other(
            "memcached runs without CAS (-C); sessions need it",
        ));
    }
    Ok(Version::from_u64(cas))
}

fn unexpected(command: &str, status: MutationStatus) -> StoreError {
    StoreError::other(format!(
        "unexpected memcached answer to {command}: {status:?}"
    ))
}

#[async_trait]
impl Store for MemcachedStore {
    async fn load(&self, key: &str) -> Result<Option<Loaded>, StoreError> {
        let result = self
            .call(key, |client| client.get(key).meta(Meta::NONE.cas()).send())
            .await?;
        loaded(result)
    }

    /// One pipelined exchange per server holding some of the keys, all
    /// servers at once: a round trip in all, however many keys.
    async fn load_many(&self, keys: &[&str]) -> Result<Vec<Option<Loaded>>, StoreError> {
        let mut by_server: Vec<Vec<usize>> = vec![Vec::new(); self.inner.servers.len()];
        for (position, key) in keys.iter().enumerate() {
            by_server[self.inner.router.route(key.as_bytes())].push(position);
        }
        let exchanges = by_server
            .iter()
            .enumerate()
            .filter(|(_, positions)| !positions.is_empty())
            .map(|(server, positions)| self.load_from(server, keys, positions));
        let mut answers: Vec<Option<Loaded>> = keys.iter().map(|_| None).collect();
        for exchange in join_all(exchanges).await {
            for (position, loaded) in exchange? {
                answers[position] = loaded;
            }
        }
        Ok(answers)
    }

    async fn load_and_touch(&self, key: &str, ttl: Duration) -> Result<Option<Loaded>, StoreError> {
        let expiry = expiry(ttl);
        let result = self
            .call(key, |client| {
                client
                    .get(key)
                    .meta(Meta::NONE.cas())
                    .touch_raw(expiry)
                    .send()
            })
            .await?;
        loaded(result)
    }

    async fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<Option<Version>, StoreError> {
        let expiry = expiry(ttl);
        let result = self
            .call(key, |client| {
                client
                    .set(key, value)
                    .ttl_raw(expiry)
                    .add()
                    .return_cas()
                    .send()
            })
            .await?;
        match result.status {
            MutationStatus::Applied => written(&result).map(Some),
            MutationStatus::AlreadyExists => Ok(None),
            status => Err(unexpected("add", status)),
        }
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        expected: Option<Version>,
    ) -> Result<SaveOutcome, StoreError> {
        let expiry = expiry(ttl);
        let expected = expected
            .map(|version| {
                version
                    .as_u64()
                    .ok_or_else(|| StoreError::other("a version that memcached did not make"))
            })
            .transpose()?;
        let result = self
            .call(key, |client| {
                let set = client.set(key, value).ttl_raw(expiry).return_cas();
                match expected {
                    Some(cas) => set.compare_cas(cas).send(),
                    None => set.send(),
                }
            })
            .await?;
        match result.status {
            MutationStatus::Applied => written(&result).map(SaveOutcome::Saved),
            MutationStatus::CasMismatch if expected.is_some() => Ok(SaveOutcome::Conflict),
            MutationStatus::NotFound if expected.is_some() => Ok(SaveOutcome::Gone),
            status => Err(unexpected("set", status)),
        }
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let expiry = expiry(ttl);
        let result = self
            .call(key, |client| {
                client.get(key).without_value().touch_raw(expiry).send()
            })
            .await?;
        Ok(result.status == GetStatus::Hit)
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let result = self.call(key, |client| client.delete(key).send()).await?;
        match result.status {
            MutationStatus::Applied => Ok(true),
            MutationStatus::NotFound => Ok(false),
            status => Err(unexpected("delete", status)),
        }
    }

    fn supports_compare_and_set(&self) -> bool {
        true
    }
}
