//! The event log: reading it back for clients that resume, and pruning what no client needs.

use sqlx::Row;

use super::Store;
use crate::error::Result;
use crate::model::Event;

impl Store {
    /// Events after `after`, oldest first, at most `limit`.
    pub async fn events_since(&self, after: i64, limit: u32) -> Result<Vec<Event>> {
        let mut conn = self.read().await?;
        let rows =
            sqlx::query("SELECT id, at, kind, question_id, actor, data FROM events WHERE id > ? ORDER BY id LIMIT ?")
                .bind(after)
                .bind(limit as i64)
                .fetch_all(&mut *conn)
                .await?;
        rows.iter()
            .map(|r| {
                let data: String = r.try_get("data")?;
                Ok(Event {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    kind: r.try_get("kind")?,
                    question_id: r.try_get("question_id")?,
                    actor: r.try_get("actor")?,
                    data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect()
    }

    /// The oldest event still kept and the newest written (0 and 0 when there are none).
    pub async fn event_bounds(&self) -> Result<(i64, i64)> {
        let mut conn = self.read().await?;
        let row = sqlx::query("SELECT COALESCE(MIN(id), 0) AS lo, COALESCE(MAX(id), 0) AS hi FROM events")
            .fetch_one(&mut *conn)
            .await?;
        // After pruning every row, the sequence still knows the last id handed out.
        let hi: i64 = row.try_get("hi")?;
        let hi = if hi == 0 {
            sqlx::query("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0) AS s")
                .fetch_one(&mut *conn)
                .await?
                .try_get("s")?
        } else {
            hi
        };
        Ok((row.try_get("lo")?, hi))
    }

    /// Deletes all but the newest `events_retained` events; returns how many went.
    pub async fn prune_events(&self, now: i64) -> Result<u64> {
        let keep = self.inner.events_retained as i64;
        let (lo, hi) = self.event_bounds().await?;
        if hi - lo < keep + keep / 10 {
            // Prune in batches of a tenth, not on every write.
            return Ok(0);
        }
        let mut tx = self.write(now).await?;
        let r = sqlx::query("DELETE FROM events WHERE id <= ?").bind(hi - keep).execute(tx.conn()).await?;
        tx.commit().await?;
        Ok(r.rows_affected())
    }
}
