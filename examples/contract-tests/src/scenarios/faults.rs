//! The store failing under real traffic, on real servers: killed while requests are in flight,
//! restarted empty, a network that resets connections in the middle of an answer, and a small
//! memcached that evicts sessions to make room for new ones.
//!
//! The rules are the contract's: a route that needs the session answers its success status or a
//! plain 503 (never a 500, never a hang past the contract's bound), and once the store is healthy
//! again the app serves normally without a restart. On top of that, no failure may corrupt a
//! session or hand a user someone else's: a session whose write got a 503 holds its old value or
//! its new one, a session the store lost is a new, empty session, and a cookie whose session is
//! gone is never adopted as the new session's ID.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use test_memcached::{MemcachedServer, Proxy, ProxyMode};
use tokio::task::JoinSet;

use super::outage::{OUTAGE_ANSWER_BOUND, RECOVERY_BOUND, assert_clean_503, visits_once_back};
use crate::{App, Browser, Env, Reply, sleep_ms};

/// How many users keep requests in flight while the store is killed: one connection each.
const IN_FLIGHT: usize = 32;

/// How long the load runs on a healthy store before the kill, and on the dead store after it.
const HEALTHY_LOAD: Duration = Duration::from_millis(400);
const DEAD_LOAD: Duration = Duration::from_millis(1200);

/// How many requests each user sends, one after the other, once the store is back.
const FINAL_VISITS: u64 = 5;

/// What a user of the kill scenario asks, in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `GET /visits`: 200 and the new count.
    Visits,
    /// `PUT /prefs/last`: 204.
    Put,
    /// `GET /`: the greeting, or the login redirect.
    Root,
}

const ROUTES: [Route; 3] = [Route::Visits, Route::Put, Route::Root];

/// One answered request of the kill scenario.
#[derive(Debug)]
struct Sample {
    route: Route,
    started: Instant,
    finished: Instant,
    status: u16,
    /// Whether it was sent with a session cookie.
    with_cookie: bool,
    /// The count a `GET /visits` answered with 200.
    count: Option<u64>,
}

/// The moments the kill scenario's checks are timed against, set as they happen.
#[derive(Debug, Default)]
struct Timeline {
    /// The store is dead from here on (set once the kill returned).
    dead: OnceLock<Instant>,
    /// The restart starts here: the store may answer from here on.
    restarting: OnceLock<Instant>,
    /// The restart returned: the store answers.
    back: OnceLock<Instant>,
}

/// With 32 users each keeping a request in flight (`GET /visits`, `PUT /prefs/last`, `GET /` in
/// turn, each on its own session, a quarter of them logged in), the store (memcached or redis) is
/// killed and, 1.2 s later, started again, empty, on the same port. Every request answers its
/// success status or a plain 503 within the contract's 2 s, never a 500 or a hang, and those sent
/// while the store is dead all answer 503. Counts only go up by one per answered visit (or by the
/// visits that answered 503, whose write may have landed), until the restart loses them: then
/// the session starts again at 1. Without a restart of the app, every user gets answers again
/// within 5 s of the store's return, and then every request succeeds: five visits in a row count
/// 1 to 5 more, a preference put is read back, and the logged-in users are logged out (their
/// sessions went with the store's data).
pub async fn store_killed_under_load_answers_503_and_recovers(mut env: Env) {
    let app = Arc::new(env.launch().start());
    let ports = [env.store_addr().port()];
    let mut users = Vec::new();
    for index in 0..IN_FLIGHT {
        let mut user = Browser::new();
        if index % 4 == 0 {
            user.login(&app, &format!("user{index}")).await;
        }
        assert_eq!(user.visits(&app).await, 1, "a user's first visit");
        users.push(user);
    }

    let timeline = Arc::new(Timeline::default());
    let stop = Arc::new(AtomicBool::new(false));
    let recovered = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for (index, user) in users.into_iter().enumerate() {
        let app = Arc::clone(&app);
        let timeline = Arc::clone(&timeline);
        let stop = Arc::clone(&stop);
        let recovered = Arc::clone(&recovered);
        workers.spawn(async move {
            keep_requesting(index, user, &app, &timeline, &stop, &recovered, &ports).await
        });
    }

    sleep_ms(HEALTHY_LOAD.as_millis() as u64).await;
    env.kill_store().await;
    let _ = timeline.dead.set(Instant::now());
    sleep_ms(DEAD_LOAD.as_millis() as u64).await;
    let _ = timeline.restarting.set(Instant::now());
    env.restart_store().await;
    let back = Instant::now();
    let _ = timeline.back.set(back);
    while recovered.load(Ordering::SeqCst) < IN_FLIGHT {
        // A user stops early only by failing a check: show that failure, not a late symptom.
        if let Some(done) = workers.try_join_next() {
            done.expect("a user's task panicked");
            panic!("a user stopped sending requests before the end");
        }
        assert!(
            back.elapsed() < RECOVERY_BOUND,
            "{} of {IN_FLIGHT} users still get no answer but 503 {RECOVERY_BOUND:?} after the \
             store came back on its port: the app must serve again without a restart",
            IN_FLIGHT - recovered.load(Ordering::SeqCst)
        );
        sleep_ms(20).await;
    }
    stop.store(true, Ordering::SeqCst);

    let mut users = Vec::new();
    let mut unavailable = 0;
    let mut sent = 0;
    while let Some(done) = workers.join_next().await {
        let (index, user, samples) = done.expect("a user's task panicked");
        check_samples(index, &samples, &timeline);
        sent += samples.len();
        unavailable += samples.iter().filter(|s| s.status == 503).count();
        users.push((index, user));
    }
    assert!(
        unavailable > 0,
        "no request answered 503 while the store was dead: this scenario proved nothing"
    );
    eprintln!(
        "store killed under load: {sent} requests, {unavailable} answered 503, all users served \
         again {:.2?} after the store's return",
        back.elapsed()
    );

    // Healthy again: every request succeeds, all users at once.
    let mut finals = JoinSet::new();
    for (index, mut user) in users {
        let app = Arc::clone(&app);
        finals.spawn(async move {
            if index % 4 == 0 {
                user.assert_logged_out(&app, "a login whose session the restarted store lost")
                    .await;
            }
            let first = user.visits(&app).await;
            for more in 1..FINAL_VISITS {
                assert_eq!(
                    user.visits(&app).await,
                    first + more,
                    "user {index}: once the store is back, visits count up by one each"
                );
            }
            user.put(&app, "/prefs/last", "final")
                .await
                .assert_status(204, "PUT /prefs/last once the store is back");
            assert_eq!(
                user.prefs(&app).await.get("last"),
                Some(&json!("final")),
                "user {index}: a preference put once the store is back is read back"
            );
        });
    }
    while let Some(done) = finals.join_next().await {
        done.expect("a user's requests failed once the store was back");
    }
}

/// One user of the kill scenario: requests in turn until `stop`, checking each answer as it
/// comes; answers the user and what it saw.
async fn keep_requesting(
    index: usize,
    mut user: Browser,
    app: &App,
    timeline: &Timeline,
    stop: &AtomicBool,
    recovered: &AtomicUsize,
    ports: &[u16],
) -> (usize, Browser, Vec<Sample>) {
    let mut samples = Vec::new();
    let mut served_again = false;
    let mut turn = 0;
    while !stop.load(Ordering::SeqCst) {
        let route = ROUTES[turn % ROUTES.len()];
        turn += 1;
        let with_cookie = user.cookie().is_some();
        let started = Instant::now();
        let reply = match route {
            Route::Visits => user.get(app, "/visits").await,
            Route::Put => user.put(app, "/prefs/last", format!("v{turn}")).await,
            Route::Root => user.get(app, "/").await,
        };
        let situation = format!("user {index}, while its store is killed and restarted");
        assert!(
            reply.elapsed <= OUTAGE_ANSWER_BOUND,
            "{situation}: `{}` took {:?}, over the contract's {OUTAGE_ANSWER_BOUND:?}",
            reply.request,
            reply.elapsed
        );
        let success = match (route, reply.status) {
            (Route::Visits, 200) => true,
            (Route::Put, 204) => true,
            (Route::Root, 200) => {
                assert!(
                    crate::html::greeting(&reply.text()).is_some(),
                    "{situation}: GET / answered 200 without a greeting"
                );
                true
            }
            (Route::Root, 302 | 303) => {
                reply.assert_login_redirect(&situation);
                true
            }
            _ => {
                assert_unavailable(&reply, app, &situation, ports);
                false
            }
        };
        let count = (route == Route::Visits && success).then(|| count_of(&reply));
        if success && !served_again && timeline.back.get().is_some_and(|back| started >= *back) {
            served_again = true;
            recovered.fetch_add(1, Ordering::SeqCst);
        }
        samples.push(Sample {
            route,
            started,
            finished: Instant::now(),
            status: reply.status,
            with_cookie,
            count,
        });
    }
    (index, user, samples)
}

/// Checks what one user of the kill scenario saw, against when the store died and came back.
fn check_samples(index: usize, samples: &[Sample], timeline: &Timeline) {
    let dead = *timeline.dead.get().expect("the store was killed");
    let restarting = *timeline.restarting.get().expect("the store was restarted");
    for sample in samples {
        // Without a cookie, `GET /` needs no session: its login redirect is right then.
        let needs_store = sample.with_cookie || sample.route != Route::Root;
        if sample.started >= dead && sample.finished <= restarting && needs_store {
            assert_eq!(
                sample.status, 503,
                "user {index}: a {:?} sent and answered while the store was dead must answer \
                 503 (an error, never a missing session)",
                sample.route
            );
        }
    }
    let mut last: Option<u64> = None;
    let mut unanswered = 0;
    for sample in samples.iter().filter(|s| s.route == Route::Visits) {
        let Some(count) = sample.count else {
            unanswered += 1;
            continue;
        };
        if let Some(previous) = last {
            let same_session = count > previous && count <= previous + 1 + unanswered;
            let new_session = count == 1 && sample.started >= dead;
            assert!(
                same_session || new_session,
                "user {index}: GET /visits answered {count} after {previous}, with {unanswered} \
                 visits answering 503 in between: a count goes up by one per visit (a visit that \
                 answered 503 may have counted), or starts again at 1 once the store lost it"
            );
        }
        last = Some(count);
        unanswered = 0;
    }
}

/// Panics unless `reply` is a clean 503 (see [`assert_clean_503`]), showing the app's log when
/// it is another 5xx: what went wrong is in there.
fn assert_unavailable(reply: &Reply, app: &App, situation: &str, ports: &[u16]) {
    assert!(
        reply.status < 500 || reply.status == 503,
        "{situation}: `{}` answered {} ({:?}) instead of a 503; app stderr:\n{}",
        reply.request,
        reply.status,
        reply.text(),
        app.stderr()
    );
    assert_clean_503(reply, situation, ports);
}

/// The count in a `GET /visits` answer.
fn count_of(reply: &Reply) -> u64 {
    let text = reply.text();
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("GET /visits answered a non-number: {text:?}"))
}

/// One user of the restart scenario, with what its session held before.
struct Known {
    user: Browser,
    name: Option<String>,
    owner: String,
}

/// After the store (memcached or redis) restarts empty under a running app, 16 users with old
/// cookies (8 logged in, 8 not; each with 2 visits and a preference) are new visitors: `GET /`
/// sends them to the login page, `GET /prefs` is `{}`, and `GET /visits` counts 1 and sets a new
/// cookie, never the old value. The old cookie does not reach the new session (presented again
/// it is yet another new session at 1), no request answers 5xx, and logging in again works.
pub async fn store_restarted_empty_starts_new_sessions(mut env: Env) {
    let app = env.launch().start();
    let mut known = Vec::new();
    for index in 0..16 {
        let mut user = Browser::new();
        let name = (index % 2 == 0).then(|| format!("user{index}"));
        if let Some(name) = &name {
            user.login(&app, name).await;
        }
        assert_eq!(user.visits(&app).await, 1);
        assert_eq!(user.visits(&app).await, 2);
        let owner = format!("u{index}");
        user.put(&app, "/prefs/owner", owner.clone())
            .await
            .assert_status(204, "PUT /prefs/owner");
        known.push(Known { user, name, owner });
    }

    env.restart_store().await;
    let restarted = "after the store restarted empty";
    for (
        index,
        Known {
            mut user,
            name,
            owner,
        },
    ) in known.into_iter().enumerate()
    {
        let old = user.cookie().expect("each user has a session").to_owned();
        user.assert_logged_out(&app, &format!("user {index} {restarted}"))
            .await;
        let prefs = user.prefs(&app).await;
        assert!(
            prefs.is_empty(),
            "user {index} {restarted}: the old session's preferences (owner {owner:?}) are gone, \
             so GET /prefs is {{}}; got {prefs:?}"
        );
        let first = user.get(&app, "/visits").await;
        first.assert_status(200, &format!("user {index}'s first visit {restarted}"));
        assert_eq!(
            count_of(&first),
            1,
            "user {index} {restarted}: a lost session counts again from 1"
        );
        let new = user.cookie().map(str::to_owned);
        assert!(
            new.as_deref().is_some_and(|new| new != old),
            "user {index} {restarted}: the new session needs a new cookie, never the old value \
             (adopting a cookie whose session is gone lets whoever planted it share the session); \
             had {old:?}, now {new:?}"
        );
        let mut replay = Browser::with_cookie(old.clone());
        assert_eq!(
            replay.visits(&app).await,
            1,
            "user {index} {restarted}: the old cookie presented again must not reach the new \
             session"
        );
        assert!(
            replay.cookie().is_some_and(|again| again != old),
            "user {index} {restarted}: presented again, the old cookie is still not adopted"
        );
        assert_eq!(
            user.visits(&app).await,
            2,
            "user {index} {restarted}: the new session counts on"
        );
        if let Some(name) = name {
            user.login(&app, &name).await;
            user.assert_greeted(&app, &name, &format!("logging in again {restarted}"))
                .await;
            assert_eq!(
                user.visits(&app).await,
                3,
                "a login keeps the new session's count"
            );
        }
    }
    assert!(
        !app.stderr().contains("panic"),
        "the app panicked; stderr:\n{}",
        app.stderr()
    );
}

/// One session of the reset scenario, and what was asked of it while the network reset.
struct Tracked {
    user: Browser,
    name: Option<String>,
    /// Its count before the resets.
    count: u64,
    /// `GET /visits` sent, and the counts of those that answered 200.
    visits_sent: u64,
    counted: Vec<u64>,
    /// The old value of the preference `p`, then every value a `PUT /prefs/p` tried to store,
    /// one per burst.
    p_values: Vec<String>,
    /// Of those, the last one a PUT answered 204 for (the old one at first): the session may
    /// hold it or a later one, never an earlier one.
    p_acked: usize,
}

/// How many bursts of requests go out while the network resets connections.
const RESET_ROUNDS: usize = 4;

/// With a proxy between the app and the store (memcached or redis) that passes requests on but
/// cuts answers in half and resets the connection (every answer for one burst, then flapping
/// between that and passing every few milliseconds, so that writes land and their answers are
/// cut), bursts of requests on 12 sessions (each with a count, four preferences, half of them
/// logged in) answer their success status or a plain 503 within 2 s, never a 500 or a hang. Once the proxy passes everything again, the app
/// serves normally and no session lost or garbled anything: every preference the resets did not
/// touch is intact, the one they wrote holds its old value or one of the values sent (a write
/// that answered 503 may still have landed, whole), the count went up by at least the visits that
/// answered and at most the visits sent, and the logged-in users are still logged in. A cut
/// answer is an error, never a half-read session that would be saved back empty.
pub async fn reset_mid_reply_answers_503_and_loses_nothing(env: Env) {
    let proxy = Proxy::start(env.store_addr());
    let app = Arc::new(env.launch().store(env.store_spec_at(proxy.addr())).start());
    let ports = [proxy.addr().port(), proxy.upstream().port()];
    let mut tracked = Vec::new();
    for index in 0..12 {
        let mut user = Browser::new();
        let name = (index % 2 == 0).then(|| format!("user{index}"));
        if let Some(name) = &name {
            user.login(&app, name).await;
        }
        for pref in ["a", "b", "c"] {
            user.put(&app, &format!("/prefs/{pref}"), keep(index, pref))
                .await
                .assert_status(204, "PUT /prefs before the resets");
        }
        user.put(&app, "/prefs/p", format!("old{index}"))
            .await
            .assert_status(204, "PUT /prefs/p before the resets");
        assert_eq!(user.visits(&app).await, 1);
        assert_eq!(user.visits(&app).await, 2);
        tracked.push(Tracked {
            user,
            name,
            count: 2,
            visits_sent: 0,
            counted: Vec::new(),
            p_values: vec![format!("old{index}")],
            p_acked: 0,
        });
    }

    let proxy = Arc::new(proxy);
    let resetting = "with store answers cut in half and the connection reset";
    let mut unavailable = 0;
    let mut answered = 0;
    for round in 0..RESET_ROUNDS {
        // The first round resets every answer; the others flap between resetting and passing
        // every few milliseconds, so some sessions load and then have their write's answer cut:
        // the write may have landed although the request answered 503.
        proxy.set_mode(ProxyMode::ResetMidReply);
        let flapping = Arc::new(AtomicBool::new(round > 0));
        let flapper = {
            let proxy = Arc::clone(&proxy);
            let flapping = Arc::clone(&flapping);
            tokio::spawn(async move {
                let mut pass = false;
                while flapping.load(Ordering::SeqCst) {
                    pass = !pass;
                    proxy.set_mode(if pass {
                        ProxyMode::Pass
                    } else {
                        ProxyMode::ResetMidReply
                    });
                    sleep_ms(if pass { 3 } else { 2 }).await;
                }
            })
        };
        let acked_before: Vec<usize> = tracked.iter().map(|session| session.p_acked).collect();
        let mut burst = JoinSet::new();
        for (index, session) in tracked.iter_mut().enumerate() {
            let cookie = session.user.cookie().expect("a stored session").to_owned();
            let value = format!("new{index}-{round}");
            session.p_values.push(value.clone());
            session.visits_sent += 1;
            for what in 0..4 {
                let app = Arc::clone(&app);
                let mut tab = Browser::with_cookie(cookie.clone());
                let value = value.clone();
                burst.spawn(async move {
                    let reply = match what {
                        0 => tab.get(&app, "/visits").await,
                        1 => tab.put(&app, "/prefs/p", value).await,
                        2 => tab.get(&app, "/").await,
                        _ => tab.get(&app, "/prefs").await,
                    };
                    (index, what, reply)
                });
            }
        }
        while let Some(done) = burst.join_next().await {
            let (index, what, reply) = done.expect("a request task panicked");
            let situation = format!("session {index} {resetting}");
            assert!(
                reply.elapsed <= OUTAGE_ANSWER_BOUND,
                "{situation}: `{}` took {:?}, over the contract's {OUTAGE_ANSWER_BOUND:?}",
                reply.request,
                reply.elapsed
            );
            let session = &mut tracked[index];
            match (what, reply.status) {
                (0, 200) => session.counted.push(count_of(&reply)),
                (1, 204) => session.p_acked = session.p_values.len() - 1,
                (2, 200) => {
                    let greeting = crate::html::greeting(&reply.text());
                    assert!(
                        greeting.as_deref().is_some_and(|greeting| session
                            .name
                            .as_deref()
                            .is_some_and(|name| greeting.starts_with(name))),
                        "{situation}: GET / greeted {greeting:?}, but the session is {:?}'s",
                        session.name
                    );
                }
                (2, 302 | 303) => {
                    assert!(
                        session.name.is_none(),
                        "{situation}: GET / sent {:?} to the login page: a cut answer is an \
                         error, never a missing session",
                        session.name
                    );
                    reply.assert_login_redirect(&situation);
                }
                // Read concurrently with this burst's PUT: the value acknowledged before the
                // burst, or a later one.
                (3, 200) => check_prefs(
                    index,
                    &prefs_of(&reply),
                    &session.p_values[acked_before[index]..],
                    &situation,
                ),
                _ => {
                    assert_unavailable(&reply, &app, &situation, &ports);
                    unavailable += 1;
                    continue;
                }
            }
            answered += 1;
        }
        flapping.store(false, Ordering::SeqCst);
        flapper.await.expect("the flapping task panicked");
    }
    assert!(
        unavailable > 0,
        "no request answered 503 {resetting}: this scenario proved nothing"
    );
    eprintln!(
        "{resetting}: {unavailable} requests answered 503, {answered} succeeded (a cut answer \
         can still hold a whole one)"
    );

    proxy.set_mode(ProxyMode::Pass);
    visits_once_back(
        &mut Browser::new(),
        &app,
        "once the network passes answers again",
        &ports,
    )
    .await;
    let healed = "after the resets";
    for (index, session) in tracked.iter_mut().enumerate() {
        let situation = format!("session {index} {healed}");
        let prefs = session.user.prefs(&app).await;
        check_prefs(
            index,
            &prefs,
            &session.p_values[session.p_acked..],
            &situation,
        );
        if let Some(name) = session.name.clone() {
            session.user.assert_greeted(&app, &name, &situation).await;
        }
        let now = session.user.visits(&app).await;
        let lowest = session.count + session.counted.len() as u64;
        let lowest = lowest.max(session.counted.iter().copied().max().unwrap_or(0));
        let highest = session.count + session.visits_sent;
        assert!(
            (lowest + 1..=highest + 1).contains(&now),
            "{situation}: GET /visits answered {now}; the count was {} before the resets, {} \
             visits answered {:?} and {} were sent, so it must be from {} to {}",
            session.count,
            session.counted.len(),
            session.counted,
            session.visits_sent,
            lowest + 1,
            highest + 1
        );
    }
}

/// The value of the preference `pref` that the reset scenario never writes again.
fn keep(index: usize, pref: &str) -> String {
    format!("keep{index}{pref}")
}

/// The JSON object of a `GET /prefs` answer.
fn prefs_of(reply: &Reply) -> Map<String, Value> {
    match serde_json::from_slice(&reply.body) {
        Ok(Value::Object(prefs)) => prefs,
        _ => panic!("GET /prefs is not a JSON object: {:?}", reply.text()),
    }
}

/// Panics unless `prefs` is exactly the reset scenario's session `index`: its three kept
/// preferences, and `p` at one of the `possible` values.
fn check_prefs(index: usize, prefs: &Map<String, Value>, possible: &[String], situation: &str) {
    for pref in ["a", "b", "c"] {
        assert_eq!(
            prefs.get(pref),
            Some(&json!(keep(index, pref))),
            "{situation}: the preference {pref:?}, never written during the resets, was lost or \
             garbled; prefs: {prefs:?}"
        );
    }
    let p = prefs.get("p").and_then(Value::as_str);
    assert!(
        p.is_some_and(|p| possible.iter().any(|value| value == p)),
        "{situation}: the preference \"p\" must hold the last value a PUT answered 204 for, or \
         one sent after it (a write that answered 503 may have landed, whole); got {p:?}, \
         possible {possible:?}"
    );
    assert_eq!(
        prefs.len(),
        4,
        "{situation}: the session holds exactly its four preferences: {prefs:?}"
    );
}

/// memcached's smallest item for the eviction scenario: every item, sessions included, takes a
/// chunk this big, so a 2 MB memcached holds only about 126 of them.
const EVICTION_MIN_ITEM: &str = "16384";

/// How many sessions are tracked before and after the flood, and how many the flood makes.
const EVICTION_TRACKED: usize = 16;
const EVICTION_FLOOD: usize = 160;

/// One tracked session of the eviction scenario.
struct Resident {
    user: Browser,
    name: Option<String>,
    owner: String,
}

/// A small memcached (`-m 2`, evicting, not `-M`; every item in a 16 KB chunk, so it holds
/// about 126) is filled by many sessions: 16 tracked ones, then 160 new visitors, then 16 more
/// tracked ones. memcached evicts, and every tracked session is either intact or a new session,
/// never an error: a survivor keeps its preference, its login and its count (3 after 2 visits),
/// an evicted one shows no preference, sends `GET /` to the login page, counts from 1 again with
/// a new cookie (never the old value), and its old cookie does not reach the new session. At
/// least one tracked session was evicted and at least one survived, or the scenario would prove
/// nothing.
pub async fn evicting_memcached_starts_new_sessions(env: Env) {
    // The scenario's own memcached; the one in `env` stays unused.
    let Some(small) = MemcachedServer::start_with_args(&["-m", "2", "-n", EVICTION_MIN_ITEM])
    else {
        return;
    };
    let app = Arc::new(env.launch().store(small.spec()).start());
    let mut residents = Vec::new();
    residents.extend(residents_for(&app, 0).await);
    flood(&app, EVICTION_FLOOD).await;
    residents.extend(residents_for(&app, EVICTION_TRACKED).await);
    let evictions = small.stats().get("evictions").copied().unwrap_or(0);
    assert!(
        evictions > 0,
        "memcached evicted nothing: this scenario would prove nothing"
    );

    // First, reading only, which session is still there: from here on the checks write, and a
    // write to a full memcached may evict something else.
    let mut survived = Vec::new();
    for resident in &mut residents {
        let prefs = resident.user.prefs(&app).await;
        match prefs.get("owner") {
            Some(owner) => {
                assert_eq!(
                    owner,
                    &json!(resident.owner),
                    "a session showed another session's data"
                );
                survived.push(true);
            }
            None => {
                assert!(
                    prefs.is_empty(),
                    "an evicted session holds nothing; got {prefs:?}"
                );
                survived.push(false);
            }
        }
    }
    let kept = survived.iter().filter(|kept| **kept).count();
    assert!(
        kept > 0 && kept < residents.len(),
        "{kept} of {} tracked sessions survived {evictions} evictions: the scenario needs both \
         survivors and evicted sessions",
        residents.len()
    );
    eprintln!(
        "evicting memcached: {evictions} evictions, {kept} of {} tracked sessions survived",
        residents.len()
    );

    for (resident, kept) in residents.iter_mut().zip(survived) {
        let owner = resident.owner.clone();
        if kept {
            if let Some(name) = &resident.name {
                resident
                    .user
                    .assert_greeted(&app, name, &format!("{owner}, a surviving session"))
                    .await;
            }
            assert_eq!(
                resident.user.visits(&app).await,
                3,
                "{owner}: a surviving session keeps its count"
            );
            continue;
        }
        let old = resident.user.cookie().expect("a session").to_owned();
        let evicted = format!("{owner}, an evicted session");
        resident.user.assert_logged_out(&app, &evicted).await;
        assert_eq!(
            resident.user.visits(&app).await,
            1,
            "{evicted}: counts again from 1"
        );
        assert!(
            resident.user.cookie().is_some_and(|new| new != old),
            "{evicted}: the new session needs a new cookie, never the old value"
        );
        assert_eq!(
            Browser::with_cookie(old).visits(&app).await,
            1,
            "{evicted}: the old cookie must not reach the new session"
        );
    }
}

/// Makes `EVICTION_TRACKED` sessions numbered from `first`: every other one logged in, each with
/// an `owner` preference and two visits.
async fn residents_for(app: &App, first: usize) -> Vec<Resident> {
    let mut residents = Vec::new();
    for index in first..first + EVICTION_TRACKED {
        let mut user = Browser::new();
        let name = (index % 2 == 0).then(|| format!("user{index}"));
        if let Some(name) = &name {
            user.login(app, name).await;
        }
        let owner = format!("u{index}");
        user.put(app, "/prefs/owner", owner.clone())
            .await
            .assert_status(204, "PUT /prefs/owner");
        assert_eq!(user.visits(app).await, 1);
        assert_eq!(user.visits(app).await, 2);
        residents.push(Resident { user, name, owner });
    }
    residents
}

/// `count` new visitors' first `GET /visits`, 16 at a time, each answering 1.
async fn flood(app: &Arc<App>, count: usize) {
    let next = Arc::new(Mutex::new(0..count));
    let mut tasks = JoinSet::new();
    for _ in 0..16 {
        let app = Arc::clone(app);
        let next = Arc::clone(&next);
        tasks.spawn(async move {
            while next.lock().expect("lock").next().is_some() {
                let mut visitor = Browser::new();
                assert_eq!(
                    visitor.visits(&app).await,
                    1,
                    "a new visitor on a full, evicting memcached"
                );
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a new visitor's visit failed");
    }
}
