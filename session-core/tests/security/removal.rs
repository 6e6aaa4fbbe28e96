//! A removal cookie (logout, revocation of the current session, logout of an
//! expired session) repeats every attribute of the cookie it removes: the
//! name, `Path`, `Domain`, `Secure`, `HttpOnly` and `SameSite`. A browser
//! only deletes a cookie whose name, path and domain match, so a removal that
//! differed would leave the old cookie in place.

use std::sync::Arc;
use std::time::Duration;

use session_core::test_stores::CountingStore;
use session_core::{CookieLifetime, SameSite, SessionManagerBuilder, SetCookie};

use crate::common::{SECRET_A, logged_in, logout_everywhere, manager_with};

/// Sets a manager's cookie attributes.
type Configure = fn(SessionManagerBuilder) -> SessionManagerBuilder;

/// Cookie configurations whose attributes all differ from each other.
fn configurations() -> Vec<(&'static str, Configure)> {
    vec![
        ("defaults", |builder| builder),
        ("custom", |builder| {
            builder
                .cookie_name("sid")
                .cookie_path("/app")
                .cookie_domain(Some("example.com"))
                .same_site(SameSite::Strict)
        }),
        ("plain HTTP", |builder| {
            builder
                .secure(false)
                .http_only(false)
                .cookie_domain(Some("localhost"))
                .cookie_lifetime(CookieLifetime::BrowserSession)
        }),
    ]
}

/// The cookie's name and its attributes as rendered, but for the lifetime
/// (`Max-Age`, `Expires`), which a removal sets to the past.
fn name_and_attributes(cookie: &SetCookie) -> (String, Vec<String>) {
    let header = cookie.header_value();
    let mut parts = header.split("; ");
    let pair = parts.next().expect("name=value");
    let name = pair.split_once('=').expect("name=value").0.to_owned();
    let attributes = parts
        .filter(|part| !part.starts_with("Max-Age=") && !part.starts_with("Expires="))
        .map(str::to_owned)
        .collect();
    (name, attributes)
}

fn assert_removes(removal: Option<&SetCookie>, set: &SetCookie, what: &str) {
    let removal = removal.unwrap_or_else(|| panic!("{what}: no removal cookie"));
    assert!(removal.is_removal(), "{what}: {removal:?}");
    assert_eq!(removal.value(), "", "{what}");
    let header = removal.header_value();
    assert!(
        header.contains("; Max-Age=0")
            && header.contains("; Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
        "{what}: {header}"
    );
    assert_eq!(
        name_and_attributes(removal),
        name_and_attributes(set),
        "{what}: the removal's attributes differ from the cookie's"
    );
    assert_eq!(
        (
            removal.name(),
            removal.path(),
            removal.domain(),
            removal.secure(),
            removal.http_only(),
            removal.same_site(),
        ),
        (
            set.name(),
            set.path(),
            set.domain(),
            set.secure(),
            set.http_only(),
            set.same_site(),
        ),
        "{what}"
    );
}

/// Absorbs the removal half of `lifecycle.rs`'s
/// `destroy_deletes_on_the_server_and_expires_the_cookie`.
#[tokio::test]
async fn every_removal_cookie_repeats_the_attributes_of_the_cookie_it_removes() {
    const USER: &str = "alice.removal@example.com";
    let mut expiring_sessions = Vec::new();
    for (name, configure) in configurations() {
        let store = Arc::new(CountingStore::new());
        let manager = manager_with(&store, &[SECRET_A], configure);
        let expiring = manager_with(&store, &[SECRET_A], |builder| {
            configure(builder).absolute_timeout(Duration::from_secs(1))
        });
        let expired = logged_in(&expiring, "bob.expiring@example.com").await;
        let set = logged_in(&manager, USER).await;

        // Logout.
        let session = manager.get(Some(set.value()));
        session.logout().await.expect("logout");
        let end = manager.finish(&session, 303).await;
        assert_removes(end.set_cookie(), &set, &format!("{name}: logout"));

        // Logging out everywhere.
        let set = logged_in(&manager, USER).await;
        let end = logout_everywhere(&manager, &set).await;
        assert_removes(
            end.set_cookie(),
            &set,
            &format!("{name}: logout everywhere"),
        );

        // Ending the current session by its handle.
        let set = logged_in(&manager, USER).await;
        let session = manager.get(Some(set.value()));
        let listed = session.user_sessions().await.expect("listing");
        let own = listed.iter().find(|s| s.is_current()).expect("current");
        session.end_user_session(own.handle()).await.expect("end");
        let end = manager.finish(&session, 303).await;
        assert_removes(end.set_cookie(), &set, &format!("{name}: own handle"));

        expiring_sessions.push((name, expiring, expired));
    }

    // Logging out of a session past its absolute timeout.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    for (name, expiring, expired) in expiring_sessions {
        let session = expiring.get(Some(expired.value()));
        session.logout().await.expect("logout");
        let end = expiring.finish(&session, 303).await;
        assert_removes(end.set_cookie(), &expired, &format!("{name}: expired"));
    }
}
