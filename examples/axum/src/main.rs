//! The login demo of `shared/specs/example-apps.md` on axum.
//!
//! `cargo run --release -p example-axum -- [--listen ADDR] [--store SPEC] ...`
//! (`--help` lists the options). The routes are in [`routes`]; everything
//! that is not axum-specific comes from `example-support`.

#![forbid(unsafe_code)]

mod routes;

use std::process::ExitCode;

use hyper_util::service::TowerToHyperService;

const PROGRAM: &str = "example-axum";

#[tokio::main]
async fn main() -> ExitCode {
    let setup = match example_support::start(PROGRAM) {
        Ok(setup) => setup,
        Err(code) => return code,
    };
    // hyper's HTTP/1.1 server rather than `axum::serve`, which gives hyper no
    // timer and so no limit on slow or idle clients.
    let service = TowerToHyperService::new(routes::app(setup.manager));
    example_support::http1::run(PROGRAM, setup.options.listen, service).await
}
