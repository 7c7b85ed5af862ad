//! One HTTP/1.1 request to a gateway on loopback, the way the router sends it: a fresh
//! connection per request, plain TCP, a whole-request timeout, a bounded body. hyper does the
//! protocol (Content-Length, chunking, header validation); this module only adds the bounds and
//! turns failures into the three cases the probe tells apart.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Largest response body read; a longer one is an error, not a truncated answer.
pub const MAX_BODY: usize = 1024 * 1024;

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
    /// The connection broke, the answer was not HTTP, or the request could not be built.
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

impl std::error::Error for HttpError {}

/// `host:port` as it goes into a `Host` header (an IPv6 address in brackets).
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Builds the request; a header name or value that is not valid HTTP (a CR/LF in a token, say)
/// is refused here, so nothing can be injected into the request.
fn build(
    host: &str,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Request<Full<Bytes>>, HttpError> {
    let bad = |what: &str, e: &dyn fmt::Display| HttpError::Broken(format!("{what}: {e}"));
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, authority(host, port));
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| bad("bad header name", &e))?;
        let value =
            HeaderValue::from_str(v).map_err(|e| bad(&format!("bad value for header {k}"), &e))?;
        req = req.header(name, value);
    }
    if body.is_some()
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        req = req.header(CONTENT_TYPE, "application/json");
    }
    let body = Full::new(Bytes::copy_from_slice(body.unwrap_or_default()));
    req.body(body)
        .map_err(|e| bad("cannot build the request", &e))
}

/// Sends one request and reads the whole answer (at most [`MAX_BODY`] bytes of body).
pub async fn request(
    host: &str,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<Response, HttpError> {
    let req = build(host, port, method, path, headers, body)?;
    let work = async {
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::ConnectionRefused => HttpError::Refused(e.to_string()),
                _ => HttpError::Broken(e.to_string()),
            })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| HttpError::Broken(e.to_string()))?;
        // The connection runs beside the request; it ends when the answer is read.
        let driver = tokio::spawn(conn);
        let res = sender
            .send_request(req)
            .await
            .map_err(|e| HttpError::Broken(e.to_string()))?;
        let status = res.status().as_u16();
        let body = Limited::new(res.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| HttpError::Broken(format!("reading the body: {e}")))?
            .to_bytes();
        driver.abort();
        Ok(Response {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(HttpError::Timeout(timeout)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot server on loopback that records the request and answers `answer`.
    async fn serve(answer: &'static [u8]) -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let h = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            s.write_all(answer).await.unwrap();
            let _ = s.shutdown().await;
            got
        });
        (port, h)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn plain_and_chunked_answers() {
        rt().block_on(async {
            let (port, h) =
                serve(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\nhello").await;
            let r = request("127.0.0.1", port, "GET", "/health", &[], None, Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!((r.status, r.body.as_str()), (500, "hello"));
            let req = String::from_utf8(h.await.unwrap()).unwrap();
            assert!(req.starts_with("GET /health HTTP/1.1\r\n"), "{req}");
            assert!(req.to_ascii_lowercase().contains(&format!("host: 127.0.0.1:{port}\r\n")));

            let (port, _h) = serve(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            )
            .await;
            let r = request("127.0.0.1", port, "GET", "/", &[], None, Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(r.body, "hello world");
        });
    }

    #[test]
    fn not_http_is_broken_and_silence_times_out() {
        rt().block_on(async {
            let (port, _h) = serve(b"garbage\r\n\r\n").await;
            let e = request(
                "127.0.0.1",
                port,
                "GET",
                "/",
                &[],
                None,
                Duration::from_secs(5),
            )
            .await;
            assert!(matches!(e, Err(HttpError::Broken(_))), "{e:?}");

            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = l.local_addr().unwrap().port();
            let _keep = tokio::spawn(async move {
                let (_s, _) = l.accept().await.unwrap();
                tokio::time::sleep(Duration::from_secs(10)).await;
            });
            let t = Duration::from_millis(300);
            let e = request("127.0.0.1", port, "GET", "/", &[], None, t).await;
            assert_eq!(e, Err(HttpError::Timeout(t)));
        });
    }

    #[test]
    fn header_injection_is_refused_before_connecting() {
        rt().block_on(async {
            // Port 9 (discard): never reached, the request is refused while being built.
            let e = request(
                "127.0.0.1",
                9,
                "POST",
                "/v1/chat/completions",
                &[("Authorization", "Bearer t\r\nX-Injected: yes")],
                Some(b"{}"),
                Duration::from_secs(5),
            )
            .await;
            match e {
                Err(HttpError::Broken(m)) => assert!(m.contains("Authorization"), "{m}"),
                other => panic!("{other:?}"),
            }
        });
    }

    #[test]
    fn oversized_body_is_an_error() {
        rt().block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = l.local_addr().unwrap().port();
            tokio::spawn(async move {
                let (mut s, _) = l.accept().await.unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let n = MAX_BODY + 1;
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n");
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&vec![b'x'; n]).await;
            });
            let e = request(
                "127.0.0.1",
                port,
                "GET",
                "/",
                &[],
                None,
                Duration::from_secs(5),
            )
            .await;
            assert!(matches!(e, Err(HttpError::Broken(_))), "{e:?}");
        });
    }

    #[test]
    fn ipv6_host_header() {
        assert_eq!(authority("::1", 80), "[::1]:80");
        assert_eq!(authority("127.0.0.1", 80), "127.0.0.1:80");
        assert_eq!(authority("[::1]", 80), "[::1]:80");
    }
}
