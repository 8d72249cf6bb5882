//! `GET /api/v1/openapi.json`: the API described as OpenAPI 3.1, the complete contract: every
//! operation with its parameters, request body, each status it answers and the schema of each
//! answer. The operation table below is the one place the endpoints are listed for clients.
//!
//! The document is written by hand and held to the server by tests rather than derived from the
//! types (which would mean a schema-generation crate and attributes across `model` and `store`):
//! tests/api.rs calls every entry against the router and checks each real answer against its
//! schema (objects are closed, so a field added to a type without the document fails there), and
//! tests/fuzz.rs lets schemathesis generate requests from it against a live `helphive serve`.
//! The request and answer bodies are the types of `wire`; tests/api.rs also checks a value of
//! each against its schema here.
//! Names of functions and topics come from the configuration, so valid values are enumerated.

use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::model::Millis;

/// One operation of the API.
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    /// Who may call it: `none`, or the least role (`agent`, `mentor`, `lead`, `admin`).
    pub role: &'static str,
    pub summary: &'static str,
    /// Request body: schema name and whether it must be sent.
    pub body: Option<(&'static str, bool)>,
    /// Successful answers: status and schema name (`None`: no content).
    pub ok: &'static [(u16, Option<&'static str>)],
    /// Error statuses beyond those that follow from the rest (authentication, role, path ids,
    /// request body: see [`Operation::errors`]).
    pub errors: &'static [u16],
}

const OP: Operation =
    Operation { method: "get", path: "", role: "agent", summary: "", body: None, ok: &[], errors: &[] };

const QUESTION: &[(u16, Option<&str>)] = &[(200, Some("Question"))];
const MESSAGE: &[(u16, Option<&str>)] = &[(200, Some("Message"))];

pub const OPERATIONS: &[Operation] = &[
    Operation {
        path: "/healthz",
        role: "none",
        summary: "Liveness: 200 {\"status\":\"ok\"} while the server runs.",
        ok: &[(200, Some("Health"))],
        ..OP
    },
    Operation {
        path: "/api/v1/openapi.json",
        role: "none",
        summary: "This document.",
        ok: &[(200, Some("OpenApi"))],
        ..OP
    },
    Operation {
        path: "/api/v1/directory",
        summary: "Configured functions and topics (with SLA minutes), and each channel's post length limit for the composer.",
        ok: &[(200, Some("Directory"))],
        ..OP
    },
    Operation {
        path: "/api/v1/queue",
        summary: "The shared queue, most urgent first (earliest SLA deadline). Held posts (possible spam) are only listed under state=held or held=true; resolved ones with state=resolved or include_resolved=true. Pages with cursor and limit.",
        ok: &[(200, Some("QueuePage"))],
        errors: &[400],
        ..OP
    },
    Operation {
        method: "post",
        path: "/api/v1/next",
        summary: "Claim the best question for me: my customers' follow-ups first, then the most urgent question I may take (eligibility widens as deadlines near). {\"question\": null} when there is none.",
        ok: &[(200, Some("Next"))],
        errors: &[409],
        ..OP
    },
    Operation {
        path: "/api/v1/questions/{id}",
        summary: "A question with all its messages (inbound, replies, internal notes) and the customer's earlier questions.",
        ok: &[(200, Some("QuestionDetail"))],
        ..OP
    },
    Operation {
        method: "post",
        path: "/api/v1/questions/{id}/claim",
        summary: "Take an exclusive lease on a question. 409 already_claimed names the holder; 409 at_capacity when you hold your capacity.",
        ok: QUESTION,
        errors: &[409],
        ..OP
    },
    Operation {
        method: "post",
        path: "/api/v1/questions/{id}/renew",
        summary: "Extend your lease.",
        ok: QUESTION,
        errors: &[409],
        ..OP
    },
    Operation {
        method: "post",
        path: "/api/v1/questions/{id}/release",
        summary: "Return a question you hold to the queue (leads: any question).",
        ok: QUESTION,
        errors: &[409],
        ..OP
    },
    Operation {
        method: "post",
        path: "/api/v1/questions/{id}/reply",
        summary: "Reply to the customer (holder only). A novice's reply waits for approval. Retries with the same idempotency_key (or Idempotency-Key header) are stored once and answered with the first reply.",
        body: Some(("Reply", true)),
        ok: &[(201, Some("Message"))],
        errors: &[409],
        ..OP
    },
    Operation {
        method: "post",
        path: "/api/v1/questions/{id}/notes",
        summary: "Add an internal note, visible to employees only.",
        body: Some(("Note", true)),
        ok: &[(201, Some("Message"))],
        errors: &[409],
        ..OP
    },
    Operation {
        method: "post",
        path: "/api/v1/questions/{id}/transfer",
        summary: "Hand a question to a function (back to its queue) or to a colleague, with an optional note that travels with it.",
        body: Some(("Transfer", true)),
        ok: QUESTION,
        errors: &[409],
        ..OP
    },
    Operation {
        method: "post",
        path: "/api/v1/questions/{id}/resolve",
        summary: "Mark a question done (holder, or a lead). 409 customer_waiting while the customer has no answer, unless without_reply is true.",
        body: Some(("Resolve", false)),
        ok: QUESTION,
        errors: &[409],
        ..OP
    },
    Operation {
        method: "post",
        path: "/api/v1/questions/{id}/reopen",
        summary: "Put a resolved question back in the queue.",
        ok: QUESTION,
        errors: &[409],
        ..OP
    },
    Operation {
        method: "post",
        path: "/api/v1/questions/{id}/viewing",
        summary: "Tell colleagues you are looking at a question (a question.viewing event; their queues show it).",
        ok: &[(204, None)],
        ..OP
    },
    Operation {
        method: "post",
        path: "/api/v1/questions/{id}/topic",
        summary: "Correct the topic the classifier chose; the question moves to that topic's function and deadline target (a question.recategorized event, counted in stats).",
        body: Some(("Topic", true)),
        ok: QUESTION,
        errors: &[409],
        ..OP
    },
    Operation {
        method: "post",
        path: "/api/v1/questions/{id}/unhold",
        role: "lead",
        summary: "Let a held question (blocked account, duplicate, flood) into the shared queue with a fresh deadline (a question.unheld event).",
        ok: QUESTION,
        errors: &[409],
        ..OP
    },
    Operation {
        path: "/api/v1/approvals",
        role: "mentor",
        summary: "Novice replies waiting for me (a mentor's mentees; every novice for leads).",
        ok: &[(200, Some("Approvals"))],
        ..OP
    },
    Operation {
        method: "post",
        path: "/api/v1/messages/{id}/approve",
        role: "mentor",
        summary: "Approve a novice's reply, optionally edited; it goes to the outbox.",
        body: Some(("Approve", false)),
        ok: MESSAGE,
        errors: &[409],
    },
    Operation {
        method: "post",
        path: "/api/v1/messages/{id}/reject",
        role: "mentor",
        summary: "Send a novice's reply back with a reason; it is never posted.",
        body: Some(("Reject", true)),
        ok: MESSAGE,
        errors: &[409],
    },
    Operation {
        path: "/api/v1/me",
        summary: "Who I am: handle, function, role, skills, capacity, status.",
        ok: &[(200, Some("Agent"))],
        ..OP
    },
    Operation {
        method: "put",
        path: "/api/v1/me/status",
        summary: "Set my presence: online, away or offline.",
        body: Some(("Status", true)),
        ok: &[(200, Some("Agent"))],
        ..OP
    },
    Operation {
        path: "/api/v1/stats",
        summary: "Queue statistics for shift leads (definitions in the README).",
        ok: &[(200, Some("Stats"))],
        ..OP
    },
    Operation {
        method: "post",
        path: "/api/v1/inbound",
        role: "admin",
        summary: "Customer messages in, with an admin token or a Standard Webhooks signature: one object or an array of up to 1000; the messages of an array that can be stored go in together in one transaction, each other item is answered rejected with the reason. Threads follow-ups, reopens resolved questions, drops duplicates by (channel, external_id), holds posts from blocked accounts, repeats and floods (outcome held). 201 when anything new was stored, else 200.",
        body: Some(("InboundBody", true)),
        ok: &[(200, Some("InboundAnswer")), (201, Some("InboundAnswer"))],
        ..OP
    },
    Operation {
        path: "/api/v1/agents",
        role: "admin",
        summary: "All employees.",
        ok: &[(200, Some("AgentList"))],
        ..OP
    },
    Operation {
        method: "post",
        path: "/api/v1/agents",
        role: "admin",
        summary: "Add an employee; the answer holds their token, shown this once. 409 handle_taken; 404 when the mentor named does not exist.",
        body: Some(("NewAgent", true)),
        ok: &[(201, Some("NewAgentAnswer"))],
        errors: &[404, 409],
    },
    Operation {
        method: "post",
        path: "/api/v1/agents/{handle}/disable",
        role: "admin",
        summary: "Disable an employee: tokens revoked, held questions back to the queue, open event streams ended. The last enabled admin cannot be disabled (409 last_admin).",
        ok: &[(200, Some("Agent"))],
        errors: &[409],
        ..OP
    },
    Operation {
        method: "post",
        path: "/api/v1/agents/{handle}/enable",
        role: "admin",
        summary: "Enable a disabled employee again; their old tokens stay revoked (issue a new one). 409 not_disabled.",
        ok: &[(200, Some("Agent"))],
        errors: &[409],
        ..OP
    },
    Operation {
        method: "post",
        path: "/api/v1/agents/{handle}/tokens",
        role: "admin",
        summary: "Issue another token (shown once); revoke_others revokes the earlier ones. 409 agent_disabled.",
        body: Some(("TokenRequest", false)),
        ok: &[(201, Some("TokenAnswer"))],
        errors: &[409],
    },
    Operation {
        path: "/api/v1/events",
        summary: "Server-Sent Events: every change with a monotonically increasing id (each event's data is an Event). Resume with Last-Event-ID (or ?after=N); a 'reload' event (its data a StreamReload) means: fetch a snapshot, then continue after latest; an 'end' event (a StreamEnd) says why the server ended the stream.",
        ok: &[(200, Some("EventStream"))],
        errors: &[400],
        ..OP
    },
];

impl Operation {
    /// Every error status the operation can answer, ascending.
    pub fn errors(&self) -> Vec<u16> {
        // 503: the server holds its most connections, or the database stayed busy; try again.
        let mut out: Vec<u16> = self.errors.to_vec();
        out.push(503);
        if self.role != "none" {
            out.push(401);
        }
        if self.role != "none" && self.role != "agent" {
            out.push(403);
        }
        if self.path.contains('{') {
            // 400: an id that is not a positive number, a segment that is not UTF-8.
            out.extend([400, 404]);
        }
        match self.body {
            // The webhook endpoint reads the body as bytes (its signature covers them as sent).
            // 408: the body did not arrive within server.body_timeout_seconds.
            Some(("InboundBody", _)) => out.extend([400, 408, 413, 422]),
            Some(_) => out.extend([400, 408, 413, 415, 422]),
            None => {}
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Characters Rust's `char::is_whitespace` (and so `str::trim`) takes for white space.
const WS: &str = r"\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

fn non_blank(max_chars: u32) -> Value {
    json!({
        "type": "string", "minLength": 1, "maxLength": max_chars, "pattern": format!("[^{WS}]"),
        "description": format!("at most {max_chars} characters, not only white space")
    })
}

fn nullable(schema: Value) -> Value {
    match schema.get("type").cloned() {
        Some(Value::String(t)) => {
            let mut s = schema;
            s["type"] = json!([t, "null"]);
            if let Some(Value::Array(values)) = s.get_mut("enum") {
                values.push(Value::Null);
            }
            s
        }
        _ => json!({ "anyOf": [schema, { "type": "null" }] }),
    }
}

/// A closed object: these properties, of which `required` must be present, and no others.
fn obj(props: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false })
}

fn all_required(props: Value) -> Value {
    let names: Vec<String> = props.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    obj(props, &names)
}

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

fn schemas(config: &Config, now: Millis) -> Value {
    let string = json!({ "type": "string" });
    let int = json!({ "type": "integer", "format": "int64" });
    let id = json!({ "type": "integer", "format": "int64", "minimum": 1 });
    let millis = json!({ "type": "integer", "format": "int64", "description": "ms since the Unix epoch" });
    let count = json!({ "type": "integer", "format": "int64", "minimum": 0 });
    let functions: Vec<&str> = config.functions.iter().map(|f| f.name.as_str()).collect();
    let topics: Vec<&str> = config.topics.iter().map(|t| t.name.as_str()).collect();
    let function = json!({ "type": "string", "enum": functions });
    let topic = json!({ "type": "string", "enum": topics });
    let identifier = json!({ "type": "string", "pattern": "^[a-z0-9_-]{1,64}$" });
    let role = json!({ "type": "string", "enum": ["agent", "mentor", "lead", "admin"] });
    let agent_status = json!({ "type": "string", "enum": ["online", "away", "offline"] });
    let question_state =
        json!({ "type": "string", "enum": ["open", "claimed", "awaiting_approval", "resolved", "held"] });
    let reply_status =
        json!({ "type": "string", "enum": ["awaiting_approval", "approved", "posted", "rejected", "failed"] });
    let text = non_blank(crate::store::MAX_BODY_CHARS as u32);
    let short = |min: u32| json!({ "type": "string", "minLength": min, "maxLength": 256 });
    let pct = |v: Value| nullable(json!({ "type": "number", "description": v }));
    let list: Vec<(&str, Value)> = vec![
        ("ErrorBody", all_required(json!({ "code": string, "message": string }))),
        ("Error", all_required(json!({ "error": r("ErrorBody") }))),
        ("Health", all_required(json!({ "status": { "const": "ok" } }))),
        ("OpenApi", json!({ "type": "object", "required": ["openapi", "paths"] })),
        ("Customer", all_required(json!({ "handle": string, "name": string }))),
        (
            "Question",
            obj(
                json!({
                    "id": id, "channel": string, "external_id": string, "conversation_id": nullable(string.clone()),
                    "customer": r("Customer"), "text": string, "received_at": millis, "topic": string,
                    "function": string,
                    "confidence": { "type": "number", "minimum": 0, "maximum": 1 },
                    "matched_rule": nullable(string.clone()),
                    "unsure": { "type": "boolean", "description": "the topic model was not sure: offered to the whole hive at once" },
                    "guesses": {
                        "type": "array", "maxItems": 2,
                        "description": "the topic model's two most likely topics with their probabilities, best first",
                        "items": { "type": "array", "minItems": 2, "maxItems": 2, "prefixItems": [
                            string, { "type": "number", "minimum": 0, "maximum": 1 }
                        ] }
                    },
                    "priority": { "type": "integer" },
                    "sla_due_at": millis, "state": question_state, "holder": nullable(string.clone()),
                    "lease_until": nullable(millis.clone()), "claimed_at": nullable(millis.clone()),
                    "answered_by": nullable(string.clone()), "awaiting_since": nullable(millis.clone()),
                    "first_response_at": nullable(millis.clone()), "resolved_at": nullable(millis.clone()),
                    "updated_at": millis, "inbound_count": count, "last_inbound_at": millis,
                    "held_reason": { "type": "string", "description": "held questions only: why" }
                }),
                &[
                    "id",
                    "channel",
                    "external_id",
                    "conversation_id",
                    "customer",
                    "text",
                    "received_at",
                    "topic",
                    "function",
                    "confidence",
                    "matched_rule",
                    "unsure",
                    "guesses",
                    "priority",
                    "sla_due_at",
                    "state",
                    "holder",
                    "lease_until",
                    "claimed_at",
                    "answered_by",
                    "awaiting_since",
                    "first_response_at",
                    "resolved_at",
                    "updated_at",
                    "inbound_count",
                    "last_inbound_at",
                ],
            ),
        ),
        (
            "Message",
            obj(
                json!({
                    "id": id, "question_id": id,
                    "kind": { "type": "string", "enum": ["inbound", "reply", "note"] },
                    "author": string, "body": string, "created_at": millis,
                    "external_id": nullable(string.clone()), "in_reply_to": nullable(string.clone()),
                    "status": nullable(reply_status), "reviewed_by": nullable(string.clone()),
                    "review_note": nullable(string.clone()), "idempotency_key": nullable(string.clone()),
                    "posted_url": { "type": "string", "description": "posted replies: the post's address" },
                    "error": { "type": "string", "description": "failed replies: why the network refused it" }
                }),
                &[
                    "id",
                    "question_id",
                    "kind",
                    "author",
                    "body",
                    "created_at",
                    "external_id",
                    "in_reply_to",
                    "status",
                    "reviewed_by",
                    "review_note",
                    "idempotency_key",
                ],
            ),
        ),
        (
            "QuestionDetail",
            all_required(json!({
                "question": r("Question"), "messages": array(r("Message")), "earlier": array(r("Question"))
            })),
        ),
        (
            "Skill",
            all_required(json!({
                "topic": string, "proficiency": { "type": "integer", "minimum": 1, "maximum": 5 }
            })),
        ),
        (
            "Agent",
            all_required(json!({
                "id": id, "handle": string, "display_name": string, "function": string, "role": role,
                "novice": { "type": "boolean" }, "mentor": nullable(string.clone()),
                "capacity": { "type": "integer", "minimum": 1, "maximum": 50 }, "status": agent_status,
                "signature": string, "skills": array(r("Skill")), "disabled": { "type": "boolean" },
                "created_at": millis
            })),
        ),
        (
            "QueuePage",
            all_required(json!({
                "items": array(r("Question")),
                "next_cursor": nullable(json!({ "type": "string", "description": "pass as cursor for the next page" })),
                "total": count,
                "as_of": {
                    "type": "integer", "format": "int64", "minimum": 0,
                    "description": "the newest event id this page reflects: resume the event stream after it (Last-Event-ID)"
                }
            })),
        ),
        ("Next", all_required(json!({ "question": nullable(r("Question")) }))),
        (
            "Approvals",
            all_required(json!({
                "items": array(all_required(json!({ "message": r("Message"), "question": r("Question") })))
            })),
        ),
        ("AgentList", all_required(json!({ "items": array(r("Agent")) }))),
        (
            "NewAgentAnswer",
            all_required(json!({
                "agent": r("Agent"), "token": { "type": "string", "description": "shown this once" }
            })),
        ),
        ("TokenAnswer", all_required(json!({ "handle": string, "token": string }))),
        (
            "InboundOutcome",
            all_required(json!({
                "outcome": { "type": "string", "enum": ["created", "followup", "reopened", "duplicate", "held"] },
                "question": r("Question"),
                "message_id": id
            })),
        ),
        ("InboundRejected", all_required(json!({ "outcome": { "const": "rejected" }, "error": r("ErrorBody") }))),
        (
            "InboundAnswer",
            json!({
                "oneOf": [
                    r("InboundOutcome"),
                    all_required(json!({
                        "items": array(json!({ "oneOf": [r("InboundOutcome"), r("InboundRejected")] }))
                    }))
                ],
                "description": "one outcome for one message; for an array, {items} in the same order, each message that could not be stored answered rejected with the reason"
            }),
        ),
        (
            "Directory",
            all_required(json!({
                "functions": array(all_required(json!({ "name": string, "display": string }))),
                "topics": array(all_required(json!({
                    "name": string, "function": string, "sla_minutes": { "type": "integer", "minimum": 0 }
                }))),
                "channels": array(all_required(json!({
                    "name": string, "max": { "type": "integer", "minimum": 0 },
                    "counting": { "type": "string", "enum": ["characters", "graphemes", "weighted"] },
                    "mention_prefix": { "type": "boolean" }
                })))
            })),
        ),
        (
            "Percentiles",
            all_required(json!({
                "count": count, "median_ms": nullable(int.clone()), "p90_ms": nullable(int.clone())
            })),
        ),
        (
            "FunctionStats",
            all_required(json!({
                "function": string, "open": count, "unclaimed": count, "claimed": count,
                "awaiting_approval": count, "breaching": count, "oldest_waiting_ms": nullable(int.clone()),
                "agents_online": count, "agents_away": count
            })),
        ),
        (
            "AgentStats",
            all_required(json!({
                "handle": string, "display_name": string, "function": string, "status": agent_status,
                "holding": count, "capacity": count,
                "occupancy": { "type": "number", "minimum": 0 }, "answered_today": count
            })),
        ),
        (
            "Stats",
            all_required(json!({
                "at": millis, "day_start": millis, "open": count, "unclaimed": count, "claimed": count,
                "awaiting_approval": count, "breaching": count, "held": count,
                "oldest_waiting_ms": nullable(int.clone()),
                "first_response_last_hour": r("Percentiles"), "first_response_today": r("Percentiles"),
                "sla_met_today": count, "sla_missed_today": count,
                "sla_attainment_pct_today": pct(json!("0 to 100; null until a question counts")),
                "answered_last_hour": count, "answered_today": count, "topic_corrections_today": count,
                "arrivals_5min": array(count.clone()), "answers_5min": array(count.clone()),
                "functions": array(r("FunctionStats")), "agents": array(r("AgentStats"))
            })),
        ),
        (
            "Event",
            all_required(json!({
                "id": id, "at": millis, "kind": { "type": "string", "description": "question.new, reply.sent, …" },
                "question_id": nullable(id.clone()), "actor": nullable(string.clone()),
                "data": { "description": "kind-specific; question events carry the question after the change" }
            })),
        ),
        ("EventStream", json!({ "type": "string", "description": "text/event-stream; each event's data is an Event" })),
        (
            "StreamReload",
            all_required(json!({
                "latest": { "type": "integer", "format": "int64", "minimum": 0, "description": "resume after this event id" },
                "reason": string
            })),
        ),
        ("StreamEnd", all_required(json!({ "reason": { "type": "string", "description": "revoked or shutdown" } }))),
        (
            "Reply",
            obj(
                json!({
                    "body": text,
                    "idempotency_key": nullable(json!({ "type": "string", "minLength": 1, "maxLength": 128 }))
                }),
                &["body"],
            ),
        ),
        ("Note", obj(json!({ "body": text }), &["body"])),
        (
            "Transfer",
            json!({
                "type": "object",
                "properties": { "to_function": nullable(function.clone()), "to_agent": nullable(string.clone()),
                                "note": nullable(text.clone()) },
                "additionalProperties": false,
                "oneOf": [
                    { "required": ["to_function"], "properties": { "to_function": { "type": "string" } } },
                    { "required": ["to_agent"], "properties": { "to_agent": { "type": "string" } } }
                ],
                "description": "exactly one of to_function and to_agent"
            }),
        ),
        ("Resolve", obj(json!({ "without_reply": { "type": "boolean" } }), &[])),
        (
            "Approve",
            obj(
                json!({
                    "body": nullable(json!({ "type": "string", "minLength": 1, "maxLength": crate::store::MAX_BODY_CHARS,
                                             "pattern": format!("[^{WS}]"),
                                             "description": "the reply as edited; omit to approve as written" }))
                }),
                &[],
            ),
        ),
        ("Reject", obj(json!({ "reason": text }), &["reason"])),
        ("Topic", obj(json!({ "topic": topic }), &["topic"])),
        ("Status", obj(json!({ "status": agent_status }), &["status"])),
        (
            "Inbound",
            obj(
                json!({
                    "channel": identifier,
                    "external_id": non_blank(256),
                    "customer": obj(json!({ "handle": non_blank(256), "name": { "type": "string", "maxLength": 256 } }),
                                    &["handle", "name"]),
                    "text": { "type": "string", "pattern": format!("[^{WS}]"),
                              "description": format!("not only white space; a text over {} characters is cut, with a marker", crate::store::MAX_BODY_CHARS) },
                    "conversation_id": nullable(short(1)),
                    "in_reply_to": nullable(short(1)),
                    "received_at": nullable(json!({
                        "type": "integer", "format": "int64",
                        "minimum": now - crate::store::MAX_MESSAGE_AGE_MS,
                        "maximum": now + crate::store::MAX_CLOCK_AHEAD_MS,
                        "description": "ms since the Unix epoch, within the last year and at most 10 minutes ahead of the server's clock (the bounds as of when this document was served); default: now"
                    })),
                    "priority": nullable(json!({ "type": "integer", "minimum": -10, "maximum": 10 }))
                }),
                &["channel", "external_id", "customer", "text"],
            ),
        ),
        (
            "InboundBody",
            json!({
                "oneOf": [r("Inbound"), {
                    "type": "array", "minItems": 1, "maxItems": 1000,
                    "items": { "description": "an Inbound message; an item that is not one (or cannot be stored) is answered rejected in its place, and the others go in" }
                }]
            }),
        ),
        (
            "NewAgent",
            json!({
                "type": "object",
                "properties": {
                    "handle": { "type": "string", "pattern": format!("^[{WS}]*@*[A-Za-z0-9._-]{{1,32}}[{WS}]*$"),
                                "description": "1 to 32 letters, digits, '.', '_' or '-'; white space around it and leading @s are dropped" },
                    "display_name": non_blank(80),
                    "function": function,
                    "role": role,
                    "novice": { "type": "boolean" },
                    "mentor": nullable(json!({ "type": "string", "description": "an agent with the mentor role or above" })),
                    "capacity": { "type": "integer", "minimum": 1, "maximum": 50 },
                    "skills": array(obj(json!({
                        "topic": identifier, "proficiency": { "type": "integer", "minimum": 1, "maximum": 5 }
                    }), &["topic", "proficiency"])),
                    "signature": string
                },
                "required": ["handle", "display_name", "function"],
                "additionalProperties": false,
                "if": { "properties": { "novice": { "const": true } }, "required": ["novice"] },
                "then": { "required": ["mentor"], "properties": { "mentor": { "type": "string" } } },
                "description": "a novice needs a mentor"
            }),
        ),
        ("TokenRequest", obj(json!({ "revoke_others": { "type": "boolean" } }), &[])),
    ];
    Value::Object(list.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn flag(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description,
            "schema": { "type": "boolean" } })
}

fn query_parameters(path: &str, config: &Config) -> Vec<Value> {
    let functions: Vec<&str> = config.functions.iter().map(|f| f.name.as_str()).collect();
    match path {
        "/api/v1/queue" => vec![
            json!({ "name": "state", "in": "query", "required": false,
                    "schema": { "type": "string", "enum": ["open", "claimed", "awaiting_approval", "resolved", "held"] } }),
            flag("held", "true: only posts held back as possible spam (state held)"),
            json!({ "name": "function", "in": "query", "required": false, "schema": { "type": "string", "enum": functions } }),
            json!({ "name": "topic", "in": "query", "required": false, "schema": { "type": "string" } }),
            flag("mine", "true: only questions I hold"),
            flag("unclaimed", "true: only questions nobody holds"),
            flag("include_resolved", "true: resolved questions too"),
            json!({ "name": "cursor", "in": "query", "required": false,
                    "description": "next_cursor of the previous page",
                    "schema": { "type": "string", "pattern": "^[0-9]{1,18}\\.[0-9]{1,18}$" } }),
            json!({ "name": "limit", "in": "query", "required": false,
                    "schema": { "type": "integer", "minimum": 1, "maximum": 500, "default": 100 } }),
        ],
        "/api/v1/questions/{id}/reply" => vec![json!({
            "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "used when the body has no idempotency_key",
            "schema": { "type": "string", "minLength": 1, "maxLength": 128 }
        })],
        "/api/v1/events" => vec![
            json!({ "name": "Last-Event-ID", "in": "header", "required": false,
                    "description": "the id of the last event seen: the stream resumes after it",
                    "schema": { "type": "string", "pattern": "^[0-9]{0,18}$" } }),
            json!({ "name": "after", "in": "query", "required": false,
                    "description": "as Last-Event-ID, for clients that cannot set headers",
                    "schema": { "type": "integer", "minimum": 0 } }),
        ],
        _ => Vec::new(),
    }
}

fn path_parameter(name: &str) -> Value {
    let schema = match name {
        "id" => json!({ "type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX }),
        _ => json!({ "type": "string", "minLength": 1 }),
    };
    json!({ "name": name, "in": "path", "required": true, "schema": schema })
}

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "Done; no content",
        400 => "Malformed request: a bad id, parameter or JSON body",
        401 => "No valid token (or webhook signature)",
        403 => "Your role may not do this",
        404 => "No such question, message or agent",
        408 => "The body did not arrive in time",
        409 => "A clash with the current state; the code says which (already_claimed, not_holder, at_capacity…)",
        413 => "The body is over the size limit",
        415 => "The body is not sent as application/json",
        422 => "The body is JSON but its values are not acceptable",
        503 => "The server is busy (its most connections, or the database); try again",
        _ => "",
    }
}

/// The OpenAPI 3.1 document for a server with this configuration whose clock says `now`.
pub fn document(config: &Config, now: Millis) -> Value {
    let mut paths = Map::new();
    for o in OPERATIONS {
        let mut responses = Map::new();
        for (status, schema) in o.ok {
            let mut response = json!({ "description": status_text(*status) });
            match schema {
                Some("EventStream") => {
                    response["content"] = json!({ "text/event-stream": { "schema": r("EventStream") } });
                }
                Some(name) => response["content"] = json!({ "application/json": { "schema": r(name) } }),
                None => {}
            }
            responses.insert(status.to_string(), response);
        }
        for status in o.errors() {
            responses.insert(
                status.to_string(),
                json!({ "description": status_text(status),
                        "content": { "application/json": { "schema": r("Error") } } }),
            );
        }
        let mut operation = json!({
            "operationId": format!("{} {}", o.method, o.path),
            "summary": o.summary,
            "x-helphive-role": o.role,
            "responses": responses,
        });
        match (o.role, o.path) {
            ("none", _) => {}
            (_, "/api/v1/inbound") => operation["security"] = json!([{ "bearer": [] }, { "webhook": [] }]),
            _ => operation["security"] = json!([{ "bearer": [] }]),
        }
        let mut params: Vec<Value> = o
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(path_parameter)
            .collect();
        params.extend(query_parameters(o.path, config));
        if !params.is_empty() {
            operation["parameters"] = Value::Array(params);
        }
        if let Some((name, required)) = o.body {
            operation["requestBody"] = json!({
                "required": required,
                "content": { "application/json": { "schema": r(name) } }
            });
        }
        let entry = paths.entry(o.path.to_string()).or_insert_with(|| json!({}));
        entry[o.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "helphive API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The shared help desk's HTTP API. JSON in and out; every error, on every path, is {\"error\": {\"code\", \"message\"}} with a 4xx status (503 when the server is busy). A body sent with any request is read within server.body_timeout_seconds (else 408) and up to the largest body limit (else 413). Request objects refuse unknown fields; answer objects list every field they carry."
        },
        "paths": paths,
        "components": {
            "schemas": schemas(config, now),
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "an employee's token (helphive token issue HANDLE)" },
                "webhook": {
                    "type": "apiKey", "in": "header", "name": "webhook-signature",
                    "description": "Standard Webhooks: webhook-signature with webhook-id and webhook-timestamp, signed with the server's webhook secret (POST /inbound only)"
                }
            }
        }
    })
}
