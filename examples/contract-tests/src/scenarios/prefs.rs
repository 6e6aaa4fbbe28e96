//! `PUT /prefs/NAME` and `GET /prefs`.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::Writes;
use crate::{Browser, Env};

/// Preferences are stored, overwritten and listed as a JSON object; `PUT` answers 204 and creates
/// the session when there is none. Names of 1 and 32 characters from `a-z0-9_-` and values of 0
/// to 256 bytes of UTF-8 are accepted.
pub async fn prefs_round_trip(env: Env) {
    let app = env.launch().start();
    let mut user = Browser::new();
    let reply = user.put(&app, "/prefs/theme", "dark").await;
    reply.assert_status(204, "PUT /prefs/theme without a session");
    assert!(
        reply.session_cookie().is_some(),
        "PUT /prefs creates the session when there is none, so it must set the cookie"
    );
    let longest_name = "n".repeat(32);
    let longest_ascii = "v".repeat(256);
    let longest_wide = "é".repeat(128);
    let puts = [
        ("lang", "fr-CA"),
        ("x", "naïve ☃"),
        ("a-b_9", ""),
        (longest_name.as_str(), longest_ascii.as_str()),
        ("wide", longest_wide.as_str()),
        ("theme", "light"),
    ];
    for (name, value) in puts {
        user.put(&app, &format!("/prefs/{name}"), value)
            .await
            .assert_status(
                204,
                &format!("PUT /prefs/{name} with {} bytes", value.len()),
            );
    }
    let mut expected = json!({
        "theme": "light",
        "lang": "fr-CA",
        "x": "naïve ☃",
        "a-b_9": "",
        "wide": longest_wide,
    });
    expected[&longest_name] = json!(longest_ascii);
    assert_eq!(
        Value::Object(user.prefs(&app).await),
        expected,
        "GET /prefs must list every preference, with the last value of each"
    );
}

/// `GET /prefs` without a session answers `{}` and creates none: no cookie, no store write.
pub async fn prefs_empty_without_session(env: Env) {
    let app = env.launch().start();
    let mut visitor = Browser::new();
    let writes = Writes::now(&env);
    let reply = visitor.get(&app, "/prefs").await;
    reply.assert_status(200, "GET /prefs without a session");
    assert_eq!(reply.media_type(), "application/json", "GET /prefs is JSON");
    assert_eq!(
        serde_json::from_slice::<Value>(&reply.body).ok(),
        Some(json!({})),
        "GET /prefs without a session must answer {{}}, got {:?}",
        reply.text()
    );
    assert!(
        reply.set_cookies().is_empty(),
        "GET /prefs must create no session, but set {:?}",
        reply.set_cookies()
    );
    writes.assert_unchanged(&env, "GET /prefs without a session");

    assert_eq!(visitor.visits(&app).await, 1);
    assert!(
        visitor.prefs(&app).await.is_empty(),
        "a session without preferences lists {{}}"
    );
}

/// A bad NAME (not 1 to 32 of `a-z0-9_-`) or a bad value (over 256 bytes, not UTF-8) answers 400
/// and stores nothing.
pub async fn prefs_reject_bad_name_or_value(env: Env) {
    let app = env.launch().start();
    let mut user = Browser::new();
    user.put(&app, "/prefs/kept", "yes")
        .await
        .assert_status(204, "PUT /prefs/kept");
    let long_name = format!("/prefs/{}", "a".repeat(33));
    let bad_names = [
        ("an uppercase name", "/prefs/Theme"),
        ("a 33-character name", long_name.as_str()),
        ("an empty name", "/prefs/"),
        ("a name with a dot", "/prefs/a.b"),
        ("a name with a space", "/prefs/a%20b"),
        ("a name with a plus", "/prefs/a+b"),
        ("a non-ASCII name", "/prefs/%C3%BC"),
    ];
    for (what, path) in bad_names {
        user.put(&app, path, "value")
            .await
            .assert_status(400, &format!("PUT with {what} ({path})"));
    }
    let bad_values: [(&str, Vec<u8>); 3] = [
        ("a 257-byte value", vec![b'v'; 257]),
        (
            "a value of 129 two-byte characters (258 bytes)",
            "é".repeat(129).into_bytes(),
        ),
        ("a value that is not UTF-8", vec![b'o', b'k', 0xff, 0xfe]),
    ];
    for (what, value) in bad_values {
        user.put(&app, "/prefs/bad", value)
            .await
            .assert_status(400, &format!("PUT /prefs/bad with {what}"));
    }
    assert_eq!(
        Value::Object(user.prefs(&app).await),
        json!({"kept": "yes"}),
        "refused preferences must not be stored"
    );
}

/// A session holds at most 64 preferences: a 65th name answers 400, while overwriting one of the
/// 64 still works.
pub async fn prefs_limit_is_64(env: Env) {
    let app = env.launch().start();
    let mut user = Browser::new();
    for index in 0..64 {
        user.put(&app, &format!("/prefs/p{index:02}"), index.to_string())
            .await
            .assert_status(204, &format!("preference number {}", index + 1));
    }
    user.put(&app, "/prefs/p64", "one too many")
        .await
        .assert_status(400, "a 65th preference");
    user.put(&app, "/prefs/p00", "again")
        .await
        .assert_status(204, "overwriting one of the 64 preferences");
    let prefs = user.prefs(&app).await;
    assert_eq!(
        prefs.len(),
        64,
        "GET /prefs must hold exactly 64 preferences"
    );
    assert_eq!(prefs.get("p00"), Some(&json!("again")));
    assert_eq!(prefs.get("p63"), Some(&json!("63")));
}

/// Twenty concurrent `PUT`s of different names on one session all persist.
pub async fn prefs_concurrent_puts_all_persist(env: Env) {
    let app = Arc::new(env.launch().start());
    let mut user = Browser::new();
    user.put(&app, "/prefs/first", "0")
        .await
        .assert_status(204, "PUT /prefs/first");
    let cookie = user.cookie().expect("PUT created the session").to_owned();

    let mut puts = JoinSet::new();
    for index in 0..20 {
        let app = Arc::clone(&app);
        let mut tab = Browser::with_cookie(cookie.clone());
        puts.spawn(async move {
            let reply = tab
                .put(&app, &format!("/prefs/c{index:02}"), format!("v{index}"))
                .await;
            (index, reply.status)
        });
    }
    while let Some(result) = puts.join_next().await {
        let (index, status) = result.expect("a PUT task panicked");
        assert_eq!(
            status, 204,
            "concurrent PUT /prefs/c{index:02} answered {status}"
        );
    }

    let prefs = user.prefs(&app).await;
    let missing: Vec<String> = (0..20)
        .filter(|index| prefs.get(&format!("c{index:02}")) != Some(&json!(format!("v{index}"))))
        .map(|index| format!("c{index:02}"))
        .collect();
    assert!(
        missing.is_empty(),
        "concurrent PUTs of different names on one session must all persist; lost or wrong: \
         {missing:?} (GET /prefs: {prefs:?})"
    );
    assert_eq!(
        prefs.get("first"),
        Some(&json!("0")),
        "the earlier preference survived"
    );
}
