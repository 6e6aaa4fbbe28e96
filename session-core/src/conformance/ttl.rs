//! The TTL rules, checked on a schedule taken from each record's own calls.
//!
//! A record written with TTL `t` by a call sent at `s` and answered at `a`
//! must be readable by any load answered before `s + t` (the store started
//! counting after the call was sent: never early), and absent for any load
//! sent after `a + t + lateness` (the bound the store states). Each
//! assertion is scheduled from those times, and the TTL under test grows with
//! the store's measured round trip, so a store far away is checked as
//! strictly as a local one, only more slowly.

use std::time::Duration;

use tokio::time::{Instant, sleep_until};

use super::{Options, TTL};
use crate::store::{SaveOutcome, Store, Version};

/// A record whose TTL was set by one call: when that call was sent and
/// answered.
struct Timed {
    key: String,
    what: &'static str,
    sent: Instant,
    answered: Instant,
    version: Version,
}

/// Runs `call`, timing it.
async fn timed<T>(call: impl Future<Output = T>) -> (T, Instant, Instant) {
    let sent = Instant::now();
    let output = call.await;
    (output, sent, Instant::now())
}

/// The slowest of a few calls: the store's round trip, for scheduling.
async fn round_trip(store: &dyn Store, options: &Options) -> Duration {
    let key = options.key("ttl-probe");
    let mut slowest = Duration::ZERO;
    for _ in 0..3 {
        let (loaded, sent, answered) = timed(store.load(&key)).await;
        loaded.expect("load");
        slowest = slowest.max(answered - sent);
    }
    slowest
}

pub(super) async fn ttl_rules(store: &dyn Store, options: &Options) {
    let round_trip = round_trip(store, options).await;
    // A load is sent this long before a deadline so that it is answered
    // before it; a tenth of the TTL must exceed it, so a store whose records
    // expire 10% early is caught.
    let margin = round_trip * 2 + Duration::from_millis(100);
    let whole_seconds = (margin.as_secs_f64() * 10.0).ceil().max(1.0);
    // Fractional on purpose: a store rounding down to whole seconds expires
    // it early.
    let ttl = Duration::from_secs_f64(whole_seconds) + Duration::from_millis(500);

    let mut short = Vec::new();
    let key = options.key("ttl-create");
    let (version, sent, answered) = timed(store.create(&key, b"x", ttl)).await;
    let version = version.expect("create").expect("free key");
    short.push(Timed {
        key,
        what: "a created record",
        sent,
        answered,
        version,
    });

    let key = options.key("ttl-save");
    let (saved, sent, answered) = timed(store.save(&key, b"x", ttl, None)).await;
    let SaveOutcome::Saved(version) = saved.expect("save") else {
        panic!("save of an absent key without a version must write");
    };
    short.push(Timed {
        key,
        what: "a saved record",
        sent,
        answered,
        version,
    });

    for (what, refresh) in [
        ("a touched record", false),
        ("a record read by load_and_touch", true),
    ] {
        let key = options.key("ttl-refresh");
        let version = store
            .create(&key, b"x", TTL)
            .await
            .expect("create")
            .expect("free key");
        let (found, sent, answered) = if refresh {
            let (loaded, sent, answered) = timed(store.load_and_touch(&key, ttl)).await;
            (loaded.expect("load_and_touch").is_some(), sent, answered)
        } else {
            let (touched, sent, answered) = timed(store.touch(&key, ttl)).await;
            (touched.expect("touch"), sent, answered)
        };
        assert!(found, "{what}: the call missed a live record");
        short.push(Timed {
            key,
            what,
            sent,
            answered,
            version,
        });
    }

    // Records that must outlive the check: a long TTL written, and a short
    // one extended by a touch.
    let long_saved = options.key("ttl-long-save");
    store
        .save(&long_saved, b"x", TTL, None)
        .await
        .expect("save");
    let extended = options.key("ttl-extended");
    store
        .create(&extended, b"x", ttl)
        .await
        .expect("create")
        .expect("free key");
    assert!(store.touch(&extended, TTL).await.expect("touch"));

    // Never early: readable until the TTL is over, counted from when the
    // call that set it was sent.
    let mut checked = 0;
    for record in &short {
        sleep_until(record.sent + ttl - margin).await;
        let (loaded, _, answered) = timed(store.load(&record.key)).await;
        let loaded = loaded.expect("load");
        if answered < record.sent + ttl {
            checked += 1;
            assert!(
                loaded.is_some(),
                "{} with a TTL of {ttl:?} expired early: gone {:?} after it was written",
                record.what,
                answered - record.sent
            );
        }
    }
    assert!(
        checked > 0,
        "every load took too long to check that records do not expire early"
    );

    // Not late by more than the stated bound.
    for record in &short {
        sleep_until(record.answered + ttl + options.max_ttl_lateness + Duration::from_millis(50))
            .await;
        assert!(
            store.load(&record.key).await.expect("load").is_none(),
            "{} with a TTL of {ttl:?} outlived it by more than the stated {:?}",
            record.what,
            options.max_ttl_lateness
        );
    }
    assert!(
        store.load(&long_saved).await.expect("load").is_some(),
        "a record saved with a TTL of {TTL:?} expired within seconds"
    );
    assert!(
        store.load(&extended).await.expect("load").is_some(),
        "touch did not extend a record's TTL"
    );

    // An expired record is absent for every operation.
    let expired = &short[0];
    let many = store
        .load_many(&[expired.key.as_str(), long_saved.as_str()])
        .await
        .expect("load_many");
    assert!(
        many[0].is_none() && many[1].is_some(),
        "load_many answered an expired record, or missed a live one"
    );
    assert!(
        !store.touch(&expired.key, TTL).await.expect("touch"),
        "touch revived an expired record"
    );
    assert!(
        store
            .load_and_touch(&expired.key, TTL)
            .await
            .expect("load_and_touch")
            .is_none(),
        "load_and_touch found an expired record"
    );
    if store.supports_compare_and_set() {
        let revived = store
            .save(&expired.key, b"y", TTL, Some(expired.version))
            .await
            .expect("save");
        assert_eq!(
            revived,
            SaveOutcome::Gone,
            "compare-and-set on an expired record must answer Gone"
        );
    }
    assert!(
        store
            .create(&expired.key, b"z", TTL)
            .await
            .expect("create")
            .is_some(),
        "an expired key must be free"
    );
}
