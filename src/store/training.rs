//! Labelled questions a business adds for the topic classifier, kept so the server learns them
//! at start-up.

use super::Store;
use super::db::{Conn, query};
use crate::error::Result;
use crate::model::Millis;
use crate::routing::classifier::Example;

/// Keeps a handled question as a labelled one, inside the transaction that handled it: a
/// `correction` (an agent's topic; it replaces an earlier correction of the same text) or a
/// `resolved` confirmation (resolved in the topic it was routed to).
pub(super) async fn remember(mut conn: Conn<'_>, text: &str, topic: &str, source: &str, now: Millis) -> Result<()> {
    if source == "correction" {
        query("DELETE FROM training_examples WHERE source = 'correction' AND text = ?")
            .bind(text.to_string())
            .execute(conn.re())
            .await?;
    }
    // No conflict target: the one uniqueness besides the id is (text, topic), which PostgreSQL
    // keeps on the text's digest (see its migration 3), an index a column list cannot name.
    query(
        "INSERT INTO training_examples (text, topic, source, created_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT DO NOTHING",
    )
    .bind(text.to_string())
    .bind(topic.to_string())
    .bind(source.to_string())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// Stores labelled questions (`source`: where they came from, like `import`); a text already
    /// stored with the same topic is skipped. Returns how many were new.
    pub async fn add_training_examples(&self, examples: &[Example], source: &str, now: Millis) -> Result<usize> {
        let mut tx = self.write(now).await?;
        let mut added = 0;
        for e in examples {
            let r = query(
                "INSERT INTO training_examples (text, topic, source, created_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(e.text.clone())
            .bind(e.topic.clone())
            .bind(source.to_string())
            .bind(now)
            .execute(tx.conn())
            .await?;
            added += r.rows_affected() as usize;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Changes whenever labelled questions are added or replaced (0 when there are none).
    pub async fn training_version(&self) -> Result<i64> {
        let mut conn = self.read().await?;
        Ok(query("SELECT COALESCE(MAX(id), 0) FROM training_examples").scalar_one(conn.conn()).await?)
    }

    /// Every stored labelled question, oldest first.
    pub async fn training_examples(&self) -> Result<Vec<Example>> {
        let mut conn = self.read().await?;
        let rows = query("SELECT text, topic FROM training_examples ORDER BY id").fetch_all(conn.conn()).await?;
        rows.iter().map(|r| Ok(Example { text: r.try_get("text")?, topic: r.try_get("topic")? })).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn examples_are_kept_once() {
        let s = Store::in_memory().await.unwrap();
        let e = |t: &str, topic: &str| Example { text: t.into(), topic: topic.into() };
        let n = s.add_training_examples(&[e("a", "billing"), e("b", "delivery")], "import", 1).await.unwrap();
        assert_eq!(n, 2);
        let n = s.add_training_examples(&[e("a", "billing"), e("a", "delivery")], "import", 2).await.unwrap();
        assert_eq!(n, 1, "the same text and topic once; the same text with another topic is kept");
        assert_eq!(s.training_examples().await.unwrap().len(), 3);
        let v = s.training_version().await.unwrap();
        s.add_training_examples(&[e("c", "billing")], "import", 3).await.unwrap();
        assert!(s.training_version().await.unwrap() > v);
    }
}
