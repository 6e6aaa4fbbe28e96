//! Criterion benches of the core's hot paths (filled in below).
fn main() {}
