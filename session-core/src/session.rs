//! [`Session`]: the per-request handle. How it reaches the store is in
//! [`persist`]; its time arithmetic in [`expiry`].

mod commit;
mod expiry;
mod persist;
mod user_sessions;

pub(crate) use commit::{Committer, open_record};
pub(crate) use persist::within_budget;
pub use user_sessions::UserSession;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{Mutex, MutexGuard};

use crate::codec::Record;
use crate::cookie::SetCookie;
use crate::data::SessionData;
use crate::error::{Error, ErrorKind};
use crate::id::SessionId;
use crate::keys::KeyRing;
use crate::lifecycle::RequestEnd;
use crate::manager::Config;
use crate::signing::{self, Candidates, Flags, Verified};
use crate::store::Version;
use crate::telemetry;

/// A session for the length of one request.
///
/// Cheap to clone (clones share the state), `Send + Sync`, and safe to hold
/// across `.await`. Nothing is read from the store until the first method that
/// needs the data, so a handler that never touches its session costs no store
/// call. Reads never mark the session modified; the end of the request saves
/// it only if something changed. A response sets the cookie when the session
/// was created, changed, rotated or destroyed, and never for a request that
/// only read it.
///
/// All methods are `async` because the first one loads the record. Each takes
/// an internal lock for a moment; none holds it across your code.
///
/// # Failures are remembered
///
/// When a store operation fails (the store is down, concurrent writers kept
/// winning), the method returns the error *and* the session remembers it: the
/// end of the request saves nothing and answers the configured error reply,
/// whatever the handler did with the error. Only [`Error::Value`] (a value of
/// another type than asked for) is the handler's to handle.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<Config>,
    state: Mutex<State>,
    /// Something asked for the session: until then the end of the request
    /// has nothing to do and skips the lock.
    used: AtomicBool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

/// Where a session's record lives, once it is in the store.
#[derive(Debug, Clone)]
struct Stored {
    id: SessionId,
    /// The store key of `id`, hashed once per request.
    key: String,
    version: Version,
    /// The session's writers in this process.
    queue: Arc<commit::Queue>,
    /// The queue's generation `version` belongs to.
    generation: u64,
}

/// The request's session cookie: kept raw until first needed, then verified
/// once. Both variants live inline in the session's one allocation.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Incoming {
    Unverified(Candidates),
    Verified(Option<Verified>),
}

/// What the response must do with the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CookieAction {
    /// Nothing: the browser's cookie is still right.
    Keep,
    /// Send the (new, or re-signed) cookie.
    Send,
    /// Tell the browser to delete its cookie.
    Expire,
}

#[derive(Debug)]
struct State {
    /// The ID from the request's cookie; only a lookup key until the record
    /// is found, never adopted for a new session.
    incoming: Incoming,
    /// Whether the request carried a session cookie at all, valid or not.
    had_cookie: bool,
    /// The wall clock, read once per request when first needed, so every
    /// expiry decision of the request agrees.
    now_ms: Option<u64>,
    /// When the request's store budget runs out, from its first store call.
    deadline: Option<Instant>,
    loaded: bool,
    stored: Option<Stored>,
    /// The ID of a session that has no record yet.
    unstored: Option<Unstored>,
    /// The flags of the cookie the session came with, when it was adopted.
    incoming_flags: Option<Flags>,
    /// A cookie without a record was issued for the stored session's ID.
    announced: bool,
    /// Creation time and data: what gets sealed and stored. Shared with the
    /// commit queue, which offers it as the base of the next commit and hands
    /// back the committed record; copied only when written while shared.
    record: Arc<Record>,
    /// The record was sealed by an older key: save it under the current one.
    reseal: bool,
    cookie: CookieAction,
    /// The first failure of a store operation during the request.
    failure: Option<ErrorKind>,
    /// The response shows something personal (a CSRF token, the user).
    private: bool,
}

impl State {
    fn is_modified(&self) -> bool {
        self.record.data.is_modified() || self.reseal
    }

    /// The session's ID, stored or not; a new session gets one here (and its
    /// cookie, which the client needs from now on).
    fn id(&mut self) -> SessionId {
        if let Some(stored) = &self.stored {
            return stored.id;
        }
        if let Some(unstored) = &self.unstored {
            return unstored.id;
        }
        let id = SessionId::generate();
        self.unstored = Some(Unstored {
            id,
            from_cookie: false,
        });
        self.cookie = CookieAction::Send;
        id
    }

    /// The request's time, in milliseconds since the Unix epoch.
    fn now_ms(&mut self) -> u64 {
        *self.now_ms.get_or_insert_with(expiry::now_ms)
    }

    /// The end of the request's store budget, which starts with its first
    /// store call.
    fn deadline(&mut self, budget: Duration) -> Instant {
        *self.deadline.get_or_insert_with(|| Instant::now() + budget)
    }

    /// The cookie's session, verified on the first call.
    fn incoming(&mut self, keys: &KeyRing) -> Option<Verified> {
        match &self.incoming {
            Incoming::Verified(verified) => *verified,
            Incoming::Unverified(candidates) => {
                let verified = candidates.verify(keys);
                self.incoming = Incoming::Verified(verified);
                verified
            }
        }
    }

    /// Becomes a new, empty, unsaved session.
    fn reset(&mut self) {
        self.loaded = true;
        self.stored = None;
        self.unstored = None;
        self.incoming_flags = None;
        self.announced = false;
        let now = self.now_ms();
        self.record = Arc::new(Record::new(now));
        self.reseal = false;
        self.cookie = CookieAction::Keep;
    }

    /// The record, to change it (copied first when the commit queue shares it).
    fn record_mut(&mut self) -> &mut Record {
        Arc::make_mut(&mut self.record)
    }

    fn mark_saved(&mut self) {
        if self.record.data.is_modified() {
            self.record_mut().data.mark_saved();
        }
        self.reseal = false;
    }

    /// Logs and remembers a failure that fails the request; hands it back.
    fn fail(&mut self, error: Error, during: &'static str) -> Error {
        if error.fails_the_request() {
            telemetry::failed(&error, during);
            self.failure.get_or_insert(error.kind());
        }
        error
    }
}

/// Whether ending the current session also takes it off its user's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unlist {
    Yes,
    /// The index was emptied already (log out everywhere).
    No,
}

/// A session without a record: its ID is known (the client may hold a cookie
/// for it), nothing is stored under it yet.
#[derive(Debug, Clone, Copy)]
struct Unstored {
    id: SessionId,
    /// The ID came from the client's cookie, so a concurrent request with the
    /// same cookie may have stored the session meanwhile.
    from_cookie: bool,
}

impl Session {
    pub(crate) fn new(config: Arc<Config>, candidates: Candidates) -> Self {
        let state = State {
            had_cookie: candidates.present,
            incoming: Incoming::Unverified(candidates),
            now_ms: None,
            deadline: None,
            loaded: false,
            stored: None,
            unstored: None,
            incoming_flags: None,
            announced: false,
            record: Record::empty(),
            reseal: false,
            cookie: CookieAction::Keep,
            failure: None,
            private: false,
        };
        Self {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(state),
                used: AtomicBool::new(false),
            }),
        }
    }

    /// The value under `key` as a `T`, or `None`.
    ///
    /// # Errors
    ///
    /// [`Error::Value`] when the value is not a `T`; a store error when the
    /// record could not be loaded.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        self.read_data(|data| data.get(key)).await?
    }

    /// Stores `value` under `key`.
    ///
    /// # Errors
    ///
    /// [`Error::Value`] when `value` does not serialize; a store error when
    /// the record could not be loaded.
    pub async fn insert<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), Error> {
        self.with_data(|data| data.insert(key, value)).await?
    }

    /// Removes `key`; answers whether it was there.
    ///
    /// # Errors
    ///
    /// A store error when the record could not be loaded.
    pub async fn remove(&self, key: &str) -> Result<bool, Error> {
        self.with_data(|data| data.remove(key)).await
    }

    /// Whether `key` holds a value.
    ///
    /// # Errors
    ///
    /// A store error when the record could not be loaded.
    pub async fn contains_key(&self, key: &str) -> Result<bool, Error> {
        self.read_data(|data| data.contains_key(key)).await
    }

    /// Removes every value (the session, its ID and CSRF token stay).
    ///
    /// # Errors
    ///
    /// A store error when the record could not be loaded.
    pub async fn clear(&self) -> Result<(), Error> {
        self.with_data(SessionData::clear).await
    }

    /// The number of values.
    ///
    /// # Errors
    ///
    /// A store error when the record could not be loaded.
    pub async fn len(&self) -> Result<usize, Error> {
        self.read_data(SessionData::len).await
    }

    /// Whether the session holds no values.
    ///
    /// # Errors
    ///
    /// A store error when the record could not be loaded.
    pub async fn is_empty(&self) -> Result<bool, Error> {
        self.read_data(SessionData::is_empty).await
    }

    /// The keys, sorted.
    ///
    /// # Errors
    ///
    /// A store error when the record could not be loaded.
    pub async fn keys(&self) -> Result<Vec<String>, Error> {
        self.read_data(|data| data.keys().map(str::to_owned).collect())
            .await
    }

    /// Runs `f` on the data under the session's lock: several reads and
    /// writes at once, with one lock. Keep `f` short; it cannot `.await`.
    ///
    /// # Errors
    ///
    /// A store error when the record could not be loaded.
    pub async fn with_data<R>(&self, f: impl FnOnce(&mut SessionData) -> R) -> Result<R, Error> {
        let mut state = self.loaded_state().await?;
        Ok(f(&mut state.record_mut().data))
    }

    /// Runs `f` on the data without changing it, so a record shared with the
    /// commit queue is not copied.
    async fn read_data<R>(&self, f: impl FnOnce(&SessionData) -> R) -> Result<R, Error> {
        let state = self.loaded_state().await?;
        Ok(f(&state.record.data))
    }

    /// The session's CSRF token. Put it in forms and check it with
    /// [`verify_csrf`](Session::verify_csrf). The response is marked
    /// `Cache-Control: no-store`, since it shows the token.
    ///
    /// The token is an HMAC of the session ID under a key derived for this
    /// purpose, so it needs no storage: a visitor who only opens a form costs
    /// no store write. It stays the same when the session is first stored,
    /// changes when the ID rotates ([`cycle_id`](Session::cycle_id), login),
    /// and verifies under every key of the ring.
    ///
    /// # Errors
    ///
    /// A store error when the record could not be loaded.
    pub async fn csrf_token(&self) -> Result<String, Error> {
        let mut state = self.loaded_state().await?;
        state.private = true;
        let id = state.id();
        let mut mac = self.inner.config.keys.current().csrf.clone();
        mac.update(&id.0);
        Ok(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// Whether `candidate` is this session's CSRF token (under any key of the
    /// ring), compared in constant time. A session that has no ID yet matches
    /// nothing.
    ///
    /// # Errors
    ///
    /// A store error when the record could not be loaded.
    pub async fn verify_csrf(&self, candidate: &str) -> Result<bool, Error> {
        let state = self.loaded_state().await?;
        let id = match (&state.stored, &state.unstored) {
            (Some(stored), _) => stored.id,
            (None, Some(unstored)) => unstored.id,
            (None, None) => return Ok(false),
        };
        let mut decoded = [0u8; 33];
        let Ok(32) = URL_SAFE_NO_PAD.decode_slice(candidate, &mut decoded) else {
            return Ok(false);
        };
        Ok(self.inner.config.keys.all().any(|(_, key)| {
            let mut mac = key.csrf.clone();
            mac.update(&id.0);
            // `verify_slice` compares in constant time.
            mac.verify_slice(&decoded[..32]).is_ok()
        }))
    }

    /// Read-modify-write without lost updates: runs `f` on the session's data
    /// and commits its changes before answering, so the value returned
    /// describes committed state.
    ///
    /// Use it for counters, caps and carts: anything whose new value is
    /// computed from the old. Concurrent transactions on one session in this
    /// process are queued and committed in batches, one compare-and-set each;
    /// when another process wrote first, the whole batch runs again on the
    /// fresh data (so `f` may run more than once, and must not have side
    /// effects). `Ok(Err(e))`: `f` declined with `e`, and nothing of it was
    /// written. Plain [`insert`](Session::insert) and
    /// [`remove`](Session::remove) stay blind writes, merged at the end of the
    /// request; write one key either blind or in transactions within a
    /// request, never both.
    ///
    /// # Examples
    ///
    /// ```
    /// # use session_core::{KeyRing, MemoryStore, SessionManager};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::Error> {
    /// # let manager = SessionManager::builder(MemoryStore::new(), KeyRing::generate()).build().unwrap();
    /// # let session = manager.start([]);
    /// let visits = session
    ///     .transaction(|data| {
    ///         let visits = data.get::<u64>("visits")?.unwrap_or(0) + 1;
    ///         data.insert("visits", &visits)?;
    ///         Ok::<_, session_core::Error>(visits)
    ///     })
    ///     .await??;
    /// assert_eq!(visits, 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// A store error, [`Error::Contended`] when other processes kept winning
    /// for the whole contention budget, [`Error::Ended`] when a concurrent
    /// logout or rotation ended the session first (nothing is written, and no
    /// new session is made). A store error after the write was sent is never
    /// retried, so a transaction is never applied twice.
    pub async fn transaction<F, R, E>(&self, f: F) -> Result<Result<R, E>, Error>
    where
        F: FnMut(&mut SessionData) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: Send + 'static,
    {
        let mut state = self.loaded_state().await?;
        match self.transact(&mut state, f).await {
            Ok(answer) => Ok(answer),
            Err(error) => Err(state.fail(error, "transaction")),
        }
    }

    /// Gives the session a new ID, as on login or any change of privilege, so
    /// an ID an attacker planted or saw before is worthless after it.
    ///
    /// The data and the creation time carry over; the CSRF token is replaced.
    /// Changes other requests saved since this one loaded carry over. The new
    /// ID is claimed in the store before the old record is deleted, and if that
    /// delete fails the call fails (and the handle becomes a new empty
    /// session), rather than leave the old cookie working. A write racing the
    /// rotation under the old ID is dropped; if the session was logged out or
    /// rotated by another request meanwhile, that request wins and this handle
    /// becomes a new empty session.
    ///
    /// # Errors
    ///
    /// A store error when the record could not be loaded, the new ID claimed
    /// or the old record deleted.
    pub async fn cycle_id(&self) -> Result<(), Error> {
        let mut state = self.loaded_state().await?;
        self.rotate(&mut state).await
    }

    /// Logs `user` in: stores it under the manager's user key and rotates the
    /// session ID ([`cycle_id`](Session::cycle_id)) in one step, so the login
    /// never lands under an ID that existed before it.
    ///
    /// # Errors
    ///
    /// As [`cycle_id`](Session::cycle_id); the user is then not logged in.
    pub async fn login(&self, user: &str) -> Result<(), Error> {
        let mut state = self.loaded_state().await?;
        let key = &self.inner.config.login.user_key;
        if let Err(error) = state.record_mut().data.insert(key, user) {
            return Err(state.fail(error, "login"));
        }
        state.record_mut().user = Some(user.to_owned());
        self.rotate(&mut state).await
    }

    /// Logs out: the same as [`destroy`](Session::destroy).
    ///
    /// # Errors
    ///
    /// As [`destroy`](Session::destroy).
    pub async fn logout(&self) -> Result<(), Error> {
        self.destroy().await
    }

    /// The logged-in user (the value under the manager's user key) as a `T`,
    /// or `None` for an anonymous session. A value stored as another type (an
    /// older release's format, say) is logged and read as `None`: log in
    /// again rather than fail every request. The response is marked
    /// `Cache-Control: no-store`, since it is personal.
    ///
    /// # Errors
    ///
    /// A store error when the record could not be loaded.
    pub async fn current_user<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        let mut state = self.loaded_state().await?;
        let key = &self.inner.config.login.user_key;
        match state.record.data.get::<T>(key) {
            Ok(user) => {
                state.private |= user.is_some();
                Ok(user)
            }
            Err(error) => {
                tracing::warn!(%error, "the stored user does not decode; treating the session as anonymous");
                Ok(None)
            }
        }
    }

    /// Where to send this anonymous visitor: the manager's login URL with
    /// `wanted` (the path and query they asked for) as `next`. A valid
    /// `Location` header value.
    pub fn login_redirect(&self, wanted: &str) -> String {
        self.inner.config.login.redirect(wanted)
    }

    /// Ends the session: deletes its record now and has the response expire the
    /// cookie. The handle then acts as a new, empty session.
    ///
    /// # Errors
    ///
    /// A store error when the record could not be deleted; the session then
    /// still exists.
    pub async fn destroy(&self) -> Result<(), Error> {
        let mut state = self.lock_state().await;
        self.end_current(&mut state, Unlist::Yes).await
    }

    /// [`destroy`](Session::destroy), under the lock. A logged-in session is
    /// loaded first, to find its user's index and take it off (unless the
    /// caller emptied that index already).
    async fn end_current(&self, state: &mut State, unlist: Unlist) -> Result<(), Error> {
        let config = &self.inner.config;
        let logged_in = !state.loaded
            && state
                .incoming(&config.keys)
                .is_some_and(|incoming| incoming.flags.logged_in);
        if logged_in && let Err(error) = self.load(state).await {
            return Err(state.fail(error, "logout"));
        }
        let user = state.record.user.clone().filter(|_| state.loaded);
        let ended = if state.loaded {
            let created = state.record.created_at_ms;
            match (&state.stored, &state.unstored) {
                (Some(stored), _) => Some((stored.id, created, state.announced)),
                (None, Some(unstored)) => Some((unstored.id, created, unstored.from_cookie)),
                (None, None) => None,
            }
        } else {
            state.incoming(&self.inner.config.keys).map(|incoming| {
                let announced = incoming.flags.announced || !incoming.flags.stored;
                (incoming.id, incoming.created_at_ms, announced)
            })
        };
        if let Some((id, created, announced)) = ended {
            let key = id.store_key(&config.namespace);
            let ending = self.end_record(state, &key, created, announced).await;
            if let Err(error) = ending {
                return Err(state.fail(error.into(), "logout"));
            }
            telemetry::count(telemetry::DESTROYED);
            if let (Some(user), Unlist::Yes) = (user, unlist) {
                self.unlist(state, &user, &[key]).await;
            }
        }
        let client_has_cookie = state.had_cookie || state.cookie == CookieAction::Send;
        state.reset();
        if client_has_cookie {
            state.cookie = CookieAction::Expire;
        }
        Ok(())
    }

    /// The state, locked, and the session marked as used.
    async fn lock_state(&self) -> MutexGuard<'_, State> {
        self.inner.used.store(true, Ordering::Release);
        self.inner.state.lock().await
    }

    /// The state, locked, with the record loaded; a failure to load is
    /// remembered.
    async fn loaded_state(&self) -> Result<MutexGuard<'_, State>, Error> {
        let mut state = self.lock_state().await;
        if state.loaded {
            return Ok(state);
        }
        // Boxed: the load's future is large, and only a request's first use
        // runs it. Inline, every future that reads the session (and so the
        // handler's) would carry it, and be copied whole wherever it moves.
        match Box::pin(self.load(&mut state)).await {
            Ok(()) => Ok(state),
            Err(error) => Err(state.fail(error, "load")),
        }
    }

    async fn rotate(&self, state: &mut State) -> Result<(), Error> {
        let Some(old) = state.stored.clone() else {
            // Not stored yet: a new unstored ID (and so a new CSRF token),
            // claimed when the session is first saved.
            if state.unstored.take().is_some() {
                state.id();
            }
            return Ok(());
        };
        let moved = self.move_to_new_id(state, old).await;
        match moved {
            Ok(()) => Ok(()),
            Err(error) => {
                // Never let this request save its changes (a login, typically)
                // under the old ID, which an attacker may have planted.
                state.reset();
                Err(state.fail(error, "rotation"))
            }
        }
    }

    /// [`SessionManager::set`](crate::SessionManager::set): persists what
    /// changed and says what the response's `Set-Cookie` is.
    pub(crate) async fn save_and_cookie(&self) -> Result<Option<SetCookie>, Error> {
        let mut state = self.inner.state.lock().await;
        self.persist(&mut state).await?;
        Ok(self.cookie_to_send(&mut state))
    }

    /// Whether anything touched the session: one never used ends its request
    /// with nothing to save or send.
    pub(crate) fn is_used(&self) -> bool {
        self.inner.used.load(Ordering::Acquire)
    }

    /// [`SessionManager::finish`](crate::SessionManager::finish).
    pub(crate) async fn end_request(&self, status: u16) -> RequestEnd {
        if !self.is_used() {
            return RequestEnd::default();
        }
        let mut state = self.inner.state.lock().await;
        let config = &self.inner.config;
        let mut end = RequestEnd::default();
        if let Some(kind) = state.failure {
            end.error_reply = Some(config.error_reply(kind));
        } else if status < 500
            && let Err(error) = self.persist(&mut state).await
        {
            telemetry::failed(&error, "save");
            end.error_reply = Some(config.error_reply(error.kind()));
        }
        end.private = state.private;
        end.set_cookie = self.cookie_to_send(&mut state);
        end
    }

    /// The `Set-Cookie` the session's state calls for, once. Besides a new
    /// or rotated session, a cookie whose flags no longer match (the session
    /// was first stored, a user logged in or out) is sent again.
    fn cookie_to_send(&self, state: &mut State) -> Option<SetCookie> {
        let config = &self.inner.config;
        let now = state.now_ms();
        let created = state.record.created_at_ms;
        let (id, flags) = match (&state.stored, &state.unstored) {
            (Some(stored), _) => (
                stored.id,
                Flags {
                    stored: true,
                    logged_in: state.record.data.contains_key(&config.login.user_key),
                    announced: state.announced,
                },
            ),
            (None, Some(unstored)) => (unstored.id, Flags::default()),
            (None, None) => {
                return (std::mem::replace(&mut state.cookie, CookieAction::Keep)
                    == CookieAction::Expire)
                    .then(|| SetCookie::removal(Arc::clone(&config.cookie)));
            }
        };
        let action = std::mem::replace(&mut state.cookie, CookieAction::Keep);
        let stale = state
            .incoming_flags
            .is_some_and(|incoming| incoming != flags);
        match action {
            CookieAction::Expire => Some(SetCookie::removal(Arc::clone(&config.cookie))),
            CookieAction::Keep if !stale => None,
            CookieAction::Keep | CookieAction::Send => {
                state.incoming_flags = Some(flags);
                let left = if flags.stored {
                    expiry::time_left(config, created, now)
                } else {
                    expiry::unstored_time_left(config, created, now)
                };
                left.map(|left| {
                    SetCookie::new(
                        Arc::clone(&config.cookie),
                        signing::sign(&config.keys, &id, created, flags),
                        left,
                    )
                })
            }
        }
    }
}
