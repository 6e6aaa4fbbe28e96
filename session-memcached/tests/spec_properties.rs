//! Properties of the `memcached://` spec: arbitrary text never panics; an
//! accepted spec written back from its canonical servers is accepted as the
//! same servers; lists of distinct valid servers are accepted in order, and
//! a server listed twice (written any way) is refused.

use proptest::prelude::*;
use session_memcached::fuzz_entry::check_spec;

/// Valid servers: a name or an IPv4 address, and a port.
fn server() -> impl Strategy<Value = (String, u16)> {
    (
        prop_oneof![
            "[a-z]([a-z0-9-]{0,8}[a-z0-9])?",
            any::<std::net::Ipv4Addr>().prop_map(|ip| ip.to_string())
        ],
        1..=u16::MAX,
    )
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,80}") {
        let _ = check_spec(&text);
        if let Ok(servers) = check_spec(&format!("memcached://{text}")) {
            let spec = format!("memcached://{}", servers.join(","));
            prop_assert_eq!(check_spec(&spec), Ok(servers));
        }
    }

    #[test]
    fn distinct_servers_are_accepted_in_order(
        servers in proptest::collection::btree_set(server(), 1..6)
            .prop_map(|set| set.into_iter().collect::<Vec<_>>())
            .prop_shuffle(),
        spaces in "[ ]{0,2}",
    ) {
        // A name and a port: two entries differ as canonical addresses.
        let servers: Vec<String> = servers.iter().map(|(host, port)| format!("{host}:{port}")).collect();
        let spec = format!("MEMCACHED://{}", servers.iter().map(|s| format!("{spaces}{s}{spaces}")).collect::<Vec<_>>().join(","));
        prop_assert_eq!(check_spec(&spec), Ok(servers));
    }

    #[test]
    fn a_server_listed_twice_is_refused((host, port) in server(), upper in any::<bool>()) {
        let again = if upper { host.to_ascii_uppercase() } else { host.clone() };
        let spec = format!("memcached://{host}:{port},{again}:0{port}");
        prop_assert!(check_spec(&spec).is_err());
    }
}
