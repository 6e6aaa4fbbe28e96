//! Transactions on one session from several processes at once: each process
//! a manager on its own store client, so that only the store orders them.
//! Run against a real server, these prove what the suite's single-client
//! checks cannot: that compare-and-set holds between separate connections.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use crate::data::SessionData;
use crate::error::Error;
use crate::keys::KeyRing;
use crate::manager::SessionManager;
use crate::session::Session;
use crate::store::Store;

/// Requests in flight at once, spread over the processes.
const REQUESTS: usize = 128;

/// 128 concurrent transactions that count a visit on one session, spread
/// over one manager per store in `clients` (one key ring, each its own store
/// client: separate processes as far as the server can tell). Every count
/// from 1 to 128 is answered exactly once, the session ends at 128, and no
/// request fails.
///
/// # Panics
///
/// When a count is lost or repeated, or a request fails.
pub async fn transactions_are_exact(clients: Vec<Arc<dyn Store>>) {
    let managers = managers(clients);
    let cookie = stored_session(&managers[0]).await;
    let answers = at_once(&managers, &cookie, |session, _| async move {
        session
            .transaction(count_visit)
            .await
            .expect("committed")
            .expect("counted")
    })
    .await;
    let distinct: HashSet<u64> = answers.into_iter().collect();
    assert_eq!(
        distinct,
        (1..=REQUESTS as u64).collect(),
        "concurrent transactions lost or repeated a count"
    );
    let last = open(&managers[0], &cookie).get::<u64>("visits").await;
    assert_eq!(last.expect("read"), Some(REQUESTS as u64));
}

/// 128 concurrent transactions on one session, spread over one manager per
/// store in `clients`, each storing one of 64 preferences: all 64 persist.
///
/// # Panics
///
/// When a preference is lost, or a request fails.
pub async fn concurrent_writes_all_persist(clients: Vec<Arc<dyn Store>>) {
    let managers = managers(clients);
    let cookie = stored_session(&managers[0]).await;
    at_once(&managers, &cookie, |session, i| async move {
        let name = format!("pref:{}", i % 64);
        session
            .transaction(move |data| data.insert(&name, &i))
            .await
            .expect("committed")
            .expect("stored");
    })
    .await;
    let keys = open(&managers[0], &cookie).keys().await.expect("keys");
    assert_eq!(
        keys.iter().filter(|k| k.starts_with("pref:")).count(),
        64,
        "a concurrent write was lost"
    );
}

fn managers(clients: Vec<Arc<dyn Store>>) -> Vec<SessionManager> {
    assert!(!clients.is_empty(), "at least one store client");
    let keys = KeyRing::generate();
    clients
        .into_iter()
        .map(|store| {
            SessionManager::builder(store, keys.clone())
                .build()
                .expect("valid configuration")
        })
        .collect()
}

/// A new stored session, as its `Cookie` header pair.
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

/// Runs `REQUESTS` requests at once, spread over `managers`; each runs
/// `work` and must end without an error reply. Answers their results.
async fn at_once<T, F, Fut>(managers: &[SessionManager], cookie: &str, work: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(Session, usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let manager = managers[i % managers.len()].clone();
            let session = open(&manager, cookie);
            let work = work(session.clone(), i);
            tokio::spawn(async move {
                let result = work.await;
                let end = manager.finish(&session, 200).await;
                assert!(end.error_reply().is_none(), "request {i} failed");
                result
            })
        })
        .collect();
    let mut results = Vec::with_capacity(REQUESTS);
    for task in tasks {
        results.push(task.await.expect("request task"));
    }
    results
}
