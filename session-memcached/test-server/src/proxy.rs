//! A TCP proxy that stands between a client under test and a real server, and misbehaves on
//! demand.
//!
//! A memcached that is *down* is easy to test: kill it. The harder failures are a server that is
//! up but slow, one that accepts connections and then never answers, and one that breaks a
//! connection in the middle of an answer. A real memcached does none of these on request, so the
//! proxy does them: point the client at [`Proxy::spec`] instead of the server, and switch the
//! [`ProxyMode`] while the test runs. A switch applies at once, to open connections too.
//!
//! ```no_run
//! use std::time::Duration;
//! use test_memcached::{MemcachedServer, Proxy, ProxyMode};
//!
//! let Some(server) = MemcachedServer::start() else { return };
//! let proxy = Proxy::start(server.addr());
//! // ... start the client on `proxy.spec()` ...
//! proxy.set_mode(ProxyMode::Delay(Duration::from_millis(450)));
//! // ... every answer now arrives 450 ms late ...
//! proxy.set_mode(ProxyMode::Pass);
//! ```
//!
//! Like the rest of the crate it is blocking `std`, so it works under any async runtime or none.
//! Each client connection gets its own connection to the upstream server and three threads: one
//! forwards requests, one reads answers and stamps each with the time it is due, one writes them
//! out when due. Reading and writing answers apart is what makes [`ProxyMode::Delay`] a delay
//! rather than a throttle: an answer that arrives while another is held is held for its own
//! delay, not after the other's. Dropping the [`Proxy`] closes every connection and joins every
//! thread, so a test leaves nothing running behind it.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use socket2::SockRef;

/// How long the proxy waits for the upstream server to accept a connection. Past it the client's
/// connection is closed, as a server that is down would have it.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How much one read takes at most; memcached answers for sessions are far smaller.
const CHUNK: usize = 64 * 1024;

/// How the proxy treats the traffic, switchable at any time with [`Proxy::set_mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyMode {
    /// Forwards everything both ways, untouched: a healthy server.
    #[default]
    Pass,
    /// Holds every chunk from the server this long before passing it to the client (requests go
    /// through at once): a slow server, every answer late by the same amount. Each chunk is held
    /// from the moment it arrives, so delays do not add up on a busy connection.
    Delay(Duration),
    /// Accepts connections and reads requests but passes nothing on, either way: a server that
    /// went silent (hung, or behind a network that drops packets). Requests read in this mode
    /// never reach the server, so a write the client gave up on does not happen behind its back,
    /// and no late answer is left on a connection for a later request to read by mistake.
    BlackHole,
    /// Passes requests on, but of each chunk of an answer only the first half, and then resets
    /// the client's connection (an RST, not an orderly close): a server or network that breaks in
    /// the middle of an answer.
    ResetMidReply,
}

/// A running proxy on a free `127.0.0.1` port, in front of one upstream server. Stops on drop.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy to `upstream` in [`ProxyMode::Pass`].
    ///
    /// The upstream server need not be running yet: each client connection dials it when it is
    /// accepted, and a failed dial closes that client connection.
    ///
    /// Panics when no local port can be bound: this is a test helper.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|error| panic!("the proxy cannot bind a local port: {error}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|error| panic!("the proxy cannot read its address: {error}"));
        let shared = Arc::new(Shared {
            upstream,
            mode: Mutex::new(ProxyMode::Pass),
            stop: Stop::default(),
            links: Mutex::new(Vec::new()),
            connections: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("proxy-{}-accept", addr.port()))
                .spawn(move || accept(&listener, &shared))
                .unwrap_or_else(|error| panic!("cannot start the proxy's thread: {error}"))
        };
        Proxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The store spec that sends a client through the proxy: `memcached://127.0.0.1:PORT`.
    pub fn spec(&self) -> String {
        format!("memcached://{}", self.addr)
    }

    /// The upstream server's address.
    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// Switches the mode; it applies to the next chunk read on every connection, open or new.
    /// Chunks already held by [`ProxyMode::Delay`] keep their time.
    pub fn set_mode(&self, mode: ProxyMode) {
        *lock(&self.shared.mode) = mode;
    }

    /// The current mode.
    pub fn mode(&self) -> ProxyMode {
        self.shared.mode()
    }
}

impl Drop for Proxy {
    /// Stops accepting, closes every connection (held answers are dropped) and waits for every
    /// thread to end.
    fn drop(&mut self) {
        self.shared.stop.set();
        // The acceptor blocks in `accept`; a connection of our own wakes it to see the stop. Should
        // that fail, which a listening socket on loopback does not, leave the thread rather than
        // hang the test in `join`.
        let woken = TcpStream::connect_timeout(&self.addr, UPSTREAM_CONNECT_TIMEOUT).is_ok();
        if let Some(acceptor) = self.acceptor.take()
            && woken
        {
            let _ = acceptor.join();
        }
        // No connection thread starts after this point (the acceptor is gone), and one that
        // registers its link from now on sees the stop and closes it itself.
        for link in lock(&self.shared.links).drain(..) {
            if let Some(link) = link.upgrade() {
                link.close();
            }
        }
        let connections = std::mem::take(&mut *lock(&self.shared.connections));
        for connection in connections {
            let _ = connection.join();
        }
    }
}

/// What the acceptor and the connection threads share with the [`Proxy`].
#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    mode: Mutex<ProxyMode>,
    stop: Stop,
    /// Every open connection pair, to close them on drop. Weak, so that a connection's sockets
    /// close when its own thread ends: [`Link::reset`] relies on that last close.
    links: Mutex<Vec<Weak<Link>>>,
    /// One thread per client connection, to join on drop.
    connections: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn mode(&self) -> ProxyMode {
        *lock(&self.mode)
    }

    /// Registers `link` for closing on drop; `false` (and the link closed) if the proxy is
    /// already stopping.
    fn register(&self, link: &Arc<Link>) -> bool {
        let mut links = lock(&self.links);
        links.retain(|link| link.strong_count() > 0);
        links.push(Arc::downgrade(link));
        if self.stop.is_set() {
            link.close();
            return false;
        }
        true
    }
}

/// The stop signal: a flag, and a condition variable to wake threads that hold an answer.
#[derive(Debug, Default)]
struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    fn set(&self) {
        *lock(&self.stopped) = true;
        self.wake.notify_all();
    }

    fn is_set(&self) -> bool {
        *lock(&self.stopped)
    }

    /// Sleeps until `due`; `false` if the proxy stopped first.
    fn sleep_until(&self, due: Instant) -> bool {
        let mut stopped = lock(&self.stopped);
        loop {
            if *stopped {
                return false;
            }
            let left = due.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            stopped = match self.wake.wait_timeout(stopped, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

/// One client connection and the proxy's connection to the upstream server for it.
///
/// Each socket is one file descriptor shared by reference among the connection's threads (`Read`
/// and `Write` work on `&TcpStream`), never duplicated, so dropping the link really closes them.
#[derive(Debug)]
struct Link {
    client: TcpStream,
    server: TcpStream,
}

impl Link {
    /// Ends both connections: every thread blocked on them wakes up and finishes.
    fn close(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
    }

    /// Resets the client's connection: the client sees `ECONNRESET`, not an orderly end.
    ///
    /// With `SO_LINGER` set to zero the kernel answers the socket's final close with an RST
    /// instead of a FIN (std cannot set it: `TcpStream::set_linger` is unstable, hence
    /// `socket2`). That close happens when the connection's threads have ended and dropped the
    /// link, so this only wakes them: shutting down the client's *reading* side sends nothing to
    /// the client (a write shutdown would send the FIN we must avoid), and the server side is
    /// closed outright.
    fn reset(&self) {
        let _ = SockRef::from(&self.client).set_linger(Some(Duration::ZERO));
        let _ = self.client.shutdown(Shutdown::Read);
        let _ = self.server.shutdown(Shutdown::Both);
    }
}

/// A chunk of an answer, held until it is due.
#[derive(Debug)]
struct Answer {
    due: Instant,
    bytes: Vec<u8>,
    /// Reset the client's connection once these bytes are written.
    then_reset: bool,
}

/// The acceptor: one thread per client connection, until the proxy stops.
fn accept(listener: &TcpListener, shared: &Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stop.is_set() {
            return;
        }
        let Ok(client) = client else {
            // A connection that failed while queued, or a lack of file descriptors: back off a
            // little instead of spinning, and go on.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let for_thread = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name(format!(
                "proxy-{}-conn",
                client.local_addr().map_or(0, |a| a.port())
            ))
            .spawn(move || serve(client, &for_thread));
        let mut connections = lock(&shared.connections);
        // A finished thread's handle can go: there is nothing left to join.
        connections.retain(|connection| !connection.is_finished());
        // A thread that cannot start drops its client connection with it: the client sees it
        // closed.
        if let Ok(connection) = spawned {
            connections.push(connection);
        }
    }
}

/// Runs one client connection until it ends: dials the upstream, then forwards requests on this
/// thread while two scoped threads carry the answers.
fn serve(client: TcpStream, shared: &Shared) {
    let Ok(server) = TcpStream::connect_timeout(&shared.upstream, UPSTREAM_CONNECT_TIMEOUT) else {
        // Closing the client's connection is the closest a proxy gets to "connection refused".
        return;
    };
    // Small answers must not wait for more data to fill a segment: the delay is ours to decide.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let link = Arc::new(Link { client, server });
    if !shared.register(&link) {
        return;
    }
    let link = &*link;
    thread::scope(|scope| {
        let (answers, held) = mpsc::channel();
        scope.spawn(move || read_answers(link, shared, &answers));
        scope.spawn(move || write_answers(link, shared, &held));
        forward_requests(link, shared);
    });
    // Dropping the last reference to the link here closes both sockets.
}

/// Client to server: forwards each chunk of requests, or swallows it in [`ProxyMode::BlackHole`].
fn forward_requests(link: &Link, shared: &Shared) {
    let mut buffer = vec![0; CHUNK];
    loop {
        let read = match (&link.client).read(&mut buffer) {
            Ok(0) => {
                // The client has sent everything (or the link is being reset or closed): pass the
                // end on, so the server finishes too.
                let _ = link.server.shutdown(Shutdown::Write);
                return;
            }
            Ok(read) => read,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(_) => {
                link.close();
                return;
            }
        };
        if shared.mode() == ProxyMode::BlackHole {
            continue;
        }
        if (&link.server).write_all(&buffer[..read]).is_err() {
            link.close();
            return;
        }
    }
}

/// Server to client, first half: reads each chunk of answers and decides, by the mode at the
/// moment it arrives, when and how it goes out.
fn read_answers(link: &Link, shared: &Shared, answers: &Sender<Answer>) {
    let mut buffer = vec![0; CHUNK];
    loop {
        let read = match (&link.server).read(&mut buffer) {
            // The server is done: dropping the sender lets the writer finish.
            Ok(0) => return,
            Ok(read) => read,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(_) => {
                link.close();
                return;
            }
        };
        let now = Instant::now();
        let bytes = buffer[..read].to_vec();
        let answer = match shared.mode() {
            ProxyMode::Pass => Answer {
                due: now,
                bytes,
                then_reset: false,
            },
            ProxyMode::Delay(delay) => Answer {
                due: now + delay,
                bytes,
                then_reset: false,
            },
            ProxyMode::BlackHole => continue,
            ProxyMode::ResetMidReply => Answer {
                due: now,
                bytes: bytes[..read / 2].to_vec(),
                then_reset: true,
            },
        };
        if answers.send(answer).is_err() {
            // The writer is gone: the client's connection ended.
            return;
        }
    }
}

/// Server to client, second half: writes each answer chunk when it is due, in order.
fn write_answers(link: &Link, shared: &Shared, held: &Receiver<Answer>) {
    for answer in held {
        if !shared.stop.sleep_until(answer.due) {
            return;
        }
        if (&link.client).write_all(&answer.bytes).is_err() {
            link.close();
            return;
        }
        if answer.then_reset {
            link.reset();
            return;
        }
    }
    // The server closed and every answer is out: close towards the client the same way.
    let _ = link.client.shutdown(Shutdown::Write);
}

/// Locks `mutex`, also after a panic elsewhere: the data (a mode, a flag, lists of handles) is
/// valid at every point, and a proxy that stops working because one test thread panicked would
/// only hide the first failure behind others.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How long a test read waits before the test fails instead of hanging.
    const READ_TIMEOUT: Duration = Duration::from_secs(5);

    /// A server that sends back every byte it receives: the simplest upstream whose answers a
    /// test knows in advance. Its threads end with their connections; the accepting one lives as
    /// long as the test process, which is what a fixture for this module's tests needs.
    fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the echo server");
        let addr = listener.local_addr().expect("the echo server's address");
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let _ = std::io::copy(&mut &stream, &mut &stream);
                });
            }
        });
        addr
    }

    /// A client connection through `proxy`, with a read timeout so a test cannot hang.
    fn connect(proxy: &Proxy) -> TcpStream {
        let stream = TcpStream::connect(proxy.addr()).expect("connect to the proxy");
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("set a read timeout");
        stream
    }

    fn read_exactly(stream: &mut TcpStream, len: usize) -> Vec<u8> {
        let mut bytes = vec![0; len];
        stream.read_exact(&mut bytes).expect("read the echo");
        bytes
    }

    #[test]
    fn pass_forwards_both_ways() {
        let proxy = Proxy::start(echo_server());
        assert!(proxy.spec().starts_with("memcached://127.0.0.1:"));
        assert_eq!(proxy.mode(), ProxyMode::Pass);
        let mut first = connect(&proxy);
        let mut second = connect(&proxy);
        first.write_all(b"get a\r\n").expect("write");
        second.write_all(b"get b\r\n").expect("write");
        assert_eq!(read_exactly(&mut first, 7), b"get a\r\n");
        assert_eq!(read_exactly(&mut second, 7), b"get b\r\n");
    }

    #[test]
    fn delay_holds_each_answer_for_its_own_time() {
        let proxy = Proxy::start(echo_server());
        let delay = Duration::from_millis(300);
        proxy.set_mode(ProxyMode::Delay(delay));
        let mut client = connect(&proxy);
        let started = Instant::now();
        // Five requests 50 ms apart: each answer is due 300 ms after its own, so the last arrives
        // about 500 ms in; delays that added up would take over 1.5 s.
        for byte in b"abcde" {
            client.write_all(&[*byte]).expect("write");
            thread::sleep(Duration::from_millis(50));
        }
        let first = {
            let mut byte = [0];
            client.read_exact(&mut byte).expect("read the first answer");
            started.elapsed()
        };
        let mut rest = [0; 4];
        client
            .read_exact(&mut rest)
            .expect("read the other answers");
        let all = started.elapsed();
        assert!(first >= delay, "the first answer came after {first:?}");
        assert!(
            all < Duration::from_millis(1200),
            "five answers took {all:?}: the delays added up"
        );
        assert_eq!(&rest, b"bcde");

        proxy.set_mode(ProxyMode::Pass);
        let started = Instant::now();
        client.write_all(b"f").expect("write");
        assert_eq!(read_exactly(&mut client, 1), b"f");
        assert!(started.elapsed() < delay, "Pass still delays");
    }

    #[test]
    fn black_hole_answers_nothing_and_forwards_nothing() {
        let proxy = Proxy::start(echo_server());
        let mut client = connect(&proxy);
        client.write_all(b"warm").expect("write");
        assert_eq!(read_exactly(&mut client, 4), b"warm");

        proxy.set_mode(ProxyMode::BlackHole);
        client.write_all(b"lost").expect("write");
        // A new connection is accepted too, and stays as silent.
        let mut late = connect(&proxy);
        late.write_all(b"also lost").expect("write");
        for stream in [&mut client, &mut late] {
            stream
                .set_read_timeout(Some(Duration::from_millis(300)))
                .expect("set a read timeout");
            let error = stream
                .read(&mut [0; 16])
                .expect_err("BlackHole must answer nothing");
            assert!(
                matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
                "expected a read timeout, got {error}"
            );
            stream
                .set_read_timeout(Some(READ_TIMEOUT))
                .expect("set a read timeout");
        }

        // Back to Pass, the same connections work, and what was swallowed never reached the
        // server: the next answer is the next request's alone.
        proxy.set_mode(ProxyMode::Pass);
        client.write_all(b"found").expect("write");
        assert_eq!(read_exactly(&mut client, 5), b"found");
        late.write_all(b"here").expect("write");
        assert_eq!(read_exactly(&mut late, 4), b"here");
    }

    #[test]
    fn reset_mid_reply_sends_half_an_answer_then_resets() {
        let proxy = Proxy::start(echo_server());
        proxy.set_mode(ProxyMode::ResetMidReply);
        let mut client = connect(&proxy);
        client.write_all(b"0123456789").expect("write");
        let mut received = Vec::new();
        let mut buffer = [0; 16];
        let error = loop {
            match client.read(&mut buffer) {
                Ok(0) => panic!("an orderly close after {received:?}, not a reset"),
                Ok(read) => received.extend_from_slice(&buffer[..read]),
                Err(error) => break error,
            }
        };
        assert_eq!(error.kind(), ErrorKind::ConnectionReset, "{error}");
        assert_eq!(received, b"01234");

        // Only that connection was reset: the proxy serves the next one.
        proxy.set_mode(ProxyMode::Pass);
        let mut next = connect(&proxy);
        next.write_all(b"ok").expect("write");
        assert_eq!(read_exactly(&mut next, 2), b"ok");
    }

    #[test]
    fn a_dead_upstream_closes_the_client_connection() {
        let unused = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .expect("find a free port");
        let proxy = Proxy::start(unused);
        assert_eq!(proxy.upstream(), unused);
        let mut client = connect(&proxy);
        let ended = client.read(&mut [0; 1]);
        assert!(
            matches!(ended, Ok(0)) || ended.is_err(),
            "expected the connection to end, got {ended:?}"
        );
    }

    #[test]
    fn drop_closes_connections_and_ends_threads_at_once() {
        let proxy = Proxy::start(echo_server());
        let addr = proxy.addr();
        let mut idle = connect(&proxy);
        let mut waiting = connect(&proxy);
        // Prove both connections are set up end to end before holding an answer on one.
        for stream in [&mut idle, &mut waiting] {
            stream.write_all(b"up").expect("write");
            assert_eq!(read_exactly(stream, 2), b"up");
        }
        proxy.set_mode(ProxyMode::Delay(Duration::from_secs(30)));
        waiting.write_all(b"held").expect("write");
        thread::sleep(Duration::from_millis(100));

        let started = Instant::now();
        drop(proxy);
        // `drop` joins every thread, so returning at all proves none is left running.
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "drop took {:?}",
            started.elapsed()
        );
        for stream in [&mut idle, &mut waiting] {
            let ended = stream.read(&mut [0; 8]);
            assert!(
                matches!(ended, Ok(0)) || ended.is_err(),
                "a connection outlived the proxy: {ended:?}"
            );
        }
        assert!(
            TcpStream::connect(addr).is_err(),
            "the proxy still listens after drop"
        );
    }
}
