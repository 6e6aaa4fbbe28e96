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
use hyper::service::service_fn;

const PROGRAM: &str = "example-hyper";

#[tokio::main]
async fn main() -> ExitCode {
    let setup = match example_support::start(PROGRAM) {
        Ok(setup) => setup,
        Err(code) => return code,
    };
    let service = SessionService::new(setup.manager, service_fn(routes::handle));
    example_support::http1::run(PROGRAM, setup.options.listen, service).await
}
