//! The signed cookie value: arbitrary bytes never panic and never verify; a
//! signed value verifies to exactly what was signed, under the current key
//! and under a ring that has since rotated it to old; any change to one
//! character of it is rejected.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use session_core::KeyRing;
use session_core::fuzz_entry::{COOKIE_VALUE_LEN, CookieFields, sign_cookie, verify_cookie};

static KEYS: LazyLock<KeyRing> =
    LazyLock::new(|| KeyRing::from_secrets([[7u8; 32]]).expect("valid secrets"));
/// The same key, now the older one.
static ROTATED: LazyLock<KeyRing> =
    LazyLock::new(|| KeyRing::from_secrets([[8u8; 32], [7u8; 32]]).expect("valid secrets"));

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    garbage: &'a [u8],
    id: [u8; 32],
    created_at_ms: u64,
    flags: u8,
    /// Where to change the signed value, and to what.
    tamper: (u8, u8),
}

fuzz_target!(|input: Input<'_>| {
    assert_eq!(verify_cookie(&KEYS, input.garbage), None);
    assert_eq!(verify_cookie(&ROTATED, input.garbage), None);

    let fields = CookieFields {
        id: input.id,
        created_at_ms: input.created_at_ms,
        stored: input.flags & 1 != 0,
        logged_in: input.flags & 2 != 0,
        announced: input.flags & 4 != 0,
    };
    let value = sign_cookie(&KEYS, fields);
    assert_eq!(value.len(), COOKIE_VALUE_LEN);
    assert_eq!(
        verify_cookie(&KEYS, value.as_bytes()),
        Some((fields, false))
    );
    assert_eq!(
        verify_cookie(&ROTATED, value.as_bytes()),
        Some((fields, true))
    );

    let mut tampered = value.into_bytes();
    let (at, byte) = input.tamper;
    let at = usize::from(at) % tampered.len();
    if tampered[at] != byte {
        tampered[at] = byte;
        assert_eq!(verify_cookie(&KEYS, &tampered), None);
    }
});
