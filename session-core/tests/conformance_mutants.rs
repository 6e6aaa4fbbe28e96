//! The conformance suite, tested: it fails every deliberately broken store
//! (each [`Mutant`] breaks one promise of the `Store` docs), passes the same
//! store without the bug, and passes a correct store 100 ms away.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use session_core::conformance::{self, Check, Options};
use session_core::test_stores::{CountingStore, Mutant, MutantStore};

fn options() -> Options {
    Options::new().max_ttl_lateness(Duration::from_millis(100))
}

/// The check that must catch `mutant`, and words its failure must contain.
fn caught_by(mutant: Mutant) -> (Check, &'static str) {
    match mutant {
        Mutant::VersionsRestartAfterDelete => (Check::VersionsNeverRepeat, "version"),
        Mutant::RefreshTtlThousandTimesTooLong => (Check::TtlRules, "outlived"),
        Mutant::SaveIgnoresItsTtl => (Check::TtlRules, "saved record"),
        Mutant::ExpiresTenPercentEarly => (Check::TtlRules, "expired early"),
        Mutant::RoundsTtlDownToWholeSeconds => (Check::TtlRules, "expired early"),
        Mutant::CreateChecksThenWrites => (Check::RacingCreates, "exactly one"),
        Mutant::EmptyValueReadsAsAbsent => (Check::EmptyValues, "empty"),
        Mutant::TouchChangesVersion => (Check::TouchKeepsVersion, "version"),
        Mutant::LoadManyOutOfOrder => (Check::LoadManyAnswersInOrder, "order"),
        Mutant::CompareAndSetIgnoresVersion => (Check::CompareAndSet, "stale version"),
        Mutant::GoneAnswersConflict => (Check::CompareAndSet, "Gone"),
        Mutant::DeleteAlwaysAnswersTrue => (Check::AbsentKeys, "delete"),
        Mutant::CreateOverwrites => (Check::CreateClaimsOnlyFreeKeys, "taken key"),
        Mutant::LoadAndTouchDoesNotTouch => (Check::TtlRules, "load_and_touch"),
        Mutant::TruncatesLargeValues => (Check::BinaryAndLargeValues, "large value"),
        Mutant::TouchWritesBack => (Check::DeleteBeatsConcurrentTouches, "brought a deleted"),
        Mutant::LoadManyIgnoresExpiry => (Check::TtlRules, "load_many answered an expired"),
        other => panic!("no check is named for {other:?}: add it here"),
    }
}

fn message(panic: Box<dyn Any + Send>) -> String {
    match panic.downcast::<String>() {
        Ok(message) => *message,
        Err(panic) => panic
            .downcast::<&str>()
            .map(|message| (*message).to_owned())
            .unwrap_or_default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_fails_every_mutant() {
    let runs: Vec<_> = Mutant::ALL
        .into_iter()
        .map(|mutant| {
            tokio::spawn(async move {
                conformance::run_with(&options(), || async move { MutantStore::new(mutant) }).await;
            })
        })
        .collect();
    let mut passed = Vec::new();
    for (mutant, run) in Mutant::ALL.into_iter().zip(runs) {
        match run.await {
            Ok(()) => passed.push(mutant),
            Err(error) => {
                let message = message(error.into_panic());
                eprintln!("{mutant:?}: {message}");
            }
        }
    }
    assert!(passed.is_empty(), "the suite passed stores with {passed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mutant_is_caught_by_the_check_about_its_bug() {
    let runs: Vec<_> = Mutant::ALL
        .into_iter()
        .map(|mutant| {
            let (check, _) = caught_by(mutant);
            tokio::spawn(async move {
                check
                    .run(Arc::new(MutantStore::new(mutant)), &options())
                    .await;
            })
        })
        .collect();
    for (mutant, run) in Mutant::ALL.into_iter().zip(runs) {
        let (check, words) = caught_by(mutant);
        let error = run
            .await
            .expect_err(&format!("{check:?} passed a store with {mutant:?}"));
        let message = message(error.into_panic());
        assert!(
            message.contains(words),
            "{check:?} failed {mutant:?} for another reason: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_passes_the_store_without_a_bug() {
    conformance::run_with(&options(), || async { MutantStore::correct() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_passes_a_correct_store_far_away() {
    conformance::run_with(&options(), || async {
        let store = CountingStore::new();
        store.set_call_delay(Duration::from_millis(100));
        store
    })
    .await;
}

/// Two clients of one store whose compare-and-set writes whatever the
/// version: the several-processes check catches the lost counts, and passes
/// the same store without the bug.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_across_clients_catch_a_compare_and_set_that_ignores_versions() {
    let clients = |store: MutantStore| {
        let store: Arc<dyn session_core::Store> = Arc::new(store);
        vec![Arc::clone(&store), store]
    };
    conformance::transactions_are_exact(clients(MutantStore::correct())).await;
    let broken = tokio::spawn(conformance::transactions_are_exact(clients(
        MutantStore::new(Mutant::CompareAndSetIgnoresVersion),
    )))
    .await;
    let panic = broken.expect_err("the check passed a store that loses updates");
    let message = message(panic.into_panic());
    assert!(
        message.contains("lost or repeated"),
        "unexpected failure: {message}"
    );
}
