//! The command line every example app accepts, parsed by hand so that a
//! mistake is reported in one line (see [`OptionsError`]).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::time::Duration;

/// The usage text printed by `--help`.
pub const USAGE: &str = "\
Options:
  --listen ADDR             address to serve on (default 127.0.0.1:8080)
  --store SPEC              memory, memcached://HOST:PORT[,HOST:PORT...], redis://HOST:PORT
                            or redis+cluster://HOST:PORT[,...] (default memory)
  --idle-timeout SECS       a session unused this long expires (default 1800)
  --absolute-timeout SECS   a session expires this long after creation (default 86400)
  --secure-cookies          add Secure to the session cookie
  -h, --help                print this help
Environment:
  SESSION_SECRET            secret key(s), hex or base64, at least 32 bytes, comma-separated to rotate";

/// The options an app runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `--listen`.
    pub listen: SocketAddr,
    /// `--store`, as given: `memory`, a `memcached://` or a `redis://` spec, checked when
    /// the store is built.
    pub store: String,
    /// `--idle-timeout`.
    pub idle_timeout: Duration,
    /// `--absolute-timeout`.
    pub absolute_timeout: Duration,
    /// `--secure-cookies`.
    pub secure_cookies: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            store: "memory".to_owned(),
            idle_timeout: Duration::from_secs(1800),
            absolute_timeout: Duration::from_secs(86_400),
            secure_cookies: false,
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve with these options.
    Run(Options),
    /// Print [`USAGE`] and exit.
    Help,
}

/// A command-line mistake. Each message is one line; values from the command
/// line are quoted with escapes, so even they cannot add a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    /// An option that does not exist, or a stray argument.
    #[error("unknown argument {0:?} (see --help)")]
    Unknown(String),
    /// An option given without its value.
    #[error("option {0} needs a value")]
    MissingValue(&'static str),
    /// An argument that is not UTF-8.
    #[error("argument {0:?} is not valid UTF-8")]
    NotUtf8(OsString),
    /// `--listen` is not `IP:PORT`.
    #[error("invalid --listen address {0:?}: expected IP:PORT, like 127.0.0.1:8080")]
    Address(String),
    /// A timeout is not a whole number of seconds, at least 1.
    #[error("invalid {option} {value:?}: expected a whole number of seconds, at least 1")]
    Seconds {
        /// The option.
        option: &'static str,
        /// The value given.
        value: String,
    },
}

impl Command {
    /// Parses the arguments after the program name. Values follow their
    /// option as the next argument or after `=`.
    pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, OptionsError> {
        let mut options = Options::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let arg = arg.into_string().map_err(OptionsError::NotUtf8)?;
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
                _ => (arg.as_str(), None),
            };
            let mut value = |name: &'static str| match inline.clone() {
                Some(value) => Ok(value),
                None => args
                    .next()
                    .ok_or(OptionsError::MissingValue(name))?
                    .into_string()
                    .map_err(OptionsError::NotUtf8),
            };
            match flag {
                "-h" | "--help" => return Ok(Command::Help),
                "--listen" => {
                    let text = value("--listen")?;
                    options.listen = text.parse().map_err(|_| OptionsError::Address(text))?;
                }
                "--store" => options.store = value("--store")?,
                "--idle-timeout" => {
                    options.idle_timeout = seconds("--idle-timeout", value("--idle-timeout")?)?
                }
                "--absolute-timeout" => {
                    options.absolute_timeout =
                        seconds("--absolute-timeout", value("--absolute-timeout")?)?;
                }
                "--secure-cookies" if inline.is_none() => options.secure_cookies = true,
                _ => return Err(OptionsError::Unknown(arg)),
            }
        }
        Ok(Command::Run(options))
    }
}

fn seconds(option: &'static str, value: String) -> Result<Duration, OptionsError> {
    match value.parse::<u64>() {
        Ok(secs) if secs >= 1 => Ok(Duration::from_secs(secs)),
        _ => Err(OptionsError::Seconds { option, value }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, OptionsError> {
        Command::parse(args.iter().map(OsString::from))
    }

    #[test]
    fn defaults_match_the_contract() {
        assert_eq!(parse(&[]), Ok(Command::Run(Options::default())));
        assert_eq!(Options::default().listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn reads_every_option_in_both_forms() {
        let parsed = parse(&[
            "--listen=0.0.0.0:9000",
            "--store",
            "memcached://127.0.0.1:11211",
            "--idle-timeout",
            "60",
            "--absolute-timeout=120",
            "--secure-cookies",
        ]);
        assert_eq!(
            parsed,
            Ok(Command::Run(Options {
                listen: "0.0.0.0:9000".parse().expect("address"),
                store: "memcached://127.0.0.1:11211".to_owned(),
                idle_timeout: Duration::from_secs(60),
                absolute_timeout: Duration::from_secs(120),
                secure_cookies: true,
            }))
        );
        assert_eq!(parse(&["--help"]), Ok(Command::Help));
    }

    #[test]
    fn mistakes_are_one_line_each() {
        let mistakes = [
            parse(&["--bogus"]),
            parse(&["--listen"]),
            parse(&["--listen", "localhost"]),
            parse(&["--listen", "1.2.3.4:80\nsecond line"]),
            parse(&["--idle-timeout", "0"]),
            parse(&["--absolute-timeout", "-5"]),
            parse(&["--secure-cookies=yes"]),
            parse(&["stray"]),
        ];
        for mistake in mistakes {
            let message = mistake.expect_err("a mistake").to_string();
            assert!(!message.contains('\n'), "{message}");
        }
    }
}
