//! The MemoryStore passes the store conformance suite every store runs.

use std::time::Duration;

use session_core::{MemoryStore, conformance};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_conforms() {
    // Deadlines are kept to the millisecond, rounded up.
    let options = conformance::Options::new().max_ttl_lateness(Duration::from_millis(20));
    conformance::run_with(&options, || async { MemoryStore::new() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_stays_within_its_bound() {
    let store = MemoryStore::with_max_bytes(1024 * 1024);
    let value = vec![7u8; 1000];
    for i in 0..10_000 {
        session_core::Store::save(
            &store,
            &format!("k{i}"),
            &value,
            std::time::Duration::from_secs(60),
            None,
        )
        .await
        .expect("memory store save");
    }
    // Each entry weighs about 1,465 bytes, so at most ~716 fit in 1 MiB.
    assert!(
        store.entry_count() <= 1_000,
        "{} entries exceed the bound",
        store.entry_count()
    );
    assert!(
        store.entry_count() > 100,
        "the store evicted far more than needed"
    );
}
