//! [`Recorder`]: the store under test, with every key written remembered, so
//! that a check leaves nothing behind.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::error::StoreError;
use crate::store::{Loaded, SaveOutcome, Store, Version};

/// Forwards every call to the store under test, remembering the keys written.
#[derive(Debug)]
pub(super) struct Recorder<S: ?Sized> {
    inner: Arc<S>,
    written: Mutex<HashSet<String>>,
}

impl<S: Store + ?Sized> Recorder<S> {
    pub(super) fn new(inner: Arc<S>) -> Self {
        Self {
            inner,
            written: Mutex::default(),
        }
    }

    fn remember(&self, key: &str) {
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.to_owned());
    }

    /// Deletes every key written through this recorder.
    pub(super) async fn clean_up(&self) {
        let written: Vec<String> = self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain()
            .collect();
        for key in written {
            self.inner
                .delete(&key)
                .await
                .expect("cleaning up after the check: delete failed");
        }
    }
}

#[async_trait]
impl<S: Store + ?Sized> Store for Recorder<S> {
    async fn load(&self, key: &str) -> Result<Option<Loaded>, StoreError> {
        self.inner.load(key).await
    }

    async fn load_many(&self, keys: &[&str]) -> Result<Vec<Option<Loaded>>, StoreError> {
        self.inner.load_many(keys).await
    }

    async fn load_and_touch(&self, key: &str, ttl: Duration) -> Result<Option<Loaded>, StoreError> {
        self.inner.load_and_touch(key, ttl).await
    }

    async fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<Option<Version>, StoreError> {
        self.remember(key);
        self.inner.create(key, value, ttl).await
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        expected: Option<Version>,
    ) -> Result<SaveOutcome, StoreError> {
        self.remember(key);
        self.inner.save(key, value, ttl, expected).await
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.inner.touch(key, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        self.inner.delete(key).await
    }

    fn supports_compare_and_set(&self) -> bool {
        self.inner.supports_compare_and_set()
    }
}
