//! memcached failing while the app runs: going away and coming back, answering too slowly, going
//! silent, and refusing to store because it is full. In every case a route that needs the session
//! answers a plain 503 in bounded time (never a 500, never a hang), routes that do not need it
//! keep working, and the app serves normally once memcached does, without a restart.
//!
//! Slowness and silence come from a [`Proxy`] between the app and memcached; a full memcached is
//! a real one started with `-M` (refuse to store rather than evict) and filled over its text
//! protocol.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use test_memcached::{MemcachedServer, Proxy, ProxyMode};
use tokio::task::JoinSet;

use crate::{App, Browser, Env, Reply, html, sleep_ms};

/// The contract's bound on answering while memcached is unreachable.
pub(super) const OUTAGE_ANSWER_BOUND: Duration = Duration::from_secs(2);

/// The contract's bound on answering while memcached answers too slowly, or not at all.
const SLOW_ANSWER_BOUND: Duration = Duration::from_millis(2500);

/// Every memcached answer late by this much: just under the store's 500 ms per-exchange timeout,
/// so each exchange succeeds, slowly, and only a request's store work as a whole can run out of
/// time.
const NEAR_TIMEOUT_DELAY: Duration = Duration::from_millis(450);

/// How many `PUT /prefs/pN` a settings page fires at once on one session in the slow scenario.
const PARALLEL_PUTS: usize = 16;

/// How long the app gets to serve normally again once memcached is healthy.
pub(super) const RECOVERY_BOUND: Duration = Duration::from_secs(5);

/// memcached's default largest slab chunk (half its 1 MiB page): larger items are stored in
/// several chunks, so filling starts at this size.
const LARGEST_FILL_ITEM: usize = 512 * 1024;

/// How much filling may store before it gives up: a memcached started with `-M -m 2` refuses
/// after about 40 MB (the first page of each slab class comes on top of `-m`); one that evicts
/// instead would take writes for ever.
const FILL_LIMIT: usize = 256 * 1024 * 1024;

/// With memcached killed, every route that needs the session answers 503 `text/plain` within 2
/// seconds with no internals in the body, a 404 stays a 404, and the process keeps running; once
/// memcached is back on the same port the app serves normally again without a restart.
pub async fn outage_answers_503_and_recovers(mut env: Env) {
    let mut app = env.launch().start();
    let port = env.memcached_required().addr().port();
    let mut user = Browser::new();
    user.login(&app, "alice").await;

    env.memcached_mut().kill();
    let requests = [
        (Method::GET, "/visits", None),
        (Method::GET, "/", None),
        (Method::GET, "/login", None),
        (Method::GET, "/prefs", None),
        (Method::PUT, "/prefs/theme", Some("text/plain")),
        (
            Method::POST,
            "/logout",
            Some("application/x-www-form-urlencoded"),
        ),
    ];
    for (method, path, content_type) in requests {
        let body = if content_type.is_some() {
            b"dark".to_vec()
        } else {
            Vec::new()
        };
        let reply = user.send(&app, method, path, content_type, body).await;
        assert_clean_503(&reply, "with memcached down", &[port]);
        assert!(
            reply.elapsed <= OUTAGE_ANSWER_BOUND,
            "`{}` with memcached down took {:?}, over the contract's 2 s",
            reply.request,
            reply.elapsed
        );
    }
    user.get(&app, "/nope")
        .await
        .assert_status(404, "an unknown path while memcached is down");
    assert!(
        app.is_running(),
        "the app must keep running while memcached is down"
    );

    env.memcached_mut().restart();
    let mut fresh = Browser::new();
    visits_once_back(&mut fresh, &app, "after memcached came back", &[port]).await;
    // The restarted memcached is empty: alice's session went with it.
    user.assert_logged_out(&app, "after memcached restarted empty")
        .await;
    user.login(&app, "alice").await;
    user.assert_greeted(&app, "alice", "logging in again after the outage")
        .await;
    assert_eq!(user.visits(&app).await, 1);
    assert_eq!(user.visits(&app).await, 2);
}

/// With every memcached answer delayed 450 ms (just under the store's 500 ms exchange timeout), a
/// first visit, a login and 16 parallel `PUT /prefs/pN` on one session each answer within 2.5 s,
/// with their success status or a plain 503, never a 500. Every PUT that answered 204 persisted,
/// and once memcached answers promptly again the app serves normally: the same session counts up
/// and is still logged in.
pub async fn slow_memcached_answers_within_budget(env: Env) {
    let proxy = Proxy::start(env.memcached_required().addr());
    let app = Arc::new(env.launch().store(proxy.spec()).start());
    let ports = [proxy.addr().port(), proxy.upstream().port()];
    proxy.set_mode(ProxyMode::Delay(NEAR_TIMEOUT_DELAY));
    let slow = "with every memcached answer 450 ms late";

    let mut user = Browser::new();
    let visit = user.get(&app, "/visits").await;
    success_or_503(&visit, 200, slow, &ports);
    let form = user.get(&app, "/login").await;
    let login = if success_or_503(&form, 200, slow, &ports) {
        let token = xsrf_token(&form);
        let fields = [("name", "alice"), ("_xsrf", token.as_str())];
        let reply = user.post_form(&app, "/login", &fields).await;
        success_or_503(&reply, 303, slow, &ports);
        Some(reply)
    } else {
        None
    };
    let logged_in = login.as_ref().is_some_and(|reply| reply.status == 303);

    // A settings page saving 16 fields at once, on the session the user has by now (if both the
    // first visit and the login answered 503 it has none, and each PUT starts its own).
    let cookie = user.cookie().map(str::to_owned);
    let puts = (0..PARALLEL_PUTS)
        .map(|index| {
            Request::put(
                cookie.as_deref(),
                &format!("/prefs/p{index}"),
                &value(index),
            )
        })
        .collect();
    let replies = at_once(&app, puts).await;
    let mut persisted = Vec::new();
    for (index, reply) in replies.iter().enumerate() {
        if success_or_503(reply, 204, slow, &ports) {
            persisted.push(index);
        }
    }
    // What happened, for a run with `--nocapture`: how close to the bound the app comes.
    let slowest = replies
        .iter()
        .map(|reply| reply.elapsed)
        .max()
        .unwrap_or_default();
    eprintln!(
        "{slow}: GET /visits {}, GET /login {}, POST /login {}, {} of {PARALLEL_PUTS} parallel \
         PUTs answered 204, the slowest in {slowest:.2?}",
        outcome(&visit),
        outcome(&form),
        login
            .as_ref()
            .map_or_else(|| "not sent".to_owned(), outcome),
        persisted.len()
    );

    proxy.set_mode(ProxyMode::Pass);
    let count = visits_once_back(&mut user, &app, "once memcached is prompt again", &ports).await;
    assert_eq!(
        user.visits(&app).await,
        count + 1,
        "once memcached is prompt again, GET /visits counts up by one"
    );
    if logged_in {
        user.assert_greeted(
            &app,
            "alice",
            "a login that answered 303 while memcached was slow",
        )
        .await;
    }
    if cookie.is_some() {
        let prefs = user.prefs(&app).await;
        for index in persisted {
            assert_eq!(
                prefs.get(&format!("p{index}")),
                Some(&json!(value(index))),
                "PUT /prefs/p{index} answered 204 {slow}, so its value must have persisted; \
                 prefs now: {prefs:?}"
            );
        }
    }
}

/// With memcached accepting connections but never answering, every route that needs the session
/// (an existing session's or a new visitor's, reading or writing) answers a plain 503 within 2.5
/// s; a 404 and the pages that need no stored session keep working. Once memcached answers again
/// the app serves normally, and the session that was there before is still there: silence is an
/// error, never a missing session.
pub async fn silent_memcached_answers_within_budget(env: Env) {
    let proxy = Proxy::start(env.memcached_required().addr());
    let app = Arc::new(env.launch().store(proxy.spec()).start());
    let ports = [proxy.addr().port(), proxy.upstream().port()];
    let mut user = Browser::new();
    user.login(&app, "alice").await;
    assert_eq!(user.visits(&app).await, 1);
    let cookie = user.cookie().map(str::to_owned);

    proxy.set_mode(ProxyMode::BlackHole);
    let silent = "with memcached silent";
    // At once, so the scenario waits for the slowest one rather than for all of them in turn.
    let replies = at_once(
        &app,
        vec![
            Request::get(cookie.as_deref(), "/visits"),
            Request::get(cookie.as_deref(), "/"),
            Request::get(cookie.as_deref(), "/prefs"),
            Request::put(cookie.as_deref(), "/prefs/theme", "dark"),
            Request::get(None, "/visits"),
            Request::put(None, "/prefs/theme", "dark"),
        ],
    )
    .await;
    for reply in &replies {
        assert_clean_503(reply, silent, &ports);
        assert_in_time(reply, silent);
    }
    let slowest = replies
        .iter()
        .map(|reply| reply.elapsed)
        .max()
        .unwrap_or_default();
    eprintln!("{silent}: the slowest 503 took {slowest:.2?}");
    assert_no_store_routes_work(&app, silent).await;

    proxy.set_mode(ProxyMode::Pass);
    let count = visits_once_back(&mut user, &app, "once memcached answers again", &ports).await;
    assert!(
        count >= 2,
        "the session's count survives a silent memcached: 1 before, {count} after"
    );
    assert_eq!(
        user.visits(&app).await,
        count + 1,
        "once memcached answers again, GET /visits counts up by one"
    );
    user.assert_greeted(&app, "alice", "after memcached was silent for a while")
        .await;
}

/// With memcached full (started with `-M`, so it refuses to store instead of evicting), every
/// write of session data (a new visitor's first visit or preference, a logged-in user's) answers
/// a plain 503, never a 500; a 404 and the pages that need no stored session keep working. Once
/// memcached is flushed, the app serves normally.
pub async fn full_memcached_answers_503(env: Env) {
    // The scenario's own memcached, small and refusing to evict; the one in `env` stays unused.
    let Some(full) = MemcachedServer::start_with_args(&["-M", "-m", "2"]) else {
        return;
    };
    let app = Arc::new(env.launch().store(full.spec()).start());
    let ports = [full.addr().port()];
    let mut user = Browser::new();
    user.login(&app, "alice").await;
    assert_eq!(user.visits(&app).await, 1, "before memcached is full");
    let cookie = user.cookie().map(str::to_owned);

    fill(full.addr());
    for size in [1, 100, 300, 1000, 4000] {
        assert!(
            refuses_for_memory(&command(
                full.addr(),
                &format!("set probe 0 0 {size}\r\n{}\r\n", "x".repeat(size))
            )),
            "filling memcached did not make it refuse a {size}-byte item: this scenario would \
             prove nothing"
        );
    }

    let full_store = "with memcached full";
    let replies = at_once(
        &app,
        vec![
            Request::get(None, "/visits"),
            Request::put(None, "/prefs/x", "on"),
            Request::get(cookie.as_deref(), "/visits"),
            Request::put(cookie.as_deref(), "/prefs/x", "on"),
        ],
    )
    .await;
    for reply in &replies {
        assert_clean_503(reply, full_store, &ports);
    }
    assert_no_store_routes_work(&app, full_store).await;

    assert_eq!(command(full.addr(), "flush_all\r\n"), "OK");
    let mut visitor = Browser::new();
    let first = visits_once_back(&mut visitor, &app, "after memcached was flushed", &ports).await;
    assert_eq!(first, 1, "a new visitor's first visit after the flush");
    assert_eq!(visitor.visits(&app).await, 2);
    visitor
        .put(&app, "/prefs/x", "on")
        .await
        .assert_status(204, "PUT /prefs/x after memcached was flushed");
    assert_eq!(visitor.prefs(&app).await.get("x"), Some(&json!("on")));
    // The flush took alice's session with everything else.
    user.assert_logged_out(&app, "after memcached was flushed")
        .await;
}

/// One request of a burst sent [`at_once`].
#[derive(Debug)]
struct Request {
    /// The session it is sent on; `None` for a new visitor.
    cookie: Option<String>,
    method: Method,
    path: String,
    /// For a PUT: the `text/plain` value.
    body: String,
}

impl Request {
    fn get(cookie: Option<&str>, path: &str) -> Self {
        Self {
            cookie: cookie.map(str::to_owned),
            method: Method::GET,
            path: path.to_owned(),
            body: String::new(),
        }
    }

    fn put(cookie: Option<&str>, path: &str, value: &str) -> Self {
        Self {
            method: Method::PUT,
            body: value.to_owned(),
            ..Self::get(cookie, path)
        }
    }
}

/// Sends every request at once, each from its own browser tab; answers the replies in request
/// order.
async fn at_once(app: &Arc<App>, requests: Vec<Request>) -> Vec<Reply> {
    let count = requests.len();
    let mut tasks = JoinSet::new();
    for (index, request) in requests.into_iter().enumerate() {
        let app = Arc::clone(app);
        let mut tab = request
            .cookie
            .map_or_else(Browser::new, Browser::with_cookie);
        tasks.spawn(async move {
            let reply = if request.method == Method::PUT {
                tab.put(&app, &request.path, request.body).await
            } else {
                let body = request.body.into_bytes();
                tab.send(&app, request.method, &request.path, None, body)
                    .await
            };
            (index, reply)
        });
    }
    let mut replies: Vec<Option<Reply>> = (0..count).map(|_| None).collect();
    while let Some(done) = tasks.join_next().await {
        let (index, reply) = done.expect("a request task panicked");
        replies[index] = Some(reply);
    }
    replies.into_iter().flatten().collect()
}

/// `STATUS in ELAPSED`, for the scenarios' notes on what happened.
fn outcome(reply: &Reply) -> String {
    format!("{} in {:.2?}", reply.status, reply.elapsed)
}

/// The value the slow scenario's parallel PUT number `index` stores.
fn value(index: usize) -> String {
    format!("v{index}")
}

/// Panics unless `reply` is a 503 that tells the client nothing about the store: `text/plain`,
/// and no server name, port, error text or panic in the body. `ports` are the ports of the
/// memcached (and proxy) the app talks to.
pub(super) fn assert_clean_503(reply: &Reply, situation: &str, ports: &[u16]) {
    reply.assert_status(
        503,
        &format!("{situation}, a route that needs the session answers 503 (never a 500)"),
    );
    assert_eq!(
        reply.media_type(),
        "text/plain",
        "`{}` {situation}: the 503 is text/plain",
        reply.request
    );
    let body = reply.text();
    let lowercase = body.to_ascii_lowercase();
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    let internals = [
        "memcache",
        "127.0.0.1",
        "refused",
        "os error",
        "timed out",
        "server_error",
        "out of memory",
        "panic",
    ];
    for internal in internals
        .iter()
        .copied()
        .chain(ports.iter().map(String::as_str))
    {
        assert!(
            !lowercase.contains(internal),
            "`{}` {situation}: the 503 body leaks internals ({internal:?}): {body:?}",
            reply.request
        );
    }
    assert!(
        !body.contains("Error"),
        "`{}` {situation}: the 503 body leaks an error value: {body:?}",
        reply.request
    );
}

/// Panics unless `reply` arrived within the contract's 2.5 s for a slow or silent memcached.
fn assert_in_time(reply: &Reply, situation: &str) {
    assert!(
        reply.elapsed <= SLOW_ANSWER_BOUND,
        "`{}` {situation} took {:?}, over the contract's {SLOW_ANSWER_BOUND:?}",
        reply.request,
        reply.elapsed
    );
}

/// Panics unless `reply` arrived in time and is `success` or a clean 503; `true` for `success`.
fn success_or_503(reply: &Reply, success: u16, situation: &str, ports: &[u16]) -> bool {
    assert_in_time(reply, situation);
    if reply.status == success {
        return true;
    }
    assert_clean_503(
        reply,
        &format!("{situation} (expected {success}, or 503 if its store work ran out of time)"),
        ports,
    );
    false
}

/// Panics unless a new visitor still gets a 404, the login form and an empty `GET /prefs`: none
/// of them needs a stored session, so none may depend on memcached.
async fn assert_no_store_routes_work(app: &App, situation: &str) {
    let mut visitor = Browser::new();
    let reply = visitor.get(app, "/nope").await;
    reply.assert_status(404, &format!("an unknown path {situation}"));
    assert_in_time(&reply, situation);
    let reply = visitor.get(app, "/login").await;
    reply.assert_status(200, &format!("a new visitor's login form {situation}"));
    assert_in_time(&reply, situation);
    xsrf_token(&reply);
    let reply = Browser::new().get(app, "/prefs").await;
    reply.assert_status(200, &format!("GET /prefs without a session {situation}"));
    assert_in_time(&reply, situation);
    assert_eq!(
        reply.text().trim(),
        "{}",
        "GET /prefs without a session {situation}"
    );
}

/// The `_xsrf` token of the login form in `reply`.
fn xsrf_token(reply: &Reply) -> String {
    let page = reply.text();
    html::tags(&page, "input")
        .into_iter()
        .find(|input| input.get("name").is_some_and(|name| name == "_xsrf"))
        .and_then(|input| input.get("value").cloned())
        .filter(|token| !token.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "`{}` has no `_xsrf` input with a value: {page}",
                reply.request
            )
        })
}

/// `GET /visits` until it answers 200 (each other answer must be a clean 503), for up to
/// [`RECOVERY_BOUND`]; the count it answered.
pub(super) async fn visits_once_back(
    browser: &mut Browser,
    app: &App,
    situation: &str,
    ports: &[u16],
) -> u64 {
    let back = Instant::now();
    loop {
        let reply = browser.get(app, "/visits").await;
        if reply.status == 200 {
            let text = reply.text();
            return text
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("GET /visits answered a non-number: {text:?}"));
        }
        assert_clean_503(&reply, situation, ports);
        assert!(
            back.elapsed() < RECOVERY_BOUND,
            "{situation}, the app still answers 503 to GET /visits after {RECOVERY_BOUND:?}"
        );
        sleep_ms(100).await;
    }
}

/// Writes items into the memcached at `addr`, started with `-M` (refuse rather than evict), until
/// it refuses items of every size.
///
/// memcached files items by size into slab classes and grants each class its first 1 MiB page
/// even past `-m`, so large items alone would leave room for small records such as sessions.
/// Sizes therefore go from the largest down, 10 % smaller each step (finer than memcached's 1.25
/// factor between classes, so no class is skipped), each written until refused. Blocking, and
/// over in well under a second: the scenario has nothing else to do meanwhile.
fn fill(addr: SocketAddr) {
    let stream = connect(addr);
    let mut reader = BufReader::new(&stream);
    let mut key = 0_u64;
    let mut stored = 0_usize;
    let mut size = LARGEST_FILL_ITEM;
    while size > 0 {
        let value = vec![b'x'; size];
        // The sets go out in batches of about 64 KiB and their answers are read after each
        // batch: one round trip per batch, not per item, for the ~50,000 small items.
        let per_batch = (64 * 1024 / size).clamp(1, 256);
        loop {
            let mut batch = Vec::new();
            for _ in 0..per_batch {
                key += 1;
                batch.extend_from_slice(format!("set fill:{key} 0 0 {size}\r\n").as_bytes());
                batch.extend_from_slice(&value);
                batch.extend_from_slice(b"\r\n");
            }
            (&stream)
                .write_all(&batch)
                .unwrap_or_else(|error| panic!("cannot write to memcached at {addr}: {error}"));
            let mut refused = false;
            for _ in 0..per_batch {
                match read_line(&mut reader, addr).as_str() {
                    "STORED" => stored += size,
                    line if refuses_for_memory(line) => refused = true,
                    line => panic!("memcached answered {line:?} to a set while being filled"),
                }
            }
            if refused {
                break;
            }
            assert!(
                stored <= FILL_LIMIT,
                "memcached at {addr} kept storing past {FILL_LIMIT} bytes: does it run with -M?"
            );
        }
        size = size * 9 / 10;
    }
}

/// Whether `line` is memcached refusing a write for lack of memory: `SERVER_ERROR out of memory
/// storing object`, or `SERVER_ERROR Out of memory during read` for an item too big to take in.
fn refuses_for_memory(line: &str) -> bool {
    line.starts_with("SERVER_ERROR") && line.to_ascii_lowercase().contains("out of memory")
}

/// Sends one text-protocol command (with its data block, if any) and answers the reply's first
/// line.
fn command(addr: SocketAddr, command: &str) -> String {
    let stream = connect(addr);
    (&stream)
        .write_all(command.as_bytes())
        .unwrap_or_else(|error| panic!("cannot write to memcached at {addr}: {error}"));
    read_line(&mut BufReader::new(&stream), addr)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr)
        .unwrap_or_else(|error| panic!("cannot connect to memcached at {addr}: {error}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap_or_else(|error| panic!("cannot set a read timeout: {error}"));
    stream
}

fn read_line(reader: &mut BufReader<&TcpStream>, addr: SocketAddr) -> String {
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .unwrap_or_else(|error| panic!("cannot read from memcached at {addr}: {error}"));
    line.trim_end().to_owned()
}
