//! The HTTP listener `helphive serve` runs: HTTP/1.1 on hyper with the limits a server reachable
//! from other machines needs (a slow or stalled client must not hold a connection for ever) and
//! a shutdown that ends the event streams, lets requests in flight finish, and stops.
//!
//! - Headers must arrive within `server.header_timeout_seconds` (also how long an idle
//!   keep-alive connection stays open); a request body within `server.body_timeout_seconds`
//!   (answered 408, see [`read_body_in_time`]).
//! - At most `server.max_connections` at once; one more is answered 503 and closed.
//! - On shutdown: stop accepting, end every event stream (terminals see the server go and start
//!   reconnecting), finish the requests in flight, and close whatever is still open after
//!   `server.shutdown_grace_seconds`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::ApiError;
use super::streams::Streams;
use crate::config::ServerConfig;
use crate::wire::{ErrorAnswer, ErrorBody};

/// The listener's limits, from `[server]`.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
    /// The largest body any endpoint takes (the webhook batch limit, usually).
    pub max_body_bytes: usize,
}

impl Limits {
    pub fn from_config(server: &ServerConfig, max_batch_bytes: usize) -> Limits {
        Limits {
            header_timeout: Duration::from_secs(server.header_timeout_seconds.into()),
            body_timeout: Duration::from_secs(server.body_timeout_seconds.into()),
            max_connections: server.max_connections as usize,
            shutdown_grace: Duration::from_secs(server.shutdown_grace_seconds.into()),
            max_body_bytes: server.max_body_bytes.max(max_batch_bytes),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then shuts down as described above.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: &Limits,
    streams: &Streams,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(%peer, limit = limits.max_connections, "connection refused: too many open connections");
            tokio::spawn(refuse_busy(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("shutting down: ending event streams, finishing requests in flight");
    streams.shut_down();
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!(grace = ?limits.shutdown_grace, "connections still open after the grace period; closing them");
        }
    }
}

/// Answers a connection over the limit with a 503 in the API's error shape, and closes it.
async fn refuse_busy(mut stream: TcpStream) {
    let error = ErrorBody {
        code: "busy".into(),
        message: "the server has too many open connections; try again shortly".into(),
    };
    let body = serde_json::to_string(&ErrorAnswer { error }).unwrap_or_default();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

/// Reads the whole request body before the handler runs, within the body timeout and the
/// largest body limit: a client that sends its headers and then stalls gets a 408 instead of
/// holding the connection, and a body over every limit a 413, both in the API's error shape.
/// (Each endpoint's own, smaller limit still applies in its extractor.)
pub async fn read_body_in_time(State(limits): State<Arc<Limits>>, req: Request, next: Next) -> Response {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return closing(too_large(&limits));
    }
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(limits.body_timeout, axum::body::to_bytes(body, limits.max_body_bytes)).await {
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Ok(Err(e)) => {
            let over = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if over {
                closing(self::too_large(&limits))
            } else {
                closing(ApiError::bad_request(format!("the request body could not be read: {e}")))
            }
        }
        Err(_) => closing(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("the request body did not arrive within {} s", limits.body_timeout.as_secs()),
        )),
    }
}

fn too_large(limits: &Limits) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the request body is over {} bytes, the most this server takes", limits.max_body_bytes),
    )
}

/// An error answer after which the connection is closed (the rest of the body is not read).
fn closing(e: ApiError) -> Response {
    let mut r = e.into_response();
    r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}
