//! Session fixation: an ID an attacker planted or saw before login reaches
//! nothing after it.

use std::sync::Arc;
use std::time::Duration;

use session_core::test_stores::CountingStore;
use session_core::{SessionManager, SetCookie};

use crate::common::{SECRET_A, holds_nothing, manager_on, manager_with, saved_session, user_name};
use crate::{id_of, second_instance};

const USER: &str = "alice.victim@example.com";

/// The victim logs in with the `planted` cookie; answers the cookie the login
/// sets, after checking that it names another ID.
async fn victim_logs_in_with(manager: &SessionManager, planted: &SetCookie) -> SetCookie {
    let victim = manager.get(Some(planted.value()));
    victim.login(USER).await.expect("login");
    let after_login = manager
        .set(&victim)
        .await
        .expect("set")
        .expect("a login sets a cookie");
    assert_ne!(
        id_of(after_login.value()),
        id_of(planted.value()),
        "the login kept the planted ID"
    );
    after_login
}

/// The attacker made a stored session, planted its cookie in the victim's
/// browser, and the victim logged in with it.
#[tokio::test]
async fn login_rotates_the_id_so_a_planted_stored_cookie_reaches_nothing() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let planted = saved_session(&manager, &[("cart", "book")]).await;

    let after_login = victim_logs_in_with(&manager, &planted).await;
    let victims = manager.get(Some(after_login.value()));
    assert_eq!(user_name(&victims).await.as_deref(), Some(USER));

    for instance in [&manager, &second_instance(&store)] {
        let attacker = instance.get(Some(planted.value()));
        assert_eq!(
            attacker.current_user::<String>().await.expect("load"),
            None,
            "the planted cookie reaches the login"
        );
        assert!(
            attacker.is_empty().await.expect("load"),
            "the planted cookie reaches the session's data"
        );
    }
}

/// The attacker only opened a form (a cookie without a record) and planted
/// that cookie.
#[tokio::test]
async fn login_rotates_the_id_so_a_planted_record_less_cookie_reaches_nothing() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let form = manager.get(None);
    form.csrf_token().await.expect("token");
    let planted = manager
        .set(&form)
        .await
        .expect("set")
        .expect("a form visit sets a cookie");
    assert_eq!(store.writes(), 0, "the planted session has no record");

    let after_login = victim_logs_in_with(&manager, &planted).await;

    for instance in [&manager, &second_instance(&store)] {
        let attacker = instance.get(Some(planted.value()));
        assert_eq!(
            attacker.current_user::<String>().await.expect("load"),
            None,
            "the planted cookie reaches the login"
        );
        // Writing with the planted cookie reaches the victim's session
        // neither: it is another, empty session.
        attacker.insert("probe", "x").await.expect("insert");
        if let Some(cookie) = instance.set(&attacker).await.expect("set") {
            assert_ne!(id_of(cookie.value()), id_of(after_login.value()));
        }
    }
    let victims = manager.get(Some(after_login.value()));
    assert_eq!(user_name(&victims).await.as_deref(), Some(USER));
    assert!(!victims.contains_key("probe").await.expect("load"));
}

/// Moved from `rotation.rs` (`a_failed_rotation_never_saves_the_login_under_the_old_id`).
#[tokio::test]
async fn a_login_whose_rotation_fails_is_never_saved_under_the_planted_id() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let planted = saved_session(&manager, &[("visits", "1")]).await;

    store.set_failing_deletes(true);
    let login = manager.get(Some(planted.value()));
    login.insert("user_name", "alice").await.expect("insert");
    assert!(login.cycle_id().await.is_err());
    let cookie = manager.set(&login).await.expect("nothing left to save");
    assert!(
        cookie.is_none(),
        "a failed rotation must not hand out a cookie"
    );

    store.set_failing_deletes(false);
    let attacker = manager.get(Some(planted.value()));
    assert_eq!(user_name(&attacker).await, None, "session fixation");
}

/// Moved from `lifecycle.rs` (`cycle_id_moves_the_data_and_kills_the_old_id`).
#[tokio::test]
async fn cycle_id_moves_the_data_to_a_new_id_and_the_old_cookie_reaches_nothing() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_with(&store, &[SECRET_A], |builder| {
        builder.absolute_timeout(Duration::from_secs(100))
    });
    let session = manager.get(None);
    session.insert("visits", &3u32).await.expect("insert");
    let token_before = session.csrf_token().await.expect("token");
    let old = manager.set(&session).await.expect("set").expect("cookie");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let session = manager.get(Some(old.value()));
    session.insert("user_name", "alice").await.expect("insert");
    session.cycle_id().await.expect("cycle");
    let token_after = session.csrf_token().await.expect("token");
    let new = manager
        .set(&session)
        .await
        .expect("set")
        .expect("rotation sets a cookie");

    assert_ne!(id_of(new.value()), id_of(old.value()), "the ID was kept");
    assert_ne!(
        token_after, token_before,
        "rotation replaces the CSRF token"
    );
    assert!(!session.verify_csrf(&token_before).await.expect("verify"));
    let max_age = new.max_age().expect("max-age").as_secs();
    assert!(
        max_age <= 99,
        "the absolute timeout still counts from creation (Max-Age {max_age})"
    );

    let moved = manager.get(Some(new.value()));
    assert_eq!(moved.get::<u32>("visits").await.expect("get"), Some(3));
    assert_eq!(user_name(&moved).await.as_deref(), Some("alice"));
    for instance in [&manager, &second_instance(&store)] {
        assert!(
            holds_nothing(instance, old.value()).await,
            "the old cookie must no longer reach the data"
        );
    }
}
