//! Time arithmetic: the wall clock in milliseconds, the time a session has
//! left before its absolute timeout, and the TTL its record gets.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::codec::Record;
use crate::manager::Config;

/// Milliseconds since the Unix epoch.
pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// The time left before the absolute timeout, rounded up to whole seconds
/// (so a live session never reads as zero), or `None` once it has passed.
pub(super) fn time_left(config: &Config, created_at_ms: u64, now_ms: u64) -> Option<Duration> {
    let absolute = u64::try_from(config.absolute_timeout.as_millis()).unwrap_or(u64::MAX);
    let left_ms = created_at_ms
        .saturating_add(absolute)
        .saturating_sub(now_ms);
    (left_ms > 0).then(|| Duration::from_secs(left_ms.div_ceil(1_000)))
}

/// The TTL to give the store for `record`: its idle timeout (the anonymous
/// one without a login), cut short by the absolute one, and at least a second
/// (stores count in whole seconds). A record may so outlive its absolute
/// timeout by up to a second; the check on every load refuses it all the
/// same, so a session never lives longer, nor ends early.
pub(super) fn ttl(config: &Config, record: &Record, now_ms: u64) -> Option<Duration> {
    let logged_in = record.data.contains_key(&config.login.user_key);
    load_ttl(config, record.created_at_ms, now_ms, logged_in)
}

/// The idle timeout of a session without a login, never longer than the
/// idle timeout of all sessions.
pub(super) fn anonymous_idle_timeout(config: &Config) -> Duration {
    config.anonymous_idle_timeout.min(config.idle_timeout)
}

/// How long a cookie naming a session without a record stays valid: the
/// anonymous idle timeout from the session's creation (there is no record
/// whose TTL could enforce idleness), within the absolute timeout. `None`
/// once it has passed.
pub(super) fn unstored_time_left(
    config: &Config,
    created_at_ms: u64,
    now_ms: u64,
) -> Option<Duration> {
    let window = u64::try_from(anonymous_idle_timeout(config).as_millis()).unwrap_or(u64::MAX);
    let left_ms = created_at_ms.saturating_add(window).saturating_sub(now_ms);
    let left = (left_ms > 0).then(|| Duration::from_secs(left_ms.div_ceil(1_000)))?;
    time_left(config, created_at_ms, now_ms).map(|absolute| absolute.min(left))
}

/// The TTL a load refreshes: the idle timeout for a logged-in session, the
/// anonymous one otherwise, cut short by the absolute timeout.
pub(super) fn load_ttl(
    config: &Config,
    created_at_ms: u64,
    now_ms: u64,
    logged_in: bool,
) -> Option<Duration> {
    let idle = if logged_in {
        config.idle_timeout
    } else {
        anonymous_idle_timeout(config)
    };
    time_left(config, created_at_ms, now_ms).map(|left| left.min(idle))
}
