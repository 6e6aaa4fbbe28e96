//! [`SessionManager`]: configuration, and the two calls every adapter makes.

use std::sync::Arc;
use std::time::Duration;

use crate::cookie::{self, CookieAttributes, CookieLifetime, SameSite, SetCookie};
use crate::error::{ConfigError, Error, ErrorKind};
use crate::keys::KeyRing;
use crate::lifecycle::{ErrorReply, RequestEnd};
use crate::login::LoginPolicy;
use crate::session::{Committer, Session};
use crate::signing::Candidates;
use crate::store::{IntoStore, Store};
use crate::user_index;

/// The default cookie name when the `__Host-` prefix does not apply (a
/// cookie without `Secure`, with a `Domain`, or on a narrower `Path`).
pub const DEFAULT_COOKIE_NAME: &str = "session";
/// The default cookie name of a `Secure` cookie with `Path=/` and no
/// `Domain`. Browsers accept a `__Host-` cookie only from a secure origin, for
/// the whole host, without `Domain`, so no sibling subdomain can plant or
/// overwrite it.
pub const HOST_COOKIE_NAME: &str = "__Host-session";
const DEFAULT_NAMESPACE: &str = "session:";
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Anonymous sessions are cheap to make, so an unused one goes sooner.
const DEFAULT_ANONYMOUS_IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const DEFAULT_ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// memcached's default item limit is 1 MiB including its item header; this
/// leaves room for the header and the key.
const DEFAULT_MAX_RECORD_BYTES: usize = 1_000_000;
/// How long a write retries after conflicting with other processes' writes.
const DEFAULT_CONTENTION_BUDGET: Duration = Duration::from_secs(2);
/// How long one request may spend in the store in all.
const DEFAULT_STORE_BUDGET: Duration = Duration::from_secs(2);
/// How often a process looks up a logged-in session in its user's index.
const DEFAULT_INDEX_CHECK_INTERVAL: Duration = Duration::from_secs(60);
/// The longest timeout accepted: browsers cap a cookie's lifetime at 400 days,
/// and longer values only overflow time arithmetic in stores.
const MAX_TIMEOUT: Duration = Duration::from_secs(400 * 24 * 60 * 60);
/// The longest namespace accepted, so keys stay within memcached's 250 bytes.
const MAX_NAMESPACE_BYTES: usize = 200;
/// The smallest record size limit accepted.
const MIN_RECORD_LIMIT: usize = 1024;

/// Everything a [`Session`] needs, shared by every session of one manager.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) keys: KeyRing,
    pub(crate) cookie: Arc<CookieAttributes>,
    pub(crate) namespace: String,
    pub(crate) idle_timeout: Duration,
    pub(crate) anonymous_idle_timeout: Duration,
    pub(crate) absolute_timeout: Duration,
    pub(crate) max_record_bytes: usize,
    pub(crate) contention_budget: Duration,
    pub(crate) store_budget: Duration,
    pub(crate) index_check_interval: Duration,
    pub(crate) committer: Committer,
    pub(crate) index_checks: user_index::Checks,
    pub(crate) login: LoginPolicy,
    unavailable_reply: Arc<ErrorReply>,
    internal_reply: Arc<ErrorReply>,
}

impl Config {
    /// The configured reply for a failure of this kind.
    pub(crate) fn error_reply(&self, kind: ErrorKind) -> Arc<ErrorReply> {
        Arc::clone(match kind {
            ErrorKind::Unavailable => &self.unavailable_reply,
            ErrorKind::Internal => &self.internal_reply,
        })
    }
}

/// Hands out a [`Session`] per request and persists it afterwards.
///
/// Build one at startup with [`SessionManager::builder`] and share it (it is
/// an `Arc` inside; cloning is cheap).
///
/// Adapters run the request lifecycle with two calls: [`start`] with the
/// request's `Cookie` headers when it arrives, and [`finish`] with the
/// response status when the response leaves, applying the [`RequestEnd`] it
/// answers. Code outside a web framework (tests, jobs) can use the plainer
/// [`get`] and [`set`].
///
/// [`start`]: SessionManager::start
/// [`finish`]: SessionManager::finish
/// [`get`]: SessionManager::get
/// [`set`]: SessionManager::set
#[derive(Debug, Clone)]
pub struct SessionManager {
    config: Arc<Config>,
}

impl SessionManager {
    /// The manager's settings, for the crate's unit tests.
    #[cfg(test)]
    pub(crate) fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Starts a builder with the store (a value, or an `Arc` of one) and the
    /// keys; everything else has safe defaults.
    pub fn builder(store: impl IntoStore, keys: KeyRing) -> SessionManagerBuilder {
        SessionManagerBuilder {
            store: store.into_store(),
            keys,
            cookie_name: None,
            cookie: CookieAttributes {
                name: String::new(),
                path: "/".to_owned(),
                domain: None,
                secure: true,
                http_only: true,
                same_site: SameSite::Lax,
                lifetime: CookieLifetime::Persistent,
            },
            namespace: DEFAULT_NAMESPACE.to_owned(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            anonymous_idle_timeout: DEFAULT_ANONYMOUS_IDLE_TIMEOUT,
            absolute_timeout: DEFAULT_ABSOLUTE_TIMEOUT,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            contention_budget: DEFAULT_CONTENTION_BUDGET,
            store_budget: DEFAULT_STORE_BUDGET,
            index_check_interval: DEFAULT_INDEX_CHECK_INTERVAL,
            login: LoginPolicy::default(),
            unavailable_reply: ErrorReply::default_for(ErrorKind::Unavailable),
            internal_reply: ErrorReply::default_for(ErrorKind::Internal),
        }
    }

    /// The session for a request that carried `cookie_value` (the value of
    /// the session cookie) or none. Does no I/O: the record is loaded when the
    /// session is first used.
    ///
    /// A value that is malformed, tampered with or signed by a key not in the
    /// ring means "no session"; it is logged, never an error.
    pub fn get(&self, cookie_value: Option<&str>) -> Session {
        let mut candidates = Candidates::NONE;
        if let Some(value) = cookie_value {
            candidates.push(value.as_bytes());
        }
        self.session_from(candidates)
    }

    /// Starts a request: the session for a request with these `Cookie` header
    /// values. Does no I/O and no cryptography: the cookie is verified when
    /// the session is first used (the first session cookie among the headers
    /// that verifies wins), so a request that never uses its session costs
    /// next to nothing. Hand the session to the handler, then call
    /// [`finish`](SessionManager::finish).
    pub fn start<'a>(&self, cookie_headers: impl IntoIterator<Item = &'a [u8]>) -> Session {
        self.session_from(self.candidates(cookie_headers))
    }

    /// The session for a request that carried these session cookie values.
    pub(crate) fn session_from(&self, candidates: Candidates) -> Session {
        Session::new(Arc::clone(&self.config), candidates)
    }

    /// The session cookie's values among these `Cookie` header values.
    pub(crate) fn candidates<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a [u8]>,
    ) -> Candidates {
        let name = self.config.cookie.name.as_str();
        let mut candidates = Candidates::NONE;
        for header in cookie_headers {
            for value in cookie::values_named(header, name) {
                candidates.push(value);
            }
        }
        candidates
    }

    /// [`start`](SessionManager::start) for an `http` request's headers.
    #[cfg(feature = "http")]
    pub fn start_from_header_map(&self, headers: &http::HeaderMap) -> Session {
        self.start(cookie_headers(headers))
    }

    /// Saves the session if it changed, and answers the `Set-Cookie` the
    /// response needs, if any (a new or rotated session, a re-signed cookie, or
    /// a removal). Send [`SetCookie::CACHE_CONTROL`] with it.
    ///
    /// This is the plain save, for code outside a request lifecycle; adapters
    /// call [`finish`](SessionManager::finish), which also applies the error
    /// and status rules.
    ///
    /// # Errors
    ///
    /// The store failed, the record is over the size limit, or concurrent
    /// writers kept winning; the changes were not saved.
    pub async fn set(&self, session: &Session) -> Result<Option<SetCookie>, Error> {
        session.save_and_cookie().await
    }

    /// Ends a request: given the status of the handler's response, saves the
    /// session when that is right and says what the response needs.
    ///
    /// - A session whose store operation failed during the handler (however
    ///   the handler wrapped or handled the error) saves nothing and answers
    ///   the configured [`ErrorReply`] for that failure.
    /// - A 5xx response saves nothing either.
    /// - Otherwise the session is saved if it changed; if that fails, the
    ///   failure is logged and answered with its [`ErrorReply`].
    ///
    /// A rotation or logout has already taken effect in the store when the
    /// handler called it, so its `Set-Cookie` is in the answer whatever
    /// happens after it.
    pub async fn finish(&self, session: &Session, status: u16) -> RequestEnd {
        session.end_request(status).await
    }

    /// Where a login-required page sends an anonymous visitor: the login URL
    /// with `wanted` (the requested path and query) as `next`, percent-encoded.
    /// Always a valid `Location` header value.
    pub fn login_redirect(&self, wanted: &str) -> String {
        self.config.login.redirect(wanted)
    }

    /// The session cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.config.cookie.name
    }
}

/// The values of an `http` request's `Cookie` headers.
#[cfg(feature = "http")]
pub(crate) fn cookie_headers(headers: &http::HeaderMap) -> impl Iterator<Item = &[u8]> {
    let cookies = headers.get_all(http::header::COOKIE);
    cookies.into_iter().map(http::HeaderValue::as_bytes)
}

/// Configures a [`SessionManager`]. The defaults are the safe ones:
/// `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure`, a 30-minute idle timeout
/// and a 24-hour absolute timeout.
#[derive(Debug)]
#[must_use]
pub struct SessionManagerBuilder {
    store: Arc<dyn Store>,
    keys: KeyRing,
    /// `None`: the default name for the attributes, chosen at build.
    cookie_name: Option<String>,
    cookie: CookieAttributes,
    namespace: String,
    idle_timeout: Duration,
    anonymous_idle_timeout: Duration,
    absolute_timeout: Duration,
    max_record_bytes: usize,
    contention_budget: Duration,
    store_budget: Duration,
    index_check_interval: Duration,
    login: LoginPolicy,
    unavailable_reply: ErrorReply,
    internal_reply: ErrorReply,
}

impl SessionManagerBuilder {
    /// The cookie's name. The default is [`HOST_COOKIE_NAME`] (`__Host-session`)
    /// for a `Secure` cookie with `Path=/` and no `Domain`, the safe default,
    /// and [`DEFAULT_COOKIE_NAME`] (`session`) otherwise. Only the name in
    /// force is read: a cookie under another name is no session, so switching
    /// the prefix on ends existing sessions once.
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = Some(name.into());
        self
    }

    /// The cookie's `Path` (default `/`).
    pub fn cookie_path(mut self, path: impl Into<String>) -> Self {
        self.cookie.path = path.into();
        self
    }

    /// The cookie's `Domain`: `Some` shares the cookie with that domain's
    /// subdomains; `None` (the default) keeps it on this host.
    pub fn cookie_domain(mut self, domain: Option<&str>) -> Self {
        self.cookie.domain = domain.map(str::to_owned);
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

    /// How long browsers keep the cookie (default
    /// [`CookieLifetime::Persistent`]: `Max-Age` is the time left until the
    /// absolute timeout).
    pub fn cookie_lifetime(mut self, lifetime: CookieLifetime) -> Self {
        self.cookie.lifetime = lifetime;
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

    /// A session without a logged-in user expires after this long unused
    /// (default 10 minutes; never longer than the
    /// [idle timeout](Self::idle_timeout)). A cookie for a session that holds
    /// nothing yet, and so has no record, is valid this long from its
    /// creation. Short, so a flood of anonymous visits cannot crowd out real
    /// sessions.
    pub fn anonymous_idle_timeout(mut self, timeout: Duration) -> Self {
        self.anonymous_idle_timeout = timeout;
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

    /// How long a write keeps retrying, with jittered exponential backoff,
    /// after conflicting with another process's write before giving up with
    /// [`Error::Contended`] (default 2 s). Writers in one process never
    /// conflict: the manager orders them.
    pub fn contention_budget(mut self, budget: Duration) -> Self {
        self.contention_budget = budget;
        self
    }

    /// How long one request may spend in the store in all (default 2 s),
    /// counted from its first store call. Each call gets the time that
    /// remains as its deadline; a call that misses it counts as the store
    /// being unavailable (503), so a slow store cannot hold requests for
    /// long. A write in flight at the deadline still completes or fails as a
    /// unit; the request just stops waiting for it.
    pub fn store_budget(mut self, budget: Duration) -> Self {
        self.store_budget = budget;
        self
    }

    /// How often each process looks up a logged-in session in its user's
    /// index of sessions (default 60 s), alongside the session's own load.
    /// A session the index no longer lists (it was ended through
    /// [`Session::end_user_session`](crate::Session::end_user_session) or
    /// [`logout_everywhere`](crate::Session::logout_everywhere) while its
    /// record survived) is refused at the next look-up: this bounds how long
    /// such a session can outlive its ending. An index lost altogether is
    /// rebuilt by the sessions it listed, at their look-ups.
    /// Shorter means more store calls; a request in between makes none.
    pub fn index_check_interval(mut self, interval: Duration) -> Self {
        self.index_check_interval = interval;
        self
    }

    /// Where a login-required page sends anonymous visitors (default
    /// `/login`); the page they asked for is appended as `next`. A path or an
    /// absolute URL of visible ASCII, checked by [`build`](Self::build).
    pub fn login_url(mut self, url: impl Into<String>) -> Self {
        self.login.url = url.into();
        self
    }

    /// The session key that holds the logged-in user (default
    /// [`DEFAULT_USER_KEY`](crate::login::DEFAULT_USER_KEY)), written by
    /// [`Session::login`] and read by [`Session::current_user`].
    pub fn user_key(mut self, key: impl Into<String>) -> Self {
        self.login.user_key = key.into();
        self
    }

    /// The reply that replaces a handler's response when its session fails
    /// with a failure of this kind (defaults: [`ErrorReply::default_for`]).
    pub fn error_reply(mut self, kind: ErrorKind, reply: ErrorReply) -> Self {
        match kind {
            ErrorKind::Unavailable => self.unavailable_reply = reply,
            ErrorKind::Internal => self.internal_reply = reply,
        }
        self
    }

    /// Checks the configuration and builds the manager.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting that is invalid: a cookie
    /// attribute that cannot be a header, `SameSite=None` without `Secure`, a
    /// namespace or timeout out of range, a login URL that cannot be a
    /// `Location` header, an error reply that is not a 4xx or 5xx.
    pub fn build(mut self) -> Result<SessionManager, ConfigError> {
        let host_only =
            self.cookie.secure && self.cookie.path == "/" && self.cookie.domain.is_none();
        self.cookie.name = match self.cookie_name.take() {
            Some(name) => name,
            None if host_only => HOST_COOKIE_NAME.to_owned(),
            None => DEFAULT_COOKIE_NAME.to_owned(),
        };
        self.check_cookie()?;
        if self.namespace.len() > MAX_NAMESPACE_BYTES
            || !self.namespace.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ConfigError::Namespace {
                namespace: self.namespace,
            });
        }
        let timeouts = Duration::from_secs(1)..=MAX_TIMEOUT;
        for (name, value) in [
            ("idle", self.idle_timeout),
            ("anonymous idle", self.anonymous_idle_timeout),
            ("absolute", self.absolute_timeout),
        ] {
            if !timeouts.contains(&value) {
                return Err(ConfigError::Timeout { name, value });
            }
        }
        if self.max_record_bytes < MIN_RECORD_LIMIT {
            return Err(ConfigError::RecordLimit {
                value: self.max_record_bytes,
                min: MIN_RECORD_LIMIT,
            });
        }
        if self.contention_budget.is_zero() || self.store_budget.is_zero() {
            return Err(ConfigError::Budget);
        }
        self.login.check()?;
        for (kind, reply) in [
            (ErrorKind::Unavailable, &self.unavailable_reply),
            (ErrorKind::Internal, &self.internal_reply),
        ] {
            if let Some(reason) = reply.problem() {
                return Err(ConfigError::ErrorReply { kind, reason });
            }
        }
        Ok(SessionManager {
            config: Arc::new(Config {
                store: self.store,
                keys: self.keys,
                cookie: Arc::new(self.cookie),
                namespace: self.namespace,
                idle_timeout: self.idle_timeout,
                anonymous_idle_timeout: self.anonymous_idle_timeout,
                absolute_timeout: self.absolute_timeout,
                max_record_bytes: self.max_record_bytes,
                contention_budget: self.contention_budget,
                store_budget: self.store_budget,
                index_check_interval: self.index_check_interval,
                committer: Committer::default(),
                index_checks: user_index::Checks::default(),
                login: self.login,
                unavailable_reply: Arc::new(self.unavailable_reply),
                internal_reply: Arc::new(self.internal_reply),
            }),
        })
    }

    fn check_cookie(&self) -> Result<(), ConfigError> {
        let cookie = &self.cookie;
        let invalid = |attribute, value: &str, reason| {
            Err(ConfigError::CookieAttribute {
                attribute,
                value: value.to_owned(),
                reason,
            })
        };
        if !cookie::is_valid_name(&cookie.name) {
            return invalid(
                "name",
                &cookie.name,
                "it must be a non-empty token without separators",
            );
        }
        if !cookie.path.starts_with('/') || !cookie::is_valid_attribute(&cookie.path) {
            return invalid(
                "path",
                &cookie.path,
                "it must start with '/' and hold no ';' or control characters",
            );
        }
        if let Some(domain) = cookie.domain.as_deref()
            && (domain.is_empty() || !cookie::is_valid_attribute(domain))
        {
            return invalid(
                "domain",
                domain,
                "it must be non-empty and hold no ';' or control characters",
            );
        }
        let host_only = cookie.secure && cookie.path == "/" && cookie.domain.is_none();
        if cookie.name.starts_with("__Host-") && !host_only {
            return invalid(
                "name",
                &cookie.name,
                "a __Host- cookie must be Secure, with Path=/ and no Domain",
            );
        }
        if cookie.name.starts_with("__Secure-") && !cookie.secure {
            return invalid("name", &cookie.name, "a __Secure- cookie must be Secure");
        }
        if cookie.same_site == SameSite::None && !cookie.secure {
            return Err(ConfigError::SameSiteNoneWithoutSecure);
        }
        Ok(())
    }
}
