//! The terminal's start-up against a server holding many open questions: the time from asking
//! for the queue to the first usable screen (the most urgent page drawn), to the whole queue
//! being in, and, in the same run, the time the terminal used to show nothing for, when it drew
//! only after every page had arrived. Goal: first usable screen at most 1 s at 100,000.
//!
//! `cargo bench --bench startup` runs it with 100,000 questions (filling the database takes a
//! while); under `cargo test` (no `--bench`) it runs with 1,500 and only checks that every
//! question arrived.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use common::{TestApp, new_agent, question, spawn_app};
use helphive::client::Client;
use helphive::config::Config;
use helphive::model::Role;
use helphive::tui::app::{App, Msg, SnapshotPage, update};
use helphive::tui::keymap::KeyMap;
use helphive::tui::{load_queue, view};

const W: u16 = 160;
const H: u16 = 48;

async fn fill(app: &TestApp, n: usize) {
    let texts = common::SAMPLE_QUESTIONS;
    let mut i = 0;
    while i < n {
        let batch = (i..(i + 500).min(n))
            .map(|k| {
                // One customer, one post each: the spam rules hold nothing back.
                question(&format!("q-{k}"), &format!("customer{k}"), &format!("{} ({k})", texts[k % 5])).into()
            })
            .collect();
        helphive::intake::ingest(&app.store, &app.state.config, batch, 600_000, helphive::clock::now_ms())
            .await
            .unwrap();
        i += 500;
    }
}

async fn new_app(client: &Client) -> App {
    let me = client.me().await.unwrap();
    let config = Config::builtin();
    let functions = config.functions.iter().map(|f| f.name.clone()).collect();
    let mut app = App::new(me, helphive::clock::now_ms(), functions, config.client.templates, KeyMap::defaults(), None);
    app.shared.mono = true;
    app
}

/// Today's start-up: each page is drawn as it arrives. Returns the first usable screen, all in,
/// the terminal's own time on the pages (update, sort, draw) and how many questions it holds.
async fn paged(client: &Client, term: &mut Terminal<TestBackend>) -> (Duration, Duration, Duration, usize) {
    let mut app = new_app(client).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<SnapshotPage>();
    let t = Instant::now();
    let loader = client.clone();
    tokio::spawn(async move { load_queue(&loader, None, |p| tx.send(p).is_ok()).await.unwrap() });
    let mut first = None;
    let mut ui = Duration::ZERO;
    while let Some(page) = rx.recv().await {
        let u = Instant::now();
        // As the terminal's loop does: take in what has arrived, then draw once.
        update(&mut app, Msg::Snapshot(page));
        while let Ok(p) = rx.try_recv() {
            update(&mut app, Msg::Snapshot(p));
        }
        app.prepare();
        term.draw(|f| view::render(&app, f)).unwrap();
        first.get_or_insert(t.elapsed());
        ui += u.elapsed();
        if app.queue.complete {
            break;
        }
    }
    (first.unwrap(), t.elapsed(), ui, app.queue.order.len())
}

/// The start-up before: nothing drawn until every page was in.
async fn all_at_once(client: &Client, term: &mut Terminal<TestBackend>) -> (Duration, usize) {
    let mut app = new_app(client).await;
    let t = Instant::now();
    let mut pages = Vec::new();
    load_queue(client, None, |p| {
        pages.push(p);
        true
    })
    .await
    .unwrap();
    for p in pages {
        update(&mut app, Msg::Snapshot(p));
    }
    app.prepare();
    term.draw(|f| view::render(&app, f)).unwrap();
    (t.elapsed(), app.queue.order.len())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    // `HELPHIVE_BENCH_QUESTIONS` sets another size for a quick look.
    let n = match std::env::var("HELPHIVE_BENCH_QUESTIONS").ok().and_then(|v| v.parse().ok()) {
        Some(n) if full => n,
        _ if full => 100_000,
        _ => 1_500,
    };
    let app = spawn_app().await;
    let t = Instant::now();
    fill(&app, n).await;
    let filled = t.elapsed();
    let (_, client) = app.agent(new_agent("dana", "billing", Role::Agent, &[("billing", 4)])).await;
    let mut term = Terminal::new(TestBackend::new(W, H)).unwrap();

    // A load to warm the server's caches, then the old start-up, then today's.
    all_at_once(&client, &mut term).await;
    let (before, n_before) = all_at_once(&client, &mut term).await;
    let (first, all, ui, n_paged) = paged(&client, &mut term).await;
    assert_eq!(n_before, n, "every question arrived");
    assert_eq!(n_paged, n, "every question arrived");
    if !full {
        return;
    }
    println!();
    println!("terminal start-up, {n} open questions (database filled in {:.1} s), {W}x{H}:", filled.as_secs_f64());
    println!(
        "  first usable screen:        {:>8.0} ms (the most urgent 500; goal <= 1,000 ms)",
        first.as_secs_f64() * 1e3
    );
    println!("  whole queue in:             {:>8.0} ms (pages drawn as they arrive)", all.as_secs_f64() * 1e3);
    println!("    of which the terminal:    {:>8.0} ms (taking pages in, merging, drawing)", ui.as_secs_f64() * 1e3);
    println!("  before, first screen after: {:>8.0} ms (every page first, then one frame)", before.as_secs_f64() * 1e3);
    println!("  ratio first screen now / before: {:.3}", first.as_secs_f64() / before.as_secs_f64());
}
