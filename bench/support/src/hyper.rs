//! Serving a hyper service the way the harness expects: HTTP/1.1 only, every
//! connection a task on the current-thread runtime; and the responses the
//! hand-written routers answer.

use std::error::Error;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body as HttpBody, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;

use crate::BoxError;

/// The response body of the hand-written routers.
pub type Body = Full<Bytes>;

/// How long to wait before accepting again after an error such as
/// running out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Binds `listen`, announces the address, and serves `service` on every
/// connection until SIGTERM or SIGINT; then closes the idle connections and
/// lets the requests in flight finish, for up to [`crate::SHUTDOWN_GRACE`].
pub async fn serve<S, B>(listen: SocketAddr, service: S) -> Result<(), BoxError>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn Error + Send + Sync>>,
    B: HttpBody + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
{
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| format!("cannot listen on {listen}: {error}"))?;
    let mut shutdown = pin!(crate::shutdown_signal()?);
    crate::announce(listener.local_addr()?)?;
    let connections = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    eprintln!("accept: {error}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection =
            http1::Builder::new().serve_connection(TokioIo::new(stream), service.clone());
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            // A client that goes away mid-request is no concern of ours.
            let _ = connection.await;
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(crate::SHUTDOWN_GRACE, connections.shutdown()).await;
    Ok(())
}

/// A 200 `text/plain` response with `body`.
pub fn ok(body: impl Into<Bytes>) -> Response<Body> {
    text(StatusCode::OK, body)
}

/// The answer to `/visits` and `/read` without a valid session.
pub fn missing() -> Response<Body> {
    text(StatusCode::UNAUTHORIZED, "no session")
}

/// The answer to a path or method the routes do not know.
pub fn not_found() -> Response<Body> {
    text(StatusCode::NOT_FOUND, "not found")
}

/// A `text/plain` response.
pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
