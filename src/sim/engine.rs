//! The discrete-event loop in virtual time. It owns the world's state (agents as the routing core
//! sees them, messages and their fate) and asks a policy to decide; it applies the decisions,
//! counts what the policy must never do (over capacity, offline, one question given twice) rather
//! than trusting it, and measures each decision's wall time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::model::Millis;
use crate::routing::hive::{AgentState, FunctionId, Tier, TopicId};

use super::workload::{DAY, FollowUpDraw, MINUTE, NEVER, Workload};

/// A customer message waiting for an answer: a new question or a follow-up.
#[derive(Debug, Clone)]
pub struct Msg {
    pub at: Millis,
    /// The topic and function routing sees: the classifier's, right or wrong.
    pub topic: TopicId,
    pub function: FunctionId,
    /// What the customer needs: how well the agent who takes it fits, hence how long it takes.
    pub true_topic: TopicId,
    pub true_function: FunctionId,
    /// Handling time on a primary skill.
    pub handle: Millis,
    pub give_up_at: Millis,
    pub previous_agent: Option<u32>,
    /// For a new question: the follow-up its answer will bring.
    pub followup: Option<FollowUpDraw>,
    pub is_followup: bool,
    /// Arrived after the warm-up (a follow-up inherits its question's).
    pub measured: bool,
    pub first_assigned: Option<Millis>,
    pub first_answer: Option<Millis>,
    pub answered_by: Option<u32>,
    pub tier: Option<Tier>,
    /// Agents working on it right now (more than one only under broadcast).
    pub handlers: u16,
    pub abandoned: bool,
}

/// What a policy may look at: the same state the server would hand the routing core.
pub(crate) struct World<'a> {
    pub agents: &'a [AgentState],
    pub msgs: &'a [Msg],
}

/// Timers a policy asks for: (when, token); the token comes back through `Policy::wake`.
pub(crate) type Timers = Vec<(Millis, u32)>;

/// A routing policy. Exclusive policies give each message to one agent; the engine still checks.
pub(crate) trait Policy: Send {
    /// Every slot takes every message at on-skill speed (the pooled oracle).
    fn pooled(&self) -> bool {
        false
    }
    /// Whether the policy routes on the classifier's topic. One that does not (the skill-blind
    /// policies, and broadcast, where people read the question themselves) sees every
    /// question's real topic, so classification errors cannot touch it.
    fn reads_topics(&self) -> bool {
        true
    }
    /// A message starts waiting: the agent to give it to now, or `None` to keep it.
    fn arrive(&mut self, w: &World, q: u32, now: Millis, timers: &mut Timers) -> Option<u32>;
    /// Agent `a` has room (it finished something or came online): the message it takes next.
    fn pull(&mut self, w: &World, a: u32, now: Millis, timers: &mut Timers) -> Option<u32>;
    /// A timer the policy set has fired: a (message, agent) to assign, if any.
    fn wake(&mut self, _w: &World, _token: u32, _now: Millis, _timers: &mut Timers) -> Option<(u32, u32)> {
        None
    }
    /// The message got its first answer.
    fn answered(&mut self, _q: u32) {}
    /// The customer gave up waiting for the message to be taken.
    fn gone(&mut self, _q: u32) {}
    /// Agent `a` finished working on message `q`.
    fn finished(&mut self, _a: u32, _q: u32) {}
    /// Agent `a` logged on or off.
    fn online_changed(&mut self, _w: &World, _a: u32) {}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Arrive(u32),
    FollowUp(u32),
    Done(u32, u32),
    /// Agent, message: a misrouted question goes back to the queue, topic corrected.
    HandOff(u32, u32),
    GiveUp(u32),
    Shift(u32),
    Wake(u32),
}

/// Slot time worked and offered per agent, within the measured window.
#[derive(Debug, Clone, Copy, Default)]
struct Acct {
    last: Millis,
    busy: f64,
    avail: f64,
}

/// The deterministic results of one policy's run: equal for equal seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    pub policy: String,
    /// Measured new questions (arrived after the warm-up).
    pub questions: u64,
    pub answered: u64,
    pub abandoned: u64,
    /// Neither answered nor given up when the run stopped.
    pub unresolved: u64,
    /// First response (arrival to first answer delivered) of answered questions, minutes.
    pub mean_min: f64,
    pub median_min: f64,
    pub p90_min: f64,
    pub p99_min: f64,
    /// Answered within 15 / 60 minutes, as a share of all measured questions.
    pub within_15: f64,
    pub within_60: f64,
    /// Arrival to first assignment (an agent starts): the queueing part, minutes.
    pub wait_mean_min: f64,
    /// Share of assigned questions that waited at all.
    pub waited_share: f64,
    pub wait_p90_min: f64,
    /// Answers delivered after the first (broadcast only, by construction).
    pub duplicates: u64,
    /// Assignments of a message someone was already working on or that was already settled.
    pub double_assigned: u64,
    /// First answers to measured questions by fit: primary, secondary, function, other.
    pub tiers: [u64; 4],
    pub followups: u64,
    pub followups_answered: u64,
    pub followups_abandoned: u64,
    pub followup_mean_min: f64,
    /// Share of answered follow-ups answered by the agent who answered the question.
    pub followup_sticky: f64,
    /// Per function: mean occupancy (busy slot time over online slot time) and Jain's index of it.
    pub occupancy: Vec<f64>,
    pub jain: Vec<f64>,
    /// Assignments to an offline or full agent.
    pub capacity_violations: u64,
    pub max_waiting: u64,
    /// Per burst: minutes after its end until its topic is back on the 15-minute target.
    pub recovery_min: Vec<Option<f64>>,
    /// Hand-offs of measured new questions: misrouted, taken by an agent who could not answer
    /// them, passed on.
    pub handoffs: u64,
}

/// Wall-clock measurements: vary between runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    pub decisions: u64,
    pub decision_p50_us: f64,
    pub decision_p99_us: f64,
    pub decision_max_us: f64,
    pub wall_s: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub stats: Stats,
    pub timing: Timing,
}

pub(crate) struct Engine<'w> {
    work: &'w Workload,
    agents: Vec<AgentState>,
    acct: Vec<Acct>,
    msgs: Vec<Msg>,
    heap: BinaryHeap<Reverse<(Millis, u64, Ev)>>,
    seq: u64,
    timers: Timers,
    rng: StdRng,
    pooled: bool,
    decision_ns: Vec<u32>,
    // Counters the loop stops on.
    next_arrival: usize,
    followups_pending: u64,
    open: u64,
    handling: u64,
    waiting_now: u64,
    // Counters reported.
    max_waiting: u64,
    duplicates: u64,
    double_assigned: u64,
    violations: u64,
    handoffs: u64,
}

impl<'w> Engine<'w> {
    pub(crate) fn new(work: &'w Workload, seed: u64, pooled: bool) -> Engine<'w> {
        let agents = work
            .employees
            .iter()
            .enumerate()
            .map(|(i, e)| AgentState {
                id: i as i64,
                function: e.function,
                skills: e.skills.clone(),
                capacity: e.capacity,
                holding: 0,
                online: e.shift.is_none_or(|s| s.online_at(0)),
                novice: e.novice,
                idle_since: 0,
            })
            .collect::<Vec<_>>();
        Engine {
            work,
            acct: vec![Acct::default(); agents.len()],
            agents,
            msgs: Vec::with_capacity(work.arrivals.len() * 3 / 2),
            heap: BinaryHeap::new(),
            seq: 0,
            timers: Vec::new(),
            rng: StdRng::seed_from_u64(seed ^ 0x454e_4749_4e45_0003),
            pooled,
            decision_ns: Vec::with_capacity(work.arrivals.len() * 3),
            next_arrival: 0,
            followups_pending: 0,
            open: 0,
            handling: 0,
            waiting_now: 0,
            max_waiting: 0,
            duplicates: 0,
            double_assigned: 0,
            violations: 0,
            handoffs: 0,
        }
    }

    fn push(&mut self, at: Millis, ev: Ev) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, ev)));
    }

    fn flush_timers(&mut self) {
        let timers = std::mem::take(&mut self.timers);
        for (at, token) in &timers {
            self.push(*at, Ev::Wake(*token));
        }
        self.timers = timers;
        self.timers.clear();
    }

    fn record(&mut self, started: Instant) {
        self.decision_ns.push(started.elapsed().as_nanos().min(u32::MAX as u128) as u32);
    }

    /// Accrues agent `a`'s slot time up to `now`, clipped to the measured window.
    fn touch(&mut self, a: usize, now: Millis) {
        let (lo, hi) = (self.acct[a].last.max(self.work.warmup), now.min(self.work.horizon));
        if hi > lo {
            let dt = (hi - lo) as f64;
            let ag = &self.agents[a];
            self.acct[a].busy += ag.holding as f64 * dt;
            if ag.online {
                self.acct[a].avail += ag.capacity as f64 * dt;
            }
        }
        self.acct[a].last = now;
    }

    pub(crate) fn run(mut self, policy: &mut dyn Policy) -> Outcome {
        let started = Instant::now();
        for (i, e) in self.work.employees.iter().enumerate() {
            if let Some(shift) = e.shift {
                self.push(shift.next_change(0), Ev::Shift(i as u32));
            }
        }
        for a in 0..self.agents.len() {
            self.fill(policy, a as u32, 0);
        }
        if let Some(first) = self.work.arrivals.first() {
            self.push(first.at, Ev::Arrive(0));
        }
        // Stuck queues (say, a topic nobody online knows, with patient customers) must not keep
        // the loop alive for ever.
        let stop_at = self.work.horizon + 2 * DAY;
        while let Some(Reverse((now, _, ev))) = self.heap.pop() {
            if now > stop_at {
                break;
            }
            match ev {
                Ev::Arrive(i) => self.arrive(policy, i as usize, now),
                Ev::FollowUp(parent) => self.follow_up(policy, parent, now),
                Ev::Done(a, q) => self.done(policy, a, q, now),
                Ev::HandOff(a, q) => self.hand_off(policy, a, q, now),
                Ev::GiveUp(q) => self.give_up(policy, q),
                Ev::Shift(a) => self.shift(policy, a, now),
                Ev::Wake(token) => {
                    let t0 = Instant::now();
                    let w = World { agents: &self.agents, msgs: &self.msgs };
                    let pick = policy.wake(&w, token, now, &mut self.timers);
                    self.record(t0);
                    self.flush_timers();
                    if let Some((q, a)) = pick {
                        self.assign(q, a, now);
                    }
                }
            }
            if self.next_arrival >= self.work.arrivals.len()
                && self.followups_pending == 0
                && self.open == 0
                && self.handling == 0
            {
                break;
            }
        }
        let end = self.work.horizon;
        for a in 0..self.agents.len() {
            self.touch(a, end);
        }
        let wall = started.elapsed().as_secs_f64();
        self.outcome(wall)
    }

    fn arrive(&mut self, policy: &mut dyn Policy, i: usize, now: Millis) {
        let mut arr = self.work.arrivals[i];
        if !policy.reads_topics() {
            arr.seen_topic = arr.topic;
        }
        self.next_arrival = i + 1;
        if let Some(next) = self.work.arrivals.get(i + 1) {
            self.push(next.at, Ev::Arrive(i as u32 + 1));
        }
        let msg = Msg {
            at: now,
            topic: arr.seen_topic,
            function: self.work.topics[arr.seen_topic as usize].function,
            true_topic: arr.topic,
            true_function: self.work.topics[arr.topic as usize].function,
            handle: arr.handle,
            give_up_at: if arr.patience == NEVER { NEVER } else { now.saturating_add(arr.patience) },
            previous_agent: None,
            followup: arr.followup,
            is_followup: false,
            measured: now >= self.work.warmup,
            first_assigned: None,
            first_answer: None,
            answered_by: None,
            tier: None,
            handlers: 0,
            abandoned: false,
        };
        self.enter(policy, msg, now);
    }

    fn follow_up(&mut self, policy: &mut dyn Policy, parent: u32, now: Millis) {
        self.followups_pending -= 1;
        let p = &self.msgs[parent as usize];
        let Some(draw) = p.followup else { return };
        let msg = Msg {
            at: now,
            topic: p.topic,
            function: p.function,
            true_topic: p.true_topic,
            true_function: p.true_function,
            handle: draw.handle,
            give_up_at: if draw.patience == NEVER { NEVER } else { now.saturating_add(draw.patience) },
            previous_agent: p.answered_by,
            followup: None,
            is_followup: true,
            measured: p.measured,
            first_assigned: None,
            first_answer: None,
            answered_by: None,
            tier: None,
            handlers: 0,
            abandoned: false,
        };
        self.enter(policy, msg, now);
    }

    fn enter(&mut self, policy: &mut dyn Policy, msg: Msg, now: Millis) {
        let q = self.msgs.len() as u32;
        if msg.give_up_at != NEVER {
            self.push(msg.give_up_at, Ev::GiveUp(q));
        }
        self.msgs.push(msg);
        self.open += 1;
        self.waiting_now += 1;
        self.max_waiting = self.max_waiting.max(self.waiting_now);
        let t0 = Instant::now();
        let w = World { agents: &self.agents, msgs: &self.msgs };
        let pick = policy.arrive(&w, q, now, &mut self.timers);
        self.record(t0);
        self.flush_timers();
        if let Some(a) = pick {
            self.assign(q, a, now);
        }
    }

    /// Lets agent `a` take messages while it has room and the policy has one for it.
    fn fill(&mut self, policy: &mut dyn Policy, a: u32, now: Millis) {
        while self.agents[a as usize].online && self.agents[a as usize].has_room() {
            let t0 = Instant::now();
            let w = World { agents: &self.agents, msgs: &self.msgs };
            let pick = policy.pull(&w, a, now, &mut self.timers);
            self.record(t0);
            self.flush_timers();
            match pick {
                Some(q) => self.assign(q, a, now),
                None => break,
            }
        }
    }

    fn assign(&mut self, q: u32, a: u32, now: Millis) {
        let (qi, ai) = (q as usize, a as usize);
        if !self.agents[ai].online || !self.agents[ai].has_room() {
            self.violations += 1;
        }
        let m = &self.msgs[qi];
        if m.handlers > 0 || m.first_answer.is_some() || m.abandoned {
            self.double_assigned += 1;
        }
        let tier = self.agents[ai].tier(m.true_topic, m.true_function);
        let first = m.first_assigned.is_none();
        // Waiting until now: nobody on it, nobody answered it (a handed-on question waits again).
        let was_waiting = m.handlers == 0 && m.first_answer.is_none();
        let (took, ev) = if !self.pooled && m.topic != m.true_topic && tier == Tier::Everyone {
            // Misrouted to someone who can neither answer it well nor is in its function: they
            // hand it on rather than write a poor answer slowly.
            let triage = (self.work.scenario.handoff_minutes * MINUTE as f64).round() as Millis;
            (triage, Ev::HandOff(a, q))
        } else {
            // A second writer of the same answer (broadcast) takes a time of their own.
            let base = if was_waiting { m.handle } else { self.work.scenario.sample_handle(&mut self.rng) };
            let factor = if self.pooled { 1.0 } else { self.work.slowdown(tier) };
            ((base as f64 * factor).round() as Millis, Ev::Done(a, q))
        };
        let m = &mut self.msgs[qi];
        m.handlers += 1;
        if first {
            m.first_assigned = Some(now);
        }
        if was_waiting {
            self.waiting_now -= 1;
        }
        self.touch(ai, now);
        let ag = &mut self.agents[ai];
        ag.holding = ag.holding.saturating_add(1);
        ag.idle_since = now;
        self.handling += 1;
        self.push(now + took.max(1), ev);
    }

    /// Agent `a` stops working on message `q`: a slot is free again.
    fn release(&mut self, policy: &mut dyn Policy, a: u32, q: u32, now: Millis) {
        let ai = a as usize;
        self.touch(ai, now);
        let ag = &mut self.agents[ai];
        ag.holding = ag.holding.saturating_sub(1);
        ag.idle_since = now;
        self.handling -= 1;
        policy.finished(a, q);
    }

    fn done(&mut self, policy: &mut dyn Policy, a: u32, q: u32, now: Millis) {
        let (qi, ai) = (q as usize, a as usize);
        self.release(policy, a, q, now);
        let tier = self.agents[ai].tier(self.msgs[qi].true_topic, self.msgs[qi].true_function);
        let m = &mut self.msgs[qi];
        m.handlers -= 1;
        if m.first_answer.is_none() {
            m.first_answer = Some(now);
            m.answered_by = Some(a);
            m.tier = Some(if self.pooled { Tier::Primary } else { tier });
            self.open -= 1;
            if let Some(d) = m.followup {
                self.followups_pending += 1;
                self.push(now + d.delay, Ev::FollowUp(q));
            }
            policy.answered(q);
        } else {
            self.duplicates += 1;
        }
        self.fill(policy, a, now);
    }

    /// A misrouted question comes back from the agent who could not answer it, with its topic
    /// corrected, and waits again for the right people.
    fn hand_off(&mut self, policy: &mut dyn Policy, a: u32, q: u32, now: Millis) {
        let qi = q as usize;
        self.release(policy, a, q, now);
        let m = &mut self.msgs[qi];
        // Counted like the other figures: new questions after the warm-up.
        self.handoffs += (m.measured && !m.is_followup) as u64;
        m.handlers -= 1;
        m.topic = m.true_topic;
        m.function = m.true_function;
        self.waiting_now += 1;
        let t0 = Instant::now();
        let w = World { agents: &self.agents, msgs: &self.msgs };
        let pick = policy.arrive(&w, q, now, &mut self.timers);
        self.record(t0);
        self.flush_timers();
        if let Some(b) = pick {
            self.assign(q, b, now);
        }
        self.fill(policy, a, now);
    }

    /// The customer's patience ran out. Only a customer still in the queue leaves: once someone
    /// is writing, the answer arrives (the Erlang A convention; counting customers who leave
    /// mid-answer would charge every policy, the oracle too, for P(patience < handling time)).
    fn give_up(&mut self, policy: &mut dyn Policy, q: u32) {
        let m = &mut self.msgs[q as usize];
        if m.first_assigned.is_some() || m.abandoned {
            return;
        }
        m.abandoned = true;
        self.waiting_now -= 1;
        self.open -= 1;
        policy.gone(q);
    }

    fn shift(&mut self, policy: &mut dyn Policy, a: u32, now: Millis) {
        let ai = a as usize;
        let Some(shift) = self.work.employees[ai].shift else { return };
        self.touch(ai, now);
        let online = shift.online_at(now);
        self.agents[ai].online = online;
        if online {
            self.agents[ai].idle_since = now;
        }
        let w = World { agents: &self.agents, msgs: &self.msgs };
        policy.online_changed(&w, a);
        if online {
            self.fill(policy, a, now);
        }
        self.push(shift.next_change(now), Ev::Shift(a));
    }

    fn outcome(self, wall_s: f64) -> Outcome {
        let work = self.work;
        let mut responses = Vec::new();
        let mut waits = Vec::new();
        let mut fu_responses = Vec::new();
        let (mut questions, mut abandoned, mut unresolved, mut within_15, mut within_60) =
            (0u64, 0u64, 0u64, 0u64, 0u64);
        let (mut followups, mut fu_abandoned, mut fu_sticky) = (0u64, 0u64, 0u64);
        let mut tiers = [0u64; 4];
        for m in self.msgs.iter().filter(|m| m.measured) {
            if m.is_followup {
                followups += 1;
                if let Some(t) = m.first_answer {
                    fu_responses.push(t - m.at);
                    fu_sticky += (m.answered_by.is_some() && m.answered_by == m.previous_agent) as u64;
                } else if m.abandoned {
                    fu_abandoned += 1;
                }
                continue;
            }
            questions += 1;
            if let Some(s) = m.first_assigned {
                waits.push(s - m.at);
            }
            match m.first_answer {
                Some(t) => {
                    let r = t - m.at;
                    responses.push(r);
                    within_15 += (r <= 15 * MINUTE) as u64;
                    within_60 += (r <= 60 * MINUTE) as u64;
                    let i = match m.tier {
                        Some(Tier::Primary) | None => 0,
                        Some(Tier::Secondary) => 1,
                        Some(Tier::Function) => 2,
                        Some(Tier::Everyone) => 3,
                    };
                    tiers[i] += 1;
                }
                None if m.abandoned => abandoned += 1,
                None => unresolved += 1,
            }
        }
        let share = |n: u64, d: u64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
        let minutes = |ms: f64| ms / MINUTE as f64;
        responses.sort_unstable();
        waits.sort_unstable();
        let waited = waits.iter().filter(|w| **w > 0).count() as u64;

        let nf = work.functions().len();
        let mut occ: Vec<Vec<f64>> = vec![Vec::new(); nf];
        for (a, acct) in self.acct.iter().enumerate() {
            if acct.avail > 0.0 {
                occ[self.agents[a].function as usize].push(acct.busy / acct.avail);
            }
        }
        let occupancy = occ.iter().map(|xs| mean(xs)).collect();
        let jain = occ.iter().map(|xs| jain_index(xs)).collect();

        let recovery_min = work.bursts.iter().map(|b| recovery(&self.msgs, b.topic, b.end)).collect();

        let mut ns = self.decision_ns;
        let decisions = ns.len() as u64;
        let (p50, p99, max) =
            (percentile_u32(&mut ns, 0.5), percentile_u32(&mut ns, 0.99), ns.iter().copied().max().unwrap_or(0));
        Outcome {
            stats: Stats {
                policy: String::new(),
                questions,
                answered: responses.len() as u64,
                abandoned,
                unresolved,
                mean_min: minutes(mean_i64(&responses)),
                median_min: minutes(percentile_sorted(&responses, 0.5)),
                p90_min: minutes(percentile_sorted(&responses, 0.9)),
                p99_min: minutes(percentile_sorted(&responses, 0.99)),
                within_15: share(within_15, questions),
                within_60: share(within_60, questions),
                wait_mean_min: minutes(mean_i64(&waits)),
                waited_share: share(waited, waits.len() as u64),
                wait_p90_min: minutes(percentile_sorted(&waits, 0.9)),
                duplicates: self.duplicates,
                double_assigned: self.double_assigned,
                tiers,
                followups,
                followups_answered: fu_responses.len() as u64,
                followups_abandoned: fu_abandoned,
                followup_mean_min: minutes(mean_i64(&fu_responses)),
                followup_sticky: share(fu_sticky, fu_responses.len() as u64),
                occupancy,
                jain,
                capacity_violations: self.violations,
                max_waiting: self.max_waiting,
                recovery_min,
                handoffs: self.handoffs,
            },
            timing: Timing {
                decisions,
                decision_p50_us: p50 as f64 / 1000.0,
                decision_p99_us: p99 as f64 / 1000.0,
                decision_max_us: max as f64 / 1000.0,
                wall_s,
            },
        }
    }
}

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() { 0.0 } else { xs.iter().sum::<f64>() / xs.len() as f64 }
}

fn mean_i64(xs: &[Millis]) -> f64 {
    if xs.is_empty() { 0.0 } else { xs.iter().map(|x| *x as f64).sum::<f64>() / xs.len() as f64 }
}

/// Nearest-rank percentile of sorted values (0 for none).
fn percentile_sorted(xs: &[Millis], p: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let rank = ((p * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    xs[rank - 1] as f64
}

fn percentile_u32(xs: &mut [u32], p: f64) -> u32 {
    if xs.is_empty() {
        return 0;
    }
    let rank = ((p * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    *xs.select_nth_unstable(rank - 1).1
}

/// Jain's fairness index (Σx)²/(n·Σx²): 1 when everyone is equally busy, 1/n when one does all.
pub fn jain_index(xs: &[f64]) -> f64 {
    let sq: f64 = xs.iter().map(|x| x * x).sum();
    if xs.is_empty() || sq == 0.0 {
        return 1.0;
    }
    let s: f64 = xs.iter().sum();
    s * s / (xs.len() as f64 * sq)
}

/// Minutes after `end` until the topic is back on target: the first 5-minute mark from which
/// every 30-minute window of arrivals on the topic over the next hour has at least 90 % answered
/// within 15 minutes. `None` if that does not happen within a day.
fn recovery(msgs: &[Msg], topic: TopicId, end: Millis) -> Option<f64> {
    const STEP: Millis = 5 * MINUTE;
    const STEPS: usize = (DAY / STEP) as usize;
    // Per 5-minute bucket: (questions, on target).
    let mut buckets = vec![(0u32, 0u32); STEPS + 18];
    for m in msgs.iter().filter(|m| !m.is_followup && m.measured && m.true_topic == topic && m.at >= end) {
        let b = ((m.at - end) / STEP) as usize;
        if let Some(slot) = buckets.get_mut(b) {
            slot.0 += 1;
            slot.1 += m.first_answer.is_some_and(|t| t - m.at <= 15 * MINUTE) as u32;
        }
    }
    let window_ok = |k: usize| {
        let (n, ok) = buckets[k..k + 6].iter().fold((0, 0), |(n, ok), (bn, bok)| (n + bn, ok + bok));
        n == 0 || ok as f64 >= 0.9 * n as f64
    };
    (0..STEPS).find(|k| (*k..=k + 6).all(window_ok)).map(|k| (k as Millis * STEP) as f64 / MINUTE as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jain_is_one_for_equal_and_one_over_n_for_one() {
        assert!((jain_index(&[0.5, 0.5, 0.5]) - 1.0).abs() < 1e-12);
        assert!((jain_index(&[1.0, 0.0, 0.0, 0.0]) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let xs: Vec<Millis> = (1..=100).collect();
        assert_eq!(percentile_sorted(&xs, 0.5), 50.0);
        assert_eq!(percentile_sorted(&xs, 0.99), 99.0);
        assert_eq!(percentile_sorted(&[], 0.5), 0.0);
        let mut ns = vec![5, 1, 3];
        assert_eq!(percentile_u32(&mut ns, 0.5), 3);
    }
}
