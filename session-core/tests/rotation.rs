//! `cycle_id` against concurrent requests: a logout wins, other requests'
//! saved writes carry over, two rotations leave one ID. That a failed
//! rotation never leaves the login under the old ID is in `security/`.

mod common;

use std::sync::Arc;

use common::{holds_nothing, manager_on, saved_session, user_name};
use session_core::test_stores::CountingStore;

#[tokio::test]
async fn a_logout_before_the_rotation_wins() {
    let manager = manager_on(Arc::new(CountingStore::new()));
    let cookie = saved_session(&manager, &[("visits", "1")]).await;

    let login = manager.get(Some(cookie.value()));
    login.contains_key("visits").await.expect("load");
    let logout = manager.get(Some(cookie.value()));
    logout.destroy().await.expect("destroy");

    login.insert("user_name", "alice").await.expect("insert");
    login.cycle_id().await.expect("a lost race is not an error");
    assert!(
        login.is_empty().await.expect("state"),
        "the logged-out data must not move to a new ID"
    );
    assert!(
        manager.set(&login).await.expect("set").is_none(),
        "nothing to store, no cookie"
    );
    assert!(holds_nothing(&manager, cookie.value()).await);
}

#[tokio::test]
async fn writes_saved_before_the_rotation_carry_over() {
    let manager = manager_on(Arc::new(CountingStore::new()));
    let cookie = saved_session(&manager, &[("visits", "1")]).await;

    let login = manager.get(Some(cookie.value()));
    login.contains_key("visits").await.expect("load");
    let cart = manager.get(Some(cookie.value()));
    cart.insert("cart", "book").await.expect("insert");
    manager
        .set(&cart)
        .await
        .expect("the other request saves first");

    login.insert("user_name", "alice").await.expect("insert");
    login.cycle_id().await.expect("cycle");
    let new = manager
        .set(&login)
        .await
        .expect("set")
        .expect("rotated cookie");
    let moved = manager.get(Some(new.value()));
    assert_eq!(
        moved.get::<String>("cart").await.expect("get").as_deref(),
        Some("book"),
        "a saved write was lost"
    );
    assert_eq!(user_name(&moved).await.as_deref(), Some("alice"));
}

#[tokio::test]
async fn two_rotations_of_one_session_leave_one_live_id() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let cookie = saved_session(&manager, &[("user_name", "alice")]).await;
    let (first, second) = (
        manager.get(Some(cookie.value())),
        manager.get(Some(cookie.value())),
    );
    first.contains_key("user_name").await.expect("load");
    second.contains_key("user_name").await.expect("load");

    first.cycle_id().await.expect("first rotation");
    second
        .cycle_id()
        .await
        .expect("second rotation loses quietly");
    let winner = manager
        .set(&first)
        .await
        .expect("set")
        .expect("rotated cookie");
    assert!(
        manager.set(&second).await.expect("set").is_none(),
        "the loser must not hand out an ID"
    );
    assert!(!holds_nothing(&manager, winner.value()).await);
    assert_eq!(
        store.inner().entry_count(),
        1,
        "exactly one record may remain"
    );
}

#[tokio::test]
async fn a_new_session_back_to_empty_is_never_written() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let session = manager.get(None);
    session.insert("k", "v").await.expect("insert");
    session.remove("k").await.expect("remove");
    session.cycle_id().await.expect("cycle");
    assert!(manager.set(&session).await.expect("set").is_none());
    assert_eq!(store.writes(), 0);
}
