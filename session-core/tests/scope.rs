//! The request scope ([`SessionManager::scope`], [`current_session`]): the
//! session is reachable from the call and from every poll of its future,
//! from nowhere else, and only with the request's own session cookie; a
//! request that never asks costs no store call; interleaved and nested scopes
//! each reach their own session, and panics leave none behind.

use std::future::Future as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use session_core::test_stores::CountingStore;
use session_core::{Ending, KeyRing, RequestEnd, Session, SessionManager, current_session};

/// Ends requests as if their handlers answered `STATUS`, and hands the end
/// out beside the handler's output.
struct AtStatus<const STATUS: u16>;

impl<T, const STATUS: u16> Ending<T> for AtStatus<STATUS> {
    type Output = (T, RequestEnd);

    fn status(_: &T) -> u16 {
        STATUS
    }

    fn apply(output: T, end: RequestEnd) -> (T, RequestEnd) {
        (output, end)
    }
}

type Ok200 = AtStatus<200>;

fn manager_on(store: Arc<CountingStore>) -> SessionManager {
    SessionManager::builder(store, KeyRing::generate())
        .secure(false)
        .build()
        .expect("a valid configuration")
}

/// The `name=value` pair of the cookie a response sets.
fn cookie_of(end: &RequestEnd) -> String {
    let header = end.set_cookie().expect("a cookie").header_value();
    header.split(';').next().expect("a pair").to_owned()
}

/// Stores `visits` in a new session, the way a handler would, and answers
/// the cookie the response would set.
async fn new_session_with_visits(manager: &SessionManager, visits: u64) -> String {
    let handler = async {
        let session = current_session([]).expect("in the scope");
        session.insert("visits", &visits).await.expect("stored");
    };
    let ((), end) = manager.scope::<_, Ok200>(|| handler).await;
    cookie_of(&end)
}

#[tokio::test]
async fn a_request_that_never_asks_costs_nothing() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(store.clone());
    let cookie = new_session_with_visits(&manager, 1).await;
    let calls = store.calls();

    let handler = async { "plain" };
    let (output, end) = manager.scope::<_, Ok200>(|| handler).await;
    assert_eq!(output, "plain");
    assert!(end.set_cookie().is_none() && end.cache_control().is_none());
    assert!(end.error_reply().is_none());
    assert_eq!(store.calls(), calls, "no store call without an ask");

    // Asked for but never used: still nothing, even with a cookie.
    let handler = async {
        current_session([cookie.as_bytes()]).expect("in the scope");
    };
    let ((), end) = manager.scope::<_, Ok200>(|| handler).await;
    assert!(end.set_cookie().is_none() && end.cache_control().is_none());
    assert_eq!(store.calls(), calls, "a handle alone loads nothing");
}

#[tokio::test]
async fn the_session_is_reachable_in_every_poll_and_only_there() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(store.clone());
    let cookie = new_session_with_visits(&manager, 41).await;
    assert!(
        current_session([cookie.as_bytes()]).is_none(),
        "no scope yet"
    );

    let handler = async {
        let first = current_session([cookie.as_bytes()]).expect("in the scope");
        let visits: u64 = first.get("visits").await.expect("loaded").expect("stored");
        first.insert("visits", &(visits + 1)).await.expect("set");
        for _ in 0..3 {
            tokio::task::yield_now().await;
            // After every await, the same session: the value just set is
            // there without a store call.
            let again = current_session([cookie.as_bytes()]).expect("still in the scope");
            assert_eq!(again.get::<u64>("visits").await.expect("read"), Some(42));
        }
        // Code working for another request (other cookies, or none) gets
        // nothing, not this request's session.
        assert!(current_session([]).is_none());
        assert!(current_session([b"id=other".as_slice()]).is_none());
        tokio::spawn(async { current_session([]).is_none() })
            .await
            .expect("the spawned task")
    };
    let (spawned_saw_none, end) = manager.scope::<_, Ok200>(|| handler).await;
    assert!(spawned_saw_none, "a spawned task is outside the scope");
    assert!(end.error_reply().is_none());
    assert!(
        end.set_cookie().is_none(),
        "a stored session that only changed keeps its cookie"
    );
    assert!(current_session([]).is_none(), "the scope ended");

    let handler = async {
        let session = current_session([cookie.as_bytes()]).expect("in the scope");
        session.get::<u64>("visits").await.expect("loaded")
    };
    let (visits, _) = manager.scope::<_, Ok200>(|| handler).await;
    assert_eq!(visits, Some(42), "the change was saved at the end");
}

/// A service may ask in its synchronous `call`, before its future exists:
/// the future then reaches the same session.
#[tokio::test]
async fn a_session_asked_for_in_the_call_is_the_one_the_future_gets() {
    let manager = manager_on(Arc::new(CountingStore::new()));
    let call = || {
        let in_call = current_session([]).expect("in the call");
        async move {
            in_call.insert("theme", "dark").await.expect("set");
            let in_future = current_session([]).expect("in the future");
            // A new session is stored only at the end: only the same
            // session sees the value now.
            in_future.get::<String>("theme").await.expect("read")
        }
    };
    let (theme, end) = manager.scope::<_, Ok200>(call).await;
    assert_eq!(theme.as_deref(), Some("dark"));
    assert!(end.set_cookie().is_some(), "the new session is saved");
}

/// A scope inside another one (a wrapped service inside a wrapped service):
/// the inner one's session while it runs, the outer one's before and after.
#[tokio::test]
async fn nested_scopes_each_reach_their_own_session() {
    let outer_manager = manager_on(Arc::new(CountingStore::new()));
    let inner_manager = manager_on(Arc::new(CountingStore::new()));
    let outer_cookie = new_session_with_visits(&outer_manager, 1).await;
    let inner_cookie = new_session_with_visits(&inner_manager, 2).await;

    let visits =
        |session: Session| async move { session.get::<u64>("visits").await.expect("loaded") };
    let handler = async {
        let before = visits(current_session([outer_cookie.as_bytes()]).expect("outer")).await;
        let inner = async {
            let inner = current_session([inner_cookie.as_bytes()]).expect("inner");
            tokio::task::yield_now().await;
            visits(inner).await
        };
        let (inside, _) = inner_manager.scope::<_, Ok200>(|| inner).await;
        let after = visits(current_session([outer_cookie.as_bytes()]).expect("outer again")).await;
        (before, inside, after)
    };
    let ((before, inside, after), _) = outer_manager.scope::<_, Ok200>(|| handler).await;
    assert_eq!((before, inside, after), (Some(1), Some(2), Some(1)));
}

/// A `call` that panics leaves no session reachable on its thread.
#[tokio::test]
async fn a_panicking_call_leaves_no_session_behind() {
    let manager = manager_on(Arc::new(CountingStore::new()));
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        manager.scope::<_, Ok200>(|| -> std::future::Ready<()> {
            current_session([]).expect("in the call");
            panic!("the inner service panicked");
        })
    }));
    assert!(panicked.is_err());
    assert!(current_session([]).is_none(), "no session after the panic");
}

/// The status decides as in `finish`: a 5xx saves nothing, a failed store
/// answers the error reply.
#[tokio::test]
async fn the_end_follows_the_status_and_the_store() {
    let store = Arc::new(CountingStore::new());
    let manager = manager_on(store.clone());
    let handler = async {
        let session = current_session([]).expect("in the scope");
        session.insert("visits", &1u64).await.expect("set");
    };
    let ((), end) = manager.scope::<_, AtStatus<500>>(|| handler).await;
    assert!(
        end.set_cookie().is_none() && store.writes() == 0,
        "a 5xx saves nothing"
    );

    store.set_failing(true);
    let handler = async {
        let session = current_session([]).expect("in the scope");
        session.insert("visits", &1u64).await.expect("set");
    };
    let ((), end) = manager.scope::<_, Ok200>(|| handler).await;
    let reply = end.error_reply().expect("the store failed at the save");
    assert_eq!(reply.status(), 503);
    assert!(end.set_cookie().is_none());
}

/// A request whose handler reads its session `times` times, yielding in
/// between, and checks each time that it holds `expected` visits.
async fn request_reading_its_own(
    manager: SessionManager,
    cookie: String,
    expected: u64,
    times: usize,
) -> RequestEnd {
    let handler = async {
        for _ in 0..times {
            let session = current_session([cookie.as_bytes()]).expect("in the scope");
            let visits = session.get::<u64>("visits").await.expect("read");
            assert_eq!(visits, Some(expected), "only its own session");
            tokio::task::yield_now().await;
        }
    };
    let ((), end) = manager.scope::<_, Ok200>(|| handler).await;
    end
}

/// Two requests interleaved in one task (`join!`), each polled in turn: each
/// reaches its own session at every step, and a future beside them none.
#[tokio::test]
async fn interleaved_scopes_in_one_task_each_reach_their_own_session() {
    let manager = manager_on(Arc::new(CountingStore::new()));
    let first_cookie = new_session_with_visits(&manager, 1).await;
    let second_cookie = new_session_with_visits(&manager, 2).await;
    let beside = async {
        for _ in 0..5 {
            assert!(current_session([]).is_none(), "outside both scopes");
            tokio::task::yield_now().await;
        }
    };
    let (first, second, ()) = tokio::join!(
        request_reading_its_own(manager.clone(), first_cookie, 1, 5),
        request_reading_its_own(manager.clone(), second_cookie, 2, 5),
        beside
    );
    assert!(
        first.set_cookie().is_none() && second.set_cookie().is_none(),
        "reads only"
    );
}

/// On a multi-threaded runtime, futures move between threads at every await;
/// each of many concurrent requests still reaches only its own session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_on_many_threads_each_reach_their_own_session() {
    let manager = manager_on(Arc::new(CountingStore::new()));
    let mut requests = Vec::new();
    for visits in 0..32u64 {
        let cookie = new_session_with_visits(&manager, visits).await;
        let request = request_reading_its_own(manager.clone(), cookie, visits, 10);
        requests.push(tokio::spawn(request));
    }
    for request in requests {
        let end = request
            .await
            .expect("every request saw only its own session");
        assert!(end.error_reply().is_none());
    }
}

/// A poll that panics inside another scope: the outer scope's session is
/// there again afterwards.
#[tokio::test]
async fn a_panicking_poll_restores_the_outer_scope() {
    let manager = manager_on(Arc::new(CountingStore::new()));
    let cookie = new_session_with_visits(&manager, 7).await;
    let handler = async {
        let outer = current_session([cookie.as_bytes()]).expect("outer");
        let panicking = async {
            current_session([]).expect("inner");
            panic!("the inner handler panicked");
        };
        let mut inner = Box::pin(manager.scope::<_, Ok200>(|| panicking));
        let waker = std::task::Waker::noop();
        let polled = catch_unwind(AssertUnwindSafe(|| {
            inner
                .as_mut()
                .poll(&mut std::task::Context::from_waker(waker))
        }));
        assert!(polled.is_err(), "the inner poll panicked");
        let again = current_session([cookie.as_bytes()]).expect("the outer scope is back");
        assert_eq!(again.get::<u64>("visits").await.expect("read"), Some(7));
        outer.get::<u64>("visits").await.expect("read")
    };
    let (visits, _) = manager.scope::<_, Ok200>(|| handler).await;
    assert_eq!(visits, Some(7));
}
