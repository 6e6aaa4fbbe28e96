//! What the Redis store parses itself from the server's answers: a stored
//! string split into record and 16-byte version tag (anything shorter is
//! refused, never a panic), joined and split back intact, and the
//! compare-and-set script's integer answer.

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use session_redis::fuzz_entry::{join_record, script_answer, split_record};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    stored: &'a [u8],
    tag: [u8; 16],
    code: i64,
}

fuzz_target!(|input: Input<'_>| {
    match split_record(input.stored.to_vec()) {
        Some((bytes, tag)) => {
            assert_eq!(tag.len(), 16);
            assert_eq!([bytes.as_slice(), tag.as_slice()].concat(), input.stored);
        }
        None => assert!(input.stored.len() < 16),
    }
    let joined = join_record(input.stored, input.tag);
    assert_eq!(
        split_record(joined),
        Some((input.stored.to_vec(), input.tag.to_vec()))
    );
    let answer = script_answer(input.code);
    assert_eq!(answer.is_some(), (0..=2).contains(&input.code));
});
