//! Properties of `ServerAddress::parse`: arbitrary text never panics; what
//! it accepts is canonical (the canonical form and the host and port parse
//! back to the same address); well-formed IPv4, IPv6 and DNS addresses are
//! accepted, written any way; ports outside 1..=65535 are refused.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use session_core::ServerAddress;

/// The address written back from its host and port.
fn rebuilt(address: &ServerAddress) -> String {
    let host = address.host();
    if host.contains(':') {
        format!("[{host}]:{}", address.port())
    } else {
        format!("{host}:{}", address.port())
    }
}

/// DNS names: labels of letters, digits and inner hyphens, the last not all
/// digits.
fn host_name() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec("[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?", 0..4),
        "[a-zA-Z]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?",
    )
        .prop_map(|(mut labels, last)| {
            labels.push(last);
            labels.join(".")
        })
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics_and_what_parses_is_canonical(text in ".{0,80}") {
        if let Ok(address) = ServerAddress::parse(&text) {
            let again = ServerAddress::parse(address.as_str());
            prop_assert_eq!(again.as_ref(), Ok(&address));
            prop_assert_eq!(ServerAddress::parse(&rebuilt(&address)), Ok(address));
        }
    }

    #[test]
    fn text_shaped_like_addresses_never_panics(text in "[\\[\\]0-9a-fA-F:.%-]{0,40}") {
        if let Ok(address) = ServerAddress::parse(&text) {
            prop_assert_eq!(ServerAddress::parse(address.as_str()), Ok(address));
        }
    }

    #[test]
    fn ipv4_addresses_are_accepted(ip in any::<Ipv4Addr>(), port in 1..=u16::MAX) {
        let address = ServerAddress::parse(&format!(" {ip}:{port} ")).expect("valid");
        prop_assert_eq!(address.as_str(), format!("{ip}:{port}"));
        prop_assert_eq!((address.host(), address.port()), (ip.to_string(), port));
    }

    #[test]
    fn ipv6_addresses_are_accepted_and_canonical(ip in any::<Ipv6Addr>(), port in 1..=u16::MAX) {
        let expanded = ip.segments().map(|s| format!("{s:x}")).join(":");
        let address = ServerAddress::parse(&format!("[{expanded}]:{port}")).expect("valid");
        let short = ServerAddress::parse(&format!("[{ip}]:{port}")).expect("valid");
        prop_assert_eq!(&address, &short);
        prop_assert_eq!(address.host(), ip.to_canonical().to_string());
    }

    #[test]
    fn host_names_are_accepted_in_lowercase(name in host_name(), port in 1..=u16::MAX, dot in any::<bool>()) {
        let dot = if dot { "." } else { "" };
        let address = ServerAddress::parse(&format!("{name}{dot}:{port}")).expect("valid");
        prop_assert_eq!(address.as_str(), format!("{}:{port}", name.to_ascii_lowercase()));
    }

    #[test]
    fn ports_out_of_range_are_refused(name in host_name(), port in prop_oneof![Just(0u64), 65_536..u64::MAX]) {
        let text = format!("{name}:{port}");
        prop_assert!(ServerAddress::parse(&text).is_err());
    }
}
