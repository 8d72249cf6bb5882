//! The Mastodon connector and the outbox worker against mastodon-mock (PyPI), a stateful
//! Mastodon API server: a real HTTP peer with accounts, statuses, threads, notifications, the
//! streaming API and fault injection. `scripts/test` installs it and sets HELPHIVE_MASTODON_MOCK;
//! each test starts its own on a free loopback port and kills it when done.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::mastodon::Mock;
use common::{Options, new_agent, spawn_app_with};
use helphive::channels::{self, Channels, Connector, Outgoing, outbox};
use helphive::clock::Clock;
use helphive::model::{ReplyStatus, Role};
use helphive::store::QueueFilter;
use serde_json::json;

fn connector(mock: &Mock, token: &str, stream: bool) -> Arc<dyn Connector> {
    Arc::new(channels::mastodon::Mastodon::new(&mock.channel_config(), token.to_string(), stream))
}

struct Setup {
    mock: Mock,
    app: common::TestApp,
    masto: Arc<dyn Connector>,
    brand_id: String,
    alice: String,
    dana: helphive::client::Client,
}

async fn setup(stream: bool) -> Setup {
    let mock = Mock::start().await;
    let (brand_id, brand) = mock.account("helpdesk").await;
    let (_, alice) = mock.account("alice").await;
    let masto = connector(&mock, &brand, stream);
    masto.prepare(helphive::clock::now_ms()).await.unwrap();
    let channels = Channels { connectors: vec![(masto.clone(), Duration::from_secs(3600))] };
    let app = spawn_app_with(Options {
        manual_clock: Some(helphive::clock::now_ms()),
        channels: Some(channels),
        ..Default::default()
    })
    .await;
    let (_, dana) = app.agent(new_agent("dana", "delivery", Role::Agent, &[("delivery", 4)])).await;
    Setup { mock, app, masto, brand_id, alice, dana }
}

impl Setup {
    fn now(&self) -> i64 {
        self.app.clock.as_ref().unwrap().now()
    }

    async fn question_for(&self, status: &str) -> helphive::model::Question {
        self.app
            .store
            .queue(&QueueFilter { limit: 100, ..Default::default() })
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|q| q.external_id == status)
            .unwrap_or_else(|| panic!("no question for status {status}"))
    }

    /// Claims the question for `status` and replies: the reply goes to the outbox.
    async fn reply(&self, status: &str, body: &str, key: &str) -> i64 {
        let q = self.question_for(status).await;
        self.dana.claim(q.id).await.unwrap();
        self.dana.reply(q.id, body, key).await.unwrap();
        q.id
    }

    async fn reply_message(&self, qid: i64) -> helphive::model::Message {
        self.app.admin.question(qid).await.unwrap().messages.into_iter().find(|m| m.status.is_some()).unwrap()
    }
}

#[tokio::test]
async fn mastodon_mention_in_reply_threaded_under_it_after_waiting_out_a_429() {
    let s = setup(false).await;
    let status =
        s.mock.post_status(&s.alice, "@helpdesk my order 123 is late & lost, where is my parcel?", "unlisted").await;
    let r = channels::ingest_once(&s.app.state.desk(), s.masto.as_ref()).await.unwrap();
    assert_eq!(r.created, 1);
    let q = s.question_for(&status).await;
    assert_eq!(q.channel, "mastodon");
    assert_eq!(q.customer.handle, "alice");
    assert_eq!(q.text, "@helpdesk my order 123 is late & lost, where is my parcel?", "HTML turned into plain text");
    assert_eq!(q.topic, "delivery");

    let qid = s.reply(&status, "Sorry about that! It ships today; tracking follows.", "r1").await;
    // The next post is refused with 429 (Retry-After 300 s, X-RateLimit-Reset 300 s ahead).
    s.mock.fault(json!({ "match": { "methods": ["POST"], "path": "/api/v1/statuses" }, "effect": { "type": "ratelimit" }, "count": 1 })).await;
    let t = s.now();
    let r = outbox::drain_once(&s.app.state.desk(), t).await.unwrap();
    assert_eq!(r.retrying, 1, "{r:?}");
    assert!(s.mock.replies(&s.alice, &status).await.is_empty());
    assert_eq!(s.reply_message(qid).await.status, Some(ReplyStatus::Approved));
    // Waited out: nothing is sent before the reset…
    assert_eq!(outbox::drain_once(&s.app.state.desk(), t + 240_000).await.unwrap(), Default::default());
    // …and once after it.
    let r = outbox::drain_once(&s.app.state.desk(), t + 330_000).await.unwrap();
    assert_eq!(r.posted, 1, "{r:?}");
    assert_eq!(outbox::drain_once(&s.app.state.desk(), t + 900_000).await.unwrap(), Default::default());

    let replies = s.mock.replies(&s.alice, &status).await;
    assert_eq!(replies.len(), 1, "posted exactly once: {replies:?}");
    let posted = &replies[0];
    assert_eq!(posted["account"]["id"], json!(s.brand_id));
    assert_eq!(posted["visibility"], json!("unlisted"), "visibility mirrors the customer's post");
    let text = channels::html::to_text(posted["content"].as_str().unwrap());
    assert_eq!(text, "@alice Sorry about that! It ships today; tracking follows.");
    let m = s.reply_message(qid).await;
    assert_eq!(m.status, Some(ReplyStatus::Posted));
    assert_eq!(m.external_id.as_deref(), posted["id"].as_str());
    assert_eq!(m.posted_url.as_deref(), posted["url"].as_str());

    // The instance's limit reaches the composer through the directory.
    let dir = s.app.admin.directory().await.unwrap();
    let limit = dir.channels.iter().find(|c| c.name == "mastodon").unwrap();
    assert_eq!(
        serde_json::to_value(limit).unwrap(),
        json!({ "name": "mastodon", "max": 500, "counting": "characters", "mention_prefix": true })
    );
}

#[tokio::test]
async fn mastodon_too_long_reply_is_refused_before_sending_and_an_interrupted_post_is_not_repeated() {
    let s = setup(false).await;
    let first = s.mock.post_status(&s.alice, "@helpdesk is the store open on sunday?", "public").await;
    let second = s.mock.post_status(&s.alice, "@helpdesk and can I pick up my order there?", "private").await;
    assert_eq!(channels::ingest_once(&s.app.state.desk(), s.masto.as_ref()).await.unwrap().created, 2);

    // 501 characters: refused here, before any request.
    let long = s.reply(&first, &"a".repeat(501), "long").await;
    let r = outbox::drain_once(&s.app.state.desk(), s.now()).await.unwrap();
    assert_eq!(r.failed, 1);
    assert_eq!(s.mock.statuses_of(&s.brand_id).await, 0, "nothing reached the network");
    let m = s.reply_message(long).await;
    assert_eq!(m.status, Some(ReplyStatus::Failed));
    assert!(m.error.as_deref().unwrap().starts_with("too long for mastodon: 508 characters"), "{:?}", m.error);

    // A worker killed between posting and recording: marked, posted, never recorded.
    let qid = s.reply(&second, "Yes, pick-up is at the counter.", "pick").await;
    let now = s.now();
    let item = s.app.store.outbox_due(&["mastodon".into()], now, 10).await.unwrap().remove(0);
    assert_eq!(item.visibility.as_deref(), Some("private"));
    s.app.store.outbox_begin(item.id, now).await.unwrap();
    let out = Outgoing {
        text: s.masto.compose(&item.body, &item.customer_handle),
        in_reply_to: item.reply_to.clone().unwrap(),
        visibility: item.visibility.clone(),
        idempotency_key: item.idempotency_key.clone(),
        created_at: item.created_at,
    };
    let sent = s.masto.post(&out, now).await.unwrap();
    let r = outbox::drain_once(&s.app.state.desk(), now + 1000).await.unwrap();
    assert_eq!(r.posted, 1);
    let replies = s.mock.replies(&s.alice, &second).await;
    assert_eq!(replies.len(), 1, "posted once: {replies:?}");
    assert_eq!(replies[0]["visibility"], json!("private"));
    assert_eq!(s.reply_message(qid).await.external_id, Some(sent.id));
}

#[tokio::test]
async fn mastodon_restart_mid_ingest_neither_loses_nor_duplicates() {
    let s = setup(false).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(s.mock.post_status(&s.alice, &format!("@helpdesk question {i} about my invoice"), "public").await);
    }
    // The state a crash leaves: two of the three stored, the cursor not yet saved.
    let page = s.masto.fetch(None, s.now()).await.unwrap();
    assert_eq!(page.items.iter().map(|i| i.message.external_id.clone()).collect::<Vec<_>>(), ids, "oldest first");
    let class = s.app.state.intake.classify("mastodon", "invoice");
    for item in page.items.into_iter().take(2) {
        s.app.store.ingest(item.message, &Default::default(), &class, 600_000, s.now()).await.unwrap();
    }
    assert_eq!(s.app.store.channel_cursor("mastodon").await.unwrap(), None);

    let r = channels::ingest_once(&s.app.state.desk(), s.masto.as_ref()).await.unwrap();
    assert_eq!((r.created, r.duplicates), (1, 2));
    for id in &ids {
        s.question_for(id).await;
    }
    assert_eq!(s.app.store.queue(&QueueFilter { limit: 100, ..Default::default() }).await.unwrap().total, 3);

    // From the saved cursor (min_id) only what is new is read.
    let later = s.mock.post_status(&s.alice, "@helpdesk one more thing about delivery", "public").await;
    let r = channels::ingest_once(&s.app.state.desk(), s.masto.as_ref()).await.unwrap();
    assert_eq!((r.created, r.duplicates), (1, 0));
    s.question_for(&later).await;
}

#[tokio::test]
async fn mastodon_streaming_api_brings_a_mention_at_once() {
    let s = setup(true).await;
    // Polls once an hour: only the stream can bring the mention within the test's bound.
    let running = channels::spawn(s.app.state.desk());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = s.mock.post_status(&s.alice, "@helpdesk my wifi setup fails", "public").await;
    let mut found = None;
    for _ in 0..100 {
        let page = s.app.store.queue(&QueueFilter { limit: 100, ..Default::default() }).await.unwrap();
        found = page.items.into_iter().find(|q| q.external_id == status);
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    running.abort();
    let q = found.expect("the mention arrived through the streaming API within 10 s");
    assert_eq!(q.topic, "setup");
}
