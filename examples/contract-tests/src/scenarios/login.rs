//! `GET /login` and `POST /login`: the form, its `_xsrf` token, name validation, ID rotation and
//! the `next` redirect.

use std::time::{Duration, Instant};

use reqwest::Method;

use super::{Writes, stored_items};
use crate::{Browser, Env, html, sleep_ms, sleep_until};

/// `GET /login` answers an HTML form (`method="post"`, `action="/login"`, an input `name`, a hidden
/// `_xsrf`) and gives a visitor without a session the session cookie, but writes nothing to the
/// store (a session that holds no data is not stored, and its token needs no record), also when
/// the visitor opens it again; the token then logs in.
pub async fn login_form_creates_session(env: Env) {
    let app = env.launch().start();
    let mut visitor = Browser::new();
    let writes = Writes::now(&env);
    let token = visitor.xsrf(&app).await;
    assert!(
        visitor.cookie().is_some(),
        "GET /login creates the session, so its response must set the session cookie"
    );
    assert_eq!(
        visitor.xsrf(&app).await,
        token,
        "the second GET /login shows the same token"
    );
    for _ in 0..20 {
        Browser::new().xsrf(&app).await;
    }
    writes.assert_unchanged(&env, "an anonymous GET /login");
    assert_eq!(
        stored_items(&env).unwrap_or(0),
        0,
        "GET /login stores nothing"
    );
    visitor.login(&app, "alice").await;
    visitor
        .assert_greeted(&app, "alice", "after logging in")
        .await;
}

/// `_xsrf` missing or not this session's token: 403 and the session is unchanged (same cookie,
/// same data, still not logged in).
pub async fn login_rejects_bad_xsrf(env: Env) {
    let app = env.launch().start();
    let mut user = Browser::new();
    assert_eq!(user.visits(&app).await, 1);
    let token = user.xsrf(&app).await;
    let other_token = Browser::new().xsrf(&app).await;
    let altered = altered(&token);
    let cookie = user.cookie().map(str::to_owned);

    let cases: [(&str, Vec<(&str, &str)>); 5] = [
        ("no _xsrf field", vec![("name", "mallory")]),
        ("an empty _xsrf", vec![("name", "mallory"), ("_xsrf", "")]),
        (
            "a made-up _xsrf",
            vec![
                ("name", "mallory"),
                ("_xsrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ],
        ),
        (
            "another session's _xsrf",
            vec![("name", "mallory"), ("_xsrf", &other_token)],
        ),
        (
            "this session's _xsrf altered",
            vec![("name", "mallory"), ("_xsrf", &altered)],
        ),
    ];
    for (what, fields) in cases {
        let reply = user.post_form(&app, "/login", &fields).await;
        reply.assert_status(403, &format!("POST /login with {what}"));
        assert_eq!(
            user.cookie(),
            cookie.as_deref(),
            "POST /login with {what} must leave the session unchanged, but the cookie changed"
        );
    }
    user.assert_logged_out(&app, "after refused logins").await;
    assert_eq!(
        user.visits(&app).await,
        2,
        "refused logins must leave the session's data as it was"
    );

    let mut stranger = Browser::new();
    stranger
        .post_form(&app, "/login", &[("name", "mallory"), ("_xsrf", &token)])
        .await
        .assert_status(403, "POST /login with a stolen token but no session cookie");

    user.login(&app, "alice").await;
    user.assert_greeted(&app, "alice", "the real token still logs in")
        .await;
}

/// `name` empty (or missing) or longer than 64 characters: 400. 64 characters, counted as
/// characters and not bytes, are accepted.
pub async fn login_validates_name_length(env: Env) {
    let app = env.launch().start();
    let mut user = Browser::new();
    let long_ascii = "a".repeat(65);
    let long_wide = "é".repeat(65);
    let cases = [
        ("an empty name", Some("")),
        ("a 65-character name", Some(long_ascii.as_str())),
        ("a name of 65 two-byte characters", Some(long_wide.as_str())),
        ("no name field", None),
    ];
    for (what, name) in cases {
        let token = user.xsrf(&app).await;
        let mut fields = vec![("_xsrf", token.as_str())];
        fields.extend(name.map(|name| ("name", name)));
        let reply = user.post_form(&app, "/login", &fields).await;
        reply.assert_status(400, &format!("POST /login with {what}"));
        user.assert_logged_out(&app, &format!("after POST /login with {what}"))
            .await;
    }
    for name in ["é".repeat(64), "b".repeat(64)] {
        user.login(&app, &name).await;
        user.assert_greeted(&app, &name, "a 64-character name is accepted")
            .await;
    }
}

/// The greeting HTML-escapes the name: markup in a name is shown, never run.
pub async fn login_escapes_name(env: Env) {
    let app = env.launch().start();
    let mut user = Browser::new();
    let name = "<script>alert(1)</script> & <b>bold</b>";
    user.login(&app, name).await;
    let page = user.get(&app, "/").await;
    page.assert_status(200, "GET / when logged in");
    let text = page.text();
    assert!(
        !text.contains("<script>alert(1)") && !text.contains("<b>bold"),
        "GET / must HTML-escape the name, but the page holds it raw: {text}"
    );
    assert_eq!(
        html::greeting(&text).map(|greeting| greeting.starts_with(name)),
        Some(true),
        "GET / must show `Hello, ` and the escaped name: {text}"
    );
}

/// A login rotates the session ID: the cookie value changes, the old value no longer reaches the
/// data, the data (`visits`) carries over, and the new ID gets a new `_xsrf` token (the old one
/// is refused).
pub async fn login_rotates_session_id(env: Env) {
    let app = env.launch().start();
    let mut user = Browser::new();
    assert_eq!(user.visits(&app).await, 1);
    assert_eq!(user.visits(&app).await, 2);
    let old_token = user.xsrf(&app).await;
    let old_cookie = user.cookie().expect("the session has a cookie").to_owned();

    let reply = user
        .post_form(&app, "/login", &[("name", "alice"), ("_xsrf", &old_token)])
        .await;
    reply.assert_redirect("/", "POST /login");
    let new_cookie = reply
        .session_cookie()
        .expect("a login rotates the session ID, so it must set a new cookie")
        .value;
    assert_ne!(
        new_cookie, old_cookie,
        "a login must change the cookie value"
    );

    user.assert_greeted(&app, "alice", "with the new cookie")
        .await;
    assert_eq!(
        user.visits(&app).await,
        3,
        "the session's data must carry over to the new ID"
    );

    let mut old = Browser::with_cookie(old_cookie);
    old.assert_logged_out(&app, "the cookie from before the login")
        .await;
    assert_eq!(
        old.visits(&app).await,
        1,
        "the cookie from before the login must no longer reach the session's data"
    );

    let new_token = user.xsrf(&app).await;
    assert_ne!(
        new_token, old_token,
        "the new ID must get a new _xsrf token"
    );
    user.post_form(&app, "/logout", &[("_xsrf", &old_token)])
        .await
        .assert_status(
            403,
            "POST /logout with the _xsrf token from before the login",
        );
    user.assert_greeted(&app, "alice", "after the refused logout")
        .await;
}

/// The rotated ID keeps the session's creation time: the absolute timeout still counts from the
/// first visit, and the new cookie's `Max-Age` says so.
pub async fn login_keeps_absolute_timeout(env: Env) {
    let app = env.launch().args(["--absolute-timeout", "3"]).start();
    let created = Instant::now();
    let mut user = Browser::new();
    assert_eq!(user.visits(&app).await, 1);
    sleep_ms(1500).await;

    let reply = user.login(&app, "alice").await;
    let max_age = reply
        .session_cookie()
        .expect("a login sets the rotated cookie")
        .max_age();
    assert!(
        max_age.is_some_and(|age| age <= 2),
        "1.5 s into a 3 s absolute timeout the rotated cookie's Max-Age must count from the \
         first visit (at most 2), got {max_age:?}"
    );
    user.assert_greeted(&app, "alice", "right after logging in")
        .await;

    sleep_until(created + Duration::from_millis(3800)).await;
    user.assert_logged_out(
        &app,
        "3.8 s after the first visit with a 3 s absolute timeout (a login must not restart it)",
    )
    .await;
}

/// After a login: 303 to `next` when it is a local path (starts with `/`, second character
/// neither `/` nor `\`, no backslash, no control character), else to `/`.
pub async fn login_redirects_only_to_local_next(env: Env) {
    let app = env.launch().start();
    let mut user = Browser::new();
    let cases = [
        (Some("/visits"), "/visits"),
        (Some("/prefs?x=1"), "/prefs?x=1"),
        (Some("/a/b"), "/a/b"),
        (Some("/"), "/"),
        (None, "/"),
        (Some(""), "/"),
        (Some("//evil.example"), "/"),
        (Some("/\\evil.example"), "/"),
        (Some("http://evil.example/"), "/"),
        (Some("https:evil.example"), "/"),
        (Some("evil.example"), "/"),
        (Some("javascript:alert(1)"), "/"),
        (Some("/a\\b"), "/"),
        (Some("/a\tb"), "/"),
        (Some("/a\nb"), "/"),
        (Some("/a\rb"), "/"),
        (Some("/a\u{0}b"), "/"),
        (Some("/a\u{7f}b"), "/"),
        (Some("/a\u{85}b"), "/"),
    ];
    for (next, expected) in cases {
        let token = user.xsrf(&app).await;
        let mut fields = vec![("name", "alice"), ("_xsrf", token.as_str())];
        fields.extend(next.map(|next| ("next", next)));
        let reply = user.post_form(&app, "/login", &fields).await;
        reply.assert_redirect(expected, &format!("POST /login with next={next:?}"));
    }
    user.assert_greeted(&app, "alice", "after the logins").await;
}

/// A `POST /login` body that is not a valid form answers 400 and logs nobody in.
pub async fn login_rejects_non_form_body(env: Env) {
    let app = env.launch().start();
    let mut user = Browser::new();
    let token = user.xsrf(&app).await;
    let json = format!(r#"{{"name":"alice","_xsrf":"{token}"}}"#);
    let reply = user
        .send(
            &app,
            Method::POST,
            "/login",
            Some("application/json"),
            json.into_bytes(),
        )
        .await;
    reply.assert_status(400, "POST /login with a JSON body");
    user.assert_logged_out(&app, "after a JSON login").await;
}

/// `token` with its first character changed.
fn altered(token: &str) -> String {
    let mut rest = token.chars();
    let first = rest.next();
    let replacement = if first == Some('A') { 'B' } else { 'A' };
    format!("{replacement}{}", rest.as_str())
}
