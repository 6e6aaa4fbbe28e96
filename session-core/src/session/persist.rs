//! How a [`Session`] reaches the store: the load on first use, the writes
//! (through the session's commit queue, see [`commit`](super::commit)), new
//! IDs and rotation.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::commit::{Committed, Failure, Job, Outcome, open_record, seal_record};
use super::{CookieAction, Session, State, Stored, Unstored, expiry};
use crate::codec::{self, Record};
use crate::data::{Changes, SessionData};
use crate::error::{Error, StoreError};
use crate::id::SessionId;
use crate::seal;
use crate::store::Version;
use crate::telemetry::{self, LoadOutcome, StoreOp, timed};
use crate::user_index;

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
        // The cookie's signed creation time and flags: a session past its
        // absolute timeout, or a record-less one past the anonymous idle
        // timeout, is refused without a store call, and a live one is kept
        // for exactly as long as it may still live.
        let now = state.now_ms();
        let created = incoming.created_at_ms;
        let flags = incoming.flags;
        let live = flags.stored || expiry::unstored_time_left(config, created, now).is_some();
        let ttl = expiry::load_ttl(config, created, now, flags.logged_in).filter(|_| live);
        let Some(ttl) = ttl else {
            tracing::debug!("session reached its timeout");
            telemetry::loaded(LoadOutcome::Expired);
            state.reset();
            return Ok(());
        };
        let key = incoming.id.store_key(&config.namespace);
        // Taken before the load, so the record read is at least as new as
        // anything this process committed before.
        let queue = config.committer.queue(&key);
        let generation = queue.generation();
        let deadline = state.deadline(config.store_budget);
        let loaded = within(
            deadline,
            StoreOp::LoadAndTouch,
            config.store.load_and_touch(&key, ttl),
        )
        .await?;
        state.reset();
        let Some(loaded) = loaded else {
            telemetry::loaded(LoadOutcome::Missing);
            if !flags.stored {
                // A session that holds nothing yet: its ID stands, and is
                // claimed when something is first stored.
                state.record_mut().created_at_ms = created;
                state.unstored = Some(Unstored {
                    id: incoming.id,
                    from_cookie: true,
                });
                state.incoming_flags = Some(flags);
            }
            // A stored session whose record is gone ended (logout,
            // revocation, expiry, eviction): its ID never comes back.
            return Ok(());
        };
        let version = loaded.version;
        let Some((record, sealed_by_old_key)) = open_record(config, &key, loaded.bytes) else {
            telemetry::loaded(LoadOutcome::Refused);
            return Ok(());
        };
        if record.created_at_ms != created {
            tracing::warn!(
                "session record does not match its cookie's creation time; treating it as empty"
            );
            telemetry::loaded(LoadOutcome::Refused);
            return Ok(());
        }
        if let Some(user) = record.user.as_deref()
            && !self
                .still_listed(user, &key, record.created_at_ms, deadline)
                .await?
        {
            tracing::info!("session is no longer in its user's index; treating it as ended");
            telemetry::loaded(LoadOutcome::Refused);
            return Ok(());
        }
        telemetry::loaded(LoadOutcome::Found);
        state.stored = Some(Stored {
            id: incoming.id,
            key,
            version,
            queue,
            generation,
        });
        state.record = Arc::new(record);
        state.reseal = sealed_by_old_key;
        state.incoming_flags = Some(flags);
        // A record found for a cookie without `stored` was claimed by a
        // concurrent request with the same cookie.
        state.announced = flags.announced || !flags.stored;
        if incoming.signed_by_old_key {
            state.cookie = CookieAction::Send;
        }
        Ok(())
    }

    /// Whether the user's index still lists the logged-in session at `key`
    /// (a lost index is rebuilt: see [`user_index::check`]), so that a
    /// session ended elsewhere, or claimed after "log out everywhere", is
    /// refused. Asked at most once per configured interval per session in this
    /// process; in between, the answer stands.
    async fn still_listed(
        &self,
        user: &str,
        key: &str,
        created_at_ms: u64,
        deadline: Instant,
    ) -> Result<bool, Error> {
        let config = &self.inner.config;
        let now = Instant::now();
        if !config
            .index_checks
            .due(key, config.index_check_interval, now)
        {
            return Ok(true);
        }
        let checked = user_index::check(config, user, key, created_at_ms, expiry::now_ms());
        let listed = within_budget(deadline, checked).await?;
        if listed {
            config
                .index_checks
                .passed(key, config.index_check_interval, now);
        }
        Ok(listed)
    }

    /// Saves a modified session at the end of the request: claims a fresh ID
    /// for a new one, or queues this request's blind writes for the session's
    /// next commit, where they are applied on top of the latest record.
    pub(super) async fn persist(&self, state: &mut State) -> Result<(), Error> {
        if !state.loaded || !state.is_modified() {
            return Ok(());
        }
        if state.stored.is_none() {
            if state.record.data.is_empty() {
                // Changed, but back to empty (an insert then a remove): a
                // session with nothing in it is never written.
                state.mark_saved();
                return Ok(());
            }
            let record = Arc::clone(&state.record);
            match self.claim(state, &record).await {
                Ok(Claim::Created) => {
                    state.mark_saved();
                    return Ok(());
                }
                Ok(Claim::Taken) => {}
                Err(Error::Ended) => {
                    state.reset();
                    return Ok(());
                }
                Err(error) => return Err(error),
            }
        }
        let changes = BlindWrites {
            data: state.record.data.changes(),
        };
        match self.commit(state, changes, Write::EndOfRequest).await {
            // A logout or rotation won; this request's changes are dropped
            // (and no new session replaces the ended one), as if the logout
            // had come just after.
            Err(Error::Ended) => Ok(()),
            result => result,
        }
    }

    /// Stores a session that has no record yet, writing `record`: under its
    /// own ID when the client already holds a cookie for it, else under a new
    /// one. `Taken` when a concurrent request with the same cookie stored it
    /// first: the session is then stored (at a version to be read), and the
    /// caller merges its changes through the commit queue. A cookie whose ID
    /// ended meanwhile (its tombstone is in the store) starts a new session.
    async fn claim(&self, state: &mut State, record: &Record) -> Result<Claim, Error> {
        let config = &self.inner.config;
        let now = state.now_ms();
        let Some(ttl) = expiry::ttl(config, record, now) else {
            tracing::debug!("session expired during the request; changes dropped");
            return Err(Error::Ended);
        };
        let deadline = state.deadline(config.store_budget);
        let wanted = state.unstored.take();
        if let Some(Unstored {
            id,
            from_cookie: true,
        }) = wanted
        {
            let key = id.store_key(&config.namespace);
            let queue = config.committer.queue(&key);
            let generation = queue.generation();
            let sealed = seal_record(config, &key, record).map_err(Failure::into_error)?;
            let created = within(
                deadline,
                StoreOp::Create,
                config.store.create(&key, &sealed, ttl),
            )
            .await?;
            let taken = created.is_none();
            if taken && self.has_ended(&key, deadline).await? {
                return self.claim_fresh(state, record, ttl, deadline, None).await;
            }
            state.announced = true;
            state.stored = Some(Stored {
                id,
                key,
                // Unknown when taken: no generation matches, so the commit
                // queue reads the record instead of trusting this one.
                version: created.unwrap_or(Version::from_u64(0)),
                queue,
                generation: if taken { u64::MAX } else { generation },
            });
            state.cookie = CookieAction::Send;
            if taken {
                return Ok(Claim::Taken);
            }
            telemetry::count(telemetry::CREATED);
            return Ok(Claim::Created);
        }
        let id = wanted.map(|unstored| unstored.id);
        self.claim_fresh(state, record, ttl, deadline, id).await
    }

    /// Stores `record` under `id` (an ID only this request knows) or, when
    /// that is taken, a new random one.
    async fn claim_fresh(
        &self,
        state: &mut State,
        record: &Record,
        ttl: Duration,
        deadline: Instant,
        id: Option<SessionId>,
    ) -> Result<Claim, Error> {
        let stored = self.claim_new_id(record, ttl, deadline, id).await?;
        telemetry::count(telemetry::CREATED);
        state.stored = Some(stored);
        state.announced = false;
        state.cookie = CookieAction::Send;
        Ok(Claim::Created)
    }

    /// Whether the record at `key` is the tombstone of an ended session (or
    /// vanished, or does not open), rather than a live session to merge into.
    async fn has_ended(&self, key: &str, deadline: Instant) -> Result<bool, Error> {
        let config = &self.inner.config;
        let loaded = within(deadline, StoreOp::Load, config.store.load(key)).await?;
        Ok(loaded
            .and_then(|loaded| open_record(config, key, loaded.bytes))
            .is_none())
    }

    /// A transaction: runs `f` on the session's data and commits its changes
    /// before answering; see [`Session::transaction`].
    pub(super) async fn transact<F, R, E>(
        &self,
        state: &mut State,
        mut f: F,
    ) -> Result<Result<R, E>, Error>
    where
        F: FnMut(&mut SessionData) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: Send + 'static,
    {
        if state.stored.is_none() {
            let fresh = !state.unstored.is_some_and(|unstored| unstored.from_cookie);
            if fresh {
                return self.transact_new(state, f).await;
            }
            // A cookie's record-less session: claim it empty, then commit
            // through the queue like any stored session (a concurrent request
            // with the same cookie may have stored it already).
            let empty = Record::new(state.record.created_at_ms);
            self.claim(state, &empty).await?;
        }
        let (sender, receiver) = oneshot::channel();
        let job = Transaction {
            run: move |data: &mut SessionData| f(data),
            answer: None,
            sender: Some(sender),
        };
        let offer_base = !state.is_modified();
        self.commit(state, job, Write::Transaction { offer_base })
            .await?;
        receiver.await.ok().flatten().ok_or_else(task_gone)
    }

    /// The first transaction of a new session: nobody else knows its ID, so
    /// it is created directly with the transaction's changes; this request's
    /// blind writes stay pending.
    async fn transact_new<F, R, E>(
        &self,
        state: &mut State,
        mut f: F,
    ) -> Result<Result<R, E>, Error>
    where
        F: FnMut(&mut SessionData) -> Result<R, E>,
    {
        let mut record = Record::new(state.record.created_at_ms);
        let value = match f(&mut record.data) {
            Ok(value) => value,
            Err(error) => return Ok(Err(error)),
        };
        self.claim(state, &record).await?;
        record.data.mark_saved();
        state.record_mut().data.rebase_onto(record.data);
        Ok(Ok(value))
    }

    /// Queues `job` on the session's commit queue and waits for its batch;
    /// then brings this request's state up to the committed record (keeping
    /// its other pending changes when `job` is a transaction).
    async fn commit<J: Job + 'static>(
        &self,
        state: &mut State,
        job: J,
        write: Write,
    ) -> Result<(), Error> {
        let offer_base = match write {
            Write::EndOfRequest => true,
            Write::Transaction { offer_base } => offer_base,
        };
        let deadline = state.deadline(self.inner.config.store_budget);
        let Some(stored) = state.stored.as_ref() else {
            return Ok(());
        };
        let (sender, receiver) = oneshot::channel();
        let base = offer_base.then(|| {
            let committed = Committed {
                record: Arc::clone(&state.record),
                version: stored.version,
            };
            (committed, stored.generation)
        });
        stored
            .queue
            .submit(&self.inner.config, base, Box::new(Notified { job, sender }));
        // Past the budget the request answers 503; the commit itself goes on
        // (its outcome is unknown to this request, so it is never retried).
        let outcome = match tokio::time::timeout_at(deadline.into(), receiver).await {
            Ok(outcome) => outcome.map_err(|_| task_gone())?,
            Err(_) => return Err(over_budget().into()),
        };
        match outcome {
            Outcome::Committed(committed, generation) => {
                if let Some(stored) = state.stored.as_mut() {
                    stored.version = committed.version;
                    stored.generation = generation;
                }
                if let Write::EndOfRequest = write {
                    // Every change of this request was in the job.
                    state.record = committed.record;
                    state.mark_saved();
                } else {
                    let stored = Record::clone(&committed.record).data;
                    state.record_mut().data.rebase_onto(stored);
                }
                Ok(())
            }
            Outcome::Aborted => Ok(()),
            Outcome::Failed(Failure::Ended) => {
                drop_changes(state);
                Err(Error::Ended)
            }
            Outcome::Failed(failure) => Err(failure.into_error()),
        }
    }

    /// The rotation itself: catch up with the stored record, claim a new ID
    /// with the data, delete the old record.
    ///
    /// The deadline may cut it short at any call, and that leaves no half
    /// rotation behind: the login data lives only in the new record, and a
    /// new record claimed without the old one deleted is deleted again.
    pub(super) async fn move_to_new_id(&self, state: &mut State, old: Stored) -> Result<(), Error> {
        let config = &self.inner.config;
        let deadline = state.deadline(config.store_budget);
        let latest = within(deadline, StoreOp::Load, config.store.load(&old.key)).await?;
        let Some((record, _)) =
            latest.and_then(|loaded| open_record(config, &old.key, loaded.bytes))
        else {
            drop_changes(state);
            return Ok(());
        };
        state.record_mut().data.rebase_onto(record.data);
        let now = state.now_ms();
        let Some(ttl) = expiry::ttl(config, &state.record, now) else {
            state.reset();
            return Ok(());
        };
        let new = self
            .claim_new_id(&state.record, ttl, deadline, None)
            .await?;
        let (created, announced) = (state.record.created_at_ms, state.announced);
        match self.end_record(state, &old.key, created, announced).await {
            Ok(true) => {}
            Ok(false) => {
                // A concurrent logout or rotation deleted it first: that one
                // wins, and the copy just claimed must not outlive it.
                self.abandon(new.key);
                drop_changes(state);
                return Ok(());
            }
            Err(error) => {
                self.abandon(new.key);
                return Err(error.into());
            }
        }
        telemetry::count(telemetry::ROTATED);
        state.stored = Some(new);
        state.announced = false;
        state.mark_saved();
        state.cookie = CookieAction::Send;
        Ok(())
    }

    /// Ends the session stored at `key`, created at `created_at_ms`: deletes
    /// its record and answers whether it existed. When a cookie naming this
    /// ID without a record was `announced` and could still be accepted (the
    /// anonymous idle timeout from its creation), a tombstone takes the
    /// record's place, so such a cookie never brings the ID back.
    pub(super) async fn end_record(
        &self,
        state: &mut State,
        key: &str,
        created_at_ms: u64,
        announced: bool,
    ) -> Result<bool, StoreError> {
        let config = &self.inner.config;
        let deadline = state.deadline(config.store_budget);
        let existed = within(deadline, StoreOp::Delete, config.store.delete(key)).await?;
        // Its user's index no longer lists it: a copy of the record put back
        // by a store writer must meet the index check, not a remembered pass.
        config.index_checks.forget(key);
        let now = state.now_ms();
        let window = expiry::unstored_time_left(config, created_at_ms, now);
        if let Some(window) = window.filter(|_| announced) {
            let tombstone = seal::seal_with(&config.keys, key, codec::TOMBSTONE.len(), |buffer| {
                buffer.extend_from_slice(codec::TOMBSTONE)
            });
            let buried = config.store.create(key, &tombstone, window);
            within(deadline, StoreOp::Create, buried).await?;
        }
        Ok(existed)
    }

    /// Deletes a record claimed for a rotation that did not complete, in a
    /// task of its own that no request deadline cuts short.
    fn abandon(&self, key: String) {
        let config = Arc::clone(&self.inner.config);
        tokio::spawn(async move {
            if let Err(error) = timed(StoreOp::Delete, config.store.delete(&key)).await {
                tracing::warn!(%error, "could not delete an abandoned rotated session record");
            }
        });
    }

    /// Writes `record` under `first` (an ID only this request knows) or a
    /// new random ID, never overwriting.
    async fn claim_new_id(
        &self,
        record: &Record,
        ttl: Duration,
        deadline: Instant,
        first: Option<SessionId>,
    ) -> Result<Stored, Error> {
        let config = &self.inner.config;
        let mut first = first;
        for _ in 0..ID_CLAIM_ATTEMPTS {
            let id = first.take().unwrap_or_else(SessionId::generate);
            let key = id.store_key(&config.namespace);
            let sealed = seal_record(config, &key, record).map_err(Failure::into_error)?;
            if let Some(user) = record.user.as_deref() {
                // Listed before it exists: a failure in between leaves an
                // entry that pruning removes, never an unlisted session.
                let now = expiry::now_ms();
                let entry = user_index::Entry::new(config, &key, record.created_at_ms, now);
                let listed = user_index::update(config, user, now, |index| {
                    index.entries.push(entry.clone());
                });
                within_budget(deadline, listed).await?;
            }
            let queue = config.committer.queue(&key);
            let generation = queue.generation();
            let created = within(
                deadline,
                StoreOp::Create,
                config.store.create(&key, &sealed, ttl),
            )
            .await?;
            if let Some(version) = created {
                return Ok(Stored {
                    id,
                    key,
                    version,
                    queue,
                    generation,
                });
            }
            tracing::warn!("a freshly generated session ID was already taken");
        }
        Err(
            StoreError::other("the store reported every freshly generated session ID as taken")
                .into(),
        )
    }
}

/// How storing a record-less session went.
#[derive(Debug, Clone, Copy)]
enum Claim {
    /// Its record was written.
    Created,
    /// A concurrent request stored it first.
    Taken,
}

/// What a commit writes.
#[derive(Debug, Clone, Copy)]
enum Write {
    /// Every pending change of the request. Its record is the stored one plus
    /// exactly these changes, so it may serve as the batch's starting point
    /// (applying them again changes nothing).
    EndOfRequest,
    /// A transaction's own changes. The request's record may serve as the
    /// starting point only while it holds no pending change of its own.
    Transaction { offer_base: bool },
}

/// Runs one store call within the request's budget; a call still running at
/// the deadline is cancelled and counts as the store being unavailable.
async fn within<T>(
    deadline: Instant,
    op: StoreOp,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout_at(deadline.into(), timed(op, call))
        .await
        .unwrap_or_else(|_| Err(over_budget()))
}

/// Runs several store calls (a user's index, say) within the request's
/// budget; past the deadline they are cancelled and the store counts as
/// unavailable.
pub(crate) async fn within_budget<T, E: From<StoreError>>(
    deadline: Instant,
    calls: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    tokio::time::timeout_at(deadline.into(), calls)
        .await
        .unwrap_or_else(|_| Err(over_budget().into()))
}

fn over_budget() -> StoreError {
    StoreError::unavailable("the request's store budget ran out")
}

fn task_gone() -> Error {
    StoreError::other("the session's commit task ended without an answer").into()
}

/// The record was deleted (logout) or moved (ID rotation) by a concurrent
/// request: that request wins, and this one's changes are not applied.
fn drop_changes(state: &mut State) {
    tracing::info!(
        "session ended by a concurrent request before this one saved; its changes are dropped"
    );
    state.reset();
}

/// A job whose submitter waits for its outcome on a channel.
struct Notified<J> {
    job: J,
    sender: oneshot::Sender<Outcome>,
}

impl<J: Job> Job for Notified<J> {
    fn apply(&mut self, record: &mut Record) -> bool {
        self.job.apply(record)
    }

    fn finish(self: Box<Self>, outcome: Outcome) {
        let Notified { job, sender } = *self;
        let mirrored = match &outcome {
            Outcome::Committed(committed, generation) => {
                Outcome::Committed(committed.clone(), *generation)
            }
            Outcome::Aborted => Outcome::Aborted,
            Outcome::Failed(failure) => Outcome::Failed(failure.clone()),
        };
        Box::new(job).finish(mirrored);
        // The request may have been cancelled meanwhile: the commit stands.
        let _ = sender.send(outcome);
    }
}

/// The end of a request's blind writes: its changed keys, applied on top of
/// whatever the session holds by then.
struct BlindWrites {
    data: Changes,
}

impl Job for BlindWrites {
    fn apply(&mut self, record: &mut Record) -> bool {
        self.data.apply_to(&mut record.data);
        true
    }

    fn finish(self: Box<Self>, _outcome: Outcome) {}
}

/// A transaction's closure and its answer, sent once its batch committed.
struct Transaction<F, R, E> {
    run: F,
    answer: Option<Result<R, E>>,
    sender: Option<oneshot::Sender<Option<Result<R, E>>>>,
}

impl<F, R, E> Job for Transaction<F, R, E>
where
    F: FnMut(&mut SessionData) -> Result<R, E> + Send,
    R: Send,
    E: Send,
{
    fn apply(&mut self, record: &mut Record) -> bool {
        let before = record.data.clone();
        let answer = (self.run)(&mut record.data);
        let applied = answer.is_ok();
        if !applied {
            record.data = before;
        }
        self.answer = Some(answer);
        applied
    }

    fn finish(mut self: Box<Self>, outcome: Outcome) {
        let answer = match outcome {
            Outcome::Committed(..) | Outcome::Aborted => self.answer.take(),
            Outcome::Failed(_) => None,
        };
        if let Some(sender) = self.sender.take() {
            let _ = sender.send(answer);
        }
    }
}
