//! The contract's "Slow and idle clients" against the binary: a connection
//! on which a complete request head has not arrived within 10 seconds of its
//! opening, or of the end of the previous response on it, is closed; and
//! while 500 such connections are open, other clients are served as usual.
//!
//! Every case runs at once on one app, so the whole scenario takes one
//! timeout (about 11 seconds), not one per case. Plain blocking sockets, so
//! what the client sends is exactly what the bytes say.

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::Env;

/// The contract's limit.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How early a close may come: the limit is 10 s, not less.
const EARLIEST: Duration = Duration::from_secs(9);
/// How late a close may come: the limit plus scheduling slack.
const LATEST: Duration = Duration::from_secs(12);
/// Silent connections held open while others are served.
const SILENT: usize = 500;

const REQUEST: &[u8] = b"GET /visits HTTP/1.1\r\nHost: test\r\n\r\n";
/// The start of a head that never completes.
const SLOW_HEAD: &[u8] = b"GET /visits HTTP/1.1\r\nHost: test\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaa";

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connected");
    stream
        .set_read_timeout(Some(LATEST + Duration::from_secs(5)))
        .expect("a read timeout");
    stream
}

/// Reads one response to a `GET /visits`; answers its status line.
fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let read = stream.read(&mut chunk).expect("a response");
        assert!(read > 0, "the connection closed before a whole response");
        received.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&received);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length").then_some(value)
                })
                .and_then(|length| length.trim().parse::<usize>().ok())
                .expect("a content-length");
            if body.len() >= length {
                return head.lines().next().unwrap_or_default().to_owned();
            }
        }
    }
}

/// Waits until the server closes `stream` (end of file, or a reset because
/// it closed with our unread bytes); answers how long that took from `since`.
/// Whatever the server sends first (a 408, say) is read and ignored.
fn time_to_close(mut stream: TcpStream, since: Instant) -> Duration {
    let mut chunk = [0u8; 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return since.elapsed(),
            Ok(_) => continue,
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
                ) =>
            {
                return since.elapsed();
            }
            Err(error) => panic!("the connection was not closed: {error}"),
        }
    }
}

/// Sends `bytes` one per second on a clone of `stream` until the server
/// closes it (or they run out, which they must not before the timeout).
fn trickle(stream: &TcpStream, bytes: &'static [u8]) {
    let mut writer = stream.try_clone().expect("a second handle");
    thread::spawn(move || {
        for byte in bytes {
            if writer.write_all(&[*byte]).is_err() {
                return;
            }
            thread::sleep(Duration::from_secs(1));
        }
    });
}

/// One case: sets up a connection and answers when its clock starts.
type Case = fn(SocketAddr) -> (TcpStream, Instant);

fn silent_from_the_start(addr: SocketAddr) -> (TcpStream, Instant) {
    let stream = connect(addr);
    (stream, Instant::now())
}

fn trickled_first_head(addr: SocketAddr) -> (TcpStream, Instant) {
    let stream = connect(addr);
    let opened = Instant::now();
    trickle(&stream, SLOW_HEAD);
    (stream, opened)
}

fn idle_after_a_response(addr: SocketAddr) -> (TcpStream, Instant) {
    let mut stream = connect(addr);
    stream.write_all(REQUEST).expect("sent");
    assert_eq!(read_response(&mut stream), "HTTP/1.1 200 OK");
    (stream, Instant::now())
}

fn trickled_second_head(addr: SocketAddr) -> (TcpStream, Instant) {
    let mut stream = connect(addr);
    stream.write_all(REQUEST).expect("sent");
    assert_eq!(read_response(&mut stream), "HTTP/1.1 200 OK");
    let answered = Instant::now();
    trickle(&stream, SLOW_HEAD);
    (stream, answered)
}

/// A connection on which a complete request head has not arrived within 10 seconds of its
/// opening, or of the end of the previous response, is closed (silent, trickling, idle
/// keep-alive, a trickled second head); 500 such connections open keep no one else from being
/// served; a head over the bound is refused.
pub async fn slow_and_idle_connections_are_closed(env: Env) {
    let app = env.launch().start();
    let addr = app.addr();

    // Hundreds of silent clients, half of them halfway through a head.
    let silent: Vec<TcpStream> = (0..SILENT)
        .map(|index| {
            let mut stream = connect(addr);
            if index % 2 == 0 {
                stream.write_all(&SLOW_HEAD[..20]).expect("sent");
            }
            stream
        })
        .collect();

    let cases: [(&str, Case); 4] = [
        ("a silent new connection", silent_from_the_start),
        ("a head trickled a byte a second", trickled_first_head),
        ("an idle keep-alive connection", idle_after_a_response),
        (
            "a second head trickled on a keep-alive connection",
            trickled_second_head,
        ),
    ];
    let timers: Vec<_> = cases
        .into_iter()
        .map(|(name, case)| {
            thread::spawn(move || {
                let (stream, since) = case(addr);
                (name, time_to_close(stream, since))
            })
        })
        .collect();

    // Meanwhile, other clients are served as usual.
    for _ in 0..20 {
        let started = Instant::now();
        let mut stream = connect(addr);
        stream.write_all(REQUEST).expect("sent");
        assert_eq!(read_response(&mut stream), "HTTP/1.1 200 OK");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a request took {:?} with {SILENT} silent connections open",
            started.elapsed()
        );
        thread::sleep(Duration::from_millis(200));
    }

    // A head over the limit (at most 128 KiB, actix-http's fixed one) is
    // refused, not buffered and served.
    let mut huge = connect(addr);
    let filler = "a".repeat(140 * 1024);
    let head = format!("GET /visits HTTP/1.1\r\nHost: test\r\nX-Big: {filler}\r\n\r\n");
    let _ = huge.write_all(head.as_bytes());
    let mut answer = [0u8; 64];
    // The app answers 431 and closes; a close with our bytes unread may reset
    // the connection before we read that, which is a refusal too.
    if let Ok(read) = huge.read(&mut answer) {
        let answer = String::from_utf8_lossy(&answer[..read]);
        assert!(
            read == 0 || answer.starts_with("HTTP/1.1 431"),
            "a 140 kB head was answered {answer:?}"
        );
    }

    for timer in timers {
        let (name, closed_after) = timer.join().expect("the case ran");
        assert!(
            (EARLIEST..=LATEST).contains(&closed_after),
            "{name}: closed after {closed_after:?}, expected about {HEAD_TIMEOUT:?}"
        );
    }
    drop(silent);
}
