//! One wrk run: a fixed number of connections for a fixed time, each request
//! with a random seeded cookie, and what wrk reports.

use std::net::SocketAddr;
use std::path::Path;

use crate::Result;
use crate::process::{LOAD_CORE, pinned};

/// Concurrent connections, all on one wrk thread.
pub const CONNECTIONS: u32 = 32;
/// How long wrk waits for a response before counting a timeout (a socket
/// error, which fails the harness). wrk's default, 2 s, is hit when a shared
/// machine stalls the server for a moment; the p99 still shows such stalls.
const TIMEOUT: &str = "10s";

/// The Lua script; written next to the cookie files at startup.
pub const SCRIPT: &str = include_str!("../random-cookie.lua");

/// What one run measured.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub requests: u64,
    pub requests_per_second: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

/// Loads `path` for `seconds` with wrk pinned to the load core. Fails on any
/// response that is not 2xx or 3xx, and on any socket error.
pub fn run(
    address: SocketAddr,
    path: &str,
    seconds: u32,
    script: &Path,
    cookies: &Path,
) -> Result<Measured> {
    let output = pinned(LOAD_CORE, "wrk")
        .args(["-t1", &format!("-c{CONNECTIONS}"), &format!("-d{seconds}s")])
        .args(["--latency", "--timeout", TIMEOUT])
        .arg("-s")
        .arg(script)
        .arg(format!("http://{address}{path}"))
        .arg("--")
        .arg(cookies)
        .output()
        .map_err(|error| format!("cannot run wrk: {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("wrk failed ({}):\n{text}{stderr}", output.status).into());
    }
    parse(&text).map_err(|error| format!("GET {path}: {error}\nwrk said:\n{text}").into())
}

/// Reads wrk's report, refusing one with failed requests.
fn parse(text: &str) -> Result<Measured> {
    if let Some(line) = text.lines().find(|line| line.contains("Non-2xx or 3xx")) {
        return Err(format!("failed responses: {}", line.trim()).into());
    }
    if let Some(line) = text.lines().find(|line| line.contains("Socket errors")) {
        return Err(format!("socket errors: {}", line.trim()).into());
    }
    let requests = text
        .lines()
        .find(|line| line.contains(" requests in "))
        .and_then(|line| line.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .ok_or("no request count")?;
    let requests_per_second = field(text, "Requests/sec:")
        .and_then(|rate| rate.parse().ok())
        .ok_or("no Requests/sec")?;
    let p50_us = field(text, "50%").and_then(micros).ok_or("no p50")?;
    let p99_us = field(text, "99%").and_then(micros).ok_or("no p99")?;
    if requests == 0 {
        return Err("no request completed".into());
    }
    Ok(Measured {
        requests,
        requests_per_second,
        p50_us,
        p99_us,
    })
}

/// The word after the line that starts with `label`.
fn field<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    text.lines()
        .map(str::trim_start)
        .find_map(|line| line.strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
}

/// A wrk duration (`812.00us`, `1.25ms`, `2.00s`) in microseconds.
fn micros(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        _ => return None,
    };
    Some(number * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "\
Running 2s test @ http://127.0.0.1:4000/read
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   812.21us  100.05us   3.10ms   90.00%
    Req/Sec    39.12k     1.01k   40.55k    85.00%
  Latency Distribution
     50%  800.00us
     75%  850.12us
     90%    0.91ms
     99%    1.20ms
  77841 requests in 2.00s, 9.87MB read
Requests/sec:  38920.50
Transfer/sec:      4.93MB
";

    #[test]
    fn reads_a_clean_report() {
        let measured = parse(REPORT).expect("a clean report");
        assert_eq!(measured.requests, 77841);
        assert!((measured.requests_per_second - 38920.5).abs() < 1e-9);
        assert!((measured.p50_us - 800.0).abs() < 1e-9);
        assert!((measured.p99_us - 1200.0).abs() < 1e-9);
    }

    #[test]
    fn refuses_failed_responses_and_socket_errors() {
        let failed = REPORT.replace(
            "Requests/sec",
            "  Non-2xx or 3xx responses: 12\nRequests/sec",
        );
        assert!(parse(&failed).is_err());
        let errors = REPORT.replace(
            "Requests/sec",
            "  Socket errors: connect 0, read 3, write 0, timeout 0\nRequests/sec",
        );
        assert!(parse(&errors).is_err());
    }
}
