//! The async backend client: typed calls for the HTTP API and the live event stream with
//! reconnect and resume. The terminal talks to the server only through this.

use std::time::Duration;

use futures_util::{Stream, StreamExt};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::model::{Agent, AgentStatus, Event, Message, Question, QuestionDetail, Stats};
use crate::wire::{
    AgentList, Approvals, ApproveRequest, Directory, ErrorAnswer, Health, InboundOutcome, NewAgent, NewAgentAnswer,
    NewInbound, NextAnswer, NoteRequest, QueuePage, RejectRequest, ReplyRequest, ResolveRequest, StatusRequest,
    StreamEnd, StreamReload, TopicRequest, TransferRequest,
};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error.
    #[error("{message}")]
    Api { status: u16, code: String, message: String },
    /// The server could not be reached or the connection broke.
    #[error("cannot reach the server at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// The server answered something that is not the API's JSON.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
}

impl ClientError {
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub type ClientResult<T> = Result<T, ClientError>;

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// Filters for the queue listing; `None` / `false` means no filter.
#[derive(Debug, Clone, Default)]
pub struct QueueQuery {
    pub state: Option<String>,
    pub function: Option<String>,
    pub topic: Option<String>,
    pub mine: bool,
    pub unclaimed: bool,
    pub include_resolved: bool,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// What the event stream delivers.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    Event(Event),
    /// The server no longer has every event since the last one seen: load a fresh snapshot.
    Reload {
        latest: i64,
    },
    /// The connection dropped; the stream reconnects by itself and resumes.
    Disconnected(String),
    /// (Re)connected.
    Connected,
}

/// Where the event stream resumes: the newest event id the client has taken in, from the
/// stream itself or from a snapshot (`QueuePage::as_of`). Shared between the stream task, which
/// reads it on every reconnect, and whoever loads snapshots; it only moves forward.
#[derive(Debug, Clone, Default)]
pub struct StreamPosition(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl StreamPosition {
    const NONE: i64 = -1;

    pub fn new(start: Option<i64>) -> StreamPosition {
        StreamPosition(std::sync::Arc::new(std::sync::atomic::AtomicI64::new(start.unwrap_or(Self::NONE))))
    }

    /// The id to resume after; `None` when nothing has been taken in yet ("from now").
    pub fn get(&self) -> Option<i64> {
        let v = self.0.load(std::sync::atomic::Ordering::SeqCst);
        (v != Self::NONE).then_some(v)
    }

    /// Everything up to `id` has been taken in.
    pub fn advance(&self, id: i64) {
        self.0.fetch_max(id, std::sync::atomic::Ordering::SeqCst);
    }

    /// The server's word on where we are (a `reload`): it may lie behind ours, after its
    /// database was replaced.
    pub fn reset(&self, id: i64) {
        self.0.store(id, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Client {
    pub fn new(base_url: &str, token: &str) -> ClientResult<Client> {
        let base = base_url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::Unreachable {
                url: base.clone(),
                reason: "the server URL must start with http:// or https://".into(),
            });
        }
        let http = crate::tls::client_builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(Client { http, base, token: token.to_string() })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// A client for the same server with another token.
    pub fn with_token(&self, token: &str) -> Client {
        Client { http: self.http.clone(), base: self.base.clone(), token: token.to_string() }
    }

    fn unreachable(&self, e: reqwest::Error) -> ClientError {
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            reason = s.to_string();
            source = s.source();
        }
        ClientError::Unreachable { url: self.base.clone(), reason }
    }

    async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        headers: &[(&str, String)],
    ) -> ClientResult<T> {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .timeout(Duration::from_secs(30))
            .bearer_auth(&self.token);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| self.unreachable(e))?;
        decode(resp).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> ClientResult<T> {
        self.call::<(), T>(Method::GET, path, None, &[]).await
    }

    /// A POST without a body.
    async fn post<T: DeserializeOwned>(&self, path: &str) -> ClientResult<T> {
        self.call::<(), T>(Method::POST, path, None, &[]).await
    }

    async fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(&self, path: &str, body: &B) -> ClientResult<T> {
        self.call(Method::POST, path, Some(body), &[]).await
    }

    pub async fn health(&self) -> ClientResult<()> {
        let _: Health = self.get("/healthz").await?;
        Ok(())
    }

    pub async fn me(&self) -> ClientResult<Agent> {
        self.get("/api/v1/me").await
    }

    pub async fn set_status(&self, status: AgentStatus) -> ClientResult<Agent> {
        let body = StatusRequest { status: status.as_str().into() };
        self.call(Method::PUT, "/api/v1/me/status", Some(&body), &[]).await
    }

    pub async fn directory(&self) -> ClientResult<Directory> {
        self.get("/api/v1/directory").await
    }

    pub async fn queue(&self, q: &QueueQuery) -> ClientResult<QueuePage> {
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(v) = &q.state {
            params.push(("state", v.clone()));
        }
        if let Some(v) = &q.function {
            params.push(("function", v.clone()));
        }
        if let Some(v) = &q.topic {
            params.push(("topic", v.clone()));
        }
        for (name, on) in [("mine", q.mine), ("unclaimed", q.unclaimed), ("include_resolved", q.include_resolved)] {
            if on {
                params.push((name, "true".into()));
            }
        }
        if let Some(v) = &q.cursor {
            params.push(("cursor", v.clone()));
        }
        if let Some(v) = q.limit {
            params.push(("limit", v.to_string()));
        }
        let resp = self
            .http
            .get(format!("{}/api/v1/queue", self.base))
            .query(&params)
            .timeout(Duration::from_secs(30))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        decode(resp).await
    }

    pub async fn question(&self, id: i64) -> ClientResult<QuestionDetail> {
        self.get(&format!("/api/v1/questions/{id}")).await
    }

    pub async fn claim(&self, id: i64) -> ClientResult<Question> {
        self.post(&format!("/api/v1/questions/{id}/claim")).await
    }

    pub async fn renew(&self, id: i64) -> ClientResult<Question> {
        self.post(&format!("/api/v1/questions/{id}/renew")).await
    }

    pub async fn release(&self, id: i64) -> ClientResult<Question> {
        self.post(&format!("/api/v1/questions/{id}/release")).await
    }

    pub async fn next(&self) -> ClientResult<Option<Question>> {
        let answer: NextAnswer = self.post("/api/v1/next").await?;
        Ok(answer.question)
    }

    /// Sends a reply. The idempotency key makes a retry (after a timeout, a lost connection)
    /// safe: the server stores the reply once.
    pub async fn reply(&self, id: i64, body: &str, idempotency_key: &str) -> ClientResult<Message> {
        self.call(
            Method::POST,
            &format!("/api/v1/questions/{id}/reply"),
            Some(&ReplyRequest { body: body.into(), idempotency_key: None }),
            &[("idempotency-key", idempotency_key.to_string())],
        )
        .await
    }

    pub async fn note(&self, id: i64, body: &str) -> ClientResult<Message> {
        self.post_json(&format!("/api/v1/questions/{id}/notes"), &NoteRequest { body: body.into() }).await
    }

    pub async fn transfer_to_function(&self, id: i64, function: &str, note: Option<&str>) -> ClientResult<Question> {
        let body =
            TransferRequest { to_function: Some(function.into()), to_agent: None, note: note.map(str::to_string) };
        self.post_json(&format!("/api/v1/questions/{id}/transfer"), &body).await
    }

    pub async fn transfer_to_agent(&self, id: i64, handle: &str, note: Option<&str>) -> ClientResult<Question> {
        let body = TransferRequest { to_function: None, to_agent: Some(handle.into()), note: note.map(str::to_string) };
        self.post_json(&format!("/api/v1/questions/{id}/transfer"), &body).await
    }

    /// Lets a question held as possible spam into the queue (leads).
    pub async fn unhold(&self, id: i64) -> ClientResult<Question> {
        self.post(&format!("/api/v1/questions/{id}/unhold")).await
    }

    /// Corrects the topic the classifier chose.
    pub async fn recategorize(&self, id: i64, topic: &str) -> ClientResult<Question> {
        self.post_json(&format!("/api/v1/questions/{id}/topic"), &TopicRequest { topic: topic.into() }).await
    }

    pub async fn resolve(&self, id: i64) -> ClientResult<Question> {
        self.post(&format!("/api/v1/questions/{id}/resolve")).await
    }

    /// Resolves although the customer has no answer (spam, answered elsewhere).
    pub async fn resolve_without_reply(&self, id: i64) -> ClientResult<Question> {
        self.post_json(&format!("/api/v1/questions/{id}/resolve"), &ResolveRequest { without_reply: true }).await
    }

    pub async fn reopen(&self, id: i64) -> ClientResult<Question> {
        self.post(&format!("/api/v1/questions/{id}/reopen")).await
    }

    /// Tells colleagues you are looking at a question.
    pub async fn mark_viewing(&self, id: i64) -> ClientResult<()> {
        let resp = self
            .http
            .post(format!("{}/api/v1/questions/{id}/viewing", self.base))
            .timeout(Duration::from_secs(10))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        if resp.status().is_success() {
            return Ok(());
        }
        Err(decode::<serde::de::IgnoredAny>(resp)
            .await
            .err()
            .unwrap_or(ClientError::Protocol("unexpected answer".into())))
    }

    pub async fn approvals(&self) -> ClientResult<Vec<(Message, Question)>> {
        let answer: Approvals = self.get("/api/v1/approvals").await?;
        Ok(answer.items.into_iter().map(|a| (a.message, a.question)).collect())
    }

    pub async fn approve(&self, message_id: i64, edited: Option<&str>) -> ClientResult<Message> {
        let body = ApproveRequest { body: edited.map(str::to_string) };
        self.post_json(&format!("/api/v1/messages/{message_id}/approve"), &body).await
    }

    pub async fn reject(&self, message_id: i64, reason: &str) -> ClientResult<Message> {
        self.post_json(&format!("/api/v1/messages/{message_id}/reject"), &RejectRequest { reason: reason.into() }).await
    }

    pub async fn stats(&self) -> ClientResult<Stats> {
        self.get("/api/v1/stats").await
    }

    /// Posts a customer message with this client's (admin) token.
    pub async fn inbound(&self, msg: &NewInbound) -> ClientResult<InboundOutcome> {
        self.post_json("/api/v1/inbound", msg).await
    }

    /// Posts a customer message signed with a Standard Webhooks secret instead of a token.
    pub async fn inbound_signed(
        &self,
        msg: &NewInbound,
        secret: &str,
        webhook_id: &str,
        now_secs: i64,
    ) -> ClientResult<InboundOutcome> {
        let body = serde_json::to_vec(msg).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let key = crate::signing::secret_key(secret);
        let sig = crate::signing::sign(&key, webhook_id, now_secs, &body);
        let resp = self
            .http
            .post(format!("{}/api/v1/inbound", self.base))
            .header("content-type", "application/json")
            .header("webhook-id", webhook_id)
            .header("webhook-timestamp", now_secs.to_string())
            .header("webhook-signature", sig)
            .body(body)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        decode(resp).await
    }

    pub async fn agents(&self) -> ClientResult<Vec<Agent>> {
        let list: AgentList = self.get("/api/v1/agents").await?;
        Ok(list.items)
    }

    /// Adds an employee; returns the agent and their token.
    pub async fn add_agent(&self, new: &NewAgent) -> ClientResult<(Agent, String)> {
        let answer: NewAgentAnswer = self.post_json("/api/v1/agents", new).await?;
        Ok((answer.agent, answer.token))
    }

    /// Opens the event stream once, from after `last_event_id`. See [`Client::events`] for the
    /// reconnecting version.
    pub async fn events_once(
        &self,
        last_event_id: Option<i64>,
    ) -> ClientResult<impl Stream<Item = ClientResult<StreamItem>> + use<>> {
        let mut req = self.http.get(format!("{}/api/v1/events", self.base)).bearer_auth(&self.token);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let resp = req.send().await.map_err(|e| self.unreachable(e))?;
        if !resp.status().is_success() {
            return Err(decode::<serde::de::IgnoredAny>(resp)
                .await
                .err()
                .unwrap_or(ClientError::Protocol("event stream refused".into())));
        }
        use eventsource_stream::Eventsource;
        Ok(resp.bytes_stream().eventsource().map(|item| match item {
            Err(e) => Err(ClientError::Unreachable { url: String::new(), reason: e.to_string() }),
            // The server ends a stream when the token is revoked or the server stops; the
            // reconnect then gets a 401 or waits for the server to come back.
            Ok(ev) if ev.event == "end" => {
                let end = serde_json::from_str::<StreamEnd>(&ev.data).ok();
                let reason = match end.as_ref().map(|e| e.reason.as_str()) {
                    Some("revoked") => "the server ended the stream: access revoked",
                    _ => "the server is shutting down",
                };
                Err(ClientError::Unreachable { url: String::new(), reason: reason.into() })
            }
            Ok(ev) if ev.event == "reload" => {
                let latest = serde_json::from_str::<StreamReload>(&ev.data).map(|r| r.latest).unwrap_or(0);
                Ok(StreamItem::Reload { latest })
            }
            Ok(ev) => serde_json::from_str::<Event>(&ev.data)
                .map(StreamItem::Event)
                .map_err(|e| ClientError::Protocol(format!("bad event: {e}"))),
        }))
    }

    /// The live event stream, reconnecting on its own (backoff with jitter, 0.5 s to 15 s) and
    /// resuming from the last event id seen. Dropping the receiver stops it.
    pub fn events(&self, last_event_id: Option<i64>) -> mpsc::Receiver<StreamItem> {
        self.events_from(StreamPosition::new(last_event_id))
    }

    /// [`Client::events`] resuming from a shared position: each reconnect asks for what came
    /// after `position`, which the stream moves with every event and a snapshot loader with the
    /// snapshot's `as_of`. A client that has seen no event yet still resumes from its snapshot.
    pub fn events_from(&self, position: StreamPosition) -> mpsc::Receiver<StreamItem> {
        let (tx, rx) = mpsc::channel(1024);
        let client = self.clone();
        tokio::spawn(async move {
            let last = position;
            let mut failures: u32 = 0;
            loop {
                match client.events_once(last.get()).await {
                    Ok(stream) => {
                        failures = 0;
                        if tx.send(StreamItem::Connected).await.is_err() {
                            return;
                        }
                        let mut stream = std::pin::pin!(stream);
                        let mut reason = "the server closed the stream".to_string();
                        while let Some(item) = stream.next().await {
                            match item {
                                Ok(StreamItem::Event(e)) => {
                                    last.advance(e.id);
                                    if tx.send(StreamItem::Event(e)).await.is_err() {
                                        return;
                                    }
                                }
                                Ok(StreamItem::Reload { latest }) => {
                                    last.reset(latest);
                                    if tx.send(StreamItem::Reload { latest }).await.is_err() {
                                        return;
                                    }
                                }
                                Ok(other) => {
                                    if tx.send(other).await.is_err() {
                                        return;
                                    }
                                }
                                Err(e) => {
                                    reason = e.to_string();
                                    break;
                                }
                            }
                        }
                        if tx.send(StreamItem::Disconnected(reason)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        if e.status() == Some(401) {
                            let _ = tx.send(StreamItem::Disconnected(e.to_string())).await;
                            return;
                        }
                        failures += 1;
                        if failures == 1 && tx.send(StreamItem::Disconnected(e.to_string())).await.is_err() {
                            return;
                        }
                    }
                }
                tokio::time::sleep(backoff(failures)).await;
                if tx.is_closed() {
                    return;
                }
            }
        });
        rx
    }
}

/// Exponential backoff with full jitter: a random wait up to 0.5 s × 2^failures, at most 15 s.
pub fn backoff(failures: u32) -> Duration {
    use rand::Rng;
    let cap_ms = (500u64 << failures.min(5)).min(15_000);
    Duration::from_millis(rand::rng().random_range(cap_ms / 4..=cap_ms))
}

async fn decode<T: DeserializeOwned>(resp: reqwest::Response) -> ClientResult<T> {
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| ClientError::Protocol(e.to_string()))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(format!("{e}")));
    }
    let (code, message) = match serde_json::from_slice::<ErrorAnswer>(&bytes) {
        Ok(ErrorAnswer { error }) => (error.code, error.message),
        Err(_) => (
            "http_error".to_string(),
            match status {
                StatusCode::NOT_FOUND => "not found: is this a helphive server?".into(),
                s => format!("the server answered {s}"),
            },
        ),
    };
    Err(ClientError::Api { status: status.as_u16(), code, message })
}
