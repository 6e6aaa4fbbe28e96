//! Records in the store are sealed to their session: whoever can write to the
//! store cannot read, forge, alter or move one, and keys rotate safely.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{
    SECRET_A, SECRET_B, holds_nothing, manager_on, manager_with, saved_session, stored_bytes,
    user_name,
};
use session_core::Store;
use session_core::test_stores::CountingStore;

const TTL: Duration = Duration::from_secs(60);

#[tokio::test]
async fn stored_bytes_reveal_neither_data_nor_cookie() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let cookie = saved_session(&manager, &[("secret", "a-very-distinctive-value")]).await;

    let written = store.written();
    assert_eq!(written.len(), 1);
    for (key, bytes) in &written {
        assert!(
            !key.contains(cookie.value()) && !cookie.value().contains(&key["session:".len()..])
        );
        assert!(
            key.len() <= 250 && key.bytes().all(|b| b.is_ascii_graphic()),
            "not memcached-safe: {key}"
        );
        assert!(
            !bytes.windows(11).any(|w| w == b"distinctive"),
            "plaintext in the store"
        );
    }
}

/// The attacker has a session of their own and write access to the store.
#[tokio::test]
async fn a_record_copied_under_another_sessions_key_does_not_open() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let _victim = saved_session(&manager, &[("user_name", "admin")]).await;
    let victim_key = store.written_keys().pop().expect("victim key");
    let attacker = saved_session(&manager, &[("user_name", "mallory")]).await;
    let attacker_key = store
        .written_keys()
        .into_iter()
        .find(|key| *key != victim_key)
        .expect("attacker key");

    let victim_record = stored_bytes(&store, &victim_key).await;
    store
        .inner()
        .save(&attacker_key, &victim_record, TTL, None)
        .await
        .expect("overwrite");

    let session = manager.get(Some(attacker.value()));
    assert_eq!(user_name(&session).await, None, "a moved record opened");
    session.insert("k", "v").await.expect("insert");
    let cookie = manager.set(&session).await.expect("set").expect("fresh ID");
    assert_ne!(
        cookie.value(),
        attacker.value(),
        "a session whose record failed to open gets a fresh ID"
    );
}

#[tokio::test]
async fn a_flipped_byte_anywhere_makes_the_record_empty() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let cookie = saved_session(&manager, &[("user_name", "alice")]).await;
    let key = store.written_keys().pop().expect("key");
    let original = stored_bytes(&store, &key).await;

    for position in 0..original.len() {
        let mut altered = original.clone();
        altered[position] ^= 0x01;
        store
            .inner()
            .save(&key, &altered, TTL, None)
            .await
            .expect("overwrite");
        let session = manager.get(Some(cookie.value()));
        assert!(
            session.is_empty().await.expect("no error"),
            "byte {position} altered but the record opened"
        );
    }
    store
        .inner()
        .save(&key, b"not a record at all", TTL, None)
        .await
        .expect("overwrite");
    assert!(holds_nothing(&manager, cookie.value()).await);
}

#[tokio::test]
async fn rotated_keys_keep_sessions_and_migrate_them() {
    let store = Arc::new(CountingStore::new());
    let old_manager = manager_on(Arc::clone(&store));
    let old_cookie = saved_session(&old_manager, &[("user_name", "alice")]).await;
    let untouched_cookie = saved_session(&old_manager, &[("user_name", "bob")]).await;

    let rotated = manager_with(&store, &[SECRET_B, SECRET_A], |builder| builder);
    let session = rotated.get(Some(old_cookie.value()));
    assert_eq!(user_name(&session).await.as_deref(), Some("alice"));
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
        "resealed record"
    );
    assert!(
        holds_nothing(&retired, untouched_cookie.value()).await,
        "old cookie must fail"
    );
}

#[tokio::test]
async fn a_record_under_a_retired_key_opens_only_while_the_key_is_in_the_ring() {
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
        .save(&key, &sealed_by_a, TTL, None)
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
