//! A user's sessions: listed through the user's index, the current one ended
//! by its handle, foreign and stale handles refused, the index found after a
//! key rotation, and a lost index rebuilt by its user's sessions. That ended
//! sessions are no session on any instance, and that the index is sealed to
//! its key and names no user, is in `security/`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{SECRET_A, SECRET_B, logged_in, logout_everywhere, manager_with, user_of};
use session_core::test_stores::{CountingStore, GatedStore, StoreOp};
use session_core::{Error, KeyRing, SessionManager, SetCookie, Store, UserSession};

const USER: &str = "alice.secret.name@example.com";

/// The live sessions of the user logged in behind `cookie`.
async fn sessions_of(manager: &SessionManager, cookie: &SetCookie) -> Vec<UserSession> {
    manager
        .get(Some(cookie.value()))
        .user_sessions()
        .await
        .expect("listing")
}

fn manager(store: &Arc<CountingStore>) -> SessionManager {
    manager_with(store, &[SECRET_A], |builder| builder)
}

#[tokio::test]
async fn a_users_sessions_are_listed_newest_first_with_opaque_handles() {
    let store = Arc::new(CountingStore::new());
    let manager = manager(&store);
    let laptop = logged_in(&manager, USER).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let phone = logged_in(&manager, USER).await;
    let stranger = logged_in(&manager, "bob").await;

    let listed = sessions_of(&manager, &laptop).await;
    assert_eq!(listed.len(), 2, "only the user's own sessions: {listed:?}");
    assert!(
        listed[0].created() > listed[1].created(),
        "newest first: {listed:?}"
    );
    assert_eq!(
        listed.iter().map(|s| s.is_current()).collect::<Vec<_>>(),
        [false, true],
        "the laptop's session, the older one, is the current one"
    );
    for session in &listed {
        for cookie in [&laptop, &phone, &stranger] {
            assert!(
                !cookie.value().contains(session.handle()),
                "a handle must not be part of a cookie"
            );
        }
        assert!(session.handle().len() >= 16, "handles are unguessable");
    }
    assert_ne!(listed[0].handle(), listed[1].handle());

    let anonymous = manager.get(None);
    assert!(anonymous.user_sessions().await.expect("listing").is_empty());
}

#[tokio::test]
async fn a_foreign_or_garbage_handle_ends_nothing() {
    let store = Arc::new(CountingStore::new());
    let manager = manager(&store);
    let alice = logged_in(&manager, USER).await;
    let bob = logged_in(&manager, "bob").await;
    let bobs = sessions_of(&manager, &bob).await;

    for handle in [bobs[0].handle(), "", "garbage", &"x".repeat(10_000)] {
        let session = manager.get(Some(alice.value()));
        let ended = session.end_user_session(handle).await;
        assert!(matches!(ended, Err(Error::UnknownSession)), "{ended:?}");
        let end = manager.finish(&session, 404).await;
        assert!(
            end.error_reply().is_none(),
            "a client's bad handle is no failure"
        );
    }
    assert_eq!(user_of(&manager, &bob).await.as_deref(), Some("bob"));
    assert_eq!(user_of(&manager, &alice).await.as_deref(), Some(USER));

    let anonymous = manager.get(None);
    let ended = anonymous.end_user_session(bobs[0].handle()).await;
    assert!(matches!(ended, Err(Error::UnknownSession)), "{ended:?}");
    assert_eq!(user_of(&manager, &bob).await.as_deref(), Some("bob"));
}

#[tokio::test]
async fn ending_the_current_session_by_its_handle_is_a_logout() {
    let store = Arc::new(CountingStore::new());
    let manager = manager(&store);
    let laptop = logged_in(&manager, USER).await;
    let phone = logged_in(&manager, USER).await;

    let session = manager.get(Some(laptop.value()));
    let listed = session.user_sessions().await.expect("listing");
    let own = listed.iter().find(|s| s.is_current()).expect("current");
    session.end_user_session(own.handle()).await.expect("end");
    let end = manager.finish(&session, 303).await;
    assert!(
        end.set_cookie().is_some_and(SetCookie::is_removal),
        "the cookie is expired"
    );
    assert_eq!(user_of(&manager, &laptop).await, None);
    assert_eq!(user_of(&manager, &phone).await.as_deref(), Some(USER));
}

#[tokio::test]
async fn an_expired_session_is_not_listed() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_with(&store, &[SECRET_A], |builder| {
        builder.idle_timeout(Duration::from_secs(1))
    });
    let idle = logged_in(&manager, USER).await;
    let active = logged_in(&manager, USER).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(user_of(&manager, &active).await.as_deref(), Some(USER));
    }
    let listed = sessions_of(&manager, &active).await;
    assert_eq!(listed.len(), 1, "the idle session timed out: {listed:?}");
    assert!(listed[0].is_current());
    assert_eq!(user_of(&manager, &idle).await, None);
}

/// Loses the one user's index `store` holds, as an eviction would.
async fn lose_the_index(store: &CountingStore) {
    let key = store
        .written_keys()
        .into_iter()
        .find(|key| key.contains("user:"))
        .expect("the index was written");
    store.inner().delete(&key).await.expect("delete");
}

/// An index lost (evicted, or on a memcached server taken out of the list)
/// logs nobody out: its user's sessions list themselves again as they are
/// checked, and within the check interval a request still makes one store
/// call.
#[tokio::test]
async fn a_lost_index_is_rebuilt_by_its_users_sessions() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_with(&store, &[SECRET_A], |builder| {
        builder.index_check_interval(Duration::from_secs(3600))
    });
    let laptop = logged_in(&manager, USER).await;
    let phone = logged_in(&manager, USER).await;
    // The first load in this process looks the session up; within the
    // interval the answer stands.
    assert_eq!(user_of(&manager, &laptop).await.as_deref(), Some(USER));
    let before = store.counts();
    assert_eq!(user_of(&manager, &laptop).await.as_deref(), Some(USER));
    assert_eq!((store.counts() - before).total(), 1, "one store call");

    lose_the_index(&store).await;

    // Another process (or this one after the interval) finds the index gone.
    let other_process = manager_with(&store, &[SECRET_A], |builder| builder);
    assert_eq!(
        user_of(&other_process, &laptop).await.as_deref(),
        Some(USER)
    );
    assert_eq!(user_of(&other_process, &phone).await.as_deref(), Some(USER));
    assert_eq!(
        sessions_of(&other_process, &laptop).await.len(),
        2,
        "both sessions listed themselves again"
    );
}

/// While a lost index is rebuilt, a session it does not list yet adds
/// itself; once the user ends a session, the rebuild is closed and a session
/// that had not listed itself by then is refused (it fails closed).
#[tokio::test]
async fn ending_a_session_closes_the_rebuild_of_a_lost_index() {
    let store = Arc::new(CountingStore::new());
    let first_process = manager(&store);
    let laptop = logged_in(&first_process, USER).await;
    let phone = logged_in(&first_process, USER).await;
    let tablet = logged_in(&first_process, USER).await;
    lose_the_index(&store).await;

    let other_process = manager(&store);
    assert_eq!(
        user_of(&other_process, &laptop).await.as_deref(),
        Some(USER)
    );
    assert_eq!(user_of(&other_process, &phone).await.as_deref(), Some(USER));
    let ended = other_process
        .get(Some(laptop.value()))
        .end_other_user_sessions()
        .await
        .expect("end the others");
    assert_eq!(ended, 1, "the phone, the one other session listed again");

    let third_process = manager(&store);
    assert_eq!(user_of(&third_process, &phone).await, None);
    assert_eq!(
        user_of(&third_process, &tablet).await,
        None,
        "a session unlisted when the rebuild closed is refused"
    );
    assert_eq!(
        user_of(&third_process, &laptop).await.as_deref(),
        Some(USER)
    );
}

#[tokio::test]
async fn the_index_survives_a_key_rotation() {
    let store = Arc::new(CountingStore::new());
    let old = manager_with(&store, &[SECRET_A], |builder| builder);
    let before = logged_in(&old, USER).await;
    let rotated = manager_with(&store, &[SECRET_B, SECRET_A], |builder| builder);
    let after = logged_in(&rotated, USER).await;

    let listed = sessions_of(&rotated, &after).await;
    assert_eq!(listed.len(), 2, "the session from before the rotation too");
    let index_keys = |store: Arc<CountingStore>| async move {
        let mut live = 0;
        for key in store.written_keys() {
            let found = store.inner().load(&key).await.expect("load").is_some();
            live += usize::from(found && key.contains("user:"));
        }
        live
    };
    assert_eq!(
        index_keys(Arc::clone(&store)).await,
        1,
        "the index moved to the new key's place"
    );
    assert_eq!(user_of(&rotated, &before).await.as_deref(), Some(USER));
}

#[tokio::test]
async fn a_login_racing_a_logout_everywhere_is_ended_by_it() {
    let memory = Arc::new(CountingStore::new());
    let plain = manager(&memory);
    let first = logged_in(&plain, USER).await;

    // A second login stops between listing itself in the index and claiming
    // its ID; the logout everywhere runs in that gap.
    let gated = Arc::new(GatedStore::wrap_shared(
        Arc::clone(&memory),
        [StoreOp::Create],
    ));
    let racing = SessionManager::builder(
        Arc::clone(&gated),
        KeyRing::from_secrets([SECRET_A]).expect("key"),
    )
    .build()
    .expect("valid config");
    let login = tokio::spawn({
        let racing = racing.clone();
        async move { logged_in(&racing, USER).await }
    });
    // The index entry is saved (compare-and-set on the existing index); the
    // claim of the ID is the create held at the gate.
    gated.until_held(1).await;
    let session = plain.get(Some(first.value()));
    session
        .logout_everywhere()
        .await
        .expect("logout everywhere");
    gated.open();
    let second = login.await.expect("the login finishes");

    assert_eq!(user_of(&plain, &first).await, None);
    assert_eq!(
        user_of(&plain, &second).await,
        None,
        "the racing login is not missed"
    );
}

#[tokio::test]
async fn a_listed_key_holding_something_else_is_not_listed() {
    let store = Arc::new(CountingStore::new());
    let manager = manager(&store);
    let laptop = logged_in(&manager, USER).await;
    let before = store.written_keys();
    logged_in(&manager, USER).await;
    let phone_key = store
        .written_keys()
        .into_iter()
        .find(|key| !before.contains(key))
        .expect("the phone's record");
    // Whoever reaches the store writes something else under that key.
    store
        .inner()
        .save(
            &phone_key,
            b"not a sealed record",
            Duration::from_secs(60),
            None,
        )
        .await
        .expect("save");
    let listed = sessions_of(&manager, &laptop).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].is_current());
}

/// A login after the index was lost (a new device, whose anonymous session
/// was never checked) starts a rebuild too: the user's other sessions list
/// themselves again instead of being refused.
#[tokio::test]
async fn a_login_after_the_index_was_lost_logs_no_other_session_out() {
    let store = Arc::new(CountingStore::new());
    let laptop = logged_in(&manager(&store), USER).await;
    lose_the_index(&store).await;

    let other_process = manager(&store);
    let phone = logged_in(&other_process, USER).await;
    assert_eq!(
        user_of(&other_process, &laptop).await.as_deref(),
        Some(USER)
    );
    assert_eq!(user_of(&other_process, &phone).await.as_deref(), Some(USER));
}

/// Ending the others closes a rebuild even when no other session has listed
/// itself yet, so none of them can list itself afterwards.
#[tokio::test]
async fn ending_no_listed_other_session_still_closes_the_rebuild() {
    let store = Arc::new(CountingStore::new());
    let first_process = manager(&store);
    let laptop = logged_in(&first_process, USER).await;
    let stolen = logged_in(&first_process, USER).await;
    lose_the_index(&store).await;

    let other_process = manager(&store);
    let ended = other_process
        .get(Some(laptop.value()))
        .end_other_user_sessions()
        .await
        .expect("end the others");
    assert_eq!(ended, 0, "no other session was listed yet");
    assert_eq!(
        user_of(&manager(&store), &stolen).await,
        None,
        "a session unlisted when the others were ended came back"
    );
    assert_eq!(
        user_of(&manager(&store), &laptop).await.as_deref(),
        Some(USER)
    );
}

/// "Log out everywhere" from a session whose check still stands in this
/// process, while the index is lost, ends every other session all the same.
#[tokio::test]
async fn logging_out_everywhere_over_a_lost_index_ends_every_session() {
    let store = Arc::new(CountingStore::new());
    let first_process = manager_with(&store, &[SECRET_A], |builder| {
        builder.index_check_interval(Duration::from_secs(3600))
    });
    let laptop = logged_in(&first_process, USER).await;
    let phone = logged_in(&first_process, USER).await;
    assert_eq!(
        user_of(&first_process, &laptop).await.as_deref(),
        Some(USER)
    );
    lose_the_index(&store).await;

    let end = logout_everywhere(&first_process, &laptop).await;
    assert!(end.set_cookie().is_some_and(SetCookie::is_removal));
    for cookie in [&laptop, &phone] {
        assert_eq!(user_of(&manager(&store), cookie).await, None);
    }
}

/// A key rotation while a lost index is rebuilt, under the old key's place:
/// the sessions not listed yet still list themselves, and the index moves to
/// the new key's place.
#[tokio::test]
async fn a_key_rotation_during_a_rebuild_logs_no_session_out() {
    let store = Arc::new(CountingStore::new());
    let old = manager(&store);
    let laptop = logged_in(&old, USER).await;
    let phone = logged_in(&old, USER).await;
    lose_the_index(&store).await;
    assert_eq!(user_of(&old, &laptop).await.as_deref(), Some(USER));

    let rotated = manager_with(&store, &[SECRET_B, SECRET_A], |builder| builder);
    assert_eq!(user_of(&rotated, &phone).await.as_deref(), Some(USER));
    assert_eq!(user_of(&rotated, &laptop).await.as_deref(), Some(USER));
    assert_eq!(sessions_of(&rotated, &phone).await.len(), 2);
}
