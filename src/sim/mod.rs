//! `helphive sim`: a discrete-event simulator in virtual time that drives the real routing core
//! (`routing::hive`) and compares routing policies on the same sample path, against a pooled
//! oracle and Erlang C.
//!
//! `workload` draws the world from a seed (presets or a TOML file), `engine` runs the event loop
//! for one policy, `policies` holds the policies, `erlang` the queueing theory, `probe` times the
//! routing core on a large state, and `report` prints the tables.

pub mod engine;
pub mod erlang;
pub mod misroute;
pub mod policies;
pub mod probe;
pub mod report;
pub mod workload;

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

pub use engine::{Outcome, Stats, Timing};
pub use erlang::ErlangC;
pub use misroute::{Confusion, Misrouting};
pub use policies::PolicyKind;
pub use workload::{Scenario, Workload};

/// What `helphive sim` was asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    /// "peak" | "week" | "pooled" (the Erlang C check); with `scenario`, the preset the file's
    /// keys override unless the file names its own `base`.
    pub preset: String,
    /// A TOML file with a custom workload.
    pub scenario: Option<PathBuf>,
    pub seed: u64,
    /// Policy names; `None` = all.
    pub policies: Option<Vec<String>>,
    /// 1.0 = the preset's full size; smaller multiplies the workforce and the volume down (same
    /// load, same durations) for quick runs.
    pub scale: f64,
    /// Classification errors: when given, every policy also runs on the same workload with
    /// topics as a classifier would see them, and the report shows both.
    pub misrouting: Option<Misrouting>,
}

impl Default for SimOptions {
    fn default() -> SimOptions {
        SimOptions { preset: "peak".into(), scenario: None, seed: 1, policies: None, scale: 1.0, misrouting: None }
    }
}

/// (name, one-line description) of each preset, for `--help`.
pub fn presets() -> &'static [(&'static str, &'static str)] {
    &[
        (
            "peak",
            "steady peak: 3,000 employees in 6 functions all online, load 0.95, 2 h after a 30-min warm-up; plus a routing-latency probe at 10,000 waiting",
        ),
        (
            "week",
            "seven days (~300,000 messages): daily curve 0.3×-1.6×, one topic burst a day, part-time shifts planned for load 0.9",
        ),
        (
            "pooled",
            "the Erlang C check: 100 interchangeable agents, one topic, exponential handling, no follow-ups or abandonment, load 0.9",
        ),
    ]
}

/// (name, description) of each policy, for `--help`.
pub fn policy_names() -> Vec<(&'static str, &'static str)> {
    PolicyKind::ALL.iter().map(|k| (k.name(), k.describe())).collect()
}

/// Resolves the options into a scenario.
pub fn scenario_for(opts: &SimOptions) -> Result<Scenario, String> {
    match &opts.scenario {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the scenario file {}: {e}", path.display()))?;
            Scenario::from_toml(&text, &opts.preset)
        }
        None => Scenario::preset(&opts.preset).ok_or_else(|| {
            let names: Vec<&str> = presets().iter().map(|(n, _)| *n).collect();
            format!("unknown preset {:?}: choose one of {}", opts.preset, names.join(", "))
        }),
    }
}

/// Parses policy names (`None` = all), in the canonical order.
pub fn parse_policies(names: Option<&[String]>) -> Result<Vec<PolicyKind>, String> {
    let Some(names) = names else { return Ok(PolicyKind::ALL.to_vec()) };
    let mut kinds = Vec::new();
    for n in names.iter().flat_map(|n| n.split(',')).filter(|n| !n.trim().is_empty()) {
        let k = PolicyKind::parse(n).ok_or_else(|| {
            let all: Vec<&str> = PolicyKind::ALL.iter().map(|k| k.name()).collect();
            format!("unknown policy {:?}: choose from {}", n.trim(), all.join(", "))
        })?;
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    if kinds.is_empty() {
        return Err("no policy given".into());
    }
    kinds.sort_by_key(|k| PolicyKind::ALL.iter().position(|a| a == k));
    Ok(kinds)
}

/// Runs one policy over a workload.
pub fn simulate_one(work: &Workload, kind: PolicyKind, seed: u64) -> Outcome {
    let mut policy = policies::make(kind, work, seed);
    let engine = engine::Engine::new(work, seed, policy.pooled());
    let mut outcome = engine.run(policy.as_mut());
    outcome.stats.policy = kind.name().to_string();
    outcome
}

/// Runs several policies over the same workload, on up to `threads` threads; results in the
/// order given.
pub fn simulate(work: &Workload, kinds: &[PolicyKind], seed: u64, threads: usize) -> Vec<(PolicyKind, Outcome)> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; kinds.len()]);
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, kinds.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(kind) = kinds.get(i) else { break };
                    let o = simulate_one(work, *kind, seed);
                    // A poisoned lock means another worker panicked; the scope re-raises that.
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(o);
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    kinds.iter().copied().zip(results).filter_map(|(k, o)| o.map(|o| (k, o))).collect()
}

/// Runs the simulation(s) and returns the printed report (a plain-text table) or a clear error.
pub fn run(opts: &SimOptions) -> Result<String, String> {
    let started = Instant::now();
    let scenario = scenario_for(opts)?;
    let kinds = parse_policies(opts.policies.as_deref())?;
    let work = Workload::generate(&scenario, opts.seed, opts.scale)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(kinds.len());
    let outcomes = simulate(&work, &kinds, opts.seed, threads);
    let realistic = opts.misrouting.as_ref().map(|m| {
        let seen = misroute::apply(&work, m, opts.seed);
        let outcomes = simulate(&seen, &kinds, opts.seed, threads);
        report::Realistic { misrouting: m.describe(), outcomes }
    });
    let wall_s = started.elapsed().as_secs_f64();
    // The probe runs after the timed simulation: it is a separate measurement.
    let probe = (scenario.probe_waiting > 0).then(|| {
        let waiting = ((scenario.probe_waiting as f64 * opts.scale).round() as usize).max(1);
        probe::probe(&work, waiting, opts.seed)
    });
    Ok(report::Report {
        work: &work,
        seed: opts.seed,
        outcomes: &outcomes,
        realistic: realistic.as_ref(),
        probe: probe.as_ref(),
        wall_s,
        threads,
    }
    .render())
}
