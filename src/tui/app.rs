//! The terminal's state and how it changes: `update(&mut App, Msg) -> Vec<Cmd>`. Messages come
//! from the keyboard, the clock and the backend; commands go out to the backend and come back as
//! messages. Nothing here waits for the network.

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use super::drafts::Drafts;
use super::keymap::{Action, Context, KeyMap};
use crate::config::Template;
use crate::model::{Agent, Event, Message, Millis, Question, QuestionDetail, QuestionState, ReplyStatus, Role};
use crate::model::Stats;
use crate::text;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Queue,
    Conversation,
    Dashboard,
    Approvals,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    All,
    MyFunctions,
    Mine,
    Unclaimed,
    Breaching,
    /// Posts held back as possible spam: never silently dropped, a lead lets them in.
    Held,
}

impl Filter {
    pub const ALL: [Filter; 6] =
        [Filter::All, Filter::MyFunctions, Filter::Mine, Filter::Unclaimed, Filter::Breaching, Filter::Held];

    pub fn label(self) -> &'static str {
        match self {
            Filter::All => "all",
            Filter::MyFunctions => "my functions",
            Filter::Mine => "mine",
            Filter::Unclaimed => "unclaimed",
            Filter::Breaching => "breaching",
            Filter::Held => "held",
        }
    }
}

/// How close a question is to its response deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sla {
    /// The customer has an answer.
    Answered,
    Ok,
    /// Less than a quarter of the target time (or 5 minutes) left.
    Near,
    Breached,
}

pub fn sla(q: &Question, now: Millis) -> Sla {
    let Some(since) = q.awaiting_since else { return Sla::Answered };
    let left = q.sla_due_at - now;
    let target = (q.sla_due_at - since).max(1);
    if left < 0 {
        Sla::Breached
    } else if left < target / 4 || left < 5 * 60_000 {
        Sla::Near
    } else {
        Sla::Ok
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComposerKind {
    Reply,
    Note,
    /// A hand-off note, sent with the transfer.
    Transfer(TransferTo),
    /// A mentor's edit of a novice's reply, approved when sent.
    EditApproval(i64),
    /// Why a novice's reply is rejected.
    RejectReason(i64),
}

impl ComposerKind {
    pub fn title(&self) -> String {
        match self {
            ComposerKind::Reply => "Reply to the customer".into(),
            ComposerKind::Note => "Internal note (employees only)".into(),
            ComposerKind::Transfer(TransferTo::Function(f)) => format!("Hand-off note for {f}"),
            ComposerKind::Transfer(TransferTo::Agent(a)) => format!("Hand-off note for @{a}"),
            ComposerKind::EditApproval(_) => "Edit the novice's reply, then send to approve".into(),
            ComposerKind::RejectReason(_) => "Why is this reply rejected? (the novice sees this)".into(),
        }
    }

    fn draft_kind(&self) -> Option<&'static str> {
        match self {
            ComposerKind::Reply => Some("reply"),
            ComposerKind::Note => Some("note"),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTo {
    Function(String),
    Agent(String),
}

pub struct Composer {
    pub kind: ComposerKind,
    pub question_id: i64,
    pub channel: String,
    pub area: TextArea<'static>,
}

impl Composer {
    pub fn text(&self) -> String {
        self.area.lines().join("\n")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickerPurpose {
    Template,
    Transfer,
    Topic,
}

/// A fuzzy finder over a short list.
pub struct Picker {
    pub purpose: PickerPurpose,
    pub title: String,
    pub query: String,
    /// (label, value)
    pub items: Vec<(String, String)>,
    pub selected: usize,
}

impl Picker {
    /// Items matching the query (letters in order, not necessarily adjacent), best first.
    pub fn matches(&self) -> Vec<&(String, String)> {
        let q = self.query.to_lowercase();
        let mut scored: Vec<(usize, &(String, String))> =
            self.items.iter().filter_map(|item| fuzzy_score(&item.0.to_lowercase(), &q).map(|s| (s, item))).collect();
        scored.sort_by_key(|(s, _)| *s);
        scored.into_iter().map(|(_, i)| i).collect()
    }
}

/// Lower is better; `None` when `query`'s letters do not appear in order in `text`.
pub fn fuzzy_score(text: &str, query: &str) -> Option<usize> {
    let mut score = 0;
    let mut last: Option<usize> = None;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    for qc in query.chars() {
        let found = chars[i..].iter().position(|c| *c == qc)?;
        let at = i + found;
        score += match last {
            Some(l) if at == l + 1 => 0,
            _ => 1 + found,
        };
        last = Some(at);
        i = at + 1;
    }
    Some(score)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

/// A reply the server has not acknowledged yet. Its idempotency key makes re-sending safe.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingReply {
    pub question_id: i64,
    pub body: String,
    pub key: String,
}

/// One page of the queue snapshot, as it arrives: the most urgent page first, so the queue is
/// usable at once while the rest loads behind it.
#[derive(Debug, Clone, Default)]
pub struct SnapshotPage {
    pub items: Vec<Question>,
    /// How many open questions the server has in all (from the first page), for "loading… n of m".
    pub total: Option<i64>,
    /// The newest event the snapshot reflects (`QueuePage::as_of` of its first page).
    pub as_of: Option<i64>,
    /// The first page of a load.
    pub first: bool,
    /// The last page of a load.
    pub done: bool,
}

impl SnapshotPage {
    /// A whole snapshot in one page.
    pub fn whole(items: Vec<Question>, as_of: Option<i64>) -> SnapshotPage {
        SnapshotPage { total: Some(items.len() as i64), items, as_of, first: true, done: true }
    }
}

/// From this width on, the queue shows the selected question's thread beside the list.
pub const PREVIEW_MIN_WIDTH: u16 = 160;

/// Everything the screen shows.
pub struct App {
    pub me: Agent,
    pub now: Millis,
    pub online: bool,
    pub offline_reason: Option<String>,
    /// The first page of the queue has arrived: the queue is usable.
    pub loaded: bool,
    /// A snapshot load is under way.
    pub loading: bool,
    /// The last page of a snapshot arrived.
    pub complete: bool,
    /// Open questions on the server when the load began, and how many pages' worth arrived.
    pub load_total: Option<i64>,
    pub load_count: usize,
    /// The newest event taken in (from the stream or a snapshot's `as_of`). `None`: the stream
    /// would resume "from now" and could miss what happens while it is away, so a reconnect
    /// reloads instead.
    pub position: Option<i64>,
    /// The terminal's size (columns, rows), for what `update` decides by width: the preview.
    pub size: (u16, u16),
    /// The thread shown beside the queue on a wide terminal, and the id last asked for.
    pub preview: Option<QuestionDetail>,
    preview_wanted: Option<i64>,
    pub view: View,
    pub questions: HashMap<i64, Question>,
    /// Ids in the queue view's order (filtered, searched, most urgent first).
    pub order: Vec<i64>,
    order_dirty: bool,
    pub filter: Filter,
    pub search: String,
    pub searching: bool,
    pub selected: usize,
    pub detail: Option<QuestionDetail>,
    pub detail_scroll: u16,
    pub composer: Option<Composer>,
    pub picker: Option<Picker>,
    pub flash: Option<(String, Level)>,
    /// Question → (who is looking at it, since when).
    pub viewers: HashMap<i64, (String, Millis)>,
    /// Question → (who the router offered it to, until when).
    pub offers: HashMap<i64, (String, Millis)>,
    pub stats: Option<Stats>,
    pub stats_stale: bool,
    pub approvals: Vec<(Message, Question)>,
    pub approvals_selected: usize,
    pub pending: Vec<PendingReply>,
    pub functions: Vec<String>,
    /// Topic names, for correcting a question's topic.
    pub topics: Vec<String>,
    /// Channel → (how it counts, whether the customer's @mention is put in front), from the server.
    pub channel_limits: HashMap<String, (text::Limit, bool)>,
    pub templates: Vec<Template>,
    pub keymap: KeyMap,
    pub drafts: Option<Drafts>,
    pub help: bool,
    pub quit: bool,
    pub mono: bool,
}

/// What happened.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Tick(Millis),
    /// A page of the open queue, as loaded.
    Snapshot(SnapshotPage),
    /// The terminal's size changed (columns, rows).
    Resize(u16, u16),
    /// `n` claimed this question for me (or found nothing: `None`).
    NextClaimed(Option<Question>),
    /// The thread for the preview beside the queue.
    Preview(QuestionDetail),
    /// Loading the queue failed; the next connection tries again.
    SnapshotFailed(String),
    Event(Event),
    Connected,
    Disconnected(String),
    /// The server lost track of where we were: load everything again.
    Reload,
    Detail(QuestionDetail),
    Done {
        what: String,
        question: Option<Question>,
    },
    Failed {
        what: String,
        error: String,
    },
    ReplyAcked {
        key: String,
        message: Message,
    },
    /// The server could not be reached: the reply stays queued.
    ReplyUnsent {
        key: String,
        reason: String,
    },
    /// The server refused the reply for good.
    ReplyRefused {
        key: String,
        error: String,
    },
    Stats(Stats),
    Approvals(Vec<(Message, Question)>),
}

/// What to do about it (performed by the runtime, answered with messages).
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    LoadSnapshot,
    LoadDetail(i64),
    /// The thread for the preview pane (no "viewing" mark: a glance is not a look).
    LoadPreview(i64),
    MarkViewing(i64),
    Claim(i64),
    Next,
    Release(i64),
    Resolve(i64),
    ResolveWithoutReply(i64),
    Reopen(i64),
    Unhold(i64),
    Reply(PendingReply),
    Note {
        question_id: i64,
        body: String,
    },
    Transfer {
        question_id: i64,
        to: TransferTo,
        note: Option<String>,
    },
    Recategorize {
        question_id: i64,
        topic: String,
    },
    Approve {
        message_id: i64,
        edited: Option<String>,
    },
    Reject {
        message_id: i64,
        reason: String,
    },
    LoadStats,
    LoadApprovals,
}

impl App {
    pub fn new(
        me: Agent,
        now: Millis,
        functions: Vec<String>,
        templates: Vec<Template>,
        keymap: KeyMap,
        drafts: Option<Drafts>,
    ) -> App {
        App {
            me,
            now,
            online: true,
            offline_reason: None,
            loaded: false,
            loading: false,
            complete: false,
            load_total: None,
            load_count: 0,
            position: None,
            size: (80, 24),
            preview: None,
            preview_wanted: None,
            view: View::Queue,
            questions: HashMap::new(),
            order: Vec::new(),
            order_dirty: true,
            filter: Filter::All,
            search: String::new(),
            searching: false,
            selected: 0,
            detail: None,
            detail_scroll: 0,
            composer: None,
            picker: None,
            flash: None,
            viewers: HashMap::new(),
            offers: HashMap::new(),
            stats: None,
            stats_stale: true,
            approvals: Vec::new(),
            approvals_selected: 0,
            pending: Vec::new(),
            functions,
            topics: Vec::new(),
            channel_limits: HashMap::new(),
            templates,
            keymap,
            drafts,
            help: false,
            quit: false,
            mono: false,
        }
    }

    pub fn is_reviewer(&self) -> bool {
        self.me.role >= Role::Mentor
    }

    fn info(&mut self, s: impl Into<String>) {
        self.flash = Some((s.into(), Level::Info));
    }

    fn error(&mut self, s: impl Into<String>) {
        self.flash = Some((s.into(), Level::Error));
    }

    /// The question under the cursor in the queue view.
    pub fn selected_question(&self) -> Option<&Question> {
        self.order.get(self.selected).and_then(|id| self.questions.get(id))
    }

    /// The question the current view is about.
    fn current_question(&self) -> Option<&Question> {
        match self.view {
            View::Conversation => self.detail.as_ref().map(|d| &d.question),
            View::Approvals => self.approvals.get(self.approvals_selected).map(|(_, q)| q),
            _ => self.selected_question(),
        }
    }

    fn passes(&self, q: &Question) -> bool {
        if q.state == QuestionState::Resolved {
            return false;
        }
        // Held questions (possible spam) show only under their own filter.
        if (q.state == QuestionState::Held) != (self.filter == Filter::Held) {
            return false;
        }
        let keep = match self.filter {
            Filter::All | Filter::Held => true,
            Filter::MyFunctions => q.function == self.me.function || self.me.skills.iter().any(|s| s.topic == q.topic),
            Filter::Mine => q.holder.as_deref() == Some(self.me.handle.as_str()),
            Filter::Unclaimed => q.state == QuestionState::Open,
            Filter::Breaching => sla(q, self.now) == Sla::Breached,
        };
        if !keep {
            return false;
        }
        if self.search.is_empty() {
            return true;
        }
        let needle = self.search.to_lowercase();
        q.text.to_lowercase().contains(&needle)
            || q.customer.handle.to_lowercase().contains(&needle)
            || q.customer.name.to_lowercase().contains(&needle)
    }

    /// The length of a reply as its network will count it, and the limit: (count, max). The
    /// server's connectors say how each channel counts (and whether the customer's @mention is
    /// put in front, which counts too); networks without a connector use their defaults.
    pub fn reply_length(&self, question_id: i64, channel: &str, body: &str) -> Option<(usize, usize)> {
        let (limit, mention) = match self.channel_limits.get(channel) {
            Some(l) => *l,
            None => (text::channel_limit(channel)?, channel == "mastodon"),
        };
        let customer = self
            .questions
            .get(&question_id)
            .or(self.detail.as_ref().map(|d| &d.question))
            .map(|q| q.customer.handle.clone())
            .unwrap_or_default();
        // Networks count a remote @user@domain mention as @user.
        let local = customer.trim_start_matches('@').split('@').next().unwrap_or("");
        let posted = if mention && !local.is_empty() && !body.contains(&format!("@{local}")) {
            format!("@{local} {body}")
        } else {
            body.to_string()
        };
        Some((text::count(&posted, limit.counting), limit.max))
    }

    /// Marks the queue order for rebuilding (after changing `questions` directly).
    pub fn touch(&mut self) {
        self.order_dirty = true;
    }

    /// Rebuilds the queue order if anything changed. Called once before each frame, so a burst
    /// of events costs one sort.
    pub fn prepare(&mut self) {
        if !self.order_dirty {
            return;
        }
        let keep_id = self.order.get(self.selected).copied();
        let mut ids: Vec<(bool, Millis, i64)> =
            self.questions.values().filter(|q| self.passes(q)).map(order_key).collect();
        ids.sort_unstable();
        self.order = ids.into_iter().map(|(_, _, id)| id).collect();
        if let Some(id) = keep_id
            && let Some(i) = self.order.iter().position(|x| *x == id)
        {
            self.selected = i;
        }
        self.selected = self.selected.min(self.order.len().saturating_sub(1));
        self.order_dirty = false;
    }

    fn upsert(&mut self, q: Question) {
        if let Some(existing) = self.questions.get(&q.id)
            && existing.updated_at > q.updated_at
        {
            return; // an older copy (a snapshot racing an event): keep the newer
        }
        if let Some(d) = self.detail.as_mut()
            && d.question.id == q.id
        {
            d.question = q.clone();
        }
        let keep = self.passes(&q);
        let new_key = order_key(&q);
        let old = self.questions.insert(q.id, q);
        if self.order_dirty {
            return; // a full rebuild is due anyway
        }
        // Move just this question within the sorted order: a live change costs a binary search
        // and a memmove, not a sort of the whole queue. The cursor stays on the question it was on.
        let selected_id = self.order.get(self.selected).copied();
        if let Some(old) = old {
            let old_key = order_key(&old);
            if let Ok(i) = self.order.binary_search_by(|id| self.key_of(*id, old.id, old_key).cmp(&old_key)) {
                self.order.remove(i);
            }
        }
        if keep {
            let id = new_key.2;
            let i = self.order.binary_search_by(|x| self.key_of(*x, id, new_key).cmp(&new_key)).unwrap_or_else(|i| i);
            self.order.insert(i, id);
        }
        if let Some(sid) = selected_id
            && let Some(key) = self.questions.get(&sid).map(order_key)
            && let Ok(i) = self.order.binary_search_by(|x| self.key_of(*x, sid, key).cmp(&key))
        {
            self.selected = i;
        }
        self.selected = self.selected.min(self.order.len().saturating_sub(1));
    }

    /// Many questions at once (a snapshot page). New questions are merged into the sorted order
    /// in one pass (a page of 500 into 100,000 costs one walk, not a sort of everything); when
    /// one replaces a copy already shown, the order is rebuilt before the next frame.
    fn upsert_many(&mut self, items: Vec<Question>) {
        if items.len() < 64 && !self.order_dirty {
            for q in items {
                self.upsert(q);
            }
            return;
        }
        let mut fresh: Vec<(bool, Millis, i64)> = Vec::with_capacity(items.len());
        let mut replaced = false;
        for q in items {
            if let Some(existing) = self.questions.get(&q.id) {
                if existing.updated_at > q.updated_at {
                    continue; // an older copy: keep the newer
                }
                replaced = true;
            }
            if let Some(d) = self.detail.as_mut()
                && d.question.id == q.id
            {
                d.question = q.clone();
            }
            if self.passes(&q) {
                fresh.push(order_key(&q));
            }
            self.questions.insert(q.id, q);
        }
        if self.order_dirty || replaced {
            self.order_dirty = true;
            return;
        }
        fresh.sort_unstable();
        let Some(lowest) = fresh.first().copied() else { return };
        let key = |app: &App, id: i64| app.questions.get(&id).map(order_key).unwrap_or((true, Millis::MAX, id));
        // Pages come most urgent first, so a new page mostly lands behind what is shown: what
        // sorts before its first question stays where it is, untouched.
        let start = self.order.partition_point(|id| key(self, *id) < lowest);
        let selected_id = self.order.get(self.selected).copied().filter(|_| self.selected >= start);
        let tail = self.order.split_off(start);
        self.order.reserve(tail.len() + fresh.len());
        let mut fresh = fresh.into_iter().peekable();
        for id in tail {
            let k = key(self, id);
            while let Some(f) = fresh.next_if(|f| *f < k) {
                self.order.push(f.2);
            }
            if Some(id) == selected_id {
                self.selected = self.order.len();
            }
            self.order.push(id);
        }
        self.order.extend(fresh.map(|f| f.2));
    }

    /// Whether the queue shows a preview pane beside the list (a wide terminal).
    pub fn shows_preview(&self) -> bool {
        self.view == View::Queue && self.size.0 >= PREVIEW_MIN_WIDTH
    }

    /// Asks for the selected question's thread when the preview shows and it is not loaded.
    fn preview_cmd(&mut self) -> Option<Cmd> {
        if !self.shows_preview() || !self.online {
            return None;
        }
        self.prepare();
        let id = self.selected_question()?.id;
        if self.preview_wanted == Some(id) {
            return None;
        }
        self.preview_wanted = Some(id);
        Some(Cmd::LoadPreview(id))
    }

    /// The sort key of an id in `order`; `changed` (being moved) is looked up as `its_key`,
    /// since the map already holds its new version.
    fn key_of(&self, id: i64, changed: i64, its_key: (bool, Millis, i64)) -> (bool, Millis, i64) {
        if id == changed {
            return its_key;
        }
        self.questions.get(&id).map(order_key).unwrap_or((true, Millis::MAX, id))
    }

    fn contexts(&self) -> Vec<Context> {
        match self.view {
            View::Queue => vec![Context::Queue, Context::Question, Context::Global],
            View::Conversation => vec![Context::Conversation, Context::Question, Context::Global],
            View::Approvals => vec![Context::Approvals, Context::Global],
            View::Dashboard => vec![Context::Global],
        }
    }
}

/// Queue order: customers waiting for an answer first, earliest deadline first.
fn order_key(q: &Question) -> (bool, Millis, i64) {
    (q.awaiting_since.is_none(), q.sla_due_at, q.id)
}

pub fn update(app: &mut App, msg: Msg) -> Vec<Cmd> {
    let mut cmds = update_inner(app, msg);
    cmds.extend(app.preview_cmd());
    cmds
}

fn update_inner(app: &mut App, msg: Msg) -> Vec<Cmd> {
    match msg {
        Msg::Key(k) => on_key(app, k),
        Msg::Tick(now) => {
            app.now = now;
            // SLA colours and the breaching filter move with the clock.
            if app.filter == Filter::Breaching {
                app.order_dirty = true;
            }
            app.viewers.retain(|_, (_, at)| now - *at < 120_000);
            app.offers.retain(|_, (_, until)| *until > now);
            let mut cmds = Vec::new();
            if app.stats_stale && app.online && app.view == View::Dashboard {
                app.stats_stale = false;
                cmds.push(Cmd::LoadStats);
            }
            cmds
        }
        Msg::Snapshot(page) => {
            if page.first {
                app.load_total = page.total;
                app.load_count = 0;
            }
            if let Some(p) = page.as_of
                && page.first
            {
                app.position = Some(app.position.map_or(p, |c| c.max(p)));
            }
            app.load_count += page.items.len();
            app.upsert_many(page.items);
            app.loaded = true;
            if page.done {
                app.loading = false;
                app.complete = true;
            }
            vec![]
        }
        Msg::Resize(w, h) => {
            app.size = (w, h);
            vec![]
        }
        Msg::NextClaimed(None) => {
            app.info("nothing waiting on your skills right now");
            vec![]
        }
        Msg::NextClaimed(Some(q)) => {
            // Open what was claimed: the agent pressed n to work on it, not to hunt for it.
            app.info(format!("#{} is yours: {}", q.id, text::truncate(&text::one_line(&q.text), 50)));
            let id = q.id;
            app.upsert(q.clone());
            app.view = View::Conversation;
            app.detail_scroll = 0;
            app.detail = Some(QuestionDetail { question: q, messages: Vec::new(), earlier: Vec::new() });
            vec![Cmd::LoadDetail(id)]
        }
        Msg::Preview(d) => {
            if app.preview_wanted == Some(d.question.id) {
                app.upsert(d.question.clone());
                app.preview = Some(d);
            }
            vec![]
        }
        Msg::Event(e) => {
            app.position = Some(app.position.map_or(e.id, |c| c.max(e.id)));
            if e.question_id.is_some() && e.question_id == app.preview_wanted && e.kind != "question.viewing" {
                app.preview_wanted = None; // the previewed thread changed: load it again
            }
            on_event(app, e)
        }
        Msg::Connected => {
            let was_offline = !app.online;
            app.online = true;
            app.offline_reason = None;
            let mut cmds = Vec::new();
            if !app.complete && !app.loading {
                // First connection (or a load that broke off): the stream is open, now the
                // snapshot (see `tui::run`).
                app.loading = true;
                cmds.push(Cmd::LoadSnapshot);
            } else if was_offline && app.position.is_none() && !app.loading {
                // Nothing tells the stream where we were (no event yet, a server that does not
                // say what its snapshot reflects): it resumed "from now", so anything that
                // happened while we were away is only in a fresh snapshot.
                app.questions.clear();
                app.order_dirty = true;
                app.loading = true;
                app.complete = false;
                cmds.push(Cmd::LoadSnapshot);
            }
            if was_offline {
                app.info("back online");
                app.preview_wanted = None;
                // The event stream resumed where it stopped; replies written offline go now,
                // with the same idempotency keys, so each is stored once.
                cmds.extend(app.pending.iter().cloned().map(Cmd::Reply));
                if let Some(d) = &app.detail {
                    cmds.push(Cmd::LoadDetail(d.question.id));
                }
                app.stats_stale = true;
            }
            cmds
        }
        Msg::Disconnected(reason) => {
            app.online = false;
            app.offline_reason = Some(reason);
            vec![]
        }
        Msg::Reload => {
            app.questions.clear();
            app.order_dirty = true;
            app.loading = true;
            app.complete = false;
            vec![Cmd::LoadSnapshot]
        }
        Msg::Detail(d) => {
            if app.detail.as_ref().is_none_or(|cur| cur.question.id == d.question.id) {
                app.upsert(d.question.clone());
                app.detail = Some(d);
            }
            vec![]
        }
        Msg::Done { what, question } => {
            app.info(what);
            let mut cmds = Vec::new();
            if let Some(q) = question {
                let id = q.id;
                app.upsert(q);
                if app.detail.as_ref().is_some_and(|d| d.question.id == id) {
                    cmds.push(Cmd::LoadDetail(id));
                }
            }
            if app.view == View::Approvals {
                cmds.push(Cmd::LoadApprovals);
            }
            cmds
        }
        Msg::Failed { what, error } => {
            app.error(format!("{what}: {error}"));
            vec![]
        }
        Msg::SnapshotFailed(error) => {
            app.loading = false;
            app.error(format!("loading the queue: {error}"));
            vec![]
        }
        Msg::ReplyAcked { key, message } => {
            if let Some(p) = app.pending.iter().position(|p| p.key == key) {
                let p = app.pending.remove(p);
                if let Some(d) = &app.drafts {
                    d.delete(p.question_id, "reply");
                }
                let what = if message.status == Some(ReplyStatus::AwaitingApproval) {
                    format!("reply to #{} is waiting for your mentor's approval", p.question_id)
                } else {
                    format!("reply to #{} sent", p.question_id)
                };
                app.info(what);
                return vec![Cmd::LoadDetail(p.question_id)];
            }
            vec![]
        }
        Msg::ReplyUnsent { key, reason } => {
            if app.pending.iter().any(|p| p.key == key) {
                app.online = false;
                app.offline_reason = Some(reason);
                app.info("offline: the reply is queued and goes out once the server is back");
            }
            vec![]
        }
        Msg::ReplyRefused { key, error } => {
            if let Some(p) = app.pending.iter().position(|p| p.key == key) {
                let p = app.pending.remove(p);
                app.error(format!("reply to #{} not sent: {error} (your draft is kept: r to edit)", p.question_id));
            }
            vec![]
        }
        Msg::Stats(s) => {
            app.stats = Some(s);
            vec![]
        }
        Msg::Approvals(items) => {
            app.approvals = items;
            app.approvals_selected = app.approvals_selected.min(app.approvals.len().saturating_sub(1));
            vec![]
        }
    }
}

fn on_event(app: &mut App, e: Event) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    if e.kind == "question.viewing" {
        if let (Some(qid), Some(actor)) = (e.question_id, e.actor.clone())
            && actor != app.me.handle
        {
            app.viewers.insert(qid, (actor, e.at));
        }
        return cmds;
    }
    if let Ok(q) = serde_json::from_value::<Question>(e.data["question"].clone()) {
        if q.holder.is_some() {
            app.offers.remove(&q.id);
        }
        app.upsert(q);
    }
    if e.kind == "question.offered" {
        if let (Some(qid), Some(to)) = (e.question_id, e.data["to"].as_str()) {
            let until = e.data["expires_at"].as_i64().unwrap_or(e.at + 30_000);
            app.offers.insert(qid, (to.to_string(), until));
            if to == app.me.handle {
                let c = app.keymap.describe(Action::Claim);
                app.info(format!("#{qid} is offered to you: open it and press {c} to claim"));
            }
        }
        return cmds;
    }
    if e.kind.starts_with("reply.") || e.kind.starts_with("question.") {
        app.stats_stale = true;
    }
    if e.kind.starts_with("agent.") {
        app.stats_stale = true;
    }
    if let Some(qid) = e.question_id {
        if app.view == View::Conversation && app.detail.as_ref().is_some_and(|d| d.question.id == qid) {
            cmds.push(Cmd::LoadDetail(qid));
        }
        // Offered to you: a follow-up or transfer landed in your hands.
        let to_me = e.data["assigned_to"].as_str() == Some(app.me.handle.as_str())
            || e.data["to_agent"].as_str() == Some(app.me.handle.as_str());
        if to_me {
            app.info(format!("#{qid} is now yours ({})", e.kind.trim_start_matches("question.")));
        }
    }
    if app.is_reviewer()
        && (e.kind == "reply.awaiting_approval" || e.kind == "reply.approved" || e.kind == "reply.rejected")
    {
        cmds.push(Cmd::LoadApprovals);
    }
    cmds
}

fn needs_server(app: &mut App, what: &str) -> bool {
    if app.online {
        return true;
    }
    app.error(format!("offline: cannot {what} until the server is back (replies can still be written and are queued)"));
    false
}

fn on_key(app: &mut App, k: KeyEvent) -> Vec<Cmd> {
    // Whatever is in front gets the key first.
    if app.help {
        app.help = false;
        return vec![];
    }
    if app.picker.is_some() {
        return picker_key(app, k);
    }
    if app.composer.is_some() {
        return composer_key(app, k);
    }
    if app.searching {
        match k.code {
            KeyCode::Enter => app.searching = false,
            KeyCode::Esc => {
                app.searching = false;
                app.search.clear();
            }
            KeyCode::Backspace => {
                app.search.pop();
            }
            KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => app.search.push(c),
            _ => {}
        }
        app.order_dirty = true;
        app.selected = 0;
        return vec![];
    }
    app.flash = None;
    let Some(action) = app.keymap.action(&k, &app.contexts()) else { return vec![] };
    on_action(app, action)
}

fn on_action(app: &mut App, action: Action) -> Vec<Cmd> {
    let page = 10;
    match action {
        Action::Quit => {
            app.quit = true;
            vec![]
        }
        Action::Help => {
            app.help = true;
            vec![]
        }
        Action::ShowQueue => {
            app.view = View::Queue;
            vec![]
        }
        Action::ShowDashboard => {
            app.view = View::Dashboard;
            app.stats_stale = false;
            vec![Cmd::LoadStats]
        }
        Action::ShowApprovals => {
            if !app.is_reviewer() {
                app.error("approvals are for mentors and leads");
                return vec![];
            }
            app.view = View::Approvals;
            vec![Cmd::LoadApprovals]
        }
        Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
            move_cursor(app, action, page);
            vec![]
        }
        Action::Back => {
            match app.view {
                View::Conversation => {
                    app.view = View::Queue;
                    app.detail = None;
                }
                View::Queue if !app.search.is_empty() => {
                    app.search.clear();
                    app.order_dirty = true;
                }
                _ => app.view = View::Queue,
            }
            vec![]
        }
        Action::Open => open_selected(app),
        Action::Claim => {
            let Some(q) = app.current_question() else { return vec![] };
            let id = q.id;
            if !needs_server(app, "claim") {
                return vec![];
            }
            vec![Cmd::Claim(id)]
        }
        Action::Next => {
            if !needs_server(app, "take the next question") {
                return vec![];
            }
            vec![Cmd::Next]
        }
        Action::Filter => {
            let i = Filter::ALL.iter().position(|f| *f == app.filter).unwrap_or(0);
            app.filter = Filter::ALL[(i + 1) % Filter::ALL.len()];
            app.order_dirty = true;
            app.selected = 0;
            vec![]
        }
        Action::Search => {
            app.searching = true;
            vec![]
        }
        Action::Reply | Action::Note => {
            let Some(q) = app.detail.as_ref().map(|d| d.question.clone()) else { return vec![] };
            let kind = if action == Action::Reply { ComposerKind::Reply } else { ComposerKind::Note };
            if kind == ComposerKind::Reply && q.holder.as_deref() != Some(app.me.handle.as_str()) {
                app.error(match &q.holder {
                    Some(h) => format!("#{} is held by @{h}; only the holder replies", q.id),
                    None => format!("claim #{} first ({})", q.id, app.keymap.describe(Action::Claim)),
                });
                return vec![];
            }
            open_composer(app, kind, &q, None);
            vec![]
        }
        Action::Transfer => {
            let Some(q) = app.detail.as_ref().map(|d| d.question.clone()) else { return vec![] };
            let mut items: Vec<(String, String)> = app
                .functions
                .iter()
                .filter(|f| **f != q.function)
                .map(|f| (format!("function: {f}"), f.clone()))
                .collect();
            items.push(("colleague: type @handle and press enter".into(), "@".into()));
            app.picker = Some(Picker {
                purpose: PickerPurpose::Transfer,
                title: format!("Transfer #{} to…", q.id),
                query: String::new(),
                items,
                selected: 0,
            });
            vec![]
        }
        Action::Topic => {
            let Some(q) = app.detail.as_ref().map(|d| d.question.clone()) else { return vec![] };
            let items = app.topics.iter().filter(|t| **t != q.topic).map(|t| (t.clone(), t.clone())).collect();
            app.picker = Some(Picker {
                purpose: PickerPurpose::Topic,
                title: format!("#{} is about… (now: {})", q.id, q.topic),
                query: String::new(),
                items,
                selected: 0,
            });
            vec![]
        }
        Action::Unhold => {
            let Some(id) = app.current_question().map(|q| q.id) else { return vec![] };
            if app.me.role < Role::Lead {
                app.error("only leads let held posts into the queue");
                return vec![];
            }
            if !needs_server(app, "let it in") {
                return vec![];
            }
            vec![Cmd::Unhold(id)]
        }
        Action::Resolve | Action::ResolveWithoutReply | Action::Release | Action::Reopen => {
            let Some(id) = app.current_question().map(|q| q.id) else { return vec![] };
            let (what, cmd) = match action {
                Action::Resolve => ("resolve", Cmd::Resolve(id)),
                Action::ResolveWithoutReply => ("resolve", Cmd::ResolveWithoutReply(id)),
                Action::Release => ("release", Cmd::Release(id)),
                _ => ("reopen", Cmd::Reopen(id)),
            };
            if !needs_server(app, what) {
                return vec![];
            }
            vec![cmd]
        }
        Action::Approve | Action::Edit | Action::Reject => {
            let Some((m, q)) = app.approvals.get(app.approvals_selected).cloned() else { return vec![] };
            match action {
                Action::Approve => {
                    if !needs_server(app, "approve") {
                        return vec![];
                    }
                    vec![Cmd::Approve { message_id: m.id, edited: None }]
                }
                Action::Edit => {
                    open_composer(app, ComposerKind::EditApproval(m.id), &q, Some(&m.body));
                    vec![]
                }
                _ => {
                    open_composer(app, ComposerKind::RejectReason(m.id), &q, None);
                    vec![]
                }
            }
        }
        Action::Send | Action::Templates | Action::CloseComposer => vec![],
    }
}

fn move_cursor(app: &mut App, action: Action, page: usize) {
    let (cursor, len) = match app.view {
        View::Queue => (&mut app.selected, app.order.len()),
        View::Approvals => (&mut app.approvals_selected, app.approvals.len()),
        View::Conversation => {
            app.detail_scroll = match action {
                Action::Up => app.detail_scroll.saturating_sub(1),
                Action::Down => app.detail_scroll.saturating_add(1),
                Action::PageUp => app.detail_scroll.saturating_sub(page as u16),
                Action::PageDown => app.detail_scroll.saturating_add(page as u16),
                Action::Top => 0,
                _ => u16::MAX / 2,
            };
            return;
        }
        View::Dashboard => return,
    };
    let last = len.saturating_sub(1);
    *cursor = match action {
        Action::Up => cursor.saturating_sub(1),
        Action::Down => (*cursor + 1).min(last),
        Action::PageUp => cursor.saturating_sub(page),
        Action::PageDown => (*cursor + page).min(last),
        Action::Top => 0,
        _ => last,
    };
}

fn open_selected(app: &mut App) -> Vec<Cmd> {
    let Some(q) = app.selected_question().cloned() else { return vec![] };
    app.view = View::Conversation;
    app.detail_scroll = 0;
    app.detail = Some(QuestionDetail { question: q.clone(), messages: Vec::new(), earlier: Vec::new() });
    let mut cmds = vec![Cmd::LoadDetail(q.id)];
    if app.online {
        cmds.push(Cmd::MarkViewing(q.id));
    }
    cmds
}

fn open_composer(app: &mut App, kind: ComposerKind, q: &Question, initial: Option<&str>) {
    let draft = kind.draft_kind().and_then(|k| app.drafts.as_ref().and_then(|d| d.load(q.id, k)));
    // The text as it will be posted (say a novice's reply a mentor edits): control characters
    // and escape sequences dropped, never their on-screen symbols, which would be posted too.
    let start = draft
        .or_else(|| initial.map(|s| s.lines().map(text::plain).collect::<Vec<_>>().join("\n")))
        .unwrap_or_default();
    let mut area = TextArea::new(start.split('\n').map(str::to_string).collect());
    // Soft-wrap at the box's width: a template is one long line, and its start must not scroll
    // off the left edge. Words wrap whole; a word wider than the box (a link) breaks by graphemes.
    area.set_wrap_mode(ratatui_textarea::WrapMode::WordOrGlyph);
    area.move_cursor(ratatui_textarea::CursorMove::Bottom);
    area.move_cursor(ratatui_textarea::CursorMove::End);
    app.composer = Some(Composer { kind, question_id: q.id, channel: q.channel.clone(), area });
}

/// The reply as it will be posted: the text, then the agent's signature on its own line.
pub fn with_signature(body: &str, signature: &str) -> String {
    let body = body.trim_end();
    let sig = signature.trim();
    if sig.is_empty() || body.ends_with(sig) { body.to_string() } else { format!("{body}\n{sig}") }
}

fn composer_key(app: &mut App, k: KeyEvent) -> Vec<Cmd> {
    let action = app.keymap.action(&k, &[Context::Composer]);
    let Some(composer) = app.composer.as_mut() else { return vec![] };
    match action {
        Some(Action::CloseComposer) => {
            app.composer = None;
            app.info("closed; the draft is kept");
            vec![]
        }
        Some(Action::Templates) => {
            let items = app.templates.iter().map(|t| (t.name.clone(), t.text.clone())).collect();
            app.picker = Some(Picker {
                purpose: PickerPurpose::Template,
                title: "Templates".into(),
                query: String::new(),
                items,
                selected: 0,
            });
            vec![]
        }
        Some(Action::Send) => send_composer(app),
        _ => {
            composer.area.input(k);
            if let (Some(kind), Some(d)) = (composer.kind.draft_kind(), app.drafts.as_ref()) {
                d.save(composer.question_id, kind, &composer.text());
            }
            vec![]
        }
    }
}

fn send_composer(app: &mut App) -> Vec<Cmd> {
    let Some(c) = app.composer.as_ref() else { return vec![] };
    let body = c.text();
    let qid = c.question_id;
    let kind = c.kind.clone();
    let needs_text = !matches!(kind, ComposerKind::Transfer(_));
    if needs_text && body.trim().is_empty() {
        app.error("nothing to send");
        return vec![];
    }
    let cmd = match kind {
        ComposerKind::Reply => {
            let full = with_signature(&body, &app.me.signature);
            if let Some((n, max)) = app.reply_length(qid, &c.channel, &full)
                && n > max
            {
                app.error(format!("not sent: {n} of {max} for {} ({} over); shorten it", c.channel, n - max));
                return vec![];
            }
            let key = format!("{}-{}-{:016x}", app.me.handle, qid, rand::random::<u64>());
            let pending = PendingReply { question_id: qid, body: full, key };
            app.pending.push(pending.clone());
            if !app.online {
                app.info("offline: the reply is queued and goes out once the server is back");
                app.composer = None;
                return vec![];
            }
            Cmd::Reply(pending)
        }
        ComposerKind::Note => {
            if !needs_server(app, "add a note") {
                return vec![];
            }
            if let Some(d) = &app.drafts {
                d.delete(qid, "note");
            }
            Cmd::Note { question_id: qid, body }
        }
        ComposerKind::Transfer(to) => {
            if !needs_server(app, "transfer") {
                return vec![];
            }
            let note = (!body.trim().is_empty()).then_some(body);
            Cmd::Transfer { question_id: qid, to, note }
        }
        ComposerKind::EditApproval(mid) => {
            if !needs_server(app, "approve") {
                return vec![];
            }
            Cmd::Approve { message_id: mid, edited: Some(body) }
        }
        ComposerKind::RejectReason(mid) => {
            if !needs_server(app, "reject") {
                return vec![];
            }
            Cmd::Reject { message_id: mid, reason: body }
        }
    };
    app.composer = None;
    vec![cmd]
}

fn picker_key(app: &mut App, k: KeyEvent) -> Vec<Cmd> {
    let Some(p) = app.picker.as_mut() else { return vec![] };
    match k.code {
        KeyCode::Esc => {
            app.picker = None;
        }
        KeyCode::Up => p.selected = p.selected.saturating_sub(1),
        KeyCode::Down => p.selected += 1,
        KeyCode::Backspace => {
            p.query.pop();
            p.selected = 0;
        }
        KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
            p.query.push(c);
            p.selected = 0;
        }
        KeyCode::Enter => {
            let purpose = p.purpose;
            let query = p.query.trim().to_string();
            let chosen = {
                let m = p.matches();
                m.get(p.selected.min(m.len().saturating_sub(1))).map(|(_, v)| v.clone())
            };
            app.picker = None;
            match purpose {
                PickerPurpose::Template => {
                    if let (Some(t), Some(c)) = (chosen, app.composer.as_mut()) {
                        let q = app.questions.get(&c.question_id).or(app.detail.as_ref().map(|d| &d.question));
                        let (name, handle) = q
                            // What goes into a post: the name itself without its control
                            // characters, never the on-screen form with its visible symbols.
                            .map(|q| (text::plain(&q.customer.name), text::plain(&q.customer.handle)))
                            .unwrap_or_default();
                        let filled = t
                            .replace("{customer_name}", if name.is_empty() { &handle } else { &name })
                            .replace("{customer_handle}", &handle)
                            .replace("{agent_name}", &app.me.display_name)
                            .replace("{agent_handle}", &app.me.handle);
                        c.area.insert_str(filled);
                        if let (Some(kind), Some(d)) = (c.kind.draft_kind(), app.drafts.as_ref()) {
                            d.save(c.question_id, kind, &c.text());
                        }
                    }
                }
                PickerPurpose::Topic => {
                    let qid = app.detail.as_ref().map(|d| d.question.id);
                    if let (Some(topic), Some(question_id)) = (chosen, qid)
                        && needs_server(app, "correct the topic")
                    {
                        return vec![Cmd::Recategorize { question_id, topic }];
                    }
                }
                PickerPurpose::Transfer => {
                    let to = if let Some(h) = query.strip_prefix('@').filter(|h| !h.is_empty()) {
                        Some(TransferTo::Agent(h.to_string()))
                    } else {
                        chosen.filter(|v| v != "@").map(TransferTo::Function)
                    };
                    match (to, app.detail.as_ref().map(|d| d.question.clone())) {
                        (Some(to), Some(q)) => open_composer(app, ComposerKind::Transfer(to), &q, None),
                        _ => app.error("type @handle for a colleague, or pick a function"),
                    }
                }
            }
        }
        _ => {}
    }
    vec![]
}
