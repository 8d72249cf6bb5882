//! A question's life-cycle: what each operation does to a question, or why it is refused. Pure:
//! no I/O and no clock of its own (`now` is passed in), like `routing`. The store loads the
//! question in its write transaction, asks a rule here, writes the [`Change`] it gets back with
//! its event, and commits; a second database backend only has to do the same.
//!
//! A refusal is an [`Error`] with a stable code (`already_claimed`, `not_holder`…) and the
//! message the user reads; a change says which fields to write, which event tells of it and
//! with which fields beside the question.

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::model::{
    Agent, AgentStatus, Message, MessageKind, Millis, Question, QuestionState, ReplyStatus, Role, event_kind,
};

/// Longest message body the store accepts. Channel limits are far lower and are enforced where
/// the channel is known (composer, outbox); this only keeps one request from filling the disk.
pub const MAX_BODY_CHARS: usize = 10_000;

/// What an operation writes to a question; `None` leaves a field as it is, `Some(None)` clears a
/// field that may be empty. Agents are named by id, as the store keeps them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Patch {
    pub state: Option<QuestionState>,
    pub holder_id: Option<Option<i64>>,
    pub lease_until: Option<Option<Millis>>,
    pub claimed_at: Option<Option<Millis>>,
    pub resolved_at: Option<Option<Millis>>,
    pub awaiting_since: Option<Option<Millis>>,
    pub sla_due_at: Option<Millis>,
    /// The response target the deadline is counted with.
    pub sla_ms: Option<i64>,
    pub topic: Option<String>,
    pub function: Option<String>,
    pub matched_rule: Option<Option<String>>,
    pub confidence: Option<f32>,
    /// Whether the topic model was unsure of the topic (a correction settles it).
    pub unsure: Option<bool>,
    pub answered_by_id: Option<i64>,
    pub first_response_at: Option<Millis>,
    pub inbound_count: Option<i64>,
    pub last_inbound_at: Option<Millis>,
    pub updated_at: Option<Millis>,
}

impl Patch {
    /// Back in the shared queue: nobody holds it.
    fn to_queue(now: Millis) -> Patch {
        Patch {
            state: Some(QuestionState::Open),
            holder_id: Some(None),
            lease_until: Some(None),
            claimed_at: Some(None),
            updated_at: Some(now),
            ..Patch::default()
        }
    }

    /// Held by `agent_id` under a fresh lease.
    fn claimed_by(agent_id: i64, lease_ms: i64, now: Millis) -> Patch {
        Patch {
            state: Some(QuestionState::Claimed),
            holder_id: Some(Some(agent_id)),
            lease_until: Some(Some(now.saturating_add(lease_ms))),
            claimed_at: Some(Some(now)),
            updated_at: Some(now),
            ..Patch::default()
        }
    }

    /// The customer has an answer from `agent_id` (a reply released to the outbox).
    fn answered(q: &Question, agent_id: i64, now: Millis) -> Patch {
        Patch {
            answered_by_id: Some(agent_id),
            awaiting_since: Some(None),
            first_response_at: Some(q.first_response_at.unwrap_or(now)),
            updated_at: Some(now),
            ..Patch::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Patch::default()
    }
}

/// One change to a question and the event that tells of it. The event's data is the question
/// as it is after the change, plus the fields of `extra` (an object).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub patch: Patch,
    pub event: &'static str,
    /// Handle of the agent who caused it; `None` for the hive itself (expiry, a customer).
    pub actor: Option<String>,
    pub extra: Value,
}

impl Change {
    fn new(patch: Patch, event: &'static str, actor: Option<&str>, extra: Value) -> Change {
        Change { patch, event, actor: actor.map(str::to_string), extra }
    }
}

/// "20 s ago", "3 min ago", "2 h ago".
pub fn ago(now: Millis, then: Option<Millis>) -> String {
    let secs = ((now - then.unwrap_or(now)).max(0) / 1000) as u64;
    match secs {
        0..=59 => format!("{secs} s ago"),
        60..=3599 => format!("{} min ago", secs / 60),
        _ => format!("{} h ago", secs / 3600),
    }
}

/// A reply, note or reason: not empty, not over [`MAX_BODY_CHARS`].
pub fn check_body(body: &str) -> Result<()> {
    if body.trim().is_empty() {
        return Err(Error::invalid("the message is empty"));
    }
    let n = body.chars().count();
    if n > MAX_BODY_CHARS {
        return Err(Error::invalid(format!("the message is {n} characters; at most {MAX_BODY_CHARS} are accepted")));
    }
    Ok(())
}

/// Why a reply is rejected: the novice learns from it, so it must say something.
pub fn check_reason(reason: &str) -> Result<()> {
    if reason.trim().is_empty() {
        return Err(Error::invalid("say why the reply is rejected, so the novice can learn"));
    }
    check_body(reason)
}

/// A client's idempotency key for a reply: 1 to 128 characters.
pub fn check_idempotency_key(key: &str) -> Result<()> {
    if key.is_empty() || key.chars().count() > 128 {
        return Err(Error::invalid("idempotency key must be 1 to 128 characters"));
    }
    Ok(())
}

/// Checks that `agent` holds `q` (or, where `leads_may` is set, is a lead or admin).
fn require_holder(q: &Question, agent: &Agent, leads_may: bool, action: &str) -> Result<()> {
    if q.holder.as_deref() == Some(agent.handle.as_str()) {
        return Ok(());
    }
    if leads_may && agent.role >= Role::Lead {
        return Ok(());
    }
    Err(match &q.holder {
        Some(h) => Error::conflict("not_holder", format!("cannot {action} #{}: it is held by @{h}", q.id)),
        None => Error::conflict("not_holder", format!("cannot {action} #{}: claim it first", q.id)),
    })
}

/// Returns a question to the shared queue because its lease ran out.
fn lease_expired(q: &Question, now: Millis) -> Change {
    to_queue(q, event_kind::QUESTION_LEASE_EXPIRED, None, "lease expired", now)
}

fn to_queue(q: &Question, event: &'static str, actor: Option<&str>, reason: &str, now: Millis) -> Change {
    Change::new(Patch::to_queue(now), event, actor, json!({ "reason": reason, "previous_holder": q.holder }))
}

/// `agent`, who holds `holding` questions now, claims `q`. Claiming what you already hold renews
/// the lease; a lease that ran out unnoticed is returned to the queue first (two changes), so
/// the event stream tells the whole story.
pub fn claim(q: &Question, agent: &Agent, holding: i64, lease_ms: i64, now: Millis) -> Result<Vec<Change>> {
    let mut changes = Vec::new();
    match q.state {
        QuestionState::Resolved => {
            return Err(Error::conflict("resolved", format!("question #{} is resolved; reopen it first", q.id)));
        }
        QuestionState::AwaitingApproval if q.holder.as_deref() != Some(agent.handle.as_str()) => {
            return Err(Error::conflict(
                "already_claimed",
                format!(
                    "question #{} is held by @{} while a mentor reviews their reply",
                    q.id,
                    q.holder.as_deref().unwrap_or("?")
                ),
            ));
        }
        QuestionState::AwaitingApproval => {
            return Err(Error::conflict(
                "awaiting_approval",
                format!("your reply to #{} is waiting for a mentor", q.id),
            ));
        }
        QuestionState::Claimed => {
            let holder = q.holder.as_deref().unwrap_or("?");
            if holder == agent.handle {
                return Ok(vec![renewed(agent, lease_ms, now)]);
            }
            if q.lease_until.is_some_and(|t| t > now) {
                return Err(Error::conflict(
                    "already_claimed",
                    format!("already claimed by @{holder} {}", ago(now, q.claimed_at)),
                ));
            }
            // The expiry job has not run yet.
            changes.push(lease_expired(q, now));
        }
        QuestionState::Held => {
            return Err(Error::conflict(
                "held",
                format!("question #{} is held as possible spam; a lead can let it into the queue first", q.id),
            ));
        }
        QuestionState::Open => {}
    }
    if holding >= agent.capacity as i64 {
        return Err(Error::conflict(
            "at_capacity",
            format!(
                "you already hold {holding} question{} (your capacity is {}); resolve or release one first",
                if holding == 1 { "" } else { "s" },
                agent.capacity
            ),
        ));
    }
    changes.push(Change::new(
        Patch::claimed_by(agent.id, lease_ms, now),
        event_kind::QUESTION_CLAIMED,
        Some(&agent.handle),
        json!({}),
    ));
    Ok(changes)
}

/// Whether a refusal of [`claim`] only means the question was taken, resolved or held since the
/// caller looked: pulling the next question then tries the one after.
pub fn taken_meanwhile(e: &Error) -> bool {
    matches!(e, Error::Conflict { code: "already_claimed" | "resolved" | "held" | "awaiting_approval", .. })
}

fn renewed(agent: &Agent, lease_ms: i64, now: Millis) -> Change {
    let patch =
        Patch { lease_until: Some(Some(now.saturating_add(lease_ms))), updated_at: Some(now), ..Patch::default() };
    Change::new(patch, event_kind::QUESTION_RENEWED, Some(&agent.handle), json!({}))
}

/// The holder extends their lease.
pub fn renew(q: &Question, agent: &Agent, lease_ms: i64, now: Millis) -> Result<Change> {
    require_holder(q, agent, false, "renew")?;
    if q.state != QuestionState::Claimed {
        return Err(Error::conflict("not_claimed", format!("#{} has no lease to renew", q.id)));
    }
    Ok(renewed(agent, lease_ms, now))
}

/// The holder (or a lead) gives a claimed question back to the queue.
pub fn release(q: &Question, agent: &Agent, now: Millis) -> Result<Change> {
    require_holder(q, agent, true, "release")?;
    if q.state != QuestionState::Claimed {
        return Err(Error::conflict("not_claimed", format!("#{} is {}, not claimed", q.id, q.state.as_str())));
    }
    Ok(to_queue(q, event_kind::QUESTION_RELEASED, Some(&agent.handle), "released", now))
}

/// A question whose lease ran out goes back to the queue; `None` if it is not due (any more).
pub fn expire(q: &Question, now: Millis) -> Option<Change> {
    (q.state == QuestionState::Claimed && q.lease_until.is_some_and(|t| t < now)).then(|| lease_expired(q, now))
}

/// The holder was disabled: their claimed question goes back to the queue.
pub fn holder_disabled(q: &Question, actor: Option<&str>, now: Millis) -> Change {
    to_queue(q, event_kind::QUESTION_RELEASED, actor, "holder disabled", now)
}

/// Where a question is handed, as the store found it.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// Another function: back to the queue there. `known` are the configured functions.
    Function { name: &'a str, known: &'a [String] },
    /// A colleague (`handle` without `@`), with the agent found under it and what they hold.
    Agent { handle: &'a str, found: Option<(&'a Agent, i64)> },
}

/// Hands a question to another function or straight to a colleague.
pub fn transfer(q: &Question, agent: &Agent, target: Target<'_>, lease_ms: i64, now: Millis) -> Result<Change> {
    require_holder(q, agent, true, "transfer")?;
    if q.state == QuestionState::Resolved {
        return Err(Error::conflict("resolved", format!("#{} is resolved; reopen it first", q.id)));
    }
    if q.state == QuestionState::AwaitingApproval {
        return Err(Error::conflict(
            "awaiting_approval",
            format!("#{} has a reply waiting for a mentor; transfer it after the review", q.id),
        ));
    }
    let (patch, extra) = match target {
        Target::Function { name, known } => {
            if !known.iter().any(|k| k == name) {
                return Err(Error::invalid(format!("unknown function '{name}'; known: {}", known.join(", "))));
            }
            let patch = Patch { function: Some(name.to_string()), ..Patch::to_queue(now) };
            (patch, json!({ "to_function": name, "from": q.holder }))
        }
        Target::Agent { handle, found } => {
            let (to, holding) = found.ok_or_else(|| Error::not_found(format!("no agent '@{handle}'")))?;
            if to.disabled {
                return Err(Error::conflict("agent_disabled", format!("@{handle} is disabled")));
            }
            if to.id == agent.id {
                return Err(Error::invalid("you cannot transfer a question to yourself"));
            }
            if holding >= to.capacity as i64 {
                return Err(Error::conflict(
                    "at_capacity",
                    format!(
                        "@{handle} is at capacity ({holding} of {}); transfer to their function instead",
                        to.capacity
                    ),
                ));
            }
            (Patch::claimed_by(to.id, lease_ms, now), json!({ "to_agent": to.handle, "from": q.holder }))
        }
    };
    Ok(Change::new(patch, event_kind::QUESTION_TRANSFERRED, Some(&agent.handle), extra))
}

/// Marks a question done; no change if it is already resolved. A customer still waiting for an
/// answer keeps it open unless the caller says `without_reply`: a follow-up must never be
/// closed unseen.
pub fn resolve(q: &Question, agent: &Agent, without_reply: bool, now: Millis) -> Result<Option<Change>> {
    require_holder(q, agent, true, "resolve")?;
    match q.state {
        QuestionState::Resolved => return Ok(None),
        QuestionState::AwaitingApproval => {
            return Err(Error::conflict(
                "awaiting_approval",
                format!("#{} has a reply waiting for a mentor; resolve it after the review", q.id),
            ));
        }
        _ => {}
    }
    if let (Some(since), false) = (q.awaiting_since, without_reply) {
        return Err(Error::conflict(
            "customer_waiting",
            format!(
                "@{} is waiting for a reply (since {}); reply first, or resolve without a reply",
                q.customer.handle,
                ago(now, Some(since))
            ),
        ));
    }
    let patch = Patch {
        state: Some(QuestionState::Resolved),
        holder_id: Some(None),
        lease_until: Some(None),
        claimed_at: Some(None),
        resolved_at: Some(Some(now)),
        updated_at: Some(now),
        ..Patch::default()
    };
    Ok(Some(Change::new(patch, event_kind::QUESTION_RESOLVED, Some(&agent.handle), json!({}))))
}

/// Anyone may reopen a resolved question; it goes back to the queue.
pub fn reopen(q: &Question, agent: &Agent, now: Millis) -> Result<Change> {
    if q.state != QuestionState::Resolved {
        return Err(Error::conflict("not_resolved", format!("#{} is {}, not resolved", q.id, q.state.as_str())));
    }
    let patch =
        Patch { state: Some(QuestionState::Open), resolved_at: Some(None), updated_at: Some(now), ..Patch::default() };
    Ok(Change::new(patch, event_kind::QUESTION_REOPENED, Some(&agent.handle), json!({ "reason": "reopened" })))
}

/// Who may let held questions into the queue (checked before the question is looked up).
pub fn may_unhold(agent: &Agent) -> Result<()> {
    if agent.role < Role::Lead {
        return Err(Error::forbidden("only leads and admins let held questions into the queue"));
    }
    Ok(())
}

/// A lead lets a held question into the queue, with a fresh response deadline (`sla_ms` is the
/// question's response target).
pub fn unhold(q: &Question, agent: &Agent, sla_ms: i64, now: Millis) -> Result<Change> {
    may_unhold(agent)?;
    if q.state != QuestionState::Held {
        return Err(Error::conflict("not_held", format!("#{} is {}, not held", q.id, q.state.as_str())));
    }
    let patch = Patch {
        state: Some(QuestionState::Open),
        sla_due_at: Some(now + sla_ms),
        awaiting_since: Some(Some(q.awaiting_since.unwrap_or(now))),
        updated_at: Some(now),
        ..Patch::default()
    };
    Ok(Change::new(patch, event_kind::QUESTION_UNHELD, Some(&agent.handle), json!({ "reason": q.held_reason })))
}

/// What a reply does: the status the message is stored with, and the change to the question.
/// The store adds the stored message to the event's fields as `message`; when `status` is
/// approved, the reply goes to the outbox in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: ReplyStatus,
    pub change: Change,
}

/// The holder replies. A novice's reply waits for a mentor (the lease pauses); anyone else's is
/// released at once and renews the lease.
pub fn reply(q: &Question, agent: &Agent, lease_ms: i64, now: Millis) -> Result<Reply> {
    require_holder(q, agent, false, "reply to")?;
    if q.state == QuestionState::AwaitingApproval {
        return Err(Error::conflict(
            "awaiting_approval",
            format!("your earlier reply to #{} is still waiting for a mentor", q.id),
        ));
    }
    if q.state != QuestionState::Claimed {
        return Err(Error::conflict("not_claimed", format!("#{} is {}; claim it first", q.id, q.state.as_str())));
    }
    Ok(if agent.novice {
        let patch = Patch {
            state: Some(QuestionState::AwaitingApproval),
            lease_until: Some(None),
            updated_at: Some(now),
            ..Patch::default()
        };
        Reply {
            status: ReplyStatus::AwaitingApproval,
            change: Change::new(patch, event_kind::REPLY_AWAITING_APPROVAL, Some(&agent.handle), json!({})),
        }
    } else {
        let patch =
            Patch { lease_until: Some(Some(now.saturating_add(lease_ms))), ..Patch::answered(q, agent.id, now) };
        Reply {
            status: ReplyStatus::Approved,
            change: Change::new(patch, event_kind::REPLY_SENT, Some(&agent.handle), json!({})),
        }
    })
}

/// Any employee may leave a note on any question; the holder's note renews their lease like a
/// reply does. The store adds the note to the event's fields as `message`.
pub fn note(q: &Question, agent: &Agent, lease_ms: i64, now: Millis) -> Change {
    let working = q.state == QuestionState::Claimed && q.holder.as_deref() == Some(agent.handle.as_str());
    let patch = Patch { lease_until: working.then_some(Some(now.saturating_add(lease_ms))), ..Patch::default() };
    Change::new(patch, event_kind::NOTE_ADDED, Some(&agent.handle), json!({}))
}

/// Whether `reviewer` may approve or reject `m`: a reply waiting for approval, by `novice` (the
/// agent of the reply's author handle, if there is one), reviewed by their mentor or a lead.
pub fn review(m: &Message, novice: Option<&Agent>, reviewer: &Agent) -> Result<()> {
    if m.kind != MessageKind::Reply || m.status != Some(ReplyStatus::AwaitingApproval) {
        return Err(Error::conflict(
            "not_pending",
            format!(
                "message #{} is not waiting for approval (it is {})",
                m.id,
                m.status.map(|s| s.as_str()).unwrap_or(m.kind.as_str())
            ),
        ));
    }
    let novice = novice.ok_or_else(|| Error::Internal("reply author vanished".into()))?;
    let allowed = reviewer.role >= Role::Lead
        || (reviewer.role >= Role::Mentor && novice.mentor.as_deref() == Some(reviewer.handle.as_str()));
    if !allowed {
        return Err(Error::forbidden(format!("only @{}'s mentor or a lead may review this reply", novice.handle)));
    }
    Ok(())
}

/// The question goes back to the novice under a fresh lease after a review.
fn back_to_novice(lease_ms: i64, now: Millis) -> Patch {
    Patch {
        state: Some(QuestionState::Claimed),
        lease_until: Some(Some(now.saturating_add(lease_ms))),
        updated_at: Some(now),
        ..Patch::default()
    }
}

/// An approved reply (checked with [`review`]) is released: the customer has an answer from the
/// novice, who holds the question again. The store adds the message as `message`.
pub fn approve(q: &Question, novice: &Agent, reviewer: &Agent, edited: bool, lease_ms: i64, now: Millis) -> Change {
    let patch = merge(Patch::answered(q, novice.id, now), back_to_novice(lease_ms, now));
    Change::new(patch, event_kind::REPLY_APPROVED, Some(&reviewer.handle), json!({ "edited": edited }))
}

/// A rejected reply (checked with [`review`]) is never posted; the novice holds the question
/// again. The store adds the message as `message`.
pub fn reject(reviewer: &Agent, lease_ms: i64, now: Millis) -> Change {
    Change::new(back_to_novice(lease_ms, now), event_kind::REPLY_REJECTED, Some(&reviewer.handle), json!({}))
}

/// `later`'s fields over `first`'s.
fn merge(first: Patch, later: Patch) -> Patch {
    Patch {
        state: later.state.or(first.state),
        holder_id: later.holder_id.or(first.holder_id),
        lease_until: later.lease_until.or(first.lease_until),
        claimed_at: later.claimed_at.or(first.claimed_at),
        resolved_at: later.resolved_at.or(first.resolved_at),
        awaiting_since: later.awaiting_since.or(first.awaiting_since),
        sla_due_at: later.sla_due_at.or(first.sla_due_at),
        sla_ms: later.sla_ms.or(first.sla_ms),
        topic: later.topic.or(first.topic),
        function: later.function.or(first.function),
        matched_rule: later.matched_rule.or(first.matched_rule),
        confidence: later.confidence.or(first.confidence),
        unsure: later.unsure.or(first.unsure),
        answered_by_id: later.answered_by_id.or(first.answered_by_id),
        first_response_at: later.first_response_at.or(first.first_response_at),
        inbound_count: later.inbound_count.or(first.inbound_count),
        last_inbound_at: later.last_inbound_at.or(first.last_inbound_at),
        updated_at: later.updated_at.or(first.updated_at),
    }
}

/// An agent corrects the topic the classifier chose; no change if it is the topic already. The
/// question moves to the topic's function and response target (`sla_ms`); a customer still
/// waiting gets the deadline recounted from when they started waiting.
pub fn recategorize(
    q: &Question,
    agent: &Agent,
    topic: &str,
    function: &str,
    sla_ms: i64,
    now: Millis,
) -> Option<Change> {
    if q.topic == topic {
        return None;
    }
    let sla_due_at = match q.awaiting_since {
        Some(since) => since.saturating_add(sla_ms),
        None => q.sla_due_at,
    };
    let patch = Patch {
        topic: Some(topic.to_string()),
        function: Some(function.to_string()),
        sla_ms: Some(sla_ms),
        sla_due_at: Some(sla_due_at),
        matched_rule: Some(Some(format!("corrected by @{}", agent.handle))),
        confidence: Some(1.0),
        unsure: Some(false),
        updated_at: Some(now),
        ..Patch::default()
    };
    let extra = json!({ "from_topic": q.topic, "to_topic": topic });
    Some(Change::new(patch, event_kind::QUESTION_RECATEGORIZED, Some(&agent.handle), extra))
}

/// How a new customer message that starts a question enters: `held` with its reason (kept out
/// of the queue), else `created`. Returns the outcome word, the state, the event and its fields.
pub fn arrival(held: Option<&str>) -> (&'static str, QuestionState, &'static str, Value) {
    match held {
        Some(reason) => ("held", QuestionState::Held, event_kind::QUESTION_HELD, json!({ "reason": reason })),
        None => ("created", QuestionState::Open, event_kind::QUESTION_NEW, json!({})),
    }
}

/// Why a post is held out of the queue, if it is. `recent` is what the store found among the
/// author's recent posts: the id of the same text within the duplicate window, and how many
/// posts within the flood window (`None` when there was nothing to look for: a blocked account,
/// the author's first post, both rules switched off).
pub fn spam_verdict(rules: &SpamRules, handle: &str, recent: Option<(Option<i64>, i64)>) -> Option<String> {
    if rules.blocked {
        return Some(format!("blocked account {handle}"));
    }
    let (dup_id, n) = recent?;
    if let Some(id) = dup_id {
        return Some(format!("duplicate of message #{id} from the same account"));
    }
    if rules.flood_max > 0 && n >= rules.flood_max as i64 {
        return Some(format!("flood: {} posts from this account within {} s", n + 1, rules.flood_window_ms / 1000));
    }
    None
}

/// When a post is held back from the queue.
#[derive(Debug, Clone, Default)]
pub struct SpamRules {
    /// The author is on the blocked list (decided by the caller, from the configuration).
    pub blocked: bool,
    /// This many posts from one account within `flood_window_ms` make the next one a flood.
    pub flood_max: u32,
    pub flood_window_ms: i64,
    /// The same text from the same account within this window is a duplicate.
    pub duplicate_window_ms: i64,
}

/// Whether a follow-up to `q` reopens it (and so the store must look up who answered it).
pub fn followup_reopens(q: &Question) -> bool {
    q.state == QuestionState::Resolved
}

/// A customer's follow-up (message `message_id`, written at `received`) joins `q`, whose
/// response target is `sla_ms`. A waiting customer keeps their deadline; an answered one gets a
/// fresh one. A resolved question reopens: back to `answerer` (who answered it, with what they
/// hold now) when they are online, enabled and have room, else to the shared queue. Returns the
/// outcome word (`followup` or `reopened`) and the change.
pub fn followup(
    q: &Question,
    sla_ms: i64,
    received: Millis,
    message_id: i64,
    answerer: Option<(&Agent, i64)>,
    lease_ms: i64,
    now: Millis,
) -> (&'static str, Change) {
    let joined = Patch {
        inbound_count: Some(q.inbound_count + 1),
        last_inbound_at: Some(received),
        awaiting_since: Some(Some(q.awaiting_since.unwrap_or(received))),
        sla_due_at: Some(if q.awaiting_since.is_none() { received + sla_ms } else { q.sla_due_at }),
        updated_at: Some(now),
        ..Patch::default()
    };
    if !followup_reopens(q) {
        return (
            "followup",
            Change::new(joined, event_kind::QUESTION_FOLLOWUP, None, json!({ "message_id": message_id })),
        );
    }
    let taker = answerer
        .filter(|(a, holding)| a.status == AgentStatus::Online && !a.disabled && *holding < a.capacity as i64)
        .map(|(a, _)| a);
    let reopened = match taker {
        Some(a) => Patch {
            state: Some(QuestionState::Claimed),
            holder_id: Some(Some(a.id)),
            lease_until: Some(Some(now.saturating_add(lease_ms))),
            claimed_at: Some(Some(now)),
            resolved_at: Some(None),
            ..Patch::default()
        },
        None => Patch { state: Some(QuestionState::Open), resolved_at: Some(None), ..Patch::default() },
    };
    let extra = json!({ "reason": "followup", "message_id": message_id, "assigned_to": taker.map(|a| &a.handle) });
    ("reopened", Change::new(merge(joined, reopened), event_kind::QUESTION_REOPENED, None, extra))
}

#[cfg(test)]
mod tests;
