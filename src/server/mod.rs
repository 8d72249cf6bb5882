//! The HTTP API (axum): authentication, the queue operations, live events over SSE, and the
//! background jobs (lease expiry, event pruning; `serve` also runs the channel connectors). `app(state)` builds the whole router, so tests
//! and the demo run the real server in-process.

mod api;
mod error;
mod events;
mod extract;
pub mod hive;
pub mod listen;
pub mod metrics;
pub mod openapi;
pub mod streams;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;

pub use error::{ApiError, ApiResult};

use crate::clock::Clock;
use crate::config::Config;
use crate::store::Store;

/// Everything a request handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    /// Key for Standard Webhooks signatures, already decoded.
    pub webhook_key: Option<Arc<Vec<u8>>>,
    pub hive: Arc<hive::Hive>,
    /// The way in for customer messages (the webhook endpoint's, and the connectors' through
    /// `desk`), with the topic model the retraining job replaces.
    pub intake: crate::intake::Intake,
    /// Wakes the routing job at once (a question arrived, an agent came online).
    route_now: Arc<tokio::sync::Notify>,
    functions: Arc<Vec<String>>,
    /// The social network connectors `serve` runs (none unless configured).
    pub channels: Arc<crate::channels::Channels>,
    /// The open event streams, ended when their credentials go or the server stops.
    pub streams: Arc<streams::Streams>,
    /// Counters for `/metrics` (served only when `[metrics]` is enabled).
    pub metrics: Arc<metrics::Metrics>,
}

impl AppState {
    pub fn new(store: Store, config: Config, clock: Arc<dyn Clock>, webhook_secret: Option<&str>) -> Self {
        let functions = config.functions.iter().map(|f| f.name.clone()).collect();
        let config = Arc::new(config);
        let route_now = Arc::new(tokio::sync::Notify::new());
        AppState {
            intake: crate::intake::Intake::new(store.clone(), config.clone(), clock.clone(), route_now.clone()),
            store,
            hive: Arc::new(hive::Hive::new(&config)),
            route_now,
            config,
            clock,
            webhook_key: webhook_secret.map(|s| Arc::new(crate::signing::secret_key(s))),
            functions: Arc::new(functions),
            channels: Arc::new(crate::channels::Channels::default()),
            streams: Arc::default(),
            metrics: Arc::default(),
        }
    }

    /// The same state with these connectors: their limits show in the directory, the outbox
    /// worker posts through them, and `serve` runs them.
    pub fn with_channels(mut self, channels: crate::channels::Channels) -> Self {
        self.channels = Arc::new(channels);
        self
    }

    /// The same state classifying with `model` (a model trained with the business's own
    /// questions at start); the retraining job replaces what the slot holds.
    pub fn with_model(mut self, model: crate::routing::ModelSlot) -> Self {
        self.intake = self.intake.with_model(model);
        self
    }

    /// Asks the routing job to run now rather than at its next tick.
    pub fn reroute(&self) {
        self.route_now.notify_one();
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// What the channel connectors and the outbox worker need of this state.
    pub fn desk(&self) -> crate::channels::Desk {
        let metrics = self.metrics.clone();
        crate::channels::Desk {
            store: self.store.clone(),
            config: self.config.clone(),
            clock: self.clock.clone(),
            channels: self.channels.clone(),
            intake: self.intake.clone(),
            count_error: Arc::new(move |channel, stage| metrics.channel_error(channel, stage)),
        }
    }

    pub fn lease_ms(&self) -> i64 {
        self.config.server.lease_minutes as i64 * 60_000
    }

    pub fn functions(&self) -> &[String] {
        &self.functions
    }
}

/// The whole HTTP surface.
pub fn app(state: AppState) -> Router {
    let limit = state.config.server.max_body_bytes;
    let limits = Arc::new(listen::Limits::from_config(&state.config.server, state.config.webhook.max_batch_bytes));
    let router = Router::new()
        .route("/healthz", get(|| async { axum::Json(crate::wire::Health { status: "ok".into() }) }))
        .nest("/api/v1", api::router(&state.config).merge(events::router()))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint; see /api/v1/openapi.json")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method; see /api/v1/openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(limits, listen::read_body_in_time))
        .layer(axum::middleware::from_fn(error::json_errors));
    // `layer` wraps every route and the fallbacks after routing, so the matched template is
    // known; outermost, so answers of the layers inside (a body read too slowly) count too.
    let router = if state.config.metrics.enabled {
        router.layer(axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
    } else {
        router
    };
    router.with_state(state)
}

/// Starts the background jobs: routing (offers, breaches), returning expired leases to the
/// queue, checkpointing the database, and pruning old events.
pub fn spawn_jobs(state: AppState) -> tokio::task::JoinHandle<()> {
    let router = state.clone();
    let routing = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = router.route_now.notified() => {}
            }
            if let Err(e) = router.hive.route(&router).await {
                tracing::warn!(error = %e, "routing pass failed; will retry");
            }
            // Under a stream of changes, passes run at most five times a second: each reads the
            // whole picture, so one pass covers everything that changed meanwhile.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    tokio::spawn(async move {
        // Aborting this task (the demo, tests) must stop the router too.
        struct StopRouter(tokio::task::JoinHandle<()>);
        impl Drop for StopRouter {
            fn drop(&mut self) {
                self.0.abort();
            }
        }
        let _router = StopRouter(routing);
        let every = Duration::from_secs(state.config.server.lease_check_seconds as u64);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            n += 1;
            match state.store.expire_leases(state.now()).await {
                Ok(0) => {}
                Ok(k) => {
                    tracing::info!(count = k, "returned expired claims to the queue");
                    state.reroute();
                }
                Err(e) => tracing::warn!(error = %e, "lease expiry failed; will retry"),
            }
            if let Err(e) = state.store.checkpoint().await {
                tracing::warn!(error = %e, "checkpoint failed; will retry");
            }
            if n.is_multiple_of(60)
                && let Err(e) = state.store.prune_events(state.now()).await
            {
                tracing::warn!(error = %e, "event pruning failed; will retry");
            }
        }
    })
}

/// Every `routing.retrain_minutes`, when labelled questions were stored since the last look
/// (agents' corrections, resolved questions, imports), retrains the topic model off the async
/// threads and swaps it into the intake's slot, where the webhook endpoint and the connectors
/// find it; questions keep being classified by the old one meanwhile.
fn spawn_retraining(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    let minutes = state.config.routing.retrain_minutes;
    if minutes == 0 {
        return None;
    }
    Some(tokio::spawn(async move {
        // What start-up learned (see `helphive serve`) counts as seen.
        let mut seen = state.store.training_version().await.unwrap_or(0);
        let mut tick = tokio::time::interval(Duration::from_secs(u64::from(minutes) * 60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is immediate
        loop {
            tick.tick().await;
            let version = match state.store.training_version().await {
                Ok(v) if v == seen => continue,
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the labelled questions; will retry");
                    continue;
                }
            };
            let examples = match state.store.training_examples().await {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the labelled questions; will retry");
                    continue;
                }
            };
            let own = examples.len();
            match tokio::task::spawn_blocking(move || crate::routing::model_with(&examples)).await {
                Ok(model) => {
                    state.intake.model().set(model);
                    seen = version;
                    tracing::info!(own, "topic model retrained with the stored labelled questions");
                }
                Err(e) => tracing::warn!(error = %e, "retraining the topic model failed; will retry"),
            }
        }
    }))
}

/// Binds `addr` and serves until ctrl-c / SIGTERM. `on_ready` is told the bound address.
pub async fn serve(state: AppState, addr: SocketAddr, on_ready: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    serve_until(state, addr, on_ready, shutdown_signal()).await
}

/// [`serve`], stopping when `shutdown` completes: the streams end, requests in flight finish
/// (within `server.shutdown_grace_seconds`), the jobs stop and the database is checkpointed.
pub async fn serve_until(
    state: AppState,
    addr: SocketAddr,
    on_ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let jobs = spawn_jobs(state.clone());
    let retraining = spawn_retraining(state.clone());
    let channels = (!state.channels.is_empty()).then(|| crate::channels::spawn(state.desk()));
    on_ready(local);
    let limits = listen::Limits::from_config(&state.config.server, state.config.webhook.max_batch_bytes);
    listen::run(listener, app(state.clone()), &limits, &state.streams, shutdown).await;
    jobs.abort();
    if let Some(r) = retraining {
        r.abort();
    }
    if let Some(c) = channels {
        c.abort();
    }
    state.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
