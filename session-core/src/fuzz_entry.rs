//! Entry points into the crate's private parsers, for the fuzz targets in
//! `fuzz/` and the property tests in `tests/`. Not a public API: hidden,
//! behind the `fuzzing` feature.
//!
//! Each function is a thin wrapper that takes and answers plain types, so a
//! fuzzer can reach exactly the code that reads client- or store-controlled
//! bytes: the `Cookie` header and the signed cookie value, sealed records,
//! the record codec and the user index codec.

use std::collections::BTreeMap;

use serde_bytes::ByteBuf;

use crate::codec::{self, Record};
use crate::data::SessionData;
use crate::id::SessionId;
use crate::keys::KeyRing;
use crate::signing::{self, Candidates, Flags};
use crate::{cookie, seal, user_index};

/// The length of every valid cookie value.
pub const COOKIE_VALUE_LEN: usize = signing::COOKIE_VALUE_LEN;

/// Bytes sealing adds to a record.
pub const SEAL_OVERHEAD: usize = seal::OVERHEAD;

/// What a session cookie value carries, as signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CookieFields {
    /// The session ID.
    pub id: [u8; 32],
    /// The session's creation time, in Unix milliseconds.
    pub created_at_ms: u64,
    /// The `stored` flag.
    pub stored: bool,
    /// The `logged_in` flag.
    pub logged_in: bool,
    /// The `announced` flag.
    pub announced: bool,
}

impl CookieFields {
    fn flags(self) -> Flags {
        Flags {
            stored: self.stored,
            logged_in: self.logged_in,
            announced: self.announced,
        }
    }

    fn of(verified: signing::Verified) -> Self {
        Self {
            id: verified.id.0,
            created_at_ms: verified.created_at_ms,
            stored: verified.flags.stored,
            logged_in: verified.flags.logged_in,
            announced: verified.flags.announced,
        }
    }
}

/// Every value of the cookie `name` in one `Cookie` header, as the manager
/// reads it.
pub fn cookie_values<'a>(header: &'a [u8], name: &'a str) -> Vec<&'a [u8]> {
    cookie::values_named(header, name).collect()
}

/// Signs `fields` with the ring's current key: a cookie value.
pub fn sign_cookie(keys: &KeyRing, fields: CookieFields) -> String {
    signing::sign(
        keys,
        &SessionId(fields.id),
        fields.created_at_ms,
        fields.flags(),
    )
}

/// Verifies one cookie value; answers what it carries and whether an older
/// key of the ring signed it.
pub fn verify_cookie(keys: &KeyRing, value: &[u8]) -> Option<(CookieFields, bool)> {
    signing::verify(keys, value)
        .ok()
        .map(|verified| (CookieFields::of(verified), verified.signed_by_old_key))
}

/// What the manager makes of a request's `Cookie` headers for the cookie
/// `name`: the first value that verifies, as `SessionManager::start` and the
/// session's first use would find it.
pub fn read_cookie(keys: &KeyRing, headers: &[&[u8]], name: &str) -> Option<CookieFields> {
    let mut candidates = Candidates::NONE;
    for header in headers {
        for value in cookie::values_named(header, name) {
            candidates.push(value);
        }
    }
    candidates.verify(keys).map(CookieFields::of)
}

/// Seals `plaintext` for the record at `store_key`.
pub fn seal(keys: &KeyRing, store_key: &str, plaintext: &[u8]) -> Vec<u8> {
    seal::seal(keys, store_key, plaintext)
}

/// Opens a record read from `store_key`; answers the plaintext and whether
/// an older key sealed it.
pub fn open(keys: &KeyRing, store_key: &str, sealed: Vec<u8>) -> Option<(Vec<u8>, bool)> {
    seal::open(keys, store_key, sealed)
        .ok()
        .map(|opened| (opened.plaintext, opened.sealed_by_old_key))
}

/// A session record as plain values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordParts {
    /// Creation time, in Unix milliseconds.
    pub created_at_ms: u64,
    /// Each key's value as its own MessagePack encoding.
    pub entries: BTreeMap<String, Vec<u8>>,
    /// The logged-in user, if any.
    pub user: Option<String>,
}

/// The record's encoding, as the manager writes it before sealing.
pub fn encode_record(parts: &RecordParts) -> Vec<u8> {
    codec::encode(&Record {
        created_at_ms: parts.created_at_ms,
        data: session_data(&parts.entries),
        user: parts.user.clone(),
    })
}

/// Decodes a record's plaintext; `None` for anything that is not a record.
pub fn decode_record(bytes: &[u8]) -> Option<RecordParts> {
    let record = codec::decode(bytes).ok()?;
    Some(RecordParts {
        created_at_ms: record.created_at_ms,
        entries: record
            .data
            .entries
            .into_iter()
            .map(|(key, value)| (key, value.into_vec()))
            .collect(),
        user: record.user,
    })
}

/// Session data holding these raw entries, to read them back typed.
pub fn session_data(entries: &BTreeMap<String, Vec<u8>>) -> SessionData {
    SessionData::from_entries(
        entries
            .iter()
            .map(|(key, value)| (key.clone(), ByteBuf::from(value.clone())))
            .collect(),
    )
}

/// One entry of a user's index of sessions, as plain values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexEntry {
    /// The session's store key.
    pub key: String,
    /// The handle shown to the user.
    pub handle: String,
    /// The session's creation time.
    pub created_at_ms: u64,
    /// When the entry was written.
    pub added_at_ms: u64,
    /// The session's absolute timeout.
    pub expires_at_ms: u64,
}

impl From<(String, String, u64, u64, u64)> for IndexEntry {
    /// From its fields in order: key, handle, creation, addition, expiry.
    fn from(
        (key, handle, created_at_ms, added_at_ms, expires_at_ms): (String, String, u64, u64, u64),
    ) -> Self {
        Self {
            key,
            handle,
            created_at_ms,
            added_at_ms,
            expires_at_ms,
        }
    }
}

/// A user index's plaintext, as it is written before sealing.
pub fn encode_user_index(entries: &[IndexEntry]) -> Vec<u8> {
    user_index::encode(&user_index::Index {
        entries: entries
            .iter()
            .map(|entry| user_index::Entry {
                key: entry.key.clone(),
                handle: entry.handle.clone(),
                created_at_ms: entry.created_at_ms,
                added_at_ms: entry.added_at_ms,
                expires_at_ms: entry.expires_at_ms,
            })
            .collect(),
        rebuilding: false,
    })
}

/// Decodes a user index's plaintext; `None` for anything that is not one.
pub fn decode_user_index(bytes: &[u8]) -> Option<Vec<IndexEntry>> {
    let index = user_index::decode(bytes)?;
    Some(
        index
            .entries
            .into_iter()
            .map(|entry| IndexEntry {
                key: entry.key,
                handle: entry.handle,
                created_at_ms: entry.created_at_ms,
                added_at_ms: entry.added_at_ms,
                expires_at_ms: entry.expires_at_ms,
            })
            .collect(),
    )
}
