//! The core's store conformance suite, against a real memcached.

use session_core::conformance;
use session_memcached::MemcachedStore;
use test_memcached::memcached_or_skip;

#[tokio::test(flavor = "multi_thread")]
async fn memcached_store_passes_the_conformance_suite() {
    let server = memcached_or_skip!();
    let spec = server.spec();
    conformance::run(|| async { MemcachedStore::from_spec(&spec).expect("valid spec") }).await;
}
