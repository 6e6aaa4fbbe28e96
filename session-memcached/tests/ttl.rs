//! TTLs as memcached reads them: never 0 ("forever"), long ones as absolute times.

use std::time::Duration;

use session_core::Store;
use session_memcached::MemcachedStore;
use test_memcached::memcached_or_skip;

#[tokio::test]
async fn a_ttl_over_thirty_days_keeps_the_record() {
    let server = memcached_or_skip!();
    let store = MemcachedStore::from_spec(&server.spec()).expect("valid spec");
    // Sent as relative seconds, 60 days would read as a Unix time in 1970: gone at once.
    let sixty_days = Duration::from_secs(60 * 24 * 3600);
    store
        .create("long", b"x", sixty_days)
        .await
        .expect("create")
        .expect("free key");
    assert!(store.load("long").await.expect("load").is_some());
    assert!(store.touch("long", sixty_days).await.expect("touch"));
    assert!(store.load("long").await.expect("load").is_some());
}

#[tokio::test]
async fn a_record_outlives_its_ttl_and_then_expires() {
    let server = memcached_or_skip!();
    let store = MemcachedStore::from_spec(&server.spec()).expect("valid spec");
    store
        .create("short", b"x", Duration::from_secs(1))
        .await
        .expect("create")
        .expect("free key");
    // memcached's clock ticks in whole seconds; the extra second keeps the record a full TTL.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        store.load("short").await.expect("load").is_some(),
        "expired before its TTL"
    );
    tokio::time::sleep(Duration::from_millis(2350)).await;
    assert!(
        store.load("short").await.expect("load").is_none(),
        "still there two seconds after its TTL"
    );
}
