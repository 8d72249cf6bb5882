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
    .map_err(|e| format!("cannot open database {}: {e}", without_password(&database)))
}

/// `database` as it may be shown: a password in a URL (`postgres://user:secret@host/db`) becomes
/// `***`, so an error message or a log line does not carry it.
fn without_password(database: &str) -> String {
    let Some((scheme, rest)) = database.split_once("://") else { return database.to_string() };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        _ => database.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn a_password_in_a_database_url_is_not_shown() {
        assert_eq!(
            without_password("postgres://desk:s3cr:et@db.example:5432/hive"),
            "postgres://desk:***@db.example:5432/hive"
        );
        assert_eq!(without_password("postgres://desk@db.example/hive"), "postgres://desk@db.example/hive");
        assert_eq!(without_password("/var/lib/helphive/helphive.db"), "/var/lib/helphive/helphive.db");
        assert_eq!(without_password("sqlite::memory:"), "sqlite::memory:");
    }
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
