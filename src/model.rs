//! Plain data shared by every part of helphive: questions, messages, agents, skills and events.
//!
//! Nothing here does I/O. Times are milliseconds since the Unix epoch (UTC), which keeps the wire
//! format, the store and the routing arithmetic in one unit.

use serde::{Deserialize, Serialize};

mod stats;
pub use stats::{AgentStats, FunctionStats, Percentiles, Stats};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// Where a question is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionState {
    /// Waiting in the shared queue; nobody holds it.
    Open,
    /// Held by one agent under a lease.
    Claimed,
    /// A novice's reply waits for a mentor; the novice keeps the question, the lease is paused.
    AwaitingApproval,
    /// Done. A follow-up from the customer reopens it.
    Resolved,
    /// Kept out of the queue as likely spam or abuse (blocked account, duplicate, flood); listed
    /// under the `held` filter with its reason until a lead lets it in or resolves it.
    Held,
}

impl QuestionState {
    pub const ALL: [QuestionState; 5] = [
        QuestionState::Open,
        QuestionState::Claimed,
        QuestionState::AwaitingApproval,
        QuestionState::Resolved,
        QuestionState::Held,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QuestionState::Open => "open",
            QuestionState::Claimed => "claimed",
            QuestionState::AwaitingApproval => "awaiting_approval",
            QuestionState::Resolved => "resolved",
            QuestionState::Held => "held",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// From the customer.
    Inbound,
    /// From an agent to the customer.
    Reply,
    /// Between employees only; never posted.
    Note,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Inbound => "inbound",
            MessageKind::Reply => "reply",
            MessageKind::Note => "note",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [MessageKind::Inbound, MessageKind::Reply, MessageKind::Note].into_iter().find(|v| v.as_str() == s)
    }
}

/// Where a reply is on its way to the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyStatus {
    /// A novice's reply, waiting for a mentor.
    AwaitingApproval,
    /// Released for posting: it sits in the outbox.
    Approved,
    /// The channel confirmed the post.
    Posted,
    /// A mentor sent it back; it will never be posted.
    Rejected,
    /// The channel refused it for good.
    Failed,
}

impl ReplyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyStatus::AwaitingApproval => "awaiting_approval",
            ReplyStatus::Approved => "approved",
            ReplyStatus::Posted => "posted",
            ReplyStatus::Rejected => "rejected",
            ReplyStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ReplyStatus::AwaitingApproval,
            ReplyStatus::Approved,
            ReplyStatus::Posted,
            ReplyStatus::Rejected,
            ReplyStatus::Failed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// What an employee may do. Each role includes the rights of those before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Mentor,
    Lead,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Mentor => "mentor",
            Role::Lead => "lead",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Role::Agent, Role::Mentor, Role::Lead, Role::Admin].into_iter().find(|v| v.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    Online,
    Away,
    Offline,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Online => "online",
            AgentStatus::Away => "away",
            AgentStatus::Offline => "offline",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [AgentStatus::Online, AgentStatus::Away, AgentStatus::Offline].into_iter().find(|v| v.as_str() == s)
    }
}

/// A topic the agent can answer, and how well (1 = learning, 5 = expert).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skill {
    pub topic: String,
    pub proficiency: u8,
}

impl Skill {
    /// Parses `topic:level`, the form the CLI takes.
    pub fn parse(s: &str) -> Result<Skill, String> {
        let (topic, level) =
            s.split_once(':').ok_or_else(|| format!("skill '{s}' should look like topic:level, e.g. billing:4"))?;
        let proficiency: u8 =
            level.trim().parse().map_err(|_| format!("skill '{s}': level must be a number from 1 to 5"))?;
        if !(1..=5).contains(&proficiency) {
            return Err(format!("skill '{s}': level must be from 1 to 5"));
        }
        let topic = topic.trim();
        if topic.is_empty() {
            return Err(format!("skill '{s}': topic is empty"));
        }
        Ok(Skill { topic: topic.to_string(), proficiency })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: i64,
    pub handle: String,
    pub display_name: String,
    pub function: String,
    pub role: Role,
    pub novice: bool,
    /// The mentor who approves this novice's replies.
    pub mentor: Option<String>,
    pub capacity: u32,
    pub status: AgentStatus,
    pub signature: String,
    pub skills: Vec<Skill>,
    pub disabled: bool,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub handle: String,
    pub name: String,
}

/// What `matched_rule` holds when the learned topic model decided without a keyword.
pub const MATCHED_LEARNED: &str = "learned";

/// One customer thread with its follow-ups, as the queue shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    pub id: i64,
    pub channel: String,
    pub external_id: String,
    pub conversation_id: Option<String>,
    pub customer: Customer,
    /// The customer's first message.
    pub text: String,
    pub received_at: Millis,
    pub topic: String,
    pub function: String,
    /// How sure the classifier was of the topic: the calibrated probability that it is right
    /// (1 after an agent's correction).
    pub confidence: f32,
    /// What chose the topic, so an agent can see why it was routed here: a keyword (which backed
    /// the learned model, or decided as an override), `learned` (the model alone), `corrected by
    /// @handle`, or none (the default topic).
    pub matched_rule: Option<String>,
    /// The topic model was not sure enough: the question sits in the default topic, is offered to
    /// the whole hive at once, and `guesses` says what the model thought.
    #[serde(default)]
    pub unsure: bool,
    /// The model's two most likely topics with their probabilities (best first).
    #[serde(default)]
    pub guesses: Vec<(String, f32)>,
    pub priority: i32,
    pub sla_due_at: Millis,
    pub state: QuestionState,
    /// Handle of the agent who holds it, if any.
    pub holder: Option<String>,
    pub lease_until: Option<Millis>,
    pub claimed_at: Option<Millis>,
    /// The agent who answered last: follow-ups go back to them.
    pub answered_by: Option<String>,
    /// The oldest customer message still without a reply; `None` when the customer is answered.
    pub awaiting_since: Option<Millis>,
    pub first_response_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
    pub updated_at: Millis,
    /// Messages from the customer (first message and follow-ups).
    pub inbound_count: i64,
    /// Last time the customer wrote.
    pub last_inbound_at: Millis,
    /// Why a held question was kept out of the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: i64,
    pub question_id: i64,
    pub kind: MessageKind,
    /// Customer handle for inbound messages, agent handle for replies and notes.
    pub author: String,
    pub body: String,
    pub created_at: Millis,
    pub external_id: Option<String>,
    pub in_reply_to: Option<String>,
    /// Replies only.
    pub status: Option<ReplyStatus>,
    /// Who approved or rejected a novice's reply.
    pub reviewed_by: Option<String>,
    pub review_note: Option<String>,
    pub idempotency_key: Option<String>,
    /// Replies: the post's address on the network once posted (`external_id` is its id there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posted_url: Option<String>,
    /// Replies: why the network refused it for good (status `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A question with its whole thread, as the conversation view shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionDetail {
    pub question: Question,
    pub messages: Vec<Message>,
    /// Other questions from the same customer on the same channel, newest first.
    pub earlier: Vec<Question>,
}

/// One change in the hive. Ids increase monotonically; a client that saw id N resumes from N.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
    pub at: Millis,
    pub kind: String,
    pub question_id: Option<i64>,
    /// Handle of the agent who caused it, if an agent did.
    pub actor: Option<String>,
    /// Kind-specific details; question events carry the question as it is after the change.
    pub data: serde_json::Value,
}

/// The kinds of events. Kept as strings on the wire so older clients skip kinds they don't know.
pub mod event_kind {
    pub const QUESTION_NEW: &str = "question.new";
    pub const QUESTION_FOLLOWUP: &str = "question.followup";
    pub const QUESTION_CLAIMED: &str = "question.claimed";
    pub const QUESTION_RENEWED: &str = "question.renewed";
    pub const QUESTION_RELEASED: &str = "question.released";
    pub const QUESTION_LEASE_EXPIRED: &str = "question.lease_expired";
    pub const QUESTION_TRANSFERRED: &str = "question.transferred";
    pub const QUESTION_RESOLVED: &str = "question.resolved";
    pub const QUESTION_REOPENED: &str = "question.reopened";
    /// The router proposes the question to one agent for a short time.
    pub const QUESTION_OFFERED: &str = "question.offered";
    /// The question passed its response deadline unanswered (for the shift lead).
    pub const QUESTION_BREACHED: &str = "question.breached";
    /// An agent corrected the topic the classifier chose.
    pub const QUESTION_RECATEGORIZED: &str = "question.recategorized";
    /// Someone opened the question: not a change of the question, a hint for colleagues.
    pub const QUESTION_VIEWING: &str = "question.viewing";
    pub const REPLY_SENT: &str = "reply.sent";
    pub const REPLY_AWAITING_APPROVAL: &str = "reply.awaiting_approval";
    pub const REPLY_APPROVED: &str = "reply.approved";
    pub const REPLY_REJECTED: &str = "reply.rejected";
    /// The channel confirmed the post; the message carries its id and URL.
    pub const REPLY_POSTED: &str = "reply.posted";
    /// The channel refused the reply for good (401, too long…); the message carries the error.
    pub const REPLY_FAILED: &str = "reply.failed";
    /// A post from a blocked account, a duplicate or a flood was kept out of the queue.
    pub const QUESTION_HELD: &str = "question.held";
    /// A lead let a held question into the queue.
    pub const QUESTION_UNHELD: &str = "question.unheld";
    pub const NOTE_ADDED: &str = "note.added";
    pub const AGENT_STATUS: &str = "agent.status";
    pub const AGENT_ADDED: &str = "agent.added";
    pub const AGENT_DISABLED: &str = "agent.disabled";
    pub const AGENT_ENABLED: &str = "agent.enabled";

    /// Every kind above.
    pub const ALL: &[&str] = &[
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
        QUESTION_VIEWING,
        REPLY_SENT,
        REPLY_AWAITING_APPROVAL,
        REPLY_APPROVED,
        REPLY_REJECTED,
        REPLY_POSTED,
        REPLY_FAILED,
        QUESTION_HELD,
        QUESTION_UNHELD,
        NOTE_ADDED,
        AGENT_STATUS,
        AGENT_ADDED,
        AGENT_DISABLED,
        AGENT_ENABLED,
    ];
}

/// Whether `s` is a valid function or topic name: lowercase letters, digits, `_` and `-`.
pub fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skill_parses_topic_and_level() {
        assert_eq!(Skill::parse("billing:4"), Ok(Skill { topic: "billing".into(), proficiency: 4 }));
        assert!(Skill::parse("billing").is_err());
        assert!(Skill::parse("billing:6").is_err());
        assert!(Skill::parse(":3").is_err());
    }

    #[test]
    fn enums_round_trip_through_their_names() {
        for s in QuestionState::ALL {
            assert_eq!(QuestionState::parse(s.as_str()), Some(s));
        }
        assert_eq!(Role::parse("lead"), Some(Role::Lead));
        assert!(Role::Admin > Role::Lead && Role::Lead > Role::Mentor);
        assert_eq!(AgentStatus::parse("away"), Some(AgentStatus::Away));
        assert_eq!(ReplyStatus::parse("posted"), Some(ReplyStatus::Posted));
    }
}
