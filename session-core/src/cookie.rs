//! The session cookie as the core hands it to adapters, and the `Cookie`
//! request header as adapters hand it to the core.

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::Duration;

/// The `SameSite` attribute: when browsers send the cookie on cross-site
/// requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SameSite {
    /// Only on same-site requests. Strongest, but a link from another site
    /// arrives logged out.
    Strict,
    /// On same-site requests and top-level cross-site navigations with safe
    /// methods (GET links). The default: it blocks cross-site form posts.
    Lax,
    /// On every request. Requires `Secure`.
    None,
}

impl SameSite {
    fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// The fixed attributes of the session cookie, set once on the manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CookieAttributes {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) secure: bool,
    pub(crate) http_only: bool,
    pub(crate) same_site: SameSite,
    pub(crate) lifetime: CookieLifetime,
}

/// How long browsers keep the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CookieLifetime {
    /// `Max-Age` is the time left until the session's absolute timeout, so the
    /// browser keeps the cookie exactly as long as the server could accept it
    /// (the default).
    #[default]
    Persistent,
    /// No `Max-Age`: the browser drops the cookie when it closes (its
    /// "session" ends), or at the absolute timeout, whichever comes first.
    BrowserSession,
}

/// A `Set-Cookie` for the session cookie: a new value, or its removal.
///
/// Adapters never build or parse cookies themselves: the core reads the raw
/// `Cookie` request headers ([`SessionManager::start`]) and answers this,
/// already rendered and validated, in [`RequestEnd`]. Every response that
/// carries one must also carry `Cache-Control: no-store`
/// ([`SetCookie::CACHE_CONTROL`]), so no shared cache hands one user's cookie
/// to another. A removal keeps the cookie's `Path`, `Domain`, `Secure` and
/// `SameSite`, so the browser matches it to the cookie it deletes.
///
/// `Debug` shows everything but the value, which is a live credential.
///
/// [`SessionManager::start`]: crate::SessionManager::start
/// [`RequestEnd`]: crate::RequestEnd
#[derive(Clone, PartialEq, Eq)]
pub struct SetCookie {
    attributes: Arc<CookieAttributes>,
    /// Empty for a removal.
    value: String,
    max_age: Option<Duration>,
}

impl SetCookie {
    /// The `Cache-Control` value that goes with every `Set-Cookie` of a session.
    pub const CACHE_CONTROL: &'static str = "no-store";

    pub(crate) fn new(attributes: Arc<CookieAttributes>, value: String, max_age: Duration) -> Self {
        let max_age = (attributes.lifetime == CookieLifetime::Persistent).then_some(max_age);
        Self {
            attributes,
            value,
            max_age,
        }
    }

    pub(crate) fn removal(attributes: Arc<CookieAttributes>) -> Self {
        Self {
            attributes,
            value: String::new(),
            max_age: Some(Duration::ZERO),
        }
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.attributes.name
    }

    /// The cookie's value: the signed session ID, or empty for a removal.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// `Max-Age`: the time left until the session's absolute timeout, zero for
    /// a removal, `None` for a browser-session cookie.
    pub fn max_age(&self) -> Option<Duration> {
        self.max_age
    }

    /// Whether this `Set-Cookie` tells the browser to delete the cookie.
    pub fn is_removal(&self) -> bool {
        self.max_age == Some(Duration::ZERO)
    }

    /// `Path`.
    pub fn path(&self) -> &str {
        &self.attributes.path
    }

    /// `Domain`, when one is set.
    pub fn domain(&self) -> Option<&str> {
        self.attributes.domain.as_deref()
    }

    /// `Secure`.
    pub fn secure(&self) -> bool {
        self.attributes.secure
    }

    /// `HttpOnly`.
    pub fn http_only(&self) -> bool {
        self.attributes.http_only
    }

    /// `SameSite`.
    pub fn same_site(&self) -> SameSite {
        self.attributes.same_site
    }

    /// The complete `Set-Cookie` header value.
    pub fn header_value(&self) -> String {
        self.to_string()
    }

    /// The complete `Set-Cookie` header value as an `http` header value.
    #[cfg(feature = "http")]
    pub fn to_header_value(&self) -> http::HeaderValue {
        http::HeaderValue::try_from(self.header_value())
            .expect("every attribute is checked to be visible ASCII when the manager is built")
    }
}

/// Renders the `Set-Cookie` header value.
impl fmt::Display for SetCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &*self.attributes;
        write!(f, "{}={}; Path={}", a.name, self.value, a.path)?;
        if let Some(domain) = &a.domain {
            write!(f, "; Domain={domain}")?;
        }
        if let Some(max_age) = self.max_age {
            write!(f, "; Max-Age={}", max_age.as_secs())?;
        }
        if self.is_removal() {
            f.write_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT")?;
        }
        if a.secure {
            f.write_str("; Secure")?;
        }
        if a.http_only {
            f.write_str("; HttpOnly")?;
        }
        f.write_str("; SameSite=")?;
        f.write_str(a.same_site.as_str())
    }
}

/// Shows everything but the value, which is a live credential.
impl fmt::Debug for SetCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = String::new();
        let _ = write!(shown, "{}=..", self.attributes.name);
        f.debug_struct("SetCookie")
            .field("cookie", &shown)
            .field("max_age", &self.max_age)
            .field("attributes", &self.attributes)
            .finish()
    }
}

/// Every value of the cookie `name` in one `Cookie` request header. There may
/// be several: a sibling subdomain can set a cookie of the same name. The
/// header is read as bytes, so another cookie that is not UTF-8 (set by some
/// other app on the domain) does not hide this one.
pub(crate) fn values_named<'a>(header: &'a [u8], name: &'a str) -> impl Iterator<Item = &'a [u8]> {
    header.split(|&byte| byte == b';').filter_map(move |pair| {
        let equals = pair.iter().position(|&byte| byte == b'=')?;
        let (key, value) = (pair[..equals].trim_ascii(), pair[equals + 1..].trim_ascii());
        (key == name.as_bytes()).then_some(value)
    })
}

/// Whether `name` is a valid cookie name (an RFC 6265 token).
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

/// Whether `value` can be a `Path` or `Domain` attribute value.
pub(crate) fn is_valid_attribute(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b';')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes() -> Arc<CookieAttributes> {
        Arc::new(CookieAttributes {
            name: "sid".into(),
            path: "/".into(),
            domain: Some("example.com".into()),
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            lifetime: CookieLifetime::Persistent,
        })
    }

    #[test]
    fn renders_every_attribute() {
        let cookie = SetCookie::new(attributes(), "abc".into(), Duration::from_secs(90));
        assert_eq!(
            cookie.header_value(),
            "sid=abc; Path=/; Domain=example.com; Max-Age=90; Secure; HttpOnly; SameSite=Lax"
        );
        assert!(
            !format!("{cookie:?}").contains("abc"),
            "Debug must not print the value"
        );
    }

    #[test]
    fn removal_keeps_the_attributes() {
        let cookie = SetCookie::removal(attributes());
        assert!(cookie.is_removal());
        assert_eq!(
            cookie.header_value(),
            "sid=; Path=/; Domain=example.com; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn browser_session_cookie_has_no_max_age() {
        let mut attributes = (*attributes()).clone();
        attributes.lifetime = CookieLifetime::BrowserSession;
        let cookie = SetCookie::new(Arc::new(attributes), "abc".into(), Duration::from_secs(90));
        assert_eq!(cookie.max_age(), None);
        assert!(!cookie.header_value().contains("Max-Age"));
    }

    #[test]
    fn finds_every_value_of_a_name() {
        let header = b"a=\xff; sid=first;sid = second ; sidx=3; broken; =x";
        let values: Vec<&[u8]> = values_named(header, "sid").collect();
        assert_eq!(values, [&b"first"[..], &b"second"[..]]);
        assert_eq!(values_named(b"", "sid").count(), 0);
    }

    #[test]
    fn validates_names_and_attributes() {
        assert!(is_valid_name("sid"));
        assert!(!is_valid_name("s id") && !is_valid_name("") && !is_valid_name("a;b"));
        assert!(
            is_valid_attribute("/app") && !is_valid_attribute("/a;b") && !is_valid_attribute("/\n")
        );
    }
}
