//! The terminal's state and how it changes: `update(&mut App, Msg) -> Vec<Cmd>`. Messages come
//! from the keyboard, the clock and the backend; commands go out to the backend and come back as
//! messages. Nothing here waits for the network. Each screen keeps its own state and handles its
//! own keys (`super::screens`); `App` routes messages and keys between them and holds what they
//! share.

use crossterm::event::KeyEvent;

use super::screens::approvals::ApprovalsScreen;
use super::screens::composer::ComposerScreen;
use super::screens::conversation::ConversationScreen;
use super::screens::dashboard::DashboardScreen;
use super::screens::drafts::Drafts;
use super::screens::keymap::{Action, Context, KeyMap};
use super::screens::queue::QueueScreen;
use super::screens::{Outcome, Shared};
use crate::config::Template;
use crate::model::{Agent, Event, Message, Millis, Question, QuestionDetail, ReplyStatus, Stats, event_kind};
use crate::text;
use crate::wire::events::{QuestionOffered, QuestionReopened, QuestionTransferred};

pub use super::screens::cmd::{Cmd, Level, PendingReply, SnapshotPage};
pub use super::screens::composer::{
    Composer, ComposerKind, Picker, PickerPurpose, TransferTo, fuzzy_score, with_signature,
};
pub use super::screens::queue::{Filter, PREVIEW_MIN_WIDTH, Sla, sla};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Queue,
    Conversation,
    Dashboard,
    Approvals,
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

/// Everything the screen shows: what the screens share, and each screen's own state.
pub struct App {
    pub shared: Shared,
    pub view: View,
    pub queue: QueueScreen,
    pub conversation: ConversationScreen,
    /// The composer and the picker, popups in front of the view.
    pub composer: ComposerScreen,
    pub dashboard: DashboardScreen,
    pub approvals: ApprovalsScreen,
    /// The newest event taken in (from the stream or a snapshot's `as_of`). `None`: the stream
    /// would resume "from now" and could miss what happens while it is away, so a reconnect
    /// reloads instead.
    pub position: Option<i64>,
    /// The help overlay is open (in front of everything).
    pub help: bool,
    pub quit: bool,
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
            shared: Shared {
                me,
                now,
                online: true,
                offline_reason: None,
                size: (80, 24),
                questions: Default::default(),
                flash: None,
                pending: Vec::new(),
                functions,
                topics: Vec::new(),
                channel_limits: Default::default(),
                templates,
                keymap,
                drafts,
                mono: false,
            },
            view: View::Queue,
            queue: QueueScreen::default(),
            conversation: ConversationScreen::default(),
            composer: ComposerScreen::default(),
            dashboard: DashboardScreen::default(),
            approvals: ApprovalsScreen::default(),
            position: None,
            help: false,
            quit: false,
        }
    }

    pub fn is_reviewer(&self) -> bool {
        self.shared.is_reviewer()
    }

    /// The question under the cursor in the queue view.
    pub fn selected_question(&self) -> Option<&Question> {
        self.queue.selected_question(&self.shared)
    }

    /// The length of a reply as its network will count it, and the limit: (count, max).
    pub fn reply_length(&self, question_id: i64, channel: &str, body: &str) -> Option<(usize, usize)> {
        super::screens::composer::reply_length(&self.shared, self.conversation.question(), question_id, channel, body)
    }

    /// Marks the queue order for rebuilding (after changing the questions directly).
    pub fn touch(&mut self) {
        self.queue.touch();
    }

    /// Rebuilds the queue order if anything changed. Called once before each frame, so a burst
    /// of events costs one sort.
    pub fn prepare(&mut self) {
        self.queue.prepare(&self.shared);
    }

    /// Whether the queue shows a preview pane beside the list (a wide terminal).
    pub fn shows_preview(&self) -> bool {
        self.view == View::Queue && self.shared.size.0 >= PREVIEW_MIN_WIDTH
    }

    /// Takes in a copy of a question, unless an newer one is held (a snapshot racing an event).
    fn upsert(&mut self, q: Question) {
        if QueueScreen::is_stale(&self.shared, &q) {
            return;
        }
        self.conversation.refresh(&q);
        self.queue.upsert(&mut self.shared, q);
    }

    /// Asks for the selected question's thread when the preview shows and it is not loaded.
    fn preview_cmd(&mut self) -> Option<Cmd> {
        if !self.shows_preview() || !self.shared.online {
            return None;
        }
        self.queue.preview_cmd(&self.shared)
    }

    /// Shows `q` in the conversation and asks for its thread.
    fn open_conversation(&mut self, q: Question) -> Cmd {
        let id = q.id;
        self.view = View::Conversation;
        self.conversation.open(q);
        Cmd::LoadDetail(id)
    }

    fn info(&mut self, s: impl Into<String>) {
        self.shared.info(s);
    }

    fn error(&mut self, s: impl Into<String>) {
        self.shared.error(s);
    }
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
            app.shared.now = now;
            app.queue.on_tick(now);
            app.dashboard.on_tick(app.view == View::Dashboard, app.shared.online).into_iter().collect()
        }
        Msg::Snapshot(page) => {
            app.queue.on_page(&page);
            if let Some(p) = page.as_of
                && page.first
            {
                app.position = Some(app.position.map_or(p, |c| c.max(p)));
            }
            let conversation = &mut app.conversation;
            app.queue.upsert_many(&mut app.shared, page.items, |q| conversation.refresh(q));
            app.queue.page_taken(page.done);
            vec![]
        }
        Msg::Resize(w, h) => {
            app.shared.size = (w, h);
            vec![]
        }
        Msg::NextClaimed(None) => {
            app.info("nothing waiting on your skills right now");
            vec![]
        }
        Msg::NextClaimed(Some(q)) => {
            // Open what was claimed: the agent pressed n to work on it, not to hunt for it.
            app.info(format!("#{} is yours: {}", q.id, text::truncate(&text::one_line(&q.text), 50)));
            app.upsert(q.clone());
            vec![app.open_conversation(q)]
        }
        Msg::Preview(d) => {
            if app.queue.preview_wanted == Some(d.question.id) {
                app.upsert(d.question.clone());
                app.queue.preview = Some(d);
            }
            vec![]
        }
        Msg::Event(e) => {
            app.position = Some(app.position.map_or(e.id, |c| c.max(e.id)));
            if e.question_id.is_some()
                && e.question_id == app.queue.preview_wanted
                && e.kind != event_kind::QUESTION_VIEWING
            {
                app.queue.preview_wanted = None; // the previewed thread changed: load it again
            }
            on_event(app, e)
        }
        Msg::Connected => {
            let was_offline = !app.shared.online;
            app.shared.online = true;
            app.shared.offline_reason = None;
            let mut cmds = Vec::new();
            if !app.queue.complete && !app.queue.loading {
                // First connection (or a load that broke off): the stream is open, now the
                // snapshot (see `tui::run`).
                app.queue.loading = true;
                cmds.push(Cmd::LoadSnapshot);
            } else if was_offline && app.position.is_none() && !app.queue.loading {
                // Nothing tells the stream where we were (no event yet, a server that does not
                // say what its snapshot reflects): it resumed "from now", so anything that
                // happened while we were away is only in a fresh snapshot.
                app.queue.reload(&mut app.shared);
                cmds.push(Cmd::LoadSnapshot);
            }
            if was_offline {
                app.info("back online");
                app.queue.preview_wanted = None;
                // The event stream resumed where it stopped; replies written offline go now,
                // with the same idempotency keys, so each is stored once.
                cmds.extend(app.shared.pending.iter().cloned().map(Cmd::Reply));
                if let Some(q) = app.conversation.question() {
                    cmds.push(Cmd::LoadDetail(q.id));
                }
                app.dashboard.stale = true;
            }
            cmds
        }
        Msg::Disconnected(reason) => {
            app.shared.online = false;
            app.shared.offline_reason = Some(reason);
            vec![]
        }
        Msg::Reload => {
            app.queue.reload(&mut app.shared);
            vec![Cmd::LoadSnapshot]
        }
        Msg::Detail(d) => {
            if app.conversation.wants(&d) {
                app.upsert(d.question.clone());
                app.conversation.detail = Some(d);
            }
            vec![]
        }
        Msg::Done { what, question } => {
            app.info(what);
            let mut cmds = Vec::new();
            if let Some(q) = question {
                let id = q.id;
                app.upsert(q);
                if app.conversation.shows(id) {
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
            app.queue.loading = false;
            app.error(format!("loading the queue: {error}"));
            vec![]
        }
        Msg::ReplyAcked { key, message } => {
            if let Some(p) = app.shared.pending.iter().position(|p| p.key == key) {
                let p = app.shared.pending.remove(p);
                if let Some(d) = &app.shared.drafts {
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
            if app.shared.pending.iter().any(|p| p.key == key) {
                app.shared.online = false;
                app.shared.offline_reason = Some(reason);
                app.info("offline: the reply is queued and goes out once the server is back");
            }
            vec![]
        }
        Msg::ReplyRefused { key, error } => {
            if let Some(p) = app.shared.pending.iter().position(|p| p.key == key) {
                let p = app.shared.pending.remove(p);
                app.error(format!("reply to #{} not sent: {error} (your draft is kept: r to edit)", p.question_id));
            }
            vec![]
        }
        Msg::Stats(s) => {
            app.dashboard.stats = Some(s);
            vec![]
        }
        Msg::Approvals(items) => {
            app.approvals.set(items);
            vec![]
        }
    }
}

fn on_event(app: &mut App, e: Event) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    if e.kind == event_kind::QUESTION_VIEWING {
        if let (Some(qid), Some(actor)) = (e.question_id, e.actor.clone()) {
            app.queue.on_viewing(&app.shared, qid, actor, e.at);
        }
        return cmds;
    }
    if let Some(q) = e.question() {
        if q.holder.is_some() {
            app.queue.offers.remove(&q.id);
        }
        app.upsert(q);
    }
    if e.kind == event_kind::QUESTION_OFFERED {
        if let (Some(qid), Some(offer)) = (e.question_id, e.payload::<QuestionOffered>())
            && let Some(to) = offer.to
        {
            app.queue.on_offered(&mut app.shared, qid, &to, offer.expires_at);
        }
        return cmds;
    }
    // Every change but a note moves the statistics.
    if e.kind != event_kind::NOTE_ADDED {
        app.dashboard.stale = true;
    }
    if let Some(qid) = e.question_id {
        if app.view == View::Conversation && app.conversation.shows(qid) {
            cmds.push(Cmd::LoadDetail(qid));
        }
        // A follow-up or transfer landed in your hands.
        if let Some(how) = handed_to(&e, &app.shared.me.handle) {
            app.info(format!("#{qid} is now yours ({how})"));
        }
    }
    let review = [event_kind::REPLY_AWAITING_APPROVAL, event_kind::REPLY_APPROVED, event_kind::REPLY_REJECTED];
    if app.is_reviewer() && review.contains(&e.kind.as_str()) {
        cmds.push(Cmd::LoadApprovals);
    }
    cmds
}

/// How the question of `e` became `handle`'s, if it did: a follow-up reopened it back to them, or
/// a colleague transferred it to them.
fn handed_to(e: &Event, handle: &str) -> Option<&'static str> {
    if let Some(r) = e.payload::<QuestionReopened>() {
        return (r.assigned_to.flatten().as_deref() == Some(handle)).then_some("reopened");
    }
    let t = e.payload::<QuestionTransferred>()?;
    (t.to_agent.as_deref() == Some(handle)).then_some("transferred")
}

/// Whatever is in front gets the key first and says whether it used it: the help overlay, the
/// popups (picker, composer), the queue's search line; then the screen shown; then the keys that
/// work everywhere.
fn on_key(app: &mut App, k: KeyEvent) -> Vec<Cmd> {
    if app.help {
        app.help = false;
        return vec![];
    }
    let current = app.conversation.question();
    if let Some(cmds) = app.composer.on_key(&mut app.shared, current, k) {
        return cmds;
    }
    if let Some(cmds) = app.queue.search_key(k) {
        return cmds;
    }
    app.shared.flash = None;
    let outcome = match app.view {
        View::Queue => app.queue.on_key(&mut app.shared, &k),
        View::Conversation => app.conversation.on_key(&mut app.shared, &k),
        View::Approvals => app.approvals.on_key(&mut app.shared, &k),
        View::Dashboard => Outcome::Ignored,
    };
    match outcome {
        Outcome::Used(cmds) => cmds,
        Outcome::Open(q) => {
            let id = q.id;
            let mut cmds = vec![app.open_conversation(q)];
            if app.shared.online {
                cmds.push(Cmd::MarkViewing(id));
            }
            cmds
        }
        Outcome::Compose { kind, question, initial } => {
            app.composer.open(&app.shared, kind, &question, initial.as_deref());
            vec![]
        }
        Outcome::Pick(p) => {
            app.composer.picker = Some(p);
            vec![]
        }
        Outcome::Ignored => match app.shared.keymap.action(&k, &[Context::Global]) {
            Some(action) => on_global(app, action),
            None => vec![],
        },
    }
}

/// The keys that work on every screen.
fn on_global(app: &mut App, action: Action) -> Vec<Cmd> {
    match action {
        Action::Quit => app.quit = true,
        Action::Help => app.help = true,
        Action::ShowQueue => app.view = View::Queue,
        Action::ShowDashboard => {
            app.view = View::Dashboard;
            return vec![app.dashboard.show()];
        }
        Action::ShowApprovals => {
            if !app.is_reviewer() {
                app.error("approvals are for mentors and leads");
                return vec![];
            }
            app.view = View::Approvals;
            return vec![Cmd::LoadApprovals];
        }
        Action::Back => {
            if app.view == View::Conversation {
                app.conversation.detail = None;
            }
            app.view = View::Queue;
        }
        _ => {}
    }
    vec![]
}
