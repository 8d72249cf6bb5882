//! Prometheus metrics: `GET /metrics` in the text exposition format, on a listener of its own
//! (`[metrics]`), never on the API's address. Requests are counted per matched route template
//! (never the raw path, whose ids would make a series per question) by a middleware that costs a
//! read lock and a few atomic adds; open event streams come from the server's stream registry,
//! and the queue and outbox gauges are read from the store when scraped.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::AppState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
const METHODS: [&str; 8] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "other"];
/// Status codes 100 to 599, one counter each.
const STATUSES: usize = 500;
/// The route label of requests no route matched (the 404 fallback).
const UNMATCHED: &str = "unmatched";

pub use crate::channels::ChannelStage;

/// The counters, shared by the middleware, the channel workers and the scrape handler.
#[derive(Default)]
pub struct Metrics {
    routes: RwLock<HashMap<Box<str>, Arc<RouteStats>>>,
    channel_errors: Mutex<BTreeMap<(String, ChannelStage), u64>>,
}

#[derive(Default)]
struct RouteStats {
    methods: [OnceLock<Box<MethodStats>>; METHODS.len()],
}

struct MethodStats {
    statuses: [AtomicU64; STATUSES],
    /// Not cumulative; summed when rendered.
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Default for MethodStats {
    fn default() -> Self {
        MethodStats {
            statuses: std::array::from_fn(|_| AtomicU64::new(0)),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

fn method_index(m: &Method) -> usize {
    METHODS.iter().position(|n| *n == m.as_str()).unwrap_or(METHODS.len() - 1)
}

impl Metrics {
    /// Counts one answered request.
    pub fn observe(&self, method: &Method, route: &str, status: StatusCode, took: Duration) {
        let stats = self.route(route);
        let m = stats.methods[method_index(method)].get_or_init(Box::default);
        let code = status.as_u16() as usize;
        if (100..100 + STATUSES).contains(&code) {
            m.statuses[code - 100].fetch_add(1, Ordering::Relaxed);
        }
        let secs = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            m.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        m.count.fetch_add(1, Ordering::Relaxed);
        m.sum_micros.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    fn route(&self, route: &str) -> Arc<RouteStats> {
        if let Ok(routes) = self.routes.read()
            && let Some(s) = routes.get(route)
        {
            return s.clone();
        }
        // Routes are a fixed set (templates), so this runs once per route.
        match self.routes.write() {
            Ok(mut routes) => routes.entry(route.into()).or_default().clone(),
            Err(_) => Arc::default(),
        }
    }

    /// Counts a failed call to a network.
    pub fn channel_error(&self, channel: &str, stage: ChannelStage) {
        if let Ok(mut errors) = self.channel_errors.lock() {
            *errors.entry((channel.to_string(), stage)).or_default() += 1;
        }
    }

    /// Everything kept in memory, in the exposition format (the store's gauges are added by the
    /// handler).
    fn render_counters(&self, out: &mut String) {
        let routes: Vec<(String, Arc<RouteStats>)> = match self.routes.read() {
            Ok(r) => r.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            Err(_) => Vec::new(),
        };
        let mut routes = routes;
        routes.sort_by(|a, b| a.0.cmp(&b.0));
        describe(
            out,
            "helphive_http_requests_total",
            "counter",
            "HTTP requests answered, by method, route template and status.",
        );
        for (route, stats) in &routes {
            for (mi, m) in stats.methods.iter().enumerate() {
                let Some(m) = m.get() else { continue };
                for (si, n) in m.statuses.iter().enumerate() {
                    let n = n.load(Ordering::Relaxed);
                    if n > 0 {
                        let labels =
                            [("method", METHODS[mi]), ("route", route.as_str()), ("status", &(si + 100).to_string())];
                        sample(out, "helphive_http_requests_total", &labels, n as f64);
                    }
                }
            }
        }
        describe(
            out,
            "helphive_http_request_duration_seconds",
            "histogram",
            "Time from a request to its response head, by method and route template.",
        );
        for (route, stats) in &routes {
            for (mi, m) in stats.methods.iter().enumerate() {
                let Some(m) = m.get() else { continue };
                let base = [("method", METHODS[mi]), ("route", route.as_str())];
                let mut cumulative = 0;
                for (i, b) in BUCKETS.iter().enumerate() {
                    cumulative += m.buckets[i].load(Ordering::Relaxed);
                    let le = b.to_string();
                    let labels = [base[0], base[1], ("le", le.as_str())];
                    sample(out, "helphive_http_request_duration_seconds_bucket", &labels, cumulative as f64);
                }
                let count = m.count.load(Ordering::Relaxed);
                let labels = [base[0], base[1], ("le", "+Inf")];
                sample(out, "helphive_http_request_duration_seconds_bucket", &labels, count as f64);
                let sum = m.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
                sample(out, "helphive_http_request_duration_seconds_sum", &base, sum);
                sample(out, "helphive_http_request_duration_seconds_count", &base, count as f64);
            }
        }
        describe(
            out,
            "helphive_channel_errors_total",
            "counter",
            "Failed calls to a social network, by channel and stage (prepare, ingest, post).",
        );
        if let Ok(errors) = self.channel_errors.lock() {
            for ((channel, stage), n) in errors.iter() {
                sample(
                    out,
                    "helphive_channel_errors_total",
                    &[("channel", channel), ("stage", stage.as_str())],
                    *n as f64,
                );
            }
        }
    }
}

fn describe(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            for c in v.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// The middleware `app` adds when metrics are enabled. It runs inside the router, after the route
/// is matched, so `MatchedPath` holds the template.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let response = next.run(req).await;
    let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    metrics.observe(&method, route, response.status(), start.elapsed());
    response
}

/// The scrape endpoint's state.
#[derive(Clone)]
struct Scrape {
    state: AppState,
    /// SHA-256 of the bearer token scrapers must send, if any.
    token: Option<[u8; 32]>,
}

async fn scrape(State(s): State<Scrape>, headers: HeaderMap) -> Response {
    if let Some(expected) = s.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| <[u8; 32]>::from(Sha256::digest(t.trim().as_bytes())));
        if given != Some(expected) {
            return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], "a bearer token is needed\n")
                .into_response();
        }
    }
    let mut out = String::with_capacity(16 * 1024);
    s.state.metrics.render_counters(&mut out);
    describe(&mut out, "helphive_event_streams_open", "gauge", "Live event streams (GET /api/v1/events) open now.");
    sample(&mut out, "helphive_event_streams_open", &[], s.state.streams.count() as f64);
    match s.state.store.ops_gauges(s.state.functions(), s.state.now()).await {
        Ok(g) => render_gauges(&mut out, &g),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read the queue gauges");
            describe(&mut out, "helphive_store_up", "gauge", "1 when the store answered this scrape.");
            sample(&mut out, "helphive_store_up", &[], 0.0);
            return text(out);
        }
    }
    describe(&mut out, "helphive_store_up", "gauge", "1 when the store answered this scrape.");
    sample(&mut out, "helphive_store_up", &[], 1.0);
    text(out)
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

/// A gauge read off one row of the store's figures: its name, its help line and the value.
type Gauge<T> = (&'static str, &'static str, fn(&T) -> i64);

fn render_gauges(out: &mut String, g: &crate::store::OpsGauges) {
    let per_function: [Gauge<crate::store::FunctionGauges>; 3] = [
        ("helphive_queue_depth", "Open questions nobody has claimed, by function.", |v| v.unclaimed),
        (
            "helphive_questions_open",
            "Questions not resolved (unclaimed, claimed, awaiting approval), by function.",
            |v| v.open,
        ),
        (
            "helphive_questions_breaching",
            "Questions past their response deadline with a customer message still unanswered, by function.",
            |v| v.breaching,
        ),
    ];
    for (name, help, value) in per_function {
        describe(out, name, "gauge", help);
        for (f, v) in &g.functions {
            sample(out, name, &[("function", f)], value(v) as f64);
        }
    }
    describe(out, "helphive_questions_held", "gauge", "Posts held back as possible spam, waiting for a lead.");
    sample(out, "helphive_questions_held", &[], g.held as f64);
    let per_channel: [Gauge<crate::store::OutboxGauges>; 2] = [
        ("helphive_outbox_backlog", "Approved replies waiting to be posted, by channel.", |v| v.backlog),
        ("helphive_outbox_failed", "Replies the network refused for good or given up on, by channel.", |v| v.failed),
    ];
    for (name, help, value) in per_channel {
        describe(out, name, "gauge", help);
        for (c, v) in &g.outbox {
            sample(out, name, &[("channel", c)], value(v) as f64);
        }
    }
}

/// The router of the metrics listener: `/metrics` only.
pub fn router(state: AppState, token: Option<&str>) -> Router {
    let token = token.map(|t| <[u8; 32]>::from(Sha256::digest(t.as_bytes())));
    Router::new()
        .route("/metrics", get(scrape))
        .fallback(|| async { (StatusCode::NOT_FOUND, "only /metrics here\n") })
        .with_state(Scrape { state, token })
}

/// Binds the metrics listener when `[metrics]` is enabled and serves it in a task; `None` when
/// metrics are off. A listener on any address but loopback needs a token, so turning metrics on
/// cannot publish them by accident.
pub async fn start(state: &AppState) -> Result<Option<(SocketAddr, tokio::task::JoinHandle<()>)>, String> {
    let cfg = &state.config.metrics;
    if !cfg.enabled {
        return Ok(None);
    }
    let addr: SocketAddr = cfg
        .bind
        .parse()
        .map_err(|_| format!("metrics.bind '{}' is not an address to listen on (like 127.0.0.1:7879)", cfg.bind))?;
    let token = cfg.token().map_err(|e| e.to_string())?;
    if token.is_none() && !addr.ip().is_loopback() {
        return Err(format!(
            "metrics.bind {addr} is reachable from other machines: give scrapers a token (the environment \
             variable in metrics.token_env, or metrics.token_file), or bind to 127.0.0.1"
        ));
    }
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot serve metrics on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let app = router(state.clone(), token.as_deref());
    // The API's listener, with its header timeout and connection cap: a scraper on another
    // machine is a client like any other. It stops with the process.
    let limits = super::listen::Limits::from_config(&state.config.server, state.config.server.max_body_bytes);
    let task = tokio::spawn(async move {
        let streams = super::streams::Streams::default();
        super::listen::run(listener, app, &limits, &streams, std::future::pending()).await;
    });
    Ok(Some((local, task)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_labels_escaped() {
        let m = Metrics::default();
        let route = "/a/{id}";
        m.observe(&Method::GET, route, StatusCode::OK, Duration::from_micros(500));
        m.observe(&Method::GET, route, StatusCode::OK, Duration::from_millis(30));
        m.observe(&Method::GET, route, StatusCode::NOT_FOUND, Duration::from_secs(60));
        m.observe(&Method::from_bytes(b"BREW").unwrap(), route, StatusCode::OK, Duration::ZERO);
        m.channel_error("ma\"st\\on\n", ChannelStage::Post);
        let mut out = String::new();
        m.render_counters(&mut out);
        let has = |line: &str| out.lines().any(|l| l == line);
        assert!(has(r#"helphive_http_requests_total{method="GET",route="/a/{id}",status="200"} 2"#), "{out}");
        assert!(has(r#"helphive_http_requests_total{method="other",route="/a/{id}",status="200"} 1"#), "{out}");
        assert!(has(r#"helphive_http_request_duration_seconds_bucket{method="GET",route="/a/{id}",le="0.001"} 1"#));
        assert!(has(r#"helphive_http_request_duration_seconds_bucket{method="GET",route="/a/{id}",le="0.025"} 1"#));
        assert!(has(r#"helphive_http_request_duration_seconds_bucket{method="GET",route="/a/{id}",le="0.05"} 2"#));
        assert!(has(r#"helphive_http_request_duration_seconds_bucket{method="GET",route="/a/{id}",le="10"} 2"#));
        assert!(has(r#"helphive_http_request_duration_seconds_bucket{method="GET",route="/a/{id}",le="+Inf"} 3"#));
        assert!(has(r#"helphive_http_request_duration_seconds_count{method="GET",route="/a/{id}"} 3"#));
        assert!(has(r#"helphive_channel_errors_total{channel="ma\"st\\on\n",stage="post"} 1"#), "{out}");
    }
}
