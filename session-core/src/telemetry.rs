//! Counters and timings through the `metrics` facade, and the one log event
//! per session failure. The application installs an exporter (Prometheus,
//! StatsD, …); without one every call here is a no-op.
//!
//! The names are listed in the crate docs; keep them in step.

use std::future::Future;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, StoreError};

/// Sessions loaded, by `outcome`: `found`, `missing` (no record), `expired`
/// (past the absolute timeout, refused without a store call) or `refused` (a
/// record that does not open, decode or match its cookie).
pub(crate) const LOADED: &str = "sessions_loaded_total";
/// New sessions written to the store for the first time.
pub(crate) const CREATED: &str = "sessions_created_total";
/// Commits of an existing session; a batch of queued writes counts once.
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
/// Store call latency in seconds, by `op`: `load`, `load_many`,
/// `load_and_touch`, `create`, `save`, `delete`.
pub(crate) const STORE_CALL_SECONDS: &str = "session_store_call_seconds";

/// How a load ended, for [`LOADED`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum LoadOutcome {
    Found,
    Missing,
    Expired,
    Refused,
}

/// Literal labels make static metric keys: no allocation per call.
pub(crate) fn loaded(outcome: LoadOutcome) {
    let counter = match outcome {
        LoadOutcome::Found => metrics::counter!(LOADED, "outcome" => "found"),
        LoadOutcome::Missing => metrics::counter!(LOADED, "outcome" => "missing"),
        LoadOutcome::Expired => metrics::counter!(LOADED, "outcome" => "expired"),
        LoadOutcome::Refused => metrics::counter!(LOADED, "outcome" => "refused"),
    };
    counter.increment(1);
}

pub(crate) fn count(name: &'static str) {
    metrics::counter!(name).increment(1);
}

/// A store call, the `op` label of [`STORE_CALL_SECONDS`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum StoreOp {
    Load,
    LoadMany,
    LoadAndTouch,
    Create,
    Save,
    Delete,
}

impl StoreOp {
    fn latency(self) -> metrics::Histogram {
        match self {
            StoreOp::Load => metrics::histogram!(STORE_CALL_SECONDS, "op" => "load"),
            StoreOp::LoadMany => metrics::histogram!(STORE_CALL_SECONDS, "op" => "load_many"),
            StoreOp::LoadAndTouch => {
                metrics::histogram!(STORE_CALL_SECONDS, "op" => "load_and_touch")
            }
            StoreOp::Create => metrics::histogram!(STORE_CALL_SECONDS, "op" => "create"),
            StoreOp::Save => metrics::histogram!(STORE_CALL_SECONDS, "op" => "save"),
            StoreOp::Delete => metrics::histogram!(STORE_CALL_SECONDS, "op" => "delete"),
        }
    }
}

/// Runs one store call, recording its latency under `op`.
pub(crate) async fn timed<T>(
    op: StoreOp,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = call.await;
    op.latency().record(started.elapsed().as_secs_f64());
    result
}

/// The one log event and count of a failure that fails a request: the same
/// fields whatever the framework. Every failure is counted; the log line of
/// each kind is written at most about once a second, with the number of lines
/// held back since, so an outage cannot flood the log.
pub(crate) fn failed(error: &Error, during: &'static str) {
    let kind = error.kind();
    metrics::counter!(FAILURES, "kind" => kind.as_str()).increment(1);
    let throttle = match kind {
        ErrorKind::Unavailable => &THROTTLES[0],
        ErrorKind::Internal => &THROTTLES[1],
    };
    let Some(held_back) = throttle.admit() else {
        return;
    };
    tracing::error!(
        error = error as &(dyn std::error::Error + 'static),
        kind = kind.as_str(),
        during,
        held_back,
        "session {during} failed"
    );
}

/// How often one kind of failure is logged at most.
const LOG_INTERVAL: Duration = Duration::from_secs(1);

static THROTTLES: [Throttle; 2] = [Throttle::new(), Throttle::new()];
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Lets one event through per [`LOG_INTERVAL`] and counts the rest.
struct Throttle {
    /// Milliseconds since [`EPOCH`] before which events are held back.
    next_ms: AtomicU64,
    held_back: AtomicU64,
}

impl Throttle {
    const fn new() -> Self {
        Self {
            next_ms: AtomicU64::new(0),
            held_back: AtomicU64::new(0),
        }
    }

    /// `Some(events held back since the last one let through)`, or `None` to
    /// hold this one back.
    fn admit(&self) -> Option<u64> {
        let now = u64::try_from(EPOCH.elapsed().as_millis()).unwrap_or(u64::MAX);
        let next = self.next_ms.load(Ordering::Relaxed);
        let interval = u64::try_from(LOG_INTERVAL.as_millis()).unwrap_or(u64::MAX);
        if now >= next
            && self
                .next_ms
                .compare_exchange(next, now + interval, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.held_back.swap(0, Ordering::Relaxed));
        }
        self.held_back.fetch_add(1, Ordering::Relaxed);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_logged_once_with_the_count_held_back() {
        let throttle = Throttle::new();
        assert_eq!(throttle.admit(), Some(0));
        for _ in 0..1000 {
            assert_eq!(throttle.admit(), None);
        }
        throttle.next_ms.store(0, Ordering::Relaxed); // a second later
        assert_eq!(throttle.admit(), Some(1000));
    }
}
