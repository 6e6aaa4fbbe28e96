//! tower-sessions with its defaults: a plain (unsigned) session-ID cookie.

use std::process::ExitCode;

fn main() -> ExitCode {
    support::run("axum-tower-sessions", |options| {
        let app = axum_tower_sessions::app(axum_tower_sessions::layer());
        support::axum::serve(options.listen, app)
    })
}
