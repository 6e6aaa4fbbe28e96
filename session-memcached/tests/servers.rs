//! Sessions spread over several servers and stay readable when one is dropped from the list.

use std::sync::Arc;
use std::time::Duration;

use session_core::test_stores::{CountingStore, StoreOp};
use session_core::{KeyRing, SessionManager, Store};
use session_memcached::MemcachedStore;
use test_memcached::{MemcachedServer, memcached_or_skip};

const TTL: Duration = Duration::from_secs(60);
const SESSIONS: usize = 1000;

fn store_on(servers: &[&MemcachedServer]) -> MemcachedStore {
    servers
        .iter()
        .fold(MemcachedStore::builder(), |builder, server| {
            builder.server(server.addr())
        })
        .build()
        .expect("valid servers")
}

fn key(i: usize) -> String {
    format!("session:{i:064x}")
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_spread_and_survive_dropping_a_server() {
    let a = memcached_or_skip!();
    let b = memcached_or_skip!();
    let c = memcached_or_skip!();
    let all = store_on(&[&a, &b, &c]);
    for i in 0..SESSIONS {
        all.create(&key(i), b"data", TTL)
            .await
            .expect("create")
            .expect("free key");
    }
    for server in [&a, &b, &c] {
        let items = server.stats()["curr_items"];
        assert!(
            items >= SESSIONS as u64 / 5,
            "{} holds only {items} of {SESSIONS} sessions",
            server.addr()
        );
    }

    // Where each session lives, asked of each server directly.
    let on_b = store_on(&[&b]);
    let mut was_on_b = Vec::new();
    for i in 0..SESSIONS {
        was_on_b.push(on_b.load(&key(i)).await.expect("load").is_some());
    }

    // The same list without `b`, written the other way round: every session on `a` or `c`
    // is still found; those on `b` are gone (memcached does not replicate).
    let without_b = store_on(&[&c, &a]);
    for (i, was_on_b) in was_on_b.into_iter().enumerate() {
        let found = without_b.load(&key(i)).await.expect("load").is_some();
        assert_eq!(found, !was_on_b, "session {i}");
    }
}

#[tokio::test]
async fn one_server_written_two_ways_routes_the_same() {
    let a = memcached_or_skip!();
    let b = memcached_or_skip!();
    let port = |server: &MemcachedServer| server.addr().port();
    let plain = store_on(&[&a, &b]);
    let spelled_otherwise = MemcachedStore::from_spec(&format!(
        "memcached://[::ffff:127.0.0.1]:{}, 127.0.0.1:0{}",
        port(&b),
        port(&a)
    ))
    .expect("valid spec");
    for i in 0..100 {
        plain.save(&key(i), b"data", TTL, None).await.expect("save");
        assert!(
            spelled_otherwise
                .load(&key(i))
                .await
                .expect("load")
                .is_some(),
            "session {i} routed elsewhere"
        );
    }
}

/// Listing a user's sessions spread over three servers reads the user's index,
/// then every session record in one multi-key call (one pipelined exchange
/// per server), and shows no user name in any key or value.
#[tokio::test(flavor = "multi_thread")]
async fn a_users_sessions_over_three_servers() {
    let a = memcached_or_skip!();
    let b = memcached_or_skip!();
    let c = memcached_or_skip!();
    let servers = [&a, &b, &c];
    let store = Arc::new(CountingStore::wrap(store_on(&servers)));
    let manager = SessionManager::builder(Arc::clone(&store), KeyRing::generate())
        .build()
        .expect("valid configuration");
    // At least 12 sessions, and as many more as it takes for every server to
    // hold one (sessions land where their random IDs hash).
    let mut cookies = Vec::new();
    let everywhere = || {
        servers
            .iter()
            .all(|server| server.stats()["curr_items"] > 0)
    };
    while cookies.len() < 12 || (!everywhere() && cookies.len() < 100) {
        let session = manager.get(None);
        session.login("carol@example.com").await.expect("login");
        cookies.push(manager.set(&session).await.expect("set").expect("cookie"));
    }
    let session = manager.get(Some(cookies[0].value()));
    let user: Option<String> = session.current_user().await.expect("load");
    assert_eq!(user.as_deref(), Some("carol@example.com"));

    let gets = |servers: &[&MemcachedServer]| -> u64 {
        servers.iter().map(|server| server.stats()["cmd_get"]).sum()
    };
    let (calls, before) = (store.counts(), gets(&servers));
    let listed = session.user_sessions().await.expect("listing");
    let calls = store.counts() - calls;
    assert_eq!(listed.len(), cookies.len());
    assert_eq!(
        (
            calls.of(StoreOp::Load),
            calls.of(StoreOp::LoadMany),
            calls.total()
        ),
        (1, 1, 2),
        "the index, then one multi-key read of the records"
    );
    assert_eq!(
        gets(&servers) - before,
        cookies.len() as u64 + 1,
        "one get per record and the index"
    );
    for server in servers {
        assert!(
            server.stats()["curr_items"] > 0,
            "sessions spread over every server"
        );
    }
    for key in store.written_keys() {
        assert!(!key.contains("carol"), "a key names the user: {key}");
        if let Some(loaded) = store.inner().load(&key).await.expect("load") {
            assert!(
                !loaded.bytes.windows(5).any(|window| window == b"carol"),
                "a value shows the user's name: {key}"
            );
        }
    }

    // Ending the others deletes their records on every server.
    assert_eq!(
        session.end_other_user_sessions().await.expect("end"),
        cookies.len() - 1
    );
    for cookie in &cookies[1..] {
        let user: Option<String> = manager
            .get(Some(cookie.value()))
            .current_user()
            .await
            .expect("load");
        assert_eq!(user, None);
    }
}
