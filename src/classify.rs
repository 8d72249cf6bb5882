//! `helphive classify`: one question explained, labelled questions measured, cross-validation of
//! the model's settings, and the benchmark of the goals of issue #11 against the keyword rules,
//! measured in the same run. The routing itself lives in `routing` (pure); this module reads
//! files, keeps time and prints.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use crate::config::Config;
use crate::routing::classifier::{Example, Model, Params, parse_jsonl};
use crate::routing::evaluation::{self, Report, Scored};
use crate::routing::{self, Classification, KEYWORD_EVIDENCE, ModelSlot};

/// The held-out questions, embedded only so `--bench` runs anywhere; nothing trains on them.
const TEST_JSONL: &str = include_str!("../data/test.jsonl");

/// Reads labelled questions (JSONL, see data/README.md) and checks them against `config`: every
/// topic must be configured, and a function given beside it must be the topic's.
pub fn read_examples(path: &Path, config: &Config) -> Result<Vec<Example>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_examples(&text, config).map_err(|e| format!("{}: {e}", path.display()))
}

/// `read_examples` on text already read.
pub fn parse_examples(text: &str, config: &Config) -> Result<Vec<Example>, String> {
    // A line with only a function takes that function's first topic other than the default.
    let topic_of = |f: &str| {
        config
            .topics
            .iter()
            .filter(|t| t.function == f)
            .min_by_key(|t| t.name == config.routing.default_topic)
            .map(|t| t.name.clone())
    };
    let rows = parse_jsonl(text, &topic_of)?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, (e, function)) in rows.into_iter().enumerate() {
        let Some(t) = config.topic(&e.topic) else {
            return Err(format!("question {}: topic '{}' is not a configured topic", i + 1, e.topic));
        };
        if let Some(f) = function
            && f != t.function
        {
            return Err(format!("question {}: topic '{}' belongs to '{}', not '{f}'", i + 1, t.name, t.function));
        }
        out.push(e);
    }
    Ok(out)
}

fn function_of(config: &Config, topic: &str) -> String {
    config.topic(topic).map(|t| t.function.clone()).unwrap_or_default()
}

/// The function of the classifier's best guess, before any abstention.
fn guess(config: &Config, c: &Classification) -> (String, f32) {
    match c.guesses.first() {
        Some((t, p)) => (function_of(config, t), *p),
        None => (c.function.clone(), c.confidence),
    }
}

/// One question as `model` (empty: the built-in one) sees it: topic, function, confidence, the
/// best two guesses, and what decided.
pub fn explain(config: &Config, model: &ModelSlot, channel: &str, text: &str) -> String {
    let c = routing::classify(config, model, channel, text);
    let mut out = String::new();
    let _ = writeln!(out, "topic       {}{}", c.topic, if c.unsure { "  (unsure: below the threshold)" } else { "" });
    let _ = writeln!(out, "function    {}", c.function);
    let _ = writeln!(out, "confidence  {:.0}%", c.confidence * 100.0);
    for (i, (t, p)) in c.guesses.iter().enumerate() {
        let _ = writeln!(out, "guess {}     {t} ({}) {:.0}%", i + 1, function_of(config, t), p * 100.0);
    }
    let rule = match c.matched.as_deref() {
        Some(routing::LEARNED) => "the learned model alone (no keyword of the topic occurs)".to_string(),
        Some(k) => format!("keyword '{k}' with the learned model"),
        None if c.unsure => "nothing sure enough: the default topic".to_string(),
        None => "no rule: the default topic".to_string(),
    };
    let _ = writeln!(out, "decided by  {rule}");
    if let Some((best, _)) = c.guesses.first() {
        let why = model.model().explain(text, best, 8);
        if !why.is_empty() {
            let words: Vec<String> = why.iter().map(|(f, w)| format!("{f} ({w:+.2})")).collect();
            let _ = writeln!(out, "features    {}", words.join(", "));
        }
    }
    out
}

/// Classifies every example with `classify` and counts.
pub fn evaluate(config: &Config, examples: &[Example], classify: &dyn Fn(&str) -> Classification) -> Report {
    let rows: Vec<Scored> = examples
        .iter()
        .map(|e| {
            let c = classify(&e.text);
            let (g, p) = guess(config, &c);
            Scored { truth: function_of(config, &e.topic), guess: g, confidence: p, unsure: c.unsure }
        })
        .collect();
    let functions: Vec<String> = config.functions.iter().map(|f| f.name.clone()).collect();
    evaluation::report(&functions, &rows)
}

/// The built-in model's errors on the held-out questions, as `helphive sim` draws them: for each
/// true function, how often each function was the best guess (an unsure question counts as its
/// best guess: the sim routes it like a sure one, which is the harder case for the hive).
pub fn held_out_confusion(config: &Config) -> Result<crate::sim::Confusion, String> {
    let (_, test) = bench_data(None, config)?;
    let builtin = ModelSlot::default();
    let r = evaluate(config, &test, &|t| routing::classify(config, &builtin, "webhook", t));
    let functions: Vec<String> = r.functions.iter().map(|f| f.function.clone()).collect();
    let counts = r.confusion.iter().map(|row| row.iter().map(|n| *n as u64).collect()).collect();
    Ok(crate::sim::Confusion { functions, counts })
}

/// `--eval FILE`: the figures of the model the server would use (`model`) on labelled questions.
pub fn eval(config: &Config, model: &ModelSlot, examples: &[Example]) -> String {
    let r = evaluate(config, examples, &|t| routing::classify(config, model, "webhook", t));
    r.to_string()
}

fn split(folds: usize, examples: &[Example], fold: usize) -> (Vec<Example>, Vec<Example>) {
    // Interleaved folds over the file order (sorted by function): each fold holds every function.
    let mut train = Vec::new();
    let mut test = Vec::new();
    for (i, e) in examples.iter().enumerate() {
        if i % folds == fold { test.push(e.clone()) } else { train.push(e.clone()) }
    }
    (train, test)
}

/// `--cv`: settings compared by 5-fold cross-validation on the training questions only (each
/// fold's model calibrated by its own inner folds), with the keyword rules beside them.
pub fn cross_validation(config: &Config, train: &[Example]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "5-fold cross-validation on {} training questions (the held-out split is not read)\n",
        train.len()
    );
    let _ = writeln!(
        out,
        "{:>6} {:>8} {:>5} {:>5} {:>5} {:>6} {:>9} {:>9} {:>9} {:>7} {:>7} {:>7}",
        "epochs",
        "lambda",
        "step",
        "chars",
        "avg",
        "binary",
        "keywords",
        "accuracy",
        "macro",
        "ECE",
        "abstain",
        "above"
    );
    let base = Params::default();
    let mut grid = vec![base];
    for char_weight in [0.0, 0.2, 0.7] {
        grid.push(Params { char_weight, ..base });
    }
    for lambda in [1e-6, 1e-4] {
        grid.push(Params { lambda, ..base });
    }
    for epochs in [10, 40] {
        grid.push(Params { epochs, ..base });
    }
    for step in [0.2, 0.5] {
        grid.push(Params { step, ..base });
    }
    grid.push(Params { average: !base.average, ..base });
    grid.push(Params { binary: !base.binary, ..base });
    let folds = 5;
    for p in grid {
        let models: Vec<(Model, Vec<Example>)> = (0..folds)
            .map(|f| {
                let (tr, te) = split(folds, train, f);
                (Model::train(&tr, p), te)
            })
            .collect();
        for kw in [0.0, 0.5, 1.0, 2.0] {
            if p != base && kw != KEYWORD_EVIDENCE {
                continue;
            }
            let mut rows = Vec::new();
            for (m, te) in &models {
                let r = evaluate(config, te, &|t| routing::classify_with(config, m, kw, "webhook", t));
                rows.push((r, te.len()));
            }
            let n: usize = rows.iter().map(|(_, n)| n).sum();
            let avg = |f: &dyn Fn(&Report) -> f32| rows.iter().map(|(r, k)| f(r) * *k as f32).sum::<f32>() / n as f32;
            let _ = writeln!(
                out,
                "{:>6} {:>8.0e} {:>5.1} {:>5.1} {:>5} {:>6} {:>9.1} {:>8.1}% {:>8.1}% {:>7.3} {:>6.1}% {:>6.1}%",
                p.epochs,
                p.lambda,
                p.step,
                p.char_weight,
                if p.average { "yes" } else { "no" },
                if p.binary { "yes" } else { "no" },
                kw,
                avg(&|r| r.accuracy) * 100.0,
                avg(&|r| r.macro_accuracy) * 100.0,
                avg(&|r| r.ece),
                avg(&|r| r.abstained) * 100.0,
                avg(&|r| r.accuracy_above) * 100.0
            );
        }
    }
    let kw = evaluate(config, train, &|t| routing::classify_by_keywords(config, "webhook", t));
    let _ = writeln!(
        out,
        "\nkeyword rules on the same questions: accuracy {:.1}%, macro {:.1}%",
        kw.accuracy * 100.0,
        kw.macro_accuracy * 100.0
    );
    out
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// `--bench`: trains on `train` (timed), measures the held-out `test` questions with the learned
/// model and with the keyword rules in the same run, times classification, and marks the goals.
pub fn bench(config: &Config, train: &[Example], test: &[Example]) -> String {
    let mut out = String::new();
    let t0 = Instant::now();
    let model = Model::train(train, Params::default());
    let train_s = t0.elapsed().as_secs_f64();
    let slot = ModelSlot::new(model.clone());
    let learned = evaluate(config, test, &|t| routing::classify(config, &slot, "webhook", t));
    let alone = evaluate(config, test, &|t| routing::classify_with(config, &model, 0.0, "webhook", t));
    let keywords = evaluate(config, test, &|t| routing::classify_by_keywords(config, "webhook", t));

    // Latency: every held-out question classified the way the server does, many times over.
    let rounds = 20;
    let mut learned_us = Vec::with_capacity(test.len() * rounds);
    let mut keyword_us = Vec::with_capacity(test.len() * rounds);
    for _ in 0..rounds {
        for e in test {
            let t = Instant::now();
            std::hint::black_box(routing::classify(config, &slot, "webhook", std::hint::black_box(&e.text)));
            learned_us.push(t.elapsed().as_secs_f64() * 1e6);
            let t = Instant::now();
            std::hint::black_box(routing::classify_by_keywords(config, "webhook", std::hint::black_box(&e.text)));
            keyword_us.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    learned_us.sort_by(f64::total_cmp);
    keyword_us.sort_by(f64::total_cmp);

    let _ = writeln!(
        out,
        "trained on {} questions, measured on {} held-out questions (data/test.jsonl, never trained on)\n",
        train.len(),
        test.len()
    );
    let _ = writeln!(out, "{:<34} {:>14} {:>14} {:>14}", "", "learned+keys", "learned alone", "keyword rules");
    let row = |name: &str, f: &dyn Fn(&Report) -> String| {
        format!("{:<34} {:>14} {:>14} {:>14}\n", name, f(&learned), f(&alone), f(&keywords))
    };
    out += &row("function accuracy", &|r| format!("{:.1}%", r.accuracy * 100.0));
    out += &row("macro accuracy (over functions)", &|r| format!("{:.1}%", r.macro_accuracy * 100.0));
    out += &row("accuracy above the threshold", &|r| format!("{:.1}%", r.accuracy_above * 100.0));
    out += &row("abstained (unsure)", &|r| format!("{:.1}%", r.abstained * 100.0));
    out += &row("calibration error (ECE)", &|r| format!("{:.3}", r.ece));
    let _ = writeln!(
        out,
        "{:<34} {:>14} {:>14} {:>14}",
        "time per question p50 / p99",
        format!("{:.0}/{:.0} µs", percentile(&learned_us, 0.5), percentile(&learned_us, 0.99)),
        "",
        format!("{:.1}/{:.1} µs", percentile(&keyword_us, 0.5), percentile(&keyword_us, 0.99)),
    );
    let _ = writeln!(
        out,
        "\nmodel: {} topics, 2^{} feature buckets, {:.1} MB of weights; trained in {:.2} s (with 5-fold calibration); \
         temperature {:.2}, threshold {:.2}",
        model.classes().len(),
        crate::routing::classifier::DIM_BITS,
        model.size_bytes() as f64 / 1e6,
        train_s,
        model.temperature,
        model.threshold
    );
    let _ = writeln!(
        out,
        "against the keyword rules: accuracy x{:.2}, macro accuracy x{:.2}\n",
        learned.accuracy / keywords.accuracy.max(1e-6),
        learned.macro_accuracy / keywords.macro_accuracy.max(1e-6)
    );
    let p99_ms = percentile(&learned_us, 0.99) / 1000.0;
    let goals = [
        ("macro accuracy >= 92%", learned.macro_accuracy >= 0.92, format!("{:.1}%", learned.macro_accuracy * 100.0)),
        (
            "accuracy above threshold >= 97%",
            learned.accuracy_above >= 0.97,
            format!("{:.1}%", learned.accuracy_above * 100.0),
        ),
        ("abstaining <= 15%", learned.abstained <= 0.15, format!("{:.1}%", learned.abstained * 100.0)),
        ("calibration error <= 0.05", learned.ece <= 0.05, format!("{:.3}", learned.ece)),
        ("p99 <= 1 ms per question", p99_ms <= 1.0, format!("{p99_ms:.3} ms")),
    ];
    let _ = writeln!(out, "goals");
    for (name, met, figure) in goals {
        let _ = writeln!(out, "  {:<34} {:<7} {figure}", name, if met { "met" } else { "MISSED" });
    }
    let _ = writeln!(out, "\nlearned+keys on the held-out questions:\n{learned}");
    out
}

/// The built-in training questions and the embedded held-out ones, or those of `dir`.
pub fn bench_data(dir: Option<&Path>, config: &Config) -> Result<(Vec<Example>, Vec<Example>), String> {
    match dir {
        Some(d) => Ok((read_examples(&d.join("train.jsonl"), config)?, read_examples(&d.join("test.jsonl"), config)?)),
        None => Ok((
            parse_examples(routing::TRAINING_JSONL, config).map_err(|e| format!("train.jsonl: {e}"))?,
            parse_examples(TEST_JSONL, config).map_err(|e| format!("test.jsonl: {e}"))?,
        )),
    }
}

/// `--replay N`: how corrections teach the model. N questions of the training file are held
/// back as the ones the hive handles (spread over every function); the model starts from the
/// rest. The hive routes them one by one; a misrouted one is corrected by an agent, a right one
/// is resolved with its topic; both become labelled questions, and the model is retrained every
/// N/4 of them (the schedule). Accuracy is measured on the held-out questions after each
/// retraining.
pub fn replay(config: &Config, train: &[Example], test: &[Example], n: usize) -> String {
    let mut out = String::new();
    let n = n.min(train.len() / 2).max(1);
    // Every k-th question (the file is sorted by function), so every function gives some.
    let k = (train.len() / n).max(1);
    let (mut start, mut stream) = (Vec::new(), Vec::new());
    for (i, e) in train.iter().enumerate() {
        if i % k == 0 && stream.len() < n { stream.push(e.clone()) } else { start.push(e.clone()) }
    }
    let measure = |examples: &[Example]| {
        let model = ModelSlot::new(Model::train(examples, Params::default()));
        let r = evaluate(config, test, &|t| routing::classify(config, &model, "webhook", t));
        (model, r)
    };
    let _ = writeln!(
        out,
        "model trained on {} questions; {} more arrive, are corrected or resolved, and are learned every {}\n",
        start.len(),
        stream.len(),
        (n / 4).max(1)
    );
    let _ = writeln!(
        out,
        "{:>8} {:>11} {:>10} {:>9} {:>16}",
        "handled", "corrected", "accuracy", "macro", "above threshold"
    );
    let (mut model, r) = measure(&start);
    let row = |out: &mut String, handled: usize, corrected: usize, r: &Report| {
        let _ = writeln!(
            out,
            "{:>8} {:>11} {:>9.1}% {:>8.1}% {:>15.1}%",
            handled,
            corrected,
            r.accuracy * 100.0,
            r.macro_accuracy * 100.0,
            r.accuracy_above * 100.0
        );
    };
    row(&mut out, 0, 0, &r);
    let mut learned = start.clone();
    let mut corrected = 0;
    let every = (n / 4).max(1);
    for (i, e) in stream.iter().enumerate() {
        if routing::classify(config, &model, "webhook", &e.text).topic != e.topic {
            corrected += 1;
        }
        learned.push(e.clone());
        if (i + 1) % every == 0 || i + 1 == stream.len() {
            let (m, r) = measure(&learned);
            model = m;
            row(&mut out, i + 1, corrected, &r);
        }
    }
    let _ = writeln!(out);
    out.push_str(&replay_held_out(config, train, test, n));
    out
}

/// The desk's own stream: the held-out questions, which the model never trained on, arrive in
/// turn; the first `n` are handled (a wrong or unsure topic corrected by an agent, a right one
/// resolved in it: either way the question is learned with its real topic), and the model is
/// retrained on the built-in questions plus those. Accuracy is measured on the rest of the stream,
/// before and after. (Only this replay learns from the held-out questions; every other figure
/// keeps them unseen.)
fn replay_held_out(config: &Config, train: &[Example], test: &[Example], n: usize) -> String {
    let mut out = String::new();
    // Round-robin over the functions (the file is sorted by function), so the handled part and
    // the rest both hold every function.
    let mut by_function: Vec<(String, std::collections::VecDeque<Example>)> = Vec::new();
    for e in test {
        let f = function_of(config, &e.topic);
        match by_function.iter_mut().find(|(g, _)| *g == f) {
            Some((_, v)) => v.push_back(e.clone()),
            None => by_function.push((f, std::collections::VecDeque::from([e.clone()]))),
        }
    }
    let mut stream = Vec::with_capacity(test.len());
    while by_function.iter().any(|(_, v)| !v.is_empty()) {
        for (_, v) in by_function.iter_mut() {
            if let Some(e) = v.pop_front() {
                stream.push(e);
            }
        }
    }
    let n = n.min(stream.len().saturating_sub(1) / 2).max(1);
    let (handled, rest) = stream.split_at(n);
    let trained = |examples: &[Example]| ModelSlot::new(Model::train(examples, Params::default()));
    let before_model = trained(train);
    let before = evaluate(config, rest, &|t| routing::classify(config, &before_model, "webhook", t));
    let corrected = handled
        .iter()
        .filter(|e| {
            let c = routing::classify(config, &before_model, "webhook", &e.text);
            c.unsure || c.topic != e.topic
        })
        .count();
    let mut learned = train.to_vec();
    learned.extend_from_slice(handled);
    let after_model = trained(&learned);
    let after = evaluate(config, rest, &|t| routing::classify(config, &after_model, "webhook", t));
    let _ = writeln!(
        out,
        "held-out stream: {} questions the model never saw; the first {n} handled ({corrected} of them corrected \
         or unsure, the rest resolved in their topic) and learned; measured on the other {}:",
        stream.len(),
        rest.len()
    );
    let _ = writeln!(out, "{:>8} {:>10} {:>9} {:>16}", "", "accuracy", "macro", "above threshold");
    for (label, r) in [("before", &before), ("after", &after)] {
        let _ = writeln!(
            out,
            "{:>8} {:>9.1}% {:>8.1}% {:>15.1}%",
            label,
            r.accuracy * 100.0,
            r.macro_accuracy * 100.0,
            r.accuracy_above * 100.0
        );
    }
    out
}

/// A desk's own stream (data/desk/stream.jsonl): questions to one business in its customers'
/// words for its products, plans, services and stores, embedded so `--replay` runs anywhere. Only
/// the replay learns from it.
const DESK_STREAM_JSONL: &str = include_str!("../data/desk/stream.jsonl");

/// The built-in desk stream, in arrival order.
pub fn desk_stream(config: &Config) -> Result<Vec<Example>, String> {
    parse_examples(DESK_STREAM_JSONL, config).map_err(|e| format!("desk/stream.jsonl: {e}"))
}

/// What a desk learned from the first `handled` questions of its stream, measured on the rest.
#[derive(Debug, Clone)]
pub struct StreamReplay {
    pub handled: usize,
    /// Handled questions whose topic was wrong or unsure (an agent corrected them); the others
    /// were resolved in their topic.
    pub corrected: usize,
    /// The rest of the stream with the model the desk started with.
    pub before: Report,
    /// The rest of the stream after the handled questions were learned.
    pub after: Report,
}

/// Classifies the way the server does, with `model` in place of the configured one.
fn classify_by(config: &Config, model: &Model, text: &str) -> Classification {
    routing::classify_with(config, model, KEYWORD_EVIDENCE, "webhook", text)
}

/// The first `n` questions of `stream` arrive at a desk that starts with the built-in model: each is
/// handled (a wrong or unsure topic corrected by an agent, a right one confirmed when it is
/// resolved: either way it is stored with its real topic), then the server's retraining learns
/// them (`routing::model_with`, what `serve` calls). Both models are measured on the questions
/// after the first `n`, which neither saw.
pub fn replay_stream(config: &Config, stream: &[Example], n: usize) -> StreamReplay {
    let n = n.min(stream.len().saturating_sub(1));
    let (handled, rest) = stream.split_at(n);
    let start = routing::default_model();
    let corrected = handled
        .iter()
        .filter(|e| {
            let c = classify_by(config, &start, &e.text);
            c.unsure || c.topic != e.topic
        })
        .count();
    let before = evaluate(config, rest, &|t| classify_by(config, &start, t));
    let learned = routing::model_with(handled);
    let after = evaluate(config, rest, &|t| classify_by(config, &learned, t));
    StreamReplay { handled: n, corrected, before, after }
}

/// Weights for the business's own questions tried by `own_weight_trial`.
pub const OWN_WEIGHTS_TRIED: [f32; 5] = [1.0, 2.0, 3.0, 5.0, 8.0];

/// How the weight of the business's own questions is chosen without looking at what is measured:
/// the `handled` questions only, in two folds (even and odd positions); each fold is learned with
/// every weight (as `routing::model_with` would) and the other fold scored. Returns (weight,
/// share routed to the right topic, mean log loss of the model's probability for the right topic)
/// over both folds. The log loss decides: with a few dozen questions it still tells weights apart
/// when the routed share differs by a question or two.
pub fn own_weight_trial(config: &Config, handled: &[Example], weights: &[f32]) -> Vec<(f32, f32, f32)> {
    let folds: [Vec<Example>; 2] =
        [0, 1].map(|f| handled.iter().enumerate().filter(|(i, _)| i % 2 == f).map(|(_, e)| e.clone()).collect());
    let n = handled.len().max(1) as f32;
    weights
        .iter()
        .map(|&w| {
            let (mut right, mut loss) = (0, 0f32);
            for f in 0..2 {
                let model = routing::model_weighted(&folds[f], w);
                for e in &folds[1 - f] {
                    right += usize::from(classify_by(config, &model, &e.text).topic == e.topic);
                    loss -= model.predict(&e.text).probability(&e.topic).max(1e-6).ln();
                }
            }
            (w, right as f32 / n, loss / n)
        })
        .collect()
}

/// `--replay N,…` on a desk's own stream: accuracy on the rest of the stream before and after the
/// first N were handled and learned, for each N; then how the weight of the desk's own questions
/// is chosen, on the first of those N only.
pub fn replay_desk(config: &Config, stream: &[Example], ns: &[usize]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "desk stream: {} questions to one business, in arrival order; the first N are handled (a wrong or unsure \
         topic corrected by an agent, a right one resolved) and learned by the server's retraining (the business's \
         own questions weigh {} built-in ones); measured on the rest, before and after:\n",
        stream.len(),
        routing::OWN_WEIGHT
    );
    let _ = writeln!(
        out,
        "{:>8} {:>10} {:>9} {:>18} {:>18} {:>18} {:>18}",
        "handled", "corrected", "measured", "accuracy", "macro", "above threshold", "abstained"
    );
    let pair = |a: f32, b: f32| format!("{:.1}% → {:.1}%", a * 100.0, b * 100.0);
    for &n in ns {
        let r = replay_stream(config, stream, n);
        let _ = writeln!(
            out,
            "{:>8} {:>10} {:>9} {:>18} {:>18} {:>18} {:>18}",
            r.handled,
            r.corrected,
            r.after.questions,
            pair(r.before.accuracy, r.after.accuracy),
            pair(r.before.macro_accuracy, r.after.macro_accuracy),
            pair(r.before.accuracy_above, r.after.accuracy_above),
            pair(r.before.abstained, r.after.abstained)
        );
    }
    let first = ns.iter().copied().min().unwrap_or(0).min(stream.len());
    if first >= 2 {
        let trial = own_weight_trial(config, &stream[..first], &OWN_WEIGHTS_TRIED);
        let _ = writeln!(
            out,
            "\nweight of the business's own questions, tried on two folds of the first {first} handled questions only \
             (the measured questions are not read; the least log loss is chosen):"
        );
        for (w, right, loss) in &trial {
            let _ = writeln!(out, "  weight {w:>3}: {:.1}% routed right, log loss {loss:.3}", right * 100.0);
        }
        if let Some((w, _, _)) = trial.iter().min_by(|a, b| a.2.total_cmp(&b.2)) {
            let _ = writeln!(out, "  chosen: {w} (the server uses {})", routing::OWN_WEIGHT);
        }
    }
    let _ = writeln!(out);
    out
}
