//! Checks of concurrent and cancelled calls: independent writers, racing
//! creates, deletes racing touches, compare-and-set, calls dropped midway.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{Options, TTL, bytes_of, version_of};
use crate::store::{SaveOutcome, Store};

pub(super) async fn concurrent_independent_keys(store: Arc<dyn Store>, options: &Options) {
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let store = Arc::clone(&store);
            let key = options.key("concurrent");
            tokio::spawn(async move {
                for round in 0..5u32 {
                    let value = format!("{task}:{round}").into_bytes();
                    store
                        .save(&key, &value, TTL, None)
                        .await
                        .expect("concurrent save");
                    assert_eq!(
                        bytes_of(&*store, &key).await,
                        Some(value),
                        "concurrent read saw another task's value"
                    );
                }
                assert!(store.delete(&key).await.expect("concurrent delete"));
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("concurrent task panicked");
    }
}

/// `create` is atomic: of many creates racing on one free key exactly one
/// claims it, and the record holds that one's value.
pub(super) async fn racing_creates(store: Arc<dyn Store>, options: &Options) {
    const RACERS: usize = 16;
    for _ in 0..8 {
        let key = Arc::new(options.key("racing-create"));
        let start = Arc::new(tokio::sync::Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|racer| {
                let (store, key, start) =
                    (Arc::clone(&store), Arc::clone(&key), Arc::clone(&start));
                tokio::spawn(async move {
                    let value = format!("racer {racer}").into_bytes();
                    start.wait().await;
                    let claimed = store.create(&key, &value, TTL).await.expect("create");
                    claimed.map(|version| (value, version))
                })
            })
            .collect();
        let mut winners = Vec::new();
        for racer in racers {
            winners.extend(racer.await.expect("racer panicked"));
        }
        assert_eq!(
            winners.len(),
            1,
            "racing creates of one key: exactly one must claim it (create must check and write \
             in one step)"
        );
        let (value, version) = &winners[0];
        let stored = store.load(&key).await.expect("load").expect("claimed");
        assert_eq!(
            (&stored.bytes, stored.version),
            (value, *version),
            "the key must hold the winner's record"
        );
    }
}

/// A delete racing touches of the same record must stay deleted: a touch
/// that read the record before the delete must not write it back.
pub(super) async fn delete_beats_concurrent_touches(store: Arc<dyn Store>, options: &Options) {
    for _ in 0..20 {
        let key = Arc::new(options.key("delete-race"));
        store
            .create(&key, b"x", TTL)
            .await
            .expect("create")
            .expect("free key");
        // Counts touches; the toucher stops when it reads `usize::MAX`.
        let touches = Arc::new(AtomicUsize::new(0));
        let toucher = {
            let (store, key, touches) =
                (Arc::clone(&store), Arc::clone(&key), Arc::clone(&touches));
            tokio::spawn(async move {
                while touches.fetch_add(1, Ordering::SeqCst) != usize::MAX {
                    store
                        .load_and_touch(&key, TTL)
                        .await
                        .expect("load_and_touch");
                    store.touch(&key, TTL).await.expect("touch");
                    // A store whose calls never wait (an in-memory one) must
                    // not keep this loop from letting the deleter run.
                    tokio::task::yield_now().await;
                }
            })
        };
        while touches.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        assert!(
            store.delete(&key).await.expect("delete"),
            "delete missed a live record"
        );
        touches.store(usize::MAX, Ordering::SeqCst);
        toucher.await.expect("toucher task panicked");
        assert!(
            store.load(&key).await.expect("load").is_none(),
            "a touch brought a deleted record back"
        );
    }
}

pub(super) async fn compare_and_set(store: &dyn Store, options: &Options) {
    let key = options.key("cas");
    let v1 = store
        .create(&key, b"v1", TTL)
        .await
        .expect("create")
        .expect("free key");
    let SaveOutcome::Saved(v2) = store.save(&key, b"v2", TTL, Some(v1)).await.expect("save") else {
        panic!("compare-and-set with the current version must write");
    };
    assert_eq!(
        store
            .save(&key, b"stale", TTL, Some(v1))
            .await
            .expect("save"),
        SaveOutcome::Conflict,
        "compare-and-set with a stale version must conflict"
    );
    assert_eq!(
        bytes_of(store, &key).await.as_deref(),
        Some(&b"v2"[..]),
        "a conflicting save wrote"
    );

    store.touch(&key, TTL).await.expect("touch");
    assert!(
        matches!(
            store.save(&key, b"v3", TTL, Some(v2)).await.expect("save"),
            SaveOutcome::Saved(_)
        ),
        "a touch must not invalidate the version"
    );

    let current = version_of(store, &key).await.expect("record missing");
    store.delete(&key).await.expect("delete");
    assert_eq!(
        store
            .save(&key, b"revived", TTL, Some(current))
            .await
            .expect("save"),
        SaveOutcome::Gone,
        "compare-and-set on a deleted record must answer Gone"
    );
    assert!(
        store.load(&key).await.expect("load").is_none(),
        "a Gone save brought the record back"
    );
}

pub(super) async fn concurrent_compare_and_set(store: Arc<dyn Store>, options: &Options) {
    const TASKS: u64 = 8;
    const INCREMENTS: u64 = 5;
    let key = Arc::new(options.key("cas-counter"));
    store
        .create(&key, &0u64.to_be_bytes(), TTL)
        .await
        .expect("create")
        .expect("free key");
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (store, key) = (Arc::clone(&store), Arc::clone(&key));
            tokio::spawn(async move {
                for _ in 0..INCREMENTS {
                    loop {
                        let loaded = store
                            .load(&key)
                            .await
                            .expect("load")
                            .expect("counter missing");
                        let count = u64::from_be_bytes(loaded.bytes.try_into().expect("8 bytes"));
                        let next = (count + 1).to_be_bytes();
                        match store
                            .save(&key, &next, TTL, Some(loaded.version))
                            .await
                            .expect("save")
                        {
                            SaveOutcome::Saved(_) => break,
                            SaveOutcome::Conflict => tokio::task::yield_now().await,
                            SaveOutcome::Gone => panic!("counter vanished"),
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("counter task panicked");
    }
    let bytes = bytes_of(&*store, &key).await.expect("counter missing");
    let count = u64::from_be_bytes(bytes.try_into().expect("8 bytes"));
    assert_eq!(count, TASKS * INCREMENTS, "compare-and-set lost updates");
}

/// The core drops a store call when the request's budget runs out, at any
/// point of its exchange. Whatever the call left behind (a half-written
/// request, an unread answer on a pooled connection), later calls must get
/// their own answers.
pub(super) async fn cancelled_calls_leave_the_store_usable(store: &dyn Store, options: &Options) {
    let (big, small) = (options.key("cancel-big"), options.key("cancel-small"));
    let value = |round: u8| vec![round; 64 * 1024];
    store.save(&small, b"small", TTL, None).await.expect("save");
    for round in 0..40u8 {
        // Cut each call sooner or later into its exchange.
        let cut = Duration::from_micros(u64::from(round) * 50);
        let _ = tokio::time::timeout(cut, store.save(&big, &value(round), TTL, None)).await;
        let _ = tokio::time::timeout(cut, store.load(&big)).await;
        let _ = tokio::time::timeout(cut, store.load_and_touch(&small, TTL)).await;
    }
    for round in 0..10u8 {
        store
            .save(&big, &value(round), TTL, None)
            .await
            .expect("a save after cancelled calls");
        assert_eq!(
            bytes_of(store, &big).await,
            Some(value(round)),
            "after cancelled calls, a load answered another call's value"
        );
        assert_eq!(
            bytes_of(store, &small).await.as_deref(),
            Some(&b"small"[..]),
            "after cancelled calls, a load answered another key's value"
        );
    }
}
