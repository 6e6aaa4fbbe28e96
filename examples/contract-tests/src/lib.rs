//! The end-to-end tests of the example apps' HTTP contract
//! (`shared/specs/example-apps.md`), written once and run against every app.
//!
//! Each example package's own integration test expands the whole suite against its binary, since
//! Cargo sets `CARGO_BIN_EXE_*` only inside the package that owns the binary:
//!
//! ```text
//! // examples/axum/tests/contract.rs
//! contract_tests::contract_suite!(env!("CARGO_BIN_EXE_example-axum"));
//! ```
//!
//! That expands to one `#[test]` per scenario and store, in four modules: `memory::NAME` (the
//! app with `--store memory`), `memcached::NAME` (with a real memcached started for that test
//! alone; skipped with a loud warning when memcached is not installed, unless
//! `SESSION_REQUIRE_MEMCACHED=1`), `redis::NAME` (the same on a real redis-server, with
//! `SESSION_REQUIRE_REDIS=1`: every scenario that is not about memcached itself, the store
//! failures both stores must survive, and the several-instances ones) and `process::NAME`
//! (startup and command-line behaviour, which needs no store). Every test starts its own app
//! processes on free ports, so tests run in parallel and a failure names its scenario.
//!
//! Everything is black-box: apps are driven over real HTTP with a [`Browser`] that handles the
//! session cookie by hand, and memcached is read and written directly ([`inspect`]) the way an
//! attacker who reaches it could. The only knowledge taken from the library is the cookie's
//! default name, which the contract refers to.

#![forbid(unsafe_code)]

pub mod app;
pub mod browser;
mod env;
pub mod html;
pub mod inspect;
pub mod scenarios;
pub mod set_cookie;

pub use app::{App, Launch, TEST_SECRET};
pub use browser::{Browser, ListedSession, Reply};
pub use env::{Backend, Env, run, sleep_ms, sleep_until};

/// Expands to the whole contract suite against the binary at `$bin` (an expression of type
/// `&'static str`, normally `env!("CARGO_BIN_EXE_<name>")`).
#[macro_export]
macro_rules! contract_suite {
    ($bin:expr) => {
        $crate::__suite! {
            bin: $bin;
            both: [
                root_redirects_anonymous_without_session,
                login_form_creates_session,
                login_rejects_bad_xsrf,
                login_validates_name_length,
                login_escapes_name,
                login_rotates_session_id,
                login_keeps_absolute_timeout,
                login_redirects_only_to_local_next,
                login_rejects_non_form_body,
                logout_rejects_bad_xsrf,
                logout_destroys_session,
                logout_everywhere_ends_every_session,
                sessions_list_every_login_of_the_user,
                sessions_require_login,
                sessions_list_no_expired_session,
                revoke_ends_the_named_session,
                revoke_others_keeps_the_current_one,
                revoke_own_session_logs_out,
                revoke_refuses_foreign_garbage_and_bad_xsrf,
                visits_count_from_one,
                prefs_round_trip,
                prefs_empty_without_session,
                prefs_reject_bad_name_or_value,
                prefs_limit_is_64,
                prefs_concurrent_puts_all_persist,
                prefs_128_concurrent_puts_all_persist,
                prefs_cap_holds_under_concurrency,
                visits_concurrent_are_exact,
                mixed_load_on_hot_and_many_sessions_is_exact,
                unknown_path_is_404,
                personal_pages_are_not_cached_or_framed,
                cookie_attributes,
                secure_cookies_flag,
                read_only_requests_set_no_cookie,
                bad_cookie_values_are_no_session,
                foreign_key_cookie_is_no_session,
                idle_timeout_expires_unused_sessions,
                absolute_timeout_ends_active_sessions,
                random_secret_when_unset,
                sigterm_exits_cleanly,
                sigint_exits_cleanly,
            ];
            memcached: [
                store_keys_reveal_no_cookie,
                store_values_hide_plaintext,
                undecodable_record_is_empty_session,
                undecodable_user_index_is_no_5xx,
                store_holds_no_user_name,
                altered_or_copied_record_is_empty_session,
                outage_answers_503_and_recovers,
                slow_memcached_answers_within_budget,
                silent_memcached_answers_within_budget,
                full_memcached_answers_503,
                servers_share_load_and_survive_removal,
                key_rotation_keeps_sessions,
                evicting_memcached_starts_new_sessions,
            ];
            stores: [
                store_killed_under_load_answers_503_and_recovers,
                store_restarted_empty_starts_new_sessions,
                reset_mid_reply_answers_503_and_loses_nothing,
            ];
            shared: [
                instances_share_sessions,
                sessions_are_shared_across_instances,
                visits_across_instances_are_exact,
                prefs_puts_across_instances_all_persist,
            ];
            process: [
                starts_with_defaults,
                rejects_unknown_store_scheme,
                rejects_unparsable_listen_address,
                rejects_short_or_unreadable_secret,
                rejects_malformed_options,
                slow_and_idle_connections_are_closed,
            ];
        }
    };
}

/// The expansion of [`contract_suite!`]; not for direct use.
#[doc(hidden)]
#[macro_export]
macro_rules! __suite {
    (
        bin: $bin:expr;
        both: [$($both:ident),* $(,)?];
        memcached: [$($memcached:ident),* $(,)?];
        stores: [$($stores:ident),* $(,)?];
        shared: [$($shared:ident),* $(,)?];
        process: [$($process:ident),* $(,)?];
    ) => {
        mod memory {
            $(
                #[test]
                fn $both() {
                    $crate::run($bin, $crate::Backend::Memory, $crate::scenarios::$both);
                }
            )*
        }

        mod memcached {
            $(
                #[test]
                fn $both() {
                    $crate::run($bin, $crate::Backend::Memcached, $crate::scenarios::$both);
                }
            )*
            $(
                #[test]
                fn $memcached() {
                    $crate::run($bin, $crate::Backend::Memcached, $crate::scenarios::$memcached);
                }
            )*
            $(
                #[test]
                fn $stores() {
                    $crate::run($bin, $crate::Backend::Memcached, $crate::scenarios::$stores);
                }
            )*
            $(
                #[test]
                fn $shared() {
                    $crate::run($bin, $crate::Backend::Memcached, $crate::scenarios::$shared);
                }
            )*
        }

        mod redis {
            $(
                #[test]
                fn $both() {
                    $crate::run($bin, $crate::Backend::Redis, $crate::scenarios::$both);
                }
            )*
            $(
                #[test]
                fn $stores() {
                    $crate::run($bin, $crate::Backend::Redis, $crate::scenarios::$stores);
                }
            )*
            $(
                #[test]
                fn $shared() {
                    $crate::run($bin, $crate::Backend::Redis, $crate::scenarios::$shared);
                }
            )*
        }

        mod process {
            $(
                #[test]
                fn $process() {
                    $crate::run($bin, $crate::Backend::Memory, $crate::scenarios::$process);
                }
            )*
        }
    };
}
