//! Group commit: within one process, every write of a session goes through one
//! queue per session, so the store sees one compare-and-set at a time from
//! this process and writers of one process never conflict with each other.
//!
//! Requests submit *jobs* (a transaction's closure, or the end of a request's
//! blind writes) to the session's [`Queue`]. The first submitter starts a
//! leader task that takes everything queued, applies it in order to the latest
//! record, and commits the batch with one compare-and-set; whatever queued up
//! meanwhile is the next batch. A hot session's commit rate is so bounded by
//! store round trips, not by retries. The leader is a spawned task, so a
//! commit in flight survives the cancellation of the request that started it.
//!
//! Only another process's write can make a batch conflict: the whole batch
//! then runs again on the fresh record, after a jittered backoff, within the
//! contention budget. A store error is never retried (a timeout may come after
//! the write happened, and a job must never apply twice): the batch fails.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::expiry;
use crate::codec::{self, Record};
use crate::error::{Error, StoreError};
use crate::manager::Config;
use crate::seal;
use crate::store::{SaveOutcome, Version};
use crate::telemetry::{self, StoreOp, timed};

const SHARDS: usize = 16;
/// First and longest pause between attempts after a conflict with another
/// process.
const FIRST_BACKOFF: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_millis(64);

/// Every live session queue of one manager, by store key.
/// Keys are a namespace plus the SHA-256 of a secret random ID, so no client
/// can choose them: a fast seeded hasher is safe here.
type Hasher = foldhash::fast::RandomState;

#[derive(Debug)]
pub(crate) struct Committer {
    shards: Vec<Mutex<Shard>>,
    hasher: Hasher,
}

#[derive(Debug, Default)]
struct Shard {
    queues: HashMap<Arc<str>, Weak<Queue>, Hasher>,
    /// Size after the last sweep of dead entries.
    swept_len: usize,
}

impl Default for Committer {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: Hasher::default(),
        }
    }
}

impl Committer {
    /// The queue of the session stored at `key`, shared by every request of
    /// this process that holds it. A request takes it before it loads the
    /// record, so the record it loads is at least as new as any commit this
    /// process made before.
    pub(crate) fn queue(&self, key: &str) -> Arc<Queue> {
        let index = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        let mut shard = lock(&self.shards[index]);
        if let Some(queue) = shard.queues.get(key).and_then(Weak::upgrade) {
            return queue;
        }
        let key: Arc<str> = Arc::from(key);
        let queue = Arc::new(Queue {
            key: Arc::clone(&key),
            state: Mutex::default(),
        });
        shard.queues.insert(key, Arc::downgrade(&queue));
        if shard.queues.len() > 2 * shard.swept_len.max(64) {
            shard.queues.retain(|_, queue| queue.strong_count() > 0);
            shard.swept_len = shard.queues.len();
        }
        queue
    }
}

/// A poisoned lock only means a job panicked; the queue's state is still
/// consistent (it is only ever replaced whole).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The writers of one session in this process.
pub(crate) struct Queue {
    key: Arc<str>,
    state: Mutex<QueueState>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct QueueState {
    pending: Vec<Box<dyn Job>>,
    /// A starting point offered with a job, and the generation it saw.
    offered: Option<(Committed, u64)>,
    leader: bool,
    /// The record as this process last committed it.
    latest: Option<Committed>,
    /// How many batches this process has committed (or failed) here.
    generation: u64,
}

/// A committed record and its version.
#[derive(Debug, Clone)]
pub(crate) struct Committed {
    pub(crate) record: Arc<Record>,
    pub(crate) version: Version,
}

/// What happened to a job.
pub(crate) enum Outcome {
    /// Its batch committed: this is the record as stored, and the queue's
    /// generation after it.
    Committed(Committed, u64),
    /// It declined to change anything (a closure's error); nothing of it was
    /// written.
    Aborted,
    /// Its batch failed; nothing of it was written.
    Failed(Failure),
}

/// Why a batch failed, shared by every job in it.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// The session was deleted (logout) or moved (rotation) meanwhile.
    Ended,
    Contended {
        attempts: u32,
        elapsed: Duration,
    },
    TooLarge {
        size: usize,
        limit: usize,
    },
    Store(Arc<StoreError>),
}

impl Failure {
    pub(crate) fn into_error(self) -> Error {
        match self {
            Failure::Ended => Error::Ended,
            Failure::Contended { attempts, elapsed } => Error::Contended { attempts, elapsed },
            Failure::TooLarge { size, limit } => Error::TooLarge { size, limit },
            Failure::Store(error) => Error::Store(StoreError::shared(error)),
        }
    }
}

/// One write waiting for its turn.
pub(crate) trait Job: Send {
    /// Applies the job to `record`; `false` when it declines (its changes are
    /// then undone by the job itself, and it leaves the batch).
    fn apply(&mut self, record: &mut Record) -> bool;

    /// Hands the job its outcome.
    fn finish(self: Box<Self>, outcome: Outcome);
}

impl Queue {
    /// The queue's generation: read it before loading the record, and offer
    /// the loaded record with it.
    pub(crate) fn generation(&self) -> u64 {
        lock(&self.state).generation
    }

    /// Queues `job`. `base` is the record the submitting request holds and
    /// the [generation](Queue::generation) read before it was loaded: when no
    /// batch of this process has finished since, that record is at least as
    /// new as anything this process wrote, and the batch starts from it
    /// without reading the store. Starts a leader when none runs.
    pub(crate) fn submit(
        self: &Arc<Self>,
        config: &Arc<Config>,
        base: Option<(Committed, u64)>,
        job: Box<dyn Job>,
    ) {
        let mut state = lock(&self.state);
        if let Some(base) = base.filter(|(_, seen)| *seen == state.generation) {
            state.offered = Some(base);
        }
        state.pending.push(job);
        if !state.leader {
            state.leader = true;
            tokio::spawn(lead(Arc::clone(self), Arc::clone(config)));
        }
    }
}

/// Commits batches until the queue is empty.
async fn lead(queue: Arc<Queue>, config: Arc<Config>) {
    loop {
        let (batch, base, generation) = {
            let mut state = lock(&queue.state);
            let generation = state.generation;
            if state.pending.is_empty() {
                state.leader = false;
                return;
            }
            // A base offered since the last batch is as new as `latest` or
            // newer (another process may have written since).
            let offered = state
                .offered
                .take()
                .filter(|(_, seen)| *seen == generation)
                .map(|(base, _)| base);
            let base = offered.or_else(|| state.latest.clone());
            (std::mem::take(&mut state.pending), base, generation)
        };
        let (batch, result) = commit_batch(&config, &queue.key, batch, base).await;
        {
            let mut state = lock(&queue.state);
            state.latest = result.as_ref().ok().cloned();
            state.generation += 1;
        }
        // Told only now: a request that goes on after its commit must find the
        // queue past that commit, or a record it loads next would be offered
        // as a base older than the one this batch made.
        finish_all(batch, &result, generation + 1);
    }
}

/// What became of a batch: the jobs still waiting to hear it, and the record
/// as stored (the latest one) or why nothing was.
type Settled = (Vec<Box<dyn Job>>, Result<Committed, Failure>);

/// Commits one batch. Jobs that decline are told at once; the others are
/// left to the caller, to tell once the queue has moved on.
async fn commit_batch(
    config: &Config,
    key: &str,
    mut batch: Vec<Box<dyn Job>>,
    base: Option<Committed>,
) -> Settled {
    let started = Instant::now();
    let mut backoff = FIRST_BACKOFF;
    let mut base = match base {
        Some(base) => base,
        None => match reload(config, key).await {
            Ok(Some(base)) => base,
            Ok(None) => return (batch, Err(Failure::Ended)),
            Err(failure) => return (batch, Err(failure)),
        },
    };
    let compare = config.store.supports_compare_and_set();
    let mut attempt: u32 = 0;
    loop {
        attempt = attempt.saturating_add(1);
        let version = base.version;
        // No copy when the base was offered by the only request holding it.
        let mut record = Arc::unwrap_or_clone(base.record);
        let mut applied = Vec::with_capacity(batch.len());
        for mut job in batch {
            if job.apply(&mut record) {
                applied.push(job);
            } else {
                job.finish(Outcome::Aborted);
            }
        }
        batch = applied;
        if batch.is_empty() {
            // Every job declined and undid its changes: still the base.
            let record = Arc::new(record);
            return (batch, Ok(Committed { record, version }));
        }
        let now = expiry::now_ms();
        let Some(ttl) = expiry::ttl(config, &record, now) else {
            return (batch, Err(Failure::Ended));
        };
        let sealed = match seal_record(config, key, &record) {
            Ok(sealed) => sealed,
            Err(failure) => return (batch, Err(failure)),
        };
        let expected = compare.then_some(version);
        match timed(
            StoreOp::Save,
            config.store.save(key, &sealed, ttl, expected),
        )
        .await
        {
            Ok(SaveOutcome::Saved(version)) => {
                telemetry::count(telemetry::SAVED);
                record.data.mark_saved();
                let committed = Committed {
                    record: Arc::new(record),
                    version,
                };
                return (batch, Ok(committed));
            }
            Ok(SaveOutcome::Conflict) => telemetry::count(telemetry::CONFLICTS),
            Ok(_) => return (batch, Err(Failure::Ended)),
            Err(error) => return (batch, Err(Failure::Store(Arc::new(error)))),
        }
        let elapsed = started.elapsed();
        if elapsed + backoff > config.contention_budget {
            tracing::warn!(
                attempts = attempt,
                ?elapsed,
                "session save kept conflicting with other processes' writes"
            );
            let failure = Failure::Contended {
                attempts: attempt,
                elapsed,
            };
            return (batch, Err(failure));
        }
        tokio::time::sleep(jitter(backoff)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        telemetry::count(telemetry::RETRIES);
        base = match reload(config, key).await {
            Ok(Some(base)) => base,
            Ok(None) => return (batch, Err(Failure::Ended)),
            Err(failure) => return (batch, Err(failure)),
        };
    }
}

/// Tells every job of a batch how it ended; `generation` is the queue's after it.
fn finish_all(batch: Vec<Box<dyn Job>>, result: &Result<Committed, Failure>, generation: u64) {
    for job in batch {
        let outcome = match result {
            Ok(committed) => Outcome::Committed(committed.clone(), generation),
            Err(failure) => Outcome::Failed(failure.clone()),
        };
        job.finish(outcome);
    }
}

/// The stored record, read afresh; `None` when it is gone or no longer opens.
async fn reload(config: &Config, key: &str) -> Result<Option<Committed>, Failure> {
    let loaded = timed(StoreOp::Load, config.store.load(key))
        .await
        .map_err(|error| Failure::Store(Arc::new(error)))?;
    Ok(loaded.and_then(|loaded| {
        let record = open_record(config, key, loaded.bytes)?.0;
        Some(Committed {
            record: Arc::new(record),
            version: loaded.version,
        })
    }))
}

/// Between half and all of `backoff`, so writers that collided spread out.
fn jitter(backoff: Duration) -> Duration {
    let random = u64::from_le_bytes(crate::id::random_bytes());
    let half = backoff / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).max(1);
    half + Duration::from_nanos(random % nanos)
}

/// Seals a record for `key`, within the configured size limit.
pub(crate) fn seal_record(config: &Config, key: &str, record: &Record) -> Result<Vec<u8>, Failure> {
    let sealed = seal::seal_with(
        &config.keys,
        key,
        codec::encoded_len_hint(record),
        |buffer| codec::encode_into(record, buffer),
    );
    if sealed.len() > config.max_record_bytes {
        return Err(Failure::TooLarge {
            size: sealed.len(),
            limit: config.max_record_bytes,
        });
    }
    Ok(sealed)
}

/// Opens and decodes a stored record; `None` (and a warning) when it is
/// forged, altered, moved, under a retired key, or undecodable, and `None`
/// for the tombstone of an ended session. The flag says
/// whether an older key sealed it.
pub(crate) fn open_record(config: &Config, key: &str, bytes: Vec<u8>) -> Option<(Record, bool)> {
    let opened = seal::open(&config.keys, key, bytes)
        .inspect_err(|error| {
            tracing::warn!(?error, "session record does not open; treating it as empty")
        })
        .ok()?;
    if opened.plaintext == codec::TOMBSTONE {
        tracing::debug!("the session ended; its ID is not claimed again");
        return None;
    }
    let record = codec::decode(&opened.plaintext)
        .inspect_err(
            |error| tracing::warn!(%error, "session record does not decode; treating it as empty"),
        )
        .ok()?;
    Some((record, opened.sealed_by_old_key))
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;
    use crate::{KeyRing, MemoryStore, SessionManager};

    /// A job that writes one value and reports the generation its outcome
    /// names beside the queue's generation at the moment it was told.
    struct Probe {
        queue: Arc<Queue>,
        report: oneshot::Sender<(u64, u64)>,
    }

    impl Job for Probe {
        fn apply(&mut self, record: &mut Record) -> bool {
            record.data.insert("probe", &1).is_ok()
        }

        fn finish(self: Box<Self>, outcome: Outcome) {
            let told = match outcome {
                Outcome::Committed(_, generation) => generation,
                Outcome::Aborted | Outcome::Failed(_) => u64::MAX,
            };
            let _ = self.report.send((told, self.queue.generation()));
        }
    }

    /// A request goes on as soon as it hears its commit and may load the
    /// record again at once. Had the queue not moved past the commit by
    /// then, that record would be offered with the old generation, and on a
    /// store without compare-and-set a later batch would start from the
    /// queue's older record and drop another process's write.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_hears_its_commit_only_once_the_queue_has_moved_past_it() {
        let manager = SessionManager::builder(MemoryStore::new(), KeyRing::generate())
            .build()
            .expect("a valid configuration");
        let config = Arc::clone(manager.config());
        let key = "probe-session";
        let record = Record::new(expiry::now_ms());
        let sealed = seal_record(&config, key, &record).expect("an empty record seals");
        let version = config
            .store
            .create(key, &sealed, Duration::from_secs(60))
            .await
            .expect("create")
            .expect("a free key");
        let queue = config.committer.queue(key);
        let base = Committed {
            record: Arc::new(record),
            version,
        };
        let (report, reported) = oneshot::channel();
        let probe = Probe {
            queue: Arc::clone(&queue),
            report,
        };
        queue.submit(&config, Some((base, queue.generation())), Box::new(probe));
        let (told, seen) = reported.await.expect("the job is told");
        assert_eq!(told, 1, "the first batch makes generation 1");
        assert_eq!(seen, told, "the job was told before the queue moved on");
    }
}
