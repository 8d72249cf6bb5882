//! The approvals screen, for mentors and leads: novices' replies waiting for review, approved as
//! they are, edited then approved, or rejected with a reason.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Wrap};

use super::cmd::Cmd;
use super::composer::ComposerKind;
use super::keymap::{Action, Context};
use super::{Outcome, PAGE, Shared, Theme, duration, is_movement, move_in_list};
use crate::model::{Message, Question};
use crate::text;

/// The approvals' state: the replies waiting, with their questions, and the cursor.
#[derive(Default)]
pub struct ApprovalsScreen {
    pub items: Vec<(Message, Question)>,
    pub selected: usize,
}

impl ApprovalsScreen {
    /// The replies waiting, as loaded.
    pub fn set(&mut self, items: Vec<(Message, Question)>) {
        self.items = items;
        self.selected = self.selected.min(self.items.len().saturating_sub(1));
    }

    pub fn on_key(&mut self, ctx: &mut Shared, k: &KeyEvent) -> Outcome {
        let Some(action) = ctx.keymap.action(k, &[Context::Approvals, Context::Global]) else {
            return Outcome::Ignored;
        };
        match action {
            Action::Approve | Action::Edit | Action::Reject => {
                let Some((m, q)) = self.items.get(self.selected).cloned() else { return Outcome::Used(vec![]) };
                match action {
                    Action::Approve => {
                        if !ctx.needs_server("approve") {
                            return Outcome::Used(vec![]);
                        }
                        Outcome::Used(vec![Cmd::Approve { message_id: m.id, edited: None }])
                    }
                    Action::Edit => {
                        Outcome::Compose { kind: ComposerKind::EditApproval(m.id), question: q, initial: Some(m.body) }
                    }
                    _ => Outcome::Compose { kind: ComposerKind::RejectReason(m.id), question: q, initial: None },
                }
            }
            a if is_movement(a) => {
                move_in_list(&mut self.selected, self.items.len(), a, PAGE);
                Outcome::Used(vec![])
            }
            _ => Outcome::Ignored,
        }
    }

    pub fn render(&self, ctx: &Shared, f: &mut Frame, area: Rect, t: &Theme) {
        let [list, detail] = Layout::vertical([Constraint::Percentage(45), Constraint::Min(5)]).areas(area);
        let rows: Vec<Row> = self
            .items
            .iter()
            .enumerate()
            .map(|(i, (m, q))| {
                let row = Row::new(vec![
                    Cell::from(format!("#{}", q.id)),
                    Cell::from(text::truncate(&format!("@{}", text::one_line(&m.author)), 14)),
                    Cell::from(q.channel.clone()),
                    Cell::from(duration(ctx.now - m.created_at)),
                    Cell::from(text::one_line(&m.body)),
                ]);
                if i == self.selected { row.style(t.selected()) } else { row }
            })
            .collect();
        let title = format!(" Replies waiting for approval ({}) ", self.items.len());
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
        let body: Vec<Line> = match self.items.get(self.selected) {
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
            Paragraph::new(body)
                .wrap(Wrap { trim: false })
                .block(Block::default().borders(Borders::ALL).title(" Review ")),
            detail,
        );
    }
}
