//! The scenarios, one public async function each, named after what they prove. Each takes the
//! [`Env`] of its test, starts the app processes it needs, and panics with a message that quotes
//! the contract when the app breaks it.
//!
//! Scenarios listed for both stores check the memcached-only parts of their claim (no store
//! write, a record deleted) only when they run on memcached.

mod cluster;
mod concurrency;
mod cookie;
mod expiry;
mod faults;
mod load;
mod login;
mod logout;
mod outage;
mod pages;
mod prefs;
mod process;
mod records;
mod sessions;
mod slow_clients;

pub use cluster::{
    instances_share_sessions, key_rotation_keeps_sessions, servers_share_load_and_survive_removal,
};
pub use concurrency::{
    prefs_128_concurrent_puts_all_persist, prefs_cap_holds_under_concurrency,
    prefs_puts_across_instances_all_persist, visits_across_instances_are_exact,
    visits_concurrent_are_exact,
};
pub use cookie::{
    bad_cookie_values_are_no_session, cookie_attributes, foreign_key_cookie_is_no_session,
    read_only_requests_set_no_cookie, secure_cookies_flag,
};
pub use expiry::{absolute_timeout_ends_active_sessions, idle_timeout_expires_unused_sessions};
pub use faults::{
    evicting_memcached_starts_new_sessions, reset_mid_reply_answers_503_and_loses_nothing,
    store_killed_under_load_answers_503_and_recovers, store_restarted_empty_starts_new_sessions,
};
pub use load::mixed_load_on_hot_and_many_sessions_is_exact;
pub use login::{
    login_escapes_name, login_form_creates_session, login_keeps_absolute_timeout,
    login_redirects_only_to_local_next, login_rejects_bad_xsrf, login_rejects_non_form_body,
    login_rotates_session_id, login_validates_name_length,
};
pub use logout::{logout_destroys_session, logout_rejects_bad_xsrf};
pub use outage::{
    full_memcached_answers_503, outage_answers_503_and_recovers,
    silent_memcached_answers_within_budget, slow_memcached_answers_within_budget,
};
pub use pages::{
    personal_pages_are_not_cached_or_framed, root_redirects_anonymous_without_session,
    unknown_path_is_404, visits_count_from_one,
};
pub use prefs::{
    prefs_concurrent_puts_all_persist, prefs_empty_without_session, prefs_limit_is_64,
    prefs_reject_bad_name_or_value, prefs_round_trip,
};
pub use process::{
    random_secret_when_unset, rejects_malformed_options, rejects_short_or_unreadable_secret,
    rejects_unknown_store_scheme, rejects_unparsable_listen_address, sigint_exits_cleanly,
    sigterm_exits_cleanly, starts_with_defaults,
};
pub use records::{
    altered_or_copied_record_is_empty_session, store_keys_reveal_no_cookie,
    store_values_hide_plaintext, undecodable_record_is_empty_session,
    undecodable_user_index_is_no_5xx,
};
pub use sessions::{
    logout_everywhere_ends_every_session, revoke_ends_the_named_session,
    revoke_others_keeps_the_current_one, revoke_own_session_logs_out,
    revoke_refuses_foreign_garbage_and_bad_xsrf, sessions_are_shared_across_instances,
    sessions_list_every_login_of_the_user, sessions_list_no_expired_session,
    sessions_require_login, store_holds_no_user_name,
};
pub use slow_clients::slow_and_idle_connections_are_closed;

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::inspect::{self, Record};
use crate::{App, Browser, Env};

/// A snapshot of memcached's write counters, when the scenario runs on memcached: taken before a
/// request that must not write, and compared after it.
struct Writes(Option<u64>);

impl Writes {
    fn now(env: &Env) -> Self {
        Self(
            env.memcached()
                .map(|server| inspect::writes(&server.stats())),
        )
    }

    /// Panics if memcached was written to since the snapshot.
    fn assert_unchanged(&self, env: &Env, what: &str) {
        assert_eq!(
            Writes::now(env).0,
            self.0,
            "{what} must not write to the store, but memcached's write counters moved"
        );
    }
}

/// How many items memcached holds, when the scenario runs on memcached.
fn stored_items(env: &Env) -> Option<u64> {
    env.memcached()
        .map(|server| server.stats().get("curr_items").copied().unwrap_or(0))
}

/// The memcached key of `user`'s session record, found as anyone reading memcached could: the one
/// item whose value a write to the session (`GET /visits`) changes. A login also stores the
/// user's index of sessions, which such a write leaves alone.
async fn session_record_key(addr: SocketAddr, app: &App, user: &mut Browser) -> String {
    let before: HashMap<String, Record> = inspect::dump(addr).into_iter().collect();
    user.visits(app).await;
    let changed: Vec<String> = inspect::dump(addr)
        .into_iter()
        .filter(|(key, record)| before.get(key) != Some(record))
        .map(|(key, _)| key)
        .collect();
    let [key] = changed.as_slice() else {
        panic!("GET /visits must change exactly one memcached item, its session's: {changed:?}");
    };
    key.clone()
}
