//! The terminal without a terminal: each view drawn on a fixed-size `TestBackend` with a fixed
//! clock and ids (snapshots), and the app driven through its messages as a person would drive it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use helphive::model::{Event, Message, MessageKind, ReplyStatus, Role};
use helphive::tui::app::{App, Cmd, Filter, Msg, SnapshotPage, TransferTo, View, update};
use helphive::tui::drafts::Drafts;
use helphive::tui::fixtures::{self, NOW, agent, app_with, detail, question};
use helphive::tui::view;

fn draw(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    app.prepare();
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::render(app, f)).unwrap();
    t
}

fn screen(app: &mut App) -> String {
    let t = draw(app, 120, 32);
    t.backend().to_string()
}

fn key(app: &mut App, code: KeyCode) -> Vec<Cmd> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ctrl(app: &mut App, c: char) -> Vec<Cmd> {
    update(app, Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)))
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        let code = if c == '\n' { KeyCode::Enter } else { KeyCode::Char(c) };
        update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }
}

/// Opens question `id` in the conversation view with its full thread.
fn open(app: &mut App, id: i64) {
    let q = app.shared.questions[&id].clone();
    app.view = View::Conversation;
    app.conversation.detail = None;
    update(app, Msg::Detail(detail(q)));
}

#[test]
fn queue_view() {
    let mut app = app_with(12, agent("dana", Role::Agent));
    insta::assert_snapshot!(screen(&mut app));
}

#[test]
fn conversation_view() {
    let mut app = app_with(12, agent("dana", Role::Agent));
    open(&mut app, 2);
    insta::assert_snapshot!(screen(&mut app));
}

#[test]
fn composer_view() {
    let mut app = app_with(12, agent("dana", Role::Agent));
    open(&mut app, 2); // held by dana
    key(&mut app, KeyCode::Char('r'));
    typed(&mut app, "Hi Ben, the refund is on its way.");
    insta::assert_snapshot!(screen(&mut app));
}

#[test]
fn dashboard_view() {
    let mut app = app_with(12, agent("lena", Role::Lead));
    app.view = View::Dashboard;
    update(&mut app, Msg::Stats(fixtures::stats()));
    insta::assert_snapshot!(screen(&mut app));
}

#[test]
fn approvals_view() {
    let mut app = app_with(12, agent("maya", Role::Mentor));
    app.view = View::Approvals;
    let q = question(4);
    let m = Message {
        id: 9,
        question_id: q.id,
        kind: MessageKind::Reply,
        author: "nick".into(),
        body: "Hi Eli, yes the Riverside store is open on Sundays 10-16!".into(),
        created_at: NOW - 4 * 60_000,
        external_id: None,
        in_reply_to: None,
        status: Some(ReplyStatus::AwaitingApproval),
        reviewed_by: None,
        review_note: None,
        idempotency_key: None,
        posted_url: None,
        error: None,
    };
    update(&mut app, Msg::Approvals(vec![(m, q)]));
    insta::assert_snapshot!(screen(&mut app));
}

#[test]
fn help_overlay() {
    let mut app = app_with(3, agent("dana", Role::Agent));
    key(&mut app, KeyCode::Char('?'));
    insta::assert_snapshot!(screen(&mut app));
}

#[test]
fn offline_banner() {
    let mut app = app_with(3, agent("dana", Role::Agent));
    update(&mut app, Msg::Disconnected("cannot reach the server at http://127.0.0.1:7878: connection refused".into()));
    let s = screen(&mut app);
    assert!(s.contains("OFFLINE: cannot reach the server"), "{s}");
    // Still showing what it had.
    assert!(s.contains("3 questions"), "{s}");
}

#[test]
fn queue_is_sorted_by_urgency_and_filters_narrow_it() {
    let mut app = app_with(30, agent("dana", Role::Agent));
    let dues: Vec<i64> = app.queue.order.iter().map(|id| app.shared.questions[id].sla_due_at).collect();
    assert!(dues.windows(2).all(|w| w[0] <= w[1]), "earliest deadline first");
    key(&mut app, KeyCode::Char('f')); // my functions
    app.prepare();
    assert_eq!(app.queue.filter, Filter::MyFunctions);
    assert!(app.queue.order.iter().all(|id| app.shared.questions[id].function == "billing"));
    key(&mut app, KeyCode::Char('f')); // mine
    app.prepare();
    assert!(!app.queue.order.is_empty());
    assert!(app.queue.order.iter().all(|id| app.shared.questions[id].holder.as_deref() == Some("dana")));
    key(&mut app, KeyCode::Char('f')); // unclaimed
    key(&mut app, KeyCode::Char('f')); // breaching
    app.prepare();
    assert_eq!(app.queue.filter, Filter::Breaching);
    assert!(app.queue.order.iter().all(|id| app.shared.questions[id].sla_due_at < NOW));
    // Held posts (possible spam) show under their own filter only.
    let mut held = question(99);
    held.state = helphive::model::QuestionState::Held;
    held.held_reason = Some("flood: 6 posts in 60 s".into());
    app.shared.questions.insert(held.id, held.clone());
    app.touch();
    key(&mut app, KeyCode::Char('f'));
    app.prepare();
    assert_eq!(app.queue.filter, Filter::Held);
    assert_eq!(app.queue.order, vec![held.id]);
    assert_eq!(
        update(&mut app, Msg::Key(KeyEvent::new(KeyCode::Char('H'), KeyModifiers::SHIFT))),
        vec![],
        "agents cannot let it in"
    );
    // Search by customer, from the queue.
    key(&mut app, KeyCode::Char('f'));
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "kowal");
    key(&mut app, KeyCode::Enter);
    app.prepare();
    assert!(!app.queue.order.is_empty());
    assert!(app.queue.order.iter().all(|id| app.shared.questions[id].customer.name == "Ben Kowalski"));
    key(&mut app, KeyCode::Esc);
    app.prepare();
    assert_eq!(app.queue.order.len(), 30);
}

#[test]
fn live_changes_keep_the_queue_sorted_and_the_cursor_on_its_question() {
    let mut app = app_with(200, agent("dana", Role::Agent));
    app.queue.selected = 50;
    let watched = app.queue.order[50];
    // A stream of changes: deadlines move, questions get answered, new ones arrive.
    for i in 0..300i64 {
        let mut q = app.shared.questions[&((i * 37) % 200 + 1)].clone();
        q.updated_at = NOW + i;
        match i % 3 {
            0 => q.sla_due_at = NOW + (i * 7919) % 3_600_000 - 1_800_000,
            1 => q.awaiting_since = None,
            _ => {
                q.id = 1000 + i;
                q.sla_due_at = NOW + i * 1000;
            }
        }
        if q.id == watched {
            continue;
        }
        let ev = Event {
            id: i,
            at: NOW,
            kind: "question.claimed".into(),
            question_id: Some(q.id),
            actor: None,
            data: serde_json::json!({ "question": q }),
        };
        update(&mut app, Msg::Event(ev));
        assert_eq!(app.queue.order[app.queue.selected], watched, "the cursor stays on its question");
    }
    let incremental = app.queue.order.clone();
    app.touch();
    app.prepare();
    assert_eq!(incremental, app.queue.order, "the same order as a full sort");
}

#[test]
fn the_queue_loads_once_the_event_stream_is_open() {
    let config = helphive::config::Config::builtin();
    let mut app = App::new(
        agent("dana", Role::Agent),
        NOW,
        vec![],
        config.client.templates,
        helphive::tui::keymap::KeyMap::defaults(),
        None,
    );
    assert_eq!(update(&mut app, Msg::Connected), vec![Cmd::LoadSnapshot]);
    assert_eq!(update(&mut app, Msg::Connected), vec![], "one load at a time");
    update(&mut app, Msg::SnapshotFailed("timeout".into()));
    update(&mut app, Msg::Disconnected("x".into()));
    assert!(update(&mut app, Msg::Connected).contains(&Cmd::LoadSnapshot), "tried again");
    update(&mut app, Msg::Snapshot(SnapshotPage::whole(vec![question(1)], Some(7))));
    assert_eq!(app.position, Some(7), "the stream resumes after what the snapshot reflects");
    update(&mut app, Msg::Disconnected("x".into()));
    assert!(!update(&mut app, Msg::Connected).contains(&Cmd::LoadSnapshot), "a resumed stream needs no reload");
}

/// Issue 10, item 12: a terminal that has seen no event and has a snapshot that does not say what
/// it reflects (an older server) has nowhere to resume from; its stream came back "from now", so
/// it reloads rather than miss what happened while it was away.
#[test]
fn a_terminal_without_a_position_reloads_on_reconnect() {
    let config = helphive::config::Config::builtin();
    let mut app = App::new(
        agent("dana", Role::Agent),
        NOW,
        vec![],
        config.client.templates,
        helphive::tui::keymap::KeyMap::defaults(),
        None,
    );
    update(&mut app, Msg::Connected);
    update(&mut app, Msg::Snapshot(SnapshotPage::whole(vec![question(1)], None)));
    update(&mut app, Msg::Disconnected("killed".into()));
    assert!(update(&mut app, Msg::Connected).contains(&Cmd::LoadSnapshot));
    update(&mut app, Msg::Snapshot(SnapshotPage::whole(vec![question(1), question(2)], None)));
    app.prepare();
    assert_eq!(app.queue.order.len(), 2);
    // Once an event has come, the stream knows where it was.
    let mut q = question(3);
    q.updated_at = NOW;
    update(
        &mut app,
        Msg::Event(Event {
            id: 12,
            at: NOW,
            kind: "question.new".into(),
            question_id: Some(q.id),
            actor: None,
            data: serde_json::json!({ "question": q }),
        }),
    );
    update(&mut app, Msg::Disconnected("killed".into()));
    assert!(!update(&mut app, Msg::Connected).contains(&Cmd::LoadSnapshot));
}

/// Issue 10, item 16: the most urgent page shows at once, the rest loads behind it, and the
/// cursor stays on its question while pages arrive.
#[test]
fn the_queue_is_usable_from_its_first_page() {
    let config = helphive::config::Config::builtin();
    let mut app = App::new(
        agent("dana", Role::Agent),
        NOW,
        vec![],
        config.client.templates,
        helphive::tui::keymap::KeyMap::defaults(),
        None,
    );
    app.shared.mono = true;
    assert_eq!(update(&mut app, Msg::Connected), vec![Cmd::LoadSnapshot]);
    let first: Vec<_> = (0..500).map(question).collect();
    update(
        &mut app,
        Msg::Snapshot(SnapshotPage { items: first, total: Some(1200), as_of: Some(40), first: true, done: false }),
    );
    let s = screen(&mut app);
    assert!(s.contains("500 questions · loading… 500 of 1,200"), "{s}");
    assert!(s.contains("I was charged twice"), "{s}");
    key(&mut app, KeyCode::Char('j'));
    let watched = app.selected_question().unwrap().id;
    for (i, range) in [(500..1000), (1000..1200)].into_iter().enumerate() {
        let items = range.map(question).collect();
        update(&mut app, Msg::Snapshot(SnapshotPage { items, total: None, as_of: None, first: false, done: i == 1 }));
        app.prepare();
        assert_eq!(app.selected_question().unwrap().id, watched, "the cursor stays on its question");
    }
    assert_eq!(app.position, Some(40));
    let merged = app.queue.order.clone();
    app.touch();
    app.prepare();
    assert_eq!(merged, app.queue.order, "pages merged in give the order a full sort gives");
    let s = screen(&mut app);
    assert!(s.contains("1200 questions ─"), "{s}");
    assert!(!s.contains("loading"), "{s}");
}

#[test]
fn keys_turn_into_backend_commands() {
    let mut app = app_with(5, agent("dana", Role::Agent));
    let first = app.queue.order[0];
    assert_eq!(key(&mut app, KeyCode::Char('c')), vec![Cmd::Claim(first)]);
    assert_eq!(key(&mut app, KeyCode::Char('n')), vec![Cmd::Next]);
    key(&mut app, KeyCode::Char('j'));
    let second = app.queue.order[1];
    let cmds = key(&mut app, KeyCode::Enter);
    assert_eq!(cmds, vec![Cmd::LoadDetail(second), Cmd::MarkViewing(second)]);
    assert_eq!(app.view, View::Conversation);
    assert_eq!(key(&mut app, KeyCode::Char('x')), vec![Cmd::Resolve(second)]);
    assert_eq!(key(&mut app, KeyCode::Char('u')), vec![Cmd::Release(second)]);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.view, View::Queue);
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
}

#[test]
fn replying_needs_the_claim_and_respects_the_channel_limit() {
    let mut app = app_with(12, agent("dana", Role::Agent));
    open(&mut app, 1); // nobody holds #1
    assert!(key(&mut app, KeyCode::Char('r')).is_empty());
    assert!(app.composer.editor.is_none());
    assert!(app.shared.flash.as_ref().unwrap().0.contains("claim #1 first (c)"));

    open(&mut app, 2); // #2: held by dana, on bluesky (300 graphemes)
    assert_eq!(app.conversation.detail.as_ref().unwrap().question.channel, "bluesky");
    key(&mut app, KeyCode::Char('r'));
    typed(&mut app, &"é".repeat(290));
    // 290 + newline + signature (20) is over 300: refused before sending.
    assert!(ctrl(&mut app, 's').is_empty());
    let (msg, _) = app.shared.flash.clone().unwrap();
    assert!(msg.starts_with("not sent: 311 of 300 for bluesky (11 over)"), "{msg}");
    // The server's connector knows better (an instance's own limit, the @mention in front):
    // the composer counts as it says.
    app.shared.channel_limits.insert(
        "bluesky".into(),
        (helphive::text::Limit { max: 320, counting: helphive::text::Counting::Graphemes }, true),
    );
    let (n, max) = app.reply_length(2, "bluesky", &"é".repeat(10)).unwrap();
    assert_eq!((n, max), (10 + "@ben_k ".chars().count(), 320));
    app.shared.channel_limits.clear();
    assert!(app.composer.editor.is_some(), "the text stays for editing");
    for _ in 0..20 {
        update(&mut app, Msg::Key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE)));
    }
    let cmds = ctrl(&mut app, 's');
    let Cmd::Reply(p) = &cmds[0] else { panic!("{cmds:?}") };
    assert_eq!(p.question_id, 2);
    assert!(p.body.ends_with("\n— Dana, billing team"));
    assert!(app.composer.editor.is_none());
}

#[test]
fn an_offline_reply_is_queued_and_sent_once_on_reconnect() {
    let mut app = app_with(12, agent("dana", Role::Agent));
    open(&mut app, 2);
    update(&mut app, Msg::Disconnected("connection refused".into()));
    assert!(key(&mut app, KeyCode::Char('c')).is_empty(), "claims need the server");
    assert!(app.shared.flash.as_ref().unwrap().0.starts_with("offline: cannot claim"));
    key(&mut app, KeyCode::Char('r'));
    typed(&mut app, "Refund done");
    assert!(ctrl(&mut app, 's').is_empty(), "nothing goes out while offline");
    assert_eq!(app.shared.pending.len(), 1);
    let key_used = app.shared.pending[0].key.clone();
    let cmds = update(&mut app, Msg::Connected);
    let replies: Vec<_> =
        cmds.iter().filter_map(|c| if let Cmd::Reply(p) = c { Some(p.clone()) } else { None }).collect();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].key, key_used, "same idempotency key: stored once");
    // The server acknowledges: nothing left to send on the next reconnect.
    let m = Message {
        id: 5,
        question_id: 2,
        kind: MessageKind::Reply,
        author: "dana".into(),
        body: replies[0].body.clone(),
        created_at: NOW,
        external_id: None,
        in_reply_to: None,
        status: Some(ReplyStatus::Approved),
        reviewed_by: None,
        review_note: None,
        idempotency_key: Some(key_used.clone()),
        posted_url: None,
        error: None,
    };
    update(&mut app, Msg::ReplyAcked { key: key_used, message: m });
    assert!(app.shared.pending.is_empty());
    update(&mut app, Msg::Disconnected("x".into()));
    assert!(!update(&mut app, Msg::Connected).iter().any(|c| matches!(c, Cmd::Reply(_))));
}

#[test]
fn drafts_are_saved_as_you_type_and_restored() {
    let dir = tempfile::tempdir().unwrap();
    let drafts = Drafts::new(dir.path(), "http://s", "dana").unwrap();
    let mut app = app_with(12, agent("dana", Role::Agent));
    app.shared.drafts = Some(drafts.clone());
    open(&mut app, 2);
    key(&mut app, KeyCode::Char('r'));
    typed(&mut app, "Half a thought");
    assert_eq!(drafts.load(2, "reply").as_deref(), Some("Half a thought"));
    key(&mut app, KeyCode::Esc);
    assert!(app.composer.editor.is_none());
    // A new session (after a crash, say) finds it.
    let mut again = app_with(12, agent("dana", Role::Agent));
    again.shared.drafts = Some(Drafts::new(dir.path(), "http://s", "dana").unwrap());
    open(&mut again, 2);
    key(&mut again, KeyCode::Char('r'));
    assert_eq!(again.composer.editor.as_ref().unwrap().text(), "Half a thought");
}

#[test]
fn templates_are_found_fuzzily_and_filled_in() {
    let mut app = app_with(12, agent("dana", Role::Agent));
    open(&mut app, 2);
    key(&mut app, KeyCode::Char('r'));
    ctrl(&mut app, 't');
    typed(&mut app, "rfnd");
    assert_eq!(app.composer.picker.as_ref().unwrap().matches()[0].0, "Refund on its way");
    key(&mut app, KeyCode::Enter);
    let text = app.composer.editor.as_ref().unwrap().text();
    assert!(text.starts_with("Hi Ben Kowalski, your refund has been issued"), "{text}");
}

#[test]
fn transfer_asks_where_and_sends_the_note_along() {
    let mut app = app_with(12, agent("dana", Role::Agent));
    open(&mut app, 2);
    key(&mut app, KeyCode::Char('t'));
    // #2 is a delivery question: the other functions are offered.
    typed(&mut app, "bill");
    key(&mut app, KeyCode::Enter);
    typed(&mut app, "Parcel 88-21 lost, refund after trace");
    let cmds = ctrl(&mut app, 's');
    assert_eq!(
        cmds,
        vec![Cmd::Transfer {
            question_id: 2,
            to: TransferTo::Function("billing".into()),
            note: Some("Parcel 88-21 lost, refund after trace".into())
        }]
    );
    key(&mut app, KeyCode::Char('t'));
    typed(&mut app, "@lee");
    key(&mut app, KeyCode::Enter);
    let cmds = ctrl(&mut app, 's');
    assert_eq!(cmds, vec![Cmd::Transfer { question_id: 2, to: TransferTo::Agent("lee".into()), note: None }]);
}

#[test]
fn an_agent_corrects_the_topic_from_the_conversation() {
    let mut app = app_with(12, agent("dana", Role::Agent));
    open(&mut app, 2);
    update(&mut app, Msg::Key(KeyEvent::new(KeyCode::Char('T'), KeyModifiers::SHIFT)));
    typed(&mut app, "bill");
    let cmds = key(&mut app, KeyCode::Enter);
    assert_eq!(cmds, vec![Cmd::Recategorize { question_id: 2, topic: "billing".into() }]);
}

#[test]
fn live_events_update_the_queue_and_show_who_is_looking() {
    let mut app = app_with(3, agent("dana", Role::Agent));
    let mut q = question(7);
    q.id = 100;
    q.updated_at = NOW;
    update(
        &mut app,
        Msg::Event(Event {
            id: 1,
            at: NOW,
            kind: "question.new".into(),
            question_id: Some(100),
            actor: None,
            data: serde_json::json!({ "question": q }),
        }),
    );
    app.prepare();
    assert!(app.queue.order.contains(&100));
    update(
        &mut app,
        Msg::Event(Event {
            id: 2,
            at: NOW,
            kind: "question.viewing".into(),
            question_id: Some(100),
            actor: Some("lee".into()),
            data: serde_json::json!({}),
        }),
    );
    let s = screen(&mut app);
    assert!(s.contains("viewing @lee"), "{s}");
    // An offer from the router is highlighted for its agent.
    update(
        &mut app,
        Msg::Event(Event {
            id: 3,
            at: NOW,
            kind: "question.offered".into(),
            question_id: Some(1),
            actor: None,
            data: serde_json::json!({ "question": question(0), "to": "dana", "expires_at": NOW + 30_000 }),
        }),
    );
    assert!(app.shared.flash.as_ref().unwrap().0.starts_with("#1 is offered to you"));
    let s = screen(&mut app);
    assert!(s.contains("→ offered you"), "{s}");
    update(&mut app, Msg::Tick(NOW + 31_000));
    assert!(app.queue.offers.is_empty(), "the offer lapsed");
    // An older copy does not overwrite a newer one.
    let mut stale = q.clone();
    stale.updated_at = NOW - 1000;
    stale.text = "stale".into();
    update(&mut app, Msg::Snapshot(SnapshotPage::whole(vec![stale], Some(3))));
    assert_ne!(app.shared.questions[&100].text, "stale");
}

#[test]
fn help_and_footer_come_from_the_keymap() {
    let mut overrides = std::collections::BTreeMap::new();
    overrides.insert("claim".to_string(), helphive::config::KeyList::One("C".into()));
    let mut app = app_with(3, agent("dana", Role::Agent));
    app.shared.keymap = helphive::tui::keymap::KeyMap::new(&overrides).unwrap();
    assert!(view::footer_text(&app).contains("C claim"));
    assert!(view::help_lines(&app).iter().any(|l| l.trim_start().starts_with("C ") && l.ends_with("claim")));
    assert_eq!(key(&mut app, KeyCode::Char('c')), vec![]);
    let first = app.queue.order[0];
    assert_eq!(
        update(&mut app, Msg::Key(KeyEvent::new(KeyCode::Char('C'), KeyModifiers::SHIFT))),
        vec![Cmd::Claim(first)]
    );
}

/// Text crafted to break a terminal: escape sequences (clear screen, set title, colours), C1
/// controls, bidi overrides, emoji with joiners, wide CJK, and line breaks.
const EVIL: &str =
    "\x1b[2J\x1b]0;owned\x07\u{9b}31m RED\u{202E}txet desrever\u{202C} 👨‍👩‍👧‍👦 日本語テキスト\r\nline2\ttab\x7f";

#[test]
fn hostile_text_never_reaches_the_terminal_as_control_sequences() {
    let mut app = app_with(0, agent("maya", Role::Mentor));
    let mut q = question(1);
    q.text = EVIL.into();
    q.customer.name = EVIL.into();
    q.customer.handle = EVIL.into();
    app.shared.questions.insert(q.id, q.clone());
    app.touch();
    let mut d = detail(q.clone());
    for m in &mut d.messages {
        m.body = EVIL.into();
        m.author = EVIL.into();
    }
    let reply = d.messages[2].clone();
    type Setup = Box<dyn Fn(&mut App)>;
    let mut views: Vec<(&str, Setup)> = Vec::new();
    views.push(("queue", Box::new(|_a: &mut App| {})));
    let dd = d.clone();
    views.push((
        "conversation",
        Box::new(move |a: &mut App| {
            a.view = View::Conversation;
            update(a, Msg::Detail(dd.clone()));
        }),
    ));
    let dd = d.clone();
    views.push((
        "composer",
        Box::new(move |a: &mut App| {
            a.view = View::Conversation;
            update(a, Msg::Detail(dd.clone()));
            let mut m = a.conversation.detail.as_ref().unwrap().question.clone();
            m.holder = Some("maya".into());
            update(a, Msg::Detail(helphive::model::QuestionDetail { question: m, ..dd.clone() }));
            key(a, KeyCode::Char('r'));
            ctrl(a, 't');
            key(a, KeyCode::Enter);
        }),
    ));
    let qq = q.clone();
    views.push((
        "approvals",
        Box::new(move |a: &mut App| {
            a.view = View::Approvals;
            update(a, Msg::Approvals(vec![(reply.clone(), qq.clone())]));
        }),
    ));
    views.push((
        "dashboard",
        Box::new(|a: &mut App| {
            a.view = View::Dashboard;
            let mut s = fixtures::stats();
            s.agents[0].handle = EVIL.into();
            update(a, Msg::Stats(s));
        }),
    ));
    views.push((
        "flash",
        Box::new(|a: &mut App| {
            update(a, Msg::Failed { what: EVIL.into(), error: EVIL.into() });
            update(a, Msg::Disconnected(EVIL.into()));
        }),
    ));
    for (name, setup) in views {
        let mut a = app_with(0, agent("maya", Role::Mentor));
        a.shared.questions.insert(q.id, q.clone());
        a.touch();
        setup(&mut a);
        let t = draw(&mut a, 100, 30);
        let buffer = t.backend().buffer();
        for cell in buffer.content() {
            let sym = cell.symbol();
            assert!(!sym.chars().any(|c| c.is_control()), "{name}: control character {sym:?} reached the screen");
            assert!(!sym.contains('\u{202E}') && !sym.contains('\u{202C}'), "{name}: bidi override reached the screen");
        }
        // Every row adds up to exactly the screen's width in cells: no symbol of zero or
        // unknown width that would shift what follows.
        for y in 0..buffer.area.height {
            let mut x = 0;
            let mut cells = 0;
            while x < buffer.area.width {
                let w = helphive::text::width(buffer[(x, y)].symbol()).max(1);
                cells += w;
                x += w as u16;
            }
            assert_eq!(cells, 100, "{name}: row {y} is {cells} cells wide");
        }
        let text = t.backend().to_string();
        assert!(text.contains('\u{241B}') || name == "dashboard", "{name}: the escape is shown as a visible symbol");
    }
}

fn screen_at(app: &mut App, w: u16, h: u16) -> String {
    update(app, Msg::Resize(w, h));
    draw(app, w, h).backend().to_string()
}

/// The rows of a rendered screen, without the quotes `TestBackend` puts around them.
fn rows(s: &str) -> Vec<String> {
    s.lines().map(|l| l.trim_matches('"').to_string()).collect()
}

// Issue 10, item 16: at 80×24 the question keeps most of the row; the other columns narrow or
// go, least needed first.
#[test]
fn queue_80x24() {
    let mut app = app_with(12, agent("dana", Role::Agent));
    let s = screen_at(&mut app, 80, 24);
    insta::assert_snapshot!(s);
    let r = rows(&s);
    assert!(r[2].contains("Wait") && r[2].contains("SLA") && r[2].contains("Customer") && r[2].contains("Question"));
    let q = r[2].find("Question").unwrap();
    assert!(80 - q >= 34, "the question has {} of 80 columns:\n{s}", 80 - q);
    assert!(s.contains("I was charged twice for order 4411"), "{s}");
}

// Issue 10, item 15: the footer at 140 columns ends in whole entries and `? more`.
#[test]
fn queue_140_wide() {
    let mut app = app_with(12, agent("dana", Role::Agent));
    let s = screen_at(&mut app, 140, 30);
    insta::assert_snapshot!(s);
    let footer = rows(&s).last().unwrap().trim_end().to_string();
    assert!(footer.ends_with("· ? more"), "{footer}");
    let full = view::footer_text(&app);
    for entry in footer.trim().trim_end_matches("· ? more").split(" · ").filter(|e| !e.trim().is_empty()) {
        assert!(full.split(" · ").any(|f| f == entry.trim()), "'{entry}' is not a whole entry of {full}");
    }
}

// Issue 10, item 16: a wide terminal shows the selected question's thread beside the queue.
#[test]
fn queue_200_wide_with_preview() {
    let mut app = app_with(12, agent("dana", Role::Agent));
    let cmds = update(&mut app, Msg::Resize(200, 40));
    let first = app.queue.order[0];
    assert_eq!(cmds, vec![Cmd::LoadPreview(first)]);
    let d = detail(app.shared.questions[&first].clone());
    update(&mut app, Msg::Preview(d));
    let s = screen_at(&mut app, 200, 40);
    insta::assert_snapshot!(s);
    assert!(s.contains("Preview"), "{s}");
    assert!(s.contains("internal note by @lee"), "the thread shows:\n{s}");
    // Moving the cursor asks for the next question's thread; a narrow terminal asks for none.
    let next = app.queue.order[1];
    assert_eq!(key(&mut app, KeyCode::Char('j')), vec![Cmd::LoadPreview(next)]);
    update(&mut app, Msg::Resize(120, 40));
    assert_eq!(key(&mut app, KeyCode::Char('j')), vec![]);
}

// Issue 10, item 16: dashboard tiles keep their figures at 80×24.
#[test]
fn dashboard_80x24() {
    let mut app = app_with(12, agent("lena", Role::Lead));
    app.view = View::Dashboard;
    update(&mut app, Msg::Stats(fixtures::stats()));
    let s = screen_at(&mut app, 80, 24);
    insta::assert_snapshot!(s);
    assert!(s.contains("(4 breaching)"), "{s}");
    assert!(s.contains("/ p90 22m"), "{s}");
    assert!(s.contains("@dana") && s.contains("@lee"), "the agents keep rows:\n{s}");
}

// Issue 10, item 15: the approvals header reads "Question" at 80 columns.
#[test]
fn approvals_80x24() {
    let mut app = app_with(12, agent("maya", Role::Mentor));
    app.view = View::Approvals;
    let q = question(4);
    let mut m = fixtures::detail(q.clone()).messages[2].clone();
    m.author = "nick".into();
    m.status = Some(ReplyStatus::AwaitingApproval);
    update(&mut app, Msg::Approvals(vec![(m, q)]));
    let s = screen_at(&mut app, 80, 24);
    insta::assert_snapshot!(s);
    assert!(rows(&s)[2].contains("Question "), "{s}");
}

// Issue 10, item 15: a 256-character handle does not push the message time off-screen, and an
// earlier question awaiting approval leaves room for its text.
#[test]
fn conversation_with_a_long_handle_140_wide() {
    let mut app = app_with(12, agent("dana", Role::Agent));
    let mut q = app.shared.questions[&2].clone();
    q.customer.handle = "h".repeat(256);
    app.shared.questions.insert(q.id, q.clone());
    app.view = View::Conversation;
    let mut d = detail(q);
    for m in d.messages.iter_mut().filter(|m| m.kind == MessageKind::Inbound) {
        m.author = "h".repeat(256);
    }
    d.earlier[0].state = helphive::model::QuestionState::AwaitingApproval;
    update(&mut app, Msg::Detail(d));
    let s = screen_at(&mut app, 140, 30);
    insta::assert_snapshot!(s);
    let head = rows(&s).into_iter().find(|r| r.contains("── customer @")).unwrap();
    assert!(head.contains(" ago"), "the time shows:\n{head}");
    let earlier = rows(&s).into_iter().find(|r| r.contains("#3 ")).unwrap();
    assert!(earlier.contains("#3 approval The soundbar"), "{earlier}");
}

// Issue 10, item 13: a long template wraps at the composer's width instead of scrolling its
// start off the left edge.
#[test]
fn composer_wraps_a_long_template_80x24() {
    let mut app = app_with(12, agent("dana", Role::Agent));
    open(&mut app, 2);
    key(&mut app, KeyCode::Char('r'));
    ctrl(&mut app, 't');
    typed(&mut app, "looking");
    key(&mut app, KeyCode::Enter);
    let text = app.composer.editor.as_ref().unwrap().text();
    assert!(!text.contains('\n') && text.len() > 100, "one long line: {text}");
    let s = screen_at(&mut app, 80, 24);
    insta::assert_snapshot!(s);
    assert!(s.contains("Hi Ben Kowalski, thanks for reaching out!"), "the start stays in view:\n{s}");
    assert!(s.contains("here shortly."), "and the end, on a line below:\n{s}");
}

// Issue 10, item 14: templates fill in the customer's name without its control characters,
// never with the on-screen form (␛) of them.
#[test]
fn templates_fill_the_name_without_control_characters() {
    let mut app = app_with(12, agent("dana", Role::Agent));
    let mut q = app.shared.questions[&2].clone();
    q.customer.name = "Ann \x1b[31mLee\x1b[0m\u{202E}".into();
    app.shared.questions.insert(q.id, q.clone());
    app.view = View::Conversation;
    update(&mut app, Msg::Detail(detail(q)));
    key(&mut app, KeyCode::Char('r'));
    ctrl(&mut app, 't');
    typed(&mut app, "rfnd");
    key(&mut app, KeyCode::Enter);
    let text = app.composer.editor.as_ref().unwrap().text();
    assert!(text.starts_with("Hi Ann Lee, your refund"), "{text}");
    assert!(!text.chars().any(|c| c.is_control() || c == '\u{241B}' || c == '\u{FFFD}'), "{text:?}");
}

// Issue 10, item 16: `n` opens what it claimed.
#[test]
fn next_best_opens_what_it_claimed() {
    let mut app = app_with(12, agent("dana", Role::Agent));
    assert_eq!(key(&mut app, KeyCode::Char('n')), vec![Cmd::Next]);
    let mut q = app.shared.questions[&5].clone();
    q.holder = Some("dana".into());
    q.updated_at = NOW;
    let cmds = update(&mut app, Msg::NextClaimed(Some(q)));
    assert_eq!(cmds, vec![Cmd::LoadDetail(5)]);
    assert_eq!(app.view, View::Conversation);
    assert_eq!(app.conversation.detail.as_ref().unwrap().question.id, 5);
    assert!(app.shared.flash.as_ref().unwrap().0.starts_with("#5 is yours"));
    // Nothing to take: stay where you are.
    app.view = View::Queue;
    assert_eq!(update(&mut app, Msg::NextClaimed(None)), vec![]);
    assert_eq!(app.view, View::Queue);
}

#[test]
fn hostile_text_in_the_preview_pane_is_neutralised() {
    let mut app = app_with(0, agent("dana", Role::Agent));
    let mut q = question(1);
    q.text = EVIL.into();
    q.customer.name = EVIL.into();
    q.customer.handle = EVIL.into();
    app.shared.questions.insert(q.id, q.clone());
    app.touch();
    assert_eq!(update(&mut app, Msg::Resize(200, 30)), vec![Cmd::LoadPreview(q.id)]);
    let mut d = detail(q);
    for m in &mut d.messages {
        m.body = EVIL.into();
        m.author = EVIL.into();
    }
    update(&mut app, Msg::Preview(d));
    let t = draw(&mut app, 200, 30);
    for cell in t.backend().buffer().content() {
        let sym = cell.symbol();
        assert!(!sym.chars().any(|c| c.is_control()), "control character {sym:?} reached the screen");
        assert!(!sym.contains('\u{202E}') && !sym.contains('\u{202C}'), "bidi override reached the screen");
    }
    assert!(t.backend().to_string().contains("Preview"));
}

// Issue 10, item 14 (the same rule for a mentor's edit): the edit starts from the reply as it
// would be posted, never from its on-screen form with visible symbols for control characters.
#[test]
fn a_mentor_edits_the_plain_reply_not_its_display_form() {
    let mut app = app_with(12, agent("maya", Role::Mentor));
    app.view = View::Approvals;
    let q = question(4);
    let m = Message {
        id: 9,
        question_id: q.id,
        kind: MessageKind::Reply,
        author: "nick".into(),
        body: "Hi Eli,\nthe store is \x1b[1mopen\x1b[0m on Sundays\u{7}".into(),
        created_at: NOW - 4 * 60_000,
        external_id: None,
        in_reply_to: None,
        status: Some(ReplyStatus::AwaitingApproval),
        reviewed_by: None,
        review_note: None,
        idempotency_key: None,
        posted_url: None,
        error: None,
    };
    update(&mut app, Msg::Approvals(vec![(m, q)]));
    key(&mut app, KeyCode::Char('e'));
    let text = app.composer.editor.as_ref().expect("the edit composer opens").text();
    assert_eq!(text, "Hi Eli,\nthe store is open on Sundays");
}

// DESIGN.md: the terminal talks to the server through `client` only; it imports neither `server`
// nor `store` (the statistics it draws are `model::Stats`).
#[test]
fn the_terminal_imports_neither_server_nor_store() {
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    sources(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tui"), &mut files);
    assert!(files.len() > 5, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for part in ["crate::store", "crate::server", "helphive::store", "helphive::server"] {
            assert!(!text.contains(part), "{} uses {part}", file.display());
        }
    }
}

// STYLE.md item 7: what is in front takes the key before the screen behind it and the keys that
// work everywhere: `q` typed into a picker, the editor or the search line is text, not "quit".
#[test]
fn the_popup_in_front_gets_the_key_first() {
    let mut app = app_with(12, agent("dana", Role::Agent));
    key(&mut app, KeyCode::Char('?'));
    assert!(app.help);
    key(&mut app, KeyCode::Char('q'));
    assert!(!app.help && !app.quit, "any key closes the help, and only that");

    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "q");
    assert_eq!(app.queue.search, "q");
    key(&mut app, KeyCode::Esc);
    assert!(!app.quit && app.queue.search.is_empty());

    open(&mut app, 2);
    key(&mut app, KeyCode::Char('t'));
    typed(&mut app, "q");
    assert_eq!(app.composer.picker.as_ref().unwrap().query, "q");
    key(&mut app, KeyCode::Esc);
    assert!(app.composer.picker.is_none());
    assert_eq!(app.view, View::Conversation, "esc closed the picker, not the conversation");

    key(&mut app, KeyCode::Char('r'));
    typed(&mut app, "q");
    assert_eq!(app.composer.editor.as_ref().unwrap().text(), "q");
    key(&mut app, KeyCode::Esc);
    assert!(app.composer.editor.is_none());
    assert_eq!(app.view, View::Conversation);
    assert!(!app.quit);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.view, View::Queue);
    assert!(app.conversation.detail.is_none());
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
}

// Issue 11, item 4: a question the topic model was unsure of says so, with its two best guesses,
// where an agent decides whether to correct the topic.
#[test]
fn an_unsure_question_shows_the_models_two_guesses() {
    let mut app = app_with(12, agent("dana", Role::Agent));
    let mut q = app.shared.questions[&2].clone();
    q.topic = "general".into();
    q.matched_rule = None;
    q.unsure = true;
    q.guesses = vec![("billing".into(), 0.46), ("delivery\u{1b}[31m".into(), 0.31)];
    app.shared.questions.insert(q.id, q.clone());
    app.view = View::Conversation;
    update(&mut app, Msg::Detail(detail(q)));
    let s = screen_at(&mut app, 140, 30);
    let line = rows(&s).into_iter().find(|r| r.contains("unsure:")).unwrap_or_else(|| panic!("{s}"));
    assert!(line.contains("unsure: billing 46% / delivery"), "{line}");
    assert!(!s.contains('\u{1b}'), "a guess is text from the network's side of the model: neutralised");
}
