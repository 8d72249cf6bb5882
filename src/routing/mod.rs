//! The hive's routing rules. Pure: no I/O and no clock; callers pass in everything, including the
//! time. The server, the demo and the simulator all call this same code.
//!
//! `classify` maps a question to a topic and function: a learned model (`classifier`) reads the
//! whole text, the configured keywords of each topic add evidence (or decide, for a topic marked
//! `override`); `hive` decides who gets it (eligibility, scoring, urgency, offers).

pub mod classifier;
pub mod evaluation;
pub mod hive;

use std::sync::{Arc, OnceLock};

use crate::config::{ClassifierKind, Config, TopicConfig};
use classifier::{Example, Model, Params};

/// Why a question was routed where it was, so an agent can see it and correct it.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    pub topic: String,
    pub function: String,
    pub sla_minutes: u32,
    /// 0.0 to 1.0: the calibrated probability that the topic is right (with keyword rules only:
    /// 0.0 for the default topic, 1.0 when several keywords agreed). Below the threshold the
    /// question goes to the default topic and keeps the probability of its best guess.
    pub confidence: f32,
    /// The keyword that decided or backed the topic, `learned` when the model decided on its own,
    /// `None` for the default topic.
    pub matched: Option<String>,
    /// The two most likely topics with their probabilities (empty with keyword rules only).
    pub guesses: Vec<(String, f32)>,
    /// The model was not sure enough: `topic` is the default topic and `guesses` say what it
    /// thought.
    pub unsure: bool,
}

/// What `matched` says when the model decided without a keyword.
pub const LEARNED: &str = crate::model::MATCHED_LEARNED;

/// Evidence one matching keyword adds to its topic, in log-odds (two at most count), and what a
/// channel hint adds to a topic that has a keyword match. Chosen by cross-validation on the
/// training questions (`helphive classify --cv`).
pub const KEYWORD_EVIDENCE: f32 = 1.0;
const CHANNEL_EVIDENCE: f32 = 0.1;
/// Probability given to a configured topic the model has never seen (before keyword evidence).
const UNSEEN_TOPIC: f32 = 0.01;

/// The labelled questions the default model learns from, embedded in the binary.
pub const TRAINING_JSONL: &str = include_str!("../../data/train.jsonl");

/// The built-in training questions.
pub fn default_examples() -> Vec<Example> {
    // The embedded file is checked by a test, so this cannot fail in a built binary.
    classifier::parse_jsonl(TRAINING_JSONL, &|_| None)
        .map(|v| v.into_iter().map(|(e, _)| e).collect())
        .unwrap_or_default()
}

/// The default model, trained on first use from the embedded questions (well under a second in
/// a release build) and shared by everything in the process.
pub fn default_model() -> Arc<Model> {
    static MODEL: OnceLock<Arc<Model>> = OnceLock::new();
    MODEL.get_or_init(|| Arc::new(Model::train(&default_examples(), Params::default()))).clone()
}

/// A model trained on the built-in questions plus a business's own, each of which counts
/// `OWN_WEIGHT` times.
pub fn model_with(extra: &[Example]) -> Model {
    model_weighted(extra, OWN_WEIGHT)
}

/// How many built-in questions one of the business's own (a correction, a resolved question, an
/// import) is worth in training: the desk's words for its own products and services are what the
/// built-in questions cannot teach. Chosen without reading what is measured, on two folds of the
/// first 50 questions of the desk stream of `helphive classify --replay`: of 1, 2, 3, 5 and 8, one
/// had the least log loss.
pub const OWN_WEIGHT: f32 = 1.0;

/// `model_with` with another weight for the business's own questions.
pub fn model_weighted(extra: &[Example], weight: f32) -> Model {
    let mut all = default_examples();
    let mut weights = vec![1.0; all.len()];
    all.extend_from_slice(extra);
    weights.resize(all.len(), weight);
    Model::train_weighted(&all, &weights, Params::default())
}

/// A replaceable model shared by every clone of the slot: the server retrains on a schedule and
/// swaps the new model in while questions keep being classified. Empty: the default model.
#[derive(Clone, Default)]
pub struct ModelSlot(Arc<std::sync::RwLock<Option<Arc<Model>>>>);

impl ModelSlot {
    /// A new slot (not shared with any other) holding `model`.
    pub fn new(model: Model) -> ModelSlot {
        ModelSlot(Arc::new(std::sync::RwLock::new(Some(Arc::new(model)))))
    }

    pub fn get(&self) -> Option<Arc<Model>> {
        self.0.read().map(|m| m.clone()).unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// The model held, else the default one.
    pub fn model(&self) -> Arc<Model> {
        self.get().unwrap_or_else(default_model)
    }

    /// Replaces the model for every holder of this slot.
    pub fn set(&self, model: Model) {
        let mut slot = self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Some(Arc::new(model));
    }
}

impl std::fmt::Debug for ModelSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ModelSlot").field(&self.get()).finish()
    }
}

/// Picks the topic of `text` with the model in `model` (empty: the default one). With the learned
/// model (the default): the model's probability for
/// each configured topic, plus `KEYWORD_EVIDENCE` for each of the topic's keywords in the text
/// (and a little for a channel hint on a topic with a keyword match); below the unsure threshold,
/// the default topic. A keyword of a topic marked `override` decides on its own. With
/// `classifier = "keywords"`: `classify_by_keywords`.
pub fn classify(config: &Config, model: &ModelSlot, channel: &str, text: &str) -> Classification {
    if config.routing.classifier == ClassifierKind::Keywords {
        return classify_by_keywords(config, channel, text);
    }
    classify_with(config, &model.model(), KEYWORD_EVIDENCE, channel, text)
}

/// `classify` with a given model and keyword weight (for cross-validation and benchmarks).
pub fn classify_with(
    config: &Config,
    model: &Model,
    keyword_evidence: f32,
    channel: &str,
    text: &str,
) -> Classification {
    let hits = keyword_hits(config, channel, text);
    if let Some((i, h)) = hits.iter().enumerate().find(|(i, h)| config.topics[*i].overrides && h.count > 0) {
        return decided(&config.topics[i], 1.0, Some(h.first.clone()), Vec::new(), false);
    }
    let p = model.predict(text);
    combine(config, model, keyword_evidence, &p, &hits)
}

/// The model's prediction combined with the keyword hits of each configured topic.
fn combine(
    config: &Config,
    model: &Model,
    keyword_evidence: f32,
    p: &classifier::Prediction,
    hits: &[Hits],
) -> Classification {
    let mut scores: Vec<f32> = config
        .topics
        .iter()
        .zip(hits)
        .map(|(t, h)| {
            let known = model.classes().contains(&t.name);
            let prior = if known { p.probability(&t.name) } else { UNSEEN_TOPIC };
            prior.max(1e-6).ln()
                + keyword_evidence * h.count.min(2) as f32
                + if h.count > 0 && h.hinted { CHANNEL_EVIDENCE } else { 0.0 }
        })
        .collect();
    // A configured topic no example teaches and no keyword names (the default topic) stays out.
    for (i, (t, h)) in config.topics.iter().zip(hits).enumerate() {
        if h.count == 0 && !model.classes().contains(&t.name) {
            scores[i] = f32::NEG_INFINITY;
        }
    }
    if scores.iter().all(|s| *s == f32::NEG_INFINITY) {
        return default_topic(config, 0.0, Vec::new(), false);
    }
    classifier::softmax_in_place(&mut scores);
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b)));
    let guesses: Vec<(String, f32)> =
        order.iter().take(2).map(|&i| (config.topics[i].name.clone(), scores[i])).collect();
    let best = order[0];
    let confidence = scores[best];
    let threshold = config.routing.unsure_below.unwrap_or(model.threshold);
    if confidence < threshold {
        return default_topic(config, confidence, guesses, true);
    }
    let matched = if hits[best].count > 0 { hits[best].first.clone() } else { LEARNED.to_string() };
    decided(&config.topics[best], confidence, Some(matched), guesses, false)
}

fn decided(
    topic: &TopicConfig,
    confidence: f32,
    matched: Option<String>,
    guesses: Vec<(String, f32)>,
    unsure: bool,
) -> Classification {
    Classification {
        topic: topic.name.clone(),
        function: topic.function.clone(),
        sla_minutes: topic.sla_minutes,
        confidence: quantise(confidence),
        matched,
        guesses: guesses.into_iter().map(|(t, p)| (t, quantise(p))).collect(),
        unsure,
    }
}

/// Rounds a probability to a multiple of 1/1024: exact in `f32` and `f64` and short in decimal, so
/// it survives the JSON of events and API answers unchanged (a full-precision `f32` widened to
/// `f64` can come back one bit off), far finer than any decision needs.
fn quantise(p: f32) -> f32 {
    (p * 1024.0).round() / 1024.0
}

fn default_topic(config: &Config, confidence: f32, guesses: Vec<(String, f32)>, unsure: bool) -> Classification {
    let name = &config.routing.default_topic;
    // validate() guarantees the default topic exists; fall back to the first function rather
    // than panic if a caller built a Config by hand.
    let (function, sla) = config
        .topic(name)
        .map(|t| (t.function.clone(), t.sla_minutes))
        .unwrap_or_else(|| (config.functions.first().map(|f| f.name.clone()).unwrap_or_default(), 60));
    Classification {
        topic: name.clone(),
        function,
        sla_minutes: sla,
        confidence: quantise(confidence),
        matched: None,
        guesses: guesses.into_iter().map(|(t, p)| (t, quantise(p))).collect(),
        unsure,
    }
}

/// Keyword matches of one configured topic.
#[derive(Debug, Clone, Default)]
struct Hits {
    /// How many of its keywords occur (each counts once).
    count: usize,
    /// The first of them, in the topic's order.
    first: String,
    /// The topic lists the question's channel.
    hinted: bool,
}

/// The keyword matches of every configured topic, in the order of `config.topics`.
fn keyword_hits(config: &Config, channel: &str, text: &str) -> Vec<Hits> {
    let haystack = normalise(text);
    // One buffer for every keyword: classification runs for each message of a burst.
    let mut needle = String::new();
    config
        .topics
        .iter()
        .map(|topic| {
            let mut h = Hits { hinted: topic.channels.iter().any(|c| c == channel), ..Hits::default() };
            for kw in &topic.keywords {
                normalise_into(kw, &mut needle);
                // " word ": a plain substring search matches whole words only.
                if needle.len() > 1 && haystack.contains(needle.as_str()) {
                    if h.count == 0 {
                        h.first = kw.clone();
                    }
                    h.count += 1;
                }
            }
            h
        })
        .collect()
}

/// Keyword rules only (the routing before the learned model, and its baseline): the topic whose
/// keywords occur most often in `text` (whole words, case-insensitive); a topic that lists the
/// question's channel in `channels` wins a tie (a hint, never a match on its own); further ties
/// go to the topic listed first. No match: the default topic.
pub fn classify_by_keywords(config: &Config, channel: &str, text: &str) -> Classification {
    let hits = keyword_hits(config, channel, text);
    let mut best: Option<(usize, usize)> = None;
    for (i, h) in hits.iter().enumerate() {
        // Doubled so a channel hint (worth 1) breaks ties between equal keyword counts.
        let weight = h.count * 2 + usize::from(h.count > 0 && h.hinted);
        if h.count > 0 && best.is_none_or(|(w, _)| weight > w) {
            best = Some((weight, i));
        }
    }
    match best {
        Some((weight, i)) => decided(
            &config.topics[i],
            (0.5 + 0.25 * ((weight / 2) as f32 - 1.0)).min(1.0),
            Some(hits[i].first.clone()),
            Vec::new(),
            false,
        ),
        None => default_topic(config, 0.0, Vec::new(), false),
    }
}

/// Lowercases and turns everything but letters, digits and apostrophes into single spaces, with a
/// space at each end, so that word matching is a plain substring search for " word ".
fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    normalise_into(s, &mut out);
    out
}

/// `normalise` into `out`, which is cleared first.
fn normalise_into(s: &str, out: &mut String) {
    out.clear();
    out.push(' ');
    let mut last_space = true;
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() || c == '\'' {
            out.push(c);
            last_space = false;
        } else if !last_space {
            out.push(' ');
            last_space = true;
        }
    }
    if !last_space {
        out.push(' ');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_pick_the_topic_and_say_why() {
        let c = Config::builtin();
        let r = classify(&c, &ModelSlot::default(), "mastodon", "I was CHARGED twice for my order, I want a refund!");
        assert_eq!(r.topic, "billing");
        assert_eq!(r.function, "billing");
        assert!(r.confidence > 0.5);
        assert_eq!(r.matched.as_deref(), Some("refund"));
    }

    #[test]
    fn whole_words_only() {
        let c = Config::builtin();
        // "tv" must not match inside "atv"; "hours" inside "ours" must not match either.
        let r = classify_by_keywords(&c, "x", "is this atv ours?");
        assert_eq!(r.topic, "general");
        assert_eq!(r.confidence, 0.0);
        assert_eq!(r.matched, None);
    }

    #[test]
    fn an_unclear_question_goes_to_the_default_topic_as_unsure() {
        let c = Config::builtin();
        let r = classify(&c, &ModelSlot::default(), "x", "hello there");
        assert_eq!(r.topic, "general");
        assert!(r.unsure, "{r:?}");
        assert_eq!(r.matched, None);
        assert!(r.confidence < default_model().threshold);
        assert_eq!(r.guesses.len(), 2, "the best two guesses are kept for the hive");
    }

    #[test]
    fn the_model_reads_word_forms_and_symptoms() {
        let c = Config::builtin();
        // No keyword of any topic occurs here.
        let r = classify(&c, &ModelSlot::default(), "x", "the screen stays black and the fan is spinning like crazy");
        assert_eq!(r.function, "tech_support", "{r:?}");
        assert_eq!(r.matched.as_deref(), Some(LEARNED));
        assert!(r.confidence > 0.5 && !r.unsure);
        let r = classify(&c, &ModelSlot::default(), "x", "both parcels were delivered to my neighbours");
        assert_eq!(r.function, "delivery", "{r:?}");
    }

    #[test]
    fn phrases_match_across_punctuation() {
        let c = Config::builtin();
        let r = classify(&c, &ModelSlot::default(), "bluesky", "My TV won't turn on... HDMI?");
        assert_eq!(r.topic, "setup");
        assert_eq!(r.function, "tech_support");
    }

    #[test]
    fn a_channel_hint_breaks_a_tie() {
        let mut c = Config::builtin();
        // "order" (delivery) and "charge" (billing): one keyword each.
        let text = "order charge";
        assert_eq!(classify_by_keywords(&c, "x", text).topic, "billing", "first listed wins a plain tie");
        c.topics.iter_mut().find(|t| t.name == "delivery").unwrap().channels = vec!["x".into()];
        assert_eq!(classify_by_keywords(&c, "x", text).topic, "delivery");
        assert_eq!(classify_by_keywords(&c, "mastodon", text).topic, "billing");
        assert_eq!(classify_by_keywords(&c, "x", "hello").topic, "general", "a hint alone is no match");
    }

    #[test]
    fn keywords_only_when_configured() {
        let mut c = Config::builtin();
        c.routing.classifier = ClassifierKind::Keywords;
        let r = classify(&c, &ModelSlot::default(), "x", "the screen stays black");
        assert_eq!((r.topic.as_str(), r.confidence, r.unsure), ("general", 0.0, false));
    }

    #[test]
    fn an_override_keyword_decides() {
        let mut c = Config::builtin();
        let text = "is my X200 heater part of the recall? where do I bring it";
        assert_ne!(classify(&c, &ModelSlot::default(), "x", text).topic, "delivery");
        let t = c.topics.iter_mut().find(|t| t.name == "delivery").unwrap();
        t.keywords.push("recall".into());
        t.overrides = true;
        let r = classify(&c, &ModelSlot::default(), "x", text);
        assert_eq!((r.topic.as_str(), r.confidence, r.matched.as_deref()), ("delivery", 1.0, Some("recall")));
    }

    #[test]
    fn a_keyword_adds_evidence_but_does_not_outvote_the_need() {
        let c = Config::builtin();
        // The store named twice (a keyword counts once), one need: the parcel.
        let r = classify(
            &c,
            &ModelSlot::default(),
            "x",
            "the store said my parcel left the store warehouse a week ago and still hasn't arrived",
        );
        assert_eq!(r.function, "delivery", "{r:?}");
    }

    #[test]
    fn a_swapped_model_reaches_every_clone_of_the_slot() {
        let c = Config::builtin();
        let slot = ModelSlot::default();
        let clone = slot.clone();
        let text = "zorbix zorbix";
        assert_ne!(classify(&c, &clone, "x", text).topic, "delivery");
        let mut extra = Vec::new();
        for i in 0..25 {
            extra.push(Example { text: format!("zorbix {i} zorbix"), topic: "delivery".into() });
        }
        slot.set(model_with(&extra));
        assert_eq!(classify(&c, &clone, "x", text).topic, "delivery");
    }

    #[test]
    fn the_embedded_training_questions_parse() {
        let n = TRAINING_JSONL.lines().filter(|l| !l.trim().is_empty()).count();
        assert_eq!(default_examples().len(), n);
        assert!(n >= 700);
        let topics: std::collections::HashSet<_> = default_examples().into_iter().map(|e| e.topic).collect();
        for t in &topics {
            assert!(Config::builtin().topic(t).is_some(), "{t} is a configured topic");
        }
        assert_eq!(topics.len(), 6);
    }
}
