//! What the router reads from the store (who is online with room, what waits) and the events it
//! writes (offers, breaches, topic corrections).

use super::Store;
use super::db::query;
use super::questions::{event_for, load_question};
use crate::error::Result;
use crate::lifecycle;
use crate::model::{Agent, Millis, Question};

/// An employee as routing sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingAgent {
    pub id: i64,
    pub handle: String,
    pub function: String,
    pub skills: Vec<(String, u8)>,
    pub capacity: u32,
    pub holding: u32,
    pub online: bool,
    pub novice: bool,
    pub idle_since: Millis,
}

/// A waiting question as routing sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingQuestion {
    pub id: i64,
    pub topic: String,
    pub function: String,
    pub waiting_since: Millis,
    pub sla_due_at: Millis,
    pub priority: i32,
    pub previous_agent: Option<i64>,
    /// The topic model was unsure: offered to everyone at once.
    pub unsure: bool,
}

impl Store {
    /// Enabled agents (with what they hold) and the open questions, for one routing pass.
    pub async fn routing_snapshot(&self) -> Result<(Vec<RoutingAgent>, Vec<RoutingQuestion>)> {
        let mut conn = self.read().await?;
        let rows = query(
            "SELECT a.id, a.handle, a.function, a.capacity, a.status, a.novice, a.status_at, \
             (SELECT COUNT(*) FROM questions q WHERE q.holder_id = a.id AND q.state IN ('claimed', 'awaiting_approval')) AS holding, \
             (SELECT MAX(q.claimed_at) FROM questions q WHERE q.holder_id = a.id) AS last_claim \
             FROM agents a WHERE NOT a.disabled ORDER BY a.id",
        )
        .fetch_all(conn.conn())
        .await?;
        let skill_rows = query("SELECT agent_id, topic, proficiency FROM skills").fetch_all(conn.conn()).await?;
        let mut skills: std::collections::HashMap<i64, Vec<(String, u8)>> = Default::default();
        for r in &skill_rows {
            skills
                .entry(r.try_get("agent_id")?)
                .or_default()
                .push((r.try_get("topic")?, r.try_get::<i64>("proficiency")? as u8));
        }
        let agents = rows
            .iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                let status: String = r.try_get("status")?;
                let status_at: i64 = r.try_get("status_at")?;
                let last_claim: Option<i64> = r.try_get("last_claim")?;
                Ok(RoutingAgent {
                    id,
                    handle: r.try_get("handle")?,
                    function: r.try_get("function")?,
                    skills: skills.remove(&id).unwrap_or_default(),
                    capacity: r.try_get::<i64>("capacity")? as u32,
                    holding: r.try_get::<i64>("holding")? as u32,
                    online: status == "online",
                    novice: r.try_get("novice")?,
                    idle_since: last_claim.map_or(status_at, |c| c.max(status_at)),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let questions = query(
            "SELECT id, topic, function, received_at, awaiting_since, sla_due_at, priority, answered_by_id, unsure \
             FROM questions WHERE state = 'open' ORDER BY sla_due_at, id",
        )
        .fetch_all(conn.conn())
        .await?
        .iter()
        .map(|r| {
            let received: i64 = r.try_get("received_at")?;
            let awaiting: Option<i64> = r.try_get("awaiting_since")?;
            Ok(RoutingQuestion {
                id: r.try_get("id")?,
                topic: r.try_get("topic")?,
                function: r.try_get("function")?,
                waiting_since: awaiting.unwrap_or(received),
                sla_due_at: r.try_get("sla_due_at")?,
                priority: r.try_get("priority")?,
                previous_agent: r.try_get("answered_by_id")?,
                unsure: r.try_get("unsure")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        Ok((agents, questions))
    }

    /// Records routing signals about questions (offers, breaches): each an event carrying the
    /// question as it is, plus its extra fields. The questions themselves do not change. One
    /// transaction for the lot, so a routing pass costs one write however many it offers.
    pub async fn signal(&self, signals: &[(&str, i64, serde_json::Value)], now: Millis) -> Result<()> {
        if signals.is_empty() {
            return Ok(());
        }
        let mut tx = self.write(now).await?;
        for (kind, qid, extra) in signals {
            // A question deleted or unknown by now is skipped, not an error for the others.
            let Some(q) = load_question(tx.conn(), *qid).await? else { continue };
            event_for(&mut tx, kind, &q, None, extra.clone()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// An agent corrects the topic the classifier chose. The question moves to the topic's
    /// function and deadline target (its deadline is recomputed from when the customer started
    /// waiting); the correction is an event, counts in the statistics, and is kept as a labelled
    /// question for the topic model (`training_examples`, source `correction`).
    pub async fn recategorize(
        &self,
        qid: i64,
        agent: &Agent,
        topic: &str,
        function: &str,
        sla_ms: i64,
        now: Millis,
    ) -> Result<Question> {
        let mut tx = self.write(now).await?;
        let q = super::questions::must_load(tx.conn(), qid).await?;
        let Some(change) = lifecycle::recategorize(&q, agent, topic, function, sla_ms, now) else {
            tx.commit().await?;
            return Ok(q);
        };
        let updated = super::questions::apply(&mut tx, qid, change).await?;
        // The correction teaches the topic model: the question's text with the right topic,
        // learned at the next retraining.
        super::training::remember(tx.conn(), &q.text, topic, "correction", now).await?;
        tx.commit().await?;
        Ok(updated)
    }
}
