//! The compare-and-set script on its own, driven with hand-made tags.

use test_redis::{Reply, redis_or_skip};

const SCRIPT: &str = include_str!("../src/save.lua");

const OLD: &str = "old-tag-16-bytes";
const NEW: &str = "new-tag-16-bytes";
const OTHER: &str = "other-tag-16byte";

#[test]
fn saves_on_a_match_conflicts_otherwise_and_is_safe_to_run_twice() {
    let server = redis_or_skip!();
    let mut redis = server.connect();
    let run = |redis: &mut test_redis::Connection, expected: &str, record: &str| {
        redis
            .command(&["EVAL", SCRIPT, "1", "k", expected, record, "60000"])
            .expect("EVAL")
    };
    assert_eq!(
        run(&mut redis, OLD, "v1new-tag-16-bytes"),
        Reply::Integer(0),
        "no record: gone"
    );
    assert_eq!(
        redis.command(&["EXISTS", "k"]).expect("EXISTS"),
        Reply::Integer(0),
        "a gone save writes nothing"
    );

    redis
        .command(&["SET", "k", &format!("v0{OLD}")])
        .expect("SET");
    let record = format!("v1{NEW}");
    assert_eq!(
        run(&mut redis, OLD, &record),
        Reply::Integer(2),
        "the loaded tag: saved"
    );
    assert_eq!(
        redis.command(&["GET", "k"]).expect("GET"),
        Reply::Bulk(Some(record.clone().into_bytes()))
    );
    let ttl = redis.command(&["PTTL", "k"]).expect("PTTL").integer();
    assert!(
        ttl.is_some_and(|ttl| ttl > 59_000 && ttl <= 60_000),
        "{ttl:?}"
    );

    assert_eq!(
        run(&mut redis, OLD, &record),
        Reply::Integer(2),
        "the same write again: saved"
    );
    assert_eq!(
        run(&mut redis, OLD, &format!("v2{OTHER}")),
        Reply::Integer(1),
        "a stale tag: conflict"
    );
    assert_eq!(
        redis.command(&["GET", "k"]).expect("GET"),
        Reply::Bulk(Some(record.into_bytes())),
        "a conflict writes nothing"
    );
}
