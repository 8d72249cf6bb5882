//! `helphive serve`: the help desk server, with its logging on stderr.

use std::net::SocketAddr;
use std::sync::Arc;

use helphive::clock::{Clock, ManualClock, SystemClock};
use helphive::config::Config;
use helphive::server::{self, AppState};
use helphive::store::Store;

use super::db::open_store;
use super::{ConfigArg, DatabaseArg, load_config};

/// Runs the server until it is stopped; prints the "listening" line once the API answers.
pub async fn serve(config: &ConfigArg, database: &DatabaseArg, bind: Option<String>) -> Result<(), String> {
    let (config, origin) = load_config(config)?;
    init_logging();
    let bind = bind.unwrap_or_else(|| config.server.bind.clone());
    let addr: SocketAddr =
        bind.parse().map_err(|_| format!("'{bind}' is not an address to listen on (like 127.0.0.1:7878)"))?;
    let secret = config.webhook_secret().map_err(|e| e.to_string())?;
    let channels = helphive::channels::Channels::from_config(&config).map_err(|e| e.to_string())?;
    let store = open_store(database.database.as_deref(), &config).await?;
    let config = learn_business_questions(config, &store).await?;
    // Trained now rather than by the first question to arrive (under a second).
    let warm = config.clone();
    tokio::task::spawn_blocking(move || drop(helphive::routing::model(&warm)))
        .await
        .map_err(|e| format!("the topic model could not be trained: {e}"))?;
    if store.is_memory() {
        tracing::warn!("database is in memory: everything is lost when the server stops");
    }
    // Tests only: a clock that stands still at HELPHIVE_TEST_CLOCK_MS, so that limits relative to
    // now which the OpenAPI document states as numbers (received_at's window) hold for a whole
    // fuzzing run (tests/fuzz.rs).
    let clock: Arc<dyn Clock> = match std::env::var("HELPHIVE_TEST_CLOCK_MS").ok().and_then(|v| v.parse().ok()) {
        Some(t) => {
            tracing::warn!(at = t, "HELPHIVE_TEST_CLOCK_MS is set: the clock stands still (for tests only)");
            Arc::new(ManualClock::new(t))
        }
        None => Arc::new(SystemClock),
    };
    let state = AppState::new(store, config.clone(), clock, secret.as_deref()).with_channels(channels);
    tracing::info!(config = %origin, "configuration loaded");
    // Bound before the API, so /metrics answers once the "listening" line is out.
    let _metrics = match server::metrics::start(&state).await? {
        Some((local, task)) => {
            tracing::info!("metrics on http://{local}/metrics");
            Some(task)
        }
        None => None,
    };
    server::serve(state, addr, |local| {
        // One line on stdout that scripts (and tests) can wait for.
        println!("helphive listening on http://{local}");
    })
    .await
    .map_err(|e| format!("cannot serve on {addr}: {e}"))
}

/// `config` with a model that has also learned the business's own labelled questions stored in
/// the database (`helphive classify --train`), if there are any.
pub async fn learn_business_questions(mut config: Config, store: &Store) -> Result<Config, String> {
    let extra = store.training_examples().await.map_err(|e| e.to_string())?;
    if !extra.is_empty() {
        let model = helphive::routing::model_with(&extra);
        tracing::info!(own = extra.len(), "topic model trained with the business's own questions");
        config.classifier = helphive::routing::ModelSlot::new(model);
    }
    Ok(config)
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("HELPHIVE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Server logs go to stderr; stdout carries only the "listening" line.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none())
        .try_init();
}
