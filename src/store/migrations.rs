//! Schema migrations, embedded in the binary and applied in order on start. Each runs in its own
//! transaction together with the row that records it, so a crash mid-migration leaves the
//! database at the previous version.

use sqlx::Row;
use sqlx::SqliteConnection;

use crate::error::Result;

/// (version, SQL). Append only: a released migration is never edited.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_initial.sql")),
    (2, include_str!("migrations/0002_channels.sql")),
    (3, include_str!("migrations/0003_training.sql")),
];

pub async fn apply(conn: &mut SqliteConnection) -> Result<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    for (version, sql) in MIGRATIONS {
        // Checked inside the write transaction: two processes starting together (the server and
        // the admin CLI) must not both apply the same migration.
        let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
        let current: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
            .fetch_one(&mut *tx)
            .await?
            .try_get("v")?;
        if *version <= current {
            continue;
        }
        sqlx::raw_sql(*sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
            .bind(*version)
            .bind(crate::clock::now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version, "applied migration");
    }
    Ok(())
}
