//! The `Cookie` request header as the manager reads it: arbitrary header
//! bytes never panic, every value found sits in the header under the name,
//! and a genuinely signed cookie among arbitrary others is found intact.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use session_core::KeyRing;
use session_core::fuzz_entry::{CookieFields, cookie_values, read_cookie, sign_cookie};

/// A ring of two keys, so cookies of the old key are read too.
static KEYS: LazyLock<KeyRing> =
    LazyLock::new(|| KeyRing::from_secrets([[7u8; 32], [9u8; 32]]).expect("valid secrets"));

/// The names the manager uses by default, and one arbitrary name.
const NAMES: [&str; 2] = ["session", "__Host-session"];

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    /// The request's `Cookie` headers.
    headers: Vec<&'a [u8]>,
    /// Another cookie name to look for.
    name: &'a str,
    /// A cookie signed for real, put first in the first header.
    signed: Option<([u8; 32], u64, u8)>,
}

fuzz_target!(|input: Input<'_>| {
    for name in NAMES.into_iter().chain([input.name]) {
        for header in &input.headers {
            for value in cookie_values(header, name) {
                // A value is a slice of its header, trimmed of ASCII spaces.
                assert!(value.trim_ascii() == value);
                assert!(!value.contains(&b';'));
            }
        }
        // Nothing unsigned verifies.
        assert_eq!(read_cookie(&KEYS, &input.headers, name), None);
    }
    if let Some((id, created_at_ms, flags)) = input.signed {
        let fields = CookieFields {
            id,
            created_at_ms,
            stored: flags & 1 != 0,
            logged_in: flags & 2 != 0,
            announced: flags & 4 != 0,
        };
        let mut first = format!("session={};", sign_cookie(&KEYS, fields)).into_bytes();
        first.extend_from_slice(input.headers.first().copied().unwrap_or_default());
        let headers: Vec<&[u8]> = std::iter::once(first.as_slice())
            .chain(input.headers.iter().skip(1).copied())
            .collect();
        assert_eq!(read_cookie(&KEYS, &headers, "session"), Some(fields));
    }
});
