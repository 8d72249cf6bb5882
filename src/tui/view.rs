//! Drawing: `render(&App, &mut Frame)`. No I/O, no locks, no waiting; every piece of customer
//! text passes through `text::one_line`/`text::wrap` before it is drawn. The frame around the
//! screens (header, flash line, footer, help) is drawn here; each screen draws itself
//! (`super::screens`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::app::{App, Level, View};
use super::screens::keymap::{Action, Context};
use super::screens::{Theme, centered};
use crate::text;

pub use super::screens::duration;
pub use super::screens::queue::{Column, queue_columns};

pub fn render(app: &App, f: &mut Frame) {
    let t = Theme { mono: app.shared.mono };
    let [header, main, flash, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(3), Constraint::Length(1), Constraint::Length(1)])
            .areas(f.area());
    render_header(app, f, header, &t);
    match app.view {
        View::Queue => app.queue.render(&app.shared, f, main, &t, app.shows_preview()),
        View::Conversation => app.conversation.render(&app.shared, f, main, &t),
        View::Dashboard => app.dashboard.render(f, main, &t),
        View::Approvals => app.approvals.render(&app.shared, f, main, &t),
    }
    render_flash(app, f, flash, &t);
    render_footer(app, f, footer, &t);
    app.composer.render(&app.shared, app.conversation.question(), f, &t, &|width| footer_fit(app, width));
    if app.help {
        render_help(app, f, &t);
    }
}

fn render_header(app: &App, f: &mut Frame, area: Rect, t: &Theme) {
    let mut spans = vec![
        Span::styled(" helphive ", t.bold()),
        Span::raw(format!(
            "@{} ({}, {}{}) ",
            app.shared.me.handle,
            app.shared.me.function,
            app.shared.me.role,
            if app.shared.me.novice { ", novice" } else { "" }
        )),
    ];
    if app.shared.online {
        spans.push(Span::styled("● online ", t.fg(Color::Green)));
    } else {
        let why = app.shared.offline_reason.as_deref().map(text::one_line).unwrap_or_default();
        spans.push(Span::styled(
            format!("○ OFFLINE: {} ", text::truncate(&why, 60)),
            t.fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    if !app.shared.pending.is_empty() {
        spans.push(Span::styled(format!("{} queued ", app.shared.pending.len()), t.fg(Color::Yellow)));
    }
    for (view, action, name) in [
        (View::Queue, Action::ShowQueue, "queue"),
        (View::Dashboard, Action::ShowDashboard, "dashboard"),
        (View::Approvals, Action::ShowApprovals, "approvals"),
    ] {
        if view == View::Approvals && !app.is_reviewer() {
            continue;
        }
        let label = format!(" {} {name} ", app.shared.keymap.describe(action));
        let active = app.view == view || (view == View::Queue && app.view == View::Conversation);
        spans.push(Span::styled(label, if active { t.selected() } else { t.dim() }));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn render_flash(app: &App, f: &mut Frame, area: Rect, t: &Theme) {
    if let Some((msg, level)) = &app.shared.flash {
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
    let more = format!("{} more", app.shared.keymap.describe(Action::Help));
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
    let contexts: &[Context] = if app.composer.editor.is_some() {
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
    if app.composer.editor.is_none() {
        for a in [Action::Help, Action::Quit, Action::Back] {
            parts.push(format!("{} {}", app.shared.keymap.describe(a), a.label()));
        }
    }
    parts.extend(
        contexts
            .iter()
            .flat_map(|c| Action::ALL.iter().filter(move |a| a.context() == *c))
            .map(|a| format!("{} {}", app.shared.keymap.describe(*a), a.label())),
    );
    parts
}

fn render_footer(app: &App, f: &mut Frame, area: Rect, t: &Theme) {
    let fit = footer_fit(app, area.width.saturating_sub(1) as usize);
    f.render_widget(Paragraph::new(Line::styled(format!(" {fit}"), t.dim())), area);
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
            out.push(format!("  {:<14} {}", app.shared.keymap.describe(*a), a.label()));
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
