//! The Bluesky connector against a real local Bluesky network: `@atproto/dev-env` (PLC, PDS and
//! appview, the same code bsky.social runs) started on loopback by `scripts/test`, which points
//! HELPHIVE_BLUESKY_DEVNET at a JSON file with its address and two accounts, `brand.test` (the
//! help desk) and `customer.test`. The network is shared by the tests of one run, so each test
//! makes its own posts and finds them by their URI.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Options, new_agent, spawn_app_with};
use helphive::channels::bluesky::Bluesky;
use helphive::channels::{self, Channels, Connector, Outgoing, outbox};
use helphive::config::ChannelConfig;
use helphive::model::Role;
use helphive::store::QueueFilter;
use serde_json::{Value, json};

struct Devnet {
    pds: String,
    brand: (String, String, String),
    customer: (String, String, String),
}

fn devnet() -> Devnet {
    let path = std::env::var("HELPHIVE_BLUESKY_DEVNET").unwrap_or_default();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("HELPHIVE_BLUESKY_DEVNET ('{path}') names no devnet file ({e}): run the tests with scripts/test, which starts a local Bluesky network and sets it")
    });
    let v: Value = serde_json::from_str(&text).unwrap();
    let account = |k: &str| {
        let a = &v[k];
        (
            a["handle"].as_str().unwrap().to_string(),
            a["did"].as_str().unwrap().to_string(),
            a["password"].as_str().unwrap().to_string(),
        )
    };
    Devnet { pds: v["pds"].as_str().unwrap().to_string(), brand: account("brand"), customer: account("customer") }
}

/// The customer's side, in plain XRPC: what their Bluesky app does.
struct Customer {
    base: String,
    http: reqwest::Client,
    did: String,
    jwt: String,
}

impl Customer {
    async fn login(net: &Devnet) -> Customer {
        let http = helphive::tls::client_builder().build().unwrap();
        let v: Value = http
            .post(format!("{}/xrpc/com.atproto.server.createSession", net.pds))
            .json(&json!({ "identifier": net.customer.0, "password": net.customer.2 }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Customer {
            base: net.pds.clone(),
            http,
            did: v["did"].as_str().unwrap().to_string(),
            jwt: v["accessJwt"].as_str().unwrap().to_string(),
        }
    }

    /// Posts `text` (mentioning `@brand.test` with a facet), under `reply` if given; (uri, cid).
    async fn post(&self, text: &str, brand_did: &str, reply: Option<Value>) -> (String, String) {
        let at = text.find("@brand.test").unwrap();
        let mut record = json!({
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": helphive::channels::http::format_iso8601(helphive::clock::now_ms()),
            "facets": [{
                "index": { "byteStart": at, "byteEnd": at + "@brand.test".len() },
                "features": [{ "$type": "app.bsky.richtext.facet#mention", "did": brand_did }],
            }],
        });
        if let Some(r) = reply {
            record["reply"] = r;
        }
        let r = self
            .http
            .post(format!("{}/xrpc/com.atproto.repo.createRecord", self.base))
            .bearer_auth(&self.jwt)
            .json(&json!({ "repo": self.did, "collection": "app.bsky.feed.post", "record": record }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "post refused: {}", r.text().await.unwrap());
        let v: Value = r.json().await.unwrap();
        (v["uri"].as_str().unwrap().to_string(), v["cid"].as_str().unwrap().to_string())
    }

    /// The thread under `uri` as the customer's app shows it.
    async fn thread(&self, uri: &str) -> Value {
        self.http
            .get(format!("{}/xrpc/app.bsky.feed.getPostThread", self.base))
            .query(&[("uri", uri), ("depth", "10")])
            .bearer_auth(&self.jwt)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

fn connector(net: &Devnet) -> Arc<Bluesky> {
    let c: ChannelConfig = toml::from_str(&format!(
        "kind = \"bluesky\"\nbase_url = \"{}\"\naccount = \"{}\"\ntoken_env = \"UNUSED\"\n",
        net.pds, net.brand.0
    ))
    .unwrap();
    Arc::new(Bluesky::new(&c, net.brand.2.clone()))
}

/// Reads the brand's notifications until the question for `uri` is in the store; the appview
/// indexes a post within a second or two.
async fn wait_for_question(app: &common::TestApp, bsky: &dyn Connector, uri: &str) -> helphive::model::Question {
    for _ in 0..150 {
        channels::ingest_once(&app.state.desk(), bsky).await.unwrap();
        let page = app.store.queue(&QueueFilter { limit: 200, ..Default::default() }).await.unwrap();
        if let Some(q) = page.items.into_iter().find(|q| q.external_id == uri) {
            return q;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no question for {uri} within 30 s");
}

/// Replies by the brand directly under the thread's post.
fn brand_replies(thread: &Value, brand_did: &str) -> Vec<Value> {
    let replies = thread["thread"]["replies"].as_array().into_iter().flatten();
    replies.filter(|r| r["post"]["author"]["did"] == json!(brand_did)).cloned().collect()
}

impl Customer {
    /// The brand's replies under `uri` once the appview has indexed `want` of them (it takes a
    /// moment after the post).
    async fn wait_for_replies(&self, uri: &str, brand_did: &str, want: usize) -> (Value, Vec<Value>) {
        for _ in 0..100 {
            let thread = self.thread(uri).await;
            let replies = brand_replies(&thread, brand_did);
            if replies.len() >= want {
                return (thread, replies);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let thread = self.thread(uri).await;
        let replies = brand_replies(&thread, brand_did);
        (thread, replies)
    }
}

#[tokio::test]
async fn bluesky_mention_in_reply_out_in_the_customers_thread() {
    let net = devnet();
    let customer = Customer::login(&net).await;
    let bsky = connector(&net);
    bsky.prepare(helphive::clock::now_ms()).await.unwrap();
    let dyn_bsky: Arc<dyn Connector> = bsky.clone();
    let app = spawn_app_with(Options {
        channels: Some(Channels { connectors: vec![(dyn_bsky.clone(), Duration::from_secs(3600))] }),
        ..Default::default()
    })
    .await;
    let (_, dana) = app.agent(new_agent("dana", "delivery", Role::Agent, &[("delivery", 4)])).await;

    // The customer mentions the brand: the question appears, as the customer wrote it.
    let tag = helphive::clock::now_ms();
    let text = format!("@brand.test where is my order {tag}? The delivery is late 📦");
    let (uri, cid) = customer.post(&text, &net.brand.1, None).await;
    let q = wait_for_question(&app, dyn_bsky.as_ref(), &uri).await;
    assert_eq!(q.channel, "bluesky");
    assert_eq!(q.customer.handle, "customer.test");
    assert_eq!(q.text, text);
    assert_eq!(q.topic, "delivery");
    assert_eq!(q.conversation_id.as_deref(), Some(uri.as_str()), "a new post is its thread's root");

    // The agent answers, naming the customer and a link: the reply appears under the post.
    dana.claim(q.id).await.unwrap();
    let body = "Hi @customer.test, it ships today: https://example.com/track 🚚";
    dana.reply(q.id, body, &format!("bsky-{tag}")).await.unwrap();
    let r = outbox::drain_once(&app.state.desk(), app.state.now()).await.unwrap();
    assert_eq!(r.posted, 1, "{r:?}");
    let sent = app.admin.question(q.id).await.unwrap().messages.into_iter().find(|m| m.status.is_some()).unwrap();
    let reply_uri = sent.external_id.clone().expect("the posted reply's URI is recorded");
    assert!(reply_uri.starts_with(&format!("at://{}/app.bsky.feed.post/", net.brand.1)), "{reply_uri}");

    let (thread, replies) = customer.wait_for_replies(&uri, &net.brand.1, 1).await;
    assert_eq!(replies.len(), 1, "one reply in the customer's thread: {thread}");
    let post = &replies[0]["post"];
    assert_eq!(post["uri"], json!(reply_uri));
    assert_eq!(post["record"]["text"], json!(body));
    assert_eq!(post["record"]["reply"]["root"], json!({ "uri": uri, "cid": cid }));
    assert_eq!(post["record"]["reply"]["parent"], json!({ "uri": uri, "cid": cid }));
    // Facets count UTF-8 bytes: they cover exactly "@customer.test" and the link.
    let facets = post["record"]["facets"].as_array().expect("facets");
    let covered = |f: &Value| {
        let (s, e) =
            (f["index"]["byteStart"].as_u64().unwrap() as usize, f["index"]["byteEnd"].as_u64().unwrap() as usize);
        body.as_bytes()[s..e].to_vec()
    };
    let mention = facets.iter().find(|f| f["features"][0]["$type"] == "app.bsky.richtext.facet#mention").unwrap();
    assert_eq!(covered(mention), b"@customer.test");
    assert_eq!(mention["features"][0]["did"], json!(net.customer.1));
    let link = facets.iter().find(|f| f["features"][0]["$type"] == "app.bsky.richtext.facet#link").unwrap();
    assert_eq!(covered(link), b"https://example.com/track");

    // The customer answers under the brand's reply: a follow-up on the same question, and the
    // next reply keeps the thread's root (taken from the parent's own root).
    let follow = format!("@brand.test thanks, and can I change the address {tag}?");
    let reply_cid = post["cid"].as_str().unwrap().to_string();
    let (follow_uri, follow_cid) = customer
        .post(
            &follow,
            &net.brand.1,
            Some(json!({ "root": { "uri": uri, "cid": cid }, "parent": { "uri": reply_uri, "cid": reply_cid } })),
        )
        .await;
    let mut joined = false;
    for _ in 0..150 {
        channels::ingest_once(&app.state.desk(), dyn_bsky.as_ref()).await.unwrap();
        let d = app.admin.question(q.id).await.unwrap();
        if d.messages.iter().any(|m| m.external_id.as_deref() == Some(follow_uri.as_str())) {
            joined = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(joined, "the follow-up joined question #{}", q.id);

    // An attempt that reached the network but was never recorded (the process died) is found
    // by its record key and not posted again.
    let item = app.store.outbox_due(&["bluesky".into()], app.state.now(), 10).await.unwrap();
    assert!(item.is_empty(), "nothing else is due");
    dana.claim(q.id).await.ok();
    dana.reply(q.id, "Yes: reply with the new address and we change it.", &format!("bsky2-{tag}")).await.unwrap();
    let now = app.state.now();
    let item = app.store.outbox_due(&["bluesky".into()], now, 10).await.unwrap().remove(0);
    app.store.outbox_begin(item.id, now).await.unwrap();
    let out = Outgoing {
        text: dyn_bsky.compose(&item.body, &item.customer_handle),
        in_reply_to: item.reply_to.clone().unwrap(),
        visibility: None,
        idempotency_key: item.idempotency_key.clone(),
        created_at: item.created_at,
    };
    assert_eq!(out.in_reply_to, follow_uri, "the second reply goes under the follow-up");
    let first = dyn_bsky.post(&out, now).await.unwrap();
    let r = outbox::drain_once(&app.state.desk(), now + 1000).await.unwrap();
    assert_eq!(r.posted, 1);
    let d = app.admin.question(q.id).await.unwrap();
    let second = d.messages.iter().rfind(|m| m.status.is_some()).unwrap();
    assert_eq!(second.external_id.as_deref(), Some(first.id.as_str()), "the earlier post was found, not repeated");
    let (thread, replies) = customer.wait_for_replies(&follow_uri, &net.brand.1, 1).await;
    // Had it been posted twice, the second copy would show within the same wait.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, again) = customer.wait_for_replies(&follow_uri, &net.brand.1, 1).await;
    assert_eq!((replies.len(), again.len()), (1, 1), "posted once: {thread}");
    let record = &replies[0]["post"]["record"];
    assert_eq!(record["reply"]["root"], json!({ "uri": uri, "cid": cid }), "the root stays the first post");
    assert_eq!(record["reply"]["parent"], json!({ "uri": follow_uri, "cid": follow_cid }));

    // One login for all of it; the session is reused, not made per request.
    assert_eq!(bsky.session_counts().0, 1);
}

#[tokio::test]
async fn bluesky_limit_is_300_graphemes_and_a_longer_reply_is_refused_before_sending() {
    let net = devnet();
    let bsky = connector(&net);
    assert_eq!(bsky.limit().max, 300);
    // A family emoji is one grapheme of seven code points.
    assert_eq!(bsky.length("👨‍👩‍👧‍👦 ok"), 4);
    let dyn_bsky: Arc<dyn Connector> = bsky.clone();
    let app = spawn_app_with(Options {
        channels: Some(Channels { connectors: vec![(dyn_bsky.clone(), Duration::from_secs(3600))] }),
        ..Default::default()
    })
    .await;
    bsky.prepare(helphive::clock::now_ms()).await.unwrap();
    let customer = Customer::login(&net).await;
    let tag = helphive::clock::now_ms();
    let (uri, _) = customer.post(&format!("@brand.test is the coupon {tag} valid online?"), &net.brand.1, None).await;
    let q = wait_for_question(&app, dyn_bsky.as_ref(), &uri).await;
    let (_, mia) = app.agent(new_agent("mia", "marketing", Role::Agent, &[("promotions", 4)])).await;
    mia.claim(q.id).await.unwrap();
    mia.reply(q.id, &"é".repeat(301), "long").await.unwrap();
    let r = outbox::drain_once(&app.state.desk(), app.state.now()).await.unwrap();
    assert_eq!(r.failed, 1);
    let d = app.admin.question(q.id).await.unwrap();
    let m = d.messages.iter().find(|m| m.status.is_some()).unwrap();
    assert!(format!("{m:?}").contains("too long for bluesky: 301"), "{m:?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(brand_replies(&customer.thread(&uri).await, &net.brand.1).is_empty(), "nothing was posted");
}

/// The real network hands out tokens that live for hours, so expiry cannot be waited for in a
/// test: this small stand-in for a PDS answers the first call after login with `ExpiredToken`,
/// as a PDS does, and counts logins and refreshes.
#[tokio::test]
async fn an_expired_session_is_refreshed_not_logged_in_again() {
    use axum::Json;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Seen {
        logins: AtomicUsize,
        refreshes: AtomicUsize,
        expired_once: AtomicUsize,
    }
    let seen = Arc::new(Seen::default());
    let session = |access: &str| {
        Json(json!({ "accessJwt": access, "refreshJwt": "refresh-1", "did": "did:plc:brand", "handle": "brand.test" }))
    };
    let app = axum::Router::new()
        .route(
            "/xrpc/com.atproto.server.createSession",
            post({
                let seen = seen.clone();
                move || async move {
                    seen.logins.fetch_add(1, Ordering::SeqCst);
                    session("access-1")
                }
            }),
        )
        .route(
            "/xrpc/com.atproto.server.refreshSession",
            post({
                let seen = seen.clone();
                move |h: HeaderMap| async move {
                    assert_eq!(h["authorization"], "Bearer refresh-1", "refreshed with the refresh token");
                    seen.refreshes.fetch_add(1, Ordering::SeqCst);
                    session("access-2")
                }
            }),
        )
        .route(
            "/xrpc/app.bsky.notification.listNotifications",
            get({
                let seen = seen.clone();
                move |h: HeaderMap| async move {
                    if h["authorization"] == "Bearer access-1" && seen.expired_once.fetch_add(1, Ordering::SeqCst) == 0
                    {
                        return (
                            StatusCode::BAD_REQUEST,
                            Json(json!({ "error": "ExpiredToken", "message": "Token has expired" })),
                        );
                    }
                    assert_eq!(h["authorization"], "Bearer access-2");
                    (StatusCode::OK, Json(json!({ "notifications": [] })))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let c: ChannelConfig = toml::from_str(&format!(
        "kind = \"bluesky\"\nbase_url = \"http://{addr}\"\naccount = \"brand.test\"\ntoken_env = \"UNUSED\"\n"
    ))
    .unwrap();
    let bsky = Bluesky::new(&c, "app-password".into());
    bsky.prepare(helphive::clock::now_ms()).await.unwrap();
    for _ in 0..3 {
        let page = bsky.fetch(None, helphive::clock::now_ms()).await.unwrap();
        assert!(page.items.is_empty());
    }
    assert_eq!(seen.logins.load(Ordering::SeqCst), 1, "logged in once");
    assert_eq!(seen.refreshes.load(Ordering::SeqCst), 1, "refreshed once, after the expiry");
    assert_eq!(bsky.session_counts(), (1, 1));
}
