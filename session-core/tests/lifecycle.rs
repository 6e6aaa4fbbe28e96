//! A session's life through the manager: laziness, cookies, rotation
//! failures, expiry, limits. What the cookie, rotation, logout and CSRF
//! tokens protect against is in `security/`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{SECRET_A, holds_nothing, manager_on, manager_with, ring, saved_session, user_name};
use session_core::test_stores::CountingStore;
use session_core::{Error, SameSite, SessionManager};

#[tokio::test]
async fn untouched_and_empty_sessions_cost_nothing() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));

    let untouched = manager.get(None);
    assert!(manager.set(&untouched).await.expect("set").is_none());

    let read_only = manager.get(None);
    assert_eq!(user_name(&read_only).await, None);
    assert!(
        manager.set(&read_only).await.expect("set").is_none(),
        "an empty new session sets no cookie"
    );
    assert_eq!(
        store.calls(),
        0,
        "no cookie and no changes: no store call at all"
    );

    let cookie = saved_session(&manager, &[("k", "v")]).await;
    let before = store.calls();
    let untouched = manager.get(Some(cookie.value()));
    assert!(manager.set(&untouched).await.expect("set").is_none());
    assert_eq!(
        store.calls(),
        before,
        "a handler that never touches its session makes no store call"
    );
}

#[tokio::test]
async fn a_read_costs_one_store_call_and_sets_no_cookie() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let cookie = saved_session(&manager, &[("user_name", "alice")]).await;

    let before = store.calls();
    let session = manager.get(Some(cookie.value()));
    assert_eq!(user_name(&session).await.as_deref(), Some("alice"));
    assert_eq!(session.keys().await.expect("keys"), ["user_name"]);
    assert!(
        manager.set(&session).await.expect("set").is_none(),
        "reading needs no Set-Cookie"
    );
    assert_eq!(
        store.calls() - before,
        1,
        "one load-and-touch, nothing else"
    );
}

#[tokio::test]
async fn the_cookie_carries_safe_defaults_and_the_time_left() {
    let manager = manager_with(&Arc::default(), &[SECRET_A], |builder| {
        builder.absolute_timeout(Duration::from_secs(100))
    });
    let cookie = saved_session(&manager, &[("k", "v")]).await;
    assert_eq!(
        cookie.name(),
        "__Host-session",
        "Secure, Path=/ and no Domain: the __Host- prefix"
    );
    assert!(cookie.secure() && cookie.http_only());
    assert_eq!(cookie.same_site(), SameSite::Lax);
    assert_eq!(cookie.path(), "/");
    let max_age = cookie.max_age().expect("persistent by default").as_secs();
    assert!(
        (98..=100).contains(&max_age),
        "Max-Age {max_age} is not the time left"
    );
    let header = cookie.header_value();
    assert!(
        header.starts_with(&format!(
            "__Host-session={}; Path=/; Max-Age=",
            cookie.value()
        )),
        "{header}"
    );
    assert!(
        header.ends_with("; Secure; HttpOnly; SameSite=Lax"),
        "{header}"
    );
}

#[tokio::test]
async fn the_first_verifying_cookie_among_headers_wins() {
    let manager = manager_on(Arc::new(CountingStore::new()));
    let cookie = saved_session(&manager, &[("user_name", "alice")]).await;
    let name = cookie.name();
    let planted = format!(
        "other=1; {name}=planted-by-a-sibling-domain; {name}={}",
        cookie.value()
    );
    // Another app's cookie that is not UTF-8 must not hide ours.
    let mut latin1 = b"lang=fran\xe7ais; ".to_vec();
    latin1.extend_from_slice(planted.as_bytes());
    let garbage = [name.as_bytes(), b"=\xff\xfe"].concat();
    let headers: [&[u8]; 2] = [&garbage, &latin1];
    let session = manager.start(headers);
    assert_eq!(user_name(&session).await.as_deref(), Some("alice"));
}

#[tokio::test]
async fn cycle_id_fails_when_the_old_record_cannot_be_deleted() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let old = saved_session(&manager, &[("user_name", "alice")]).await;
    store.set_failing_deletes(true);
    let session = manager.get(Some(old.value()));
    let error = session
        .cycle_id()
        .await
        .expect_err("the old record is still alive");
    assert!(
        error.is_unavailable(),
        "a failed delete answers 503: {error}"
    );
}

#[tokio::test]
async fn idle_sessions_expire_and_active_ones_live() {
    let manager = manager_with(&Arc::default(), &[SECRET_A], |builder| {
        builder.idle_timeout(Duration::from_secs(1))
    });
    let idle = saved_session(&manager, &[("k", "v")]).await;
    let active = saved_session(&manager, &[("k", "v")]).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let session = manager.get(Some(active.value()));
        assert!(
            session.contains_key("k").await.expect("get"),
            "a session used every 0.5 s must live"
        );
    }
    assert!(
        holds_nothing(&manager, idle.value()).await,
        "idle for 1.5 s must be gone"
    );
}

#[tokio::test]
async fn absolute_timeout_ends_even_an_active_session_never_early() {
    let manager = manager_with(&Arc::default(), &[SECRET_A], |builder| {
        builder.absolute_timeout(Duration::from_secs(2))
    });
    let cookie = saved_session(&manager, &[("k", "v")]).await;
    for round in 0..3 {
        tokio::time::sleep(Duration::from_millis(550)).await;
        let session = manager.get(Some(cookie.value()));
        assert!(
            session.contains_key("k").await.expect("get"),
            "expired before 2 s"
        );
        session.insert("k", &round).await.expect("insert");
        let resent = manager.set(&session).await.expect("set");
        assert!(
            resent.is_none(),
            "a write sends no cookie: the first one's Max-Age already counts down to the absolute timeout"
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        holds_nothing(&manager, cookie.value()).await,
        "alive after 2 s"
    );
}

#[tokio::test]
async fn the_store_ttl_never_outlasts_the_absolute_timeout() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_with(&store, &[SECRET_A], |builder| {
        builder
            .idle_timeout(Duration::from_secs(1800))
            .absolute_timeout(Duration::from_secs(2))
    });
    let cookie = saved_session(&manager, &[("k", "v")]).await;
    assert!(
        manager
            .get(Some(cookie.value()))
            .contains_key("k")
            .await
            .expect("get")
    );
    let ttl = store.last_refresh_ttl().expect("a load-and-touch");
    assert!(
        ttl <= Duration::from_secs(2),
        "asked the store to keep it {ttl:?}"
    );

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let calls = store.calls();
    assert!(holds_nothing(&manager, cookie.value()).await);
    assert_eq!(
        store.calls(),
        calls,
        "an expired cookie needs no store call"
    );
}

#[tokio::test]
async fn oversized_sessions_fail_loudly_and_write_nothing() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_with(&store, &[SECRET_A], |builder| {
        builder.max_record_bytes(10_000)
    });
    let session = manager.get(None);
    session
        .insert("blob", &"x".repeat(20_000))
        .await
        .expect("insert");
    match manager.set(&session).await {
        Err(Error::TooLarge {
            size,
            limit: 10_000,
        }) => assert!(size > 20_000),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(store.writes(), 0);
}

#[tokio::test]
async fn an_unavailable_store_is_a_temporary_error() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let cookie = saved_session(&manager, &[("k", "v")]).await;
    store.set_failing(true);
    let session = manager.get(Some(cookie.value()));
    let error = session.get::<String>("k").await.expect_err("store is down");
    assert!(error.is_unavailable());
    store.set_failing(false);
    assert_eq!(
        session
            .get::<String>("k")
            .await
            .expect("recovered")
            .as_deref(),
        Some("v")
    );
}

#[test]
fn unsafe_configurations_are_refused() {
    let store = || Arc::new(CountingStore::new());
    let build = |builder: session_core::SessionManagerBuilder| {
        builder.build().map(|_| ()).map_err(|e| e.to_string())
    };
    let base = || SessionManager::builder(store(), ring(&[SECRET_A]));
    assert!(build(base().same_site(SameSite::None).secure(false)).is_err());
    assert!(build(base().cookie_name("bad name")).is_err());
    assert!(build(base().cookie_path("no-slash")).is_err());
    assert!(build(base().cookie_domain(Some("a;b"))).is_err());
    assert!(build(base().namespace("has space")).is_err());
    assert!(build(base().idle_timeout(Duration::ZERO)).is_err());
    assert!(build(base().absolute_timeout(Duration::from_secs(u64::MAX))).is_err());
    assert!(build(base().absolute_timeout(Duration::from_secs(400 * 86_400))).is_ok());
    assert!(
        build(base().same_site(SameSite::None)).is_ok(),
        "None with Secure is fine"
    );
}
