//! Every store operation is exactly one memcached command, as counted by the server itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use session_core::{KeyRing, SaveOutcome, SessionManager, Store};
use session_memcached::MemcachedStore;
use test_memcached::{MemcachedServer, memcached_or_skip};

const TTL: Duration = Duration::from_secs(60);

/// The counters that each command kind increments.
const COUNTERS: [&str; 5] = [
    "cmd_get",
    "cmd_set",
    "cmd_touch",
    "delete_hits",
    "delete_misses",
];

/// Runs `operation` and returns how much each counter grew meanwhile.
async fn counted<T>(
    server: &MemcachedServer,
    operation: impl Future<Output = T>,
) -> (T, HashMap<&'static str, u64>) {
    let before = server.stats();
    let output = operation.await;
    let after = server.stats();
    let grown = COUNTERS
        .iter()
        .map(|&name| (name, after[name] - before[name]))
        .filter(|&(_, grown)| grown > 0)
        .collect();
    (output, grown)
}

fn only(counter: &'static str) -> HashMap<&'static str, u64> {
    HashMap::from([(counter, 1)])
}

#[tokio::test]
async fn each_operation_is_one_command() {
    let server = memcached_or_skip!();
    let store = MemcachedStore::from_spec(&server.spec()).expect("valid spec");
    // Make the connection first, so that nothing below can hide a handshake.
    store.load("warm-up").await.expect("load");

    let (created, grown) = counted(&server, store.create("k", b"one", TTL)).await;
    let version = created.expect("create").expect("free key");
    assert_eq!(grown, only("cmd_set"), "create");

    let (loaded, grown) = counted(&server, store.load("k")).await;
    assert_eq!(loaded.expect("load").expect("hit").version, version);
    assert_eq!(grown, only("cmd_get"), "load");

    let (loaded, grown) = counted(&server, store.load_and_touch("k", TTL)).await;
    assert_eq!(
        loaded.expect("load_and_touch").expect("hit").version,
        version
    );
    assert_eq!(
        grown,
        only("cmd_touch"),
        "load_and_touch is a get-and-touch"
    );

    let (saved, grown) = counted(&server, store.save("k", b"two", TTL, Some(version))).await;
    assert!(matches!(saved.expect("save"), SaveOutcome::Saved(_)));
    assert_eq!(grown, only("cmd_set"), "compare-and-set save");

    let (saved, grown) = counted(&server, store.save("k", b"three", TTL, None)).await;
    assert!(matches!(saved.expect("save"), SaveOutcome::Saved(_)));
    assert_eq!(grown, only("cmd_set"), "plain save");

    let (touched, grown) = counted(&server, store.touch("k", TTL)).await;
    assert!(touched.expect("touch"));
    assert_eq!(grown, only("cmd_touch"), "touch");

    let (deleted, grown) = counted(&server, store.delete("k")).await;
    assert!(deleted.expect("delete"));
    assert_eq!(grown, only("delete_hits"), "delete");

    let (deleted, grown) = counted(&server, store.delete("k")).await;
    assert!(!deleted.expect("delete"));
    assert_eq!(grown, only("delete_misses"), "delete of a missing key");

    let (loaded, grown) = counted(&server, store.load_and_touch("k", TTL)).await;
    assert!(loaded.expect("load_and_touch").is_none());
    // memcached 1.6 counts a get-and-touch that misses as a get: still one command.
    assert_eq!(grown, only("cmd_get"), "load_and_touch of a missing key");

    let (touched, grown) = counted(&server, store.touch("k", TTL)).await;
    assert!(!touched.expect("touch"));
    assert_eq!(grown, only("cmd_get"), "touch of a missing key");
}

#[tokio::test]
async fn a_conflicting_save_is_still_one_command() {
    let server = memcached_or_skip!();
    let store = MemcachedStore::from_spec(&server.spec()).expect("valid spec");
    let first = store
        .create("k", b"one", TTL)
        .await
        .expect("create")
        .expect("free key");
    store.save("k", b"two", TTL, None).await.expect("save");

    let before = server.stats();
    let outcome = store.save("k", b"stale", TTL, Some(first)).await;
    let after = server.stats();
    assert_eq!(outcome.expect("save"), SaveOutcome::Conflict);
    assert_eq!(after["cmd_set"] - before["cmd_set"], 1);
    assert_eq!(after["cas_badval"] - before["cas_badval"], 1);
}

/// Through the session layer: a request that reads a session costs one get-and-touch, one that
/// changes it one more command (the compare-and-set save), a new session one add.
#[tokio::test]
async fn requests_cost_one_command_per_read_and_per_write() {
    let server = memcached_or_skip!();
    let store = MemcachedStore::from_spec(&server.spec()).expect("valid spec");
    store.load("warm-up").await.expect("load");
    let manager = SessionManager::builder(Arc::new(store), KeyRing::generate())
        .build()
        .expect("valid manager");

    let new_session = async {
        let session = manager.get(None);
        session.insert("visits", &1u32).await.expect("insert");
        manager.set(&session).await.expect("set").expect("a cookie")
    };
    let (cookie, grown) = counted(&server, new_session).await;
    assert_eq!(grown, only("cmd_set"), "new session");

    let reading = async {
        let session = manager.get(Some(cookie.value()));
        let visits: Option<u32> = session.get("visits").await.expect("get");
        assert!(manager.set(&session).await.expect("set").is_none());
        visits
    };
    let (visits, grown) = counted(&server, reading).await;
    assert_eq!(visits, Some(1));
    assert_eq!(grown, only("cmd_touch"), "reading request");

    let writing = async {
        let session = manager.get(Some(cookie.value()));
        session.insert("visits", &2u32).await.expect("insert");
        manager.set(&session).await.expect("set");
    };
    let ((), grown) = counted(&server, writing).await;
    assert_eq!(
        grown,
        HashMap::from([("cmd_touch", 1), ("cmd_set", 1)]),
        "writing request"
    );
}
