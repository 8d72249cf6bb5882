//! The queue screen: the open questions in order of urgency, filtered and searched, the loading
//! of the snapshot page by page, who looks at or is offered what, and on a wide terminal the
//! selected question's thread beside the list.

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use super::cmd::{Cmd, SnapshotPage};
use super::conversation::thread_lines;
use super::keymap::{Action, Context};
use super::{
    Outcome, PAGE, Shared, Theme, duration, is_movement, move_in_list, question_action, sla_cell, state_label,
};
use crate::model::{Millis, Question, QuestionDetail, QuestionState};
use crate::text;

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

/// From this width on, the queue shows the selected question's thread beside the list.
pub const PREVIEW_MIN_WIDTH: u16 = 160;

/// Queue order: customers waiting for an answer first, earliest deadline first.
fn order_key(q: &Question) -> (bool, Millis, i64) {
    (q.awaiting_since.is_none(), q.sla_due_at, q.id)
}

/// The queue screen's state. The questions themselves are in `Shared`; this holds their order.
pub struct QueueScreen {
    /// The first page of the queue has arrived: the queue is usable.
    pub loaded: bool,
    /// A snapshot load is under way.
    pub loading: bool,
    /// The last page of a snapshot arrived.
    pub complete: bool,
    /// Open questions on the server when the load began, and how many pages' worth arrived.
    pub load_total: Option<i64>,
    pub load_count: usize,
    /// Ids in the queue view's order (filtered, searched, most urgent first).
    pub order: Vec<i64>,
    order_dirty: bool,
    pub filter: Filter,
    pub search: String,
    pub searching: bool,
    pub selected: usize,
    /// The thread shown beside the queue on a wide terminal, and the id last asked for.
    pub preview: Option<QuestionDetail>,
    pub(crate) preview_wanted: Option<i64>,
    /// Question → (who is looking at it, since when).
    pub viewers: HashMap<i64, (String, Millis)>,
    /// Question → (who the router offered it to, until when).
    pub offers: HashMap<i64, (String, Millis)>,
}

impl Default for QueueScreen {
    fn default() -> Self {
        QueueScreen {
            loaded: false,
            loading: false,
            complete: false,
            load_total: None,
            load_count: 0,
            order: Vec::new(),
            order_dirty: true,
            filter: Filter::All,
            search: String::new(),
            searching: false,
            selected: 0,
            preview: None,
            preview_wanted: None,
            viewers: HashMap::new(),
            offers: HashMap::new(),
        }
    }
}

impl QueueScreen {
    /// The question under the cursor.
    pub fn selected_question<'a>(&self, ctx: &'a Shared) -> Option<&'a Question> {
        self.order.get(self.selected).and_then(|id| ctx.questions.get(id))
    }

    fn passes(&self, ctx: &Shared, q: &Question) -> bool {
        if q.state == QuestionState::Resolved {
            return false;
        }
        // Held questions (possible spam) show only under their own filter.
        if (q.state == QuestionState::Held) != (self.filter == Filter::Held) {
            return false;
        }
        let keep = match self.filter {
            Filter::All | Filter::Held => true,
            Filter::MyFunctions => q.function == ctx.me.function || ctx.me.skills.iter().any(|s| s.topic == q.topic),
            Filter::Mine => q.holder.as_deref() == Some(ctx.me.handle.as_str()),
            Filter::Unclaimed => q.state == QuestionState::Open,
            Filter::Breaching => sla(q, ctx.now) == Sla::Breached,
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

    /// Marks the order for rebuilding (after changing the questions directly).
    pub fn touch(&mut self) {
        self.order_dirty = true;
    }

    /// Rebuilds the order if anything changed. Called once before each frame, so a burst of
    /// events costs one sort.
    pub fn prepare(&mut self, ctx: &Shared) {
        if !self.order_dirty {
            return;
        }
        let keep_id = self.order.get(self.selected).copied();
        let mut ids: Vec<(bool, Millis, i64)> =
            ctx.questions.values().filter(|q| self.passes(ctx, q)).map(order_key).collect();
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

    /// Forgets every question: a fresh snapshot is loading.
    pub fn reload(&mut self, ctx: &mut Shared) {
        ctx.questions.clear();
        self.order_dirty = true;
        self.loading = true;
        self.complete = false;
    }

    /// Whether `q` is older than the copy already held (a snapshot racing an event).
    pub fn is_stale(ctx: &Shared, q: &Question) -> bool {
        ctx.questions.get(&q.id).is_some_and(|existing| existing.updated_at > q.updated_at)
    }

    /// Takes in a newer copy of a question (the caller has checked `is_stale`).
    pub fn upsert(&mut self, ctx: &mut Shared, q: Question) {
        let keep = self.passes(ctx, &q);
        let new_key = order_key(&q);
        let old = ctx.questions.insert(q.id, q);
        if self.order_dirty {
            return; // a full rebuild is due anyway
        }
        let ctx = &*ctx;
        // Move just this question within the sorted order: a live change costs a binary search
        // and a memmove, not a sort of the whole queue. The cursor stays on the question it was on.
        let selected_id = self.order.get(self.selected).copied();
        if let Some(old) = old {
            let old_key = order_key(&old);
            if let Ok(i) = self.order.binary_search_by(|id| key_of(ctx, *id, old.id, old_key).cmp(&old_key)) {
                self.order.remove(i);
            }
        }
        if keep {
            let id = new_key.2;
            let i = self.order.binary_search_by(|x| key_of(ctx, *x, id, new_key).cmp(&new_key)).unwrap_or_else(|i| i);
            self.order.insert(i, id);
        }
        if let Some(sid) = selected_id
            && let Some(key) = ctx.questions.get(&sid).map(order_key)
            && let Ok(i) = self.order.binary_search_by(|x| key_of(ctx, *x, sid, key).cmp(&key))
        {
            self.selected = i;
        }
        self.selected = self.selected.min(self.order.len().saturating_sub(1));
    }

    /// Many questions at once (a snapshot page); `taken` sees each one taken in. New questions
    /// are merged into the sorted order in one pass (a page of 500 into 100,000 costs one walk,
    /// not a sort of everything); when one replaces a copy already shown, the order is rebuilt
    /// before the next frame.
    pub fn upsert_many(&mut self, ctx: &mut Shared, items: Vec<Question>, mut taken: impl FnMut(&Question)) {
        if items.len() < 64 && !self.order_dirty {
            for q in items {
                if Self::is_stale(ctx, &q) {
                    continue; // an older copy: keep the newer
                }
                taken(&q);
                self.upsert(ctx, q);
            }
            return;
        }
        let mut fresh: Vec<(bool, Millis, i64)> = Vec::with_capacity(items.len());
        let mut replaced = false;
        for q in items {
            if let Some(existing) = ctx.questions.get(&q.id) {
                if existing.updated_at > q.updated_at {
                    continue; // an older copy: keep the newer
                }
                replaced = true;
            }
            taken(&q);
            if self.passes(ctx, &q) {
                fresh.push(order_key(&q));
            }
            ctx.questions.insert(q.id, q);
        }
        if self.order_dirty || replaced {
            self.order_dirty = true;
            return;
        }
        fresh.sort_unstable();
        let Some(lowest) = fresh.first().copied() else { return };
        let key = |id: i64| ctx.questions.get(&id).map(order_key).unwrap_or((true, Millis::MAX, id));
        // Pages come most urgent first, so a new page mostly lands behind what is shown: what
        // sorts before its first question stays where it is, untouched.
        let start = self.order.partition_point(|id| key(*id) < lowest);
        let selected_id = self.order.get(self.selected).copied().filter(|_| self.selected >= start);
        let tail = self.order.split_off(start);
        self.order.reserve(tail.len() + fresh.len());
        let mut fresh = fresh.into_iter().peekable();
        for id in tail {
            let k = key(id);
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

    /// Counts a snapshot page in (the caller takes its questions in with `upsert_many`).
    pub fn on_page(&mut self, page: &SnapshotPage) {
        if page.first {
            self.load_total = page.total;
            self.load_count = 0;
        }
        self.load_count += page.items.len();
    }

    /// A snapshot page is in.
    pub fn page_taken(&mut self, done: bool) {
        self.loaded = true;
        if done {
            self.loading = false;
            self.complete = true;
        }
    }

    /// The clock moved: SLA colours and the breaching filter move with it; looks and offers lapse.
    pub fn on_tick(&mut self, now: Millis) {
        if self.filter == Filter::Breaching {
            self.order_dirty = true;
        }
        self.viewers.retain(|_, (_, at)| now - *at < 120_000);
        self.offers.retain(|_, (_, until)| *until > now);
    }

    /// Someone else looks at question `id` (shown beside it for two minutes).
    pub fn on_viewing(&mut self, ctx: &Shared, id: i64, who: String, at: Millis) {
        if who != ctx.me.handle {
            self.viewers.insert(id, (who, at));
        }
    }

    /// The router offers question `id` to `to` until `until`; an offer to me is said on the
    /// flash line.
    pub fn on_offered(&mut self, ctx: &mut Shared, id: i64, to: &str, until: Millis) {
        self.offers.insert(id, (to.to_string(), until));
        if to == ctx.me.handle {
            let c = ctx.keymap.describe(Action::Claim);
            ctx.info(format!("#{id} is offered to you: open it and press {c} to claim"));
        }
    }

    /// Asks for the selected question's thread for the preview if it is not loaded.
    pub fn preview_cmd(&mut self, ctx: &Shared) -> Option<Cmd> {
        self.prepare(ctx);
        let id = self.selected_question(ctx)?.id;
        if self.preview_wanted == Some(id) {
            return None;
        }
        self.preview_wanted = Some(id);
        Some(Cmd::LoadPreview(id))
    }

    /// The search line, in front of the queue while it is open: it takes every key.
    pub fn search_key(&mut self, k: KeyEvent) -> Option<Vec<Cmd>> {
        if !self.searching {
            return None;
        }
        match k.code {
            KeyCode::Enter => self.searching = false,
            KeyCode::Esc => {
                self.searching = false;
                self.search.clear();
            }
            KeyCode::Backspace => {
                self.search.pop();
            }
            KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => self.search.push(c),
            _ => {}
        }
        self.order_dirty = true;
        self.selected = 0;
        Some(vec![])
    }

    /// The queue's keys, and those it shares with the conversation.
    pub fn on_key(&mut self, ctx: &mut Shared, k: &KeyEvent) -> Outcome {
        let Some(action) = ctx.keymap.action(k, &[Context::Queue, Context::Question, Context::Global]) else {
            return Outcome::Ignored;
        };
        match action {
            Action::Open => match self.selected_question(ctx) {
                Some(q) => Outcome::Open(q.clone()),
                None => Outcome::Used(vec![]),
            },
            Action::Filter => {
                let i = Filter::ALL.iter().position(|f| *f == self.filter).unwrap_or(0);
                self.filter = Filter::ALL[(i + 1) % Filter::ALL.len()];
                self.order_dirty = true;
                self.selected = 0;
                Outcome::Used(vec![])
            }
            Action::Search => {
                self.searching = true;
                Outcome::Used(vec![])
            }
            Action::Back if !self.search.is_empty() => {
                self.search.clear();
                self.order_dirty = true;
                Outcome::Used(vec![])
            }
            a if is_movement(a) => {
                move_in_list(&mut self.selected, self.order.len(), a, PAGE);
                Outcome::Used(vec![])
            }
            a => {
                let q = self.selected_question(ctx).cloned();
                match question_action(ctx, q.as_ref(), a) {
                    Some(cmds) => Outcome::Used(cmds),
                    None => Outcome::Ignored,
                }
            }
        }
    }

    /// Draws the queue in `area`, with the preview beside it when `wide`.
    pub fn render(&self, ctx: &Shared, f: &mut Frame, area: Rect, t: &Theme, wide: bool) {
        // On a wide terminal the selected question's thread shows beside the list.
        let (area, preview) = if wide && area.width >= PREVIEW_MIN_WIDTH {
            let [list, preview] =
                Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
            (list, Some(preview))
        } else {
            (area, None)
        };
        let n = self.order.len();
        let mut title = format!(" Queue · {} · {n} question{} ", self.filter.label(), if n == 1 { "" } else { "s" });
        if self.searching || !self.search.is_empty() {
            title.push_str(&format!(
                "· search: {}{} ",
                text::one_line(&self.search),
                if self.searching { "▏" } else { "" }
            ));
        }
        if self.loading || !self.loaded {
            match self.load_total {
                Some(total) if self.loaded => title.push_str(&format!(
                    "· loading… {} of {} ",
                    thousands(self.load_count as i64),
                    thousands(total)
                )),
                _ => title.push_str("· loading… "),
            }
        }
        let block = Block::default().borders(Borders::ALL).title(title);
        let inner = block.inner(area);
        f.render_widget(block, area);
        let visible = inner.height.saturating_sub(1) as usize; // one line for the column names
        let columns = queue_columns(inner.width);
        // Only the rows on screen are built: the cost follows the screen, not the queue.
        let offset = if self.selected >= visible { self.selected + 1 - visible } else { 0 };
        let now = ctx.now;
        let rows: Vec<Row> = self
            .order
            .iter()
            .enumerate()
            .skip(offset)
            .take(visible)
            .filter_map(|(i, id)| ctx.questions.get(id).map(|q| (i, q)))
            .map(|(i, q)| {
                let mut cells: Vec<Cell> = columns
                    .iter()
                    .map(|(col, w)| match col {
                        Column::Wait => Cell::from(duration(now - q.awaiting_since.unwrap_or(q.received_at))),
                        Column::Sla => {
                            let (sla_text, sla_style) = sla_cell(q, now, t);
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
                        Column::Holder => Cell::from(text::truncate(&self.holder_text(ctx, q), *w as usize)),
                    })
                    .collect();
                cells.push(Cell::from(text::one_line(&q.text)));
                let row = Row::new(cells);
                if i == self.selected { row.style(t.selected()) } else { row }
            })
            .collect();
        let mut widths: Vec<Constraint> = columns.iter().map(|(_, w)| Constraint::Length(*w)).collect();
        widths.push(Constraint::Fill(1));
        let mut names: Vec<&str> = columns.iter().map(|(c, w)| c.title(*w)).collect();
        names.push("Question");
        let header = Row::new(names).style(t.bold());
        f.render_widget(Table::new(rows, widths).header(header).column_spacing(1), inner);
        if self.order.is_empty() && self.loaded {
            let msg = if self.filter == Filter::All && self.search.is_empty() {
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
            self.render_preview(ctx, f, p, t);
        }
    }

    fn holder_text(&self, ctx: &Shared, q: &Question) -> String {
        match (&q.holder, self.viewers.get(&q.id), self.offers.get(&q.id)) {
            _ if q.state == QuestionState::Held => {
                format!("held: {}", text::one_line(q.held_reason.as_deref().unwrap_or("spam?")))
            }
            (Some(h), _, _) if *h == ctx.me.handle => "you".to_string(),
            (Some(h), _, _) => format!("@{}", text::one_line(h)),
            (None, Some((v, _)), _) => format!("viewing @{}", text::one_line(v)),
            (None, None, Some((to, _))) if *to == ctx.me.handle => "→ offered you".to_string(),
            (None, None, Some((to, _))) => format!("→ @{}", text::one_line(to)),
            (None, None, None) => String::new(),
        }
    }

    /// The selected question beside the queue: who asks, where, its state, then the thread
    /// (once loaded; until then the question's own text).
    fn render_preview(&self, ctx: &Shared, f: &mut Frame, area: Rect, t: &Theme) {
        let block = Block::default().borders(Borders::ALL).title(" Preview ");
        let inner = block.inner(area);
        f.render_widget(block, area);
        let Some(q) = self.selected_question(ctx) else { return };
        let width = inner.width as usize;
        let (sla_text, sla_style) = sla_cell(q, ctx.now, t);
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
                    &match self.holder_text(ctx, q) {
                        h if h.is_empty() => format!(" · {} · {}/{}", state_label(q.state), q.topic, q.function),
                        h => format!(" · {} · {}/{} · {h}", state_label(q.state), q.topic, q.function),
                    },
                    width.saturating_sub(4 + text::width(&sla_text)),
                )),
            ]),
            Line::from(""),
        ];
        match self.preview.as_ref().filter(|d| d.question.id == q.id) {
            Some(d) => lines.extend(thread_lines(d, ctx.now, width.saturating_sub(2), t)),
            None => {
                lines.extend(
                    text::wrap(&q.text, width.saturating_sub(2)).into_iter().map(|l| Line::from(format!("  {l}"))),
                );
                if ctx.online {
                    lines.push(Line::styled("  loading the thread…", t.dim()));
                }
            }
        }
        f.render_widget(Paragraph::new(lines), inner);
    }
}

/// The sort key of an id in the order; `changed` (being moved) is looked up as `its_key`, since
/// the map already holds its new version.
fn key_of(ctx: &Shared, id: i64, changed: i64, its_key: (bool, Millis, i64)) -> (bool, Millis, i64) {
    if id == changed {
        return its_key;
    }
    ctx.questions.get(&id).map(order_key).unwrap_or((true, Millis::MAX, id))
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
