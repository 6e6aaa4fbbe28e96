//! Server addresses: checked when the store is built, written one canonical way.
//!
//! The canonical form is what the client dials and what errors name, so one server written two
//! ways (`[::1]:6379` and `[0:0:0:0:0:0:0:1]:6379`, `Cache1:6379` and `cache1:6379`) is one
//! server, and a list that names it twice is refused. Host names are not resolved here: building
//! a store does no I/O.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A Redis server's address: a canonical host (an IP address, or a lowercase DNS name) and a
/// port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ServerAddress {
    host: Host,
    port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Host {
    Ip(IpAddr),
    Name(String),
}

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
            return Ok(Self {
                host: Host::Ip(ip.to_canonical()),
                port,
            });
        }
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return Ok(Self {
                host: Host::Ip(ip.into()),
                port,
            });
        }
        if host.contains(':') {
            return Err("IPv6 addresses go in brackets, as in [::1]:6379");
        }
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        if !is_host_name(&host) {
            return Err("invalid host name");
        }
        Ok(Self {
            host: Host::Name(host),
            port,
        })
    }

    /// The host as the client dials it: an IP address without brackets, or a name.
    pub(crate) fn host(&self) -> String {
        match &self.host {
            Host::Ip(ip) => ip.to_string(),
            Host::Name(name) => name.clone(),
        }
    }

    /// The port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for ServerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}:{}", self.port),
            Host::Name(name) => write!(f, "{name}:{}", self.port),
        }
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
    fn one_server_written_two_ways_is_one_address() {
        assert_eq!(canonical("[::1]:6379"), canonical("[0:0:0:0:0:0:0:1]:6379"));
        assert_eq!(canonical("[::ffff:10.0.0.1]:6379"), "10.0.0.1:6379");
        assert_eq!(canonical(" 10.0.0.1:06379 "), "10.0.0.1:6379");
        assert_eq!(
            canonical("Cache-1.Example.COM.:6379"),
            "cache-1.example.com:6379"
        );
    }

    #[test]
    fn the_client_dials_hosts_without_brackets() {
        let v6 = ServerAddress::parse("[::1]:7000").expect("valid");
        assert_eq!((v6.host(), v6.port()), ("::1".to_owned(), 7000));
        let name = ServerAddress::parse("Redis:6379").expect("valid");
        assert_eq!((name.host(), name.port()), ("redis".to_owned(), 6379));
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for bad in [
            "",
            "10.0.0.1",
            "10.0.0.1:0",
            "10.0.0.1:65536",
            "10.0.0.1:port",
            "::1:6379",
            "[::1]",
            "[nope]:6379",
            ":6379",
            "bad_host:6379",
            "10.0.0.300:6379",
            "-cache:6379",
            "cache..example:6379",
            "cache/path:6379",
            "user@cache:6379",
        ] {
            assert!(ServerAddress::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
