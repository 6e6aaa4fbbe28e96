//! Helpers for the core's tests: managers on a `CountingStore`, saved
//! sessions, and what a session holds.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use session_core::test_stores::CountingStore;
use session_core::{
    KeyRing, RequestEnd, Session, SessionManager, SessionManagerBuilder, SetCookie, Store,
};

/// The bytes stored under `key`, read past the counting.
pub async fn stored_bytes(store: &CountingStore, key: &str) -> Vec<u8> {
    let loaded = store.inner().load(key).await.expect("load");
    loaded.expect("a stored record").bytes
}

pub const SECRET_A: [u8; 32] = [0xa1; 32];
pub const SECRET_B: [u8; 32] = [0xb2; 32];

pub fn ring(secrets: &[[u8; 32]]) -> KeyRing {
    KeyRing::from_secrets(secrets).expect("valid test keys")
}

/// A manager on `store` with the keys `secrets`, configured by `configure`.
pub fn manager_with(
    store: &Arc<CountingStore>,
    secrets: &[[u8; 32]],
    configure: impl FnOnce(SessionManagerBuilder) -> SessionManagerBuilder,
) -> SessionManager {
    configure(SessionManager::builder(Arc::clone(store), ring(secrets)))
        .build()
        .expect("valid config")
}

pub fn manager_on(store: Arc<CountingStore>) -> SessionManager {
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

/// A new session in which `user` logged in, and its cookie.
pub async fn logged_in(manager: &SessionManager, user: &str) -> SetCookie {
    let session = manager.get(None);
    session.login(user).await.expect("login");
    manager
        .set(&session)
        .await
        .expect("save the login")
        .expect("a login sets a cookie")
}

/// Logs out everywhere from the session behind `cookie`, and ends that
/// request as a redirect would.
pub async fn logout_everywhere(manager: &SessionManager, cookie: &SetCookie) -> RequestEnd {
    let session = manager.get(Some(cookie.value()));
    session
        .logout_everywhere()
        .await
        .expect("logout everywhere");
    manager.finish(&session, 303).await
}

/// The user logged in behind `cookie`, if any.
pub async fn user_of(manager: &SessionManager, cookie: &SetCookie) -> Option<String> {
    manager
        .get(Some(cookie.value()))
        .current_user::<String>()
        .await
        .expect("load")
}
