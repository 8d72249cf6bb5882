//! helphive: a shared help desk for social customer care, in the terminal.
//!
//! Parts (see the README's architecture section): `model` (plain data), `routing` (pure rules),
//! `lifecycle` (pure rules of a question's life), `store` (SQLite persistence), `server` (HTTP API
//! and live events), `wire` (the API's request, answer and event types), `signing` (webhook
//! signatures), `intake` (the one way in for customer messages), `channels` (social network
//! connectors and the outbox worker), `client` (the
//! async client the terminal uses), `config`, `bench` (the API against the raw store) and
//! `classify` (the topic model measured and explained).

pub mod bench;
pub mod channels;
pub mod classify;
pub mod client;
pub mod clock;
pub mod config;
pub mod demo;
pub mod error;
pub mod intake;
pub mod lifecycle;
pub mod model;
pub mod routing;
pub mod server;
pub mod signing;
pub mod sim;
pub mod store;
pub mod text;
pub mod tls;
pub mod tui;
pub mod wire;

use std::path::PathBuf;

/// The database URL to use: the one given, else the config's, else `helphive.db` in the data
/// directory (which is created).
pub fn resolve_database(explicit: Option<&str>, config: &config::Config) -> Result<String, String> {
    if let Some(db) = explicit.filter(|s| !s.trim().is_empty()) {
        return Ok(db.trim().to_string());
    }
    if !config.server.database.trim().is_empty() {
        return Ok(config.server.database.trim().to_string());
    }
    let dir: PathBuf =
        config::data_dir().ok_or("cannot find a data directory: set HELPHIVE_DATA_DIR or server.database")?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create the data directory {}: {e}", dir.display()))?;
    Ok(dir.join("helphive.db").display().to_string())
}
