//! Concurrent requests on one session: read-modify-write routes never lose or repeat an update,
//! on one instance or several, and answer no 5xx while the store is healthy.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;
use tokio::task::JoinSet;

use crate::{App, Browser, Env};

/// How many requests the contract allows on one session at once.
const AT_ONCE: usize = 128;

/// Sends `AT_ONCE` requests on the session `cookie`, spread over `apps`, all at once; answers
/// each reply's status and body, in request order.
async fn at_once<F>(apps: &[Arc<App>], cookie: &str, request: F) -> Vec<(u16, String)>
where
    F: Fn(usize) -> (&'static str, String, Option<String>),
{
    let mut tasks = JoinSet::new();
    for index in 0..AT_ONCE {
        let app = Arc::clone(&apps[index % apps.len()]);
        let mut tab = Browser::with_cookie(cookie.to_owned());
        let (method, path, body) = request(index);
        tasks.spawn(async move {
            let reply = match method {
                "PUT" => tab.put(&app, &path, body.unwrap_or_default()).await,
                _ => tab.get(&app, &path).await,
            };
            (index, reply.status, reply.text())
        });
    }
    let mut replies = vec![(0, String::new()); AT_ONCE];
    while let Some(done) = tasks.join_next().await {
        let (index, status, text) = done.expect("a request task panicked");
        assert!(
            status < 500,
            "request {index} of {AT_ONCE} at once on one session answered {status} ({text:?}): \
             no 5xx while the store is healthy"
        );
        replies[index] = (status, text);
    }
    replies
}

async fn visits_are_exact(apps: &[Arc<App>]) {
    let mut user = Browser::new();
    assert_eq!(user.visits(&apps[0]).await, 1);
    let cookie = user
        .cookie()
        .expect("GET /visits created the session")
        .to_owned();
    let replies = at_once(apps, &cookie, |_| ("GET", "/visits".to_owned(), None)).await;
    let mut seen = HashSet::new();
    for (status, text) in replies {
        assert_eq!(status, 200, "concurrent GET /visits answered {status}");
        let count: u64 = text.trim().parse().expect("GET /visits answers a number");
        assert!(
            seen.insert(count),
            "two concurrent GET /visits answered the same count {count}"
        );
    }
    let expected: HashSet<u64> = (2..=AT_ONCE as u64 + 1).collect();
    assert_eq!(
        seen,
        expected,
        "{AT_ONCE} concurrent GET /visits after the first must answer 2 to {}",
        AT_ONCE + 1
    );
    assert_eq!(
        user.visits(&apps[0]).await,
        AT_ONCE as u64 + 2,
        "after N concurrent visits the count is exactly N higher"
    );
}

/// 128 concurrent `GET /visits` on one session answer 128 distinct counts, and the count ends
/// exactly 128 higher.
pub async fn visits_concurrent_are_exact(env: Env) {
    visits_are_exact(&[Arc::new(env.launch().start())]).await;
}

/// The same through two instances sharing memcached.
pub async fn visits_across_instances_are_exact(env: Env) {
    let apps = [
        Arc::new(env.launch().start()),
        Arc::new(env.launch().start()),
    ];
    visits_are_exact(&apps).await;
}

async fn puts_all_persist(apps: &[Arc<App>]) {
    let mut user = Browser::new();
    user.visits(&apps[0]).await;
    let cookie = user
        .cookie()
        .expect("GET /visits created the session")
        .to_owned();
    let replies = at_once(apps, &cookie, |index| {
        let name = format!("/prefs/p{:02}", index % 64);
        ("PUT", name, Some(format!("v{index}")))
    })
    .await;
    for (index, (status, text)) in replies.iter().enumerate() {
        assert_eq!(
            *status,
            204,
            "concurrent PUT /prefs/p{:02} (request {index}) answered {status} ({text:?})",
            index % 64
        );
    }
    let prefs = user.prefs(&apps[0]).await;
    for name in 0..64 {
        let value = prefs.get(&format!("p{name:02}"));
        let ours = [json!(format!("v{name}")), json!(format!("v{}", name + 64))];
        assert!(
            value.is_some_and(|value| ours.contains(value)),
            "after two concurrent PUTs of p{name:02}, one of their values stays; got {value:?}"
        );
    }
}

/// 128 concurrent `PUT`s over 64 names on one session all persist (for two PUTs of one name, one
/// of the values stays).
pub async fn prefs_128_concurrent_puts_all_persist(env: Env) {
    puts_all_persist(&[Arc::new(env.launch().start())]).await;
}

/// The same through two instances sharing memcached.
pub async fn prefs_puts_across_instances_all_persist(env: Env) {
    let apps = [
        Arc::new(env.launch().start()),
        Arc::new(env.launch().start()),
    ];
    puts_all_persist(&apps).await;
}

/// The cap of 64 holds under concurrency: 128 concurrent `PUT`s of new names on a stored session
/// without preferences give exactly 64 answers 204 and 64 answers 400, and the session holds 64.
pub async fn prefs_cap_holds_under_concurrency(env: Env) {
    let app = Arc::new(env.launch().start());
    let mut user = Browser::new();
    user.visits(&app).await;
    let cookie = user
        .cookie()
        .expect("GET /visits created the session")
        .to_owned();
    let replies = at_once(std::slice::from_ref(&app), &cookie, |index| {
        ("PUT", format!("/prefs/n{index:03}"), Some("v".to_owned()))
    })
    .await;
    let stored = replies.iter().filter(|(status, _)| *status == 204).count();
    let refused = replies.iter().filter(|(status, _)| *status == 400).count();
    assert_eq!(
        (stored, refused),
        (64, 64),
        "of {AT_ONCE} concurrent PUTs of new names, exactly as many answer 204 as fit (64), the \
         rest 400"
    );
    assert_eq!(user.prefs(&app).await.len(), 64, "the session holds 64");
}
