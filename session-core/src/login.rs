//! The login flow's framework-neutral pieces: sending an anonymous user to the
//! login page with the page they wanted, and checking that page before
//! redirecting back to it.
//!
//! Every adapter's "login required" guard uses [`login_redirect`], and every
//! login handler should check `next` with [`is_local_path`]: redirecting to
//! whatever `next` holds would make the login page an open redirect.

/// The `Location` for sending an anonymous user to `login_url`, with the
/// path and query they asked for (`wanted`) as the `next` query parameter.
///
/// `next` is percent-encoded so that it stays one parameter whatever it holds.
pub fn login_redirect(login_url: &str, wanted: &str) -> String {
    let separator = if login_url.contains('?') { '&' } else { '?' };
    let mut location = String::with_capacity(login_url.len() + 6 + wanted.len() * 3);
    location.push_str(login_url);
    location.push(separator);
    location.push_str("next=");
    percent_encode_into(wanted, &mut location);
    location
}

/// Whether `next` is a path on this site, safe to redirect to after login: it
/// starts with `/`, its second character is neither `/` nor `\` (which
/// browsers read as the start of another host), and it holds no backslash and
/// no control character.
pub fn is_local_path(next: &str) -> bool {
    next.starts_with('/')
        && !matches!(next.as_bytes().get(1), Some(b'/' | b'\\'))
        && !next.chars().any(|c| c == '\\' || c.is_control())
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode_into(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_carry_next_as_one_parameter() {
        assert_eq!(login_redirect("/login", "/"), "/login?next=%2F");
        assert_eq!(
            login_redirect("/login?lang=en", "/a b?x=1&y=é~"),
            "/login?lang=en&next=%2Fa%20b%3Fx%3D1%26y%3D%C3%A9~"
        );
    }

    #[test]
    fn only_local_paths_are_local() {
        for good in ["/", "/a", "/a/b?c=d", "/%2F%2Fevil.com"] {
            assert!(is_local_path(good), "{good}");
        }
        let bad = [
            "",
            "a",
            "//evil.com",
            "/\\evil.com",
            "/a\\b",
            "/a\nb",
            "/a\u{7f}",
            "/a\u{85}",
            "https://x",
            " /a",
        ];
        for bad in bad {
            assert!(!is_local_path(bad), "{bad:?}");
        }
    }
}
