//! `GET /api/v1/openapi.json`: the API described as OpenAPI 3.1. The operation table below is the
//! one place the endpoints are listed for clients; a test calls every entry against the router,
//! so the two cannot drift apart.

use serde_json::{Value, json};

/// One operation: method, path, who may call it, summary, request body schema (if any).
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub role: &'static str,
    pub summary: &'static str,
    pub body: Option<&'static str>,
}

const fn op(
    method: &'static str,
    path: &'static str,
    role: &'static str,
    summary: &'static str,
    body: Option<&'static str>,
) -> Operation {
    Operation { method, path, role, summary, body }
}

pub const OPERATIONS: &[Operation] = &[
    op("get", "/healthz", "none", "Liveness: 200 {\"status\":\"ok\"} while the server runs.", None),
    op("get", "/api/v1/openapi.json", "none", "This document.", None),
    op(
        "get",
        "/api/v1/directory",
        "agent",
        "Configured functions and topics (with SLA minutes), and channels: [{name, max, counting, mention_prefix}], each channel's post length limit for the composer.",
        None,
    ),
    op(
        "get",
        "/api/v1/queue",
        "agent",
        "The shared queue, most urgent first (earliest SLA deadline). Filters: state (open, claimed, awaiting_approval, resolved, held), held=true (posts held back as spam, with held_reason; never in the default list), function, topic, mine, unclaimed, include_resolved; cursor pagination with cursor and limit (1-500, default 100).",
        None,
    ),
    op(
        "post",
        "/api/v1/next",
        "agent",
        "Claim the best question for me: my customers' follow-ups first, then the most urgent question I may take (eligibility widens as deadlines near). {\"question\": null} when there is none.",
        None,
    ),
    op(
        "get",
        "/api/v1/questions/{id}",
        "agent",
        "A question with all its messages (inbound, replies, internal notes) and the customer's earlier questions.",
        None,
    ),
    op(
        "post",
        "/api/v1/questions/{id}/claim",
        "agent",
        "Take an exclusive lease on a question. 409 already_claimed names the holder; 409 at_capacity when you hold your capacity.",
        None,
    ),
    op("post", "/api/v1/questions/{id}/renew", "agent", "Extend your lease.", None),
    op(
        "post",
        "/api/v1/questions/{id}/release",
        "agent",
        "Return a question you hold to the queue (leads: any question).",
        None,
    ),
    op(
        "post",
        "/api/v1/questions/{id}/reply",
        "agent",
        "Reply to the customer (holder only). A novice's reply waits for approval. Retries with the same idempotency_key (or Idempotency-Key header) are stored once.",
        Some("Reply"),
    ),
    op(
        "post",
        "/api/v1/questions/{id}/notes",
        "agent",
        "Add an internal note, visible to employees only.",
        Some("Note"),
    ),
    op(
        "post",
        "/api/v1/questions/{id}/transfer",
        "agent",
        "Hand a question to a function (back to its queue) or to a colleague, with an optional note that travels with it.",
        Some("Transfer"),
    ),
    op(
        "post",
        "/api/v1/questions/{id}/resolve",
        "agent",
        "Mark a question done (holder, or a lead). 409 customer_waiting while the customer has no answer, unless without_reply is true.",
        Some("Resolve"),
    ),
    op("post", "/api/v1/questions/{id}/reopen", "agent", "Put a resolved question back in the queue.", None),
    op(
        "post",
        "/api/v1/questions/{id}/viewing",
        "agent",
        "Tell colleagues you are looking at a question (a question.viewing event; their queues show it).",
        None,
    ),
    op(
        "post",
        "/api/v1/questions/{id}/topic",
        "agent",
        "Correct the topic the classifier chose; the question moves to that topic's function and deadline target (a question.recategorized event, counted in stats).",
        Some("Topic"),
    ),
    op(
        "post",
        "/api/v1/questions/{id}/unhold",
        "lead",
        "Let a held question (blocked account, duplicate, flood) into the shared queue with a fresh deadline (a question.unheld event).",
        None,
    ),
    op(
        "get",
        "/api/v1/approvals",
        "mentor",
        "Novice replies waiting for me (a mentor's mentees; every novice for leads).",
        None,
    ),
    op(
        "post",
        "/api/v1/messages/{id}/approve",
        "mentor",
        "Approve a novice's reply, optionally edited; it goes to the outbox.",
        Some("Approve"),
    ),
    op(
        "post",
        "/api/v1/messages/{id}/reject",
        "mentor",
        "Send a novice's reply back with a reason; it is never posted.",
        Some("Reject"),
    ),
    op("get", "/api/v1/me", "agent", "Who I am: handle, function, role, skills, capacity, status.", None),
    op("put", "/api/v1/me/status", "agent", "Set my presence: online, away or offline.", Some("Status")),
    op("get", "/api/v1/stats", "agent", "Queue statistics for shift leads (definitions in the README).", None),
    op(
        "post",
        "/api/v1/inbound",
        "admin or webhook signature",
        "Customer messages in: one object or an array of up to 1000, stored in one transaction (all or none). Threads follow-ups, reopens resolved questions, drops duplicates by (channel, external_id), holds posts from blocked accounts, repeats and floods (outcome held).",
        Some("Inbound"),
    ),
    op("get", "/api/v1/agents", "admin", "All employees.", None),
    op(
        "post",
        "/api/v1/agents",
        "admin",
        "Add an employee; the answer holds their token, shown this once.",
        Some("NewAgent"),
    ),
    op(
        "post",
        "/api/v1/agents/{handle}/disable",
        "admin",
        "Disable an employee: tokens revoked, held questions back to the queue, open event streams ended. The last enabled admin cannot be disabled (409 last_admin).",
        None,
    ),
    op(
        "post",
        "/api/v1/agents/{handle}/enable",
        "admin",
        "Enable a disabled employee again; their old tokens stay revoked (issue a new one).",
        None,
    ),
    op(
        "post",
        "/api/v1/agents/{handle}/tokens",
        "admin",
        "Issue another token (shown once); revoke_others revokes the earlier ones.",
        Some("TokenRequest"),
    ),
    op(
        "get",
        "/api/v1/events",
        "agent",
        "Server-Sent Events: every change with a monotonically increasing id. Resume with Last-Event-ID (or ?after=N); a 'reload' event means: fetch a snapshot, then continue.",
        None,
    ),
];

fn schemas() -> Value {
    let s = |props: Value, required: &[&str]| json!({ "type": "object", "properties": props, "required": required });
    let text = json!({ "type": "string" });
    json!({
        "Error": s(json!({ "error": s(json!({ "code": text, "message": text }), &["code", "message"]) }), &["error"]),
        "Reply": s(json!({ "body": text, "idempotency_key": text }), &["body"]),
        "Note": s(json!({ "body": text }), &["body"]),
        "Transfer": s(json!({ "to_function": text, "to_agent": text, "note": text }), &[]),
        "Approve": s(json!({ "body": { "type": "string", "description": "the reply as edited; omit to approve as written" } }), &[]),
        "Reject": s(json!({ "reason": text }), &["reason"]),
        "Topic": s(json!({ "topic": text }), &["topic"]),
        "Resolve": s(json!({ "without_reply": { "type": "boolean" } }), &[]),
        "Status": s(json!({ "status": { "enum": ["online", "away", "offline"] } }), &["status"]),
        "Inbound": s(json!({
            "channel": text, "external_id": text,
            "customer": s(json!({ "handle": text, "name": text }), &["handle", "name"]),
            "text": text, "conversation_id": text, "in_reply_to": text,
            "received_at": { "type": "integer", "description": "ms since the Unix epoch" },
            "priority": { "type": "integer", "minimum": -10, "maximum": 10 }
        }), &["channel", "external_id", "customer", "text"]),
        "NewAgent": s(json!({
            "handle": text, "display_name": text, "function": text,
            "role": { "enum": ["agent", "mentor", "lead", "admin"] },
            "novice": { "type": "boolean" }, "mentor": text,
            "capacity": { "type": "integer", "minimum": 1, "maximum": 50 },
            "skills": { "type": "array", "items": s(json!({ "topic": text, "proficiency": { "type": "integer", "minimum": 1, "maximum": 5 } }), &["topic", "proficiency"]) },
            "signature": text
        }), &["handle", "display_name", "function"]),
        "TokenRequest": s(json!({ "revoke_others": { "type": "boolean" } }), &[]),
    })
}

pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for o in OPERATIONS {
        let mut operation = json!({
            "summary": o.summary,
            "x-helphive-role": o.role,
            "responses": {
                "200": { "description": "OK (201 where something was created)" },
                "4XX": { "description": "The caller's mistake", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            }
        });
        if o.role != "none" {
            operation["security"] = json!([{ "bearer": [] }]);
        }
        let params: Vec<Value> = o
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        if !params.is_empty() {
            operation["parameters"] = Value::Array(params);
        }
        if let Some(b) = o.body {
            operation["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{b}") } } }
            });
        }
        let entry = paths.entry(o.path.to_string()).or_insert_with(|| json!({}));
        entry[o.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "helphive API", "version": env!("CARGO_PKG_VERSION"),
                  "description": "The shared help desk's HTTP API. Errors are JSON {\"error\":{\"code\",\"message\"}}." },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } }
        }
    })
}
