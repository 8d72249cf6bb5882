//! Deterministic data for the terminal's snapshot tests and render benchmarks: a fixed clock,
//! fixed ids, made-up customers.

use crate::config::Config;
use crate::model::{
    Agent, AgentStatus, Customer, Message, MessageKind, Question, QuestionDetail, QuestionState, ReplyStatus, Role,
    Skill,
};
use crate::model::{AgentStats, FunctionStats, Percentiles, Stats};

use super::app::App;
use super::screens::keymap::KeyMap;

/// 2026-11-23 10:00:00 UTC.
pub const NOW: i64 = 1_795_428_000_000;
const MIN: i64 = 60_000;

pub fn agent(handle: &str, role: Role) -> Agent {
    Agent {
        id: 1,
        handle: handle.into(),
        display_name: "Dana Kim".into(),
        function: "billing".into(),
        role,
        novice: false,
        mentor: None,
        capacity: 3,
        status: AgentStatus::Online,
        signature: "— Dana, billing team".into(),
        skills: vec![Skill { topic: "billing".into(), proficiency: 4 }],
        disabled: false,
        created_at: NOW - 86_400_000,
    }
}

const CUSTOMERS: [(&str, &str); 6] = [
    ("ann.lee@mastodon.example", "Ann Lee"),
    ("ben_k", "Ben Kowalski"),
    ("chen.wei.bsky.example", "陈伟"),
    ("dora", "Dora 🌻"),
    ("eli", "Eli Navarro"),
    ("fay@forum", "Fay"),
];
const TEXTS: [(&str, &str, &str); 6] = [
    ("billing", "billing", "I was charged twice for order 4411, can I get a refund?"),
    ("delivery", "delivery", "My parcel says delivered but nothing is here. Tracking 88-21."),
    ("setup", "tech_support", "The soundbar won't pair with my TV over bluetooth 🙁"),
    ("product_advice", "product", "Which laptop is better for photo editing, the Aero 14 or the Slate 15?"),
    ("in_store", "store", "Is the Riverside store open on Sunday? Want to pick up an order."),
    ("promotions", "marketing", "Does the winter sale coupon work on headphones?"),
];
const CHANNELS: [&str; 4] = ["mastodon", "bluesky", "x", "webhook"];

/// Question `i` of a deterministic queue: mixed channels, topics, ages and holders.
pub fn question(i: i64) -> Question {
    let (topic, function, text) = TEXTS[(i % 6) as usize];
    let (handle, name) = CUSTOMERS[(i % 6) as usize];
    let waited = (i * 7) % 50 * MIN;
    let received = NOW - waited - 30_000;
    let sla = if topic == "billing" || topic == "delivery" { 20 * MIN } else { 30 * MIN };
    let holder = match i % 5 {
        1 => Some("dana".to_string()),
        3 => Some("lee".to_string()),
        _ => None,
    };
    Question {
        id: i + 1,
        channel: CHANNELS[(i % 4) as usize].into(),
        external_id: format!("ext-{i}"),
        conversation_id: None,
        customer: Customer { handle: handle.into(), name: name.into() },
        text: text.into(),
        received_at: received,
        topic: topic.into(),
        function: function.into(),
        confidence: 0.75,
        matched_rule: Some(topic.replace('_', " ")),
        unsure: false,
        guesses: Vec::new(),
        priority: 0,
        sla_due_at: received + sla,
        state: if holder.is_some() { QuestionState::Claimed } else { QuestionState::Open },
        lease_until: holder.as_ref().map(|_| NOW + 7 * MIN),
        claimed_at: holder.as_ref().map(|_| NOW - 3 * MIN),
        holder,
        answered_by: None,
        awaiting_since: Some(received),
        first_response_at: None,
        resolved_at: None,
        updated_at: received,
        inbound_count: 1,
        last_inbound_at: received,
        held_reason: None,
    }
}

/// An app for `me` holding `n` questions, sorted and ready to draw.
pub fn app_with(n: i64, me: Agent) -> App {
    let config = Config::builtin();
    let functions = config.functions.iter().map(|f| f.name.clone()).collect();
    let mut app = App::new(me, NOW, functions, config.client.templates.clone(), KeyMap::defaults(), None);
    app.queue.loaded = true;
    app.queue.complete = true;
    app.position = Some(0);
    app.shared.topics = config.topics.iter().map(|t| t.name.clone()).collect();
    for i in 0..n {
        let q = question(i);
        app.shared.questions.insert(q.id, q);
    }
    app.shared.mono = true;
    app.touch();
    app.prepare();
    app
}

pub fn detail(q: Question) -> QuestionDetail {
    let id = q.id;
    let msg = |mid: i64, kind: MessageKind, author: &str, body: &str, at: i64, status: Option<ReplyStatus>| Message {
        id: mid,
        question_id: id,
        kind,
        author: author.into(),
        body: body.into(),
        created_at: at,
        external_id: None,
        in_reply_to: None,
        status,
        reviewed_by: None,
        review_note: None,
        idempotency_key: None,
        posted_url: None,
        error: None,
    };
    let messages = vec![
        msg(1, MessageKind::Inbound, &q.customer.handle, &q.text, q.received_at, None),
        msg(
            2,
            MessageKind::Note,
            "lee",
            "Same customer asked about this order last week, see #3.",
            NOW - 2 * MIN,
            None,
        ),
        msg(
            3,
            MessageKind::Reply,
            "dana",
            "Hi! Sorry about that — I've asked billing to reverse the second charge.\n— Dana",
            NOW - MIN,
            Some(ReplyStatus::Approved),
        ),
    ];
    let mut earlier = question(2);
    earlier.id = 3;
    earlier.state = QuestionState::Resolved;
    QuestionDetail { question: q, messages, earlier: vec![earlier] }
}

pub fn stats() -> Stats {
    let functions = ["billing", "delivery", "marketing", "product", "store", "tech_support"];
    Stats {
        at: NOW,
        day_start: NOW - 10 * 60 * MIN,
        open: 42,
        unclaimed: 17,
        claimed: 22,
        awaiting_approval: 3,
        breaching: 4,
        held: 0,
        oldest_waiting_ms: Some(48 * MIN),
        first_response_last_hour: Percentiles { count: 31, median_ms: Some(6 * MIN), p90_ms: Some(19 * MIN) },
        first_response_today: Percentiles { count: 240, median_ms: Some(7 * MIN), p90_ms: Some(22 * MIN) },
        sla_met_today: 212,
        sla_missed_today: 28,
        sla_attainment_pct_today: Some(88.3),
        answered_last_hour: 35,
        answered_today: 251,
        topic_corrections_today: 2,
        arrivals_5min: (0..24).map(|i| (i * 7 % 11) + 2).collect(),
        answers_5min: (0..24).map(|i| (i * 5 % 9) + 1).collect(),
        functions: functions
            .iter()
            .enumerate()
            .map(|(i, f)| FunctionStats {
                function: f.to_string(),
                open: 10 - i as i64,
                unclaimed: 4 - (i as i64 % 4),
                claimed: 5,
                awaiting_approval: (i % 2) as i64,
                breaching: if i == 1 { 3 } else { 0 },
                oldest_waiting_ms: Some((20 + i as i64 * 5) * MIN),
                agents_online: 3 + i as i64,
                agents_away: 1,
            })
            .collect(),
        agents: ["dana", "lee", "maya", "nick"]
            .iter()
            .enumerate()
            .map(|(i, h)| AgentStats {
                handle: h.to_string(),
                display_name: h.to_uppercase(),
                function: functions[i].to_string(),
                status: if i == 3 { "away".into() } else { "online".into() },
                holding: i as i64,
                capacity: 3,
                occupancy: i as f64 / 3.0,
                answered_today: 12 - i as i64 * 3,
            })
            .collect(),
    }
}
