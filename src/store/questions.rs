//! Questions and their messages: inbound and threading, claims, replies, approvals, hand-offs.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnection, SqliteRow};

use super::agents::load_agent_where;
use super::{Store, WriteTx};
use crate::error::{Error, Result};
use crate::lifecycle::{self, Change, Patch};
pub use crate::lifecycle::{MAX_BODY_CHARS, SpamRules};
use crate::model::{
    Agent, Customer, Message, MessageKind, Millis, Question, QuestionDetail, QuestionState, ReplyStatus, Role,
    event_kind, is_identifier,
};
use crate::routing::Classification;

const QUESTION_SELECT: &str = "SELECT q.*, h.handle AS holder_handle, b.handle AS answered_handle \
     FROM questions q LEFT JOIN agents h ON h.id = q.holder_id LEFT JOIN agents b ON b.id = q.answered_by_id";

/// A customer message arriving from a channel or webhook.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewInbound {
    /// `mastodon`, `bluesky`, `x`, `webhook`, or any other channel name.
    pub channel: String,
    /// The message's id on its network; a second delivery with the same id is dropped.
    pub external_id: String,
    pub customer: Customer,
    pub text: String,
    /// The network's thread id, if it has one.
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// External id of the message this one answers: joins the question that holds it.
    #[serde(default)]
    pub in_reply_to: Option<String>,
    /// When the customer posted it; defaults to when the server received it.
    #[serde(default)]
    pub received_at: Option<Millis>,
    #[serde(default)]
    pub priority: Option<i32>,
}

/// What a channel connector knows beyond the message itself.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// The post's visibility on its network (Mastodon: public, unlisted, private, direct).
    pub visibility: Option<String>,
    /// Hold posts that look like spam; `None` (webhooks) takes everything into the queue.
    pub spam: Option<SpamRules>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboundOutcome {
    /// `created`, `followup`, `reopened`, `duplicate`, or `held` (kept out of the queue).
    pub outcome: String,
    pub question: Question,
    /// Id of the stored message (for a duplicate: of the first copy).
    pub message_id: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QueueFilter {
    pub state: Option<QuestionState>,
    pub function: Option<String>,
    pub topic: Option<String>,
    /// Only questions held by this agent id.
    pub holder_id: Option<i64>,
    /// Only questions nobody holds (state open).
    pub unclaimed: bool,
    /// Include resolved questions when no state is given.
    pub include_resolved: bool,
    pub cursor: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuePage {
    pub items: Vec<Question>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
    /// How many questions match the filter in all.
    pub total: i64,
    /// The id of the newest event this page reflects: every change up to it is in the page. A
    /// client resumes its event stream after it (`Last-Event-ID: as_of`) and misses nothing,
    /// even when the stream broke before its first event. Absent from older servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferTarget {
    Function(String),
    Agent(String),
}

fn question_from_row(row: &SqliteRow) -> Result<Question> {
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
        confidence: row.try_get::<f64, _>("confidence")? as f32,
        matched_rule: row.try_get("matched_rule")?,
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

fn message_from_row(row: &SqliteRow) -> Result<Message> {
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

const MESSAGE_SELECT: &str =
    "SELECT m.*, r.handle AS reviewer_handle FROM messages m LEFT JOIN agents r ON r.id = m.reviewed_by_id";

pub(super) async fn load_question(conn: &mut SqliteConnection, id: i64) -> Result<Option<Question>> {
    let sql = format!("{QUESTION_SELECT} WHERE q.id = ?");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(question_from_row).transpose()
}

pub(super) async fn must_load(conn: &mut SqliteConnection, id: i64) -> Result<Question> {
    load_question(conn, id).await?.ok_or_else(|| Error::not_found(format!("no question #{id}")))
}

pub(super) async fn load_message(conn: &mut SqliteConnection, id: i64) -> Result<Option<Message>> {
    let sql = format!("{MESSAGE_SELECT} WHERE m.id = ?");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
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
async fn event_for(
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
pub(super) async fn must_load_with_sla(conn: &mut SqliteConnection, qid: i64) -> Result<(Question, i64)> {
    let sql = format!("{QUESTION_SELECT} WHERE q.id = ?");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
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
async fn write_patch(conn: &mut SqliteConnection, qid: i64, patch: &Patch) -> Result<()> {
    let mut sets: Vec<&str> = Vec::new();
    let mut binds: Vec<Bind> = Vec::new();
    let mut set = |column: &'static str, value: Bind| {
        sets.push(column);
        binds.push(value);
    };
    if let Some(v) = patch.state {
        set("state = ?", Bind::Text(v.as_str().to_string()));
    }
    if let Some(v) = patch.holder_id {
        set("holder_id = ?", Bind::OptInt(v));
    }
    if let Some(v) = patch.lease_until {
        set("lease_until = ?", Bind::OptInt(v));
    }
    if let Some(v) = patch.claimed_at {
        set("claimed_at = ?", Bind::OptInt(v));
    }
    if let Some(v) = patch.resolved_at {
        set("resolved_at = ?", Bind::OptInt(v));
    }
    if let Some(v) = patch.awaiting_since {
        set("awaiting_since = ?", Bind::OptInt(v));
    }
    if let Some(v) = patch.sla_due_at {
        set("sla_due_at = ?", Bind::Int(v));
    }
    if let Some(v) = &patch.function {
        set("function = ?", Bind::Text(v.clone()));
    }
    if let Some(v) = patch.answered_by_id {
        set("answered_by_id = ?", Bind::Int(v));
    }
    if let Some(v) = patch.first_response_at {
        set("first_response_at = ?", Bind::Int(v));
    }
    if let Some(v) = patch.inbound_count {
        set("inbound_count = ?", Bind::Int(v));
    }
    if let Some(v) = patch.last_inbound_at {
        set("last_inbound_at = ?", Bind::Int(v));
    }
    if let Some(v) = patch.updated_at {
        set("updated_at = ?", Bind::Int(v));
    }
    if sets.is_empty() {
        return Ok(());
    }
    let sql = format!("UPDATE questions SET {} WHERE id = ?", sets.join(", "));
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for b in &binds {
        query = b.bind(query);
    }
    query.bind(qid).execute(conn).await?;
    Ok(())
}

/// An event's fields: the message first, then the rule's.
fn with_message(m: &Message, extra: serde_json::Value) -> serde_json::Value {
    let mut data = serde_json::json!({ "message": m });
    if let (Some(obj), serde_json::Value::Object(more)) = (data.as_object_mut(), extra) {
        obj.extend(more);
    }
    data
}

/// How many questions an agent holds (claimed, or waiting for approval of their reply).
async fn holding(conn: &mut SqliteConnection, agent_id: i64) -> Result<i64> {
    Ok(sqlx::query(
        "SELECT COUNT(*) AS n FROM questions WHERE holder_id = ? AND state IN ('claimed', 'awaiting_approval')",
    )
    .bind(agent_id)
    .fetch_one(conn)
    .await?
    .try_get("n")?)
}

/// The claim itself, shared by `claim` and `claim_first`, for an agent who holds `held`
/// questions. The caller holds the write transaction, so no second claim can interleave:
/// exactly one of any number of racing callers wins.
async fn claim_in_tx(tx: &mut WriteTx, q: &Question, agent: &Agent, held: i64, lease_ms: i64) -> Result<Question> {
    let mut out = q.clone();
    for change in lifecycle::claim(q, agent, held, lease_ms, tx.now)? {
        out = apply(tx, q.id, change).await?;
    }
    Ok(out)
}

/// Sends an approved reply on its way: the message is released and goes into the outbox.
async fn release_message(tx: &mut WriteTx, message_id: i64, qid: i64) -> Result<()> {
    let now = tx.now;
    let row = sqlx::query("SELECT channel, idempotency_key FROM messages WHERE id = ?")
        .bind(message_id)
        .fetch_one(tx.conn())
        .await?;
    let channel: String = row.try_get("channel")?;
    let key: Option<String> = row.try_get("idempotency_key")?;
    sqlx::query("UPDATE messages SET status = 'approved', released_at = ? WHERE id = ?")
        .bind(now)
        .bind(message_id)
        .execute(tx.conn())
        .await?;
    sqlx::query(
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
    /// Load, apply, record: loads question `qid` in a write transaction, asks `rule` (one of
    /// `lifecycle`'s) what changes, records each change with its event, and commits. Returns the
    /// question as it is then; a refusal leaves everything as it was.
    async fn transition<C>(&self, qid: i64, now: Millis, rule: impl FnOnce(&Question) -> Result<C>) -> Result<Question>
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

impl Store {
    /// Stores a customer message: a new question, a follow-up that joins its question (and
    /// reopens it, back to the agent who answered when they are online), or a dropped duplicate.
    pub async fn inbound(
        &self,
        msg: NewInbound,
        class: &Classification,
        lease_ms: i64,
        now: Millis,
    ) -> Result<InboundOutcome> {
        self.ingest(msg, &IngestOptions::default(), class, lease_ms, now).await
    }

    /// `inbound` with options: records the post's visibility and, with spam rules, holds a post
    /// from a blocked account, an exact duplicate or a flood out of the queue (outcome `held`)
    /// instead of threading it. All in one transaction.
    pub async fn ingest(
        &self,
        mut msg: NewInbound,
        opts: &IngestOptions,
        class: &Classification,
        lease_ms: i64,
        now: Millis,
    ) -> Result<InboundOutcome> {
        prepare_inbound(&mut msg, now)?;
        let mut tx = self.write(now).await?;
        let outcome = ingest_in_tx(&mut tx, msg, opts, class, lease_ms, now, Hints::default()).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Many customer messages in one transaction, in order: what a webhook batch or a page from
    /// a network brings. Each answer is the message's outcome, or why it was refused (no id, an
    /// empty text, an impossible time): one bad message does not keep the rest out. One commit
    /// instead of one per message is what lets a burst of thousands go in within a second.
    pub async fn ingest_batch(
        &self,
        items: Vec<(NewInbound, IngestOptions, Classification)>,
        lease_ms: i64,
        now: Millis,
    ) -> Result<Vec<Result<InboundOutcome>>> {
        let mut answers: Vec<Option<Result<InboundOutcome>>> = Vec::with_capacity(items.len());
        let mut good = Vec::with_capacity(items.len());
        for (mut msg, opts, class) in items {
            match prepare_inbound(&mut msg, now) {
                Ok(()) => {
                    answers.push(None);
                    good.push((msg, opts, class));
                }
                Err(e) => answers.push(Some(Err(e))),
            }
        }
        let mut stored = Vec::with_capacity(good.len());
        if !good.is_empty() {
            let mut tx = self.write(now).await?;
            // One look for the whole batch instead of one per message; a message whose id comes
            // twice in the batch, or is already stored, takes the careful path.
            // Likewise for the spam rules: an account that never wrote before, and writes once
            // in the batch, can be neither a duplicate nor a flood.
            let known = stored_external_ids(tx.conn(), &good).await?;
            let writers = known_authors(tx.conn(), &good).await?;
            let mut seen = std::collections::HashSet::new();
            let mut seen_authors = std::collections::HashSet::new();
            for (msg, opts, class) in good {
                let key = (msg.channel.clone(), msg.external_id.clone());
                let author = (msg.channel.clone(), msg.customer.handle.clone());
                let hints = Hints {
                    known_new: !known.contains(&key) && seen.insert(key),
                    first_post: !writers.contains(&author) && seen_authors.insert(author),
                };
                stored.push(ingest_in_tx(&mut tx, msg, &opts, &class, lease_ms, now, hints).await?);
            }
            tx.commit().await?;
        }
        let mut stored = stored.into_iter();
        Ok(answers
            .into_iter()
            .map(|a| {
                a.unwrap_or_else(|| stored.next().ok_or_else(|| Error::Internal("batch answers out of step".into())))
            })
            .collect())
    }

    pub async fn claim(&self, qid: i64, agent: &Agent, lease_ms: i64, now: Millis) -> Result<Question> {
        let mut tx = self.write(now).await?;
        let q = must_load(tx.conn(), qid).await?;
        let held = holding(tx.conn(), agent.id).await?;
        let q = claim_in_tx(&mut tx, &q, agent, held, lease_ms).await?;
        tx.commit().await?;
        Ok(q)
    }

    /// Claims the first of `candidates` (best first) that is still free, in one transaction, so
    /// agents pulling at the same moment each get a different question instead of all racing
    /// for the same one. `None`: every candidate was taken meanwhile.
    pub async fn claim_first(
        &self,
        candidates: &[i64],
        agent: &Agent,
        lease_ms: i64,
        now: Millis,
    ) -> Result<Option<Question>> {
        let mut tx = self.write(now).await?;
        let held = holding(tx.conn(), agent.id).await?;
        for &qid in candidates {
            let Some(q) = load_question(tx.conn(), qid).await? else { continue };
            match claim_in_tx(&mut tx, &q, agent, held, lease_ms).await {
                Ok(q) => {
                    tx.commit().await?;
                    return Ok(Some(q));
                }
                Err(e) if lifecycle::taken_meanwhile(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    pub async fn renew(&self, qid: i64, agent: &Agent, lease_ms: i64, now: Millis) -> Result<Question> {
        self.transition(qid, now, |q| lifecycle::renew(q, agent, lease_ms, now).map(Some)).await
    }

    pub async fn release(&self, qid: i64, agent: &Agent, now: Millis) -> Result<Question> {
        self.transition(qid, now, |q| lifecycle::release(q, agent, now).map(Some)).await
    }

    /// Hands a question to another function (back to the queue there) or straight to a
    /// colleague, with an internal note so the context travels with it.
    #[allow(clippy::too_many_arguments)] // each is a separate piece of the request
    pub async fn transfer(
        &self,
        qid: i64,
        agent: &Agent,
        target: TransferTarget,
        note: Option<String>,
        known_functions: &[String],
        lease_ms: i64,
        now: Millis,
    ) -> Result<Question> {
        if let Some(n) = &note {
            lifecycle::check_body(n)?;
        }
        let mut tx = self.write(now).await?;
        let q = must_load(tx.conn(), qid).await?;
        let colleague = match &target {
            TransferTarget::Agent(h) => {
                match load_agent_where(tx.conn(), "a.handle = ?", h.trim_start_matches('@')).await? {
                    Some(to) => {
                        let held = holding(tx.conn(), to.id).await?;
                        Some((to, held))
                    }
                    None => None,
                }
            }
            TransferTarget::Function(_) => None,
        };
        let to = match &target {
            TransferTarget::Function(f) => lifecycle::Target::Function { name: f, known: known_functions },
            TransferTarget::Agent(h) => lifecycle::Target::Agent {
                handle: h.trim_start_matches('@'),
                found: colleague.as_ref().map(|(a, held)| (a, *held)),
            },
        };
        let change = lifecycle::transfer(&q, agent, to, lease_ms, now)?;
        if let Some(n) = note {
            insert_note(&mut tx, qid, agent, &n).await?;
        }
        let q = apply(&mut tx, qid, change).await?;
        tx.commit().await?;
        Ok(q)
    }

    /// Marks a question done. A customer still waiting for an answer (a question never
    /// answered, or a follow-up that came in after the last reply) keeps it open unless the
    /// caller says `without_reply`: a follow-up must never be closed unseen.
    pub async fn resolve(&self, qid: i64, agent: &Agent, without_reply: bool, now: Millis) -> Result<Question> {
        self.transition(qid, now, |q| lifecycle::resolve(q, agent, without_reply, now)).await
    }

    pub async fn reopen(&self, qid: i64, agent: &Agent, now: Millis) -> Result<Question> {
        self.transition(qid, now, |q| lifecycle::reopen(q, agent, now).map(Some)).await
    }

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
        if let Some(k) = idempotency_key
            && (k.is_empty() || k.chars().count() > 128)
        {
            return Err(Error::invalid("idempotency key must be 1 to 128 characters"));
        }
        let mut tx = self.write(now).await?;
        if let Some(k) = idempotency_key {
            let sql = format!("{MESSAGE_SELECT} WHERE m.agent_id = ? AND m.idempotency_key = ?");
            let existing = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(agent.id)
                .bind(k.to_string())
                .fetch_optional(tx.conn())
                .await?;
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
        let r = sqlx::query(
            "INSERT INTO messages (question_id, kind, author, agent_id, body, created_at, channel, status, idempotency_key) \
             VALUES (?, 'reply', ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(qid)
        .bind(agent.handle.clone())
        .bind(agent.id)
        .bind(body.to_string())
        .bind(now)
        .bind(q.channel.clone())
        .bind(status.as_str())
        .bind(idempotency_key.map(str::to_string))
        .execute(tx.conn())
        .await?;
        let mid = r.last_insert_rowid();
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
            sqlx::query("UPDATE messages SET body = ? WHERE id = ?")
                .bind(b.to_string())
                .bind(message_id)
                .execute(tx.conn())
                .await?;
        }
        sqlx::query("UPDATE messages SET reviewed_by_id = ?, review_note = ? WHERE id = ?")
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
        if reason.trim().is_empty() {
            return Err(Error::invalid("say why the reply is rejected, so the novice can learn"));
        }
        lifecycle::check_body(reason)?;
        let mut tx = self.write(now).await?;
        pending_review(&mut tx, message_id, reviewer).await?;
        sqlx::query("UPDATE messages SET status = 'rejected', reviewed_by_id = ?, review_note = ? WHERE id = ?")
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
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(reviewer.role >= Role::Lead)
            .bind(reviewer.id)
            .fetch_all(&mut *conn)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let m = message_from_row(row)?;
            let q = must_load(&mut conn, m.question_id).await?;
            out.push((m, q));
        }
        Ok(out)
    }

    /// Returns every question whose lease ran out to the queue; returns how many.
    pub async fn expire_leases(&self, now: Millis) -> Result<usize> {
        // A cheap read first: the common case is nothing to do, and then no write lock is taken.
        let mut conn = self.read().await?;
        let due = sqlx::query("SELECT 1 FROM questions WHERE state = 'claimed' AND lease_until < ? LIMIT 1")
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?;
        drop(conn);
        if due.is_none() {
            return Ok(0);
        }
        let mut tx = self.write(now).await?;
        let ids: Vec<i64> =
            sqlx::query("SELECT id FROM questions WHERE state = 'claimed' AND lease_until < ? ORDER BY id")
                .bind(now)
                .fetch_all(tx.conn())
                .await?
                .iter()
                .map(|r| r.try_get("id"))
                .collect::<Result<_, _>>()?;
        for id in &ids {
            let q = must_load(tx.conn(), *id).await?;
            if let Some(change) = lifecycle::expire(&q, now) {
                apply(&mut tx, *id, change).await?;
            }
        }
        tx.commit().await?;
        Ok(ids.len())
    }

    pub async fn question(&self, qid: i64) -> Result<QuestionDetail> {
        let mut conn = self.read().await?;
        let question = must_load(&mut conn, qid).await?;
        let sql = format!("{MESSAGE_SELECT} WHERE m.question_id = ? ORDER BY m.id");
        let messages = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(qid)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(message_from_row)
            .collect::<Result<Vec<_>>>()?;
        let sql = format!(
            "{QUESTION_SELECT} WHERE q.channel = ? AND q.customer_handle = ? AND q.id != ? ORDER BY q.received_at DESC LIMIT 20"
        );
        let earlier = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(question.channel.clone())
            .bind(question.customer.handle.clone())
            .bind(qid)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(question_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(QuestionDetail { question, messages, earlier })
    }

    /// The shared queue, most urgent first (earliest SLA deadline), one page at a time.
    pub async fn queue(&self, filter: &QueueFilter) -> Result<QueuePage> {
        let limit = filter.limit.clamp(1, 500);
        let mut conditions: Vec<&str> = Vec::new();
        let mut binds: Vec<Bind> = Vec::new();
        match filter.state {
            Some(s) => {
                conditions.push("q.state = ?");
                binds.push(Bind::Text(s.as_str().to_string()));
            }
            None if !filter.include_resolved => conditions.push("q.state NOT IN ('resolved', 'held')"),
            None => conditions.push("q.state != 'held'"),
        }
        if filter.unclaimed {
            conditions.push("q.state = 'open'");
        }
        if let Some(f) = &filter.function {
            conditions.push("q.function = ?");
            binds.push(Bind::Text(f.clone()));
        }
        if let Some(t) = &filter.topic {
            conditions.push("q.topic = ?");
            binds.push(Bind::Text(t.clone()));
        }
        if let Some(h) = filter.holder_id {
            conditions.push("q.holder_id = ?");
            binds.push(Bind::Int(h));
        }
        let mut conn = self.read().await?;
        // Read before the questions: every event up to here is committed with its change, so
        // the page reflects at least this much (a later change may show too; replaying its event
        // is harmless, the newer copy of a question wins).
        let as_of: i64 = sqlx::query(
            "SELECT MAX(COALESCE((SELECT MAX(id) FROM events), 0), \
             COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)) AS n",
        )
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")?;
        let where_all = if conditions.is_empty() { "1".to_string() } else { conditions.join(" AND ") };
        let count_sql = format!("SELECT COUNT(*) AS n FROM questions q WHERE {where_all}");
        let mut count = sqlx::query(sqlx::AssertSqlSafe(count_sql));
        for b in &binds {
            count = b.bind(count);
        }
        let total: i64 = count.fetch_one(&mut *conn).await?.try_get("n")?;

        let mut page_conditions = where_all;
        let mut page_binds = binds;
        if let Some(c) = &filter.cursor {
            let (due, id) = parse_cursor(c)?;
            page_conditions.push_str(" AND (q.sla_due_at > ? OR (q.sla_due_at = ? AND q.id > ?))");
            page_binds.extend([Bind::Int(due), Bind::Int(due), Bind::Int(id)]);
        }
        let sql = format!("{QUESTION_SELECT} WHERE {page_conditions} ORDER BY q.sla_due_at, q.id LIMIT ?");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in &page_binds {
            query = b.bind(query);
        }
        let rows = query.bind(limit as i64 + 1).fetch_all(&mut *conn).await?;
        let mut items = rows.iter().map(question_from_row).collect::<Result<Vec<_>>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|q| format!("{}.{}", q.sla_due_at, q.id))
        } else {
            None
        };
        Ok(QueuePage { items, next_cursor, total, as_of: Some(as_of) })
    }
}

enum Bind {
    Text(String),
    Int(i64),
    OptInt(Option<i64>),
}

impl Bind {
    fn bind<'q>(
        &self,
        q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
        match self {
            Bind::Text(s) => q.bind(s.clone()),
            Bind::Int(i) => q.bind(*i),
            Bind::OptInt(i) => q.bind(*i),
        }
    }
}

fn parse_cursor(c: &str) -> Result<(i64, i64)> {
    let bad = || Error::invalid(format!("cursor '{c}' is not one this server gave out"));
    let (a, b) = c.split_once('.').ok_or_else(bad)?;
    Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}

/// How far back a customer message's `received_at` may lie: a connector catching up on a backlog
/// brings older posts, but nothing older than a year is a question anyone is waiting on, and
/// beyond a sane window the deadline arithmetic and the waiting times stop meaning anything.
pub const MAX_MESSAGE_AGE_MS: Millis = 366 * 24 * 60 * 60 * 1000;
/// How far ahead of the server's clock `received_at` may be (the sender's clock running fast).
pub const MAX_CLOCK_AHEAD_MS: Millis = 10 * 60 * 1000;

/// Checks a customer message before it is stored, and makes what can be kept storable: a text
/// over the length limit is cut, with a marker, rather than refused (the customer did write it,
/// and a gateway would otherwise retry it forever).
fn prepare_inbound(msg: &mut NewInbound, now: Millis) -> Result<()> {
    // Lengths in characters, as the API documents them (JSON Schema counts characters).
    let chars = |s: &str| s.chars().count();
    if !is_identifier(&msg.channel) {
        return Err(Error::invalid("channel must be a lowercase name such as mastodon, bluesky, x or webhook"));
    }
    if msg.external_id.trim().is_empty() || chars(&msg.external_id) > 256 {
        return Err(Error::invalid("external_id must be 1 to 256 characters"));
    }
    if msg.customer.handle.trim().is_empty() || chars(&msg.customer.handle) > 256 {
        return Err(Error::invalid("customer.handle must be 1 to 256 characters"));
    }
    if chars(&msg.customer.name) > 256 {
        return Err(Error::invalid("customer.name must be at most 256 characters"));
    }
    for (name, v) in [("conversation_id", &msg.conversation_id), ("in_reply_to", &msg.in_reply_to)] {
        if v.as_ref().is_some_and(|s| s.is_empty() || chars(s) > 256) {
            return Err(Error::invalid(format!("{name} must be 1 to 256 characters when given")));
        }
    }
    if let Some(p) = msg.priority
        && !(-10..=10).contains(&p)
    {
        return Err(Error::invalid("priority must be from -10 to 10"));
    }
    if let Some(at) = msg.received_at
        && (at < now.saturating_sub(MAX_MESSAGE_AGE_MS) || at > now.saturating_add(MAX_CLOCK_AHEAD_MS))
    {
        return Err(Error::invalid(format!(
            "received_at {at} is not a time this message can have been received: give milliseconds since the Unix \
             epoch, within the last year and at most 10 minutes ahead of the server's clock ({now})"
        )));
    }
    if msg.text.trim().is_empty() {
        return Err(Error::invalid("the message is empty"));
    }
    cut_to_length(&mut msg.text);
    Ok(())
}

/// Cuts a customer text over [`MAX_BODY_CHARS`] at a character boundary and says so at the end.
fn cut_to_length(text: &mut String) {
    let n = text.chars().count();
    if n <= MAX_BODY_CHARS {
        return;
    }
    let marker = format!(" [… cut by helphive: the customer wrote {n} characters]");
    let keep = MAX_BODY_CHARS - marker.chars().count();
    let end = text.char_indices().nth(keep).map(|(i, _)| i).unwrap_or(text.len());
    text.truncate(end);
    text.push_str(&marker);
}

/// Why a post should be held out of the queue, if it should.
/// What a batch learned about a message before it is stored, to save a look per message.
#[derive(Debug, Clone, Copy, Default)]
struct Hints {
    /// The store does not have the message yet.
    known_new: bool,
    /// Its author has no earlier message on the channel.
    first_post: bool,
}

type Items = [(NewInbound, IngestOptions, Classification)];

/// Which of `items` (channel, external id) the store already has.
async fn stored_external_ids(conn: &mut SqliteConnection, items: &Items) -> Result<HashSet<(String, String)>> {
    let keys = items.iter().map(|(m, _, _)| (m.channel.as_str(), m.external_id.as_str()));
    found_per_channel(conn, keys, "SELECT external_id FROM messages WHERE channel = ? AND external_id IN").await
}

/// Which authors of `items` (channel, handle) have written on the channel before.
async fn known_authors(conn: &mut SqliteConnection, items: &Items) -> Result<HashSet<(String, String)>> {
    let keys = items.iter().map(|(m, _, _)| (m.channel.as_str(), m.customer.handle.as_str()));
    let sql = "SELECT DISTINCT author FROM messages WHERE kind = 'inbound' AND channel = ? AND author IN";
    found_per_channel(conn, keys, sql).await
}

/// Runs `select` (ending in `IN`, taking the channel first) for the values of each channel and
/// returns the (channel, value) pairs it found.
async fn found_per_channel<'a>(
    conn: &mut SqliteConnection,
    keys: impl Iterator<Item = (&'a str, &'a str)>,
    select: &str,
) -> Result<HashSet<(String, String)>> {
    let mut by_channel: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (channel, value) in keys {
        by_channel.entry(channel).or_default().push(value);
    }
    let mut found = HashSet::new();
    for (channel, values) in by_channel {
        // SQLite takes 32,766 parameters; a batch is at most 1,000 messages.
        for chunk in values.chunks(900) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!("{select} ({marks})");
            let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).bind(channel.to_string());
            for v in chunk {
                q = q.bind(v.to_string());
            }
            for v in q.fetch_all(&mut *conn).await? {
                found.insert((channel.to_string(), v));
            }
        }
    }
    Ok(found)
}

/// One customer message, inside the caller's transaction (see [`Store::ingest`]), with what the
/// caller already knows about it.
async fn ingest_in_tx(
    tx: &mut WriteTx,
    msg: NewInbound,
    opts: &IngestOptions,
    class: &Classification,
    lease_ms: i64,
    now: Millis,
    hints: Hints,
) -> Result<InboundOutcome> {
    let received = msg.received_at.unwrap_or(now);
    // A second delivery of the same message is dropped (webhooks retry, streams replay).
    let dup = if hints.known_new {
        None
    } else {
        sqlx::query("SELECT id, question_id FROM messages WHERE channel = ? AND external_id = ?")
            .bind(msg.channel.clone())
            .bind(msg.external_id.clone())
            .fetch_optional(tx.conn())
            .await?
    };
    if let Some(row) = dup {
        let qid: i64 = row.try_get("question_id")?;
        let message_id: i64 = row.try_get("id")?;
        let question = must_load(tx.conn(), qid).await?;
        return Ok(InboundOutcome { outcome: "duplicate".into(), question, message_id });
    }

    let held = match &opts.spam {
        Some(rules) => {
            // A blocked account needs no look; a first post is neither a duplicate nor a flood.
            let recent = if rules.blocked || hints.first_post {
                None
            } else {
                recent_posts(tx.conn(), &msg, rules, received).await?
            };
            lifecycle::spam_verdict(rules, &msg.customer.handle, recent)
        }
        None => None,
    };
    let (arrived, state, arrival_event, arrival_extra) = lifecycle::arrival(held.as_deref());
    // A held post starts a question of its own: threading it would let spam reopen a
    // customer's question or reach the agent who answered it.
    let thread = if held.is_some() { None } else { find_thread(tx.conn(), &msg).await? };
    // A new question comes back from its INSERT, so its event needs no second read.
    let (qid, created) = match thread {
        Some(qid) => (qid, None),
        None => {
            let r = sqlx::query(
                "INSERT INTO questions (channel, external_id, conversation_id, customer_handle, customer_name, \
                 text, received_at, topic, function, confidence, matched_rule, priority, sla_ms, sla_due_at, \
                 state, awaiting_since, updated_at, inbound_count, last_inbound_at, held_reason) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?) \
                 RETURNING *, NULL AS holder_handle, NULL AS answered_handle",
            )
            .bind(msg.channel.clone())
            .bind(msg.external_id.clone())
            .bind(msg.conversation_id.clone())
            .bind(msg.customer.handle.clone())
            .bind(msg.customer.name.clone())
            .bind(msg.text.clone())
            .bind(received)
            .bind(class.topic.clone())
            .bind(class.function.clone())
            .bind(class.confidence as f64)
            .bind(class.matched.clone())
            .bind(msg.priority.unwrap_or(0))
            .bind(class.sla_minutes as i64 * 60_000)
            .bind(received.saturating_add(class.sla_minutes as i64 * 60_000))
            .bind(state.as_str())
            .bind(received)
            .bind(now)
            .bind(received)
            .bind(held.clone())
            .fetch_one(tx.conn())
            .await?;
            let q = question_from_row(&r)?;
            (q.id, Some(q))
        }
    };

    let r = sqlx::query(
        "INSERT INTO messages (question_id, kind, author, body, created_at, channel, external_id, in_reply_to, visibility) \
         VALUES (?, 'inbound', ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(qid)
    .bind(msg.customer.handle.clone())
    .bind(msg.text.clone())
    .bind(received)
    .bind(msg.channel.clone())
    .bind(msg.external_id.clone())
    .bind(msg.in_reply_to.clone())
    .bind(opts.visibility.clone())
    .execute(tx.conn())
    .await?;
    let message_id = r.last_insert_rowid();

    let (outcome, question) = match created {
        Some(q) => {
            event_for(tx, arrival_event, &q, None, arrival_extra).await?;
            (arrived, q)
        }
        None => followup(tx, qid, message_id, received, lease_ms).await?,
    };
    Ok(InboundOutcome { outcome: outcome.into(), question, message_id })
}

/// What the author's recent posts say to the spam rules: the id of an earlier post with the same
/// text within the duplicate window, and how many posts fall within the flood window. `None`
/// when both rules are switched off.
async fn recent_posts(
    conn: &mut SqliteConnection,
    msg: &NewInbound,
    rules: &SpamRules,
    received: Millis,
) -> Result<Option<(Option<i64>, i64)>> {
    let dup_since = if rules.duplicate_window_ms > 0 { received - rules.duplicate_window_ms } else { Millis::MAX };
    let flood_since = if rules.flood_max > 0 { received - rules.flood_window_ms } else { Millis::MAX };
    if dup_since == Millis::MAX && flood_since == Millis::MAX {
        return Ok(None);
    }
    // Both rules in one look at the account's recent posts.
    let row = sqlx::query(
        "SELECT MAX(CASE WHEN created_at >= ? AND body = ? THEN id END) AS dup_id, \
         COALESCE(SUM(created_at >= ?), 0) AS recent \
         FROM messages WHERE kind = 'inbound' AND channel = ? AND author = ? AND created_at >= ?",
    )
    .bind(dup_since)
    .bind(msg.text.clone())
    .bind(flood_since)
    .bind(msg.channel.clone())
    .bind(msg.customer.handle.clone())
    .bind(dup_since.min(flood_since))
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some((row.try_get("dup_id")?, row.try_get("recent")?)))
}

/// The question a customer message belongs to: the one holding the message it answers, else the
/// customer's latest question in the same conversation.
async fn find_thread(conn: &mut SqliteConnection, msg: &NewInbound) -> Result<Option<i64>> {
    if let Some(parent) = &msg.in_reply_to {
        let row = sqlx::query("SELECT question_id FROM messages WHERE channel = ? AND external_id = ?")
            .bind(msg.channel.clone())
            .bind(parent.clone())
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(r) = row {
            return Ok(Some(r.try_get("question_id")?));
        }
        // The root of a thread is the question's own external id.
        let row = sqlx::query("SELECT id FROM questions WHERE channel = ? AND external_id = ?")
            .bind(msg.channel.clone())
            .bind(parent.clone())
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(r) = row {
            return Ok(Some(r.try_get("id")?));
        }
    }
    if let Some(conv) = &msg.conversation_id {
        let row = sqlx::query(
            "SELECT id FROM questions WHERE channel = ? AND customer_handle = ? AND conversation_id = ? \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(msg.channel.clone())
        .bind(msg.customer.handle.clone())
        .bind(conv.clone())
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(r) = row {
            return Ok(Some(r.try_get("id")?));
        }
    }
    Ok(None)
}

/// A follow-up joins its question, which may reopen (see [`lifecycle::followup`]).
async fn followup(
    tx: &mut WriteTx,
    qid: i64,
    message_id: i64,
    received: Millis,
    lease_ms: i64,
) -> Result<(&'static str, Question)> {
    let now = tx.now;
    let (q, sla_ms) = must_load_with_sla(tx.conn(), qid).await?;
    let answerer = match &q.answered_by {
        Some(h) if lifecycle::followup_reopens(&q) => match load_agent_where(tx.conn(), "a.handle = ?", h).await? {
            Some(a) => {
                let held = holding(tx.conn(), a.id).await?;
                Some((a, held))
            }
            None => None,
        },
        _ => None,
    };
    let answerer = answerer.as_ref().map(|(a, held)| (a, *held));
    let (outcome, change) = lifecycle::followup(&q, sla_ms, received, message_id, answerer, lease_ms, now);
    Ok((outcome, apply(tx, qid, change).await?))
}

async fn insert_note(tx: &mut WriteTx, qid: i64, agent: &Agent, body: &str) -> Result<i64> {
    let now = tx.now;
    let r = sqlx::query(
        "INSERT INTO messages (question_id, kind, author, agent_id, body, created_at, channel) \
         SELECT ?, 'note', ?, ?, ?, ?, channel FROM questions WHERE id = ?",
    )
    .bind(qid)
    .bind(agent.handle.clone())
    .bind(agent.id)
    .bind(body.to_string())
    .bind(now)
    .bind(qid)
    .execute(tx.conn())
    .await?;
    Ok(r.last_insert_rowid())
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
