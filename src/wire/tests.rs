use serde_json::json;

use super::events::{self, MessageChanged, Payload, QuestionOffered, QuestionReopened, WithQuestion};
use super::*;
use crate::model::{Event, event_kind};

#[test]
fn every_event_kind_has_one_payload_type() {
    let empty = json!({});
    for kind in event_kind::ALL {
        let e = events::check(kind, &empty).err().unwrap_or_default();
        assert!(!e.contains("not exactly one payload type"), "{e}");
    }
    assert!(events::check("question.unknown", &empty).is_err());
}

#[test]
fn the_kinds_with_a_question_are_the_question_reply_and_note_kinds() {
    let mut with: Vec<&str> = event_kind::ALL
        .iter()
        .copied()
        .filter(|k| *k != event_kind::QUESTION_VIEWING && !k.starts_with("agent."))
        .collect();
    let mut listed = WithQuestion::KINDS.to_vec();
    with.sort_unstable();
    listed.sort_unstable();
    assert_eq!(with, listed);
}

/// A question as the server sends it (the wire's tests make their own: the terminal's fixtures
/// are the terminal's).
fn question() -> crate::model::Question {
    use crate::model::{Customer, Question, QuestionState};
    Question {
        id: 2,
        channel: "mastodon".into(),
        external_id: "ext-1".into(),
        conversation_id: None,
        customer: Customer { handle: "@ana@social.example".into(), name: "Ana".into() },
        text: "my parcel never arrived".into(),
        received_at: 1_000,
        topic: "delivery".into(),
        function: "delivery".into(),
        confidence: 0.75,
        matched_rule: Some("delivery".into()),
        unsure: false,
        guesses: Vec::new(),
        priority: 0,
        sla_due_at: 1_000 + 20 * 60_000,
        state: QuestionState::Claimed,
        lease_until: Some(9_000),
        claimed_at: Some(2_000),
        holder: Some("dana".into()),
        answered_by: None,
        awaiting_since: Some(1_000),
        first_response_at: None,
        resolved_at: None,
        updated_at: 1_000,
        inbound_count: 1,
        last_inbound_at: 1_000,
        held_reason: None,
    }
}

fn event(kind: &str, data: serde_json::Value) -> Event {
    Event { id: 1, at: 0, kind: kind.into(), question_id: Some(2), actor: None, data }
}

#[test]
fn a_payload_is_read_only_for_its_kinds() {
    let q = question();
    let data = json!({ "question": q, "to": "dana", "tier": "skilled", "expires_at": 5 });
    let offered = event(event_kind::QUESTION_OFFERED, data.clone());
    let p = offered.payload::<QuestionOffered>().unwrap();
    assert_eq!((p.to.as_deref(), p.expires_at, &p.question), (Some("dana"), 5, &q));
    assert_eq!(offered.question(), Some(q));
    assert!(event(event_kind::QUESTION_CLAIMED, data).payload::<QuestionOffered>().is_none());
    assert!(offered.payload::<MessageChanged>().is_none());
    assert_eq!(event(event_kind::AGENT_ENABLED, json!({ "handle": "dana" })).question(), None);
}

#[test]
fn a_reopen_tells_absent_from_nobody() {
    let q = question();
    let read = |data| event(event_kind::QUESTION_REOPENED, data).payload::<QuestionReopened>().unwrap().assigned_to;
    assert_eq!(read(json!({ "question": q, "reason": "reopened" })), None);
    let followup = json!({ "question": q, "reason": "followup", "message_id": 3, "assigned_to": null });
    assert_eq!(read(followup.clone()), Some(None));
    assert_eq!(events::check(event_kind::QUESTION_REOPENED, &followup), Ok(()));
    let back = json!({ "question": q, "reason": "followup", "message_id": 3, "assigned_to": "dana" });
    assert_eq!(read(back), Some(Some("dana".into())));
}

#[test]
fn a_field_the_payload_type_lacks_fails_the_check() {
    let q = question();
    assert!(events::check(event_kind::QUESTION_CLAIMED, &json!({ "question": q })).is_ok());
    assert!(events::check(event_kind::QUESTION_CLAIMED, &json!({ "question": q, "extra": 1 })).is_err());
}

#[test]
fn requests_refuse_unknown_fields_and_take_whole_floats() {
    assert!(serde_json::from_value::<NoteRequest>(json!({ "body": "x", "bdy": "y" })).is_err());
    let msg = json!({ "channel": "forum", "external_id": "1", "customer": { "handle": "a", "name": "" },
                      "text": "hi", "priority": 2.0 });
    assert_eq!(serde_json::from_value::<NewInbound>(msg.clone()).unwrap().priority, Some(2));
    let mut stray = msg.clone();
    stray["customer"]["nmae"] = json!("A");
    assert!(serde_json::from_value::<NewInbound>(stray).is_err());
    let agent = json!({ "handle": "nia", "display_name": "Nia", "function": "billing", "capacity": 4.0,
                        "skills": [{ "topic": "billing", "proficiency": 3.0 }] });
    let a = serde_json::from_value::<NewAgent>(agent.clone()).unwrap();
    assert_eq!((a.capacity, a.skills[0].proficiency, a.role), (4, 3, Role::Agent));
    let mut stray = agent;
    stray["skills"][0]["level"] = json!(1);
    assert!(serde_json::from_value::<NewAgent>(stray).is_err());
}

#[test]
fn optional_request_fields_are_left_out_when_unset() {
    let t = TransferRequest { to_agent: Some("lee".into()), ..Default::default() };
    assert_eq!(serde_json::to_string(&t).unwrap(), r#"{"to_agent":"lee"}"#);
    assert_eq!(serde_json::to_string(&ApproveRequest::default()).unwrap(), "{}");
    let r = ReplyRequest { body: "ok".into(), idempotency_key: None };
    assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"body":"ok"}"#);
}

#[test]
fn the_directory_as_it_goes_on_the_wire() {
    let d = Directory {
        channels: vec![ChannelLimit::new("x", crate::text::channel_limit("x").unwrap(), false)],
        functions: vec![FunctionEntry { display: "Billing".into(), name: "billing".into() }],
        topics: vec![TopicEntry { function: "billing".into(), name: "refund".into(), sla_minutes: 20 }],
    };
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        r#"{"channels":[{"name":"x","max":280,"counting":"weighted","mention_prefix":false}],"functions":[{"display":"Billing","name":"billing"}],"topics":[{"function":"billing","name":"refund","sla_minutes":20}]}"#
    );
    assert_eq!(d.channels[0].limit(), crate::text::channel_limit("x"));
    let unknown = ChannelLimit { counting: "syllables".into(), ..d.channels[0].clone() };
    assert_eq!(unknown.limit(), None);
}
