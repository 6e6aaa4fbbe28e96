//! memcached going away and coming back while the app runs.

use std::time::{Duration, Instant};

use reqwest::Method;

use crate::{Browser, Env, sleep_ms};

/// The contract's bound on answering while memcached is unreachable.
const OUTAGE_ANSWER_BOUND: Duration = Duration::from_secs(2);

/// With memcached killed, every route that needs the session answers 503 `text/plain` within 2
/// seconds with no internals in the body, a 404 stays a 404, and the process keeps running; once
/// memcached is back on the same port the app serves normally again without a restart.
pub async fn outage_answers_503_and_recovers(mut env: Env) {
    let mut app = env.launch().start();
    let port = env.memcached_required().addr().port().to_string();
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
        reply.assert_status(503, "with memcached down, a route that needs the session");
        assert!(
            reply.elapsed <= OUTAGE_ANSWER_BOUND,
            "`{}` with memcached down took {:?}, over the contract's 2 s",
            reply.request,
            reply.elapsed
        );
        assert_eq!(
            reply.media_type(),
            "text/plain",
            "`{}`: the 503 is text/plain",
            reply.request
        );
        let body = reply.text();
        let lowercase = body.to_ascii_lowercase();
        for internal in [
            "memcache",
            "127.0.0.1",
            "refused",
            "os error",
            "panic",
            &port,
        ] {
            assert!(
                !lowercase.contains(internal),
                "`{}`: the 503 body leaks internals ({internal:?}): {body:?}",
                reply.request
            );
        }
        assert!(
            !body.contains("Error"),
            "`{}`: the 503 body leaks an error value: {body:?}",
            reply.request
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
    let back = Instant::now();
    let mut fresh = Browser::new();
    loop {
        let reply = fresh.get(&app, "/visits").await;
        if reply.status == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "5 s after memcached came back the app still answers {} to GET /visits",
            reply.status
        );
        sleep_ms(100).await;
    }
    // The restarted memcached is empty: alice's session went with it.
    user.assert_logged_out(&app, "after memcached restarted empty")
        .await;
    user.login(&app, "alice").await;
    user.assert_greeted(&app, "alice", "logging in again after the outage")
        .await;
    assert_eq!(user.visits(&app).await, 1);
    assert_eq!(user.visits(&app).await, 2);
}
