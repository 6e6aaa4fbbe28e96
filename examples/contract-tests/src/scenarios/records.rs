//! What memcached holds, read and written directly as anyone who reaches it could: keys that give
//! away no cookie, sealed values, and corrupted, altered or copied records that count as nothing.

use std::collections::HashSet;
use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use super::session_record_key;
use crate::inspect::{self, Record};
use crate::{App, Browser, Env};

/// No key in memcached holds a cookie value, a piece of one or the bytes it decodes to, and no
/// key (or its part after the last `:`) works as a cookie.
pub async fn store_keys_reveal_no_cookie(env: Env) {
    let app = env.launch().start();
    let addr = env.memcached_required().addr();
    let mut cookies = Vec::new();
    for name in ["alice", "bob", "carol"] {
        let mut user = Browser::new();
        user.login(&app, name).await;
        user.put(&app, "/prefs/theme", "dark")
            .await
            .assert_status(204, "PUT /prefs/theme");
        cookies.push(user.cookie().expect("logged in").to_owned());
    }
    let keys = inspect::keys(addr);
    assert!(
        keys.len() >= 3,
        "three logged-in sessions must be stored, memcached holds {keys:?}"
    );
    for key in &keys {
        for cookie in &cookies {
            for piece in text_pieces(cookie) {
                assert!(
                    !key.contains(piece),
                    "memcached key {key:?} contains {piece:?}, a piece of the cookie {cookie:?}"
                );
            }
            let lowercase_key = key.to_ascii_lowercase();
            for piece in decoded_pieces(cookie) {
                assert!(
                    !lowercase_key.contains(&piece),
                    "memcached key {key:?} contains {piece:?}, the hex of bytes the cookie \
                     {cookie:?} decodes to"
                );
            }
        }
        let tail = key.rsplit(':').next().unwrap_or(key);
        for candidate in [key.as_str(), tail] {
            Browser::with_cookie(candidate)
                .assert_logged_out(
                    &app,
                    &format!("the memcached key {candidate:?} as a cookie"),
                )
                .await;
        }
    }
}

/// The stored bytes hold no plaintext of what was put in the session: neither a distinctive user
/// name and preference (name and value) nor the session key `user_name`.
pub async fn store_values_hide_plaintext(env: Env) {
    let app = env.launch().start();
    let addr = env.memcached_required().addr();
    let mut user = Browser::new();
    user.login(&app, "Quetzalcoatl-canary").await;
    user.put(&app, "/prefs/zebracanary", "Zyzzyva-canary-value")
        .await
        .assert_status(204, "PUT /prefs/zebracanary");
    assert_eq!(user.visits(&app).await, 1);
    let records = inspect::dump(addr);
    assert!(
        !records.is_empty(),
        "the session must be stored in memcached"
    );
    for (key, record) in &records {
        for canary in [
            "Quetzalcoatl-canary",
            "zebracanary",
            "Zyzzyva-canary-value",
            "user_name",
        ] {
            assert!(
                !contains(&record.value, canary.as_bytes()) && !key.contains(canary),
                "memcached item {key:?} holds {canary:?} in the clear: records must be sealed"
            );
        }
    }
}

/// A record that cannot be decoded (garbage, empty, cut short, binary junk) counts as an empty
/// session, with a warning in the log and never a 5xx.
pub async fn undecodable_record_is_empty_session(env: Env) {
    let app = env.launch().start();
    let addr = env.memcached_required().addr();
    let corruptions: [(&str, Corruption); 4] = [
        ("text garbage", |_| b"this is not a session record".to_vec()),
        ("an empty value", |_| Vec::new()),
        ("the first half of the real record", |real| {
            real[..real.len() / 2].to_vec()
        }),
        ("binary junk", |_| vec![0xff; 64]),
    ];
    for (what, corrupt) in corruptions {
        let (mut user, stored) = stored_user(&app, addr, "alice").await;
        let key = &stored.session;
        let record = inspect::get(addr, key).expect("the record was just listed");
        let value = corrupt(&record.value);
        inspect::set(addr, key, &Record { value, ..record });
        let seen = app.warnings().len();
        let reply = user.get(&app, "/").await;
        assert!(
            reply.status < 500,
            "a stored record replaced by {what} must never cause a 5xx, got {}",
            reply.status
        );
        reply.assert_login_redirect(&format!("GET / after the record was replaced by {what}"));
        app.expect_new_warning(seen, &format!("a stored record replaced by {what}"))
            .await;
        assert!(
            user.prefs(&app).await.is_empty(),
            "a record replaced by {what} must count as an empty session"
        );
        assert_eq!(
            user.visits(&app).await,
            1,
            "a record replaced by {what} must count as an empty session"
        );
    }
}

/// A real record copied under another session's key, or altered by one byte, counts as an empty
/// session with a warning: the copy never greets its victim as the record's owner.
pub async fn altered_or_copied_record_is_empty_session(env: Env) {
    let app = env.launch().start();
    let addr = env.memcached_required().addr();
    let (mut alice, alice_stored) = stored_user(&app, addr, "alice").await;
    let (mut bob, bob_stored) = stored_user(&app, addr, "bob").await;
    let alice_key = &alice_stored.session;
    let alice_record = inspect::get(addr, alice_key).expect("alice's record");

    inspect::set(addr, &bob_stored.session, &alice_record);
    let seen = app.warnings().len();
    let greeting = bob.greeting(&app).await;
    assert_eq!(
        greeting, None,
        "alice's record copied under bob's key must count as an empty session for bob"
    );
    app.expect_new_warning(seen, "a record copied under another session's key")
        .await;
    assert!(
        bob.prefs(&app).await.is_empty(),
        "bob must not see alice's preferences after her record was copied over his"
    );
    alice
        .assert_greeted(&app, "alice", "alice, whose record was only read")
        .await;

    let mut altered = inspect::get(addr, alice_key).expect("alice's record");
    let middle = altered.value.len() / 2;
    let byte = altered
        .value
        .get_mut(middle)
        .expect("alice's record is not empty");
    *byte ^= 0x01;
    inspect::set(addr, alice_key, &altered);
    let seen = app.warnings().len();
    alice
        .assert_logged_out(&app, "alice after one byte of her record was flipped")
        .await;
    app.expect_new_warning(seen, "an altered record").await;
    assert!(
        alice.prefs(&app).await.is_empty(),
        "an altered record must count as an empty session"
    );
}

/// The user's index of sessions, when it holds data that cannot be decoded, counts as no index
/// (the spec: stored data that cannot be decoded is never a 5xx, and the index is stored data):
/// the user's pages and a new login of that user answer no 5xx, and the new login is listed by
/// `GET /sessions`.
pub async fn undecodable_user_index_is_no_5xx(env: Env) {
    let app = env.launch().start();
    let addr = env.memcached_required().addr();
    let (mut alice, stored) = stored_user(&app, addr, "alice").await;
    assert!(
        !stored.others.is_empty(),
        "a login must store the user's index of sessions beside the session's record"
    );
    for key in &stored.others {
        let record = inspect::get(addr, key).expect("the item was just listed");
        let value = b"this is not an index of sessions".to_vec();
        inspect::set(addr, key, &Record { value, ..record });
    }
    for path in ["/", "/sessions"] {
        let reply = alice.get(&app, path).await;
        assert!(
            reply.status < 500,
            "GET {path} with the user's index of sessions replaced by garbage must not be a \
             5xx, got {}: {:?}",
            reply.status,
            reply.text()
        );
    }
    let mut again = Browser::new();
    let token = again.xsrf(&app).await;
    let reply = again
        .post_form(&app, "/login", &[("name", "alice"), ("_xsrf", &token)])
        .await;
    reply.assert_redirect(
        "/",
        "logging in as alice after her index of sessions was replaced by garbage",
    );
    let listed = again.sessions(&app).await;
    assert!(
        !listed.is_empty(),
        "GET /sessions after logging in again must list the new session"
    );
    let token = again.xsrf(&app).await;
    let reply = again
        .post_form(&app, "/logout", &[("_xsrf", &token), ("everywhere", "1")])
        .await;
    reply.assert_redirect(
        "/login",
        "POST /logout with everywhere=1 after the index of sessions was replaced by garbage",
    );
}

/// Turns a real record's bytes into a corrupted one.
type Corruption = fn(&[u8]) -> Vec<u8>;

/// What memcached holds for a logged-in user's session.
struct Stored {
    /// The session's record.
    session: String,
    /// The other items that appeared when the user logged in: their index of sessions, when this
    /// login was the user's first.
    others: Vec<String>,
}

/// Logs a new user in with a preference and two visits; returns the browser and the memcached
/// keys that appeared for the session.
async fn stored_user(app: &App, addr: SocketAddr, name: &str) -> (Browser, Stored) {
    let before: HashSet<String> = inspect::keys(addr).into_iter().collect();
    let mut user = Browser::new();
    user.login(app, name).await;
    user.put(app, "/prefs/owner", name)
        .await
        .assert_status(204, "PUT /prefs/owner");
    assert_eq!(user.visits(app).await, 1);
    let session = session_record_key(addr, app, &mut user).await;
    let others: Vec<String> = inspect::keys(addr)
        .into_iter()
        .filter(|key| !before.contains(key) && *key != session)
        .collect();
    assert!(
        !before.contains(&session),
        "{name}'s new session must be stored under a new memcached key"
    );
    (user, Stored { session, others })
}

/// Every 16-character piece of a cookie value (and the whole value).
fn text_pieces(cookie: &str) -> Vec<&str> {
    let mut pieces = vec![cookie];
    if cookie.is_ascii() && cookie.len() > 16 {
        pieces.extend((0..=cookie.len() - 16).map(|at| &cookie[at..at + 16]));
    }
    pieces
}

/// The lowercase hex of every 8-byte piece of what the cookie decodes to, if it is base64 or
/// hex, so a key holding the raw session ID in hex is caught.
fn decoded_pieces(cookie: &str) -> Vec<String> {
    let decoded = [URL_SAFE_NO_PAD, URL_SAFE, STANDARD, STANDARD_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(cookie).ok());
    let Some(bytes) = decoded else {
        return Vec::new();
    };
    bytes
        .windows(8)
        .map(|window| window.iter().map(|byte| format!("{byte:02x}")).collect())
        .collect()
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
