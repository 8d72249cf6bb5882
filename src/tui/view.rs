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

fn render_queue(app: &App, f: &mut Frame, area: Rect, t: &Theme) {
    let n = app.order.len();
    let mut title = format!(" Queue · {} · {n} question{} ", app.filter.label(), if n == 1 { "" } else { "s" });
    if app.searching || !app.search.is_empty() {
        title.push_str(&format!("· search: {}{} ", text::one_line(&app.search), if app.searching { "▏" } else { "" }));
    }
    if !app.loaded {
        title.push_str("· loading… ");
    }
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let visible = inner.height.saturating_sub(1) as usize; // one line for the column names
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
            let (sla_text, sla_style) = sla_cell(q, app.now, t);
            let waiting = duration(app.now - q.awaiting_since.unwrap_or(q.received_at));
            let customer = if q.customer.name.trim().is_empty() { &q.customer.handle } else { &q.customer.name };
            let holder = match (&q.holder, app.viewers.get(&q.id), app.offers.get(&q.id)) {
                _ if q.state == crate::model::QuestionState::Held => {
                    format!("held: {}", text::one_line(q.held_reason.as_deref().unwrap_or("spam?")))
                }
                (Some(h), _, _) if *h == app.me.handle => "you".to_string(),
                (Some(h), _, _) => format!("@{}", text::one_line(h)),
                (None, Some((v, _)), _) => format!("viewing @{}", text::one_line(v)),
                (None, None, Some((to, _))) if *to == app.me.handle => "→ offered you".to_string(),
                (None, None, Some((to, _))) => format!("→ @{}", text::one_line(to)),
                (None, None, None) => String::new(),
            };
            let row = Row::new(vec![
                Cell::from(waiting),
                Cell::from(sla_text).style(sla_style),
                Cell::from(q.channel.clone()),
                Cell::from(text::truncate(&text::one_line(customer), 16)),
                Cell::from(format!("{}/{}", q.topic, q.function)),
                Cell::from(text::truncate(&holder, 14)),
                Cell::from(text::one_line(&q.text)),
            ]);
            if i == app.selected { row.style(t.selected()) } else { row }
        })
        .collect();
    let widths = [
        Constraint::Length(6),
        Constraint::Length(10),
        Constraint::Length(8),
        Constraint::Length(16),
        Constraint::Length(24),
        Constraint::Length(14),
        Constraint::Min(10),
    ];
    let header =
        Row::new(["Wait", "SLA", "Channel", "Customer", "Topic/function", "Holder", "Question"]).style(t.bold());
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
}

fn message_header(m: &Message, now: Millis) -> (String, Option<ReplyStatus>) {
    let who = text::one_line(&m.author);
    let when = duration(now - m.created_at);
    let head = match m.kind {
        MessageKind::Inbound => format!("customer @{who} · {when} ago"),
        MessageKind::Reply => format!("reply by @{who} · {when} ago"),
        MessageKind::Note => format!("internal note by @{who} · {when} ago"),
    };
    (head, m.status)
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
    let mut lines: Vec<Line> = Vec::new();
    if d.messages.is_empty() {
        for l in text::wrap(&q.text, width) {
            lines.push(Line::from(format!("  {l}")));
        }
    }
    for m in &d.messages {
        let (head, status) = message_header(m, app.now);
        let style = match m.kind {
            MessageKind::Inbound => t.fg(Color::Cyan).add_modifier(Modifier::BOLD),
            MessageKind::Reply => t.fg(Color::Green).add_modifier(Modifier::BOLD),
            MessageKind::Note => t.fg(Color::Magenta).add_modifier(Modifier::BOLD),
        };
        let mut spans = vec![Span::styled(format!("── {head}"), style)];
        if let Some(s) = status {
            let (label, st) = match s {
                ReplyStatus::AwaitingApproval => ("awaiting approval", t.fg(Color::Yellow)),
                ReplyStatus::Approved => ("approved, in the outbox", t.dim()),
                ReplyStatus::Posted => ("posted", t.fg(Color::Green)),
                ReplyStatus::Rejected => ("rejected", t.fg(Color::Red)),
                ReplyStatus::Failed => ("failed", t.fg(Color::Red)),
            };
            spans.push(Span::styled(format!(" [{label}]"), st));
        }
        if let Some(r) = &m.reviewed_by {
            spans.push(Span::styled(format!(" reviewed by @{}", text::one_line(r)), t.dim()));
        }
        lines.push(Line::from(spans));
        for l in text::wrap(&m.body, width) {
            lines.push(Line::from(format!("  {l}")));
        }
        if let Some(n) = &m.review_note {
            lines.push(Line::styled(format!("  mentor: {}", text::one_line(n)), t.fg(Color::Yellow)));
        }
        lines.push(Line::from(""));
    }
    let max_scroll = (lines.len() as u16).saturating_sub(thread.height.saturating_sub(2));
    f.render_widget(
        Paragraph::new(lines)
            .block(Block::default().borders(Borders::ALL).title(" Thread "))
            .scroll((app.detail_scroll.min(max_scroll), 0)),
        thread,
    );
    if !d.earlier.is_empty() {
        let items: Vec<Line> = d
            .earlier
            .iter()
            .map(|e| {
                Line::from(format!("#{} {} {}", e.id, e.state.as_str(), text::truncate(&text::one_line(&e.text), 18)))
            })
            .collect();
        f.render_widget(
            Paragraph::new(items).block(Block::default().borders(Borders::ALL).title(" Earlier questions ")),
            side,
        );
    }
}

fn tile(f: &mut Frame, area: Rect, title: &str, value: String, style: Style) {
    f.render_widget(
        Paragraph::new(Line::styled(value, style.add_modifier(Modifier::BOLD)))
            .block(Block::default().borders(Borders::ALL).title(format!(" {title} "))),
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
    let [tiles, middle, charts, agents] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(2 + s.functions.len() as u16 + 1),
        Constraint::Length(5),
        Constraint::Min(3),
    ])
    .areas(area);
    let cols = Layout::horizontal([Constraint::Ratio(1, 5); 5]).split(tiles);
    let ms = |v: Option<i64>| v.map(duration).unwrap_or_else(|| "–".into());
    tile(
        f,
        cols[0],
        "Open",
        format!("{} ({} breaching)", s.open, s.breaching),
        if s.breaching > 0 { t.fg(Color::Red) } else { Style::default() },
    );
    tile(f, cols[1], "Unclaimed", s.unclaimed.to_string(), Style::default());
    tile(f, cols[2], "Oldest waiting", ms(s.oldest_waiting_ms), Style::default());
    tile(
        f,
        cols[3],
        "First response today",
        format!("{} / p90 {}", ms(s.first_response_today.median_ms), ms(s.first_response_today.p90_ms)),
        Style::default(),
    );
    tile(
        f,
        cols[4],
        "SLA today",
        s.sla_attainment_pct_today.map(|p| format!("{p:.0}%")).unwrap_or_else(|| "–".into()),
        match s.sla_attainment_pct_today {
            Some(p) if p < 80.0 => t.fg(Color::Red),
            Some(_) => t.fg(Color::Green),
            None => Style::default(),
        },
    );
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
                Cell::from(format!("@{}", text::one_line(&m.author))),
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
                Constraint::Length(7),
                Constraint::Length(14),
                Constraint::Length(9),
                Constraint::Length(6),
                Constraint::Min(10),
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
                format!("customer @{} asked:", text::one_line(&q.customer.handle)),
                t.fg(Color::Cyan),
            )];
            l.extend(text::wrap(&q.text, w).into_iter().map(|s| Line::from(format!("  {s}"))));
            l.push(Line::styled(format!("@{} would reply:", text::one_line(&m.author)), t.fg(Color::Green)));
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
    parts.join(" · ")
}

fn render_footer(app: &App, f: &mut Frame, area: Rect, t: &Theme) {
    f.render_widget(Paragraph::new(Line::styled(format!(" {}", footer_text(app)), t.dim())), area);
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
    lines.push(Line::styled(footer_text(app), t.dim()));
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
