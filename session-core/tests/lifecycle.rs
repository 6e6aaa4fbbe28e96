//! A session's life through the manager: laziness, cookies, rotation, logout,
//! CSRF, expiry, limits.

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
async fn unverified_or_orphaned_ids_are_never_adopted() {
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

    // A valid cookie whose record is gone gets a fresh ID too.
    let cookie = saved_session(&manager, &[("k", "v")]).await;
    let session = manager.get(Some(cookie.value()));
    session.destroy().await.expect("destroy");
    let session = manager.get(Some(cookie.value()));
    session.insert("k", "again").await.expect("insert");
    let fresh = manager
        .set(&session)
        .await
        .expect("set")
        .expect("new cookie");
    assert_ne!(
        fresh.value(),
        cookie.value(),
        "an ID whose record is gone must not be reused"
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
async fn cycle_id_moves_the_data_and_kills_the_old_id() {
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

    assert_ne!(new.value(), old.value());
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
    let stale = manager.get(Some(old.value()));
    assert!(
        stale.is_empty().await.expect("is_empty"),
        "the old cookie must no longer reach the data"
    );
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
async fn destroy_deletes_on_the_server_and_expires_the_cookie() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(Arc::clone(&store));
    let cookie = saved_session(&manager, &[("user_name", "alice")]).await;

    let session = manager.get(Some(cookie.value()));
    session.destroy().await.expect("destroy");
    let removal = manager
        .set(&session)
        .await
        .expect("set")
        .expect("removal cookie");
    assert!(removal.is_removal());
    assert_eq!(removal.value(), "");
    assert!(removal.header_value().contains("Max-Age=0"));
    assert_eq!(
        (removal.path(), removal.secure(), removal.same_site()),
        ("/", true, SameSite::Lax)
    );

    let replay = manager.get(Some(cookie.value()));
    assert!(
        replay.is_empty().await.expect("is_empty"),
        "a replayed cookie must find nothing"
    );
}

#[tokio::test]
async fn csrf_tokens_persist_and_verify_in_constant_time() {
    let manager = manager_on(Arc::new(CountingStore::new()));
    let session = manager.get(None);
    assert!(
        !session.verify_csrf("anything").await.expect("verify"),
        "no token, nothing matches"
    );
    assert!(
        manager.set(&session).await.expect("set").is_none(),
        "verifying creates no session"
    );

    let session = manager.get(None);
    let token = session.csrf_token().await.expect("token");
    assert_eq!(
        session.csrf_token().await.expect("token"),
        token,
        "one token per session"
    );
    let cookie = manager
        .set(&session)
        .await
        .expect("set")
        .expect("a token creates the session");

    let next = manager.get(Some(cookie.value()));
    let first_changed = format!(
        "{}{}",
        if token.starts_with('A') { 'B' } else { 'A' },
        &token[1..]
    );
    assert!(next.verify_csrf(&token).await.expect("verify"));
    for wrong in [
        "",
        "short",
        &token[1..],
        &format!("{token}A"),
        &first_changed,
    ] {
        assert!(
            !next.verify_csrf(wrong).await.expect("verify"),
            "{wrong:?} must not verify"
        );
    }
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
