//! Errors: one for stores, one for the session layer.
//!
//! The distinction that matters to a web server is whether a failure is
//! *temporary* (the store is down or slow: answer 503 and let the client retry)
//! or a bug or misuse (answer 500). [`Error::is_unavailable`] draws that line so
//! every adapter maps errors to status codes the same way.

use std::time::Duration;

/// A boxed error from a store's client library, kept as the cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong inside a [`Store`](crate::Store).
///
/// Stores sort their client's errors into these kinds; the core and the
/// adapters only look at the kind, and log the cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store could not be reached or did not answer in time. Temporary:
    /// adapters answer 503 and the next request tries again.
    #[error("session store unavailable")]
    Unavailable(#[source] BoxError),
    /// The store refused the value, typically because it is larger than the
    /// store's item limit.
    #[error("session store refused the value")]
    ValueRefused(#[source] BoxError),
    /// Any other failure: a protocol error, an unexpected answer.
    #[error("session store failed")]
    Other(#[source] BoxError),
}

impl StoreError {
    /// The store could not be reached or timed out.
    pub fn unavailable(cause: impl Into<BoxError>) -> Self {
        Self::Unavailable(cause.into())
    }

    /// The store refused the value (too large, say).
    pub fn value_refused(cause: impl Into<BoxError>) -> Self {
        Self::ValueRefused(cause.into())
    }

    /// Any other store failure.
    pub fn other(cause: impl Into<BoxError>) -> Self {
        Self::Other(cause.into())
    }

    /// The same kind of error, with `error` (shared by several waiters) as its
    /// cause.
    pub(crate) fn shared(error: std::sync::Arc<StoreError>) -> Self {
        let cause = Box::new(Shared(std::sync::Arc::clone(&error)));
        match *error {
            StoreError::Unavailable(_) => Self::Unavailable(cause),
            StoreError::ValueRefused(_) => Self::ValueRefused(cause),
            StoreError::Other(_) => Self::Other(cause),
        }
    }
}

/// One store error reported to every request of a failed batch.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct Shared(std::sync::Arc<StoreError>);

/// An error from the session layer, returned by [`Session`](crate::Session)
/// methods and by [`SessionManager::set`](crate::SessionManager::set).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed; see [`StoreError`] for the kind.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The session's sealed record is larger than the configured limit; nothing
    /// was written.
    #[error("session record of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the sealed record in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Other processes kept changing the record and this write ran out of its
    /// time budget. Temporary, like an unavailable store.
    #[error("session save gave up after {attempts} conflicting attempts in {elapsed:?}")]
    Contended {
        /// How many compare-and-set attempts were made.
        attempts: u32,
        /// How long they took.
        elapsed: Duration,
    },
    /// A concurrent request ended the session (logout, rotation) before this
    /// write committed; nothing was written, and no new session replaces it.
    /// Temporary: the client's next request sees the outcome of the other.
    #[error("the session was ended by a concurrent request before this write committed")]
    Ended,
    /// A handle that names no live session of the session's user: another
    /// user's session, one that ended, or garbage. Nothing was ended.
    #[error("no live session of this user has that handle")]
    UnknownSession,
    /// A value could not be serialized into the session or deserialized out
    /// of it as the requested type.
    #[error("session value for key {key:?} could not be (de)serialized")]
    Value {
        /// The session key.
        key: String,
        /// The serde error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// Whether the failure is temporary (store down, timed out, contended,
    /// ended by a concurrent request), so
    /// the right answer is 503 Service Unavailable rather than 500.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Error::Store(StoreError::Unavailable(_)) | Error::Contended { .. } | Error::Ended
        )
    }

    /// How the request should be answered: [`ErrorKind::Unavailable`] for a
    /// temporary failure, [`ErrorKind::Internal`] for anything else.
    pub fn kind(&self) -> ErrorKind {
        if self.is_unavailable() {
            ErrorKind::Unavailable
        } else {
            ErrorKind::Internal
        }
    }

    /// Whether the session remembers this failure and answers the request with
    /// the error reply at its end. A value of the wrong type is the one error
    /// a handler may handle (as absent, say); every failure of the store or of
    /// saving is remembered, whatever the handler does with it.
    pub(crate) fn fails_the_request(&self) -> bool {
        !matches!(self, Error::Value { .. } | Error::UnknownSession)
    }
}

/// The two ways a session failure is answered; see
/// [`SessionManagerBuilder::error_reply`](crate::SessionManagerBuilder::error_reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Temporary: the store is down, slow or contended. Default reply: 503.
    Unavailable,
    /// A bug or misuse: a record over the size limit, a store's unexpected
    /// answer. Default reply: 500.
    Internal,
}

impl ErrorKind {
    /// A short name for logs and metric labels: `unavailable` or `internal`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }
}

/// A configuration mistake found when a [`SessionManager`](crate::SessionManager)
/// or a [`KeyRing`](crate::KeyRing) is built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A secret key is shorter than the minimum.
    #[error("secret key {index} is {len} bytes; at least {min} are required")]
    KeyTooShort {
        /// Position of the key in the ring (0 = the signing key).
        index: usize,
        /// Its length.
        len: usize,
        /// The minimum length.
        min: usize,
    },
    /// A key ring needs at least one key.
    #[error("no secret key given")]
    NoKeys,
    /// A secret string is neither hex nor base64.
    #[error("secret key {index} is neither hex nor base64")]
    KeyEncoding {
        /// Position of the key in the list.
        index: usize,
    },
    /// A cookie attribute (`name`, `path` or `domain`) cannot appear in a
    /// `Set-Cookie` header as given.
    #[error("invalid cookie {attribute} {value:?}: {reason}")]
    CookieAttribute {
        /// Which attribute.
        attribute: &'static str,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `SameSite=None` without `Secure`, which browsers reject.
    #[error("SameSite=None requires the Secure attribute")]
    SameSiteNoneWithoutSecure,
    /// The store key namespace is too long or holds unprintable bytes.
    #[error(
        "the namespace {namespace:?} must be at most 200 bytes of printable ASCII without spaces"
    )]
    Namespace {
        /// The namespace as given.
        namespace: String,
    },
    /// A timeout is outside one second to 400 days.
    #[error("the {name} timeout must be from one second to 400 days, not {value:?}")]
    Timeout {
        /// Which timeout.
        name: &'static str,
        /// The value as given.
        value: Duration,
    },
    /// The record size limit is too small for any session.
    #[error("the record size limit must be at least {min} bytes, not {value}")]
    RecordLimit {
        /// The value as given.
        value: usize,
        /// The smallest accepted.
        min: usize,
    },
    /// The store or contention budget is zero, which would fail every call.
    #[error("the store and contention budgets must be more than zero")]
    Budget,
    /// The login URL cannot be a `Location` header.
    #[error("the login URL {url:?} must be a non-empty path or URL of visible ASCII")]
    LoginUrl {
        /// The URL as given.
        url: String,
    },
    /// The session key holding the user is empty.
    #[error("the user key must not be empty")]
    UserKey,
    /// An error reply's status is not a 4xx or 5xx code, or its content type
    /// cannot be a header value.
    #[error("invalid error reply for {kind:?}: {reason}")]
    ErrorReply {
        /// The kind of failure it answers.
        kind: ErrorKind,
        /// What is wrong with it.
        reason: &'static str,
    },
}
