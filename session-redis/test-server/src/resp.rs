//! A minimal blocking RESP2 client: enough to configure and inspect a test server (`CONFIG SET`,
//! `INFO`, `CLUSTER INFO`, a long-running `EVAL`), with no dependency on the client under test.

use std::fmt;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a command may take before the helper gives up, unless a test says otherwise.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// One reply from the server, as RESP2 sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK` and other status lines.
    Status(String),
    /// `-ERR ...`, `-OOM ...` and other error lines, without the leading `-`.
    Error(String),
    /// `:42`.
    Integer(i64),
    /// A bulk string, `None` for the null bulk string.
    Bulk(Option<Vec<u8>>),
    /// An array, `None` for the null array.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The reply as text: a status, an error or a bulk string (lossily decoded).
    pub fn text(&self) -> String {
        match self {
            Reply::Status(text) | Reply::Error(text) => text.clone(),
            Reply::Bulk(Some(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
            other => format!("{other:?}"),
        }
    }

    /// The integer of an integer reply.
    pub fn integer(&self) -> Option<i64> {
        match self {
            Reply::Integer(value) => Some(*value),
            _ => None,
        }
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// A plain connection to a test server.
#[derive(Debug)]
pub struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    /// Connects to `addr` with the default five-second read timeout.
    ///
    /// # Errors
    ///
    /// Any I/O error while connecting.
    pub fn open(addr: SocketAddr) -> std::io::Result<Connection> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
        stream.set_read_timeout(Some(DEFAULT_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            reader: BufReader::new(stream),
        })
    }

    /// Changes how long a reply may take (`None`: forever).
    ///
    /// # Errors
    ///
    /// Any I/O error setting the socket option.
    pub fn set_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        self.reader.get_ref().set_read_timeout(timeout)
    }

    /// Sends a command without reading its reply (for one that blocks the server, say).
    ///
    /// # Errors
    ///
    /// Any I/O error writing it.
    pub fn send(&mut self, args: &[&str]) -> std::io::Result<()> {
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        self.reader.get_mut().write_all(&request)
    }

    /// Reads one reply.
    ///
    /// # Errors
    ///
    /// Any I/O error, or a reply this client cannot read.
    pub fn read_reply(&mut self) -> std::io::Result<Reply> {
        let line = self.line()?;
        let (kind, rest) = line.split_at(1);
        let number = || -> std::io::Result<i64> {
            rest.parse()
                .map_err(|_| std::io::Error::new(ErrorKind::InvalidData, line.clone()))
        };
        Ok(match kind {
            "+" => Reply::Status(rest.to_owned()),
            "-" => Reply::Error(rest.to_owned()),
            ":" => Reply::Integer(number()?),
            "$" => match usize::try_from(number()?) {
                Err(_) => Reply::Bulk(None),
                Ok(len) => {
                    let mut bytes = vec![0; len + 2];
                    self.reader.read_exact(&mut bytes)?;
                    bytes.truncate(len);
                    Reply::Bulk(Some(bytes))
                }
            },
            "*" => match usize::try_from(number()?) {
                Err(_) => Reply::Array(None),
                Ok(len) => Reply::Array(Some(
                    (0..len)
                        .map(|_| self.read_reply())
                        .collect::<std::io::Result<_>>()?,
                )),
            },
            _ => return Err(std::io::Error::new(ErrorKind::InvalidData, line)),
        })
    }

    /// Sends a command and reads its reply. An error reply is a reply, not an `Err`.
    ///
    /// # Errors
    ///
    /// Any I/O error.
    pub fn command(&mut self, args: &[&str]) -> std::io::Result<Reply> {
        self.send(args)?;
        self.read_reply()
    }

    fn line(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            return Err(std::io::Error::new(ErrorKind::InvalidData, "empty line"));
        }
        Ok(line)
    }
}

/// `INFO`-style `name:value` lines as a map.
pub(crate) fn fields(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_owned(), value.trim().to_owned()))
        .collect()
}
