//! The record format: what a session looks like as bytes, before sealing.
//!
//! `version (1 byte) ‖ MessagePack(Record)`. The leading version byte lets a
//! later release change the layout and still tell old records apart; a record
//! with an unknown version or that does not decode is treated as an empty
//! session, never as an error.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::data::SessionData;

const RECORD_V1: u8 = 1;
/// The whole plaintext of a tombstone: the record of a session that ended
/// while a cookie naming it without a record could still be presented. It
/// keeps that ID from being claimed again.
pub(crate) const TOMBSTONE: &[u8] = &[0xff];

/// A session as stored: creation time and values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    /// Milliseconds since the Unix epoch; the absolute timeout counts from here.
    pub(crate) created_at_ms: u64,
    pub(crate) data: SessionData,
    /// The user this session is logged in as, when it logged in through
    /// [`Session::login`](crate::Session::login): the identity its user's index
    /// of sessions is found by. Sealed with the rest, never in the clear.
    pub(crate) user: Option<String>,
}

impl Record {
    /// A new, empty session created at `created_at_ms`.
    pub(crate) fn new(created_at_ms: u64) -> Self {
        Self {
            created_at_ms,
            data: SessionData::new(),
            user: None,
        }
    }

    /// A shared empty record: what a session holds before it is loaded, so
    /// that a session never used allocates none.
    pub(crate) fn empty() -> Arc<Self> {
        static EMPTY: LazyLock<Arc<Record>> = LazyLock::new(|| Arc::new(Record::new(0)));
        Arc::clone(&EMPTY)
    }
}

#[derive(Serialize)]
struct WireRef<'a> {
    created_at_ms: u64,
    /// Unused since CSRF tokens are derived from the session ID; written as
    /// nil so the layout stays the same.
    csrf: Option<&'a serde_bytes::Bytes>,
    entries: &'a BTreeMap<String, ByteBuf>,
    user: Option<&'a str>,
}

#[derive(Deserialize)]
struct Wire {
    created_at_ms: u64,
    #[serde(rename = "csrf")]
    _csrf: Option<ByteBuf>,
    entries: BTreeMap<String, ByteBuf>,
    /// Absent in records written before sessions were indexed by user.
    #[serde(default)]
    user: Option<String>,
}

/// Why a record did not decode; for the log line only.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("empty record")]
    Empty,
    #[error("unknown record version {0}")]
    UnknownVersion(u8),
    #[error("malformed record: {0}")]
    Malformed(#[from] rmp_serde::decode::Error),
}

/// The record's encoding as a new buffer.
#[cfg(any(test, feature = "bench-internals", feature = "fuzzing"))]
pub(crate) fn encode(record: &Record) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(encoded_len_hint(record));
    encode_into(record, &mut bytes);
    bytes
}

/// A close upper estimate of the encoded length, so the buffer is allocated
/// once: the values' own bytes, their keys, and a few bytes of framing each.
pub(crate) fn encoded_len_hint(record: &Record) -> usize {
    let entries: usize = record
        .data
        .entries
        .iter()
        .map(|(key, value)| key.len() + value.len() + 10)
        .sum();
    64 + entries
}

/// Appends the record's encoding to `bytes`.
pub(crate) fn encode_into(record: &Record, bytes: &mut Vec<u8>) {
    let wire = WireRef {
        created_at_ms: record.created_at_ms,
        csrf: None,
        entries: &record.data.entries,
        user: record.user.as_deref(),
    };
    bytes.push(RECORD_V1);
    rmp_serde::encode::write(bytes, &wire)
        .expect("a record of strings, bytes and integers always serializes");
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
    let (&version, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if version != RECORD_V1 {
        return Err(DecodeError::UnknownVersion(version));
    }
    let wire: Wire = rmp_serde::from_slice(body)?;
    Ok(Record {
        created_at_ms: wire.created_at_ms,
        data: SessionData::from_entries(wire.entries),
        user: wire.user,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn unknown_versions_and_junk_are_rejected() {
        let record = Record::new(5);
        let mut bytes = encode(&record);
        assert_eq!(decode(&bytes).expect("decodes"), record);
        bytes[0] = 2;
        assert!(matches!(
            decode(&bytes),
            Err(DecodeError::UnknownVersion(2))
        ));
        assert!(matches!(decode(&[]), Err(DecodeError::Empty)));
        assert!(matches!(
            decode(&[RECORD_V1, 0xc1]),
            Err(DecodeError::Malformed(_))
        ));
    }

    proptest! {
        #[test]
        fn records_round_trip(
            created_at_ms in any::<u64>(),
            values in proptest::collection::btree_map(".{0,20}", any::<(i64, String, Vec<u8>)>(), 0..10),
        ) {
            let mut data = SessionData::new();
            for (key, value) in &values {
                data.insert(key, value).expect("serializable");
            }
            data.mark_saved();
            let record = Record { created_at_ms, data, user: Some("user".into()) };
            let decoded = decode(&encode(&record)).expect("decodes");
            for (key, value) in &values {
                prop_assert_eq!(decoded.data.get::<(i64, String, Vec<u8>)>(key).expect("typed"), Some(value.clone()));
            }
            prop_assert_eq!(decoded, record);
        }

        #[test]
        fn garbage_never_panics(garbage in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&garbage);
            let mut versioned = vec![RECORD_V1];
            versioned.extend_from_slice(&garbage);
            let _ = decode(&versioned);
        }
    }
}
