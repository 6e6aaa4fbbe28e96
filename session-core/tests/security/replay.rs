//! Replay: a cookie kept after its session ended (logout, revocation) is no
//! session, on the instance that ended it and on any other sharing the store,
//! including one that served the session just before.

use std::sync::Arc;

use session_core::test_stores::CountingStore;
use session_core::{Error, SessionManager, SetCookie, Store};

use crate::common::{SECRET_A, logged_in, logout_everywhere, manager_on, manager_with, user_of};
use crate::{id_of, second_instance};

const USER: &str = "alice.replay@example.com";

/// Asserts that `cookie` reaches no session on `instance`, and that a write
/// with it starts a session under a fresh ID.
async fn is_no_session(instance: &SessionManager, cookie: &SetCookie) {
    let replay = instance.get(Some(cookie.value()));
    assert_eq!(
        replay.current_user::<String>().await.expect("load"),
        None,
        "a replayed cookie reaches its user"
    );
    assert!(
        replay.is_empty().await.expect("load"),
        "a replayed cookie reaches its data"
    );
    replay.insert("after", "replay").await.expect("insert");
    let fresh = instance
        .set(&replay)
        .await
        .expect("set")
        .expect("a new session");
    assert_ne!(
        id_of(fresh.value()),
        id_of(cookie.value()),
        "an ended ID came back"
    );
}

/// Moved from `lifecycle.rs` (the replay half of
/// `destroy_deletes_on_the_server_and_expires_the_cookie`).
#[tokio::test]
async fn a_cookie_replayed_after_logout_is_no_session_on_any_instance() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let other = second_instance(&store);
    let cookie = logged_in(&manager, USER).await;
    assert_eq!(user_of(&other, &cookie).await.as_deref(), Some(USER));

    let session = manager.get(Some(cookie.value()));
    session.logout().await.expect("logout");
    let removal = manager.set(&session).await.expect("set");
    assert!(removal.is_some_and(|cookie| cookie.is_removal()));

    is_no_session(&other, &cookie).await;
    is_no_session(&manager, &cookie).await;
}

/// Moved from `anonymous.rs` (`an_ended_session_never_comes_back`): neither
/// the cookie issued before the session had a record nor the one issued with
/// it brings a logged-out session back.
#[tokio::test]
async fn a_logged_out_session_never_comes_back_from_either_of_its_cookies() {
    let manager = manager_on(Arc::new(CountingStore::new()));
    let form = manager.get(None);
    let token = form.csrf_token().await.expect("token");
    let unstored_cookie = manager.set(&form).await.expect("set").expect("cookie");
    let write = manager.get(Some(unstored_cookie.value()));
    write.insert("visits", &1).await.expect("insert");
    let stored_cookie = manager.set(&write).await.expect("set").expect("cookie");

    let logout = manager.get(Some(stored_cookie.value()));
    logout.logout().await.expect("logout");
    manager.set(&logout).await.expect("set");

    for cookie in [&unstored_cookie, &stored_cookie] {
        let replay = manager.get(Some(cookie.value()));
        replay.insert("visits", &5).await.expect("insert");
        assert!(
            !replay.verify_csrf(&token).await.expect("verify"),
            "a new ID"
        );
        let fresh = manager.set(&replay).await.expect("set").expect("cookie");
        assert_ne!(id_of(fresh.value()), id_of(cookie.value()));
    }
}

/// Moved from `user_sessions.rs` (`ending_a_session_by_its_handle_ends_it_at_once`).
#[tokio::test]
async fn a_session_ended_by_its_handle_is_no_session_at_once() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let laptop = logged_in(&manager, USER).await;
    let phone = logged_in(&manager, USER).await;
    assert_eq!(user_of(&manager, &phone).await.as_deref(), Some(USER));

    let session = manager.get(Some(laptop.value()));
    let listed = session.user_sessions().await.expect("listing");
    let other = listed.iter().find(|s| !s.is_current()).expect("the phone");
    session
        .end_user_session(other.handle())
        .await
        .expect("ending the phone's session");
    let end = manager.finish(&session, 303).await;
    assert!(end.set_cookie().is_none(), "the current session stays");

    assert_eq!(user_of(&manager, &phone).await, None, "the phone is out");
    assert_eq!(user_of(&manager, &laptop).await.as_deref(), Some(USER));
    let left = manager
        .get(Some(laptop.value()))
        .user_sessions()
        .await
        .expect("listing");
    assert_eq!(left.len(), 1);
    assert!(left[0].is_current());

    // The same handle again names an ended session: nothing to end.
    let again = manager
        .get(Some(laptop.value()))
        .end_user_session(other.handle())
        .await;
    assert!(matches!(again, Err(Error::UnknownSession)), "{again:?}");
    is_no_session(&manager, &phone).await;
}

/// Moved from `user_sessions.rs` (`two_instances_list_and_end_each_others_sessions`);
/// the first instance served the session just before, so only the deleted
/// record, not its own index check, can tell it the session ended.
#[tokio::test]
async fn a_session_ended_by_its_handle_on_one_instance_is_no_session_on_another() {
    let store = Arc::new(CountingStore::new());
    let first = manager_on(Arc::clone(&store));
    let second = second_instance(&store);
    let on_first = logged_in(&first, USER).await;
    let on_second = logged_in(&second, USER).await;
    assert_eq!(user_of(&first, &on_first).await.as_deref(), Some(USER));

    let listed = second
        .get(Some(on_second.value()))
        .user_sessions()
        .await
        .expect("listing");
    assert_eq!(listed.len(), 2);
    let other = listed.iter().find(|s| !s.is_current()).expect("other");
    second
        .get(Some(on_second.value()))
        .end_user_session(other.handle())
        .await
        .expect("end");
    assert_eq!(user_of(&first, &on_first).await, None);
    is_no_session(&first, &on_first).await;
}

/// Moved from `user_sessions.rs` (`ending_the_others_keeps_the_current_one`),
/// with the ended sessions served by a second instance just before.
#[tokio::test]
async fn sessions_ended_as_the_others_are_no_session_on_any_instance() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let other_instance = second_instance(&store);
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(logged_in(&manager, USER).await);
    }
    let current = logged_in(&manager, USER).await;
    for cookie in &others {
        assert_eq!(
            user_of(&other_instance, cookie).await.as_deref(),
            Some(USER)
        );
    }

    let session = manager.get(Some(current.value()));
    assert_eq!(session.end_other_user_sessions().await.expect("end"), 3);
    for cookie in &others {
        assert_eq!(user_of(&manager, cookie).await, None);
        is_no_session(&other_instance, cookie).await;
    }
    assert_eq!(user_of(&manager, &current).await.as_deref(), Some(USER));
    let session = manager.get(Some(current.value()));
    assert_eq!(session.end_other_user_sessions().await.expect("end"), 0);
    assert_eq!(session.user_sessions().await.expect("listing").len(), 1);
}

/// Moved from `user_sessions.rs` (`logging_out_everywhere_ends_every_session_and_the_index`),
/// with the sessions served by a second instance just before.
#[tokio::test]
async fn logging_out_everywhere_leaves_no_session_on_any_instance() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let other_instance = manager_with(&store, &[SECRET_A], |builder| builder);
    let laptop = logged_in(&manager, USER).await;
    let phone = logged_in(&manager, USER).await;
    let bob = logged_in(&manager, "bob.bystander@example.com").await;
    for cookie in [&laptop, &phone] {
        assert_eq!(
            user_of(&other_instance, cookie).await.as_deref(),
            Some(USER)
        );
    }

    let end = logout_everywhere(&manager, &phone).await;
    assert!(end.set_cookie().is_some_and(SetCookie::is_removal));
    for cookie in [&laptop, &phone] {
        assert_eq!(user_of(&manager, cookie).await, None);
        is_no_session(&other_instance, cookie).await;
    }
    assert_eq!(
        user_of(&manager, &bob).await.as_deref(),
        Some("bob.bystander@example.com")
    );

    // Only bob's session and bob's index are left, alice's index emptied (it
    // stays, so that a session claimed after it was emptied is refused), and
    // the two sessions the replays above started.
    let mut left = 0;
    for key in store.written_keys() {
        left += usize::from(store.inner().load(&key).await.expect("load").is_some());
    }
    assert_eq!(
        left, 5,
        "bob's record, bob's index, alice's empty index, the two replays"
    );
}

/// A store writer who kept a copy of a logged-in session's record puts it
/// back after the logout. The instance that ended the session had checked its
/// user's index for it moments before, and it must not trust that check any
/// longer: the record no longer listed in the index is refused at once.
#[tokio::test]
async fn a_record_put_back_after_logout_is_refused_by_the_instance_that_ended_it() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let cookie = logged_in(&manager, USER).await;
    assert_eq!(user_of(&manager, &cookie).await.as_deref(), Some(USER));
    let (key, copy) = store
        .written()
        .into_iter()
        .find(|(key, _)| !key.contains("user:"))
        .expect("the login wrote the session's record");

    let session = manager.get(Some(cookie.value()));
    session.logout().await.expect("logout");
    manager.set(&session).await.expect("set");
    store
        .save(&key, &copy, std::time::Duration::from_secs(600), None)
        .await
        .expect("the store writer puts the record back");

    assert_eq!(
        user_of(&manager, &cookie).await,
        None,
        "a logged-out record put back by a store writer was accepted"
    );
}
