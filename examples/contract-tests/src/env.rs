//! What one scenario runs in: the app's binary and the store its apps use.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use test_memcached::MemcachedServer;
use test_redis::RedisServer;

use crate::app::Launch;

/// Which store a test runs its scenario on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `--store memory`.
    Memory,
    /// `--store memcached://...` on a memcached started for this test alone.
    Memcached,
    /// `--store redis://...` on a redis-server started for this test alone.
    Redis,
}

/// The scenario's surroundings: how to start the app, and the memcached it uses, if any.
#[derive(Debug)]
pub struct Env {
    bin: &'static str,
    memcached: Option<MemcachedServer>,
    redis: Option<RedisServer>,
}

impl Env {
    /// A launch of the app on this scenario's store, with the test secret.
    pub fn launch(&self) -> Launch {
        let launch = Launch::new(self.bin);
        match (&self.memcached, &self.redis) {
            (Some(server), _) => launch.store(server.spec()),
            (None, Some(server)) => launch.store(server.spec()),
            (None, None) => launch.store("memory"),
        }
    }

    /// A launch with no `--store` option at all (so the app uses its default).
    pub fn launch_without_store(&self) -> Launch {
        Launch::new(self.bin)
    }

    /// The memcached of a [`Backend::Memcached`] scenario.
    pub fn memcached(&self) -> Option<&MemcachedServer> {
        self.memcached.as_ref()
    }

    /// The memcached, for scenarios that only run on memcached.
    pub fn memcached_required(&self) -> &MemcachedServer {
        self.memcached
            .as_ref()
            .expect("this scenario is only listed for memcached")
    }

    /// The memcached, to stop and restart it.
    pub fn memcached_mut(&mut self) -> &mut MemcachedServer {
        self.memcached
            .as_mut()
            .expect("this scenario is only listed for memcached")
    }

    /// The address of the store server (memcached or redis), for scenarios listed for both.
    pub fn store_addr(&self) -> SocketAddr {
        match (&self.memcached, &self.redis) {
            (Some(server), _) => server.addr(),
            (None, Some(server)) => server.addr(),
            (None, None) => panic!("this scenario is only listed for memcached and redis"),
        }
    }

    /// `--store` for a server of this scenario's kind at `addr`: a [`Proxy`] in front of the
    /// store, say (it forwards any TCP protocol).
    ///
    /// [`Proxy`]: test_memcached::Proxy
    pub fn store_spec_at(&self, addr: SocketAddr) -> String {
        match (&self.memcached, &self.redis) {
            (Some(_), _) => format!("memcached://{addr}"),
            (None, Some(_)) => format!("redis://{addr}"),
            (None, None) => panic!("this scenario is only listed for memcached and redis"),
        }
    }

    /// Kills the store server (SIGKILL), memcached or redis.
    pub async fn kill_store(&mut self) {
        self.with_store(|store| match store {
            Server::Memcached(server) => server.kill(),
            Server::Redis(server) => server.kill(),
        })
        .await;
    }

    /// Starts the store server again, empty, on the same port, and waits until it answers.
    pub async fn restart_store(&mut self) {
        self.with_store(|store| match store {
            Server::Memcached(server) => server.restart(),
            Server::Redis(server) => server.restart(),
        })
        .await;
    }

    /// Runs blocking `work` on the store server off the runtime's only thread, so requests in
    /// flight meanwhile keep being served and timed.
    async fn with_store(&mut self, work: fn(&mut Server)) {
        let mut store = match (self.memcached.take(), self.redis.take()) {
            (Some(server), _) => Server::Memcached(server),
            (None, Some(server)) => Server::Redis(server),
            (None, None) => panic!("this scenario is only listed for memcached and redis"),
        };
        let store = tokio::task::spawn_blocking(move || {
            work(&mut store);
            store
        })
        .await
        .expect("stopping or starting the store server panicked");
        match store {
            Server::Memcached(server) => self.memcached = Some(server),
            Server::Redis(server) => self.redis = Some(server),
        }
    }
}

/// The store server of a scenario listed for memcached and redis.
enum Server {
    Memcached(MemcachedServer),
    Redis(RedisServer),
}

/// Runs one scenario on a fresh current-thread Tokio runtime: what each generated test calls.
///
/// On [`Backend::Memcached`] it starts a memcached first, on [`Backend::Redis`] a redis-server;
/// when none is installed the test returns early after the loud warning the test-server crate
/// prints (or fails under `SESSION_REQUIRE_MEMCACHED=1` or `SESSION_REQUIRE_REDIS=1`).
pub fn run<F, Fut>(bin: &'static str, backend: Backend, scenario: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = ()>,
{
    let (memcached, redis) = match backend {
        Backend::Memory => (None, None),
        Backend::Memcached => match MemcachedServer::start() {
            Some(server) => (Some(server), None),
            None => return,
        },
        Backend::Redis => match RedisServer::start() {
            Some(server) => (None, Some(server)),
            None => return,
        },
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("cannot build a Tokio runtime");
    runtime.block_on(scenario(Env {
        bin,
        memcached,
        redis,
    }));
}

/// Sleeps, for the scenarios about time: the only reason a scenario waits.
pub async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Sleeps until `deadline` (not at all if it has passed): scenarios time their checks from one
/// starting point, so slow requests do not push later checks out.
pub async fn sleep_until(deadline: Instant) {
    tokio::time::sleep(deadline.saturating_duration_since(Instant::now())).await;
}
