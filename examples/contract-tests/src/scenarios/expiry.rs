//! The idle and absolute timeouts, with small values so the waits stay short.

use std::time::{Duration, Instant};

use crate::{Browser, Env, sleep_until};

/// With `--idle-timeout 2`, a session used every second (by reads alone) lives on past the
/// timeout, one unused for 1.5 seconds is still there (never expired early), and one left unused
/// for 4 seconds is gone (memcached may keep it up to a second longer, never less).
pub async fn idle_timeout_expires_unused_sessions(env: Env) {
    let app = env.launch().args(["--idle-timeout", "2"]).start();
    let mut active = Browser::new();
    active.login(&app, "alice").await;
    let mut idle = Browser::new();
    idle.login(&app, "bob").await;
    let mut resting = Browser::new();
    resting.login(&app, "carol").await;
    let start = Instant::now();
    for second in 1..=4 {
        if second == 2 {
            sleep_until(start + Duration::from_millis(1500)).await;
            resting
                .assert_greeted(&app, "carol", "unused for 1.5 s with --idle-timeout 2")
                .await;
        }
        sleep_until(start + Duration::from_secs(second)).await;
        active
            .assert_greeted(
                &app,
                "alice",
                &format!("{second} s in, a session read every second with --idle-timeout 2"),
            )
            .await;
    }
    idle.assert_logged_out(
        &app,
        "a session unused for 4 s with --idle-timeout 2 (at most 1 s more on memcached)",
    )
    .await;
}

/// With `--absolute-timeout 3`, a session used every second still ends 3 seconds after it was
/// created, and its first cookie's `Max-Age` is at most 3.
pub async fn absolute_timeout_ends_active_sessions(env: Env) {
    let app = env.launch().args(["--absolute-timeout", "3"]).start();
    let created = Instant::now();
    let mut user = Browser::new();
    let reply = user.get(&app, "/visits").await;
    reply.assert_status(200, "GET /visits");
    let max_age = reply.session_cookie().and_then(|cookie| cookie.max_age());
    assert!(
        max_age.is_some_and(|age| (2..=3).contains(&age)),
        "with --absolute-timeout 3 a new session's cookie must have Max-Age 3 (or 2 after \
         rounding), got {max_age:?}"
    );
    for (count, ms) in [(2, 1000), (3, 2400)] {
        sleep_until(created + Duration::from_millis(ms)).await;
        assert_eq!(
            user.visits(&app).await,
            count,
            "{ms} ms after its creation a session with --absolute-timeout 3 must still be there"
        );
    }
    sleep_until(created + Duration::from_millis(3800)).await;
    assert_eq!(
        user.visits(&app).await,
        1,
        "3.8 s after its creation, a session with --absolute-timeout 3 must be gone, however \
         active"
    );
}
