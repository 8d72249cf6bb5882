//! The learned topic classifier as the hive uses it: questions whose words point to another
//! function than the need route by the need, the model trained on data/train.jsonl meets the
//! goals `classify --bench` prints on the held-out data/test.jsonl and stays far above the keyword
//! rules, and a desk's own stream (data/desk/) is routed better once the desk has handled part of
//! it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use helphive::classify::{desk_stream, evaluate, read_examples, replay_stream};
use helphive::config::Config;
use helphive::routing::{self, ModelSlot};

/// Written for this test, not taken from data/: each one's words lean elsewhere than its need.
const TRICKY: &[(&str, &str)] = &[
    ("the Main St store charged my card twice for one kettle, can someone sort it out", "billing"),
    ("I've got an order basket with two laptops in it, which laptop is better for a design student?", "product"),
    ("hey so my order got charged two times??", "billing"),
    ("went to the store and they said ring tech support, the tv still won't pair with the soundbar", "tech_support"),
    ("if I collect in store on saturday do I still get the black friday price?", "marketing"),
    ("the store said the store can't help, my parcel is 10 days late and tracking hasn't moved", "delivery"),
    ("the new laptop keeps freezing when I open more than two tabs", "tech_support"),
    ("is the pickup counter at the Elm Rd store open on sundays?", "store"),
    ("will the 20% off weekend include the headphones or just tvs?", "marketing"),
    ("the courier dumped the box at my door and it was soaked, laptop inside", "delivery"),
    ("I was refunded for one item but I returned both", "billing"),
    ("which camera would you recommend for filming my kids' football matches?", "product"),
];

#[test]
fn tricky_questions_route_by_their_need() {
    let config = Config::builtin();
    let mut wrong = Vec::new();
    for (text, function) in TRICKY {
        let c = routing::classify(&config, &ModelSlot::default(), "webhook", text);
        if c.function != *function {
            wrong.push(format!("{text:?}: {} ({:.2}), want {function}", c.function, c.confidence));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_model_gets_more_tricky_questions_right_than_keyword_votes() {
    let config = Config::builtin();
    let right = |f: &dyn Fn(&str) -> String| TRICKY.iter().filter(|(text, function)| f(text) == *function).count();
    let learned = right(&|t| routing::classify(&config, &ModelSlot::default(), "webhook", t).function);
    let keywords = right(&|t| routing::classify_by_keywords(&config, "webhook", t).function);
    assert!(learned > keywords, "learned {learned}, keywords {keywords} of {}", TRICKY.len());
}

#[test]
fn held_out_accuracy_stays_far_above_the_keyword_rules() {
    let config = Config::builtin();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/test.jsonl");
    let test = read_examples(&path, &config).unwrap();
    assert!(test.len() >= 250);
    let learned = evaluate(&config, &test, &|t| routing::classify(&config, &ModelSlot::default(), "webhook", t));
    let keywords = evaluate(&config, &test, &|t| routing::classify_by_keywords(&config, "webhook", t));
    // The goals of `helphive classify --bench` that the model meets (training is deterministic, so
    // the figures are too; see the README). Above the threshold it is a floor: that goal is missed.
    assert!(learned.macro_accuracy >= 0.92, "{learned}");
    assert!(learned.abstained <= 0.15, "{learned}");
    assert!(learned.ece <= 0.05, "{learned}");
    assert!(learned.accuracy_above >= 0.85, "{learned}");
    assert!(learned.macro_accuracy >= keywords.macro_accuracy + 0.15, "{learned}\n{keywords}");
}

#[test]
fn the_desk_learns_its_own_words_from_the_questions_it_handles() {
    let config = Config::builtin();
    let stream = desk_stream(&config).unwrap();
    assert!(stream.len() >= 350);
    let r = replay_stream(&config, &stream, 200);
    assert_eq!(r.handled, 200);
    assert_eq!(r.after.questions, stream.len() - 200, "measured on the rest of the stream only");
    assert!(r.corrected > 0, "the built-in model gets some of the desk's questions wrong");
    // Measured: 80.4% before, 88.4% after (README, helphive classify --replay 50,100,200).
    assert!(r.after.accuracy >= r.before.accuracy + 0.04, "before:\n{}\nafter:\n{}", r.before, r.after);
    assert!(r.after.macro_accuracy > r.before.macro_accuracy, "before:\n{}\nafter:\n{}", r.before, r.after);
}
