//! From the command line and the environment to a running configuration:
//! the options, the key ring, the store and the session manager. Every
//! mistake ends the program with one line on stderr and exit code 2.

use std::process::ExitCode;
use std::sync::Arc;

use session_core::{KeyRing, MemoryStore, SessionManager, Store};
use session_memcached::MemcachedStore;
use session_redis::RedisStore;

use crate::options::{Command, Options, OptionsError, USAGE};

/// The environment variable holding the secret key(s).
pub const SECRET_VARIABLE: &str = "SESSION_SECRET";

/// Everything an app needs to start serving.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The parsed options.
    pub options: Options,
    /// The session manager, on the chosen store.
    pub manager: SessionManager,
}

/// Why an app cannot start. Each message is one line.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A command-line mistake.
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// `SESSION_SECRET` is not a valid key ring.
    #[error("{SECRET_VARIABLE}: {0}")]
    Secret(session_core::ConfigError),
    /// `SESSION_SECRET` is not UTF-8.
    #[error("{SECRET_VARIABLE} is not valid UTF-8")]
    SecretNotUtf8,
    /// `--store` names no known store.
    #[error(
        "invalid --store {0:?}: expected memory, memcached://HOST:PORT[,HOST:PORT...], \
         redis://HOST:PORT or redis+cluster://HOST:PORT[,HOST:PORT...]"
    )]
    UnknownStore(String),
    /// The memcached spec is invalid.
    #[error("invalid --store: {0}")]
    Memcached(#[from] session_memcached::ConfigError),
    /// The Redis spec is invalid.
    #[error("invalid --store: {0}")]
    Redis(#[from] session_redis::ConfigError),
    /// The session settings are invalid.
    #[error(transparent)]
    Manager(session_core::ConfigError),
}

/// Parses the command line and the environment and builds the session
/// manager; on `--help` or a mistake, prints what to print and answers the
/// exit code instead (0 for help, 2 for a mistake, with one line on stderr
/// prefixed by `program`). Also starts logging.
pub fn start(program: &str) -> Result<Setup, ExitCode> {
    crate::runtime::init_logging();
    let options = match Command::parse(std::env::args_os().skip(1)) {
        Ok(Command::Run(options)) => options,
        Ok(Command::Help) => {
            println!("Usage: {program} [OPTIONS]\n{USAGE}");
            return Err(ExitCode::SUCCESS);
        }
        Err(error) => return Err(fail(program, &error.into())),
    };
    build(options, program).map_err(|error| fail(program, &error))
}

fn fail(program: &str, error: &SetupError) -> ExitCode {
    eprintln!("{program}: error: {error}");
    ExitCode::from(2)
}

/// Checks everything before saying anything, so a mistake is the only line
/// on stderr.
fn build(options: Options, program: &str) -> Result<Setup, SetupError> {
    let store = store(&options.store)?;
    let (keys, generated) = key_ring()?;
    let manager = SessionManager::builder(store, keys)
        .secure(options.secure_cookies)
        .idle_timeout(options.idle_timeout)
        .absolute_timeout(options.absolute_timeout)
        .build()
        .map_err(SetupError::Manager)?;
    if generated {
        eprintln!(
            "{program}: note: {SECRET_VARIABLE} is unset; using a random key, \
             so sessions will not survive a restart"
        );
    }
    Ok(Setup { options, manager })
}

/// The key ring from `SESSION_SECRET`, or a random one when it is unset
/// (then `true`).
fn key_ring() -> Result<(KeyRing, bool), SetupError> {
    match std::env::var_os(SECRET_VARIABLE) {
        None => Ok((KeyRing::generate(), true)),
        Some(secret) => {
            let secret = secret
                .into_string()
                .map_err(|_| SetupError::SecretNotUtf8)?;
            let keys = KeyRing::parse(&secret).map_err(SetupError::Secret)?;
            Ok((keys, false))
        }
    }
}

/// The store named by `--store`.
pub fn store(spec: &str) -> Result<Arc<dyn Store>, SetupError> {
    if spec == "memory" {
        Ok(Arc::new(MemoryStore::new()))
    } else if spec.starts_with("memcached://") {
        Ok(Arc::new(MemcachedStore::from_spec(spec)?))
    } else if spec.starts_with("redis://") || spec.starts_with("redis+cluster://") {
        Ok(Arc::new(RedisStore::from_spec(spec)?))
    } else {
        Err(SetupError::UnknownStore(spec.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_by_spec() {
        assert!(store("memory").is_ok());
        assert!(store("memcached://127.0.0.1:11211,127.0.0.1:11212").is_ok());
        assert!(store("redis://127.0.0.1:6379").is_ok());
        for bad in [
            "redis://",
            "rediss://127.0.0.1:6379",
            "",
            "Memory",
            "memcached://",
            "memcached://host:notaport",
        ] {
            let message = store(bad).expect_err(bad).to_string();
            assert!(!message.contains('\n'), "{message}");
        }
    }
}
