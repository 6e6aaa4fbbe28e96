//! Running an actix-web app the way the harness expects.
//!
//! actix-web serves from worker threads of its own, each with a current-thread
//! runtime; here there is one worker. The main thread runs the actix `System`
//! (on the same current-thread runtime as the other variants), which only
//! starts the worker and stops it on SIGTERM or SIGINT; actix's accept thread
//! hands it the connections.

use std::net::SocketAddr;
use std::process::ExitCode;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::rt::System;
use actix_web::{App, Error, HttpResponse, HttpServer};

use crate::{BoxError, Options};

/// [`crate::run`] inside an actix `System`, which [`serve`] needs.
pub fn run<Serve, Fut>(program: &str, serve: Serve) -> ExitCode
where
    Serve: FnOnce(Options) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    crate::run_on(program, serve, |runtime, serving| {
        System::with_tokio_rt(move || runtime).block_on(serving)
    })
}

/// Binds `listen`, announces the address, and serves the apps `factory`
/// makes (one, for the one worker) until SIGTERM or SIGINT; then lets the
/// requests in flight finish, for up to [`crate::SHUTDOWN_GRACE`].
pub async fn serve<F, T, B>(listen: SocketAddr, factory: F) -> Result<(), BoxError>
where
    F: Fn() -> App<T> + Send + Clone + 'static,
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let listener = std::net::TcpListener::bind(listen)
        .map_err(|error| format!("cannot listen on {listen}: {error}"))?;
    let address = listener.local_addr()?;
    let server = HttpServer::new(factory)
        .workers(1)
        .shutdown_signal(crate::shutdown_signal()?)
        .shutdown_timeout(crate::SHUTDOWN_GRACE.as_secs())
        .listen(listener)?
        .run();
    crate::announce(address)?;
    server.await?;
    Ok(())
}

/// The handler of `/plain`.
pub async fn plain() -> &'static str {
    crate::routes::PLAIN_BODY
}

/// A 200 `text/plain` response with `body`, as actix-web answers a `String`.
pub fn ok(body: String) -> HttpResponse {
    text(StatusCode::OK, body)
}

/// The answer to `/visits` and `/read` without a valid session.
pub fn missing() -> HttpResponse {
    text(StatusCode::UNAUTHORIZED, "no session")
}

fn text(status: StatusCode, body: impl MessageBody + 'static) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(body)
}
