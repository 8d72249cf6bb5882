//! What operators ask of the database: an online backup, and the gauges `/metrics` shows (queue
//! depth and breaching questions per function, the outbox's backlog and failures).

use std::collections::BTreeMap;
use std::path::Path;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};

use super::Store;
use super::db::query;
use crate::error::{Error, Result};
use crate::model::Millis;

/// The numbers behind the gauges, read in one go at scrape time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpsGauges {
    /// Per configured function (and any other function a question carries).
    pub functions: BTreeMap<String, FunctionGauges>,
    /// Questions held back as possible spam.
    pub held: i64,
    /// Per channel.
    pub outbox: BTreeMap<String, OutboxGauges>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunctionGauges {
    /// Open questions nobody has claimed: the queue.
    pub unclaimed: i64,
    /// Questions not resolved (unclaimed, claimed, awaiting approval).
    pub open: i64,
    /// Not resolved, a customer message without a reply, deadline passed (as in `stats`).
    pub breaching: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboxGauges {
    /// Approved replies not posted yet and not given up on.
    pub backlog: i64,
    /// Replies the network refused for good, or given up on after `outbox.max_attempts`.
    pub failed: i64,
}

/// What a backup holds, read back from the copy itself.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupReport {
    pub bytes: u64,
    pub questions: i64,
    pub agents: i64,
    /// The id of the newest event in the copy (0 when it has none).
    pub last_event: i64,
}

/// Opens the copy on its own, checks it and reads what it holds; it holds what the database
/// holds (token hashes, customers' messages), so it is made readable by its owner only.
async fn check_copy(path: &Path) -> Result<BackupReport> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    let mut conn = SqliteConnectOptions::new().filename(path).read_only(true).connect().await?;
    let check: String = sqlx::query("PRAGMA quick_check").fetch_one(&mut conn).await?.try_get(0)?;
    if check != "ok" {
        return Err(Error::invalid(format!("the copy failed its check: {check}")));
    }
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM questions) AS questions, (SELECT COUNT(*) FROM agents) AS agents, \
         (SELECT COALESCE(MAX(id), 0) FROM events) AS last_event",
    )
    .fetch_one(&mut conn)
    .await?;
    let report = BackupReport {
        bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        questions: row.try_get("questions")?,
        agents: row.try_get("agents")?,
        last_event: row.try_get("last_event")?,
    };
    conn.close().await?;
    Ok(report)
}

impl Store {
    /// Writes a consistent copy of the database to `target` (which must not exist) while the
    /// server goes on writing: `VACUUM INTO` reads one snapshot, as any reader does under WAL,
    /// so writers are not held up. The copy is written under a temporary name beside `target`,
    /// checked (`PRAGMA quick_check`) and renamed when complete, so `target` is never a
    /// half-written file.
    pub async fn backup_to(&self, target: &Path) -> Result<BackupReport> {
        if self.is_postgres() {
            return Err(Error::invalid(
                "the online backup is for SQLite databases; back up a PostgreSQL database with pg_dump",
            ));
        }
        if target.exists() {
            return Err(Error::invalid("the file exists; a backup is written to a new file"));
        }
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty() && !d.is_dir()) {
            return Err(Error::invalid(format!("no directory {}", dir.display())));
        }
        let name =
            target.file_name().ok_or_else(|| Error::invalid(format!("{} is not a file name", target.display())))?;
        let mut partial = name.to_os_string();
        partial.push(format!(".partial-{}", std::process::id()));
        let partial = target.with_file_name(partial);
        let _ = std::fs::remove_file(&partial);
        let result = self.vacuum_into(&partial).await;
        let result = match result {
            Ok(()) => check_copy(&partial).await,
            Err(e) => Err(e),
        };
        let report = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        };
        std::fs::rename(&partial, target).map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            Error::invalid(format!("cannot move the backup into place at {}: {e}", target.display()))
        })?;
        Ok(report)
    }

    async fn vacuum_into(&self, path: &Path) -> Result<()> {
        let path = path.to_str().ok_or_else(|| Error::invalid(format!("{} is not valid UTF-8", path.display())))?;
        // The read-only pool cannot write the copy, and the writer would block every write for
        // the duration; the checkpoint connection reads like any other and writes only the copy.
        match &self.inner.checkpointer {
            Some(c) => {
                let mut conn = c.lock().await;
                sqlx::query("VACUUM INTO ?").bind(path).execute(&mut *conn).await?;
            }
            None => {
                let mut conn = self.lock_writer().await?;
                query("VACUUM INTO ?").bind(path).execute(conn.conn()).await?;
            }
        }
        Ok(())
    }

    /// The gauges for `/metrics`. `functions` lists every configured function, so a function
    /// with nothing waiting still shows with zeros.
    pub async fn ops_gauges(&self, functions: &[String], now: Millis) -> Result<OpsGauges> {
        let mut conn = self.read().await?;
        let mut g = OpsGauges {
            functions: functions.iter().map(|f| (f.clone(), FunctionGauges::default())).collect(),
            ..Default::default()
        };
        // "Breaching" as `stats` counts it (README, "Statistics").
        let rows = query(
            "SELECT function, \
             SUM(CASE WHEN state = 'open' THEN 1 ELSE 0 END) AS unclaimed, COUNT(*) AS open, \
             SUM(CASE WHEN awaiting_since IS NOT NULL AND sla_due_at < ? THEN 1 ELSE 0 END) AS breaching \
             FROM questions WHERE state NOT IN ('resolved', 'held') GROUP BY function",
        )
        .bind(now)
        .fetch_all(conn.conn())
        .await?;
        for r in &rows {
            let f = g.functions.entry(r.try_get("function")?).or_default();
            f.unclaimed = r.try_get::<Option<i64>>("unclaimed")?.unwrap_or(0);
            f.open = r.try_get("open")?;
            f.breaching = r.try_get::<Option<i64>>("breaching")?.unwrap_or(0);
        }
        g.held = query("SELECT COUNT(*) AS n FROM questions WHERE state = 'held'")
            .fetch_one(conn.conn())
            .await?
            .try_get("n")?;
        let rows = query(
            "SELECT channel, \
             SUM(CASE WHEN posted_at IS NULL AND failed_at IS NULL THEN 1 ELSE 0 END) AS backlog, \
             SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END) AS failed \
             FROM outbox WHERE posted_at IS NULL GROUP BY channel",
        )
        .fetch_all(conn.conn())
        .await?;
        for r in &rows {
            let o = g.outbox.entry(r.try_get("channel")?).or_default();
            o.backlog = r.try_get::<Option<i64>>("backlog")?.unwrap_or(0);
            o.failed = r.try_get::<Option<i64>>("failed")?.unwrap_or(0);
        }
        Ok(g)
    }
}
