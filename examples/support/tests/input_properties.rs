//! Properties of what the example apps read from requests: arbitrary bodies
//! and paths never panic; form fields percent-encoded any way parse back to
//! themselves, a repeated name is refused; redirects after login are always
//! local ASCII paths; the login redirect's `next` reads back intact; path
//! segments decode to what was encoded.

use example_support::form::{Form, FormError, decode_path_segment};
use example_support::rules;
use proptest::prelude::*;
use session_core::login::login_redirect;

/// `%XX` for every byte, or only for those that must be escaped.
fn escape(text: &str, all: bool) -> String {
    text.bytes()
        .map(|b| {
            if !all && (b.is_ascii_alphanumeric() || b"-._~".contains(&b)) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

proptest! {
    #[test]
    fn arbitrary_bodies_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..200),
        content_type in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
    ) {
        let parsed = Form::parse(&body);
        match Form::from_body(content_type.as_deref(), &body) {
            Err(FormError::ContentType) => {}
            other => prop_assert_eq!(other, parsed),
        }
        let _ = rules::pref_value(&body);
    }

    #[test]
    fn encoded_fields_parse_back(
        fields in proptest::collection::btree_map(".{0,12}", ".{0,20}", 0..6),
        all in any::<bool>(),
    ) {
        let text: Vec<String> = fields
            .iter()
            .map(|(name, value)| format!("{}={}", escape(name, all), escape(value, all)))
            .collect();
        let form = Form::parse(text.join("&").as_bytes()).expect("a valid form");
        for (name, value) in &fields {
            prop_assert_eq!(form.get(name), Some(value.as_str()));
        }
    }

    #[test]
    fn a_repeated_name_is_refused(name in ".{0,12}", values in ("[a-z]{0,4}", "[a-z]{0,4}"), all in any::<bool>()) {
        // The second time written differently: it is the decoded names that repeat.
        let text = format!("{}={}&{}={}", escape(&name, all), values.0, escape(&name, !all), values.1);
        prop_assert_eq!(Form::parse(text.as_bytes()), Err(FormError::Duplicate(name)));
    }

    #[test]
    fn redirects_after_login_are_local_ascii_paths(next in ".{0,40}", slash in any::<bool>()) {
        let next = if slash { format!("/{next}") } else { next };
        if let Some(location) = rules::local_redirect(&next) {
            prop_assert!(rules::is_local_path(&location));
            prop_assert!(location.bytes().all(|b| (0x20..0x7f).contains(&b)));
            prop_assert!(!location.starts_with("//") && !location.contains('\\'));
        }
    }

    #[test]
    fn the_login_redirect_carries_next_intact(wanted in ".{0,60}", query in any::<bool>()) {
        let login = if query { "/login?lang=en" } else { "/login" };
        let location = login_redirect(login, &wanted);
        prop_assert!(location.is_ascii());
        let (_, query) = location.split_once('?').expect("a query");
        let form = Form::parse(query.as_bytes()).expect("a valid query");
        prop_assert_eq!(form.get("next"), Some(wanted.as_str()));
    }

    #[test]
    fn path_segments_decode_to_what_was_encoded(segment in ".{0,30}", all in any::<bool>()) {
        prop_assert_eq!(decode_path_segment(&escape(&segment, all)), Some(segment));
    }

    #[test]
    fn arbitrary_segments_never_panic(segment in ".{0,30}") {
        if let Some(name) = decode_path_segment(&segment)
            && rules::is_valid_pref_name(&name)
        {
            prop_assert!(name.len() <= rules::MAX_PREF_NAME_CHARS);
        }
    }
}
