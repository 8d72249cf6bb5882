//! `helphive demo`: a scripted hive with no set-up. The real server runs in-process on
//! 127.0.0.1 with an in-memory database and the built-in configuration; a scenario (TOML,
//! `scenarios/default.toml` unless a file is given) makes customers ask and simulated colleagues
//! claim, answer, resolve and review, all through the real HTTP API. The person watching is a
//! real agent account with a token, so the terminal client works against the demo exactly as it
//! would against a team's server.
//!
//! Time: the scenario's seconds pass `speed` times as fast as real ones, and the server's clock
//! runs at the same pace ([`DemoWorld::now_ms`]), so deadlines and response times in the queue
//! and the statistics are in scenario time.

pub mod scenario;
mod summary;
mod world;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

pub use scenario::Scenario;
pub use summary::{DeadlineReport, DemoSummary, FollowUpReport, PendingReply, ReviewedReply};

use crate::client::Client;
use crate::clock::Clock;
use crate::config::Config;
use crate::model::{AgentStatus, Millis, Role};
use crate::server::{self, AppState};
use crate::store::{NewAgent, Store};
use world::{Colleague, ScenarioClock, Shared};

/// Slowest and fastest speeds: below, nothing happens for minutes; above, colleagues' polling
/// (which has a real-time floor) can no longer keep pace with scenario time.
pub const MIN_SPEED: f64 = 0.05;
pub const MAX_SPEED: f64 = 1000.0;

/// Longest run `run_headless` and `parse_duration` accept.
const MAX_RUN: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// A scenario file; `None` plays the built-in default.
    pub scenario: Option<PathBuf>,
    /// Scenario seconds per real second.
    pub speed: f64,
    /// The demo user's role: agent, mentor (then they review the novice's replies) or lead.
    pub role: Role,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions { scenario: None, speed: 1.0, role: Role::Agent }
    }
}

/// A running demo: the server and the world around the user. Dropping it stops everything
/// abruptly; [`DemoWorld::shutdown`] stops it in order.
pub struct DemoWorld {
    pub base_url: String,
    /// The demo user's bearer token.
    pub user_token: String,
    pub user_handle: String,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    /// Arrivals, colleagues and reviewers.
    tasks: JoinSet<()>,
    server: Option<tokio::task::JoinHandle<()>>,
    server_quit: Option<oneshot::Sender<()>>,
    jobs: Option<tokio::task::JoinHandle<()>>,
    store: Store,
    /// Scenario seconds at which the world was stopped, if it was.
    stopped_at: Option<f64>,
}

impl Drop for DemoWorld {
    fn drop(&mut self) {
        // The JoinSet aborts its tasks by itself; plain handles do not.
        if let Some(h) = self.server.take() {
            h.abort();
        }
        if let Some(h) = self.jobs.take() {
            h.abort();
        }
    }
}

impl DemoWorld {
    /// The scenario being played (name, description, people, timeline).
    pub fn scenario(&self) -> &Scenario {
        &self.shared.scenario
    }

    pub fn scenario_name(&self) -> &str {
        &self.shared.scenario.scenario.name
    }

    /// The scenario's own length (its `duration_seconds`).
    pub fn scenario_duration(&self) -> Duration {
        self.shared.scenario.duration()
    }

    /// Scenario time since the start.
    pub fn elapsed(&self) -> Duration {
        Duration::try_from_secs_f64(self.shared.clock.elapsed()).unwrap_or(Duration::ZERO)
    }

    /// "Now" on the demo server's clock (ms since the Unix epoch), which runs `speed` times as
    /// fast as the wall clock: ages and deadlines of questions are measured against this.
    pub fn now_ms(&self) -> Millis {
        self.shared.clock.now_ms()
    }

    /// The demo server's clock, for a client that shows ages and deadlines: at any speed but 1
    /// the wall clock would disagree with the server about how long a customer has waited.
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(self.shared.clock.clone())
    }

    /// What the run has shown so far. Works while the world runs and after it stopped.
    pub async fn summary(&self) -> Result<DemoSummary, String> {
        let secs = self.stopped_at.unwrap_or_else(|| self.shared.clock.elapsed());
        summary::gather(&self.shared, &self.user_handle, secs).await
    }

    /// Stops arrivals and colleagues, letting each finish the call it is in, so what is read
    /// afterwards is a settled state.
    async fn stop_world(&mut self) {
        if self.stopped_at.is_none() {
            self.stopped_at = Some(self.shared.clock.elapsed());
        }
        let _ = self.stop.send(true);
        let all_done = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(5), all_done).await.is_err() {
            tracing::warn!("demo world: tasks did not stop within 5 s; aborting them");
            self.tasks.abort_all();
        }
    }

    /// Stops the world, then the server (in-flight requests finish; open event streams are cut
    /// after two seconds) and its background jobs.
    pub async fn shutdown(mut self) {
        self.stop_world().await;
        if let Some(quit) = self.server_quit.take() {
            let _ = quit.send(());
        }
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(Duration::from_secs(2), &mut server).await.is_err()
        {
            server.abort();
        }
        if let Some(jobs) = self.jobs.take() {
            jobs.abort();
        }
        self.store.close().await;
    }

    /// Creates the user and the colleagues through the API, puts the colleagues online and
    /// starts the world's tasks.
    async fn populate(&mut self, role: Role, stop: watch::Receiver<bool>) -> Result<(), String> {
        let shared = self.shared.clone();
        let scenario = shared.scenario.clone();
        let admin = &shared.admin;
        let u = &scenario.user;
        let (_, token) = admin
            .add_agent(&NewAgent {
                handle: u.handle.clone(),
                display_name: u.name.clone(),
                function: u.function.clone(),
                role,
                novice: false,
                mentor: None,
                capacity: u.capacity,
                skills: Scenario::skills(&u.skills),
                signature: String::new(),
            })
            .await
            .map_err(|e| format!("demo: cannot create the user @{}: {e}", u.handle))?;
        self.user_token = token;

        // Mentors must exist before their novices.
        let mut order: Vec<_> = scenario.colleagues.iter().collect();
        order.sort_by_key(|c| c.novice);
        let mut colleagues = Vec::new();
        for c in order {
            // A mentor user reviews the novices themselves: that is the point of the role.
            let mentor = if c.novice && role == Role::Mentor { Some(u.handle.clone()) } else { c.mentor.clone() };
            let (_, token) = admin
                .add_agent(&NewAgent {
                    handle: c.handle.clone(),
                    display_name: c.name.clone(),
                    function: c.function.clone(),
                    role: c.role,
                    novice: c.novice,
                    mentor: mentor.clone(),
                    capacity: c.capacity,
                    skills: Scenario::skills(&c.skills),
                    signature: initials(&c.name),
                })
                .await
                .map_err(|e| format!("demo: cannot create colleague @{}: {e}", c.handle))?;
            let client = admin.with_token(&token);
            // Online, so follow-ups can come back to them.
            client
                .set_status(AgentStatus::Online)
                .await
                .map_err(|e| format!("demo: cannot put @{} online: {e}", c.handle))?;
            colleagues.push((c.clone(), client, mentor));
        }
        let mentor_of: Vec<(String, String)> =
            colleagues.iter().filter_map(|(c, _, m)| m.clone().map(|m| (c.handle.clone(), m))).collect();
        for (spec, client, _) in colleagues {
            let mentees: Vec<String> =
                mentor_of.iter().filter(|(_, m)| *m == spec.handle).map(|(n, _)| n.clone()).collect();
            let reviews = !mentees.is_empty();
            let me = Arc::new(Colleague { spec, client, mentees });
            self.tasks.spawn(world::work(shared.clone(), me.clone(), stop.clone()));
            if reviews {
                self.tasks.spawn(world::review(shared.clone(), me, stop.clone()));
            }
        }
        self.tasks.spawn(world::arrivals(shared, stop));
        Ok(())
    }
}

/// "^IV" for Ines Varga: the sign-off social care teams put under replies.
fn initials(name: &str) -> String {
    let letters: String = name.split_whitespace().filter_map(|w| w.chars().next()).collect();
    format!("^{}", letters.to_uppercase())
}

fn check_speed(speed: f64) -> Result<(), String> {
    if !(speed.is_finite() && (MIN_SPEED..=MAX_SPEED).contains(&speed)) {
        return Err(format!("demo speed must be from {MIN_SPEED} to {MAX_SPEED}, not {speed}"));
    }
    Ok(())
}

/// Starts the real server in-process on 127.0.0.1:0 (in-memory database, built-in config,
/// background jobs) and the scripted world (arrivals + simulated colleagues) in background tasks.
/// Returns as soon as the accounts exist: the world plays on in the background.
pub async fn start(opts: &DemoOptions) -> Result<DemoWorld, String> {
    check_speed(opts.speed)?;
    let scenario = Arc::new(Scenario::load(opts.scenario.as_deref())?);
    let config = Config::builtin();
    // The topic model is trained at its first use; train it before the scenario's clock starts,
    // off the async threads, so the first arrival does not stall the world while it runs on.
    tokio::task::spawn_blocking(|| drop(crate::routing::default_model()))
        .await
        .map_err(|e| format!("demo: the topic model could not be trained: {e}"))?;
    let clock = ScenarioClock::new(opts.speed);
    let store = Store::in_memory().await.map_err(|e| format!("demo: cannot open the in-memory database: {e}"))?;
    let state = AppState::new(store.clone(), config, Arc::new(clock.clone()), None);
    let (_, admin_token) = store
        .add_agent(
            NewAgent {
                handle: scenario::ADMIN_HANDLE.into(),
                display_name: "Demo administrator".into(),
                function: scenario.user.function.clone(),
                role: Role::Admin,
                novice: false,
                mentor: None,
                capacity: 1,
                skills: Vec::new(),
                signature: String::new(),
            },
            state.functions(),
            state.now(),
        )
        .await
        .map_err(|e| format!("demo: cannot create the administrator: {e}"))?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("demo: cannot listen on 127.0.0.1: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("demo: cannot read the bound address: {e}"))?;
    let base_url = format!("http://{addr}");
    let admin = Client::new(&base_url, &admin_token).map_err(|e| format!("demo: {e}"))?;

    let jobs = server::spawn_jobs(state.clone());
    let (quit_tx, quit_rx) = oneshot::channel::<()>();
    let app = server::app(state);
    let server = tokio::spawn(async move {
        let quit = async {
            let _ = quit_rx.await;
        };
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(quit).await {
            tracing::warn!(error = %e, "demo server stopped");
        }
    });

    let (stop_tx, stop_rx) = watch::channel(false);
    let user_handle = scenario.user.handle.clone();
    let shared = Arc::new(Shared {
        clock,
        scenario,
        admin,
        tag: format!("{:06x}", rand::random::<u32>() & 0xff_ffff),
        log: Mutex::default(),
    });
    // Built before the accounts, so that a failure below drops it and stops the server.
    let mut world = DemoWorld {
        base_url,
        user_token: String::new(),
        user_handle,
        shared,
        stop: stop_tx,
        tasks: JoinSet::new(),
        server: Some(server),
        server_quit: Some(quit_tx),
        jobs: Some(jobs),
        store,
        stopped_at: None,
    };
    world.populate(opts.role, stop_rx).await?;
    Ok(world)
}

/// Runs the scenario for `duration` of scenario time (real time = duration / speed) with no
/// terminal, then returns a summary.
pub async fn run_headless(opts: &DemoOptions, duration: Duration) -> Result<DemoSummary, String> {
    if duration > MAX_RUN {
        return Err(format!("demo: a run of {} s is too long; at most a week", duration.as_secs()));
    }
    let mut world = start(opts).await?;
    tokio::time::sleep_until(world.shared.clock.instant_at(duration.as_secs_f64())).await;
    world.stop_world().await;
    let summary = world.summary().await;
    world.shutdown().await;
    summary
}

/// Parses "60s", "2m", "1h", "90" (seconds) into a Duration, with a clear error.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let bad = || {
        format!(
            "cannot read duration '{s}': give a number of seconds, optionally with a unit s, m or h (e.g. 90, 60s, 2m, 1h)"
        )
    };
    let (number, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let factor = match unit.trim() {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad()),
    };
    if number.is_empty() {
        return Err(bad());
    }
    let n: f64 = number.parse().map_err(|_| bad())?;
    let secs = n * factor;
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("duration '{s}' must be more than zero"));
    }
    let d = Duration::try_from_secs_f64(secs).map_err(|_| bad())?;
    if d > MAX_RUN {
        return Err(format!("duration '{s}' is too long; at most a week (168h)"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_make_a_sign_off() {
        assert_eq!(initials("Ines Varga"), "^IV");
        assert_eq!(initials("Béa  Moreau"), "^BM");
    }
}
