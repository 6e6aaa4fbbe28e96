//! Checks of single records: absent keys, create, save, values, versions,
//! delete, `load_many`.

use super::{Options, TTL, bytes_of, version_of};
use crate::store::{SaveOutcome, Store};

pub(super) async fn absent_keys(store: &dyn Store, options: &Options) {
    let key = options.key("absent");
    assert!(
        store.load(&key).await.expect("load").is_none(),
        "load of an absent key found a record"
    );
    assert!(
        store
            .load_and_touch(&key, TTL)
            .await
            .expect("load_and_touch")
            .is_none(),
        "load_and_touch of an absent key found a record"
    );
    assert!(
        !store.touch(&key, TTL).await.expect("touch"),
        "touch of an absent key answered true"
    );
    assert!(
        !store.delete(&key).await.expect("delete"),
        "delete of an absent key answered true"
    );
    assert!(
        store.load(&key).await.expect("load").is_none(),
        "touch or delete created a record"
    );
}

pub(super) async fn create_claims_only_free_keys(store: &dyn Store, options: &Options) {
    let key = options.key("create");
    let version = store
        .create(&key, b"first", TTL)
        .await
        .expect("create")
        .expect("create on a free key must claim it");
    let loaded = store
        .load(&key)
        .await
        .expect("load")
        .expect("created record missing");
    assert_eq!(loaded.bytes, b"first");
    assert_eq!(
        loaded.version, version,
        "load must give the version create answered"
    );

    let again = store.create(&key, b"second", TTL).await.expect("create");
    assert!(again.is_none(), "create on a taken key must answer None");
    let after = store.load(&key).await.expect("load").expect("record");
    assert_eq!(after.bytes, b"first", "a create on a taken key wrote");
    assert_eq!(
        after.version, version,
        "a create on a taken key changed the version"
    );
}

pub(super) async fn unconditional_save(store: &dyn Store, options: &Options) {
    let key = options.key("save");
    let SaveOutcome::Saved(first) = store.save(&key, b"one", TTL, None).await.expect("save") else {
        panic!("save without an expected version must write an absent key");
    };
    let SaveOutcome::Saved(second) = store.save(&key, b"two", TTL, None).await.expect("save")
    else {
        panic!("save without an expected version must overwrite");
    };
    assert_ne!(first, second, "every write must give a new version");
    let loaded = store
        .load(&key)
        .await
        .expect("load")
        .expect("saved record missing");
    assert_eq!(loaded.bytes, b"two");
    assert_eq!(loaded.version, second);
}

pub(super) async fn empty_values(store: &dyn Store, options: &Options) {
    let [created, saved] = ["empty-create", "empty-save"].map(|check| options.key(check));
    store
        .create(&created, b"", TTL)
        .await
        .expect("create")
        .expect("free key");
    store.save(&saved, b"", TTL, None).await.expect("save");
    for key in [&created, &saved] {
        assert_eq!(
            bytes_of(store, key).await.as_deref(),
            Some(&b""[..]),
            "an empty value must read back as empty, not as absent"
        );
        let touched = store
            .load_and_touch(key, TTL)
            .await
            .expect("load_and_touch");
        assert_eq!(
            touched.map(|loaded| loaded.bytes).as_deref(),
            Some(&b""[..]),
            "load_and_touch must read an empty value back as empty"
        );
    }
    let many = store
        .load_many(&[created.as_str(), saved.as_str()])
        .await
        .expect("load_many");
    assert!(
        many.iter().all(|loaded| loaded
            .as_ref()
            .is_some_and(|loaded| loaded.bytes.is_empty())),
        "load_many must read empty values back as empty"
    );
    assert!(
        store
            .create(&created, b"x", TTL)
            .await
            .expect("create")
            .is_none(),
        "a key holding an empty value is taken"
    );
}

pub(super) async fn binary_and_large_values(store: &dyn Store, options: &Options) {
    let key = options.key("binary");
    let binary: Vec<u8> = (0..=255u8)
        .chain(b"\r\nEND\r\n\0".iter().copied())
        .collect();
    store
        .save(&key, &binary, TTL, None)
        .await
        .expect("save binary");
    assert_eq!(
        bytes_of(store, &key).await,
        Some(binary),
        "binary value changed in the store"
    );

    let key = options.key("large");
    let large: Vec<u8> = (0..512 * 1024)
        .map(|i: usize| (i * 31 % 251) as u8)
        .collect();
    store
        .save(&key, &large, TTL, None)
        .await
        .expect("save a 512 KiB value");
    assert_eq!(
        bytes_of(store, &key).await,
        Some(large),
        "large value changed in the store"
    );
}

pub(super) async fn touch_keeps_version(store: &dyn Store, options: &Options) {
    let key = options.key("touch");
    let version = store
        .create(&key, b"data", TTL)
        .await
        .expect("create")
        .expect("free key");
    assert!(
        store.touch(&key, TTL).await.expect("touch"),
        "touch of a live record answered false"
    );
    assert_eq!(
        version_of(store, &key).await,
        Some(version),
        "touch changed the version"
    );
    let loaded = store
        .load_and_touch(&key, TTL)
        .await
        .expect("load_and_touch")
        .expect("load_and_touch lost a live record");
    assert_eq!(loaded.bytes, b"data");
    assert_eq!(
        loaded.version, version,
        "load_and_touch changed the version"
    );
    assert_eq!(
        version_of(store, &key).await,
        Some(version),
        "load_and_touch changed the stored version"
    );
}

pub(super) async fn delete_removes(store: &dyn Store, options: &Options) {
    let key = options.key("delete");
    store
        .create(&key, b"data", TTL)
        .await
        .expect("create")
        .expect("free key");
    assert!(
        store.delete(&key).await.expect("delete"),
        "delete of a live record answered false"
    );
    assert!(
        store.load(&key).await.expect("load").is_none(),
        "deleted record still loads"
    );
    assert!(
        !store.delete(&key).await.expect("delete"),
        "second delete answered true"
    );
    assert!(
        store
            .create(&key, b"new", TTL)
            .await
            .expect("create")
            .is_some(),
        "a deleted key must be free to claim again"
    );
}

pub(super) async fn load_many_answers_in_order(store: &dyn Store, options: &Options) {
    assert!(
        store.load_many(&[]).await.expect("load_many").is_empty(),
        "load_many of no keys answered something"
    );
    let present: Vec<String> = (0..12).map(|_| options.key("many")).collect();
    for (index, key) in present.iter().enumerate() {
        let value = format!("value {index}");
        store
            .create(key, value.as_bytes(), TTL)
            .await
            .expect("create")
            .expect("a fresh key is free");
    }
    let absent = options.key("many-absent");
    // Present and absent keys interleaved, one of them twice.
    let mut keys: Vec<&str> = Vec::new();
    for key in &present {
        keys.push(key);
        keys.push(&absent);
    }
    keys.push(&present[0]);
    let answers = store.load_many(&keys).await.expect("load_many");
    assert_eq!(answers.len(), keys.len(), "load_many must answer every key");
    for (key, answer) in keys.iter().zip(answers) {
        let single = store.load(key).await.expect("load");
        assert_eq!(
            answer
                .as_ref()
                .map(|loaded| (&loaded.bytes, loaded.version)),
            single
                .as_ref()
                .map(|loaded| (&loaded.bytes, loaded.version)),
            "load_many answered {key} differently from load (or out of order)"
        );
    }
}

/// Versions are new on every write and never come back for a key: not after
/// overwrites, and not after the key was deleted and created again (a save
/// holding a version of the old record must not write the new one).
pub(super) async fn versions_never_repeat(store: &dyn Store, options: &Options) {
    let key = options.key("versions");
    let mut seen = Vec::new();
    let first = store
        .create(&key, b"0", TTL)
        .await
        .expect("create")
        .expect("free key");
    seen.push(first);
    for round in 1..4u8 {
        let SaveOutcome::Saved(version) =
            store.save(&key, &[round], TTL, None).await.expect("save")
        else {
            panic!("an unconditional save of a live key must write");
        };
        seen.push(version);
    }
    for cycle in 0..3u8 {
        assert!(store.delete(&key).await.expect("delete"));
        let reborn = store
            .create(&key, &[100 + cycle], TTL)
            .await
            .expect("create")
            .expect("a deleted key is free");
        assert!(
            !seen.contains(&reborn),
            "a record created again after a delete got the version {reborn:?} of an earlier \
             record of the same key: a save holding that old version would overwrite it"
        );
        seen.push(reborn);
        if store.supports_compare_and_set() {
            for old in &seen[..seen.len() - 1] {
                assert_eq!(
                    store
                        .save(&key, b"stale", TTL, Some(*old))
                        .await
                        .expect("save"),
                    SaveOutcome::Conflict,
                    "a version from before the delete matched the record created after it"
                );
            }
        }
    }
}
