//! Transactions: read-modify-write without lost updates, counted exactly.

use std::sync::Arc;
use std::time::Duration;

use session_core::conformance;
use session_core::test_stores::{CountingStore, StoreOp};
use session_core::{Error, KeyRing, MemoryStore, Session, SessionData, SessionManager, Store};

fn manager_on(store: Arc<dyn Store>, keys: &KeyRing) -> SessionManager {
    SessionManager::builder(store, keys.clone())
        .build()
        .expect("valid configuration")
}

/// A stored session holding `user_name`, and its cookie header.
async fn stored_session(manager: &SessionManager) -> String {
    let session = manager.start([]);
    session.insert("user_name", "alice").await.expect("insert");
    let end = manager.finish(&session, 200).await;
    let cookie = end.set_cookie().expect("a new session sets a cookie");
    format!("{}={}", cookie.name(), cookie.value())
}

fn open(manager: &SessionManager, cookie: &str) -> Session {
    manager.start([cookie.as_bytes()])
}

fn count_visit(data: &mut SessionData) -> Result<u64, Error> {
    let visits = data.get::<u64>("visits")?.unwrap_or(0) + 1;
    data.insert("visits", &visits)?;
    Ok(visits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_increments_in_one_process_are_exact_and_never_conflict() {
    let store = Arc::new(CountingStore::new());
    conformance::transactions_are_exact(vec![Arc::clone(&store) as Arc<dyn Store>]).await;
    assert_eq!(store.conflicts(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_increments_across_two_processes_are_exact() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    conformance::transactions_are_exact(vec![Arc::clone(&store), store]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cap_holds_under_concurrency() {
    const CAP: usize = 64;
    let keys = KeyRing::generate();
    let manager = manager_on(Arc::new(MemoryStore::new()), &keys);
    let cookie = stored_session(&manager).await;
    let tasks: Vec<_> = (0..2 * CAP)
        .map(|i| {
            let (manager, cookie) = (manager.clone(), cookie.clone());
            tokio::spawn(async move {
                let session = open(&manager, &cookie);
                let added = session
                    .transaction(move |data| {
                        let prefs = data.keys().filter(|k| k.starts_with("pref:")).count();
                        if prefs >= CAP {
                            return Err("full");
                        }
                        data.insert(&format!("pref:{i}"), "v").map_err(|_| "value")
                    })
                    .await
                    .expect("no session failure");
                assert!(manager.finish(&session, 200).await.error_reply().is_none());
                added.is_ok()
            })
        })
        .collect();
    let mut added = 0;
    for task in tasks {
        added += usize::from(task.await.expect("task"));
    }
    assert_eq!(added, CAP, "exactly as many as fit");
    let keys = open(&manager, &cookie).keys().await.expect("keys");
    assert_eq!(keys.iter().filter(|k| k.starts_with("pref:")).count(), CAP);
}

#[tokio::test]
async fn a_declined_transaction_writes_nothing_and_others_commit() {
    let manager = manager_on(Arc::new(MemoryStore::new()), &KeyRing::generate());
    let cookie = stored_session(&manager).await;
    let (declined, committed) = (open(&manager, &cookie), open(&manager, &cookie));
    let (no, yes) = tokio::join!(
        declined.transaction(|data| {
            data.insert("half", &1).expect("insert");
            Err::<(), _>("changed my mind")
        }),
        committed.transaction(|data| data.insert("done", &1)),
    );
    assert_eq!(no.expect("no failure"), Err("changed my mind"));
    yes.expect("no failure").expect("inserted");
    let keys = open(&manager, &cookie).keys().await.expect("keys");
    assert_eq!(keys, ["done", "user_name"]);
}

#[tokio::test]
async fn a_commit_survives_its_request_being_cancelled() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store) as Arc<dyn Store>, &KeyRing::generate());
    let cookie = stored_session(&manager).await;
    store.set_save_delay(Duration::from_millis(100));
    let cancelled = {
        let (manager, cookie) = (manager.clone(), cookie.clone());
        tokio::spawn(async move { open(&manager, &cookie).transaction(count_visit).await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let waiting = open(&manager, &cookie);
    let behind = tokio::spawn(async move { waiting.transaction(count_visit).await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    cancelled.abort();
    let second = behind
        .await
        .expect("task")
        .expect("committed")
        .expect("counted");
    assert_eq!(second, 2, "the cancelled request's commit stands");
    let visits = open(&manager, &cookie).get::<u64>("visits").await;
    assert_eq!(visits.expect("read"), Some(2));
}

#[tokio::test]
async fn an_ambiguous_write_is_never_retried() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store) as Arc<dyn Store>, &KeyRing::generate());
    let cookie = stored_session(&manager).await;
    store.set_losing_answers(true);
    let saves_before = store.counts().of(StoreOp::Save);
    let session = open(&manager, &cookie);
    let error = session
        .transaction(count_visit)
        .await
        .expect_err("the answer was lost");
    assert!(error.is_unavailable(), "{error}");
    assert_eq!(store.counts().of(StoreOp::Save), saves_before + 1);
    let end = manager.finish(&session, 200).await;
    assert_eq!(end.error_reply().map(|reply| reply.status()), Some(503));
    store.set_losing_answers(false);
    let visits = open(&manager, &cookie).get::<u64>("visits").await;
    assert_eq!(visits.expect("read"), Some(1), "applied exactly once");
}

#[tokio::test]
async fn a_transaction_on_an_ended_session_fails_and_creates_nothing() {
    let manager = manager_on(Arc::new(MemoryStore::new()), &KeyRing::generate());
    let cookie = stored_session(&manager).await;
    let late = open(&manager, &cookie);
    late.get::<u64>("visits")
        .await
        .expect("loaded before the logout");
    let logout = open(&manager, &cookie);
    logout.logout().await.expect("logout");
    let error = late.transaction(count_visit).await.expect_err("ended");
    assert!(matches!(error, Error::Ended), "{error}");
    let end = manager.finish(&late, 200).await;
    assert!(
        end.set_cookie().is_none(),
        "no new session replaces the ended one"
    );
    assert!(open(&manager, &cookie).is_empty().await.expect("load"));
}

#[tokio::test]
async fn a_transaction_commits_only_its_own_changes() {
    let store = Arc::new(MemoryStore::new());
    let manager = manager_on(Arc::clone(&store) as Arc<dyn Store>, &KeyRing::generate());
    let cookie = stored_session(&manager).await;
    let session = open(&manager, &cookie);
    session.insert("blind", &1).await.expect("insert");
    session
        .transaction(count_visit)
        .await
        .expect("ok")
        .expect("ok");
    let elsewhere = open(&manager, &cookie);
    assert_eq!(elsewhere.get::<u64>("visits").await.expect("read"), Some(1));
    assert_eq!(elsewhere.get::<u64>("blind").await.expect("read"), None);
    assert_eq!(session.get::<u64>("blind").await.expect("read"), Some(1));
    assert!(manager.finish(&session, 200).await.error_reply().is_none());
    let after = open(&manager, &cookie);
    assert_eq!(after.get::<u64>("blind").await.expect("read"), Some(1));
    assert_eq!(after.get::<u64>("visits").await.expect("read"), Some(1));
}

#[tokio::test]
async fn a_first_transaction_creates_the_session() {
    let manager = manager_on(Arc::new(MemoryStore::new()), &KeyRing::generate());
    let session = manager.start([]);
    assert_eq!(
        session
            .transaction(count_visit)
            .await
            .expect("ok")
            .expect("ok"),
        1
    );
    let end = manager.finish(&session, 200).await;
    let cookie = end.set_cookie().expect("the new session's cookie");
    let header = format!("{}={}", cookie.name(), cookie.value());
    let again = open(&manager, &header);
    assert_eq!(
        again
            .transaction(count_visit)
            .await
            .expect("ok")
            .expect("ok"),
        2
    );
}
