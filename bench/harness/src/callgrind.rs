//! Instructions per request, counted by `valgrind --tool=callgrind`.
//!
//! A variant is profiled in runs that differ only in their last phase, in
//! [`REPETITIONS`] rounds, and every route's cost is the median of the rounds'
//! estimates. Each run starts the server under callgrind, seeds [`SESSIONS`] sessions, sends
//! [`WARMUP`] requests to every route, then, except in the base run,
//! [`MEASURED`] requests to one route, and stops the server with SIGTERM
//! (callgrind writes its profile at the exit). The route's cost is
//! `(instructions of its run − instructions of the base run) / MEASURED`:
//! startup, seeding, warm-up and shutdown cancel out. What remains varies by
//! a few percent from run to run, because some work depends on time (timers,
//! how many requests one wake-up of the runtime finds), and time runs
//! differently under valgrind; hence the median. The requests come one
//! at a time on one keep-alive connection from the harness's own client, so
//! the count includes the runtime's wake-up for every request, which wrk's
//! 32 connections share between several requests.
//!
//! Only the server's instructions count: memcached runs natively, outside
//! valgrind.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use crate::Result;
use crate::client::Client;
use crate::process::{SERVER_CORE, Server, pinned};
use crate::semantics;
use crate::variants::{ROUTES, Variant};

/// Sessions seeded in every run.
pub const SESSIONS: usize = 100;
/// Requests to every route before the measured ones.
pub const WARMUP: usize = 200;
/// Requests measured, per route.
pub const MEASURED: usize = 2000;
/// Rounds of runs (a base run and one per route).
pub const REPETITIONS: usize = 3;

/// Each round's estimate of the instructions per request of every route in
/// [`ROUTES`].
pub fn instructions_per_request(
    variant: &Variant,
    binary: &Path,
    memcached: Option<SocketAddr>,
    work: &Path,
) -> Result<BTreeMap<&'static str, Vec<f64>>> {
    let profile = |route: Option<&str>| -> Result<u64> {
        let label = route.map_or("base", |route| route.trim_start_matches('/'));
        let output = work.join(format!("callgrind.{}.{label}.out", variant.name));
        let log = work.join(format!("callgrind.{}.{label}.log", variant.name));
        let mut command = pinned(SERVER_CORE, "valgrind");
        command
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", output.display()))
            .arg(binary)
            .args(variant.arguments(memcached));
        let server = Server::start(variant.name, command, &log)?;
        drive(variant, server.address(), route)?;
        server.stop()?;
        total_instructions(&output)
    };
    let mut costs: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for _ in 0..REPETITIONS {
        let base = profile(None)?;
        for route in ROUTES {
            let total = profile(Some(route))?;
            let extra = total.checked_sub(base).ok_or_else(|| {
                format!(
                    "{} {route}: the run with requests counted fewer instructions ({total}) \
                     than the base run ({base})",
                    variant.name
                )
            })?;
            costs
                .entry(route)
                .or_default()
                .push(extra as f64 / MEASURED as f64);
        }
    }
    Ok(costs)
}

/// Seeds, warms up every route, then sends the measured requests to `route`.
fn drive(variant: &Variant, address: SocketAddr, route: Option<&str>) -> Result<()> {
    let cookies = semantics::seed(variant, address, SESSIONS)?;
    let mut client = Client::connect(address)?;
    let mut send = |path: &str, count: usize| -> Result<()> {
        for cookie in cookies.iter().cycle().take(count) {
            let response = client.get(path, Some(cookie))?;
            if !(200..300).contains(&response.status) {
                return Err(format!("{} {path}: status {}", variant.name, response.status).into());
            }
        }
        Ok(())
    };
    for path in ROUTES {
        send(path, WARMUP)?;
    }
    if let Some(route) = route {
        send(route, MEASURED)?;
    }
    Ok(())
}

/// The `totals:` (or `summary:`) line of a callgrind profile: instructions
/// executed, all threads together.
fn total_instructions(profile: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(profile)
        .map_err(|error| format!("cannot read {}: {error}", profile.display()))?;
    text.lines()
        .find_map(|line| {
            line.strip_prefix("totals:")
                .or_else(|| line.strip_prefix("summary:"))
        })
        .and_then(|count| count.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no totals in {}", profile.display()).into())
}
