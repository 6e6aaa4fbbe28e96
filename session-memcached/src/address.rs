//! Server addresses: checked when the store is built, written one canonical way.
//!
//! The canonical form is both what the client dials and the server's identity for routing, so
//! one server written two ways (`[::1]:11211` and `[0:0:0:0:0:0:0:1]:11211`, `Cache1:11211` and
//! `cache1:11211`) always gets the same sessions. Host names are not resolved here: building a
//! store does no I/O, and `localhost:11211` stays a different identity from `127.0.0.1:11211`.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// A memcached server's address in canonical `host:port` form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ServerAddress(String);

impl ServerAddress {
    /// Parses `HOST:PORT`, where HOST is an IPv4 address, a bracketed IPv6 address or a DNS
    /// name. The error says what is wrong, for [`ConfigError`](crate::ConfigError).
    pub(crate) fn parse(text: &str) -> Result<Self, &'static str> {
        let Some((host, port)) = text.trim().rsplit_once(':') else {
            return Err("expected HOST:PORT");
        };
        let port: u16 = match port.parse() {
            Ok(0) | Err(_) => return Err("the port must be between 1 and 65535"),
            Ok(port) => port,
        };
        if let Some(ip) = host.strip_prefix('[').and_then(|ip| ip.strip_suffix(']')) {
            let ip: Ipv6Addr = ip.parse().map_err(|_| "invalid IPv6 address")?;
            // An IPv4-mapped IPv6 address is the IPv4 server.
            return Ok(Self(SocketAddr::new(ip.to_canonical(), port).to_string()));
        }
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return Ok(Self(SocketAddr::new(ip.into(), port).to_string()));
        }
        if host.contains(':') {
            return Err("IPv6 addresses go in brackets, as in [::1]:11211");
        }
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        if !is_host_name(&host) {
            return Err("invalid host name");
        }
        Ok(Self(format!("{host}:{port}")))
    }

    /// The canonical text, which the client dials and the router hashes.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A DNS name: dot-separated labels of letters, digits and inner hyphens, 1 to 63 bytes each,
/// the last one not all digits (so a mistyped IPv4 address such as `10.0.0.300` is refused).
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && !host
            .rsplit('.')
            .next()
            .is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()))
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> String {
        ServerAddress::parse(text)
            .unwrap_or_else(|error| panic!("{text:?} rejected: {error}"))
            .to_string()
    }

    #[test]
    fn one_server_written_two_ways_is_one_identity() {
        assert_eq!(
            canonical("[::1]:11211"),
            canonical("[0:0:0:0:0:0:0:1]:11211")
        );
        assert_eq!(canonical("[::ffff:10.0.0.1]:11211"), "10.0.0.1:11211");
        assert_eq!(canonical(" 10.0.0.1:011211 "), "10.0.0.1:11211");
        assert_eq!(
            canonical("Cache-1.Example.COM.:11211"),
            "cache-1.example.com:11211"
        );
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for bad in [
            "",
            "10.0.0.1",
            "10.0.0.1:0",
            "10.0.0.1:65536",
            "10.0.0.1:port",
            "::1:11211",
            "[::1]",
            "[nope]:11211",
            ":11211",
            "bad_host:11211",
            "10.0.0.300:11211",
            "-cache:11211",
            "cache..example:11211",
            "cache/path:11211",
            "user@cache:11211",
        ] {
            assert!(ServerAddress::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
