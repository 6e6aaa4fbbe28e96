//! Turning a session TTL into Redis's `PX` milliseconds.
//!
//! Redis keeps expiry times in milliseconds and treats a key as gone only once the current time
//! is past its expiry, so a key set with `PX n` lives at least `n` ms. The TTL is rounded *up* to
//! whole milliseconds: a record never expires before its TTL, and outlives it by under a
//! millisecond.
//!
//! Redis refuses `PX 0` and an expiry that overflows its 64-bit millisecond clock (`invalid
//! expire time`), so the value sent is at least 1 and at most 2^62 ms (about 146 million years).

use std::time::Duration;

/// The largest `PX` sent: far beyond any session, and far from Redis's overflow check.
const MAX_MILLIS: u64 = 1 << 62;

/// The `PX` value for `ttl`: whole milliseconds, rounded up, between 1 and [`MAX_MILLIS`].
pub(crate) fn millis(ttl: Duration) -> u64 {
    let millis = ttl.as_nanos().div_ceil(1_000_000);
    u64::try_from(millis)
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_MILLIS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_up_to_whole_milliseconds() {
        assert_eq!(millis(Duration::from_secs(1)), 1000);
        assert_eq!(millis(Duration::from_micros(1_200_001)), 1201);
        assert_eq!(millis(Duration::from_nanos(1)), 1);
        assert_eq!(millis(Duration::from_secs(30 * 60)), 1_800_000);
    }

    #[test]
    fn never_sends_zero_or_an_overflowing_expiry() {
        assert_eq!(millis(Duration::ZERO), 1);
        assert_eq!(millis(Duration::MAX), MAX_MILLIS);
        let a_century = Duration::from_secs(100 * 365 * 24 * 3600);
        assert_eq!(millis(a_century), 100 * 365 * 24 * 3600 * 1000);
    }
}
