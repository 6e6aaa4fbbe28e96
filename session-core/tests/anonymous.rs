//! Sessions without data have no record: their CSRF token needs no storage,
//! so an anonymous visitor who only opens a form costs no store write.

use std::sync::Arc;
use std::time::Duration;

use session_core::{KeyRing, MemoryStore, RequestEnd, Session, SessionManager};

const ABSOLUTE: Duration = Duration::from_secs(3600);

fn manager_on(store: &Arc<MemoryStore>, keys: KeyRing, anonymous: Duration) -> SessionManager {
    SessionManager::builder(Arc::clone(store), keys)
        .absolute_timeout(ABSOLUTE)
        .anonymous_idle_timeout(anonymous)
        .build()
        .expect("valid configuration")
}

fn header(end: &RequestEnd) -> String {
    let cookie = end.set_cookie().expect("a cookie");
    format!("{}={}", cookie.name(), cookie.value())
}

fn open(manager: &SessionManager, cookie: &str) -> Session {
    manager.start([cookie.as_bytes()])
}

/// A first visit that only shows a form: its cookie and token.
async fn form_visit(manager: &SessionManager) -> (String, String) {
    let session = manager.start([]);
    let token = session.csrf_token().await.expect("token");
    let end = manager.finish(&session, 200).await;
    (header(&end), token)
}

#[tokio::test]
async fn a_form_visit_writes_nothing_and_its_token_survives_the_first_write() {
    let store = Arc::new(MemoryStore::new());
    let manager = manager_on(&store, KeyRing::generate(), Duration::from_secs(600));
    let (cookie, token) = form_visit(&manager).await;
    assert_eq!(
        store.entry_count(),
        0,
        "a session without data is not stored"
    );

    let again = open(&manager, &cookie);
    assert_eq!(again.csrf_token().await.expect("token"), token);
    let end = manager.finish(&again, 200).await;
    assert!(end.set_cookie().is_none(), "nothing changed");
    assert_eq!(store.entry_count(), 0);

    // A first write in another tab stores the session under the same ID.
    let write = open(&manager, &cookie);
    write.insert("visits", &1).await.expect("insert");
    let end = manager.finish(&write, 200).await;
    let stored_cookie = header(&end);
    assert_eq!(store.entry_count(), 1);
    for cookie in [&cookie, &stored_cookie] {
        let session = open(&manager, cookie);
        assert!(
            session.verify_csrf(&token).await.expect("verify"),
            "the open form still submits"
        );
        assert_eq!(session.get::<u64>("visits").await.expect("read"), Some(1));
    }
}

#[tokio::test]
async fn the_first_visit_starts_the_absolute_timeout() {
    let store = Arc::new(MemoryStore::new());
    let manager = manager_on(&store, KeyRing::generate(), Duration::from_secs(600));
    let (cookie, _) = form_visit(&manager).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let write = open(&manager, &cookie);
    write.insert("visits", &1).await.expect("insert");
    let end = manager.finish(&write, 200).await;
    let max_age = end.set_cookie().and_then(|c| c.max_age()).expect("Max-Age");
    assert!(
        max_age < ABSOLUTE,
        "counted from the first visit: {max_age:?}"
    );
}

#[tokio::test]
async fn a_cookie_without_a_record_lives_no_longer_than_the_anonymous_timeout() {
    let store = Arc::new(MemoryStore::new());
    let manager = manager_on(&store, KeyRing::generate(), Duration::from_secs(1));
    let session = manager.start([]);
    let token = session.csrf_token().await.expect("token");
    let end = manager.finish(&session, 200).await;
    assert_eq!(
        end.set_cookie().and_then(|c| c.max_age()),
        Some(Duration::from_secs(1))
    );
    let cookie = header(&end);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let late = open(&manager, &cookie);
    assert!(!late.verify_csrf(&token).await.expect("verify"), "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_writes_land_in_one_session() {
    let store = Arc::new(MemoryStore::new());
    let manager = manager_on(&store, KeyRing::generate(), Duration::from_secs(600));
    let (cookie, _) = form_visit(&manager).await;
    let writes: Vec<_> = (0..16)
        .map(|i| {
            let (manager, cookie) = (manager.clone(), cookie.clone());
            tokio::spawn(async move {
                let session = open(&manager, &cookie);
                session
                    .insert(&format!("pref:{i}"), &i)
                    .await
                    .expect("insert");
                let end = manager.finish(&session, 200).await;
                assert!(end.error_reply().is_none());
            })
        })
        .collect();
    for write in writes {
        write.await.expect("write");
    }
    assert_eq!(store.entry_count(), 1, "one session, not one each");
    let keys = open(&manager, &cookie).keys().await.expect("keys");
    assert_eq!(keys.len(), 16, "{keys:?}");
}
