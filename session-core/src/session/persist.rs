//! How a [`Session`] reaches the store: the load on first use, the save at the
//! end of the request with its compare-and-set loop, ID rotation, and sealing.

use std::time::{Duration, Instant};

use super::{CookieAction, Session, State, Stored, expiry};
use crate::codec::{self, Record};
use crate::error::{Error, StoreError};
use crate::id::SessionId;
use crate::seal;
use crate::store::SaveOutcome;
use crate::telemetry::{self, LoadOutcome, timed};

/// How many fresh IDs to try when claiming one finds it taken. With 256-bit
/// IDs a single collision is already beyond belief; more than this means the
/// store is answering wrongly.
const ID_CLAIM_ATTEMPTS: usize = 4;

impl Session {
    /// Loads the record on first use: one store call that also pushes the idle
    /// timeout forward (never past the absolute timeout). A missing, expired,
    /// unreadable or forged record gives a new empty session (with a fresh ID
    /// when saved).
    pub(super) async fn load(&self, state: &mut State) -> Result<(), Error> {
        if state.loaded {
            return Ok(());
        }
        let config = &self.inner.config;
        let Some(incoming) = state.incoming(&config.keys) else {
            state.reset();
            return Ok(());
        };
        // The cookie's signed creation time: a session past its absolute
        // timeout is refused without a store call, and a live one is kept
        // for exactly as long as it may still live.
        let now = state.now_ms();
        let Some(ttl) = expiry::ttl(config, incoming.created_at_ms, now) else {
            tracing::debug!("session reached its absolute timeout");
            telemetry::loaded(LoadOutcome::Expired);
            state.reset();
            return Ok(());
        };
        let key = incoming.id.store_key(&config.namespace);
        let loaded = timed("load_and_touch", config.store.load_and_touch(&key, ttl)).await?;
        state.reset();
        let Some(loaded) = loaded else {
            telemetry::loaded(LoadOutcome::Missing);
            return Ok(());
        };
        let version = loaded.version;
        let Some((record, sealed_by_old_key)) = self.open(&key, loaded.bytes) else {
            telemetry::loaded(LoadOutcome::Refused);
            return Ok(());
        };
        if record.created_at_ms != incoming.created_at_ms {
            tracing::warn!(
                "session record does not match its cookie's creation time; treating it as empty"
            );
            telemetry::loaded(LoadOutcome::Refused);
            return Ok(());
        }
        telemetry::loaded(LoadOutcome::Found);
        state.stored = Some(Stored {
            id: incoming.id,
            key,
            version,
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
    pub(super) async fn persist(&self, state: &mut State) -> Result<(), Error> {
        if !state.loaded || !state.is_modified() {
            return Ok(());
        }
        let now = state.now_ms();
        let Some(ttl) = expiry::ttl(&self.inner.config, state.record.created_at_ms, now) else {
            tracing::debug!("session expired during the request; changes dropped");
            state.reset();
            return Ok(());
        };
        match state.stored.clone() {
            None if state.record.data.is_empty() && state.record.csrf.is_none() => {
                // Changed, but back to empty (an insert then a remove): a new
                // session with nothing in it is never written.
                state.mark_saved();
                Ok(())
            }
            None => {
                state.stored = Some(self.claim_new_id(state, ttl).await?);
                telemetry::count(telemetry::CREATED);
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
        let compare = config.store.supports_compare_and_set();
        let started = Instant::now();
        for attempt in 0..config.max_save_attempts {
            if attempt > 0 {
                telemetry::count(telemetry::RETRIES);
            }
            let sealed = self.seal(&stored.key, &state.record)?;
            let expected = compare.then_some(stored.version);
            let saved = config.store.save(&stored.key, &sealed, ttl, expected);
            match timed("save", saved).await? {
                SaveOutcome::Saved(version) => {
                    telemetry::count(telemetry::SAVED);
                    state.stored = Some(Stored { version, ..stored });
                    state.mark_saved();
                    // No new cookie: its value (ID, creation time) is
                    // unchanged, and its Max-Age counts down to the absolute
                    // timeout, which a write does not move.
                    return Ok(());
                }
                SaveOutcome::Gone => {
                    drop_changes(state);
                    return Ok(());
                }
                SaveOutcome::Conflict => telemetry::count(telemetry::CONFLICTS),
            }
            if !self.catch_up(state, &mut stored).await? {
                drop_changes(state);
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

    /// The rotation itself: catch up with the stored record, claim a new ID
    /// with the data, delete the old record.
    pub(super) async fn move_to_new_id(
        &self,
        state: &mut State,
        mut old: Stored,
    ) -> Result<(), Error> {
        if !self.catch_up(state, &mut old).await? {
            drop_changes(state);
            return Ok(());
        }
        let now = state.now_ms();
        let Some(ttl) = expiry::ttl(&self.inner.config, state.record.created_at_ms, now) else {
            state.reset();
            return Ok(());
        };
        let new = self.claim_new_id(state, ttl).await?;
        if !self.delete_record(&old.key).await? {
            // A concurrent logout or rotation deleted it first: that one wins,
            // and the copy just claimed must not outlive it.
            if let Err(error) = self.delete_record(&new.key).await {
                tracing::warn!(%error, "could not delete an abandoned rotated session record");
            }
            drop_changes(state);
            return Ok(());
        }
        telemetry::count(telemetry::ROTATED);
        state.stored = Some(new);
        state.mark_saved();
        state.cookie = CookieAction::Send;
        Ok(())
    }

    /// Deletes the record at `key`; answers whether it existed.
    pub(super) async fn delete_record(&self, key: &str) -> Result<bool, StoreError> {
        timed("delete", self.inner.config.store.delete(key)).await
    }

    /// Brings this request up to date with the stored record: reloads it and,
    /// when another request saved it since, re-applies this request's own
    /// changes on top. Answers false when the record is gone or no longer
    /// opens: a logout or rotation won.
    async fn catch_up(&self, state: &mut State, stored: &mut Stored) -> Result<bool, Error> {
        let loaded = timed("load", self.inner.config.store.load(&stored.key)).await?;
        let Some(loaded) = loaded else {
            return Ok(false);
        };
        if loaded.version == stored.version {
            return Ok(true);
        }
        let version = loaded.version;
        let Some((record, _)) = self.open(&stored.key, loaded.bytes) else {
            return Ok(false);
        };
        state.record.data.rebase_onto(record.data);
        if !state.csrf_changed {
            state.record.csrf = record.csrf;
        }
        stored.version = version;
        Ok(true)
    }

    /// Writes the whole session under a new random ID, never overwriting.
    async fn claim_new_id(&self, state: &State, ttl: Duration) -> Result<Stored, Error> {
        let config = &self.inner.config;
        for _ in 0..ID_CLAIM_ATTEMPTS {
            let id = SessionId::generate();
            let key = id.store_key(&config.namespace);
            let sealed = self.seal(&key, &state.record)?;
            if let Some(version) = timed("create", config.store.create(&key, &sealed, ttl)).await? {
                return Ok(Stored { id, key, version });
            }
            tracing::warn!("a freshly generated session ID was already taken");
        }
        Err(
            StoreError::other("the store reported every freshly generated session ID as taken")
                .into(),
        )
    }

    fn seal(&self, key: &str, record: &Record) -> Result<Vec<u8>, Error> {
        let config = &self.inner.config;
        let sealed = seal::seal_with(&config.keys, key, codec::encoded_len_hint(record), |buffer| {
            codec::encode_into(record, buffer)
        });
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
}

/// The record was deleted (logout) or moved (ID rotation) by a concurrent
/// request: that request wins, and this one's changes are not applied.
fn drop_changes(state: &mut State) {
    tracing::info!(
        "session ended by a concurrent request before this one saved; its changes are dropped"
    );
    state.reset();
}
