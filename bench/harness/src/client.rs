//! A tiny sequential HTTP/1.1 client on one keep-alive connection: enough
//! for `GET`s whose responses carry a `Content-Length`, which is all the
//! variants answer.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::Result;

/// How long a response may take (under callgrind a request takes
/// milliseconds; this only catches a server that hangs).
const TIMEOUT: Duration = Duration::from_secs(30);

/// A response, reduced to what the checks look at.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
    /// The `name=value` part of each `Set-Cookie`.
    pub set_cookies: Vec<String>,
}

impl Response {
    /// The only cookie the response sets.
    pub fn cookie(&self) -> Result<&str> {
        match self.set_cookies.as_slice() {
            [cookie] => Ok(cookie),
            cookies => Err(format!("expected one Set-Cookie, got {cookies:?}").into()),
        }
    }
}

/// One connection to a server.
pub struct Client {
    address: SocketAddr,
    connection: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(address: SocketAddr) -> Result<Client> {
        let stream = TcpStream::connect(address)
            .map_err(|error| format!("cannot connect to {address}: {error}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        Ok(Client {
            address,
            connection: BufReader::new(stream),
        })
    }

    /// `GET path`, with `cookie` (`name=value`) if given.
    pub fn get(&mut self, path: &str, cookie: Option<&str>) -> Result<Response> {
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n", self.address);
        if let Some(cookie) = cookie {
            request.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        request.push_str("\r\n");
        self.connection.get_mut().write_all(request.as_bytes())?;
        self.read_response()
            .map_err(|error| format!("GET {path}: {error}").into())
    }

    fn read_response(&mut self) -> Result<Response> {
        let status_line = self.line()?;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let mut length = None;
        let mut set_cookies = Vec::new();
        loop {
            let line = self.line()?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| format!("bad header line {line:?}"))?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>()?);
            } else if name.eq_ignore_ascii_case("set-cookie") {
                let pair = value.split(';').next().unwrap_or_default();
                set_cookies.push(pair.trim().to_owned());
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(format!("unsupported Transfer-Encoding: {value}").into());
            }
        }
        let length = length.ok_or("a response without Content-Length")?;
        let mut body = vec![0; length];
        self.connection.read_exact(&mut body)?;
        Ok(Response {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
            set_cookies,
        })
    }

    /// One header line, without its CRLF.
    fn line(&mut self) -> Result<String> {
        let mut line = String::new();
        if self.connection.read_line(&mut line)? == 0 {
            return Err("the server closed the connection".into());
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}
