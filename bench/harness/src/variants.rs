//! The servers the harness measures. Adding one is one entry in [`VARIANTS`]
//! (and its binary: a package in `bench/variants`, listed in the workspace).

use std::net::SocketAddr;

/// What a variant is measured against, for the ratio columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The framework without sessions: the floor for its framework. Its
    /// routes answer 200 without a session, so only their statuses are
    /// checked.
    Bare,
    /// Another crate's sessions.
    Peer,
    /// Our crates, compared with the peer variant named here, if the
    /// framework has one.
    Ours { peer: Option<&'static str> },
}

/// A server under test.
#[derive(Debug)]
pub struct Variant {
    /// The name in reports and on the command line.
    pub name: &'static str,
    /// The web framework; its [`Role::Bare`] variant is the floor.
    pub framework: &'static str,
    /// The cargo package that builds the binary.
    pub package: &'static str,
    /// The binary's name.
    pub binary: &'static str,
    /// Arguments after `--listen`.
    pub args: &'static [&'static str],
    /// Whether the server needs the harness's memcached: it then gets
    /// `--store memcached://HOST:PORT`, and its round trips are counted.
    pub memcached: bool,
    pub role: Role,
}

impl Variant {
    /// The server's arguments, given the harness's memcached.
    pub fn arguments(&self, memcached: Option<SocketAddr>) -> Vec<String> {
        let mut args: Vec<String> = self.args.iter().map(|arg| arg.to_string()).collect();
        if let (true, Some(address)) = (self.memcached, memcached) {
            args.extend(["--store".to_owned(), format!("memcached://{address}")]);
        }
        args
    }

    /// Whether the variant keeps sessions (every role but [`Role::Bare`]).
    pub fn has_sessions(&self) -> bool {
        self.role != Role::Bare
    }
}

/// Every variant, in report order.
pub const VARIANTS: &[Variant] = &[
    Variant {
        name: "axum-bare",
        framework: "axum",
        package: "axum-bare",
        binary: "axum-bare",
        args: &[],
        memcached: false,
        role: Role::Bare,
    },
    Variant {
        name: "axum-tower-sessions",
        framework: "axum",
        package: "axum-tower-sessions",
        binary: "axum-tower-sessions",
        args: &[],
        memcached: false,
        role: Role::Peer,
    },
    Variant {
        name: "axum-tower-sessions-signed",
        framework: "axum",
        package: "axum-tower-sessions",
        binary: "axum-tower-sessions-signed",
        args: &[],
        memcached: false,
        role: Role::Peer,
    },
    Variant {
        name: "axum-ours-memory",
        framework: "axum",
        package: "axum-ours",
        binary: "axum-ours",
        args: &["--store", "memory"],
        memcached: false,
        role: Role::Ours {
            peer: Some("axum-tower-sessions"),
        },
    },
    Variant {
        name: "axum-ours-memcached",
        framework: "axum",
        package: "axum-ours",
        binary: "axum-ours",
        args: &[],
        memcached: true,
        role: Role::Ours {
            peer: Some("axum-tower-sessions"),
        },
    },
    Variant {
        name: "actix-bare",
        framework: "actix-web",
        package: "actix-bare",
        binary: "actix-bare",
        args: &[],
        memcached: false,
        role: Role::Bare,
    },
    Variant {
        name: "actix-session",
        framework: "actix-web",
        package: "actix-session-cookie",
        binary: "actix-session-cookie",
        args: &[],
        memcached: false,
        role: Role::Peer,
    },
    Variant {
        name: "actix-ours-memory",
        framework: "actix-web",
        package: "actix-ours",
        binary: "actix-ours",
        args: &["--store", "memory"],
        memcached: false,
        role: Role::Ours {
            peer: Some("actix-session"),
        },
    },
    Variant {
        name: "actix-ours-memcached",
        framework: "actix-web",
        package: "actix-ours",
        binary: "actix-ours",
        args: &[],
        memcached: true,
        role: Role::Ours {
            peer: Some("actix-session"),
        },
    },
    Variant {
        name: "hyper-bare",
        framework: "hyper",
        package: "hyper-bare",
        binary: "hyper-bare",
        args: &[],
        memcached: false,
        role: Role::Bare,
    },
    Variant {
        name: "hyper-ours-memory",
        framework: "hyper",
        package: "hyper-ours",
        binary: "hyper-ours",
        args: &["--store", "memory"],
        memcached: false,
        role: Role::Ours { peer: None },
    },
    Variant {
        name: "hyper-ours-memcached",
        framework: "hyper",
        package: "hyper-ours",
        binary: "hyper-ours",
        args: &[],
        memcached: true,
        role: Role::Ours { peer: None },
    },
];

/// The routes under load, in report order. `/seed` is only used to create
/// the sessions.
pub const ROUTES: &[&str] = &[
    support::routes::PLAIN,
    support::routes::READ,
    support::routes::VISITS,
];

/// The variants named in `only` (all when it is empty), in table order.
pub fn select(only: &[String]) -> Result<Vec<&'static Variant>, String> {
    if let Some(unknown) = only
        .iter()
        .find(|name| !VARIANTS.iter().any(|variant| variant.name == name.as_str()))
    {
        let known: Vec<&str> = VARIANTS.iter().map(|variant| variant.name).collect();
        return Err(format!(
            "unknown variant {unknown}; known: {}",
            known.join(", ")
        ));
    }
    Ok(VARIANTS
        .iter()
        .filter(|variant| only.is_empty() || only.iter().any(|name| name == variant.name))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for (index, variant) in VARIANTS.iter().enumerate() {
            assert!(
                VARIANTS[..index]
                    .iter()
                    .all(|other| other.name != variant.name),
                "{} twice",
                variant.name
            );
        }
    }

    /// The ratio columns need one bare variant per framework, and a peer of
    /// the same framework for each of ours that names one.
    #[test]
    fn every_framework_has_its_floor_and_every_peer_exists() {
        for variant in VARIANTS {
            let bare = VARIANTS
                .iter()
                .filter(|other| other.framework == variant.framework && other.role == Role::Bare);
            assert_eq!(bare.count(), 1, "bare variants of {}", variant.framework);
            if let Role::Ours { peer: Some(peer) } = variant.role {
                assert!(
                    VARIANTS.iter().any(|other| other.name == peer
                        && other.framework == variant.framework
                        && other.role == Role::Peer),
                    "{}: no peer variant {peer} on {}",
                    variant.name,
                    variant.framework
                );
            }
        }
    }
}
