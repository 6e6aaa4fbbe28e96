//! The login demo of `shared/specs/example-apps.md` on axum.
//!
//! `cargo run --release -p example-axum -- [--listen ADDR] [--store SPEC] ...`
//! (`--help` lists the options). The routes are in [`routes`]; everything
//! that is not axum-specific comes from `example-support`.

#![forbid(unsafe_code)]

mod routes;

use std::process::ExitCode;

use example_support::runtime::{Shutdown, announce};
use hyper_util::service::TowerToHyperService;

const PROGRAM: &str = "example-axum";

#[tokio::main]
async fn main() -> ExitCode {
    let setup = match example_support::start(PROGRAM) {
        Ok(setup) => setup,
        Err(code) => return code,
    };
    let listen = setup.options.listen;
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("{PROGRAM}: error: cannot listen on {listen}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = match Shutdown::on_signals() {
        Ok(shutdown) => shutdown,
        Err(error) => {
            eprintln!("{PROGRAM}: error: cannot handle signals: {error}");
            return ExitCode::FAILURE;
        }
    };
    announce(listener.local_addr().unwrap_or(listen));
    // hyper's HTTP/1.1 server rather than `axum::serve`, which gives hyper no
    // timer and so no limit on slow or idle clients.
    let service = TowerToHyperService::new(routes::app(setup.manager));
    let server = example_support::http1::serve(listener, service, shutdown.requested());
    match shutdown.serve(server).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(never) => match never {},
    }
}
