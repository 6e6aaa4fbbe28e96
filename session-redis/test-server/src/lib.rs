//! Runs real `redis-server` processes for tests: single servers and small clusters.
//!
//! Every test starts its own servers on free `127.0.0.1` ports, each in its own scratch directory
//! and without persistence, so tests share nothing and can run in parallel. A process is killed
//! (and its directory removed) when its [`RedisServer`] is dropped.
//!
//! When the `redis-server` binary is not installed, [`RedisServer::start`] prints a loud warning
//! and returns `None`, and the test returns early (a skip). Setting `SESSION_REQUIRE_REDIS=1` (CI
//! does, after installing Redis) turns the missing binary into a panic instead, so a CI run can
//! never pass by skipping everything.
//!
//! ```no_run
//! use test_redis::RedisServer;
//!
//! let Some(server) = RedisServer::start() else { return };
//! println!("redis listens on {}", server.spec());
//! let reply = server.command(&["CONFIG", "SET", "maxmemory", "1mb"]);
//! assert_eq!(reply.text(), "OK");
//! ```
//!
//! [`RedisCluster`] starts several servers with cluster mode on and joins them with
//! `redis-cli --cluster create` (Debian's `redis-server` package brings `redis-cli`).
//!
//! For failures a real server does not produce on request (slow answers, silence, a connection
//! reset mid-answer), put `test_memcached::Proxy` between the client and the server: it forwards
//! any TCP protocol.
//!
//! The code is blocking `std`, so it works from sync tests and from inside async tests alike.

mod cluster;
mod resp;

pub use cluster::RedisCluster;
pub use resp::{Connection, Reply};

use std::io::{ErrorKind, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The environment variable that turns a missing `redis-server` binary into a test failure.
pub const REQUIRE_ENV: &str = "SESSION_REQUIRE_REDIS";

/// How many fresh ports [`RedisServer::start`] tries before giving up: another process may grab
/// the free port between our probe and the server's bind.
const START_ATTEMPTS: usize = 5;

/// How long a freshly spawned server gets to answer its first command.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts a Redis server for this test, or returns from the test (a skip) when none is installed.
///
/// `redis_or_skip!()` starts it with default arguments, `redis_or_skip!(&["--maxmemory", "2mb"])`
/// with extra ones.
#[macro_export]
macro_rules! redis_or_skip {
    () => {
        $crate::redis_or_skip!(&[])
    };
    ($args:expr) => {
        match $crate::RedisServer::start_with_args($args) {
            Some(server) => server,
            None => return,
        }
    };
}

/// Starts a Redis Cluster of `$nodes` primaries for this test, or returns from the test (a skip)
/// when Redis is not installed.
#[macro_export]
macro_rules! cluster_or_skip {
    ($nodes:expr) => {
        match $crate::RedisCluster::start($nodes) {
            Some(cluster) => cluster,
            None => return,
        }
    };
}

/// A running `redis-server` process listening on `127.0.0.1`; killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    addr: SocketAddr,
    args: Vec<String>,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts `redis-server` on a free `127.0.0.1` port and waits until it answers.
    ///
    /// Returns `None` after a loud warning when the binary is missing, unless
    /// `SESSION_REQUIRE_REDIS=1`, in which case it panics.
    pub fn start() -> Option<RedisServer> {
        Self::start_with_args(&[])
    }

    /// Like [`start`](Self::start), with extra arguments such as `["--maxmemory", "2mb"]`.
    pub fn start_with_args(args: &[&str]) -> Option<RedisServer> {
        Self::start_with(args, |_| Vec::new())
    }

    /// Like [`start_with_args`](Self::start_with_args), plus arguments that depend on the
    /// server's port (a cluster node's bus port, say), made afresh for every attempt.
    pub(crate) fn start_with(
        args: &[&str],
        per_port: impl Fn(SocketAddr) -> Vec<String>,
    ) -> Option<RedisServer> {
        for _ in 0..START_ATTEMPTS {
            let addr = free_port();
            let mut all: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
            all.extend(per_port(addr));
            let dir = std::env::temp_dir().join(format!(
                "test-redis-{}-{}",
                std::process::id(),
                addr.port()
            ));
            if let Err(error) = std::fs::create_dir_all(&dir) {
                panic!("cannot create {}: {error}", dir.display());
            }
            let child = match spawn(addr, &dir, &all) {
                Ok(child) => child,
                Err(error) if error.kind() == ErrorKind::NotFound => {
                    let _ = std::fs::remove_dir_all(&dir);
                    return missing_binary();
                }
                Err(error) => panic!("cannot run redis-server: {error}"),
            };
            let mut server = RedisServer {
                child: Some(child),
                addr,
                args: all,
                dir,
            };
            if server.wait_ready() {
                return Some(server);
            }
            // The port was taken in the meantime (the server exited) or it never came up: retry.
            server.kill();
            let _ = std::fs::remove_dir_all(&server.dir);
        }
        panic!("redis-server did not start after {START_ATTEMPTS} attempts");
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The store spec for this server: `redis://127.0.0.1:PORT`.
    pub fn spec(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Stops the process with SIGKILL and waits for it to exit. Does nothing if already stopped.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Errors mean the process is already gone, which is what we want.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same arguments (and no data: nothing
    /// is persisted) and waits until it answers. Kills the running process first if there is one.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + READY_TIMEOUT;
        // The old socket may linger for a moment after SIGKILL, so the bind can fail briefly.
        while Instant::now() < deadline {
            let child = spawn(self.addr, &self.dir, &self.args)
                .unwrap_or_else(|error| panic!("cannot restart redis-server: {error}"));
            self.child = Some(child);
            if self.wait_ready() {
                return;
            }
            self.kill();
            thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not restart on {}", self.addr);
    }

    /// A plain connection to the server, for commands a test sends itself; logged in when the
    /// server was started with `--requirepass`.
    ///
    /// Panics when the server cannot be reached: this is a test helper.
    pub fn connect(&self) -> Connection {
        self.open()
            .unwrap_or_else(|error| panic!("cannot connect to redis {}: {error}", self.addr))
    }

    /// A connection, logged in with the `--requirepass` password if there is one.
    fn open(&self) -> std::io::Result<Connection> {
        let mut connection = Connection::open(self.addr)?;
        let password = self
            .args
            .iter()
            .position(|arg| arg == "--requirepass")
            .and_then(|at| self.args.get(at + 1));
        if let Some(password) = password {
            let reply = connection.command(&["AUTH", password])?;
            if reply.is_error() {
                return Err(std::io::Error::other(reply.text()));
            }
        }
        Ok(connection)
    }

    /// Sends one command on a fresh connection and answers its reply (an error reply included).
    ///
    /// Panics when the server cannot be reached: this is a test helper.
    pub fn command(&self, args: &[&str]) -> Reply {
        self.connect()
            .command(args)
            .unwrap_or_else(|error| panic!("redis {} did not answer {args:?}: {error}", self.addr))
    }

    /// The `name:value` fields of `INFO section` (e.g. `server`, `stats`, `commandstats`).
    pub fn info(&self, section: &str) -> std::collections::HashMap<String, String> {
        resp::fields(&self.command(&["INFO", section]).text())
    }

    /// How many times each command ran, from `INFO commandstats`, by lowercase name (`get`,
    /// `set`, `evalsha`, ...).
    pub fn command_counts(&self) -> std::collections::HashMap<String, u64> {
        self.info("commandstats")
            .into_iter()
            .filter_map(|(name, value)| {
                let command = name.strip_prefix("cmdstat_")?.to_owned();
                let calls = value
                    .split(',')
                    .find_map(|field| field.strip_prefix("calls="))?
                    .parse()
                    .ok()?;
                Some((command, calls))
            })
            .collect()
    }

    /// Polls until *our* server answers; `false` if it exited or timed out.
    ///
    /// Answering is not enough: when two tests pick the same port, the second server fails to
    /// bind and exits, and the first one answers in its place. So the answer's `process_id` must
    /// be our child's.
    fn wait_ready(&mut self) -> bool {
        let Some(pid) = self.child.as_ref().map(Child::id) else {
            return false;
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(reply) = self.open().and_then(|mut c| c.command(&["INFO", "server"]))
                && !reply.is_error()
            {
                let fields = resp::fields(&reply.text());
                return fields.get("process_id") == Some(&pid.to_string());
            }
            let exited = match self.child.as_mut() {
                Some(child) => !matches!(child.try_wait(), Ok(None)),
                None => true,
            };
            if exited {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port that was free a moment ago: bind port 0, read what the OS chose, release it.
pub(crate) fn free_port() -> SocketAddr {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .unwrap_or_else(|error| panic!("cannot find a free port: {error}"))
}

fn spawn(addr: SocketAddr, dir: &std::path::Path, args: &[String]) -> std::io::Result<Child> {
    Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port"])
        .arg(addr.port().to_string())
        .arg("--dir")
        .arg(dir)
        // Nothing persisted: a restarted server is empty, and a test leaves no files behind.
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

fn missing_binary<T>() -> Option<T> {
    if std::env::var(REQUIRE_ENV).is_ok_and(|value| value == "1") {
        panic!("redis-server is not installed but {REQUIRE_ENV}=1 requires it");
    }
    // Written to the real stderr, not through `eprintln!`, which the test harness captures and
    // only shows for failing tests: a skip must be visible in a passing run.
    let banner = "!".repeat(70);
    let _ = writeln!(
        std::io::stderr(),
        "\n{banner}\n!! SKIPPED: `redis-server` is not installed, so this test did not run.\n\
         !! Install redis-server, or set {REQUIRE_ENV}=1 to make this a failure.\n{banner}"
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_command_kill_restart() {
        let mut server = redis_or_skip!();
        assert!(server.spec().starts_with("redis://127.0.0.1:"));
        assert_eq!(server.command(&["SET", "k", "v"]).text(), "OK");
        assert_eq!(
            server.command(&["GET", "k"]),
            Reply::Bulk(Some(b"v".to_vec()))
        );
        assert!(server.command_counts()["set"] >= 1);

        server.kill();
        assert!(
            std::net::TcpStream::connect(server.addr()).is_err(),
            "still listening after kill"
        );

        server.restart();
        assert_eq!(server.command(&["GET", "k"]), Reply::Bulk(None));
    }

    #[test]
    fn extra_args_reach_the_server() {
        let server = redis_or_skip!(&["--maxmemory", "3mb"]);
        let reply = server.command(&["CONFIG", "GET", "maxmemory"]);
        assert_eq!(
            reply,
            Reply::Array(Some(vec![
                Reply::Bulk(Some(b"maxmemory".to_vec())),
                Reply::Bulk(Some(b"3145728".to_vec())),
            ]))
        );
    }
}
