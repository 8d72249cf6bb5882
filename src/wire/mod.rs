//! The HTTP API's contract: every request body and every answer body of `/api/v1`, and the
//! payloads of the events on its stream (`events`). The server's handlers take and return these
//! types and the client sends and decodes them, so the two cannot drift apart; the OpenAPI
//! document (`server::openapi`) is held to them by a test that checks a value of each against
//! the schema the document gives for it.
//!
//! Request objects refuse unknown fields (a misspelt optional field must not vanish silently)
//! and take integers as JSON Schema means them (`4.0` too).

pub mod events;

use serde::{Deserialize, Deserializer, Serialize};

use crate::model::{Agent, Customer, Message, Millis, Question, Role, Skill};
use crate::text::{Counting, Limit};

// ---------------------------------------------------------------------------------------------
// Requests.

/// `POST /questions/{id}/reply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    pub body: String,
    /// Retries with the same key are stored once; the `Idempotency-Key` header does the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// `POST /questions/{id}/notes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    pub body: String,
}

/// `POST /questions/{id}/transfer`: exactly one of `to_function` and `to_agent`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_agent: Option<String>,
    /// Travels with the question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `POST /questions/{id}/resolve` (the body is optional).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// Close it although the customer has no answer (spam, answered elsewhere).
    #[serde(default)]
    pub without_reply: bool,
}

/// `POST /questions/{id}/topic`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicRequest {
    pub topic: String,
}

/// `POST /messages/{id}/approve` (the body is optional).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// The reply as the reviewer edited it; absent: approve as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// `POST /messages/{id}/reject`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    pub reason: String,
}

/// `PUT /me/status`. A string rather than `AgentStatus`, so that the server can say which
/// values it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    pub status: String,
}

/// `POST /agents/{handle}/tokens` (the body is optional).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    #[serde(default)]
    pub revoke_others: bool,
}

/// A customer message as `POST /inbound` takes it (one, or an array of them), and as the
/// connectors hand it to the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInbound {
    /// `mastodon`, `bluesky`, `x`, `webhook`, or any other channel name.
    pub channel: String,
    /// The message's id on its network; a second delivery with the same id is dropped.
    pub external_id: String,
    #[serde(deserialize_with = "closed_customer")]
    pub customer: Customer,
    pub text: String,
    /// The network's thread id, if it has one.
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// External id of the message this one answers: joins the question that holds it.
    #[serde(default)]
    pub in_reply_to: Option<String>,
    /// When the customer posted it; defaults to when the server received it.
    #[serde(default, deserialize_with = "optional_integer")]
    pub received_at: Option<Millis>,
    #[serde(default, deserialize_with = "optional_integer")]
    pub priority: Option<i32>,
}

/// A new employee, as `POST /agents` takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAgent {
    pub handle: String,
    pub display_name: String,
    pub function: String,
    #[serde(default = "default_role")]
    pub role: Role,
    #[serde(default)]
    pub novice: bool,
    #[serde(default)]
    pub mentor: Option<String>,
    #[serde(default = "default_capacity", deserialize_with = "integer")]
    pub capacity: u32,
    #[serde(default, deserialize_with = "closed_skills")]
    pub skills: Vec<Skill>,
    #[serde(default)]
    pub signature: String,
}

fn default_role() -> Role {
    Role::Agent
}

fn default_capacity() -> u32 {
    3
}

/// `Customer` with unknown fields refused (the model type stays open for answers).
fn closed_customer<'de, D: Deserializer<'de>>(d: D) -> Result<Customer, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Closed {
        handle: String,
        name: String,
    }
    let c = Closed::deserialize(d)?;
    Ok(Customer { handle: c.handle, name: c.name })
}

/// `Skill`s with unknown fields refused and the level taken as an [`Integer`].
fn closed_skills<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Skill>, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Closed {
        topic: String,
        #[serde(deserialize_with = "integer")]
        proficiency: u8,
    }
    let skills = Vec::<Closed>::deserialize(d)?;
    Ok(skills.into_iter().map(|s| Skill { topic: s.topic, proficiency: s.proficiency }).collect())
}

// ---------------------------------------------------------------------------------------------
// Answers.

/// Every error, on every path: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorAnswer {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable, for programs: `already_claimed`, `not_holder`, `invalid`…
    pub code: String,
    /// For people.
    pub message: String,
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
}

/// `GET /directory`: functions and topics as configured (transfer targets, filters) and each
/// channel's post length limit (the composer's counter).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Directory {
    pub channels: Vec<ChannelLimit>,
    pub functions: Vec<FunctionEntry>,
    pub topics: Vec<TopicEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionEntry {
    pub display: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicEntry {
    pub function: String,
    pub name: String,
    pub sla_minutes: u32,
}

/// A composer limit for the terminal, per channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelLimit {
    pub name: String,
    pub max: usize,
    /// `characters` (Mastodon), `graphemes` (Bluesky) or `weighted` (X).
    pub counting: String,
    /// The network adds the customer's `@handle` in front; it counts toward `max`.
    pub mention_prefix: bool,
}

impl ChannelLimit {
    pub fn new(name: &str, limit: Limit, mention_prefix: bool) -> ChannelLimit {
        ChannelLimit {
            name: name.to_string(),
            max: limit.max,
            counting: counting_name(limit.counting).into(),
            mention_prefix,
        }
    }

    /// The limit to count with; `None` for a way of counting this client does not know.
    pub fn limit(&self) -> Option<Limit> {
        let counting = match self.counting.as_str() {
            "characters" => Counting::Characters,
            "graphemes" => Counting::Graphemes,
            "weighted" => Counting::Weighted,
            _ => return None,
        };
        Some(Limit { max: self.max, counting })
    }
}

pub fn counting_name(c: Counting) -> &'static str {
    match c {
        Counting::Characters => "characters",
        Counting::Graphemes => "graphemes",
        Counting::Weighted => "weighted",
    }
}

/// `GET /queue`: one page of the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuePage {
    pub items: Vec<Question>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
    /// How many questions match the filter in all.
    pub total: i64,
    /// The id of the newest event this page reflects: every change up to it is in the page. A
    /// client resumes its event stream after it (`Last-Event-ID: as_of`) and misses nothing,
    /// even when the stream broke before its first event. Absent from older servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<i64>,
}

/// `POST /next`: the question claimed for the caller, `null` when there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextAnswer {
    pub question: Option<Question>,
}

/// `GET /approvals`: novice replies waiting for the caller.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Approvals {
    pub items: Vec<Approval>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub message: Message,
    pub question: Question,
}

/// `GET /agents`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AgentList {
    pub items: Vec<Agent>,
}

/// `POST /agents`: the new employee and their token, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAgentAnswer {
    pub agent: Agent,
    pub token: String,
}

/// `POST /agents/{handle}/tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenAnswer {
    pub handle: String,
    pub token: String,
}

/// `POST /inbound` with one message: what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundOutcome {
    /// `created`, `followup`, `reopened`, `duplicate`, or `held` (kept out of the queue).
    pub outcome: String,
    pub question: Question,
    /// Id of the stored message (for a duplicate: of the first copy).
    pub message_id: i64,
}

/// `POST /inbound` with an array: one answer per message, in the same order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundBatch {
    pub items: Vec<BatchAnswer>,
}

/// One message's answer in a batch: its outcome, or why it was not stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BatchAnswer {
    Stored(Box<InboundOutcome>),
    /// `outcome` is `rejected`.
    Rejected {
        outcome: String,
        error: ErrorBody,
    },
}

impl BatchAnswer {
    pub fn rejected(code: &str, message: String) -> BatchAnswer {
        BatchAnswer::Rejected { outcome: "rejected".into(), error: ErrorBody { code: code.into(), message } }
    }
}

/// The stream's `end` event: why the server ended it (`revoked`, `shutdown`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamEnd {
    pub reason: String,
}

/// The stream's `reload` event: events were missed; fetch a snapshot, then go on after `latest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamReload {
    pub latest: i64,
    pub reason: String,
}

// ---------------------------------------------------------------------------------------------
// Integers.

/// A JSON integer as JSON Schema means it: any number without a fractional part, so `4.0` too.
/// The document types these fields `integer`, and a client that writes `4.0` should not be
/// refused for it.
pub struct Integer(pub i64);

impl<'de> Deserialize<'de> for Integer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = i64;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
                Ok(v)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
                i64::try_from(v).map_err(|_| E::custom(format!("{v} is out of range")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
                // i64::MAX as f64 rounds up to 2^63, which is out of range, hence `<`.
                if v.fract() == 0.0 && v >= i64::MIN as f64 && v < i64::MAX as f64 {
                    Ok(v as i64)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Float(v), &self))
                }
            }
        }
        d.deserialize_any(Visitor).map(Integer)
    }
}

/// For `#[serde(deserialize_with)]`: an [`Integer`] that fits `T`.
pub fn integer<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    let Integer(n) = Deserialize::deserialize(d)?;
    T::try_from(n).map_err(|_| serde::de::Error::custom(format!("{n} is out of range")))
}

/// As [`integer`], for an optional field (`null` or absent: `None`).
pub fn optional_integer<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    match <Option<Integer> as Deserialize>::deserialize(d)? {
        None => Ok(None),
        Some(Integer(n)) => {
            T::try_from(n).map(Some).map_err(|_| serde::de::Error::custom(format!("{n} is out of range")))
        }
    }
}

#[cfg(test)]
mod tests;
