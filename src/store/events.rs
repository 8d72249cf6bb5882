//! The event log: reading it back for clients that resume, and pruning what no client needs.

use super::Store;
use super::db::query;
use super::queue::last_event_id;
use crate::error::Result;
use crate::model::Event;

impl Store {
    /// Events after `after`, oldest first, at most `limit`.
    pub async fn events_since(&self, after: i64, limit: u32) -> Result<Vec<Event>> {
        let mut conn = self.read().await?;
        let rows = query("SELECT id, at, kind, question_id, actor, data FROM events WHERE id > ? ORDER BY id LIMIT ?")
            .bind(after)
            .bind(limit as i64)
            .fetch_all(conn.conn())
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
        let lo: i64 = query("SELECT COALESCE(MIN(id), 0) FROM events").scalar_one(conn.conn()).await?;
        Ok((lo, last_event_id(conn.conn()).await?))
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
        let r = query("DELETE FROM events WHERE id <= ?").bind(hi - keep).execute(tx.conn()).await?;
        tx.commit().await?;
        Ok(r.rows_affected())
    }
}
