//! The X connector and the outbox worker, against a fake X API v2.
//!
//! No real X peer can be had in a test (it needs paid API access and posts in public), so this
//! file runs a small fake server that answers in the documented v2 format: `GET /2/users/me`,
//! `GET /2/users/:id/mentions` (newest first, `since_id`, `pagination_token`, `meta.newest_id`,
//! `includes.users`), `GET /2/users/:id/tweets` and `POST /2/tweets` (`reply.in_reply_to_tweet_id`,
//! 201 `{"data": {"id", "text"}}`). Forced answers (429 with `x-rate-limit-reset`, 503, 401)
//! stand in for the network's failures. Times run on a manual clock: no sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{Options, new_agent, spawn_app_with};
use helphive::channels::{self, Channels, Connector, Outgoing, outbox};
use helphive::client::QueueQuery;
use helphive::clock::Clock;
use helphive::config::{ChannelConfig, Config};
use helphive::model::{QuestionState, ReplyStatus, Role};
use helphive::store::{Store, StoreOptions};
use serde_json::{Value, json};

const BRAND: &str = "1000";

/// A forced answer: status, headers, JSON body.
type Forced = (u16, Vec<(String, String)>, Value);

#[derive(Default)]
struct Fake {
    /// Every tweet: (id, author id, text, replied-to id).
    tweets: Vec<(u64, String, String, Option<String>)>,
    users: Vec<(String, String)>,
    next_id: u64,
    /// Answers given to the next POST /2/tweets instead of posting: (status, headers, body).
    forced: Vec<Forced>,
    post_requests: usize,
}

type Shared = Arc<Mutex<Fake>>;

impl Fake {
    fn add(&mut self, author: &str, text: &str, reply_to: Option<&str>) -> String {
        self.next_id += 1;
        let id = 5_000 + self.next_id;
        self.tweets.push((id, author.into(), text.into(), reply_to.map(str::to_string)));
        id.to_string()
    }

    fn json(&self, t: &(u64, String, String, Option<String>)) -> Value {
        let mut v = json!({ "id": t.0.to_string(), "author_id": t.1, "text": t.2, "conversation_id": t.0.to_string(),
            "created_at": "2026-11-23T10:00:00.000Z" });
        if let Some(r) = &t.3 {
            v["referenced_tweets"] = json!([{ "type": "replied_to", "id": r }]);
        }
        v
    }
}

async fn me() -> Json<Value> {
    Json(json!({ "data": { "id": BRAND, "name": "Help desk", "username": "helpdesk" } }))
}

/// Mentions of the brand, newest first, two to a page so paging is exercised.
async fn mentions(
    State(f): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Json<Value> {
    assert_eq!(id, BRAND);
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let since: u64 = get("since_id").and_then(|s| s.parse().ok()).unwrap_or(0);
    let before: u64 = get("pagination_token").and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
    let f = f.lock().unwrap();
    let mut all: Vec<_> = f.tweets.iter().filter(|t| t.1 != BRAND && t.0 > since).collect();
    all.sort_by_key(|t| std::cmp::Reverse(t.0));
    let newest = all.first().map(|t| t.0.to_string());
    let page: Vec<_> = all.iter().filter(|t| t.0 < before).take(2).collect();
    let more = all.iter().any(|t| page.last().is_some_and(|l| t.0 < l.0));
    if page.is_empty() {
        return Json(json!({ "meta": { "result_count": 0 } }));
    }
    let users: Vec<Value> =
        f.users.iter().map(|(id, name)| json!({ "id": id, "username": name, "name": name.to_uppercase() })).collect();
    let mut meta =
        json!({ "result_count": page.len(), "newest_id": newest, "oldest_id": page.last().map(|t| t.0.to_string()) });
    if more {
        meta["next_token"] = json!(page.last().map(|t| t.0.to_string()));
    }
    Json(
        json!({ "data": page.iter().map(|t| f.json(t)).collect::<Vec<_>>(), "includes": { "users": users }, "meta": meta }),
    )
}

async fn own_tweets(State(f): State<Shared>) -> Json<Value> {
    let f = f.lock().unwrap();
    let mine: Vec<Value> = f.tweets.iter().rev().filter(|t| t.1 == BRAND).map(|t| f.json(t)).collect();
    Json(json!({ "data": mine, "meta": { "result_count": mine.len() } }))
}

async fn create_tweet(State(f): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> impl IntoResponse {
    assert!(headers.get("authorization").is_some());
    let mut f = f.lock().unwrap();
    f.post_requests += 1;
    if !f.forced.is_empty() {
        let (status, hs, body) = f.forced.remove(0);
        let mut h = HeaderMap::new();
        for (k, v) in hs {
            h.insert(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        return (StatusCode::from_u16(status).unwrap(), h, Json(body)).into_response();
    }
    let text = body["text"].as_str().unwrap().to_string();
    let reply_to = body["reply"]["in_reply_to_tweet_id"].as_str().map(str::to_string);
    let id = f.add(BRAND, &text, reply_to.as_deref());
    (StatusCode::CREATED, Json(json!({ "data": { "id": id, "text": text } }))).into_response()
}

async fn fake_x() -> (String, Shared) {
    let shared: Shared = Arc::new(Mutex::new(Fake::default()));
    let app = Router::new()
        .route("/2/users/me", get(me))
        .route("/2/users/{id}/mentions", get(mentions))
        .route("/2/users/{id}/tweets", get(own_tweets))
        .route("/2/tweets", post(create_tweet))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), shared)
}

fn x_config(base: &str) -> ChannelConfig {
    toml::from_str(&format!("kind = \"x\"\nbase_url = \"{base}\"\naccount = \"helpdesk\"\ntoken_env = \"UNUSED\"\n"))
        .unwrap()
}

async fn connector(base: &str) -> Arc<dyn Connector> {
    let c: Arc<dyn Connector> = Arc::new(channels::x::X::new(&x_config(base), "test-token".into()));
    c.prepare(T0).await.unwrap();
    c
}

const T0: i64 = 1_800_000_000_000;

struct Setup {
    app: common::TestApp,
    fake: Shared,
    x: Arc<dyn Connector>,
    clock: helphive::clock::ManualClock,
}

async fn setup(config: Config) -> Setup {
    let (base, fake) = fake_x().await;
    let x = connector(&base).await;
    let channels = Channels { connectors: vec![(x.clone(), Duration::from_secs(60))] };
    let app =
        spawn_app_with(Options { config, manual_clock: Some(T0), channels: Some(channels), ..Default::default() })
            .await;
    let clock = app.clock.clone().unwrap();
    Setup { app, fake, x, clock }
}

impl Setup {
    fn mention(&self, user: &str, text: &str) -> String {
        let mut f = self.fake.lock().unwrap();
        let uid = format!("2{:03}", user.len() * 7 + user.bytes().map(|b| b as usize).sum::<usize>() % 100);
        if !f.users.iter().any(|(id, _)| *id == uid) {
            f.users.push((uid.clone(), user.into()));
        }
        f.add(&uid, text, None)
    }

    /// A question ingested and answered by a non-novice agent: its reply is in the outbox.
    async fn answered(&self, text: &str, reply: &str) -> (i64, String) {
        let tweet = self.mention("carol", text);
        channels::ingest_once(&self.app.state.desk(), self.x.as_ref()).await.unwrap();
        let q = self
            .app
            .store
            .queue(&helphive::store::QueueFilter { limit: 100, ..Default::default() })
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|q| q.external_id == tweet)
            .unwrap();
        let (_, dana) = self.app.agent(new_agent("dana", "delivery", Role::Agent, &[("delivery", 4)])).await;
        dana.claim(q.id).await.unwrap();
        dana.reply(q.id, reply, "k1").await.unwrap();
        (q.id, tweet)
    }

    fn brand_replies_to(&self, tweet: &str) -> Vec<String> {
        let f = self.fake.lock().unwrap();
        f.tweets.iter().filter(|t| t.1 == BRAND && t.3.as_deref() == Some(tweet)).map(|t| t.2.clone()).collect()
    }
}

#[tokio::test]
async fn x_mention_in_reply_out_threaded_under_it() {
    let s = setup(Config::builtin()).await;
    let (qid, tweet) = s.answered("@helpdesk where is my parcel? order 55", "It ships today, tracking follows.").await;
    let d = s.app.admin.question(qid).await.unwrap();
    assert_eq!(d.question.channel, "x");
    assert_eq!(d.question.customer.handle, "carol");
    assert_eq!(d.question.topic, "delivery");

    let r = outbox::drain_once(&s.app.state.desk(), s.clock.now()).await.unwrap();
    assert_eq!(r.posted, 1);
    assert_eq!(s.brand_replies_to(&tweet), vec!["It ships today, tracking follows.".to_string()]);
    let reply = s.app.admin.question(qid).await.unwrap().messages.into_iter().find(|m| m.status.is_some()).unwrap();
    assert_eq!(reply.status, Some(ReplyStatus::Posted));
    let posted_id = reply.external_id.clone().unwrap();
    assert_eq!(reply.posted_url.as_deref(), Some(format!("https://x.com/helpdesk/status/{posted_id}").as_str()));
    // Nothing left to do: a second pass posts nothing.
    assert_eq!(outbox::drain_once(&s.app.state.desk(), s.clock.now() + 3_600_000).await.unwrap().posted, 0);
    assert_eq!(s.fake.lock().unwrap().post_requests, 1);

    // The customer answers the brand's reply: it threads into the same question.
    let follow = {
        let mut f = s.fake.lock().unwrap();
        let carol = f.users[0].0.clone();
        f.add(&carol, "@helpdesk thanks, and the invoice?", Some(&posted_id))
    };
    channels::ingest_once(&s.app.state.desk(), s.x.as_ref()).await.unwrap();
    let d = s.app.admin.question(qid).await.unwrap();
    assert!(d.messages.iter().any(|m| m.external_id.as_deref() == Some(follow.as_str())), "follow-up threads in");
}

#[tokio::test]
async fn x_weighted_limit_refuses_before_sending_and_directory_shows_it() {
    let s = setup(Config::builtin()).await;
    // 141 CJK characters weigh 282: over X's 280 though only 141 characters long.
    let (qid, _) = s.answered("@helpdesk question", &"荷".repeat(141)).await;
    let r = outbox::drain_once(&s.app.state.desk(), s.clock.now()).await.unwrap();
    assert_eq!(r.failed, 1);
    assert_eq!(s.fake.lock().unwrap().post_requests, 0, "refused before any request");
    let reply = s.app.admin.question(qid).await.unwrap().messages.into_iter().find(|m| m.status.is_some()).unwrap();
    assert_eq!(reply.status, Some(ReplyStatus::Failed));
    assert!(reply.error.as_deref().unwrap().contains("282"), "{:?}", reply.error);

    let dir = s.app.admin.directory().await.unwrap();
    let x = dir.channels.iter().find(|c| c.name == "x").unwrap();
    assert_eq!(
        serde_json::to_value(x).unwrap(),
        json!({ "name": "x", "max": 280, "counting": "weighted", "mention_prefix": false })
    );
}

#[tokio::test]
async fn x_rate_limit_and_server_errors_are_retried_with_backoff_then_posted_once() {
    let mut config = Config::builtin();
    config.outbox.base_delay_seconds = 10;
    let s = setup(config).await;
    let (qid, tweet) = s.answered("@helpdesk parcel?", "On its way.").await;
    let t = s.clock.now();
    let reset_secs = t / 1000 + 60;
    s.fake.lock().unwrap().forced.push((
        429,
        vec![("x-rate-limit-reset".into(), reset_secs.to_string())],
        json!({ "title": "Too Many Requests" }),
    ));
    s.fake.lock().unwrap().forced.push((503, vec![], json!({ "title": "Service Unavailable" })));

    let r = outbox::drain_once(&s.app.state.desk(), t).await.unwrap();
    assert_eq!(r.retrying, 1, "{r:?}");
    // Not before the reset the network named.
    assert_eq!(outbox::drain_once(&s.app.state.desk(), t + 59_000).await.unwrap(), Default::default());
    let t2 = t + 62_000;
    assert_eq!(outbox::drain_once(&s.app.state.desk(), t2).await.unwrap().retrying, 1, "the 503");
    // The second failed attempt backs off 2 × 10 s, with jitter into the upper half of that:
    // due between 10 s and 20 s after.
    assert_eq!(outbox::drain_once(&s.app.state.desk(), t2 + 9_900).await.unwrap(), Default::default());
    assert_eq!(outbox::drain_once(&s.app.state.desk(), t2 + 20_001).await.unwrap().posted, 1);
    assert_eq!(s.brand_replies_to(&tweet).len(), 1, "posted exactly once");
    assert_eq!(s.fake.lock().unwrap().post_requests, 3);
    let reply = s.app.admin.question(qid).await.unwrap().messages.into_iter().find(|m| m.status.is_some()).unwrap();
    assert_eq!(reply.status, Some(ReplyStatus::Posted));
}

#[tokio::test]
async fn x_refusal_that_will_not_heal_shows_on_the_question() {
    let s = setup(Config::builtin()).await;
    let (qid, _) = s.answered("@helpdesk parcel?", "On its way.").await;
    let (_, last) = s.app.store.event_bounds().await.unwrap();
    s.fake.lock().unwrap().forced.push((401, vec![], json!({ "title": "Unauthorized", "detail": "Unauthorized" })));
    assert_eq!(outbox::drain_once(&s.app.state.desk(), s.clock.now()).await.unwrap().failed, 1);
    // Never retried.
    assert_eq!(outbox::drain_once(&s.app.state.desk(), s.clock.now() + 86_400_000).await.unwrap(), Default::default());
    assert_eq!(s.fake.lock().unwrap().post_requests, 1);
    let reply = s.app.admin.question(qid).await.unwrap().messages.into_iter().find(|m| m.status.is_some()).unwrap();
    assert_eq!(reply.status, Some(ReplyStatus::Failed));
    assert_eq!(reply.error.as_deref(), Some("HTTP 401: Unauthorized"));
    // The terminal learns it live: an event on the question, carrying the question.
    let events = s.app.store.events_since(last, 100).await.unwrap();
    let failed = events.iter().find(|e| e.kind == "reply.failed").expect("a reply.failed event");
    assert_eq!(failed.question_id, Some(qid));
    assert_eq!(failed.data["question"]["id"], json!(qid));
    assert_eq!(failed.data["error"], json!("HTTP 401: Unauthorized"));
}

#[tokio::test]
async fn x_reply_posted_before_a_crash_is_recorded_not_posted_again() {
    let s = setup(Config::builtin()).await;
    let (qid, tweet) = s.answered("@helpdesk parcel?", "On its way.").await;
    // What a worker killed between posting and recording leaves behind: the attempt marked in
    // the store, the tweet on X, nothing recorded.
    let now = s.clock.now();
    let item = s.app.store.outbox_due(&["x".to_string()], now, 10).await.unwrap().remove(0);
    s.app.store.outbox_begin(item.id, now).await.unwrap();
    let out = Outgoing {
        text: item.body.clone(),
        in_reply_to: item.reply_to.clone().unwrap(),
        visibility: None,
        idempotency_key: item.idempotency_key.clone(),
        created_at: item.created_at,
    };
    let first = s.x.post(&out, now).await.unwrap();

    // The restarted worker finds it on X (X has no idempotency keys) and records it.
    let r = outbox::drain_once(&s.app.state.desk(), now + 1000).await.unwrap();
    assert_eq!(r.posted, 1);
    assert_eq!(s.brand_replies_to(&tweet).len(), 1, "not posted twice");
    assert_eq!(s.fake.lock().unwrap().post_requests, 1);
    let reply = s.app.admin.question(qid).await.unwrap().messages.into_iter().find(|m| m.status.is_some()).unwrap();
    assert_eq!(reply.external_id, Some(first.id));
}

#[tokio::test]
async fn x_restart_mid_ingest_neither_loses_nor_duplicates() {
    let s = setup(Config::builtin()).await;
    let ids: Vec<String> =
        (0..5).map(|i| s.mention(&format!("user{i}"), &format!("@helpdesk question number {i}"))).collect();
    // A run that stored three of the five and was killed before saving the cursor.
    let page = s.x.fetch(None, s.clock.now()).await.unwrap();
    assert_eq!(page.items.len(), 2, "without a cursor only the newest page");
    let all = s.x.fetch(Some("0".into()), s.clock.now()).await.unwrap();
    assert_eq!(all.items.len(), 5, "with a cursor every page back to it, oldest first");
    assert_eq!(all.items[0].message.external_id, ids[0]);
    let class = s.app.state.intake.classify("x", "q");
    for item in all.items.into_iter().take(3) {
        s.app.store.ingest(item.message, &Default::default(), &class, 600_000, T0).await.unwrap();
    }
    s.app.store.set_channel_cursor("x", "0", T0).await.unwrap();

    // Restart: a new store on the same file, a new state.
    let db = s.app.dir.path().join("helphive.db").display().to_string();
    let store = Store::open(&StoreOptions {
        database: db,
        durability: helphive::config::Durability::Normal,
        events_retained: 1000,
    })
    .await
    .unwrap();
    let state = helphive::server::AppState::new(store.clone(), Config::builtin(), Arc::new(s.clock.clone()), None)
        .with_channels(Channels { connectors: vec![(s.x.clone(), Duration::from_secs(60))] });
    let r = channels::ingest_once(&state.desk(), s.x.as_ref()).await.unwrap();
    assert_eq!((r.created, r.duplicates), (2, 3));
    let external: Vec<String> = store
        .queue(&helphive::store::QueueFilter { limit: 100, ..Default::default() })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|q| q.external_id)
        .collect();
    assert_eq!(external.len(), 5);
    for id in &ids {
        assert_eq!(external.iter().filter(|e| *e == id).count(), 1, "{id} exactly once");
    }
    // The cursor is saved now: the next pass reads only what is new.
    let new = s.mention("late", "@helpdesk one more");
    let r = channels::ingest_once(&state.desk(), s.x.as_ref()).await.unwrap();
    assert_eq!((r.created, r.duplicates), (1, 0));
    assert_eq!(store.channel_cursor("x").await.unwrap(), Some(new));
}

#[tokio::test]
async fn spam_is_held_visible_under_the_held_filter_and_a_lead_lets_it_in() {
    let mut config = Config::builtin();
    config.spam.blocked_accounts = vec!["x:spammer".into()];
    config.spam.flood_max_posts = 2;
    let s = setup(config).await;
    // Read from the start, not just the newest page.
    s.app.store.set_channel_cursor("x", "0", T0).await.unwrap();
    s.mention("spammer", "@helpdesk buy followers now");
    s.mention("carol", "@helpdesk my invoice is wrong");
    s.mention("carol", "@helpdesk my invoice is wrong");
    for i in 0..3 {
        s.mention("dave", &format!("@helpdesk where is my parcel, day {i}"));
    }
    let r = channels::ingest_once(&s.app.state.desk(), s.x.as_ref()).await.unwrap();
    assert_eq!((r.created, r.held), (3, 3));

    let queue = s.app.admin.queue(&QueueQuery::default()).await.unwrap();
    assert_eq!(queue.total, 3, "held posts are not in the queue");
    let held = s.app.admin.queue(&QueueQuery { state: Some("held".into()), ..Default::default() }).await.unwrap();
    assert_eq!(held.total, 3);
    let mut reasons: Vec<String> = held.items.iter().map(|q| q.held_reason.clone().unwrap()).collect();
    reasons.sort();
    assert!(reasons[0].starts_with("blocked account spammer"), "{reasons:?}");
    assert!(reasons[1].starts_with("duplicate of message"), "{reasons:?}");
    assert!(reasons[2].starts_with("flood: 3 posts"), "{reasons:?}");
    let (_, lead_token) = s.app.admin.add_agent(&new_agent("lena", "billing", Role::Lead, &[])).await.unwrap();
    let (_, dana_token) = s.app.admin.add_agent(&new_agent("dana", "billing", Role::Agent, &[])).await.unwrap();
    let body: Value = s
        .app
        .http()
        .get(format!("{}/api/v1/queue?held=true", s.app.base))
        .bearer_auth(&lead_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["total"], json!(3));
    assert_eq!(s.app.admin.stats().await.unwrap().held, 3);

    let dup = held.items.iter().find(|q| q.customer.handle == "carol").unwrap();
    let dana = s.app.admin.with_token(&dana_token);
    let e = dana.claim(dup.id).await.unwrap_err();
    assert_eq!(e.code(), Some("held"));
    let unhold = |token: String| {
        let url = format!("{}/api/v1/questions/{}/unhold", s.app.base, dup.id);
        let http = s.app.http();
        async move { http.post(url).bearer_auth(token).send().await.unwrap().status() }
    };
    assert_eq!(unhold(dana_token.clone()).await, 403, "only leads let spam in");
    assert_eq!(unhold(lead_token.clone()).await, 200);
    let q = s.app.admin.question(dup.id).await.unwrap().question;
    assert_eq!(q.state, QuestionState::Open);
    assert_eq!(s.app.admin.queue(&QueueQuery::default()).await.unwrap().total, 4);
    dana.claim(dup.id).await.unwrap();
}

#[tokio::test]
async fn a_post_the_store_cannot_take_is_skipped_and_the_rest_of_the_page_goes_in() {
    let s = setup(Config::builtin()).await;
    s.app.store.set_channel_cursor("x", "0", T0).await.unwrap();
    let before = s.mention("carol", "@helpdesk is my order shipped?");
    s.mention("erin", "   ");
    let after = s.mention("frank", "@helpdesk the coupon does not work");
    let r = channels::ingest_once(&s.app.state.desk(), s.x.as_ref()).await.unwrap();
    assert_eq!((r.created, r.skipped), (2, 1));
    let queue = s.app.admin.queue(&QueueQuery::default()).await.unwrap();
    let mut ids: Vec<String> = queue.items.iter().map(|q| q.external_id.clone()).collect();
    ids.sort();
    assert_eq!(ids, [before, after]);
    // The cursor moved past it: the next pass does not stumble on it again.
    let r = channels::ingest_once(&s.app.state.desk(), s.x.as_ref()).await.unwrap();
    assert_eq!((r.created, r.skipped), (0, 0));
}
