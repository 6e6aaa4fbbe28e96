//! The login demo of `shared/specs/example-apps.md` on plain hyper.
//!
//! `cargo run --release -p example-hyper -- [--listen ADDR] [--store SPEC] ...`
//! (`--help` lists the options). The routes are in [`routes`], routed by
//! hand; everything that is not hyper-specific comes from `example-support`,
//! including the HTTP/1.1 server with its limits on slow clients.

#![forbid(unsafe_code)]

mod routes;

use std::process::ExitCode;

use adapter_hyper::SessionService;
use example_support::runtime::{Shutdown, announce};
use hyper::service::service_fn;

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
    let service = SessionService::new(setup.manager, service_fn(routes::handle));
    let server = example_support::http1::serve(listener, service, shutdown.requested());
    match shutdown.serve(server).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(never) => match never {},
    }
}
