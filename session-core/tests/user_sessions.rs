//! A user's sessions: listed through the user's index, ended one by one, all
//! but the current one, or all at once; foreign and stale handles refused;
//! the index sealed, its key hashed, found after a key rotation, and its loss
//! failing closed.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{SECRET_A, SECRET_B, manager_with, stored_bytes};
use session_core::test_stores::{CountingStore, GatedStore, StoreOp};
use session_core::{Error, KeyRing, SessionManager, SetCookie, Store, UserSession};

const USER: &str = "alice.secret.name@example.com";

/// A new session in which `user` logged in, and its cookie.
async fn logged_in(manager: &SessionManager, user: &str) -> SetCookie {
    let session = manager.get(None);
    session.login(user).await.expect("login");
    manager
        .set(&session)
        .await
        .expect("save the login")
        .expect("a login sets a cookie")
}

/// The live sessions of the user logged in behind `cookie`.
async fn sessions_of(manager: &SessionManager, cookie: &SetCookie) -> Vec<UserSession> {
    manager
        .get(Some(cookie.value()))
        .user_sessions()
        .await
        .expect("listing")
}

async fn user_of(manager: &SessionManager, cookie: &SetCookie) -> Option<String> {
    manager
        .get(Some(cookie.value()))
        .current_user::<String>()
        .await
        .expect("load")
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
async fn ending_a_session_by_its_handle_ends_it_at_once() {
    let store = Arc::new(CountingStore::new());
    let manager = manager(&store);
    let laptop = logged_in(&manager, USER).await;
    let phone = logged_in(&manager, USER).await;

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
    let left = sessions_of(&manager, &laptop).await;
    assert_eq!(left.len(), 1);
    assert!(left[0].is_current());

    // The same handle again names an ended session: nothing to end.
    let again = manager
        .get(Some(laptop.value()))
        .end_user_session(other.handle())
        .await;
    assert!(matches!(again, Err(Error::UnknownSession)), "{again:?}");
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
async fn ending_the_others_keeps_the_current_one() {
    let store = Arc::new(CountingStore::new());
    let manager = manager(&store);
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(logged_in(&manager, USER).await);
    }
    let current = logged_in(&manager, USER).await;

    let session = manager.get(Some(current.value()));
    assert_eq!(session.end_other_user_sessions().await.expect("end"), 3);
    for cookie in &others {
        assert_eq!(user_of(&manager, cookie).await, None);
    }
    assert_eq!(user_of(&manager, &current).await.as_deref(), Some(USER));
    let session = manager.get(Some(current.value()));
    assert_eq!(session.end_other_user_sessions().await.expect("end"), 0);
    assert_eq!(session.user_sessions().await.expect("listing").len(), 1);
}

#[tokio::test]
async fn logging_out_everywhere_ends_every_session_and_the_index() {
    let store = Arc::new(CountingStore::new());
    let manager = manager(&store);
    let laptop = logged_in(&manager, USER).await;
    let phone = logged_in(&manager, USER).await;
    let bob = logged_in(&manager, "bob").await;

    let session = manager.get(Some(phone.value()));
    session
        .logout_everywhere()
        .await
        .expect("logout everywhere");
    let end = manager.finish(&session, 303).await;
    assert!(end.set_cookie().is_some_and(SetCookie::is_removal));
    assert_eq!(user_of(&manager, &laptop).await, None);
    assert_eq!(user_of(&manager, &phone).await, None);
    assert_eq!(user_of(&manager, &bob).await.as_deref(), Some("bob"));

    // Only bob's session and bob's index are left.
    let mut left = 0;
    for key in store.written_keys() {
        left += usize::from(store.inner().load(&key).await.expect("load").is_some());
    }
    assert_eq!(left, 2, "bob's record and bob's index");
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

#[tokio::test]
async fn the_index_is_sealed_and_its_key_names_no_user() {
    let store = Arc::new(CountingStore::new());
    let manager = manager(&store);
    let cookie = logged_in(&manager, USER).await;
    logged_in(&manager, USER).await;

    let keys = store.written_keys();
    let index_keys: Vec<&String> = keys.iter().filter(|key| key.contains("user:")).collect();
    assert_eq!(index_keys.len(), 1, "one index for the user: {keys:?}");
    for key in &keys {
        assert!(!key.contains("alice"), "a store key names the user: {key}");
        let bytes = stored_bytes(&store, key).await;
        assert!(
            !bytes.windows(5).any(|window| window == b"alice"),
            "a stored value shows the user's name in the clear: {key}"
        );
    }

    // An index that does not open (forged, or altered) lists nothing, and
    // the sessions it listed are refused: the loss fails closed.
    let index_key = index_keys[0].clone();
    let mut forged = stored_bytes(&store, &index_key).await;
    let last = forged.len() - 1;
    forged[last] ^= 1;
    store
        .inner()
        .save(&index_key, &forged, Duration::from_secs(60), None)
        .await
        .expect("save");
    let other_process = manager_with(&store, &[SECRET_A], |builder| builder);
    assert_eq!(user_of(&other_process, &cookie).await, None);

    // Whoever wrote it cannot keep the user out: the next login replaces it.
    let again = logged_in(&manager, USER).await;
    assert_eq!(user_of(&other_process, &again).await.as_deref(), Some(USER));
    let listed = sessions_of(&other_process, &again).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
}

#[tokio::test]
async fn a_lost_index_fails_closed() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_with(&store, &[SECRET_A], |builder| {
        builder.index_check_interval(Duration::from_secs(3600))
    });
    let cookie = logged_in(&manager, USER).await;
    // The first load in this process looks the session up; within the
    // interval the answer stands, so a request makes one store call.
    assert_eq!(user_of(&manager, &cookie).await.as_deref(), Some(USER));
    let before = store.counts();
    assert_eq!(user_of(&manager, &cookie).await.as_deref(), Some(USER));
    assert_eq!((store.counts() - before).total(), 1, "one store call");

    // Evicted: memcached drops what is not touched.
    let index_key = store
        .written_keys()
        .into_iter()
        .find(|key| key.contains("user:"))
        .expect("the index was written");
    store.inner().delete(&index_key).await.expect("delete");

    // Another process (or this one after the interval) looks it up and
    // refuses the session.
    let other_process = manager_with(&store, &[SECRET_A], |builder| builder);
    assert_eq!(user_of(&other_process, &cookie).await, None);
}

#[tokio::test]
async fn two_instances_list_and_end_each_others_sessions() {
    let store = Arc::new(CountingStore::new());
    let first = manager(&store);
    let second = manager(&store);
    let on_first = logged_in(&first, USER).await;
    let on_second = logged_in(&second, USER).await;

    let listed = sessions_of(&second, &on_second).await;
    assert_eq!(listed.len(), 2);
    let other = listed.iter().find(|s| !s.is_current()).expect("other");
    second
        .get(Some(on_second.value()))
        .end_user_session(other.handle())
        .await
        .expect("end");
    assert_eq!(user_of(&first, &on_first).await, None);
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
