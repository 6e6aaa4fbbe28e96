//! The compare-and-set script: the one operation Redis has no single command for.
//!
//! `save(key, value, ttl, Some(version))` must write only if the record still holds `version`,
//! and say whether it did, in one round trip. The script runs atomically on the server, reads the
//! stored tag (the last 16 bytes, see [`record`](crate::record)) and writes only on a match:
//!
//! ```lua
#![doc = include_str!("save.lua")]
//! ```
//!
//! It touches only `KEYS[1]`, so it runs on a single Redis Cluster node like any single-key
//! command.
//!
//! It is safe to run twice. The cluster client resends a command whose connection broke before
//! the answer came, so a compare-and-set that did write may run again; the record then holds the
//! new tag, which no one else can have drawn, and the second run answers "saved" rather than a
//! conflict over its own write (a conflict would make the core apply the request's changes a
//! second time). It is sent as `EVALSHA`; a server that does not know it yet (after a restart or a
//! `SCRIPT FLUSH`) answers `NOSCRIPT`, and the store then sends it once as `EVAL`, which also
//! caches it. Nothing ran on a `NOSCRIPT`, so the second attempt cannot write twice.

use std::sync::LazyLock;

use redis::{Cmd, Script};

use crate::record::{Record, Tag};

/// The script's source.
const SOURCE: &str = include_str!("save.lua");

/// The script, for its SHA-1 (computed once).
static SAVE: LazyLock<Script> = LazyLock::new(|| Script::new(SOURCE));

/// What the script answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// No record under the key.
    Gone,
    /// A record with another version.
    Conflict,
    /// Written.
    Saved,
}

impl Answer {
    /// The script's integer answer, or `None` for anything else.
    pub(crate) fn of(code: i64) -> Option<Self> {
        match code {
            0 => Some(Self::Gone),
            1 => Some(Self::Conflict),
            2 => Some(Self::Saved),
            _ => None,
        }
    }
}

/// `EVALSHA` (or, with `load`, `EVAL`) of the script for one compare-and-set.
pub(crate) fn compare_and_set(
    key: &str,
    expected: Tag,
    record: Record<'_>,
    px: u64,
    load: bool,
) -> Cmd {
    let mut cmd = Cmd::with_capacity(
        7,
        key.len() + record.bytes.len() + 2 * crate::record::TAG_LEN + 80,
    );
    if load {
        cmd.arg("EVAL").arg(SOURCE);
    } else {
        cmd.arg("EVALSHA").arg(SAVE.get_hash());
    }
    cmd.arg(1)
        .arg(key)
        .arg(expected.as_bytes())
        .arg(record)
        .arg(px);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cmd: &Cmd) -> Vec<Vec<u8>> {
        cmd.args_iter()
            .map(|arg| match arg {
                redis::Arg::Simple(bytes) => bytes.to_vec(),
                _ => unreachable!("no cursor"),
            })
            .collect()
    }

    #[test]
    fn evalsha_names_the_script_by_its_sha1_and_passes_one_key() {
        let record = Record {
            bytes: b"data",
            tag: Tag::random(),
        };
        let expected = Tag::random();
        let cmd = compare_and_set("session:k", expected, record, 1500, false);
        let args = args(&cmd);
        assert_eq!(args[0], b"EVALSHA");
        assert_eq!(args[1].len(), 40, "a hex SHA-1");
        assert_eq!(args[2], b"1", "one key");
        assert_eq!(args[3], b"session:k");
        assert_eq!(args[4], expected.as_bytes());
        assert_eq!(args[6], b"1500");

        let eval = compare_and_set("session:k", expected, record, 1500, true);
        assert_eq!(
            super::tests::args(&eval)[..2],
            [b"EVAL".to_vec(), SOURCE.into()]
        );
    }

    #[test]
    fn answers_are_the_scripts_integers() {
        assert_eq!(Answer::of(0), Some(Answer::Gone));
        assert_eq!(Answer::of(1), Some(Answer::Conflict));
        assert_eq!(Answer::of(2), Some(Answer::Saved));
        assert_eq!(Answer::of(3), None);
    }
}
