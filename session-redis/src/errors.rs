//! Sorting the `redis` crate's errors into the core's kinds.
//!
//! | the failure | kind |
//! |---|---|
//! | connection refused, reset or closed, a timeout, any other I/O error | unavailable |
//! | an answer cut off by a connection that broke in the middle of it | unavailable |
//! | no connection to the cluster node that holds the key | unavailable |
//! | `LOADING`, `BUSY`, `TRYAGAIN`, `CLUSTERDOWN`, `MASTERDOWN`, `READONLY`: a server loading its data, running a long script, in a failover or a resharding | unavailable |
//! | `OOM` (`maxmemory` reached with a `noeviction` policy), `MISCONF` (writes stopped after a failed snapshot), `NOREPLICAS` (`min-replicas-to-write` not met) | unavailable |
//! | `ERR max number of clients reached` (a server at its `maxclients`) | unavailable |
//! | a value over the server's `proto-max-bulk-len`, or over the store's own `max_value_size` | value refused |
//! | anything else: a wrong type under the key, a refused password, an unexpected answer | other |
//!
//! "Unavailable" is what the caller should retry later (adapters answer 503); the server is
//! down, slow or temporarily refusing. The cause is kept, with the server it came from.

use redis::{ErrorKind, RedisError, ServerErrorKind};
use session_core::StoreError;

/// The core's error kinds, as decided from a client error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Unavailable,
    ValueRefused,
    Other,
}

/// Error codes (the first word of an error reply) that the `redis` crate does not know by kind
/// and that mean "not now": the server is full, cannot persist, or lacks replicas.
const TEMPORARY_CODES: [&str; 5] = ["OOM", "BUSY", "MISCONF", "NOREPLICAS", "LOADING"];

impl Kind {
    pub(crate) fn of(error: &RedisError) -> Self {
        match error.kind() {
            ErrorKind::Io | ErrorKind::ClusterConnectionNotFound => Self::Unavailable,
            // A connection that breaks in the middle of an answer leaves the client half a
            // reply, which it may report as a parse error ("Unexpected end of input") rather than
            // an I/O error. The connection is dropped (`is_unrecoverable_error`) and the next
            // call makes another. (An answer of the wrong type is a parse error too, but without
            // those words: that one stays "other".)
            ErrorKind::Parse
                if error
                    .detail()
                    .is_some_and(|detail| detail.contains("end of input")) =>
            {
                Self::Unavailable
            }
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::MasterDown
                | ServerErrorKind::ReadOnly,
            ) => Self::Unavailable,
            // Redis answers `ERR Protocol error: invalid bulk length` to an argument over
            // `proto-max-bulk-len` (512 MB by default), then closes the connection.
            ErrorKind::Server(ServerErrorKind::ResponseError)
                if error.detail().is_some_and(|detail| {
                    detail.contains("invalid bulk length")
                        || detail.contains("exceeds maximum allowed size")
                }) =>
            {
                Self::ValueRefused
            }
            // A server at its `maxclients` refuses a new connection this way, then closes it.
            ErrorKind::Server(ServerErrorKind::ResponseError)
                if error
                    .detail()
                    .is_some_and(|detail| detail.contains("max number of clients reached")) =>
            {
                Self::Unavailable
            }
            _ if error
                .code()
                .is_some_and(|code| TEMPORARY_CODES.contains(&code)) =>
            {
                Self::Unavailable
            }
            _ => Self::Other,
        }
    }
}

/// A client error with the server (or cluster) it came from.
#[derive(Debug, thiserror::Error)]
#[error("redis {target}: {source}")]
struct ServerError {
    target: String,
    #[source]
    source: RedisError,
}

/// Sorts a client error into the core's kinds, keeping it (and `target`, the server or cluster)
/// as the cause.
pub(crate) fn sort(error: RedisError, target: &str) -> StoreError {
    let kind = Kind::of(&error);
    let error = ServerError {
        target: target.to_owned(),
        source: error,
    };
    tracing::debug!(%error, ?kind, "redis call failed");
    match kind {
        Kind::Unavailable => StoreError::unavailable(error),
        Kind::ValueRefused => StoreError::value_refused(error),
        Kind::Other => StoreError::other(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error a server sends as `-<line>`.
    fn reply(line: &str) -> RedisError {
        redis::parse_redis_value(format!("-{line}\r\n").as_bytes())
            .expect("an error reply")
            .extract_error()
            .expect_err("an error")
    }

    fn io(kind: std::io::ErrorKind) -> RedisError {
        std::io::Error::from(kind).into()
    }

    #[test]
    fn unreachable_slow_and_refusing_servers_are_unavailable() {
        for error in [
            io(std::io::ErrorKind::ConnectionRefused),
            io(std::io::ErrorKind::ConnectionReset),
            io(std::io::ErrorKind::BrokenPipe),
            io(std::io::ErrorKind::TimedOut),
            io(std::io::ErrorKind::UnexpectedEof),
            reply("LOADING Redis is loading the dataset in memory"),
            reply(
                "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
            ),
            reply("TRYAGAIN Multiple keys request during rehashing of slot"),
            reply("CLUSTERDOWN The cluster is down"),
            reply(
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
            ),
            reply("READONLY You can't write against a read only replica."),
            reply("OOM command not allowed when used memory > 'maxmemory'."),
            reply(
                "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.",
            ),
            reply("NOREPLICAS Not enough good replicas to write."),
            reply("ERR max number of clients reached"),
        ] {
            assert_eq!(Kind::of(&error), Kind::Unavailable, "{error}");
        }
    }

    #[test]
    fn an_answer_cut_off_is_unavailable() {
        // What the connection reports when it ends in the middle of an answer (seen with a
        // proxy that resets connections mid-answer), and what the plain parser does.
        let cut = "Parse error at 0\nUnexpected end of input\nUnexpected `1`\n".to_owned();
        let error = RedisError::from(redis::ParsingError::from(cut));
        assert_eq!(error.kind(), ErrorKind::Parse);
        assert_eq!(Kind::of(&error), Kind::Unavailable, "{error}");
        let error = redis::parse_redis_value(b"$10\r\nabc").expect_err("a cut answer");
        assert_eq!(Kind::of(&error), Kind::Unavailable, "{error}");
    }

    #[test]
    fn an_answer_of_the_wrong_type_is_other() {
        let error = RedisError::from(redis::ParsingError::from("expected an integer".to_owned()));
        assert_eq!(Kind::of(&error), Kind::Other, "{error}");
    }

    #[test]
    fn values_over_the_bulk_limit_are_refused() {
        let error = reply("ERR Protocol error: invalid bulk length");
        assert_eq!(Kind::of(&error), Kind::ValueRefused);
        let error = reply("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        assert_eq!(Kind::of(&error), Kind::ValueRefused);
    }

    #[test]
    fn anything_else_is_other() {
        for error in [
            reply("WRONGTYPE Operation against a key holding the wrong kind of value"),
            reply("ERR unknown command 'GETEX'"),
            reply("NOAUTH Authentication required."),
            reply("WRONGPASS invalid username-password pair or user is disabled."),
            reply("NOSCRIPT No matching script."),
        ] {
            assert_eq!(Kind::of(&error), Kind::Other, "{error}");
        }
    }

    #[test]
    fn the_cause_names_the_server() {
        let error = sort(io(std::io::ErrorKind::ConnectionRefused), "127.0.0.1:6379");
        assert!(matches!(error, StoreError::Unavailable(_)));
        let cause = std::error::Error::source(&error)
            .expect("a cause")
            .to_string();
        assert!(cause.starts_with("redis 127.0.0.1:6379: "), "{cause}");
    }
}
