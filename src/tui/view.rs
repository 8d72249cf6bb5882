//! Drawing: `render(&App, &mut Frame)`. No I/O, no locks, no waiting; every piece of customer
//! text passes through `text::one_line`/`text::wrap` before it is drawn.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Sparkline, Table, Wrap};

use super::app::{App, ComposerKind, Filter, Level, Sla, View, sla};
use super::keymap::{Action, Context};
use crate::model::{Message, MessageKind, Millis, Question, ReplyStatus};
use crate::text;

struct Theme {
    mono: bool,
}

impl Theme {
    fn fg(&self, c: Color) -> Style {
        if self.mono { Style::default() } else { Style::default().fg(c) }
    }
    fn bold(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    fn dim(&self) -> Style {
        if self.mono { Style::default() } else { Style::default().fg(Color::DarkGray) }
    }
    fn selected(&self) -> Style {
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

fn sla_cell(q: &Question, now: Millis, t: &Theme) -> (String, Style) {
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

pub fn render(app: &App, f: &mut Frame) {
    let t = Theme { mono: app.mono };
    let [header, main, flash, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(3), Constraint::Length(1), Constraint::Length(1)])
            .areas(f.area());
    render_header(app, f, header, &t);
    match app.view {
        View::Queue => render_queue(app, f, main, &t),
        View::Conversation => render_conversation(app, f, main, &t),
        View::Dashboard => render_dashboard(app, f, main, &t),
        View::Approvals => render_approvals(app, f, main, &t),
    }
    render_flash(app, f, flash, &t);
    render_footer(app, f, footer, &t);
    if app.composer.is_some() {
        render_composer(app, f, &t);
    }
    if app.picker.is_some() {
        render_picker(app, f, &t);
    }
    if app.help {
        render_help(app, f, &t);
    }
}

fn render_header(app: &App, f: &mut Frame, area: Rect, t: &Theme) {
    let mut spans = vec![
        Span::styled(" helphive ", t.bold()),
        Span::raw(format!(
            "@{} ({}, {}{}) ",
            app.me.handle,
            app.me.function,
            app.me.role,
            if app.me.novice { ", novice" } else { "" }
        )),
    ];
    if app.online {
        spans.push(Span::styled("● online ", t.fg(Color::Green)));
    } else {
        let why = app.offline_reason.as_deref().map(text::one_line).unwrap_or_default();
        spans.push(Span::styled(
            format!("○ OFFLINE: {} ", text::truncate(&why, 60)),
            t.fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    if !app.pending.is_empty() {
        spans.push(Span::styled(format!("{} queued ", app.pending.len()), t.fg(Color::Yellow)));
    }
    for (view, action, name) in [
        (View::Queue, Action::ShowQueue, "queue"),
        (View::Dashboard, Action::ShowDashboard, "dashboard"),
        (View::Approvals, Action::ShowApprovals, "approvals"),
    ] {
        if view == View::Approvals && !app.is_reviewer() {
            continue;
        }
        let label = format!(" {} {name} ", app.keymap.describe(action));
        let active = app.view == view || (view == View::Queue && app.view == View::Conversation);
        spans.push(Span::styled(label, if active { t.selected() } else { t.dim() }));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// "100,000".
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A queue column besides the question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Wait,
    Sla,
    Channel,
    Customer,
    /// Topic and function ("billing/billing"), or the topic alone when narrowed.
    Topic,
    Holder,
}

impl Column {
    fn title(self, width: u16) -> &'static str {
        match self {
            Column::Wait => "Wait",
            Column::Sla => "SLA",
            Column::Channel => "Channel",
            Column::Customer => "Customer",
            Column::Topic if width >= 24 => "Topic/function",
            Column::Topic => "Topic",
            Column::Holder => "Holder",
        }
    }
}

/// The queue's columns for a table `width` cells wide, each with its width; the question takes
/// the rest. Columns are narrowed, then dropped, least needed first, until the question has at
/// least 45% of the width: at 80 columns the question keeps 35 cells beside wait, SLA, customer
/// and holder, where fixed widths used to leave it 10.
pub fn queue_columns(width: u16) -> Vec<(Column, u16)> {
    use Column::*;
    let mut cols = vec![(Wait, 5u16), (Sla, 10), (Channel, 8), (Customer, 16), (Topic, 24), (Holder, 14)];
    let question = |cols: &[(Column, u16)]| i32::from(width) - cols.iter().map(|(_, w)| i32::from(*w) + 1).sum::<i32>();
    let target = (i32::from(width) * 45 / 100).max(i32::from(width).min(30));
    let steps: [(Column, Option<u16>); 9] = [
        (Topic, Some(14)),
        (Customer, Some(12)),
        (Sla, Some(9)),
        (Channel, None),
        // "viewing @lee" and "→ offered you" still fit.
        (Holder, Some(13)),
        (Topic, None),
        (Holder, None),
        (Customer, None),
        (Wait, None),
    ];
    for (col, narrow) in steps {
        if question(&cols) >= target {
            break;
        }
        match narrow {
            Some(w) => cols.iter_mut().filter(|(c, _)| *c == col).for_each(|(_, cw)| *cw = w),
            None => cols.retain(|(c, _)| *c != col),
        }
    }
    cols
}

fn holder_text(app: &App, q: &Question) -> String {
    match (&q.holder, app.viewers.get(&q.id), app.offers.get(&q.id)) {
        _ if q.state == crate::model::QuestionState::Held => {
            format!("held: {}", text::one_line(q.held_reason.as_deref().unwrap_or("spam?")))
        }
        (Some(h), _, _) if *h == app.me.handle => "you".to_string(),
        (Some(h), _, _) => format!("@{}", text::one_line(h)),
        (None, Some((v, _)), _) => format!("viewing @{}", text::one_line(v)),
        (None, None, Some((to, _))) if *to == app.me.handle => "→ offered you".to_string(),
        (None, None, Some((to, _))) => format!("→ @{}", text::one_line(to)),
        (None, None, None) => String::new(),
    }
}

fn render_queue(app: &App, f: &mut Frame, area: Rect, t: &Theme) {
    // On a wide terminal the selected question's thread shows beside the list.
    let (area, preview) = if app.shows_preview() && area.width >= super::app::PREVIEW_MIN_WIDTH {
        let [list, preview] = Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
        (list, Some(preview))
    } else {
        (area, None)
    };
    let n = app.order.len();
    let mut title = format!(" Queue · {} · {n} question{} ", app.filter.label(), if n == 1 { "" } else { "s" });
    if app.searching || !app.search.is_empty() {
        title.push_str(&format!("· search: {}{} ", text::one_line(&app.search), if app.searching { "▏" } else { "" }));
    }
    if app.loading || !app.loaded {
        match app.load_total {
            Some(total) if app.loaded => {
                title.push_str(&format!("· loading… {} of {} ", thousands(app.load_count as i64), thousands(total)))
            }
            _ => title.push_str("· loading… "),
        }
    }
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let visible = inner.height.saturating_sub(1) as usize; // one line for the column names
    let columns = queue_columns(inner.width);
    // Only the rows on screen are built: the cost follows the screen, not the queue.
    let offset = if app.selected >= visible { app.selected + 1 - visible } else { 0 };
    let rows: Vec<Row> = app
        .order
        .iter()
        .enumerate()
        .skip(offset)
        .take(visible)
        .filter_map(|(i, id)| app.questions.get(id).map(|q| (i, q)))
        .map(|(i, q)| {
            let mut cells: Vec<Cell> = columns
                .iter()
                .map(|(col, w)| match col {
                    Column::Wait => Cell::from(duration(app.now - q.awaiting_since.unwrap_or(q.received_at))),
                    Column::Sla => {
                        let (sla_text, sla_style) = sla_cell(q, app.now, t);
                        Cell::from(text::truncate(&sla_text, *w as usize)).style(sla_style)
                    }
                    Column::Channel => Cell::from(text::truncate(&text::one_line(&q.channel), *w as usize)),
                    Column::Customer => {
                        let customer =
                            if q.customer.name.trim().is_empty() { &q.customer.handle } else { &q.customer.name };
                        Cell::from(text::truncate(&text::one_line(customer), *w as usize))
                    }
                    Column::Topic if *w >= 24 => {
                        Cell::from(text::truncate(&format!("{}/{}", q.topic, q.function), *w as usize))
                    }
                    Column::Topic => Cell::from(text::truncate(&q.topic, *w as usize)),
                    Column::Holder => Cell::from(text::truncate(&holder_text(app, q), *w as usize)),
                })
                .collect();
            cells.push(Cell::from(text::one_line(&q.text)));
            let row = Row::new(cells);
            if i == app.selected { row.style(t.selected()) } else { row }
        })
        .collect();
    let mut widths: Vec<Constraint> = columns.iter().map(|(_, w)| Constraint::Length(*w)).collect();
    widths.push(Constraint::Fill(1));
    let mut names: Vec<&str> = columns.iter().map(|(c, w)| c.title(*w)).collect();
    names.push("Question");
    let header = Row::new(names).style(t.bold());
    f.render_widget(Table::new(rows, widths).header(header).column_spacing(1), inner);
    if app.order.is_empty() && app.loaded {
        let msg = if app.filter == Filter::All && app.search.is_empty() {
            "The queue is empty. New questions appear here as they arrive."
        } else {
            "Nothing matches this filter."
        };
        let y = inner.y + inner.height / 2;
        f.render_widget(
            Paragraph::new(msg).style(t.dim()),
            Rect { x: inner.x + 2, y, width: inner.width.saturating_sub(4), height: 1 },
        );
    }
    if let Some(p) = preview {
        render_preview(app, f, p, t);
    }
}

/// The selected question beside the queue: who asks, where, its state, then the thread (once
/// loaded; until then the question's own text).
fn render_preview(app: &App, f: &mut Frame, area: Rect, t: &Theme) {
    let block = Block::default().borders(Borders::ALL).title(" Preview ");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(q) = app.selected_question() else { return };
    let width = inner.width as usize;
    let (sla_text, sla_style) = sla_cell(q, app.now, t);
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("#{} ", q.id), t.bold()),
            Span::raw(text::truncate(
                &format!(
                    "{} · {} (@{})",
                    q.channel,
                    text::one_line(&q.customer.name),
                    text::one_line(&q.customer.handle)
                ),
                width.saturating_sub(q.id.to_string().len() + 1),
            )),
        ]),
        Line::from(vec![
            Span::styled(format!("SLA {sla_text}"), sla_style),
            Span::raw(text::truncate(
                &match holder_text(app, q) {
                    h if h.is_empty() => format!(" · {} · {}/{}", state_label(q.state), q.topic, q.function),
                    h => format!(" · {} · {}/{} · {h}", state_label(q.state), q.topic, q.function),
                },
                width.saturating_sub(4 + text::width(&sla_text)),
            )),
        ]),
        Line::from(""),
    ];
    match app.preview.as_ref().filter(|d| d.question.id == q.id) {
        Some(d) => lines.extend(thread_lines(d, app.now, width.saturating_sub(2), t)),
        None => {
            lines
                .extend(text::wrap(&q.text, width.saturating_sub(2)).into_iter().map(|l| Line::from(format!("  {l}"))));
            if app.online {
                lines.push(Line::styled("  loading the thread…", t.dim()));
            }
        }
    }
    f.render_widget(Paragraph::new(lines), inner);
}

/// A question's state in a few letters, for narrow places.
fn state_label(s: crate::model::QuestionState) -> &'static str {
    match s {
        crate::model::QuestionState::AwaitingApproval => "approval",
        other => other.as_str(),
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
fn thread_lines(d: &crate::model::QuestionDetail, now: Millis, width: usize, t: &Theme) -> Vec<Line<'static>> {
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

fn render_conversation(app: &App, f: &mut Frame, area: Rect, t: &Theme) {
    let Some(d) = &app.detail else { return };
    let q = &d.question;
    let [top, rest] = Layout::vertical([Constraint::Length(4), Constraint::Min(3)]).areas(area);
    let (sla_text, sla_style) = sla_cell(q, app.now, t);
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
        (Some(h), Some(until)) => format!("held by @{} · lease {} left", text::one_line(h), duration(until - app.now)),
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
    f.render_widget(Paragraph::new(summary).block(Block::default().borders(Borders::ALL).title(" Conversation ")), top);

    let [thread, side] =
        Layout::horizontal([Constraint::Min(40), Constraint::Length(if d.earlier.is_empty() { 0 } else { 34 })])
            .areas(rest);
    let width = thread.width.saturating_sub(4) as usize;
    let lines = thread_lines(d, app.now, width, t);
    let max_scroll = (lines.len() as u16).saturating_sub(thread.height.saturating_sub(2));
    f.render_widget(
        Paragraph::new(lines)
            .block(Block::default().borders(Borders::ALL).title(" Thread "))
            .scroll((app.detail_scroll.min(max_scroll), 0)),
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

/// One dashboard tile: its figure and a detail ("4 breaching"), on one line when the tile is
/// wide enough, else the detail on a second line, so a narrow tile never cuts a figure.
struct Tile {
    title: &'static str,
    /// For a narrow tile.
    short_title: &'static str,
    value: String,
    detail: Option<String>,
    style: Style,
}

impl Tile {
    fn one_line(&self) -> String {
        match &self.detail {
            Some(d) => format!("{} {d}", self.value),
            None => self.value.clone(),
        }
    }
}

fn render_tile(f: &mut Frame, area: Rect, tile: &Tile, two_lines: bool) {
    let inner = area.width.saturating_sub(2) as usize;
    let title = if text::width(tile.title) + 2 <= inner { tile.title } else { tile.short_title };
    let style = tile.style.add_modifier(Modifier::BOLD);
    let lines = match (&tile.detail, two_lines) {
        (Some(d), true) => vec![Line::styled(tile.value.clone(), style), Line::styled(d.clone(), tile.style)],
        _ => vec![Line::styled(tile.one_line(), style)],
    };
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(format!(" {title} "))),
        area,
    );
}

fn render_dashboard(app: &App, f: &mut Frame, area: Rect, t: &Theme) {
    let Some(s) = &app.stats else {
        f.render_widget(
            Paragraph::new("loading statistics…").block(Block::default().borders(Borders::ALL).title(" Dashboard ")),
            area,
        );
        return;
    };
    let ms = |v: Option<i64>| v.map(duration).unwrap_or_else(|| "–".into());
    let tiles = [
        Tile {
            title: "Open",
            short_title: "Open",
            value: s.open.to_string(),
            detail: Some(format!("({} breaching)", s.breaching)),
            style: if s.breaching > 0 { t.fg(Color::Red) } else { Style::default() },
        },
        Tile {
            title: "Unclaimed",
            short_title: "Unclaimed",
            value: s.unclaimed.to_string(),
            detail: None,
            style: Style::default(),
        },
        Tile {
            title: "Oldest waiting",
            short_title: "Oldest",
            value: ms(s.oldest_waiting_ms),
            detail: None,
            style: Style::default(),
        },
        Tile {
            title: "First response today",
            short_title: "1st response",
            value: ms(s.first_response_today.median_ms),
            detail: Some(format!("/ p90 {}", ms(s.first_response_today.p90_ms))),
            style: Style::default(),
        },
        Tile {
            title: "SLA today",
            short_title: "SLA today",
            value: s.sla_attainment_pct_today.map(|p| format!("{p:.0}%")).unwrap_or_else(|| "–".into()),
            detail: None,
            style: match s.sla_attainment_pct_today {
                Some(p) if p < 80.0 => t.fg(Color::Red),
                Some(_) => t.fg(Color::Green),
                None => Style::default(),
            },
        },
    ];
    let tile_inner = (area.width / 5).saturating_sub(2) as usize;
    let two_lines = tiles.iter().any(|tile| text::width(&tile.one_line()) > tile_inner);
    let tiles_height = if two_lines { 4 } else { 3 };
    let middle_height = 2 + s.functions.len() as u16 + 1;
    // The charts give up rows (down to one of bars) before the agents do (up to three).
    let rest = area.height.saturating_sub(tiles_height + middle_height);
    let charts_height = rest.saturating_sub(3 + (s.agents.len() as u16).min(3)).clamp(3, 5);
    let [tiles_area, middle, charts, agents] = Layout::vertical([
        Constraint::Length(tiles_height),
        Constraint::Length(middle_height),
        Constraint::Length(charts_height),
        Constraint::Min(3),
    ])
    .areas(area);
    let cols = Layout::horizontal([Constraint::Ratio(1, 5); 5]).split(tiles_area);
    for (tile, area) in tiles.iter().zip(cols.iter()) {
        render_tile(f, *area, tile, two_lines);
    }
    let rows: Vec<Row> = s
        .functions
        .iter()
        .map(|fs| {
            Row::new(vec![
                Cell::from(fs.function.clone()),
                Cell::from(fs.open.to_string()),
                Cell::from(fs.unclaimed.to_string()),
                Cell::from(fs.awaiting_approval.to_string()),
                Cell::from(fs.breaching.to_string()).style(if fs.breaching > 0 {
                    t.fg(Color::Red)
                } else {
                    Style::default()
                }),
                Cell::from(ms(fs.oldest_waiting_ms)),
                Cell::from(format!("{} / {}", fs.agents_online, fs.agents_away)),
            ])
        })
        .collect();
    let header =
        Row::new(["Function", "Open", "Unclaimed", "Approval", "Breaching", "Oldest", "Online/away"]).style(t.bold());
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(14),
                Constraint::Length(6),
                Constraint::Length(10),
                Constraint::Length(9),
                Constraint::Length(10),
                Constraint::Length(8),
                Constraint::Length(12),
            ],
        )
        .header(header)
        .block(Block::default().borders(Borders::ALL).title(" By function ")),
        middle,
    );
    let [arr, ans] = Layout::horizontal([Constraint::Ratio(1, 2); 2]).areas(charts);
    let spark = |data: &[i64]| data.iter().map(|v| (*v).max(0) as u64).collect::<Vec<u64>>();
    let arrivals = spark(&s.arrivals_5min);
    let answers = spark(&s.answers_5min);
    f.render_widget(
        Sparkline::default()
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" Arrivals / 5 min (2 h, last {}) ", arrivals.last().unwrap_or(&0))),
            )
            .data(&arrivals)
            .style(t.fg(Color::Cyan)),
        arr,
    );
    f.render_widget(
        Sparkline::default()
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" Answers / 5 min (2 h, last {}) ", answers.last().unwrap_or(&0))),
            )
            .data(&answers)
            .style(t.fg(Color::Green)),
        ans,
    );
    let rows: Vec<Row> = s
        .agents
        .iter()
        .take(agents.height.saturating_sub(3) as usize)
        .map(|a| {
            Row::new(vec![
                Cell::from(format!("@{}", text::one_line(&a.handle))),
                Cell::from(a.function.clone()),
                Cell::from(a.status.clone()),
                Cell::from(format!("{}/{}", a.holding, a.capacity)),
                Cell::from(format!("{:.0}%", a.occupancy * 100.0)),
                Cell::from(a.answered_today.to_string()),
            ])
        })
        .collect();
    let header = Row::new(["Agent", "Function", "Status", "Holding", "Occupancy", "Answered today"]).style(t.bold());
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(16),
                Constraint::Length(14),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(10),
                Constraint::Length(14),
            ],
        )
        .header(header)
        .block(Block::default().borders(Borders::ALL).title(format!(
            " Agents ({}) · answered last hour: {} ",
            s.agents.len(),
            s.answered_last_hour
        ))),
        agents,
    );
}

fn render_approvals(app: &App, f: &mut Frame, area: Rect, t: &Theme) {
    let [list, detail] = Layout::vertical([Constraint::Percentage(45), Constraint::Min(5)]).areas(area);
    let rows: Vec<Row> = app
        .approvals
        .iter()
        .enumerate()
        .map(|(i, (m, q))| {
            let row = Row::new(vec![
                Cell::from(format!("#{}", q.id)),
                Cell::from(text::truncate(&format!("@{}", text::one_line(&m.author)), 14)),
                Cell::from(q.channel.clone()),
                Cell::from(duration(app.now - m.created_at)),
                Cell::from(text::one_line(&m.body)),
            ]);
            if i == app.approvals_selected { row.style(t.selected()) } else { row }
        })
        .collect();
    let title = format!(" Replies waiting for approval ({}) ", app.approvals.len());
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(8),
                Constraint::Length(14),
                Constraint::Length(9),
                Constraint::Length(6),
                Constraint::Fill(1),
            ],
        )
        .header(Row::new(["Question", "Novice", "Channel", "Wait", "Reply"]).style(t.bold()))
        .block(Block::default().borders(Borders::ALL).title(title)),
        list,
    );
    let body: Vec<Line> = match app.approvals.get(app.approvals_selected) {
        None => vec![Line::styled("Nothing waits for you. Novices' replies appear here.", t.dim())],
        Some((m, q)) => {
            let w = detail.width.saturating_sub(4) as usize;
            let mut l = vec![Line::styled(
                format!(
                    "customer @{} asked:",
                    text::truncate(&text::one_line(&q.customer.handle), w.saturating_sub(7))
                ),
                t.fg(Color::Cyan),
            )];
            l.extend(text::wrap(&q.text, w).into_iter().map(|s| Line::from(format!("  {s}"))));
            l.push(Line::styled(
                format!("@{} would reply:", text::truncate(&text::one_line(&m.author), w.saturating_sub(14))),
                t.fg(Color::Green),
            ));
            l.extend(text::wrap(&m.body, w).into_iter().map(|s| Line::from(format!("  {s}"))));
            l
        }
    };
    f.render_widget(
        Paragraph::new(body).wrap(Wrap { trim: false }).block(Block::default().borders(Borders::ALL).title(" Review ")),
        detail,
    );
}

fn render_flash(app: &App, f: &mut Frame, area: Rect, t: &Theme) {
    if let Some((msg, level)) = &app.flash {
        let style = match level {
            Level::Info => t.fg(Color::Green),
            Level::Error => t.fg(Color::Red).add_modifier(Modifier::BOLD),
        };
        f.render_widget(Paragraph::new(Line::styled(format!(" {}", text::one_line(msg)), style)), area);
    }
}

/// The footer: the current context's actions with their keys, from the keymap.
pub fn footer_text(app: &App) -> String {
    footer_parts(app).join(" · ")
}

/// The footer in at most `width` cells: whole entries, and when some do not fit, `? more`
/// (the help key) in their place, never an entry cut mid-word.
pub fn footer_fit(app: &App, width: usize) -> String {
    let parts = footer_parts(app);
    let full = parts.join(" · ");
    if text::width(&full) <= width {
        return full;
    }
    let more = format!("{} more", app.keymap.describe(Action::Help));
    let mut out = String::new();
    for p in &parts {
        let candidate = if out.is_empty() { p.clone() } else { format!("{out} · {p}") };
        if text::width(&candidate) + 3 + text::width(&more) > width {
            break;
        }
        out = candidate;
    }
    if out.is_empty() { text::truncate(&more, width) } else { format!("{out} · {more}") }
}

fn footer_parts(app: &App) -> Vec<String> {
    let contexts: &[Context] = if app.composer.is_some() {
        &[Context::Composer]
    } else {
        match app.view {
            View::Queue => &[Context::Queue, Context::Question],
            View::Conversation => &[Context::Conversation, Context::Question],
            View::Approvals => &[Context::Approvals],
            View::Dashboard => &[],
        }
    };
    // Help and quit first, so a narrow terminal never hides them.
    let mut parts: Vec<String> = Vec::new();
    if app.composer.is_none() {
        for a in [Action::Help, Action::Quit, Action::Back] {
            parts.push(format!("{} {}", app.keymap.describe(a), a.label()));
        }
    }
    parts.extend(
        contexts
            .iter()
            .flat_map(|c| Action::ALL.iter().filter(move |a| a.context() == *c))
            .map(|a| format!("{} {}", app.keymap.describe(*a), a.label())),
    );
    parts
}

fn render_footer(app: &App, f: &mut Frame, area: Rect, t: &Theme) {
    let fit = footer_fit(app, area.width.saturating_sub(1) as usize);
    f.render_widget(Paragraph::new(Line::styled(format!(" {fit}"), t.dim())), area);
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

fn render_composer(app: &App, f: &mut Frame, t: &Theme) {
    let Some(c) = &app.composer else { return };
    let area = centered(f.area(), 80, 16);
    f.render_widget(Clear, area);
    let block = Block::default().borders(Borders::ALL).title(format!(" {} · #{} ", c.kind.title(), c.question_id));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [editor, info] = Layout::vertical([Constraint::Min(3), Constraint::Length(2)]).areas(inner);
    f.render_widget(&c.area, editor);
    let mut lines = Vec::new();
    if c.kind == ComposerKind::Reply {
        let full = super::app::with_signature(&c.text(), &app.me.signature);
        let counter = match app.reply_length(c.question_id, &c.channel, &full) {
            Some((n, max)) => {
                let style = if n > max { t.fg(Color::Red).add_modifier(Modifier::BOLD) } else { t.fg(Color::Green) };
                Span::styled(format!("{n}/{max} {}", c.channel), style)
            }
            None => Span::styled(format!("{} characters ({}: no limit)", full.chars().count(), c.channel), t.dim()),
        };
        let sig = if app.me.signature.trim().is_empty() {
            String::new()
        } else {
            format!(" · signature: {}", text::one_line(&app.me.signature))
        };
        lines.push(Line::from(vec![counter, Span::styled(sig, t.dim())]));
    }
    lines.push(Line::styled(footer_fit(app, info.width as usize), t.dim()));
    f.render_widget(Paragraph::new(lines), info);
}

fn render_picker(app: &App, f: &mut Frame, t: &Theme) {
    let Some(p) = &app.picker else { return };
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

/// The help overlay's lines, from the keymap.
pub fn help_lines(app: &App) -> Vec<String> {
    let mut out = Vec::new();
    for ctx in [
        Context::Global,
        Context::Question,
        Context::Queue,
        Context::Conversation,
        Context::Approvals,
        Context::Composer,
    ] {
        out.push(format!("{}:", ctx.title()));
        for a in Action::ALL.iter().filter(|a| a.context() == ctx) {
            out.push(format!("  {:<14} {}", app.keymap.describe(*a), a.label()));
        }
    }
    out
}

fn render_help(app: &App, f: &mut Frame, t: &Theme) {
    let area = centered(f.area(), 76, f.area().height.saturating_sub(2));
    f.render_widget(Clear, area);
    let lines = help_lines(app);
    // Split between whole groups, so no heading is parted from its keys.
    let half = lines.len().div_ceil(2);
    let split = lines
        .iter()
        .enumerate()
        .filter(|(i, l)| l.ends_with(':') && *i > 0)
        .map(|(i, _)| i)
        .min_by_key(|i| i.abs_diff(half))
        .unwrap_or(half);
    let inner = Block::default().borders(Borders::ALL).title(" Keys (any key closes) ");
    let inside = inner.inner(area);
    f.render_widget(inner, area);
    let [left, right] = Layout::horizontal([Constraint::Ratio(1, 2); 2]).areas(inside);
    let style = |l: &String| if l.ends_with(':') { Line::styled(l.clone(), t.bold()) } else { Line::from(l.clone()) };
    f.render_widget(Paragraph::new(lines[..split].iter().map(style).collect::<Vec<_>>()), left);
    f.render_widget(Paragraph::new(lines[split..].iter().map(style).collect::<Vec<_>>()), right);
}
