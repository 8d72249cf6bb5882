//! The composer and its picker, popups in front of the other screens: a multi-line editor for
//! replies, notes, hand-off notes and a mentor's edits, counted by the channel's rule and saved as
//! a draft as it is typed; a fuzzy finder over templates, functions or topics.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui_textarea::TextArea;

pub use super::cmd::TransferTo;
use super::cmd::{Cmd, PendingReply};
use super::keymap::{Action, Context};
use super::{Shared, Theme, centered};
use crate::model::Question;
use crate::text;

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

/// The reply as it will be posted: the text, then the agent's signature on its own line.
pub fn with_signature(body: &str, signature: &str) -> String {
    let body = body.trim_end();
    let sig = signature.trim();
    if sig.is_empty() || body.ends_with(sig) { body.to_string() } else { format!("{body}\n{sig}") }
}

/// The length of a reply as its network will count it, and the limit: (count, max). The
/// server's connectors say how each channel counts (and whether the customer's @mention is put
/// in front, which counts too); networks without a connector use their defaults. `current`: the
/// question the conversation shows, for one not (or no longer) in the queue.
pub fn reply_length(
    ctx: &Shared,
    current: Option<&Question>,
    question_id: i64,
    channel: &str,
    body: &str,
) -> Option<(usize, usize)> {
    let (limit, mention) = match ctx.channel_limits.get(channel) {
        Some(l) => *l,
        None => (text::channel_limit(channel)?, channel == "mastodon"),
    };
    let customer = ctx.questions.get(&question_id).or(current).map(|q| q.customer.handle.clone()).unwrap_or_default();
    // Networks count a remote @user@domain mention as @user.
    let local = customer.trim_start_matches('@').split('@').next().unwrap_or("");
    let posted = if mention && !local.is_empty() && !body.contains(&format!("@{local}")) {
        format!("@{local} {body}")
    } else {
        body.to_string()
    };
    Some((text::count(&posted, limit.counting), limit.max))
}

/// The popups: the editor, and the picker (over the editor, or alone for a transfer or a topic).
#[derive(Default)]
pub struct ComposerScreen {
    pub editor: Option<Composer>,
    pub picker: Option<Picker>,
}

impl ComposerScreen {
    /// Opens the editor for `q`: with its saved draft, else `initial`, else empty.
    pub fn open(&mut self, ctx: &Shared, kind: ComposerKind, q: &Question, initial: Option<&str>) {
        let draft = kind.draft_kind().and_then(|k| ctx.drafts.as_ref().and_then(|d| d.load(q.id, k)));
        // The text as it will be posted (say a novice's reply a mentor edits): control characters
        // and escape sequences dropped, never their on-screen symbols, which would be posted too.
        let start = draft
            .or_else(|| initial.map(|s| s.lines().map(text::plain).collect::<Vec<_>>().join("\n")))
            .unwrap_or_default();
        let mut area = TextArea::new(start.split('\n').map(str::to_string).collect());
        // Soft-wrap at the box's width: a template is one long line, and its start must not
        // scroll off the left edge. Words wrap whole; a word wider than the box (a link) breaks
        // by graphemes.
        area.set_wrap_mode(ratatui_textarea::WrapMode::WordOrGlyph);
        area.move_cursor(ratatui_textarea::CursorMove::Bottom);
        area.move_cursor(ratatui_textarea::CursorMove::End);
        self.editor = Some(Composer { kind, question_id: q.id, channel: q.channel.clone(), area });
    }

    /// The key, if a popup is open: the picker first, then the editor. `None`: nothing open, the
    /// screen behind gets the key. `current`: the question the conversation shows.
    pub fn on_key(&mut self, ctx: &mut Shared, current: Option<&Question>, k: KeyEvent) -> Option<Vec<Cmd>> {
        if self.picker.is_some() {
            return Some(self.picker_key(ctx, current, k));
        }
        if self.editor.is_some() {
            return Some(self.editor_key(ctx, current, k));
        }
        None
    }

    fn editor_key(&mut self, ctx: &mut Shared, current: Option<&Question>, k: KeyEvent) -> Vec<Cmd> {
        let action = ctx.keymap.action(&k, &[Context::Composer]);
        let Some(composer) = self.editor.as_mut() else { return vec![] };
        match action {
            Some(Action::CloseComposer) => {
                self.editor = None;
                ctx.info("closed; the draft is kept");
                vec![]
            }
            Some(Action::Templates) => {
                let items = ctx.templates.iter().map(|t| (t.name.clone(), t.text.clone())).collect();
                self.picker = Some(Picker {
                    purpose: PickerPurpose::Template,
                    title: "Templates".into(),
                    query: String::new(),
                    items,
                    selected: 0,
                });
                vec![]
            }
            Some(Action::Send) => self.send(ctx, current),
            _ => {
                composer.area.input(k);
                if let (Some(kind), Some(d)) = (composer.kind.draft_kind(), ctx.drafts.as_ref()) {
                    d.save(composer.question_id, kind, &composer.text());
                }
                vec![]
            }
        }
    }

    fn send(&mut self, ctx: &mut Shared, current: Option<&Question>) -> Vec<Cmd> {
        let Some(c) = self.editor.as_ref() else { return vec![] };
        let body = c.text();
        let qid = c.question_id;
        let kind = c.kind.clone();
        let needs_text = !matches!(kind, ComposerKind::Transfer(_));
        if needs_text && body.trim().is_empty() {
            ctx.error("nothing to send");
            return vec![];
        }
        let cmd = match kind {
            ComposerKind::Reply => {
                let full = with_signature(&body, &ctx.me.signature);
                if let Some((n, max)) = reply_length(ctx, current, qid, &c.channel, &full)
                    && n > max
                {
                    let msg = format!("not sent: {n} of {max} for {} ({} over); shorten it", c.channel, n - max);
                    ctx.error(msg);
                    return vec![];
                }
                let key = format!("{}-{}-{:016x}", ctx.me.handle, qid, rand::random::<u64>());
                let pending = PendingReply { question_id: qid, body: full, key };
                ctx.pending.push(pending.clone());
                if !ctx.online {
                    ctx.info("offline: the reply is queued and goes out once the server is back");
                    self.editor = None;
                    return vec![];
                }
                Cmd::Reply(pending)
            }
            ComposerKind::Note => {
                if !ctx.needs_server("add a note") {
                    return vec![];
                }
                if let Some(d) = &ctx.drafts {
                    d.delete(qid, "note");
                }
                Cmd::Note { question_id: qid, body }
            }
            ComposerKind::Transfer(to) => {
                if !ctx.needs_server("transfer") {
                    return vec![];
                }
                let note = (!body.trim().is_empty()).then_some(body);
                Cmd::Transfer { question_id: qid, to, note }
            }
            ComposerKind::EditApproval(mid) => {
                if !ctx.needs_server("approve") {
                    return vec![];
                }
                Cmd::Approve { message_id: mid, edited: Some(body) }
            }
            ComposerKind::RejectReason(mid) => {
                if !ctx.needs_server("reject") {
                    return vec![];
                }
                Cmd::Reject { message_id: mid, reason: body }
            }
        };
        self.editor = None;
        vec![cmd]
    }

    fn picker_key(&mut self, ctx: &mut Shared, current: Option<&Question>, k: KeyEvent) -> Vec<Cmd> {
        let Some(p) = self.picker.as_mut() else { return vec![] };
        match k.code {
            KeyCode::Esc => {
                self.picker = None;
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
                self.picker = None;
                match purpose {
                    PickerPurpose::Template => {
                        if let (Some(t), Some(c)) = (chosen, self.editor.as_mut()) {
                            let q = ctx.questions.get(&c.question_id).or(current);
                            let (name, handle) = q
                                // What goes into a post: the name itself without its control
                                // characters, never the on-screen form with its visible symbols.
                                .map(|q| (text::plain(&q.customer.name), text::plain(&q.customer.handle)))
                                .unwrap_or_default();
                            let filled = t
                                .replace("{customer_name}", if name.is_empty() { &handle } else { &name })
                                .replace("{customer_handle}", &handle)
                                .replace("{agent_name}", &ctx.me.display_name)
                                .replace("{agent_handle}", &ctx.me.handle);
                            c.area.insert_str(filled);
                            if let (Some(kind), Some(d)) = (c.kind.draft_kind(), ctx.drafts.as_ref()) {
                                d.save(c.question_id, kind, &c.text());
                            }
                        }
                    }
                    PickerPurpose::Topic => {
                        if let (Some(topic), Some(question_id)) = (chosen, current.map(|q| q.id))
                            && ctx.needs_server("correct the topic")
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
                        match (to, current) {
                            (Some(to), Some(q)) => self.open(ctx, ComposerKind::Transfer(to), q, None),
                            _ => ctx.error("type @handle for a colleague, or pick a function"),
                        }
                    }
                }
            }
            _ => {}
        }
        vec![]
    }

    /// Draws the open popups over the whole frame; `footer`: the composer's keys in so many cells.
    pub fn render(
        &self,
        ctx: &Shared,
        current: Option<&Question>,
        f: &mut Frame,
        t: &Theme,
        footer: &dyn Fn(usize) -> String,
    ) {
        if let Some(c) = &self.editor {
            render_editor(ctx, current, c, f, t, footer);
        }
        if let Some(p) = &self.picker {
            render_picker(p, f, t);
        }
    }
}

fn render_editor(
    ctx: &Shared,
    current: Option<&Question>,
    c: &Composer,
    f: &mut Frame,
    t: &Theme,
    footer: &dyn Fn(usize) -> String,
) {
    let area = centered(f.area(), 80, 16);
    f.render_widget(Clear, area);
    let block = Block::default().borders(Borders::ALL).title(format!(" {} · #{} ", c.kind.title(), c.question_id));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [editor, info] = Layout::vertical([Constraint::Min(3), Constraint::Length(2)]).areas(inner);
    f.render_widget(&c.area, editor);
    let mut lines = Vec::new();
    if c.kind == ComposerKind::Reply {
        let full = with_signature(&c.text(), &ctx.me.signature);
        let counter = match reply_length(ctx, current, c.question_id, &c.channel, &full) {
            Some((n, max)) => {
                let style = if n > max { t.fg(Color::Red).add_modifier(Modifier::BOLD) } else { t.fg(Color::Green) };
                Span::styled(format!("{n}/{max} {}", c.channel), style)
            }
            None => Span::styled(format!("{} characters ({}: no limit)", full.chars().count(), c.channel), t.dim()),
        };
        let sig = if ctx.me.signature.trim().is_empty() {
            String::new()
        } else {
            format!(" · signature: {}", text::one_line(&ctx.me.signature))
        };
        lines.push(Line::from(vec![counter, Span::styled(sig, t.dim())]));
    }
    lines.push(Line::styled(footer(info.width as usize), t.dim()));
    f.render_widget(Paragraph::new(lines), info);
}

fn render_picker(p: &Picker, f: &mut Frame, t: &Theme) {
    let area = centered(f.area(), 70, 14);
    f.render_widget(Clear, area);
    let matches = p.matches();
    let mut lines = vec![Line::from(format!("> {}▏", text::one_line(&p.query))), Line::from("")];
    for (i, (label, _)) in matches.iter().enumerate().take(area.height.saturating_sub(5) as usize) {
        let l = text::truncate(&text::one_line(label), area.width.saturating_sub(4) as usize);
        lines.push(if i == p.selected.min(matches.len().saturating_sub(1)) {
            Line::styled(l, t.selected())
        } else {
            Line::from(l)
        });
    }
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" {} · type to narrow, enter to pick, esc to close ", p.title)),
        ),
        area,
    );
}
