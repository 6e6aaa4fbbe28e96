//! Turning a session TTL into memcached's expiry field.
//!
//! memcached reads its expiry in whole seconds with three traps:
//!
//! - `0` means "never expires", so a TTL must never round down to it;
//! - anything above 30 days is read as an absolute Unix time, so a longer TTL must be sent as one;
//! - its clock ticks in whole seconds and is read at an arbitrary point of the current second, so
//!   an item stored for 2 s can be gone 1.2 s later.
//!
//! Hence the rule: round the TTL up to whole seconds and add one. A session may outlive its
//! timeout by up to about a second, and never expires early.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest expiry memcached reads as relative seconds.
const MAX_RELATIVE: u64 = 30 * 24 * 60 * 60;

/// The expiry value to send for `ttl`, at wall-clock time `now`. Never 0.
pub(crate) fn expiry(ttl: Duration, now: SystemTime) -> u32 {
    let seconds = ttl
        .as_secs()
        .saturating_add(u64::from(ttl.subsec_nanos() > 0))
        .saturating_add(1);
    let value = if seconds <= MAX_RELATIVE {
        seconds
    } else {
        // Flooring `now` is safe: `seconds` already carries the extra second.
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        now.saturating_add(seconds)
    };
    // memcached reads the expiry as a signed 32-bit number: anything above
    // `i32::MAX` (January 2038) would expire the item at once. The farthest
    // expiry it reads correctly is the closest we can do.
    u32::try_from(value.min(MAX_EXPIRY)).unwrap_or(u32::MAX)
}

/// The largest expiry memcached reads as intended: `i32::MAX`.
const MAX_EXPIRY: u64 = i32::MAX as u64;

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn at_now(ttl: Duration) -> u32 {
        expiry(ttl, UNIX_EPOCH + Duration::from_secs(NOW))
    }

    #[test]
    fn rounds_up_and_adds_a_second() {
        assert_eq!(at_now(Duration::from_secs(1)), 2);
        assert_eq!(at_now(Duration::from_millis(1200)), 3);
        assert_eq!(at_now(Duration::from_secs(1800)), 1801);
        assert_eq!(at_now(Duration::from_nanos(1)), 2);
    }

    #[test]
    fn never_sends_zero() {
        assert_eq!(at_now(Duration::ZERO), 1);
    }

    #[test]
    fn long_ttls_become_absolute_times() {
        let just_relative = Duration::from_secs(MAX_RELATIVE - 1);
        assert_eq!(u64::from(at_now(just_relative)), MAX_RELATIVE);
        let thirty_days = Duration::from_secs(MAX_RELATIVE);
        assert_eq!(u64::from(at_now(thirty_days)), NOW + MAX_RELATIVE + 1);
        let a_year = Duration::from_secs(365 * 24 * 3600);
        assert_eq!(u64::from(at_now(a_year)), NOW + 365 * 24 * 3600 + 1);
    }

    #[test]
    fn the_farthest_expiry_stays_within_a_signed_32_bit_time() {
        assert_eq!(u64::from(at_now(Duration::MAX)), MAX_EXPIRY);
        let past_2038 = Duration::from_secs(MAX_EXPIRY - NOW + 100);
        assert_eq!(u64::from(at_now(past_2038)), MAX_EXPIRY);
    }
}
