//! What each kind of event carries in its `data`: one struct per shape, each naming the kinds
//! (`model::event_kind`) it is the payload of. Readers ask for the shape they want
//! (`event.payload::<QuestionOffered>()`) and get `None` for any other kind; kinds they do not
//! know are skipped, so a newer server's events do not break an older client.
//!
//! The store still writes `data` as JSON (the lifecycle rules give the fields beside the
//! question); in tests every event it writes is read back through its payload type and must
//! come out the same (`check`), so a field renamed, added or dropped on either side fails there.
//! Unknown fields are not refused here: an older client reads a newer server's events.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::model::event_kind::*;
use crate::model::{Agent, AgentStatus, Event, Message, Millis, Question};

/// The `data` of the events of `KINDS`.
pub trait Payload: Serialize + DeserializeOwned {
    const KINDS: &'static [&'static str];
}

impl Event {
    /// This event's data as `P`, when the event is of one of `P`'s kinds and its data has that
    /// shape.
    pub fn payload<P: Payload>(&self) -> Option<P> {
        if !P::KINDS.contains(&self.kind.as_str()) {
            return None;
        }
        P::deserialize(&self.data).ok()
    }

    /// The question as it is after the change, for every event that carries one: of the kinds
    /// of [`WithQuestion`], and of kinds newer than this client that carry one too.
    pub fn question(&self) -> Option<Question> {
        WithQuestion::deserialize(&self.data).ok().map(|w| w.question)
    }
}

/// The part every question, reply and note event has: the question after the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WithQuestion {
    pub question: Question,
}

impl Payload for WithQuestion {
    const KINDS: &'static [&'static str] = &[
        QUESTION_NEW,
        QUESTION_FOLLOWUP,
        QUESTION_CLAIMED,
        QUESTION_RENEWED,
        QUESTION_RELEASED,
        QUESTION_LEASE_EXPIRED,
        QUESTION_TRANSFERRED,
        QUESTION_RESOLVED,
        QUESTION_REOPENED,
        QUESTION_OFFERED,
        QUESTION_BREACHED,
        QUESTION_RECATEGORIZED,
        QUESTION_HELD,
        QUESTION_UNHELD,
        REPLY_SENT,
        REPLY_AWAITING_APPROVAL,
        REPLY_APPROVED,
        REPLY_REJECTED,
        REPLY_POSTED,
        REPLY_FAILED,
        NOTE_ADDED,
    ];
}

/// A change that says nothing beyond the question itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionChanged {
    pub question: Question,
}

impl Payload for QuestionChanged {
    const KINDS: &'static [&'static str] =
        &[QUESTION_NEW, QUESTION_CLAIMED, QUESTION_RENEWED, QUESTION_RESOLVED, QUESTION_BREACHED];
}

/// A customer's follow-up joined an open question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionFollowup {
    pub question: Question,
    pub message_id: i64,
}

impl Payload for QuestionFollowup {
    const KINDS: &'static [&'static str] = &[QUESTION_FOLLOWUP];
}

/// Back to the queue: released by its holder (or a lead, or because the holder was disabled),
/// or its lease ran out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionReturned {
    pub question: Question,
    /// `released`, `holder disabled`, `lease expired`.
    pub reason: String,
    pub previous_holder: Option<String>,
}

impl Payload for QuestionReturned {
    const KINDS: &'static [&'static str] = &[QUESTION_RELEASED, QUESTION_LEASE_EXPIRED];
}

/// Handed to a function (back to its queue) or straight to a colleague.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionTransferred {
    pub question: Question,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_agent: Option<String>,
    /// Who held it before.
    pub from: Option<String>,
}

impl Payload for QuestionTransferred {
    const KINDS: &'static [&'static str] = &[QUESTION_TRANSFERRED];
}

/// Back in the queue after it was resolved: by an agent (`reason` `reopened`), or by the
/// customer's follow-up (`followup`, with the message and whom it went back to).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionReopened {
    pub question: Question,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<i64>,
    /// Follow-ups only (`Some`): the agent who answered, when they could take it back
    /// (`Some(None)`: nobody).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub assigned_to: Option<Option<String>>,
}

impl Payload for QuestionReopened {
    const KINDS: &'static [&'static str] = &[QUESTION_REOPENED];
}

/// The router proposes the question to one agent until `expires_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionOffered {
    pub question: Question,
    /// The agent's handle.
    pub to: Option<String>,
    /// How far the search had to widen to find them (`routing::Tier`); the terminal does not
    /// need it, so an offer without it still reads.
    #[serde(default)]
    pub tier: String,
    pub expires_at: Millis,
}

impl Payload for QuestionOffered {
    const KINDS: &'static [&'static str] = &[QUESTION_OFFERED];
}

/// An agent corrected the topic the classifier chose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionRecategorized {
    pub question: Question,
    pub from_topic: String,
    pub to_topic: String,
}

impl Payload for QuestionRecategorized {
    const KINDS: &'static [&'static str] = &[QUESTION_RECATEGORIZED];
}

/// Kept out of the queue as possible spam (`reason`: blocked account, duplicate, flood), or let
/// in by a lead (the reason it was held).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionHeld {
    pub question: Question,
    pub reason: Option<String>,
}

impl Payload for QuestionHeld {
    const KINDS: &'static [&'static str] = &[QUESTION_HELD, QUESTION_UNHELD];
}

/// Someone opened the question (the actor): nothing else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionViewing {}

impl Payload for QuestionViewing {
    const KINDS: &'static [&'static str] = &[QUESTION_VIEWING];
}

/// A reply or a note, with its question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageChanged {
    pub question: Question,
    pub message: Message,
}

impl Payload for MessageChanged {
    const KINDS: &'static [&'static str] =
        &[REPLY_SENT, REPLY_AWAITING_APPROVAL, REPLY_REJECTED, REPLY_POSTED, NOTE_ADDED];
}

/// A reviewer approved a novice's reply, `edited` or as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyApproved {
    pub question: Question,
    pub message: Message,
    pub edited: bool,
}

impl Payload for ReplyApproved {
    const KINDS: &'static [&'static str] = &[REPLY_APPROVED];
}

/// The network refused the reply for good.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyFailed {
    pub question: Question,
    pub message: Message,
    pub error: String,
}

impl Payload for ReplyFailed {
    const KINDS: &'static [&'static str] = &[REPLY_FAILED];
}

/// An agent's presence changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStatusChanged {
    pub handle: String,
    pub function: String,
    pub status: AgentStatus,
}

impl Payload for AgentStatusChanged {
    const KINDS: &'static [&'static str] = &[AGENT_STATUS];
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentAdded {
    pub agent: Agent,
}

impl Payload for AgentAdded {
    const KINDS: &'static [&'static str] = &[AGENT_ADDED];
}

/// An agent was disabled or enabled again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentChanged {
    pub handle: String,
}

impl Payload for AgentChanged {
    const KINDS: &'static [&'static str] = &[AGENT_DISABLED, AGENT_ENABLED];
}

/// For a field that may be absent (`None`) or `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Reads `data` back through the payload type of `kind` and writes it again: `Err` says how the
/// two differ. Every kind has exactly one payload type besides `WithQuestion`.
pub fn check(kind: &str, data: &serde_json::Value) -> Result<(), String> {
    fn again<P: Payload>(data: &serde_json::Value) -> Result<serde_json::Value, String> {
        let p = P::deserialize(data).map_err(|e| e.to_string())?;
        serde_json::to_value(p).map_err(|e| e.to_string())
    }
    type ReadBack = fn(&serde_json::Value) -> Result<serde_json::Value, String>;
    let table: &[(&[&str], ReadBack)] = &[
        (QuestionChanged::KINDS, again::<QuestionChanged>),
        (QuestionFollowup::KINDS, again::<QuestionFollowup>),
        (QuestionReturned::KINDS, again::<QuestionReturned>),
        (QuestionTransferred::KINDS, again::<QuestionTransferred>),
        (QuestionReopened::KINDS, again::<QuestionReopened>),
        (QuestionOffered::KINDS, again::<QuestionOffered>),
        (QuestionRecategorized::KINDS, again::<QuestionRecategorized>),
        (QuestionHeld::KINDS, again::<QuestionHeld>),
        (QuestionViewing::KINDS, again::<QuestionViewing>),
        (MessageChanged::KINDS, again::<MessageChanged>),
        (ReplyApproved::KINDS, again::<ReplyApproved>),
        (ReplyFailed::KINDS, again::<ReplyFailed>),
        (AgentStatusChanged::KINDS, again::<AgentStatusChanged>),
        (AgentAdded::KINDS, again::<AgentAdded>),
        (AgentChanged::KINDS, again::<AgentChanged>),
    ];
    let mut types = table.iter().filter(|(kinds, _)| kinds.contains(&kind));
    let (Some((_, read)), None) = (types.next(), types.next()) else {
        return Err(format!("{kind}: not exactly one payload type"));
    };
    let back = read(data).map_err(|e| format!("{kind}: {e}\n{data}"))?;
    if &back != data {
        return Err(format!("{kind}: written {data}\nread back {back}"));
    }
    Ok(())
}
