//! Session IDs and the store keys derived from them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Bytes in a session ID: 256 bits from the OS CSPRNG, twice what a UUID v4
/// carries, so guessing a live ID is hopeless at any request rate.
pub(crate) const ID_BYTES: usize = 32;

/// Fills an array from the operating system's CSPRNG.
///
/// # Panics
/// If the OS has no usable random source, which no supported platform lacks;
/// serving sessions with predictable IDs would be worse than stopping.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS random number generator failed");
    bytes
}

/// A session ID: 32 random bytes. Only the core sees it; the cookie carries it
/// signed and the store sees only its hash.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionId(pub(crate) [u8; ID_BYTES]);

impl SessionId {
    pub(crate) fn generate() -> Self {
        Self(random_bytes())
    }

    /// The store key: `namespace` followed by the unpadded base64url SHA-256 of
    /// the ID. A dump of the store yields no usable cookie, and the key does
    /// not depend on the signing keys, so it survives key rotation. At most
    /// 43 bytes plus the namespace, all memcached-safe characters.
    pub(crate) fn store_key(&self, namespace: &str) -> String {
        let digest = Sha256::digest(self.0);
        let mut key = String::with_capacity(namespace.len() + 43);
        key.push_str(namespace);
        URL_SAFE_NO_PAD.encode_string(digest, &mut key);
        key
    }
}

/// Never print an ID: logs must not leak a usable session.
impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionId(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_keys_hide_them() {
        let (a, b) = (SessionId::generate(), SessionId::generate());
        assert_ne!(a, b);
        let key = a.store_key("s:");
        assert!(key.starts_with("s:"));
        assert_eq!(key.len(), 2 + 43);
        assert_ne!(key, b.store_key("s:"));
        let raw = URL_SAFE_NO_PAD.encode(a.0);
        assert!(!key.contains(&raw), "the store key must not contain the ID");
        assert!(key.bytes().all(|c| c.is_ascii_graphic()));
    }

    #[test]
    fn debug_does_not_leak_the_id() {
        let id = SessionId([0xab; ID_BYTES]);
        assert_eq!(format!("{id:?}"), "SessionId(..)");
    }
}
