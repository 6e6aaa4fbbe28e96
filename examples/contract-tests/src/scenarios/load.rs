//! Volume: about 2,000 requests over 48 connections at once, mixing every session route, on one
//! hot session and on many sessions together, with exact results. Each check is one a user would
//! notice: a count that skips or repeats, a preference that was acknowledged and then is not
//! there, a login that does not carry the session's data, a logout that leaves the user in.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::task::JoinSet;

use crate::{App, Browser, Env};

/// Connections open at once: half of them tabs of the one hot session, half users each going
/// through sessions of their own.
const HOT_TABS: usize = 24;
const USERS: usize = 24;

/// Requests each hot tab sends, in turns of four (visit, put, greeting, preferences).
const HOT_REQUESTS: usize = 32;

/// How many times each user goes through a session's whole life (13 requests each).
const USER_LIVES: usize = 4;

/// A bound on every single request under this load: the app must neither deadlock nor starve
/// one request behind the others. Far above what a healthy app needs, so a slow shared machine
/// does not fail it.
const LOAD_ANSWER_BOUND: Duration = Duration::from_secs(5);

/// 48 connections at once send about 2,000 requests mixing every session route. 24 are tabs of
/// one logged-in hot session, each sending `GET /visits`, `PUT /prefs/NAME` (two names of its
/// own), `GET /` and `GET /prefs` in turn; 24 are users each going four times through a whole
/// session: three visits, a preference, a login, the greeting, a visit, the preferences, a
/// logout, the login redirect. No request answers 5xx or takes over 5 s (no deadlock, no
/// starvation), and every result is exact: the hot session's visits answer distinct counts and
/// it ends exactly that many higher; every tab reads back the last value it put, and so does
/// the session at the end; every user's counts go 1, 2, 3 and carry over the login to 4, its
/// preference stays through the login, its greeting names it, and its logout ends it.
pub async fn mixed_load_on_hot_and_many_sessions_is_exact(env: Env) {
    let app = Arc::new(env.launch().start());
    let mut hot = Browser::new();
    hot.login(&app, "hot").await;
    assert_eq!(hot.visits(&app).await, 1, "the hot session's first visit");
    let cookie = hot.cookie().expect("logged in").to_owned();

    let started = Instant::now();
    let mut tabs = JoinSet::new();
    for tab in 0..HOT_TABS {
        let app = Arc::clone(&app);
        let cookie = cookie.clone();
        tabs.spawn(async move { hot_tab(tab, &app, cookie).await });
    }
    let mut users = JoinSet::new();
    for user in 0..USERS {
        let app = Arc::clone(&app);
        users.spawn(async move { user_lives(user, &app).await });
    }
    let mut counts = HashSet::new();
    let mut last_values = Vec::new();
    let mut sent = 0;
    while let Some(done) = tabs.join_next().await {
        let outcome = done.unwrap_or_else(|error| failed(&app, "a hot tab", &error));
        for count in outcome.counts {
            assert!(
                counts.insert(count),
                "two concurrent GET /visits on the hot session answered the same count {count}"
            );
        }
        last_values.extend(outcome.last_values);
        sent += outcome.sent;
    }
    while let Some(done) = users.join_next().await {
        sent += done.unwrap_or_else(|error| failed(&app, "a user", &error));
    }
    let elapsed = started.elapsed();

    let visits = counts.len() as u64;
    assert_eq!(
        visits,
        (HOT_TABS * HOT_REQUESTS / 4) as u64,
        "every hot GET /visits answered 200"
    );
    let expected: HashSet<u64> = (2..=visits + 1).collect();
    assert_eq!(
        counts,
        expected,
        "the hot session's {visits} concurrent visits after the first must answer 2 to {}",
        visits + 1
    );
    assert_eq!(
        hot.visits(&app).await,
        visits + 2,
        "after N concurrent visits the hot session's count is exactly N higher"
    );
    let prefs = hot.prefs(&app).await;
    for (name, value) in &last_values {
        assert_eq!(
            prefs.get(name),
            Some(&json!(value)),
            "PUT /prefs/{name} {value:?} answered 204 and was the last put of that name, so the \
             hot session must hold it; prefs: {prefs:?}"
        );
    }
    assert_eq!(
        prefs.len(),
        last_values.len(),
        "the hot session holds exactly the preferences put"
    );
    hot.assert_greeted(&app, "hot", "the hot session after the load")
        .await;
    eprintln!(
        "mixed load: {sent} requests over {} connections in {elapsed:.2?}",
        HOT_TABS + USERS
    );
}

/// What one hot tab saw: the counts its visits answered, the last value of each of its names,
/// and how many requests it sent.
struct TabOutcome {
    counts: Vec<u64>,
    last_values: Vec<(String, String)>,
    sent: usize,
}

/// Runs a browser helper (one or two requests), failing if it takes longer than the load's
/// bound; the helpers themselves fail on any status but the one the contract gives.
macro_rules! bounded {
    ($what:expr, $call:expr) => {{
        let started = Instant::now();
        let out = $call;
        assert_bound(started.elapsed(), &$what);
        out
    }};
}

/// One tab of the hot session: `HOT_REQUESTS` requests in turns of four.
async fn hot_tab(tab: usize, app: &App, cookie: String) -> TabOutcome {
    let mut browser = Browser::with_cookie(cookie);
    let names = [format!("t{tab}a"), format!("t{tab}b")];
    let mut last: [Option<String>; 2] = [None, None];
    let mut counts = Vec::new();
    let what = format!("hot tab {tab}");
    for turn in 0..HOT_REQUESTS {
        let which = (turn / 4) % 2;
        match turn % 4 {
            0 => counts.push(bounded!(what, browser.visits(app).await)),
            1 => {
                let value = format!("v{tab}-{turn}");
                let path = format!("/prefs/{}", names[which]);
                bounded!(what, browser.put(app, &path, value.clone()).await)
                    .assert_status(204, "PUT /prefs on the hot session under load");
                last[which] = Some(value);
            }
            2 => bounded!(
                what,
                browser
                    .assert_greeted(app, "hot", "GET / on the hot session under load")
                    .await
            ),
            _ => {
                let prefs = bounded!(what, browser.prefs(app).await);
                for (name, value) in names.iter().zip(&last) {
                    let Some(value) = value else { continue };
                    assert_eq!(
                        prefs.get(name),
                        Some(&json!(value)),
                        "hot tab {tab}: its own PUT /prefs/{name} answered 204 and no other \
                         request writes that name, so GET /prefs must show it; prefs: {prefs:?}"
                    );
                }
            }
        }
    }
    TabOutcome {
        counts,
        last_values: names
            .into_iter()
            .zip(last)
            .filter_map(|(name, value)| Some((name, value?)))
            .collect(),
        sent: HOT_REQUESTS,
    }
}

/// One user going `USER_LIVES` times through a whole session; answers how many requests it sent.
async fn user_lives(user: usize, app: &App) -> usize {
    let mut browser = Browser::new();
    let name = format!("user{user}");
    let what = format!("user {user}");
    for life in 0..USER_LIVES {
        for count in 1..=3 {
            assert_eq!(
                bounded!(what, browser.visits(app).await),
                count,
                "user {user}, session {life}: visits count 1, 2, 3"
            );
        }
        let color = format!("c{user}-{life}");
        bounded!(what, browser.put(app, "/prefs/color", color.clone()).await)
            .assert_status(204, "PUT /prefs/color under load");
        bounded!(what, browser.login(app, &name).await);
        bounded!(
            what,
            browser
                .assert_greeted(app, &name, &format!("{what} after logging in under load"))
                .await
        );
        assert_eq!(
            bounded!(what, browser.visits(app).await),
            4,
            "user {user}, session {life}: the count carries over the login"
        );
        let prefs = bounded!(what, browser.prefs(app).await);
        assert_eq!(
            prefs.get("color"),
            Some(&json!(color)),
            "user {user}, session {life}: the preference carries over the login; {prefs:?}"
        );
        assert_eq!(prefs.len(), 1, "user {user}: one preference: {prefs:?}");
        bounded!(what, browser.logout(app, false).await);
        bounded!(
            what,
            browser
                .assert_logged_out(app, &format!("{what} after logging out under load"))
                .await
        );
    }
    // Per life: 4 visits, a PUT, the login and the logout (each fetching the form first), two
    // `GET /` and a `GET /prefs`.
    USER_LIVES * 13
}

/// Fails the scenario for a task that failed, with the app's log: a 5xx's cause is in there.
fn failed(app: &App, who: &str, error: &tokio::task::JoinError) -> ! {
    let stderr = app.stderr();
    let last: Vec<&str> = stderr.lines().rev().take(20).collect();
    let last: Vec<&str> = last.into_iter().rev().collect();
    panic!(
        "{who} failed: {error:?}; the app's last lines on stderr:\n{}",
        last.join("\n")
    );
}

fn assert_bound(elapsed: Duration, what: &str) {
    assert!(
        elapsed <= LOAD_ANSWER_BOUND,
        "{what}: a request took {elapsed:?} under load, over {LOAD_ANSWER_BOUND:?}: a deadlock \
         or starvation"
    );
}
