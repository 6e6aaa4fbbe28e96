//! Process plumbing: logging, the startup line, and shutdown on a signal.

use std::future::Future;
use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

/// How long connections may take to finish after a shutdown signal before
/// the app exits anyway: the contract allows 5 seconds in all.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Logs to stderr: warnings and errors by default, or what `RUST_LOG` says.
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    // Fails only if a subscriber is already set, which is then kept.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Prints the one line that says the app accepts connections.
pub fn announce(addr: SocketAddr) {
    println!("listening on http://{addr}");
}

/// A shutdown request from SIGINT or SIGTERM, watchable from many places.
#[derive(Debug, Clone)]
pub struct Shutdown {
    requested: watch::Receiver<bool>,
}

impl Shutdown {
    /// Starts listening for SIGINT and SIGTERM. The handlers are in place
    /// when this returns, so a signal right after the `listening on` line is
    /// not missed. Needs a Tokio runtime.
    pub fn on_signals() -> std::io::Result<Self> {
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let (sender, requested) = watch::channel(false);
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            tracing::info!("shutdown requested");
            let _ = sender.send(true);
        });
        Ok(Self { requested })
    }

    /// Resolves once shutdown is requested: give it to the server's graceful
    /// shutdown, so it stops accepting and lets requests in flight finish.
    pub fn requested(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut requested = self.requested.clone();
        async move {
            // An error means the sender is gone, which happens only after it sent.
            let _ = requested.wait_for(|requested| *requested).await;
        }
    }

    /// Runs `server` (whose graceful shutdown waits on [`requested`]) until it
    /// ends, or until [`SHUTDOWN_GRACE`] after the request if connections are
    /// still open then, such as a client's idle keep-alive.
    ///
    /// [`requested`]: Shutdown::requested
    pub async fn serve<E>(&self, server: impl Future<Output = Result<(), E>>) -> Result<(), E> {
        let deadline = {
            let requested = self.requested();
            async move {
                requested.await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            }
        };
        tokio::select! {
            result = server => result,
            () = deadline => {
                tracing::warn!("connections still open after the shutdown grace period; closing them");
                Ok(())
            }
        }
    }
}
