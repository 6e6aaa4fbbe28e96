//! The login demo of `shared/specs/example-apps.md` on plain hyper.
//!
//! `cargo run --release -p example-hyper -- [--listen ADDR] [--store SPEC] ...`
//! (`--help` lists the options). The routes are in [`routes`], routed by
//! hand; the accept loop and its limits on slow clients in [`server`];
//! everything that is not hyper-specific comes from `example-support`.

#![forbid(unsafe_code)]

mod routes;
mod server;

use std::process::ExitCode;

use example_support::runtime::{Shutdown, announce};

const PROGRAM: &str = "example-hyper";

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
    let server = server::serve(listener, setup.manager, shutdown.requested());
    match shutdown.serve(server).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(never) => match never {},
    }
}
