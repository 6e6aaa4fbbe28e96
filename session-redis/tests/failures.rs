//! A dead, silent or refusing server is an "unavailable" error within the timeouts, and recovery
//! needs no rebuilding; a value over the limit is refused.

use std::time::{Duration, Instant};

use session_core::{SaveOutcome, Store, StoreError};
use session_redis::{DEFAULT_MAX_VALUE_SIZE, RedisStore};
use test_memcached::{Proxy, ProxyMode};
use test_redis::{RedisServer, Reply, redis_or_skip};

const TTL: Duration = Duration::from_secs(60);
/// The most a failing call may take with the default timeouts (300 ms + 500 ms).
const LIMIT: Duration = Duration::from_secs(2);

fn is_unavailable<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Unavailable(_)))
}

fn store_on(server: &RedisServer) -> RedisStore {
    RedisStore::from_spec(&server.spec()).expect("valid spec")
}

async fn bytes_of(store: &RedisStore, key: &str) -> Option<Vec<u8>> {
    store
        .load(key)
        .await
        .expect("load")
        .map(|loaded| loaded.bytes)
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_server_is_unavailable_then_recovers_on_the_same_store() {
    let mut server = redis_or_skip!();
    let store = store_on(&server);
    let (a, b) = tokio::join!(
        store.save("a", b"1", TTL, None),
        store.save("b", b"2", TTL, None)
    );
    a.expect("save a");
    b.expect("save b");
    let version = store.load("a").await.expect("load").expect("a").version;

    server.kill();
    // A login makes several calls; each must fail fast and the whole must stay well under 2 s.
    let started = Instant::now();
    let loaded = store.load_and_touch("a", TTL).await;
    assert!(is_unavailable(&loaded), "{loaded:?}");
    let saved = store.save("a", b"3", TTL, Some(version)).await;
    assert!(is_unavailable(&saved), "{saved:?}");
    let created = store.create("c", b"4", TTL).await;
    assert!(is_unavailable(&created), "{created:?}");
    let deleted = store.delete("b").await;
    assert!(is_unavailable(&deleted), "{deleted:?}");
    let many = store.load_many(&["a", "b"]).await;
    assert!(is_unavailable(&many), "{many:?}");
    assert!(started.elapsed() < LIMIT, "took {:?}", started.elapsed());

    server.restart();
    // The restarted server is empty; the same store works again at once, the compare-and-set
    // script included (the new server has to be sent it again).
    assert_eq!(
        bytes_of(&store, "a").await,
        None,
        "the first call after restart"
    );
    let version = store
        .create("a", b"5", TTL)
        .await
        .expect("create after restart")
        .expect("a free key");
    let saved = store.save("a", b"6", TTL, Some(version)).await;
    assert!(matches!(saved, Ok(SaveOutcome::Saved(_))), "{saved:?}");
    assert_eq!(bytes_of(&store, "a").await.as_deref(), Some(&b"6"[..]));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_connection_closed_by_a_restart_is_replaced_before_the_next_call() {
    let mut server = redis_or_skip!();
    let store = store_on(&server);
    store.save("k", b"v", TTL, None).await.expect("save");
    // No call while the server is down: the connection learns of its end by itself.
    server.restart();
    assert_eq!(
        bytes_of(&store, "k").await,
        None,
        "the first call after restart"
    );
}

#[tokio::test]
async fn store_built_while_nothing_listens_works_once_the_server_is_up() {
    let mut server = redis_or_skip!();
    server.kill();
    let store = store_on(&server);
    let loaded = store.load("k").await;
    assert!(is_unavailable(&loaded), "{loaded:?}");
    server.restart();
    assert_eq!(
        bytes_of(&store, "k").await,
        None,
        "the first call after start"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_server_is_unavailable_after_the_response_timeout_then_recovers() {
    let server = redis_or_skip!();
    let proxy = Proxy::start(server.addr());
    let store = RedisStore::builder()
        .server(proxy.addr())
        .response_timeout(Duration::from_millis(300))
        .build()
        .expect("valid settings");
    store.save("k", b"v", TTL, None).await.expect("save");

    proxy.set_mode(ProxyMode::BlackHole);
    for call in 0..2 {
        let started = Instant::now();
        let loaded = store.load("k").await;
        let elapsed = started.elapsed();
        assert!(is_unavailable(&loaded), "call {call}: {loaded:?}");
        assert!(
            elapsed >= Duration::from_millis(290),
            "call {call} gave up early: {elapsed:?}"
        );
        assert!(elapsed < LIMIT, "call {call} took {elapsed:?}");
    }

    proxy.set_mode(ProxyMode::Pass);
    assert_eq!(bytes_of(&store, "k").await.as_deref(), Some(&b"v"[..]));
    store.save("k", b"w", TTL, None).await.expect("save");
    assert_eq!(bytes_of(&store, "k").await.as_deref(), Some(&b"w"[..]));
}

#[tokio::test]
async fn a_server_that_never_completes_the_handshake_is_unavailable_after_the_connect_timeout() {
    let server = redis_or_skip!();
    let proxy = Proxy::start(server.addr());
    proxy.set_mode(ProxyMode::BlackHole);
    let store = RedisStore::builder()
        .server(proxy.addr())
        .connect_timeout(Duration::from_millis(200))
        .build()
        .expect("valid settings");
    let started = Instant::now();
    let loaded = store.load("k").await;
    let elapsed = started.elapsed();
    assert!(is_unavailable(&loaded), "{loaded:?}");
    assert!(
        elapsed >= Duration::from_millis(190),
        "gave up early: {elapsed:?}"
    );
    assert!(elapsed < LIMIT, "took {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_out_of_memory_is_unavailable_for_writes() {
    let server = redis_or_skip!(&["--maxmemory-policy", "noeviction"]);
    let store = store_on(&server);
    let version = store
        .create("k", b"v", TTL)
        .await
        .expect("create")
        .expect("a free key");
    assert_eq!(
        server.command(&["CONFIG", "SET", "maxmemory", "1"]),
        Reply::Status("OK".to_owned())
    );

    let created = store.create("other", b"v", TTL).await;
    assert!(is_unavailable(&created), "{created:?}");
    let saved = store.save("k", b"w", TTL, None).await;
    assert!(is_unavailable(&saved), "{saved:?}");
    let swapped = store.save("k", b"w", TTL, Some(version)).await;
    assert!(is_unavailable(&swapped), "compare-and-set: {swapped:?}");
    // Reading still works, and the record is untouched.
    assert_eq!(bytes_of(&store, "k").await.as_deref(), Some(&b"v"[..]));

    server.command(&["CONFIG", "SET", "maxmemory", "0"]);
    let saved = store.save("k", b"w", TTL, Some(version)).await;
    assert!(matches!(saved, Ok(SaveOutcome::Saved(_))), "{saved:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_busy_with_a_long_script_is_unavailable_until_it_ends() {
    let server = redis_or_skip!();
    let store = store_on(&server);
    store.save("k", b"v", TTL, None).await.expect("save");
    server.command(&["CONFIG", "SET", "busy-reply-threshold", "50"]);

    let mut blocker = server.connect();
    blocker
        .send(&["EVAL", "while true do end", "0"])
        .expect("send the endless script");
    tokio::time::sleep(Duration::from_millis(150)).await;
    let loaded = store.load("k").await;
    assert!(is_unavailable(&loaded), "{loaded:?}");

    // `SCRIPT KILL` is one of the few commands a busy server still runs.
    assert_eq!(server.command(&["SCRIPT", "KILL"]).text(), "OK");
    let killed = blocker.read_reply().expect("the script's end");
    assert!(killed.is_error(), "{killed:?}");
    assert_eq!(bytes_of(&store, "k").await.as_deref(), Some(&b"v"[..]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_is_unavailable_for_writes_and_without_its_primary_for_reads() {
    let primary = redis_or_skip!();
    let replica = redis_or_skip!(&["--replica-serve-stale-data", "no"]);
    let store = store_on(&replica);
    store.save("k", b"v", TTL, None).await.expect("save");

    let port = primary.addr().port().to_string();
    replica.command(&["REPLICAOF", "127.0.0.1", &port]);
    // Writes are refused at once (READONLY); wait until the replica has synced, so that reads
    // are served.
    let deadline = Instant::now() + Duration::from_secs(10);
    while replica
        .info("replication")
        .get("master_link_status")
        .map(String::as_str)
        != Some("up")
    {
        assert!(Instant::now() < deadline, "the replica did not sync");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let saved = store.save("k", b"w", TTL, None).await;
    assert!(is_unavailable(&saved), "READONLY: {saved:?}");
    assert_eq!(
        bytes_of(&store, "k").await,
        None,
        "synced from an empty primary"
    );

    // The primary gone, a replica that must not serve stale data refuses reads (MASTERDOWN).
    drop(primary);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let loaded = store.load("k").await;
        if is_unavailable(&loaded) {
            break;
        }
        assert!(Instant::now() < deadline, "still serving reads: {loaded:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_at_its_client_limit_is_unavailable() {
    const CLIENTS: usize = 2;
    let server = redis_or_skip!(&["--maxclients", "2"]);
    // Take every connection the server allows. A connection closed just before (the helper's
    // own) may hold a place for a moment, so a refused one is tried again.
    let mut holders = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while holders.len() < CLIENTS {
        let mut holder = server.connect();
        if holder.command(&["PING"]).expect("ping") == Reply::Status("PONG".to_owned()) {
            holders.push(holder);
        } else {
            assert!(Instant::now() < deadline, "the server keeps refusing");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let store = store_on(&server);
    let loaded = store.load("k").await;
    assert!(is_unavailable(&loaded), "{loaded:?}");

    drop(holders);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(bytes_of(&store, "k").await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn value_over_the_limit_is_refused_without_a_round_trip() {
    let server = redis_or_skip!();
    let store = store_on(&server);
    let version = store
        .create("k", b"small", TTL)
        .await
        .expect("create")
        .expect("a free key");
    let sets = server.command_counts().get("set").copied().unwrap_or(0);

    let too_large = vec![7u8; DEFAULT_MAX_VALUE_SIZE + 1];
    let saved = store.save("big", &too_large, TTL, None).await;
    assert!(
        matches!(saved, Err(StoreError::ValueRefused(_))),
        "{saved:?}"
    );
    let created = store.create("big", &too_large, TTL).await;
    assert!(
        matches!(created, Err(StoreError::ValueRefused(_))),
        "{created:?}"
    );
    let swapped = store.save("k", &too_large, TTL, Some(version)).await;
    assert!(
        matches!(swapped, Err(StoreError::ValueRefused(_))),
        "{swapped:?}"
    );
    assert_eq!(
        server.command_counts().get("set").copied().unwrap_or(0),
        sets
    );
    assert_eq!(bytes_of(&store, "k").await.as_deref(), Some(&b"small"[..]));

    let limited = RedisStore::builder()
        .server(server.addr())
        .max_value_size(1024)
        .build()
        .expect("valid settings");
    let saved = limited.save("big", &[0; 1025], TTL, None).await;
    assert!(
        matches!(saved, Err(StoreError::ValueRefused(_))),
        "{saved:?}"
    );
    limited
        .save("ok", &[0; 1024], TTL, None)
        .await
        .expect("at the limit");
    // The largest record every server takes.
    let largest = vec![1u8; DEFAULT_MAX_VALUE_SIZE];
    store
        .save("largest", &largest, TTL, None)
        .await
        .expect("at the default limit");
    assert_eq!(bytes_of(&store, "largest").await, Some(largest));
}

/// A limit set above the server's `proto-max-bulk-len`: the server refuses the value and closes
/// the connection. The store sees the refusal, or the reset when it comes first (the server
/// hangs up with the rest of the value unread); either way nothing is written and the next call
/// reconnects.
#[tokio::test(flavor = "multi_thread")]
async fn value_over_the_servers_bulk_limit_is_refused_and_the_store_keeps_working() {
    let server = redis_or_skip!(&["--proto-max-bulk-len", "1mb"]);
    let store = RedisStore::builder()
        .server(server.addr())
        .max_value_size(8 * 1024 * 1024)
        .build()
        .expect("valid settings");
    let version = store
        .create("k", b"small", TTL)
        .await
        .expect("create")
        .expect("a free key");
    let too_large = vec![7u8; 2 * 1024 * 1024];
    let saved = store.save("big", &too_large, TTL, None).await;
    assert!(refused(&saved), "{saved:?}");
    let created = store.create("big", &too_large, TTL).await;
    assert!(refused(&created), "{created:?}");
    let swapped = store.save("k", &too_large, TTL, Some(version)).await;
    assert!(refused(&swapped), "{swapped:?}");
    assert_eq!(bytes_of(&store, "k").await.as_deref(), Some(&b"small"[..]));
    assert_eq!(bytes_of(&store, "big").await, None);
}

fn refused<T>(result: &Result<T, StoreError>) -> bool {
    matches!(
        result,
        Err(StoreError::ValueRefused(_) | StoreError::Unavailable(_))
    )
}

#[tokio::test]
async fn a_wrong_password_is_another_error() {
    let server = redis_or_skip!(&["--requirepass", "right"]);
    let wrong = RedisStore::from_spec(&format!("redis://:wrong@{}", server.addr())).expect("spec");
    let loaded = wrong.load("k").await;
    assert!(matches!(loaded, Err(StoreError::Other(_))), "{loaded:?}");
    let message = format!("{:?}", loaded.expect_err("refused"));
    assert!(
        !message.contains("wrong@"),
        "the error shows the password: {message}"
    );

    let right =
        RedisStore::from_spec(&format!("redis://:right@{}/1", server.addr())).expect("spec");
    right.save("k", b"v", TTL, None).await.expect("save");
    assert_eq!(bytes_of(&right, "k").await.as_deref(), Some(&b"v"[..]));
    // In database 1: database 0 has nothing.
    let mut raw = server.connect();
    assert_eq!(raw.command(&["AUTH", "right"]).expect("auth").text(), "OK");
    assert_eq!(
        raw.command(&["EXISTS", "k"]).expect("exists"),
        Reply::Integer(0)
    );
    assert_eq!(raw.command(&["SELECT", "1"]).expect("select").text(), "OK");
    assert_eq!(
        raw.command(&["EXISTS", "k"]).expect("exists"),
        Reply::Integer(1)
    );
}
