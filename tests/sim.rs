//! `helphive sim`: the simulator against queueing theory, its reproducibility and invariants, and
//! property tests of the routing core it drives.

use helphive::routing::hive::{self, AgentState, QuestionInfo, Scarcity, Tier};
use helphive::sim::workload::{HandleDist, Staffing};
use helphive::sim::{self, ErlangC, PolicyKind, Scenario, SimOptions, Workload};
use proptest::prelude::*;

/// A small M/M/c system: 20 interchangeable agents at load 0.8, about 190,000 questions.
fn mmc() -> Scenario {
    Scenario {
        name: "mmc".into(),
        employees: 20,
        load: 0.8,
        duration_hours: 800.0,
        warmup_hours: 5.0,
        ..Scenario::pooled()
    }
}

#[test]
fn a_pooled_workforce_reproduces_erlang_c() {
    let s = mmc();
    let work = Workload::generate(&s, 1, 1.0).unwrap();
    let lambda = work.peak.work_per_minute;
    let erlang = ErlangC::new(20, lambda, 1.0 / s.handle_minutes);
    let oracle = sim::simulate_one(&work, PolicyKind::Oracle, 1).stats;
    // Tolerances from the spread over seeds 1-20 of this very configuration: the mean wait's
    // relative standard deviation is 4.4 % (mean error -0.7 %, no bias), P(W>0)'s 0.5 points, the
    // 90th percentile's 4 %. The bounds are about 3 standard deviations: noise passes, a modelling
    // error (lost arrivals, double service, a wrong clock: all > 20 %) fails.
    let rel = (oracle.wait_mean_min - erlang.mean_wait()).abs() / erlang.mean_wait();
    assert!(
        rel < 0.12,
        "simulated mean wait {} vs Erlang C {} ({:.1} %)",
        oracle.wait_mean_min,
        erlang.mean_wait(),
        rel * 100.0
    );
    assert!(
        (oracle.waited_share - erlang.prob_wait()).abs() < 0.015,
        "P(wait) {} vs Erlang C {}",
        oracle.waited_share,
        erlang.prob_wait()
    );
    let p90 = erlang.wait_percentile(0.9);
    assert!((oracle.wait_p90_min - p90).abs() / p90 < 0.12, "p90 wait {} vs {}", oracle.wait_p90_min, p90);
    assert_eq!(oracle.answered, oracle.questions, "nobody gives up in the pooled check");
    // With one topic everyone masters, every work-conserving first-come-first-served policy gives
    // the very same waits (the customers carry their service times): helphive must match exactly.
    let hive = sim::simulate_one(&work, PolicyKind::Helphive, 1).stats;
    assert_eq!(hive.wait_mean_min, oracle.wait_mean_min);
    assert_eq!(hive.waited_share, oracle.waited_share);
    assert_eq!(hive.mean_min, oracle.mean_min);
}

/// A small seven-day-like world: shifts, curve, bursts, follow-ups, abandonment, 2 days.
fn small_week() -> Scenario {
    Scenario { name: "small".into(), duration_hours: 48.0, bursts_per_day: 2.0, ..Scenario::week() }
}

#[test]
fn the_same_seed_gives_the_same_figures() {
    let work = Workload::generate(&small_week(), 5, 0.03).unwrap();
    for kind in [PolicyKind::Helphive, PolicyKind::Broadcast, PolicyKind::Random] {
        let a = sim::simulate_one(&work, kind, 5).stats;
        let b = sim::simulate_one(&work, kind, 5).stats;
        assert_eq!(a, b, "{}", kind.name());
    }
    let other = Workload::generate(&small_week(), 6, 0.03).unwrap();
    assert_ne!(
        sim::simulate_one(&work, PolicyKind::Helphive, 5).stats,
        sim::simulate_one(&other, PolicyKind::Helphive, 6).stats
    );
}

#[test]
fn every_policy_keeps_the_invariants() {
    let work = Workload::generate(&small_week(), 9, 0.03).unwrap();
    let outcomes = sim::simulate(&work, &PolicyKind::ALL, 9, 2);
    assert_eq!(outcomes.len(), PolicyKind::ALL.len());
    for (kind, o) in &outcomes {
        let s = &o.stats;
        let name = kind.name();
        assert!(s.questions > 1000, "{name}: {}", s.questions);
        assert_eq!(s.capacity_violations, 0, "{name} exceeded a capacity or used an offline agent");
        assert_eq!(s.answered + s.abandoned + s.unresolved, s.questions, "{name}");
        assert_eq!(s.tiers.iter().sum::<u64>(), s.answered, "{name}");
        assert_eq!(s.jain.len(), 6, "{name}");
        assert!(s.jain.iter().all(|j| (0.0..=1.0 + 1e-9).contains(j)), "{name}: {:?}", s.jain);
        assert!(s.followups > 0 && s.followups_answered <= s.followups, "{name}");
        if *kind == PolicyKind::Broadcast {
            continue;
        }
        assert_eq!(s.double_assigned, 0, "{name} gave one question to two agents");
        assert_eq!(s.duplicates, 0, "{name}");
    }
    let hive = &outcomes.iter().find(|(k, _)| *k == PolicyKind::Helphive).unwrap().1.stats;
    // Follow-ups stick to the agent who answered whenever that agent has room.
    assert!(hive.followup_sticky > 0.5, "{}", hive.followup_sticky);
    assert_eq!(hive.recovery_min.len(), work.bursts.len());
}

#[test]
fn broadcast_answers_twice_and_routing_does_not() {
    // Plenty of idle people watching the stream: several notice the same question.
    let s = Scenario { load: 0.3, notice_minutes: 1.0, duration_hours: 4.0, ..Scenario::peak() };
    let work = Workload::generate(&s, 2, 0.05).unwrap();
    let broadcast = sim::simulate_one(&work, PolicyKind::Broadcast, 2).stats;
    assert!(broadcast.duplicates > 0);
    assert!(broadcast.double_assigned > 0);
    assert_eq!(broadcast.capacity_violations, 0);
}

#[test]
fn the_entry_point_prints_one_row_per_policy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.toml");
    std::fs::write(
        &path,
        "base = \"peak\"\nname = \"tiny\"\nemployees = 60\nduration_hours = 1.0\nwarmup_hours = 0.25\nprobe_waiting = 200\n",
    )
    .unwrap();
    let opts = SimOptions {
        preset: "peak".into(),
        scenario: Some(path),
        seed: 3,
        policies: Some(vec!["helphive,oracle".into(), "longest-idle".into()]),
        scale: 1.0,
        misrouting: None,
    };
    let report = sim::run(&opts).unwrap();
    for row in ["helphive", "oracle", "longest-idle", "erlang-c", "best_agent p50"] {
        assert!(report.contains(row), "{row} missing from:\n{report}");
    }
    assert!(!report.contains("round-robin"));
    let bad = SimOptions { preset: "nope".into(), ..SimOptions::default() };
    assert!(sim::run(&bad).unwrap_err().contains("unknown preset"));
    let bad = SimOptions { policies: Some(vec!["fastest".into()]), ..SimOptions::default() };
    assert!(sim::run(&bad).unwrap_err().contains("unknown policy"));
    assert!(sim::presets().iter().any(|(n, _)| *n == "week"));
}

#[test]
fn the_pooled_preset_is_an_m_m_c_queue() {
    let s = Scenario::pooled();
    assert_eq!((s.staffing, s.handle_dist, s.capacity), (Staffing::Fixed, HandleDist::Exponential, (1, 1)));
    assert_eq!((s.followup_prob, s.patience_minutes, s.topics_per_function), (0.0, 0.0, 1));
}

// ---- Property tests of the routing core. ----

const MIN: i64 = 60_000;

fn agent_strategy(id: i64) -> impl Strategy<Value = AgentState> {
    (
        0u16..3,
        prop::collection::vec((0u16..6, 1u8..=5), 0..4),
        1u8..=3,
        0u8..=3,
        any::<bool>(),
        prop::bool::weighted(0.15),
        0i64..60 * MIN,
    )
        .prop_map(move |(function, skills, capacity, holding, online, novice, idle)| {
            let mut seen = Vec::new();
            let skills = skills
                .into_iter()
                .filter(|(t, _)| {
                    !seen.contains(t) && {
                        seen.push(*t);
                        true
                    }
                })
                .collect();
            AgentState {
                id,
                function,
                skills,
                capacity,
                holding: holding.min(capacity),
                online,
                novice,
                idle_since: idle,
            }
        })
}

/// Agents, waiting questions, now, agents with an open offer, and per question the agents its
/// offer lapsed with.
type RoutingWorld = (Vec<AgentState>, Vec<QuestionInfo>, i64, Vec<i64>, Vec<Vec<i64>>);

fn world_strategy() -> impl Strategy<Value = RoutingWorld> {
    (1usize..25, 0usize..30).prop_flat_map(|(na, nq)| {
        let agents: Vec<_> = (0..na as i64).map(|i| agent_strategy(i * 3 + 1)).collect();
        let questions = prop::collection::vec(
            (0u16..6, 0u16..3, 0i64..60 * MIN, 1i64..40, -1i32..=2, prop::option::weighted(0.3, 0..na as i64)),
            nq,
        );
        let busy = prop::collection::vec(0..na as i64, 0..4);
        let exclude = prop::collection::vec(prop::collection::vec(0..na as i64, 0..3), nq);
        (agents, questions, 0i64..120 * MIN, busy, exclude).prop_map(|(agents, qs, now, busy, exclude)| {
            let questions = qs
                .into_iter()
                .enumerate()
                .map(|(i, (topic, function, since, sla, priority, prev))| QuestionInfo {
                    id: 100 + i as i64,
                    topic,
                    function,
                    waiting_since: since,
                    sla_due_at: since + sla * MIN,
                    priority,
                    previous_agent: prev.map(|p| p * 3 + 1),
                    unsure: false,
                })
                .collect();
            let busy = busy.into_iter().map(|b| b * 3 + 1).collect();
            let exclude = exclude.into_iter().map(|e| e.into_iter().map(|a| a * 3 + 1).collect()).collect();
            (agents, questions, now, busy, exclude)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn plan_offers_respects_capacity_presence_and_exclusivity(world in world_strategy()) {
        let (agents, waiting, now, busy, exclude) = world;
        let excluded = |q: i64| exclude.get((q - 100) as usize).cloned().unwrap_or_default();
        let offers = hive::plan_offers(&waiting, &agents, now, &busy, excluded);
        let mut seen_q = Vec::new();
        for o in &offers {
            prop_assert!(!seen_q.contains(&o.question), "question {} offered twice", o.question);
            seen_q.push(o.question);
            let a = agents.iter().find(|a| a.id == o.agent).unwrap();
            let q = waiting.iter().find(|q| q.id == o.question).unwrap();
            prop_assert!(a.online, "offered to offline agent {}", a.id);
            prop_assert!(!busy.contains(&a.id), "agent {} already has an open offer", a.id);
            prop_assert!(!excluded(q.id).contains(&a.id), "offered to an agent the offer lapsed with");
            prop_assert_eq!(hive::eligible(a, q, now), Some(o.tier));
        }
        for a in &agents {
            let n = offers.iter().filter(|o| o.agent == a.id).count();
            prop_assert!(n <= (a.capacity - a.holding) as usize, "agent {} offered {n} with room {}", a.id, a.capacity - a.holding);
        }
    }

    #[test]
    fn best_agent_only_returns_eligible_agents(world in world_strategy()) {
        let (agents, waiting, now, _, exclude) = world;
        let mut per_topic = vec![0u32; 6];
        for q in &waiting {
            per_topic[q.topic as usize] += 1;
        }
        let scarcity = Scarcity::compute(&agents, &per_topic);
        for (i, q) in waiting.iter().enumerate() {
            let ex = &exclude[i];
            match hive::best_agent(q, &agents, now, &scarcity, ex) {
                Some((idx, tier)) => {
                    let a = &agents[idx];
                    prop_assert_eq!(hive::eligible(a, q, now), Some(tier));
                    prop_assert!(a.online && a.has_room() && !ex.contains(&a.id));
                }
                None => {
                    // Nobody was passed over: no eligible, non-excluded agent exists.
                    prop_assert!(agents.iter().all(|a| ex.contains(&a.id) || hive::eligible(a, q, now).is_none()));
                }
            }
        }
        for a in &agents {
            if let Some((q, tier)) = hive::best_question(a, &waiting, now) {
                prop_assert_eq!(hive::eligible(a, q, now), Some(tier));
            }
        }
    }

    #[test]
    fn eligibility_only_widens_with_time(world in world_strategy(), later in 0i64..60 * MIN) {
        let (agents, waiting, now, _, _) = world;
        for q in &waiting {
            prop_assert!(q.allowed_tier(now + later) >= q.allowed_tier(now));
            for a in agents.iter().filter(|a| !a.novice) {
                if let Some(t) = hive::eligible(a, q, now) {
                    prop_assert!(hive::eligible(a, q, now + later).is_some_and(|t2| t2 == t));
                    prop_assert!(t <= q.allowed_tier(now) || q.previous_agent == Some(a.id));
                }
            }
            prop_assert!(q.allowed_tier(q.sla_due_at) == Tier::Everyone);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// The whole simulator, on small random worlds: routing never overfills, never uses an
    /// offline agent, never gives one question to two agents.
    #[test]
    fn simulated_routing_never_breaks_the_rules(
        seed in any::<u64>(),
        load in 0.5f64..1.3,
        cap_hi in 1u8..=3,
        novices in 0.0f64..0.3,
    ) {
        let s = Scenario {
            name: "prop".into(),
            load,
            duration_hours: 6.0,
            capacity: (1, cap_hi),
            novice_share: novices,
            bursts_per_day: 4.0,
            ..Scenario::week()
        };
        let work = Workload::generate(&s, seed, 0.01).unwrap();
        for kind in [PolicyKind::Helphive, PolicyKind::LongestIdle] {
            let st = sim::simulate_one(&work, kind, seed).stats;
            prop_assert_eq!(st.capacity_violations, 0);
            prop_assert_eq!(st.double_assigned, 0);
            prop_assert_eq!(st.duplicates, 0);
        }
    }
}

#[test]
fn misrouted_topics_slow_a_topic_router_and_leave_the_oracle_alone() {
    // The same sample path twice: with the customers' real topics, and with a quarter of the
    // questions routed to a wrong function. Routing on topics pays for the errors (the wrong
    // experts take longer, or the question waits for eligibility to widen); the pooled oracle,
    // which ignores topics, cannot.
    let opts = SimOptions {
        preset: "peak".into(),
        seed: 5,
        scale: 0.1,
        policies: Some(vec!["helphive".into(), "oracle".into()]),
        misrouting: Some(sim::Misrouting::Rate(0.25)),
        ..SimOptions::default()
    };
    let report = sim::run(&opts).unwrap();
    assert!(report.contains("With realistic topics: 25.0 % of questions routed to a wrong function"), "{report}");
    let row = |name: &str| -> (f64, f64) {
        let line = report.lines().find(|l| l.starts_with("mean f.r.")).map(|_| ()).and_then(|_| {
            report
                .lines()
                .skip_while(|l| !l.starts_with("mean f.r."))
                .find(|l| l.split_whitespace().next() == Some(name))
        });
        let cells: Vec<f64> = line.unwrap().split_whitespace().skip(1).take(2).map(|c| c.parse().unwrap()).collect();
        (cells[0], cells[1])
    };
    let (perfect, realistic) = row("helphive");
    assert!(realistic > perfect, "misrouting costs the topic router: {perfect} → {realistic}\n{report}");
    let (o_perfect, o_realistic) = row("oracle");
    assert_eq!(o_perfect, o_realistic, "the oracle ignores topics");
    assert!(report.contains("with realistic topics, mean first response ≤ 1.15 × oracle"), "{report}");
}

#[test]
fn the_default_realistic_run_draws_the_classifiers_measured_errors() {
    // `helphive sim` routes, besides the real topics, the topics the built-in model gives its
    // held-out questions: the matrix comes from classifying them now, not from a number written
    // down once.
    let confusion = helphive::classify::held_out_confusion(&helphive::config::Config::builtin()).unwrap();
    assert_eq!(confusion.functions.len(), 6, "{:?}", confusion.functions);
    let questions: u64 = confusion.counts.iter().flatten().sum();
    assert!(questions >= 300, "the held-out split: {questions}");
    let wrong = confusion.error_rate();
    assert!(wrong > 0.0 && wrong < 0.2, "a model that routes most questions right, not all: {wrong}");
    let opts = SimOptions {
        preset: "peak".into(),
        seed: 2,
        scale: 0.05,
        policies: Some(vec!["helphive".into(), "oracle".into()]),
        misrouting: Some(sim::Misrouting::Confusion(confusion)),
        ..SimOptions::default()
    };
    let report = sim::run(&opts).unwrap();
    assert!(
        report.contains("errors drawn from the topic classifier's confusion matrix on its held-out questions"),
        "{report}"
    );
    assert!(report.contains("handed on"), "{report}");
}
