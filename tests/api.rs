//! The HTTP API against the real server (in-process, on 127.0.0.1) with a real SQLite file,
//! driven by the real client.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::time::Duration;

use common::{SECRET, new_agent, question, spawn_app, spawn_app_with};
use helphive::client::StreamItem;
use helphive::model::{AgentStatus, QuestionState, ReplyStatus, Role};
use helphive::server::openapi::OPERATIONS;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_racing_claims_have_exactly_one_winner() {
    let app = spawn_app().await;
    let qid = app.ask("race", "I need a refund").await;
    let mut clients = Vec::new();
    for i in 0..200 {
        let (_, c) = app.agent(new_agent(&format!("racer{i}"), "billing", Role::Agent, &[("billing", 3)])).await;
        clients.push((format!("racer{i}"), c));
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(clients.len()));
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|(handle, c)| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                (handle, c.claim(qid).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for t in tasks {
        let (handle, r) = t.await.unwrap();
        match r {
            Ok(q) => winners.push((handle, q)),
            Err(e) => losers.push(e),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one claim wins");
    let (winner, q) = &winners[0];
    assert_eq!(q.holder.as_deref(), Some(winner.as_str()));
    assert_eq!(losers.len(), 199);
    for e in &losers {
        assert_eq!(e.status(), Some(409), "{e}");
        assert_eq!(e.code(), Some("already_claimed"));
        assert!(e.to_string().starts_with(&format!("already claimed by @{winner} ")), "{e}");
    }
    let detail = app.admin.question(qid).await.unwrap();
    assert_eq!(detail.question.holder.as_deref(), Some(winner.as_str()));
    let claims =
        app.store.events_since(0, 10_000).await.unwrap().into_iter().filter(|e| e.kind == "question.claimed").count();
    assert_eq!(claims, 1, "one claim event");
}

#[tokio::test]
async fn the_full_help_desk_round_trip() {
    let app = spawn_app().await;
    let (_, mentor) = app.agent(new_agent("maya", "billing", Role::Mentor, &[("billing", 5)])).await;
    let mut novice_new = new_agent("nick", "billing", Role::Agent, &[("billing", 1)]);
    novice_new.novice = true;
    novice_new.mentor = Some("maya".into());
    let (nick_agent, nick) = app.agent(novice_new).await;
    assert!(nick_agent.novice);
    let (_, dana) = app.agent(new_agent("dana", "billing", Role::Agent, &[("billing", 4)])).await;
    let me = dana.set_status(AgentStatus::Online).await.unwrap();
    assert_eq!(me.status, AgentStatus::Online);

    let qid = app.ask("q1", "I was charged twice, refund please").await;
    // Pull: the best question for nick is this one.
    let got = nick.next().await.unwrap().unwrap();
    assert_eq!(got.id, qid);
    let reply = nick.reply(qid, "We'll refund you", "key-1").await.unwrap();
    assert_eq!(reply.status, Some(ReplyStatus::AwaitingApproval));
    // Agents cannot review; the mentor can.
    let err = dana.approve(reply.id, None).await.unwrap_err();
    assert_eq!(err.status(), Some(403));
    let pending = mentor.approvals().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].1.id, qid);
    let approved = mentor.approve(reply.id, Some("We'll refund you within 3 days.")).await.unwrap();
    assert_eq!(approved.status, Some(ReplyStatus::Approved));

    // Notes are internal, transfer hands over with context.
    dana.note(qid, "Card ends 4242, checked").await.unwrap();
    let moved = nick.transfer_to_agent(qid, "dana", Some("Customer wants it today")).await.unwrap();
    assert_eq!(moved.holder.as_deref(), Some("dana"));
    let resolved = dana.resolve(qid).await.unwrap();
    assert_eq!(resolved.state, QuestionState::Resolved);

    let detail = dana.question(qid).await.unwrap();
    let kinds: Vec<_> = detail.messages.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["inbound", "reply", "note", "note"]);
    assert_eq!(detail.question.answered_by.as_deref(), Some("nick"));

    // A follow-up reopens and goes to nick only if online; nick is offline, so to the queue.
    let mut follow = question("q1-b", "cust-q1", "thanks, when exactly?");
    follow.in_reply_to = Some("q1".into());
    let out = app.admin.inbound(&follow).await.unwrap();
    assert_eq!(out.outcome, "reopened");
    assert_eq!(out.question.state, QuestionState::Open);

    let stats = app.admin.stats().await.unwrap();
    assert_eq!(stats.answered_today, 1);
    assert_eq!(stats.first_response_today.count, 1);
}

#[tokio::test]
async fn authentication_and_roles_are_enforced() {
    let app = spawn_app().await;
    let http = app.http();
    let base = &app.base;
    // No token, a wrong token.
    let r = http.get(format!("{base}/api/v1/queue")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let r = http.get(format!("{base}/api/v1/queue")).bearer_auth("hh_nope").send().await.unwrap();
    assert_eq!(r.status(), 401);

    let (_, agent) = app.agent(new_agent("dana", "billing", Role::Agent, &[])).await;
    assert_eq!(agent.agents().await.unwrap_err().status(), Some(403));
    assert_eq!(agent.add_agent(&new_agent("x", "billing", Role::Admin, &[])).await.unwrap_err().status(), Some(403));
    assert_eq!(agent.approvals().await.unwrap_err().status(), Some(403));
    assert_eq!(agent.inbound(&question("a", "b", "c")).await.unwrap_err().status(), Some(403));
    let (_, lead) = app.agent(new_agent("lena", "store", Role::Lead, &[])).await;
    assert_eq!(lead.agents().await.unwrap_err().status(), Some(403));
    assert!(lead.approvals().await.is_ok());

    // Disabling revokes.
    let r = http
        .post(format!("{base}/api/v1/agents/dana/disable"))
        .bearer_auth(admin_token(&app).await)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(agent.me().await.unwrap_err().status(), Some(401));
    // A new token for an enabled agent works; the first stays valid.
    let r: Value = http
        .post(format!("{base}/api/v1/agents/lena/tokens"))
        .bearer_auth(admin_token(&app).await)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = app.admin.with_token(r["token"].as_str().unwrap());
    assert_eq!(second.me().await.unwrap().handle, "lena");
    assert_eq!(lead.me().await.unwrap().handle, "lena");
}

async fn admin_token(app: &common::TestApp) -> String {
    app.store.issue_token("root", false, app.state.now()).await.unwrap()
}

#[tokio::test]
async fn signed_webhooks_are_accepted_and_everything_else_refused() {
    let app = spawn_app().await;
    let anon = app.admin.with_token("");
    let now = app.state.now() / 1000;
    let msg = question("wh-1", "forum:alice", "My order is late, where is the parcel?");
    let out = anon.inbound_signed(&msg, SECRET, "evt_1", now).await.unwrap();
    assert_eq!(out.outcome, "created");
    assert_eq!(out.question.function, "delivery");
    // Redelivery with the same external id: dropped, same question.
    let again = anon.inbound_signed(&msg, SECRET, "evt_1", now).await.unwrap();
    assert_eq!(again.outcome, "duplicate");
    assert_eq!(again.question.id, out.question.id);
    // Wrong secret, stale timestamp.
    let e = anon.inbound_signed(&msg, "whsec_d3Jvbmc=", "evt_2", now).await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(401), Some("bad_signature")));
    let e = anon.inbound_signed(&msg, SECRET, "evt_3", now - 301).await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert!(e.to_string().contains("tolerance"), "{e}");
    // Tampered body: signature over one body, another sent.
    let body = serde_json::to_vec(&msg).unwrap();
    let key = helphive::signing::secret_key(SECRET);
    let sig = helphive::signing::sign(&key, "evt_4", now, &body);
    let r = app
        .http()
        .post(format!("{}/api/v1/inbound", app.base))
        .header("content-type", "application/json")
        .header("webhook-id", "evt_4")
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", sig)
        .body(serde_json::to_vec(&question("wh-2", "mallory", "free stuff")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Nothing unsigned gets in.
    let r = app.http().post(format!("{}/api/v1/inbound", app.base)).json(&msg).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(app.admin.queue(&Default::default()).await.unwrap().total, 1);
}

/// Posts a signed webhook body; (status, JSON answer).
async fn post_webhook(app: &common::TestApp, body: &serde_json::Value, id: &str) -> (u16, serde_json::Value) {
    let body = serde_json::to_vec(body).unwrap();
    let now = app.state.now() / 1000;
    let key = helphive::signing::secret_key(SECRET);
    let r = app
        .http()
        .post(format!("{}/api/v1/inbound", app.base))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", helphive::signing::sign(&key, id, now, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn a_webhook_batch_stores_each_good_message_and_names_each_bad_one() {
    let app = spawn_app().await;
    // One long forum post, one empty, one malformed and one with an impossible time must not
    // keep the good ones out: each gets its own outcome, in its place.
    let mut empty = question("b-3", "carol", "");
    empty.text = "   ".into();
    let mut wrapped = question("b-6", "erin", "my parcel never came");
    wrapped.received_at = Some(i64::MAX);
    let batch = serde_json::json!([
        question("b-1", "alice", "where is my parcel?"),
        question("b-2", "bob", "refund for a double charge"),
        empty,
        question("b-4", "dan", &"my invoice is wrong. ".repeat(600)),
        { "channel": "webhook", "external_id": "b-5", "text": "no customer here" },
        wrapped,
    ]);
    let (status, v) = post_webhook(&app, &batch, "evt_b1").await;
    assert_eq!(status, 201, "{v}");
    let items = v["items"].as_array().unwrap();
    let outcomes: Vec<&str> = items.iter().map(|o| o["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["created", "created", "rejected", "created", "rejected", "rejected"]);
    assert_eq!(items[2]["error"]["code"], "invalid");
    assert!(items[2]["error"]["message"].as_str().unwrap().contains("empty"), "{v}");
    assert!(items[4]["error"]["message"].as_str().unwrap().contains("customer"), "{v}");
    assert!(items[5]["error"]["message"].as_str().unwrap().contains("received_at"), "{v}");
    // The long post is kept, cut to the limit with a marker saying so.
    let long = items[3]["question"]["text"].as_str().unwrap();
    assert_eq!(long.chars().count(), 10_000);
    assert!(long.ends_with("the customer wrote 12600 characters]"), "{long}");
    assert_eq!(app.admin.queue(&Default::default()).await.unwrap().total, 3);

    // A batch with nothing to store is answered item by item too, and stores nothing.
    let (status, v) = post_webhook(&app, &serde_json::json!([{ "text": "?" }]), "evt_b0").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["items"][0]["outcome"], "rejected");
    // A single message keeps the plain error answer.
    let mut late = question("s-1", "sam", "hello");
    late.received_at = Some(-1_000_000_000_000_000_000);
    let (status, v) = post_webhook(&app, &serde_json::json!(late), "evt_s1").await;
    assert_eq!(status, 422, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("received_at"), "{v}");

    // The shipped rules: the same text again from one account, and a sixth post within five
    // minutes, are held; the rest queue. A repeated id in the batch is a duplicate.
    let mut items: Vec<_> =
        (0..5).map(|i| question(&format!("f-{i}"), "flooder", &format!("order {i} is late"))).collect();
    items.push(question("f-5", "flooder", "order 5 is late"));
    items.push(question("r-1", "dave", "is the coupon valid online?"));
    items.push(question("r-2", "dave", "is the coupon valid online?"));
    items.push(question("r-1", "dave", "is the coupon valid online?"));
    let (status, v) = post_webhook(&app, &serde_json::json!(items), "evt_b2").await;
    assert_eq!(status, 201, "{v}");
    let outcomes: Vec<&str> = v["items"].as_array().unwrap().iter().map(|o| o["outcome"].as_str().unwrap()).collect();
    assert_eq!(
        outcomes,
        ["created", "created", "created", "created", "created", "held", "created", "held", "duplicate"]
    );
    let reasons: Vec<String> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["outcome"] == "held")
        .map(|o| o["question"]["held_reason"].as_str().unwrap().to_string())
        .collect();
    assert!(reasons[0].starts_with("flood: 6 posts"), "{reasons:?}");
    assert!(reasons[1].starts_with("duplicate of message"), "{reasons:?}");
    let held = app
        .admin
        .queue(&helphive::client::QueueQuery { state: Some("held".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(held.total, 2, "both held ones are listed under the held filter");
    assert_eq!(app.admin.queue(&Default::default()).await.unwrap().total, 9);
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_never_a_500() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let qid = app.ask("q1", "refund").await;
    let http = app.http();
    let cases: Vec<(&str, String, Option<&str>, u16)> = vec![
        ("POST", "/api/v1/questions/abc/claim".into(), None, 400),
        ("POST", "/api/v1/questions/-1/claim".into(), None, 400),
        // Ids and limits are plain decimal numbers, as the document types them.
        ("POST", "/api/v1/questions/+1/claim".into(), None, 400),
        ("GET", "/api/v1/queue?limit=%2B5".into(), None, 400),
        ("POST", "/api/v1/questions/999999/claim".into(), None, 404),
        ("GET", "/api/v1/questions/99999999999999999999999".into(), None, 400),
        ("POST", format!("/api/v1/questions/{qid}/reply"), Some("{not json"), 400),
        ("POST", format!("/api/v1/questions/{qid}/reply"), Some("{\"body\": 5}"), 422),
        ("POST", format!("/api/v1/questions/{qid}/reply"), Some("{\"body\": \"hi\", \"extra\": 1}"), 422),
        ("POST", format!("/api/v1/questions/{qid}/reply"), Some("{\"body\": \"hi\"}"), 409),
        ("POST", format!("/api/v1/questions/{qid}/transfer"), Some("{}"), 400),
        ("POST", format!("/api/v1/questions/{qid}/notes"), Some("{\"body\": \"\"}"), 422),
        ("GET", "/api/v1/queue?state=bogus".into(), None, 400),
        ("GET", "/api/v1/queue?limit=0".into(), None, 400),
        ("GET", "/api/v1/queue?cursor=zzz".into(), None, 400),
        ("GET", "/api/v1/queue?cursor=-1.5".into(), None, 400),
        // Not UTF-8 once decoded: axum's own rejection, answered in the API's shape.
        ("GET", "/api/v1/questions/%FF".into(), None, 400),
        ("POST", "/api/v1/agents/%FF/disable".into(), None, 400),
        // Booleans are true or false; a contradiction of held and state still checks the rest.
        ("GET", "/api/v1/queue?mine=1".into(), None, 400),
        ("GET", "/api/v1/queue?state=resolved&held=true&mine=28379".into(), None, 400),
        ("GET", "/api/v1/queue?state=resolved&held=true".into(), None, 200),
        ("GET", "/api/v1/queue?colour=red".into(), None, 400),
        ("PUT", "/api/v1/me/status".into(), Some("{\"status\": \"asleep\"}"), 400),
        ("POST", "/api/v1/inbound".into(), Some("[]"), 422),
        ("POST", "/api/v1/inbound".into(), Some("{\"channel\": \"x\"}"), 422),
        ("POST", "/api/v1/inbound".into(), Some("\u{0}\u{1}"), 400),
        (
            "POST",
            "/api/v1/agents".into(),
            Some("{\"handle\": \"a b\", \"display_name\": \"x\", \"function\": \"billing\"}"),
            422,
        ),
        (
            "POST",
            "/api/v1/agents".into(),
            Some("{\"handle\": \"ab\", \"display_name\": \"x\", \"function\": \"nope\"}"),
            422,
        ),
        ("POST", "/api/v1/messages/1/approve".into(), Some("{}"), 409),
        ("GET", "/api/v1/events".into(), None, 200),
        ("DELETE", "/api/v1/queue".into(), None, 405),
        ("GET", "/api/v2/whatever".into(), None, 404),
    ];
    for (method, path, body, want) in cases {
        let mut req = http
            .request(method.parse().unwrap(), format!("{}{path}", app.base))
            .bearer_auth(&token)
            .timeout(Duration::from_secs(5));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        assert_eq!(status, want, "{method} {path} {body:?}");
        if status >= 400 {
            let v: Value = r.json().await.unwrap();
            assert!(v["error"]["code"].is_string() && v["error"]["message"].is_string(), "{method} {path}: {v}");
        }
    }
    // A body over the limit is refused before it is parsed.
    let huge = json!({ "body": "x".repeat(100_000) });
    let r = http
        .post(format!("{}/api/v1/questions/{qid}/notes", app.base))
        .bearer_auth(&token)
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "too_large");
    // Nothing stored was lost or changed by any of it.
    let d = app.admin.question(qid).await.unwrap();
    assert_eq!(d.messages.len(), 1);
    assert_eq!(d.question.state, QuestionState::Open);
}

#[tokio::test]
async fn a_webhook_body_over_the_limit_gets_the_json_error_shape() {
    let mut config = helphive::config::Config::builtin();
    config.webhook.max_batch_bytes = 2048;
    let app = spawn_app_with(common::Options { config, ..Default::default() }).await;
    let big = json!([question("b1", "ann", &"x".repeat(4000))]);
    let r = app
        .http()
        .post(format!("{}/api/v1/inbound", app.base))
        .bearer_auth(admin_token(&app).await)
        .header("content-type", "application/json")
        .body(big.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "too_large", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("webhook.max_batch_bytes"), "{v}");
    assert_eq!(app.admin.queue(&Default::default()).await.unwrap().total, 0);
}

/// POSTs raw JSON to `/inbound` as the admin: (status, answer).
async fn post_inbound(app: &common::TestApp, body: Value) -> (u16, Value) {
    let r = app
        .http()
        .post(format!("{}/api/v1/inbound", app.base))
        .bearer_auth(admin_token(app).await)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn inbound_refuses_unknown_fields_like_every_other_endpoint() {
    let app = spawn_app().await;
    let ok = || {
        json!({ "channel": "forum", "external_id": "u1", "customer": { "handle": "ann", "name": "Ann" },
                         "text": "refund please" })
    };
    let mut top = ok();
    top["priorty"] = json!(3);
    let (status, v) = post_inbound(&app, top).await;
    assert_eq!(status, 422, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("unknown field `priorty`"), "{v}");
    let mut nested = ok();
    nested["customer"]["email"] = json!("ann@example.com");
    assert_eq!(post_inbound(&app, nested.clone()).await.0, 422);
    assert_eq!(app.admin.queue(&Default::default()).await.unwrap().total, 0, "nothing stored");
    // In a batch, the message with the unknown field is answered rejected in its place.
    let (status, v) = post_inbound(&app, json!([ok(), nested])).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["items"][0]["outcome"], "created", "{v}");
    assert_eq!(v["items"][1]["outcome"], "rejected", "{v}");
    assert!(v["items"][1]["error"]["message"].as_str().unwrap().starts_with("message 1: unknown field `email`"), "{v}");
    assert_eq!(app.admin.queue(&Default::default()).await.unwrap().total, 1);
}

#[tokio::test]
async fn integers_may_be_written_with_a_zero_fraction() {
    // JSON Schema's `integer`, which the document uses, includes -4.0; the fuzzer sent it.
    let app = spawn_app().await;
    let at = app.state.now() - 60_000;
    let msg = json!({ "priority": -4.0, "text": "refund", "customer": { "handle": "c", "name": "" },
                      "external_id": "0", "channel": "kd3zk0n70_r0", "received_at": at as f64 });
    let (status, v) = post_inbound(&app, msg).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["question"]["priority"], -4);
    assert_eq!(v["question"]["received_at"], at);
    let half = json!({ "priority": 1.5, "text": "refund", "customer": { "handle": "c", "name": "" },
                       "external_id": "1", "channel": "forum" });
    assert_eq!(post_inbound(&app, half).await.0, 422);
    let agent = json!({ "handle": "f", "display_name": "F", "function": "billing", "capacity": 2.0,
                        "skills": [{ "topic": "billing", "proficiency": 3.0 }] });
    let r = app.http().post(format!("{}/api/v1/agents", app.base)).bearer_auth(admin_token(&app).await).json(&agent);
    let v: Value = r.send().await.unwrap().json().await.unwrap();
    assert_eq!((v["agent"]["capacity"].as_i64(), v["agent"]["skills"][0]["proficiency"].as_i64()), (Some(2), Some(3)));
}

#[tokio::test]
async fn inbound_limits_are_in_characters_and_times_stay_in_range() {
    let app = spawn_app().await;
    let msg = |id: String, at: Option<i64>| {
        json!({ "channel": "forum", "external_id": id, "customer": { "handle": "ann", "name": "é".repeat(256) },
                "text": "refund", "received_at": at })
    };
    // 256 characters of two bytes each: within the documented limit.
    let (status, v) = post_inbound(&app, msg("é".repeat(256), None)).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(post_inbound(&app, msg("é".repeat(257), None)).await.0, 422);
    // A deadline is computed from received_at: times out of range are refused, never overflow.
    let now = app.state.now();
    let (age, ahead) = (helphive::store::MAX_MESSAGE_AGE_MS, helphive::store::MAX_CLOCK_AHEAD_MS);
    for at in [i64::MAX, i64::MIN, -1, now - age - 60_000, now + ahead + 60_000] {
        let (status, v) = post_inbound(&app, msg(format!("t{at}"), Some(at))).await;
        assert_eq!(status, 422, "{at}: {v}");
    }
    assert_eq!(post_inbound(&app, msg("t-ok".into(), Some(now - age + 60_000))).await.0, 201);
    // Idempotency keys count characters too.
    let (_, dana) = app.agent(new_agent("dana", "billing", Role::Agent, &[("billing", 3)])).await;
    let qid = app.ask("k1", "refund").await;
    dana.claim(qid).await.unwrap();
    assert!(dana.reply(qid, "done", &"é".repeat(128)).await.is_ok());
}

#[tokio::test]
async fn the_documented_received_at_window_is_the_one_the_server_keeps() {
    // The fuzzer sent the document's minimum and was refused: the bounds were stale by the time
    // the request came. The document states them as of its serving; with the clock standing
    // still, both ends hold to the millisecond.
    let app = spawn_app_with(common::Options { manual_clock: Some(1_800_000_000_000), ..Default::default() }).await;
    let doc: Value =
        app.http().get(format!("{}/api/v1/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
    let at = &doc["components"]["schemas"]["Inbound"]["properties"]["received_at"];
    let (min, max) = (at["minimum"].as_i64().unwrap(), at["maximum"].as_i64().unwrap());
    let msg = |id: &str, at: i64| {
        json!({ "channel": "forum", "external_id": id, "customer": { "handle": "ann", "name": "" },
                "text": "refund", "received_at": at })
    };
    assert_eq!(post_inbound(&app, msg("lo", min)).await.0, 201);
    assert_eq!(post_inbound(&app, msg("hi", max)).await.0, 201);
    assert_eq!(post_inbound(&app, msg("below", min - 1)).await.0, 422);
    assert_eq!(post_inbound(&app, msg("above", max + 1)).await.0, 422);
}

#[tokio::test]
async fn a_mentor_or_colleague_that_does_not_exist_is_not_found() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let novice =
        json!({ "handle": "n", "display_name": "N", "function": "billing", "novice": true, "mentor": "ghost" });
    let r = app.http().post(format!("{}/api/v1/agents", app.base)).bearer_auth(&token).json(&novice);
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["message"], "mentor '@ghost' does not exist");
    let (_, dana) = app.agent(new_agent("dana", "billing", Role::Agent, &[("billing", 3)])).await;
    let qid = app.ask("x1", "refund").await;
    dana.claim(qid).await.unwrap();
    let e = dana.transfer_to_agent(qid, "ghost", None).await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(404), Some("not_found")), "{e}");
    assert_eq!(app.admin.question(qid).await.unwrap().question.holder.as_deref(), Some("dana"));
}

#[tokio::test]
async fn events_resume_from_last_event_id_without_gaps() {
    let app = spawn_app().await;
    let (_, dana) = app.agent(new_agent("dana", "billing", Role::Agent, &[("billing", 3)])).await;
    let mut live = dana.events(None);
    assert_eq!(tokio::time::timeout(Duration::from_secs(5), live.recv()).await.unwrap(), Some(StreamItem::Connected));
    let q1 = app.ask("e1", "refund").await;
    let first = match tokio::time::timeout(Duration::from_secs(5), live.recv()).await.unwrap() {
        Some(StreamItem::Event(e)) => e,
        other => panic!("expected an event, got {other:?}"),
    };
    assert_eq!(first.kind, "question.new");
    assert_eq!(first.question_id, Some(q1));
    drop(live);

    // While the client is away: five changes.
    dana.claim(q1).await.unwrap();
    dana.note(q1, "looking").await.unwrap();
    dana.reply(q1, "done", "k").await.unwrap();
    dana.resolve(q1).await.unwrap();
    app.ask("e2", "refund again").await;

    let mut resumed = dana.events(Some(first.id));
    let mut got = Vec::new();
    while got.len() < 5 {
        match tokio::time::timeout(Duration::from_secs(5), resumed.recv()).await.unwrap() {
            Some(StreamItem::Event(e)) => got.push(e),
            Some(StreamItem::Connected) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let ids: Vec<i64> = got.iter().map(|e| e.id).collect();
    assert_eq!(ids, (first.id + 1..=first.id + 5).collect::<Vec<_>>(), "every missed event, in order");
    let kinds: Vec<&str> = got.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["question.claimed", "note.added", "reply.sent", "question.resolved", "question.new"]);
    // Then live ones continue on the same stream.
    app.ask("e3", "refund three").await;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), resumed.recv()).await.unwrap() {
            Some(StreamItem::Event(e)) if e.kind == "question.new" && e.id > ids[4] => break,
            Some(StreamItem::Event(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_client_too_far_behind_is_told_to_reload() {
    let mut config = helphive::config::Config::builtin();
    config.server.events_retained = 100;
    let app = spawn_app_with(common::Options { config, ..Default::default() }).await;
    for i in 0..150 {
        app.ask(&format!("r{i}"), "refund").await;
    }
    app.store.prune_events(app.state.now()).await.unwrap();
    let (lo, hi) = app.store.event_bounds().await.unwrap();
    assert!(lo > 2, "pruned: oldest kept is {lo}");
    let mut stream = app.admin.events(Some(1));
    let mut reload = None;
    for _ in 0..3 {
        match tokio::time::timeout(Duration::from_secs(5), stream.recv()).await.unwrap() {
            Some(StreamItem::Reload { latest }) => {
                reload = Some(latest);
                break;
            }
            Some(StreamItem::Connected) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(reload, Some(hi));
    // Ids the server never gave out also mean: reload.
    let mut stream = app.admin.events(Some(hi + 1000));
    let _ = stream.recv().await;
    assert_eq!(stream.recv().await, Some(StreamItem::Reload { latest: hi }));
}

#[tokio::test]
async fn expired_leases_return_to_the_queue_by_themselves() {
    let app =
        spawn_app_with(common::Options { manual_clock: Some(1_800_000_000_000), jobs: true, ..Default::default() })
            .await;
    let (_, dana) = app.agent(new_agent("dana", "billing", Role::Agent, &[("billing", 3)])).await;
    let (_, lee) = app.agent(new_agent("lee", "billing", Role::Agent, &[("billing", 3)])).await;
    let qid = app.ask("l1", "refund").await;
    dana.claim(qid).await.unwrap();
    app.clock.as_ref().unwrap().advance(9 * 60_000);
    dana.renew(qid).await.unwrap();
    app.clock.as_ref().unwrap().advance(9 * 60_000);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        app.admin.question(qid).await.unwrap().question.holder.as_deref(),
        Some("dana"),
        "renewed lease still holds"
    );
    app.clock.as_ref().unwrap().advance(2 * 60_000);
    let mut state = QuestionState::Claimed;
    for _ in 0..50 {
        state = app.admin.question(qid).await.unwrap().question.state;
        if state == QuestionState::Open {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, QuestionState::Open, "the lease job returned it");
    let e = app
        .store
        .events_since(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .find(|e| e.kind == "question.lease_expired")
        .unwrap();
    assert_eq!(e.data["previous_holder"], "dana");
    assert_eq!(lee.claim(qid).await.unwrap().holder.as_deref(), Some("lee"));
    assert_eq!(dana.reply(qid, "late", "k").await.unwrap_err().code(), Some("not_holder"));
}

#[tokio::test]
async fn openapi_describes_every_route_the_server_has() {
    let app = spawn_app().await;
    let doc: Value =
        app.http().get(format!("{}/api/v1/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let token = admin_token(&app).await;
    for op in OPERATIONS {
        assert!(doc["paths"][op.path][op.method].is_object(), "{} {} documented", op.method, op.path);
        // Calling each documented operation reaches a handler: never "no such endpoint" (404
        // from the fallback) nor 405.
        let path = op.path.replace("{id}", "1").replace("{handle}", "root");
        let req = app
            .http()
            .request(op.method.to_uppercase().parse().unwrap(), format!("{}{path}", app.base))
            .bearer_auth(&token)
            .timeout(Duration::from_secs(2));
        let r = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => continue, // the event stream stays open: it exists
            Err(e) => panic!("{e}"),
        };
        assert_ne!(r.status(), 405, "{} {}", op.method, op.path);
        if r.status() == 404 {
            let v: Value = r.json().await.unwrap();
            assert_ne!(
                v["error"]["message"], "no such endpoint; see /api/v1/openapi.json",
                "{} {}",
                op.method, op.path
            );
        }
    }
}

#[tokio::test]
async fn queue_listing_filters_over_http() {
    let app = spawn_app().await;
    let (_, dana) = app.agent(new_agent("dana", "billing", Role::Agent, &[("billing", 3)])).await;
    for i in 0..7 {
        app.ask(&format!("f{i}"), if i < 4 { "refund" } else { "parcel delivery late" }).await;
    }
    let first = dana.next().await.unwrap().unwrap();
    let q = |f: fn(&mut helphive::client::QueueQuery)| {
        let mut query = helphive::client::QueueQuery::default();
        f(&mut query);
        query
    };
    assert_eq!(dana.queue(&q(|_| {})).await.unwrap().total, 7);
    assert_eq!(dana.queue(&q(|x| x.mine = true)).await.unwrap().items[0].id, first.id);
    assert_eq!(dana.queue(&q(|x| x.unclaimed = true)).await.unwrap().total, 6);
    assert_eq!(dana.queue(&q(|x| x.function = Some("delivery".into()))).await.unwrap().total, 3);
    assert_eq!(dana.queue(&q(|x| x.state = Some("claimed".into()))).await.unwrap().total, 1);
    let page = dana.queue(&q(|x| x.limit = Some(5))).await.unwrap();
    assert_eq!(page.items.len(), 5);
    let rest = dana
        .queue(&helphive::client::QueueQuery { cursor: page.next_cursor.clone(), limit: Some(5), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 2);
    assert!(rest.next_cursor.is_none());
}

/// Calls the API and holds each answer to the OpenAPI document: the status is one the operation
/// declares, and the content type and body are the ones declared for that status.
struct Contract {
    doc: Value,
    http: reqwest::Client,
    base: String,
    /// Operations seen answering 2xx, as (method, path template).
    covered: std::sync::Mutex<std::collections::BTreeSet<(String, String)>>,
}

impl Contract {
    async fn new(app: &common::TestApp) -> Contract {
        let doc =
            app.http().get(format!("{}/api/v1/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
        Contract { doc, http: app.http(), base: app.base.clone(), covered: Default::default() }
    }

    /// `template` with its `{…}` segments replaced by `args` in order.
    async fn call(
        &self,
        token: Option<&str>,
        method: &str,
        template: &str,
        args: &[&str],
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut args = args.iter();
        let path: Vec<String> = template
            .split('/')
            .map(|seg| if seg.starts_with('{') { args.next().unwrap().to_string() } else { seg.to_string() })
            .collect();
        let mut req = self
            .http
            .request(method.to_uppercase().parse().unwrap(), format!("{}{}", self.base, path.join("/")))
            .timeout(Duration::from_secs(10));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.check(method, template, req.send().await.unwrap()).await
    }

    async fn check(&self, method: &str, template: &str, r: reqwest::Response) -> (u16, Value) {
        let template = template.split('?').next().unwrap();
        let what = format!("{} {template}", method.to_uppercase());
        let status = r.status().as_u16();
        let op = &self.doc["paths"][template][method];
        assert!(op.is_object(), "{what} is not in the document");
        let declared = &op["responses"][status.to_string()];
        assert!(declared.is_object(), "{what} answered {status}, which the document does not declare");
        if (200..300).contains(&status) {
            self.covered.lock().unwrap().insert((method.to_string(), template.to_string()));
        }
        let content_type = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
        let Some(content) = declared["content"].as_object() else {
            let body = r.bytes().await.unwrap();
            assert!(body.is_empty(), "{what} {status}: declared without content, sent {body:?}");
            return (status, Value::Null);
        };
        let (media, schema) = content.iter().next().unwrap();
        let content_type = content_type.unwrap_or_default();
        assert!(
            content_type.starts_with(media.as_str()),
            "{what} {status}: content type {content_type}, declared {media}"
        );
        if media != "application/json" {
            return (status, Value::Null); // the event stream stays open; its events have their own tests
        }
        let body: Value = r.json().await.unwrap();
        let bad = common::schema::violations(&self.doc, &schema["schema"], &body);
        assert!(bad.is_empty(), "{what} {status} does not match its schema:\n{}\n{body:#}", bad.join("\n"));
        (status, body)
    }
}

/// Reads an open event stream until it ends; returns the kinds of the events it delivered and
/// how it ended. Panics if it is still open after `within`.
async fn read_until_the_stream_ends(
    stream: impl futures_util::Stream<Item = helphive::client::ClientResult<StreamItem>>,
    within: Duration,
) -> (Vec<String>, Option<String>) {
    use futures_util::StreamExt;
    let mut stream = std::pin::pin!(stream);
    let mut kinds = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => panic!("the stream is still open; it delivered {kinds:?}"),
            Ok(None) => return (kinds, None),
            Ok(Some(Ok(StreamItem::Event(e)))) => kinds.push(e.kind),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => return (kinds, Some(e.to_string())),
        }
    }
}

#[tokio::test]
async fn every_answer_matches_the_documented_contract() {
    let app = spawn_app().await;
    let c = Contract::new(&app).await;
    let root = admin_token(&app).await;
    let admin = Some(root.as_str());
    let get = "get";
    let post = "post";

    for path in ["/healthz", "/api/v1/openapi.json"] {
        assert_eq!(c.call(None, get, path, &[], None).await.0, 200);
    }
    for path in ["/api/v1/directory", "/api/v1/me", "/api/v1/stats", "/api/v1/agents", "/api/v1/approvals"] {
        assert_eq!(c.call(admin, get, path, &[], None).await.0, 200, "{path}");
    }
    // People: a mentor, her novice, an agent.
    let agents = "/api/v1/agents";
    let maya = json!({ "handle": "maya", "display_name": "Maya", "function": "billing", "role": "mentor",
                       "skills": [{ "topic": "billing", "proficiency": 5 }] });
    let (status, v) = c.call(admin, post, agents, &[], Some(maya)).await;
    assert_eq!(status, 201);
    let maya = v["token"].as_str().unwrap().to_string();
    let nick = json!({ "handle": "@nick", "display_name": "Nick", "function": "billing", "novice": true,
                       "mentor": "maya", "capacity": 2.0, "skills": [{ "topic": "billing", "proficiency": 1 }] });
    let nick = c.call(admin, post, agents, &[], Some(nick)).await.1["token"].as_str().unwrap().to_string();
    let dana = json!({ "handle": "dana", "display_name": "Dana", "function": "billing", "signature": "— Dana",
                       "skills": [{ "topic": "billing", "proficiency": 4 }, { "topic": "delivery", "proficiency": 2 }] });
    let dana = c.call(admin, post, agents, &[], Some(dana)).await.1["token"].as_str().unwrap().to_string();
    let (maya, nick, dana) = (Some(maya.as_str()), Some(nick.as_str()), Some(dana.as_str()));
    c.call(dana, "put", "/api/v1/me/status", &[], Some(json!({ "status": "online" }))).await;

    // Customers: one message (201), its redelivery (200), a batch with a flood that is held.
    let inbound = "/api/v1/inbound";
    let q1 = json!({ "channel": "webhook", "external_id": "m1", "customer": { "handle": "ann", "name": "Ann" },
                     "text": "I was charged twice, refund please", "conversation_id": "t1", "priority": 2,
                     "received_at": app.state.now() - 60_000 });
    let (status, v) = c.call(admin, post, inbound, &[], Some(q1.clone())).await;
    assert_eq!((status, v["outcome"].as_str()), (201, Some("created")));
    let q1 = v["question"]["id"].to_string();
    let (status, v) = c.call(admin, post, inbound, &[], Some(q1_again(&v))).await;
    assert_eq!((status, v["outcome"].as_str()), (200, Some("duplicate")));
    let mut batch: Vec<Value> = (0..6)
        .map(|i| {
            json!({ "channel": "forum", "external_id": format!("f{i}"),
                          "customer": { "handle": "flooder", "name": "" }, "text": format!("order {i} is late") })
        })
        .collect();
    batch.push(json!({ "channel": "forum", "external_id": "p1", "customer": { "handle": "bo", "name": "Bo" },
                       "text": "where is my parcel?", "in_reply_to": null }));
    batch.push(json!({ "channel": "forum", "external_id": "r1", "customer": { "handle": "cy", "name": "Cy" },
                       "text": "refund for a double charge" }));
    // An array whose items are no messages at all stores nothing: 200, each rejected (the fuzzer's
    // [[null, null]], which the document first refused while the server answered 200).
    let (status, v) = c.call(admin, post, inbound, &[], Some(json!([[null, null]]))).await;
    assert_eq!((status, v["items"][0]["outcome"].as_str()), (200, Some("rejected")), "{v}");
    // A message that cannot be stored is answered rejected in its place.
    batch.push(json!({ "channel": "forum", "external_id": "e1", "customer": { "handle": "ed", "name": "Ed" },
                       "text": "   " }));
    let (status, v) = c.call(admin, post, inbound, &[], Some(Value::Array(batch))).await;
    assert_eq!(status, 201);
    assert_eq!(v["items"][8]["outcome"], "rejected", "{v}");
    let held =
        v["items"].as_array().unwrap().iter().find(|o| o["outcome"] == "held").unwrap()["question"]["id"].to_string();
    let parcel = v["items"][6]["question"]["id"].to_string();
    let queue = "/api/v1/queue";
    c.call(admin, get, queue, &[], None).await;
    let (_, none) = c.call(admin, get, &format!("{queue}?state=resolved&held=true"), &[], None).await;
    assert_eq!((none["total"].as_i64(), none["as_of"].as_i64().is_some()), (Some(0), true), "{none}");
    let (_, page) = c.call(admin, get, &format!("{queue}?state=held&limit=5"), &[], None).await;
    assert_eq!(page["items"][0]["held_reason"].as_str().map(|r| r.starts_with("flood")), Some(true), "{page}");

    // The novice's round: claim, renew, look, note, reply, approval, a second reply rejected.
    let q = "/api/v1/questions/{id}";
    assert_eq!(c.call(nick, post, &format!("{q}/claim"), &[&q1], None).await.0, 200);
    assert_eq!(c.call(nick, post, &format!("{q}/renew"), &[&q1], None).await.0, 200);
    assert_eq!(c.call(nick, post, &format!("{q}/viewing"), &[&q1], None).await.0, 204);
    assert_eq!(c.call(nick, post, &format!("{q}/notes"), &[&q1], Some(json!({ "body": "card 4242" }))).await.0, 201);
    let reply = json!({ "body": "We'll refund you", "idempotency_key": "k1" });
    let (status, m1) = c.call(nick, post, &format!("{q}/reply"), &[&q1], Some(reply)).await;
    assert_eq!((status, m1["status"].as_str()), (201, Some("awaiting_approval")));
    let (_, pending) = c.call(maya, get, "/api/v1/approvals", &[], None).await;
    assert_eq!(pending["items"].as_array().unwrap().len(), 1);
    let m = "/api/v1/messages/{id}";
    let (status, v) = c.call(maya, post, &format!("{m}/approve"), &[&m1["id"].to_string()], Some(json!({}))).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("approved")));
    let (_, m2) = c.call(nick, post, &format!("{q}/reply"), &[&q1], Some(json!({ "body": "And a coupon!" }))).await;
    let reason = json!({ "reason": "no coupons for refunds" });
    let (status, v) = c.call(maya, post, &format!("{m}/reject"), &[&m2["id"].to_string()], Some(reason)).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("rejected")));
    c.call(nick, get, q, &[&q1], None).await;

    // An agent's round: pull, correct the topic, hand over, claim, resolve, reopen, release.
    let (_, next) = c.call(dana, post, "/api/v1/next", &[], None).await;
    let mine = next["question"]["id"].to_string();
    assert_ne!(mine, "null", "dana gets a question: {next}");
    assert_eq!(c.call(dana, post, &format!("{q}/topic"), &[&mine], Some(json!({ "topic": "delivery" }))).await.0, 200);
    let to = json!({ "to_function": "delivery", "to_agent": null, "note": "parcel, not billing" });
    assert_eq!(c.call(dana, post, &format!("{q}/transfer"), &[&mine], Some(to)).await.0, 200);
    c.call(dana, post, &format!("{q}/claim"), &[&parcel], None).await;
    let without = json!({ "without_reply": true });
    assert_eq!(c.call(dana, post, &format!("{q}/resolve"), &[&parcel], Some(without)).await.0, 200);
    assert_eq!(c.call(dana, post, &format!("{q}/reopen"), &[&parcel], None).await.0, 200);
    c.call(dana, post, &format!("{q}/claim"), &[&parcel], None).await;
    assert_eq!(c.call(dana, post, &format!("{q}/release"), &[&parcel], None).await.0, 200);
    assert_eq!(c.call(admin, post, &format!("{q}/unhold"), &[&held], None).await.0, 200);
    c.call(dana, get, "/api/v1/stats", &[], None).await;

    // Administration.
    let h = "/api/v1/agents/{handle}";
    let (status, v) =
        c.call(admin, post, &format!("{h}/tokens"), &["dana"], Some(json!({ "revoke_others": true }))).await;
    assert_eq!((status, v["handle"].as_str()), (201, Some("dana")));
    assert_eq!(c.call(admin, post, &format!("{h}/disable"), &["dana"], None).await.0, 200);
    assert_eq!(c.call(admin, post, &format!("{h}/enable"), &["dana"], None).await.1["disabled"], false);
    assert_eq!(c.call(admin, post, &format!("{h}/enable"), &["dana"], None).await.0, 409);
    // The event stream answers with its media type (its events have their own tests).
    let r = c.http.get(format!("{}/api/v1/events", c.base)).bearer_auth(&root).send().await.unwrap();
    c.check(get, "/api/v1/events", r).await;

    // Mistakes get declared statuses in the error shape.
    assert_eq!(c.call(None, get, queue, &[], None).await.0, 401);
    assert_eq!(c.call(nick, get, agents, &[], None).await.0, 403);
    assert_eq!(c.call(nick, get, q, &["999999"], None).await.0, 404);
    assert_eq!(c.call(nick, get, q, &["0"], None).await.0, 400);
    assert_eq!(c.call(nick, get, q, &["%FF"], None).await.0, 400);
    assert_eq!(c.call(maya, post, &format!("{q}/claim"), &[&q1], None).await.0, 409);
    assert_eq!(c.call(nick, get, &format!("{queue}?mine=1"), &[], None).await.0, 400);
    let extra = json!({ "handle": "zed", "display_name": "Zed", "function": "billing", "colour": "red" });
    assert_eq!(c.call(admin, post, agents, &[], Some(extra)).await.0, 422);
    let r = c.http.post(format!("{}/api/v1/questions/{q1}/notes", c.base)).bearer_auth(&root).body("{}").send();
    assert_eq!(c.check(post, "/api/v1/questions/{id}/notes", r.await.unwrap()).await.0, 415);

    let covered = c.covered.lock().unwrap().clone();
    for op in OPERATIONS {
        assert!(
            covered.contains(&(op.method.to_string(), op.path.to_string())),
            "{} {} was never seen succeeding: add it to this test",
            op.method,
            op.path
        );
    }
}

/// The first message of `outcome`'s question, sent again (a webhook's redelivery).
fn q1_again(outcome: &Value) -> Value {
    let q = &outcome["question"];
    json!({ "channel": q["channel"], "external_id": q["external_id"], "customer": q["customer"], "text": q["text"] })
}

#[tokio::test]
async fn an_event_stream_ends_when_its_agent_is_disabled_or_its_token_revoked() {
    let app = spawn_app().await;
    let http = app.http();
    let admin_token = admin_token(&app).await;
    let admin_post = |path: String, body: Value| {
        http.post(format!("{}/api/v1{path}", app.base)).bearer_auth(&admin_token).json(&body).send()
    };

    // 1. Disabled through the API: the stream ends, and nothing said after it reaches the agent.
    let (_, dana) = app.agent(new_agent("dana", "billing", Role::Agent, &[("billing", 3)])).await;
    let stream = dana.events_once(None).await.unwrap();
    app.ask("before", "refund please").await;
    assert_eq!(admin_post("/agents/dana/disable".into(), json!({})).await.unwrap().status(), 200);
    app.ask("after", "my card number is 4111 and my name is Secret Sam").await;
    let (kinds, end) = read_until_the_stream_ends(stream, Duration::from_secs(5)).await;
    assert_eq!(kinds.iter().filter(|k| *k == "question.new").count(), 1, "only the question before: {kinds:?}");
    assert!(end.unwrap_or_default().contains("revoked"));
    assert_eq!(dana.events_once(None).await.err().and_then(|e| e.status()), Some(401));

    // 2. The token revoked by issuing another with revoke_others: the old stream ends, a stream
    //    on the new token stays open.
    let (_, erin) = app.agent(new_agent("erin", "billing", Role::Agent, &[("billing", 3)])).await;
    let old_stream = erin.events_once(None).await.unwrap();
    let r = admin_post("/agents/erin/tokens".into(), json!({ "revoke_others": true })).await.unwrap();
    assert_eq!(r.status(), 201);
    let new_token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let (_, end) = read_until_the_stream_ends(old_stream, Duration::from_secs(5)).await;
    assert!(end.unwrap_or_default().contains("revoked"));
    let mut fresh = erin.with_token(&new_token).events(None);
    assert_eq!(tokio::time::timeout(Duration::from_secs(5), fresh.recv()).await.unwrap(), Some(StreamItem::Connected));
    app.ask("later", "another refund").await;
    match tokio::time::timeout(Duration::from_secs(5), fresh.recv()).await.unwrap() {
        Some(StreamItem::Event(e)) => assert_eq!(e.kind, "question.new"),
        other => panic!("the new token's stream should carry on, got {other:?}"),
    }

    // 3. Disabled by another process on the same database (the admin CLI): found by polling.
    let (_, finn) = app.agent(new_agent("finn", "billing", Role::Agent, &[("billing", 3)])).await;
    let stream = finn.events_once(None).await.unwrap();
    let other_process = helphive::store::Store::open(&helphive::store::StoreOptions {
        database: app.database.clone(),
        durability: helphive::config::Durability::Normal,
        events_retained: 1000,
    })
    .await
    .unwrap();
    other_process.disable_agent("finn", None, helphive::clock::now_ms()).await.unwrap();
    let (_, end) = read_until_the_stream_ends(stream, Duration::from_secs(5)).await;
    assert!(end.unwrap_or_default().contains("revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn agents_pulling_at_once_each_get_a_question_while_any_waits() {
    // 40 agents of one function pull at the same moment with 19 questions waiting: every
    // question is taken, each by one agent, and only agents left without one hear "none".
    let app = spawn_app().await;
    for i in 0..19 {
        app.ask(&format!("p{i}"), "I was charged twice, I need a refund").await;
    }
    let mut clients = Vec::new();
    for i in 0..40 {
        let (_, c) = app.agent(new_agent(&format!("puller{i}"), "billing", Role::Agent, &[("billing", 3)])).await;
        clients.push(c);
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(clients.len()));
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|c| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                c.next().await
            })
        })
        .collect();
    let mut got = Vec::new();
    let mut none = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            Some(q) => got.push(q.id),
            None => none += 1,
        }
    }
    got.sort_unstable();
    got.dedup();
    assert_eq!(got.len(), 19, "every waiting question went to exactly one agent");
    assert_eq!(none, 21);
    let open = helphive::client::QueueQuery { state: Some("open".into()), ..Default::default() };
    assert_eq!(app.admin.queue(&open).await.unwrap().items.len(), 0, "nothing left waiting");
}

#[tokio::test]
async fn the_last_admin_cannot_be_disabled_and_a_disabled_agent_can_be_enabled() {
    let app = spawn_app().await;
    let http = app.http();
    let token = admin_token(&app).await;
    let post = |path: &str| http.post(format!("{}/api/v1{path}", app.base)).bearer_auth(&token).send();
    // root is the only admin: disabling itself would leave nobody to run the desk.
    let r = post("/agents/root/disable").await.unwrap();
    assert_eq!(r.status(), 409);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "last_admin", "{v}");
    assert_eq!(app.admin.me().await.unwrap().handle, "root", "still signed in");
    // With a second admin, either may go.
    let (_, _second) = app.agent(new_agent("ada", "store", Role::Admin, &[])).await;
    assert_eq!(post("/agents/ada/disable").await.unwrap().status(), 200);
    assert_eq!(post("/agents/root/disable").await.unwrap().status(), 409, "ada is disabled: root is the last again");
    // Enabling brings an agent back (with a new token; the old ones stay revoked).
    let r = post("/agents/ada/enable").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["disabled"], false);
    assert_eq!(post("/agents/ada/enable").await.unwrap().status(), 409, "not disabled");
    assert_eq!(post("/agents/nobody/enable").await.unwrap().status(), 404);
}

/// Every request and answer body of `wire`, as the client sends it and the server writes it,
/// against the schema the document gives for that body: a field added to a type and not to the
/// document (or the other way round, for a required one) fails here, before any request is made.
#[test]
fn every_wire_type_matches_its_schema_in_the_document() {
    use helphive::model::{Role, Skill};
    use helphive::tui::fixtures;
    use helphive::wire::*;

    let config = helphive::config::Config::builtin();
    let now = fixtures::NOW;
    let doc = helphive::server::openapi::document(&config, now);
    let question = fixtures::question(1);
    let message = fixtures::detail(question.clone()).messages.remove(0);
    let agent = fixtures::agent("dana", Role::Mentor);
    let outcome = InboundOutcome { outcome: "created".into(), question: question.clone(), message_id: 9 };
    fn value(v: impl serde::Serialize) -> Value {
        serde_json::to_value(v).unwrap()
    }
    let cases: Vec<(&str, Value)> = vec![
        ("Reply", value(&ReplyRequest { body: "Refunded.".into(), idempotency_key: Some("k-1".into()) })),
        ("Reply", value(&ReplyRequest { body: "Refunded.".into(), idempotency_key: None })),
        ("Note", value(&NoteRequest { body: "Asked before.".into() })),
        (
            "Transfer",
            value(&TransferRequest { to_function: Some("billing".into()), to_agent: None, note: Some("yours".into()) }),
        ),
        ("Transfer", value(&TransferRequest { to_function: None, to_agent: Some("lee".into()), note: None })),
        ("Resolve", value(&ResolveRequest { without_reply: true })),
        ("Topic", value(&TopicRequest { topic: "billing".into() })),
        ("Approve", value(&ApproveRequest { body: Some("Edited.".into()) })),
        ("Approve", value(&ApproveRequest { body: None })),
        ("Reject", value(&RejectRequest { reason: "Check the order first.".into() })),
        ("Status", value(&StatusRequest { status: "away".into() })),
        ("TokenRequest", value(&TokenRequest { revoke_others: true })),
        (
            "InboundBody",
            value(&NewInbound {
                channel: "forum".into(),
                external_id: "p-1".into(),
                customer: question.customer.clone(),
                text: "refund please".into(),
                conversation_id: Some("t-1".into()),
                in_reply_to: None,
                received_at: Some(now),
                priority: Some(2),
            }),
        ),
        (
            "NewAgent",
            value(&NewAgent {
                handle: "nia".into(),
                display_name: "Nia".into(),
                function: "billing".into(),
                role: Role::Agent,
                novice: true,
                mentor: Some("dana".into()),
                capacity: 2,
                skills: vec![Skill { topic: "billing".into(), proficiency: 3 }],
                signature: "— Nia".into(),
            }),
        ),
        ("Error", value(&ErrorAnswer { error: ErrorBody { code: "invalid".into(), message: "no".into() } })),
        ("Health", value(&Health { status: "ok".into() })),
        (
            "Directory",
            value(&Directory {
                channels: vec![ChannelLimit {
                    name: "x".into(),
                    max: 280,
                    counting: "weighted".into(),
                    mention_prefix: false,
                }],
                functions: vec![FunctionEntry { display: "Billing".into(), name: "billing".into() }],
                topics: vec![TopicEntry { function: "billing".into(), name: "billing".into(), sla_minutes: 20 }],
            }),
        ),
        (
            "QueuePage",
            value(&QueuePage {
                items: vec![question.clone()],
                next_cursor: Some("1.2".into()),
                total: 3,
                as_of: Some(17),
            }),
        ),
        ("Next", value(&NextAnswer { question: Some(question.clone()) })),
        ("Next", value(&NextAnswer { question: None })),
        (
            "Approvals",
            value(&Approvals { items: vec![Approval { message: message.clone(), question: question.clone() }] }),
        ),
        ("AgentList", value(&AgentList { items: vec![agent.clone()] })),
        ("NewAgentAnswer", value(&NewAgentAnswer { agent: agent.clone(), token: "hh_x".into() })),
        ("TokenAnswer", value(&TokenAnswer { handle: "dana".into(), token: "hh_y".into() })),
        ("InboundAnswer", value(&outcome)),
        (
            "InboundAnswer",
            value(&InboundBatch {
                items: vec![
                    BatchAnswer::Stored(Box::new(outcome.clone())),
                    BatchAnswer::rejected("invalid", "message 1: missing field `text`".into()),
                ],
            }),
        ),
        ("StreamEnd", value(&StreamEnd { reason: "revoked".into() })),
        ("StreamReload", value(&StreamReload { latest: 40, reason: "behind".into() })),
    ];
    let mut bad = Vec::new();
    for (name, v) in &cases {
        let schema = json!({ "$ref": format!("#/components/schemas/{name}") });
        for v in common::schema::violations(&doc, &schema, v) {
            bad.push(format!("{name}: {v}"));
        }
    }
    assert!(bad.is_empty(), "wire types and the document disagree:\n{}", bad.join("\n"));

    // Every body the document names is among the cases, or a `model` type the other tests of
    // this file check in real answers.
    let checked_elsewhere = ["OpenApi", "EventStream", "Question", "Message", "QuestionDetail", "Agent", "Stats"];
    for op in OPERATIONS {
        let names = op.body.map(|(n, _)| n).into_iter().chain(op.ok.iter().filter_map(|(_, n)| *n));
        for name in names {
            assert!(
                checked_elsewhere.contains(&name) || cases.iter().any(|(n, _)| *n == name),
                "{} {}: no wire value is checked against {name}",
                op.method,
                op.path
            );
        }
    }
}
