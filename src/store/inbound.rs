//! Customer messages coming in: checks, duplicates, the spam look, threading a follow-up into
//! its question (which may reopen it), and batches in one transaction.

use std::collections::HashSet;

use super::agents::load_agent_where;
use super::db::{Conn, query};
use super::questions::{
    MAX_BODY_CHARS, SpamRules, apply, event_for, holding, must_load, must_load_with_sla, question_from_row,
};
use super::{InboundOutcome, NewInbound, Store, WriteTx};
use crate::error::{Error, Result};
use crate::lifecycle;
use crate::model::{Millis, Question, is_identifier};
use crate::routing::Classification;

/// What a channel connector knows beyond the message itself.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// The post's visibility on its network (Mastodon: public, unlisted, private, direct).
    pub visibility: Option<String>,
    /// Hold posts that look like spam; `None` (webhooks) takes everything into the queue.
    pub spam: Option<SpamRules>,
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
async fn stored_external_ids(conn: Conn<'_>, items: &Items) -> Result<HashSet<(String, String)>> {
    let keys = items.iter().map(|(m, _, _)| (m.channel.as_str(), m.external_id.as_str()));
    found_per_channel(conn, keys, "SELECT external_id FROM messages WHERE channel = ? AND external_id IN").await
}

/// Which authors of `items` (channel, handle) have written on the channel before.
async fn known_authors(conn: Conn<'_>, items: &Items) -> Result<HashSet<(String, String)>> {
    let keys = items.iter().map(|(m, _, _)| (m.channel.as_str(), m.customer.handle.as_str()));
    let sql = "SELECT DISTINCT author FROM messages WHERE kind = 'inbound' AND channel = ? AND author IN";
    found_per_channel(conn, keys, sql).await
}

/// Runs `select` (ending in `IN`, taking the channel first) for the values of each channel and
/// returns the (channel, value) pairs it found.
async fn found_per_channel<'a>(
    mut conn: Conn<'_>,
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
            let mut q = query(sqlx::AssertSqlSafe(sql)).bind(channel.to_string());
            for v in chunk {
                q = q.bind(v.to_string());
            }
            for v in q.scalar_all::<String>(conn.re()).await? {
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
        query("SELECT id, question_id FROM messages WHERE channel = ? AND external_id = ?")
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
            let r = query(
                "INSERT INTO questions (channel, external_id, conversation_id, customer_handle, customer_name, \
                 text, received_at, topic, function, confidence, matched_rule, priority, sla_ms, sla_due_at, \
                 state, awaiting_since, updated_at, inbound_count, last_inbound_at, held_reason, unsure, guesses) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?) \
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
            .bind(class.unsure)
            .bind((!class.guesses.is_empty()).then(|| serde_json::json!(class.guesses).to_string()))
            .fetch_one(tx.conn())
            .await?;
            let q = question_from_row(&r)?;
            (q.id, Some(q))
        }
    };

    let message_id: i64 = query(
        "INSERT INTO messages (question_id, kind, author, body, created_at, channel, external_id, in_reply_to, visibility) \
         VALUES (?, 'inbound', ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(qid)
    .bind(msg.customer.handle.clone())
    .bind(msg.text.clone())
    .bind(received)
    .bind(msg.channel.clone())
    .bind(msg.external_id.clone())
    .bind(msg.in_reply_to.clone())
    .bind(opts.visibility.clone())
    .scalar_one(tx.conn())
    .await?;

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
    conn: Conn<'_>,
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
    let row = query(
        "SELECT MAX(CASE WHEN created_at >= ? AND body = ? THEN id END) AS dup_id, \
         COALESCE(SUM(CASE WHEN created_at >= ? THEN 1 ELSE 0 END), 0) AS recent \
         FROM messages WHERE kind = 'inbound' AND channel = ? AND author = ? AND created_at >= ?",
    )
    .bind(dup_since)
    .bind(msg.text.clone())
    .bind(flood_since)
    .bind(msg.channel.clone())
    .bind(msg.customer.handle.clone())
    .bind(dup_since.min(flood_since))
    .fetch_one(conn)
    .await?;
    Ok(Some((row.try_get("dup_id")?, row.try_get("recent")?)))
}

/// The question a customer message belongs to: the one holding the message it answers, else the
/// customer's latest question in the same conversation.
async fn find_thread(mut conn: Conn<'_>, msg: &NewInbound) -> Result<Option<i64>> {
    if let Some(parent) = &msg.in_reply_to {
        let row = query("SELECT question_id FROM messages WHERE channel = ? AND external_id = ?")
            .bind(msg.channel.clone())
            .bind(parent.clone())
            .fetch_optional(conn.re())
            .await?;
        if let Some(r) = row {
            return Ok(Some(r.try_get("question_id")?));
        }
        // The root of a thread is the question's own external id.
        let row = query("SELECT id FROM questions WHERE channel = ? AND external_id = ?")
            .bind(msg.channel.clone())
            .bind(parent.clone())
            .fetch_optional(conn.re())
            .await?;
        if let Some(r) = row {
            return Ok(Some(r.try_get("id")?));
        }
    }
    if let Some(conv) = &msg.conversation_id {
        let row = query(
            "SELECT id FROM questions WHERE channel = ? AND customer_handle = ? AND conversation_id = ? \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(msg.channel.clone())
        .bind(msg.customer.handle.clone())
        .bind(conv.clone())
        .fetch_optional(conn.re())
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
