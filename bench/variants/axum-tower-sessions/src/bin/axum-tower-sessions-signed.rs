//! tower-sessions with its defaults and a signed session-ID cookie.

use std::process::ExitCode;

use tower_sessions::cookie::Key;

fn main() -> ExitCode {
    support::run("axum-tower-sessions-signed", |options| {
        let layer = axum_tower_sessions::layer().with_signed(Key::from(&support::SECRET));
        support::axum::serve(options.listen, axum_tower_sessions::app(layer))
    })
}
