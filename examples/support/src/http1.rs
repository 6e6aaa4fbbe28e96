//! The HTTP/1.1 server of the axum and hyper apps: hyper's own connection
//! handling with the contract's limits on slow, idle and too many clients, and
//! a graceful shutdown. (The actix app sets up actix-server the same way in
//! its own `transport` module.)
//!
//! - **HTTP/1.1 only.** hyper-util's auto builder would also accept cleartext
//!   HTTP/2, where the header read timeout does not apply.
//! - **Request heads within 10 seconds.** hyper's `header_read_timeout` (it
//!   needs a timer) starts whenever hyper waits for a request head: when the
//!   connection opens, and again when the previous response has been written.
//!   A head not complete by then closes the connection, so an idle keep-alive
//!   connection closes after 10 seconds too, and a client trickling a head
//!   byte by byte gets no longer.
//! - **Bounded heads and buffers.** `max_header_size` refuses a head larger
//!   than 64 KiB (431), and `max_buf_size` caps what hyper buffers for a
//!   connection, so 500 slow clients cost a few tens of megabytes at most.
//! - **Bounded connections.** The process raises its open-file limit to the
//!   hard limit at start and serves at most that many connections less a
//!   reserve (for the store's own connections, logs, ...). A connection
//!   beyond the bound is accepted and closed at once, instead of leaving the
//!   listener to fail on `Too many open files` and lock everyone out.
//!
//! Each connection is its own task, so silent clients never hold up the
//! accept loop.

use std::convert::Infallible;
use std::error::Error as StdError;
use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::runtime::{Shutdown, announce};

/// How long a connection may wait for a complete request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request head accepted, start line included: room for a 10 kB
/// cookie and then some (browsers cap cookies at about 4 kB each).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The most hyper buffers for one connection.
const MAX_BUFFER_BYTES: usize = 64 * 1024;

/// File descriptors kept back from the connection bound, for the store's
/// connections, the listener, logs and the like.
const RESERVED_FILES: u64 = 128;

/// How long the accept loop pauses after a failed accept rather than spin on
/// the error.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Raises the process's open-file limit to its hard limit, and answers how
/// many connections to serve at once: that limit less a reserve.
pub fn connection_bound() -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    };
    usize::try_from(limit.saturating_sub(RESERVED_FILES).max(64)).unwrap_or(usize::MAX)
}

/// The whole life of an app on this server: binds `listen`, handles SIGINT
/// and SIGTERM, prints the `listening on` line, serves `service` until a
/// signal, and shuts down within the contract's deadline. Answers the exit
/// code (with one line on stderr when it cannot start).
pub async fn run<S, B>(program: &str, listen: SocketAddr, service: S) -> ExitCode
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let listener = match TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("{program}: error: cannot listen on {listen}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = match Shutdown::on_signals() {
        Ok(shutdown) => shutdown,
        Err(error) => {
            eprintln!("{program}: error: cannot handle signals: {error}");
            return ExitCode::FAILURE;
        }
    };
    announce(listener.local_addr().unwrap_or(listen));
    match shutdown
        .serve(serve(listener, service, shutdown.requested()))
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(never) => match never {},
    }
}

/// Serves `listener` with `service` until `stop` resolves, then stops
/// accepting and waits for open connections to finish their requests: idle
/// ones close at once, busy ones after their response. The caller bounds that
/// wait ([`Shutdown::serve`](crate::runtime::Shutdown::serve)), since a client
/// may be halfway through sending a head.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    stop: impl Future<Output = ()>,
) -> Result<(), Infallible>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_header_size(MAX_HEAD_BYTES)
        .max_buf_size(MAX_BUFFER_BYTES);
    let slots = Arc::new(Semaphore::new(connection_bound()));
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                        // Over the bound: closed at once, so the listener
                        // keeps working for everyone else.
                        tracing::warn!("too many open connections; closing a new one");
                        drop(stream);
                        continue;
                    };
                    let connection = http.serve_connection(TokioIo::new(stream), service.clone());
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        // Timeouts, resets and malformed requests end here;
                        // they are the client's business, not the log's.
                        if let Err(error) = connection.await {
                            tracing::debug!(%error, "connection closed with an error");
                        }
                        drop(slot);
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            () = &mut stop => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
