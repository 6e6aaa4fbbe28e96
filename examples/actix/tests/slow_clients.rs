//! The contract's "Slow and idle clients" rule, black-box against the binary:
//! a connection on which a complete request head has not arrived within 10
//! seconds of its opening, or of the end of the previous response, is closed;
//! a head that does arrive in time is served however slowly it came; and 500
//! slow or silent connections do not keep other clients from being served.
//!
//! Plain blocking sockets, so every byte and every moment is the test's.

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use contract_tests::Launch;

const BIN: &str = env!("CARGO_BIN_EXE_example-actix");

/// The contract's deadline for a request head.
const DEADLINE: Duration = Duration::from_secs(10);

/// How far from the deadline a close may be observed: scheduling on a busy
/// test machine, and the client's own reading.
const EARLY: Duration = Duration::from_millis(500);
const LATE: Duration = Duration::from_millis(1500);

fn request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the app");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    stream
}

/// Reads one response (head and `Content-Length` body); answers its status
/// line and body.
fn read_response(stream: &mut TcpStream) -> (String, String) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("set a read timeout");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            other => panic!("the response ended early ({other:?}) after {head:?}"),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).expect("read the body");
    let status = head.lines().next().unwrap_or_default().to_owned();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Sends `bytes` one per `pace` from another thread, stopping at the first
/// write that fails (the server closed the connection).
fn trickle(stream: &TcpStream, bytes: Vec<u8>, pace: Duration) -> thread::JoinHandle<()> {
    let mut stream = stream.try_clone().expect("clone the stream");
    thread::spawn(move || {
        for byte in bytes {
            if stream.write_all(&[byte]).is_err() {
                return;
            }
            thread::sleep(pace);
        }
    })
}

/// Waits for the server to close `stream` (end of stream or reset) without
/// answering anything; answers how long after `since` that was seen.
fn closed_after(stream: &mut TcpStream, since: Instant, what: &str) -> Duration {
    stream
        .set_read_timeout(Some(DEADLINE + LATE + LATE))
        .expect("set a read timeout");
    let mut buffer = [0u8; 256];
    match stream.read(&mut buffer) {
        Ok(0) => {}
        Err(error) if error.kind() == ErrorKind::ConnectionReset => {}
        Ok(n) => panic!(
            "{what}: the server answered instead of closing: {:?}",
            String::from_utf8_lossy(&buffer[..n])
        ),
        Err(error) => panic!("{what}: still open after {:?} ({error})", since.elapsed()),
    }
    since.elapsed()
}

fn assert_closed_at_deadline(closed: Duration, what: &str) {
    assert!(
        closed >= DEADLINE - EARLY && closed <= DEADLINE + LATE,
        "{what}: closed {closed:?} after the deadline started; expected about {DEADLINE:?}"
    );
}

#[test]
fn a_second_request_trickled_in_is_cut_off_ten_seconds_after_the_first_response() {
    let app = Launch::new(BIN).store("memory").start();
    let mut stream = connect(app.addr());
    stream.write_all(&request("/visits")).expect("send");
    let (status, body) = read_response(&mut stream);
    let answered = Instant::now();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert_eq!(body, "1");

    // 35 bytes at one a second: the head would be complete after 35 s.
    let sender = trickle(&stream, request("/visits"), Duration::from_secs(1));
    let closed = closed_after(&mut stream, answered, "a trickled second request");
    assert_closed_at_deadline(closed, "a trickled second request");
    drop(stream);
    sender.join().expect("the trickling thread");
}

#[test]
fn a_first_request_trickled_in_is_cut_off_ten_seconds_after_opening() {
    let app = Launch::new(BIN).store("memory").start();
    let opened = Instant::now();
    let mut stream = connect(app.addr());
    let sender = trickle(&stream, request("/visits"), Duration::from_secs(1));
    let closed = closed_after(&mut stream, opened, "a trickled first request");
    assert_closed_at_deadline(closed, "a trickled first request");
    drop(stream);
    sender.join().expect("the trickling thread");
}

#[test]
fn an_idle_keep_alive_connection_closes_ten_seconds_after_its_response() {
    let app = Launch::new(BIN).store("memory").start();
    let mut stream = connect(app.addr());
    stream.write_all(&request("/nope")).expect("send");
    let (status, _) = read_response(&mut stream);
    let answered = Instant::now();
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    let closed = closed_after(&mut stream, answered, "an idle keep-alive connection");
    assert_closed_at_deadline(closed, "an idle keep-alive connection");
}

#[test]
fn slow_heads_that_arrive_in_time_are_served_and_each_response_restarts_the_clock() {
    let app = Launch::new(BIN).store("memory").start();
    let opened = Instant::now();
    let mut stream = connect(app.addr());
    // Each head takes about 6 s, so the second ends about 12 s after the
    // connection opened: served, since its clock started at the first
    // response. A quiet 7 s then, and a third request in one piece.
    let pace = Duration::from_millis(6000 / 35);
    for _ in 0..2 {
        trickle(&stream, request("/visits"), pace)
            .join()
            .expect("the trickling thread");
        let (status, body) = read_response(&mut stream);
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        assert_eq!(
            body, "1",
            "no cookie is sent, so each visit is a new session's first"
        );
    }
    assert!(
        opened.elapsed() > DEADLINE,
        "the test outlasts one deadline"
    );
    thread::sleep(Duration::from_secs(7));
    stream.write_all(&request("/nope")).expect("send");
    let (status, _) = read_response(&mut stream);
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
}

#[test]
fn five_hundred_slow_clients_do_not_keep_others_waiting() {
    let app = Launch::new(BIN).store("memory").start();
    let opened = Instant::now();
    // Half say nothing, half send a head that never ends, a byte at a time.
    let mut slow: Vec<TcpStream> = (0..500).map(|_| connect(app.addr())).collect();
    let mut trickling: Vec<TcpStream> = slow
        .iter()
        .skip(250)
        .map(|stream| stream.try_clone().expect("clone the stream"))
        .collect();
    let sender = thread::spawn(move || {
        for byte in b"GET / HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            .iter()
            .copied()
        {
            trickling.retain_mut(|stream| stream.write_all(&[byte]).is_ok());
            if trickling.is_empty() {
                return;
            }
            thread::sleep(Duration::from_millis(500));
        }
    });

    for round in 0..20 {
        let started = Instant::now();
        let mut stream = connect(app.addr());
        let close = "GET /visits HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
        stream.write_all(close.as_bytes()).expect("send");
        let (status, body) = read_response(&mut stream);
        assert!(
            status.starts_with("HTTP/1.1 200"),
            "round {round}: {status}"
        );
        assert_eq!(body, "1", "round {round}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "round {round}: a normal request took {:?} among 500 slow connections",
            started.elapsed()
        );
        thread::sleep(Duration::from_millis(200));
    }

    // All 500 are closed by the server at their deadline.
    thread::sleep((opened + DEADLINE + LATE).saturating_duration_since(Instant::now()));
    for (index, stream) in slow.iter_mut().enumerate() {
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("set a read timeout");
        let mut buffer = [0u8; 64];
        match stream.read(&mut buffer) {
            Ok(0) => {}
            Err(error) if error.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("slow connection {index} not closed at its deadline: {other:?}"),
        }
    }
    sender.join().expect("the trickling thread");
}
