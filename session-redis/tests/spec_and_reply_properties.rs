//! Properties of what the Redis store parses itself: specs (arbitrary text
//! never panics; an accepted spec written back from what it configures
//! configures the same; credentials with any characters, percent-encoded,
//! come back exactly), and stored strings (split into record and 16-byte tag
//! without panic; joined and split back intact; the script's answers).

use proptest::prelude::*;
use session_redis::fuzz_entry::{SpecParts, check_spec, join_record, script_answer, split_record};

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,80}", cluster in any::<bool>()) {
        let scheme = if cluster { "redis+cluster://" } else { "redis://" };
        for spec in [text.clone(), format!("{scheme}{text}")] {
            if let Ok(parts) = check_spec(&spec) {
                prop_assert!(parts.cluster || parts.servers.len() == 1);
                prop_assert_eq!(check_spec(&parts.to_spec()), Ok(parts));
            }
        }
    }

    #[test]
    fn credentials_come_back_exactly(
        username in proptest::option::of(".{1,20}"),
        password in ".{0,30}",
        database in any::<u32>(),
    ) {
        let parts = SpecParts {
            cluster: false,
            servers: vec!["cache:6379".to_owned()],
            username,
            password: Some(password),
            database,
        };
        prop_assert_eq!(check_spec(&parts.to_spec()), Ok(parts));
    }

    #[test]
    fn cluster_nodes_come_back_in_order(ports in proptest::collection::btree_set(1..=u16::MAX, 1..6)) {
        let servers: Vec<String> = ports.iter().map(|port| format!("10.0.0.1:{port}")).collect();
        let spec = format!("redis+cluster://{}", servers.join(","));
        let parts = check_spec(&spec).expect("valid");
        prop_assert!(parts.cluster);
        prop_assert_eq!(parts.servers, servers);
    }

    #[test]
    fn stored_strings_split_without_panic(stored in proptest::collection::vec(any::<u8>(), 0..64)) {
        match split_record(stored.clone()) {
            Some((bytes, tag)) => {
                prop_assert_eq!(tag.len(), 16);
                prop_assert_eq!([bytes, tag].concat(), stored);
            }
            None => prop_assert!(stored.len() < 16),
        }
    }

    #[test]
    fn records_join_and_split_back(bytes in proptest::collection::vec(any::<u8>(), 0..200), tag in any::<[u8; 16]>()) {
        prop_assert_eq!(split_record(join_record(&bytes, tag)), Some((bytes, tag.to_vec())));
    }

    #[test]
    fn only_the_scripts_three_answers_are_understood(code in any::<i64>()) {
        prop_assert_eq!(script_answer(code).is_some(), (0..=2).contains(&code));
    }
}
