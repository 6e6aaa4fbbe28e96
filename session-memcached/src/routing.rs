//! Which server holds a key: rendezvous hashing over a hash whose output never changes.
//!
//! Every server gets a score for the key and the highest wins. Removing a server moves only the
//! keys it held (they fall to their second-best server); the others stay put, which is what keeps
//! sessions readable when one server is taken out of the list. List order does not matter.
//!
//! The hash is written out here (FNV-1a, then the SplitMix64 finalizer to spread the bits) rather
//! than taken from `std`: `DefaultHasher`'s output may change between Rust releases, and a
//! changed hash would move every session to another server, logging everyone out at an upgrade.
//! The `stable_across_releases` test pins its values.

use session_core::ServerAddress;

/// Picks the server for each key among a fixed list.
#[derive(Debug, Clone)]
pub(crate) struct Router {
    /// One seed per server, derived from its canonical address, in list order.
    seeds: Vec<u64>,
}

impl Router {
    pub(crate) fn new(servers: &[ServerAddress]) -> Self {
        Self {
            seeds: servers
                .iter()
                .map(|server| fnv1a(server.as_str().as_bytes()))
                .collect(),
        }
    }

    /// The index of the server that holds `key`. Always 0 for a single server.
    pub(crate) fn route(&self, key: &[u8]) -> usize {
        if self.seeds.len() == 1 {
            return 0;
        }
        let key_hash = fnv1a(key);
        let mut best = (0, 0);
        for (index, seed) in self.seeds.iter().enumerate() {
            let score = mix(key_hash ^ seed);
            if index == 0 || score > best.1 {
                best = (index, score);
            }
        }
        best.0
    }
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// The SplitMix64 finalizer: a bijection in which every input bit affects every output bit, so
/// that nearby inputs give unrelated scores.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(list: &[&str]) -> Vec<ServerAddress> {
        list.iter()
            .map(|text| ServerAddress::parse(text).expect("valid test address"))
            .collect()
    }

    #[test]
    fn stable_across_releases() {
        // Published FNV-1a test vectors, and fixed routes: if this fails, sessions would move.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
        let router = Router::new(&servers(&[
            "10.0.0.1:11211",
            "10.0.0.2:11211",
            "10.0.0.3:11211",
        ]));
        let routes: Vec<usize> = (0..12)
            .map(|i| router.route(format!("session:{i}").as_bytes()))
            .collect();
        assert_eq!(routes, [0, 1, 0, 2, 1, 2, 1, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn address_spelling_and_list_order_do_not_matter() {
        let a = Router::new(&servers(&["[::1]:11211", "Cache:11211", "10.0.0.1:11211"]));
        let b = Router::new(&servers(&[
            "10.0.0.1:11211",
            "cache.:11211",
            "[0:0::1]:11211",
        ]));
        // Same servers, so the same server (by address) for every key.
        let names_a = ["[::1]:11211", "cache:11211", "10.0.0.1:11211"];
        let names_b = ["10.0.0.1:11211", "cache:11211", "[::1]:11211"];
        for i in 0..1000 {
            let key = format!("key:{i}");
            assert_eq!(
                names_a[a.route(key.as_bytes())],
                names_b[b.route(key.as_bytes())]
            );
        }
    }

    #[test]
    fn spreads_evenly_and_removal_moves_only_the_removed_servers_keys() {
        let three = Router::new(&servers(&["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"]));
        let two = Router::new(&servers(&["10.0.0.1:1", "10.0.0.3:1"]));
        let mut counts = [0; 3];
        for i in 0..3000 {
            let key = format!("key:{i}");
            let before = three.route(key.as_bytes());
            counts[before] += 1;
            let after = two.route(key.as_bytes());
            match before {
                0 => assert_eq!(after, 0),
                2 => assert_eq!(after, 1),
                _ => {}
            }
        }
        assert!(counts.iter().all(|&n| n > 850), "unbalanced: {counts:?}");
    }
}
