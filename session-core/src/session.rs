//! [`Session`]: the per-request handle, and everything that happens to a
//! session between the request's cookie and the response's `Set-Cookie`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;

use crate::codec::{self, Record};
use crate::cookie::SetCookie;
use crate::data::SessionData;
use crate::error::{Error, StoreError};
use crate::id::{SessionId, random_bytes};
use crate::manager::Config;
use crate::seal;
use crate::signing::{self, Verified};
use crate::store::{SaveOutcome, Version};

/// How many fresh IDs to try when claiming one finds it taken. With 256-bit
/// IDs a single collision is already beyond belief; more than this means the
/// store is answering wrongly.
const ID_CLAIM_ATTEMPTS: usize = 4;

/// A session for the length of one request.
///
/// Cheap to clone (clones share the state), `Send + Sync`, and safe to hold
/// across `.await`. Nothing is read from the store until the first method that
/// needs the data, so a handler that never touches its session costs no store
/// call. Reads never mark the session modified; the adapter saves it at the end
/// of the request only if something changed, or call [`save`](Session::save).
/// A response sets the cookie when the session was created, changed, rotated
/// or destroyed, and never for a request that only read it.
///
/// All methods are `async` because the first one loads the record. Each takes
/// an internal lock for a moment; none holds it across your code.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<Config>,
    state: Mutex<State>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

/// Where a session's record lives, once it is in the store.
#[derive(Debug, Clone, Copy)]
struct Stored {
    id: SessionId,
    version: Version,
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
    /// The verified ID from the request's cookie; only a lookup key until the
    /// record is found, never adopted for a new session.
    incoming: Option<Verified>,
    /// Whether the request carried a session cookie at all, valid or not.
    had_cookie: bool,
    loaded: bool,
    stored: Option<Stored>,
    /// Creation time, CSRF token and data: what gets sealed and stored.
    record: Record,
    csrf_changed: bool,
    /// The record was sealed by an older key: save it under the current one.
    reseal: bool,
    cookie: CookieAction,
}

impl State {
    fn is_modified(&self) -> bool {
        self.record.data.is_modified() || self.csrf_changed || self.reseal
    }

    /// Becomes a new, empty, unsaved session.
    fn reset(&mut self) {
        self.loaded = true;
        self.stored = None;
        self.record = Record::new(now_ms());
        self.csrf_changed = false;
        self.reseal = false;
        self.cookie = CookieAction::Keep;
    }

    fn mark_saved(&mut self) {
        self.record.data.mark_saved();
        self.csrf_changed = false;
        self.reseal = false;
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

impl Session {
    pub(crate) fn new(config: Arc<Config>, incoming: Option<Verified>, had_cookie: bool) -> Self {
        let state = State {
            incoming,
            had_cookie,
            loaded: false,
            stored: None,
            record: Record::new(0),
            csrf_changed: false,
            reseal: false,
            cookie: CookieAction::Keep,
        };
        Self {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(state),
            }),
        }
    }

    /// The value under `key` as a `T`, or `None`.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        self.with_data(|data| data.get(key)).await?
    }

    /// Stores `value` under `key`.
    pub async fn insert<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), Error> {
        self.with_data(|data| data.insert(key, value)).await?
    }

    /// Removes `key`; answers whether it was there.
    pub async fn remove(&self, key: &str) -> Result<bool, Error> {
        self.with_data(|data| data.remove(key)).await
    }

    /// Whether `key` holds a value.
    pub async fn contains_key(&self, key: &str) -> Result<bool, Error> {
        self.with_data(|data| data.contains_key(key)).await
    }

    /// Removes every value (the session, its ID and CSRF token stay).
    pub async fn clear(&self) -> Result<(), Error> {
        self.with_data(SessionData::clear).await
    }

    /// The number of values.
    pub async fn len(&self) -> Result<usize, Error> {
        self.with_data(|data| data.len()).await
    }

    /// Whether the session holds no values.
    pub async fn is_empty(&self) -> Result<bool, Error> {
        self.with_data(|data| data.is_empty()).await
    }

    /// The keys, sorted.
    pub async fn keys(&self) -> Result<Vec<String>, Error> {
        self.with_data(|data| data.keys().map(str::to_owned).collect())
            .await
    }

    /// Runs `f` on the data under the session's lock: several reads and
    /// writes at once, with one lock. Keep `f` short; it cannot `.await`.
    pub async fn with_data<R>(&self, f: impl FnOnce(&mut SessionData) -> R) -> Result<R, Error> {
        let mut state = self.inner.state.lock().await;
        self.load(&mut state).await?;
        Ok(f(&mut state.record.data))
    }

    /// The session's CSRF token, created on first use. Put it in forms and
    /// check it with [`verify_csrf`](Session::verify_csrf).
    pub async fn csrf_token(&self) -> Result<String, Error> {
        let mut state = self.inner.state.lock().await;
        self.load(&mut state).await?;
        let token = match state.record.csrf {
            Some(token) => token,
            None => {
                let token = random_bytes();
                state.record.csrf = Some(token);
                state.csrf_changed = true;
                token
            }
        };
        Ok(URL_SAFE_NO_PAD.encode(token))
    }

    /// Whether `candidate` is this session's CSRF token, compared in constant
    /// time. A session without a token matches nothing.
    pub async fn verify_csrf(&self, candidate: &str) -> Result<bool, Error> {
        let mut state = self.inner.state.lock().await;
        self.load(&mut state).await?;
        let Some(token) = state.record.csrf else {
            return Ok(false);
        };
        let mut decoded = [0u8; 33];
        Ok(
            match URL_SAFE_NO_PAD.decode_slice(candidate, &mut decoded) {
                Ok(32) => bool::from(decoded[..32].ct_eq(&token)),
                _ => false,
            },
        )
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
    pub async fn cycle_id(&self) -> Result<(), Error> {
        let mut state = self.inner.state.lock().await;
        self.load(&mut state).await?;
        if state.record.csrf.is_some() {
            state.record.csrf = Some(random_bytes());
            state.csrf_changed = true;
        }
        let Some(old) = state.stored else {
            // Not stored yet: it gets a fresh ID when it is first saved.
            return Ok(());
        };
        let moved = self.move_to_new_id(&mut state, old).await;
        if moved.is_err() {
            // Never let this request save its changes (a login, typically)
            // under the old ID, which an attacker may have planted.
            state.reset();
        }
        moved
    }

    /// Ends the session: deletes its record now and has the response expire the
    /// cookie. The handle then acts as a new, empty session.
    pub async fn destroy(&self) -> Result<(), Error> {
        let mut state = self.inner.state.lock().await;
        let id = if state.loaded {
            state.stored.map(|stored| stored.id)
        } else {
            state.incoming.map(|incoming| incoming.id)
        };
        if let Some(id) = id {
            let config = &self.inner.config;
            config
                .store
                .delete(&id.store_key(&config.namespace))
                .await?;
        }
        let client_has_cookie = state.had_cookie || state.cookie == CookieAction::Send;
        state.reset();
        if client_has_cookie {
            state.cookie = CookieAction::Expire;
        }
        Ok(())
    }

    /// Writes the changes now instead of at the end of the request.
    pub async fn save(&self) -> Result<(), Error> {
        let mut state = self.inner.state.lock().await;
        self.persist(&mut state).await
    }

    /// Persists what changed and says what the response's `Set-Cookie` is:
    /// the core of [`SessionManager::set`](crate::SessionManager::set).
    pub(crate) async fn finish(&self) -> Result<Option<SetCookie>, Error> {
        let mut state = self.inner.state.lock().await;
        if !state.loaded {
            return Ok(None);
        }
        self.persist(&mut state).await?;
        let config = &self.inner.config;
        let action = std::mem::replace(&mut state.cookie, CookieAction::Keep);
        Ok(match (action, state.stored) {
            (CookieAction::Send, Some(stored)) => {
                self.time_left(state.record.created_at_ms).map(|left| {
                    SetCookie::new(
                        Arc::clone(&config.cookie),
                        signing::sign(&config.keys, &stored.id, state.record.created_at_ms),
                        left,
                    )
                })
            }
            (CookieAction::Expire, _) => Some(SetCookie::removal(Arc::clone(&config.cookie))),
            _ => None,
        })
    }

    /// Loads the record on first use: one store call that also pushes the idle
    /// timeout forward (never past the absolute timeout). A missing, expired,
    /// unreadable or forged record gives a new empty session (with a fresh ID
    /// when saved).
    async fn load(&self, state: &mut State) -> Result<(), Error> {
        if state.loaded {
            return Ok(());
        }
        let Some(incoming) = state.incoming else {
            state.reset();
            return Ok(());
        };
        // The cookie's signed creation time: a session past its absolute
        // timeout is refused without a store call, and a live one is kept
        // for exactly as long as it may still live.
        let Some(ttl) = self.ttl(incoming.created_at_ms) else {
            tracing::debug!("session reached its absolute timeout");
            state.reset();
            return Ok(());
        };
        let config = &self.inner.config;
        let key = incoming.id.store_key(&config.namespace);
        let loaded = config.store.load_and_touch(&key, ttl).await?;
        state.reset();
        let Some(loaded) = loaded else {
            return Ok(());
        };
        let Some((record, sealed_by_old_key)) = self.open(&key, loaded.bytes) else {
            return Ok(());
        };
        if record.created_at_ms != incoming.created_at_ms {
            tracing::warn!(
                "session record does not match its cookie's creation time; treating it as empty"
            );
            return Ok(());
        }
        state.stored = Some(Stored {
            id: incoming.id,
            version: loaded.version,
        });
        state.record = record;
        state.reseal = sealed_by_old_key;
        if incoming.signed_by_old_key {
            state.cookie = CookieAction::Send;
        }
        Ok(())
    }

    /// Saves a modified session: claims a fresh ID for a new one, or
    /// compare-and-sets an existing one, merging with concurrent writers.
    async fn persist(&self, state: &mut State) -> Result<(), Error> {
        if !state.loaded || !state.is_modified() {
            return Ok(());
        }
        let Some(ttl) = self.ttl(state.record.created_at_ms) else {
            tracing::debug!("session expired during the request; changes dropped");
            state.reset();
            return Ok(());
        };
        match state.stored {
            None if state.record.data.is_empty() && state.record.csrf.is_none() => {
                // Changed, but back to empty (an insert then a remove): a new
                // session with nothing in it is never written.
                state.mark_saved();
                Ok(())
            }
            None => {
                state.stored = Some(self.claim_new_id(state, ttl).await?);
                state.mark_saved();
                state.cookie = CookieAction::Send;
                Ok(())
            }
            Some(stored) => self.save_existing(state, stored, ttl).await,
        }
    }

    /// Compare-and-set, and on conflict: reload, re-apply this request's own
    /// changes on top, try again, within the configured attempts.
    async fn save_existing(
        &self,
        state: &mut State,
        mut stored: Stored,
        ttl: Duration,
    ) -> Result<(), Error> {
        let config = &self.inner.config;
        let key = stored.id.store_key(&config.namespace);
        let compare = config.store.supports_compare_and_set();
        let started = Instant::now();
        for _ in 0..config.max_save_attempts {
            let sealed = self.seal(&key, state)?;
            let expected = compare.then_some(stored.version);
            match config.store.save(&key, &sealed, ttl, expected).await? {
                SaveOutcome::Saved(version) => {
                    state.stored = Some(Stored { version, ..stored });
                    state.mark_saved();
                    // A changed session re-sends its cookie (same ID, fresh
                    // Max-Age, current signing key), as browsers expect.
                    state.cookie = CookieAction::Send;
                    return Ok(());
                }
                SaveOutcome::Gone => {
                    self.drop_changes(state);
                    return Ok(());
                }
                SaveOutcome::Conflict => {}
            }
            if !self.catch_up(state, &key, &mut stored).await? {
                self.drop_changes(state);
                return Ok(());
            }
            tokio::task::yield_now().await;
        }
        let (attempts, elapsed) = (config.max_save_attempts, started.elapsed());
        tracing::warn!(
            attempts,
            ?elapsed,
            "session save kept conflicting with concurrent writers"
        );
        Err(Error::Contended { attempts, elapsed })
    }

    /// The record was deleted (logout) or moved (ID rotation) by a concurrent
    /// request: that request wins, and this one's changes are not applied.
    fn drop_changes(&self, state: &mut State) {
        tracing::info!(
            "session ended by a concurrent request before this one saved; its changes are dropped"
        );
        state.reset();
    }

    /// The rotation itself: catch up with the stored record, claim a new ID
    /// with the data, delete the old record.
    async fn move_to_new_id(&self, state: &mut State, mut old: Stored) -> Result<(), Error> {
        let config = &self.inner.config;
        let old_key = old.id.store_key(&config.namespace);
        if !self.catch_up(state, &old_key, &mut old).await? {
            self.drop_changes(state);
            return Ok(());
        }
        let Some(ttl) = self.ttl(state.record.created_at_ms) else {
            state.reset();
            return Ok(());
        };
        let new = self.claim_new_id(state, ttl).await?;
        if !config.store.delete(&old_key).await? {
            // A concurrent logout or rotation deleted it first: that one wins,
            // and the copy just claimed must not outlive it.
            if let Err(error) = config
                .store
                .delete(&new.id.store_key(&config.namespace))
                .await
            {
                tracing::warn!(%error, "could not delete an abandoned rotated session record");
            }
            self.drop_changes(state);
            return Ok(());
        }
        state.stored = Some(new);
        state.mark_saved();
        state.cookie = CookieAction::Send;
        Ok(())
    }

    /// Brings this request up to date with the stored record: reloads it and,
    /// when another request saved it since, re-applies this request's own
    /// changes on top. Answers false when the record is gone or no longer
    /// opens: a logout or rotation won.
    async fn catch_up(
        &self,
        state: &mut State,
        key: &str,
        stored: &mut Stored,
    ) -> Result<bool, Error> {
        let Some(loaded) = self.inner.config.store.load(key).await? else {
            return Ok(false);
        };
        if loaded.version == stored.version {
            return Ok(true);
        }
        let Some((record, _)) = self.open(key, loaded.bytes) else {
            return Ok(false);
        };
        state.record.data.rebase_onto(record.data);
        if !state.csrf_changed {
            state.record.csrf = record.csrf;
        }
        stored.version = loaded.version;
        Ok(true)
    }

    /// Writes the whole session under a new random ID, never overwriting.
    async fn claim_new_id(&self, state: &State, ttl: Duration) -> Result<Stored, Error> {
        let config = &self.inner.config;
        for _ in 0..ID_CLAIM_ATTEMPTS {
            let id = SessionId::generate();
            let key = id.store_key(&config.namespace);
            let sealed = self.seal(&key, state)?;
            if let Some(version) = config.store.create(&key, &sealed, ttl).await? {
                return Ok(Stored { id, version });
            }
            tracing::warn!("a freshly generated session ID was already taken");
        }
        Err(
            StoreError::other("the store reported every freshly generated session ID as taken")
                .into(),
        )
    }

    fn seal(&self, key: &str, state: &State) -> Result<Vec<u8>, Error> {
        let config = &self.inner.config;
        let sealed = seal::seal(&config.keys, key, &codec::encode(&state.record));
        if sealed.len() > config.max_record_bytes {
            return Err(Error::TooLarge {
                size: sealed.len(),
                limit: config.max_record_bytes,
            });
        }
        Ok(sealed)
    }

    /// Opens and decodes a stored record; `None` (and a warning) when it is
    /// forged, altered, moved, under a retired key, or undecodable.
    fn open(&self, key: &str, bytes: Vec<u8>) -> Option<(Record, bool)> {
        let opened = seal::open(&self.inner.config.keys, key, bytes)
            .inspect_err(|error| {
                tracing::warn!(?error, "session record does not open; treating it as empty")
            })
            .ok()?;
        let record = codec::decode(&opened.plaintext)
            .inspect_err(|error| tracing::warn!(%error, "session record does not decode; treating it as empty"))
            .ok()?;
        Some((record, opened.sealed_by_old_key))
    }

    /// The time left before the absolute timeout, rounded up to whole
    /// seconds (so a live session never reads as zero), or `None` once it has
    /// passed.
    fn time_left(&self, created_at_ms: u64) -> Option<Duration> {
        let absolute =
            u64::try_from(self.inner.config.absolute_timeout.as_millis()).unwrap_or(u64::MAX);
        let left_ms = created_at_ms
            .saturating_add(absolute)
            .saturating_sub(now_ms());
        (left_ms > 0).then(|| Duration::from_secs(left_ms.div_ceil(1_000)))
    }

    /// The TTL to give the store: the idle timeout, cut short by the absolute
    /// one, and at least a second (stores count in whole seconds). A record
    /// may so outlive its absolute timeout by up to a second; the check on
    /// every load refuses it all the same, so a session never lives longer,
    /// nor ends early.
    fn ttl(&self, created_at_ms: u64) -> Option<Duration> {
        self.time_left(created_at_ms)
            .map(|left| left.min(self.inner.config.idle_timeout))
    }
}
