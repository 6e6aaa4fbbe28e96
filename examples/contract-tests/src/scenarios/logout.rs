//! `POST /logout`.

use super::session_record_key;
use crate::{Browser, Env, inspect};

/// A bad `_xsrf` on `POST /logout`: 403, and the user stays logged in.
pub async fn logout_rejects_bad_xsrf(env: Env) {
    let app = env.launch().start();
    let mut user = Browser::new();
    user.login(&app, "alice").await;
    let other_token = Browser::new().xsrf(&app).await;
    let cookie = user.cookie().map(str::to_owned);
    let cases: [(&str, Vec<(&str, &str)>); 3] = [
        ("no _xsrf field", vec![]),
        ("a made-up _xsrf", vec![("_xsrf", "bogus")]),
        ("another session's _xsrf", vec![("_xsrf", &other_token)]),
    ];
    for (what, fields) in cases {
        let reply = user.post_form(&app, "/logout", &fields).await;
        reply.assert_status(403, &format!("POST /logout with {what}"));
        assert_eq!(
            user.cookie(),
            cookie.as_deref(),
            "POST /logout with {what} must not touch the cookie"
        );
        user.assert_greeted(&app, "alice", &format!("after POST /logout with {what}"))
            .await;
    }
}

/// `POST /logout` deletes the session from the store, expires the cookie (`Max-Age=0`) and
/// answers 303 to `/login`; a copy of the old cookie then reaches nothing.
pub async fn logout_destroys_session(env: Env) {
    let app = env.launch().start();
    let mut user = Browser::new();
    user.login(&app, "alice").await;
    let put = user.put(&app, "/prefs/theme", "dark").await;
    put.assert_status(204, "PUT /prefs/theme");
    let record_key = match env.memcached() {
        Some(server) => Some(session_record_key(server.addr(), &app, &mut user).await),
        None => None,
    };
    let cookie = user.cookie().expect("logged in").to_owned();
    let token = user.xsrf(&app).await;

    let reply = user.post_form(&app, "/logout", &[("_xsrf", &token)]).await;
    reply.assert_redirect("/login", "POST /logout");
    let expiry = reply
        .session_cookie()
        .expect("POST /logout must expire the session cookie");
    assert_eq!(
        expiry.max_age(),
        Some(0),
        "POST /logout must expire the cookie with Max-Age=0: {}",
        expiry.raw
    );
    assert_eq!(user.cookie(), None);
    if let (Some(server), Some(key)) = (env.memcached(), record_key) {
        assert_eq!(
            inspect::get(server.addr(), &key),
            None,
            "POST /logout must delete the session's record from memcached"
        );
    }

    let mut copy = Browser::with_cookie(cookie);
    copy.assert_logged_out(&app, "a copy of the cookie of a logged-out session")
        .await;
    assert!(
        copy.prefs(&app).await.is_empty(),
        "a logged-out session's data must be gone"
    );
    assert_eq!(
        copy.visits(&app).await,
        1,
        "a logged-out session's cookie must start a new session"
    );
}
