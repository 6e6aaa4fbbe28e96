//! Graceful shutdown, beyond the contract's bound of 5 seconds: on SIGTERM
//! an idle keep-alive connection closes at once, a request in flight still
//! gets its response (and then its connection closes), and the process exits
//! 0 as soon as that is done.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use contract_tests::Launch;

const BIN: &str = env!("CARGO_BIN_EXE_example-actix");

/// Reads until the server closes the connection; answers what it sent.
fn read_to_close(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("set a read timeout");
    let mut received = Vec::new();
    stream
        .read_to_end(&mut received)
        .expect("the server closes the connection");
    String::from_utf8_lossy(&received).into_owned()
}

#[test]
fn shutdown_closes_idle_connections_at_once_and_lets_requests_finish() {
    let mut app = Launch::new(BIN).store("memory").start();

    let mut idle = TcpStream::connect(app.addr()).expect("connect");
    idle.write_all(b"GET /nope HTTP/1.1\r\nHost: test\r\n\r\n")
        .expect("send");
    let mut head = [0u8; 12];
    idle.read_exact(&mut head).expect("the response begins");
    assert_eq!(&head, b"HTTP/1.1 404");

    // A login form whose body is still on its way when the signal comes.
    let mut busy = TcpStream::connect(app.addr()).expect("connect");
    busy.write_all(
        b"POST /login HTTP/1.1\r\nHost: test\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\nname=",
    )
    .expect("send");
    thread::sleep(Duration::from_millis(300));

    app.signal("TERM");
    let signalled = Instant::now();
    let rest = read_to_close(&mut idle);
    assert!(
        !rest.contains("HTTP/1.1"),
        "only the first response's remainder: {rest:?}"
    );
    assert!(
        signalled.elapsed() < Duration::from_secs(1),
        "the idle connection closed {:?} after the signal",
        signalled.elapsed()
    );

    thread::sleep(Duration::from_millis(500));
    busy.write_all(b"alice").expect("finish the body");
    let response = read_to_close(&mut busy);
    assert!(
        response.starts_with("HTTP/1.1 403"),
        "the request in flight is answered (no _xsrf: 403): {response:?}"
    );

    let status = app.wait_exit(Duration::from_secs(2));
    assert_eq!(status.and_then(|status| status.code()), Some(0));
    assert!(
        signalled.elapsed() < Duration::from_secs(2),
        "exited {:?} after the signal",
        signalled.elapsed()
    );
    assert!(app.warnings().is_empty(), "stderr:\n{}", app.stderr());
}
