//! A small Redis Cluster of primaries only, for tests.

use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::{RedisServer, free_port, resp};

/// How long the nodes get to agree on the cluster's state once joined.
const JOIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Running cluster nodes, each a [`RedisServer`] with cluster mode on, owning a share of the
/// 16,384 slots and no replicas. Every node is killed on drop.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `nodes` servers (at least three, which `redis-cli --cluster create` requires) with
    /// cluster mode on, joins them with `redis-cli --cluster create ... --cluster-replicas 0`, and
    /// waits until every node says `cluster_state:ok`.
    ///
    /// Returns `None` after a loud warning when Redis is not installed, unless
    /// `SESSION_REQUIRE_REDIS=1`, in which case it panics. Panics when the cluster does not form.
    pub fn start(nodes: usize) -> Option<RedisCluster> {
        assert!(nodes >= 3, "a Redis Cluster needs at least three primaries");
        let mut servers = Vec::with_capacity(nodes);
        for _ in 0..nodes {
            let server = RedisServer::start_with(
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "5000",
                ],
                // The cluster bus listens on its own port: by default the client port plus
                // 10,000, which need not be free, so give it a free one of its own.
                |_| vec!["--cluster-port".to_owned(), free_port().port().to_string()],
            )?;
            servers.push(server);
        }
        let addresses: Vec<String> = servers.iter().map(|s| s.addr().to_string()).collect();
        let output = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("cannot run redis-cli: {error}"));
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let cluster = RedisCluster { nodes: servers };
        cluster.wait_ok();
        Some(cluster)
    }

    /// The nodes, in the order they were started.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// Node `index`, to kill and restart it. A restarted node keeps its place in the cluster
    /// (its `nodes.conf` survives) but none of its data.
    pub fn node_mut(&mut self, index: usize) -> &mut RedisServer {
        &mut self.nodes[index]
    }

    /// The store spec for this cluster: `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,...`.
    pub fn spec(&self) -> String {
        let addresses: Vec<String> = self.nodes.iter().map(|s| s.addr().to_string()).collect();
        format!("redis+cluster://{}", addresses.join(","))
    }

    /// Makes every node announce `addresses[i]` (a proxy in front of node `i`,
    /// say) as its client address, so that cluster clients, which connect to the addresses
    /// the nodes announce, go through them. Waits until every node knows every new address.
    ///
    /// Only the port is announced; the host stays `127.0.0.1`.
    pub fn announce(&self, addresses: &[std::net::SocketAddr]) {
        assert_eq!(addresses.len(), self.nodes.len(), "one address per node");
        for (node, address) in self.nodes.iter().zip(addresses) {
            let bus_port = node
                .args
                .iter()
                .position(|arg| arg == "--cluster-port")
                .and_then(|at| node.args.get(at + 1))
                .expect("a cluster node has a bus port")
                .clone();
            for (name, value) in [
                ("cluster-announce-bus-port", bus_port),
                ("cluster-announce-port", address.port().to_string()),
            ] {
                let reply = node.command(&["CONFIG", "SET", name, &value]);
                assert_eq!(reply.text(), "OK", "CONFIG SET {name}");
            }
        }
        let deadline = Instant::now() + JOIN_TIMEOUT;
        let announced: Vec<String> = addresses
            .iter()
            .map(|a| format!("127.0.0.1:{}@", a.port()))
            .collect();
        loop {
            let known = self.nodes.iter().all(|node| {
                let nodes = node.command(&["CLUSTER", "NODES"]).text();
                announced
                    .iter()
                    .all(|address| nodes.contains(address.as_str()))
            });
            if known {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the nodes did not learn the announced addresses within {JOIN_TIMEOUT:?}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until every node reports the cluster healthy, knows every node and serves every
    /// slot.
    fn wait_ok(&self) {
        let deadline = Instant::now() + JOIN_TIMEOUT;
        let nodes = self.nodes.len().to_string();
        loop {
            let ready = self.nodes.iter().all(|node| {
                let info = resp::fields(&node.command(&["CLUSTER", "INFO"]).text());
                info.get("cluster_state").map(String::as_str) == Some("ok")
                    && info.get("cluster_slots_ok").map(String::as_str) == Some("16384")
                    && info.get("cluster_known_nodes") == Some(&nodes)
            });
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not reach cluster_state:ok within {JOIN_TIMEOUT:?}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn three_nodes_share_every_slot() {
        let cluster = crate::cluster_or_skip!(3);
        assert!(cluster.spec().starts_with("redis+cluster://127.0.0.1:"));
        let mut slots = 0;
        for node in cluster.nodes() {
            let nodes = node.command(&["CLUSTER", "NODES"]).text();
            let myself = nodes
                .lines()
                .find(|line| line.contains("myself"))
                .expect("a line for the node itself");
            // `<id> <addr> <flags> <primary> <ping> <pong> <epoch> <link> <slot ranges...>`
            let mut owned = 0;
            for range in myself.split(' ').skip(8) {
                let (from, to) = range.split_once('-').unwrap_or((range, range));
                let from: u32 = from.parse().expect("a slot number");
                let to: u32 = to.parse().expect("a slot number");
                owned += to - from + 1;
            }
            assert!(owned > 0, "{} owns no slot", node.addr());
            slots += owned;
        }
        assert_eq!(slots, 16384);
    }
}
