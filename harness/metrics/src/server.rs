//! The `/metrics` endpoint: a small HTTP/1.1 responder on its own thread. It answers `GET /metrics`
//! (and `GET /`) with the text exposition, anything else with 404, reads at most 8 KiB of request and
//! gives each read and write 5 seconds, one connection at a time on a thread of its own: a scraper can
//! never stall a run.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::Metrics;

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address is not `HOST:PORT`.
    #[error("--metrics {0}: expected HOST:PORT, e.g. 127.0.0.1:9464")]
    BadAddress(String),
    /// Binding failed (in use, not permitted…).
    #[error("--metrics {addr}: cannot listen: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A running endpoint.
pub struct MetricsServer {
    addr: SocketAddr,
}

impl MetricsServer {
    /// The address it listens on (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Serves `metrics` at `http://ADDR/metrics` until the process ends.
pub fn serve(addr: &str, metrics: Arc<Metrics>) -> Result<MetricsServer, ServeError> {
    let parsed: SocketAddr = addr.parse().map_err(|_| ServeError::BadAddress(addr.into()))?;
    let listener = TcpListener::bind(parsed).map_err(|source| ServeError::Bind { addr: addr.into(), source })?;
    let local = listener.local_addr().map_err(|source| ServeError::Bind { addr: addr.into(), source })?;
    std::thread::Builder::new()
        .name("dualrun-metrics".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Err(e) = answer(stream, &metrics) {
                    tracing::debug!(error = %e, "metrics request failed");
                }
            }
        })
        .map_err(|source| ServeError::Bind { addr: addr.into(), source })?;
    tracing::info!(addr = %local, "serving metrics at /metrics");
    Ok(MetricsServer { addr: local })
}

fn answer(mut stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut request = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let line = request.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (status, content_type, body) = match (method, path) {
        ("GET", "/metrics" | "/") => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics.encode()),
        ("GET", _) => ("404 Not Found", "text/plain; charset=utf-8", "not found: try /metrics\n".to_owned()),
        _ => ("405 Method Not Allowed", "text/plain; charset=utf-8", "only GET\n".to_owned()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}
