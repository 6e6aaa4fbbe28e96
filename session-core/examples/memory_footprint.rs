//! Measures the MemoryStore's memory per session: creates sessions through
//! the manager and reads the process's resident memory before and after.
//!
//! `cargo run --release -p session-core --example memory_footprint [SESSIONS [MAX_BYTES]]`
//! (Linux: reads `/proc/self/statm`). With `MAX_BYTES` the store is bounded
//! to it; give a bound smaller than the sessions need to measure a full
//! store that keeps evicting.

use std::sync::Arc;

use session_core::{KeyRing, MemoryStore, SessionManager};

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let sessions: u64 = args.next().map_or(Ok(100_000), |n| n.parse())?;
    let store = match args.next() {
        Some(max_bytes) => MemoryStore::with_max_bytes(max_bytes.parse()?),
        None => MemoryStore::new(),
    };
    let manager = SessionManager::builder(Arc::new(store.clone()), KeyRing::generate()).build()?;
    let before = resident_bytes().ok_or("cannot read /proc/self/statm")?;
    let mut record_bytes = 0;
    for i in 0..sessions {
        // A typical logged-in session: a user name, a counter, a CSRF token.
        let session = manager.get(None);
        session.insert("user_name", &format!("user{i}")).await?;
        session.insert("visits", &1u32).await?;
        session.csrf_token().await?;
        manager.set(&session).await?;
        if i == 0 {
            record_bytes = store.weighted_size();
        }
    }
    let after = resident_bytes().ok_or("cannot read /proc/self/statm")?;
    let held = store.entry_count().max(1);
    println!("sessions created: {sessions}, held: {held}");
    println!(
        "one entry as the store weighs it (key + sealed record + overhead): {record_bytes} bytes"
    );
    println!(
        "weight per session held, as the bound counts it: {} bytes",
        store.weighted_size() / held
    );
    println!(
        "resident memory per session held: {} bytes",
        (after - before) / held
    );
    Ok(())
}
