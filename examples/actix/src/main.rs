//! The login demo of `shared/specs/example-apps.md` on actix-web.
//!
//! `cargo run --release -p example-actix -- [--listen ADDR] [--store SPEC] ...`
//! (`--help` lists the options). The routes are in [`routes`]; the HTTP/1.1
//! transport with the contract's deadline for slow clients in [`transport`];
//! everything that is not actix-specific comes from `example-support`.
//!
//! The server is actix-server's, serving actix-http's HTTP/1.1 dispatcher
//! over the transport's streams, with one `App` per worker. actix's own signal
//! handling is off: `example_support::runtime::Shutdown` stops it on SIGINT
//! or SIGTERM. It stops accepting, idle connections close at once, requests
//! in flight finish, and whatever is still open after the grace period is
//! dropped, so the process exits 0 within 5 seconds.

#![forbid(unsafe_code)]

mod routes;
mod transport;

use std::process::ExitCode;

use actix_service::map_config;
use actix_web::dev::AppConfig;
use example_support::Setup;
use example_support::runtime::{SHUTDOWN_GRACE, Shutdown, announce};

const PROGRAM: &str = "example-actix";

/// Pending connections the kernel keeps for us: hundreds of clients may
/// connect at once.
const BACKLOG: u32 = 1024;

fn main() -> ExitCode {
    let setup = match example_support::start(PROGRAM) {
        Ok(setup) => setup,
        Err(code) => return code,
    };
    actix_rt::System::new().block_on(serve(setup))
}

async fn serve(setup: Setup) -> ExitCode {
    let listen = setup.options.listen;
    let listener = match transport::listen(listen, BACKLOG) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("{PROGRAM}: error: cannot listen on {listen}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().unwrap_or(listen);
    let shutdown = match Shutdown::on_signals() {
        Ok(shutdown) => shutdown,
        Err(error) => {
            eprintln!("{PROGRAM}: error: cannot handle signals: {error}");
            return ExitCode::FAILURE;
        }
    };
    let manager = setup.manager;
    let draining = shutdown.clone();
    // The open-file limit raised to its hard limit, and the connections bounded
    // below it. actix-server pauses accepting at its bound (the backlog holds
    // what comes meanwhile) rather than close new connections at once as the
    // hyper-served apps do; either way the listener never fails on
    // `Too many open files`.
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let per_worker = (example_support::http1::connection_bound() / workers).max(1);
    let server = actix_server::Server::build()
        .workers(workers)
        .max_concurrent_connections(per_worker)
        .shutdown_signal(shutdown.requested())
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        .listen(PROGRAM, listener, move || {
            let app = routes::app(manager.clone());
            let app = map_config(app, |()| AppConfig::default());
            transport::http1(app, draining.clone())
        });
    let server = match server {
        Ok(server) => server.run(),
        Err(error) => {
            eprintln!("{PROGRAM}: error: cannot serve on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    announce(addr);
    match shutdown.serve(server).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{PROGRAM}: error: {error}");
            ExitCode::FAILURE
        }
    }
}
