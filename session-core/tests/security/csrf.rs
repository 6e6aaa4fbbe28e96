//! CSRF tokens: a session's own token verifies; a token of another session,
//! an altered, truncated, extended or empty one, or one from before the
//! session's ID rotated (login), does not. A token survives a key rotation.
//! The compare is constant-time (`verify_slice`); what a test can check is
//! that no part of the token goes unchecked.

use std::sync::Arc;

use session_core::test_stores::CountingStore;
use session_core::{KeyRing, MemoryStore, SessionManager};

use crate::common::{manager_on, saved_session};
use crate::flip_char;

/// Moved from `lifecycle.rs` (`csrf_tokens_persist_and_verify_in_constant_time`),
/// now altering every character of the token.
#[tokio::test]
async fn a_csrf_token_verifies_in_its_session_and_no_altered_token_does() {
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
    assert!(next.verify_csrf(&token).await.expect("verify"));
    let mut wrong = vec![
        String::new(),
        "short".to_owned(),
        token[1..].to_owned(),
        token[..token.len() - 1].to_owned(),
        format!("{token}A"),
        format!("{token}{token}"),
        "A".repeat(token.len()),
    ];
    wrong.extend((0..token.len()).map(|position| flip_char(&token, position)));
    for wrong in &wrong {
        assert!(
            !next.verify_csrf(wrong).await.expect("verify"),
            "{wrong:?} must not verify"
        );
    }
}

#[tokio::test]
async fn a_csrf_token_of_another_session_is_rejected() {
    let manager = manager_on(Arc::new(CountingStore::new()));
    // A stored session, and one that has no record yet.
    let stored = saved_session(&manager, &[("k", "v")]).await;
    let form = manager.get(None);
    form.csrf_token().await.expect("token");
    let unstored = manager.set(&form).await.expect("set").expect("cookie");

    let mut tokens = Vec::new();
    for cookie in [&stored, &unstored] {
        let session = manager.get(Some(cookie.value()));
        tokens.push(session.csrf_token().await.expect("token"));
    }
    for (own, cookie) in [&stored, &unstored].into_iter().enumerate() {
        let session = manager.get(Some(cookie.value()));
        for (index, token) in tokens.iter().enumerate() {
            assert_eq!(
                session.verify_csrf(token).await.expect("verify"),
                index == own,
                "session {own} and the token of session {index}"
            );
        }
    }
}

/// Moved from `anonymous.rs` (`the_token_changes_at_login_and_verifies_under_every_key`).
#[tokio::test]
async fn a_csrf_token_survives_a_key_rotation_but_not_a_login() {
    let store = Arc::new(MemoryStore::new());
    let old = KeyRing::from_secrets([[1u8; 32]]).expect("valid key");
    let manager = SessionManager::builder(Arc::clone(&store), old)
        .build()
        .expect("valid");
    let form = manager.get(None);
    let token = form.csrf_token().await.expect("token");
    let cookie = manager.set(&form).await.expect("set").expect("cookie");

    let rotated = KeyRing::from_secrets([[2u8; 32], [1u8; 32]]).expect("valid keys");
    let after_rotation = SessionManager::builder(Arc::clone(&store), rotated)
        .build()
        .expect("valid");
    let session = after_rotation.get(Some(cookie.value()));
    assert!(
        session.verify_csrf(&token).await.expect("verify"),
        "a key rotation breaks no form"
    );

    session.login("alice").await.expect("login");
    assert!(!session.verify_csrf(&token).await.expect("verify"));
    assert_ne!(session.csrf_token().await.expect("token"), token);
}
