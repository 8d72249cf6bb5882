//! The router wired into the server: offers to the best agent and on to the next when one lapses,
//! pulls with `next`, breach events, and topic corrections. Routing passes are run by hand with a
//! manual clock, so nothing depends on timing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::{Options, new_agent, spawn_app_with};
use helphive::model::{AgentStatus, Event, Role};

const T0: i64 = 1_800_000_000_000;

async fn offers(app: &common::TestApp) -> Vec<Event> {
    app.store.events_since(0, 10_000).await.unwrap().into_iter().filter(|e| e.kind == "question.offered").collect()
}

#[tokio::test]
async fn a_question_is_offered_to_the_best_online_agent_then_the_next() {
    let app = spawn_app_with(Options { manual_clock: Some(T0), ..Default::default() }).await;
    let clock = app.clock.clone().unwrap();
    let (_, expert) = app.agent(new_agent("expert", "billing", Role::Agent, &[("billing", 5)])).await;
    let (_, second) = app.agent(new_agent("second", "billing", Role::Agent, &[("billing", 3)])).await;
    let (_, offline) = app.agent(new_agent("sleepy", "billing", Role::Agent, &[("billing", 5)])).await;
    let (_, other) = app.agent(new_agent("porter", "delivery", Role::Agent, &[("delivery", 5)])).await;
    for c in [&expert, &second, &other] {
        c.set_status(AgentStatus::Online).await.unwrap();
    }
    offline.set_status(AgentStatus::Offline).await.unwrap();
    let qid = app.ask("r1", "I was charged twice, refund please").await;

    app.state.hive.route(&app.state).await.unwrap();
    let o = offers(&app).await;
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].question_id, Some(qid));
    assert_eq!(o[0].data["to"], "expert");
    assert_eq!(o[0].data["tier"], "primary");
    assert_eq!(o[0].data["expires_at"], T0 + 30_000);

    // Still within the offer: nothing new. After 30 s unclaimed: the next best, never the offline one.
    clock.advance(10_000);
    app.state.hive.route(&app.state).await.unwrap();
    assert_eq!(offers(&app).await.len(), 1);
    clock.advance(21_000);
    app.state.hive.route(&app.state).await.unwrap();
    let o = offers(&app).await;
    assert_eq!(o.len(), 2);
    assert_eq!(o[1].data["to"], "second");

    // The shared queue stays open to all: the expert can still claim it, and then no more offers.
    expert.claim(qid).await.unwrap();
    clock.advance(31_000);
    app.state.hive.route(&app.state).await.unwrap();
    assert_eq!(offers(&app).await.len(), 2);
}

#[tokio::test]
async fn next_gives_my_customers_follow_up_first_then_the_most_urgent() {
    let app = spawn_app_with(Options { manual_clock: Some(T0), ..Default::default() }).await;
    let clock = app.clock.clone().unwrap();
    let (_, dana) = app.agent(new_agent("dana", "billing", Role::Agent, &[("billing", 4)])).await;
    dana.set_status(AgentStatus::Online).await.unwrap();
    let first = app.ask("a1", "refund please").await;
    let got = dana.next().await.unwrap().unwrap();
    assert_eq!(got.id, first);
    dana.reply(first, "Done", "k1").await.unwrap();
    dana.resolve(first).await.unwrap();
    let learned = app.store.training_examples().await.unwrap();
    let confirmed: Vec<_> = learned.iter().map(|e| (e.text.as_str(), e.topic.as_str())).collect();
    assert_eq!(confirmed, [("refund please", "billing")], "a resolved question confirms its topic");
    // dana goes offline: the follow-up goes to the queue, not to her.
    dana.set_status(AgentStatus::Offline).await.unwrap();
    clock.advance(60_000);
    let other = app.ask("b1", "another refund").await;
    clock.advance(60_000);
    let mut follow = common::question("a1-2", "cust-a1", "still charged twice?");
    follow.in_reply_to = Some("a1".into());
    let out = app.admin.inbound(&follow).await.unwrap();
    assert_eq!(out.outcome, "reopened");
    assert_eq!(out.question.holder, None);
    // Back, she pulls: her customer's follow-up comes before the older question.
    dana.set_status(AgentStatus::Online).await.unwrap();
    assert_eq!(dana.next().await.unwrap().unwrap().id, first);
    assert_eq!(dana.next().await.unwrap().unwrap().id, other);
    assert!(dana.next().await.unwrap().is_none());
}

#[tokio::test]
async fn a_breach_is_announced_once_for_the_shift_lead() {
    let app = spawn_app_with(Options { manual_clock: Some(T0), ..Default::default() }).await;
    let clock = app.clock.clone().unwrap();
    let qid = app.ask("s1", "refund").await; // billing: 20 minutes
    app.state.hive.route(&app.state).await.unwrap();
    clock.advance(21 * 60_000);
    app.state.hive.route(&app.state).await.unwrap();
    app.state.hive.route(&app.state).await.unwrap();
    let breaches: Vec<_> =
        app.store.events_since(0, 1000).await.unwrap().into_iter().filter(|e| e.kind == "question.breached").collect();
    assert_eq!(breaches.len(), 1);
    assert_eq!(breaches[0].question_id, Some(qid));
}

#[tokio::test]
async fn an_agent_corrects_the_topic_and_it_counts() {
    let app = spawn_app_with(Options { manual_clock: Some(T0), ..Default::default() }).await;
    let (_, dana) = app.agent(new_agent("dana", "billing", Role::Agent, &[("billing", 4)])).await;
    let qid = app.ask("c1", "hello there").await;
    let q = app.admin.question(qid).await.unwrap().question;
    assert_eq!((q.topic.as_str(), q.matched_rule.as_deref()), ("general", None));
    assert!(q.unsure, "the model is unsure of a greeting");
    assert_eq!(q.guesses.len(), 2, "its two best guesses are kept");
    let r = app
        .http()
        .post(format!("{}/api/v1/questions/{qid}/topic", app.base))
        .bearer_auth(app.store.issue_token("dana", false, T0).await.unwrap())
        .json(&serde_json::json!({ "topic": "delivery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let q: helphive::model::Question = r.json().await.unwrap();
    assert_eq!((q.topic.as_str(), q.function.as_str()), ("delivery", "delivery"));
    assert_eq!(q.sla_due_at, T0 + 20 * 60_000, "deadline from the corrected topic's target");
    assert_eq!(q.matched_rule.as_deref(), Some("corrected by @dana"));
    assert!(!q.unsure, "a correction settles it");
    let learned = app.store.training_examples().await.unwrap();
    assert_eq!(learned.len(), 1, "the correction is kept for the topic model");
    assert_eq!((learned[0].text.as_str(), learned[0].topic.as_str()), ("hello there", "delivery"));
    let e = app
        .store
        .events_since(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "question.recategorized")
        .unwrap();
    assert_eq!((e.data["from_topic"].as_str(), e.data["to_topic"].as_str()), (Some("general"), Some("delivery")));
    assert_eq!(dana.stats().await.unwrap().topic_corrections_today, 1);
    let r = app
        .http()
        .post(format!("{}/api/v1/questions/{qid}/topic", app.base))
        .bearer_auth(app.store.issue_token("dana", false, T0).await.unwrap())
        .json(&serde_json::json!({ "topic": "astrology" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_retrained_model_reaches_the_webhook_endpoint_and_the_connectors() {
    let app = spawn_app_with(Options { manual_clock: Some(T0), ..Default::default() }).await;
    // Taken before the model changes, as the running connectors hold theirs.
    let desk = app.state.desk();
    let text = "zorbix zorbix";
    assert_ne!(desk.intake.classify("mastodon", text).topic, "delivery");
    let extra: Vec<helphive::routing::classifier::Example> = (0..25)
        .map(|i| helphive::routing::classifier::Example {
            text: format!("zorbix {i} zorbix"),
            topic: "delivery".into(),
        })
        .collect();
    // What the retraining job does with the stored labelled questions.
    app.state.intake.model().set(helphive::routing::model_with(&extra));
    assert_eq!(desk.intake.classify("mastodon", text).topic, "delivery");
    let stored = app.admin.inbound(&common::question("z1", "cust-z1", text)).await.unwrap();
    assert_eq!(stored.question.topic, "delivery");
}
