//! The process: defaults, bad options, the generated secret, and graceful shutdown.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::{App, Browser, Env, Launch, sleep_ms};

/// The contract's bound on a graceful shutdown.
const SHUTDOWN_BOUND: Duration = Duration::from_secs(5);

/// Without `--store` the app serves the in-memory store with the default timeouts (the first
/// cookie's `Max-Age` is a day), and prints exactly one line on stdout: `listening on http://ADDR`.
pub async fn starts_with_defaults(env: Env) {
    let app = env.launch_without_store().start();
    let mut user = Browser::new();
    let reply = user.get(&app, "/visits").await;
    reply.assert_status(200, "GET /visits");
    let max_age = reply.session_cookie().and_then(|cookie| cookie.max_age());
    assert!(
        max_age.is_some_and(|age| (86_395..=86_400).contains(&age)),
        "the default absolute timeout is 86400 s, so the first Max-Age must be close to it, got \
         {max_age:?}"
    );
    user.login(&app, "alice").await;
    user.assert_greeted(&app, "alice", "on the default store")
        .await;
    assert_eq!(
        app.stdout_lines(),
        vec![format!("listening on http://{}", app.addr())],
        "stdout must hold exactly one line, `listening on http://ADDR`"
    );
}

/// An unknown store scheme: one line on stderr, exit code 2.
pub async fn rejects_unknown_store_scheme(env: Env) {
    assert_refused(
        env.launch().store("redis://x"),
        "--store redis://x",
        &["redis", "store"],
    );
}

/// An unparsable `--listen` address: one line on stderr, exit code 2.
pub async fn rejects_unparsable_listen_address(env: Env) {
    assert_refused(
        env.launch().listen("nonsense"),
        "--listen nonsense",
        &["nonsense", "listen", "address"],
    );
}

/// A `SESSION_SECRET` shorter than 32 bytes (hex or base64, first or second in the list) or one
/// that is neither hex nor base64: one line on stderr, exit code 2.
pub async fn rejects_short_or_unreadable_secret(env: Env) {
    let secrets = [
        ("abcd", "a 2-byte hex secret"),
        (
            "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMQ",
            "a 31-byte base64 secret",
        ),
        ("not base64!", "a secret that is neither hex nor base64"),
        (
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f,abcd",
            "a short second key",
        ),
    ];
    for (secret, what) in secrets {
        assert_refused(env.launch().secret(secret), what, &["secret", "key"]);
    }
}

/// Malformed options (a non-numeric timeout, an unknown flag): one line on stderr, exit code 2,
/// not an argument parser's multi-line usage text.
pub async fn rejects_malformed_options(env: Env) {
    assert_refused(
        env.launch().args(["--idle-timeout", "soon"]),
        "--idle-timeout soon",
        &["idle", "soon"],
    );
    assert_refused(
        env.launch().args(["--no-such-option"]),
        "--no-such-option",
        &["no-such-option"],
    );
}

/// Without `SESSION_SECRET` the app starts with a random key and says so on stderr; on memcached,
/// a second such instance does not accept the first one's cookies.
pub async fn random_secret_when_unset(env: Env) {
    let app = env.launch().no_secret().start();
    let deadline = Instant::now() + Duration::from_secs(3);
    while !app.stderr().to_ascii_lowercase().contains("secret") {
        assert!(
            Instant::now() < deadline,
            "without SESSION_SECRET the app must say on stderr that it generated a key; stderr:\n{}",
            app.stderr()
        );
        sleep_ms(25).await;
    }
    let mut user = Browser::new();
    user.login(&app, "alice").await;
    user.assert_greeted(&app, "alice", "with a generated key")
        .await;
    if env.memcached().is_some() {
        let other = env.launch().no_secret().start();
        Browser::with_cookie(user.cookie().expect("logged in"))
            .assert_logged_out(&other, "another instance generates another key")
            .await;
    }
}

/// SIGTERM while a keep-alive connection sits idle: exit code 0 within 5 seconds.
pub async fn sigterm_exits_cleanly(env: Env) {
    exits_cleanly_on(env, "TERM").await;
}

/// SIGINT while a keep-alive connection sits idle: exit code 0 within 5 seconds.
pub async fn sigint_exits_cleanly(env: Env) {
    exits_cleanly_on(env, "INT").await;
}

/// Sends `signal` to an app with a logged-in user and an idle keep-alive connection, and checks
/// the graceful exit.
async fn exits_cleanly_on(env: Env, signal: &str) {
    let mut app = env.launch().start();
    let mut user = Browser::new();
    user.login(&app, "alice").await;
    let idle = idle_keep_alive(&app);
    app.signal(signal);
    let signalled = Instant::now();
    let status = app.wait_exit(SHUTDOWN_BOUND);
    let Some(status) = status else {
        panic!(
            "SIG{signal} with an idle keep-alive connection open: the app still runs after \
             {SHUTDOWN_BOUND:?}; stderr:\n{}",
            app.stderr()
        );
    };
    assert_eq!(
        status.code(),
        Some(0),
        "SIG{signal}: a graceful shutdown exits with code 0, got {status} after {:?}; stderr:\n{}",
        signalled.elapsed(),
        app.stderr()
    );
    drop(idle);
}

/// Opens a connection, completes one keep-alive request on it and leaves it idle.
fn idle_keep_alive(app: &App) -> TcpStream {
    let mut stream = TcpStream::connect(app.addr()).expect("cannot connect to the app");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("cannot set a read timeout");
    let request = format!(
        "GET /nope HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\n\r\n",
        app.addr()
    );
    stream
        .write_all(request.as_bytes())
        .expect("cannot send the keep-alive request");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = stream
            .read(&mut byte)
            .expect("cannot read the response head");
        assert!(read == 1, "the app closed the connection before answering");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(
        head.starts_with("http/1.1 404") && !head.contains("connection: close"),
        "the request meant to leave a keep-alive connection got: {head}"
    );
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream
        .read_exact(&mut body)
        .expect("cannot read the response body");
    stream
}

/// Runs `launch`, which must be refused: exit code 2 and exactly one stderr line, naming the
/// problem (one of `hints`, case-insensitively), without a panic or backtrace.
fn assert_refused(launch: Launch, what: &str, hints: &[&str]) {
    let exited = launch.run_to_exit(Duration::from_secs(15));
    let stderr = exited.stderr;
    assert_eq!(
        exited.status.code(),
        Some(2),
        "{what}: a bad option must exit with code 2, got {}; stderr:\n{stderr}",
        exited.status
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{what}: a bad option must print exactly one line on stderr, got {}:\n{stderr}",
        lines.len()
    );
    let line = lines[0].to_ascii_lowercase();
    assert!(
        !line.contains("panicked") && !line.contains("backtrace"),
        "{what}: the error must not be a panic: {stderr}"
    );
    assert!(
        hints.iter().any(|hint| line.contains(hint)),
        "{what}: the line must say what is wrong (mention one of {hints:?}): {stderr}"
    );
    assert!(
        !exited.stdout.contains("listening"),
        "{what}: a refused option must not start serving; stdout: {}",
        exited.stdout
    );
}
