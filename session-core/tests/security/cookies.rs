//! Cookies that do not verify: altered in any character, truncated,
//! extended, malformed, or signed by a key not in the ring. Each is no
//! session, is refused before any store call, and is never adopted.

use std::sync::Arc;
use std::time::Duration;

use session_core::test_stores::CountingStore;
use session_core::{SessionManager, Store};

use crate::common::{
    SECRET_A, SECRET_B, manager_on, manager_with, ring, saved_session, stored_bytes, user_name,
};
use crate::{flip_char, id_of};

/// Asserts that `value` is no session on `manager` and cost no store call.
async fn refused_without_a_store_call(
    manager: &SessionManager,
    store: &CountingStore,
    value: &str,
    what: &str,
) {
    let before = store.calls();
    let session = manager.get(Some(value));
    assert_eq!(
        user_name(&session).await,
        None,
        "{what}: the cookie reached the session"
    );
    assert_eq!(
        store.calls(),
        before,
        "{what}: the cookie was not refused before the store"
    );
}

#[tokio::test]
async fn a_cookie_altered_truncated_or_extended_is_no_session() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let cookie = saved_session(&manager, &[("user_name", "alice")]).await;
    let value = cookie.value();
    // The unaltered cookie does reach the session.
    let session = manager.get(Some(value));
    assert_eq!(user_name(&session).await.as_deref(), Some("alice"));

    for position in 0..value.len() {
        let altered = flip_char(value, position);
        let what = format!("character {position} changed");
        refused_without_a_store_call(&manager, &store, &altered, &what).await;
    }
    for len in 0..value.len() {
        let what = format!("truncated to {len} characters");
        refused_without_a_store_call(&manager, &store, &value[..len], &what).await;
    }
    for suffix in ["A", "_", "=", "==", " ", ";", value] {
        let extended = format!("{value}{suffix}");
        let what = format!("extended by {suffix:?}");
        refused_without_a_store_call(&manager, &store, &extended, &what).await;
    }
}

/// The cookie names a live session whose record this ring opens; only its
/// signature is foreign (made as a rotation re-signs a cookie under a key
/// this ring lacks).
#[tokio::test]
async fn a_cookie_signed_by_a_key_not_in_the_ring_is_no_session() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let cookie = saved_session(&manager, &[("user_name", "alice")]).await;
    let key = store.written_keys().pop().expect("the record's key");
    let sealed_by_a = stored_bytes(&store, &key).await;

    let foreign = manager_with(&store, &[SECRET_B, SECRET_A], |builder| builder);
    let session = foreign.get(Some(cookie.value()));
    assert!(session.contains_key("user_name").await.expect("load"));
    let signed_by_b = foreign
        .set(&session)
        .await
        .expect("set")
        .expect("re-signed under B");
    assert_eq!(id_of(signed_by_b.value()), id_of(cookie.value()));
    // The record as the ring [A] sealed it, so only the cookie is foreign.
    store
        .inner()
        .save(&key, &sealed_by_a, Duration::from_secs(60), None)
        .await
        .expect("put the record back");
    assert_eq!(
        user_name(&manager.get(Some(cookie.value())))
            .await
            .as_deref(),
        Some("alice"),
        "the A-signed cookie still opens the record"
    );

    refused_without_a_store_call(&manager, &store, signed_by_b.value(), "signed by B").await;
}

/// Moved from `lifecycle.rs` (the first half of
/// `unverified_or_orphaned_ids_are_never_adopted`).
#[tokio::test]
async fn a_malformed_or_foreign_cookie_is_no_session_and_never_adopted() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let foreign = SessionManager::builder(Arc::new(CountingStore::new()), ring(&[[9; 32]]))
        .build()
        .expect("valid");
    let foreign_cookie = saved_session(&foreign, &[("user_name", "admin")]).await;

    for bad in [
        foreign_cookie.value(),
        "",
        "garbage",
        &"A".repeat(86),
        &"A".repeat(98),
        &"x".repeat(10_000),
        "é",
    ] {
        let session = manager.get(Some(bad));
        assert_eq!(user_name(&session).await, None);
        session.insert("k", "v").await.expect("insert");
        let cookie = manager
            .set(&session)
            .await
            .expect("set")
            .expect("new cookie");
        assert_ne!(
            cookie.value(),
            bad,
            "a cookie that does not verify must not be adopted"
        );
    }
    let session = manager.get(Some(foreign_cookie.value()));
    session.insert("k", "v").await.expect("insert");
    let cookie = manager.set(&session).await.expect("set").expect("cookie");
    assert_ne!(
        id_of(cookie.value()),
        id_of(foreign_cookie.value()),
        "a foreign cookie's ID was adopted"
    );
}
