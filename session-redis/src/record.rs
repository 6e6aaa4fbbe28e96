//! How a record is stored: one Redis string, the sealed bytes followed by a 16-byte version tag.
//!
//! ```text
//! +------------------------------+------------------+
//! | sealed record (n bytes)      | version tag (16) |
//! +------------------------------+------------------+
//! ```
//!
//! Every write draws a fresh tag of 128 random bits, so versions are
//! never a counter (no shared counter key, which would tie keys to one Redis Cluster slot), never
//! repeat across a delete and a new create of the same key, and never need a read before a write.
//! One string rather than a hash with two fields keeps every operation a single plain command:
//! `GET`, `GETEX`, `MGET` and `SET ... NX PX` read and write value and version together, and the
//! compare-and-set script reads just the tag with `GETRANGE key -16 -1`. The tag goes last so
//! that reading a record only shortens the buffer Redis sent, never moves it.

use std::io::Write as _;

use redis::{RedisWrite, ToRedisArgs};
use session_core::{Loaded, StoreError, Version};

/// The length of a version tag.
pub(crate) const TAG_LEN: usize = 16;

/// A record's version tag: 16 random bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag([u8; TAG_LEN]);

impl Tag {
    /// A fresh tag of 128 random bits, from `rand`'s thread-local generator (ChaCha12, seeded
    /// from the operating system and reseeded periodically): about 40 ns, where a system call
    /// for every write costs over 400 ns.
    pub(crate) fn random() -> Self {
        Self(rand::random())
    }

    /// The tag a version holds, for a compare-and-set.
    ///
    /// # Errors
    ///
    /// [`StoreError::Other`] for a version this store did not make.
    pub(crate) fn of(version: Version) -> Result<Self, StoreError> {
        version
            .as_bytes()
            .and_then(|bytes| bytes.try_into().ok())
            .map(Self)
            .ok_or_else(|| StoreError::other("a version that the Redis store did not make"))
    }

    /// The tag as the core's version.
    pub(crate) fn version(self) -> Version {
        Version::from_bytes(&self.0).unwrap_or_else(|| unreachable!("16 bytes fit a version"))
    }

    /// The tag's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A record on its way to Redis: written as one command argument, the sealed bytes then the tag,
/// straight into the command's buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) tag: Tag,
}

impl ToRedisArgs for Record<'_> {
    fn write_redis_args<W>(&self, out: &mut W)
    where
        W: ?Sized + RedisWrite,
    {
        let mut arg = out.writer_for_next_arg();
        // Writing into the command's buffer (a `Vec`) cannot fail.
        let _ = arg.write_all(self.bytes);
        let _ = arg.write_all(&self.tag.0);
    }
}

/// The record read back from a stored string, or an error for a string that is not a record
/// (shorter than a tag: not written by this store).
pub(crate) fn loaded(mut stored: Vec<u8>) -> Result<Loaded, StoreError> {
    let Some(split) = stored.len().checked_sub(TAG_LEN) else {
        return Err(StoreError::other(format!(
            "a {}-byte Redis value is not a session record",
            stored.len()
        )));
    };
    let tag = Version::from_bytes(&stored[split..])
        .unwrap_or_else(|| unreachable!("16 bytes fit a version"));
    stored.truncate(split);
    Ok(Loaded::new(stored, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_its_bytes_then_its_tag_in_one_argument() {
        let tag = Tag([7; TAG_LEN]);
        let args = Record {
            bytes: b"sealed",
            tag,
        }
        .to_redis_args();
        assert_eq!(args.len(), 1);
        let mut expected = b"sealed".to_vec();
        expected.extend_from_slice(&[7; TAG_LEN]);
        assert_eq!(args[0], expected);

        let back = loaded(args[0].clone()).expect("a record");
        assert_eq!(back.bytes, b"sealed");
        assert_eq!(back.version, tag.version());
        assert_eq!(Tag::of(back.version).expect("our version"), tag);
    }

    #[test]
    fn an_empty_record_is_just_a_tag() {
        let tag = Tag([1; TAG_LEN]);
        let back = loaded(Record { bytes: b"", tag }.to_redis_args().remove(0)).expect("record");
        assert!(back.bytes.is_empty());
        assert_eq!(back.version, tag.version());
    }

    #[test]
    fn a_short_value_is_not_a_record() {
        assert!(matches!(loaded(vec![0; 15]), Err(StoreError::Other(_))));
    }

    #[test]
    fn tags_are_random() {
        let (a, b) = (Tag::random(), Tag::random());
        assert_ne!(a, b);
        assert_ne!(a.version(), b.version());
    }

    #[test]
    fn foreign_versions_are_refused() {
        assert!(Tag::of(Version::from_u64(1)).is_err());
        assert!(Tag::of(Version::from_bytes(b"short").expect("fits")).is_err());
    }
}
