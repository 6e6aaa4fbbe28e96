//! Every store operation is exactly one Redis command, as counted by the server itself
//! (`INFO commandstats`); the compare-and-set script's own commands run inside the server.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use session_core::{KeyRing, SaveOutcome, SessionManager, Store};
use session_redis::RedisStore;
use test_redis::{RedisServer, redis_or_skip};

const TTL: Duration = Duration::from_secs(60);

/// Runs `operation` and answers how many times each command ran meanwhile (the `INFO` that
/// counts them left out).
async fn counted<T>(
    server: &RedisServer,
    operation: impl Future<Output = T>,
) -> (T, HashMap<String, u64>) {
    let before = server.command_counts();
    let output = operation.await;
    let grown = server
        .command_counts()
        .into_iter()
        .filter(|(name, _)| name != "info")
        .map(|(name, after)| {
            let grown = after - before.get(&name).copied().unwrap_or(0);
            (name, grown)
        })
        .filter(|&(_, grown)| grown > 0)
        .collect();
    (output, grown)
}

fn only(command: &str) -> HashMap<String, u64> {
    HashMap::from([(command.to_owned(), 1)])
}

/// One compare-and-set: the `EVALSHA` sent, and the commands the script runs inside the server
/// (which Redis counts too): a `GETRANGE` of the stored tag, and a `SET` when it writes.
fn compare_and_set(writes: bool) -> HashMap<String, u64> {
    let mut commands = HashMap::from([("evalsha".to_owned(), 1), ("getrange".to_owned(), 1)]);
    if writes {
        commands.insert("set".to_owned(), 1);
    }
    commands
}

#[tokio::test]
async fn each_operation_is_one_command() {
    let server = redis_or_skip!();
    let store = RedisStore::from_spec(&server.spec()).expect("valid spec");
    // Connect first, and have the server learn the compare-and-set script, so that nothing below
    // hides a handshake or a script load.
    let warm = store
        .create("warm-up", b"x", TTL)
        .await
        .expect("create")
        .expect("free key");
    store
        .save("warm-up", b"y", TTL, Some(warm))
        .await
        .expect("save");

    let (created, grown) = counted(&server, store.create("k", b"one", TTL)).await;
    let version = created.expect("create").expect("free key");
    assert_eq!(grown, only("set"), "create");

    let (created, grown) = counted(&server, store.create("k", b"again", TTL)).await;
    assert_eq!(created.expect("create"), None, "taken");
    assert_eq!(grown, only("set"), "create of a taken key");

    let (loaded, grown) = counted(&server, store.load("k")).await;
    assert_eq!(loaded.expect("load").expect("hit").version, version);
    assert_eq!(grown, only("get"), "load");

    let (loaded, grown) = counted(&server, store.load_and_touch("k", TTL)).await;
    assert_eq!(
        loaded.expect("load_and_touch").expect("hit").version,
        version
    );
    assert_eq!(grown, only("getex"), "load_and_touch");

    let (saved, grown) = counted(&server, store.save("k", b"two", TTL, Some(version))).await;
    let SaveOutcome::Saved(second) = saved.expect("save") else {
        panic!("the current version must write");
    };
    assert_eq!(grown, compare_and_set(true), "compare-and-set save");

    let (saved, grown) = counted(&server, store.save("k", b"stale", TTL, Some(version))).await;
    assert_eq!(saved.expect("save"), SaveOutcome::Conflict);
    assert_eq!(grown, compare_and_set(false), "conflicting compare-and-set");

    let (saved, grown) = counted(&server, store.save("k", b"three", TTL, None)).await;
    assert!(matches!(saved.expect("save"), SaveOutcome::Saved(v) if v != second));
    assert_eq!(grown, only("set"), "plain save");

    let (touched, grown) = counted(&server, store.touch("k", TTL)).await;
    assert!(touched.expect("touch"));
    assert_eq!(grown, only("pexpire"), "touch");

    let keys = ["k", "warm-up", "absent"];
    let (loaded, grown) = counted(&server, store.load_many(&keys)).await;
    let loaded = loaded.expect("load_many");
    assert_eq!(
        loaded.iter().map(Option::is_some).collect::<Vec<_>>(),
        [true, true, false]
    );
    assert_eq!(grown, only("mget"), "load_many");

    let (deleted, grown) = counted(&server, store.delete("k")).await;
    assert!(deleted.expect("delete"));
    assert_eq!(grown, only("del"), "delete");

    let (deleted, grown) = counted(&server, store.delete("k")).await;
    assert!(!deleted.expect("delete"));
    assert_eq!(grown, only("del"), "delete of a missing key");

    let (saved, grown) = counted(&server, store.save("k", b"four", TTL, Some(version))).await;
    assert_eq!(saved.expect("save"), SaveOutcome::Gone);
    assert_eq!(
        grown,
        compare_and_set(false),
        "compare-and-set of a missing key"
    );

    let (loaded, grown) = counted(&server, store.load_and_touch("k", TTL)).await;
    assert!(loaded.expect("load_and_touch").is_none());
    assert_eq!(grown, only("getex"), "load_and_touch of a missing key");

    let (touched, grown) = counted(&server, store.touch("k", TTL)).await;
    assert!(!touched.expect("touch"));
    assert_eq!(grown, only("pexpire"), "touch of a missing key");
}

#[tokio::test]
async fn a_server_that_lost_the_script_is_sent_it_once() {
    let server = redis_or_skip!();
    let store = RedisStore::from_spec(&server.spec()).expect("valid spec");
    let version = store
        .create("k", b"one", TTL)
        .await
        .expect("create")
        .expect("free key");
    server.command(&["SCRIPT", "FLUSH"]);
    let (saved, grown) = counted(&server, store.save("k", b"two", TTL, Some(version))).await;
    let SaveOutcome::Saved(version) = saved.expect("save") else {
        panic!("the current version must write");
    };
    let mut expected = compare_and_set(true);
    expected.insert("eval".to_owned(), 1);
    assert_eq!(grown, expected, "NOSCRIPT, then the script itself");
    let (saved, grown) = counted(&server, store.save("k", b"three", TTL, Some(version))).await;
    assert!(matches!(saved.expect("save"), SaveOutcome::Saved(_)));
    assert_eq!(grown, compare_and_set(true), "known again");
}

/// Through the session layer: a request that reads a session costs one `GETEX`, one that changes
/// it one more command (the compare-and-set), a new session one `SET NX`.
#[tokio::test]
async fn requests_cost_one_command_per_read_and_per_write() {
    let server = redis_or_skip!();
    let store = RedisStore::from_spec(&server.spec()).expect("valid spec");
    let warm = store
        .create("warm-up", b"x", TTL)
        .await
        .expect("create")
        .expect("free key");
    store
        .save("warm-up", b"y", TTL, Some(warm))
        .await
        .expect("save");
    let manager = SessionManager::builder(Arc::new(store), KeyRing::generate())
        .build()
        .expect("valid manager");

    let new_session = async {
        let session = manager.get(None);
        session.insert("visits", &1u32).await.expect("insert");
        manager.set(&session).await.expect("set").expect("a cookie")
    };
    let (cookie, grown) = counted(&server, new_session).await;
    assert_eq!(grown, only("set"), "new session");

    let reading = async {
        let session = manager.get(Some(cookie.value()));
        let visits: Option<u32> = session.get("visits").await.expect("get");
        assert!(manager.set(&session).await.expect("set").is_none());
        visits
    };
    let (visits, grown) = counted(&server, reading).await;
    assert_eq!(visits, Some(1));
    assert_eq!(grown, only("getex"), "reading request");

    let writing = async {
        let session = manager.get(Some(cookie.value()));
        session.insert("visits", &2u32).await.expect("insert");
        manager.set(&session).await.expect("set");
    };
    let ((), grown) = counted(&server, writing).await;
    let mut expected = compare_and_set(true);
    expected.insert("getex".to_owned(), 1);
    assert_eq!(grown, expected, "writing request");
}
