//! Properties of reading records back from a store: arbitrary bytes never
//! panic the opener, the record decoder or the user index decoder; records
//! and indexes round-trip through encode, seal, open and decode; what
//! decodes re-encodes to the same; a sealed record opens only under its own
//! store key and with every byte as written.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use proptest::prelude::*;
use session_core::KeyRing;
use session_core::fuzz_entry::{
    IndexEntry, RecordParts, SEAL_OVERHEAD, decode_record, decode_user_index, encode_record,
    encode_user_index, open, seal,
};

static KEYS: LazyLock<KeyRing> =
    LazyLock::new(|| KeyRing::from_secrets([[7u8; 32], [9u8; 32]]).expect("valid secrets"));

fn record() -> impl Strategy<Value = RecordParts> {
    (
        any::<u64>(),
        proptest::collection::btree_map(
            ".{0,16}",
            proptest::collection::vec(any::<u8>(), 0..40),
            0..8,
        ),
        proptest::option::of(".{0,20}"),
    )
        .prop_map(|(created_at_ms, entries, user)| RecordParts {
            created_at_ms,
            entries,
            user,
        })
}

fn index() -> impl Strategy<Value = Vec<IndexEntry>> {
    proptest::collection::vec(
        (
            ".{0,30}",
            "[A-Za-z0-9_-]{0,22}",
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
        ),
        0..6,
    )
    .prop_map(|entries| entries.into_iter().map(IndexEntry::from).collect())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_never_open(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        store_key in ".{0,40}",
    ) {
        prop_assert_eq!(open(&KEYS, &store_key, bytes.clone()), None);
        if let Some(record) = decode_record(&bytes) {
            prop_assert_eq!(decode_record(&encode_record(&record)), Some(record));
        }
        if let Some(index) = decode_user_index(&bytes) {
            prop_assert_eq!(decode_user_index(&encode_user_index(&index)), Some(index));
        }
    }

    #[test]
    fn a_record_round_trips_through_the_store(record in record(), store_key in ".{0,300}") {
        let plaintext = encode_record(&record);
        let sealed = seal(&KEYS, &store_key, &plaintext);
        prop_assert_eq!(sealed.len(), plaintext.len() + SEAL_OVERHEAD);
        let (opened, old_key) = open(&KEYS, &store_key, sealed).expect("opens");
        prop_assert!(!old_key);
        prop_assert_eq!(decode_record(&opened), Some(record));
    }

    #[test]
    fn an_index_round_trips(index in index()) {
        prop_assert_eq!(decode_user_index(&encode_user_index(&index)), Some(index));
    }

    #[test]
    fn a_record_opens_only_under_its_own_store_key(
        plaintext in proptest::collection::vec(any::<u8>(), 0..64),
        store_key in ".{0,40}",
        other in ".{0,40}",
    ) {
        prop_assume!(store_key != other);
        prop_assert_eq!(open(&KEYS, &other, seal(&KEYS, &store_key, &plaintext)), None);
    }

    #[test]
    fn changing_any_byte_is_rejected(
        plaintext in proptest::collection::vec(any::<u8>(), 0..64),
        at in any::<proptest::sample::Index>(),
        bits in 1..=255u8,
    ) {
        let mut sealed = seal(&KEYS, "session:k", &plaintext);
        let at = at.index(sealed.len());
        sealed[at] ^= bits;
        prop_assert_eq!(open(&KEYS, "session:k", sealed), None);
    }

    #[test]
    fn truncated_or_extended_records_are_rejected(
        plaintext in proptest::collection::vec(any::<u8>(), 0..64),
        cut in any::<proptest::sample::Index>(),
        extra in proptest::collection::vec(any::<u8>(), 1..8),
    ) {
        let sealed = seal(&KEYS, "session:k", &plaintext);
        let cut = cut.index(sealed.len());
        prop_assert_eq!(open(&KEYS, "session:k", sealed[..cut].to_vec()), None);
        let mut extended = sealed;
        extended.extend_from_slice(&extra);
        prop_assert_eq!(open(&KEYS, "session:k", extended), None);
    }
}

/// A record written before sessions were indexed by user is a three-field
/// array without `user`; it still decodes, with no user.
#[test]
fn an_old_record_without_a_user_decodes() {
    // Version 1, then [created_at_ms = 5, csrf = nil, {"a": bin [0xa1, 'b']}].
    let old = [1, 0x93, 5, 0xc0, 0x81, 0xa1, b'a', 0xc4, 2, 0xa1, b'b'];
    let record = RecordParts {
        created_at_ms: 5,
        entries: BTreeMap::from([("a".to_owned(), vec![0xa1, b'b'])]),
        user: None,
    };
    assert_eq!(decode_record(&old), Some(record));
}
