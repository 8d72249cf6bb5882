//! The terminal application. It talks to the server only through `client`: backend calls run in
//! spawned tasks and answer with messages, so the screen never waits for the network.

pub mod app;
// Test data, for tests and benchmarks only (the `test-support` feature).
#[cfg(any(test, feature = "test-support"))]
pub mod fixtures;
pub mod screens;
pub mod view;

/// The keymap and the drafts belong to the screens; these are the paths the terminal's users
/// (tests, benchmarks) know them by.
pub use screens::{drafts, keymap};

use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::client::{Client, ClientError, QueueQuery, StreamItem, StreamPosition};
use crate::config::{Config, Theme};
use crate::model::{AgentStatus, Question};
use crate::wire::Directory;
use app::{App, Cmd, Msg, SnapshotPage, TransferTo, View};
use screens::drafts::Drafts;
use screens::keymap::KeyMap;

pub struct TuiOptions {
    pub view: View,
    /// The clock the screen shows time with: the wall clock, or the demo's scenario clock.
    pub clock: std::sync::Arc<dyn crate::clock::Clock>,
}

/// Checks the server and token before the screen takes over the terminal, so a wrong URL or
/// token is one readable line, not a broken screen.
pub async fn preflight(client: &Client) -> Result<crate::model::Agent, String> {
    match client.me().await {
        Ok(me) => Ok(me),
        Err(ClientError::Api { status: 401, message, .. }) => {
            Err(format!("the server at {} refused the token: {message}", client.base_url()))
        }
        Err(ClientError::Api { status: 404, .. }) => {
            Err(format!("{} does not look like a helphive server (no /api/v1/me); check --server", client.base_url()))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Loads the open queue, then what is held back, page by page, most urgent first, handing each
/// page to `on_page` as it arrives (so the first screen does not wait for the last page). The
/// first page's `as_of` moves `position`, where the event stream resumes after a break: every
/// change up to it is in that page, and every later change comes on the stream. (A later page's
/// `as_of` would not do: it says nothing of the questions on the pages before it.) `on_page`
/// returns false to stop.
pub async fn load_queue(
    client: &Client,
    position: Option<&StreamPosition>,
    mut on_page: impl FnMut(SnapshotPage) -> bool,
) -> Result<(), ClientError> {
    let mut first = true;
    for (listing, state) in [None, Some("held".to_string())].into_iter().enumerate() {
        let mut cursor = None;
        loop {
            let query =
                QueueQuery { state: state.clone(), cursor: cursor.clone(), limit: Some(500), ..Default::default() };
            let page = client.queue(&query).await?;
            if first && let (Some(p), Some(as_of)) = (position, page.as_of) {
                p.advance(as_of);
            }
            let done = listing == 1 && page.next_cursor.is_none();
            let msg = SnapshotPage {
                items: page.items,
                total: first.then_some(page.total),
                as_of: if first { page.as_of } else { None },
                first,
                done,
            };
            first = false;
            if !on_page(msg) {
                return Ok(());
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    Ok(())
}

/// Builds the app state for `client`'s agent.
pub async fn build_app(client: &Client, config: &Config, opts: &TuiOptions) -> Result<App, String> {
    let me = preflight(client).await?;
    let keymap = KeyMap::new(&config.client.keys)?;
    let (functions, topics, limits) = match client.directory().await {
        Ok(d) => (
            d.functions.iter().map(|f| f.name.clone()).collect(),
            d.topics.iter().map(|t| t.name.clone()).collect(),
            channel_limits(&d),
        ),
        Err(_) => (
            config.functions.iter().map(|f| f.name.clone()).collect(),
            config.topics.iter().map(|t| t.name.clone()).collect(),
            Default::default(),
        ),
    };
    let drafts = crate::config::data_dir().and_then(|d| Drafts::new(&d, client.base_url(), &me.handle).ok());
    let mut app = App::new(me, opts.clock.now(), functions, config.client.templates.clone(), keymap, drafts);
    app.shared.topics = topics;
    app.shared.channel_limits = limits;
    app.shared.mono = config.client.theme == Theme::Mono || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    app.view = if opts.view == View::Approvals && !app.is_reviewer() { View::Queue } else { opts.view };
    Ok(app)
}

/// The directory's `channels` list: how each channel counts a post (ways of counting this
/// terminal does not know are left out).
fn channel_limits(d: &Directory) -> std::collections::HashMap<String, (crate::text::Limit, bool)> {
    d.channels.iter().filter_map(|c| Some((c.name.clone(), (c.limit()?, c.mention_prefix)))).collect()
}

/// Runs the terminal until the agent quits.
pub async fn run(client: Client, config: &Config, opts: TuiOptions) -> Result<(), String> {
    let mut app = build_app(&client, config, &opts).await?;
    if let Err(e) = client.set_status(AgentStatus::Online).await {
        tracing::warn!(error = %e, "cannot set status online");
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();

    // Live events first, then the snapshot: whatever changes in between arrives as an event,
    // and the newer copy of a question wins.
    let position = StreamPosition::new(None);
    let backend = Backend { client: client.clone(), tx: tx.clone(), position: position.clone() };
    let mut events = client.events_from(position);
    let events_tx = tx.clone();
    let events_task = tokio::spawn(async move {
        while let Some(item) = events.recv().await {
            let msg = match item {
                StreamItem::Event(e) => Msg::Event(e),
                StreamItem::Connected => Msg::Connected,
                StreamItem::Disconnected(why) => Msg::Disconnected(why),
                StreamItem::Reload { .. } => Msg::Reload,
            };
            if events_tx.send(msg).is_err() {
                return;
            }
        }
    });
    // The snapshot is loaded once the event stream is open (on the first Connected), so no
    // change can fall between the two.
    let mut first = Vec::new();
    match app.view {
        View::Dashboard => first.push(Cmd::LoadStats),
        View::Approvals => first.push(Cmd::LoadApprovals),
        _ => {}
    }
    for cmd in first {
        backend.perform(cmd);
    }

    let mut terminal = ratatui::init();
    if let Ok(size) = terminal.size() {
        for cmd in app::update(&mut app, Msg::Resize(size.width, size.height)) {
            backend.perform(cmd);
        }
    }
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut dirty = true;
    let result: Result<(), String> = loop {
        if dirty {
            app.prepare();
            if let Err(e) = terminal.draw(|f| view::render(&app, f)) {
                break Err(format!("cannot draw: {e}"));
            }
            dirty = false;
        }
        let msg = tokio::select! {
            k = keys.next() => match k {
                Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => Msg::Key(k),
                Some(Ok(TermEvent::Resize(w, h))) => Msg::Resize(w, h),
                Some(Ok(_)) => continue,
                Some(Err(e)) => break Err(format!("terminal input failed: {e}")),
                None => break Ok(()),
            },
            Some(m) = rx.recv() => m,
            _ = tick.tick() => Msg::Tick(opts.clock.now()),
        };
        for cmd in app::update(&mut app, msg) {
            backend.perform(cmd);
        }
        // Drain what else has arrived, then draw once.
        while let Ok(m) = rx.try_recv() {
            for cmd in app::update(&mut app, m) {
                backend.perform(cmd);
            }
        }
        dirty = true;
        if app.quit {
            break Ok(());
        }
    };
    ratatui::restore();
    events_task.abort();
    if !app.shared.pending.is_empty() {
        eprintln!(
            "helphive: {} repl{} not acknowledged by the server; the drafts are kept and go out when you reopen the question",
            app.shared.pending.len(),
            if app.shared.pending.len() == 1 { "y was" } else { "ies were" }
        );
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), client.set_status(AgentStatus::Offline)).await;
    result
}

fn describe(e: &ClientError) -> String {
    e.to_string()
}

/// What commands run against: the server, the way back to the loop, and where the event
/// stream resumes.
pub struct Backend {
    pub client: Client,
    pub tx: mpsc::UnboundedSender<Msg>,
    pub position: StreamPosition,
}

impl Backend {
    /// Runs a command in its own task; the answer comes back as a message.
    pub fn perform(&self, cmd: Cmd) {
        perform(&self.client, &self.tx, &self.position, cmd)
    }
}

/// Runs a command in its own task; the answer comes back as a message.
pub fn perform(client: &Client, tx: &mpsc::UnboundedSender<Msg>, position: &StreamPosition, cmd: Cmd) {
    let client = client.clone();
    let tx = tx.clone();
    let position = position.clone();
    tokio::spawn(async move {
        let msg = match cmd {
            Cmd::LoadSnapshot => {
                let pages = tx.clone();
                match load_queue(&client, Some(&position), |page| pages.send(Msg::Snapshot(page)).is_ok()).await {
                    Ok(()) => return,
                    Err(e) => Msg::SnapshotFailed(describe(&e)),
                }
            }
            Cmd::LoadDetail(id) => match client.question(id).await {
                Ok(d) => Msg::Detail(d),
                Err(e) => Msg::Failed { what: format!("loading #{id}"), error: describe(&e) },
            },
            Cmd::LoadPreview(id) => match client.question(id).await {
                Ok(d) => Msg::Preview(d),
                Err(e) => {
                    tracing::debug!(error = %e, "preview of #{id} failed");
                    return;
                }
            },
            Cmd::MarkViewing(id) => match client.mark_viewing(id).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::debug!(error = %e, "viewing mark failed");
                    return;
                }
            },
            Cmd::Claim(id) => done(client.claim(id).await, format!("claimed #{id}"), format!("claim #{id}")),
            Cmd::Next => match client.next().await {
                Ok(q) => Msg::NextClaimed(q),
                Err(e) => Msg::Failed { what: "next".into(), error: describe(&e) },
            },
            Cmd::Release(id) => {
                done(client.release(id).await, format!("released #{id} to the queue"), format!("release #{id}"))
            }
            Cmd::Resolve(id) => done(client.resolve(id).await, format!("resolved #{id}"), format!("resolve #{id}")),
            Cmd::ResolveWithoutReply(id) => done(
                client.resolve_without_reply(id).await,
                format!("resolved #{id} without a reply"),
                format!("resolve #{id}"),
            ),
            Cmd::Reopen(id) => done(client.reopen(id).await, format!("reopened #{id}"), format!("reopen #{id}")),
            Cmd::Unhold(id) => {
                done(client.unhold(id).await, format!("#{id} let into the queue"), format!("let #{id} in"))
            }
            Cmd::Reply(p) => match client.reply(p.question_id, &p.body, &p.key).await {
                Ok(message) => Msg::ReplyAcked { key: p.key, message },
                Err(e @ ClientError::Unreachable { .. }) => Msg::ReplyUnsent { key: p.key, reason: describe(&e) },
                Err(e) => Msg::ReplyRefused { key: p.key, error: describe(&e) },
            },
            Cmd::Note { question_id, body } => match client.note(question_id, &body).await {
                Ok(_) => Msg::Done {
                    what: format!("note added to #{question_id}"),
                    question: client.question(question_id).await.ok().map(|d| d.question),
                },
                Err(e) => Msg::Failed { what: "note".into(), error: describe(&e) },
            },
            Cmd::Transfer { question_id, to, note } => {
                let r = match &to {
                    TransferTo::Function(f) => client.transfer_to_function(question_id, f, note.as_deref()).await,
                    TransferTo::Agent(a) => client.transfer_to_agent(question_id, a, note.as_deref()).await,
                };
                let target = match &to {
                    TransferTo::Function(f) => f.clone(),
                    TransferTo::Agent(a) => format!("@{a}"),
                };
                done(r, format!("#{question_id} handed to {target}"), format!("transfer #{question_id}"))
            }
            Cmd::Recategorize { question_id, topic } => done(
                client.recategorize(question_id, &topic).await,
                format!("#{question_id} is now about {topic}"),
                format!("correct the topic of #{question_id}"),
            ),
            Cmd::Approve { message_id, edited } => match client.approve(message_id, edited.as_deref()).await {
                Ok(m) => Msg::Done { what: format!("approved the reply to #{}", m.question_id), question: None },
                Err(e) => Msg::Failed { what: "approve".into(), error: describe(&e) },
            },
            Cmd::Reject { message_id, reason } => match client.reject(message_id, &reason).await {
                Ok(m) => Msg::Done { what: format!("sent the reply to #{} back", m.question_id), question: None },
                Err(e) => Msg::Failed { what: "reject".into(), error: describe(&e) },
            },
            Cmd::LoadStats => match client.stats().await {
                Ok(s) => Msg::Stats(s),
                Err(e) => Msg::Failed { what: "statistics".into(), error: describe(&e) },
            },
            Cmd::LoadApprovals => match client.approvals().await {
                Ok(a) => Msg::Approvals(a),
                Err(e) => Msg::Failed { what: "approvals".into(), error: describe(&e) },
            },
        };
        let _ = tx.send(msg);
    });
}

fn done(r: Result<Question, ClientError>, ok: String, what: String) -> Msg {
    match r {
        Ok(q) => Msg::Done { what: ok, question: Some(q) },
        Err(e) => Msg::Failed { what, error: describe(&e) },
    }
}

/// The statistics as plain text, for `helphive stats` without `--json`.
pub fn stats_text(s: &crate::model::Stats) -> String {
    use std::fmt::Write;
    let ms = |v: Option<i64>| v.map(view::duration).unwrap_or_else(|| "-".into());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "open {} (unclaimed {}, claimed {}, awaiting approval {}), breaching {}",
        s.open, s.unclaimed, s.claimed, s.awaiting_approval, s.breaching
    );
    let _ = writeln!(out, "oldest waiting {}", ms(s.oldest_waiting_ms));
    let _ = writeln!(
        out,
        "first response: last hour median {} p90 {} ({}); today median {} p90 {} ({})",
        ms(s.first_response_last_hour.median_ms),
        ms(s.first_response_last_hour.p90_ms),
        s.first_response_last_hour.count,
        ms(s.first_response_today.median_ms),
        ms(s.first_response_today.p90_ms),
        s.first_response_today.count
    );
    let _ = writeln!(
        out,
        "SLA today {} (met {}, missed {}); answered last hour {}, today {}",
        s.sla_attainment_pct_today.map(|p| format!("{p:.0}%")).unwrap_or_else(|| "-".into()),
        s.sla_met_today,
        s.sla_missed_today,
        s.answered_last_hour,
        s.answered_today
    );
    let _ = writeln!(
        out,
        "{:<14} {:>5} {:>9} {:>9} {:>9} {:>7} {:>6}",
        "function", "open", "unclaimed", "approval", "breaching", "online", "away"
    );
    for f in &s.functions {
        let _ = writeln!(
            out,
            "{:<14} {:>5} {:>9} {:>9} {:>9} {:>7} {:>6}",
            f.function, f.open, f.unclaimed, f.awaiting_approval, f.breaching, f.agents_online, f.agents_away
        );
    }
    out
}
