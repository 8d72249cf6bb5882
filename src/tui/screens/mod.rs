//! The terminal's screens, each with its own state, key handling and drawing: the queue, the
//! conversation, the composer (with its picker, a popup in front of the others), the dashboard
//! and the approvals. `App` routes messages and keys between them; what every screen reads (who
//! I am, the clock, the connection, the questions, the flash line, the keymap, the theme) is the
//! `Shared` context passed to each. The commands the screens return (`cmd`), the keymap and the
//! drafts live here too: this folder names nothing of the one above it (`App`, the runtime), which
//! routes to it.

pub mod approvals;
pub mod cmd;
pub mod composer;
pub mod conversation;
pub mod dashboard;
pub mod drafts;
pub mod keymap;
pub mod queue;

use std::collections::HashMap;

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

use crate::config::Template;
use crate::model::{Agent, Millis, Question, Role};
use crate::text;
use cmd::{Cmd, Level, PendingReply};
use composer::{ComposerKind, Picker};
use drafts::Drafts;
use keymap::{Action, KeyMap};
use queue::{Sla, sla};

/// What every screen reads, and the few things any of them may change (the flash line, the
/// questions, the replies waiting for the server).
pub struct Shared {
    pub me: Agent,
    pub now: Millis,
    pub online: bool,
    pub offline_reason: Option<String>,
    /// The terminal's size (columns, rows), for what `update` decides by width: the preview.
    pub size: (u16, u16),
    /// Every question the terminal knows, by id (the queue keeps their order).
    pub questions: HashMap<i64, Question>,
    pub flash: Option<(String, Level)>,
    /// Replies the server has not acknowledged yet.
    pub pending: Vec<PendingReply>,
    pub functions: Vec<String>,
    /// Topic names, for correcting a question's topic.
    pub topics: Vec<String>,
    /// Channel → (how it counts, whether the customer's @mention is put in front), from the server.
    pub channel_limits: HashMap<String, (text::Limit, bool)>,
    pub templates: Vec<Template>,
    pub keymap: KeyMap,
    pub drafts: Option<Drafts>,
    pub mono: bool,
}

impl Shared {
    pub fn is_reviewer(&self) -> bool {
        self.me.role >= Role::Mentor
    }

    pub fn info(&mut self, s: impl Into<String>) {
        self.flash = Some((s.into(), Level::Info));
    }

    pub fn error(&mut self, s: impl Into<String>) {
        self.flash = Some((s.into(), Level::Error));
    }

    /// Whether the server is there for `what`; if not, says so on the flash line.
    pub fn needs_server(&mut self, what: &str) -> bool {
        if self.online {
            return true;
        }
        self.error(format!(
            "offline: cannot {what} until the server is back (replies can still be written and are queued)"
        ));
        false
    }
}

/// What a screen did with a key.
pub enum Outcome {
    /// Not this screen's key: the app's own keys get it.
    Ignored,
    /// Used; these commands go to the backend.
    Used(Vec<Cmd>),
    /// Used: show this question in the conversation.
    Open(Question),
    /// Used: open the composer for this question.
    Compose { kind: ComposerKind, question: Question, initial: Option<String> },
    /// Used: open this picker.
    Pick(Picker),
}

/// The actions on a question shared by the queue and the conversation (`q`: the question the
/// screen is about). `None` when `action` is not one of them.
pub fn question_action(ctx: &mut Shared, q: Option<&Question>, action: Action) -> Option<Vec<Cmd>> {
    let id = q.map(|q| q.id);
    let cmds = match action {
        Action::Claim => {
            let Some(id) = id else { return Some(vec![]) };
            if !ctx.needs_server("claim") {
                return Some(vec![]);
            }
            vec![Cmd::Claim(id)]
        }
        Action::Next => {
            if !ctx.needs_server("take the next question") {
                return Some(vec![]);
            }
            vec![Cmd::Next]
        }
        Action::Unhold => {
            let Some(id) = id else { return Some(vec![]) };
            if ctx.me.role < Role::Lead {
                ctx.error("only leads let held posts into the queue");
                return Some(vec![]);
            }
            if !ctx.needs_server("let it in") {
                return Some(vec![]);
            }
            vec![Cmd::Unhold(id)]
        }
        Action::Resolve | Action::ResolveWithoutReply | Action::Release | Action::Reopen => {
            let Some(id) = id else { return Some(vec![]) };
            let (what, cmd) = match action {
                Action::Resolve => ("resolve", Cmd::Resolve(id)),
                Action::ResolveWithoutReply => ("resolve", Cmd::ResolveWithoutReply(id)),
                Action::Release => ("release", Cmd::Release(id)),
                _ => ("reopen", Cmd::Reopen(id)),
            };
            if !ctx.needs_server(what) {
                return Some(vec![]);
            }
            vec![cmd]
        }
        _ => return None,
    };
    Some(cmds)
}

/// Moves a list cursor by a movement action (`page` rows a page).
pub fn move_in_list(cursor: &mut usize, len: usize, action: Action, page: usize) {
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

/// Whether `action` moves a cursor or scrolls.
pub fn is_movement(action: Action) -> bool {
    matches!(action, Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom)
}

/// Rows a page-up or page-down moves.
pub const PAGE: usize = 10;

/// Colours, or none (`NO_COLOR`, `theme = "mono"`).
pub struct Theme {
    pub mono: bool,
}

impl Theme {
    pub fn fg(&self, c: Color) -> Style {
        if self.mono { Style::default() } else { Style::default().fg(c) }
    }
    pub fn bold(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    pub fn dim(&self) -> Style {
        if self.mono { Style::default() } else { Style::default().fg(Color::DarkGray) }
    }
    pub fn selected(&self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default().bg(Color::Blue).fg(Color::White)
        }
    }
}

/// "45s", "12m", "3h05", "2d4h".
pub fn duration(ms: Millis) -> String {
    let s = (ms.max(0) / 1000) as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h{:02}", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// A question's SLA as text and colour.
pub fn sla_cell(q: &Question, now: Millis, t: &Theme) -> (String, Style) {
    match sla(q, now) {
        Sla::Answered => ("answered".into(), t.dim()),
        Sla::Ok => (format!("ok {}", duration(q.sla_due_at - now)), t.fg(Color::Green)),
        Sla::Near => {
            (format!("near {}", duration(q.sla_due_at - now)), t.fg(Color::Yellow).add_modifier(Modifier::BOLD))
        }
        Sla::Breached => {
            (format!("late {}", duration(now - q.sla_due_at)), t.fg(Color::Red).add_modifier(Modifier::BOLD))
        }
    }
}

/// A question's state in a few letters, for narrow places.
pub fn state_label(s: crate::model::QuestionState) -> &'static str {
    match s {
        crate::model::QuestionState::AwaitingApproval => "approval",
        other => other.as_str(),
    }
}

/// A `w`×`h` box in the middle of `area` (a popup).
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}
