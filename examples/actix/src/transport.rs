//! HTTP/1.1 over TCP with the contract's rule for slow and idle clients: a
//! connection on which a complete request head has not arrived within 10
//! seconds of its opening, or of the end of the previous response, is closed.
//!
//! actix-http alone cannot enforce that rule: its head timer covers only a
//! connection's first request, and its keep-alive timer stops at the first
//! byte of the next one, so a client trickling a second request one byte a
//! second would hold the connection for ever. So both timers are off here,
//! and the deadline lives in the transport instead: every accepted stream is a
//! [`DeadlineStream`], whose reads end the stream once its deadline passes.
//!
//! What "a complete head arrived" means is left to actix-http's parser, which
//! calls the app only then: a thin service around the app marks the
//! connection busy from that call until the response is ready, and the
//! stream's writes mark when the response went out. While a request is in
//! flight there is no deadline (a slow store or a long body is not a slow
//! head); once none is, the deadline is 10 seconds after the later of the
//! connection's opening, its last write and the end of its last request. The
//! two halves meet through the connection's data, which actix-http copies
//! into each request.
//!
//! A silent connection costs a socket, a timer and a small buffer until its
//! deadline, and none of it blocks a worker, so hundreds of slow clients do
//! not keep others from being served.
//!
//! The same deadline drains connections on shutdown: once it is requested, a
//! connection closes as soon as no request is in flight on it, so an idle
//! keep-alive does not hold the process up until the grace period ends.

use std::cell::Cell;
use std::fmt;
use std::future::{Future, ready};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use actix_http::body::{BoxBody, MessageBody};
use actix_http::error::DispatchError;
use actix_http::{Extensions, HttpService, KeepAlive, Request, Response};
use actix_service::{
    Service, ServiceFactory, ServiceFactoryExt as _, apply_fn_factory, fn_service,
};
use example_support::runtime::Shutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, Sleep, sleep_until};

/// How long a connection may wait for a complete request head.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds `addr` with room for `backlog` pending connections (the standard
/// library's `bind` allows only 128, too few when hundreds of clients connect
/// at once), ready for `actix_server`.
pub(crate) fn listen(addr: SocketAddr, backlog: u32) -> io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)?.into_std()
}

/// The HTTP/1.1 service for accepted TCP streams: `app` behind actix-http's
/// dispatcher, over [`DeadlineStream`]s that drain once `shutdown` is
/// requested.
pub(crate) fn http1<S, B>(
    app: S,
    shutdown: Shutdown,
) -> impl ServiceFactory<TcpStream, Config = (), Response = (), Error = DispatchError, InitError = ()>
where
    S: ServiceFactory<Request, Config = ()> + 'static,
    S::Future: 'static,
    S::Service: 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Error: Into<Response<BoxBody>> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    B: MessageBody + 'static,
{
    // The app is called once a request's head is complete; its connection
    // has no deadline until the response is ready.
    let app = apply_fn_factory(app, |request: Request, app: &S::Service| {
        let busy = request
            .conn_data::<Rc<Clock>>()
            .map(|clock| Busy::new(Rc::clone(clock)));
        let response = app.call(request);
        async move {
            let response = response.await;
            drop(busy);
            response
        }
    });
    let http = HttpService::build()
        .keep_alive(KeepAlive::Os)
        .client_request_timeout(Duration::ZERO)
        .on_connect_ext(|stream: &DeadlineStream, data: &mut Extensions| {
            data.insert(Rc::clone(&stream.clock));
        })
        .h1(app);
    fn_service(move |stream: TcpStream| {
        // Responses are small and written whole: send them at once.
        let _ = stream.set_nodelay(true);
        let peer = stream.peer_addr().ok();
        let stream = DeadlineStream::new(stream, Box::pin(shutdown.requested()));
        ready(Ok::<_, DispatchError>((stream, peer)))
    })
    .and_then(http)
}

/// A connection's deadline for its next request head, shared by its stream
/// (which enforces it) and its requests (which suspend it).
struct Clock {
    /// Requests being handled: their heads arrived, their responses are not
    /// ready yet.
    busy: Cell<usize>,
    /// The later of the connection's opening, its last write and the end of
    /// its last request.
    idle_since: Cell<Instant>,
    /// Shutdown was requested: close once idle, without waiting for a head.
    draining: Cell<bool>,
    /// The connection's task, to wake when its last request ends while it
    /// drains (it may not read again by itself).
    reader: Cell<Option<Waker>>,
}

impl Clock {
    /// When the connection closes unless a head arrives; none while a
    /// request is being handled.
    fn deadline(&self) -> Option<Instant> {
        let timeout = if self.draining.get() {
            Duration::ZERO
        } else {
            HEAD_TIMEOUT
        };
        (self.busy.get() == 0).then(|| self.idle_since.get() + timeout)
    }

    fn restart(&self) {
        self.idle_since.set(Instant::now());
    }
}

/// Marks its connection busy while it lives: from the app's call to its
/// response (or to the request's cancellation).
struct Busy(Rc<Clock>);

impl Busy {
    fn new(clock: Rc<Clock>) -> Self {
        clock.busy.set(clock.busy.get() + 1);
        Self(clock)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let clock = &self.0;
        clock.busy.set(clock.busy.get().saturating_sub(1));
        clock.restart();
        if let Some(reader) = clock.reader.take().filter(|_| clock.draining.get()) {
            reader.wake();
        }
    }
}

/// An accepted TCP stream whose reads end (as if the client had closed it)
/// once no complete request head arrived by its [`Clock`]'s deadline.
/// actix-http then closes the connection.
pub(crate) struct DeadlineStream {
    stream: TcpStream,
    clock: Rc<Clock>,
    /// Wakes the connection at the deadline, or, while a request is being
    /// handled, a head timeout later to look again: a request can end without
    /// another read, and the deadline must then still fire.
    timer: Pin<Box<Sleep>>,
    /// Resolves when shutdown is requested; polled until then.
    shutdown: Pin<Box<dyn Future<Output = ()>>>,
}

impl DeadlineStream {
    fn new(stream: TcpStream, shutdown: Pin<Box<dyn Future<Output = ()>>>) -> Self {
        let now = Instant::now();
        Self {
            stream,
            clock: Rc::new(Clock {
                busy: Cell::new(0),
                idle_since: Cell::new(now),
                draining: Cell::new(false),
                reader: Cell::new(None),
            }),
            timer: Box::pin(sleep_until(now + HEAD_TIMEOUT)),
            shutdown,
        }
    }
}

impl AsyncRead for DeadlineStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.clock.draining.get() && this.shutdown.as_mut().poll(cx).is_ready() {
            this.clock.draining.set(true);
        }
        let now = Instant::now();
        let deadline = this.clock.deadline();
        if deadline.is_some_and(|deadline| deadline <= now) {
            // Nothing read: the end of the stream.
            return Poll::Ready(Ok(()));
        }
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if read.is_pending() {
            if deadline.is_none() {
                this.clock.reader.set(Some(cx.waker().clone()));
            }
            let wake_at = deadline.unwrap_or(now + HEAD_TIMEOUT);
            if this.timer.deadline() != wake_at {
                this.timer.as_mut().reset(wake_at);
            }
            if this.timer.as_mut().poll(cx).is_ready() {
                cx.waker().wake_by_ref();
            }
        }
        read
    }
}

impl AsyncWrite for DeadlineStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            this.clock.restart();
        }
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            this.clock.restart();
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
