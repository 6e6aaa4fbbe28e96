//! What every benchmark server shares, so that a variant is only its routes.
//!
//! The contract between a server and the harness:
//!
//! - arguments: `--listen ADDR` (default `127.0.0.1:0`, a free port) and, for
//!   variants with a choice of store, `--store SPEC`;
//! - once it accepts connections, the server prints one line,
//!   [`READY_PREFIX`] followed by its address, on stdout;
//! - on SIGTERM or SIGINT it stops and exits with status 0 (so that a profile
//!   taken under valgrind is written out);
//! - it runs on a tokio current-thread runtime: one worker, one core (actix-web
//!   serves from one worker thread of its own, on the same kind of runtime);
//! - it answers the [`routes`].

#![forbid(unsafe_code)]

use std::error::Error;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "hyper")]
pub mod hyper;
pub mod routes;

/// What a server prints, before its address, once it accepts connections.
pub const READY_PREFIX: &str = "listening on ";

/// A fixed secret for the variants that sign cookies, so that every run signs
/// the same way. 64 bytes, the most any variant asks for.
pub const SECRET: [u8; 64] = {
    let mut secret = [0u8; 64];
    let mut index = 0;
    while index < secret.len() {
        secret[index] = index as u8;
        index += 1;
    }
    secret
};

/// How long a server that stops lets the requests in flight finish, for the
/// variants whose framework asks (axum waits for them without a bound).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The error a server's setup or serving may end with.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// The command line of a server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// `--store SPEC`, for the variants that take one.
    pub store: Option<String>,
}

impl Options {
    /// Parses `--listen ADDR` and `--store SPEC` from these arguments.
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            store: None,
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--listen" => {
                    let text = value()?;
                    options.listen = text
                        .parse()
                        .map_err(|error| format!("bad --listen {text}: {error}"))?;
                }
                "--store" => options.store = Some(value()?),
                _ => return Err(format!("unknown argument {arg}")),
            }
        }
        Ok(options)
    }
}

/// Runs a server: parses the command line, then drives `serve` to its end on
/// a current-thread runtime. Errors go to stderr and make the exit status 1.
pub fn run<Serve, Fut>(program: &str, serve: Serve) -> ExitCode
where
    Serve: FnOnce(Options) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    run_on(program, serve, |runtime, serving| runtime.block_on(serving))
}

/// [`run`], with `block_on` driving the server on the runtime (a framework
/// may need its own context around the runtime).
fn run_on<Serve, Fut>(
    program: &str,
    serve: Serve,
    block_on: impl FnOnce(tokio::runtime::Runtime, Fut) -> Result<(), BoxError>,
) -> ExitCode
where
    Serve: FnOnce(Options) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("{program}: {error}");
            eprintln!("usage: {program} [--listen ADDR] [--store SPEC]");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{program}: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match block_on(runtime, serve(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{program}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Tells the harness the server is ready, on stdout.
pub fn announce(address: SocketAddr) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{READY_PREFIX}{address}")?;
    stdout.flush()
}

/// A future that resolves on the first SIGTERM or SIGINT. Call it inside the
/// runtime, before announcing the server: the handlers are installed at once.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}
