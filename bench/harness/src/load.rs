//! The load phase: every variant's server running side by side, checked and
//! seeded, then wrk on every variant x route, round after round.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::Result;
use crate::memcached::Memcached;
use crate::process::{SERVER_CORE, Server, pinned};
use crate::quiet;
use crate::report::Run;
use crate::semantics;
use crate::variants::{ROUTES, Variant};
use crate::wrk;

/// Sessions seeded per variant; wrk picks one at random per request.
pub const SESSIONS: usize = 1000;
/// Seconds of load per variant before the first round, not recorded.
const WARMUP_SECONDS: u32 = 1;

/// A variant's running server and its cookie file.
pub struct Target {
    variant: &'static Variant,
    server: Server,
    cookies: PathBuf,
}

/// Starts every variant's server pinned to the server core, checks its
/// routes, and seeds its sessions.
pub fn start(
    variants: &[&'static Variant],
    binaries: &HashMap<String, PathBuf>,
    memcached: Option<&Memcached>,
    work: &Path,
) -> Result<Vec<Target>> {
    let mut targets = Vec::new();
    for &variant in variants {
        let binary = &binaries[variant.binary];
        let mut command = pinned(SERVER_CORE, binary);
        command.args(variant.arguments(memcached.map(Memcached::address)));
        let log = work.join(format!("{}.log", variant.name));
        let server = Server::start(variant.name, command, &log)?;
        semantics::check(variant, server.address())
            .map_err(|error| format!("{}: wrong behaviour: {error}", variant.name))?;
        let cookies = semantics::seed(variant, server.address(), SESSIONS)?;
        let file = work.join(format!("{}.cookies", variant.name));
        std::fs::write(&file, cookies.join("\n") + "\n")?;
        eprintln!(
            "{}: routes checked, {SESSIONS} sessions seeded, on {}",
            variant.name,
            server.address()
        );
        targets.push(Target {
            variant,
            server,
            cookies: file,
        });
    }
    Ok(targets)
}

/// How the rounds run.
pub struct Plan<'a> {
    pub rounds: usize,
    pub seconds: u32,
    /// How long to wait for a quiet machine before each run.
    pub patience: Duration,
    pub script: &'a Path,
}

/// Runs the plan's rounds of wrk over every target and route. Each round
/// starts one target further down the list, so no variant always runs first.
pub fn rounds(targets: &[Target], plan: &Plan, memcached: Option<&Memcached>) -> Result<Vec<Run>> {
    let rounds = plan.rounds;
    for target in targets {
        let warm = wrk::run(
            target.server.address(),
            support::routes::VISITS,
            WARMUP_SECONDS,
            plan.script,
            &target.cookies,
        );
        warm.map_err(|error| format!("{} warm-up: {error}", target.variant.name))?;
    }
    let mut runs = Vec::new();
    for round in 0..rounds {
        for offset in 0..targets.len() {
            let target = &targets[(round + offset) % targets.len()];
            for route in ROUTES {
                let run = measure(target, route, round + 1, plan, memcached)?;
                eprintln!("round {}/{rounds} {}", round + 1, progress(&run));
                runs.push(run);
            }
        }
    }
    Ok(runs)
}

/// A run as one line, with a warning when the server did not get its core.
fn progress(run: &Run) -> String {
    let mut line = format!(
        "{:<28} GET {:<8} {:>7.0} req/s  p50 {:>6.0} µs  p99 {:>6.0} µs  server {:>5.1} CPU µs/req",
        run.variant, run.route, run.requests_per_second, run.p50_us, run.p99_us, run.server_cpu_us,
    );
    if let Some(trips) = run.memcached_round_trips {
        line.push_str(&format!("  {trips:.3} memcached trips/req"));
    }
    if run.server_core_share < crate::report::STARVED {
        line.push_str(&format!(
            "  [server busy only {:.0}% of the time: is something else running?]",
            run.server_core_share * 100.0
        ));
    }
    line
}

/// One wrk run, with memcached's commands counted around it when the
/// variant uses memcached.
fn measure(
    target: &Target,
    route: &'static str,
    round: usize,
    plan: &Plan,
    memcached: Option<&Memcached>,
) -> Result<Run> {
    let patience = plan.patience;
    let quiet_start = quiet::wait(patience)?;
    if !quiet_start {
        eprintln!("the machine is still busy after {patience:?}: measuring anyway");
    }
    let memcached = memcached.filter(|_| target.variant.memcached);
    let commands_before = memcached.map(Memcached::commands).transpose()?;
    let (cpu_before, started) = (target.server.cpu_time()?, Instant::now());
    let measured = wrk::run(
        target.server.address(),
        route,
        plan.seconds,
        plan.script,
        &target.cookies,
    )
    .map_err(|error| format!("{}: {error}", target.variant.name))?;
    let (cpu, wall) = (target.server.cpu_time()? - cpu_before, started.elapsed());
    let commands_after = memcached.map(Memcached::commands).transpose()?;
    let requests = measured.requests as f64;
    let trips = commands_before
        .zip(commands_after)
        .map(|(before, after)| (after - before) as f64 / requests);
    Ok(Run {
        variant: target.variant.name,
        route,
        round,
        requests: measured.requests,
        requests_per_second: measured.requests_per_second,
        p50_us: measured.p50_us,
        p99_us: measured.p99_us,
        server_cpu_us: cpu.as_secs_f64() * 1e6 / requests,
        server_core_share: cpu.as_secs_f64() / wall.as_secs_f64(),
        quiet_start,
        memcached_round_trips: trips,
    })
}

/// Stops every server; each must exit cleanly.
pub fn stop(targets: Vec<Target>) -> Result<()> {
    for target in targets {
        target.server.stop()?;
    }
    Ok(())
}
