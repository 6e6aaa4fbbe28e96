//! The login flow's framework-neutral pieces: the login policy (the login URL
//! and the session key of the user, set once on the manager), sending an
//! anonymous user to the login page with the page they wanted, and checking
//! that page before redirecting back to it.
//!
//! Every adapter's "login required" guard uses
//! [`Session::login_redirect`](crate::Session::login_redirect), and every login
//! handler should send `next` through [`local_redirect`]: redirecting to
//! whatever `next` holds would make the login page an open redirect.

use crate::error::ConfigError;

/// The session key that holds the logged-in user unless the manager's
/// builder sets another ([`user_key`](crate::SessionManagerBuilder::user_key)).
pub const DEFAULT_USER_KEY: &str = "user_name";

/// The login URL unless the manager's builder sets another
/// ([`login_url`](crate::SessionManagerBuilder::login_url)).
pub const DEFAULT_LOGIN_URL: &str = "/login";

/// Where anonymous visitors go, and where the logged-in user is kept.
#[derive(Debug, Clone)]
pub(crate) struct LoginPolicy {
    pub(crate) url: String,
    pub(crate) user_key: String,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        Self {
            url: DEFAULT_LOGIN_URL.to_owned(),
            user_key: DEFAULT_USER_KEY.to_owned(),
        }
    }
}

impl LoginPolicy {
    /// A login URL must be a `Location` header as it is: visible ASCII.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.url.is_empty() || !self.url.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::LoginUrl {
                url: self.url.clone(),
            });
        }
        if self.user_key.is_empty() {
            return Err(ConfigError::UserKey);
        }
        Ok(())
    }

    pub(crate) fn redirect(&self, wanted: &str) -> String {
        login_redirect(&self.url, wanted)
    }
}

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

/// The `Location` to send a user back to `next` after login: `Some` when `next`
/// is a [local path](is_local_path), with every non-ASCII character
/// percent-encoded (a `Location` header is ASCII) and the rest as it is;
/// `None` otherwise (redirect to `/` instead).
pub fn local_redirect(next: &str) -> Option<String> {
    if !is_local_path(next) {
        return None;
    }
    let mut location = String::with_capacity(next.len());
    for c in next.chars() {
        if c.is_ascii() {
            location.push(c);
        } else {
            let mut utf8 = [0; 4];
            percent_encode_bytes(c.encode_utf8(&mut utf8).as_bytes(), &mut location);
        }
    }
    Some(location)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode_into(text: &str, out: &mut String) {
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            percent_encode_bytes(&[byte], out);
        }
    }
}

fn percent_encode_bytes(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in bytes {
        out.push('%');
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
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
    fn local_redirects_are_ascii() {
        assert_eq!(
            local_redirect("/café?q=1").as_deref(),
            Some("/caf%C3%A9?q=1")
        );
        assert_eq!(
            local_redirect("/a\u{202e}b").as_deref(),
            Some("/a%E2%80%AEb")
        );
        assert_eq!(local_redirect("/a%20b").as_deref(), Some("/a%20b"));
        assert_eq!(local_redirect("//evil.com"), None);
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
