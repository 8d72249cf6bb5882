//! Renders the queue view with 100 and with 100,000 questions, and a keypress through to the next
//! frame, then prints the medians, their ratio (the cost should follow the screen, not the queue)
//! and the memory the 100,000 questions take. `cargo bench --bench render`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use helphive::model::Role;
use helphive::tui::app::{Msg, update};
use helphive::tui::fixtures::{agent, app_with};
use helphive::tui::view;

const W: u16 = 160;
const H: u16 = 48;

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn median(mut f: impl FnMut(), runs: usize) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let before = rss_kib();
    let mut big = app_with(100_000, agent("dana", Role::Agent));
    let after = rss_kib();
    let mut small = app_with(100, agent("dana", Role::Agent));
    let mut term = Terminal::new(TestBackend::new(W, H)).expect("test backend");

    c.bench_function("render queue, 100 questions", |b| {
        b.iter(|| term.draw(|f| view::render(black_box(&small), f)).map(|_| ()))
    });
    c.bench_function("render queue, 100000 questions", |b| {
        b.iter(|| term.draw(|f| view::render(black_box(&big), f)).map(|_| ()))
    });
    let down = || Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE));
    c.bench_function("key to frame, 100000 questions", |b| {
        b.iter(|| {
            update(&mut big, down());
            big.prepare();
            term.draw(|f| view::render(&big, f)).map(|_| ())
        })
    });
    c.final_summary();
    // `cargo test --all-targets` runs each benchmark once as a smoke test; the figures below are
    // for `cargo bench` only.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }

    let runs = 301;
    let m_small = median(
        || {
            let _ = term.draw(|f| view::render(&small, f));
        },
        runs,
    );
    let m_big = median(
        || {
            let _ = term.draw(|f| view::render(&big, f));
        },
        runs,
    );
    let m_key = median(
        || {
            update(&mut big, down());
            big.prepare();
            {
                let _ = term.draw(|f| view::render(&big, f));
            };
        },
        runs,
    );
    // A live change (here: a question's deadline moves) moves one question in the sorted order.
    let mut n = 0i64;
    let m_event = median(
        || {
            n += 1;
            let mut q = helphive::tui::fixtures::question(n % 100_000);
            q.sla_due_at += n * 1000;
            q.updated_at = helphive::tui::fixtures::NOW + n;
            let e = helphive::model::Event {
                id: n,
                at: q.updated_at,
                kind: "question.renewed".into(),
                question_id: Some(q.id),
                actor: None,
                data: serde_json::json!({ "question": q }),
            };
            update(&mut big, Msg::Event(e));
            big.prepare();
            let _ = term.draw(|f| view::render(&big, f));
        },
        runs,
    );
    small.prepare();
    println!();
    println!("queue view {W}x{H}, median of {runs} frames:");
    println!("  100 questions:       {:>8.3} ms", m_small.as_secs_f64() * 1e3);
    println!("  100,000 questions:   {:>8.3} ms", m_big.as_secs_f64() * 1e3);
    println!(
        "  ratio 100,000 / 100: {:>8.2}   (goal <= 1.5; frame goal <= 1 ms)",
        m_big.as_secs_f64() / m_small.as_secs_f64()
    );
    println!("  keypress to frame:   {:>8.3} ms (100,000 questions)", m_key.as_secs_f64() * 1e3);
    println!(
        "  live change to frame:{:>8.3} ms (an event moves one of 100,000 questions)",
        m_event.as_secs_f64() * 1e3
    );
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "  memory for 100,000 questions: {:.1} MB (resident {:.1} MB in all; goal <= 150 MB)",
            (a - b) as f64 / 1024.0,
            a as f64 / 1024.0
        );
    }
}
