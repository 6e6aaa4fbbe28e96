//! Calls cut short (dropped at a request's deadline, timed out, reset mid-answer) leave no broken
//! connection behind: the next calls work and each reads its own answer.

use std::sync::Arc;
use std::time::Duration;

use session_core::{Store, StoreError};
use session_redis::RedisStore;
use test_memcached::{Proxy, ProxyMode};
use test_redis::{RedisServer, redis_or_skip};

const TTL: Duration = Duration::from_secs(60);
const KEYS: usize = 32;

fn key(i: usize) -> String {
    format!("session:{i:02}")
}

fn value(i: usize) -> Vec<u8> {
    format!("value of session {i}").into_bytes()
}

/// A store through a proxy to `server`, with `KEYS` records written.
async fn seeded(server: &RedisServer) -> (Proxy, Arc<RedisStore>) {
    let proxy = Proxy::start(server.addr());
    let store = RedisStore::builder()
        .server(proxy.addr())
        .build()
        .expect("valid settings");
    for i in 0..KEYS {
        store
            .save(&key(i), &value(i), TTL, None)
            .await
            .expect("seed");
    }
    (proxy, Arc::new(store))
}

/// Every record loads with its own value, all at once on the shared connection.
async fn all_load_their_own_values(store: &Arc<RedisStore>) {
    let loads: Vec<_> = (0..KEYS)
        .map(|i| {
            let store = Arc::clone(store);
            tokio::spawn(async move { (i, store.load(&key(i)).await) })
        })
        .collect();
    for load in loads {
        let (i, loaded) = load.await.expect("load task");
        let loaded = loaded.expect("load").expect("a seeded record");
        assert_eq!(loaded.bytes, value(i), "session {i} read another's answer");
    }
}

/// The server's `connected_clients`, less the connection that asks.
fn clients(server: &RedisServer) -> usize {
    let clients: usize = server.info("clients")["connected_clients"]
        .parse()
        .expect("a number");
    clients - 1
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_dropped_mid_exchange_leave_the_connection_usable() {
    let server = redis_or_skip!();
    let (proxy, store) = seeded(&server).await;
    assert_eq!(clients(&server), 1, "one multiplexed connection");

    // Every answer now comes 200 ms late; each call is dropped after 50 ms, its request sent and
    // its answer still on the way, as the core drops a store call at a request's deadline.
    proxy.set_mode(ProxyMode::Delay(Duration::from_millis(200)));
    for i in 0..KEYS {
        let store = Arc::clone(&store);
        let dropped = tokio::time::timeout(Duration::from_millis(50), async move {
            if i % 2 == 0 {
                store.load(&key(i)).await.map(|_| ())
            } else {
                store.load_and_touch(&key(i), TTL).await.map(|_| ())
            }
        })
        .await;
        assert!(
            dropped.is_err(),
            "call {i} finished within 50 ms: {dropped:?}"
        );
    }
    let dropped_write = tokio::time::timeout(
        Duration::from_millis(50),
        store.save(&key(0), &value(0), TTL, None),
    )
    .await;
    assert!(dropped_write.is_err(), "{dropped_write:?}");

    // The late answers arrive on the same connection and go nowhere; new calls, also the ones
    // queued behind them, read their own.
    proxy.set_mode(ProxyMode::Pass);
    all_load_their_own_values(&store).await;
    assert_eq!(
        clients(&server),
        1,
        "still the one connection, never replaced"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_cancelled_at_random_points_of_a_busy_connection() {
    let server = redis_or_skip!();
    let (proxy, store) = seeded(&server).await;
    proxy.set_mode(ProxyMode::Delay(Duration::from_millis(20)));
    for round in 0..4u64 {
        let calls: Vec<_> = (0..KEYS)
            .map(|i| {
                let store = Arc::clone(&store);
                // Deadlines from 1 to 40 ms, some before the answer, some after.
                let deadline = Duration::from_millis(1 + (i as u64 * 7 + round * 13) % 40);
                tokio::spawn(async move {
                    let key = key(i);
                    (i, tokio::time::timeout(deadline, store.load(&key)).await)
                })
            })
            .collect();
        for call in calls {
            let (i, outcome) = call.await.expect("call task");
            if let Ok(loaded) = outcome {
                let loaded = loaded.expect("load").expect("a seeded record");
                assert_eq!(loaded.bytes, value(i), "session {i} read another's answer");
            }
        }
    }
    proxy.set_mode(ProxyMode::Pass);
    all_load_their_own_values(&store).await;
    assert_eq!(clients(&server), 1, "still the one connection");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timed_out_call_is_unavailable_and_the_next_calls_read_their_own_answers() {
    let server = redis_or_skip!();
    let (proxy, store) = seeded(&server).await;
    // Later than the response timeout (500 ms): the call fails, and its connection, whose
    // server may be gone, is replaced by the next call.
    proxy.set_mode(ProxyMode::Delay(Duration::from_millis(700)));
    let loaded = store.load(&key(1)).await;
    assert!(
        matches!(loaded, Err(StoreError::Unavailable(_))),
        "{loaded:?}"
    );
    proxy.set_mode(ProxyMode::Pass);
    all_load_their_own_values(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_reset_mid_answer_is_unavailable_then_replaced() {
    let server = redis_or_skip!();
    let (proxy, store) = seeded(&server).await;
    proxy.set_mode(ProxyMode::ResetMidReply);
    let loaded = store.load(&key(3)).await;
    assert!(
        matches!(loaded, Err(StoreError::Unavailable(_))),
        "{loaded:?}"
    );
    proxy.set_mode(ProxyMode::Pass);
    all_load_their_own_values(&store).await;
    let deleted = store.delete(&key(3)).await.expect("delete");
    assert!(deleted);
    assert_eq!(clients(&server), 1, "the reset connection is gone");
}
