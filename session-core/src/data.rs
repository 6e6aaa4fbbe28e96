//! [`SessionData`]: the dict-like contents of a session.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_bytes::ByteBuf;

use crate::error::Error;

/// A session's values: string keys, typed values through serde.
///
/// Each value is kept as its own MessagePack encoding, so a value read back
/// has exactly the type it is asked as, and decoding never runs code (unlike
/// the pickle of the original Python project).
///
/// The data remembers which keys this request changed. When two requests save
/// one session at once, the later save re-applies only those keys on top of
/// what the other stored, so both requests' changes persist. That is also why
/// you only ever get one from a [`Session`](crate::Session) (through
/// [`Session::with_data`](crate::Session::with_data)) and cannot make or
/// swap in another: a replaced value would bypass the tracking. Writing the
/// value a key already holds is no change, so it does not override what a
/// concurrent request stored under that key.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionData {
    pub(crate) entries: BTreeMap<String, ByteBuf>,
    changed: BTreeSet<String>,
    cleared: bool,
}

impl SessionData {
    pub(crate) fn new() -> Self {
        Self::from_entries(BTreeMap::new())
    }

    pub(crate) fn from_entries(entries: BTreeMap<String, ByteBuf>) -> Self {
        Self {
            entries,
            changed: BTreeSet::new(),
            cleared: false,
        }
    }

    /// The value under `key` as a `T`; `None` when absent. A value that does
    /// not deserialize as `T` is an error, not `None`.
    ///
    /// # Errors
    ///
    /// [`Error::Value`] when the stored value is not a `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        self.entries
            .get(key)
            .map(|bytes| {
                rmp_serde::from_slice(bytes).map_err(|source| Error::Value {
                    key: key.to_owned(),
                    source: source.into(),
                })
            })
            .transpose()
    }

    /// Stores `value` under `key`, replacing any previous value. Storing the
    /// value a key already holds changes nothing and writes nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Value`] when `value` does not serialize.
    pub fn insert<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Error> {
        let bytes = rmp_serde::to_vec_named(value).map_err(|source| Error::Value {
            key: key.to_owned(),
            source: source.into(),
        })?;
        match self.entries.get_mut(key) {
            Some(old) if **old == bytes => return Ok(()),
            Some(old) => *old = ByteBuf::from(bytes),
            None => {
                self.entries.insert(key.to_owned(), ByteBuf::from(bytes));
            }
        }
        self.mark_changed(key);
        Ok(())
    }

    /// Removes `key`; answers whether it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        let existed = self.entries.remove(key).is_some();
        if existed {
            self.mark_changed(key);
        }
        existed
    }

    /// Whether `key` holds a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Removes every value.
    pub fn clear(&mut self) {
        if !self.entries.is_empty() {
            self.entries.clear();
            self.changed.clear();
            self.cleared = true;
        }
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys, in sorted order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Whether anything changed since the data was loaded or last saved.
    pub fn is_modified(&self) -> bool {
        self.cleared || !self.changed.is_empty()
    }

    fn mark_changed(&mut self, key: &str) {
        if !self.changed.contains(key) {
            self.changed.insert(key.to_owned());
        }
    }

    /// Forgets the changes once they are stored.
    pub(crate) fn mark_saved(&mut self) {
        self.changed.clear();
        self.cleared = false;
    }

    /// Replaces the data with `stored` plus this data's own changes: what a
    /// save does after another request changed the record first. The changes
    /// stay marked as changes.
    pub(crate) fn rebase_onto(&mut self, mut stored: SessionData) {
        self.changes().apply_to(&mut stored);
        self.entries = stored.entries;
    }

    /// This data's changes, to apply elsewhere.
    pub(crate) fn changes(&self) -> Changes {
        Changes {
            cleared: self.cleared,
            entries: self
                .changed
                .iter()
                .map(|key| (key.clone(), self.entries.get(key).cloned()))
                .collect(),
        }
    }
}

/// A request's changes to a session: keys set or removed, maybe after
/// clearing everything.
#[derive(Debug, Clone)]
pub(crate) struct Changes {
    cleared: bool,
    entries: Vec<(String, Option<ByteBuf>)>,
}

impl Changes {
    /// Applies the changes to `data` (marking them changed there too).
    pub(crate) fn apply_to(&self, data: &mut SessionData) {
        if self.cleared {
            data.entries.clear();
            data.cleared = true;
        }
        for (key, value) in &self.entries {
            match value {
                Some(value) => data.entries.insert(key.clone(), value.clone()),
                None => data.entries.remove(key),
            };
            data.mark_changed(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(pairs: &[(&str, u32)]) -> SessionData {
        let mut data = SessionData::new();
        for (key, value) in pairs {
            data.insert(key, value).expect("serializable");
        }
        data.mark_saved();
        data
    }

    #[test]
    fn typed_values_and_modification() {
        let mut data = SessionData::new();
        assert!(!data.is_modified());
        data.insert("name", "alice").expect("serializable");
        data.insert("visits", &3u32).expect("serializable");
        assert_eq!(
            data.get::<String>("name").expect("decodes").as_deref(),
            Some("alice")
        );
        assert_eq!(data.get::<u32>("visits").expect("decodes"), Some(3));
        assert!(data.get::<u32>("name").is_err(), "a string is not a number");
        assert_eq!(data.get::<u32>("missing").expect("absent is fine"), None);
        assert_eq!(data.keys().collect::<Vec<_>>(), ["name", "visits"]);
        assert!(data.is_modified());
    }

    #[test]
    fn rewriting_the_same_value_is_no_change() {
        let mut data = stored(&[("visits", 1)]);
        data.insert("visits", &1u32).expect("serializable");
        assert!(!data.is_modified());
        assert!(!data.remove("absent"));
        data.clear();
        let mut empty = SessionData::new();
        empty.clear();
        assert!(!empty.is_modified());
    }

    #[test]
    fn rebase_keeps_both_sides() {
        let mut mine = stored(&[("a", 1), ("b", 1), ("c", 1)]);
        mine.insert("a", &2u32).expect("serializable");
        mine.remove("b");
        let theirs = stored(&[("a", 1), ("b", 1), ("c", 9), ("d", 9)]);
        mine.rebase_onto(theirs);
        assert_eq!(
            mine.get::<u32>("a").expect("ok"),
            Some(2),
            "my change wins on my key"
        );
        assert!(!mine.contains_key("b"), "my removal holds");
        assert_eq!(
            mine.get::<u32>("c").expect("ok"),
            Some(9),
            "their change survives"
        );
        assert_eq!(
            mine.get::<u32>("d").expect("ok"),
            Some(9),
            "their new key survives"
        );
    }

    #[test]
    fn rebase_after_clear_keeps_only_my_new_keys() {
        let mut mine = stored(&[("a", 1)]);
        mine.clear();
        mine.insert("x", &5u32).expect("serializable");
        mine.rebase_onto(stored(&[("a", 1), ("b", 2)]));
        assert_eq!(mine.keys().collect::<Vec<_>>(), ["x"]);
    }
}
