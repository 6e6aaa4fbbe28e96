//! Several app instances, several memcached servers, and key rotation across restarts.

use test_memcached::MemcachedServer;

use crate::{App, Browser, Env, TEST_SECRET};

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
/// same list reads every one, and an instance without the middle server moves exactly the
/// sessions that lived on it. Each of 24 sessions (every other one logged in) is traced to the
/// server holding it (the one a visit writes to), and each login to the server
/// holding its user's index of sessions. Without the middle server, every session on the other
/// two keeps its data, its login and its count, and every session on the middle one is a new,
/// empty session (logged out, counting from 1), never an error. That includes the logged-in
/// sessions on the other two whose user's index of sessions lived on the middle one: a lost
/// index logs nobody out.
pub async fn servers_share_load_and_survive_removal(env: Env) {
    let one = env.memcached_required();
    let two = MemcachedServer::start().expect("memcached is installed: the first one started");
    let three = MemcachedServer::start().expect("memcached is installed: the first one started");
    let servers = [one, &two, &three];
    let all = env.launch().store(spec(&servers)).start();
    let mut users = Vec::new();
    let mut homes = Vec::new();
    let mut index_homes = Vec::new();
    for index in 0..24 {
        let mut user = Browser::new();
        let before = stat_per_server(&servers, "curr_items");
        if index % 2 == 0 {
            user.login(&all, &format!("user{index}")).await;
        }
        user.put(&all, "/prefs/owner", format!("u{index}"))
            .await
            .assert_status(204, "PUT /prefs/owner");
        // The session lives where a visit writes; a login also stores the user's index of
        // sessions, the other new item.
        let sets = stat_per_server(&servers, "cmd_set");
        let mut added: Vec<usize> = stat_per_server(&servers, "curr_items")
            .iter()
            .zip(&before)
            .enumerate()
            .flat_map(|(at, (now, then))| (*then..*now).map(move |_| at))
            .collect();
        assert_eq!(user.visits(&all).await, 1, "a session's first visit");
        let written: Vec<usize> = stat_per_server(&servers, "cmd_set")
            .iter()
            .zip(&sets)
            .enumerate()
            .filter(|(_, (now, then))| now > then)
            .map(|(at, _)| at)
            .collect();
        let [home] = written.as_slice() else {
            panic!("GET /visits must write to one server, its session's: wrote to {written:?}");
        };
        let record = added
            .iter()
            .position(|at| at == home)
            .expect("the session's record is a new item on its server");
        added.remove(record);
        let index_home = match (index % 2 == 0, added.as_slice()) {
            (true, [index_home]) => Some(*index_home),
            (false, []) => None,
            _ => panic!("session {index}: unexpected new items besides its record: {added:?}"),
        };
        users.push(user);
        homes.push(*home);
        index_homes.push(index_home);
    }
    let counts: Vec<usize> = (0..servers.len())
        .map(|server| homes.iter().filter(|&&home| home == server).count())
        .collect();
    assert!(
        counts.iter().all(|&count| count > 0),
        "sessions must spread over all three servers, found {counts:?} sessions per server"
    );

    let again = env.launch().store(spec(&servers)).start();
    assert_eq!(
        found(&again, &mut users).await,
        24,
        "another instance with the same servers must read every session"
    );

    let without_two = env.launch().store(spec(&[one, &three])).start();
    for (index, user) in users.iter_mut().enumerate() {
        let (home, index_home) = (homes[index], index_homes[index]);
        let prefs = user.prefs(&without_two).await;
        let name = format!("user{index}");
        if home == 1 {
            let why = format!(
                "session {index} lived on the server taken out of the list, so it is a new session"
            );
            assert!(prefs.is_empty(), "{why}: GET /prefs shows {prefs:?}");
            user.assert_logged_out(&without_two, &why).await;
            assert_eq!(user.visits(&without_two).await, 1, "{why}: counts from 1");
        } else {
            let index_lost = if index_home == Some(1) {
                " (its user's index of sessions lived on the server taken out)"
            } else {
                ""
            };
            let why = format!(
                "session {index} lived on server {} of 3, which stays in the list, so taking \
                 another server out must not move it{index_lost}",
                home + 1
            );
            assert_eq!(
                prefs.get("owner"),
                Some(&serde_json::json!(format!("u{index}"))),
                "{why}: its data must stay; GET /prefs shows {prefs:?}"
            );
            if index % 2 == 0 {
                user.assert_greeted(&without_two, &name, &why).await;
            }
            assert_eq!(
                user.visits(&without_two).await,
                2,
                "{why}: its count goes on"
            );
        }
    }
}

/// The memcached counter `name` of each of `servers`.
fn stat_per_server(servers: &[&MemcachedServer], name: &str) -> Vec<u64> {
    servers
        .iter()
        .map(|server| server.stats().get(name).copied().unwrap_or(0))
        .collect()
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
