//! The contract's rules on input, and the session operations built on them,
//! so every app validates and stores exactly alike.

use serde_json::{Map, Value};
use session_core::SessionData;

/// Session key of the visit counter.
pub const VISITS_KEY: &str = "visits";
/// Prefix of a preference's session key: `pref:NAME`.
pub const PREF_PREFIX: &str = "pref:";
/// The most preferences one session holds.
pub const MAX_PREFS: usize = 64;
/// The longest preference value, in bytes.
pub const MAX_PREF_VALUE_BYTES: usize = 256;
/// The longest preference name, in characters.
pub const MAX_PREF_NAME_CHARS: usize = 32;
/// The longest user name, in characters.
pub const MAX_USER_NAME_CHARS: usize = 64;

pub use session_core::login::{is_local_path, local_redirect};

/// Whether `name` is a user name: 1 to 64 characters, not only whitespace, and
/// no control or format character (Unicode categories Cc and Cf: NUL, newline,
/// U+202E, U+200B, ...), which could forge log lines or reorder text on a page.
pub fn is_valid_user_name(name: &str) -> bool {
    (1..=MAX_USER_NAME_CHARS).contains(&name.chars().count())
        && !name.chars().all(char::is_whitespace)
        && !name.chars().any(|c| c.is_control() || is_format_char(c))
}

/// Whether `c` is in Unicode's category Cf (format characters), which the
/// standard library does not expose: the complete list as of Unicode 15.1.
fn is_format_char(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// Whether `name` is a preference name: 1 to 32 of `a-z`, `0-9`, `_`, `-`.
pub fn is_valid_pref_name(name: &str) -> bool {
    (1..=MAX_PREF_NAME_CHARS).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A preference value from a request body: at most 256 bytes of UTF-8.
pub fn pref_value(body: &[u8]) -> Option<&str> {
    if body.len() > MAX_PREF_VALUE_BYTES {
        return None;
    }
    std::str::from_utf8(body).ok()
}

/// Why a preference was not stored.
#[derive(Debug, thiserror::Error)]
pub enum PrefError {
    /// The session already holds [`MAX_PREFS`] other preferences.
    #[error("a session holds at most {MAX_PREFS} preferences")]
    TooMany,
    /// The session layer failed.
    #[error(transparent)]
    Session(#[from] session_core::Error),
}

/// Stores the (already validated) preference `name`, replacing its old value;
/// a new name beyond [`MAX_PREFS`] is refused.
pub fn set_pref(data: &mut SessionData, name: &str, value: &str) -> Result<(), PrefError> {
    let key = format!("{PREF_PREFIX}{name}");
    if !data.contains_key(&key) && pref_keys(data).count() >= MAX_PREFS {
        return Err(PrefError::TooMany);
    }
    data.insert(&key, value)?;
    Ok(())
}

/// Every preference, as the JSON object `GET /prefs` answers.
pub fn prefs(data: &SessionData) -> Result<Map<String, Value>, session_core::Error> {
    let mut prefs = Map::new();
    for key in pref_keys(data) {
        if let Some(value) = data.get::<String>(key)? {
            let name = key.strip_prefix(PREF_PREFIX).unwrap_or(key);
            prefs.insert(name.to_owned(), Value::String(value));
        }
    }
    Ok(prefs)
}

fn pref_keys(data: &SessionData) -> impl Iterator<Item = &str> {
    data.keys().filter(|key| key.starts_with(PREF_PREFIX))
}

/// Adds one to the visit counter and answers the new count.
pub fn count_visit(data: &mut SessionData) -> Result<u64, session_core::Error> {
    let visits = data.get::<u64>(VISITS_KEY)?.unwrap_or(0).saturating_add(1);
    data.insert(VISITS_KEY, &visits)?;
    Ok(visits)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `check` on the data of a fresh session on the in-memory store.
    async fn with_fresh_data(check: impl FnOnce(&mut SessionData)) {
        let store = std::sync::Arc::new(session_core::MemoryStore::new());
        let manager =
            session_core::SessionManager::builder(store, session_core::KeyRing::generate())
                .build()
                .expect("valid configuration");
        manager
            .start([])
            .with_data(check)
            .await
            .expect("a new session loads");
    }

    #[tokio::test]
    async fn at_most_64_prefs_but_replacing_is_fine() {
        with_fresh_data(|data| {
            for i in 0..MAX_PREFS {
                set_pref(data, &format!("p{i}"), "v").expect("within the limit");
            }
            assert!(matches!(
                set_pref(data, "one-more", "v"),
                Err(PrefError::TooMany)
            ));
            set_pref(data, "p0", "new").expect("replacing an existing one");
            let prefs = prefs(data).expect("readable");
            assert_eq!(prefs.len(), MAX_PREFS);
            assert_eq!(prefs.get("p0"), Some(&Value::String("new".to_owned())));
        })
        .await;
    }

    #[test]
    fn user_names_hold_no_control_or_format_characters() {
        for good in ["alice", "Zoë", "a b", &"x".repeat(64), "日本"] {
            assert!(is_valid_user_name(good), "{good:?}");
        }
        for bad in [
            "",
            " ",
            "\t\u{3000}",
            "a\0b",
            "a\nb",
            "a\u{202e}b",
            "a\u{200b}b",
            "\u{feff}a",
            "a\u{e0041}",
            &"x".repeat(65),
        ] {
            assert!(!is_valid_user_name(bad), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn visits_count_up() {
        with_fresh_data(|data| {
            assert_eq!(count_visit(data).expect("count"), 1);
            assert_eq!(count_visit(data).expect("count"), 2);
        })
        .await;
    }
}
