//! Replies and notes: storing them (once per idempotency key), a novice's reply waiting for a
//! mentor's review, and sending approved replies to the outbox.

use super::agents::load_agent_where;
use super::db::query;
use super::questions::{MESSAGE_SELECT, apply, load_message, message_from_row, must_load, with_message};
use super::{Store, WriteTx};
use crate::error::{Error, Result};
use crate::lifecycle;
use crate::model::{Agent, Message, Millis, Question, ReplyStatus, Role, event_kind};

/// Sends an approved reply on its way: the message is released and goes into the outbox.
async fn release_message(tx: &mut WriteTx, message_id: i64, qid: i64) -> Result<()> {
    let now = tx.now;
    let row = query("SELECT channel, idempotency_key FROM messages WHERE id = ?")
        .bind(message_id)
        .fetch_one(tx.conn())
        .await?;
    let channel: String = row.try_get("channel")?;
    let key: Option<String> = row.try_get("idempotency_key")?;
    query("UPDATE messages SET status = 'approved', released_at = ? WHERE id = ?")
        .bind(now)
        .bind(message_id)
        .execute(tx.conn())
        .await?;
    query(
        "INSERT INTO outbox (message_id, question_id, channel, idempotency_key, created_at, next_attempt_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(message_id)
    .bind(qid)
    .bind(channel)
    .bind(key.unwrap_or_else(|| format!("helphive-message-{message_id}")))
    .bind(now)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

impl Store {
    /// Stores a reply from the holder. A retry with the same idempotency key returns the first
    /// reply and changes nothing. A novice's reply waits for a mentor; anyone else's goes
    /// straight to the outbox.
    pub async fn reply(
        &self,
        qid: i64,
        agent: &Agent,
        body: &str,
        idempotency_key: Option<&str>,
        lease_ms: i64,
        now: Millis,
    ) -> Result<Message> {
        lifecycle::check_body(body)?;
        if let Some(k) = idempotency_key {
            lifecycle::check_idempotency_key(k)?;
        }
        let mut tx = self.write(now).await?;
        if let Some(k) = idempotency_key {
            let sql = format!("{MESSAGE_SELECT} WHERE m.agent_id = ? AND m.idempotency_key = ?");
            let existing =
                query(sqlx::AssertSqlSafe(sql)).bind(agent.id).bind(k.to_string()).fetch_optional(tx.conn()).await?;
            if let Some(row) = existing {
                let m = message_from_row(&row)?;
                if m.question_id != qid {
                    return Err(Error::conflict(
                        "idempotency_key_reused",
                        "this idempotency key was already used for another question",
                    ));
                }
                return Ok(m);
            }
        }
        let q = must_load(tx.conn(), qid).await?;
        let lifecycle::Reply { status, mut change } = lifecycle::reply(&q, agent, lease_ms, now)?;
        let mid: i64 = query(
            "INSERT INTO messages (question_id, kind, author, agent_id, body, created_at, channel, status, idempotency_key) \
             VALUES (?, 'reply', ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(qid)
        .bind(agent.handle.clone())
        .bind(agent.id)
        .bind(body.to_string())
        .bind(now)
        .bind(q.channel.clone())
        .bind(status.as_str())
        .bind(idempotency_key.map(str::to_string))
        .scalar_one(tx.conn())
        .await?;
        if status == ReplyStatus::Approved {
            release_message(&mut tx, mid, qid).await?;
        }
        let m = load_message(tx.conn(), mid).await?.ok_or_else(|| Error::Internal("reply vanished".into()))?;
        change.extra = with_message(&m, change.extra);
        apply(&mut tx, qid, change).await?;
        tx.commit().await?;
        Ok(m)
    }

    /// Adds an internal note. Any employee may leave one on any question: notes are how context
    /// travels with a hand-off. They are never posted.
    pub async fn note(&self, qid: i64, agent: &Agent, body: &str, lease_ms: i64, now: Millis) -> Result<Message> {
        lifecycle::check_body(body)?;
        let mut tx = self.write(now).await?;
        let q = must_load(tx.conn(), qid).await?;
        let mut change = lifecycle::note(&q, agent, lease_ms, now);
        let mid = insert_note(&mut tx, qid, agent, body).await?;
        let m = load_message(tx.conn(), mid).await?.ok_or_else(|| Error::Internal("note vanished".into()))?;
        change.extra = with_message(&m, change.extra);
        apply(&mut tx, qid, change).await?;
        tx.commit().await?;
        Ok(m)
    }

    /// Records that `agent` is looking at a question, so colleagues see it (collision
    /// visibility). Only an event: nothing about the question changes.
    pub async fn viewing(&self, qid: i64, agent: &Agent, now: Millis) -> Result<()> {
        let mut tx = self.write(now).await?;
        must_load(tx.conn(), qid).await?;
        tx.event(event_kind::QUESTION_VIEWING, Some(qid), Some(&agent.handle), serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A mentor (of this novice) or a lead approves a novice's reply, optionally edited. It goes
    /// to the outbox and the question returns to the novice.
    pub async fn approve(
        &self,
        message_id: i64,
        reviewer: &Agent,
        edited: Option<&str>,
        lease_ms: i64,
        now: Millis,
    ) -> Result<Message> {
        if let Some(b) = edited {
            lifecycle::check_body(b)?;
        }
        let mut tx = self.write(now).await?;
        let (m, novice) = pending_review(&mut tx, message_id, reviewer).await?;
        if let Some(b) = edited {
            query("UPDATE messages SET body = ? WHERE id = ?")
                .bind(b.to_string())
                .bind(message_id)
                .execute(tx.conn())
                .await?;
        }
        query("UPDATE messages SET reviewed_by_id = ?, review_note = ? WHERE id = ?")
            .bind(reviewer.id)
            .bind(edited.map(|_| "edited by reviewer".to_string()))
            .bind(message_id)
            .execute(tx.conn())
            .await?;
        release_message(&mut tx, message_id, m.question_id).await?;
        let q = must_load(tx.conn(), m.question_id).await?;
        let mut change = lifecycle::approve(&q, &novice, reviewer, edited.is_some(), lease_ms, now);
        let m = load_message(tx.conn(), message_id).await?.ok_or_else(|| Error::Internal("reply vanished".into()))?;
        change.extra = with_message(&m, change.extra);
        apply(&mut tx, m.question_id, change).await?;
        tx.commit().await?;
        Ok(m)
    }

    /// Sends a novice's reply back with a reason; it is never posted and the novice can write
    /// another.
    pub async fn reject(
        &self,
        message_id: i64,
        reviewer: &Agent,
        reason: &str,
        lease_ms: i64,
        now: Millis,
    ) -> Result<Message> {
        lifecycle::check_reason(reason)?;
        let mut tx = self.write(now).await?;
        pending_review(&mut tx, message_id, reviewer).await?;
        query("UPDATE messages SET status = 'rejected', reviewed_by_id = ?, review_note = ? WHERE id = ?")
            .bind(reviewer.id)
            .bind(reason.to_string())
            .bind(message_id)
            .execute(tx.conn())
            .await?;
        let mut change = lifecycle::reject(reviewer, lease_ms, now);
        let m = load_message(tx.conn(), message_id).await?.ok_or_else(|| Error::Internal("reply vanished".into()))?;
        change.extra = with_message(&m, change.extra);
        apply(&mut tx, m.question_id, change).await?;
        tx.commit().await?;
        Ok(m)
    }

    /// Replies waiting for this reviewer: their mentees' for a mentor, everyone's for a lead.
    pub async fn pending_approvals(&self, reviewer: &Agent) -> Result<Vec<(Message, Question)>> {
        if reviewer.role < Role::Mentor {
            return Err(Error::forbidden("only mentors, leads and admins review replies"));
        }
        let mut conn = self.read().await?;
        let sql = format!(
            "{MESSAGE_SELECT} JOIN agents n ON n.id = m.agent_id \
             WHERE m.status = 'awaiting_approval' AND (? OR n.mentor_id = ?) ORDER BY m.id"
        );
        let rows = query(sqlx::AssertSqlSafe(sql))
            .bind(reviewer.role >= Role::Lead)
            .bind(reviewer.id)
            .fetch_all(conn.conn())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let m = message_from_row(row)?;
            let q = must_load(conn.conn(), m.question_id).await?;
            out.push((m, q));
        }
        Ok(out)
    }
}

pub(super) async fn insert_note(tx: &mut WriteTx, qid: i64, agent: &Agent, body: &str) -> Result<i64> {
    let now = tx.now;
    let id = query(
        "INSERT INTO messages (question_id, kind, author, agent_id, body, created_at, channel) \
         SELECT ?, 'note', ?, ?, ?, ?, channel FROM questions WHERE id = ? RETURNING id",
    )
    .bind(qid)
    .bind(agent.handle.clone())
    .bind(agent.id)
    .bind(body.to_string())
    .bind(now)
    .bind(qid)
    .scalar_one(tx.conn())
    .await?;
    Ok(id)
}

/// Loads a reply waiting for review and checks that `reviewer` may review it.
async fn pending_review(tx: &mut WriteTx, message_id: i64, reviewer: &Agent) -> Result<(Message, Agent)> {
    let m = load_message(tx.conn(), message_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("no message #{message_id}")))?;
    let novice = load_agent_where(tx.conn(), "a.handle = ?", &m.author).await?;
    lifecycle::review(&m, novice.as_ref(), reviewer)?;
    novice.ok_or_else(|| Error::Internal("reply author vanished".into())).map(|n| (m, n))
}
