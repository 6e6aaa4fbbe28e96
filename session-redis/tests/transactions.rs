//! Transactions on a real Redis server and a Redis Cluster, from one process and from two (two
//! managers sharing the server): counted exactly, with no failure while the
//! server is healthy.

use std::collections::HashSet;
use std::sync::Arc;

use session_core::{Error, KeyRing, Session, SessionData, SessionManager, Store};
use session_redis::RedisStore;
use test_redis::{cluster_or_skip, redis_or_skip};

const REQUESTS: usize = 128;

/// Managers with one key ring, each on its own store client: separate
/// processes as far as the server can tell.
fn managers(spec: &str, count: usize) -> Vec<SessionManager> {
    let keys = KeyRing::generate();
    (0..count)
        .map(|_| {
            let store: Arc<dyn Store> = Arc::new(RedisStore::from_spec(spec).expect("valid spec"));
            SessionManager::builder(store, keys.clone())
                .build()
                .expect("valid configuration")
        })
        .collect()
}

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

async fn increments_are_exact(spec: &str, processes: usize) {
    let managers = managers(spec, processes);
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
    assert_eq!(distinct, (1..=REQUESTS as u64).collect());
    let last = open(&managers[0], &cookie).get::<u64>("visits").await;
    assert_eq!(last.expect("read"), Some(REQUESTS as u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn increments_from_one_process_are_exact() {
    let server = redis_or_skip!();
    increments_are_exact(&server.spec(), 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn increments_from_two_processes_are_exact() {
    let server = redis_or_skip!();
    increments_are_exact(&server.spec(), 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn increments_from_two_processes_on_a_cluster_are_exact() {
    let cluster = cluster_or_skip!(3);
    increments_are_exact(&cluster.spec(), 2).await;
}

async fn preferences_all_persist(processes: usize) {
    let server = redis_or_skip!();
    let managers = managers(&server.spec(), processes);
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
    assert_eq!(keys.iter().filter(|k| k.starts_with("pref:")).count(), 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_preferences_from_one_process_all_persist() {
    preferences_all_persist(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_preferences_from_two_processes_all_persist() {
    preferences_all_persist(2).await;
}
