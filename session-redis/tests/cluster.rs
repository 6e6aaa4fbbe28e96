//! Sessions on a three-node Redis Cluster: spread over every node, read many at once with one
//! round trip per node, and a user's sessions listed and ended across nodes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use session_core::test_stores::{CountingStore, StoreOp};
use session_core::{KeyRing, SaveOutcome, SessionManager, Store};
use session_redis::RedisStore;
use test_memcached::{Proxy, ProxyMode};
use test_redis::{RedisCluster, Reply, cluster_or_skip};

const TTL: Duration = Duration::from_secs(60);

/// A key shaped like the core's: the namespace and a 43-character hash.
fn key(i: usize) -> String {
    format!("session:{i:043}")
}

fn store_on(cluster: &RedisCluster) -> RedisStore {
    RedisStore::from_spec(&cluster.spec()).expect("valid spec")
}

/// Each node's `(command, calls)` counts.
fn counts(cluster: &RedisCluster) -> Vec<HashMap<String, u64>> {
    cluster
        .nodes()
        .iter()
        .map(|node| node.command_counts())
        .collect()
}

fn grown(
    before: &[HashMap<String, u64>],
    after: &[HashMap<String, u64>],
    command: &str,
) -> Vec<u64> {
    before
        .iter()
        .zip(after)
        .map(|(before, after)| {
            after.get(command).copied().unwrap_or(0) - before.get(command).copied().unwrap_or(0)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_spread_over_every_node() {
    const SESSIONS: usize = 300;
    let cluster = cluster_or_skip!(3);
    let store = store_on(&cluster);
    for i in 0..SESSIONS {
        let version = store
            .create(&key(i), b"data", TTL)
            .await
            .expect("create")
            .expect("free key");
        // The compare-and-set script runs on whichever node holds the key.
        let saved = store.save(&key(i), b"more", TTL, Some(version)).await;
        assert!(matches!(saved, Ok(SaveOutcome::Saved(_))), "{saved:?}");
    }
    for node in cluster.nodes() {
        let Reply::Integer(keys) = node.command(&["DBSIZE"]) else {
            panic!("DBSIZE answers an integer");
        };
        assert!(
            keys >= SESSIONS as i64 / 5,
            "{} holds only {keys} of {SESSIONS} sessions",
            node.addr()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn load_many_sends_one_mget_per_slot_in_key_order() {
    let cluster = cluster_or_skip!(3);
    let store = store_on(&cluster);
    let present: Vec<String> = (0..40).map(key).collect();
    for (i, key) in present.iter().enumerate() {
        store
            .save(key, format!("value {i}").as_bytes(), TTL, None)
            .await
            .expect("save");
    }
    let absent = key(1000);
    let mut keys: Vec<&str> = Vec::new();
    for key in &present {
        keys.push(key);
        keys.push(&absent);
    }
    keys.push(&present[0]);

    let before = counts(&cluster);
    let loaded = store.load_many(&keys).await.expect("load_many");
    let after = counts(&cluster);
    assert_eq!(loaded.len(), keys.len());
    for (key, loaded) in keys.iter().zip(&loaded) {
        let expected = present
            .iter()
            .position(|k| k == key)
            .map(|i| format!("value {i}").into_bytes());
        assert_eq!(loaded.as_ref().map(|l| l.bytes.clone()), expected, "{key}");
    }

    let slots: HashSet<i64> = keys
        .iter()
        .map(|key| {
            cluster.nodes()[0]
                .command(&["CLUSTER", "KEYSLOT", key])
                .integer()
                .expect("a slot")
        })
        .collect();
    let mgets = grown(&before, &after, "mget");
    assert_eq!(
        mgets.iter().sum::<u64>(),
        slots.len() as u64,
        "one MGET per slot: {mgets:?}"
    );
    assert!(
        mgets.iter().all(|&n| n > 0),
        "every node was asked: {mgets:?}"
    );
    assert_eq!(grown(&before, &after, "get").iter().sum::<u64>(), 0);
}

/// Every node behind a proxy that delays each answer by 150 ms: a `load_many` over keys on all
/// three nodes takes about one delay, not one per key or per node.
#[tokio::test(flavor = "multi_thread")]
async fn load_many_is_one_round_trip_per_node_all_nodes_at_once() {
    const DELAY: Duration = Duration::from_millis(150);
    let cluster = cluster_or_skip!(3);
    let proxies: Vec<Proxy> = cluster
        .nodes()
        .iter()
        .map(|node| Proxy::start(node.addr()))
        .collect();
    cluster.announce(&proxies.iter().map(Proxy::addr).collect::<Vec<_>>());
    let store = RedisStore::builder()
        .cluster_node(proxies[0].addr())
        .response_timeout(Duration::from_secs(2))
        .build()
        .expect("valid settings");
    let keys: Vec<String> = (0..30).map(key).collect();
    for key in &keys {
        store.save(key, b"data", TTL, None).await.expect("save");
    }
    // The client talks to each node through its proxy: delaying one proxy delays the keys its
    // node holds.
    for (node, proxy) in cluster.nodes().iter().zip(&proxies) {
        let held = keys
            .iter()
            .find(|key| node.command(&["EXISTS", key]) == Reply::Integer(1))
            .expect("every node holds some of 30 keys");
        proxy.set_mode(ProxyMode::Delay(DELAY));
        let started = Instant::now();
        store.load(held).await.expect("load").expect("saved");
        assert!(
            started.elapsed() >= DELAY,
            "{} was not reached through its proxy",
            node.addr()
        );
        proxy.set_mode(ProxyMode::Pass);
    }

    for proxy in &proxies {
        proxy.set_mode(ProxyMode::Delay(DELAY));
    }
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let started = Instant::now();
    let loaded = store.load_many(&keys).await.expect("load_many");
    let elapsed = started.elapsed();
    assert!(loaded.iter().all(Option::is_some));
    assert!(elapsed >= DELAY, "faster than the delay: {elapsed:?}");
    assert!(
        elapsed < DELAY * 2,
        "{} keys took {elapsed:?}: more than one round trip",
        keys.len()
    );

    // Calls dropped mid-exchange (their requests sent, their answers held) leave every node's
    // connection usable, and the next calls read their own answers.
    let dropped = tokio::time::timeout(DELAY / 3, store.load_many(&keys)).await;
    assert!(dropped.is_err(), "{dropped:?}");
    let dropped = tokio::time::timeout(DELAY / 3, store.save(keys[0], b"late", TTL, None)).await;
    assert!(dropped.is_err(), "{dropped:?}");
    for proxy in &proxies {
        proxy.set_mode(ProxyMode::Pass);
    }
    for (i, key) in keys.iter().enumerate() {
        let loaded = store.load(key).await.expect("load").expect("saved");
        // The dropped save reached its node before it was dropped: it is written.
        let expected: &[u8] = if i == 0 { b"late" } else { b"data" };
        assert_eq!(loaded.bytes, expected, "{key}");
    }
    let loaded = store.load_many(&keys).await.expect("load_many");
    assert!(loaded.iter().all(Option::is_some));
}

/// A node killed: its keys are unavailable within the timeouts, the other nodes' keys still
/// work, and once it is back (with its slots, but empty: nothing is persisted) the same store
/// reaches it again.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_node_is_unavailable_for_its_keys_then_recovers() {
    let mut cluster = cluster_or_skip!(3);
    let store = store_on(&cluster);
    let keys: Vec<String> = (0..30).map(key).collect();
    for key in &keys {
        store.save(key, b"data", TTL, None).await.expect("save");
    }
    let on = |node: usize| -> String {
        keys.iter()
            .find(|key| cluster.nodes()[node].command(&["EXISTS", key]) == Reply::Integer(1))
            .expect("every node holds some of 30 keys")
            .clone()
    };
    let (dead, alive) = (on(0), on(1));

    cluster.node_mut(0).kill();
    let started = Instant::now();
    let loaded = store.load(&dead).await;
    assert!(
        matches!(loaded, Err(session_core::StoreError::Unavailable(_))),
        "{loaded:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    // The cluster keeps serving the other slots until it declares the node failed
    // (`cluster-node-timeout`, 5 s here).
    assert!(store.load(&alive).await.expect("load").is_some());

    cluster.node_mut(0).restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.load(&dead).await {
            Ok(loaded) => {
                assert!(loaded.is_none(), "the restarted node is empty");
                break;
            }
            Err(error) => assert!(Instant::now() < deadline, "not back: {error:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    store.save(&dead, b"again", TTL, None).await.expect("save");
    assert!(store.load(&alive).await.expect("load").is_some());
}

/// Listing a user's sessions spread over the cluster reads the user's index, then every session
/// record in one multi-key call; ending the others deletes them on every node.
#[tokio::test(flavor = "multi_thread")]
async fn a_users_sessions_over_the_cluster() {
    let cluster = cluster_or_skip!(3);
    let store = Arc::new(CountingStore::wrap(store_on(&cluster)));
    let manager = SessionManager::builder(Arc::clone(&store), KeyRing::generate())
        .build()
        .expect("valid configuration");
    let mut cookies = Vec::new();
    for _ in 0..12 {
        let session = manager.get(None);
        session.login("carol@example.com").await.expect("login");
        cookies.push(manager.set(&session).await.expect("set").expect("cookie"));
    }
    let session = manager.get(Some(cookies[0].value()));
    let user: Option<String> = session.current_user().await.expect("load");
    assert_eq!(user.as_deref(), Some("carol@example.com"));
    let calls = store.counts();
    let listed = session.user_sessions().await.expect("listing");
    let calls = store.counts() - calls;
    assert_eq!(listed.len(), 12);
    assert_eq!(
        (
            calls.of(StoreOp::Load),
            calls.of(StoreOp::LoadMany),
            calls.total()
        ),
        (1, 1, 2),
        "the index, then one multi-key read of the records"
    );

    assert_eq!(session.end_other_user_sessions().await.expect("end"), 11);
    for cookie in &cookies[1..] {
        let user: Option<String> = manager
            .get(Some(cookie.value()))
            .current_user()
            .await
            .expect("load");
        assert_eq!(user, None);
    }
    let user: Option<String> = manager
        .get(Some(cookies[0].value()))
        .current_user()
        .await
        .expect("load");
    assert_eq!(
        user.as_deref(),
        Some("carol@example.com"),
        "the current one lives"
    );
}
