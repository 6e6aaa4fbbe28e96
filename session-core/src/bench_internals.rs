//! Entry points into private code for the crate's own criterion benches.
//! Not a public API: hidden, behind the `bench-internals` feature.

use crate::codec::{self, Record};
use crate::data::SessionData;
use crate::id::SessionId;
use crate::keys::KeyRing;
use crate::{seal, signing};

/// Signs a fresh ID and verifies the result; answers whether it verified.
pub fn sign_and_verify(keys: &KeyRing) -> bool {
    let id = SessionId::generate();
    signing::verify(
        keys,
        &signing::sign(keys, &id, 1_700_000_000_000, Default::default()),
    )
    .is_ok()
}

/// A record of `fields` short string values, encoded.
pub fn encoded_record(fields: usize) -> Vec<u8> {
    let mut data = SessionData::new();
    for i in 0..fields {
        data.insert(&format!("field_{i}"), &format!("value number {i}"))
            .expect("strings serialize");
    }
    codec::encode(&Record {
        created_at_ms: 1_700_000_000_000,
        data,
        user: None,
    })
}

/// Decodes and re-encodes a record; answers the encoded length.
pub fn decode_and_encode(bytes: &[u8]) -> usize {
    codec::decode(bytes).map_or(0, |record| codec::encode(&record).len())
}

/// Seals and opens `plaintext`; answers the opened length.
pub fn seal_and_open(keys: &KeyRing, plaintext: &[u8]) -> usize {
    let sealed = seal::seal(keys, "session:bench", plaintext);
    seal::open(keys, "session:bench", sealed).map_or(0, |opened| opened.plaintext.len())
}
