//! What one scenario runs in: the app's binary and the store its apps use.

use std::future::Future;
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
