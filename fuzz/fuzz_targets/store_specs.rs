//! Store specs and server addresses, as applications read them from their
//! environment: arbitrary text never panics; an accepted address is
//! canonical (it parses back to itself, and from its host and port); an
//! accepted spec written back from what it configures configures the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::ServerAddress;
use session_memcached::fuzz_entry as memcached;
use session_redis::fuzz_entry as redis;

fuzz_target!(|text: &str| {
    if let Ok(address) = ServerAddress::parse(text) {
        assert_eq!(
            ServerAddress::parse(address.as_str()).as_ref(),
            Ok(&address)
        );
        let host = address.host();
        let rebuilt = if host.contains(':') {
            format!("[{host}]:{}", address.port())
        } else {
            format!("{host}:{}", address.port())
        };
        assert_eq!(ServerAddress::parse(&rebuilt), Ok(address));
    }

    if let Ok(servers) = memcached::check_spec(text) {
        assert!(!servers.is_empty());
        let spec = format!("memcached://{}", servers.join(","));
        assert_eq!(memcached::check_spec(&spec), Ok(servers));
    }

    if let Ok(parts) = redis::check_spec(text) {
        assert!(!parts.servers.is_empty());
        assert!(parts.cluster || parts.servers.len() == 1);
        let spec = parts.to_spec();
        assert_eq!(redis::check_spec(&spec), Ok(parts));
    }
});
