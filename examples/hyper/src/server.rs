//! The accept loop: HTTP/1.1 only, with the contract's limits on slow and
//! idle clients, and a graceful shutdown.
//!
//! Every limit is hyper's own, set on its `http1::Builder`:
//!
//! - **HTTP/1.1 only.** hyper-util's auto builder would also accept cleartext
//!   HTTP/2, where the header read timeout does not apply.
//! - **Request heads within 10 seconds.** `header_read_timeout` (with a
//!   timer, without which hyper would panic) starts when hyper waits for a
//!   request head: when the connection opens, and again when the previous
//!   response has been written. A head not complete by then closes the
//!   connection, so an idle keep-alive connection closes after 10 seconds
//!   too, and a client trickling a head byte by byte gets no longer.
//!   `tests/slow_clients.rs` checks all three against the binary.
//! - **Bounded heads and buffers.** `max_header_size` refuses a head larger
//!   than 64 KiB (431, and the connection closed), and `max_buf_size` caps
//!   what hyper buffers for a connection at all (its default is ~400 kB).
//!
//! Each connection is its own task, so silent clients cost a task and a small
//! buffer each, never the accept loop's attention: hundreds of them do not
//! keep other clients from being served.

use std::future::Future;
use std::time::Duration;

use adapter_hyper::SessionService;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use session_core::SessionManager;
use tokio::net::TcpListener;

use crate::routes;

/// How long a connection may wait for a complete request head.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request head accepted, start line included: room for a 10 kB
/// cookie and then some (browsers cap cookies at about 4 kB each).
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The most hyper buffers for one connection, so that 500 slow clients
/// cost at most a few tens of megabytes.
const MAX_BUFFER_BYTES: usize = 64 * 1024;

/// How long the accept loop pauses after a failed accept (out of file
/// descriptors, say), rather than spin on the error.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `listener` until `stop` resolves, then stops accepting and waits
/// for open connections to finish their requests: idle ones close at once,
/// busy ones after their response. The caller bounds that wait (see
/// `example_support::runtime::Shutdown::serve`), since a client may be
/// halfway through sending a head.
pub(crate) async fn serve(
    listener: TcpListener,
    manager: SessionManager,
    stop: impl Future<Output = ()>,
) -> Result<(), std::convert::Infallible> {
    let service = SessionService::new(manager, service_fn(routes::handle));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_header_size(MAX_HEAD_BYTES)
        .max_buf_size(MAX_BUFFER_BYTES);
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let connection = http.serve_connection(TokioIo::new(stream), service.clone());
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        // Timeouts, resets and malformed requests end here;
                        // they are the client's business, not the log's.
                        if let Err(error) = connection.await {
                            tracing::debug!(%error, "connection closed with an error");
                        }
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
