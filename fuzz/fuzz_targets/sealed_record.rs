//! Records as stores hand them back: arbitrary bytes never panic the
//! opener, the record decoder or the user index decoder; what decodes
//! re-encodes to a record that decodes the same; structured records and
//! indexes round-trip through encode, seal, open and decode; a sealed record
//! opens only under its own store key, and with any byte changed not at all.

#![no_main]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use session_core::KeyRing;
use session_core::fuzz_entry::{
    IndexEntry, RecordParts, decode_record, decode_user_index, encode_record, encode_user_index,
    open, seal, session_data,
};

static KEYS: LazyLock<KeyRing> =
    LazyLock::new(|| KeyRing::from_secrets([[7u8; 32], [9u8; 32]]).expect("valid secrets"));

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    /// Bytes as a store might answer them.
    stored: &'a [u8],
    created_at_ms: u64,
    entries: BTreeMap<String, Vec<u8>>,
    user: Option<String>,
    index: Vec<(String, String, u64, u64, u64)>,
    store_key: &'a str,
    /// Which byte of the sealed record to change, and how.
    flip: (u16, u8),
}

fuzz_target!(|input: Input<'_>| {
    // Arbitrary bytes: nothing panics, and what decodes is stable.
    assert_eq!(open(&KEYS, input.store_key, input.stored.to_vec()), None);
    if let Some(record) = decode_record(input.stored) {
        assert_eq!(decode_record(&encode_record(&record)), Some(record.clone()));
        // Reading the values typed decodes them as MessagePack: no panic.
        let data = session_data(&record.entries);
        for key in record.entries.keys() {
            let _ = data.get::<String>(key);
            let _ = data.get::<u64>(key);
            let _ = data.get::<Vec<(i64, Option<String>)>>(key);
        }
    }
    if let Some(index) = decode_user_index(input.stored) {
        assert_eq!(decode_user_index(&encode_user_index(&index)), Some(index));
    }

    // Structured input: encode, seal, open, decode is the identity.
    let record = RecordParts {
        created_at_ms: input.created_at_ms,
        entries: input.entries,
        user: input.user,
    };
    let plaintext = encode_record(&record);
    let sealed = seal(&KEYS, input.store_key, &plaintext);
    let (opened, old_key) = open(&KEYS, input.store_key, sealed.clone()).expect("opens");
    assert!(!old_key);
    assert_eq!(decode_record(&opened), Some(record));
    let other_key = format!("{}x", input.store_key);
    assert_eq!(open(&KEYS, &other_key, sealed.clone()), None);
    let (at, bits) = input.flip;
    if bits != 0 {
        let mut tampered = sealed;
        let at = usize::from(at) % tampered.len();
        tampered[at] ^= bits;
        assert_eq!(open(&KEYS, input.store_key, tampered), None);
    }

    let index: Vec<IndexEntry> = input.index.into_iter().map(IndexEntry::from).collect();
    assert_eq!(decode_user_index(&encode_user_index(&index)), Some(index));
});
