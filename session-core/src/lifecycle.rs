//! The request lifecycle every adapter runs: [`SessionManager::start`] when a
//! request arrives, [`SessionManager::finish`] when its response leaves, and
//! the framework-neutral [`RequestEnd`] that the second one answers.
//!
//! [`SessionManager::start`]: crate::SessionManager::start
//! [`SessionManager::finish`]: crate::SessionManager::finish

use std::borrow::Cow;
use std::sync::Arc;

use crate::cookie::SetCookie;
use crate::error::ErrorKind;

/// The response that replaces a handler's when its session failed.
///
/// The defaults are short `text/plain` bodies that say nothing about the
/// store: 503 `service unavailable` for [`ErrorKind::Unavailable`], 500
/// `internal server error` for [`ErrorKind::Internal`]. Replace them with
/// [`SessionManagerBuilder::error_reply`](crate::SessionManagerBuilder::error_reply).
///
/// # Examples
///
/// ```
/// use session_core::ErrorReply;
///
/// let reply = ErrorReply::new(503, "text/html; charset=utf-8", &b"<h1>Back soon</h1>"[..]);
/// assert_eq!(reply.status(), 503);
/// assert_eq!(reply.body(), b"<h1>Back soon</h1>");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    status: u16,
    content_type: Cow<'static, str>,
    body: Cow<'static, [u8]>,
}

impl ErrorReply {
    /// A reply with this status, `Content-Type` and body. The manager's
    /// builder checks it: the status must be 4xx or 5xx, and the content type
    /// visible ASCII.
    pub fn new(
        status: u16,
        content_type: impl Into<Cow<'static, str>>,
        body: impl Into<Cow<'static, [u8]>>,
    ) -> Self {
        Self {
            status,
            content_type: content_type.into(),
            body: body.into(),
        }
    }

    /// The default reply for `kind`.
    pub fn default_for(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Unavailable => Self::new(503, TEXT_PLAIN, &b"service unavailable\n"[..]),
            ErrorKind::Internal => Self::new(500, TEXT_PLAIN, &b"internal server error\n"[..]),
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The `Content-Type`.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// What is wrong with this reply, if anything.
    pub(crate) fn problem(&self) -> Option<&'static str> {
        if !(400..=599).contains(&self.status) {
            return Some("the status must be from 400 to 599");
        }
        let visible = |c: char| c == ' ' || c.is_ascii_graphic();
        if self.content_type.is_empty() || !self.content_type.chars().all(visible) {
            return Some("the content type must be non-empty visible ASCII");
        }
        None
    }
}

const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// What the adapter does to the response when the request ends, as
/// [`SessionManager::finish`](crate::SessionManager::finish) answers it.
///
/// Two independent parts, both framework-neutral and already validated:
///
/// - [`error_reply`](RequestEnd::error_reply): when present, send it *instead
///   of* the handler's response (the session failed during the request, or
///   saving it failed; nothing was saved);
/// - [`headers`](RequestEnd::headers): add these to whichever response goes
///   out: `Set-Cookie` when the cookie is set or expired, and then
///   `Cache-Control: no-store`, so no shared cache hands one user's cookie to
///   another; `Cache-Control: no-store` alone when the page showed something
///   personal (a CSRF token, the current user).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct RequestEnd {
    pub(crate) error_reply: Option<Arc<ErrorReply>>,
    pub(crate) set_cookie: Option<SetCookie>,
    pub(crate) private: bool,
}

impl RequestEnd {
    /// The reply to send instead of the handler's response, if the session
    /// failed.
    #[inline]
    pub fn error_reply(&self) -> Option<&ErrorReply> {
        self.error_reply.as_deref()
    }

    /// The `Set-Cookie` to add, if any.
    pub fn set_cookie(&self) -> Option<&SetCookie> {
        self.set_cookie.as_ref()
    }

    /// The `Cache-Control` to set, if any (it replaces one the handler set:
    /// a response that carries a session's cookie or a user's data is never
    /// cacheable).
    #[inline]
    pub fn cache_control(&self) -> Option<&'static str> {
        (self.private || self.set_cookie.is_some()).then_some(SetCookie::CACHE_CONTROL)
    }

    /// The headers to add, as lowercase names and values: `set-cookie` (to be
    /// appended) and `cache-control` (to replace any other).
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, Cow<'_, str>)> {
        let cookie = self
            .set_cookie
            .as_ref()
            .map(|cookie| ("set-cookie", Cow::Owned(cookie.header_value())));
        let cache = self
            .cache_control()
            .map(|value| ("cache-control", Cow::Borrowed(value)));
        cookie.into_iter().chain(cache)
    }
}

#[cfg(feature = "http")]
mod http_types {
    use http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
    use http::{HeaderMap, HeaderValue, Response, StatusCode};

    use super::{ErrorReply, RequestEnd};

    impl RequestEnd {
        /// Adds [`headers`](RequestEnd::headers) to `headers`: appends the
        /// `Set-Cookie`, replaces `Cache-Control`.
        #[inline]
        pub fn apply_headers(&self, headers: &mut HeaderMap) {
            if let Some(cookie) = &self.set_cookie {
                headers.append(SET_COOKIE, cookie.to_header_value());
            }
            if let Some(cache) = self.cache_control() {
                headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
            }
        }
    }

    impl ErrorReply {
        /// The reply as an `http` response, with any body type made from its
        /// bytes (`axum::body::Body`, `http_body_util::Full<Bytes>`, …).
        pub fn to_response<B: From<bytes::Bytes>>(&self) -> Response<B> {
            let mut response = Response::new(B::from(bytes::Bytes::copy_from_slice(self.body())));
            *response.status_mut() =
                StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if let Ok(content_type) = HeaderValue::from_str(self.content_type()) {
                response.headers_mut().insert(CONTENT_TYPE, content_type);
            }
            response
        }
    }
}
