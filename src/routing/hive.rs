//! The hive's decisions: who may get a question, how good a match each agent is, which question
//! is most urgent, and how eligibility widens as a deadline nears. Pure functions over plain
//! data: the server, the demo and the simulator call the same code with their own clocks.
//!
//! Names are interned to small integers (`TopicId`, `FunctionId`) so one decision over thousands
//! of agents stays in the microseconds.

use crate::model::Millis;

pub type TopicId = u16;
pub type FunctionId = u16;
pub type AgentId = i64;
pub type QuestionId = i64;

/// The lowest proficiency that counts as a primary skill; below it a skill is secondary.
pub const PRIMARY_LEVEL: u8 = 3;

/// How well an agent fits a question, from best to widest. Eligibility widens through these as
/// the deadline nears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// The agent has the topic as a skill at level 3 or more.
    Primary,
    /// The agent has the topic at level 1 or 2.
    Secondary,
    /// The agent works in the topic's function, without the skill.
    Function,
    /// Anyone online.
    Everyone,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Primary => "primary",
            Tier::Secondary => "secondary",
            Tier::Function => "function",
            Tier::Everyone => "everyone",
        }
    }
}

/// What routing needs to know about an employee.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentState {
    pub id: AgentId,
    pub function: FunctionId,
    /// (topic, proficiency 1-5)
    pub skills: Vec<(TopicId, u8)>,
    pub capacity: u8,
    pub holding: u8,
    pub online: bool,
    pub novice: bool,
    /// When the agent last became free (or last got a question): longest idle goes first.
    pub idle_since: Millis,
}

impl AgentState {
    pub fn has_room(&self) -> bool {
        self.holding < self.capacity
    }

    pub fn proficiency(&self, topic: TopicId) -> u8 {
        self.skills.iter().find(|(t, _)| *t == topic).map_or(0, |(_, p)| *p)
    }

    /// The best tier at which this agent fits a question on `topic` of `function`.
    pub fn tier(&self, topic: TopicId, function: FunctionId) -> Tier {
        match self.proficiency(topic) {
            p if p >= PRIMARY_LEVEL => Tier::Primary,
            p if p > 0 => Tier::Secondary,
            _ if self.function == function => Tier::Function,
            _ => Tier::Everyone,
        }
    }
}

/// What routing needs to know about a waiting question.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionInfo {
    pub id: QuestionId,
    pub topic: TopicId,
    pub function: FunctionId,
    /// When the customer started waiting (the question, or an unanswered follow-up).
    pub waiting_since: Millis,
    pub sla_due_at: Millis,
    pub priority: i32,
    /// The agent who answered this customer before: follow-ups stick to them when online.
    pub previous_agent: Option<AgentId>,
    /// The topic model was unsure of the topic: offered to the whole hive at once, since the
    /// topic's experts may be the wrong people.
    pub unsure: bool,
}

impl QuestionInfo {
    /// The widest tier allowed now: only primary skills while more than half the target time is
    /// left, then secondary skills, then the whole function in the last quarter, then everyone
    /// once the deadline has passed. An unsure question: everyone at once.
    pub fn allowed_tier(&self, now: Millis) -> Tier {
        if self.unsure {
            return Tier::Everyone;
        }
        let target = (self.sla_due_at - self.waiting_since).max(1);
        let left = self.sla_due_at - now;
        if left * 2 > target {
            Tier::Primary
        } else if left * 4 > target {
            Tier::Secondary
        } else if left > 0 {
            Tier::Function
        } else {
            Tier::Everyone
        }
    }

    /// Earliest deadline first, higher priority breaking ties, then arrival order.
    pub fn urgency_key(&self) -> (Millis, i32, QuestionId) {
        (self.sla_due_at, -self.priority, self.id)
    }
}

/// Topics whose skill few online agents have and that have questions waiting: agents holding
/// such a skill are kept for them. Indexed by topic; `true` = keep its experts free.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scarcity {
    pub protected: Vec<bool>,
}

impl Scarcity {
    /// A topic is scarce when at most `max(2, 5%)` of online agents have it as a primary skill,
    /// and questions on it wait.
    pub fn compute(agents: &[AgentState], waiting_per_topic: &[u32]) -> Scarcity {
        let online = agents.iter().filter(|a| a.online).count();
        let limit = (online / 20).max(2);
        let mut experts = vec![0usize; waiting_per_topic.len()];
        for a in agents.iter().filter(|a| a.online) {
            for (t, p) in &a.skills {
                if *p >= PRIMARY_LEVEL
                    && let Some(e) = experts.get_mut(*t as usize)
                {
                    *e += 1;
                }
            }
        }
        let protected = waiting_per_topic.iter().zip(&experts).map(|(w, e)| *w > 0 && *e <= limit).collect();
        Scarcity { protected }
    }

    fn is_protected(&self, topic: TopicId) -> bool {
        self.protected.get(topic as usize).copied().unwrap_or(false)
    }
}

/// Whether `agent` may be given `q` now, and at which tier.
pub fn eligible(agent: &AgentState, q: &QuestionInfo, now: Millis) -> Option<Tier> {
    if !agent.online || !agent.has_room() {
        return None;
    }
    let tier = agent.tier(q.topic, q.function);
    if agent.novice {
        // Novices get questions at or below their level: on their own skills only (whatever the
        // proficiency: that is what they train on), never widened, never urgent or overdue ones,
        // since what they answer still waits for a mentor.
        let calm = q.priority <= 0 && q.sla_due_at > now;
        return (tier <= Tier::Secondary && calm).then_some(tier);
    }
    if q.previous_agent == Some(agent.id) {
        return Some(tier); // the customer's agent may always take the follow-up
    }
    (tier <= q.allowed_tier(now)).then_some(tier)
}

/// How good a match `agent` is for `q` (higher is better). Only meaningful for eligible agents.
pub fn score(agent: &AgentState, q: &QuestionInfo, tier: Tier, now: Millis, scarcity: &Scarcity) -> f64 {
    let mut s = match tier {
        Tier::Primary => 300.0,
        Tier::Secondary => 200.0,
        Tier::Function => 100.0,
        Tier::Everyone => 0.0,
    };
    if q.previous_agent == Some(agent.id) {
        s += 1000.0; // follow-ups stick to the agent who answered
    }
    s += agent.proficiency(q.topic) as f64 * 10.0;
    // Spread the load: emptier agents first, then the one idle longest (capped at an hour).
    s -= 40.0 * agent.holding as f64 / agent.capacity.max(1) as f64;
    s += ((now - agent.idle_since).clamp(0, 3_600_000) as f64 / 60_000.0) * 0.5;
    // Keep holders of a scarce skill free for it.
    if agent.skills.iter().any(|(t, p)| *t != q.topic && *p >= PRIMARY_LEVEL && scarcity.is_protected(*t)) {
        s -= 150.0;
    }
    s
}

/// The best agent for `q` among `agents`, skipping `exclude` (agents who let an offer lapse).
pub fn best_agent(
    q: &QuestionInfo,
    agents: &[AgentState],
    now: Millis,
    scarcity: &Scarcity,
    exclude: &[AgentId],
) -> Option<(usize, Tier)> {
    let mut best: Option<(usize, Tier, f64)> = None;
    for (i, a) in agents.iter().enumerate() {
        if exclude.contains(&a.id) {
            continue;
        }
        let Some(tier) = eligible(a, q, now) else { continue };
        let s = score(a, q, tier, now, scarcity);
        // Ties go to the lower id, so the same input always gives the same answer.
        if best.as_ref().is_none_or(|(bi, _, bs)| s > *bs || (s == *bs && a.id < agents[*bi].id)) {
            best = Some((i, tier, s));
        }
    }
    best.map(|(i, t, _)| (i, t))
}

/// The question `agent` should take next (pull): the customer's own follow-ups first, then the
/// best fit, then questions not yet open to everyone (so skilled agents keep fresh questions on
/// target while the widened pool works off an overdue backlog: in `helphive sim` this brought the
/// week preset back on target within 15-35 min after bursts instead of 65-115), then the most
/// urgent.
pub fn best_question<'a>(
    agent: &AgentState,
    waiting: &'a [QuestionInfo],
    now: Millis,
) -> Option<(&'a QuestionInfo, Tier)> {
    let mut best: Option<(&QuestionInfo, Tier)> = None;
    for q in waiting {
        let Some(tier) = eligible(agent, q, now) else { continue };
        if best.is_none_or(|(b, bt)| pull_key(agent, q, tier, now) > pull_key(agent, b, bt, now)) {
            best = Some((q, tier));
        }
    }
    best
}

/// Every question `agent` may take, best first in the order of [`best_question`]: when several
/// agents pull at once, each goes down the list past what the others took.
pub fn ranked_questions<'a>(agent: &AgentState, waiting: &'a [QuestionInfo], now: Millis) -> Vec<&'a QuestionInfo> {
    let mut ranked: Vec<(&QuestionInfo, Tier)> =
        waiting.iter().filter_map(|q| eligible(agent, q, now).map(|t| (q, t))).collect();
    ranked.sort_by_key(|(q, t)| std::cmp::Reverse(pull_key(agent, q, *t, now)));
    ranked.into_iter().map(|(q, _)| q).collect()
}

/// How a pull ranks one question; larger is better.
type PullKey = (bool, std::cmp::Reverse<Tier>, bool, std::cmp::Reverse<(Millis, i32, QuestionId)>);

/// The customer's own follow-up, the best fit, not yet open to everyone, the most urgent.
fn pull_key(agent: &AgentState, q: &QuestionInfo, tier: Tier, now: Millis) -> PullKey {
    let mine = q.previous_agent == Some(agent.id);
    let fresh = q.allowed_tier(now) < Tier::Everyone;
    (mine, std::cmp::Reverse(tier), fresh, std::cmp::Reverse(q.urgency_key()))
}

/// One offer decision: question → agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub question: QuestionId,
    pub agent: AgentId,
    pub tier: Tier,
}

/// Plans offers for waiting questions in urgency order: each question to its best agent, each
/// agent offered at most as many questions as it has room for. `busy` lists agents with an open
/// offer already; `exclude(q)` the agents a question's offer lapsed with.
pub fn plan_offers(
    waiting: &[QuestionInfo],
    agents: &[AgentState],
    now: Millis,
    busy: &[AgentId],
    exclude: impl Fn(QuestionId) -> Vec<AgentId>,
) -> Vec<Offer> {
    let mut order: Vec<&QuestionInfo> = waiting.iter().collect();
    order.sort_by_key(|q| q.urgency_key());
    let topics = waiting.iter().map(|q| q.topic as usize + 1).max().unwrap_or(0);
    let mut waiting_per_topic = vec![0u32; topics];
    for q in waiting {
        waiting_per_topic[q.topic as usize] += 1;
    }
    let scarcity = Scarcity::compute(agents, &waiting_per_topic);
    // Work on a copy: an offer reserves a slot, so the next question sees the agent fuller.
    let mut agents: Vec<AgentState> = agents.to_vec();
    for a in agents.iter_mut() {
        if busy.contains(&a.id) {
            a.holding = a.capacity; // one open offer at a time per agent
        }
    }
    let mut offers = Vec::new();
    for q in order {
        if let Some((i, tier)) = best_agent(q, &agents, now, &scarcity, &exclude(q.id)) {
            offers.push(Offer { question: q.id, agent: agents[i].id, tier });
            agents[i].holding = agents[i].capacity;
        }
    }
    offers
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn agent(id: AgentId, function: FunctionId, skills: &[(TopicId, u8)]) -> AgentState {
        AgentState {
            id,
            function,
            skills: skills.to_vec(),
            capacity: 2,
            holding: 0,
            online: true,
            novice: false,
            idle_since: 0,
        }
    }

    fn question(
        id: QuestionId,
        topic: TopicId,
        function: FunctionId,
        waiting_since: Millis,
        sla: Millis,
    ) -> QuestionInfo {
        QuestionInfo {
            id,
            topic,
            function,
            waiting_since,
            sla_due_at: waiting_since.saturating_add(sla),
            priority: 0,
            previous_agent: None,
            unsure: false,
        }
    }

    #[test]
    fn eligibility_widens_as_the_deadline_nears() {
        let q = question(1, 0, 0, 0, 20 * MIN);
        assert_eq!(q.allowed_tier(0), Tier::Primary);
        assert_eq!(q.allowed_tier(11 * MIN), Tier::Secondary);
        assert_eq!(q.allowed_tier(16 * MIN), Tier::Function);
        assert_eq!(q.allowed_tier(21 * MIN), Tier::Everyone);
        let outsider = agent(7, 3, &[(5, 4)]);
        assert_eq!(eligible(&outsider, &q, 0), None);
        assert_eq!(eligible(&outsider, &q, 21 * MIN), Some(Tier::Everyone));
        let colleague = agent(8, 0, &[]);
        assert_eq!(eligible(&colleague, &q, 16 * MIN), Some(Tier::Function));
    }

    #[test]
    fn an_unsure_question_goes_to_the_whole_hive_at_once() {
        let q = QuestionInfo { unsure: true, ..question(1, 0, 0, 0, 20 * MIN) };
        assert_eq!(q.allowed_tier(0), Tier::Everyone);
        let outsider = agent(7, 3, &[(5, 4)]);
        assert_eq!(eligible(&outsider, &q, 0), Some(Tier::Everyone));
    }

    #[test]
    fn offline_or_full_agents_get_nothing() {
        let q = question(1, 0, 0, 0, 20 * MIN);
        let mut a = agent(1, 0, &[(0, 5)]);
        a.online = false;
        assert_eq!(eligible(&a, &q, 0), None);
        a.online = true;
        a.holding = 2;
        assert_eq!(eligible(&a, &q, 0), None);
    }

    #[test]
    fn the_best_fit_wins_and_load_spreads() {
        let q = question(1, 0, 0, 0, 20 * MIN);
        let mut expert_busy = agent(1, 0, &[(0, 5)]);
        expert_busy.holding = 1;
        let expert_free = agent(2, 0, &[(0, 5)]);
        let learner = agent(3, 0, &[(0, 2)]);
        let agents = vec![expert_busy, expert_free, learner];
        let (i, tier) = best_agent(&q, &agents, 0, &Scarcity::default(), &[]).unwrap();
        assert_eq!((agents[i].id, tier), (2, Tier::Primary));
        // Excluding the free expert (their offer lapsed): the busy expert beats the learner.
        let (i, _) = best_agent(&q, &agents, 0, &Scarcity::default(), &[2]).unwrap();
        assert_eq!(agents[i].id, 1);
    }

    #[test]
    fn follow_ups_stick_to_the_agent_who_answered() {
        let mut q = question(1, 0, 0, 0, 20 * MIN);
        q.previous_agent = Some(3);
        let agents = vec![agent(1, 0, &[(0, 5)]), agent(3, 2, &[(0, 1)])];
        let (i, _) = best_agent(&q, &agents, 0, &Scarcity::default(), &[]).unwrap();
        assert_eq!(agents[i].id, 3);
    }

    #[test]
    fn rare_experts_are_kept_for_their_topic() {
        // Topic 1 has one expert (agent 1), who also knows topic 0; topic 1 questions wait.
        let agents = vec![agent(1, 0, &[(0, 5), (1, 5)]), agent(2, 0, &[(0, 3)]), agent(3, 0, &[(0, 3)])];
        let waiting = vec![question(10, 0, 0, 0, 20 * MIN), question(11, 1, 0, MIN, 20 * MIN)];
        let offers = plan_offers(&waiting, &agents, 2 * MIN, &[], |_| vec![]);
        let to = |q| offers.iter().find(|o| o.question == q).map(|o| o.agent);
        assert_eq!(to(11), Some(1), "the rare expert gets the rare question");
        assert_ne!(to(10), Some(1), "and is not spent on a common one");
    }

    #[test]
    fn novices_get_only_their_own_calm_questions() {
        let mut n = agent(1, 0, &[(0, 2)]);
        n.novice = true;
        let calm = question(1, 0, 0, 0, 20 * MIN);
        assert_eq!(eligible(&n, &calm, 0), Some(Tier::Secondary));
        assert_eq!(eligible(&n, &calm, 21 * MIN), None, "not once it is overdue");
        let mut urgent = calm.clone();
        urgent.priority = 5;
        assert_eq!(eligible(&n, &urgent, 12 * MIN), None);
        let other_topic = question(2, 1, 0, 0, 20 * MIN);
        assert_eq!(eligible(&n, &other_topic, 19 * MIN), None, "no widening for novices");
    }

    #[test]
    fn pull_takes_the_most_urgent_eligible_question() {
        let a = agent(1, 0, &[(0, 4)]);
        let waiting =
            vec![question(1, 0, 0, 5 * MIN, 20 * MIN), question(2, 0, 0, 0, 20 * MIN), question(3, 1, 1, 0, 5 * MIN)];
        let (q, _) = best_question(&a, &waiting, 6 * MIN).unwrap();
        assert_eq!(q.id, 2);
    }
}
