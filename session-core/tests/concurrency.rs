//! Concurrent requests on one session: no lost updates, and logouts win.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{holds_nothing, manager_on, saved_session, user_name};
use session_core::test_stores::CountingStore;

/// Twenty requests load the same session, each changes its own key, and all
/// save at once: every change must persist.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_writers_of_different_keys_all_persist() {
    let store = Arc::new(CountingStore::new());
    // Two managers on one store: two processes, whose writes can conflict
    // (one manager orders its own writers), so the merge is exercised.
    let managers = [
        manager_on(Arc::clone(&store)),
        manager_on(Arc::clone(&store)),
    ];
    let manager = managers[0].clone();
    let cookie = saved_session(&manager, &[("user_name", "alice")]).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(20));

    let writers: Vec<_> = (0..20)
        .map(|i| {
            let (manager, barrier, value) = (
                managers[i % 2].clone(),
                Arc::clone(&barrier),
                cookie.value().to_owned(),
            );
            tokio::spawn(async move {
                let session = manager.get(Some(&value));
                session
                    .insert(&format!("pref:{i}"), &i)
                    .await
                    .expect("insert");
                barrier.wait().await;
                manager.set(&session).await.expect("every writer succeeds")
            })
        })
        .collect();
    for writer in writers {
        let resent = writer.await.expect("writer");
        // The cookie's value and Max-Age (time left until the absolute
        // timeout) do not change with a write, so none is sent.
        assert!(resent.is_none(), "a write re-sent the cookie");
    }

    let session = manager.get(Some(cookie.value()));
    for i in 0..20 {
        assert_eq!(
            session.get::<i32>(&format!("pref:{i}")).await.expect("get"),
            Some(i),
            "pref:{i} was lost"
        );
    }
    assert_eq!(user_name(&session).await.as_deref(), Some("alice"));
    assert!(
        store.conflicts() > 0,
        "the writers never conflicted: the merge went untested"
    );
}

/// Two requests write the same key: the result is one of the two values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_written_twice_keeps_one_whole_value() {
    let manager = manager_on(Arc::new(CountingStore::new()));
    let cookie = saved_session(&manager, &[("user_name", "alice")]).await;
    let (a, b) = (
        manager.get(Some(cookie.value())),
        manager.get(Some(cookie.value())),
    );
    a.insert("theme", &vec!["dark"; 50]).await.expect("insert");
    b.insert("theme", &vec!["light"; 50]).await.expect("insert");
    let (ra, rb) = tokio::join!(manager.set(&a), manager.set(&b));
    ra.expect("a saves");
    rb.expect("b saves");
    let theme: Vec<String> = manager
        .get(Some(cookie.value()))
        .get("theme")
        .await
        .expect("get")
        .expect("set");
    assert!(
        theme == vec!["dark"; 50] || theme == vec!["light"; 50],
        "a mix of two writes: {theme:?}"
    );
}

/// Slow writers that loaded the session before a logout must not bring it
/// back when they finally save.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_racing_slow_writers_leaves_the_session_destroyed() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let cookie = saved_session(&manager, &[("user_name", "alice")]).await;

    let writers: Vec<_> = (0..5).map(|_| manager.get(Some(cookie.value()))).collect();
    for (i, writer) in writers.iter().enumerate() {
        writer
            .insert(&format!("late:{i}"), &i)
            .await
            .expect("insert");
    }
    store.set_save_delay(Duration::from_millis(50));

    let logout = manager.get(Some(cookie.value()));
    logout.destroy().await.expect("destroy");
    assert!(
        manager
            .set(&logout)
            .await
            .expect("set")
            .expect("removal")
            .is_removal()
    );

    let saves: Vec<_> = writers
        .into_iter()
        .map(|writer| {
            let manager = manager.clone();
            tokio::spawn(async move { manager.set(&writer).await })
        })
        .collect();
    for save in saves {
        let result = save.await.expect("writer task");
        assert!(
            result.expect("a dropped write is not an error").is_none(),
            "a late writer must not set a cookie"
        );
    }
    assert!(
        holds_nothing(&manager, cookie.value()).await,
        "the logout must win"
    );
    let key_count = store.written_keys().len();
    assert_eq!(
        key_count, 1,
        "no write may create a record under another key"
    );
}

/// A store without compare-and-set gets last-write-wins: the cost of not
/// supporting it, documented on `Store::supports_compare_and_set`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_compare_and_set_the_last_write_wins() {
    let store = Arc::new(CountingStore::new().without_compare_and_set());
    // Two managers on one store and key ring: two processes of one app.
    let (one, other) = (
        manager_on(Arc::clone(&store)),
        manager_on(Arc::clone(&store)),
    );
    let cookie = saved_session(&one, &[("user_name", "alice")]).await;
    let (first, second) = (
        one.get(Some(cookie.value())),
        other.get(Some(cookie.value())),
    );
    first.insert("a", &1).await.expect("insert");
    second.insert("b", &2).await.expect("insert");
    one.set(&first).await.expect("first saves");
    other.set(&second).await.expect("second saves");
    let session = one.get(Some(cookie.value()));
    assert_eq!(
        session.keys().await.expect("keys"),
        ["b", "user_name"],
        "across processes the second write replaced the record, losing a"
    );

    // Within one process the manager orders the writers: both persist, even
    // without compare-and-set.
    let (first, second) = (one.get(Some(cookie.value())), one.get(Some(cookie.value())));
    first.insert("c", &3).await.expect("insert");
    second.insert("d", &4).await.expect("insert");
    one.set(&first).await.expect("first saves");
    one.set(&second).await.expect("second saves");
    let session = one.get(Some(cookie.value()));
    assert_eq!(
        session.keys().await.expect("keys"),
        ["b", "c", "d", "user_name"]
    );
}
