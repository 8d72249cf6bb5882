//! The conversation screen: one question's whole thread, the customer's earlier questions, why
//! it was routed there, the SLA and lease countdowns; replying, notes, transfers and topic
//! corrections start here.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::composer::{ComposerKind, Picker, PickerPurpose};
use super::keymap::{Action, Context};
use super::{Outcome, PAGE, Shared, Theme, duration, is_movement, question_action, sla_cell, state_label};
use crate::model::{Message, MessageKind, Millis, Question, QuestionDetail, ReplyStatus};
use crate::text;

/// The conversation screen's state.
#[derive(Default)]
pub struct ConversationScreen {
    /// The question shown, with its thread once loaded.
    pub detail: Option<QuestionDetail>,
    pub scroll: u16,
}

impl ConversationScreen {
    /// The question shown.
    pub fn question(&self) -> Option<&Question> {
        self.detail.as_ref().map(|d| &d.question)
    }

    /// Shows `q`; its thread follows (`Cmd::LoadDetail`).
    pub fn open(&mut self, q: Question) {
        self.scroll = 0;
        self.detail = Some(QuestionDetail { question: q, messages: Vec::new(), earlier: Vec::new() });
    }

    /// A newer copy of a question: the one shown follows it.
    pub fn refresh(&mut self, q: &Question) {
        if let Some(d) = self.detail.as_mut()
            && d.question.id == q.id
        {
            d.question = q.clone();
        }
    }

    /// Whether `d` is for this screen (the question shown, or nothing shown yet).
    pub fn wants(&self, d: &QuestionDetail) -> bool {
        self.detail.as_ref().is_none_or(|cur| cur.question.id == d.question.id)
    }

    /// Whether question `id` is the one shown.
    pub fn shows(&self, id: i64) -> bool {
        self.detail.as_ref().is_some_and(|d| d.question.id == id)
    }

    /// The conversation's keys, and those it shares with the queue.
    pub fn on_key(&mut self, ctx: &mut Shared, k: &KeyEvent) -> Outcome {
        let Some(action) = ctx.keymap.action(k, &[Context::Conversation, Context::Question, Context::Global]) else {
            return Outcome::Ignored;
        };
        match action {
            Action::Reply | Action::Note => {
                let Some(q) = self.question().cloned() else { return Outcome::Used(vec![]) };
                let kind = if action == Action::Reply { ComposerKind::Reply } else { ComposerKind::Note };
                if kind == ComposerKind::Reply && q.holder.as_deref() != Some(ctx.me.handle.as_str()) {
                    ctx.error(match &q.holder {
                        Some(h) => format!("#{} is held by @{h}; only the holder replies", q.id),
                        None => format!("claim #{} first ({})", q.id, ctx.keymap.describe(Action::Claim)),
                    });
                    return Outcome::Used(vec![]);
                }
                Outcome::Compose { kind, question: q, initial: None }
            }
            Action::Transfer => {
                let Some(q) = self.question() else { return Outcome::Used(vec![]) };
                let mut items: Vec<(String, String)> = ctx
                    .functions
                    .iter()
                    .filter(|f| **f != q.function)
                    .map(|f| (format!("function: {f}"), f.clone()))
                    .collect();
                items.push(("colleague: type @handle and press enter".into(), "@".into()));
                Outcome::Pick(Picker {
                    purpose: PickerPurpose::Transfer,
                    title: format!("Transfer #{} to…", q.id),
                    query: String::new(),
                    items,
                    selected: 0,
                })
            }
            Action::Topic => {
                let Some(q) = self.question() else { return Outcome::Used(vec![]) };
                let items = ctx.topics.iter().filter(|t| **t != q.topic).map(|t| (t.clone(), t.clone())).collect();
                Outcome::Pick(Picker {
                    purpose: PickerPurpose::Topic,
                    title: format!("#{} is about… (now: {})", q.id, q.topic),
                    query: String::new(),
                    items,
                    selected: 0,
                })
            }
            a if is_movement(a) => {
                self.scroll = match a {
                    Action::Up => self.scroll.saturating_sub(1),
                    Action::Down => self.scroll.saturating_add(1),
                    Action::PageUp => self.scroll.saturating_sub(PAGE as u16),
                    Action::PageDown => self.scroll.saturating_add(PAGE as u16),
                    Action::Top => 0,
                    _ => u16::MAX / 2,
                };
                Outcome::Used(vec![])
            }
            a => {
                let q = self.question().cloned();
                match question_action(ctx, q.as_ref(), a) {
                    Some(cmds) => Outcome::Used(cmds),
                    None => Outcome::Ignored,
                }
            }
        }
    }

    pub fn render(&self, ctx: &Shared, f: &mut Frame, area: Rect, t: &Theme) {
        let Some(d) = &self.detail else { return };
        let q = &d.question;
        let [top, rest] = Layout::vertical([Constraint::Length(4), Constraint::Min(3)]).areas(area);
        let (sla_text, sla_style) = sla_cell(q, ctx.now, t);
        let why = match &q.matched_rule {
            None if q.unsure => {
                let g: Vec<String> =
                    q.guesses.iter().map(|(t, p)| format!("{} {:.0}%", text::one_line(t), p * 100.0)).collect();
                format!("unsure: {}", g.join(" / "))
            }
            Some(k) if k == crate::model::MATCHED_LEARNED => format!("learned model, {:.0}%", q.confidence * 100.0),
            Some(k) if k.starts_with("corrected by ") => text::one_line(k),
            Some(k) => format!("keyword '{}', {:.0}%", text::one_line(k), q.confidence * 100.0),
            None => "default topic".into(),
        };
        let lease = match (&q.holder, q.lease_until) {
            (Some(h), Some(until)) => {
                format!("held by @{} · lease {} left", text::one_line(h), duration(until - ctx.now))
            }
            (Some(h), None) => format!("held by @{} (reply awaiting approval)", text::one_line(h)),
            _ => "nobody holds it".into(),
        };
        let summary = vec![
            Line::from(vec![
                Span::styled(format!("#{} ", q.id), t.bold()),
                Span::raw(format!(
                    "{} · {} (@{}) · {} · ",
                    q.channel,
                    text::truncate(&text::one_line(&q.customer.name), 30),
                    text::truncate(&text::one_line(&q.customer.handle), 30),
                    q.state.as_str()
                )),
                Span::styled(format!("SLA {sla_text}"), sla_style),
            ]),
            Line::from(format!("topic {} ({why}) · function {} · {lease}", q.topic, q.function)),
        ];
        f.render_widget(
            Paragraph::new(summary).block(Block::default().borders(Borders::ALL).title(" Conversation ")),
            top,
        );

        let [thread, side] =
            Layout::horizontal([Constraint::Min(40), Constraint::Length(if d.earlier.is_empty() { 0 } else { 34 })])
                .areas(rest);
        let width = thread.width.saturating_sub(4) as usize;
        let lines = thread_lines(d, ctx.now, width, t);
        let max_scroll = (lines.len() as u16).saturating_sub(thread.height.saturating_sub(2));
        f.render_widget(
            Paragraph::new(lines)
                .block(Block::default().borders(Borders::ALL).title(" Thread "))
                .scroll((self.scroll.min(max_scroll), 0)),
            thread,
        );
        if !d.earlier.is_empty() {
            let inner = side.width.saturating_sub(2) as usize;
            let items: Vec<Line> = d
                .earlier
                .iter()
                .map(|e| {
                    // A short state, and the text in whatever room is left.
                    let head = format!("#{} {} ", e.id, state_label(e.state));
                    let room = inner.saturating_sub(text::width(&head));
                    Line::from(format!("{head}{}", text::truncate(&text::one_line(&e.text), room)))
                })
                .collect();
            f.render_widget(
                Paragraph::new(items).block(Block::default().borders(Borders::ALL).title(" Earlier questions ")),
                side,
            );
        }
    }
}

/// A message's heading, at most `width` cells: the author is cut before the time is, so a
/// 256-character handle cannot push "3m ago" off the screen.
fn message_header(m: &Message, now: Millis, width: usize, t: &Theme) -> Line<'static> {
    let when = duration(now - m.created_at);
    let (lead, style) = match m.kind {
        MessageKind::Inbound => ("customer", t.fg(Color::Cyan).add_modifier(Modifier::BOLD)),
        MessageKind::Reply => ("reply by", t.fg(Color::Green).add_modifier(Modifier::BOLD)),
        MessageKind::Note => ("internal note by", t.fg(Color::Magenta).add_modifier(Modifier::BOLD)),
    };
    let status = m.status.map(|s| match s {
        ReplyStatus::AwaitingApproval => (" [awaiting approval]", t.fg(Color::Yellow)),
        ReplyStatus::Approved => (" [approved, in the outbox]", t.dim()),
        ReplyStatus::Posted => (" [posted]", t.fg(Color::Green)),
        ReplyStatus::Rejected => (" [rejected]", t.fg(Color::Red)),
        ReplyStatus::Failed => (" [failed]", t.fg(Color::Red)),
    });
    let reviewer = m.reviewed_by.as_ref().map(|r| format!(" reviewed by @{}", text::truncate(&text::one_line(r), 20)));
    let fixed = text::width(&format!("── {lead} @ · {when} ago"))
        + status.map_or(0, |(s, _)| text::width(s))
        + reviewer.as_deref().map_or(0, text::width);
    let who = text::truncate(&text::one_line(&m.author), width.saturating_sub(fixed).max(8));
    let mut spans = vec![Span::styled(format!("── {lead} @{who} · {when} ago"), style)];
    if let Some((label, st)) = status {
        spans.push(Span::styled(label, st));
    }
    if let Some(r) = reviewer {
        spans.push(Span::styled(r, t.dim()));
    }
    Line::from(spans)
}

/// A thread as lines `width` cells wide (messages with their headings, wrapped; the question's
/// text while the messages are not loaded). The conversation and the preview share it.
pub fn thread_lines(d: &crate::model::QuestionDetail, now: Millis, width: usize, t: &Theme) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = Vec::new();
    if d.messages.is_empty() {
        for l in text::wrap(&d.question.text, width) {
            lines.push(Line::from(format!("  {l}")));
        }
    }
    for m in &d.messages {
        lines.push(message_header(m, now, width + 2, t));
        for l in text::wrap(&m.body, width) {
            lines.push(Line::from(format!("  {l}")));
        }
        if let Some(n) = &m.review_note {
            lines.push(Line::styled(format!("  mentor: {}", text::one_line(n)), t.fg(Color::Yellow)));
        }
        lines.push(Line::from(""));
    }
    lines
}
