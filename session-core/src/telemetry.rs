//! Counters and timings through the `metrics` facade, and the one log event
//! per session failure. The application installs an exporter (Prometheus,
//! StatsD, …); without one every call here is a no-op.
//!
//! The names are listed in the crate docs; keep them in step.

use std::future::Future;
use std::time::Instant;

use crate::error::{Error, StoreError};

/// Sessions loaded, by `outcome`: `found`, `missing` (no record), `expired`
/// (past the absolute timeout, refused without a store call) or `refused` (a
/// record that does not open, decode or match its cookie).
pub(crate) const LOADED: &str = "sessions_loaded_total";
/// New sessions written to the store for the first time.
pub(crate) const CREATED: &str = "sessions_created_total";
/// Saves of an existing session that were written.
pub(crate) const SAVED: &str = "sessions_saved_total";
/// Compare-and-set saves that found the record changed by another writer.
pub(crate) const CONFLICTS: &str = "session_save_conflicts_total";
/// Saves tried again after a conflict, on the caught-up record.
pub(crate) const RETRIES: &str = "session_save_retries_total";
/// Session IDs rotated.
pub(crate) const ROTATED: &str = "sessions_rotated_total";
/// Sessions destroyed (logout).
pub(crate) const DESTROYED: &str = "sessions_destroyed_total";
/// Session failures that failed a request, by `kind`: `unavailable` or
/// `internal`.
pub(crate) const FAILURES: &str = "session_failures_total";
/// Store call latency in seconds, by `op`: `load`, `load_and_touch`,
/// `create`, `save`, `delete`.
pub(crate) const STORE_CALL_SECONDS: &str = "session_store_call_seconds";

/// How a load ended, for [`LOADED`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum LoadOutcome {
    Found,
    Missing,
    Expired,
    Refused,
}

pub(crate) fn loaded(outcome: LoadOutcome) {
    let outcome = match outcome {
        LoadOutcome::Found => "found",
        LoadOutcome::Missing => "missing",
        LoadOutcome::Expired => "expired",
        LoadOutcome::Refused => "refused",
    };
    metrics::counter!(LOADED, "outcome" => outcome).increment(1);
}

pub(crate) fn count(name: &'static str) {
    metrics::counter!(name).increment(1);
}

/// Runs one store call, recording its latency under `op`.
pub(crate) async fn timed<T>(
    op: &'static str,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = call.await;
    metrics::histogram!(STORE_CALL_SECONDS, "op" => op).record(started.elapsed().as_secs_f64());
    result
}

/// The one log event and count of a failure that fails a request: the same
/// fields whatever the framework.
pub(crate) fn failed(error: &Error, during: &'static str) {
    let kind = error.kind();
    metrics::counter!(FAILURES, "kind" => kind.as_str()).increment(1);
    tracing::error!(
        error = error as &(dyn std::error::Error + 'static),
        kind = kind.as_str(),
        during,
        "session {during} failed"
    );
}
