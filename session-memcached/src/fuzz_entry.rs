//! Entry points into the crate's private parsers, for the fuzz targets in
//! `fuzz/` and the property tests in `tests/`. Not a public API: hidden,
//! behind the `fuzzing` feature.

use crate::config::{self, ConfigError};

/// Reads and checks a spec as `MemcachedStore::from_spec` does, without
/// making the store; answers the servers' canonical addresses.
///
/// # Errors
///
/// What `from_spec` would answer for the spec.
pub fn check_spec(spec: &str) -> Result<Vec<String>, ConfigError> {
    let config = config::parse_spec(spec)?.check()?;
    Ok(config.servers.iter().map(ToString::to_string).collect())
}
