//! What the example apps read from requests: form bodies and queries, the
//! `next` of a login, preference names and values from the path and the
//! body, user names, and revoke ids (form fields). Arbitrary bytes never
//! panic; forms round-trip through their encoding; a redirect target is
//! always a local, ASCII path; the login redirect carries `next` intact.

#![no_main]

use example_support::form::{Form, FormError, decode_path_segment};
use example_support::rules;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use session_core::login::login_redirect;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    body: &'a [u8],
    content_type: Option<&'a [u8]>,
    text: &'a str,
    fields: Vec<(String, String)>,
}

/// `%XX` for every byte but letters and digits.
fn escape(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fuzz_target!(|input: Input<'_>| {
    // Bodies and queries.
    let parsed = Form::parse(input.body);
    if let Ok(form) = &parsed {
        let _ = form.get("next").map(rules::local_redirect);
        let _ = form.get("id");
        let _ = form.get("name").map(rules::is_valid_user_name);
    }
    match Form::from_body(input.content_type, input.body) {
        Err(FormError::ContentType) => {}
        result => assert_eq!(result, parsed),
    }

    // Fields encoded and parsed back: each value read back, or a duplicate.
    let encoded: Vec<String> = input
        .fields
        .iter()
        .map(|(name, value)| format!("{}={}", escape(name), escape(value)))
        .collect();
    match Form::parse(encoded.join("&").as_bytes()) {
        Ok(form) => {
            for (name, value) in &input.fields {
                if !name.is_empty() || !value.is_empty() {
                    assert_eq!(form.get(name), Some(value.as_str()));
                }
            }
        }
        Err(FormError::Duplicate(name)) => {
            assert!(input.fields.iter().filter(|(n, _)| *n == name).count() > 1);
        }
        Err(error) => panic!("an encoded form is refused: {error}"),
    }

    // `next`: only local paths, always ASCII without spaces' worse cousins.
    if let Some(location) = rules::local_redirect(input.text) {
        assert!(rules::is_local_path(&location));
        assert!(location.bytes().all(|b| (0x20..0x7f).contains(&b)));
        assert!(input.text.is_ascii() || location != input.text);
    }
    let location = login_redirect("/login", input.text);
    let query = location
        .strip_prefix("/login?")
        .expect("the login URL first");
    let query = Form::parse(query.as_bytes()).expect("a valid query");
    assert_eq!(query.get("next"), Some(input.text));

    // Preferences and user names.
    if let Some(name) = decode_path_segment(input.text)
        && rules::is_valid_pref_name(&name)
    {
        assert!(name.len() <= rules::MAX_PREF_NAME_CHARS);
    }
    if let Some(value) = rules::pref_value(input.body) {
        assert!(value.len() <= rules::MAX_PREF_VALUE_BYTES);
    }
    if rules::is_valid_user_name(input.text) {
        assert!(!input.text.chars().any(char::is_control));
    }
});
