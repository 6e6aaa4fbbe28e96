//! Properties of reading the session cookie from `Cookie` headers: arbitrary
//! headers and values never panic and never verify; a signed cookie is found
//! among arbitrary other cookies and verifies to exactly what was signed;
//! changing any one character of it is rejected.

use std::sync::LazyLock;

use proptest::prelude::*;
use session_core::KeyRing;
use session_core::fuzz_entry::{
    COOKIE_VALUE_LEN, CookieFields, cookie_values, read_cookie, sign_cookie, verify_cookie,
};

static KEYS: LazyLock<KeyRing> =
    LazyLock::new(|| KeyRing::from_secrets([[7u8; 32], [9u8; 32]]).expect("valid secrets"));

fn fields() -> impl Strategy<Value = CookieFields> {
    (any::<[u8; 32]>(), any::<u64>(), any::<[bool; 3]>()).prop_map(
        |(id, created_at_ms, [stored, logged_in, announced])| CookieFields {
            id,
            created_at_ms,
            stored,
            logged_in,
            announced,
        },
    )
}

/// Other cookies: arbitrary names and values without the separators.
fn other_cookies() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(("[a-zA-Z0-9_-]{1,12}", "[^;]{0,40}"), 0..6)
}

proptest! {
    #[test]
    fn arbitrary_headers_never_panic_and_never_verify(
        headers in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..4),
    ) {
        let headers: Vec<&[u8]> = headers.iter().map(Vec::as_slice).collect();
        for header in &headers {
            for value in cookie_values(header, "session") {
                prop_assert_eq!(value.trim_ascii(), value);
                prop_assert!(!value.contains(&b';'));
            }
        }
        prop_assert_eq!(read_cookie(&KEYS, &headers, "session"), None);
    }

    #[test]
    fn values_shaped_like_cookies_never_verify(value in "[A-Za-z0-9_-]{98}") {
        prop_assert_eq!(value.len(), COOKIE_VALUE_LEN);
        prop_assert_eq!(verify_cookie(&KEYS, value.as_bytes()), None);
    }

    #[test]
    fn a_signed_cookie_is_found_among_others(
        fields in fields(),
        before in other_cookies(),
        after in other_cookies(),
        spaces in "[ \t]{0,2}",
    ) {
        let others = |cookies: &[(String, String)]| {
            cookies.iter().map(|(n, v)| format!("{n}={v}; ")).collect::<String>()
        };
        let header = format!(
            "{}session{spaces}={spaces}{}{spaces}; {}",
            others(&before),
            sign_cookie(&KEYS, fields),
            others(&after)
        );
        // An arbitrary cookie named `session` before ours does not verify and
        // does not hide it.
        prop_assert_eq!(read_cookie(&KEYS, &[header.as_bytes()], "session"), Some(fields));
        prop_assert_eq!(read_cookie(&KEYS, &[header.as_bytes()], "other"), None);
    }

    #[test]
    fn changing_any_character_is_rejected(
        fields in fields(),
        at in 0..COOKIE_VALUE_LEN,
        replacement in any::<u8>(),
    ) {
        let mut value = sign_cookie(&KEYS, fields).into_bytes();
        prop_assume!(value[at] != replacement);
        value[at] = replacement;
        prop_assert_eq!(verify_cookie(&KEYS, &value), None);
    }

    #[test]
    fn an_old_key_still_verifies_and_says_so(fields in fields()) {
        let old = KeyRing::from_secrets([[9u8; 32]]).expect("valid secret");
        let value = sign_cookie(&old, fields);
        prop_assert_eq!(verify_cookie(&KEYS, value.as_bytes()), Some((fields, true)));
        prop_assert_eq!(verify_cookie(&old, value.as_bytes()), Some((fields, false)));
    }
}
