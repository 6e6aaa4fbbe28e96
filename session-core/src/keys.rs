//! The key ring: secrets, and the per-purpose keys derived from them.
//!
//! Each configured secret yields, through HKDF-SHA256 with distinct labels,
//! a cookie-signing key, a record-sealing key and a short public key id. No key
//! serves two purposes, and the secrets themselves never touch data.
//!
//! The first secret signs and seals; every secret verifies and opens. To rotate,
//! put the new secret first and keep the old one after it until the sessions
//! it protected have expired.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
use hkdf::Hkdf;
use hmac::Hmac;
use sha2::Sha256;

use crate::error::ConfigError;
use crate::id::random_bytes;

/// The shortest secret accepted: 256 bits.
pub const MIN_SECRET_BYTES: usize = 32;

const SIGNING_LABEL: &[u8] = b"session-core/v1/cookie-signing";
const SEALING_LABEL: &[u8] = b"session-core/v1/record-sealing";
const KEY_ID_LABEL: &[u8] = b"session-core/v1/key-id";
const CSRF_LABEL: &[u8] = b"session-core/v1/csrf-token";
const USER_INDEX_LABEL: &[u8] = b"session-core/v1/user-index-key";

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// The keys derived from one secret.
#[derive(Clone)]
pub(crate) struct DerivedKeys {
    /// An HMAC keyed once; cloning it is cheaper than keying again per cookie.
    pub(crate) signing: HmacSha256,
    pub(crate) sealing: XChaCha20Poly1305,
    /// Derives a session's CSRF token from its ID, so the token needs no
    /// storage.
    pub(crate) csrf: HmacSha256,
    /// Names a user's index of sessions in the store: a keyed hash, so the
    /// store's keys do not give away who the users are.
    pub(crate) user_index: HmacSha256,
    /// Names the key in sealed records so opening tries the right one first.
    pub(crate) id: [u8; 4],
}

impl DerivedKeys {
    fn derive(secret: &[u8]) -> Self {
        let hkdf = Hkdf::<Sha256>::new(None, secret);
        let mut signing = [0u8; 32];
        let mut sealing = [0u8; 32];
        let mut csrf = [0u8; 32];
        let mut user_index = [0u8; 32];
        let mut id = [0u8; 4];
        for (label, out) in [
            (SIGNING_LABEL, &mut signing[..]),
            (SEALING_LABEL, &mut sealing[..]),
            (CSRF_LABEL, &mut csrf[..]),
            (USER_INDEX_LABEL, &mut user_index[..]),
            (KEY_ID_LABEL, &mut id[..]),
        ] {
            hkdf.expand(label, out)
                .expect("HKDF-SHA256 yields up to 8160 bytes; these are at most 32");
        }
        Self {
            signing: <HmacSha256 as KeyInit>::new_from_slice(&signing)
                .expect("HMAC takes keys of any length"),
            sealing: XChaCha20Poly1305::new(&sealing.into()),
            csrf: <HmacSha256 as KeyInit>::new_from_slice(&csrf)
                .expect("HMAC takes keys of any length"),
            user_index: <HmacSha256 as KeyInit>::new_from_slice(&user_index)
                .expect("HMAC takes keys of any length"),
            id,
        }
    }
}

/// The secrets a [`SessionManager`](crate::SessionManager) signs cookies and
/// seals records with. The first key is current; the others are only accepted.
#[derive(Clone)]
pub struct KeyRing {
    keys: Vec<DerivedKeys>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl KeyRing {
    /// A ring from raw secrets, current first. Each must be at least
    /// [`MIN_SECRET_BYTES`] long and should come from a CSPRNG.
    ///
    /// # Errors
    ///
    /// [`ConfigError::KeyTooShort`] for a short secret, [`ConfigError::NoKeys`]
    /// for none.
    pub fn from_secrets<I, S>(secrets: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut keys = Vec::new();
        for (index, secret) in secrets.into_iter().enumerate() {
            let secret = secret.as_ref();
            if secret.len() < MIN_SECRET_BYTES {
                return Err(ConfigError::KeyTooShort {
                    index,
                    len: secret.len(),
                    min: MIN_SECRET_BYTES,
                });
            }
            keys.push(DerivedKeys::derive(secret));
        }
        if keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        Ok(Self { keys })
    }

    /// A ring from the text form used in configuration and environment
    /// variables: secrets separated by commas, current first, each either an
    /// even-length string of hex digits or standard base64 (padding optional).
    ///
    /// # Errors
    ///
    /// [`ConfigError::KeyEncoding`] for a secret that is neither hex nor
    /// base64, and the errors of [`KeyRing::from_secrets`].
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let secrets = text
            .split(',')
            .map(str::trim)
            .enumerate()
            .map(|(index, part)| decode_secret(part).ok_or(ConfigError::KeyEncoding { index }))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_secrets(secrets)
    }

    /// A ring with one fresh random secret. Sessions signed with it do not
    /// survive a restart; for development and tests.
    pub fn generate() -> Self {
        Self {
            keys: vec![DerivedKeys::derive(&random_bytes::<32>())],
        }
    }

    /// The number of keys in the ring.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a ring holds at least one key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key that signs and seals.
    pub(crate) fn current(&self) -> &DerivedKeys {
        &self.keys[0]
    }

    /// Every key, current first, with its position.
    pub(crate) fn all(&self) -> impl Iterator<Item = (usize, &DerivedKeys)> {
        self.keys.iter().enumerate()
    }
}

fn decode_secret(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() {
        return None;
    }
    if text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
            .collect();
    }
    STANDARD
        .decode(text)
        .or_else(|_| STANDARD_NO_PAD.decode(text))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_missing_keys_are_refused() {
        assert!(matches!(
            KeyRing::from_secrets([[7u8; 31]]),
            Err(ConfigError::KeyTooShort {
                index: 0,
                len: 31,
                min: 32
            })
        ));
        assert!(matches!(
            KeyRing::from_secrets([vec![1u8; 32], vec![2u8; 8]]),
            Err(ConfigError::KeyTooShort { index: 1, .. })
        ));
        assert!(matches!(
            KeyRing::from_secrets(Vec::<Vec<u8>>::new()),
            Err(ConfigError::NoKeys)
        ));
    }

    #[test]
    fn parse_reads_hex_base64_and_lists() {
        let hex = "00".repeat(32);
        let b64 = STANDARD.encode([9u8; 40]);
        let unpadded = STANDARD_NO_PAD.encode([9u8; 40]);
        assert_eq!(KeyRing::parse(&hex).map(|r| r.len()).ok(), Some(1));
        assert_eq!(
            KeyRing::parse(&format!("{hex}, {b64},{unpadded}"))
                .map(|r| r.len())
                .ok(),
            Some(3)
        );
        assert!(matches!(
            KeyRing::parse("abc"),
            Err(ConfigError::KeyTooShort { .. })
        ));
        assert!(matches!(
            KeyRing::parse("not base64!"),
            Err(ConfigError::KeyEncoding { index: 0 })
        ));
        assert!(matches!(
            KeyRing::parse(&format!("{hex},")),
            Err(ConfigError::KeyEncoding { index: 1 })
        ));
    }

    #[test]
    fn purposes_get_distinct_keys() {
        let ring = KeyRing::from_secrets([[1u8; 32], [2u8; 32]]).expect("valid");
        let ids: Vec<_> = ring.all().map(|(_, k)| k.id).collect();
        assert_ne!(ids[0], ids[1]);
    }
}
