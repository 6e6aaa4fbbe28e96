//! Measures the MemoryStore's memory per session: creates sessions through
//! the manager and reads the process's resident memory before and after.
//!
//! `cargo run --release -p session-core --example memory_footprint [SESSIONS]`
//! (Linux: reads `/proc/self/statm`).

use std::sync::Arc;

use session_core::{KeyRing, MemoryStore, SessionManager};

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sessions: u64 = std::env::args().nth(1).map_or(Ok(100_000), |n| n.parse())?;
    let store = MemoryStore::new();
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
    let held = store.entry_count();
    println!("sessions held: {held}");
    println!(
        "one entry as the store weighs it (key + sealed record + overhead): {record_bytes} bytes"
    );
    println!(
        "resident memory per session: {} bytes",
        (after - before) / held.max(1)
    );
    Ok(())
}
