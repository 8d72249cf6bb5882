//! Routing-latency probe: times single decisions of the routing core on a large synthetic state
//! (every employee of the workload online, thousands of questions waiting). The latency
//! goal names such a state, which a healthy simulation never builds up by itself.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::routing::hive::{self, AgentState, QuestionInfo, Scarcity};

use super::workload::{DAY, MINUTE, Workload, uniform};

#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub agents: usize,
    pub waiting: usize,
    pub samples: usize,
    /// p50 and p99 in microseconds.
    pub best_agent_us: (f64, f64),
    pub best_question_us: (f64, f64),
    /// One whole `plan_offers` over everything waiting, milliseconds, and the offers it made.
    pub plan_offers_ms: f64,
    pub offers: usize,
}

pub fn probe(work: &Workload, waiting: usize, seed: u64) -> Probe {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5052_4f42_4500_0004);
    let now = DAY;
    let agents: Vec<AgentState> = work
        .employees
        .iter()
        .enumerate()
        .map(|(i, e)| AgentState {
            id: i as i64,
            function: e.function,
            skills: e.skills.clone(),
            capacity: e.capacity,
            holding: rng.random_range(0..=e.capacity),
            online: true,
            novice: e.novice,
            idle_since: now - (uniform(&mut rng) * 30.0 * MINUTE as f64) as i64,
        })
        .collect();
    let sla = work.sla;
    let questions: Vec<QuestionInfo> = (0..waiting)
        .map(|i| {
            let mut pick = uniform(&mut rng);
            let topic = work
                .topics
                .iter()
                .position(|t| {
                    pick -= t.share;
                    pick < 0.0
                })
                .unwrap_or(work.topics.len() - 1);
            // Waiting up to 1.5 targets: every eligibility tier is represented.
            let since = now - (uniform(&mut rng) * 1.5 * sla as f64) as i64;
            QuestionInfo {
                id: i as i64,
                topic: topic as u16,
                function: work.topics[topic].function,
                waiting_since: since,
                sla_due_at: since + sla,
                priority: 0,
                previous_agent: (uniform(&mut rng) < 0.3).then(|| rng.random_range(0..agents.len().max(1)) as i64),
                unsure: false,
            }
        })
        .collect();
    let mut per_topic = vec![0u32; work.topics.len()];
    for q in &questions {
        per_topic[q.topic as usize] += 1;
    }
    let scarcity = Scarcity::compute(&agents, &per_topic);
    let samples = 2000;
    let mut ba = Vec::with_capacity(samples);
    let mut bq = Vec::with_capacity(samples);
    let with_room: Vec<&AgentState> = agents.iter().filter(|a| a.has_room()).collect();
    for _ in 0..samples {
        if !questions.is_empty() {
            let q = &questions[rng.random_range(0..questions.len())];
            let t = Instant::now();
            std::hint::black_box(hive::best_agent(q, &agents, now, &scarcity, &[]));
            ba.push(t.elapsed().as_secs_f64() * 1e6);
        }
        if !with_room.is_empty() {
            let a = with_room[rng.random_range(0..with_room.len())];
            let t = Instant::now();
            std::hint::black_box(hive::best_question(a, &questions, now));
            bq.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    let t = Instant::now();
    let offers = hive::plan_offers(&questions, &agents, now, &[], |_| Vec::new()).len();
    let plan_offers_ms = t.elapsed().as_secs_f64() * 1e3;
    Probe {
        agents: agents.len(),
        waiting,
        samples,
        best_agent_us: (pct(&mut ba, 0.5), pct(&mut ba, 0.99)),
        best_question_us: (pct(&mut bq, 0.5), pct(&mut bq, 0.99)),
        plan_offers_ms,
        offers,
    }
}

fn pct(xs: &mut [f64], p: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    let rank = ((p * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    xs[rank - 1]
}
