//! What the channel connectors need from the store: their read cursors, the outbox (due replies,
//! the mark before each network request, the outcome), and letting held questions in.

use super::Store;
use super::db::query;
use super::questions::{apply, load_message, must_load_with_sla, question_event};
use crate::error::{Error, Result};
use crate::lifecycle;
use crate::model::{Agent, Millis, Question, event_kind};
use serde::{Deserialize, Serialize};

/// An approved reply waiting to be posted, with what the connector needs to thread it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxItem {
    pub id: i64,
    pub message_id: i64,
    pub question_id: i64,
    pub channel: String,
    pub idempotency_key: String,
    /// When the reply was approved: fixed for the row's life (Bluesky makes its record key of it).
    pub created_at: Millis,
    /// Attempts made before this one.
    pub attempts: i64,
    /// Set when an earlier attempt may have reached the network (the process stopped, or the
    /// request timed out, before the answer was recorded).
    pub posting_started_at: Option<Millis>,
    pub body: String,
    /// The customer's handle on the network (Mastodon: `acct`).
    pub customer_handle: String,
    /// External id of the customer's latest message before the reply: the reply goes under it.
    pub reply_to: Option<String>,
    /// That message's visibility, when the network has one.
    pub visibility: Option<String>,
}

/// How an attempt to post ended.
#[derive(Debug, Clone, PartialEq)]
pub enum PostOutcome {
    Posted {
        external_id: String,
        url: Option<String>,
    },
    /// Try again at `at`. `maybe_posted`: the request may have reached the network (a timeout),
    /// so the next attempt looks there first.
    Retry {
        at: Millis,
        error: String,
        maybe_posted: bool,
    },
    /// The network refused it for good; the agent sees `error` on the question.
    Failed {
        error: String,
    },
}

impl Store {
    /// Where the connector for `channel` stopped reading, if it ever read.
    pub async fn channel_cursor(&self, channel: &str) -> Result<Option<String>> {
        let mut conn = self.read().await?;
        Ok(query("SELECT cursor FROM channel_cursors WHERE channel = ?")
            .bind(channel.to_string())
            .scalar_optional(conn.conn())
            .await?)
    }

    /// Records where the connector stopped. Call only once everything before it is committed.
    pub async fn set_channel_cursor(&self, channel: &str, cursor: &str, now: Millis) -> Result<()> {
        let mut tx = self.write(now).await?;
        query(
            "INSERT INTO channel_cursors (channel, cursor, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (channel) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
        )
        .bind(channel.to_string())
        .bind(cursor.to_string())
        .bind(now)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A lead lets a held question into the shared queue, with a fresh response deadline.
    pub async fn unhold(&self, qid: i64, agent: &Agent, now: Millis) -> Result<Question> {
        lifecycle::may_unhold(agent)?;
        let mut tx = self.write(now).await?;
        let (q, sla_ms) = must_load_with_sla(tx.conn(), qid).await?;
        let q = apply(&mut tx, qid, lifecycle::unhold(&q, agent, sla_ms, now)?).await?;
        tx.commit().await?;
        Ok(q)
    }

    /// Replies due for posting on `channels`, oldest first.
    pub async fn outbox_due(&self, channels: &[String], now: Millis, limit: u32) -> Result<Vec<OutboxItem>> {
        if channels.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.read().await?;
        let marks = vec!["?"; channels.len()].join(", ");
        let sql = format!(
            "SELECT o.id, o.message_id, o.question_id, o.channel, o.idempotency_key, o.created_at, o.attempts, o.posting_started_at, \
             m.body, q.customer_handle, \
             (SELECT i.external_id FROM messages i WHERE i.question_id = o.question_id AND i.kind = 'inbound' \
              AND i.id < o.message_id ORDER BY i.id DESC LIMIT 1) AS reply_to, \
             (SELECT i.visibility FROM messages i WHERE i.question_id = o.question_id AND i.kind = 'inbound' \
              AND i.id < o.message_id ORDER BY i.id DESC LIMIT 1) AS visibility \
             FROM outbox o JOIN messages m ON m.id = o.message_id JOIN questions q ON q.id = o.question_id \
             WHERE o.posted_at IS NULL AND o.failed_at IS NULL AND o.next_attempt_at <= ? AND o.channel IN ({marks}) \
             ORDER BY o.next_attempt_at, o.id LIMIT ?"
        );
        let mut q = query(sqlx::AssertSqlSafe(sql)).bind(now);
        for c in channels {
            q = q.bind(c.clone());
        }
        let rows = q.bind(limit as i64).fetch_all(conn.conn()).await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxItem {
                    id: r.try_get("id")?,
                    message_id: r.try_get("message_id")?,
                    question_id: r.try_get("question_id")?,
                    channel: r.try_get("channel")?,
                    idempotency_key: r.try_get("idempotency_key")?,
                    created_at: r.try_get("created_at")?,
                    attempts: r.try_get("attempts")?,
                    posting_started_at: r.try_get("posting_started_at")?,
                    body: r.try_get("body")?,
                    customer_handle: r.try_get("customer_handle")?,
                    reply_to: r.try_get("reply_to")?,
                    visibility: r.try_get("visibility")?,
                })
            })
            .collect()
    }

    /// Marks that a request for this reply is about to go out. Committed before the request, so
    /// a process killed between posting and recording knows to look on the network first.
    pub async fn outbox_begin(&self, outbox_id: i64, now: Millis) -> Result<()> {
        let mut tx = self.write(now).await?;
        query(
            "UPDATE outbox SET attempts = attempts + 1, posting_started_at = COALESCE(posting_started_at, ?) WHERE id = ?",
        )
        .bind(now)
        .bind(outbox_id)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records how an attempt ended; a post or a final failure is an event on the question.
    pub async fn outbox_record(&self, outbox_id: i64, outcome: &PostOutcome, now: Millis) -> Result<()> {
        let mut tx = self.write(now).await?;
        let row = query("SELECT message_id, question_id, posted_at, failed_at FROM outbox WHERE id = ?")
            .bind(outbox_id)
            .fetch_optional(tx.conn())
            .await?
            .ok_or_else(|| Error::not_found(format!("no outbox entry #{outbox_id}")))?;
        let mid: i64 = row.try_get("message_id")?;
        let qid: i64 = row.try_get("question_id")?;
        let done: Option<i64> = row.try_get::<Option<i64>>("posted_at")?.or(row.try_get("failed_at")?);
        if done.is_some() {
            // Recorded already (two workers, or a retry of the record itself): keep the first.
            return Ok(());
        }
        match outcome {
            PostOutcome::Posted { external_id, url } => {
                query(
                    "UPDATE messages SET status = 'posted', external_id = ?, posted_url = ?, error = NULL WHERE id = ?",
                )
                .bind(external_id.clone())
                .bind(url.clone())
                .bind(mid)
                .execute(tx.conn())
                .await?;
                query("UPDATE outbox SET posted_at = ?, last_error = NULL WHERE id = ?")
                    .bind(now)
                    .bind(outbox_id)
                    .execute(tx.conn())
                    .await?;
                let m = load_message(tx.conn(), mid).await?;
                question_event(&mut tx, event_kind::REPLY_POSTED, qid, None, serde_json::json!({ "message": m }))
                    .await?;
            }
            PostOutcome::Retry { at, error, maybe_posted } => {
                query(
                    "UPDATE outbox SET next_attempt_at = ?, last_error = ?, \
                     posting_started_at = CASE WHEN ? THEN posting_started_at ELSE NULL END WHERE id = ?",
                )
                .bind(*at)
                .bind(error.clone())
                .bind(*maybe_posted)
                .bind(outbox_id)
                .execute(tx.conn())
                .await?;
            }
            PostOutcome::Failed { error } => {
                query("UPDATE messages SET status = 'failed', error = ? WHERE id = ?")
                    .bind(error.clone())
                    .bind(mid)
                    .execute(tx.conn())
                    .await?;
                query("UPDATE outbox SET failed_at = ?, last_error = ? WHERE id = ?")
                    .bind(now)
                    .bind(error.clone())
                    .bind(outbox_id)
                    .execute(tx.conn())
                    .await?;
                // The customer has no answer after all: the question shows them waiting again.
                query(
                    "UPDATE questions SET awaiting_since = COALESCE(awaiting_since, last_inbound_at), updated_at = ? WHERE id = ?",
                )
                .bind(now)
                .bind(qid)
                .execute(tx.conn())
                .await?;
                let m = load_message(tx.conn(), mid).await?;
                question_event(
                    &mut tx,
                    event_kind::REPLY_FAILED,
                    qid,
                    None,
                    serde_json::json!({ "message": m, "error": error }),
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
