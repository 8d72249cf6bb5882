//! Channel connectors: read customer questions from social networks into the store (mentions of
//! and replies to the brand account) and post approved replies back, threaded under the
//! customer's post, through the durable outbox.
//!
//! A connector is a [`Connector`]: `fetch` pages through what arrived after a cursor, `post`
//! sends one reply, `find_posted` looks on the network for a reply an earlier, interrupted attempt
//! may have sent. The loops around them live here and in [`outbox`]: the cursor is saved only
//! after the questions read up to it are committed (a restart re-reads, and duplicates are dropped
//! by their external id), and every outbox attempt is marked in the store before the request.
//! Posts that look like spam are held out of the queue (`state = held`), never dropped.

pub mod bluesky;
pub mod html;
pub mod http;
pub mod mastodon;
pub mod outbox;
pub mod x;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::clock::Clock;
use crate::config::{ChannelConfig, ChannelKind, Config, ConfigError};
use crate::model::Millis;

use crate::store::{NewInbound, Store};
use crate::text::{self, Limit};
use crate::wire::ChannelLimit;

/// What the connectors and the outbox worker need of the desk around them, and nothing more: the
/// server hands them this (`AppState::desk`) instead of its whole state, so the channels do not
/// depend on the server.
#[derive(Clone)]
pub struct Desk {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub channels: Arc<Channels>,
    /// The way in for what the connectors read (it wakes the router when questions arrive).
    pub intake: crate::intake::Intake,
    /// Counts a failed network call of a channel (for `/metrics`).
    pub count_error: ErrorCounter,
}

/// Told of every failed network call: the channel and where it failed.
pub type ErrorCounter = Arc<dyn Fn(&str, ChannelStage) + Send + Sync>;

impl Desk {
    pub fn now(&self) -> Millis {
        self.clock.now()
    }
}

/// Where a network call of a channel failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChannelStage {
    /// Logging in or looking up the account before reading.
    Prepare,
    /// Reading mentions.
    Ingest,
    /// Posting a reply (each failed attempt, retried or not).
    Post,
}

impl ChannelStage {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelStage::Prepare => "prepare",
            ChannelStage::Ingest => "ingest",
            ChannelStage::Post => "post",
        }
    }
}

/// Why a network request did not give what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// Heals with time: rate limits, server errors, the network. `retry_at` is when the network
    /// said to come back; `maybe_sent` that the request may have been carried out.
    #[error("{message}")]
    Transient { message: String, retry_at: Option<Millis>, maybe_sent: bool },
    /// Will not heal by retrying (bad token, post refused): the agent has to act.
    #[error("{message}")]
    Permanent { message: String },
}

impl ChannelError {
    pub fn transient(message: impl Into<String>) -> Self {
        ChannelError::Transient { message: message.into(), retry_at: None, maybe_sent: false }
    }
}

pub type ChannelResult<T> = Result<T, ChannelError>;

/// A customer post read from a network.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub message: NewInbound,
    /// Mastodon's `public`, `unlisted`, `private` or `direct`: the reply mirrors it.
    pub visibility: Option<String>,
}

/// One read from a network.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Oldest first.
    pub items: Vec<Incoming>,
    /// Where to read from next time, once `items` are stored; `None`: unchanged.
    pub cursor: Option<String>,
    /// More is waiting right after `cursor`.
    pub more: bool,
}

/// A reply as it will be posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The exact text (with the customer's mention where the network needs one).
    pub text: String,
    /// The customer's post to reply under (its id on the network).
    pub in_reply_to: String,
    pub visibility: Option<String>,
    /// Stable across attempts, so a network that supports it posts a retried reply once.
    pub idempotency_key: String,
    /// When the reply was approved; the same on every attempt.
    pub created_at: Millis,
}

/// Where a reply landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub id: String,
    pub url: Option<String>,
}

/// One network account, read and written. Object-safe so the server can hold a list of them.
pub trait Connector: Send + Sync {
    /// The channel name questions carry (`mastodon`, `x`, or the configured name).
    fn name(&self) -> &str;

    /// The post length limit in force (a Mastodon instance can have its own).
    fn limit(&self) -> Limit;

    /// Learns what the connector needs before reading or posting (the brand account's id, the
    /// instance's limit). Called again after a failure, so it must be safe to repeat.
    ///
    /// `now`, here and below, is the desk's time (its `Clock`): what a refusal's "try again at"
    /// is counted from.
    fn prepare(&self, now: Millis) -> BoxFuture<'_, ChannelResult<()>>;

    /// Posts after `cursor` (`None`: never read; start with the newest).
    fn fetch(&self, cursor: Option<String>, now: Millis) -> BoxFuture<'_, ChannelResult<Page>>;

    /// The text as the network will see it: what the agent wrote, plus what the network needs
    /// (Mastodon: the customer's `@acct`, or they are not notified).
    fn compose(&self, body: &str, customer_handle: &str) -> String {
        let _ = customer_handle;
        body.to_string()
    }

    /// The length of `text` as the network counts it.
    fn length(&self, text: &str) -> usize {
        text::count(text, self.limit().counting)
    }

    fn post<'a>(&'a self, reply: &'a Outgoing, now: Millis) -> BoxFuture<'a, ChannelResult<Posted>>;

    /// The reply if an earlier attempt already posted it (asked before posting again after an
    /// attempt whose outcome was never recorded).
    fn find_posted<'a>(&'a self, reply: &'a Outgoing, now: Millis) -> BoxFuture<'a, ChannelResult<Option<Posted>>>;

    /// Runs until dropped, calling `wake` whenever the network pushes a new mention (Mastodon's
    /// streaming API). `None`: the connector only polls.
    fn listen(self: Arc<Self>, wake: Arc<tokio::sync::Notify>) -> Option<BoxFuture<'static, ()>> {
        let _ = wake;
        None
    }
}

/// The connectors configured and enabled, with their polling interval.
#[derive(Clone, Default)]
pub struct Channels {
    pub connectors: Vec<(Arc<dyn Connector>, Duration)>,
}

impl Channels {
    /// Builds the enabled `[[channels]]`, reading their tokens. A missing token is an error here,
    /// at start-up, rather than a silent channel later.
    pub fn from_config(config: &Config) -> Result<Channels, ConfigError> {
        let mut connectors = Vec::new();
        for c in config.channels.iter().filter(|c| c.enabled) {
            connectors.push((build(c)?, Duration::from_secs(c.poll_seconds as u64)));
        }
        Ok(Channels { connectors })
    }

    pub fn names(&self) -> Vec<String> {
        self.connectors.iter().map(|(c, _)| c.name().to_string()).collect()
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Connector>> {
        self.connectors.iter().map(|(c, _)| c).find(|c| c.name() == name)
    }

    pub fn is_empty(&self) -> bool {
        self.connectors.is_empty()
    }
}

fn build(c: &ChannelConfig) -> Result<Arc<dyn Connector>, ConfigError> {
    let token = c.token()?;
    Ok(match c.kind {
        ChannelKind::Mastodon => Arc::new(mastodon::Mastodon::new(c, token, c.stream)),
        ChannelKind::X => Arc::new(x::X::new(c, token)),
        ChannelKind::Bluesky => Arc::new(bluesky::Bluesky::new(c, token)),
    })
}

/// The limits the composer should count with: each connector's own, then the networks' defaults
/// for channels without a connector here.
pub fn limits(channels: &Channels) -> Vec<ChannelLimit> {
    let mut out: Vec<ChannelLimit> = channels
        .connectors
        .iter()
        .map(|(c, _)| ChannelLimit::new(c.name(), c.limit(), !c.compose("", "customer").is_empty()))
        .collect();
    for name in ["mastodon", "bluesky", "x"] {
        if out.iter().any(|l| l.name == name) {
            continue;
        }
        if let Some(l) = text::channel_limit(name) {
            out.push(ChannelLimit::new(name, l, name == "mastodon"));
        }
    }
    out
}

/// What one ingest pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    pub created: usize,
    pub followups: usize,
    pub held: usize,
    pub duplicates: usize,
    pub skipped: usize,
}

/// Pages this many times at most per pass; the next pass carries on from the saved cursor.
const MAX_PAGES: usize = 20;

/// Reads everything new from one connector into the store. The cursor is saved after the page's
/// questions are committed, never before: a crash in between re-reads the page on restart, and
/// the store drops what it already has (same channel and external id).
pub async fn ingest_once(state: &Desk, connector: &dyn Connector) -> ChannelResult<IngestReport> {
    let name = connector.name().to_string();
    let store_err = |e: crate::error::Error| ChannelError::transient(format!("store: {e}"));
    let mut cursor = state.store.channel_cursor(&name).await.map_err(store_err)?;
    let mut report = IngestReport::default();
    for _ in 0..MAX_PAGES {
        let page = connector.fetch(cursor.clone(), state.now()).await?;
        // A post the store cannot take (an image with no text) is skipped: it would block the
        // channel forever if it stopped the pass. The rest go in as one transaction.
        let ids: Vec<String> = page.items.iter().map(|i| i.message.external_id.clone()).collect();
        let batch = page
            .items
            .into_iter()
            .map(|i| crate::intake::Arrival { message: i.message, visibility: i.visibility })
            .collect();
        let outcomes = state.intake.ingest(batch).await.map_err(store_err)?;
        for (o, external_id) in outcomes.into_iter().zip(ids) {
            match o {
                Ok(o) => match o.outcome.as_str() {
                    "created" | "reopened" => report.created += 1,
                    "followup" => report.followups += 1,
                    "held" => report.held += 1,
                    _ => report.duplicates += 1,
                },
                Err(e) => {
                    tracing::warn!(channel = %name, external_id, reason = %e, "skipped a post the store cannot take");
                    report.skipped += 1;
                }
            }
        }
        if let Some(c) = page.cursor {
            state.store.set_channel_cursor(&name, &c, state.now()).await.map_err(store_err)?;
            cursor = Some(c);
        }
        if !page.more {
            break;
        }
    }
    Ok(report)
}

/// Runs every connector (prepare, then poll, woken early by the streaming API) and the outbox
/// worker, until the returned task is aborted.
pub fn spawn(state: Desk) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let channels = state.channels.clone();
        let mut tasks = tokio::task::JoinSet::new();
        for (connector, every) in channels.connectors.iter().cloned() {
            let state = state.clone();
            tasks.spawn(async move { run_connector(state, connector, every).await });
        }
        let worker = state.clone();
        tasks.spawn(async move { outbox::run(worker).await });
        // The set aborts every task when this one is aborted and the set dropped.
        while tasks.join_next().await.is_some() {}
    })
}

async fn run_connector(state: Desk, connector: Arc<dyn Connector>, every: Duration) {
    let name = connector.name().to_string();
    let mut delay = Duration::from_secs(1);
    while let Err(e) = connector.prepare(state.now()).await {
        (state.count_error)(&name, ChannelStage::Prepare);
        tracing::warn!(channel = %name, error = %e, "channel not ready; will retry");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(300));
    }
    let wake = Arc::new(tokio::sync::Notify::new());
    let _listener = connector.clone().listen(wake.clone()).map(|f| AbortOnDrop(tokio::spawn(f)));
    loop {
        match ingest_once(&state, connector.as_ref()).await {
            Ok(r) if r != IngestReport::default() => tracing::info!(channel = %name, ?r, "ingested"),
            Ok(_) => {}
            Err(e) => {
                (state.count_error)(&name, ChannelStage::Ingest);
                tracing::warn!(channel = %name, error = %e, "ingest failed; will retry")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = wake.notified() => {}
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An HTTP client for a network: bounded timeouts, so a stalled peer cannot hold a worker.
pub(crate) fn http_client() -> reqwest::Client {
    crate::tls::client_builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("helphive/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}
