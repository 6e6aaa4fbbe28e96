//! The cookie value: a session ID and its HMAC-SHA256 tag.
//!
//! The value is the unpadded base64url encoding of `id ‖ tag` (32 + 32 bytes,
//! 86 characters). The tag is checked in constant time against every key of the
//! ring, so a client learns nothing from timing, and an old key keeps verifying
//! until it is taken out of the ring.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;

use crate::id::{ID_BYTES, SessionId};
use crate::keys::{DerivedKeys, KeyRing};

const TAG_BYTES: usize = 32;
/// Length of every valid cookie value; anything else is rejected before any
/// decoding or hashing.
pub(crate) const COOKIE_VALUE_LEN: usize = (ID_BYTES + TAG_BYTES) * 4 / 3 + 1;

fn tag(key: &DerivedKeys, id: &SessionId) -> [u8; TAG_BYTES] {
    let mut mac = key.signing.clone();
    mac.update(&id.0);
    mac.finalize().into_bytes().into()
}

/// Signs `id` with the ring's current key.
pub(crate) fn sign(keys: &KeyRing, id: &SessionId) -> String {
    let mut raw = [0u8; ID_BYTES + TAG_BYTES];
    raw[..ID_BYTES].copy_from_slice(&id.0);
    raw[ID_BYTES..].copy_from_slice(&tag(keys.current(), id));
    URL_SAFE_NO_PAD.encode(raw)
}

/// A verified cookie: the ID, and whether it was signed by an older key (so
/// the response should re-sign it with the current one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verified {
    pub(crate) id: SessionId,
    pub(crate) signed_by_old_key: bool,
}

/// Why a cookie value was rejected; for the log line only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejected {
    Length,
    Encoding,
    Signature,
}

/// Checks a cookie value against every key in the ring.
pub(crate) fn verify(keys: &KeyRing, value: &str) -> Result<Verified, Rejected> {
    if value.len() != COOKIE_VALUE_LEN {
        return Err(Rejected::Length);
    }
    let mut raw = [0u8; ID_BYTES + TAG_BYTES];
    match URL_SAFE_NO_PAD.decode_slice(value, &mut raw) {
        Ok(len) if len == raw.len() => {}
        _ => return Err(Rejected::Encoding),
    }
    let (id_bytes, tag_bytes) = raw.split_at(ID_BYTES);
    let mut id = SessionId([0; ID_BYTES]);
    id.0.copy_from_slice(id_bytes);
    for (index, key) in keys.all() {
        let mut mac = key.signing.clone();
        mac.update(&id.0);
        // `verify_slice` compares in constant time.
        if mac.verify_slice(tag_bytes).is_ok() {
            return Ok(Verified {
                id,
                signed_by_old_key: index > 0,
            });
        }
    }
    Err(Rejected::Signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ring(seed: u8) -> KeyRing {
        KeyRing::from_secrets([[seed; 32]]).expect("valid key")
    }

    #[test]
    fn round_trip_and_rotation() {
        let (old, new) = (ring(1), ring(2));
        let rotated = KeyRing::from_secrets([[2u8; 32], [1u8; 32]]).expect("valid");
        let id = SessionId::generate();
        let value = sign(&old, &id);
        assert_eq!(value.len(), COOKIE_VALUE_LEN);
        assert_eq!(
            verify(&old, &value),
            Ok(Verified {
                id,
                signed_by_old_key: false
            })
        );
        assert_eq!(verify(&new, &value), Err(Rejected::Signature));
        assert_eq!(
            verify(&rotated, &value),
            Ok(Verified {
                id,
                signed_by_old_key: true
            })
        );
        assert_eq!(
            verify(&rotated, &sign(&rotated, &id)).map(|v| v.signed_by_old_key),
            Ok(false)
        );
    }

    #[test]
    fn malformed_values_are_rejected() {
        let keys = ring(3);
        let value = sign(&keys, &SessionId::generate());
        assert_eq!(verify(&keys, &value[..85]), Err(Rejected::Length));
        assert_eq!(verify(&keys, &format!("{value}A")), Err(Rejected::Length));
        assert_eq!(
            verify(&keys, &"!".repeat(COOKIE_VALUE_LEN)),
            Err(Rejected::Encoding)
        );
        assert_eq!(verify(&keys, &"é".repeat(43)), Err(Rejected::Encoding));
        assert_eq!(verify(&keys, ""), Err(Rejected::Length));
    }

    proptest! {
        #[test]
        fn any_change_to_a_value_is_rejected(pos in 0..COOKIE_VALUE_LEN, replacement in "[A-Za-z0-9_-]") {
            let keys = ring(4);
            let value = sign(&keys, &SessionId::generate());
            let mut tampered = value.clone();
            tampered.replace_range(pos..pos + 1, &replacement);
            prop_assume!(tampered != value);
            // The last character carries 2 unused bits: base64 decoders reject a
            // non-canonical final character, or the tag no longer matches.
            prop_assert!(verify(&keys, &tampered).is_err());
        }

        #[test]
        fn garbage_never_verifies(garbage in ".{0,200}") {
            prop_assert!(verify(&ring(5), &garbage).is_err());
        }

        #[test]
        fn signed_ids_round_trip(bytes in proptest::array::uniform32(any::<u8>())) {
            let keys = ring(6);
            let id = SessionId(bytes);
            prop_assert_eq!(verify(&keys, &sign(&keys, &id)).map(|v| v.id), Ok(id));
        }
    }
}
