//! Criterion benches of the core's hot paths: cookie signing, record coding,
//! sealing, and a whole request cycle on the MemoryStore.
//!
//! Run with `cargo bench -p session-core`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use session_core::bench_internals::{
    decode_and_encode, encoded_record, seal_and_open, sign_and_verify,
};
use session_core::{KeyRing, MemoryStore, SessionManager};

fn cookie(c: &mut Criterion) {
    let keys = KeyRing::generate();
    c.bench_function("cookie/sign+verify", |b| {
        b.iter(|| assert!(sign_and_verify(black_box(&keys))))
    });
}

fn record(c: &mut Criterion) {
    let keys = KeyRing::generate();
    let encoded = encoded_record(10);
    c.bench_function("record/decode+encode 10 fields", |b| {
        b.iter(|| decode_and_encode(black_box(&encoded)))
    });
    c.bench_function("record/seal+open 10 fields", |b| {
        b.iter(|| seal_and_open(&keys, black_box(&encoded)))
    });
}

fn cycle(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let manager = SessionManager::builder(Arc::new(MemoryStore::new()), KeyRing::generate())
        .build()
        .expect("valid config");
    let cookie = runtime.block_on(async {
        let session = manager.get(None);
        for i in 0..9 {
            session
                .insert(&format!("field_{i}"), &format!("value number {i}"))
                .await
                .expect("insert");
        }
        session.insert("visits", &0u64).await.expect("insert");
        manager
            .set(&session)
            .await
            .expect("set")
            .expect("new session cookie")
    });
    c.bench_function("cycle/get+modify+set (MemoryStore, 10 fields)", |b| {
        b.to_async(&runtime).iter(|| async {
            let session = manager.get(Some(cookie.value()));
            let visits: u64 = session.get("visits").await.expect("get").unwrap_or(0);
            session
                .insert("visits", &(visits + 1))
                .await
                .expect("insert");
            black_box(manager.set(&session).await.expect("set"))
        })
    });
}

criterion_group!(benches, cookie, record, cycle);
criterion_main!(benches);
