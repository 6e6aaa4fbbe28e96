//! The core's store conformance suite, against a real Redis server and a three-node Redis
//! Cluster.

use std::time::Duration;

use session_core::conformance::{self, Options};
use session_redis::RedisStore;
use test_redis::{cluster_or_skip, redis_or_skip};

#[tokio::test(flavor = "multi_thread")]
async fn redis_store_passes_the_conformance_suite() {
    let server = redis_or_skip!();
    let spec = server.spec();
    conformance::run_with(&options(), || async {
        RedisStore::from_spec(&spec).expect("valid spec")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_cluster_store_passes_the_conformance_suite() {
    let cluster = cluster_or_skip!(3);
    let spec = cluster.spec();
    conformance::run_with(&options(), || async {
        RedisStore::from_spec(&spec).expect("valid spec")
    })
    .await;
}

/// Redis keeps TTLs to the millisecond (`PX`, rounded up) and never answers an expired key, so
/// the suite allows only scheduling noise.
fn options() -> Options {
    Options::new().max_ttl_lateness(Duration::from_millis(100))
}
