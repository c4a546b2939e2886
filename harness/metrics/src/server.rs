//! The `/metrics` endpoint: hyper's HTTP/1.1 server on a tokio runtime of its own thread. It answers
//! `GET /metrics` (and `GET /`) with the text exposition, anything else with 404 or 405. Every
//! connection is a task of its own, so idle or slow clients never delay a scrape: a client that has not
//! sent its request headers within [`HEADER_TIMEOUT`] is dropped, and no connection lives longer than
//! [`CONNECTION_LIMIT`]. A scraper can never stall a run (the run does not wait on this thread).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

use crate::Exposition;

/// How long a client has to send its request headers.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a connection (kept alive across scrapes) lives.
pub(crate) const CONNECTION_LIMIT: Duration = Duration::from_secs(120);

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

/// Serves `metrics` (a run's or a fleet's) at `http://ADDR/metrics` until the process ends.
pub fn serve(addr: &str, metrics: Arc<dyn Exposition>) -> Result<MetricsServer, ServeError> {
    let bind = |source| ServeError::Bind { addr: addr.into(), source };
    let parsed: SocketAddr = addr.parse().map_err(|_| ServeError::BadAddress(addr.into()))?;
    let listener = std::net::TcpListener::bind(parsed).map_err(bind)?;
    let local = listener.local_addr().map_err(bind)?;
    listener.set_nonblocking(true).map_err(bind)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build().map_err(bind)?;
    std::thread::Builder::new()
        .name("dualrun-metrics".into())
        .spawn(move || runtime.block_on(accept(listener, metrics)))
        .map_err(bind)?;
    tracing::info!(addr = %local, "serving metrics at /metrics");
    Ok(MetricsServer { addr: local })
}

async fn accept(listener: std::net::TcpListener, metrics: Arc<dyn Exposition>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "the metrics endpoint could not start");
            return;
        }
    };
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::debug!(error = %e, "accepting a metrics connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let metrics = metrics.clone();
                async move { Ok::<_, Infallible>(answer(&req, &metrics)) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Ok(Err(e)) = tokio::time::timeout(CONNECTION_LIMIT, connection).await {
                tracing::debug!(error = %e, "metrics connection ended");
            }
        });
    }
}

fn answer(req: &Request<Incoming>, metrics: &Arc<dyn Exposition>) -> Response<Full<Bytes>> {
    const TEXT: &str = "text/plain; charset=utf-8";
    let (status, content_type, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics" | "/") => {
            (StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", metrics.encode())
        }
        (&Method::GET, _) => (StatusCode::NOT_FOUND, TEXT, "not found: try /metrics\n".to_owned()),
        _ => (StatusCode::METHOD_NOT_ALLOWED, TEXT, "only GET\n".to_owned()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Instant;

    use super::*;
    use crate::Metrics;

    fn scrape(addr: SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    }

    /// A scrape is answered at once while 100 idle connections (that never send a request) are open,
    /// and those are dropped by the server on its own after the header timeout.
    #[test]
    fn a_scrape_answers_within_a_second_beside_100_idle_connections() {
        let server = serve("127.0.0.1:0", Arc::new(Metrics::new(dualrun_core::Mode::Shadow))).unwrap();
        let addr = server.local_addr();
        let idle: Vec<TcpStream> = (0..100).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let started = Instant::now();
        let text = scrape(addr, "/metrics");
        let took = started.elapsed();
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
        assert!(text.contains("dualrun_mode_info{mode=\"shadow\"} 1"), "{text}");
        assert!(took < Duration::from_secs(1), "the scrape took {took:?} beside 100 idle connections");
        assert!(scrape(addr, "/nothing").starts_with("HTTP/1.1 404"));

        // The idle clients are closed by the server (read returns end of file), not kept forever.
        let mut first = idle.into_iter().next().unwrap();
        first.set_read_timeout(Some(HEADER_TIMEOUT + Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 256];
        let closed = Instant::now();
        let n = first.read(&mut buf).unwrap_or(0);
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(n == 0 || answer.starts_with("HTTP/1.1 408"), "an idle client was answered {answer:?}");
        assert!(closed.elapsed() < HEADER_TIMEOUT + Duration::from_secs(5), "closed after {:?}", closed.elapsed());
    }
}
