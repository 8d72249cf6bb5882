//! The demo world end to end: the real server in-process, the default scenario played fast,
//! and what a trainer would notice checked on the summary. Assertions are about outcomes (who
//! answered, where the follow-up went, what waits for review), never about how fast the machine
//! was.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use helphive::client::{Client, QueueQuery};
use helphive::demo::{self, DemoOptions, DemoSummary, Scenario};
use helphive::model::Role;

/// Fast enough that the four-minute default scenario takes eight seconds.
const SPEED: f64 = 30.0;

fn options(role: Role) -> DemoOptions {
    DemoOptions { scenario: None, speed: SPEED, role }
}

async fn run_default(role: Role) -> DemoSummary {
    let length = Scenario::load(None).unwrap().duration();
    let summary = demo::run_headless(&options(role), length).await.unwrap();
    println!("{summary}");
    summary
}

/// What holds whatever the role: questions for several functions, colleagues answering, the
/// follow-up going back to whoever answered the original, and a clean run.
fn check_common(s: &DemoSummary, text: &str) {
    assert!(s.errors.is_empty(), "the world hit errors: {:?}", s.errors);
    assert!(s.received_by_function.len() >= 4, "{:?}", s.received_by_function);
    for function in ["tech_support", "billing", "delivery", "product", "store", "marketing"] {
        assert!(s.received_by_function.contains_key(function), "no question for {function}");
        assert!(text.contains(function), "summary does not mention {function}");
    }
    let replies: u32 = s.replies_by_author.values().sum();
    assert!(replies > 0);
    for colleague in ["ines", "omar", "kofi", "lena", "greta"] {
        assert!(
            s.replies_by_author.contains_key(colleague),
            "@{colleague} answered nothing: {:?}",
            s.replies_by_author
        );
        assert!(text.contains(&format!("@{colleague}")));
    }
    assert!(!s.replies_by_author.contains_key("you"), "the world must never act as the user");

    assert_eq!(s.followups.len(), 1, "{:?}", s.followups);
    let f = &s.followups[0];
    assert_eq!(f.label, "chime-followup");
    assert_eq!(f.outcome, "reopened");
    assert!(f.original_answerer.is_some());
    assert_eq!(f.went_to, f.original_answerer, "the follow-up goes back to whoever answered the original");
    assert_eq!(f.went_to.as_deref(), Some("ines"));
    assert!(text.contains("went back to @ines, who answered the original"), "{text}");

    // The coupon question started two minutes from its deadline, and only the user covers
    // promotions. Whether a colleague takes it once it is overdue is the router's policy; the
    // summary must say what became of it either way.
    assert_eq!(s.near_deadline.len(), 1, "{:?}", s.near_deadline);
    let d = &s.near_deadline[0];
    assert_eq!(d.label, "spring-coupon");
    assert!(d.left_at_arrival_ms <= 120_000, "{d:?}");
    assert!(text.contains("spring-coupon"), "{text}");
    assert!(d.answered_by.as_deref() != Some("you"));
    assert!(s.first_response_median_ms.is_some());
    assert!(text.contains("First response: median"));
    assert!(text.contains("A morning at Hollowmere"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_scenario_as_agent_novice_reply_gets_approved_by_the_mentor_colleague() {
    let s = run_default(Role::Agent).await;
    let text = s.to_string();
    check_common(&s, &text);
    assert!(
        s.approved.iter().any(|r| r.author == "theo" && r.reviewer == "greta"),
        "theo's reply should be approved by greta: {:?} / waiting {:?}",
        s.approved,
        s.awaiting_approval
    );
    assert!(s.replies_by_author.contains_key("theo"));
    assert!(text.contains("@theo's reply on #") && text.contains("approved by @greta"), "{text}");
    assert!(s.awaiting_approval.iter().all(|p| p.mentor.as_deref() != Some("you")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_scenario_as_mentor_novice_reply_waits_for_the_user() {
    let s = run_default(Role::Mentor).await;
    let text = s.to_string();
    check_common(&s, &text);
    assert!(s.approved.is_empty(), "nobody but the user may approve: {:?}", s.approved);
    assert!(!s.awaiting_approval.is_empty());
    for p in &s.awaiting_approval {
        assert_eq!(p.author, "theo");
        assert_eq!(p.mentor.as_deref(), Some("you"));
    }
    assert!(s.awaiting_approval_questions >= 1);
    assert!(text.contains("waiting for you to review it"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_is_a_real_account_that_can_work_the_demo() {
    let world = demo::start(&DemoOptions { scenario: None, speed: 20.0, role: Role::Lead }).await.unwrap();
    let me = Client::new(&world.base_url, &world.user_token).unwrap();
    let agent = me.me().await.unwrap();
    assert_eq!(agent.handle, world.user_handle);
    assert_eq!(agent.role, Role::Lead);
    // A lead sees the shared statistics; the colleagues are online from the start.
    let stats = me.stats().await.unwrap();
    assert!(stats.agents.iter().filter(|a| a.status == "online").count() >= 6, "{:?}", stats.agents);
    // The coupon question is on promotions, which only the user covers: wait (on scenario time,
    // however slow the machine) until it has arrived, then take it like a real agent would.
    let promotions = QueueQuery { topic: Some("promotions".into()), ..Default::default() };
    let mut found = None;
    for _ in 0..400 {
        if let Some(q) = me.queue(&promotions).await.unwrap().items.into_iter().next() {
            found = Some(q);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let q = found.expect("the coupon question arrives");
    assert!(q.sla_due_at - world.now_ms() <= 120_000, "it starts at most two minutes from its deadline");
    // The clock handed to clients is the server's: scenario time, ahead of the wall clock at 20x.
    let clock = world.clock();
    assert!(clock.now() >= world.now_ms() - 1000 && clock.now() <= world.now_ms() + 1000);
    let q = me.claim(q.id).await.unwrap();
    assert_eq!(q.holder.as_deref(), Some("you"));
    me.reply(q.id, "Hi Wren, the code works again now. Sorry!", "you-1").await.unwrap();
    let summary = world.summary().await.unwrap();
    assert_eq!(summary.replies_by_author.get("you"), Some(&1));
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_scenario_file_plays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.toml");
    std::fs::write(
        &path,
        r#"
[scenario]
name = "Tiny shop"
duration_seconds = 60

[user]
function = "billing"
skills = ["billing:3"]

[[colleagues]]
handle = "pat"
name = "Pat Quist"
function = "delivery"
skills = ["delivery:4"]
answer_seconds = 5

[[arrivals]]
at = 1
channel = "bluesky"
customer = "rowan"
name = "Rowan Ash"
text = "My parcel is late, where is it?"
topic = "delivery"

[[arrivals]]
at = 2
channel = "x"
customer = "sky"
text = "I want a refund please"

[replies.topics]
delivery = ["Hi {name}, it arrives tomorrow!"]
"#,
    )
    .unwrap();
    let opts = DemoOptions { scenario: Some(path), speed: SPEED, role: Role::Agent };
    let s = demo::run_headless(&opts, Duration::from_secs(60)).await.unwrap();
    println!("{s}");
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(s.scenario, "Tiny shop");
    assert!(s.source.ends_with("tiny.toml"));
    assert_eq!(s.received_by_function.get("delivery"), Some(&1));
    assert_eq!(s.received_by_function.get("billing"), Some(&1));
    assert_eq!(s.replies_by_author.get("pat"), Some(&1));
    // The refund question waits for the user, who did nothing.
    assert_eq!(s.unclaimed, 1);
    assert!(s.followups.is_empty());
}

#[tokio::test]
async fn a_broken_scenario_file_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "[scenario]\nname = \"x\"\nduration_seconds = 60\n[[arrivals]\nat = 1\n").unwrap();
    let opts = DemoOptions { scenario: Some(path.clone()), speed: 1.0, role: Role::Agent };
    let e = demo::start(&opts).await.err().expect("a broken file must not start");
    assert!(e.contains(&path.display().to_string()), "{e}");
    assert!(e.contains("line 4"), "{e}");

    std::fs::write(
        &path,
        "[scenario]\nname = \"x\"\nduration_seconds = 60\n[user]\nfunction = \"store\"\n[[colleagues]]\nhandle = \"a\"\nname = \"A\"\nfunction = \"warehouse\"\nskills = []\nanswer_seconds = 5\n",
    )
    .unwrap();
    let e = demo::run_headless(&opts, Duration::from_secs(1)).await.unwrap_err();
    assert!(e.contains(&path.display().to_string()) && e.contains("unknown function 'warehouse'"), "{e}");

    let missing = dir.path().join("missing.toml");
    let opts = DemoOptions { scenario: Some(missing.clone()), speed: 1.0, role: Role::Agent };
    let e = demo::start(&opts).await.err().unwrap();
    assert!(e.contains("cannot read scenario file") && e.contains(&missing.display().to_string()), "{e}");

    let e = demo::start(&DemoOptions { speed: 0.0, ..Default::default() }).await.err().unwrap();
    assert!(e.contains("speed"), "{e}");
}

#[test]
fn durations_parse() {
    assert_eq!(demo::parse_duration("60s"), Ok(Duration::from_secs(60)));
    assert_eq!(demo::parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(demo::parse_duration("1h"), Ok(Duration::from_secs(3600)));
    assert_eq!(demo::parse_duration("90"), Ok(Duration::from_secs(90)));
    assert_eq!(demo::parse_duration(" 1.5m "), Ok(Duration::from_secs(90)));
    for bad in ["", "s", "abc", "10x", "5 days", "-3s", "1e3"] {
        let e = demo::parse_duration(bad).unwrap_err();
        assert!(e.contains(&format!("'{bad}'")), "{bad}: {e}");
        assert!(e.contains("e.g. 90, 60s, 2m, 1h"), "{bad}: {e}");
    }
    assert!(demo::parse_duration("0").unwrap_err().contains("more than zero"));
    assert!(demo::parse_duration("1000h").unwrap_err().contains("too long"));
}
