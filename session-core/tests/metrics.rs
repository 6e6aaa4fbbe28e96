//! The metrics the core records, counted exactly.
//!
//! Each test installs a `DebuggingRecorder` as its thread's local recorder;
//! `#[tokio::test]` runs the test on a current-thread runtime, so every metric
//! the test's sessions record lands in that recorder, and tests running at the
//! same time on other threads do not mix in. Every step takes a snapshot,
//! which resets the counters, so each check sees exactly what one step
//! recorded. The store calls a step made, counted by a `CountingStore`, must
//! match the samples of `session_store_call_seconds` one for one, by `op`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use session_core::test_stores::{CallCounts, CountingStore, FailingStore, FailureKind, StoreOp};
use session_core::{KeyRing, SessionManager, SessionManagerBuilder, SetCookie, Store};

/// What one step recorded: every counter that moved, as `name{label=value}`,
/// and the number of `session_store_call_seconds` samples per `op`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Recorded {
    counters: BTreeMap<String, u64>,
    store_calls: BTreeMap<String, usize>,
}

/// The metrics recorded since the last call.
fn take(snapshotter: &Snapshotter) -> Recorded {
    let mut recorded = Recorded::default();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let labels: Vec<String> = key
            .labels()
            .map(|label| format!("{}={}", label.key(), label.value()))
            .collect();
        match value {
            DebugValue::Counter(0) => {}
            DebugValue::Counter(count) => {
                let name = if labels.is_empty() {
                    key.name().to_owned()
                } else {
                    format!("{}{{{}}}", key.name(), labels.join(","))
                };
                recorded.counters.insert(name, count);
            }
            DebugValue::Histogram(samples) if samples.is_empty() => {}
            DebugValue::Histogram(samples) => {
                assert_eq!(
                    key.name(),
                    "session_store_call_seconds",
                    "an unknown histogram"
                );
                let op = key
                    .labels()
                    .find(|label| label.key() == "op")
                    .map(|label| label.value().to_owned())
                    .expect("an op label");
                assert!(
                    samples
                        .iter()
                        .all(|seconds| seconds.0 >= 0.0 && seconds.0 < 10.0),
                    "latencies in seconds: {samples:?}"
                );
                recorded.store_calls.insert(op, samples.len());
            }
            DebugValue::Gauge(_) => panic!("the core records no gauge: {key:?}"),
        }
    }
    recorded
}

/// The expected record of a step: these counters, and these latency samples
/// by `op`.
fn expected(counters: &[(&str, u64)], store_calls: &[(&str, usize)]) -> Recorded {
    Recorded {
        counters: counters
            .iter()
            .map(|(name, count)| ((*name).to_owned(), *count))
            .collect(),
        store_calls: store_calls
            .iter()
            .map(|(op, count)| ((*op).to_owned(), *count))
            .collect(),
    }
}

/// One latency sample per store call the `CountingStore` saw.
fn ops(calls: CallCounts) -> Vec<(&'static str, usize)> {
    StoreOp::ALL
        .into_iter()
        .filter(|op| calls.of(*op) > 0)
        .map(|op| (op.as_str(), calls.of(op)))
        .collect()
}

/// Counts the store calls of each step.
struct Steps {
    store: Arc<CountingStore>,
    before: CallCounts,
}

impl Steps {
    fn new(store: &Arc<CountingStore>) -> Self {
        Self {
            store: Arc::clone(store),
            before: store.counts(),
        }
    }

    /// The store calls since the last call.
    fn calls(&mut self) -> CallCounts {
        let now = self.store.counts();
        let calls = now - self.before;
        self.before = now;
        calls
    }
}

fn builder(store: impl session_core::IntoStore, keys: &KeyRing) -> SessionManagerBuilder {
    SessionManager::builder(store, keys.clone()).secure(false)
}

fn manager(store: &Arc<CountingStore>, keys: &KeyRing) -> SessionManager {
    builder(Arc::clone(store), keys)
        .build()
        .expect("a valid configuration")
}

/// A request that sets `visits`; answers the session's cookie.
async fn new_session(manager: &SessionManager) -> SetCookie {
    let session = manager.start([]);
    session.insert("visits", &1u64).await.expect("insert");
    let end = manager.finish(&session, 200).await;
    end.set_cookie()
        .cloned()
        .expect("a new session sets a cookie")
}

/// A request that reads `visits` with `cookie`.
async fn read(manager: &SessionManager, cookie: &SetCookie) -> Option<u64> {
    let session = manager.get(Some(cookie.value()));
    let visits = session.get::<u64>("visits").await.expect("get");
    let end = manager.finish(&session, 200).await;
    assert!(end.error_reply().is_none());
    visits
}

#[tokio::test]
async fn a_new_session_is_created_once() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let store = Arc::new(CountingStore::new());
    let manager = manager(&store, &KeyRing::generate());
    let mut steps = Steps::new(&store);

    new_session(&manager).await;
    assert_eq!(
        take(&snapshotter),
        expected(&[("sessions_created_total", 1)], &ops(steps.calls()))
    );
    assert_eq!(steps.store.counts().of(StoreOp::Create), 1);

    // A new session that stays empty is neither created nor loaded.
    let session = manager.start([]);
    assert_eq!(session.get::<u64>("visits").await.expect("get"), None);
    let _ = manager.finish(&session, 200).await;
    assert_eq!(take(&snapshotter), Recorded::default());
}

#[tokio::test]
async fn every_load_counts_its_outcome() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let store = Arc::new(CountingStore::new());
    let keys = KeyRing::generate();
    let manager = manager(&store, &keys);
    let cookie = new_session(&manager).await;
    let key = store.written_keys().pop().expect("the session's key");
    take(&snapshotter);
    let mut steps = Steps::new(&store);

    assert_eq!(read(&manager, &cookie).await, Some(1));
    assert_eq!(
        take(&snapshotter),
        expected(
            &[("sessions_loaded_total{outcome=found}", 1)],
            &ops(steps.calls())
        )
    );

    let garbage = manager.get(Some("garbage"));
    assert_eq!(garbage.get::<u64>("visits").await.expect("get"), None);
    assert_eq!(
        take(&snapshotter),
        Recorded::default(),
        "a cookie that does not verify names no session to load"
    );

    // A record that does not open, as if forged by whoever can write to the
    // store.
    let ttl = Duration::from_secs(60);
    store
        .inner()
        .save(&key, b"forged", ttl, None)
        .await
        .expect("plant");
    assert_eq!(read(&manager, &cookie).await, None);
    assert_eq!(
        take(&snapshotter),
        expected(
            &[("sessions_loaded_total{outcome=refused}", 1)],
            &ops(steps.calls())
        )
    );

    store.inner().delete(&key).await.expect("delete");
    assert_eq!(read(&manager, &cookie).await, None);
    assert_eq!(
        take(&snapshotter),
        expected(
            &[("sessions_loaded_total{outcome=missing}", 1)],
            &ops(steps.calls())
        )
    );

    // Past the absolute timeout: refused from the cookie alone.
    let short = builder(Arc::clone(&store), &keys)
        .absolute_timeout(Duration::from_secs(1))
        .build()
        .expect("a valid configuration");
    let cookie = new_session(&short).await;
    take(&snapshotter);
    steps.calls();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(read(&short, &cookie).await, None);
    let calls = steps.calls();
    assert_eq!(calls.total(), 0, "an expired cookie costs no store call");
    assert_eq!(
        take(&snapshotter),
        expected(
            &[("sessions_loaded_total{outcome=expired}", 1)],
            &ops(calls)
        )
    );
}

#[tokio::test]
async fn saves_conflicts_and_retries() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let store = Arc::new(CountingStore::new());
    let keys = KeyRing::generate();
    // Two managers on one store stand for two processes of one app.
    let (first, second) = (manager(&store, &keys), manager(&store, &keys));
    let cookie = new_session(&first).await;
    take(&snapshotter);
    let mut steps = Steps::new(&store);

    let session = first.get(Some(cookie.value()));
    session.insert("a", &1).await.expect("insert");
    let end = first.finish(&session, 200).await;
    assert!(end.error_reply().is_none());
    assert_eq!(
        take(&snapshotter),
        expected(
            &[
                ("sessions_loaded_total{outcome=found}", 1),
                ("sessions_saved_total", 1),
            ],
            &ops(steps.calls())
        )
    );

    // Both load the same version; the other process saves first, so this
    // one's compare-and-set conflicts, and it saves again on the new record.
    let (mine, theirs) = (
        first.get(Some(cookie.value())),
        second.get(Some(cookie.value())),
    );
    mine.insert("mine", &1).await.expect("insert");
    theirs.insert("theirs", &1).await.expect("insert");
    assert!(second.finish(&theirs, 200).await.error_reply().is_none());
    assert!(first.finish(&mine, 200).await.error_reply().is_none());
    let calls = steps.calls();
    assert_eq!(
        (calls.of(StoreOp::Save), store.conflicts()),
        (3, 1),
        "two saves and one retry ({calls:?})"
    );
    assert_eq!(
        take(&snapshotter),
        expected(
            &[
                ("sessions_loaded_total{outcome=found}", 2),
                ("sessions_saved_total", 2),
                ("session_save_conflicts_total", 1),
                ("session_save_retries_total", 1),
            ],
            &ops(calls)
        )
    );
    let keys = first.get(Some(cookie.value())).keys().await.expect("keys");
    assert_eq!(keys, ["a", "mine", "theirs", "visits"]);
}

#[tokio::test]
async fn rotations_and_logouts() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let store = Arc::new(CountingStore::new());
    let manager = manager(&store, &KeyRing::generate());
    let cookie = new_session(&manager).await;
    take(&snapshotter);
    let mut steps = Steps::new(&store);

    let session = manager.get(Some(cookie.value()));
    session.login("alice").await.expect("login");
    let end = manager.finish(&session, 200).await;
    let rotated = end.set_cookie().cloned().expect("the rotated cookie");
    let calls = steps.calls();
    assert_eq!(
        (calls.of(StoreOp::Create), calls.of(StoreOp::Delete)),
        (2, 1),
        "the user's index created, the new ID claimed, the old record deleted ({calls:?})"
    );
    assert_eq!(
        take(&snapshotter),
        expected(
            &[
                ("sessions_loaded_total{outcome=found}", 1),
                ("sessions_rotated_total", 1),
            ],
            &ops(calls)
        )
    );

    let session = manager.get(Some(rotated.value()));
    session.logout().await.expect("logout");
    let end = manager.finish(&session, 200).await;
    assert!(end.set_cookie().is_some_and(SetCookie::is_removal));
    let calls = steps.calls();
    assert_eq!(
        (calls.of(StoreOp::Delete), calls.of(StoreOp::Save)),
        (1, 1),
        "the record deleted, and the user's index that listed only it saved empty ({calls:?})"
    );
    assert_eq!(
        take(&snapshotter),
        expected(
            &[
                ("sessions_loaded_total{outcome=found}", 1),
                ("sessions_destroyed_total", 1),
            ],
            &ops(calls)
        )
    );
}

#[tokio::test]
async fn failures_count_once_by_kind() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let keys = KeyRing::generate();
    let store = Arc::new(CountingStore::new());
    let cookie = new_session(&manager(&store, &keys)).await;
    take(&snapshotter);

    // The load fails in the handler; the end of the request answers the
    // error reply without counting the failure again.
    let down = builder(FailingStore::new(), &keys).build().expect("valid");
    let session = down.get(Some(cookie.value()));
    assert!(session.get::<u64>("visits").await.is_err());
    let end = down.finish(&session, 200).await;
    assert_eq!(end.error_reply().map(|reply| reply.status()), Some(503));
    assert_eq!(
        take(&snapshotter),
        expected(
            &[("session_failures_total{kind=unavailable}", 1)],
            &[("load_and_touch", 1)]
        )
    );

    // The save of a new session fails at the end of the request.
    let broken = builder(FailingStore::with_kind(FailureKind::Other), &keys)
        .build()
        .expect("valid");
    let session = broken.start([]);
    session
        .insert("visits", &1)
        .await
        .expect("no load for a new session");
    let end = broken.finish(&session, 200).await;
    assert_eq!(end.error_reply().map(|reply| reply.status()), Some(500));
    assert_eq!(
        take(&snapshotter),
        expected(
            &[("session_failures_total{kind=internal}", 1)],
            &[("create", 1)]
        )
    );

    // Too large to store: internal, and no store call at all.
    let small = builder(Arc::clone(&store), &keys)
        .max_record_bytes(1024)
        .build()
        .expect("valid");
    let session = small.start([]);
    session
        .insert("blob", &"x".repeat(2048))
        .await
        .expect("insert");
    let end = small.finish(&session, 200).await;
    assert_eq!(end.error_reply().map(|reply| reply.status()), Some(500));
    assert_eq!(
        take(&snapshotter),
        expected(&[("session_failures_total{kind=internal}", 1)], &[])
    );
}
