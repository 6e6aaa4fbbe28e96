//! Runs an example app's binary as a black box: start it, find where it listens, read what it logs,
//! signal it, and kill it when the test is done.
//!
//! The contract does not promise that `--listen 127.0.0.1:0` works, so the harness picks a free
//! port itself and passes it explicitly. Everything the app prints is kept, so assertions can look
//! for warnings and failure messages can show the app's own account of what went wrong.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The hex secret every app gets unless a scenario says otherwise (32 bytes).
pub const TEST_SECRET: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// How long a debug build gets to print its `listening on` line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a fresh port is tried when another process took ours between probe and bind.
const START_ATTEMPTS: usize = 3;

/// How to start one app process: built by [`Env::launch`](crate::Env::launch), adjusted by the
/// scenario, then [`start`](Launch::start)ed or [`run_to_exit`](Launch::run_to_exit)ed.
#[derive(Debug, Clone)]
pub struct Launch {
    bin: &'static str,
    store: Option<String>,
    listen: Option<String>,
    secret: Option<String>,
    args: Vec<String>,
}

impl Launch {
    /// A launch of `bin` with the test secret and no options.
    pub fn new(bin: &'static str) -> Self {
        Self {
            bin,
            store: None,
            listen: None,
            secret: Some(TEST_SECRET.to_owned()),
            args: Vec::new(),
        }
    }

    /// Passes `--store SPEC`.
    pub fn store(mut self, spec: impl Into<String>) -> Self {
        self.store = Some(spec.into());
        self
    }

    /// Passes `--listen ADDR` verbatim instead of a free port of the harness's choosing.
    pub fn listen(mut self, addr: impl Into<String>) -> Self {
        self.listen = Some(addr.into());
        self
    }

    /// Sets `SESSION_SECRET`.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// Leaves `SESSION_SECRET` unset.
    pub fn no_secret(mut self) -> Self {
        self.secret = None;
        self
    }

    /// Appends command-line arguments, e.g. `["--idle-timeout", "2"]`.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Starts the app and waits for its `listening on http://ADDR` line.
    ///
    /// Panics, showing the app's stderr, if it exits or stays silent for 30 seconds.
    pub fn start(&self) -> App {
        for _ in 0..START_ATTEMPTS {
            let listen = self.listen.clone().unwrap_or_else(free_local_addr);
            match self.try_start(&listen) {
                Ok(app) => return app,
                // Another process grabbed the port after we probed it: try another one.
                Err(stderr) if self.listen.is_none() && stderr.contains("in use") => continue,
                Err(stderr) => panic!(
                    "`{}` exited before printing `listening on`; stderr:\n{stderr}",
                    self.describe(&listen)
                ),
            }
        }
        panic!("could not find a free port for the app in {START_ATTEMPTS} attempts");
    }

    /// Runs the app and waits up to `timeout` for it to exit on its own, as it should on a bad
    /// option. Panics if it is still running then (it is killed first).
    pub fn run_to_exit(&self, timeout: Duration) -> Exited {
        let listen = self.listen.clone().unwrap_or_else(free_local_addr);
        let (mut process, _) = Process::spawn(self.command(&listen));
        let status = process.wait_exit(timeout);
        let stdout = process.stdout.text();
        let stderr = process.stderr.text();
        let Some(status) = status else {
            panic!(
                "`{}` was expected to exit by itself but still ran after {timeout:?}; \
                 stdout:\n{stdout}stderr:\n{stderr}",
                self.describe(&listen)
            )
        };
        Exited {
            status,
            stdout,
            stderr,
        }
    }

    fn try_start(&self, listen: &str) -> Result<App, String> {
        let (mut process, stdout_lines) = Process::spawn(self.command(listen));
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match stdout_lines.recv_timeout(left) {
                Ok(line) => {
                    let Some(url) = line.strip_prefix("listening on http://") else {
                        continue;
                    };
                    let addr: SocketAddr = url.trim().parse().unwrap_or_else(|error| {
                        panic!("`listening on` names no socket address ({error}): {line:?}")
                    });
                    if self.listen.is_none() {
                        assert_eq!(
                            addr.to_string(),
                            listen,
                            "the `listening on` line names another address than --listen"
                        );
                    }
                    return Ok(App {
                        process,
                        addr,
                        command: self.describe(listen),
                    });
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // stdout closed: the process is exiting; give stderr a moment to drain.
                    process.wait_exit(Duration::from_secs(5));
                    return Err(process.stderr.text());
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "`{}` printed no `listening on` line within {STARTUP_TIMEOUT:?}; stderr:\n{}",
                    self.describe(listen),
                    process.stderr.text()
                ),
            }
        }
    }

    fn command(&self, listen: &str) -> Command {
        let mut command = Command::new(self.bin);
        command.args(["--listen", listen]);
        if let Some(store) = &self.store {
            command.args(["--store", store]);
        }
        command.args(&self.args);
        // The contract says warnings reach stderr with no environment variable: make sure none
        // inherited from the test run helps.
        command.env_remove("RUST_LOG").env_remove("RUST_BACKTRACE");
        match &self.secret {
            Some(secret) => command.env("SESSION_SECRET", secret),
            None => command.env_remove("SESSION_SECRET"),
        };
        command
    }

    fn describe(&self, listen: &str) -> String {
        let mut words = vec![
            self.bin.to_owned(),
            "--listen".to_owned(),
            listen.to_owned(),
        ];
        if let Some(store) = &self.store {
            words.extend(["--store".to_owned(), store.clone()]);
        }
        words.extend(self.args.iter().cloned());
        words.join(" ")
    }
}

/// How a process that was expected to exit by itself ended.
#[derive(Debug)]
pub struct Exited {
    /// Its exit status.
    pub status: ExitStatus,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr, ANSI colours removed.
    pub stderr: String,
}

/// A running app; killed when dropped.
#[derive(Debug)]
pub struct App {
    process: Process,
    addr: SocketAddr,
    command: String,
}

impl App {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The command line it was started with, for messages.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Every line it printed on stdout so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.process.stdout.snapshot()
    }

    /// Everything it printed on stderr so far, ANSI colours removed.
    pub fn stderr(&self) -> String {
        self.process.stderr.text()
    }

    /// The stderr lines that are warnings (or errors, which are worse).
    pub fn warnings(&self) -> Vec<String> {
        self.stderr()
            .lines()
            .filter(|line| {
                let line = line.to_ascii_lowercase();
                line.contains("warn") || line.contains("error")
            })
            .map(str::to_owned)
            .collect()
    }

    /// Waits up to three seconds for more than `seen` warnings, since a log line may be written
    /// just after the response it belongs to. Panics, naming `what`, if none comes.
    pub async fn expect_new_warning(&self, seen: usize, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.warnings().len() <= seen {
            assert!(
                Instant::now() < deadline,
                "{what}: the app logged no warning on stderr; stderr:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.process.child.try_wait(), Ok(None))
    }

    /// Sends a signal by name (`TERM`, `INT`) with the `kill` command.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.process.child.id().to_string())
            .status()
            .unwrap_or_else(|error| panic!("cannot run `kill -{name}`: {error}"));
        assert!(status.success(), "`kill -{name}` failed: {status}");
    }

    /// Waits up to `timeout` for the process to exit; `None` if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.process.wait_exit(timeout)
    }
}

/// A child process with background threads collecting its output.
#[derive(Debug)]
struct Process {
    child: Child,
    stdout: Lines,
    stderr: Lines,
}

impl Process {
    /// Starts `command`; also returns a channel of its stdout lines, to wait for the first ones.
    fn spawn(mut command: Command) -> (Self, Receiver<String>) {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {:?}: {error}", command.get_program()));
        let stdout = Lines::default();
        let stderr = Lines::default();
        let (sender, stdout_lines) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            let lines = stdout.clone();
            thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    lines.push(line.clone());
                    // The receiver may be gone once the app started; the lines are kept anyway.
                    let _ = sender.send(line);
                }
            });
        }
        if let Some(err) = child.stderr.take() {
            let lines = stderr.clone();
            thread::spawn(move || collect_lossy(err, &lines));
        }
        let process = Self {
            child,
            stdout,
            stderr,
        };
        (process, stdout_lines)
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the reader threads take the last lines.
                thread::sleep(Duration::from_millis(50));
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Errors mean it already exited, which is what we want.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Output lines shared with a reader thread.
#[derive(Debug, Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn push(&self, line: String) {
        self.0.lock().expect("output lock poisoned").push(line);
    }

    fn snapshot(&self) -> Vec<String> {
        self.0.lock().expect("output lock poisoned").clone()
    }

    fn text(&self) -> String {
        let mut text = self.snapshot().join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        text
    }
}

/// Reads lines as bytes (a log line need not be UTF-8), without ANSI colour codes.
fn collect_lossy(stream: impl Read, lines: &Lines) {
    let mut reader = BufReader::new(stream);
    let mut buffer = Vec::new();
    while matches!(reader.read_until(b'\n', &mut buffer), Ok(n) if n > 0) {
        let line = String::from_utf8_lossy(&buffer);
        lines.push(strip_ansi(line.trim_end_matches(['\r', '\n'])));
        buffer.clear();
    }
}

/// Removes `ESC [ ... letter` sequences, which loggers add when they think stderr is a terminal.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A `127.0.0.1` address with a port that was free a moment ago.
pub fn free_local_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a probe socket");
    let addr = listener.local_addr().expect("probe socket has no address");
    addr.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_codes_are_removed() {
        assert_eq!(
            strip_ansi("\u{1b}[2m2024\u{1b}[0m \u{1b}[33m WARN\u{1b}[0m x"),
            "2024  WARN x"
        );
    }
}
