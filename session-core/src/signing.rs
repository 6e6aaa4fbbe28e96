//! The cookie value: a session ID, the session's creation time, and an
//! HMAC-SHA256 tag over both.
//!
//! The value is the unpadded base64url encoding of `id ‖ created ‖ flags ‖
//! tag` (32 + 8 + 1 + 32 bytes, 98 characters). The tag is checked in constant time
//! against every key of the ring, so a client learns nothing from timing, and
//! an old key keeps verifying until it is taken out of the ring.
//!
//! The signed creation time lets the core refuse a session past its absolute
//! timeout without asking the store, and ask the store for exactly the TTL
//! the session has left when it loads it. The record's own creation time
//! stays authoritative: the two must agree.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;

use crate::id::{ID_BYTES, SessionId};
use crate::keys::KeyRing;

const TIME_BYTES: usize = 8;
const FLAGS_BYTES: usize = 1;
const TAG_BYTES: usize = 32;
const SIGNED_BYTES: usize = ID_BYTES + TIME_BYTES + FLAGS_BYTES;
const RAW_BYTES: usize = SIGNED_BYTES + TAG_BYTES;
/// Length of every valid cookie value; anything else is rejected before any
/// decoding or hashing.
pub(crate) const COOKIE_VALUE_LEN: usize = (RAW_BYTES * 4).div_ceil(3);

/// What the cookie says about its session, signed with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Flags {
    /// The session has a record in the store. A cookie without it names a
    /// session that holds nothing yet: no store write was needed for it.
    pub(crate) stored: bool,
    /// A user is logged in, so the longer idle timeout applies.
    pub(crate) logged_in: bool,
    /// A cookie without `stored` was issued for this ID before it was
    /// stored, so ending the session must keep the ID from being claimed
    /// again.
    pub(crate) announced: bool,
}

impl Flags {
    const STORED: u8 = 1;
    const LOGGED_IN: u8 = 2;
    const ANNOUNCED: u8 = 4;

    fn to_byte(self) -> u8 {
        [
            (self.stored, Self::STORED),
            (self.logged_in, Self::LOGGED_IN),
            (self.announced, Self::ANNOUNCED),
        ]
        .into_iter()
        .filter(|(set, _)| *set)
        .fold(0, |byte, (_, bit)| byte | bit)
    }

    fn from_byte(byte: u8) -> Self {
        Self {
            stored: byte & Self::STORED != 0,
            logged_in: byte & Self::LOGGED_IN != 0,
            announced: byte & Self::ANNOUNCED != 0,
        }
    }
}

/// Signs `id`, the session's creation time and its flags with the ring's
/// current key.
pub(crate) fn sign(keys: &KeyRing, id: &SessionId, created_at_ms: u64, flags: Flags) -> String {
    let mut raw = [0u8; RAW_BYTES];
    raw[..ID_BYTES].copy_from_slice(&id.0);
    raw[ID_BYTES..ID_BYTES + TIME_BYTES].copy_from_slice(&created_at_ms.to_be_bytes());
    raw[ID_BYTES + TIME_BYTES] = flags.to_byte();
    let mut mac = keys.current().signing.clone();
    mac.update(&raw[..SIGNED_BYTES]);
    raw[SIGNED_BYTES..].copy_from_slice(&mac.finalize().into_bytes());
    URL_SAFE_NO_PAD.encode(raw)
}

/// A verified cookie: the ID, the session's creation time, and whether it was
/// signed by an older key (so the response should re-sign it with the
/// current one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verified {
    pub(crate) id: SessionId,
    pub(crate) created_at_ms: u64,
    pub(crate) flags: Flags,
    pub(crate) signed_by_old_key: bool,
}

/// Why a cookie value was rejected; for the log line only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejected {
    Length,
    Encoding,
    Signature,
}

/// The most session cookie values of one request kept for verification. A
/// browser sends one; a sibling subdomain tossing cookies adds one or two.
const MAX_CANDIDATES: usize = 4;

/// The session cookie values a request carried, kept raw until the session is
/// first used, so a request that never uses its session costs no HMAC.
/// Values of the wrong length are dropped at once: they can never verify.
#[derive(Clone)]
pub(crate) struct Candidates {
    values: [[u8; COOKIE_VALUE_LEN]; MAX_CANDIDATES],
    len: usize,
    /// Whether the request carried the cookie at all, valid or not.
    pub(crate) present: bool,
}

impl Candidates {
    pub(crate) const NONE: Candidates = Candidates {
        values: [[0; COOKIE_VALUE_LEN]; MAX_CANDIDATES],
        len: 0,
        present: false,
    };

    /// Keeps one value of the session cookie.
    pub(crate) fn push(&mut self, value: &[u8]) {
        self.present = true;
        if let (Ok(value), Some(slot)) = (
            <[u8; COOKIE_VALUE_LEN]>::try_from(value),
            self.values.get_mut(self.len),
        ) {
            *slot = value;
            self.len += 1;
        } else {
            tracing::info!(
                reason = ?Rejected::Length,
                "ignoring a session cookie that does not verify"
            );
        }
    }

    /// The first value that verifies, if any; the others are logged.
    pub(crate) fn verify(&self, keys: &KeyRing) -> Option<Verified> {
        self.values[..self.len].iter().find_map(|value| {
            verify(keys, value)
                .inspect_err(|reason| {
                    tracing::info!(?reason, "ignoring a session cookie that does not verify")
                })
                .ok()
        })
    }
}

impl Candidates {
    /// A hash of the values and of whether the cookie was there: two requests
    /// with equal fingerprints carry the same session cookie. A fast unkeyed
    /// fold (FxHash's), not a MAC: matching another request's fingerprint
    /// would take knowing its cookie, which is its session already.
    pub(crate) fn fingerprint(&self) -> u64 {
        const SEED: u64 = 0x517c_c1b7_2722_0a95;
        let fold = |hash: u64, word: u64| (hash.rotate_left(5) ^ word).wrapping_mul(SEED);
        let mut hash = fold(u64::from(self.present), self.len as u64);
        for value in &self.values[..self.len] {
            for chunk in value.chunks(8) {
                let mut word = [0u8; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                hash = fold(hash, u64::from_le_bytes(word));
            }
        }
        hash
    }
}

impl std::fmt::Debug for Candidates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Candidates")
            .field("len", &self.len)
            .field("present", &self.present)
            .finish_non_exhaustive()
    }
}

/// Checks a cookie value against every key in the ring.
pub(crate) fn verify<V: AsRef<[u8]> + ?Sized>(
    keys: &KeyRing,
    value: &V,
) -> Result<Verified, Rejected> {
    let value = value.as_ref();
    if value.len() != COOKIE_VALUE_LEN {
        return Err(Rejected::Length);
    }
    let mut raw = [0u8; RAW_BYTES];
    match URL_SAFE_NO_PAD.decode_slice(value, &mut raw) {
        Ok(len) if len == raw.len() => {}
        _ => return Err(Rejected::Encoding),
    }
    let (signed, tag) = raw.split_at(SIGNED_BYTES);
    for (index, key) in keys.all() {
        let mut mac = key.signing.clone();
        mac.update(signed);
        // `verify_slice` compares in constant time.
        if mac.verify_slice(tag).is_ok() {
            let (id_bytes, rest) = signed.split_at(ID_BYTES);
            let (time_bytes, flags) = rest.split_at(TIME_BYTES);
            let mut id = SessionId([0; ID_BYTES]);
            id.0.copy_from_slice(id_bytes);
            let mut time = [0u8; TIME_BYTES];
            time.copy_from_slice(time_bytes);
            return Ok(Verified {
                id,
                created_at_ms: u64::from_be_bytes(time),
                flags: Flags::from_byte(flags[0]),
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

    const FLAGS: Flags = Flags {
        stored: true,
        logged_in: false,
        announced: true,
    };

    fn ring(seed: u8) -> KeyRing {
        KeyRing::from_secrets([[seed; 32]]).expect("valid key")
    }

    #[test]
    fn round_trip_and_rotation() {
        let (old, new) = (ring(1), ring(2));
        let rotated = KeyRing::from_secrets([[2u8; 32], [1u8; 32]]).expect("valid");
        let id = SessionId::generate();
        let value = sign(&old, &id, 42, FLAGS);
        assert_eq!(value.len(), COOKIE_VALUE_LEN);
        let verified = |signed_by_old_key| {
            Ok(Verified {
                id,
                created_at_ms: 42,
                flags: FLAGS,
                signed_by_old_key,
            })
        };
        assert_eq!(verify(&old, &value), verified(false));
        assert_eq!(verify(&new, &value), Err(Rejected::Signature));
        assert_eq!(verify(&rotated, &value), verified(true));
        assert_eq!(
            verify(&rotated, &sign(&rotated, &id, 42, FLAGS)),
            verified(false)
        );
    }

    #[test]
    fn malformed_values_are_rejected() {
        let keys = ring(3);
        let value = sign(&keys, &SessionId::generate(), 0, Flags::default());
        let truncated = &value[..COOKIE_VALUE_LEN - 1];
        assert_eq!(verify(&keys, truncated), Err(Rejected::Length));
        assert_eq!(verify(&keys, &format!("{value}A")), Err(Rejected::Length));
        let not_base64 = "!".repeat(COOKIE_VALUE_LEN);
        assert_eq!(verify(&keys, &not_base64), Err(Rejected::Encoding));
        let not_ascii = "é".repeat(COOKIE_VALUE_LEN / 2);
        assert_eq!(verify(&keys, &not_ascii), Err(Rejected::Encoding));
        assert_eq!(verify(&keys, ""), Err(Rejected::Length));
    }

    proptest! {
        #[test]
        fn any_change_to_a_value_is_rejected(pos in 0..COOKIE_VALUE_LEN, replacement in "[A-Za-z0-9_-]") {
            let keys = ring(4);
            let value = sign(&keys, &SessionId::generate(), 1_700_000_000_000, FLAGS);
            let mut tampered = value.clone();
            tampered.replace_range(pos..pos + 1, &replacement);
            prop_assume!(tampered != value);
            // Whatever changes, the ID, the time or the tag, the tag no longer matches.
            prop_assert!(verify(&keys, &tampered).is_err());
        }

        #[test]
        fn garbage_never_verifies(garbage in ".{0,200}") {
            prop_assert!(verify(&ring(5), &garbage).is_err());
        }

        #[test]
        fn signed_values_round_trip(
            bytes in proptest::array::uniform32(any::<u8>()),
            created_at_ms in any::<u64>(),
            stored in any::<bool>(),
            logged_in in any::<bool>(),
            announced in any::<bool>(),
        ) {
            let keys = ring(6);
            let id = SessionId(bytes);
            let flags = Flags { stored, logged_in, announced };
            let verified = verify(&keys, &sign(&keys, &id, created_at_ms, flags))
                .map(|v| (v.id, v.created_at_ms, v.flags));
            prop_assert_eq!(verified, Ok((id, created_at_ms, flags)));
        }
    }
}
