//! [`SessionManager`]: configuration, and the two calls every adapter makes.

use std::sync::Arc;
use std::time::Duration;

use crate::cookie::{self, CookieAttributes, SameSite, SetCookie};
use crate::error::{ConfigError, Error};
use crate::keys::KeyRing;
use crate::session::Session;
use crate::signing::{self, Rejected};
use crate::store::Store;

/// Default cookie name.
pub const DEFAULT_COOKIE_NAME: &str = "session";
const DEFAULT_NAMESPACE: &str = "session:";
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const DEFAULT_ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// memcached's default item limit is 1 MiB including its item header; this
/// leaves room for the header and the key.
const DEFAULT_MAX_RECORD_BYTES: usize = 1_000_000;
/// Enough for 20 requests writing one session at the same moment to all
/// succeed: each round of conflicts lets at least one writer through.
const DEFAULT_MAX_SAVE_ATTEMPTS: u32 = 32;
/// The longest timeout accepted: browsers cap a cookie's lifetime at 400 days,
/// and longer values only overflow time arithmetic in stores.
const MAX_TIMEOUT: Duration = Duration::from_secs(400 * 24 * 60 * 60);
/// The longest namespace accepted, so keys stay within memcached's 250 bytes.
const MAX_NAMESPACE_BYTES: usize = 200;

/// Everything a [`Session`] needs, shared by every session of one manager.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) keys: KeyRing,
    pub(crate) cookie: Arc<CookieAttributes>,
    pub(crate) namespace: String,
    pub(crate) idle_timeout: Duration,
    pub(crate) absolute_timeout: Duration,
    pub(crate) max_record_bytes: usize,
    pub(crate) max_save_attempts: u32,
}

/// Hands out a [`Session`] per request and persists it afterwards.
///
/// Build one at startup with [`SessionManager::builder`] and share it (it is
/// an `Arc` inside; cloning is cheap). Adapters call [`get_from_headers`] (or
/// [`get`]) when a request arrives and [`set`] when its response leaves.
///
/// [`get_from_headers`]: SessionManager::get_from_headers
/// [`get`]: SessionManager::get
/// [`set`]: SessionManager::set
#[derive(Debug, Clone)]
pub struct SessionManager {
    config: Arc<Config>,
}

impl SessionManager {
    /// Starts a builder with the store and the keys; everything else has safe
    /// defaults.
    pub fn builder(store: Arc<dyn Store>, keys: KeyRing) -> SessionManagerBuilder {
        SessionManagerBuilder {
            store,
            keys,
            cookie: CookieAttributes {
                name: DEFAULT_COOKIE_NAME.to_owned(),
                path: "/".to_owned(),
                domain: None,
                secure: true,
                http_only: true,
                same_site: SameSite::Lax,
                persistent: true,
            },
            namespace: DEFAULT_NAMESPACE.to_owned(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            absolute_timeout: DEFAULT_ABSOLUTE_TIMEOUT,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            max_save_attempts: DEFAULT_MAX_SAVE_ATTEMPTS,
        }
    }

    /// The session for a request that carried `cookie_value` (the value of
    /// the session cookie) or none. Does no I/O: the record is loaded when the
    /// session is first used.
    ///
    /// A value that is malformed, tampered with or signed by a key not in the
    /// ring means "no session"; it is logged, never an error.
    pub fn get(&self, cookie_value: Option<&str>) -> Session {
        let verified = cookie_value.and_then(|value| self.verify(value));
        Session::new(Arc::clone(&self.config), verified, cookie_value.is_some())
    }

    /// The session for a request with these `Cookie` header values: the first
    /// session cookie among them that verifies.
    pub fn get_from_headers<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a [u8]>,
    ) -> Session {
        let name = self.config.cookie.name.as_str();
        let mut had_cookie = false;
        let mut verified = None;
        'headers: for header in cookie_headers {
            for value in cookie::values_named(header, name) {
                had_cookie = true;
                verified = std::str::from_utf8(value)
                    .ok()
                    .and_then(|value| self.verify(value));
                if verified.is_some() {
                    break 'headers;
                }
            }
        }
        Session::new(Arc::clone(&self.config), verified, had_cookie)
    }

    /// Ends the request: saves the session if it changed, and answers the
    /// `Set-Cookie` the response needs, if any (a new or rotated session, a
    /// re-signed cookie, or a removal). Send [`SetCookie::CACHE_CONTROL`] with it.
    ///
    /// On error the response should become the error response (503 when
    /// [`Error::is_unavailable`]), since the handler's work was not saved.
    pub async fn set(&self, session: &Session) -> Result<Option<SetCookie>, Error> {
        session.finish().await
    }

    /// The session cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.config.cookie.name
    }

    fn verify(&self, value: &str) -> Option<signing::Verified> {
        signing::verify(&self.config.keys, value)
            .inspect_err(|reason: &Rejected| {
                tracing::info!(?reason, "ignoring a session cookie that does not verify")
            })
            .ok()
    }
}

/// Configures a [`SessionManager`]. The defaults are the safe ones:
/// `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure`, a 30-minute idle timeout
/// and a 24-hour absolute timeout.
#[derive(Debug)]
#[must_use]
pub struct SessionManagerBuilder {
    store: Arc<dyn Store>,
    keys: KeyRing,
    cookie: CookieAttributes,
    namespace: String,
    idle_timeout: Duration,
    absolute_timeout: Duration,
    max_record_bytes: usize,
    max_save_attempts: u32,
}

impl SessionManagerBuilder {
    /// The cookie's name (default [`DEFAULT_COOKIE_NAME`]).
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie.name = name.into();
        self
    }

    /// The cookie's `Path` (default `/`).
    pub fn cookie_path(mut self, path: impl Into<String>) -> Self {
        self.cookie.path = path.into();
        self
    }

    /// The cookie's `Domain` (default none: the cookie stays on this host).
    pub fn cookie_domain(mut self, domain: impl Into<String>) -> Self {
        self.cookie.domain = Some(domain.into());
        self
    }

    /// `Secure` (default on): browsers send the cookie over HTTPS only. Turn it
    /// off only for plain-HTTP development.
    pub fn secure(mut self, secure: bool) -> Self {
        self.cookie.secure = secure;
        self
    }

    /// `HttpOnly` (default on): scripts cannot read the cookie, so an XSS bug
    /// cannot steal the session.
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.cookie.http_only = http_only;
        self
    }

    /// `SameSite` (default `Lax`). `None` requires `Secure`.
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.cookie.same_site = same_site;
        self
    }

    /// A browser-session cookie, without `Max-Age`, which the browser drops
    /// when it closes (default off: `Max-Age` is the time left until the
    /// absolute timeout).
    pub fn browser_session_cookie(mut self, enabled: bool) -> Self {
        self.cookie.persistent = !enabled;
        self
    }

    /// Prefix of every store key (default `session:`), so several apps can
    /// share one store. Printable ASCII without spaces, at most 200 bytes.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// A session unused this long expires (default 30 minutes). Every request
    /// that loads the session pushes it forward. From one second to 400 days.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// A session expires this long after it was created, however active
    /// (default 24 hours), which bounds what a stolen cookie is worth. From one
    /// second to 400 days.
    pub fn absolute_timeout(mut self, timeout: Duration) -> Self {
        self.absolute_timeout = timeout;
        self
    }

    /// The largest sealed record accepted (default 1,000,000 bytes, which fits
    /// memcached's default 1 MiB items). A larger session fails to save with
    /// [`Error::TooLarge`]; nothing is truncated.
    pub fn max_record_bytes(mut self, limit: usize) -> Self {
        self.max_record_bytes = limit;
        self
    }

    /// How many times a save retries after conflicting with concurrent
    /// writers before giving up with [`Error::Contended`] (default 32).
    pub fn max_save_attempts(mut self, attempts: u32) -> Self {
        self.max_save_attempts = attempts;
        self
    }

    /// Checks the configuration and builds the manager.
    pub fn build(self) -> Result<SessionManager, ConfigError> {
        let invalid = |message: &str| Err(ConfigError::Invalid(message.to_owned()));
        let cookie = &self.cookie;
        if !cookie::is_valid_name(&cookie.name) {
            return invalid("the cookie name must be a non-empty token without separators");
        }
        if !cookie.path.starts_with('/') || !cookie::is_valid_attribute(&cookie.path) {
            return invalid(
                "the cookie path must start with '/' and hold no ';' or control characters",
            );
        }
        if cookie
            .domain
            .as_deref()
            .is_some_and(|domain| domain.is_empty() || !cookie::is_valid_attribute(domain))
        {
            return invalid(
                "the cookie domain must be non-empty and hold no ';' or control characters",
            );
        }
        if cookie.same_site == SameSite::None && !cookie.secure {
            return invalid("SameSite=None requires the Secure attribute");
        }
        if self.namespace.len() > MAX_NAMESPACE_BYTES
            || !self.namespace.bytes().all(|b| b.is_ascii_graphic())
        {
            return invalid(
                "the namespace must be at most 200 bytes of printable ASCII without spaces",
            );
        }
        let timeouts = Duration::from_secs(1)..=MAX_TIMEOUT;
        if !timeouts.contains(&self.idle_timeout) || !timeouts.contains(&self.absolute_timeout) {
            return invalid("timeouts must be from one second to 400 days");
        }
        if self.max_record_bytes < 1024 {
            return invalid("the record size limit must be at least 1024 bytes");
        }
        if self.max_save_attempts == 0 {
            return invalid("at least one save attempt is needed");
        }
        Ok(SessionManager {
            config: Arc::new(Config {
                store: self.store,
                keys: self.keys,
                cookie: Arc::new(self.cookie),
                namespace: self.namespace,
                idle_timeout: self.idle_timeout,
                absolute_timeout: self.absolute_timeout,
                max_record_bytes: self.max_record_bytes,
                max_save_attempts: self.max_save_attempts,
            }),
        })
    }
}
