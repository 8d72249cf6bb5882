//! The simulated world: who works when with which skills, and which customer asks what when.
//! Everything random about the customers and the workforce is drawn here, up front, from one
//! seed, so every policy meets the same sample path (common random numbers): differences between
//! policies in a report are the policies', not the dice's.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::model::Millis;
use crate::routing::hive::{FunctionId, TopicId};

pub const SECOND: Millis = 1_000;
pub const MINUTE: Millis = 60 * SECOND;
pub const HOUR: Millis = 60 * MINUTE;
pub const DAY: Millis = 24 * HOUR;

/// "Never": a patience that does not run out.
pub const NEVER: Millis = Millis::MAX;

/// How the workforce is put together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Staffing {
    /// `employees` people, all online all the time; the arrival rate follows from `load`.
    Fixed,
    /// The arrival volume is given (`new_questions_per_day`); part-time and full-time shifts are
    /// planned per topic so that no half hour of the day runs above `load`.
    Shifts,
}

/// The shape of the handling-time distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HandleDist {
    Lognormal,
    /// Exponential (coefficient of variation 1 whatever `handle_cv` says): the Erlang C check.
    Exponential,
}

/// A workload, as the presets define it and a TOML file may override it. Times are in minutes
/// or hours as named, rates per day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    pub name: String,
    pub staffing: Staffing,
    /// Fixed staffing: how many employees.
    pub employees: u32,
    /// Shift staffing: new questions (not counting follow-ups) per day.
    pub new_questions_per_day: f64,
    /// Offered work over online capacity at the most loaded minute, counting follow-ups, at on-skill
    /// speed.
    pub load: f64,
    /// How long questions arrive, after the warm-up.
    pub duration_hours: f64,
    /// Questions arriving in the warm-up are routed but not counted.
    pub warmup_hours: f64,
    pub functions: Vec<String>,
    pub topics_per_function: u32,
    /// Topic popularity: the r-th most common topic has weight 1/r^zipf (0 = all equal).
    pub topic_zipf: f64,
    /// The response target each question is routed against (the hive widens eligibility as it
    /// nears).
    pub sla_minutes: f64,
    /// (hour of day, multiplier) points, linearly interpolated around the clock; empty = steady.
    pub daily_curve: Vec<(f64, f64)>,
    pub bursts_per_day: f64,
    /// A burst multiplies its topic's arrival rate by a factor drawn from this range...
    pub burst_multiplier: (f64, f64),
    /// ...for a duration drawn from this range.
    pub burst_minutes: (f64, f64),
    /// Chance that an answered question brings one follow-up from the same customer.
    pub followup_prob: f64,
    pub followup_delay_minutes: f64,
    /// Mean handling time on a primary skill (the time to write the first answer).
    pub handle_minutes: f64,
    pub handle_cv: f64,
    pub handle_dist: HandleDist,
    /// Handling-time multipliers by how well the agent fits: a secondary skill (level 1-2), the
    /// topic's function without the skill, and anyone else.
    pub slowdown_secondary: f64,
    pub slowdown_function: f64,
    pub slowdown_other: f64,
    /// A question routed to the wrong function (a classifier's error), taken by an employee with
    /// neither the skill nor the function it needs: the time they spend to see that and hand it
    /// on to the right function, with the topic corrected, as the terminal's transfer does.
    pub handoff_minutes: f64,
    /// Mean customer patience until the first response; 0 = customers never give up.
    pub patience_minutes: f64,
    /// Each employee has one home topic in their function at a level from `primary_level`, plus
    /// a number of further skills from `secondary_skills` at a level from `secondary_level`.
    pub secondary_skills: (u32, u32),
    /// Share of those further skills taken from another function's topics.
    pub cross_function_share: f64,
    pub primary_level: (u8, u8),
    pub secondary_level: (u8, u8),
    /// Questions an employee may hold at once (each is worked independently).
    pub capacity: (u8, u8),
    pub novice_share: f64,
    pub part_time_share: f64,
    pub part_time_hours: f64,
    pub full_time_hours: f64,
    /// Broadcast policy: mean delay before an employee with room notices the stream again.
    pub notice_minutes: f64,
    /// Routing-latency probe: time single decisions with every employee and this many waiting
    /// questions (0 = no probe).
    pub probe_waiting: u32,
}

impl Default for Scenario {
    fn default() -> Scenario {
        Scenario::week()
    }
}

const FUNCTIONS: [&str; 6] = ["tech_support", "store", "product", "billing", "delivery", "marketing"];
const TOPIC_NAMES: [[&str; 2]; 6] = [
    ["setup", "connectivity"],
    ["in_store", "returns"],
    ["product_advice", "availability"],
    ["billing", "refunds"],
    ["delivery", "tracking"],
    ["promotions", "loyalty"],
];

impl Scenario {
    /// Seven days of a daily curve with topic bursts, part-time shifts planned for load 0.9.
    pub fn week() -> Scenario {
        Scenario {
            name: "week".into(),
            staffing: Staffing::Shifts,
            employees: 0,
            // About 300,000 messages in the week with follow-ups: 30,600 × 7 × 1.4.
            new_questions_per_day: 30_600.0,
            load: 0.9,
            duration_hours: 7.0 * 24.0,
            warmup_hours: 0.0,
            functions: FUNCTIONS.iter().map(|s| s.to_string()).collect(),
            topics_per_function: 2,
            topic_zipf: 0.6,
            sla_minutes: 15.0,
            // Trough 0.3 before dawn, peaks 1.6 at lunch and in the evening; averages 1.01.
            daily_curve: vec![
                (0.0, 0.55),
                (3.0, 0.35),
                (5.0, 0.3),
                (7.0, 0.55),
                (9.0, 1.1),
                (12.0, 1.6),
                (14.0, 1.35),
                (17.0, 1.25),
                (20.0, 1.6),
                (22.0, 1.2),
            ],
            bursts_per_day: 1.0,
            burst_multiplier: (5.0, 10.0),
            burst_minutes: (30.0, 120.0),
            followup_prob: 0.4,
            followup_delay_minutes: 10.0,
            handle_minutes: 4.0,
            handle_cv: 1.0,
            handle_dist: HandleDist::Lognormal,
            slowdown_secondary: 1.5,
            slowdown_function: 2.0,
            slowdown_other: 3.0,
            handoff_minutes: 1.0,
            patience_minutes: 60.0,
            secondary_skills: (0, 2),
            cross_function_share: 0.3,
            primary_level: (3, 5),
            secondary_level: (1, 5),
            capacity: (1, 3),
            novice_share: 0.0,
            part_time_share: 0.5,
            part_time_hours: 4.0,
            full_time_hours: 8.0,
            notice_minutes: 2.0,
            probe_waiting: 0,
        }
    }

    /// 3,000 employees all online, steady arrivals at load 0.95, no bursts; with the latency
    /// probe at 10,000 waiting questions.
    pub fn peak() -> Scenario {
        Scenario {
            name: "peak".into(),
            staffing: Staffing::Fixed,
            employees: 3000,
            load: 0.95,
            duration_hours: 2.0,
            warmup_hours: 0.5,
            daily_curve: Vec::new(),
            bursts_per_day: 0.0,
            probe_waiting: 10_000,
            ..Scenario::week()
        }
    }

    /// The Erlang C check: one topic everyone masters, capacity 1, exponential handling, no
    /// follow-ups, no abandonment, steady arrivals: an M/M/c queue.
    pub fn pooled() -> Scenario {
        Scenario {
            name: "pooled".into(),
            staffing: Staffing::Fixed,
            employees: 100,
            load: 0.9,
            duration_hours: 48.0,
            warmup_hours: 2.0,
            functions: vec!["support".into()],
            topics_per_function: 1,
            daily_curve: Vec::new(),
            bursts_per_day: 0.0,
            followup_prob: 0.0,
            handle_dist: HandleDist::Exponential,
            patience_minutes: 0.0,
            secondary_skills: (0, 0),
            capacity: (1, 1),
            ..Scenario::week()
        }
    }

    pub fn preset(name: &str) -> Option<Scenario> {
        match name {
            "week" => Some(Scenario::week()),
            "peak" => Some(Scenario::peak()),
            "pooled" => Some(Scenario::pooled()),
            _ => None,
        }
    }

    /// A scenario from TOML text: the keys given override a preset, the one named by `base` in
    /// the file or else `default_base`. Unknown keys are errors, so a typo cannot go unnoticed.
    pub fn from_toml(text: &str, default_base: &str) -> Result<Scenario, String> {
        let mut file: toml::Table = text.parse().map_err(|e| format!("scenario file: {e}"))?;
        let base_name = match file.remove("base") {
            Some(toml::Value::String(s)) => s,
            Some(_) => return Err("scenario file: `base` must be a preset name".into()),
            None => default_base.to_string(),
        };
        let base =
            Scenario::preset(&base_name).ok_or_else(|| format!("scenario file: unknown base preset {base_name:?}"))?;
        let named = file.contains_key("name");
        let toml::Value::Table(mut merged) = toml::Value::try_from(&base).map_err(|e| format!("scenario: {e}"))? else {
            return Err("scenario: cannot serialise the base preset".into());
        };
        merged.extend(file);
        let mut s: Scenario = toml::Value::Table(merged).try_into().map_err(|e| format!("scenario file: {e}"))?;
        if !named {
            s.name = format!("custom (based on {base_name})");
        }
        s.validate()?;
        Ok(s)
    }

    /// Rejects scenarios the generator cannot honour, with the reason.
    pub fn validate(&self) -> Result<(), String> {
        let fail = |m: &str| Err(format!("scenario {:?}: {m}", self.name));
        if self.functions.is_empty() || self.topics_per_function == 0 {
            return fail("needs at least one function and one topic per function");
        }
        if self.functions.len() * self.topics_per_function as usize > TopicId::MAX as usize {
            return fail("too many topics");
        }
        if !(self.load > 0.0 && self.load <= 2.0) {
            return fail("load must be in (0, 2]");
        }
        if !(self.duration_hours > 0.0 && self.duration_hours <= 24.0 * 366.0) || self.warmup_hours < 0.0 {
            return fail("duration_hours must be positive (at most a year), warmup_hours not negative");
        }
        if self.staffing == Staffing::Fixed && self.employees == 0 {
            return fail("fixed staffing needs employees > 0");
        }
        if self.staffing == Staffing::Shifts && self.new_questions_per_day <= 0.0 {
            return fail("shift staffing needs new_questions_per_day > 0");
        }
        if self.handle_minutes.is_nan() || self.handle_minutes <= 0.0 || self.handle_cv < 0.0 || self.sla_minutes <= 0.0
        {
            return fail("handle_minutes and sla_minutes must be positive, handle_cv not negative");
        }
        if [self.slowdown_secondary, self.slowdown_function, self.slowdown_other].iter().any(|s| *s <= 0.0) {
            return fail("slowdowns must be positive");
        }
        if self.handoff_minutes.is_nan() || self.handoff_minutes < 0.0 {
            return fail("handoff_minutes must not be negative");
        }
        if self.capacity.0 == 0 || self.capacity.0 > self.capacity.1 {
            return fail("capacity must be a range of at least 1");
        }
        let level_ok = |(lo, hi): (u8, u8)| (1..=5).contains(&lo) && (lo..=5).contains(&hi);
        if !level_ok(self.primary_level) || !level_ok(self.secondary_level) {
            return fail("skill levels must be ranges within 1-5");
        }
        if self.secondary_skills.0 > self.secondary_skills.1 {
            return fail("secondary_skills must be a range");
        }
        for p in [self.followup_prob, self.cross_function_share, self.novice_share, self.part_time_share] {
            if !(0.0..=1.0).contains(&p) {
                return fail("probabilities and shares must be within 0-1");
            }
        }
        if self.patience_minutes < 0.0 || self.followup_delay_minutes < 0.0 || self.notice_minutes <= 0.0 {
            return fail("patience and delays must not be negative (notice_minutes positive)");
        }
        if self.staffing == Staffing::Shifts
            && !(self.part_time_hours > 0.0
                && self.full_time_hours > 0.0
                && self.part_time_hours <= 24.0
                && self.full_time_hours <= 24.0)
        {
            return fail("shift lengths must be within (0, 24] hours");
        }
        if self.bursts_per_day < 0.0
            || self.burst_multiplier.0 <= 0.0
            || self.burst_multiplier.0 > self.burst_multiplier.1
            || self.burst_minutes.0 <= 0.0
            || self.burst_minutes.0 > self.burst_minutes.1
        {
            return fail("bursts need positive ranges");
        }
        if self.daily_curve.iter().any(|(h, m)| !(0.0..=24.0).contains(h) || *m < 0.0)
            || (!self.daily_curve.is_empty() && self.daily_curve.iter().all(|(_, m)| *m == 0.0))
        {
            return fail("daily_curve points need hours within 0-24 and multipliers ≥ 0, not all 0");
        }
        Ok(())
    }

    /// The arrival-rate multiplier at time of day `t`.
    pub fn curve(&self, t: Millis) -> f64 {
        let pts = &self.daily_curve;
        if pts.is_empty() {
            return 1.0;
        }
        let h = t.rem_euclid(DAY) as f64 / HOUR as f64;
        let mut sorted = pts.clone();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        // The segment around h, wrapping around midnight.
        let n = sorted.len();
        let after = sorted.iter().position(|(ph, _)| *ph > h).unwrap_or(n);
        let (h0, m0) = if after == 0 { (sorted[n - 1].0 - 24.0, sorted[n - 1].1) } else { sorted[after - 1] };
        let (h1, m1) = if after == n { (sorted[0].0 + 24.0, sorted[0].1) } else { sorted[after] };
        if h1 - h0 <= f64::EPSILON {
            return m0;
        }
        m0 + (m1 - m0) * (h - h0) / (h1 - h0)
    }

    fn handle_ms(&self) -> f64 {
        self.handle_minutes * MINUTE as f64
    }

    /// Draws a handling time on a primary skill, in ms.
    pub fn sample_handle(&self, rng: &mut StdRng) -> Millis {
        let mean = self.handle_ms();
        let v = match self.handle_dist {
            HandleDist::Exponential => exponential(rng, mean),
            HandleDist::Lognormal => lognormal(rng, mean, self.handle_cv),
        };
        (v.round() as Millis).max(1)
    }

    /// P(handling time ≤ t minutes) on a primary skill, for the Erlang C row.
    pub fn handle_cdf(&self, t_minutes: f64) -> f64 {
        if t_minutes <= 0.0 {
            return 0.0;
        }
        match self.handle_dist {
            HandleDist::Exponential => 1.0 - (-t_minutes / self.handle_minutes).exp(),
            HandleDist::Lognormal if self.handle_cv == 0.0 => {
                if t_minutes >= self.handle_minutes {
                    1.0
                } else {
                    0.0
                }
            }
            HandleDist::Lognormal => {
                let s2 = (1.0 + self.handle_cv * self.handle_cv).ln();
                let mu = self.handle_minutes.ln() - s2 / 2.0;
                super::erlang::normal_cdf((t_minutes.ln() - mu) / s2.sqrt())
            }
        }
    }

    fn patience(&self, rng: &mut StdRng) -> Millis {
        if self.patience_minutes <= 0.0 {
            NEVER
        } else {
            (exponential(rng, self.patience_minutes * MINUTE as f64).round() as Millis).max(1)
        }
    }
}

/// Uniform on [0, 1).
pub fn uniform(rng: &mut StdRng) -> f64 {
    rng.random::<f64>()
}

pub fn exponential(rng: &mut StdRng, mean: f64) -> f64 {
    // 1 − u lies in (0, 1], so the logarithm is finite.
    -mean * (1.0 - uniform(rng)).ln()
}

/// A standard normal draw (Box–Muller).
pub fn std_normal(rng: &mut StdRng) -> f64 {
    let u1 = 1.0 - uniform(rng);
    let u2 = uniform(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A lognormal draw with the given mean and coefficient of variation: σ² = ln(1 + cv²) and
/// μ = ln(mean) − σ²/2 make the mean come out as asked.
pub fn lognormal(rng: &mut StdRng, mean: f64, cv: f64) -> f64 {
    let s2 = (1.0 + cv * cv).ln();
    let mu = mean.ln() - s2 / 2.0;
    (mu + s2.sqrt() * std_normal(rng)).exp()
}

fn range_u8(rng: &mut StdRng, (lo, hi): (u8, u8)) -> u8 {
    rng.random_range(lo..=hi)
}

fn range_f64(rng: &mut StdRng, (lo, hi): (f64, f64)) -> f64 {
    lo + (hi - lo) * uniform(rng)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    pub name: String,
    pub function: FunctionId,
    /// Share of the arrivals (sums to 1 over the topics).
    pub share: f64,
}

/// A daily shift: online from `start` (time of day) for `length`, every day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shift {
    pub start: Millis,
    pub length: Millis,
}

impl Shift {
    pub fn online_at(&self, t: Millis) -> bool {
        (t - self.start).rem_euclid(DAY) < self.length
    }

    /// When the employee next logs on or off after `t`.
    pub fn next_change(&self, t: Millis) -> Millis {
        let phase = (t - self.start).rem_euclid(DAY);
        if phase < self.length { t + self.length - phase } else { t + DAY - phase }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Employee {
    pub function: FunctionId,
    pub home: TopicId,
    /// (topic, level 1-5), the home topic first.
    pub skills: Vec<(TopicId, u8)>,
    pub capacity: u8,
    pub novice: bool,
    /// `None`: online the whole time.
    pub shift: Option<Shift>,
}

/// What a follow-up will be like, drawn with its question so every policy sees the same one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FollowUpDraw {
    /// After the answer.
    pub delay: Millis,
    pub handle: Millis,
    pub patience: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    pub at: Millis,
    /// What the customer needs.
    pub topic: TopicId,
    /// What the classifier made of it, which is what routing sees (the same as `topic` unless
    /// the run models misrouting; see `misroute`).
    pub seen_topic: TopicId,
    /// Handling time on a primary skill; the engine scales it for a poorer fit.
    pub handle: Millis,
    /// How long the customer waits for a first response before giving up (`NEVER`).
    pub patience: Millis,
    pub followup: Option<FollowUpDraw>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burst {
    pub topic: TopicId,
    pub start: Millis,
    pub end: Millis,
    pub multiplier: f64,
}

/// The most loaded minute of the day, for the Erlang C yardstick: offered messages per minute
/// (follow-ups included) and online slots then.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peak {
    pub at: Millis,
    pub work_per_minute: f64,
    pub slots: u32,
}

impl Peak {
    pub fn load(&self, handle_minutes: f64) -> f64 {
        self.work_per_minute * handle_minutes / self.slots.max(1) as f64
    }
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub scenario: Scenario,
    pub scale: f64,
    pub topics: Vec<Topic>,
    pub employees: Vec<Employee>,
    pub arrivals: Vec<Arrival>,
    pub bursts: Vec<Burst>,
    pub warmup: Millis,
    /// Arrivals stop here.
    pub horizon: Millis,
    pub sla: Millis,
    pub peak: Peak,
    /// New questions per minute at curve multiplier 1.
    pub base_rate: f64,
}

/// Half hours: the staffing plan's resolution.
const SLOT: Millis = 30 * MINUTE;
const SLOTS: usize = (DAY / SLOT) as usize;

impl Workload {
    /// Draws the workforce and the arrivals. `scale` multiplies the workforce and the volume
    /// (not the durations), so a small scale is a quick run at the same load.
    pub fn generate(scenario: &Scenario, seed: u64, scale: f64) -> Result<Workload, String> {
        scenario.validate()?;
        if !(scale > 0.0 && scale <= 100.0) {
            return Err(format!("scale must be in (0, 100], not {scale}"));
        }
        let s = scenario;
        let topics = make_topics(s);
        // Separate streams, so that (say) a change to the workforce leaves the arrivals alone.
        let mut staff_rng = StdRng::seed_from_u64(seed ^ 0x5747_4146_4600_0001);
        let mut arrival_rng = StdRng::seed_from_u64(seed ^ 0x4152_5249_5600_0002);
        let day_samples: Vec<f64> = (0..DAY / MINUTE).map(|m| s.curve(m * MINUTE + MINUTE / 2)).collect();
        let mean_curve = day_samples.iter().sum::<f64>() / day_samples.len() as f64;
        let max_curve = day_samples.iter().copied().fold(0.0, f64::max);
        let work_factor = 1.0 + s.followup_prob;

        let (employees, base_rate) = match s.staffing {
            Staffing::Fixed => {
                let n = ((s.employees as f64 * scale).round() as usize).max(1);
                let employees = fixed_staff(s, &topics, n, &mut staff_rng);
                let slots: u32 = employees.iter().map(|e| e.capacity as u32).sum();
                // The busiest moment runs at `load`.
                let base = s.load * slots as f64 / s.handle_minutes / work_factor / max_curve;
                (employees, base)
            }
            Staffing::Shifts => {
                let base = s.new_questions_per_day * scale / (24.0 * 60.0) / mean_curve;
                (calibrated_shifts(s, &topics, base, &mut staff_rng), base)
            }
        };
        let peak = most_loaded_minute(s, &employees, base_rate);

        let warmup = (s.warmup_hours * HOUR as f64).round() as Millis;
        let horizon = warmup + (s.duration_hours * HOUR as f64).round() as Millis;
        let bursts = draw_bursts(s, topics.len(), warmup, horizon, &mut arrival_rng);
        let arrivals = draw_arrivals(s, &topics, &bursts, base_rate, horizon, &mut arrival_rng);
        Ok(Workload {
            scenario: s.clone(),
            scale,
            topics,
            employees,
            arrivals,
            bursts,
            warmup,
            horizon,
            sla: (s.sla_minutes * MINUTE as f64).round() as Millis,
            peak,
            base_rate,
        })
    }

    pub fn functions(&self) -> &[String] {
        &self.scenario.functions
    }

    /// Handling-time multiplier for an answer at `tier`.
    pub fn slowdown(&self, tier: crate::routing::hive::Tier) -> f64 {
        use crate::routing::hive::Tier;
        match tier {
            Tier::Primary => 1.0,
            Tier::Secondary => self.scenario.slowdown_secondary,
            Tier::Function => self.scenario.slowdown_function,
            Tier::Everyone => self.scenario.slowdown_other,
        }
    }
}

fn make_topics(s: &Scenario) -> Vec<Topic> {
    let f = s.functions.len();
    let k = s.topics_per_function as usize;
    let mut topics = Vec::with_capacity(f * k);
    // Ranked so that each function's first topic comes before any function's second: no
    // function is made of only the rarest topics.
    for j in 0..k {
        for (fi, fname) in s.functions.iter().enumerate() {
            let known = FUNCTIONS.iter().position(|n| n == fname).and_then(|p| TOPIC_NAMES[p].get(j));
            let name = match known {
                Some(n) if k <= 2 => n.to_string(),
                _ if k == 1 => fname.clone(),
                _ => format!("{fname}_{}", j + 1),
            };
            let rank = topics.len() as f64 + 1.0;
            topics.push(Topic { name, function: fi as FunctionId, share: 1.0 / rank.powf(s.topic_zipf) });
        }
    }
    let total: f64 = topics.iter().map(|t| t.share).sum();
    for t in &mut topics {
        t.share /= total;
    }
    topics
}

/// One employee with `home` as the primary skill plus the further skills the scenario asks for.
fn employee(
    s: &Scenario,
    topics: &[Topic],
    home: usize,
    capacity: u8,
    shift: Option<Shift>,
    rng: &mut StdRng,
) -> Employee {
    let function = topics[home].function;
    let mut skills = vec![(home as TopicId, range_u8(rng, s.primary_level))];
    let extra = rng.random_range(s.secondary_skills.0..=s.secondary_skills.1) as usize;
    let own: Vec<usize> = (0..topics.len()).filter(|t| *t != home && topics[*t].function == function).collect();
    let other: Vec<usize> = (0..topics.len()).filter(|t| topics[*t].function != function).collect();
    for _ in 0..extra {
        let cross = own.is_empty() || uniform(rng) < s.cross_function_share;
        let pool = if cross { &other } else { &own };
        let candidates: Vec<usize> =
            pool.iter().copied().filter(|t| !skills.iter().any(|(st, _)| *st as usize == *t)).collect();
        if candidates.is_empty() {
            continue;
        }
        let t = candidates[rng.random_range(0..candidates.len())];
        skills.push((t as TopicId, range_u8(rng, s.secondary_level)));
    }
    Employee { function, home: home as TopicId, skills, capacity, novice: uniform(rng) < s.novice_share, shift }
}

/// Fixed staffing: home topics handed out so that each topic's slots match its share of the work.
fn fixed_staff(s: &Scenario, topics: &[Topic], n: usize, rng: &mut StdRng) -> Vec<Employee> {
    let caps: Vec<u8> = (0..n).map(|_| range_u8(rng, s.capacity)).collect();
    let total: f64 = caps.iter().map(|c| *c as f64).sum();
    let mut given = vec![0.0; topics.len()];
    let mut out = Vec::with_capacity(n);
    for cap in caps {
        let home = (0..topics.len())
            .max_by(|a, b| {
                let da = topics[*a].share * total - given[*a];
                let db = topics[*b].share * total - given[*b];
                da.total_cmp(&db).then(b.cmp(a))
            })
            .unwrap_or(0);
        given[home] += cap as f64;
        out.push(employee(s, topics, home, cap, None, rng));
    }
    shuffle(&mut out, rng);
    out
}

/// Shift plans whose most loaded minute runs at the scenario's `load`, not below it. Whole
/// people on whole shifts overshoot every half hour's need, so a plan made for `load` runs
/// lighter (about 0.85 for 0.9); the planning load is raised by bisection until the realised
/// peak is as close under `load` as the plan allows. Each try draws the same people.
fn calibrated_shifts(s: &Scenario, topics: &[Topic], base_rate: f64, rng: &mut StdRng) -> Vec<Employee> {
    let start = rng.clone();
    let realised = |staff: &[Employee]| most_loaded_minute(s, staff, base_rate).load(s.handle_minutes);
    let mut best = shift_staff(s, topics, base_rate, s.load, rng);
    let mut best_load = realised(&best);
    let (mut lo, mut hi) = (s.load, s.load * 1.5);
    for _ in 0..16 {
        let plan = 0.5 * (lo + hi);
        let mut r = start.clone();
        let staff = shift_staff(s, topics, base_rate, plan, &mut r);
        let load = realised(&staff);
        if load <= s.load + 1e-9 {
            lo = plan;
            if load > best_load {
                best_load = load;
                best = staff;
                *rng = r;
            }
        } else {
            hi = plan;
        }
    }
    best
}

/// Shift staffing: for each topic, shifts are added at the first half hour (from the daily
/// trough on) whose planned slots fall short of the work at `plan_load`, until none does.
/// Secondary skills are extra cover, not planned on.
fn shift_staff(s: &Scenario, topics: &[Topic], base_rate: f64, plan_load: f64, rng: &mut StdRng) -> Vec<Employee> {
    let need_total: Vec<f64> = (0..SLOTS)
        .map(|slot| {
            // The half hour's busiest minute, not its average: the plan must hold throughout.
            let busiest = (0..30).map(|m| s.curve(slot as Millis * SLOT + m * MINUTE)).fold(0.0, f64::max);
            base_rate * busiest * (1.0 + s.followup_prob) * s.handle_minutes / plan_load
        })
        .collect();
    let trough = (0..SLOTS).min_by(|a, b| need_total[*a].total_cmp(&need_total[*b])).unwrap_or(0);
    let mut out = Vec::new();
    for (t, topic) in topics.iter().enumerate() {
        let mut cover = vec![0.0; SLOTS];
        loop {
            let gap = (0..SLOTS)
                .map(|i| (trough + i) % SLOTS)
                .find(|slot| cover[*slot] + 1e-9 < topic.share * need_total[*slot]);
            let Some(slot) = gap else { break };
            let hours = if uniform(rng) < s.part_time_share { s.part_time_hours } else { s.full_time_hours };
            let len = ((hours * 2.0).round() as usize).clamp(1, SLOTS);
            let cap = range_u8(rng, s.capacity);
            for j in 0..len {
                cover[(slot + j) % SLOTS] += cap as f64;
            }
            let shift = Shift { start: slot as Millis * SLOT, length: len as Millis * SLOT };
            out.push(employee(s, topics, t, cap, Some(shift), rng));
        }
    }
    shuffle(&mut out, rng);
    out
}

fn shuffle<T>(v: &mut [T], rng: &mut StdRng) {
    // Employee order decides ties in routing; shuffled so no topic or shift is favoured by it.
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

fn most_loaded_minute(s: &Scenario, employees: &[Employee], base_rate: f64) -> Peak {
    let mut best = Peak { at: 0, work_per_minute: 0.0, slots: 0 };
    let mut best_load = -1.0;
    for slot in 0..SLOTS as Millis {
        for m in 0..30 {
            let t = slot * SLOT + m * MINUTE;
            let work = base_rate * s.curve(t) * (1.0 + s.followup_prob);
            let slots: u32 =
                employees.iter().filter(|e| e.shift.is_none_or(|sh| sh.online_at(t))).map(|e| e.capacity as u32).sum();
            let load = work * s.handle_minutes / slots.max(1) as f64;
            if load > best_load + 1e-12 {
                best_load = load;
                best = Peak { at: t, work_per_minute: work, slots };
            }
        }
        if s.staffing == Staffing::Fixed && s.daily_curve.is_empty() {
            break; // steady: every minute is the same
        }
    }
    best
}

fn draw_bursts(s: &Scenario, topics: usize, warmup: Millis, horizon: Millis, rng: &mut StdRng) -> Vec<Burst> {
    let days = (horizon - warmup) as f64 / DAY as f64;
    let n = (s.bursts_per_day * days).round() as usize;
    let mut bursts: Vec<Burst> = (0..n)
        .map(|_| {
            let start = warmup + (uniform(rng) * (horizon - warmup) as f64) as Millis;
            let len = (range_f64(rng, s.burst_minutes) * MINUTE as f64) as Millis;
            Burst {
                topic: rng.random_range(0..topics) as TopicId,
                start,
                end: (start + len).min(horizon),
                multiplier: range_f64(rng, s.burst_multiplier),
            }
        })
        .collect();
    bursts.sort_by_key(|b| b.start);
    bursts
}

/// A non-homogeneous Poisson process, exact for a rate that is constant within each minute:
/// unit-exponential amounts of integrated rate are spent minute by minute.
fn draw_arrivals(
    s: &Scenario,
    topics: &[Topic],
    bursts: &[Burst],
    base_rate: f64,
    horizon: Millis,
    rng: &mut StdRng,
) -> Vec<Arrival> {
    let mut out = Vec::with_capacity((base_rate * horizon as f64 / MINUTE as f64 * 1.1) as usize);
    let mut rates = vec![0.0; topics.len()];
    let mut left = exponential(rng, 1.0);
    for minute in 0..(horizon + MINUTE - 1) / MINUTE {
        let t0 = minute * MINUTE;
        let mid = t0 + MINUTE / 2;
        let curve = s.curve(mid);
        for (i, t) in topics.iter().enumerate() {
            let burst: f64 = bursts
                .iter()
                .filter(|b| b.topic as usize == i && b.start <= mid && mid < b.end)
                .map(|b| b.multiplier)
                .product();
            rates[i] = base_rate * curve * t.share * burst;
        }
        let total: f64 = rates.iter().sum();
        let end = (t0 + MINUTE).min(horizon);
        let mut at = t0 as f64;
        if total <= 0.0 {
            continue;
        }
        loop {
            // `left` is in units of expected arrivals; the minute's rate is per minute.
            let dt = left / total * MINUTE as f64;
            if at + dt >= end as f64 {
                left -= (end as f64 - at) / MINUTE as f64 * total;
                break;
            }
            at += dt;
            left = exponential(rng, 1.0);
            let mut pick = uniform(rng) * total;
            let mut topic = topics.len() - 1;
            for (i, r) in rates.iter().enumerate() {
                if pick < *r {
                    topic = i;
                    break;
                }
                pick -= r;
            }
            let followup = (uniform(rng) < s.followup_prob).then(|| FollowUpDraw {
                delay: (exponential(rng, s.followup_delay_minutes * MINUTE as f64).round() as Millis).max(1),
                handle: s.sample_handle(rng),
                patience: s.patience(rng),
            });
            out.push(Arrival {
                at: at as Millis,
                topic: topic as TopicId,
                seen_topic: topic as TopicId,
                handle: s.sample_handle(rng),
                patience: s.patience(rng),
                followup,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lognormal_has_the_asked_mean_and_spread() {
        let mut rng = StdRng::seed_from_u64(7);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| lognormal(&mut rng, 4.0, 1.0)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!((mean - 4.0).abs() < 0.08, "{mean}");
        assert!((var.sqrt() / mean - 1.0).abs() < 0.08, "cv {}", var.sqrt() / mean);
    }

    #[test]
    fn the_daily_curve_interpolates_and_wraps() {
        let s = Scenario::week();
        assert!((s.curve(5 * HOUR) - 0.3).abs() < 1e-9);
        assert!((s.curve(12 * HOUR) - 1.6).abs() < 1e-9);
        assert!((s.curve(23 * HOUR) - 0.875).abs() < 1e-9, "between 22h (1.2) and 0h (0.55)");
        assert!((s.curve(DAY + 12 * HOUR) - 1.6).abs() < 1e-9);
        assert_eq!(Scenario::peak().curve(3 * HOUR), 1.0);
    }

    #[test]
    fn shifts_wrap_around_midnight() {
        let night = Shift { start: 22 * HOUR, length: 8 * HOUR };
        assert!(night.online_at(23 * HOUR) && night.online_at(DAY + 5 * HOUR) && night.online_at(0));
        assert!(!night.online_at(6 * HOUR));
        assert_eq!(night.next_change(HOUR), 6 * HOUR);
        assert_eq!(night.next_change(7 * HOUR), 22 * HOUR);
    }

    #[test]
    fn the_same_seed_draws_the_same_world() {
        let s = Scenario::week();
        let a = Workload::generate(&s, 3, 0.05).unwrap();
        let b = Workload::generate(&s, 3, 0.05).unwrap();
        assert_eq!(a.arrivals, b.arrivals);
        assert_eq!(a.employees, b.employees);
        let c = Workload::generate(&s, 4, 0.05).unwrap();
        assert_ne!(a.arrivals, c.arrivals);
    }

    #[test]
    fn shift_plans_hold_the_load_everywhere() {
        let s = Scenario::week();
        let w = Workload::generate(&s, 1, 0.2).unwrap();
        assert!(w.peak.load(s.handle_minutes) <= s.load + 1e-9, "{:?}", w.peak);
        assert!(w.peak.load(s.handle_minutes) > s.load * 0.9, "{:?}", w.peak);
        // Volume: about 30,600 × 0.2 new questions a day.
        let per_day = w.arrivals.len() as f64 / 7.0;
        assert!((per_day / (30_600.0 * 0.2) - 1.0).abs() < 0.1, "{per_day}");
        for e in &w.employees {
            assert!(e.skills[0].1 >= 3 && e.skills.len() <= 3 && (1..=3).contains(&e.capacity));
            assert_eq!(w.topics[e.home as usize].function, e.function);
        }
    }

    #[test]
    fn fixed_staff_sets_the_rate_from_the_load() {
        let s = Scenario::peak();
        let w = Workload::generate(&s, 1, 0.1).unwrap();
        assert_eq!(w.employees.len(), 300);
        assert!((w.peak.load(s.handle_minutes) - 0.95).abs() < 1e-9);
        let per_min = w.arrivals.len() as f64 / (w.horizon as f64 / MINUTE as f64);
        assert!((per_min / w.base_rate - 1.0).abs() < 0.05, "{per_min} vs {}", w.base_rate);
    }

    #[test]
    fn toml_overrides_a_preset_and_rejects_typos() {
        let s = Scenario::from_toml("base = \"peak\"\nemployees = 120\nload = 0.8\n", "week").unwrap();
        assert_eq!((s.employees, s.load, s.staffing), (120, 0.8, Staffing::Fixed));
        assert!(s.name.contains("peak"));
        let err = Scenario::from_toml("employes = 3", "week").unwrap_err();
        assert!(err.contains("employes"), "{err}");
        assert!(Scenario::from_toml("load = -1", "week").is_err());
        let curve = Scenario::from_toml("daily_curve = [[0, 1], [12, 2]]\nburst_minutes = [10, 20]", "week").unwrap();
        assert_eq!(curve.daily_curve, vec![(0.0, 1.0), (12.0, 2.0)]);
    }
}
