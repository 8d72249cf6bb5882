//! Questions and their messages as the store keeps them: reading rows, and recording a
//! life-cycle change (load, apply, record). The rules themselves are `crate::lifecycle`'s; the
//! operations are in `inbound`, `claims`, `replies` and `queue`.

use super::db::{Conn, Row, Value, query};
use super::{Store, WriteTx};
use crate::error::{Error, Result};
use crate::lifecycle::{Change, Patch};
pub use crate::lifecycle::{MAX_BODY_CHARS, SpamRules};
use crate::model::{Customer, Message, MessageKind, Millis, Question, QuestionState, ReplyStatus};

pub(super) const QUESTION_SELECT: &str = "SELECT q.*, h.handle AS holder_handle, b.handle AS answered_handle \
     FROM questions q LEFT JOIN agents h ON h.id = q.holder_id LEFT JOIN agents b ON b.id = q.answered_by_id";

pub(super) fn question_from_row(row: &Row) -> Result<Question> {
    let state: String = row.try_get("state")?;
    Ok(Question {
        id: row.try_get("id")?,
        channel: row.try_get("channel")?,
        external_id: row.try_get("external_id")?,
        conversation_id: row.try_get("conversation_id")?,
        customer: Customer { handle: row.try_get("customer_handle")?, name: row.try_get("customer_name")? },
        text: row.try_get("text")?,
        received_at: row.try_get("received_at")?,
        topic: row.try_get("topic")?,
        function: row.try_get("function")?,
        confidence: row.try_get::<f64>("confidence")? as f32,
        matched_rule: row.try_get("matched_rule")?,
        unsure: row.try_get("unsure")?,
        guesses: row
            .try_get::<Option<String>>("guesses")?
            .and_then(|g| serde_json::from_str(&g).ok())
            .unwrap_or_default(),
        priority: row.try_get("priority")?,
        sla_due_at: row.try_get("sla_due_at")?,
        state: QuestionState::parse(&state).ok_or_else(|| Error::Internal(format!("bad question state {state}")))?,
        holder: row.try_get("holder_handle")?,
        lease_until: row.try_get("lease_until")?,
        claimed_at: row.try_get("claimed_at")?,
        answered_by: row.try_get("answered_handle")?,
        awaiting_since: row.try_get("awaiting_since")?,
        first_response_at: row.try_get("first_response_at")?,
        resolved_at: row.try_get("resolved_at")?,
        updated_at: row.try_get("updated_at")?,
        inbound_count: row.try_get("inbound_count")?,
        last_inbound_at: row.try_get("last_inbound_at")?,
        held_reason: row.try_get("held_reason")?,
    })
}

pub(super) fn message_from_row(row: &Row) -> Result<Message> {
    let kind: String = row.try_get("kind")?;
    let status: Option<String> = row.try_get("status")?;
    Ok(Message {
        id: row.try_get("id")?,
        question_id: row.try_get("question_id")?,
        kind: MessageKind::parse(&kind).ok_or_else(|| Error::Internal(format!("bad message kind {kind}")))?,
        author: row.try_get("author")?,
        body: row.try_get("body")?,
        created_at: row.try_get("created_at")?,
        external_id: row.try_get("external_id")?,
        in_reply_to: row.try_get("in_reply_to")?,
        status: status.as_deref().and_then(ReplyStatus::parse),
        reviewed_by: row.try_get("reviewer_handle")?,
        review_note: row.try_get("review_note")?,
        idempotency_key: row.try_get("idempotency_key")?,
        posted_url: row.try_get("posted_url")?,
        error: row.try_get("error")?,
    })
}

pub(super) const MESSAGE_SELECT: &str =
    "SELECT m.*, r.handle AS reviewer_handle FROM messages m LEFT JOIN agents r ON r.id = m.reviewed_by_id";

pub(super) async fn load_question(conn: Conn<'_>, id: i64) -> Result<Option<Question>> {
    let sql = format!("{QUESTION_SELECT} WHERE q.id = ?");
    let row = query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(question_from_row).transpose()
}

pub(super) async fn must_load(conn: Conn<'_>, id: i64) -> Result<Question> {
    load_question(conn, id).await?.ok_or_else(|| Error::not_found(format!("no question #{id}")))
}

pub(super) async fn load_message(conn: Conn<'_>, id: i64) -> Result<Option<Message>> {
    let sql = format!("{MESSAGE_SELECT} WHERE m.id = ?");
    let row = query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(message_from_row).transpose()
}

/// Emits a question event whose data carries the question as it is now, plus `extra` fields.
pub(super) async fn question_event(
    tx: &mut WriteTx,
    kind: &str,
    qid: i64,
    actor: Option<&str>,
    extra: serde_json::Value,
) -> Result<Question> {
    let q = must_load(tx.conn(), qid).await?;
    event_for(tx, kind, &q, actor, extra).await?;
    Ok(q)
}

/// `question_event` for a question the caller has just read or written.
pub(super) async fn event_for(
    tx: &mut WriteTx,
    kind: &str,
    q: &Question,
    actor: Option<&str>,
    extra: serde_json::Value,
) -> Result<()> {
    let mut data = serde_json::json!({ "question": q });
    if let (Some(obj), serde_json::Value::Object(more)) = (data.as_object_mut(), extra) {
        obj.extend(more);
    }
    tx.event(kind, Some(q.id), actor, data).await
}

/// Question `qid` with its response target (`sla_ms`), which the model does not carry.
pub(super) async fn must_load_with_sla(conn: Conn<'_>, qid: i64) -> Result<(Question, i64)> {
    let sql = format!("{QUESTION_SELECT} WHERE q.id = ?");
    let row = query(sqlx::AssertSqlSafe(sql))
        .bind(qid)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| Error::not_found(format!("no question #{qid}")))?;
    Ok((question_from_row(&row)?, row.try_get("sla_ms")?))
}

/// Records one life-cycle change inside `tx`: the fields it writes, then its event carrying the
/// question as it is now. Returns that question.
pub(super) async fn apply(tx: &mut WriteTx, qid: i64, change: Change) -> Result<Question> {
    write_patch(tx.conn(), qid, &change.patch).await?;
    question_event(tx, change.event, qid, change.actor.as_deref(), change.extra).await
}

/// Writes the fields `patch` sets, and only those.
async fn write_patch(conn: Conn<'_>, qid: i64, patch: &Patch) -> Result<()> {
    let mut sets: Vec<&str> = Vec::new();
    let mut binds: Vec<Value> = Vec::new();
    let mut set = |column: &'static str, value: Value| {
        sets.push(column);
        binds.push(value);
    };
    if let Some(v) = patch.state {
        set("state = ?", Value::Text(Some(v.as_str().to_string())));
    }
    if let Some(v) = patch.holder_id {
        set("holder_id = ?", Value::Int(v));
    }
    if let Some(v) = patch.lease_until {
        set("lease_until = ?", Value::Int(v));
    }
    if let Some(v) = patch.claimed_at {
        set("claimed_at = ?", Value::Int(v));
    }
    if let Some(v) = patch.resolved_at {
        set("resolved_at = ?", Value::Int(v));
    }
    if let Some(v) = patch.awaiting_since {
        set("awaiting_since = ?", Value::Int(v));
    }
    if let Some(v) = patch.sla_due_at {
        set("sla_due_at = ?", Value::Int(Some(v)));
    }
    if let Some(v) = patch.sla_ms {
        set("sla_ms = ?", Value::Int(Some(v)));
    }
    if let Some(v) = &patch.topic {
        set("topic = ?", Value::Text(Some(v.clone())));
    }
    if let Some(v) = &patch.function {
        set("function = ?", Value::Text(Some(v.clone())));
    }
    if let Some(v) = &patch.matched_rule {
        set("matched_rule = ?", Value::Text(v.clone()));
    }
    if let Some(v) = patch.confidence {
        set("confidence = ?", Value::Float(Some(v as f64)));
    }
    if let Some(v) = patch.unsure {
        set("unsure = ?", Value::Bool(Some(v)));
    }
    if let Some(v) = patch.answered_by_id {
        set("answered_by_id = ?", Value::Int(Some(v)));
    }
    if let Some(v) = patch.first_response_at {
        set("first_response_at = ?", Value::Int(Some(v)));
    }
    if let Some(v) = patch.inbound_count {
        set("inbound_count = ?", Value::Int(Some(v)));
    }
    if let Some(v) = patch.last_inbound_at {
        set("last_inbound_at = ?", Value::Int(Some(v)));
    }
    if let Some(v) = patch.updated_at {
        set("updated_at = ?", Value::Int(Some(v)));
    }
    if sets.is_empty() {
        return Ok(());
    }
    let sql = format!("UPDATE questions SET {} WHERE id = ?", sets.join(", "));
    let mut q = query(sqlx::AssertSqlSafe(sql));
    for b in binds {
        q = q.bind(b);
    }
    q.bind(qid).execute(conn).await?;
    Ok(())
}

/// An event's fields: the message first, then the rule's.
pub(super) fn with_message(m: &Message, extra: serde_json::Value) -> serde_json::Value {
    let mut data = serde_json::json!({ "message": m });
    if let (Some(obj), serde_json::Value::Object(more)) = (data.as_object_mut(), extra) {
        obj.extend(more);
    }
    data
}

/// How many questions an agent holds (claimed, or waiting for approval of their reply).
pub(super) async fn holding(conn: Conn<'_>, agent_id: i64) -> Result<i64> {
    Ok(query("SELECT COUNT(*) AS n FROM questions WHERE holder_id = ? AND state IN ('claimed', 'awaiting_approval')")
        .bind(agent_id)
        .fetch_one(conn)
        .await?
        .try_get("n")?)
}

impl Store {
    /// Load, apply, record: loads question `qid` in a write transaction, asks `rule` (one of
    /// `lifecycle`'s) what changes, records each change with its event, and commits. Returns the
    /// question as it is then; a refusal leaves everything as it was.
    pub(super) async fn transition<C>(
        &self,
        qid: i64,
        now: Millis,
        rule: impl FnOnce(&Question) -> Result<C>,
    ) -> Result<Question>
    where
        C: IntoIterator<Item = Change>,
    {
        let mut tx = self.write(now).await?;
        let mut q = must_load(tx.conn(), qid).await?;
        for change in rule(&q)? {
            q = apply(&mut tx, qid, change).await?;
        }
        tx.commit().await?;
        Ok(q)
    }
}
