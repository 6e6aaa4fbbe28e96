//! Reading and writing memcached directly, as anyone who reaches it can: memcached has no
//! authentication. The security scenarios use this to look at what the app stores and to plant
//! corrupted, altered or copied records.
//!
//! Plain text protocol over a blocking socket; these are test helpers, so they panic on errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// One stored item: memcached's client flags and the value bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The opaque flags the client stored with the value.
    pub flags: u32,
    /// The value.
    pub value: Vec<u8>,
}

/// An open text-protocol connection.
struct Connection {
    reader: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl Connection {
    fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr)
            .unwrap_or_else(|error| panic!("cannot connect to memcached at {addr}: {error}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("cannot set a read timeout");
        Self {
            reader: BufReader::new(stream),
            addr,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.reader
            .get_mut()
            .write_all(bytes)
            .unwrap_or_else(|error| panic!("cannot write to memcached at {}: {error}", self.addr));
    }

    fn line(&mut self) -> String {
        let mut line = Vec::new();
        self.reader
            .read_until(b'\n', &mut line)
            .unwrap_or_else(|error| panic!("cannot read from memcached at {}: {error}", self.addr));
        assert!(
            line.ends_with(b"\n"),
            "memcached at {} closed mid-line",
            self.addr
        );
        // metadump ends its item lines with a bare `\n`, everything else with `\r\n`.
        let text = String::from_utf8_lossy(&line);
        text.trim_end_matches(['\r', '\n']).to_owned()
    }
}

/// Every key memcached holds, from `lru_crawler metadump hash`: a walk of
/// the hash table. (`metadump all` walks the LRU lists instead, and can miss an
/// item that memcached's LRU maintainer moves between lists during the walk.)
pub fn keys(addr: SocketAddr) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut connection = Connection::open(addr);
        connection.send(b"lru_crawler metadump hash\r\n");
        let mut keys = Vec::new();
        loop {
            let line = connection.line();
            if line == "END" {
                return keys;
            }
            // Another crawl is running (memcached crawls in the background too): retry shortly.
            if line.starts_with("BUSY") && Instant::now() < deadline {
                break;
            }
            let key = line
                .split(' ')
                .find_map(|field| field.strip_prefix("key="))
                .unwrap_or_else(|| panic!("unexpected metadump line from {addr}: {line:?}"));
            keys.push(percent_decode(key));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// The item under `key`, if any.
pub fn get(addr: SocketAddr, key: &str) -> Option<Record> {
    let mut connection = Connection::open(addr);
    connection.send(format!("get {key}\r\n").as_bytes());
    let header = connection.line();
    if header == "END" {
        return None;
    }
    let fields: Vec<&str> = header.split(' ').collect();
    let (flags, len) = match fields.as_slice() {
        ["VALUE", _, flags, len, ..] => (
            flags.parse().expect("numeric flags"),
            len.parse().expect("numeric length"),
        ),
        _ => panic!("unexpected reply to get from {addr}: {header:?}"),
    };
    let mut value = vec![0; len + 2];
    connection
        .reader
        .read_exact(&mut value)
        .unwrap_or_else(|error| panic!("cannot read a value from {addr}: {error}"));
    value.truncate(len);
    assert_eq!(
        connection.line(),
        "END",
        "get {key} returned more than one item"
    );
    Some(Record { flags, value })
}

/// Stores `record` under `key`, never expiring.
pub fn set(addr: SocketAddr, key: &str, record: &Record) {
    let mut connection = Connection::open(addr);
    let mut command =
        format!("set {key} {} 0 {}\r\n", record.flags, record.value.len()).into_bytes();
    command.extend_from_slice(&record.value);
    command.extend_from_slice(b"\r\n");
    connection.send(&command);
    let reply = connection.line();
    assert_eq!(reply, "STORED", "set {key} on {addr} failed");
}

/// Every key with its item (keys that vanish between the dump and the read are skipped).
pub fn dump(addr: SocketAddr) -> Vec<(String, Record)> {
    keys(addr)
        .into_iter()
        .filter_map(|key| get(addr, &key).map(|record| (key, record)))
        .collect()
}

/// The counters that move whenever the store is written to (or an item's expiry is pushed).
pub fn writes(stats: &std::collections::HashMap<String, u64>) -> u64 {
    [
        "cmd_set",
        "cmd_touch",
        "delete_hits",
        "delete_misses",
        "incr_hits",
        "incr_misses",
        "decr_hits",
        "decr_misses",
        "total_items",
    ]
    .iter()
    .map(|name| stats.get(*name).copied().unwrap_or(0))
    .sum()
}

/// metadump escapes keys like URLs.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                at += 3;
            }
            (byte, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadump_keys_are_unescaped() {
        assert_eq!(percent_decode("session%3Aab%2Fc%zz"), "session:ab/c%zz");
    }

    #[test]
    fn items_round_trip_and_are_listed() {
        let Some(server) = test_memcached::MemcachedServer::start() else {
            return;
        };
        let record = Record {
            flags: 7,
            value: b"a\r\nb".to_vec(),
        };
        set(server.addr(), "k:1", &record);
        assert_eq!(get(server.addr(), "k:1"), Some(record.clone()));
        assert_eq!(get(server.addr(), "k:2"), None);
        assert_eq!(dump(server.addr()), vec![("k:1".to_owned(), record)]);
        assert!(writes(&server.stats()) >= 1);
    }
}
