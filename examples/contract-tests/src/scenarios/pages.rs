//! `GET /`, `GET /visits` and unknown paths.

use reqwest::Method;

use super::Writes;
use crate::{Browser, Env};

/// `GET /` when not logged in: 303 (or 302) to `/login?next=%2F`, and no session is created: no
/// `Set-Cookie`, no store write. A session that exists but holds no user is sent there too.
pub async fn root_redirects_anonymous_without_session(env: Env) {
    let app = env.launch().start();
    let mut visitor = Browser::new();

    let writes = Writes::now(&env);
    let reply = visitor.get(&app, "/").await;
    reply.assert_login_redirect("GET / without a cookie");
    assert!(
        reply.set_cookies().is_empty(),
        "GET / without a cookie must create no session, but set {:?}",
        reply.set_cookies()
    );
    writes.assert_unchanged(&env, "GET / without a cookie");

    assert_eq!(visitor.visits(&app).await, 1);
    let reply = visitor.get(&app, "/").await;
    reply.assert_login_redirect("GET / with a session that is not logged in");
    assert!(
        reply.set_cookies().is_empty(),
        "GET / only reads the session, yet it set {:?}",
        reply.set_cookies()
    );
}

/// `GET /visits` adds one to `visits` and answers it as `text/plain`: `1` on a first call without
/// a cookie, which creates the session and sets the cookie; sessions count separately.
pub async fn visits_count_from_one(env: Env) {
    let app = env.launch().start();
    let mut first = Browser::new();
    let reply = first.get(&app, "/visits").await;
    reply.assert_status(200, "the first GET /visits");
    assert_eq!(
        reply.media_type(),
        "text/plain",
        "GET /visits is text/plain"
    );
    assert_eq!(reply.text().trim(), "1", "the first GET /visits counts 1");
    assert!(
        reply.session_cookie().is_some(),
        "the first GET /visits creates the session, so it must set the cookie"
    );
    assert_eq!(first.visits(&app).await, 2, "the second visit");
    assert_eq!(first.visits(&app).await, 3, "the third visit");

    let mut second = Browser::new();
    assert_eq!(
        second.visits(&app).await,
        1,
        "another browser counts on its own"
    );
    assert_eq!(
        first.visits(&app).await,
        4,
        "the first browser's count went on"
    );
}

/// An unknown path answers 404 (a known path with another method may answer 405), touches no
/// session and sets no cookie, even for a browser that has one.
pub async fn unknown_path_is_404(env: Env) {
    let app = env.launch().start();
    let mut browser = Browser::new();
    assert_eq!(browser.visits(&app).await, 1);
    let cases: [(Method, &str, &[u16]); 7] = [
        (Method::GET, "/nope", &[404]),
        (Method::GET, "/login/extra", &[404]),
        (Method::GET, "/visits/1", &[404]),
        (Method::GET, "/prefs/theme/extra", &[404]),
        (Method::POST, "/nope", &[404]),
        (Method::DELETE, "/prefs", &[404, 405]),
        (Method::POST, "/visits", &[404, 405]),
    ];
    for (method, path, allowed) in cases {
        let writes = Writes::now(&env);
        let reply = browser
            .send(&app, method.clone(), path, None, Vec::new())
            .await;
        assert!(
            allowed.contains(&reply.status),
            "`{method} {path}` answered {} (expected one of {allowed:?})",
            reply.status
        );
        assert!(
            reply.set_cookies().is_empty(),
            "`{method} {path}` set a cookie: {:?}",
            reply.set_cookies()
        );
        writes.assert_unchanged(&env, &format!("`{method} {path}`"));
    }
    assert_eq!(
        browser.visits(&app).await,
        2,
        "the session survived the 404s"
    );
    let mut stranger = Browser::new();
    stranger
        .get(&app, "/nope")
        .await
        .assert_status(404, "an unknown path without a cookie");
}

/// Pages that show a user's name or an `_xsrf` token carry `Cache-Control: no-store` whether or
/// not they set the cookie, and every HTML page carries `X-Frame-Options: DENY`.
pub async fn personal_pages_are_not_cached_or_framed(env: Env) {
    let app = env.launch().start();
    let mut user = Browser::new();
    user.xsrf(&app).await;
    user.login(&app, "alice").await;
    for path in ["/login", "/"] {
        let reply = user.get(&app, path).await;
        reply.assert_status(200, &format!("GET {path}"));
        assert_eq!(
            reply.header("cache-control"),
            Some("no-store"),
            "GET {path} shows a name or a token: Cache-Control: no-store, even without Set-Cookie"
        );
        assert_eq!(
            reply.header("x-frame-options"),
            Some("DENY"),
            "GET {path} is an HTML page: X-Frame-Options: DENY"
        );
    }
}
