//! A well-formed, validly signed cookie whose ID has no record here (never
//! issued by this store, or its record gone) is never adopted: the session
//! that then gets stored has a fresh ID, under a fresh store key.

use std::sync::Arc;

use session_core::test_stores::CountingStore;
use session_core::{SessionManager, SetCookie, Store};

use crate::common::{SECRET_A, manager_on, manager_with, saved_session, user_name};
use crate::id_of;

/// Writes with `cookie` on `manager` and asserts that the session stored is
/// a new one: a new ID in the cookie, and a record under a key not seen
/// before.
async fn stored_under_a_fresh_id(
    manager: &SessionManager,
    store: &CountingStore,
    cookie: &SetCookie,
) {
    let keys_before = store.written_keys();
    let session = manager.get(Some(cookie.value()));
    assert_eq!(user_name(&session).await, None);
    assert!(session.is_empty().await.expect("load"));
    session.insert("k", "again").await.expect("insert");
    let fresh = manager
        .set(&session)
        .await
        .expect("set")
        .expect("new cookie");
    assert_ne!(
        id_of(fresh.value()),
        id_of(cookie.value()),
        "an ID without a record was adopted"
    );
    let new_keys: Vec<String> = store
        .written_keys()
        .into_iter()
        .filter(|key| !keys_before.contains(key))
        .collect();
    assert_eq!(
        new_keys.len(),
        1,
        "the new session is stored under a key of its own: {new_keys:?}"
    );
}

/// Moved from `lifecycle.rs` (the second half of
/// `unverified_or_orphaned_ids_are_never_adopted`), and extended to records
/// gone by eviction.
#[tokio::test]
async fn a_cookie_whose_record_is_gone_is_never_adopted() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));

    // Logged out.
    let cookie = saved_session(&manager, &[("k", "v")]).await;
    let session = manager.get(Some(cookie.value()));
    session.destroy().await.expect("destroy");
    stored_under_a_fresh_id(&manager, &store, &cookie).await;

    // Evicted, or deleted by whoever reaches the store.
    let cookie = saved_session(&manager, &[("k", "v")]).await;
    for key in store.written_keys() {
        store.inner().delete(&key).await.expect("delete");
    }
    stored_under_a_fresh_id(&manager, &store, &cookie).await;
}

/// Signed with this deployment's key, but issued by an instance on another
/// store: this store never held its ID.
#[tokio::test]
async fn a_validly_signed_id_this_store_never_issued_is_never_adopted() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let elsewhere = manager_with(&Arc::new(CountingStore::new()), &[SECRET_A], |builder| {
        builder
    });
    let cookie = saved_session(&elsewhere, &[("user_name", "admin")]).await;
    assert_eq!(
        user_name(&elsewhere.get(Some(cookie.value())))
            .await
            .as_deref(),
        Some("admin"),
        "the cookie is valid where it was issued"
    );
    stored_under_a_fresh_id(&manager, &store, &cookie).await;
}
