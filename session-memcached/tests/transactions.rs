//! Transactions on a real memcached, from one process and from two (two
//! managers, each on its own client of the server): counted exactly, with no
//! failure while the server is healthy. The checks are the conformance
//! suite's, on clients of this server.

use std::sync::Arc;

use session_core::{Store, conformance};
use session_memcached::MemcachedStore;
use test_memcached::memcached_or_skip;

/// `count` clients of the server at `spec`.
fn clients(spec: &str, count: usize) -> Vec<Arc<dyn Store>> {
    (0..count)
        .map(|_| Arc::new(MemcachedStore::from_spec(spec).expect("valid spec")) as Arc<dyn Store>)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn increments_from_one_process_are_exact() {
    let server = memcached_or_skip!();
    conformance::transactions_are_exact(clients(&server.spec(), 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn increments_from_two_processes_are_exact() {
    let server = memcached_or_skip!();
    conformance::transactions_are_exact(clients(&server.spec(), 2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_preferences_from_one_process_all_persist() {
    let server = memcached_or_skip!();
    conformance::concurrent_writes_all_persist(clients(&server.spec(), 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_preferences_from_two_processes_all_persist() {
    let server = memcached_or_skip!();
    conformance::concurrent_writes_all_persist(clients(&server.spec(), 2)).await;
}
