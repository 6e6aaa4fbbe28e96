//! Key rotation: an old key verifies cookies and opens records while it is in
//! the ring, the new (first) key signs and seals, and a removed key verifies
//! and opens nothing.

use std::sync::Arc;
use std::time::Duration;

use session_core::Store;
use session_core::test_stores::CountingStore;

use crate::common::{
    SECRET_A, SECRET_B, holds_nothing, manager_on, manager_with, saved_session, stored_bytes,
    user_name,
};

/// Moved from `sealing.rs` (`rotated_keys_keep_sessions_and_migrate_them`);
/// a removed key's cookie is now checked to be refused before the store, so
/// the cookie's signature, not only its record's seal, is what fails.
#[tokio::test]
async fn an_old_key_verifies_the_new_key_signs_and_a_removed_key_verifies_nothing() {
    let store = Arc::new(CountingStore::new());
    let old_manager = manager_on(Arc::clone(&store));
    let old_cookie = saved_session(&old_manager, &[("user_name", "alice")]).await;
    let untouched_cookie = saved_session(&old_manager, &[("user_name", "bob")]).await;

    let rotated = manager_with(&store, &[SECRET_B, SECRET_A], |builder| builder);
    let session = rotated.get(Some(old_cookie.value()));
    assert_eq!(
        user_name(&session).await.as_deref(),
        Some("alice"),
        "the old key still verifies"
    );
    let resigned = rotated
        .set(&session)
        .await
        .expect("set")
        .expect("an old-key cookie is re-signed");
    assert_ne!(resigned.value(), old_cookie.value());

    // Once the old key is retired, migrated sessions live on; others end.
    let retired = manager_with(&store, &[SECRET_B], |builder| builder);
    let migrated = retired.get(Some(resigned.value()));
    assert_eq!(
        user_name(&migrated).await.as_deref(),
        Some("alice"),
        "re-signed and resealed under the new key alone"
    );
    let before = store.calls();
    assert!(
        holds_nothing(&retired, untouched_cookie.value()).await,
        "old cookie must fail"
    );
    assert_eq!(
        store.calls(),
        before,
        "a cookie signed by a removed key is refused before the store"
    );
    // The re-signed cookie is the new key's: the old key alone refuses it.
    let before = store.calls();
    assert!(holds_nothing(&old_manager, resigned.value()).await);
    assert_eq!(store.calls(), before, "re-signed under the old key");
}

/// Moved from `sealing.rs` (`a_record_under_a_retired_key_opens_only_while_the_key_is_in_the_ring`).
#[tokio::test]
async fn a_record_sealed_by_an_old_key_opens_only_while_the_key_is_in_the_ring() {
    let store = Arc::new(CountingStore::new());
    let cookie = saved_session(&manager_on(Arc::clone(&store)), &[("user_name", "alice")]).await;
    let key = store.written_keys().pop().expect("key");
    let sealed_by_a = stored_bytes(&store, &key).await;

    let rotated = manager_with(&store, &[SECRET_B, SECRET_A], |builder| builder);
    let session = rotated.get(Some(cookie.value()));
    assert!(session.contains_key("user_name").await.expect("get"));
    let cookie_b = rotated
        .set(&session)
        .await
        .expect("set")
        .expect("re-signed cookie");
    assert_ne!(
        stored_bytes(&store, &key).await,
        sealed_by_a,
        "resealed under B"
    );

    // Put the record sealed under A back, as if it had never been resealed.
    store
        .inner()
        .save(&key, &sealed_by_a, Duration::from_secs(60), None)
        .await
        .expect("overwrite");
    let session = rotated.get(Some(cookie_b.value()));
    assert!(
        session.contains_key("user_name").await.expect("get"),
        "A is still in the ring: it opens"
    );

    let retired = manager_with(&store, &[SECRET_B], |builder| builder);
    let session = retired.get(Some(cookie_b.value()));
    assert!(
        session.is_empty().await.expect("get"),
        "A is retired: the record must not open"
    );
}
