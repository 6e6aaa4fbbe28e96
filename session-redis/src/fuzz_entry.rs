//! Entry points into the crate's private parsers, for the fuzz targets in
//! `fuzz/` and the property tests in `tests/`. Not a public API: hidden,
//! behind the `fuzzing` feature.

use redis::ToRedisArgs;
use session_core::Version;

use crate::config::{self, ConfigError, Topology};
use crate::record::{self, Record, TAG_LEN, Tag};
use crate::script::Answer;

/// What a spec configures, as plain values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpecParts {
    /// Whether it names a Redis Cluster.
    pub cluster: bool,
    /// The canonical addresses of the server or the seed nodes.
    pub servers: Vec<String>,
    /// The ACL user.
    pub username: Option<String>,
    /// The password, decoded.
    pub password: Option<String>,
    /// The database number.
    pub database: u32,
}

impl SpecParts {
    /// The spec that configures these parts: credentials percent-encoded
    /// byte by byte (all but letters and digits), servers in order.
    pub fn to_spec(&self) -> String {
        let credentials = match (&self.username, &self.password) {
            (None, None) => String::new(),
            (username, password) => format!(
                "{}:{}@",
                percent_encode(username.as_deref().unwrap_or_default()),
                percent_encode(password.as_deref().unwrap_or_default())
            ),
        };
        let scheme = if self.cluster {
            "redis+cluster"
        } else {
            "redis"
        };
        format!(
            "{scheme}://{credentials}{}/{}",
            self.servers.join(","),
            self.database
        )
    }
}

/// `%XX` for every byte of `text` but letters and digits.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Reads and checks a spec as `RedisStore::from_spec` does, without making
/// the client.
///
/// # Errors
///
/// What `from_spec` would answer for the spec.
pub fn check_spec(spec: &str) -> Result<SpecParts, ConfigError> {
    let config = config::parse_spec(spec)?.check()?;
    let (cluster, servers) = match config.topology {
        Topology::Single(server) => (false, vec![server]),
        Topology::Cluster(nodes) => (true, nodes),
    };
    Ok(SpecParts {
        cluster,
        servers: servers.iter().map(ToString::to_string).collect(),
        username: config.username,
        password: config.password,
        database: config.database,
    })
}

/// The stored string of a record: its bytes, then its 16-byte tag.
pub fn join_record(bytes: &[u8], tag: [u8; TAG_LEN]) -> Vec<u8> {
    let tag = Version::from_bytes(&tag)
        .and_then(|version| Tag::of(version).ok())
        .unwrap_or_else(|| unreachable!("16 bytes are a tag"));
    Record { bytes, tag }.to_redis_args().concat()
}

/// A stored string read back as the store reads it: the record's bytes and
/// its tag's bytes; `None` for a string that is not a record.
pub fn split_record(stored: Vec<u8>) -> Option<(Vec<u8>, Vec<u8>)> {
    let loaded = record::loaded(stored).ok()?;
    let tag = loaded.version.as_bytes()?.to_vec();
    Some((loaded.bytes, tag))
}

/// What the compare-and-set script's integer answer means: `"gone"`,
/// `"conflict"`, `"saved"`, or `None` for an answer it never gives.
pub fn script_answer(code: i64) -> Option<&'static str> {
    Answer::of(code).map(|answer| match answer {
        Answer::Gone => "gone",
        Answer::Conflict => "conflict",
        Answer::Saved => "saved",
    })
}
