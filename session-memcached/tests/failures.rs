//! A dead or silent server is an "unavailable" error within the timeout, and recovery needs
//! no rebuilding; a value over the item limit is refused.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use session_core::{SaveOutcome, Store, StoreError};
use session_memcached::MemcachedStore;
use test_memcached::memcached_or_skip;

const TTL: Duration = Duration::from_secs(60);
/// The most a failing call may take with the default timeouts.
const LIMIT: Duration = Duration::from_secs(2);

fn is_unavailable<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Unavailable(_)))
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_server_is_unavailable_then_recovers_on_the_same_store() {
    let mut server = memcached_or_skip!();
    let store = MemcachedStore::from_spec(&server.spec()).expect("valid spec");
    // Several pooled connections, all of which die with the server.
    let (a, b) = tokio::join!(
        store.save("a", b"1", TTL, None),
        store.save("b", b"2", TTL, None)
    );
    a.expect("save a");
    b.expect("save b");

    server.kill();
    // A login makes several calls; each must fail fast and the whole must stay well under 2 s.
    let started = Instant::now();
    let loaded = store.load_and_touch("a", TTL).await;
    assert!(is_unavailable(&loaded), "{loaded:?}");
    let saved = store.save("a", b"3", TTL, None).await;
    assert!(is_unavailable(&saved), "{saved:?}");
    let created = store.create("c", b"4", TTL).await;
    assert!(is_unavailable(&created), "{created:?}");
    let deleted = store.delete("b").await;
    assert!(is_unavailable(&deleted), "{deleted:?}");
    assert!(started.elapsed() < LIMIT, "took {:?}", started.elapsed());

    server.restart();
    // The restarted memcached is empty; the same store works again at once.
    assert!(store.load("a").await.expect("load after restart").is_none());
    assert!(matches!(
        store
            .save("a", b"5", TTL, None)
            .await
            .expect("save after restart"),
        SaveOutcome::Saved(_)
    ));
    let loaded = store.load("a").await.expect("load").expect("saved record");
    assert_eq!(loaded.bytes, b"5");
}

#[tokio::test]
async fn store_built_while_nothing_listens_works_once_the_server_is_up() {
    let mut server = memcached_or_skip!();
    server.kill();
    let store = MemcachedStore::from_spec(&server.spec()).expect("building connects to nothing");
    let loaded = store.load("k").await;
    assert!(is_unavailable(&loaded), "{loaded:?}");
    server.restart();
    assert!(store.load("k").await.expect("load after start").is_none());
}

#[tokio::test]
async fn silent_server_is_unavailable_after_the_io_timeout() {
    // Accepts connections (the kernel completes the handshake) and never answers: a hung server.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let store = MemcachedStore::builder()
        .server(silent.local_addr().expect("address"))
        .io_timeout(Duration::from_millis(300))
        .build()
        .expect("valid settings");
    let started = Instant::now();
    let loaded = store.load("k").await;
    let elapsed = started.elapsed();
    assert!(is_unavailable(&loaded), "{loaded:?}");
    assert!(
        elapsed >= Duration::from_millis(300),
        "gave up early: {elapsed:?}"
    );
    assert!(elapsed < LIMIT, "took {elapsed:?}");
}

#[tokio::test]
async fn value_over_the_item_limit_is_refused_and_the_store_keeps_working() {
    let server = memcached_or_skip!(&["-I", "1m"]);
    let store = MemcachedStore::from_spec(&server.spec()).expect("valid spec");
    let too_large = vec![7u8; 2 * 1024 * 1024];
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
    store.save("small", b"ok", TTL, None).await.expect("save");
    let loaded = store.load("small").await.expect("load").expect("saved");
    assert_eq!(loaded.bytes, b"ok");
    assert!(store.load("big").await.expect("load").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_at_its_connection_limit_is_unavailable() {
    let server = memcached_or_skip!(&["-c", "16", "-t", "1"]);
    let store = MemcachedStore::from_spec(&server.spec()).expect("valid spec");
    let calls: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.load(&format!("k{i}")).await })
        })
        .collect();
    let mut refused = 0;
    for call in calls {
        match call.await.expect("task") {
            Ok(_) => {}
            Err(StoreError::Unavailable(_)) => refused += 1,
            Err(other) => panic!("a full server must be unavailable (503), not {other:?}"),
        }
    }
    assert!(
        refused > 0,
        "40 connections to a server allowing 16 were all served"
    );
}

#[tokio::test]
async fn a_server_without_cas_is_a_clear_error() {
    let server = memcached_or_skip!(&["-C"]);
    let store = MemcachedStore::from_spec(&server.spec()).expect("valid spec");
    let error = store
        .create("k", b"v", Duration::from_secs(60))
        .await
        .expect_err("sessions need CAS");
    let message = format!("{:?}", error);
    assert!(matches!(error, StoreError::Other(_)), "{message}");
    assert!(message.contains("-C"), "the error must say why: {message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_server_refusing_writes_is_unavailable() {
    // `-M`: refuse writes instead of evicting once the memory limit is reached.
    let server = memcached_or_skip!(&["-M", "-m", "2"]);
    let store = MemcachedStore::from_spec(&server.spec()).expect("valid spec");
    let value = vec![7u8; 100 * 1024];
    let mut refused = None;
    for index in 0..200 {
        if let Err(error) = store.save(&format!("k{index}"), &value, TTL, None).await {
            refused = Some(error);
            break;
        }
    }
    let refused = refused.expect("a 2 MB server refuses 20 MB of writes");
    assert!(
        matches!(refused, StoreError::Unavailable(_)),
        "a full server is a temporary refusal, not a failure: {refused:?}"
    );
}
