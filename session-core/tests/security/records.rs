//! Whoever writes the store cannot move a sealed record to another key, nor
//! alter one: such a record opens as nothing, the session counts as none, and
//! what gets stored next has a fresh ID. The same holds for users' indexes.

use std::sync::Arc;
use std::time::Duration;

use session_core::Store;
use session_core::test_stores::CountingStore;

use crate::common::{
    SECRET_A, holds_nothing, logged_in, manager_on, manager_with, saved_session, stored_bytes,
    user_name, user_of,
};
use crate::id_of;

const TTL: Duration = Duration::from_secs(60);

/// The store keys of users' indexes written so far.
fn index_keys(store: &CountingStore) -> Vec<String> {
    store
        .written_keys()
        .into_iter()
        .filter(|key| key.contains("user:"))
        .collect()
}

/// Moved from `sealing.rs` (`a_record_copied_under_another_sessions_key_does_not_open`).
/// The attacker has a session of their own and write access to the store.
#[tokio::test]
async fn a_record_copied_to_another_sessions_key_does_not_open() {
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
    assert!(
        session.is_empty().await.expect("load"),
        "a moved record opened"
    );
    session.insert("k", "v").await.expect("insert");
    let cookie = manager.set(&session).await.expect("set").expect("fresh ID");
    assert_ne!(
        id_of(cookie.value()),
        id_of(attacker.value()),
        "a session whose record failed to open gets a fresh ID"
    );
}

/// The attacker planted a cookie; the session was then given privileges and a
/// new ID (the same creation time, so only the seal tells the records apart).
/// Copying the new record under the planted ID's key must not hand the
/// privileges to the planted cookie.
#[tokio::test]
async fn a_record_copied_back_under_a_planted_ids_key_does_not_open() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let planted = saved_session(&manager, &[("cart", "book")]).await;
    let planted_key = store.written_keys().pop().expect("the planted key");
    let victim = manager.get(Some(planted.value()));
    victim.insert("role", "admin").await.expect("insert");
    victim.cycle_id().await.expect("rotate");
    let rotated = manager.set(&victim).await.expect("set").expect("cookie");
    let rotated_key = store
        .written_keys()
        .into_iter()
        .find(|key| *key != planted_key)
        .expect("the rotated key");

    let record = stored_bytes(&store, &rotated_key).await;
    store
        .inner()
        .save(&planted_key, &record, TTL, None)
        .await
        .expect("copy");
    let attacker = manager.get(Some(planted.value()));
    assert_eq!(
        attacker.get::<String>("role").await.expect("load"),
        None,
        "the rotated record opened under the planted ID"
    );
    assert!(attacker.is_empty().await.expect("load"));
    let owner = manager.get(Some(rotated.value()));
    assert_eq!(
        owner.get::<String>("role").await.expect("load").as_deref(),
        Some("admin")
    );
}

/// Moved from `sealing.rs` (`a_flipped_byte_anywhere_makes_the_record_empty`).
#[tokio::test]
async fn an_altered_record_opens_as_no_session() {
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

/// Moved from `user_sessions.rs` (the second half of
/// `the_index_is_sealed_and_its_key_names_no_user`).
#[tokio::test]
async fn an_altered_user_index_opens_as_none_and_its_sessions_are_refused() {
    const USER: &str = "alice.secret.name@example.com";
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let cookie = logged_in(&manager, USER).await;
    logged_in(&manager, USER).await;

    // An index that does not open (forged, or altered) lists nothing, and
    // the sessions it listed are refused: the loss fails closed.
    let index_key = index_keys(&store).pop().expect("the user's index");
    let mut forged = stored_bytes(&store, &index_key).await;
    let last = forged.len() - 1;
    forged[last] ^= 1;
    store
        .inner()
        .save(&index_key, &forged, TTL, None)
        .await
        .expect("save");
    let other_process = manager_with(&store, &[SECRET_A], |builder| builder);
    assert_eq!(user_of(&other_process, &cookie).await, None);

    // Whoever wrote it cannot keep the user out: the next login replaces it.
    let again = logged_in(&manager, USER).await;
    assert_eq!(user_of(&other_process, &again).await.as_deref(), Some(USER));
    let listed = other_process
        .get(Some(again.value()))
        .user_sessions()
        .await
        .expect("listing");
    assert_eq!(listed.len(), 1, "{listed:?}");
}

/// Another user's index copied over this user's: it does not open, so this
/// user is never shown, and never ends, the other user's sessions.
#[tokio::test]
async fn a_user_index_copied_to_another_users_index_key_does_not_open() {
    const ALICE: &str = "alice.secret.name@example.com";
    const BOB: &str = "bob.hidden.person@example.org";
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    logged_in(&manager, ALICE).await;
    let alices_index = index_keys(&store).pop().expect("alice's index");
    let bob = logged_in(&manager, BOB).await;
    let bobs_index = index_keys(&store)
        .into_iter()
        .find(|key| *key != alices_index)
        .expect("bob's index");

    let bobs = stored_bytes(&store, &bobs_index).await;
    store
        .inner()
        .save(&alices_index, &bobs, TTL, None)
        .await
        .expect("overwrite");
    let alice = logged_in(&manager, ALICE).await;
    let listed = manager
        .get(Some(alice.value()))
        .user_sessions()
        .await
        .expect("listing");
    assert_eq!(
        listed.len(),
        1,
        "another user's sessions listed: {listed:?}"
    );
    assert!(listed[0].is_current());
    let ended = manager
        .get(Some(alice.value()))
        .end_other_user_sessions()
        .await
        .expect("end others");
    assert_eq!(ended, 0);
    assert_eq!(user_of(&manager, &bob).await.as_deref(), Some(BOB));
    // Logging out everywhere ends what the index lists, without asking whose
    // the sessions are: had bob's index opened, bob would be logged out.
    let session = manager.get(Some(alice.value()));
    session
        .logout_everywhere()
        .await
        .expect("logout everywhere");
    assert_eq!(user_of(&manager, &alice).await, None);
    assert_eq!(
        user_of(&manager, &bob).await.as_deref(),
        Some(BOB),
        "another user's index opened: alice logged bob out"
    );
}
