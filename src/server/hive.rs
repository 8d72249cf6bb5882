//! The router at work in the server: it runs the pure rules in `routing::hive` over a snapshot of
//! the store, offers each waiting question to its best agent for a short time (the next agent if
//! the offer lapses), raises a breach event for the shift lead once per question, and answers
//! "next" (pull) with the calling agent's best question. Offers live in memory: after a restart
//! the next pass simply offers again. The shared queue stays visible to everyone, and claims stay
//! exclusive: an offer is only a proposal.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::AppState;
use crate::config::Config;
use crate::error::Result;
use crate::model::{Agent, Millis, Question, event_kind};
use crate::routing::hive::{self, AgentState, FunctionId, QuestionInfo, TopicId};
use crate::store::{RoutingAgent, RoutingQuestion};

/// Topic and function names as small numbers, from the configuration.
#[derive(Debug, Clone)]
pub struct Catalog {
    topics: HashMap<String, TopicId>,
    functions: HashMap<String, FunctionId>,
}

impl Catalog {
    pub fn new(config: &Config) -> Catalog {
        let functions: HashMap<String, FunctionId> =
            config.functions.iter().enumerate().map(|(i, f)| (f.name.clone(), i as FunctionId)).collect();
        let topics = config.topics.iter().enumerate().map(|(i, t)| (t.name.clone(), i as TopicId)).collect();
        Catalog { topics, functions }
    }

    /// Unknown names (a topic removed from the config since) get an id no agent matches.
    fn topic(&self, name: &str) -> TopicId {
        self.topics.get(name).copied().unwrap_or(TopicId::MAX)
    }

    fn function(&self, name: &str) -> FunctionId {
        self.functions.get(name).copied().unwrap_or(FunctionId::MAX)
    }

    pub fn agent(&self, a: &RoutingAgent) -> AgentState {
        AgentState {
            id: a.id,
            function: self.function(&a.function),
            skills: a.skills.iter().map(|(t, p)| (self.topic(t), *p)).collect(),
            capacity: a.capacity.min(u8::MAX as u32) as u8,
            holding: a.holding.min(u8::MAX as u32) as u8,
            online: a.online,
            novice: a.novice,
            idle_since: a.idle_since,
        }
    }

    pub fn question(&self, q: &RoutingQuestion) -> QuestionInfo {
        QuestionInfo {
            id: q.id,
            topic: self.topic(&q.topic),
            function: self.function(&q.function),
            waiting_since: q.waiting_since,
            sla_due_at: q.sla_due_at,
            priority: q.priority,
            previous_agent: q.previous_agent,
            unsure: q.unsure,
        }
    }
}

#[derive(Debug, Clone)]
struct LiveOffer {
    agent: i64,
    expires_at: Millis,
}

#[derive(Default)]
struct State {
    offers: HashMap<i64, LiveOffer>,
    /// Agents each question's offer lapsed with: not offered the same question again.
    lapsed: HashMap<i64, Vec<i64>>,
    breached: HashSet<i64>,
}

pub struct Hive {
    catalog: Catalog,
    offer_ms: i64,
    state: Mutex<State>,
}

/// How many of a caller's best questions one pull tries, in one transaction.
const PULL_CANDIDATES: usize = 64;

impl Hive {
    pub fn new(config: &Config) -> Hive {
        Hive {
            catalog: Catalog::new(config),
            offer_ms: config.routing.offer_seconds as i64 * 1000,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; carry on with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live offer for a question, if any: (agent id, expires at).
    pub fn offer_for(&self, qid: i64) -> Option<(i64, Millis)> {
        self.lock().offers.get(&qid).map(|o| (o.agent, o.expires_at))
    }

    /// One routing pass: drop offers that ended, offer what waits, flag new breaches.
    pub async fn route(&self, app: &AppState) -> Result<usize> {
        let now = app.now();
        let (agents, questions) = app.store.routing_snapshot().await?;
        let handles: HashMap<i64, String> = agents.iter().map(|a| (a.id, a.handle.clone())).collect();
        let agent_states: Vec<AgentState> = agents.iter().map(|a| self.catalog.agent(a)).collect();
        let waiting: Vec<QuestionInfo> = questions.iter().map(|q| self.catalog.question(q)).collect();
        let (planned, breaches) = {
            let mut st = self.lock();
            let open: HashSet<i64> = waiting.iter().map(|q| q.id).collect();
            st.lapsed.retain(|q, _| open.contains(q));
            st.breached.retain(|q| open.contains(q));
            // An offer ends when its question is taken, its time is up, or its agent can no longer
            // take it; a lapsed agent is not asked again about that question.
            let mut ended = Vec::new();
            for (qid, o) in st.offers.iter() {
                let agent_ok = agent_states.iter().any(|a| a.id == o.agent && a.online && a.has_room());
                if !open.contains(qid) || o.expires_at <= now || !agent_ok {
                    ended.push((*qid, o.agent, open.contains(qid)));
                }
            }
            for (qid, agent, still_open) in ended {
                st.offers.remove(&qid);
                if still_open {
                    st.lapsed.entry(qid).or_default().push(agent);
                }
            }
            let busy: Vec<i64> = st.offers.values().map(|o| o.agent).collect();
            let unoffered: Vec<QuestionInfo> =
                waiting.iter().filter(|q| !st.offers.contains_key(&q.id)).cloned().collect();
            let lapsed = st.lapsed.clone();
            let planned = hive::plan_offers(&unoffered, &agent_states, now, &busy, |q| {
                lapsed.get(&q).cloned().unwrap_or_default()
            });
            for o in &planned {
                st.offers
                    .insert(o.question, LiveOffer { agent: o.agent, expires_at: now.saturating_add(self.offer_ms) });
            }
            let breaches: Vec<i64> =
                waiting.iter().filter(|q| q.sla_due_at <= now && st.breached.insert(q.id)).map(|q| q.id).collect();
            (planned, breaches)
        };
        let mut signals: Vec<(&str, i64, serde_json::Value)> = planned
            .iter()
            .map(|o| {
                let extra = serde_json::json!({
                    "to": handles.get(&o.agent),
                    "tier": o.tier.as_str(),
                    "expires_at": now.saturating_add(self.offer_ms),
                });
                (event_kind::QUESTION_OFFERED, o.question, extra)
            })
            .collect();
        signals.extend(breaches.into_iter().map(|qid| (event_kind::QUESTION_BREACHED, qid, serde_json::json!({}))));
        app.store.signal(&signals, now).await?;
        Ok(planned.len())
    }

    /// Pull: claims the best question for `agent` (its own follow-ups first, then the most
    /// urgent it may take, preferring what was offered to it). Tries the next best when a
    /// colleague claims the first choice in the meantime.
    pub async fn next(&self, app: &AppState, agent: &Agent) -> Result<Option<Question>> {
        // `None` must mean "nothing for you", not "someone was faster": each round claims the
        // first still-free question of the caller's ranking in one transaction, and a new round
        // (a fresh picture) is needed only when others took every candidate meanwhile, which
        // means the queue moved on. The bound only stops a pathological loop.
        for _ in 0..50 {
            let now = app.now();
            let (agents, questions) = app.store.routing_snapshot().await?;
            let Some(me) = agents.iter().find(|a| a.id == agent.id) else { return Ok(None) };
            let mut me = self.catalog.agent(me);
            // Pulling is asking for work: treat the caller as online even if its status says away.
            me.online = true;
            let mut waiting: Vec<QuestionInfo> = questions.iter().map(|q| self.catalog.question(q)).collect();
            {
                // Offered to someone else: leave it to them while the offer lasts.
                let st = self.lock();
                waiting.retain(|q| st.offers.get(&q.id).is_none_or(|o| o.agent == agent.id || o.expires_at <= now));
            }
            let mut ranked = hive::ranked_questions(&me, &waiting, now);
            {
                // What the router offered the caller comes first: that is where it is expected.
                let st = self.lock();
                ranked.sort_by_key(|q| st.offers.get(&q.id).is_none_or(|o| o.agent != agent.id));
            }
            let ranked: Vec<i64> = ranked.into_iter().take(PULL_CANDIDATES).map(|q| q.id).collect();
            if ranked.is_empty() {
                return Ok(None);
            }
            if let Some(q) = app.store.claim_first(&ranked, agent, app.lease_ms(), now).await? {
                self.lock().offers.remove(&q.id);
                return Ok(Some(q));
            }
        }
        Ok(None)
    }
}
