//! Runs a real `memcached` process for tests.
//!
//! Every test starts its own server on a free `127.0.0.1` port, so tests share nothing and can run
//! in parallel. The process is killed when the [`MemcachedServer`] is dropped.
//!
//! When the `memcached` binary is not installed, [`MemcachedServer::start`] prints a loud warning
//! and returns `None`, and the test returns early (a skip). Setting `SESSION_REQUIRE_MEMCACHED=1`
//! (CI does, after installing memcached) turns the missing binary into a panic instead, so a CI
//! run can never pass by skipping everything.
//!
//! ```no_run
//! use test_memcached::MemcachedServer;
//!
//! let Some(server) = MemcachedServer::start() else { return };
//! println!("memcached listens on {}", server.spec());
//! ```
//!
//! For failures a real server does not produce on request (slow answers, silence, a connection
//! reset mid-answer), put a [`Proxy`] between the client and the server and switch its
//! [`ProxyMode`] while the test runs.
//!
//! The code is blocking `std` (plus `socket2`, for the one socket option std cannot set yet), so
//! it works from sync tests and from inside async tests alike.

mod proxy;

pub use proxy::{Proxy, ProxyMode};

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The environment variable that turns a missing `memcached` binary into a test failure.
pub const REQUIRE_ENV: &str = "SESSION_REQUIRE_MEMCACHED";

/// How many fresh ports [`MemcachedServer::start`] tries before giving up: another process may
/// grab the free port between our probe and memcached's bind.
const START_ATTEMPTS: usize = 5;

/// How long a freshly spawned memcached gets to accept its first connection.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts a memcached for this test, or returns from the test (a skip) when none is installed.
///
/// `memcached_or_skip!()` starts it with default arguments, `memcached_or_skip!(&["-I", "2m"])`
/// with extra ones.
#[macro_export]
macro_rules! memcached_or_skip {
    () => {
        $crate::memcached_or_skip!(&[])
    };
    ($args:expr) => {
        match $crate::MemcachedServer::start_with_args($args) {
            Some(server) => server,
            None => return,
        }
    };
}

/// A running memcached process listening on `127.0.0.1`; killed on drop.
#[derive(Debug)]
pub struct MemcachedServer {
    child: Option<Child>,
    addr: SocketAddr,
    args: Vec<String>,
}

impl MemcachedServer {
    /// Starts `memcached` on a free `127.0.0.1` port and waits until it accepts connections.
    ///
    /// Returns `None` after a loud warning when the binary is missing, unless
    /// `SESSION_REQUIRE_MEMCACHED=1`, in which case it panics.
    pub fn start() -> Option<MemcachedServer> {
        Self::start_with_args(&[])
    }

    /// Like [`start`](Self::start), with extra command-line arguments such as `["-I", "2m"]`.
    pub fn start_with_args(args: &[&str]) -> Option<MemcachedServer> {
        let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
        for _ in 0..START_ATTEMPTS {
            let addr = free_port();
            let child = match spawn(addr, &args) {
                Ok(child) => child,
                Err(error) if error.kind() == ErrorKind::NotFound => return missing_binary(),
                Err(error) => panic!("cannot run memcached: {error}"),
            };
            let mut server = MemcachedServer {
                child: Some(child),
                addr,
                args: args.clone(),
            };
            if server.wait_ready() {
                return Some(server);
            }
            // The port was taken in the meantime (memcached exited) or it never came up: retry.
            server.kill();
        }
        panic!("memcached did not start after {START_ATTEMPTS} attempts");
    }

    /// The address memcached listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The store spec for this server: `memcached://127.0.0.1:PORT`.
    pub fn spec(&self) -> String {
        format!("memcached://{}", self.addr)
    }

    /// Stops the process with SIGKILL and waits for it to exit. Does nothing if already stopped.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Errors mean the process is already gone, which is what we want.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts memcached again on the same port with the same arguments and waits until it is
    /// ready. Kills the running process first if there is one.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + READY_TIMEOUT;
        // The old socket may linger for a moment after SIGKILL, so the bind can fail briefly.
        while Instant::now() < deadline {
            let child = spawn(self.addr, &self.args)
                .unwrap_or_else(|error| panic!("cannot restart memcached: {error}"));
            self.child = Some(child);
            if self.wait_ready() {
                return;
            }
            self.kill();
            thread::sleep(Duration::from_millis(50));
        }
        panic!("memcached did not restart on {}", self.addr);
    }

    /// The server's `stats` counters, numeric values only (e.g. `cmd_get`, `cmd_touch`,
    /// `get_hits`, `delete_misses`).
    ///
    /// Panics when the server cannot be reached: this is a test helper.
    pub fn stats(&self) -> HashMap<String, u64> {
        read_stats(self.addr).unwrap_or_else(|error| panic!("cannot read memcached stats: {error}"))
    }

    /// Polls until *our* memcached answers; `false` if it exited or timed out.
    ///
    /// Answering is not enough: when two tests pick the same port, the second memcached fails
    /// to bind and exits, and the first one answers in its place. So the answer's `pid` must be
    /// our child's.
    fn wait_ready(&mut self) -> bool {
        let Some(pid) = self.child.as_ref().map(Child::id) else {
            return false;
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(stats) = read_stats(self.addr) {
                return stats.get("pid") == Some(&u64::from(pid));
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

/// Sends `stats` and reads the numeric values up to `END`.
fn read_stats(addr: SocketAddr) -> std::io::Result<HashMap<String, u64>> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(100))?;
    stream.set_read_timeout(Some(READY_TIMEOUT))?;
    stream.write_all(b"stats\r\n")?;
    let mut stats = HashMap::new();
    for line in BufReader::new(stream).lines() {
        let line = line?;
        if line == "END" {
            return Ok(stats);
        }
        let mut parts = line.split(' ');
        if let (Some("STAT"), Some(name), Some(value)) = (parts.next(), parts.next(), parts.next())
            && let Ok(value) = value.parse()
        {
            stats.insert(name.to_owned(), value);
        }
    }
    Err(ErrorKind::UnexpectedEof.into())
}

impl Drop for MemcachedServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port that was free a moment ago: bind port 0, read what the OS chose, release it.
fn free_port() -> SocketAddr {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .unwrap_or_else(|error| panic!("cannot find a free port: {error}"))
}

fn spawn(addr: SocketAddr, args: &[String]) -> std::io::Result<Child> {
    Command::new("memcached")
        // memcached refuses to start as root without `-u`; it ignores `-u` for other users.
        .args(["-u", "root", "-l", "127.0.0.1", "-U", "0", "-p"])
        .arg(addr.port().to_string())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

fn missing_binary() -> Option<MemcachedServer> {
    if std::env::var(REQUIRE_ENV).is_ok_and(|value| value == "1") {
        panic!("memcached is not installed but {REQUIRE_ENV}=1 requires it");
    }
    // Written to the real stderr, not through `eprintln!`, which the test harness captures and
    // only shows for failing tests: a skip must be visible in a passing run.
    let banner = "!".repeat(70);
    let _ = writeln!(
        std::io::stderr(),
        "\n{banner}\n!! SKIPPED: `memcached` is not installed, so this test did not run.\n\
         !! Install memcached, or set {REQUIRE_ENV}=1 to make this a failure.\n{banner}"
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_stats_kill_restart() {
        let mut server = memcached_or_skip!();
        assert!(server.spec().starts_with("memcached://127.0.0.1:"));
        assert!(server.stats().contains_key("cmd_get"));

        server.kill();
        assert!(
            TcpStream::connect(server.addr()).is_err(),
            "still listening after kill"
        );

        server.restart();
        assert_eq!(server.stats().get("curr_items"), Some(&0));
    }

    #[test]
    fn extra_args_reach_memcached() {
        let server = memcached_or_skip!(&["-m", "32"]);
        assert_eq!(
            server.stats().get("limit_maxbytes"),
            Some(&(32 * 1024 * 1024))
        );
    }
}
