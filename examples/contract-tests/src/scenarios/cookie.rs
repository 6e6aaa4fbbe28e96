//! The session cookie: its attributes, when it is sent, and what happens to values the app did
//! not issue. (Every `Set-Cookie` of every scenario is also checked by the [`Browser`].)

use crate::{Browser, Env, Reply};

/// A second secret (32 bytes, hex) for apps that must not trust the test secret's cookies.
const OTHER_SECRET: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f";

/// The cookie is `HttpOnly`, `SameSite=Lax`, `Path=/`, without `Secure` by default, with
/// `Max-Age` the time left until the absolute timeout, and `Cache-Control: no-store` on the
/// response.
pub async fn cookie_attributes(env: Env) {
    let app = env.launch().args(["--absolute-timeout", "100"]).start();
    let mut user = Browser::new();
    let reply = user.get(&app, "/visits").await;
    assert_max_age_within(&reply, 95..=100);
    let reply = user.login(&app, "alice").await;
    assert_max_age_within(&reply, 95..=100);
}

/// With `--secure-cookies` every session cookie, its expiry included, carries `Secure`, and is
/// named `__Host-session`; a cookie named `session` is then no session.
pub async fn secure_cookies_flag(env: Env) {
    let app = env.launch().args(["--secure-cookies"]).start();
    let mut user = Browser::new().expecting_secure();
    assert_eq!(user.visits(&app).await, 1);
    // Only the `__Host-` name is read: the same value under the plain name (as a sibling
    // subdomain could set it) is no session.
    let value = user.cookie().expect("a session cookie").to_owned();
    let mut planted = Browser::with_cookie(value)
        .expecting_secure()
        .sending_cookie_as(crate::browser::COOKIE_NAME);
    assert_eq!(
        planted
            .get(&app, "/visits")
            .await
            .session_cookie()
            .map(|cookie| cookie.name),
        Some(crate::browser::SECURE_COOKIE_NAME.to_owned()),
        "a cookie named `session` must not reach a `__Host-session` app's session"
    );
    assert_eq!(
        user.visits(&app).await,
        2,
        "the planted cookie changed nothing"
    );
    user.login(&app, "alice").await;
    let token = user.xsrf(&app).await;
    user.post_form(&app, "/logout", &[("_xsrf", &token)])
        .await
        .assert_redirect("/login", "POST /logout");
}

/// A request that only reads the session sends no `Set-Cookie`: idleness is enforced by the
/// server.
pub async fn read_only_requests_set_no_cookie(env: Env) {
    let app = env.launch().start();
    let mut user = Browser::new();
    user.login(&app, "alice").await;
    user.put(&app, "/prefs/theme", "dark")
        .await
        .assert_status(204, "PUT /prefs/theme");
    let mut anonymous = Browser::new();
    assert_eq!(anonymous.visits(&app).await, 1);
    for (who, browser) in [("logged in", &mut user), ("not logged in", &mut anonymous)] {
        for path in ["/", "/prefs"] {
            let reply = browser.get(&app, path).await;
            assert!(
                reply.status < 400,
                "GET {path} ({who}) answered {}",
                reply.status
            );
            assert!(
                reply.set_cookies().is_empty(),
                "GET {path} ({who}) only reads the session, yet it sent {:?}",
                reply.set_cookies()
            );
        }
    }
}

/// Tampered, truncated, unsigned, foreign, oversized and garbage cookie values count as no
/// session: never a 5xx, never the real session's data, and never adopted as the new session's
/// value.
pub async fn bad_cookie_values_are_no_session(env: Env) {
    let mut app = env.launch().start();
    let mut alice = Browser::new();
    alice.login(&app, "alice").await;
    for _ in 0..3 {
        alice.visits(&app).await;
    }
    let good = alice.cookie().expect("logged in").to_owned();
    let half = good.len() / 2;
    let cases = [
        ("tampered (one character changed)", tamper(&good, half)),
        (
            "tampered (last character changed)",
            tamper(&good, good.len() - 1),
        ),
        (
            "truncated by one character",
            good[..good.len() - 1].to_owned(),
        ),
        (
            "truncated to half (an ID without its signature)",
            good[..half].to_owned(),
        ),
        ("extended by one character", format!("{good}A")),
        ("doubled", format!("{good}{good}")),
        (
            "random text of the same length",
            "Zm9v".repeat(good.len().div_ceil(4))[..good.len()].to_owned(),
        ),
        ("garbage", "not-a-session".to_owned()),
        ("empty", String::new()),
        ("non-ASCII", "é".repeat(43)),
        ("oversized (10 kB)", "A".repeat(10_000)),
    ];
    for (what, value) in cases {
        let mut stranger = Browser::with_cookie(value.clone());
        stranger
            .assert_logged_out(&app, &format!("a cookie value that is {what}"))
            .await;
        assert!(
            stranger.prefs(&app).await.is_empty(),
            "a cookie value that is {what} must count as no session"
        );
        assert_eq!(
            stranger.visits(&app).await,
            1,
            "a cookie value that is {what} must not reach the real session's data"
        );
        assert_ne!(
            stranger.cookie(),
            Some(value.as_str()),
            "a cookie value that is {what} must not be adopted for the new session"
        );
    }
    assert!(app.is_running(), "the app died on a bad cookie");
    alice
        .assert_greeted(&app, "alice", "the real cookie still works")
        .await;
    assert_eq!(
        alice.visits(&app).await,
        4,
        "the real session's data is intact"
    );
}

/// A cookie issued by an app with another secret (on the same store, when it is memcached)
/// counts as no session.
pub async fn foreign_key_cookie_is_no_session(env: Env) {
    let foreign = env.launch().secret(OTHER_SECRET).start();
    let mut elsewhere = Browser::new();
    elsewhere.login(&foreign, "alice").await;
    let app = env.launch().start();
    let mut visitor = Browser::with_cookie(elsewhere.cookie().expect("logged in"));
    visitor
        .assert_logged_out(&app, "a cookie signed with a key this app does not have")
        .await;
    elsewhere
        .assert_greeted(&foreign, "alice", "the issuing app still knows its cookie")
        .await;
}

/// `value` with the character at `at` replaced by another base64url character.
fn tamper(value: &str, at: usize) -> String {
    let replacement = if value[at..].starts_with('A') {
        "B"
    } else {
        "A"
    };
    let mut tampered = value.to_owned();
    tampered.replace_range(at..=at, replacement);
    tampered
}

/// Panics unless the response sets a session cookie whose `Max-Age` lies in `range`.
fn assert_max_age_within(reply: &Reply, range: std::ops::RangeInclusive<i64>) {
    let cookie = reply
        .session_cookie()
        .unwrap_or_else(|| panic!("`{}` must set the session cookie", reply.request));
    assert!(
        cookie.max_age().is_some_and(|age| range.contains(&age)),
        "`{}` with --absolute-timeout 100: Max-Age must be the time left until the absolute \
         timeout ({range:?}), got {}",
        reply.request,
        cookie.raw
    );
}
