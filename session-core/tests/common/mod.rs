//! A store wrapper for the core's tests: counts calls, remembers what was
//! written, and can be told to fail or to lack compare-and-set.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use session_core::{
    KeyRing, Loaded, MemoryStore, SaveOutcome, Session, SessionManager, SessionManagerBuilder,
    SetCookie, Store, StoreError, Version,
};

/// Wraps a MemoryStore.
#[derive(Debug, Default)]
pub struct Instrumented {
    pub inner: MemoryStore,
    pub calls: AtomicUsize,
    pub writes: AtomicUsize,
    /// Compare-and-set saves that found the record changed.
    pub conflicts: AtomicUsize,
    /// Every key written, with the last bytes written under it.
    pub written: Mutex<HashMap<String, Vec<u8>>>,
    pub fail_deletes: AtomicBool,
    pub fail_all: AtomicBool,
    pub without_compare_and_set: bool,
    /// The TTL of the last load-and-touch.
    pub last_refresh_ttl: Mutex<Option<Duration>>,
    /// Delay before each save, to widen race windows.
    pub save_delay: Mutex<Duration>,
}

impl Instrumented {
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    /// The bytes stored under `key`, read past the instrumentation.
    pub async fn stored_bytes(&self, key: &str) -> Vec<u8> {
        let loaded = self.inner.load(key).await.expect("load");
        loaded.expect("a stored record").bytes
    }

    pub fn keys(&self) -> Vec<String> {
        self.written.lock().expect("lock").keys().cloned().collect()
    }

    fn enter(&self) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail_all.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable("test store is down"));
        }
        Ok(())
    }

    fn wrote(&self, key: &str, value: &[u8]) {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.written
            .lock()
            .expect("lock")
            .insert(key.to_owned(), value.to_vec());
    }
}

#[async_trait]
impl Store for Instrumented {
    async fn load(&self, key: &str) -> Result<Option<Loaded>, StoreError> {
        self.enter()?;
        self.inner.load(key).await
    }

    async fn load_and_touch(&self, key: &str, ttl: Duration) -> Result<Option<Loaded>, StoreError> {
        self.enter()?;
        *self.last_refresh_ttl.lock().expect("lock") = Some(ttl);
        self.inner.load_and_touch(key, ttl).await
    }

    async fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<Option<Version>, StoreError> {
        self.enter()?;
        self.wrote(key, value);
        self.inner.create(key, value, ttl).await
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        expected: Option<Version>,
    ) -> Result<SaveOutcome, StoreError> {
        self.enter()?;
        let delay = *self.save_delay.lock().expect("lock");
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        assert!(
            expected.is_none() || !self.without_compare_and_set,
            "the core asked a store without compare-and-set for one"
        );
        let outcome = self.inner.save(key, value, ttl, expected).await?;
        match outcome {
            SaveOutcome::Saved(_) => self.wrote(key, value),
            SaveOutcome::Conflict => {
                self.conflicts.fetch_add(1, Ordering::SeqCst);
            }
            _ => {}
        }
        Ok(outcome)
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.enter()?;
        self.inner.touch(key, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        self.enter()?;
        if self.fail_deletes.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable("test store refuses deletes"));
        }
        self.inner.delete(key).await
    }

    fn supports_compare_and_set(&self) -> bool {
        !self.without_compare_and_set
    }
}

pub const SECRET_A: [u8; 32] = [0xa1; 32];
pub const SECRET_B: [u8; 32] = [0xb2; 32];

pub fn ring(secrets: &[[u8; 32]]) -> KeyRing {
    KeyRing::from_secrets(secrets).expect("valid test keys")
}

/// A manager on `store` with the keys `secrets`, configured by `configure`.
pub fn manager_with(
    store: &Arc<Instrumented>,
    secrets: &[[u8; 32]],
    configure: impl FnOnce(SessionManagerBuilder) -> SessionManagerBuilder,
) -> SessionManager {
    configure(SessionManager::builder(
        Arc::clone(store),
        ring(secrets),
    ))
    .build()
    .expect("valid config")
}

pub fn manager_on(store: Arc<Instrumented>) -> SessionManager {
    SessionManager::builder(store, ring(&[SECRET_A]))
        .build()
        .expect("valid config")
}

/// A fresh session with `pairs` saved, and its cookie.
pub async fn saved_session(manager: &SessionManager, pairs: &[(&str, &str)]) -> SetCookie {
    let session = manager.get(None);
    for (key, value) in pairs {
        session.insert(key, value).await.expect("insert");
    }
    manager
        .set(&session)
        .await
        .expect("set")
        .expect("a new session sets a cookie")
}

/// Whether the session behind `cookie_value` holds no data (gone, expired,
/// or never opened).
pub async fn holds_nothing(manager: &SessionManager, cookie_value: &str) -> bool {
    manager
        .get(Some(cookie_value))
        .is_empty()
        .await
        .expect("loading the session")
}

/// The signed-in user's name in `session`, if any.
pub async fn user_name(session: &Session) -> Option<String> {
    session
        .get::<String>("user_name")
        .await
        .expect("reading user_name")
}
