//! The core's store conformance suite, against a real memcached.

use std::time::Duration;

use session_core::conformance;
use session_memcached::MemcachedStore;
use test_memcached::memcached_or_skip;

#[tokio::test(flavor = "multi_thread")]
async fn memcached_store_passes_the_conformance_suite() {
    let server = memcached_or_skip!();
    let spec = server.spec();
    // Whole seconds rounded up, plus one, on a clock that ticks once a second.
    let options = conformance::Options::new().max_ttl_lateness(Duration::from_secs(3));
    conformance::run_with(&options, || async {
        MemcachedStore::from_spec(&spec).expect("valid spec")
    })
    .await;
}
