//! The HTTP benchmark harness (see `bench/README.md`): builds every variant,
//! checks its session semantics, loads it with wrk round after round, counts
//! its instructions per request under callgrind, and writes the results.

#![forbid(unsafe_code)]

mod args;
mod callgrind;
mod cargo;
mod chart;
mod client;
mod load;
mod memcached;
mod process;
mod quiet;
mod report;
mod semantics;
mod variants;
mod wrk;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use args::{Config, USAGE};
use memcached::Memcached;
use report::{CallgrindSettings, Instructions, Report, Settings};

/// Errors end the run with their message.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the harness package is inside bench/");
    let config = match Config::parse(std::env::args().skip(1), bench) {
        Ok(config) => config,
        Err(error) if error.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("harness: {error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&config, bench) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("harness: error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: &Config, bench: &Path) -> Result<()> {
    let variants = variants::select(&config.variants)?;
    process::require("taskset", "--version", "apt-get install util-linux")?;
    process::require("wrk", "-v", "apt-get install wrk")?;
    if variants.iter().any(|variant| variant.memcached) {
        process::require("memcached", "-V", "apt-get install memcached")?;
    }
    if config.callgrind {
        process::require("valgrind", "--version", "apt-get install valgrind")?;
    }
    let work = bench.join("target/harness");
    std::fs::create_dir_all(&work)?;
    let script = work.join("random-cookie.lua");
    std::fs::write(&script, wrk::SCRIPT)?;

    let binaries = cargo::build(bench, &variants)?;
    let memcached = variants
        .iter()
        .any(|variant| variant.memcached)
        .then(Memcached::start)
        .transpose()?;

    let targets = load::start(&variants, &binaries, memcached.as_ref(), &work)?;
    let plan = load::Plan {
        rounds: config.rounds,
        seconds: config.seconds,
        patience: Duration::from_secs(config.patience),
        script: &script,
    };
    let runs = load::rounds(&targets, &plan, memcached.as_ref())?;
    load::stop(targets)?;

    let mut instructions = Instructions::new();
    if config.callgrind {
        for variant in &variants {
            eprintln!("{}: counting instructions under callgrind", variant.name);
            let binary = &binaries[variant.binary];
            let address = memcached.as_ref().map(Memcached::address);
            let costs = callgrind::instructions_per_request(variant, binary, address, &work)?;
            for (route, estimates) in costs {
                instructions.insert((variant.name, route), estimates);
            }
        }
    }

    let settings = Settings {
        rounds: config.rounds,
        seconds: config.seconds,
        connections: wrk::CONNECTIONS,
        sessions: load::SESSIONS,
        machine: machine(),
        patience: config.patience,
        callgrind: config.callgrind.then_some(CallgrindSettings {
            sessions: callgrind::SESSIONS,
            warmup_per_route: callgrind::WARMUP,
            measured: callgrind::MEASURED,
            repetitions: callgrind::REPETITIONS,
        }),
    };
    let report = Report::new(settings, &variants, runs, &instructions);
    write(&report, &config.out)
}

/// Writes `latest.md`, `latest.json` and `http.svg` into `out`, and prints
/// the table.
fn write(report: &Report, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out)?;
    let markdown = report.markdown();
    std::fs::write(
        out.join("latest.md"),
        format!("# HTTP benchmark\n\n{markdown}"),
    )?;
    std::fs::write(
        out.join("latest.json"),
        serde_json::to_string_pretty(report)? + "\n",
    )?;
    let title = format!(
        "Requests per second, median of {} round(s), one server core",
        report.settings.rounds
    );
    chart::draw(&report.rows, &title, &out.join("http.svg"))?;
    println!("{markdown}");
    eprintln!("written to {}", out.display());
    Ok(())
}

/// The CPU model and the number of cores, for the record.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown CPU", |(_, model)| model.trim());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{model}, {cores} cores")
}
