//! `helphive bench`: claim+reply through the HTTP API with many simulated agents, against the same
//! transactions called straight on the store (SQLite, same file settings), in one run. Prints
//! both and their ratio. Each simulated agent owns one question and cycles it: claim, reply,
//! resolve, reopen; claim and reply are the measured operations, resolve and reopen only put the
//! question back so the cycle can repeat.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::clock::{SystemClock, now_ms};
use crate::config::Config;
use crate::model::{Agent, Customer, Role, Skill};
use crate::routing;
use crate::server::{self, AppState};
use crate::store::{NewAgent, NewInbound, Store, StoreOptions};

pub struct BenchOptions {
    pub agents: usize,
    pub seconds: u64,
    pub think_ms: u64,
    /// Where the phases' databases go instead of fresh files in a temporary directory:
    /// `sqlite::memory:`, or a path to which each phase appends its own suffix (`.store.db`,
    /// `.api.db`), since each phase sets up its agents afresh.
    pub database: Option<String>,
    pub config: Config,
}

#[derive(Default)]
struct Sample {
    cycles: u64,
    errors: u64,
    claim_us: Vec<u32>,
    reply_us: Vec<u32>,
}

impl Sample {
    fn merge(&mut self, other: Sample) {
        self.cycles += other.cycles;
        self.errors += other.errors;
        self.claim_us.extend(other.claim_us);
        self.reply_us.extend(other.reply_us);
    }
}

struct Report {
    name: String,
    per_sec: f64,
    errors: u64,
    claim: (f64, f64),
    reply: (f64, f64),
}

fn pct_ms(v: &mut [u32], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable();
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1] as f64 / 1000.0
}

fn report(name: &str, mut s: Sample, secs: f64) -> Report {
    Report {
        name: name.to_string(),
        per_sec: s.cycles as f64 / secs,
        errors: s.errors,
        claim: (pct_ms(&mut s.claim_us, 50.0), pct_ms(&mut s.claim_us, 99.0)),
        reply: (pct_ms(&mut s.reply_us, 50.0), pct_ms(&mut s.reply_us, 99.0)),
    }
}

/// One store, N agents, one question each.
async fn setup(database: &str, config: &Config, n: usize) -> Result<(Store, Vec<(Agent, String, i64)>), String> {
    let store = Store::open(&StoreOptions {
        database: database.to_string(),
        durability: config.server.durability,
        events_retained: config.server.events_retained,
    })
    .await
    .map_err(|e| format!("cannot open {database}: {e}"))?;
    let functions: Vec<String> = config.functions.iter().map(|f| f.name.clone()).collect();
    let topic = config.topics.first().ok_or("the configuration has no topics")?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (agent, token) = store
            .add_agent(
                NewAgent {
                    handle: format!("bench{i}"),
                    display_name: format!("Bench agent {i}"),
                    function: topic.function.clone(),
                    role: Role::Agent,
                    novice: false,
                    mentor: None,
                    capacity: 1,
                    skills: vec![Skill { topic: topic.name.clone(), proficiency: 3 }],
                    signature: String::new(),
                },
                &functions,
                now_ms(),
            )
            .await
            .map_err(|e| e.to_string())?;
        let text = format!("my {} question number {i}", topic.keywords.first().map(String::as_str).unwrap_or("setup"));
        let class = routing::classify(config, "webhook", &text);
        let q = store
            .inbound(
                NewInbound {
                    channel: "webhook".into(),
                    external_id: format!("bench-{i}"),
                    customer: Customer { handle: format!("customer{i}"), name: format!("Customer {i}") },
                    text,
                    conversation_id: None,
                    in_reply_to: None,
                    received_at: None,
                    priority: None,
                },
                &class,
                600_000,
                now_ms(),
            )
            .await
            .map_err(|e| e.to_string())?;
        out.push((agent, token, q.question.id));
    }
    Ok((store, out))
}

fn think(mean_ms: u64) -> Duration {
    if mean_ms == 0 {
        return Duration::ZERO;
    }
    use rand::Rng;
    // Exponential pauses, so arrivals at the server are roughly Poisson.
    let u: f64 = rand::rng().random_range(f64::EPSILON..1.0);
    Duration::from_micros((-u.ln() * mean_ms as f64 * 1000.0) as u64)
}

async fn run_store_phase(store: &Store, agents: &[(Agent, String, i64)], secs: u64) -> Sample {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let lease = 600_000;
    let mut tasks = Vec::new();
    for (i, (agent, _, qid)) in agents.iter().cloned().enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = Sample::default();
            let mut n = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                if store.claim(qid, &agent, lease, now_ms()).await.is_err() {
                    s.errors += 1;
                    continue;
                }
                s.claim_us.push(t.elapsed().as_micros() as u32);
                let t = Instant::now();
                let key = format!("b{i}-{n}");
                n += 1;
                if store
                    .reply(qid, &agent, "Thanks for asking: here is how.", Some(&key), lease, now_ms())
                    .await
                    .is_err()
                {
                    s.errors += 1;
                }
                s.reply_us.push(t.elapsed().as_micros() as u32);
                let ok = store.resolve(qid, &agent, false, now_ms()).await.is_ok()
                    && store.reopen(qid, &agent, now_ms()).await.is_ok();
                if ok {
                    s.cycles += 1;
                } else {
                    s.errors += 1;
                }
            }
            s
        }));
    }
    let mut total = Sample::default();
    for t in tasks {
        if let Ok(s) = t.await {
            total.merge(s);
        }
    }
    total
}

async fn run_api_phase(base: &str, agents: &[(Agent, String, i64)], secs: u64, think_ms: u64) -> Sample {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    // One HTTP client shared by all simulated agents, as one process would; tokens differ.
    let Ok(shared) = Client::new(base, "") else { return Sample::default() };
    for (i, (_, token, qid)) in agents.iter().cloned().enumerate() {
        let client = shared.with_token(&token);
        tasks.push(tokio::spawn(async move {
            let mut s = Sample::default();
            let mut n = 0u64;
            // Spread the first actions out so the agents do not all start at one instant.
            tokio::time::sleep(think(think_ms)).await;
            while Instant::now() < deadline {
                let t = Instant::now();
                if client.claim(qid).await.is_err() {
                    s.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                s.claim_us.push(t.elapsed().as_micros() as u32);
                tokio::time::sleep(think(think_ms)).await;
                let t = Instant::now();
                let key = format!("a{i}-{n}");
                n += 1;
                if client.reply(qid, "Thanks for asking: here is how.", &key).await.is_err() {
                    s.errors += 1;
                }
                s.reply_us.push(t.elapsed().as_micros() as u32);
                let ok = client.resolve(qid).await.is_ok() && client.reopen(qid).await.is_ok();
                if ok {
                    s.cycles += 1;
                } else {
                    s.errors += 1;
                }
                tokio::time::sleep(think(think_ms)).await;
            }
            s
        }));
    }
    let mut total = Sample::default();
    for t in tasks {
        if let Ok(s) = t.await {
            total.merge(s);
        }
    }
    total
}

pub async fn run(opts: BenchOptions) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("helphive-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let db = |name: &str| match &opts.database {
        Some(d) if d.contains(":memory:") => d.clone(),
        Some(d) => format!("{d}.{name}"),
        None => dir.join(name).display().to_string(),
    };
    let n = opts.agents.max(1);
    println!(
        "helphive bench: {n} simulated agents, {} s per phase, SQLite file, durability {:?}",
        opts.seconds, opts.config.server.durability
    );
    println!("setting up {n} agents and questions for the store phase ...");
    let (store, agents) = setup(&db("store.db"), &opts.config, n).await?;
    println!("phase 1/3: store (no HTTP), every agent back-to-back ...");
    // The same background checkpoints the server runs.
    let checkpoints = {
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let _ = store.checkpoint().await;
            }
        })
    };
    let raw = report("store, saturated", run_store_phase(&store, &agents, opts.seconds).await, opts.seconds as f64);
    checkpoints.abort();
    store.close().await;

    println!("setting up {n} agents and questions for the API phases ...");
    let (store, agents) = setup(&db("api.db"), &opts.config, n).await?;
    let state = AppState::new(store.clone(), opts.config.clone(), Arc::new(SystemClock), None);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| format!("cannot bind a loopback port: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let jobs = server::spawn_jobs(state.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, server::app(state)).await;
    });
    let base = format!("http://{addr}");
    println!("phase 2/3: HTTP API, every agent back-to-back ...");
    let api = report("API, saturated", run_api_phase(&base, &agents, opts.seconds, 0).await, opts.seconds as f64);
    println!("phase 3/3: HTTP API, agents pausing {} ms on average between actions ...", opts.think_ms);
    let paced = report(
        &format!("API, {} ms pauses", opts.think_ms),
        run_api_phase(&base, &agents, opts.seconds, opts.think_ms).await,
        opts.seconds as f64,
    );
    server.abort();
    jobs.abort();
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);

    println!();
    println!(
        "{:<24} {:>10} {:>7} {:>10} {:>10} {:>10} {:>10}",
        "phase", "cycles/s", "errors", "claim p50", "claim p99", "reply p50", "reply p99"
    );
    for r in [&raw, &api, &paced] {
        println!(
            "{:<24} {:>10.0} {:>7} {:>8.2}ms {:>8.2}ms {:>8.2}ms {:>8.2}ms",
            r.name, r.per_sec, r.errors, r.claim.0, r.claim.1, r.reply.0, r.reply.1
        );
    }
    println!();
    let ratio = api.per_sec / raw.per_sec;
    println!("throughput ratio API / store: {ratio:.2} (goal >= 0.50)");
    println!(
        "claim p99 with {n} agents pausing {} ms: {:.2} ms (goal <= 10 ms); saturated: {:.2} ms",
        opts.think_ms, paced.claim.1, api.claim.1
    );
    println!("(client and server share this machine's cores in the API phases)");
    Ok(())
}
