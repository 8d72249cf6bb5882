//! The `/api/v1` endpoints, except the event stream. Each handler checks the caller's role,
//! calls one store operation, and answers JSON.

use std::collections::HashMap;

use super::extract::{Body, Caller, Path, RawBody, authenticate, parse_id};
use super::{ApiError, ApiResult, AppState, openapi};
use crate::model::{AgentStatus, QuestionState, Role};
use crate::signing;
use crate::store::{QueueFilter, TransferTarget};
use crate::wire::{
    AgentList, Approval, Approvals, ApproveRequest, BatchAnswer, Directory, FunctionEntry, InboundBatch, NewAgent,
    NewAgentAnswer, NewInbound, NextAnswer, NoteRequest, QueuePage, RejectRequest, ReplyRequest, ResolveRequest,
    StatusRequest, TokenAnswer, TokenRequest, TopicEntry, TopicRequest, TransferRequest,
};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};

pub fn router(config: &crate::config::Config) -> Router<AppState> {
    Router::new()
        .route(
            "/openapi.json",
            get(|State(s): State<AppState>| async move { Json(openapi::document(&s.config, s.now())) }),
        )
        .route("/directory", get(directory))
        .route("/queue", get(queue))
        .route("/next", post(next))
        .route("/questions/{id}", get(question))
        .route("/questions/{id}/claim", post(claim))
        .route("/questions/{id}/renew", post(renew))
        .route("/questions/{id}/release", post(release))
        .route("/questions/{id}/reply", post(reply))
        .route("/questions/{id}/notes", post(note))
        .route("/questions/{id}/transfer", post(transfer))
        .route("/questions/{id}/resolve", post(resolve))
        .route("/questions/{id}/reopen", post(reopen))
        .route("/questions/{id}/viewing", post(viewing))
        .route("/questions/{id}/topic", post(recategorize))
        .route("/questions/{id}/unhold", post(unhold))
        .route("/approvals", get(approvals))
        .route("/messages/{id}/approve", post(approve))
        .route("/messages/{id}/reject", post(reject))
        .route("/me", get(me))
        .route("/me/status", axum::routing::put(set_status))
        .route("/stats", get(stats))
        // A batch of up to 1,000 messages is larger than any other request.
        .route("/inbound", post(inbound).layer(DefaultBodyLimit::max(config.webhook.max_batch_bytes)))
        .route("/agents", get(list_agents).post(add_agent))
        .route("/agents/{handle}/disable", post(disable_agent))
        .route("/agents/{handle}/enable", post(enable_agent))
        .route("/agents/{handle}/tokens", post(issue_token))
}

/// Functions and topics as configured, for clients (transfer targets, filters), and each
/// channel's post length limit (for the composer's counter).
async fn directory(State(s): State<AppState>, _c: Caller) -> Json<Directory> {
    let functions =
        s.config.functions.iter().map(|f| FunctionEntry { name: f.name.clone(), display: f.display.clone() }).collect();
    let topics = s
        .config
        .topics
        .iter()
        .map(|t| TopicEntry { name: t.name.clone(), function: t.function.clone(), sla_minutes: t.sla_minutes })
        .collect();
    // The composer counts with these, so a Mastodon instance's own limit reaches the terminal.
    let channels = crate::channels::limits(&s.channels);
    Json(Directory { functions, topics, channels })
}

/// A boolean filter: `true` or `false`, as the document types it (`1`, `yes`… are refused rather
/// than guessed at).
fn flag(params: &HashMap<String, String>, name: &str) -> ApiResult<bool> {
    match params.get(name).map(|s| s.as_str()) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!("{name}={other}: use true or false"))),
    }
}

/// Whether `c` has the form `next_cursor` is given out in: two numbers joined by a dot.
fn is_cursor(c: &str) -> bool {
    let number = |p: &str| (1..=18).contains(&p.len()) && p.bytes().all(|d| d.is_ascii_digit());
    c.split_once('.').is_some_and(|(a, b)| number(a) && number(b))
}

async fn queue(
    State(s): State<AppState>,
    Caller(me): Caller,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<impl IntoResponse> {
    for key in params.keys() {
        if !["state", "held", "function", "topic", "mine", "unclaimed", "include_resolved", "cursor", "limit"]
            .contains(&key.as_str())
        {
            return Err(ApiError::bad_request(format!("unknown filter '{key}'")));
        }
    }
    let state = match params.get("state") {
        None => None,
        Some(v) => Some(QuestionState::parse(v).ok_or_else(|| {
            ApiError::bad_request(format!("state '{v}': use open, claimed, awaiting_approval, resolved or held"))
        })?),
    };
    let held = flag(&params, "held")?;
    let limit = match params.get("limit") {
        None => 100,
        Some(v) => Some(v)
            .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("limit '{v}': use a number from 1 to 500")))?,
    };
    if let Some(f) = params.get("function")
        && !s.config.has_function(f)
    {
        return Err(ApiError::bad_request(format!("unknown function '{f}'")));
    }
    // Checked here, so that a malformed cursor is a 400 like every other bad filter.
    if let Some(c) = params.get("cursor")
        && !is_cursor(c)
    {
        return Err(ApiError::bad_request(format!("cursor '{c}' is not one this server gave out")));
    }
    let filter = QueueFilter {
        state,
        function: params.get("function").cloned(),
        topic: params.get("topic").cloned(),
        holder_id: flag(&params, "mine")?.then_some(me.id),
        unclaimed: flag(&params, "unclaimed")?,
        include_resolved: flag(&params, "include_resolved")?,
        cursor: params.get("cursor").cloned(),
        limit,
    };
    // `held=true` narrows to `state=held`, the posts kept out of the queue as spam; with another
    // state no question matches both.
    let (filter, nothing_matches) = match (held, state) {
        (true, Some(st)) if st != QuestionState::Held => (filter, true),
        (true, _) => (QueueFilter { state: Some(QuestionState::Held), ..filter }, false),
        (false, _) => (filter, false),
    };
    if nothing_matches {
        // Still read, for the page's as_of.
        let page = s.store.queue(&QueueFilter { limit: 1, ..filter }).await?;
        return Ok(Json(QueuePage { items: Vec::new(), next_cursor: None, total: 0, ..page }));
    }
    Ok(Json(s.store.queue(&filter).await?))
}

async fn question(State(s): State<AppState>, _c: Caller, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let id = parse_id(&id, "question")?;
    Ok(Json(s.store.question(id).await?))
}

async fn claim(State(s): State<AppState>, Caller(me): Caller, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let id = parse_id(&id, "question")?;
    Ok(Json(s.store.claim(id, &me, s.lease_ms(), s.now()).await?))
}

async fn next(State(s): State<AppState>, Caller(me): Caller) -> ApiResult<impl IntoResponse> {
    let q = s.hive.next(&s, &me).await?;
    Ok(Json(NextAnswer { question: q }))
}

async fn renew(State(s): State<AppState>, Caller(me): Caller, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let id = parse_id(&id, "question")?;
    Ok(Json(s.store.renew(id, &me, s.lease_ms(), s.now()).await?))
}

async fn release(
    State(s): State<AppState>,
    Caller(me): Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let id = parse_id(&id, "question")?;
    let q = s.store.release(id, &me, s.now()).await?;
    s.reroute();
    Ok(Json(q))
}

async fn reply(
    State(s): State<AppState>,
    Caller(me): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(b): Body<ReplyRequest>,
) -> ApiResult<impl IntoResponse> {
    let id = parse_id(&id, "question")?;
    let header_key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let key = b.idempotency_key.or(header_key);
    let m = s.store.reply(id, &me, &b.body, key.as_deref(), s.lease_ms(), s.now()).await?;
    Ok((StatusCode::CREATED, Json(m)))
}

async fn note(
    State(s): State<AppState>,
    Caller(me): Caller,
    Path(id): Path<String>,
    Body(b): Body<NoteRequest>,
) -> ApiResult<impl IntoResponse> {
    let id = parse_id(&id, "question")?;
    Ok((StatusCode::CREATED, Json(s.store.note(id, &me, &b.body, s.lease_ms(), s.now()).await?)))
}

async fn transfer(
    State(s): State<AppState>,
    Caller(me): Caller,
    Path(id): Path<String>,
    Body(b): Body<TransferRequest>,
) -> ApiResult<impl IntoResponse> {
    let id = parse_id(&id, "question")?;
    let target = match (b.to_function, b.to_agent) {
        (Some(f), None) => TransferTarget::Function(f),
        (None, Some(a)) => TransferTarget::Agent(a),
        _ => return Err(ApiError::bad_request("give exactly one of to_function or to_agent")),
    };
    let q = s.store.transfer(id, &me, target, b.note, s.functions(), s.lease_ms(), s.now()).await?;
    s.reroute();
    Ok(Json(q))
}

async fn resolve(
    State(s): State<AppState>,
    Caller(me): Caller,
    Path(id): Path<String>,
    body: Option<Body<ResolveRequest>>,
) -> ApiResult<impl IntoResponse> {
    let id = parse_id(&id, "question")?;
    let without_reply = body.map(|Body(b)| b.without_reply).unwrap_or(false);
    Ok(Json(s.store.resolve(id, &me, without_reply, s.now()).await?))
}

async fn reopen(State(s): State<AppState>, Caller(me): Caller, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let id = parse_id(&id, "question")?;
    let q = s.store.reopen(id, &me, s.now()).await?;
    s.reroute();
    Ok(Json(q))
}

/// Tells colleagues "I am looking at this" (shown next to the question in their queues).
async fn viewing(
    State(s): State<AppState>,
    Caller(me): Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let id = parse_id(&id, "question")?;
    s.store.viewing(id, &me, s.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Corrects the topic the classifier chose (any employee; counted in the statistics).
async fn recategorize(
    State(s): State<AppState>,
    Caller(me): Caller,
    Path(id): Path<String>,
    Body(b): Body<TopicRequest>,
) -> ApiResult<impl IntoResponse> {
    let id = parse_id(&id, "question")?;
    let topic = s.config.topic(&b.topic).ok_or_else(|| {
        let known: Vec<&str> = s.config.topics.iter().map(|t| t.name.as_str()).collect();
        ApiError::bad_request(format!("unknown topic '{}'; known: {}", b.topic, known.join(", ")))
    })?;
    let q =
        s.store.recategorize(id, &me, &topic.name, &topic.function, topic.sla_minutes as i64 * 60_000, s.now()).await?;
    s.reroute();
    Ok(Json(q))
}

/// A lead lets a held question (possible spam) into the shared queue.
async fn unhold(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Lead, "letting held questions into the queue")?;
    let id = parse_id(&id, "question")?;
    let q = s.store.unhold(id, &caller.0, s.now()).await?;
    s.reroute();
    Ok(Json(q))
}

async fn approvals(State(s): State<AppState>, caller: Caller) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Mentor, "reviewing replies")?;
    let items: Vec<_> = s
        .store
        .pending_approvals(&caller.0)
        .await?
        .into_iter()
        .map(|(message, question)| Approval { message, question })
        .collect();
    Ok(Json(Approvals { items }))
}

async fn approve(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Option<Body<ApproveRequest>>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Mentor, "approving replies")?;
    let id = parse_id(&id, "message")?;
    let edited = body.and_then(|Body(b)| b.body);
    Ok(Json(s.store.approve(id, &caller.0, edited.as_deref(), s.lease_ms(), s.now()).await?))
}

async fn reject(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(b): Body<RejectRequest>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Mentor, "rejecting replies")?;
    let id = parse_id(&id, "message")?;
    Ok(Json(s.store.reject(id, &caller.0, &b.reason, s.lease_ms(), s.now()).await?))
}

async fn me(Caller(me): Caller) -> impl IntoResponse {
    Json(me)
}

async fn set_status(
    State(s): State<AppState>,
    Caller(me): Caller,
    Body(b): Body<StatusRequest>,
) -> ApiResult<impl IntoResponse> {
    let status = AgentStatus::parse(&b.status)
        .ok_or_else(|| ApiError::bad_request(format!("status '{}': use online, away or offline", b.status)))?;
    let agent = s.store.set_status(&me, status, s.now()).await?;
    s.reroute();
    Ok(Json(agent))
}

async fn stats(State(s): State<AppState>, _c: Caller) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.store.stats(s.functions(), s.now()).await?))
}

/// Customer messages in: a single message object, or an array of them. Accepted with an admin
/// token, or with a Standard Webhooks signature when a webhook secret is configured.
async fn inbound(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<impl IntoResponse> {
    if super::extract::bearer(&headers).is_some() {
        let agent = authenticate(&s, &headers).await?;
        Caller(agent).require(Role::Admin, "posting inbound messages with a token")?;
    } else if headers.contains_key("webhook-signature") {
        let key = s.webhook_key.as_ref().ok_or_else(|| {
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "this server has no webhook secret configured")
        })?;
        signing::verify(key, &headers, &body, s.now() / 1000, s.config.webhook.tolerance_seconds as i64)
            .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", e.to_string()))?;
    } else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send an admin bearer token or a Standard Webhooks signature",
        ));
    }
    let (messages, batch) = parse_inbound(&body)?;
    if messages.is_empty() || messages.len() > 1000 {
        return Err(unprocessable("send 1 to 1000 messages at once"));
    }
    if !batch {
        let Some(msg) = messages.into_iter().next() else { return Err(ApiError::bad_request("no message")) };
        // JSON, but not a message (a missing, unknown or mistyped field): 422, as `Body` answers.
        let msg = msg.map_err(unprocessable)?;
        let outcome = s.intake.ingest_one(msg.into()).await?;
        let created = outcome.outcome != "duplicate";
        let status = if created { StatusCode::CREATED } else { StatusCode::OK };
        return Ok((status, Json(outcome)).into_response());
    }
    // A batch: every message that can be stored goes in, in one transaction; each one that
    // cannot is answered `rejected` with the reason, in its place.
    let mut parsed = Vec::with_capacity(messages.len());
    let mut answers: Vec<Option<BatchAnswer>> = Vec::with_capacity(messages.len());
    for msg in messages {
        match msg {
            Ok(msg) => {
                parsed.push(msg.into());
                answers.push(None);
            }
            Err(reason) => answers.push(Some(rejected(ApiError::bad_request(reason)))),
        }
    }
    let mut stored = s.intake.ingest(parsed).await?.into_iter();
    let items: Vec<BatchAnswer> = answers
        .into_iter()
        .map(|a| match a {
            Some(rejected) => rejected,
            None => match stored.next() {
                Some(Ok(o)) => BatchAnswer::Stored(Box::new(o)),
                Some(Err(e)) => rejected(e.into()),
                None => rejected(ApiError::bad_request("not stored")),
            },
        })
        .collect();
    let created = items.iter().any(|i| matches!(i, BatchAnswer::Stored(o) if o.outcome != "duplicate"));
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    // Serialised straight from the outcomes: a batch answer carries a thousand questions.
    Ok((status, Json(InboundBatch { items })).into_response())
}

/// A message of a batch that was not stored, and why.
fn rejected(e: ApiError) -> BatchAnswer {
    BatchAnswer::rejected(e.code, e.message)
}

/// The body of `/inbound`: one message or an array of them (`true`), each parsed on its own so
/// that a malformed message is refused by itself. Parsed straight into messages; only a body
/// that fails is parsed again, as JSON values, to find the bad messages. Not JSON at all: 400.
fn parse_inbound(body: &[u8]) -> ApiResult<(Vec<Result<NewInbound, String>>, bool)> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        if let Ok(v) = serde_json::from_slice::<Vec<NewInbound>>(body) {
            return Ok((v.into_iter().map(Ok).collect(), true));
        }
    } else if let Ok(m) = serde_json::from_slice::<NewInbound>(body) {
        return Ok((vec![Ok(m)], false));
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("body is not JSON: {e}")))?;
    let one = serde_json::from_value::<NewInbound>;
    match value {
        serde_json::Value::Array(items) => {
            let parse = |(i, item): (usize, serde_json::Value)| one(item).map_err(|e| format!("message {i}: {e}"));
            Ok((items.into_iter().enumerate().map(parse).collect(), true))
        }
        other => Ok((vec![one(other).map_err(|e| e.to_string())], false)),
    }
}

/// JSON that parses but is not what the endpoint takes: 422, as `Body` answers elsewhere.
fn unprocessable(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
}

async fn list_agents(State(s): State<AppState>, caller: Caller) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin, "listing agents")?;
    Ok(Json(AgentList { items: s.store.agents().await? }))
}

async fn add_agent(
    State(s): State<AppState>,
    caller: Caller,
    Body(new): Body<NewAgent>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin, "adding agents")?;
    let (agent, token) = s.store.add_agent(new, s.functions(), s.now()).await?;
    Ok((StatusCode::CREATED, Json(NewAgentAnswer { agent, token })))
}

async fn disable_agent(
    State(s): State<AppState>,
    caller: Caller,
    Path(handle): Path<String>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin, "disabling agents")?;
    Ok(Json(s.store.disable_agent(&handle, Some(&caller.0.handle), s.now()).await?))
}

async fn enable_agent(
    State(s): State<AppState>,
    caller: Caller,
    Path(handle): Path<String>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin, "enabling agents")?;
    Ok(Json(s.store.enable_agent(&handle, Some(&caller.0.handle), s.now()).await?))
}

async fn issue_token(
    State(s): State<AppState>,
    caller: Caller,
    Path(handle): Path<String>,
    body: Option<Body<TokenRequest>>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin, "issuing tokens")?;
    let revoke = body.map(|Body(b)| b.revoke_others).unwrap_or(false);
    let token = s.store.issue_token(&handle, revoke, s.now()).await?;
    Ok((StatusCode::CREATED, Json(TokenAnswer { handle: handle.trim_start_matches('@').to_string(), token })))
}
