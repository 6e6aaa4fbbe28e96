//! The store budget: a request's store calls share one deadline, a call that
//! misses it is "unavailable", and a rotation cut short leaves no half of it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use session_core::test_stores::CountingStore;
use session_core::{KeyRing, SessionManager};

const BUDGET: Duration = Duration::from_millis(1000);

fn manager(store: &Arc<CountingStore>) -> SessionManager {
    SessionManager::builder(Arc::clone(store), KeyRing::generate())
        .store_budget(BUDGET)
        .build()
        .expect("valid configuration")
}

async fn stored_session(manager: &SessionManager) -> String {
    let session = manager.start([]);
    session.insert("visits", &1u64).await.expect("insert");
    let end = manager.finish(&session, 200).await;
    let cookie = end.set_cookie().expect("a new session sets a cookie");
    format!("{}={}", cookie.name(), cookie.value())
}

#[tokio::test]
async fn a_slow_store_fails_the_request_within_its_budget() {
    let store = Arc::new(CountingStore::new());
    let manager = manager(&store);
    let cookie = stored_session(&manager).await;
    // A login's four calls would take 1.2 s: the load, the rotation's
    // catch-up load and its claim of the new ID fit in the budget, the delete
    // of the old ID does not.
    store.set_call_delay(Duration::from_millis(300));
    let started = Instant::now();
    let session = manager.start([cookie.as_bytes()]);
    let login = session.login("alice").await;
    let end = manager.finish(&session, 200).await;
    let elapsed = started.elapsed();
    let error = login.expect_err("the budget ran out");
    assert!(error.is_unavailable(), "{error}");
    assert_eq!(end.error_reply().map(|reply| reply.status()), Some(503));
    assert!(
        end.set_cookie().is_none(),
        "no new cookie for a failed login"
    );
    assert!(
        elapsed < BUDGET + Duration::from_millis(300),
        "answered after {elapsed:?}"
    );

    // Nothing half done: the old session is still there, without the login,
    // and no other record holds it.
    store.set_call_delay(Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(600)).await; // the abandoned claim's clean-up
    let again = manager.start([cookie.as_bytes()]);
    assert_eq!(again.get::<u64>("visits").await.expect("load"), Some(1));
    assert_eq!(again.current_user::<String>().await.expect("load"), None);
    assert_eq!(
        store.inner().entry_count(),
        1,
        "the abandoned rotation left a record"
    );
}

#[tokio::test]
async fn the_budget_is_shared_by_the_calls_of_one_request() {
    let store = Arc::new(CountingStore::new());
    let manager = manager(&store);
    let cookie = stored_session(&manager).await;
    store.set_call_delay(Duration::from_millis(600));
    let session = manager.start([cookie.as_bytes()]);
    session.get::<u64>("visits").await.expect("one call fits");
    session.insert("more", &1).await.expect("no call");
    let started = Instant::now();
    // The save would end at 1.2 s: it misses the deadline at 1 s.
    let end = manager.finish(&session, 200).await;
    assert_eq!(end.error_reply().map(|reply| reply.status()), Some(503));
    assert!(started.elapsed() < Duration::from_millis(700));
}
