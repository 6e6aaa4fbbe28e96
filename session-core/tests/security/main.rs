//! The security properties of sessions, in one place, one test each, named
//! for what it proves:
//!
//! - [`fixation`]: a planted or attacker-known ID is never kept across login;
//! - [`replay`]: a cookie replayed after a logout or a revocation is no
//!   session, on any instance sharing the store;
//! - [`cookies`]: a tampered, truncated, extended, malformed or foreign-key
//!   cookie is no session;
//! - [`unknown_ids`]: a validly signed ID with no record behind it is never
//!   adopted;
//! - [`key_rotation`]: old keys verify and open, the new key signs and seals,
//!   a removed key verifies and opens nothing;
//! - [`removal`]: every removal cookie repeats the attributes of the cookie it
//!   removes;
//! - [`store_contents`]: the store sees no cookie, ID, token, user name or
//!   session data;
//! - [`records`]: a moved or altered record (session or user index) opens as
//!   nothing;
//! - [`csrf`]: a CSRF token verifies only in its own session, unaltered, under
//!   the session's current ID.
//!
//! Each test was checked to fail when the protection it names is broken in
//! the library.

#[path = "../common/mod.rs"]
mod common;

mod cookies;
mod csrf;
mod fixation;
mod key_rotation;
mod records;
mod removal;
mod replay;
mod store_contents;
mod unknown_ids;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use session_core::SessionManager;
use session_core::test_stores::CountingStore;

use common::{SECRET_A, manager_with};

/// Bytes in a session ID.
const ID_BYTES: usize = 32;

/// The session ID a cookie value carries. A value is the unpadded base64url
/// of `ID ‖ creation time ‖ flags ‖ tag`, the ID first (`signing.rs`), so two
/// cookies name the same session exactly when these bytes agree, whatever
/// their flags or signing key.
fn id_of(cookie_value: &str) -> [u8; ID_BYTES] {
    let raw = URL_SAFE_NO_PAD
        .decode(cookie_value)
        .expect("a cookie value the core issued is base64url");
    raw[..ID_BYTES].try_into().expect("a cookie holds an ID")
}

/// Another instance of the application on the same store and keys: its own
/// commit queues and index checks, as another process would have.
fn second_instance(store: &std::sync::Arc<CountingStore>) -> SessionManager {
    manager_with(store, &[SECRET_A], |builder| builder)
}

/// Changes the character at `position` of a base64url text into another
/// base64url character whose 6 bits differ in the highest one, so the decoded
/// bytes change (never only padding bits) and the text stays well-formed.
fn flip_char(text: &str, position: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = text.as_bytes().to_vec();
    let sextet = ALPHABET
        .iter()
        .position(|&c| c == bytes[position])
        .expect("a base64url character");
    bytes[position] = ALPHABET[sextet ^ 0b10_0000];
    String::from_utf8(bytes).expect("ASCII")
}
