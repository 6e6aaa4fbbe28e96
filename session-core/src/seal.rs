//! Sealing: authenticated encryption of records, bound to their store key.
//!
//! memcached has no authentication, so anyone who reaches it can read and
//! write it. Every record is sealed with XChaCha20-Poly1305 before it reaches a
//! store, with the record's whole store key as associated data: a record only
//! opens under the key it was written for, so it cannot be forged, altered or
//! copied to another session, and reading it reveals nothing.
//!
//! Layout: `format (1) ‖ key id (4) ‖ nonce (24) ‖ ciphertext ‖ tag (16)`.
//! Nonces are 192 bits: 128 drawn from the OS CSPRNG once per process, then a
//! 64-bit counter. They never repeat within a process, and two processes
//! sharing a key collide with probability about n²/2^129 for n processes, so
//! any number of seals per key is safe (AES-GCM's 96-bit random nonces would
//! allow only about 2^32). The counter saves a system call per seal. A process
//! that forks after sealing would share prefix and counter with its child;
//! async servers do not fork once running, and none of this workspace's do.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{Tag, XNonce};

use crate::id::random_bytes;
use crate::keys::KeyRing;

const FORMAT_V1: u8 = 1;
const HEADER_BYTES: usize = 1 + 4 + 24;
const TAG_BYTES: usize = 16;

/// Bytes sealing adds to a record.
pub(crate) const OVERHEAD: usize = HEADER_BYTES + TAG_BYTES;

static NONCE_PREFIX: LazyLock<[u8; 16]> = LazyLock::new(random_bytes);
static NONCE_COUNTER: AtomicU64 = AtomicU64::new(0);

fn next_nonce() -> [u8; 24] {
    let mut nonce = [0u8; 24];
    nonce[..16].copy_from_slice(&*NONCE_PREFIX);
    nonce[16..].copy_from_slice(&NONCE_COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    nonce
}

/// Seals `plaintext` for the record at `store_key` with the current key.
#[cfg(any(test, feature = "bench-internals", feature = "fuzzing"))]
pub(crate) fn seal(keys: &KeyRing, store_key: &str, plaintext: &[u8]) -> Vec<u8> {
    seal_with(keys, store_key, plaintext.len(), |buffer| {
        buffer.extend_from_slice(plaintext)
    })
}

/// Seals the plaintext that `write` appends to the buffer (about
/// `plaintext_len` bytes) for the record at `store_key`: the record is encoded
/// straight into the buffer it is sealed in, one allocation in all.
pub(crate) fn seal_with(
    keys: &KeyRing,
    store_key: &str,
    plaintext_len: usize,
    write: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let key = keys.current();
    let nonce = next_nonce();
    let mut sealed = Vec::with_capacity(OVERHEAD + plaintext_len);
    sealed.push(FORMAT_V1);
    sealed.extend_from_slice(&key.id);
    sealed.extend_from_slice(&nonce);
    write(&mut sealed);
    let (header, body) = sealed.split_at_mut(HEADER_BYTES);
    let tag = with_associated_data(header, store_key, |aad| {
        key.sealing
            .encrypt_inout_detached(&XNonce::from(nonce), aad, body.into())
            .expect("XChaCha20-Poly1305 seals messages up to 256 GiB")
    });
    sealed.extend_from_slice(&tag);
    sealed
}

/// An opened record, and whether it was sealed by an older key (so the next
/// save reseals it under the current one).
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) plaintext: Vec<u8>,
    pub(crate) sealed_by_old_key: bool,
}

/// Why a record did not open; for the log line only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Too short, or a format this version does not know.
    Format,
    /// No key in the ring authenticates it under this store key.
    Authentication,
}

/// Opens a record read from `store_key`, trying the key it names first. The
/// record is decrypted in place: its buffer becomes the plaintext.
pub(crate) fn open(
    keys: &KeyRing,
    store_key: &str,
    mut sealed: Vec<u8>,
) -> Result<Opened, OpenError> {
    if sealed.len() < OVERHEAD || sealed[0] != FORMAT_V1 {
        return Err(OpenError::Format);
    }
    let tag_start = sealed.len() - TAG_BYTES;
    let tag = Tag::try_from(&sealed[tag_start..]).map_err(|_| OpenError::Format)?;
    let nonce = XNonce::try_from(&sealed[5..HEADER_BYTES]).map_err(|_| OpenError::Format)?;
    let (header, rest) = sealed.split_at_mut(HEADER_BYTES);
    let ciphertext = &mut rest[..tag_start - HEADER_BYTES];
    let key_id = &header[1..5];
    // Key ids are 32 bits, so two keys may share one: try every match. A
    // failed attempt leaves the buffer as it was (the tag is checked first).
    let opened_by = with_associated_data(header, store_key, |aad| {
        keys.all()
            .filter(|(_, key)| key.id == key_id)
            .find(|(_, key)| {
                key.sealing
                    .decrypt_inout_detached(&nonce, aad, (&mut *ciphertext).into(), &tag)
                    .is_ok()
            })
            .map(|(index, _)| index)
    });
    let index = opened_by.ok_or(OpenError::Authentication)?;
    sealed.truncate(tag_start);
    sealed.drain(..HEADER_BYTES);
    Ok(Opened {
        plaintext: sealed,
        sealed_by_old_key: index > 0,
    })
}

/// The longest associated data on the stack: the header and a store key of
/// the longest namespace the manager accepts (200 bytes) plus its 43-byte hash.
const STACK_AAD_BYTES: usize = HEADER_BYTES + 256;

/// Runs `f` on the associated data: the header and the store key, so neither
/// can be changed or swapped. Built on the stack, without an allocation.
fn with_associated_data<R>(header: &[u8], store_key: &str, f: impl FnOnce(&[u8]) -> R) -> R {
    let len = header.len() + store_key.len();
    if len > STACK_AAD_BYTES {
        return f(&[header, store_key.as_bytes()].concat());
    }
    let mut aad = [0u8; STACK_AAD_BYTES];
    aad[..header.len()].copy_from_slice(header);
    aad[header.len()..len].copy_from_slice(store_key.as_bytes());
    f(&aad[..len])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ring(secrets: &[u8]) -> KeyRing {
        KeyRing::from_secrets(secrets.iter().map(|s| [*s; 32])).expect("valid keys")
    }

    #[test]
    fn opens_only_under_its_own_store_key() {
        let keys = ring(&[1]);
        let sealed = seal(&keys, "s:alice", b"user_name=alice");
        let opened = open(&keys, "s:alice", sealed.clone()).expect("opens");
        assert_eq!(opened.plaintext, b"user_name=alice");
        assert!(!opened.sealed_by_old_key);
        assert_eq!(
            open(&keys, "s:mallory", sealed).map(|o| o.plaintext),
            Err(OpenError::Authentication)
        );
    }

    #[test]
    fn nonces_never_repeat() {
        let nonces: std::collections::HashSet<_> = (0..1000).map(|_| next_nonce()).collect();
        assert_eq!(nonces.len(), 1000);
        let sealed = [
            seal(&ring(&[1]), "k", b"same"),
            seal(&ring(&[1]), "k", b"same"),
        ];
        assert_ne!(
            sealed[0], sealed[1],
            "the same plaintext must seal differently"
        );
    }

    #[test]
    fn hides_the_plaintext() {
        let sealed = seal(&ring(&[1]), "k", b"a-very-distinctive-value");
        assert!(!sealed.windows(10).any(|w| w == b"distinctiv"));
    }

    #[test]
    fn retired_keys_open_until_removed() {
        let old = ring(&[1]);
        let sealed = seal(&old, "k", b"data");
        let rotated = ring(&[2, 1]);
        let opened = open(&rotated, "k", sealed.clone()).expect("the old key is still in the ring");
        assert!(opened.sealed_by_old_key);
        assert_eq!(
            open(&ring(&[2]), "k", sealed).map(|o| o.plaintext),
            Err(OpenError::Authentication)
        );
    }

    #[test]
    fn short_and_unknown_formats_are_rejected() {
        let keys = ring(&[1]);
        let mut sealed = seal(&keys, "k", b"data");
        assert_eq!(
            open(&keys, "k", sealed[..OVERHEAD - 1].to_vec()).map(|o| o.plaintext),
            Err(OpenError::Format)
        );
        sealed[0] = 2;
        assert_eq!(
            open(&keys, "k", sealed).map(|o| o.plaintext),
            Err(OpenError::Format)
        );
    }

    proptest! {
        #[test]
        fn any_flipped_bit_fails(plaintext in proptest::collection::vec(any::<u8>(), 0..64), pos in any::<proptest::sample::Index>(), bit in 0..8u8) {
            let keys = ring(&[1]);
            let mut sealed = seal(&keys, "k", &plaintext);
            let pos = pos.index(sealed.len());
            sealed[pos] ^= 1 << bit;
            prop_assert!(open(&keys, "k", sealed).is_err());
        }

        #[test]
        fn garbage_never_opens(garbage in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert!(open(&ring(&[1]), "k", garbage).is_err());
        }

        #[test]
        fn round_trips(plaintext in proptest::collection::vec(any::<u8>(), 0..512), key in "[a-z:]{1,40}") {
            let keys = ring(&[1, 2]);
            prop_assert_eq!(open(&keys, &key, seal(&keys, &key, &plaintext)).map(|o| o.plaintext), Ok(plaintext));
        }
    }
}
