//! The dashboard screen, for shift leads: open, unclaimed, oldest waiting, first response and SLA
//! attainment; a table per function; arrivals and answers per 5 minutes; the agents' load.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Sparkline, Table};

use super::cmd::Cmd;
use super::{Theme, duration};
use crate::model::Stats;
use crate::text;

/// The dashboard's state: the statistics, and whether events have made them old.
pub struct DashboardScreen {
    pub stats: Option<Stats>,
    /// Something changed since the statistics were loaded: load them again on the next tick.
    pub stale: bool,
}

impl Default for DashboardScreen {
    fn default() -> Self {
        DashboardScreen { stats: None, stale: true }
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

impl DashboardScreen {
    /// The dashboard comes into view: its statistics are loaded afresh.
    pub fn show(&mut self) -> Cmd {
        self.stale = false;
        Cmd::LoadStats
    }

    /// The clock ticked: statistics made old by events are loaded again while the dashboard
    /// shows and the server is there.
    pub fn on_tick(&mut self, shown: bool, online: bool) -> Option<Cmd> {
        (self.stale && online && shown).then(|| self.show())
    }

    pub fn render(&self, f: &mut Frame, area: Rect, t: &Theme) {
        let Some(s) = &self.stats else {
            f.render_widget(
                Paragraph::new("loading statistics…")
                    .block(Block::default().borders(Borders::ALL).title(" Dashboard ")),
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
        let header = Row::new(["Function", "Open", "Unclaimed", "Approval", "Breaching", "Oldest", "Online/away"])
            .style(t.bold());
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
        let header =
            Row::new(["Agent", "Function", "Status", "Holding", "Occupancy", "Answered today"]).style(t.bold());
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
}
