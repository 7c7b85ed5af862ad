//! Just enough HTTP/1.1 to talk to a gateway on loopback the way the router does: one request
//! per connection (`Connection: close`), plain TCP, a whole-request timeout. The gateway's
//! answers are small JSON documents, so no streaming, TLS or pooling is needed here.

use std::fmt;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response body kept (the rest is read and dropped).
const MAX_BODY: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// Nothing listens there (the container is down or still starting).
    Refused(String),
    /// No full answer within the timeout.
    Timeout(Duration),
    /// The connection broke, or the answer was not HTTP.
    Broken(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Refused(e) => write!(f, "connection refused ({e})"),
            HttpError::Timeout(d) => {
                write!(f, "no answer within {}", humantime::format_duration(*d))
            }
            HttpError::Broken(e) => write!(f, "broken answer: {e}"),
        }
    }
}

/// Sends one request and reads the whole answer.
pub async fn request(
    host: &str,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<Response, HttpError> {
    let work = async {
        let mut s = TcpStream::connect((host, port))
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::ConnectionRefused => HttpError::Refused(e.to_string()),
                _ => HttpError::Broken(e.to_string()),
            })?;
        let mut req =
            format!("{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(b) = body {
            req.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body.unwrap_or_default());
        s.write_all(&bytes)
            .await
            .map_err(|e| HttpError::Broken(e.to_string()))?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = s
                .read(&mut buf)
                .await
                .map_err(|e| HttpError::Broken(e.to_string()))?;
            if n == 0 {
                break;
            }
            if raw.len() < MAX_BODY + 64 * 1024 {
                raw.extend_from_slice(&buf[..n]);
            }
        }
        parse(&raw)
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(HttpError::Timeout(timeout)))
}

/// Parses a complete HTTP/1.1 response (status, headers, a plain or chunked body).
fn parse(raw: &[u8]) -> Result<Response, HttpError> {
    let broken = |m: &str| HttpError::Broken(m.to_owned());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| broken("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| broken("no status line"))?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let mut body = raw[end + 4..].to_vec();
    if chunked {
        body = dechunk(&body);
    }
    body.truncate(MAX_BODY);
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&b[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok());
        let Some(size) = size.filter(|&n| n > 0) else {
            break;
        };
        let start = eol + 2;
        let stop = (start + size).min(b.len());
        out.extend_from_slice(&b[start..stop]);
        b = &b[(stop + 2).min(b.len())..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_chunked() {
        let r =
            parse(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\nhello").unwrap();
        assert_eq!((r.status, r.body.as_str()), (500, "hello"));
        let r = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n").unwrap();
        assert_eq!(r.body, "hello world");
        assert!(parse(b"garbage").is_err());
    }
}
