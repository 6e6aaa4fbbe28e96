//! [`ServerAddress`]: a store server's `HOST:PORT`, checked when a store is
//! built and written one canonical way, for store crates to share.
//!
//! The canonical form is what a client dials and what names the server (in
//! routing and in errors), so one server written two ways (`[::1]:6379` and
//! `[0:0:0:0:0:0:0:1]:6379`, `Cache1:6379` and `cache1:6379`) is one server.
//! Host names are not resolved here: building a store does no I/O, and
//! `localhost:11211` stays another identity than `127.0.0.1:11211`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A server's address: an IP address or a lowercase DNS name, and a port.
///
/// # Examples
///
/// ```
/// use session_core::ServerAddress;
///
/// let address = ServerAddress::parse("[0:0:0:0:0:0:0:1]:11211")?;
/// assert_eq!(address.as_str(), "[::1]:11211");
/// assert_eq!((address.host(), address.port()), ("::1".to_owned(), 11211));
/// assert!(ServerAddress::parse("10.0.0.300:11211").is_err());
/// # Ok::<_, session_core::InvalidAddress>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerAddress {
    host: Host,
    port: u16,
    canonical: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Host {
    Ip(IpAddr),
    Name(String),
}

/// Why a `HOST:PORT` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidAddress(&'static str);

impl InvalidAddress {
    /// What is wrong, in a few words.
    pub fn reason(self) -> &'static str {
        self.0
    }
}

impl ServerAddress {
    /// Parses `HOST:PORT`, where HOST is an IPv4 address, a bracketed IPv6
    /// address or a DNS name; surrounding spaces are ignored, an IPv4-mapped
    /// IPv6 address is the IPv4 server, and a name is lowercased without a
    /// trailing dot.
    ///
    /// # Errors
    ///
    /// [`InvalidAddress`], saying what is wrong: no port, a port of 0 or over
    /// 65535, an invalid IP address, an unbracketed IPv6 address, or a host
    /// that is no DNS name (`10.0.0.300` is refused, not looked up).
    pub fn parse(text: &str) -> Result<Self, InvalidAddress> {
        let Some((host, port)) = text.trim().rsplit_once(':') else {
            return Err(InvalidAddress("expected HOST:PORT"));
        };
        let port: u16 = match port.parse() {
            Ok(0) | Err(_) => return Err(InvalidAddress("the port must be between 1 and 65535")),
            Ok(port) => port,
        };
        let host = if let Some(ip) = host.strip_prefix('[').and_then(|ip| ip.strip_suffix(']')) {
            let ip: Ipv6Addr = ip
                .parse()
                .map_err(|_| InvalidAddress("invalid IPv6 address"))?;
            Host::Ip(ip.to_canonical())
        } else if let Ok(ip) = host.parse::<Ipv4Addr>() {
            Host::Ip(ip.into())
        } else if host.contains(':') {
            return Err(InvalidAddress(
                "IPv6 addresses go in brackets, as in [::1]:11211",
            ));
        } else {
            let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
            if !is_host_name(&host) {
                return Err(InvalidAddress("invalid host name"));
            }
            Host::Name(host)
        };
        let canonical = match &host {
            Host::Ip(IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
            Host::Ip(IpAddr::V4(ip)) => format!("{ip}:{port}"),
            Host::Name(name) => format!("{name}:{port}"),
        };
        Ok(Self {
            host,
            port,
            canonical,
        })
    }

    /// The canonical `host:port`, IPv6 addresses in brackets.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// The host as a client dials it: an IP address without brackets, or a
    /// name.
    pub fn host(&self) -> String {
        match &self.host {
            Host::Ip(ip) => ip.to_string(),
            Host::Name(name) => name.clone(),
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for ServerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

/// A DNS name: dot-separated labels of letters, digits and inner hyphens, 1
/// to 63 bytes each, the last one not all digits (so a mistyped IPv4 address
/// such as `10.0.0.300` is refused).
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
            canonical("Cache-1.Example.COM.:11211"),
            "cache-1.example.com:11211"
        );
    }

    #[test]
    fn the_client_dials_hosts_without_brackets() {
        let v6 = ServerAddress::parse("[::1]:7000").expect("valid");
        assert_eq!((v6.host(), v6.port()), ("::1".to_owned(), 7000));
        assert_eq!(v6.as_str(), "[::1]:7000");
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
