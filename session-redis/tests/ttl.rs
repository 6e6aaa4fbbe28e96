//! TTLs as Redis keeps them: milliseconds, rounded up, for every write and touch.

use std::time::Duration;

use session_core::Store;
use session_redis::RedisStore;
use test_redis::{RedisServer, redis_or_skip};

/// The key's remaining time to live in milliseconds, as the server counts it.
fn pttl(server: &RedisServer, key: &str) -> i64 {
    server
        .command(&["PTTL", key])
        .integer()
        .expect("PTTL answers an integer")
}

/// Asserts that `key` was just given `ttl_ms`: at most that, and no less than it less a margin
/// for the time the test took since.
fn assert_fresh_ttl(server: &RedisServer, key: &str, ttl_ms: i64, what: &str) {
    let left = pttl(server, key);
    assert!(
        left <= ttl_ms && left > ttl_ms - 1000,
        "{what}: {left} ms left of {ttl_ms}"
    );
}

#[tokio::test]
async fn every_write_and_touch_sets_the_ttl_in_milliseconds_rounded_up() {
    let server = redis_or_skip!();
    let store = RedisStore::from_spec(&server.spec()).expect("valid spec");
    // 90.0000001 s: sent as 90,001 ms, never 90,000.
    let ttl = Duration::from_nanos(90_000_000_001);
    let version = store
        .create("k", b"x", ttl)
        .await
        .expect("create")
        .expect("free key");
    assert_fresh_ttl(&server, "k", 90_001, "create");

    let long = Duration::from_secs(60 * 24 * 3600);
    let long_ms = 60 * 24 * 3600 * 1000;
    store
        .save("k", b"y", long, Some(version))
        .await
        .expect("save");
    assert_fresh_ttl(&server, "k", long_ms, "compare-and-set save");

    store.save("k", b"z", ttl, None).await.expect("save");
    assert_fresh_ttl(&server, "k", 90_001, "save");

    assert!(store.touch("k", long).await.expect("touch"));
    assert_fresh_ttl(&server, "k", long_ms, "touch");

    let loaded = store
        .load_and_touch("k", ttl)
        .await
        .expect("load_and_touch");
    assert!(loaded.is_some());
    assert_fresh_ttl(&server, "k", 90_001, "load_and_touch");

    // A plain load leaves the TTL alone.
    tokio::time::sleep(Duration::from_millis(20)).await;
    store.load("k").await.expect("load");
    let left = pttl(&server, "k");
    assert!(left < 90_001 - 10, "load refreshed the TTL: {left} ms left");
}

#[tokio::test]
async fn a_record_expires_after_its_ttl() {
    let server = redis_or_skip!();
    let store = RedisStore::from_spec(&server.spec()).expect("valid spec");
    store
        .create("short", b"x", Duration::from_millis(300))
        .await
        .expect("create")
        .expect("free key");
    assert!(store.load("short").await.expect("load").is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        store.load("short").await.expect("load").is_none(),
        "still there after its TTL"
    );
    assert!(
        store
            .create("short", b"y", Duration::from_secs(1))
            .await
            .expect("create")
            .is_some(),
        "an expired key is free"
    );
}
