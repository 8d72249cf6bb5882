//! The server's database as the admin commands find and open it, and `helphive backup`.

use std::path::{Path, PathBuf};

use helphive::config::{self, Config};
use helphive::store::{Store, StoreOptions};

use super::{ConfigArg, DatabaseArg, load_config};

/// The database URL to use: the one given, else the config's, else `helphive.db` in the data
/// directory (which is created).
pub fn resolve_database(explicit: Option<&str>, config: &Config) -> Result<String, String> {
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

/// Opens the database given on the command line, else the configuration's (see
/// `resolve_database`), with the configuration's store settings.
pub async fn open_store(cli_db: Option<&str>, config: &Config) -> Result<Store, String> {
    let database = resolve_database(cli_db, config)?;
    Store::open(&StoreOptions {
        database: database.clone(),
        durability: config.server.durability,
        events_retained: config.server.events_retained,
    })
    .await
    .map_err(|e| format!("cannot open database {database}: {e}"))
}

/// `helphive backup FILE`: the store's online copy of an existing database.
pub async fn backup(config: &ConfigArg, database: &DatabaseArg, file: &Path) -> Result<(), String> {
    let (config, _) = load_config(config)?;
    let database = resolve_database(database.database.as_deref(), &config)?;
    if database.starts_with("postgres:") || database.starts_with("postgresql:") {
        return Err("the online backup is for SQLite databases; back up a PostgreSQL database with pg_dump".into());
    }
    // Opening a missing database would create an empty one and back that up.
    let path = database.strip_prefix("sqlite://").or_else(|| database.strip_prefix("sqlite:")).unwrap_or(&database);
    let path = path.split('?').next().unwrap_or(path);
    if path.contains(":memory:") {
        return Err("the database is in memory: there is nothing on disk to back up".into());
    }
    if !Path::new(path).exists() {
        return Err(format!("no database at {path} (give --database, or set server.database)"));
    }
    let store = open_store(Some(&database), &config).await?;
    let report = store.backup_to(file).await.map_err(|e| format!("cannot back up to {}: {e}", file.display()));
    store.close().await;
    let r = report?;
    println!(
        "backed up {database} to {}: {} bytes, {} questions, {} agents, events up to #{} (checked)",
        file.display(),
        r.bytes,
        r.questions,
        r.agents,
        r.last_event
    );
    Ok(())
}
