//! The life-cycle rules on their own: every refusal with its code and words, and what each
//! operation changes.

use super::*;
use crate::model::{Customer, Skill};

const NOW: Millis = 1_000_000_000;
const LEASE: i64 = 300_000;

fn agent(id: i64, handle: &str, role: Role) -> Agent {
    Agent {
        id,
        handle: handle.into(),
        display_name: handle.into(),
        function: "tech_support".into(),
        role,
        novice: false,
        mentor: None,
        capacity: 3,
        status: AgentStatus::Online,
        signature: String::new(),
        skills: vec![Skill { topic: "billing".into(), proficiency: 3 }],
        disabled: false,
        created_at: 0,
    }
}

fn ann() -> Agent {
    agent(1, "ann", Role::Agent)
}

fn bob() -> Agent {
    agent(2, "bob", Role::Agent)
}

fn lead() -> Agent {
    agent(3, "lea", Role::Lead)
}

fn question(state: QuestionState) -> Question {
    Question {
        id: 7,
        channel: "mastodon".into(),
        external_id: "m1".into(),
        conversation_id: None,
        customer: Customer { handle: "cara".into(), name: "Cara".into() },
        text: "my router blinks".into(),
        received_at: NOW - 60_000,
        topic: "router".into(),
        function: "tech_support".into(),
        confidence: 0.5,
        matched_rule: None,
        unsure: false,
        guesses: Vec::new(),
        priority: 0,
        sla_due_at: NOW + 600_000,
        state,
        holder: None,
        lease_until: None,
        claimed_at: None,
        answered_by: None,
        awaiting_since: Some(NOW - 60_000),
        first_response_at: None,
        resolved_at: None,
        updated_at: NOW - 60_000,
        inbound_count: 1,
        last_inbound_at: NOW - 60_000,
        held_reason: None,
    }
}

/// `question(state)` held by `holder`, claimed 20 s ago under a lease that runs `lease_left` more.
fn held_by(state: QuestionState, holder: &str, lease_left: i64) -> Question {
    Question {
        holder: Some(holder.into()),
        claimed_at: Some(NOW - 20_000),
        lease_until: (state == QuestionState::Claimed).then_some(NOW + lease_left),
        ..question(state)
    }
}

fn refusal<T: std::fmt::Debug>(r: Result<T>) -> (String, String) {
    match r {
        Err(Error::Conflict { code, message }) => (code.to_string(), message),
        Err(Error::Forbidden(m)) => ("forbidden".into(), m),
        Err(Error::Invalid(m)) => ("invalid".into(), m),
        Err(Error::NotFound(m)) => ("not_found".into(), m),
        Err(e) => ("other".into(), e.to_string()),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

#[test]
fn ago_counts_seconds_minutes_and_hours() {
    assert_eq!(ago(NOW, Some(NOW - 20_000)), "20 s ago");
    assert_eq!(ago(NOW, Some(NOW - 180_000)), "3 min ago");
    assert_eq!(ago(NOW, Some(NOW - 7_300_000)), "2 h ago");
    assert_eq!(ago(NOW, None), "0 s ago");
    assert_eq!(ago(NOW, Some(NOW + 5_000)), "0 s ago");
}

#[test]
fn every_refused_claim_says_why() {
    let awaiting_bob = held_by(QuestionState::AwaitingApproval, "bob", 0);
    let awaiting_ann = held_by(QuestionState::AwaitingApproval, "ann", 0);
    let cases: Vec<(&str, Question, i64, &str, &str)> = vec![
        ("resolved", question(QuestionState::Resolved), 0, "resolved", "question #7 is resolved; reopen it first"),
        (
            "held as spam",
            question(QuestionState::Held),
            0,
            "held",
            "question #7 is held as possible spam; a lead can let it into the queue first",
        ),
        (
            "someone else's reply under review",
            awaiting_bob,
            0,
            "already_claimed",
            "question #7 is held by @bob while a mentor reviews their reply",
        ),
        ("own reply under review", awaiting_ann, 0, "awaiting_approval", "your reply to #7 is waiting for a mentor"),
        (
            "held by someone else under a live lease",
            held_by(QuestionState::Claimed, "bob", 1),
            0,
            "already_claimed",
            "already claimed by @bob 20 s ago",
        ),
        (
            "at capacity",
            question(QuestionState::Open),
            3,
            "at_capacity",
            "you already hold 3 questions (your capacity is 3); resolve or release one first",
        ),
    ];
    for (name, q, holding, code, message) in cases {
        let (c, m) = refusal(claim(&q, &ann(), holding, LEASE, NOW));
        assert_eq!((c.as_str(), m.as_str()), (code, message), "{name}");
    }
    let one = Agent { capacity: 1, ..ann() };
    let (_, m) = refusal(claim(&question(QuestionState::Open), &one, 1, LEASE, NOW));
    assert_eq!(m, "you already hold 1 question (your capacity is 1); resolve or release one first");
}

#[test]
fn a_claim_takes_the_question_under_a_lease() {
    let changes = claim(&question(QuestionState::Open), &ann(), 2, LEASE, NOW).unwrap();
    assert_eq!(changes.len(), 1);
    let c = &changes[0];
    assert_eq!(c.event, event_kind::QUESTION_CLAIMED);
    assert_eq!(c.actor.as_deref(), Some("ann"));
    assert_eq!(c.extra, json!({}));
    assert_eq!(c.patch, Patch::claimed_by(1, LEASE, NOW));
    assert_eq!(c.patch.lease_until, Some(Some(NOW + LEASE)));
    assert_eq!(c.patch.holder_id, Some(Some(1)));
}

#[test]
fn claiming_what_you_hold_renews_even_at_capacity() {
    let changes = claim(&held_by(QuestionState::Claimed, "ann", 1), &ann(), 3, LEASE, NOW).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].event, event_kind::QUESTION_RENEWED);
    assert_eq!(changes[0].patch.lease_until, Some(Some(NOW + LEASE)));
    assert_eq!(changes[0].patch.state, None);
}

#[test]
fn a_lapsed_lease_is_returned_before_the_new_claim() {
    let q = held_by(QuestionState::Claimed, "bob", 0);
    let changes = claim(&q, &ann(), 0, LEASE, NOW).unwrap();
    let kinds: Vec<_> = changes.iter().map(|c| c.event).collect();
    assert_eq!(kinds, [event_kind::QUESTION_LEASE_EXPIRED, event_kind::QUESTION_CLAIMED]);
    assert_eq!(changes[0].actor, None);
    assert_eq!(changes[0].extra, json!({ "reason": "lease expired", "previous_holder": "bob" }));
    assert_eq!(changes[0].patch, Patch::to_queue(NOW));
    // Capacity still counts after the return.
    let (code, _) = refusal(claim(&q, &ann(), 3, LEASE, NOW));
    assert_eq!(code, "at_capacity");
}

#[test]
fn taken_meanwhile_covers_the_claim_refusals_that_mean_try_the_next() {
    for code in ["already_claimed", "resolved", "held", "awaiting_approval"] {
        assert!(taken_meanwhile(&Error::conflict(code, "x")), "{code}");
    }
    assert!(!taken_meanwhile(&Error::conflict("at_capacity", "x")));
    assert!(!taken_meanwhile(&Error::not_found("x")));
}

#[test]
fn every_refused_renew_release_resolve_reopen_and_unhold_says_why() {
    let open = question(QuestionState::Open);
    let bobs = held_by(QuestionState::Claimed, "bob", 1);
    let anns_review = held_by(QuestionState::AwaitingApproval, "ann", 0);
    let resolved = question(QuestionState::Resolved);
    let cases: Vec<(&str, Result<()>, &str, &str)> = vec![
        (
            "renew unclaimed",
            renew(&open, &ann(), LEASE, NOW).map(drop),
            "not_holder",
            "cannot renew #7: claim it first",
        ),
        (
            "renew someone else's",
            renew(&bobs, &ann(), LEASE, NOW).map(drop),
            "not_holder",
            "cannot renew #7: it is held by @bob",
        ),
        (
            "renew, even a lead",
            renew(&bobs, &lead(), LEASE, NOW).map(drop),
            "not_holder",
            "cannot renew #7: it is held by @bob",
        ),
        (
            "renew under review",
            renew(&anns_review, &ann(), LEASE, NOW).map(drop),
            "not_claimed",
            "#7 has no lease to renew",
        ),
        ("release unclaimed", release(&open, &ann(), NOW).map(drop), "not_holder", "cannot release #7: claim it first"),
        (
            "release someone else's",
            release(&bobs, &ann(), NOW).map(drop),
            "not_holder",
            "cannot release #7: it is held by @bob",
        ),
        ("release open as a lead", release(&open, &lead(), NOW).map(drop), "not_claimed", "#7 is open, not claimed"),
        (
            "release under review",
            release(&anns_review, &ann(), NOW).map(drop),
            "not_claimed",
            "#7 is awaiting_approval, not claimed",
        ),
        (
            "resolve someone else's",
            resolve(&bobs, &ann(), true, NOW).map(drop),
            "not_holder",
            "cannot resolve #7: it is held by @bob",
        ),
        (
            "resolve under review",
            resolve(&anns_review, &ann(), true, NOW).map(drop),
            "awaiting_approval",
            "#7 has a reply waiting for a mentor; resolve it after the review",
        ),
        (
            "resolve with the customer waiting",
            resolve(&held_by(QuestionState::Claimed, "ann", 1), &ann(), false, NOW).map(drop),
            "customer_waiting",
            "@cara is waiting for a reply (since 1 min ago); reply first, or resolve without a reply",
        ),
        ("reopen open", reopen(&open, &ann(), NOW).map(drop), "not_resolved", "#7 is open, not resolved"),
        (
            "unhold as an agent",
            unhold(&question(QuestionState::Held), &ann(), 60_000, NOW).map(drop),
            "forbidden",
            "only leads and admins let held questions into the queue",
        ),
        ("unhold not held", unhold(&open, &lead(), 60_000, NOW).map(drop), "not_held", "#7 is open, not held"),
    ];
    for (name, r, code, message) in cases {
        let (c, m) = refusal(r);
        assert_eq!((c.as_str(), m.as_str()), (code, message), "{name}");
    }
    let _ = resolved;
}

#[test]
fn release_and_expiry_return_the_question_to_the_queue() {
    let q = held_by(QuestionState::Claimed, "bob", 0);
    let c = release(&q, &lead(), NOW).unwrap();
    assert_eq!((c.event, c.actor.as_deref()), (event_kind::QUESTION_RELEASED, Some("lea")));
    assert_eq!(c.extra, json!({ "reason": "released", "previous_holder": "bob" }));
    assert_eq!(c.patch, Patch::to_queue(NOW));

    // Due only once the lease is over, and only while claimed.
    assert!(expire(&held_by(QuestionState::Claimed, "bob", 1), NOW).is_none());
    assert!(expire(&held_by(QuestionState::Claimed, "bob", 0), NOW).is_none());
    assert!(expire(&held_by(QuestionState::Claimed, "bob", -1), NOW).is_some());
    assert!(expire(&question(QuestionState::Open), NOW).is_none());

    let c = holder_disabled(&q, Some("root"), NOW);
    assert_eq!((c.event, c.actor.as_deref()), (event_kind::QUESTION_RELEASED, Some("root")));
    assert_eq!(c.extra, json!({ "reason": "holder disabled", "previous_holder": "bob" }));
}

#[test]
fn every_refused_transfer_says_why() {
    let known = vec!["billing".to_string(), "tech_support".to_string()];
    let anns = held_by(QuestionState::Claimed, "ann", 1);
    let bob = bob();
    let full = Agent { capacity: 2, ..bob.clone() };
    let off = Agent { disabled: true, ..bob.clone() };
    let me = ann();
    let to_fn = |name| Target::Function { name, known: &known };
    let cases: Vec<(&str, Question, Target<'_>, &str, &str)> = vec![
        (
            "not held",
            question(QuestionState::Open),
            to_fn("billing"),
            "not_holder",
            "cannot transfer #7: claim it first",
        ),
        (
            "resolved",
            Question { holder: Some("ann".into()), ..question(QuestionState::Resolved) },
            to_fn("billing"),
            "resolved",
            "#7 is resolved; reopen it first",
        ),
        (
            "under review",
            held_by(QuestionState::AwaitingApproval, "ann", 0),
            to_fn("billing"),
            "awaiting_approval",
            "#7 has a reply waiting for a mentor; transfer it after the review",
        ),
        (
            "unknown function",
            anns.clone(),
            to_fn("sales"),
            "invalid",
            "unknown function 'sales'; known: billing, tech_support",
        ),
        ("unknown agent", anns.clone(), Target::Agent { handle: "zed", found: None }, "not_found", "no agent '@zed'"),
        (
            "disabled agent",
            anns.clone(),
            Target::Agent { handle: "bob", found: Some((&off, 0)) },
            "agent_disabled",
            "@bob is disabled",
        ),
        (
            "to yourself",
            anns.clone(),
            Target::Agent { handle: "ann", found: Some((&me, 0)) },
            "invalid",
            "you cannot transfer a question to yourself",
        ),
        (
            "agent at capacity",
            anns.clone(),
            Target::Agent { handle: "bob", found: Some((&full, 2)) },
            "at_capacity",
            "@bob is at capacity (2 of 2); transfer to their function instead",
        ),
    ];
    for (name, q, target, code, message) in cases {
        let (c, m) = refusal(transfer(&q, &ann(), target, LEASE, NOW));
        assert_eq!((c.as_str(), m.as_str()), (code, message), "{name}");
    }
}

#[test]
fn a_transfer_goes_to_a_function_queue_or_straight_to_a_colleague() {
    let known = vec!["billing".to_string()];
    let q = held_by(QuestionState::Claimed, "ann", 1);
    let c = transfer(&q, &ann(), Target::Function { name: "billing", known: &known }, LEASE, NOW).unwrap();
    assert_eq!(c.event, event_kind::QUESTION_TRANSFERRED);
    assert_eq!(c.extra, json!({ "to_function": "billing", "from": "ann" }));
    assert_eq!(c.patch, Patch { function: Some("billing".into()), ..Patch::to_queue(NOW) });

    let bob = bob();
    let c = transfer(&q, &lead(), Target::Agent { handle: "bob", found: Some((&bob, 2)) }, LEASE, NOW).unwrap();
    assert_eq!(c.extra, json!({ "to_agent": "bob", "from": "ann" }));
    assert_eq!(c.actor.as_deref(), Some("lea"));
    assert_eq!(c.patch, Patch::claimed_by(2, LEASE, NOW));
}

#[test]
fn resolve_reopen_and_unhold_change_what_they_should() {
    let answered = Question { awaiting_since: None, ..held_by(QuestionState::Claimed, "ann", 1) };
    let c = resolve(&answered, &ann(), false, NOW).unwrap().unwrap();
    assert_eq!(c.event, event_kind::QUESTION_RESOLVED);
    assert_eq!(c.patch.state, Some(QuestionState::Resolved));
    assert_eq!((c.patch.holder_id, c.patch.resolved_at), (Some(None), Some(Some(NOW))));
    // Waiting customer, but said so; resolving twice changes nothing.
    assert!(resolve(&held_by(QuestionState::Claimed, "ann", 1), &ann(), true, NOW).unwrap().is_some());
    assert_eq!(resolve(&question(QuestionState::Resolved), &lead(), false, NOW).unwrap(), None);

    let c = reopen(&question(QuestionState::Resolved), &bob(), NOW).unwrap();
    assert_eq!((c.event, c.extra.clone()), (event_kind::QUESTION_REOPENED, json!({ "reason": "reopened" })));
    assert_eq!(c.patch.state, Some(QuestionState::Open));

    let held = Question { held_reason: Some("flood".into()), awaiting_since: None, ..question(QuestionState::Held) };
    let c = unhold(&held, &lead(), 60_000, NOW).unwrap();
    assert_eq!((c.event, c.extra.clone()), (event_kind::QUESTION_UNHELD, json!({ "reason": "flood" })));
    assert_eq!(c.patch.sla_due_at, Some(NOW + 60_000));
    assert_eq!(c.patch.awaiting_since, Some(Some(NOW)));
}

#[test]
fn every_refused_reply_says_why() {
    let cases: Vec<(&str, Question, &str, &str)> = vec![
        ("not claimed", question(QuestionState::Open), "not_holder", "cannot reply to #7: claim it first"),
        (
            "someone else's",
            held_by(QuestionState::Claimed, "bob", 1),
            "not_holder",
            "cannot reply to #7: it is held by @bob",
        ),
        (
            "earlier reply under review",
            held_by(QuestionState::AwaitingApproval, "ann", 0),
            "awaiting_approval",
            "your earlier reply to #7 is still waiting for a mentor",
        ),
        (
            "resolved but still named holder",
            Question { holder: Some("ann".into()), ..question(QuestionState::Resolved) },
            "not_claimed",
            "#7 is resolved; claim it first",
        ),
    ];
    for (name, q, code, message) in cases {
        let (c, m) = refusal(reply(&q, &ann(), LEASE, NOW));
        assert_eq!((c.as_str(), m.as_str()), (code, message), "{name}");
    }
}

#[test]
fn a_reply_is_sent_at_once_or_waits_for_a_mentor() {
    let q = held_by(QuestionState::Claimed, "ann", 1);
    let r = reply(&q, &ann(), LEASE, NOW).unwrap();
    assert_eq!((r.status, r.change.event), (ReplyStatus::Approved, event_kind::REPLY_SENT));
    assert_eq!(r.change.patch.answered_by_id, Some(1));
    assert_eq!(r.change.patch.awaiting_since, Some(None));
    assert_eq!(r.change.patch.first_response_at, Some(NOW));
    assert_eq!(r.change.patch.lease_until, Some(Some(NOW + LEASE)));
    // The first response stays the first.
    let earlier = Question { first_response_at: Some(NOW - 5), ..q.clone() };
    assert_eq!(reply(&earlier, &ann(), LEASE, NOW).unwrap().change.patch.first_response_at, Some(NOW - 5));

    let novice = Agent { novice: true, ..ann() };
    let r = reply(&q, &novice, LEASE, NOW).unwrap();
    assert_eq!((r.status, r.change.event), (ReplyStatus::AwaitingApproval, event_kind::REPLY_AWAITING_APPROVAL));
    assert_eq!(r.change.patch.state, Some(QuestionState::AwaitingApproval));
    assert_eq!(r.change.patch.lease_until, Some(None));
    assert_eq!(r.change.patch.answered_by_id, None);
}

#[test]
fn a_note_renews_only_the_holders_lease() {
    let q = held_by(QuestionState::Claimed, "ann", 1);
    assert_eq!(note(&q, &ann(), LEASE, NOW).patch.lease_until, Some(Some(NOW + LEASE)));
    assert!(note(&q, &bob(), LEASE, NOW).patch.is_empty());
    assert!(note(&question(QuestionState::Resolved), &ann(), LEASE, NOW).patch.is_empty());
    assert_eq!(note(&q, &bob(), LEASE, NOW).event, event_kind::NOTE_ADDED);
}

fn pending_reply(status: Option<ReplyStatus>, kind: MessageKind) -> Message {
    Message {
        id: 42,
        question_id: 7,
        kind,
        author: "nico".into(),
        body: "hello".into(),
        created_at: NOW,
        external_id: None,
        in_reply_to: None,
        status,
        reviewed_by: None,
        review_note: None,
        idempotency_key: None,
        posted_url: None,
        error: None,
    }
}

/// What is tried, the message, its author's agent, the reviewer, the code and the words.
type ReviewCase<'a> = (&'a str, Message, Option<&'a Agent>, &'a Agent, &'a str, &'a str);

#[test]
fn every_refused_review_says_why() {
    let novice = Agent { novice: true, mentor: Some("mo".into()), ..agent(4, "nico", Role::Agent) };
    let mentor = agent(5, "mo", Role::Mentor);
    let other_mentor = agent(6, "max", Role::Mentor);
    let pending = pending_reply(Some(ReplyStatus::AwaitingApproval), MessageKind::Reply);
    let cases: Vec<ReviewCase<'_>> = vec![
        (
            "already sent",
            pending_reply(Some(ReplyStatus::Approved), MessageKind::Reply),
            Some(&novice),
            &mentor,
            "not_pending",
            "message #42 is not waiting for approval (it is approved)",
        ),
        (
            "a note",
            pending_reply(None, MessageKind::Note),
            Some(&novice),
            &mentor,
            "not_pending",
            "message #42 is not waiting for approval (it is note)",
        ),
        (
            "someone else's mentee",
            pending.clone(),
            Some(&novice),
            &other_mentor,
            "forbidden",
            "only @nico's mentor or a lead may review this reply",
        ),
        (
            "an agent",
            pending.clone(),
            Some(&novice),
            &novice,
            "forbidden",
            "only @nico's mentor or a lead may review this reply",
        ),
        ("author gone", pending.clone(), None, &mentor, "other", "reply author vanished"),
    ];
    for (name, m, n, reviewer, code, message) in cases {
        let (c, text) = refusal(review(&m, n, reviewer));
        assert_eq!((c.as_str(), text.as_str()), (code, message), "{name}");
    }
    assert!(review(&pending, Some(&novice), &mentor).is_ok());
    assert!(review(&pending, Some(&novice), &lead()).is_ok());
}

#[test]
fn a_review_gives_the_question_back_to_the_novice() {
    let novice = Agent { novice: true, ..agent(4, "nico", Role::Agent) };
    let q = held_by(QuestionState::AwaitingApproval, "nico", 0);
    let c = approve(&q, &novice, &lead(), true, LEASE, NOW);
    assert_eq!((c.event, c.extra.clone()), (event_kind::REPLY_APPROVED, json!({ "edited": true })));
    assert_eq!(c.patch.state, Some(QuestionState::Claimed));
    assert_eq!(c.patch.lease_until, Some(Some(NOW + LEASE)));
    assert_eq!((c.patch.answered_by_id, c.patch.first_response_at), (Some(4), Some(NOW)));
    let c = reject(&lead(), LEASE, NOW);
    assert_eq!(c.event, event_kind::REPLY_REJECTED);
    assert_eq!(c.patch, back_to_novice(LEASE, NOW));
}

#[test]
fn the_body_of_a_message_is_checked() {
    assert_eq!(refusal(check_body("  ")).1, "the message is empty");
    let long = "x".repeat(MAX_BODY_CHARS + 1);
    assert_eq!(refusal(check_body(&long)).1, "the message is 10001 characters; at most 10000 are accepted");
    assert!(check_body(&"é".repeat(MAX_BODY_CHARS)).is_ok());
    assert_eq!(refusal(check_reason(" ")).1, "say why the reply is rejected, so the novice can learn");
    assert_eq!(refusal(check_reason(&long)).1, "the message is 10001 characters; at most 10000 are accepted");
    assert!(check_reason("too curt").is_ok());
    assert_eq!(refusal(check_idempotency_key("")).1, "idempotency key must be 1 to 128 characters");
    assert_eq!(refusal(check_idempotency_key(&"k".repeat(129))).1, "idempotency key must be 1 to 128 characters");
    assert!(check_idempotency_key(&"ü".repeat(128)).is_ok());
}

#[test]
fn spam_is_held_with_its_reason() {
    let rules = SpamRules { blocked: false, flood_max: 3, flood_window_ms: 60_000, duplicate_window_ms: 60_000 };
    let blocked = SpamRules { blocked: true, ..rules.clone() };
    assert_eq!(spam_verdict(&blocked, "spammer", None).as_deref(), Some("blocked account spammer"));
    assert_eq!(spam_verdict(&rules, "cara", None), None);
    assert_eq!(spam_verdict(&rules, "cara", Some((None, 2))), None);
    assert_eq!(
        spam_verdict(&rules, "cara", Some((Some(9), 5))).as_deref(),
        Some("duplicate of message #9 from the same account")
    );
    assert_eq!(
        spam_verdict(&rules, "cara", Some((None, 3))).as_deref(),
        Some("flood: 4 posts from this account within 60 s")
    );
    let no_flood = SpamRules { flood_max: 0, ..rules };
    assert_eq!(spam_verdict(&no_flood, "cara", Some((None, 100))), None);

    assert_eq!(arrival(Some("flood")).0, "held");
    assert_eq!(arrival(Some("flood")).1, QuestionState::Held);
    assert_eq!(arrival(None).2, event_kind::QUESTION_NEW);
}

#[test]
fn a_followup_joins_or_reopens_its_question() {
    // Customer still waiting: the deadline stays.
    let waiting = held_by(QuestionState::Claimed, "ann", 1);
    let (outcome, c) = followup(&waiting, 60_000, NOW, 99, None, LEASE, NOW);
    assert_eq!((outcome, c.event), ("followup", event_kind::QUESTION_FOLLOWUP));
    assert_eq!(c.extra, json!({ "message_id": 99 }));
    assert_eq!(c.patch.sla_due_at, Some(waiting.sla_due_at));
    assert_eq!(c.patch.awaiting_since, Some(waiting.awaiting_since));
    assert_eq!((c.patch.inbound_count, c.patch.last_inbound_at), (Some(2), Some(NOW)));

    // Answered: a fresh deadline from the follow-up.
    let answered = Question { awaiting_since: None, ..waiting.clone() };
    let (_, c) = followup(&answered, 60_000, NOW - 10, 99, None, LEASE, NOW);
    assert_eq!(c.patch.sla_due_at, Some(NOW - 10 + 60_000));
    assert_eq!(c.patch.awaiting_since, Some(Some(NOW - 10)));

    // Resolved: back to who answered when they can take it, else to the queue.
    let resolved =
        Question { awaiting_since: None, answered_by: Some("ann".into()), ..question(QuestionState::Resolved) };
    let ann = ann();
    let (outcome, c) = followup(&resolved, 60_000, NOW, 99, Some((&ann, 2)), LEASE, NOW);
    assert_eq!((outcome, c.event), ("reopened", event_kind::QUESTION_REOPENED));
    assert_eq!(c.extra, json!({ "reason": "followup", "message_id": 99, "assigned_to": "ann" }));
    assert_eq!(c.patch.state, Some(QuestionState::Claimed));
    assert_eq!((c.patch.holder_id, c.patch.resolved_at), (Some(Some(1)), Some(None)));
    let away = Agent { status: AgentStatus::Away, ..ann.clone() };
    let off = Agent { disabled: true, ..ann.clone() };
    for (name, answerer) in
        [("away", Some((&away, 0))), ("disabled", Some((&off, 0))), ("full", Some((&ann, 3))), ("gone", None)]
    {
        let (_, c) = followup(&resolved, 60_000, NOW, 99, answerer, LEASE, NOW);
        assert_eq!(c.patch.state, Some(QuestionState::Open), "{name}");
        assert_eq!(c.patch.holder_id, None, "{name}");
        assert_eq!(c.extra["assigned_to"], Value::Null, "{name}");
    }
}

#[test]
fn a_corrected_topic_moves_the_question_and_recounts_a_waiting_deadline() {
    let waiting = question(QuestionState::Open);
    assert_eq!(recategorize(&waiting, &ann(), "router", "tech_support", 60_000, NOW), None);
    let c = recategorize(&waiting, &ann(), "billing", "billing", 60_000, NOW).unwrap();
    assert_eq!(c.event, event_kind::QUESTION_RECATEGORIZED);
    assert_eq!(c.extra, json!({ "from_topic": "router", "to_topic": "billing" }));
    assert_eq!((c.patch.topic.as_deref(), c.patch.function.as_deref()), (Some("billing"), Some("billing")));
    assert_eq!(c.patch.sla_due_at, Some(NOW - 60_000 + 60_000));
    assert_eq!(c.patch.sla_ms, Some(60_000));
    assert_eq!(c.patch.matched_rule, Some(Some("corrected by @ann".into())));
    assert_eq!(c.patch.confidence, Some(1.0));
    // An answered customer keeps the deadline they had.
    let answered = Question { awaiting_since: None, ..waiting };
    let c = recategorize(&answered, &ann(), "billing", "billing", 60_000, NOW).unwrap();
    assert_eq!(c.patch.sla_due_at, Some(answered.sla_due_at));
}
