//! Schema migrations, embedded in the binary and applied in order on start. Each runs in its own
//! write transaction together with the row that records it, so a crash mid-migration leaves the
//! database at the previous version (PostgreSQL's DDL is transactional too). The write lock
//! (`begin_write`) is taken first: servers and admin commands starting together apply each
//! migration once, the others wait for it and then find it done.
//!
//! Each database has its own files with the same versions: the same tables and meaning, in each
//! one's words (SQLite's `INTEGER PRIMARY KEY` and 0/1 flags, PostgreSQL's identity columns,
//! `BIGINT` times and booleans).

use super::db::{Conn, Kind, query};
use crate::error::Result;

/// (version, SQL). Append only: a released migration is never edited. Both lists have the same
/// versions.
const SQLITE: &[(i64, &str)] = &[
    (1, include_str!("migrations/sqlite/0001_initial.sql")),
    (2, include_str!("migrations/sqlite/0002_channels.sql")),
    (3, include_str!("migrations/sqlite/0003_training.sql")),
];

const POSTGRES: &[(i64, &str)] = &[
    (1, include_str!("migrations/postgres/0001_initial.sql")),
    (2, include_str!("migrations/postgres/0002_channels.sql")),
    (3, include_str!("migrations/postgres/0003_training.sql")),
];

pub async fn apply(mut conn: Conn<'_>) -> Result<()> {
    let migrations = match conn.kind() {
        Kind::Sqlite => SQLITE,
        Kind::Postgres => POSTGRES,
    };
    for (version, sql) in migrations {
        // Checked inside the write transaction: two processes starting together (servers, the
        // admin CLI) must not both apply the same migration.
        super::begin_write(conn.re()).await?;
        match step(conn.re(), *version, sql).await {
            Ok(applied) => {
                conn.re().raw("COMMIT").await?;
                if applied {
                    tracing::info!(version, "applied migration");
                }
            }
            Err(e) => {
                let _ = conn.re().raw("ROLLBACK").await;
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Applies migration `version` unless the database has it; says whether it did.
async fn step(mut conn: Conn<'_>, version: i64, sql: &'static str) -> Result<bool> {
    let table = match conn.kind() {
        Kind::Sqlite => {
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
        }
        Kind::Postgres => {
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)"
        }
    };
    query(table).execute(conn.re()).await?;
    let current: i64 =
        query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations").scalar_one(conn.re()).await?;
    if version <= current {
        return Ok(false);
    }
    conn.re().script(sql).await?;
    query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
        .bind(version)
        .bind(crate::clock::now_ms())
        .execute(conn.re())
        .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_databases_have_the_same_versions() {
        let versions = |m: &[(i64, &str)]| m.iter().map(|(v, _)| *v).collect::<Vec<_>>();
        assert_eq!(versions(super::SQLITE), versions(super::POSTGRES));
    }
}
