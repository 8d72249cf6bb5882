//! Taking and giving back questions: claims and their leases, expiry, hand-offs, resolving and
//! reopening.

use serde::{Deserialize, Serialize};

use super::agents::load_agent_where;
use super::db::query;
use super::questions::{apply, holding, load_question, must_load};
use super::replies::insert_note;
use super::{Store, WriteTx};
use crate::error::Result;
use crate::lifecycle;
use crate::model::{Agent, Millis, Question};

/// Where [`Store::transfer`] hands a question: a function's queue, or a colleague by handle.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferTarget {
    Function(String),
    Agent(String),
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

impl Store {
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
        let mut tx = self.write(now).await?;
        let q = must_load(tx.conn(), qid).await?;
        let Some(change) = lifecycle::resolve(&q, agent, without_reply, now)? else {
            tx.commit().await?;
            return Ok(q);
        };
        let resolved = apply(&mut tx, qid, change).await?;
        // Resolved in the topic it was routed to (not unsure, not the default topic for want of
        // anything better): a confirmation the topic model learns from at its next retraining.
        if q.matched_rule.is_some() && !q.unsure {
            super::training::remember(tx.conn(), &q.text, &q.topic, "resolved", now).await?;
        }
        tx.commit().await?;
        Ok(resolved)
    }

    pub async fn reopen(&self, qid: i64, agent: &Agent, now: Millis) -> Result<Question> {
        self.transition(qid, now, |q| lifecycle::reopen(q, agent, now).map(Some)).await
    }

    /// Returns every question whose lease ran out to the queue; returns how many.
    pub async fn expire_leases(&self, now: Millis) -> Result<usize> {
        // A cheap read first: the common case is nothing to do, and then no write lock is taken.
        let mut conn = self.read().await?;
        let due = query("SELECT 1 FROM questions WHERE state = 'claimed' AND lease_until < ? LIMIT 1")
            .bind(now)
            .fetch_optional(conn.conn())
            .await?;
        drop(conn);
        if due.is_none() {
            return Ok(0);
        }
        let mut tx = self.write(now).await?;
        let ids: Vec<i64> = query("SELECT id FROM questions WHERE state = 'claimed' AND lease_until < ? ORDER BY id")
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
}
