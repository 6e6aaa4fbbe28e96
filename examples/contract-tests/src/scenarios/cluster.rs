//! Several app instances, several memcached servers, and key rotation across restarts.

use test_memcached::MemcachedServer;

use crate::{App, Browser, Env, TEST_SECRET, inspect};

/// The rotation's new secret, in standard base64 with padding (32 bytes).
const NEW_SECRET: &str = "S2V5IHR3byBmb3IgdGhlIGNvbnRyYWN0IHRlc3RzISE=";

/// Two instances with the same `SESSION_SECRET` and memcached share sessions: log in through
/// one, the other greets you, counts on, and a logout through it ends the session for both.
pub async fn instances_share_sessions(env: Env) {
    let first = env.launch().start();
    let second = env.launch().start();
    let mut user = Browser::new();
    user.login(&first, "alice").await;
    user.assert_greeted(&second, "alice", "logged in through the first instance")
        .await;
    assert_eq!(user.visits(&first).await, 1);
    assert_eq!(user.visits(&second).await, 2);
    assert_eq!(user.visits(&first).await, 3);
    let cookie = user.cookie().expect("logged in").to_owned();
    let token = user.xsrf(&second).await;
    user.post_form(&second, "/logout", &[("_xsrf", &token)])
        .await
        .assert_redirect("/login", "POST /logout on the second instance");
    Browser::with_cookie(cookie)
        .assert_logged_out(
            &first,
            "the old cookie after logging out through the other instance",
        )
        .await;
}

/// With three memcached servers, sessions spread over all of them, another instance with the
/// same list reads every one, and an instance without the middle server still finds exactly the
/// sessions that lived on the other two.
pub async fn servers_share_load_and_survive_removal(env: Env) {
    let one = env.memcached_required();
    let two = MemcachedServer::start().expect("memcached is installed: the first one started");
    let three = MemcachedServer::start().expect("memcached is installed: the first one started");
    let all = env.launch().store(spec(&[one, &two, &three])).start();
    let mut users = Vec::new();
    for index in 0..24 {
        let mut user = Browser::new();
        user.put(&all, "/prefs/owner", format!("u{index}"))
            .await
            .assert_status(204, "PUT /prefs/owner");
        users.push(user);
    }
    let counts: Vec<usize> = [one, &two, &three]
        .iter()
        .map(|server| inspect::keys(server.addr()).len())
        .collect();
    assert_eq!(
        counts.iter().sum::<usize>(),
        24,
        "24 sessions must be 24 memcached items (one per session), found {counts:?}"
    );
    assert!(
        counts.iter().all(|&count| count > 0),
        "sessions must spread over all three servers, found {counts:?} items"
    );

    let again = env.launch().store(spec(&[one, &two, &three])).start();
    assert_eq!(
        found(&again, &mut users).await,
        24,
        "another instance with the same servers must read every session"
    );

    let without_two = env.launch().store(spec(&[one, &three])).start();
    assert_eq!(
        found(&without_two, &mut users).await,
        counts[0] + counts[2],
        "taking one server out of the list must move only the sessions that lived on it: all \
         {} sessions on the remaining servers must still be found ({counts:?} per server)",
        counts[0] + counts[2]
    );
}

/// Key rotation across restarts: cookies signed with K1 still work under `K2,K1`; every cookie the
/// app then issues verifies under K2 alone (and not under K1 alone); a cookie that was never
/// re-signed stops working once K1 is dropped, though its session is still stored.
pub async fn key_rotation_keeps_sessions(env: Env) {
    let rotated = format!("{NEW_SECRET},{TEST_SECRET}");
    let mut alice = Browser::new();
    let mut bob = Browser::new();
    {
        let old = env.launch().secret(TEST_SECRET).start();
        alice.login(&old, "alice").await;
        bob.login(&old, "bob").await;
    }
    let bob_old_cookie = bob.cookie().expect("bob is logged in").to_owned();
    {
        let both = env.launch().secret(&rotated).start();
        alice
            .assert_greeted(&both, "alice", "a K1 cookie under SESSION_SECRET=K2,K1")
            .await;
        Browser::with_cookie(bob_old_cookie.clone())
            .assert_greeted(&both, "bob", "a K1 cookie under SESSION_SECRET=K2,K1")
            .await;
        alice.login(&both, "alice2").await;
        assert_eq!(alice.visits(&both).await, 1);
    }
    {
        let new_only = env.launch().secret(NEW_SECRET).start();
        alice
            .assert_greeted(
                &new_only,
                "alice2",
                "a cookie issued under K2,K1, presented under SESSION_SECRET=K2",
            )
            .await;
        Browser::with_cookie(bob_old_cookie.clone())
            .assert_logged_out(
                &new_only,
                "a K1 cookie never re-signed, under SESSION_SECRET=K2",
            )
            .await;
    }
    {
        let old_only = env.launch().secret(TEST_SECRET).start();
        Browser::with_cookie(alice.cookie().expect("alice is logged in"))
            .assert_logged_out(
                &old_only,
                "a cookie issued under K2,K1 must be signed with K2, not K1",
            )
            .await;
    }
    let both_again = env.launch().secret(&rotated).start();
    Browser::with_cookie(bob_old_cookie)
        .assert_greeted(&both_again, "bob", "bob's session was stored all along")
        .await;
}

/// `--store` for these servers.
fn spec(servers: &[&MemcachedServer]) -> String {
    let addrs: Vec<String> = servers
        .iter()
        .map(|server| server.addr().to_string())
        .collect();
    format!("memcached://{}", addrs.join(","))
}

/// How many of the users' sessions `app` finds (by their `owner` preference).
async fn found(app: &App, users: &mut [Browser]) -> usize {
    let mut found = 0;
    for (index, user) in users.iter_mut().enumerate() {
        let prefs = user.prefs(app).await;
        if let Some(owner) = prefs.get("owner") {
            assert_eq!(
                owner,
                &serde_json::json!(format!("u{index}")),
                "a session showed another session's data"
            );
            found += 1;
        }
    }
    found
}
