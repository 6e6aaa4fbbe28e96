//! What a reader of the store sees: no cookie value, no session ID (in any
//! encoding), no CSRF token, no user name and no session data, in any key or
//! value the core ever wrote, through a whole life of sessions.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use session_core::{
    KeyRing, Loaded, MemoryStore, SaveOutcome, SessionManager, SetCookie, Store, StoreError,
    Version, async_trait,
};

use crate::common::{SECRET_A, ring};
use crate::id_of;

const USER: &str = "alice.secret.name@example.com";
const OTHER_USER: &str = "bob.hidden.person@example.org";
const DATA: &str = "a-very-distinctive-value";

/// A [`MemoryStore`] that records every key it is asked about, and every
/// value written, not only the last one per key.
#[derive(Debug, Default)]
struct RecordingStore {
    inner: MemoryStore,
    keys: Mutex<Vec<String>>,
    values: Mutex<Vec<(String, Vec<u8>)>>,
}

impl RecordingStore {
    fn saw(&self, key: &str) {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(key.to_owned());
    }

    fn wrote(&self, key: &str, value: &[u8]) {
        self.saw(key);
        self.values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((key.to_owned(), value.to_vec()));
    }

    fn keys(&self) -> Vec<String> {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn values(&self) -> Vec<(String, Vec<u8>)> {
        self.values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl Store for RecordingStore {
    async fn load(&self, key: &str) -> Result<Option<Loaded>, StoreError> {
        self.saw(key);
        self.inner.load(key).await
    }

    async fn load_many(&self, keys: &[&str]) -> Result<Vec<Option<Loaded>>, StoreError> {
        keys.iter().for_each(|key| self.saw(key));
        self.inner.load_many(keys).await
    }

    async fn load_and_touch(&self, key: &str, ttl: Duration) -> Result<Option<Loaded>, StoreError> {
        self.saw(key);
        self.inner.load_and_touch(key, ttl).await
    }

    async fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<Option<Version>, StoreError> {
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
        self.wrote(key, value);
        self.inner.save(key, value, ttl, expected).await
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.saw(key);
        self.inner.touch(key, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        self.saw(key);
        self.inner.delete(key).await
    }

    fn supports_compare_and_set(&self) -> bool {
        self.inner.supports_compare_and_set()
    }
}

/// Everything the client or the application sees that the store must not.
#[derive(Default)]
struct Secrets {
    /// Text that must appear in no key and no value.
    texts: Vec<String>,
    /// Raw session IDs, which must appear in no value either.
    ids: Vec<[u8; 32]>,
}

impl Secrets {
    fn cookie(&mut self, cookie: &SetCookie) {
        if cookie.is_removal() {
            return;
        }
        let id = id_of(cookie.value());
        self.texts.push(cookie.value().to_owned());
        self.texts.extend([
            URL_SAFE_NO_PAD.encode(id),
            URL_SAFE.encode(id),
            STANDARD.encode(id),
            STANDARD_NO_PAD.encode(id),
            hex(&id),
            hex(&id).to_uppercase(),
        ]);
        self.ids.push(id);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn manager(store: &Arc<RecordingStore>, keys: KeyRing) -> SessionManager {
    SessionManager::builder(Arc::clone(store), keys)
        .build()
        .expect("valid config")
}

/// Moved here: `sealing.rs`'s `stored_bytes_reveal_neither_data_nor_cookie`
/// and the user-name half of `user_sessions.rs`'s
/// `the_index_is_sealed_and_its_key_names_no_user`, now over every key and
/// value of a whole life of sessions.
#[tokio::test]
async fn no_store_key_or_value_holds_a_cookie_id_token_user_name_or_data() {
    let store = Arc::new(RecordingStore::default());
    let manager = manager(&store, ring(&[SECRET_A]));
    let mut secrets = Secrets::default();
    secrets
        .texts
        .extend([USER, OTHER_USER, DATA].map(str::to_owned));

    // A form visit (no record), then its first write, then a login (a
    // rotation), on the same cookie.
    let session = manager.get(None);
    secrets
        .texts
        .push(session.csrf_token().await.expect("token"));
    let first = manager.set(&session).await.expect("set").expect("cookie");
    secrets.cookie(&first);
    let session = manager.get(Some(first.value()));
    session.insert("secret", DATA).await.expect("insert");
    let stored = manager.set(&session).await.expect("set").expect("cookie");
    secrets.cookie(&stored);
    let session = manager.get(Some(stored.value()));
    session.login(USER).await.expect("login");
    secrets
        .texts
        .push(session.csrf_token().await.expect("token"));
    let laptop = manager.set(&session).await.expect("set").expect("cookie");
    secrets.cookie(&laptop);

    // More sessions of the user and of another, listed and ended.
    let mut cookies = Vec::new();
    for user in [USER, USER, OTHER_USER] {
        let session = manager.get(None);
        session.login(user).await.expect("login");
        let cookie = manager.set(&session).await.expect("set").expect("cookie");
        secrets.cookie(&cookie);
        cookies.push(cookie);
    }
    let session = manager.get(Some(laptop.value()));
    let listed = session.user_sessions().await.expect("listing");
    let other = listed.iter().find(|s| !s.is_current()).expect("another");
    secrets.texts.push(other.handle().to_owned());
    session.end_user_session(other.handle()).await.expect("end");
    session.cycle_id().await.expect("rotate");
    let rotated = manager.set(&session).await.expect("set").expect("cookie");
    secrets.cookie(&rotated);

    // A key rotation re-signs and reseals.
    let rotated_keys = manager_with_keys(&store);
    let session = rotated_keys.get(Some(cookies[2].value()));
    session.insert("after", "rotation").await.expect("insert");
    if let Some(cookie) = rotated_keys.set(&session).await.expect("set") {
        secrets.cookie(&cookie);
    }

    // Logouts.
    let session = rotated_keys.get(Some(rotated.value()));
    session.end_other_user_sessions().await.expect("end others");
    session
        .logout_everywhere()
        .await
        .expect("logout everywhere");
    rotated_keys.set(&session).await.expect("set");
    let session = rotated_keys.get(Some(cookies[2].value()));
    session.logout().await.expect("logout");
    rotated_keys.set(&session).await.expect("set");

    let keys = store.keys();
    let values = store.values();
    assert!(
        keys.iter().any(|key| key.contains("user:")),
        "the users' indexes were written: {keys:?}"
    );
    for key in &keys {
        assert!(
            key.len() <= 250 && key.bytes().all(|b| b.is_ascii_graphic()),
            "not memcached-safe: {key}"
        );
        let lowercase = key.to_lowercase();
        for secret in &secrets.texts {
            assert!(
                !key.contains(secret.as_str()) && !lowercase.contains(&secret.to_lowercase()),
                "a store key holds {secret:?}: {key}"
            );
        }
        // Short enough for a random key to hold by chance: checked only
        // for the longer name.
        assert!(
            !lowercase.contains("alice"),
            "a store key names a user: {key}"
        );
    }
    for (key, value) in &values {
        for secret in &secrets.texts {
            assert!(
                !value
                    .windows(secret.len())
                    .any(|window| window == secret.as_bytes()),
                "the value written under {key} holds {secret:?}"
            );
        }
        for id in &secrets.ids {
            assert!(
                !value.windows(id.len()).any(|window| window == id),
                "the value written under {key} holds a raw session ID"
            );
        }
        for plain in [&b"alice"[..], b"distinctive", b"user_name"] {
            assert!(
                !value.windows(plain.len()).any(|window| window == plain),
                "the value written under {key} is readable"
            );
        }
    }
}

fn manager_with_keys(store: &Arc<RecordingStore>) -> SessionManager {
    manager(store, ring(&[[0xc3; 32], SECRET_A]))
}
