//! A user's sessions: `GET /sessions`, `POST /sessions/revoke` and `POST /logout` with
//! `everywhere=1`, on one instance and across two.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

use super::Writes;
use crate::browser::{ListedSession, SESSIONS_LOGIN_REDIRECT};
use crate::{Browser, Env, inspect, sleep_ms, sleep_until};

/// Every live session of the logged-in user is listed, from each of them: newest first, exactly
/// one current (the asker's), with `created` the time the session was first created (a later
/// login keeps it). Another user's sessions are not listed, and a handle is neither a cookie nor
/// a piece of one, nor works as one.
pub async fn sessions_list_every_login_of_the_user(env: Env) {
    let app = env.launch().start();
    let mut laptop = Browser::new();
    let laptop_created = unix_seconds();
    assert_eq!(
        laptop.visits(&app).await,
        1,
        "GET /visits creates the session"
    );
    let laptop_created = laptop_created..=unix_seconds();
    // The phone's session is then created in a later second, so the order is not a tie.
    sleep_ms(1100).await;
    laptop.login(&app, "alice").await;
    let mut phone = Browser::new();
    let phone_created = unix_seconds();
    phone.login(&app, "alice").await;
    let phone_created = phone_created..=unix_seconds();
    let mut bob = Browser::new();
    bob.login(&app, "bob").await;

    let from_laptop = laptop.sessions(&app).await;
    let [newest, oldest] = from_laptop.as_slice() else {
        panic!("alice logged in twice: GET /sessions must list 2 sessions, got {from_laptop:?}");
    };
    assert!(
        oldest.current && !newest.current,
        "from the laptop, the laptop's session (the older) is current: {from_laptop:?}"
    );
    assert!(
        laptop_created.contains(&oldest.created),
        "`created` is when the session was first created ({laptop_created:?}), which its login \
         keeps: {from_laptop:?}"
    );
    assert!(
        phone_created.contains(&newest.created),
        "`created` of the phone's session must be when it was created ({phone_created:?}): \
         {from_laptop:?}"
    );
    let from_phone = phone.sessions(&app).await;
    assert_eq!(
        ids(&from_phone),
        ids(&from_laptop),
        "both of alice's sessions list the same sessions, under the same handles"
    );
    assert!(
        from_phone[0].current,
        "from the phone, the phone's session is current: {from_phone:?}"
    );

    let from_bob = bob.sessions(&app).await;
    assert_eq!(from_bob.len(), 1, "bob has one session: {from_bob:?}");
    assert!(
        !ids(&from_laptop).contains(&from_bob[0].id.as_str()),
        "bob's handle must not name one of alice's sessions"
    );

    let cookies: Vec<String> = [&laptop, &phone, &bob]
        .iter()
        .map(|browser| browser.cookie().expect("logged in").to_owned())
        .collect();
    for listed in from_laptop.iter().chain(&from_bob) {
        for cookie in &cookies {
            assert!(
                !cookie.contains(&listed.id) && !listed.id.contains(cookie.as_str()),
                "the handle {:?} must not be (part of) a cookie value: {cookie:?}",
                listed.id
            );
        }
        Browser::with_cookie(listed.id.clone())
            .assert_logged_out(&app, "a handle from GET /sessions presented as the cookie")
            .await;
    }
}

/// `GET /sessions` when not logged in: 303 to `/login?next=%2Fsessions` and no session created
/// (no `Set-Cookie`, no store write); `POST /sessions/revoke`: 303 to `/login`, before any check
/// of the token, and a session without a user is left as it was.
pub async fn sessions_require_login(env: Env) {
    let app = env.launch().start();
    let mut visitor = Browser::new();
    let writes = Writes::now(&env);
    let reply = visitor.get(&app, "/sessions").await;
    reply.assert_redirect(SESSIONS_LOGIN_REDIRECT, "GET /sessions without a cookie");
    assert!(
        reply.set_cookies().is_empty(),
        "GET /sessions without a cookie must create no session, but set {:?}",
        reply.set_cookies()
    );
    writes.assert_unchanged(&env, "GET /sessions without a cookie");
    let reply = visitor
        .post_form(
            &app,
            "/sessions/revoke",
            &[("_xsrf", "bogus"), ("id", "others")],
        )
        .await;
    reply.assert_redirect(
        "/login",
        "POST /sessions/revoke without a cookie (not logged in comes before a bad _xsrf)",
    );

    assert_eq!(visitor.visits(&app).await, 1);
    let reply = visitor.get(&app, "/sessions").await;
    reply.assert_redirect(
        SESSIONS_LOGIN_REDIRECT,
        "GET /sessions with a session that is not logged in",
    );
    assert!(
        reply.set_cookies().is_empty(),
        "GET /sessions only reads a session that is not logged in, yet it set {:?}",
        reply.set_cookies()
    );
    let reply = visitor.revoke(&app, "others").await;
    reply.assert_redirect(
        "/login",
        "POST /sessions/revoke with a session that is not logged in, and its own _xsrf",
    );
    assert_eq!(
        visitor.visits(&app).await,
        2,
        "the session that was not logged in is left as it was"
    );

    let mut user = Browser::new();
    user.login(&app, "alice").await;
    user.logout(&app, false).await;
    user.get(&app, "/sessions")
        .await
        .assert_redirect(SESSIONS_LOGIN_REDIRECT, "GET /sessions after logging out");
}

/// Revoking another session of the user by its handle: 303 to `/sessions`, the asker stays logged
/// in, the revoked session's cookie reaches nothing from the next request on, it is no longer
/// listed, and its handle then names nothing (404).
pub async fn revoke_ends_the_named_session(env: Env) {
    let app = env.launch().start();
    let mut laptop = Browser::new();
    laptop.login(&app, "alice").await;
    let mut phone = Browser::new();
    phone.login(&app, "alice").await;
    let phone_id = other_session(&laptop.sessions(&app).await);
    let laptop_cookie = laptop.cookie().map(str::to_owned);

    let reply = laptop.revoke(&app, &phone_id).await;
    reply.assert_redirect("/sessions", "POST /sessions/revoke of another session");
    assert!(
        reply
            .session_cookie()
            .is_none_or(|cookie| !cookie.is_removal()),
        "revoking another session must not expire the asker's cookie: {:?}",
        reply.session_cookie()
    );
    assert_eq!(
        laptop.cookie(),
        laptop_cookie.as_deref(),
        "revoking another session leaves the asker's cookie as it was"
    );
    phone
        .assert_logged_out(&app, "the phone, after its session was revoked")
        .await;
    laptop
        .assert_greeted(&app, "alice", "the laptop, which revoked the phone")
        .await;
    let left = laptop.sessions(&app).await;
    assert!(
        left.len() == 1 && left[0].id != phone_id,
        "a revoked session is not listed: {left:?}"
    );
    laptop
        .revoke(&app, &phone_id)
        .await
        .assert_status(404, "POST /sessions/revoke of a session that already ended");
}

/// `id=others` ends every session of the user but the current one, and no one else's; with none
/// left, it still answers 303 to `/sessions`.
pub async fn revoke_others_keeps_the_current_one(env: Env) {
    let app = env.launch().start();
    let mut alice: Vec<Browser> = Vec::new();
    for _ in 0..3 {
        let mut browser = Browser::new();
        browser.login(&app, "alice").await;
        alice.push(browser);
    }
    let mut bob = Browser::new();
    bob.login(&app, "bob").await;
    let [laptop, others @ ..] = alice.as_mut_slice() else {
        unreachable!("three browsers were just pushed");
    };
    assert_eq!(laptop.sessions(&app).await.len(), 3);

    let reply = laptop.revoke(&app, "others").await;
    reply.assert_redirect("/sessions", "POST /sessions/revoke with id=others");
    for other in others.iter_mut() {
        other
            .assert_logged_out(&app, "another session of alice's after id=others")
            .await;
    }
    laptop
        .assert_greeted(&app, "alice", "the session that revoked the others")
        .await;
    bob.assert_greeted(&app, "bob", "another user, after alice revoked her others")
        .await;
    let left = laptop.sessions(&app).await;
    assert_eq!(left.len(), 1, "only the current session is left: {left:?}");
    laptop.revoke(&app, "others").await.assert_redirect(
        "/sessions",
        "POST /sessions/revoke with id=others when there are no others",
    );
    assert_eq!(bob.sessions(&app).await.len(), 1, "bob's session lives on");
}

/// Revoking the current session by its own handle ends it like a logout: 303 to `/login`, the
/// cookie expired (`Max-Age=0`), a copy of the old cookie reaches nothing; the user's other
/// sessions live on.
pub async fn revoke_own_session_logs_out(env: Env) {
    let app = env.launch().start();
    let mut laptop = Browser::new();
    laptop.login(&app, "alice").await;
    let mut phone = Browser::new();
    phone.login(&app, "alice").await;
    let listed = laptop.sessions(&app).await;
    let own = current_session(&listed);
    let cookie = laptop.cookie().expect("logged in").to_owned();

    let reply = laptop.revoke(&app, &own).await;
    reply.assert_redirect("/login", "POST /sessions/revoke of the current session");
    let expiry = reply.session_cookie();
    assert!(
        expiry
            .as_ref()
            .is_some_and(|cookie| cookie.max_age() == Some(0)),
        "revoking the current session must expire its cookie with Max-Age=0, got {expiry:?}"
    );
    assert_eq!(laptop.cookie(), None);
    Browser::with_cookie(cookie)
        .assert_logged_out(&app, "a copy of the cookie of a revoked current session")
        .await;
    phone
        .assert_greeted(
            &app,
            "alice",
            "the other session, after the laptop revoked itself",
        )
        .await;
    let left = phone.sessions(&app).await;
    assert!(
        left.len() == 1 && left[0].id != own,
        "the revoked session is not listed: {left:?}"
    );
}

/// Checked in the contract's order: a bad `_xsrf` is 403 whatever the `id`; then an `id` that
/// names no live session of this user (another user's, garbage, a cookie value) is 404. Nothing
/// ends in any of these cases.
pub async fn revoke_refuses_foreign_garbage_and_bad_xsrf(env: Env) {
    let app = env.launch().start();
    let mut laptop = Browser::new();
    laptop.login(&app, "alice").await;
    let mut phone = Browser::new();
    phone.login(&app, "alice").await;
    let mut bob = Browser::new();
    bob.login(&app, "bob").await;
    let listed = laptop.sessions(&app).await;
    let phone_id = other_session(&listed);
    let bob_id = current_session(&bob.sessions(&app).await);
    let other_token = Browser::new().xsrf(&app).await;
    let bob_token = bob.xsrf(&app).await;

    let bad_tokens: [(&str, Vec<(&str, &str)>); 5] = [
        ("no _xsrf field", vec![("id", &phone_id)]),
        (
            "a made-up _xsrf",
            vec![("_xsrf", "bogus"), ("id", &phone_id)],
        ),
        (
            "another visitor's _xsrf",
            vec![("_xsrf", &other_token), ("id", &phone_id)],
        ),
        (
            "bob's _xsrf and bob's handle",
            vec![("_xsrf", &bob_token), ("id", &bob_id)],
        ),
        (
            "a made-up _xsrf and a garbage id",
            vec![("_xsrf", "bogus"), ("id", "garbage")],
        ),
    ];
    for (what, fields) in bad_tokens {
        laptop
            .post_form(&app, "/sessions/revoke", &fields)
            .await
            .assert_status(403, &format!("POST /sessions/revoke with {what}"));
    }

    let phone_cookie = phone.cookie().expect("logged in").to_owned();
    let unknown_ids = [
        ("bob's handle", bob_id.as_str()),
        ("a garbage id", "garbage"),
        ("the phone's cookie value", phone_cookie.as_str()),
        (
            "the phone's handle with a character changed",
            &altered(&phone_id),
        ),
    ];
    for (what, id) in unknown_ids {
        laptop
            .revoke(&app, id)
            .await
            .assert_status(404, &format!("POST /sessions/revoke with {what}"));
    }

    laptop
        .assert_greeted(&app, "alice", "the laptop after refused revocations")
        .await;
    phone
        .assert_greeted(&app, "alice", "the phone after refused revocations")
        .await;
    bob.assert_greeted(&app, "bob", "bob, whose handle alice tried")
        .await;
    assert_eq!(
        ids(&laptop.sessions(&app).await),
        ids(&listed),
        "refused revocations end nothing"
    );
}

/// `POST /logout` ends only the current session; with `everywhere=1` every session of the user
/// ends at once (and no one else's); with a bad `_xsrf` it is 403 and nothing ends.
pub async fn logout_everywhere_ends_every_session(env: Env) {
    let app = env.launch().start();
    let mut laptop = Browser::new();
    laptop.login(&app, "alice").await;
    let mut phone = Browser::new();
    phone.login(&app, "alice").await;
    let mut tablet = Browser::new();
    tablet.login(&app, "alice").await;
    let mut bob = Browser::new();
    bob.login(&app, "bob").await;

    tablet.logout(&app, false).await;
    laptop
        .assert_greeted(&app, "alice", "after another session of alice's logged out")
        .await;
    assert_eq!(
        laptop.sessions(&app).await.len(),
        2,
        "a plain logout ends only its own session"
    );

    laptop
        .post_form(&app, "/logout", &[("_xsrf", "bogus"), ("everywhere", "1")])
        .await
        .assert_status(403, "POST /logout with everywhere=1 and a bad _xsrf");
    phone
        .assert_greeted(&app, "alice", "after a refused logout everywhere")
        .await;

    let cookie = laptop.cookie().expect("logged in").to_owned();
    laptop.logout(&app, true).await;
    phone
        .assert_logged_out(&app, "another session of alice's after logout everywhere")
        .await;
    Browser::with_cookie(cookie)
        .assert_logged_out(&app, "a copy of the cookie that logged out everywhere")
        .await;
    bob.assert_greeted(
        &app,
        "bob",
        "another user, after alice logged out everywhere",
    )
    .await;

    laptop.login(&app, "alice").await;
    assert_eq!(
        laptop.sessions(&app).await.len(),
        1,
        "a login after logging out everywhere is alice's only session"
    );
}

/// A session that ended by its idle timeout is not listed, while one in use is.
pub async fn sessions_list_no_expired_session(env: Env) {
    let app = env.launch().args(["--idle-timeout", "2"]).start();
    let mut active = Browser::new();
    active.login(&app, "alice").await;
    let mut idle = Browser::new();
    idle.login(&app, "alice").await;
    assert_eq!(active.sessions(&app).await.len(), 2);
    let start = Instant::now();
    for second in 1..=4 {
        sleep_until(start + Duration::from_secs(second)).await;
        active
            .assert_greeted(&app, "alice", "a session read every second")
            .await;
    }
    let left = active.sessions(&app).await;
    assert_eq!(
        left.len(),
        1,
        "a session unused for 4 s with --idle-timeout 2 (at most 1 s more on memcached) must \
         not be listed: {left:?}"
    );
}

/// Two instances sharing memcached share the lists: a session logged in through one is listed
/// through the other, revoking it through the other ends it on the first, and a logout everywhere
/// through one ends the user's sessions on both.
pub async fn sessions_are_shared_across_instances(env: Env) {
    let first = env.launch().start();
    let second = env.launch().start();
    let mut laptop = Browser::new();
    laptop.login(&first, "alice").await;
    let mut phone = Browser::new();
    phone.login(&second, "alice").await;

    let from_second = phone.sessions(&second).await;
    assert_eq!(
        from_second.len(),
        2,
        "the second instance lists the session logged in through the first: {from_second:?}"
    );
    let from_first = laptop.sessions(&first).await;
    assert_eq!(
        ids(&from_first),
        ids(&from_second),
        "both instances list the same sessions under the same handles"
    );
    let laptop_id = current_session(&from_first);

    phone
        .revoke(&second, &laptop_id)
        .await
        .assert_redirect("/sessions", "POST /sessions/revoke on the second instance");
    laptop
        .assert_logged_out(
            &first,
            "revoked through the second instance, seen on the first",
        )
        .await;
    assert_eq!(
        phone.sessions(&first).await.len(),
        1,
        "the first instance no longer lists the revoked session"
    );

    let mut tablet = Browser::new();
    tablet.login(&first, "alice").await;
    tablet
        .assert_greeted(&second, "alice", "logged in through the first instance")
        .await;
    phone.logout(&second, true).await;
    tablet
        .assert_logged_out(
            &first,
            "after a logout everywhere through the second instance, on the first",
        )
        .await;
    tablet
        .assert_logged_out(
            &second,
            "after a logout everywhere through the second instance, on the second",
        )
        .await;
}

/// No key or value in memcached holds a user's name in the clear, neither in the session records
/// nor in the users' index of sessions: a dump of memcached is no list of users.
pub async fn store_holds_no_user_name(env: Env) {
    let app = env.launch().start();
    let addr = env.memcached_required().addr();
    let names = ["Quetzalcoatl-user", "Zyzzyva-person"];
    let mut sessions = 0;
    for name in names {
        for _ in 0..2 {
            let mut user = Browser::new();
            user.login(&app, name).await;
            assert_eq!(user.sessions(&app).await.len(), sessions % 2 + 1);
            sessions += 1;
        }
    }
    let items = inspect::dump(addr);
    assert!(
        items.len() > sessions,
        "besides the {sessions} session records, memcached must hold the users' index of \
         sessions (lists work across instances), but it holds {} items",
        items.len()
    );
    for (key, record) in &items {
        for name in names {
            for form in clear_forms(name) {
                assert!(
                    !contains(&record.value, form.as_bytes()) && !key.contains(&form),
                    "memcached item {key:?} holds the user name {name:?} as {form:?}"
                );
            }
        }
    }
}

/// A name and the plain encodings of it that a reader of memcached could undo at a glance.
fn clear_forms(name: &str) -> Vec<String> {
    vec![
        name.to_owned(),
        name.to_ascii_lowercase(),
        name.bytes().map(|byte| format!("{byte:02x}")).collect(),
        STANDARD_NO_PAD.encode(name),
        URL_SAFE_NO_PAD.encode(name),
    ]
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Now, in whole Unix seconds.
fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

fn ids(listed: &[ListedSession]) -> Vec<&str> {
    listed.iter().map(|session| session.id.as_str()).collect()
}

fn current_session(listed: &[ListedSession]) -> String {
    let current = listed.iter().find(|session| session.current);
    current.expect("one session is current").id.clone()
}

/// The handle of the one session listed that is not the current one.
fn other_session(listed: &[ListedSession]) -> String {
    let others: Vec<&ListedSession> = listed.iter().filter(|session| !session.current).collect();
    let [other] = others.as_slice() else {
        panic!("expected exactly one other session: {listed:?}");
    };
    other.id.clone()
}

/// `id` with its last character changed, so it names nothing.
fn altered(id: &str) -> String {
    let mut altered: Vec<char> = id.chars().collect();
    if let Some(last) = altered.last_mut() {
        *last = if *last == 'A' { 'B' } else { 'A' };
    }
    altered.into_iter().collect()
}
