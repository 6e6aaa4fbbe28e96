//! Child processes: pinning to a core, servers that announce their address,
//! and stopping them so that they exit cleanly.

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::Result;

/// The core the servers (and memcached) run on.
pub const SERVER_CORE: u32 = 0;
/// The core wrk runs on.
pub const LOAD_CORE: u32 = 1;

/// How long a server may take to announce itself (valgrind is slow to start).
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a server may take to exit after SIGTERM (callgrind writes its
/// profile then).
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// `program args...` pinned to `core` with `taskset`.
pub fn pinned(core: u32, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new("taskset");
    command.arg("-c").arg(core.to_string()).arg(program);
    command
}

/// A free TCP port on the loopback interface (free when asked, at least).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Fails unless `program` can be run (`program --version` or `-V` works).
pub fn require(program: &str, version_flag: &str, install: &str) -> Result<()> {
    let found = Command::new(program)
        .arg(version_flag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if found {
        Ok(())
    } else {
        Err(format!("{program} is missing: {install}").into())
    }
}

/// A running server that printed its address, stopped when dropped.
pub struct Server {
    name: String,
    child: Child,
    address: SocketAddr,
    log: PathBuf,
}

impl Server {
    /// Spawns `command` with stderr to `log`, and waits for the server's
    /// ready line on stdout.
    pub fn start(name: &str, mut command: Command, log: &Path) -> Result<Server> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(log)?)
            .spawn()
            .map_err(|error| format!("cannot start {name} ({command:?}): {error}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (ready, announced) = mpsc::channel();
        thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = String::new();
            let _ = ready.send(stdout.read_line(&mut line).map(|_| line));
            // Keep draining, so the server never blocks on a full pipe.
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
        let mut server = Server {
            name: name.to_owned(),
            child,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            log: log.to_owned(),
        };
        let line = match announced.recv_timeout(READY_TIMEOUT) {
            Ok(Ok(line)) => line,
            Ok(Err(error)) => return Err(server.failure(&format!("unreadable stdout: {error}"))),
            Err(_) => return Err(server.failure("no ready line in time")),
        };
        server.address = line
            .trim_end()
            .strip_prefix(support::READY_PREFIX)
            .and_then(|address| address.parse().ok())
            .ok_or_else(|| server.failure(&format!("unexpected ready line {line:?}")))?;
        Ok(server)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The CPU time the server has used so far, user and system.
    pub fn cpu_time(&self) -> Result<Duration> {
        cpu_time(self.child.id())
    }

    /// Sends SIGTERM and waits for the exit, which must be a success.
    pub fn stop(mut self) -> Result<()> {
        let status = terminate(&mut self.child)?;
        if status.success() {
            Ok(())
        } else {
            Err(self.failure(&format!("exited with {status}")))
        }
    }

    /// An error about this server, with the end of its log.
    fn failure(&mut self, what: &str) -> Box<dyn std::error::Error> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "{}: {what}; log {}:\n{}",
            self.name,
            self.log.display(),
            tail.join("\n")
        )
        .into()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The CPU time process `pid` has used, user and system, from
/// `/proc/PID/stat` (in clock ticks, usually 10 ms).
pub fn cpu_time(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name, in parentheses, may hold spaces: count from after it.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    // utime and stime, fields 14 and 15 of the line: indexes 11 and 12 here.
    let ticks: u64 = fields
        .get(11..13)
        .ok_or_else(|| format!("short /proc/{pid}/stat"))?
        .iter()
        .map(|field| field.parse::<u64>())
        .sum::<std::result::Result<u64, _>>()?;
    Ok(Duration::from_secs_f64(
        ticks as f64 / clock_ticks_per_second()? as f64,
    ))
}

/// `getconf CLK_TCK`, asked once.
fn clock_ticks_per_second() -> Result<u64> {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    if let Some(ticks) = TICKS.get() {
        return Ok(*ticks);
    }
    let output = Command::new("getconf").arg("CLK_TCK").output()?;
    let ticks = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|_| "getconf CLK_TCK answered no number")?;
    Ok(*TICKS.get_or_init(|| ticks))
}

/// SIGTERM (through `kill(1)`, the standard library only sends SIGKILL),
/// then waits; SIGKILL after [`STOP_TIMEOUT`].
pub fn terminate(child: &mut Child) -> Result<ExitStatus> {
    if let Some(status) = child.try_wait()? {
        return Ok(status);
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.kill()?;
    Err(format!(
        "process {} ignored SIGTERM for {STOP_TIMEOUT:?}",
        child.id()
    )
    .into())
}
