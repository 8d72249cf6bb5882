//! The routing policies compared on one sample path. `helphive` is the project's routing core
//! (`routing::hive`) called as the server would call it; the others are the usual alternatives a
//! social-care team uses, plus a pooled oracle that no real team can reach (every slot takes every
//! question at on-skill speed, first come first served).

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::model::Millis;
use crate::routing::hive::{self, AgentState, QuestionInfo, Scarcity, TopicId};

use super::engine::{Policy, Timers, World};
use super::workload::{Workload, exponential};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    Broadcast,
    Random,
    RoundRobin,
    LeastLoaded,
    LongestIdle,
    Helphive,
    Oracle,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 7] = [
        PolicyKind::Broadcast,
        PolicyKind::Random,
        PolicyKind::RoundRobin,
        PolicyKind::LeastLoaded,
        PolicyKind::LongestIdle,
        PolicyKind::Helphive,
        PolicyKind::Oracle,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Broadcast => "broadcast",
            PolicyKind::Random => "random",
            PolicyKind::RoundRobin => "round-robin",
            PolicyKind::LeastLoaded => "least-loaded",
            PolicyKind::LongestIdle => "longest-idle",
            PolicyKind::Helphive => "helphive",
            PolicyKind::Oracle => "oracle",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            PolicyKind::Broadcast => {
                "Twelpforce-style: everyone sees every question; an employee with room looks after a random delay and answers an open one, preferring their own skills; duplicates possible"
            }
            PolicyKind::Random => {
                "a random online employee with room, whatever the skill; else the shared queue, oldest first"
            }
            PolicyKind::RoundRobin => {
                "the next online employee with room in a fixed rotation, whatever the skill; else the shared queue"
            }
            PolicyKind::LeastLoaded => {
                "the online employee with the lowest share of capacity in use, whatever the skill; else the shared queue"
            }
            PolicyKind::LongestIdle => {
                "the employee idle longest among those with the topic as a skill (any level); else the topic's queue, oldest first; never widens"
            }
            PolicyKind::Helphive => {
                "the routing core: best_agent on arrival, best_question on a free slot, re-routed as eligibility widens"
            }
            PolicyKind::Oracle => {
                "pooled bound: every slot takes every question at on-skill speed, first come first served"
            }
        }
    }

    pub fn parse(name: &str) -> Option<PolicyKind> {
        let n = name.trim().to_ascii_lowercase().replace('_', "-");
        PolicyKind::ALL.into_iter().find(|k| k.name() == n || (n == "twelpforce" && *k == PolicyKind::Broadcast))
    }
}

pub(crate) fn make(kind: PolicyKind, work: &Workload, seed: u64) -> Box<dyn Policy> {
    // Each policy's own dice, apart from the workload's and from each other's.
    let rng = StdRng::seed_from_u64(seed ^ (0x504f_4c49_4359_0000 + kind as u64));
    match kind {
        PolicyKind::Broadcast => Box::new(Broadcast::new(work, rng)),
        PolicyKind::Random => {
            Box::new(Shared { pick: Pick::Random(Box::new(rng)), queue: VecDeque::new(), pooled: false })
        }
        PolicyKind::RoundRobin => Box::new(Shared { pick: Pick::Rotation(0), queue: VecDeque::new(), pooled: false }),
        PolicyKind::LeastLoaded => Box::new(Shared { pick: Pick::LeastLoaded, queue: VecDeque::new(), pooled: false }),
        PolicyKind::LongestIdle => Box::new(LongestIdle::new(work)),
        PolicyKind::Helphive => Box::new(Helphive::new(work)),
        PolicyKind::Oracle => Box::new(Shared { pick: Pick::Rotation(0), queue: VecDeque::new(), pooled: true }),
    }
}

fn free(a: &AgentState) -> bool {
    a.online && a.has_room()
}

/// Pops the oldest message still waiting: customers who gave up stay in the queue until they
/// reach its head (cheaper than removing them from the middle).
fn pop_live(queue: &mut VecDeque<u32>, w: &World) -> Option<u32> {
    while let Some(q) = queue.pop_front() {
        if !w.msgs[q as usize].abandoned {
            return Some(q);
        }
    }
    None
}

enum Pick {
    Random(Box<StdRng>),
    Rotation(usize),
    LeastLoaded,
}

/// Skill-blind policies with one shared queue: how a team inbox with auto-assignment works.
struct Shared {
    pick: Pick,
    queue: VecDeque<u32>,
    pooled: bool,
}

impl Policy for Shared {
    fn pooled(&self) -> bool {
        self.pooled
    }

    fn reads_topics(&self) -> bool {
        false
    }

    fn arrive(&mut self, w: &World, q: u32, _now: Millis, _timers: &mut Timers) -> Option<u32> {
        let n = w.agents.len();
        let chosen = match &mut self.pick {
            Pick::Random(rng) => {
                let count = w.agents.iter().filter(|a| free(a)).count();
                if count == 0 {
                    None
                } else {
                    let k = rng.random_range(0..count);
                    w.agents.iter().enumerate().filter(|(_, a)| free(a)).nth(k).map(|(i, _)| i)
                }
            }
            Pick::Rotation(next) => {
                let found = (0..n).map(|k| (*next + k) % n).find(|i| free(&w.agents[*i]));
                if let Some(i) = found {
                    *next = i + 1;
                }
                found
            }
            Pick::LeastLoaded => w
                .agents
                .iter()
                .enumerate()
                .filter(|(_, a)| free(a))
                .min_by(|(i, a), (j, b)| {
                    // holding/capacity compared without division; then longest idle.
                    (a.holding as u32 * b.capacity as u32)
                        .cmp(&(b.holding as u32 * a.capacity as u32))
                        .then(a.idle_since.cmp(&b.idle_since))
                        .then(i.cmp(j))
                })
                .map(|(i, _)| i),
        };
        if chosen.is_none() {
            self.queue.push_back(q);
        }
        chosen.map(|i| i as u32)
    }

    fn pull(&mut self, w: &World, _a: u32, _now: Millis, _timers: &mut Timers) -> Option<u32> {
        pop_live(&mut self.queue, w)
    }
}

/// Longest idle within skill: classic skills-based routing with one queue per topic.
struct LongestIdle {
    skilled: Vec<Vec<u32>>,
    skills_of: Vec<Vec<TopicId>>,
    queues: Vec<VecDeque<u32>>,
}

impl LongestIdle {
    fn new(work: &Workload) -> LongestIdle {
        let mut skilled = vec![Vec::new(); work.topics.len()];
        for (i, e) in work.employees.iter().enumerate() {
            for (t, _) in &e.skills {
                skilled[*t as usize].push(i as u32);
            }
        }
        LongestIdle {
            skilled,
            skills_of: work.employees.iter().map(|e| e.skills.iter().map(|(t, _)| *t).collect()).collect(),
            queues: vec![VecDeque::new(); work.topics.len()],
        }
    }
}

impl Policy for LongestIdle {
    fn arrive(&mut self, w: &World, q: u32, _now: Millis, _timers: &mut Timers) -> Option<u32> {
        let topic = w.msgs[q as usize].topic as usize;
        let best = self.skilled[topic]
            .iter()
            .copied()
            .filter(|i| free(&w.agents[*i as usize]))
            .min_by_key(|i| (w.agents[*i as usize].idle_since, *i));
        if best.is_none() {
            self.queues[topic].push_back(q);
        }
        best
    }

    fn pull(&mut self, w: &World, a: u32, _now: Millis, _timers: &mut Timers) -> Option<u32> {
        // The oldest head among the agent's topics.
        let mut best: Option<(Millis, u32, usize)> = None;
        for t in &self.skills_of[a as usize] {
            let queue = &mut self.queues[*t as usize];
            while queue.front().is_some_and(|q| w.msgs[*q as usize].abandoned) {
                queue.pop_front();
            }
            if let Some(q) = queue.front() {
                let key = (w.msgs[*q as usize].at, *q, *t as usize);
                if best.is_none_or(|b| (key.0, key.1) < (b.0, b.1)) {
                    best = Some(key);
                }
            }
        }
        best.and_then(|(_, _, t)| self.queues[t].pop_front())
    }
}

/// The project's routing core. Arrivals go to `best_agent`; a freed slot asks `best_question`
/// over every waiting question; when a waiting question's eligibility widens (half, three
/// quarters and all of its target time gone) it is offered again, since otherwise nothing would
/// wake the agents it has just become eligible for. Offers are taken at once (no lapses).
struct Helphive {
    waiting: Vec<QuestionInfo>,
    /// Position in `waiting` by message id (`u32::MAX`: not waiting).
    pos: Vec<u32>,
    waiting_per_topic: Vec<u32>,
    scarcity: Scarcity,
    /// Scarcity depends only on who is online and which topics have questions waiting, so it is
    /// recomputed (with the core's own `Scarcity::compute`) only when one of those changes.
    stale: bool,
    sla: Millis,
}

const NOT_WAITING: u32 = u32::MAX;

impl Helphive {
    fn new(work: &Workload) -> Helphive {
        Helphive {
            waiting: Vec::new(),
            pos: Vec::new(),
            waiting_per_topic: vec![0; work.topics.len()],
            scarcity: Scarcity::default(),
            stale: true,
            sla: work.sla,
        }
    }

    fn info(&self, w: &World, q: u32) -> QuestionInfo {
        let m = &w.msgs[q as usize];
        QuestionInfo {
            id: q as i64,
            topic: m.topic,
            function: m.function,
            waiting_since: m.at,
            sla_due_at: m.at + self.sla,
            priority: 0,
            previous_agent: m.previous_agent.map(|a| a as i64),
            unsure: false,
        }
    }

    fn refresh(&mut self, w: &World) {
        if self.stale {
            self.scarcity = Scarcity::compute(w.agents, &self.waiting_per_topic);
            self.stale = false;
        }
    }

    fn insert(&mut self, info: QuestionInfo) {
        let q = info.id as usize;
        if self.pos.len() <= q {
            self.pos.resize(q + 1, NOT_WAITING);
        }
        let count = &mut self.waiting_per_topic[info.topic as usize];
        *count += 1;
        self.stale |= *count == 1;
        self.pos[q] = self.waiting.len() as u32;
        self.waiting.push(info);
    }

    fn remove(&mut self, q: u32) -> bool {
        let Some(&p) = self.pos.get(q as usize) else { return false };
        if p == NOT_WAITING {
            return false;
        }
        let info = self.waiting.swap_remove(p as usize);
        self.pos[q as usize] = NOT_WAITING;
        if let Some(moved) = self.waiting.get(p as usize) {
            self.pos[moved.id as usize] = p;
        }
        let count = &mut self.waiting_per_topic[info.topic as usize];
        *count -= 1;
        self.stale |= *count == 0;
        true
    }
}

impl Policy for Helphive {
    fn arrive(&mut self, w: &World, q: u32, now: Millis, timers: &mut Timers) -> Option<u32> {
        self.refresh(w);
        let info = self.info(w, q);
        if let Some((i, _)) = hive::best_agent(&info, w.agents, now, &self.scarcity, &[]) {
            return Some(i as u32);
        }
        let (due, target) = (info.sla_due_at, info.sla_due_at - info.waiting_since);
        // The instants `allowed_tier` widens at: left·2 ≤ target, left·4 ≤ target, left ≤ 0.
        for at in [due - target / 2, due - target / 4, due] {
            if at > now {
                timers.push((at, q));
            }
        }
        self.insert(info);
        None
    }

    fn pull(&mut self, w: &World, a: u32, now: Millis, _timers: &mut Timers) -> Option<u32> {
        let q = hive::best_question(&w.agents[a as usize], &self.waiting, now).map(|(q, _)| q.id as u32)?;
        self.remove(q);
        Some(q)
    }

    fn wake(&mut self, w: &World, q: u32, now: Millis, _timers: &mut Timers) -> Option<(u32, u32)> {
        let p = *self.pos.get(q as usize)?;
        if p == NOT_WAITING {
            return None;
        }
        self.refresh(w);
        let (i, _) = hive::best_agent(&self.waiting[p as usize], w.agents, now, &self.scarcity, &[])?;
        self.remove(q);
        Some((q, i as u32))
    }

    fn gone(&mut self, q: u32) {
        self.remove(q);
    }

    fn online_changed(&mut self, _w: &World, _a: u32) {
        self.stale = true;
    }
}

/// Twelpforce-style broadcast: no routing at all. Every open question is visible to everyone;
/// an employee with room glances at the stream after an exponential delay and takes an open
/// question at random, from their own skills if any, else their function's topics, else any.
/// "Open" means no answer has been posted yet: others already writing one are invisible, which
/// is where duplicates come from.
struct Broadcast {
    rng: StdRng,
    notice_ms: f64,
    open: Vec<Vec<u32>>,
    /// Position in its topic's `open` list, and the topic, by message id.
    pos: Vec<(u32, TopicId)>,
    pending: Vec<bool>,
    skill_topics: Vec<Vec<TopicId>>,
    function_topics: Vec<Vec<TopicId>>,
    all_topics: Vec<TopicId>,
    /// What each agent is writing right now, so nobody answers the same question twice.
    writing: Vec<Vec<u32>>,
}

impl Broadcast {
    fn new(work: &Workload, rng: StdRng) -> Broadcast {
        let topics_of_function =
            |f| work.topics.iter().enumerate().filter(|(_, t)| t.function == f).map(|(i, _)| i as TopicId).collect();
        Broadcast {
            rng,
            notice_ms: work.scenario.notice_minutes * super::workload::MINUTE as f64,
            open: vec![Vec::new(); work.topics.len()],
            pos: Vec::new(),
            pending: vec![false; work.employees.len()],
            skill_topics: work.employees.iter().map(|e| e.skills.iter().map(|(t, _)| *t).collect()).collect(),
            function_topics: work.employees.iter().map(|e| topics_of_function(e.function)).collect(),
            all_topics: (0..work.topics.len() as TopicId).collect(),
            writing: vec![Vec::new(); work.employees.len()],
        }
    }

    fn glance_later(&mut self, a: u32, now: Millis, timers: &mut Timers) {
        if !self.pending[a as usize] {
            self.pending[a as usize] = true;
            let delay = (exponential(&mut self.rng, self.notice_ms).round() as Millis).max(1);
            timers.push((now + delay, a));
        }
    }

    /// Takes `q` off the stream (answered or given up).
    fn close(&mut self, q: u32) {
        let Some(&(p, topic)) = self.pos.get(q as usize) else { return };
        if p == NOT_WAITING {
            return;
        }
        let list = &mut self.open[topic as usize];
        list.swap_remove(p as usize);
        if let Some(&moved) = list.get(p as usize) {
            self.pos[moved as usize].0 = p;
        }
        self.pos[q as usize].0 = NOT_WAITING;
    }

    /// A random open question among `topics`, if any.
    fn pick(&mut self, topics: &[TopicId]) -> Option<u32> {
        let total: usize = topics.iter().map(|t| self.open[*t as usize].len()).sum();
        if total == 0 {
            return None;
        }
        let mut k = self.rng.random_range(0..total);
        for t in topics {
            let list = &self.open[*t as usize];
            if k < list.len() {
                return Some(list[k]);
            }
            k -= list.len();
        }
        None
    }
}

impl Policy for Broadcast {
    fn reads_topics(&self) -> bool {
        false
    }

    fn arrive(&mut self, w: &World, q: u32, _now: Millis, _timers: &mut Timers) -> Option<u32> {
        let topic = w.msgs[q as usize].topic;
        if self.pos.len() <= q as usize {
            self.pos.resize(q as usize + 1, (NOT_WAITING, 0));
        }
        self.pos[q as usize] = (self.open[topic as usize].len() as u32, topic);
        self.open[topic as usize].push(q);
        None
    }

    fn pull(&mut self, _w: &World, a: u32, now: Millis, timers: &mut Timers) -> Option<u32> {
        self.glance_later(a, now, timers);
        None
    }

    fn wake(&mut self, w: &World, a: u32, now: Millis, timers: &mut Timers) -> Option<(u32, u32)> {
        let ai = a as usize;
        self.pending[ai] = false;
        let agent = &w.agents[ai];
        if !free(agent) {
            return None; // they look again once they have room (pull)
        }
        let skills = std::mem::take(&mut self.skill_topics[ai]);
        let mut pick = self.pick(&skills);
        self.skill_topics[ai] = skills;
        if pick.is_none() {
            let own = std::mem::take(&mut self.function_topics[ai]);
            pick = self.pick(&own);
            self.function_topics[ai] = own;
        }
        if pick.is_none() {
            let all = std::mem::take(&mut self.all_topics);
            pick = self.pick(&all);
            self.all_topics = all;
        }
        let pick = pick.filter(|q| !self.writing[ai].contains(q));
        let room_after = agent.capacity.saturating_sub(agent.holding) > pick.is_some() as u8;
        if room_after {
            self.glance_later(a, now, timers);
        }
        let q = pick?;
        self.writing[ai].push(q);
        Some((q, a))
    }

    fn answered(&mut self, q: u32) {
        self.close(q);
    }

    fn gone(&mut self, q: u32) {
        self.close(q);
    }

    fn finished(&mut self, a: u32, q: u32) {
        let list = &mut self.writing[a as usize];
        if let Some(i) = list.iter().position(|x| *x == q) {
            list.swap_remove(i);
        }
    }
}
