//! The printed report: one table of first-response figures per run, with the pooled oracle and
//! Erlang C as the limit, then follow-ups and fairness, bursts, the latency probe, and the
//! issue's goals checked against the figures.

use std::fmt::Write;

use super::engine::Outcome;
use super::erlang::ErlangC;
use super::policies::PolicyKind;
use super::probe::Probe;
use super::workload::{HOUR, HandleDist, MINUTE, Staffing, Workload};

pub struct Report<'a> {
    pub work: &'a Workload,
    pub seed: u64,
    /// Every policy with each question's true topic.
    pub outcomes: &'a [(PolicyKind, Outcome)],
    /// The same policies with topics as the classifier sees them, when asked for.
    pub realistic: Option<&'a Realistic>,
    pub probe: Option<&'a Probe>,
    pub wall_s: f64,
    pub threads: usize,
}

/// The run with classification errors.
pub struct Realistic {
    pub misrouting: String,
    pub outcomes: Vec<(PolicyKind, Outcome)>,
}

fn pct(x: f64) -> String {
    format!("{:.1}", 100.0 * x)
}

fn mins(x: f64) -> String {
    if x.is_finite() { format!("{x:.2}") } else { "inf".into() }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn clock(t: i64) -> String {
    let day = t / (24 * HOUR);
    let h = (t % (24 * HOUR)) / HOUR;
    let m = (t % HOUR) / MINUTE;
    format!("d{} {h:02}:{m:02}", day + 1)
}

/// Erlang C at the most loaded minute, with first response = wait + on-skill handling.
pub fn erlang_for(work: &Workload) -> ErlangC {
    ErlangC::new(work.peak.slots, work.peak.work_per_minute, 1.0 / work.scenario.handle_minutes)
}

impl Report<'_> {
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.header(&mut out);
        if self.realistic.is_some() {
            let _ = writeln!(out, "With perfect topics (every question routed on what the customer needs):");
        }
        self.main_table(&mut out, self.outcomes);
        if let Some(r) = self.realistic {
            let _ = writeln!(out, "With realistic topics: {}; the answer takes as long as the answering", r.misrouting);
            let _ = writeln!(out, "agent's fit to the real need says (prim/sec/mism against the real topic):");
            self.main_table(&mut out, &r.outcomes);
            self.comparison(&mut out, r);
        }
        self.second_table(&mut out);
        self.bursts(&mut out);
        self.probe(&mut out);
        self.goals(&mut out);
        self.notes(&mut out);
        out
    }

    fn get(&self, kind: PolicyKind) -> Option<&Outcome> {
        self.outcomes.iter().find(|(k, _)| *k == kind).map(|(_, o)| o)
    }

    fn header(&self, out: &mut String) {
        let w = self.work;
        let s = &w.scenario;
        let followups: u64 = w.arrivals.iter().filter(|a| a.followup.is_some()).count() as u64;
        let _ = writeln!(out, "helphive sim: {} (seed {}, scale {})", s.name, self.seed, w.scale);
        let _ = writeln!(
            out,
            "  arrivals: {} h after {} h warm-up; {} new questions, {} bring a follow-up; {} functions, {} topics; {} bursts",
            s.duration_hours,
            s.warmup_hours,
            thousands(w.arrivals.len() as u64),
            thousands(followups),
            s.functions.len(),
            w.topics.len(),
            w.bursts.len()
        );
        let staffing = match s.staffing {
            Staffing::Fixed => "all online".to_string(),
            Staffing::Shifts => format!(
                "daily shifts planned per topic, {:.0} % part-time ({} h) else {} h",
                100.0 * s.part_time_share,
                s.part_time_hours,
                s.full_time_hours
            ),
        };
        let _ = writeln!(
            out,
            "  staff: {} employees, {staffing}; capacity {}-{}, {}-{} further skills ({:.0} % in other functions)",
            thousands(w.employees.len() as u64),
            s.capacity.0,
            s.capacity.1,
            s.secondary_skills.0,
            s.secondary_skills.1,
            100.0 * s.cross_function_share
        );
        let when = if s.daily_curve.is_empty() && s.staffing == Staffing::Fixed {
            "steady".to_string()
        } else {
            format!("most loaded minute, {}", clock(w.peak.at).trim_start_matches("d1 "))
        };
        let _ = writeln!(
            out,
            "  offered ({when}): {:.1} messages/min on {} online slots = load {:.3}",
            w.peak.work_per_minute,
            w.peak.slots,
            w.peak.load(s.handle_minutes)
        );
        let dist = match s.handle_dist {
            HandleDist::Lognormal => format!("lognormal mean {} min, cv {}", s.handle_minutes, s.handle_cv),
            HandleDist::Exponential => format!("exponential mean {} min", s.handle_minutes),
        };
        let patience = if s.patience_minutes > 0.0 {
            format!("exponential patience mean {} min", s.patience_minutes)
        } else {
            "customers never give up".into()
        };
        let _ = writeln!(
            out,
            "  handling: {dist}, ×{} on a secondary skill, ×{} in the function, ×{} otherwise; {patience}; follow-up p {} after {} min; SLA target {} min",
            s.slowdown_secondary,
            s.slowdown_function,
            s.slowdown_other,
            s.followup_prob,
            s.followup_delay_minutes,
            s.sla_minutes
        );
        let _ = writeln!(out);
    }

    fn main_table(&self, out: &mut String, outcomes: &[(PolicyKind, Outcome)]) {
        let _ = writeln!(
            out,
            "{:<13} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>8} {:>8}",
            "first resp.",
            "mean",
            "median",
            "p90",
            "p99",
            "≤15m",
            "≤60m",
            "aband",
            "dups",
            "prim",
            "sec",
            "mism",
            "Jain",
            "cap",
            "dec p50",
            "dec p99"
        );
        let _ = writeln!(
            out,
            "{:<13} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>8} {:>8}",
            "policy", "min", "min", "min", "min", "%", "%", "%", "", "%", "%", "%", "min", "viol", "µs", "µs"
        );
        for (kind, o) in outcomes {
            let s = &o.stats;
            let answered: u64 = s.tiers.iter().sum();
            let tier =
                |i: usize| if answered == 0 { "-".to_string() } else { pct(s.tiers[i] as f64 / answered as f64) };
            let mism =
                if answered == 0 { "-".to_string() } else { pct((s.tiers[2] + s.tiers[3]) as f64 / answered as f64) };
            let pooled = *kind == PolicyKind::Oracle;
            let jain_min = s.jain.iter().copied().fold(f64::INFINITY, f64::min);
            let _ = writeln!(
                out,
                "{:<13} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>8.1} {:>8.1}",
                kind.name(),
                mins(s.mean_min),
                mins(s.median_min),
                mins(s.p90_min),
                mins(s.p99_min),
                pct(s.within_15),
                pct(s.within_60),
                pct(if s.questions == 0 { 0.0 } else { s.abandoned as f64 / s.questions as f64 }),
                s.duplicates,
                if pooled { "-".into() } else { tier(0) },
                if pooled { "-".into() } else { tier(1) },
                if pooled { "-".into() } else { mism },
                if jain_min.is_finite() { format!("{jain_min:.3}") } else { "-".into() },
                s.capacity_violations,
                o.timing.decision_p50_us,
                o.timing.decision_p99_us,
            );
        }
        let e = erlang_for(self.work);
        let s = &self.work.scenario;
        if e.stable() {
            let cdf = |t: f64| s.handle_cdf(t);
            let _ = writeln!(
                out,
                "{:<13} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>8} {:>8}",
                "erlang-c",
                mins(e.mean_wait() + s.handle_minutes),
                mins(e.response_percentile(0.5, &cdf)),
                mins(e.response_percentile(0.9, &cdf)),
                mins(e.response_percentile(0.99, &cdf)),
                pct(e.response_cdf(15.0, &cdf)),
                pct(e.response_cdf(60.0, &cdf)),
                "-",
                "-",
                "-",
                "-",
                "-",
                "-",
                "-",
                "-",
                "-"
            );
        } else {
            let _ = writeln!(out, "erlang-c      unstable at the most loaded minute (offered load ≥ online slots)");
        }
        let _ = writeln!(out);
    }

    /// Per policy: mean first response with perfect and with realistic topics, each against the
    /// pooled oracle (which needs no topics).
    fn comparison(&self, out: &mut String, r: &Realistic) {
        let oracle = self.get(PolicyKind::Oracle).map(|o| o.stats.mean_min);
        let _ = writeln!(
            out,
            "{:<13} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "mean f.r.", "perfect", "realistic", "÷oracle", "÷oracle", "handed on"
        );
        for (kind, o) in self.outcomes {
            let Some((_, seen)) = r.outcomes.iter().find(|(k, _)| k == kind) else { continue };
            let ratio = |m: f64| oracle.map_or("-".to_string(), |b| format!("{:.3}", m / b));
            let handed =
                if seen.stats.questions == 0 { 0.0 } else { seen.stats.handoffs as f64 / seen.stats.questions as f64 };
            let _ = writeln!(
                out,
                "{:<13} {:>9} {:>9} {:>9} {:>9} {:>8}%",
                kind.name(),
                mins(o.stats.mean_min),
                mins(seen.stats.mean_min),
                ratio(o.stats.mean_min),
                ratio(seen.stats.mean_min),
                pct(handed)
            );
        }
        let _ = writeln!(
            out,
            "handed on: misrouted questions whose taker (neither the skill nor the function) passed them to the \
             right function, topic corrected, after {} min. Broadcast (people read the question themselves), the \
             skill-blind policies and the pooled oracle do not route on the classifier's topic, so misrouting cannot \
             change them: they are the yardstick a topic-based policy must beat once its topics are wrong some of the \
             time.\n",
            self.work.scenario.handoff_minutes
        );
    }

    fn second_table(&self, out: &mut String) {
        let functions = self.work.functions();
        let mut head = format!(
            "{:<13} {:>7} {:>6} {:>7} {:>7} {:>7} {:>6} {:>7} {:>6} |",
            "queue", "wait", "waited", "max", "fu mean", "sticky", "fu ab.", "answers", "occ."
        );
        for f in functions {
            let short: String = f.chars().take(8).collect();
            let _ = write!(head, " {short:>8}");
        }
        let _ = writeln!(out, "{head}");
        let _ = writeln!(
            out,
            "{:<13} {:>7} {:>6} {:>7} {:>7} {:>7} {:>6} {:>7} {:>6} | Jain's index of occupancy per function",
            "policy", "min", "%", "waiting", "min", "%", "%", "%", "%"
        );
        for (kind, o) in self.outcomes {
            let s = &o.stats;
            let occ =
                if s.occupancy.is_empty() { 0.0 } else { s.occupancy.iter().sum::<f64>() / s.occupancy.len() as f64 };
            let mut line = format!(
                "{:<13} {:>7} {:>6} {:>7} {:>7} {:>7} {:>6} {:>7} {:>6} |",
                kind.name(),
                mins(s.wait_mean_min),
                pct(s.waited_share),
                thousands(s.max_waiting),
                mins(s.followup_mean_min),
                pct(s.followup_sticky),
                pct(if s.followups == 0 { 0.0 } else { s.followups_abandoned as f64 / s.followups as f64 }),
                pct(if s.questions == 0 { 0.0 } else { s.answered as f64 / s.questions as f64 }),
                pct(occ),
            );
            for j in &s.jain {
                let _ = write!(line, " {j:>8.3}");
            }
            let _ = writeln!(out, "{line}");
        }
        let e = erlang_for(self.work);
        if e.stable() {
            let _ = writeln!(
                out,
                "{:<13} {:>7} {:>6}   (M/M/c at the most loaded minute: c = {}, λ = {:.2}/min, 1/μ = {} min)",
                "erlang-c",
                mins(e.mean_wait()),
                pct(e.prob_wait()),
                e.servers,
                e.arrival_rate,
                self.work.scenario.handle_minutes
            );
        }
        let _ = writeln!(out);
    }

    fn bursts(&self, out: &mut String) {
        let bursts = &self.work.bursts;
        if bursts.is_empty() {
            return;
        }
        let _ = writeln!(out, "Bursts: minutes from a burst's end until its topic is back on the 15-minute target");
        let mut head = format!("{:<3} {:<15} {:<9} {:>5} {:>5}", "#", "topic", "start", "min", "×");
        for (k, _) in self.outcomes {
            let _ = write!(head, " {:>12}", k.name());
        }
        let _ = writeln!(out, "{head}");
        for (i, b) in bursts.iter().enumerate() {
            let mut line = format!(
                "{:<3} {:<15} {:<9} {:>5} {:>5.1}",
                i + 1,
                self.work.topics[b.topic as usize].name,
                clock(b.start),
                (b.end - b.start) / MINUTE,
                b.multiplier
            );
            for (_, o) in self.outcomes {
                let r = o.stats.recovery_min.get(i).copied().flatten();
                let cell = r.map_or_else(|| "never".to_string(), |m| format!("{m:.0}"));
                let _ = write!(line, " {cell:>12}");
            }
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out);
    }

    fn probe(&self, out: &mut String) {
        let Some(p) = self.probe else { return };
        let _ = writeln!(
            out,
            "Routing-core latency, {} agents (holding 0-capacity) and {} waiting questions, {} samples each:",
            thousands(p.agents as u64),
            thousands(p.waiting as u64),
            p.samples
        );
        let _ = writeln!(
            out,
            "  best_agent p50 {:.1} µs, p99 {:.1} µs; best_question p50 {:.1} µs, p99 {:.1} µs; one plan_offers over all {:.0} ms ({} offers)",
            p.best_agent_us.0,
            p.best_agent_us.1,
            p.best_question_us.0,
            p.best_question_us.1,
            p.plan_offers_ms,
            p.offers
        );
        let _ = writeln!(out);
    }

    fn goals(&self, out: &mut String) {
        let name = self.work.scenario.name.as_str();
        if name != "peak" && name != "week" {
            return;
        }
        let Some(h) = self.get(PolicyKind::Helphive) else {
            let _ = writeln!(out, "Goals: not checked (the helphive policy was not run)\n");
            return;
        };
        let s = &h.stats;
        let mut rows: Vec<(String, Option<bool>)> = Vec::new();
        let answered: u64 = s.tiers.iter().sum();
        let primary = if answered == 0 { 0.0 } else { s.tiers[0] as f64 / answered as f64 };
        if name == "peak" {
            match self.get(PolicyKind::Oracle) {
                Some(o) => rows.push((
                    format!(
                        "mean first response ≤ 1.15 × oracle: {} vs {} min = {:.3}×",
                        mins(s.mean_min),
                        mins(o.stats.mean_min),
                        s.mean_min / o.stats.mean_min
                    ),
                    Some(s.mean_min <= 1.15 * o.stats.mean_min),
                )),
                None => rows.push(("mean ≤ 1.15 × oracle: oracle not run".into(), None)),
            }
            if let Some(r) = self.realistic
                && let (Some(seen), Some(o)) =
                    (r.outcomes.iter().find(|(k, _)| *k == PolicyKind::Helphive), self.get(PolicyKind::Oracle))
            {
                let m = seen.1.stats.mean_min;
                rows.push((
                    format!(
                        "with realistic topics, mean first response ≤ 1.15 × oracle: {} vs {} min = {:.3}×",
                        mins(m),
                        mins(o.stats.mean_min),
                        m / o.stats.mean_min
                    ),
                    Some(m <= 1.15 * o.stats.mean_min),
                ));
            }
            rows.push((format!("≥ 90 % answered on a primary skill: {} %", pct(primary)), Some(primary >= 0.9)));
            let others = self
                .outcomes
                .iter()
                .filter(|(k, _)| !matches!(k, PolicyKind::Helphive | PolicyKind::Oracle))
                .min_by(|a, b| a.1.stats.p90_min.total_cmp(&b.1.stats.p90_min));
            let bound = self
                .get(PolicyKind::Oracle)
                .map_or(String::new(), |o| format!("; the pooled oracle's own p90 is {} min", mins(o.stats.p90_min)));
            match others {
                Some((k, o)) => rows.push((
                    format!(
                        "p90 ≥ 30 % better than the best other policy ({} {} min): {} min, {:.1} % better{bound}",
                        k.name(),
                        mins(o.stats.p90_min),
                        mins(s.p90_min),
                        100.0 * (1.0 - s.p90_min / o.stats.p90_min)
                    ),
                    Some(s.p90_min <= 0.7 * o.stats.p90_min),
                )),
                None => rows.push(("p90 vs other policies: none run".into(), None)),
            }
            if let Some(p) = self.probe {
                let worst = p.best_agent_us.1.max(p.best_question_us.1);
                rows.push((
                    format!(
                        "decision p99 ≤ 1 ms at {} agents × {} waiting: {:.1} µs (best_agent/best_question)",
                        p.agents, p.waiting, worst
                    ),
                    Some(worst <= 1000.0),
                ));
            }
            rows.push((
                format!("decision p99 within the simulation ≤ 1 ms: {:.1} µs", h.timing.decision_p99_us),
                Some(h.timing.decision_p99_us <= 1000.0),
            ));
        } else {
            let aband = if s.questions == 0 { 0.0 } else { s.abandoned as f64 / s.questions as f64 };
            let jain_min = s.jain.iter().copied().fold(f64::INFINITY, f64::min);
            rows.push((format!("≥ 90 % within 15 min: {} %", pct(s.within_15)), Some(s.within_15 >= 0.9)));
            rows.push((format!("≥ 98 % within 60 min: {} %", pct(s.within_60)), Some(s.within_60 >= 0.98)));
            rows.push((format!("median ≤ 6 min: {} min", mins(s.median_min)), Some(s.median_min <= 6.0)));
            rows.push((format!("abandonment ≤ 2 %: {} %", pct(aband)), Some(aband <= 0.02)));
            rows.push((format!("0 duplicate answers: {}", s.duplicates), Some(s.duplicates == 0)));
            rows.push((format!("Jain's index ≥ 0.9 in every function: min {jain_min:.3}"), Some(jain_min >= 0.9)));
            rows.push((format!("0 capacity violations: {}", s.capacity_violations), Some(s.capacity_violations == 0)));
            let worst = s.recovery_min.iter().map(|r| r.unwrap_or(f64::INFINITY)).fold(0.0, f64::max);
            let met = s.recovery_min.iter().filter(|r| r.is_some_and(|m| m <= 30.0)).count();
            rows.push((
                format!(
                    "back on the 15-min target ≤ 30 min after a burst: {met} of {} bursts, worst {}",
                    s.recovery_min.len(),
                    if worst.is_finite() { format!("{worst:.0} min") } else { "never".into() }
                ),
                Some(met == s.recovery_min.len()),
            ));
            rows.push((
                format!(
                    "seven days in ≤ 30 s on 2 cores: {:.1} s for the whole run ({} threads; helphive alone {:.1} s)",
                    self.wall_s, self.threads, h.timing.wall_s
                ),
                Some(self.wall_s <= 30.0),
            ));
            rows.push((
                format!("decision p99 ≤ 1 ms: {:.1} µs", h.timing.decision_p99_us),
                Some(h.timing.decision_p99_us <= 1000.0),
            ));
        }
        let _ = writeln!(out, "Goals (helphive, figures from this run):");
        for (text, ok) in rows {
            let mark = match ok {
                Some(true) => "met ",
                Some(false) => "MISS",
                None => "n/a ",
            };
            let _ = writeln!(out, "  [{mark}] {text}");
        }
        let _ = writeln!(out);
    }

    fn notes(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "First response: arrival to first answer delivered (waiting plus writing), new questions arriving after the warm-up; \
             ≤15m/≤60m count every such question (given up = missed). prim/sec/mism: fit of the first answer (skill level ≥ 3, \
             1-2, none). dups: answers after the first. Jain: lowest over functions of Jain's index of per-employee occupancy. \
             cap viol: assignments to a full or offline employee. dec: wall time per routing decision. wait: arrival to an agent \
             starting; fu: follow-ups; sticky: answered by the question's agent. \
             Customers give up only while no one has taken their question."
        );
        let _ = writeln!(out, "Policies:");
        for (k, _) in self.outcomes {
            let _ = writeln!(out, "  {:<13} {}", k.name(), k.describe());
        }
        let _ = writeln!(
            out,
            "Wall time {:.1} s on {} thread(s); {} decisions by helphive.",
            self.wall_s,
            self.threads,
            self.get(PolicyKind::Helphive).map_or(0, |h| h.timing.decisions)
        );
    }
}
