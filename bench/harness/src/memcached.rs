//! A memcached of the harness's own, and its command counters.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::Result;
use crate::process::{self, SERVER_CORE};

/// The counters that add up to one per command a client sends, whichever
/// protocol. Checked on memcached 1.6.18 with the meta commands:
///
/// - `mg` with `T` (get-and-touch): `cmd_touch` on a hit, `cmd_get` on a
///   miss (never both); `mg` without `T`: `cmd_get`;
/// - `ms` (set, add with `ME`, CAS set with `C`): `cmd_set`, whatever the
///   outcome;
/// - `md`: `delete_hits` or `delete_misses`;
/// - `ma`: `incr_*` or `decr_*`; `mn`: nothing.
const ROUND_TRIP_COUNTERS: &[&str] = &[
    "cmd_get",
    "cmd_set",
    "cmd_touch",
    "cmd_flush",
    "delete_hits",
    "delete_misses",
    "incr_hits",
    "incr_misses",
    "decr_hits",
    "decr_misses",
];

/// A memcached on a free port, pinned to the servers' core, killed when
/// dropped.
pub struct Memcached {
    child: Child,
    address: SocketAddr,
}

impl Memcached {
    pub fn start() -> Result<Memcached> {
        let address = SocketAddr::from(([127, 0, 0, 1], process::free_port()?));
        let child = process::pinned(SERVER_CORE, "memcached")
            .args(["-u", "nobody", "-l", "127.0.0.1", "-U", "0", "-t", "1"])
            .args(["-p", &address.port().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start memcached: {error}"))?;
        let memcached = Memcached { child, address };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(address).is_err() {
            if Instant::now() > deadline {
                return Err(format!("memcached does not listen on {address}").into());
            }
            thread::sleep(Duration::from_millis(20));
        }
        Ok(memcached)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The commands served so far (see [`ROUND_TRIP_COUNTERS`]).
    pub fn commands(&self) -> Result<u64> {
        let stats = self.stats()?;
        Ok(ROUND_TRIP_COUNTERS
            .iter()
            .map(|name| stats.get(*name).copied().unwrap_or(0))
            .sum())
    }

    /// `stats`: the numeric counters.
    fn stats(&self) -> Result<HashMap<String, u64>> {
        let mut stream = TcpStream::connect(self.address)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(b"stats\r\n")?;
        let mut stats = HashMap::new();
        for line in BufReader::new(stream).lines() {
            let line = line?;
            if line == "END" {
                return Ok(stats);
            }
            let mut fields = line.split_whitespace();
            if let (Some("STAT"), Some(name), Some(value)) =
                (fields.next(), fields.next(), fields.next())
                && let Ok(value) = value.parse()
            {
                stats.insert(name.to_owned(), value);
            }
        }
        Err("memcached closed the connection before END".into())
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
